"""EventBased job ranges and the per-job PSet tweaks in the cmssw-wm-tools format.

split_events() reproduces the job masks of WMCore's EventBased splitter (wmcore 2.4.5.9) for one
production fake file: the same FirstEvent, LastEvent, FirstLumi, LastLumi and FirstRun per job.
JobDocumentRenderer turns one range into the bytes of jobN.json.
"""
import json
from typing import NamedTuple

from micro_agent.splitter_request import UINT32_MAX

# WMCore's JobFactory puts every production job in run 1, whatever the request's RunNumber is
# (WMAgent uses RunNumber only in the LFNs of the output).
PRODUCTION_RUN = 1


class JobRange(NamedTuple):
    index: int
    first_event: int
    last_event: int
    first_lumi: int
    last_lumi: int
    first_run: int

    @property
    def events(self):
        return self.last_event - self.first_event + 1


def _ceil_div(numerator, denominator):
    return -(-numerator // denominator)


def count_jobs(plan):
    return _ceil_div(plan.total_events, plan.events_per_job)


def split_events(plan):
    """Yield one JobRange per job, in order, without holding the whole list in memory."""
    lumis_per_job = _ceil_div(plan.events_per_job, plan.events_per_lumi)
    remaining = plan.total_events
    current_event = plan.first_event
    current_lumi = plan.first_lumi
    index = 0
    while remaining > 0:
        index += 1
        # Event numbers are uint32. Like WMCore, restart at event 1 when a full-size job would pass
        # the limit, unless the events still to produce fit below it.
        if (current_event + plan.events_per_job - 1 > UINT32_MAX
                and current_event + remaining > UINT32_MAX):
            current_event = 1

        events = min(plan.events_per_job, remaining)
        lumis = lumis_per_job if events == plan.events_per_job else _ceil_div(events, plan.events_per_lumi)
        yield JobRange(index, current_event, current_event + events - 1,
                       current_lumi, current_lumi + lumis - 1, PRODUCTION_RUN)

        remaining -= events
        current_event += events
        current_lumi += lumis


# The tweak table: each entry maps a dotted PSet path to the string that edm_pset_tweak.py evaluates.

def _uint32(number):
    return "customTypeCms.untracked.uint32(%d)" % number


def _max_events(number):
    return "customTypeCms.untracked.PSet(input=cms.untracked.int32(%d))" % number


def _generator_tweaks(job, plan):
    return {
        "process.maxEvents": _max_events(job.events),
        "process.source.firstEvent": _uint32(job.first_event),
        "process.source.firstLuminosityBlock": _uint32(job.first_lumi),
        "process.source.firstRun": _uint32(job.first_run),
        "process.source.numberEventsInLuminosityBlock": _uint32(plan.events_per_lumi),
    }


def _chained_tweaks(step):
    path = "file:../step%d/%s.root" % (step.input_step_number, step.input_module)
    return {
        "process.maxEvents": _max_events(-1),
        "process.source.fileNames": "customTypeCms.untracked.vstring(%r)" % [path],
    }


def _shared_tweaks(step, modules_read_later):
    """Return the tweaks that are the same in every job: output file names, threads and streams."""
    tweaks = {}
    for module in sorted(modules_read_later):
        tweaks["process.%s.fileName" % module] = "customTypeCms.untracked.string('file:%s.root')" % module
    tweaks["process.options.numberOfThreads"] = _uint32(step.threads)
    tweaks["process.options.numberOfStreams"] = _uint32(step.streams)
    return tweaks


def modules_read_by_later_steps(plan):
    """Return {step number: set of its output module labels that a later step reads}."""
    modules = {step.number: set() for step in plan.steps}
    for step in plan.steps:
        if step.input_step_number is not None:
            modules[step.input_step_number].add(step.input_module)
    return modules


def build_job_document(job, plan):
    """Return the jobN.json content for one job as a dict."""
    modules = modules_read_by_later_steps(plan)
    tweaks = {}
    for step in plan.steps:
        step_tweaks = _generator_tweaks(job, plan) if step.number == 1 else _chained_tweaks(step)
        step_tweaks.update(_shared_tweaks(step, modules[step.number]))
        tweaks[str(step.number)] = step_tweaks
    return {"job_index": job.index, "tweaks": tweaks}


class JobDocumentRenderer:
    """Render jobN.json as bytes equal to json.dumps(build_job_document(job, plan)) plus a newline.

    Only job_index and four numbers of step 1 change from job to job, so the JSON is encoded once
    with marker numbers in their places, and each job fills the slots with bytes %-formatting.
    This keeps the cost per job close to the cost of creating the file.
    """

    # Marker values; each must appear exactly once in the encoded document.
    _MARKERS = {"index": 918273645501, "events": 918273645502, "first_event": 918273645503,
                "first_lumi": 918273645504}

    def __init__(self, plan):
        markers = self._MARKERS
        sample = JobRange(markers["index"], markers["first_event"],
                          markers["first_event"] + markers["events"] - 1,
                          markers["first_lumi"], markers["first_lumi"], PRODUCTION_RUN)
        text = json.dumps(build_job_document(sample, plan)).replace("%", "%%") + "\n"
        for name, marker in markers.items():
            if text.count(str(marker)) != 1:
                raise ValueError("marker %d for %s is not unique in the job document" % (marker, name))
            text = text.replace(str(marker), "%%(%s)d" % name)
        self._template = text.encode("ascii")

    def render(self, job):
        return self._template % {b"index": job.index, b"events": job.last_event - job.first_event + 1,
                                 b"first_event": job.first_event, b"first_lumi": job.first_lumi}
