"""The main comparison of the bench (mount-tests/bench.sh, part "main"),
and the large round (part "large"), the same with more files: per target
(native and the FUSE daemons) and repetition, the workloads (run_phases)
in a fresh mount with the daemon's RSS, descriptors and slabfs's stats at
their measurement points, then the fio rows (fio_rows.py) in the same
mount; medians and ratios to native over the repetitions (summarize).
Standard library only; driver.py runs it, report.py tables it."""

import os
import statistics
import time

import fio_rows
from daemons import SLABFS_VARIANTS, Interrupted, fd_count, log, rss_bytes
from stats import active_objects, counters, dig, page_size, request_deltas, resident_pages, slabfs_stats, utilization
from workloads import WORKLOADS, op_count, round_trip_seconds, run_phases, tree

# Columns without the fio rows, and why.
IO_SKIP = {"slabfs-rdc-off": "the readdir cache does not touch file I/O"}


def warm_up(bench, n):
    """Creates and removes a tree of n files natively, untimed: the first
    creates on this filesystem read allocation bitmaps and inode tables
    from disk, which would land on whichever target runs first."""
    root = bench.fresh("warm-up")
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


def io_rows(bench, res, target, root, rep, stats=None):
    """The fio rows (fio_rows) on root, into res["io"]; a failure is an
    error of the run but keeps the other workloads' figures."""
    a = bench.a
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
        bench.errors.append({"round": "main, fio rows", "target": target, "rep": rep, "error": msg})


def one_run(bench, target, n, rep, io=False):
    """Returns a dict with times and memory for one target, one
    repetition (and with io, the fio rows after the other workloads)."""
    res = {"target": target, "n": n, "rep": rep}
    os.sync()  # start from a clean page cache: no writeback of the last run under this one
    if target == "native":
        root = bench.fresh(f"native-r{rep}")
        res["times"] = run_phases(root, n)
        if io:
            io_rows(bench, res, target, root, rep)
        return res
    src = bench.fresh(f"{target}-src-r{rep}")
    mnt = bench.fresh(f"{target}-mnt-r{rep}")
    d = bench.mount(target, src, mnt)
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
            raise d.failure(f"{target} (n={n}, rep {rep})", e)
        if slabfs:
            res["round_trip_s"] = round_trip_seconds(mnt)
        if io:
            io_rows(bench, res, target, mnt, rep, stats=(lambda: slabfs_stats(mnt)) if slabfs else None)
            d.check_alive(f"{target} (n={n}, rep {rep})", " during the fio rows")
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
        res["requests_create"] = request_deltas(stats["before_create"], stats["after_create"])
        res["requests_unlink"] = request_deltas(stats["before_unlink"], stats["after_unlink"])
        res["passthrough"] = dig(stats["end"], "passthrough", "cache.passthrough")
    return res


def run(bench, targets, n, reps, label, io=False):
    """One round: every target (native first) in each of `reps` repetitions
    on n files (and with io, the fio rows); returns summarize()'s figures."""
    runs = {t: [] for t in targets}
    warm_up(bench, min(n, 20000))
    if io:
        root = bench.fresh("io-warm-up")
        try:
            fio_rows.warm_up(root, bench.a.fio, bench.a.io_size)
        except Exception as e:  # the rows themselves will say what is wrong
            log(f"[{label}] fio warm-up failed: {e}")
        os.rmdir(root)
    for rep in range(1, reps + 1):
        for t in targets:
            log(f"[{label}] rep {rep}/{reps}: {t}, {n} files")
            try:
                r = one_run(bench, t, n, rep, io)
                runs[t].append(r)
                tm = r["times"]
                log("    " + "  ".join(f"{k} {tm[k]:.3f}s" for k, _ in WORKLOADS)
                    + (f"  rss/inode {r['rss_per_inode']:.0f} B fds {r['fds_after_stat']}" if r.get("rss_per_inode") is not None else ""))
            except Interrupted:
                raise
            except Exception as e:
                msg = str(e)
                log(f"    ERROR: {msg}")
                bench.errors.append({"round": label, "target": t, "rep": rep, "error": msg})
    return summarize(runs, n)


def replied_requests(deltas):
    """Requests answered in a request-count delta: FORGET and BATCH_FORGET
    have no reply; GETXATTR/LISTXATTR are the stats reads ("pass")."""
    return deltas["pass"] - deltas.get("forget", 0) - deltas.get("batch_forget", 0)


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
            trips = [r["round_trip_s"] for r in rs if r.get("round_trip_s")]
            if trips:
                e["round_trip_us"] = 1e6 * statistics.median(trips)
            for key in ("requests_create", "requests_unlink"):
                reqs = [r[key] for r in rs if r.get(key)]
                if reqs:  # requests with a reply each, per file: the stats reads and FORGETs not counted
                    e[key + "_per_file"] = statistics.median(replied_requests(q) / n for q in reqs)
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
