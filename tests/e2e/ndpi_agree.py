"""Compare the sensor's nDPI labels with Debian's ndpiReader (same nDPI).

For each capture: run ndpiReader (-C csv) and the sensor (AGENT_PCAP_FILE),
match flows by their 5-tuple (the two endpoints in either order, and the IP
protocol), and count how many matched flows carry the same label. The label
is nDPI's "master.app" name as ndpiReader prints it ("TLS.YouTube", "DNS"):
from the sensor's "app" object, `protocol` alone when it equals
`application`, else `protocol.application`. When several flows share a
5-tuple, their labels are compared as multisets.

Usage: python3 tests/e2e/ndpi_agree.py [--all | FILE...]   (prints a table)
"""

import collections
import csv
import io
import json
import os
import pathlib
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent.parent
PCAPS = REPO.parent / "shared" / "pcaps" / "ndpi"


def key(proto, a, pa, b, pb):
    e1, e2 = (a, str(pa)), (b, str(pb))
    return (str(proto),) + (e1 + e2 if e1 <= e2 else e2 + e1)


def reader_flows(pcap, tmpdir):
    out = os.path.join(tmpdir, "reader.csv")
    subprocess.run(["ndpiReader", "-q", "-i", str(pcap), "-C", out], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=120, check=False)
    flows = collections.defaultdict(list)
    if not os.path.exists(out):
        return flows
    with open(out, newline="", errors="replace") as f:
        text = f.read().lstrip("#")
    for row in csv.DictReader(io.StringIO(text)):
        try:
            k = key(row["protocol"], row["src_ip"], row["src_port"], row["dst_ip"], row["dst_port"])
        except KeyError:
            continue
        flows[k].append(row["ndpi_proto"])
    return flows


def sensor_label(app):
    p, a = app["protocol"], app["application"]
    return p if p == a else p + "." + a


def sensor_flows(tracer, pcap, env=None):
    e = {k: v for k, v in os.environ.items() if not k.startswith("AGENT_")}
    e.update({"AGENT_PCAP_FILE": str(pcap), "AGENT_USER": "root", "LOG_LEVEL": "error", "AGENT_DPI": "on"})
    e.update(env or {})
    r = subprocess.run([tracer], env=e, capture_output=True, text=True, timeout=300, check=False)
    for mark in ("Sanitizer", "runtime error"):
        assert mark not in r.stderr, r.stderr[-4000:]
    flows = collections.defaultdict(list)
    for line in r.stdout.splitlines():
        ev = json.loads(line)
        if ev.get("type") != "flow" or not ev.get("final", True) or "app" not in ev:
            continue
        k = key(ev["protocol_number"], ev["src_ip"], ev["src_port"], ev["dst_ip"], ev["dst_port"])
        flows[k].append(sensor_label(ev["app"]))
    return flows, r.returncode


def compare(tracer, pcap):
    """(reader flows, matched flows, agreeing flows, [(key, reader, sensor)] disagreements)."""
    with tempfile.TemporaryDirectory() as tmp:
        rd = reader_flows(pcap, tmp)
    sn, _ = sensor_flows(tracer, pcap)
    total = sum(len(v) for v in rd.values())
    matched = agree = 0
    diffs = []
    for k, labels in rd.items():
        mine = sn.get(k)
        if not mine:
            continue
        matched += min(len(labels), len(mine))
        common = collections.Counter(labels) & collections.Counter(mine)
        n = sum(common.values())
        agree += n
        if n < min(len(labels), len(mine)):
            diffs.append((k, sorted(labels), sorted(mine)))
    return total, matched, agree, diffs


def main(argv):
    tracer = os.environ.get("TRACER_BIN") or str(REPO / "build" / "asan" / "tracer-sensor")
    verbose = "-v" in argv
    argv = [a for a in argv if a != "-v"]
    if not argv or argv == ["--all"]:
        files = sorted(p for p in PCAPS.iterdir() if p.suffix in (".pcap", ".pcapng", ".cap"))
    else:
        files = [pathlib.Path(a) for a in argv]
    tot = mat = agr = 0
    print("| capture | ndpiReader flows | matched by 5-tuple | same label | agreement |")
    print("|---|---|---|---|---|")
    for p in files:
        t, m, a, diffs = compare(tracer, p)
        tot, mat, agr = tot + t, mat + m, agr + a
        pct = "%.1f%%" % (100.0 * a / m) if m else "-"
        print("| %s | %d | %d | %d | %s |" % (p.name, t, m, a, pct), flush=True)
        if verbose:
            for d in diffs[:10]:
                print("    ", d, flush=True)
    pct = "%.2f%%" % (100.0 * agr / mat) if mat else "-"
    print("| **all %d captures** | %d | %d | %d | %s |" % (len(files), tot, mat, agr, pct))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
