# shellcheck shell=bash
# Activate the local site, the simulated grid worker node: source it from bash.
#
# Exports VO_CMS_SW_DIR (the simulated /cvmfs/cms.cern.ch) and LOCAL_SITE_PYTHON (keeps a value that
# is already set, else python3 from PATH), and prepares runtime/ (py3-future). SITECONFIG_PATH is left
# as it is. Returns non-zero, after a message on stderr, when runtime/ cannot be prepared.

local_site_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export VO_CMS_SW_DIR="$local_site_dir/cms.cern.ch"
if [ -z "${LOCAL_SITE_PYTHON:-}" ]; then
    LOCAL_SITE_PYTHON=$(command -v python3)
fi
export LOCAL_SITE_PYTHON
if ! "$local_site_dir/prepare_runtime.sh" >/dev/null; then
    unset local_site_dir
    return 1
fi
unset local_site_dir
