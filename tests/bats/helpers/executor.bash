# shellcheck shell=bash
# Helpers of the executor tests. Load after helpers/paths and helpers/local_site.
#
# executor_split_real_request (in setup_file) splits the real request once per file into
# $BATS_FILE_TMPDIR/split; executor_job_dir makes $JOB_DIR, a scratch directory like HTCondor's,
# holding the request tarball and one job file.

EXECUTOR="$REPO_ROOT/ep_scripts/execute_stepchain.sh"
RUN_SH="$REPO_ROOT/ep_scripts/run.sh"
# A hung executor fails its test instead of blocking the suite.
EXECUTOR_TIMEOUT_SECONDS=180
export EXECUTOR RUN_SH EXECUTOR_TIMEOUT_SECONDS

executor_split_real_request() {
    SPLIT_DIR="$BATS_FILE_TMPDIR/split"
    export SPLIT_DIR
    [ -f "$SPLIT_DIR/job1.json" ] && return 0
    event-splitter --request "$REAL_REQUEST_DIR/request.json" --splitting "$REAL_REQUEST_DIR/splitting.json" \
        --psets "$REAL_REQUEST_DIR/PSets" --output-dir "$SPLIT_DIR" >/dev/null
}

# Make $JOB_DIR with request_psets.tar.gz and job<N>.json (default job 1).
executor_job_dir() {
    local index=${1:-1}
    JOB_DIR="$BATS_TEST_TMPDIR/job"
    export JOB_DIR
    mkdir -p "$JOB_DIR"
    cp "$SPLIT_DIR/request_psets.tar.gz" "$SPLIT_DIR/job$index.json" "$JOB_DIR/"
}

# Make $JOB_DIR a copy of HTCondor's scratch directory: every file of ep_scripts/, WMCore.zip, the
# request tarball and job1.json; EXECUTOR and RUN_SH then point into it.
executor_scratch_dir() {
    executor_job_dir 1
    cp "$REPO_ROOT"/ep_scripts/* "$JOB_DIR/"
    python3 -c 'import sys; from micro_agent.wmcore_bundle import build_wmcore_zip; build_wmcore_zip(sys.argv[1])' \
        "$JOB_DIR/WMCore.zip"
    EXECUTOR="$JOB_DIR/execute_stepchain.sh"
    RUN_SH="$JOB_DIR/run.sh"
}

# Run the executor in $JOB_DIR with bats' run; arguments default to the tarball and job1.json.
run_executor() {
    [ "$#" -gt 0 ] || set -- request_psets.tar.gz job1.json
    cd "$JOB_DIR" || return 1
    run timeout "$EXECUTOR_TIMEOUT_SECONDS" bash "$EXECUTOR" "$@"
}

# Print a value of $JOB_DIR/job_report.json: the argument is a Python expression on `report`.
report_value() {
    python3 -c 'import json, sys
report = json.load(open(sys.argv[1]))
print(eval(sys.argv[2]))' "$JOB_DIR/job_report.json" "$1"
}

# Rewrite $JOB_DIR/request_psets.tar.gz after running a Python statement on `request` (a dict).
modify_request() {
    python3 - "$JOB_DIR/request_psets.tar.gz" "$1" <<'EOF'
import io, json, sys, tarfile
path, statement = sys.argv[1], sys.argv[2]
with tarfile.open(path) as archive:
    members = [(m, archive.extractfile(m).read() if m.isfile() else None) for m in archive.getmembers()]
with tarfile.open(path, "w:gz") as archive:
    for member, data in members:
        if member.name == "request.json":
            request = json.loads(data)
            exec(statement)
            data = json.dumps(request).encode()
            member.size = len(data)
        archive.addfile(member, io.BytesIO(data) if data is not None else None)
EOF
}

# Add members to $JOB_DIR/request_psets.tar.gz. Each argument is "name", "name->symlink target",
# or "name:size" for a regular file of that many random bytes. A first argument "first:" puts the
# new members before the existing ones.
add_tarball_members() {
    python3 - "$JOB_DIR/request_psets.tar.gz" "$@" <<'EOF'
import io, os, sys, tarfile
path, specs = sys.argv[1], sys.argv[2:]
front = bool(specs) and specs[0] == "first:"
specs = specs[1:] if front else specs
with tarfile.open(path) as archive:
    members = [(m, archive.extractfile(m).read() if m.isfile() else None) for m in archive.getmembers()]
extra = []
for spec in specs:
    if "->" in spec:
        name, target = spec.split("->", 1)
        info = tarfile.TarInfo(name)
        info.type, info.linkname = tarfile.SYMTYPE, target
        extra.append((info, None))
    else:
        name, _, size = spec.partition(":")
        data = os.urandom(int(size or 1))
        info = tarfile.TarInfo(name)
        info.size = len(data)
        extra.append((info, data))
ordered = extra + members if front else members + extra
with tarfile.open(path, "w:gz") as archive:
    for member, data in ordered:
        archive.addfile(member, io.BytesIO(data) if data is not None else None)
EOF
}

# Start the executor in its own process group (setsid) in the background; sets EXECUTOR_PID.
# A background command of a non-interactive shell starts with SIGINT ignored, and bash cannot trap
# a signal ignored at its start, so SIGINT is reset to its default before bash runs.
start_executor_in_group() {
    cd "$JOB_DIR" || return 1
    python3 -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.execvp("setsid", ["setsid"] + sys.argv[1:])' bash "$EXECUTOR" request_psets.tar.gz job1.json \
        >"$JOB_DIR/executor.out" 2>&1 &
    EXECUTOR_PID=$!
}

# Wait until a file matching the glob exists (at most 60 s).
wait_for_file() {
    local pattern=$1 tries=0
    while [ "$tries" -lt 300 ]; do
        compgen -G "$pattern" >/dev/null && return 0
        sleep 0.2
        tries=$((tries + 1))
    done
    echo "no file matches $pattern after 60 s" >&2
    return 1
}

# Wait for EXECUTOR_PID to end (at most 30 s) and set EXECUTOR_STATUS.
wait_for_executor() {
    local tries=0
    while kill -0 "$EXECUTOR_PID" 2>/dev/null && [ "$tries" -lt 150 ]; do
        sleep 0.2
        tries=$((tries + 1))
    done
    if kill -0 "$EXECUTOR_PID" 2>/dev/null; then
        echo "executor $EXECUTOR_PID still runs 30 s after the signal" >&2
        kill -KILL -- "-$EXECUTOR_PID" 2>/dev/null
        return 1
    fi
    # shellcheck disable=SC2034 # the calling test reads EXECUTOR_STATUS
    EXECUTOR_STATUS=0
    # shellcheck disable=SC2034
    wait "$EXECUTOR_PID" || EXECUTOR_STATUS=$?
}
