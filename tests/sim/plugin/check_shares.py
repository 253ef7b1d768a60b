#!/usr/bin/env python3
"""CM02 max-min shares for jobs embedded in a program (examples/embed_jobs.c) on star-tenant.xml (zero latencies,
server link C = 10 kB/s each way, worker links 1 MB/s, tenant link C/2), job.ini: two honest workers.

1. A constant background flow, tenant -> server (one transfer of 1e15 bytes, capped at C/2 by the tenant's link:
   alone it takes half of the server's link). While the job's two uploads of S bytes cross the server's link, max-min
   gives each of the three flows C/3 (below the tenant's cap), against C/2 per upload without it: every round
   lengthens by S/(C/3) - S/(C/2) = S/C exactly, and nothing else changes (broadcasts use the other direction).
2. Two identical jobs on the same hosts: every resource a round uses (server and worker CPUs, both directions of the
   links) is shared by two identical activities at the same instants, and latencies are 0: each round takes exactly
   twice as long.

3. traffic.flows (byzgrid run, the same platform): a constant flow tenant -> server capped at R = 2 kB/s leaves the
   two uploads (C - R)/2 each: every round lengthens by S/((C - R)/2) - S/(C/2), and events.csv's traffic row
   says R x the run's time bytes were sent. A Poisson flow with the same seed gives byte-identical outputs twice.

Usage: check_shares.py EMBED_JOBS BYZGRID DIR (the folder of star-tenant.xml and job.ini) WORK_DIR"""
import csv
import os
import shutil
import subprocess
import sys

C = 1e4   # bytes/s of the server's link
N = 2     # uploads per round


def run(embed, plat, args, work):
    p = subprocess.run([embed, plat, "--cfg=network/model:CM02", "--cfg=network/crosstraffic:0",
                        "--log=root.thres:warning", *args], capture_output=True, text=True, cwd=work)
    if p.returncode != 0:
        sys.exit(f"embed_jobs {' '.join(args)} exited {p.returncode}:\n{p.stderr}")
    return p.stdout


def rows(path):
    with open(path) as f:
        return [{k: float(v) for k, v in r.items()} for r in csv.DictReader(f)]


def main():
    embed, byzgrid, d, work = sys.argv[1:5]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    plat, job = os.path.join(d, "star-tenant.xml"), os.path.join(d, "job.ini")
    run(embed, plat, [f"a={job}:alone"], work)
    run(embed, plat, ["--bulk", "tenant:server:1e15", f"a={job}:bulk"], work)
    run(embed, plat, [f"a={job}:two_a", f"b={job}:two_b"], work)
    alone, bulk = rows(os.path.join(work, "alone/trace.csv")), rows(os.path.join(work, "bulk/trace.csv"))
    two_a, two_b = rows(os.path.join(work, "two_a/trace.csv")), rows(os.path.join(work, "two_b/trace.csv"))
    assert len(alone) == len(bulk) == len(two_a) == len(two_b) == 13, "12 rounds and the row of round 0"
    bad = 0
    for t in range(1, len(alone)):
        d0 = alone[t]["sim_time_s"] - alone[t - 1]["sim_time_s"]
        d1 = bulk[t]["sim_time_s"] - bulk[t - 1]["sim_time_s"]
        d2a = two_a[t]["sim_time_s"] - two_a[t - 1]["sim_time_s"]
        d2b = two_b[t]["sim_time_s"] - two_b[t - 1]["sim_time_s"]
        s = (alone[t]["bytes_up"] - alone[t - 1]["bytes_up"]) / N
        want1 = d0 + s / C
        ok = abs(d1 - want1) <= 2e-9 and abs(d2a - 2 * d0) <= 2e-9 and abs(d2b - 2 * d0) <= 2e-9 and s > 0
        bad += not ok
        print(f"round {t}: alone {d0:.9f} s; upload S = {s:.0f} B; with the flow {d1:.9f} s (max-min: "
              f"{want1:.9f}); two jobs {d2a:.9f} / {d2b:.9f} s (2x: {2 * d0:.9f}){'' if ok else '  <-- MISMATCH'}")
    # 3. traffic.flows through byzgrid run
    R = 2000.0
    common = [byzgrid, "run", job, "--quiet", "--set", "platform.file=" + plat, "--set", "platform.network_model=CM02",
              "--set", "platform.crosstraffic=false", "--set", "run.events=true"]
    for out, flows in (("cbr", "constant tenant -> server 2kBps"),
                       ("poisson1", "poisson tenant -> server 100B 5/s; periodic server -> w1 200B every 100ms"),
                       ("poisson2", "poisson tenant -> server 100B 5/s; periodic server -> w1 200B every 100ms")):
        p = subprocess.run(common + ["--out", out, "--set", "traffic.flows=" + flows], capture_output=True, text=True,
                           cwd=work)
        if p.returncode != 0:
            sys.exit(f"byzgrid run with traffic.flows={flows} exited {p.returncode}:\n{p.stderr}")
    cbr = rows(os.path.join(work, "cbr/trace.csv"))
    for t in range(1, len(alone)):
        d0 = alone[t]["sim_time_s"] - alone[t - 1]["sim_time_s"]
        d3 = cbr[t]["sim_time_s"] - cbr[t - 1]["sim_time_s"]
        s = (alone[t]["bytes_up"] - alone[t - 1]["bytes_up"]) / N
        want3 = d0 + s / ((C - R) / 2) - s / (C / 2)
        ok = abs(d3 - want3) <= 2e-9
        bad += not ok
        print(f"round {t}: constant {R:.0f} B/s flow: {d3:.9f} s (max-min: {want3:.9f}){'' if ok else '  <-- MISMATCH'}")
    with open(os.path.join(work, "cbr/events.csv")) as f:
        ev = [r for r in csv.DictReader(f) if r["kind"] == "traffic"]
    end = cbr[-1]["sim_time_s"]
    ok = len(ev) == 1 and abs(float(ev[0]["bytes"]) - R * end) <= 1.0 and float(ev[0]["end_s"]) == end
    print(f"constant flow's events.csv row: {ev[0]['bytes'] if ev else None} bytes in {end:.9f} s "
          f"(R x time = {R * end:.1f}){'' if ok else '  <-- MISMATCH'}")
    bad += not ok
    for f in ("trace.csv", "events.csv"):
        with open(os.path.join(work, "poisson1", f), "rb") as a, open(os.path.join(work, "poisson2", f), "rb") as b:
            same_bytes = a.read() == b.read()
        print(f"Poisson and periodic flows, same seed twice: {f} {'identical' if same_bytes else 'DIFFERS'}")
        bad += not same_bytes
    with open(os.path.join(work, "poisson1/events.csv")) as f:
        kinds = [r["worker"] for r in csv.DictReader(f) if r["kind"] == "traffic"]
    ok = kinds.count("0") >= 10 and kinds.count("1") >= 10
    print(f"traffic rows: {kinds.count('0')} Poisson transfers, {kinds.count('1')} periodic ones"
          f"{'' if ok else '  <-- too few'}")
    bad += not ok
    same = all(a["test_acc"] == b["test_acc"] for a, b in zip(alone, bulk)) and \
        all(a["test_acc"] == b["test_acc"] for a, b in zip(alone, two_a))
    if not same:
        print("the learning differs between the runs (only time should)")
        bad += 1
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
