"""Hand-written SVG charts for mount-tests/bench.sh (standard library only).

Two charts:
- grouped_bars(): throughput ratios to native per workload, one bar per
  target, on a log scale with a line at 1.0 (= native).
- reclaim_chart(): the reclaim comparison, objects evicted against pages freed
  (one point per policy, with guide lines of constant objects per page) and
  slab utilization before and after the cut, per policy.
"""

import math
from xml.sax.saxutils import escape

FONT = "font-family='DejaVu Sans, Arial, Helvetica, sans-serif'"
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#7f7f7f"]


def _text(x, y, s, size=12, anchor="start", weight="normal", fill="#222", rotate=None, extra=""):
    transform = f" transform='rotate({rotate} {x:.1f} {y:.1f})'" if rotate is not None else ""
    return (f"<text x='{x:.1f}' y='{y:.1f}' {FONT} font-size='{size}' text-anchor='{anchor}' "
            f"font-weight='{weight}' fill='{fill}'{transform}{extra}>{escape(str(s))}</text>")


def _line(x1, y1, x2, y2, stroke="#999", width=1, dash=None):
    d = f" stroke-dasharray='{dash}'" if dash else ""
    return (f"<line x1='{x1:.1f}' y1='{y1:.1f}' x2='{x2:.1f}' y2='{y2:.1f}' "
            f"stroke='{stroke}' stroke-width='{width}'{d}/>")


def _rect(x, y, w, h, fill, stroke="none", title=None):
    t = f"<title>{escape(title)}</title>" if title else ""
    return (f"<rect x='{x:.1f}' y='{y:.1f}' width='{max(w, 0):.1f}' height='{max(h, 0):.1f}' "
            f"fill='{fill}' stroke='{stroke}'>{t}</rect>")


def _svg(width, height, body):
    return (f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
            f"viewBox='0 0 {width} {height}'>\n<rect width='100%' height='100%' fill='white'/>\n"
            + "\n".join(body) + "\n</svg>\n")


def _fmt_ratio(v):
    if v is None or not math.isfinite(v):
        return "n/a"
    if v >= 10:
        return f"{v:.0f}"
    if v >= 0.095:
        return f"{v:.2f}"
    return f"{v:.3f}"


def grouped_bars(path, title, subtitle, groups, series, values, ylabel="throughput / native (log scale)"):
    """groups: workload labels; series: target names; values[s][g]: ratio or None."""
    finite = [v for row in values for v in row if v is not None and v > 0 and math.isfinite(v)]
    lo = min(finite + [1.0]) if finite else 0.01
    hi = max(finite + [1.0]) if finite else 10
    dec_lo = math.floor(math.log10(lo))
    dec_hi = math.ceil(math.log10(hi))
    if dec_hi - dec_lo < 2:
        dec_hi = dec_lo + 2 if dec_hi <= dec_lo + 1 else dec_hi
    if dec_hi == 0:
        dec_hi = 1  # room above the native line
    width = max(760, 120 + len(groups) * (len(series) * 26 + 30))
    height = 460
    left, right, top, bottom = 80, 20, 70, 90
    pw, ph = width - left - right, height - top - bottom

    def y_of(v):
        t = (math.log10(v) - dec_lo) / (dec_hi - dec_lo)
        return top + ph * (1 - t)

    body = [_text(width / 2, 24, title, 16, "middle", "bold"),
            _text(width / 2, 44, subtitle, 11, "middle", fill="#555")]
    # grid and y labels
    for d in range(dec_lo, dec_hi + 1):
        y = y_of(10 ** d)
        body.append(_line(left, y, left + pw, y, "#ddd"))
        body.append(_text(left - 8, y + 4, _fmt_ratio(10 ** d), 11, "end"))
        if d < dec_hi:
            for m in (2, 5):
                ym = y_of(m * 10 ** d)
                body.append(_line(left, ym, left + pw, ym, "#f0f0f0"))
    body.append(_text(18, top + ph / 2, ylabel, 12, "middle", rotate=-90))
    body.append(_line(left, top, left, top + ph, "#444"))
    body.append(_line(left, top + ph, left + pw, top + ph, "#444"))
    # bars
    gw = pw / max(1, len(groups))
    bw = min(26, (gw - 18) / max(1, len(series)))
    base = top + ph
    for gi, g in enumerate(groups):
        gx = left + gi * gw + (gw - bw * len(series)) / 2
        for si, s in enumerate(series):
            v = values[si][gi]
            x = gx + si * bw
            color = PALETTE[si % len(PALETTE)]
            if v is None or not (v > 0) or not math.isfinite(v):
                body.append(_text(x + bw / 2, base - 4, "n/a", 9, "middle", fill="#888"))
                continue
            y = y_of(max(v, 10 ** dec_lo))
            body.append(_rect(x + 1, y, bw - 2, base - y, color, title=f"{s}, {g}: {_fmt_ratio(v)}"))
            body.append(_text(x + bw / 2, y - 4, _fmt_ratio(v), 9, "middle"))
        body.append(_text(left + gi * gw + gw / 2, base + 18, g, 11, "middle"))
    # native line
    y1 = y_of(1.0)
    body.append(_line(left, y1, left + pw, y1, "#c00", 2, "6,4"))
    body.append(_text(left + pw - 4, y1 - 6, "1.0 = native", 11, "end", fill="#c00"))
    # legend
    lx = left
    ly = height - 30
    for si, s in enumerate(series):
        body.append(_rect(lx, ly - 10, 14, 12, PALETTE[si % len(PALETTE)]))
        body.append(_text(lx + 20, ly, s, 12))
        lx += 30 + 8 * len(s) + 20
    with open(path, "w") as f:
        f.write(_svg(width, height, body))


def _nice_max(v):
    if v <= 0:
        return 1.0
    e = 10 ** math.floor(math.log10(v))
    for m in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if m * e >= v:
            return m * e
    return 10 * e


def _fmt_count(v):
    if v >= 1e6:
        return f"{v / 1e6:.1f}M"
    if v >= 1e4:
        return f"{v / 1e3:.0f}k"
    if v >= 1e3:
        return f"{v / 1e3:.1f}k"
    return f"{v:.0f}"


def reclaim_chart(path, title, subtitle, policies):
    """policies: list of dicts with name, pages_freed, objects_evicted,
    util_before, util_after, hit_rate_after, hit_rate_new (hit rates may be None)."""
    width, height = 1000, 500
    top, bottom = 100, 90
    body = [_text(width / 2, 24, title, 16, "middle", "bold"),
            _text(width / 2, 44, subtitle, 11, "middle", fill="#555")]

    # Left panel: objects evicted (y) against pages freed (x).
    lx, lw = 90, 400
    ph = height - top - bottom
    xmax = _nice_max(max([p["pages_freed"] for p in policies] + [1]) * 1.1)
    ymax = _nice_max(max([p["objects_evicted"] for p in policies] + [1]) * 1.1)

    def px(v):
        return lx + lw * v / xmax

    def py(v):
        return top + ph * (1 - v / ymax)

    body.append(_text(lx + lw / 2, top - 26, "objects evicted against pages freed", 13, "middle", "bold"))
    for i in range(6):
        xv, yv = xmax * i / 5, ymax * i / 5
        body.append(_line(px(xv), top, px(xv), top + ph, "#eee"))
        body.append(_line(lx, py(yv), lx + lw, py(yv), "#eee"))
        body.append(_text(px(xv), top + ph + 16, _fmt_count(xv), 10, "middle"))
        body.append(_text(lx - 6, py(yv) + 4, _fmt_count(yv), 10, "end"))
    body.append(_line(lx, top, lx, top + ph, "#444"))
    body.append(_line(lx, top + ph, lx + lw, top + ph, "#444"))
    body.append(_text(lx + lw / 2, top + ph + 36, "pages freed (4 KiB slabs)", 12, "middle"))
    body.append(_text(lx - 60, top + ph / 2, "objects evicted", 12, "middle", rotate=-90))
    # guide lines: constant objects per page
    body.append(f"<clipPath id='lp'><rect x='{lx}' y='{top}' width='{lw}' height='{ph}'/></clipPath>")
    for k in (1, 10, 100, 1000):
        x_end = min(xmax, ymax / k)
        body.append("<g clip-path='url(#lp)'>" + _line(px(0), py(0), px(x_end), py(k * x_end), "#bbb", 1, "3,3") + "</g>")
        if k * xmax >= ymax:
            tx, ty = px(ymax / k), py(ymax) + 12
        else:
            tx, ty = px(xmax) - 4, py(k * xmax) - 4
        if lx + 30 < tx <= lx + lw + 1:
            body.append(_text(tx - 4, ty + (6 if k * xmax >= ymax else 0), f"{k}/page", 9, "end", fill="#999"))
    for i, p in enumerate(policies):
        color = PALETTE[i % len(PALETTE)]
        x, y = px(p["pages_freed"]), py(p["objects_evicted"])
        body.append(f"<circle cx='{x:.1f}' cy='{y:.1f}' r='7' fill='{color}' stroke='#222'>"
                    f"<title>{escape(p['name'])}: {p['objects_evicted']} objects, {p['pages_freed']} pages</title></circle>")
        epp = p["objects_evicted"] / p["pages_freed"] if p["pages_freed"] else float("inf")
        label = f"{p['name']}: {_fmt_count(p['objects_evicted'])} obj / {_fmt_count(p['pages_freed'])} pages"
        label2 = (f"{epp:.0f} per page" if epp >= 100 else f"{epp:.1f} per page") if math.isfinite(epp) else "no page freed"
        anchor = "end" if x > lx + lw * 0.6 else "start"
        dx = -12 if anchor == "end" else 12
        ty = y - 4 + 0 * i
        if y < top + 24:
            ty = y + 20
        elif y > top + ph - 30:
            ty = y - 22
        body.append(_text(x + dx, ty, label, 11, anchor, "bold", fill=color))
        body.append(_text(x + dx, ty + 14, label2, 10, anchor, fill=color))

    # Right panel: utilization before / after, and hit rate after.
    rx, rw = 580, 370
    body.append(_text(rx + rw / 2, top - 26, "slab utilization, and hit rate after the cut", 13, "middle", "bold"))

    def ry(v):
        return top + ph * (1 - v)

    for i in range(6):
        v = i / 5
        body.append(_line(rx, ry(v), rx + rw, ry(v), "#eee"))
        body.append(_text(rx - 6, ry(v) + 4, f"{v:.1f}", 10, "end"))
    body.append(_line(rx, top, rx, top + ph, "#444"))
    body.append(_line(rx, top + ph, rx + rw, top + ph, "#444"))
    gw = rw / max(1, len(policies))
    metrics = [("util_before", "utilization before the cut", "#bbbbbb"),
               ("util_after", "utilization after (policy colour)", None),
               ("hit_rate_after", "hit rate after (replay of run 1)", "#444444"),
               ("hit_rate_new", "hit rate after (new draw)", "#999999")]
    bw = min(30, (gw - 20) / len(metrics))
    for i, p in enumerate(policies):
        color = PALETTE[i % len(PALETTE)]
        gx = rx + i * gw + (gw - bw * len(metrics)) / 2
        for j, (key, label, fixed) in enumerate(metrics):
            v = p.get(key)
            x = gx + j * bw
            if v is None:
                body.append(_text(x + bw / 2, top + ph - 4, "n/a", 9, "middle", fill="#888"))
                continue
            fill = fixed or color
            body.append(_rect(x + 1, ry(v), bw - 2, top + ph - ry(v), fill, title=f"{p['name']} {label}: {v:.3f}"))
            body.append(_text(x + bw / 2, ry(v) - 4, f"{v:.2f}", 9, "middle"))
        body.append(_text(rx + i * gw + gw / 2, top + ph + 16, p["name"], 11, "middle", "bold", fill=color))
    # legend, one line per metric under the right panel
    ly = top + ph + 36
    for key, label, fixed in metrics:
        body.append(_rect(rx, ly - 10, 14, 12, fixed or "#1f77b4"))
        body.append(_text(rx + 20, ly, label, 11))
        ly += 16
    with open(path, "w") as f:
        f.write(_svg(width, height, body))
