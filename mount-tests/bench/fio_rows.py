"""Large-file I/O rows of the main comparison (mount-tests/bench.sh, part
"main"): fio on one file of --io-size bytes (default 1 GiB) through each
column's mount (native: the backing filesystem itself), after that column's
other workloads, in the same mount. Standard library and fio only; driver.py
runs it from each repetition of the main comparison and prints its rows in
the main table.

The three rows, in this order, on the same file (ROWS):

  seq_write  fio --rw=write --bs=1M --end_fsync=1: the file is made and
             written once, in 1 MiB writes, then fsync-ed; MB/s from fio's
             bw_bytes, whose runtime includes the final fsync
  seq_read   sync + drop_caches (echo 3: page cache, dentries and inodes),
             then fio --rw=read --bs=1M over the whole file: every byte from
             the backing file, not from a cache; MB/s
  rand_read  sync + drop_caches again, then fio --rw=randread --bs=4k over
             the file until a quarter of its 4 KiB blocks were read or
             --io-runtime seconds passed, whichever is first; fio's random
             map reads no block twice, so every read starts cold (no
             readahead on a random pattern); IOPS

Every job: one job, --ioengine=psync (pread/pwrite, one system call per I/O,
queue depth 1: what a plain program does; libaio with buffered I/O would be
synchronous too), --direct=0 (buffered, through the page cache as a program
would), --fallocate=none (no FALLOCATE before the writes: not every column
passes it on), --randrepeat=1 (the same random sequence in every column).
MB/s are 10^6 bytes per second.

For slabfs columns the FUSE requests the daemon received during each row
(deltas of user.slabfs.stats's `requests`) are kept, so that the table can
show that with passthrough no READ or WRITE reaches the daemon.
"""

import json
import os
import re
import shutil
import statistics
import subprocess
import time

# (key, label, unit); the keys are the JSON keys, do not rename them
ROWS = [
    ("seq_write", "seq write MB/s", "MB/s"),
    ("seq_read", "seq read MB/s", "MB/s"),
    ("rand_read", "4K rand read IOPS", "IOPS"),
]
DEFAULT_SIZE = 1 << 30
QUICK_SIZE = 256 << 20
DEFAULT_RUNTIME_S = 10.0
QUICK_RUNTIME_S = 3.0
RAND_FRACTION = 4          # rand_read reads at most 1/RAND_FRACTION of the file's blocks
SEQ_BS, RAND_BS = 1 << 20, 4096
RATIO_TARGET = 0.9         # slabfs (passthrough on) against native, every row
FILE = "fio.bin"
COMMON = ["--numjobs=1", "--ioengine=psync", "--direct=0", "--fallocate=none", "--randrepeat=1",
          "--output-format=json"]


def parse_size(text):
    """'1G', '64M', '512k', '1GiB', '1048576' -> bytes (binary units)."""
    m = re.fullmatch(r"\s*(\d+)\s*([kmgt]?)(i?b)?\s*", str(text), re.IGNORECASE)
    if not m:
        raise ValueError(f"{text!r}: a size such as 1G, 256M or 1048576")
    return int(m.group(1)) << {"": 0, "k": 10, "m": 20, "g": 30, "t": 40}[m.group(2).lower()]


def fmt_size(n):
    for shift, unit in ((30, "GiB"), (20, "MiB"), (10, "KiB")):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift} {unit}"
    return f"{n} B"


def check_size(n):
    """None if n (bytes) is a usable --io-size, else why not (0 skips the rows)."""
    if n == 0:
        return None
    if n < SEQ_BS or n % SEQ_BS:
        return "a whole number of MiB, at least 1M (0 skips the rows)"
    return None


def fio_version(fio):
    try:
        return subprocess.run([fio, "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
    except Exception:
        return None


def argv(fio, row, path, size, runtime_s):
    """The fio command of one row."""
    name = path.replace(":", "\\:")  # fio splits --filename at colons
    base = [fio, f"--name={row}", f"--filename={name}", f"--size={size}"] + COMMON
    if row == "seq_write":
        return base + ["--rw=write", f"--bs={SEQ_BS}", "--end_fsync=1"]
    if row == "seq_read":
        return base + ["--rw=read", f"--bs={SEQ_BS}"]
    if row == "rand_read":
        return base + ["--rw=randread", f"--bs={RAND_BS}", f"--io_size={size // RAND_FRACTION}",
                       f"--runtime={runtime_s:g}"]
    raise ValueError(row)


def config(fio, size, runtime_s):
    """What the rows do, for results.json and the table's notes."""
    return {"size_bytes": size, "runtime_s": runtime_s, "fio": fio_version(fio), "file": FILE,
            "rand_read_max_ios": size // RAND_FRACTION // RAND_BS, "ratio_target": RATIO_TARGET,
            "argv": {k: argv("fio", k, "FILE", size, runtime_s)[1:] for k, _, _ in ROWS}}


def drop_all_caches():
    """sync, then drop the page cache, dentries and inodes (echo 3)."""
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def run_fio(cmd):
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    out = r.stdout
    start = out.find("{")  # fio may print notes before its JSON
    try:
        doc = json.loads(out[start:]) if start >= 0 else None
    except ValueError:
        doc = None
    if r.returncode != 0 or not doc or not doc.get("jobs"):
        tail = (r.stderr.strip() or out.strip())[-1500:]
        raise RuntimeError(f"fio failed (exit {r.returncode}): {' '.join(cmd)}\n{tail}")
    job = doc["jobs"][0]
    if job.get("error"):
        raise RuntimeError(f"fio: job error {job['error']}: {' '.join(cmd)}\n{r.stderr.strip()[-1500:]}")
    return job, wall


def run(root, fio, size, runtime_s, stats=None, deltas=None, passthrough=None):
    """The three rows on root/FILE; returns {row: figures}. stats() (slabfs
    columns) reads user.slabfs.stats, deltas(st0, st1) gives the requests
    between two reads; passthrough(st) picks the passthrough object."""
    path = os.path.join(root, FILE)
    out = {}
    try:
        for key, _, unit in ROWS:
            if key != "seq_write":
                drop_all_caches()
                time.sleep(0.5)  # let FORGETs reach the daemons, alike for every column
            st0 = stats() if stats else None
            job, wall = run_fio(argv(fio, key, path, size, runtime_s))
            st1 = stats() if stats else None
            side = job["write"] if key == "seq_write" else job["read"]
            r = {"unit": unit, "bytes": side["io_bytes"], "ios": side.get("total_ios"),
                 "runtime_s": side["runtime"] / 1e3, "wall_s": round(wall, 3)}
            r["value"] = side["iops"] if unit == "IOPS" else side["bw_bytes"] / 1e6
            lat = side.get("clat_ns") or {}
            pct = lat.get("percentile") or {}
            if key == "rand_read" and pct:
                r["clat_p50_us"] = pct.get("50.000000", 0) / 1e3
                r["clat_p99_us"] = pct.get("99.000000", 0) / 1e3
            if key != "rand_read" and side["io_bytes"] != size:
                raise RuntimeError(f"fio {key}: moved {side['io_bytes']} bytes, expected {size}")
            if key == "seq_write" and os.stat(path).st_size != size:
                raise RuntimeError(f"fio seq_write: {path} has {os.stat(path).st_size} bytes, expected {size}")
            if st0 is not None and deltas:
                r["requests"] = deltas(st0, st1)
                if passthrough:
                    r["passthrough"] = passthrough(st1)
            out[key] = r
    finally:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
    return out


def warm_up(root, fio, size):
    """The sequential write and read once on root (natively), untimed: the
    first large write on a fresh filesystem allocates its extents, and on a
    virtual machine the host may cache the blocks a freed file leaves (each
    column's file is likely to get the same ones again), which would favour
    every column after the first."""
    path = os.path.join(root, FILE)
    try:
        for key in ("seq_write", "seq_read"):
            run_fio(argv(fio, key, path, size, DEFAULT_RUNTIME_S))
    finally:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
    os.sync()


def line(io):
    """One log line for a repetition's rows."""
    return "  ".join(f"{k} {io[k]['value']:.0f} {io[k]['unit']}" + (
        f" (R/W {io[k]['requests'].get('read', 0)}/{io[k]['requests'].get('write', 0)})"
        if io[k].get("requests") else "") for k, _, _ in ROWS if k in io)


# ---------------------------------------------------------------------------
# Summary, table, targets


def summarize(ios):
    """ios: each repetition's run() result (or None); the medians per row."""
    ios = [x for x in ios if x]
    if not ios:
        return None
    out = {}
    for key, _, unit in ROWS:
        rs = [x[key] for x in ios if key in x]
        if not rs:
            continue
        e = {"unit": unit, "value": statistics.median(r["value"] for r in rs),
             "all": [r["value"] for r in rs], "runs": len(rs)}
        reqs = [r["requests"] for r in rs if r.get("requests")]
        if reqs:
            e["requests"] = {k: statistics.median(q.get(k, 0) for q in reqs)
                             for k in ("read", "write", "open", "release", "getattr", "pass")}
            e["requests_all"] = reqs
        if key == "rand_read":
            p = [r["clat_p99_us"] for r in rs if r.get("clat_p99_us") is not None]
            e["clat_p99_us"] = statistics.median(p) if p else None
        out[key] = e
    return out


def ratios(targets):
    """Adds each row's ratio to native (value / native's value) to every column's io."""
    nat = (targets.get("native") or {}).get("io") or {}
    for t, e in targets.items():
        for key, row in (e.get("io") or {}).items():
            n = nat.get(key, {}).get("value")
            row["ratio"] = row["value"] / n if n else None


def present(rnd):
    return any(e.get("io") for e in rnd["targets"].values())


def fmt_value(v, unit):
    if v is None:
        return "-"
    if unit == "IOPS":
        return f"{v / 1e3:.1f}k" if v >= 1e4 else f"{v:.0f}"
    return f"{v:.0f}"


def rows(rnd, targets, w0, cw, fmt_ratio):
    """Table rows (one per fio row) for the columns `targets`."""
    if not present(rnd):
        return []
    lines = []
    for key, label, unit in ROWS:
        row = "  " + label.ljust(w0)
        for t in targets:
            e = (rnd["targets"][t].get("io") or {}).get(key)
            if e is None:
                cell = "failed" if rnd["targets"][t].get("io_errors") else "-"
            else:
                cell = fmt_value(e["value"], unit)
                if t != "native":
                    cell += f" ({fmt_ratio(e.get('ratio'))})"
            row += cell.rjust(cw)
        lines.append(row)
    return lines


def request_rows(rnd, targets, w0, cw, rw4k_key="requests_rw4k"):
    """READ/WRITE requests per slabfs column during the 4 KiB write+read row
    and each fio row; '-' for a column that does not count requests."""
    lines = ["  FUSE READ/WRITE requests the daemon received (slabfs columns; medians; from user.slabfs.stats)"]
    sources = [("4 KiB write+read", lambda e: e.get(rw4k_key))]
    if present(rnd):
        sources += [(label.rsplit(" ", 1)[0], (lambda k: lambda e: ((e.get("io") or {}).get(k) or {}).get("requests"))(key))
                    for key, label, _ in ROWS]
    for label, get in sources:
        row = "  " + ("  " + label).ljust(w0)
        for t in targets:
            q = get(rnd["targets"][t]) if t != "native" else None
            cell = f"{q.get('read', 0):.0f}/{q.get('write', 0):.0f}" if q else ""
            row += cell.rjust(cw)
        lines.append(row)
    return lines


def passthrough_row(rnd, targets, w0, cw):
    """Each slabfs column's passthrough mode as its stats reported it (and
    why it is off, where it is)."""
    if not any(rnd["targets"][t].get("passthrough") for t in targets):
        return []
    row = "  " + "passthrough".ljust(w0)
    why = []
    for t in targets:
        p = rnd["targets"][t].get("passthrough")
        row += (str(p.get("mode", "?")) if isinstance(p, dict) else "").rjust(cw)
        if isinstance(p, dict) and p.get("mode") != "on":
            why.append(f"{t}: {p.get('reason') or 'no reason given'}")
    return [row] + ([f"  {''.ljust(w0)}(off: {'; '.join(why)})"] if why else [])


def notes(cfg):
    size = fmt_size(cfg["size_bytes"])
    return (f"  (seq write: fio on one {size} file, 1 MiB writes, --end_fsync=1 (in the time); seq read: the same file after "
            f"sync and drop_caches (echo 3), 1 MiB reads, every byte from the backing file; 4K rand read: the same file "
            f"after drop_caches again, 4 KiB reads of distinct blocks in random order until {cfg['rand_read_max_ios']} "
            f"(a quarter of its blocks) or {cfg['runtime_s']:g} s; one job, psync (queue depth 1), buffered "
            f"(--direct=0), --fallocate=none; MB/s = 10^6 B/s; in each column's mount after its other workloads, after an "
            f"untimed native write and read of the same size before the round; {cfg.get('fio') or 'fio'})")


def checks(rnd):
    """slabfs (its defaults: passthrough on where the kernel allows) >= 0.9x
    native on every fio row; slabfs-pt-off's ratio beside it."""
    if not rnd or not present(rnd):
        return []
    ts = rnd["targets"]
    s = (ts.get("slabfs") or {}).get("io") or {}
    off = (ts.get("slabfs-pt-off") or {}).get("io") or {}
    nat = (ts.get("native") or {}).get("io") or {}
    mode = (ts.get("slabfs") or {}).get("passthrough")
    mode = f"; slabfs passthrough {mode.get('mode')}" + (f" ({mode['reason']})" if mode.get("reason") else "") \
        if isinstance(mode, dict) else ""
    out = []
    for key, label, unit in ROWS:
        name = f"slabfs {label.rsplit(' ', 1)[0]} >= {RATIO_TARGET:g}x native"
        e, n = s.get(key), nat.get(key)
        if not e or not n or e.get("ratio") is None:
            out.append({"target": name, "result": "MISS", "detail": "no measurement"})
            continue
        det = (f"slabfs {fmt_value(e['value'], unit)} {unit} vs native {fmt_value(n['value'], unit)} {unit} "
               f"({e['ratio']:.3f}x)")
        if off.get(key, {}).get("ratio") is not None:
            det += f"; slabfs-pt-off {off[key]['ratio']:.3f}x"
        q = e.get("requests")
        if q:
            det += f"; READ/WRITE requests {q.get('read', 0):.0f}/{q.get('write', 0):.0f}"
        out.append({"target": name, "result": "PASS" if e["ratio"] >= RATIO_TARGET else "MISS", "detail": det + mode})
    return out


def chart(rnd, series):
    """Extra groups for the throughput chart: (labels, values[series][row])."""
    if not present(rnd):
        return [], [[] for _ in series]
    labels = [label for _, label, _ in ROWS]
    values = [[((rnd["targets"].get(t, {}).get("io") or {}).get(k) or {}).get("ratio") for k, _, _ in ROWS]
              for t in series]
    return labels, values


def available(fio):
    return bool(fio) and shutil.which(fio) is not None
