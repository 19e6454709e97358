#!/usr/bin/env python3
"""POSIX semantics probes for the slabfs mount tests (suite a, standard library only).

Prints "PASS what" / "FAIL what: why" / "SKIP what: why" lines (checks.py;
lib.sh's mt_py_checks counts them) and exits 1 if any check failed.

  semantics MNT --ref DIR --other DIR   error cases, link counts, renames, hard links,
                                        symlink loops, EXDEV (DIR: another filesystem)
  times MNT --ref DIR                   ctime/mtime after every operation, utimensat
  perms MNT SRC                         (as root) ownership and permissions as nobody
  perms-nobody MNT                      (as nobody; started by perms)
  setid MNT --ref DIR                   (as root) nobody's writes, truncates and root's chown
                                        of setuid/setgid files: outcome and mode
  setid-nobody DIR                      (as nobody; started by setid)

Every scenario runs first on --ref (a plain directory, not through the
mount) and then on MNT: a FAIL line says what the plain directory gave, so
that a wrong expectation is told apart from a filesystem bug.
"""

import argparse
import ctypes
import json
import ctypes.util
import errno
import os
import stat
import subprocess
import sys
import time

from checks import check, failures, relay, skip

libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
AT_FDCWD = -100
RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2
UTIME_NOW = (1 << 30) - 1
UTIME_OMIT = (1 << 30) - 2


def renameat2(old, new, flags):
    libc.renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if libc.renameat2(AT_FDCWD, os.fsencode(old), AT_FDCWD, os.fsencode(new), flags) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), old)


class Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


def utimensat(path, atime, mtime):
    """atime/mtime: (sec, nsec) or UTIME_NOW / UTIME_OMIT."""
    ts = (Timespec * 2)()
    for i, t in enumerate((atime, mtime)):
        if t in (UTIME_NOW, UTIME_OMIT):
            ts[i].tv_sec, ts[i].tv_nsec = 0, t
        else:
            ts[i].tv_sec, ts[i].tv_nsec = t
    if libc.utimensat(AT_FDCWD, os.fsencode(path), ts, 0) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), path)


def ename(e):
    return errno.errorcode.get(e, str(e))


def outcome(fn):
    """The result of fn(): its value, or the errno name it raised."""
    try:
        v = fn()
    except OSError as e:
        return ename(e.errno)
    return "ok" if v is None else v


class Run:
    """One pass of a scenario. The reference pass records outcomes; the
    mount pass compares each with what is wanted and, on a mismatch, says
    what the reference directory gave."""

    def __init__(self, ref=None):
        self.ref = ref  # dict from the reference pass, or None while recording
        self.results = {}

    def check(self, what, got, want):
        self.results[what] = got
        if self.ref is None:
            return
        if got == want:
            check(True, what)
        else:
            native = self.ref.get(what, "?")
            check(False, what, "got %r, want %r (a plain directory gives %r)" % (got, want, native))

    def same(self, what, got):
        """got must be what the plain directory gave."""
        self.check(what, got, got if self.ref is None else self.ref.get(what))

    def errno(self, what, want, fn):
        self.check(what, outcome(fn), want)

    def ok(self, what, fn):
        got = outcome(fn)
        self.check(what, "ok" if got not in errno.errorcode.values() else got, "ok")

    def skip(self, what, why):
        if self.ref is not None:
            skip(what, why)


def both(scenario, mnt, ref, *args):
    """Runs scenario on ref (recording) and then on mnt (checking)."""
    r = Run()
    scenario(r, ref, *args)
    m = Run(r.results)
    scenario(m, mnt, *args)


def write_file(path, data=b"", mode=0o644):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def nlink(path):
    return os.lstat(path).st_nlink


# ------------------------------------------------------------------ semantics


def sc_errors(r, root):
    d = os.path.join(root, "err")
    os.mkdir(d)
    f = os.path.join(d, "file")
    sub = os.path.join(d, "sub")
    write_file(f, b"data\n")
    os.mkdir(sub)
    write_file(os.path.join(sub, "inner"), b"x")
    missing = os.path.join(d, "missing")
    r.errno("open of a missing file: ENOENT", "ENOENT", lambda: os.open(missing, os.O_RDONLY))
    r.errno("stat of a missing file: ENOENT", "ENOENT", lambda: os.stat(missing))
    r.errno("unlink of a missing file: ENOENT", "ENOENT", lambda: os.unlink(missing))
    r.errno("rmdir of a missing dir: ENOENT", "ENOENT", lambda: os.rmdir(missing))
    r.errno("rename of a missing file: ENOENT", "ENOENT", lambda: os.rename(missing, f + ".new"))
    r.errno("link of a missing file: ENOENT", "ENOENT", lambda: os.link(missing, f + ".ln"))
    r.errno("mkdir in a missing dir: ENOENT", "ENOENT", lambda: os.mkdir(os.path.join(missing, "x")))
    r.errno("readlink of a missing name: ENOENT", "ENOENT", lambda: os.readlink(missing))
    r.errno("chmod of a missing file: ENOENT", "ENOENT", lambda: os.chmod(missing, 0o600))
    r.errno("open O_CREAT|O_EXCL of an existing file: EEXIST", "EEXIST",
            lambda: os.open(f, os.O_WRONLY | os.O_CREAT | os.O_EXCL))
    r.errno("mkdir over an existing file: EEXIST", "EEXIST", lambda: os.mkdir(f))
    r.errno("mkdir over an existing dir: EEXIST", "EEXIST", lambda: os.mkdir(sub))
    r.errno("symlink over an existing name: EEXIST", "EEXIST", lambda: os.symlink("x", f))
    r.errno("link over an existing name: EEXIST", "EEXIST", lambda: os.link(f, sub))
    r.errno("mkfifo over an existing name: EEXIST", "EEXIST", lambda: os.mkfifo(f))
    r.errno("rmdir of a non-empty dir: ENOTEMPTY", "ENOTEMPTY", lambda: os.rmdir(sub))
    r.errno("rmdir of a file: ENOTDIR", "ENOTDIR", lambda: os.rmdir(f))
    r.errno("stat through a file (file/x): ENOTDIR", "ENOTDIR", lambda: os.stat(os.path.join(f, "x")))
    r.errno("mkdir under a file: ENOTDIR", "ENOTDIR", lambda: os.mkdir(os.path.join(f, "x")))
    r.errno("listdir of a file: ENOTDIR", "ENOTDIR", lambda: os.listdir(f))
    r.errno("open O_DIRECTORY of a file: ENOTDIR", "ENOTDIR", lambda: os.open(f, os.O_RDONLY | os.O_DIRECTORY))
    r.errno("unlink of a dir: EISDIR", "EISDIR", lambda: os.unlink(sub))
    r.errno("open of a dir for writing: EISDIR", "EISDIR", lambda: os.open(sub, os.O_WRONLY))
    r.errno("truncate of a dir: EISDIR", "EISDIR", lambda: os.truncate(sub, 0))
    r.errno("link of a dir: EPERM", "EPERM", lambda: os.link(sub, os.path.join(d, "sublink")))
    r.errno("readlink of a file: EINVAL", "EINVAL", lambda: os.readlink(f))
    r.errno("rename of a dir into itself: EINVAL", "EINVAL", lambda: os.rename(sub, os.path.join(sub, "x")))
    r.errno("getxattr of a missing attribute: ENODATA", "ENODATA", lambda: os.getxattr(f, "user.none"))
    r.errno("removexattr of a missing attribute: ENODATA", "ENODATA", lambda: os.removexattr(f, "user.none"))
    r.ok("setxattr, XATTR_CREATE", lambda: os.setxattr(f, "user.k", b"v1", os.XATTR_CREATE))
    r.errno("setxattr XATTR_CREATE of an existing attribute: EEXIST", "EEXIST",
            lambda: os.setxattr(f, "user.k", b"v2", os.XATTR_CREATE))
    r.errno("setxattr XATTR_REPLACE of a missing attribute: ENODATA", "ENODATA",
            lambda: os.setxattr(f, "user.other", b"v", os.XATTR_REPLACE))
    r.check("getxattr and listxattr", outcome(lambda: (os.getxattr(f, "user.k"), "user.k" in os.listxattr(f))),
            (b"v1", True))
    r.ok("removexattr", lambda: os.removexattr(f, "user.k"))

    # ENAMETOOLONG at 256 bytes (255 is fine).
    n255, n256 = os.path.join(d, "a" * 255), os.path.join(d, "b" * 256)
    r.ok("255-byte name: create", lambda: write_file(n255, b"x"))
    r.errno("256-byte name: open O_CREAT: ENAMETOOLONG", "ENAMETOOLONG", lambda: write_file(n256))
    r.errno("256-byte name: stat: ENAMETOOLONG", "ENAMETOOLONG", lambda: os.stat(n256))
    r.errno("256-byte name: mkdir: ENAMETOOLONG", "ENAMETOOLONG", lambda: os.mkdir(n256))
    r.errno("256-byte name: rename to it: ENAMETOOLONG", "ENAMETOOLONG", lambda: os.rename(n255, n256))
    r.errno("256-byte name: link to it: ENAMETOOLONG", "ENAMETOOLONG", lambda: os.link(n255, n256))
    r.errno("256-byte name: symlink: ENAMETOOLONG", "ENAMETOOLONG", lambda: os.symlink("t", n256))
    r.errno("256-byte name: unlink: ENAMETOOLONG", "ENAMETOOLONG", lambda: os.unlink(n256))
    os.unlink(n255)

    # Symlinks: loops and O_NOFOLLOW.
    la, lb = os.path.join(d, "loop-a"), os.path.join(d, "loop-b")
    os.symlink("loop-b", la)
    os.symlink("loop-a", lb)
    r.errno("open of a symlink loop: ELOOP", "ELOOP", lambda: os.open(la, os.O_RDONLY))
    r.errno("stat of a symlink loop: ELOOP", "ELOOP", lambda: os.stat(la))
    r.errno("open O_CREAT of a symlink loop: ELOOP", "ELOOP", lambda: os.open(la, os.O_WRONLY | os.O_CREAT))
    r.check("lstat of a symlink loop", outcome(lambda: stat.S_ISLNK(os.lstat(la).st_mode)), True)
    r.check("readlink of a symlink loop", outcome(lambda: os.readlink(la)), "loop-b")
    lf = os.path.join(d, "to-file")
    os.symlink("file", lf)
    r.errno("open O_NOFOLLOW of a symlink: ELOOP", "ELOOP", lambda: os.open(lf, os.O_RDONLY | os.O_NOFOLLOW))
    r.check("open through a symlink reads the target", outcome(lambda: read_file(lf)), b"data\n")
    r.check("readlink", outcome(lambda: os.readlink(lf)), "file")
    r.check("symlink's lstat size is its target's length", outcome(lambda: os.lstat(lf).st_size), 4)
    dangling = os.path.join(d, "dangling")
    os.symlink("nowhere", dangling)
    r.errno("open of a dangling symlink: ENOENT", "ENOENT", lambda: os.open(dangling, os.O_RDONLY))
    r.ok("open O_CREAT through a dangling symlink creates the target",
         lambda: write_file(dangling, b"made"))
    r.check("... which exists afterwards", outcome(lambda: read_file(os.path.join(d, "nowhere"))), b"made")

    # Other operations that must just work.
    fifo = os.path.join(d, "fifo")
    r.ok("mkfifo", lambda: os.mkfifo(fifo, 0o600))
    r.check("mkfifo makes a FIFO", outcome(lambda: stat.S_ISFIFO(os.lstat(fifo).st_mode)), True)
    r.ok("mknod of a regular file", lambda: os.mknod(os.path.join(d, "nod"), 0o600 | stat.S_IFREG))
    r.check("statvfs", outcome(lambda: os.statvfs(root).f_namemax >= 255), True)
    r.check("access R_OK|W_OK", outcome(lambda: os.access(f, os.R_OK | os.W_OK)), True)
    fd = os.open(f, os.O_WRONLY | os.O_APPEND)
    r.ok("O_APPEND write", lambda: os.write(fd, b"more\n") and None)
    r.ok("fsync and fdatasync", lambda: (os.fsync(fd), os.fdatasync(fd)) and None)
    os.close(fd)
    r.check("O_APPEND appended", outcome(lambda: read_file(f)), b"data\nmore\n")
    r.ok("truncate to 3", lambda: os.truncate(f, 3))
    r.check("truncated", outcome(lambda: read_file(f)), b"dat")
    r.ok("truncate to 10 (extends with zeros)", lambda: os.truncate(f, 10))
    r.check("extended with zeros", outcome(lambda: read_file(f)), b"dat" + b"\0" * 7)
    fd = os.open(f, os.O_RDWR)
    r.ok("posix_fallocate 64 KiB", lambda: os.posix_fallocate(fd, 0, 65536))
    r.check("size after fallocate", outcome(lambda: os.fstat(fd).st_size), 65536)
    r.check("pwrite/pread at 1 MiB", outcome(lambda: (os.pwrite(fd, b"far", 1 << 20), os.pread(fd, 3, 1 << 20))),
            (3, b"far"))
    os.close(fd)
    r.check("readdir lists every entry",
            outcome(lambda: sorted(os.listdir(d))),
            sorted(["file", "sub", "loop-a", "loop-b", "to-file", "dangling", "nowhere", "fifo", "nod"]))
    r.check("readdir d_type",
            outcome(lambda: sorted((e.name, e.is_dir(follow_symlinks=False), e.is_symlink()) for e in os.scandir(d)
                                   if e.name in ("file", "sub", "to-file"))),
            [("file", False, False), ("sub", True, False), ("to-file", False, True)])


def sc_nlink(r, root):
    d = os.path.join(root, "nlink")
    os.mkdir(d)
    a, b = os.path.join(d, "a"), os.path.join(d, "b")
    r.check("new dir: nlink 2", outcome(lambda: nlink(d)), 2)
    os.mkdir(a)
    os.mkdir(b)
    r.check("dir with 2 subdirs: nlink 4", outcome(lambda: nlink(d)), 4)
    f = os.path.join(a, "f")
    write_file(f, b"f")
    r.check("a file in it does not count: nlink 2", outcome(lambda: nlink(a)), 2)
    r.check("new file: nlink 1", outcome(lambda: nlink(f)), 1)
    r.ok("link a/f b/g", lambda: os.link(f, os.path.join(b, "g")))
    r.check("after link: nlink 2 (old name)", outcome(lambda: nlink(f)), 2)
    r.check("after link: nlink 2 (new name)", outcome(lambda: nlink(os.path.join(b, "g"))), 2)
    r.ok("rename b/g b/h", lambda: os.rename(os.path.join(b, "g"), os.path.join(b, "h")))
    r.check("after rename: nlink still 2", outcome(lambda: nlink(f)), 2)
    r.ok("unlink b/h", lambda: os.unlink(os.path.join(b, "h")))
    r.check("after unlink: nlink 1", outcome(lambda: nlink(f)), 1)
    r.ok("mkdir a/s", lambda: os.mkdir(os.path.join(a, "s")))
    r.check("a with a subdir: nlink 3", outcome(lambda: nlink(a)), 3)
    r.check("the subdir: nlink 2", outcome(lambda: nlink(os.path.join(a, "s"))), 2)
    r.ok("rename a/s b/s", lambda: os.rename(os.path.join(a, "s"), os.path.join(b, "s")))
    r.check("after moving the subdir: old parent nlink 2", outcome(lambda: nlink(a)), 2)
    r.check("after moving the subdir: new parent nlink 3", outcome(lambda: nlink(b)), 3)
    r.ok("rmdir b/s", lambda: os.rmdir(os.path.join(b, "s")))
    r.check("after rmdir: parent nlink 2", outcome(lambda: nlink(b)), 2)
    # A replaced target loses a link: its other name shows it.
    t, t2, s = os.path.join(a, "t"), os.path.join(b, "t2"), os.path.join(a, "s2")
    write_file(t, b"target")
    os.link(t, t2)
    write_file(s, b"source")
    r.check("hard-linked target: nlink 2", outcome(lambda: nlink(t2)), 2)
    r.ok("rename over one of its names", lambda: os.rename(s, t))
    r.check("the replaced inode's other name: nlink 1", outcome(lambda: nlink(t2)), 1)
    r.check("the replaced inode's other name keeps its content", outcome(lambda: read_file(t2)), b"target")
    r.check("the new content under the target name", outcome(lambda: read_file(t)), b"source")


def sc_hardlinks(r, root):
    d = os.path.join(root, "hard")
    os.makedirs(os.path.join(d, "one"))
    os.makedirs(os.path.join(d, "two"))
    p1, p2 = os.path.join(d, "one", "f"), os.path.join(d, "two", "g")
    write_file(p1, b"first")
    r.ok("link across directories", lambda: os.link(p1, p2))
    r.check("same inode number", outcome(lambda: os.stat(p1).st_ino == os.stat(p2).st_ino), True)
    r.check("nlink 2 on both names", outcome(lambda: (nlink(p1), nlink(p2))), (2, 2))
    r.ok("write through the first name", lambda: write_file(p1, b"second"))
    r.check("content read through the second name", outcome(lambda: read_file(p2)), b"second")
    fd = os.open(p2, os.O_WRONLY | os.O_APPEND)
    os.write(fd, b"+")
    os.close(fd)
    r.check("append through the second name, read through the first", outcome(lambda: read_file(p1)), b"second+")
    r.ok("chmod through one name", lambda: os.chmod(p1, 0o600))
    r.check("mode seen through the other", outcome(lambda: stat.S_IMODE(os.stat(p2).st_mode)), 0o600)
    r.ok("unlink the first name", lambda: os.unlink(p1))
    r.check("the second name survives with the content", outcome(lambda: read_file(p2)), b"second+")
    r.check("and nlink 1", outcome(lambda: nlink(p2)), 1)
    r.errno("the first name is gone", "ENOENT", lambda: os.stat(p1))


def sc_rename(r, root):
    d = os.path.join(root, "ren")
    os.mkdir(d)
    j = lambda *p: os.path.join(d, *p)
    write_file(j("f1"), b"one")
    write_file(j("f2"), b"two")
    r.ok("file over file", lambda: os.rename(j("f1"), j("f2")))
    r.check("file over file: the target has the source's content", outcome(lambda: read_file(j("f2"))), b"one")
    r.errno("file over file: the source name is gone", "ENOENT", lambda: os.stat(j("f1")))
    os.makedirs(j("d1", "inner"))
    os.mkdir(j("empty"))
    r.ok("dir over empty dir", lambda: os.rename(j("d1"), j("empty")))
    r.check("dir over empty dir: content moved", outcome(lambda: os.listdir(j("empty"))), ["inner"])
    os.makedirs(j("d2", "x"))
    r.errno("dir over non-empty dir: ENOTEMPTY", "ENOTEMPTY", lambda: os.rename(j("d2"), j("empty")))
    r.errno("file over dir: EISDIR", "EISDIR", lambda: os.rename(j("f2"), j("d2")))
    r.errno("dir over file: ENOTDIR", "ENOTDIR", lambda: os.rename(j("d2"), j("f2")))
    r.check("failed renames changed nothing",
            outcome(lambda: (sorted(os.listdir(d)), read_file(j("f2")))), (["d2", "empty", "f2"], b"one"))
    write_file(j("same"), b"s")
    os.link(j("same"), j("same2"))
    r.ok("rename onto another name of the same inode (no-op)", lambda: os.rename(j("same"), j("same2")))
    r.check("both names remain", outcome(lambda: (os.path.exists(j("same")), os.path.exists(j("same2")))),
            (True, True))
    write_file(j("n1"), b"n1")
    write_file(j("n2"), b"n2")
    r.errno("RENAME_NOREPLACE over an existing name: EEXIST", "EEXIST",
            lambda: renameat2(j("n1"), j("n2"), RENAME_NOREPLACE))
    r.ok("RENAME_NOREPLACE to a free name", lambda: renameat2(j("n1"), j("n3"), RENAME_NOREPLACE))
    r.ok("RENAME_EXCHANGE of two files", lambda: renameat2(j("n2"), j("n3"), RENAME_EXCHANGE))
    r.check("RENAME_EXCHANGE swapped the contents", outcome(lambda: (read_file(j("n2")), read_file(j("n3")))),
            (b"n1", b"n2"))
    r.ok("RENAME_EXCHANGE of a file and a dir", lambda: renameat2(j("n2"), j("d2"), RENAME_EXCHANGE))
    r.check("... swapped the types",
            outcome(lambda: (os.path.isdir(j("n2")), read_file(j("d2")), os.listdir(j("n2")))), (True, b"n1", ["x"]))
    r.errno("RENAME_EXCHANGE with a missing name: ENOENT", "ENOENT",
            lambda: renameat2(j("n3"), j("nothing"), RENAME_EXCHANGE))
    os.mkdir(j("other"))
    r.ok("rename a dir to another parent", lambda: os.rename(j("n2"), j("other", "moved")))
    r.check("... its content came along", outcome(lambda: os.listdir(j("other", "moved"))), ["x"])


def sc_exdev(r, root, other):
    d = os.path.join(root, "xdev")
    os.mkdir(d)
    f = os.path.join(d, "f")
    write_file(f, b"x")
    os.mkdir(os.path.join(d, "sub"))
    dest = os.path.join(other, os.path.basename(root))
    r.errno("rename of a file to another filesystem: EXDEV", "EXDEV", lambda: os.rename(f, dest + ".f"))
    r.errno("rename of a dir to another filesystem: EXDEV", "EXDEV",
            lambda: os.rename(os.path.join(d, "sub"), dest + ".d"))
    r.errno("link to another filesystem: EXDEV", "EXDEV", lambda: os.link(f, dest + ".l"))
    write_file(dest + ".in", b"in")
    r.errno("rename from another filesystem into it: EXDEV", "EXDEV", lambda: os.rename(dest + ".in", f + ".in"))
    os.unlink(dest + ".in")
    r.check("the file is untouched", outcome(lambda: read_file(f)), b"x")


def semantics(a):
    for name, sc in (("errors", sc_errors), ("nlink", sc_nlink), ("hardlinks", sc_hardlinks),
                     ("rename", sc_rename)):
        both(sc, a.mnt, a.ref)
    both(sc_exdev, a.mnt, a.ref, a.other)


# ------------------------------------------------------------------ times

GAP = 0.03  # seconds between operations: well above the kernel's timestamp granularity
SLACK_NS = 2 * 10**9  # UTIME_NOW must be within 2 s of the clock


def sc_times(r, root):
    d = os.path.join(root, "times")
    os.mkdir(d)
    sub = os.path.join(d, "sub")
    os.mkdir(sub)
    f = os.path.join(d, "f")
    write_file(f, b"x")
    time.sleep(GAP)

    def step(label, op, paths):
        """paths: {path: (mtime_changes, ctime_changes)}."""
        before = {p: os.lstat(p) for p in paths}
        time.sleep(GAP)
        op()
        time.sleep(GAP)
        for p, (m, c) in paths.items():
            after = os.lstat(p)
            name = os.path.relpath(p, root)
            for field, want in (("mtime", m), ("ctime", c)):
                b, n = getattr(before[p], "st_%s_ns" % field), getattr(after, "st_%s_ns" % field)
                got = "later" if n > b else ("same" if n == b else "earlier")
                r.check("%s: %s of %s %s" % (label, field, name, "advances" if want else "unchanged"), got,
                        "later" if want else "same")

    def w():
        fd = os.open(f, os.O_WRONLY)
        os.write(fd, b"written")
        os.close(fd)

    step("write", w, {f: (1, 1), d: (0, 0)})
    step("read", lambda: read_file(f), {f: (0, 0)})
    step("truncate", lambda: os.truncate(f, 2), {f: (1, 1)})
    step("chmod", lambda: os.chmod(f, 0o640), {f: (0, 1), d: (0, 0)})
    step("chown", lambda: os.chown(f, 1, 1), {f: (0, 1)})
    step("setxattr", lambda: os.setxattr(f, "user.t", b"1"), {f: (0, 1)})
    step("link", lambda: os.link(f, os.path.join(sub, "l")), {f: (0, 1), sub: (1, 1), d: (0, 0)})
    step("unlink", lambda: os.unlink(os.path.join(sub, "l")), {f: (0, 1), sub: (1, 1)})
    step("create", lambda: write_file(os.path.join(sub, "new")), {sub: (1, 1), d: (0, 0)})
    step("mkdir", lambda: os.mkdir(os.path.join(sub, "dir")), {sub: (1, 1)})
    step("rmdir", lambda: os.rmdir(os.path.join(sub, "dir")), {sub: (1, 1)})
    step("symlink", lambda: os.symlink("t", os.path.join(sub, "sym")), {sub: (1, 1)})
    step("mkfifo", lambda: os.mkfifo(os.path.join(sub, "fifo")), {sub: (1, 1)})
    step("rename across directories", lambda: os.rename(os.path.join(sub, "new"), os.path.join(d, "moved")),
         {sub: (1, 1), d: (1, 1)})
    step("rename within a directory", lambda: os.rename(os.path.join(d, "moved"), os.path.join(d, "moved2")),
         {d: (1, 1), sub: (0, 0)})
    step("rename: the moved file", lambda: os.rename(os.path.join(d, "moved2"), os.path.join(sub, "back")),
         {os.path.join(d, "f"): (0, 0)})

    # Explicit times: set exactly (nanoseconds), and ctime moves.
    before = os.lstat(f)
    time.sleep(GAP)
    r.ok("utimensat with explicit times", lambda: utimensat(f, (1000000000, 123456789), (1500000000, 987654321)))
    st = os.lstat(f)
    r.check("explicit atime and mtime, to the nanosecond", (st.st_atime_ns, st.st_mtime_ns),
            (1000000000123456789, 1500000000987654321))
    r.check("utimensat: ctime advances", st.st_ctime_ns > before.st_ctime_ns, True)
    now = time.time_ns()
    r.ok("utimensat mtime UTIME_NOW, atime UTIME_OMIT", lambda: utimensat(f, UTIME_OMIT, UTIME_NOW))
    st = os.lstat(f)
    r.check("UTIME_NOW: mtime is now (within 2 s)", abs(st.st_mtime_ns - now) < SLACK_NS, True)
    r.check("UTIME_OMIT: atime unchanged", st.st_atime_ns, 1000000000123456789)
    r.ok("utimensat atime UTIME_NOW, mtime UTIME_OMIT", lambda: utimensat(f, UTIME_NOW, UTIME_OMIT))
    st2 = os.lstat(f)
    r.check("UTIME_NOW: atime is now (within 2 s)", abs(st2.st_atime_ns - now) < SLACK_NS, True)
    r.check("UTIME_OMIT: mtime unchanged", st2.st_mtime_ns, st.st_mtime_ns)
    # A new file's times are now.
    nf = os.path.join(d, "fresh")
    now = time.time_ns()
    write_file(nf, b"")
    st = os.lstat(nf)
    r.check("a new file's mtime and ctime are now (within 2 s)",
            (abs(st.st_mtime_ns - now) < SLACK_NS, abs(st.st_ctime_ns - now) < SLACK_NS), (True, True))


def times(a):
    both(sc_times, a.mnt, a.ref)


# ------------------------------------------------------------------ permissions

NOBODY, NOGROUP = 65534, 65534


def perms(a):
    base = os.path.join(a.mnt, "perm")
    src = os.path.join(a.src, "perm")
    os.mkdir(base, 0o755)
    os.chmod(base, 0o755)
    write_file(os.path.join(base, "secret"), b"secret", 0o600)
    os.chmod(os.path.join(base, "secret"), 0o600)
    write_file(os.path.join(base, "public"), b"public", 0o644)
    os.chmod(os.path.join(base, "public"), 0o644)
    for name, mode in (("sticky", 0o1777), ("open", 0o777)):
        p = os.path.join(base, name)
        os.mkdir(p)
        os.chmod(p, mode)
        write_file(os.path.join(p, "rootfile"), b"root's", 0o666)
        os.chmod(os.path.join(p, "rootfile"), 0o666)
    out = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                          sys.executable, os.path.abspath(__file__), "perms-nobody", a.mnt],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    text = out.stdout.decode(errors="replace")
    relay(text)
    if out.returncode not in (0, 1) or "PASS " not in text:
        check(False, "perms-nobody ran", "status %d: %s" % (out.returncode, text[-500:]))

    # What nobody created is owned by nobody in the backing directory.
    for rel in ("sticky/mine", "sticky/minedir", "open/renamed"):
        try:
            st = os.lstat(os.path.join(src, rel))
            # uid and gid on the PASS line too
            check((st.st_uid, st.st_gid) == (NOBODY, NOGROUP),
                  "backing %s owned by nobody:nogroup: uid %d gid %d" % (rel, st.st_uid, st.st_gid))
        except OSError as e:
            check(False, "backing %s owned by nobody:nogroup" % rel, e.strerror)
    st = os.lstat(os.path.join(src, "sticky", "rootfile"))
    check(st.st_uid == 0, "root's file in the sticky dir is still there, owned by root")


def perms_nobody(a):
    base = os.path.join(a.mnt, "perm")
    j = lambda *p: os.path.join(base, *p)
    def want(what, w, fn):
        got = outcome(fn)
        if got not in errno.errorcode.values():
            got = "ok"
        if got == w:
            check(True, "as nobody: " + what)
        else:
            check(False, "as nobody: " + what, "got %s, want %s" % (got, w))

    check(os.getuid() == NOBODY and os.getgroups() in ([], [NOGROUP]),
          "as nobody: running as uid %d gid %d groups %r" % (os.getuid(), os.getgid(), os.getgroups()))
    want("stat of the mount root works (allow_other)", "ok", lambda: os.stat(a.mnt))
    want("read of a 0600 root file: EACCES", "EACCES", lambda: read_file(j("secret")))
    want("stat of a 0600 root file works", "ok", lambda: os.stat(j("secret")))
    want("read of a 0644 root file works", "ok", lambda: read_file(j("public")))
    want("write of a 0644 root file: EACCES", "EACCES", lambda: os.open(j("public"), os.O_WRONLY))
    want("create in a 0755 root dir: EACCES", "EACCES", lambda: write_file(j("new")))
    want("mkdir in a 0755 root dir: EACCES", "EACCES", lambda: os.mkdir(j("newdir")))
    want("unlink in a 0755 root dir: EACCES", "EACCES", lambda: os.unlink(j("public")))
    want("chmod of a root file: EPERM", "EPERM", lambda: os.chmod(j("public"), 0o666))
    want("chown of a root file: EPERM", "EPERM", lambda: os.chown(j("public"), NOBODY, NOGROUP))
    want("create in a 1777 dir works", "ok", lambda: write_file(j("sticky", "mine"), b"mine"))
    want("mkdir in a 1777 dir works", "ok", lambda: os.mkdir(j("sticky", "minedir")))
    want("new file is owned by nobody (through the mount)", "ok",
         lambda: None if os.stat(j("sticky", "mine")).st_uid == NOBODY else (_ for _ in ()).throw(
             OSError(errno.EPERM, "owner %d" % os.stat(j("sticky", "mine")).st_uid)))
    want("chown of my file to root: EPERM", "EPERM", lambda: os.chown(j("sticky", "mine"), 0, 0))
    want("chmod of my file works", "ok", lambda: os.chmod(j("sticky", "mine"), 0o600))
    want("write to root's 0666 file in a 1777 dir works", "ok", lambda: write_file(j("sticky", "rootfile"), b"w"))
    want("utimensat UTIME_NOW on root's 0666 file works (write permission)", "ok",
         lambda: utimensat(j("sticky", "rootfile"), UTIME_NOW, UTIME_NOW))
    want("utimensat explicit times on root's file: EPERM", "EPERM",
         lambda: utimensat(j("sticky", "rootfile"), (1, 0), (1, 0)))
    want("sticky: unlink of root's file: EPERM", "EPERM", lambda: os.unlink(j("sticky", "rootfile")))
    want("sticky: rename of root's file: EPERM", "EPERM",
         lambda: os.rename(j("sticky", "rootfile"), j("sticky", "stolen")))
    want("sticky: rename of my file works", "ok", lambda: os.rename(j("sticky", "mine"), j("sticky", "mine2")))
    want("sticky: rename it back", "ok", lambda: os.rename(j("sticky", "mine2"), j("sticky", "mine")))
    want("not sticky (0777): rename of root's file works", "ok",
         lambda: os.rename(j("open", "rootfile"), j("open", "renamed")))
    want("not sticky (0777): unlink of root's file works", "ok", lambda: os.unlink(j("open", "renamed")))
    want("create in a 0777 dir works", "ok", lambda: write_file(j("open", "renamed"), b"n"))


# ------------------------------------------------------------------ setuid and setgid files

# (name, mode): a write by another user clears S_ISUID, and S_ISGID where
# group-execute is set (02767 keeps it: no group-execute).
SETID_FILES = (("suid", 0o4777), ("sgid", 0o2777), ("both", 0o6777), ("sgid-noexec", 0o2767))
SETID_OPS = ("append", "truncate", "otrunc")


def nobody_run(*args):
    return subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                           sys.executable, os.path.abspath(__file__)] + list(args),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)


def sc_setid(r, root):
    base = os.path.join(root, "setid")
    os.mkdir(base)
    os.chmod(base, 0o777)
    for name, mode in SETID_FILES:
        for op in SETID_OPS + ("chown",):
            p = os.path.join(base, "%s-%s" % (name, op))
            write_file(p, b"root's")
            os.chmod(p, mode)
    out = nobody_run("setid-nobody", base)
    try:
        results = json.loads(out.stdout)
    except ValueError:
        check(False, "setid-nobody ran", out.stdout.decode(errors="replace")[-500:])
        return
    for name, mode in SETID_FILES:
        for op in SETID_OPS:
            p = os.path.join(base, "%s-%s" % (name, op))
            r.check("setid: nobody's %s of a %o file" % (op, mode), results["%s-%s" % (name, op)], "ok")
            st = os.stat(p)
            r.same("setid: mode and size after nobody's %s of a %o file" % (op, mode),
                   "%o %d" % (st.st_mode & 0o7777, st.st_size))
        p = os.path.join(base, "%s-chown" % name)
        r.ok("setid: root's chown of a %o file to nobody" % mode, lambda: os.chown(p, NOBODY, NOGROUP))
        r.same("setid: mode after root's chown of a %o file" % mode, "%o" % (os.stat(p).st_mode & 0o7777))


def setid(a):
    both(sc_setid, a.mnt, a.ref)


def setid_nobody(a):
    ops = {
        "append": lambda p: write_to(p, os.O_WRONLY | os.O_APPEND, b" and nobody's"),
        "truncate": lambda p: os.truncate(p, 2),
        "otrunc": lambda p: write_to(p, os.O_WRONLY | os.O_TRUNC, b"nobody"),
    }
    results = {}
    for name, _ in SETID_FILES:
        for op in SETID_OPS:
            results["%s-%s" % (name, op)] = outcome(lambda: ops[op](os.path.join(a.dir, "%s-%s" % (name, op))))
    print(json.dumps(results))


def write_to(path, flags, data):
    fd = os.open(path, flags)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


# ------------------------------------------------------------------ main


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("semantics")
    s.add_argument("mnt")
    s.add_argument("--ref", required=True)
    s.add_argument("--other", required=True)
    s = sub.add_parser("times")
    s.add_argument("mnt")
    s.add_argument("--ref", required=True)
    s = sub.add_parser("perms")
    s.add_argument("mnt")
    s.add_argument("src")
    s = sub.add_parser("perms-nobody")
    s.add_argument("mnt")
    s = sub.add_parser("setid")
    s.add_argument("mnt")
    s.add_argument("--ref", required=True)
    s = sub.add_parser("setid-nobody")
    s.add_argument("dir")
    a = p.parse_args()
    {"semantics": semantics, "times": times, "perms": perms, "perms-nobody": perms_nobody,
     "setid": setid, "setid-nobody": setid_nobody}[a.cmd](a)
    sys.exit(1 if failures() else 0)


if __name__ == "__main__":
    main()
