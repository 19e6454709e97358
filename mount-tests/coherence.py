#!/usr/bin/env python3
"""Changes made behind the mount (suite i): a tree in the backing directory,
primed through the mount, changed directly in the backing directory, then
compared through the mount until it matches or a deadline passes.

  populate SRC --files N [--dirs D]     N files in D directories (content names itself)
  prime MNT                             stat, list and read everything through the mount
  churn SRC [--round R]                 change every file: append, chmod, rename, unlink,
                                        create, a new directory and a removed one
  compare MNT SRC --within S [--what W] the tree through the mount equals the backing
                                        tree within S seconds (names, types, modes, sizes,
                                        bytes); prints PASS/FAIL and how long it took
"""

import argparse
import hashlib
import os
import sys
import time

from checks import check, failures, note


def files(root):
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            yield os.path.join(dirpath, name)


def populate(a):
    for d in range(a.dirs):
        os.makedirs(os.path.join(a.src, "d%03d" % d), exist_ok=True)
    for i in range(a.files):
        p = os.path.join(a.src, "d%03d" % (i % a.dirs), "f%06d" % i)
        with open(p, "wb") as f:
            f.write(p.encode())


def prime(a):
    count = 0
    for dirpath, dirnames, filenames in os.walk(a.mnt):
        for name in filenames:
            p = os.path.join(dirpath, name)
            os.lstat(p)
            if count % 10 == 0:
                with open(p, "rb") as f:
                    f.read()
            count += 1
    note("primed %d files through the mount" % count)


def churn(a):
    r = a.round
    paths = list(files(a.src))
    for i, p in enumerate(paths):
        k = (i + r) % 6
        if k == 0:
            with open(p, "ab") as f:
                f.write(b" appended in round %d" % r)
        elif k == 1:
            os.chmod(p, 0o600 if os.stat(p).st_mode & 0o777 != 0o600 else 0o640)
        elif k == 2:
            os.rename(p, p + ".r%d" % r)
        elif k == 3:
            os.unlink(p)
        elif k == 4:
            with open(p + ".n%d" % r, "wb") as f:
                f.write(b"created in round %d" % r)
        else:
            with open(p, "r+b") as f:
                f.write(b"X")
    dirs = sorted(d for d in os.listdir(a.src) if os.path.isdir(os.path.join(a.src, d)))
    os.mkdir(os.path.join(a.src, "new-dir-%d" % r))
    with open(os.path.join(a.src, "new-dir-%d" % r, "inside"), "wb") as f:
        f.write(b"in a new directory")
    if dirs:
        victim = os.path.join(a.src, dirs[-1])
        for name in os.listdir(victim):
            os.unlink(os.path.join(victim, name))
        os.rmdir(victim)
    note("round %d: changed %d files behind the mount" % (r, len(paths)))


def snapshot(root):
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        for name in dirnames:
            out[os.path.join(rel_dir, name)] = "dir"
        for name in filenames:
            p = os.path.join(dirpath, name)
            try:
                st = os.lstat(p)
                with open(p, "rb") as f:
                    digest = hashlib.sha1(f.read()).hexdigest()[:12]
                out[os.path.join(rel_dir, name)] = "%o %d %s" % (st.st_mode, st.st_size, digest)
            except OSError as e:
                out[os.path.join(rel_dir, name)] = "error %s" % e.strerror
    return out


def compare(a):
    want = snapshot(a.src)
    start = time.monotonic()
    got = snapshot(a.mnt)
    while got != want and time.monotonic() - start < a.within:
        time.sleep(0.05)
        got = snapshot(a.mnt)
    took = time.monotonic() - start
    diff = sorted(set(got.items()) ^ set(want.items()))
    check(got == want, "%s: the mount shows the backing tree (%d entries) within %.1f s" % (a.what, len(want), a.within),
          "%d entries differ after %.1f s, e.g. %r" % (len(diff), took, diff[:4]))
    note("%s: the mount matched after %.2f s" % (a.what, took))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("populate")
    s.add_argument("src")
    s.add_argument("--files", type=int, required=True)
    s.add_argument("--dirs", type=int, default=50)
    s = sub.add_parser("prime")
    s.add_argument("mnt")
    s = sub.add_parser("churn")
    s.add_argument("src")
    s.add_argument("--round", type=int, default=1)
    s = sub.add_parser("compare")
    s.add_argument("mnt")
    s.add_argument("src")
    s.add_argument("--within", type=float, required=True)
    s.add_argument("--what", default="after the changes")
    a = p.parse_args()
    {"populate": populate, "prime": prime, "churn": churn, "compare": compare}[a.cmd](a)
    sys.exit(1 if failures() else 0)


if __name__ == "__main__":
    main()
