"""What the bench's results say about where they were measured
(mount-tests/bench.sh, driver.py): the backing directories, the machine
(environment()) and the mount options of every target (OPTIONS_NOTE).
Standard library only."""

import os
import resource
import subprocess

from workloads import STAT_AGAIN_DELAY_S


def backing_note(args):
    """Where native's tree and the daemons' backing directories live."""
    try:
        fs = subprocess.run(["findmnt", "-n", "-o", "FSTYPE,SOURCE,TARGET", "--target", args.work],
                            capture_output=True, text=True, timeout=10).stdout.split()
    except Exception:
        fs = []
    where = f"{fs[0]} ({fs[1]} on {fs[2]})" if len(fs) >= 3 else "unknown filesystem"
    if args.dir:
        return f"{args.work}, a directory on {where} (--dir)"
    if args.backing == "tmpfs":
        return f"a tmpfs the bench mounted for this run on {args.work} (creates in RAM, ~4 us natively)"
    return f"a fresh loop-mounted ext4 image on {args.work}: {where} (--backing ext4-image)"


def environment(args):
    def cmd(argv):
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout.strip()
        except Exception:
            return None
    return {
        "kernel": os.uname().release,
        "loadavg": open("/proc/loadavg").read().split()[:3],
        "cpus": os.cpu_count(),
        "fs": cmd(["findmnt", "-n", "-o", "FSTYPE,SOURCE", "--target", args.work]),
        "backing": backing_note(args),
        "bindfs": cmd([args.bindfs, "--version"]),
        "libfuse": cmd(["pkg-config", "--modversion", "fuse3"]),
        "slabfs_git": cmd(["git", "-C", os.path.dirname(os.path.abspath(__file__)), "describe", "--always", "--dirty"]),
        "nofile_limit": resource.getrlimit(resource.RLIMIT_NOFILE),
    }


OPTIONS_NOTE = f"""mount options (kernel-cache-relevant):
  slabfs          its defaults: --coherence auto (the backing filesystem's fanotify events where it can, then long
                  entry/attr timeouts; its --dry-run output in results.json says what this mount got),
                  default_permissions, readdirplus (auto), cache_readdir+keep_cache on directories, keep_cache on files,
                  no writeback cache, no FLUSH after the first over a local filesystem, one request thread
                  (--threads 1) that polls for the next request up to 100 us after a reply (--poll-us; what that costs
                  shows in the daemon CPU rows), --passthrough auto: the kernel reads and writes regular files itself
                  on the backing file (Linux 6.9+, CAP_SYS_ADMIN; the passthrough row says what the mount got)
  slabfs-pt-off   slabfs with --passthrough off: every READ and WRITE reaches the daemon
  slabfs-timeouts slabfs with --coherence timeouts: no events; entry/attr timeout 1 s (the kernel's) and its own cache's
                  timeout (--cache-timeout, 60 s)
  slabfs-rdc-off  slabfs with --readdir-cache off: no cache_readdir/keep_cache on directories, every listing reaches it
  passthrough_ll  its defaults (cache=auto: entry/attr timeout 1 s, readdirplus, no cache_readdir/keep_cache, no writeback,
                  multi-threaded) plus -o default_permissions to match slabfs; one O_PATH descriptor per inode
                  (-o cache=always, measured separately: 86400 s timeouts, keep_cache and cache_readdir)
  bindfs          its defaults except --no-allow-other (slabfs does not set allow_other): default_permissions,
                  high-level libfuse with its default entry/attr timeout 1 s (Debian's 1.14.7; checked: a second stat
                  within the second does not reach it), single-threaded, no FLUSH after the first (it has no flush op)
  passthrough_hp  (with --passthrough-hp) libfuse's example/passthrough_hp.cc, its defaults: entry/attr timeout
                  86400 s (negative entries too), writeback cache, keep_cache on files, keep_cache+cache_readdir on
                  directories, splice, multi-threaded, default_permissions; one O_PATH descriptor per inode
  "stat, warm" runs right after create: entries older than the 1 s timeout are revalidated (LOOKUP), so a target
  whose create took longer pays for it again there (earlier measurements were taken the same way); "stat, again" stats every
  file once more {STAT_AGAIN_DELAY_S:g} s later, when every 1 s timeout has expired and long ones have not"""
