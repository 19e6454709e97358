"""What requests feel while reclaim runs: the latency run of the reclaim
comparison (mount-tests/bench.sh, part "reclaim"). Standard library only.

A run of its own per policy, after the comparison's (whose figures never see
the reader): its own mount of the same backing tree, filled the same way
(every directory listed, every file looked up), drop_caches, the same Zipf
run 1, then the same budget cut (half of the pages in use) with a reader
process running across it.

The reader is a process of its own (python3 THIS_FILE --reader ...), not a
thread: a thread of the driver would share the GIL with the stats polling and
time the driver, not the daemon. It lstats files of cold/, a directory made
directly in the backing directory before this run's mount and looked up by
nothing else (not the fill, not run 1), each once, in a shuffled order: every
lstat is a FUSE LOOKUP (the kernel holds none of them) and a miss of the
daemon's cache (it never saw them) in every window, so that before, during
and after compare the same kind of request; the daemon's hit and miss counts
per window say whether they were. The backing directory's own kernel caches
hold cold/'s entries (lstat-ed directly there before the reader starts), so
that a miss costs the same in every window and not a disk read in the first.
It goes at a fixed rate (open loop: an operation late on its schedule starts
at once), so that it leaves the 2 CPUs to the daemon's request and reclaim
threads instead of spinning against them, and keeps each operation's start
(CLOCK_MONOTONIC, the clock the driver reads) and duration.

The windows: before (BEFORE_S up to the setxattr of cache_size), during (from
the setxattr until resident pages first read at or below the new budget's low
watermark, cache.lowWatermarkPages of the stats read right after the cut:
"pages back"; polled every POLL_S), after (AFTER_S from then).
"""
import bisect
import ctypes
import json
import math
import os
import random
import signal
import statistics
import subprocess
import sys
import time
from array import array

from daemons import Daemon, drop_caches
from stats import active_objects, counter, dig, evicted, page_size, resident_pages, slabfs_stats
from workloads import fill, tree, zipf_lookups

# Reader lstats per second (--reclaim-reader-rate). Each file it looks up
# stays held by the kernel (3600 s entries), pinning its new objects: 5000/s
# pinned ~6,000 more at the cut and 25,000 more over 5 s, as much as the
# cut's own target; 2000/s keeps that a third as large.
RATE = 2000
WARMUP_S = 0.25        # the reader's first operations are not counted
BEFORE_S = 1.0
AFTER_S = 1.0
POLL_S = 0.010         # stats polled this often from the cut until pages are back
BACK_TIMEOUT_S = 5.0   # "not back" after this long (lru and page may never get there)
# The budget's low watermark when user.slabfs.stats does not report one:
# DirectoryCache.Configuration.lowWatermark's default (Sources/DCache/Configuration.swift).
DEFAULT_LOW_WATERMARK = 0.85
COLD_FILES = 20000     # files in cold/ at least (more if the rate needs them)
BACK_TARGET_S = 0.5    # default's pages back within this at 100,000 files
P99_TARGET = 2.0       # default's reader p99 during the cut <= this x before
TARGET_FILES = 100000


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def low_watermark_pages(st, budget, psize):
    """The pages the budget's reclaim goes down to, and where that figure
    came from: the stats if they report it (pages, or a fraction of the
    budget), else DEFAULT_LOW_WATERMARK of the budget, as Pressure.swift
    computes it (Int(Double(budget) * low) / page size)."""
    pages = dig(st, "cache.lowWatermarkPages", "cache.watermarks.lowPages", "cache.watermarks.low_pages",
                "lowWatermarkPages")
    if isinstance(pages, (int, float)):
        return int(pages), "stats (low watermark in pages)"
    frac = dig(st, "cache.lowWatermark", "cache.watermarks.low", "configuration.low_watermark", "lowWatermark")
    try:
        frac = float(frac) if frac is not None else None
    except (TypeError, ValueError):
        frac = None
    if frac and 0 < frac <= 1:
        return int(budget * frac) // psize, f"stats (low watermark {frac:g} of the budget)"
    return (int(budget * DEFAULT_LOW_WATERMARK) // psize,
            f"not in user.slabfs.stats: the default {DEFAULT_LOW_WATERMARK:g} of the budget "
            f"(Sources/DCache/Configuration.swift)")


class Reader:
    """The reader process, started on `paths` at `rate` lstats per second."""

    def __init__(self, paths, rate, workdir, max_s=120.0):
        self.list_path = os.path.join(workdir, "reader-paths")
        self.out_path = os.path.join(workdir, "reader-out")
        with open(self.list_path, "w") as f:
            f.write("\n".join(paths) + "\n")
        self.rate = rate
        self.paths = paths
        self.files = len(paths)
        # The reader stops by itself after max_s (and if the driver goes away).
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--reader", self.list_path, self.out_path, str(rate), str(max_s)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            self.kill()
            raise RuntimeError(f"the reader did not start: {line.strip()} {self.proc.stderr.read().strip()}")
        self.started_ns = time.monotonic_ns()
        self.result = None

    def stop(self):
        """Ends the reader; returns (start_ns, dur_ns, errno) arrays."""
        if self.result is not None:
            return self.result
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGUSR1)
        try:
            _, err = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()
            raise RuntimeError("the reader did not stop within 30 s of SIGUSR1")
        if self.proc.returncode != 0:
            raise RuntimeError(f"the reader exited with {self.proc.returncode}: {err.strip()[-500:]}")
        start, dur, errs = array("q"), array("q"), array("q")
        with open(self.out_path, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
            start.fromfile(f, n)
            dur.fromfile(f, n)
            errs.fromfile(f, n)
        self.result = (start, dur, errs)
        for p in (self.list_path, self.out_path):
            try:
                os.unlink(p)
            except OSError:
                pass
        return self.result

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


_libc = None


def getxattr1(path, name, size=65536):
    """getxattr(2) with one buffer of `size`: one GETXATTR request. Python's
    os.getxattr asks with 128 bytes first and again after ERANGE, so that
    the daemon builds the value twice."""
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.getxattr.restype = ctypes.c_ssize_t
        _libc.getxattr.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t]
    buf = ctypes.create_string_buffer(size)
    n = _libc.getxattr(os.fsencode(path), name.encode(), buf, size)
    if n < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), path)
    return buf.raw[:n]


def slabinfo(mnt):
    """(resident pages, active objects) from user.slabfs.slabinfo: the sums
    of num_slabs x pagesperslab and of active_objs. A read costs the
    daemon's one request thread ~0.2 ms against ~1 ms for
    user.slabfs.stats, whose JSON it builds while the reader's LOOKUPs wait."""
    text = getxattr1(mnt, "user.slabfs.slabinfo").decode()
    pages = objects = 0
    for line in text.splitlines():
        f = line.split()
        if "slabdata" not in f or f[0] in ("slabinfo", "#"):
            continue
        i = f.index("slabdata")
        pages += int(f[i + 2]) * int(f[5])
        objects += int(f[1])
    return pages, objects


class Poller:
    """Polls the daemon every POLL_S while the reader runs (before, during
    and after alike): the pages and objects from slabinfo, every fifth one
    kept as the timeline. Then full stats every 100 ms until the counters
    settle. Keeps every read's interval, so that the reader's operations
    that overlapped one can be told apart."""
    TIMELINE_EVERY = 5

    def __init__(self, mnt, stats, pages_of, settle_key, timeline_row):
        self.mnt, self.stats, self.pages_of, self.key, self.row = mnt, stats, pages_of, settle_key, timeline_row
        self.n = 0
        self.cut_ns = None
        self.timeline = []
        self.cost = {}
        self.q0s, self.q1s = array("q"), array("q")
        # settle: the last change seen (slabinfo's figures while the reader
        # runs, then the stats' counters), from the cut on
        self.last_key, self.stable_since, self.last_full = None, None, None
        # slabinfo must say what the stats say (else every poll reads the stats).
        try:
            self.cheap = any(slabinfo(mnt)[0] == pages_of(stats(mnt)) for _ in range(3))
        except (OSError, ValueError, IndexError):
            self.cheap = False

    def _changed(self, key, t):
        if key != self.last_key:
            self.last_key, self.stable_since = key, t

    def once(self, phase, full=False):
        q0 = time.monotonic_ns()
        full = full or not self.cheap
        if full:
            st = self.stats(self.mnt)
            pages = self.pages_of(st)
        else:
            pages, objects = slabinfo(self.mnt)
        q1 = time.monotonic_ns()
        self.q0s.append(q0)
        self.q1s.append(q1)
        self.cost.setdefault(phase, []).append(q1 - q0)
        if full:
            self.last_full = st
        if self.cut_ns is not None:
            ms = round((q1 - self.cut_ns) / 1e6, 1)
            if full:
                self.timeline.append({"ms": ms, **self.row(st)})
                key = ("stats",) + tuple(self.key(st))
                if self.last_key and self.last_key[0] == "slabinfo" and self.last_key[1] == key[1]:
                    self.last_key = key  # from slabinfo's figures to the stats': the same pages, no change
                self._changed(key, q1)
            else:
                if self.n % self.TIMELINE_EVERY == 0:
                    self.timeline.append({"ms": ms, "pages": pages, "objects": objects})
                # A switch to the stats' key is not a change: it carries on.
                self._changed(("slabinfo", pages, objects), q1)
        self.n += 1
        return pages, q0, q1

    def _pace(self, q0, period=POLL_S):
        time.sleep(max(0.0, (q0 + period * 1e9 - time.monotonic_ns()) / 1e9))

    def run_for(self, seconds, phase):
        end = time.monotonic_ns() + int(seconds * 1e9)
        while time.monotonic_ns() < end:
            _, q0, _ = self.once(phase)
            self._pace(q0)

    def run_until(self, target, timeout_s, budget_pages=None, quiet_s=1.0):
        """Polls until the pages are at or below target, or timeout_s after
        the cut, or the cache settled above it (no change for quiet_s: it
        will not get there by itself; self.settled_above); returns (reached,
        when_ns, pages then, fewest pages seen); self.under_budget_ns: when
        they were first at or below budget_pages."""
        self.settled_above = False
        deadline = self.cut_ns + int(timeout_s * 1e9)
        pmin = None
        self.under_budget_ns = None
        while True:
            pages, q0, q1 = self.once("during")
            pmin = pages if pmin is None else min(pmin, pages)
            if budget_pages is not None and self.under_budget_ns is None and pages <= budget_pages:
                self.under_budget_ns = q1
            if pages <= target or q1 >= deadline:
                return pages <= target, q1, pages, pmin
            if self.stable_since is not None and q1 - self.stable_since >= quiet_s * 1e9:
                self.settled_above = True
                return False, q1, pages, pmin
            self._pace(q0)

    def settle(self, quiet_s, timeout_s):
        """Full stats every 100 ms until nothing has changed for quiet_s
        (pages, objects and the settle key's counters; the quiet counted
        from the last change slabinfo saw, if the stats show none since)."""
        deadline = time.monotonic_ns() + int(timeout_s * 1e9)
        while time.monotonic_ns() < deadline:
            _, q0, q1 = self.once("settle", full=True)
            if q1 - self.stable_since >= quiet_s * 1e9:
                break
            self._pace(q0, 0.1)
        return self.last_full

    def overlapped(self, t, d):
        """Did the operation [t, t + d) overlap a poll? (Polls are disjoint and in order.)"""
        i = bisect.bisect_left(self.q0s, t + d) - 1
        return i >= 0 and self.q1s[i] > t

    def costs(self):
        out = {"cheap_reads": "user.slabfs.slabinfo" if self.cheap else "user.slabfs.stats (slabinfo disagreed)"}
        for phase, ns in self.cost.items():
            out[phase] = {"reads": len(ns), "median_ms": round(statistics.median(ns) / 1e6, 3),
                          "max_ms": round(max(ns) / 1e6, 3)}
        return out


def timeline(start, dur, lo_ns, hi_ns, cut_ns, step_s=0.05):
    """The reader's operations in step_s buckets: [ms since the cut, ops, p99 us, max us]."""
    step = int(step_s * 1e9)
    buckets = {}
    for t, d in zip(start, dur):
        if lo_ns <= t < hi_ns:
            buckets.setdefault((t - cut_ns) // step, []).append(d)
    out = []
    for k in sorted(buckets):
        ds = sorted(buckets[k])
        out.append([round(k * step_s * 1000), len(ds), round(ds[max(0, math.ceil(0.99 * len(ds)) - 1)] / 1e3, 1),
                    round(ds[-1] / 1e3, 1)])
    return out


def pct(ds, q):
    return round(ds[max(0, math.ceil(q * len(ds)) - 1)] / 1e3, 1) if ds else None


def window(start, dur, lo_ns, hi_ns, overlapped=None):
    """p50/p99/max (us) of the operations that started in [lo_ns, hi_ns);
    with `overlapped`, the same of those that overlapped no poll (*_clean)."""
    ops = [(t, d) for t, d in zip(start, dur) if lo_ns <= t < hi_ns]
    ds = sorted(d for _, d in ops)
    out = {"ops": len(ds), "p50_us": pct(ds, 0.5), "p99_us": pct(ds, 0.99),
           "max_us": round(ds[-1] / 1e3, 1) if ds else None, "seconds": round((hi_ns - lo_ns) / 1e9, 3)}
    if overlapped:
        clean = sorted(d for t, d in ops if not overlapped(t, d))
        out.update({"ops_clean": len(clean), "p50_us_clean": pct(clean, 0.5), "p99_us_clean": pct(clean, 0.99),
                    "max_us_clean": round(clean[-1] / 1e3, 1) if clean else None})
    return out


def span_s():
    """How long the reader runs at most (warm-up, before, during, after, slack)."""
    return WARMUP_S + BEFORE_S + BACK_TIMEOUT_S + AFTER_S + 1.0


def cold_count(rate):
    """Files in cold/: the reader's whole run at `rate`, each once (COLD_FILES at least)."""
    return max(COLD_FILES, int(rate * span_s()) + rate) if rate > 0 else 0


def make_cold(src, rate, seed):
    """cold/ directly in the backing directory `src` (before the latency
    run's mount): cold_count(rate) empty files; returns their names in the
    reader's (shuffled) order."""
    n = cold_count(rate)
    cold = os.path.join(src, "cold")
    os.mkdir(cold)
    names = [f"c{i:07d}" for i in range(n)]
    for name in names:
        os.close(os.open(os.path.join(cold, name), os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))
    random.Random(f"{seed}/reader").shuffle(names)
    return names


def run(bench, name, options, src, nfiles, ndirs, seq1):
    """The latency run of policy `name` (slabfs `options`, the comparison's)
    on the backing tree `src` (the comparison's, still there): its own
    mount, filled as the comparison's, drop_caches, Zipf run 1, then the cut
    with the reader on cold/ across it. Returns res["latency"] of the policy."""
    a = bench.a
    rate = a.reclaim_reader_rate
    log(f"[reclaim] {name}: latency run (its own mount; reader on cold/ at {rate}/s across the cut)")
    names = make_cold(src, rate, a.seed)
    mnt = bench.fresh(f"reclaim-{name}-latency-mnt")
    dirs, files = tree(mnt, nfiles, ndirs)
    out = {"options": list(options), "cold_files": len(names)}
    d = Daemon("slabfs", bench.argv("slabfs", src, mnt, list(options)), mnt, a)
    with d:
        # Filled as the comparison fills: every directory listed, every file
        # looked up (not cold/), then the kernel lets go of everything.
        out["fill_s"] = fill(dirs, files)
        drop_caches()
        time.sleep(1.0)
        # The same Zipf run 1 (the kernel then holds what it touched).
        out["run1"], _, _ = zipf_lookups(mnt, files, seq1)
        if a.reclaim_unpinned:
            drop_caches()
            time.sleep(1.0)
        # cold/ into the backing filesystem's own caches (directly, not
        # through the mount: lstat sends no fanotify event), so that the
        # daemon's misses cost the same in every window.
        cold_src = os.path.join(src, "cold")
        for n in names:
            os.lstat(os.path.join(cold_src, n))
        cold = os.path.join(mnt, "cold")
        st_r0 = slabfs_stats(mnt)
        reader = Reader([os.path.join(cold, n) for n in names], rate, bench.fresh(f"reclaim-{name}-reader"),
                        max_s=span_s() + 70)
        try:
            time.sleep(WARMUP_S)
            cut(mnt, out, reader, st_r0)
        finally:
            reader.kill()
    if d.stop_note:
        out["stop_note"] = d.stop_note
    return out


def cut(mnt, res, reader, st_r0):
    """The latency run's budget cut (the comparison's: half of the pages in
    use) with `reader` running: BEFORE_S of polling, the cut, polling until
    resident pages reach the new budget's low watermark ("pages back") or
    BACK_TIMEOUT_S, AFTER_S more, the reader stops; then full stats until
    the counters settle. What the reader felt goes to res["reader"]."""
    # One polling cadence in all three windows (the reads reach the
    # daemon's one request thread too, so the reader pays for them alike
    # before, during and after): slabinfo every POLL_S; the full stats
    # three times while the reader runs (before the cut, right after it for
    # the new low watermark, when pages are back), each a poll too (the
    # no-poll figures leave out the lstats they overlapped), then every
    # 100 ms once the reader has stopped.
    poller = Poller(mnt, slabfs_stats, resident_pages,
                    lambda st: (resident_pages(st), evicted(st), counter(st, "pagesReclaimed"),
                                counter(st, "moves")),
                    lambda st: {"pages": resident_pages(st), "objects": active_objects(st),
                                "evicted": evicted(st), "kicks": counter(st, "kernelDropsRequested"),
                                "passes": counter(st, "reclaimPasses"),
                                "budget_wakeups": counter(st, "pressureBudget"),
                                "forgets": sum((dig(st, "requests", default={}) or {}).get(k, 0)
                                               for k in ("forget", "batch_forget"))})
    poller.run_for(BEFORE_S, phase="before")
    poller.once("before", full=True)
    st_before = poller.last_full
    pages_before = resident_pages(st_before)
    psize = page_size(st_before)
    res["pages_before"] = pages_before
    res["objects_before"] = active_objects(st_before)
    res["budget_before"] = dig(st_before, "cache.budgetBytes", "budgetBytes")
    res["kernel_held_before"] = dig(st_before, "cache.kernelHeldInodes", "kernelHeldInodes")
    half = pages_before // 2
    cut_ns = time.monotonic_ns()
    poller.cut_ns = cut_ns
    t0 = time.perf_counter()
    try:
        os.setxattr(mnt, "user.slabfs.cache_size", str(half * psize).encode())
        res["cut_method"] = f"setfattr user.slabfs.cache_size={half * psize} (half of {pages_before} pages)"
        explicit = False
    except OSError as e:
        res["cache_size_error"] = f"{e.strerror} (errno {e.errno})"
        os.setxattr(mnt, "user.slabfs.reclaim", str(pages_before - half).encode())
        res["cut_method"] = (f"user.slabfs.cache_size not settable ({e.strerror}): "
                             f"setfattr user.slabfs.reclaim={pages_before - half} (half of {pages_before} pages)")
        explicit = True
    res["cut_call_s"] = time.perf_counter() - t0
    # The new budget and its low watermark (cache.lowWatermarkPages) as the
    # daemon reports them right after the cut.
    poller.once("during", full=True)
    st_cut = poller.last_full
    if explicit:
        target, source = half, "the explicit reclaim's target (no writable budget)"
    else:
        budget = dig(st_cut, "cache.budgetBytes", "budgetBytes") or half * psize
        res["budget_cut_bytes"] = budget
        target, source = low_watermark_pages(st_cut, budget, psize)
    res["low_watermark_pages"], res["low_watermark_source"] = target, source
    budget_pages = None if "budget_cut_bytes" not in res else res["budget_cut_bytes"] // psize
    back, back_ns, pback, pmin = poller.run_until(target, BACK_TIMEOUT_S, budget_pages)
    poller.once("after", full=True)  # the windows' hits and misses
    st_back = poller.last_full
    res["under_budget_s"] = (round((poller.under_budget_ns - cut_ns) / 1e9, 4)
                             if poller.under_budget_ns is not None else None)
    # What the kernel's hold alone needs: every held inode and its dentry
    # packed into full slabs (no policy may free them).
    nheld = res["kernel_held_before"] or 0
    per = {c.get("name"): c for c in dig(st_before, "cache.caches", "caches", default=[])}
    res["pinned_floor_pages"] = sum(math.ceil(nheld / c["objectsPerSlab"]) * c.get("pagesPerSlab", 1)
                                    for n, c in per.items() if n in ("slabfs_dentry", "slabfs_inode")
                                    and c.get("objectsPerSlab"))
    res["pages_back_s"] = round((back_ns - cut_ns) / 1e9, 4) if back else None
    res["pages_back_timeout_s"] = BACK_TIMEOUT_S
    res["pages_at_back"], res["pages_min_polled"] = pback, pmin
    res["pages_settled_above"] = poller.settled_above
    if not back:
        res["pages_back_gave_up_s"] = round((back_ns - cut_ns) / 1e9, 3)
    poller.run_for(max(0.0, (back_ns - time.monotonic_ns()) / 1e9 + AFTER_S + 0.01), phase="after")
    arrays = reader.stop()
    st_r1 = slabfs_stats(mnt)
    # Wait for the reclaim (and the kernel drops it asked for) to settle: no change in
    # the full stats reads (every 100 ms) for 1 s.
    st_after = poller.settle(quiet_s=1.0, timeout_s=60)
    res["settle_s"] = time.perf_counter() - t0
    res["stats_polls"] = poller.costs()
    res["cut_timeline"] = poller.timeline
    r0, r1 = (dig(st, "requests", "cache.requests") for st in (st_r0, st_r1))
    lookups = (r1.get("lookup", 0) - r0.get("lookup", 0)) if isinstance(r0, dict) and isinstance(r1, dict) else None
    hm = lambda s0, s1: (counter(s1, "hits") - counter(s0, "hits"),  # noqa: E731
                         counter(s1, "misses") - counter(s0, "misses"))
    # cold/ itself is one more LOOKUP (the kernel did not hold it).
    res["reader"] = summarize(arrays, cut_ns, back_ns, back, lookups, 1, poller.overlapped,
                              hits={"before": hm(st_r0, st_before), "during": hm(st_before, st_back),
                                    "after": hm(st_back, st_r1)})
    res["reader"]["rate"] = reader.rate
    res["reader"]["files"] = reader.files
    try:
        res["reclaim_report"] = json.loads(os.getxattr(mnt, "user.slabfs.reclaim").decode())
    except (OSError, ValueError):
        res["reclaim_report"] = None
    res["pages_after"] = resident_pages(st_after)
    res["objects_evicted"] = evicted(st_after) - evicted(st_before)
    res["pages_freed"] = counter(st_after, "pagesReclaimed") - counter(st_before, "pagesReclaimed")
    res["kicks"] = counter(st_after, "kernelDropsRequested") - counter(st_before, "kernelDropsRequested")
    res["moves"] = counter(st_after, "moves") - counter(st_before, "moves")


def summarize(reader_arrays, cut_ns, back_ns, back_reached, lookups, dirs_unheld, overlapped=None, hits=None):
    """The reader's figures around the cut: res["reader"]."""
    start, dur, errs = reader_arrays
    first = start[0] if start else cut_ns
    lo = max(first + int(WARMUP_S * 1e9), cut_ns - int(BEFORE_S * 1e9))
    before = window(start, dur, lo, cut_ns, overlapped)
    during = window(start, dur, cut_ns, back_ns + 1, overlapped)
    after = window(start, dur, back_ns + 1, back_ns + 1 + int(AFTER_S * 1e9), overlapped)
    ratio = (during["p99_us"] / before["p99_us"]) if before["p99_us"] and during["p99_us"] is not None else None
    clean = ((during["p99_us_clean"] / before["p99_us_clean"])
             if before.get("p99_us_clean") and during.get("p99_us_clean") is not None else None)
    failed = sum(1 for e in errs if e)
    out = {"ops": len(start), "failed": failed, "before": before, "during": during, "after": after,
           "p99_ratio": round(ratio, 2) if ratio is not None else None,
           "p99_ratio_clean": round(clean, 2) if clean is not None else None, "pages_back": back_reached,
           # Every lstat should be a LOOKUP (plus one per directory the kernel did not hold).
           "lookups_daemon": lookups, "lookups_expected": len(start) + dirs_unheld, "dirs_unheld": dirs_unheld}
    # The daemon's hits and misses per window (stats read at the windows'
    # edges; "before" from the reader's start, its warm-up too, "after"
    # until it stopped): the reader's files are new to the daemon, so all
    # of them should be misses in every window.
    if hits:
        for w, (h, m) in hits.items():
            out[w]["hits"], out[w]["misses"] = h, m
    out["timeline"] = timeline(start, dur, lo, back_ns + 1 + int(AFTER_S * 1e9), cut_ns)
    if failed:
        first_err = next(e for e in errs if e)
        out["first_error"] = os.strerror(first_err)
    return out


def fmt_us(v):
    return "-" if v is None else (f"{v:.0f}" if v >= 100 else f"{v:.1f}")


def fmt_share(w):
    """Misses as a percentage of the daemon's lookups in a window."""
    h, m = w.get("hits"), w.get("misses")
    return "-" if h is None or h + m == 0 else f"{100 * m / (h + m):.0f}%"


def fmt_win(w):
    return "/".join(fmt_us(w[k]) for k in ("p50_us", "p99_us", "max_us"))


def latency_rows(rec):
    """(policy, res["latency"]) of the policies whose latency run has a reader."""
    return [(r["policy"], r["latency"]) for r in rec or [] if (r.get("latency") or {}).get("reader")]


def fmt_hm(x):
    return ", ".join(f"{w} {x[w].get('hits', '-')}/{x[w].get('misses', '-')}" for w in ("before", "during", "after"))


def table(rec):
    """Lines for table_reclaim: each policy's latency run."""
    rows = latency_rows(rec)
    if not rows:
        return []
    r0 = rows[0][1]
    lines = [f"  what requests feel while reclaim runs: per policy a latency run of its own after the comparison (its own "
             f"mount of the same tree, filled the same way, drop_caches, the same Zipf run 1, the same cut; none of the "
             f"figures above sees it) with a reader process across the cut: lstats of files in cold/ ({r0['cold_files']} "
             f"made in the backing directory before that mount, looked up by nothing else, the backing directory's own "
             f"caches warm), each once, {r0['reader'].get('rate')}/s: every lstat a FUSE LOOKUP and a miss of the daemon's "
             f"cache; us per lstat p50/p99/max; before: {BEFORE_S:g} s up to the cut; during: from the setxattr of "
             f"cache_size until resident pages <= the new budget's low watermark (pages back; {BACK_TIMEOUT_S:g} s at "
             f"most); after: {AFTER_S:g} s from then; all three windows poll the daemon alike, user.slabfs.slabinfo every "
             f"{1000 * POLL_S:g} ms (those reads queue on its one request thread like the reader's LOOKUPs; the full "
             f"stats at the cut's edges only, and every 100 ms once the reader has stopped)"]
    cols = ["policy", "pages back", "<= budget", "before", "during", "after", "p99 x", "no-poll p99 b/d/a", "x",
            "misses b/d/a", "lstats b/d/a", "LOOKUPs/lstats"]
    widths = [9, 11, 10, 18, 20, 18, 7, 19, 6, 16, 17, 16]
    lines.append("  " + "".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cols, widths))))
    for policy, r in rows:
        x = r["reader"]
        back = (f"{r['pages_back_s']:.3f} s" if x["pages_back"] else f">{BACK_TIMEOUT_S:g} s")
        ub = r.get("under_budget_s")
        vals = [policy, back, "-" if ub is None else f"{ub:.3f} s",
                fmt_win(x["before"]), fmt_win(x["during"]), fmt_win(x["after"]),
                "-" if x["p99_ratio"] is None else f"{x['p99_ratio']:.2f}",
                "/".join(fmt_us(x[w].get("p99_us_clean")) for w in ("before", "during", "after")),
                "-" if x.get("p99_ratio_clean") is None else f"{x['p99_ratio_clean']:.2f}",
                "/".join(fmt_share(x[w]) for w in ("before", "during", "after")),
                f"{x['before']['ops']}/{x['during']['ops']}/{x['after']['ops']}",
                f"{x['lookups_daemon'] if x['lookups_daemon'] is not None else '-'}/{x['lookups_expected']}"]
        lines.append("  " + "".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(vals, widths))))
    for policy, r in rows:
        x = r["reader"]
        run1 = r.get("run1") or {}
        notes = [f"target {r['low_watermark_pages']} pages (low watermark from {r['low_watermark_source']}), "
                 f"budget {r.get('budget_cut_bytes')} B; resident {r['pages_before']} -> "
                 f"{r.get('pages_at_back')} when back -> {r.get('pages_after')} settled ({r.get('settle_s', 0):.1f} s); "
                 f"{r.get('objects_evicted')} evicted, {r.get('pages_freed')} pages freed, {r.get('kicks')} kernel drops; "
                 f"{r.get('kernel_held_before')} inodes held by the kernel at the cut (>= "
                 f"{r.get('pinned_floor_pages')} pages of pinned inodes and dentries, packed); run 1 "
                 f"{run1.get('lookups')} lookups, hit rate "
                 + ("-" if run1.get("hit_rate") is None else f"{run1['hit_rate']:.3f}"),
                 f"daemon lookups hits/misses: {fmt_hm(x)}"]
        if not x["pages_back"]:
            notes.append(f"not back: {back_note(r)}")
        polls = r.get("stats_polls") or {}
        spent = [f"{ph} {polls[ph]['reads']} x {polls[ph]['median_ms']:.2f} ms (max {polls[ph]['max_ms']:.1f})"
                 for ph in ("before", "during", "after") if ph in polls]
        if spent:
            notes.append("polls " + ", ".join(spent))
        if x["lookups_daemon"] is not None and x["lookups_daemon"] != x["lookups_expected"]:
            notes.append(f"LOOKUP delta {x['lookups_daemon']} != {x['ops']} lstats + {x['dirs_unheld']} (cold/) "
                         f"(kernel drops made the kernel forget cold/, or another process used the mount)")
        if x["failed"]:
            notes.append(f"{x['failed']} lstats failed ({x.get('first_error')})")
        lines.append(f"    {policy}: " + "; ".join(notes))
    lines.append("  (<= budget: from the cut until resident pages were first at or below the new budget (the high "
                 "watermark); misses: the daemon's lookups in each window that were misses (hits/misses per window "
                 "above: before from the reader's start, after until it stopped);")
    lines.append("   p99 x: during over before; no-poll: the lstats that overlapped none of the bench's own reads of "
                 "slabinfo or the stats, which the target is judged on; LOOKUPs/lstats: the daemon's LOOKUP requests "
                 "(user.slabfs.stats requests.lookup) from the reader's start to its end, against its lstats plus one "
                 "for cold/)")
    return lines


def back_note(r):
    if r.get("pages_settled_above"):
        return (f"settled at {r.get('pages_at_back')} pages {r.get('pages_back_gave_up_s')} s after the cut "
                f"(no change for 1 s), lowest resident seen {r.get('pages_min_polled')}")
    return (f"not within {BACK_TIMEOUT_S:g} s ('during' is those {BACK_TIMEOUT_S:g} s), lowest resident seen "
            f"{r.get('pages_min_polled')}")


def checks(rec, nfiles):
    """The latency run's targets (default's), and an INFO line: were the
    reader's lookups misses in every window."""
    comparison = {r["policy"]: r for r in rec or []}
    by = dict(latency_rows(rec))
    d = by.get("default")
    size = "" if nfiles == TARGET_FILES else f" (this run: {nfiles} files, the target is for {TARGET_FILES})"
    # Judged on the comparison's cut: in the latency run the reader's own
    # misses keep adding objects while the cut runs (about 70 pages a
    # second), a moving target the detail reports beside it.
    name1 = (f"reclaim: default's pages back (resident <= the new budget's low watermark) <= {BACK_TARGET_S:g} s "
             f"after the cut (the comparison's cut, no reader; 100 ms stats reads)")
    name2 = f"reclaim: default's reader p99 during the cut <= {P99_TARGET:g}x its p99 before (latency run, every lookup a miss)"
    if not d:
        why = ("no latency run (--reclaim-reader-rate 0)" if "default" in comparison
               and not comparison["default"].get("latency") else "no default latency run")
        return [{"target": name1, "result": "MISS", "detail": why},
                {"target": name2, "result": "MISS", "detail": why}]
    others = "; ".join(f"{p} {'%.3f s' % r['pages_back_s'] if r['pages_back_s'] is not None else 'not back'}"
                       for p, r in by.items() if p != "default")
    cmp_d = comparison.get("default") or {}
    back = d["pages_back_s"] is not None
    cut_back = cmp_d.get("cut_pages_back_s")
    ok1 = cut_back is not None and cut_back <= BACK_TARGET_S
    det1 = ((f"within {cut_back:.1f} s" if cut_back is not None else "not back") + "; latency run (reader adding objects): "
            + (f"{d['pages_back_s']:.3f} s" if back else f"not back: {back_note(d)}")
            + (f"; under the budget after {d['under_budget_s']:.3f} s" if d.get("under_budget_s") is not None else "")
            + f" ({d['pages_before']} -> {d['low_watermark_pages']} pages; the last reclaim pass "
            + (f"{d['reclaim_report']['milliseconds']:.0f} ms" if (d.get("reclaim_report") or {}).get("milliseconds")
               is not None else "not reported") + ")"
            + (f"; {others}" if others else "") + size)
    check1 = {"target": name1, "result": "PASS" if ok1 else "MISS", "detail": det1}
    x = d["reader"]
    # Judged on the lstats that overlapped none of the bench's own polls.
    ratio = x.get("p99_ratio_clean")
    b, du = x["before"], x["during"]
    ok2 = ratio is not None and ratio <= P99_TARGET
    det2 = (f"{du.get('p99_us_clean')} us during ({du.get('ops_clean')} lstats that overlapped no poll) vs "
            f"{b.get('p99_us_clean')} us before ({'-' if ratio is None else f'{ratio:.2f}x'}); all lstats "
            f"{du['p99_us']} vs {b['p99_us']} us ({x['p99_ratio']}x); max during {du['max_us']} us"
            + "".join(f"; {p} {r['reader'].get('p99_ratio_clean')}x" for p, r in by.items() if p != "default") + size)
    check2 = {"target": name2, "result": "PASS" if ok2 else "MISS", "detail": det2}
    # Not a target: the premise of the comparison before/during/after.
    allmiss = all(r["reader"][w].get("hits") == 0 for r in by.values() for w in ("before", "during", "after"))
    check3 = {"target": "reclaim latency run: the reader's lookups are misses in every window (not a target)",
              "result": "INFO", "detail": ("yes" if allmiss else "NO (hits among them)") + "; hits/misses "
              + "; ".join(f"{p}: {fmt_hm(r['reader'])}" for p, r in by.items())}
    return [check1, check2, check3]


# ---------------------------------------------------------------------------
# The reader process


def _reader_main(list_path, out_path, rate, max_s):
    with open(list_path) as f:
        paths = [p for p in f.read().split("\n") if p]
    stop = []
    signal.signal(signal.SIGUSR1, lambda *_: stop.append(1))
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    parent = os.getppid()
    start, dur, errs = array("q"), array("q"), array("q")
    lstat, clock, sleep = os.lstat, time.monotonic_ns, time.sleep
    interval = int(1e9 / rate)
    print("ready", flush=True)
    t0 = clock()
    deadline = t0 + int(max_s * 1e9)
    for i, p in enumerate(paths):
        if stop:
            break
        due = t0 + i * interval
        now = clock()
        if now < due:
            sleep((due - now) / 1e9)
        if i % 1000 == 0 and (os.getppid() != parent or now > deadline):
            break
        a = clock()
        e = 0
        try:
            lstat(p)
        except OSError as ex:
            e = ex.errno or -1
        b = clock()
        start.append(a)
        dur.append(b - a)
        errs.append(e)
    # Out of files: wait for the driver's signal, so that it reads a finished file.
    while not stop and os.getppid() == parent and clock() < deadline:
        sleep(0.01)
    tmp = out_path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(len(start).to_bytes(8, "little"))
        start.tofile(f)
        dur.tofile(f)
        errs.tofile(f)
    os.rename(tmp, out_path)
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--reader":
        sys.exit(_reader_main(sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])))
    print(f"usage: {sys.argv[0]} --reader PATHS OUT RATE MAX_S (driver.py starts it)", file=sys.stderr)
    sys.exit(2)
