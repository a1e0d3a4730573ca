"""dag_reader: the DAG files that create-stepchain-dag writes, and statements it rejects."""
import json
import shutil

import pytest
from fixtures.end_to_end import run_tool
from micro_agent.dag_reader import DagFormatError, read_dag

POST_ARGUMENTS = ["$JOB", "$RETURN", "$RETRY", "$MAX_RETRIES", "$JOBID"]


@pytest.fixture(scope="module")
def sample_nodes(sample_workflows):
    return read_dag(sample_workflows["report"].dag_dir / "stepchain.dag")


@pytest.fixture(scope="module")
def custom_nodes(sample_workflows, valid_proxy, local_sitelist, tmp_path_factory):
    """Nodes of a sample DAG written with non-default retries and DEFER options."""
    dag = tmp_path_factory.mktemp("custom-dag") / "stepchain.dag"
    completed = run_tool("create_stepchain_dag", "--event-splitter-dir", sample_workflows["report"].split_dir,
                         "--proxy", valid_proxy, "--sitelist", local_sitelist, "--output-dag", dag,
                         "--dag-retries", "5", "--post-defer-delay", "60", "--post-defer-status", "7",
                         "--post-policy", "delay")
    if completed.returncode != 0:
        pytest.fail("create-stepchain-dag failed: %s" % completed.stderr)
    return read_dag(dag)


def test_sample_node_names(sample_nodes):
    assert list(sample_nodes) == ["Job1", "Job2", "Job3", "Job4", "Job5"]


def test_sample_submit_file(sample_nodes):
    assert {node.submit_file for node in sample_nodes.values()} == {"job.submit"}


def test_sample_vars(sample_nodes):
    assert sample_nodes["Job4"].variables == {"node_name": "Job4", "job_index": "4"}


def test_sample_retries(sample_nodes):
    assert sample_nodes["Job1"].retries == 2
    assert sample_nodes["Job1"].unless_exit == 2


def test_sample_post_script(sample_nodes):
    post = sample_nodes["Job3"].post
    assert post.executable == "postjob.py"
    assert post.arguments[:5] == POST_ARGUMENTS


def test_sample_post_policy(sample_nodes):
    assert sample_nodes["Job3"].post.arguments[5:7] == ["--policy", "report"]


def test_sample_post_defer(sample_nodes):
    post = sample_nodes["Job5"].post
    assert post.defer_status == 1
    assert post.defer_delay == 21600


def test_custom_retries(custom_nodes):
    assert custom_nodes["Job2"].retries == 5


def test_custom_post_defer(custom_nodes):
    post = custom_nodes["Job2"].post
    assert post.defer_status == 7
    assert post.defer_delay == 60


def test_custom_post_policy(custom_nodes):
    assert custom_nodes["Job2"].post.arguments[5:7] == ["--policy", "delay"]


def test_real_node_count(real_workflows):
    nodes = read_dag(real_workflows["report"].dag_dir / "stepchain.dag")
    assert len(nodes) == 18073


def test_real_last_node_vars(real_workflows):
    nodes = read_dag(real_workflows["report"].dag_dir / "stepchain.dag")
    assert nodes["Job18073"].variables == {"node_name": "Job18073", "job_index": "18073"}


def test_vars_escapes(tmp_path):
    dag = tmp_path / "escaped.dag"
    dag.write_text('JOB A a.submit\nVARS A text="say \\"hi\\" \\\\ bye" other="x"\n')
    assert read_dag(dag)["A"].variables == {"text": 'say "hi" \\ bye', "other": "x"}


def test_pre_script_ignored(tmp_path):
    dag = tmp_path / "pre.dag"
    dag.write_text("JOB A a.submit\nSCRIPT PRE A pre.sh $JOB\n")
    assert read_dag(dag)["A"].post is None


def test_comments_and_blank_lines(tmp_path):
    dag = tmp_path / "comments.dag"
    dag.write_text("# a comment\n\n   \nJOB A a.submit\n  # indented comment\n")
    assert list(read_dag(dag)) == ["A"]


# Each DAG text has its error on line 3.
REJECTED = {
    "unknown statement": "JOB A a.submit\nJOB B b.submit\nPARENT A CHILD B\n",
    "splice": "JOB A a.submit\n\nSPLICE inner inner.dag\n",
    "vars before job": "JOB A a.submit\n# B comes later\nVARS B x=\"1\"\nJOB B b.submit\n",
    "unquoted vars": "JOB A a.submit\n\nVARS A x=1\n",
    "retry without count": "JOB A a.submit\n\nRETRY A\n",
    "retry count not integer": "JOB A a.submit\n\nRETRY A two\n",
    "unless-exit not integer": "JOB A a.submit\n\nRETRY A 2 UNLESS-EXIT x\n",
    "defer status not integer": "JOB A a.submit\n\nSCRIPT DEFER x 60 POST A post.py\n",
    "defer without delay": "JOB A a.submit\n\nSCRIPT DEFER 1\n",
    "unclosed quote": "JOB A a.submit\n\nSCRIPT POST A \"post.py\n",
    "job with options": "JOB A a.submit\n\nJOB B b.submit DIR sub\n",
    "job without submit file": "JOB A a.submit\n\nJOB B\n",
}


@pytest.mark.parametrize("case", list(REJECTED))
def test_rejected_with_line_number(case, tmp_path):
    dag = tmp_path / "bad.dag"
    dag.write_text(REJECTED[case])
    with pytest.raises(DagFormatError, match="^line 3: "):
        read_dag(dag)


def _dag_dir_with_extra_line(sample_workflows, tmp_path, line):
    dag_dir = tmp_path / "dag"
    shutil.copytree(sample_workflows["report"].dag_dir, dag_dir)
    with open(dag_dir / "stepchain.dag", "a") as dag:
        dag.write(line + "\n")
    return dag_dir, len((dag_dir / "stepchain.dag").read_text().splitlines())


def test_dag_status_rejects_statement(sample_workflows, tmp_path):
    dag_dir, line_number = _dag_dir_with_extra_line(sample_workflows, tmp_path, "PARENT Job1 CHILD Job2")
    completed = run_tool("dag_status", dag_dir)
    assert completed.returncode == 2
    assert "line %d: statement PARENT" % line_number in completed.stderr


def test_dag_status_no_traceback(sample_workflows, tmp_path):
    dag_dir, _ = _dag_dir_with_extra_line(sample_workflows, tmp_path, "RETRY Job1")
    completed = run_tool("dag_status", dag_dir)
    assert completed.returncode == 2
    assert "Traceback" not in completed.stderr


def test_run_node_rejects_statement(sample_workflows, tmp_path):
    dag_dir, line_number = _dag_dir_with_extra_line(sample_workflows, tmp_path, "SPLICE inner inner.dag")
    completed = run_tool("run_node_locally", dag_dir, "Job1", env=sample_workflows["report"].env)
    assert completed.returncode == 2
    assert "line %d: statement SPLICE" % line_number in completed.stderr


def test_dag_status_json_on_valid_dag(sample_workflows):
    completed = run_tool("dag_status", sample_workflows["report"].dag_dir, "--json")
    assert json.loads(completed.stdout)["nodes"] == 5
