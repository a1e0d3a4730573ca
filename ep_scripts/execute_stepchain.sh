#!/bin/bash
# Run one StepChain job on a worker node:
#
#   execute_stepchain.sh [--keep-work-dir] <request_psets.tar.gz> <jobN.json>
#
# 1. Check the arguments and write job_report.json into the starting directory at once, so even
#    an early failure leaves a report (format: docs/job-report.md).
# 2. Load the CMS environment (submit_env.sh: setup_cmsset).
# 3. Unpack the tarball into a fresh work directory with unpack_sandbox.py, which rejects unsafe
#    members before writing anything, then read request.json and the job file once (job_plan.py).
# 4. Load the COMP python3 for the OS that the first step's ScramArch requires.
# 5. Run each step in work/step<N>, in its own subshell so one release's environment never
#    reaches the next: scram project, scram runtime, edm_pset_pickler.py, edm_pset_tweak.py,
#    cmssw_handle_nEvents.py, cmssw_handle_condor_status_service.py (only with an HTCondor job
#    ad), then cmsRun -j FrameworkJobReport.xml PSet.py. The step's result is judged from
#    cmsRun's exit status, its report and its declared outputs (job_report.py step-end). The
#    first failure ends the job: later steps are recorded as skipped (99108) and nothing is
#    staged out.
# 6. Stage out the outputs of KeepOutput steps with stage_out.py, when SITECONFIG_PATH or
#    WMAGENT_SITE_CONFIG_OVERRIDE is set; otherwise record why stage-out was skipped.
#    STAGE_OUT_RETRIES (default 3) and STAGE_OUT_RETRY_PAUSE (seconds, default 600) become
#    stage_out.py's --retries and --retry-pause; they are checked before the unpack.
# 7. Copy logs and configs into logs/ of the starting directory, remove the work directory
#    (unless --keep-work-dir), and exit with the status that exit_codes.txt derives from the code.
#
# SIGTERM and SIGINT stop the running tool (TERM, then KILL after a grace period), clean up,
# record code 50669 and exit non-zero. Every command's status is checked explicitly; nothing
# relies on `set -e`.
set -o nounset -o pipefail
umask 022

readonly component="execute_stepchain"
script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd) || exit 1
readonly script_dir
start_dir=$(pwd) || exit 1
readonly start_dir
readonly report="$start_dir/job_report.json"
readonly logs_dir="$start_dir/logs"
readonly code_table="$script_dir/exit_codes.txt"
# Seconds a stopped tool gets between SIGTERM and SIGKILL.
readonly kill_grace_seconds=5
# stage_out.py's --retries and --retry-pause, from STAGE_OUT_RETRIES and STAGE_OUT_RETRY_PAUSE.
stage_out_retries=3
stage_out_retry_pause=600

keep_work_dir=false
work_dir=""
# Set by plan.sh, which job_plan.py writes from request.json and the job file.
job_index=""
step_count=0
step_name=()
step_release=()
step_arch=()
step_pset=()
step_keep_output=()
# The result of the last step, set by run_step.
step_code=0
step_message=""
# PATH, PYTHONPATH and LD_LIBRARY_PATH before the COMP python was loaded; each step starts from
# them, so the COMP python never reaches a release's environment.
step_base_path=""
step_base_pythonpath=""
step_base_ld_library_path=""
helper_python=""
current_pid=""
# The results file of stage_out.py while it runs, else empty.
stage_out_results=""
current_step=""
site_name=""
job_finished=false

log() {
    echo "[$component] $*"
}

log_error() {
    echo "[$component] ERROR: $*" >&2
}

banner() {
    echo "======== [$component] $* at $(TZ=GMT date '+%Y-%m-%d %H:%M:%S') GMT ========"
}

# Exit codes ------------------------------------------------------------------------------------

# NOTE: without a readable exit_codes.txt every code counts as class retry, so even the 50110
# that main() records for a missing table exits with 190 instead of 193.
code_class() {
    awk -v code="$1" '$1 == code { print $3; exit }' "$code_table" 2>/dev/null
}

# Print the process exit status for a code: 0, 193 for class fatal, else code % 256, or 1 when
# that would be 0 or 193.
exit_status_for_code() {
    local code=$1
    if [ "$code" -eq 0 ]; then
        echo 0
    elif [ "$(code_class "$code")" = fatal ]; then
        echo 193
    elif [ $((code % 256)) -eq 0 ] || [ $((code % 256)) -eq 193 ]; then
        echo 1
    else
        echo $((code % 256))
    fi
}

# Job report ------------------------------------------------------------------------------------

update_report() {
    [ -n "$helper_python" ] || return 1
    "$helper_python" "$script_dir/job_report.py" --report "$report" "$@"
}

json_string() {
    local text=${1//\\/\\\\}
    text=${text//\"/\\\"}
    text=${text//$'\n'/ }
    text=${text//$'\t'/ }
    printf '"%s"' "$text"
}

# Without a usable Python the report is written here, with the fields a POST script needs.
write_minimal_report() {
    local code=$1 message=$2 status=$3
    local now partial
    now=$(date -u '+%Y-%m-%dT%H:%M:%SZ')
    partial="$report.partial.$$"
    {
        printf '{\n  "format_version": 1,\n  "job_index": null,\n'
        printf '  "exit_code": %d,\n  "exit_message": %s,\n  "exit_status": %d,\n' \
            "$code" "$(json_string "$message")" "$status"
        printf '  "host": %s,\n  "site": null,\n' "$(json_string "$(hostname -f 2>/dev/null || hostname)")"
        printf '  "start_time": null,\n  "end_time": "%s",\n  "steps": [],\n  "stage_out": null\n}\n' "$now"
    } >"$partial" && mv -f "$partial" "$report"
}

# Processes -------------------------------------------------------------------------------------

# Print the PIDs of all descendants of a process.
# shellcheck disable=SC2329 # called from the signal traps' handlers
list_descendants() {
    ps -e -o pid= -o ppid= | awk -v root="$1" '
        { parent[$1] = $2 }
        END {
            wanted[root] = 1
            do {
                added = 0
                for (pid in parent) {
                    if (!(pid in wanted) && (parent[pid] in wanted)) { wanted[pid] = 1; added = 1 }
                }
            } while (added)
            for (pid in wanted) if (pid != root) print pid
        }'
}

# Send SIGTERM to a process, give it the grace period, then SIGKILL it and its descendants.
# Returns the process's exit status.
# shellcheck disable=SC2329 # called from the signal traps' handlers
stop_process_tree() {
    local pid=$1
    local descendants waited=0
    descendants=$(list_descendants "$pid")
    kill -TERM "$pid" 2>/dev/null
    while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt $((kill_grace_seconds * 5)) ]; do
        sleep 0.2
        waited=$((waited + 1))
    done
    descendants="$descendants $(list_descendants "$pid")"
    # shellcheck disable=SC2086 # word splitting of the PID list is intended
    kill -KILL "$pid" $descendants 2>/dev/null
    wait "$pid" 2>/dev/null
}

# Run a command in the background and wait for it, so a signal's trap runs at once instead of
# after the command ends. Returns the command's exit status.
run_waited() {
    "$@" &
    current_pid=$!
    wait "$current_pid"
    local status=$?
    current_pid=""
    return "$status"
}

# Ending the job --------------------------------------------------------------------------------

harvest_logs() {
    [ -n "$work_dir" ] && [ -d "$work_dir" ] || return 0
    mkdir -p "$logs_dir" || return 1
    local path relative
    for path in "$work_dir"/job.json "$work_dir"/plan.json "$work_dir"/stage_out_results.json \
        "$work_dir"/step*/*.log "$work_dir"/step*/*.json "$work_dir"/step*/*.xml "$work_dir"/step*/PSet*.py; do
        [ -f "$path" ] || continue
        relative=${path#"$work_dir"/}
        mkdir -p "$logs_dir/$(dirname "$relative")" && cp -p "$path" "$logs_dir/$relative"
    done
}

# Record the job's final code, clean up and exit. The first call wins.
finish() {
    local code=$1 message=$2
    local status
    [ "$job_finished" = false ] || exit 1
    job_finished=true
    trap '' TERM INT
    status=$(exit_status_for_code "$code")
    [ -n "$status" ] || status=1

    if [ "$code" -ne 0 ]; then
        log_error "job failed with code $code: $message"
    fi
    if ! harvest_logs; then
        log_error "copying logs from $work_dir to $logs_dir failed"
    fi
    if [ -n "$work_dir" ] && [ -d "$work_dir" ]; then
        if [ "$keep_work_dir" = true ]; then
            log "keeping the work directory $work_dir"
        else
            rm -rf "$work_dir"
        fi
    fi

    local step_option=()
    [ -n "$current_step" ] && step_option=(--step "$current_step")
    if ! update_report finish --code "$code" --message "$message" --exit-status "$status" \
        ${step_option[@]+"${step_option[@]}"}; then
        write_minimal_report "$code" "$message" "$status"
    fi
    banner "job finished with code $code, exit status $status"
    exit "$status"
}

# shellcheck disable=SC2329 # invoked by the TERM and INT traps
on_signal() {
    local signal=$1
    trap '' TERM INT
    local stopped_status=0
    log_error "received SIG$signal; stopping the job"
    if [ -n "$current_pid" ]; then
        stop_process_tree "$current_pid"
        stopped_status=$?
    fi
    # stage_out.py removes its copies on SIGTERM and writes its results file, recorded here.
    if [ -n "$stage_out_results" ]; then
        update_report stage-out --results "$stage_out_results" --exit-status "$stopped_status" >/dev/null ||
            log_error "recording the stopped stage-out in $report failed"
    fi
    finish 50669 "job terminated by SIG$signal${current_step:+ during step $current_step}"
}

# Logs of the start ------------------------------------------------------------------------------

print_masked() {
    local name=$1 value=$2
    case "${name^^}" in
        *TOKEN* | *SECRET* | *PASSWORD* | *PASSWD* | *KEY* | *CREDENTIAL* | *AUTH* | *COOKIE*)
            echo "  $name=<hidden>"
            return
            ;;
    esac
    # A URL can carry a password as user:password@host (proxy settings, database URLs).
    local url_credentials='([A-Za-z][A-Za-z0-9+.-]*://[^/@:[:space:]]+):([^/@[:space:]<]+)@'
    while [[ $value =~ $url_credentials ]]; do
        value=${value/"${BASH_REMATCH[0]}"/"${BASH_REMATCH[1]}:<hidden>@"}
    done
    echo "  $name=$value"
}

print_environment() {
    local entry
    banner "environment"
    while IFS= read -r -d '' entry; do
        print_masked "${entry%%=*}" "${entry#*=}"
    done < <(env -0 | sort -z)
}

# Print an HTCondor ClassAd file, hiding values of secret-looking attributes.
print_class_ad() {
    local title=$1 path=$2 line
    [ -n "$path" ] && [ -r "$path" ] || return 0
    banner "$title ($path)"
    while IFS= read -r line; do
        print_masked "${line%% = *}" "${line#* = }"
    done <"$path"
}

find_site_name() {
    local path
    for path in "${_CONDOR_JOB_AD:-}" "${_CONDOR_MACHINE_AD:-}"; do
        [ -n "$path" ] && [ -r "$path" ] || continue
        site_name=$(awk -F' = ' '$1 == "MachineAttrGLIDEIN_CMSSite0" || $1 == "GLIDEIN_CMSSite" {
            gsub(/"/, "", $2); print $2; exit }' "$path")
        [ -n "$site_name" ] && return 0
    done
    site_name=${GLIDEIN_CMSSite:-}
}

# Steps -----------------------------------------------------------------------------------------

# Body of a step's subshell; runs in work/step<N>. Writes step_result ("<code>\t<message>") when a
# tool fails before cmsRun, or cmsrun_exit_status when cmsRun ran.
run_step_tools() {
    local number=$1 release=$2 arch=$3 pset=$4
    local tool_pid="" runtime_env fwcore_python status

    step_fail() {
        printf '%s\t%s\n' "$1" "$2" >step_result
        exit 1
    }
    # shellcheck disable=SC2329 # invoked by the TERM and INT traps
    step_signal() {
        trap '' TERM INT
        [ -n "$tool_pid" ] && stop_process_tree "$tool_pid"
        step_fail 50669 "step $number terminated by SIG$1"
    }
    # Run a tool in the background, its output appended to a log, and wait for it.
    run_tool() {
        local tool_log=$1
        shift
        log "step $number: $*"
        "$@" >>"$tool_log" 2>&1 &
        tool_pid=$!
        wait "$tool_pid"
        local tool_status=$?
        tool_pid=""
        if [ "$tool_status" -ne 0 ]; then
            log_error "step $number: $1 exited with status $tool_status; last lines of step$number/$tool_log:"
            tail -n 20 "$tool_log" >&2
        fi
        return "$tool_status"
    }
    trap 'step_signal TERM' TERM
    trap 'step_signal INT' INT

    export PATH=$step_base_path PYTHONPATH=$step_base_pythonpath LD_LIBRARY_PATH=$step_base_ld_library_path
    [ -n "$PYTHONPATH" ] || unset PYTHONPATH
    [ -n "$LD_LIBRARY_PATH" ] || unset LD_LIBRARY_PATH
    setup_cmsset || step_fail "$SUBMIT_ENV_ERROR_CODE" "$SUBMIT_ENV_ERROR_MESSAGE"
    export SCRAM_ARCH=$arch
    run_tool scram.log scram project CMSSW "$release" ||
        step_fail 50513 "scram project CMSSW $release failed for SCRAM_ARCH $arch (see step$number/scram.log)"
    cd "$release/src" || step_fail 50513 "scram project left no $release/src in step$number"
    runtime_env=$(scram runtime -sh 2>>../../scram.log)
    status=$?
    [ "$status" -eq 0 ] ||
        step_fail 50513 "scram runtime -sh failed with status $status for $release (see step$number/scram.log)"
    set +u
    eval "$runtime_env"
    set -u
    cd ../.. || step_fail 80000 "cannot return to step$number"

    cp "../$pset" PSet.py || step_fail 10040 "cannot copy $pset into step$number"
    run_tool tools.log edm_pset_pickler.py --input PSet.py --output_pkl Pset.pkl ||
        step_fail 10040 "edm_pset_pickler.py failed for $pset (see step$number/tools.log)"
    run_tool tools.log edm_pset_tweak.py --input_pkl Pset.pkl --output_pkl Pset.pkl \
        --json tweak.json --create_untracked_psets ||
        step_fail 10040 "edm_pset_tweak.py failed to apply step$number/tweak.json (see step$number/tools.log)"
    run_tool tools.log cmssw_handle_nEvents.py --input_pkl Pset.pkl --output_pkl Pset.pkl ||
        step_fail 10040 "cmssw_handle_nEvents.py failed (see step$number/tools.log)"
    if [ -n "${_CONDOR_JOB_AD:-}" ] && [ -r "$_CONDOR_JOB_AD" ]; then
        run_tool tools.log cmssw_handle_condor_status_service.py --input_pkl Pset.pkl --output_pkl Pset.pkl \
            --name "cmsRun$number" ||
            step_fail 10040 "cmssw_handle_condor_status_service.py failed (see step$number/tools.log)"
    fi

    mv PSet.py PSet_original.py || step_fail 10040 "cannot rename step$number/PSet.py"
    printf '%s\n' "import pickle" "with open('Pset.pkl', 'rb') as handle:" \
        "    process = pickle.load(handle)" >PSet.py || step_fail 10040 "cannot write step$number/PSet.py"

    fwcore_python=python
    if command -v python3 >/dev/null 2>&1 && python3 -c 'import FWCore.ParameterSet.Config' >/dev/null 2>&1; then
        fwcore_python=python3
    fi
    run_tool tools.log "$fwcore_python" "$script_dir/dump_output_modules.py" Pset.pkl output_modules.json ||
        step_fail 10040 "listing the output modules of step$number failed (see step$number/tools.log)"

    run_tool cmsRun.log cmsRun -j FrameworkJobReport.xml PSet.py
    status=$?
    echo "$status" >cmsrun_exit_status || step_fail 80000 "cannot record cmsRun's exit status in step$number"
    exit 0
}

# Run step N in a subshell and set step_code and step_message from its result.
run_step() {
    local number=$1
    local step_dir="$work_dir/step$number"
    local status line cmsrun_status

    (
        cd "$step_dir" || exit 1
        run_step_tools "$number" "${step_release[$number]}" "${step_arch[$number]}" "${step_pset[$number]}"
    ) &
    current_pid=$!
    wait "$current_pid"
    status=$?
    current_pid=""

    step_code=80000
    if [ -f "$step_dir/step_result" ]; then
        IFS=$'\t' read -r step_code step_message <"$step_dir/step_result"
        return 0
    fi
    if [ ! -f "$step_dir/cmsrun_exit_status" ]; then
        step_message="the subshell of step $number ended with status $status before cmsRun ran"
        return 0
    fi
    IFS= read -r cmsrun_status <"$step_dir/cmsrun_exit_status"
    if ! line=$(update_report step-end --step "$number" --step-dir "$step_dir" --cmsrun-exit-status "$cmsrun_status"); then
        step_message="judging the result of step $number failed"
        return 0
    fi
    IFS=$'\t' read -r step_code step_message <<<"$line"
}

# Stage-out -------------------------------------------------------------------------------------

# Set stage_out_retries and stage_out_retry_pause from the environment, or record 50113 for an
# invalid value. Values have at most 4 digits, because more would hold a job for days.
read_stage_out_settings() {
    local retries=${STAGE_OUT_RETRIES-$stage_out_retries}
    local pause=${STAGE_OUT_RETRY_PAUSE-$stage_out_retry_pause}
    if ! [[ "$retries" =~ ^[0-9]{1,4}$ ]]; then
        finish 50113 "invalid STAGE_OUT_RETRIES '$retries': give a whole number of retries from 0 to 9999, or unset it for 3"
    fi
    if ! [[ "$pause" =~ ^[0-9]{1,4}([.][0-9]+)?$ ]]; then
        finish 50113 "invalid STAGE_OUT_RETRY_PAUSE '$pause': give seconds from 0 to 9999 (for example 30 or 0.5), or unset it for 600"
    fi
    stage_out_retries=$((10#$retries))
    stage_out_retry_pause=$pause
}

stage_out() {
    local result_line code message status
    banner "stage-out starting"
    if [ -z "${SITECONFIG_PATH:-}" ] && [ -z "${WMAGENT_SITE_CONFIG_OVERRIDE:-}" ]; then
        log "stage-out skipped: neither SITECONFIG_PATH nor WMAGENT_SITE_CONFIG_OVERRIDE is set"
        update_report stage-out --skipped-reason "no SITECONF configured: SITECONFIG_PATH and WMAGENT_SITE_CONFIG_OVERRIDE are unset" ||
            finish 80000 "recording the skipped stage-out in $report failed"
        banner "stage-out finished"
        return 0
    fi
    if [ ! -f "$script_dir/stage_out.py" ]; then
        finish 50110 "stage_out.py is missing from $script_dir"
    fi
    log "stage_out.py with $stage_out_retries retries and $stage_out_retry_pause s pause after each failed attempt"
    stage_out_results="$work_dir/stage_out_results.json"
    run_waited env PYTHONPATH="$script_dir/WMCore.zip${PYTHONPATH:+:$PYTHONPATH}" "$helper_python" \
        "$script_dir/stage_out.py" --request "$work_dir/request.json" --work-dir "$work_dir" \
        --results "$stage_out_results" --retries "$stage_out_retries" --retry-pause "$stage_out_retry_pause"
    status=$?
    stage_out_results=""
    if ! result_line=$(update_report stage-out --results "$work_dir/stage_out_results.json" --exit-status "$status"); then
        finish 80000 "recording the stage-out results in $report failed"
    fi
    IFS=$'\t' read -r code message <<<"$result_line"
    [ "$code" -eq 0 ] || finish "$code" "$message"
    banner "stage-out finished"
}

# Main ------------------------------------------------------------------------------------------

usage() {
    echo "usage: execute_stepchain.sh [--keep-work-dir] <request_psets.tar.gz> <jobN.json>" >&2
}

absolute_path() {
    case "$1" in
        /*) printf '%s\n' "$1" ;;
        *) printf '%s\n' "$start_dir/$1" ;;
    esac
}

main() {
    local tarball job_file arg argument_error="" host_name
    local -a positional=()
    for arg in "$@"; do
        case "$arg" in
            --keep-work-dir) keep_work_dir=true ;;
            -h | --help) usage; exit 0 ;;
            -*) argument_error="unknown option $arg" ;;
            *) positional+=("$arg") ;;
        esac
    done
    if [ -z "$argument_error" ] && [ "${#positional[@]}" -ne 2 ]; then
        argument_error="expected 2 arguments (request tarball and job file), got ${#positional[@]}"
    fi

    trap 'on_signal TERM' TERM
    trap 'on_signal INT' INT

    banner "job starting"
    log "arguments: $*"
    host_name=$(hostname -f 2>/dev/null || hostname)
    log "host: $host_name; user: $(id -un); directory: $start_dir"
    find_site_name
    log "site: ${site_name:-unknown}"
    print_class_ad "HTCondor job ad" "${_CONDOR_JOB_AD:-}"
    print_class_ad "HTCondor machine ad" "${_CONDOR_MACHINE_AD:-}"
    print_environment

    helper_python=$(command -v python3 || true)
    if [ -z "$helper_python" ] || ! update_report init --site "$site_name" --host "$host_name"; then
        helper_python=""
        finish 11005 "no usable python3 on PATH to start the job report"
    fi

    if [ -n "$argument_error" ]; then
        usage
        finish 50113 "$argument_error"
    fi
    tarball=$(absolute_path "${positional[0]}")
    job_file=$(absolute_path "${positional[1]}")
    [ -f "$tarball" ] && [ -r "$tarball" ] || finish 50113 "request tarball $tarball is missing or unreadable"
    [ -f "$job_file" ] && [ -r "$job_file" ] || finish 50113 "job file $job_file is missing or unreadable"
    read_stage_out_settings
    for arg in exit_codes.txt submit_env.sh unpack_sandbox.py job_plan.py job_report.py stageout_transfer.py dump_output_modules.py; do
        [ -f "$script_dir/$arg" ] || finish 50110 "$arg is missing from $script_dir"
    done
    # shellcheck source=ep_scripts/submit_env.sh
    . "$script_dir/submit_env.sh"

    banner "CMS environment starting"
    setup_cmsset || finish "$SUBMIT_ENV_ERROR_CODE" "$SUBMIT_ENV_ERROR_MESSAGE"
    log "CMS software from $CMS_SW_DIR"
    banner "CMS environment finished"

    banner "unpack starting"
    work_dir=$(mktemp -d "$start_dir/work.XXXXXX") || finish 10042 "cannot create a work directory in $start_dir"
    run_waited "$helper_python" "$script_dir/unpack_sandbox.py" "$tarball" "$work_dir"
    case $? in
        0) ;;
        2) finish 50113 "request tarball $tarball is invalid or unsafe (see the error above)" ;;
        3) finish 10042 "unpacking $tarball into $work_dir failed (see the error above)" ;;
        *) finish 10042 "unpack_sandbox.py failed on $tarball" ;;
    esac
    run_waited "$helper_python" "$script_dir/job_plan.py" --work-dir "$work_dir" --job "$job_file"
    case $? in
        0) ;;
        2) finish 50113 "request or job file is invalid (see the error above)" ;;
        *) finish 10042 "laying out the work area in $work_dir failed (see the error above)" ;;
    esac
    # shellcheck source=/dev/null
    . "$work_dir/plan.sh" || finish 80000 "cannot read $work_dir/plan.sh"
    update_report plan --plan "$work_dir/plan.json" || finish 80000 "recording the plan in $report failed"
    log "job $job_index: $step_count steps"
    banner "unpack finished"

    banner "COMP python starting"
    step_base_path=$PATH
    step_base_pythonpath=${PYTHONPATH:-}
    step_base_ld_library_path=${LD_LIBRARY_PATH:-}
    if ! setup_local_env "${step_arch[1]}" || ! setup_python_comp; then
        finish "$SUBMIT_ENV_ERROR_CODE" "$SUBMIT_ENV_ERROR_MESSAGE"
    fi
    helper_python=$(command -v python3)
    log "helper Python: $helper_python ($("$helper_python" --version 2>&1))"
    banner "COMP python finished"

    local number
    for ((number = 1; number <= step_count; number++)); do
        current_step=$number
        banner "step $number (${step_name[$number]}, ${step_release[$number]}, ${step_arch[$number]}," \
            "KeepOutput ${step_keep_output[$number]}) starting"
        update_report step-start --step "$number" || finish 80000 "recording the start of step $number failed"
        run_step "$number"
        if [ "$step_code" -ne 0 ]; then
            update_report step-fail --step "$number" --code "$step_code" --message "$step_message" ||
                log_error "recording the failure of step $number failed"
            finish "$step_code" "step $number (${step_name[$number]}): $step_message"
        fi
        banner "step $number finished"
    done
    current_step=""

    stage_out
    finish 0 ""
}

main "$@"
