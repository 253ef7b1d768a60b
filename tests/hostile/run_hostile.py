#!/usr/bin/env python3
"""Hostile inputs against the byzgrid CLI, checked against the promise every bad input gets:
exit 0, 1 or 2 (130/143 for signals), no death by signal, no hang (60 s), no SimGrid backtrace or C++ abort text,
every error a single stderr line, and a summary.json that parses whenever one is written.

    run_hostile.py BYZGRID SCENARIOS_DIR WORKDIR [--quick]

Cases: every scenario key from `byzgrid keys` with values a user can get wrong (NaN, Inf, negative, overflow,
empty, words, control bytes, non-UTF-8), broken scenario files (/dev/null, /dev/zero, a folder, a FIFO, binary,
long lines), data paths that are not regular files, and the component commands with hostile flags and stdin.
--quick: a deterministic subset of the key values (CI); without it, all of them.
Prints one line per failure and a summary; exit 1 if any case broke the promise."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

BAD_TEXT = ("Backtrace", "terminate called", "Assertion", "xbt_die", "The Impossible Did Happen", "Segmentation",
            "AddressSanitizer", "runtime error:", "std::", "Aborted", "core dumped")

VALUES = ["nan", "inf", "-inf", "-1", "0", "1e400", "-1e400", "99999999999999999999999", "1e-400", "", "abc",
          "1,2", "0x10", "  7  ", "1e308", "4294967297", "-0", "1.5", "\x01", "\xff\xfe", "auto"]
QUICK_VALUES = ["nan", "-1", "1e400", "\xff\xfe"]

def no_asan_warning(err):
    """The sanitizer build's stack warning (3 lines, not byzgrid's own) is no error line."""
    return re.sub(r"==\d+==WARNING: ASan is ignoring requested __asan_handle_no_return.*\n.*\n.*\n", "", err)


failures = []
ran = 0


def check(label, args, stdin=None, timeout=60, out_dir=None, allowed=(0, 1, 2), cwd=None):
    global ran
    ran += 1
    t0 = time.time()
    try:
        p = subprocess.run(args, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                           cwd=cwd)
    except subprocess.TimeoutExpired:
        failures.append(f"{label}: hang (> {timeout} s)")
        return None
    err = p.stderr.decode("utf-8", "replace")
    err = no_asan_warning(err)
    if p.returncode < 0:
        failures.append(f"{label}: killed by signal {-p.returncode}: {err[:300]!r}")
        return p
    if p.returncode not in allowed:
        failures.append(f"{label}: exit {p.returncode}: {err[:300]!r}")
    for bad in BAD_TEXT:
        if bad in err:
            failures.append(f"{label}: '{bad}' on stderr: {err[:300]!r}")
            break
    lines = [l for l in err.split("\n") if l.strip()]
    if p.returncode != 0 and len(lines) != 1:
        failures.append(f"{label}: exit {p.returncode} with {len(lines)} stderr lines: {err[:400]!r}")
    if out_dir and os.path.exists(os.path.join(out_dir, "summary.json")):
        try:
            with open(os.path.join(out_dir, "summary.json"), "rb") as f:
                json.loads(f.read().decode("utf-8"))
        except Exception as e:  # invalid UTF-8 or JSON
            failures.append(f"{label}: summary.json does not parse: {e}")
    if time.time() - t0 > timeout:
        failures.append(f"{label}: took {time.time() - t0:.0f} s")
    return p


def keys(bz):
    out = subprocess.run([bz, "keys"], stdout=subprocess.PIPE, check=True).stdout.decode()
    sec, found = None, []
    for line in out.splitlines():
        m = re.match(r"^  \[(\w+)\]\s*$", line)
        if m:
            sec = m.group(1)
            continue
        m = re.match(r"^    (\w+)\s", line)
        if m and sec:
            found.append(f"{sec}.{m.group(1)}")
    return found


def main():
    if len(sys.argv) < 4:
        print(__doc__)
        return 2
    bz, scen, work = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2]), os.path.abspath(sys.argv[3])
    quick = "--quick" in sys.argv
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    qs = os.path.join(scen, "quickstart.ini")
    small = ["--set", "run.rounds=2", "--set", "run.eval_train=false", "--quiet"]
    out = os.path.join(work, "o")

    # 1. every key, every hostile value (a short run when the value is accepted)
    vals = QUICK_VALUES if quick else VALUES
    for k in keys(bz):
        for v in vals:
            if k in ("run.rounds",) and v not in ("", "abc", "nan", "-1"):
                continue  # huge round counts are valid requests for long runs
            if k == "run.threads" and v not in ("", "abc", "nan", "-1", "1e400"):
                continue
            check(f"--set {k}={v!r}", [bz, "run", qs, "--out", out, "--set", f"{k}={v}"] + small, out_dir=out,
                  timeout=60)

    # 2. scenario files that are not scenarios
    fifo = os.path.join(work, "fifo")
    os.mkfifo(fifo)
    long_line = os.path.join(work, "long.ini")
    with open(long_line, "w") as f:
        f.write("[run]\n;" + "x" * 300 + "\nrounds = 2\n" + "name = " + "y" * 5000 + "\n")
    binary = os.path.join(work, "bin.ini")
    with open(binary, "wb") as f:
        f.write(bytes(range(256)) * 40)
    for label, path in [("/dev/null", "/dev/null"), ("/dev/zero", "/dev/zero"), ("a folder", work),
                        ("a FIFO", fifo), ("missing", os.path.join(work, "nope.ini")), ("long lines", long_line),
                        ("binary", binary)]:
        check(f"scenario {label}", [bz, "run", path, "--out", out, "--quiet"], out_dir=out, timeout=60)

    # 3. data and platform paths that are not regular files
    for key in ("data.train", "data.test", "platform.file"):
        for label, path in [("/dev/zero", "/dev/zero"), ("a FIFO", fifo), ("a folder", work), ("/dev/null", "/dev/null")]:
            check(f"{key} = {label}", [bz, "run", qs, "--out", out, "--set", f"{key}={path}"] + small, out_dir=out,
                  timeout=60)

    # 4. command-line abuse
    for args in (["--cfg=help"], ["--cfg=nope:1"], ["--cfg=network/model:nope"], ["--cfg=garbage"], ["--bogus"],
                 ["--out"], ["--set"], ["--set", "nodot"], ["--set", "a.b.c=1"], ["--out", ""], ["--out", "/"],
                 ["--set", "run.name=../../escape"], ["--set", "run.name=a/b"]):
        check(f"run {' '.join(args)!r}", [bz, "run", qs] + args + ["--quiet"], out_dir=None, timeout=60, cwd=work)
    for args in (["keys", "extra"], ["list", "x"], ["platform"], ["nope"], []):
        check(f"byzgrid {' '.join(args)!r}", [bz] + args, timeout=60)

    # 5. component commands: hostile flags and stdin
    rows = b"1,2,3\n4,5,6\n7,8,9\n10,11,12\n"
    comp = [["aggregate", "--rule", "cm", "--f", "1e30"], ["aggregate", "--rule", "cm", "--f", "inf"],
            ["aggregate", "--rule", "cm", "--f", "-1"], ["aggregate", "--rule", "krum", "--f", "1", "--krum-m", "-3"],
            ["aggregate", "--rule", "rfa", "--f", "1", "--rfa-iters", "-1"],
            ["aggregate", "--rule", "cc", "--f", "1", "--cc-iters", "1e13"],
            ["compress", "--name", "topk", "--k", "-1"], ["compress", "--name", "qsgd"],
            ["compress", "--name", "randk", "--k", "1"], ["attack", "--name", "gaussian", "--f", "1e12"],
            ["attack", "--name", "alie", "--f", "99999999999999999999"], ["aggregate", "--rule", "nope", "--f", "1"],
            ["aggregate"], ["compress"], ["attack"]]
    for args in comp:
        check(f"{' '.join(args)}", [bz] + args, stdin=rows, timeout=60)
    for label, data in [("empty", b""), ("binary", bytes(range(256)) * 10), ("huge values", b"3.4e38,-3.4e38,1\n" * 4),
                        ("1e-50", b"1e-50,2,3\n4,5,6\n7,8,9\n"), ("ragged", b"1,2\n3\n4,5,6\n"),
                        ("nan", b"nan,1\n2,3\n4,5\n"), ("long line", b"1," * 200000 + b"1\n" + b"1," * 200000 + b"1\n")]:
        for args in (["aggregate", "--rule", "cm", "--f", "0"], ["compress", "--name", "qsgd"],
                     ["compress", "--name", "randk", "--k", "1"], ["attack", "--name", "ipm", "--f", "1"]):
            p = check(f"{' '.join(args)} < {label}", [bz] + args, stdin=data, timeout=60)
            if p is not None and p.returncode == 0 and label == "huge values":
                text = p.stdout.decode("utf-8", "replace").lower()
                if "nan" in text or "inf" in text:
                    failures.append(f"{' '.join(args)} < {label}: finite input gave non-finite output")

    # 6. signals: SIGINT / SIGTERM during a run end it cleanly with 130 / 143 and a parseable summary
    for sig, code in ((signal.SIGINT, 130), (signal.SIGTERM, 143)):
        d = os.path.join(work, f"sig{code}")
        p = subprocess.Popen([bz, "run", qs, "--out", d, "--set", "run.rounds=10000000", "--quiet"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(1.5)
        p.send_signal(sig)
        try:
            _, err = p.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            failures.append(f"signal {sig.name}: no exit within 60 s")
            continue
        ran_ok = p.returncode == code and len(no_asan_warning(err.decode()).strip().split("\n")) == 1
        if not ran_ok:
            failures.append(f"signal {sig.name}: exit {p.returncode}: {err[:300]!r}")
        try:
            with open(os.path.join(d, "summary.json")) as f:
                if not json.load(f).get("interrupted"):
                    failures.append(f"signal {sig.name}: summary.json not marked interrupted")
        except Exception as e:
            failures.append(f"signal {sig.name}: summary.json: {e}")

    for f in failures:
        print("FAIL", f)
    print(f"hostile inputs: {ran} cases, {len(failures)} broke the promise")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
