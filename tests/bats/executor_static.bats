#!/usr/bin/env bats
# Static checks of the worker shell scripts: bash 4.2 (EL7) features only, no exit above 255.

setup() {
    load helpers/paths
}

# Print lines of ep_scripts/*.sh that match an extended regular expression, without comments.
matching_lines() {
    grep -nE "$1" "$REPO_ROOT"/ep_scripts/*.sh | grep -vE '^[^:]+:[0-9]+:[[:space:]]*#' || true
}

@test "worker scripts avoid bash 4.3+ features" {
    local pattern
    for pattern in 'declare -n|local -n|typeset -n' '\$\{[A-Za-z_][A-Za-z0-9_]*@[QEPAa]\}' 'wait -n' \
        '(mapfile|readarray) .*-d' '\[-[0-9]+\]' 'local -$|local - ' 'inherit_errexit' \
        'EPOCHSECONDS|EPOCHREALTIME' 'BASH_ARGV0'; do
        echo "pattern: $pattern"
        [ -z "$(matching_lines "$pattern")" ]
    done
}

@test "worker scripts exit below 256" {
    local line code
    while IFS= read -r line; do
        code=$(sed -E 's/.*exit[[:space:]]+([0-9]+).*/\1/' <<<"$line")
        echo "$line"
        [ "$code" -le 255 ]
    done < <(matching_lines '\bexit[[:space:]]+[0-9]+')
}

# Under set -u, bash before 4.4 fails on "${a[@]}" when the array is empty; ${a[@]+"${a[@]}"} works.
@test "worker scripts expand arrays safely" {
    local unsafe
    unsafe=$(matching_lines '"\$\{[A-Za-z_][A-Za-z0-9_]*\[@\]\}"' | grep -v '\[@\]+' || true)
    echo "$unsafe"
    [ -z "$unsafe" ]
}

@test "worker scripts pass shellcheck" {
    run shellcheck --external-sources "$REPO_ROOT"/ep_scripts/*.sh
    echo "$output"
    [ "$status" -eq 0 ]
}
