"""The bench's charts (mount-tests/bench.sh, driver.py): the main
comparison's throughput against native and the reclaim comparison, as SVG
(svgchart.py) into the output directory. Standard library only."""

import os

import fio_rows
import svgchart
from daemons import FUSE_TARGETS, OPTIONAL_TARGETS
from workloads import NDIRS, WORKLOADS


def charts(result, outdir):
    paths = []
    main = result.get("main")
    if main:
        ts = main["targets"]
        series = [t for t in FUSE_TARGETS + OPTIONAL_TARGETS if "ratio" in ts.get(t, {})]
        groups = [label for _, label in WORKLOADS]
        values = [[ts[t]["ratio"][k] for k, _ in WORKLOADS] for t in series]
        io_groups, io_values = fio_rows.chart(main, series)
        groups += io_groups
        values = [v + w for v, w in zip(values, io_values)]
        p = os.path.join(outdir, "throughput.svg")
        svgchart.grouped_bars(
            p, "Throughput relative to native (" + ("tmpfs" if result["config"].get("backing") == "tmpfs" and not result["config"].get("dir") else "disk") + ")",
            f"{main['n']} files in {NDIRS} directories, median of {result['config']['repetitions']} runs; "
            f"bars above the red line are faster than native",
            groups, series, values)
        paths.append(p)
    rec = result.get("reclaim")
    if rec:
        pol = [{"name": r["policy"], "pages_freed": r["pages_freed"], "objects_evicted": r["objects_evicted"],
                "util_before": r["util_before"], "util_after": r["util_after"],
                "hit_rate_after": r["after"]["hit_rate"],
                "hit_rate_new": r.get("after_new", {}).get("hit_rate")} for r in rec]
        p = os.path.join(outdir, "reclaim.svg")
        svgchart.reclaim_chart(
            p, "slabfs on a real mount: cutting the cache budget in half",
            f"{result['config']['files']} files, {result['config']['stats']} Zipf(1.0) stats before and after, "
            f"cut while the kernel holds run 1's files{'' if result['config'].get('reclaim_pinned', True) else ' (no: --reclaim-unpinned)'}; "
            f"lru = --eviction lru, page = --migrate off, default = page + migration",
            pol)
        paths.append(p)
    return paths
