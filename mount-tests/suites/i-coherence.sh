# shellcheck shell=bash
# suite: coherence: changes made behind the mount seen through fanotify events with the default (hour-long) timeouts, lost events (a queue overflow), a backing directory that cannot be watched
#
# events:   2,000 files primed through the mount (kernel and daemon hold
#           them), then every one changed in the backing directory (append,
#           chmod, rename, unlink, create, overwrite, a directory made and
#           one removed): within 1 s the mount shows exactly the new tree.
# overflow: the fanotify queue limit lowered to 64 before mounting (the
#           group keeps the limit it was made with; the sysctl is restored
#           right after, and by the suite's cleanup whatever happens), then
#           50,000 files changed behind the mount: events are lost, the
#           overflow counter says so, and still no change is lost.
# fallback: slabfs over another slabfs mount (FUSE: no events to watch)
#           falls back to timeouts and says so in its log and stats;
#           --coherence events refuses to mount there, with one line.

suite_coherence() {
    if [ "$MT_TARGET" = native ]; then
        mt_skip "coherence: slabfs's own (native target)"
        return 0
    fi
    coherence_events
    coherence_overflow
    coherence_fallback
}

# coherence_require_events: the mount just made uses events, or says why not.
coherence_require_events() {
    local mode
    mode=$(slabfs_stat coherence.mode)
    if [ "$mode" = events ]; then
        mt_pass "$1: coherence is events (entry timeout $(slabfs_stat configuration.entry_timeout) s, cache timeout $(slabfs_stat configuration.cache_timeout) s)"
        return 0
    fi
    mt_fail "$1: coherence is $mode: $(slabfs_stat coherence.reason)"
    return 1
}

# coherence_churn FILES DIRS WITHIN WHAT: FILES files in DIRS directories,
# primed through the mount, every one changed behind it; the mount must show
# exactly the new tree within WITHIN seconds.
coherence_churn() {
    python3 "$MT_HOME/coherence.py" populate "$MT_SRC" --files "$1" --dirs "$2"
    mt_py_checks python3 "$MT_HOME/coherence.py" prime "$MT_MNT"
    mt_py_checks python3 "$MT_HOME/coherence.py" churn "$MT_SRC" --round 1
    mt_py_checks python3 "$MT_HOME/coherence.py" compare "$MT_MNT" "$MT_SRC" --within "$3" --what "$4"
}

coherence_events() {
    mt_mount events || return 0
    if coherence_require_events events; then
        coherence_churn 2000 20 1 "events: 2,000 files changed behind the mount"
        mt_note "$(slabfs_stats coherence.events coherence.namesInvalidated coherence.nodesInvalidated coherence.kernelNotifications |
            awk '{printf "events %s, names invalidated %s, nodes %s, kernel notifications %s", $1, $2, $3, $4}')"
    fi
    mt_unmount
}

coherence_overflow() {
    local queue=/proc/sys/fs/fanotify/max_queued_events original overflows
    original=$(cat "$queue")
    printf '%s %s\n' "$queue" "$original" >>"$MT_DIR/sysctls"
    echo 64 >"$queue"
    mt_mount overflow
    local mounted=$?
    echo "$original" >"$queue"
    mt_check "overflow: max_queued_events restored to $original" test "$(cat "$queue")" = "$original"
    [ "$mounted" -eq 0 ] || return 0
    if coherence_require_events overflow; then
        coherence_churn 50000 100 30 "overflow: 50,000 files changed behind the mount"
        overflows=$(slabfs_stat coherence.overflows)
        if [ "$overflows" -gt 0 ]; then
            mt_pass "overflow: events were lost $overflows times and everything cached was made stale ($(slabfs_stat coherence.epochBumps) kernel epoch bumps)"
        else
            mt_fail "overflow: no overflow counted with a queue of 64 events"
        fi
    fi
    mt_unmount
}

coherence_fallback() {
    local lower upper_log status out
    mt_mount lower || return 0
    lower=$MT_MNT
    local lower_pid=$MT_PID
    echo "through two mounts" >"$lower/file"
    # The upper mount's backing directory is the lower mount.
    ln -s "$lower" "$MT_DIR/upper.src"
    if mt_mount upper; then
        upper_log=$MT_LOG
        if [ "$(slabfs_stat coherence.mode)" = timeouts ]; then
            mt_pass "fallback: over a FUSE mount, coherence is timeouts ($(slabfs_stat coherence.reason))"
        else
            mt_fail "fallback: over a FUSE mount, coherence is $(slabfs_stat coherence.mode)"
        fi
        mt_check "fallback: the daemon says so once in its log" test "$(grep -c 'coherence: timeouts' "$upper_log")" = 1
        mt_check "fallback: timeouts keep their defaults" test "$(slabfs_stat configuration.entry_timeout)" = 1.0
        mt_check "fallback: the file reads through both mounts" grep -q "through two mounts" "$MT_MNT/file"
        mt_unmount
    fi
    mkdir -p "$MT_DIR/refused.mnt"
    out=$(timeout 20 "$SLABFS_BIN" "$lower" "$MT_DIR/refused.mnt" -f --coherence events 2>&1) && status=0 || status=$?
    if [ "$status" -ne 0 ] && [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] && [[ $out == *"--coherence events: cannot watch"* ]]; then
        mt_pass "fallback: --coherence events refuses to mount over FUSE: $out"
    else
        mt_fail "fallback: --coherence events over FUSE: status $status, said '$out'"
    fi
    mt_check "fallback: nothing was mounted" test "$(mt_mounted "$MT_DIR/refused.mnt" && echo yes)" = ""
    mt_unmount "$lower" "$lower_pid"
}
