"""Read and validate the inputs of the event splitter: a ReqMgr2 StepChain request and its splitting file.

Every problem a user can fix raises InvalidInputError with one line that names the field and the fix.
The result is a SplitPlan: the EventBased parameters and, per step, what its tweaks need.
"""
import json
import math
import re
from dataclasses import dataclass
from typing import List, Optional

# CMSSW stores event, lumi and run numbers as uint32 and maxEvents.input as int32.
UINT32_MAX = 2 ** 32 - 1
INT32_MAX = 2 ** 31 - 1

_STEP_KEY = re.compile(r"Step(\d+)\Z")
_MODULE_LABEL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class InvalidInputError(Exception):
    """A user's input that the splitter rejects; the message names the value and the fix."""


@dataclass(frozen=True)
class StepSettings:
    number: int
    name: str
    input_step_number: Optional[int]
    input_module: Optional[str]
    threads: int
    streams: int

    @property
    def pset_name(self):
        """File name of the step's base PSet inside PSets/."""
        return "PSet_cmsRun%d_%s.py" % (self.number, self.name)


@dataclass(frozen=True)
class SplitPlan:
    total_events: int
    events_per_job: int
    events_per_lumi: int
    first_event: int
    first_lumi: int
    steps: List[StepSettings]


def load_json_file(path, description):
    """Parse a JSON file, raising InvalidInputError when it cannot be read or is not JSON."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise InvalidInputError("cannot read %s %s: %s; pass a readable file"
                                % (description, path, error.strerror)) from None
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidInputError("%s %s is not valid JSON (%s); pass the file exported from ReqMgr2"
                                % (description, path, error)) from None


def parse_whole_number(value, field):
    """Convert a JSON value to int: accepts integers, integral floats and strings such as "500" or "1e3"."""
    number = value
    if isinstance(number, str):
        text = number.strip()
        try:
            number = int(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                raise InvalidInputError("%s is %r, not a number; set it to a whole number"
                                        % (field, value)) from None
    if isinstance(number, bool) or not isinstance(number, (int, float)):
        raise InvalidInputError("%s is %r, not a number; set it to a whole number" % (field, value))
    if isinstance(number, float):
        if not math.isfinite(number) or not number.is_integer():
            raise InvalidInputError("%s is %r, not a whole number; set it to a whole number" % (field, value))
        number = int(number)
    return number


def _bounded_number(value, field, minimum, maximum):
    number = parse_whole_number(value, field)
    if number < minimum or number > maximum:
        raise InvalidInputError("%s is %d; set it to a whole number from %d to %d"
                                % (field, number, minimum, maximum))
    return number


def _read_steps(request):
    if "StepChain" not in request:
        raise InvalidInputError("request has no StepChain field; pass a ReqMgr2 StepChain request")
    step_count = _bounded_number(request["StepChain"], "StepChain", 1, 1000)
    found = sorted(int(match.group(1)) for match in map(_STEP_KEY.match, request) if match)
    expected = list(range(1, step_count + 1))
    if found != expected:
        raise InvalidInputError("StepChain is %d but the request has step keys %s; expected Step1..Step%d"
                                % (step_count, ", ".join("Step%d" % n for n in found) or "none", step_count))
    steps = []
    for number in expected:
        step = request["Step%d" % number]
        if not isinstance(step, dict):
            raise InvalidInputError("Step%d is %r, not an object; pass the step settings as a JSON object"
                                    % (number, step))
        steps.append(step)
    return steps


def _step_name(step, number):
    name = step.get("StepName")
    if not isinstance(name, str) or not name.strip():
        raise InvalidInputError("Step%d.StepName is missing or empty; set it to the step's name" % number)
    if "/" in name or "\0" in name or name in (".", ".."):
        raise InvalidInputError("Step%d.StepName %r cannot be part of a file name; remove '/' and NUL"
                                % (number, name))
    return name


def _cores(step, request, number):
    """Return (threads, streams): the step's Multicore and EventStreams override the top-level ones."""
    multicore = step.get("Multicore", request.get("Multicore"))
    field = "Step%d.Multicore" % number if "Multicore" in step else "Multicore"
    threads = 1 if multicore is None else _bounded_number(multicore, field, 1, 1024)

    streams_value = step.get("EventStreams", request.get("EventStreams"))
    field = "Step%d.EventStreams" % number if "EventStreams" in step else "EventStreams"
    streams = 0 if streams_value is None else _bounded_number(streams_value, field, 0, 1024)
    # CMSSW treats zero streams as one stream per thread; the tweak states the number explicitly.
    return threads, streams or threads


def _read_step_settings(request):
    raw_steps = _read_steps(request)
    names = {}
    settings = []
    for number, step in enumerate(raw_steps, start=1):
        name = _step_name(step, number)
        if name in names:
            raise InvalidInputError("Step%d.StepName %r repeats Step%d.StepName; give every step its own name"
                                    % (number, name, names[name]))

        input_step_number = None
        input_module = None
        if number > 1:
            input_step = step.get("InputStep")
            if input_step not in names:
                earlier = ", ".join(repr(n) for n in names)
                raise InvalidInputError("Step%d.InputStep %r names no earlier step; set it to one of %s"
                                        % (number, input_step, earlier))
            input_step_number = names[input_step]
            input_module = step.get("InputFromOutputModule")
            if not isinstance(input_module, str) or not _MODULE_LABEL.match(input_module):
                raise InvalidInputError("Step%d.InputFromOutputModule %r is not an output module label;"
                                        " set it to the label of an output module of step %r"
                                        % (number, input_module, input_step))

        names[name] = number
        threads, streams = _cores(step, request, number)
        settings.append(StepSettings(number, name, input_step_number, input_module, threads, streams))
    return settings


def _production_parameters(splitting):
    if not isinstance(splitting, list):
        raise InvalidInputError("splitting file contains a JSON %s, not a list of task entries; pass the"
                                " splitting file exported from ReqMgr2" % type(splitting).__name__)
    entries = [entry for entry in splitting
               if isinstance(entry, dict) and entry.get("taskType") == "Production"]
    if not entries:
        raise InvalidInputError("splitting file has no Production entry (taskType \"Production\"); pass the"
                                " splitting of a production StepChain request")
    if len(entries) > 1:
        raise InvalidInputError("splitting file has %d Production entries; keep only the top-level task's"
                                % len(entries))
    entry = entries[0]
    algorithm = entry.get("splitAlgo")
    if algorithm != "EventBased":
        raise InvalidInputError("splitting file's Production entry has splitAlgo %r; only EventBased is"
                                " supported" % algorithm)
    parameters = entry.get("splitParams", {})
    if not isinstance(parameters, dict):
        raise InvalidInputError("splitParams of the Production entry is %r, not an object" % (parameters,))
    return parameters


def _events_to_generate(step1, request):
    if "RequestNumEvents" in step1:
        requested = _bounded_number(step1["RequestNumEvents"], "Step1.RequestNumEvents", 1, 2 ** 63 - 1)
    elif "RequestNumEvents" in request:
        requested = _bounded_number(request["RequestNumEvents"], "RequestNumEvents", 1, 2 ** 63 - 1)
    else:
        raise InvalidInputError("Step1.RequestNumEvents is missing; set it to the number of events to"
                                " produce")

    efficiency = step1.get("FilterEfficiency", 1)
    if isinstance(efficiency, str):
        try:
            efficiency = float(efficiency)
        except ValueError:
            pass
    if (isinstance(efficiency, bool) or not isinstance(efficiency, (int, float))
            or not math.isfinite(efficiency) or efficiency <= 0):
        raise InvalidInputError("Step1.FilterEfficiency is %r; set it to a number above 0, such as 1"
                                % (efficiency,))
    # WMCore's StepChain spec generates RequestNumEvents / FilterEfficiency events, truncated.
    return int(requested / efficiency)


def _split_parameter(parameters, key, step1, request_key):
    """Return the splitting file's value of key, else Step1's request_key, else None."""
    if parameters.get(key) is not None:
        return parameters[key], "splitParams.%s" % key
    if step1.get(request_key) is not None:
        return step1[request_key], "Step1.%s" % request_key
    return None, "Step1.%s" % request_key


def read_plan(request, splitting):
    """Validate the parsed request and splitting file and return the SplitPlan."""
    if not isinstance(request, dict):
        raise InvalidInputError("request contains a JSON %s, not an object; pass a ReqMgr2 request.json"
                                % type(request).__name__)
    request_type = request.get("RequestType", "StepChain")
    if request_type != "StepChain":
        raise InvalidInputError("RequestType is %r; only StepChain requests are supported" % (request_type,))

    steps = _read_step_settings(request)
    step1 = request["Step1"]
    parameters = _production_parameters(splitting)

    value, field = _split_parameter(parameters, "events_per_job", step1, "EventsPerJob")
    if value is None:
        raise InvalidInputError("events per job is missing; set splitParams.events_per_job of the Production"
                                " entry or Step1.EventsPerJob")
    events_per_job = _bounded_number(value, field, 1, INT32_MAX)

    value, field = _split_parameter(parameters, "events_per_lumi", step1, "EventsPerLumi")
    # WMCore's EventBased splitter defaults events per lumi to events per job.
    events_per_lumi = events_per_job if value is None else _bounded_number(value, field, 1, UINT32_MAX)

    total_events = _events_to_generate(step1, request)
    first_event = _bounded_number(request.get("FirstEvent", 1), "FirstEvent", 1, UINT32_MAX)
    first_lumi = _bounded_number(request.get("FirstLumi", 1), "FirstLumi", 1, UINT32_MAX)

    full_jobs, remainder = divmod(total_events, events_per_job)
    lumi_count = full_jobs * -(-events_per_job // events_per_lumi) + -(-remainder // events_per_lumi)
    if first_lumi + lumi_count - 1 > UINT32_MAX:
        raise InvalidInputError("the request needs %d lumi sections from FirstLumi %d, past the uint32 limit"
                                " %d; lower FirstLumi or RequestNumEvents, or raise events per lumi"
                                % (lumi_count, first_lumi, UINT32_MAX))

    return SplitPlan(total_events, events_per_job, events_per_lumi, first_event, first_lumi, steps)
