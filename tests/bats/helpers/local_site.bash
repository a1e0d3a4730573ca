# shellcheck shell=bash
# The local site (simulated CMSSW worker node) for bats tests.
# Load with `load helpers/local_site`, then call local_site_activate in setup or in a test.

# shellcheck source=tests/bats/helpers/paths.bash
. "$BATS_TEST_DIRNAME/helpers/paths.bash"
LOCAL_SITE_DIR="$REPO_ROOT/samples/local_site"
export LOCAL_SITE_DIR

# Export VO_CMS_SW_DIR and LOCAL_SITE_PYTHON and prepare runtime/ (see samples/local_site/activate.sh).
local_site_activate() {
    # shellcheck source=samples/local_site/activate.sh
    . "$LOCAL_SITE_DIR/activate.sh"
}
