#!/usr/bin/env bash
# Run the main job: a StepChain request from splitting to staged outputs, on this machine.
#
#   bash scripts/demo.sh [--request DIR] [--output DIR] [--post-policy delay|report]
#
# DIR contains request.json, splitting.json and PSets/ (default: the bundled sample request).
# The POST policy defaults to report here, so a failed job shows as a failed node. The DAG default
# is delay.
# 1. Split the request into job files and the request tarball (event-splitter).
# 2. Prepare the DAG directory (create-stepchain-dag), with a short-lived demo proxy.
# 3. Start the local XRootD storage element and write the local site's SITECONF.
# 4. Run the first and the last node as HTCondor would (run-node-locally) on the local site, which
#    simulates CMSSW; each node runs all steps and stages out its KeepOutput files.
# 5. Run each node's POST script (run-node-locally does it after the job).
# 6. Print per node the exit code, the events of each step and the staged files, then the DAG
#    summary (dag-status), and stop the storage element.
#
# Exit status: 0 when both nodes succeeded, 1 when a node failed, 2 on invalid arguments or when a
# phase could not run.
set -o nounset -o pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
request_dir="$root/samples/requests/DYToMuMu_13p6TeV_StepChain"
output_dir="$root/demo_output"
post_policy=report

log() {
    echo "[demo] $(date -u '+%Y-%m-%d %H:%M:%S') $*"
}

die() {
    echo "[demo] ERROR: $*" >&2
    exit 2
}

banner() {
    echo
    echo "======== $* ($(date -u '+%Y-%m-%d %H:%M:%S') GMT) ========"
}

usage() {
    sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

while [ "$#" -gt 0 ]; do
    case "$1" in
        --request) [ "$#" -ge 2 ] || die "--request needs a directory"; request_dir=$2; shift 2 ;;
        --output) [ "$#" -ge 2 ] || die "--output needs a directory"; output_dir=$2; shift 2 ;;
        --post-policy) [ "$#" -ge 2 ] || die "--post-policy needs delay or report"; post_policy=$2; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) die "unknown argument $1 (see --help)" ;;
    esac
done

for name in request.json splitting.json PSets; do
    [ -e "$request_dir/$name" ] || die "$request_dir/$name not found: --request needs a directory with request.json, splitting.json and PSets/"
done
case "$post_policy" in delay | report) ;; *) die "--post-policy must be delay or report, not $post_policy" ;; esac

cd "$root" || die "cannot enter $root"
# shellcheck source=scripts/setup_env.sh
. scripts/setup_env.sh || die "installing the dependencies failed (see the message above)"
# shellcheck source=samples/local_site/activate.sh
. samples/local_site/activate.sh || die "activating the local site failed (see the message above)"

# The output directory belongs to the demo: an earlier run's content is replaced, anything else
# is left alone.
marker="$output_dir/.stepchain-demo"
if [ -e "$output_dir" ] && [ ! -e "$marker" ] && [ -n "$(ls -A "$output_dir" 2>/dev/null)" ]; then
    die "$output_dir is not empty and was not made by this demo; choose another --output"
fi
rm -rf "$output_dir"
mkdir -p "$output_dir" || die "cannot create $output_dir"
output_dir=$(cd "$output_dir" && pwd)
touch "$marker"

# As root, the XRootD server runs as the xrootd user, which must reach its directory. The output
# directory may be below a private home directory, so the server's directory is under /tmp instead.
# It is removed when the demo ends.
xrootd_dir=$(mktemp -d /tmp/stepchain-demo-se.XXXXXX) || die "cannot create a directory under /tmp"
chmod 755 "$xrootd_dir"
# shellcheck disable=SC2329 # called by the EXIT trap
stop_storage_element() {
    if [ -e "$xrootd_dir/run/server.pid" ]; then
        python3 samples/local_site/start_xrootd.py stop --work-dir "$xrootd_dir" || true
    fi
    rm -rf "$xrootd_dir"
}
trap stop_storage_element EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

banner "1. split the request $request_dir"
event-splitter --request "$request_dir/request.json" --splitting "$request_dir/splitting.json" \
    --psets "$request_dir/PSets" --output-dir "$output_dir/split" || die "event-splitter failed"
job_count=$(find "$output_dir/split" -maxdepth 1 -name 'job*.json' | wc -l)
log "$job_count job files in $output_dir/split"

banner "2. prepare the DAG directory"
# A self-signed certificate is used as the X.509 proxy, because nothing here contacts a grid service.
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=WorkflowOrchestrator demo proxy" \
    -keyout "$output_dir/demo_proxy.key" -out "$output_dir/demo_proxy.crt" 2>/dev/null ||
    die "openssl could not create the demo proxy"
cat "$output_dir/demo_proxy.crt" "$output_dir/demo_proxy.key" >"$output_dir/x509up_demo"
chmod 600 "$output_dir/x509up_demo"
site=T2_XX_Local
echo "$site" >"$output_dir/sitelist.txt"
create-stepchain-dag --event-splitter-dir "$output_dir/split" --proxy "$output_dir/x509up_demo" \
    --sitelist "$output_dir/sitelist.txt" --output-dag "$output_dir/dag/stepchain.dag" \
    --post-policy "$post_policy" --stage-out-retries 1 --stage-out-retry-pause 10 ||
    die "create-stepchain-dag failed"

banner "3. start the storage element"
server_settings=$(python3 samples/local_site/start_xrootd.py start --work-dir "$xrootd_dir") ||
    die "the XRootD server did not start"
eval "$server_settings"
python3 samples/local_site/make_siteconf.py --output "$output_dir/SITECONF" \
    --xrootd-port "$XROOTD_PORT" --posix-root "$output_dir/posix_storage" || die "make_siteconf.py failed"
export SITECONFIG_PATH="$output_dir/SITECONF"
# One copy attempt against a dead server then fails within seconds (about 8 minutes with the
# client defaults of xrootd 5.5.3).
export XRD_CONNECTIONRETRY=1 XRD_CONNECTIONWINDOW=5 XRD_REQUESTTIMEOUT=30

status=0
for node in Job1 "Job$job_count"; do
    banner "4-6. run node $node as HTCondor would, then its POST script"
    run-node-locally "$output_dir/dag" "$node" --site "$site" --scratch-parent "$output_dir" \
        --pass-env VO_CMS_SW_DIR --pass-env LOCAL_SITE_PYTHON --pass-env SITECONFIG_PATH \
        --pass-env XRD_CONNECTIONRETRY --pass-env XRD_CONNECTIONWINDOW --pass-env XRD_REQUESTTIMEOUT
    node_status=$?
    [ "$node_status" -eq 0 ] || status=1
    [ "$node_status" -le 1 ] || die "run-node-locally could not run $node"
    [ "$job_count" -gt 1 ] || break
done

banner "DAG summary"
dag-status "$output_dir/dag"
log "job logs in $output_dir/dag/out and err, job reports in $output_dir/dag/results"
banner "files at the storage element (removed when the demo ends)"
(cd "$XROOTD_EXPORT" && find . -type f -printf '%10s  /%P\n' | sort -k2)
exit "$status"
