# shellcheck shell=bash
# Prepare this checkout for the demo and the tests; source it from bash, do not execute it.
#
# 1. Install Debian's xrootd-server and xrootd-client when missing (as root, else print how).
# 2. Create .venv with the host's python3 and install the pinned dependencies into it,
#    again only when setup.py or requirements-nodeps.txt changed since the last install.
# 3. Export PATH with .venv/bin first, and LOCAL_SITE_PYTHON: the interpreter that the local
#    site's COMP python runs worker-side code with (a Python 3.6 when this machine has one,
#    because grid worker nodes run 3.6).
#
# Returns non-zero, after one line on stderr naming what failed, when a step cannot be done.

setup_env_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

setup_env_log() {
    echo "[setup_env] $*" >&2
}

setup_env_install_xrootd() {
    if command -v xrootd >/dev/null && command -v xrdcp >/dev/null && command -v xrdfs >/dev/null; then
        return 0
    fi
    if [ "$(id -u)" != 0 ]; then
        setup_env_log "xrootd, xrdcp or xrdfs not found; install them as root with:" \
            "apt-get install xrootd-server xrootd-client"
        return 1
    fi
    setup_env_log "installing Debian packages xrootd-server and xrootd-client"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq </dev/null >/dev/null || { setup_env_log "apt-get update failed"; return 1; }
    apt-get install -y -qq --no-install-recommends xrootd-server xrootd-client </dev/null >/dev/null ||
        { setup_env_log "apt-get install xrootd-server xrootd-client failed"; return 1; }
}

setup_env_install_venv() {
    local venv="$setup_env_root/.venv"
    local stamp="$venv/.installed"
    local wanted
    wanted=$(cat "$setup_env_root/setup.py" "$setup_env_root/requirements-nodeps.txt" | sha256sum | cut -d' ' -f1)
    if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$wanted" ]; then
        return 0
    fi
    setup_env_log "creating $venv and installing the pinned dependencies"
    python3 -m venv "$venv" || { setup_env_log "python3 -m venv $venv failed"; return 1; }
    "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps \
        -r "$setup_env_root/requirements-nodeps.txt" </dev/null ||
        { setup_env_log "pip install --no-deps -r requirements-nodeps.txt failed"; return 1; }
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -e "${setup_env_root}[test]" </dev/null ||
        { setup_env_log "pip install -e .[test] failed"; return 1; }
    echo "$wanted" >"$stamp"
}

setup_env_find_worker_python() {
    local candidate
    for candidate in python3.6 "$(pyenv root 2>/dev/null)"/versions/3.6*/bin/python3.6; do
        if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 6))' 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    command -v python3
}

setup_env_install_xrootd || return 1
setup_env_install_venv || return 1
export PATH="$setup_env_root/.venv/bin:$PATH"
# Without a condor_config the htcondor bindings warn on every import; an empty one is enough here.
if [ -z "${CONDOR_CONFIG:-}" ] && [ ! -e /etc/condor/condor_config ]; then
    export CONDOR_CONFIG=/dev/null
fi
LOCAL_SITE_PYTHON=${LOCAL_SITE_PYTHON:-$(setup_env_find_worker_python)}
export LOCAL_SITE_PYTHON
setup_env_log "worker-side Python: $LOCAL_SITE_PYTHON ($("$LOCAL_SITE_PYTHON" -c 'import platform; print(platform.python_version())'))"
