#!/usr/bin/env bats
# execute_stepchain.sh on the local site: the real 6-step request, its failure paths, signals.

setup_file() {
    load helpers/paths
    load helpers/local_site
    load helpers/executor
    local_site_activate
    executor_split_real_request

    # One successful run of job 1, shared by the tests that only read its results.
    SUCCESS_DIR="$BATS_FILE_TMPDIR/success"
    export SUCCESS_DIR
    mkdir -p "$SUCCESS_DIR"
    cp "$SPLIT_DIR/request_psets.tar.gz" "$SPLIT_DIR/job1.json" "$SUCCESS_DIR/"
    printf 'MachineAttrGLIDEIN_CMSSite0 = "T2_XX_A"\nClusterId = 12\n' >"$BATS_FILE_TMPDIR/job.ad"
    (
        cd "$SUCCESS_DIR" &&
            unset SITECONFIG_PATH WMAGENT_SITE_CONFIG_OVERRIDE &&
            _CONDOR_JOB_AD="$BATS_FILE_TMPDIR/job.ad" timeout "$EXECUTOR_TIMEOUT_SECONDS" \
                bash "$EXECUTOR" request_psets.tar.gz job1.json >executor.out 2>&1
        echo "$?" >status
    )
}

setup() {
    load helpers/paths
    load helpers/executor
    unset SITECONFIG_PATH WMAGENT_SITE_CONFIG_OVERRIDE _CONDOR_JOB_AD _CONDOR_MACHINE_AD
    executor_job_dir 1
}

# Success: the shared run of job 1 ----------------------------------------------------------------

@test "executor runs all six steps" {
    JOB_DIR=$SUCCESS_DIR
    [ "$(cat "$SUCCESS_DIR/status")" -eq 0 ]
    [ "$(report_value 'report["exit_code"]')" = 0 ]
    [ "$(report_value 'report["exit_status"]')" = 0 ]
    [ "$(report_value '[s["exit_code"] for s in report["steps"]]')" = "[0, 0, 0, 0, 0, 0]" ]
    [ "$(report_value 'report["steps"][0]["events"]')" = 830 ]
}

@test "executor two releases and architectures" {
    JOB_DIR=$SUCCESS_DIR
    [ "$(report_value 'sorted(set(s["scram_arch"] for s in report["steps"]))')" = \
        "['slc7_amd64_gcc630', 'slc7_amd64_gcc700']" ]
    [ "$(report_value 'sorted(set(s["cmssw_version"] for s in report["steps"]))')" = \
        "['CMSSW_10_6_47', 'CMSSW_9_4_14_UL_patch1']" ]
    grep -q "step 3: scram project CMSSW CMSSW_9_4_14_UL_patch1" "$SUCCESS_DIR/executor.out"
}

@test "executor records output files" {
    JOB_DIR=$SUCCESS_DIR
    [ "$(report_value '[f["data_tier"] for f in report["steps"][5]["output_files"]]')" = "['NANOAODSIM']" ]
    [ "$(report_value 'sorted(f["module"] for f in report["steps"][0]["output_files"])')" = \
        "['LHEoutput', 'RAWSIMoutput']" ]
    [ "$(report_value 'all(len(f["adler32"]) == 8 for s in report["steps"] for f in s["output_files"])')" = True ]
    [ "$(report_value 'all(f["guid"] for s in report["steps"] for f in s["output_files"])')" = True ]
    [ "$(report_value 'report["steps"][3]["output_files"][0]["local_path"]')" = step4/AODSIMoutput.root ]
}

@test "executor skips stage-out without SITECONF" {
    JOB_DIR=$SUCCESS_DIR
    grep -q "stage-out skipped" "$SUCCESS_DIR/executor.out"
    [[ "$(report_value 'report["stage_out"]["skipped_reason"]')" == "no SITECONF configured"* ]]
}

@test "executor removes work directory" {
    [ -z "$(compgen -G "$SUCCESS_DIR/work.*")" ]
    [ -f "$SUCCESS_DIR/logs/step6/FrameworkJobReport.xml" ]
    [ -f "$SUCCESS_DIR/logs/step3/tweak.json" ]
    [ -f "$SUCCESS_DIR/logs/job.json" ]
}

@test "executor condor status service with job ad" {
    JOB_DIR=$SUCCESS_DIR
    grep -qF -- "cmssw_handle_condor_status_service.py --input_pkl Pset.pkl --output_pkl Pset.pkl --name cmsRun3" \
        "$SUCCESS_DIR/executor.out"
    [ "$(report_value 'report["site"]')" = T2_XX_A ]
}

@test "executor tool command lines" {
    grep -qF -- "edm_pset_pickler.py --input PSet.py --output_pkl Pset.pkl" "$SUCCESS_DIR/executor.out"
    grep -qF -- "edm_pset_tweak.py --input_pkl Pset.pkl --output_pkl Pset.pkl --json tweak.json --create_untracked_psets" \
        "$SUCCESS_DIR/executor.out"
    grep -qF -- "cmssw_handle_nEvents.py --input_pkl Pset.pkl --output_pkl Pset.pkl" "$SUCCESS_DIR/executor.out"
    grep -qF -- "cmsRun -j FrameworkJobReport.xml PSet.py" "$SUCCESS_DIR/executor.out"
    ! grep -qF -- "--allow_failed_tweaks" "$SUCCESS_DIR/executor.out"
}

@test "executor logs GMT banners" {
    grep -qE "^======== \[execute_stepchain\] step 6 finished at [0-9-]+ [0-9:]+ GMT ========$" "$SUCCESS_DIR/executor.out"
    grep -qE "^======== \[execute_stepchain\] HTCondor job ad" "$SUCCESS_DIR/executor.out"
}

# Success: separate runs ------------------------------------------------------------------------

@test "executor last job 240 events" {
    executor_job_dir 18073
    run_executor request_psets.tar.gz job18073.json
    [ "$status" -eq 0 ]
    [ "$(report_value 'report["job_index"]')" = 18073 ]
    [ "$(report_value '[s["events"] for s in report["steps"]]')" = "[240, 240, 240, 240, 240, 240]" ]
}

@test "executor keeps work directory on request" {
    CMSRUN_SIM_EXIT_CODE=8001 run_executor --keep-work-dir request_psets.tar.gz job1.json
    [ "$(report_value 'report["exit_code"]')" = 8001 ]
    compgen -G "$JOB_DIR/work.*/step1/FrameworkJobReport.xml"
}

@test "executor paths from another directory" {
    mkdir "$BATS_TEST_TMPDIR/elsewhere"
    cd "$BATS_TEST_TMPDIR/elsewhere"
    CMSRUN_SIM_EXIT_CODE=8001 run timeout "$EXECUTOR_TIMEOUT_SECONDS" bash "$EXECUTOR" \
        "$JOB_DIR/request_psets.tar.gz" ../job/job1.json
    JOB_DIR="$BATS_TEST_TMPDIR/elsewhere"
    [ "$(report_value 'report["exit_code"]')" = 8001 ]
}

@test "executor no status service without ad" {
    _CONDOR_JOB_AD="$BATS_TEST_TMPDIR/absent.ad" CMSRUN_SIM_EXIT_CODE=8001 run_executor
    [ "$(report_value 'report["exit_code"]')" = 8001 ]
    [[ "$output" != *"cmssw_handle_condor_status_service.py"* ]]
}

# Arguments and input ---------------------------------------------------------------------------

@test "executor without arguments" {
    run_executor --keep-work-dir
    [ "$status" -eq 193 ]
    [[ "$output" == *"usage: execute_stepchain.sh"* ]]
    [ "$(report_value 'report["exit_code"]')" = 50113 ]
}

@test "executor unknown option" {
    run_executor --bogus request_psets.tar.gz job1.json
    [ "$status" -eq 193 ]
    [[ "$(report_value 'report["exit_message"]')" == *"unknown option --bogus"* ]]
}

@test "executor missing job file" {
    run_executor request_psets.tar.gz job7.json
    [ "$status" -eq 193 ]
    [[ "$output" == *"job file $JOB_DIR/job7.json is missing"* ]]
    [ "$(report_value 'report["exit_code"]')" = 50113 ]
}

@test "executor missing helper script" {
    executor_scratch_dir
    rm "$JOB_DIR/job_plan.py"
    run_executor
    [ "$status" -eq 193 ]
    [ "$(report_value 'report["exit_code"]')" = 50110 ]
    [[ "$output" == *"job_plan.py is missing from $JOB_DIR"* ]]
}

@test "executor missing tarball" {
    run_executor absent.tar.gz job1.json
    [ "$status" -eq 193 ]
    [[ "$output" == *"request tarball $JOB_DIR/absent.tar.gz is missing"* ]]
}

@test "executor tarball without request" {
    python3 -c 'import sys, tarfile
with tarfile.open(sys.argv[1], "w:gz") as archive:
    archive.add(sys.argv[2], arcname="PSets")' "$JOB_DIR/request_psets.tar.gz" "$REAL_REQUEST_DIR/PSets"
    run_executor
    [ "$status" -eq 193 ]
    [[ "$output" == *"no request.json"* ]]
    [ "$(report_value 'report["exit_code"]')" = 50113 ]
}

@test "executor missing tweak" {
    python3 -c 'import json, sys
job = json.load(open(sys.argv[1]))
del job["tweaks"]["4"]
json.dump(job, open(sys.argv[1], "w"))' "$JOB_DIR/job1.json"
    run_executor
    [ "$status" -eq 193 ]
    [[ "$output" == *"tweak for step 4 is missing in job1.json (keys present: 1, 2, 3, 5, 6)"* ]]
    [ ! -d "$JOB_DIR/logs/step1" ]
}

@test "executor missing PSet" {
    modify_request 'request["Step3"]["StepName"] = "NoSuchStep"; request["Step4"]["InputStep"] = "NoSuchStep"'
    run_executor
    [ "$status" -eq 193 ]
    [[ "$output" == *"PSet PSets/PSet_cmsRun3_NoSuchStep.py of Step3 is missing"* ]]
}

# Hostile tarballs: rejected before any scram or cmsRun call, nothing written outside.

@test "executor rejects parent member" {
    add_tarball_members "../escape.txt"
    run_executor
    [ "$status" -eq 193 ]
    [[ "$output" == *"unsafe archive member ../escape.txt"* ]]
    [ ! -e "$BATS_TEST_TMPDIR/escape.txt" ]
    [ ! -d "$JOB_DIR/logs/step1" ]
}

@test "executor rejects absolute member" {
    local target="$BATS_TEST_TMPDIR/abs.txt"
    add_tarball_members "$target"
    run_executor
    [ "$status" -eq 193 ]
    [[ "$output" == *"unsafe archive member $target"* ]]
    [ ! -e "$target" ]
}

@test "executor rejects outward PSets link" {
    mkdir "$BATS_TEST_TMPDIR/outside"
    add_tarball_members first: "PSets->$BATS_TEST_TMPDIR/outside"
    run_executor
    [ "$status" -eq 193 ]
    [[ "$output" == *"unsafe archive member PSets"* ]]
    [ -z "$(ls -A "$BATS_TEST_TMPDIR/outside")" ]
    [ -z "$(find "$JOB_DIR" -type l)" ]
    [ ! -d "$JOB_DIR/logs/step1" ]
}

@test "executor unpack on full disk" {
    add_tarball_members "PSets/big.bin:2097152"
    cd "$JOB_DIR"
    run timeout "$EXECUTOR_TIMEOUT_SECONDS" bash -c 'ulimit -f 512; exec bash "$EXECUTOR" request_psets.tar.gz job1.json'
    [ "$status" -ne 0 ]
    [ "$(report_value 'report["exit_code"]')" = 10042 ]
    [ ! -d "$JOB_DIR/logs/step1" ]
    [[ "$output" != *"cmsRun -j"* ]]
}

# Environment -----------------------------------------------------------------------------------

@test "executor without CMS software" {
    VO_CMS_SW_DIR="$BATS_TEST_TMPDIR/none" run_executor
    [ "$status" -ne 0 ]
    [ "$(report_value 'report["exit_code"]')" = 11003 ]
}

@test "executor without COMP python" {
    modify_request 'request["Step1"]["ScramArch"] = ["slc6_amd64_gcc700"]'
    run_executor
    [ "$status" -ne 0 ]
    [ "$(report_value 'report["exit_code"]')" = 11004 ]
}

@test "executor hides secrets" {
    printf 'AccessToken = "adsecretvalue"\nOwner = "someone"\n' >"$BATS_TEST_TMPDIR/job.ad"
    MY_ACCESS_TOKEN=envsecretvalue DB_PASSWORD=pwsecretvalue _CONDOR_JOB_AD="$BATS_TEST_TMPDIR/job.ad" \
        run_executor --bogus
    [[ "$output" == *"MY_ACCESS_TOKEN=<hidden>"* ]]
    [[ "$output" == *"DB_PASSWORD=<hidden>"* ]]
    [[ "$output" == *"AccessToken=<hidden>"* ]]
    [[ "$output" != *"secretvalue"* ]]
}

@test "executor hides passwords in names and URLs" {
    MY_PASSWD=passwdvalue GRID_CREDENTIALS=credentialvalue \
        https_proxy=http://operator:urlpassword@127.0.0.1:3128 run_executor --bogus
    [[ "$output" == *"MY_PASSWD=<hidden>"* ]]
    [[ "$output" == *"GRID_CREDENTIALS=<hidden>"* ]]
    [[ "$output" == *"https_proxy=http://operator:<hidden>@127.0.0.1:3128"* ]]
    [[ "$output" != *"passwdvalue"* ]]
    [[ "$output" != *"credentialvalue"* ]]
    [[ "$output" != *"urlpassword"* ]]
}

# Step failures: the job stops at the failing step, later steps are skipped, nothing staged out.

@test "executor scram failure stops job" {
    modify_request 'request["Step1"]["CMSSWVersion"] = "CMSSW_1_0_0"'
    run_executor
    [ "$status" -ne 0 ]
    [ "$(report_value 'report["exit_code"]')" = 50513 ]
    [ "$(report_value 'report["steps"][1]["exit_code"]')" = 99108 ]
    [ ! -f "$JOB_DIR/logs/step1/cmsRun.log" ]
}

@test "executor tweak failure stops job" {
    python3 -c 'import json, sys
job = json.load(open(sys.argv[1]))
job["tweaks"]["1"]["process.maxEvents"] = "customTypeCms.untracked.PSet(input=cms.untracked.int32(830)"
json.dump(job, open(sys.argv[1], "w"))' "$JOB_DIR/job1.json"
    run_executor
    [ "$status" -ne 0 ]
    [ "$(report_value 'report["exit_code"]')" = 10040 ]
    [ ! -f "$JOB_DIR/logs/step1/cmsRun.log" ]
    [ "$(report_value 'report["steps"][1]["exit_code"]')" = 99108 ]
}

@test "executor FrameworkError 8001" {
    CMSRUN_SIM_EXIT_CODE=8001 run_executor
    [ "$status" -eq $((8001 % 256)) ]
    [ "$(report_value 'report["exit_code"]')" = 8001 ]
    [ "$(report_value 'report["steps"][1]["exit_code"]')" = 99108 ]
}

@test "executor keeps code 8021" {
    CMSRUN_SIM_EXIT_CODE=8021 run_executor
    [ "$status" -eq 85 ]
    [ "$(report_value 'report["exit_code"]')" = 8021 ]
    [ "$(report_value 'report["steps"][0]["exit_code"]')" = 8021 ]
    [ ! -d "$JOB_DIR/logs/step2" ] || [ ! -f "$JOB_DIR/logs/step2/cmsRun.log" ]
}

@test "executor failure in step 3 only" {
    CMSRUN_SIM_FAULT_PROCESS=HLT CMSRUN_SIM_EXIT_CODE=8001 run_executor
    [ "$status" -ne 0 ]
    [ "$(report_value '[s["exit_code"] for s in report["steps"]]')" = "[0, 0, 8001, 99108, 99108, 99108]" ]
}

@test "executor failed report exit 0" {
    CMSRUN_SIM_EXIT_CODE=8001 CMSRUN_SIM_FAILED_REPORT_EXIT0=1 run_executor
    [ "$status" -ne 0 ]
    [ "$(report_value 'report["exit_code"]')" = 8001 ]
}

@test "executor no report" {
    CMSRUN_SIM_NO_REPORT=1 run_executor
    [ "$status" -ne 0 ]
    [ "$(report_value 'report["exit_code"]')" = 50115 ]
    [ "$(report_value 'report["steps"][1]["exit_code"]')" = 99108 ]
}

@test "executor malformed reports" {
    local kind
    for kind in ampersand nul truncated empty; do
        rm -rf "$JOB_DIR/logs" "$JOB_DIR/job_report.json"
        CMSRUN_SIM_MALFORMED_REPORT=$kind run_executor
        echo "report kind $kind: status $status"
        [ "$status" -ne 0 ]
        [ "$(report_value 'report["exit_code"]')" = 50115 ]
        [ "$(report_value 'report["steps"][1]["exit_code"]')" = 99108 ]
        [[ "$output" != *Traceback* ]]
    done
}

@test "executor disk full in cmsRun" {
    CMSRUN_SIM_DISK_FULL=1 run_executor
    [ "$status" -ne 0 ]
    [ "$(report_value 'report["exit_code"]')" = 50115 ]
    [[ "$(report_value 'report["exit_message"]')" == "step 1 "* ]]
    [ "$(report_value 'report["steps"][1]["exit_code"]')" = 99108 ]
}

@test "executor missing output file" {
    CMSRUN_SIM_MISSING_OUTPUT=RAWSIMoutput CMSRUN_SIM_FAULT_PROCESS=SIM run_executor
    [ "$status" -ne 0 ]
    [ "$(report_value 'report["exit_code"]')" = 60302 ]
    [[ "$(report_value 'report["exit_message"]')" == *"RAWSIMoutput"* ]]
}

@test "executor failure never stages out" {
    mkdir -p "$BATS_TEST_TMPDIR/siteconf"
    SITECONFIG_PATH="$BATS_TEST_TMPDIR/siteconf" CMSRUN_SIM_EXIT_CODE=8001 run_executor
    [ "$status" -ne 0 ]
    [[ "$output" != *"stage-out starting"* ]]
    [ "$(report_value 'report["stage_out"]')" = None ]
    [ ! -f "$JOB_DIR/logs/stage_out_results.json" ]
}

@test "executor stages out KeepOutput steps" {
    executor_scratch_dir
    python3 "$LOCAL_SITE_DIR/make_siteconf.py" --output "$BATS_TEST_TMPDIR/siteconf" --xrootd-port 1 \
        --posix-root "$BATS_TEST_TMPDIR/storage" --posix-only
    SITECONFIG_PATH="$BATS_TEST_TMPDIR/siteconf" run_executor
    [ "$status" -eq 0 ]
    [ "$(report_value 'report["stage_out"]["exit_code"]')" = 0 ]
    [ "$(report_value '[len(s["output_files"]) for s in report["steps"] if s["keep_output"]]')" = "[1, 1, 1]" ]
    [ "$(report_value 'all(f["lfn"] and f["pfn"] and f["pnn"] for s in report["steps"] if s["keep_output"] for f in s["output_files"])')" = True ]
    [ "$(report_value '[f["lfn"] for s in report["steps"] if not s["keep_output"] for f in s["output_files"]]')" = "[None, None, None, None]" ]
    [ "$(find "$BATS_TEST_TMPDIR/storage" -name '*.root' | wc -l)" -eq 3 ]
    [ -f "$JOB_DIR/logs/stage_out_results.json" ]
}

# Signals ---------------------------------------------------------------------------------------

signal_test() {
    local target=$1 signal=$2
    CMSRUN_SIM_SLEEP=300 CMSRUN_SIM_TERM_DELAY=2 start_executor_in_group
    wait_for_file "$JOB_DIR/work.*/step1/cmsRun.log"
    [ "$(ps -o pgid= -p "$EXECUTOR_PID" | tr -d ' ')" = "$EXECUTOR_PID" ]
    sleep 1
    if [ "$target" = group ]; then
        kill -"$signal" -- "-$EXECUTOR_PID"
    else
        kill -"$signal" "$EXECUTOR_PID"
    fi
    wait_for_executor
    cat "$JOB_DIR/executor.out"
    [ "$EXECUTOR_STATUS" -ne 0 ]
    [ -z "$(pgrep -g "$EXECUTOR_PID")" ]
    [ "$(report_value 'report["exit_code"]')" = 50669 ]
    [ "$(report_value 'report["steps"][1]["exit_code"]')" = 99108 ]
    [ "$(report_value 'report["stage_out"]')" = None ]
    [ -z "$(compgen -G "$JOB_DIR/work.*")" ]
    ! grep -q "step 2 (" "$JOB_DIR/executor.out"
}

@test "executor SIGTERM to group" {
    signal_test group TERM
}

@test "executor SIGTERM to wrapper" {
    signal_test pid TERM
}

@test "executor SIGINT to wrapper" {
    signal_test pid INT
}
