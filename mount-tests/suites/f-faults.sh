# shellcheck shell=bash
# suite: faults: the daemon SIGKILLed under a write load (fsync'ed files survive a remount), the backing dir changed behind the mount, a full backing filesystem
#
# Suite f (faults.py does the file work).
#   kill:   a writer writes files and fsyncs every third, logging each
#           fsync'ed name to a file outside the mount; slabfs is killed with
#           SIGKILL mid-load; the stale mount is removed (fusermount3 -u -z)
#           and the same backing directory mounted again: every logged file
#           is intact, through the new mount and in the backing directory.
#   behind: files removed, renamed, replaced, grown, chmod'ed and created
#           directly in the backing directory, a dir replaced by a file: with
#           the default coherence (events, hour-long timeouts) the mount
#           shows exactly the new state after 1 s; with --coherence timeouts
#           and 1 s timeouts, after 1.5 s.
#   full:   the backing directory is a 4 MiB tmpfs: a write past its end
#           fails with ENOSPC, what was written before is intact, and writes
#           work again once space is freed.

suite_faults() {
    faults_kill
    faults_behind
    faults_full
}

faults_kill() {
    local mnt src pid log=$MT_DIR/fsynced.log wpid status=0 i
    if [ "$MT_TARGET" = native ]; then
        mt_skip "kill: no daemon to kill on the native target"
        return 0
    fi
    mt_mount kill || return 0
    mnt=$MT_MNT src=$MT_SRC pid=$MT_PID
    : >"$log"
    python3 "$MT_HOME/faults.py" writer "$mnt/w" "$log" </dev/null >"$MT_DIR/writer.out" 2>&1 &
    wpid=$!
    mt_track "$wpid"
    # Kill once a good number of files are fsync'ed (or after 5 s).
    for ((i = 0; i < 50; i++)); do
        [ "$(wc -l <"$log")" -ge 60 ] && break
        sleep 0.1
    done
    kill -KILL "$pid"
    { wait "$pid"; } 2>/dev/null || status=$?
    mt_note "slabfs killed with SIGKILL (status $status) after $(wc -l <"$log") fsync'ed files"
    # The writer stops at its first error (ENOTCONN); give it 10 s.
    for ((i = 0; i < 100; i++)); do
        mt_exited "$wpid" && break
        sleep 0.1
    done
    if mt_exited "$wpid"; then
        wait "$wpid" 2>/dev/null || true
        mt_pass "kill: the writer stopped: $(cat "$MT_DIR/writer.out")"
    else
        mt_fail "kill: the writer hangs 10 s after the daemon was killed"
        mt_stop "$wpid"
    fi
    # The killed daemon is expected gone: not a crash for the suite's report.
    sed -i "\\| $pid\$|d" "$MT_DIR/daemons"
    if fusermount3 -u -z "$mnt" && ! mt_mounted "$mnt"; then
        mt_pass "kill: the stale mount is removed with fusermount3 -u -z"
    else
        mt_fail "kill: the stale mount could not be removed"
        return 0
    fi
    mt_mount kill || return 0
    mt_py_checks python3 "$MT_HOME/faults.py" verify-log "$MT_MNT/w" "$log"
    mt_py_checks python3 "$MT_HOME/faults.py" verify-log "$src/w" "$log"
    if [ "$(mt_tree_digest "$MT_MNT")" = "$(mt_tree_digest "$src")" ]; then
        mt_pass "kill: after the remount the tree through the mount equals the backing tree"
    else
        mt_fail "kill: after the remount the tree through the mount differs from the backing tree"
    fi
    mt_unmount
}

faults_behind() {
    faults_behind_with 1 behind-events
    faults_behind_with 1.5 behind-timeouts --coherence timeouts --entry-timeout 1 --attr-timeout 1 --cache-timeout 1
}

# faults_behind_with WAIT NAME MOUNT-OPTIONS...: the behind-the-mount
# changes, checked WAIT seconds after they were made.
faults_behind_with() {
    local wait=$1 name=$2
    shift 2
    mt_mount "$name" "$@" || return 0
    if [ "$MT_TARGET" != native ]; then
        mt_note "$name: coherence $(slabfs_stat coherence.mode), entry timeout $(slabfs_stat configuration.entry_timeout) s, cache timeout $(slabfs_stat configuration.cache_timeout) s"
    fi
    mt_py_checks python3 "$MT_HOME/faults.py" behind-setup "$MT_MNT"
    python3 "$MT_HOME/faults.py" behind-change "$MT_SRC"
    sleep "$wait"
    mt_py_checks python3 "$MT_HOME/faults.py" behind-check "$MT_MNT" "$MT_SRC"
    mt_unmount
}

faults_full() {
    local src=$MT_DIR/full.src
    if ! mt_mount_tmpfs "$src" 4m; then
        mt_fail "full: mount a 4 MiB tmpfs as the backing directory"
        return 0
    fi
    if mt_mount full; then
        mt_py_checks python3 "$MT_HOME/faults.py" fill "$MT_MNT" "$MT_SRC"
        mt_unmount
    fi
    mt_umount_tmpfs "$src"
}
