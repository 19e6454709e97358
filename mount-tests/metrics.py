#!/usr/bin/python3
"""`slabfs stats --format prometheus` read by a real parser.

Parses the exposition with prometheus_client (Debian's
python3-prometheus-client: text_string_to_metric_families) and checks it
against user.slabfs.stats, read directly from the mount root. The mapping
from JSON to metrics is written here again, independently of the Swift
renderer, and every number in the JSON must have a metric (a field added to
the statistics without one fails here).

  metrics.py busy MNT --slabfs BIN [--rounds N]
      while a worker thread creates, stats and removes files and asks for
      reclaim: every counter lies between the JSON read just before and
      just after, every expected sample is there, nothing else is
  metrics.py idle MNT --slabfs BIN
      on a quiet mount: every value agrees with the JSON read around it
  metrics.py output MNT --slabfs BIN --dir DIR
      --output FILE: written whole through FILE.tmp, mode 0644, parsable;
      bad input: one line, non-zero exit, no file

Prints PASS/FAIL/NOTE lines (mount-tests/lib.sh mt_py_checks).
"""

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time

from prometheus_client.parser import text_string_to_metric_families

# Numbers in the JSON with no metric of their own, and why.
NOT_EXPORTED = {
    "cache.hitRate": "derived from the lookup counters",
    "cache.evictedPerPage": "derived from the eviction and page counters",
    "cache.kernelHeldInodes": "the same as kernelHeldInodes",
    "cache.counters.kernelHeld": "the same as kernelHeldInodes",
    "cache.counters.negativeDentries": "the same as cache.negativeDentries",
    "requests.total": "the sum of the request counters",
}

# Gauges that move with every request, the reads of the statistics
# included (the poll window adapts to each idle period; the heap grows and
# shrinks): checked to lie in a range, not between two reads.
VOLATILE = {
    "slabfs_request_loop_poll_window_seconds": lambda got, low, high, stats:
        0 <= got <= int(stats["configuration"].get("poll_us", "1000")) / 1e6,
    "slabfs_daemon_resident_bytes": lambda got, low, high, stats: low / 2 <= got <= high * 2,
}

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def snake(name):
    """negativeHits -> negative_hits, evictionsLRU -> evictions_lru."""
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    name = re.sub(r"([A-Z])([A-Z][a-z])", r"\1_\2", name)
    return name.lower()


class Expected:
    """The samples the JSON calls for: (name, labels) -> (kind, value)."""

    def __init__(self):
        self.samples = {}
        self.used = set()

    def add(self, kind, name, value, path, **labels):
        key = (name, tuple(sorted(labels.items())))
        self.samples[key] = (kind, value)
        if path:
            self.used.add(path)


def expected(stats):
    e = Expected()
    c = stats["cache"]
    e.add("gauge", "slabfs_daemon_resident_bytes", stats["daemonRSSBytes"], "daemonRSSBytes")
    e.add("gauge", "slabfs_kernel_held_inodes", stats["kernelHeldInodes"], "kernelHeldInodes")
    for field, metric in [("inodes", "inodes"), ("dentries", "dentries"),
                          ("negativeDentries", "negative_dentries"), ("residentPages", "resident_pages"),
                          ("budgetBytes", "budget_bytes"), ("lowWatermarkPages", "low_watermark_pages"), ("utilization", "utilization_ratio"),
                          ("tableBytes", "table_bytes")]:
        e.add("gauge", "slabfs_" + metric, c[field], "cache." + field)
    for name, value in c["counters"].items():
        if "cache.counters." + name in NOT_EXPORTED:
            continue
        e.add("counter", "slabfs_%s_total" % snake(name), value, "cache.counters." + name)
    for i, s in enumerate(c["caches"]):
        p = "cache.caches.%d." % i
        fields = [("activeObjects", "active_objects"), ("totalObjects", "objects"),
                  ("threadCachedObjects", "thread_cached_objects"), ("activeSlabs", "active_slabs"),
                  ("totalSlabs", "slabs"), ("fullSlabs", "full_slabs"), ("partialSlabs", "partial_slabs"),
                  ("emptySlabs", "empty_slabs"), ("objectSize", "object_size_bytes"),
                  ("objectsPerSlab", "objects_per_slab"), ("pagesPerSlab", "pages_per_slab"),
                  ("utilization", "utilization_ratio")]
        for field, metric in fields:
            e.add("gauge", "slabfs_slab_" + metric, s[field], p + field, cache=s["name"])
        pages = s["totalSlabs"] * s["pagesPerSlab"]
        e.add("gauge", "slabfs_slab_pages", pages, None, cache=s["name"])
        e.add("gauge", "slabfs_slab_bytes", pages * PAGE_SIZE, None, cache=s["name"])
        for name, value in s["counters"].items():
            e.add("counter", "slabfs_slab_%s_total" % snake(name), value, p + "counters." + name, cache=s["name"])
    for name, value in (stats.get("requests") or {}).items():
        if name != "total":
            e.add("counter", "slabfs_requests_total", value, "requests." + name, request=name)
    loop = stats.get("requestLoop")
    if loop:
        for field, found in [("queued", "queued"), ("caughtPolling", "caught_polling"), ("afterSleep", "after_sleep")]:
            e.add("counter", "slabfs_request_loop_requests_total", loop[field], "requestLoop." + field, found=found)
        e.add("counter", "slabfs_request_loop_yields_total", loop["yields"], "requestLoop.yields")
        e.add("gauge", "slabfs_request_loop_poll_window_seconds", loop["pollWindowMicroseconds"] / 1e6,
              "requestLoop.pollWindowMicroseconds")
    coherence = stats.get("coherence")
    if coherence:
        e.add("gauge", "slabfs_coherence_info", 1, None, mode=coherence["mode"])
        e.add("gauge", "slabfs_coherence_watched_filesystems", len(coherence["watched"]), None)
        for field in ["events", "ownEvents", "namesInvalidated", "nodesInvalidated", "kernelNotifications",
                      "overflows", "epochBumps", "errors", "attributesRefreshed", "refreshesDropped"]:
            e.add("counter", "slabfs_coherence_%s_total" % snake(field), coherence[field], "coherence." + field)
    passthrough = stats.get("passthrough")
    if passthrough:
        e.add("gauge", "slabfs_passthrough_info", 1, None, mode=passthrough["mode"])
        e.add("gauge", "slabfs_passthrough_open_inodes", passthrough["openInodes"], "passthrough.openInodes")
        e.add("counter", "slabfs_passthrough_registrations_total", passthrough["registrations"],
              "passthrough.registrations")
        e.add("gauge", "slabfs_passthrough_idle_registrations", passthrough["idleRegistrations"],
              "passthrough.idleRegistrations")
        e.add("counter", "slabfs_passthrough_reuses_total", passthrough["reuses"], "passthrough.reuses")
    e.add("gauge", "slabfs_configuration_info", 1, None, **stats["configuration"])
    return e


def numeric_leaves(value, path=""):
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, (int, float)):
        yield path
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from numeric_leaves(v, path + "." + k if path else k)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from numeric_leaves(v, "%s.%d" % (path, i))


def read_stats(mnt):
    return json.loads(os.getxattr(mnt, "user.slabfs.stats"))


def run_stats(args, *extra):
    return subprocess.run([args.slabfs, "stats", *extra, args.mnt], capture_output=True, text=True, timeout=60)


class Exposition:
    """A parsed exposition: problems with its form, and its samples."""

    def __init__(self, text, mountpoint):
        self.problems = []
        self.samples = {}
        self.kinds = {}
        families = list(text_string_to_metric_families(text))
        seen = set()
        for family in families:
            if family.type not in ("counter", "gauge"):
                self.problems.append("family %s is %s (a sample outside its family, or no TYPE line)"
                                     % (family.name, family.type))
            if not family.documentation:
                self.problems.append("family %s has no HELP" % family.name)
            if family.name in seen:
                self.problems.append("family %s appears twice" % family.name)
            seen.add(family.name)
            for sample in family.samples:
                labels = dict(sample.labels)
                if labels.pop("mountpoint", None) != mountpoint:
                    self.problems.append("%s: mountpoint label %r, want %r"
                                         % (sample.name, sample.labels.get("mountpoint"), mountpoint))
                key = (sample.name, tuple(sorted(labels.items())))
                if key in self.samples:
                    self.problems.append("sample %s%s twice" % key)
                self.samples[key] = sample.value
                self.kinds[key] = family.type
        if not text.endswith("\n"):
            self.problems.append("the exposition does not end with a newline")


def show(key):
    name, labels = key
    return name + ("{%s}" % ",".join('%s="%s"' % kv for kv in labels) if labels else "")


def compare(exposition, before, after, counters_only):
    """Problems: a missing, extra or out-of-range sample."""
    problems = []
    e_before, e_after = expected(before), expected(after)
    for key, (kind, low) in e_before.samples.items():
        if key not in exposition.samples:
            if key in e_after.samples:
                problems.append("no sample %s" % show(key))
            continue
        got = exposition.samples[key]
        if exposition.kinds[key] != kind:
            problems.append("%s is a %s, want a %s" % (show(key), exposition.kinds[key], kind))
        if kind == "counter" and got != int(got):
            problems.append("counter %s = %r is not a whole number" % (show(key), got))
        if kind == "gauge" and counters_only:
            continue
        high = e_after.samples.get(key, (kind, low))[1]
        lo, hi = min(low, high), max(low, high)
        if key[0] in VOLATILE:
            if not VOLATILE[key[0]](got, lo, hi, before):
                problems.append("%s = %r is out of range (stats said %r before and %r after)"
                                % (show(key), got, low, high))
        elif not (lo - 1e-9 <= got <= hi + 1e-9):
            problems.append("%s = %r, stats said %r before and %r after" % (show(key), got, low, high))
    for key in exposition.samples:
        if key not in e_before.samples and key not in e_after.samples:
            problems.append("unexpected sample %s" % show(key))
    for path in numeric_leaves(before):
        if path not in e_before.used and path not in NOT_EXPORTED:
            problems.append("stats field %s has no metric" % path)
    return problems


def one_round(args, counters_only):
    before = read_stats(args.mnt)
    result = run_stats(args, "--format", "prometheus")
    after = read_stats(args.mnt)
    if result.returncode != 0:
        return None, ["slabfs stats --format prometheus: status %d: %s" % (result.returncode, result.stderr.strip())]
    try:
        exposition = Exposition(result.stdout, os.path.realpath(args.mnt))
    except ValueError as error:
        return None, ["prometheus_client could not parse it: %s" % error]
    return exposition, exposition.problems + compare(exposition, before, after, counters_only)


def report(what, problems):
    if problems:
        print("FAIL %s: %d problems: %s" % (what, len(problems), "; ".join(problems[:8])))
    else:
        print("PASS %s" % what)


class Worker(threading.Thread):
    """Creates, stats, renames and removes files, and asks for reclaim."""

    def __init__(self, mnt):
        super().__init__(daemon=True)
        self.dir = os.path.join(mnt, "busy")
        self.mnt = mnt
        self.stop = threading.Event()
        self.operations = 0
        self.error = None

    def run(self):
        try:
            os.makedirs(self.dir, exist_ok=True)
            n = 0
            while not self.stop.is_set():
                n += 1
                sub = os.path.join(self.dir, "d%d" % (n % 20))
                os.makedirs(sub, exist_ok=True)
                for i in range(50):
                    path = os.path.join(sub, "f%d" % i)
                    with open(path, "w") as f:
                        f.write("x" * (i % 7))
                    os.stat(path)
                    try:
                        os.stat(path + ".missing")
                    except FileNotFoundError:
                        pass
                os.rename(os.path.join(sub, "f0"), os.path.join(sub, "g0"))
                for name in os.listdir(sub):
                    os.unlink(os.path.join(sub, name))
                if n % 5 == 0:
                    os.setxattr(self.mnt, "user.slabfs.reclaim", b"8")
                self.operations += 1
        except Exception as error:  # reported by the main thread
            self.error = error


def busy(args):
    worker = Worker(args.mnt)
    worker.start()
    time.sleep(0.5)
    moved = None
    first = None
    problems = []
    for _ in range(args.rounds):
        exposition, found = one_round(args, counters_only=True)
        problems += found
        if exposition is not None:
            values = {k: v for k, v in exposition.samples.items() if exposition.kinds[k] == "counter"}
            if first is None:
                first = values
            else:
                moved = sum(1 for k, v in values.items() if v > first.get(k, v))
        time.sleep(0.3)
    worker.stop.set()
    worker.join(30)
    if worker.error:
        print("FAIL busy worker: %r" % worker.error)
    report("busy mount (%d rounds, %d worker passes): every sample there and parsed, each counter between "
           "the stats read before and after" % (args.rounds, worker.operations), problems)
    if moved is None or moved < 10:
        print("FAIL busy mount: counters moved between the first and last round: %s" % moved)
    else:
        print("PASS busy mount: %d counters moved between the first and last round" % moved)


def idle(args):
    exposition, problems = one_round(args, counters_only=False)
    count = len(exposition.samples) if exposition else 0
    report("quiet mount: all %d samples agree with user.slabfs.stats (gauges and counters)" % count, problems)


def output(args):
    target = os.path.join(args.dir, "slabfs.prom")
    # A leftover temporary file (a writer killed half-way) is replaced.
    with open(target + ".tmp", "w") as f:
        f.write("stale")
    old_umask = os.umask(0o077)
    try:
        result = run_stats(args, "--format", "prometheus", "--output", target)
    finally:
        os.umask(old_umask)
    problems = []
    if result.returncode != 0 or result.stdout or result.stderr:
        problems.append("status %d, stdout %r, stderr %r" % (result.returncode, result.stdout[:80], result.stderr[:200]))
    if os.path.exists(target + ".tmp"):
        problems.append("%s.tmp left behind" % target)
    if not os.path.exists(target):
        problems.append("no %s" % target)
    else:
        mode = os.stat(target).st_mode & 0o777
        if mode != 0o644:
            problems.append("mode %o, want 644 (node_exporter reads it as another user)" % mode)
        with open(target) as f:
            text = f.read()
        try:
            exposition = Exposition(text, os.path.realpath(args.mnt))
            problems += exposition.problems
            if not any(name == "slabfs_slab_objects" for name, _ in exposition.samples):
                problems.append("no slabfs_slab_objects in the file")
        except ValueError as error:
            problems.append("prometheus_client could not parse it: %s" % error)
    report("--output FILE: written through FILE.tmp and renamed, mode 0644 under umask 077, parsable", problems)

    def refused(what, extra, mnt=None):
        cmd = [args.slabfs, "stats", *extra, mnt or args.mnt]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        lines = r.stderr.strip().splitlines()
        if r.returncode != 0 and len(lines) == 1 and lines[0].startswith("slabfs: ") and not r.stdout:
            print("PASS %s: refused in one line (%s)" % (what, lines[0]))
        else:
            print("FAIL %s: status %d, stdout %r, stderr %r" % (what, r.returncode, r.stdout[:80], r.stderr[:300]))

    missing = os.path.join(args.dir, "no-such-directory", "slabfs.prom")
    refused("--output into a missing directory", ["--format", "prometheus", "--output", missing])
    if os.path.exists(os.path.dirname(missing)):
        print("FAIL --output into a missing directory created it")
    refused("--format xml", ["--format", "xml"])
    refused("--json with --format prometheus", ["--json", "--format", "prometheus"])
    refused("--format prometheus on a directory that is not a slabfs mount", ["--format", "prometheus"], args.dir)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("mode", choices=["busy", "idle", "output"])
    p.add_argument("mnt")
    p.add_argument("--slabfs", required=True, help="the slabfs binary")
    p.add_argument("--rounds", type=int, default=8)
    p.add_argument("--dir", help="a scratch directory (output)")
    args = p.parse_args()
    {"busy": busy, "idle": idle, "output": output}[args.mode](args)


if __name__ == "__main__":
    sys.exit(main())
