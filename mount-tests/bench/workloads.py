"""The bench's workloads (mount-tests/bench.sh, driver.py): the tree of N
files in NDIRS directories, the timed phases of the main comparison and the
large round (run_phases: create, stat warm/again/cold, list twice,
open+close, 4 KiB write+read, unlink), and the Zipf(1.0) sequences of the
reclaim and memory-pressure parts. Standard library only."""

import bisect
import contextlib
import math
import os
import random
import time

from daemons import cpu_seconds, drop_caches
from stats import counter, slabfs_stats

NDIRS = 100
RW_FILES = 2000
BLOCK = 4096

# (key, label); ops per workload are given by op_count()
WORKLOADS = [
    ("create", "create"),
    ("stat_warm", "stat, warm"),
    ("stat_again", "stat, again"),
    ("stat_cold", "stat, cold"),
    ("list1", "list, first"),
    ("list2", "list, second"),
    ("openclose", "open+close"),
    ("rw4k", "4 KiB write+read"),
    ("unlink", "unlink"),
]
# "stat, again" comes STAT_AGAIN_DELAY_S after the warm stat: every file
# once more, within a minute, when 1 s kernel timeouts have all expired.
STAT_AGAIN_DELAY_S = 2.0


def tree(root, n, ndirs=NDIRS):
    per = max(1, math.ceil(n / ndirs))
    dirs = [os.path.join(root, f"d{d:03d}") for d in range(ndirs)]
    files = [os.path.join(dirs[min(i // per, ndirs - 1)], f"f{i:07d}") for i in range(n)]
    return dirs, files


def op_count(key, n):
    return RW_FILES * 2 if key in ("rw4k", "openclose") else n


def run_phases(root, n, daemon=None, on_point=None):
    """Runs the workloads (WORKLOADS) on `root`; returns seconds per workload
    (and with `daemon`, its CPU seconds per workload under "daemon_cpu").
    on_point(name) is called at measurement points (after mount / after stats)."""
    dirs, files = tree(root, n)
    lstat, op, cl = os.lstat, os.open, os.close
    t = {}
    # The daemon's CPU per workload: polling after replies trades CPU for
    # latency, and the tables show what it costs.
    cpu = {}
    sample = (lambda: cpu_seconds(daemon.pid)) if daemon else (lambda: 0.0)
    point = on_point or (lambda name: None)

    @contextlib.contextmanager
    def timed(key):
        """The block's seconds under t[key], the daemon's CPU seconds meanwhile under cpu[key]."""
        c0 = sample()
        t0 = time.perf_counter()
        yield
        t[key] = time.perf_counter() - t0
        cpu[key] = sample() - c0

    def stat_all(key):
        with timed(key):
            for f in files:
                lstat(f)
        point(f"after_{key}")

    flags = os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC
    point("before_create")
    with timed("create"):
        for d in dirs:
            os.mkdir(d)
        for f in files:
            cl(op(f, flags, 0o644))
    point("after_create")

    stat_all("stat_warm")
    time.sleep(STAT_AGAIN_DELAY_S)
    point("before_stat_again")
    stat_all("stat_again")
    drop_caches()
    time.sleep(0.5)  # let FORGETs reach the daemons, alike for every target
    stat_all("stat_cold")

    for key in ("list1", "list2"):
        total = 0
        with timed(key):
            for d in dirs:
                total += len(os.listdir(d))
        if total != n:
            raise RuntimeError(f"{key}: listed {total} entries, expected {n}")

    chosen = files[::max(1, n // RW_FILES)][:RW_FILES]
    buf = b"s" * BLOCK
    wflags = os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC
    rflags = os.O_RDONLY | os.O_CLOEXEC
    # The floor of the 4 KiB write+read row: the same files, still empty,
    # each opened and closed twice as that row does (O_WRONLY, then
    # O_RDONLY), with no data: the open/close round trips alone.
    oflags = os.O_WRONLY | os.O_CLOEXEC
    point("before_openclose")
    with timed("openclose"):
        for f in chosen:
            cl(op(f, oflags))
        for f in chosen:
            cl(op(f, rflags))
    point("after_openclose")

    # Timed by hand: the row is its write and read loops alone (write4k +
    # read4k), the daemon's CPU over both.
    point("before_rw4k")
    c0 = sample()
    t0 = time.perf_counter()
    for f in chosen:
        fd = op(f, wflags)
        os.write(fd, buf)
        cl(fd)
    tw = time.perf_counter() - t0
    t0 = time.perf_counter()
    for f in chosen:
        fd = op(f, rflags)
        data = os.read(fd, BLOCK * 2)
        cl(fd)
        if len(data) != BLOCK:
            raise RuntimeError(f"read {len(data)} bytes from {f}, expected {BLOCK}")
    tr = time.perf_counter() - t0
    t["rw4k"] = tw + tr
    t["write4k"], t["read4k"] = tw, tr
    cpu["rw4k"] = sample() - c0
    point("after_rw4k")

    unlink = os.unlink
    point("before_unlink")
    with timed("unlink"):
        for f in files:
            unlink(f)
        for d in dirs:
            os.rmdir(d)
    point("after_unlink")
    if os.listdir(root):
        raise RuntimeError(f"{root} not empty after unlink")
    if daemon:
        t["daemon_cpu"] = cpu
    return t


# An empty FUSE round trip: a control attribute slabfs answers from memory
# (no system call on the backing side), read on the mount's root.
ROUND_TRIP_ATTRIBUTE = "user.slabfs.entry_timeout"
ROUND_TRIPS = 20000


def round_trip_seconds(mnt, count=ROUND_TRIPS):
    """Seconds per getxattr of ROUND_TRIP_ATTRIBUTE through the mount (the
    kernel caches no extended attribute: each is a GETXATTR round trip)."""
    get = os.getxattr
    get(mnt, ROUND_TRIP_ATTRIBUTE)
    t0 = time.perf_counter()
    for _ in range(count):
        get(mnt, ROUND_TRIP_ATTRIBUTE)
    return (time.perf_counter() - t0) / count


def zipf_sequence(nfiles, count, seed, draw=0):
    """Zipf(1.0) ranks mapped to files by a permutation from `seed`;
    `draw` picks another sample of the same popularity (the same hot
    files), not another popularity."""
    rng = random.Random(seed)
    cum, s = [], 0.0
    for k in range(1, nfiles + 1):
        s += 1.0 / k
        cum.append(s)
    perm = list(range(nfiles))
    rng.shuffle(perm)  # hot files scattered over the tree (and so over the slabs)
    if draw:
        rng = random.Random(f"{seed}/{draw}")
    total = cum[-1]
    rnd = rng.random
    bis = bisect.bisect_left
    return [perm[bis(cum, rnd() * total)] for _ in range(count)]


def fill(dirs, files):
    """The reclaim runs' fill: every directory listed, every file looked
    up. Returns the seconds it took."""
    t0 = time.perf_counter()
    for dd in dirs:
        os.listdir(dd)
    for f in files:
        os.lstat(f)
    return time.perf_counter() - t0


def zipf_lookups(mnt, files, seq):
    """lstat of files[i] for each i of seq, and the daemon's cache hits
    and misses meanwhile. Returns (result, stats before, stats after)."""
    st0 = slabfs_stats(mnt)
    lstat = os.lstat
    t0 = time.perf_counter()
    for i in seq:
        lstat(files[i])
    dt = time.perf_counter() - t0
    st1 = slabfs_stats(mnt)
    hits = counter(st1, "hits") - counter(st0, "hits")
    misses = counter(st1, "misses") - counter(st0, "misses")
    return ({"seconds": dt, "stats_per_s": len(seq) / dt, "lookups": hits + misses, "hits": hits, "misses": misses,
             "hit_rate": hits / (hits + misses) if hits + misses else None}, st0, st1)
