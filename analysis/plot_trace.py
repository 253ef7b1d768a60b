#!/usr/bin/env python3
"""Plot byzgrid learning curves from one or more trace.csv files into a single PNG.

Six panels (2 x 3): test accuracy (top row) and loss (bottom row; test solid, train dashed where the
training set was evaluated) against round, simulated seconds and total bytes (bytes_up + bytes_down); eight
(2 x 4) when a trace has energy (the energy_j column of simulated runs): the fourth column is against Joules.
Reads CSV with the standard library only; matplotlib runs headless (Agg).

Usage: plot_trace.py TRACE.csv [TRACE2.csv ...] [-o out.png] [--labels a,b] [--log-loss]
Exit codes: 0 ok, 2 bad usage or unreadable/invalid trace (one line on stderr).
"""

import argparse
import csv
import math
import os
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


def default_labels(paths):
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


def plot(traces, labels, out, log_loss):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import EngFormatter, MaxNLocator
    from matplotlib.lines import Line2D

    xcols = [("round", "round"), ("sim_time_s", "simulated time (s)"),
             ("bytes_total", "total bytes sent (up + down)")]
    if any(any(math.isfinite(v) for v in tr.get("energy_j", [])) for tr in traces):
        xcols.append(("energy_j", "energy (J, all hosts and links)"))
    fig, axes = plt.subplots(2, len(xcols), figsize=(5 * len(xcols), 8.5), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["C0"])
    any_train = False

    for t_i, (tr, lab) in enumerate(zip(traces, labels)):
        color = colors[t_i % len(colors)]
        mk = dict(marker="o", markersize=3) if len(tr["round"]) <= 40 else {}  # dots only when sparse
        for j, (xc, _) in enumerate(xcols):
            if xc not in tr:
                continue
            xs = tr[xc]
            ax = axes[0][j]
            x, y = finite_xy(xs, tr["test_acc"])
            ax.plot(x, y, color=color, linestyle="-", label=lab, **mk)
            if "train_acc" in tr:
                x, y = finite_xy(xs, tr["train_acc"])
                if x:
                    any_train = True
                    ax.plot(x, y, color=color, linestyle="--", alpha=0.8, **mk)
            ax = axes[1][j]
            x, y = finite_xy(xs, tr["test_loss"])
            ax.plot(x, y, color=color, linestyle="-", label=lab, **mk)
            x, y = finite_xy(xs, tr["train_loss"])
            if x:
                any_train = True
                ax.plot(x, y, color=color, linestyle="--", alpha=0.8, **mk)

    for j, (xc, xlabel) in enumerate(xcols):
        for i, (ylabel, title) in enumerate([("accuracy", "Accuracy"), ("loss", "Loss")]):
            ax = axes[i][j]
            ax.set_title("%s vs %s" % (title, xlabel.split(" (")[0]))
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
            ax.grid(True, alpha=0.3)
            if xc == "round":
                ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            if xc == "bytes_total":
                ax.xaxis.set_major_formatter(EngFormatter(unit="B"))
            if xc == "energy_j":
                ax.xaxis.set_major_formatter(EngFormatter(unit="J"))
                ax.xaxis.set_major_locator(MaxNLocator(5))
            if i == 1 and log_loss:
                ax.set_yscale("log")

    # Legend: colour = run; line style = test (solid) / train (dashed).
    handles = [Line2D([], [], color=colors[k % len(colors)], label=l) for k, l in enumerate(labels)]
    handles.append(Line2D([], [], color="black", linestyle="-", label="test"))
    if any_train:
        handles.append(Line2D([], [], color="black", linestyle="--", label="train"))
    axes[0][0].legend(handles=handles, fontsize="small", loc="best")
    axes[1][0].legend(handles=handles, fontsize="small", loc="best")

    fig.suptitle("byzgrid traces: " + ", ".join(labels) if len(labels) <= 4
                 else "byzgrid traces (%d runs)" % len(labels))
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog=PROG,
        description="Plot test accuracy and loss (test, and train where present) of byzgrid trace.csv "
                    "files against round, simulated time, total bytes and (simulated runs) energy, as a 2x3 or 2x4 PNG.",
        epilog="Required columns: %s (optional: %s). Empty or 'nan' cells in the loss/accuracy "
               "columns are skipped." % (",".join(REQUIRED), ",".join(OPTIONAL)))
    ap.add_argument("traces", nargs="+", metavar="TRACE.csv", help="trace file(s) written by byzgrid")
    ap.add_argument("-o", "--out", metavar="OUT.png",
                    help="output PNG (default: plot.png next to the first trace)")
    ap.add_argument("--labels", metavar="A,B,...",
                    help="comma-separated legend labels, one per trace (default: the run folder names)")
    ap.add_argument("--log-loss", action="store_true", help="logarithmic y axis for the loss panels")
    args = ap.parse_args(argv)

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
        plot(traces, labels, out, args.log_loss)
    except OSError as e:
        fail("cannot write %s: %s" % (out, e.strerror or e))
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
