"""Checks that create-stepchain-dag runs before it writes anything.

Each check raises InputError with one line that names the value and the fix.
"""
import datetime
import json
import logging
import os
import re
import shutil
import subprocess
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

TARBALL_NAME = "request_psets.tar.gz"
JOB_FILE_PATTERN = re.compile(r"^job([1-9][0-9]*)\.json$")
# Characters that would split or expand a path in a submit description: list separators,
# quotes and macro references.
UNSAFE_PATH_CHARACTERS = re.compile(r"[\s,\"'$;]")
PROXY_TOOL_TIMEOUT = 60
READ_CHUNK_BYTES = 1 << 20


class InputError(Exception):
    """A user input or the environment is invalid; the message names the value and the fix."""


@dataclass(frozen=True)
class SplitterOutput:
    """The event splitter's output directory: job1.json .. job<job_count>.json and the tarball."""

    directory: Path
    job_count: int

    @property
    def tarball(self):
        return self.directory / TARBALL_NAME

    def job_file(self, index):
        return self.directory / ("job%d.json" % index)


def check_submit_path(path, option):
    """Reject a path that a submit description cannot carry verbatim."""
    if UNSAFE_PATH_CHARACTERS.search(str(path)):
        raise InputError(
            "%s path %r contains whitespace, a comma, a quote, '$' or ';', which HTCondor would split or "
            "expand; move it to a path without them" % (option, str(path)))


def check_proxy(path):
    """Check that the proxy is a readable file and, where a tool can read it, not expired."""
    if not path.exists():
        raise InputError("proxy %s not found: create one with voms-proxy-init or pass --proxy FILE" % path)
    if not path.is_file():
        raise InputError("proxy %s is not a regular file: pass the proxy file with --proxy FILE" % path)
    try:
        with path.open("rb") as handle:
            handle.read(1)
    except OSError as error:
        message = "proxy %s is not readable (%s): fix its permissions" % (path, error.strerror)
        raise InputError(message) from error

    if shutil.which("voms-proxy-info"):
        _check_proxy_with_voms(path)
    elif shutil.which("openssl"):
        _check_proxy_with_openssl(path)
    else:
        log.warning("neither voms-proxy-info nor openssl found: proxy %s lifetime not checked", path)


def _run_proxy_tool(command, path):
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=PROXY_TOOL_TIMEOUT)
    except subprocess.TimeoutExpired:
        message = "%s timed out after %d s reading proxy %s" % (command[0], PROXY_TOOL_TIMEOUT, path)
        raise InputError(message) from None


def _check_proxy_with_voms(path):
    result = _run_proxy_tool(["voms-proxy-info", "-file", str(path), "-timeleft"], path)
    seconds = result.stdout.strip()
    if result.returncode != 0 or not seconds.lstrip("-").isdigit():
        raise InputError("voms-proxy-info cannot read proxy %s: %s" % (path, _first_line(result.stderr)))
    if int(seconds) <= 0:
        raise InputError("proxy %s has expired: renew it with voms-proxy-init" % path)
    log.info("proxy %s: %d hours left", path, int(seconds) // 3600)


def _check_proxy_with_openssl(path):
    result = _run_proxy_tool(["openssl", "x509", "-in", str(path), "-noout", "-enddate"], path)
    if result.returncode != 0:
        raise InputError("proxy %s is not a PEM certificate that openssl can read: %s"
                         % (path, _first_line(result.stderr)))
    not_after = result.stdout.strip().partition("=")[2]
    expired = _run_proxy_tool(["openssl", "x509", "-in", str(path), "-noout", "-checkend", "0"], path)
    if expired.returncode != 0:
        raise InputError("proxy %s expired on %s: renew it with voms-proxy-init" % (path, not_after))
    log.info("proxy %s valid until %s", path, not_after)


def _first_line(text):
    lines = text.strip().splitlines()
    return lines[0] if lines else "no message"


def scan_splitter_output(directory):
    """Return the splitter output in `directory` after checking that it is complete."""
    if not directory.is_dir():
        raise InputError("event splitter directory %s not found: pass the splitter's --output-dir"
                         % directory)
    numbers = []
    for entry in os.scandir(directory):
        match = JOB_FILE_PATTERN.match(entry.name)
        if not match:
            continue
        if not entry.is_file() or entry.stat().st_size == 0:
            raise InputError("job file %s is empty or not a regular file: run the event splitter again"
                             % Path(entry.path))
        numbers.append(int(match.group(1)))
    if not numbers:
        raise InputError("no job<N>.json files in %s: run the event splitter with --output-dir %s"
                         % (directory, directory))

    numbers.sort()
    if numbers[-1] != len(numbers):
        present = set(numbers)
        missing = [n for n in range(1, numbers[-1] + 1) if n not in present]
        shown = ", ".join("job%d.json" % n for n in missing[:5])
        raise InputError(
            "event splitter output %s is incomplete: %d of job1..job%d.json missing (%s%s); "
            "run the event splitter again" % (
                directory, len(missing), numbers[-1], shown, ", ..." if len(missing) > 5 else ""))

    output = SplitterOutput(directory, len(numbers))
    if not output.tarball.is_file() or output.tarball.stat().st_size == 0:
        raise InputError("%s missing or empty in %s: run the event splitter with --psets"
                         % (TARBALL_NAME, directory))
    return output


def read_json_file(path, what):
    try:
        with open(path) as handle:
            return json.load(handle)
    except OSError as error:
        raise InputError("cannot read %s %s: %s" % (what, path, error.strerror)) from error
    except ValueError as error:
        message = "%s %s is not valid JSON (%s): fix or regenerate it" % (what, path, error)
        raise InputError(message) from error


def read_request_from_tarball(tarball):
    """Return request.json from the splitter's tarball as a dict, after reading the whole archive.

    Every member is read, so a truncated or corrupt tarball fails here instead of on each worker.
    """
    text = None
    try:
        with tarfile.open(tarball, "r:gz") as archive:
            for member in archive:
                if not member.isfile():
                    continue
                handle = archive.extractfile(member)
                if member.name in ("request.json", "./request.json"):
                    text = handle.read()
                    continue
                while handle.read(READ_CHUNK_BYTES):
                    pass
    except (OSError, EOFError, zlib.error, tarfile.TarError) as error:
        raise InputError("cannot read %s (%s): run the event splitter again" % (tarball, error)) from error
    if text is None:
        raise InputError("%s contains no request.json file: run the event splitter again" % tarball)
    try:
        return json.loads(text)
    except ValueError as error:
        raise InputError("request.json in %s is not valid JSON (%s): run the event splitter again"
                         % (tarball, error)) from error


def check_submit_text(text, node_vars, proxy):
    """Expand the submit description for one node with the legacy 24.x bindings.

    DAGMan passes a node's VARS to condor_submit as macros, and `node_vars` provides them here.
    The bindings read the proxy named by x509userproxy, so an unreadable proxy fails here too.
    Raises InputError when the description does not parse or expands to no job ad.
    """
    import htcondor  # legacy module of the 24.x wheels: Submit.jobs() works without a schedd

    try:
        description = htcondor.Submit(text)
        for key, value in node_vars.items():
            description[key] = value
        ads = list(description.jobs(count=1, clusterid=1))
    except (htcondor.HTCondorException, RuntimeError, ValueError) as error:
        message = _first_line(str(error))
        if "proxy" in message:
            raise InputError("HTCondor cannot use proxy %s (%s): pass a valid PEM proxy with the "
                             "certificate first, as voms-proxy-init writes it" % (proxy, message)) from error
        raise InputError("the generated submit description does not parse with the HTCondor bindings: %s; "
                         "check the values given on the command line" % message) from error
    if len(ads) != 1:
        raise InputError("the generated submit description expands to %d jobs instead of 1" % len(ads))
    return ads[0]


def check_dag_syntax(dag_path):
    """Check the DAG with condor_submit_dag's parser, where a condor_dagman executable exists.

    NOTE: no condor_dagman exists on the development machines, so this path has not run there;
    the tests check the DAG grammar themselves.
    """
    if not shutil.which("condor_dagman"):
        log.info("condor_dagman not on PATH: DAG syntax not checked by HTCondor")
        return
    import htcondor2

    # Paths in the DAG are relative to the directory condor_submit_dag runs in.
    previous = os.getcwd()
    os.chdir(dag_path.parent)
    try:
        htcondor2.Submit.from_dag(dag_path.name, {})
    except Exception as error:  # the bindings raise several types for a DAG they reject
        message = _first_line(str(error))
        raise InputError("HTCondor rejects the generated DAG %s: %s" % (dag_path, message)) from error
    finally:
        os.chdir(previous)


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
