#!/usr/bin/env python3
"""Driver for mount-tests/bench.sh: slabfs against native, libfuse's
passthrough_ll and bindfs on real mounts, the reclaim comparison of
slabfs's eviction policies on a real mount (and, in a latency run of its own
per policy, a reader process across the budget cut: reclaim_latency.py), and slabfs under a cgroup memory limit
(pressure.py). Standard library only.

bench.sh builds the binaries, sets up the work directory and the cleanup trap,
and runs this. Every daemon is started here in the foreground (-f) so that
its PID is known (for RSS and descriptor counts); each PID and mountpoint is
appended to WORK/daemons so that the shell trap can clean up after us if we
are killed.

This file is the entry point: the command line, the Bench object every part
is handed (its arguments, fresh directories, each target's daemon, the
errors) and the run of the parts. The parts and everything else live beside
it, one concern a file:

  daemons.py             the targets, how each daemon is started (Daemon),
                         mounts, RSS, CPU, descriptors, drop_caches
  stats.py               slabfs's statistics, read tolerantly (also lib.sh's
                         reader, from the command line)
  workloads.py           the tree, the timed phases, the Zipf sequences
  main_comparison.py     part "main" (and "large"): the rounds and their medians
  rmreader.py            part "main": stat latency while rm -rf runs behind the mount
  fio_rows.py            part "main": the large-file fio rows
  reclaim_comparison.py  part "reclaim": the eviction policies across a budget cut
  reclaim_latency.py     part "reclaim": a reader process across the cut
  pressure.py            part "pressure": slabfs under a cgroup memory limit
  freshness.py           part "freshness": how soon changes behind a mount show
  report.py              the main and reclaim tables
  targets.py             the main and reclaim targets (PASS/MISS)
  charts.py, svgchart.py the SVG charts
  environment.py         the machine, the backing directories, the mount options

A benchmark, not a test: targets print PASS or MISS and never fail the run.
The exit status is 1 only when something broke (a mount failed, a daemon
died, a phase raised an error), 2 for a bad command line.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fio_rows  # noqa: E402
import freshness  # noqa: E402
import main_comparison  # noqa: E402
import pressure  # noqa: E402
import reclaim_comparison  # noqa: E402
import reclaim_latency as rl  # noqa: E402
import rmreader  # noqa: E402
from charts import charts  # noqa: E402
from daemons import (FUSE_TARGETS, OPTIONAL_TARGETS, SLABFS_VARIANTS, Daemon, Interrupted,  # noqa: E402
                     daemon_argv, fuse_targets, log, optional_targets, slabfs_has_option)
from environment import OPTIONS_NOTE, environment  # noqa: E402
from report import table_reclaim, table_round  # noqa: E402
from targets import large_round_checks, targets_check  # noqa: E402
from workloads import zipf_sequence  # noqa: E402

PARTS = ["main", "large", "reclaim", "pressure", "freshness"]
# The defaults of the options left unset: {dest: (with --quick, without)}
DEFAULTS = {"n": (2000, 19000), "repetitions": (1, 3), "large": (20000, 200000), "files": (10000, 100000),
            "stats": (20000, 200000), "rm_files": (10000, 100000), "freshness_changes": (200, 1000),
            "io_runtime": (fio_rows.QUICK_RUNTIME_S, fio_rows.DEFAULT_RUNTIME_S)}


def size_arg(ap, option, text):
    """A size option's bytes (fio_rows.parse_size), or the usage error."""
    try:
        return fio_rows.parse_size(text)
    except ValueError as e:
        ap.error(f"{option} {e}")


def _on_signal(signum, frame):
    raise Interrupted(f"signal {signum}")


class Bench:
    """What every part is handed: the arguments (a), fresh directories under
    the work directory, each target's daemon, and the errors of the run."""

    def __init__(self, args):
        self.a = args
        self.work = args.work
        self.errors = []
        self.seq = 0

    def fresh(self, label):
        self.seq += 1
        p = os.path.join(self.work, f"{self.seq:03d}-{label}")
        os.makedirs(p)
        return p

    def argv(self, target, src, mnt, extra=()):
        return daemon_argv(self.a, target, src, mnt, extra)

    def mount(self, target, src, mnt, extra=()):
        """The target's daemon on mnt, as a context manager (Daemon)."""
        return Daemon(target, self.argv(target, src, mnt, extra), mnt, self.a)


def main():
    ap = argparse.ArgumentParser(
        prog="mount-tests/bench.sh", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="slabfs against native, passthrough_ll, bindfs (and passthrough_hp), slabfs's reclaim policies "
                    "(and under a cgroup memory limit), "
                    "and how soon changes behind the mount show through it, on real mounts.",
        epilog="""parts:
  main       native, slabfs, slabfs-pt-off (--passthrough off), slabfs-timeouts (--coherence timeouts),
             slabfs-rdc-off (--readdir-cache off), passthrough_ll, bindfs (and passthrough_hp with --passthrough-hp):
             create N files in 100 directories, stat (warm; again 2 s later, with the FUSE requests that pass sent
             to slabfs; cold after sync + drop_caches), list every directory twice, open+close of 2000 files twice
             (the floor of the next row), 4 KiB write+read of the same 2000 files, unlink; then in the same mount
             fio on one --io-size file (1 GiB): sequential write (1 MiB, --end_fsync=1), sequential read (1 MiB,
             after drop_caches), 4 KiB random reads (after drop_caches; psync, one job), MB/s and IOPS (not for
             slabfs-rdc-off); medians of R repetitions, ratios to native, slabfs's READ/WRITE requests during the
             4 KiB write+read and fio rows, daemon RSS per cached inode and descriptors. Then the reader's stat
             latency, idle and while rm -rf removes --rm-files files directly in the backing directory
  large      the same with N=--large files, native and slabfs only, one repetition
  reclaim    slabfs --eviction lru, --eviction page --migrate off, and the defaults: the same tree, the same
             Zipf(1.0) stats, the budget cut to half of the pages in use, the same stats again. Then, per policy,
             a latency run of its own (its own mount of the same tree, filled the same way, the same Zipf run 1,
             the same cut) with a reader process across the cut: --reclaim-reader-rate lstats/s of files in cold/,
             made in the backing directory before that mount and looked up by nothing else, each once (every
             lstat a LOOKUP and a miss of the daemon's cache, checked against its LOOKUP, hit and miss counts):
             its p50/p99/max before (1 s), during (until resident pages reach the new budget's low watermark,
             polled every 10 ms: "pages back") and after (1 s)
  pressure   slabfs (lru, page, default) exec-ed in a cgroup-v1 memory cgroup of its own: half the tree looked
             up, a Zipf run, then memory.limit_in_bytes just above its usage (--pressure-headroom) while lookups
             of new files grow the cache: OOM kill or not, PSI stall (/proc/pressure/memory), slabfs's PSI events
             and pages given back, the hit rate of a new Zipf draw after; every cgroup removed on exit
  freshness  slabfs, slabfs-timeouts, bindfs, passthrough_ll (and passthrough_hp): create, unlink, rename (same
             directory, across), chmod, chown, truncate/append, mkdir, rmdir and the rewrite of a file open through
             the mount, each made directly in the backing directory, --freshness-changes times in batches of 100;
             the time until the mount shows each (p50/p99/max) and how many did not within 10 s
By default native's tree and every backing directory go on a fresh loop-mounted ext4 image (an on-disk filesystem,
so that drop_caches makes the backing directory's lookups cold too, without the history of this VM's root
filesystem); --backing tmpfs uses a tmpfs the bench mounts (the daemons' own costs only; tmpfs keeps its dentries
through drop_caches), --dir DIR a plain directory. Everything is unmounted on exit. Output: the table (stdout, or
stderr with --json), mount-tests/bench/out/{table.txt,results.json,throughput.svg,reclaim.svg}. The pressure
part needs a cgroup-v1 memory controller at /sys/fs/cgroup/memory (it is skipped, and says so, without one).
--passthrough-hp PATH adds libfuse's passthrough_hp (a binary, or a directory holding passthrough_hp.cc and
cxxopts.hpp, which bench.sh builds) to the main comparison, the rm -rf reader and the freshness part.
A slabfs without --passthrough (built before it) runs without the slabfs-pt-off column; the table says so.
Environment: SLABFS_BIN (skip the build), KEEP_LOGS=1, BENCH_DIR, PYTHON.""")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 2000 files, 1 repetition, small reclaim tree, 10000 files under rm -rf, "
                         "200 freshness changes per kind, a 256 MiB fio file")
    ap.add_argument("--json", action="store_true", help="print one JSON object on stdout (the table goes to stderr)")
    ap.add_argument("--files-main", "-n", type=int, dest="n", help="files in the main comparison (default 19000)")
    ap.add_argument("--large", type=int, metavar="N", help="files in the slabfs-only large round (default 200000; 0 skips it)")
    ap.add_argument("--repetitions", type=int, metavar="R", help="repetitions of the main comparison (default 3)")
    ap.add_argument("--files", type=int, metavar="N", help="files in the reclaim comparison (default 100000)")
    ap.add_argument("--stats", type=int, metavar="N", help="Zipf stats before and after the cut (default 200000)")
    ap.add_argument("--reclaim-timeout", type=float, default=3600, metavar="S",
                    help="slabfs --entry-timeout and --attr-timeout in the reclaim comparison (default 3600)")
    ap.add_argument("--reclaim-unpinned", action="store_true",
                    help="reclaim comparison: drop_caches between the first Zipf run and the cut, so that the kernel "
                         "holds nothing at the cut (every object unused; not what a running system looks like)")
    ap.add_argument("--reclaim-pinned", action="store_true",
                    help="reclaim comparison: the cut comes while the kernel holds what the first Zipf run touched "
                         "(the default; kept for old command lines)")
    ap.add_argument("--reclaim-reader-rate", type=int, default=rl.RATE, metavar="N",
                    help="reclaim comparison: lstats per second of the reader process that runs across the cut of "
                         "a separate latency run per policy (files of cold/, which nothing else looks up, each once: "
                         f"every lstat a LOOKUP and a miss; default {rl.RATE}; 0: no latency run)")
    ap.add_argument("--pressure-files", type=int, metavar="N",
                    help="files in the memory-pressure part (default: --files, 100000)")
    ap.add_argument("--pressure-headroom", metavar="SIZE",
                    help="memory-pressure part: memory.limit_in_bytes is set to the daemon's cgroup usage plus SIZE "
                         "before the cache grows (default: a quarter of what the growth would charge, at most 8M)")
    ap.add_argument("--pressure-psi-us", type=int, metavar="N",
                    help="memory-pressure part: slabfs --psi-threshold-us N (default: slabfs's own default)")
    ap.add_argument("--seed", type=int, default=42, help="seed of the Zipf workload (default 42)")
    ap.add_argument("--skip", action="append", default=[], choices=PARTS,
                    help="skip a part (may be repeated)")
    ap.add_argument("--only", action="append", default=[], choices=PARTS,
                    help="run only this part (may be repeated): --only reclaim runs the reclaim comparison alone, "
                         "--only pressure the memory-pressure part")
    ap.add_argument("--pll-opts", default="", help="extra -o options for passthrough_ll (e.g. cache=always)")
    ap.add_argument("--slabfs-opts", default="",
                    help="extra options for every slabfs column, e.g. \"--cache-size 512M\" for a large round whose "
                         "tree the default budget cannot hold")
    ap.add_argument("--passthrough-hp", metavar="PATH",
                    help="add libfuse's passthrough_hp as a column: PATH is its binary, or a directory holding "
                         "passthrough_hp.cc and cxxopts.hpp (bench.sh builds it)")
    ap.add_argument("--rm-files", type=int, metavar="N",
                    help="files rm -rf removes behind the mount while a reader stats others (default 100000; "
                         "0 skips it)")
    ap.add_argument("--freshness-changes", type=int, metavar="N",
                    help="changes per kind in the freshness part (default 1000)")
    ap.add_argument("--io-size", metavar="SIZE",
                    help="the file of the fio rows in the main comparison (sequential write, sequential read, 4 KiB "
                         "random read), e.g. 1G, 256M (default 1G; --quick 256M; 0 skips the rows)")
    ap.add_argument("--io-runtime", type=float, metavar="S",
                    help="the most seconds the 4 KiB random read row runs (it stops sooner after reading a quarter "
                         "of the file's blocks; default 10, --quick 3)")
    ap.add_argument("--fio", default=shutil.which("fio") or "fio", help=argparse.SUPPRESS)
    ap.add_argument("--update-readme-charts", action="store_true", help="copy the SVG charts to docs/charts/")
    ap.add_argument("--parse-only", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--backing", choices=["tmpfs", "ext4-image"], default="ext4-image",
                    help="where native's tree and every backing directory go: a tmpfs mounted for the run "
                         "or a fresh loop-mounted ext4 image (the default)")
    ap.add_argument("--dir", metavar="DIR",
                    help="put the trees on DIR's filesystem as it is (e.g. a plain disk directory) instead")
    ap.add_argument("--work", help=argparse.SUPPRESS)
    ap.add_argument("--daemons", help=argparse.SUPPRESS)
    ap.add_argument("--logs", help=argparse.SUPPRESS)
    ap.add_argument("--slabfs", help=argparse.SUPPRESS)
    ap.add_argument("--passthrough-ll", dest="passthrough_ll", help=argparse.SUPPRESS)
    ap.add_argument("--passthrough-hp-bin", dest="passthrough_hp_bin", help=argparse.SUPPRESS)
    ap.add_argument("--bindfs", help=argparse.SUPPRESS)
    ap.add_argument("--outdir", help=argparse.SUPPRESS)
    ap.add_argument("--repo", help=argparse.SUPPRESS)
    a = ap.parse_args()
    for name, (quick, full) in DEFAULTS.items():
        if getattr(a, name) is None:
            setattr(a, name, quick if a.quick else full)
    if a.io_size is None:
        a.io_size = fio_rows.QUICK_SIZE if a.quick else fio_rows.DEFAULT_SIZE
    else:
        a.io_size = size_arg(ap, "--io-size", a.io_size)
        why = fio_rows.check_size(a.io_size)
        if why:
            ap.error(f"--io-size {a.io_size} bytes: {why}")
    if a.io_runtime <= 0:
        ap.error("--io-runtime must be above 0")
    for name in ("n", "repetitions", "files", "stats", "freshness_changes"):
        if getattr(a, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be at least 1")
    for name in ("large", "rm_files"):
        if getattr(a, name) < 0:
            ap.error(f"--{name.replace('_', '-')} must be at least 0")
    if a.passthrough_hp and not (os.path.isfile(os.path.join(a.passthrough_hp, "passthrough_hp.cc"))
                                 or (os.path.isfile(a.passthrough_hp) and os.access(a.passthrough_hp, os.X_OK))):
        ap.error(f"--passthrough-hp {a.passthrough_hp}: neither an executable nor a directory holding passthrough_hp.cc")
    if a.passthrough_hp and not a.passthrough_hp_bin and os.path.isfile(a.passthrough_hp):
        a.passthrough_hp_bin = os.path.abspath(a.passthrough_hp)
    if a.pressure_files is None:
        a.pressure_files = a.files
    if a.pressure_files < 2:
        ap.error("--pressure-files must be at least 2")
    if a.pressure_headroom is not None:
        a.pressure_headroom = size_arg(ap, "--pressure-headroom", a.pressure_headroom)
        if a.pressure_headroom < 1:
            ap.error("--pressure-headroom must be above 0")
    if a.pressure_psi_us is not None and not 0 <= a.pressure_psi_us < 1_000_000:
        ap.error("--pressure-psi-us must be in [0, 1000000)")
    if a.reclaim_reader_rate < 0:
        ap.error("--reclaim-reader-rate must be at least 0")
    if a.reclaim_pinned and a.reclaim_unpinned:
        ap.error("--reclaim-pinned and --reclaim-unpinned exclude each other")
    if a.only:
        a.skip = sorted(set(a.skip) | (set(PARTS) - set(a.only)))
    if a.n > 19500:
        log(f"warning: passthrough_ll (and passthrough_hp) keep one descriptor per inode; {a.n} files may pass "
            f"the open-file limit")
    if a.parse_only:
        return 0
    if a.passthrough_hp and not a.passthrough_hp_bin:
        ap.error(f"--passthrough-hp {a.passthrough_hp}: a source directory, which bench.sh builds (run bench.sh)")
    a.work = os.path.abspath(a.work)  # passthrough_hp wants an absolute mountpoint
    if a.io_size and "main" not in a.skip and not fio_rows.available(a.fio):
        ap.error("fio is missing (apt-get install fio), or --io-size 0 skips the fio rows")
    # A slabfs without --passthrough (one built before it) runs without the
    # slabfs-pt-off column, and the table says so.
    a.skip_targets = {}
    if not slabfs_has_option(a.slabfs, "--passthrough"):
        a.skip_targets["slabfs-pt-off"] = f"{a.slabfs} has no --passthrough option (its mount --help does not list it)"
        log(f"note: slabfs-pt-off not run: {a.skip_targets['slabfs-pt-off']}")

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
    started = time.monotonic()
    b = Bench(a)
    result = {"config": {"files_main": a.n, "repetitions": a.repetitions, "large": a.large, "files": a.files,
                         "stats": a.stats, "seed": a.seed, "quick": a.quick, "pll_opts": a.pll_opts, "slabfs_opts": a.slabfs_opts,
                         "backing": a.backing, "dir": a.dir, "reclaim_pinned": not a.reclaim_unpinned,
                         "reclaim_reader": {"rate": a.reclaim_reader_rate, "warmup_s": rl.WARMUP_S, "before_s": rl.BEFORE_S,
                                            "after_s": rl.AFTER_S, "poll_s": rl.POLL_S,
                                            "back_timeout_s": rl.BACK_TIMEOUT_S,
                                            "cold_files": rl.cold_count(a.reclaim_reader_rate)},
                         "pressure": {"files": a.pressure_files, "headroom": a.pressure_headroom,
                                      "psi_threshold_us": a.pressure_psi_us, "grow_s": pressure.GROW_S,
                                      "poll_s": pressure.POLL_S, "cgroup_root": pressure.CG_ROOT},
                         "rm_files": a.rm_files, "freshness_changes": a.freshness_changes,
                         "passthrough_hp": a.passthrough_hp, "io_size": a.io_size, "io_runtime_s": a.io_runtime,
                         "skipped_targets": a.skip_targets,
                         "freshness": {"batch": freshness.BATCH, "limit_s": freshness.LIMIT_S,
                                       "window_s": freshness.WINDOW_S, "settle_s": freshness.SETTLE_S},
                         "argv": {t: b.argv(t, "SRC", "MNT") for t in fuse_targets(a)}},
              "environment": environment(a), "options_note": OPTIONS_NOTE}
    try:
        # Real directories: --dry-run checks them. What each variant would get.
        src, mnt = b.fresh("dry-run-src"), b.fresh("dry-run-mnt")
        for t in SLABFS_VARIANTS:
            if t in a.skip_targets:
                continue
            r = subprocess.run(b.argv(t, src, mnt, ["--dry-run"]), capture_output=True, text=True)
            out = (r.stdout + r.stderr).strip().replace(src, "SRC").replace(mnt, "MNT")
            result["slabfs_dry_run" if t == "slabfs" else f"{t}_dry_run"] = out
    except OSError:
        pass
    status = 0
    try:
        if "main" not in a.skip:
            result["main"] = main_comparison.run(b, ["native"] + fuse_targets(a), a.n, a.repetitions, "main",
                                                 io=bool(a.io_size))
            if a.io_size:
                result["main"]["io_config"] = fio_rows.config(a.fio, a.io_size, a.io_runtime)
                result["main"]["io_skipped"] = main_comparison.IO_SKIP
            if a.skip_targets:
                result["main"]["skipped_targets"] = a.skip_targets
            if a.rm_files > 0:
                result["rm_reader"] = rmreader.run(
                    b, ["native", "slabfs", "slabfs-timeouts", "bindfs", "passthrough_ll"] + optional_targets(a),
                    a.rm_files, idle_s=1.0 if a.quick else rmreader.IDLE_S)
        if "large" not in a.skip and a.large > 0:
            result["large"] = main_comparison.run(b, ["native", "slabfs"], a.large, 1, "large")
        if "reclaim" not in a.skip:
            result["reclaim"] = reclaim_comparison.run(b)
        if "pressure" not in a.skip:
            result["pressure"] = pressure.run(b, zipf_sequence(a.pressure_files, a.stats, a.seed),
                                              zipf_sequence(a.pressure_files, a.stats, a.seed, draw=1))
        if "freshness" not in a.skip:
            result["freshness"], result["freshness_meta"] = freshness.run(
                b, ["slabfs", "slabfs-timeouts", "bindfs", "passthrough_ll"] + optional_targets(a), a.freshness_changes)
    except Interrupted as e:
        log(f"interrupted ({e}); cleaning up")
        b.errors.append({"error": f"interrupted: {e}"})
        status = 130
    result["errors"] = b.errors
    result["elapsed_s"] = time.monotonic() - started

    parts = [f"backing directories (native's tree too): {result['environment']['backing']}"]
    if result.get("main"):
        parts.append(table_round(result["main"], "main comparison", a.repetitions))
    if result.get("rm_reader"):
        parts.append(rmreader.table(result["rm_reader"]))
    if result.get("large"):
        parts.append(table_round(result["large"], "large round (slabfs only; native for the ratios)", 1))
    if result.get("reclaim"):
        parts.append(table_reclaim(result["reclaim"], a))
    if result.get("pressure"):
        parts.append(pressure.table(result["pressure"]))
    if "freshness" in result:
        parts.append(freshness.table(result["freshness"], result["freshness_meta"], a.freshness_changes,
                                     FUSE_TARGETS + OPTIONAL_TARGETS))
    parts.append(OPTIONS_NOTE)
    checks = targets_check(result.get("main"), result.get("reclaim"), a.skip) if status == 0 else []
    if status == 0:
        if "main" not in a.skip and a.rm_files > 0:
            checks += rmreader.checks(result.get("rm_reader"))
        if result.get("large"):
            checks += large_round_checks(result.get("main"), result["large"])
        if "reclaim" not in a.skip:
            checks += rl.checks(result.get("reclaim"), a.files)
        if "pressure" not in a.skip:
            checks += pressure.checks(result.get("pressure"))
        if "freshness" not in a.skip:
            checks += freshness.checks(result.get("freshness", {}))
    result["targets_check"] = checks
    if checks:
        parts.append("targets (a benchmark: a MISS does not fail the run):\n" +
                     "\n".join(f"  {c['result']}  {c['target']}: {c['detail']}" for c in checks))
    if b.errors:
        parts.append("errors:\n" + "\n".join(f"  {e}" for e in b.errors))
    os.makedirs(a.outdir, exist_ok=True)
    for stale in ("throughput.svg", "reclaim.svg"):  # a skipped part leaves no old chart behind
        if os.path.exists(os.path.join(a.outdir, stale)):
            os.unlink(os.path.join(a.outdir, stale))
    try:
        result["charts"] = charts(result, a.outdir)
    except Exception as e:  # a chart must not lose the numbers
        result["charts"] = []
        parts.append(f"charts failed: {type(e).__name__}: {e}")
    if result["charts"]:
        parts.append("charts: " + ", ".join(os.path.relpath(p, a.repo) for p in result["charts"]))
        if a.update_readme_charts:
            dest = os.path.join(a.repo, "docs", "charts")
            os.makedirs(dest, exist_ok=True)
            for p in result["charts"]:
                shutil.copy(p, dest)
            parts.append(f"copied to {os.path.relpath(dest, a.repo)}/")
    result["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
    parts.append(f"elapsed {result['elapsed_s']:.0f} s; load average at the start {' '.join(result['environment']['loadavg'])}, "
                 f"at the end {' '.join(result['loadavg_end'])} ({os.cpu_count()} CPUs; the machine is shared, "
                 f"so single figures can move 2-3x: read the ratios)")
    text = "\n\n".join(parts)
    with open(os.path.join(a.outdir, "results.json"), "w") as f:
        json.dump(result, f, indent=1, default=str)
    with open(os.path.join(a.outdir, "table.txt"), "w") as f:
        f.write(text + "\n")
    if a.json:
        log(text)
        print(json.dumps(result, default=str))
    else:
        print(text)
    if status:
        return status
    return 1 if b.errors else 0


if __name__ == "__main__":
    sys.exit(main())
