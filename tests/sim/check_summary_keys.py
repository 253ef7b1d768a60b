#!/usr/bin/python3
"""summary.json lists every scenario key that `byzgrid keys` prints, with its resolved value and where it came from.

usage: check_summary_keys.py BYZGRID SCENARIO_DIR WORKDIR

Runs the quick start twice (simulated and --driver) with a few overrides and checks, for both summaries, that the
"config" and "config_source" objects hold exactly the keys `byzgrid keys` lists, that --set, file and default
sources are told apart, and that auto values are reported as the engine resolved them. A new key that is declared
but missing from summary.json (or printed by `keys` but not declared) fails here.
"""
import json
import os
import re
import subprocess
import sys


def listed_keys(byzgrid):
    out = subprocess.run([byzgrid, "keys"], capture_output=True, text=True, check=True).stdout
    keys, section = [], None
    for line in out.splitlines():
        m = re.match(r"^  \[(\w+)\]$", line)
        if m:
            section = m.group(1)
            continue
        m = re.match(r"^    (\w+)\s", line)
        if m and section:
            keys.append((section, m.group(1)))
    return keys


def fail(msg):
    print("check_summary_keys: " + msg, file=sys.stderr)
    sys.exit(1)


def main():
    byzgrid, scen, work = sys.argv[1:4]
    keys = listed_keys(byzgrid)
    if len(keys) < 80:
        fail(f"`byzgrid keys` lists only {len(keys)} keys")
    for mode in ("simulated", "driver"):
        out = os.path.join(work, "summary_keys_" + mode)
        cmd = [byzgrid, "run", os.path.join(scen, "quickstart.ini"), "--out", out, "--quiet",
               "--set", "run.rounds=4", "--set", "aggregator.cc_tau=5", "--set", "attack.name=alie"]
        if mode == "driver":
            cmd.append("--driver")
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            fail(f"{' '.join(cmd)} exited {p.returncode}: {p.stderr}")
        with open(os.path.join(out, "summary.json")) as f:
            s = json.load(f)
        cfg, src = s["config"], s["config_source"]
        declared = {(sec, k) for sec in cfg for k in cfg[sec]}
        missing = [f"{a}.{b}" for a, b in keys if (a, b) not in declared]
        extra = sorted(f"{a}.{b}" for a, b in declared - set(keys))
        if missing or extra:
            fail(f"{mode}: summary.json config lacks {missing}, has unlisted {extra}")
        for sec, k in keys:
            if src.get(sec, {}).get(k) not in ("default", "file", "--set", "method"):
                fail(f"{mode}: {sec}.{k} has no source in config_source")
        checks = [
            (cfg["aggregator"]["cc_tau"] == 5 and src["aggregator"]["cc_tau"] == "--set", "aggregator.cc_tau = 5 (--set)"),
            (cfg["method"]["lr"] == 8 and src["method"]["lr"] == "file", "method.lr = 8 (file)"),
            (cfg["compressor"]["k"] == 12 and src["compressor"]["k"] == "file", "compressor.k = 12 (file)"),
            (src["aggregator"]["rfa_iters"] == "default", "aggregator.rfa_iters (default)"),
            (cfg["partition"]["name"] == "iid", "partition.name auto resolved to iid"),
            (cfg["data"]["normalize"] is True, "data.normalize auto resolved to true for LIBSVM"),
            (isinstance(cfg["attack"]["z"], float) and abs(cfg["attack"]["z"] - 0.9085) < 1e-3,
             "attack.z auto resolved for n = 20, f = 9"),
            (cfg["workers"]["hosts"] == "w0..w19", "workers.hosts as written"),
            (cfg["platform"]["network_model"] == "LV08", "platform.network_model"),
            (cfg["run"]["rounds"] == 4 and src["run"]["rounds"] == "--set", "run.rounds = 4 (--set)"),
        ]
        for ok, what in checks:
            if not ok:
                fail(f"{mode}: expected {what}; config = {json.dumps(cfg)}")
    # A method's own compressor (the scenario names none) is reported as such.
    ini = os.path.join(work, "summary_keys_method.ini")
    with open(ini, "w") as f:
        f.write(f"[data]\ndataset = a9a\n[method]\nname = mom-sgd\n[platform]\nfile = {scen}/../platforms/star-hetero.xml\n")
    out = os.path.join(work, "summary_keys_method")
    p = subprocess.run([byzgrid, "run", ini, "--out", out, "--quiet", "--driver", "--set", "run.rounds=2"],
                       capture_output=True, text=True)
    if p.returncode != 0:
        fail(f"mom-sgd run exited {p.returncode}: {p.stderr}")
    with open(os.path.join(out, "summary.json")) as f:
        s = json.load(f)
    if s["config"]["compressor"]["name"] != "identity" or s["config_source"]["compressor"]["name"] != "method":
        fail(f"mom-sgd: compressor {s['config']['compressor']['name']} from {s['config_source']['compressor']['name']}")
    print(f"check_summary_keys: {len(keys)} keys present with values and sources in both runners")


if __name__ == "__main__":
    main()
