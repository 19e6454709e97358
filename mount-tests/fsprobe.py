#!/usr/bin/env python3
"""Small filesystem probes for the slabfs mount tests (standard library only).

Each subcommand prints one line per check, "PASS what" or "FAIL what: why"
(lib.sh's mt_py_checks counts them), and exits 1 if any check failed.

  tree-create DIR --dirs N --files M   a tree whose files hold their own path
  tree-verify DIR [--expect N]         every file's content is its own path
  byte-names MNT SRC                   a file per byte value 1..255 but '/'
  long-names MNT SRC                   255-byte names work, 256 -> ENAMETOOLONG
  deep-tree MNT SRC --levels N         a tree deeper than PATH_MAX, by dir fds
  control-loop MNT --stop F --runs F --errors F   reclaim + compact every 3 ms

MNT is the directory under test, SRC the same directory read directly (the
backing directory; the same as MNT on the native target).
"""

import argparse
import errno
import os
import shutil
import stat
import sys

from checks import check, failures


def attempt(what, fn):
    """Runs fn; an OSError is a failed check, with the errno named."""
    try:
        fn()
    except OSError as e:
        return check(False, what, "%s (%s)" % (e.strerror, errno.errorcode.get(e.errno, e.errno)))
    return check(True, what)


def read_all(path, dir_fd=None):
    fd = os.open(path, os.O_RDONLY, dir_fd=dir_fd)
    try:
        chunks = []
        while True:
            b = os.read(fd, 65536)
            if not b:
                return b"".join(chunks)
            chunks.append(b)
    finally:
        os.close(fd)


def write_new(path, data, dir_fd=None):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644, dir_fd=dir_fd)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


# ------------------------------------------------------------------ tree


def tree_create(a):
    """d000/f0000 ... : each file holds its path relative to DIR."""
    count = 0
    for d in range(a.dirs):
        dname = "d%03d" % d
        os.makedirs(os.path.join(a.dir, dname), exist_ok=True)
        for f in range(a.files):
            rel = "%s/f%04d" % (dname, f)
            with open(os.path.join(a.dir, rel), "wb") as fh:
                fh.write(rel.encode() + b"\n")
            count += 1
    check(True, "created %d files in %d directories" % (count, a.dirs))


def tree_verify(a):
    """Walks DIR: every file's content must be its own path, its size that
    length; a name that led to another inode (a dentry or node id mix-up
    after reclaim or migration) shows as wrong content."""
    count = 0
    bad = []
    for root, dirs, files in os.walk(a.dir):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(root, name)
            rel = os.path.relpath(path, a.dir)
            want = rel.encode() + b"\n"
            st = os.lstat(path)
            got = read_all(path)
            count += 1
            if got != want or st.st_size != len(want) or not stat.S_ISREG(st.st_mode):
                bad.append("%s: size %d, content %r" % (rel, st.st_size, got[:40]))
    if a.expect is not None and count != a.expect:
        bad.append("%d files found, %d expected" % (count, a.expect))
    check(not bad, "tree %s: %d files hold their own path" % (a.dir, count), "; ".join(bad[:5]))


# ------------------------------------------------------------------ names


def byte_names(a):
    """A file for every byte value 1..255 but '/', named b'n' + byte + b'n'
    and (where the byte alone is a legal name, i.e. not '.') the byte alone:
    created, listed, stat'ed and read back, byte for byte, through the
    mount and in the backing directory. Names are bytes all the way: bytes
    >= 0x80 alone are not UTF-8, and a String round trip would mangle them."""
    mnt = os.fsencode(os.path.join(a.mnt, "bytes"))
    src = os.fsencode(os.path.join(a.src, "bytes"))
    os.mkdir(mnt)
    names = {}
    for b in range(1, 256):
        if b == ord("/"):
            continue
        names[b"n" + bytes([b]) + b"n"] = b
        if b != ord("."):
            names[bytes([b])] = b
    created = []
    for name, b in sorted(names.items()):
        try:
            write_new(os.path.join(mnt, name), name + b"|%d\n" % b)
            created.append(name)
        except OSError as e:
            check(False, "create name %r" % name, e.strerror)
    check(len(created) == len(names), "created %d files, one per byte value (alone and embedded)" % len(created))
    listed = set(os.listdir(mnt))
    check(listed == set(names), "readdir lists exactly the %d names" % len(names),
          "missing %r, extra %r" % (sorted(set(names) - listed)[:5], sorted(listed - set(names))[:5]))
    backing = set(os.listdir(src))
    check(backing == set(names), "the backing directory has exactly the same byte names",
          "missing %r, extra %r" % (sorted(set(names) - backing)[:5], sorted(backing - set(names))[:5]))
    bad = []
    for name in created:
        want = name + b"|%d\n" % names[name]
        try:
            st = os.stat(os.path.join(mnt, name))
            got = read_all(os.path.join(mnt, name))
            back = read_all(os.path.join(src, name))
        except OSError as e:
            bad.append("%r: %s" % (name, e.strerror))
            continue
        if st.st_size != len(want) or got != want or back != want:
            bad.append("%r: size %d, read %r, backing %r" % (name, st.st_size, got, back))
    check(not bad, "stat and read back every byte name (mount and backing)", "; ".join(bad[:5]))
    # Rename each to a second byte name and back, then remove: the names must
    # survive the kernel's and our dentry caches both ways.
    bad = []
    for name in created:
        other = b"r" + name
        try:
            os.rename(os.path.join(mnt, name), os.path.join(mnt, other))
            if os.path.lexists(os.path.join(mnt, name)) or not os.path.lexists(os.path.join(src, other)):
                bad.append("%r: rename not seen" % name)
            os.rename(os.path.join(mnt, other), os.path.join(mnt, name))
        except OSError as e:
            bad.append("%r: %s" % (name, e.strerror))
    check(not bad, "rename every byte name away and back", "; ".join(bad[:5]))
    bad = []
    for name in created:
        try:
            os.unlink(os.path.join(mnt, name))
        except OSError as e:
            bad.append("%r: %s" % (name, e.strerror))
    check(not bad and not os.listdir(mnt) and not os.listdir(src), "unlink every byte name", "; ".join(bad[:5]))
    os.rmdir(mnt)


def expect_errno(what, want, fn):
    try:
        fn()
    except OSError as e:
        return check(e.errno == want, what, "got %s, want %s" % (
            errno.errorcode.get(e.errno, e.errno), errno.errorcode[want]))
    return check(False, what, "succeeded, want %s" % errno.errorcode[want])


def long_names(a):
    mnt = os.path.join(a.mnt, "long")
    src = os.path.join(a.src, "long")
    os.mkdir(mnt)
    # ASCII, and UTF-8 with multibyte characters: the limit is 255 bytes.
    for label, n255 in (("ascii", b"a" * 255), ("utf-8", "é".encode() * 127 + b"x")):
        assert len(n255) == 255
        p = os.path.join(os.fsencode(mnt), n255)
        attempt("255-byte %s name: create" % label, lambda: write_new(p, b"long\n"))
        attempt("255-byte %s name: stat" % label, lambda: os.stat(p))
        check(n255 in os.listdir(os.fsencode(mnt)), "255-byte %s name: listed" % label)
        check(os.path.exists(os.path.join(os.fsencode(src), n255)), "255-byte %s name: in the backing directory" % label)
        try:
            data = read_all(p)
        except OSError as e:
            data = repr(e).encode()
        check(data == b"long\n", "255-byte %s name: read back" % label)
        d255 = n255[:-1] + b"D"
        attempt("255-byte %s name: mkdir" % label, lambda: os.mkdir(os.path.join(os.fsencode(mnt), d255)))
        attempt("255-byte %s name: rename" % label,
                lambda: os.rename(p, os.path.join(os.fsencode(mnt), d255, n255)))
        attempt("255-byte %s name: unlink and rmdir" % label,
                lambda: (os.unlink(os.path.join(os.fsencode(mnt), d255, n255)),
                         os.rmdir(os.path.join(os.fsencode(mnt), d255))))
    n256 = os.path.join(os.fsencode(mnt), b"b" * 256)
    expect_errno("256-byte name: create fails with ENAMETOOLONG", errno.ENAMETOOLONG,
                 lambda: write_new(n256, b"x"))
    expect_errno("256-byte name: mkdir fails with ENAMETOOLONG", errno.ENAMETOOLONG, lambda: os.mkdir(n256))
    expect_errno("256-byte name: stat fails with ENAMETOOLONG", errno.ENAMETOOLONG, lambda: os.stat(n256))
    fd = os.open(mnt, os.O_RDONLY | os.O_DIRECTORY)
    try:
        write_new(b"short", b"s", dir_fd=fd)
        expect_errno("256-byte name: rename to it fails with ENAMETOOLONG", errno.ENAMETOOLONG,
                     lambda: os.rename(b"short", b"c" * 256, src_dir_fd=fd, dst_dir_fd=fd))
        expect_errno("256-byte name: symlink fails with ENAMETOOLONG", errno.ENAMETOOLONG,
                     lambda: os.symlink(b"short", b"c" * 256, dir_fd=fd))
        os.unlink(b"short", dir_fd=fd)
    finally:
        os.close(fd)
    check(not os.listdir(src), "nothing left in the backing directory", repr(os.listdir(src)))
    os.rmdir(mnt)


def deep_tree(a):
    """N levels of 20-byte directory names (N * 21 bytes of path, beyond
    PATH_MAX for N = 200): created, walked and removed through directory
    descriptors, as every *at() call must work at any depth."""
    name = b"level-directory-name"  # 20 bytes
    top = os.path.join(a.mnt, "deep")
    os.mkdir(top)
    fds = [os.open(top, os.O_RDONLY | os.O_DIRECTORY)]
    ok = True
    try:
        for i in range(a.levels):
            os.mkdir(name, dir_fd=fds[-1])
            fds.append(os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fds[-1]))
        write_new("bottom", b"at the bottom\n", dir_fd=fds[-1])
    except OSError as e:
        ok = check(False, "create %d levels" % a.levels, "at level %d: %s" % (len(fds) - 1, e.strerror))
    finally:
        for fd in fds:
            os.close(fd)
    if ok:
        check(True, "create %d levels of directories (%d-byte path) and a file at the bottom" % (
            a.levels, a.levels * (len(name) + 1)))
    # Walk down again from the top with fresh descriptors (fresh lookups).
    for label, root in (("mount", top), ("backing", os.path.join(a.src, "deep"))):
        depth = 0
        found = None
        try:
            for dirpath, dirnames, filenames, dirfd in os.fwalk(root):
                if "bottom" in filenames:
                    found = read_all("bottom", dir_fd=dirfd)
                    depth = dirpath.count(os.sep) - root.count(os.sep)
        except OSError as e:
            found = repr(e).encode()
        check(found == b"at the bottom\n" and depth == a.levels,
              "walk the deep tree (%s) by descriptors: file found at depth %d" % (label, depth), repr(found))
    # A path deeper than PATH_MAX is refused by the kernel before it reaches us.
    deep_path = os.path.join(top, *([name.decode()] * a.levels), "bottom")
    if len(deep_path) >= 4096:
        expect_errno("a path longer than PATH_MAX fails with ENAMETOOLONG", errno.ENAMETOOLONG,
                     lambda: os.stat(deep_path))
    # shutil.rmtree works by descriptors on Linux, so depth is no problem.
    attempt("remove the deep tree", lambda: shutil.rmtree(top))
    check(not os.path.exists(os.path.join(a.src, "deep")), "deep tree gone from the backing directory")


def control_loop(a):
    """Writes user.slabfs.reclaim (PAGES) and user.slabfs.compact (1) on MNT
    every INTERVAL ms until the STOP file appears: in-process, so the pace is
    the interval and not a process start per write. Each failure is a line in
    ERRORS; RUNS gets one '.' per round at the end (lib.sh's loop files)."""
    import time
    runs = 0
    errors = open(a.errors, "a")
    while not os.path.exists(a.stop):
        runs += 1
        for name, value in (("user.slabfs.reclaim", str(a.pages).encode()), ("user.slabfs.compact", b"1")):
            try:
                os.setxattr(a.mnt, name, value)
            except OSError as e:
                errors.write("run %d: setxattr %s=%s: %s\n" % (runs, name, value.decode(), e.strerror))
                errors.flush()
        time.sleep(a.interval_ms / 1000.0)
    errors.close()
    with open(a.runs, "a") as f:
        f.write("." * runs)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("tree-create")
    s.add_argument("dir")
    s.add_argument("--dirs", type=int, default=30)
    s.add_argument("--files", type=int, default=100)
    s = sub.add_parser("tree-verify")
    s.add_argument("dir")
    s.add_argument("--expect", type=int)
    for name in ("byte-names", "long-names", "deep-tree"):
        s = sub.add_parser(name)
        s.add_argument("mnt")
        s.add_argument("src")
        if name == "deep-tree":
            s.add_argument("--levels", type=int, default=200)
    s = sub.add_parser("control-loop")
    s.add_argument("mnt")
    s.add_argument("--pages", type=int, default=64)
    s.add_argument("--interval-ms", type=float, default=3)
    s.add_argument("--stop", required=True)
    s.add_argument("--runs", required=True)
    s.add_argument("--errors", required=True)
    a = p.parse_args()
    {
        "tree-create": tree_create, "tree-verify": tree_verify, "byte-names": byte_names,
        "long-names": long_names, "deep-tree": deep_tree, "control-loop": control_loop,
    }[a.cmd](a)
    return 1 if failures() else 0


if __name__ == "__main__":
    sys.exit(main())
