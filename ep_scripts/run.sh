#!/bin/bash
# The HTCondor executable of a StepChain job:
#
#   run.sh <request_psets.tar.gz> <jobN.json>
#
# Runs execute_stepchain.sh in the job's scratch directory with its output in executor.log. Then it
# packs job_report.json, executor.log and logs/ (tool logs, FrameworkJobReports and configs, never
# ROOT files) into output.tgz. job_report.json and output.tgz, the files that job.submit transfers
# back, exist after every run, also after a failure or a signal. The exit status is the
# executor's; a missing executor or report gives the status of code 80000 (80000 % 256 = 128).
#
# SIGTERM and SIGINT are forwarded to the executor, which stops its steps and writes its report.
set -o nounset -o pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd) || exit 1
readonly script_dir
readonly executor_log="executor.log"
readonly internal_error_status=128

executor_pid=""

log() {
    echo "[run] $*"
}

# shellcheck disable=SC2329 # invoked by the TERM and INT traps
forward_signal() {
    local signal=$1
    log "received SIG$signal; forwarding it to execute_stepchain.sh"
    [ -n "$executor_pid" ] && kill -"$signal" "$executor_pid" 2>/dev/null
}
trap 'forward_signal TERM' TERM
trap 'forward_signal INT' INT

echo "======== [run] starting at $(TZ=GMT date '+%Y-%m-%d %H:%M:%S') GMT ========"
log "arguments: $*; directory: $(pwd)"

status=$internal_error_status
if [ -f "$script_dir/execute_stepchain.sh" ]; then
    bash "$script_dir/execute_stepchain.sh" "$@" >"$executor_log" 2>&1 &
    executor_pid=$!
    # wait returns early when a trapped signal arrives; wait again until the executor has ended.
    while :; do
        wait "$executor_pid"
        status=$?
        kill -0 "$executor_pid" 2>/dev/null || break
    done
    cat "$executor_log"
else
    log "ERROR: execute_stepchain.sh is missing from $script_dir" | tee -a "$executor_log" >&2
fi

if [ ! -s job_report.json ]; then
    log "ERROR: execute_stepchain.sh left no job_report.json; writing one with code 80000" >&2
    [ "$status" -ne 0 ] || status=$internal_error_status
    printf '{\n  "format_version": 1,\n  "job_index": null,\n  "exit_code": 80000,\n  "exit_message": "%s",\n  "exit_status": %d,\n  "steps": [],\n  "stage_out": null\n}\n' \
        "the job wrapper ended without writing a job report" "$status" >job_report.json
fi

packed=(job_report.json "$executor_log")
[ -d logs ] && packed+=(logs)
if ! tar -czf output.tgz --exclude='*.root' ${packed[@]+"${packed[@]}"}; then
    log "ERROR: packing output.tgz failed; sending an empty archive" >&2
    tar -czf output.tgz --files-from /dev/null || : >output.tgz
fi

echo "======== [run] finished with exit status $status at $(TZ=GMT date '+%Y-%m-%d %H:%M:%S') GMT ========"
exit "$status"
