"""create-stepchain-dag: the DAG file, the DAG directory and the pre-flight checks."""
import json
import re
import zipfile

import pytest
from fixtures.dag import write_splitter_output
from micro_agent import create_stepchain_dag, postjob, submit_file
from micro_agent.preflight import InputError

NODE = r"[A-Za-z][A-Za-z0-9_-]*"
DAG_LINE_GRAMMAR = {
    "JOB": re.compile(r"^JOB (%s) ([A-Za-z0-9_.-]+)$" % NODE),
    "VARS": re.compile(r'^VARS (%s)( [A-Za-z_][A-Za-z0-9_]*="(?:[^"\\]|\\.)*")+$' % NODE),
    "RETRY": re.compile(r"^RETRY (%s) ([0-9]+) UNLESS-EXIT (-?[0-9]+)$" % NODE),
    "SCRIPT": re.compile(r"^SCRIPT DEFER ([0-9]+) ([0-9]+) POST (%s) (\S+)( \S+)*$" % NODE),
    "CATEGORY": re.compile(r"^CATEGORY (%s) ([A-Za-z0-9_]+)$" % NODE),
    "MAXJOBS": re.compile(r"^MAXJOBS ([A-Za-z0-9_]+) ([0-9]+)$"),
}


def run_main(arguments):
    return create_stepchain_dag.main(arguments)


def dag_lines(dag_path):
    return [line for line in dag_path.read_text().splitlines() if line and not line.startswith("#")]


def nodes_of(lines):
    return [line.split()[1] for line in lines if line.startswith("JOB ")]


@pytest.fixture
def dag_path(tmp_path, dag_arguments):
    assert run_main(dag_arguments) == 0
    return tmp_path / "dag" / "stepchain.dag"


def test_dag_lines_grammar(dag_path):
    for line in dag_lines(dag_path):
        keyword = line.split()[0]
        assert keyword in DAG_LINE_GRAMMAR, line
        assert DAG_LINE_GRAMMAR[keyword].match(line), line


def test_dag_statements_name_nodes(dag_path):
    lines = dag_lines(dag_path)
    nodes = set(nodes_of(lines))
    for line in lines:
        keyword = line.split()[0]
        if keyword in ("VARS", "RETRY", "CATEGORY"):
            assert line.split()[1] in nodes, line
        if keyword == "SCRIPT":
            assert line.split()[5] in nodes, line


def test_dag_one_node_per_job(dag_path):
    assert nodes_of(dag_lines(dag_path)) == ["Job1", "Job2", "Job3"]


def test_dag_node_names_valid(dag_path):
    for name in nodes_of(dag_lines(dag_path)):
        assert not re.search(r"[.+]|\$\(", name), name


def test_dag_vars_job_index(dag_path):
    vars_lines = [line for line in dag_lines(dag_path) if line.startswith("VARS ")]
    assert vars_lines[2] == 'VARS Job3 node_name="Job3" job_index="3"'


def test_dag_defer_differs_from_unless_exit(dag_path):
    lines = dag_lines(dag_path)
    retry_lines = [DAG_LINE_GRAMMAR["RETRY"].match(line) for line in lines if line.startswith("RETRY")]
    script_lines = [DAG_LINE_GRAMMAR["SCRIPT"].match(line) for line in lines if line.startswith("SCRIPT")]
    unless_exit = {int(match.group(3)) for match in retry_lines}
    defer = {int(match.group(1)) for match in script_lines}
    assert unless_exit == {postjob.FATAL}
    assert defer == {postjob.DEFAULT_DEFER_STATUS}


def test_dag_script_line(dag_path):
    script = [line for line in dag_lines(dag_path) if line.startswith("SCRIPT")][0]
    assert script == ("SCRIPT DEFER 1 21600 POST Job1 postjob.py $JOB $RETURN $RETRY $MAX_RETRIES $JOBID "
                      "--policy delay --defer-status 1")


def test_dag_retry_line(dag_path):
    assert "RETRY Job1 2 UNLESS-EXIT 2" in dag_lines(dag_path)


def test_dag_throttle(dag_path):
    lines = dag_lines(dag_path)
    assert "MAXJOBS stepchain 2000" in lines
    assert sum(line.startswith("CATEGORY ") for line in lines) == 3


def test_dag_no_throttle(tmp_path, dag_arguments):
    assert run_main(dag_arguments + ["--max-jobs", "0"]) == 0
    lines = dag_lines(tmp_path / "dag" / "stepchain.dag")
    assert not [line for line in lines if line.startswith(("MAXJOBS", "CATEGORY"))]


def test_dag_report_policy_options(tmp_path, dag_arguments):
    options = ["--post-policy", "report", "--max-deferrals", "5", "--post-defer-status", "7",
               "--post-defer-delay", "600", "--dag-retries", "4"]
    assert run_main(dag_arguments + options) == 0
    lines = dag_lines(tmp_path / "dag" / "stepchain.dag")
    assert ("SCRIPT DEFER 7 600 POST Job1 postjob.py $JOB $RETURN $RETRY $MAX_RETRIES $JOBID "
            "--policy report --defer-status 7 --max-deferrals 5") in lines
    assert "RETRY Job1 4 UNLESS-EXIT 2" in lines


def test_directory_layout(dag_path, ep_scripts_dir):
    directory = dag_path.parent
    expected = {"stepchain.dag", "job.submit", "postjob.py", "WMCore.zip", "log", "out", "err", "results",
                "post_state"} | {p.name for p in ep_scripts_dir.iterdir()}
    assert {p.name for p in directory.iterdir()} == expected


def test_directory_subdirectories_empty(dag_path):
    for name in create_stepchain_dag.DAG_SUBDIRECTORIES:
        assert list((dag_path.parent / name).iterdir()) == [], name


def test_directory_scripts_executable(dag_path):
    assert (dag_path.parent / "postjob.py").stat().st_mode & 0o111
    assert (dag_path.parent / "run.sh").stat().st_mode & 0o111


def test_directory_wmcore_zip(dag_path):
    with zipfile.ZipFile(dag_path.parent / "WMCore.zip") as bundle:
        names = set(bundle.namelist())
    assert "WMCore/Storage/StageOutMgr.py" in names


def test_directory_new_helper_picked_up(tmp_path, dag_arguments, ep_scripts_dir):
    (ep_scripts_dir / "helper.py").write_text("")
    assert run_main(dag_arguments) == 0
    assert (tmp_path / "dag" / "helper.py").is_file()


def assert_nothing_written(tmp_path):
    dag_dir = tmp_path / "dag"
    assert not (dag_dir / "stepchain.dag").exists()
    assert not dag_dir.exists() or list(dag_dir.iterdir()) == []


def test_proxy_missing(tmp_path, dag_arguments, caplog):
    arguments = dag_arguments[:]
    arguments[arguments.index("--proxy") + 1] = "/nonexistent"
    assert run_main(arguments) == 1
    assert "proxy /nonexistent not found" in caplog.text
    assert_nothing_written(tmp_path)


def test_proxy_expired(tmp_path, dag_arguments, expired_proxy, caplog):
    arguments = dag_arguments[:]
    arguments[arguments.index("--proxy") + 1] = str(expired_proxy)
    assert run_main(arguments) == 1
    assert "expired" in caplog.text
    assert_nothing_written(tmp_path)


def test_proxy_not_pem(tmp_path, dag_arguments, caplog):
    proxy = tmp_path / "garbage"
    proxy.write_text("not a certificate\n")
    arguments = dag_arguments[:]
    arguments[arguments.index("--proxy") + 1] = str(proxy)
    assert run_main(arguments) == 1
    assert "not a PEM certificate" in caplog.text
    assert_nothing_written(tmp_path)


def test_proxy_directory(tmp_path, dag_arguments, caplog):
    arguments = dag_arguments[:]
    arguments[arguments.index("--proxy") + 1] = str(tmp_path)
    assert run_main(arguments) == 1
    assert "not a regular file" in caplog.text


def test_splitter_gap(tmp_path, dag_arguments, real_request, caplog):
    splitter = write_splitter_output(tmp_path / "gappy", real_request, 5, skip={2, 4})
    arguments = dag_arguments[:]
    arguments[arguments.index("--event-splitter-dir") + 1] = str(splitter)
    assert run_main(arguments) == 1
    assert "2 of job1..job5.json missing (job2.json, job4.json)" in caplog.text
    assert_nothing_written(tmp_path)


def test_splitter_tarball_missing(tmp_path, dag_arguments, real_request, caplog):
    splitter = write_splitter_output(tmp_path / "notar", real_request, 2, tarball=False)
    arguments = dag_arguments[:]
    arguments[arguments.index("--event-splitter-dir") + 1] = str(splitter)
    assert run_main(arguments) == 1
    assert "request_psets.tar.gz missing" in caplog.text
    assert_nothing_written(tmp_path)


def test_splitter_empty_dir(tmp_path, dag_arguments, caplog):
    empty = tmp_path / "empty"
    empty.mkdir()
    arguments = dag_arguments[:]
    arguments[arguments.index("--event-splitter-dir") + 1] = str(empty)
    assert run_main(arguments) == 1
    assert "no job<N>.json files" in caplog.text


def test_splitter_path_with_comma(tmp_path, dag_arguments, real_request, caplog):
    splitter = write_splitter_output(tmp_path / "a,b", real_request, 1)
    arguments = dag_arguments[:]
    arguments[arguments.index("--event-splitter-dir") + 1] = str(splitter)
    assert run_main(arguments) == 1
    assert "contains whitespace, a comma" in caplog.text


def test_sitelist_bad_line(tmp_path, dag_arguments, caplog):
    sites = tmp_path / "badsites.txt"
    sites.write_text("T2_XX_A\nT2-XX-B\n")
    arguments = dag_arguments[:]
    arguments[arguments.index("--sitelist") + 1] = str(sites)
    assert run_main(arguments) == 1
    assert "line 2: 'T2-XX-B' is not a CMS site name" in caplog.text
    assert_nothing_written(tmp_path)


def test_sitelist_comments_duplicates(site_list):
    assert submit_file.read_site_list(site_list) == ("T2_XX_A", "T2_XX_B")


def test_sitelist_only_comments(tmp_path):
    sites = tmp_path / "sites.txt"
    sites.write_text("# none\n\n")
    with pytest.raises(InputError, match="names no site"):
        submit_file.read_site_list(sites)


def test_executable_missing(tmp_path, dag_arguments, caplog):
    assert run_main(dag_arguments + ["--executable", "other.sh"]) == 1
    assert "executable other.sh not found" in caplog.text
    assert_nothing_written(tmp_path)


def test_existing_dag_kept(tmp_path, dag_arguments, caplog):
    assert run_main(dag_arguments) == 0
    before = (tmp_path / "dag" / "stepchain.dag").read_text()
    assert run_main(dag_arguments) == 1
    assert "already contains" in caplog.text
    assert (tmp_path / "dag" / "stepchain.dag").read_text() == before


def test_staging_removed_on_failure(tmp_path, dag_arguments, ep_scripts_dir):
    (ep_scripts_dir / "WMCore.zip").write_text("")
    assert run_main(dag_arguments) == 1
    assert_nothing_written(tmp_path)


@pytest.mark.parametrize("status", ["0", "2", "3", "4", "256"])
def test_defer_status_reserved(dag_arguments, status):
    with pytest.raises(SystemExit) as exit_info:
        run_main(dag_arguments + ["--post-defer-status", status])
    assert exit_info.value.code == 2


def test_request_option(tmp_path, dag_arguments, real_request):
    request = dict(real_request, Memory=4000)
    path = tmp_path / "request.json"
    path.write_text(json.dumps(request))
    assert run_main(dag_arguments + ["--request", str(path)]) == 0
    assert "request_memory = 4000" in (tmp_path / "dag" / "job.submit").read_text()


def test_tarball_without_request(tmp_path, dag_arguments, real_request, caplog):
    splitter = write_splitter_output(tmp_path / "s2", real_request, 1)
    (splitter / "request_psets.tar.gz").write_bytes(b"not a tarball")
    arguments = dag_arguments[:]
    arguments[arguments.index("--event-splitter-dir") + 1] = str(splitter)
    assert run_main(arguments) == 1
    assert "cannot read" in caplog.text


def test_resources_real_request(real_request):
    resources = submit_file.derive_resources(real_request, 830, 1.5)
    assert resources == submit_file.Resources(cpus=4, memory_mb=8000, max_wall_time_mins=1079,
                                              required_os="rhel7")


def test_resources_mixed_os(real_request):
    request = json.loads(json.dumps(real_request))
    request["Step6"]["ScramArch"] = ["el8_amd64_gcc11"]
    assert submit_file.derive_resources(request, 830, 1.5).required_os == "rhel7,rhel8"


def test_resources_cc7_is_rhel7(real_request):
    request = json.loads(json.dumps(real_request))
    request["Step3"]["ScramArch"] = ["cc7_amd64_gcc700"]
    assert submit_file.derive_resources(request, 830, 1.5).required_os == "rhel7"


def test_resources_unknown_arch(real_request):
    request = json.loads(json.dumps(real_request))
    request["Step2"]["ScramArch"] = "sl5_ia32_gcc434"
    with pytest.raises(InputError, match="Step2 ScramArch 'sl5_ia32_gcc434' has an unknown OS"):
        submit_file.derive_resources(request, 830, 1.5)


def test_resources_step_multicore(real_request):
    request = json.loads(json.dumps(real_request))
    request["Step3"]["Multicore"] = 8
    assert submit_file.derive_resources(request, 830, 1.5).cpus == 8


def test_resources_bad_time_per_event(real_request):
    request = dict(real_request, TimePerEvent=0)
    with pytest.raises(InputError, match="TimePerEvent is 0"):
        submit_file.derive_resources(request, 830, 1.5)


def test_events_per_job_from_job_file(real_request):
    job = {"job_index": 1, "tweaks": {"1": {"process.maxEvents": "customTypeCms.untracked.PSet("
                                                                 "input=cms.untracked.int32(500))"}}}
    assert submit_file.events_per_job(real_request, job) == 500


def test_events_per_job_from_request(real_request):
    assert submit_file.events_per_job(real_request, {"job_index": 1, "tweaks": {}}) == 830


def test_real_request_nodes(tmp_path, real_request, valid_proxy, real_sitelist, ep_scripts_dir):
    job_count = 18073
    splitter = write_splitter_output(tmp_path / "real", real_request, job_count)
    arguments = ["--event-splitter-dir", str(splitter), "--proxy", str(valid_proxy),
                 "--sitelist", str(real_sitelist), "--ep-scripts-dir", str(ep_scripts_dir),
                 "--output-dag", str(tmp_path / "dag" / "stepchain.dag")]
    assert run_main(arguments) == 0
    lines = dag_lines(tmp_path / "dag" / "stepchain.dag")
    nodes = nodes_of(lines)
    assert len(nodes) == job_count
    assert len(set(nodes)) == job_count
    assert nodes[-1] == "Job18073"
    assert 'VARS Job18073 node_name="Job18073" job_index="18073"' in lines
    assert sum(line.startswith("SCRIPT ") for line in lines) == job_count
