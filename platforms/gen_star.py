#!/usr/bin/env python3
"""Write a heterogeneous star platform (SimGrid platform XML 4.1) for byzgrid.

One parameter server and N workers sit in a single routing="Cluster" zone: every host has its own
SPLITDUPLEX access link, and all access links meet on one backbone, so the route server -> wK is
l_server_UP -> bb -> l_wK_DOWN (and wK -> server is l_wK_UP -> bb -> l_server_DOWN).

The output is deterministic (no RNG): worker k gets CPU class k mod 5 and link class k mod 6, so the
30 (CPU, link) combinations repeat with period 30 and the CPU speed is not tied to the link speed.
Slower access links get higher latencies (edge / DSL-like at the bottom, campus LAN at the top).

Units are written the way SimGrid 3.32 parses them (case-sensitive, SI, no space): "Gf" = 1e9 flop/s,
"Mbps" = 1e6 bit/s = 125000 B/s, "Gbps" = 1.25e8 B/s, "ms" / "us" for latency.

Examples:
    platforms/gen_star.py --workers 24 --out platforms/star-hetero.xml
    platforms/gen_star.py --workers 24 --table        # print the worker class table (Markdown)
"""

import argparse
import sys

# Cyclic worker classes. Worker k uses CPU_CLASSES[k % 5] and LINK_CLASSES[k % 6].
CPU_CLASSES_GF = [1, 2, 4, 8, 16]                     # Gflop/s
LINK_CLASSES = [                                      # (bandwidth in Mbit/s, latency in ms)
    (1, 20.0),
    (5, 10.0),
    (10, 5.0),
    (25, 2.0),
    (50, 1.0),
    (100, 0.5),
]

SERVER_SPEED_GF = 20
SERVER_BW_MBPS = 1000      # 1 Gbps
SERVER_LAT_US = 50
BACKBONE_BW_MBPS = 10000   # 10 Gbps
BACKBONE_LAT_US = 100


def worker_class(k):
    """Return (cpu_class, link_class, speed_gf, bw_mbps, lat_ms) of worker k."""
    c = k % len(CPU_CLASSES_GF)
    l = k % len(LINK_CLASSES)
    bw, lat = LINK_CLASSES[l]
    return c, l, CPU_CLASSES_GF[c], bw, lat


def fmt_bw(mbps):
    """Bandwidth in bit/s with the largest exact SI prefix SimGrid accepts (Gbps, Mbps)."""
    if mbps % 1000 == 0:
        return "%dGbps" % (mbps // 1000)
    return "%gMbps" % mbps


def fmt_lat_ms(ms):
    """Latency: whole milliseconds as 'ms', fractions as 'us' (SimGrid rejects the micro sign)."""
    if float(ms).is_integer():
        return "%dms" % ms
    return "%gus" % (ms * 1000.0)


def saturation_point(server_mbps, limit=100000):
    """Smallest worker count whose summed access bandwidth exceeds server_mbps (None past limit)."""
    total = 0
    for k in range(limit):
        total += worker_class(k)[3]
        if total > server_mbps:
            return k + 1
    return None


def build_xml(n, cmdline):
    bws = [worker_class(k)[3] for k in range(n)]
    total = sum(bws)
    ratio = total / SERVER_BW_MBPS
    sat_n = saturation_point(SERVER_BW_MBPS)
    bb_n = saturation_point(BACKBONE_BW_MBPS)
    verdict = ("does NOT saturate" if total <= SERVER_BW_MBPS else "SATURATES")

    out = []
    w = out.append
    w("<?xml version='1.0'?>")
    w('<!DOCTYPE platform SYSTEM "https://simgrid.org/simgrid.dtd">')
    w("<!--")
    w("  byzgrid heterogeneous star: 1 server + %d workers. GENERATED, do not edit by hand." % n)
    w("  Regenerate with: %s (exact command in platforms/README.md)" % cmdline)
    w("")
    w("  Sum of worker access bandwidths = %d Mbps (%.4g MB/s) vs server access link %d Mbps (1 Gbps)."
      % (total, total / 8.0, SERVER_BW_MBPS))
    w("  Ratio %.3f: the server link %s when all %d workers send (or receive) at once;"
      % (ratio, verdict, n))
    if total <= SERVER_BW_MBPS:
        w("  each flow then runs at its own access-link rate (CM02, crosstraffic off).")
    else:
        w("  concurrent flows share the server link max-min fairly (CM02, crosstraffic off).")
    w("  With these cyclic classes the server link saturates from %s workers on, the 10 Gbps backbone"
      % sat_n)
    w("  from %s on. The server link is SPLITDUPLEX: uploads share l_server_DOWN, broadcasts" % bb_n)
    w("  share l_server_UP, and the two directions do not compete.")
    w("")
    w("  Server: %d Gf, %s / %s access link. Backbone bb: %s / %s."
      % (SERVER_SPEED_GF, fmt_bw(SERVER_BW_MBPS), fmt_lat_ms(SERVER_LAT_US / 1000.0),
         fmt_bw(BACKBONE_BW_MBPS), fmt_lat_ms(BACKBONE_LAT_US / 1000.0)))
    w("  Worker wK: CPU class K mod %d (%s Gf), link class K mod %d (%s)."
      % (len(CPU_CLASSES_GF), "/".join(str(s) for s in CPU_CLASSES_GF), len(LINK_CLASSES),
         ", ".join("%s@%s" % (fmt_bw(b), fmt_lat_ms(l)) for b, l in LINK_CLASSES)))
    w("  Routes: server->wK = l_server_UP + bb + l_wK_DOWN; latencies add, bandwidth is the minimum.")
    w("  Units (SimGrid 3.32): 1Mbps = 125000 B/s, 1Gbps = 1.25e8 B/s, 1Gf = 1e9 flop/s.")
    # XML forbids "--" inside a comment (SimGrid tolerates it, expat/xmllint do not).
    body = out[out.index("<!--") + 1:]
    assert not any("--" in line for line in body), "double hyphen in the XML comment"
    w("-->")
    w('<platform version="4.1">')
    w('  <zone id="star" routing="Cluster">')

    def host(name, speed_gf, bw_mbps, lat_ms, props):
        w('    <host id="%s" speed="%dGf">' % (name, speed_gf))
        for key, val in props:
            w('      <prop id="%s" value="%s"/>' % (key, val))
        w("    </host>")
        w('    <link id="l_%s" bandwidth="%s" latency="%s" sharing_policy="SPLITDUPLEX"/>'
          % (name, fmt_bw(bw_mbps), fmt_lat_ms(lat_ms)))
        w('    <host_link id="%s" up="l_%s_UP" down="l_%s_DOWN"/>' % (name, name, name))

    host("server", SERVER_SPEED_GF, SERVER_BW_MBPS, SERVER_LAT_US / 1000.0, [("role", "server")])
    for k in range(n):
        c, l, speed, bw, lat = worker_class(k)
        host("w%d" % k, speed, bw, lat,
             [("role", "worker"), ("cpu_class", str(c)), ("link_class", str(l))])
    w('    <backbone id="bb" bandwidth="%s" latency="%s"/>'
      % (fmt_bw(BACKBONE_BW_MBPS), fmt_lat_ms(BACKBONE_LAT_US / 1000.0)))
    w("  </zone>")
    w("</platform>")
    return "\n".join(out) + "\n"


def class_table(n):
    rows = ["| worker | CPU class | speed | link class | access bandwidth | access latency |",
            "|---|---|---|---|---|---|"]
    for k in range(n):
        c, l, speed, bw, lat = worker_class(k)
        rows.append("| w%d | %d | %d Gf | %d | %d Mbps | %g ms |" % (k, c, speed, l, bw, lat))
    rows.append("")
    rows.append("Sum of worker access bandwidths: %d Mbps (server link %d Mbps)."
                % (sum(worker_class(k)[3] for k in range(n)), SERVER_BW_MBPS))
    return "\n".join(rows) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Write a deterministic heterogeneous star platform (SimGrid XML 4.1): "
                    "host 'server' plus workers w0..w{N-1} in one Cluster zone with a backbone.",
        epilog="Worker k: CPU %s Gf[k mod 5]; link %s Mbps[k mod 6] with latencies %s ms."
               % (CPU_CLASSES_GF, [b for b, _ in LINK_CLASSES], [l for _, l in LINK_CLASSES]))
    ap.add_argument("--workers", type=int, default=24, metavar="N",
                    help="number of workers (default: 24)")
    ap.add_argument("--out", default="-", metavar="FILE",
                    help="output XML file (default: '-' = standard output)")
    ap.add_argument("--table", action="store_true",
                    help="print the per-worker class table (Markdown) instead of XML")
    args = ap.parse_args(argv)
    if args.workers < 1:
        ap.error("--workers must be >= 1 (got %d)" % args.workers)

    if args.table:
        sys.stdout.write(class_table(args.workers))
        return 0

    # Spelled without double hyphens because it goes inside an XML comment.
    cmd = "platforms/gen_star.py with options workers=%d" % args.workers
    if args.out != "-":
        cmd += " out=%s" % args.out
    text = build_xml(args.workers, cmd)
    if args.out == "-":
        sys.stdout.write(text)
    else:
        with open(args.out, "w", encoding="ascii") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
