"""Read request.json and the job file once and lay out the work area for every step.

Writes into the work directory:
  job.json              a copy of the job file (stage_out.py reads the job index from it)
  plan.json             the steps with their release, SCRAM architecture, PSet and KeepOutput
  plan.sh               the same as bash assignments for execute_stepchain.sh to source
  step<N>/tweak.json    the job's tweak of step N, the input of edm_pset_tweak.py

Step N runs in step<N>, because the splitter's tweaks make step N read its input as
file:../step<J>/<Module>.root.

Bad input (an unreadable or invalid request or job file, a missing step, tweak or PSet) prints
one "[job_plan] ERROR: ..." line naming the value and exits with status 2 before anything is
written. A failure to write the work area exits with status 1. Runs on the worker node under
Python 3.6 with the standard library only.
"""
import argparse
import json
import os
import re
import shlex
import shutil
import sys

INVALID_INPUT_STATUS = 2

RELEASE_PATTERN = re.compile(r"^CMSSW_[A-Za-z0-9_]+$")
SCRAM_ARCH_PATTERN = re.compile(r"^[a-z]+[0-9]+_[a-z0-9]+_[a-z]+[0-9]+$")
STEP_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_.-]+$")


class InvalidInput(Exception):
    """request.json, the job file or the unpacked PSets do not describe a runnable job."""


def load_json(path, description):
    try:
        with open(path, "rb") as handle:
            document = json.loads(handle.read().decode("utf-8"))
    except OSError as error:
        raise InvalidInput("cannot read %s %s: %s" % (description, path, error.strerror)) from None
    except ValueError as error:
        raise InvalidInput("%s %s is not valid JSON: %s" % (description, path, error)) from None
    if not isinstance(document, dict):
        raise InvalidInput("%s %s must hold a JSON object, found %s"
                           % (description, path, type(document).__name__))
    return document


def first_scram_arch(value, step_label):
    if isinstance(value, list):
        value = value[0] if value else None
    if not isinstance(value, str) or not SCRAM_ARCH_PATTERN.match(value):
        raise InvalidInput("%s ScramArch %r is not a SCRAM architecture such as slc7_amd64_gcc700"
                           % (step_label, value))
    return value


def read_steps(request, request_path, psets_dir):
    count = request.get("StepChain")
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise InvalidInput("StepChain in %s is %r; it must be a positive number of steps"
                           % (request_path, count))

    steps = []
    index_by_name = {}
    for number in range(1, count + 1):
        label = "Step%d" % number
        settings = request.get(label)
        if not isinstance(settings, dict):
            raise InvalidInput("%s is missing from %s, which declares StepChain %d"
                               % (label, request_path, count))

        name = settings.get("StepName")
        if not isinstance(name, str) or not STEP_NAME_PATTERN.match(name):
            raise InvalidInput("%s StepName %r in %s is missing or has characters outside [A-Za-z0-9_.-]"
                               % (label, name, request_path))
        release = settings.get("CMSSWVersion", request.get("CMSSWVersion"))
        if not isinstance(release, str) or not RELEASE_PATTERN.match(release):
            raise InvalidInput("%s CMSSWVersion %r in %s is not a release name such as CMSSW_10_6_47"
                               % (label, release, request_path))
        arch = first_scram_arch(settings.get("ScramArch", request.get("ScramArch")), label)

        input_step = settings.get("InputStep")
        if number > 1 and input_step not in index_by_name:
            raise InvalidInput("%s InputStep %r in %s names no earlier step (earlier steps: %s)"
                               % (label, input_step, request_path, ", ".join(sorted(index_by_name))))

        pset = os.path.join("PSets", "PSet_cmsRun%d_%s.py" % (number, name))
        if not os.path.isfile(os.path.join(psets_dir, os.path.basename(pset))):
            raise InvalidInput("PSet %s of %s is missing from the request tarball" % (pset, label))

        index_by_name[name] = number
        steps.append({
            "step": number,
            "name": name,
            "cmssw_version": release,
            "scram_arch": arch,
            "keep_output": bool(settings.get("KeepOutput", True)),
            "input_step": index_by_name.get(input_step),
            "pset": pset,
        })
    return steps


def read_tweaks(job, job_path, count):
    index = job.get("job_index")
    if not isinstance(index, int) or isinstance(index, bool) or index < 1:
        raise InvalidInput("job_index in %s is %r; it must be a positive integer" % (job_path, index))
    tweaks = job.get("tweaks")
    if not isinstance(tweaks, dict):
        raise InvalidInput("tweaks in %s must be an object keyed by step number" % job_path)
    by_step = []
    for number in range(1, count + 1):
        tweak = tweaks.get(str(number))
        if not isinstance(tweak, dict):
            raise InvalidInput("tweak for step %d is missing in %s (keys present: %s)"
                               % (number, os.path.basename(job_path), ", ".join(sorted(tweaks)) or "none"))
        for key, value in tweak.items():
            if not isinstance(value, str):
                raise InvalidInput("tweak %s of step %d in %s is %r; tweak values must be strings"
                                   % (key, number, job_path, value))
        by_step.append(tweak)
    return index, by_step


def shell_assignments(index, steps):
    lines = ["job_index=%d" % index, "step_count=%d" % len(steps)]
    for step in steps:
        number = step["step"]
        for field, value in (("name", step["name"]), ("release", step["cmssw_version"]),
                             ("arch", step["scram_arch"]), ("pset", step["pset"]),
                             ("keep_output", "true" if step["keep_output"] else "false")):
            lines.append("step_%s[%d]=%s" % (field, number, shlex.quote(value)))
    return "\n".join(lines) + "\n"


def write_work_area(work_dir, job_path, index, steps, tweaks):
    shutil.copyfile(job_path, os.path.join(work_dir, "job.json"))
    for step, tweak in zip(steps, tweaks):
        step_dir = os.path.join(work_dir, "step%d" % step["step"])
        os.mkdir(step_dir)
        with open(os.path.join(step_dir, "tweak.json"), "w") as handle:
            json.dump(tweak, handle, indent=2, sort_keys=True)
    with open(os.path.join(work_dir, "plan.json"), "w") as handle:
        json.dump({"job_index": index, "steps": steps}, handle, indent=2)
    with open(os.path.join(work_dir, "plan.sh"), "w") as handle:
        handle.write(shell_assignments(index, steps))


def main(argv=None):
    parser = argparse.ArgumentParser(description="Read the request and job file; lay out the work area.")
    parser.add_argument("--work-dir", required=True, help="unpacked request tarball (request.json, PSets/)")
    parser.add_argument("--job", required=True, help="the job file, jobN.json")
    options = parser.parse_args(argv)

    request_path = os.path.join(options.work_dir, "request.json")
    try:
        request = load_json(request_path, "request")
        steps = read_steps(request, request_path, os.path.join(options.work_dir, "PSets"))
        index, tweaks = read_tweaks(load_json(options.job, "job file"), options.job, len(steps))
    except InvalidInput as error:
        sys.stderr.write("[job_plan] ERROR: %s\n" % error)
        return INVALID_INPUT_STATUS
    try:
        write_work_area(options.work_dir, options.job, index, steps, tweaks)
    except OSError as error:
        sys.stderr.write("[job_plan] ERROR: cannot write the work area %s: %s\n" % (options.work_dir, error))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
