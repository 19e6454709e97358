# shellcheck shell=bash
# suite: data integrity: the random-operation exerciser against a model, fio --verify, a remount
#
# Suite b. Every byte read through the mount is checked against an
# in-memory model (exerciser.py), and at the end against the backing files
# read directly; fio checks its own checksummed blocks. Replay a failing
# exerciser run with the seed it printed:
#   python3 mount-tests/exerciser.py DIR --seed N

suite_data() {
    mt_mount data --threads 4 || return 0
    local mnt=$MT_MNT src=$MT_SRC pid_a pid_b before after status

    # The checker must catch a corruption before we trust its "OK": flip one
    # byte behind the model's back near the end of a fixed-seed run.
    python3 "$MT_HOME/exerciser.py" "$mnt/selftest" --backing "$src/selftest" --seed 1 \
        --ops 2000 --corrupt-at 1999 >"$MT_DIR/selftest.log" 2>&1 && status=0 || status=$?
    if [ "$status" -eq 1 ] && grep -q 'MISMATCH' "$MT_DIR/selftest.log"; then
        mt_pass "exerciser self-test: an injected corruption is reported ($(grep -o 'file [^:]*' "$MT_DIR/selftest.log" | head -n 1))"
    else
        mt_fail "exerciser self-test: injected corruption not reported (status $status)"
        mt_show "$MT_DIR/selftest.log"
    fi
    rm -rf "$mnt/selftest"

    # One exerciser alone, then two at once on different directories (the
    # daemon's threads serve both, and their inodes share the slabs).
    mt_exercise single "$mnt/ex1" "$src/ex1" --seed "$(mt_seed 1)"
    mt_exercise_start parallel-a "$mnt/ex2" "$src/ex2" --seed "$(mt_seed 2)"
    pid_a=$MT_EX_PID
    mt_exercise_start parallel-b "$mnt/ex3" "$src/ex3" --seed "$(mt_seed 3)" --files 48 --max-size 64K
    pid_b=$MT_EX_PID
    mt_exercise_wait parallel-a "$pid_a"
    mt_exercise_wait parallel-b "$pid_b"

    data_fio "$mnt"

    # What the mount shows is what the backing directory holds, and a new
    # daemon over the same directory shows the same again.
    before=$(mt_tree_digest "$mnt")
    if [ "$before" = "$(mt_tree_digest "$src")" ]; then
        mt_pass "tree through the mount equals the backing tree ($before)"
    else
        mt_fail "tree through the mount differs from the backing tree"
    fi
    mt_unmount "$mnt" "$MT_PID"
    if mt_mount data; then
        after=$(mt_tree_digest "$MT_MNT")
        if [ "$before" = "$after" ]; then
            mt_pass "after a remount the tree is unchanged ($after)"
        else
            mt_fail "after a remount the tree changed: $before -> $after"
        fi
        mt_unmount
    fi

    # Again with the kernel caching nothing (every lookup and getattr comes
    # to the daemon) and the LRU policy: other paths through the cache.
    if mt_mount nocache --entry-timeout 0 --attr-timeout 0 --eviction lru; then
        mt_exercise no-kernel-cache "$MT_MNT/ex" "$MT_SRC/ex" --seed "$(mt_seed 4)"
        mt_unmount
    fi

    # Two processes, two users: nobody reads and writes every file through
    # descriptors of its own while the exerciser's own process writes,
    # truncates and maps them (with passthrough on, every open of an inode
    # shares one backing file; the data suite also runs with it off).
    if ! command -v setpriv >/dev/null || ! id nobody >/dev/null 2>&1; then
        mt_skip "exerciser with a second user: no setpriv or no user nobody"
    elif mt_mount shared -o allow_other; then
        chmod o+x "$MT_ROOT" "$MT_DIR"
        mt_exercise two-users "$MT_MNT/ex" "$MT_SRC/ex" --seed "$(mt_seed 5)" --other-user nobody
        chmod o-x "$MT_ROOT" "$MT_DIR"
        mt_unmount
    fi
}

# fio with checksummed blocks: it writes, reads back and verifies itself.
# Each job is a few seconds; together well under a minute.
data_fio() {
    local mnt=$1 label args status out
    if ! command -v fio >/dev/null; then
        mt_fail "fio is not installed (apt-get install -y fio)"
        return 0
    fi
    mkdir -p "$mnt/fio"
    while IFS='|' read -r label args; do
        out=$(mt_tmpfile fio)
        # shellcheck disable=SC2086 # args is a list of fio options
        (cd "$MT_DIR" && timeout 120 fio --directory="$mnt/fio" --verify_fatal=1 --do_verify=1 \
            --verify_state_save=0 --group_reporting $args) >"$out" 2>&1 && status=0 || status=$?
        if [ "$status" -eq 0 ] && grep -q 'err= 0' "$out" && ! grep -qiE 'verify: bad|crc32c: verify failed|md5: verify failed|sha256: verify failed' "$out"; then
            mt_pass "fio $label"
        else
            mt_fail "fio $label: status $status"
            grep -iE 'verify|err=|error|fio:' "$out" | head -n 10 | sed 's/^/      | /'
        fi
        rm -f "$mnt"/fio/*
    done <<'EOF'
randrw 4k crc32c, 2 jobs|--name=verify --rw=randrw --bs=4k --size=32m --numjobs=2 --verify=crc32c
random write 512-64k md5 through mmap|--name=mmap --ioengine=mmap --rw=randwrite --bsrange=512-64k --size=32m --verify=md5
sequential write 1m sha256 with fsync|--name=seq --rw=write --bs=1m --size=64m --fsync=8 --verify=sha256
randrw 4k crc32c O_DIRECT|--name=direct --rw=randrw --bs=4k --size=16m --direct=1 --verify=crc32c
EOF
    rmdir "$mnt/fio"
}
