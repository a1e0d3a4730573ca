"""stage_out.py with broken SITECONFs, environments and arguments: one clear line, a defined code.

No case may start a copy, print a Python traceback, or exit with an undefined status.
"""
import json
import os
import pathlib
import shutil

import pytest
from test_stage_out import exit_codes, expected_status, manual_arguments, unique_lfn, write_file

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
EP_SCRIPTS = REPO_ROOT / "ep_scripts"
TRACEBACK = "Traceback (most recent call last)"


def error_lines(stderr):
    return [line for line in stderr.splitlines() if " ERROR " in line]


def edit_config(site, old, new):
    config = site.path / "JobConfig" / "site-local-config.xml"
    text = config.read_text()
    assert old in text
    config.write_text(text.replace(old, new))
    return config


@pytest.fixture
def abc_file(tmp_path):
    return write_file(tmp_path, "abc", b"abc")


def truncated_second_site(site):
    """Add a second method whose site's storage.json is truncated JSON; return that file."""
    other = site.path.parent / "T2_XX_Other"
    other.mkdir()
    storage = other / "storage.json"
    storage.write_text(json.dumps([{"site": "T2_XX_Other", "volume": "Other_Disk", "rse": "T2_XX_Other",
                                    "protocols": [{"protocol": "XRootD", "prefix": "root://127.0.0.1:1/"}]}])[:40])
    method = '<method site="T2_XX_Other" volume="Other_Disk" protocol="XRootD" command="xrdcp"/>'
    edit_config(site, "</stage-out>", method + "\n</stage-out>")
    return storage


def drop_local_stage_out(site):
    config = site.path / "JobConfig" / "site-local-config.xml"
    text = config.read_text()
    start, end = text.index("<local-stage-out>"), text.index("</local-stage-out>") + len("</local-stage-out>")
    config.write_text(text[:start] + text[end:])
    return "local-stage-out"


def drop_event_data(site):
    config = site.path / "JobConfig" / "site-local-config.xml"
    text = config.read_text()
    start, end = text.index("<event-data>"), text.index("</event-data>") + len("</event-data>")
    config.write_text(text[:start] + text[end:])
    return "event-data"


def drop_command(site):
    edit_config(site, ' command="xrdcp"', "")
    return "no command attribute"


@pytest.mark.parametrize("break_site",
                         [truncated_second_site, drop_local_stage_out, drop_event_data, drop_command],
                         ids=["truncated-storage-json", "no-local-stage-out", "no-event-data", "no-command"])
def test_siteconf_errors(run_stage_out, siteconf, abc_file, break_site):
    named = break_site(siteconf)

    run = run_stage_out(manual_arguments([(unique_lfn("config"), abc_file)]), siteconf.env)

    assert run.returncode == expected_status("STAGEOUT_INIT_FAILED")
    assert run.results["exit_code"] == exit_codes()["STAGEOUT_INIT_FAILED"][0]
    assert str(named) in run.results["exit_message"]
    assert len(error_lines(run.stderr)) == 1
    assert TRACEBACK not in run.stderr
    assert run.results["files"] == []


def test_override_missing_file(run_stage_out, siteconf, abc_file):
    env = dict(siteconf.env, WMAGENT_SITE_CONFIG_OVERRIDE="/nonexistent/site-local-config.xml")

    run = run_stage_out(manual_arguments([(unique_lfn("override"), abc_file)]), env)

    assert run.returncode == expected_status("STAGEOUT_INIT_FAILED")
    assert "WMAGENT_SITE_CONFIG_OVERRIDE=/nonexistent/site-local-config.xml" in run.results["exit_message"]
    assert TRACEBACK not in run.stderr


def test_override_used(run_stage_out, siteconf, xrootd_server, abc_file, tmp_path):
    override = tmp_path / "override.xml"
    shutil.copy(str(siteconf.path / "JobConfig" / "site-local-config.xml"), str(override))
    (siteconf.path / "JobConfig" / "site-local-config.xml").write_text("not XML")
    env = dict(siteconf.env, WMAGENT_SITE_CONFIG_OVERRIDE=str(override))
    lfn = unique_lfn("override-ok")

    run = run_stage_out(manual_arguments([(lfn, abc_file)]), env)

    assert run.returncode == 0, run.stderr
    assert xrootd_server.exists(lfn)


def test_no_siteconf_variable(run_stage_out, siteconf, abc_file):
    env = dict(siteconf.env)
    env.pop("SITECONFIG_PATH")

    run = run_stage_out(manual_arguments([(unique_lfn("novar"), abc_file)]), env)

    assert run.returncode == expected_status("STAGEOUT_INIT_FAILED")
    assert "neither SITECONFIG_PATH nor WMAGENT_SITE_CONFIG_OVERRIDE" in run.results["exit_message"]
    assert TRACEBACK not in run.stderr


def test_invalid_xml(run_stage_out, siteconf, abc_file):
    config = siteconf.path / "JobConfig" / "site-local-config.xml"
    config.write_text(config.read_text()[:60])

    run = run_stage_out(manual_arguments([(unique_lfn("xml"), abc_file)]), siteconf.env)

    assert run.returncode == expected_status("STAGEOUT_INIT_FAILED")
    assert str(config) in run.results["exit_message"]
    assert TRACEBACK not in run.stderr


def test_lfn_without_rule(run_stage_out, siteconf_factory, abc_file):
    site = siteconf_factory(order="--xrootd-only")
    storage = site.path / "storage.json"
    volumes = json.loads(storage.read_text())
    for volume in volumes:
        for protocol in volume["protocols"]:
            prefix = protocol.pop("prefix")
            protocol["rules"] = [{"lfn": "/+store/unmerged/(.*)", "pfn": prefix + "/store/unmerged/$1"}]
    storage.write_text(json.dumps(volumes))
    lfn = "/store/mc/RunIITest/TestPrimary/GEN-SIM/TestProcessing-v1/0000/unmapped.root"

    run = run_stage_out(manual_arguments([(lfn, abc_file)]), site.env)

    assert run.returncode == expected_status("STAGEOUT_INIT_FAILED")
    assert lfn in run.results["exit_message"]
    assert str(storage) in run.results["exit_message"]


def test_missing_local_file(run_stage_out, siteconf, tmp_path):
    missing = tmp_path / "missing.root"

    run = run_stage_out(manual_arguments([(unique_lfn("missing"), missing)]), siteconf.env)

    assert run.returncode == expected_status("OUTPUT_FILE_MISSING")
    assert str(missing) in run.results["exit_message"]
    assert TRACEBACK not in run.stderr


@pytest.mark.parametrize("arguments,named", [
    ([], "--lfn"),
    (["--lfn", "/store/unmerged/a.root"], "1 --lfn but 0 --local"),
    (["--lfn", "/store/x.root", "--local", "x", "--retries", "-1"], "--retries"),
    (["--lfn", "/store/x.root", "--local", "x", "--retries", "three"], "three"),
    (["--lfn", "/store/x.root", "--local", "x", "--no-such-option"], "--no-such-option"),
    (["--request", "request.json"], "--work-dir"),
    (["--request", "r.json", "--work-dir", ".", "--lfn", "/store/x.root", "--local", "x"], "not both"),
], ids=["nothing", "unpaired", "negative-retries", "word-retries", "unknown-option", "no-work-dir",
        "both-modes"])
def test_bad_arguments(run_stage_out, siteconf, arguments, named):
    run = run_stage_out(arguments, siteconf.env, results=False)

    assert run.returncode == expected_status("BAD_ARGUMENTS")
    assert len(run.stderr.strip().splitlines()) == 1
    assert named in run.stderr


def test_invalid_lfn(run_stage_out, siteconf, abc_file):
    lfn = "/store/unmerged//double/slash.root"

    run = run_stage_out(manual_arguments([(lfn, abc_file)]), siteconf.env)

    assert run.returncode == expected_status("BAD_ARGUMENTS")
    assert lfn in run.results["exit_message"]


def test_duplicate_lfn(run_stage_out, siteconf, abc_file):
    lfn = unique_lfn("twice")

    run = run_stage_out(manual_arguments([(lfn, abc_file), (lfn, abc_file)]), siteconf.env)

    assert run.returncode == expected_status("BAD_ARGUMENTS")
    assert "given for two files" in run.results["exit_message"]


def copy_scripts(destination):
    destination.mkdir()
    for path in EP_SCRIPTS.glob("stage*_*.py"):
        shutil.copy(str(path), str(destination / path.name))
    shutil.copy(str(EP_SCRIPTS / "stage_out.py"), str(destination / "stage_out.py"))
    shutil.copy(str(EP_SCRIPTS / "exit_codes.txt"), str(destination / "exit_codes.txt"))
    return destination / "stage_out.py"


def test_wmcore_missing(run_stage_out, siteconf, abc_file, tmp_path, stage_out_pythonpath):
    script = copy_scripts(tmp_path / "kit")
    env = dict(siteconf.env, PYTHONPATH=str(stage_out_pythonpath.py3_future))

    arguments = manual_arguments([(unique_lfn("nowm"), abc_file)])
    run = run_stage_out(arguments, env, script=script, pythonpath=False)

    assert run.returncode == expected_status("WMCORE_IMPORT_FAILED")
    assert "WMCore.zip" in run.results["exit_message"]
    assert TRACEBACK not in run.stderr


def test_wmcore_zip_next_to_script(run_stage_out, siteconf, xrootd_server, abc_file, tmp_path,
                                   stage_out_pythonpath):
    script = copy_scripts(tmp_path / "kit")
    shutil.copy(str(stage_out_pythonpath.wmcore_zip), str(script.parent / "WMCore.zip"))
    env = dict(siteconf.env, PYTHONPATH=str(stage_out_pythonpath.py3_future))
    lfn = unique_lfn("zip-beside")

    run = run_stage_out(manual_arguments([(lfn, abc_file)]), env, script=script, pythonpath=False)

    assert run.returncode == 0, run.stderr
    assert xrootd_server.exists(lfn)


def test_exit_status_rule():
    table = exit_codes()

    assert expected_status("STAGEOUT_FAILED") == 147
    assert expected_status("BAD_ARGUMENTS") == 193
    assert table["STAGEOUT_INIT_FAILED"][0] % 256 == expected_status("STAGEOUT_INIT_FAILED")
    assert os.path.exists(str(EP_SCRIPTS / "exit_codes.txt"))
