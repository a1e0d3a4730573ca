#!/usr/bin/env python3
"""DAGMan POST script of a StepChain DAG node: decide whether the node succeeded.

DAGMan runs it in the DAG directory, the directory that contains stepchain.dag and results/:

    postjob.py $JOB $RETURN $RETRY $MAX_RETRIES $JOBID [--policy delay|report]
               [--defer-status N] [--max-deferrals N]

Policies:
  delay   (default) The first run for a node exits with the DEFER status, so DAGMan runs the
          script again after the delay given on the SCRIPT DEFER line. The second run exits 0.
          The job's outcome is not read.
  report  Reads results/<node>.<cluster>.job_report.json, the job report that HTCondor brought
          back for the job $JOBID, and decides success, retry or fatal by the report's exit code
          (RETRY_POLICY below, and the class column of exit_codes.txt when that file is in the
          DAG directory). Codes marked for back-off defer the retry, at most --max-deferrals
          times per node attempt.

State lives in post_state/<node>.json in the DAG directory. A per-node lock serialises
concurrent runs for one node (DAGMan can start a second run after a restart), and the state
is replaced atomically, so a crash never leaves a half-written file.

Runs on Python 3.6 with the standard library only.
"""
import argparse
import datetime
import errno
import fcntl
import json
import logging
import os
import re
import sys
import tempfile
import time

# Exit statuses of this script. The DEFER status is set on the SCRIPT DEFER line and passed
# with --defer-status (default 1). create-stepchain-dag rejects a DEFER status equal to any
# other status here, and it writes FATAL into `RETRY <node> <n> UNLESS-EXIT 2`.
SUCCESS = 0
DEFAULT_DEFER_STATUS = 1
FATAL = 2
RETRY = 3
INTERNAL_ERROR = 4

EXIT_STATUSES = (
    (SUCCESS, "success", "the node succeeded"),
    (DEFAULT_DEFER_STATUS, "defer", "DAGMan runs the POST script again after the defer delay"),
    (FATAL, "fatal", "the node failed and DAGMan does not retry it (RETRY ... UNLESS-EXIT)"),
    (RETRY, "retry", "the node failed and DAGMan retries it while node retries remain"),
    (INTERNAL_ERROR, "internal-error",
     "bad arguments, no DAG directory, unreadable report or state, or a crash; "
     "DAGMan retries the node while node retries remain"),
)

POLICIES = ("delay", "report")
DEFAULT_MAX_DEFERRALS = 3

# The job wrapper's process exit status for every code of class fatal (exit_codes.txt).
FATAL_EXIT_STATUS = 193

# DAG directory layout shared with create-stepchain-dag.
RESULTS_DIR = "results"
STATE_DIR = "post_state"
EXIT_CODES_FILE = "exit_codes.txt"
REPORT_NAME = "{node}.{cluster}.job_report.json"
OUTPUT_NAME = "{node}.{cluster}.output.tgz"

# Node names that create-stepchain-dag writes; anything else could name a path outside the
# DAG directory.
NODE_NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,99}$")
JOB_ID_PATTERN = re.compile(r"^([0-9]+)\.[0-9]+$")

# Retry policy of the report policy, by the report's exit_code:
# code -> (decision, back off before retrying, reason).
# Codes not listed are retried at once unless they are of class fatal in exit_codes.txt or the
# report's exit_status is 193.
RETRY_POLICY = {
    7000: ("fatal", False, "cmsRun rejected its command line"),
    7001: ("fatal", False, "cmsRun configuration file not found"),
    7002: ("fatal", False, "cmsRun configuration file could not be read"),
    8001: ("retry", False, "CMSSW exception"),
    8021: ("retry", False, "CMSSW could not read an input file"),
    8028: ("retry", False, "CMSSW could not open an input file"),
    11003: ("retry", False, "no CMS software on the worker node"),
    11004: ("retry", False, "no COMP python on the worker node"),
    11005: ("retry", False, "COMP python not usable on the worker node"),
    50115: ("retry", False, "cmsRun wrote no valid job report"),
    50660: ("retry", False, "the job exceeded its memory request"),
    50664: ("retry", False, "the job exceeded its wall time"),
    50669: ("retry", False, "the job was terminated by a signal"),
    60307: ("retry", True, "stage-out failed"),
    60311: ("retry", True, "the site's stage-out command failed"),
    60315: ("retry", True, "stage-out configuration error at the site"),
    60403: ("retry", True, "stage-out timed out"),
}

# Number of decisions kept in a node's state file, so a node that runs many times keeps a
# bounded file.
HISTORY_LENGTH = 50

log = logging.getLogger("postjob")


class PostJobError(Exception):
    """An error that ends the script with INTERNAL_ERROR and one message line."""


class ArgumentError(PostJobError):
    """Invalid command-line arguments."""


class _Parser(argparse.ArgumentParser):
    """ArgumentParser that raises ArgumentError instead of exiting with status 2."""

    def error(self, message):
        usage = " ".join(self.format_usage().split())
        raise ArgumentError("invalid arguments: %s; %s" % (message, usage))

    def exit(self, status=0, message=None):
        if status:
            raise ArgumentError((message or "invalid arguments").strip())
        sys.exit(status)


def _non_negative(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not a whole number" % text) from None
    if value < 0:
        raise argparse.ArgumentTypeError("%r is negative; expected 0 or more" % text)
    return value


def parse_arguments(argv):
    parser = _Parser(prog="postjob.py", description="Decide the outcome of one StepChain DAG node.")
    parser.add_argument("node", help="DAG node name ($JOB)")
    parser.add_argument("return_code", type=int, help="exit code of the node's job ($RETURN)")
    parser.add_argument("retry", type=_non_negative, help="node retry number, 0 at first ($RETRY)")
    parser.add_argument("max_retries", type=_non_negative, help="node retries allowed ($MAX_RETRIES)")
    parser.add_argument("job_id", help="HTCondor job id cluster.proc of the node's job ($JOBID)")
    parser.add_argument("--policy", choices=POLICIES, default="delay",
                        help="delay: defer once, then succeed; report: decide by the job report")
    parser.add_argument("--defer-status", type=int, default=DEFAULT_DEFER_STATUS,
                        help="exit status of the SCRIPT DEFER line (default %(default)s)")
    parser.add_argument("--max-deferrals", type=_non_negative, default=DEFAULT_MAX_DEFERRALS,
                        help="report policy: deferrals allowed per node attempt (default %(default)s)")
    args = parser.parse_args(argv)

    if not NODE_NAME_PATTERN.match(args.node):
        raise ArgumentError(
            "invalid node name %r: expected a letter, then letters, digits, '_' or '-'" % args.node)
    reserved = {status for status, _, _ in EXIT_STATUSES if status != DEFAULT_DEFER_STATUS}
    if args.defer_status in reserved or not 1 <= args.defer_status <= 255:
        raise ArgumentError(
            "invalid --defer-status %d: use 1-255 except %s" % (
                args.defer_status, ", ".join(str(s) for s in sorted(reserved))))
    if not JOB_ID_PATTERN.match(args.job_id):
        raise ArgumentError("invalid job id %r: expected cluster.proc, for example 1234.0" % args.job_id)
    return args


def _utc_now():
    return datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")


def _check_dag_directory():
    for name in (RESULTS_DIR, STATE_DIR):
        if not os.path.isdir(name):
            raise PostJobError(
                "%s/ not found in %s: run postjob.py in the DAG directory made by create-stepchain-dag"
                % (name, os.getcwd()))


def _read_state(path, node):
    try:
        with open(path) as handle:
            state = json.load(handle)
    except (IOError, OSError) as error:
        if error.errno == errno.ENOENT:
            return {"node": node, "deferrals": {}, "history": []}
        raise PostJobError("cannot read POST state %s: %s" % (path, error.strerror)) from error
    except ValueError as error:
        message = "POST state %s is not valid JSON (%s); remove it to reset the node's POST state" % (
            path, error)
        raise PostJobError(message) from error
    if not isinstance(state, dict) or not isinstance(state.get("deferrals"), dict) \
            or not isinstance(state.get("history"), list):
        raise PostJobError(
            "POST state %s has an unexpected layout; remove it to reset the node's POST state" % path)
    return state


def _write_state(path, state):
    """Replace the state file atomically: write a temporary file beside it, then rename."""
    fd, partial = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(state, handle, indent=1, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, path)
    except BaseException:
        os.unlink(partial)
        raise


def _load_fatal_codes():
    """Return the codes of class fatal listed in exit_codes.txt, or an empty set without it."""
    try:
        with open(EXIT_CODES_FILE) as handle:
            lines = handle.readlines()
    except (IOError, OSError) as error:
        if error.errno == errno.ENOENT:
            log.warning("%s not found in the DAG directory; fatal codes come from exit_status %d only",
                        EXIT_CODES_FILE, FATAL_EXIT_STATUS)
            return set()
        raise PostJobError("cannot read %s: %s" % (EXIT_CODES_FILE, error.strerror)) from error
    fatal = set()
    for line in lines:
        fields = line.split()
        if len(fields) >= 3 and fields[0].isdigit() and fields[2] == "fatal":
            fatal.add(int(fields[0]))
    return fatal


def _read_report(path):
    """Return the job report at `path`, or None when HTCondor brought none back."""
    try:
        with open(path) as handle:
            report = json.load(handle)
    except (IOError, OSError) as error:
        if error.errno == errno.ENOENT:
            return None
        raise PostJobError("cannot read job report %s: %s" % (path, error.strerror)) from error
    except ValueError as error:
        raise PostJobError("job report %s is not valid JSON: %s" % (path, error)) from error
    if not isinstance(report, dict):
        raise PostJobError("job report %s is not a JSON object" % path)
    code = report.get("exit_code")
    if isinstance(code, bool) or not isinstance(code, int):
        raise PostJobError("job report %s has no integer exit_code (found %r)" % (path, code))
    return report


def decide_by_report(args, deferrals_used):
    """Return (decision, reason) for the report policy; decision is success, retry, fatal or defer."""
    cluster = JOB_ID_PATTERN.match(args.job_id).group(1)
    path = os.path.join(RESULTS_DIR, REPORT_NAME.format(node=args.node, cluster=cluster))
    report = _read_report(path)
    if report is None:
        return "retry", "no job report at %s for job %s (job exit code %d)" % (
            path, args.job_id, args.return_code)

    code = report["exit_code"]
    if code == 0 and args.return_code == 0:
        return "success", "job %s succeeded" % args.job_id
    if code == 0:
        return "retry", "job report %s says success but the job exited with %d" % (path, args.return_code)

    message = report.get("exit_message") or ""
    if report.get("exit_status") == FATAL_EXIT_STATUS or code in _load_fatal_codes():
        return "fatal", "exit code %d is fatal: %s" % (code, message)
    decision, back_off, reason = RETRY_POLICY.get(code, ("retry", False, "exit code not in the retry policy"))
    reason = "exit code %d: %s%s" % (code, reason, "; " + message if message else "")
    if back_off and deferrals_used < args.max_deferrals:
        return "defer", "%s (deferral %d of %d)" % (reason, deferrals_used + 1, args.max_deferrals)
    return decision, reason


def decide(args, deferrals_used):
    if args.policy == "delay":
        if deferrals_used == 0:
            return "defer", "first POST run for this node attempt"
        return "success", "POST run after the deferral"
    return decide_by_report(args, deferrals_used)


def run(args):
    _check_dag_directory()
    state_path = os.path.join(STATE_DIR, args.node + ".json")
    lock_path = os.path.join(STATE_DIR, args.node + ".lock")

    with open(lock_path, "a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        state = _read_state(state_path, args.node)
        attempt = str(args.retry)
        deferrals_used = int(state["deferrals"].get(attempt, 0))

        decision, reason = decide(args, deferrals_used)
        status = {"success": SUCCESS, "defer": args.defer_status, "retry": RETRY, "fatal": FATAL}[decision]
        if decision == "defer":
            state["deferrals"][attempt] = deferrals_used + 1
        if decision == "retry" and args.retry >= args.max_retries:
            reason += "; no node retries left (%d of %d used)" % (args.retry, args.max_retries)

        state["history"].append({
            "time": _utc_now(), "policy": args.policy, "retry": args.retry, "job_id": args.job_id,
            "return_code": args.return_code, "decision": decision, "exit_status": status, "reason": reason,
        })
        state["history"] = state["history"][-HISTORY_LENGTH:]
        _write_state(state_path, state)

    log.info("node %s job %s retry %d: %s (exit %d): %s",
             args.node, args.job_id, args.retry, decision, status, reason)
    return status


def main(argv=None):
    logging.Formatter.converter = time.gmtime
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="[postjob] %(asctime)sZ %(levelname)s %(message)s",
                        datefmt="%Y-%m-%dT%H:%M:%S")
    try:
        args = parse_arguments(sys.argv[1:] if argv is None else argv)
        return run(args)
    except PostJobError as error:
        log.error("%s (exit %d)", error, INTERNAL_ERROR)
    except Exception as error:  # any crash must end with INTERNAL_ERROR, never Python's status 1
        log.error("internal error: %s: %s (exit %d)", type(error).__name__, error, INTERNAL_ERROR)
    return INTERNAL_ERROR


if __name__ == "__main__":
    sys.exit(main())
