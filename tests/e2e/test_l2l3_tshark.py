"""Per-side MACs, DSCP and TTL ranges (issue 14 item 8) against Wireshark's
dissectors, on two real Ethernet captures in ../shared/pcaps.

For every frame tshark gives eth.src, eth.dst, ip.ttl / ipv6.hlim,
ip.dsfield.dscp / ipv6.tclass and the 5-tuple. Frames are grouped by the
sensor's flow key, and for every flow the sensor reports in exactly one record
(long flows split by timeouts are skipped: their fields cover the flow so far,
per record) whose packet counts match tshark's, the expected fields are
computed from tshark's values with the README's rules: a side's MAC is the
source MAC of its first frame (else the destination MAC of the other side's
first frame), its DSCP that of its first frame, its TTL range over all its
frames. Only frames with exactly one IP header and no fragment are used; a
flow holding any other frame is skipped. Every compared flow must agree
exactly, and at least MIN_FLOWS flows per capture must be compared.
"""

import collections
import shutil
import subprocess

import pytest

from conftest import REPO, run_sensor

PCAPS = REPO.parent / "shared" / "pcaps"
FILES = {"zeek/zeek-wikipedia.pcap": 10, "ndpi/1kxun.pcap": 100}   # file: minimum flows compared
FIELDS = ("eth.src", "eth.dst", "ip.src", "ip.dst", "ip.ttl", "ip.dsfield.dscp", "ip.proto",
          "ip.flags.mf", "ip.frag_offset", "ipv6.src", "ipv6.dst", "ipv6.hlim", "ipv6.tclass",
          "ipv6.nxt", "tcp.srcport", "tcp.dstport", "udp.srcport", "udp.dstport")


def _tshark(path):
    out = subprocess.run(["tshark", "-n", "-r", str(path), "-T", "fields", "-E", "separator=\t",
                          "-E", "occurrence=a", "-E", "aggregator=|"] +
                         [a for f in FIELDS for a in ("-e", f)],
                         capture_output=True, text=True, timeout=300, check=True).stdout
    frames = []
    for line in out.splitlines():
        v = dict(zip(FIELDS, line.split("\t")))
        frames.append(v)
    return frames


def _frame_key(v):
    """(src, sport, dst, dport, proto, ttl, dscp, smac, dmac), or None when unusable."""
    if "|" in "".join(v.values()):
        return None                                    # two IP headers (a tunnel) or more
    if v["ip.src"]:
        if v["ip.flags.mf"] in ("1", "True") or v["ip.frag_offset"] not in ("", "0"):
            return None
        src, dst, proto, ttl = v["ip.src"], v["ip.dst"], int(v["ip.proto"]), int(v["ip.ttl"])
        dscp = int(v["ip.dsfield.dscp"])
    elif v["ipv6.src"]:
        src, dst, proto, ttl = v["ipv6.src"], v["ipv6.dst"], int(v["ipv6.nxt"]), int(v["ipv6.hlim"])
        dscp = int(v["ipv6.tclass"], 16) >> 2
    else:
        return None
    if proto == 6 and v["tcp.srcport"]:
        sp, dp = int(v["tcp.srcport"]), int(v["tcp.dstport"])
    elif proto == 17 and v["udp.srcport"]:
        sp, dp = int(v["udp.srcport"]), int(v["udp.dstport"])
    else:
        return None
    if not v["eth.src"]:
        return None
    return src, sp, dst, dp, proto, ttl, dscp, v["eth.src"], v["eth.dst"]


def _expected(rec, frames):
    """The side fields the README's rules give for rec's frames (in capture order)."""
    mac, own, dscp, ttl = [None, None], [False, False], [None, None], [None, None]
    for src, sp, _dst, _dp, _proto, t, ds, smac, dmac in frames:
        d = 0 if (src, str(sp)) == (rec["src_ip"], rec["src_port"]) else 1
        if dscp[d] is None:
            dscp[d] = ds
            ttl[d] = [t, t]
            mac[d], own[d] = smac, True
            if not own[1 - d]:
                mac[1 - d] = dmac
        ttl[d] = [min(ttl[d][0], t), max(ttl[d][1], t)]
    r = {}
    for d, n in ((0, "src"), (1, "dst")):
        if mac[d]:
            r[n + "_mac"] = mac[d]
    for d, n in ((0, "src"), (1, "dst")):
        if dscp[d] is not None:
            r[n + "_dscp"] = dscp[d]
            r[n + "_ttl_min"], r[n + "_ttl_max"] = ttl[d]
    return r


SIDE = ("src_mac", "dst_mac", "src_dscp", "src_ttl_min", "src_ttl_max", "dst_dscp", "dst_ttl_min",
        "dst_ttl_max")


@pytest.mark.parametrize("name", sorted(FILES))
def test_side_fields_match_tshark(tracer, name):
    path = PCAPS / name
    if not path.exists():
        pytest.skip("%s is not there" % path)
    if not shutil.which("tshark"):
        pytest.skip("tshark is not installed")
    by_key = collections.defaultdict(list)
    for v in _tshark(path):
        k = _frame_key(v)
        if k is None:
            continue
        key = (frozenset(((k[0], k[1]), (k[2], k[3]))), k[4])
        by_key[key].append(k)
    recs = [r for r in run_sensor(tracer, {"AGENT_PCAP_FILE": str(path)}).records()
            if r.get("type") == "flow"]
    per_key = collections.defaultdict(list)
    for r in recs:
        per_key[(frozenset(((r["src_ip"], int(r["src_port"])), (r["dst_ip"], int(r["dst_port"])))),
                 r["protocol_number"])].append(r)
    compared, problems = 0, []
    for key, rs in per_key.items():
        frames = by_key.get(key)
        if len(rs) != 1 or not frames:
            continue
        r = rs[0]
        if r["packet_count"] != len(frames):
            continue                    # the flow holds frames tshark's rows above left out
        want = _expected(r, frames)
        got = {k: r[k] for k in SIDE if k in r}
        compared += 1
        if got != want:
            problems.append("%s: sensor %s, tshark %s" % (r["flow_id"], got, want))
    print("%s: %d flows compared with tshark, %d differ" % (name, compared, len(problems)))
    assert not problems, "\n".join(problems[:20])
    assert compared >= FILES[name], "only %d flows compared" % compared
