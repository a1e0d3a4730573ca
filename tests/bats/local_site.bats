#!/usr/bin/env bats
# The local site's shell side: cmsset_default.sh, scram and the COMP python, sourced as
# worker-node scripts source them (bash, `set -u`).

load helpers/local_site

setup() {
    local_site_activate
    cd "$BATS_TEST_TMPDIR" || return 1
}

@test "cmsset_default.sh puts scram on PATH under set -u" {
    run bash -c 'set -o nounset; unset CMS_PATH; . "$VO_CMS_SW_DIR/cmsset_default.sh"; command -v scram'
    [ "$status" -eq 0 ]
    [ "$output" = "$VO_CMS_SW_DIR/common/scram" ]
}

@test "cmsset_default.sh sets CMS_PATH" {
    run bash -c 'set -o nounset; . "$VO_CMS_SW_DIR/cmsset_default.sh"; echo "$CMS_PATH"'
    [ "$output" = "$VO_CMS_SW_DIR" ]
}

@test "scram arch prints SCRAM_ARCH" {
    SCRAM_ARCH=el9_amd64_gcc11 run "$VO_CMS_SW_DIR/common/scram" arch
    [ "$output" = el9_amd64_gcc11 ]
}

@test "scram project and runtime under set -u" {
    run bash -c 'set -o nounset -o errexit
        . "$VO_CMS_SW_DIR/cmsset_default.sh"
        export SCRAM_ARCH=slc7_amd64_gcc700
        scram project CMSSW_10_6_47
        cd CMSSW_10_6_47/src
        eval "$(scram runtime -sh)"
        echo "$CMSSW_VERSION $SCRAM_ARCH $CMSSW_BASE"
        command -v cmsRun edm_pset_pickler.py'
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "CMSSW_10_6_47 slc7_amd64_gcc700 $BATS_TEST_TMPDIR/CMSSW_10_6_47" ]
    [ "${lines[1]}" = "$VO_CMS_SW_DIR/cmssw-sim/bin/cmsRun" ]
    [ "${lines[2]}" = "$VO_CMS_SW_DIR/cmssw-sim/bin/edm_pset_pickler.py" ]
}

@test "scram runtime puts FWCore on PYTHONPATH" {
    "$VO_CMS_SW_DIR/common/scram" -a slc7_amd64_gcc630 project CMSSW CMSSW_9_4_14_UL_patch1
    cd CMSSW_9_4_14_UL_patch1
    eval "$("$VO_CMS_SW_DIR/common/scram" runtime -sh)"
    run python3 -c 'import FWCore.ParameterSet.Config as cms; print(cms.untracked.uint32(4))'
    [ "$output" = "cms.untracked.uint32(4)" ]
}

@test "scram runtime replaces an earlier release" {
    "$VO_CMS_SW_DIR/common/scram" -a slc7_amd64_gcc700 project CMSSW_10_6_47
    "$VO_CMS_SW_DIR/common/scram" -a el8_amd64_gcc10 project CMSSW_12_4_14_patch3
    cd CMSSW_10_6_47
    eval "$("$VO_CMS_SW_DIR/common/scram" runtime -sh)"
    cd ../CMSSW_12_4_14_patch3
    eval "$("$VO_CMS_SW_DIR/common/scram" runtime -sh)"
    [ "$CMSSW_VERSION" = CMSSW_12_4_14_patch3 ]
    [[ ":$PATH:" != *":$BATS_TEST_TMPDIR/CMSSW_10_6_47/bin/slc7_amd64_gcc700:"* ]]
}

@test "scram project rejects an unlisted release" {
    SCRAM_ARCH=slc7_amd64_gcc700 run "$VO_CMS_SW_DIR/common/scram" project CMSSW_10_6_99
    [ "$status" -ne 0 ]
    [[ "$output" == *'"CMSSW_10_6_99"'*'"slc7_amd64_gcc700"'* ]]
    [ ! -e CMSSW_10_6_99 ]
}

@test "scram project rejects a listed release on another architecture" {
    run "$VO_CMS_SW_DIR/common/scram" -a el9_amd64_gcc11 project CMSSW_10_6_47
    [ "$status" -ne 0 ]
    [[ "$output" == *'"CMSSW_10_6_47"'*'"el9_amd64_gcc11"'* ]]
    [[ "$output" == *"slc7_amd64_gcc700"* ]]
}

@test "scram project leaves no staging directory on failure" {
    run "$VO_CMS_SW_DIR/common/scram" -a el9_amd64_gcc11 project CMSSW_10_6_47
    run ls -A
    [ "$output" = "" ]
}

@test "scram project refuses an existing directory" {
    mkdir CMSSW_13_0_17
    run "$VO_CMS_SW_DIR/common/scram" -a el9_amd64_gcc11 project CMSSW_13_0_17
    [ "$status" -ne 0 ]
    [[ "$output" == *"already exists"* ]]
}

@test "scram runtime fails outside a release area" {
    run "$VO_CMS_SW_DIR/common/scram" runtime -sh
    [ "$status" -ne 0 ]
    [[ "$output" == *"not inside a release area"* ]]
}

@test "COMP python3 runs LOCAL_SITE_PYTHON" {
    local expected os_name
    expected=$("$LOCAL_SITE_PYTHON" -c 'import sys; print(sys.version_info[:2])')
    for os_name in rhel7 rhel8 rhel9; do
        run bash -c '. "$1/etc/profile.d/init.sh" && python3 -c "import sys; print(sys.version_info[:2])"' _ \
            "$VO_CMS_SW_DIR/COMP/${os_name}_$(uname -m)/external/python3/3.8.2"
        [ "$output" = "$expected" ]
    done
}

@test "COMP py3-future makes future importable" {
    run bash -c 'set -o nounset
        . "$VO_CMS_SW_DIR/COMP/rhel7_$(uname -m)/external/python3/3.8.2/etc/profile.d/init.sh"
        . "$VO_CMS_SW_DIR/COMP/rhel7_$(uname -m)/py3-future/0.18.2/etc/profile.d/init.sh"
        python3 -c "import future, past; from future.utils import viewitems; print(future.__file__)"'
    [ "$status" -eq 0 ]
    [ "$output" = "$LOCAL_SITE_DIR/runtime/py3-future/future/__init__.py" ]
}

@test "cmsRun --help says it is a simulator" {
    run "$VO_CMS_SW_DIR/cmssw-sim/bin/cmsRun" --help
    [ "$status" -eq 0 ]
    [[ "$output" == *SIMULATOR* ]]
}
