#!/usr/bin/env python3
"""Driver for mount-tests/bench.sh: slabfs against native, libfuse's
passthrough_ll and bindfs on real mounts, the reclaim comparison of
slabfs's eviction policies on a real mount (and, in a latency run of its own
per policy, a reader process across the budget cut: reclaim_latency.py), and slabfs under a cgroup memory limit
(pressure.py). Standard library only.

bench.sh builds the binaries, sets up the work directory and the cleanup trap,
and runs this. Every daemon is started here in the foreground (-f) so that
its PID is known (for RSS and descriptor counts); each PID and mountpoint is
appended to WORK/daemons so that the shell trap can clean up after us if we
are killed.

A benchmark, not a test: targets print PASS or MISS and never fail the run.
The exit status is 1 only when something broke (a mount failed, a daemon
died, a phase raised an error), 2 for a bad command line.
"""

import argparse
import bisect
import json
import math
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fio_rows  # noqa: E402
import freshness  # noqa: E402
import pressure  # noqa: E402
import reclaim_latency as rl  # noqa: E402
import rmreader  # noqa: E402
import svgchart  # noqa: E402

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
# The 4 KiB write+read row's target: at most this many times its open+close floor.
FLOOR_FACTOR = 1.5
# slabfs's variants, by their extra arguments. slabfs-timeouts is slabfs
# --coherence timeouts (no fanotify events: short kernel timeouts, its own
# cache's timeout); slabfs-rdc-off is slabfs --readdir-cache off: the first
# listing without the kernel's copy of every entry, against the second
# listing that copy buys; slabfs-pt-off is slabfs --passthrough off: every
# READ and WRITE through the daemon, beside slabfs's default (passthrough on
# where the kernel and CAP_SYS_ADMIN allow it).
SLABFS_VARIANTS = {"slabfs": [], "slabfs-pt-off": ["--passthrough", "off"],
                   "slabfs-timeouts": ["--coherence", "timeouts"],
                   "slabfs-rdc-off": ["--readdir-cache", "off"]}
FUSE_TARGETS = ["slabfs", "slabfs-pt-off", "slabfs-timeouts", "slabfs-rdc-off", "passthrough_ll", "bindfs"]
# Columns without the fio rows, and why.
IO_SKIP = {"slabfs-rdc-off": "the readdir cache does not touch file I/O"}
OPTIONAL_TARGETS = ["passthrough_hp"]  # with --passthrough-hp
PARTS = ["main", "large", "reclaim", "pressure", "freshness"]


def optional_targets(a):
    return ["passthrough_hp"] if a.passthrough_hp else []


def fuse_targets(a):
    return [t for t in FUSE_TARGETS + optional_targets(a) if t not in getattr(a, "skip_targets", {})]


def slabfs_has_option(slabfs, option):
    """Does this slabfs binary know a mount option (its mount --help lists it)?"""
    try:
        r = subprocess.run([slabfs, "mount", "--help"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return option in r.stdout + r.stderr


def log(*a):
    print(*a, file=sys.stderr, flush=True)


class Interrupted(BaseException):
    """A signal: not an Exception, so that no per-run handler swallows it."""


def _on_signal(signum, frame):
    raise Interrupted(f"signal {signum}")


# ---------------------------------------------------------------------------
# Processes, mounts, memory


def is_mounted(path):
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if len(fields) > 4 and fields[4].replace("\\040", " ") == path:
                return True
    return False


def rss_bytes(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def cpu_seconds(pid):
    """User + system CPU of every thread of `pid`, in seconds (0 if gone)."""
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0.0
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


def fd_count(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def drop_caches():
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("2\n")


class Daemon:
    """A FUSE daemon in the foreground, mounted on `mnt`, as a context manager."""

    def __init__(self, name, argv, mnt, args, preexec=None):
        self.name, self.argv, self.mnt = name, argv, mnt
        self.preexec = preexec  # run in the child before exec (e.g. joining a cgroup)
        self.daemons = args.daemons
        self.proc = None
        self.stop_note = ""
        self.logpath = os.path.join(args.logs, f"{os.path.basename(mnt)}.log")

    def __enter__(self):
        os.makedirs(os.path.dirname(self.logpath), exist_ok=True)
        logf = open(self.logpath, "w")
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=logf,
                                     stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=self.preexec)
        logf.close()
        with open(self.daemons, "a") as f:
            f.write(f"{self.proc.pid} {self.mnt}\n")
        deadline = time.monotonic() + 20
        while not is_mounted(self.mnt):
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode} before mounting: "
                                   f"{' '.join(self.argv)}\n{self.log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.name} did not mount within 20 s: {' '.join(self.argv)}\n{self.log_tail()}")
            time.sleep(0.02)
        # the root answers
        os.stat(self.mnt)
        return self

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, n=15):
        try:
            with open(self.logpath, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def stop(self):
        """Unmount and make sure the daemon is gone; returns a note of what it took."""
        note = []
        if is_mounted(self.mnt):
            r = subprocess.run(["fusermount3", "-u", self.mnt], capture_output=True, text=True)
            if r.returncode != 0:
                note.append(f"fusermount3 -u failed ({r.stderr.strip()}); lazy unmount")
                time.sleep(0.3)
                subprocess.run(["fusermount3", "-u", "-z", self.mnt], capture_output=True)
        if self.proc is not None:
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                note.append("daemon still running 15 s after unmount: SIGTERM")
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    note.append("SIGKILL")
                    self.proc.kill()
                    self.proc.wait()
            if self.proc.returncode not in (0, None):
                note.append(f"daemon exit status {self.proc.returncode}")
        if is_mounted(self.mnt):
            subprocess.run(["fusermount3", "-u", "-z", self.mnt], capture_output=True)
            note.append("still mounted after the daemon ended: lazy unmount")
        return "; ".join(note)

    def __exit__(self, *exc):
        note = self.stop()
        if note:
            log(f"  [{self.name}] {note}")
        self.stop_note = note
        return False


# ---------------------------------------------------------------------------
# slabfs statistics (tolerant of the JSON's layout, which is still moving)


def slabfs_stats(mnt):
    raw = os.getxattr(mnt, "user.slabfs.stats")
    return json.loads(raw.decode())


def dig(d, *paths, default=None):
    for p in paths:
        cur = d
        ok = True
        for k in p.split("."):
            if isinstance(cur, dict) and k in cur:
                cur = cur[k]
            else:
                ok = False
                break
        if ok and cur is not None:
            return cur
    return default


def counters(st):
    return dig(st, "cache.counters", "counters", default={})


def counter(st, name):
    return dig(counters(st), name, default=0) or 0


def counter_deltas(st0, st1):
    c0, c1 = counters(st0), counters(st1)
    return {k: c1[k] - c0.get(k, 0) for k in c1 if isinstance(c1[k], (int, float)) and c1[k] != c0.get(k, 0)}


def resident_pages(st):
    v = dig(st, "cache.residentPages", "residentPages")
    if v is not None:
        return v
    caches = dig(st, "cache.caches", "caches", default=[])
    return sum(c.get("totalSlabs", 0) * c.get("pagesPerSlab", 1) for c in caches)


def utilization(st):
    return dig(st, "cache.utilization", "utilization")


def page_size(st):
    v = dig(st, "configuration.page_size", "configuration.pageSizeBytes", "cache.pageSizeBytes", "pageSizeBytes")
    return int(v) if v else 4096


def evicted(st):
    return counter(st, "evictedInodes") + counter(st, "evictedDentries")


def active_objects(st):
    caches = dig(st, "cache.caches", "caches", default=[])
    return sum(c.get("activeObjects", 0) for c in caches)


def request_deltas(st0, st1):
    """FUSE requests the daemon received between two stats reads, by type
    (the `requests` object: total, lookup, getattr, ...), and under "pass"
    the total less GETXATTR/LISTXATTR (the stats reads themselves); None if
    this slabfs does not count requests."""
    r0, r1 = (dig(st, "requests", "cache.requests") for st in (st0, st1))
    if not isinstance(r0, dict) or not isinstance(r1, dict):
        return None
    d = {k.lower(): v - r0.get(k, 0) for k, v in r1.items() if isinstance(v, (int, float))}
    total = d.get("total", sum(v for k, v in d.items() if k != "total"))
    d["pass"] = total - d.get("getxattr", 0) - d.get("listxattr", 0)
    return d


# ---------------------------------------------------------------------------
# The workloads


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
    flags = os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC
    c0 = sample()
    t0 = time.perf_counter()
    for d in dirs:
        os.mkdir(d)
    for f in files:
        cl(op(f, flags, 0o644))
    t["create"] = time.perf_counter() - t0
    cpu["create"] = sample() - c0

    c0 = sample()
    t0 = time.perf_counter()
    for f in files:
        lstat(f)
    t["stat_warm"] = time.perf_counter() - t0
    cpu["stat_warm"] = sample() - c0
    if on_point:
        on_point("after_stat_warm")

    time.sleep(STAT_AGAIN_DELAY_S)
    if on_point:
        on_point("before_stat_again")
    c0 = sample()
    t0 = time.perf_counter()
    for f in files:
        lstat(f)
    t["stat_again"] = time.perf_counter() - t0
    cpu["stat_again"] = sample() - c0
    if on_point:
        on_point("after_stat_again")

    drop_caches()
    time.sleep(0.5)  # let FORGETs reach the daemons, alike for every target
    c0 = sample()
    t0 = time.perf_counter()
    for f in files:
        lstat(f)
    t["stat_cold"] = time.perf_counter() - t0
    cpu["stat_cold"] = sample() - c0
    if on_point:
        on_point("after_stat_cold")

    for key in ("list1", "list2"):
        total = 0
        c0 = sample()
        t0 = time.perf_counter()
        for d in dirs:
            total += len(os.listdir(d))
        t[key] = time.perf_counter() - t0
        cpu[key] = sample() - c0
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
    if on_point:
        on_point("before_openclose")
    c0 = sample()
    t0 = time.perf_counter()
    for f in chosen:
        cl(op(f, oflags))
    for f in chosen:
        cl(op(f, rflags))
    t["openclose"] = time.perf_counter() - t0
    cpu["openclose"] = sample() - c0
    if on_point:
        on_point("after_openclose")

    if on_point:
        on_point("before_rw4k")
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
    if on_point:
        on_point("after_rw4k")

    unlink = os.unlink
    c0 = sample()
    t0 = time.perf_counter()
    for f in files:
        unlink(f)
    for d in dirs:
        os.rmdir(d)
    t["unlink"] = time.perf_counter() - t0
    cpu["unlink"] = sample() - c0
    if os.listdir(root):
        raise RuntimeError(f"{root} not empty after unlink")
    if daemon:
        t["daemon_cpu"] = cpu
    return t


# ---------------------------------------------------------------------------
# Targets


class Bench:
    def __init__(self, args):
        self.a = args
        self.work = args.work
        self.errors = []
        self.seq = 0

    def fresh(self, label):
        self.seq += 1
        p = os.path.join(self.work, f"{self.seq:03d}-{label}")
        os.makedirs(p)
        return p

    def argv(self, target, src, mnt, extra=()):
        a = self.a
        if target in SLABFS_VARIANTS:
            return [a.slabfs, src, mnt, "-f", *SLABFS_VARIANTS[target], *extra]
        if target == "passthrough_ll":
            # Its own defaults (cache=auto: entry and attr timeout 1 s, no
            # cache_readdir or keep_cache), plus default_permissions, which
            # slabfs always sets, so the kernel does the same permission checks.
            opts = f"source={src},default_permissions" + ("," + a.pll_opts if a.pll_opts else "")
            return [a.passthrough_ll, "-f", "-o", opts, mnt]
        if target == "bindfs":
            # bindfs sets allow_other unless told not to; slabfs does not.
            # Otherwise its defaults (timeouts 1 s, single-threaded): see
            # OPTIONS_NOTE.
            return [a.bindfs, "-f", "--no-allow-other", src, mnt]
        if target == "passthrough_hp":
            # Its defaults (see OPTIONS_NOTE); it takes no -o options.
            return [a.passthrough_hp_bin, "--foreground", src, mnt]
        raise ValueError(target)

    def mount(self, target, src, mnt, extra=()):
        """The target's daemon on mnt, as a context manager (Daemon)."""
        return Daemon(target, self.argv(target, src, mnt, extra), mnt, self.a)

    # -- main comparison -------------------------------------------------

    def warm_up(self, n):
        """Creates and removes a tree of n files natively, untimed: the first
        creates on this filesystem read allocation bitmaps and inode tables
        from disk, which would land on whichever target runs first."""
        root = self.fresh("warm-up")
        dirs, files = tree(root, n)
        for d in dirs:
            os.mkdir(d)
        for f in files:
            os.close(os.open(f, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))
        for f in files:
            os.unlink(f)
        for d in dirs:
            os.rmdir(d)
        os.rmdir(root)
        os.sync()

    def io_rows(self, res, target, root, rep, stats=None):
        """The fio rows (fio_rows) on root, into res["io"]; a failure is an
        error of the run but keeps the other workloads' figures."""
        a = self.a
        if not a.io_size or target in IO_SKIP:
            return
        try:
            res["io"] = fio_rows.run(root, a.fio, a.io_size, a.io_runtime, stats=stats, deltas=request_deltas,
                                     passthrough=lambda st: dig(st, "passthrough", "cache.passthrough"))
            log("    " + fio_rows.line(res["io"]))
        except Interrupted:
            raise
        except Exception as e:
            msg = f"{target} (rep {rep}), fio rows: {type(e).__name__}: {e}"
            log(f"    ERROR: {msg}")
            res["io_error"] = msg
            self.errors.append({"round": "main, fio rows", "target": target, "rep": rep, "error": msg})

    def one_run(self, target, n, rep, io=False):
        """Returns a dict with times and memory for one target, one
        repetition (and with io, the fio rows after the other workloads)."""
        res = {"target": target, "n": n, "rep": rep}
        os.sync()  # start from a clean page cache: no writeback of the last run under this one
        if target == "native":
            root = self.fresh(f"native-r{rep}")
            res["times"] = run_phases(root, n)
            if io:
                self.io_rows(res, target, root, rep)
            return res
        src = self.fresh(f"{target}-src-r{rep}")
        mnt = self.fresh(f"{target}-mnt-r{rep}")
        d = self.mount(target, src, mnt)
        slabfs = target in SLABFS_VARIANTS
        with d:
            time.sleep(0.2)
            stats = {}
            if slabfs:
                # Before the baseline: the first stats read maps about 1.2 MB
                # of shared library code (the JSON encoder's) once; that is
                # not memory per cached inode.
                stats["after_mount"] = slabfs_stats(mnt)
            points = {"after_mount": (rss_bytes(d.pid), fd_count(d.pid))}

            def on_point(name):
                points[name] = (rss_bytes(d.pid), fd_count(d.pid))
                if slabfs:
                    stats[name] = slabfs_stats(mnt)

            try:
                res["times"] = run_phases(mnt, n, d, on_point)
            except Exception as e:  # a daemon that died shows here
                alive = d.alive()
                raise RuntimeError(f"{target} (n={n}, rep {rep}): {type(e).__name__}: {e}; daemon "
                                   f"{'alive' if alive else f'exited with {d.proc.returncode}'}\n{d.log_tail()}")
            if io:
                self.io_rows(res, target, mnt, rep, stats=(lambda: slabfs_stats(mnt)) if slabfs else None)
                if not d.alive():
                    raise RuntimeError(f"{target} (n={n}, rep {rep}): the daemon died during the fio rows "
                                       f"(status {d.proc.returncode})\n{d.log_tail()}")
            if slabfs:
                stats["end"] = slabfs_stats(mnt)
        res["rss"] = {k: v[0] for k, v in points.items()}
        res["fds"] = {k: v[1] for k, v in points.items()}
        base_rss, base_fd = points["after_mount"]
        at_rss, at_fd = points["after_stat_cold"]
        warm_rss, _ = points["after_stat_warm"]
        res["rss_per_inode"] = (at_rss - base_rss) / n if at_rss and base_rss else None
        res["rss_per_inode_warm"] = (warm_rss - base_rss) / n if warm_rss and base_rss else None
        res["fds_after_stat"] = at_fd
        res["fds_added"] = at_fd - base_fd if at_fd is not None and base_fd is not None else None
        if d.stop_note:
            res["stop_note"] = d.stop_note
        if stats:
            st = stats.get("after_stat_cold", {})
            slab_bytes = resident_pages(st) * page_size(st)
            table_bytes = dig(st, "cache.tableBytes", "tableBytes")
            res["slabfs"] = {
                "slab_bytes_per_file": slab_bytes / n,
                "table_bytes_per_file": table_bytes / n if table_bytes is not None else None,
                "table_bytes_after_stat": table_bytes,
                "active_objects_after_stat": active_objects(st),
                "resident_pages_after_stat": resident_pages(st),
                "utilization_after_stat": utilization(st),
                "hit_rate_cumulative_end": dig(stats.get("end", {}), "cache.hitRate", "hitRate"),
                "counters_end": counters(stats.get("end", {})),
                "daemonRSSBytes_after_stat": dig(st, "daemonRSSBytes", "process.daemonRSSBytes"),
                "configuration": dig(stats.get("after_mount", {}), "configuration"),
            }
            res["requests_stat_again"] = request_deltas(stats["before_stat_again"], stats["after_stat_again"])
            res["requests_openclose"] = request_deltas(stats["before_openclose"], stats["after_openclose"])
            res["requests_rw4k"] = request_deltas(stats["before_rw4k"], stats["after_rw4k"])
            res["passthrough"] = dig(stats["end"], "passthrough", "cache.passthrough")
        return res

    def round(self, targets, n, reps, label, io=False):
        runs = {t: [] for t in targets}
        self.warm_up(min(n, 20000))
        if io:
            root = self.fresh("io-warm-up")
            try:
                fio_rows.warm_up(root, self.a.fio, self.a.io_size)
            except Exception as e:  # the rows themselves will say what is wrong
                log(f"[{label}] fio warm-up failed: {e}")
            os.rmdir(root)
        for rep in range(1, reps + 1):
            for t in targets:
                log(f"[{label}] rep {rep}/{reps}: {t}, {n} files")
                try:
                    r = self.one_run(t, n, rep, io)
                    runs[t].append(r)
                    tm = r["times"]
                    log("    " + "  ".join(f"{k} {tm[k]:.3f}s" for k, _ in WORKLOADS)
                        + (f"  rss/inode {r['rss_per_inode']:.0f} B fds {r['fds_after_stat']}" if r.get("rss_per_inode") is not None else ""))
                except Interrupted:
                    raise
                except Exception as e:
                    msg = str(e)
                    log(f"    ERROR: {msg}")
                    self.errors.append({"round": label, "target": t, "rep": rep, "error": msg})
        return summarize(runs, n)

    # -- reclaim comparison ---------------------------------------------

    def zipf_sequence(self, nfiles, count, seed, draw=0):
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

    def reclaim_policy(self, name, extra, nfiles, seq1, seq2, seq3):
        log(f"[reclaim] {name}: slabfs {' '.join(extra) or '(defaults)'}, {nfiles} files")
        src = self.fresh(f"reclaim-{name}-src")
        mnt = self.fresh(f"reclaim-{name}-mnt")
        ndirs = max(1, nfiles // 100)
        # The same tree each time, made directly in the backing directory.
        _, bfiles = tree(src, nfiles, ndirs)
        for dd in range(ndirs):
            os.mkdir(os.path.join(src, f"d{dd:03d}"))
        for f in bfiles:
            os.close(os.open(f, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))
        dirs, files = tree(mnt, nfiles, ndirs)
        res = {"policy": name, "options": list(extra), "files": nfiles}
        # Long entry and attribute timeouts: the daemon's dentries expire with
        # the timeout it gives the kernel, so at the 1 s default every lookup
        # the kernel sends after a second is a miss whatever the policy.
        # PSI off: on a shared machine the pressure trigger may fire during a
        # run and reclaim before the cut; here the cut is the only reclaim.
        timeouts = ["--entry-timeout", str(self.a.reclaim_timeout), "--attr-timeout", str(self.a.reclaim_timeout),
                    "--psi-threshold-us", "0"]
        res["options"] += timeouts
        d = Daemon("slabfs", self.argv("slabfs", src, mnt, list(extra) + timeouts), mnt, self.a)
        with d:
            # Fill the cache: every directory listed and every file looked up.
            t0 = time.perf_counter()
            for dd in dirs:
                os.listdir(dd)
            for f in files:
                os.lstat(f)
            res["fill_s"] = time.perf_counter() - t0
            # Let the kernel go of everything: the cache keeps its objects,
            # unused (count 1), until the Zipf stats take some of them again.
            drop_caches()
            time.sleep(1.0)
            res["rss_after_fill"] = rss_bytes(d.pid)

            def zipf(seq):
                st0 = slabfs_stats(mnt)
                lstat = os.lstat
                t0 = time.perf_counter()
                for i in seq:
                    lstat(files[i])
                dt = time.perf_counter() - t0
                st1 = slabfs_stats(mnt)
                hits = counter(st1, "hits") - counter(st0, "hits")
                misses = counter(st1, "misses") - counter(st0, "misses")
                return {"seconds": dt, "stats_per_s": len(seq) / dt, "lookups": hits + misses,
                        "hits": hits, "misses": misses,
                        "hit_rate": hits / (hits + misses) if hits + misses else None,
                        "counter_deltas": counter_deltas(st0, st1)}, st1

            res["before"], _ = zipf(seq1)
            # Each file reaches the daemon once per run unless the kernel
            # let go of it meanwhile (memory pressure, or another process's
            # drop_caches): then fewer files are pinned at the cut than the
            # workload touched, and the table says so.
            res["distinct_run1"] = len(set(seq1)) + ndirs  # each directory is looked up once too
            # By default the cut comes right after the workload, while the
            # kernel still holds (by lookup count) every file it touched, as
            # on a running system: the kernel lets go of dentries under its
            # own pressure or timeouts, not because the daemon is cut. Those
            # objects are the hot set, scattered over the slabs, and no policy
            # may free them (only kicks and moves can touch them); that is
            # the case page-targeted reclaim is for (seed 003). With
            # --reclaim-unpinned the kernel lets go first: every object is
            # unused at the cut and whole slabs of never-touched files, made
            # in order, are as easy to empty from an LRU's cold end.
            res["pinned_at_cut"] = not self.a.reclaim_unpinned
            if self.a.reclaim_unpinned:
                drop_caches()
                time.sleep(1.0)
            st_before = slabfs_stats(mnt)
            pages_before = resident_pages(st_before)
            psize = page_size(st_before)
            res["rss_before_cut"] = rss_bytes(d.pid)
            res["pages_before"] = pages_before
            res["util_before"] = utilization(st_before)
            res["objects_before"] = active_objects(st_before)
            res["budget_before"] = dig(st_before, "cache.budgetBytes", "budgetBytes")
            res["kernel_held_before"] = dig(st_before, "cache.kernelHeldInodes", "kernelHeldInodes")
            res["configuration"] = dig(st_before, "configuration")
            half = pages_before // 2
            # The cut: half of the pages in use, through the writable budget
            # if this slabfs has it, else an explicit reclaim of that many pages.
            t0 = time.perf_counter()
            try:
                os.setxattr(mnt, "user.slabfs.cache_size", str(half * psize).encode())
                res["cut_method"] = f"setfattr user.slabfs.cache_size={half * psize} (half of {pages_before} pages)"
            except OSError as e:
                res["cache_size_error"] = f"{e.strerror} (errno {e.errno})"
                os.setxattr(mnt, "user.slabfs.reclaim", str(pages_before - half).encode())
                res["cut_method"] = (f"user.slabfs.cache_size not settable ({e.strerror}): "
                                     f"setfattr user.slabfs.reclaim={pages_before - half} (half of {pages_before} pages)")
            res["cut_call_s"] = time.perf_counter() - t0
            # Wait for the reclaim (and the kicks it sent) to settle.
            # (Also noted, from the same reads and without a read more: when
            # resident pages were first at or below the new budget's low
            # watermark, "pages back" at this loop's 100 ms; the latency run
            # below times it at 10 ms.)
            st_after, last, stable_since = None, None, time.monotonic()
            low, back_s, pmin = None, None, None
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                st_after = slabfs_stats(mnt)
                pages_now = resident_pages(st_after)
                pmin = pages_now if pmin is None else min(pmin, pages_now)
                if low is None and "cache_size_error" not in res:
                    low, res["cut_low_watermark_source"] = rl.low_watermark_pages(
                        st_after, dig(st_after, "cache.budgetBytes", "budgetBytes") or half * psize, psize, dig)
                if back_s is None and low is not None and pages_now <= low:
                    back_s = time.perf_counter() - t0
                key = (resident_pages(st_after), evicted(st_after), counter(st_after, "pagesReclaimed"),
                       counter(st_after, "moves"))
                if key != last:
                    last, stable_since = key, time.monotonic()
                elif time.monotonic() - stable_since >= 1.0:
                    break
                time.sleep(0.1)
            res["settle_s"] = time.perf_counter() - t0
            res["cut_low_watermark_pages"], res["cut_pages_back_s"], res["cut_pages_min_polled"] = low, back_s, pmin
            try:
                res["reclaim_report"] = json.loads(os.getxattr(mnt, "user.slabfs.reclaim").decode())
            except (OSError, ValueError):
                res["reclaim_report"] = None
            res["rss_after_cut"] = rss_bytes(d.pid)
            res["pages_after"] = resident_pages(st_after)
            res["util_after"] = utilization(st_after)
            res["objects_after"] = active_objects(st_after)
            res["budget_after"] = dig(st_after, "cache.budgetBytes", "budgetBytes")
            res["cut_counter_deltas"] = counter_deltas(st_before, st_after)
            res["pages_freed"] = counter(st_after, "pagesReclaimed") - counter(st_before, "pagesReclaimed")
            res["resident_pages_drop"] = pages_before - res["pages_after"]
            res["objects_evicted"] = evicted(st_after) - evicted(st_before)
            res["moves"] = counter(st_after, "moves") - counter(st_before, "moves")
            res["kicks"] = counter(st_after, "kicksRequested") - counter(st_before, "kicksRequested")
            res["evicted_per_page"] = (res["objects_evicted"] / res["pages_freed"]
                                       if res["pages_freed"] else (math.inf if res["objects_evicted"] else None))
            # The kernel lets go (again), so that every file of the second
            # run is asked of the daemon: its hit rate is what the cut left.
            drop_caches()
            time.sleep(1.0)
            res["after"], st_end = zipf(seq2)
            res["pages_end"] = resident_pages(st_end)
            res["util_end"] = utilization(st_end)
            res["rss_end"] = rss_bytes(d.pid)
            # Run 3: a new draw from the same Zipf distribution (another
            # seed), again with the kernel's hold dropped first. The replay
            # (run 2) asks only for files run 1 touched, which the kernel
            # pinned at the cut, so any policy that honours pins scores 1.0
            # there; the new draw also asks for tail files the cut may or may
            # not have kept, and its misses grow the cache again, so a policy
            # still over its budget keeps reclaiming while it runs.
            drop_caches()
            time.sleep(1.0)
            res["after_new"], st_new = zipf(seq3)
            res["distinct_run3"] = len(set(seq3)) + ndirs
            res["pages_end_new"] = resident_pages(st_new)
            res["evicted_during_new"] = evicted(st_new) - evicted(st_end)
        if d.stop_note:
            res["stop_note"] = d.stop_note
        # What requests feel while reclaim runs: a run of its own (its own
        # mount of the same tree, filled the same way, the same Zipf run 1,
        # the same cut) with a reader process across the cut, so that none
        # of the comparison's figures above carries the reader's lookups.
        if self.a.reclaim_reader_rate > 0:
            try:
                res["latency"] = rl.run(self, sys.modules[__name__], name, res["options"], src, nfiles, ndirs, seq1)
            except Interrupted:
                raise
            except Exception as e:
                log(f"    latency run ERROR: {type(e).__name__}: {e}")
                self.errors.append({"round": "reclaim-latency", "target": name, "error": f"{type(e).__name__}: {e}"})
        shutil.rmtree(src, ignore_errors=True)
        return res

    def reclaim(self):
        a = self.a
        seq1 = self.zipf_sequence(a.files, a.stats, a.seed)
        seq2 = seq1  # the same stats again
        seq3 = self.zipf_sequence(a.files, a.stats, a.seed, draw=1)  # a new draw, the same hot files
        policies = [("lru", ["--eviction", "lru"]),
                    ("page", ["--eviction", "page", "--migrate", "off"]),
                    ("default", [])]
        out = []
        for name, extra in policies:
            # Another process's drop_caches (mount tests on a shared machine)
            # makes the kernel let go mid-run: fewer files pinned at the cut,
            # extra lookups in run 3. Such a run is repeated, twice at most,
            # and the table keeps a warning if the last one was disturbed too.
            for attempt in range(1, 4):
                try:
                    r = self.reclaim_policy(name, extra, a.files, seq1, seq2, seq3)
                except Interrupted:
                    raise
                except Exception as e:
                    log(f"    ERROR: {e}")
                    self.errors.append({"round": "reclaim", "target": name, "error": str(e)})
                    break
                r["attempt"] = attempt
                if not disturbed(r) or attempt == 3:
                    out.append(r)
                    break
                log(f"    the kernel let go of entries mid-run ({'; '.join(disturbed(r))}): again")
        return out


def disturbed(r):
    """Why a reclaim run was disturbed by the kernel letting go of entries
    mid-run (each file reaches the daemon once per run otherwise)."""
    why = []
    if r.get("distinct_run1") and r["before"]["lookups"] > r["distinct_run1"] * 1.01:
        why.append(f"run 1 sent {r['before']['lookups']} lookups for {r['distinct_run1']} files and directories")
    # The daemon's own kicks (a policy over its budget asks the kernel to
    # drop entries) bring files back once each: not a disturbance.
    kicks3 = (r.get("after_new") or {}).get("counter_deltas", {}).get("kicksRequested", 0) or 0
    if r.get("distinct_run3") and r.get("after_new") and r["after_new"]["lookups"] > r["distinct_run3"] * 1.01 + kicks3:
        why.append(f"run 3 sent {r['after_new']['lookups']} lookups for {r['distinct_run3']} files and directories")
    return why


def summarize(runs, n):
    out = {"n": n, "targets": {}}
    for t, rs in runs.items():
        if not rs:
            out["targets"][t] = {"runs": 0}
            continue
        keys = [k for k, _ in WORKLOADS] + ["write4k", "read4k"]
        med = {k: statistics.median(r["times"][k] for r in rs) for k in keys}
        e = {"runs": len(rs), "median_s": med,
             "all_s": {k: [r["times"][k] for r in rs] for k in keys},
             "ops_per_s": {k: op_count(k, n) / med[k] if med[k] > 0 else None for k, _ in WORKLOADS}}
        if t != "native":
            vals = [r["rss_per_inode"] for r in rs if r.get("rss_per_inode") is not None]
            e["rss_per_inode"] = statistics.median(vals) if vals else None
            vals = [r["rss_per_inode_warm"] for r in rs if r.get("rss_per_inode_warm") is not None]
            e["rss_per_inode_warm"] = statistics.median(vals) if vals else None
            e["fds_after_stat"] = statistics.median(r["fds_after_stat"] for r in rs)
            e["fds_added"] = statistics.median(r["fds_added"] for r in rs)
            cpu = [r["times"]["daemon_cpu"] for r in rs if "daemon_cpu" in r["times"]]
            if cpu:
                e["daemon_cpu_us_per_op"] = {k: 1e6 * statistics.median(c[k] for c in cpu) / op_count(k, n)
                                             for k, _ in WORKLOADS}
            e["rss_after_mount"] = statistics.median(r["rss"]["after_mount"] for r in rs)
            e["rss_after_stat"] = statistics.median(r["rss"]["after_stat_cold"] for r in rs)
            if any("slabfs" in r for r in rs):
                e["slabfs"] = [r["slabfs"] for r in rs if "slabfs" in r]
            reqs = [r["requests_stat_again"] for r in rs if r.get("requests_stat_again")]
            if reqs:
                e["stat_again_requests"] = statistics.median(q["pass"] for q in reqs)
                e["stat_again_requests_all"] = reqs
            for key in ("requests_openclose", "requests_rw4k"):
                reqs = [r[key] for r in rs if r.get(key)]
                if reqs:  # medians of the names that matter here; every name per repetition under _all
                    e[key] = {k: statistics.median(q.get(k, 0) for q in reqs)
                              for k in ("read", "write", "open", "release", "flush", "getattr", "setattr",
                                        "lookup", "pass")}
                    e[key + "_all"] = reqs
            pts = [r["passthrough"] for r in rs if r.get("passthrough") is not None]
            if pts:
                e["passthrough"] = pts[-1]
            notes = [r["stop_note"] for r in rs if r.get("stop_note")]
            if notes:
                e["stop_notes"] = notes
        io = fio_rows.summarize([r.get("io") for r in rs])
        if io:
            e["io"] = io
        errs = [r["io_error"] for r in rs if r.get("io_error")]
        if errs:
            e["io_errors"] = errs
        out["targets"][t] = e
    nat = out["targets"].get("native", {}).get("median_s")
    for t, e in out["targets"].items():
        if nat and "median_s" in e:
            e["ratio"] = {k: (nat[k] / e["median_s"][k]) if e["median_s"][k] > 0 else None for k, _ in WORKLOADS}
    fio_rows.ratios(out["targets"])
    return out


# ---------------------------------------------------------------------------
# Reporting


def fmt_rate(v):
    if v is None:
        return "-"
    if v >= 1e6:
        return f"{v / 1e6:.2f}M"
    if v >= 1e3:
        return f"{v / 1e3:.1f}k"
    return f"{v:.0f}"


def fmt_ratio(v):
    if v is None:
        return "-"
    if v >= 0.1:
        return f"{v:.2f}"
    return f"{v:.3f}"


def table_round(rnd, title, reps):
    lines = [f"{title}: {rnd['n']} files in {NDIRS} directories, median of {reps} repetition(s); "
             f"ops/s (ratio to native)" + ("; the fio rows in MB/s or IOPS as named" if fio_rows.present(rnd) else "")]
    targets = [t for t in ["native"] + FUSE_TARGETS + OPTIONAL_TARGETS if t in rnd["targets"]]
    w0 = 18
    header = "  " + "workload".ljust(w0) + "".join(t.rjust(22) for t in targets)
    lines.append(header)
    for k, label in WORKLOADS:
        row = "  " + label.ljust(w0)
        for t in targets:
            e = rnd["targets"][t]
            if "ops_per_s" not in e:
                row += "failed".rjust(22)
                continue
            cell = fmt_rate(e["ops_per_s"][k])
            if t != "native":
                cell += f" ({fmt_ratio(e.get('ratio', {}).get(k))})"
            row += cell.rjust(22)
        lines.append(row)
    lines += fio_rows.rows(rnd, targets, w0, 22, fmt_ratio)
    lines += fio_rows.passthrough_row(rnd, targets, w0, 22)
    row = "  " + "RSS/cached inode".ljust(w0) + "".rjust(22 if "native" in targets else 0)
    for t in targets:
        if t == "native":
            continue
        v = rnd["targets"][t].get("rss_per_inode")
        row += (f"{v:.0f} B" if v is not None else "-").rjust(22)
    lines.append(row)
    row = "  " + "descriptors".ljust(w0) + "".rjust(22 if "native" in targets else 0)
    for t in targets:
        if t == "native":
            continue
        e = rnd["targets"][t]
        v = e.get("fds_after_stat")
        row += (f"{v:.0f} (+{e.get('fds_added', 0):.0f})" if v is not None else "-").rjust(22)
    lines.append(row)
    row = "  " + "requests, again".ljust(w0) + "".rjust(22 if "native" in targets else 0)
    for t in targets:
        if t == "native":
            continue
        v = rnd["targets"][t].get("stat_again_requests")
        row += (f"{v:.0f} ({100 * v / rnd['n']:.1f}%)" if v is not None else "-").rjust(22)
    lines.append(row)
    if any(rnd["targets"][t].get("requests_rw4k") for t in targets):
        lines += fio_rows.request_rows(rnd, targets, w0, 22)
    lines.append("  daemon CPU per operation, us (user + system, every thread; from 10 ms clock ticks, so short workloads are coarse)")
    for k, label in WORKLOADS:
        row = "  " + ("  " + label).ljust(w0) + "".rjust(22 if "native" in targets else 0)
        for t in targets:
            if t == "native":
                continue
            v = rnd["targets"][t].get("daemon_cpu_us_per_op", {}).get(k)
            row += (f"{v:.1f}" if v is not None else "-").rjust(22)
        lines.append(row)
    sl = rnd["targets"].get("slabfs", {}).get("slabfs")
    if sl:
        slab = statistics.median(x["slab_bytes_per_file"] for x in sl)
        tabs = [x["table_bytes_per_file"] for x in sl if x.get("table_bytes_per_file") is not None]
        tab = statistics.median(tabs) if tabs else None
        total = rnd["targets"]["slabfs"].get("rss_per_inode")
        lines.append(f"  slabfs per file: {slab:.0f} B of slab pages (inode + dentry objects), "
                     + (f"{tab:.0f} B of tables (tableBytes), " if tab is not None else "")
                     + (f"{total - slab - (tab or 0):.0f} B other (RSS delta minus both)" if total is not None else ""))
    lines.append("  (RSS/cached inode: daemon RSS after the stat phases minus RSS right after mount, "
                 "divided by files; descriptors: ls /proc/PID/fd | wc -l after the stat phases, (+ since mount); "
                 f"requests, again: FUSE requests the daemon received during \"stat, again\" ({STAT_AGAIN_DELAY_S:g} s "
                 "after the warm stat; (% of the files); from user.slabfs.stats, so slabfs only; its own GETXATTRs "
                 "not counted))")
    lines.append(f"  (open+close: the {RW_FILES} files of the 4 KiB write+read row, still empty, each opened O_WRONLY and "
                 f"closed, then each opened O_RDONLY and closed ({2 * RW_FILES} pairs, no data: the open/close round trips "
                 f"that row needs), right before it; 4 KiB write+read: the same files, each opened O_WRONLY|O_TRUNC, "
                 f"written 4 KiB and closed, then each opened O_RDONLY, read and closed; both in ops/s of {2 * RW_FILES} "
                 f"opens)")
    if rnd.get("io_config"):
        lines.append(fio_rows.notes(rnd["io_config"]))
        skipped = {t: why for t, why in rnd.get("io_skipped", {}).items() if t in targets}
        if skipped:
            lines.append("  (no fio rows for " + "; ".join(f"{t}: {why}" for t, why in skipped.items()) + ")")
    for t, why in (rnd.get("skipped_targets") or {}).items():
        lines.append(f"  {t}: not run ({why})")
    return "\n".join(lines)


def table_reclaim(rec, args):
    if not rec:
        return "reclaim comparison: no result"
    lines = [f"reclaim comparison: slabfs, {args.files} files in {max(1, args.files // 100)} directories, "
             f"{args.stats} Zipf(1.0) stats before and after (seed {args.seed}), budget cut to half of the pages in use",
             f"  sequence per policy: mount (--entry-timeout/--attr-timeout {args.reclaim_timeout:g} --psi-threshold-us 0), look every file up, "
             f"drop_caches, Zipf run 1, "
             + ("drop_caches (the kernel lets go: every object unused; --reclaim-unpinned), the cut," if args.reclaim_unpinned
                else "the cut while the kernel still holds what run 1 touched (as on a running system),"),
             f"  wait until the counters settle, drop_caches, Zipf run 2 (the same stats; every file it touches is asked of the daemon),",
             f"  drop_caches, Zipf run 3 (a new draw of {args.stats} stats from the same distribution: the same hot files)",
             f"  backing directories: {backing_note(args)}"]
    cols = ["policy", "evicted", "pages freed", "evicted/page", "util before", "util after",
            "RSS before", "RSS after", "stats/s after", "hit rate after", "new draw", "moves", "kicks"]
    widths = [9, 9, 16, 13, 12, 11, 11, 11, 14, 15, 9, 9, 8]
    lines.append("  " + "".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cols, widths))))
    for r in rec:
        epp = r["evicted_per_page"]
        vals = [r["policy"], str(r["objects_evicted"]),
                f"{r['pages_freed']} of {r['pages_before']}",
                "-" if epp is None else ("inf" if math.isinf(epp) else f"{epp:.1f}"),
                "-" if r["util_before"] is None else f"{r['util_before']:.3f}",
                "-" if r["util_after"] is None else f"{r['util_after']:.3f}",
                f"{r['rss_before_cut'] / 2**20:.1f} MiB", f"{r['rss_after_cut'] / 2**20:.1f} MiB",
                fmt_rate(r["after"]["stats_per_s"]),
                "-" if r["after"]["hit_rate"] is None else f"{r['after']['hit_rate']:.3f}",
                "-" if r.get("after_new", {}).get("hit_rate") is None else f"{r['after_new']['hit_rate']:.3f}",
                str(r["moves"]), str(r["kicks"])]
        lines.append("  " + "".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(vals, widths))))
    lines.append(f"  cut: {rec[0]['cut_method']}")
    if not args.reclaim_unpinned:
        lines.append("  pinned at the cut (the default): a running system's kernel still holds the files the workload "
                     "touched; those objects are the hot set, scattered over the slabs, and no policy may evict them. "
                     "--reclaim-unpinned drops the kernel's hold first (every object unused: whole slabs of untouched "
                     "files are then as easy to empty from an LRU's cold end)")
    lines.append("  evicted, pages freed, moves, kicks: counter deltas from the cut until the cache settled "
                 "(no change for 1 s); hit rate after: daemon lookups answered from the cache during Zipf run 2 (the replay); "
                 "new draw: the same during Zipf run 3")
    for r in rec:
        if disturbed(r):
            lines.append(f"  WARNING {r['policy']}: {'; '.join(disturbed(r))}: the kernel let go of entries mid-run "
                         f"(memory pressure or another process's drop_caches) in all {r.get('attempt', 1)} attempts; "
                         f"compare this row with care")
        elif r.get("attempt", 1) > 1:
            lines.append(f"  {r['policy']}: attempt {r['attempt']} (the earlier ones were disturbed by the kernel letting go mid-run)")
    for r in rec:
        b = r["before"]
        hr = "-" if b["hit_rate"] is None else f"{b['hit_rate']:.3f}"
        held = r.get("kernel_held_before")
        lines.append(f"  {r['policy']}: before the cut {fmt_rate(b['stats_per_s'])} stats/s, hit rate {hr} "
                     f"({b['lookups']} lookups), {'-' if held is None else held} inodes held by the kernel at the cut, "
                     f"{r['objects_before']} objects; after: {r['after']['lookups']} lookups, "
                     f"pages {r['pages_after']} -> {r['pages_end']}; "
                     + (f"pages back (<= {r['cut_low_watermark_pages']}) within {r['cut_pages_back_s']:.1f} s "
                        f"(100 ms stats reads), " if r.get("cut_pages_back_s") is not None
                        else f"pages not back to {r['cut_low_watermark_pages']} (lowest read {r.get('cut_pages_min_polled')}), "
                        if r.get("cut_low_watermark_pages") is not None else "")
                     + f"the cut settled in {r['settle_s']:.1f} s"
                     + (f"; new draw: {fmt_rate(r['after_new']['stats_per_s'])} stats/s, {r['after_new']['lookups']} lookups, "
                        f"{r['evicted_during_new']} objects evicted while it ran, pages -> {r['pages_end_new']}"
                        if r.get("after_new") else ""))
    lines += rl.table(rec)
    return "\n".join(lines)


def targets_check(main, rec, skip=()):
    checks = []

    def add(name, ok, detail):
        checks.append({"target": name, "result": "PASS" if ok else "MISS", "detail": detail})

    if "main" in skip:
        main = None
    ts = main["targets"] if main else {}
    s = ts.get("slabfs", {})
    others = [t for t in ("passthrough_ll", "bindfs") if "ops_per_s" in ts.get(t, {})]
    if "ops_per_s" in s and others:
        for k, label in WORKLOADS:
            if k == "stat_again":  # judged by its requests (below), not by speed
                continue
            best_t = max(others, key=lambda t: ts[t]["ops_per_s"][k] or 0)
            best = ts[best_t]["ops_per_s"][k] or 0
            mine = s["ops_per_s"][k] or 0
            add(f"slabfs >= max(bindfs, passthrough_ll) on {label}", mine >= best,
                f"slabfs {fmt_rate(mine)}/s vs {best_t} {fmt_rate(best)}/s ({mine / best if best else float('inf'):.2f}x)")
        k = "stat_cold"
        best_t = max(others, key=lambda t: ts[t]["ops_per_s"][k] or 0)
        best = ts[best_t]["ops_per_s"][k] or 0
        mine = s["ops_per_s"][k] or 0
        add("slabfs >= 1.5x max(bindfs, passthrough_ll) on cold stat", mine >= 1.5 * best,
            f"{mine / best if best else float('inf'):.2f}x {best_t}")
    elif "main" not in skip:
        add("slabfs against bindfs and passthrough_ll", False, "no result to compare")
    v = ts.get("slabfs-rdc-off", {})
    if "ops_per_s" in v and others:
        # Not a target: what the other setting of the listing trade-off gives.
        parts = []
        for k in ("list1", "list2"):
            best_t = max(others, key=lambda t: ts[t]["ops_per_s"][k] or 0)
            best = ts[best_t]["ops_per_s"][k] or 0
            mine = v["ops_per_s"][k] or 0
            label = dict(WORKLOADS)[k]
            parts.append(f"{label} {mine / best if best else float('inf'):.2f}x {best_t}")
        checks.append({"target": "slabfs --readdir-cache off (not a target, the listing trade-off)", "result": "INFO",
                       "detail": "; ".join(parts)})
    hp = ts.get("passthrough_hp", {})
    if "ops_per_s" in s and "ops_per_s" in hp:
        # Not a target: against libfuse's example with long timeouts and every cache on.
        checks.append({"target": "slabfs against passthrough_hp (not a target)", "result": "INFO",
                       "detail": "; ".join(f"{label} {(s['ops_per_s'][k] or 0) / hp['ops_per_s'][k]:.2f}x"
                                           for k, label in WORKLOADS if hp["ops_per_s"][k])})
    if "ops_per_s" in s:
        n = main["n"]
        v = s.get("stat_again_requests")
        vt = ts.get("slabfs-timeouts", {}).get("stat_again_requests")
        other = f"; slabfs-timeouts {vt:.0f} ({100 * vt / n:.1f}%)" if vt is not None else ""
        add("second stat pass sends <= 1% of files as requests", v is not None and v <= 0.01 * n,
            (f"slabfs {v:.0f} requests for {n} files ({100 * v / n:.2f}%)" if v is not None
             else "no request counts (user.slabfs.stats has no requests object)") + other)
    if "ops_per_s" in s:
        # The 4 KiB write+read row against the open/close round trips it needs.
        rw, oc = s["median_s"]["rw4k"], s["median_s"]["openclose"]
        add(f"4 KiB write+read within {FLOOR_FACTOR:g}x of the open+close floor (slabfs's time for the {RW_FILES} files, "
            f"each opened twice: O_WRONLY|O_TRUNC, 4 KiB written, closed; O_RDONLY, read, closed, <= {FLOOR_FACTOR:g} x its "
            f"open+close time for the same files, each opened and closed twice, O_WRONLY then O_RDONLY, no data)",
            oc > 0 and rw <= FLOOR_FACTOR * oc,
            f"slabfs {1e6 * rw / RW_FILES:.0f} us per file vs {1e6 * oc / RW_FILES:.0f} us for its 2 open+close pairs "
            f"({rw / oc if oc else float('inf'):.2f}x)"
            + "".join(f"; {t} at {ts[t]['median_s']['rw4k'] / ts[t]['median_s']['openclose']:.2f}x"
                      for t in ("slabfs-pt-off", "passthrough_hp")
                      if "median_s" in ts.get(t, {}) and ts[t]["median_s"]["openclose"] > 0))
        if "ops_per_s" in hp:
            mine, theirs = s["ops_per_s"]["rw4k"] or 0, hp["ops_per_s"]["rw4k"] or 0
            add("4 KiB write+read >= 1x passthrough_hp", mine >= theirs,
                f"slabfs {fmt_rate(mine)}/s vs passthrough_hp {fmt_rate(theirs)}/s "
                f"({mine / theirs if theirs else float('inf'):.2f}x)")
    if main:
        checks.extend(fio_rows.checks(main))
    if s.get("rss_per_inode") is not None:
        v = s["rss_per_inode"]
        add("slabfs daemon memory per cached inode <= 192 B", v <= 192, f"{v:.0f} B per inode (RSS delta / files)")
        n = main["n"]
        add("slabfs holds no descriptor per inode", s["fds_added"] < max(64, n // 100),
            f"{s['fds_after_stat']:.0f} descriptors after caching {n} files (+{s['fds_added']:.0f} since mount)")
    elif "main" not in skip:
        add("slabfs daemon memory per cached inode <= 192 B", False, "no measurement")
    by = {r["policy"]: r for r in rec or []}
    if "lru" in by and "default" in by:
        l, d = by["lru"], by["default"]
        le, de = l["evicted_per_page"], d["evicted_per_page"]
        if de is None or le is None:
            ok, det = False, f"evicted/page lru {le}, default {de}"
        else:
            ok = de <= 0.25 * le and d["pages_freed"] > 0
            det = f"default {de:.1f} vs lru {le:.1f} objects evicted per page freed" + (
                f" (ratio {le / de:.2f})" if de and math.isfinite(le) else "")
        add("reclaim: default evicts <= 1/4 of lru's objects per page freed", ok, det)
        # Judged on the new draw (run 3): with the kernel holding run 1's
        # files at the cut, the replay asks only for pinned objects, which no
        # policy may evict. The replay must not be worse either.
        lh, dh = l["after"]["hit_rate"], d["after"]["hit_rate"]
        ln, dn = l.get("after_new", {}).get("hit_rate"), d.get("after_new", {}).get("hit_rate")
        ok = None not in (lh, dh, ln, dn) and dn > ln and dh >= lh
        r4 = lambda v: v if v is None else round(v, 4)  # noqa: E731
        add("reclaim: default hit rate after the cut > lru's (new draw; replay not lower)", ok,
            f"new draw: default {r4(dn)} vs lru {r4(ln)}; replay: default {r4(dh)} vs lru {r4(lh)}")
        if disturbed(l) or disturbed(d):
            checks[-1]["detail"] += " (a disturbed run: see the WARNING above)"
            checks[-2]["detail"] += " (a disturbed run: see the WARNING above)"
    elif "reclaim" not in skip:
        add("reclaim comparison", False, "lru or default run missing")
    return checks


def charts(result, outdir):
    paths = []
    main = result.get("main")
    if main:
        ts = main["targets"]
        series = [t for t in FUSE_TARGETS + OPTIONAL_TARGETS if "ratio" in ts.get(t, {})]
        groups = [label for _, label in WORKLOADS]
        values = [[ts[t]["ratio"][k] for k, _ in WORKLOADS] for t in series]
        io_groups, io_values = fio_rows.chart(main, series)
        groups += io_groups
        values = [v + w for v, w in zip(values, io_values)]
        p = os.path.join(outdir, "throughput.svg")
        svgchart.grouped_bars(
            p, "Throughput relative to native (" + ("tmpfs" if result["config"].get("backing") == "tmpfs" and not result["config"].get("dir") else "disk") + ")",
            f"{main['n']} files in {NDIRS} directories, median of {result['config']['repetitions']} runs; "
            f"bars above the red line are faster than native",
            groups, series, values)
        paths.append(p)
    rec = result.get("reclaim")
    if rec:
        pol = [{"name": r["policy"], "pages_freed": r["pages_freed"], "objects_evicted": r["objects_evicted"],
                "util_before": r["util_before"], "util_after": r["util_after"],
                "hit_rate_after": r["after"]["hit_rate"],
                "hit_rate_new": r.get("after_new", {}).get("hit_rate")} for r in rec]
        p = os.path.join(outdir, "reclaim.svg")
        svgchart.reclaim_chart(
            p, "slabfs on a real mount: cutting the cache budget in half",
            f"{result['config']['files']} files, {result['config']['stats']} Zipf(1.0) stats before and after, "
            f"cut while the kernel holds run 1's files{'' if result['config'].get('reclaim_pinned', True) else ' (no: --reclaim-unpinned)'}; "
            f"lru = --eviction lru, page = --migrate off, default = page + migration",
            pol)
        paths.append(p)
    return paths


def backing_note(args):
    """Where native's tree and the daemons' backing directories live."""
    try:
        fs = subprocess.run(["findmnt", "-n", "-o", "FSTYPE,SOURCE,TARGET", "--target", args.work],
                            capture_output=True, text=True, timeout=10).stdout.split()
    except Exception:
        fs = []
    where = f"{fs[0]} ({fs[1]} on {fs[2]})" if len(fs) >= 3 else "unknown filesystem"
    if args.dir:
        return f"{args.work}, a directory on {where} (--dir)"
    if args.backing == "tmpfs":
        return f"a tmpfs the bench mounted for this run on {args.work} (creates in RAM, ~4 us natively)"
    return f"a fresh loop-mounted ext4 image on {args.work}: {where} (--backing ext4-image)"


def environment(args):
    def cmd(argv):
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout.strip()
        except Exception:
            return None
    return {
        "kernel": os.uname().release,
        "loadavg": open("/proc/loadavg").read().split()[:3],
        "cpus": os.cpu_count(),
        "fs": cmd(["findmnt", "-n", "-o", "FSTYPE,SOURCE", "--target", args.work]),
        "backing": backing_note(args),
        "bindfs": cmd([args.bindfs, "--version"]),
        "libfuse": cmd(["pkg-config", "--modversion", "fuse3"]),
        "slabfs_git": cmd(["git", "-C", os.path.dirname(os.path.abspath(__file__)), "describe", "--always", "--dirty"]),
        "nofile_limit": __import__("resource").getrlimit(__import__("resource").RLIMIT_NOFILE),
    }


OPTIONS_NOTE = f"""mount options (kernel-cache-relevant):
  slabfs          its defaults: --coherence auto (the backing filesystem's fanotify events where it can, then long
                  entry/attr timeouts; its --dry-run output in results.json says what this mount got),
                  default_permissions, readdirplus (auto), cache_readdir+keep_cache on directories, keep_cache on files,
                  no writeback cache, no FLUSH after the first over a local filesystem, one request thread
                  (--threads 1) that polls for the next request up to 100 us after a reply (--poll-us; what that costs
                  shows in the daemon CPU rows), --passthrough auto: the kernel reads and writes regular files itself
                  on the backing file (Linux 6.9+, CAP_SYS_ADMIN; the passthrough row says what the mount got)
  slabfs-pt-off   slabfs with --passthrough off: every READ and WRITE reaches the daemon
  slabfs-timeouts slabfs with --coherence timeouts: no events; entry/attr timeout 1 s (the kernel's) and its own cache's
                  timeout (--cache-timeout, 60 s)
  slabfs-rdc-off  slabfs with --readdir-cache off: no cache_readdir/keep_cache on directories, every listing reaches it
  passthrough_ll  its defaults (cache=auto: entry/attr timeout 1 s, readdirplus, no cache_readdir/keep_cache, no writeback,
                  multi-threaded) plus -o default_permissions to match slabfs; one O_PATH descriptor per inode
                  (facts.md measured -o cache=always separately: 86400 s timeouts, keep_cache and cache_readdir)
  bindfs          its defaults except --no-allow-other (slabfs does not set allow_other): default_permissions,
                  high-level libfuse with its default entry/attr timeout 1 s (Debian's 1.14.7; checked: a second stat
                  within the second does not reach it), single-threaded, no FLUSH after the first (it has no flush op)
  passthrough_hp  (with --passthrough-hp) libfuse's example/passthrough_hp.cc, its defaults: entry/attr timeout
                  86400 s (negative entries too), writeback cache, keep_cache on files, keep_cache+cache_readdir on
                  directories, splice, multi-threaded, default_permissions; one O_PATH descriptor per inode
  "stat, warm" runs right after create: entries older than the 1 s timeout are revalidated (LOOKUP), so a target
  whose create took longer pays for it again there (facts.md measured the same way); "stat, again" stats every
  file once more {STAT_AGAIN_DELAY_S:g} s later, when every 1 s timeout has expired and long ones have not"""


def main():
    ap = argparse.ArgumentParser(
        prog="mount-tests/bench.sh", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="slabfs against native, passthrough_ll, bindfs (and passthrough_hp), slabfs's reclaim policies "
                    "(and under a cgroup memory limit), "
                    "and how soon changes behind the mount show through it, on real mounts.",
        epilog="""parts:
  main       native, slabfs, slabfs-pt-off (--passthrough off), slabfs-timeouts (--coherence timeouts),
             slabfs-rdc-off (--readdir-cache off), passthrough_ll, bindfs (and passthrough_hp with --passthrough-hp):
             create N files in 100 directories, stat (warm; again 2 s later, with the FUSE requests that pass sent
             to slabfs; cold after sync + drop_caches), list every directory twice, open+close of 2000 files twice
             (the floor of the next row), 4 KiB write+read of the same 2000 files, unlink; then in the same mount
             fio on one --io-size file (1 GiB): sequential write (1 MiB, --end_fsync=1), sequential read (1 MiB,
             after drop_caches), 4 KiB random reads (after drop_caches; psync, one job), MB/s and IOPS (not for
             slabfs-rdc-off); medians of R repetitions, ratios to native, slabfs's READ/WRITE requests during the
             4 KiB write+read and fio rows, daemon RSS per cached inode and descriptors. Then the reader's stat
             latency, idle and while rm -rf removes --rm-files files directly in the backing directory
  large      the same with N=--large files, native and slabfs only, one repetition
  reclaim    slabfs --eviction lru, --eviction page --migrate off, and the defaults: the same tree, the same
             Zipf(1.0) stats, the budget cut to half of the pages in use, the same stats again. Then, per policy,
             a latency run of its own (its own mount of the same tree, filled the same way, the same Zipf run 1,
             the same cut) with a reader process across the cut: --reclaim-reader-rate lstats/s of files in cold/,
             made in the backing directory before that mount and looked up by nothing else, each once (every
             lstat a LOOKUP and a miss of the daemon's cache, checked against its LOOKUP, hit and miss counts):
             its p50/p99/max before (1 s), during (until resident pages reach the new budget's low watermark,
             polled every 10 ms: "pages back") and after (1 s)
  pressure   slabfs (lru, page, default) exec-ed in a cgroup-v1 memory cgroup of its own: half the tree looked
             up, a Zipf run, then memory.limit_in_bytes just above its usage (--pressure-headroom) while lookups
             of new files grow the cache: OOM kill or not, PSI stall (/proc/pressure/memory), slabfs's PSI events
             and pages given back, the hit rate of a new Zipf draw after; every cgroup removed on exit
  freshness  slabfs, slabfs-timeouts, bindfs, passthrough_ll (and passthrough_hp): create, unlink, rename (same
             directory, across), chmod, chown, truncate/append, mkdir, rmdir and the rewrite of a file open through
             the mount, each made directly in the backing directory, --freshness-changes times in batches of 100;
             the time until the mount shows each (p50/p99/max) and how many did not within 10 s
By default native's tree and every backing directory go on a fresh loop-mounted ext4 image (an on-disk filesystem,
so that drop_caches makes the backing directory's lookups cold too, without the history of this VM's root
filesystem); --backing tmpfs uses a tmpfs the bench mounts (the daemons' own costs only; tmpfs keeps its dentries
through drop_caches), --dir DIR a plain directory. Everything is unmounted on exit. Output: the table (stdout, or
stderr with --json), mount-tests/bench/out/{table.txt,results.json,throughput.svg,reclaim.svg}. The pressure
part needs a cgroup-v1 memory controller at /sys/fs/cgroup/memory (it is skipped, and says so, without one).
--passthrough-hp PATH adds libfuse's passthrough_hp (a binary, or a directory holding passthrough_hp.cc and
cxxopts.hpp, which bench.sh builds) to the main comparison, the rm -rf reader and the freshness part.
A slabfs without --passthrough (built before it) runs without the slabfs-pt-off column; the table says so.
Environment: SLABFS_BIN (skip the build), KEEP_LOGS=1, BENCH_DIR, PYTHON.""")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 2000 files, 1 repetition, small reclaim tree, 10000 files under rm -rf, "
                         "200 freshness changes per kind, a 256 MiB fio file")
    ap.add_argument("--json", action="store_true", help="print one JSON object on stdout (the table goes to stderr)")
    ap.add_argument("--files-main", "-n", type=int, dest="n", help="files in the main comparison (default 19000)")
    ap.add_argument("--large", type=int, metavar="N", help="files in the slabfs-only large round (default 200000; 0 skips it)")
    ap.add_argument("--repetitions", type=int, metavar="R", help="repetitions of the main comparison (default 3)")
    ap.add_argument("--files", type=int, metavar="N", help="files in the reclaim comparison (default 100000)")
    ap.add_argument("--stats", type=int, metavar="N", help="Zipf stats before and after the cut (default 200000)")
    ap.add_argument("--reclaim-timeout", type=float, default=3600, metavar="S",
                    help="slabfs --entry-timeout and --attr-timeout in the reclaim comparison (default 3600)")
    ap.add_argument("--reclaim-unpinned", action="store_true",
                    help="reclaim comparison: drop_caches between the first Zipf run and the cut, so that the kernel "
                         "holds nothing at the cut (every object unused; not what a running system looks like)")
    ap.add_argument("--reclaim-pinned", action="store_true",
                    help="reclaim comparison: the cut comes while the kernel holds what the first Zipf run touched "
                         "(the default; kept for old command lines)")
    ap.add_argument("--reclaim-reader-rate", type=int, default=rl.RATE, metavar="N",
                    help="reclaim comparison: lstats per second of the reader process that runs across the cut of "
                         "a separate latency run per policy (files of cold/, which nothing else looks up, each once: "
                         f"every lstat a LOOKUP and a miss; default {rl.RATE}; 0: no latency run)")
    ap.add_argument("--pressure-files", type=int, metavar="N",
                    help="files in the memory-pressure part (default: --files, 100000)")
    ap.add_argument("--pressure-headroom", metavar="SIZE",
                    help="memory-pressure part: memory.limit_in_bytes is set to the daemon's cgroup usage plus SIZE "
                         "before the cache grows (default: a quarter of what the growth would charge, at most 8M)")
    ap.add_argument("--pressure-psi-us", type=int, metavar="N",
                    help="memory-pressure part: slabfs --psi-threshold-us N (default: slabfs's own default)")
    ap.add_argument("--seed", type=int, default=42, help="seed of the Zipf workload (default 42)")
    ap.add_argument("--skip", action="append", default=[], choices=PARTS,
                    help="skip a part (may be repeated)")
    ap.add_argument("--only", action="append", default=[], choices=PARTS,
                    help="run only this part (may be repeated): --only reclaim runs the reclaim comparison alone, "
                         "--only pressure the memory-pressure part")
    ap.add_argument("--pll-opts", default="", help="extra -o options for passthrough_ll (e.g. cache=always)")
    ap.add_argument("--passthrough-hp", metavar="PATH",
                    help="add libfuse's passthrough_hp as a column: PATH is its binary, or a directory holding "
                         "passthrough_hp.cc and cxxopts.hpp (bench.sh builds it)")
    ap.add_argument("--rm-files", type=int, metavar="N",
                    help="files rm -rf removes behind the mount while a reader stats others (default 100000; "
                         "0 skips it)")
    ap.add_argument("--freshness-changes", type=int, metavar="N",
                    help="changes per kind in the freshness part (default 1000)")
    ap.add_argument("--io-size", metavar="SIZE",
                    help="the file of the fio rows in the main comparison (sequential write, sequential read, 4 KiB "
                         "random read), e.g. 1G, 256M (default 1G; --quick 256M; 0 skips the rows)")
    ap.add_argument("--io-runtime", type=float, metavar="S",
                    help="the most seconds the 4 KiB random read row runs (it stops sooner after reading a quarter "
                         "of the file's blocks; default 10, --quick 3)")
    ap.add_argument("--fio", default=shutil.which("fio") or "fio", help=argparse.SUPPRESS)
    ap.add_argument("--update-readme-charts", action="store_true", help="copy the SVG charts to docs/charts/")
    ap.add_argument("--parse-only", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--backing", choices=["tmpfs", "ext4-image"], default="ext4-image",
                    help="where native's tree and every backing directory go: a tmpfs mounted for the run "
                         "or a fresh loop-mounted ext4 image (the default)")
    ap.add_argument("--dir", metavar="DIR",
                    help="put the trees on DIR's filesystem as it is (e.g. a plain disk directory) instead")
    ap.add_argument("--work", help=argparse.SUPPRESS)
    ap.add_argument("--daemons", help=argparse.SUPPRESS)
    ap.add_argument("--logs", help=argparse.SUPPRESS)
    ap.add_argument("--slabfs", help=argparse.SUPPRESS)
    ap.add_argument("--passthrough-ll", dest="passthrough_ll", help=argparse.SUPPRESS)
    ap.add_argument("--passthrough-hp-bin", dest="passthrough_hp_bin", help=argparse.SUPPRESS)
    ap.add_argument("--bindfs", help=argparse.SUPPRESS)
    ap.add_argument("--outdir", help=argparse.SUPPRESS)
    ap.add_argument("--repo", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.n is None:
        a.n = 2000 if a.quick else 19000
    if a.repetitions is None:
        a.repetitions = 1 if a.quick else 3
    if a.large is None:
        a.large = 20000 if a.quick else 200000
    if a.files is None:
        a.files = 10000 if a.quick else 100000
    if a.stats is None:
        a.stats = 20000 if a.quick else 200000
    if a.rm_files is None:
        a.rm_files = 10000 if a.quick else 100000
    if a.freshness_changes is None:
        a.freshness_changes = 200 if a.quick else 1000
    if a.io_size is None:
        a.io_size = fio_rows.QUICK_SIZE if a.quick else fio_rows.DEFAULT_SIZE
    else:
        try:
            a.io_size = fio_rows.parse_size(a.io_size)
        except ValueError as e:
            ap.error(f"--io-size {e}")
        why = fio_rows.check_size(a.io_size)
        if why:
            ap.error(f"--io-size {a.io_size} bytes: {why}")
    if a.io_runtime is None:
        a.io_runtime = fio_rows.QUICK_RUNTIME_S if a.quick else fio_rows.DEFAULT_RUNTIME_S
    if a.io_runtime <= 0:
        ap.error("--io-runtime must be above 0")
    for name in ("n", "repetitions", "files", "stats", "freshness_changes"):
        if getattr(a, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be at least 1")
    for name in ("large", "rm_files"):
        if getattr(a, name) < 0:
            ap.error(f"--{name.replace('_', '-')} must be at least 0")
    if a.passthrough_hp and not (os.path.isfile(os.path.join(a.passthrough_hp, "passthrough_hp.cc"))
                                 or (os.path.isfile(a.passthrough_hp) and os.access(a.passthrough_hp, os.X_OK))):
        ap.error(f"--passthrough-hp {a.passthrough_hp}: neither an executable nor a directory holding passthrough_hp.cc")
    if a.passthrough_hp and not a.passthrough_hp_bin and os.path.isfile(a.passthrough_hp):
        a.passthrough_hp_bin = os.path.abspath(a.passthrough_hp)
    if a.pressure_files is None:
        a.pressure_files = a.files
    if a.pressure_files < 2:
        ap.error("--pressure-files must be at least 2")
    if a.pressure_headroom is not None:
        try:
            a.pressure_headroom = fio_rows.parse_size(a.pressure_headroom)
        except ValueError as e:
            ap.error(f"--pressure-headroom {e}")
        if a.pressure_headroom < 1:
            ap.error("--pressure-headroom must be above 0")
    if a.pressure_psi_us is not None and not 0 <= a.pressure_psi_us < 1_000_000:
        ap.error("--pressure-psi-us must be in [0, 1000000)")
    if a.reclaim_reader_rate < 0:
        ap.error("--reclaim-reader-rate must be at least 0")
    if a.reclaim_pinned and a.reclaim_unpinned:
        ap.error("--reclaim-pinned and --reclaim-unpinned exclude each other")
    if a.only:
        a.skip = sorted(set(a.skip) | (set(PARTS) - set(a.only)))
    if a.n > 19500:
        log(f"warning: passthrough_ll (and passthrough_hp) keep one descriptor per inode; {a.n} files may pass "
            f"the open-file limit")
    if a.parse_only:
        return 0
    if a.passthrough_hp and not a.passthrough_hp_bin:
        ap.error(f"--passthrough-hp {a.passthrough_hp}: a source directory, which bench.sh builds (run bench.sh)")
    a.work = os.path.abspath(a.work)  # passthrough_hp wants an absolute mountpoint
    if a.io_size and "main" not in a.skip and not fio_rows.available(a.fio):
        ap.error("fio is missing (apt-get install fio), or --io-size 0 skips the fio rows")
    # A slabfs without --passthrough (one built before it) runs without the
    # slabfs-pt-off column, and the table says so.
    a.skip_targets = {}
    if not slabfs_has_option(a.slabfs, "--passthrough"):
        a.skip_targets["slabfs-pt-off"] = f"{a.slabfs} has no --passthrough option (its mount --help does not list it)"
        log(f"note: slabfs-pt-off not run: {a.skip_targets['slabfs-pt-off']}")

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
    started = time.monotonic()
    b = Bench(a)
    result = {"config": {"files_main": a.n, "repetitions": a.repetitions, "large": a.large, "files": a.files,
                         "stats": a.stats, "seed": a.seed, "quick": a.quick, "pll_opts": a.pll_opts,
                         "backing": a.backing, "dir": a.dir, "reclaim_pinned": not a.reclaim_unpinned,
                         "reclaim_reader": {"rate": a.reclaim_reader_rate, "warmup_s": rl.WARMUP_S, "before_s": rl.BEFORE_S,
                                            "after_s": rl.AFTER_S, "poll_s": rl.POLL_S,
                                            "back_timeout_s": rl.BACK_TIMEOUT_S,
                                            "cold_files": rl.cold_count(a.reclaim_reader_rate)},
                         "pressure": {"files": a.pressure_files, "headroom": a.pressure_headroom,
                                      "psi_threshold_us": a.pressure_psi_us, "grow_s": pressure.GROW_S,
                                      "poll_s": pressure.POLL_S, "cgroup_root": pressure.CG_ROOT},
                         "rm_files": a.rm_files, "freshness_changes": a.freshness_changes,
                         "passthrough_hp": a.passthrough_hp, "io_size": a.io_size, "io_runtime_s": a.io_runtime,
                         "skipped_targets": a.skip_targets,
                         "freshness": {"batch": freshness.BATCH, "limit_s": freshness.LIMIT_S,
                                       "window_s": freshness.WINDOW_S, "settle_s": freshness.SETTLE_S},
                         "argv": {t: b.argv(t, "SRC", "MNT") for t in fuse_targets(a)}},
              "environment": environment(a), "options_note": OPTIONS_NOTE}
    try:
        # Real directories: --dry-run checks them. What each variant would get.
        src, mnt = b.fresh("dry-run-src"), b.fresh("dry-run-mnt")
        for t in SLABFS_VARIANTS:
            if t in a.skip_targets:
                continue
            r = subprocess.run(b.argv(t, src, mnt, ["--dry-run"]), capture_output=True, text=True)
            out = (r.stdout + r.stderr).strip().replace(src, "SRC").replace(mnt, "MNT")
            result["slabfs_dry_run" if t == "slabfs" else f"{t}_dry_run"] = out
    except OSError:
        pass
    status = 0
    try:
        if "main" not in a.skip:
            result["main"] = b.round(["native"] + fuse_targets(a), a.n, a.repetitions, "main", io=bool(a.io_size))
            if a.io_size:
                result["main"]["io_config"] = fio_rows.config(a.fio, a.io_size, a.io_runtime)
                result["main"]["io_skipped"] = IO_SKIP
            if a.skip_targets:
                result["main"]["skipped_targets"] = a.skip_targets
            if a.rm_files > 0:
                result["rm_reader"] = rmreader.run(
                    b, ["native", "slabfs", "slabfs-timeouts", "bindfs", "passthrough_ll"] + optional_targets(a),
                    a.rm_files, idle_s=1.0 if a.quick else rmreader.IDLE_S)
        if "large" not in a.skip and a.large > 0:
            result["large"] = b.round(["native", "slabfs"], a.large, 1, "large")
        if "reclaim" not in a.skip:
            result["reclaim"] = b.reclaim()
        if "pressure" not in a.skip:
            result["pressure"] = pressure.run(b, sys.modules[__name__],
                                              b.zipf_sequence(a.pressure_files, a.stats, a.seed),
                                              b.zipf_sequence(a.pressure_files, a.stats, a.seed, draw=1))
        if "freshness" not in a.skip:
            result["freshness"], result["freshness_meta"] = freshness.run(
                b, ["slabfs", "slabfs-timeouts", "bindfs", "passthrough_ll"] + optional_targets(a), a.freshness_changes)
    except Interrupted as e:
        log(f"interrupted ({e}); cleaning up")
        b.errors.append({"error": f"interrupted: {e}"})
        status = 130
    result["errors"] = b.errors
    result["elapsed_s"] = time.monotonic() - started

    parts = [f"backing directories (native's tree too): {result['environment']['backing']}"]
    if result.get("main"):
        parts.append(table_round(result["main"], "main comparison", a.repetitions))
    if result.get("rm_reader"):
        parts.append(rmreader.table(result["rm_reader"]))
    if result.get("large"):
        parts.append(table_round(result["large"], "large round (slabfs only; native for the ratios)", 1))
    if result.get("reclaim"):
        parts.append(table_reclaim(result["reclaim"], a))
    if result.get("pressure"):
        parts.append(pressure.table(result["pressure"]))
    if "freshness" in result:
        parts.append(freshness.table(result["freshness"], result["freshness_meta"], a.freshness_changes,
                                     FUSE_TARGETS + OPTIONAL_TARGETS))
    parts.append(OPTIONS_NOTE)
    checks = targets_check(result.get("main"), result.get("reclaim"), a.skip) if status == 0 else []
    if status == 0:
        if "main" not in a.skip and a.rm_files > 0:
            checks += rmreader.checks(result.get("rm_reader"))
        if "reclaim" not in a.skip:
            checks += rl.checks(result.get("reclaim"), a.files)
        if "pressure" not in a.skip:
            checks += pressure.checks(result.get("pressure"))
        if "freshness" not in a.skip:
            checks += freshness.checks(result.get("freshness", {}))
    result["targets_check"] = checks
    if checks:
        parts.append("targets (a benchmark: a MISS does not fail the run):\n" +
                     "\n".join(f"  {c['result']}  {c['target']}: {c['detail']}" for c in checks))
    if b.errors:
        parts.append("errors:\n" + "\n".join(f"  {e}" for e in b.errors))
    os.makedirs(a.outdir, exist_ok=True)
    for stale in ("throughput.svg", "reclaim.svg"):  # a skipped part leaves no old chart behind
        if os.path.exists(os.path.join(a.outdir, stale)):
            os.unlink(os.path.join(a.outdir, stale))
    try:
        result["charts"] = charts(result, a.outdir)
    except Exception as e:  # a chart must not lose the numbers
        result["charts"] = []
        parts.append(f"charts failed: {type(e).__name__}: {e}")
    if result["charts"]:
        parts.append("charts: " + ", ".join(os.path.relpath(p, a.repo) for p in result["charts"]))
        if a.update_readme_charts:
            dest = os.path.join(a.repo, "docs", "charts")
            os.makedirs(dest, exist_ok=True)
            for p in result["charts"]:
                shutil.copy(p, dest)
            parts.append(f"copied to {os.path.relpath(dest, a.repo)}/")
    result["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
    parts.append(f"elapsed {result['elapsed_s']:.0f} s; load average at the start {' '.join(result['environment']['loadavg'])}, "
                 f"at the end {' '.join(result['loadavg_end'])} ({os.cpu_count()} CPUs; the machine is shared, "
                 f"so single figures can move 2-3x: read the ratios)")
    text = "\n\n".join(parts)
    with open(os.path.join(a.outdir, "results.json"), "w") as f:
        json.dump(result, f, indent=1, default=str)
    with open(os.path.join(a.outdir, "table.txt"), "w") as f:
        f.write(text + "\n")
    if a.json:
        log(text)
        print(json.dumps(result, default=str))
    else:
        print(text)
    if status:
        return status
    return 1 if b.errors else 0


if __name__ == "__main__":
    sys.exit(main())
