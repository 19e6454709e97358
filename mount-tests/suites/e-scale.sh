# shellcheck shell=bash
# suite: scale: 200,000 files in 200 dirs created, listed, stat'ed cold and warm, removed; RSS per cached entry, descriptors
#
# Suite e. scale.py creates SCALE_DIRS x SCALE_FILES files through
# the mount, lists them, stats them twice with drop_caches (2: dentries and
# inodes) between the rounds, and removes them, printing each phase's time.
# On slabfs it reads user.slabfs.stats after each phase and checks, at the
# peak, daemon RSS / (cache.inodes + cache.dentries) below
# SCALE_MAX_RSS_PER_ENTRY bytes (a loose bound; the benchmark,
# mount-tests/bench.sh, owns the tight 192 B target), and samples the
# daemon's descriptor count (/proc/PID/fd) every 0.1 s: below 100
# throughout. --cache-size 256M holds every entry.

SCALE_DIRS=${SCALE_DIRS:-200}
SCALE_FILES=${SCALE_FILES:-1000}
SCALE_MAX_RSS_PER_ENTRY=${SCALE_MAX_RSS_PER_ENTRY:-400}

suite_scale() {
    local args=()
    mt_mount scale --cache-size 256M || return 0
    [ -n "$MT_PID" ] && args=(--pid "$MT_PID")
    mt_py_checks python3 "$MT_HOME/scale.py" "$MT_MNT" "$MT_SRC" "${args[@]}" \
        --dirs "$SCALE_DIRS" --files "$SCALE_FILES" --max-rss-per-entry "$SCALE_MAX_RSS_PER_ENTRY" --max-fds 100
    mt_unmount
}
