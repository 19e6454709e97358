"""Freshness (mount-tests/bench.sh, part "freshness"): how soon a change made
directly in the backing directory, not through the mount, shows through the
mount. Standard library only; driver.py runs it, prints its table and keeps
its figures under result["freshness"][target][kind].

Each kind of change (KINDS) is made in batches of BATCH, every batch in a
directory of its own, made for it:

  setup   the batch's directory and targets are made in the backing directory,
          then SETTLE_S pass (the daemon may take their events meanwhile)
  prime   every target is stat-ed through the mount (and read, for the open
          file) and the batch's directories are listed, so that every cache
          (the kernel's dentries, negative dentries, attributes, page cache
          and readdir cache, the daemon's own) holds the old state; a target
          that does not show its old state counts as a prime failure
  apply   the batch's changes are made in the backing directory; a change's
          time is taken when its system call returns
  poll    every pending change (of this batch and the earlier ones) is
          checked through the mount in a tight loop; a change shows when its
          check first succeeds (the time is taken when that check returns, so
          the figure is an upper bound); one that has not shown LIMIT_S after
          it was made is missed

A batch is polled for at most WINDOW_S, or until all of it shows; then the
next batch is set up while the slow changes stay pending, checked again at
every poll. So a column that misses everything costs about BATCH changes per
WINDOW_S, not LIMIT_S per batch; the longest pause between two checks of a
pending change (a later batch's setup and prime) is reported as the poll gap.
Kinds take turns (a round is one batch of each kind), so that drift on a
shared machine lands on every kind alike.
"""

import math
import os
import shutil
import stat
import sys
import time

LIMIT_S = 10.0     # a change not shown within this is missed ("> 10 s")
BATCH = 100        # changes per batch
WINDOW_S = 0.2     # a new batch is polled at most this long before the next is set up
SETTLE_S = 0.05    # between a batch's setup and its prime (the older changes are polled meanwhile)
OWNER = 54321      # chown's new uid and gid
SIZE = 4096        # bytes in each file the size and rewrite kinds change
P99_TARGET_MS = 50.0

# (key, label); the keys are the JSON keys, do not rename them
KINDS = [
    ("create", "create"),
    ("unlink", "unlink"),
    ("rename_same_dir", "rename, same directory"),
    ("rename_cross_dir", "rename, across directories"),
    ("chmod", "chmod"),
    ("chown", "chown"),
    ("truncate_append", "truncate/append"),
    ("mkdir", "mkdir"),
    ("rmdir", "rmdir"),
    ("rewrite_open", "rewrite of an open file"),
]

SHOWS = """what "shows" means, checked through the mount (every change made directly in the backing directory):
  create            stat of the new name succeeds, then the name is in a listing of its directory (the listing is
                    polled once the stat works; the time is when both hold)
  unlink, rmdir     stat gives ENOENT
  rename            stat of the new name succeeds and stat of the old gives ENOENT (across directories: two
                    directories, each listed at the prime)
  chmod, chown      stat shows the new mode (0644 -> 0600) / owner (uid and gid 54321)
  truncate/append   stat shows the new size and mtime (to the nanosecond): half the files get 100 bytes appended,
                    half are truncated from 4096 to 1000 bytes
  mkdir             stat of the new name succeeds and is a directory
  rewrite           a file opened through the mount and read once (its page cache holds it) is rewritten in place
                    through the backing path (same size, new content); a pread through the open descriptor returns
                    the new content"""

NEW = os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# One change: prime() -> does the mount show the old state, apply() makes the
# change in the backing directory, check(listing) -> does the mount show it.


class Change:
    __slots__ = ("prime", "apply", "check", "t", "latency", "t_stat", "listed_later", "fd", "batch")

    def __init__(self):
        self.t = self.latency = self.t_stat = self.fd = self.batch = None
        self.listed_later = False


class Batch:
    def __init__(self, kind, n):
        self.kind, self.left = kind, n


def exists(p):
    try:
        os.lstat(p)
        return True
    except FileNotFoundError:
        return False


def gone(p):
    return not exists(p)


def make_files(d, n, content=lambda i: b""):
    os.mkdir(d)
    for i in range(n):
        fd = os.open(os.path.join(d, f"n{i:03d}"), NEW, 0o644)
        data = content(i)
        if data:
            os.write(fd, data)
        os.close(fd)


def filled(tag, i):
    """SIZE bytes that name the file and its version."""
    unit = b"%s %05d " % (tag, i)
    return (unit * (SIZE // len(unit) + 1))[:SIZE]


def paths(b, m, i, name="n"):
    return os.path.join(b, f"{name}{i:03d}"), os.path.join(m, f"{name}{i:03d}")


# Each builder makes the batch's targets in the backing directory b and
# returns its changes and the mount's directories to list at the prime.

def build_create(b, m, n):
    os.mkdir(b)
    return [_create(b, m, f"n{i:03d}") for i in range(n)], [m]


def _create(b, m, name):
    bp, mp = os.path.join(b, name), os.path.join(m, name)
    c = Change()
    c.prime = lambda: gone(mp)
    c.apply = lambda: os.close(os.open(bp, NEW, 0o644))

    def check(listing):
        if c.t_stat is None:
            if not exists(mp):
                return False
            c.t_stat = time.perf_counter()
            if name in listing(m):
                return True
            c.listed_later = True
            return False
        return name in listing(m)
    c.check = check
    return c


def build_unlink(b, m, n):
    make_files(b, n)
    return [_simple(*paths(b, m, i), exists, os.unlink, gone) for i in range(n)], [m]


def build_rmdir(b, m, n):
    os.mkdir(b)
    for i in range(n):
        os.mkdir(paths(b, m, i)[0])
    return [_simple(*paths(b, m, i), exists, os.rmdir, gone) for i in range(n)], [m]


def build_mkdir(b, m, n):
    os.mkdir(b)
    return [_simple(*paths(b, m, i), gone, os.mkdir, is_dir) for i in range(n)], [m]


def is_dir(p):
    try:
        return stat.S_ISDIR(os.lstat(p).st_mode)
    except FileNotFoundError:
        return False


def _simple(bp, mp, old, change, new):
    c = Change()
    c.prime = lambda: old(mp)
    c.apply = lambda: change(bp)
    c.check = lambda listing: new(mp)
    return c


def build_rename_same_dir(b, m, n):
    make_files(b, n)
    return [_rename(*paths(b, m, i), *paths(b, m, i, "r")) for i in range(n)], [m]


def build_rename_cross_dir(b, m, n):
    os.mkdir(b)
    make_files(os.path.join(b, "a"), n)
    os.mkdir(os.path.join(b, "b"))
    ba, ma = os.path.join(b, "a"), os.path.join(m, "a")
    bb, mb = os.path.join(b, "b"), os.path.join(m, "b")
    return [_rename(*paths(ba, ma, i), *paths(bb, mb, i)) for i in range(n)], [ma, mb]


def _rename(bold, mold, bnew, mnew):
    c = Change()
    c.prime = lambda: exists(mold) and gone(mnew)
    c.apply = lambda: os.rename(bold, bnew)
    c.check = lambda listing: exists(mnew) and gone(mold)
    return c


def build_chmod(b, m, n):
    make_files(b, n)
    for i in range(n):
        os.chmod(paths(b, m, i)[0], 0o644)  # whatever the umask
    return [_attr(*paths(b, m, i), lambda p: os.chmod(p, 0o600),
                  lambda st: stat.S_IMODE(st.st_mode) == 0o600) for i in range(n)], [m]


def build_chown(b, m, n):
    make_files(b, n)
    return [_attr(*paths(b, m, i), lambda p: os.chown(p, OWNER, OWNER),
                  lambda st: st.st_uid == OWNER and st.st_gid == OWNER) for i in range(n)], [m]


def _attr(bp, mp, change, shows):
    c = Change()
    c.prime = lambda: not shows(os.lstat(mp))
    c.apply = lambda: change(bp)
    c.check = lambda listing: shows(os.lstat(mp))
    return c


def build_truncate_append(b, m, n):
    make_files(b, n, lambda i: filled(b"size", i))
    return [_size(*paths(b, m, i), i % 2 == 0) for i in range(n)], [m]


def _size(bp, mp, append):
    c = Change()
    want = []
    c.prime = lambda: os.lstat(mp).st_size == SIZE

    def apply():
        if append:
            fd = os.open(bp, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
            os.write(fd, b"+" * 100)
            os.close(fd)
        else:
            os.truncate(bp, 1000)
        st = os.lstat(bp)
        want.append((st.st_size, st.st_mtime_ns))
    c.apply = apply

    def check(listing):
        st = os.lstat(mp)
        return (st.st_size, st.st_mtime_ns) == want[0]
    c.check = check
    return c


def build_rewrite_open(b, m, n):
    make_files(b, n, lambda i: filled(b"old", i))
    return [_rewrite(*paths(b, m, i), filled(b"old", i), filled(b"new", i)) for i in range(n)], [m]


def _rewrite(bp, mp, old, new):
    c = Change()

    def prime():
        c.fd = os.open(mp, os.O_RDONLY | os.O_CLOEXEC)
        return os.pread(c.fd, SIZE, 0) == old
    c.prime = prime

    def apply():
        fd = os.open(bp, os.O_WRONLY | os.O_CLOEXEC)
        os.pwrite(fd, new, 0)
        os.close(fd)
    c.apply = apply
    c.check = lambda listing: c.fd is not None and os.pread(c.fd, SIZE, 0) == new
    return c


BUILDERS = {
    "create": build_create, "unlink": build_unlink, "rename_same_dir": build_rename_same_dir,
    "rename_cross_dir": build_rename_cross_dir, "chmod": build_chmod, "chown": build_chown,
    "truncate_append": build_truncate_append, "mkdir": build_mkdir, "rmdir": build_rmdir,
    "rewrite_open": build_rewrite_open,
}


# ---------------------------------------------------------------------------
# Polling


class Poller:
    def __init__(self, on_error):
        self.pending = []
        self.on_error = on_error
        self.pass_max = 0.0     # longest pass over the pending changes
        self.pause_max = 0.0    # longest time between two passes with changes pending (a batch's setup, prime)
        self.rounds = 0
        self.last = None        # when the last pass ended, if changes stayed pending

    def resolve(self, c, latency):
        c.latency = latency
        c.batch.left -= 1
        if c.fd is not None:
            os.close(c.fd)
            c.fd = None

    def poll(self, until):
        """Checks every pending change, again and again, until until() holds
        (checked after each pass); with nothing pending it waits for until()."""
        clock = time.perf_counter
        while True:
            now = clock()
            if not self.pending:
                self.last = None
                if until():
                    return
                time.sleep(0.001)
                continue
            if self.last is not None:
                self.pause_max = max(self.pause_max, now - self.last)
            self.rounds += 1
            listings = {}

            def listing(d):
                if d not in listings:
                    listings[d] = set(os.listdir(d))
                return listings[d]
            keep = []
            for c in self.pending:
                try:
                    ok = c.check(listing)
                except OSError as e:
                    ok = False
                    self.on_error(c.batch.kind, e)
                if ok:
                    self.resolve(c, clock() - c.t)
                elif now - c.t > LIMIT_S:  # not shown at a check that began after the limit
                    self.resolve(c, None)
                else:
                    keep.append(c)
            self.pending = keep
            self.last = clock()
            self.pass_max = max(self.pass_max, self.last - now)
            if until():
                return


# ---------------------------------------------------------------------------
# One column


class Column:
    def __init__(self, src, mnt):
        self.src, self.mnt = src, mnt
        self.changes = {k: [] for k, _ in KINDS}
        self.prime_failures = {k: 0 for k, _ in KINDS}
        self.errors = {k: 0 for k, _ in KINDS}
        self.first_error = {}
        self.poller = Poller(self.error)
        self.apply_s = {k: [] for k, _ in KINDS}  # each batch's apply, seconds
        self.current = []  # the batch being set up (its open descriptors, before they are pending)

    def error(self, kind, e):
        self.errors[kind] += 1
        self.first_error.setdefault(kind, f"{type(e).__name__}: {e}")

    def batch(self, kind, rnd, n):
        name = f"r{rnd:03d}-{kind}"
        changes, lists = BUILDERS[kind](os.path.join(self.src, name), os.path.join(self.mnt, name), n)
        self.current = changes
        p = self.poller
        settle_end = time.perf_counter() + SETTLE_S
        p.poll(lambda: time.perf_counter() >= settle_end)
        for c in changes:
            try:
                ok = c.prime()
            except OSError as e:
                ok = False
                self.error(kind, e)
            if not ok:
                self.prime_failures[kind] += 1
        for d in lists:
            os.listdir(d)
        batch = Batch(kind, len(changes))
        clock = time.perf_counter
        t0 = clock()
        for c in changes:
            c.apply()
            c.t = clock()
            c.batch = batch
        self.apply_s[kind].append(clock() - t0)
        p.pending.extend(changes)
        self.changes[kind].extend(changes)
        end = clock() + WINDOW_S
        p.poll(lambda: batch.left == 0 or clock() >= end)

    def run(self, per_kind):
        rounds = math.ceil(per_kind / BATCH)
        try:
            for r in range(rounds):
                n = min(BATCH, per_kind - r * BATCH)
                for kind, _ in KINDS:
                    self.batch(kind, r, n)
            self.poller.poll(lambda: not self.poller.pending)
        finally:
            # Every descriptor through the mount closed before the unmount.
            for c in self.current + self.poller.pending:
                if c.fd is not None:
                    os.close(c.fd)
                    c.fd = None


def pct(sorted_vals, q):
    return sorted_vals[max(0, math.ceil(q * len(sorted_vals)) - 1)]


def ms(v):
    return None if v is None or math.isinf(v) else round(v * 1e3, 3)


def summary(col, kind):
    cs = col.changes[kind]
    lat = sorted(math.inf if c.latency is None else c.latency for c in cs)
    seen = [c.latency for c in cs if c.latency is not None]
    out = {"changes": len(cs), "p50_ms": ms(pct(lat, 0.50)), "p99_ms": ms(pct(lat, 0.99)), "max_ms": ms(lat[-1]),
           "missed": len(cs) - len(seen), "max_seen_ms": ms(max(seen)) if seen else None,
           "prime_failures": col.prime_failures[kind], "errors": col.errors[kind],
           "batch_apply_max_ms": ms(max(col.apply_s[kind], default=0.0))}
    if kind in col.first_error:
        out["first_error"] = col.first_error[kind]
    if kind == "create":
        st = sorted(math.inf if c.t_stat is None else c.t_stat - c.t for c in cs)
        out["stat_p50_ms"], out["stat_p99_ms"] = ms(pct(st, 0.50)), ms(pct(st, 0.99))
        out["listed_after_stat"] = sum(1 for c in cs if c.listed_later)
    return out


def drops():
    """drop_caches calls since boot, of any process (/proc/vmstat)."""
    n = 0
    try:
        with open("/proc/vmstat") as f:
            for line in f:
                if line.startswith(("drop_slab ", "drop_pagecache ")):
                    n += int(line.split()[1])
    except (OSError, ValueError):
        pass
    return n


def run_target(bench, target, per_kind):
    src, mnt = bench.fresh(f"fresh-{target}-src"), bench.fresh(f"fresh-{target}-mnt")
    col = Column(src, mnt)
    t0 = time.monotonic()
    drops0 = drops()
    d = bench.mount(target, src, mnt)
    with d:
        try:
            col.run(per_kind)
        except Exception as e:
            raise d.failure(f"freshness, {target}", e)
        d.check_alive(f"freshness, {target}")
    shutil.rmtree(src, ignore_errors=True)
    applies = [(max(v, default=0.0), k) for k, v in col.apply_s.items()]
    meta = {"elapsed_s": round(time.monotonic() - t0, 1), "polls": col.poller.rounds,
            "poll_pass_max_ms": ms(col.poller.pass_max), "poll_pause_max_ms": ms(col.poller.pause_max),
            "batch_apply_max_ms": ms(max(applies)[0]), "batch_apply_max_kind": max(applies)[1],
            "drop_caches_meanwhile": drops() - drops0}
    if d.stop_note:
        meta["stop_note"] = d.stop_note
    return {k: summary(col, k) for k, _ in KINDS}, meta


def run(bench, targets, per_kind):
    """Returns ({target: {kind: figures}}, {target: meta}); a target that fails
    is left out and its error added to bench.errors."""
    out, meta = {}, {}
    for t in targets:
        log(f"[freshness] {t}: {per_kind} changes per kind, {len(KINDS)} kinds, batches of {BATCH}")
        try:
            out[t], meta[t] = run_target(bench, t, per_kind)
        except Exception as e:
            log(f"    ERROR: {e}")
            bench.errors.append({"round": "freshness", "target": t, "error": str(e)})
            continue
        worst = max(KINDS, key=lambda k: (out[t][k[0]]["missed"], out[t][k[0]]["p99_ms"] or math.inf))[0]
        w = out[t][worst]
        log(f"    {meta[t]['elapsed_s']:.0f} s; worst kind {worst}: p99 {fmt_ms(w['p99_ms'])} ms, {w['missed']} missed")
    return out, meta


# ---------------------------------------------------------------------------
# Report


def fmt_ms(v):
    if v is None:
        return ">10s"
    if v < 10:
        return f"{v:.1f}"
    return f"{v:.0f}"


def cell(e):
    s = f"{fmt_ms(e['p50_ms'])}/{fmt_ms(e['p99_ms'])}/{fmt_ms(e['max_ms'])}"
    if e["missed"]:
        s += f" ({e['missed']} >10s)"
    return s


def table(fr, meta, per_kind, order):
    targets = [t for t in order if t in fr]
    lines = [f"freshness: changes made directly in the backing directory, {per_kind} per kind in batches of {BATCH}; "
             f"time until the mount shows each, in ms: p50/p99/max (\">10s\": not shown within {LIMIT_S:g} s, "
             f"missed; (N >10s): how many)"]
    if not targets:
        return "\n".join(lines + ["  no result"])
    w0, w = 28, 30
    lines.append("  " + "change".ljust(w0) + "".join(t.rjust(w) for t in targets))
    for k, label in KINDS:
        lines.append("  " + label.ljust(w0) + "".join(cell(fr[t][k]).rjust(w) for t in targets))
    row = "  " + "create: listing after stat".ljust(w0)
    for t in targets:
        row += f"{fr[t]['create']['listed_after_stat']} of {fr[t]['create']['changes']}".rjust(w)
    lines.append(row)
    lines.append("  (create: listing after stat: creates whose name was not yet in the directory's listing when "
                 "their stat first worked)")
    for t in targets:
        m = meta.get(t, {})
        notes = [f"{k}: {fr[t][k]['prime_failures']} prime failures" for k, _ in KINDS if fr[t][k]["prime_failures"]]
        notes += [f"{k}: {fr[t][k]['errors']} errors ({fr[t][k].get('first_error')})" for k, _ in KINDS
                  if fr[t][k]["errors"]]
        if m.get("drop_caches_meanwhile"):
            notes.append(f"WARNING: {m['drop_caches_meanwhile']} drop_caches by other processes meanwhile (the "
                         f"kernel then forgets what it cached: changes may show sooner than this mount alone shows them)")
        lines.append(f"  {t}: {m.get('elapsed_s', 0):.0f} s; {m.get('polls', 0)} passes over the pending changes, "
                     f"the longest {fmt_ms(m.get('poll_pass_max_ms'))} ms; the longest pause between two passes "
                     f"{fmt_ms(m.get('poll_pause_max_ms'))} ms; the longest batch apply ({BATCH} changes in the "
                     f"backing directory) {fmt_ms(m.get('batch_apply_max_ms'))} ms ({m.get('batch_apply_max_kind')})"
                     + ("; " + "; ".join(notes) if notes else ""))
    lines.append(f"  a batch is polled alone for up to {WINDOW_S:g} s, then the next is set up (the pause) while "
                 f"slower changes stay pending; a change's time is an upper bound (when the check that saw it "
                 f"returned), within a pass or a pause of the truth")
    lines.append(SHOWS)
    return "\n".join(lines)


def checks(fr):
    """The target line, in the style of targets.targets_check."""
    name = f"slabfs freshness p99 <= {P99_TARGET_MS:g} ms and none missed, every kind"
    s = fr.get("slabfs")
    if not s:
        return [{"target": name, "result": "MISS", "detail": "no result"}]
    bad = [k for k, _ in KINDS if s[k]["missed"] or s[k]["p99_ms"] is None or s[k]["p99_ms"] > P99_TARGET_MS]
    worst = max((k for k, _ in KINDS), key=lambda k: (s[k]["missed"], s[k]["p99_ms"] or math.inf))
    detail = f"worst {worst}: p99 {fmt_ms(s[worst]['p99_ms'])} ms, {s[worst]['missed']} missed"
    if bad:
        detail += f"; over the target: {', '.join(bad)}"
    return [{"target": name, "result": "MISS" if bad else "PASS", "detail": detail}]
