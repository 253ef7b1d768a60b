#!/usr/bin/env python3
"""Tests of the plotting scripts (analysis/plot_study.py, analysis/plot_trace.py).

  check_plots.py study ANALYSIS_DIR WORK_DIR
      writes a synthetic results.csv (a sweep's columns: axes named by scenario keys, seed, status, final
      metrics, *_to_target columns, metrics @ simulated times), draws line / heatmap / pareto PNGs and checks
      them, checks the unit parsing, the means and the Pareto front, and that bad input is one line, exit 2.
  check_plots.py trace ANALYSIS_DIR RUN_DIR WORK_DIR
      RUN_DIR holds a real trace.csv and summary.json (the quick start's); checks --logx, --xlim, labels
      from summary.json's name (and the fallback to folder names), and the errors of the new options.
Exit 0 when every check passes; the first failure is printed and exits 1.
"""

import csv
import importlib.util
import json
import math
import os
import random
import shutil
import subprocess
import sys

PY = sys.executable or "/usr/bin/python3"


def check(cond, what):
    if not cond:
        sys.stderr.write("check_plots: FAILED: %s\n" % what)
        sys.exit(1)


def load(analysis, name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(analysis, name + ".py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def run(cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    return p.returncode, p.stdout, p.stderr


def check_png(path, min_bytes=20000):
    check(os.path.isfile(path), "%s was written" % path)
    with open(path, "rb") as f:
        head = f.read(8)
    check(head == b"\x89PNG\r\n\x1a\n", "%s starts with the PNG magic" % path)
    check(os.path.getsize(path) >= min_bytes, "%s is a real figure (%d bytes >= %d)"
          % (path, os.path.getsize(path), min_bytes))


def check_error(cmd, prog, needle):
    rc, out, err = run(cmd)
    lines = err.strip().split("\n")
    check(rc == 2, "%s exits 2 (got %d, stderr %r)" % (" ".join(cmd[2:]), rc, err))
    check(len(lines) == 1 and lines[0].startswith(prog + ": "), "one stderr line starting '%s: ' (got %r)"
          % (prog, err))
    check(needle in lines[0], "the error names %r (got %r)" % (needle, lines[0]))


# ---------------------------------------------------------------------------------------------------------------

BWS = ["0.5Mbps", "2Mbps", "10Mbps", "100Mbps"]
METHODS = {"byz-ef21-sgdm": 20e3, "sgdm": 400e3, "br-csgd": 40e3}  # upload message size (B)
ATTACKS = ["none", "ipm", "alie"]
ACC = {"byz-ef21-sgdm": 0.87, "sgdm": 0.88, "br-csgd": 0.855}
HIT = {"none": 0.0, "ipm": 0.01, "alie": 0.02}


def write_results(path):
    """A synthetic 4 x 3 x 3 study with 3 seeds: one failed run, one cell failed entirely, targets not reached."""
    rnd = random.Random(13)
    cols = ["cell", "platform.worker_bw_up", "method.name", "attack.name", "seed", "status", "test_acc",
            "test_loss", "train_loss", "rounds", "sim_time_s", "bytes_up", "bytes_down", "energy_j",
            "wall_time_s", "time_to_target_s", "rounds_to_target", "bytes_to_target", "energy_to_target_j",
            "test_acc@60s", "test_loss@60s", "test_acc@300s", "test_loss@300s", "extra_unknown"]
    rows = []
    for bw in BWS:
        bits = float(bw[:-4]) * 1e6
        for m, size in METHODS.items():
            for a in ATTACKS:
                for seed in (1, 2, 3):
                    r = {"cell": "bw=%s_m=%s_a=%s" % (bw, m, a), "platform.worker_bw_up": bw, "method.name": m,
                         "attack.name": a, "seed": seed, "status": "ok", "extra_unknown": "x"}
                    failed = (m == "br-csgd" and a == "alie" and (bw == "100Mbps" or (bw == "0.5Mbps" and seed == 2)))
                    if failed:
                        r["status"] = "failed"
                        rows.append(r)
                        continue
                    if m == "sgdm" and a == "ipm" and bw == "2Mbps" and seed == 3:
                        # a sweep still running: a fourth seed not started, one started without a result yet
                        rows.append(dict(r, seed=4, status="missing"))
                        rows.append(dict(r, seed=5, status="incomplete"))
                    per_round = size * 8 / bits + 0.05
                    acc = ACC[m] - HIT[a] + rnd.uniform(-0.004, 0.004)
                    r.update({"test_acc": "%.6f" % acc, "test_loss": "%.6f" % (1.2 - acc), "train_loss": "%.6f"
                              % (1.18 - acc), "rounds": 500, "sim_time_s": "%.6f" % (500 * per_round),
                              "bytes_up": "%d" % (500 * size * 20), "bytes_down": "%d" % (500 * 400e3 * 20),
                              "energy_j": "%.3f" % (500 * per_round * 2000), "wall_time_s": "%.2f" % rnd.uniform(5, 9)})
                    if acc >= 0.85:
                        rt = int(200 + 150 * (0.88 - acc) / 0.03)
                        r.update({"time_to_target_s": "%.6f" % (rt * per_round), "rounds_to_target": rt,
                                  "bytes_to_target": "%d" % (rt * size * 20),
                                  "energy_to_target_j": "%.3f" % (rt * per_round * 2000)})
                    for t in (60, 300):
                        frac = min(1.0, t / (500 * per_round))
                        r["test_acc@%ds" % t] = "%.6f" % (0.5 + (acc - 0.5) * frac ** 0.3)
                        r["test_loss@%ds" % t] = "%.6f" % (1.2 - (0.5 + (acc - 0.5) * frac ** 0.3))
                    rows.append(r)
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        for r in rows:
            w.writerow(r)
    return rows


def study(analysis, work):
    os.makedirs(work, exist_ok=True)
    res = os.path.join(work, "results.csv")
    rows = write_results(res)
    script = os.path.join(analysis, "plot_study.py")
    ps = load(analysis, "plot_study")

    # Units: bandwidths in bit/s whatever the spelling; plain numbers; words stay categorical.
    check(ps.parse_quantity("0.5Mbps") == (5e5, "bandwidth"), "0.5Mbps = 5e5 bit/s")
    check(ps.parse_quantity("1MBps") == (8e6, "bandwidth"), "1MBps = 8e6 bit/s")
    check(ps.parse_quantity("1Kibps") == (1024.0, "bandwidth"), "1Kibps = 1024 bit/s")
    check(ps.parse_quantity("5ms") == (0.005, "time"), "5ms = 0.005 s")
    check(ps.parse_quantity("12") == (12.0, None), "12 is a number")
    check(ps.parse_quantity("sgdm") is None, "sgdm is not a quantity")
    ax = ps.Axis("bw", ["100Mbps", "0.5Mbps", "1MBps", "2Mbps"])
    check(ax.labels == ["0.5Mbps", "2Mbps", "1MBps", "100Mbps"] and ax.auto_log(),
          "a bandwidth axis is sorted by value (1MBps = 8 Mbit/s) and log by default: %r" % ax.labels)
    check(not ps.Axis("f", ["0", "2", "4"]).auto_log(), "a plain numeric axis is linear by default")
    check(ps.Axis("m", ["sgdm", "br-csgd"]).labels == ["sgdm", "br-csgd"], "words keep file order")
    front = ps.pareto_front([(1, 0.5), (2, 0.7), (3, 0.6), (4, 0.9), (4, 0.8)], True)
    check([p[:2] for p in front] == [(1, 0.5), (2, 0.7), (4, 0.9)], "Pareto front %r" % front)

    # The means the plots draw: one line point = mean of the seeds that have a value.
    r = ps.Results(res)
    sel = ps.select(r, ps.parse_where(r, ["attack.name=none"]))
    g = ps.group(r, sel, ["method.name", "platform.worker_bw_up"], "test_acc", [])
    want = [float(x["test_acc"]) for x in rows if x["attack.name"] == "none" and x["method.name"] == "sgdm"
            and x["platform.worker_bw_up"] == "2Mbps"]
    st = g[("sgdm", "2Mbps")]
    check(st.n == 3 and math.isclose(st.mean(), sum(want) / 3), "mean over seeds of one point")
    g = ps.group(r, ps.select(r, ps.parse_where(r, ["attack.name=alie"])),
                 ["method.name", "platform.worker_bw_up"], "test_acc", [])
    check(g[("br-csgd", "0.5Mbps")].n == 2 and g[("br-csgd", "0.5Mbps")].runs == 3, "a failed run has no value")
    check(g[("br-csgd", "100Mbps")].n == 0 and g[("br-csgd", "100Mbps")].failed == 3, "a failed cell")
    g = ps.group(r, ps.select(r, ps.parse_where(r, ["attack.name=ipm"])),
                 ["method.name", "platform.worker_bw_up"], "test_acc", [])
    check(g[("sgdm", "2Mbps")].runs == 3 and g[("sgdm", "2Mbps")].failed == 0 and r.not_run == 2,
          "runs not done yet (missing, incomplete) are left out, not failed")

    outs = {
        "line.png": ["line", res, "--metric", "time_to_target_s", "--x", "worker_bw_up", "--series", "method.name",
                     "--facet", "attack.name"],
        "line_acc300.png": ["line", res, "-m", "test_acc@300s", "-x", "platform.worker_bw_up", "-s", "method.name",
                            "--where", "attack.name=none", "--band", "std"],
        "heatmap.png": ["heatmap", res, "--metric", "test_acc@300s", "--x", "platform.worker_bw_up", "--y",
                        "method.name", "--facet", "attack.name"],
        "heatmap_target.png": ["heatmap", res, "--metric", "time_to_target_s", "--x", "platform.worker_bw_up",
                               "--y", "method.name", "--where", "attack.name=ipm", "--where", "attack.name=alie",
                               "--facet", "attack.name", "--cmap", "viridis_r"],
        "pareto.png": ["pareto", res, "--series", "method.name", "--where", "attack.name=none"],
        "pareto_facets.png": ["pareto", res, "--metric", "test_acc@300s", "--x", "bytes_up", "--series",
                              "method.name", "--facet", "attack.name"],
    }
    for name, cmd in outs.items():
        out = os.path.join(work, name)
        if os.path.exists(out):
            os.remove(out)
        rc, so, se = run([PY, script] + cmd + ["-o", out])
        check(rc == 0 and se == "", "plot_study %s exits 0 silently (rc %d, stderr %r)" % (" ".join(cmd[:1]), rc, se))
        check(so.strip() == out, "prints the output path")
        check_png(out)
    # Default output name next to results.csv.
    rc, so, se = run([PY, script, "line", res, "-m", "test_acc", "-x", "platform.worker_bw_up", "-s", "method.name",
                      "--facet", "attack.name"])
    check(rc == 0 and so.strip() == os.path.join(work, "line_test_acc_platform.worker_bw_up.png"),
          "default output path (%r)" % so)

    # Errors: one line, exit 2.
    P = "plot_study.py"
    check_error([PY, script, "line", os.path.join(work, "nope.csv"), "-m", "test_acc", "-x", "seed"], P,
                "no such file")
    check_error([PY, script, "line", res, "-m", "test_acc", "-x", "platform.nope"], P, "no column 'platform.nope'")
    check_error([PY, script, "line", res, "-m", "method.name", "-x", "platform.worker_bw_up", "-s", "method.name",
                 "--facet", "attack.name"], P, "not numeric")
    check_error([PY, script, "line", res, "-m", "test_acc", "-x", "platform.worker_bw_up", "--where",
                 "attack.name=zzz"], P, "no rows match")
    check_error([PY, script, "line", res, "-m", "test_acc", "-x", "platform.worker_bw_up"], P,
                "varies within one plotted point")
    check_error([PY, script, "heatmap", res, "-m", "test_acc", "-x", "method.name"], P, "required")
    check_error([PY, script, "bogus", res], P, "invalid choice")
    check_error([PY, script, "line", res, "-m", "test_acc", "-x", "method.name", "--logx", "--where",
                 "attack.name=none", "--where", "platform.worker_bw_up=2Mbps"], P, "--logx")
    empty = os.path.join(work, "empty.csv")
    open(empty, "w").close()
    check_error([PY, script, "pareto", empty], P, "empty file")
    hdr = os.path.join(work, "header.csv")
    with open(hdr, "w") as f:
        f.write("method.name,seed,test_acc\n")
    check_error([PY, script, "pareto", hdr], P, "no data rows")
    check_error([PY, script, "line", res, "-m", "test_acc", "-x", "platform.worker_bw_up", "-s", "method.name",
                 "--facet", "attack.name", "-o", os.path.join(work, "no", "dir", "x.png")], P, "does not exist")
    print("check_plots study: ok (%d PNGs)" % (len(outs) + 1))


# ---------------------------------------------------------------------------------------------------------------

def trace(analysis, run_dir, work):
    script = os.path.join(analysis, "plot_trace.py")
    pt = load(analysis, "plot_trace")
    with open(os.path.join(run_dir, "summary.json")) as f:
        name = json.load(f)["name"]
    if os.path.isdir(work):
        shutil.rmtree(work)
    # Two runs named in summary.json, one without summary.json (folder name), one with an unreadable one.
    a, b, c, d = (os.path.join(work, x) for x in ("ra", "rb", "plain", "broken"))
    for x in (a, b, c, d):
        os.makedirs(x)
        shutil.copy(os.path.join(run_dir, "trace.csv"), x)
    shutil.copy(os.path.join(run_dir, "summary.json"), a)
    with open(os.path.join(b, "summary.json"), "w") as f:
        json.dump({"name": "second run"}, f)
    with open(os.path.join(d, "summary.json"), "w") as f:
        f.write("{not json")
    paths = [os.path.join(x, "trace.csv") for x in (a, b, c, d)]
    labels = pt.default_labels(paths)
    check(labels == [name, "second run", "plain", "broken"], "labels from summary.json's name: %r" % labels)
    same = [os.path.join(x, "trace.csv") for x in (a, c)]
    shutil.copy(os.path.join(a, "summary.json"), c)
    labels = pt.default_labels(same)
    check(labels == ["%s (ra)" % name, "%s (plain)" % name], "equal names get their folder: %r" % labels)

    tr = [pt.read_trace(p) for p in paths[:2]]
    fig = pt.make_figure(tr, ["x", "y"], log_loss=False, logx={"sim_time_s", "bytes_total", "energy_j"},
                         xlim={"sim_time_s": (10.0, 300.0)})
    axes = fig.axes
    by = {(ax.get_title()): ax for ax in axes}
    t_ax = by["Accuracy vs simulated time"]
    check(t_ax.get_xscale() == "log" and by["Accuracy vs total bytes sent"].get_xscale() == "log"
          and by["Loss vs energy"].get_xscale() == "log", "--logx: time, bytes and energy panels are log")
    check(by["Accuracy vs round"].get_xscale() == "linear", "--logx leaves the round panel linear")
    check(tuple(round(v, 6) for v in t_ax.get_xlim()) == (10.0, 300.0), "--xlim on the time panel: %r"
          % (t_ax.get_xlim(),))
    lo, hi = t_ax.get_ylim()
    t = tr[0]
    vis = [y for x, y in zip(t["sim_time_s"], t["test_acc"]) if 10 <= x <= 300]
    check(lo <= min(vis) and hi >= max(vis) and hi - lo < 2 * (max(vis) - min(vis)) + 0.02,
          "the y range follows the points inside the window (%r, visible %r..%r)" % ((lo, hi), min(vis), max(vis)))
    texts = [tx.get_text() for lg in fig.legends for tx in lg.get_texts()]
    check("x" in texts and "y" in texts and "test" not in texts, "legend: runs, no stray 'test' (%r)" % texts)
    check(pt.parse_xlim([",300"]) == {"sim_time_s": (None, 300.0)}, "--xlim ,300 = time window up to 300 s")
    check(pt.parse_xlim(["bytes=0,2M", "round=5,"]) == {"bytes_total": (0.0, 2e6), "round": (5.0, None)},
          "--xlim bytes=0,2M round=5,")
    check(pt.parse_logx("time,energy") == {"sim_time_s", "energy_j"}, "--logx time,energy")

    outs = {"logx.png": ["--logx"], "xlim.png": ["--xlim", "50,400", "--log-loss"],
            "both.png": ["--logx-panels", "bytes", "--xlim", "bytes=1M,20M", "--xlim", "time=,300"]}
    for fn, opts in outs.items():
        out = os.path.join(work, fn)
        rc, so, se = run([PY, script] + paths + ["-o", out] + opts)
        check(rc == 0 and so.strip() == out, "plot_trace %s exits 0 (rc %d, %r)" % (" ".join(opts), rc, se))
        check_png(out, 40000)
    P = "plot_trace.py"
    check_error([PY, script, paths[0], "--xlim", "300,10"], P, "--xlim")
    check_error([PY, script, paths[0], "--xlim", "speed=1,2"], P, "--xlim")
    check_error([PY, script, paths[0], "--xlim", "a,b"], P, "--xlim")
    check_error([PY, script, paths[0], "--logx-panels", "colour"], P, "--logx")
    check_error([PY, script, paths[0], "--logx", "--xlim", "0,100"], P, "MIN must be above 0")
    check_error([PY, script, paths[0], "--bogus"], P, "unrecognized")
    print("check_plots trace: ok")


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "study":
        study(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 5 and sys.argv[1] == "trace":
        trace(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
