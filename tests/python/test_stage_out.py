"""stage_out.py against the local site's real XRootD server: copies, checksums, failures, cleanup.

Every run goes through the worker Python (3.6) with WMCore.zip on PYTHONPATH, as on a worker node.
"""
import json
import os
import pathlib
import signal
import socket
import subprocess
import threading
import time
import zlib

import pytest
from fixtures.stage_out import STAGE_OUT, stage_out_env, worker_interpreter
from fixtures.xrootd import free_port

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
EXIT_CODES = REPO_ROOT / "ep_scripts" / "exit_codes.txt"
LFN_BASE = "/store/unmerged/RunIITest/TestPrimary/GEN-SIM/TestProcessing-v1/0000"


def exit_codes():
    """Return {name: (code, fatal)} from exit_codes.txt."""
    table = {}
    for line in EXIT_CODES.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            code, name, kind = line.split()[:3]
            table[name] = (int(code), kind == "fatal")
    return table


def expected_status(name):
    """Apply the exit-status rule of exit_codes.txt to the code called `name`."""
    table = exit_codes()
    code, fatal = table[name]
    fatal_status = table["BAD_ARGUMENTS"][0] % 256
    if fatal:
        return fatal_status
    status = code % 256
    return 1 if status in (0, fatal_status) else status


def adler32_hex(data):
    return "%08x" % (zlib.adler32(data, 1) & 0xFFFFFFFF)


def write_file(directory, name, data):
    path = pathlib.Path(directory) / name
    path.write_bytes(data)
    return path


def manual_arguments(pairs, retries=0):
    arguments = []
    for lfn, local in pairs:
        arguments += ["--lfn", lfn, "--local", local]
    return arguments + ["--retries", str(retries), "--retry-pause", "0"]


def unique_lfn(name):
    return "%s/%s-%s.root" % (LFN_BASE, name, os.urandom(6).hex())


@pytest.fixture
def silent_server():
    """Yield the port of a TCP listener on 127.0.0.1 that accepts connections and never replies."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.5)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except socket.timeout:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    listener.close()


@pytest.fixture
def corrupting_xrdcp(tmp_path):
    """A directory to put first on PATH whose xrdcp flips the first byte of the source it sends.

    The real xrdcp then copies the damaged bytes, so the server's adler32 differs from the one
    stage_out.py computed and passed with --cksum.
    """
    directory = tmp_path / "corrupting-bin"
    directory.mkdir()
    real = "/usr/bin/xrdcp"
    script = directory / "xrdcp"
    script.write_text(
        "#!/bin/bash\n"
        "# Copy each local source argument with its first byte flipped, then run the real xrdcp.\n"
        "args=()\n"
        "for arg in \"$@\"; do\n"
        "  if [ -f \"$arg\" ]; then\n"
        "    damaged=$(mktemp)\n"
        "    python3 -c 'import sys; d=bytearray(open(sys.argv[1],\"rb\").read()); d[0]^=0xff; "
        "open(sys.argv[2],\"wb\").write(d)' \"$arg\" \"$damaged\"\n"
        "    arg=$damaged\n"
        "  fi\n"
        "  args+=(\"$arg\")\n"
        "done\n"
        "exec %s \"${args[@]}\"\n" % real)
    script.chmod(0o755)
    return directory


def test_manual_pairs_staged(run_stage_out, siteconf, xrootd_server, tmp_path):
    first = write_file(tmp_path, "first.root", os.urandom(100000))
    second = write_file(tmp_path, "second.root", os.urandom(2000))
    pairs = [(unique_lfn("first"), first), (unique_lfn("second"), second)]

    run = run_stage_out(manual_arguments(pairs), siteconf.env)

    assert run.returncode == 0, run.stderr
    assert run.results["exit_code"] == 0
    assert [entry["lfn"] for entry in run.results["files"]] == [lfn for lfn, _ in pairs]
    for entry, (lfn, local) in zip(run.results["files"], pairs):
        data = local.read_bytes()
        remote = xrootd_server.remote_file(lfn)
        assert remote.size == len(data)
        assert remote.adler32 == adler32_hex(data)
        assert entry["adler32"] == adler32_hex(data)
        assert entry["size"] == len(data)
        assert entry["pfn"] == xrootd_server.url + lfn
        assert entry["pnn"] == siteconf.site
        assert entry["command"] == "xrdcp"
        assert entry["step"] is None


def test_abc_checksum_has_leading_zero(run_stage_out, siteconf, xrootd_server, tmp_path):
    lfn = unique_lfn("abc")
    local = write_file(tmp_path, "abc", b"abc")

    run = run_stage_out(manual_arguments([(lfn, local)]), siteconf.env)

    assert run.returncode == 0, run.stderr
    assert run.results["files"][0]["adler32"] == "024d0127"
    assert xrootd_server.remote_file(lfn).size == 3
    assert xrootd_server.remote_file(lfn).adler32 == "024d0127"


def test_empty_file_checksum(run_stage_out, siteconf, xrootd_server, tmp_path):
    lfn = unique_lfn("empty")
    local = write_file(tmp_path, "empty", b"")

    run = run_stage_out(manual_arguments([(lfn, local)]), siteconf.env)

    assert run.returncode == 0, run.stderr
    assert run.results["files"][0]["adler32"] == "00000001"
    assert xrootd_server.remote_file(lfn).size == 0


def test_checksum_mismatch_rejected(run_stage_out, siteconf_factory, xrootd_server, tmp_path,
                                    corrupting_xrdcp):
    site = siteconf_factory(order="--xrootd-only")
    env = dict(site.env, PATH="%s:%s" % (corrupting_xrdcp, os.environ["PATH"]))
    lfn = unique_lfn("mismatch")
    local = write_file(tmp_path, "data.root", os.urandom(5000))

    run = run_stage_out(manual_arguments([(lfn, local)]), env)

    assert run.returncode == expected_status("STAGEOUT_FAILED"), run.stderr
    assert run.results["exit_code"] == exit_codes()["STAGEOUT_FAILED"][0]
    assert not xrootd_server.exists(lfn)
    assert "Traceback (most recent call last)" not in run.stderr


def test_unverified_success_rejected(run_stage_out, siteconf_factory, xrootd_server, tmp_path):
    # WMCore's "test-win" command reports every copy as successful without copying anything.
    site = siteconf_factory(order="--xrootd-only")
    config = site.path / "JobConfig" / "site-local-config.xml"
    config.write_text(config.read_text().replace('command="xrdcp"', 'command="test-win"'))
    lfn = unique_lfn("phantom")
    local = write_file(tmp_path, "data.root", b"phantom")

    run = run_stage_out(manual_arguments([(lfn, local)]), site.env)

    assert run.returncode == expected_status("STAGEOUT_FAILED"), run.stderr
    assert "does not exist" in run.results["exit_message"]
    assert run.results["files"][0]["pfn"] is None


def test_server_down_fails(run_stage_out, siteconf_factory, tmp_path):
    site = siteconf_factory(port=free_port(), order="--xrootd-only")
    local = write_file(tmp_path, "data.root", b"data")

    run = run_stage_out(manual_arguments([(unique_lfn("down"), local)], retries=1), site.env)

    assert run.returncode == expected_status("STAGEOUT_FAILED"), run.stderr
    assert run.results["exit_code"] == exit_codes()["STAGEOUT_FAILED"][0]
    assert "2 copy attempt(s) failed" in run.results["exit_message"]


def test_silent_server_fails(run_stage_out, siteconf_factory, silent_server, tmp_path):
    # The server accepts connections and never replies. With the client's default timeouts one
    # copy would wait for minutes, past the runner's timeout.
    site = siteconf_factory(port=silent_server, order="--xrootd-only")
    local = write_file(tmp_path, "data.root", b"data")

    run = run_stage_out(manual_arguments([(unique_lfn("silent"), local)]), site.env)

    assert run.returncode == expected_status("STAGEOUT_FAILED"), run.stderr
    assert "1 copy attempt(s) failed" in run.results["exit_message"]


def test_fallback_to_posix(run_stage_out, siteconf_factory, tmp_path):
    site = siteconf_factory(port=free_port())
    lfn = unique_lfn("fallback")
    data = os.urandom(3000)
    local = write_file(tmp_path, "data.root", data)

    run = run_stage_out(manual_arguments([(lfn, local)]), site.env)

    assert run.returncode == 0, run.stderr
    entry = run.results["files"][0]
    copy = site.posix_root / lfn.lstrip("/")
    assert entry["command"] == "cp"
    assert entry["pfn"] == str(copy)
    assert copy.read_bytes() == data


def test_partial_failure_cleaned(run_stage_out, siteconf_factory, xrootd_server, tmp_path):
    site = siteconf_factory(order="--xrootd-only")
    first_lfn, second_lfn = unique_lfn("kept-first"), unique_lfn("blocked-second")
    # A directory where the second file should go makes its copy fail on the server.
    assert xrootd_server.xrdfs("mkdir", "-p", second_lfn).returncode == 0
    first = write_file(tmp_path, "first.root", os.urandom(4000))
    second = write_file(tmp_path, "second.root", os.urandom(4000))

    run = run_stage_out(manual_arguments([(first_lfn, first), (second_lfn, second)]), site.env)

    assert run.returncode == expected_status("STAGEOUT_FAILED"), run.stderr
    assert not xrootd_server.exists(first_lfn)
    assert run.results["removed"] == [first_lfn]
    assert [entry["pfn"] for entry in run.results["files"]] == [None, None]
    assert second_lfn in run.stdout
    assert "removed  %s" % first_lfn in run.stdout


@pytest.mark.parametrize("shell", ["bash", "dash"])
@pytest.mark.parametrize("order,command", [("--xrootd-only", "xrdcp"), ("--posix-only", "cp")])
def test_bin_sh_variants(run_stage_out, siteconf_factory, xrootd_server, tmp_path, shell, order, command):
    site = siteconf_factory(order=order)
    lfn = unique_lfn("sh-" + shell)
    data = os.urandom(2048)
    local = write_file(tmp_path, "data.root", data)

    run = run_stage_out(manual_arguments([(lfn, local)]), site.env, bin_sh=shell)

    assert run.returncode == 0, run.stderr
    assert run.results["files"][0]["command"] == command
    if command == "xrdcp":
        assert xrootd_server.remote_file(lfn).adler32 == adler32_hex(data)
    else:
        assert (site.posix_root / lfn.lstrip("/")).read_bytes() == data


def test_dash_failure_not_success(run_stage_out, siteconf_factory, tmp_path):
    site = siteconf_factory(port=free_port(), order="--xrootd-only")
    local = write_file(tmp_path, "data.root", b"data")

    run = run_stage_out(manual_arguments([(unique_lfn("dash-down"), local)]), site.env, bin_sh="dash")

    assert run.returncode == expected_status("STAGEOUT_FAILED"), run.stderr


def test_bearer_token_not_logged(run_stage_out, siteconf_factory, tmp_path):
    token = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.secret-test-token"
    file_token = "file-held-secret-token-0123456789"
    token_file = write_file(tmp_path, "token", file_token.encode())
    site = siteconf_factory(port=free_port(), order="--xrootd-only")
    env = dict(site.env, BEARER_TOKEN=token, BEARER_TOKEN_FILE=str(token_file))
    local = write_file(tmp_path, "data.root", b"data")

    run = run_stage_out(manual_arguments([(unique_lfn("token"), local)]), env)

    assert run.returncode == expected_status("STAGEOUT_FAILED"), run.stderr
    assert "Bearer token content: <redacted>" in run.stderr
    assert token not in run.stdout + run.stderr
    assert file_token not in run.stdout + run.stderr


def test_sigterm_removes_copies(stage_out_pythonpath, siteconf_factory, xrootd_server, tmp_path):
    site = siteconf_factory(order="--xrootd-only")
    first_lfn, second_lfn = unique_lfn("term-first"), unique_lfn("term-second")
    assert xrootd_server.xrdfs("mkdir", "-p", second_lfn).returncode == 0
    first = write_file(tmp_path, "first.root", os.urandom(4000))
    second = write_file(tmp_path, "second.root", os.urandom(4000))
    results = tmp_path / "results.json"
    log = tmp_path / "stderr.log"
    arguments = manual_arguments([(first_lfn, first), (second_lfn, second)], retries=1)
    arguments[arguments.index("--retry-pause") + 1] = "200"
    arguments += ["--results", str(results)]
    command = [worker_interpreter(), str(STAGE_OUT)] + [str(a) for a in arguments]

    with open(str(log), "w") as stderr:
        process = subprocess.Popen(command, env=stage_out_env(stage_out_pythonpath, site.env),
                                   stdout=subprocess.DEVNULL, stderr=stderr)
        # The first failed attempt on the second file starts WMCore's 200 s pause.
        for _ in range(600):
            if "Attempt 0 to stage out failed" in log.read_text() or process.poll() is not None:
                break
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        status = process.wait(timeout=60)

    document = json.loads(results.read_text())
    assert status == expected_status("TERMINATED_BY_SIGNAL")
    assert document["exit_code"] == exit_codes()["TERMINATED_BY_SIGNAL"][0]
    assert document["removed"] == [first_lfn]
    assert not xrootd_server.exists(first_lfn)
