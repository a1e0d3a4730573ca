"""Submit-side tools given broken, hostile or unusual inputs: one error line, no traceback."""
import io
import json
import os
import random
import signal
import subprocess
import sys
import tarfile

import pytest
from fixtures.dag import write_splitter_output
from micro_agent import create_stepchain_dag, dag_status, postjob, run_node_locally


def assert_nothing_written(tmp_path):
    dag_dir = tmp_path / "dag"
    assert not dag_dir.exists() or list(dag_dir.iterdir()) == []


def with_splitter_dir(dag_arguments, splitter):
    arguments = dag_arguments[:]
    arguments[arguments.index("--event-splitter-dir") + 1] = str(splitter)
    return arguments


def write_truncated_tarball(splitter, request):
    """Replace the tarball by request.json plus a PSet, cut in the PSet as an interrupted copy would."""
    members = [("request.json", json.dumps(request).encode()),
               ("PSets/PSet_cmsRun1_Step1.py", random.Random(1).randbytes(200000))]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members:
            member = tarfile.TarInfo(name)
            member.size = len(data)
            archive.addfile(member, io.BytesIO(data))
    data = buffer.getvalue()
    (splitter / "request_psets.tar.gz").write_bytes(data[: len(data) // 2])


def test_truncated_tarball_rejected(tmp_path, dag_arguments, real_request, caplog):
    splitter = write_splitter_output(tmp_path / "split", real_request, 2)
    write_truncated_tarball(splitter, real_request)
    assert create_stepchain_dag.main(with_splitter_dir(dag_arguments, splitter)) == 1
    assert "cannot read %s" % (splitter / "request_psets.tar.gz") in caplog.text
    assert_nothing_written(tmp_path)


def test_truncated_tarball_with_request(tmp_path, dag_arguments, real_request, caplog):
    splitter = write_splitter_output(tmp_path / "split", real_request, 2)
    write_truncated_tarball(splitter, real_request)
    request = tmp_path / "request.json"
    request.write_text(json.dumps(real_request))
    arguments = with_splitter_dir(dag_arguments, splitter) + ["--request", str(request)]
    assert create_stepchain_dag.main(arguments) == 1
    assert "cannot read %s" % (splitter / "request_psets.tar.gz") in caplog.text
    assert_nothing_written(tmp_path)


@pytest.fixture
def dag_dir(tmp_path, dag_arguments):
    """A 3-node DAG directory written by create-stepchain-dag."""
    assert create_stepchain_dag.main(dag_arguments) == 0
    return tmp_path / "dag"


def write_post_decision(dag_dir, node, decision, retry=0):
    state = {"node": node, "deferrals": {}, "history": [{"decision": decision, "retry": retry}]}
    (dag_dir / "post_state" / ("%s.json" % node)).write_text(json.dumps(state))


def dag_status_json(dag_dir, capsys):
    assert dag_status.main([str(dag_dir), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def states_of(summary):
    return {entry["node"]: entry["status"] for entry in summary["node_statuses"]}


def test_status_report_not_object(dag_dir, capsys, caplog):
    (dag_dir / "results" / "Job1.7.job_report.json").write_text("[1, 2]\n")
    write_post_decision(dag_dir, "Job1", "fatal")
    summary = dag_status_json(dag_dir, capsys)
    assert states_of(summary)["Job1"] == "failed"
    assert summary["failed_by_exit_code"] == {"None": 1}
    assert "Job1.7.job_report.json is not a JSON object" in caplog.text


def test_status_exit_code_not_integer(dag_dir, capsys, caplog):
    (dag_dir / "results" / "Job1.7.job_report.json").write_text('{"exit_code": "8001"}\n')
    (dag_dir / "results" / "Job2.7.job_report.json").write_text('{"exit_code": 8001}\n')
    write_post_decision(dag_dir, "Job1", "fatal")
    write_post_decision(dag_dir, "Job2", "fatal")
    summary = dag_status_json(dag_dir, capsys)
    assert summary["failed_by_exit_code"] == {"8001": 1, "None": 1}
    assert "invalid exit_code '8001'" in caplog.text


def test_status_state_not_object(dag_dir, capsys, caplog):
    (dag_dir / "post_state" / "Job1.json").write_text("[]\n")
    summary = dag_status_json(dag_dir, capsys)
    assert states_of(summary)["Job1"] == "pending"
    assert "Job1.json is not a JSON object" in caplog.text


def test_status_history_entry_invalid(dag_dir, capsys, caplog):
    (dag_dir / "post_state" / "Job1.json").write_text('{"history": ["success"]}\n')
    summary = dag_status_json(dag_dir, capsys)
    assert states_of(summary)["Job1"] == "pending"
    assert "Job1.json has an invalid history" in caplog.text


def test_status_retry_not_integer(dag_dir, capsys, caplog):
    write_post_decision(dag_dir, "Job1", "retry", retry="x")
    summary = dag_status_json(dag_dir, capsys)
    assert states_of(summary)["Job1"] == "failed"
    assert "invalid retry number 'x'" in caplog.text


FAKE_WORKER = """#!/bin/bash
printf '%s\\n' "$REPORT" > job_report.json
echo output > output.tgz
"""


@pytest.fixture
def fake_worker_dag(tmp_path, dag_arguments, ep_scripts_dir):
    """A report-policy DAG whose run.sh writes the job report given in $REPORT."""
    (ep_scripts_dir / "run.sh").write_text(FAKE_WORKER)
    assert create_stepchain_dag.main(dag_arguments + ["--post-policy", "report"]) == 0
    return tmp_path / "dag"


def run_fake_node(dag_dir, report_text, *extra):
    arguments = [str(dag_dir), "Job1", "--env", "REPORT=%s" % report_text, *extra]
    return run_node_locally.main(arguments)


def test_run_node_report_not_object(fake_worker_dag, capsys, caplog):
    assert run_fake_node(fake_worker_dag, "[1, 2]") == 1
    assert "brought back but unreadable" in capsys.readouterr().out
    assert "is not a JSON object" in caplog.text


def test_run_node_steps_malformed(fake_worker_dag, capsys):
    report = {"exit_code": 0, "steps": [1, {"step": 1, "name": "GEN", "output_files": "none"}]}
    assert run_fake_node(fake_worker_dag, json.dumps(report)) == 0
    assert "step 1 GEN" in capsys.readouterr().out


def test_run_node_post_not_executable(fake_worker_dag, caplog):
    (fake_worker_dag / "postjob.py").chmod(0o644)
    assert run_fake_node(fake_worker_dag, '{"exit_code": 0}') == run_node_locally.CANNOT_RUN
    assert "postjob.py cannot be run (Permission denied)" in caplog.text


def test_run_node_scratch_parent_missing(fake_worker_dag, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        run_fake_node(fake_worker_dag, "{}", "--scratch-parent", str(tmp_path / "missing"))
    assert exit_info.value.code == run_node_locally.CANNOT_RUN


@pytest.mark.parametrize("option", [["--cluster-id", "-5"], ["--dag-retry", "-1"]])
def test_run_node_negative_ids(fake_worker_dag, option):
    with pytest.raises(SystemExit) as exit_info:
        run_fake_node(fake_worker_dag, "{}", *option)
    assert exit_info.value.code == run_node_locally.CANNOT_RUN


@pytest.mark.parametrize("option, value, message", [
    ("--max-retries", "abc", "'abc' is not a whole number"),
    ("--max-retries", "99999999999999999999",
     "'99999999999999999999' is out of range; expected 0 to 2147483647"),
    ("--dag-retries", "2147483648", "'2147483648' is out of range; expected 0 to 2147483647"),
    ("--post-defer-delay", "1e3", "'1e3' is not a whole number"),
    ("--events-per-job", "0", "'0' is out of range; expected 1 to 2147483647"),
    ("--wall-time-margin", "x", "'x' is not a number"),
])
def test_option_value_rejected(tmp_path, dag_arguments, capsys, option, value, message):
    with pytest.raises(SystemExit) as exit_info:
        create_stepchain_dag.main(dag_arguments + [option, value])
    assert exit_info.value.code == 2
    assert "argument %s: %s" % (option, message) in capsys.readouterr().err
    assert_nothing_written(tmp_path)


# Runs create-stepchain-dag in a child process that sends itself SIGTERM while the DAG file is
# written, which is after the staging directory contains WMCore.zip and the scripts.
TERMINATE_WHILE_WRITING = """
import os, signal, sys
from micro_agent import create_stepchain_dag, dag_file

def write_and_terminate(path, settings):
    os.kill(os.getpid(), signal.SIGTERM)

dag_file.write_dag = write_and_terminate
sys.exit(create_stepchain_dag.main(sys.argv[1:]))
"""


def test_sigterm_removes_staging(tmp_path, dag_arguments):
    completed = subprocess.run([sys.executable, "-c", TERMINATE_WHILE_WRITING, *dag_arguments],
                               capture_output=True, text=True, timeout=120)
    assert completed.returncode == 128 + signal.SIGTERM
    assert "interrupted by signal %d" % signal.SIGTERM in completed.stderr
    assert "Traceback" not in completed.stderr
    assert_nothing_written(tmp_path)


@pytest.mark.parametrize("arguments, message", [
    (["Job1", "0", "-1", "2", "5.0"], "argument retry: '-1' is negative; expected 0 or more"),
    (["Job1", "0", "0", "x", "5.0"], "argument max_retries: 'x' is not a whole number"),
    (["Job1", "0", "0", "2", "5.0", "--max-deferrals", "-1"],
     "argument --max-deferrals: '-1' is negative; expected 0 or more"),
])
def test_postjob_argument_named(tmp_path, monkeypatch, caplog, arguments, message):
    monkeypatch.chdir(tmp_path)
    assert postjob.main(arguments) == postjob.INTERNAL_ERROR
    assert message in caplog.text


@pytest.mark.parametrize("option, value", [("--output-submit", "run.sh"), ("--output-dag", "run.sh")])
def test_chosen_name_is_worker_script(tmp_path, dag_arguments, caplog, option, value):
    arguments = dag_arguments[:]
    if option == "--output-dag":
        arguments[arguments.index(option) + 1] = str(tmp_path / "dag" / value)
    else:
        arguments += [option, value]
    assert create_stepchain_dag.main(arguments) == 1
    assert "%s %s is also the name of a worker script" % (option, value) in caplog.text
    assert_nothing_written(tmp_path)


@pytest.mark.parametrize("name", ["job_report.json", "output.tgz", "job7.json", "request_psets.tar.gz"])
def test_worker_script_scratch_name(tmp_path, dag_arguments, ep_scripts_dir, caplog, name):
    (ep_scripts_dir / name).write_text('{"exit_code": 0}\n')
    assert create_stepchain_dag.main(dag_arguments) == 1
    assert "contains %s, which each job writes or receives itself" % name in caplog.text
    assert_nothing_written(tmp_path)


def test_status_lists_results_once(dag_dir, capsys, monkeypatch):
    for node in ("Job1", "Job2", "Job3"):
        (dag_dir / "results" / ("%s.7.job_report.json" % node)).write_text('{"exit_code": 0}\n')
    results_scans = []
    real_scandir = os.scandir

    def counting_scandir(path="."):
        if os.path.basename(os.fspath(path)) == "results":
            results_scans.append(path)
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", counting_scandir)
    summary = dag_status_json(dag_dir, capsys)
    assert summary["counts"]["finished"] == 3
    assert len(results_scans) == 1


def test_status_newest_cluster_numeric(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    for name in ("Job1.9.job_report.json", "Job1.10.job_report.json", "Job10.99.job_report.json",
                 "Job1.x.job_report.json", "Job1.11.output.tgz"):
        (results / name).write_text("{}\n")
    newest = dag_status.newest_reports(results)
    assert newest["Job1"] == (10, results / "Job1.10.job_report.json")
    assert newest["Job10"][0] == 99
