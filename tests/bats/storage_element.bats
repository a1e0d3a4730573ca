#!/usr/bin/env bats
# The storage element helpers and the /bin/sh switch, as bats tests use them.

load helpers/paths
load helpers/xrootd

WITH_BIN_SH="$REPO_ROOT/tests/tools/with_bin_sh"

teardown() {
    xrootd_stop
}

@test "xrootd_start serves xrdcp copies" {
    xrootd_start
    printf abc >"$BATS_TEST_TMPDIR/abc"

    xrdcp --nopbar "$BATS_TEST_TMPDIR/abc" "root://127.0.0.1:$XROOTD_PORT//store/bats/abc"

    [ "$(cat "$XROOTD_EXPORT/store/bats/abc")" = abc ]
    run xrdfs "127.0.0.1:$XROOTD_PORT" query checksum /store/bats/abc
    [ "$status" -eq 0 ]
    [ "$output" = "adler32 024d0127" ]
}

@test "xrootd_stop ends the server by PID" {
    xrootd_start
    local pid=$XROOTD_PID

    xrootd_stop

    # Gone, or a zombie that only waits for its parent to reap it.
    local state
    state=$(ps -o stat= -p "$pid" || true)
    [ -z "$state" ] || [[ "$state" == Z* ]]
}

@test "siteconf_make exports SITECONFIG_PATH" {
    xrootd_start

    siteconf_make "$BATS_TEST_TMPDIR/siteconf"

    [ "$SITECONFIG_PATH" = "$BATS_TEST_TMPDIR/siteconf" ]
    grep -q "root://127.0.0.1:$XROOTD_PORT/" "$SITECONFIG_PATH/storage.json"
    grep -q 'command="xrdcp"' "$SITECONFIG_PATH/JobConfig/site-local-config.xml"
}

@test "with_bin_sh bash runs /bin/sh as bash" {
    run "$WITH_BIN_SH" bash sh -c '[ a == a ] && echo "$BASH_VERSION"'
    [ "$status" -eq 0 ]
    [ -n "$output" ]
}

@test "with_bin_sh dash runs /bin/sh as dash" {
    run "$WITH_BIN_SH" dash sh -c '[ a == a ]'
    [ "$status" -eq 2 ]
    [[ "$output" == *"unexpected operator"* ]]
}

@test "with_bin_sh keeps the command's exit status" {
    run "$WITH_BIN_SH" bash sh -c 'exit 7'
    [ "$status" -eq 7 ]
}

@test "with_bin_sh leaves the host's /bin/sh alone" {
    local before
    before=$(readlink -f /bin/sh)

    "$WITH_BIN_SH" bash true

    [ "$(readlink -f /bin/sh)" = "$before" ]
}

@test "with_bin_sh rejects an unknown shell" {
    run "$WITH_BIN_SH" zsh true
    [ "$status" -eq 2 ]
    [ "$output" = "with_bin_sh: invalid shell 'zsh': give bash or dash" ]
}
