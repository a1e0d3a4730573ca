"""The HTCondor submit description shared by every node of a StepChain DAG.

DAGMan submits it once per node with the node's VARS (node_name, job_index) as macros.
"""
import math
import re
from dataclasses import dataclass

from micro_agent import postjob
from micro_agent.preflight import TARBALL_NAME, InputError

# CMS site names as WMCore's Lexicon.cmsname checks them: tier, country, then one or more parts.
SITE_NAME_PATTERN = re.compile(r"^T[0-3]_[A-Z]{2}(_[A-Za-z0-9]+)+$")

# Operating system of a SCRAM architecture, by its prefix (slc7_amd64_gcc700 -> slc7). The values
# are the REQUIRED_OS names that the CMS global pool uses to pick a container image.
SCRAM_OS_TO_REQUIRED_OS = {
    "slc6": "rhel6",
    "slc7": "rhel7", "cc7": "rhel7",
    "el8": "rhel8", "cc8": "rhel8", "cs8": "rhel8", "alma8": "rhel8",
    "el9": "rhel9", "cs9": "rhel9", "alma9": "rhel9",
}

# The worker's process exit status for a fatal failure (exit_codes.txt): job-level retries stop on it.
WORKER_FATAL_EXIT_STATUS = 193
WORKER_OUTPUT_FILES = ("job_report.json", "output.tgz")


@dataclass(frozen=True)
class Resources:
    """Resources that each job of the request requests from the pool."""

    cpus: int
    memory_mb: int
    max_wall_time_mins: int
    required_os: str


@dataclass(frozen=True)
class SubmitSettings:
    """Settings that the submit description is written from."""

    executable: str
    input_files: tuple  # ep_scripts files and WMCore.zip, relative to the DAG directory
    splitter_dir: str   # absolute path of the directory with job<N>.json and the tarball
    proxy: str          # absolute
    sites: tuple
    resources: Resources
    max_retries: int
    stage_out_retries: int = 3
    stage_out_retry_pause: int = 600  # seconds


def read_site_list(path):
    """Return the site names in `path`, one per line; '#' starts a comment. Duplicates are dropped."""
    try:
        lines = path.read_text().splitlines()
    except OSError as error:
        raise InputError("cannot read site list %s: %s" % (path, error.strerror)) from error
    except UnicodeDecodeError:
        message = "site list %s is not text: pass a file with one CMS site name per line" % path
        raise InputError(message) from None

    sites = []
    for number, line in enumerate(lines, start=1):
        name = line.split("#", 1)[0].strip()
        if not name:
            continue
        if not SITE_NAME_PATTERN.match(name):
            raise InputError(
                "site list %s line %d: %r is not a CMS site name (expected one name like T2_CH_CERN); "
                "fix or remove the line" % (path, number, name))
        if name not in sites:
            sites.append(name)
    if not sites:
        raise InputError("site list %s names no site: add one CMS site name per line" % path)
    return tuple(sites)


def _steps(request):
    count = request.get("StepChain")
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise InputError("request.json StepChain is %r: expected a positive integer" % (count,))
    steps = []
    for number in range(1, count + 1):
        step = request.get("Step%d" % number)
        if not isinstance(step, dict):
            raise InputError("request.json has StepChain %d but no Step%d object" % (count, number))
        steps.append(step)
    return steps


def _positive_number(value, field):
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 or math.isinf(value):
        raise InputError("request.json %s is %r: expected a positive number" % (field, value))
    return value


def _required_os(steps):
    systems = set()
    for number, step in enumerate(steps, start=1):
        arch = step.get("ScramArch")
        if isinstance(arch, list):
            arch = arch[0] if arch else None
        if not isinstance(arch, str) or not arch:
            raise InputError("request.json Step%d has no ScramArch: expected e.g. slc7_amd64_gcc700" % number)
        prefix = arch.split("_", 1)[0]
        if prefix not in SCRAM_OS_TO_REQUIRED_OS:
            raise InputError("request.json Step%d ScramArch %r has an unknown OS %r (known: %s)"
                             % (number, arch, prefix, ", ".join(sorted(SCRAM_OS_TO_REQUIRED_OS))))
        systems.add(SCRAM_OS_TO_REQUIRED_OS[prefix])
    # Steps on different OSes give a comma list, as WMAgent writes it.
    return ",".join(sorted(systems))


def derive_resources(request, events_per_job, wall_time_margin):
    """Return the job's resources from request.json; a step's value overrides the top-level one."""
    steps = _steps(request)

    cores = []
    memory = []
    for number, step in enumerate(steps, start=1):
        cores.append(_positive_number(step.get("Multicore", request.get("Multicore", 1)),
                                      "Step%d Multicore" % number))
        step_memory = step.get("Memory", request.get("Memory"))
        if step_memory is not None:
            memory.append(_positive_number(step_memory, "Step%d Memory" % number))
    if not memory:
        raise InputError("request.json has no Memory: expected the job's memory in MB")

    time_per_event = _positive_number(request.get("TimePerEvent"), "TimePerEvent")
    wall_time_mins = math.ceil(time_per_event * events_per_job * wall_time_margin / 60.0)

    return Resources(
        cpus=int(math.ceil(max(cores))),
        memory_mb=int(math.ceil(max(memory))),
        max_wall_time_mins=max(1, wall_time_mins),
        required_os=_required_os(steps),
    )


def events_per_job(request, first_job):
    """Return the events a full job processes: job1.json's step-1 maxEvents, else Step1 EventsPerJob."""
    tweak = first_job.get("tweaks", {}).get("1", {}).get("process.maxEvents") \
        if isinstance(first_job, dict) and isinstance(first_job.get("tweaks"), dict) else None
    if isinstance(tweak, str):
        match = re.search(r"int32\(\s*([0-9]+)\s*\)", tweak)
        if match and int(match.group(1)) > 0:
            return int(match.group(1))
    step1 = request.get("Step1") if isinstance(request.get("Step1"), dict) else {}
    value = step1.get("EventsPerJob", request.get("EventsPerJob"))
    if value is None:
        raise InputError("events per job unknown: job1.json has no step-1 maxEvents and request.json no "
                         "Step1 EventsPerJob; pass --events-per-job N")
    return _positive_number(value, "Step1 EventsPerJob")


def _remap(name, directory, pattern):
    return "%s = %s/%s" % (name, directory, pattern.format(node="$(node_name)", cluster="$(ClusterId)"))


def render_submit(settings):
    """Return the submit description text."""
    resources = settings.resources
    inputs = list(settings.input_files) + [
        "%s/job$(job_index).json" % settings.splitter_dir,
        "%s/%s" % (settings.splitter_dir, TARBALL_NAME),
    ]
    remaps = "; ".join((
        _remap("job_report.json", postjob.RESULTS_DIR, postjob.REPORT_NAME),
        _remap("output.tgz", postjob.RESULTS_DIR, postjob.OUTPUT_NAME),
    ))
    lines = [
        "# HTCondor submit description of every StepChain DAG node, written by create-stepchain-dag.",
        "# DAGMan sets node_name and job_index for each node from the DAG's VARS lines.",
        "universe = vanilla",
        "executable = %s" % settings.executable,
        "arguments = %s job$(job_index).json" % TARBALL_NAME,
        "should_transfer_files = YES",
        "when_to_transfer_output = ON_EXIT",
        "transfer_input_files = %s" % ", ".join(inputs),
        "",
        "# The worker leaves both files even when it fails. Each job's files go under the node name and",
        "# the cluster id, so the POST script never takes an earlier cluster's results for the current one.",
        "# NOTE: job-level retries keep the cluster id, so the last attempt's files replace earlier ones.",
        "transfer_output_files = %s" % ", ".join(WORKER_OUTPUT_FILES),
        'transfer_output_remaps = "%s"' % remaps,
        "output = out/$(node_name).$(ClusterId).out",
        "error = err/$(node_name).$(ClusterId).err",
        "log = log/$(node_name).log",
        "",
        "x509userproxy = %s" % settings.proxy,
        "request_cpus = %d" % resources.cpus,
        "request_memory = %d" % resources.memory_mb,
        "+MaxWallTimeMins = %d" % resources.max_wall_time_mins,
        '+REQUIRED_OS = "%s"' % resources.required_os,
        '+DESIRED_Sites = "%s"' % ",".join(settings.sites),
        "",
        "# Stage-out retries per file and the pause in seconds after each failed attempt, which",
        "# execute_stepchain.sh hands to stage_out.py.",
        'environment = "STAGE_OUT_RETRIES=%d STAGE_OUT_RETRY_PAUSE=%d"' % (
            settings.stage_out_retries, settings.stage_out_retry_pause),
        "",
        "# Job-level retries: the job stays queued and runs again unless it exited 0, exited with the",
        "# worker's fatal status %d, or used all retries. No on_exit_remove is set, because" % (
            WORKER_FATAL_EXIT_STATUS),
        "# condor_submit ORs it into OnExitRemove and a true value would disable the retries.",
        "max_retries = %d" % settings.max_retries,
        "retry_until = ExitCode =?= %d" % WORKER_FATAL_EXIT_STATUS,
        "# A retry avoids the host of the previous run. LastRemoteHost is slot@host, so compare the",
        "# host part only.",
        "requirements = (LastRemoteHost =?= undefined)"
        " || (TARGET.Machine =!= splitSlotName(LastRemoteHost)[1])",
        "queue",
        "",
    ]
    return "\n".join(lines)
