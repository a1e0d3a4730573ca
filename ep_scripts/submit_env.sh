# shellcheck shell=bash
# Worker-node environment of a CMS job, set up as WMAgent jobs do it on the grid. Source this file
# from bash (4.2 or later); it defines functions and runs nothing.
#
#   setup_local_env <ScramArch>  export REQUIRED_OS (slc7 -> rhel7, el8 -> rhel8, el9 -> rhel9)
#                                and BEARER_TOKEN_FILE when HTCondor passed a CMS token
#   setup_cmsset                 find and source cmsset_default.sh; export CMS_SW_DIR
#   setup_python_comp            source the COMP python3 (and py3-future) for REQUIRED_OS
#
# A function returns 0 on success. On failure it returns 1 after setting SUBMIT_ENV_ERROR_CODE
# (a code of exit_codes.txt: 50113, 11003, 11004 or 11005) and SUBMIT_ENV_ERROR_MESSAGE, so the
# caller records the full code, which an exit status could not carry.

SUBMIT_ENV_ERROR_CODE=0
SUBMIT_ENV_ERROR_MESSAGE=""

# shellcheck disable=SC2034 # the sourcing script reads both variables
submit_env_fail() {
    SUBMIT_ENV_ERROR_CODE=$1
    SUBMIT_ENV_ERROR_MESSAGE=$2
    return 1
}

submit_env_log() {
    echo "[submit_env] $*"
}

# Print the operating system that a SCRAM architecture runs on, as COMP names it (rhel7, ...).
required_os_for_arch() {
    local os_part=${1%%_*}
    case "$os_part" in
        slc6) echo rhel6 ;;
        slc7 | cc7) echo rhel7 ;;
        el8 | cc8 | cs8 | alma8) echo rhel8 ;;
        el9 | cs9 | alma9) echo rhel9 ;;
        *) return 1 ;;
    esac
}

setup_local_env() {
    local scram_arch=$1
    local os
    if ! os=$(required_os_for_arch "$scram_arch"); then
        submit_env_fail 50113 "ScramArch $scram_arch names no known operating system (expected slc7_, el8_, el9_ ...)"
        return 1
    fi
    export REQUIRED_OS=$os
    submit_env_log "ScramArch $scram_arch requires OS $REQUIRED_OS"

    if [ -n "${_CONDOR_CREDS:-}" ] && [ -f "$_CONDOR_CREDS/cms.use" ]; then
        export BEARER_TOKEN_FILE="$_CONDOR_CREDS/cms.use"
        submit_env_log "CMS token found; BEARER_TOKEN_FILE=$BEARER_TOKEN_FILE"
    fi
    return 0
}

# Sourced scripts of the CMS software are not written for `set -u`, so nounset is suspended
# while they run and restored afterwards.
source_unchecked() {
    local script=$1
    shift
    local nounset_was_on=0
    case "$-" in *u*) nounset_was_on=1 ;; esac
    set +u
    # shellcheck disable=SC1090
    . "$script" "$@"
    local status=$?
    [ "$nounset_was_on" -eq 1 ] && set -u
    return "$status"
}

setup_cmsset() {
    local candidate
    CMS_SW_DIR=""
    for candidate in "${VO_CMS_SW_DIR:-}" "${OSG_APP:+$OSG_APP/cmssoft/cms}" "${CVMFS:-}" \
        "${CVMFS:+$CVMFS/cms.cern.ch}" /cvmfs/cms.cern.ch; do
        if [ -n "$candidate" ] && [ -f "$candidate/cmsset_default.sh" ]; then
            CMS_SW_DIR=$candidate
            break
        fi
    done
    if [ -z "$CMS_SW_DIR" ]; then
        submit_env_fail 11003 "CMS software not found: no cmsset_default.sh under VO_CMS_SW_DIR, OSG_APP/cmssoft/cms, CVMFS or /cvmfs/cms.cern.ch"
        return 1
    fi
    export CMS_SW_DIR
    if ! source_unchecked "$CMS_SW_DIR/cmsset_default.sh"; then
        submit_env_fail 11003 "sourcing $CMS_SW_DIR/cmsset_default.sh failed"
        return 1
    fi
    if ! command -v scram >/dev/null 2>&1; then
        submit_env_fail 11003 "scram is not on PATH after sourcing $CMS_SW_DIR/cmsset_default.sh"
        return 1
    fi
    return 0
}

# Print the init script of the newest version installed under an external package directory.
newest_init_script() {
    local package_dir=$1
    local init newest=""
    for init in "$package_dir"/*/etc/profile.d/init.sh; do
        [ -f "$init" ] || continue
        newest=$(printf '%s\n%s\n' "$newest" "$init" | sed '/^$/d' | sort -V | tail -n 1)
    done
    [ -n "$newest" ] && echo "$newest"
}

setup_python_comp() {
    local machine external python_init future_init
    machine=$(uname -m)
    external="${CMS_SW_DIR:-}/COMP/${REQUIRED_OS:-}_$machine/external"

    if [ -z "${REQUIRED_OS:-}" ] || [ -z "${CMS_SW_DIR:-}" ]; then
        submit_env_fail 11004 "REQUIRED_OS or CMS_SW_DIR is not set; call setup_local_env and setup_cmsset first"
        return 1
    fi
    if ! python_init=$(newest_init_script "$external/python3"); then
        submit_env_fail 11004 "no COMP python3 init.sh under $external/python3"
        return 1
    fi
    if ! source_unchecked "$python_init"; then
        submit_env_fail 11005 "sourcing $python_init failed"
        return 1
    fi
    submit_env_log "COMP python3 from $python_init"

    # WMAgent's bootstrap looks in external/py3-future; some COMP areas keep it beside external/.
    if future_init=$(newest_init_script "$external/py3-future") ||
        future_init=$(newest_init_script "${external%/external}/py3-future"); then
        if ! source_unchecked "$future_init"; then
            submit_env_fail 11005 "sourcing $future_init failed"
            return 1
        fi
        submit_env_log "py3-future from $future_init"
    fi

    if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import sys' >/dev/null 2>&1; then
        submit_env_fail 11005 "python3 is not usable after sourcing $python_init"
        return 1
    fi
    return 0
}
