"""run-node-locally: input checks, the scratch directory, outputs through the remaps, cleanup."""
import json
import os
import shutil
import signal

import pytest
from fixtures.end_to_end import (
    create_dag,
    node_arguments,
    processes_using,
    run_node,
    run_tool,
)

CANNOT_RUN = 2
NODE_FAILED = 1
# cmsRun of step 1 (process SIM) fails at once, so the job ends after a few seconds.
EARLY_FAILURE = {"CMSRUN_SIM_EXIT_CODE": "8001", "CMSRUN_SIM_FAULT_PROCESS": "SIM"}


@pytest.fixture(scope="module")
def sample_report(sample_workflows):
    return sample_workflows["report"]


@pytest.fixture
def own_workflow(make_workflow, sample_report, tmp_path):
    """A report-policy DAG of the sample with its own copy of the splitter output."""
    split_dir = tmp_path / "split"
    shutil.copytree(sample_report.split_dir, split_dir)
    return make_workflow("sample-own", None, "report", split_dir=split_dir)


def test_unknown_node_cannot_run(sample_report):
    arguments = node_arguments(sample_report.dag_dir, "Job99", sample_report.env)
    completed = run_tool("run_node_locally", *arguments, env=sample_report.env)
    assert completed.returncode == CANNOT_RUN


def test_unknown_node_named(sample_report):
    arguments = node_arguments(sample_report.dag_dir, "Job99", sample_report.env)
    completed = run_tool("run_node_locally", *arguments, env=sample_report.env)
    assert "node Job99 not found" in completed.stderr


def test_missing_dag_cannot_run(tmp_path, sample_report):
    completed = run_tool("run_node_locally", tmp_path, "Job1", env=sample_report.env)
    assert completed.returncode == CANNOT_RUN


def test_missing_dag_named(tmp_path, sample_report):
    completed = run_tool("run_node_locally", tmp_path, "Job1", env=sample_report.env)
    assert str(tmp_path / "stepchain.dag") in completed.stderr


def test_invalid_env_option(sample_report):
    arguments = node_arguments(sample_report.dag_dir, "Job1", sample_report.env, extra=["--env", "NOVALUE"])
    completed = run_tool("run_node_locally", *arguments, env=sample_report.env)
    assert completed.returncode == CANNOT_RUN
    assert "invalid --env 'NOVALUE'" in completed.stderr


def test_unset_pass_env(sample_report):
    env = dict(sample_report.env)
    env.pop("HTCONDOR_TEST_UNSET", None)
    extra = ["--pass-env", "HTCONDOR_TEST_UNSET"]
    arguments = node_arguments(sample_report.dag_dir, "Job1", env, extra=extra)
    completed = run_tool("run_node_locally", *arguments, env=env)
    assert completed.returncode == CANNOT_RUN
    assert "HTCONDOR_TEST_UNSET" in completed.stderr


def test_missing_job_file_cannot_run(own_workflow):
    job_file = own_workflow.split_dir / "job3.json"
    job_file.unlink()
    run = run_node(own_workflow.dag_dir, "Job3", own_workflow.env)
    assert run.returncode == CANNOT_RUN


def test_missing_job_file_named(own_workflow):
    job_file = own_workflow.split_dir / "job3.json"
    job_file.unlink()
    run = run_node(own_workflow.dag_dir, "Job3", own_workflow.env)
    assert "transfer_input_files entry %s not found" % job_file in run.stderr


def test_missing_worker_script_named(own_workflow):
    (own_workflow.dag_dir / "stage_out.py").unlink()
    run = run_node(own_workflow.dag_dir, "Job1", own_workflow.env)
    assert run.returncode == CANNOT_RUN
    assert str(own_workflow.dag_dir / "stage_out.py") in run.stderr


def test_missing_input_runs_nothing(own_workflow):
    (own_workflow.split_dir / "job3.json").unlink()
    run_node(own_workflow.dag_dir, "Job3", own_workflow.env)
    left = sorted(path.name for name in ("out", "err", "results", "post_state")
                  for path in (own_workflow.dag_dir / name).iterdir())
    assert left == []


def test_outputs_follow_remaps(sample_report):
    run = sample_report.run("Job1")
    results = sample_report.dag_dir / "results"
    cluster = run.result["cluster_id"]
    assert run.result["outputs"] == {
        "job_report.json": str(results / ("Job1.%d.job_report.json" % cluster)),
        "output.tgz": str(results / ("Job1.%d.output.tgz" % cluster)),
    }


def test_outputs_exist(sample_report):
    run = sample_report.run("Job1")
    for path in run.result["outputs"].values():
        assert (sample_report.dag_dir / path).is_file(), path


def test_report_brought_back_equals_result(sample_report):
    run = sample_report.run("Job1")
    brought_back = json.loads((sample_report.dag_dir / run.result["outputs"]["job_report.json"]).read_text())
    assert brought_back == run.report


def test_job_stdout_stderr_files(sample_report):
    run = sample_report.run("Job1")
    cluster = run.result["cluster_id"]
    names = [sample_report.dag_dir / "out" / ("Job1.%d.out" % cluster),
             sample_report.dag_dir / "err" / ("Job1.%d.err" % cluster)]
    for path in names:
        assert path.is_file(), path


@pytest.fixture(scope="module")
def early_failure_runs(make_workflow, sample_report, tmp_path_factory):
    """Two runs of Job1 that fail in step 1, with the scratch directories under a new directory."""
    workflow = make_workflow("sample-early-failure", None, "report", split_dir=sample_report.split_dir)
    scratch_parent = tmp_path_factory.mktemp("scratch")
    runs = [run_node(workflow.dag_dir, "Job1", workflow.env, fault_env=EARLY_FAILURE,
                     extra=["--scratch-parent", scratch_parent]) for _ in range(2)]
    return scratch_parent, runs


def test_cluster_id_increases(early_failure_runs):
    _, runs = early_failure_runs
    assert [run.result["cluster_id"] for run in runs] == [1, 2]


def test_failed_node_exit_status(early_failure_runs):
    _, runs = early_failure_runs
    assert [run.returncode for run in runs] == [NODE_FAILED, NODE_FAILED]


def test_scratch_removed(early_failure_runs):
    scratch_parent, _ = early_failure_runs
    assert list(scratch_parent.iterdir()) == []


def test_no_process_left(early_failure_runs):
    scratch_parent, _ = early_failure_runs
    assert processes_using(scratch_parent) == []


def test_scratch_excludes_dag_files(own_workflow, tmp_path):
    scratch_parent = tmp_path / "scratch"
    scratch_parent.mkdir()
    run_node(own_workflow.dag_dir, "Job1", own_workflow.env, fault_env=EARLY_FAILURE,
             extra=["--scratch-parent", scratch_parent, "--keep-scratch"])
    (scratch,) = scratch_parent.iterdir()
    # The job writes its own files too; the DAG directory's own files must not reach the scratch.
    assert [name for name in ("postjob.py", "stepchain.dag", "job.submit", "job2.json")
            if (scratch / name).exists()] == []


def test_scratch_holds_transfer_inputs(own_workflow, tmp_path):
    scratch_parent = tmp_path / "scratch"
    scratch_parent.mkdir()
    run_node(own_workflow.dag_dir, "Job1", own_workflow.env, fault_env=EARLY_FAILURE,
             extra=["--scratch-parent", scratch_parent, "--keep-scratch"])
    (scratch,) = scratch_parent.iterdir()
    for name in ("job1.json", "request_psets.tar.gz", "WMCore.zip", "run.sh", "x509up"):
        assert (scratch / name).is_file(), name


BACKGROUND_RUN_SH = """#!/bin/bash
# Leaves a background process behind, as a job whose helper outlives it would.
sleep 300 &
echo '{"exit_code": 0}' > job_report.json
tar -czf output.tgz job_report.json
exit 0
"""


def test_background_process_killed(tmp_path, valid_proxy, local_sitelist, sample_report):
    dag_dir = create_dag(sample_report.split_dir, tmp_path / "dag", valid_proxy, local_sitelist, "report")
    (dag_dir / "run.sh").write_text(BACKGROUND_RUN_SH)
    scratch_parent = tmp_path / "scratch"
    scratch_parent.mkdir()
    run_node(dag_dir, "Job1", sample_report.env, extra=["--scratch-parent", scratch_parent])
    left = processes_using(scratch_parent)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert left == []
