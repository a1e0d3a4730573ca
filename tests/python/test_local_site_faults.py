"""Fault injection of the local site's cmsRun: each CMSRUN_SIM_* variable produces the failure it names."""

import shutil
import signal
import subprocess

import pytest
from fixtures.local_site import CMS_SW_DIR, PSET_WRAPPER, read_edm_header, run_in_release, write_tweaks
from WMCore.FwkJobReport.Report import FwkJobReportException, Report

CMSRUN = str(CMS_SW_DIR / "cmssw-sim" / "bin" / "cmsRun")
STEP1_TWEAKS = {
    "process.maxEvents": "customTypeCms.untracked.PSet(input=cms.untracked.int32(10))",
    "process.RAWSIMoutput.fileName": "customTypeCms.untracked.string('file:RAWSIMoutput.root')",
    "process.LHEoutput.fileName": "customTypeCms.untracked.string('file:LHEoutput.root')",
}


@pytest.fixture(scope="module")
def prepared_step1(tmp_path_factory, _local_site_session_env, real_pset_paths):
    """A step 1 directory with the tweaked PSet.pkl (process SIM, 10 events) and the cfg wrapper."""
    workdir = tmp_path_factory.mktemp("faults-step1")
    write_tweaks(workdir / "tweak.json", STEP1_TWEAKS)
    (workdir / "PSet.py").write_text(PSET_WRAPPER)
    result = run_in_release(
        workdir,
        dict(_local_site_session_env),
        """
edm_pset_pickler.py --input {pset} --output_pkl PSet.pkl
edm_pset_tweak.py --input_pkl PSet.pkl --output_pkl PSet.pkl --json tweak.json
""".format(pset=real_pset_paths[0]),
    )
    assert result.returncode == 0, result.stderr
    return workdir


@pytest.fixture
def step1(tmp_path, prepared_step1):
    for name in ("PSet.pkl", "PSet.py"):
        shutil.copy(str(prepared_step1 / name), str(tmp_path / name))
    return tmp_path


def run_cmsrun(workdir, env, **faults):
    env = dict(env, **faults)
    return subprocess.run(
        [CMSRUN, "-j", "report.xml", "PSet.py"],
        cwd=str(workdir),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        universal_newlines=True,
        check=False,
    )


def parse_report(path):
    report = Report("cmsRun1")
    report.parse(str(path), "cmsRun1")
    return report


def framework_error(path):
    """Return (ExitStatus, Type) of the report's first error, as WMCore reads them."""
    error = parse_report(path).retrieveStep("cmsRun1").errors.error0
    return error.exitCode, error.type


def test_exit_code_status(step1, local_site_env):
    assert run_cmsrun(step1, local_site_env, CMSRUN_SIM_EXIT_CODE="8021").returncode == 8021 % 256


def test_exit_code_report(step1, local_site_env):
    run_cmsrun(step1, local_site_env, CMSRUN_SIM_EXIT_CODE="8021")
    assert framework_error(step1 / "report.xml") == (8021, "FileReadError")


def test_exit_code_other_type(step1, local_site_env):
    run_cmsrun(step1, local_site_env, CMSRUN_SIM_EXIT_CODE="8001")
    assert framework_error(step1 / "report.xml") == (8001, "OtherCMS")


def test_exit_code_no_outputs(step1, local_site_env):
    run_cmsrun(step1, local_site_env, CMSRUN_SIM_EXIT_CODE="8001")
    assert not (step1 / "RAWSIMoutput.root").exists()


def test_fault_process_matches(step1, local_site_env):
    result = run_cmsrun(step1, local_site_env, CMSRUN_SIM_EXIT_CODE="8001", CMSRUN_SIM_FAULT_PROCESS="SIM")
    assert result.returncode == 8001 % 256


def test_fault_process_other(step1, local_site_env):
    result = run_cmsrun(step1, local_site_env, CMSRUN_SIM_EXIT_CODE="8001", CMSRUN_SIM_FAULT_PROCESS="HLT")
    assert result.returncode == 0


def test_fault_process_other_report(step1, local_site_env):
    run_cmsrun(step1, local_site_env, CMSRUN_SIM_EXIT_CODE="8001", CMSRUN_SIM_FAULT_PROCESS="HLT")
    assert parse_report(step1 / "report.xml").getExitCode() == 0


def test_failed_report_exit0_status(step1, local_site_env):
    assert run_cmsrun(step1, local_site_env, CMSRUN_SIM_FAILED_REPORT_EXIT0="1").returncode == 0


def test_failed_report_exit0_error(step1, local_site_env):
    run_cmsrun(step1, local_site_env, CMSRUN_SIM_FAILED_REPORT_EXIT0="1")
    assert framework_error(step1 / "report.xml") == (8001, "OtherCMS")


def test_no_report_status(step1, local_site_env):
    assert run_cmsrun(step1, local_site_env, CMSRUN_SIM_NO_REPORT="1").returncode == 0


def test_no_report_missing(step1, local_site_env):
    run_cmsrun(step1, local_site_env, CMSRUN_SIM_NO_REPORT="1")
    assert not (step1 / "report.xml").exists()


def test_no_report_outputs_written(step1, local_site_env):
    run_cmsrun(step1, local_site_env, CMSRUN_SIM_NO_REPORT="1")
    assert read_edm_header(step1 / "RAWSIMoutput.root")["events"] == 10


@pytest.mark.parametrize("kind", ["ampersand", "nul", "truncated", "empty"])
def test_malformed_report_status(step1, local_site_env, kind):
    assert run_cmsrun(step1, local_site_env, CMSRUN_SIM_MALFORMED_REPORT=kind).returncode == 0


@pytest.mark.parametrize("kind", ["ampersand", "nul", "truncated", "empty"])
def test_malformed_report_unparsable(step1, local_site_env, kind):
    run_cmsrun(step1, local_site_env, CMSRUN_SIM_MALFORMED_REPORT=kind)
    with pytest.raises(FwkJobReportException):
        parse_report(step1 / "report.xml")


def test_malformed_ampersand_content(step1, local_site_env):
    run_cmsrun(step1, local_site_env, CMSRUN_SIM_MALFORMED_REPORT="ampersand")
    assert b"&stream=1</PFN>" in (step1 / "report.xml").read_bytes()


def test_malformed_nul_content(step1, local_site_env):
    run_cmsrun(step1, local_site_env, CMSRUN_SIM_MALFORMED_REPORT="nul")
    assert b"<GUID>\x00" in (step1 / "report.xml").read_bytes()


def test_malformed_truncated_size(step1, local_site_env):
    run_cmsrun(step1, local_site_env, CMSRUN_SIM_MALFORMED_REPORT="truncated")
    assert (step1 / "report.xml").stat().st_size == 200


def test_malformed_empty_size(step1, local_site_env):
    run_cmsrun(step1, local_site_env, CMSRUN_SIM_MALFORMED_REPORT="empty")
    assert (step1 / "report.xml").stat().st_size == 0


def test_malformed_unknown_kind(step1, local_site_env):
    result = run_cmsrun(step1, local_site_env, CMSRUN_SIM_MALFORMED_REPORT="garbled")
    assert result.returncode == 2


def test_malformed_unknown_kind_message(step1, local_site_env):
    result = run_cmsrun(step1, local_site_env, CMSRUN_SIM_MALFORMED_REPORT="garbled")
    assert "CMSRUN_SIM_MALFORMED_REPORT='garbled'" in result.stderr


def test_disk_full_status(step1, local_site_env):
    assert run_cmsrun(step1, local_site_env, CMSRUN_SIM_DISK_FULL="1").returncode == 0


def test_disk_full_message(step1, local_site_env):
    result = run_cmsrun(step1, local_site_env, CMSRUN_SIM_DISK_FULL="1")
    assert "No space left on device" in result.stdout


def test_disk_full_empty_outputs(step1, local_site_env):
    run_cmsrun(step1, local_site_env, CMSRUN_SIM_DISK_FULL="1")
    sizes = [(step1 / name).stat().st_size for name in ("RAWSIMoutput.root", "LHEoutput.root")]
    assert sizes == [0, 0]


def test_disk_full_no_report(step1, local_site_env):
    run_cmsrun(step1, local_site_env, CMSRUN_SIM_DISK_FULL="1")
    assert not (step1 / "report.xml").exists()


def test_missing_output_absent(step1, local_site_env):
    run_cmsrun(step1, local_site_env, CMSRUN_SIM_MISSING_OUTPUT="LHEoutput")
    assert not (step1 / "LHEoutput.root").exists()


def test_missing_output_declared(step1, local_site_env):
    run_cmsrun(step1, local_site_env, CMSRUN_SIM_MISSING_OUTPUT="LHEoutput")
    labels = [
        item["module_label"] for item in parse_report(step1 / "report.xml").getAllFilesFromStep("cmsRun1")
    ]
    assert "LHEoutput" in labels


def test_missing_output_others_written(step1, local_site_env):
    run_cmsrun(step1, local_site_env, CMSRUN_SIM_MISSING_OUTPUT="LHEoutput")
    assert read_edm_header(step1 / "RAWSIMoutput.root")["events"] == 10


def test_missing_output_unknown_label(step1, local_site_env):
    result = run_cmsrun(step1, local_site_env, CMSRUN_SIM_MISSING_OUTPUT="NoSuchOutput")
    assert result.returncode == 2


def test_bytes_per_event(step1, local_site_env):
    run_cmsrun(step1, local_site_env, CMSRUN_SIM_BYTES_PER_EVENT="1000")
    magic, header, _payload = (step1 / "RAWSIMoutput.root").read_bytes().split(b"\n", 2)
    assert (step1 / "RAWSIMoutput.root").stat().st_size == len(magic) + len(header) + 2 + 10 * 1000


def test_bytes_per_event_invalid(step1, local_site_env):
    assert run_cmsrun(step1, local_site_env, CMSRUN_SIM_BYTES_PER_EVENT="many").returncode == 2


@pytest.fixture
def terminated_run(step1, local_site_env):
    """cmsRun sleeping 300 s, stopped by SIGTERM once it logs that it sleeps; returns (status, workdir)."""
    env = dict(local_site_env, CMSRUN_SIM_SLEEP="300", CMSRUN_SIM_TERM_DELAY="1")
    process = subprocess.Popen(
        [CMSRUN, "-j", "report.xml", "PSet.py"],
        cwd=str(step1),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        universal_newlines=True,
    )
    try:
        for line in process.stderr:
            if "sleeping" in line:
                break
        process.send_signal(signal.SIGTERM)
        status = process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stderr.close()
    return status, step1


def test_sigterm_exit_status(terminated_run):
    assert terminated_run[0] == 143


def test_sigterm_report_error(terminated_run):
    assert framework_error(terminated_run[1] / "report.xml")[0] == 143


def test_sigterm_no_outputs(terminated_run):
    assert not (terminated_run[1] / "RAWSIMoutput.root").exists()


@pytest.fixture
def step2(tmp_path, _local_site_session_env, real_pset_paths):
    """A step 2 directory with PSet.pkl reading ../step1/RAWSIMoutput.root, which tests create."""
    workdir = tmp_path / "step2"
    (tmp_path / "step1").mkdir()
    workdir.mkdir()
    write_tweaks(
        workdir / "tweak.json",
        {
            "process.source.fileNames": (
                "customTypeCms.untracked.vstring(['file:../step1/RAWSIMoutput.root'])"
            ),
            "process.RAWSIMoutput.fileName": "customTypeCms.untracked.string('file:RAWSIMoutput.root')",
            "process.maxEvents": "customTypeCms.untracked.PSet(input=cms.untracked.int32(-1))",
        },
    )
    (workdir / "PSet.py").write_text(PSET_WRAPPER)
    result = run_in_release(
        workdir,
        dict(_local_site_session_env),
        """
edm_pset_pickler.py --input {pset} --output_pkl PSet.pkl
edm_pset_tweak.py --input_pkl PSet.pkl --output_pkl PSet.pkl --json tweak.json
""".format(pset=real_pset_paths[1]),
    )
    assert result.returncode == 0, result.stderr
    return workdir


def test_missing_input_status(step2, local_site_env):
    assert run_cmsrun(step2, local_site_env).returncode == 8020 % 256


def test_missing_input_report(step2, local_site_env):
    run_cmsrun(step2, local_site_env)
    assert framework_error(step2 / "report.xml") == (8020, "FileOpenError")


def test_empty_input_report(step2, local_site_env):
    (step2.parent / "step1" / "RAWSIMoutput.root").write_bytes(b"")
    run_cmsrun(step2, local_site_env)
    assert framework_error(step2 / "report.xml") == (8021, "FileReadError")


def test_truncated_input_report(step2, step1, local_site_env):
    run_cmsrun(step1, local_site_env)
    data = (step1 / "RAWSIMoutput.root").read_bytes()
    (step2.parent / "step1" / "RAWSIMoutput.root").write_bytes(data[:-1])
    run_cmsrun(step2, local_site_env)
    assert framework_error(step2 / "report.xml") == (8021, "FileReadError")
