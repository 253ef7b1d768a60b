#!/usr/bin/env python3
"""Link energy (energy.link_idle_w / link_busy_w on a generated star, CM02, crosstraffic off) and WiFi platforms.

With idle = busy = P every link draws P whatever its traffic, so SimGrid's plugin must give exactly
(links carrying wattage_range) * P * T. With idle < busy the total lies strictly between the idle and busy bounds.
Both link powers 0: links_j = 0. The same platforms loaded as files give the same Joules (the plugin runs only
for a file that names the property). A WiFi platform never crashes: a route over WiFi is refused (exit 2, one line);
WiFi links off the run's routes leave the run going, without the link plugin (links_j null, with a note)."""
import json, os, shutil, subprocess, sys, tempfile

cli, scen = sys.argv[1], os.path.join(sys.argv[2], "quickstart.ini")
tmp = tempfile.mkdtemp(prefix="bg-link-")
base = ["platform.topology=star", "workers.n=3", "workers.hosts=w0..w2", "attack.f=0", "attack.name=none",
        "run.rounds=5", "platform.network_model=CM02", "platform.crosstraffic=false"]


def run(name, sets):
    out = os.path.join(tmp, name)
    args = [cli, "run", scen, "--quiet", "--out", out]
    for s in sets:
        args += ["--set", s]
    p = subprocess.run(args, capture_output=True, text=True, timeout=600)
    return p, out


def energy(name, sets):
    p, out = run(name, base + sets)
    assert p.returncode == 0, (name, p.returncode, p.stderr)
    with open(os.path.join(out, "summary.json")) as f:
        d = json.load(f)
    with open(os.path.join(out, "platform.xml")) as f:
        props = f.read().count('id="wattage_range"')
    return d["energy"], d["time"]["sim_time_s"], props


def close(a, b, what):
    print(f"{what}: {a!r} vs {b!r}")
    assert abs(a - b) <= 1e-6 * abs(b), what


e, T, k = energy("flat", ["energy.link_idle_w=7", "energy.link_busy_w=7"])
assert k == 8, k   # server and 3 workers, each an UP and a DOWN link (the <backbone> takes none)
close(e["links_j"], k * 7 * T, "idle = busy = 7 W")
assert e["link_idle_w"] == 7 and e["link_busy_w"] == 7
close(e["total_j"], e["server_j"] + e["honest_workers_j"] + e["byzantine_workers_j"] + e["links_j"], "total")

e2, T2, k2 = energy("slope", ["energy.link_idle_w=3", "energy.link_busy_w=1000"])
close(T2, T, "same simulated time with other link powers")
print(f"idle 3 W, busy 1000 W: {e2['links_j']!r}, bounds {k2 * 3 * T!r} .. {k2 * 1000 * T!r}")
assert k2 * 3 * T < e2["links_j"] < k2 * 1000 * T

e0, T0, k0 = energy("off", [])
assert k0 == 0 and e0["links_j"] == 0 and e0["link_idle_w"] == 0, e0
close(T0, T, "same simulated time without link powers")

# The same platforms as files (topology = file): the link plugin runs when the file names wattage_range (or the older
# watt_range) and is skipped otherwise, with the same Joules either way.
as_file = ["platform.topology=file", "platform.file="]
ef, Tf, _ = energy("slope_file", as_file[:1] + [as_file[1] + os.path.join(tmp, "slope", "platform.xml")])
assert ef["links_j"] == e2["links_j"] and Tf == T2, (ef["links_j"], e2["links_j"])
old_name = os.path.join(tmp, "slope_watt_range.xml")
with open(os.path.join(tmp, "slope", "platform.xml")) as f, open(old_name, "w") as g:
    g.write(f.read().replace('id="wattage_range"', 'id="watt_range"'))
p, out = run("slope_old", base + as_file[:1] + [as_file[1] + old_name])
assert p.returncode == 0, (p.returncode, p.stderr)
with open(os.path.join(out, "summary.json")) as f:
    assert json.load(f)["energy"]["links_j"] == e2["links_j"]
e0f, _, _ = energy("off_file", as_file[:1] + [as_file[1] + os.path.join(tmp, "off", "platform.xml")])
assert e0f["links_j"] == 0 and e0f["total_j"] == e0["total_j"], e0f
print("as files: links_j", ef["links_j"], "(wattage_range and watt_range),", e0f["links_j"], "(none)")

# WiFi: SimGrid's examples/platforms/wifi.xml layout, plus wired hosts x0, x1 next to the server.
wifi = os.path.join(tmp, "wifi.xml")
with open(wifi, "w") as f:
    f.write("""<?xml version='1.0'?>
<!DOCTYPE platform SYSTEM "https://simgrid.org/simgrid.dtd">
<platform version="4.1">
  <zone id="world" routing="Full">
    <zone id="wlan" routing="Wifi">
      <prop id="access_point" value="ap"/>
      <host id="w0" speed="1Gf"/>
      <host id="w1" speed="1Gf"/>
      <link id="radio" sharing_policy="WIFI" bandwidth="54Mbps,36Mbps" latency="0ms"/>
      <router id="ap"/>
    </zone>
    <zone id="wired" routing="Full">
      <host id="server" speed="10Gf"/>
      <host id="x0" speed="1Gf"/>
      <host id="x1" speed="1Gf"/>
      <link id="lan" bandwidth="100Mbps" latency="1ms"/>
      <route src="server" dst="x0"><link_ctn id="lan"/></route>
      <route src="server" dst="x1"><link_ctn id="lan"/></route>
    </zone>
    <link id="uplink" bandwidth="100Mbps" latency="1ms"/>
    <zoneRoute src="wlan" dst="wired" gw_src="ap" gw_dst="server"><link_ctn id="uplink"/></zoneRoute>
  </zone>
</platform>
""")
wsets = ["platform.file=" + wifi, "platform.topology=file", "workers.n=2", "attack.f=0", "attack.name=none",
         "run.rounds=3"]
p, _ = run("wifi_route", wsets + ["workers.hosts=w0..w1"])
print("WiFi route:", p.returncode, p.stderr.strip())
assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1 and "WiFi link 'radio'" in p.stderr
p, out = run("wifi_off_route", wsets + ["workers.hosts=x0..x1"])
assert p.returncode == 0, (p.returncode, p.stderr)
with open(os.path.join(out, "summary.json")) as f:
    ew = json.load(f)["energy"]
print("WiFi off the routes:", ew["links_j"], ew["links_note"])
assert ew["links_j"] is None and "WiFi" in ew["links_note"] and ew["total_j"] > 0
shutil.rmtree(tmp)
print("ok")
