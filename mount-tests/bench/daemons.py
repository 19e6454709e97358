"""The daemons of the bench (mount-tests/bench.sh, driver.py): which targets
there are and how each one's daemon is started, a FUSE daemon in the
foreground on its mountpoint (Daemon), and what is read of processes and the
kernel around them: mounts, RSS, CPU time, descriptors, drop_caches. Also
the signal that ends a run (Interrupted). Standard library only."""

import os
import shlex
import subprocess
import sys
import time

# ---------------------------------------------------------------------------
# The targets and their daemons

# slabfs's variants, by their extra arguments. slabfs-timeouts is slabfs
# --coherence timeouts (no fanotify events: short kernel timeouts, its own
# cache's timeout); slabfs-rdc-off is slabfs --readdir-cache off: the first
# listing without the kernel's copy of every entry, against the second
# listing that copy buys; slabfs-pt-off is slabfs --passthrough off: every
# READ and WRITE through the daemon, beside slabfs's default (passthrough on
# where the kernel and CAP_SYS_ADMIN allow it).
SLABFS_VARIANTS = {"slabfs": [], "slabfs-pt-off": ["--passthrough", "off"],
                   "slabfs-timeouts": ["--coherence", "timeouts"],
                   "slabfs-rdc-off": ["--readdir-cache", "off"]}
FUSE_TARGETS = ["slabfs", "slabfs-pt-off", "slabfs-timeouts", "slabfs-rdc-off", "passthrough_ll", "bindfs"]
OPTIONAL_TARGETS = ["passthrough_hp"]  # with --passthrough-hp


def optional_targets(a):
    return ["passthrough_hp"] if a.passthrough_hp else []


def fuse_targets(a):
    return [t for t in FUSE_TARGETS + optional_targets(a) if t not in getattr(a, "skip_targets", {})]


def daemon_argv(a, target, src, mnt, extra=()):
    """The command line of target's daemon (foreground) on mnt over src;
    `a` is the bench's arguments (the binaries, --pll-opts, --slabfs-opts)."""
    if target in SLABFS_VARIANTS:
        return [a.slabfs, src, mnt, "-f", *SLABFS_VARIANTS[target], *shlex.split(a.slabfs_opts), *extra]
    if target == "passthrough_ll":
        # Its own defaults (cache=auto: entry and attr timeout 1 s, no
        # cache_readdir or keep_cache), plus default_permissions, which
        # slabfs always sets, so the kernel does the same permission checks.
        opts = f"source={src},default_permissions" + ("," + a.pll_opts if a.pll_opts else "")
        return [a.passthrough_ll, "-f", "-o", opts, mnt]
    if target == "bindfs":
        # bindfs sets allow_other unless told not to; slabfs does not.
        # Otherwise its defaults (timeouts 1 s, single-threaded): see
        # OPTIONS_NOTE (environment.py).
        return [a.bindfs, "-f", "--no-allow-other", src, mnt]
    if target == "passthrough_hp":
        # Its defaults (see OPTIONS_NOTE, environment.py); it takes no -o options.
        return [a.passthrough_hp_bin, "--foreground", src, mnt]
    raise ValueError(target)


def slabfs_has_option(slabfs, option):
    """Does this slabfs binary know a mount option (its mount --help lists it)?"""
    try:
        r = subprocess.run([slabfs, "mount", "--help"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return option in r.stdout + r.stderr


def log(*a):
    print(*a, file=sys.stderr, flush=True)


class Interrupted(BaseException):
    """A signal: not an Exception, so that no per-run handler swallows it."""


# ---------------------------------------------------------------------------
# Processes, mounts, memory


def is_mounted(path):
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if len(fields) > 4 and fields[4].replace("\\040", " ") == path:
                return True
    return False


def rss_bytes(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def cpu_seconds(pid):
    """User + system CPU of every thread of `pid`, in seconds (0 if gone)."""
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0.0
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


def fd_count(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def drop_caches():
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("2\n")


class Daemon:
    """A FUSE daemon in the foreground, mounted on `mnt`, as a context manager."""

    def __init__(self, name, argv, mnt, args, preexec=None):
        self.name, self.argv, self.mnt = name, argv, mnt
        self.preexec = preexec  # run in the child before exec (e.g. joining a cgroup)
        self.daemons = args.daemons
        self.proc = None
        self.stop_note = ""
        self.logpath = os.path.join(args.logs, f"{os.path.basename(mnt)}.log")

    def __enter__(self):
        os.makedirs(os.path.dirname(self.logpath), exist_ok=True)
        logf = open(self.logpath, "w")
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=logf,
                                     stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=self.preexec)
        logf.close()
        with open(self.daemons, "a") as f:
            f.write(f"{self.proc.pid} {self.mnt}\n")
        deadline = time.monotonic() + 20
        while not is_mounted(self.mnt):
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode} before mounting: "
                                   f"{' '.join(self.argv)}\n{self.log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.name} did not mount within 20 s: {' '.join(self.argv)}\n{self.log_tail()}")
            time.sleep(0.02)
        # the root answers
        os.stat(self.mnt)
        return self

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, n=15):
        try:
            with open(self.logpath, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def failure(self, what, e):
        """The error to raise for `e`, raised by `what` on this mount: the
        daemon alive or its exit status, and the tail of its log."""
        alive = self.alive()
        return RuntimeError(f"{what}: {type(e).__name__}: {e}; daemon "
                            f"{'alive' if alive else f'exited with {self.proc.returncode}'}\n{self.log_tail()}")

    def check_alive(self, what, during=""):
        """Raises, with the daemon's exit status and the tail of its log,
        unless the daemon still runs."""
        if not self.alive():
            raise RuntimeError(f"{what}: the daemon died{during} (status {self.proc.returncode})\n{self.log_tail()}")

    def stop(self):
        """Unmount and make sure the daemon is gone; returns a note of what it took."""
        note = []
        if is_mounted(self.mnt):
            r = subprocess.run(["fusermount3", "-u", self.mnt], capture_output=True, text=True)
            if r.returncode != 0:
                note.append(f"fusermount3 -u failed ({r.stderr.strip()}); lazy unmount")
                time.sleep(0.3)
                subprocess.run(["fusermount3", "-u", "-z", self.mnt], capture_output=True)
        if self.proc is not None:
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                note.append("daemon still running 15 s after unmount: SIGTERM")
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    note.append("SIGKILL")
                    self.proc.kill()
                    self.proc.wait()
            if self.proc.returncode not in (0, None):
                note.append(f"daemon exit status {self.proc.returncode}")
        if is_mounted(self.mnt):
            subprocess.run(["fusermount3", "-u", "-z", self.mnt], capture_output=True)
            note.append("still mounted after the daemon ended: lazy unmount")
        return "; ".join(note)

    def __exit__(self, *exc):
        note = self.stop()
        if note:
            log(f"  [{self.name}] {note}")
        self.stop_note = note
        return False
