"""Benchmark the event splitter on the real request at its own size and at ten times the events.

For each size it runs the event splitter (with --psets and --output-dir) in a child Python process
and records wall time, CPU time (user + system, from the child's rusage) and peak resident memory.
Next to each run it measures the floor: the time this process takes to create the same number of
files, with the same sizes, in a fresh directory on the same file system. The splitter's wall time
also includes starting Python, reading the inputs and writing request_psets.tar.gz. Every timed
part starts after os.sync(), and the two alternate which goes first. The table gives medians, and
the wall / floor ratio is the median of the ratios of neighbouring runs.

    python bench/bench_event_splitter.py --request-dir DIR [--work-dir DIR] [--repeats 7]
                                         [--scaled-repeats 3]
"""
import argparse
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REAL_EVENTS = 15000000
SCALED_EVENTS = 150000000
# First argument that makes this script run the splitter itself and report its own peak memory.
CHILD_MODE = "--child-run-splitter"


def _peak_rss_kib():
    """Return VmHWM of this process from /proc (KiB).

    getrusage's ru_maxrss is not used because Linux carries the parent's resident size across
    fork and exec into it, which would count the benchmark's own memory.
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("VmHWM not found in /proc/self/status")


def _child_main(splitter_arguments):
    from micro_agent.event_splitter import main

    status = main(splitter_arguments)
    print("peak_rss_kib %d" % _peak_rss_kib())
    return status


def _run_splitter(request_path, request_dir, output_dir):
    """Run the splitter in a child and return (wall seconds, CPU seconds, peak RSS in MiB)."""
    command = [sys.executable, os.path.abspath(__file__), CHILD_MODE,
               "--request", str(request_path), "--splitting", str(request_dir / "splitting.json"),
               "--psets", str(request_dir / "PSets"), "--output-dir", str(output_dir)]
    os.sync()
    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    child.stdout.close()
    exit_code = os.waitstatus_to_exitcode(status)
    if exit_code != 0:
        raise SystemExit("event splitter failed with exit status %d" % exit_code)
    peak_kib = int(output.split("peak_rss_kib ")[-1])
    return wall, usage.ru_utime + usage.ru_stime, peak_kib / 1024.0


def _create_files(directory, sizes):
    """Create one file per size with os.open, os.write and os.close; return (wall, CPU) seconds.

    The payloads are built before the clock starts and the interpreter is already running, so the
    time is almost all spent in the kernel creating and writing the files.
    """
    payloads = {size: b"x" * size for size in set(sizes)}
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    os.sync()
    start = time.perf_counter()
    start_cpu = time.process_time()
    os.mkdir(directory)
    for index, size in enumerate(sizes, start=1):
        descriptor = os.open(os.path.join(directory, "file%d.json" % index), flags, 0o644)
        os.write(descriptor, payloads[size])
        os.close(descriptor)
    return time.perf_counter() - start, time.process_time() - start_cpu


def _output_sizes(output_dir):
    return [entry.stat().st_size for entry in os.scandir(output_dir)]


def _measure(request_dir, work_dir, events, repeats):
    request = json.loads((request_dir / "request.json").read_text())
    request["Step1"]["RequestNumEvents"] = events
    request_path = work_dir / ("request-%d.json" % events)
    request_path.write_text(json.dumps(request, indent=2))
    output_dir = work_dir / "splitter-out"
    floor_dir = work_dir / "floor-out"

    # A first untimed run gives the file sizes that the floor writes.
    _run_splitter(request_path, request_dir, output_dir)
    sizes = _output_sizes(output_dir)
    shutil.rmtree(output_dir)

    splitter_runs = []
    floor_runs = []
    for repeat in range(repeats):
        if repeat % 2:
            floor_runs.append(_create_files(floor_dir, sizes))
            shutil.rmtree(floor_dir)
        splitter_runs.append(_run_splitter(request_path, request_dir, output_dir))
        shutil.rmtree(output_dir)
        if not repeat % 2:
            floor_runs.append(_create_files(floor_dir, sizes))
            shutil.rmtree(floor_dir)

    # Each splitter run is compared with the floor measured right next to it, because the time
    # to create files on a shared machine drifts by several times within minutes.
    ratios = [run[0] / floor[0] for run, floor in zip(splitter_runs, floor_runs)]
    cpu_ratios = [run[1] / floor[1] for run, floor in zip(splitter_runs, floor_runs)]
    walls = [run[0] for run in splitter_runs]
    floor_walls = [floor[0] for floor in floor_runs]
    return {
        "events": events,
        "jobs": len(sizes) - 1,
        "runs": repeats,
        "wall_s": statistics.median(walls),
        "cpu_s": statistics.median(run[1] for run in splitter_runs),
        "peak_rss_mib": max(run[2] for run in splitter_runs),
        "floor_s": statistics.median(floor_walls),
        "floor_cpu_s": statistics.median(floor[1] for floor in floor_runs),
        "ratio": statistics.median(ratios),
        "cpu_ratio": statistics.median(cpu_ratios),
        "wall_range": "%.2f-%.2f" % (min(walls), max(walls)),
        "floor_range": "%.2f-%.2f" % (min(floor_walls), max(floor_walls)),
        "ratio_range": "%.2f-%.2f" % (min(ratios), max(ratios)),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--request-dir", required=True, type=pathlib.Path,
                        help="directory with request.json, splitting.json and PSets/ of the real request")
    parser.add_argument("--work-dir", type=pathlib.Path,
                        help="directory on the disk to measure (default: the system temporary directory)")
    parser.add_argument("--repeats", type=int, default=7,
                        help="timed runs at the real size (15,000,000 events); medians are reported")
    parser.add_argument("--scaled-repeats", type=int, default=3,
                        help="timed runs at 150,000,000 events; medians are reported")
    args = parser.parse_args()

    work_dir = pathlib.Path(tempfile.mkdtemp(prefix="bench-event-splitter-", dir=args.work_dir))
    try:
        results = [_measure(args.request_dir, work_dir, REAL_EVENTS, args.repeats),
                   _measure(args.request_dir, work_dir, SCALED_EVENTS, args.scaled_repeats)]
    finally:
        shutil.rmtree(work_dir)

    print("| events | jobs | runs | wall (s) | CPU (s) | peak RSS (MiB) | floor wall (s) | floor CPU (s) "
          "| wall / floor | CPU / floor CPU | wall range (s) | floor range (s) | wall / floor range |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for result in results:
        row = ("| {events:,} | {jobs:,} | {runs} | {wall_s:.2f} | {cpu_s:.2f} | {peak_rss_mib:.1f} "
               "| {floor_s:.2f} | {floor_cpu_s:.2f} | {ratio:.2f} | {cpu_ratio:.2f} | {wall_range} "
               "| {floor_range} | {ratio_range} |")
        print(row.format(**result))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == CHILD_MODE:
        sys.exit(_child_main(sys.argv[2:]))
    main()
