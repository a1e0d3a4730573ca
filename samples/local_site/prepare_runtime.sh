#!/bin/bash
# Prepare samples/local_site/runtime/, the git-ignored part of the local site, and print the
# directory that contains the `future` and `past` packages (the COMP py3-future of the local site).
#
# The packages are copied once from the `future` installed in the project's .venv (or, without
# .venv, in the first python3 on PATH). The copy is made in a temporary directory and renamed into
# place, so concurrent first uses never see a half-copied tree.
set -o nounset -o pipefail

site=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
runtime="$site/runtime"
target="$runtime/py3-future"

log() {
    echo "[local_site] $*" >&2
}

if [ -f "$target/future/__init__.py" ] && [ -f "$target/past/__init__.py" ]; then
    echo "$target"
    exit 0
fi

source_python=python3
if [ -x "$site/../../.venv/bin/python" ]; then
    source_python="$site/../../.venv/bin/python"
fi
future_parent=$("$source_python" -c 'import os, future; print(os.path.dirname(os.path.dirname(future.__file__)))' 2>/dev/null)
if [ -z "$future_parent" ] || [ ! -d "$future_parent/past" ]; then
    log "the Python package 'future' is not installed for $source_python; run: . scripts/setup_env.sh"
    exit 1
fi

mkdir -p "$runtime" || { log "cannot create $runtime"; exit 1; }
staging=$(mktemp -d "$runtime/.py3-future.XXXXXX") || { log "cannot create a directory in $runtime"; exit 1; }
if ! cp -R "$future_parent/future" "$future_parent/past" "$staging/"; then
    rm -rf "$staging"
    log "cannot copy future and past from $future_parent into $runtime"
    exit 1
fi
find "$staging" -name __pycache__ -type d -prune -exec rm -rf {} +
chmod 755 "$staging"
# Another process may have renamed its copy into place first; then this copy is not needed.
if ! mv -T "$staging" "$target" 2>/dev/null; then
    rm -rf "$staging"
fi
if [ ! -f "$target/future/__init__.py" ]; then
    log "cannot create $target"
    exit 1
fi
echo "$target"
