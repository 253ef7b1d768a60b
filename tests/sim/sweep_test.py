#!/usr/bin/python3
"""End-to-end tests of analysis/sweep.py (ctest analysis.sweep_*): one mode per ctest entry.

    sweep_test.py MODE --byzgrid BIN --dir WORKDIR

grid      quoted values, zipped axes, seeds (mean and spread), [set], a [when] on two keys, names, bad grids
resume    a 2 x 2 grid stopped when its first run is done, run again: only the missing runs run (counted)
at        --at and --target against trace.csv and summary.json's target block (simulated runs)
parallel  the job list run by GNU parallel, then --collect: the same results.csv as the direct run
slurm     a one-node Slurm (slurmctld + slurmd on localhost, started here) runs the job array: the same results.csv;
          exit 77 (ctest SKIP) with the reason where Slurm is not installed or cannot start
"""
import argparse
import csv
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.normpath(os.path.join(HERE, "..", ".."))
SWEEP = os.path.join(SRC, "analysis", "sweep.py")
TINY = os.path.join(HERE, "tiny.grid")
FEATURES = os.path.join(HERE, "features.grid")
SKIP = 77


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def sweep(*args, ok=(0,)):
    p = subprocess.run([sys.executable, SWEEP, *args], capture_output=True, text=True)
    if p.returncode not in ok:
        fail(f"sweep.py {' '.join(args)} exited {p.returncode}:\n{p.stderr}")
    return p


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def without_wall(path):
    """results.csv without its wall-time columns (the only ones that differ between two runs of a grid)."""
    out = []
    for r in rows(path):
        out.append({k: v for k, v in r.items() if not k.startswith("wall_time_s")})
    return out


def summary(run_dir):
    with open(os.path.join(run_dir, "summary.json")) as f:
        return json.load(f)


# ---------------------------------------------------------------------------------------------------------------

def t_grid(a):
    out = os.path.join(a.dir, "f")
    p = sweep(FEATURES, "--byzgrid", a.byzgrid, "--out", out, "--driver", "--jobs", "2")
    names = sorted(d for d in os.listdir(out) if os.path.isdir(os.path.join(out, d)) and d != "logs")
    want = sorted(f"hosts={h}__rounds={r}__eval_every={e}__seed={s}" for h in ("w0..w2", "w3-w5-w7")
                  for r, e in ((20, 10), (40, 20)) for s in (1, 2))
    check(names == want, f"run folders {names}, expected {want}")
    res = rows(os.path.join(out, "results.csv"))
    check(len(res) == 8 and all(r["status"] == "ok" for r in res), "8 runs, all ok")
    for r in res:
        s = summary(os.path.join(out, r["run"]))
        c = s["config"]
        # a quoted value stays one value, commas included
        check(c["attack"]["hosts"] == r["attack.hosts"] and r["attack.hosts"] in ("w0..w2", "w3, w5, w7"),
              f"{r['run']}: attack.hosts {c['attack']['hosts']!r}, row {r['attack.hosts']!r}")
        # zipped axes move together
        check((r["run.rounds"], r["run.eval_every"]) in (("20", "10"), ("40", "20")), f"{r['run']}: not zipped")
        check(c["run"]["rounds"] == int(r["run.rounds"]) == int(r["rounds"]), f"{r['run']}: rounds")
        check(c["run"]["eval_every"] == int(r["run.eval_every"]), f"{r['run']}: eval_every")
        # seeds set run.seed; [set] applies everywhere
        check(str(c["run"]["seed"]) == r["seed"] and r["seed"] in ("1", "2"), f"{r['run']}: seed")
        check(c["attack"]["f"] == 3 and c["attack"]["placement"] == "hosts", f"{r['run']}: [set] not applied")
        # [when attack.hosts = "w3, w5, w7", run.rounds = 40]: both conditions, not one
        both = r["attack.hosts"] == "w3, w5, w7" and r["run.rounds"] == "40"
        check(abs(c["attack"]["eps"] - (0.3 if both else 0.1)) < 1e-12,
              f"{r['run']}: attack.eps {c['attack']['eps']} (when on two keys)")
        check(("attack.eps=0.3" in r["overrides"]) == both, f"{r['run']}: overrides {r['overrides']!r}")
    # mean and spread per cell over the seeds
    cells = rows(os.path.join(out, "results_by_cell.csv"))
    check(len(cells) == 4, f"{len(cells)} cells in results_by_cell.csv, expected 4")
    for c in cells:
        xs = [float(r["test_acc"]) for r in res if r["cell"] == c["cell"]]
        check(len(xs) == 2 and c["runs"] == "2" and c["ok"] == "2", f"{c['cell']}: two seeds")
        for k, v in (("mean", statistics.fmean(xs)), ("std", statistics.stdev(xs)), ("min", min(xs)),
                     ("max", max(xs))):
            check(abs(float(c["test_acc_" + k]) - v) <= 1e-9 * max(1, abs(v)), f"{c['cell']}: test_acc_{k}")
    check(any(float(c["test_acc_std"]) > 0 for c in cells), "the seeds gave identical accuracies")
    check("±" in open(os.path.join(out, "table.md")).read(), "table.md has no mean ± std")
    # done runs are recognised (quoted lists, zipped keys, seeds included): a second sweep runs nothing
    p = sweep(FEATURES, "--byzgrid", a.byzgrid, "--out", out, "--driver", "--list")
    check(p.stdout.count("\tok\t") == 8, f"--list after the sweep:\n{p.stdout}")
    p = sweep(FEATURES, "--byzgrid", a.byzgrid, "--out", out, "--driver", "--set", "attack.eps=0.2", "--list")
    check(p.stdout.count("\tstale\t") == 8, f"--list with another attack.eps:\n{p.stdout}")
    # bad grids: one line, exit 2
    bad = {
        'axes = attack.name\n[values]\nattack.name = "none, ipm\n': "not closed",
        'axes = run.rounds + run.eval_every\n[values]\nrun.rounds = 1, 2\nrun.eval_every = 1\n': "as many values",
        'axes = attack.name\n[values]\nattack.name = none, ipm\n[when aggregator.name = cm]\nattack.eps = 1\n':
            "not an axis",
        'axes = attack.name\n[values]\nattack.name = none, ipm\n[when attack.name = alie]\nattack.eps = 1\n':
            "not a value of",
    }
    for i, (body, msg) in enumerate(bad.items()):
        g = os.path.join(a.dir, f"bad{i}.grid")
        with open(g, "w") as f:
            f.write(f"[sweep]\nscenario = {os.path.join(SRC, 'scenarios', 'quickstart.ini')}\n{body}")
        p = sweep(g, "--byzgrid", a.byzgrid, "--out", os.path.join(a.dir, "bad"), "--list", ok=(2,))
        lines = p.stderr.strip().splitlines()
        check(len(lines) == 1 and lines[0].startswith("sweep.py: ") and msg in lines[0],
              f"bad grid {i}: {p.stderr!r}")


def t_resume(a):
    out = os.path.join(a.dir, "r")
    calls = os.path.join(a.dir, "calls.log")
    wrapper = os.path.join(a.dir, "byzgrid-counting")
    with open(wrapper, "w") as f:
        # logs every run, waits 1 s (so the stop lands while the second run is on its way), then is byzgrid
        f.write(f"#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{calls}'\nsleep 1\nexec '{a.byzgrid}' \"$@\"\n")
    os.chmod(wrapper, 0o755)
    common = [TINY, "--byzgrid", wrapper, "--out", out, "--driver", "--jobs", "1", "--set", "run.rounds=30"]
    p = subprocess.Popen([sys.executable, SWEEP, *common], stderr=subprocess.PIPE, text=True)
    t0 = time.monotonic()
    first = None
    while first is None and time.monotonic() - t0 < 60 and p.poll() is None:
        for d in (os.listdir(out) if os.path.isdir(out) else []):
            # a run's files appear in RUN.running-XXXXXX first and are renamed to RUN once summary.json is in
            if ".running-" not in d and os.path.isfile(os.path.join(out, d, "summary.json")):
                first = d
        time.sleep(0.02)
    check(first is not None, "no run finished within 60 s")
    while time.monotonic() - t0 < 60 and p.poll() is None and \
            len(open(calls).read().splitlines()) < 2:   # the second run has started (it waits 1 s in the wrapper)
        time.sleep(0.02)
    p.send_signal(signal.SIGTERM)   # the sweep stops: what is running is stopped, the rest never starts
    err = p.communicate(timeout=60)[1]
    check(p.returncode == 128 + signal.SIGTERM, f"the stopped sweep exited {p.returncode}:\n{err}")
    done = [r["run"] for r in rows(os.path.join(out, "results.csv")) if r["status"] == "ok"]
    check(first in done and len(done) < 4, f"after the stop: done {done}")
    n1 = len(open(calls).read().splitlines())
    os.unlink(calls)
    p = sweep(*common)
    again = open(calls).read().splitlines()
    ran = sorted(os.path.basename(c.split(" --out ")[1].split(" ")[0]) for c in again)
    want = sorted(r["run"] for r in rows(os.path.join(out, "results.csv")) if r["run"] not in done)
    check(ran == want and len(ran) == 4 - len(done),
          f"the second sweep ran {ran}; the missing runs were {want} (first sweep: {len(done)} done)")
    res = rows(os.path.join(out, "results.csv"))
    check(len(res) == 4 and all(r["status"] == "ok" for r in res), "after the second sweep: 4 runs ok")
    os.unlink(calls)
    sweep(*common)
    check(not os.path.exists(calls), "a third sweep ran something")
    # a run marked interrupted, and a run of another configuration, are run again (and only they)
    res = rows(os.path.join(out, "results.csv"))
    path = os.path.join(out, res[0]["run"], "summary.json")
    s = json.load(open(path))
    s["interrupted"] = True
    json.dump(s, open(path, "w"))
    scen = os.path.join(SRC, "scenarios", "quickstart.ini")
    p = subprocess.run([a.byzgrid, "run", scen, "--out", os.path.join(out, res[3]["run"]), "--quiet", "--driver",
                        "--set", "attack.name=alie", "--set", "aggregator.name=rfa", "--set", "run.rounds=30"],
                       capture_output=True, text=True)
    check(p.returncode == 0, f"byzgrid run into {res[3]['run']}: {p.stderr}")
    p = sweep(*common, "--list")
    check(p.stdout.count("\tinterrupted\t") == 1 and p.stdout.count("\tstale\t") == 1, f"--list:\n{p.stdout}")
    sweep(*common)
    last = sorted(os.path.basename(c.split(" --out ")[1].split(" ")[0]) for c in open(calls).read().splitlines())
    check(last == sorted([res[0]["run"], res[3]["run"]]), f"the fourth sweep ran {last}")
    print(f"first sweep: {n1} runs started, {len(done)} finished before the stop; second sweep ran {len(ran)}: "
          f"{', '.join(ran)}; third sweep ran 0; fourth (one interrupted, one stale) ran {len(last)}")


def read_float(x):
    try:
        return float(x)
    except ValueError:
        return None


def t_at(a):
    out = os.path.join(a.dir, "at")
    sets = ["--set", "run.rounds=100", "--set", "run.eval_every=10", "--set", "run.target_acc=0.8"]
    sweep(TINY, "--byzgrid", a.byzgrid, "--out", out, "--jobs", "2", *sets, "--at", "20,45.5,1e9",
          "--target", "0.8")
    res = rows(os.path.join(out, "results.csv"))
    check(len(res) == 4, "4 runs")
    reached = 0
    for r in res:
        check(r["status"] == "ok", f"{r['run']}: {r['status']} {r['error']}")
        trace = rows(os.path.join(out, r["run"], "trace.csv"))
        for t, col in ((20.0, "20"), (45.5, "45.5"), (1e9, "1e9")):
            last = [x for x in trace if float(x["sim_time_s"]) <= t][-1]
            check(abs(float(r[f"test_acc@{col}s"]) - float(last["test_acc"])) < 1e-12, f"{r['run']}: acc at {t}")
            check(r[f"round@{col}s"] == last["round"], f"{r['run']}: round at {t}")
            check(float(r[f"bytes@{col}s"]) == float(last["bytes_up"]) + float(last["bytes_down"]),
                  f"{r['run']}: bytes at {t}")
            check(abs(float(r[f"energy_j@{col}s"]) - float(last["energy_j"])) < 1e-6, f"{r['run']}: energy")
        check(r["round@1e9s"] == r["rounds"], f"{r['run']}: at 1e9 s is the last row")
        check(int(r["round@20s"]) < int(r["rounds"]), f"{r['run']}: at 20 s is not the last row")
        # --target from trace.csv agrees with the run's own target block (run.target_acc = 0.8)
        tg = summary(os.path.join(out, r["run"]))["target"]
        if tg["time_to_target_s"] is None:
            check(r["time_to_target_s"] == "", f"{r['run']}: a target the run did not reach")
            continue
        reached += 1
        check(abs(float(r["time_to_target_s"]) - tg["time_to_target_s"]) < 1e-6, f"{r['run']}: time to target")
        check(int(r["rounds_to_target"]) == tg["rounds_to_target"], f"{r['run']}: rounds to target")
        check(float(r["bytes_to_target"]) == tg["bytes_to_target"], f"{r['run']}: bytes to target")
        check(abs(float(r["energy_to_target_j"]) - tg["energy_to_target_j"]) < 1e-3, f"{r['run']}: energy")
    check(reached >= 1, "no run reached 80 %")
    # without --target the columns come from summary.json (no new run: --collect)
    sweep(TINY, "--out", out, *sets, "--collect")
    res2 = rows(os.path.join(out, "results.csv"))
    for r, r2 in zip(res, res2):
        for k in ("time_to_target_s", "rounds_to_target", "bytes_to_target"):
            check((read_float(r[k]) is None) == (read_float(r2[k]) is None) and
                  (read_float(r[k]) is None or abs(read_float(r[k]) - read_float(r2[k])) < 1e-6),
                  f"{r['run']}: {k} from trace.csv {r[k]}, from summary.json {r2[k]}")
    cells = rows(os.path.join(out, "results_by_cell.csv"))
    check(all(c["target_acc"] == "0.8" for c in cells) and sum(int(c["target_reached"]) for c in cells) == reached,
          "results_by_cell.csv: target_acc and target_reached")
    # --table-metric: table.md entries are the cells' means (accuracy in %), "not reached" / "(k/n)" for targets
    tab = os.path.join(out, "t.md")
    sweep(TINY, "--out", out, *sets, "--collect", "--at", "45.5", "--table", tab,
          "--table-metric", "time_to_target_s,test_acc@45.5s")
    text = open(tab).read()
    cells = rows(os.path.join(out, "results_by_cell.csv"))
    entries = {}
    metric = None
    for line in text.splitlines():
        if line.startswith("## "):
            metric = line[3:].split(",")[0]
        elif line.startswith("| ") and not line.startswith("| attack.name"):
            parts = [x.strip() for x in line.strip("|").split("|")]
            for agg, v in zip(("cm", "rfa"), parts[1:]):
                entries[(metric, parts[0], agg)] = v
    check(len(entries) == 8, f"table.md: 2 metrics x 4 cells, got {len(entries)}:\n{text}")
    for c in cells:
        key = (c["attack.name"], c["aggregator.name"])
        acc = entries[("test_acc@45.5s",) + key]
        check(acc == f"{100 * float(c['test_acc@45.5s_mean']):.1f}", f"table.md {key}: {acc} for "
              f"{c['test_acc@45.5s_mean']}")
        tt = entries[("time_to_target_s",) + key]
        if int(c["target_reached"]) == 0:
            check(tt == "not reached", f"table.md {key}: {tt} for a target no run reached")
        else:
            check(abs(float(tt.replace(",", "")) - float(c["time_to_target_s_mean"])) <=
                  0.006 * float(c["time_to_target_s_mean"]), f"table.md {key}: {tt} for {c['time_to_target_s_mean']}")
    p = sweep(TINY, "--out", out, "--collect", "--table-metric", "time_to_nowhere", ok=(2,))
    check(p.stderr.count("\n") == 1 and "time_to_nowhere" in p.stderr, f"bad --table-metric: {p.stderr!r}")


def direct_and_emit(a, tag):
    """The tiny grid (simulated, 30 rounds) run directly into D, and emitted into E (job list and Slurm script)."""
    sets = ["--set", "run.rounds=30", "--at", "5,10", "--target", "0.79"]
    d = os.path.join(a.dir, "direct")
    e = os.path.join(a.dir, tag)
    sweep(TINY, "--byzgrid", a.byzgrid, "--out", d, "--jobs", "2", *sets)
    jobs = os.path.join(a.dir, "jobs.txt")
    script = os.path.join(a.dir, "array.sh")
    sweep(TINY, "--byzgrid", a.byzgrid, "--out", e, *sets, "--emit-parallel", jobs, "--emit-slurm", script)
    lines = open(jobs).read().splitlines()
    check(len(lines) == 4 and all(" run " in ln and "--out" in ln for ln in lines), f"job list: {lines}")
    check("#SBATCH --array=0-3" in open(script).read(), "the Slurm script has no --array=0-3")
    return sets, d, e, jobs, script


def same_results(sets, d, e, how):
    sweep(TINY, "--out", e, *sets, "--collect")
    for f in ("results.csv", "results_by_cell.csv"):
        x, y = without_wall(os.path.join(d, f)), without_wall(os.path.join(e, f))
        check(x == y, f"{f} of the direct run and of {how} differ:\n{x}\n{y}")
    res = rows(os.path.join(e, "results.csv"))
    check(len(res) == 4 and all(r["status"] == "ok" for r in res), f"{how}: 4 runs ok")
    check(all(r["test_acc@5s"] and r["sim_time_s"] for r in res), f"{how}: simulated columns empty")


def t_parallel(a):
    par = shutil.which("parallel")
    check(par is not None, "GNU parallel is not installed (apt-get install parallel)")
    sets, d, e, jobs, _ = direct_and_emit(a, "parallel")
    t0 = time.monotonic()
    with open(jobs) as f:
        p = subprocess.run([par, "--will-cite", "--jobs", "2", "--halt", "never"], stdin=f, capture_output=True,
                           text=True, timeout=600)
    check(p.returncode == 0, f"parallel exited {p.returncode}: {p.stderr}")
    same_results(sets, d, e, "GNU parallel")
    # the runs are done: a job list emitted again is empty
    sweep(TINY, "--byzgrid", a.byzgrid, "--out", e, *sets, "--emit-parallel", jobs)
    check(open(jobs).read() == "", "a second --emit-parallel still lists runs")
    print(f"GNU parallel ran the 4 jobs in {time.monotonic() - t0:.1f} s; results.csv equals the direct run's")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def skip(msg):
    print(f"SKIP: {msg}")
    sys.exit(SKIP)


def t_slurm(a):
    tools = {t: shutil.which(t) for t in ("slurmctld", "slurmd", "sbatch", "sinfo", "scontrol")}
    missing = [t for t, p in tools.items() if not p]
    if missing:
        skip(f"Slurm is not installed ({', '.join(missing)} missing; apt-get install slurm-wlm)")
    if os.geteuid() != 0:
        skip("the one-node Slurm of this test runs its daemons as root (SlurmUser=root); not root here")
    sdir = os.path.join(a.dir, "cluster")
    for sub in ("state", "spool", "log"):
        os.makedirs(os.path.join(sdir, sub), exist_ok=True)
    node = socket.gethostname().split(".")[0]
    conf = os.path.join(sdir, "slurm.conf")
    with open(conf, "w") as f:
        f.write(f"""# a one-node cluster on localhost for this test only (auth/none: nothing leaves the machine)
ClusterName=byzgridtest
SlurmctldHost={node}(127.0.0.1)
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
AuthType=auth/none
CredType=cred/none
SlurmUser=root
SlurmdUser=root
StateSaveLocation={sdir}/state
SlurmdSpoolDir={sdir}/spool
SlurmctldPidFile={sdir}/slurmctld.pid
SlurmdPidFile={sdir}/slurmd.pid
SlurmctldLogFile={sdir}/log/slurmctld.log
SlurmdLogFile={sdir}/log/slurmd.log
ProctrackType=proctrack/pgid
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
NodeName={node} NodeAddr=127.0.0.1 CPUs={os.cpu_count() or 1} State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
""")
    env = dict(os.environ, SLURM_CONF=conf)
    pids = []

    def stop():
        for name in ("slurmd", "slurmctld"):
            pf = os.path.join(sdir, f"{name}.pid")
            try:
                pid = int(open(pf).read().strip())
            except (OSError, ValueError):
                continue
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            for _ in range(100):   # up to 10 s for it to end
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.1)

    def logs():
        out = []
        for f in ("slurmctld.log", "slurmd.log"):
            try:
                out += [f"{f}: {ln}" for ln in open(os.path.join(sdir, "log", f)).read().splitlines()[-5:]]
            except OSError:
                pass
        return "\n".join(out)

    try:
        for cmd in (["slurmctld", "-i"], ["slurmd", "-N", node]):
            p = subprocess.run([tools[cmd[0]], *cmd[1:]], env=env, capture_output=True, text=True, timeout=60)
            if p.returncode != 0:
                stop()
                skip(f"Slurm cannot start here: {cmd[0]} exited {p.returncode}: {p.stderr.strip()} {logs()}")
        t0 = time.monotonic()
        state = ""
        while time.monotonic() - t0 < 60:
            p = subprocess.run([tools["sinfo"], "-h", "-N", "-o", "%T"], env=env, capture_output=True, text=True)
            state = p.stdout.strip()
            if state in ("idle", "mixed", "allocated"):
                break
            time.sleep(0.5)
        else:
            stop()
            skip(f"Slurm started but its node is not up after 60 s (sinfo: {state!r}; {p.stderr.strip()})\n{logs()}")
        ver = subprocess.run([tools["sinfo"], "-V"], capture_output=True, text=True)
        print(f"Slurm {(ver.stdout + ver.stderr).strip()}: "
              f"node {node} {state} after {time.monotonic() - t0:.1f} s")
        # from here on a failure is a failure, not a skip
        sets, d, e, _, script = direct_and_emit(a, "slurm")
        t0 = time.monotonic()
        p = subprocess.run([tools["sbatch"], "--wait", script], env=env, capture_output=True, text=True, timeout=600)
        check(p.returncode == 0, f"sbatch --wait exited {p.returncode}: {p.stdout} {p.stderr}\n{logs()}")
        job = p.stdout.split()[-1] if p.stdout.split() else "?"
        outs = sorted(f for f in os.listdir(os.path.join(e, "logs")) if f.startswith(f"slurm-{job}_"))
        check(len(outs) == 4, f"expected 4 task outputs slurm-{job}_*.out, found {outs}")
        same_results(sets, d, e, "the Slurm job array")
        print(f"Slurm ran job array {job} (4 tasks) in {time.monotonic() - t0:.1f} s; results.csv equals the "
              "direct run's")
    finally:
        stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["grid", "resume", "at", "parallel", "slurm"])
    ap.add_argument("--byzgrid", required=True)
    ap.add_argument("--dir", required=True)
    a = ap.parse_args()
    a.byzgrid = os.path.abspath(a.byzgrid)
    a.dir = os.path.abspath(a.dir)
    shutil.rmtree(a.dir, ignore_errors=True)
    os.makedirs(a.dir)
    {"grid": t_grid, "resume": t_resume, "at": t_at, "parallel": t_parallel, "slurm": t_slurm}[a.mode](a)
    print(f"ok: analysis.sweep_{a.mode}")


if __name__ == "__main__":
    main()
