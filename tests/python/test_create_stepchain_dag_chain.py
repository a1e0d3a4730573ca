"""One DAG node run the way HTCondor and DAGMan would, with the project's real worker scripts.

The job's inputs come from the expanded job.submit, run.sh runs on the local site (the simulated
worker node in samples/local_site), the outputs go back through transfer_output_remaps, and the
POST line of the DAG decides with the report policy.
"""
import io
import json
import os
import shutil
import subprocess
import tarfile

import classad
import htcondor
import pytest
from fixtures.dag import write_splitter_output
from micro_agent import create_stepchain_dag

CLUSTER = 77


def tarball_without_request(path):
    with tarfile.open(path, "w:gz") as archive:
        data = b"import FWCore.ParameterSet.Config as cms\n"
        member = tarfile.TarInfo("PSets/PSet_cmsRun1_Step.py")
        member.size = len(data)
        archive.addfile(member, io.BytesIO(data))


def run_node(dag_dir, scratch, repo_root, node="Job1", index=1):
    """Run one node's job like HTCondor: inputs, executable, outputs through the remaps."""
    description = htcondor.Submit((dag_dir / "job.submit").read_text())
    description["node_name"] = node
    description["job_index"] = str(index)
    job_ad = list(description.jobs(count=1, clusterid=CLUSTER))[0]

    scratch.mkdir()
    for name in job_ad["TransferInput"].split(","):
        source = dag_dir / name.strip()
        shutil.copy2(source, scratch / source.name)
    executable = dag_dir / os.path.basename(job_ad["Cmd"])
    shutil.copy2(executable, scratch / executable.name)

    activate = repo_root / "samples" / "local_site" / "activate.sh"
    command = '. "%s" && exec ./%s %s' % (activate, executable.name, job_ad["Args"])
    result = subprocess.run(["bash", "-c", command], cwd=scratch, capture_output=True, text=True,
                            timeout=300)

    for remap in job_ad["TransferOutputRemaps"].split(";"):
        source, destination = (part.strip() for part in remap.split("="))
        shutil.copy2(scratch / source, dag_dir / destination)
    return job_ad, result.returncode


def run_post_line(dag_dir, node, return_code):
    script = next(line for line in (dag_dir / "stepchain.dag").read_text().splitlines()
                  if line.startswith("SCRIPT ") and line.split()[5] == node).split()
    macros = {"$JOB": node, "$RETURN": str(return_code), "$RETRY": "0", "$MAX_RETRIES": "2",
              "$JOBID": "%d.0" % CLUSTER}
    arguments = [macros.get(word, word) for word in script[7:]]
    python = os.environ.get("LOCAL_SITE_PYTHON", "python3")
    return subprocess.run([python, str(dag_dir / script[6]), *arguments], cwd=dag_dir,
                          capture_output=True, text=True, timeout=60).returncode


@pytest.fixture(scope="module")
def fatal_node(tmp_path_factory, real_request, real_request_dir, valid_proxy, repo_root):
    """A DAG whose tarball lost request.json after the DAG was written, and its node Job1 run once.

    create-stepchain-dag rejects such a tarball, so it is replaced once the DAG exists.
    """
    tmp_path = tmp_path_factory.mktemp("chain")
    site_list = tmp_path / "sitelist.txt"
    site_list.write_text("T2_XX_A\n")
    splitter = write_splitter_output(tmp_path / "splitter", real_request, 1)
    arguments = ["--event-splitter-dir", str(splitter), "--proxy", str(valid_proxy),
                 "--sitelist", str(site_list), "--request", str(real_request_dir / "request.json"),
                 "--post-policy", "report", "--output-dag", str(tmp_path / "dag" / "stepchain.dag")]
    assert create_stepchain_dag.main(arguments) == 0
    tarball_without_request(splitter / "request_psets.tar.gz")
    dag_dir = tmp_path / "dag"
    job_ad, status = run_node(dag_dir, tmp_path / "scratch", repo_root)
    return dag_dir, job_ad, status


def test_fatal_input_worker_status(fatal_node):
    _, _, status = fatal_node
    assert status == 193


def test_fatal_input_report(fatal_node):
    dag_dir, _, _ = fatal_node
    report = json.loads((dag_dir / "results" / ("Job1.%d.job_report.json" % CLUSTER)).read_text())
    assert report["exit_code"] == 50113


def test_fatal_input_job_removed(fatal_node):
    _, job_ad, status = fatal_node
    ad = classad.ClassAd(str(job_ad))
    ad["ExitCode"] = status
    ad["NumJobCompletions"] = 1
    assert ad.eval("OnExitRemove") is True


def test_fatal_input_output_back(fatal_node):
    dag_dir, _, _ = fatal_node
    assert (dag_dir / "results" / ("Job1.%d.output.tgz" % CLUSTER)).is_file()


def test_fatal_input_no_node_retry(fatal_node):
    dag_dir, _, status = fatal_node
    unless_exit = int(next(line for line in (dag_dir / "stepchain.dag").read_text().splitlines()
                           if line.startswith("RETRY Job1 ")).split()[-1])
    assert run_post_line(dag_dir, "Job1", status) == unless_exit
