"""scripts/demo.sh, the README's first command, on the bundled sample request."""
import re
import subprocess
import time

import pytest
from fixtures.end_to_end import processes_using
from fixtures.paths import REPO_ROOT

DEMO_TIMEOUT_SECONDS = 600
# A staged file as run-node-locally prints it: LFN, PFN, then size and adler32.
STAGED_FILE = re.compile(
    r"^\s+staged (/store/unmerged/\S+\.root)\n\s+PFN \S+\n\s+size (\d+) adler32 [0-9a-f]{8}$", re.M)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    output = tmp_path_factory.mktemp("demo") / "out"
    completed = subprocess.run(["bash", str(REPO_ROOT / "scripts" / "demo.sh"), "--output", str(output)],
                               stdin=subprocess.DEVNULL, capture_output=True, text=True,
                               timeout=DEMO_TIMEOUT_SECONDS, check=False)
    return output, completed


def test_demo_exit_status(demo_run):
    _, completed = demo_run
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]


def test_demo_runs_first_and_last_node(demo_run):
    _, completed = demo_run
    assert re.findall(r"^node (Job\d+) \(cluster \d+\): job exit status 0$", completed.stdout, re.M) == [
        "Job1", "Job5"]


def test_demo_prints_staged_files(demo_run):
    _, completed = demo_run
    staged = re.findall(r"^\s+staged (/store/unmerged/\S+\.root)$", completed.stdout, re.M)
    # Steps 3, 4 and 5 of the sample keep their output, for each of the two nodes.
    assert len(staged) == 6
    assert len(set(staged)) == 6


def test_demo_files_at_storage_element(demo_run):
    _, completed = demo_run
    staged = STAGED_FILE.findall(completed.stdout)
    listing = completed.stdout.split("files at the storage element", 1)[-1]
    at_storage = {(lfn, size) for size, lfn in re.findall(r"^\s*(\d+)  (/store/\S+)$", listing, re.M)}
    assert len(staged) == 6
    assert set(staged) <= at_storage


def test_demo_leaves_no_process(demo_run):
    output, _ = demo_run
    deadline = time.monotonic() + 10
    while processes_using(output) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_using(output) == []


def test_demo_rejects_foreign_output(tmp_path):
    (tmp_path / "keep.txt").write_text("not the demo's")
    command = ["bash", str(REPO_ROOT / "scripts" / "demo.sh"), "--output", str(tmp_path)]
    completed = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
                               check=False)
    assert completed.returncode == 2
    assert "was not made by this demo" in completed.stderr
    assert (tmp_path / "keep.txt").read_text() == "not the demo's"
