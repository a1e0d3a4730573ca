#!/bin/bash
# Measure execute_stepchain.sh's own time per job: the wall time of a whole 6-step job minus the
# wall time spent inside cmsRun, on the local site with the real request's job 1.
#
#   bash bench/bench_executor.sh [RUNS]      (default 5 runs)
#
# The local site is copied into a temporary directory whose cmsRun is wrapped to log each call's
# start and end, because scram runtime puts the release's bin directory first on PATH, where no
# other wrapper could come first. The simulated cmsRun writes 0 bytes per event
# (CMSRUN_SIM_BYTES_PER_EVENT=0), so its time is mostly Python start-up; that time is subtracted.
# What remains is the executor's overhead: unpack, plan, report updates, scram, the PSet tools
# and the log copy. Stage-out is skipped (no SITECONF).
set -o nounset -o pipefail

runs=${1:-5}
case "$runs" in
    '' | *[!0-9]* | 0) echo "usage: bench_executor.sh [RUNS], RUNS a positive integer, got '$runs'" >&2; exit 2 ;;
esac

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd) || exit 1
# shellcheck source=scripts/setup_env.sh
. "$root/scripts/setup_env.sh" || exit 1
request_dir="$root/../shared/data/real/SMP-RunIISummer20UL17pp5TeVwmLHEGS-00007"
scratch=$(mktemp -d) || exit 1
trap 'rm -rf "$scratch"' EXIT

cp -r "$root/samples/local_site" "$scratch/local_site" || exit 1
sim_bin="$scratch/local_site/cms.cern.ch/cmssw-sim/bin"
mv "$sim_bin/cmsRun" "$sim_bin/cmsRun.real" || exit 1
cat >"$sim_bin/cmsRun" <<'EOF'
#!/bin/bash
# Benchmark wrapper: log the start and end of the simulated cmsRun in nanoseconds.
started=$(date +%s%N)
"$(dirname "$0")/cmsRun.real" "$@"
status=$?
echo "$started $(date +%s%N)" >>"$BENCH_CMSRUN_LOG"
exit "$status"
EOF
chmod +x "$sim_bin/cmsRun"
# shellcheck source=samples/local_site/activate.sh
. "$scratch/local_site/activate.sh" || exit 1
unset SITECONFIG_PATH WMAGENT_SITE_CONFIG_OVERRIDE _CONDOR_JOB_AD
export CMSRUN_SIM_BYTES_PER_EVENT=0

event-splitter --request "$request_dir/request.json" --splitting "$request_dir/splitting.json" \
    --psets "$request_dir/PSets" --output-dir "$scratch/split" >/dev/null || exit 1

echo "run  total_s  cmsRun_s  executor_s"
totals=()
for ((run = 1; run <= runs; run++)); do
    job_dir="$scratch/job$run"
    mkdir "$job_dir" && cp "$scratch/split/request_psets.tar.gz" "$scratch/split/job1.json" "$job_dir/" || exit 1
    export BENCH_CMSRUN_LOG="$job_dir/cmsrun_times"
    started=$(date +%s%N)
    (cd "$job_dir" && bash "$root/ep_scripts/execute_stepchain.sh" request_psets.tar.gz job1.json >executor.log 2>&1)
    status=$?
    ended=$(date +%s%N)
    if [ "$status" -ne 0 ]; then
        echo "run $run failed with exit status $status; see the log:" >&2
        tail -n 20 "$job_dir/executor.log" >&2
        exit 1
    fi
    cmsrun_ns=$(awk '{ sum += $2 - $1 } END { print sum + 0 }' "$BENCH_CMSRUN_LOG")
    calls=$(wc -l <"$BENCH_CMSRUN_LOG")
    [ "$calls" -eq 6 ] || { echo "run $run called cmsRun $calls times, expected 6" >&2; exit 1; }
    total_ns=$((ended - started))
    totals+=("$total_ns $cmsrun_ns")
    awk -v run="$run" -v total="$total_ns" -v cmsrun="$cmsrun_ns" \
        'BEGIN { printf "%3d  %7.2f  %8.2f  %10.2f\n", run, total / 1e9, cmsrun / 1e9, (total - cmsrun) / 1e9 }'
done

printf '%s\n' "${totals[@]}" | awk '
    { total += $1; cmsrun += $2; own = ($1 - $2) / 1e9; if (NR == 1 || own < low) low = own; if (own > high) high = own }
    END { printf "mean over %d runs: total %.2f s, cmsRun %.2f s, executor %.2f s (min %.2f, max %.2f)\n",
                 NR, total / NR / 1e9, cmsrun / NR / 1e9, (total - cmsrun) / NR / 1e9, low, high }'
