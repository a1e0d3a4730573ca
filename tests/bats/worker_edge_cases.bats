#!/usr/bin/env bats
# The worker side under faults an operator meets: stage-out settings from the environment, a dead
# or failing storage element behind the executor, and SIGTERM during stage-out.

setup_file() {
    load helpers/paths
    load helpers/local_site
    load helpers/executor
    local_site_activate
    executor_split_real_request
    python3 -c 'import sys; from micro_agent.wmcore_bundle import build_wmcore_zip; build_wmcore_zip(sys.argv[1])' \
        "$BATS_FILE_TMPDIR/WMCore.zip"
}

setup() {
    load helpers/paths
    load helpers/local_site
    load helpers/executor
    load helpers/xrootd
    unset SITECONFIG_PATH WMAGENT_SITE_CONFIG_OVERRIDE _CONDOR_JOB_AD _CONDOR_MACHINE_AD
    unset STAGE_OUT_RETRIES STAGE_OUT_RETRY_PAUSE
    # HTCondor's scratch directory: the worker scripts, WMCore.zip, the tarball and job1.json.
    executor_job_dir 1
    cp "$REPO_ROOT"/ep_scripts/* "$BATS_FILE_TMPDIR/WMCore.zip" "$JOB_DIR/"
    export EXECUTOR="$JOB_DIR/execute_stepchain.sh"
}

teardown() {
    xrootd_stop
}

# Print a TCP port on 127.0.0.1 that nothing listened on a moment ago.
closed_port() {
    python3 -c 'import socket
with socket.socket() as probe:
    probe.bind(("127.0.0.1", 0))
    print(probe.getsockname()[1])'
}

# Write a SITECONF whose only stage-out method is xrdcp to the given port; exports SITECONFIG_PATH.
xrootd_only_siteconf() {
    python3 "$LOCAL_SITE_DIR/make_siteconf.py" --output "$BATS_TEST_TMPDIR/siteconf" --xrootd-port "$1" \
        --posix-root "$BATS_TEST_TMPDIR/posix" --xrootd-only >/dev/null
    export SITECONFIG_PATH="$BATS_TEST_TMPDIR/siteconf"
}

# Stage-out settings --------------------------------------------------------------------------

@test "stage-out retries not a number" {
    STAGE_OUT_RETRIES=three run_executor
    [ "$status" -eq 193 ]
    [ "$(report_value 'report["exit_code"]')" = 50113 ]
    [[ "$(report_value 'report["exit_message"]')" == *"STAGE_OUT_RETRIES 'three'"* ]]
    [ "$(report_value 'report["steps"]')" = "[]" ]
    [ -z "$(compgen -G "$JOB_DIR/work.*")" ]
}

@test "stage-out retry pause negative" {
    STAGE_OUT_RETRY_PAUSE=-5 run_executor
    [ "$status" -eq 193 ]
    [ "$(report_value 'report["exit_code"]')" = 50113 ]
    [[ "$(report_value 'report["exit_message"]')" == *"STAGE_OUT_RETRY_PAUSE '-5'"* ]]
    [ "$(report_value 'report["steps"]')" = "[]" ]
}

@test "stage-out retry pause empty" {
    STAGE_OUT_RETRY_PAUSE='' run_executor
    [ "$status" -eq 193 ]
    [ "$(report_value 'report["exit_code"]')" = 50113 ]
}

# Failing storage element ---------------------------------------------------------------------

@test "executor dead storage element" {
    xrootd_only_siteconf "$(closed_port)"
    STAGE_OUT_RETRIES=1 STAGE_OUT_RETRY_PAUSE=0 run_executor
    [ "$status" -ne 0 ]
    [ "$status" -eq $((60307 % 256)) ]
    [ "$(report_value 'report["exit_code"]')" = 60307 ]
    [ "$(report_value 'report["stage_out"]["exit_code"]')" = 60307 ]
    # One retry after the first attempt: the settings reached stage_out.py.
    [[ "$(report_value 'report["stage_out"]["exit_message"]')" == *"2 copy attempt(s) failed"* ]]
    [ "$(report_value '[f["lfn"] for s in report["steps"] for f in s["output_files"] if f["lfn"]]')" = "[]" ]
    [ -f "$JOB_DIR/logs/stage_out_results.json" ]
    [ -z "$(compgen -G "$JOB_DIR/work.*")" ]
}

@test "executor last file fails removes copies" {
    xrootd_start
    xrootd_only_siteconf "$XROOTD_PORT"
    # The server runs as user xrootd; a root-owned directory on the step 6 LFN path makes only
    # that file's copy fail, after the files of steps 4 and 5 were copied.
    local era_dir="$XROOTD_EXPORT/store/temp/user/produser.newwm/RunIISummer20UL17pp5TeVNanoAODv9"
    mkdir -p "$era_dir"
    if [ "$(id -u)" -eq 0 ]; then
        chown -R xrootd "$XROOTD_EXPORT/store"
        chown root "$era_dir"
    else
        chmod 0555 "$era_dir"
    fi

    STAGE_OUT_RETRIES=0 STAGE_OUT_RETRY_PAUSE=0 run_executor
    [ "$status" -eq $((60307 % 256)) ]
    [ "$(report_value 'report["stage_out"]["exit_code"]')" = 60307 ]
    [[ "$(report_value 'report["stage_out"]["exit_message"]')" == *"NANOAODSIM"* ]]
    [ "$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["removed"]))' \
        "$JOB_DIR/logs/stage_out_results.json")" -eq 2 ]
    [ -z "$(find "$XROOTD_EXPORT" -type f)" ]
}

@test "executor SIGTERM during stage-out" {
    xrootd_only_siteconf "$(closed_port)"
    STAGE_OUT_RETRIES=3 STAGE_OUT_RETRY_PAUSE=300 start_executor_in_group
    local tries=0
    until grep -q "Attempt 0 to stage out failed" "$JOB_DIR/executor.out" 2>/dev/null; do
        [ "$tries" -lt 300 ] || { echo "stage-out made no failed attempt within 60 s" >&2; false; }
        sleep 0.2
        tries=$((tries + 1))
    done

    kill -TERM "$EXECUTOR_PID"
    wait_for_executor
    cat "$JOB_DIR/executor.out"
    [ "$EXECUTOR_STATUS" -eq $((50669 % 256)) ]
    [ -z "$(pgrep -g "$EXECUTOR_PID")" ]
    [ "$(report_value 'report["exit_code"]')" = 50669 ]
    [ "$(report_value 'report["stage_out"]["exit_code"]')" = 50669 ]
    [ -z "$(compgen -G "$JOB_DIR/work.*")" ]
}
