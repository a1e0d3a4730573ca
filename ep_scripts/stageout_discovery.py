"""Find a job's output files from its FrameworkJobReports and give each its unmerged LFN.

The files of a step come from the step's FrameworkJobReport.xml (module label, PFN, GUID), never from
file-name guesses. The data tier comes from the step's output_modules.json, written by the executor
from each output module's dataset.dataTier, because the report's DataType is not the tier and a
module label does not determine it. Python 3.6 with WMCore.
"""
import json
import os

from stageout_exitcodes import StageOutExit
from WMCore.FwkJobReport.Report import FwkJobReportException, Report

REPORT_NAME = "FrameworkJobReport.xml"
OUTPUT_MODULES_NAME = "output_modules.json"
JOB_FILE_NAME = "job.json"
BAD_INPUT = "BAD_ARGUMENTS"
BAD_REPORT = "NO_VALID_JOB_REPORT"
MISSING_OUTPUT = "OUTPUT_FILE_MISSING"


def load_json_object(path, description):
    """Read a JSON file that must contain an object; errors name the file."""
    try:
        with open(path, encoding="utf-8") as source:
            content = json.load(source)
    except FileNotFoundError:
        raise StageOutExit(BAD_INPUT, "%s %s: file not found" % (description, path)) from None
    except ValueError as exc:
        raise StageOutExit(BAD_INPUT, "%s %s is not valid JSON: %s" % (description, path, exc)) from None
    except OSError as exc:
        raise StageOutExit(BAD_INPUT, "%s %s cannot be read: %s" % (description, path, exc)) from None
    if not isinstance(content, dict):
        raise StageOutExit(BAD_INPUT, "%s %s must contain a JSON object" % (description, path))
    return content


def _is_count(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def read_job_index(work_dir, job_index):
    """Return the job index: the --job-index value, else "job_index" of <work dir>/job.json."""
    if job_index is not None:
        return job_index
    path = os.path.join(work_dir, JOB_FILE_NAME)
    value = load_json_object(path, "job file").get("job_index")
    if not _is_count(value):
        raise StageOutExit(BAD_INPUT, "job file %s: \"job_index\" must be a non-negative integer, not %r; "
                                      "or pass --job-index" % (path, value))
    return value


def steps_to_keep(request, request_path):
    """Return [(number, step dict)] for Step1..StepN whose KeepOutput is true (WMCore's default)."""
    count = request.get("StepChain")
    if not _is_count(count) or count < 1:
        raise StageOutExit(BAD_INPUT, "request %s: \"StepChain\" must be a positive integer, not %r"
                           % (request_path, count))
    steps = []
    for number in range(1, count + 1):
        step = request.get("Step%d" % number)
        if not isinstance(step, dict):
            raise StageOutExit(BAD_INPUT, "request %s: Step%d is missing or not an object"
                               % (request_path, number))
        keep = step.get("KeepOutput", True)
        if not isinstance(keep, bool):
            raise StageOutExit(BAD_INPUT, "request %s: Step%d KeepOutput must be true or false, not %r"
                               % (request_path, number, keep))
        if keep:
            steps.append((number, step))
    return steps


def step_value(request, number, step, key, request_path):
    """Return a step's setting: its own value over the top-level one, dicts resolved by StepName."""
    value = step.get(key)
    if value is None:
        value = request.get(key)
    if isinstance(value, dict):
        name = step.get("StepName")
        if name not in value:
            raise StageOutExit(BAD_INPUT, "request %s: %s has no entry for Step%d's StepName %r"
                               % (request_path, key, number, name))
        value = value[name]
    if value is None or value == "":
        raise StageOutExit(BAD_INPUT, "request %s: no %s for Step%d, neither in the step nor at the top "
                                      "level" % (request_path, key, number))
    return value


def unmerged_lfn(request, number, step, data_tier, job_index, guid, request_path):
    """Build the WMAgent unmerged LFN of one output file.

    <UnmergedLFNBase>/<AcquisitionEra>/<PrimaryDataset>/<DataTier>/<ProcessingString>-v<ProcessingVersion>/
    <NNNN>/<GUID>.root, where NNNN is the job index divided by 1000 in 4 digits. The GUID, unique per
    file, keeps the LFNs of two jobs apart.
    """
    base = str(step_value(request, number, step, "UnmergedLFNBase", request_path)).rstrip("/")
    era = step_value(request, number, step, "AcquisitionEra", request_path)
    primary = step_value(request, number, step, "PrimaryDataset", request_path)
    processing = step_value(request, number, step, "ProcessingString", request_path)
    version = step_value(request, number, step, "ProcessingVersion", request_path)
    try:
        version = int(version)
    except (TypeError, ValueError):
        raise StageOutExit(BAD_INPUT, "request %s: ProcessingVersion of Step%d must be an integer, not %r"
                           % (request_path, number, version)) from None
    parts = [base, era, primary, data_tier, "%s-v%d" % (processing, version), "%04d" % (job_index // 1000),
             "%s.root" % guid]
    return "/".join(str(part).strip("/") if index else str(part) for index, part in enumerate(parts))


def read_report_files(report_path, number):
    """Parse a step's FrameworkJobReport with WMCore; return its output files as dicts."""
    if not os.path.isfile(report_path):
        raise StageOutExit(BAD_REPORT, "step %d keeps its output but its report %s does not exist"
                           % (number, report_path))
    report = Report("cmsRun%d" % number)
    try:
        report.parse(report_path, "cmsRun%d" % number)
    except FwkJobReportException as exc:
        reason = str(getattr(exc, "message", exc)).replace("\n", " ")
        raise StageOutExit(BAD_REPORT, "report %s of step %d cannot be parsed: %s"
                           % (report_path, number, reason)) from None
    exit_code = report.getStepExitCode("cmsRun%d" % number)
    if exit_code:
        raise StageOutExit(exit_code, "report %s of step %d records a cmsRun failure (FrameworkError %s); "
                                      "nothing is staged out" % (report_path, number, exit_code))
    return report.getAllFilesFromStep("cmsRun%d" % number)


def _local_path(step_dir, pfn):
    path = pfn[len("file:"):] if pfn.startswith("file:") else pfn
    return os.path.normpath(os.path.join(step_dir, path))


def discover_files(request, request_path, work_dir, job_index):
    """Return one plan entry per output file of every KeepOutput step, LFN included."""
    files = []
    for number, step in steps_to_keep(request, request_path):
        step_dir = os.path.join(work_dir, "step%d" % number)
        report_path = os.path.join(step_dir, REPORT_NAME)
        modules_path = os.path.join(step_dir, OUTPUT_MODULES_NAME)
        report_files = read_report_files(report_path, number)
        modules = load_json_object(modules_path, "output module list")

        reported = set()
        for report_file in report_files:
            label = report_file.get("module_label") or report_file.get("outputModule")
            pfn = report_file.get("pfn") or ""
            guid = report_file.get("guid") or ""
            reported.add(label)
            module = modules.get(label)
            if not isinstance(module, dict) or not module.get("data_tier"):
                raise StageOutExit(BAD_INPUT, "%s has no data_tier for output module %s of step %d"
                                   % (modules_path, label, number))
            if not pfn or not guid:
                raise StageOutExit(BAD_REPORT, "report %s: the file of module %s has no PFN or GUID"
                                   % (report_path, label))
            local_path = _local_path(step_dir, pfn)
            if not os.path.isfile(local_path) or os.path.getsize(local_path) == 0:
                raise StageOutExit(MISSING_OUTPUT, "output file %s of step %d module %s is missing or empty"
                                   % (local_path, number, label))
            lfn = unmerged_lfn(request, number, step, module["data_tier"], job_index, guid, request_path)
            files.append({"step": number, "module": label, "local_path": local_path, "lfn": lfn})

        unreported = sorted(set(modules) - reported)
        if unreported:
            raise StageOutExit(BAD_REPORT, "report %s lists no file for output module(s) %s of %s"
                               % (report_path, ", ".join(unreported), modules_path))
    return files
