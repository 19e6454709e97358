# shellcheck shell=bash
# suite: slabfs stats --format prometheus on a busy mount, parsed by prometheus_client and checked against user.slabfs.stats; --output for node_exporter's textfile collector
#
# mount-tests/metrics.py does the work (a worker thread keeps the mount
# busy while it reads). It runs under Debian's /usr/bin/python3, whose
# python3-prometheus-client scripts/packages.sh installs: a python3 earlier
# on PATH (a virtualenv) may not have it.

suite_metrics() {
    if [ "$MT_TARGET" = native ]; then
        mt_skip "metrics (native target)"
        return 0
    fi
    if ! /usr/bin/python3 -c 'import prometheus_client' 2>/dev/null; then
        mt_fail "python3-prometheus-client is not installed (apt-get install -y python3-prometheus-client)"
        return 0
    fi
    # A small budget, so that reclaim runs and its counters move too.
    mt_mount metrics --cache-size 512K || return 0
    mt_py_checks /usr/bin/python3 "$MT_HOME/metrics.py" busy "$MT_MNT" --slabfs "$SLABFS_BIN"
    mt_py_checks /usr/bin/python3 "$MT_HOME/metrics.py" idle "$MT_MNT" --slabfs "$SLABFS_BIN"
    mkdir -p "$MT_DIR/textfile"
    mt_py_checks /usr/bin/python3 "$MT_HOME/metrics.py" output "$MT_MNT" --slabfs "$SLABFS_BIN" --dir "$MT_DIR/textfile"
    mt_unmount
}
