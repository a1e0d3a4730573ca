"""Fault injection settings of the simulated cmsRun, read from CMSRUN_SIM_* environment variables."""
import os

from cmssw_sim.jobreport import MALFORMED_KINDS

DEFAULT_BYTES_PER_EVENT = 64


class FaultSettingError(Exception):
    """A CMSRUN_SIM_* variable has an invalid value."""


def _integer(environ, name, minimum, default=None):
    text = environ.get(name, "")
    if text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise FaultSettingError("%s=%r is not an integer" % (name, text)) from None
    if value < minimum:
        raise FaultSettingError("%s=%d must be at least %d" % (name, value, minimum))
    return value


def _seconds(environ, name, default=None):
    text = environ.get(name, "")
    if text == "":
        return default
    try:
        value = float(text)
    except ValueError:
        raise FaultSettingError("%s=%r is not a number of seconds" % (name, text)) from None
    if value < 0:
        raise FaultSettingError("%s=%r must not be negative" % (name, text))
    return value


def _flag(environ, name):
    text = environ.get(name, "")
    if text not in ("", "0", "1"):
        raise FaultSettingError("%s=%r must be 1 (on) or 0 (off)" % (name, text))
    return text == "1"


class Faults(object):
    """The faults to inject. `applies_to(process_name)` returns whether they apply to this cmsRun."""

    def __init__(self, environ=None):
        environ = os.environ if environ is None else environ
        self.process = environ.get("CMSRUN_SIM_FAULT_PROCESS", "")
        self.exit_code = _integer(environ, "CMSRUN_SIM_EXIT_CODE", 1)
        self.failed_report_exit0 = _flag(environ, "CMSRUN_SIM_FAILED_REPORT_EXIT0")
        self.no_report = _flag(environ, "CMSRUN_SIM_NO_REPORT")
        self.malformed_report = environ.get("CMSRUN_SIM_MALFORMED_REPORT", "")
        if self.malformed_report not in ("",) + MALFORMED_KINDS:
            raise FaultSettingError("CMSRUN_SIM_MALFORMED_REPORT=%r must be one of %s"
                                    % (self.malformed_report, ", ".join(MALFORMED_KINDS)))
        self.disk_full = _flag(environ, "CMSRUN_SIM_DISK_FULL")
        self.missing_output = environ.get("CMSRUN_SIM_MISSING_OUTPUT", "")
        self.sleep = _seconds(environ, "CMSRUN_SIM_SLEEP")
        self.term_delay = _seconds(environ, "CMSRUN_SIM_TERM_DELAY", 0.0)
        # Not a fault but a simulation setting: it applies to every cmsRun.
        self.bytes_per_event = _integer(environ, "CMSRUN_SIM_BYTES_PER_EVENT", 0, DEFAULT_BYTES_PER_EVENT)

    def applies_to(self, process_name):
        return self.process in ("", process_name)

    def disable(self):
        """Clear every fault, for a cmsRun whose process CMSRUN_SIM_FAULT_PROCESS does not name."""
        self.exit_code = None
        self.failed_report_exit0 = False
        self.no_report = False
        self.malformed_report = ""
        self.disk_full = False
        self.missing_output = ""
        self.sleep = None
