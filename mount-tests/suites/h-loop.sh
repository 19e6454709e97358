# shellcheck shell=bash
# suite: the request loop: polling after replies, no spinning when idle, poll_us at run time, --poll-us 0, SIGTERM and unmount of an idle daemon
#
# The one-thread loop polls /dev/fuse for up to poll_us after a reply
# (Sources/SlabFS/RequestLoop.swift). What must hold: data is right whatever
# the bound (changed while requests run), an idle daemon sleeps (it does not
# spin without requests), and it leaves its loop on unmount and on SIGTERM.
# One suite again: mount-tests/run.sh loop.
#
# The polling check needs a steady stream of requests from one client: its
# mount serves reads and writes itself (--passthrough off) and has no event
# watcher competing for the core (--coherence timeouts). With both on, the
# workload's data never reaches the daemon and the gaps between its requests
# outgrow the window (CI: 1,049 caught against 3,419 woken, load-dependent).

LOOP_STREAM_ARGS=(--passthrough off --coherence timeouts)

suite_loop() {
    if [ "$MT_TARGET" = native ]; then
        mt_skip "the request loop (native target)"
        return 0
    fi
    mt_mount loop "${LOOP_STREAM_ARGS[@]}" || return 0
    loop_workload "polling (the default, 100 us)"
    local caught slept
    read -r caught slept < <(slabfs_stats requestLoop.caughtPolling requestLoop.afterSleep)
    # A sequential client's next request comes 10-20 us after a reply; most
    # are caught polling. Not all: the kernel's own pauses exceed the window.
    mt_check "polling: requests caught while polling ($caught) outnumber those that woke the daemon ($slept)" \
        test "$caught" -gt "$slept"
    loop_idle_cpu
    # poll_us changed while a workload runs: each idle period reads it.
    local bound changes=0
    (
        for bound in 0 1000 7 50 0 300 50; do
            setfattr -n user.slabfs.poll_us -v "$bound" "$MT_MNT" || exit 1
            sleep 0.1
        done
    ) &
    local toggler=$!
    loop_workload "poll_us changed while it ran"
    wait "$toggler" || changes=$?
    mt_check "poll_us set while requests ran (0, 1000, 7, 50, 0, 300, 50)" test "$changes" = 0
    mt_check "poll_us reads back the last value set" \
        test "$(getfattr --absolute-names --only-values -n user.slabfs.poll_us "$MT_MNT")" = 50
    mt_unmount

    mt_mount loop-nopoll "${LOOP_STREAM_ARGS[@]}" --poll-us 0 || return 0
    loop_workload "--poll-us 0 (never polls)"
    read -r caught slept < <(slabfs_stats requestLoop.caughtPolling requestLoop.afterSleep)
    mt_check "--poll-us 0: no request caught polling ($caught), every wait a sleep ($slept)" \
        test "$caught" = 0 -a "$slept" -gt 1000
    loop_idle_cpu
    mt_unmount

    # SIGTERM to an idle daemon: libfuse's handler ends the loop, which is
    # asleep in poll(2) by then (EINTR); the daemon unmounts and exits 0.
    mt_mount loop-term || return 0
    : >"$MT_MNT/touched"
    sleep 0.5
    kill -TERM "$MT_PID"
    local i status=0
    for ((i = 0; i < 100; i++)); do
        kill -0 "$MT_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$MT_PID" 2>/dev/null; then
        mt_fail "an idle daemon exits within 10 s of SIGTERM"
    else
        wait "$MT_PID" || status=$?
        mt_check "an idle daemon exits within 10 s of SIGTERM, with status 0 (it was $status)" test "$status" = 0
        mt_check "and the mount is gone" bash -c "! grep -qF ' $MT_MNT ' /proc/mounts"
        MT_PID=
    fi
    mt_unmount
}

# loop_workload WHAT: 300 files written, read back and compared, listed,
# renamed and removed through the mount.
loop_workload() {
    mt_check "$1: 300 files written, read back, listed, renamed, removed" python3 - "$MT_MNT" <<'PY'
import os, sys
root = os.path.join(sys.argv[1], "w")
os.makedirs(root, exist_ok=True)
names = [f"f{i}" for i in range(300)]
for i, name in enumerate(names):
    with open(os.path.join(root, name), "wb") as f:
        f.write(bytes([i % 251]) * (i * 37 % 9000))
for i, name in enumerate(names):
    with open(os.path.join(root, name), "rb") as f:
        data = f.read()
    assert data == bytes([i % 251]) * (i * 37 % 9000), name
assert sorted(os.listdir(root)) == sorted(names)
for name in names:
    os.rename(os.path.join(root, name), os.path.join(root, name + ".r"))
    assert os.lstat(os.path.join(root, name + ".r")).st_size >= 0
for name in names:
    os.unlink(os.path.join(root, name + ".r"))
os.rmdir(root)
PY
}

# loop_idle_cpu: with no requests the daemon sleeps: at most 0.2 s of CPU
# over 2 s idle (a thread that kept polling would use about 2 s). The
# kernel's own requests (none when idle) and the kernelDrops's ticks are noise.
loop_idle_cpu() {
    local before after ticks
    sleep 0.3
    before=$(loop_cpu_ticks "$MT_PID")
    sleep 2
    after=$(loop_cpu_ticks "$MT_PID")
    ticks=$((after - before))
    mt_check "idle for 2 s, the daemon used $ticks of at most 20 CPU ticks (it sleeps; it does not poll without requests)" \
        test "$ticks" -le 20
}

# loop_cpu_ticks PID: user + system clock ticks of every thread of PID.
loop_cpu_ticks() {
    local total=0 stat fields
    for stat in /proc/"$1"/task/*/stat; do
        fields=$(sed 's/.*) //' "$stat" 2>/dev/null) || continue
        # shellcheck disable=SC2086
        set -- $fields
        total=$((total + ${12} + ${13}))
    done
    echo "$total"
}
