"""Worker-side helpers of execute_stepchain.sh, run with the worker Python (3.6 on this machine)."""
import json
import resource
import shutil
import subprocess
import tarfile

import pytest
from fixtures.executor import HELPER_TIMEOUT_SECONDS

GOOD_REPORT = b"""<FrameworkJobReport>
<File>
  <LFN></LFN>
  <PFN>RAWSIMoutput.root</PFN>
  <ModuleLabel>RAWSIMoutput</ModuleLabel>
  <GUID>0F3C1A52-5D21-4E2B-9A77-1C2D3E4F5A6B</GUID>
  <TotalEvents>240</TotalEvents>
</File>
<InputFile><LFN>file:../step1/x.root</LFN><EventsRead>240</EventsRead></InputFile>
</FrameworkJobReport>
"""

FAILED_REPORT = b"""<FrameworkJobReport>
<FrameworkError ExitStatus="8021" Type="FileReadError">cannot read the input</FrameworkError>
</FrameworkJobReport>
"""

MALFORMED_REPORTS = {
    "ampersand": GOOD_REPORT.replace(b"RAWSIMoutput.root</PFN>", b"root://se/?a=1&b=2</PFN>"),
    "nul": GOOD_REPORT.replace(b"<TotalEvents>240", b"<TotalEvents>2\x0040"),
    "truncated": GOOD_REPORT[:200],
    "empty": b"",
}


def write_step(step_dir, report=GOOD_REPORT, output=b"abc", tier="GEN-SIM"):
    step_dir.mkdir(parents=True, exist_ok=True)
    if report is not None:
        (step_dir / "FrameworkJobReport.xml").write_bytes(report)
    if output is not None:
        (step_dir / "RAWSIMoutput.root").write_bytes(output)
    modules = {"RAWSIMoutput": {"file_name": "RAWSIMoutput.root", "data_tier": tier}}
    (step_dir / "output_modules.json").write_text(json.dumps(modules))


@pytest.fixture
def planned_report(tmp_path, run_helper):
    """A job report whose plan has two steps; returns its path."""
    report = tmp_path / "job_report.json"
    plan = tmp_path / "plan.json"
    steps = [{"step": n, "name": "Step%d_0" % n, "cmssw_version": "CMSSW_10_6_47",
              "scram_arch": "slc7_amd64_gcc700", "keep_output": n == 2} for n in (1, 2)]
    plan.write_text(json.dumps({"job_index": 7, "steps": steps}))
    assert run_helper("job_report.py", "--report", report, "init", "--site", "T2_XX_A").returncode == 0
    assert run_helper("job_report.py", "--report", report, "plan", "--plan", plan).returncode == 0
    return report


def step_end(run_helper, report, step_dir, status):
    return run_helper("job_report.py", "--report", report, "step-end", "--step", "1",
                      "--step-dir", step_dir, "--cmsrun-exit-status", status)


# unpack_sandbox.py ----------------------------------------------------------------------------


@pytest.mark.parametrize("name, extra", [
    ("../escape.txt", [("../escape.txt", b"x")]),
    ("/tmp/abs.txt", [("/tmp/abs.txt", b"x")]),
    ("PSets", [("PSets", b"", tarfile.SYMTYPE, "/tmp")]),
    ("PSets", [("PSets", b"", tarfile.SYMTYPE, "../outside")]),
    ("h", [("h", b"", tarfile.LNKTYPE, "/etc/hostname")]),
    ("fifo", [("fifo", b"", tarfile.FIFOTYPE)]),
    ("device", [("device", b"", tarfile.CHRTYPE)]),
])
def test_unpack_unsafe_member(tmp_path, run_helper, make_tarball, name, extra):
    destination = tmp_path / "work"
    destination.mkdir()
    result = run_helper("unpack_sandbox.py", make_tarball("bad.tgz", extra), destination)
    assert result.returncode == 2
    assert "unsafe archive member %s" % name in result.stderr
    assert list(destination.iterdir()) == []
    assert "Traceback" not in result.stderr


def test_unpack_inner_symlink_kept(tmp_path, run_helper, make_tarball):
    destination = tmp_path / "work"
    destination.mkdir()
    tarball = make_tarball("ok.tgz", [("alias.json", b"", tarfile.SYMTYPE, "request.json")])
    assert run_helper("unpack_sandbox.py", tarball, destination).returncode == 0
    assert (destination / "alias.json").resolve() == (destination / "request.json").resolve()


def test_unpack_without_request(tmp_path, run_helper):
    tarball = tmp_path / "noreq.tgz"
    with tarfile.open(str(tarball), "w:gz") as archive:
        archive.add(str(shutil.which("true")), arcname="PSets/x.py")
    destination = tmp_path / "work"
    destination.mkdir()
    result = run_helper("unpack_sandbox.py", tarball, destination)
    assert result.returncode == 2
    assert "no request.json" in result.stderr


def test_unpack_not_a_tarball(tmp_path, run_helper):
    tarball = tmp_path / "garbage.tgz"
    tarball.write_bytes(b"not a tarball")
    destination = tmp_path / "work"
    destination.mkdir()
    result = run_helper("unpack_sandbox.py", tarball, destination)
    assert result.returncode == 2
    assert "cannot read the request tarball" in result.stderr


def test_unpack_file_size_limit(tmp_path, repo_root, worker_python, make_tarball):
    tarball = make_tarball("big.tgz", [("PSets/big.py", b"\0" * (2 * 1024 * 1024))])
    destination = tmp_path / "work"
    destination.mkdir()

    def limit_file_size():
        resource.setrlimit(resource.RLIMIT_FSIZE, (512 * 1024, 512 * 1024))

    result = subprocess.run([worker_python, str(repo_root / "ep_scripts" / "unpack_sandbox.py"),
                             str(tarball), str(destination)], preexec_fn=limit_file_size,
                            capture_output=True, text=True, timeout=HELPER_TIMEOUT_SECONDS)
    assert result.returncode == 3
    assert list(destination.iterdir()) == []


# job_plan.py -----------------------------------------------------------------------------------


@pytest.fixture
def real_work_dir(tmp_path, real_request_dir):
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(str(real_request_dir / "request.json"), str(work / "request.json"))
    shutil.copytree(str(real_request_dir / "PSets"), str(work / "PSets"))
    return work


def write_job(tmp_path, steps, name="job12.json"):
    path = tmp_path / name
    tweaks = {str(n): {"process.maxEvents": "customTypeCms.untracked.PSet(input=cms.untracked.int32(-1))"}
              for n in steps}
    path.write_text(json.dumps({"job_index": 12, "tweaks": tweaks}))
    return path


def test_plan_real_request(tmp_path, run_helper, real_work_dir):
    result = run_helper("job_plan.py", "--work-dir", real_work_dir, "--job", write_job(tmp_path, range(1, 7)))
    assert result.returncode == 0, result.stderr
    plan = json.loads((real_work_dir / "plan.json").read_text())
    assert [step["scram_arch"] for step in plan["steps"]].count("slc7_amd64_gcc630") == 1
    assert plan["steps"][2]["cmssw_version"] == "CMSSW_9_4_14_UL_patch1"
    assert [step["keep_output"] for step in plan["steps"]] == [False, False, False, True, True, True]
    assert (real_work_dir / "step6" / "tweak.json").is_file()
    assert json.loads((real_work_dir / "job.json").read_text())["job_index"] == 12


def test_plan_shell_assignments(tmp_path, run_helper, real_work_dir):
    run_helper("job_plan.py", "--work-dir", real_work_dir, "--job", write_job(tmp_path, range(1, 7)))
    script = "source %s; echo ${step_count} ${step_arch[3]} ${step_pset[6]}" % (real_work_dir / "plan.sh")
    output = subprocess.run(["bash", "-c", script], capture_output=True, text=True).stdout.split()
    assert output == ["6", "slc7_amd64_gcc630",
                      "PSets/PSet_cmsRun6_SMP-RunIISummer20UL17pp5TeVNanoAODv9-00006_0.py"]


def test_plan_missing_tweak(tmp_path, run_helper, real_work_dir):
    result = run_helper("job_plan.py", "--work-dir", real_work_dir, "--job", write_job(tmp_path, [1, 2]))
    assert result.returncode == 2
    assert "tweak for step 3 is missing in job12.json (keys present: 1, 2)" in result.stderr
    assert not (real_work_dir / "plan.sh").exists()


def test_plan_missing_pset(tmp_path, run_helper, real_work_dir):
    next(real_work_dir.glob("PSets/PSet_cmsRun4_*.py")).unlink()
    result = run_helper("job_plan.py", "--work-dir", real_work_dir, "--job", write_job(tmp_path, range(1, 7)))
    assert result.returncode == 2
    assert "PSet PSets/PSet_cmsRun4_" in result.stderr


def test_plan_invalid_job_json(tmp_path, run_helper, real_work_dir):
    job = tmp_path / "job1.json"
    job.write_text("{not json")
    result = run_helper("job_plan.py", "--work-dir", real_work_dir, "--job", job)
    assert result.returncode == 2
    assert "is not valid JSON" in result.stderr
    assert "Traceback" not in result.stderr


# job_report.py ---------------------------------------------------------------------------------


def test_report_good_step(tmp_path, run_helper, planned_report):
    write_step(tmp_path / "step1")
    result = step_end(run_helper, planned_report, tmp_path / "step1", 0)
    assert result.stdout.split("\t")[0] == "0"
    output = json.loads(planned_report.read_text())["steps"][0]["output_files"][0]
    assert output["adler32"] == "024d0127"
    assert output["size"] == 3
    assert output["guid"] == "0F3C1A52-5D21-4E2B-9A77-1C2D3E4F5A6B"
    assert output["events"] == 240
    assert output["data_tier"] == "GEN-SIM"
    assert output["local_path"] == "step1/RAWSIMoutput.root"


def test_report_framework_error_wins(tmp_path, run_helper, planned_report):
    write_step(tmp_path / "step1", report=FAILED_REPORT)
    result = step_end(run_helper, planned_report, tmp_path / "step1", 85)
    assert result.stdout.split("\t")[0] == "8021"
    assert json.loads(planned_report.read_text())["steps"][0]["exit_code"] == 8021


def test_report_error_with_exit_zero(tmp_path, run_helper, planned_report):
    write_step(tmp_path / "step1", report=FAILED_REPORT)
    assert step_end(run_helper, planned_report, tmp_path / "step1", 0).stdout.split("\t")[0] == "8021"


@pytest.mark.parametrize("kind", sorted(MALFORMED_REPORTS))
def test_report_malformed_fjr(tmp_path, run_helper, planned_report, kind):
    write_step(tmp_path / "step1", report=MALFORMED_REPORTS[kind])
    result = step_end(run_helper, planned_report, tmp_path / "step1", 0)
    assert result.stdout.split("\t")[0] == "50115"
    assert "Traceback" not in result.stderr


def test_report_missing_fjr(tmp_path, run_helper, planned_report):
    write_step(tmp_path / "step1", report=None)
    assert step_end(run_helper, planned_report, tmp_path / "step1", 0).stdout.split("\t")[0] == "50115"


def test_report_missing_fjr_nonzero(tmp_path, run_helper, planned_report):
    write_step(tmp_path / "step1", report=None)
    assert step_end(run_helper, planned_report, tmp_path / "step1", 139).stdout.split("\t")[0] == "139"


@pytest.mark.parametrize("output", [None, b""])
def test_report_output_missing_or_empty(tmp_path, run_helper, planned_report, output):
    write_step(tmp_path / "step1", output=output)
    assert step_end(run_helper, planned_report, tmp_path / "step1", 0).stdout.split("\t")[0] == "60302"


def test_report_finish_skips_rest(tmp_path, run_helper, planned_report):
    write_step(tmp_path / "step1", report=FAILED_REPORT)
    step_end(run_helper, planned_report, tmp_path / "step1", 85)
    result = run_helper("job_report.py", "--report", planned_report, "finish", "--code", "8021",
                        "--message", "failed", "--exit-status", "85", "--step", "1")
    assert result.returncode == 0
    report = json.loads(planned_report.read_text())
    assert [step["exit_code"] for step in report["steps"]] == [8021, 99108]
    assert report["exit_status"] == 85
    assert report["end_time"].endswith("Z")


def test_report_merges_stage_out(tmp_path, run_helper, planned_report):
    write_step(tmp_path / "step1")
    step_end(run_helper, planned_report, tmp_path / "step1", 0)
    results = tmp_path / "stage_out_results.json"
    results.write_text(json.dumps({"exit_code": 0, "exit_message": "", "removed": [], "files": [
        {"step": 1, "module": "RAWSIMoutput", "lfn": "/store/x.root", "pfn": "root://se//x.root",
         "pnn": "T2_XX_A"}]}))
    result = run_helper("job_report.py", "--report", planned_report, "stage-out", "--results", results)
    assert result.stdout.split("\t")[0] == "0"
    output = json.loads(planned_report.read_text())["steps"][0]["output_files"][0]
    assert (output["lfn"], output["pnn"]) == ("/store/x.root", "T2_XX_A")


def test_report_stage_out_without_results(tmp_path, run_helper, planned_report):
    result = run_helper("job_report.py", "--report", planned_report, "stage-out",
                        "--results", tmp_path / "absent.json", "--exit-status", "1")
    assert result.stdout.split("\t")[0] == "60307"


def test_report_stage_out_status_disagrees(tmp_path, run_helper, planned_report):
    results = tmp_path / "stage_out_results.json"
    results.write_text(json.dumps({"exit_code": 0, "exit_message": "", "files": []}))
    result = run_helper("job_report.py", "--report", planned_report, "stage-out",
                        "--results", results, "--exit-status", "151")
    assert result.stdout.split("\t")[0] == "60307"


# dump_output_modules.py ------------------------------------------------------------------------


def test_dump_tier_from_module(tmp_path, repo_root, real_request_dir, worker_python):
    simulator = repo_root / "samples" / "local_site" / "cms.cern.ch" / "cmssw-sim"
    if not (simulator / "bin" / "edm_pset_pickler.py").is_file():
        pytest.fail("the local site's simulated edm_pset_pickler.py is missing at %s" % simulator)
    pset = next(real_request_dir.glob("PSets/PSet_cmsRun6_*.py"))
    environment = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(simulator / "python")}
    subprocess.run([worker_python, str(simulator / "bin" / "edm_pset_pickler.py"), "--input", str(pset),
                    "--output_pkl", str(tmp_path / "Pset.pkl")], env=environment, check=True,
                   capture_output=True, timeout=HELPER_TIMEOUT_SECONDS)
    subprocess.run([worker_python, str(repo_root / "ep_scripts" / "dump_output_modules.py"),
                    str(tmp_path / "Pset.pkl"), str(tmp_path / "output_modules.json")], env=environment,
                   check=True, capture_output=True, timeout=HELPER_TIMEOUT_SECONDS)
    modules = json.loads((tmp_path / "output_modules.json").read_text())
    assert modules["NANOEDMAODSIMoutput"]["data_tier"] == "NANOAODSIM"
    assert modules["NANOEDMAODSIMoutput"]["file_name"] == "SMP-RunIISummer20UL17pp5TeVNanoAODv9-00004.root"
