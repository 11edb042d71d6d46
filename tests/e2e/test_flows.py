"""Flow semantics from capture files: each generated scenario must give exactly
its expected FlowEvent records (every key, exact values, exact key set, JSON
types), plus the command line: --help, --version, exit status 2 messages and
flags overriding variables."""

import json
import os
import struct

import pytest

import pcapgen
from conftest import (REPO, check_shape, canonical, check_unique_event_ids, compare_records,
                      run_scenario, run_sensor)

# Scenarios whose expected records are checked field by field.
EXACT = [
    "tcp_fin", "tcp_rst", "syn_only", "syn_idle", "syn_retry_idle", "tcp_idle_boundary",
    "synack_first", "tcp_after_linger", "udp", "icmp_echo", "ipv6_tcp", "icmpv6_echo",
    "vlan", "qinq", "ipv4_frag", "ipv4_frag_two", "ipv6_frag", "ipv6_nested_frag", "udp_idle_resume",
    "active_timeout", "gre", "sctp", "link_sll", "link_sll2", "link_null", "link_raw",
    "pcapng", "direction", "non_ip", "max_flows", "mixed",
    "udp_idle_boundary", "custom_timeouts", "tcp_active", "ipv4_options", "ipv6_ext",
    "icmp_unreach", "frag_orphans", "half_close", "rst_then_stray", "time_2038",
    "encap_mpls", "encap_pppoe", "ipv4_ah", "link_ppp", "link_ppp_hdlc", "link_c_hdlc",
    "link_nflog", "encap_truncated", "icmp_two_pings", "vlan_one_way", "vlan_not_in_key",
]


@pytest.mark.parametrize("name", EXACT)
def test_scenario_exact(tracer, tmp_path, name):
    sc = pcapgen.SCENARIOS[name]()
    got, want, _ = run_scenario(tracer, sc, tmp_path)
    compare_records(got, want)


# ---------------------------------------------------------------------------
# literal checks, independent of pcapgen's bookkeeping (guard the generator)

def _one(tracer, tmp_path, name, env=None):
    got, _, _ = run_scenario(tracer, pcapgen.SCENARIOS[name](), tmp_path, env)
    for r in got:
        check_shape(r)
    return got


def test_tcp_fin_literal(tracer, tmp_path):
    got = _one(tracer, tmp_path, "tcp_fin")
    assert len(got) == 1
    r = got[0]
    assert r["flow_id"] == "192.0.2.10:40000-198.51.100.20:80-TCP"
    assert r["end_reason"] == "fin" and r["final"] is True
    assert (r["src_packets"], r["dst_packets"]) == (6, 4)       # last ACK counted
    assert r["src_tcp_flags"] == "SAFP" and r["dst_tcp_flags"] == "SAFP"
    assert r["start_time"] == "2024-01-01T00:00:10.000000Z"
    assert r["end_time"] == "2024-01-01T00:00:10.580000Z"
    assert r["timestamp"] == "2024-01-01T00:00:10.580Z"
    assert r["flow_duration"] == pytest.approx(0.58)
    assert r["src_port"] == "40000" and r["dst_port"] == "80"
    assert r["direction"] == pcapgen.direction_of("192.0.2.10", "198.51.100.20")
    assert r["vlan_id"] == 0


def test_community_id_reference():
    """The spec's example (the tests' own implementation must agree with it)."""
    assert pcapgen.community_id("128.232.110.120", "66.35.250.204", 6, 34855, 80) == \
        "1:LQU9qZlK+B5F3KDmev6m5PMibrg="
    assert pcapgen.community_id("66.35.250.204", "128.232.110.120", 6, 80, 34855) == \
        "1:LQU9qZlK+B5F3KDmev6m5PMibrg="


def test_community_id_in_output(tracer, tmp_path):
    """A flow with the spec's reference tuple carries the reference id."""
    sc = pcapgen.Scenario("cid")
    c = pcapgen.Conv(sc, pcapgen.PROTO_TCP, "128.232.110.120", "66.35.250.204", 34855, 80)
    c.record()
    c.send(10.0, "a", pcapgen.SYN)
    got, want, _ = run_scenario(tracer, sc, tmp_path)
    compare_records(got, want)
    assert got[0]["community_id"] == "1:LQU9qZlK+B5F3KDmev6m5PMibrg="


def test_tcp_rst_literal(tracer, tmp_path):
    got = _one(tracer, tmp_path, "tcp_rst")
    assert len(got) == 1
    r = got[0]
    assert r["end_reason"] == "rst"
    assert r["packet_count"] == 7          # the second RST 1 s later is in the linger
    assert r["src_tcp_flags"] == "SAP" and r["dst_tcp_flags"] == "SARP"


def test_syn_only_literal(tracer, tmp_path):
    got = _one(tracer, tmp_path, "syn_only")
    assert [(r["end_reason"], r["packet_count"], r["src_tcp_flags"], r["dst_tcp_flags"],
             r["dst_packets"], r["flow_duration"]) for r in got] == [("shutdown", 1, "S", "", 0, 0)]


def test_syn_idle_literal(tracer, tmp_path):
    got = _one(tracer, tmp_path, "syn_idle")
    by = {r["protocol"]: r for r in got}
    assert len(got) == 2
    assert by["TCP"]["end_reason"] == "idle" and by["TCP"]["packet_count"] == 1
    assert by["UDP"]["end_reason"] == "shutdown"


def test_synack_first_literal(tracer, tmp_path):
    got = _one(tracer, tmp_path, "synack_first")
    assert len(got) == 1
    r = got[0]
    assert (r["src_ip"], r["src_port"], r["dst_ip"], r["dst_port"]) == \
        ("192.0.2.10", "40006", "198.51.100.20", "80")
    assert r["src_tcp_flags"] == "AP" and r["dst_tcp_flags"] == "SA"
    assert (r["src_packets"], r["dst_packets"]) == (2, 2)


def test_initiator_inferred_literal(tracer, tmp_path):
    """A TCP flow first seen mid-connection (no SYN, no SYN+ACK): the side with
    the service port is the responder, and the record says it was inferred;
    one whose SYN was seen carries no such key."""
    sc = pcapgen.Scenario("mid_connection")
    c = pcapgen.Conv(sc, pcapgen.PROTO_TCP, "198.51.100.20", "192.0.2.10", 443, 40100)
    c.record(initiator="b", inferred=True)
    c.send(10.0, "a", pcapgen.PSH | pcapgen.ACK, b"server speaks first")
    c.send(10.1, "b", pcapgen.ACK)
    d = pcapgen.Conv(sc, pcapgen.PROTO_TCP, "192.0.2.10", "198.51.100.20", 40101, 443)
    d.record()
    d.send(11.0, "a", pcapgen.SYN)
    got, want, _ = run_scenario(tracer, sc, tmp_path)
    compare_records(got, want)
    by = {r["src_port"]: r for r in got}
    assert (by["40100"]["dst_port"], by["40100"]["initiator_inferred"]) == ("443", True)
    assert (by["40100"]["src_packets"], by["40100"]["dst_packets"]) == (1, 1)
    assert "initiator_inferred" not in by["40101"]


def test_icmp_literal(tracer, tmp_path):
    got = _one(tracer, tmp_path, "icmp_echo")
    assert len(got) == 1
    r = got[0]
    assert r["protocol"] == "ICMP" and r["protocol_number"] == 1
    assert (r["icmp_type"], r["icmp_code"]) == (8, 0)
    assert (r["src_port"], r["dst_port"]) == ("0", "0")
    assert r["flow_id"] == "192.0.2.10:0-203.0.113.30:0-ICMP"
    assert (r["src_packets"], r["dst_packets"]) == (2, 2)
    assert r["src_tcp_flags"] == "" and r["dst_tcp_flags"] == ""


def test_icmp_two_pings_literal(tracer, tmp_path):
    """ICMP flows are keyed by exchange: two echo identifiers, two flows; the
    unreachable between the same hosts is its own flow."""
    got = _one(tracer, tmp_path, "icmp_two_pings")
    assert sorted((r["protocol"], r["src_ip"], r["icmp_type"], r["src_packets"], r["dst_packets"])
                  for r in got) == [
        ("ICMP", "192.0.2.10", 8, 3, 3), ("ICMP", "192.0.2.10", 8, 3, 3),
        ("ICMP", "203.0.113.30", 3, 1, 0),
        ("ICMPv6", "2001:db8::a", 128, 1, 1), ("ICMPv6", "2001:db8::a", 128, 1, 1)]
    assert len({r["community_id"] for r in got}) == 3


def test_icmpv6_literal(tracer, tmp_path):
    got = _one(tracer, tmp_path, "icmpv6_echo")
    assert len(got) == 1
    r = got[0]
    assert r["protocol"] == "ICMPv6" and r["ip_version"] == 6 and r["protocol_number"] == 58
    assert (r["icmp_type"], r["icmp_code"]) == (128, 0)
    assert (r["src_ip"], r["dst_ip"]) == ("2001:db8::a", "2001:db8:1::b")


def test_ipv6_flow_id_brackets(tracer, tmp_path):
    """flow_id writes IPv6 addresses in brackets so the ports split off."""
    got = _one(tracer, tmp_path, "ipv6_tcp")
    assert [r["flow_id"].rsplit("-", 1)[0].split("-") for r in got] == \
        [["[2001:db8::a]:50000", "[2001:db8:1::b]:443"]]


def test_vlan_literal(tracer, tmp_path):
    got = _one(tracer, tmp_path, "vlan")
    assert sorted(r["vlan_id"] for r in got) == [100, 200]
    assert all(r["packet_count"] == 2 for r in got)


def test_vlan_not_in_key_literal(tracer, tmp_path):
    """A connection tagged in one direction only: two half-flows by default,
    one flow (vlan_id 0) with AGENT_VLAN_IN_KEY=false."""
    two = _one(tracer, tmp_path, "vlan_one_way")
    one = _one(tracer, tmp_path, "vlan_not_in_key")
    assert sorted((r["vlan_id"], r["src_packets"], r["dst_packets"]) for r in two) == \
        [(0, 0, 2), (100, 2, 0)]
    assert [(r["vlan_id"], r["src_packets"], r["dst_packets"]) for r in one] == [(0, 2, 2)]


def test_qinq_literal(tracer, tmp_path):
    got = _one(tracer, tmp_path, "qinq")
    assert [(r["vlan_id"], r["end_reason"]) for r in got] == [(300, "fin")]


def test_ipv4_frag_literal(tracer, tmp_path):
    got = _one(tracer, tmp_path, "ipv4_frag")
    assert len(got) == 1
    r = got[0]
    assert r["packet_count"] == 3
    assert r["byte_count"] == 1034 + 834 + 234
    assert (r["src_port"], r["dst_port"], r["protocol"]) == ("7001", "7002", "UDP")


def test_ipv6_frag_literal(tracer, tmp_path):
    got = _one(tracer, tmp_path, "ipv6_frag")
    assert len(got) == 1
    r = got[0]
    assert r["packet_count"] == 3
    assert r["byte_count"] == (14 + 40 + 8 + 1232) + (14 + 40 + 8 + 1000) + (14 + 40 + 8 + 168)
    assert (r["src_port"], r["dst_port"], r["protocol"]) == ("7301", "7302", "UDP")


def test_ipv6_nested_frag_literal(tracer, tmp_path):
    """The outermost Fragment header identifies the datagram (issue 14 item 1):
    the later fragment, whose Next Header is 44, joins the UDP flow."""
    got = _one(tracer, tmp_path, "ipv6_nested_frag")
    assert [(r["protocol"], r["src_port"], r["dst_port"], r["packet_count"], r["byte_count"])
            for r in got] == [("UDP", "7401", "7402", 2, 532)]


def _capture_stats(run):
    return [e for e in run.events("sensor") if e.get("final")][-1]["capture"]


def test_encap_literal(tracer, tmp_path):
    """MPLS (two labels, multicast, pseudowires with and without control word),
    PPPoE and IPv4 AH reach the ports inside; the BFD-over-MPLS packet, the LCP
    echo and the PADI are the only not_ip frames."""
    got = {}
    for name in ("encap_mpls", "encap_pppoe", "ipv4_ah"):
        recs, _, run = run_scenario(tracer, pcapgen.SCENARIOS[name](), tmp_path)
        got[name] = sorted((r["src_port"], r["dst_port"], r["protocol"], r["vlan_id"],
                            r["packet_count"]) for r in recs)
        got[name + ".not_ip"] = _capture_stats(run)["undecodable"]["not_ip"]
    assert got == {
        "encap_mpls": [("49000", "80", "TCP", 0, 8), ("49001", "5353", "UDP", 0, 2),
                       ("49002", "4789", "UDP", 0, 2), ("49003", "22", "TCP", 55, 3)],
        "encap_mpls.not_ip": 1,
        "encap_pppoe": [("49100", "443", "TCP", 0, 6), ("49101", "53", "UDP", 35, 2)],
        "encap_pppoe.not_ip": 2,
        "ipv4_ah": [("49200", "443", "TCP", 0, 8), ("500", "500", "UDP", 0, 2)],
        "ipv4_ah.not_ip": 0,
    }


def test_encap_truncated_counted(tracer, tmp_path):
    """Every frame of encap_truncated cut before its UDP ports end is counted
    'truncated' (231 of them), none is another kind, none makes a flow."""
    got, want, run = run_scenario(tracer, pcapgen.scenario_encap_truncated(), tmp_path)
    compare_records(got, want)
    und = _capture_stats(run)["undecodable"]
    assert pcapgen.encap_truncated_cuts() == 231
    assert und == {"truncated": 231, "bad_header": 0, "unsupported_link": 0, "not_ip": 0}


def test_udp_idle_resume_literal(tracer, tmp_path):
    got = sorted(_one(tracer, tmp_path, "udp_idle_resume"), key=lambda r: r["start_time"])
    assert [(r["end_reason"], r["packet_count"], r["start_time"][11:19]) for r in got] == \
        [("idle", 3, "00:00:10"), ("shutdown", 2, "00:00:52")]


def test_active_timeout_literal(tracer, tmp_path):
    got = sorted(_one(tracer, tmp_path, "active_timeout"), key=lambda r: r["start_time"])
    assert [(r["end_reason"], r["final"], r["packet_count"], r["src_packets"],
             r["dst_packets"]) for r in got] == \
        [("active", False, 10, 5, 5), ("active", False, 10, 5, 5), ("shutdown", True, 5, 3, 2)]
    assert [r["start_time"][11:26] for r in got] == \
        ["00:00:10.000000", "00:00:20.000000", "00:00:30.000000"]
    assert [r["end_time"][11:26] for r in got] == \
        ["00:00:19.000000", "00:00:29.000000", "00:00:34.000000"]
    assert len({r["flow_id"] for r in got}) == 1
    assert len({r["community_id"] for r in got}) == 1


def test_tcp_active_literal(tracer, tmp_path):
    got = sorted(_one(tracer, tmp_path, "tcp_active"), key=lambda r: r["start_time"])
    assert [(r["end_reason"], r["final"], r["packet_count"], r["src_tcp_flags"],
             r["dst_tcp_flags"]) for r in got] == \
        [("active", False, 21, "SAP", "SAP"), ("active", False, 20, "AP", "A"),
         ("fin", True, 11, "AFP", "AF")]


def test_icmp_unreach_literal(tracer, tmp_path):
    got = _one(tracer, tmp_path, "icmp_unreach")
    icmp = [r for r in got if r["protocol"] == "ICMP"]
    assert len(got) == 2 and len(icmp) == 1
    assert (icmp[0]["src_ip"], icmp[0]["icmp_type"], icmp[0]["icmp_code"]) == \
        ("198.51.100.20", 3, 3)


def test_frag_orphans_literal(tracer, tmp_path):
    got = _one(tracer, tmp_path, "frag_orphans")
    assert [r["flow_id"] for r in got] == ["192.0.2.10:45002-203.0.113.30:45003-UDP"]


def test_interface_variable_labels_file_records(tracer, tmp_path):
    """With AGENT_INTERFACE set next to AGENT_PCAP_FILE, records name the interface."""
    got = _one(tracer, tmp_path, "udp", env={"AGENT_INTERFACE": "lo"})
    assert [r["interface"] for r in got] == ["lo"]


def test_gre_literal(tracer, tmp_path):
    got = _one(tracer, tmp_path, "gre")
    assert [(r["protocol"], r["protocol_number"], r["src_port"], r["dst_port"],
             r["packet_count"]) for r in got] == [("47", 47, "0", "0", 3)]
    assert got[0]["flow_id"] == "192.0.2.10:0-198.51.100.20:0-47"


@pytest.mark.parametrize("name", ["link_sll", "link_sll2", "link_null", "link_raw", "link_ppp",
                                  "link_ppp_hdlc", "link_c_hdlc", "link_nflog"])
def test_link_types_literal(tracer, tmp_path, name):
    got = _one(tracer, tmp_path, name)
    udp = [r for r in got if r["protocol"] == "UDP"]
    assert len(udp) == 1
    assert udp[0]["flow_id"] == "192.0.2.10:1111-198.51.100.20:2222-UDP"
    assert udp[0]["interface"] == name + ".pcap"


def test_direction_literal(tracer, tmp_path):
    for a in (pcapgen.REMOTE_1, pcapgen.REMOTE_2):
        if pcapgen.ip_bytes(a) in pcapgen.host_addresses():
            pytest.skip("%s is one of this host's addresses" % a)
    got = _one(tracer, tmp_path, "direction")
    assert {r["src_port"]: r["direction"] for r in got} == \
        {"5000": "local", "5001": "outbound", "5002": "inbound", "5003": "unknown",
         "5004": "local"}


def test_non_ip_makes_no_flow(tracer, tmp_path):
    got = _one(tracer, tmp_path, "non_ip")
    assert [r["flow_id"] for r in got] == ["192.0.2.10:1000-198.51.100.20:2000-UDP"]


def test_max_flows_literal(tracer, tmp_path):
    got = _one(tracer, tmp_path, "max_flows")
    assert sorted((r["src_port"], r["end_reason"], r["packet_count"]) for r in got) == \
        [("10001", "evicted", 2), ("10002", "shutdown", 2), ("10003", "shutdown", 2)]
    assert all(r["direction"] == "local" for r in got)


def test_truncated_counted(tracer, tmp_path):
    """Snap length 40: every packet whose IP addresses were captured is
    counted with its wire length; the one cut inside the IP header is not a
    flow packet. No crash, exit 0."""
    sc = pcapgen.scenario_truncated()
    got, want, _ = run_scenario(tracer, sc, tmp_path)
    for r in got:
        check_shape(r)
    check_unique_event_ids(got)
    assert sum(r["packet_count"] for r in got) == sum(w["packet_count"] for w in want)
    assert sum(r["byte_count"] for r in got) == sum(w["byte_count"] for w in want)
    assert {(r["src_ip"], r["dst_ip"]) for r in got} <= {
        ("192.0.2.10", "198.51.100.20"), ("198.51.100.20", "192.0.2.10"),
        ("192.0.2.10", "203.0.113.30"), ("203.0.113.30", "192.0.2.10")}


def test_many_flows_small_rings(tracer, tmp_path):
    """20,000 flows through 1024-slot rings: reading a file never drops (every
    flow is emitted), the records are exact."""
    sc = pcapgen.scenario_many_flows()
    got, want, r = run_scenario(tracer, sc, tmp_path, env={
        "AGENT_PACKET_RING_SLOTS": "1024", "AGENT_EVENT_RING_SLOTS": "1024"})
    compare_records(got, want)


def test_community_id_seed(tracer, tmp_path):
    """AGENT_COMMUNITY_ID_SEED changes every community_id as the spec says."""
    sc = pcapgen.scenario_mixed()
    got, want, _ = run_scenario(tracer, sc, tmp_path, env={"AGENT_COMMUNITY_ID_SEED": "1234"})
    assert len(got) == len(want)
    for r in got:
        if r["protocol_number"] in pcapgen.ICMP_PROTOS:
            sp, dp = r["icmp_type"], r["icmp_code"]
        else:
            sp, dp = int(r["src_port"]), int(r["dst_port"])
        assert r["community_id"] == pcapgen.community_id(
            r["src_ip"], r["dst_ip"], r["protocol_number"], sp, dp, seed=1234), r


def test_bpf_filter_on_file(tracer, tmp_path):
    """AGENT_BPF_FILTER applies to a file too: 'udp' keeps only the UDP flows.
    The filter sees the outer packet: the UDP flow inside mixed's GRE tunnel
    is filtered out with it."""
    sc = pcapgen.scenario_mixed()
    path = tmp_path / sc.filename()
    sc.write(str(path))
    r = run_sensor(tracer, {"AGENT_PCAP_FILE": str(path), "AGENT_BPF_FILTER": "udp"})
    want = [e for e in sc.expected(path.name) if e["protocol"] == "UDP" and "tunnel" not in e]
    compare_records(r.records(), want)


@pytest.mark.parametrize("cut", ["record_header", "packet_data"])
def test_truncated_file(tracer, tmp_path, cut):
    """A file that ends inside a record (cut short by a crash or a copy) still
    ends normally: exit 0 with the flows of every complete packet."""
    sc = pcapgen.scenario_udp()
    p = tmp_path / sc.filename()
    sc.write(str(p))
    data = p.read_bytes()
    if cut == "record_header":
        data += b"\x00\x01"                         # 2 of a 16-byte record header
    else:
        extra = pcapgen.udp(pcapgen.A4, pcapgen.B4, 5353, 53, b"z" * 80)
        frame = pcapgen.ether(pcapgen.ipv4(pcapgen.A4, pcapgen.B4, 17, extra), pcapgen.ETH_IPV4)
        data += struct.pack("<IIII", pcapgen.sec(12) // 1000000, 0, len(frame), len(frame))
        data += frame[:40]                            # 40 of its bytes
    p.write_bytes(data)
    r = run_sensor(tracer, {"AGENT_PCAP_FILE": str(p)}, check=False)
    assert r.rc == 0, "exit status %d on a truncated file; stderr:\n%s" % (r.rc, r.stderr)
    compare_records(r.records(), sc.expected(p.name))


def test_determinism(tracer, tmp_path):
    """The same mixed file gives the same records (ignoring event_id) on every run."""
    sc = pcapgen.scenario_mixed()
    path = tmp_path / "mixed.pcap"
    sc.write(str(path))
    runs = []
    for _ in range(3):
        r = run_sensor(tracer, {"AGENT_PCAP_FILE": str(path)})
        recs = r.records()
        check_unique_event_ids(recs)
        runs.append(canonical(recs))
    assert len(runs[0]) == len(sc.recs)
    assert runs[0] == runs[1] == runs[2]


# ---------------------------------------------------------------------------
# command line

HELP_FLAGS = ["--pcap-file", "--interface", "--endpoint-url", "--batch-size",
              "--tcp-idle-timeout", "--udp-idle-timeout", "--idle-timeout",
              "--active-timeout", "--max-flows", "--snap-len", "--bpf-filter",
              "--auth-token", "--send-interval", "--log-level"]
HELP_VARS = ["AGENT_PCAP_FILE", "AGENT_INTERFACE", "AGENT_ENDPOINT_URL", "AGENT_BATCH_SIZE",
             "AGENT_TCP_IDLE_TIMEOUT", "AGENT_UDP_IDLE_TIMEOUT", "AGENT_IDLE_TIMEOUT",
             "AGENT_ACTIVE_TIMEOUT", "AGENT_MAX_FLOWS", "AGENT_SNAP_LEN", "LOG_LEVEL"]


def test_help(tracer):
    r = run_sensor(tracer, args=["--help"], timeout=30)
    assert r.rc == 0
    for f in HELP_FLAGS + HELP_VARS:
        assert f in r.stdout, "--help does not mention %s:\n%s" % (f, r.stdout)


def test_version(tracer):
    r = run_sensor(tracer, args=["--version"], timeout=30)
    assert r.rc == 0
    version = (REPO / "VERSION").read_text().strip()
    assert version in r.stdout, "--version output %r lacks %s" % (r.stdout, version)


@pytest.fixture
def good_pcap(tmp_path):
    sc = pcapgen.scenario_udp()
    p = tmp_path / sc.filename()
    sc.write(str(p))
    return str(p)


def _bad(tracer, env, args=()):
    r = run_sensor(tracer, env, args, timeout=30, check=False)
    assert r.rc == 2, "exit status %d, expected 2; stderr:\n%s" % (r.rc, r.stderr)
    assert r.stdout == "", "stdout not empty on a config error: %r" % r.stdout[:500]
    return r.stderr.splitlines()


@pytest.mark.parametrize("var,value,line", [
    ("AGENT_SNAP_LEN", "abc", "AGENT_SNAP_LEN=abc: must be an integer in [64, 262144]"),
    ("AGENT_ENDPOINT_URL", "ftp://x",
     "AGENT_ENDPOINT_URL=ftp://x: must be an http:// or https:// URL with a host"),
    # libcurl alone would take "flows" for the host and fail later, resolving it
    ("AGENT_ENDPOINT_URL", "http:///flows",
     "AGENT_ENDPOINT_URL=http:///flows: must be an http:// or https:// URL with a host"),
    ("LOG_LEVEL", "loud", "LOG_LEVEL=loud: must be one of error, warn, info, debug"),
])
def test_bad_value_exit_2(tracer, good_pcap, var, value, line):
    lines = _bad(tracer, {"AGENT_PCAP_FILE": good_pcap, var: value})
    assert line in lines, "no line %r in stderr:\n%s" % (line, "\n".join(lines))


@pytest.mark.parametrize("var,value", [
    ("AGENT_SNAP_LEN", "63"), ("AGENT_SNAP_LEN", "262145"), ("AGENT_BATCH_SIZE", "0"),
    ("AGENT_BATCH_SIZE", "-1"), ("AGENT_MAX_FLOWS", "0"), ("AGENT_TCP_IDLE_TIMEOUT", "x"),
    ("AGENT_UDP_IDLE_TIMEOUT", "0"), ("AGENT_IDLE_TIMEOUT", "10s0"),
    ("AGENT_ACTIVE_TIMEOUT", "0"), ("AGENT_PACKET_RING_SLOTS", "1000"),
    ("AGENT_EVENT_RING_SLOTS", "3000"), ("AGENT_COMMUNITY_ID_SEED", "65536"),
    ("AGENT_ENDPOINT_URL", "http://"), ("AGENT_PROMISCUOUS", "maybe"),
])
def test_out_of_range_exit_2(tracer, good_pcap, var, value):
    """Every value is validated: a line naming the variable and the value."""
    lines = _bad(tracer, {"AGENT_PCAP_FILE": good_pcap, var: value})
    assert any(l.startswith("%s=%s: " % (var, value)) for l in lines), "\n".join(lines)


def test_bad_bpf_filter(tracer, good_pcap):
    lines = _bad(tracer, {"AGENT_PCAP_FILE": good_pcap, "AGENT_BPF_FILTER": "not a (filter"})
    assert any(l.startswith("AGENT_BPF_FILTER=not a (filter: ") for l in lines), "\n".join(lines)


def test_bad_interface(tracer):
    lines = _bad(tracer, {"AGENT_INTERFACE": "nope0"})
    want = "AGENT_INTERFACE=nope0: no such network interface"
    assert want in lines, "no line %r in stderr:\n%s" % (want, "\n".join(lines))


def test_bad_pcap_file(tracer):
    lines = _bad(tracer, {"AGENT_PCAP_FILE": "/nonexistent"})
    assert any(l.startswith("AGENT_PCAP_FILE=/nonexistent: cannot open: ") for l in lines), \
        "\n".join(lines)


def test_not_a_capture_file(tracer, tmp_path):
    p = tmp_path / "notes.pcap"
    p.write_text("this is not a capture file\n" * 10)
    lines = _bad(tracer, {"AGENT_PCAP_FILE": str(p)})
    assert any(l.startswith("AGENT_PCAP_FILE=%s: cannot open: " % p) for l in lines), \
        "\n".join(lines)


def test_several_bad_values(tracer, good_pcap):
    lines = _bad(tracer, {"AGENT_PCAP_FILE": good_pcap, "AGENT_SNAP_LEN": "abc",
                          "AGENT_ENDPOINT_URL": "ftp://x", "LOG_LEVEL": "loud"})
    for want in ("AGENT_SNAP_LEN=abc: must be an integer in [64, 262144]",
                 "AGENT_ENDPOINT_URL=ftp://x: must be an http:// or https:// URL with a host",
                 "LOG_LEVEL=loud: must be one of error, warn, info, debug"):
        assert want in lines, "no line %r in stderr:\n%s" % (want, "\n".join(lines))


def test_flag_overrides_variable(tracer, tmp_path):
    """--pcap-file wins over a bad AGENT_PCAP_FILE; --active-timeout over
    AGENT_ACTIVE_TIMEOUT."""
    sc = pcapgen.scenario_active_timeout()
    p = tmp_path / sc.filename()
    sc.write(str(p))
    r = run_sensor(tracer, {"AGENT_PCAP_FILE": "/nonexistent", "AGENT_ACTIVE_TIMEOUT": "300"},
                   args=["--pcap-file", str(p), "--active-timeout", "10"])
    compare_records(r.records(), sc.expected(p.name))


def test_flags_alone(tracer, tmp_path):
    """Flags without any variable: --max-flows behaves like AGENT_MAX_FLOWS."""
    sc = pcapgen.scenario_max_flows()
    p = tmp_path / sc.filename()
    sc.write(str(p))
    r = run_sensor(tracer, args=["--pcap-file", str(p), "--max-flows", "2"])
    compare_records(r.records(), sc.expected(p.name))


def test_bad_flag_value_exit_2(tracer, good_pcap):
    r = run_sensor(tracer, {"AGENT_PCAP_FILE": good_pcap}, args=["--snap-len", "abc"],
                   timeout=30, check=False)
    assert r.rc == 2 and "abc" in r.stderr, r.stderr


def test_pcap_file_from_standard_input(tracer, tmp_path):
    """AGENT_PCAP_FILE=- reads the capture from stdin: the same records as from the file."""
    from conftest import run_sensor_stdin
    sc = pcapgen.scenario_mixed()
    p = tmp_path / sc.filename()
    sc.write(str(p))
    r = run_sensor_stdin(tracer, p)
    recs = r.records()
    assert recs and all(rec["interface"] == "lo" for rec in recs)   # AGENT_INTERFACE names it
    for rec in recs:
        rec["interface"] = p.name          # the expected records carry the file's name
    compare_records(recs, sc.expected(p.name))
