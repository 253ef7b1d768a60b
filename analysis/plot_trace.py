#!/usr/bin/env python3
"""Plot byzgrid learning curves from one or more trace.csv files into a single PNG.

Six panels (2 x 3): test accuracy (top row) and loss (bottom row; test solid, train dashed where the
training set was evaluated) against round, simulated seconds and total bytes (bytes_up + bytes_down); eight
(2 x 4) when a trace has energy (the energy_j column of simulated runs): the fourth column is against Joules.
Reads CSV with the standard library only; matplotlib runs headless (Agg).

Usage: plot_trace.py TRACE.csv [TRACE2.csv ...] [-o out.png] [--labels a,b] [--log-loss] [--logx]
                     [--logx-panels P,Q] [--xlim [PANEL=]MIN,MAX ...]
Exit codes: 0 ok, 2 bad usage or unreadable/invalid trace (one line on stderr).
"""

import argparse
import csv
import json
import math
import os
import re
import sys

REQUIRED = ["round", "sim_time_s", "bytes_up", "bytes_down", "train_loss", "test_loss", "test_acc"]
OPTIONAL = ["train_acc", "energy_j"]
# Columns that may legitimately be empty or "nan" on some rows.
MAY_BE_MISSING = {"train_loss", "train_acc", "test_loss", "test_acc", "energy_j", "sim_time_s"}  # nan: the driver

PROG = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "plot_trace.py"


class TraceError(Exception):
    pass


def fail(msg):
    sys.stderr.write("%s: error: %s\n" % (PROG, msg))
    sys.exit(2)


def parse_float(text, path, lineno, col):
    t = (text or "").strip()
    if t == "" or t.lower() in ("nan", "-nan", "na", "none", "null"):
        if col in MAY_BE_MISSING:
            return math.nan
        raise TraceError("%s:%d: column '%s' is empty; it must hold a number on every row"
                         % (path, lineno, col))
    try:
        return float(t)
    except ValueError:
        raise TraceError("%s:%d: column '%s' has non-numeric value %r" % (path, lineno, col, t))


def read_trace(path):
    """Return {column: [float, ...]} for the required (and present optional) columns."""
    if not os.path.exists(path):
        raise TraceError("%s: no such file" % path)
    if os.path.isdir(path):
        raise TraceError("%s: is a directory, expected a trace.csv file" % path)
    try:
        f = open(path, newline="", encoding="utf-8-sig")
    except OSError as e:
        raise TraceError("%s: cannot open: %s" % (path, e.strerror or e))
    with f:
        reader = csv.reader(f)
        try:
            header = next(reader, None)
        except csv.Error as e:
            raise TraceError("%s:1: bad CSV: %s" % (path, e))
        if header is None or not any(h.strip() for h in header):
            raise TraceError("%s: empty file (no header; expected columns %s)" % (path, ",".join(REQUIRED)))
        header = [h.strip() for h in header]
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            raise TraceError("%s: missing required column(s) %s (need %s)"
                             % (path, ",".join(missing), ",".join(REQUIRED)))
        cols = REQUIRED + [c for c in OPTIONAL if c in header]
        idx = {c: header.index(c) for c in cols}
        data = {c: [] for c in cols}
        try:
            for row in reader:
                lineno = reader.line_num
                if not row or all(not x.strip() for x in row):
                    continue
                for c in cols:
                    i = idx[c]
                    data[c].append(parse_float(row[i] if i < len(row) else "", path, lineno, c))
        except csv.Error as e:
            raise TraceError("%s:%d: bad CSV: %s" % (path, reader.line_num, e))
    if not data["round"]:
        raise TraceError("%s: empty trace (header but no data rows)" % path)
    data["bytes_total"] = [u + d for u, d in zip(data["bytes_up"], data["bytes_down"])]
    return data


def finite_xy(xs, ys):
    pts = [(x, y) for x, y in zip(xs, ys) if math.isfinite(x) and math.isfinite(y)]
    return [p[0] for p in pts], [p[1] for p in pts]


def folder_labels(paths):
    """Name runs by their folder (every run writes 'trace.csv'), adding parent folders until unique."""
    for depth in (0, 1, 2, 3):
        labels = []
        for p in paths:
            parts = [x for x in os.path.abspath(p).split(os.sep) if x]
            stem, dirs = os.path.splitext(parts[-1])[0], parts[:-1]
            if stem == "trace" and dirs:
                labels.append("/".join(dirs[-(depth + 1):]))
            else:
                labels.append("/".join((dirs[-depth:] if depth else []) + [stem]))
        if len(set(labels)) == len(labels):
            return labels
    return list(paths)


def run_name(path):
    """summary.json's "name" (run.name) next to a trace.csv, or None (no file, unreadable, no name)."""
    if os.path.basename(path) != "trace.csv":
        return None
    try:
        with open(os.path.join(os.path.dirname(os.path.abspath(path)), "summary.json"), encoding="utf-8") as f:
            name = json.load(f).get("name")
    except (OSError, ValueError, AttributeError):
        return None
    return name.strip() if isinstance(name, str) and name.strip() else None


def default_labels(paths):
    """Run names from summary.json; a name shared by several runs gets its folder added; folder names otherwise."""
    names = [run_name(p) for p in paths]
    folders = folder_labels(paths)
    labels = []
    for n, f in zip(names, folders):
        labels.append(f if n is None else ("%s (%s)" % (n, f) if names.count(n) > 1 else n))
    return labels if len(set(labels)) == len(labels) else folders


# Panels: the names --logx and --xlim use, their column, and their x label.
PANELS = [("round", "round", "round"), ("time", "sim_time_s", "simulated time (s)"),
          ("bytes", "bytes_total", "total bytes sent (up + down)"),
          ("energy", "energy_j", "energy (J, all hosts and links)")]
PANEL_COL = {name: col for name, col, _ in PANELS}
LOGX_DEFAULT = "time,bytes,energy"
_SI = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "m": 1e-3}


def parse_logx(text):
    cols = set()
    for name in (text or "").split(","):
        name = name.strip()
        if name not in PANEL_COL:
            raise TraceError("--logx '%s': expected a comma-separated list of %s"
                             % (text, ", ".join(PANEL_COL)))
        cols.add(PANEL_COL[name])
    return cols


def _si_number(t, opt):
    t = t.strip()
    if t == "":
        return None
    m = re.match(r"^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*([kKMGTPm]?)(?:s|B|J)?$", t)
    if not m or not math.isfinite(float(m.group(1))):
        raise TraceError("%s: '%s' is not a number (SI prefixes k, M, G, T and a unit s, B or J may follow)"
                         % (opt, t))
    return float(m.group(1)) * _SI[m.group(2)]


def parse_xlim(items):
    """--xlim [PANEL=]MIN,MAX (repeatable; PANEL defaults to time; either bound may be empty)."""
    lims = {}
    for it in items or []:
        opt = "--xlim '%s'" % it
        panel, rng = it.split("=", 1) if "=" in it else ("time", it)
        panel = panel.strip()
        if panel not in PANEL_COL:
            raise TraceError("%s: unknown panel '%s' (expected %s)" % (opt, panel, ", ".join(PANEL_COL)))
        if rng.count(",") != 1:
            raise TraceError("%s: expected MIN,MAX (either may be empty, e.g. ,300)" % opt)
        lo, hi = (_si_number(x, opt) for x in rng.split(","))
        if lo is None and hi is None:
            raise TraceError("%s: give at least one of MIN and MAX" % opt)
        if lo is not None and hi is not None and not lo < hi:
            raise TraceError("%s: MIN must be below MAX" % opt)
        lims[PANEL_COL[panel]] = (lo, hi)
    return lims


def _fit_y_to_window(ax, lo, hi):
    """Scale the y axis to the points whose x lies in [lo, hi] (None: open)."""
    ys = []
    for line in ax.get_lines():
        for x, y in zip(line.get_xdata(), line.get_ydata()):
            if (lo is None or x >= lo) and (hi is None or x <= hi) and math.isfinite(y):
                if ax.get_yscale() != "log" or y > 0:
                    ys.append(y)
    if not ys:
        return
    a, b = min(ys), max(ys)
    if ax.get_yscale() == "log":
        ax.set_ylim(a / 1.1, b * 1.1)
    else:
        pad = (b - a) * 0.05 or abs(a) * 0.05 or 0.05
        ax.set_ylim(a - pad, b + pad)


def make_figure(traces, labels, log_loss=False, logx=(), xlim=None):
    """The figure (2 x 3, or 2 x 4 with energy); logx: set of panel columns; xlim: {column: (min, max)}."""
    import textwrap
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import EngFormatter, LogLocator, MaxNLocator, NullFormatter
    from matplotlib.lines import Line2D

    xlim = xlim or {}
    has_energy = any(any(math.isfinite(v) for v in tr.get("energy_j", [])) for tr in traces)
    xcols = [(col, xlabel) for name, col, xlabel in PANELS if col != "energy_j" or has_energy]
    for col, (lo, hi) in xlim.items():
        if col in logx and lo is not None and lo <= 0:
            raise TraceError("--xlim: the %s panel is logarithmic (--logx), so MIN must be above 0"
                             % [n for n, c, _ in PANELS if c == col][0])
    fig, axes = plt.subplots(2, len(xcols), figsize=(5 * len(xcols), 8.5), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["C0"])
    any_train = False

    for t_i, tr in enumerate(traces):
        color = colors[t_i % len(colors)]
        mk = dict(marker="o", markersize=3) if len(tr["round"]) <= 40 else {}  # dots only when sparse
        for j, (xc, _) in enumerate(xcols):
            if xc not in tr:
                continue
            xs = tr[xc]
            rows = [("test_acc", "train_acc"), ("test_loss", "train_loss")]
            for i, (test_c, train_c) in enumerate(rows):
                ax = axes[i][j]
                x, y = finite_xy(xs, tr[test_c])
                ax.plot(x, y, color=color, linestyle="-", **mk)
                if train_c in tr:
                    x, y = finite_xy(xs, tr[train_c])
                    if x:
                        any_train = True
                        ax.plot(x, y, color=color, linestyle="--", alpha=0.8, **mk)

    for j, (xc, xlabel) in enumerate(xcols):
        for i, (ylabel, title) in enumerate([("accuracy", "Accuracy"), ("loss", "Loss")]):
            ax = axes[i][j]
            ax.set_title("%s vs %s" % (title, xlabel.split(" (")[0]))
            ax.set_ylabel(ylabel)
            ax.grid(True, alpha=0.3)
            if i == 1 and log_loss:
                ax.set_yscale("log")
            log = xc in logx
            ax.set_xlabel(xlabel + (", log scale" if log else ""))
            unit = {"bytes_total": "B", "energy_j": "J", "sim_time_s": "s" if log else None}.get(xc)
            if log:
                ax.set_xscale("log", nonpositive="mask")
                xs = [x for line in ax.get_lines() for x in line.get_xdata() if x > 0]
                decades = math.log10(max(xs) / min(xs)) if xs else 3
                # 1-2-5 ticks when the data span less than two decades, else one per decade
                ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0) if decades < 2 else (1.0,)))
                ax.xaxis.set_minor_formatter(NullFormatter())
            if unit:
                ax.xaxis.set_major_formatter(EngFormatter(unit=unit, places=None))
            if not log:
                # few ticks: SI labels such as "100 MB" must not run into each other
                ax.xaxis.set_major_locator(MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10], integer=(xc == "round"),
                                                       min_n_ticks=3))
            lo, hi = xlim.get(xc, (None, None))
            if xc in xlim:
                ax.set_xlim(left=lo, right=hi)
            if xc in xlim or log:  # a log axis does not draw points at 0: the y range follows what is drawn
                _fit_y_to_window(ax, lo if lo is not None or not log else 1e-300, hi)

    # One legend for the figure: a colour per run; the line styles are explained in the note below it.
    handles = [Line2D([], [], color=colors[k % len(colors)], lw=2, label=l) for k, l in enumerate(labels)]
    w, h = fig.get_size_inches()
    ncol = max(1, min(len(handles), int(w // 3)))
    nrows = -(-len(handles) // ncol)
    bottom_in = 0.1
    if any_train:
        fig.text(0.5, bottom_in / h, "solid: test set; dashed: training set", ha="center", va="bottom",
                 fontsize="small", color="0.3")
        bottom_in += 0.25
    fig.legend(handles=handles, loc="lower center", ncol=ncol, fontsize="small", frameon=False,
               bbox_to_anchor=(0.5, bottom_in / h))
    bottom_in += 0.22 * nrows + 0.2
    title = "byzgrid traces: " + ", ".join(labels) if len(labels) <= 4 else "byzgrid traces (%d runs)" % len(labels)
    fig.suptitle("\n".join(textwrap.wrap(title, int(w * 8.5))))
    fig.tight_layout(rect=(0, min(0.4, bottom_in / h), 1, 1))
    return fig


def plot(traces, labels, out, log_loss, logx=(), xlim=None):
    import matplotlib.pyplot as plt
    fig = make_figure(traces, labels, log_loss, logx, xlim)
    try:
        fig.savefig(out, dpi=110)
    finally:
        plt.close(fig)


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse would print the usage first)
        fail(message)


def main(argv=None):
    ap = Parser(
        prog=PROG,
        description="Plot test accuracy and loss (test, and train where present) of byzgrid trace.csv "
                    "files against round, simulated time, total bytes and (simulated runs) energy, as a 2x3 or 2x4 PNG.",
        epilog="Required columns: %s (optional: %s). Empty or 'nan' cells in the loss/accuracy "
               "columns are skipped. Panels (for --logx-panels and --xlim): %s."
               % (",".join(REQUIRED), ",".join(OPTIONAL), ", ".join(PANEL_COL)))
    ap.add_argument("traces", nargs="+", metavar="TRACE.csv", help="trace file(s) written by byzgrid")
    ap.add_argument("-o", "--out", metavar="OUT.png",
                    help="output PNG (default: plot.png next to the first trace)")
    ap.add_argument("--labels", metavar="A,B,...",
                    help="comma-separated legend labels, one per trace (default: the run name from summary.json "
                         "next to the trace, else the run folder name)")
    ap.add_argument("--log-loss", action="store_true", help="logarithmic y axis for the loss panels")
    ap.add_argument("--logx", action="store_true",
                    help="logarithmic x axis for the time, bytes and energy panels (points at 0 are not drawn)")
    ap.add_argument("--logx-panels", metavar="P,Q", help="logarithmic x axis for these panels instead (%s)"
                    % ", ".join(PANEL_COL))
    ap.add_argument("--xlim", action="append", metavar="[PANEL=]MIN,MAX",
                    help="x range of a panel (default panel: time, in simulated seconds), e.g. 0,300 or ,300 or "
                         "bytes=0,200M; the y axis follows the points inside; repeatable")
    args = ap.parse_args(argv)
    try:
        logx = parse_logx(args.logx_panels) if args.logx_panels else (
            parse_logx(LOGX_DEFAULT) if args.logx else set())
        xlim = parse_xlim(args.xlim)
    except TraceError as e:
        fail(str(e))

    if args.labels is not None:
        labels = [s.strip() for s in args.labels.split(",")]
        if len(labels) != len(args.traces):
            fail("--labels has %d label(s) but %d trace(s) were given"
                 % (len(labels), len(args.traces)))
    else:
        labels = default_labels(args.traces)

    out = args.out or os.path.join(os.path.dirname(os.path.abspath(args.traces[0])), "plot.png")
    outdir = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(outdir):
        fail("output folder %s does not exist" % outdir)

    try:
        traces = [read_trace(p) for p in args.traces]
    except TraceError as e:
        fail(str(e))

    try:
        plot(traces, labels, out, args.log_loss, logx, xlim)
    except TraceError as e:
        fail(str(e))
    except OSError as e:
        fail("cannot write %s: %s" % (out, e.strerror or e))
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
