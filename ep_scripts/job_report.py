"""Write and update job_report.json, the record of one StepChain job (format: docs/job-report.md).

execute_stepchain.sh calls one subcommand per event of the job. Every call reads the report, changes
it and replaces it atomically (write aside, then rename), so readers never see half a file.

  init       create the report with the host, the site and the start time
  plan       list the request's steps, all still pending
  step-start record a step's start time
  step-end   judge a finished cmsRun from its exit status, its FrameworkJobReport and its declared
             outputs. Record the step's result and output files, and print "<code><TAB><message>".
  step-fail  record a failure that happened before cmsRun ran (scram, tweaks)
  stage-out  merge stage_out.py's results (LFN, PFN, PNN) or the reason stage-out was skipped
  finish     mark steps that never ran as skipped (99108) and write the job's final code

Runs on the worker node under Python 3.6 with the standard library only. A FrameworkJobReport
that does not parse is a job failure (50115), never a traceback.
"""
import argparse
import datetime
import json
import os
import socket
import sys
import tempfile
import xml.etree.ElementTree as ElementTree

from stageout_transfer import file_size_and_adler32

FORMAT_VERSION = 1

NO_VALID_JOB_REPORT = 50115
OUTPUT_FILE_MISSING = 60302
STEP_SKIPPED = 99108


class ReportError(Exception):
    """The job report or one of its inputs cannot be read or written."""


def utc_now():
    return datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")


def read_json(path, description):
    try:
        with open(path, "rb") as handle:
            return json.loads(handle.read().decode("utf-8"))
    except (OSError, ValueError) as error:
        raise ReportError("cannot read %s %s: %s" % (description, path, error)) from None


def write_json_atomically(path, document):
    directory = os.path.dirname(os.path.abspath(path))
    descriptor, partial = tempfile.mkstemp(prefix=".job_report.", suffix=".json", dir=directory)
    try:
        with os.fdopen(descriptor, "w") as handle:
            json.dump(document, handle, indent=2, sort_keys=False)
            handle.write("\n")
        os.chmod(partial, 0o644)
        os.replace(partial, path)
    except BaseException:
        if os.path.exists(partial):
            os.unlink(partial)
        raise


def find_step(report, number):
    for step in report["steps"]:
        if step["step"] == number:
            return step
    raise ReportError("step %d is not in the job report; run the plan subcommand first" % number)


# FrameworkJobReport parsing -------------------------------------------------------------------


def parse_framework_job_report(path):
    """Return (error_exit_status, error_type, files, events_read) from a FrameworkJobReport.

    Raises ReportError when the file is missing, empty or not well-formed XML (real reports have
    held unescaped '&' and NUL bytes). error_exit_status is None without a FrameworkError.
    """
    try:
        with open(path, "rb") as handle:
            content = handle.read()
    except OSError as error:
        raise ReportError("FrameworkJobReport %s is missing or unreadable: %s"
                          % (path, error.strerror)) from None
    if not content.strip():
        raise ReportError("FrameworkJobReport %s is empty" % path)
    try:
        root = ElementTree.fromstring(content)
    except ElementTree.ParseError as error:
        raise ReportError("FrameworkJobReport %s is not well-formed XML: %s" % (path, error)) from None
    if root.tag != "FrameworkJobReport":
        raise ReportError("FrameworkJobReport %s has root element <%s>" % (path, root.tag))

    error_exit_status = None
    error_type = None
    for framework_error in root.iter("FrameworkError"):
        status_text = (framework_error.get("ExitStatus") or "").strip()
        try:
            status = int(status_text)
        except ValueError:
            raise ReportError("FrameworkJobReport %s has FrameworkError ExitStatus %r, not a number"
                              % (path, status_text)) from None
        if status != 0 and error_exit_status is None:
            error_exit_status = status
            error_type = framework_error.get("Type") or ""

    files = {}
    for file_element in root.findall("File"):
        label = (file_element.findtext("ModuleLabel") or "").strip()
        if not label:
            continue
        files[label] = {
            "guid": (file_element.findtext("GUID") or "").strip() or None,
            "events": parse_count(file_element.findtext("TotalEvents")),
            "pfn": (file_element.findtext("PFN") or "").strip(),
        }

    events_read = None
    for input_file in root.findall("InputFile"):
        count = parse_count(input_file.findtext("EventsRead"))
        if count is not None:
            events_read = (events_read or 0) + count
    return error_exit_status, error_type, files, events_read


def parse_count(text):
    try:
        return int((text or "").strip())
    except ValueError:
        return None


def judge_step(step_dir, cmsrun_exit_status):
    """Return (code, message, output_files, events) for a step whose cmsRun has ended.

    The FrameworkError ExitStatus of the report wins over cmsRun's exit status, because the
    kernel keeps only 8 bits of it (8021 arrives as 85). A run that exited 0 without a valid
    report fails with 50115; a declared output file that is missing or empty fails with 60302.
    """
    report_path = os.path.join(step_dir, "FrameworkJobReport.xml")
    try:
        error_status, error_type, fjr_files, events_read = parse_framework_job_report(report_path)
    except ReportError as error:
        if cmsrun_exit_status != 0:
            message = "cmsRun exited with status %d and left no valid report (%s)" % (
                cmsrun_exit_status, error)
            return cmsrun_exit_status, message, [], None
        return NO_VALID_JOB_REPORT, "cmsRun exited 0 but %s" % error, [], None

    if error_status is not None:
        return (error_status,
                "cmsRun failed with FrameworkError ExitStatus %d (%s), exit status %d"
                % (error_status, error_type, cmsrun_exit_status),
                [], None)
    if cmsrun_exit_status != 0:
        return (cmsrun_exit_status,
                "cmsRun exited with status %d and its report names no FrameworkError" % cmsrun_exit_status,
                [], None)

    modules_path = os.path.join(step_dir, "output_modules.json")
    try:
        modules = read_json(modules_path, "output module list")
    except ReportError as error:
        return NO_VALID_JOB_REPORT, str(error), [], None

    step_name = os.path.basename(os.path.normpath(step_dir))
    output_files = []
    events = None
    for label in sorted(modules):
        module = modules[label]
        relative = os.path.join(step_name, module["file_name"])
        path = os.path.join(step_dir, module["file_name"])
        if not os.path.isfile(path):
            return OUTPUT_FILE_MISSING, "output file %s of module %s is missing" % (relative, label), [], None
        size = os.path.getsize(path)
        if size == 0:
            return OUTPUT_FILE_MISSING, "output file %s of module %s is empty" % (relative, label), [], None
        details = fjr_files.get(label, {})
        if details.get("events") is not None:
            events = details["events"] if events is None else max(events, details["events"])
        output_files.append({
            "module": label,
            "data_tier": module.get("data_tier"),
            "guid": details.get("guid"),
            "local_path": relative,
            "size": size,
            "adler32": file_size_and_adler32(path)[1],
            "events": details.get("events"),
            "lfn": None,
            "pfn": None,
            "pnn": None,
        })
    if events is None:
        events = events_read
    return 0, "", output_files, events


# Subcommands ----------------------------------------------------------------------------------


def command_init(options):
    report = {
        "format_version": FORMAT_VERSION,
        "job_index": None,
        "exit_code": None,
        "exit_message": "",
        "exit_status": None,
        "host": options.host or socket.getfqdn(),
        "site": options.site or None,
        "start_time": utc_now(),
        "end_time": None,
        "steps": [],
        "stage_out": None,
    }
    write_json_atomically(options.report, report)


def command_plan(options, report):
    plan = read_json(options.plan, "job plan")
    report["job_index"] = plan["job_index"]
    report["steps"] = [
        {
            "step": step["step"],
            "name": step["name"],
            "cmssw_version": step["cmssw_version"],
            "scram_arch": step["scram_arch"],
            "keep_output": step["keep_output"],
            "exit_code": None,
            "exit_message": "",
            "start_time": None,
            "stop_time": None,
            "events": None,
            "output_files": [],
        }
        for step in plan["steps"]
    ]


def command_step_start(options, report):
    find_step(report, options.step)["start_time"] = utc_now()


def command_step_end(options, report):
    step = find_step(report, options.step)
    code, message, output_files, events = judge_step(options.step_dir, options.cmsrun_exit_status)
    step.update(exit_code=code, exit_message=message, stop_time=utc_now(), events=events,
                output_files=output_files)
    print("%d\t%s" % (code, message))


def command_step_fail(options, report):
    step = find_step(report, options.step)
    step.update(exit_code=options.code, exit_message=options.message, stop_time=utc_now())


def command_stage_out(options, report):
    if options.skipped_reason is not None:
        report["stage_out"] = {"exit_code": 0, "exit_message": "", "skipped_reason": options.skipped_reason}
        return
    try:
        results = read_json(options.results, "stage-out results")
        code = int(results["exit_code"])
        message = str(results.get("exit_message") or "")
        staged = results.get("files") or []
    except (ReportError, KeyError, TypeError, ValueError) as error:
        code = options.fallback_code
        message = "stage_out.py exited with status %d and left no usable results file (%s)" % (
            options.exit_status, error)
        staged = []
    if code == 0 and options.exit_status != 0:
        code = options.fallback_code
        message = ("stage_out.py exited with status %d but its results file reports success"
                   % options.exit_status)
    report["stage_out"] = {"exit_code": code, "exit_message": message, "skipped_reason": None}
    if code == 0:
        merge_staged_files(report, staged)
    print("%d\t%s" % (code, message))


def merge_staged_files(report, staged):
    by_key = {(entry.get("step"), entry.get("module")): entry for entry in staged if isinstance(entry, dict)}
    for step in report["steps"]:
        for output in step["output_files"]:
            entry = by_key.get((step["step"], output["module"]))
            if entry is not None:
                output.update(lfn=entry.get("lfn"), pfn=entry.get("pfn"), pnn=entry.get("pnn"))


def command_finish(options, report):
    for step in report["steps"]:
        if step["exit_code"] is None:
            step.update(exit_code=STEP_SKIPPED,
                        exit_message="step skipped after a failure in an earlier step")
    if options.code != 0 and options.step is not None:
        step = find_step(report, options.step)
        if step["exit_code"] in (None, 0, STEP_SKIPPED):
            step.update(exit_code=options.code, exit_message=options.message, stop_time=utc_now())
    report.update(exit_code=options.code, exit_message=options.message, exit_status=options.exit_status,
                  end_time=utc_now())


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--report", required=True, help="path of job_report.json")
    commands = parser.add_subparsers(dest="command")

    init = commands.add_parser("init")
    init.add_argument("--site", default="", help="CMS site name, empty when unknown")
    init.add_argument("--host", default="", help="worker node name; default: this host's FQDN")

    plan = commands.add_parser("plan")
    plan.add_argument("--plan", required=True, help="plan.json written by job_plan.py")

    start = commands.add_parser("step-start")
    start.add_argument("--step", type=int, required=True)

    end = commands.add_parser("step-end")
    end.add_argument("--step", type=int, required=True)
    end.add_argument("--step-dir", required=True, help="the step's directory in the work area")
    end.add_argument("--cmsrun-exit-status", type=int, required=True)

    fail = commands.add_parser("step-fail")
    fail.add_argument("--step", type=int, required=True)
    fail.add_argument("--code", type=int, required=True)
    fail.add_argument("--message", required=True)

    stage = commands.add_parser("stage-out")
    stage.add_argument("--results", help="stage_out_results.json written by stage_out.py")
    stage.add_argument("--exit-status", type=int, default=0, help="stage_out.py's process exit status")
    stage.add_argument("--fallback-code", type=int, default=60307,
                       help="code recorded when stage_out.py left no usable results")
    stage.add_argument("--skipped-reason", help="why stage-out did not run")

    finish = commands.add_parser("finish")
    finish.add_argument("--code", type=int, required=True)
    finish.add_argument("--message", default="")
    finish.add_argument("--exit-status", type=int, required=True)
    finish.add_argument("--step", type=int, help="the step that failed, when one did")
    return parser


HANDLERS = {
    "plan": command_plan,
    "step-start": command_step_start,
    "step-end": command_step_end,
    "step-fail": command_step_fail,
    "stage-out": command_stage_out,
    "finish": command_finish,
}


def main(argv=None):
    options = build_parser().parse_args(argv)
    if options.command is None:
        build_parser().error("a subcommand is required")
    try:
        if options.command == "init":
            command_init(options)
            return 0
        report = read_json(options.report, "job report")
        HANDLERS[options.command](options, report)
        write_json_atomically(options.report, report)
    except (ReportError, OSError, KeyError) as error:
        sys.stderr.write("[job_report] ERROR: %s failed: %s\n" % (options.command, error))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
