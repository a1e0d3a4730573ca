"""Turn the event splitter's output into an HTCondor DAG directory for condor_submit_dag.

The DAG directory is the directory of --output-dag. It receives the DAG file, the submit file,
postjob.py, every file of the kit's ep_scripts/ directory, WMCore.zip, and the directories
log/ out/ err/ results/ post_state/. Everything is checked first and assembled in a temporary
directory inside the DAG directory, then moved into place with the DAG file last, so a failed run
leaves no DAG behind. docs/dag.md describes the result for operators.

Exit statuses: 0 written, 1 invalid input or environment (one error line), 2 invalid options,
128 + the signal number when SIGINT or SIGTERM stops it.
"""
import argparse
import logging
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

from micro_agent import dag_file, postjob, preflight, submit_file
from micro_agent.preflight import InputError
from micro_agent.wmcore_bundle import WMCoreNotInstalled, build_wmcore_zip

log = logging.getLogger("create-stepchain-dag")

INPUT_ERROR = 1
DEFAULT_EP_SCRIPTS_DIR = Path(__file__).resolve().parents[3] / "ep_scripts"
WMCORE_ZIP = "WMCore.zip"
DAG_SUBDIRECTORIES = ("log", "out", "err", postjob.RESULTS_DIR, postjob.STATE_DIR)
RESERVED_POST_STATUSES = (postjob.SUCCESS, postjob.FATAL, postjob.RETRY, postjob.INTERNAL_ERROR)
# Largest value of an integer option. The 24.12 bindings store a max_retries above 2**63-1 as
# 2**63-1 without an error, which means no limit.
# NOTE: DAGMan's own limits for RETRY, DEFER and MAXJOBS were not checked here. 2**31-1 fits a C int.
MAX_OPTION_VALUE = 2**31 - 1
# Largest STAGE_OUT_RETRIES and STAGE_OUT_RETRY_PAUSE that execute_stepchain.sh accepts.
MAX_STAGE_OUT_SETTING = 9999


def _whole_number(text, minimum):
    """Parse an integer option from `minimum` to MAX_OPTION_VALUE."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not a whole number" % text) from None
    if not minimum <= value <= MAX_OPTION_VALUE:
        message = "%r is out of range; expected %d to %d" % (text, minimum, MAX_OPTION_VALUE)
        raise argparse.ArgumentTypeError(message)
    return value


def _non_negative_int(text):
    return _whole_number(text, 0)


def _stage_out_setting(text):
    """Parse a stage-out retry count or pause; execute_stepchain.sh accepts 0 to 9999 for both."""
    value = _whole_number(text, 0)
    if value > MAX_STAGE_OUT_SETTING:
        raise argparse.ArgumentTypeError(
            "%r is out of range; the worker accepts 0 to %d" % (text, MAX_STAGE_OUT_SETTING))
    return value


def _positive_int(text):
    return _whole_number(text, 1)


def _defer_status(text):
    value = _whole_number(text, 1)
    if not 1 <= value <= 255 or value in RESERVED_POST_STATUSES:
        raise argparse.ArgumentTypeError(
            "%r: use 1-255 except the POST statuses %s" % (text, ", ".join(map(str, RESERVED_POST_STATUSES))))
    return value


def _margin(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not a number" % text) from None
    if not 1.0 <= value <= 100.0:
        raise argparse.ArgumentTypeError("%r: expected a factor from 1 to 100" % text)
    return value


def _file_name(text):
    if not text or "/" in text or text in (".", "..") or preflight.UNSAFE_PATH_CHARACTERS.search(text):
        raise argparse.ArgumentTypeError(
            "%r: expected a plain file name without '/', whitespace, quotes, ',', '$' or ';'" % text)
    return text


def build_parser():
    parser = argparse.ArgumentParser(
        prog="create-stepchain-dag",
        description="Write an HTCondor DAG that runs every job of a split StepChain request.")
    required = parser.add_argument_group("required")
    required.add_argument("--event-splitter-dir", type=Path, required=True,
                          help="directory with job1.json..jobN.json and request_psets.tar.gz")
    required.add_argument("--proxy", type=Path, required=True, help="X.509 proxy file given to every job")
    required.add_argument("--sitelist", type=Path, required=True,
                          help="file with one CMS site name per line ('#' starts a comment)")

    parser.add_argument("--output-dag", type=Path, default=Path("stepchain.dag"),
                        help="DAG file to write; its directory becomes the DAG directory "
                             "(default %(default)s)")
    parser.add_argument("--output-submit", type=_file_name, default="job.submit",
                        help="name of the submit file in the DAG directory (default %(default)s)")
    parser.add_argument("--executable", type=_file_name, default="run.sh",
                        help="worker executable, a file of --ep-scripts-dir (default %(default)s)")
    parser.add_argument("--ep-scripts-dir", type=Path, default=DEFAULT_EP_SCRIPTS_DIR,
                        help="worker scripts; every regular file is sent with each job (default %(default)s)")
    parser.add_argument("--request", type=Path,
                        help="request.json to read resources from (default: the one in request_psets.tar.gz)")
    parser.add_argument("--max-retries", type=_non_negative_int, default=3,
                        help="job-level retries by HTCondor, not after exit status 193 (default %(default)s)")
    parser.add_argument("--stage-out-retries", type=_stage_out_setting, default=3,
                        help="stage-out retries per file on the worker, after the first attempt "
                             "(default %(default)s)")
    parser.add_argument("--stage-out-retry-pause", type=_stage_out_setting, default=600,
                        help="seconds the worker waits after each failed stage-out attempt "
                             "(default %(default)s)")
    parser.add_argument("--dag-retries", type=_non_negative_int, default=2,
                        help="DAGMan node retries after a failed POST decision, not after a fatal one "
                             "(default %(default)s)")
    parser.add_argument("--post-policy", choices=postjob.POLICIES, default="delay",
                        help="delay: defer each node once, then succeed; report: decide by the job report "
                             "(default %(default)s)")
    parser.add_argument("--post-defer-delay", type=_non_negative_int, default=21600,
                        help="seconds DAGMan waits before running a deferred POST script again "
                             "(default %(default)s)")
    parser.add_argument("--post-defer-status", type=_defer_status, default=postjob.DEFAULT_DEFER_STATUS,
                        help="POST exit status that makes DAGMan defer (default %(default)s)")
    parser.add_argument("--max-deferrals", type=_non_negative_int, default=postjob.DEFAULT_MAX_DEFERRALS,
                        help="report policy: deferrals per node attempt before a retry (default %(default)s)")
    parser.add_argument("--max-jobs", type=_non_negative_int, default=2000,
                        help="nodes with a job in the queue at once (MAXJOBS); 0 for no limit "
                             "(default %(default)s)")
    parser.add_argument("--events-per-job", type=_positive_int,
                        help="events of a full job for the wall time (default: job1.json's step-1 maxEvents, "
                             "else Step1 EventsPerJob)")
    parser.add_argument("--wall-time-margin", type=_margin, default=1.5,
                        help="factor on TimePerEvent x events per job for +MaxWallTimeMins "
                             "(default %(default)s)")
    return parser


def _is_scratch_name(name):
    """Tell whether the job's scratch directory uses `name` for a splitter input or a worker output.

    A worker script of that name would be sent with every job, and a stale job_report.json among
    them would come back as the job's report when the worker dies before writing its own.
    """
    return (name in submit_file.WORKER_OUTPUT_FILES or name == preflight.TARBALL_NAME
            or preflight.JOB_FILE_PATTERN.match(name) is not None)


def _ep_script_files(directory, executable, reserved_names, chosen_names):
    """Return the regular files of the worker script directory, by name.

    `chosen_names` maps the DAG directory names set on the command line to their options.
    """
    if not directory.is_dir():
        raise InputError("worker script directory %s not found: pass --ep-scripts-dir DIR" % directory)
    files = sorted(p for p in directory.iterdir() if p.is_file() and not p.name.startswith("."))
    names = [p.name for p in files]
    if executable not in names:
        raise InputError("executable %s not found in %s: pass --executable NAME or --ep-scripts-dir DIR"
                         % (executable, directory))
    for name, option in sorted(chosen_names.items()):
        if name in names:
            raise InputError("%s %s is also the name of a worker script in %s: choose another name"
                             % (option, name, directory))
    scratch_clashes = sorted(name for name in names if _is_scratch_name(name))
    if scratch_clashes:
        raise InputError("worker script directory %s contains %s, which each job writes or receives "
                         "itself: remove them from that directory" % (directory, ", ".join(scratch_clashes)))
    clashes = sorted(set(names) & reserved_names)
    if clashes:
        raise InputError("worker script directory %s contains %s, which the DAG directory uses itself: "
                         "rename them" % (directory, ", ".join(clashes)))
    for path in files:
        preflight.check_submit_path(path.name, "--ep-scripts-dir file")
    return files


def _check_targets_free(dag_dir, names):
    existing = sorted(name for name in names if os.path.lexists(dag_dir / name))
    if existing:
        raise InputError("%s already contains %s from an earlier DAG: choose a new directory with "
                         "--output-dag DIR/stepchain.dag or remove them" % (dag_dir, ", ".join(existing)))


def _assemble(staging, options, ep_files, submit_text, dag_settings):
    for path in ep_files:
        shutil.copy2(path, staging / path.name)
    os.chmod(staging / options.executable, 0o755)
    shutil.copy2(postjob.__file__, staging / dag_settings.post_script)
    os.chmod(staging / dag_settings.post_script, 0o755)
    try:
        build_wmcore_zip(staging / WMCORE_ZIP)
    except WMCoreNotInstalled as error:
        raise InputError(str(error)) from error
    for name in DAG_SUBDIRECTORIES:
        (staging / name).mkdir()
    (staging / options.output_submit).write_text(submit_text)
    dag_file.write_dag(staging / options.output_dag.name, dag_settings)
    preflight.check_dag_syntax(staging / options.output_dag.name)


def create_dag(options):
    """Check every input, then write the DAG directory; return the DAG file's path."""
    dag_path = options.output_dag.resolve()
    dag_dir = dag_path.parent
    if dag_path.suffix == "" or preflight.UNSAFE_PATH_CHARACTERS.search(dag_path.name):
        raise InputError("--output-dag %s: expected a file name like stepchain.dag without whitespace, "
                         "quotes, ',', '$' or ';'" % options.output_dag)

    proxy = options.proxy.resolve()
    preflight.check_submit_path(proxy, "--proxy")
    preflight.check_proxy(proxy)

    splitter_dir = options.event_splitter_dir.resolve()
    preflight.check_submit_path(splitter_dir, "--event-splitter-dir")
    output = preflight.scan_splitter_output(splitter_dir)
    sites = submit_file.read_site_list(options.sitelist)

    # The workers read the tarball's request.json, so the tarball is checked even with --request.
    request = preflight.read_request_from_tarball(output.tarball)
    if options.request:
        request = preflight.read_json_file(options.request, "request")
    if not isinstance(request, dict):
        raise InputError("request.json is not a JSON object: pass the ReqMgr2 request")
    events = options.events_per_job
    if events is None:
        first_job = preflight.read_json_file(output.job_file(1), "job file")
        events = submit_file.events_per_job(request, first_job)
    resources = submit_file.derive_resources(request, events, options.wall_time_margin)

    post_script = "postjob.py"
    own_names = {dag_path.name, options.output_submit, post_script, WMCORE_ZIP, *DAG_SUBDIRECTORIES}
    if len(own_names) != 4 + len(DAG_SUBDIRECTORIES):
        raise InputError("--output-dag %s and --output-submit %s clash with each other or with %s: "
                         "choose other names" % (dag_path.name, options.output_submit,
                                                 ", ".join([post_script, WMCORE_ZIP, *DAG_SUBDIRECTORIES])))
    chosen_names = {dag_path.name: "--output-dag", options.output_submit: "--output-submit"}
    ep_files = _ep_script_files(options.ep_scripts_dir.resolve(), options.executable, own_names, chosen_names)
    if dag_dir.exists():
        _check_targets_free(dag_dir, own_names | {p.name for p in ep_files})

    settings = submit_file.SubmitSettings(
        executable=options.executable,
        input_files=tuple(p.name for p in ep_files if p.name != options.executable) + (WMCORE_ZIP,),
        splitter_dir=str(splitter_dir),
        proxy=str(proxy),
        sites=sites,
        resources=resources,
        max_retries=options.max_retries,
        stage_out_retries=options.stage_out_retries,
        stage_out_retry_pause=options.stage_out_retry_pause,
    )
    submit_text = submit_file.render_submit(settings)
    preflight.check_submit_text(submit_text, {"node_name": dag_file.node_name(1), "job_index": "1"}, proxy)

    dag_settings = dag_file.DagSettings(
        job_count=output.job_count,
        submit_file=options.output_submit,
        post_script=post_script,
        node_retries=options.dag_retries,
        post_policy=options.post_policy,
        defer_status=options.post_defer_status,
        defer_delay=options.post_defer_delay,
        max_deferrals=options.max_deferrals,
        max_jobs=options.max_jobs,
        header=(
            "StepChain DAG written by create-stepchain-dag on %s: %d nodes, one per job file in %s"
            % (preflight.utc_now(), output.job_count, splitter_dir),
            "Submit it from this directory: condor_submit_dag %s" % dag_path.name,
            "(paths here and in %s are relative to the directory condor_submit_dag runs in)."
            % options.output_submit,
            "POST statuses: 0 success, %d defer, %d fatal (no node retry), %d retry, %d internal error."
            % (options.post_defer_status, postjob.FATAL, postjob.RETRY, postjob.INTERNAL_ERROR),
        ),
    )

    # Only these names move into the DAG directory. Anything else in the staging directory, such as
    # the .condor.sub file that the DAG syntax check writes, is removed with it.
    names = sorted(own_names - {dag_path.name} | {p.name for p in ep_files})
    try:
        dag_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".create-stepchain-dag.", dir=dag_dir))
    except OSError as error:
        raise InputError("cannot create a directory in %s (%s): choose a writable --output-dag directory"
                         % (dag_dir, error.strerror)) from error
    try:
        _assemble(staging, options, ep_files, submit_text, dag_settings)
        _check_targets_free(dag_dir, names + [dag_path.name])
        for name in names:
            os.rename(staging / name, dag_dir / name)
        os.rename(staging / dag_path.name, dag_path)
    except OSError as error:
        message = ("cannot write the DAG directory %s (%s: %s): free space or fix permissions, remove what "
                   "was written, and run again" % (dag_dir, error.filename, error.strerror))
        raise InputError(message) from error
    finally:
        shutil.rmtree(staging, ignore_errors=True)

    log.info("wrote %s: %d nodes, %d cpus, %d MB, %d min wall time, REQUIRED_OS %s, %d sites",
             dag_path, output.job_count, resources.cpus, resources.memory_mb,
             resources.max_wall_time_mins, resources.required_os, len(sites))
    log.info("submit with: cd %s && condor_submit_dag %s", dag_dir, dag_path.name)
    return dag_path


class Interrupted(Exception):
    """SIGINT or SIGTERM arrived; raised so that the staging directory is removed on the way out."""

    def __init__(self, signal_number):
        super().__init__(signal_number)
        self.signal_number = signal_number


def _raise_interrupted(signal_number, frame):
    raise Interrupted(signal_number)


def main(argv=None):
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="[create-stepchain-dag] %(levelname)s %(message)s")
    options = build_parser().parse_args(argv)
    previous_handlers = {number: signal.signal(number, _raise_interrupted)
                         for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        create_dag(options)
    except InputError as error:
        log.error("%s", error)
        return INPUT_ERROR
    except Interrupted as interruption:
        log.error("interrupted by signal %d. The DAG file is written last, so if %s is missing, run again "
                  "and remove the files it reports from an earlier DAG", interruption.signal_number,
                  options.output_dag)
        return 128 + interruption.signal_number
    finally:
        for number, handler in previous_handlers.items():
            signal.signal(number, handler)
    return 0


if __name__ == "__main__":
    sys.exit(main())
