"""job.submit evaluated with the HTCondor 24.x bindings against synthetic job and machine ads."""
import classad
import htcondor
import pytest
from micro_agent import create_stepchain_dag, preflight
from micro_agent.preflight import InputError

CLUSTER = 1234


@pytest.fixture
def dag_dir(tmp_path, dag_arguments):
    assert create_stepchain_dag.main(dag_arguments) == 0
    return tmp_path / "dag"


@pytest.fixture
def submit_text(dag_dir):
    return (dag_dir / "job.submit").read_text()


def expand(text, node="Job1", index=1, cluster=CLUSTER):
    """Return the job ad that condor_submit makes for one node, with DAGMan's VARS as macros."""
    description = htcondor.Submit(text)
    description["node_name"] = node
    description["job_index"] = str(index)
    ads = list(description.jobs(count=1, clusterid=cluster))
    assert len(ads) == 1
    return ads[0]


@pytest.fixture
def job_ad(submit_text):
    return expand(submit_text)


def on_exit_remove(job_ad, **attributes):
    ad = classad.ClassAd(str(job_ad))
    for key, value in attributes.items():
        ad[key] = value
    return ad.eval("OnExitRemove")


def machine_ad(name):
    return classad.ClassAd({
        "MyType": "Machine", "Machine": name, "Arch": "X86_64", "OpSys": "LINUX", "Disk": 100000000,
        "Memory": 64000, "Cpus": 8, "HasFileTransfer": True, "FileSystemDomain": "example.org",
    })


def job_matches(job_ad, machine, last_remote_host=None):
    ad = classad.ClassAd(str(job_ad))
    if last_remote_host is not None:
        ad["LastRemoteHost"] = last_remote_host
    return machine.matches(ad)


def test_exit_85_retried(job_ad):
    assert on_exit_remove(job_ad, ExitCode=85, NumJobCompletions=1) is False


def test_exit_0_removed(job_ad):
    assert on_exit_remove(job_ad, ExitCode=0, NumJobCompletions=1) is True


def test_exit_fatal_removed(job_ad):
    assert on_exit_remove(job_ad, ExitCode=193, NumJobCompletions=1) is True


def test_signal_retried(job_ad):
    assert on_exit_remove(job_ad, ExitBySignal=True, ExitSignal=9, NumJobCompletions=1) is False


def test_retries_exhausted_removed(job_ad):
    assert job_ad["JobMaxRetries"] == 3
    assert on_exit_remove(job_ad, ExitCode=85, NumJobCompletions=4) is True


def test_no_on_exit_remove(submit_text):
    keys = [line.split("=")[0].strip().lower() for line in submit_text.splitlines() if "=" in line]
    assert "on_exit_remove" not in keys


def test_explicit_on_exit_remove_disables_retries(submit_text):
    # The reason job.submit sets none: condor_submit ORs an explicit value into OnExitRemove.
    text = submit_text.replace("\nqueue\n", "\non_exit_remove = true\nqueue\n")
    assert on_exit_remove(expand(text), ExitCode=85, NumJobCompletions=1) is True


def test_requirements_first_run(job_ad):
    assert job_matches(job_ad, machine_ad("wn01.example.org")) is True


def test_requirements_exclude_last_host(job_ad):
    assert job_matches(job_ad, machine_ad("wn01.example.org"), "slot1_2@wn01.example.org") is False


def test_requirements_other_host(job_ad):
    assert job_matches(job_ad, machine_ad("wn01.example.org"), "slot1@wn02.example.org") is True


def test_requirements_last_host_without_slot(job_ad):
    assert job_matches(job_ad, machine_ad("wn01.example.org"), "wn01.example.org") is False


def test_desired_sites(job_ad):
    assert job_ad["DESIRED_Sites"] == "T2_XX_A,T2_XX_B"


def test_unquoted_sites_rejected(submit_text, valid_proxy):
    text = submit_text.replace('+DESIRED_Sites = "T2_XX_A,T2_XX_B"', "+DESIRED_Sites = T2_XX_A,T2_XX_B")
    with pytest.raises(InputError, match="does not parse"):
        preflight.check_submit_text(text, {"node_name": "Job1", "job_index": "1"}, valid_proxy)


def test_resources(job_ad):
    assert job_ad["RequestCpus"] == 4
    assert job_ad["RequestMemory"] == 8000
    assert job_ad["MaxWallTimeMins"] == 1079
    assert job_ad["REQUIRED_OS"] == "rhel7"


def test_proxy_absolute(job_ad, valid_proxy):
    assert job_ad["x509userproxy"] == str(valid_proxy)


def test_arguments(job_ad):
    assert job_ad["Args"] == "request_psets.tar.gz job1.json"
    assert job_ad["Cmd"].endswith("/run.sh")


def test_input_files_exist(dag_dir, submit_text, splitter_dir):
    ad = expand(submit_text, node="Job3", index=3)
    inputs = [name.strip() for name in ad["TransferInput"].split(",")]
    assert str(splitter_dir / "job3.json") in inputs
    assert str(splitter_dir / "request_psets.tar.gz") in inputs
    assert "WMCore.zip" in inputs
    assert "execute_stepchain.sh" in inputs
    assert "exit_codes.txt" in inputs
    for name in inputs:
        assert (dag_dir / name).is_file(), name


def test_remaps_quoted_string(job_ad):
    remaps = job_ad["TransferOutputRemaps"]
    assert isinstance(remaps, str)
    assert not remaps.rstrip().endswith(";")


def test_remap_sources_transferred(job_ad):
    outputs = {name.strip() for name in job_ad["TransferOutput"].split(",")}
    sources = {item.split("=")[0].strip() for item in job_ad["TransferOutputRemaps"].split(";")}
    assert sources == outputs == {"job_report.json", "output.tgz"}


def test_remap_destinations_exist(dag_dir, job_ad):
    for item in job_ad["TransferOutputRemaps"].split(";"):
        destination = item.split("=")[1].strip()
        assert (dag_dir / destination).parent.is_dir(), destination


def test_remaps_per_node_cluster(job_ad):
    assert "job_report.json = results/Job1.1234.job_report.json" in job_ad["TransferOutputRemaps"]


def test_remaps_differ_between_clusters(submit_text):
    first = expand(submit_text, cluster=1234)["TransferOutputRemaps"]
    retry = expand(submit_text, cluster=1240)["TransferOutputRemaps"]
    other_node = expand(submit_text, node="Job2", index=2, cluster=1234)["TransferOutputRemaps"]
    assert first != retry
    assert first != other_node


def test_logs_per_node(dag_dir, job_ad):
    assert job_ad["Out"] == "out/Job1.1234.out"
    assert job_ad["Err"] == "err/Job1.1234.err"
    assert (dag_dir / "out").is_dir()
    assert (dag_dir / "err").is_dir()
    assert (dag_dir / "log").is_dir()


def test_stage_out_defaults_in_environment(job_ad):
    assert job_ad["Environment"] == "STAGE_OUT_RETRIES=3 STAGE_OUT_RETRY_PAUSE=600"


def test_stage_out_options_in_environment(tmp_path, dag_arguments):
    arguments = dag_arguments + ["--stage-out-retries", "1", "--stage-out-retry-pause", "30"]
    assert create_stepchain_dag.main(arguments) == 0
    ad = expand((tmp_path / "dag" / "job.submit").read_text())
    assert ad["Environment"] == "STAGE_OUT_RETRIES=1 STAGE_OUT_RETRY_PAUSE=30"


def test_stage_out_retries_above_worker_limit(tmp_path, dag_arguments, capsys):
    with pytest.raises(SystemExit):
        create_stepchain_dag.main(dag_arguments + ["--stage-out-retries", "10000"])
    assert "0 to 9999" in capsys.readouterr().err
    assert not (tmp_path / "dag").exists()
