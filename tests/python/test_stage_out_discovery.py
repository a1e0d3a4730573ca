"""stage_out.py in discovery mode: files from a simulated job's FrameworkJobReports of the real request."""
import json
import os
import re
import sys

import pytest
from fixtures.local_site import run_in_release
from fixtures.stage_out import SIMULATOR_PYTHON
from test_stage_out import exit_codes, expected_status

TRACEBACK = "Traceback (most recent call last)"
GUID_LFN = re.compile(r"/([0-9A-F-]{36})\.root$")


def discovery_arguments(request_dir, work_dir, *extra):
    return ["--request", request_dir / "request.json", "--work-dir", work_dir,
            "--retries", "0", "--retry-pause", "0"] + list(extra)


def expected_lfn(request, number, tier, job_index, guid):
    step = request["Step%d" % number]
    name = step["StepName"]
    era = request["AcquisitionEra"][name]
    processing = request["ProcessingString"][name]
    return "/store/temp/user/produser.newwm/%s/%s/%s/%s-v%d/%04d/%s.root" % (
        era, step["PrimaryDataset"], tier, processing, request["ProcessingVersion"], job_index // 1000, guid)


def report_guids(work_dir, number):
    text = (work_dir / ("step%d" % number) / "FrameworkJobReport.xml").read_text()
    return dict(zip(re.findall(r"<ModuleLabel>(\w+)</ModuleLabel>", text),
                    re.findall(r"<GUID>([0-9A-F-]+)</GUID>", text)))


def test_discovery_lfns(run_stage_out, siteconf, xrootd_server, stage_out_job, real_request_dir):
    request = json.loads((real_request_dir / "request.json").read_text())
    work_dir = stage_out_job("job1234", 1234)

    run = run_stage_out(discovery_arguments(real_request_dir, work_dir), siteconf.env)

    assert run.returncode == 0, run.stderr
    files = run.results["files"]
    assert [(entry["step"], entry["module"]) for entry in files] == [
        (4, "AODSIMoutput"), (5, "MINIAODSIMoutput"), (6, "NANOEDMAODSIMoutput")]
    tiers = {4: "AODSIM", 5: "MINIAODSIM", 6: "NANOAODSIM"}
    for entry in files:
        guid = report_guids(work_dir, entry["step"])[entry["module"]]
        assert entry["lfn"] == expected_lfn(request, entry["step"], tiers[entry["step"]], 1234, guid)
        assert "//" not in entry["lfn"]
        assert "/0001/" in entry["lfn"]
        assert entry["local_path"] == str(work_dir / ("step%d" % entry["step"]) / (entry["module"] + ".root"))
        assert xrootd_server.remote_file(entry["lfn"]).adler32 == entry["adler32"]


def test_two_jobs_distinct_lfns(run_stage_out, siteconf, xrootd_server, stage_out_job, real_request_dir):
    jobs = [stage_out_job("job%d" % index, index) for index in (1, 2)]
    runs = [run_stage_out(discovery_arguments(real_request_dir, job), siteconf.env) for job in jobs]

    assert [run.returncode for run in runs] == [0, 0]
    first, second = [{entry["lfn"] for entry in run.results["files"]} for run in runs]
    assert len(first) == 3
    assert not first & second
    assert all(xrootd_server.exists(lfn) for lfn in first | second)


def test_job_index_option(run_stage_out, siteconf, stage_out_job, real_request_dir):
    work_dir = stage_out_job("job-option", 1)

    run = run_stage_out(discovery_arguments(real_request_dir, work_dir, "--job-index", "18073"), siteconf.env)

    assert run.returncode == 0, run.stderr
    assert all("/0018/" in entry["lfn"] for entry in run.results["files"])


def test_default_results_path(run_stage_out, siteconf, stage_out_job, real_request_dir):
    work_dir = stage_out_job("job-default", 7)

    run = run_stage_out(discovery_arguments(real_request_dir, work_dir), siteconf.env, results=False)

    assert run.returncode == 0, run.stderr
    results = json.loads((work_dir / "stage_out_results.json").read_text())
    assert len(results["files"]) == 3


def posix_only_files(site):
    return [os.path.join(root, name) for root, _, names in os.walk(str(site.posix_root)) for name in names]


def test_missing_report_no_copy(run_stage_out, siteconf_factory, stage_out_job, real_request_dir):
    site = siteconf_factory(order="--posix-only")
    work_dir = stage_out_job("job-noreport", 3)
    report = work_dir / "step6" / "FrameworkJobReport.xml"
    report.unlink()

    run = run_stage_out(discovery_arguments(real_request_dir, work_dir), site.env)

    assert run.returncode == expected_status("NO_VALID_JOB_REPORT")
    assert str(report) in run.results["exit_message"]
    assert posix_only_files(site) == []


def _malformed(report, kind):
    sys.path.insert(0, str(SIMULATOR_PYTHON))
    try:
        from cmssw_sim import jobreport
    finally:
        sys.path.remove(str(SIMULATOR_PYTHON))
    return jobreport.malformed(report, kind)


@pytest.mark.parametrize("kind", ["ampersand", "nul", "truncated", "empty"])
def test_malformed_report_rejected(run_stage_out, siteconf_factory, stage_out_job, real_request_dir, kind):
    site = siteconf_factory(order="--posix-only")
    work_dir = stage_out_job("job-" + kind, 3)
    report = work_dir / "step5" / "FrameworkJobReport.xml"
    report.write_bytes(_malformed(report.read_bytes(), kind))

    run = run_stage_out(discovery_arguments(real_request_dir, work_dir), site.env)

    assert run.returncode == expected_status("NO_VALID_JOB_REPORT")
    assert str(report) in run.results["exit_message"]
    assert TRACEBACK not in run.stderr
    assert posix_only_files(site) == []


def test_failed_step_report(run_stage_out, siteconf_factory, stage_out_job, real_request_dir):
    site = siteconf_factory(order="--posix-only")
    work_dir = stage_out_job("job-failed", 3)
    report = work_dir / "step4" / "FrameworkJobReport.xml"
    report.write_text(report.read_text().replace(
        "</FrameworkJobReport>", '<FrameworkError ExitStatus="8021" Type="FileReadError">x</FrameworkError>\n'
                                 "</FrameworkJobReport>"))

    run = run_stage_out(discovery_arguments(real_request_dir, work_dir), site.env)

    assert run.returncode == 8021 % 256
    assert run.results["exit_code"] == 8021
    assert posix_only_files(site) == []


def test_missing_output_file(run_stage_out, siteconf_factory, stage_out_job, real_request_dir):
    site = siteconf_factory(order="--posix-only")
    work_dir = stage_out_job("job-nofile", 3)
    (work_dir / "step6" / "NANOEDMAODSIMoutput.root").write_bytes(b"")

    run = run_stage_out(discovery_arguments(real_request_dir, work_dir), site.env)

    assert run.returncode == expected_status("OUTPUT_FILE_MISSING")
    assert "NANOEDMAODSIMoutput.root" in run.results["exit_message"]
    assert posix_only_files(site) == []


def test_missing_data_tier(run_stage_out, siteconf_factory, stage_out_job, real_request_dir):
    site = siteconf_factory(order="--posix-only")
    work_dir = stage_out_job("job-notier", 3)
    modules = work_dir / "step5" / "output_modules.json"
    modules.write_text(json.dumps({"MINIAODSIMoutput": {"file_name": "MINIAODSIMoutput.root"}}))

    run = run_stage_out(discovery_arguments(real_request_dir, work_dir), site.env)

    assert run.returncode == expected_status("BAD_ARGUMENTS")
    assert str(modules) in run.results["exit_message"]
    assert run.results["exit_code"] == exit_codes()["BAD_ARGUMENTS"][0]


def test_job_index_missing(run_stage_out, siteconf, stage_out_job, real_request_dir):
    work_dir = stage_out_job("job-noindex", 3)
    (work_dir / "job.json").write_text(json.dumps({"tweaks": {}}))

    run = run_stage_out(discovery_arguments(real_request_dir, work_dir), siteconf.env)

    assert run.returncode == expected_status("BAD_ARGUMENTS")
    assert "job_index" in run.results["exit_message"]


def test_discovery_failure_cleans(run_stage_out, siteconf_factory, xrootd_server, stage_out_job,
                                  real_request_dir):
    site = siteconf_factory(order="--xrootd-only")
    work_dir = stage_out_job("job-partial", 4)
    request = json.loads((real_request_dir / "request.json").read_text())
    nano_guid = report_guids(work_dir, 6)["NANOEDMAODSIMoutput"]
    blocked = expected_lfn(request, 6, "NANOAODSIM", 4, nano_guid)
    assert xrootd_server.xrdfs("mkdir", "-p", blocked).returncode == 0

    run = run_stage_out(discovery_arguments(real_request_dir, work_dir), site.env)

    assert run.returncode == expected_status("STAGEOUT_FAILED")
    assert len(run.results["removed"]) == 2
    assert not any(xrootd_server.exists(lfn) for lfn in run.results["removed"])
    assert all(GUID_LFN.search(lfn) for lfn in run.results["removed"])


SIMULATED_STEP_CONFIG = """import FWCore.ParameterSet.Config as cms
process = cms.Process("SIM")
process.source = cms.Source("EmptySource", firstRun=cms.untracked.uint32(1),
                            numberEventsInLuminosityBlock=cms.untracked.uint32(5))
process.maxEvents = cms.untracked.PSet(input=cms.untracked.int32(10))
process.RAWSIMoutput = cms.OutputModule("PoolOutputModule",
    dataset=cms.untracked.PSet(dataTier=cms.untracked.string("GEN-SIM"), filterName=cms.untracked.string("")),
    fileName=cms.untracked.string("file:RAWSIMoutput.root"))
"""


def test_simulated_cmsrun_job(run_stage_out, siteconf, xrootd_server, local_site_env, repo_root, tmp_path):
    # One step run as the executor runs it on the local site: pickle the configuration, list its
    # output modules with the executor's dump_output_modules.py, then run the simulated cmsRun.
    work_dir = tmp_path / "job"
    step_dir = work_dir / "step1"
    step_dir.mkdir(parents=True)
    (step_dir / "cfg.py").write_text(SIMULATED_STEP_CONFIG)
    commands = ("cd step1 && edm_pset_pickler.py --input cfg.py --output_pkl Pset.pkl && "
                "python3 %s Pset.pkl output_modules.json && cmsRun -j FrameworkJobReport.xml cfg.py"
                % (repo_root / "ep_scripts" / "dump_output_modules.py"))
    ran = run_in_release(work_dir, local_site_env, commands)
    assert ran.returncode == 0, ran.stderr
    request = {"StepChain": 1, "UnmergedLFNBase": "/store/unmerged/", "ProcessingVersion": 2,
               "AcquisitionEra": "RunIITest", "ProcessingString": {"SimStep": "TestCond_v1"},
               "Step1": {"StepName": "SimStep", "KeepOutput": True, "PrimaryDataset": "TestPrimary"}}
    (work_dir / "request.json").write_text(json.dumps(request))
    (work_dir / "job.json").write_text(json.dumps({"job_index": 2500, "tweaks": {}}))
    guid = report_guids(work_dir, 1)["RAWSIMoutput"]

    run = run_stage_out(discovery_arguments(work_dir, work_dir), siteconf.env)

    assert run.returncode == 0, run.stderr
    lfn = run.results["files"][0]["lfn"]
    assert lfn == "/store/unmerged/RunIITest/TestPrimary/GEN-SIM/TestCond_v1-v2/0002/%s.root" % guid
    assert xrootd_server.remote_file(lfn).size == (step_dir / "RAWSIMoutput.root").stat().st_size
