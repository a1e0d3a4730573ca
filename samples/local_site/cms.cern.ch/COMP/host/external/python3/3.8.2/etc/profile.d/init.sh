# shellcheck shell=bash
# COMP python3 of the local site: source it from bash. Puts a python3 on PATH that runs
# $LOCAL_SITE_PYTHON (default: the next python3 on PATH).
PYTHON3_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export PYTHON3_ROOT
case ":${PATH:-}:" in
    *":$PYTHON3_ROOT/bin:"*) ;;
    *) export PATH="$PYTHON3_ROOT/bin${PATH:+:$PATH}" ;;
esac
