#!/usr/bin/env python3
"""Where a first directory listing spends its time, per mount, side by side.

The main comparison times `list, first` as one figure per target; this
splits it per directory into the client's system calls: the open (OPENDIR),
each getdents64 call (one FUSE READDIR or READDIRPLUS each while the
kernel's readdir cache is not complete) and the close. Each round does what
the bench does before its first listing: drop_caches 2, then lstat every
file (the kernel holds every entry again), then lists each directory once.
Rounds alternate between the mounts, so drift on a shared machine lands on
all of them alike.

    list_phases.py [--files 19000] [--rounds 3] LABEL=MOUNTPOINT ...

Each MOUNTPOINT must be a mounted filesystem (or a plain directory, for
native); the bench's tree (workloads.tree: 100 directories) is made under it in
list-phases.PID/ and removed at the end. Needs root (drop_caches), x86_64.
"""
import argparse
import ctypes
import os
import platform
import shutil
import statistics
import sys
import time

from daemons import drop_caches
from workloads import NDIRS, tree

SYS_GETDENTS64 = 217  # x86_64's number; other architectures differ
BUFFER = 32768        # what glibc's readdir asks for


def make_tree(root, nfiles):
    os.mkdir(root)
    dirs, files = tree(root, nfiles)
    for d in dirs:
        os.mkdir(d)
    for path in files:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC, 0o644))
    return dirs, files


def one_round(dirs, files, libc, buf):
    """Per-directory microseconds: open, each getdents64, close; and the bytes each call returned."""
    drop_caches()
    time.sleep(0.5)  # let FORGETs reach the daemon, as the bench does
    for path in files:
        os.lstat(path)
    rows = []
    clock = time.perf_counter_ns
    for d in dirs:
        t0 = clock()
        fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        t1 = clock()
        calls = []
        while True:
            s = clock()
            n = libc.syscall(SYS_GETDENTS64, fd, buf, BUFFER)
            e = clock()
            if n < 0:
                raise OSError(ctypes.get_errno(), f"getdents64 on {d}")
            calls.append(((e - s) / 1000, n))
            if n == 0:
                break
        t2 = clock()
        os.close(fd)
        t3 = clock()
        rows.append({"open": (t1 - t0) / 1000, "calls": calls, "close": (t3 - t2) / 1000,
                     "total": (t3 - t0) / 1000})
    return rows


def summarize(rows):
    out = {"open": statistics.median(r["open"] for r in rows),
           "close": statistics.median(r["close"] for r in rows),
           "total": statistics.median(r["total"] for r in rows),
           "getdents": []}
    for i in range(int(max(len(r["calls"]) for r in rows))):
        got = [r["calls"][i] for r in rows if len(r["calls"]) > i]
        out["getdents"].append((statistics.median(t for t, _ in got), statistics.median(n for _, n in got)))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=19000, help=f"files in all, over {NDIRS} directories, as in the bench")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("targets", nargs="+", metavar="LABEL=MOUNTPOINT")
    a = ap.parse_args()
    if platform.machine() != "x86_64":
        sys.exit(f"list_phases.py: getdents64 is called by its x86_64 number; this is {platform.machine()}")
    if os.geteuid() != 0:
        sys.exit("list_phases.py: run as root (drop_caches)")
    if a.files < NDIRS or a.rounds < 1:
        sys.exit(f"list_phases.py: --files must be at least {NDIRS} and --rounds at least 1")
    targets = []
    for spec in a.targets:
        label, sep, path = spec.partition("=")
        if not sep or not label or not os.path.isdir(path):
            sys.exit(f"list_phases.py: {spec!r} is not LABEL=DIRECTORY")
        if label in (t[0] for t in targets):
            sys.exit(f"list_phases.py: label {label!r} is given twice")
        targets.append((label, os.path.join(path, f"list-phases.{os.getpid()}")))
    libc = ctypes.CDLL(None, use_errno=True)
    buf = ctypes.create_string_buffer(BUFFER)
    trees, rows = {}, {label: [] for label, _ in targets}
    try:
        for label, root in targets:
            trees[label] = make_tree(root, a.files)
        for _ in range(a.rounds):
            for label, _ in targets:
                rows[label] += one_round(*trees[label], libc, buf)
    finally:
        for _, root in targets:
            shutil.rmtree(root, ignore_errors=True)
    print(f"first listing per directory ({a.files} files in {NDIRS} directories, {a.rounds} rounds; "
          f"medians in us; getdents64 with a {BUFFER}-byte buffer, bytes returned in brackets)")
    for label, _ in targets:
        s = summarize(rows[label])
        calls = "  ".join(f"getdents {t:6.1f} [{n:.0f} B]" for t, n in s["getdents"])
        print(f"  {label:16s} total {s['total']:6.1f}   open {s['open']:5.1f}   {calls}   close {s['close']:4.1f}")


if __name__ == "__main__":
    main()
