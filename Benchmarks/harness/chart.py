"""latest.svg: median slowdown per workload per contender, grouped bars on a log scale.

Written by hand (no plotting library): bars start at the bottom of the axis, a whisker
spans min–max over the rounds, the 1× line marks "as fast as the bare command", and
contenders that could not run are listed in the legend with the reason instead of
silently missing.
"""

import math
from xml.sax.saxutils import escape

PALETTE = {
    "magprov-record": "#1f77b4", "magprov-record-buffered": "#17becf", "strace": "#ff7f0e", "reprozip": "#2ca02c", "rr": "#7f7f7f",
    "magprov-replay": "#9467bd", "magprov-replay-taint": "#8c564b",
    "valgrind-none": "#e377c2", "valgrind-memcheck": "#d62728",
}


def _label(v: float) -> str:
    return "%.0f×" % v if v >= 10 else "%.1f×" % v


def svg(document) -> str:
    workloads = document["workloads"]
    contenders = document["contenders"]
    shown = [c for c in contenders if c["available"] and any(c["key"] in w["contenders"] for w in workloads)]
    missing = [c for c in contenders if not c["available"]]

    ratios = [w["contenders"][c["key"]]["ratio"] for w in workloads for c in shown
              if c["key"] in w["contenders"] and w["contenders"][c["key"]]["ratio"].get("n")]
    low = min([r["min"] for r in ratios] + [1.0])
    high = max([r["max"] for r in ratios] + [10.0])
    # Bottom of the axis: the largest 1-2-5 step at or below the smallest value, so that a
    # 0.96× strace run does not stretch the axis down to 0.1×.
    decade_low = 10 ** math.floor(math.log10(low))
    bottom = max(decade_low * step for step in (1, 2, 5) if decade_low * step <= low)
    top = 10 ** math.ceil(math.log10(high))

    width, left, right = 1000, 70, 20
    top_margin = 60
    plot_height = 320
    legend_lines = (len(shown) + 1) // 2 + len(missing)
    bottom_margin = 60 + 18 * legend_lines
    height = top_margin + plot_height + bottom_margin
    plot_width = width - left - right

    def y(v: float) -> float:
        v = max(v, bottom)
        return top_margin + plot_height * (1 - (math.log10(v) - math.log10(bottom)) /
                                           (math.log10(top) - math.log10(bottom)))

    parts = [
        '<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
        'font-family="Helvetica, Arial, sans-serif" font-size="12">' % (width, height, width, height),
        '<rect width="100%" height="100%" fill="white"/>',
        '<text x="%d" y="22" font-size="16" font-weight="bold">magprov: median slowdown against the bare '
        'command (log scale; whiskers: min–max over rounds)</text>' % left,
        '<text x="%d" y="42" fill="#555">%s · %s run · %s</text>' % (
            left, escape(document["date"]), escape(document["mode"]),
            escape("%s, %s cores" % (document["machine"]["cpu"], document["machine"]["cores"]))),
    ]
    # Grid lines at every power of ten and at 2× and 5× between them.
    decade = decade_low
    while decade <= top * 1.0001:
        for step in (1, 2, 5):
            v = decade * step
            if v < bottom * 0.9999:
                continue
            if v > top * 1.0001:
                break
            major = step == 1
            parts.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="%s" stroke-width="%s"/>' % (
                left, width - right, y(v), y(v), "#bbb" if major else "#eee", 1))
            if major or top / bottom <= 1000:
                parts.append('<text x="%d" y="%.1f" text-anchor="end" fill="#333">%s</text>' % (
                    left - 6, y(v) + 4, "%g×" % v))
        decade *= 10
    parts.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="black" stroke-width="1.5"/>' % (
        left, width - right, y(1), y(1)))

    group = plot_width / max(1, len(workloads))
    bar = group * 0.8 / max(1, len(shown))
    for i, w in enumerate(workloads):
        x0 = left + i * group + group * 0.1
        for j, c in enumerate(shown):
            entry = w["contenders"].get(c["key"])
            x = x0 + j * bar
            if entry and not entry["ratio"].get("n"):
                parts.append('<text x="%.1f" y="%.1f" font-size="9" text-anchor="middle" fill="#d00" '
                             'transform="rotate(-90 %.1f %.1f)">%s</text>' % (
                                 x + bar * 0.46, y(bottom) - 20, x + bar * 0.46, y(bottom) - 20,
                                 "timed out" if "timed out" in entry.get("cell_text", "") else
                                 "memory cap" if "memory" in entry.get("cell_text", "") else "failed"))
                continue
            if not entry:
                continue
            r = entry["ratio"]
            color = PALETTE.get(c["key"], "#17becf")
            parts.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s">'
                         '<title>%s, %s: %s median</title></rect>' % (
                             x, y(r["median"]), bar * 0.92, y(bottom) - y(r["median"]), color,
                             escape(w["title"]), escape(c["label"]), _label(r["median"])))
            if r["n"] > 1:
                cx = x + bar * 0.46
                parts.append('<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="black"/>' % (
                    cx, cx, y(r["min"]), y(r["max"])))
            parts.append('<text x="%.1f" y="%.1f" font-size="9" text-anchor="middle">%s</text>' % (
                x + bar * 0.46, y(max(r["median"], r["max"])) - 3, _label(r["median"])))
        parts.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>' % (
            left + (i + 0.5) * group, top_margin + plot_height + 18, escape(w["name"])))

    # Legend: the measured contenders in two columns, then one full line per contender
    # that could not run, with its reason.
    legend_top = top_margin + plot_height + 44
    for k, c in enumerate(shown):
        lx = left + (k % 2) * (plot_width / 2)
        ly = legend_top + (k // 2) * 18
        parts.append('<rect x="%.1f" y="%d" width="12" height="12" fill="%s"/>' % (
            lx, ly - 10, PALETTE.get(c["key"], "#17becf")))
        parts.append('<text x="%.1f" y="%d">%s</text>' % (lx + 18, ly, escape(c["label"])))
    ly = legend_top + ((len(shown) + 1) // 2) * 18
    for c in missing:
        reason = c["reason"] if len(c["reason"]) <= 140 else c["reason"][:139] + "…"
        parts.append('<text x="%d" y="%d" fill="#777">not shown: %s<title>%s</title></text>' % (
            left, ly, escape(reason), escape(c["reason"])))
        ly += 18
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
