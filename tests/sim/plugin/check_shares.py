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

Usage: check_shares.py EMBED_JOBS DIR (the folder of star-tenant.xml and job.ini) WORK_DIR"""
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
    embed, d, work = sys.argv[1:4]
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
    same = all(a["test_acc"] == b["test_acc"] for a, b in zip(alone, bulk)) and \
        all(a["test_acc"] == b["test_acc"] for a, b in zip(alone, two_a))
    if not same:
        print("the learning differs between the runs (only time should)")
        bad += 1
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
