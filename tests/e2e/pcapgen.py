#!/usr/bin/python3
"""pcapgen — deterministic packet captures and the flow records they must give.

The end-to-end tests drive the built sensor from outside: a capture file in,
FlowEvent JSON out. This module makes those capture files without any
third-party library (no scapy: stdlib only), byte for byte the same on every
run, and says for each one which flow records the sensor must produce.

Layers: Ethernet II with 802.1Q / 802.1ad (QinQ) tags, MPLS label stacks and
Ethernet pseudowires, PPPoE sessions, Linux cooked v1 (SLL) and v2 (SLL2), BSD
NULL loopback, raw IP, PPP, Cisco HDLC, NFLOG; IPv4 (+ AH) (header checksum, options,
fragments), IPv6 (+ fragment extension header); TCP, UDP, ICMP, ICMPv6 (with
their checksums), SCTP (CRC32c), GRE. Writers: classic pcap (microsecond
timestamps) and pcapng (SHB + IDB + EPB).

Scenarios: each `scenario_*` function returns a `Scenario`: the frames to write
(timestamps and wire lengths chosen) and the expected records (`Rec`). A Rec is
told which packets belong to it, from which side, so its counters, flags and
times are summed here, once, instead of being typed by hand in every test.
`Scenario.expected(interface)` gives the record dicts with every FlowEvent key
except `event_id` and `hostname` (the tests check those separately).

Addresses come only from the documentation ranges (192.0.2.0/24,
198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32) and loopback.

Command line (used by tests/tsan_pipeline.sh):
    pcapgen.py NAME OUT.pcap   write scenario NAME, print its expected record count
    pcapgen.py --list          list the scenario names
"""

import base64
import datetime
import hashlib
import ipaddress
import os
import random
import socket
import struct
import sys

# ----------------------------------------------------------------------------
# constants

LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LINUX_SLL = 113
LINKTYPE_LINUX_SLL2 = 276
LINKTYPE_PPP = 9
LINKTYPE_PPP_HDLC = 50
LINKTYPE_C_HDLC = 104
LINKTYPE_NFLOG = 239

ETH_IPV4 = 0x0800
ETH_ARP = 0x0806
ETH_8021Q = 0x8100
ETH_8021AD = 0x88A8
ETH_IPV6 = 0x86DD
ETH_MPLS = 0x8847
ETH_MPLS_MC = 0x8848
ETH_PPPOE_DISC = 0x8863
ETH_PPPOE_SESS = 0x8864
PPP_IPV4, PPP_IPV6, PPP_LCP = 0x0021, 0x0057, 0xC021

PROTO_ICMP = 1
PROTO_TCP = 6
PROTO_UDP = 17
PROTO_GRE = 47
PROTO_ICMPV6 = 58
PROTO_SCTP = 132
PROTO_IPV6_FRAG = 44
PROTO_AH = 51

FIN, SYN, RST, PSH, ACK, URG, ECE, CWR = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80

PROTO_NAMES = {PROTO_TCP: "TCP", PROTO_UDP: "UDP", PROTO_ICMP: "ICMP",
               PROTO_ICMPV6: "ICMPv6", PROTO_SCTP: "SCTP"}
PORT_PROTOS = (PROTO_TCP, PROTO_UDP, PROTO_SCTP)
ICMP_PROTOS = (PROTO_ICMP, PROTO_ICMPV6)

# 2024-01-01T00:00:00Z: every scenario's clock starts here (plus an offset).
BASE_US = 1704067200 * 1000000

MAC_A = bytes.fromhex("020000000001")
MAC_B = bytes.fromhex("020000000002")

# Every key of a flow FlowEvent; ICMP/ICMPv6 flows add ICMP_KEYS.
FLOW_KEYS = frozenset("""flow_id timestamp interface hostname direction src_ip dst_ip
    src_port dst_port protocol flow_duration packet_count byte_count avg_packet_size
    type schema_version event_id start_time end_time ip_version protocol_number vlan_id
    src_packets src_bytes dst_packets dst_bytes src_tcp_flags dst_tcp_flags end_reason
    final community_id sensor_id""".split())
ICMP_KEYS = frozenset(("icmp_type", "icmp_code"))
# Keys present when the flow has them (issue 14 items 7-8): the other
# interface, each side's MAC, DSCP and TTL range.
SIDE_INT_KEYS = frozenset("""src_dscp src_ttl_min src_ttl_max dst_dscp dst_ttl_min dst_ttl_max""".split())
SIDE_KEYS = SIDE_INT_KEYS | {"other_interface", "src_mac", "dst_mac"}


def sec(s):
    """Seconds (int or float, relative to BASE) -> absolute microseconds."""
    return BASE_US + int(round(s * 1000000))


# ----------------------------------------------------------------------------
# checksums

def inet_csum(data):
    """RFC 1071 Internet checksum."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def _crc32c_table():
    tab = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        tab.append(c)
    return tab


_CRC32C = _crc32c_table()


def crc32c(data):
    """CRC32c (Castagnoli), as SCTP uses it (RFC 4960 appendix B)."""
    c = 0xFFFFFFFF
    for b in data:
        c = _CRC32C[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


# ----------------------------------------------------------------------------
# addresses

def ip_bytes(addr):
    return ipaddress.ip_address(addr).packed


def ip_version(addr):
    return ipaddress.ip_address(addr).version


def ip_text(addr):
    """The text the sensor prints (inet_ntop form)."""
    b = ip_bytes(addr)
    return socket.inet_ntop(socket.AF_INET if len(b) == 4 else socket.AF_INET6, b)


_HOST_ADDRS = None


def host_addresses():
    """The packed IP addresses of this host's interfaces (what the sensor's
    getifaddrs() sees), for the expected `direction`: from `ip -j addr`,
    plus loopback. Cached."""
    global _HOST_ADDRS
    if _HOST_ADDRS is None:
        addrs = {ip_bytes("127.0.0.1"), ip_bytes("::1")}
        try:
            import json
            import subprocess
            out = subprocess.run(["ip", "-j", "addr", "show"], capture_output=True,
                                 timeout=10).stdout
            for link in json.loads(out or b"[]"):
                for a in link.get("addr_info", []):
                    local = a.get("local", "").split("%")[0]
                    if local:
                        addrs.add(ip_bytes(local))
        except (OSError, ValueError):
            pass
        _HOST_ADDRS = addrs
    return _HOST_ADDRS


def direction_of(src, dst):
    h = host_addresses()
    s, d = ip_bytes(src) in h, ip_bytes(dst) in h
    return "local" if s and d else "outbound" if s else "inbound" if d else "unknown"


def _pseudo(src, dst, proto, length):
    s, d = ip_bytes(src), ip_bytes(dst)
    if len(s) == 4:
        return s + d + struct.pack("!BBH", 0, proto, length)
    return s + d + struct.pack("!IxxxB", length, proto)


# ----------------------------------------------------------------------------
# transport layers (each returns the L4 bytes, checksum filled)

def tcp(src, dst, sport, dport, flags, payload=b"", seq=0, ack=0, win=65535, options=b""):
    """RFC 9293 header (+ options padded to 4 bytes)."""
    options += b"\0" * (-len(options) % 4)
    off = (20 + len(options)) // 4
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                      off << 4, flags, win, 0, 0) + options
    seg = hdr + payload
    c = inet_csum(_pseudo(src, dst, PROTO_TCP, len(seg)) + seg)
    return seg[:16] + struct.pack("!H", c) + seg[18:]


def udp(src, dst, sport, dport, payload=b""):
    """RFC 768."""
    seg = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    c = inet_csum(_pseudo(src, dst, PROTO_UDP, len(seg)) + seg) or 0xFFFF
    return seg[:6] + struct.pack("!H", c) + seg[8:]


def icmp(icmp_type, code, ident=0, seqno=0, payload=b""):
    """RFC 792 echo-style header."""
    m = struct.pack("!BBHHH", icmp_type, code, 0, ident, seqno) + payload
    return m[:2] + struct.pack("!H", inet_csum(m)) + m[4:]


def icmpv6(src, dst, icmp_type, code, ident=0, seqno=0, payload=b""):
    """RFC 4443 echo-style header, checksum over the IPv6 pseudo-header."""
    m = struct.pack("!BBHHH", icmp_type, code, 0, ident, seqno) + payload
    c = inet_csum(_pseudo(src, dst, PROTO_ICMPV6, len(m)) + m)
    return m[:2] + struct.pack("!H", c) + m[4:]


def sctp(sport, dport, vtag=0, chunks=b""):
    """RFC 9260 common header + chunks, CRC32c checksum (little-endian on the wire)."""
    if not chunks:   # one INIT chunk
        chunks = struct.pack("!BBHIIHHI", 1, 0, 20, 0x11223344, 65536, 10, 10, 1)
    p = struct.pack("!HHII", sport, dport, vtag, 0) + chunks
    return p[:8] + struct.pack("<I", crc32c(p)) + p[12:]


def gre(inner, proto=ETH_IPV4):
    """RFC 2784 base header, no options."""
    return struct.pack("!HH", 0, proto) + inner


# ----------------------------------------------------------------------------
# network layers

def ipv4(src, dst, proto, payload, ident=0, ttl=64, df=False, mf=False, frag_off=0,
         options=b"", tos=0, total_len=None):
    """RFC 791. frag_off is in bytes (multiple of 8). Header checksum filled."""
    options += b"\0" * (-len(options) % 4)
    ihl = 5 + len(options) // 4
    if total_len is None:
        total_len = ihl * 4 + len(payload)
    ff = (0x4000 if df else 0) | (0x2000 if mf else 0) | (frag_off // 8)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, tos, total_len, ident, ff, ttl, proto, 0,
                      ip_bytes(src), ip_bytes(dst)) + options
    hdr = hdr[:10] + struct.pack("!H", inet_csum(hdr)) + hdr[12:]
    return hdr + payload


def ipv6(src, dst, nh, payload, hlim=64, flow=0):
    """RFC 8200 fixed header; payload already holds any extension headers."""
    return struct.pack("!IHBB16s16s", (6 << 28) | flow, len(payload), nh, hlim,
                       ip_bytes(src), ip_bytes(dst)) + payload


def ipv6_frag_hdr(nh, frag_off, mf, ident):
    """RFC 8200 section 4.5 fragment header. frag_off in bytes (multiple of 8)."""
    return struct.pack("!BBHI", nh, 0, (frag_off & 0xFFF8) | (1 if mf else 0), ident)


def ip_packet(src, dst, proto, l4, **kw):
    if ip_version(src) == 4:
        return ipv4(src, dst, proto, l4, **kw)
    return ipv6(src, dst, proto, l4, **kw)


# ----------------------------------------------------------------------------
# link layers

def ether(payload, ethertype, src_mac=MAC_A, dst_mac=MAC_B, vlans=()):
    """Ethernet II. vlans: outermost first, each (tpid, vid) or a vid (802.1Q)."""
    tags = b""
    for v in vlans:
        tpid, vid = v if isinstance(v, tuple) else (ETH_8021Q, v)
        tags += struct.pack("!HH", tpid, vid & 0x0FFF)
    return dst_mac + src_mac + tags + struct.pack("!H", ethertype) + payload


def sll(payload, proto, pkttype=0, hatype=1, addr=MAC_A):
    """Linux cooked v1 header (16 bytes)."""
    return struct.pack("!HHH8sH", pkttype, hatype, len(addr), addr.ljust(8, b"\0"), proto) + payload


def sll2(payload, proto, ifindex=2, pkttype=0, hatype=1, addr=MAC_A):
    """Linux cooked v2 header (20 bytes)."""
    return struct.pack("!HHIHBB8s", proto, 0, ifindex, hatype, pkttype, len(addr),
                       addr.ljust(8, b"\0")) + payload


def null_lo(payload, family):
    """BSD loopback: 4-byte address family in the capturing host's order (little-endian)."""
    return struct.pack("<I", family) + payload


def mpls_stack(labels):
    """RFC 3032 label stack entries (TC 0, TTL 64), S set on the last."""
    return b"".join(struct.pack("!I", (lab << 12) | ((i == len(labels) - 1) << 8) | 64)
                    for i, lab in enumerate(labels))


def pw_ether(ip, control_word=True, vlans=(), from_a=True):
    """An Ethernet frame as an RFC 4448 pseudowire carries it (after the
    labels), with the RFC 4385 control word (first nibble 0) or without."""
    et = ETH_IPV4 if ip[0] >> 4 == 4 else ETH_IPV6
    s, d = (MAC_A, MAC_B) if from_a else (MAC_B, MAC_A)
    return (b"\0\0\0\0" if control_word else b"") + ether(ip, et, s, d, vlans)


def pppoe(ppp_payload, ppp_proto, session=0x2A2A):
    """RFC 2516 session header (ver/type 0x11, code 0) + PPP protocol."""
    body = struct.pack("!H", ppp_proto) + ppp_payload
    return struct.pack("!BBHH", 0x11, 0, session, len(body)) + body


def ppp_proto_of(ip):
    return PPP_IPV4 if ip[0] >> 4 == 4 else PPP_IPV6


def nflog(ip, resource=7):
    """Linux NFLOG: family, version, resource id (network order), then TLVs
    with length/type in the writing host's order (little-endian here, as
    libpcap's pcap files from x86 hold them): NFULA_PACKET_HDR (1), a
    prefix (10, padded to 4 bytes), the payload (9)."""
    fam = 2 if ip[0] >> 4 == 4 else 10

    def tlv(t, v):
        raw = struct.pack("<HH", 4 + len(v), t) + v
        return raw + b"\0" * (-len(raw) % 4)
    hwproto = ETH_IPV4 if fam == 2 else ETH_IPV6
    return struct.pack("!BBH", fam, 0, resource) + tlv(1, struct.pack("!HBB", hwproto, 3, 0)) + \
        tlv(10, b"tracer\0") + tlv(9, ip)


def ah_header(nh, spi=0x1000, seq=1):
    """RFC 4302 AH with a 12-byte ICV: length field 4 (6 words)."""
    return struct.pack("!BBHII", nh, 4, 0, spi, seq) + bytes(range(12))


def frame_for(linktype, ip, vlans=(), from_a=True):
    """Wrap an IP packet for `linktype`."""
    et = ETH_IPV4 if ip[0] >> 4 == 4 else ETH_IPV6
    if linktype == LINKTYPE_ETHERNET:
        s, d = (MAC_A, MAC_B) if from_a else (MAC_B, MAC_A)
        return ether(ip, et, s, d, vlans)
    if linktype == LINKTYPE_LINUX_SLL:
        return sll(ip, et, pkttype=4 if from_a else 0, addr=MAC_A if from_a else MAC_B)
    if linktype == LINKTYPE_LINUX_SLL2:
        return sll2(ip, et, pkttype=4 if from_a else 0, addr=MAC_A if from_a else MAC_B)
    if linktype == LINKTYPE_NULL:
        return null_lo(ip, 2 if et == ETH_IPV4 else 24)
    if linktype == LINKTYPE_RAW:
        return ip
    if linktype == LINKTYPE_PPP:
        return b"\xff\x03" + struct.pack("!H", ppp_proto_of(ip)) + ip
    if linktype == LINKTYPE_PPP_HDLC:
        return b"\xff\x03" + struct.pack("!H", ppp_proto_of(ip)) + ip
    if linktype == LINKTYPE_C_HDLC:
        return struct.pack("!BBH", 0x0F, 0, et) + ip
    if linktype == LINKTYPE_NFLOG:
        return nflog(ip)
    raise ValueError("unsupported linktype %d" % linktype)


def arp_frame(sender_ip, target_ip):
    body = struct.pack("!HHBBH6s4s6s4s", 1, ETH_IPV4, 6, 4, 1, MAC_A, ip_bytes(sender_ip),
                       b"\0" * 6, ip_bytes(target_ip))
    return ether(body, ETH_ARP, MAC_A, b"\xff" * 6)


# ----------------------------------------------------------------------------
# file writers

class Frame:
    """One captured frame: time (µs since epoch), captured bytes, wire length."""
    __slots__ = ("ts_us", "data", "wire_len")

    def __init__(self, ts_us, data, wire_len=None):
        self.ts_us = ts_us
        self.data = bytes(data)
        self.wire_len = len(data) if wire_len is None else wire_len


def write_pcap(path, frames, linktype=LINKTYPE_ETHERNET, snaplen=65535):
    """Classic libpcap format, little-endian, microsecond timestamps.
    Frames longer than snaplen are cut (caplen) but keep their wire length."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, linktype))
        for fr in frames:
            data = fr.data[:snaplen]
            f.write(struct.pack("<IIII", fr.ts_us // 1000000, fr.ts_us % 1000000,
                                len(data), fr.wire_len))
            f.write(data)


def _pcapng_block(btype, body):
    body += b"\0" * (-len(body) % 4)
    n = 12 + len(body)
    return struct.pack("<II", btype, n) + body + struct.pack("<I", n)


def write_pcapng(path, frames, linktype=LINKTYPE_ETHERNET, snaplen=65535):
    """pcapng: one section, one interface (default µs resolution), EPBs."""
    with open(path, "wb") as f:
        shb = struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)
        shb += struct.pack("<HH", 0, 0)                      # opt_endofopt
        f.write(_pcapng_block(0x0A0D0D0A, shb))
        name = b"gen0"
        opt = struct.pack("<HH", 2, len(name)) + name + b"\0" * (-len(name) % 4)
        opt += struct.pack("<HH", 0, 0)
        f.write(_pcapng_block(1, struct.pack("<HHI", linktype, 0, snaplen) + opt))
        for fr in frames:
            data = fr.data[:snaplen]
            body = struct.pack("<IIIII", 0, fr.ts_us >> 32, fr.ts_us & 0xFFFFFFFF,
                               len(data), fr.wire_len) + data
            body += b"\0" * (-len(data) % 4)
            f.write(_pcapng_block(6, body))


# ----------------------------------------------------------------------------
# Community ID v1 (https://github.com/corelight/community-id-spec)

_ICMP4_PAIRS = {8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 10: 9, 9: 10, 17: 18, 18: 17}
_ICMP6_PAIRS = {128: 129, 129: 128, 133: 134, 134: 133, 135: 136, 136: 135,
                130: 131, 131: 130, 139: 140, 140: 139, 144: 145, 145: 144}


def community_id(src, dst, proto, sport=0, dport=0, seed=0):
    """Community ID v1 of a flow seen from its initiator. For ICMP/ICMPv6 pass
    the type as sport and the code as dport."""
    s, d = ip_bytes(src), ip_bytes(dst)
    one_way = False
    if proto in ICMP_PROTOS:
        pairs = _ICMP4_PAIRS if proto == PROTO_ICMP else _ICMP6_PAIRS
        if sport in pairs:
            sport, dport = sport, pairs[sport]
        else:
            one_way = True          # type as sport, code as dport
    if not (one_way or s < d or (s == d and sport < dport)):
        s, d, sport, dport = d, s, dport, sport
    data = struct.pack("!H", seed) + s + d + struct.pack("!BB", proto, 0)
    if proto in PORT_PROTOS or proto in ICMP_PROTOS:
        data += struct.pack("!HH", sport, dport)
    return "1:" + base64.b64encode(hashlib.sha1(data).digest()).decode()


# ----------------------------------------------------------------------------
# expected records

def rfc3339(us, digits):
    t = datetime.datetime.fromtimestamp(us // 1000000, datetime.timezone.utc)
    frac = us % 1000000
    f = "%03d" % (frac // 1000) if digits == 3 else "%06d" % frac
    return t.strftime("%Y-%m-%dT%H:%M:%S") + "." + f + "Z"


def flags_text(flags):
    """Letters in the order S A F R P U E C."""
    out = ""
    for bit, ch in ((SYN, "S"), (ACK, "A"), (FIN, "F"), (RST, "R"), (PSH, "P"),
                    (URG, "U"), (ECE, "E"), (CWR, "C")):
        if flags & bit:
            out += ch
    return out


# ----------------------------------------------------------------------------
# the per-side link and IP facts a record reports (issue 14 item 8)

_VLAN_TPIDS = (ETH_8021Q, ETH_8021AD, 0x9100)
_PW_TYPES = (ETH_IPV4, ETH_IPV6, ETH_ARP, ETH_MPLS, ETH_MPLS_MC, ETH_PPPOE_SESS) + _VLAN_TPIDS


def _ip_facts(b):
    """(ttl, dscp) of the IP header at b, or None."""
    if len(b) >= 20 and b[0] >> 4 == 4:
        return b[8], b[1] >> 2
    if len(b) >= 8 and b[0] >> 4 == 6:
        return b[7], ((b[0] & 0x0F) << 2) | (b[1] >> 6)
    return None


def _tunnel_inner(b):
    """The packet a tunnel at the IP header b carries, as the sensor opens it
    (AGENT_DECAP): ("ip" | "eth", bytes), or None (no tunnel, or a fragment)."""
    v = b[0] >> 4
    if v == 4:
        ihl, proto = (b[0] & 0x0F) * 4, b[9]
        if struct.unpack("!H", b[6:8])[0] & 0x3FFF:
            return None
        tot = struct.unpack("!H", b[2:4])[0]
        p = b[ihl:tot] if tot else b[ihl:]
    elif v == 6:
        proto, p = b[6], b[40:]
    else:
        return None
    if proto in (PROTO_IPIP, PROTO_IPV6_IN_IP):
        return "ip", p
    if proto == PROTO_GRE and len(p) >= 4:
        flags, gp = struct.unpack("!HH", p[:4])
        rest = p[4 + 4 * sum(1 for bit in (0x8000, 0x2000, 0x1000) if flags & bit):]
        if gp in (ETH_IPV4, ETH_IPV6):
            return "ip", rest
        if gp == GRE_TEB:
            return "eth", rest
        if gp == GRE_ERSPAN2:                       # type I without a sequence number
            return "eth", rest[8:] if flags & 0x1000 else rest
        if gp == GRE_ERSPAN3 and len(rest) >= 12:
            return "eth", rest[12 + (8 if rest[11] & 1 else 0):]
        return None
    if proto == PROTO_UDP and len(p) >= 16:
        dport, u = struct.unpack("!H", p[2:4])[0], p[8:]
        if dport == VXLAN_PORT:
            return "eth", u[8:]
        if dport == GENEVE_PORT:
            gp = struct.unpack("!H", u[2:4])[0]
            return ("eth" if gp == GRE_TEB else "ip"), u[8 + (u[0] & 0x3F) * 4:]
        if dport == GTPU_PORT and u[1] == 255:
            off = 8
            if u[0] & 0x07:
                off, nxt = 12, u[11]
                while nxt:
                    ln = u[off] * 4
                    nxt, off = u[off + ln - 1], off + ln
            return "ip", u[off:]
    return None


def _ip_tunnel_facts(b, macs, tdepth):
    """(ttl, dscp) and MACs of the innermost IP header the sensor reaches
    through tunnels (at most 3; one it cannot open keeps the outer facts)."""
    facts = _ip_facts(b)
    if tdepth is None or tdepth >= 3 or facts is None:
        return facts, macs
    try:
        inner = _tunnel_inner(b)
        if inner is None:
            return facts, macs
        kind, ib = inner
        if kind == "eth":
            r = _after_ethertype(ib[14:], struct.unpack("!H", ib[12:14])[0], (ib[6:12], ib[0:6]),
                                 tdepth=tdepth + 1)
        else:
            r = _ip_tunnel_facts(ib, macs, tdepth + 1)
    except (IndexError, struct.error):
        return facts, macs
    return r if r[0] is not None else (facts, macs)


def _after_ethertype(b, et, macs, depth=0, tdepth=None):
    while et in _VLAN_TPIDS and len(b) >= 4:
        et, b = struct.unpack("!H", b[2:4])[0], b[4:]
    if et in (ETH_IPV4, ETH_IPV6):
        return _ip_tunnel_facts(b, macs, tdepth)
    if et in (ETH_MPLS, ETH_MPLS_MC):
        while len(b) >= 4:
            bottom, b = b[2] & 1, b[4:]
            if bottom:
                break
        if not b:
            return None, macs
        nib = b[0] >> 4
        if nib in (4, 6):
            return _ip_facts(b), macs
        if nib == 0 and len(b) >= 18:
            at12, at16 = struct.unpack("!H", b[12:14])[0], struct.unpack("!H", b[16:18])[0]
            if at16 in _PW_TYPES and at12 not in _VLAN_TPIDS:
                return _ether_facts(b[4:], depth + 1)
        if len(b) >= 14 and struct.unpack("!H", b[12:14])[0] in _PW_TYPES:
            return _ether_facts(b, depth + 1)
        return None, macs
    if et == ETH_PPPOE_SESS and len(b) >= 8:
        return _ppp_facts(b[6:], macs)
    return None, macs


def _ppp_facts(b, macs):
    proto = b[0] if b[0] & 1 else struct.unpack("!H", b[:2])[0]
    b = b[1:] if b[0] & 1 else b[2:]
    if proto in (PPP_IPV4, PPP_IPV6):
        return _ip_facts(b), macs
    if proto in (0x0281, 0x0283):
        return _after_ethertype(b, ETH_MPLS, macs)
    return None, macs


def _ether_facts(b, depth=0, tdepth=None):
    macs = (b[6:12], b[0:6])
    return _after_ethertype(b[14:], struct.unpack("!H", b[12:14])[0], macs, depth, tdepth)


def frame_facts(linktype, b, decap=False):
    """What the sensor reads from one frame for the per-side fields: ((ttl,
    dscp) of the innermost IP header, (src MAC or None, dst MAC or None));
    decap: through tunnels as AGENT_DECAP opens them (Ethernet frames)."""
    none = (None, None)
    if linktype == LINKTYPE_ETHERNET:
        return _ether_facts(b, tdepth=0 if decap else None)
    if linktype == LINKTYPE_LINUX_SLL:
        halen = struct.unpack("!H", b[4:6])[0]
        return _after_ethertype(b[16:], struct.unpack("!H", b[14:16])[0],
                                (b[6:12] if halen == 6 else None, None))
    if linktype == LINKTYPE_LINUX_SLL2:
        return _after_ethertype(b[20:], struct.unpack("!H", b[0:2])[0],
                                (b[12:18] if b[11] == 6 else None, None))
    if linktype == LINKTYPE_NULL:
        return _ip_facts(b[4:]), none
    if linktype == LINKTYPE_RAW:
        return _ip_facts(b), none
    if linktype in (LINKTYPE_PPP, LINKTYPE_PPP_HDLC):
        if b[0] in (0x0F, 0x8F):
            return _after_ethertype(b[4:], struct.unpack("!H", b[2:4])[0], none)
        return _ppp_facts(b[2:] if b[0] == 0xFF else b, none)
    if linktype == LINKTYPE_C_HDLC:
        return _after_ethertype(b[4:], struct.unpack("!H", b[2:4])[0], none)
    if linktype == LINKTYPE_NFLOG:
        off = 4
        while off + 4 <= len(b):
            ln, typ = struct.unpack("<HH", b[off:off + 4])
            if typ == 9:
                return _ip_facts(b[off + 4:off + ln]), none
            off += (ln + 3) & ~3
        return None, none
    return None, none


def _mac_text(m):
    return ":".join("%02x" % x for x in m)


def side_fields(pkts, prior=None):
    """The other_interface-less per-side fields of a record whose packets are
    pkts (ts, wire_len, from_src, tcp_flags, facts) in capture order; prior:
    the same flow's earlier packets (the fields cover the flow so far)."""
    allp = sorted(list(prior or []) + list(pkts), key=lambda p: p[0])
    mac, own, seen = [None, None], [False, False], [None, None]
    ttl = [[None, None], [None, None]]
    for p in allp:
        d = 0 if p[2] else 1
        facts = p[4] if len(p) > 4 else None
        if facts is None or facts[0] is None:
            continue
        (t, dscp), (smac, dmac) = facts
        if seen[d] is None:
            seen[d] = dscp
            ttl[d] = [t, t]
            if smac is not None:
                mac[d], own[d] = smac, True
            if dmac is not None and not own[1 - d]:
                mac[1 - d] = dmac
        ttl[d] = [min(ttl[d][0], t), max(ttl[d][1], t)]
    r = {}
    for d, name in ((0, "src"), (1, "dst")):
        if mac[d] is not None:
            r[name + "_mac"] = _mac_text(mac[d])
    for d, name in ((0, "src"), (1, "dst")):
        if seen[d] is not None:
            r[name + "_dscp"] = seen[d]
            r[name + "_ttl_min"], r[name + "_ttl_max"] = ttl[d]
    return r


def _id_host(text):
    """An address as flow_id writes it: IPv6 in brackets."""
    return "[%s]" % text if ":" in text else text


class Rec:
    """One expected flow record. Packets are added by the scenario as they are
    generated: (ts_us, wire_len, from_src, tcp_flags)."""

    def __init__(self, src, dst, proto, sport=0, dport=0, vlan=0, icmp_tc=None,
                 end_reason="shutdown", final=True, direction=None, inferred=False,
                 tunnel=None):
        """direction None: from this host's addresses (direction_of); inferred:
        the TCP start was missed (the record has "initiator_inferred": true);
        tunnel: the record's "tunnel" object (issue 14), None for none."""
        self.inferred = inferred
        self.tunnel = tunnel
        self.src, self.dst, self.proto = src, dst, proto
        self.sport, self.dport = (sport, dport) if proto in PORT_PROTOS else (0, 0)
        self.vlan = vlan
        self.icmp_tc = icmp_tc
        self.end_reason = end_reason
        self.final = final
        self.direction = direction
        self.pkts = []

    def expected(self, interface):
        assert self.pkts, "expected record without packets"
        first = min(p[0] for p in self.pkts)
        last = max(p[0] for p in self.pkts)
        sp = [p for p in self.pkts if p[2]]
        dp = [p for p in self.pkts if not p[2]]
        pname = PROTO_NAMES.get(self.proto, str(self.proto))
        src, dst = ip_text(self.src), ip_text(self.dst)
        npk = len(self.pkts)
        nby = sum(p[1] for p in self.pkts)
        sf = df = 0
        for p in sp:
            sf |= p[3]
        for p in dp:
            df |= p[3]
        r = {
            "flow_id": "%s:%d-%s:%d-%s" % (_id_host(src), self.sport, _id_host(dst),
                                            self.dport, pname),
            "timestamp": rfc3339(last, 3),
            "interface": interface,
            "direction": self.direction or direction_of(self.src, self.dst),
            "src_ip": src, "dst_ip": dst,
            "src_port": str(self.sport), "dst_port": str(self.dport),
            "protocol": pname,
            "flow_duration": (last - first) / 1e6,
            "packet_count": npk, "byte_count": nby,
            "avg_packet_size": nby / npk,
            "type": "flow", "schema_version": 2,
            "start_time": rfc3339(first, 6), "end_time": rfc3339(last, 6),
            "ip_version": ip_version(self.src), "protocol_number": self.proto,
            "vlan_id": self.vlan,
            "src_packets": len(sp), "src_bytes": sum(p[1] for p in sp),
            "dst_packets": len(dp), "dst_bytes": sum(p[1] for p in dp),
            "src_tcp_flags": flags_text(sf), "dst_tcp_flags": flags_text(df),
            "end_reason": self.end_reason, "final": self.final,
        }
        if self.proto in ICMP_PROTOS:
            t, c = self.icmp_tc
            r["icmp_type"], r["icmp_code"] = t, c
            r["community_id"] = community_id(self.src, self.dst, self.proto, t, c)
        else:
            r["community_id"] = community_id(self.src, self.dst, self.proto, self.sport, self.dport)
        if self.inferred:
            r["initiator_inferred"] = True
        if self.tunnel is not None:
            r["tunnel"] = dict(self.tunnel)
        r.update(side_fields(self.pkts, getattr(self, "prior", None)))
        return r


class Scenario:
    """Frames plus expected records, for one capture file."""

    def __init__(self, name, linktype=LINKTYPE_ETHERNET, snaplen=65535, env=None,
                 pcapng=False):
        self.name = name
        self.linktype = linktype
        self.snaplen = snaplen
        self.env = dict(env or {})
        self.pcapng = pcapng
        self.frames = []
        self.recs = []

    def rec(self, *a, **kw):
        r = Rec(*a, **kw)
        self.recs.append(r)
        return r

    def add(self, ts_us, data, rec=None, from_src=True, tcp_flags=0, wire_len=None):
        fr = Frame(ts_us, data, wire_len)
        self.frames.append(fr)
        if rec is not None:
            try:
                facts = frame_facts(self.linktype, fr.data[:self.snaplen],
                                    decap=self.env.get("AGENT_DECAP", "on") != "off")
            except (IndexError, struct.error):
                facts = None
            rec.pkts.append((ts_us, fr.wire_len, from_src, tcp_flags, facts))
        return fr

    def sorted_frames(self):
        return sorted(self.frames, key=lambda f: f.ts_us)   # stable

    def filename(self):
        return self.name + (".pcapng" if self.pcapng else ".pcap")

    def write(self, path):
        w = write_pcapng if self.pcapng else write_pcap
        w(path, self.sorted_frames(), self.linktype, self.snaplen)
        return path

    def expected(self, interface):
        return [r.expected(interface) for r in self.recs]


class Conv:
    """Two endpoints of one transport conversation inside a scenario: builds
    the packets (link framing included) and books them on the current Rec."""

    def __init__(self, sc, proto, a, b, aport=0, bport=0, vlans=(), linktype=None,
                 ip_options=b"", v6_ext=(), wrap=None, v4_ah=False):
        """ip_options: IPv4 options on every packet; v6_ext: IPv6 extension
        headers before the transport header, as (type, body) with body of
        6 + 8k bytes (the next-header and length bytes are filled here);
        wrap: fn(ip, from_a) -> frame, the link framing instead of frame_for;
        v4_ah: an AH header between IPv4 and the transport header."""
        self.ip_options, self.v6_ext = ip_options, v6_ext
        self.wrap, self.v4_ah = wrap, v4_ah
        self.sc, self.proto = sc, proto
        self.a, self.b, self.aport, self.bport = a, b, aport, bport
        self.vlans = vlans
        self.linktype = sc.linktype if linktype is None else linktype
        self.cur = None
        self.ident = 0x1000
        self.icmp_id = 0x42             # ICMP/ICMPv6 echo identifier

    def vlan_id(self):
        if not self.vlans:
            return 0
        v = self.vlans[0]
        return v[1] if isinstance(v, tuple) else v

    def record(self, initiator="a", **kw):
        if initiator == "a":
            r = self.sc.rec(self.a, self.b, self.proto, self.aport, self.bport,
                            vlan=self.vlan_id(), **kw)
        else:
            r = self.sc.rec(self.b, self.a, self.proto, self.bport, self.aport,
                            vlan=self.vlan_id(), **kw)
        r.side = initiator
        self.cur = r
        return r

    def l4(self, frm, flags=0, payload=b"", icmp_tc=(8, 0), seqno=0):
        src, dst = (self.a, self.b) if frm == "a" else (self.b, self.a)
        sp, dp = (self.aport, self.bport) if frm == "a" else (self.bport, self.aport)
        if self.proto == PROTO_TCP:
            return tcp(src, dst, sp, dp, flags, payload, seq=1000 + seqno, ack=2000 + seqno)
        if self.proto == PROTO_UDP:
            return udp(src, dst, sp, dp, payload)
        if self.proto == PROTO_ICMP:
            return icmp(icmp_tc[0], icmp_tc[1], self.icmp_id, seqno, payload)
        if self.proto == PROTO_ICMPV6:
            return icmpv6(src, dst, icmp_tc[0], icmp_tc[1], self.icmp_id, seqno, payload)
        if self.proto == PROTO_SCTP:
            if not seqno:                                   # INIT
                return sctp(sp, dp, 0)
            return sctp(sp, dp, 0x11223344,                     # INIT ACK
                        struct.pack("!BBHIIHHI", 2, 0, 20, 0x55667788, 65536, 10, 10, seqno))
        if self.proto == PROTO_GRE:
            inner = ipv4("203.0.113.77", "203.0.113.78", PROTO_UDP,
                         udp("203.0.113.77", "203.0.113.78", 4000, 5000, payload))
            return gre(inner)
        return payload

    def send(self, t, frm, flags=0, payload=b"", icmp_tc=(8, 0), seqno=0, rec="cur",
             pad_wire=0):
        """Add one packet at time t (seconds relative to BASE) from side frm ('a'/'b').
        rec: the Rec to book it on ('cur' = the current one, None = none).
        pad_wire: extra wire bytes not captured (the frame is stored whole)."""
        src, dst = (self.a, self.b) if frm == "a" else (self.b, self.a)
        self.ident += 1
        l4 = self.l4(frm, flags, payload, icmp_tc, seqno)
        if ip_version(src) == 4 and self.v4_ah:
            ip = ipv4(src, dst, PROTO_AH, ah_header(self.proto, seq=self.ident) + l4,
                      ident=self.ident, options=self.ip_options)
        elif ip_version(src) == 4:
            ip = ipv4(src, dst, self.proto, l4, ident=self.ident, options=self.ip_options)
        else:
            nh, chain = self.proto, b""
            for typ, body in reversed(self.v6_ext):
                assert (len(body) + 2) % 8 == 0
                chain = struct.pack("!BB", nh, (len(body) + 2) // 8 - 1) + body + chain
                nh = typ
            ip = ipv6(src, dst, nh, chain + l4)
        if self.wrap is not None:
            data = self.wrap(ip, frm == "a")
        else:
            data = frame_for(self.linktype, ip, self.vlans, frm == "a")
        r = self.cur if rec == "cur" else rec
        from_src = r is not None and frm == getattr(r, "side", "a")
        tf = flags if self.proto == PROTO_TCP else 0
        return self.sc.add(sec(t), data, r, from_src, tf,
                           wire_len=len(data) + pad_wire)


# ----------------------------------------------------------------------------
# building blocks

A4, B4, C4, D4 = "192.0.2.10", "198.51.100.20", "203.0.113.30", "192.0.2.40"
REMOTE_1, REMOTE_2 = "203.0.113.201", "198.51.100.201"
A6, B6 = "2001:db8::a", "2001:db8:1::b"


def tcp_session(c, t0, end="fin", data_rounds=1, last_ack_delay=0.5, gap=0.01):
    """Handshake, data, close. end: 'fin' (FIN both sides + last ACK after
    last_ack_delay) or 'rst' (responder resets). Returns the time of the last packet."""
    r = c.record(end_reason=end)
    t = t0
    c.send(t, "a", SYN)
    t += gap; c.send(t, "b", SYN | ACK)
    t += gap; c.send(t, "a", ACK)
    for i in range(data_rounds):
        t += gap; c.send(t, "a", PSH | ACK, b"GET / HTTP/1.1\r\n\r\n", seqno=i)
        t += gap; c.send(t, "b", PSH | ACK, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n" + b"x" * (10 * i), seqno=i)
    if end == "fin":
        t += gap; c.send(t, "a", FIN | ACK)
        t += gap; c.send(t, "b", FIN | ACK)
        t += last_ack_delay; c.send(t, "a", ACK)
    elif end == "rst":
        t += gap; c.send(t, "b", RST | ACK)
    return r, t


# ----------------------------------------------------------------------------
# scenarios

def scenario_tcp_fin():
    """Handshake, data both ways, FIN from both sides, last ACK 0.5 s later."""
    sc = Scenario("tcp_fin")
    c = Conv(sc, PROTO_TCP, A4, B4, 40000, 80)
    tcp_session(c, 10.0, "fin", data_rounds=2, last_ack_delay=0.5)
    return sc


def scenario_tcp_rst():
    sc = Scenario("tcp_rst")
    c = Conv(sc, PROTO_TCP, A4, B4, 40001, 443)
    r, t = tcp_session(c, 10.0, "rst")
    c.send(t + 1.0, "b", RST)           # a second RST inside the linger: same flow
    return sc


def scenario_syn_only():
    """One SYN, no reply: ends 'shutdown' at end of file."""
    sc = Scenario("syn_only")
    c = Conv(sc, PROTO_TCP, A4, B4, 40002, 22)
    c.record(end_reason="shutdown")
    c.send(10.0, "a", SYN)
    return sc


def scenario_syn_idle():
    """A SYN, then 61 s later an unrelated UDP packet: the SYN flow ends 'idle'."""
    sc = Scenario("syn_idle")
    c = Conv(sc, PROTO_TCP, A4, B4, 40003, 22)
    c.record(end_reason="idle")
    c.send(10.0, "a", SYN)
    u = Conv(sc, PROTO_UDP, C4, D4, 5000, 53)
    u.record(end_reason="shutdown")
    u.send(71.0, "a", payload=b"q")
    return sc


def scenario_syn_retry_idle():
    """A SYN, the same SYN again 61 s later: two flows, 'idle' then 'shutdown'."""
    sc = Scenario("syn_retry_idle")
    c = Conv(sc, PROTO_TCP, A4, B4, 40004, 22)
    c.record(end_reason="idle")
    c.send(10.0, "a", SYN)
    c.record(end_reason="shutdown")
    c.send(71.0, "a", SYN)
    return sc


def scenario_tcp_idle_boundary():
    """Idle timeout boundary: a gap of exactly 60 s ends the flow ('>= timeout')."""
    sc = Scenario("tcp_idle_boundary")
    c = Conv(sc, PROTO_TCP, A4, B4, 40005, 22)
    c.record(end_reason="idle")
    c.send(10.0, "a", SYN)
    c.send(10.5, "b", SYN | ACK)
    c.send(11.0, "a", ACK)
    c.record(initiator="a", end_reason="shutdown", inferred=True)   # no SYN: port 22 serves
    c.send(71.0, "a", PSH | ACK, b"late")
    return sc


def scenario_synack_first():
    """Capture starts at the SYN+ACK: the initiator is its receiver."""
    sc = Scenario("synack_first")
    c = Conv(sc, PROTO_TCP, A4, B4, 40006, 80)
    c.record(initiator="a", end_reason="shutdown")
    c.send(10.0, "b", SYN | ACK)
    c.send(10.01, "a", ACK)
    c.send(10.02, "a", PSH | ACK, b"hello")
    c.send(10.03, "b", ACK)
    return sc


def scenario_tcp_after_linger():
    """After a FIN close, the same 5-tuple 3 s later starts a new flow; a new
    SYN 1 s after another close (inside the linger) also starts a new flow."""
    sc = Scenario("tcp_after_linger")
    c = Conv(sc, PROTO_TCP, A4, B4, 40007, 80)
    r, t = tcp_session(c, 10.0, "fin", last_ack_delay=0.2)
    # B speaks first after the linger; no SYN: its port 80 makes it the responder
    c.record(initiator="a", end_reason="shutdown", inferred=True)
    c.send(t + 3.0, "b", PSH | ACK, b"stray")
    c.send(t + 3.1, "a", ACK)
    d = Conv(sc, PROTO_TCP, A4, B4, 40008, 80)
    r2, t2 = tcp_session(d, 30.0, "fin", last_ack_delay=0.2)
    d.record(end_reason="shutdown")
    d.send(t2 + 1.0, "a", SYN)                           # port reuse inside the linger
    d.send(t2 + 1.01, "b", SYN | ACK)
    return sc


def scenario_udp():
    sc = Scenario("udp")
    c = Conv(sc, PROTO_UDP, A4, B4, 5353, 53)
    c.record()
    c.send(10.0, "a", payload=b"query-1")
    c.send(10.1, "b", payload=b"answer-1-longer")
    c.send(11.0, "a", payload=b"query-2")
    c.send(11.1, "b", payload=b"answer-2-longer!")
    return sc


def scenario_icmp_echo():
    sc = Scenario("icmp_echo")
    c = Conv(sc, PROTO_ICMP, A4, C4)
    c.record(icmp_tc=(8, 0))
    for i in range(2):
        c.send(10.0 + i, "a", icmp_tc=(8, 0), seqno=i + 1, payload=b"p" * 56)
        c.send(10.0 + i + 0.002, "b", icmp_tc=(0, 0), seqno=i + 1, payload=b"p" * 56)
    return sc


def scenario_icmp_two_pings():
    """Two ping sessions between the same hosts (identifiers 0x101 and 0x202,
    interleaved) are two flows; a port unreachable between the same hosts is a
    third (its Community ID differs); an ICMPv6 pair likewise by identifier."""
    sc = Scenario("icmp_two_pings")
    p1 = Conv(sc, PROTO_ICMP, A4, C4)
    p1.icmp_id = 0x101
    p2 = Conv(sc, PROTO_ICMP, A4, C4)
    p2.icmp_id = 0x202
    r1 = p1.record(icmp_tc=(8, 0))
    r2 = p2.record(icmp_tc=(8, 0))
    for i in range(3):
        p1.send(10.0 + i, "a", icmp_tc=(8, 0), seqno=i, rec=r1)
        p2.send(10.2 + i, "a", icmp_tc=(8, 0), seqno=i, rec=r2)
        p1.send(10.01 + i, "b", icmp_tc=(0, 0), seqno=i, rec=r1)
        p2.send(10.21 + i, "b", icmp_tc=(0, 0), seqno=i, rec=r2)
    r3 = sc.rec(C4, A4, PROTO_ICMP, icmp_tc=(3, 3))
    quoted = ipv4(A4, C4, PROTO_UDP, udp(A4, C4, 44000, 33434, b"probe"))[:28]
    sc.add(sec(10.5), ether(ipv4(C4, A4, PROTO_ICMP, icmp(3, 3, 0, 0, quoted)), ETH_IPV4,
                            MAC_B, MAC_A), r3, True)
    for ident, t in ((0x303, 11.0), (0x404, 11.1)):
        v = Conv(sc, PROTO_ICMPV6, A6, B6)
        v.icmp_id = ident
        v.record(icmp_tc=(128, 0))
        v.send(t, "a", icmp_tc=(128, 0), seqno=1)
        v.send(t + 0.01, "b", icmp_tc=(129, 0), seqno=1)
    return sc


def scenario_ipv6_tcp():
    sc = Scenario("ipv6_tcp")
    c = Conv(sc, PROTO_TCP, A6, B6, 50000, 443)
    tcp_session(c, 10.0, "fin", data_rounds=1, last_ack_delay=0.5)
    return sc


def scenario_icmpv6_echo():
    sc = Scenario("icmpv6_echo")
    c = Conv(sc, PROTO_ICMPV6, A6, B6)
    c.record(icmp_tc=(128, 0))
    for i in range(2):
        c.send(10.0 + i, "a", icmp_tc=(128, 0), seqno=i + 1, payload=b"q" * 32)
        c.send(10.0 + i + 0.003, "b", icmp_tc=(129, 0), seqno=i + 1, payload=b"q" * 32)
    return sc


def scenario_vlan():
    """802.1Q: the same 5-tuple in VLAN 100 and VLAN 200 is two flows."""
    sc = Scenario("vlan")
    for vid, t in ((100, 10.0), (200, 10.05)):
        c = Conv(sc, PROTO_UDP, A4, B4, 6000, 7000, vlans=(vid,))
        c.record()
        c.send(t, "a", payload=b"v%d" % vid)
        c.send(t + 0.5, "b", payload=b"reply")
    return sc


def _vlan_one_way(name, env, merged):
    """One TCP connection whose A->B frames carry VLAN 100 and whose B->A
    frames are untagged (a trunk on one side of the tap)."""
    sc = Scenario(name, env=env)
    a2b = Conv(sc, PROTO_TCP, A4, B4, 51000, 80, vlans=(100,))
    b2a = Conv(sc, PROTO_TCP, A4, B4, 51000, 80)
    if merged:
        ra = rb = sc.rec(A4, B4, PROTO_TCP, 51000, 80, vlan=0)
    else:
        ra = sc.rec(A4, B4, PROTO_TCP, 51000, 80, vlan=100)
        # the untagged half: A, the SYN+ACK's receiver, is its initiator
        rb = sc.rec(A4, B4, PROTO_TCP, 51000, 80, vlan=0)
    a2b.send(10.0, "a", SYN, rec=ra)
    b2a.send(10.01, "b", SYN | ACK, rec=rb)
    a2b.send(10.02, "a", ACK, rec=ra)
    b2a.send(10.03, "b", PSH | ACK, b"hello", rec=rb)
    return sc


def scenario_vlan_one_way():
    """Default (VLAN in the key): two half-flows, VLAN 100 and VLAN 0."""
    return _vlan_one_way("vlan_one_way", {}, False)


def scenario_vlan_not_in_key():
    """AGENT_VLAN_IN_KEY=false: the same connection is one flow, vlan_id 0."""
    return _vlan_one_way("vlan_not_in_key", {"AGENT_VLAN_IN_KEY": "false"}, True)


def scenario_qinq():
    """802.1ad outer tag 300 over 802.1Q inner tag 10: vlan_id is the outer one."""
    sc = Scenario("qinq")
    c = Conv(sc, PROTO_TCP, A4, B4, 40010, 8080, vlans=((ETH_8021AD, 300), (ETH_8021Q, 10)))
    tcp_session(c, 10.0, "fin")
    return sc


def _v4_frag_datagram(sc, rec, t, src, dst, sport, dport, ident, sizes, from_src=True):
    """One UDP datagram sent as len(sizes) IPv4 fragments (each size a multiple
    of 8 except the last), first fragment first."""
    total = sum(sizes)
    payload = bytes((i * 7) & 0xFF for i in range(total - 8))
    dgram = udp(src, dst, sport, dport, payload)
    off = 0
    for i, n in enumerate(sizes):
        part = dgram[off:off + n]
        ip = ipv4(src, dst, PROTO_UDP, part, ident=ident, mf=i < len(sizes) - 1, frag_off=off)
        sc.add(sec(t + i * 0.001), ether(ip, ETH_IPV4), rec, from_src)
        off += n


def scenario_ipv4_frag():
    """A 2000-byte UDP datagram in 3 fragments: one flow of 3 packets."""
    sc = Scenario("ipv4_frag")
    r = sc.rec(A4, B4, PROTO_UDP, 7001, 7002)
    _v4_frag_datagram(sc, r, 10.0, A4, B4, 7001, 7002, 0x4242, (1000, 800, 200))
    return sc


def scenario_ipv4_frag_two():
    """Two fragmented datagrams between the same hosts, interleaved, told apart
    by their IP identification: two flows of 3 packets each."""
    sc = Scenario("ipv4_frag_two")
    r1 = sc.rec(A4, B4, PROTO_UDP, 7101, 7102)
    r2 = sc.rec(A4, B4, PROTO_UDP, 7201, 7202)
    p1 = bytes(1592)
    p2 = bytes(range(256)) * 5
    d1 = udp(A4, B4, 7101, 7102, p1)            # 1600 bytes
    d2 = udp(A4, B4, 7201, 7202, p2)            # 1288 bytes
    frags1 = [(0, d1[:808], True), (808, d1[808:1400], True), (1400, d1[1400:], False)]
    frags2 = [(0, d2[:600], True), (600, d2[600:1200], True), (1200, d2[1200:], False)]
    t = 10.0
    for (o1, b1, m1), (o2, b2, m2) in zip(frags1, frags2):
        sc.add(sec(t), ether(ipv4(A4, B4, PROTO_UDP, b1, ident=0x1111, mf=m1, frag_off=o1), ETH_IPV4), r1)
        sc.add(sec(t + 0.0005), ether(ipv4(A4, B4, PROTO_UDP, b2, ident=0x2222, mf=m2, frag_off=o2), ETH_IPV4), r2)
        t += 0.001
    return sc


def scenario_ipv6_frag():
    """A UDP datagram in 3 IPv6 fragments (fragment extension header)."""
    sc = Scenario("ipv6_frag")
    r = sc.rec(A6, B6, PROTO_UDP, 7301, 7302)
    payload = bytes((i * 13) & 0xFF for i in range(2392))
    dgram = udp(A6, B6, 7301, 7302, payload)     # 2400 bytes
    parts = ((0, 1232), (1232, 1000), (2232, 168))
    for i, (off, n) in enumerate(parts):
        fh = ipv6_frag_hdr(PROTO_UDP, off, i < 2, 0xABCDEF01)
        ip = ipv6(A6, B6, PROTO_IPV6_FRAG, fh + dgram[off:off + n])
        sc.add(sec(10.0 + i * 0.001), ether(ip, ETH_IPV6), r)
    return sc


def scenario_ipv6_nested_frag():
    """Nested IPv6 Fragment headers (RFC 8200 section 4.5): the first packet's
    outer Fragment header (id 0xA1A1A1A1, offset 0, M) carries an inner one
    (id 0xB2B2B2B2, offset 0, M) and the UDP header; the second packet is the
    outer datagram's last fragment, whose Next Header is the inner Fragment
    header (44). The outer identification names the datagram: one flow of
    2 packets / 532 bytes (270 + 262)."""
    sc = Scenario("ipv6_nested_frag")
    r = sc.rec(A6, B6, PROTO_UDP, 7401, 7402)
    inner = ipv6_frag_hdr(PROTO_UDP, 0, True, 0xB2B2B2B2) + \
        udp(A6, B6, 7401, 7402, bytes(range(192)))       # 8 + 200 = 208 bytes
    first = ipv6_frag_hdr(PROTO_IPV6_FRAG, 0, True, 0xA1A1A1A1) + inner
    last = ipv6_frag_hdr(PROTO_IPV6_FRAG, len(inner), False, 0xA1A1A1A1) + bytes(200)
    sc.add(sec(10.0), ether(ipv6(A6, B6, PROTO_IPV6_FRAG, first), ETH_IPV6), r)
    sc.add(sec(10.001), ether(ipv6(A6, B6, PROTO_IPV6_FRAG, last), ETH_IPV6), r)
    return sc


def scenario_udp_idle_resume():
    """UDP at 0,1,2 s, silent 40 s, then 42,43 s: 'idle' (3 packets), then 2 more."""
    sc = Scenario("udp_idle_resume")
    c = Conv(sc, PROTO_UDP, A4, B4, 5555, 6666)
    c.record(end_reason="idle")
    c.send(10.0, "a", payload=b"1")
    c.send(11.0, "b", payload=b"22")
    c.send(12.0, "a", payload=b"333")
    c.record(initiator="a", end_reason="shutdown")
    c.send(52.0, "a", payload=b"4444")
    c.send(53.0, "b", payload=b"55555")
    return sc


def scenario_active_timeout():
    """AGENT_ACTIVE_TIMEOUT=10: a UDP packet every second for 25 s (0..24):
    interim records for [0,10) and [10,20), then the rest at end of file."""
    sc = Scenario("active_timeout", env={"AGENT_ACTIVE_TIMEOUT": "10"})
    c = Conv(sc, PROTO_UDP, A4, B4, 9000, 9001)
    for i in range(25):
        if i % 10 == 0:
            last = i >= 20
            c.record(initiator="a", end_reason="shutdown" if last else "active", final=last)
        c.send(10.0 + i, "a" if i % 2 == 0 else "b", payload=b"t" * (10 + i))
    return sc


def scenario_gre():
    """With AGENT_DECAP=off, GRE (IP protocol 47) is a port-less flow; its
    inner packet is not a flow (tunnel_* scenarios: decapsulated)."""
    sc = Scenario("gre", env={"AGENT_DECAP": "off"})
    c = Conv(sc, PROTO_GRE, A4, B4)
    c.record()
    c.send(10.0, "a", payload=b"inner-1")
    c.send(10.1, "b", payload=b"inner-2")
    c.send(10.2, "a", payload=b"inner-3")
    return sc


def scenario_sctp():
    sc = Scenario("sctp")
    c = Conv(sc, PROTO_SCTP, A4, B4, 3868, 3868 + 1)
    c.record()
    c.send(10.0, "a")
    c.send(10.1, "b", seqno=1)
    return sc


def _link_scenario(name, linktype, with_v6=True):
    sc = Scenario(name, linktype=linktype)
    c = Conv(sc, PROTO_UDP, A4, B4, 1111, 2222)
    c.record()
    c.send(10.0, "a", payload=b"hello")
    c.send(10.5, "b", payload=b"world!")
    if with_v6:
        t = Conv(sc, PROTO_TCP, A6, B6, 3333, 4444)
        t.record()
        t.send(11.0, "a", SYN)
        t.send(11.1, "b", SYN | ACK)
        t.send(11.2, "a", ACK)
    return sc


def scenario_link_sll():
    return _link_scenario("link_sll", LINKTYPE_LINUX_SLL)


def scenario_link_sll2():
    return _link_scenario("link_sll2", LINKTYPE_LINUX_SLL2)


def scenario_link_null():
    return _link_scenario("link_null", LINKTYPE_NULL, with_v6=False)


def scenario_link_raw():
    return _link_scenario("link_raw", LINKTYPE_RAW)


def scenario_link_ppp():
    return _link_scenario("link_ppp", LINKTYPE_PPP)


def scenario_link_ppp_hdlc():
    return _link_scenario("link_ppp_hdlc", LINKTYPE_PPP_HDLC)


def scenario_link_c_hdlc():
    return _link_scenario("link_c_hdlc", LINKTYPE_C_HDLC)


def scenario_link_nflog():
    return _link_scenario("link_nflog", LINKTYPE_NFLOG)


def _mpls_wrap(labels, ethertype=ETH_MPLS, inner=None):
    """fn(ip, from_a) -> Ethernet/MPLS frame; inner(ip, from_a) builds what
    follows the labels (default: the IP packet itself)."""
    def wrap(ip, from_a):
        s, d = (MAC_A, MAC_B) if from_a else (MAC_B, MAC_A)
        body = inner(ip, from_a) if inner else ip
        return ether(mpls_stack(labels) + body, ethertype, s, d)
    return wrap


def _pppoe_wrap(vlans=()):
    def wrap(ip, from_a):
        s, d = (MAC_A, MAC_B) if from_a else (MAC_B, MAC_A)
        return ether(pppoe(ip, ppp_proto_of(ip)), ETH_PPPOE_SESS, s, d, vlans)
    return wrap


def scenario_encap_mpls():
    """MPLS: a TCP session under two labels, IPv6 UDP under a multicast (0x8848)
    label, an Ethernet pseudowire with control word (UDP), one without control
    word whose frames carry VLAN 55 and MACs starting with a 0 nibble (TCP
    over IPv6); an associated-channel (BFD) packet is not a flow."""
    sc = Scenario("encap_mpls")
    t = Conv(sc, PROTO_TCP, A4, B4, 49000, 80, wrap=_mpls_wrap([1001, 2002]))
    tcp_session(t, 10.0, "fin")
    u = Conv(sc, PROTO_UDP, A6, B6, 49001, 5353, wrap=_mpls_wrap([3003], ETH_MPLS_MC))
    u.record()
    u.send(11.0, "a", payload=b"mc")
    u.send(11.1, "b", payload=b"mc-reply")
    p = Conv(sc, PROTO_UDP, A4, C4, 49002, 4789,
             wrap=_mpls_wrap([16, 4004], inner=lambda ip, fa: pw_ether(ip, True, (), fa)))
    p.record()
    p.send(12.0, "a", payload=b"pw-cw")
    p.send(12.1, "b", payload=b"pw-cw-reply")
    q = Conv(sc, PROTO_TCP, A6, B6, 49003, 22, vlans=(55,),
             wrap=_mpls_wrap([5005], inner=lambda ip, fa: pw_ether(ip, False, (55,), fa)))
    r = q.record()
    q.send(13.0, "a", SYN)
    q.send(13.1, "b", SYN | ACK)
    q.send(13.2, "a", ACK)
    sc.add(sec(14.0), ether(mpls_stack([13]) + b"\x10\x00\x00\x07" + bytes(24), ETH_MPLS))
    return sc


def scenario_encap_pppoe():
    """PPPoE sessions: a TCP session over IPv4, UDP over IPv6 inside VLAN 35;
    an LCP echo and a PADI (discovery) are not flows."""
    sc = Scenario("encap_pppoe")
    t = Conv(sc, PROTO_TCP, A4, B4, 49100, 443, wrap=_pppoe_wrap())
    tcp_session(t, 10.0, "rst")
    u = Conv(sc, PROTO_UDP, A6, B6, 49101, 53, vlans=(35,), wrap=_pppoe_wrap((35,)))
    u.record()
    u.send(11.0, "a", payload=b"q")
    u.send(11.1, "b", payload=b"answer")
    sc.add(sec(12.0), ether(pppoe(b"\x09\x01\x00\x08\x00\x00\x00\x00", PPP_LCP), ETH_PPPOE_SESS))
    sc.add(sec(12.1), ether(struct.pack("!BBHH", 0x11, 0x09, 0, 4) + b"\x01\x01\x00\x00",
                            ETH_PPPOE_DISC, MAC_A, b"\xff" * 6))
    return sc


def scenario_ipv4_ah():
    """IPv4 AH (RFC 4302) before TCP and UDP: skipped to the ports, as for IPv6."""
    sc = Scenario("ipv4_ah")
    t = Conv(sc, PROTO_TCP, A4, B4, 49200, 443, v4_ah=True)
    tcp_session(t, 10.0, "fin")
    u = Conv(sc, PROTO_UDP, A4, C4, 500, 500, v4_ah=True)
    u.record()
    u.send(11.0, "a", payload=b"ike")
    u.send(11.1, "b", payload=b"ike-reply")
    return sc


# Each encapsulation of encap_truncated: (name, wrap) for an Ethernet capture.
def _encap_wraps():
    return (("mpls", _mpls_wrap([100, 200])),
            ("mpls_pw_cw", _mpls_wrap([300], inner=lambda ip, fa: pw_ether(ip, True, (), fa))),
            ("mpls_pw", _mpls_wrap([300], inner=lambda ip, fa: pw_ether(ip, False, (), fa))),
            ("pppoe", _pppoe_wrap()))


def scenario_encap_truncated():
    """Each encapsulation once whole (a one-packet UDP flow) and then cut at
    every byte from 1 to just before the UDP ports end (the layer boundaries
    included): every cut frame is 'truncated', none makes a flow. Also IPv4 AH
    cut inside the AH header. The test checks the count of truncated frames
    (encap_truncated_cuts)."""
    sc = Scenario("encap_truncated")
    t = 10.0
    for i, (name, wrap) in enumerate(_encap_wraps()):
        c = Conv(sc, PROTO_UDP, A4, B4, 50000 + i, 53, wrap=wrap)
        c.record()
        fr = c.send(t, "a", payload=b"whole-" + name.encode())
        whole = fr.data
        for cut in range(1, len(whole) - len(b"whole-" + name.encode()) - 4):
            t += 0.001
            sc.add(sec(t), whole[:cut], wire_len=len(whole))
        t += 0.1
    c = Conv(sc, PROTO_UDP, A4, B4, 50010, 53, v4_ah=True)
    c.record()
    whole = c.send(t, "a", payload=b"ah").data
    for cut in range(14 + 20 + 1, 14 + 20 + 24 + 4):
        t += 0.001
        sc.add(sec(t), whole[:cut], wire_len=len(whole))
    return sc


def encap_truncated_cuts():
    """How many frames of encap_truncated are cut (its 'truncated' count)."""
    sc = scenario_encap_truncated()
    return sum(1 for f in sc.frames if f.wire_len != len(f.data))


def scenario_pcapng():
    sc = Scenario("pcapng_tcp", pcapng=True)
    c = Conv(sc, PROTO_TCP, A4, C4, 40020, 25)
    tcp_session(c, 10.0, "fin", data_rounds=2)
    u = Conv(sc, PROTO_UDP, A6, B6, 123, 123)
    u.record()
    u.send(10.2, "a", payload=b"n" * 48)
    u.send(10.3, "b", payload=b"m" * 48)
    return sc


def scenario_direction():
    """127.0.0.1 is one of the host's addresses: local, outbound, inbound, unknown
    (REMOTE_1/REMOTE_2 must not be the host's: tests check host_addresses())."""
    sc = Scenario("direction")
    lo = "127.0.0.1"
    r1, r2 = REMOTE_1, REMOTE_2
    for (a, b, ap, bp, d, t) in ((lo, lo, 5000, 6000, "local", 10.0),
                                 (lo, r1, 5001, 53, "outbound", 10.1),
                                 (r1, lo, 5002, 53, "inbound", 10.2),
                                 (r1, r2, 5003, 53, "unknown", 10.3),
                                 ("::1", "::1", 5004, 6004, "local", 10.4)):
        c = Conv(sc, PROTO_UDP, a, b, ap, bp)
        c.record(direction=d)
        c.send(t, "a", payload=b"ping")
        c.send(t + 0.01, "b", payload=b"pong")
    return sc


def scenario_local_networks():
    """A SPAN port's view: AGENT_LOCAL_NETWORKS=10.0.0.0/8,fd00::/8 decides direction
    (the sensor host's own addresses do not: 127.0.0.1 here is unknown)."""
    sc = Scenario("local_networks", env={"AGENT_LOCAL_NETWORKS": "10.0.0.0/8,fd00::/8"})
    for (a, b, ap, bp, d, t) in (("10.1.2.3", "198.51.100.7", 40000, 443, "outbound", 10.0),
                                 ("198.51.100.7", "10.1.2.3", 40001, 22, "inbound", 10.1),
                                 ("10.1.2.3", "10.200.0.1", 40002, 53, "local", 10.2),
                                 ("198.51.100.7", "203.0.113.9", 40003, 53, "unknown", 10.3),
                                 ("127.0.0.1", "127.0.0.1", 40004, 53, "unknown", 10.4),
                                 ("fd00::1", "2001:db8::9", 40005, 443, "outbound", 10.5),
                                 ("2001:db8::9", "fd12:3456::1", 40006, 22, "inbound", 10.6),
                                 ("fd00::1", "fdff::2", 40007, 53, "local", 10.7),
                                 ("2001:db8::9", "::1", 40008, 53, "unknown", 10.8)):
        c = Conv(sc, PROTO_UDP, a, b, ap, bp)
        c.record(direction=d)
        c.send(t, "a", payload=b"ping")
        c.send(t + 0.01, "b", payload=b"pong")
    return sc


def scenario_non_ip():
    """ARP frames make no flow; one UDP flow next to them."""
    sc = Scenario("non_ip")
    sc.add(sec(9.0), arp_frame(A4, B4))
    c = Conv(sc, PROTO_UDP, A4, B4, 1000, 2000)
    c.record()
    c.send(10.0, "a", payload=b"x")
    sc.add(sec(10.5), arp_frame(B4, A4))
    return sc


def scenario_truncated():
    """Snap length 40: Ethernet+IPv4 headers fit, transport headers are cut.
    Expected records are the untruncated ones; the tests check only totals."""
    sc = Scenario("truncated", snaplen=40)
    c = Conv(sc, PROTO_TCP, A4, B4, 40030, 80)
    tcp_session(c, 10.0, "fin", data_rounds=3)
    u = Conv(sc, PROTO_UDP, A4, C4, 5353, 53)
    u.record()
    u.send(10.5, "a", payload=b"x" * 100)
    u.send(10.6, "b", payload=b"y" * 300)
    # a frame cut inside the IPv4 header itself (no addresses): not countable
    ip = ipv4(A4, B4, PROTO_UDP, udp(A4, B4, 1, 2, b"zz"))
    sc.add(sec(10.7), ether(ip, ETH_IPV4)[:20], wire_len=len(ip) + 14)
    return sc


def scenario_max_flows():
    """AGENT_MAX_FLOWS=2, three concurrent loopback UDP flows: the oldest is evicted."""
    sc = Scenario("max_flows", env={"AGENT_MAX_FLOWS": "2"})
    lo = "127.0.0.1"
    convs = [Conv(sc, PROTO_UDP, lo, lo, 10001 + i, 20001 + i) for i in range(3)]
    for i, c in enumerate(convs):
        c.record(direction="local", end_reason="evicted" if i == 0 else "shutdown")
        c.send(10.0 + i, "a", payload=b"req")
        c.send(10.0 + i + 0.5, "b", payload=b"resp")
    return sc


def scenario_udp_idle_boundary():
    """UDP idle boundary: a 30.000000 s gap ends the flow, 29.999999 s does not."""
    sc = Scenario("udp_idle_boundary")
    f1 = Conv(sc, PROTO_UDP, A4, B4, 5001, 53)
    f2 = Conv(sc, PROTO_UDP, A4, B4, 5002, 53)
    f1.record(end_reason="idle")
    f1.send(10.0, "a", payload=b"a")
    f2.record()
    f2.send(10.5, "a", payload=b"b")
    f1.record()
    f1.send(40.0, "a", payload=b"c")
    f2.send(40.499999, "b", payload=b"d")
    return sc


def scenario_custom_timeouts():
    """AGENT_UDP_IDLE_TIMEOUT=5, AGENT_TCP_IDLE_TIMEOUT=7, AGENT_IDLE_TIMEOUT=3."""
    sc = Scenario("custom_timeouts", env={"AGENT_UDP_IDLE_TIMEOUT": "5",
                                          "AGENT_TCP_IDLE_TIMEOUT": "7",
                                          "AGENT_IDLE_TIMEOUT": "3"})
    u = Conv(sc, PROTO_UDP, A4, B4, 5100, 5200)
    t = Conv(sc, PROTO_TCP, A4, B4, 5101, 5201)
    i = Conv(sc, PROTO_ICMP, A4, C4)
    u.record(end_reason="idle")
    t.record(end_reason="idle")
    i.record(end_reason="idle", icmp_tc=(8, 0))
    u.send(10.0, "a", payload=b"u1")
    t.send(10.1, "a", SYN)
    i.send(10.2, "a", icmp_tc=(8, 0), seqno=1)
    i.send(12.2, "b", icmp_tc=(0, 0), seqno=1)             # gap 2 < 3: same flow
    t.send(16.0, "b", SYN | ACK)                           # gap 5.9 < 7: same flow
    u.record(end_reason="idle")
    u.send(16.1, "a", payload=b"u2")                       # gap 6.1 >= 5: new flow
    i.record(end_reason="idle", icmp_tc=(8, 0))
    i.send(16.2, "a", icmp_tc=(8, 0), seqno=2)             # gap 4 >= 3: new flow
    # gap 8 >= 7: new flow without SYN; A's port 5101 is the lower: A responds
    t.record(initiator="b", end_reason="shutdown", inferred=True)
    t.send(24.0, "a", ACK)
    return sc   # at the end (24.0): the UDP (16.1) and ICMP (16.2) flows are idle


def scenario_tcp_active():
    """AGENT_ACTIVE_TIMEOUT=10 on a TCP connection from 10 s to 34.2 s: flags
    per record cover only that record's packets; the last one ends 'fin'."""
    sc = Scenario("tcp_active", env={"AGENT_ACTIVE_TIMEOUT": "10"})
    c = Conv(sc, PROTO_TCP, A4, B4, 41000, 80)
    c.record(end_reason="active", final=False)
    c.send(10.0, "a", SYN)
    c.send(10.1, "b", SYN | ACK)
    c.send(10.2, "a", ACK)
    for s in range(11, 34):
        if s in (20, 30):
            c.record(end_reason="active" if s == 20 else "fin", final=s == 30)
        c.send(float(s), "a", PSH | ACK, b"data %d" % s, seqno=s)
        c.send(s + 0.5, "b", ACK if s >= 20 else PSH | ACK, b"" if s >= 20 else b"ok", seqno=s)
    c.send(34.0, "a", FIN | ACK)
    c.send(34.1, "b", FIN | ACK)
    c.send(34.2, "a", ACK)
    return sc


def scenario_ipv4_options():
    """IPv4 headers with options (IHL 6 and 8): ports are read after them."""
    sc = Scenario("ipv4_options")
    t = Conv(sc, PROTO_TCP, A4, B4, 42000, 80, ip_options=b"\x94\x04\x00\x00")  # Router Alert
    tcp_session(t, 10.0, "fin")
    u = Conv(sc, PROTO_UDP, A4, B4, 42001, 53,
             ip_options=b"\x01\x01\x01" + b"\x44\x0c\x05\x00" + bytes(8) + b"\x00")  # NOPs, timestamp, EOL
    u.record()
    u.send(11.0, "a", payload=b"opt")
    u.send(11.1, "b", payload=b"opt-reply")
    return sc


def scenario_ipv6_ext():
    """IPv6 hop-by-hop and destination options headers before UDP and TCP."""
    sc = Scenario("ipv6_ext")
    hbh = (0, b"\x05\x02\x00\x00\x01\x00")      # Router Alert + PadN
    dopt = (60, b"\x01\x04\x00\x00\x00\x00")    # PadN
    u = Conv(sc, PROTO_UDP, A6, B6, 43000, 53, v6_ext=(hbh, dopt))
    u.record()
    u.send(10.0, "a", payload=b"six")
    u.send(10.1, "b", payload=b"six-reply")
    t = Conv(sc, PROTO_TCP, A6, B6, 43001, 443, v6_ext=(dopt,))
    tcp_session(t, 11.0, "rst")
    return sc


def scenario_icmp_unreach():
    """A UDP probe and the ICMP port-unreachable it provokes: two flows; the
    ICMP one starts at B with type 3 code 3."""
    sc = Scenario("icmp_unreach")
    u = Conv(sc, PROTO_UDP, A4, B4, 44000, 33434)
    u.record()
    probe = u.send(10.0, "a", payload=b"probe")
    r = sc.rec(B4, A4, PROTO_ICMP, icmp_tc=(3, 3))
    quoted = probe.data[14:14 + 28]
    ip = ipv4(B4, A4, PROTO_ICMP, icmp(3, 3, 0, 0, quoted))
    sc.add(sec(10.001), ether(ip, ETH_IPV4, MAC_B, MAC_A), r, True)
    return sc


def scenario_frag_orphans():
    """Later fragments whose first fragment never came: no flow of their own."""
    sc = Scenario("frag_orphans")
    dgram = udp(A4, B4, 45000, 45001, bytes(1592))
    sc.add(sec(10.0), ether(ipv4(A4, B4, PROTO_UDP, dgram[800:1600 - 400], ident=0x777,
                                 mf=True, frag_off=800), ETH_IPV4))
    sc.add(sec(10.001), ether(ipv4(A4, B4, PROTO_UDP, dgram[1200:], ident=0x777,
                                  frag_off=1200), ETH_IPV4))
    c = Conv(sc, PROTO_UDP, A4, C4, 45002, 45003)
    c.record()
    c.send(10.5, "a", payload=b"whole")
    return sc


def scenario_half_close():
    """FIN from one side only: the flow stays open (packets 3.5 s later still
    belong to it) and ends 'shutdown'."""
    sc = Scenario("half_close")
    c = Conv(sc, PROTO_TCP, A4, B4, 46000, 80)
    c.record(end_reason="shutdown")
    c.send(10.0, "a", SYN)
    c.send(10.01, "b", SYN | ACK)
    c.send(10.02, "a", ACK)
    c.send(10.5, "a", FIN | ACK)
    c.send(10.51, "b", ACK)
    c.send(14.0, "b", PSH | ACK, b"still sending")
    c.send(14.01, "a", ACK)
    return sc


def scenario_rst_then_stray():
    """An ACK 2.5 s after a RST is past the 2 s linger: a new flow."""
    sc = Scenario("rst_then_stray")
    c = Conv(sc, PROTO_TCP, A4, B4, 47000, 443)
    r, t = tcp_session(c, 10.0, "rst")
    c.record(initiator="a", end_reason="shutdown", inferred=True)   # no SYN: 443 serves
    c.send(t + 2.5, "a", ACK)
    return sc


def scenario_many_flows(n=20000):
    """n two-packet UDP flows within 20 s (no timeout fires): every one must
    come out, whatever the ring sizes."""
    sc = Scenario("many_flows")
    for i in range(n):
        a = "192.0.2.%d" % (1 + i % 250)
        b = "198.51.100.%d" % (1 + (i // 250) % 250)
        c = Conv(sc, PROTO_UDP, a, b, 10000 + i // 62500, 53)
        c.record()
        t = 10.0 + i * (20.0 / n)
        c.send(t, "a", payload=b"q")
        c.send(t + 0.0005, "b", payload=b"r")
    return sc


def scenario_time_2038():
    """Timestamps past 2038: the pcap header's seconds are unsigned 32-bit.
    A flow across 2038-01-19T03:14:08Z, then one packet at 2106-02-07T06:28:15Z."""
    sc = Scenario("time_2038")
    rel = lambda abs_s: abs_s - BASE_US / 1e6
    c = Conv(sc, PROTO_UDP, A4, B4, 48000, 48001)
    c.record(end_reason="idle")
    c.send(rel(0x7FFFFFFF + 0.9), "a", payload=b"before")
    c.send(rel(0x80000000 + 0.1), "b", payload=b"after")
    d = Conv(sc, PROTO_UDP, A4, B4, 48002, 48003)
    d.record()
    d.send(rel(0xFFFFFFFF + 0.5), "a", payload=b"max")
    return sc


def scenario_mixed(n_tcp=40, n_tcp6=10, n_rst=10, n_udp=30, n_icmp=10, n_icmp6=5):
    """Many interleaved flows of every kind within 25 s (no timeouts fire):
    for the determinism, HTTP and ThreadSanitizer runs."""
    rnd = random.Random(20240101)
    sc = Scenario("mixed")
    port = 30000
    for i in range(n_tcp):
        port += 1
        c = Conv(sc, PROTO_TCP, A4, B4 if i % 2 else C4, port, 80 if i % 3 else 443,
                 vlans=(42,) if i % 7 == 0 else ())
        tcp_session(c, 10.0 + rnd.random() * 20, "fin", data_rounds=1 + i % 3,
                    last_ack_delay=0.3)
    for i in range(n_tcp6):
        port += 1
        c = Conv(sc, PROTO_TCP, A6, B6, port, 443)
        tcp_session(c, 10.0 + rnd.random() * 20, "fin", data_rounds=1)
    for i in range(n_rst):
        port += 1
        c = Conv(sc, PROTO_TCP, D4, B4, port, 8443)
        tcp_session(c, 10.0 + rnd.random() * 20, "rst")
    for i in range(n_udp):
        port += 1
        c = Conv(sc, PROTO_UDP, A4 if i % 2 else A6, B4 if i % 2 else B6, port, 53)
        c.record()
        t = 10.0 + rnd.random() * 20
        c.send(t, "a", payload=b"q%d" % i)
        c.send(t + 0.02, "b", payload=b"answer-%d" % i * 3)
    for i in range(n_icmp):
        c = Conv(sc, PROTO_ICMP, A4, "203.0.113.%d" % (100 + i))
        c.record(icmp_tc=(8, 0))
        t = 10.0 + rnd.random() * 20
        c.send(t, "a", icmp_tc=(8, 0), seqno=1)
        c.send(t + 0.001, "b", icmp_tc=(0, 0), seqno=1)
    for i in range(n_icmp6):
        c = Conv(sc, PROTO_ICMPV6, A6, "2001:db8:2::%x" % (i + 1))
        c.record(icmp_tc=(128, 0))
        t = 10.0 + rnd.random() * 20
        c.send(t, "a", icmp_tc=(128, 0), seqno=1)
        c.send(t + 0.001, "b", icmp_tc=(129, 0), seqno=1)
    # GRE: decapsulated (issue 14), the flow is the UDP packet inside, which
    # goes 203.0.113.77:4000 -> .78:5000 in both GRE directions.
    g = Conv(sc, PROTO_GRE, A4, D4)
    gr = sc.rec("203.0.113.77", "203.0.113.78", PROTO_UDP, 4000, 5000,
                tunnel={"type": "gre", "depth": 1, "outer_src_ip": A4, "outer_dst_ip": D4})
    g.send(12.0, "a", payload=b"g1", rec=gr)
    g.send(12.5, "b", payload=b"g2", rec=gr)
    gr.pkts = [p[:2] + (True, 0) + p[4:] for p in gr.pkts]   # keep the frame facts (MAC, TTL, DSCP)
    s = Conv(sc, PROTO_SCTP, A4, B4, 2905, 2905)
    s.record()
    s.send(13.0, "a")
    s.send(13.1, "b", seqno=1)
    r = sc.rec(A4, B4, PROTO_UDP, 7001, 7002)
    _v4_frag_datagram(sc, r, 14.0, A4, B4, 7001, 7002, 0x4243, (1000, 800, 200))
    sc.add(sec(15.0), arp_frame(A4, B4))
    return sc


# ----------------------------------------------------------------------------
# tunnels (issue 14): the flow is the conversation inside

PROTO_IPIP, PROTO_IPV6_IN_IP = 4, 41
GRE_TEB, GRE_ERSPAN2, GRE_ERSPAN3 = 0x6558, 0x88BE, 0x22EB
VXLAN_PORT, GENEVE_PORT, GTPU_PORT = 4789, 6081, 2152
# Tunnel endpoints: side a's packets go OUT_A -> OUT_B (IPv6: OUT6_A -> OUT6_B).
OUT_A, OUT_B = "10.99.0.1", "10.99.0.2"
OUT6_A, OUT6_B = "2001:db8:99::1", "2001:db8:99::2"
MAC_IN_A, MAC_IN_B = bytes.fromhex("0a0000000001"), bytes.fromhex("0a0000000002")


def _eth_of(ip, from_a, vlans=()):
    """The inner Ethernet frame a bridging tunnel carries."""
    s, d = (MAC_IN_A, MAC_IN_B) if from_a else (MAC_IN_B, MAC_IN_A)
    return ether(ip, ETH_IPV4 if ip[0] >> 4 == 4 else ETH_IPV6, s, d, vlans)


def gre_hdr(proto, key=None, seq=None):
    """RFC 2784/2890 header with the optional key and sequence number."""
    flags = (0x2000 if key is not None else 0) | (0x1000 if seq is not None else 0)
    h = struct.pack("!HH", flags, proto)
    if key is not None:
        h += struct.pack("!I", key)
    if seq is not None:
        h += struct.pack("!I", seq)
    return h


def erspan2_hdr(session, vlan=0, index=0):
    """ERSPAN type II (draft-foschiano-erspan §4.2): ver 1, VLAN, session, index."""
    return struct.pack("!HHI", 0x1000 | vlan, session & 0x3FF, index & 0xFFFFF)


def erspan3_hdr(session, vlan=0, ts=0x12345678, ft=0, o=False):
    """ERSPAN type III (§4.3): ver 2, VLAN, session, timestamp, SGT, P/FT/HW/D/Gra/O
    (+ the 8-byte platform sub-header when o)."""
    h = struct.pack("!HHIHBB", 0x2000 | vlan, session & 0x3FF, ts, 0, (ft & 0x1F) << 2,
                    1 if o else 0)
    return h + (struct.pack("!II", 0x03000000, 0) if o else b"")


def vxlan_hdr(vni):
    """RFC 7348: I flag, VNI."""
    return struct.pack("!II", 0x08000000, vni << 8)


def geneve_hdr(vni, proto=GRE_TEB, options=b""):
    """RFC 8926: version 0, option length, protocol type, VNI, options."""
    assert len(options) % 4 == 0
    return struct.pack("!BBHI", len(options) // 4, 0, proto, vni << 8) + options


def gtpu_hdr(teid, payload_len, ext=None):
    """3GPP TS 29.281 G-PDU: version 1, PT 1; ext: one PDU session container
    extension header (type 0x85), which sets E and adds seq/N-PDU/next-type."""
    if ext is None:
        return struct.pack("!BBHI", 0x30, 255, payload_len, teid)
    opt = struct.pack("!HBB", 0, 0, 0x85) + struct.pack("!BBBB", 1, 0x10, ext, 0)
    return struct.pack("!BBHI", 0x34, 255, payload_len + len(opt), teid) + opt


def _outer(inner, proto, from_a, v6=False, sport=None, dport=None):
    """The outer Ethernet + IP (+ UDP to dport when given) frame carrying `inner`."""
    oa, ob = (OUT6_A, OUT6_B) if v6 else (OUT_A, OUT_B)
    s, d = (oa, ob) if from_a else (ob, oa)
    if dport is not None:
        inner = udp(s, d, sport if sport is not None else (40000 if from_a else 40001), dport, inner)
        proto = PROTO_UDP
    ip = ip_packet(s, d, proto, inner)
    ms, md = (MAC_A, MAC_B) if from_a else (MAC_B, MAC_A)
    return ether(ip, ETH_IPV6 if v6 else ETH_IPV4, ms, md)


def tunnel_wrap(kind, tid=0, teid_b=None, v6=False):
    """fn(ip, from_a) -> the frame carrying ip through one tunnel of `kind`:
    gre (key tid, or none when tid is None), gre_teb, erspan1/2/3 (session
    tid), vxlan / geneve (VNI tid), gtpu (TEID tid from a, teid_b from b),
    ipip / ip6ip (protocol 4 / 41; v6: over IPv6)."""
    def wrap(ip, from_a):
        if kind == "gre":
            return _outer(gre_hdr(ETH_IPV4 if ip[0] >> 4 == 4 else ETH_IPV6, tid) + ip,
                          PROTO_GRE, from_a, v6)
        if kind == "gre_teb":
            return _outer(gre_hdr(GRE_TEB) + _eth_of(ip, from_a), PROTO_GRE, from_a, v6)
        if kind == "erspan1":
            return _outer(gre_hdr(GRE_ERSPAN2) + _eth_of(ip, from_a), PROTO_GRE, from_a, v6)
        if kind == "erspan2":
            return _outer(gre_hdr(GRE_ERSPAN2, seq=7) + erspan2_hdr(tid) + _eth_of(ip, from_a),
                          PROTO_GRE, from_a, v6)
        if kind == "erspan3":
            return _outer(gre_hdr(GRE_ERSPAN3, seq=7) + erspan3_hdr(tid, o=True) +
                          _eth_of(ip, from_a), PROTO_GRE, from_a, v6)
        if kind == "vxlan":
            return _outer(vxlan_hdr(tid) + _eth_of(ip, from_a), 0, from_a, v6, dport=VXLAN_PORT)
        if kind == "geneve":
            opt = struct.pack("!HBB", 0x0102, 0x80, 1) + b"\x00\x00\x00\x2a"
            return _outer(geneve_hdr(tid, GRE_TEB, opt) + _eth_of(ip, from_a), 0, from_a, v6,
                          dport=GENEVE_PORT)
        if kind == "gtpu":
            teid = tid if from_a else teid_b
            return _outer(gtpu_hdr(teid, len(ip), ext=9 if from_a else None) + ip, 0, from_a, v6,
                          sport=GTPU_PORT, dport=GTPU_PORT)
        if kind in ("ipip", "ip6ip"):
            return _outer(ip, PROTO_IPIP if ip[0] >> 4 == 4 else PROTO_IPV6_IN_IP, from_a, v6)
        raise ValueError(kind)
    return wrap


def tunnel_obj(ttype, depth=1, v6=False, initiator="a", **ids):
    """The expected "tunnel" object: outer addresses initiator -> responder."""
    oa, ob = (OUT6_A, OUT6_B) if v6 else (OUT_A, OUT_B)
    s, d = (oa, ob) if initiator == "a" else (ob, oa)
    t = {"type": ttype, "depth": depth, "outer_src_ip": s, "outer_dst_ip": d}
    t.update(ids)
    return t


# (scenario suffix, tunnel_wrap args, expected type, expected id fields, inner conversation)
TUNNEL_CASES = (
    ("gre", ("gre", 0x1234), "gre", {"gre_key": 0x1234}, (PROTO_TCP, A4, B4, 49300, 80)),
    ("gre_nokey", ("gre", None, None, True), "gre", {}, (PROTO_UDP, A6, B6, 49301, 53)),
    ("gre_teb", ("gre_teb",), "gre", {}, (PROTO_UDP, A4, B4, 49302, 53)),
    ("erspan1", ("erspan1",), "erspan_i", {}, (PROTO_UDP, A4, C4, 49303, 514)),
    ("erspan2", ("erspan2", 77), "erspan_ii", {"session_id": 77}, (PROTO_TCP, A4, B4, 49304, 443)),
    ("erspan3", ("erspan3", 901), "erspan_iii", {"session_id": 901}, (PROTO_UDP, A6, B6, 49305, 53)),
    ("vxlan", ("vxlan", 100), "vxlan", {"vni": 100}, (PROTO_TCP, A4, B4, 49306, 80)),
    ("geneve", ("geneve", 300), "geneve", {"vni": 300}, (PROTO_UDP, A4, B4, 49307, 53)),
    ("gtpu", ("gtpu", 0x111, 0x222), "gtpu", {"teid": 0x111}, (PROTO_TCP, A4, B4, 49308, 443)),
    ("ipip", ("ipip",), "ipip", {}, (PROTO_UDP, A4, B4, 49309, 123)),
    ("ip6ip", ("ip6ip",), "ip6ip", {}, (PROTO_TCP, A6, B6, 49310, 22)),
    ("ip6ip6", ("ip6ip", 0, None, True), "ip6ip", {}, (PROTO_UDP, A6, B6, 49311, 53)),
    ("ipip6", ("ipip", 0, None, True), "ipip", {}, (PROTO_ICMP, A4, B4, 0, 0)),
)


def _tunnel_case(sc, case, t0):
    suffix, args, ttype, ids, (proto, a, b, ap, bp) = case
    kw = {"v6": args[3]} if len(args) > 3 else {}
    wrap = tunnel_wrap(args[0], *(args[1:3]), **kw)
    v6 = kw.get("v6", False)
    c = Conv(sc, proto, a, b, ap, bp, wrap=wrap)
    if proto == PROTO_TCP:
        r = c.record(end_reason="fin", tunnel=tunnel_obj(ttype, 1, v6, **ids))
        t = t0
        c.send(t, "a", SYN)
        c.send(t + 0.01, "b", SYN | ACK)
        c.send(t + 0.02, "a", ACK)
        c.send(t + 0.03, "a", PSH | ACK, b"hello")
        c.send(t + 0.04, "a", FIN | ACK)
        c.send(t + 0.05, "b", FIN | ACK)
        c.send(t + 0.06, "a", ACK)
    elif proto == PROTO_ICMP:
        r = c.record(icmp_tc=(8, 0), tunnel=tunnel_obj(ttype, 1, v6, **ids))
        c.send(t0, "a", icmp_tc=(8, 0), seqno=1)
        c.send(t0 + 0.01, "b", icmp_tc=(0, 0), seqno=1)
    else:
        r = c.record(tunnel=tunnel_obj(ttype, 1, v6, **ids))
        c.send(t0, "a", payload=b"q-" + suffix.encode())
        c.send(t0 + 0.01, "b", payload=b"answer-" + suffix.encode())
    return r


def _tunnel_scenario(case):
    def build():
        sc = Scenario("tunnel_" + case[0])
        _tunnel_case(sc, case, 10.0)
        return sc
    build.__doc__ = "One %s tunnel: the inner conversation is the flow, with its tunnel." % case[0]
    return build


for _case in TUNNEL_CASES:
    globals()["scenario_tunnel_" + _case[0]] = _tunnel_scenario(_case)


def scenario_tunnel_vxlan_segments():
    """The same inner 5-tuple in VXLAN segments 100 and 200, and bare: three
    flows (the tunnel type and VNI are part of the key)."""
    sc = Scenario("tunnel_vxlan_segments")
    for i, vni in enumerate((100, 200, None)):
        c = Conv(sc, PROTO_UDP, A4, B4, 49400, 53, wrap=tunnel_wrap("vxlan", vni) if vni else None)
        c.record(tunnel=tunnel_obj("vxlan", vni=vni) if vni else None)
        c.send(10.0 + i, "a", payload=b"q")
        c.send(10.1 + i, "b", payload=b"a")
    return sc


def scenario_tunnel_decap_off():
    """AGENT_DECAP=off: a VXLAN and an IP-in-IP tunnel are the outer flows
    (UDP to 4789 from each side's own source port; protocol 4), as before."""
    sc = Scenario("tunnel_decap_off", env={"AGENT_DECAP": "off"})
    c = Conv(sc, PROTO_UDP, A4, B4, 49500, 53, wrap=tunnel_wrap("vxlan", 5))
    ra = sc.rec(OUT_A, OUT_B, PROTO_UDP, 40000, VXLAN_PORT)
    rb = sc.rec(OUT_B, OUT_A, PROTO_UDP, 40001, VXLAN_PORT)
    rb.side = "b"
    c.send(10.0, "a", payload=b"q", rec=ra)
    c.send(10.1, "b", payload=b"a", rec=rb)
    d = Conv(sc, PROTO_TCP, A4, B4, 49501, 80, wrap=tunnel_wrap("ipip"))
    r = sc.rec(OUT_A, OUT_B, PROTO_IPIP)
    d.send(11.0, "a", SYN, rec=r)
    d.send(11.1, "b", SYN | ACK, rec=r)
    r.pkts = [p[:3] + (0,) + p[4:] for p in r.pkts]  # protocol 4: no TCP flags of its own
    return sc


def _nest(ip, from_a, kinds):
    """ip carried through tunnels kinds[0] (innermost) .. kinds[-1] (outermost);
    the Ethernet of each inner level is stripped to its IP packet."""
    frame = ip
    for i, k in enumerate(kinds):
        frame = tunnel_wrap(*k)(frame, from_a)
        if i + 1 < len(kinds):
            frame = frame[14:]                 # the next tunnel carries this IP packet
    return frame


def scenario_tunnel_nested():
    """Three tunnels (VXLAN in GRE in IP-in-IP): decapsulated, depth 3, the
    innermost one (VXLAN) named; four (one more IP-in-IP outside): the fourth
    is left closed, so the flow is the VXLAN's UDP packets with the GRE as its
    tunnel, depth 3, and the capture counts tunnel_capped."""
    sc = Scenario("tunnel_nested")
    three = [("vxlan", 42), ("gre", 9), ("ipip",)]
    c = Conv(sc, PROTO_UDP, A4, B4, 49600, 53, wrap=lambda ip, fa: _nest(ip, fa, three))
    c.record(tunnel=tunnel_obj("vxlan", 3, vni=42))
    c.send(10.0, "a", payload=b"deep")
    c.send(10.1, "b", payload=b"deep-reply")
    four = three + [("ipip",)]
    d = Conv(sc, PROTO_UDP, C4, D4, 49601, 53, wrap=lambda ip, fa: _nest(ip, fa, four))
    # What the sensor sees at depth 3: OUT_A:40000 -> OUT_B:4789 (and back from
    # 40001), inside GRE key 9 whose outer addresses are OUT_A/OUT_B as well.
    ra = sc.rec(OUT_A, OUT_B, PROTO_UDP, 40000, VXLAN_PORT, tunnel=tunnel_obj("gre", 3, gre_key=9))
    rb = sc.rec(OUT_B, OUT_A, PROTO_UDP, 40001, VXLAN_PORT,
                tunnel=tunnel_obj("gre", 3, initiator="b", gre_key=9))
    rb.side = "b"
    d.send(11.0, "a", payload=b"deeper", rec=ra)
    d.send(11.1, "b", payload=b"deeper-reply", rec=rb)
    return sc


def scenario_tunnel_truncated():
    """Each tunnel case once whole (a one-packet UDP flow inside) and then cut
    at every byte from 1 to just before the inner UDP ports end: a cut before
    the outer packet's own flow fields end (its IP header; for UDP tunnels
    its ports) is 'truncated'; any later cut leaves the tunnel closed and
    counts on the outer flow (tunnel_undecoded). See tunnel_truncated_counts."""
    sc = Scenario("tunnel_truncated")
    t = 10.0
    outers = {}                  # cases with the same outer key share its flow
    for i, case in enumerate(TUNNEL_CASES):
        suffix, args, ttype, ids, (proto, a, b, ap, bp) = case
        kw = {"v6": args[3]} if len(args) > 3 else {}
        v6 = kw.get("v6", False)
        a, b = (A6, B6) if ip_version(a) == 6 else (A4, B4)
        c = Conv(sc, PROTO_UDP, a, b, 50100 + i, 53, wrap=tunnel_wrap(args[0], *(args[1:3]), **kw))
        c.record(tunnel=tunnel_obj(ttype, 1, v6, **ids))
        payload = b"whole-" + suffix.encode()
        whole = c.send(t, "a", payload=payload).data
        outer_ip = 14 + (40 if v6 else 20)
        udp_tunnel = args[0] in ("vxlan", "geneve", "gtpu")
        first_flow_cut = outer_ip + (4 if udp_tunnel else 0)
        oa, ob = (OUT6_A, OUT6_B) if v6 else (OUT_A, OUT_B)
        if udp_tunnel:
            okey = (oa, ob, PROTO_UDP, GTPU_PORT if args[0] == "gtpu" else 40000,
                    {"vxlan": VXLAN_PORT, "geneve": GENEVE_PORT, "gtpu": GTPU_PORT}[args[0]])
        else:
            okey = (oa, ob, PROTO_GRE if args[0] not in ("ipip", "ip6ip")
                    else (PROTO_IPIP if ip_version(a) == 4 else PROTO_IPV6_IN_IP))
        if okey not in outers:
            outers[okey] = sc.rec(*okey)
        outer = outers[okey]
        for cut in range(1, len(whole) - len(payload) - 4):
            t += 0.001
            sc.add(sec(t), whole[:cut], outer if cut >= first_flow_cut else None,
                   wire_len=len(whole))
        t += 0.1
    return sc


def tunnel_truncated_counts():
    """(truncated, tunnel_undecoded) frames of tunnel_truncated."""
    sc = scenario_tunnel_truncated()
    cut = sum(1 for f in sc.frames if f.wire_len != len(f.data))
    undecoded = sum(len(r.pkts) for r in sc.recs if r.tunnel is None)
    return cut - undecoded, undecoded


SCENARIOS = {name[len("scenario_"):]: fn for name, fn in sorted(globals().items())
             if name.startswith("scenario_") and callable(fn)}


def main(argv):
    if len(argv) == 2 and argv[1] == "--list":
        print("\n".join(SCENARIOS))
        return 0
    if len(argv) != 3 or argv[1] not in SCENARIOS:
        sys.stderr.write("usage: pcapgen.py SCENARIO OUT.pcap | --list\n")
        return 2
    sc = SCENARIOS[argv[1]]()
    sc.write(argv[2])
    print(len(sc.recs))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
