"""A two-step chain on the local site: scram, pickler, tweak tool and cmsRun on the first two real PSets,
checked through the output files and through WMCore's job report parser."""

import re

import pytest
from fixtures.local_site import PSET_WRAPPER, pset_summary, read_edm_header, run_in_release, write_tweaks
from WMCore.FwkJobReport.Report import Report

GUID_PATTERN = re.compile(r"^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$")

# The last job of the real request: 240 events from event 14999761, in lumi 18073 of 830 events.
STEP1_TWEAKS = {
    "process.maxEvents": "customTypeCms.untracked.PSet(input=cms.untracked.int32(240))",
    "process.source.firstEvent": "customTypeCms.untracked.uint32(14999761)",
    "process.source.firstLuminosityBlock": "customTypeCms.untracked.uint32(18073)",
    "process.source.firstRun": "customTypeCms.untracked.uint32(1)",
    "process.source.numberEventsInLuminosityBlock": "customTypeCms.untracked.uint32(830)",
    "process.RAWSIMoutput.fileName": "customTypeCms.untracked.string('file:RAWSIMoutput.root')",
    "process.LHEoutput.fileName": "customTypeCms.untracked.string('file:LHEoutput.root')",
    "process.options.numberOfThreads": "customTypeCms.untracked.uint32(4)",
    "process.options.numberOfStreams": "customTypeCms.untracked.uint32(0)",
}
STEP2_TWEAKS = {
    "process.maxEvents": "customTypeCms.untracked.PSet(input=cms.untracked.int32(-1))",
    "process.source.fileNames": "customTypeCms.untracked.vstring(['file:../step1/RAWSIMoutput.root'])",
    "process.RAWSIMoutput.fileName": "customTypeCms.untracked.string('file:RAWSIMoutput.root')",
    # int32 instead of uint32: CMSSW silently runs one thread.
    "process.options.numberOfThreads": "customTypeCms.untracked.int32(4)",
}
STEP_COMMANDS = """edm_pset_pickler.py --input {pset} --output_pkl PSet.pkl
edm_pset_tweak.py --input_pkl PSet.pkl --output_pkl PSet.pkl --json tweak.json --create_untracked_psets
cmssw_handle_nEvents.py --input_pkl PSet.pkl --output_pkl PSet.pkl
cmssw_handle_condor_status_service.py --input_pkl PSet.pkl --output_pkl PSet.pkl --name {step}
cmsRun -j report.xml PSet.py
"""


def _run_step(workdir, env, pset, step, tweaks):
    workdir.mkdir()
    write_tweaks(workdir / "tweak.json", tweaks)
    (workdir / "PSet.py").write_text(PSET_WRAPPER)
    result = run_in_release(workdir, env, STEP_COMMANDS.format(pset=pset, step=step))
    if result.returncode != 0:
        pytest.fail(
            "%s failed (exit status %d):\n%s%s" % (step, result.returncode, result.stdout, result.stderr)
        )
    return workdir


@pytest.fixture(scope="module")
def chain(tmp_path_factory, _local_site_session_env, real_pset_paths):
    root = tmp_path_factory.mktemp("chain")
    env = dict(_local_site_session_env)
    step1 = _run_step(root / "step1", env, real_pset_paths[0], "cmsRun1", STEP1_TWEAKS)
    step2 = _run_step(root / "step2", env, real_pset_paths[1], "cmsRun2", STEP2_TWEAKS)
    return {"step1": step1, "step2": step2, "env": env}


def _report(path, step):
    report = Report(step)
    report.parse(str(path), step)
    return report


def _files(report, step):
    return {item["module_label"]: item for item in report.getAllFilesFromStep(step)}


def _lumis(file_info):
    return sorted((run.run, lumi) for run in file_info["runs"] for lumi in run.lumis)


def test_step1_output_events(chain):
    header = read_edm_header(chain["step1"] / "RAWSIMoutput.root")
    assert header["events"] == 240


def test_step1_event_numbers(chain):
    ranges = read_edm_header(chain["step1"] / "RAWSIMoutput.root")["ranges"]
    assert ranges == [[1, 18073, 14999761, 240]]


def test_step1_file_size(chain):
    path = chain["step1"] / "RAWSIMoutput.root"
    magic, header, _payload = path.read_bytes().split(b"\n", 2)
    assert path.stat().st_size == len(magic) + len(header) + 2 + 240 * 64


def test_step1_report_files(chain):
    files = _files(_report(chain["step1"] / "report.xml", "cmsRun1"), "cmsRun1")
    assert sorted(files) == ["LHEoutput", "RAWSIMoutput"]


def test_step1_report_events(chain):
    files = _files(_report(chain["step1"] / "report.xml", "cmsRun1"), "cmsRun1")
    assert [files[label]["events"] for label in ("LHEoutput", "RAWSIMoutput")] == [240, 240]


def test_step1_report_lumis(chain):
    files = _files(_report(chain["step1"] / "report.xml", "cmsRun1"), "cmsRun1")
    assert _lumis(files["RAWSIMoutput"]) == [(1, 18073)]


def test_step1_report_pfn(chain):
    files = _files(_report(chain["step1"] / "report.xml", "cmsRun1"), "cmsRun1")
    assert files["RAWSIMoutput"]["pfn"] == "RAWSIMoutput.root"


def test_step1_guids_format(chain):
    files = _files(_report(chain["step1"] / "report.xml", "cmsRun1"), "cmsRun1")
    for label, info in files.items():
        assert GUID_PATTERN.match(info["guid"]), label


def test_step1_guids_distinct(chain):
    files = _files(_report(chain["step1"] / "report.xml", "cmsRun1"), "cmsRun1")
    assert files["LHEoutput"]["guid"] != files["RAWSIMoutput"]["guid"]


def test_step1_guid_in_file(chain):
    files = _files(_report(chain["step1"] / "report.xml", "cmsRun1"), "cmsRun1")
    assert read_edm_header(chain["step1"] / "RAWSIMoutput.root")["guid"] == files["RAWSIMoutput"]["guid"]


def test_step1_threads_honoured(chain):
    report = _report(chain["step1"] / "report.xml", "cmsRun1")
    assert report.report.performance.cpu.NumberOfThreads == "4"


def test_step1_streams_follow_threads(chain):
    report = _report(chain["step1"] / "report.xml", "cmsRun1")
    assert report.report.performance.cpu.NumberOfStreams == "4"


def test_step1_no_error(chain):
    report = _report(chain["step1"] / "report.xml", "cmsRun1")
    assert report.getExitCode() == 0


def test_step1_producer_nevents(chain):
    summary = pset_summary(chain["step1"] / "PSet.pkl", chain["env"])
    assert summary["producers_nEvents"] == {"externalLHEProducer": 240}


def test_step1_condor_status_tag(chain):
    summary = pset_summary(chain["step1"] / "PSet.pkl", chain["env"])
    assert summary["services"]["CondorStatusService"] == {"tag": "_cmsRun1_"}


def test_step2_events(chain):
    files = _files(_report(chain["step2"] / "report.xml", "cmsRun2"), "cmsRun2")
    assert files["RAWSIMoutput"]["events"] == 240


def test_step2_lumis(chain):
    files = _files(_report(chain["step2"] / "report.xml", "cmsRun2"), "cmsRun2")
    assert _lumis(files["RAWSIMoutput"]) == [(1, 18073)]


def test_step2_event_numbers(chain):
    ranges = read_edm_header(chain["step2"] / "RAWSIMoutput.root")["ranges"]
    assert ranges == [[1, 18073, 14999761, 240]]


def test_step2_input_guid(chain):
    step1_files = _files(_report(chain["step1"] / "report.xml", "cmsRun1"), "cmsRun1")
    inputs = _report(chain["step2"] / "report.xml", "cmsRun2").getInputFilesFromStep("cmsRun2")
    assert [item["guid"] for item in inputs] == [step1_files["RAWSIMoutput"]["guid"]]


def test_step2_input_events(chain):
    inputs = _report(chain["step2"] / "report.xml", "cmsRun2").getInputFilesFromStep("cmsRun2")
    assert [item["events"] for item in inputs] == [240]


def test_step2_new_guid(chain):
    step1_files = _files(_report(chain["step1"] / "report.xml", "cmsRun1"), "cmsRun1")
    step2_files = _files(_report(chain["step2"] / "report.xml", "cmsRun2"), "cmsRun2")
    assert step2_files["RAWSIMoutput"]["guid"] != step1_files["RAWSIMoutput"]["guid"]


def test_step2_int32_threads_ignored(chain):
    report = _report(chain["step2"] / "report.xml", "cmsRun2")
    assert report.report.performance.cpu.NumberOfThreads == "1"


def test_step2_process_name(chain):
    assert pset_summary(chain["step2"] / "PSet.pkl", chain["env"])["name"] == "DIGI2RAW"
