# shellcheck shell=bash
# cmsset_default.sh of the local site, which simulates /cvmfs/cms.cern.ch: source it from bash.
# Puts common/ (scram) first on PATH, exports CMS_PATH, and defines cmsenv and cmsrel.
# Works under `set -u`; sourcing it twice leaves PATH with one copy of common/.

cmsset_site_root=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export CMS_PATH="$cmsset_site_root"
case ":${PATH:-}:" in
    *":$cmsset_site_root/common:"*) ;;
    *) export PATH="$cmsset_site_root/common${PATH:+:$PATH}" ;;
esac
unset cmsset_site_root

cmsenv() {
    local exports
    exports=$(scram runtime -sh) || return
    eval "$exports"
}

cmsrel() {
    scram project CMSSW "$@"
}
