# shellcheck shell=bash
# Paths that bats tests share. Load with: load helpers/paths
REPO_ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
REAL_REQUEST_DIR="$REPO_ROOT/../shared/data/real/SMP-RunIISummer20UL17pp5TeVwmLHEGS-00007"
export REPO_ROOT REAL_REQUEST_DIR
