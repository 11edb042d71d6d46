#!/usr/bin/python3
"""build_corpus — seed corpora for the libFuzzer harnesses in fuzz/.

libFuzzer finds deep paths much sooner when it starts from real inputs. This
script writes one directory of seed files per harness, named by the SHA-1 of
their content (so reruns are idempotent and duplicates collapse):

  OUT/decode       selector byte + frame (fuzz/fuzz_dlt.h): every packet (the
                   first MAX_PER_FILE of each file, cut to MAX_FRAME bytes) of
                   the pcap/pcapng files under ../shared/pcaps (when present)
                   and of every tests/e2e/pcapgen.py scenario
  OUT/l2           the LLDP/CDP frames among them (mode 2/3 + link type) and
                   their bare PDUs (mode 0 LLDP, 1 CDP), see fuzz/fuzz_l2.c
  OUT/trap         UDP payloads to/from ports 161/162 found in those frames,
                   plus what Debian's snmptrap/snmpinform send (caught on a
                   loopback UDP socket) with the harness's communities/users
  OUT/snmp_config  the JSON documents of tests/unit/test_snmp_config.c and
                   a few more
  OUT/config       NUL-separated argv/env items (fuzz/fuzz_config.c) built
                   from the settings table in config/config.c; also
                   OUT/config.dict, a libFuzzer dictionary of names and flags
  OUT/wg           WireGuard UAPI "get" answers (fuzz/fuzz_wg.c): the one of
                   tests/unit/test_topology.c, what wireguard-go prints, and
                   edge cases; also OUT/wg.dict (the protocol's keys)
  OUT/spool        selector byte + up to four spool files (fuzz/fuzz_spool.c):
                   signed JSON batch bodies, damaged and planted headers
                   (old format, wrong MAC, sizes past the cap or the file);
                   also OUT/spool.dict
  OUT/inspect      selector byte + payload (fuzz/fuzz_inspect.c): the real
                   hellos and QUIC Initials of tests/unit/inspect_vectors.h,
                   DNS, HTTP and SSH openings, and whole flows built of them

Usage: fuzz/build_corpus.py [OUT] [PCAP_DIR]   (defaults build/fuzz-corpus,
../shared/pcaps). Python 3 standard library only; run from the repository root.
"""

import hashlib
import os
import re
import shutil
import socket
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# fuzz/fuzz_dlt.h: FUZZ_DLT[] in order; any other selector is "unsupported".
FUZZ_DLT = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276, 9, 50, 104, 239]
SEL_UNSUPPORTED = 0x0F
SEL_TRUNCATED = 0x80

MAX_PER_FILE = 12        # packets taken from one capture file
MAX_FRAME = 1024         # bytes of a frame kept (the decoder reads headers only)
MAX_UNSUPPORTED = 200    # seeds of link types the decoder does not know


class Corpus:
    def __init__(self, path):
        self.path = path
        self.n = 0
        os.makedirs(path, exist_ok=True)

    def add(self, data):
        name = os.path.join(self.path, hashlib.sha1(data).hexdigest())
        if not os.path.exists(name):
            with open(name, "wb") as f:
                f.write(data)
            self.n += 1


# ----------------------------------------------------------------------------
# capture files

def read_pcap(blob):
    """(linktype, caplen-bytes, wire_len) for each packet of a pcap or pcapng blob."""
    if len(blob) < 24:
        return
    magic = blob[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    elif magic == b"\x0a\x0d\x0d\x0a":
        yield from read_pcapng(blob)
        return
    else:
        return
    linktype = struct.unpack(e + "I", blob[20:24])[0] & 0x03FFFFFF
    off = 24
    while off + 16 <= len(blob):
        _, _, incl, orig = struct.unpack(e + "IIII", blob[off:off + 16])
        off += 16
        if incl > len(blob) - off:
            return
        yield linktype, blob[off:off + incl], orig
        off += incl


def read_pcapng(blob):
    off = 0
    e = "<"
    ifaces = []
    while off + 12 <= len(blob):
        btype = struct.unpack(e + "I", blob[off:off + 4])[0]
        if btype == 0x0A0D0D0A:
            bom = blob[off + 8:off + 12]
            e = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
            ifaces = []
        blen = struct.unpack(e + "I", blob[off + 4:off + 8])[0]
        if blen < 12 or off + blen > len(blob):
            return
        body = blob[off + 8:off + blen - 4]
        if btype == 1 and len(body) >= 8:
            lt, _, snap = struct.unpack(e + "HHI", body[:8])
            ifaces.append((lt, snap))
        elif btype == 6 and len(body) >= 20:
            iface, _, _, cap, orig = struct.unpack(e + "IIIII", body[:20])
            if iface < len(ifaces):
                yield ifaces[iface][0], body[20:20 + cap], orig
        elif btype == 3 and len(body) >= 4 and ifaces:
            orig = struct.unpack(e + "I", body[:4])[0]
            snap = ifaces[0][1] or 0xFFFFFFFF
            yield ifaces[0][0], body[4:4 + min(orig, snap)], orig
        elif btype == 2 and len(body) >= 20:
            iface, _, _, _, cap, orig = struct.unpack(e + "HHIIII", body[:20])[:1] + \
                struct.unpack(e + "HHIIII", body[:20])[1:]
            if iface < len(ifaces):
                yield ifaces[iface][0], body[20:20 + cap], orig
        off += blen


def selector(linktype):
    return FUZZ_DLT.index(linktype) if linktype in FUZZ_DLT else SEL_UNSUPPORTED


# ----------------------------------------------------------------------------
# what is inside a frame (just enough to find LLDP/CDP and SNMP)

def link_payload(linktype, f):
    """(ethertype or None, offset of the network layer, l2 kind hint) or None."""
    if linktype == 1:
        if len(f) < 14:
            return None
        off, et = 12, struct.unpack(">H", f[12:14])[0]
        while et in (0x8100, 0x88A8, 0x9100) and len(f) >= off + 6:
            off += 4
            et = struct.unpack(">H", f[off:off + 2])[0]
        return et, off + 2
    if linktype == 113 and len(f) >= 16:
        return struct.unpack(">H", f[14:16])[0], 16
    if linktype == 276 and len(f) >= 20:
        return struct.unpack(">H", f[0:2])[0], 20
    if linktype in (0, 108) and len(f) >= 4:
        fam = struct.unpack("<I" if linktype == 0 else ">I", f[:4])[0]
        if fam == 2:
            return 0x0800, 4
        if fam in (10, 24, 28, 30):
            return 0x86DD, 4
        return None
    if linktype in (12, 14, 101) and f:
        return (0x0800 if f[0] >> 4 == 4 else 0x86DD), 0
    if linktype == 228:
        return 0x0800, 0
    if linktype == 229:
        return 0x86DD, 0
    return None


def udp_payload(et, f, off):
    """(sport, dport, payload) of an unfragmented UDP datagram, or None."""
    if et == 0x0800 and len(f) >= off + 20 and f[off] >> 4 == 4:
        ihl = (f[off] & 15) * 4
        if f[off + 9] != 17 or struct.unpack(">H", f[off + 6:off + 8])[0] & 0x3FFF:
            return None
        u = off + ihl
    elif et == 0x86DD and len(f) >= off + 40 and f[off] >> 4 == 6:
        if f[off + 6] != 17:
            return None
        u = off + 40
    else:
        return None
    if len(f) < u + 8:
        return None
    sp, dp, ln = struct.unpack(">HHH", f[u:u + 6])
    return sp, dp, f[u + 8:u + max(ln, 8)]


def l2_pdu(linktype, f):
    """(mode, pdu) for an LLDP (mode 0) or CDP (mode 1) frame, else None."""
    lp = link_payload(linktype, f)
    if not lp:
        return None
    et, off = lp
    if et == 0x88CC:
        return 0, f[off:]
    snap = b"\xaa\xaa\x03\x00\x00\x0c\x20\x00"
    if linktype == 1 and et <= 1500 and f[off:off + 8] == snap:
        return 1, f[off + 8:]
    if linktype in (113, 276) and et == 0x0004 and f[off:off + 8] == snap:
        return 1, f[off + 8:]
    return None


def add_frame(c, linktype, data, wire_len, counters, decode=True):
    """Seeds from one frame: for decode (unless told not to), l2 and trap."""
    sel = selector(linktype)
    if not decode:
        pass
    elif sel == SEL_UNSUPPORTED:
        if counters["unsupported"] >= MAX_UNSUPPORTED:
            return
        counters["unsupported"] += 1
    frame = data[:MAX_FRAME]
    cut = wire_len > len(frame)
    if decode:
        c["decode"].add(bytes([sel | (SEL_TRUNCATED if cut else 0)]) + frame)
    l2 = l2_pdu(linktype, data)
    if l2 and sel != SEL_UNSUPPORTED:
        mode, pdu = l2
        c["l2"].add(bytes([mode]) + pdu)
        c["l2"].add(bytes([(sel << 2) | (3 if cut else 2)]) + data)
    lp = link_payload(linktype, data)
    if lp:
        u = udp_payload(lp[0], data, lp[1])
        if u and (u[0] in (161, 162) or u[1] in (161, 162)) and u[2]:
            c["trap"].add(u[2])


def from_pcaps(c, pcap_dir):
    counters = {"unsupported": 0, "files": 0}
    if not os.path.isdir(pcap_dir):
        return 0
    for dirpath, _, names in sorted(os.walk(pcap_dir)):
        for name in sorted(names):
            if not name.endswith((".pcap", ".pcapng", ".cap")):
                continue
            try:
                with open(os.path.join(dirpath, name), "rb") as f:
                    blob = f.read()
                taken = 0
                for lt, data, orig in read_pcap(blob):
                    add_frame(c, lt, data, orig, counters, decode=taken < MAX_PER_FILE)
                    taken += 1
                counters["files"] += 1
            except (struct.error, ValueError, OSError):
                continue
    return counters["files"]


def from_pcapgen(c, fixtures):
    sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
    try:
        import pcapgen
    except Exception as e:                          # noqa: BLE001 (report and go on)
        sys.stderr.write("build_corpus: cannot import pcapgen: %s\n" % e)
        return 0
    counters = {"unsupported": 0}
    n = 0
    for name, fn in sorted(pcapgen.SCENARIOS.items()):
        sc = fn()
        for i, fr in enumerate(sc.sorted_frames()):
            add_frame(c, sc.linktype, fr.data[:sc.snaplen], fr.wire_len, counters, decode=i < MAX_PER_FILE)
        if n == 0:
            sc.write(os.path.join(fixtures, "fixture.pcap"))
        n += 1
    return n


# ----------------------------------------------------------------------------
# SNMP traps from Debian's tools

TRAP_ENGINE = "0x8000000001020304"
V3 = ["-v3", "-u", "trapuser", "-l", "authPriv", "-a", "SHA-256", "-A", "trapAuthPass1",
      "-x", "AES", "-X", "trapPrivPass1"]
TRAPS = [
    ["snmptrap", "-v1", "-c", "trapComm1", "@", "1.3.6.1.4.1.9999", "127.0.0.9", "6", "42", "1234",
     "1.3.6.1.4.1.9999.1", "s", "v1 hello"],
    ["snmptrap", "-v1", "-c", "other", "@", "1.3.6.1.4.1.9999", "127.0.0.10", "3", "0", "55"],
    ["snmptrap", "-v1", "-c", "nottheone", "@", "1.3.6.1.4.1.9999", "127.0.0.9", "0", "0", "1"],
    ["snmptrap", "-v2c", "-c", "trapComm1", "@", "5678", "1.3.6.1.6.3.1.1.5.3",
     "1.3.6.1.2.1.2.2.1.1.7", "i", "7", "1.3.6.1.4.1.9999.3", "x", "00ff10",
     "1.3.6.1.4.1.9999.7", "a", "192.0.2.7", "1.3.6.1.4.1.9999.8", "t", "12345",
     "1.3.6.1.4.1.9999.9", "o", "1.3.6.1.4.1", "1.3.6.1.4.1.9999.10", "c", "4294967295",
     "1.3.6.1.4.1.9999.11", "u", "17", "1.3.6.1.4.1.9999.12", "d", "1.2.3.4",
     "1.3.6.1.4.1.9999.13", "b", "1 3 5", "1.3.6.1.4.1.9999.14", "n", ""],
    ["snmptrap", "-v2c", "-c", "trapComm1", "@", "", "1.3.6.1.4.1.9999.0.5"],
    ["snmptrap", "-v2c", "-c", "trapComm1", "@", "1", "1.3.6.1.6.3.1.1.5.4",
     "1.3.6.1.4.1.9999.6", "s", "truncate me"],
    ["snmpinform", "-v2c", "-c", "trapComm1", "-t", "1", "-r", "0", "@", "777",
     "1.3.6.1.4.1.9999.0.7", "1.3.6.1.4.1.9999.2", "c", "99"],
    ["snmptrap"] + V3 + ["-e", TRAP_ENGINE, "@", "4321", "1.3.6.1.4.1.9999.0.11",
                         "1.3.6.1.4.1.9999.4", "s", "v3 trap"],
    ["snmptrap", "-v3", "-u", "fuzznoauth", "-l", "noAuthNoPriv", "-e", TRAP_ENGINE, "@", "99",
     "1.3.6.1.4.1.9999.0.13", "1.3.6.1.4.1.9999.4", "s", "v3 noauth", "1.3.6.1.4.1.9999.5", "i", "-5"],
    ["snmptrap", "-v3", "-u", "nosuchuser", "-l", "authNoPriv", "-a", "SHA", "-A", "whatever12",
     "-e", TRAP_ENGINE, "@", "1", "1.3.6.1.6.3.1.1.5.1"],
    ["snmpinform"] + V3 + ["-t", "1", "-r", "0", "@", "8765", "1.3.6.1.4.1.9999.0.12",
                           "1.3.6.1.4.1.9999.5", "u", "5"],
]


def from_snmptrap(c, tmp):
    if not shutil.which("snmptrap"):
        return 0
    env = dict(os.environ, HOME=tmp, SNMPCONFPATH=tmp, SNMP_PERSISTENT_DIR=tmp, MIBS="")
    n = 0
    for args in TRAPS:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        s.settimeout(3)
        dest = "udp:127.0.0.1:%d" % s.getsockname()[1]
        cmd = [dest if a == "@" else a for a in args]
        p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            c["trap"].add(s.recv(65535))
            n += 1
        except OSError:
            pass
        finally:
            s.close()
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    return n


# ----------------------------------------------------------------------------
# SNMP configuration documents

EXTRA_SNMP_CONFIGS = [
    '{"targets": [], "trap_users": []}',
    '{"targets": [{"name": "a", "host": "192.0.2.1", "community": "c", "collect": ["system", "interfaces",'
    ' "arp", "lldp"], "oids": ["1.3.6.1.2.1.1.1.0", ".1.3.6.1.2.1.1.5.0"], "interval": "30",'
    ' "timeout": 2.5, "retries": 0, "max_rows": 10, "max_walk_time": 1, "max_repetitions": 100,'
    ' "transport": "tcp", "port": "1161"}]}',
    '{"targets": [{"name": "v3", "host": "2001:db8::1", "version": "3", "username": "u",'
    ' "security_level": "authPriv", "auth_protocol": "SHA512", "auth_password": "authpass1",'
    ' "priv_protocol": "AES256", "priv_password": "privpass1", "context": "ctx"}]}',
    '{"trap_users": [{"username": "t", "security_level": "noAuthNoPriv", "engine_id": "0x800000000102"},'
    ' {"username": "t2", "auth_protocol": "MD5", "auth_password": "authpass1", "priv_protocol": "DES",'
    ' "priv_password": "privpass1"}]}',
]

C_STRING = re.compile(r'"((?:[^"\\\n]|\\.)*)"')


def c_unescape(s):
    return bytes(s, "utf-8").decode("unicode_escape").encode("latin-1", "replace")


def from_snmp_config_tests(c):
    n = 0
    for doc in EXTRA_SNMP_CONFIGS:
        c["snmp_config"].add(doc.encode())
        n += 1
    path = os.path.join(ROOT, "tests", "unit", "test_snmp_config.c")
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return n
    # adjacent literals ("a" "b", across lines) form one C string
    cur, last_end = [], -1
    docs = []
    for m in C_STRING.finditer(text):
        between = text[last_end:m.start()] if last_end >= 0 else ""
        if cur and between.strip() == "":
            cur.append(m.group(1))
        else:
            if cur:
                docs.append("".join(cur))
            cur = [m.group(1)]
        last_end = m.end()
    if cur:
        docs.append("".join(cur))
    for d in docs:
        if d.lstrip().startswith("{"):
            try:
                c["snmp_config"].add(c_unescape(d))
                n += 1
            except (UnicodeDecodeError, ValueError):
                pass
    return n


# ----------------------------------------------------------------------------
# configuration: argv and environment

SETTING = re.compile(r'\[S_[A-Z0-9_]+\]\s*=\s*\{\s*"(AGENT_[A-Z0-9_]+|[A-Z_]+)",\s*"(--[a-z0-9-]+)"')
VALUES = ["1", "0", "64", "256", "1024", "65536", "100", "1s", "250ms", "1m30s", "1.5", "true", "false",
          "lo", "any", "tcp port 80", "http://127.0.0.1:8080/ingest", "https://[::1]:8443/x", "gzip",
          "debug", "json", "127.0.0.1:1162", "[::1]:1162", "a, b", "/nonexistent", "build/fuzz-corpus/fixtures/fixture.pcap"]


def from_config_table(c, out):
    path = os.path.join(ROOT, "config", "config.c")
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return 0
    settings = SETTING.findall(text)
    words = set()
    n = 0
    for i, (var, flag) in enumerate(settings):
        words.update((var + "=", flag, flag + "="))
        v1 = VALUES[i % len(VALUES)]
        v2 = VALUES[(i * 7 + 3) % len(VALUES)]
        c["config"].add(("%s=%s" % (var, v1)).encode())
        c["config"].add(("%s\0%s" % (flag, v2)).encode())
        c["config"].add(("%s=%s\0AGENT_PCAP_FILE=build/fuzz-corpus/fixtures/fixture.pcap" % (flag, v1)).encode())
        n += 3
    c["config"].add(b"--help")
    c["config"].add(b"--version\0--snap-len\0x")
    c["config"].add(b"AGENT_PCAP_FILE=build/fuzz-corpus/fixtures/fixture.pcap\0AGENT_ENDPOINT_URL="
                    b"http://127.0.0.1:1/x\0AGENT_BATCH_SIZE=10\0AGENT_SEND_INTERVAL=2s")
    words.update(VALUES)
    with open(os.path.join(out, "config.dict"), "w") as f:
        for w in sorted(words):
            f.write('"%s"\n' % w.replace("\\", "\\\\").replace('"', '\\"'))
    return n


# ----------------------------------------------------------------------------
# WireGuard UAPI answers (https://www.wireguard.com/xplatform/)

WG_PRIV = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"   # RFC 7748 6.1
WG_PUB1 = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
WG_PUB2 = "0000000000000000000000000000000000000000000000000000000000000001"
WG_KEYS = ["private_key", "listen_port", "fwmark", "public_key", "preshared_key", "protocol_version",
           "endpoint", "last_handshake_time_sec", "last_handshake_time_nsec", "tx_bytes", "rx_bytes",
           "persistent_keepalive_interval", "allowed_ip", "errno", "replace_peers", "remove"]


def wg_peer(pub, endpoint, allowed, hs=1700000000):
    lines = ["public_key=" + pub, "preshared_key=" + "0" * 64, "protocol_version=1"]
    if endpoint:
        lines.append("endpoint=" + endpoint)
    lines += ["last_handshake_time_sec=%d" % hs, "last_handshake_time_nsec=5000000", "tx_bytes=148",
              "rx_bytes=92", "persistent_keepalive_interval=25"]
    lines += ["allowed_ip=" + a for a in allowed]
    return lines


def from_wg(c, out):
    answers = [
        ["private_key=" + WG_PRIV, "listen_port=51820", "fwmark=7"] +
        wg_peer(WG_PUB1, "198.18.0.2:51821", ["198.19.9.0/24", "fd00:9::/64"]) +
        wg_peer(WG_PUB2, None, ["198.19.10.1/32"], hs=0) + ["errno=0"],
        ["listen_port=0"] + wg_peer(WG_PUB1, "[fd00::1]:51820", ["::/0", "0.0.0.0/0"]) + ["errno=0"],
        ["private_key=" + "0" * 64, "errno=0"],
        ["errno=19"],
        ["errno=0"],
        ["fwmark=4294967295", "listen_port=65535"] + wg_peer(WG_PUB2, "[fe80::1%wg0]:1", []) + ["errno=0"],
    ]
    many = ["private_key=" + WG_PRIV]
    for i in range(40):
        many += wg_peer("%064x" % (i + 1), "10.0.%d.%d:51820" % (i // 250, i % 250 + 1),
                        ["10.1.%d.0/24" % i, "fd01:%x::/64" % i])
    answers.append(many + ["errno=0"])
    n = 0
    for a in answers:
        c["wg"].add(("\n".join(a) + "\n\n").encode())
        n += 1
    c["wg"].add(b"public_key=" + WG_PUB1.encode() + b"\nendpoint=\xff\xfe:1\nallowed_ip=\x01/8\n\n")
    c["wg"].add(b"errno=\xc3\x28\n\n")
    n += 2
    with open(os.path.join(out, "wg.dict"), "w") as f:
        for k in WG_KEYS:
            f.write('"%s="\n' % k)
        f.write('"\\x0a\\x0a"\n')
    return n


# spool files (fuzz/fuzz_spool.c: selector, then files separated by "\n~~\n")

SPOOL_SEP = b"\n~~\n"


def from_spool(c, out):
    bodies = [b"[]", b'[{"type":"flow","event_id":"e1"}]', b'{"a":1}', b"", b"x" * 600]
    headers = [b"TRSPOOL2 1 2 " + b"0" * 64 + b"\n[]",                       # wrong MAC
               b"TRSPOOL1 1 2 0aa5b3a1\n[]",                                   # old format
               b"TRSPOOL2 1 68719476736 " + b"a" * 64 + b"\n[",               # past the cap and the file
               b"TRSPOOL2 1 9 " + b"f" * 64 + b"\n[]",                        # past the file
               b"TRSPOOL2 01 2 " + b"0" * 64 + b"\n[]", b"TRSPOOL2 1 2 " + b"0" * 63 + b"\n[]",
               b"GARBAGE", b""]
    n = 0
    for sel in (0x00, 0x01, 0x03, 0x0f, 0x10, 0x21, 0x41, 0x5f, 0x7f):
        for i in range(len(headers)):
            files = []
            for k in range(4):
                if sel & (1 << k):
                    files.append(bodies[(i + k) % len(bodies)])
                else:
                    files.append(headers[(i + k) % len(headers)])
            c["spool"].add(bytes([sel]) + SPOOL_SEP.join(files))
            n += 1
    with open(os.path.join(out, "spool.dict"), "w") as f:
        for w in ("TRSPOOL2 ", "TRSPOOL1 ", "\\x0a~~\\x0a", "\\x0a"):   # libFuzzer's \\xNN escapes
            f.write('"%s"\n' % w)
    return n


def from_inspect(c):
    """Seeds for fuzz/fuzz_inspect.c, from tests/unit/inspect_vectors.h."""
    with open(os.path.join(ROOT, "tests", "unit", "inspect_vectors.h")) as f:
        text = f.read()
    vec = {}
    for name, body in re.findall(r"static const uint8_t (\w+)\[\d+\] = \{([^}]*)\}", text):
        vec[name] = bytes(int(x, 16) for x in re.findall(r"0x([0-9a-f]{2})", body))
    ch, sh = vec["tls_ch"][5:], vec["tls_sh"][5:]
    dns = bytes.fromhex("123481800001000100000000037777770765786d706c6503636f6d0000010001"
                        "c00c000100010000003c0004c0000207")
    http = b"GET /a?b=c HTTP/1.1\r\nHost: example.com\r\nUser-Agent: x/1\r\n\r\n"
    resp = b"HTTP/1.1 200 OK\r\n\r\n"
    ssh = b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n"
    seeds = [b"\x00" + dns, b"\x01" + ch, b"\x02" + sh, b"\x03" + vec["tls_ch"],
             b"\x04" + vec["quic1_client"], b"\x04" + vec["quic2_server"],
             b"\x05" + b"\x06\x00\x42\x00" + ch[:512] + b"\x01\x00",
             b"\x06" + http, b"\x06" + resp, b"\x07" + ssh]

    def pkt(ctl, flags, off, data):
        out = b""
        for i in range(0, len(data), 255):
            part = data[i:i + 255]
            out += bytes([ctl, flags]) + struct.pack(">h", off + i) + bytes([len(part)]) + part
        return out
    seeds.append(b"\x08" + pkt(0, 0x18, 0, vec["tls_ch"]) + pkt(1, 0x18, 0, vec["tls_sh"][:300]))
    seeds.append(b"\x08" + pkt(0, 0x18, 0, http) + pkt(1, 0x18, 0, resp))
    seeds.append(b"\x08" + pkt(0x12, 0x18, 0, ssh) + pkt(0x13, 0x18, 0, ssh))
    seeds.append(b"\x08" + pkt(0x0a, 0, 0, dns))
    for s in seeds:
        c["inspect"].add(s)
    return len(seeds)


def from_ping(c):
    """Seeds for fuzz/fuzz_ping.c: echo replies as each socket kind hands them over
    (selector 0 IPv4 datagram, 1 IPv4 raw with its header, 2 IPv6), tagged like the
    hook's probes, plus a short one, an ICMP error and a request."""
    def csum(b):
        if len(b) % 2:
            b += b"\0"
        s = sum(struct.unpack(">%dH" % (len(b) // 2), b))
        while s >> 16:
            s = (s & 0xffff) + (s >> 16)
        return ~s & 0xffff

    def echo(typ, data, v6=False):
        m = bytes([typ, 0, 0, 0]) + struct.pack(">HH", 0xbeef, 7) + data
        return m if v6 else m[:2] + struct.pack(">H", csum(m)) + m[4:]
    tag = bytes(range(1, 9)) + struct.pack(">IIH", 3, 77, 4) + bytes(6)
    data = tag + bytes(range(24, 56))
    iph = bytes([0x45, 0, 0, 20 + 8 + len(data), 0, 0, 0x40, 0, 64, 1, 0, 0, 192, 0, 2, 2, 192, 0, 2, 1])
    seeds = [b"\x00" + echo(0, data), b"\x01" + iph + echo(0, data), b"\x02" + echo(129, data, True),
             b"\x00" + echo(0, b"abc"), b"\x00" + echo(3, iph + data[:8]), b"\x02" + echo(128, data, True)]
    for s in seeds:
        c["ping"].add(s)
    return len(seeds)


# whole capture files (fuzz/fuzz_savefile.c: the block reader against libpcap)
SAVEFILE_MAX = 16384       # bytes of a seed file (the fuzzer's inputs stay near the seeds' size)


def savefile_variants(blob):
    """A classic pcap file as is, cut inside its last record and inside a record
    header, with a small snap length in its header, and with the nanosecond magic."""
    out = [blob]
    if len(blob) > 40:
        out += [blob[:-7], blob[:len(blob) // 2 + 3]]
    if len(blob) >= 24 and blob[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        out.append(blob[:16] + struct.pack("<I", 64) + blob[20:])
        out.append(b"\x4d\x3c\xb2\xa1" + blob[4:])
    return out


def from_savefile(c, pcap_dir, fixtures):
    n = 0
    paths = []
    for d in (pcap_dir, fixtures):
        if os.path.isdir(d):
            for dirpath, _, names in sorted(os.walk(d)):
                paths += [os.path.join(dirpath, x) for x in sorted(names) if x.endswith((".pcap", ".cap"))]
    for path in paths:
        try:
            if os.path.getsize(path) > SAVEFILE_MAX:
                continue
            with open(path, "rb") as f:
                blob = f.read()
        except OSError:
            continue
        for v in savefile_variants(blob):
            c["savefile"].add(v)
        n += 1
    return n


def main(argv):
    out = argv[1] if len(argv) > 1 else os.path.join(ROOT, "build", "fuzz-corpus")
    pcaps = argv[2] if len(argv) > 2 else os.path.join(os.path.dirname(ROOT), "shared", "pcaps")
    targets = ("decode", "l2", "trap", "snmp_config", "config",
               "wg", "spool", "inspect")
    targets += ("ping", "savefile")
    for t in targets:        # rebuilt each time: snmptrap's datagrams differ from run to run
        shutil.rmtree(os.path.join(out, t), ignore_errors=True)
    c = {t: Corpus(os.path.join(out, t)) for t in targets}
    fixtures = os.path.join(out, "fixtures")
    tmp = os.path.join(out, "tmp")
    os.makedirs(fixtures, exist_ok=True)
    os.makedirs(tmp, exist_ok=True)
    files = from_pcaps(c, pcaps)
    scen = from_pcapgen(c, fixtures)
    traps = from_snmptrap(c, tmp)
    docs = from_snmp_config_tests(c)
    sets = from_config_table(c, out)
    wgs = from_wg(c, out)
    spools = from_spool(c, out)
    inspects = from_inspect(c)
    from_ping(c)
    savefiles = from_savefile(c, pcaps, fixtures)
    print("build_corpus: %d capture files from %s, %d pcapgen scenarios, %d snmptrap datagrams, "
          "%d SNMP config documents, %d config seeds, %d WireGuard answers, %d spool seeds, "
          "%d inspect seeds, %d whole capture files; seeds: %s" %
          (files, pcaps if files else "(none)", scen, traps, docs, sets, wgs, spools, inspects, savefiles,
           ", ".join("%s %d" % (t, k.n) for t, k in c.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
