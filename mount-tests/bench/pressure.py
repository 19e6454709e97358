"""Memory really running short (mount-tests/bench.sh, part "pressure"): does
slabfs give pages back before the kernel has to kill or stall it? Standard
library only; driver.py runs it and reports it.

Per policy (lru, page, default), on one tree of N files (--pressure-files,
default --files) made once in the backing directory:

  mount   slabfs -f with --entry-timeout/--attr-timeout 3600 and otherwise
          its defaults (its PSI trigger on /proc/pressure/memory included;
          --pressure-psi-us sets the threshold), exec-ed inside a cgroup-v1
          memory cgroup of its own (CG_ROOT/slabfs-bench-PID-POLICY), so that
          everything the daemon allocates is charged there
  fill    every file of the first half looked up, drop_caches, Zipf(1.0)
          run 1 over the whole tree (its hit rate: "before"), drop_caches
  limit   memory.limit_in_bytes = the cgroup's usage + --pressure-headroom
          (by default a quarter of what the growth would charge, at most 8 MiB)
  grow    the files neither the fill nor run 1 touched, each looked up once
          (every one a miss: the cache grows), for GROW_S at most or until the
          daemon is gone; the cgroup, /proc/pressure/memory and the daemon's
          stats polled every POLL_S meanwhile, and LINGER_S after
  after   if the daemon lives: drop_caches, a new Zipf draw (run 3 of the
          reclaim part's sequences) under the same limit: its hit rate

Whatever happens the daemon is unmounted and its cgroup removed (any process
still in it moved back to the root first); bench.sh's trap removes the
cgroups listed in WORK/cgroups too. No sysctl is changed.
"""

import json
import math
import os
import random
import select
import shutil
import subprocess
import sys
import threading
import time

from daemons import Daemon, Interrupted, drop_caches, is_mounted, rss_bytes
from reclaim_latency import getxattr1
from stats import counter, dig, resident_pages, slabfs_stats
from workloads import tree, zipf_lookups

CG_ROOT = "/sys/fs/cgroup/memory"
# The default headroom: a quarter of what the growth lookups would charge
# at KMEM_PER_FILE each (measured: ~1.3 KiB per new file, mostly the
# kernel's fuse_inode, dentry and ext4 inode, against ~150 B of slabfs's own
# pages), between 512 KiB and 8 MiB: the limit is met a quarter of the way in.
HEADROOM_MAX = 8 << 20
HEADROOM_MIN = 512 << 10
KMEM_PER_FILE = 1400
GROW_S = 30.0
POLL_S = 0.02
LINGER_S = 2.0   # polling after the grow phase: a PSI window is 1 s (2 s without CAP_SYS_RESOURCE)
POLICIES = [("lru", ["--eviction", "lru"]), ("page", ["--eviction", "page", "--migrate", "off"]), ("default", [])]


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def unavailable():
    """Why this part cannot run here (None if it can)."""
    if not os.path.isfile(os.path.join(CG_ROOT, "memory.limit_in_bytes")):
        return f"no cgroup-v1 memory controller at {CG_ROOT}"
    if not os.path.isfile("/proc/pressure/memory"):
        return "no /proc/pressure/memory (PSI off)"
    return None


def psi():
    """/proc/pressure/memory: {"some": {"avg10": .., "total": us}, "full": {...}}."""
    out = {}
    try:
        with open("/proc/pressure/memory") as f:
            for line in f:
                kind, *kv = line.split()
                out[kind] = {k: float(v) if "." in v else int(v) for k, v in (x.split("=") for x in kv)}
    except OSError:
        pass
    return out


def slabinfo_bytes():
    """The kernel's slab caches (/proc/slabinfo): {name: bytes}."""
    out = {}
    try:
        with open("/proc/slabinfo") as f:
            for line in f.readlines()[2:]:
                x = line.split()
                out[x[0]] = int(x[2]) * int(x[3])
    except (OSError, ValueError, IndexError):
        pass
    return out


class Cgroup:
    """A cgroup-v1 memory cgroup of our own, as a context manager: created,
    listed in `record` (for bench.sh's trap), and removed on exit after
    moving any process still in it back to the root."""

    def __init__(self, name, record):
        self.path = os.path.join(CG_ROOT, name)
        self.record = record

    def __enter__(self):
        os.mkdir(self.path)
        with open(self.record, "a") as f:
            f.write(self.path + "\n")
        return self

    def join(self):
        """For preexec_fn: moves the calling (child) process in."""
        with open(os.path.join(self.path, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))

    def read(self, name, default=None):
        try:
            with open(os.path.join(self.path, name)) as f:
                return f.read()
        except OSError:
            return default

    def num(self, name):
        v = self.read(name)
        return int(v) if v is not None else None

    def kv(self, name):
        v = self.read(name) or ""
        return {a: int(b) for a, b in (line.split() for line in v.splitlines() if len(line.split()) == 2)}

    def write(self, name, value):
        with open(os.path.join(self.path, name), "w") as f:
            f.write(str(value))

    def __exit__(self, *exc):
        for _ in range(50):
            procs = (self.read("cgroup.procs") or "").split()
            for pid in procs:
                try:
                    with open(os.path.join(CG_ROOT, "cgroup.procs"), "w") as f:
                        f.write(pid)
                except OSError:
                    pass
            try:
                os.rmdir(self.path)
                return False
            except FileNotFoundError:
                return False
            except OSError:
                time.sleep(0.1)
        log(f"  WARNING: cannot remove {self.path}")
        return False


class Trigger(threading.Thread):
    """A PSI trigger of the bench's own on /proc/pressure/memory, registered
    as slabfs's PressureMonitor registers its own, outside the cgroup: when
    the kernel would have woken slabfs's poll(), whatever slabfs then does."""

    def __init__(self, stall_us, t0_ns):
        super().__init__(daemon=True)
        self.stall_us, self.t0 = stall_us, t0_ns
        self.events = []   # ms after t0
        self.error = None
        self.halt = threading.Event()
        self.spec = None
        try:
            self.fd = os.open("/proc/pressure/memory", os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as e:
            self.fd, self.error = None, f"{e.strerror} (errno {e.errno})"
            return
        # As PressureMonitor does: a 1 s window needs CAP_SYS_RESOURCE, else
        # 2 s at the same stall rate.
        for stall, window in ((stall_us, 1_000_000), (2 * stall_us, 2_000_000)):
            try:
                os.write(self.fd, f"some {stall} {window}\0".encode())
                self.spec = f"some {stall} {window}"
                return
            except OSError as e:
                self.error = f"{e.strerror} (errno {e.errno})"
        os.close(self.fd)
        self.fd = None

    def run(self):
        if self.fd is None:
            return
        p = select.poll()
        p.register(self.fd, select.POLLPRI)
        try:
            while not self.halt.is_set():
                for _, ev in p.poll(20):
                    if ev & select.POLLPRI:
                        self.events.append(round((time.monotonic_ns() - self.t0) / 1e6, 1))
                    if ev & select.POLLERR:
                        self.error = "POLLERR"
                        return
        finally:
            os.close(self.fd)


class Monitor(threading.Thread):
    """Polls the cgroup, PSI and the daemon's stats every POLL_S into rows."""

    def __init__(self, cg, mnt, t0_ns, counter, resident_pages):
        super().__init__(daemon=True)
        self.cg, self.mnt, self.t0 = cg, mnt, t0_ns
        self.counter, self.resident_pages = counter, resident_pages
        self.rows = []
        self.halt = threading.Event()

    def run(self):
        while not self.halt.is_set():
            t = time.monotonic_ns()
            oom = self.cg.kv("memory.oom_control")
            p = psi()
            row = {"ms": round((t - self.t0) / 1e6, 1), "usage": self.cg.num("memory.usage_in_bytes"),
                   "kmem": self.cg.num("memory.kmem.usage_in_bytes"), "failcnt": self.cg.num("memory.failcnt"),
                   "oom_kill": oom.get("oom_kill"), "under_oom": oom.get("under_oom"),
                   "psi_some_us": p.get("some", {}).get("total"), "psi_some_avg10": p.get("some", {}).get("avg10"),
                   "psi_full_us": p.get("full", {}).get("total")}
            try:
                st = json.loads(getxattr1(self.mnt, "user.slabfs.stats").decode())
                row.update({"pages": self.resident_pages(st), "psi_events": self.counter(st, "pressurePSI"),
                            "cgroup_events": self.counter(st, "pressureCgroup"),
                            "pages_reclaimed": self.counter(st, "pagesReclaimed"),
                            "evicted": self.counter(st, "evictedInodes") + self.counter(st, "evictedDentries"),
                            "passes": self.counter(st, "reclaimPasses")})
            except (OSError, ValueError) as e:
                row["stats_error"] = os.strerror(e.errno) if isinstance(e, OSError) and e.errno else str(e)
            self.rows.append(row)
            self.halt.wait(POLL_S)


class Watchdog(threading.Thread):
    """Aborts the mount's FUSE connection (umount -f) when the daemon was
    killed but cannot finish dying: after an OOM kill, a thread of it can be
    stuck in the kernel (D state in fuse_reverse_inval_entry, waiting for a
    directory lock that a lookup holds while it waits for the dead daemon's
    answer), which keeps /dev/fuse open, so the lookup, and this bench,
    would wait forever. Touches nothing on the mount itself."""

    def __init__(self, pid, mnt):
        super().__init__(daemon=True)
        self.pid, self.mnt = pid, mnt
        self.aborted_ms = None
        self.t0 = time.monotonic()
        self.halt = threading.Event()

    def run(self):
        while not self.halt.wait(0.5):
            try:
                with open(f"/proc/{self.pid}/stat") as f:
                    state = f.read().rsplit(")", 1)[1].split()[0]
            except OSError:
                return
            if state == "Z" and is_mounted(self.mnt):
                subprocess.run(["umount", "-f", self.mnt], capture_output=True)
                self.aborted_ms = round((time.monotonic() - self.t0) * 1000)
                return


def first(rows, pred):
    for r in rows:
        if pred(r):
            return r["ms"]
    return None


def lat(ds):
    ds = sorted(ds)
    if not ds:
        return {"ops": 0, "p50_us": None, "p99_us": None, "max_us": None}
    q = lambda x: round(ds[max(0, math.ceil(x * len(ds)) - 1)] / 1e3, 1)  # noqa: E731
    return {"ops": len(ds), "p50_us": q(0.5), "p99_us": q(0.99), "max_us": round(ds[-1] / 1e3, 1)}


def one(bench, name, extra, src, files, seq1, seq3, record):
    """One policy's run; returns its figures."""
    a = bench.a
    mnt = bench.fresh(f"pressure-{name}-mnt")
    mfiles = [os.path.join(mnt, os.path.relpath(f, src)) for f in files]
    opts = list(extra) + ["--entry-timeout", "3600", "--attr-timeout", "3600"]
    if a.pressure_psi_us is not None:
        opts += ["--psi-threshold-us", str(a.pressure_psi_us)]
    res = {"policy": name, "options": opts, "files": len(files)}
    half = len(files) // 2
    with Cgroup(f"slabfs-bench-{os.getpid()}-{name}", record) as cg:
        res["cgroup"] = cg.path
        d = Daemon("slabfs", bench.argv("slabfs", src, mnt, opts), mnt, a, preexec=cg.join)
        with d:
            st = slabfs_stats(mnt)
            res["configuration"] = dig(st, "configuration")
            res["psi_threshold_us"] = (res["configuration"] or {}).get("psi_threshold_us")
            lstat = os.lstat
            for f in mfiles[:half]:
                lstat(f)
            # The kernel lets go, so that run 1's lookups reach the cache.
            drop_caches()
            time.sleep(0.5)
            res["before"], _ = zipf(mnt, mfiles, seq1)
            drop_caches()
            time.sleep(1.0)
            st0 = slabfs_stats(mnt)
            usage0 = cg.num("memory.usage_in_bytes")
            res["usage_at_limit"], res["kmem_at_limit"] = usage0, cg.num("memory.kmem.usage_in_bytes")
            res["memstat_at_limit"] = {k: v for k, v in cg.kv("memory.stat").items() if k in ("rss", "cache")}
            res["pages_at_limit"] = resident_pages(st0)
            res["rss_at_limit"] = rss_bytes(d.pid)
            res["psi_at_limit"] = psi()
            # The files neither the fill nor run 1 touched: each a miss.
            seen = set(range(half)) | set(seq1)
            grow = [i for i in range(len(files)) if i not in seen]
            random.Random(f"{a.seed}/pressure").shuffle(grow)
            headroom = a.pressure_headroom or min(HEADROOM_MAX, max(HEADROOM_MIN, len(grow) * KMEM_PER_FILE // 4))
            limit = usage0 + headroom
            res["headroom"], res["limit"] = headroom, limit
            slab0 = slabinfo_bytes()
            t0 = time.monotonic_ns()
            cg.write("memory.limit_in_bytes", limit)
            mon = Monitor(cg, mnt, t0, counter, resident_pages)
            mon.start()
            watchdog = Watchdog(d.pid, mnt)
            watchdog.start()
            # The kernel's side of slabfs's trigger: the same one, and one
            # at 1 ms, registered by the bench (t0: the limit).
            daemon_us = int(res["psi_threshold_us"] or 0)
            triggers = {us: Trigger(us, t0) for us in sorted({daemon_us, 1000}) if us > 0}
            for t in triggers.values():
                t.start()
            durs, err = [], None
            clock = time.perf_counter_ns
            end = t0 + int(GROW_S * 1e9)
            try:
                for i in grow:
                    c0 = clock()
                    try:
                        lstat(mfiles[i])
                    except OSError as e:
                        err = f"{e.strerror} (errno {e.errno}) after {len(durs)} lookups"
                        break
                    durs.append(clock() - c0)
                    if time.monotonic_ns() > end:
                        break
                grow_s = (time.monotonic_ns() - t0) / 1e9
                slab1 = slabinfo_bytes()
                time.sleep(LINGER_S)
            finally:
                watchdog.halt.set()
                mon.halt.set()
                mon.join(timeout=10)
                for t in triggers.values():
                    t.halt.set()
                    t.join(timeout=10)
            res["bench_triggers"] = {str(us): {"spec": t.spec, "first_ms": t.events[0] if t.events else None,
                                               "events": len(t.events), "error": None if t.spec else t.error}
                                     for us, t in triggers.items()}
            rows = mon.rows
            res["grow"] = {"files": len(grow), "done": len(durs), "seconds": round(grow_s, 3), "error": err,
                           **lat(durs)}
            # Not a figure of slabfs's: how this run got unstuck, if it had to.
            res["watchdog_abort_ms"] = watchdog.aborted_ms
            res["kernel_slab_growth"] = dict(sorted(((k, slab1.get(k, 0) - v) for k, v in slab0.items()
                                                     if slab1.get(k, 0) - v > 64 << 10),
                                                    key=lambda kv: -kv[1])[:6])
            res.update(outcome(cg, rows, d, usage0, limit))
            last = next((r for r in reversed(rows) if "pages" in r), None)
            res["stats_last"] = last
            if d.alive() and not err:
                try:
                    drop_caches()
                    time.sleep(1.0)
                    res["after"], st_end = zipf(mnt, mfiles, seq3)
                    res["pages_end"] = resident_pages(st_end)
                    res["usage_end"] = cg.num("memory.usage_in_bytes")
                except OSError as e:
                    res["after_error"] = f"{e.strerror} (errno {e.errno})"
            res["failcnt_end"] = cg.num("memory.failcnt")
            res["max_usage"] = cg.num("memory.max_usage_in_bytes")
            res["oom_control_end"] = cg.kv("memory.oom_control")
        res["daemon_exit"] = d.proc.returncode
        if d.stop_note:
            res["stop_note"] = d.stop_note
    shutil.rmtree(mnt, ignore_errors=True)
    return res


def zipf(mnt, mfiles, seq):
    result, _, st1 = zipf_lookups(mnt, mfiles, seq)
    result["seconds"] = round(result["seconds"], 3)
    return result, st1


def outcome(cg, rows, d, usage0, limit):
    """What the kernel and slabfs did, from the monitor's rows."""
    out = {}
    oom = cg.kv("memory.oom_control")
    killed = (oom.get("oom_kill") or 0) > 0
    out["oom_killed"] = killed
    out["daemon_alive"] = d.alive()
    out["first_failcnt_ms"] = first(rows, lambda r: (r.get("failcnt") or 0) > 0)
    out["oom_kill_ms"] = first(rows, lambda r: (r.get("oom_kill") or 0) > 0)
    out["stats_gone_ms"] = first(rows, lambda r: "stats_error" in r)
    with_stats = [r for r in rows if "pages" in r]
    if with_stats:
        s0 = with_stats[0]
        out["psi_events"] = with_stats[-1]["psi_events"] - s0["psi_events"]
        out["cgroup_events"] = with_stats[-1]["cgroup_events"] - s0["cgroup_events"]
        out["first_cgroup_event_ms"] = first(with_stats, lambda r: r["cgroup_events"] > s0["cgroup_events"])
        out["pages_given_back"] = with_stats[-1]["pages_reclaimed"] - s0["pages_reclaimed"]
        out["evicted"] = with_stats[-1]["evicted"] - s0["evicted"]
        out["first_psi_event_ms"] = first(with_stats, lambda r: r["psi_events"] > s0["psi_events"])
        out["first_pages_back_ms"] = first(with_stats, lambda r: r["pages_reclaimed"] > s0["pages_reclaimed"])
        out["pages_max"] = max(r["pages"] for r in with_stats)
        out["pages_min_after_max"] = min(r["pages"] for r in with_stats[[r["pages"] for r in with_stats].index(out["pages_max"]):])
    ps = [r for r in rows if r.get("psi_some_us") is not None]
    if ps:
        out["psi_some_us"] = ps[-1]["psi_some_us"] - ps[0]["psi_some_us"]
        out["psi_full_us"] = (ps[-1]["psi_full_us"] or 0) - (ps[0]["psi_full_us"] or 0)
        out["psi_some_avg10_max"] = max(r["psi_some_avg10"] for r in ps)
        # The most stall within any 1 s (the trigger's window) the polls saw.
        best, j = 0, 0
        for i, r in enumerate(ps):
            while r["ms"] - ps[j]["ms"] > 1000:
                j += 1
            best = max(best, r["psi_some_us"] - ps[j]["psi_some_us"])
        out["psi_some_max_1s_us"] = best
    us = [r["usage"] for r in rows if r.get("usage") is not None]
    out["usage_max_polled"] = max(us) if us else None
    km = [r["kmem"] for r in rows if r.get("kmem") is not None]
    out["kmem_max_polled"] = max(km) if km else None
    out["rows"] = rows
    return out


def run(bench, seq1, seq3):
    """All policies; returns {"files": N, "runs": [...], "skipped": why}."""
    a = bench.a
    out = {"files": a.pressure_files, "headroom": a.pressure_headroom, "grow_s": GROW_S, "poll_s": POLL_S,
           "psi_threshold_us": a.pressure_psi_us, "runs": []}
    why = unavailable()
    if why:
        out["skipped"] = why
        log(f"[pressure] skipped: {why}")
        return out
    record = os.path.join(os.path.dirname(os.path.abspath(a.daemons)), "cgroups")
    src = bench.fresh("pressure-src")
    _, files = tree(src, a.pressure_files, max(1, a.pressure_files // 100))
    for dd in range(max(1, a.pressure_files // 100)):
        os.mkdir(os.path.join(src, f"d{dd:03d}"))
    for f in files:
        os.close(os.open(f, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))
    os.sync()
    out["psi_before"] = psi()
    for name, extra in POLICIES:
        log(f"[pressure] {name}: slabfs {' '.join(extra) or '(defaults)'} in a memory cgroup, {a.pressure_files} files, "
            f"limit = usage + {'a quarter of the growth' if not a.pressure_headroom else f'{a.pressure_headroom >> 10} KiB'} "
            f"while the cache grows")
        try:
            r = one(bench, name, extra, src, files, seq1, seq3, record)
        except Interrupted:
            raise
        except Exception as e:
            log(f"    ERROR: {type(e).__name__}: {e}")
            bench.errors.append({"round": "pressure", "target": name, "error": f"{type(e).__name__}: {e}"})
            continue
        out["runs"].append(r)
        log("    " + summary_line(r))
    shutil.rmtree(src, ignore_errors=True)
    return out


def ms(v):
    return "-" if v is None else (f"{v / 1000:.2f} s" if v >= 1000 else f"{v:.0f} ms")


def mib(v):
    return "-" if v is None else f"{v / 2**20:.1f}"


def verdict(r):
    if r["oom_killed"]:
        return f"OOM-killed at {ms(r['oom_kill_ms'])}"
    if not r["daemon_alive"]:
        return f"died ({r.get('daemon_exit')})"
    return "survived"


def summary_line(r):
    g = r["grow"]
    return (f"{verdict(r)}; {g['done']} of {g['files']} growth lookups in {g['seconds']:.2f} s; PSI some "
            f"+{(r.get('psi_some_us') or 0) / 1000:.1f} ms (most in 1 s {(r.get('psi_some_max_1s_us') or 0) / 1000:.1f} ms, "
            f"trigger {r.get('psi_threshold_us')} us); slabfs PSI events {r.get('psi_events')}, cgroup events "
            f"{r.get('cgroup_events')}, pages given back "
            f"{r.get('pages_given_back')}; failcnt {r.get('failcnt_end')}")


def table(pr):
    if pr.get("skipped"):
        return f"memory pressure: skipped ({pr['skipped']})"
    runs = pr["runs"]
    if not runs:
        return "memory pressure: no result"
    r0 = runs[0]
    lines = [f"memory pressure: slabfs exec-ed in a cgroup-v1 memory cgroup of its own ({CG_ROOT}), {pr['files']} files; "
             f"fill (half the files looked up, drop_caches, Zipf run 1 over all, drop_caches), then "
             f"memory.limit_in_bytes = the cgroup's usage + {r0['headroom'] / 2**20:.2f} MiB"
             f"{'' if pr['headroom'] else ' (a quarter of what the growth would charge at ~1.4 KiB a file)'} "
             f"while every file neither touched is looked up once "
             f"(the cache grows; {pr['grow_s']:g} s at most); the cgroup, /proc/pressure/memory and user.slabfs.stats "
             f"polled every {1000 * pr['poll_s']:g} ms; then, if the daemon lives, drop_caches and a new Zipf draw under "
             f"the same limit",
             f"  slabfs's PSI trigger: {r0.get('psi_threshold_us')} us of 'some' stall per 1 s window on the "
             f"system-wide /proc/pressure/memory (--psi-threshold-us)"
             + (f"; the kernel took the same trigger from the bench as '{spec}'"
                + (" (no CAP_SYS_RESOURCE: a 2 s window at the same rate, as slabfs falls back to)"
                   if spec.endswith(" 2000000") else "")
                if (spec := ((r0.get("bench_triggers") or {}).get(str(r0.get("psi_threshold_us"))) or {}).get("spec"))
                else "")]
    cols = ["policy", "outcome", "grown", "failcnt at", "PSI some +", "max in 1 s", "PSI/cg ev.", "pages back",
            "pages at limit/max", "usage/limit MiB", "kmem +MiB", "hit rate b/a"]
    widths = [9, 24, 14, 11, 11, 11, 11, 11, 19, 17, 10, 14]
    lines.append("  " + "".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cols, widths))))
    for r in runs:
        g = r["grow"]
        hb = r["before"]["hit_rate"]
        ha = (r.get("after") or {}).get("hit_rate")
        vals = [r["policy"], verdict(r), f"{g['done']}/{g['files']}", ms(r.get("first_failcnt_ms")),
                f"{(r.get('psi_some_us') or 0) / 1000:.1f} ms", f"{(r.get('psi_some_max_1s_us') or 0) / 1000:.1f} ms",
                f"{r.get('psi_events', '-')}/{r.get('cgroup_events', '-')}", str(r.get("pages_given_back", "-")),
                f"{r['pages_at_limit']}/{r.get('pages_max', '-')}",
                f"{mib(r.get('usage_max_polled'))}/{mib(r['limit'])}",
                "-" if r.get("kmem_max_polled") is None or r.get("kmem_at_limit") is None
                else mib(r["kmem_max_polled"] - r["kmem_at_limit"]),
                f"{'-' if hb is None else f'{hb:.3f}'}/{'-' if ha is None else f'{ha:.3f}'}"]
        lines.append("  " + "".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(vals, widths))))
    for r in runs:
        g = r["grow"]
        slab = ", ".join(f"{k} +{v / 2**20:.1f} MiB" for k, v in r.get("kernel_slab_growth", {}).items())
        pa = r.get("psi_at_limit", {}).get("some", {})
        lines.append(f"    {r['policy']}: growth lookups p50/p99/max {g['p50_us']}/{g['p99_us']}/{g['max_us']} us"
                     + (f", stopped: {g['error']}" if g.get("error") else "")
                     + f"; PSI some at the limit avg10 {pa.get('avg10')} total {pa.get('total')} us, avg10 at most "
                       f"{r.get('psi_some_avg10_max')} after, full +{(r.get('psi_full_us') or 0) / 1000:.1f} ms; "
                       f"first PSI event {ms(r.get('first_psi_event_ms'))}, first cgroup event "
                       f"{ms(r.get('first_cgroup_event_ms'))}"
                       + "".join(f" (the bench's own trigger '{t['spec'] or us}': "
                                 + (f"first event {ms(t['first_ms'])}, {t['events']} in all" if t["first_ms"] is not None
                                    else ("never" if not t["error"] else t["error"])) + ")"
                                 for us, t in (r.get("bench_triggers") or {}).items())
                       + f", first pages back "
                       f"{ms(r.get('first_pages_back_ms'))}; usage at the limit {mib(r['usage_at_limit'])} MiB "
                       f"(kmem {mib(r.get('kmem_at_limit'))}, {r.get('memstat_at_limit')}), daemon RSS "
                       f"{mib(r.get('rss_at_limit'))} MiB; oom_control {r.get('oom_control_end')}; "
                       f"daemon exit status {r.get('daemon_exit')}"
                     + (f"; the kernel's slab caches grew (/proc/slabinfo, all of the machine): {slab}" if slab else ""))
    lines.append("  (outcome: from the limit; grown: growth lookups done of those planned; failcnt at: the first time "
                 "the cgroup hit its limit; PSI some +: stall added to /proc/pressure/memory's total from the limit to "
                 f"{LINGER_S:g} s after the growth; max in 1 s: the most of it within one second, what the trigger "
                 "compares with its threshold; PSI/cg ev.: the daemon's pressurePSI and pressureCgroup counters (the system-wide "
                 "trigger, and its own cgroup's memory.pressure_level); pages back: its pagesReclaimed; "
                 "kmem +: memory.kmem.usage_in_bytes, kernel memory charged to the daemon's cgroup; hit rate b/a: the "
                 "daemon's hit rate in Zipf run 1 (before the limit) and in the new draw after it)")
    return "\n".join(lines)


def checks(pr):
    name = "pressure: default gives pages back and is not OOM-killed under a cgroup limit"
    if not pr or pr.get("skipped"):
        return [{"target": name, "result": "MISS", "detail": f"not run ({(pr or {}).get('skipped', 'no result')})"}]
    by = {r["policy"]: r for r in pr.get("runs", [])}
    d = by.get("default")
    if not d:
        return [{"target": name, "result": "MISS", "detail": "no default run"}]
    ok = not d["oom_killed"] and d["daemon_alive"] and (d.get("pages_given_back") or 0) > 0
    det = (f"default {verdict(d)}, {d.get('psi_events')} PSI and {d.get('cgroup_events')} cgroup events, "
           f"{d.get('pages_given_back')} pages given back; "
           f"PSI some +{(d.get('psi_some_us') or 0) / 1000:.1f} ms, at most {(d.get('psi_some_max_1s_us') or 0) / 1000:.1f} ms "
           f"in 1 s against a {d.get('psi_threshold_us')} us trigger; "
           + "; ".join(f"{p} {verdict(r)}" for p, r in by.items() if p != "default"))
    return [{"target": name, "result": "PASS" if ok else "MISS", "detail": det}]
