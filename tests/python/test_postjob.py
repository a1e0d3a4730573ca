"""postjob.py run as DAGMan runs it: a separate worker-side Python process in the DAG directory."""
import json
import os
import shutil
import subprocess
import sys

import pytest
from micro_agent import postjob

POSTJOB = postjob.__file__
# postjob.py runs on the submit host's python3 but must stay Python 3.6 compatible.
PYTHON = os.environ.get("LOCAL_SITE_PYTHON") or sys.executable


def run_post(directory, *arguments):
    return subprocess.run([PYTHON, POSTJOB, *arguments], cwd=directory, capture_output=True, text=True,
                          timeout=60)


@pytest.fixture
def dag_dir(tmp_path, repo_root):
    """A DAG directory as create-stepchain-dag leaves it, for what postjob.py reads."""
    for name in (postjob.RESULTS_DIR, postjob.STATE_DIR):
        (tmp_path / name).mkdir()
    shutil.copy(repo_root / "ep_scripts" / "exit_codes.txt", tmp_path / "exit_codes.txt")
    return tmp_path


def write_report(dag_dir, node, cluster, exit_code, exit_status=None, message=""):
    if exit_status is None:
        exit_status = 0 if exit_code == 0 else 1
    report = {"format_version": 1, "exit_code": exit_code, "exit_status": exit_status,
              "exit_message": message}
    path = dag_dir / postjob.RESULTS_DIR / postjob.REPORT_NAME.format(node=node, cluster=cluster)
    path.write_text(json.dumps(report))
    return path


def report_post(dag_dir, return_code="0", job_id="12.0", retry="0", *extra):
    return run_post(dag_dir, "Job1", return_code, retry, "2", job_id, "--policy", "report", *extra)


def state_of(dag_dir, node="Job1"):
    return json.loads((dag_dir / postjob.STATE_DIR / (node + ".json")).read_text())


def assert_internal_error(result):
    assert result.returncode == postjob.INTERNAL_ERROR
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr


def test_exit_statuses_distinct():
    statuses = [status for status, _, _ in postjob.EXIT_STATUSES]
    assert len(set(statuses)) == len(statuses)
    assert postjob.INTERNAL_ERROR not in (0, 1, postjob.DEFAULT_DEFER_STATUS, postjob.FATAL)
    assert postjob.FATAL != postjob.DEFAULT_DEFER_STATUS


def test_empty_directory(tmp_path):
    result = run_post(tmp_path, "Job1", "0", "0", "2", "12.0")
    assert_internal_error(result)
    assert "results/ not found" in result.stderr


def test_no_arguments(dag_dir):
    assert_internal_error(run_post(dag_dir))


def test_help_exits_zero(dag_dir):
    assert run_post(dag_dir, "--help").returncode == 0


@pytest.mark.parametrize("arguments", [
    ("Job1", "zero", "0", "2", "12.0"),
    ("Job1", "0", "-1", "2", "12.0"),
    ("Job1", "0", "0", "2", "12"),
    ("Job1", "0", "0", "2", "12.0", "--policy", "other"),
    ("Job1", "0", "0", "2", "12.0", "--defer-status", "2"),
    ("Job1", "0", "0", "2", "12.0", "--defer-status", "0"),
    ("Job1", "0", "0", "2", "12.0", "--unknown"),
])
def test_bad_arguments(dag_dir, arguments):
    assert_internal_error(run_post(dag_dir, *arguments))


@pytest.mark.parametrize("node", ["../Job1", "Job.1", "Job+1", "$(JOB)", "/tmp/x", ""])
def test_node_name_escape(dag_dir, node):
    result = run_post(dag_dir, node, "0", "0", "2", "12.0")
    assert_internal_error(result)
    assert os.listdir(dag_dir / postjob.STATE_DIR) == []


def test_delay_defers_then_succeeds(dag_dir):
    first = run_post(dag_dir, "Job1", "0", "0", "2", "12.0")
    second = run_post(dag_dir, "Job1", "0", "0", "2", "12.0")
    assert first.returncode == postjob.DEFAULT_DEFER_STATUS
    assert second.returncode == postjob.SUCCESS


def test_delay_ignores_job_failure(dag_dir):
    run_post(dag_dir, "Job1", "85", "0", "2", "12.0")
    assert run_post(dag_dir, "Job1", "85", "0", "2", "12.0").returncode == postjob.SUCCESS


def test_delay_custom_defer_status(dag_dir):
    result = run_post(dag_dir, "Job1", "0", "0", "2", "12.0", "--defer-status", "5")
    assert result.returncode == 5


def test_delay_state_per_node(dag_dir):
    run_post(dag_dir, "Job1", "0", "0", "2", "12.0")
    assert run_post(dag_dir, "Job2", "0", "0", "2", "13.0").returncode == postjob.DEFAULT_DEFER_STATUS


def test_delay_state_recorded(dag_dir):
    run_post(dag_dir, "Job1", "0", "0", "2", "12.0")
    state = state_of(dag_dir)
    assert state["deferrals"] == {"0": 1}
    assert [entry["decision"] for entry in state["history"]] == ["defer"]


def test_state_corrupt(dag_dir):
    (dag_dir / postjob.STATE_DIR / "Job1.json").write_text("{")
    result = run_post(dag_dir, "Job1", "0", "0", "2", "12.0")
    assert_internal_error(result)
    assert "remove it to reset" in result.stderr


def test_crash_internal_error(dag_dir):
    (dag_dir / postjob.STATE_DIR / "Job1.lock").mkdir()
    result = run_post(dag_dir, "Job1", "0", "0", "2", "12.0")
    assert_internal_error(result)
    assert "IsADirectoryError" in result.stderr


def test_concurrent_runs_one_node(dag_dir):
    runs = 8
    processes = [
        subprocess.Popen([PYTHON, POSTJOB, "Job1", "0", "0", "2", "12.0"], cwd=dag_dir,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(runs)
    ]
    statuses = sorted(process.wait(timeout=60) for process in processes)
    assert statuses == [postjob.SUCCESS] * (runs - 1) + [postjob.DEFAULT_DEFER_STATUS]
    state = state_of(dag_dir)
    assert len(state["history"]) == runs
    assert state["deferrals"] == {"0": 1}
    assert [name for name in os.listdir(dag_dir / postjob.STATE_DIR) if name.startswith(".")] == []


def test_report_success(dag_dir):
    write_report(dag_dir, "Job1", 12, 0)
    assert report_post(dag_dir).returncode == postjob.SUCCESS


def test_report_missing(dag_dir):
    assert report_post(dag_dir, "85").returncode == postjob.RETRY


def test_report_stale_cluster_ignored(dag_dir):
    write_report(dag_dir, "Job1", 11, 0)
    assert report_post(dag_dir, "0", "12.0").returncode == postjob.RETRY


def test_report_invalid_json(dag_dir):
    path = write_report(dag_dir, "Job1", 12, 0)
    path.write_text('{"exit_code": ')
    result = report_post(dag_dir)
    assert_internal_error(result)
    assert "not valid JSON" in result.stderr


def test_report_unreadable(dag_dir):
    path = dag_dir / postjob.RESULTS_DIR / postjob.REPORT_NAME.format(node="Job1", cluster=12)
    path.mkdir()
    assert_internal_error(report_post(dag_dir))


def test_report_without_exit_code(dag_dir):
    path = write_report(dag_dir, "Job1", 12, 0)
    path.write_text('{"exit_status": 0}')
    assert_internal_error(report_post(dag_dir))


def test_report_success_job_failed(dag_dir):
    write_report(dag_dir, "Job1", 12, 0)
    assert report_post(dag_dir, "85").returncode == postjob.RETRY


def test_report_fatal_status(dag_dir):
    write_report(dag_dir, "Job1", 12, 50113, exit_status=193)
    assert report_post(dag_dir, "193").returncode == postjob.FATAL


def test_report_fatal_class(dag_dir):
    write_report(dag_dir, "Job1", 12, 50110, exit_status=1)
    assert report_post(dag_dir, "1").returncode == postjob.FATAL


def test_report_fatal_table(dag_dir):
    write_report(dag_dir, "Job1", 12, 7002, exit_status=90)
    assert report_post(dag_dir, "90").returncode == postjob.FATAL


def test_report_cmssw_code_retried(dag_dir):
    write_report(dag_dir, "Job1", 12, 8021, exit_status=85)
    assert report_post(dag_dir, "85").returncode == postjob.RETRY


def test_report_unknown_code_retried(dag_dir):
    write_report(dag_dir, "Job1", 12, 12345, exit_status=57)
    assert report_post(dag_dir, "57").returncode == postjob.RETRY


def test_report_negative_return(dag_dir):
    assert report_post(dag_dir, "-1001").returncode == postjob.RETRY


def test_report_deferrals_capped(dag_dir):
    write_report(dag_dir, "Job1", 12, 60307, exit_status=155)
    statuses = [report_post(dag_dir, "155", "12.0", "0", "--max-deferrals", "2").returncode for _ in range(4)]
    defer = postjob.DEFAULT_DEFER_STATUS
    assert statuses == [defer, defer, postjob.RETRY, postjob.RETRY]


def test_report_deferrals_per_attempt(dag_dir):
    write_report(dag_dir, "Job1", 12, 60307, exit_status=155)
    write_report(dag_dir, "Job1", 20, 60307, exit_status=155)
    report_post(dag_dir, "155", "12.0", "0", "--max-deferrals", "1")
    next_attempt = report_post(dag_dir, "155", "20.0", "1", "--max-deferrals", "1")
    assert next_attempt.returncode == postjob.DEFAULT_DEFER_STATUS


def test_report_no_defer_without_cap(dag_dir):
    write_report(dag_dir, "Job1", 12, 60307, exit_status=155)
    assert report_post(dag_dir, "155", "12.0", "0", "--max-deferrals", "0").returncode == postjob.RETRY


def test_report_without_exit_code_table(dag_dir):
    (dag_dir / "exit_codes.txt").unlink()
    write_report(dag_dir, "Job1", 12, 50110, exit_status=1)
    assert report_post(dag_dir, "1").returncode == postjob.RETRY


def test_generated_dag_script_line(tmp_path, dag_arguments):
    from micro_agent import create_stepchain_dag

    assert create_stepchain_dag.main(dag_arguments) == 0
    dag_dir = tmp_path / "dag"
    script = [line for line in (dag_dir / "stepchain.dag").read_text().splitlines()
              if line.startswith("SCRIPT ")][0].split()
    command = script[6:]
    macros = {"$JOB": "Job1", "$RETURN": "0", "$RETRY": "0", "$MAX_RETRIES": "2", "$JOBID": "12.0"}
    arguments = [macros.get(word, word) for word in command[1:]]
    first = subprocess.run([PYTHON, str(dag_dir / command[0]), *arguments], cwd=dag_dir, capture_output=True)
    second = subprocess.run([PYTHON, str(dag_dir / command[0]), *arguments], cwd=dag_dir, capture_output=True)
    assert first.returncode == int(script[2])
    assert second.returncode == postjob.SUCCESS
