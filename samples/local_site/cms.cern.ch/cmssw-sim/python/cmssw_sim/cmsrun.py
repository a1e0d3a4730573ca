"""Simulated cmsRun: `cmsRun [-j report.xml] cfg.py`.

1. Execute cfg.py (for example a wrapper that unpickles the tweaked process into `process`).
2. Read the source: EmptySource makes maxEvents events from firstEvent, firstRun and
   firstLuminosityBlock, numberEventsInLuminosityBlock per lumi; PoolSource reads the simulated EDM
   files in fileNames (paths relative to the current directory) up to maxEvents (-1 = all).
3. Write one simulated EDM file per output module with every event read.
4. Write the FrameworkJobReport and exit 0, or on failure a report with a FrameworkError and exit
   with its code (the kernel keeps the code modulo 256).
CMSRUN_SIM_* variables inject faults; see the local site README.
"""
import hashlib
import os
import runpy
import signal
import sys
import time
import uuid

import FWCore.ParameterSet.Config as cms

from cmssw_sim import edmfile, jobreport
from cmssw_sim.faults import Faults, FaultSettingError

USAGE = """usage: cmsRun [-j REPORT.xml] CONFIG.py [ARGS...]

cmsRun of the local site: a SIMULATOR for tests and demos, not CMSSW. It runs the configuration,
processes no physics, writes simulated EDM files for the output modules and a FrameworkJobReport in
CMSSW's format. CMSRUN_SIM_* environment variables inject faults (see samples/local_site/README.md).

  -j, --jobreport REPORT.xml   write the FrameworkJobReport to REPORT.xml
  -h, --help                   show this help
"""
# Exit status of a process that ends after SIGTERM, as a shell reports it (128 + 15).
SIGTERM_EXIT_STATUS = 143
# Exit status for an invalid CMSRUN_SIM_* setting: a mistake in the test, not a simulated failure.
SIMULATION_SETTING_EXIT_STATUS = 2
EMPTY_SOURCE_DEFAULTS = {"firstRun": 1, "firstLuminosityBlock": 1, "firstEvent": 1,
                         "numberEventsInLuminosityBlock": 100}


def log(message):
    sys.stderr.write("[cmsRun simulator] %s\n" % message)
    sys.stderr.flush()


class CmsRunFailure(Exception):
    """A failure that cmsRun reports as a FrameworkError with this exit status."""

    def __init__(self, exit_status, message):
        super(CmsRunFailure, self).__init__(message)
        self.exit_status = exit_status


def parse_arguments(argv):
    report_path = None
    arguments = list(argv)
    while arguments and arguments[0].startswith("-"):
        option = arguments.pop(0)
        if option in ("-h", "--help"):
            sys.stdout.write(USAGE)
            sys.exit(0)
        if option in ("-j", "--jobreport") and arguments:
            report_path = arguments.pop(0)
        else:
            sys.stderr.write("cmsRun: invalid option %r\n%s" % (option, USAGE))
            sys.exit(7000 % 256)
    if not arguments:
        sys.stderr.write("cmsRun: no configuration file given\n%s" % USAGE)
        sys.exit(7000 % 256)
    return report_path, arguments[0], arguments[1:]


def load_configuration(path, arguments):
    """Run the configuration file as cmsRun does and return its `process`."""
    if not os.path.isfile(path):
        raise CmsRunFailure(7001, "configuration file %s not found" % path)
    sys.argv = [path] + arguments
    try:
        namespace = runpy.run_path(path, run_name="__main__")
    except Exception as error:  # any error in user configuration code is a configuration read error
        message = "configuration file %s failed: %s: %s" % (path, type(error).__name__, error)
        raise CmsRunFailure(7002, message) from None
    process = namespace.get("process")
    if not isinstance(process, cms.Process):
        raise CmsRunFailure(7002, "configuration file %s defines no cms.Process named `process`" % path)
    return process


def _parameter(pset, name, default):
    if pset is None or not pset.hasParameter(name):
        return default
    return getattr(pset, name).value()


def thread_settings(process):
    """Return (threads, streams). numberOfThreads counts only as untracked uint32, as in CMSSW."""
    options = getattr(process, "options", None)

    def honoured(name):
        if options is None or not options.hasParameter(name):
            return 0
        parameter = getattr(options, name)
        if isinstance(parameter, cms.uint32) and not parameter.isTracked():
            return parameter.value()
        # CMSSW ignores a wrongly typed value here without a message, so the simulator does too.
        return 0

    threads = max(1, honoured("numberOfThreads"))
    streams = honoured("numberOfStreams") or threads
    return threads, streams


def _local_path(file_name):
    return file_name[len("file:"):] if file_name.startswith("file:") else file_name


def read_empty_source(source, max_events):
    if max_events < 0:
        raise CmsRunFailure(8009, "EmptySource needs maxEvents.input >= 0, got %d" % max_events)
    settings = {name: _parameter(source, name, default) for name, default in EMPTY_SOURCE_DEFAULTS.items()}
    per_lumi = settings["numberEventsInLuminosityBlock"]
    if per_lumi < 1:
        raise CmsRunFailure(8009, "numberEventsInLuminosityBlock must be positive, got %d" % per_lumi)
    run, first_lumi = settings["firstRun"], settings["firstLuminosityBlock"]
    first_event = settings["firstEvent"]
    events = ((run, first_lumi + index // per_lumi, first_event + index) for index in range(max_events))
    return edmfile.compress_events(events), []


def read_pool_source(source, max_events):
    """Return (event ranges, input file records) read from the source's fileNames."""
    file_names = _parameter(source, "fileNames", [])
    if not file_names:
        raise CmsRunFailure(8020, "PoolSource has no fileNames")
    remaining = None if max_events < 0 else max_events
    skip = _parameter(source, "skipEvents", 0)
    ranges, records = [], []
    for file_name in file_names:
        if remaining == 0:
            break
        if "://" in file_name:
            raise CmsRunFailure(8020, "cannot open %s: the simulator reads local files only" % file_name)
        try:
            header = edmfile.read_edm_header(_local_path(file_name))
        except edmfile.EdmFileError as error:
            raise CmsRunFailure(8020 if error.missing else 8021, str(error)) from None
        selected_events = []
        for event in edmfile.expand_ranges(header["ranges"]):
            if skip:
                skip -= 1
                continue
            if remaining is not None and len(selected_events) == remaining:
                break
            selected_events.append(event)
        if remaining is not None:
            remaining -= len(selected_events)
        file_ranges = edmfile.compress_events(selected_events)
        ranges.extend(file_ranges)
        # NOTE: a /store/ name is reported as the LFN but read as a local path; there is no file catalog.
        lfn = file_name if file_name.startswith("/store/") else ""
        records.append({"lfn": lfn, "pfn": file_name, "guid": header["guid"],
                        "events_read": len(selected_events), "ranges": file_ranges})
    return ranges, records


def read_source(process):
    source = process.source
    if source is None:
        raise CmsRunFailure(8009, "the process has no source")
    max_events = _parameter(getattr(process, "maxEvents", None), "input", -1)
    if source.type_() == "EmptySource":
        return read_empty_source(source, max_events)
    if source.type_() == "PoolSource":
        return read_pool_source(source, max_events)
    raise CmsRunFailure(8009, "source type %s is not simulated (only EmptySource and PoolSource are)"
                        % source.type_())


def write_outputs(process, ranges, input_records, faults):
    """Write each output module's file and return the report's output records."""
    if faults.missing_output and faults.missing_output not in process.outputModules_():
        raise FaultSettingError("CMSRUN_SIM_MISSING_OUTPUT=%s names no output module (modules: %s)"
                                % (faults.missing_output, ", ".join(process.outputModules_())))
    outputs = []
    for label, module in process.outputModules_().items():
        file_name = _parameter(module, "fileName", "")
        if not file_name:
            raise CmsRunFailure(8009, "output module %s has no fileName" % label)
        dataset = getattr(module, "dataset", None)
        record = {
            "label": label,
            "lfn": _parameter(module, "logicalFileName", ""),
            "pfn": _local_path(file_name),
            "guid": str(uuid.uuid4()).upper(),
            "events": edmfile.count_events(ranges),
            "ranges": ranges,
            "branch_hash": hashlib.md5(("%s:%s" % (process.name_(), label)).encode("utf-8")).hexdigest(),
            "inputs": input_records,
        }
        header = {"guid": record["guid"], "process": process.name_(), "module": label,
                  "dataTier": _parameter(dataset, "dataTier", ""), "ranges": ranges}
        if faults.disk_full:
            open(record["pfn"], "wb").close()
        elif label != faults.missing_output:
            try:
                size = edmfile.write_edm_file(record["pfn"], header, faults.bytes_per_event)
            except OSError as error:
                raise CmsRunFailure(8033, "cannot write %s: %s" % (record["pfn"], error.strerror)) from None
            log("%s wrote %s: %d events, %d bytes" % (label, record["pfn"], record["events"], size))
        outputs.append(record)
    return outputs


def performance_summary(threads, streams, events, started):
    elapsed = time.time() - started
    return {
        "Timing": {"TotalJobTime": "%.3f" % elapsed, "TotalJobCPU": "%.3f" % time.process_time(),
                   "NumberOfThreads": threads, "NumberOfStreams": streams},
        "ApplicationMemory": {"PeakValueRss": "50.0", "PeakValueVsize": "200.0"},
        "ProcessingSummary": {"NumberEvents": events},
    }


def write_report(path, report, faults):
    if path is None:
        return
    if faults.malformed_report:
        report = jobreport.malformed(report, faults.malformed_report)
    with open(path, "wb") as handle:
        handle.write(report)


class Run(object):
    """One simulated cmsRun: its settings, and the report to write if it is stopped by SIGTERM."""

    def __init__(self, report_path, faults):
        self.report_path = report_path
        self.faults = faults
        self.started = time.time()
        self.threads, self.streams = 1, 1

    def fail(self, exit_status, message):
        log("FrameworkError %d (%s): %s" % (exit_status, jobreport.error_type(exit_status), message))
        performance = performance_summary(self.threads, self.streams, 0, self.started)
        report = jobreport.build_report([], [], performance, error=(exit_status, message))
        if self.report_path is not None:
            try:
                with open(self.report_path, "wb") as handle:
                    handle.write(report)
            except OSError as error:
                log("cannot write the job report %s: %s" % (self.report_path, error.strerror))
        sys.exit(exit_status)

    def on_sigterm(self, _signum, _frame):
        # Further SIGTERMs while stopping are ignored, as the first one already ends the run.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        log("received SIGTERM; stopping in %.1f s" % self.faults.term_delay)
        time.sleep(self.faults.term_delay)
        self.fail(SIGTERM_EXIT_STATUS, "the job was terminated by SIGTERM")

    def execute(self, config_path, arguments):
        process = load_configuration(config_path, arguments)
        if not self.faults.applies_to(process.name_()):
            self.faults.disable()
        self.threads, self.streams = thread_settings(process)
        ranges, input_records = read_source(process)
        events = edmfile.count_events(ranges)
        log("process %s: %d events, %d threads, %d streams"
            % (process.name_(), events, self.threads, self.streams))

        if self.faults.sleep is not None:
            log("sleeping %.1f s (CMSRUN_SIM_SLEEP)" % self.faults.sleep)
            time.sleep(self.faults.sleep)
        if self.faults.exit_code is not None:
            raise CmsRunFailure(self.faults.exit_code, "injected failure (CMSRUN_SIM_EXIT_CODE)")
        if self.faults.failed_report_exit0:
            performance = performance_summary(self.threads, self.streams, 0, self.started)
            report = jobreport.build_report(
                [], [], performance, error=(8001, "injected failure (CMSRUN_SIM_FAILED_REPORT_EXIT0)"))
            write_report(self.report_path, report, self.faults)
            return

        outputs = write_outputs(process, ranges, input_records, self.faults)
        if self.faults.disk_full:
            log("No space left on device")
            sys.stdout.write("No space left on device\n")
            return
        if self.faults.no_report:
            log("writing no job report (CMSRUN_SIM_NO_REPORT)")
            return
        report = jobreport.build_report(input_records, outputs,
                                        performance_summary(self.threads, self.streams, events, self.started))
        write_report(self.report_path, report, self.faults)


def main(argv=None):
    report_path, config_path, arguments = parse_arguments(sys.argv[1:] if argv is None else argv)
    try:
        faults = Faults()
    except FaultSettingError as error:
        log("invalid simulation setting: %s" % error)
        sys.exit(SIMULATION_SETTING_EXIT_STATUS)
    run = Run(report_path, faults)
    signal.signal(signal.SIGTERM, run.on_sigterm)
    try:
        run.execute(config_path, arguments)
    except CmsRunFailure as failure:
        run.fail(failure.exit_status, str(failure))
    except FaultSettingError as error:
        log("invalid simulation setting: %s" % error)
        sys.exit(SIMULATION_SETTING_EXIT_STATUS)
