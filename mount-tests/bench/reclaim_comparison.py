"""The reclaim comparison of the bench (mount-tests/bench.sh, part
"reclaim"): slabfs's eviction policies (lru, page, the default) on the same
tree and the same Zipf(1.0) stats, the budget cut to half of the pages in
use while the kernel holds what the first run touched, then the same stats
again and a new draw; per policy, a latency run of its own across the cut
(reclaim_latency.py). Standard library only; driver.py runs it, report.py
and targets.py read it."""

import json
import math
import os
import shutil
import time

import reclaim_latency as rl
from daemons import Daemon, Interrupted, drop_caches, log, rss_bytes
from stats import (active_objects, counter, counter_deltas, dig, evicted, page_size, resident_pages, slabfs_stats,
                   utilization)
from workloads import fill, tree, zipf_lookups, zipf_sequence


def reclaim_policy(bench, name, extra, nfiles, seq1, seq2, seq3):
    log(f"[reclaim] {name}: slabfs {' '.join(extra) or '(defaults)'}, {nfiles} files")
    src = bench.fresh(f"reclaim-{name}-src")
    mnt = bench.fresh(f"reclaim-{name}-mnt")
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
    timeouts = ["--entry-timeout", str(bench.a.reclaim_timeout), "--attr-timeout", str(bench.a.reclaim_timeout),
                "--psi-threshold-us", "0"]
    res["options"] += timeouts
    d = Daemon("slabfs", bench.argv("slabfs", src, mnt, list(extra) + timeouts), mnt, bench.a)
    with d:
        # Fill the cache: every directory listed and every file looked up.
        res["fill_s"] = fill(dirs, files)
        # Let the kernel go of everything: the cache keeps its objects,
        # unused (count 1), until the Zipf stats take some of them again.
        drop_caches()
        time.sleep(1.0)
        res["rss_after_fill"] = rss_bytes(d.pid)

        def zipf(seq):
            result, st0, st1 = zipf_lookups(mnt, files, seq)
            result["counter_deltas"] = counter_deltas(st0, st1)
            return result, st1

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
        # may free them (only kernel drops and moves can touch them); that is
        # the case page-targeted reclaim is for (Lameter, 2006). With
        # --reclaim-unpinned the kernel lets go first: every object is
        # unused at the cut and whole slabs of never-touched files, made
        # in order, are as easy to empty from an LRU's cold end.
        res["pinned_at_cut"] = not bench.a.reclaim_unpinned
        if bench.a.reclaim_unpinned:
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
        # Wait for the reclaim (and the kernel drops it asked for) to settle.
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
                    st_after, dig(st_after, "cache.budgetBytes", "budgetBytes") or half * psize, psize)
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
        res["kicks"] = counter(st_after, "kernelDropsRequested") - counter(st_before, "kernelDropsRequested")
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
    if bench.a.reclaim_reader_rate > 0:
        try:
            res["latency"] = rl.run(bench, name, res["options"], src, nfiles, ndirs, seq1)
        except Interrupted:
            raise
        except Exception as e:
            log(f"    latency run ERROR: {type(e).__name__}: {e}")
            bench.errors.append({"round": "reclaim-latency", "target": name, "error": f"{type(e).__name__}: {e}"})
    shutil.rmtree(src, ignore_errors=True)
    return res


def run(bench):
    """The three policies in turn (each again, twice at most, if the kernel
    let go of entries mid-run); returns their results."""
    a = bench.a
    seq1 = zipf_sequence(a.files, a.stats, a.seed)
    seq2 = seq1  # the same stats again
    seq3 = zipf_sequence(a.files, a.stats, a.seed, draw=1)  # a new draw, the same hot files
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
                r = reclaim_policy(bench, name, extra, a.files, seq1, seq2, seq3)
            except Interrupted:
                raise
            except Exception as e:
                log(f"    ERROR: {e}")
                bench.errors.append({"round": "reclaim", "target": name, "error": str(e)})
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
    # The daemon's own kernel drops (a policy over its budget asks the kernel to
    # drop entries) bring files back once each: not a disturbance.
    kicks3 = (r.get("after_new") or {}).get("counter_deltas", {}).get("kernelDropsRequested", 0) or 0
    if r.get("distinct_run3") and r.get("after_new") and r["after_new"]["lookups"] > r["distinct_run3"] * 1.01 + kicks3:
        why.append(f"run 3 sent {r['after_new']['lookups']} lookups for {r['distinct_run3']} files and directories")
    return why
