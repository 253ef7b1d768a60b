#!/usr/bin/python3
"""Run a grid of byzgrid scenarios (resumable), or emit it for GNU parallel or a Slurm job array, and collect the
runs' metrics into results.csv, results_by_cell.csv and a Markdown table.

A grid file (INI) names a base scenario, the axes to sweep (scenario keys) with their values, and overrides:

    [sweep]
    scenario = quickstart.ini                  ; relative to this file
    axes = method.name, platform.worker_bw_up + run.until_s, attack.name
    seeds = 1, 2, 3                            ; each cell once per seed (run.seed); also 1..3
    rows = method.name                         ; table rows (default: the first axis)
    cols = attack.name                         ; table columns (default: the second axis)

    [values]
    method.name = byz-ef21-sgdm, mom-sgd
    platform.worker_bw_up = 1Mbps, 10Mbps      ; zipped with run.until_s ("a + b" in axes):
    run.until_s = 1200, 300                    ;   1Mbps runs 1200 s, 10Mbps runs 300 s
    attack.name = none, ipm
    attack.hosts = "w0..w3, w5", w6            ; double quotes keep commas inside one value

    [set]                                      ; every cell
    run.target_acc = 0.84

    [when method.name = mom-sgd]               ; the cells where every condition holds
    compressor.name = identity
    [when method.name = byz-ef21-sgdm, attack.name = ipm]
    attack.eps = 0.2

Every run is `byzgrid run SCENARIO --out OUT/<run> --quiet --set key=value ...` started in the current folder
(so relative paths in values are relative to it, as for byzgrid's --set), its output in logs/<run>.log. A run is
done when its summary.json exists, is not interrupted and matches the run's configuration; re-running the sweep
skips done runs and runs the others. analysis/README.md describes everything. Standard library only.
"""
import argparse
import glob
import configparser
import csv
import hashlib
import json
import math
import os
import re
import shlex
import signal
import statistics
import subprocess
import sys
import time

PROG = "sweep.py"


def die(msg):
    print(f"{PROG}: {msg}", file=sys.stderr)
    sys.exit(2)


def note(msg):
    print(f"sweep: {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------------------------
# The grid file

def split_values(text, where):
    """Comma-separated values; a value in double quotes keeps its commas and spaces ("w0..w3, w5")."""
    out, cur, quoted, inq, i = [], "", False, False, 0
    text = text.replace("\n", " ")
    while i < len(text):
        c = text[i]
        if inq:
            if c == '"':
                inq = False
            else:
                cur += c
        elif c == '"':
            if cur.strip():
                die(f"{where}: a quote in the middle of a value ({text.strip()}); quote the whole value")
            cur, quoted, inq = "", True, True
        elif c == ",":
            out.append((cur, quoted))
            cur, quoted = "", False
        elif quoted:
            if not c.isspace():
                die(f"{where}: text after a closing quote ({text.strip()}); separate values with commas")
        else:
            cur += c
        i += 1
    if inq:
        die(f"{where}: a double quote is not closed ({text.strip()})")
    out.append((cur, quoted))
    vals = []
    for v, q in out:
        if q:
            vals.append(v)
        elif v.strip():
            vals.append(v.strip())
    return vals


def unquote(v):
    v = v.strip()
    return v[1:-1] if len(v) >= 2 and v[0] == '"' and v[-1] == '"' else v


def check_key(k, where):
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*", k):
        die(f"{where}: '{k}' is not a scenario key (section.key)")


def parse_seeds(text, where):
    seeds = []
    for item in split_values(text, where):
        m = re.fullmatch(r"(\d+)\s*\.\.\s*(\d+)", item)
        if m:
            a, b = int(m.group(1)), int(m.group(2))
            if b < a:
                die(f"{where}: empty seed range {item}")
            seeds += [str(s) for s in range(a, b + 1)]
        elif re.fullmatch(r"\d+", item):
            seeds.append(item)
        else:
            die(f"{where}: '{item}' is not a seed (a whole number, or a range like 1..5)")
    if len(set(seeds)) != len(seeds):
        die(f"{where}: a seed is listed twice")
    return seeds


class Grid:
    pass


def parse_grid(path):
    cp = configparser.ConfigParser(inline_comment_prefixes=(";", "#"), interpolation=None, strict=True)
    cp.optionxform = str
    try:
        with open(path) as f:
            cp.read_file(f)
    except OSError as e:
        die(f"{path}: {e.strerror}")
    except (configparser.Error, UnicodeDecodeError) as e:
        die(f"{path}: {str(e).splitlines()[0]}")
    if "sweep" not in cp:
        die(f"{path}: needs a [sweep] section")
    g = Grid()
    g.path = path
    g.name = os.path.splitext(os.path.basename(path))[0]
    sw = cp["sweep"]
    known = {"scenario", "axes", "seeds", "rows", "cols"}
    for k in sw:
        if k not in known:
            die(f"{path}: [sweep] {k}: unknown (known: {', '.join(sorted(known))})")
    base = sw.get("scenario", "").strip()
    if not base:
        die(f"{path}: [sweep] scenario = is missing")
    g.base = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(path)), base))
    if not os.path.isfile(g.base):
        die(f"{path}: [sweep] scenario: {g.base} is not a file")
    # axes: comma-separated; "a + b" is one zipped group (values that move together)
    g.groups = []
    for item in sw.get("axes", "").split(","):
        if not item.strip():
            continue
        keys = [k.strip() for k in item.split("+")]
        for k in keys:
            check_key(k, f"{path}: [sweep] axes")
        g.groups.append(keys)
    g.axes = [k for grp in g.groups for k in grp]
    if len(set(g.axes)) != len(g.axes):
        die(f"{path}: [sweep] axes: an axis is listed twice")
    g.seeds = parse_seeds(sw["seeds"], f"{path}: [sweep] seeds") if "seeds" in sw else []
    if g.seeds and "run.seed" in g.axes:
        die(f"{path}: run.seed is an axis and [sweep] seeds = is set: keep one")
    if not g.axes and not g.seeds:
        die(f"{path}: [sweep] axes = is empty (and no seeds =)")
    vals = cp["values"] if "values" in cp else {}
    for k in vals:
        if k not in g.axes:
            die(f"{path}: [values] {k} is not an axis (axes = {', '.join(g.axes)})")
    g.values = {}
    for a in g.axes:
        if a not in vals:
            die(f"{path}: axis {a} has no values in [values]")
        g.values[a] = split_values(vals[a], f"{path}: [values] {a}")
        if not g.values[a]:
            die(f"{path}: [values] {a} is empty")
        if len(set(g.values[a])) != len(g.values[a]):
            die(f"{path}: [values] {a}: a value is listed twice")
    for grp in g.groups:
        n = {len(g.values[k]) for k in grp}
        if len(n) > 1:
            die(f"{path}: zipped axes {' + '.join(grp)} need as many values each (they have "
                f"{', '.join(str(len(g.values[k])) for k in grp)})")
    g.fixed = []
    if "set" in cp:
        for k, v in cp["set"].items():
            check_key(k, f"{path}: [set]")
            g.fixed.append((k, unquote(v)))
    g.when = []
    cond_keys = g.axes + (["run.seed"] if g.seeds else [])
    for sec in cp.sections():
        if sec in ("sweep", "values", "set"):
            continue
        if not sec.startswith("when "):
            die(f"{path}: [{sec}]: unknown section (known: sweep, values, set, when ...)")
        conds = []
        # conditions: key = value, separated by commas outside double quotes
        for part in split_conditions(sec[5:], f"{path}: [{sec}]"):
            if "=" not in part:
                die(f"{path}: [{sec}]: expected [when key = value, key = value ...]")
            k, v = part.split("=", 1)
            k, v = k.strip(), unquote(v)
            if k not in cond_keys:
                die(f"{path}: [{sec}]: {k} is not an axis{' or run.seed' if g.seeds else ''}")
            allowed = g.seeds if k == "run.seed" else g.values[k]
            if v not in allowed:
                die(f"{path}: [{sec}]: {v} is not a value of {k} ({', '.join(allowed)})")
            conds.append((k, v))
        if not conds:
            die(f"{path}: [{sec}]: no condition")
        over = []
        for k, v in cp[sec].items():
            check_key(k, f"{path}: [{sec}]")
            over.append((k, unquote(v)))
        g.when.append((conds, over))
    g.rows = sw.get("rows", g.axes[0] if g.axes else "").strip()
    g.cols = sw.get("cols", g.axes[1] if len(g.axes) > 1 else g.rows).strip()
    for k, which in ((g.rows, "rows"), (g.cols, "cols")):
        if g.axes and k not in g.axes:
            die(f"{path}: [sweep] {which} = {k} is not an axis")
    return g


def split_conditions(text, where):
    parts, cur, inq = [], "", False
    for c in text:
        if c == '"':
            inq = not inq
        if c == "," and not inq:
            parts.append(cur)
            cur = ""
        else:
            cur += c
    if inq:
        die(f"{where}: a double quote is not closed")
    parts.append(cur)
    return [p for p in parts if p.strip()]


# ---------------------------------------------------------------------------------------------------------------
# Cells and runs

def short_names(axes):
    """An axis is named by its key without the section (worker_bw_up), a `name` key by its section (method.name:
    method), or in full where two such names would clash."""
    tail = [a.split(".", 1)[1] for a in axes]
    sec = [a.split(".", 1)[0] for a in axes]
    names = {}
    for a, t, s in zip(axes, tail, sec):
        if t == "name" and sec.count(s) == 1 and s not in tail:
            names[a] = s
        elif tail.count(t) == 1 and t not in sec:
            names[a] = t
        else:
            names[a] = a
    return names


def sanitize(v):
    if "/" in v:
        v = os.path.basename(v.rstrip("/")) or v
    s = re.sub(r"[^A-Za-z0-9._+-]+", "-", v).strip("-")
    s = re.sub(r"-{2,}", "-", s)
    return s or "empty"


def build_runs(g, extra, out):
    """The runs in grid order: every combination of the axis groups, times every seed."""
    combos = [[]]
    for grp in g.groups:
        combos = [c + [(k, g.values[k][i]) for k in grp] for c in combos for i in range(len(g.values[grp[0]]))]
    names = short_names(g.axes)
    cells = []
    for c in combos:
        nm = "__".join(f"{names[k]}={sanitize(v)}" for k, v in c)
        cells.append({"pairs": c, "name": nm})
    # unique names: the clashing ones get a short hash of their exact values; long names are cut with one too
    seen = {}
    for cl in cells:
        seen.setdefault(cl["name"], []).append(cl)
    for nm, group in seen.items():
        for cl in group:
            h = hashlib.sha1(repr(cl["pairs"]).encode()).hexdigest()[:8]
            if len(group) > 1:
                cl["name"] = f"{nm}~{h}" if nm else h
            if len(cl["name"]) > 150:
                cl["name"] = cl["name"][:140] + "~" + h
    runs = []
    for cl in cells:
        for s in (g.seeds or [None]):
            r = {"cell": cl["name"], "pairs": cl["pairs"], "seed": s}
            name = cl["name"]
            if s is not None:
                name = f"{name}__seed={s}" if name else f"seed={s}"
            r["name"] = name or "base"
            sets = list(g.fixed) + list(cl["pairs"])
            if s is not None:
                sets.append(("run.seed", s))
            have = dict(cl["pairs"])
            if s is not None:
                have["run.seed"] = s
            for conds, over in g.when:
                if all(have.get(k) == v for k, v in conds):
                    sets += over
            sets += extra
            r["sets"] = sets
            r["overrides"] = " ".join(f"{k}={v}" for k, v in sets
                                      if (k, v) not in cl["pairs"] and not (k == "run.seed" and v == s))
            r["dir"] = os.path.join(out, r["name"])
            r["log"] = os.path.join(out, "logs", r["name"] + ".log")
            runs.append(r)
    return runs


def command(a, g, r):
    cmd = [a.byzgrid, "run", g.base, "--out", r["dir"], "--quiet"]
    for k, v in r["sets"]:
        cmd += ["--set", f"{k}={v}"]
    if a.driver:
        cmd.append("--driver")
    return cmd


def job_line(a, g, r):
    """One shell line: runs where the sweep runs (a shared filesystem), the run's output in its log file."""
    return (f"cd {shlex.quote(os.getcwd())} && " + " ".join(shlex.quote(x) for x in command(a, g, r))
            + f" > {shlex.quote(r['log'])} 2>&1")


# ---------------------------------------------------------------------------------------------------------------
# Is a run done? Its summary.json against its configuration

TRUE = {"true", "yes", "on", "1"}
FALSE = {"false", "no", "off", "0"}


def same_value(s, v):
    """Does the --set text s give the value v that summary.json's config holds?"""
    s = s.strip()
    if v is None:
        return s.lower() in ("", "null", "none", "nan")
    if isinstance(v, bool):
        return s.lower() in (TRUE if v else FALSE)
    if isinstance(v, (int, float)):
        try:
            x = float(s)
        except ValueError:
            return False
        return x == v or math.isclose(x, v, rel_tol=1e-9, abs_tol=1e-300) or (math.isnan(x) and math.isnan(v))
    if isinstance(v, list):
        return [p.strip() for p in s.strip("[]").split(",") if p.strip()] == [str(x) for x in v]
    v = str(v)
    if s == v or s.lower() == v.lower():
        return True
    if s and os.path.isabs(v):   # a path: byzgrid stores --set paths joined to the folder the run started in
        return os.path.normpath(os.path.join(os.getcwd(), s)) == os.path.normpath(v)
    return False


def run_state(r, g, driver):
    """('ok', '') for a done run, else (status, reason): missing, failed, interrupted or stale. A run whose log is
    newer than a summary.json that is not ok failed (byzgrid keeps the earlier run's folder when a run fails)."""
    st, why = summary_state(r, g, driver)
    if st == "stale":
        try:
            if os.path.getmtime(r["log"]) >= os.path.getmtime(os.path.join(r["dir"], "summary.json")):
                last = last_line(r["log"])
                if "summary.json" not in last:   # byzgrid's last line names summary.json when a run ends well
                    return "failed", last
        except OSError:
            pass
    return st, why


def summary_state(r, g, driver):
    try:
        with open(os.path.join(r["dir"], "summary.json")) as f:
            s = json.load(f)
    except FileNotFoundError:
        if os.path.exists(r["log"]):
            last = last_line(r["log"])
            partial = sorted(glob.glob(glob.escape(r["dir"]) + ".running-*"))
            if last == "no output" and partial:
                return "incomplete", f"no summary.json yet: still running, or stopped (its trace so far: {partial[-1]})"
            return "failed", last
        return "missing", ""
    except (OSError, ValueError) as e:
        return "failed", f"summary.json unreadable: {e}"
    if not isinstance(s, dict):
        return "failed", "summary.json is not an object"
    if s.get("interrupted"):
        return "interrupted", f"stopped by {s.get('interrupted_by', 'a signal')}"
    if (s.get("mode") == "simulated") == bool(driver):
        return "stale", f"summary.json is a {s.get('mode')} run"
    scen = s.get("scenario")
    if not isinstance(scen, str) or os.path.realpath(scen) != os.path.realpath(g.base):
        return "stale", f"summary.json is a run of {scen}"
    cfg = s.get("config") or {}
    eff = {}
    for k, v in r["sets"]:
        eff[k] = v
    cmdline = s.get("command") or ""
    for k, v in eff.items():
        sec, key = k.split(".", 1)
        have = cfg.get(sec, {}) if isinstance(cfg.get(sec), dict) else {}
        if key in have and same_value(v, have[key]):
            continue
        # values byzgrid stores in a canonical form (auto, aliases): the run's own command line had this --set
        tok = f" --set {k}={v}"
        at = cmdline.find(tok)
        if at >= 0 and (at + len(tok) == len(cmdline) or cmdline[at + len(tok)] == " "):
            continue
        return "stale", f"summary.json has {k} = {json.dumps(have.get(key))}, the cell {v}"
    # a key the run had from --set that the cell no longer sets (an override taken out of the grid)
    src = s.get("config_source") or {}
    for sec, keys in (src.items() if isinstance(src, dict) else []):
        for key, how in (keys.items() if isinstance(keys, dict) else []):
            if how == "--set" and f"{sec}.{key}" not in eff:
                return "stale", f"summary.json's run had --set {sec}.{key}, the cell does not set it"
    return "ok", ""


def last_line(path):
    try:
        with open(path, errors="replace") as f:
            lines = [ln.strip() for ln in f if ln.strip()]
    except OSError:
        return ""
    return lines[-1] if lines else "no output"


# ---------------------------------------------------------------------------------------------------------------
# Metrics of a run

FINAL = ["test_acc", "test_loss", "train_loss", "train_acc", "rounds", "sim_time_s", "bytes_up", "bytes_down",
         "energy_j", "wall_time_s", "dropped_inputs"]
TARGET = ["target_acc", "time_to_target_s", "rounds_to_target", "bytes_to_target", "energy_to_target_j"]
AT = ["round", "test_acc", "test_loss", "train_loss", "bytes", "energy_j"]


def fmt(v):
    if v is None or isinstance(v, (dict, list)):
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            return ""
        return f"{v:.12g}"
    return str(v)


def num(x):
    """A float from a trace cell, or None for empty or nan."""
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def fmt_num(f):
    return "" if f is None else fmt(float(f))


def read_trace(path):
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError:
        return None
    return rows


def at_metrics(trace, t):
    """The last trace row with sim_time_s <= t (the model stays as it is between evaluations)."""
    best = None
    for row in trace or []:
        st = num(row.get("sim_time_s"))
        if st is None:
            continue
        if st <= t + 1e-9:
            best = row
    if best is None:
        return {}
    bu, bd = num(best.get("bytes_up")), num(best.get("bytes_down"))
    return {"round": fmt_num(num(best.get("round"))), "test_acc": fmt_num(num(best.get("test_acc"))),
            "test_loss": fmt_num(num(best.get("test_loss"))), "train_loss": fmt_num(num(best.get("train_loss"))),
            "bytes": fmt_num(bu + bd if bu is not None and bd is not None else None),
            "energy_j": fmt_num(num(best.get("energy_j")))}


def target_from_trace(trace, target):
    for row in trace or []:
        acc = num(row.get("test_acc"))
        if acc is not None and acc >= target:
            bu, bd = num(row.get("bytes_up")), num(row.get("bytes_down"))
            return {"target_acc": fmt(target), "time_to_target_s": fmt_num(num(row.get("sim_time_s"))),
                    "rounds_to_target": fmt_num(num(row.get("round"))),
                    "bytes_to_target": fmt_num(bu + bd if bu is not None and bd is not None else None),
                    "energy_to_target_j": fmt_num(num(row.get("energy_j")))}
    return {"target_acc": fmt(target)}


def at_col(m, t):
    return f"{m}@{t}s"


def collect_row(r, g, a):
    status, why = run_state(r, g, a.driver)
    row = {"run": r["name"], "cell": r["cell"]}
    row.update(dict(r["pairs"]))
    row["seed"] = r["seed"] if r["seed"] is not None else ""
    row["status"] = status
    row["error"] = why
    row["overrides"] = r["overrides"]
    if status != "ok":
        return row
    with open(os.path.join(r["dir"], "summary.json")) as f:
        s = json.load(f)
    fin, tm, en = s.get("final") or {}, s.get("time") or {}, s.get("energy") or {}
    if r["seed"] is None:
        row["seed"] = fmt(s.get("seed"))
    for k in ("test_acc", "test_loss", "train_loss", "train_acc", "bytes_up", "bytes_down", "dropped_inputs"):
        row[k] = fmt(fin.get(k))
    row["rounds"] = fmt(fin.get("round"))
    row["sim_time_s"] = fmt(tm.get("sim_time_s"))
    row["wall_time_s"] = fmt(tm.get("wall_time_s"))
    row["energy_j"] = fmt(en.get("total_j"))
    trace = None
    if a.target is not None or a.at:
        trace = read_trace(os.path.join(r["dir"], "trace.csv"))
    if a.target is not None:
        row.update(target_from_trace(trace, a.target))
    elif isinstance(s.get("target"), dict):
        tg = s["target"]
        row.update({k: fmt(tg.get(k)) for k in TARGET})
    for t in a.at:
        for m, v in at_metrics(trace, float(t)).items():
            row[at_col(m, t)] = v
    return row


# ---------------------------------------------------------------------------------------------------------------
# Outputs

def write_csv(path, cols, rows):
    tmp = path + ".tmp"
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow(r)
    os.replace(tmp, path)


def aggregate(rows, g, metric_cols):
    """One row per cell: every metric's mean, std (sample, n - 1), min and max over the cell's ok runs."""
    cells, order = {}, []
    for r in rows:
        if r["cell"] not in cells:
            cells[r["cell"]] = []
            order.append(r["cell"])
        cells[r["cell"]].append(r)
    out = []
    for c in order:
        rs = cells[c]
        ok = [r for r in rs if r["status"] == "ok"]
        row = {"cell": c, "runs": len(rs), "ok": len(ok)}
        row.update({k: rs[0].get(k, "") for k in g.axes})
        if "target_acc" in metric_cols:
            row["target_acc"] = next((r.get("target_acc") for r in ok if r.get("target_acc")), "")
            row["target_reached"] = sum(1 for r in ok if r.get("time_to_target_s") or r.get("rounds_to_target"))
        for m in metric_cols:
            if m == "target_acc":
                continue
            xs = [num(r.get(m)) for r in ok]
            xs = [x for x in xs if x is not None]
            if not xs:
                continue
            row[m + "_mean"] = fmt(statistics.fmean(xs))
            row[m + "_std"] = fmt(statistics.stdev(xs)) if len(xs) > 1 else ""
            row[m + "_min"] = fmt(min(xs))
            row[m + "_max"] = fmt(max(xs))
        out.append(row)
    cols = ["cell"] + g.axes + ["runs", "ok"]
    if "target_acc" in metric_cols:
        cols += ["target_acc", "target_reached"]
    for m in metric_cols:
        if m != "target_acc":
            cols += [m + "_mean", m + "_std", m + "_min", m + "_max"]
    return cols, out


def fmt_acc(mean, std):
    m = num(mean)
    if m is None:
        return "—"
    s = num(std)
    return f"{100 * m:.1f}" + (f" ± {100 * s:.1f}" if s is not None else "")


def fmt_plain(x):
    """A table number: 3 significant digits, no exponent between 0.01 and 10^7."""
    if x == 0 or 0.01 <= abs(x) < 1e7:
        return f"{x:,.{max(0, 2 - int(math.floor(math.log10(abs(x)))))}f}" if x != 0 else "0"
    return f"{x:.2e}"


def is_acc_metric(m):
    return m.split("@")[0] in ("test_acc", "train_acc", "target_acc")


def fmt_cell(c, metric):
    """One table entry: mean ± std over the cell's seeds; for a metric a run may not reach (to target), the
    mean over the runs that reached it and how many of the cell's ok runs did."""
    mean, std = c.get(metric + "_mean"), c.get(metric + "_std")
    if is_acc_metric(metric):
        txt = fmt_acc(mean, std)
    else:
        m, s = num(mean), num(std)
        txt = "—" if m is None else fmt_plain(m) + (f" ± {fmt_plain(s)}" if s is not None else "")
    if metric in TARGET[1:]:
        reached, ok = int(c.get("target_reached") or 0), int(c.get("ok") or 0)
        if ok and reached == 0:
            return "not reached"
        if reached < ok:
            txt += f" ({reached}/{ok})"
    return txt


TABLE_WHAT = {"test_acc": "final test accuracy (%)", "time_to_target_s": "simulated time to the target (s)",
              "rounds_to_target": "rounds to the target", "bytes_to_target": "bytes to the target (up + down)",
              "energy_to_target_j": "energy to the target (J)", "sim_time_s": "simulated time at the end (s)",
              "wall_time_s": "wall-clock time of the run (s)"}


def table_what(m):
    if "@" in m:
        base, t = m.split("@", 1)
        return (TABLE_WHAT.get(base, base) if base != "test_acc" else "test accuracy (%)") + " at " + t
    return TABLE_WHAT.get(m, m)


def uniq(xs):
    out = []
    for x in xs:
        if x not in out:
            out.append(x)
    return out


def write_table(cells, g, path, title, seeds, metrics):
    if not g.axes:
        return
    others = [a for a in g.axes if a not in (g.rows, g.cols)]
    spread = " (mean ± std over seeds " + ", ".join(seeds) + ")" if seeds else ""
    lines = [f"# {title}", ""]
    rvals = uniq(c[g.rows] for c in cells)
    cvals = uniq(c[g.cols] for c in cells) if g.cols != g.rows else [metrics[0]]
    for metric in metrics:
        what = table_what(metric)
        lines += [f"{what[0].upper() + what[1:]}{spread}; — marks a failed or diverged cell (see results.csv)"
                  + ("; (k/n): k of the cell's n runs reached the target, the mean is over those k" if metric in
                     TARGET[1:] else "") + ".", ""]
        for fixed in uniq(tuple(c[k] for k in others) for c in cells):
            fx = dict(zip(others, fixed))
            if fx or len(metrics) > 1:
                lines += ["## " + ", ".join([metric] * (len(metrics) > 1) + [f"{k} = {v}" for k, v in fx.items()]),
                          ""]
            lines.append("| " + g.rows + " | " + " | ".join(cvals) + " |")
            lines.append("|---" * (len(cvals) + 1) + "|")
            for rv in rvals:
                row = []
                for cv in cvals:
                    hit = [c for c in cells if c[g.rows] == rv and (g.cols == g.rows or c[g.cols] == cv)
                           and all(c[k] == v for k, v in fx.items())]
                    row.append(fmt_cell(hit[0], metric) if hit else "—")
                lines.append(f"| {rv} | " + " | ".join(row) + " |")
            lines.append("")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(lines))
    os.replace(tmp, path)


def collect(a, g, runs, out):
    rows = [collect_row(r, g, a) for r in runs]
    metric_cols = list(FINAL)
    if a.target is not None or any(r.get("target_acc") for r in rows):
        metric_cols += TARGET
    for t in a.at:
        metric_cols += [at_col(m, t) for m in AT]
    cols = ["run", "cell"] + g.axes + ["seed", "status"] + metric_cols + ["overrides", "error"]
    write_csv(os.path.join(out, "results.csv"), cols, rows)
    ccols, cells = aggregate(rows, g, metric_cols)
    write_csv(os.path.join(out, "results_by_cell.csv"), ccols, cells)
    table = a.table or os.path.join(out, "table.md")
    for m in a.table_metric:
        if m not in metric_cols:
            die(f"--table-metric {m}: not a column of this collection (choose from "
                + ", ".join(c for c in metric_cols if c != "target_acc") + ")")
    title = (f"{g.name}: " + ", ".join(table_what(m) for m in a.table_metric))
    write_table(cells, g, table, title, g.seeds, a.table_metric)
    bad = [r for r in rows if r["status"] != "ok"]
    counts = {}
    for r in bad:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    more = "; not ok: " + ", ".join(f"{n} {k}" for k, n in counts.items()) if bad else ""
    note(f"wrote {os.path.join(out, 'results.csv')} ({len(rows) - len(bad)} of {len(rows)} runs ok{more}), "
         f"results_by_cell.csv and {table}")
    return bad


# ---------------------------------------------------------------------------------------------------------------
# Running

def hms(s):
    s = int(round(s))
    return f"{s // 3600}h{s % 3600 // 60:02d}m{s % 60:02d}s" if s >= 3600 else (
        f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s")


def die_with_parent():
    """In the child: SIGTERM when the sweep dies, even by SIGKILL (Linux prctl PR_SET_PDEATHSIG): the run stops at
    its next round boundary as interrupted instead of going on unseen."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


class Stop(Exception):
    def __init__(self, sig):
        self.sig = sig


def run_all(a, g, runs, todo):
    """Runs todo, a.jobs at a time; a signal stops them at their next round boundary (interrupted, re-run later)."""
    total, done0 = len(runs), len(runs) - len(todo)
    pending, running, finished, failed = list(todo), {}, 0, 0
    t0 = time.monotonic()
    stop = []

    def on_signal(sig, frame):
        if stop:   # a second signal: end the runs at once
            for p, _, _ in running.values():
                p.kill()
            raise Stop(sig)
        stop.append(sig)
        for p, _, _ in running.values():
            p.send_signal(signal.SIGTERM)

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        while pending or running:
            while pending and len(running) < max(1, a.jobs) and not stop:
                r = pending.pop(0)
                os.makedirs(os.path.dirname(r["log"]), exist_ok=True)
                log = open(r["log"], "w")
                p = subprocess.Popen(command(a, g, r), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True, preexec_fn=die_with_parent)
                running[p.pid] = (p, r, log)
            if not running:
                break
            time.sleep(0.05)
            for pid in list(running):
                p, r, log = running[pid]
                if p.poll() is None:
                    continue
                log.close()
                del running[pid]
                finished += 1
                st, why = run_state(r, g, a.driver)
                if stop and st == "failed":
                    # stopped before it had a summary: not a failure of the run, just not run (yet)
                    os.unlink(r["log"])
                    st, why = run_state(r, g, a.driver)
                if st != "ok":
                    failed += 1
                el = time.monotonic() - t0
                left = len(pending) + len(running)
                eta = f", ETA {hms(el / finished * left)}" if left and not stop else ""
                acc = ""
                if st == "ok":
                    try:
                        with open(os.path.join(r["dir"], "summary.json")) as f:
                            acc = f" test_acc {fmt_acc(json.load(f)['final'].get('test_acc'), None)}"
                    except (OSError, ValueError, KeyError, TypeError):
                        pass
                note(f"{done0 + finished}/{total} {r['name']}: {st}{acc}{' (' + why + ')' if why else ''} "
                     f"[elapsed {hms(el)}{eta}]")
    except Stop as e:
        stop.append(e.sig)
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    for p, r, log in running.values():
        p.wait()
        log.close()
        if run_state(r, g, a.driver)[0] == "failed":
            os.unlink(r["log"])
    return stop[0] if stop else 0, failed


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("grid", help="grid file (INI)")
    ap.add_argument("--byzgrid", default="build/byzgrid", help="the byzgrid binary (default build/byzgrid)")
    ap.add_argument("--out", default=None, help="output folder (default out/<grid name>)")
    ap.add_argument("--driver", action="store_true", help="in-process driver: no simulated time, faster")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="runs at once (default: the CPUs)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="extra section.key=value for every run (after the grid's own)")
    ap.add_argument("--table", default=None, help="write the Markdown table here (default OUT/table.md)")
    ap.add_argument("--table-metric", default="test_acc", metavar="M1,M2,...",
                    help="what table.md shows, one table per metric: a results.csv metric column such as "
                         "test_acc (default), time_to_target_s, test_acc@600s, bytes_to_target")
    ap.add_argument("--at", default="", metavar="T1,T2,...",
                    help="also report metrics at these simulated times (s): the last trace row at or before each")
    ap.add_argument("--target", type=float, default=None, metavar="ACC",
                    help="time, rounds, bytes and energy to this test accuracy, from trace.csv (without it: from "
                         "summary.json's target block when the runs had run.target_acc)")
    ap.add_argument("--force", action="store_true", help="run every run again, done or not")
    ap.add_argument("--list", action="store_true", help="list the runs and their state; run nothing")
    ap.add_argument("--collect", action="store_true", help="only collect the runs' outputs into results.csv")
    ap.add_argument("--emit-parallel", metavar="FILE", help="write the job list (one shell line per run not done) "
                    "for GNU parallel, run nothing")
    ap.add_argument("--emit-slurm", metavar="FILE", help="write an sbatch job-array script (one task per run not "
                    "done, reading OUT/jobs.txt), run nothing")
    ap.add_argument("--sbatch", action="append", default=[], metavar="OPTION",
                    help="an extra #SBATCH line for --emit-slurm, e.g. --sbatch=--time=02:00:00")
    a = ap.parse_args()
    extra = []
    for s in a.set:
        if "=" not in s:
            die(f"--set {s}: expected section.key=value")
        k, v = s.split("=", 1)
        check_key(k.strip(), "--set")
        extra.append((k.strip(), v))
    at = [t.strip() for t in a.at.split(",") if t.strip()]
    for t in at:
        try:
            if not math.isfinite(float(t)) or float(t) < 0:
                raise ValueError
        except ValueError:
            die(f"--at: '{t}' is not a simulated time in seconds")
    a.at = at
    a.table_metric = [m.strip() for m in a.table_metric.split(",") if m.strip()] or ["test_acc"]
    known = FINAL + TARGET[1:] + [at_col(m, t) for t in at for m in AT]
    for m in a.table_metric:
        if m not in known:
            die(f"--table-metric {m}: not a results.csv metric (choose from {', '.join(known)})")
    if a.target is not None and not (0 < a.target <= 1):
        die(f"--target {a.target}: expected an accuracy in (0, 1]")
    if a.jobs < 1:
        die("--jobs must be at least 1")
    g = parse_grid(a.grid)
    out = os.path.abspath(a.out or os.path.join("out", g.name))
    emit = a.emit_parallel or a.emit_slurm
    if not a.collect and not a.list:
        if not os.access(a.byzgrid, os.X_OK) or os.path.isdir(a.byzgrid):
            die(f"{a.byzgrid}: not an executable (build first, or pass --byzgrid)")
        a.byzgrid = os.path.abspath(a.byzgrid)
    runs = build_runs(g, extra, out)
    states = {r["name"]: run_state(r, g, a.driver) for r in runs}
    if a.list:
        for r in runs:
            st, why = states[r["name"]]
            print(f"{r['name']}\t{st}\t{why}")
        return
    if os.path.exists(out) and not os.path.isdir(out):
        die(f"{out}: exists and is not a folder")
    os.makedirs(os.path.join(out, "logs"), exist_ok=True)
    if a.collect:
        collect(a, g, runs, out)
        return
    todo = [r for r in runs if a.force or states[r["name"]][0] != "ok"]
    if emit:
        lines = [job_line(a, g, r) + "\n" for r in todo]
        jobs = os.path.join(out, "jobs.txt")
        with open(jobs, "w") as f:
            f.writelines(lines)
        if a.emit_parallel:
            with open(a.emit_parallel, "w") as f:
                f.writelines(lines)
            note(f"wrote {a.emit_parallel}: {len(lines)} of {len(runs)} runs to do; run it with "
                 f"`parallel --jobs N < {a.emit_parallel}`, then `{PROG} {a.grid} --collect` (same --out)")
        if a.emit_slurm:
            if not lines:
                note(f"every run is done: no Slurm script written ({a.emit_slurm})")
            else:
                with open(a.emit_slurm, "w") as f:
                    f.write(slurm_script(g, out, jobs, len(lines), a.sbatch))
                os.chmod(a.emit_slurm, 0o755)
                note(f"wrote {a.emit_slurm}: a job array of {len(lines)} tasks reading {jobs}; submit it with "
                     f"`sbatch {a.emit_slurm}`, then `{PROG} {a.grid} --collect` (same --out)")
        return
    skip = len(runs) - len(todo)
    note(f"{g.name}: {len(runs)} runs, {skip} done already, {len(todo)} to run ({a.jobs} at a time) into {out}")
    t0 = time.monotonic()
    sig, failed = run_all(a, g, runs, todo)
    bad = collect(a, g, runs, out)
    if sig:
        note(f"stopped by {signal.Signals(sig).name} after {hms(time.monotonic() - t0)}: finished runs are kept; run the same "
             "command again to run the rest")
        sys.exit(128 + sig)
    note(f"ran {len(todo)} runs in {hms(time.monotonic() - t0)} wall time")
    if bad:
        sys.exit(1)


def slurm_script(g, out, jobs, n, extra):
    q = shlex.quote
    lines = ["#!/bin/bash",
             f"# byzgrid sweep {g.name}: {n} runs, one per array task; each task runs line",
             "# SLURM_ARRAY_TASK_ID + 1 of the job list (written by analysis/sweep.py --emit-slurm).",
             f"#SBATCH --job-name=byzgrid-{sanitize(g.name)}",
             f"#SBATCH --array=0-{n - 1}",
             f"#SBATCH --output={os.path.join(out, 'logs', 'slurm-%A_%a.out')}",
             "#SBATCH --ntasks=1"]
    lines += [f"#SBATCH {e}" for e in extra]
    lines += ["set -eu",
              f"line=$(sed -n \"$((SLURM_ARRAY_TASK_ID + 1))p\" {q(jobs)})",
              "if [ -z \"$line\" ]; then echo \"no line $((SLURM_ARRAY_TASK_ID + 1)) in the job list\" >&2; exit 2; fi",
              "exec /bin/bash -c \"$line\"", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
