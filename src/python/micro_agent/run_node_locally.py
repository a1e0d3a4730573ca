"""Run one node of a StepChain DAG on this machine, the way HTCondor and DAGMan would run it.

    run-node-locally DAG_DIR NODE [--env KEY=VALUE ...] [--pass-env NAME ...] [--site SITE]

1. Read the node's JOB, VARS and SCRIPT POST lines from the DAG file.
2. Expand the submit file into the node's job ClassAd with the htcondor bindings (the legacy
   htcondor.Submit(...).jobs() of the 24.x series), with the node's VARS as macros and a new
   cluster id, in the DAG directory as condor_submit_dag would.
3. Make a fresh scratch directory holding exactly the ad's transfer_input_files, the executable
   and the proxy, so a file missing from transfer_input_files fails here as it would on the grid.
4. Run the executable with the ad's arguments in the scratch directory. The job gets the
   environment that HTCondor gives a job (_CONDOR_JOB_AD, _CONDOR_SCRATCH_DIR, X509_USER_PROXY and
   others) plus the worker node variables given with --env and --pass-env. Its stdout and stderr
   go to the ad's output and error files. Processes that the job leaves running are killed when
   its executable exits.
5. Bring back transfer_output_files through transfer_output_remaps, then evaluate the ad's
   OnExitRemove and Requirements with the exit code: when HTCondor would retry the job, say so
   (this machine is the last host, which Requirements excludes, so the job is not rerun here).
6. Run the node's POST script from the DAG directory with $JOB, $RETURN, $RETRY, $MAX_RETRIES and
   $JOBID substituted. A deferred POST script is run again at once (DAGMan would wait the DEFER
   delay), up to --max-post-runs runs.
7. Print the node's result: job exit status, the job report's exit code, events per step, staged
   files, and the POST decision.

Exit status: 0 the node succeeded (POST exited 0); 1 the node failed; 2 the node could not be run
(invalid DAG directory, unknown node, missing input file, invalid option, POST script that
cannot be executed).
"""

import argparse
import json
import logging
import os
import pathlib
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile

import classad
import htcondor

from micro_agent.dag_reader import DagFormatError, read_dag

log = logging.getLogger("run-node-locally")

NODE_FAILED = 1
CANNOT_RUN = 2
BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SLOT_NAME = "slot1"


class NodeSetupError(Exception):
    """The node cannot be run; the message names the value and the fix."""


def parse_arguments(argv):
    parser = argparse.ArgumentParser(
        prog="run-node-locally",
        description="Run one DAG node locally as HTCondor's file transfer and DAGMan would.",
    )
    parser.add_argument("dag_dir", type=pathlib.Path, help="DAG directory made by create-stepchain-dag")
    parser.add_argument("node", help="node name, for example Job1")
    parser.add_argument(
        "--dag", default="stepchain.dag", help="DAG file name in DAG_DIR (default %(default)s)"
    )

    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="worker node environment variable for the job (repeatable)",
    )
    parser.add_argument(
        "--pass-env",
        action="append",
        default=[],
        metavar="NAME",
        help="copy this variable from the current environment into the job's (repeatable)",
    )

    parser.add_argument("--site", help="CMS site name the simulated slot advertises (GLIDEIN_CMSSite)")
    parser.add_argument(
        "--cluster-id", type=int, help="HTCondor cluster id of the run (default: one above any id in out/)"
    )
    parser.add_argument(
        "--dag-retry",
        type=int,
        default=0,
        help="node retry number passed to the POST script as $RETRY (default 0)",
    )
    parser.add_argument(
        "--max-post-runs",
        type=int,
        default=2,
        help="POST script runs when it defers; each re-run skips the DEFER delay (default 2)",
    )

    parser.add_argument(
        "--scratch-parent",
        type=pathlib.Path,
        help="directory for the scratch directory (default: the system temporary directory)",
    )
    parser.add_argument(
        "--keep-scratch", action="store_true", help="keep the scratch directory after the run"
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON instead of text")

    args = parser.parse_args(argv)
    if args.max_post_runs < 1:
        parser.error("--max-post-runs must be at least 1, not %d" % args.max_post_runs)
    if args.cluster_id is not None and args.cluster_id < 1:
        parser.error("--cluster-id must be at least 1, not %d" % args.cluster_id)
    if args.dag_retry < 0:
        parser.error("--dag-retry must be 0 or more, not %d" % args.dag_retry)
    if args.scratch_parent is not None and not args.scratch_parent.is_dir():
        parser.error("--scratch-parent %s is not a directory: create it or pass another"
                     % args.scratch_parent)
    return args


def job_environment_overrides(args):
    overrides = {}
    for item in args.env:
        key, separator, value = item.partition("=")
        if not separator or not key:
            raise NodeSetupError("invalid --env %r: use KEY=VALUE" % item)
        overrides[key] = value
    for name in args.pass_env:
        if name not in os.environ:
            raise NodeSetupError("--pass-env %s: the variable is not set in this environment" % name)
        overrides[name] = os.environ[name]
    return overrides


def next_cluster_id(dag_dir):
    """Return one above the largest cluster id in out/<node>.<cluster>.out, so results never collide."""
    largest = 0
    for path in (dag_dir / "out").glob("*.out"):
        parts = path.name.split(".")
        if len(parts) >= 3 and parts[-2].isdigit():
            largest = max(largest, int(parts[-2]))
    return largest + 1


class _WorkingDirectory:
    """Change into a directory for the duration of a with-block (contextlib.chdir needs 3.11)."""

    def __init__(self, path):
        self.path = path
        self.previous = None

    def __enter__(self):
        self.previous = os.getcwd()
        os.chdir(self.path)

    def __exit__(self, *exc_info):
        os.chdir(self.previous)


def expand_job_ad(dag_dir, node, cluster_id):
    """Return the node's job ClassAd as condor_submit would create it from the DAG directory."""
    submit_path = dag_dir / node.submit_file
    if not submit_path.is_file():
        raise NodeSetupError("submit file %s of node %s not found" % (submit_path, node.name))
    with _WorkingDirectory(dag_dir):
        description = htcondor.Submit(submit_path.read_text())
        for key, value in node.variables.items():
            description[key] = value
        try:
            return next(iter(description.jobs(count=1, clusterid=cluster_id, procid=0)))
        except Exception as error:  # the bindings raise RuntimeError or HTCondorException
            raise NodeSetupError(
                "submit file %s does not expand into a job: %s" % (submit_path, error)
            ) from None


def _split_list(value):
    return [item.strip() for item in (value or "").split(",") if item.strip()]


def _resolve(dag_dir, path):
    path = pathlib.Path(path)
    return path if path.is_absolute() else dag_dir / path


def stage_inputs(dag_dir, ad, scratch):
    """Copy the executable, the proxy and every transfer_input_files entry into scratch."""
    executable = _resolve(dag_dir, ad["Cmd"])
    inputs = [_resolve(dag_dir, entry) for entry in _split_list(ad.get("TransferInput"))]
    for path in [executable] + inputs:
        if not path.exists():
            raise NodeSetupError(
                "transfer_input_files entry %s not found: HTCondor would put the job on hold" % path
            )
    shutil.copy2(executable, scratch / executable.name)
    os.chmod(scratch / executable.name, 0o755)
    for path in inputs:
        if path.is_dir():
            shutil.copytree(path, scratch / path.name)
        else:
            shutil.copy2(path, scratch / path.name)
    proxy = ad.get("x509userproxy")
    if proxy:
        proxy_path = _resolve(dag_dir, proxy)
        if not proxy_path.is_file():
            raise NodeSetupError("x509userproxy %s not found" % proxy_path)
        shutil.copy2(proxy_path, scratch / proxy_path.name)
        os.chmod(scratch / proxy_path.name, 0o600)
        return scratch / executable.name, scratch / proxy_path.name
    return scratch / executable.name, None


def machine_ad(site, cpus, memory):
    host = socket.getfqdn()
    ad = classad.ClassAd()
    ad["Machine"] = host
    ad["Name"] = "%s@%s" % (SLOT_NAME, host)
    ad["Arch"] = "X86_64"
    ad["OpSys"] = "LINUX"
    ad["Cpus"] = cpus
    ad["Memory"] = memory
    ad["Disk"] = 100 * 1024 * 1024
    ad["HasFileTransfer"] = True
    if site:
        ad["GLIDEIN_CMSSite"] = site
    return ad


def job_environment(ad, scratch, proxy, overrides):
    environment = {
        "PATH": BASE_PATH,
        "HOME": os.environ.get("HOME", str(scratch)),
        "LANG": "C",
        "BATCH_SYSTEM": "HTCondor",
        "_CONDOR_SCRATCH_DIR": str(scratch),
        "_CONDOR_JOB_IWD": str(scratch),
        "_CONDOR_JOB_AD": str(scratch / ".job.ad"),
        "_CONDOR_MACHINE_AD": str(scratch / ".machine.ad"),
        "TMPDIR": str(scratch),
        "OMP_NUM_THREADS": str(ad.get("RequestCpus", 1)),
    }
    if proxy is not None:
        environment["X509_USER_PROXY"] = str(proxy)
    # The submit file's `environment` is "K=V K=V" in the new syntax.
    for item in shlex.split(ad.get("Environment") or ""):
        key, _, value = item.partition("=")
        environment[key] = value
    environment.update(overrides)
    return environment


def run_job(dag_dir, ad, scratch, executable, environment):
    arguments = shlex.split(ad.get("Args") or "")
    output_path = _resolve(dag_dir, ad["Out"])
    error_path = _resolve(dag_dir, ad["Err"])
    log.info("running %s %s in %s", executable.name, " ".join(arguments), scratch)
    with open(output_path, "wb") as output, open(error_path, "wb") as error:
        # The job gets its own process group, so that processes it leaves behind can be killed
        # when it exits, as HTCondor's starter kills every process of a finished job.
        job = subprocess.Popen(
            [str(executable)] + arguments,
            cwd=str(scratch),
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=error,
            start_new_session=True,
        )
        try:
            exit_status = job.wait()
        finally:
            kill_leftover_processes(job.pid)
    log.info("job exited with status %d; stdout %s, stderr %s", exit_status, output_path, error_path)
    return exit_status


def kill_leftover_processes(process_group):
    """Kill the processes still in the job's process group after the job's executable ended."""
    try:
        os.killpg(process_group, signal.SIGKILL)
    except ProcessLookupError:
        return
    log.warning("killed processes that the job left running (process group %d)", process_group)


def parse_remaps(text):
    remaps = {}
    for item in (text or "").split(";"):
        if item.strip():
            source, _, destination = item.partition("=")
            remaps[source.strip()] = destination.strip()
    return remaps


def bring_back_outputs(dag_dir, ad, scratch):
    """Copy transfer_output_files back through the remaps; return {name: destination path}."""
    remaps = parse_remaps(ad.get("TransferOutputRemaps"))
    brought_back = {}
    missing = []
    for name in _split_list(ad.get("TransferOutput")):
        source = scratch / name
        destination = _resolve(dag_dir, remaps.get(name, name))
        if not source.exists():
            missing.append(name)
            continue
        if not destination.parent.is_dir():
            raise NodeSetupError(
                "output directory %s of %s does not exist: HTCondor would put the job on hold"
                % (destination.parent, name)
            )
        shutil.copy2(source, destination)
        brought_back[name] = destination
    if missing:
        log.error(
            "transfer_output_files missing in the scratch directory: %s; HTCondor would put the job on hold",
            ", ".join(missing),
        )
    return brought_back, missing


def htcondor_would_retry(ad, exit_status, slot):
    """Return (retry, runs here) after one run: OnExitRemove false means HTCondor runs the job again."""
    ad["ExitCode"] = exit_status
    ad["NumJobCompletions"] = 1
    ad["LastRemoteHost"] = slot["Name"]
    if ad.eval("OnExitRemove"):
        return False, False
    return True, bool(ad.matches(slot))


def run_post_script(dag_dir, node, exit_status, job_id, dag_retry, max_runs):
    """Run the node's POST script like DAGMan; return the list of its exit statuses."""
    post = node.post
    substitutions = {
        "$JOB": node.name,
        "$RETURN": str(exit_status),
        "$RETRY": str(dag_retry),
        "$MAX_RETRIES": str(node.retries),
        "$JOBID": job_id,
    }
    arguments = [substitutions.get(argument, argument) for argument in post.arguments]
    script = _resolve(dag_dir, post.executable)
    statuses = []
    for run_number in range(1, max_runs + 1):
        try:
            completed = subprocess.run(
                [str(script)] + arguments, cwd=str(dag_dir), check=False, stdin=subprocess.DEVNULL
            )
        except OSError as error:
            raise NodeSetupError(
                "POST script %s cannot be run (%s): make it an executable file" % (script, error.strerror)
            ) from None
        statuses.append(completed.returncode)
        if post.defer_status is None or completed.returncode != post.defer_status:
            break
        if run_number < max_runs:
            log.info(
                "POST deferred (status %d): DAGMan would run it again in %d s; running it now",
                completed.returncode,
                post.defer_delay,
            )
        else:
            log.info(
                "POST deferred (status %d): DAGMan would run it again in %d s",
                completed.returncode,
                post.defer_delay,
            )
    return statuses


def summarize_report(path):
    if path is None or not path.is_file():
        return None
    try:
        with open(path) as handle:
            report = json.load(handle)
    except (OSError, ValueError) as error:
        log.error("job report %s is unreadable: %s", path, error)
        return None
    if not isinstance(report, dict):
        log.error("job report %s is not a JSON object", path)
        return None
    return report


def _objects(value):
    """Return the dicts in `value` when it is a list, so a malformed report section prints nothing."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def print_result(result):
    print(
        "node %s (cluster %s): job exit status %s"
        % (result["node"], result["cluster_id"], result["exit_status"])
    )
    report = result["job_report"]
    if report is None and "job_report.json" in result["outputs"]:
        print("  job report %s brought back but unreadable" % result["outputs"]["job_report.json"])
    elif report is None:
        print("  no job report brought back")
    else:
        print("  job report exit code %s %s" % (report.get("exit_code"), report.get("exit_message") or ""))
        for step in _objects(report.get("steps")):
            print(
                "  step %s %-45s exit %-6s events %s"
                % (step.get("step"), step.get("name"), step.get("exit_code"), step.get("events"))
            )
            for output in _objects(step.get("output_files")):
                if output.get("lfn"):
                    print(
                        "    staged %s\n      PFN %s\n      size %s adler32 %s"
                        % (output["lfn"], output.get("pfn"), output.get("size"), output.get("adler32"))
                    )
    if result["htcondor_retry"]:
        print("  HTCondor would run the job again on another host (OnExitRemove is false)")
    print("  POST exit statuses: %s" % ", ".join(str(status) for status in result["post_statuses"]))
    print("  node %s" % ("succeeded" if result["succeeded"] else "failed"))


def run_node(args):
    dag_dir = args.dag_dir.resolve()
    dag_path = dag_dir / args.dag
    if not dag_path.is_file():
        raise NodeSetupError(
            "DAG file %s not found; give the directory made by create-stepchain-dag" % dag_path
        )
    try:
        nodes = read_dag(dag_path)
    except (OSError, DagFormatError, ValueError) as error:
        raise NodeSetupError("cannot read DAG file %s: %s" % (dag_path, error)) from None
    node = nodes.get(args.node)
    if node is None:
        examples = ", ".join(list(nodes)[:3])
        raise NodeSetupError(
            "node %s not found in %s (nodes are named like %s)" % (args.node, dag_path, examples)
        )
    overrides = job_environment_overrides(args)

    cluster_id = args.cluster_id or next_cluster_id(dag_dir)
    job_id = "%d.0" % cluster_id
    ad = expand_job_ad(dag_dir, node, cluster_id)
    slot = machine_ad(args.site, int(ad.get("RequestCpus", 1)), int(ad.get("RequestMemory", 2000)))

    scratch = pathlib.Path(
        tempfile.mkdtemp(
            prefix="%s.%d." % (node.name, cluster_id),
            dir=str(args.scratch_parent) if args.scratch_parent else None,
        )
    )
    try:
        executable, proxy = stage_inputs(dag_dir, ad, scratch)
        ad["RemoteHost"] = slot["Name"]
        ad["NumJobStarts"] = 1
        if args.site:
            ad["MachineAttrGLIDEIN_CMSSite0"] = args.site
        (scratch / ".job.ad").write_text(ad.printOld())
        (scratch / ".machine.ad").write_text(slot.printOld())
        environment = job_environment(ad, scratch, proxy, overrides)
        exit_status = run_job(dag_dir, ad, scratch, executable, environment)
        brought_back, missing = bring_back_outputs(dag_dir, ad, scratch)
    finally:
        if args.keep_scratch:
            log.info("scratch directory kept: %s", scratch)
        else:
            shutil.rmtree(scratch, ignore_errors=True)

    retry, runs_here = htcondor_would_retry(ad, exit_status, slot)
    if retry and runs_here:
        log.warning(
            "Requirements still match this machine after a failure on it: a retry could land on the same host"
        )
    post_statuses = []
    if node.post is not None:
        post_statuses = run_post_script(
            dag_dir, node, exit_status, job_id, args.dag_retry, args.max_post_runs
        )
    final_status = post_statuses[-1] if post_statuses else exit_status
    return {
        "node": node.name,
        "cluster_id": cluster_id,
        "exit_status": exit_status,
        "outputs": {name: str(path) for name, path in brought_back.items()},
        "missing_outputs": missing,
        "htcondor_retry": retry,
        "post_statuses": post_statuses,
        "succeeded": final_status == 0 and not missing,
        "job_report": summarize_report(brought_back.get("job_report.json")),
    }


def main(argv=None):
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="[run-node-locally] %(levelname)s %(message)s"
    )
    args = parse_arguments(sys.argv[1:] if argv is None else argv)
    try:
        result = run_node(args)
    except NodeSetupError as error:
        log.error("%s", error)
        return CANNOT_RUN
    if args.json:
        print(json.dumps(result, indent=1, sort_keys=True))
    else:
        print_result(result)
    return 0 if result["succeeded"] else NODE_FAILED


if __name__ == "__main__":
    sys.exit(main())
