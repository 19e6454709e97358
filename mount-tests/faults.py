#!/usr/bin/env python3
"""Fault probes for the slabfs mount tests (suite f, standard library only).

  writer DIR LOG [--files N]    writes files whose content is derived from their
                                name; every third is fsync'ed and then its name
                                appended (and fsync'ed) to LOG, outside the mount.
                                Stops at N files or at the first error (the
                                daemon was killed), printing how far it got.
  verify-log DIR LOG            every file named in LOG is intact under DIR
  behind-setup MNT              files and dirs created and cached through MNT
  behind-change SRC             the same tree changed directly in the backing dir
  behind-check MNT SRC          MNT shows the changed tree (after the timeouts)
  fill MNT SRC                  keep files, then a write until ENOSPC, then checks

Prints PASS/FAIL/NOTE lines (lib.sh's mt_py_checks).
"""

import argparse
import errno
import hashlib
import os
import stat
import sys

from checks import check, failures, note


def content(name, size=None):
    """Deterministic bytes for a file name: 1 KiB to 96 KiB."""
    seed = hashlib.sha256(name.encode()).digest()
    if size is None:
        size = 1024 + int.from_bytes(seed[:4], "little") % (95 * 1024)
    block = hashlib.sha256(seed).digest() * 128  # 4 KiB
    return (block * (size // len(block) + 1))[:size]


def read(path):
    with open(path, "rb") as f:
        return f.read()


def write(path, data, sync=False):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)


# ------------------------------------------------------------------ kill during writes


def writer(a):
    os.makedirs(a.dir, exist_ok=True)
    logfd = os.open(a.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    done = synced = 0
    try:
        for i in range(a.files):
            name = "w%06d" % i
            sync = i % 3 == 0
            write(os.path.join(a.dir, name), content(name), sync)
            done += 1
            if sync:
                os.write(logfd, (name + "\n").encode())
                os.fsync(logfd)
                synced += 1
    except OSError as e:
        print("writer: stopped by %s after %d files (%d fsync'ed)" % (errno.errorcode.get(e.errno, e.errno), done,
                                                                       synced))
        return 0
    print("writer: wrote all %d files (%d fsync'ed)" % (done, synced))
    return 0


def verify_log(a):
    with open(a.log) as f:
        names = [l.strip() for l in f if l.strip()]
    bad = []
    for n in names:
        try:
            if read(os.path.join(a.dir, n)) != content(n):
                bad.append(n + " (content)")
        except OSError as e:
            bad.append("%s (%s)" % (n, e.strerror))
    check(len(names) > 0, "some files were fsync'ed before the kill (%d)" % len(names))
    check(not bad, "every fsync'ed file is intact (%d checked)" % len(names), ", ".join(bad[:5]))


# ------------------------------------------------------------------ backing dir changed behind the mount

TREE = {"gone": b"removed behind the mount", "old-name": b"renamed behind the mount",
        "replaced": b"the first inode", "grown": b"short", "was-dir/f": b"in a dir",
        "chmodded": b"mode changes"}


def behind_setup(a):
    os.mkdir(os.path.join(a.mnt, "behind"))
    os.mkdir(os.path.join(a.mnt, "behind", "was-dir"))
    for rel, data in TREE.items():
        write(os.path.join(a.mnt, "behind", rel), data)
    # Cache everything in the kernel and in the daemon: names, attributes, pages.
    for rel, data in TREE.items():
        p = os.path.join(a.mnt, "behind", rel)
        os.stat(p)
        check(read(p) == data, "before: %s reads back through the mount" % rel)
    os.listdir(os.path.join(a.mnt, "behind"))


def behind_change(a):
    b = lambda *p: os.path.join(a.src, "behind", *p)
    os.unlink(b("gone"))
    os.rename(b("old-name"), b("new-name"))
    write(b("replaced.tmp"), b"a second inode, longer than the first")
    os.rename(b("replaced.tmp"), b("replaced"))
    with open(b("grown"), "ab") as f:
        f.write(b" and then longer")
    os.unlink(b("was-dir", "f"))
    os.rmdir(b("was-dir"))
    write(b("was-dir"), b"now a file")
    os.chmod(b("chmodded"), 0o600)
    write(b("appeared"), b"created behind the mount")


def behind_check(a):
    m = lambda *p: os.path.join(a.mnt, "behind", *p)

    def gone(rel):
        try:
            os.stat(m(rel))
        except FileNotFoundError:
            return True
        except OSError:
            return False
        return False

    def reads(rel, want):
        try:
            got = read(m(rel))
        except OSError as e:
            return check(False, "%s reads %r" % (rel, want), e.strerror)
        return check(got == want, "%s reads %r" % (rel, want), "got %r" % got)

    check(gone("gone"), "a file removed in the backing dir is gone (ENOENT)")
    check(gone("old-name"), "a file renamed in the backing dir is gone under its old name")
    reads("new-name", b"renamed behind the mount")
    reads("replaced", b"a second inode, longer than the first")
    check(os.stat(m("replaced")).st_ino == os.stat(os.path.join(a.src, "behind", "replaced")).st_ino,
          "replaced: the new inode number")
    check(os.stat(m("replaced")).st_size == len(b"a second inode, longer than the first"), "replaced: the new size")
    reads("grown", b"short and then longer")
    check(os.stat(m("grown")).st_size == len(b"short and then longer"), "grown: the new size")
    check(stat.S_ISREG(os.lstat(m("was-dir")).st_mode), "a dir replaced by a file is a file")
    reads("was-dir", b"now a file")
    check(stat.S_IMODE(os.stat(m("chmodded")).st_mode) == 0o600, "a mode changed in the backing dir is seen",
          oct(os.stat(m("chmodded")).st_mode))
    reads("appeared", b"created behind the mount")
    check(sorted(os.listdir(m())) == sorted(os.listdir(os.path.join(a.src, "behind"))),
          "the listing equals the backing dir's", repr(sorted(os.listdir(m()))))
    # And the mount still works on the changed names.
    write(m("new-name"), b"rewritten through the mount")
    check(read(os.path.join(a.src, "behind", "new-name")) == b"rewritten through the mount",
          "a write through the mount to a renamed file reaches the backing file")
    os.unlink(m("replaced"))
    check(not os.path.exists(os.path.join(a.src, "behind", "replaced")),
          "an unlink through the mount of a replaced file removes the backing file")


# ------------------------------------------------------------------ full backing filesystem


def fill(a):
    d = os.path.join(a.mnt, "fill")
    os.mkdir(d)
    keep = {"keep%d" % i: content("keep%d" % i, 512 * 1024) for i in range(3)}
    for n, data in keep.items():
        write(os.path.join(d, n), data, sync=True)
    big = os.path.join(d, "big")
    fd = os.open(big, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    written, err, where = 0, None, None
    chunk = b"\xab" * 65536
    try:
        while written < 64 * 2**20:
            written += os.write(fd, chunk)
    except OSError as e:
        err, where = e.errno, "write"
    if err is None:
        try:
            os.fsync(fd)
        except OSError as e:
            err, where = e.errno, "fsync"
    try:
        os.close(fd)
    except OSError as e:
        if err is None:
            err, where = e.errno, "close"
    note("the big file took %d KiB before %s (%s)" % (written // 1024, errno.errorcode.get(err, err), where))
    check(err == errno.ENOSPC and where == "write", "writing past the end of the space: ENOSPC from write",
          "got %s from %s" % (errno.errorcode.get(err, err), where))
    size = os.stat(big).st_size
    check(size == os.stat(os.path.join(a.src, "fill", "big")).st_size,
          "the big file's size through the mount equals the backing file's (%d)" % size)
    check(read(big) == b"\xab" * size, "what the big file holds is what was written")
    for n, data in keep.items():
        check(read(os.path.join(d, n)) == data, "%s (written before the disk filled) intact through the mount" % n)
        check(read(os.path.join(a.src, "fill", n)) == data, "%s intact in the backing dir" % n)
    # A new file's write fails too, and after freeing space writes work again.
    try:
        write(os.path.join(d, "more"), b"x" * 65536)
        got = "ok"
    except OSError as e:
        got = errno.errorcode.get(e.errno, e.errno)
    check(got == "ENOSPC", "a new file's write on the full filesystem: ENOSPC", "got " + got)
    os.unlink(big)
    try:
        os.unlink(os.path.join(d, "more"))
    except FileNotFoundError:
        pass
    write(os.path.join(d, "after"), content("after", 256 * 1024), sync=True)
    check(read(os.path.join(d, "after")) == content("after", 256 * 1024), "after freeing space, writes work again")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("writer")
    s.add_argument("dir")
    s.add_argument("log")
    s.add_argument("--files", type=int, default=100000)
    s = sub.add_parser("verify-log")
    s.add_argument("dir")
    s.add_argument("log")
    for name in ("behind-setup", "behind-check", "fill"):
        s = sub.add_parser(name)
        s.add_argument("mnt")
        if name != "behind-setup":
            s.add_argument("src")
    s = sub.add_parser("behind-change")
    s.add_argument("src")
    a = p.parse_args()
    fn = {"writer": writer, "verify-log": verify_log, "behind-setup": behind_setup, "behind-change": behind_change,
          "behind-check": behind_check, "fill": fill}[a.cmd]
    status = fn(a)
    sys.exit(status if status else (1 if failures() else 0))


if __name__ == "__main__":
    main()
