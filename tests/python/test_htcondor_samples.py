"""samples/htcondor: job.jdl expands into one validation job per site and matches the generated DAG."""
import re
import shutil

import htcondor
import pytest

REQUIRED_RESOURCES = ("RequestCpus", "RequestMemory", "MaxWallTimeMins", "REQUIRED_OS")
SPLITTER_FILES = ["WMCore.zip", "job1.json", "request_psets.tar.gz"]


def _names(transfer_input):
    """Return the file names of a TransferInput value, without directories."""
    return [entry.strip().rsplit("/", 1)[-1] for entry in transfer_input.split(",") if entry.strip()]


@pytest.fixture(scope="module")
def samples_dir(repo_root):
    return repo_root / "samples" / "htcondor"


@pytest.fixture(scope="module")
def sites(samples_dir):
    lines = (samples_dir / "sitelist.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


@pytest.fixture(scope="module")
def validation_jobs(samples_dir, valid_proxy, tmp_path_factory):
    """Job ads of job.jdl, expanded in a directory prepared as the README describes (proxy as x509up)."""
    directory = tmp_path_factory.mktemp("site-validation")
    for name in ("job.jdl", "sitelist.txt"):
        shutil.copy2(samples_dir / name, directory / name)
    shutil.copy2(valid_proxy, directory / "x509up")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(directory)
        description = htcondor.Submit((directory / "job.jdl").read_text())
        items = list(description.itemdata())
        return list(description.jobs(clusterid=1, itemdata=iter(items)))


@pytest.fixture(scope="module")
def dag_job(real_workflows):
    """Job ad of Job1 from the job.submit that create-stepchain-dag wrote for the real request."""
    dag_dir = real_workflows["report"].dag_dir
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(dag_dir)
        description = htcondor.Submit((dag_dir / "job.submit").read_text())
        description["node_name"] = "Job1"
        description["job_index"] = "1"
        return next(iter(description.jobs(count=1, clusterid=1)))


def test_one_job_per_site(validation_jobs, sites):
    assert len(validation_jobs) == len(sites)


def test_desired_site_per_job(validation_jobs, sites):
    assert [job["DESIRED_Sites"] for job in validation_jobs] == sites


def test_sites_are_cms_names(sites):
    for site in sites:
        assert re.fullmatch(r"T[0-3]_[A-Z]{2}_\w+", site), site


def test_sites_in_real_sitelist(sites, real_sitelist):
    real_sites = set(real_sitelist.read_text().split())
    assert [site for site in sites if site not in real_sites] == []


def test_result_files_per_site(validation_jobs, sites):
    remaps = [job["TransferOutputRemaps"] for job in validation_jobs]
    for site, remap in zip(sites, remaps):
        assert "results/%s.1." % site in remap, remap


def test_executable_and_arguments(validation_jobs):
    job = validation_jobs[0]
    assert job["Cmd"].rsplit("/", 1)[-1] == "run.sh"
    assert job["Args"] == "request_psets.tar.gz job1.json"


def test_transfer_inputs_are_ep_scripts(validation_jobs, repo_root):
    scripts = sorted(path.name for path in (repo_root / "ep_scripts").iterdir()
                     if path.is_file() and path.name != "run.sh")
    assert _names(validation_jobs[0]["TransferInput"]) == scripts + SPLITTER_FILES


def test_transfer_inputs_match_dag(validation_jobs, dag_job):
    assert _names(validation_jobs[0]["TransferInput"]) == _names(dag_job["TransferInput"])


def test_transfer_outputs_match_dag(validation_jobs, dag_job):
    assert validation_jobs[0]["TransferOutput"] == dag_job["TransferOutput"]


@pytest.mark.parametrize("attribute", REQUIRED_RESOURCES)
def test_resources_match_dag(attribute, validation_jobs, dag_job):
    assert validation_jobs[0][attribute] == dag_job[attribute]


def test_validation_job_not_retried(validation_jobs):
    job = validation_jobs[0]
    job["ExitCode"] = 85
    job["NumJobCompletions"] = 1
    assert job.eval("OnExitRemove") is True
