"""dag-status: node states from the POST script's records and the job reports brought back."""
import shlex
import subprocess
import sys

import pytest
from fixtures.end_to_end import run_node, run_tool

# cmsRun of step 1 (process SIM) fails at once with 8001, so each run takes a few seconds.
OTHER_CMS = 8001
EARLY_FAILURE = {"CMSRUN_SIM_EXIT_CODE": str(OTHER_CMS), "CMSRUN_SIM_FAULT_PROCESS": "SIM"}


def _fail_node(workflow, node, *extra):
    run = run_node(workflow.dag_dir, node, workflow.env, fault_env=EARLY_FAILURE, extra=extra)
    if run.result is None:
        pytest.fail("run-node-locally %s gave no result: %s" % (node, run.stderr))
    return run


@pytest.fixture(scope="module")
def report_status(make_workflow, sample_workflows):
    """dag-status --json of a report-policy sample DAG whose nodes are in different states.

    Job1 failed on its first DAGMan attempt (node retries left), Job2 failed on its last one,
    Job3 has a report but its POST record was removed, Job4 and Job5 never ran.
    """
    workflow = make_workflow("status-report", None, "report", split_dir=sample_workflows["report"].split_dir)
    _fail_node(workflow, "Job1")
    _fail_node(workflow, "Job2", "--dag-retry", "2")
    _fail_node(workflow, "Job3")
    (workflow.dag_dir / "post_state" / "Job3.json").unlink()
    return workflow, workflow.status()


@pytest.fixture(scope="module")
def delay_status(make_workflow, sample_workflows):
    """dag-status --json of a delay-policy sample DAG: Job1 deferred, Job2 done although its job failed."""
    workflow = make_workflow("status-delay", None, "delay", split_dir=sample_workflows["report"].split_dir)
    _fail_node(workflow, "Job1", "--max-post-runs", "1")
    _fail_node(workflow, "Job2")
    return workflow, workflow.status()


def _states(status):
    return {entry["node"]: entry["status"] for entry in status["node_statuses"]}


def test_report_node_states(report_status):
    _, status = report_status
    assert _states(status) == {"Job1": "retrying", "Job2": "failed", "Job3": "finished",
                               "Job4": "pending", "Job5": "pending"}


def test_report_counts(report_status):
    _, status = report_status
    assert status["counts"] == {"done": 0, "failed": 1, "retrying": 1, "deferred": 0, "finished": 1,
                                "pending": 2}


def test_failed_by_exit_code(report_status):
    _, status = report_status
    assert status["failed_by_exit_code"] == {str(OTHER_CMS): 1}


def test_failed_node_post_decision(report_status):
    _, status = report_status
    (entry,) = [entry for entry in status["node_statuses"] if entry["node"] == "Job2"]
    assert entry["post_decision"] == "retry"
    assert entry["exit_code"] == OTHER_CMS


def test_finished_node_exit_code(report_status):
    _, status = report_status
    (entry,) = [entry for entry in status["node_statuses"] if entry["node"] == "Job3"]
    assert entry["exit_code"] == OTHER_CMS
    assert entry["post_decision"] is None


def test_text_lists_failed_code(report_status):
    workflow, _ = report_status
    completed = run_tool("dag_status", workflow.dag_dir)
    assert "Job2: exit code %d" % OTHER_CMS in completed.stdout


def test_text_counts_line(report_status):
    workflow, _ = report_status
    completed = run_tool("dag_status", workflow.dag_dir)
    assert [line.split() for line in completed.stdout.splitlines() if line.split()[:1] == ["retrying"]] == [
        ["retrying", "1"]]


def test_delay_node_states(delay_status):
    _, status = delay_status
    assert [_states(status)[node] for node in ("Job1", "Job2", "Job3")] == ["deferred", "done", "pending"]


def test_delay_done_with_failed_job(delay_status):
    _, status = delay_status
    assert status["done_with_failed_job"] == ["Job2"]


def test_delay_text_names_failed_job(delay_status):
    workflow, _ = delay_status
    completed = run_tool("dag_status", workflow.dag_dir)
    assert "done by the POST policy although the job failed: 1 (Job2)" in completed.stdout


def test_missing_dag_exit_status(tmp_path):
    completed = run_tool("dag_status", tmp_path)
    assert completed.returncode == 2


def test_missing_dag_named(tmp_path):
    completed = run_tool("dag_status", tmp_path)
    assert "DAG file %s not found" % (tmp_path / "stepchain.dag") in completed.stderr


def test_unreadable_report_no_traceback(sample_workflows, make_workflow):
    workflow = make_workflow("status-broken", None, "report", split_dir=sample_workflows["report"].split_dir)
    (workflow.dag_dir / "results" / "Job1.4.job_report.json").write_text("{truncated")
    completed = run_tool("dag_status", workflow.dag_dir, "--json")
    assert completed.returncode == 0
    assert "Traceback" not in completed.stderr


def test_closed_pipe_no_traceback(report_status):
    workflow, _ = report_status
    completed = subprocess.run(
        # `true` exits at once, so dag-status writes into a pipe whose reader has already closed it.
        "%s -m micro_agent.dag_status %s --json | true" % (shlex.quote(sys.executable),
                                                          shlex.quote(str(workflow.dag_dir))),
        shell=True, executable="/bin/bash", capture_output=True, text=True, check=False)
    assert "BrokenPipeError" not in completed.stderr
