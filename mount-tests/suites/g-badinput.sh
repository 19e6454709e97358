# shellcheck shell=bash
# suite: bad input: every byte in names, name length limits, a 200-level tree, invalid control xattrs and options
#
# Suite g (the part about names, depth, control xattrs and the
# command line). Names travel as bytes from the kernel to the backing
# directory and back: any decoding on the way (a String that repairs
# invalid UTF-8) shows up here.

suite_badinput() {
    mt_mount badinput || return 0
    mt_py_checks python3 "$MT_HOME/fsprobe.py" byte-names "$MT_MNT" "$MT_SRC"
    mt_py_checks python3 "$MT_HOME/fsprobe.py" long-names "$MT_MNT" "$MT_SRC"
    mt_py_checks python3 "$MT_HOME/fsprobe.py" deep-tree "$MT_MNT" "$MT_SRC" --levels 200
    if mt_have_control; then
        badinput_xattrs
    else
        mt_skip "invalid control xattrs (native target)"
    fi
    mt_unmount
    if [ "$MT_TARGET" = native ]; then
        mt_skip "invalid command-line options (native target)"
    else
        badinput_options
    fi
}

# badinput_setfattr_fails WHAT MESSAGE SETFATTR-ARGS...: setfattr must fail
# and say MESSAGE (strerror of the errno: EINVAL is "Invalid argument").
badinput_setfattr_fails() {
    local what=$1 want=$2 out status
    shift 2
    out=$(setfattr "$@" 2>&1) && status=0 || status=$?
    if [ "$status" -ne 0 ] && [[ $out == *"$want"* ]]; then
        mt_pass "$what: refused (${out##*: })"
    else
        mt_fail "$what: status $status, said '$out', want a failure with '$want'"
    fi
}

badinput_xattrs() {
    local mnt=$MT_MNT before after file=$MT_MNT/plain
    echo plain >"$file"
    before=$(slabfs_stat counters.reclaimPasses)
    badinput_setfattr_fails "reclaim=abc" "Invalid argument" -n user.slabfs.reclaim -v abc "$mnt"
    badinput_setfattr_fails "reclaim=-5" "Invalid argument" -n user.slabfs.reclaim -v -5 "$mnt"
    badinput_setfattr_fails "reclaim=0" "Invalid argument" -n user.slabfs.reclaim -v 0 "$mnt"
    badinput_setfattr_fails "reclaim=(empty)" "Invalid argument" -n user.slabfs.reclaim -v '' "$mnt"
    badinput_setfattr_fails "reclaim=12abc" "Invalid argument" -n user.slabfs.reclaim -v 12abc "$mnt"
    badinput_setfattr_fails "reclaim=1.5" "Invalid argument" -n user.slabfs.reclaim -v 1.5 "$mnt"
    badinput_setfattr_fails "reclaim=0x10" "Invalid argument" -n user.slabfs.reclaim -v 0x10 "$mnt"
    badinput_setfattr_fails "reclaim=99999999999999999999999 (overflow)" "Invalid argument" \
        -n user.slabfs.reclaim -v 99999999999999999999999 "$mnt"
    badinput_setfattr_fails "compact=2" "Invalid argument" -n user.slabfs.compact -v 2 "$mnt"
    badinput_setfattr_fails "compact=yes" "Invalid argument" -n user.slabfs.compact -v yes "$mnt"
    badinput_setfattr_fails "readdir_cache=yes" "Invalid argument" -n user.slabfs.readdir_cache -v yes "$mnt"
    badinput_setfattr_fails "set user.slabfs.nonsense" "Invalid argument" -n user.slabfs.nonsense -v 1 "$mnt"
    badinput_setfattr_fails "set user.slabfs.stats (read-only)" "Invalid argument" -n user.slabfs.stats -v 1 "$mnt"
    badinput_setfattr_fails "set user.slabfs.slabinfo (read-only)" "Invalid argument" -n user.slabfs.slabinfo -v 1 "$mnt"
    badinput_setfattr_fails "set user.slabfs.reclaim on a file, not the root" "Invalid argument" \
        -n user.slabfs.reclaim -v 64 "$file"
    badinput_setfattr_fails "remove user.slabfs.reclaim" "" -x user.slabfs.reclaim "$mnt"
    after=$(slabfs_stat counters.reclaimPasses)
    if [ "$before" = "$after" ]; then
        mt_pass "refused values changed nothing (reclaimPasses still $after)"
    else
        mt_fail "refused values ran reclaim: reclaimPasses $before -> $after"
    fi

    local out
    out=$(getfattr --absolute-names -n user.slabfs.nonsense "$mnt" 2>&1) && status=0 || status=$?
    if [ "$status" -ne 0 ] && [[ $out == *"No such attribute"* ]]; then
        mt_pass "get user.slabfs.nonsense: ENODATA"
    else
        mt_fail "get user.slabfs.nonsense: status $status, '$out'"
    fi
    # Reserved names never reach a backing file.
    setfattr -n user.slabfs.stats -v x "$file" 2>/dev/null || true
    if getfattr --absolute-names -d -m 'user\.slabfs\.' "$MT_SRC/plain" 2>/dev/null | grep -q slabfs; then
        mt_fail "a user.slabfs. name reached the backing file"
    else
        mt_pass "user.slabfs. names never reach a backing file"
    fi
    # The good values still work, and so does the mount.
    mt_check "reclaim=64 accepted" setfattr -n user.slabfs.reclaim -v 64 "$mnt"
    mt_check "compact=1 accepted" setfattr -n user.slabfs.compact -v 1 "$mnt"
    mt_check "stats are valid JSON" slabfs_stat counters.reclaimPasses
    mt_check "the mount still works" grep -qx plain "$file"
    rm -f "$file"
}

# badinput_option_fails WHAT ARGS...: slabfs with these arguments must exit
# non-zero within 20 s, print one line, and leave nothing mounted.
badinput_option_fails() {
    local what=$1 mnt=$MT_DIR/opt.mnt src=$MT_DIR/opt.src out status lines
    shift
    mkdir -p "$mnt" "$src"
    printf '%s\n' "$mnt" >>"$MT_DIR/mounts"  # cleanup unmounts it if it did mount
    out=$(mt_tmpfile opt)
    # Without -f, as a user would type it: a bad option must be refused
    # before the daemon forks.
    timeout 20 "$SLABFS_BIN" "$@" </dev/null >"$out" 2>&1 && status=0 || status=$?
    lines=$(wc -l <"$out")
    if mt_mounted "$mnt"; then
        mt_fail "$what: it mounted"
        fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -u -z "$mnt" 2>/dev/null || true
    elif [ "$status" -eq 0 ] || [ "$status" -eq 124 ]; then
        mt_fail "$what: exit status $status, want non-zero"
    elif [ "$lines" -ne 1 ]; then
        mt_fail "$what: $lines lines of output, want one"
        mt_show "$out" 5
    else
        mt_pass "$what: exit $status, '$(head -c 150 "$out")'"
    fi
}

badinput_options() {
    local src=$MT_DIR/opt.src mnt=$MT_DIR/opt.mnt
    mkdir -p "$src" "$mnt"
    badinput_option_fails "--cache-size 12Q" "$src" "$mnt" --cache-size 12Q
    badinput_option_fails "--cache-size -1M" "$src" "$mnt" --cache-size -1M
    badinput_option_fails "--cache-size 0" "$src" "$mnt" --cache-size 0
    badinput_option_fails "--cache-size 2T (over the 1 TiB cap)" "$src" "$mnt" --cache-size 2048G
    badinput_option_fails "--eviction fifo" "$src" "$mnt" --eviction fifo
    badinput_option_fails "--migrate maybe" "$src" "$mnt" --migrate maybe
    badinput_option_fails "--readdir-cache 1" "$src" "$mnt" --readdir-cache 1
    badinput_option_fails "--page-size 5000" "$src" "$mnt" --page-size 5000
    badinput_option_fails "--entry-timeout -1" "$src" "$mnt" --entry-timeout -1
    badinput_option_fails "--attr-timeout abc" "$src" "$mnt" --attr-timeout abc
    badinput_option_fails "--cache-timeout -5" "$src" "$mnt" --cache-timeout -5
    badinput_option_fails "-o cache_size=12Q" "$src" "$mnt" -o cache_size=12Q
    badinput_option_fails "-o nonsense_option" "$src" "$mnt" -o nonsense_option
    badinput_option_fails "--no-such-flag" "$src" "$mnt" --no-such-flag
    badinput_option_fails "no mountpoint" "$src"
    badinput_option_fails "a source that does not exist" "$MT_DIR/no-such-dir" "$mnt"
    badinput_option_fails "a mountpoint that does not exist" "$src" "$MT_DIR/no-such-dir"
    : >"$MT_DIR/a-file"
    badinput_option_fails "a source that is a file" "$MT_DIR/a-file" "$mnt"
}
