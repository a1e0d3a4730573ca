"""Time create-stepchain-dag on the real request's 18,073 jobs.

Usage: python bench/bench_dag.py [--request-dir DIR] [--jobs N] [--repeat N]

Builds a splitter-like directory (N small job files and a tarball with request.json) and a
self-signed proxy in a temporary directory, then reports the median of --repeat runs for:
  - writing the DAG file alone (micro_agent.dag_file.write_dag),
  - the whole command: pre-flight checks, WMCore.zip, submit file, DAG file, move into place.
Wall and CPU time are printed per stage.
"""
import argparse
import io
import json
import logging
import pathlib
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time

from micro_agent import create_stepchain_dag, dag_file

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
REAL_REQUEST_DIR = REPO_ROOT.parent / "shared" / "data" / "real" / "SMP-RunIISummer20UL17pp5TeVwmLHEGS-00007"
SITE_LIST = REAL_REQUEST_DIR.parent / "sitelist.txt"


def write_inputs(workdir, request_dir, jobs):
    splitter = workdir / "splitter"
    splitter.mkdir()
    tweak = "customTypeCms.untracked.PSet(input=cms.untracked.int32(830))"
    for index in range(1, jobs + 1):
        job = {"job_index": index, "tweaks": {"1": {"process.maxEvents": tweak}}}
        (splitter / ("job%d.json" % index)).write_text(json.dumps(job))
    data = (request_dir / "request.json").read_bytes()
    with tarfile.open(splitter / "request_psets.tar.gz", "w:gz") as archive:
        member = tarfile.TarInfo("request.json")
        member.size = len(data)
        archive.addfile(member, io.BytesIO(data))

    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem",
                    "-out", "cert.pem", "-subj", "/CN=bench", "-days", "2"],
                   cwd=workdir, check=True, capture_output=True)
    proxy = workdir / "x509up"
    proxy.write_text((workdir / "cert.pem").read_text() + (workdir / "key.pem").read_text())
    return splitter, proxy


def measure(function):
    wall = time.perf_counter()
    cpu = time.process_time()
    function()
    return time.perf_counter() - wall, time.process_time() - cpu


def report(name, samples):
    walls = [wall for wall, _ in samples]
    cpus = [cpu for _, cpu in samples]
    print("%-34s median wall %.3f s (min %.3f, max %.3f), median CPU %.3f s, %d runs"
          % (name, statistics.median(walls), min(walls), max(walls), statistics.median(cpus), len(samples)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--request-dir", type=pathlib.Path, default=REAL_REQUEST_DIR)
    parser.add_argument("--jobs", type=int, default=18073)
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    with tempfile.TemporaryDirectory(prefix="bench_dag.") as temporary:
        workdir = pathlib.Path(temporary)
        splitter, proxy = write_inputs(workdir, options.request_dir, options.jobs)
        settings = dag_file.DagSettings(
            job_count=options.jobs, submit_file="job.submit", post_script="postjob.py", node_retries=2,
            post_policy="delay", defer_status=1, defer_delay=21600, max_deferrals=3, max_jobs=2000)

        dag_only = [measure(lambda: dag_file.write_dag(workdir / "alone.dag", settings))
                    for _ in range(options.repeat)]

        whole = []
        for run in range(options.repeat):
            arguments = ["--event-splitter-dir", str(splitter), "--proxy", str(proxy),
                         "--sitelist", str(SITE_LIST),
                         "--output-dag", str(workdir / ("dag%d" % run) / "stepchain.dag")]

            def create(arguments=arguments):
                if create_stepchain_dag.main(arguments) != 0:
                    sys.exit("create-stepchain-dag failed")

            whole.append(measure(create))

    print("create-stepchain-dag, %d nodes" % options.jobs)
    report("DAG file only", dag_only)
    report("whole command", whole)


if __name__ == "__main__":
    main()
