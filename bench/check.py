#!/usr/bin/python3
"""check.py — compare the sensor's flow records with the generator's truth.

Usage: check.py [--live] TRUTH.tsv OUTPUT...
OUTPUT: NDJSON (one event per line) or the receiver's dump (one POST body per
line: an object or an array). Each truth flow must appear exactly once as a
final record with the same initiator, responder, ports, protocol, VLAN,
per-direction packets, bytes and TCP flags; reading a file also the end
reason and first/last packet times (live, times are wall clock and the end
reason of UDP/ICMP flows depends on when the sensor stopped). Prints a line
and exits 1 on any difference.
"""
import json
import sys
from datetime import datetime, timezone

ORDER = [(0x02, "S"), (0x10, "A"), (0x01, "F"), (0x04, "R"),
         (0x08, "P"), (0x20, "U"), (0x40, "E"), (0x80, "C")]


def flags(v):
    return "".join(c for b, c in ORDER if v & b)


def us(ts):
    d = datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    return int(d.timestamp()) * 1000000 + d.microsecond


def main():
    args = sys.argv[1:]
    live = args and args[0] == "--live"
    if live:
        args = args[1:]
    truth = {}
    for line in open(args[0]):
        f = line.rstrip("\n").split("\t")
        key = (int(f[0]), int(f[2]), f[3], int(f[4]), f[5], int(f[6]))
        truth[key] = f
    seen, bad, extra, interim = set(), 0, 0, 0
    for path in args[1:]:
        for line in open(path):
            line = line.strip()
            if not line:
                continue
            obj = json.loads(line)
            for ev in obj if isinstance(obj, list) else [obj]:
                if ev.get("type") != "flow":
                    continue
                if not ev["final"]:
                    interim += 1
                    continue
                key = (ev["protocol_number"], ev["vlan_id"], ev["src_ip"], int(ev["src_port"]),
                       ev["dst_ip"], int(ev["dst_port"]))
                t = truth.get(key)
                if t is None or key in seen:
                    extra += 1
                    continue
                seen.add(key)
                want = [int(t[7]), int(t[8]), int(t[9]), int(t[10]), flags(int(t[11])), flags(int(t[12]))]
                got = [ev["src_packets"], ev["src_bytes"], ev["dst_packets"], ev["dst_bytes"],
                       ev["src_tcp_flags"], ev["dst_tcp_flags"]]
                if not live:
                    want += [t[13], int(t[14]), int(t[15])]
                    got += [ev["end_reason"], us(ev["start_time"]), us(ev["end_time"])]
                elif t[13] in ("fin", "rst"):
                    want.append(t[13])
                    got.append(ev["end_reason"])
                if want != got:
                    if bad < 3:
                        print("mismatch", key, "want", want, "got", got, file=sys.stderr)
                    bad += 1
    missing = len(truth) - len(seen)
    ok = bad == 0 and missing == 0 and extra == 0 and interim == 0
    print("truth %s: %d flows, %d matched, %d different, %d missing, %d unexpected, %d interim"
          % ("OK" if ok else "FAILED", len(truth), len(seen) - bad, bad, missing, extra, interim))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
