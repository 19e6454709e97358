#!/usr/bin/env python3
"""Random-operation data-integrity exerciser (slabfs mount tests).

Runs tens of thousands of random file operations in DIR (a slabfs mount, or
any directory) and checks every read against an in-memory model of every
file's bytes; at the end every file is read again through DIR and, with
--backing, straight from the backing directory, and the directory listings
are compared too.

Operations: write, read (through the open fd or a fresh one), truncate,
fallocate (posix_fallocate), punch hole (fallocate PUNCH_HOLE|KEEP_SIZE),
mmap read, mmap write, copy_file_range, rename (across directories, over
existing files, RENAME_EXCHANGE), reopen (sometimes O_TRUNC), unlink/create,
fsync/fdatasync, stat (size through the path and the fd), whole-file verify.
With --other-user USER, also reads and writes through descriptors of a
second process running as USER (setpriv), each opened afresh, so that two
processes and two users share every file (the files are then mode 0666).

The seed is printed first; --seed replays a run exactly (the same operations
in the same order: only the filesystem's answers can differ). The first
mismatch ends the run with exit status 1 and names the operation number, the
file and the offset; an unexpected error exits with status 2. The last
operations are printed to help reproduce.

Standard library only.
"""

import argparse
import collections
import ctypes
import ctypes.util
import errno
import mmap
import os
import random
import stat
import sys
import time

FALLOC_FL_KEEP_SIZE = 0x01
FALLOC_FL_PUNCH_HOLE = 0x02
RENAME_EXCHANGE = 1 << 1
AT_FDCWD = -100

# Errors that mean "this filesystem does not do that", as opposed to "it did
# it wrong". They are counted and, unless --allow-unsupported, fail the run:
# slabfs is a passthrough to ext4, which does all of these.
UNSUPPORTED = {errno.EOPNOTSUPP, errno.ENOSYS, errno.ENOTTY, errno.EXDEV}

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long, ctypes.c_long]
_libc.fallocate.restype = ctypes.c_int
_libc.renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
_libc.renameat2.restype = ctypes.c_int


def fallocate(fd, mode, offset, length):
    if _libc.fallocate(fd, mode, offset, length) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def rename_exchange(a, b):
    if _libc.renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


class Mismatch(Exception):
    """The filesystem disagrees with the model."""


class Unsupported(Exception):
    """The filesystem refused an operation as not supported."""


class FileState:
    """One file of the model: its bytes and the descriptor we hold on it."""

    __slots__ = ("data", "fd")

    def __init__(self, fd):
        self.data = bytearray()
        self.fd = fd


def first_difference(expected, got):
    for i in range(min(len(expected), len(got))):
        if expected[i] != got[i]:
            return i
    return min(len(expected), len(got))


class Exerciser:
    # Directories the slots are spread over: renames move files between
    # them, so dentries move between parents, not just change names.
    DIRS = ("", "d1", "d1/d2")

    WEIGHTS = {
        "write": 20, "read": 18, "truncate": 5, "fallocate": 5, "punch": 5,
        "mmap_read": 5, "mmap_write": 5, "copy_range": 6, "rename": 5,
        "reopen": 5, "unlink_create": 5, "fsync": 4, "stat": 5, "verify": 3,
    }

    OTHER_WEIGHTS = {"other_read": 6, "other_write": 6}

    def __init__(self, args):
        self.args = args
        self.other = None
        self.dir = args.dir
        self.backing = args.backing
        self.rng = random.Random(args.seed)
        self.max_size = args.max_size
        self.slots = [os.path.join(self.DIRS[i % len(self.DIRS)], "f%02d" % i) for i in range(args.files)]
        self.files = {}  # slot path (relative) -> FileState
        self.op = 0
        self.kind = "setup"
        self.history = collections.deque(maxlen=args.history)
        self.counts = collections.Counter()
        self.unsupported = collections.Counter()
        weights = dict(self.WEIGHTS, **(self.OTHER_WEIGHTS if args.other_user else {}))
        kinds = list(weights)
        self.kinds = kinds
        self.kind_weights = [weights[k] for k in kinds]

    # ------------------------------------------------------------ helpers

    def path(self, rel):
        return os.path.join(self.dir, rel)

    def note(self, text):
        self.history.append("op %d %s" % (self.op, text))

    def fail(self, rel, offset, what):
        raise Mismatch("op %d (%s) file %s offset %d: %s" % (self.op, self.kind, rel, offset, what))

    def compare(self, rel, offset, expected, got, how):
        if bytes(got) == bytes(expected):
            return
        at = first_difference(expected, got)
        if at < len(expected) and at < len(got):
            what = "%s: expected byte 0x%02x, got 0x%02x (%d bytes read, %d expected)" % (
                how, expected[at], got[at], len(got), len(expected))
        else:
            what = "%s: %d bytes read, %d expected" % (how, len(got), len(expected))
        self.fail(rel, offset + at, what)

    def choose_existing(self):
        names = sorted(self.files)
        return self.rng.choice(names) if names else None

    def choose_length(self, limit):
        """Small, page-sized and large lengths, aligned and not."""
        r = self.rng.random()
        if r < 0.4:
            n = self.rng.randint(1, 600)
        elif r < 0.7:
            n = 4096 * self.rng.randint(1, 8)
        else:
            n = self.rng.randint(1, 64 * 1024)
        return max(0, min(n, limit))

    def choose_offset(self, size_hint):
        """Inside the file, at its end, or beyond it (making holes)."""
        r = self.rng.random()
        top = max(1, min(self.max_size, size_hint + 16384))
        off = self.rng.randrange(0, top)
        if r < 0.4:
            off -= off % 4096
        elif r < 0.5:
            off -= off % 512
        return min(off, self.max_size)

    def check_size(self, rel, st, how, f=None):
        f = f if f is not None else self.files[rel]
        if st.st_size != len(f.data):
            self.fail(rel, st.st_size, "%s size %d, model %d" % (how, st.st_size, len(f.data)))

    def write_model(self, f, offset, data):
        if offset > len(f.data):
            f.data.extend(bytes(offset - len(f.data)))
        f.data[offset:offset + len(data)] = data

    def open_file(self, rel, flags=0):
        return os.open(self.path(rel), os.O_RDWR | flags)

    # ------------------------------------------------------------ operations

    def choose_range(self, rel, how):
        """A random range of `rel` to write or allocate, which may start past
        its end: (its state, offset, length), noted; None for a zero length."""
        f = self.files[rel]
        off = self.choose_offset(len(f.data))
        n = self.choose_length(self.max_size - off)
        if n == 0:
            return None
        self.note("%s %s off=%d len=%d" % (how, rel, off, n))
        return f, off, n

    def choose_write(self, rel, how):
        """A random write of `rel`: (its state, offset, bytes), noted; None
        for an empty one."""
        chosen = self.choose_range(rel, how)
        if chosen is None:
            return None
        f, off, n = chosen
        return f, off, self.rng.randbytes(n)

    def choose_mapped(self, rel):
        """A random range inside `rel`'s bytes (what a mapping of it covers):
        (its state, offset, length); None for an empty file."""
        f = self.files[rel]
        size = len(f.data)
        if size == 0:
            return None
        off = self.rng.randrange(0, size)
        return f, off, self.choose_length(size - off) or 1

    def op_write(self, rel):
        chosen = self.choose_write(rel, "write")
        if chosen is None:
            return
        f, off, data = chosen
        n = len(data)
        done = 0
        while done < n:
            w = os.pwrite(f.fd, data[done:], off + done)
            if w <= 0:
                self.fail(rel, off + done, "pwrite returned %d" % w)
            done += w
        self.write_model(f, off, data)

    def op_read(self, rel):
        f = self.files[rel]
        off = self.choose_offset(len(f.data))
        n = self.choose_length(self.max_size + 8192 - off) or 1
        fresh = self.rng.random() < 0.2
        self.note("read %s off=%d len=%d%s" % (rel, off, n, " (fresh fd)" if fresh else ""))
        fd = os.open(self.path(rel), os.O_RDONLY) if fresh else f.fd
        try:
            got = os.pread(fd, n, off)
        finally:
            if fresh:
                os.close(fd)
        self.compare(rel, off, f.data[off:off + n], got, "pread")

    def op_truncate(self, rel):
        f = self.files[rel]
        r = self.rng.random()
        if r < 0.2:
            size = 0
        elif r < 0.6:
            size = self.rng.randrange(0, max(1, len(f.data) + 1))
        else:
            size = self.rng.randrange(0, self.max_size + 1)
        by_path = self.rng.random() < 0.3
        self.note("truncate %s size=%d%s" % (rel, size, " (path)" if by_path else ""))
        if by_path:
            os.truncate(self.path(rel), size)
        else:
            os.ftruncate(f.fd, size)
        if size < len(f.data):
            del f.data[size:]
        else:
            f.data.extend(bytes(size - len(f.data)))

    def op_fallocate(self, rel):
        chosen = self.choose_range(rel, "posix_fallocate")
        if chosen is None:
            return
        f, off, n = chosen
        os.posix_fallocate(f.fd, off, n)
        # Allocation never changes data; it may extend the file with zeros.
        if off + n > len(f.data):
            f.data.extend(bytes(off + n - len(f.data)))

    def op_punch(self, rel):
        chosen = self.choose_range(rel, "punch hole")
        if chosen is None:
            return
        f, off, n = chosen
        try:
            fallocate(f.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, n)
        except OSError as e:
            if e.errno in UNSUPPORTED:
                raise Unsupported("punch") from e
            raise
        # KEEP_SIZE: zeros inside the file, nothing past its end.
        end = min(off + n, len(f.data))
        if off < end:
            f.data[off:end] = bytes(end - off)

    def mapped(self, rel):
        f = self.files[rel]
        if not f.data:
            return None
        return mmap.mmap(f.fd, len(f.data), mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)

    def op_mmap_read(self, rel):
        chosen = self.choose_mapped(rel)
        if chosen is None:
            return self.op_read(rel)
        f, off, n = chosen
        self.note("mmap read %s off=%d len=%d" % (rel, off, n))
        m = self.mapped(rel)
        try:
            got = m[off:off + n]
        finally:
            m.close()
        self.compare(rel, off, f.data[off:off + n], got, "mmap read")

    def op_mmap_write(self, rel):
        chosen = self.choose_mapped(rel)
        if chosen is None:
            return self.op_write(rel)
        f, off, n = chosen
        data = self.rng.randbytes(n)
        sync = self.rng.random() < 0.5
        self.note("mmap write %s off=%d len=%d%s" % (rel, off, n, " msync" if sync else ""))
        m = self.mapped(rel)
        try:
            m[off:off + n] = data
            if sync:
                m.flush()
        finally:
            m.close()
        f.data[off:off + n] = data

    def op_copy_range(self, rel):
        src = self.files[rel]
        dst_rel = self.rng.choice(sorted(self.files))
        dst = self.files[dst_rel]
        if not src.data:
            return self.op_write(rel)
        off_in = self.rng.randrange(0, len(src.data))
        off_out = self.choose_offset(len(dst.data))
        n = self.choose_length(self.max_size - off_out)
        if dst_rel == rel:
            # Within one file: stay inside the source's current end (a copy
            # that extends the file would otherwise read its own output),
            # and the ranges must not overlap (EINVAL).
            n = min(n, len(src.data) - off_in)
            if off_in < off_out + n and off_out < off_in + n:
                return
        if n == 0:
            return
        self.note("copy_file_range %s off=%d -> %s off=%d len=%d" % (rel, off_in, dst_rel, off_out, n))
        expected = bytes(src.data[off_in:off_in + n])
        done = 0
        while done < n:
            try:
                c = os.copy_file_range(src.fd, dst.fd, n - done, off_in + done, off_out + done)
            except OSError as e:
                if e.errno in UNSUPPORTED:
                    raise Unsupported("copy_file_range") from e
                raise
            if c == 0:
                break  # end of the source file
            done += c
        if done != len(expected):
            self.fail(rel, off_in + done, "copy_file_range copied %d bytes, source had %d" % (done, len(expected)))
        self.write_model(dst, off_out, expected)

    def op_rename(self, rel):
        target = self.rng.choice([s for s in self.slots if s != rel])
        if target in self.files and self.rng.random() < 0.3:
            self.note("rename exchange %s <-> %s" % (rel, target))
            try:
                rename_exchange(self.path(rel), self.path(target))
            except OSError as e:
                if e.errno in UNSUPPORTED or e.errno == errno.EINVAL:
                    raise Unsupported("rename_exchange") from e
                raise
            self.files[rel], self.files[target] = self.files[target], self.files[rel]
            return
        self.note("rename %s -> %s%s" % (rel, target, " (replacing)" if target in self.files else ""))
        os.rename(self.path(rel), self.path(target))
        old = self.files.pop(target, None)
        self.files[target] = self.files.pop(rel)
        if old is not None:
            # The replaced file is unlinked but still open: its data must
            # still be readable through our descriptor.
            self.check_unlinked(target, old)

    def check_unlinked(self, rel, f):
        if self.rng.random() < 0.5:
            got = os.pread(f.fd, len(f.data) + 1, 0)
            self.compare(rel, 0, f.data, got, "read of a replaced or unlinked open file")
            self.check_size(rel, os.fstat(f.fd), "fstat of an unlinked open file", f)
        os.close(f.fd)

    def op_reopen(self, rel):
        f = self.files[rel]
        trunc = self.rng.random() < 0.15
        self.note("reopen %s%s" % (rel, " O_TRUNC" if trunc else ""))
        os.close(f.fd)
        f.fd = -1
        f.fd = self.open_file(rel, os.O_TRUNC if trunc else 0)
        if trunc:
            f.data.clear()

    def op_unlink_create(self, rel):
        # rel is an existing file: unlink it; or, half the time, create a
        # file in a free slot instead (so the file count hovers).
        free = [s for s in self.slots if s not in self.files]
        if free and (self.rng.random() < 0.5 or len(self.files) <= 2):
            return self.create(self.rng.choice(free))
        self.note("unlink %s" % rel)
        os.unlink(self.path(rel))
        self.check_unlinked(rel, self.files.pop(rel))
        try:
            os.stat(self.path(rel))
        except FileNotFoundError:
            return
        self.fail(rel, 0, "stat after unlink succeeded")

    def create(self, rel):
        self.note("create %s" % rel)
        fd = os.open(self.path(rel), os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        if self.args.other_user:
            os.fchmod(fd, 0o666)
        self.files[rel] = FileState(fd)
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size != 0:
            self.fail(rel, 0, "new file: mode %o size %d" % (st.st_mode, st.st_size))

    def op_fsync(self, rel):
        f = self.files[rel]
        data_only = self.rng.random() < 0.5
        self.note("%s %s" % ("fdatasync" if data_only else "fsync", rel))
        (os.fdatasync if data_only else os.fsync)(f.fd)

    def op_stat(self, rel):
        self.note("stat %s" % rel)
        st = os.stat(self.path(rel))
        if not stat.S_ISREG(st.st_mode):
            self.fail(rel, 0, "stat: not a regular file (mode %o)" % st.st_mode)
        self.check_size(rel, st, "stat")
        self.check_size(rel, os.fstat(self.files[rel].fd), "fstat")

    def op_verify(self, rel):
        self.note("verify %s" % rel)
        self.verify_file(rel, self.dir, "whole-file read")

    # ------------------------------------------------------------ whole-file checks

    def read_all(self, path):
        fd = os.open(path, os.O_RDONLY)
        try:
            chunks = []
            while True:
                b = os.read(fd, 1 << 20)
                if not b:
                    break
                chunks.append(b)
            return b"".join(chunks)
        finally:
            os.close(fd)

    def verify_file(self, rel, root, how):
        got = self.read_all(os.path.join(root, rel))
        self.compare(rel, 0, self.files[rel].data, got, how)

    def verify_listing(self, root, how):
        for d in self.DIRS:
            want = sorted(os.path.basename(s) for s in self.files if os.path.dirname(s) == d)
            have = sorted(n for n in os.listdir(os.path.join(root, d)) if n.startswith("f"))
            if want != have:
                raise Mismatch("op %d (final) %s listing of '%s': have %s, model %s" % (
                    self.op, how, d or ".", have, want))

    # ------------------------------------------------------------ the run

    # ------------------------------------------------------------ another process, another user

    def other_call(self, line):
        if self.other is None:
            import pwd
            import subprocess
            group = pwd.getpwnam(self.args.other_user).pw_gid
            self.other = subprocess.Popen(
                ["setpriv", "--reuid=" + self.args.other_user, "--regid=%d" % group, "--clear-groups",
                 sys.executable, os.path.abspath(__file__), "--serve-other", self.dir],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.other.stdin.write(line + "\n")
        self.other.stdin.flush()
        answer = self.other.stdout.readline().strip()
        if answer.startswith("ERR "):
            raise OSError(int(answer.split()[1]), "in the other process: " + answer)
        if not answer.startswith("OK"):
            raise OSError(errno.EIO, "the other process said %r" % answer)
        return bytes.fromhex(answer[3:]) if len(answer) > 3 else b""

    def op_other_read(self, rel):
        f = self.files[rel]
        off = self.choose_offset(len(f.data))
        n = self.choose_length(self.max_size + 8192 - off) or 1
        self.note("other-user read %s off=%d len=%d" % (rel, off, n))
        got = self.other_call("R %s %d %d" % (rel, off, n))
        self.compare(rel, off, f.data[off:off + n], got, "pread by the other user")

    def op_other_write(self, rel):
        chosen = self.choose_write(rel, "other-user write")
        if chosen is None:
            return
        f, off, data = chosen
        self.other_call("W %s %d %s" % (rel, off, data.hex()))
        self.write_model(f, off, data)

    def setup(self):
        for d in self.DIRS[1:]:
            os.makedirs(self.path(d), exist_ok=True)
            if self.args.other_user:
                os.chmod(self.path(d), 0o777)
        if self.args.other_user:
            os.chmod(self.dir, 0o777)
        for s in self.slots:
            if os.path.lexists(self.path(s)):
                os.unlink(self.path(s))
        for s in self.slots[: max(1, len(self.slots) // 2)]:
            self.create(s)

    def run(self):
        self.setup()
        deadline = time.monotonic() + self.args.max_seconds if self.args.max_seconds else None
        for self.op in range(1, self.args.ops + 1):
            self.kind = self.rng.choices(self.kinds, self.kind_weights)[0]
            rel = self.choose_existing()
            if rel is None:
                self.kind = "unlink_create"
                self.create(self.rng.choice(self.slots))
                continue
            if self.op == self.args.corrupt_at:
                self.corrupt()
            self.counts[self.kind] += 1
            try:
                getattr(self, "op_" + self.kind)(rel)
            except Unsupported as u:
                self.unsupported[str(u)] += 1
                if not self.args.allow_unsupported:
                    cause = u.__cause__
                    raise Mismatch("op %d (%s) file %s: not supported: %s" % (self.op, self.kind, rel, cause))
            if deadline and time.monotonic() > deadline:
                print("exerciser: time limit reached after %d operations" % self.op)
                break
        self.finish()

    def corrupt(self):
        """--corrupt-at: change one byte behind the model's back, through a
        descriptor of its own, so that a run can show the checks catch it."""
        victims = sorted(r for r, f in self.files.items() if f.data)
        if not victims:
            return
        rel = self.rng.choice(victims)
        off = self.rng.randrange(len(self.files[rel].data))
        self.note("INJECTED corruption %s off=%d" % (rel, off))
        fd = os.open(self.path(rel), os.O_WRONLY)
        try:
            os.pwrite(fd, bytes([self.files[rel].data[off] ^ 0xFF]), off)
        finally:
            os.close(fd)

    def finish(self):
        self.kind = "final"
        # Everything to the backing files before comparing with them.
        for rel in sorted(self.files):
            os.fsync(self.files[rel].fd)
            os.close(self.files[rel].fd)
            self.files[rel].fd = -1
        for rel in sorted(self.files):
            self.verify_file(rel, self.dir, "final read through the mount")
            st = os.stat(self.path(rel))
            if st.st_size != len(self.files[rel].data):
                self.fail(rel, st.st_size, "final stat size %d, model %d" % (st.st_size, len(self.files[rel].data)))
        self.verify_listing(self.dir, "mount")
        if self.backing:
            for rel in sorted(self.files):
                got = self.read_all(os.path.join(self.backing, rel))
                self.compare(rel, 0, self.files[rel].data, got, "final read of the backing file")
            self.verify_listing(self.backing, "backing")

    def close_all(self):
        for f in self.files.values():
            if f.fd >= 0:
                try:
                    os.close(f.fd)
                except OSError:
                    pass
        if self.other is not None:
            self.other.stdin.close()
            self.other.wait(timeout=30)


def serve_other(root):
    """--serve-other: the second process. Each request opens the file afresh
    (its own descriptor), does one pread or pwrite, closes, and answers."""
    for line in sys.stdin:
        parts = line.split()
        try:
            fd = os.open(os.path.join(root, parts[1]), os.O_RDONLY if parts[0] == "R" else os.O_WRONLY)
            try:
                if parts[0] == "R":
                    answer = "OK " + os.pread(fd, int(parts[3]), int(parts[2])).hex()
                else:
                    data = bytes.fromhex(parts[3])
                    done = 0
                    while done < len(data):
                        done += os.pwrite(fd, data[done:], int(parts[2]) + done)
                    answer = "OK"
            finally:
                os.close(fd)
        except OSError as e:
            answer = "ERR %d %s" % (e.errno, e.strerror)
        print(answer, flush=True)


def size_arg(text):
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    t = text.strip().lower()
    if t and t[-1] in units:
        return int(t[:-1]) * units[t[-1]]
    return int(t)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("dir", help="directory to work in (created if missing)")
    p.add_argument("--backing", help="the same directory read directly, for the final comparison")
    p.add_argument("--seed", type=int, help="replay a run (default: random, printed first)")
    p.add_argument("--ops", type=int, default=30000, help="operations (default 30000)")
    p.add_argument("--files", type=int, default=16, help="file slots (default 16)")
    p.add_argument("--max-size", type=size_arg, default=256 * 1024, help="largest file (default 256K)")
    p.add_argument("--max-seconds", type=float, default=0, help="stop early after this long (0: no limit)")
    p.add_argument("--allow-unsupported", action="store_true",
                   help="count EOPNOTSUPP/ENOSYS from punch hole, copy_file_range, exchange instead of failing")
    p.add_argument("--corrupt-at", type=int, default=0, metavar="OP",
                   help="self-test: flip one byte behind the model's back before operation OP")
    p.add_argument("--history", type=int, default=12, help="operations shown on failure (default 12)")
    p.add_argument("--other-user", metavar="USER",
                   help="also read and write through a second process running as USER (needs allow_other)")
    p.add_argument("--serve-other", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.serve_other:
        serve_other(args.dir)
        return 0
    if args.seed is None:
        args.seed = int.from_bytes(os.urandom(4), "little")
    # First line, before anything can fail: the seed to replay with.
    print("exerciser: seed %d (replay: %s --seed %d --ops %d --files %d --max-size %d DIR)" % (
        args.seed, os.path.basename(sys.argv[0]), args.seed, args.ops, args.files, args.max_size), flush=True)
    os.makedirs(args.dir, exist_ok=True)
    ex = Exerciser(args)
    start = time.monotonic()
    status = 0
    try:
        ex.run()
    except Mismatch as m:
        print("exerciser: MISMATCH %s" % m)
        status = 1
    except OSError as e:
        print("exerciser: ERROR op %d (%s): %s%s" % (
            ex.op, ex.kind, e, " [%s]" % e.filename if e.filename else ""))
        status = 2
    finally:
        ex.close_all()
    if status:
        print("exerciser: last operations (seed %d):" % args.seed)
        for line in ex.history:
            print("    " + line)
    elapsed = time.monotonic() - start
    counts = " ".join("%s=%d" % kv for kv in sorted(ex.counts.items()))
    print("exerciser: %d operations in %.1f s: %s" % (ex.op, elapsed, counts))
    if ex.unsupported:
        print("exerciser: unsupported: %s" % " ".join("%s=%d" % kv for kv in sorted(ex.unsupported.items())))
    print("exerciser: %s (seed %d)" % ("OK" if status == 0 else "FAILED", args.seed))
    return status


if __name__ == "__main__":
    sys.exit(main())
