#!/usr/bin/env bash
# shellcheck disable=SC2329 # the stage functions are called through run_stage
# Run every check of the project: static checks, pytest and bats. Installs what it needs first
# (scripts/setup_env.sh). Every stage runs even after an earlier one failed. The exit status is
# non-zero when any stage failed, and a summary of the stages ends the output.
set -o nounset -o pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 1
# shellcheck source=scripts/setup_env.sh
. scripts/setup_env.sh || exit 1

# Python that runs on grid worker nodes (3.6, standard library) or is loaded by their tools.
worker_python=(ep_scripts src/python/micro_agent/postjob.py samples/local_site)

declare -a stage_names=() stage_results=()

run_stage() {
    local name=$1
    shift
    echo
    echo "======== $name ========"
    "$@"
    local status=$?
    stage_names+=("$name")
    if [ "$status" -eq 0 ]; then
        stage_results+=("passed")
    else
        stage_results+=("FAILED (exit status $status)")
    fi
}

list_shell_scripts() {
    git ls-files --cached --others --exclude-standard -z |
        while IFS= read -r -d '' file; do
            [ -f "$file" ] || continue
            case "$file" in
                *.bats) continue ;;
                *.sh | *.bash) printf '%s\0' "$file" ;;
                *) head -n 1 "$file" 2>/dev/null | grep -qE '^#!.*\b(ba)?sh\b' && printf '%s\0' "$file" ;;
            esac
        done
}

check_shell() {
    list_shell_scripts | xargs -0 --no-run-if-empty shellcheck --external-sources
}

check_worker_python_version() {
    local targets=()
    local path
    for path in "${worker_python[@]}"; do
        [ -e "$path" ] && targets+=("$path")
    done
    [ "${#targets[@]}" -gt 0 ] || return 0
    vermin --no-tips --violations --target=3.6- --exclude-regex '/runtime/' "${targets[@]}"
}

check_submit_python_version() {
    vermin --no-tips --violations --target=3.9- --exclude-regex 'postjob\.py$' src/python
}

run_pytest() {
    python -m pytest -q -p no:cacheprovider tests/python
}

run_bats() {
    local files=(tests/bats/*.bats)
    [ -e "${files[0]}" ] || { echo "no bats files"; return 0; }
    bats --print-output-on-failure "${files[@]}"
}

run_stage "shellcheck" check_shell
run_stage "vermin (worker side, Python 3.6)" check_worker_python_version
run_stage "vermin (submit side, Python 3.9)" check_submit_python_version
run_stage "ruff" ruff check --quiet .
run_stage "pytest" run_pytest
run_stage "bats" run_bats

echo
echo "======== summary ========"
failed=0
for i in "${!stage_names[@]}"; do
    printf '%-36s %s\n' "${stage_names[$i]}" "${stage_results[$i]}"
    [ "${stage_results[$i]}" = passed ] || failed=1
done
exit "$failed"
