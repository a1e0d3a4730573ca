# shellcheck shell=bash
# The local site's storage element for bats tests. Load with: load helpers/xrootd
#
#   xrootd_start       start an XRootD server on 127.0.0.1 (a free port) with samples/local_site/start_xrootd.py;
#                      exports XROOTD_PORT, XROOTD_PID, XROOTD_EXPORT (the exported directory on disk,
#                      "/" of the server), XROOTD_LOG and XROOTD_WORK_DIR
#   xrootd_stop        stop it by its PID and remove its work directory
#   siteconf_make DIR [make_siteconf.py options]
#                      write a SITECONF for that server into DIR (POSIX volume under DIR/posix);
#                      exports SITECONFIG_PATH=DIR
#
# Loading this file also exports bounded XRootD client timeouts, so a copy to a dead server fails
# within seconds.
XROOTD_HELPER_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)

export XRD_CONNECTIONRETRY=1 XRD_CONNECTIONWINDOW=3 XRD_REQUESTTIMEOUT=30

xrootd_helper_python() {
    echo "${LOCAL_SITE_PYTHON:-python3}"
}

xrootd_start() {
    local tool
    for tool in xrootd xrdcp xrdfs; do
        if ! command -v "$tool" >/dev/null; then
            echo "xrootd_start: $tool not found on PATH; install it with: apt-get install xrootd-server xrootd-client" >&2
            return 1
        fi
    done
    # As root the server runs as user xrootd, which cannot enter bats' private temporary
    # directories (mode 0700), so it gets a directory of its own.
    XROOTD_WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/xrootd-se.XXXXXX") || return 1
    chmod 0755 "$XROOTD_WORK_DIR"
    local assignments
    assignments=$("$(xrootd_helper_python)" "$XROOTD_HELPER_ROOT/samples/local_site/start_xrootd.py" \
        start --work-dir "$XROOTD_WORK_DIR") || return 1
    eval "$assignments"
    export XROOTD_PORT XROOTD_PID XROOTD_EXPORT XROOTD_LOG XROOTD_WORK_DIR
}

xrootd_stop() {
    [ -n "${XROOTD_WORK_DIR:-}" ] || return 0
    "$(xrootd_helper_python)" "$XROOTD_HELPER_ROOT/samples/local_site/start_xrootd.py" \
        stop --work-dir "$XROOTD_WORK_DIR" || return 1
    rm -rf "$XROOTD_WORK_DIR"
    unset XROOTD_WORK_DIR
}

siteconf_make() {
    local dir=${1:?usage: siteconf_make DIR [make_siteconf.py options]}
    shift
    "$(xrootd_helper_python)" "$XROOTD_HELPER_ROOT/samples/local_site/make_siteconf.py" \
        --output "$dir" --xrootd-port "${XROOTD_PORT:?call xrootd_start first}" --posix-root "$dir/posix" "$@" ||
        return 1
    export SITECONFIG_PATH=$dir
}
