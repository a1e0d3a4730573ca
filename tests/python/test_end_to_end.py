"""The whole chain on the real request and the bundled sample: split, DAG, local node runs, POST.

Each node runs through every step on the local site and stages out to a real XRootD server. The
tests read the staged files back from the server with xrdfs. Job1 and the last job run under both POST
policies: report (the job report decides) and delay (defer once, then succeed).
"""
import io
import shutil
import tarfile

import pytest
from fixtures.end_to_end import run_node

BAD_ARGUMENTS = 50113
FATAL_EXIT_STATUS = 193
STEP_SKIPPED = 99108
FILE_READ_ERROR = 8021
POST_SUCCESS, POST_DEFER, POST_FATAL, POST_RETRY = 0, 1, 2, 3
EXPECTED_POST_STATUSES = {"report": [POST_SUCCESS], "delay": [POST_DEFER, POST_SUCCESS]}

# request -> (jobs, steps, steps with KeepOutput, {node: events per step})
REQUESTS = {
    # The real request's last job contains the 240 events left from event 14,999,761.
    "real": (18073, 6, [4, 5, 6], {"Job1": 830, "Job18073": 240}),
    "sample": (5, 5, [3, 4, 5], {"Job1": 200, "Job5": 200}),
}
NODE_CASES = [
    (request, policy, node)
    for request, (_, _, _, events) in REQUESTS.items()
    for policy in ("report", "delay")
    for node in events
]
WORKFLOW_CASES = [(request, policy) for request in REQUESTS for policy in ("report", "delay")]


def _case_id(case):
    return "-".join(case)


@pytest.fixture
def workflows(request):
    """Return a function that gives the session's workflows of "real" or "sample" by policy."""

    def get(name):
        return request.getfixturevalue("%s_workflows" % name)

    return get


@pytest.fixture(params=NODE_CASES, ids=_case_id)
def node_case(request, workflows):
    """(request name, policy, node, NodeRun) of one node run, shared by the tests of that node."""
    name, policy, node = request.param
    return name, policy, node, workflows(name)[policy].run(node)


def test_node_exit_status(node_case):
    _, _, node, run = node_case
    assert run.returncode == 0, run.stderr
    assert run.result["exit_status"] == 0
    assert run.report["exit_code"] == 0


def test_node_events_per_step(node_case):
    name, _, node, run = node_case
    _, step_count, _, events = REQUESTS[name]
    assert [step["events"] for step in run.report["steps"]] == [events[node]] * step_count


def test_node_step_exit_codes(node_case):
    name, _, _, run = node_case
    assert [step["exit_code"] for step in run.report["steps"]] == [0] * REQUESTS[name][1]


def test_node_stages_kept_steps(node_case):
    name, _, _, run = node_case
    kept_steps = REQUESTS[name][2]
    staged_steps = [step["step"] for step in run.report["steps"] for output in step["output_files"]
                    if output["lfn"]]
    assert staged_steps == kept_steps


def test_node_unkept_steps_not_staged(node_case):
    name, _, _, run = node_case
    kept_steps = REQUESTS[name][2]
    unkept_lfns = [output["lfn"] for step in run.report["steps"] if step["step"] not in kept_steps
                   for output in step["output_files"]]
    assert unkept_lfns == [None] * len(unkept_lfns)


def test_staged_file_size_at_se(node_case, xrootd_server):
    _, _, _, run = node_case
    for output in run.staged_files():
        assert xrootd_server.remote_file(output["pfn"]).size == output["size"], output["lfn"]


def test_staged_file_adler32_at_se(node_case, xrootd_server):
    _, _, _, run = node_case
    for output in run.staged_files():
        assert xrootd_server.remote_file(output["pfn"]).adler32 == output["adler32"], output["lfn"]


def test_staged_pfn_matches_lfn(node_case, xrootd_server):
    _, _, _, run = node_case
    for output in run.staged_files():
        assert xrootd_server.remote_path(output["pfn"]) == output["lfn"]


def test_node_post_statuses(node_case):
    _, policy, _, run = node_case
    assert run.result["post_statuses"] == EXPECTED_POST_STATUSES[policy]


def test_node_not_retried_by_htcondor(node_case):
    _, _, _, run = node_case
    assert run.result["htcondor_retry"] is False


@pytest.mark.parametrize("name", list(REQUESTS))
def test_lfns_distinct_across_nodes(name, workflows):
    lfns = []
    for workflow in workflows(name).values():
        for node in REQUESTS[name][3]:
            lfns += [output["lfn"] for output in workflow.run(node).staged_files()]
    assert len(lfns) == len(set(lfns))


@pytest.mark.parametrize("case", WORKFLOW_CASES, ids=_case_id)
def test_dag_status_counts(case, workflows):
    name, policy = case
    jobs, _, _, events = REQUESTS[name]
    workflow = workflows(name)[policy]
    for node in events:
        workflow.run(node)
    counts = workflow.status()["counts"]
    assert counts == {"done": 2, "failed": 0, "retrying": 0, "deferred": 0, "finished": 0,
                      "pending": jobs - 2}


# A cmsRun failure in step 3 (RECO, the first step with KeepOutput) and in the last step (NANO,
# after two steps whose outputs are kept) must leave nothing at the storage element.
@pytest.fixture(scope="module", params=[("RECO", 3), ("NANO", 5)], ids=lambda param: param[0])
def failed_cmsrun(request, make_workflow, sample_workflows, xrootd_server):
    """(failed step, NodeRun, SE files before, SE files after) of Job2 with cmsRun failing with 8021."""
    process, step = request.param
    workflow = make_workflow("sample-fault-%s" % process, None, "report",
                             split_dir=sample_workflows["report"].split_dir)
    before = _files_at_se(xrootd_server)
    fault = {"CMSRUN_SIM_EXIT_CODE": str(FILE_READ_ERROR), "CMSRUN_SIM_FAULT_PROCESS": process}
    run = run_node(workflow.dag_dir, "Job2", workflow.env, fault_env=fault)
    return step, run, before, _files_at_se(xrootd_server)


def _files_at_se(server):
    return sorted(str(path) for path in server.export_root.rglob("*") if path.is_file())


def test_failed_cmsrun_node_fails(failed_cmsrun):
    _, run, _, _ = failed_cmsrun
    assert run.returncode == 1, run.stderr


def test_failed_cmsrun_report_code(failed_cmsrun):
    _, run, _, _ = failed_cmsrun
    assert run.report["exit_code"] == FILE_READ_ERROR


def test_failed_cmsrun_exit_status(failed_cmsrun):
    _, run, _, _ = failed_cmsrun
    assert run.result["exit_status"] == FILE_READ_ERROR % 256


def test_failed_cmsrun_step_codes(failed_cmsrun):
    step, run, _, _ = failed_cmsrun
    expected = [0] * (step - 1) + [FILE_READ_ERROR] + [STEP_SKIPPED] * (5 - step)
    assert [entry["exit_code"] for entry in run.report["steps"]] == expected


def test_failed_cmsrun_post_retry(failed_cmsrun):
    _, run, _, _ = failed_cmsrun
    assert run.result["post_statuses"] == [POST_RETRY]


def test_failed_cmsrun_htcondor_retry(failed_cmsrun):
    _, run, _, _ = failed_cmsrun
    assert run.result["htcondor_retry"] is True


def test_failed_cmsrun_no_lfn_in_report(failed_cmsrun):
    _, run, _, _ = failed_cmsrun
    assert run.staged_files() == []


def test_failed_cmsrun_nothing_at_se(failed_cmsrun):
    _, _, before, after = failed_cmsrun
    assert after == before


def _remove_from_tarball(path, member_name):
    """Rewrite the tarball at path without the member member_name, keeping every other member."""
    with tarfile.open(str(path), "r:gz") as archive:
        members = [(member, archive.extractfile(member).read() if member.isfile() else None)
                   for member in archive.getmembers() if member.name != member_name]
    with tarfile.open(str(path), "w:gz") as archive:
        for member, data in members:
            archive.addfile(member, io.BytesIO(data) if data is not None else None)


@pytest.fixture(scope="module")
def tarball_without_request(make_workflow, sample_workflows, tmp_path_factory):
    """NodeRun of Job1 under the report policy with request.json removed from the request tarball."""
    split_dir = tmp_path_factory.mktemp("no-request") / "split"
    shutil.copytree(sample_workflows["report"].split_dir, split_dir)
    workflow = make_workflow("sample-no-request", None, "report", split_dir=split_dir)
    # create-stepchain-dag checks the tarball, so it is broken after the DAG is written.
    _remove_from_tarball(split_dir / "request_psets.tar.gz", "request.json")
    return workflow.run("Job1")


def test_no_request_exit_status(tarball_without_request):
    assert tarball_without_request.result["exit_status"] == FATAL_EXIT_STATUS


def test_no_request_report_code(tarball_without_request):
    assert tarball_without_request.report["exit_code"] == BAD_ARGUMENTS


def test_no_request_post_fatal(tarball_without_request):
    assert tarball_without_request.result["post_statuses"] == [POST_FATAL]


def test_no_request_no_htcondor_retry(tarball_without_request):
    assert tarball_without_request.result["htcondor_retry"] is False


def test_no_request_node_fails(tarball_without_request):
    assert tarball_without_request.returncode == 1
