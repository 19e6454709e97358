#!/usr/bin/env python3
"""Scale probe for the slabfs mount tests (suite e, standard library only).

  scale.py MNT SRC [--pid PID] [--dirs 200] [--files 1000] [--max-rss-per-entry 400]
           [--max-fds 100]

Creates DIRS x FILES files through MNT (each holds its own name), lists them
(os.scandir), stats them twice with `echo 2 > /proc/sys/vm/drop_caches`
between the rounds, reads a sample back, and removes them. With --pid (the
slabfs daemon), it also samples the daemon's descriptor count every 0.1 s
throughout, and reads user.slabfs.stats after each phase: daemon RSS per
cached entry = daemonRSSBytes / (cache.inodes + cache.dentries).
Prints PASS/FAIL lines (lib.sh's mt_py_checks) and "NOTE" lines with figures.
"""

import argparse
import json
import os
import sys
import threading
import time

from checks import check, failures, note


class FdSampler(threading.Thread):
    """The daemon's open descriptors, sampled every 0.1 s; keeps the maximum."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.max, self.samples, self.stop = pid, 0, 0, threading.Event()

    def count(self):
        try:
            return len(os.listdir("/proc/%d/fd" % self.pid))
        except OSError:
            return 0

    def run(self):
        while not self.stop.is_set():
            self.max = max(self.max, self.count())
            self.samples += 1
            self.stop.wait(0.1)


def stats(mnt):
    s = json.loads(os.getxattr(mnt, "user.slabfs.stats"))
    c = s["cache"]
    return s["daemonRSSBytes"], c["inodes"], c["dentries"], c.get("kernelHeldInodes", 0)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mnt")
    p.add_argument("src")
    p.add_argument("--pid", type=int)
    p.add_argument("--dirs", type=int, default=200)
    p.add_argument("--files", type=int, default=1000)
    p.add_argument("--max-rss-per-entry", type=int, default=400)
    p.add_argument("--max-fds", type=int, default=100)
    a = p.parse_args()
    total = a.dirs * a.files
    root = os.path.join(a.mnt, "scale")
    sampler = None
    peak = [0, 0, 0, ""]  # rss, inodes, dentries, phase: the most entries seen

    def phase_stats(label):
        if not a.pid:
            return
        rss, inodes, dentries, held = stats(a.mnt)
        entries = inodes + dentries
        per = rss / entries if entries else 0
        note("%-20s RSS %5.1f MiB, %6d inodes (%6d kernel-held) + %6d dentries cached, %4.0f B per entry, "
             "%d fds (max %d)" % (label, rss / 2**20, inodes, held, dentries, per, sampler.count(), sampler.max))
        if entries > peak[1] + peak[2]:
            peak[:] = [rss, inodes, dentries, label]

    if a.pid:
        sampler = FdSampler(a.pid)
        sampler.start()
        base_rss = stats(a.mnt)[0]
        phase_stats("before")

    def timed(label, fn):
        t = time.monotonic()
        fn()
        dt = time.monotonic() - t
        note("%-22s %7.1f s, %8.0f files/s" % (label, dt, total / dt if dt else 0))

    names = ["f%05d" % i for i in range(a.files)]
    dirs = [os.path.join(root, "d%03d" % d) for d in range(a.dirs)]

    def create():
        os.mkdir(root)
        for d in dirs:
            os.mkdir(d)
            for n in names:
                fd = os.open(os.path.join(d, n), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                os.write(fd, n.encode())
                os.close(fd)

    timed("create", create)
    phase_stats("after create")

    listed = [0]

    def listing():
        n = 0
        for d in dirs:
            with os.scandir(d) as it:
                for _ in it:
                    n += 1
        listed[0] = n

    timed("list (os.scandir)", listing)
    check(listed[0] == total, "listing shows all %d files" % total, "listed %d" % listed[0])
    phase_stats("after listing")

    bad = [0]

    def stat_all():
        for d in dirs:
            for n in names:
                if os.lstat(os.path.join(d, n)).st_size != len(n):
                    bad[0] += 1

    timed("stat, round 1", stat_all)
    phase_stats("after stat round 1")
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("2\n")
    phase_stats("after drop_caches")
    timed("stat, round 2 (cold)", stat_all)
    check(bad[0] == 0, "every file's size is right in both stat rounds", "%d wrong" % bad[0])
    phase_stats("after stat round 2")

    # After drop_caches the backing kernel has let go of the directories'
    # dentries: slabfs opens them by name in their parent (a handle would be
    # reconnected by reading the parent). Each listing and a new file in
    # every tenth directory must still land in the right backing directory.
    relisted = [d for d in dirs if sorted(os.listdir(d)) != sorted(names)]
    check(not relisted, "after drop_caches every directory lists its own files", "%d wrong" % len(relisted))
    for d in dirs[::10]:
        with open(os.path.join(d, "after-drop"), "w") as f:
            f.write(d)
    misplaced = [d for d in dirs[::10]
                 if open(os.path.join(a.src, "scale", os.path.basename(d), "after-drop")).read() != d]
    check(not misplaced, "files made after drop_caches are in their own backing directories",
          "%d misplaced" % len(misplaced))
    for d in dirs[::10]:
        os.unlink(os.path.join(d, "after-drop"))

    # A sample read back: each file holds its own name.
    wrong = [n for d in dirs[::20] for n in names[::50]
             if open(os.path.join(d, n), "rb").read() != n.encode()]
    check(not wrong, "sampled contents are right", "%d wrong" % len(wrong))
    check(sum(len(os.listdir(os.path.join(a.src, "scale", "d%03d" % d))) for d in range(a.dirs)) == total,
          "the backing directory holds all %d files" % total)

    def remove():
        for d in dirs:
            for n in names:
                os.unlink(os.path.join(d, n))
            os.rmdir(d)
        os.rmdir(root)

    timed("remove", remove)
    check(not os.path.exists(os.path.join(a.src, "scale")), "everything removed from the backing directory")
    phase_stats("after remove")

    if not a.pid:
        print("SKIP daemon RSS per cached entry and descriptors: no daemon (native target)")
    if a.pid:
        sampler.stop.set()
        sampler.join()
        rss, inodes, dentries, label = peak
        entries = inodes + dentries
        per = rss / entries
        per_delta = (rss - base_rss) / entries
        note("peak (%s): %d cached entries; daemon RSS %.0f B per entry (%.0f B above the %.1f MiB at the start)"
             % (label, entries, per, per_delta, base_rss / 2**20))
        check(entries >= total, "the cache held at least %d entries at its peak" % total, "%d" % entries)
        check(per < a.max_rss_per_entry, "daemon RSS per cached entry %.0f B < %d B" % (per, a.max_rss_per_entry),
              "RSS %d B, %d entries" % (rss, entries))
        check(sampler.max < a.max_fds and sampler.samples > 10,
              "daemon descriptors stayed below %d throughout (max %d, %d samples)"
              % (a.max_fds, sampler.max, sampler.samples))
    sys.exit(1 if failures() else 0)


if __name__ == "__main__":
    main()
