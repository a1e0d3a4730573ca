"""Write output_modules.json: the output modules of a tweaked, pickled CMSSW process.

    dump_output_modules.py Pset.pkl output_modules.json

The result maps each output module label to {"file_name": <path relative to the step directory>,
"data_tier": <the module's dataset.dataTier>}; stage_out.py and job_report.py read it. The data
tier is read from the module, never derived from its label (NANOEDMAODSIMoutput writes
NANOAODSIM).

Runs with the release's own Python after `scram runtime`, because unpickling the process needs
FWCore. CMSSW_10_6 releases run Python 2, so this file keeps to syntax that Python 2.7 and 3
both accept. Exit status 0 on success, 1 when the pickle cannot be read or a module has no
fileName.
"""
from __future__ import print_function

import json
import pickle
import sys

FILE_PREFIX = "file:"


def parameter_value(holder, name):
    """Return the plain value of parameter `name` of a module or PSet, or None when absent."""
    parameter = getattr(holder, name, None)
    if parameter is None:
        return None
    return parameter.value() if hasattr(parameter, "value") else parameter


def describe_output_modules(process):
    modules = {}
    for label, module in sorted(process.outputModules_().items()):
        file_name = parameter_value(module, "fileName")
        if not file_name:
            raise ValueError("output module %s has no fileName" % label)
        if file_name.startswith(FILE_PREFIX):
            file_name = file_name[len(FILE_PREFIX):]
        dataset = getattr(module, "dataset", None)
        data_tier = parameter_value(dataset, "dataTier") if dataset is not None else None
        modules[label] = {"file_name": file_name, "data_tier": data_tier}
    return modules


def main(argv):
    if len(argv) != 3:
        print("usage: %s <Pset.pkl> <output_modules.json>" % argv[0], file=sys.stderr)
        return 1
    try:
        with open(argv[1], "rb") as handle:
            process = pickle.load(handle)
        modules = describe_output_modules(process)
    except Exception as error:  # unpickling runs FWCore code, which can raise anything
        print("[dump_output_modules] ERROR: cannot list the output modules of %s: %s: %s"
              % (argv[1], type(error).__name__, error), file=sys.stderr)
        return 1
    with open(argv[2], "w") as handle:
        json.dump(modules, handle, indent=2, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
