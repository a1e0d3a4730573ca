"""Write FrameworkJobReport XML in the layout of CMSSW's `cmsRun -j`, and the malformed variants
that fault injection requests."""
import collections
import xml.etree.ElementTree as ElementTree

# CMSSW exception codes (edm::errors, also listed in WMCore's WMExceptions.py) and their type names.
CMSSW_ERROR_TYPES = {
    7000: "CommandLineProcessing",
    7001: "ConfigFileNotFound",
    7002: "ConfigFileReadError",
    8001: "OtherCMS",
    8002: "StdException",
    8003: "Unknown",
    8004: "BadAlloc",
    8006: "ProductNotFound",
    8009: "Configuration",
    8010: "LogicError",
    8019: "FileInPathError",
    8020: "FileOpenError",
    8021: "FileReadError",
    8022: "FatalRootError",
    8023: "MismatchedInputFiles",
    8026: "NotFound",
    8028: "FallbackFileOpenError",
    8030: "ExceededResourceVSize",
    8031: "ExceededResourceRSS",
    8032: "ExceededResourceTime",
    8033: "FileWriteError",
    8501: "EventGenerationFailure",
}
MALFORMED_KINDS = ("ampersand", "nul", "truncated", "empty")


def error_type(exit_status):
    return CMSSW_ERROR_TYPES.get(exit_status, "OtherCMS")


def _text(parent, tag, value):
    element = ElementTree.SubElement(parent, tag)
    element.text = "" if value is None else str(value)
    return element


def _runs(parent, ranges):
    """Add <Runs> with one <LumiSection ID NEvents> per lumi, from event ranges [run, lumi, first, count]."""
    lumis = collections.OrderedDict()
    for run, lumi, _first, count in ranges:
        lumis.setdefault(run, collections.OrderedDict())
        lumis[run][lumi] = lumis[run].get(lumi, 0) + count
    runs = ElementTree.SubElement(parent, "Runs")
    for run, counts in lumis.items():
        run_element = ElementTree.SubElement(runs, "Run", ID=str(run))
        for lumi, events in counts.items():
            ElementTree.SubElement(run_element, "LumiSection", ID=str(lumi), NEvents=str(events))


def build_report(inputs, outputs, performance, error=None):
    """Return the report as bytes.

    inputs: dicts with lfn, pfn, guid, events_read, ranges.
    outputs: dicts with label, lfn, pfn, guid, events, ranges, branch_hash, inputs (list of input dicts).
    performance: {summary metric: {name: value}}. error: None or (exit status, message).
    """
    root = ElementTree.Element("FrameworkJobReport")
    for item in inputs:
        element = ElementTree.SubElement(root, "InputFile")
        _text(element, "LFN", item["lfn"])
        _text(element, "PFN", item["pfn"])
        _text(element, "Catalog", "")
        _text(element, "ModuleLabel", "source")
        _text(element, "GUID", item["guid"])
        _text(element, "InputType", "primaryFiles")
        _text(element, "InputSourceClass", "PoolSource")
        _text(element, "EventsRead", item["events_read"])
        _runs(element, item["ranges"])
    for item in outputs:
        element = ElementTree.SubElement(root, "File")
        _text(element, "LFN", item["lfn"])
        _text(element, "PFN", item["pfn"])
        _text(element, "Catalog", "")
        _text(element, "ModuleLabel", item["label"])
        _text(element, "GUID", item["guid"])
        _text(element, "OutputModuleClass", "PoolOutputModule")
        _text(element, "TotalEvents", item["events"])
        _text(element, "DataType", "MC")
        _text(element, "BranchHash", item["branch_hash"])
        _runs(element, item["ranges"])
        inputs_element = ElementTree.SubElement(element, "Inputs")
        for source in item["inputs"]:
            input_element = ElementTree.SubElement(inputs_element, "Input")
            _text(input_element, "LFN", source["lfn"])
            _text(input_element, "PFN", source["pfn"])
    report = ElementTree.SubElement(root, "PerformanceReport")
    for metric, values in performance.items():
        summary = ElementTree.SubElement(report, "PerformanceSummary", Metric=metric)
        for name, value in values.items():
            ElementTree.SubElement(summary, "Metric", Name=name, Value=str(value))
    if error is not None:
        exit_status, message = error
        element = ElementTree.SubElement(root, "FrameworkError", ExitStatus=str(exit_status),
                                         Type=error_type(exit_status))
        element.text = message
    _indent(root)
    return ElementTree.tostring(root, encoding="utf-8") + b"\n"


def _indent(element, depth=0):
    """Indent the tree in place like CMSSW's reports (ElementTree.indent needs Python 3.9)."""
    children = list(element)
    if not children:
        return
    if not (element.text or "").strip():
        element.text = "\n" + "  " * (depth + 1)
    for child in children:
        _indent(child, depth + 1)
        child.tail = "\n" + "  " * (depth + 1)
    children[-1].tail = "\n" + "  " * depth


def malformed(report, kind):
    """Return `report` damaged as `kind`: ampersand, nul, truncated or empty."""
    if kind == "ampersand":
        # An unescaped & in a PFN, as storage URLs with query strings have produced.
        return report.replace(b"</PFN>", b"?svcClass=default&stream=1</PFN>", 1)
    if kind == "nul":
        return report.replace(b"<GUID>", b"<GUID>\x00", 1)
    if kind == "truncated":
        return report[:200]
    if kind == "empty":
        return b""
    raise ValueError("unknown malformed report kind %r" % kind)
