"""The bench's tables (mount-tests/bench.sh, driver.py): a round of the main
comparison or the large round (table_round) and the reclaim comparison
(table_reclaim), and the number formats they and the targets share.
Standard library only."""

import math
import statistics

import fio_rows
import reclaim_latency as rl
from daemons import FUSE_TARGETS, OPTIONAL_TARGETS
from environment import backing_note
from reclaim_comparison import disturbed
from workloads import NDIRS, RW_FILES, STAT_AGAIN_DELAY_S, WORKLOADS


def fmt_rate(v):
    if v is None:
        return "-"
    if v >= 1e6:
        return f"{v / 1e6:.2f}M"
    if v >= 1e3:
        return f"{v / 1e3:.1f}k"
    return f"{v:.0f}"


def fmt_ratio(v):
    if v is None:
        return "-"
    if v >= 0.1:
        return f"{v:.2f}"
    return f"{v:.3f}"


def table_round(rnd, title, reps):
    lines = [f"{title}: {rnd['n']} files in {NDIRS} directories, median of {reps} repetition(s); "
             f"ops/s (ratio to native)" + ("; the fio rows in MB/s or IOPS as named" if fio_rows.present(rnd) else "")]
    targets = [t for t in ["native"] + FUSE_TARGETS + OPTIONAL_TARGETS if t in rnd["targets"]]
    w0 = 18
    header = "  " + "workload".ljust(w0) + "".join(t.rjust(22) for t in targets)
    lines.append(header)
    for k, label in WORKLOADS:
        row = "  " + label.ljust(w0)
        for t in targets:
            e = rnd["targets"][t]
            if "ops_per_s" not in e:
                row += "failed".rjust(22)
                continue
            cell = fmt_rate(e["ops_per_s"][k])
            if t != "native":
                cell += f" ({fmt_ratio(e.get('ratio', {}).get(k))})"
            row += cell.rjust(22)
        lines.append(row)
    lines += fio_rows.rows(rnd, targets, w0, 22, fmt_ratio)
    lines += fio_rows.passthrough_row(rnd, targets, w0, 22)

    def daemon_row(label, value, fmt):
        """A row of the daemons' columns (native's left blank): fmt(v, entry)
        of each column's value(entry), "-" where that is None."""
        row = "  " + label.ljust(w0) + "".rjust(22 if "native" in targets else 0)
        for t in targets:
            if t == "native":
                continue
            e = rnd["targets"][t]
            v = value(e)
            row += (fmt(v, e) if v is not None else "-").rjust(22)
        return row

    lines.append(daemon_row("RSS/cached inode", lambda e: e.get("rss_per_inode"), lambda v, e: f"{v:.0f} B"))
    lines.append(daemon_row("descriptors", lambda e: e.get("fds_after_stat"),
                            lambda v, e: f"{v:.0f} (+{e.get('fds_added', 0):.0f})"))
    lines.append(daemon_row("requests, again", lambda e: e.get("stat_again_requests"),
                            lambda v, e: f"{v:.0f} ({100 * v / rnd['n']:.1f}%)"))
    lines.append(daemon_row("empty round trip", lambda e: e.get("round_trip_us"), lambda v, e: f"{v:.1f} us"))
    for k in ("create", "unlink"):
        lines.append(daemon_row(f"requests per {k}", lambda e: e.get(f"requests_{k}_per_file"),
                                lambda v, e: f"{v:.2f}"))
    if any(rnd["targets"][t].get("requests_rw4k") for t in targets):
        lines += fio_rows.request_rows(rnd, targets, w0, 22)
    lines.append("  daemon CPU per operation, us (user + system, every thread; from 10 ms clock ticks, so short workloads are coarse)")
    for k, label in WORKLOADS:
        lines.append(daemon_row("  " + label, lambda e: e.get("daemon_cpu_us_per_op", {}).get(k), lambda v, e: f"{v:.1f}"))
    sl = rnd["targets"].get("slabfs", {}).get("slabfs")
    if sl:
        slab = statistics.median(x["slab_bytes_per_file"] for x in sl)
        tabs = [x["table_bytes_per_file"] for x in sl if x.get("table_bytes_per_file") is not None]
        tab = statistics.median(tabs) if tabs else None
        total = rnd["targets"]["slabfs"].get("rss_per_inode")
        lines.append(f"  slabfs per file: {slab:.0f} B of slab pages (inode + dentry objects), "
                     + (f"{tab:.0f} B of tables (tableBytes), " if tab is not None else "")
                     + (f"{total - slab - (tab or 0):.0f} B other (RSS delta minus both)" if total is not None else ""))
    lines.append("  (RSS/cached inode: daemon RSS after the stat phases minus RSS right after mount, "
                 "divided by files; descriptors: ls /proc/PID/fd | wc -l after the stat phases, (+ since mount); "
                 f"requests, again: FUSE requests the daemon received during \"stat, again\" ({STAT_AGAIN_DELAY_S:g} s "
                 "after the warm stat; (% of the files); from user.slabfs.stats, so slabfs only; its own GETXATTRs "
                 "not counted); empty round trip: a getxattr of user.slabfs.entry_timeout on the mount's root, which "
                 "the daemon answers from memory, 20,000 times; requests per create/unlink: those answered (not FORGET, "
                 "not the stats reads) during that row, per file)")
    lines.append(f"  (open+close: the {RW_FILES} files of the 4 KiB write+read row, still empty, each opened O_WRONLY and "
                 f"closed, then each opened O_RDONLY and closed ({2 * RW_FILES} pairs, no data: the open/close round trips "
                 f"that row needs), right before it; 4 KiB write+read: the same files, each opened O_WRONLY|O_TRUNC, "
                 f"written 4 KiB and closed, then each opened O_RDONLY, read and closed; both in ops/s of {2 * RW_FILES} "
                 f"opens)")
    if rnd.get("io_config"):
        lines.append(fio_rows.notes(rnd["io_config"]))
        skipped = {t: why for t, why in rnd.get("io_skipped", {}).items() if t in targets}
        if skipped:
            lines.append("  (no fio rows for " + "; ".join(f"{t}: {why}" for t, why in skipped.items()) + ")")
    for t, why in (rnd.get("skipped_targets") or {}).items():
        lines.append(f"  {t}: not run ({why})")
    return "\n".join(lines)


def table_reclaim(rec, args):
    if not rec:
        return "reclaim comparison: no result"
    lines = [f"reclaim comparison: slabfs, {args.files} files in {max(1, args.files // 100)} directories, "
             f"{args.stats} Zipf(1.0) stats before and after (seed {args.seed}), budget cut to half of the pages in use",
             f"  sequence per policy: mount (--entry-timeout/--attr-timeout {args.reclaim_timeout:g} --psi-threshold-us 0), look every file up, "
             f"drop_caches, Zipf run 1, "
             + ("drop_caches (the kernel lets go: every object unused; --reclaim-unpinned), the cut," if args.reclaim_unpinned
                else "the cut while the kernel still holds what run 1 touched (as on a running system),"),
             "  wait until the counters settle, drop_caches, Zipf run 2 (the same stats; every file it touches is asked of the daemon),",
             f"  drop_caches, Zipf run 3 (a new draw of {args.stats} stats from the same distribution: the same hot files)",
             f"  backing directories: {backing_note(args)}"]
    cols = ["policy", "evicted", "pages freed", "evicted/page", "util before", "util after",
            "RSS before", "RSS after", "stats/s after", "hit rate after", "new draw", "moves", "kernel drops"]
    widths = [9, 9, 16, 13, 12, 11, 11, 11, 14, 15, 9, 9, 8]
    lines.append("  " + "".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cols, widths))))
    for r in rec:
        epp = r["evicted_per_page"]
        vals = [r["policy"], str(r["objects_evicted"]),
                f"{r['pages_freed']} of {r['pages_before']}",
                "-" if epp is None else ("inf" if math.isinf(epp) else f"{epp:.1f}"),
                "-" if r["util_before"] is None else f"{r['util_before']:.3f}",
                "-" if r["util_after"] is None else f"{r['util_after']:.3f}",
                f"{r['rss_before_cut'] / 2**20:.1f} MiB", f"{r['rss_after_cut'] / 2**20:.1f} MiB",
                fmt_rate(r["after"]["stats_per_s"]),
                "-" if r["after"]["hit_rate"] is None else f"{r['after']['hit_rate']:.3f}",
                "-" if r.get("after_new", {}).get("hit_rate") is None else f"{r['after_new']['hit_rate']:.3f}",
                str(r["moves"]), str(r["kicks"])]
        lines.append("  " + "".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(vals, widths))))
    lines.append(f"  cut: {rec[0]['cut_method']}")
    if not args.reclaim_unpinned:
        lines.append("  pinned at the cut (the default): a running system's kernel still holds the files the workload "
                     "touched; those objects are the hot set, scattered over the slabs, and no policy may evict them. "
                     "--reclaim-unpinned drops the kernel's hold first (every object unused: whole slabs of untouched "
                     "files are then as easy to empty from an LRU's cold end)")
    lines.append("  evicted, pages freed, moves, kernel drops: counter deltas from the cut until the cache settled "
                 "(no change for 1 s); hit rate after: daemon lookups answered from the cache during Zipf run 2 (the replay); "
                 "new draw: the same during Zipf run 3")
    for r in rec:
        if disturbed(r):
            lines.append(f"  WARNING {r['policy']}: {'; '.join(disturbed(r))}: the kernel let go of entries mid-run "
                         f"(memory pressure or another process's drop_caches) in all {r.get('attempt', 1)} attempts; "
                         f"compare this row with care")
        elif r.get("attempt", 1) > 1:
            lines.append(f"  {r['policy']}: attempt {r['attempt']} (the earlier ones were disturbed by the kernel letting go mid-run)")
    for r in rec:
        b = r["before"]
        hr = "-" if b["hit_rate"] is None else f"{b['hit_rate']:.3f}"
        held = r.get("kernel_held_before")
        lines.append(f"  {r['policy']}: before the cut {fmt_rate(b['stats_per_s'])} stats/s, hit rate {hr} "
                     f"({b['lookups']} lookups), {'-' if held is None else held} inodes held by the kernel at the cut, "
                     f"{r['objects_before']} objects; after: {r['after']['lookups']} lookups, "
                     f"pages {r['pages_after']} -> {r['pages_end']}; "
                     + (f"pages back (<= {r['cut_low_watermark_pages']}) within {r['cut_pages_back_s']:.1f} s "
                        f"(100 ms stats reads), " if r.get("cut_pages_back_s") is not None
                        else f"pages not back to {r['cut_low_watermark_pages']} (lowest read {r.get('cut_pages_min_polled')}), "
                        if r.get("cut_low_watermark_pages") is not None else "")
                     + f"the cut settled in {r['settle_s']:.1f} s"
                     + (f"; new draw: {fmt_rate(r['after_new']['stats_per_s'])} stats/s, {r['after_new']['lookups']} lookups, "
                        f"{r['evicted_during_new']} objects evicted while it ran, pages -> {r['pages_end_new']}"
                        if r.get("after_new") else ""))
    lines += rl.table(rec)
    return "\n".join(lines)
