#!/usr/bin/python3
"""events.csv (run.events = true) agrees with the run it describes, and recording it changes nothing.

usage: check_events.py BYZGRID SCENARIO_DIR WORKDIR

For a few configurations of the quick start (eval_every = 1, so trace.csv has every round's end time) it runs
byzgrid twice, with run.events on and off, and checks:
  * trace.csv is byte-identical with and without events (recording does not move simulated time);
  * the upload bytes of events.csv add up to the trace's final bytes_up, the download bytes to bytes_down;
  * every row has start_s <= end_s, end_s never decreases down the file (rows are written as activities end);
  * every event of round r lies within [sim_time of round r, sim_time of round r + 1] from trace.csv; the server's
    broadcast row starts the round and its aggregate row ends it exactly there;
  * each round has one download, one compute and one upload per worker, in that order per worker (an honest
    compute starts when the download ends, an attacker's may start later (omniscient ones wait for the honest
    messages); the upload is posted when the compute ends), download starts when the broadcast is posted, and the aggregation starts when
    the last upload has arrived.
Then a run whose events file cannot be written (file size limit) stops with exit 1 and one clear line, leaving a
prefix of complete rows.
"""
import csv
import os
import resource
import signal
import subprocess
import sys

EPS = 1e-9


def fail(msg):
    print("check_events: " + msg, file=sys.stderr)
    sys.exit(1)


def run(byzgrid, scen, out, sets, limit=None):
    args = [byzgrid, "run", os.path.join(scen, "quickstart.ini"), "--out", out, "--quiet"]
    for s in sets:
        args += ["--set", s]

    def pre():
        if limit is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # a write past the limit fails with EFBIG instead
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.run(args, capture_output=True, text=True, preexec_fn=pre)


def read_trace(path):
    with open(path) as f:
        rows = list(csv.DictReader(f))
    return {int(r["round"]): r for r in rows}, rows[-1]


def check(byzgrid, scen, work, name, sets):
    on, off = os.path.join(work, name + "_on"), os.path.join(work, name + "_off")
    for out, ev in ((on, "true"), (off, "false")):
        p = run(byzgrid, scen, out, sets + ["run.eval_every=1", "run.events=" + ev])
        if p.returncode != 0:
            fail(f"{name}: byzgrid exited {p.returncode}: {p.stderr}")
    if os.path.exists(os.path.join(off, "events.csv")):
        fail(f"{name}: events.csv written with run.events=false")
    with open(os.path.join(on, "trace.csv"), "rb") as a, open(os.path.join(off, "trace.csv"), "rb") as b:
        if a.read() != b.read():
            fail(f"{name}: trace.csv differs with run.events on and off")
    trace, last = read_trace(os.path.join(on, "trace.csv"))
    with open(os.path.join(on, "summary.json")) as f:
        import json
        summary = json.load(f)
    n = len(summary["platform"]["workers"])
    byz = {w["rank"] for w in summary["platform"]["workers"] if w["byzantine"]}
    rounds = int(last["round"])
    with open(os.path.join(on, "events.csv")) as f:
        header = f.readline().strip()
        if header != "round,worker,kind,start_s,end_s,bytes":
            fail(f"{name}: header {header!r}")
        rows = list(csv.reader(f))
    up = down = 0.0
    prev_end = 0.0
    per = {}   # (round, worker, kind) -> (start, end, bytes)
    for k, (r, w, kind, s, e, b) in enumerate(rows, start=2):
        r, w, s, e, b = int(r), int(w), float(s), float(e), float(b)
        where = f"{name}: events.csv:{k}"
        if not s <= e:
            fail(f"{where}: start {s} > end {e}")
        if e < prev_end:
            fail(f"{where}: end {e} before the previous row's {prev_end}")
        prev_end = e
        t0, t1 = float(trace[r]["sim_time_s"]), float(trace[r + 1]["sim_time_s"])
        if s < t0 - EPS or e > t1 + EPS:
            fail(f"{where}: [{s}, {e}] outside round {r}'s [{t0}, {t1}]")
        if kind not in ("compute", "upload", "download", "broadcast", "aggregate"):
            fail(f"{where}: kind {kind!r}")
        if (kind in ("broadcast", "aggregate")) != (w == -1) or not -1 <= w < n:
            fail(f"{where}: worker {w} for kind {kind}")
        if kind in ("compute", "broadcast", "aggregate") and b != 0:
            fail(f"{where}: {kind} with {b} bytes")
        if (r, w, kind) in per:
            fail(f"{where}: a second {kind} row for worker {w} in round {r}")
        per[(r, w, kind)] = (s, e, b)
        up += b if kind == "upload" else 0
        down += b if kind == "download" else 0
    if len(rows) != rounds * (3 * n + 2):
        fail(f"{name}: {len(rows)} rows, expected {rounds} rounds x (3 x {n} workers + 2 server rows)")
    if up != float(last["bytes_up"]) or down != float(last["bytes_down"]):
        fail(f"{name}: events bytes up {up:.0f} down {down:.0f}, trace {last['bytes_up']} {last['bytes_down']}")
    for r in range(rounds):
        bs, be, _ = per[(r, -1, "broadcast")]
        as_, ae, _ = per[(r, -1, "aggregate")]
        if bs != float(trace[r]["sim_time_s"]) or abs(ae - float(trace[r + 1]["sim_time_s"])) > EPS:
            fail(f"{name}: round {r}: broadcast starts {bs}, aggregate ends {ae}; trace {trace[r]['sim_time_s']}, "
                 f"{trace[r + 1]['sim_time_s']}")
        last_up = 0.0
        for w in range(n):
            ds, de, _ = per[(r, w, "download")]
            cs, ce, _ = per[(r, w, "compute")]
            us, ue, _ = per[(r, w, "upload")]
            # omniscient attackers compute after waiting for the honest messages; everyone else at once
            if ds != be or (cs != de if w not in byz else cs < de) or us != ce or ue < us:
                fail(f"{name}: round {r} worker {w}: download [{ds}, {de}], compute [{cs}, {ce}], upload [{us}, {ue}],"
                     f" broadcast posted at {be}")
            last_up = max(last_up, ue)
        if as_ != last_up:
            fail(f"{name}: round {r}: aggregation starts {as_}, last upload in at {last_up}")
    print(f"{name}: {len(rows)} rows, {rounds} rounds, bytes up {up:.0f} down {down:.0f} = trace; "
          f"sim_time {last['sim_time_s']} s identical with events off")


def without_sanitizer_warning(text):
    """AddressSanitizer builds print one known three-line warning per simulated run (SimGrid switches actor stacks
    without telling it); it is no error report, so it is cut out before lines are counted."""
    lines = text.splitlines()
    for k, line in enumerate(lines):
        if "WARNING: ASan is ignoring requested __asan_handle_no_return" in line:
            return lines[:k] + lines[k + 3:]
    return lines


def check_write_failure(byzgrid, scen, work):
    out = os.path.join(work, "limit")
    p = run(byzgrid, scen, out, ["run.rounds=50", "run.events=true"], limit=20000)
    lines = [line for line in without_sanitizer_warning(p.stderr) if line.strip()]
    if p.returncode != 1 or len(lines) != 1 or "cannot write the events file" not in lines[0] \
            or "events.csv" not in lines[0]:
        fail(f"write failure: expected exit 1 and one line about events.csv, got {p.returncode}: {p.stderr}")
    with open(os.path.join(out, "events.csv")) as f:
        text = f.read()
    complete = text.split("\n")[1:-1]   # the last piece may be a row cut at the size limit
    if len(complete) < 10 or any(len(r.split(",")) != 6 for r in complete):
        fail(f"write failure: events.csv should keep complete rows, got {len(complete)}")
    print(f"write failure: exit 1, '{lines[0]}', {len(complete)} complete rows kept")


def main():
    if len(sys.argv) != 4:
        fail("usage: check_events.py BYZGRID SCENARIO_DIR WORKDIR")
    byzgrid, scen, work = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    # Omniscient IPM attackers that wait for the honest messages; LV08, the quick start's platform.
    check(byzgrid, scen, work, "ipm", ["run.rounds=30"])
    # Instant-oracle attackers (ALIE): they send at once, the server fills their content in.
    check(byzgrid, scen, work, "alie_oracle", ["run.rounds=20", "attack.name=alie", "attack.timing=oracle"])
    # A compressed downlink (the server computes before broadcasting), blind attackers, CM02.
    check(byzgrid, scen, work, "bc_cm02",
          ["run.rounds=20", "method.name=byz-ef21-bc", "downlink.name=topk", "attack.name=sf",
           "platform.network_model=CM02"])
    check_write_failure(byzgrid, scen, work)


if __name__ == "__main__":
    main()
