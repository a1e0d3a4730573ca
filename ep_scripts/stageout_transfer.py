"""Run, check and undo copies for stage_out.py: checksums, the copy-script runner, remote checks.

WMCore 2.4.5.9 runs its generated copy scripts with Popen(shell=True), that is /bin/sh. The scripts
compare with `==` inside `[ ]`, which dash rejects, so on hosts whose /bin/sh is dash every good copy
is judged failed and then deleted. CopyCommandRunner replaces WMCore's runner and runs the scripts
with bash. Independently of what a script reports, verify_copy reads the size and adler32 of every
copy back from the storage element. Python 3.6, standard library and WMCore.
"""
import logging
import os
import re
import signal
import subprocess
import zlib

LOG = logging.getLogger("stage_out")

# XRootD client settings that bound each xrdcp or xrdfs call against a dead or silent server:
# one connection attempt of at most 5 s (client default: 5 attempts of 120 s), timeouts checked
# every second (default 15 s). WMCore's xrdcp script makes up to 4 calls per attempt (xrdcp, stat,
# checksum query, rm), so one attempt against an unreachable server ends within about 25 s.
# A request to a server that accepted the connection may take up to 120 s, which leaves room for
# the server to compute the adler32 of a multi-GB file.
XRD_ENVIRONMENT = {
    "XRD_CONNECTIONRETRY": "1",
    "XRD_CONNECTIONWINDOW": "5",
    "XRD_TIMEOUTRESOLUTION": "1",
    "XRD_REQUESTTIMEOUT": "120",
    "XRD_STREAMTIMEOUT": "120",
}

# Bound for one xrdfs call made here (stat, checksum query, rm); the XRootD settings end it sooner.
XRDFS_TIMEOUT = 300

# Used when WMCore passes no timeout for a copy script: WMCore's own default, 3 attempts of an hour.
DEFAULT_SCRIPT_TIMEOUT = 3 * 3600

CHUNK_SIZE = 4 * 1024 * 1024


def apply_xrootd_bounds(environ):
    environ.update(XRD_ENVIRONMENT)


def file_size_and_adler32(path):
    """Read a local file once; return its size in bytes and its adler32 as 8 lowercase hex digits."""
    checksum = 1
    size = 0
    with open(path, "rb") as source:
        while True:
            chunk = source.read(CHUNK_SIZE)
            if not chunk:
                break
            checksum = zlib.adler32(chunk, checksum)
            size += len(chunk)
    return size, "%08x" % (checksum & 0xFFFFFFFF)


class SecretRedactor:
    """Masks bearer tokens in text before it is logged.

    WMCore's failure debugging script prints $BEARER_TOKEN, and its copy scripts export the content
    of $BEARER_TOKEN_FILE; both values are replaced by "<redacted>" in everything logged here.
    """

    MIN_SECRET_LENGTH = 8

    def __init__(self, environ):
        secrets = [environ.get("BEARER_TOKEN", "")]
        token_file = environ.get("BEARER_TOKEN_FILE")
        if token_file:
            try:
                with open(token_file, encoding="utf-8", errors="replace") as source:
                    secrets.append(source.read(65536))
            except OSError:
                pass
        values = set()
        for secret in secrets:
            values.add(secret)
            values.add(secret.strip())
        self.secrets = sorted((s for s in values if len(s) >= self.MIN_SECRET_LENGTH), key=len, reverse=True)

    def redact(self, text):
        for secret in self.secrets:
            text = text.replace(secret, "<redacted>")
        return text


class RedactingFilter(logging.Filter):
    """Logging filter that passes every record's final message through a SecretRedactor."""

    def __init__(self, redactor):
        logging.Filter.__init__(self)
        self.redactor = redactor

    def filter(self, record):
        message = record.getMessage()
        redacted = self.redactor.redact(message)
        if redacted != message:
            record.msg = redacted
            record.args = None
        return True


def _kill_group(process):
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except OSError:
        pass


class CopyCommandRunner:
    """Replacement for WMCore's runCommandWithOutput that runs each script with `bash -c`.

    Each script runs in its own process group, so a timeout or a termination of stage_out.py kills
    the copy tool along with the shell. The exit code and failure_reason() of every script are kept
    in `attempts` for the summary.
    """

    def __init__(self, redactor):
        self.redactor = redactor
        self.attempts = []

    def install(self):
        """Make WMCore's stage-out backends run their scripts through this runner."""
        import WMCore.Storage.Execute
        import WMCore.Storage.StageOutImpl

        WMCore.Storage.StageOutImpl.runCommandWithOutput = self
        WMCore.Storage.Execute.runCommandWithOutput = self

    def __call__(self, command, timeout=None):
        limit = timeout or DEFAULT_SCRIPT_TIMEOUT
        process = subprocess.Popen(["bash", "-c", command], stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        note = ""
        try:
            out, err = process.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            out, err = process.communicate()
            note = "timed out after %s s and was killed\n" % limit
        except BaseException:
            _kill_group(process)
            process.wait()
            raise
        code = process.returncode
        stdout = self.redactor.redact(out.decode("utf-8", "replace"))
        stderr = self.redactor.redact(err.decode("utf-8", "replace"))
        self.attempts.append((code, note.strip() or failure_reason(stdout, stderr)))
        return code, "%sstdout: %s\nstderr: %s" % (note, stdout, stderr)


def failure_reason(stdout, stderr):
    """Return the line of a copy script's output that best explains its failure.

    The copy tool's first error on stderr comes before the errors of the script's own cleanup
    (WMCore's xrdcp script runs `xrdfs rm` after a failed copy) and before its generic summary
    on stdout. NUL bytes, which xrdfs appends to server messages, are dropped.
    """
    for text in (stderr, stdout):
        lines = [line.replace("\0", "").strip() for line in text.splitlines()]
        errors = [line for line in lines if "ERROR" in line or "FATAL" in line]
        if errors:
            return errors[0]
    lines = [line.replace("\0", "").strip() for line in (stdout + "\n" + stderr).splitlines()]
    lines = [line for line in lines if line]
    return lines[-1] if lines else ""


def split_pfn(pfn):
    """Classify a PFN: ("xrootd", host, path), ("local", path, None) or ("other", pfn, None)."""
    match = re.match(r"^(root|xroot)s?://([^/]+)/(.*)$", pfn)
    if match:
        path = match.group(3).split("?", 1)[0]
        if not path.startswith("/"):
            path = "/" + path
        return "xrootd", match.group(2), path
    if pfn.startswith("file:"):
        path = re.sub(r"^file:(//)?", "", pfn)
        return "local", path, None
    if pfn.startswith("/"):
        return "local", pfn, None
    return "other", pfn, None


def _run_xrdfs(host, *arguments):
    command = ["xrdfs", host] + list(arguments)
    try:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT)
    except OSError as exc:
        return 127, "cannot run xrdfs: %s" % exc
    try:
        out, _ = process.communicate(timeout=XRDFS_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        out, _ = process.communicate()
        return -1, "xrdfs %s timed out after %d s" % (" ".join(arguments), XRDFS_TIMEOUT)
    return process.returncode, out.decode("utf-8", "replace")


def _missing_reply(output):
    return "[3011]" in output or "no such file" in output.lower()


def remote_size_and_adler32(host, path):
    """Return (size, adler32) of a file on an XRootD server, (None, None) if it does not exist.

    Raises OSError with xrdfs's message when the server cannot be asked.
    """
    code, output = _run_xrdfs(host, "stat", path)
    if code != 0:
        if _missing_reply(output):
            return None, None
        raise OSError("xrdfs stat %s failed (exit %s): %s" % (path, code, output.strip()))
    sizes = re.findall(r"^Size:\s*(\d+)\s*$", output, re.MULTILINE)
    if not sizes:
        raise OSError("xrdfs stat %s printed no Size line: %s" % (path, output.strip()))

    code, output = _run_xrdfs(host, "query", "checksum", path)
    if code != 0:
        raise OSError("xrdfs query checksum %s failed (exit %s): %s" % (path, code, output.strip()))
    found = re.search(r"adler32\s+([0-9a-fA-F]{1,8})\b", output, re.IGNORECASE)
    if not found:
        raise OSError("xrdfs query checksum %s printed no adler32: %s" % (path, output.strip()))
    return int(sizes[0]), "%08x" % int(found.group(1), 16)


def verify_copy(pfn, size, adler32):
    """Read size and adler32 of a copy back; return None when both match, else the problem.

    NOTE: only root:// (through xrdfs) and local PFNs can be read back here. A copy under any other
    scheme (davs://, gsiftp://) is accepted as WMCore's copy script judged it, with a warning.
    """
    kind, location, path = split_pfn(pfn)
    try:
        if kind == "xrootd":
            remote_size, remote_adler32 = remote_size_and_adler32(location, path)
        elif kind == "local":
            if not os.path.isfile(location):
                remote_size, remote_adler32 = None, None
            else:
                remote_size, remote_adler32 = file_size_and_adler32(location)
        else:
            LOG.warning("copy %s not read back: only root:// and local PFNs can be checked", pfn)
            return None
    except OSError as exc:
        return "cannot read the copy back: %s" % exc
    if remote_size is None:
        return "the copy %s does not exist" % pfn
    if remote_size != size:
        return "size of the copy is %d bytes, the local file has %d" % (remote_size, size)
    if remote_adler32 != adler32:
        return "adler32 of the copy is %s, the local file has %s" % (remote_adler32, adler32)
    return None


def remove_copy(pfn, command, retrieve_impl):
    """Remove a copy made by this run; return True once it is verifiably gone.

    root:// copies are removed with `xrdfs rm` and local ones with os.remove. Other schemes use the
    removeFile of the WMCore backend that made the copy and count as removed when it raises nothing.
    """
    kind, location, path = split_pfn(pfn)
    if kind == "xrootd":
        code, output = _run_xrdfs(location, "rm", path)
        if code != 0 and not _missing_reply(output):
            LOG.error("removing %s failed (xrdfs exit %s): %s", pfn, code, output.strip())
        try:
            remote_size, _ = remote_size_and_adler32(location, path)
        except OSError as exc:
            LOG.error("cannot check that %s is gone: %s", pfn, exc)
            return False
        return remote_size is None
    if kind == "local":
        try:
            os.remove(location)
        except FileNotFoundError:
            pass
        except OSError as exc:
            LOG.error("removing %s failed: %s", pfn, exc)
        return not os.path.exists(location)
    try:
        retrieve_impl(command).removeFile(pfn)
    except Exception as exc:  # WMCore backends raise many kinds of errors here.
        LOG.error("removing %s with WMCore command %s failed: %s", pfn, command, exc)
        return False
    return True

