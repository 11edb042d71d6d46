"""The payload parsers (inspect/) against Wireshark's dissectors, on the real
captures in ../shared/pcaps/ndpi whose names say they hold TLS, QUIC, DNS,
HTTP or SSH (and a few browsing captures).

build/<asan>/tools/inspect_pcap (tests/tools/inspect_pcap.c) runs the
sensor's decoder and inspect/ over a capture and prints one JSON line per
flow with what it found. tshark (Debian's 4.0) prints, per frame, the flow's
addresses and ports and its own fields:

  ours                          tshark
  tls/quic server_name          tls.handshake.extensions_server_name
  tls/quic ja3, ja3s            tls.handshake.ja3, tls.handshake.ja3s
  tls/quic ja4                  computed here from tshark's cipher suites,
                                extension types, signature algorithms,
                                supported versions and ALPN (JA4.md)
  dns query                     dns.qry.name
  http host, path, user_agent   http.host, http.request.uri, http.user_agent
  http status                   http.response.code

A flow's field agrees when our value is one of tshark's values for that flow
(tshark lists every request or query of a flow; we keep the first), with our
caps applied to tshark's text. Counted per field: tshark's flows that have it,
agreeing, ours missing, ours different, and ours where tshark has nothing.
The test prints the table and asserts a floor under each agreement share
(AGREEMENT_FLOOR, below today's figures). Tunnels are left out (the sensor's
flow there is the outer conversation). Runtime about 30-60 s on the shared
machine: one tshark and one tool run per capture, two at a time.
"""

import collections
import concurrent.futures
import hashlib
import json
import os
import re
import subprocess

import pytest

from conftest import REPO, tracer_path

PCAPS = REPO.parent / "shared" / "pcaps" / "ndpi"
PICK = re.compile(r"tls|ssl|quic|dns|http|ssh|doh|doq|^443-|^chrome|^firefox|^1kxun", re.I)
SKIP = re.compile(r"tunnel|gre|gtp|vxlan|geneve|erspan|mpls|pppoe|fuzz|tor", re.I)

NAME_LEN, PATH_LEN, UA_LEN = 79, 95, 63       # inspect.h caps, without the NUL

TS_FIELDS = ["ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "tcp.srcport", "tcp.dstport",
             "udp.srcport", "udp.dstport",
             "tls.handshake.type", "tls.handshake.extensions_server_name", "tls.handshake.ja3",
             "tls.handshake.ja3s", "tls.handshake.version", "tls.handshake.ciphersuite",
             "tls.handshake.extension.type", "tls.handshake.sig_hash_alg",
             "tls.handshake.extensions.supported_version", "tls.handshake.extensions_alpn_str",
             "dns.qry.name", "http.host", "http.request.uri", "http.user_agent",
             "http.response.code"]
AGG = "\x1e"

FIELDS = ("server_name", "ja3", "ja3s", "ja4", "dns_query", "http_host", "http_path",
          "http_user_agent", "http_status")

# Floors under today's agreement (share of tshark's flows with the field
# whose value we give exactly). Measured 2026-11-30 on 142 captures: server
# name 227/305, ja3 235/320, ja3s 115/137, ja4 232/324, DNS query 128/409,
# HTTP host and target 123/125, User-Agent 118/120, status 98/102. Server
# name and JA3 never differ: every miss is a flow we report nothing for
# (packets the tool's own payload walk skips: PPPoE, fragments; DNS on
# ports other than 53/5353/5355; hellos past the first 32 packets or
# larger than 4 KB). Raise these as those gaps close.
AGREEMENT_FLOOR = {"server_name": 0.72, "ja3": 0.71, "ja3s": 0.80, "ja4": 0.69,
                   "dns_query": 0.29, "http_host": 0.95, "http_path": 0.95,
                   "http_user_agent": 0.95, "http_status": 0.93}


def tool_path():
    return os.path.join(os.path.dirname(tracer_path()), "tools", "inspect_pcap")


def key(proto, a, pa, b, pb):
    ends = sorted([(a, str(pa)), (b, str(pb))])
    return (proto,) + ends[0] + ends[1]


def grease(v):
    return (v & 0x0F0F) == 0x0A0A and (v >> 8) == (v & 0xFF)


def ja4(row):
    """JA4 (JA4.md) of a ClientHello from tshark's fields; None when incomplete."""
    def ints(s):
        return [int(x, 0) for x in s.split(AGG) if x]
    try:
        cs = [c for c in ints(row["tls.handshake.ciphersuite"]) if not grease(c)]
        ex = [e for e in ints(row["tls.handshake.extension.type"]) if not grease(e)]
        sig = ints(row["tls.handshake.sig_hash_alg"])
        sv = [v for v in ints(row["tls.handshake.extensions.supported_version"]) if not grease(v)]
        ver = max(sv) if sv else ints(row["tls.handshake.version"])[0]
    except (ValueError, IndexError):
        return None
    alpn = row["tls.handshake.extensions_alpn_str"].split(AGG)[0]
    vm = {0x304: "13", 0x303: "12", 0x302: "11", 0x301: "10", 0x300: "s3"}.get(ver, "00")
    if not alpn:
        al = "00"
    elif alpn[0].isascii() and alpn[0].isalnum() and alpn[-1].isascii() and alpn[-1].isalnum():
        al = alpn[0] + alpn[-1]
    else:
        h = alpn.encode().hex()
        al = h[0] + h[-1]
    a = "%s%s%s%02d%02d%s" % ("q" if row["udp.srcport"] else "t", vm, "d" if 0 in ex else "i",
                              min(len(cs), 99), min(len(ex), 99), al)
    b = hashlib.sha256(",".join("%04x" % c for c in sorted(cs)).encode()).hexdigest()[:12] \
        if cs else "000000000000"
    e2 = sorted(e for e in ex if e not in (0, 16))
    text = ",".join("%04x" % e for e in e2)
    if sig:
        text += "_" + ",".join("%04x" % s for s in sig)
    c = hashlib.sha256(text.encode()).hexdigest()[:12] if e2 else "000000000000"
    return "%s_%s_%s" % (a, b, c)


def tshark_flows(path):
    cmd = ["tshark", "-r", str(path), "-n", "-T", "fields", "-E", "separator=\t",
           "-E", "aggregator=" + AGG, "-E", "occurrence=a"]
    for f in TS_FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=120).stdout
    flows = collections.defaultdict(lambda: collections.defaultdict(set))
    for line in out.split("\n"):                # not splitlines(): it splits at AGG too
        parts = line.split("\t")
        if len(parts) != len(TS_FIELDS):
            continue
        row = dict(zip(TS_FIELDS, parts))
        last = lambda f: row[f].split(AGG)[-1]   # noqa: E731  innermost header
        src, dst = last("ip.src") or last("ipv6.src"), last("ip.dst") or last("ipv6.dst")
        if row["tcp.srcport"]:
            k = key("tcp", src, last("tcp.srcport"), dst, last("tcp.dstport"))
        elif row["udp.srcport"]:
            k = key("udp", src, last("udp.srcport"), dst, last("udp.dstport"))
        else:
            continue
        fl = flows[k]
        types = row["tls.handshake.type"].split(AGG)
        if "1" in types:
            for v in row["tls.handshake.extensions_server_name"].split(AGG):
                if v:
                    fl["server_name"].add(v[:NAME_LEN])
            for v in row["tls.handshake.ja3"].split(AGG):
                if v:
                    fl["ja3"].add(v)
            if types.count("1") == 1 and types[0] == "1":
                j = ja4(row)
                if j:
                    fl["ja4"].add(j)
        for v in row["tls.handshake.ja3s"].split(AGG):
            if v:
                fl["ja3s"].add(v)
        for f, name, cap in (("dns.qry.name", "dns_query", NAME_LEN), ("http.host", "http_host", NAME_LEN),
                             ("http.request.uri", "http_path", PATH_LEN),
                             ("http.user_agent", "http_user_agent", UA_LEN),
                             ("http.response.code", "http_status", 10)):
            if name.startswith("http") and k[0] != "tcp":
                continue                         # SSDP (HTTP over UDP) is not read here
            for v in row[f].split(AGG):
                if v:
                    fl[name].add(v[:cap])
    return flows


def our_flows(path):
    out = subprocess.run([tool_path(), str(path)], capture_output=True, text=True,
                         errors="replace", timeout=120)
    assert "Sanitizer" not in out.stderr and "runtime error" not in out.stderr, out.stderr[-2000:]
    assert out.returncode == 0, (path, out.returncode, out.stderr[-500:])
    flows = {}
    for line in out.stdout.splitlines():
        d = json.loads(line)
        if "flow" not in d:
            continue
        proto, a, pa, b, pb = d["flow"].split()
        got = {}
        t = d.get("tls") or d.get("quic")
        if t:
            for f in ("server_name", "ja3", "ja3s", "ja4"):
                if t.get(f):
                    got[f] = t[f]
        if "dns" in d:
            got["dns_query"] = d["dns"]["query"]
        if "http" in d:
            h = d["http"]
            for f, name in (("host", "http_host"), ("path", "http_path"),
                            ("user_agent", "http_user_agent")):
                if h.get(f):
                    got[name] = h[f]
            if "status" in h:
                got["http_status"] = str(h["status"])
        flows[key(proto, a, pa, b, pb)] = got
    return flows


def compare(path):
    ts, ours = tshark_flows(path), our_flows(path)
    counts = {f: collections.Counter() for f in FIELDS}
    misses = []
    for k, fl in ts.items():
        for f in FIELDS:
            if not fl.get(f):
                continue
            c = counts[f]
            c["tshark"] += 1
            v = ours.get(k, {}).get(f)
            if v is None:
                c["missing"] += 1
                misses.append((path.name, f, k, sorted(fl[f])[:2], None))
            elif v in fl[f]:
                c["agree"] += 1
            else:
                c["different"] += 1
                misses.append((path.name, f, k, sorted(fl[f])[:2], v))
    for k, got in ours.items():
        for f, v in got.items():
            if not ts.get(k, {}).get(f):
                counts[f]["ours_only"] += 1
    return counts, misses


def test_inspect_fields_agree_with_tshark():
    if not PCAPS.is_dir():
        pytest.skip("no shared captures at %s" % PCAPS)
    if not os.access(tool_path(), os.X_OK):
        pytest.fail("%s not built (make asan builds it with the unit tests)" % tool_path())
    files = sorted(p for p in PCAPS.iterdir()
                   if PICK.search(p.name) and not SKIP.search(p.name))
    assert len(files) >= 100
    total = {f: collections.Counter() for f in FIELDS}
    misses = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as ex:
        for counts, miss in ex.map(compare, files):
            for f in FIELDS:
                total[f].update(counts[f])
            misses.extend(miss)
    print("\n%d captures; per field: tshark's flows with it, agree, ours missing, ours different, "
          "ours only" % len(files))
    for f in FIELDS:
        c = total[f]
        print("  %-16s %5d %5d %5d %5d %5d  %.1f%%" % (f, c["tshark"], c["agree"], c["missing"],
                                                    c["different"], c["ours_only"],
                                                    100.0 * c["agree"] / max(1, c["tshark"])))
    for m in misses[:60]:
        print("  miss:", m)
    for f in FIELDS:
        c = total[f]
        assert c["tshark"] > 0, f
        assert c["agree"] / c["tshark"] >= AGREEMENT_FLOOR[f], (f, dict(c))
