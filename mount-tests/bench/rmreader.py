"""Reader latency during a removal behind the mount (mount-tests/bench.sh,
part "main"): a tree of N files (--rm-files) is made in the backing
directory and stat-ed once through the mount; a reader thread stats READER_FILES
other files (stat-ed before too) through the mount in a loop, timing each
stat; IDLE_S seconds of that alone, then `rm -rf` of the N-file tree directly
in the backing directory, and AFTER_S seconds after the rm ends (a daemon may
still be taking the removal's events then). The figures: the reader's p50 and
p99 idle and during (from the rm's start until AFTER_S after its end), and the
ratio of the p99s. Standard library only; driver.py runs it and reports it.

native (the reader on the backing directory itself, during the same rm) shows
what the machine alone does to the reader: on 2 CPUs the rm takes one.
"""

import math
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from array import array

from freshness import drops

READER_FILES = 2000
PER_DIR = 100
IDLE_S = 3.0
AFTER_S = 1.0
WARMUP_S = 0.25       # the reader's first samples are not counted
RATIO_TARGET = 2.0
ONE_DESCRIPTOR_PER_INODE = ("passthrough_ll", "passthrough_hp")
BIG, FEW = "big", "reader"   # the removed tree and the reader's, under the backing directory


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def make_tree(root, n):
    """n empty files in directories of PER_DIR under root; returns their
    paths relative to the tree's parent."""
    os.mkdir(root)
    base = os.path.basename(root)
    rel = []
    for i in range(n):
        d = f"d{i // PER_DIR:04d}"
        if i % PER_DIR == 0:
            os.mkdir(os.path.join(root, d))
        r = os.path.join(base, d, f"f{i:07d}")
        os.close(os.open(os.path.join(os.path.dirname(root), r), os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC, 0o644))
        rel.append(r)
    return rel


class Reader(threading.Thread):
    """Stats `paths` in a loop until stopped; keeps each stat's start and duration (ns)."""

    def __init__(self, paths):
        super().__init__(daemon=True)
        self.paths = paths
        self.halt = threading.Event()
        self.start_ns, self.dur_ns = array("q"), array("q")
        self.errors = 0
        self.first_error = None

    def run(self):
        lstat, clock = os.lstat, time.perf_counter_ns
        put_t, put_d = self.start_ns.append, self.dur_ns.append
        while not self.halt.is_set():
            for p in self.paths:
                t0 = clock()
                try:
                    lstat(p)
                except OSError as e:
                    self.errors += 1
                    self.first_error = self.first_error or f"{type(e).__name__}: {e}"
                t1 = clock()
                put_t(t0)
                put_d(t1 - t0)


def latency(reader, lo_ns, hi_ns):
    ds = sorted(d for t, d in zip(reader.start_ns, reader.dur_ns) if lo_ns <= t < hi_ns)
    if not ds:
        return {"stats": 0, "p50_us": None, "p99_us": None, "max_us": None}

    def pct(q):
        return round(ds[max(0, math.ceil(q * len(ds)) - 1)] / 1e3, 2)
    return {"stats": len(ds), "p50_us": pct(0.5), "p99_us": pct(0.99), "max_us": round(ds[-1] / 1e3, 2)}


def measure(src, view, big, few, idle_s):
    """The tree `big` and the reader's files `few` exist under src; view is
    where they are stat-ed (the mount, or src itself for native)."""
    t0 = time.perf_counter()
    for r in big:
        os.lstat(os.path.join(view, r))
    stat_all_s = time.perf_counter() - t0
    paths = [os.path.join(view, r) for r in few]
    for p in paths:
        os.lstat(p)
    reader = Reader(paths)
    drops0 = drops()
    clock = time.perf_counter_ns
    started = clock()
    reader.start()
    try:
        time.sleep(idle_s)
        rm0 = clock()
        rm = subprocess.run(["rm", "-rf", os.path.join(src, BIG)], capture_output=True, text=True)
        rm1 = clock()
        time.sleep(AFTER_S)
    finally:
        reader.halt.set()
        reader.join()
    if rm.returncode != 0:
        raise RuntimeError(f"rm -rf failed: {rm.stderr.strip()}")
    idle = latency(reader, started + int(WARMUP_S * 1e9), rm0)
    during = latency(reader, rm0, rm1 + int(AFTER_S * 1e9))
    ratio = during["p99_us"] / idle["p99_us"] if idle["p99_us"] and during["p99_us"] is not None else None
    out = {"files": len(big), "reader_files": len(few), "stat_all_s": round(stat_all_s, 3),
           "rm_s": round((rm1 - rm0) / 1e9, 3), "idle": idle, "during": during,
           "p99_ratio": round(ratio, 3) if ratio is not None else None, "reader_errors": reader.errors,
           "drop_caches_meanwhile": drops() - drops0}
    if reader.first_error:
        out["reader_first_error"] = reader.first_error
    return out


def one(bench, target, nfiles, idle_s):
    src = bench.fresh(f"rm-{target}-src")
    big = make_tree(os.path.join(src, BIG), nfiles)
    few = make_tree(os.path.join(src, FEW), READER_FILES)
    os.sync()
    if target == "native":
        res = measure(src, src, big, few, idle_s)
    else:
        mnt = bench.fresh(f"rm-{target}-mnt")
        d = bench.mount(target, src, mnt)
        with d:
            try:
                res = measure(src, mnt, big, few, idle_s)
            except Exception as e:
                raise d.failure(f"rm reader, {target}", e)
            d.check_alive(f"rm reader, {target}")
        if d.stop_note:
            res["stop_note"] = d.stop_note
    shutil.rmtree(src, ignore_errors=True)
    return res


def run(bench, targets, nfiles, idle_s=IDLE_S):
    """Returns {"files": N, "targets": {target: figures}, "skipped": {target: why}}."""
    out = {"files": nfiles, "reader_files": READER_FILES, "idle_s": idle_s, "after_s": AFTER_S,
           "targets": {}, "skipped": {}}
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    need = nfiles + READER_FILES + (nfiles + READER_FILES) // PER_DIR + 100
    for t in targets:
        if t in ONE_DESCRIPTOR_PER_INODE and limit != resource.RLIM_INFINITY and need > limit:
            out["skipped"][t] = (f"one descriptor per inode: {need} inodes over the descriptor limit {limit} "
                                 f"(a smaller --rm-files runs it)")
            continue
        log(f"[rm reader] {t}: {nfiles} files removed behind the mount, a reader on {READER_FILES} others")
        try:
            r = one(bench, t, nfiles, idle_s)
        except Exception as e:
            log(f"    ERROR: {e}")
            bench.errors.append({"round": "rm reader", "target": t, "error": str(e)})
            continue
        out["targets"][t] = r
        log(f"    reader p99 idle {r['idle']['p99_us']} us, during rm {r['during']['p99_us']} us "
            f"(x{r['p99_ratio']}); rm -rf {r['rm_s']:.1f} s")
    return out


def fmt_us(v):
    return "-" if v is None else (f"{v:.1f}" if v < 100 else f"{v:.0f}")


def table(rr):
    lines = [f"reader latency during a removal behind the mount: rm -rf of {rr['files']} files directly in the "
             f"backing directory, while a reader stats {rr['reader_files']} other files (stat-ed before) through "
             f"the mount in a loop; idle: {rr['idle_s']:g} s before the rm; during: from the rm's start until "
             f"{rr['after_s']:g} s after its end; us per stat"]
    cols = ["target", "idle p50", "idle p99", "during p50", "during p99", "p99 ratio", "rm -rf", "stats idle/during"]
    widths = [18, 10, 10, 12, 12, 11, 9, 20]
    lines.append("  " + "".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cols, widths))))
    for t, r in rr["targets"].items():
        vals = [t, fmt_us(r["idle"]["p50_us"]), fmt_us(r["idle"]["p99_us"]), fmt_us(r["during"]["p50_us"]),
                fmt_us(r["during"]["p99_us"]), "-" if r["p99_ratio"] is None else f"{r['p99_ratio']:.2f}",
                f"{r['rm_s']:.1f} s", f"{r['idle']['stats']}/{r['during']['stats']}"]
        lines.append("  " + "".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(vals, widths))))
        if r.get("drop_caches_meanwhile"):
            lines.append(f"    {t}: WARNING: {r['drop_caches_meanwhile']} drop_caches by other processes while the "
                         f"reader ran (the kernel forgot the reader's entries: compare with care)")
        if r.get("reader_errors"):
            lines.append(f"    {t}: {r['reader_errors']} reader stats failed ({r.get('reader_first_error')})")
    for t, why in rr["skipped"].items():
        lines.append(f"  {t}: skipped ({why})")
    lines.append("  native: the reader on the backing directory itself, during the same rm: what the machine alone "
                 "(the rm's CPU and disk) does to it")
    return "\n".join(lines)


def checks(rr):
    name = f"reader stat p99 during rm -rf <= {RATIO_TARGET:g}x idle p99"
    s = (rr or {}).get("targets", {}).get("slabfs")
    if not s or s["p99_ratio"] is None:
        return [{"target": name, "result": "MISS", "detail": "no measurement"}]
    others = [f"{t} {r['p99_ratio']:.2f}x" for t, r in rr["targets"].items()
              if t != "slabfs" and r["p99_ratio"] is not None]
    return [{"target": name, "result": "PASS" if s["p99_ratio"] <= RATIO_TARGET else "MISS",
             "detail": f"slabfs {s['during']['p99_us']} us during vs {s['idle']['p99_us']} us idle "
                       f"({s['p99_ratio']:.2f}x)" + (f"; {', '.join(others)}" if others else "")}]
