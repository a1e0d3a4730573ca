"""Summarise a StepChain DAG directory: nodes done, failed (by exit code), deferred and pending.

    dag-status DAG_DIR [--dag stepchain.dag] [--json]

A node's state comes from the POST script's record, post_state/<node>.json, and from the newest
job report that HTCondor brought back, results/<node>.<cluster>.job_report.json:

  done      the last POST decision was success
  failed    the last POST decision was fatal, or retry with no node retries left
  retrying  the last POST decision was retry and DAGMan has node retries left
  deferred  the last POST decision was defer: DAGMan runs the POST script again after the delay
  finished  a job report is back but no POST decision is recorded yet
  pending   nothing is back yet (idle, running, or not submitted)

A node can be done while its job failed, because the default `delay` POST policy ends every node
with success; such nodes are counted and listed separately.

Exit status: 0 on success, 2 when the DAG directory cannot be read.
"""

import argparse
import collections
import json
import logging
import os
import pathlib
import sys

from micro_agent.dag_reader import DagFormatError, read_dag

log = logging.getLogger("dag-status")

STATES = ("done", "failed", "retrying", "deferred", "finished", "pending")
# Job reports are results/<node>.<cluster>.job_report.json; node names contain no '.'.
REPORT_SUFFIX = ".job_report.json"
CANNOT_READ = 2


def _read_json(path):
    """Return the JSON object in `path`, or None with a warning when it is unreadable or not an object."""
    try:
        with open(path) as handle:
            document = json.load(handle)
    except (OSError, ValueError) as error:
        log.warning("%s is unreadable: %s", path, error)
        return None
    if not isinstance(document, dict):
        log.warning("%s is not a JSON object and is ignored", path)
        return None
    return document


def _last_decision(state, path):
    """Return the newest POST decision of a node's state as a dict, or None."""
    history = (state or {}).get("history")
    if not history:
        return None
    if not isinstance(history, list) or not isinstance(history[-1], dict):
        log.warning("%s has an invalid history and is ignored. Remove the file to reset the node", path)
        return None
    return history[-1]


def _exit_code(report, path):
    """Return the report's integer exit_code, or None with a warning for any other value."""
    if report is None or "exit_code" not in report:
        return None
    code = report["exit_code"]
    if isinstance(code, bool) or not isinstance(code, int):
        log.warning("%s has an invalid exit_code %r, which is ignored", path, code)
        return None
    return code


def newest_reports(results_dir):
    """Return {node name: (cluster id, path)} of each node's job report with the largest cluster id.

    The directory is listed once, because a glob per node reads all of results/ for every node.
    """
    newest = {}
    if not results_dir.is_dir():
        return newest
    for entry in os.scandir(results_dir):
        if not entry.name.endswith(REPORT_SUFFIX):
            continue
        node_name, _, cluster = entry.name[: -len(REPORT_SUFFIX)].rpartition(".")
        if not node_name or not cluster.isdigit():
            continue
        if node_name not in newest or int(cluster) > newest[node_name][0]:
            newest[node_name] = (int(cluster), pathlib.Path(entry.path))
    return newest


def node_status(dag_dir, node, reports):
    """Return the status dict of one node; `reports` is the result of newest_reports()."""
    cluster, report_path = reports.get(node.name, (None, None))
    report = None if report_path is None else _read_json(report_path)
    state_path = dag_dir / "post_state" / ("%s.json" % node.name)
    state = _read_json(state_path) if state_path.exists() else None
    last = _last_decision(state, state_path)

    if last is None:
        status = "finished" if report is not None else "pending"
    elif last.get("decision") == "success":
        status = "done"
    elif last.get("decision") == "fatal":
        status = "failed"
    elif last.get("decision") == "retry":
        retry = last.get("retry", 0)
        if isinstance(retry, bool) or not isinstance(retry, int):
            log.warning("%s has an invalid retry number %r: node counted as failed", state_path, retry)
            retry = node.retries
        status = "failed" if retry >= node.retries else "retrying"
    elif last.get("decision") == "defer":
        status = "deferred"
    else:
        status = "pending"
    return {
        "node": node.name,
        "status": status,
        "cluster_id": cluster,
        "exit_code": _exit_code(report, report_path),
        "exit_message": None if report is None else report.get("exit_message"),
        "post_decision": None if last is None else last.get("decision"),
        "post_reason": None if last is None else last.get("reason"),
    }


def summarize(dag_dir, dag_name):
    nodes = read_dag(dag_dir / dag_name)
    reports = newest_reports(dag_dir / "results")
    statuses = [node_status(dag_dir, node, reports) for node in nodes.values()]
    counts = collections.Counter(entry["status"] for entry in statuses)
    failed_by_code = collections.Counter(
        entry["exit_code"] for entry in statuses if entry["status"] == "failed"
    )
    done_with_failed_job = [
        entry for entry in statuses if entry["status"] == "done" and entry["exit_code"] not in (0, None)
    ]
    return {
        "dag_dir": str(dag_dir),
        "nodes": len(statuses),
        "counts": {state: counts.get(state, 0) for state in STATES},
        "failed_by_exit_code": {
            str(code): number
            for code, number in sorted(
                failed_by_code.items(), key=lambda item: (item[0] is None, item[0] or 0)
            )
        },
        "done_with_failed_job": [entry["node"] for entry in done_with_failed_job],
        "node_statuses": statuses,
    }


def print_summary(summary, limit=20):
    print("DAG %s: %d nodes" % (summary["dag_dir"], summary["nodes"]))
    for state in STATES:
        print("  %-9s %d" % (state, summary["counts"][state]))
    if summary["failed_by_exit_code"]:
        print("failed nodes by job exit code:")
        for code, number in summary["failed_by_exit_code"].items():
            print("  %-8s %d" % (code, number))
    failed = [entry for entry in summary["node_statuses"] if entry["status"] == "failed"]
    for entry in failed[:limit]:
        print("  %s: exit code %s %s" % (entry["node"], entry["exit_code"], entry["exit_message"] or ""))
    if len(failed) > limit:
        print("  ... and %d more failed nodes" % (len(failed) - limit))
    if summary["done_with_failed_job"]:
        names = summary["done_with_failed_job"]
        print(
            "done by the POST policy although the job failed: %d (%s%s)"
            % (len(names), ", ".join(names[:limit]), ", ..." if len(names) > limit else "")
        )


def main(argv=None):
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="[dag-status] %(levelname)s %(message)s"
    )
    parser = argparse.ArgumentParser(prog="dag-status", description="Summarise the nodes of a StepChain DAG.")
    parser.add_argument("dag_dir", type=pathlib.Path, help="DAG directory made by create-stepchain-dag")
    parser.add_argument(
        "--dag", default="stepchain.dag", help="DAG file name in DAG_DIR (default %(default)s)"
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)

    dag_path = args.dag_dir / args.dag
    if not dag_path.is_file():
        log.error("DAG file %s not found; give the directory made by create-stepchain-dag", dag_path)
        return CANNOT_READ
    try:
        summary = summarize(args.dag_dir.resolve(), args.dag)
    except (OSError, DagFormatError, ValueError) as error:
        log.error("cannot read DAG file %s: %s", dag_path, error)
        return CANNOT_READ
    try:
        if args.json:
            print(json.dumps(summary, indent=1))
        else:
            print_summary(summary)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader (for example `head`) closed the pipe; the rest of the summary is not wanted.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


if __name__ == "__main__":
    sys.exit(main())
