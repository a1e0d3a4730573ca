#!/usr/bin/env bash
# Time stage_out.py staging one file to the local site's XRootD server, next to a plain xrdcp of
# the same file with the same adler32 check, measured in the same run.
#
# Usage: bash bench/bench_stage_out.sh [SIZE_MIB] [REPEATS]     (defaults: 1024 MiB, 3 repeats)
#
# Starts its own server with samples/local_site/start_xrootd.py (127.0.0.1 only) and a SITECONF
# with make_siteconf.py --xrootd-only, then alternates the two commands REPEATS times:
#   plain:     xrdcp --force --nopbar --cksum adler32:<value> FILE root://127.0.0.1:PORT//store/...
#              (the adler32 is computed before the timer starts)
#   stage_out: stage_out.py --lfn LFN --local FILE --retries 0 --retry-pause 0, which computes the
#              adler32 itself, runs WMCore's xrdcp script and reads size and adler32 back
# Each remote copy is removed before the next run. Prints one line per run and the medians.
set -o errexit -o nounset -o pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
size_mib=${1:-1024}
repeats=${2:-3}
case "$size_mib$repeats" in
    *[!0-9]*) echo "[bench_stage_out] usage: bench_stage_out.sh [SIZE_MIB] [REPEATS] (whole numbers)" >&2; exit 2 ;;
esac

# shellcheck source=scripts/setup_env.sh
. "$root/scripts/setup_env.sh"

work=$(mktemp -d /tmp/bench-stage-out.XXXXXX)
chmod 0755 "$work"
server_started=0

cleanup() {
    if [ "$server_started" = 1 ]; then
        "$LOCAL_SITE_PYTHON" "$root/samples/local_site/start_xrootd.py" stop --work-dir "$work/se" >/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

log() {
    echo "[bench_stage_out] $*" >&2
}

eval "$("$LOCAL_SITE_PYTHON" "$root/samples/local_site/start_xrootd.py" start --work-dir "$work/se")"
server_started=1
"$LOCAL_SITE_PYTHON" "$root/samples/local_site/make_siteconf.py" --output "$work/siteconf" \
    --xrootd-port "$XROOTD_PORT" --posix-root "$work/posix" --xrootd-only 2>/dev/null

python - "$work" <<'EOF'
import sys
from micro_agent.wmcore_bundle import build_wmcore_zip
build_wmcore_zip(sys.argv[1] + "/WMCore.zip")
EOF
site_packages=$(python -c 'import future, os; print(os.path.dirname(os.path.dirname(future.__file__)))')
mkdir "$work/py3-future"
cp -r "$site_packages/future" "$site_packages/past" "$work/py3-future/"

log "writing a ${size_mib} MiB file of random bytes"
head -c "$((size_mib * 1024 * 1024))" /dev/urandom >"$work/data.root"
adler32=$("$LOCAL_SITE_PYTHON" -c '
import sys, zlib
value = 1
with open(sys.argv[1], "rb") as source:
    for chunk in iter(lambda: source.read(4 << 20), b""):
        value = zlib.adler32(chunk, value)
print("%08x" % (value & 0xffffffff))' "$work/data.root")
lfn_dir=/store/unmerged/Bench/BenchPrimary/GEN-SIM/Bench-v1/0000
server="127.0.0.1:$XROOTD_PORT"

seconds_since() {
    python -c 'import sys, time; print("%.3f" % (time.time() - float(sys.argv[1])))' "$1"
}

plain_times=() stage_out_times=()
for run in $(seq 1 "$repeats"); do
    start=$(date +%s.%N)
    xrdcp --force --nopbar --cksum "adler32:$adler32" "$work/data.root" "root://$server/$lfn_dir/plain.root"
    plain=$(seconds_since "$start")
    plain_times+=("$plain")
    xrdfs "$server" rm "$lfn_dir/plain.root" >/dev/null

    start=$(date +%s.%N)
    env SITECONFIG_PATH="$work/siteconf" PYTHONPATH="$work/WMCore.zip:$work/py3-future" \
        "$LOCAL_SITE_PYTHON" "$root/ep_scripts/stage_out.py" --lfn "$lfn_dir/staged.root" \
        --local "$work/data.root" --retries 0 --retry-pause 0 >/dev/null 2>"$work/stage_out.log" ||
        { log "stage_out.py failed; its log:"; cat "$work/stage_out.log" >&2; exit 1; }
    staged=$(seconds_since "$start")
    stage_out_times+=("$staged")
    xrdfs "$server" rm "$lfn_dir/staged.root" >/dev/null
    echo "run $run: plain xrdcp $plain s, stage_out.py $staged s"
done

python - "${plain_times[*]}" "${stage_out_times[*]}" "$size_mib" <<'EOF'
import statistics, sys
plain = [float(x) for x in sys.argv[1].split()]
staged = [float(x) for x in sys.argv[2].split()]
print("file: %s MiB; median plain xrdcp %.3f s, median stage_out.py %.3f s, ratio %.2f"
      % (sys.argv[3], statistics.median(plain), statistics.median(staged),
         statistics.median(staged) / statistics.median(plain)))
EOF
