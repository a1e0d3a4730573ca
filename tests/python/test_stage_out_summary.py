"""The one-line reason that stage_out.py gives for a failed copy script."""
import json
import subprocess

from fixtures.stage_out import worker_interpreter

# Run one copy script through CopyCommandRunner and print the recorded (exit code, reason).
RUN_SCRIPT = """
import json, sys
sys.path.insert(0, sys.argv[1])
from stageout_transfer import CopyCommandRunner, SecretRedactor
runner = CopyCommandRunner(SecretRedactor({}))
runner(sys.argv[2])
print(json.dumps(runner.attempts[-1]))
"""

# What WMCore's xrdcp script prints when the copy fails: xrdcp's error, the script's own summary
# on stdout, then the error of its cleanup `xrdfs rm`, which xrdfs ends with a NUL byte.
FAILED_COPY_SCRIPT = r"""
echo 'Run: [ERROR] Server responded with an error: [3010] Unable to create /store/a; permission denied' >&2
echo 'ERROR: XRootD file transfer return code is 54. Size or Checksum Mismatch between local and SE'
printf '[ERROR] Server responded with an error: [3011] Unable to remove /store/a/f.root\0\n' >&2
exit 151
"""


def copy_failure(repo_root, script):
    completed = subprocess.run(
        [worker_interpreter(), "-c", RUN_SCRIPT, str(repo_root / "ep_scripts"), script],
        capture_output=True, text=True, timeout=60, check=True)
    return json.loads(completed.stdout)


def test_reason_is_copy_error(repo_root):
    code, reason = copy_failure(repo_root, FAILED_COPY_SCRIPT)
    assert code == 151
    assert "Unable to create /store/a; permission denied" in reason


def test_reason_without_nul(repo_root):
    _, reason = copy_failure(repo_root, "printf '[ERROR] bad\\0\\n' >&2; exit 1")
    assert reason == "[ERROR] bad"


def test_reason_stdout_only(repo_root):
    _, reason = copy_failure(repo_root, "echo 'ERROR: copy failed'; echo done; exit 1")
    assert reason == "ERROR: copy failed"


def test_reason_without_error_line(repo_root):
    _, reason = copy_failure(repo_root, "echo first; echo last; exit 1")
    assert reason == "last"
