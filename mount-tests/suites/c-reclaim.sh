# shellcheck shell=bash
# suite: data integrity while reclaim and compaction run without pause (small cache, drop_caches, tree walker)
#
# Suite c. The same exerciser as suite b, on a mount whose cache
# budget is far below what the workload needs, while background loops
#   - write user.slabfs.reclaim (64 pages) and user.slabfs.compact (1) every
#     few milliseconds,
#   - drop the kernel's dentries and inodes every second (FORGETs arrive,
#     kernel-held objects become reclaimable),
#   - walk a tree of 3,000 files whose contents are their own paths (a name
#     resolving to the wrong inode after a move shows at once),
# and stress-ng's dentry and rename stressors add churn of their own.
# Then: no corruption, no errors in any loop, and the statistics show that
# pages really were reclaimed, objects evicted and (with migration) moved.
# Once per policy: page+migrate (the default), page alone, lru.

RECLAIM_CACHE_SIZE=${RECLAIM_CACHE_SIZE:-256K}
RECLAIM_DIRS=30
RECLAIM_FILES=100

suite_reclaim() {
    reclaim_run page-migrate --eviction page --migrate on
    reclaim_run page --eviction page --migrate off
    reclaim_run lru --eviction lru
    reclaim_explicit
}

# reclaim_explicit: an explicit reclaim frees what it asks for when it is
# free to take, though every object was just used: 20,000 files created and
# stat'ed through the mount, the kernel made to let go (drop_caches), then
# one write of user.slabfs.reclaim asking for more pages than the cache
# holds frees at least 90% of them in that one call. On a second tree, a
# few pages are asked for and freed (unreferenced objects go first).
reclaim_explicit() {
    [ "$MT_TARGET" = native ] && { mt_skip "explicit reclaim: slabfs's own (native target)"; return 0; }
    mt_mount explicit --cache-size 1G || return 0
    python3 - "$MT_MNT" <<'PY'
import os, sys
root = sys.argv[1]
for d in range(20):
    os.makedirs(os.path.join(root, "d%d" % d))
    for i in range(1000):
        open(os.path.join(root, "d%d" % d, "f%d" % i), "w").close()
for d in range(20):
    for i in range(1000):
        os.stat(os.path.join(root, "d%d" % d, "f%d" % i))
PY
    local held i pages freed
    for ((i = 0; i < 100; i++)); do
        echo 2 >/proc/sys/vm/drop_caches
        held=$(slabfs_stat kernelHeldInodes)
        [ "$held" -lt 100 ] && break
        sleep 0.1
    done
    pages=$(slabfs_stat residentPages)
    setfattr -n user.slabfs.reclaim -v 1000000 "$MT_MNT"
    freed=$(python3 -c 'import json, os, sys; print(json.loads(os.getxattr(sys.argv[1], "user.slabfs.reclaim"))["pagesFreed"])' "$MT_MNT")
    mt_check "explicit: one reclaim of 1,000,000 pages freed $freed of $pages resident pages (at least 90%; the kernel held $held)" \
        test $((freed * 10)) -ge $((pages * 9))
    # All of a tree just used, nothing held: a few pages are still freed.
    python3 -c 'import os, sys
for i in range(3000): open(os.path.join(sys.argv[1], "g%d" % i), "w").close()
for i in range(3000): os.stat(os.path.join(sys.argv[1], "g%d" % i))' "$MT_MNT"
    echo 2 >/proc/sys/vm/drop_caches
    sleep 0.5
    setfattr -n user.slabfs.reclaim -v 4 "$MT_MNT"
    freed=$(python3 -c 'import json, os, sys; print(json.loads(os.getxattr(sys.argv[1], "user.slabfs.reclaim"))["pagesFreed"])' "$MT_MNT")
    mt_check "explicit: a reclaim of 4 pages of a tree just used freed $freed (at least 1)" test "$freed" -ge 1
    mt_unmount
}

# The loops' bodies. Each returns non-zero on a problem; mt_loop logs it.
# (The reclaim/compact loop is fsprobe.py control-loop: a process start per
# setfattr would pace it at 10-20 ms on a busy machine, not 3.)

reclaim_drop_once() {
    echo 2 >/proc/sys/vm/drop_caches
    sleep 1
}

reclaim_walk_once() {
    local tree=$MT_MNT/tree now
    now=$(mt_tmpfile walk)
    # find stats every entry: names, types and sizes must not change.
    find "$tree" -mindepth 1 -printf '%y %s %P\n' | LC_ALL=C sort >"$now"
    if ! cmp -s "$now" "$MT_DIR/tree.expected"; then
        echo "find listing differs: $(diff "$MT_DIR/tree.expected" "$now" | head -n 4 | tr '\n' ' ')"
        rm -f "$now"
        return 1
    fi
    rm -f "$now"
    # And every file's content is its own path.
    python3 "$MT_HOME/fsprobe.py" tree-verify "$tree" --expect $((RECLAIM_DIRS * RECLAIM_FILES))
}

# Stats counters compared before and after a run.
RECLAIM_KEYS=(counters.pagesReclaimed counters.moves counters.evictedInodes counters.evictedDentries counters.reclaimPasses counters.kernelDropsRequested)

reclaim_stats() { slabfs_stats "${RECLAIM_KEYS[@]}"; }

reclaim_run() {
    local label=$1 before after i name pid_a pid_b stress_pid=
    shift
    mt_log "reclaim: $label ($*), cache size $RECLAIM_CACHE_SIZE"
    # Several request threads: reclaim runs while requests run on more than one.
    mt_mount "$label" --cache-size "$RECLAIM_CACHE_SIZE" --threads 4 "$@" || return 0

    python3 "$MT_HOME/fsprobe.py" tree-create "$MT_MNT/tree" --dirs "$RECLAIM_DIRS" --files "$RECLAIM_FILES" >/dev/null
    find "$MT_MNT/tree" -mindepth 1 -printf '%y %s %P\n' | LC_ALL=C sort >"$MT_DIR/tree.expected"
    mt_check "$label: tree of $((RECLAIM_DIRS * RECLAIM_FILES)) files created and verified" \
        python3 "$MT_HOME/fsprobe.py" tree-verify "$MT_MNT/tree" --expect $((RECLAIM_DIRS * RECLAIM_FILES))

    if mt_have_control; then
        read -r -a before <<<"$(reclaim_stats)"
        mt_loop_program control python3 "$MT_HOME/fsprobe.py" control-loop "$MT_MNT" --pages 64 --interval-ms 3
    fi
    if [ -w /proc/sys/vm/drop_caches ]; then
        mt_loop drop reclaim_drop_once
    fi
    mt_loop walk reclaim_walk_once
    if command -v stress-ng >/dev/null; then
        mkdir -p "$MT_MNT/stress"
        stress-ng --dentry 1 --rename 1 --timeout 15s --temp-path "$MT_MNT/stress" \
            </dev/null >"$MT_DIR/stress.$label.log" 2>&1 &
        stress_pid=$!
        mt_track "$stress_pid"
    fi

    mt_exercise_start "$label-a" "$MT_MNT/ex-a" "$MT_SRC/ex-a" --seed "$(mt_seed 11)"
    pid_a=$MT_EX_PID
    mt_exercise_start "$label-b" "$MT_MNT/ex-b" "$MT_SRC/ex-b" --seed "$(mt_seed 12)" --files 48 --max-size 64K
    pid_b=$MT_EX_PID
    mt_exercise_wait "$label-a" "$pid_a"
    mt_exercise_wait "$label-b" "$pid_b"

    if [ -n "$stress_pid" ]; then
        local status=0
        wait "$stress_pid" || status=$?
        if [ "$status" -eq 0 ]; then
            mt_pass "$label: stress-ng dentry and rename alongside"
        else
            mt_fail "$label: stress-ng dentry and rename alongside: status $status"
            grep -iE 'fail|error' "$MT_DIR/stress.$label.log" | head -n 5 | sed 's/^/      | /'
        fi
    fi

    # Stop the loops; each must have run, and never failed.
    mt_loop_stop walk
    mt_check_loop walk 2 "$label"
    if [ -w /proc/sys/vm/drop_caches ]; then
        mt_loop_stop drop
        mt_check_loop drop 3 "$label"
    else
        mt_skip "$label: /proc/sys/vm/drop_caches is not writable (not root?)"
    fi
    mt_check "$label: the tree is intact after the churn" reclaim_walk_once

    if mt_have_control; then
        mt_loop_stop control
        mt_check_loop control 500 "$label"
        read -r -a after <<<"$(reclaim_stats)"
        local summary=""
        for i in "${!RECLAIM_KEYS[@]}"; do
            name=${RECLAIM_KEYS[$i]#counters.}
            summary+="$name +$((after[i] - before[i])) "
        done
        mt_note "$label: $summary"
        reclaim_expect "$label" pagesReclaimed $((after[0] - before[0]))
        reclaim_expect "$label" "evicted inodes + dentries" $((after[2] - before[2] + after[3] - before[3]))
        if [ "$label" = page-migrate ]; then
            reclaim_expect "$label" moves $((after[1] - before[1]))
        fi
        mt_check "$label: the mount root still answers user.slabfs.slabinfo" \
            getfattr --absolute-names -n user.slabfs.slabinfo "$MT_MNT"
    else
        mt_skip "$label: reclaim control and statistics (native target)"
    fi
    mt_unmount
}

reclaim_expect() {
    if [ "$3" -gt 0 ]; then
        mt_pass "$1: $2 went up by $3"
    else
        mt_fail "$1: $2 did not go up"
    fi
}
