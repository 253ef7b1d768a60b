#!/usr/bin/env python3
"""Draw a byzgrid events.csv (written with run.events = true) as a Gantt chart of a few rounds.

One lane per worker (and one for the server), time in simulated seconds on the x axis, one colour per kind of
activity. Reads CSV (and, if present, the summary.json next to it) with the standard library only; matplotlib
runs headless (Agg).

Usage: plot_timeline.py EVENTS.csv|RUN_FOLDER [--rounds 0-2] [-o out.png] [--title T] [--relative]
Exit codes: 0 ok, 2 bad usage or unreadable/invalid input (one line on stderr).
"""

import argparse
import csv
import json
import math
import os
import sys

HEADER = ["round", "worker", "kind", "start_s", "end_s", "bytes"]
KINDS = ["download", "compute", "upload", "broadcast", "aggregate"]
SERVER = -1
# Colour-blind-safe (Okabe-Ito) colours, one per kind; "wait" is drawn from the gaps, not read from the file.
COLORS = {"download": "#56B4E9", "compute": "#E69F00", "upload": "#009E73", "broadcast": "#0072B2",
          "aggregate": "#D55E00", "wait": "#DDDDDD"}
LABELS = {"download": "download (broadcast in transit to the worker)", "compute": "compute (local step)",
          "upload": "upload (message in transit to the server)", "broadcast": "server: prepare + post broadcast",
          "aggregate": "server: aggregate + step", "wait": "attacker waits for the honest messages"}

PROG = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "plot_timeline.py"

EPILOG = """\
what the rows mean (all times are simulated seconds, all sizes simulated bytes):
  download   the broadcast to one worker: start = the server posted it, end = the worker received it
  compute    a worker's local step (gradient, compression; for attackers the attack): its sg_actor_execute
  upload     a worker's message: start = the worker posted it, end = the server received it
  broadcast  server lane: start = the round starts, end = the broadcast is posted (downlink compression)
  aggregate  server lane: start = the last message arrived, end = aggregation and step done (the round ends)
  wait       (drawn, not in the file) an omniscient attacker between its download and its compute: it waits
             until every honest message of the round exists

Byzantine lanes are labelled in red when summary.json (next to events.csv) lists them. Activities shorter than
about 0.2 %% of the plotted span are widened to stay visible, so read exact times from the CSV.

examples:
  byzgrid run scenarios/quickstart.ini --set run.events=true --set run.rounds=5
  %(prog)s out/quickstart                          # rounds 0-2 -> out/quickstart/timeline.png
  %(prog)s out/quickstart/events.csv --rounds 3 -o round3.png
  %(prog)s out/quickstart --rounds 0-1,4 --relative  # time from the first plotted round's start
""" % {"prog": PROG}


class InputError(Exception):
    pass


def fail(msg):
    sys.stderr.write("%s: error: %s\n" % (PROG, msg))
    sys.exit(2)


def parse_rounds(spec):
    """'0-2' -> {0,1,2}; '0,3,5-6' -> {0,3,5,6}."""
    out = set()
    for part in spec.split(","):
        part = part.strip()
        try:
            if "-" in part:
                a, b = part.split("-", 1)
                a, b = int(a), int(b)
                if a > b:
                    raise ValueError
                out.update(range(a, b + 1))
            else:
                out.add(int(part))
        except ValueError:
            raise InputError("--rounds %r: expected rounds and ranges such as 0-2 or 0,3,5-6" % spec)
    if any(r < 0 for r in out):
        raise InputError("--rounds %r: rounds start at 0" % spec)
    return out


def read_events(path, wanted):
    """Rows of the wanted rounds (None: the first 3 rounds present) as dicts, and the rounds read."""
    if not os.path.exists(path):
        raise InputError("%s: no such file" % path)
    try:
        f = open(path, newline="", encoding="utf-8")
    except OSError as e:
        raise InputError("%s: cannot open: %s" % (path, e.strerror or e))
    rows = []
    with f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            raise InputError("%s: empty file (expected the header %s)" % (path, ",".join(HEADER)))
        if [h.strip() for h in header[:len(HEADER)]] != HEADER:
            raise InputError("%s:1: header %s, expected %s (an events.csv written with run.events = true)"
                             % (path, ",".join(header), ",".join(HEADER)))
        for row in reader:
            ln = reader.line_num
            if not row or all(not x.strip() for x in row):
                continue
            if len(row) < len(HEADER):
                break   # a last row cut short (a run killed while writing): keep the prefix
            try:
                r = {"round": int(row[0]), "worker": int(row[1]), "kind": row[2].strip(),
                     "start": float(row[3]), "end": float(row[4]), "bytes": float(row[5])}
            except ValueError:
                raise InputError("%s:%d: bad row %s" % (path, ln, ",".join(row)))
            if r["kind"] not in KINDS:
                raise InputError("%s:%d: unknown kind %r (known: %s)" % (path, ln, r["kind"], ", ".join(KINDS)))
            if wanted is None:
                if r["round"] >= 3:
                    continue
            elif r["round"] not in wanted:
                continue
            rows.append(r)
    if not rows:
        if wanted is None:
            raise InputError("%s: no events (the run stopped before its first round?)" % path)
        raise InputError("%s: no events in rounds %s" % (path, fmt_rounds(sorted(wanted))))
    return rows


def fmt_rounds(rs):
    """[0,1,2,5] -> '0-2, 5'."""
    parts, i = [], 0
    while i < len(rs):
        j = i
        while j + 1 < len(rs) and rs[j + 1] == rs[j] + 1:
            j += 1
        parts.append(str(rs[i]) if i == j else "%d-%d" % (rs[i], rs[j]))
        i = j + 1
    return ", ".join(parts)


def read_summary(folder):
    """(run name, {rank: host}, {Byzantine ranks}) from summary.json, or (None, {}, set()) without one."""
    path = os.path.join(folder, "summary.json")
    try:
        with open(path, encoding="utf-8") as f:
            s = json.load(f)
        workers = s.get("platform", {}).get("workers", [])
        hosts = {int(w["rank"]): str(w.get("host", "")) for w in workers}
        byz = {int(w["rank"]) for w in workers if w.get("byzantine")}
        return s.get("name"), hosts, byz
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None, {}, set()


def plot(rows, out, title, hosts, byz, relative):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    rounds = sorted({r["round"] for r in rows})
    workers = sorted({r["worker"] for r in rows if r["worker"] != SERVER} | set(hosts))
    has_server = any(r["worker"] == SERVER for r in rows)
    lanes = ([SERVER] if has_server else []) + workers   # server on top
    y_of = {w: i for i, w in enumerate(lanes)}
    t0 = min(r["start"] for r in rows) if relative else 0.0
    lo = min(r["start"] for r in rows) - t0
    hi = max(r["end"] for r in rows) - t0
    span = hi - lo if hi > lo else 1.0
    min_w = span * 0.002

    height = max(3.0, 0.24 * len(lanes) + 1.9)
    fig, ax = plt.subplots(figsize=(12, height))
    bars = {k: [] for k in KINDS + ["wait"]}
    for r in rows:
        s, e = r["start"] - t0, r["end"] - t0
        bars[r["kind"]].append((y_of[r["worker"]], s, max(e - s, min_w)))
    # Attackers' waits: the gap between a worker's download and its compute in the same round.
    dl = {(r["round"], r["worker"]): r["end"] for r in rows if r["kind"] == "download"}
    for r in rows:
        if r["kind"] == "compute":
            d = dl.get((r["round"], r["worker"]))
            if d is not None and r["start"] - d > 1e-12:
                bars["wait"].append((y_of[r["worker"]], d - t0, r["start"] - d))
    for kind in ["wait"] + KINDS:
        by_lane = {}
        for y, s, w in bars[kind]:
            by_lane.setdefault(y, []).append((s, w))
        for y, segs in by_lane.items():
            ax.broken_barh(segs, (y - 0.36, 0.72), facecolors=COLORS[kind],
                           edgecolors="#999999" if kind == "wait" else "none", linewidth=0.3,
                           hatch="///" if kind == "wait" else None)

    # Round boundaries: where each round's broadcast starts (else its first event), labelled on top.
    starts = {}
    for r in rows:
        if r["kind"] == "broadcast" or (r["round"] not in starts and r["kind"] == "download"):
            starts[r["round"]] = min(starts.get(r["round"], math.inf), r["start"] - t0)
    for rd in rounds:
        if rd in starts:
            ax.axvline(starts[rd], color="#555555", linestyle="--", linewidth=0.8)
            ax.annotate("round %d" % rd, xy=(starts[rd], 1.0), xycoords=("data", "axes fraction"),
                        xytext=(3, 2), textcoords="offset points", fontsize=8, color="#333333", va="bottom")

    labels = []
    for w in lanes:
        if w == SERVER:
            labels.append("server")
        else:
            h = hosts.get(w)
            labels.append("worker %d%s%s" % (w, " (%s)" % h if h and h != "w%d" % w else "",
                                             " Byz" if w in byz else ""))
    ax.set_yticks(range(len(lanes)))
    ax.set_yticklabels(labels, fontsize=8 if len(lanes) <= 40 else 6)
    for tick, w in zip(ax.get_yticklabels(), lanes):
        if w in byz:
            tick.set_color("#C00000")
    ax.set_ylim(len(lanes) - 0.5, -0.5)   # server and worker 0 on top
    ax.set_xlim(lo - 0.01 * span, hi + 0.01 * span)
    ax.ticklabel_format(axis="x", useOffset=False, style="plain")
    ax.set_xlabel("simulated time since round %d started (s)" % rounds[0] if relative else "simulated time (s)")
    ax.grid(True, axis="x", alpha=0.3)

    present = [k for k in KINDS + ["wait"] if bars[k]]
    handles = [Patch(facecolor=COLORS[k], edgecolor="#999999" if k == "wait" else "none",
                     hatch="///" if k == "wait" else None, label=LABELS[k]) for k in present]
    if byz:
        handles.append(Patch(facecolor="white", edgecolor="white", label="red lane label: Byzantine worker"))
    ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0,
              frameon=False)
    ax.set_title(title, fontsize=11, pad=14)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog=PROG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Draw a byzgrid events.csv (a run with run.events = true) as a Gantt chart: one lane per "
                    "worker plus the server, simulated seconds on the x axis, one colour per kind of activity "
                    "(download, compute, upload; the server's broadcast and aggregation).",
        epilog=EPILOG)
    ap.add_argument("events", metavar="EVENTS.csv|RUN_FOLDER",
                    help="events.csv, or the run folder holding it (byzgrid run ... --set run.events=true)")
    ap.add_argument("--rounds", metavar="SPEC",
                    help="rounds to draw: 0-2, 5, 0,3,7-8 (default: the first three, 0-2)")
    ap.add_argument("-o", "--out", metavar="OUT.png", help="output PNG (default: timeline.png next to events.csv)")
    ap.add_argument("--title", help="title (default: the run's name from summary.json, and the rounds drawn)")
    ap.add_argument("--relative", action="store_true",
                    help="time axis from the first drawn round's start instead of the run's start")
    args = ap.parse_args(argv)

    path = args.events
    if os.path.isdir(path):
        path = os.path.join(path, "events.csv")
    folder = os.path.dirname(os.path.abspath(path))
    out = args.out or os.path.join(folder, "timeline.png")
    if not os.path.isdir(os.path.dirname(os.path.abspath(out))):
        fail("output folder %s does not exist" % os.path.dirname(os.path.abspath(out)))
    try:
        wanted = parse_rounds(args.rounds) if args.rounds else None
        rows = read_events(path, wanted)
    except InputError as e:
        fail(str(e))
    name, hosts, byz = read_summary(folder)
    rounds = sorted({r["round"] for r in rows})
    title = args.title or "%s: round%s %s" % (name or os.path.basename(folder), "s" if len(rounds) > 1 else "",
                                               fmt_rounds(rounds))
    try:
        plot(rows, out, title, hosts, byz, args.relative)
    except OSError as e:
        fail("cannot write %s: %s" % (out, e.strerror or e))
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
