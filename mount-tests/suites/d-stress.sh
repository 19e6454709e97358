# shellcheck shell=bash
# suite: stress-ng's filesystem stressors with --verify, one at a time, on one mount
#
# Suite d. Each stressor runs alone for STRESS_SECONDS (3) with
# --verify, so that a failure names its stressor. stress-ng's exit status:
# 0 passed; 3 (no resource) and 4 (not implemented), or a "skipping" line,
# mean stress-ng skipped it, which is counted as skipped, not failed;
# anything else is a failure. If the daemon dies, the failure is counted and
# the rest run on a fresh mount, so that one crash does not hide the others.
#
# Left out on purpose: bind-mount and binderfs (they mount things
# themselves), procfs and verity (not about the filesystem under test).
# One stressor again: mount-tests/run.sh stress, with STRESSORS="dentry".

STRESS_SECONDS=${STRESS_SECONDS:-3}
STRESSORS=${STRESSORS:-"access chattr chdir chmod chown copy-file dentry dir dirdeep dirmany dnotify
    fallocate fanotify fcntl fiemap file-ioctl filename flock fpunch fsize fstat getdent handle hdd
    inode-flags inotify io iomix lease link locka lockf lockofd mknod open rename seek symlink sync-file
    touch utime xattr"}

suite_stress() {
    local s out status mnt left
    if ! command -v stress-ng >/dev/null; then
        mt_fail "stress-ng is not installed (apt-get install -y stress-ng)"
        return 0
    fi
    mt_note "$(stress-ng --version)"
    mt_mount stress --threads 4 || return 0
    for s in $STRESSORS; do
        mnt=$MT_MNT
        mkdir -p "$mnt/stress"
        out=$(mt_tmpfile "stress-$s")
        # timeout: a stressor hung on the filesystem must not hang the run;
        # -k: stress-ng forwards SIGTERM to its workers, but may not get them all.
        timeout -k 10 $((STRESS_SECONDS + 60)) stress-ng "--$s" 1 --timeout "${STRESS_SECONDS}s" --verify \
            --temp-path "$mnt/stress" --metrics-brief --hdd-bytes 16m </dev/null >"$out" 2>&1 \
            && status=0 || status=$?
        if [ "$status" -eq 0 ] && ! grep -qiE 'skipping|not supported|not implemented' "$out"; then
            mt_pass "stress-ng $s"
        elif [ "$status" -eq 0 ] || [ "$status" -eq 3 ] || [ "$status" -eq 4 ]; then
            mt_skip "stress-ng $s: $(grep -iE 'skipping|not supported|not implemented|out of system resources' "$out" | head -n 1 | sed 's/^stress-ng: [a-z]*: *\[[0-9]*\] //')"
        elif [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
            mt_fail "stress-ng $s: still running $((STRESS_SECONDS + 60)) s after it should have stopped"
            mt_show "$out" 10
        else
            mt_fail "stress-ng $s: exit status $status"
            grep -iE 'fail|error|verif|warn' "$out" | head -n 8 | sed 's/^/      | /'
        fi
        stress_check_alive "$s" || return 0
        # stress-ng removes its temporary directories; a leftover means an
        # unlink or rmdir that said yes and did nothing.
        left=$(find "$mnt/stress" -mindepth 1 -maxdepth 1 -printf '%f ' 2>/dev/null | head -c 200)
        if [ -n "$left" ]; then
            mt_fail "stress-ng $s: left files behind: $left"
            rm -rf "${mnt:?}/stress"
        fi
    done
    mt_check "the backing directory matches the mount after the stressors" \
        diff -r "$MT_MNT" "$MT_SRC"
    mt_unmount
}

# stress_check_alive NAME: the daemon must survive every stressor. If it
# died, count it, show its log, and carry on with a fresh mount.
stress_check_alive() {
    [ "$MT_TARGET" = native ] && return 0
    if kill -0 "$MT_PID" 2>/dev/null && stat "$MT_MNT/." >/dev/null 2>&1 && mt_mounted "$MT_MNT" fuse.slabfs; then
        return 0
    fi
    mt_fail "slabfs died or stopped answering during stress-ng $1"
    mt_show "$MT_LOG" 15
    mt_cleanup_dir "$MT_DIR"
    mt_mount "stress-after-$1"
}
