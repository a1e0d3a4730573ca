# shellcheck shell=bash
# COMP py3-future of the local site: source it from bash. Puts the `future` and `past` packages,
# which WMCore imports, on PYTHONPATH. They are copied from the project's virtual environment into
# samples/local_site/runtime/py3-future on first use (prepare_runtime.sh).
py3_future_site=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../../../../../.." && pwd -P)
if PY3_FUTURE_ROOT=$("$py3_future_site/prepare_runtime.sh"); then
    export PY3_FUTURE_ROOT
    case ":${PYTHONPATH:-}:" in
        *":$PY3_FUTURE_ROOT:"*) ;;
        *) export PYTHONPATH="$PY3_FUTURE_ROOT${PYTHONPATH:+:$PYTHONPATH}" ;;
    esac
    unset py3_future_site
else
    unset py3_future_site
    return 1
fi
