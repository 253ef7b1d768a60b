#!/usr/bin/env python3
"""Plot a parameter study (a sweep's results.csv: one row per run) as line plots, heatmaps or a Pareto view.

  line     a metric against one axis, one line per series, mean over seeds with a spread band
  heatmap  a metric over two axes (mean over seeds), shared colour scale across facets, annotated cells
  pareto   accuracy against simulated time and bytes, one point per cell, Pareto front per series

Reads CSV with the standard library only; matplotlib runs headless (Agg). See analysis/README.md.
Exit codes: 0 ok, 2 bad usage or unreadable/invalid input (one line on stderr).
"""

import argparse
import csv
import math
import os
import re
import sys

PROG = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "plot_study.py"

# Columns that number the repetitions of a cell: rows that differ only there are averaged.
REPEAT_COLS = ("seed", "run.seed")
MISSING = ("", "nan", "-nan", "na", "none", "null")
MAX_VALUE_TICKS = 12  # up to this many distinct axis values are ticked with their own strings

EPILOG = """\
columns read (extra columns are ignored, absent ones are only needed when named):
  axis columns   the ones you name (--x, --y, --series, --facet, --where); any column named like a scenario key
                 (section.key, e.g. platform.worker_bw_up) is an axis: rows of one plotted point must agree on
                 every axis not named (else the error says which one varies; pick one with --where)
  seed, run.seed repetitions: averaged (and --average-over COL adds more)
  status         rows whose status is missing, incomplete or stale (a sweep's runs not done yet) are left out;
                 other rows whose status is not 'ok' are counted as failed and carry no value (optional column)
  the metric     any numeric column (test_acc, time_to_target_s, test_acc@300s, ...); empty or nan cells are
                 'no value' (e.g. a target not reached); bytes_total = bytes_up + bytes_down

examples:
  %(prog)s line study/results.csv --metric time_to_target_s --x platform.worker_bw_up \\
      --series method.name --facet attack.name
  %(prog)s heatmap study/results.csv --metric test_acc@300s --x platform.worker_bw_up --y method.name \\
      --facet attack.name
  %(prog)s pareto study/results.csv --metric test_acc --series method.name --where attack.name=none
""" % {"prog": PROG}


class StudyError(Exception):
    pass


def fail(msg):
    sys.stderr.write("%s: error: %s\n" % (PROG, msg))
    sys.exit(2)


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse would print the usage first)
        fail(message)


# ---------------------------------------------------------------------------------------------------------------
# Values with SI units (bandwidths such as 0.5Mbps, 100Mbps, 1MBps; also s, B, f)

_NUM = re.compile(r"^\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*([A-Za-z/%]*)\s*$")
_PREFIX = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15,
           "m": 1e-3, "u": 1e-6, "n": 1e-9,
           "Ki": 2.0 ** 10, "Mi": 2.0 ** 20, "Gi": 2.0 ** 30, "Ti": 2.0 ** 40}
# base unit -> (dimension, factor to the dimension's unit): bandwidths in bit/s, sizes in bytes, times in s
_BASE = {"bps": ("bandwidth", 1.0), "bit/s": ("bandwidth", 1.0), "b/s": ("bandwidth", 1.0),
         "Bps": ("bandwidth", 8.0), "B/s": ("bandwidth", 8.0),
         "s": ("time", 1.0), "B": ("size", 1.0), "f": ("speed", 1.0), "flops": ("speed", 1.0)}
DIM_UNIT = {"bandwidth": "bit/s", "time": "s", "size": "B", "speed": "flop/s", None: ""}


def parse_quantity(text):
    """'0.5Mbps' -> (5e5, 'bandwidth'); '1MBps' -> (8e6, 'bandwidth'); '3' -> (3.0, None); else None."""
    m = _NUM.match(text or "")
    if not m:
        return None
    value, unit = float(m.group(1)), m.group(2)
    if not math.isfinite(value):
        return None
    if unit == "":
        return value, None
    for base in sorted(_BASE, key=len, reverse=True):
        if unit.endswith(base) and unit[:-len(base)] in _PREFIX:
            dim, factor = _BASE[base]
            return value * _PREFIX[unit[:-len(base)]] * factor, dim
    return None


class Axis:
    """The ordered values of one column: numeric (plain numbers or one SI dimension) or categorical."""

    def __init__(self, name, values):
        self.name = name
        self.labels = []  # distinct strings, in order of first appearance
        for v in values:
            if v not in self.labels:
                self.labels.append(v)
        parsed = [parse_quantity(v) for v in self.labels]
        dims = {p[1] for p in parsed if p is not None}
        self.numeric = bool(parsed) and all(p is not None for p in parsed) and len(dims) == 1
        self.dim = dims.pop() if self.numeric else None
        if self.numeric:
            self.pos = {lab: p[0] for lab, p in zip(self.labels, parsed)}
            self.labels.sort(key=lambda lab: self.pos[lab])
        else:
            self.pos = {lab: float(i) for i, lab in enumerate(self.labels)}

    def auto_log(self):
        return self.numeric and self.dim == "bandwidth" and min(self.pos.values()) > 0


# ---------------------------------------------------------------------------------------------------------------
# results.csv

class Results:
    def __init__(self, path):
        if not os.path.exists(path):
            raise StudyError("%s: no such file" % path)
        if os.path.isdir(path):
            raise StudyError("%s: is a directory, expected a results.csv file" % path)
        try:
            f = open(path, newline="", encoding="utf-8-sig")
        except OSError as e:
            raise StudyError("%s: cannot open: %s" % (path, e.strerror or e))
        self.path = path
        with f:
            reader = csv.reader(f)
            try:
                header = next(reader, None)
                if header is None or not any(h.strip() for h in header):
                    raise StudyError("%s: empty file (no header line)" % path)
                self.header = [h.strip() for h in header]
                self.rows = []  # (line number, {column: stripped string})
                for row in reader:
                    if not row or all(not x.strip() for x in row):
                        continue
                    self.rows.append((reader.line_num,
                                      {c: (row[i].strip() if i < len(row) else "")
                                       for i, c in enumerate(self.header)}))
            except csv.Error as e:
                raise StudyError("%s:%d: bad CSV: %s" % (path, reader.line_num, e))
        if not self.rows:
            raise StudyError("%s: no data rows (header only)" % path)
        # A sweep's runs not done (yet): no result at all, so neither a value nor a failure.
        self.not_run = sum(1 for _, r in self.rows if r.get("status", "") in NOT_RUN)
        self.rows = [(n, r) for n, r in self.rows if r.get("status", "") not in NOT_RUN]
        if not self.rows:
            raise StudyError("%s: no run is done yet (every row's status is %s)" % (path, " or ".join(NOT_RUN)))
        if "bytes_up" in self.header and "bytes_down" in self.header and "bytes_total" not in self.header:
            self.header.append("bytes_total")
            for _, r in self.rows:
                r["bytes_total"] = _sum_cells(r["bytes_up"], r["bytes_down"])

    def column(self, name, what):
        """Resolve a column name: exact, else the unique column ending in '.NAME' (worker_bw_up)."""
        if name in self.header:
            return name
        hits = [c for c in self.header if c.endswith("." + name)]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise StudyError("%s '%s' is ambiguous in %s: %s" % (what, name, self.path, ", ".join(hits)))
        shown = ", ".join(self.header[:40]) + (", ..." if len(self.header) > 40 else "")
        raise StudyError("%s: no column '%s' (%s); columns: %s" % (self.path, name, what, shown))

    def axis_columns(self):
        return [c for c in self.header if "." in c and "@" not in c and c not in REPEAT_COLS]


def _sum_cells(a, b):
    try:
        return repr(float(a) + float(b))
    except ValueError:
        return ""


NOT_RUN = ("missing", "incomplete", "stale")   # analysis/sweep.py's states of a run that has no result yet


def ok_row(r):
    return r.get("status", "ok") in ("ok", "")


def metric_value(res, lineno, r, col):
    """The float in a metric cell, or None when the cell is empty/nan (no value)."""
    t = r.get(col, "")
    if t.lower() in MISSING:
        return None
    try:
        v = float(t)
    except ValueError:
        raise StudyError("%s:%d: metric column '%s' is not numeric (value %r)" % (res.path, lineno, col, t))
    return v if math.isfinite(v) else None


def parse_where(res, items):
    """--where COL=VALUE (repeatable; several values for one column are alternatives)."""
    flt = {}
    for it in items or []:
        if "=" not in it:
            raise StudyError("--where '%s': expected COLUMN=VALUE" % it)
        c, v = it.split("=", 1)
        flt.setdefault(res.column(c.strip(), "--where column"), []).append(v.strip())
    return flt


def value_matches(cell, wanted):
    for w in wanted:
        if cell == w:
            return True
        a, b = parse_quantity(cell), parse_quantity(w)
        if a is not None and b is not None and a[1] == b[1] and math.isclose(a[0], b[0], rel_tol=1e-12):
            return True
    return False


def select(res, flt):
    rows = [(n, r) for n, r in res.rows if all(value_matches(r.get(c, ""), w) for c, w in flt.items())]
    if not rows:
        raise StudyError("%s: no rows match %s" % (
            res.path, " and ".join("%s=%s" % (c, "|".join(w)) for c, w in flt.items()) or "(all rows)"))
    return rows


class Stat:
    """The runs of one plotted point: values of the ok runs that have one, counts of runs and failures."""

    def __init__(self):
        self.values, self.runs, self.failed = [], 0, 0

    @property
    def n(self):
        return len(self.values)

    def mean(self):
        return sum(self.values) / len(self.values)

    def spread(self, band):
        m = self.mean()
        if band == "std":
            if len(self.values) < 2:
                return m, m
            s = math.sqrt(sum((v - m) ** 2 for v in self.values) / (len(self.values) - 1))
            return m - s, m + s
        return min(self.values), max(self.values)


def group(res, rows, keys, metric, averaged):
    """{tuple of key values: Stat}; checks that no other axis column varies inside a group."""
    others = [c for c in res.axis_columns() if c not in keys and c not in averaged]
    groups, seen = {}, {}
    for lineno, r in rows:
        k = tuple(r.get(c, "") for c in keys)
        for c in others:
            first = seen.setdefault((k, c), (r.get(c, ""), lineno))
            if first[0] != r.get(c, ""):
                raise StudyError(
                    "column '%s' varies within one plotted point (%r at line %d, %r at line %d); choose one "
                    "with --where %s=VALUE, plot it with --series/--facet, or average it with --average-over %s"
                    % (c, first[0], first[1], r.get(c, ""), lineno, c, c))
        st = groups.setdefault(k, Stat())
        st.runs += 1
        if not ok_row(r):
            st.failed += 1
            continue
        for m in (metric if isinstance(metric, (list, tuple)) else [metric]):
            v = metric_value(res, lineno, r, m)
            if v is None:
                break
        else:
            st.values.append(tuple(metric_value(res, lineno, r, m) for m in metric)
                             if isinstance(metric, (list, tuple)) else v)
    return groups


def check_numeric(res, rows, col):
    for lineno, r in rows:
        metric_value(res, lineno, r, col)


# ---------------------------------------------------------------------------------------------------------------
# Figures

def mpl():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def value_formatter(col):
    from matplotlib.ticker import EngFormatter
    low = col.lower()
    if low.startswith("bytes") or "bytes_" in low:
        return EngFormatter(unit="B")
    if low.startswith("energy"):
        return EngFormatter(unit="J")
    return None


def fmt_value(v, col):
    low = col.lower()
    if low.startswith("bytes") or "bytes_" in low or low.startswith("energy"):
        unit = "J" if low.startswith("energy") else "B"
        for scale, p in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
            if abs(v) >= scale:
                return "%.3g %s%s" % (v / scale, p, unit)
        return "%.3g %s" % (v, unit)
    if "acc" in low and 0 <= v <= 1:
        return "%.3f" % v
    return "%.3g" % v if abs(v) < 1e4 else "%.0f" % v


def set_value_axis(ax, axis, which, log):
    """Ticks of a study axis on x or y: its own strings when few, SI otherwise."""
    from matplotlib.ticker import EngFormatter, FixedLocator, FixedFormatter, NullLocator
    a = ax.xaxis if which == "x" else ax.yaxis
    if log:
        (ax.set_xscale if which == "x" else ax.set_yscale)("log")
    if len(axis.labels) <= MAX_VALUE_TICKS or not axis.numeric:
        a.set_major_locator(FixedLocator([axis.pos[l] for l in axis.labels]))
        a.set_major_formatter(FixedFormatter(axis.labels))
        a.set_minor_locator(NullLocator())
    else:
        a.set_major_formatter(EngFormatter(unit=DIM_UNIT[axis.dim]))


def layout(fig, title, handles, note, legend_title=None, right_in=0.0):
    """Title on top (tight_layout makes room for a suptitle), a figure legend and a note below the panels,
    right_in inches kept free on the right (a colour bar); nothing clipped."""
    import textwrap
    w, h = fig.get_size_inches()
    bottom_in = 0.1
    if title:
        fig.suptitle("\n".join(textwrap.wrap(title, max(30, int(w * 8.5)))), fontsize="large")
    if note:
        note = "\n".join(textwrap.wrap(note, int(w * 13)))
        fig.text(0.5, 0.08 / h, note, ha="center", va="bottom", fontsize="small", color="0.3")
        bottom_in += 0.2 * (note.count("\n") + 1)
    if handles:
        ncol = max(1, min(len(handles), int(w // 2.1)))
        nrows = -(-len(handles) // ncol) + (1 if legend_title else 0)
        fig.legend(handles=handles, loc="lower center", ncol=ncol, fontsize="small", frameon=False,
                   title=legend_title, title_fontsize="small", bbox_to_anchor=(0.5, bottom_in / h))
        bottom_in += 0.22 * nrows + 0.15
    fig.tight_layout(rect=(0, min(0.45, bottom_in / h), 1 - right_in / w, 1))


def facet_grid(plt, n, panel_w, panel_h, sharey=False, sharex=False, extra_h=1.4):
    ncols = min(n, 3)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(max(6.0, panel_w * ncols), panel_h * nrows + extra_h),
                             squeeze=False, sharey=sharey, sharex=sharex)
    flat = [ax for row in axes for ax in row]
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def series_styles(plt, names):
    colors = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["C0"])
    markers = "osD^v<>ph*"
    return {s: (colors[i % len(colors)], markers[i % len(markers)]) for i, s in enumerate(names)}


def opt_column(res, name, flag):
    return res.column(name, flag) if name else None


def common(res, args):
    """What every plot takes: the --where filter, its rows, --metric, --facet and --average-over columns."""
    flt = parse_where(res, args.where)
    return (flt, select(res, flt), res.column(args.metric, "--metric"), opt_column(res, args.facet, "--facet"),
            [res.column(c, "--average-over") for c in args.average_over or []])


def plot_line(res, args):
    plt = mpl()
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    import matplotlib.transforms as mtrans
    flt, rows, metric, fcol, averaged = common(res, args)
    xcol = res.column(args.x, "--x")
    scol = opt_column(res, args.series, "--series")
    check_numeric(res, rows, metric)
    keys = [c for c in (fcol, scol, xcol) if c]
    groups = group(res, rows, keys, metric, averaged)
    if not any(st.n for st in groups.values()):
        raise StudyError("%s: column '%s' has no value in the selected rows" % (res.path, metric))
    xaxis = Axis(xcol, [r.get(xcol, "") for _, r in rows])
    series = Axis(scol, [r.get(scol, "") for _, r in rows]).labels if scol else [None]
    facets = Axis(fcol, [r.get(fcol, "") for _, r in rows]).labels if fcol else [None]
    logx = xaxis.auto_log() if args.logx is None else args.logx
    if logx and (not xaxis.numeric or min(xaxis.pos.values()) <= 0):
        raise StudyError("--logx: axis '%s' has values that are not positive numbers" % xcol)
    styles = series_styles(plt, series)
    fig, axes = facet_grid(plt, len(facets), 5.0, 3.8, sharey=True, sharex=True)
    partial = nothing = False
    for ax, fv in zip(axes, facets):
        top = mtrans.blended_transform_factory(ax.transData, ax.transAxes)
        for s_i, sv in enumerate(series):
            color, marker = styles[sv]
            pts = []
            for xv in xaxis.labels:
                k = tuple(v for c, v in ((fcol, fv), (scol, sv), (xcol, xv)) if c)
                st = groups.get(k)
                if st is None:
                    continue
                if st.n == 0:
                    nothing = True
                    ax.plot([xaxis.pos[xv]], [0.97 - 0.04 * s_i], transform=top, marker="x", color=color, ms=7,
                            clip_on=False, ls="none")
                    continue
                lo, hi = st.spread(args.band) if args.band != "none" else (st.mean(), st.mean())
                pts.append((xaxis.pos[xv], st.mean(), lo, hi, st.n < st.runs))
            if not pts:
                continue
            xs = [p[0] for p in pts]
            ax.plot(xs, [p[1] for p in pts], color=color, lw=1.6)
            if args.band != "none":
                ax.fill_between(xs, [p[2] for p in pts], [p[3] for p in pts], color=color, alpha=0.18, lw=0)
            full = [p for p in pts if not p[4]]
            part = [p for p in pts if p[4]]
            partial = partial or bool(part)
            ax.plot([p[0] for p in full], [p[1] for p in full], ls="none", marker=marker, color=color, ms=5)
            ax.plot([p[0] for p in part], [p[1] for p in part], ls="none", marker=marker, ms=6,
                    markerfacecolor="white", markeredgecolor=color, markeredgewidth=1.5)
        set_value_axis(ax, xaxis, "x", logx)
        if len(xaxis.labels) > 5 and max(len(l) for l in xaxis.labels) > 5:
            ax.tick_params(axis="x", labelrotation=35)
            for t in ax.get_xticklabels():
                t.set_ha("right")
        ax.grid(True, alpha=0.3)
        ax.set_xlabel(args.xlabel or xcol + (" (log scale)" if logx else ""))
        if fv is not None:
            ax.set_title("%s = %s" % (fcol, fv), fontsize="medium")
        fm = value_formatter(metric)
        if fm is not None:
            ax.yaxis.set_major_formatter(fm)
        if args.logy:
            from matplotlib.ticker import FuncFormatter
            ax.set_yscale("log")
            if fm is None:  # 0.85, not 8.5 x 10^-1
                ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: "%g" % v))
                ax.yaxis.set_minor_formatter(FuncFormatter(  # minor labels at 2 and 5 only
                    lambda v, _: "%g" % v if v > 0 and round(v / 10 ** math.floor(math.log10(v))) in (2, 5) else ""))
    for ax in axes[::min(len(facets), 3)]:
        ax.set_ylabel(args.ylabel or metric)
    handles = [Line2D([], [], color=styles[s][0], marker=styles[s][1], label=s) for s in series if s is not None]
    if args.band != "none":
        handles.append(Patch(color="0.6", alpha=0.35,
                             label="min-max over seeds" if args.band == "minmax" else "mean ± std over seeds"))
    notes = ["points: mean over seeds"]
    if partial:
        notes.append("hollow marker: only some runs have a value (failed, or target not reached)")
    if nothing:
        notes.append("× at the top: no run has a value")
    title = args.title or "%s vs %s" % (metric, xcol) + (" by %s" % scol if scol else "") + (
        ", %s" % ", ".join("%s=%s" % (c, "|".join(v)) for c, v in flt.items()) if flt else "")
    layout(fig, title, handles, "; ".join(notes), legend_title=scol)
    return fig


def plot_heatmap(res, args):
    plt = mpl()
    import matplotlib.colors as mcolors
    flt, rows, metric, fcol, averaged = common(res, args)
    xcol = res.column(args.x, "--x")
    ycol = res.column(args.y, "--y")
    if xcol == ycol:
        raise StudyError("--x and --y are the same column '%s'" % xcol)
    check_numeric(res, rows, metric)
    keys = [c for c in (fcol, ycol, xcol) if c]
    groups = group(res, rows, keys, metric, averaged)
    means = [st.mean() for st in groups.values() if st.n]
    if not means:
        raise StudyError("%s: column '%s' has no value in the selected rows" % (res.path, metric))
    xaxis = Axis(xcol, [r.get(xcol, "") for _, r in rows])
    yaxis = Axis(ycol, [r.get(ycol, "") for _, r in rows])
    facets = Axis(fcol, [r.get(fcol, "") for _, r in rows]).labels if fcol else [None]
    vmin, vmax = (args.vmin if args.vmin is not None else min(means)), (
        args.vmax if args.vmax is not None else max(means))
    if vmin == vmax:
        vmin, vmax = vmin - 0.5, vmax + 0.5
    norm = mcolors.Normalize(vmin=vmin, vmax=vmax)
    cmap = plt.get_cmap(args.cmap)
    nx, ny = len(xaxis.labels), len(yaxis.labels)
    ylab_w = min(2.5, 0.3 + 0.075 * max(len(l) for l in yaxis.labels))
    pw = max(3.0, 0.85 * nx + ylab_w)
    ph = max(2.2, 0.55 * ny + 1.0)
    fig, axes = facet_grid(plt, len(facets), pw, ph, extra_h=1.3, sharey=True)
    fig.set_size_inches(fig.get_size_inches()[0] + 1.2, fig.get_size_inches()[1])
    ncols = min(len(facets), 3)
    target = "to_target" in metric
    marks = set()
    for a_i, (ax, fv) in enumerate(zip(axes, facets)):
        grid = [[math.nan] * nx for _ in range(ny)]
        for i, yv in enumerate(yaxis.labels):
            for j, xv in enumerate(xaxis.labels):
                k = tuple(v for c, v in ((fcol, fv), (ycol, yv), (xcol, xv)) if c)
                st = groups.get(k)
                if st is not None and st.n:
                    grid[i][j] = st.mean()
                    text = fmt_value(st.mean(), metric) + ("\n(%d/%d)" % (st.n, st.runs) if st.n < st.runs else "")
                    if st.n < st.runs:
                        marks.add("partial")
                    lum = sum(c * w for c, w in zip(cmap(norm(st.mean()))[:3], (0.299, 0.587, 0.114)))
                    ax.text(j, i, text, ha="center", va="center", fontsize="small",
                            color="black" if lum > 0.5 else "white")
                    continue
                if st is None:
                    text, mark = "no run", "none"
                elif st.failed == st.runs:
                    text, mark = "failed", "failed"
                else:
                    text, mark = ("not\nreached" if target else "no\nvalue"), "novalue"
                marks.add(mark)
                ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor="0.92", edgecolor="0.6",
                                           hatch="//", lw=0))
                ax.text(j, i, text, ha="center", va="center", fontsize="x-small", color="0.2",
                        bbox=dict(facecolor="0.92", edgecolor="none", pad=1))
        import numpy as np  # a matplotlib dependency
        im = ax.imshow(np.ma.masked_invalid(np.array(grid, dtype=float)), cmap=cmap, norm=norm,
                       aspect="auto", origin="lower" if yaxis.numeric else "upper", interpolation="nearest")
        ax.set_xticks(range(nx))
        ax.set_xticklabels(xaxis.labels, rotation=35 if max(len(l) for l in xaxis.labels) > 6 else 0,
                           ha="right" if max(len(l) for l in xaxis.labels) > 6 else "center")
        ax.set_yticks(range(ny))
        ax.set_yticklabels(yaxis.labels)
        ax.tick_params(axis="y", labelleft=(a_i % ncols == 0))
        ax.set_xlim(-0.5, nx - 0.5)
        # numbers grow upwards; words are read top-down in the file's order
        ax.set_ylim((-0.5, ny - 0.5) if yaxis.numeric else (ny - 0.5, -0.5))
        ax.set_xlabel(args.xlabel or xcol)
        if a_i % ncols == 0:
            ax.set_ylabel(args.ylabel or ycol)
        if fv is not None:
            ax.set_title("%s = %s" % (fcol, fv), fontsize="medium")
    notes = ["cells: mean over seeds; one colour scale for all panels"]
    if "partial" in marks:
        notes.append("(k/n): only k of n runs have a value")
    if "failed" in marks:
        notes.append("'failed': every run of the cell failed")
    if "novalue" in marks:
        notes.append("'not reached': no run reached the target" if target else "'no value': metric empty")
    if "none" in marks:
        notes.append("'no run': no row for the cell")
    title = args.title or "%s over %s × %s" % (metric, ycol, xcol) + (
        ", %s" % ", ".join("%s=%s" % (c, "|".join(v)) for c, v in flt.items()) if flt else "")
    layout(fig, title, None, "; ".join(notes), right_in=1.3)
    w = fig.get_size_inches()[0]
    y0 = min(ax.get_position().y0 for ax in axes)
    y1 = max(ax.get_position().y1 for ax in axes)
    cax = fig.add_axes([1 - 1.15 / w, y0, 0.18 / w, y1 - y0])
    cb = fig.colorbar(im, cax=cax)
    cb.set_label(metric)
    fm = value_formatter(metric)
    if fm is not None:
        cb.formatter = fm
        cb.update_ticks()
    return fig


def pareto_front(points, maximize_y):
    """Points (x, y, ...) not dominated by another (lower x and better y), sorted by x."""
    pts = sorted(points, key=lambda p: (p[0], -p[1] if maximize_y else p[1]))
    front, best = [], None
    for p in pts:
        if best is None or (p[1] > best if maximize_y else p[1] < best):
            front.append(p)
            best = p[1]
    return front


def plot_pareto(res, args):
    plt = mpl()
    from matplotlib.lines import Line2D
    flt, rows, metric, fcol, averaged = common(res, args)
    xcols = [res.column(c.strip(), "--x") for c in (args.x or "sim_time_s,bytes_total").split(",") if c.strip()]
    scol = opt_column(res, args.series, "--series")
    for c in [metric] + xcols:
        check_numeric(res, rows, c)
    maximize = not args.minimize and "loss" not in metric
    cell_cols = [c for c in res.axis_columns() if c not in averaged]
    for c in (scol, fcol):
        if c and c not in cell_cols:
            cell_cols.append(c)
    keys = cell_cols
    varying = [c for c in cell_cols if c not in (scol, fcol) and len({r.get(c, "") for _, r in rows}) > 1]
    series = Axis(scol, [r.get(scol, "") for _, r in rows]).labels if scol else [None]
    facets = Axis(fcol, [r.get(fcol, "") for _, r in rows]).labels if fcol else [None]
    styles = series_styles(plt, series)
    if len(xcols) == 1:  # facets side by side
        fig, flat = facet_grid(plt, len(facets), 5.2, 4.0, sharey=True, extra_h=1.8)
        axes = [[ax] for ax in flat]
        first_col = {id(ax) for ax in flat[::min(len(facets), 3)]}
    else:  # one row per facet, one column per cost
        fig, axes = plt.subplots(len(facets), len(xcols), figsize=(5.2 * len(xcols), 4.0 * len(facets) + 1.8),
                                 squeeze=False, sharey=True)
        first_col = {id(row[0]) for row in axes}
    dropped = 0
    drew = False
    for xi, xcol in enumerate(xcols):
        groups = group(res, rows, keys, [xcol, metric], averaged)
        for fi, fv in enumerate(facets):
            ax = axes[fi][xi]
            allx, fronts = [], []
            for sv in series:
                color, marker = styles[sv]
                pts = []
                for k, st in groups.items():
                    kd = dict(zip(keys, k))
                    if (fcol and kd[fcol] != fv) or (scol and kd[scol] != sv):
                        continue
                    if not st.n:
                        dropped += 1
                        continue
                    mx = sum(v[0] for v in st.values) / st.n
                    my = sum(v[1] for v in st.values) / st.n
                    pts.append((mx, my, ", ".join(kd[c] for c in varying)))
                if not pts:
                    continue
                drew = True
                allx += [p[0] for p in pts]
                ax.plot([p[0] for p in pts], [p[1] for p in pts], ls="none", marker=marker, color=color,
                        alpha=0.35, ms=5)
                front = pareto_front(pts, maximize)
                ax.step([p[0] for p in front], [p[1] for p in front], where="post", color=color, lw=1.5)
                ax.plot([p[0] for p in front], [p[1] for p in front], ls="none", marker=marker, color=color,
                        ms=7, markeredgecolor="black", markeredgewidth=0.6)
                if not args.no_annotate and varying:
                    fronts.append((front, color))
            logx = args.logx
            if logx is None:
                logx = bool(allx) and min(allx) > 0 and max(allx) / min(allx) >= 30
            if logx:
                if allx and min(allx) <= 0:
                    raise StudyError("--logx: column '%s' has values that are not positive" % xcol)
                ax.set_xscale("log")
            ax.margins(x=0.08, y=0.1)
            if fronts:  # labels to the right of a point, to the left in the right quarter of the panel
                lo, hi = min(allx), max(allx)
                for front, color in fronts:
                    for p in front:
                        frac = ((math.log(p[0]) - math.log(lo)) / (math.log(hi) - math.log(lo)) if logx and hi > lo
                                else (p[0] - lo) / (hi - lo) if hi > lo else 0.0)
                        right = frac > 0.75
                        ax.annotate(p[2], (p[0], p[1]), textcoords="offset points", xytext=(-5 if right else 5, 4),
                                    ha="right" if right else "left", fontsize="x-small", color=color)
            fm = value_formatter(xcol)
            if fm is not None:
                ax.xaxis.set_major_formatter(fm)
            elif xcol.endswith("_s"):
                from matplotlib.ticker import EngFormatter
                ax.xaxis.set_major_formatter(EngFormatter(unit="s"))
            if not logx:
                from matplotlib.ticker import MaxNLocator
                ax.xaxis.set_major_locator(MaxNLocator(5))
            ax.set_xlabel(xcol + ("  (log scale)" if logx else "") + "  → lower is better")
            if id(ax) in first_col:
                ax.set_ylabel(args.ylabel or metric + ("  ↑ higher is better" if maximize else "  ↓ lower is better"))
            ax.grid(True, alpha=0.3)
            if fv is not None:
                ax.set_title("%s = %s" % (fcol, fv), fontsize="medium")
    if not drew:
        raise StudyError("%s: no cell has both '%s' and %s" % (res.path, metric, " / ".join(xcols)))
    handles = [Line2D([], [], color=styles[s][0], marker=styles[s][1], label=s) for s in series if s is not None]
    notes = ["one point per cell (mean over seeds); solid markers joined by a step line: the Pareto front"
             + (" of each series" if scol else "")]
    if varying and not args.no_annotate:
        notes.append("front points labelled with %s" % ", ".join(varying))
    if dropped:
        notes.append("%d cell(s) without a value not drawn" % dropped)
    title = args.title or "%s vs %s" % (metric, " and ".join(xcols)) + (
        ", %s" % ", ".join("%s=%s" % (c, "|".join(v)) for c, v in flt.items()) if flt else "")
    layout(fig, title, handles, "; ".join(notes), legend_title=scol)
    return fig


# ---------------------------------------------------------------------------------------------------------------

def default_out(res, args):
    parts = [args.kind, args.metric] + ([args.x] if getattr(args, "x", None) else []) + (
        [args.y] if getattr(args, "y", None) else [])
    name = re.sub(r"[^A-Za-z0-9@._-]+", "_", "_".join(parts)).strip("_") + ".png"
    return os.path.join(os.path.dirname(os.path.abspath(res.path)), name)


def build_parser():
    ap = Parser(prog=PROG, description="Plot a byzgrid study (a sweep's results.csv) as a line plot, a heatmap or "
                "a Pareto view, into one PNG.", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="kind", metavar="{line,heatmap,pareto}")
    sub.required = True

    def common(p, metric_default=None):
        p.add_argument("results", metavar="RESULTS.csv")
        p.add_argument("--metric", "-m", default=metric_default, required=metric_default is None,
                       help="numeric column to plot (e.g. test_acc, time_to_target_s, test_acc@300s)")
        p.add_argument("--facet", metavar="COL", help="one panel per value of COL")
        p.add_argument("--where", action="append", metavar="COL=VALUE",
                       help="keep rows with COL=VALUE (repeatable; repeated COL = alternatives)")
        p.add_argument("--average-over", action="append", metavar="COL",
                       help="also average over COL (like the seed column)")
        p.add_argument("-o", "--out", metavar="OUT.png", help="output PNG (default: next to RESULTS.csv)")
        p.add_argument("--title")
        p.add_argument("--xlabel")
        p.add_argument("--ylabel")

    def logx(p, what):
        g = p.add_mutually_exclusive_group()
        g.add_argument("--logx", dest="logx", action="store_true", default=None, help="log x axis " + what)
        g.add_argument("--linx", dest="logx", action="store_false", help="linear x axis")

    p = sub.add_parser("line", help="a metric against an axis, one line per series",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    common(p)
    p.add_argument("--x", "-x", required=True, metavar="COL", help="axis column on x")
    p.add_argument("--series", "-s", metavar="COL", help="one line per value of COL")
    p.add_argument("--band", choices=("minmax", "std", "none"), default="minmax",
                   help="spread band over seeds: min-max (default), mean ± sample std, none")
    logx(p, "(default: on when the axis is a bandwidth such as 0.5Mbps)")
    p.add_argument("--logy", action="store_true", help="log y axis")

    p = sub.add_parser("heatmap", help="a metric over two axes")
    common(p)
    p.add_argument("--x", "-x", required=True, metavar="COL", help="axis column across (columns of cells)")
    p.add_argument("--y", "-y", required=True, metavar="COL", help="axis column down (rows of cells)")
    p.add_argument("--cmap", default="viridis", help="matplotlib colour map (default viridis; *_r reverses)")
    p.add_argument("--vmin", type=float, help="colour scale minimum (default: the smallest cell)")
    p.add_argument("--vmax", type=float, help="colour scale maximum (default: the largest cell)")

    p = sub.add_parser("pareto", help="accuracy vs simulated time and bytes, Pareto front per series")
    common(p, metric_default="test_acc")
    p.add_argument("--x", "-x", metavar="COL[,COL]",
                   help="cost column(s), one panel each, lower is better (default: sim_time_s,bytes_total)")
    p.add_argument("--series", "-s", metavar="COL", help="one colour and front per value of COL")
    p.add_argument("--minimize", action="store_true", help="lower metric is better (default for *loss*)")
    p.add_argument("--no-annotate", action="store_true", help="do not label front points")
    logx(p, "(default: on when the values span a factor 30 or more)")
    return ap


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        res = Results(args.results)
        out = args.out or default_out(res, args)
        if not os.path.isdir(os.path.dirname(os.path.abspath(out))):
            raise StudyError("output folder %s does not exist" % os.path.dirname(os.path.abspath(out)))
        fig = {"line": plot_line, "heatmap": plot_heatmap, "pareto": plot_pareto}[args.kind](res, args)
        try:
            fig.savefig(out, dpi=110)
        except OSError as e:
            raise StudyError("cannot write %s: %s" % (out, e.strerror or e))
    except StudyError as e:
        fail(str(e))
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
