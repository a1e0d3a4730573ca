"""The simulated cmssw-wm-tools commands, with the command lines of the real ones.

edm_pset_pickler.py --input PSet.py --output_pkl PSet.pkl
edm_pset_tweak.py --input_pkl A.pkl --output_pkl B.pkl --json tweak.json
                  [--create_untracked_psets] [--allow_failed_tweaks] [--skip_if_set]
cmssw_handle_nEvents.py --input_pkl A.pkl --output_pkl B.pkl
cmssw_handle_condor_status_service.py --input_pkl A.pkl --output_pkl B.pkl --name cmsRun3
"""
import argparse
import collections
import json
import sys

import FWCore.ParameterSet.Config as cms

from cmssw_sim.expressions import evaluate_text
from cmssw_sim.psetfile import PSetFileError, read_pset_file
from cmssw_sim.toolio import ToolError, load_process, run_tool, save_process


def _log(tool, message):
    sys.stdout.write("%s: %s\n" % (tool, message))


def pickler_main(argv=None):
    parser = argparse.ArgumentParser(
        prog="edm_pset_pickler.py",
        description="Simulated cmssw-wm-tools: read a CMSSW PSet file and pickle its process.",
    )
    parser.add_argument("--input", required=True, help="PSet file (a ConfigBuilder dump)")
    parser.add_argument("--output_pkl", required=True, help="pickle file to write")
    args = parser.parse_args(argv)

    def main():
        try:
            process = read_pset_file(args.input)
        except PSetFileError as error:
            raise ToolError(str(error)) from None
        save_process(process, args.output_pkl)
        _log("edm_pset_pickler.py", "pickled process %s from %s into %s"
             % (process.name_(), args.input, args.output_pkl))

    run_tool("edm_pset_pickler.py", main)


def _read_tweaks(path):
    try:
        with open(path) as handle:
            tweaks = json.load(handle, object_pairs_hook=collections.OrderedDict)
    except OSError as error:
        raise ToolError("cannot read tweak file %s: %s" % (path, error.strerror)) from None
    except ValueError as error:
        raise ToolError("tweak file %s is not valid JSON: %s" % (path, error)) from None
    if not isinstance(tweaks, dict):
        raise ToolError("tweak file %s must hold a JSON object of \"process.<path>\": \"<value>\"" % path)
    for key, value in tweaks.items():
        if not isinstance(value, str):
            raise ToolError("tweak %s in %s must be a string such as \"customTypeCms.untracked.uint32(1)\", "
                            "got %r" % (key, path, value))
    return tweaks


def _tweak_parent(process, names, create_untracked_psets):
    """Return the object that contains the last name of a tweak key, creating untracked PSets if requested."""
    parent = process
    for depth, name in enumerate(names[:-1]):
        child = getattr(parent, name, None)
        if child is None:
            if not create_untracked_psets:
                raise ValueError("%s does not exist (use --create_untracked_psets to create it)"
                                 % ".".join(["process"] + names[:depth + 1]))
            child = cms.untracked.PSet()
            setattr(parent, name, child)
        if not isinstance(child, (cms.PSet, cms._Module)):
            raise ValueError("%s is a %s, not a PSet or module"
                             % (".".join(["process"] + names[:depth + 1]), type(child).__name__))
        parent = child
    return parent


def apply_tweak(process, key, text, create_untracked_psets, skip_if_set):
    """Set one tweak; return False when --skip_if_set left an existing value. Raise ValueError if invalid."""
    names = key.split(".")
    if len(names) < 2 or names[0] != "process" or not all(names):
        raise ValueError("key must look like process.<name>[.<name>...]")
    names = names[1:]
    parent = _tweak_parent(process, names, create_untracked_psets)
    if skip_if_set and getattr(parent, names[-1], None) is not None:
        return False
    value = evaluate_text(text)
    try:
        setattr(parent, names[-1], value)
    except (TypeError, AttributeError) as error:
        raise ValueError(str(error)) from None
    return True


def tweak_main(argv=None):
    parser = argparse.ArgumentParser(
        prog="edm_pset_tweak.py",
        description="Simulated cmssw-wm-tools: apply a JSON object of PSet tweaks to a pickled process.",
    )
    parser.add_argument("--input_pkl", required=True, help="pickled process to read")
    parser.add_argument("--output_pkl", required=True, help="pickle file to write (may be the input)")
    parser.add_argument("--json", required=True, help='JSON object {"process.<path>": "<value>"}')
    parser.add_argument("--create_untracked_psets", action="store_true",
                        help="create missing PSets on a key's path as untracked PSets")
    parser.add_argument("--allow_failed_tweaks", action="store_true",
                        help="report invalid tweaks but apply the others and exit 0")
    parser.add_argument("--skip_if_set", action="store_true",
                        help="leave parameters that already exist unchanged")
    args = parser.parse_args(argv)

    def main():
        process = load_process(args.input_pkl)
        tweaks = _read_tweaks(args.json)
        failures = []
        for key, text in tweaks.items():
            try:
                applied = apply_tweak(process, key, text, args.create_untracked_psets, args.skip_if_set)
            except ValueError as error:
                failures.append("invalid tweak %s = %r: %s" % (key, text, error))
                continue
            if not applied:
                _log("edm_pset_tweak.py", "kept %s, which is already set (--skip_if_set)" % key)
        for failure in failures:
            sys.stderr.write("edm_pset_tweak.py: %s\n" % failure)
        if failures and not args.allow_failed_tweaks:
            raise ToolError("%d of %d tweaks failed; %s was not written"
                            % (len(failures), len(tweaks), args.output_pkl))
        save_process(process, args.output_pkl)
        _log("edm_pset_tweak.py", "applied %d of %d tweaks from %s, wrote %s"
             % (len(tweaks) - len(failures), len(tweaks), args.json, args.output_pkl))

    run_tool("edm_pset_tweak.py", main)


def handle_nevents_main(argv=None):
    parser = argparse.ArgumentParser(
        prog="cmssw_handle_nEvents.py",
        description="Simulated cmssw-wm-tools: set every producer's nEvents to maxEvents.input.",
    )
    parser.add_argument("--input_pkl", required=True, help="pickled process to read")
    parser.add_argument("--output_pkl", required=True, help="pickle file to write (may be the input)")
    args = parser.parse_args(argv)

    def main():
        process = load_process(args.input_pkl)
        max_events = process.maxEvents.input.value()
        for label, producer in process.producers_().items():
            if not producer.hasParameter("nEvents"):
                continue
            # NOTE: with maxEvents -1 (all events) nEvents is left as it is.
            if max_events >= 0:
                producer.nEvents = cms.untracked.uint32(max_events)
                _log("cmssw_handle_nEvents.py", "set %s.nEvents to %d" % (label, max_events))
        save_process(process, args.output_pkl)

    run_tool("cmssw_handle_nEvents.py", main)


def handle_condor_status_service_main(argv=None):
    parser = argparse.ArgumentParser(
        prog="cmssw_handle_condor_status_service.py",
        description="Simulated cmssw-wm-tools: add the CondorStatusService tagged with the step name.",
    )
    parser.add_argument("--input_pkl", required=True, help="pickled process to read")
    parser.add_argument("--output_pkl", required=True, help="pickle file to write (may be the input)")
    parser.add_argument("--name", required=True, help="step name for the service tag, such as cmsRun1")
    args = parser.parse_args(argv)

    def main():
        process = load_process(args.input_pkl)
        tag = "_%s_" % args.name
        service = process.services_().get("CondorStatusService")
        if service is None:
            process.add_(cms.Service("CondorStatusService", tag=cms.untracked.string(tag)))
        else:
            service.tag = cms.untracked.string(tag)
        save_process(process, args.output_pkl)
        _log("cmssw_handle_condor_status_service.py", "CondorStatusService tag is %s" % tag)

    run_tool("cmssw_handle_condor_status_service.py", main)
