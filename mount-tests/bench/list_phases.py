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

    list_phases.py [--dirs 100] [--files 190] [--rounds 3] LABEL=MOUNTPOINT ...

Each MOUNTPOINT must be a mounted filesystem (or a plain directory, for
native); a tree is made under it in list-phases.PID/ and removed at the end.
Needs root (drop_caches).
"""
import argparse
import ctypes
import os
import shutil
import statistics
import sys
import time

SYS_GETDENTS64 = 217  # x86_64
BUFFER = 32768        # what glibc's readdir asks for


def make_tree(root, ndirs, nfiles):
    os.mkdir(root)
    dirs = [os.path.join(root, f"d{d:03d}") for d in range(ndirs)]
    files = []
    for d in dirs:
        os.mkdir(d)
        for f in range(nfiles):
            path = os.path.join(d, f"f{f:07d}")
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC, 0o644))
            files.append(path)
    return dirs, files


def one_round(dirs, files, libc, buf):
    """Per-directory microseconds: open, each getdents64, close; and the bytes each call returned."""
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("2")
    time.sleep(0.5)  # let FORGETs reach the daemon
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
    ncalls = statistics.median(len(r["calls"]) for r in rows)
    out = {"open": statistics.median(r["open"] for r in rows),
           "close": statistics.median(r["close"] for r in rows),
           "total": statistics.median(r["total"] for r in rows),
           "getdents_calls": ncalls, "getdents": []}
    for i in range(int(max(len(r["calls"]) for r in rows))):
        got = [r["calls"][i] for r in rows if len(r["calls"]) > i]
        out["getdents"].append((statistics.median(t for t, _ in got), statistics.median(n for _, n in got)))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dirs", type=int, default=100)
    ap.add_argument("--files", type=int, default=190, help="files per directory (19,000 / 100 as in the bench)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("targets", nargs="+", metavar="LABEL=MOUNTPOINT")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("list_phases.py: run as root (drop_caches)")
    targets = []
    for spec in a.targets:
        label, sep, path = spec.partition("=")
        if not sep or not os.path.isdir(path):
            sys.exit(f"list_phases.py: {spec!r} is not LABEL=DIRECTORY")
        targets.append((label, os.path.join(path, f"list-phases.{os.getpid()}")))
    libc = ctypes.CDLL(None, use_errno=True)
    buf = ctypes.create_string_buffer(BUFFER)
    trees, rows = {}, {label: [] for label, _ in targets}
    try:
        for label, root in targets:
            trees[label] = make_tree(root, a.dirs, a.files)
        for _ in range(a.rounds):
            for label, _ in targets:
                rows[label] += one_round(*trees[label], libc, buf)
    finally:
        for _, root in targets:
            shutil.rmtree(root, ignore_errors=True)
    print(f"first listing per directory ({a.files} files, {a.dirs} directories, {a.rounds} rounds; "
          f"medians in us; getdents64 with a {BUFFER}-byte buffer, bytes returned in brackets)")
    for label, _ in targets:
        s = summarize(rows[label])
        calls = "  ".join(f"getdents {t:6.1f} [{n:.0f} B]" for t, n in s["getdents"])
        print(f"  {label:16s} total {s['total']:6.1f}   open {s['open']:5.1f}   {calls}   close {s['close']:4.1f}")


if __name__ == "__main__":
    main()
