"""The local site's storage element: make_siteconf.py, the XRootD server helpers, and WMCore's StageOutMgr
staging files to them.

StageOutMgr runs in a child process under tests/tools/with_bin_sh, because WMCore's copy scripts run
under /bin/sh and only work when it is bash. Run as a script, this file is that child: it stages one
file with StageOutMgr and prints the outcome as JSON on its last line of output.
"""
import argparse
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import zlib

import pytest

# conftest.py loads fixtures.xrootd as a plugin; run as a script, Python finds it next to this file.
from fixtures.xrootd import (
    MAKE_SITECONF,
    REPO_ROOT,
    START_XROOTD,
    client_env,
    free_port,
    make_server_work_dir,
    start_server,
    stop_server,
    worker_python,
)

WITH_BIN_SH = REPO_ROOT / "tests" / "tools" / "with_bin_sh"


def adler32_of(data):
    return "%08x" % (zlib.adler32(data) & 0xFFFFFFFF)


def write_payload(path, size=65536):
    data = os.urandom(size)
    path.write_bytes(data)
    return data


def stage_out(siteconf, shell, lfn, local_file, adler32=None):
    """Stage local_file to lfn with StageOutMgr in a child process where /bin/sh is shell."""
    command = [str(WITH_BIN_SH), shell, sys.executable, __file__, "--lfn", lfn, "--pfn", str(local_file)]
    if adler32 is not None:
        command += ["--adler32", adler32]
    result = subprocess.run(command, env=siteconf.env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, "stage-out child failed:\n%s\n%s" % (result.stdout, result.stderr)
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    outcome["log"] = result.stderr
    return outcome


# make_siteconf.py, read back by WMCore


def load_siteconf(monkeypatch, siteconf):
    from WMCore.Storage.SiteLocalConfig import loadSiteLocalConfig

    monkeypatch.setenv("SITECONFIG_PATH", str(siteconf.path))
    monkeypatch.delenv("WMAGENT_SITE_CONFIG_OVERRIDE", raising=False)
    return loadSiteLocalConfig()


def test_siteconf_site_name(monkeypatch, siteconf):
    config = load_siteconf(monkeypatch, siteconf)

    assert config.siteName == "T2_XX_Local"
    assert config.localStageOutPNN() == "T2_XX_Local"


def test_siteconf_method_order(monkeypatch, siteconf):
    config = load_siteconf(monkeypatch, siteconf)

    assert [method["command"] for method in config.stageOuts] == ["xrdcp", "cp"]
    assert [method["protocol"] for method in config.stageOuts] == ["XRootD", "POSIX"]


def test_siteconf_pnn_is_site(monkeypatch, siteconf):
    config = load_siteconf(monkeypatch, siteconf)

    assert [method["phedex-node"] for method in config.stageOuts] == ["T2_XX_Local", "T2_XX_Local"]


@pytest.mark.parametrize("order, commands", [
    ("--posix-first", ["cp", "xrdcp"]),
    ("--xrootd-only", ["xrdcp"]),
    ("--posix-only", ["cp"]),
])
def test_siteconf_order_options(monkeypatch, siteconf_factory, order, commands):
    config = load_siteconf(monkeypatch, siteconf_factory(order=order))

    assert [method["command"] for method in config.stageOuts] == commands


def test_siteconf_other_site(monkeypatch, siteconf_factory):
    config = load_siteconf(monkeypatch, siteconf_factory(site="T3_YY_Other"))

    assert config.siteName == "T3_YY_Other"
    assert config.stageOuts[0]["phedex-node"] == "T3_YY_Other"


def test_siteconf_xrootd_pfn(monkeypatch, siteconf, xrootd_server):
    from WMCore.Storage.RucioFileCatalog import readRFC

    monkeypatch.setenv("SITECONFIG_PATH", str(siteconf.path))
    catalog = readRFC(str(siteconf.path / "storage.json"), "T2_XX_Local", "T2_XX_Local_XRootD", "XRootD")

    assert catalog.matchLFN("XRootD", "/store/unmerged/a/b.root") == \
        "root://127.0.0.1:%d//store/unmerged/a/b.root" % xrootd_server.port


def test_siteconf_posix_pfn(monkeypatch, siteconf):
    from WMCore.Storage.RucioFileCatalog import readRFC

    monkeypatch.setenv("SITECONFIG_PATH", str(siteconf.path))
    catalog = readRFC(str(siteconf.path / "storage.json"), "T2_XX_Local", "T2_XX_Local_POSIX", "POSIX")

    assert catalog.matchLFN("POSIX", "/store/unmerged/a/b.root") == \
        "%s/store/unmerged/a/b.root" % siteconf.posix_root


def test_siteconf_rewrite_updates_port(siteconf_factory):
    siteconf_factory(port=1094)
    siteconf = siteconf_factory(port=2094)

    volumes = json.loads((siteconf.path / "storage.json").read_text())

    assert volumes[0]["protocols"][0]["prefix"] == "root://127.0.0.1:2094/"


@pytest.mark.parametrize("arguments, named", [
    (["--xrootd-port", "0"], "--xrootd-port '0'"),
    (["--xrootd-port", "65536"], "--xrootd-port '65536'"),
    (["--xrootd-port", "root"], "--xrootd-port 'root'"),
    (["--site", "Local"], "--site 'Local'"),
    (["--posix-root", "relative/dir"], "--posix-root 'relative/dir'"),
    (["--posix-root", "/tmp/with space"], "--posix-root '/tmp/with space'"),
    (["--posix-root", "/tmp/$HOME"], "--posix-root '/tmp/$HOME'"),
    (["--xrootd-only", "--posix-only"], "not allowed with argument"),
    (["--unknown-option"], "unrecognized arguments: --unknown-option"),
])
def test_make_siteconf_rejects(tmp_path, arguments, named):
    output = tmp_path / "siteconf"
    defaults = {"--xrootd-port": "1094", "--posix-root": str(tmp_path / "posix")}
    for option in arguments:
        defaults.pop(option, None)
    command = [worker_python(), str(MAKE_SITECONF), "--output", str(output)]
    for option, value in defaults.items():
        command += [option, value]

    result = subprocess.run(command + arguments, capture_output=True, text=True, timeout=60)

    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("make_siteconf.py: error: ")
    assert named in result.stderr
    assert not output.exists()


def test_make_siteconf_output_is_file(tmp_path):
    output = tmp_path / "siteconf"
    output.write_text("not a directory")

    command = [worker_python(), str(MAKE_SITECONF), "--output", str(output), "--xrootd-port", "1094",
               "--posix-root", str(tmp_path / "posix")]

    result = subprocess.run(command, capture_output=True, text=True, timeout=60)

    assert result.returncode == 2
    assert "invalid --output" in result.stderr
    assert output.read_text() == "not a directory"


# The XRootD server helpers


def test_server_accepts_connections(xrootd_server):
    with socket.create_connection((xrootd_server.host, xrootd_server.port), timeout=5):
        pass

    assert xrootd_server.url == "root://127.0.0.1:%d/" % xrootd_server.port
    assert os.path.exists("/proc/%d" % xrootd_server.pid)


@pytest.mark.parametrize("content, adler32", [(b"abc", "024d0127"), (b"", "00000001")])
def test_server_adler32(xrootd_server, tmp_path, content, adler32):
    local = tmp_path / "payload"
    local.write_bytes(content)
    remote = "/store/test/adler32/%s" % tmp_path.name
    subprocess.run(["xrdcp", "--nopbar", "--force", str(local), xrootd_server.url + remote],
                   env=client_env(), check=True, timeout=60)

    remote_file = xrootd_server.remote_file(remote)

    assert remote_file.adler32 == adler32
    assert remote_file.size == len(content)
    assert (xrootd_server.export_root / remote.lstrip("/")).read_bytes() == content


def test_server_stops_by_pid():
    work_dir = make_server_work_dir()
    try:
        server = start_server(work_dir)

        stopped = stop_server(server)

        assert stopped.returncode == 0, stopped.stderr
        assert "stopped xrootd PID %d" % server.pid in stopped.stderr
        assert not process_is_running(server.pid)
        with pytest.raises(OSError):
            socket.create_connection((server.host, server.port), timeout=5).close()
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


def process_is_running(pid):
    """Return True unless the process is gone or a zombie that only waits to be reaped."""
    try:
        with open("/proc/%d/stat" % pid) as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_server_start_without_xrootd(tmp_path):
    # PATH holds only the interpreter: its own directory may also hold xrootd (/usr/bin on Debian).
    python_dir = tmp_path / "bin"
    python_dir.mkdir()
    (python_dir / "python3").symlink_to(os.path.realpath(worker_python()))
    command = [worker_python(), str(START_XROOTD), "start", "--work-dir", str(tmp_path / "se")]
    environment = dict(os.environ, PATH=str(python_dir))
    result = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=60)

    assert result.returncode == 1
    assert "xrootd not found on PATH" in result.stderr
    assert "apt-get install xrootd-server xrootd-client" in result.stderr


# StageOutMgr to the storage element


def test_stageout_xrootd_arrives(siteconf, xrootd_server, tmp_path):
    local = tmp_path / "output.root"
    data = write_payload(local)
    lfn = "/store/unmerged/test/stageout/arrives.root"

    outcome = stage_out(siteconf, "bash", lfn, local, adler32_of(data))

    assert outcome["staged"], outcome["log"]
    assert outcome["command"] == "xrdcp"
    assert outcome["pnn"] == "T2_XX_Local"
    assert outcome["pfn"] == xrootd_server.url + lfn
    remote_file = xrootd_server.remote_file(lfn)
    assert remote_file.size == len(data)
    assert remote_file.adler32 == adler32_of(data)


def test_stageout_wrong_checksum(siteconf_factory, xrootd_server, tmp_path):
    siteconf = siteconf_factory(order="--xrootd-only")
    local = tmp_path / "output.root"
    data = write_payload(local)
    lfn = "/store/unmerged/test/stageout/wrong_checksum.root"
    wrong = "%08x" % ((int(adler32_of(data), 16) + 1) & 0xFFFFFFFF)

    outcome = stage_out(siteconf, "bash", lfn, local, wrong)

    assert not outcome["staged"]
    assert outcome["error"] == "StageOutFailure"
    assert not xrootd_server.exists(lfn)
    assert not (xrootd_server.export_root / lfn.lstrip("/")).exists()


def test_stageout_wrong_checksum_posix_fallback(siteconf, xrootd_server, tmp_path):
    # cp checks only the size, so the POSIX fallback accepts the file that xrdcp rejected.
    local = tmp_path / "output.root"
    data = write_payload(local)
    lfn = "/store/unmerged/test/stageout/wrong_checksum_fallback.root"
    wrong = "%08x" % ((int(adler32_of(data), 16) + 1) & 0xFFFFFFFF)

    outcome = stage_out(siteconf, "bash", lfn, local, wrong)

    assert outcome["staged"], outcome["log"]
    assert outcome["attempts"][0] == ["xrdcp", 60311]
    assert outcome["command"] == "cp"
    assert not xrootd_server.exists(lfn)


def test_stageout_dead_server_uses_posix(siteconf_factory, tmp_path):
    siteconf = siteconf_factory(port=free_port())
    local = tmp_path / "output.root"
    data = write_payload(local)
    lfn = "/store/unmerged/test/stageout/fallback.root"

    outcome = stage_out(siteconf, "bash", lfn, local, adler32_of(data))

    assert outcome["staged"], outcome["log"]
    assert outcome["attempts"][0] == ["xrdcp", 60311]
    assert outcome["command"] == "cp"
    assert outcome["pfn"] == "%s%s" % (siteconf.posix_root, lfn)
    assert (siteconf.posix_root / lfn.lstrip("/")).read_bytes() == data


def test_stageout_under_dash_fails(siteconf_factory, xrootd_server, tmp_path):
    # The same good copy as under bash: WMCore's check `[ $RC == 0 ]` is an error in dash, so the
    # script deletes the copy it has just made and reports failure.
    siteconf = siteconf_factory(order="--xrootd-only")
    local = tmp_path / "output.root"
    data = write_payload(local)
    lfn = "/store/unmerged/test/stageout/dash.root"

    outcome = stage_out(siteconf, "dash", lfn, local, adler32_of(data))

    assert not outcome["staged"]
    assert outcome["error"] == "StageOutFailure"
    assert "unexpected operator" in outcome["log"]
    assert not xrootd_server.exists(lfn)


# The child process: one stage-out with StageOutMgr


def stage_out_child(argv):
    parser = argparse.ArgumentParser(description="Stage one file with WMCore's StageOutMgr.")
    parser.add_argument("--lfn", required=True)
    parser.add_argument("--pfn", required=True, help="local file to stage out")
    parser.add_argument("--adler32", help="checksum handed to StageOutMgr in Checksums")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="[stageout-test] %(message)s")

    from WMCore.Storage.StageOutError import StageOutFailure
    from WMCore.Storage.StageOutMgr import StageOutMgr

    manager = StageOutMgr()
    manager.numberOfRetries = 0
    manager.retryPauseTime = 0
    request = {"LFN": args.lfn, "PFN": args.pfn}
    if args.adler32:
        request["Checksums"] = {"adler32": args.adler32}
    try:
        staged = manager(request)
        outcome = {"staged": True, "pfn": staged["PFN"], "pnn": staged["PNN"],
                   "command": staged["StageOutCommand"]}
    except StageOutFailure as error:
        outcome = {"staged": False, "error": type(error).__name__, "message": str(error)}
    # One [command, exit code] pair per method tried; WMCore records None as the command of a success.
    outcome["attempts"] = [[attempt["StageOutCommand"], attempt["StageOutExit"]]
                           for attempt in request["StageOutReport"]]
    print(json.dumps(outcome))


if __name__ == "__main__":
    stage_out_child(sys.argv[1:])
