#!/usr/bin/env bash
# Demo on the local site, the simulated worker node in samples/local_site. It runs the first two
# steps of the bundled real request through scram, the cmssw-wm-tools and cmsRun in a temporary
# directory. For each step it prints the events and the output files that the job report lists.
#
# NOTE: a placeholder until the end-to-end job (splitter, executor, stage-out) replaces it.
set -o errexit -o nounset -o pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/setup_env.sh
. "$root/scripts/setup_env.sh"
# shellcheck source=samples/local_site/activate.sh
. "$root/samples/local_site/activate.sh"
# shellcheck source=samples/local_site/cms.cern.ch/cmsset_default.sh
. "$VO_CMS_SW_DIR/cmsset_default.sh"

psets="$root/../shared/data/real/SMP-RunIISummer20UL17pp5TeVwmLHEGS-00007/PSets"
if [ ! -d "$psets" ]; then
    echo "[demo] the real request's PSets are not at $psets" >&2
    exit 1
fi
workdir=$(mktemp -d "${TMPDIR:-/tmp}/workflow-orchestrator-demo.XXXXXX")
trap 'rm -rf "$workdir"' EXIT

log() {
    echo "[demo] $(date -u '+%Y-%m-%d %H:%M:%S GMT') $*"
}

# Run one step: $1 step number, $2 PSet file, $3 tweak JSON. Creates $workdir/step<N>.
run_step() {
    local step=$1 pset=$2 tweaks=$3
    mkdir "$workdir/step$step"
    cd "$workdir/step$step"
    printf '%s\n' "$tweaks" >tweak.json
    printf 'import pickle\n\nwith open("PSet.pkl", "rb") as handle:\n    process = pickle.load(handle)\n' >PSet.py

    log "step $step: scram project CMSSW_10_6_47 (slc7_amd64_gcc700)"
    scram -a slc7_amd64_gcc700 project CMSSW CMSSW_10_6_47 >/dev/null
    cd CMSSW_10_6_47
    eval "$(scram runtime -sh)"
    cd ..
    edm_pset_pickler.py --input "$pset" --output_pkl PSet.pkl >/dev/null
    edm_pset_tweak.py --input_pkl PSet.pkl --output_pkl PSet.pkl --json tweak.json --create_untracked_psets >/dev/null
    log "step $step: cmsRun -j report.xml PSet.py"
    cmsRun -j report.xml PSet.py 2>/dev/null
    python3 - report.xml <<'EOF'
import sys
import xml.etree.ElementTree as ElementTree

for output in ElementTree.parse(sys.argv[1]).getroot().iter("File"):
    print("    %-14s %5s events  %s  GUID %s" % (
        output.findtext("ModuleLabel"), output.findtext("TotalEvents"), output.findtext("PFN"),
        output.findtext("GUID")))
EOF
}

log "working in $workdir"
run_step 1 "$(ls "$psets"/PSet_cmsRun1_*.py)" '{
 "process.maxEvents": "customTypeCms.untracked.PSet(input=cms.untracked.int32(240))",
 "process.source.firstEvent": "customTypeCms.untracked.uint32(14999761)",
 "process.source.firstLuminosityBlock": "customTypeCms.untracked.uint32(18073)",
 "process.source.numberEventsInLuminosityBlock": "customTypeCms.untracked.uint32(830)",
 "process.RAWSIMoutput.fileName": "customTypeCms.untracked.string(\"file:RAWSIMoutput.root\")",
 "process.LHEoutput.fileName": "customTypeCms.untracked.string(\"file:LHEoutput.root\")",
 "process.options.numberOfThreads": "customTypeCms.untracked.uint32(4)"}'
run_step 2 "$(ls "$psets"/PSet_cmsRun2_*.py)" '{
 "process.maxEvents": "customTypeCms.untracked.PSet(input=cms.untracked.int32(-1))",
 "process.source.fileNames": "customTypeCms.untracked.vstring([\"file:../step1/RAWSIMoutput.root\"])",
 "process.RAWSIMoutput.fileName": "customTypeCms.untracked.string(\"file:RAWSIMoutput.root\")",
 "process.options.numberOfThreads": "customTypeCms.untracked.uint32(4)"}'
log "done"
