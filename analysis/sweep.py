#!/usr/bin/python3
"""Run a grid of byzgrid scenarios and collect their final metrics into one CSV and a Markdown table.

A grid file (INI) names a base scenario, the axes to sweep (scenario keys) with their values, and overrides
that apply when an axis takes a value:

    [sweep]
    scenario = matrix-a9a.ini                 ; relative to this file
    axes = method.name, attack.name, aggregator.name
    rows = method.name                        ; table rows (the other axes become column groups)
    cols = attack.name

    [values]
    method.name = byz-ef21-sgdm, mom-sgd
    attack.name = none, ipm
    aggregator.name = cm, cwtm, rfa

    [when method.name = mom-sgd]
    compressor.name = identity

Every cell is one `byzgrid run BASE --set axis=value ... --out OUT/<cell>`; its summary.json gives the row of
results.csv. A failed cell is recorded with its error line, never dropped. Standard library only.
"""
import argparse
import concurrent.futures
import configparser
import csv
import itertools
import json
import math
import os
import subprocess
import sys
import time


def die(msg):
    print(f"sweep.py: {msg}", file=sys.stderr)
    sys.exit(2)


def parse_grid(path):
    cp = configparser.ConfigParser(inline_comment_prefixes=(";", "#"))
    cp.optionxform = str
    try:
        with open(path) as f:
            cp.read_file(f)
    except OSError as e:
        die(f"{path}: {e.strerror}")
    except configparser.Error as e:
        die(f"{path}: {e}")
    if "sweep" not in cp or "values" not in cp:
        die(f"{path}: needs [sweep] and [values] sections")
    base = cp["sweep"].get("scenario")
    if not base:
        die(f"{path}: [sweep] scenario = is missing")
    base = os.path.join(os.path.dirname(os.path.abspath(path)), base)
    axes = [a.strip() for a in cp["sweep"].get("axes", "").split(",") if a.strip()]
    if not axes:
        die(f"{path}: [sweep] axes = is empty")
    values = {}
    for a in axes:
        if a not in cp["values"]:
            die(f"{path}: axis {a} has no values in [values]")
        values[a] = [v.strip() for v in cp["values"][a].split(",") if v.strip()]
    when = []
    for sec in cp.sections():
        if sec.startswith("when "):
            cond = sec[5:]
            if "=" not in cond:
                die(f"{path}: [{sec}]: expected [when key = value]")
            k, v = (s.strip() for s in cond.split("=", 1))
            when.append((k, v, dict(cp[sec])))
    rows = cp["sweep"].get("rows", axes[0]).strip()
    cols = cp["sweep"].get("cols", axes[1] if len(axes) > 1 else axes[0]).strip()
    return base, axes, values, when, rows, cols


def cell_name(combo):
    return "_".join(v.replace("/", "-") for _, v in combo)


def run_cell(byzgrid, base, combo, when, out_root, driver, extra):
    sets = [f"{k}={v}" for k, v in combo]
    for k, v, over in when:
        if any(ck == k and cv == v for ck, cv in combo):
            sets += [f"{ok}={ov}" for ok, ov in over.items()]
    sets += extra
    out = os.path.join(out_root, cell_name(combo))
    cmd = [byzgrid, "run", base, "--out", out, "--quiet"]
    for s in sets:
        cmd += ["--set", s]
    if driver:
        cmd.append("--driver")
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.monotonic() - t0
    row = {k: v for k, v in combo}
    row["status"] = "ok" if p.returncode == 0 else f"exit {p.returncode}"
    row["error"] = "" if p.returncode == 0 else p.stderr.strip().splitlines()[-1] if p.stderr.strip() else ""
    row["wall_s"] = f"{wall:.2f}"
    row["overrides"] = " ".join(sets[len(combo):])
    try:
        with open(os.path.join(out, "summary.json")) as f:
            s = json.load(f)
        fin, tm = s["final"], s["time"]
        for k in ("test_acc", "test_loss", "train_loss", "bytes_up", "bytes_down", "dropped_inputs"):
            row[k] = fin.get(k)
        row["sim_time_s"] = tm.get("sim_time_s")
    except (OSError, ValueError, KeyError):
        pass
    return row


def fmt_acc(v):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    return f"{100 * float(v):.1f}"


def write_table(rows, axes, rows_axis, cols_axis, values, path, title):
    others = [a for a in axes if a not in (rows_axis, cols_axis)]
    lines = [f"# {title}", "", "Final test accuracy (%); — marks a failed or diverged cell (see results.csv).", ""]
    for combo in itertools.product(*[values[a] for a in others]) if others else [()]:
        fixed = dict(zip(others, combo))
        if fixed:
            lines.append("## " + ", ".join(f"{k} = {v}" for k, v in fixed.items()))
            lines.append("")
        lines.append("| " + rows_axis + " | " + " | ".join(values[cols_axis]) + " |")
        lines.append("|---" * (len(values[cols_axis]) + 1) + "|")
        for rv in values[rows_axis]:
            cells = []
            for cv in values[cols_axis]:
                hit = [r for r in rows if r[rows_axis] == rv and r[cols_axis] == cv
                       and all(r[k] == v for k, v in fixed.items())]
                cells.append(fmt_acc(hit[0].get("test_acc")) if hit and hit[0]["status"] == "ok" else "—")
            lines.append(f"| {rv} | " + " | ".join(cells) + " |")
        lines.append("")
    with open(path, "w") as f:
        f.write("\n".join(lines))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("grid", help="grid file (INI)")
    ap.add_argument("--byzgrid", default="build/byzgrid", help="the byzgrid binary (default build/byzgrid)")
    ap.add_argument("--out", default=None, help="output folder (default out/<grid name>)")
    ap.add_argument("--driver", action="store_true", help="in-process driver: no simulated time, faster")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="runs in parallel")
    ap.add_argument("--set", action="append", default=[], help="extra section.key=value for every cell")
    ap.add_argument("--table", default=None, help="also write the Markdown table here")
    a = ap.parse_args()
    if not os.access(a.byzgrid, os.X_OK):
        die(f"{a.byzgrid}: not an executable (build first, or pass --byzgrid)")
    base, axes, values, when, rows_axis, cols_axis = parse_grid(a.grid)
    name = os.path.splitext(os.path.basename(a.grid))[0]
    out = a.out or os.path.join("out", name)
    os.makedirs(out, exist_ok=True)
    combos = [list(zip(axes, c)) for c in itertools.product(*[values[x] for x in axes])]
    results = []
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, a.jobs)) as ex:
        futs = [ex.submit(run_cell, a.byzgrid, base, c, when, out, a.driver, a.set) for c in combos]
        for i, fu in enumerate(concurrent.futures.as_completed(futs), 1):
            r = fu.result()
            results.append(r)
            print(f"sweep: {i}/{len(combos)} {cell_name([(k, r[k]) for k in axes])}: {r['status']} "
                  f"test_acc {fmt_acc(r.get('test_acc'))} ({time.monotonic() - t0:.0f} s)", file=sys.stderr)
    order = {cell_name(c): i for i, c in enumerate(combos)}
    results.sort(key=lambda r: order[cell_name([(k, r[k]) for k in axes])])
    cols = axes + ["status", "test_acc", "test_loss", "train_loss", "bytes_up", "bytes_down", "sim_time_s",
                   "dropped_inputs", "wall_s", "overrides", "error"]
    tmp = os.path.join(out, "results.csv.tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        for r in results:
            w.writerow(r)
    os.replace(tmp, os.path.join(out, "results.csv"))
    table = a.table or os.path.join(out, "table.md")
    write_table(results, axes, rows_axis, cols_axis, values, table, f"{name}: final test accuracy")
    print(f"sweep: wrote {os.path.join(out, 'results.csv')} and {table}", file=sys.stderr)


if __name__ == "__main__":
    main()
