"""Split a ReqMgr2 StepChain production request into per-job PSet tweaks, like WMAgent's EventBased splitter.

    event-splitter --request request.json --splitting splitting.json [--psets PSets/]
                   [--output-dir DIR] [--overwrite]

With --output-dir it writes job1.json .. jobN.json, each {"job_index": N, "tweaks": {"<step>": {...}}},
and with --psets also request_psets.tar.gz holding request.json and PSets/ with each step's
PSet_cmsRun<N>_<StepName>.py. Without --output-dir it prints the job count and the first jobs.

Output is all or nothing: files go to a temporary directory beside the output directory, which is
renamed into place once complete. Exit status: 0 on success, 2 for invalid arguments or input
(one line on stderr "event_splitter: error: ..." naming the value and the fix), 1 when writing fails.
"""
import argparse
import io
import os
import re
import shutil
import signal
import sys
import tarfile
import tempfile
import time

from micro_agent.splitter_jobs import JobDocumentRenderer, count_jobs, split_events
from micro_agent.splitter_request import InvalidInputError, load_json_file, read_plan

PROGRAM = "event_splitter"
EXIT_INVALID_INPUT = 2
EXIT_WRITE_FAILED = 1
TARBALL_NAME = "request_psets.tar.gz"
JOBS_SHOWN_WITHOUT_OUTPUT = 5
# Names the splitter itself writes. --overwrite replaces only a directory that contains nothing else.
_OUTPUT_ENTRY = re.compile(r"(job[1-9][0-9]*\.json|%s)\Z" % re.escape(TARBALL_NAME))


class WriteError(Exception):
    """Writing the output failed for a reason outside the input (disk full, permissions)."""


def _parse_arguments(argv):
    parser = argparse.ArgumentParser(
        prog=PROGRAM,
        description="Split a StepChain production request into jobN.json tweak files (EventBased).",
        epilog="Exit status: 0 success, 2 invalid arguments or input, 1 writing the output failed.",
    )
    parser.add_argument("--request", required=True, help="ReqMgr2 request.json of a StepChain request")
    parser.add_argument("--splitting", required=True,
                        help="ReqMgr2 splitting JSON; its Production entry sets events per job and per lumi")
    parser.add_argument("--psets", help="directory with PSet_cmsRun<N>_<StepName>.py for every step;"
                                        " adds request_psets.tar.gz to the output")
    parser.add_argument("--output-dir", help="directory to create with job1.json..jobN.json; without it"
                                             " the job count and the first jobs are printed")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an output directory that contains an earlier splitter output")
    return parser.parse_args(argv)


def _check_psets(plan, pset_dir):
    """Return [(path, archive name)] for every step's PSet, checking the modules later steps read."""
    if not os.path.isdir(pset_dir):
        raise InvalidInputError("--psets %s is not a directory; pass the directory with the PSet files"
                                % pset_dir)
    members = []
    texts = {}
    for step in plan.steps:
        path = os.path.join(pset_dir, step.pset_name)
        if not os.path.isfile(path):
            raise InvalidInputError("PSet for step %d (%s) not found: %s; add it to %s"
                                    % (step.number, step.name, path, pset_dir))
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                texts[step.number] = handle.read()
        except OSError as error:
            raise InvalidInputError("cannot read PSet %s: %s" % (path, error.strerror)) from None
        members.append((path, "PSets/" + step.pset_name))

    for step in plan.steps[1:]:
        definition = re.compile(r"^process\.%s\s*=" % re.escape(step.input_module), re.MULTILINE)
        if not definition.search(texts[step.input_step_number]):
            source = plan.steps[step.input_step_number - 1]
            raise InvalidInputError("Step%d.InputFromOutputModule %r is not defined in %s; set it to an"
                                    " output module of step %d" % (step.number, step.input_module,
                                                                   source.pset_name, source.number))
    return members


def _check_output_dir(output_dir, overwrite):
    if not os.path.lexists(output_dir):
        parent = os.path.dirname(os.path.abspath(output_dir))
        if not os.path.isdir(parent):
            raise InvalidInputError("parent directory of --output-dir %s does not exist; create it first"
                                    % output_dir)
        return
    if os.path.islink(output_dir) or not os.path.isdir(output_dir):
        raise InvalidInputError("--output-dir %s exists and is not a directory; choose another path"
                                % output_dir)
    entries = os.listdir(output_dir)
    if not entries:
        return
    if not overwrite:
        raise InvalidInputError("--output-dir %s is not empty; pass --overwrite to replace it or choose"
                                " another directory" % output_dir)
    foreign = sorted(name for name in entries if not _OUTPUT_ENTRY.match(name))
    if foreign:
        raise InvalidInputError("--output-dir %s contains %r, which the splitter did not write; --overwrite"
                                " replaces only splitter output, so move it away or choose another"
                                " directory" % (output_dir, foreign[0]))


def _add_member(archive, name, data, mode, mtime):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    info.mtime = mtime
    archive.addfile(info, io.BytesIO(data))


def _write_tarball(path, request_path, pset_members):
    """Write the tarball: request.json, then PSets/ and one regular file per step, modes 0644 and 0755."""
    with open(request_path, "rb") as handle:
        request_data = handle.read()
    mtime = int(time.time())
    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT) as archive:
        _add_member(archive, "request.json", request_data, 0o644, mtime)
        directory = tarfile.TarInfo("PSets")
        directory.type = tarfile.DIRTYPE
        directory.mode = 0o755
        directory.mtime = mtime
        archive.addfile(directory)
        for source, name in pset_members:
            with open(source, "rb") as handle:
                _add_member(archive, name, handle.read(), 0o644, mtime)


class _Progress:
    """Progress line on stderr, shown only when stderr is a terminal."""

    def __init__(self, total):
        self._total = total
        self._enabled = sys.stderr.isatty()
        self._next_update = 0.0

    def update(self, written):
        if not self._enabled:
            return
        now = time.monotonic()
        if now >= self._next_update or written == self._total:
            self._next_update = now + 0.5
            sys.stderr.write("\r%s: jobs written: %d/%d" % (PROGRAM, written, self._total))
            if written == self._total:
                sys.stderr.write("\n")
            sys.stderr.flush()


def _write_all(descriptor, data):
    """Write all of data, continuing after a short write (os.write may return fewer bytes)."""
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view):]


def _write_jobs(directory, plan):
    renderer = JobDocumentRenderer(plan)
    progress = _Progress(count_jobs(plan))
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    for job in split_events(plan):
        descriptor = os.open(os.path.join(directory, "job%d.json" % job.index), flags, 0o644)
        try:
            _write_all(descriptor, renderer.render(job))
        finally:
            os.close(descriptor)
        if job.index % 1000 == 0:
            progress.update(job.index)
    progress.update(count_jobs(plan))


def _move_into_place(staging, output_dir):
    """Rename the finished staging directory to output_dir, replacing an earlier output last."""
    if not os.path.lexists(output_dir):
        os.rename(staging, output_dir)
        return
    parent, name = os.path.split(os.path.abspath(output_dir))
    # mkdtemp reserves a unique name; the directory is removed so that rename can take the name.
    old = tempfile.mkdtemp(prefix=".%s-old-" % name, dir=parent)
    os.rmdir(old)
    os.rename(output_dir, old)
    try:
        os.rename(staging, output_dir)
    except OSError:
        os.rename(old, output_dir)
        raise
    shutil.rmtree(old)


def write_output(output_dir, plan, request_path, pset_members):
    """Write every job file and the tarball beside output_dir, then move them into place together."""
    parent, name = os.path.split(os.path.abspath(output_dir))
    try:
        staging = tempfile.mkdtemp(prefix=".%s-partial-" % name, dir=parent)
    except OSError as error:
        raise WriteError("cannot create a directory in %s: %s" % (parent, error.strerror)) from None
    try:
        _write_jobs(staging, plan)
        if pset_members is not None:
            _write_tarball(os.path.join(staging, TARBALL_NAME), request_path, pset_members)
        os.chmod(staging, 0o755)
        # A signal between the renames would leave the earlier output aside; it waits until both are done.
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
        try:
            _move_into_place(staging, output_dir)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise WriteError("writing %s failed: %s" % (output_dir, error)) from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _print_summary(plan):
    total = count_jobs(plan)
    print("jobs: %d (%d events, %d per job, %d per lumi)"
          % (total, plan.total_events, plan.events_per_job, plan.events_per_lumi))
    print("%8s %12s %12s %10s %10s %6s" % ("job", "FirstEvent", "LastEvent", "FirstLumi", "LastLumi", "Run"))
    for job in split_events(plan):
        if job.index > JOBS_SHOWN_WITHOUT_OUTPUT:
            break
        print("%8d %12d %12d %10d %10d %6d" % (job.index, job.first_event, job.last_event,
                                              job.first_lumi, job.last_lumi, job.first_run))
    if total > JOBS_SHOWN_WITHOUT_OUTPUT:
        print("%8s" % "...")


def run(args):
    request = load_json_file(args.request, "request")
    splitting = load_json_file(args.splitting, "splitting file")
    plan = read_plan(request, splitting)
    pset_members = _check_psets(plan, args.psets) if args.psets is not None else None

    if args.output_dir is None:
        _print_summary(plan)
        return
    _check_output_dir(args.output_dir, args.overwrite)
    write_output(args.output_dir, plan, args.request, pset_members)
    print("wrote %d job files%s to %s" % (count_jobs(plan), " and " + TARBALL_NAME if pset_members else "",
                                        args.output_dir))


class Stopped(Exception):
    """SIGTERM or SIGINT arrived; raised from the signal handler so partial output is removed."""

    def __init__(self, signal_number):
        super().__init__(signal.Signals(signal_number).name)
        self.signal_number = signal_number


def _raise_stopped(signal_number, _frame):
    raise Stopped(signal_number)


def main(argv=None):
    args = _parse_arguments(argv)
    # Python ends at SIGTERM without unwinding, which would leave the staging directory behind.
    signal.signal(signal.SIGTERM, _raise_stopped)
    signal.signal(signal.SIGINT, _raise_stopped)
    try:
        run(args)
    except Stopped as stop:
        sys.stderr.write("%s: stopped by %s; partial output removed\n" % (PROGRAM, stop))
        return 128 + stop.signal_number
    except InvalidInputError as error:
        sys.stderr.write("%s: error: %s\n" % (PROGRAM, error))
        return EXIT_INVALID_INPUT
    except WriteError as error:
        sys.stderr.write("%s: error: %s\n" % (PROGRAM, error))
        return EXIT_WRITE_FAILED
    return 0


if __name__ == "__main__":
    sys.exit(main())
