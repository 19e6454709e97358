# shellcheck shell=bash
# mount-tests/lib.sh: the harness library, sourced by run.sh and by every
# suite. It knows how to mount slabfs over fresh scratch directories, how to
# wait for a mount, how to take it down again whatever happened, how to track
# the processes a suite starts, and how to count checks.
#
# Variables it reads (run.sh exports them; defaults make a suite runnable by
# hand after `source mount-tests/lib.sh`):
#   MT_TARGET   slabfs (default) or native: native runs the suites on a plain
#               directory, to check the suites themselves
#   SLABFS_BIN  the slabfs binary (release build)
#   MT_ROOT     scratch root of the whole run; each suite gets MT_ROOT/NAME
#   MT_SLABFS_ARGS  options added to every slabfs mount (word-split), e.g.
#               "--passthrough off" to run the suites with that setting
#   MT_HOME     this directory (for exerciser.py and the suites)
#
# Why the registry files: a suite runs in its own process group, and
# run.sh must be able to clean up after a suite that died or was killed.
# So every mount and every background process a suite starts is written to
# MT_DIR/mounts and MT_DIR/pids as it starts; cleanup reads those files.

MT_TARGET=${MT_TARGET:-slabfs}
MT_HOME=${MT_HOME:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
MT_PASSED=0
MT_FAILED=0
MT_SKIPPED=0

# ---------------------------------------------------------------- output

mt_log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*"; }
mt_note() { printf '    %s\n' "$*"; }

mt_pass() {
    MT_PASSED=$((MT_PASSED + 1))
    printf '  ok    %s\n' "$*"
}

mt_fail() {
    MT_FAILED=$((MT_FAILED + 1))
    printf '  FAIL  %s\n' "$*"
}

mt_skip() {
    MT_SKIPPED=$((MT_SKIPPED + 1))
    printf '  skip  %s\n' "$*"
}

# mt_check DESCRIPTION CMD...: runs CMD (output to a log file, shown on
# failure) and counts a pass if it exits 0. Safe under set -e: the status is
# taken by `if`, so a failing check never aborts the suite.
mt_check() {
    local desc=$1 out
    shift
    out=$(mt_tmpfile check)
    if "$@" >"$out" 2>&1; then
        mt_pass "$desc"
    else
        mt_fail "$desc (exit $?: $*)"
        mt_show "$out"
    fi
}

# mt_py_checks CMD...: runs a probe that prints "PASS what" / "FAIL what:
# why" lines (fsprobe.py) and counts each line as a check ("SKIP what: why"
# counts a skip; "NOTE text" is printed as a note, for figures). A probe that dies
# without saying FAIL (a traceback) is a failure too.
mt_py_checks() {
    local out line status=0 fails=0
    out=$(mt_tmpfile probe)
    "$@" >"$out" 2>&1 || status=$?
    while IFS= read -r line; do
        case $line in
            "PASS "*) mt_pass "${line#PASS }" ;;
            "FAIL "*) mt_fail "${line#FAIL }"; fails=$((fails + 1)) ;;
            "SKIP "*) mt_skip "${line#SKIP }" ;;
            "NOTE "*) mt_note "${line#NOTE }" ;;
        esac
    done <"$out"
    if [ "$status" -ne 0 ] && [ "$fails" -eq 0 ]; then
        mt_fail "$(basename "$2" 2>/dev/null) ${3:-}: exited with status $status"
        mt_show "$out"
    fi
}

# mt_show FILE [LINES]: the last lines of a log, indented, for a failure report.
mt_show() {
    [ -s "$1" ] || return 0
    tail -n "${2:-20}" "$1" | sed 's/^/      | /'
}

# A fresh file name under the suite's scratch directory.
mt_tmpfile() {
    MT_TMPSEQ=$((${MT_TMPSEQ:-0} + 1))
    printf '%s/tmp.%s.%d' "$MT_DIR" "$1" "$MT_TMPSEQ"
}

# ---------------------------------------------------------------- processes

# The start time (field 22 of /proc/PID/stat, in clock ticks since boot)
# identifies a process together with its pid: a recorded pid whose start time
# has changed was reused by someone else, and cleanup must not touch it.
mt_proc_start() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    # comm (field 2) may contain spaces and parentheses: cut after the last ')'.
    stat=${stat##*) }
    # shellcheck disable=SC2086 # split the remaining fields on purpose
    set -- $stat
    printf '%s\n' "${20}"
}

# mt_track PID: record a process this suite started (a daemon or a loop).
mt_track() {
    local start
    start=$(mt_proc_start "$1") || start=gone
    printf '%s %s\n' "$1" "$start" >>"$MT_DIR/pids"
}

# True while PID is the same process that was recorded with START.
mt_alive() {
    local now
    now=$(mt_proc_start "$1") || return 1
    [ "$2" = "any" ] || [ "$now" = "$2" ]
}

# True if PID has exited (gone, or a zombie not yet reaped).
mt_exited() {
    [ ! -e "/proc/$1" ] || [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]
}

# mt_stop PID: SIGTERM, wait up to 5 s, then SIGKILL. Only for our own pids.
# Reaps the process if it is our child, so the status is not left behind.
mt_stop() {
    local pid=$1 start=${2:-any} i
    mt_alive "$pid" "$start" || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        mt_alive "$pid" "$start" || break
        # A zombie child counts as exited.
        [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] && break
        sleep 0.1
    done
    if mt_alive "$pid" "$start" && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]; then
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

# ---------------------------------------------------------------- mounts

# /proc/self/mountinfo writes space, tab, newline and backslash in octal.
mt_mountinfo_escape() {
    local p=$1
    p=${p//\\/\\134}
    p=${p// /\\040}
    p=${p//$'\t'/\\011}
    p=${p//$'\n'/\\012}
    printf '%s' "$p"
}

# mt_mounted DIR [FSTYPE]: is something (of FSTYPE) mounted exactly on DIR?
# Reads /proc/self/mountinfo: field 5 is the mount point, the first field
# after " - " the filesystem type.
mt_mounted() {
    local escaped
    escaped=$(mt_mountinfo_escape "$1")
    awk -v mp="$escaped" -v want="${2:-}" '
        { for (i = 7; i <= NF; i++) if ($i == "-") break
          if ($5 == mp && (want == "" || $(i + 1) == want)) found = 1 }
        END { exit !found }' /proc/self/mountinfo
}

# Every mount point at or below DIR (for the final safety check).
mt_mounts_under() {
    local escaped
    escaped=$(mt_mountinfo_escape "$1")
    awk -v root="$escaped" '$5 == root || index($5, root "/") == 1 { print $5 }' /proc/self/mountinfo
}

# mt_mount NAME [SLABFS OPTIONS...]: a fresh backing directory
# MT_DIR/NAME.src mounted on MT_DIR/NAME.mnt. Sets MT_SRC, MT_MNT, MT_PID
# (the daemon's pid, empty on the native target) and MT_LOG (its stderr).
# The daemon runs with -f so that its pid is ours to track and to wait for.
# Returns non-zero (and counts a failure) if the mount does not appear.
mt_mount() {
    local name=$1 i
    shift
    MT_SRC=$MT_DIR/$name.src
    MT_LOG=$MT_DIR/$name.log
    MT_PID=
    mkdir -p "$MT_SRC"
    if [ "$MT_TARGET" = native ]; then
        # The suites work on MT_MNT and compare with MT_SRC: on a plain
        # directory both are the same place.
        MT_MNT=$MT_SRC
        return 0
    fi
    MT_MNT=$MT_DIR/$name.mnt
    mkdir -p "$MT_MNT"
    # Recorded before the daemon starts: if we are killed in between,
    # cleanup still tries to unmount.
    printf '%s\n' "$MT_MNT" >>"$MT_DIR/mounts"
    # shellcheck disable=SC2086 # MT_SLABFS_ARGS is a list of words
    "$SLABFS_BIN" "$MT_SRC" "$MT_MNT" -f ${MT_SLABFS_ARGS:-} "$@" </dev/null >"$MT_LOG" 2>&1 &
    MT_PID=$!
    mt_track "$MT_PID"
    printf '%s %s\n' "$MT_MNT" "$MT_PID" >>"$MT_DIR/daemons"
    # Poll mountinfo rather than sleeping: the mount is usually there in a
    # few milliseconds, and a daemon that died is noticed at once.
    for ((i = 0; i < 200; i++)); do
        if mt_mounted "$MT_MNT" fuse.slabfs; then
            return 0
        fi
        if ! kill -0 "$MT_PID" 2>/dev/null; then
            local status=0
            wait "$MT_PID" || status=$?
            mt_fail "mount $name: slabfs exited with status $status before mounting ($*)"
            mt_show "$MT_LOG"
            MT_PID=
            return 1
        fi
        sleep 0.05
    done
    mt_fail "mount $name: not mounted after 10 s ($*)"
    mt_show "$MT_LOG"
    return 1
}

# mt_mount_tmpfs DIR SIZE: a tmpfs of SIZE (4m) on DIR, recorded so that
# cleanup unmounts it however the suite ends (a second filesystem for EXDEV,
# a small backing directory that fills up). mt_umount_tmpfs DIR takes it down.
mt_mount_tmpfs() {
    mkdir -p "$1"
    printf '%s\n' "$1" >>"$MT_DIR/mounts"
    mount -t tmpfs -o "size=$2,mode=0755" tmpfs "$1"
}

mt_umount_tmpfs() {
    mt_mounted "$1" tmpfs && umount "$1" 2>/dev/null || umount -l "$1" 2>/dev/null || true
}

# mt_unmount [MNT [PID]]: unmount (fusermount3 -u, then -u -z if busy) and
# wait for the daemon to exit. Counts a pass if the daemon exits with status
# 0 by itself, a failure if it crashed, hung or left the mount behind.
# Defaults to the last mount (MT_MNT, MT_PID).
mt_unmount() {
    local mnt=${1:-$MT_MNT} pid=${2:-$MT_PID} status=0 i how=clean
    [ "$MT_TARGET" = native ] && return 0
    if mt_mounted "$mnt"; then
        if ! fusermount3 -u "$mnt" 2>"$MT_DIR/umount.err"; then
            how="lazy ($(head -c 200 "$MT_DIR/umount.err"))"
            fusermount3 -u -z "$mnt" 2>/dev/null || true
        fi
    fi
    if [ -n "$pid" ]; then
        # The daemon leaves its loop when the kernel closes the session.
        for ((i = 0; i < 100; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] && break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]; then
            how="daemon still running 10 s after unmount"
            mt_stop "$pid"
            status=hung
        else
            wait "$pid" || status=$?
        fi
    fi
    if mt_mounted "$mnt"; then
        mt_fail "unmount $mnt: still mounted"
        return 1
    fi
    if [ "$status" = 0 ] && [ "$how" = clean ]; then
        mt_pass "unmount $(basename "$mnt"): clean, daemon exit 0"
    else
        mt_fail "unmount $(basename "$mnt"): $how, daemon status $status"
        mt_show "${MT_LOG:-/dev/null}"
        return 1
    fi
}

# mt_cleanup_dir DIR: take down everything a suite recorded under DIR: its
# background processes first (so nothing holds the mounts busy), then its
# mounts, then its daemons, then the kernel settings it changed. Idempotent and safe to run from a trap, and by
# run.sh over a suite that died. Touches only recorded pids and mounts.
mt_cleanup_dir() {
    local dir=$1 pid start mnt
    if [ -f "$dir/pids" ]; then
        # Loops and workers first; daemons are stopped by unmounting.
        while read -r pid start; do
            grep -q " $pid\$" "$dir/daemons" 2>/dev/null && continue
            mt_stop "$pid" "$start"
        done <"$dir/pids"
    fi
    if [ -f "$dir/mounts" ]; then
        # Last mounted first (a slabfs mount over a tmpfs backing directory
        # goes before the tmpfs); umount -l for what is not FUSE (mt_mount_tmpfs).
        while read -r mnt; do
            if mt_mounted "$mnt"; then
                fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -u -z "$mnt" 2>/dev/null ||
                    umount -l "$mnt" 2>/dev/null || true
            fi
        done < <(tac "$dir/mounts")
    fi
    if [ -f "$dir/pids" ]; then
        while read -r pid start; do
            mt_stop "$pid" "$start"
        done <"$dir/pids"
    fi
    # Kernel settings a suite changed ("path value" lines): put back.
    if [ -f "$dir/sysctls" ]; then
        local path value
        while read -r path value; do
            printf '%s\n' "$value" >"$path" 2>/dev/null || true
        done < <(tac "$dir/sysctls")
    fi
}

# ---------------------------------------------------------------- background loops

# mt_loop NAME CMD...: run CMD over and over in the background until
# mt_loop_stop NAME. Each failing run is logged to MT_DIR/loop.NAME.errors
# (one line each), each run counted in MT_DIR/loop.NAME.runs, so that a
# suite can assert "no errors" and "it really ran".
mt_loop() {
    local name=$1
    shift
    : >"$MT_DIR/loop.$name.errors"
    : >"$MT_DIR/loop.$name.runs"
    rm -f "$MT_DIR/loop.$name.stop"
    (
        # The loop checks a stop file between runs: a kill alone could land
        # in the middle of a run and leave a half-done command behind.
        trap 'exit 0' TERM
        n=0
        while [ ! -e "$MT_DIR/loop.$name.stop" ]; do
            n=$((n + 1))
            if ! out=$("$@" 2>&1); then
                printf 'run %d: %s\n' "$n" "$(printf '%s' "$out" | head -n 3 | tr '\n' ' ')" \
                    >>"$MT_DIR/loop.$name.errors"
            fi
            printf '.' >>"$MT_DIR/loop.$name.runs"
        done
    ) </dev/null &
    local pid=$!
    mt_track "$pid"
    printf '%s\n' "$pid" >"$MT_DIR/loop.$name.pid"
}

# mt_loop_program NAME CMD...: like mt_loop, for a program that loops by
# itself: it is given --stop, --runs and --errors files and must stop when
# the stop file appears (fsprobe.py control-loop).
mt_loop_program() {
    local name=$1
    shift
    : >"$MT_DIR/loop.$name.errors"
    : >"$MT_DIR/loop.$name.runs"
    rm -f "$MT_DIR/loop.$name.stop"
    "$@" --stop "$MT_DIR/loop.$name.stop" --runs "$MT_DIR/loop.$name.runs" \
        --errors "$MT_DIR/loop.$name.errors" </dev/null >"$MT_DIR/loop.$name.out" 2>&1 &
    local pid=$!
    mt_track "$pid"
    printf '%s\n' "$pid" >"$MT_DIR/loop.$name.pid"
}

# mt_loop_stop NAME: ask the loop to stop, give it 10 s, then kill it.
mt_loop_stop() {
    local name=$1 pid i
    pid=$(cat "$MT_DIR/loop.$name.pid")
    : >"$MT_DIR/loop.$name.stop"
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    mt_stop "$pid"
    # Whatever a looping program printed (a traceback) is an error too.
    if [ -s "$MT_DIR/loop.$name.out" ]; then
        sed 's/^/output: /' "$MT_DIR/loop.$name.out" >>"$MT_DIR/loop.$name.errors"
    fi
    rm -f "$MT_DIR/loop.$name.out"
}

mt_loop_runs() { wc -c <"$MT_DIR/loop.$1.runs" | tr -d ' '; }
mt_loop_errors() { wc -l <"$MT_DIR/loop.$1.errors" | tr -d ' '; }

# mt_check_loop NAME MIN_RUNS [LABEL]: the loop ran at least MIN_RUNS times
# and never failed.
mt_check_loop() {
    local name=$1 min=$2 label=${3:+$3: } runs errors
    runs=$(mt_loop_runs "$name")
    errors=$(mt_loop_errors "$name")
    if [ "$errors" -eq 0 ] && [ "$runs" -ge "$min" ]; then
        mt_pass "${label}loop $name: $runs runs, no errors"
    else
        mt_fail "${label}loop $name: $runs runs (want >= $min), $errors errors"
        mt_show "$MT_DIR/loop.$name.errors" 5
    fi
}

# ---------------------------------------------------------------- workloads

# A seed for the exerciser: MT_SEED (to replay a whole run) plus an offset,
# or a random one. Printed by the exerciser as its first line either way.
mt_seed() {
    if [ -n "${MT_SEED:-}" ]; then
        printf '%d\n' $((MT_SEED + ${1:-0}))
    else
        printf '%d\n' $(((RANDOM << 15 | RANDOM) + 1))
    fi
}

# mt_exercise_start LABEL DIR BACKING [EXERCISER ARGS...]: start the
# exerciser in the background (log in MT_DIR/ex.LABEL.log); sets MT_EX_PID.
# mt_exercise_wait LABEL PID then counts its result. Two of them at once
# put two files' worth of requests on the daemon's threads concurrently.
mt_exercise_start() {
    local label=$1 dir=$2 backing=$3
    shift 3
    python3 "$MT_HOME/exerciser.py" "$dir" --backing "$backing" --ops "${MT_OPS:-30000}" "$@" \
        </dev/null >"$MT_DIR/ex.$label.log" 2>&1 &
    MT_EX_PID=$!
    mt_track "$MT_EX_PID"
}

mt_exercise_wait() {
    local label=$1 pid=$2 status=0 log=$MT_DIR/ex.$1.log
    wait "$pid" || status=$?
    if [ "$status" -eq 0 ] && grep -q '^exerciser: OK' "$log"; then
        mt_pass "exerciser $label: $(sed -n 's/^exerciser: \([0-9]* operations in [0-9.]* s\).*/\1/p' "$log" | head -n 1), $(sed -n 's/^exerciser: seed \([0-9]*\).*/seed \1/p' "$log")"
    else
        mt_fail "exerciser $label: status $status"
        grep -E '^exerciser: (seed|MISMATCH|ERROR|unsupported)|^    op |^Traceback|Error' "$log" | head -n 30 | sed 's/^/      | /'
    fi
}

# mt_exercise LABEL DIR BACKING [ARGS...]: one exerciser run in the foreground.
mt_exercise() {
    mt_exercise_start "$@"
    mt_exercise_wait "$1" "$MT_EX_PID"
}

# mt_tree_digest DIR: one hash over every entry's type, mode, size, name and
# file content below DIR, to compare a tree through the mount, in the
# backing directory, and across a remount.
mt_tree_digest() {
    (
        cd "$1" || exit 1
        find . -mindepth 1 -printf '%y %m %s %P\n' | LC_ALL=C sort
        find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum
    ) | sha256sum | cut -c1-16
}

# ---------------------------------------------------------------- slabfs control

# True when the target has slabfs's control xattrs (not the native target).
mt_have_control() { [ "$MT_TARGET" != native ]; }

# slabfs_stat KEY [MNT]: one field of the user.slabfs.stats JSON on the mount
# root; KEY is a dotted path (counters.pagesReclaimed, caches.0.name). The
# cache's statistics sit under "cache" in the daemon's JSON (MountStatistics);
# a path not found at the top is looked up there too, so both
# cache.counters.moves and counters.moves work.
# Read by bench/stats.py (the bench's reader too) with os.getxattr rather
# than getfattr: no name mangling, no escaping.
slabfs_stat() {
    MT_STATS_MNT=${2:-$MT_MNT} slabfs_stats "$1"
}

# slabfs_stats KEY...: several fields from one read, space-separated, in
# order (one snapshot, so counters compared with each other agree).
slabfs_stats() {
    python3 "$MT_HOME/bench/stats.py" get "${MT_STATS_MNT:-$MT_MNT}" "$@"
}

# slabfs_stats_json [MNT]: the whole statistics JSON, one line.
slabfs_stats_json() {
    python3 "$MT_HOME/bench/stats.py" json "${1:-$MT_MNT}"
}

# ---------------------------------------------------------------- suite life

# mt_suite_begin NAME: called in the suite's own process. Sets MT_DIR and the
# traps that take the suite's mounts and processes down however it ends.
mt_suite_begin() {
    MT_SUITE=$1
    MT_DIR=$MT_ROOT/$MT_SUITE
    mkdir -p "$MT_DIR"
    : >"$MT_DIR/pids"
    : >"$MT_DIR/mounts"
    : >"$MT_DIR/daemons"
    MT_SUITE_START=$SECONDS
    trap 'mt_suite_exit $?' EXIT
    # INT/TERM: exit through the EXIT trap (which cleans up), with the
    # conventional status.
    trap 'exit 130' INT
    trap 'exit 143' TERM
    mt_log "suite $MT_SUITE ($MT_TARGET)"
}

# The EXIT trap: a suite that aborted (set -e, a signal) still reports its
# counts, with the abort counted as a failure, and still cleans up.
mt_suite_exit() {
    local status=$1
    trap - EXIT INT TERM
    if [ "${MT_SUITE_DONE:-0}" != 1 ]; then
        mt_fail "suite $MT_SUITE aborted with status $status (see the output above)"
    fi
    # A daemon gone while its mount is still there crashed (or was killed):
    # say so plainly, with its log, before cleanup removes the stale mount.
    local mnt pid dstatus
    while read -r mnt pid; do
        if mt_mounted "$mnt" && mt_exited "$pid"; then
            dstatus=0
            wait "$pid" 2>/dev/null || dstatus=$?
            mt_fail "slabfs (pid $pid) on $(basename "$mnt") died while mounted, status $dstatus"
            mt_show "$MT_DIR/$(basename "$mnt" .mnt).log" 15
        fi
    done <"$MT_DIR/daemons"
    mt_cleanup_dir "$MT_DIR"
    printf '%s %s %s\n' "$MT_PASSED" "$MT_FAILED" "$MT_SKIPPED" >"$MT_DIR/result"
    local skipped=""
    [ "$MT_SKIPPED" -gt 0 ] && skipped=", $MT_SKIPPED skipped"
    printf '%s: %d passed, %d failed%s\n' "$MT_SUITE" "$MT_PASSED" "$MT_FAILED" "$skipped"
    mt_log "suite $MT_SUITE took $((SECONDS - MT_SUITE_START)) s"
    if [ "$MT_FAILED" -eq 0 ]; then exit 0; else exit 1; fi
}

mt_suite_end() { MT_SUITE_DONE=1; }
