# shellcheck shell=bash
# suite: POSIX semantics: error cases, link counts, ctime/mtime rules, permissions as nobody, sticky dirs, renames, hard links, EXDEV
#
# Suite a. posix.py runs each scenario first on a plain directory
# (MT_DIR/ref, not through the mount) and then through the mount; a failure
# line says what the plain directory gave. The mount uses
# --entry-timeout 0 --attr-timeout 0: with the kernel's attribute cache on,
# a stat right after an operation may show the kernel's cached times and
# link counts instead of the backing file's (that is the cache working as
# designed, not what this suite checks). -o allow_other lets nobody in.
# One suite again: mount-tests/run.sh posix.

suite_posix() {
    local other=$MT_DIR/other
    mt_note "mounted with --entry-timeout 0 --attr-timeout 0 (no kernel attribute cache) and -o allow_other"
    mt_mount posix --entry-timeout 0 --attr-timeout 0 -o allow_other || return 0
    mkdir -p "$MT_DIR/ref"
    # Another filesystem for EXDEV (a rename or link must not cross mounts).
    if ! mt_mount_tmpfs "$other" 4m; then
        mt_fail "mount a tmpfs for the EXDEV checks"
        mt_unmount
        return 0
    fi
    mt_py_checks python3 "$MT_HOME/posix.py" semantics "$MT_MNT" --ref "$MT_DIR/ref" --other "$other"
    mt_py_checks python3 "$MT_HOME/posix.py" times "$MT_MNT" --ref "$MT_DIR/ref"
    if command -v setpriv >/dev/null && id nobody >/dev/null 2>&1; then
        # nobody must be able to reach the mount: the scratch root is 0700.
        chmod o+x "$MT_ROOT" "$MT_DIR"
        mt_py_checks python3 "$MT_HOME/posix.py" perms "$MT_MNT" "$MT_SRC"
        mt_py_checks python3 "$MT_HOME/posix.py" setid "$MT_MNT" --ref "$MT_DIR/ref"
        if mt_have_control; then
            posix_control_as_nobody
        else
            mt_skip "control attributes as nobody (native target)"
        fi
        chmod o-x "$MT_ROOT" "$MT_DIR"
    else
        mt_skip "permissions as nobody: no setpriv or no user nobody"
    fi
    if [ "$(cd "$MT_MNT" && find . -mindepth 1 -printf '%y %m %s %U %P\n' | LC_ALL=C sort)" = \
        "$(cd "$MT_SRC" && find . -mindepth 1 -printf '%y %m %s %U %P\n' | LC_ALL=C sort)" ]; then
        mt_pass "the tree through the mount equals the backing tree (types, modes, sizes, owners)"
    else
        mt_fail "the tree through the mount differs from the backing tree"
    fi
    mt_umount_tmpfs "$other"
    mt_unmount
}

# posix_control_as_nobody: over a 0777 root, nobody may write the root (so
# the kernel passes its setxattr on) but may not steer the daemon: every
# control write is EPERM and changes nothing, reading `object` (daemon heap
# addresses) is EPERM, reading the statistics works. Root (the user who
# mounted) may do all of it.
posix_control_as_nobody() {
    local mnt=$MT_MNT name value before after out passes
    local as_nobody=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
    local mode
    mode=$(stat -c %a "$MT_SRC")
    chmod 0777 "$MT_SRC"
    echo plain >"$mnt/control-probe"
    passes=$(slabfs_stat counters.reclaimPasses)
    for pair in cache_size=4K eviction=lru migrate=off kernel_cache_limit=1 negative_limit=1 \
        entry_timeout=0.5 attr_timeout=0.5 cache_timeout=0 poll_us=0 readdir_cache=off reclaim=100000 compact=1; do
        name=${pair%%=*} value=${pair#*=}
        before=$(getfattr --only-values -n "user.slabfs.$name" "$mnt" 2>&1)
        if out=$("${as_nobody[@]}" setfattr -n "user.slabfs.$name" -v "$value" "$mnt" 2>&1); then
            mt_fail "as nobody: setfattr user.slabfs.$name=$value succeeded"
        elif [[ $out == *"Operation not permitted"* ]]; then
            mt_pass "as nobody: setfattr user.slabfs.$name=$value is EPERM"
        else
            mt_fail "as nobody: setfattr user.slabfs.$name=$value said '$out', want EPERM"
        fi
        after=$(getfattr --only-values -n "user.slabfs.$name" "$mnt" 2>&1)
        mt_check "as nobody: user.slabfs.$name unchanged after the refused write" test "$before" = "$after"
    done
    mt_check "as nobody: the refused reclaim and compact ran no pass" test "$passes" = "$(slabfs_stat counters.reclaimPasses)"
    if out=$("${as_nobody[@]}" getfattr --only-values -n user.slabfs.object "$mnt/control-probe" 2>&1); then
        mt_fail "as nobody: reading user.slabfs.object succeeded ($(head -c 80 <<<"$out"))"
    elif [[ $out == *"Operation not permitted"* ]]; then
        mt_pass "as nobody: reading user.slabfs.object is EPERM"
    else
        mt_fail "as nobody: reading user.slabfs.object said '$out', want EPERM"
    fi
    if "${as_nobody[@]}" getfattr --only-values -n user.slabfs.stats "$mnt" | grep -q '"counters"'; then
        mt_pass "as nobody: reading user.slabfs.stats works"
    else
        mt_fail "as nobody: reading user.slabfs.stats failed"
    fi
    # Root, the user who mounted here, may write and read them all.
    before=$(getfattr --only-values -n user.slabfs.negative_limit "$mnt")
    if setfattr -n user.slabfs.negative_limit -v 1234 "$mnt" &&
        [ "$(getfattr --only-values -n user.slabfs.negative_limit "$mnt")" = 1234 ]; then
        mt_pass "as root: setfattr user.slabfs.negative_limit works"
    else
        mt_fail "as root: setfattr user.slabfs.negative_limit did not take"
    fi
    setfattr -n user.slabfs.negative_limit -v "$before" "$mnt"
    if getfattr --only-values -n user.slabfs.object "$mnt/control-probe" | grep -q '"address"'; then
        mt_pass "as root: reading user.slabfs.object works"
    else
        mt_fail "as root: reading user.slabfs.object failed"
    fi
    rm -f "$mnt/control-probe"
    chmod "$mode" "$MT_SRC"
}
