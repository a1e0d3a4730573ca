#!/usr/bin/env bats
# run.sh, the HTCondor executable, in a scratch directory like HTCondor's, on the local site.

setup_file() {
    load helpers/paths
    load helpers/local_site
    load helpers/executor
    local_site_activate
    executor_split_real_request
}

setup() {
    load helpers/paths
    load helpers/executor
    unset SITECONFIG_PATH WMAGENT_SITE_CONFIG_OVERRIDE _CONDOR_JOB_AD _CONDOR_MACHINE_AD
    executor_scratch_dir
    cd "$JOB_DIR"
}

# List output.tgz's members, one per line.
list_output() {
    tar -tzf "$JOB_DIR/output.tgz"
}

@test "run.sh packs logs on success" {
    run timeout "$EXECUTOR_TIMEOUT_SECONDS" bash "$RUN_SH" request_psets.tar.gz job1.json
    [ "$status" -eq 0 ]
    [ -s "$JOB_DIR/job_report.json" ]
    list_output | grep -qx job_report.json
    list_output | grep -qx executor.log
    list_output | grep -qx logs/step6/FrameworkJobReport.xml
    list_output | grep -qx logs/step1/PSet.py
    ! list_output | grep -q '\.root$'
}

@test "run.sh status follows executor" {
    CMSRUN_SIM_EXIT_CODE=8021 run timeout "$EXECUTOR_TIMEOUT_SECONDS" bash "$RUN_SH" request_psets.tar.gz job1.json
    [ "$status" -eq 85 ]
    [ "$(report_value 'report["exit_code"]')" = 8021 ]
    [ -s "$JOB_DIR/output.tgz" ]
}

@test "run.sh outputs after bad arguments" {
    run timeout "$EXECUTOR_TIMEOUT_SECONDS" bash "$RUN_SH" request_psets.tar.gz absent.json
    [ "$status" -eq 193 ]
    [ -s "$JOB_DIR/job_report.json" ]
    list_output | grep -qx executor.log
}

@test "run.sh without executor" {
    rm "$JOB_DIR/execute_stepchain.sh"
    run timeout "$EXECUTOR_TIMEOUT_SECONDS" bash "$RUN_SH" request_psets.tar.gz job1.json
    [ "$status" -ne 0 ]
    [ "$(report_value 'report["exit_code"]')" = 80000 ]
    list_output | grep -qx job_report.json
}

@test "run.sh report matches status without report" {
    printf 'exit 85\n' >"$JOB_DIR/execute_stepchain.sh"
    run timeout "$EXECUTOR_TIMEOUT_SECONDS" bash "$RUN_SH" request_psets.tar.gz job1.json
    [ "$status" -eq 85 ]
    [ "$(report_value 'report["exit_code"]')" = 80000 ]
    [ "$(report_value 'report["exit_status"]')" = 85 ]
}

@test "run.sh forwards SIGTERM" {
    CMSRUN_SIM_SLEEP=300 CMSRUN_SIM_TERM_DELAY=2 bash "$RUN_SH" request_psets.tar.gz job1.json \
        >"$JOB_DIR/run.out" 2>&1 &
    local run_pid=$!
    wait_for_file "$JOB_DIR/work.*/step1/cmsRun.log"
    sleep 1
    kill -TERM "$run_pid"
    EXECUTOR_PID=$run_pid
    wait_for_executor
    [ "$EXECUTOR_STATUS" -ne 0 ]
    [ "$(report_value 'report["exit_code"]')" = 50669 ]
    list_output | grep -qx job_report.json
    [ -z "$(pgrep -f "$JOB_DIR/execute_stepchain.sh")" ]
}
