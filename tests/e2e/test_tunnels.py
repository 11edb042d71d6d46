"""Tunnels (issue 14.3): GRE (with Ethernet bridging and ERSPAN I/II/III),
VXLAN, Geneve, GTP-U, IP-in-IP and IPv6-in-IP from generated captures. The
flow is the conversation inside, its record carries the tunnel ("tunnel":
type, depth, outer addresses, VNI / TEID / GRE key / ERSPAN session); the
tunnel is part of the key; AGENT_DECAP=off reports the outer flows; depth is
capped at 3; frames cut anywhere count on the outer flow or as truncated."""

import json

import pytest

import pcapgen
from conftest import compare_records, run_scenario

TUNNELS = sorted(n for n in pcapgen.SCENARIOS if n.startswith("tunnel_"))


def _capture(run):
    for line in run.stdout.splitlines():
        if line.startswith("{") and '"type":"sensor"' in line:
            rec = json.loads(line)
            if rec.get("final"):
                return rec["capture"]
    raise AssertionError("no final sensor event")


@pytest.mark.parametrize("name", TUNNELS)
def test_tunnel_scenario_exact(tracer, tmp_path, name):
    got, want, _ = run_scenario(tracer, pcapgen.SCENARIOS[name](), tmp_path)
    compare_records(got, want)


def test_tunnel_literal(tracer, tmp_path):
    """Independent of pcapgen's bookkeeping: the VXLAN case's one record."""
    got, _, run = run_scenario(tracer, pcapgen.SCENARIOS["tunnel_vxlan"](), tmp_path)
    assert [(r["flow_id"], r["packet_count"], r["src_packets"], r["dst_packets"], r["end_reason"],
             r["tunnel"]) for r in got] == [
        ("192.0.2.10:49306-198.51.100.20:80-TCP", 7, 5, 2, "fin",
         {"type": "vxlan", "depth": 1, "outer_src_ip": "10.99.0.1", "outer_dst_ip": "10.99.0.2",
          "vni": 100})]
    cap = _capture(run)
    assert (cap["tunnel_decapsulated"], cap["tunnel_capped"], cap["tunnel_undecoded"],
            cap["tunnel_fragment"]) == (7, 0, 0, 0)


def test_tunnel_segments_literal(tracer, tmp_path):
    """One inner 5-tuple in two VXLAN segments and bare: three flows."""
    got, _, _ = run_scenario(tracer, pcapgen.SCENARIOS["tunnel_vxlan_segments"](), tmp_path)
    assert sorted((r["flow_id"], r["packet_count"], r.get("tunnel", {}).get("vni", 0)) for r in got) \
        == [("192.0.2.10:49400-198.51.100.20:53-UDP", 2, 0),
            ("192.0.2.10:49400-198.51.100.20:53-UDP", 2, 100),
            ("192.0.2.10:49400-198.51.100.20:53-UDP", 2, 200)]


def test_tunnel_gtpu_one_flow_two_teids(tracer, tmp_path):
    """GTP-U's TEIDs differ per direction: still one flow; the first packet's TEID."""
    got, _, _ = run_scenario(tracer, pcapgen.SCENARIOS["tunnel_gtpu"](), tmp_path)
    assert [(r["packet_count"], r["tunnel"]["teid"]) for r in got] == [(7, 0x111)]


def test_tunnel_depth_capped(tracer, tmp_path):
    got, _, run = run_scenario(tracer, pcapgen.SCENARIOS["tunnel_nested"](), tmp_path)
    assert sorted((r["dst_port"], r["tunnel"]["type"], r["tunnel"]["depth"]) for r in got) == [
        ("4789", "gre", 3), ("4789", "gre", 3), ("53", "vxlan", 3)]
    cap = _capture(run)
    assert (cap["tunnel_decapsulated"], cap["tunnel_capped"]) == (4, 2)


def test_tunnel_decap_off_literal(tracer, tmp_path):
    got, _, _ = run_scenario(tracer, pcapgen.SCENARIOS["tunnel_decap_off"](), tmp_path)
    assert sorted((r["flow_id"], r["packet_count"], "tunnel" in r) for r in got) == [
        ("10.99.0.1:0-10.99.0.2:0-4", 2, False),
        ("10.99.0.1:40000-10.99.0.2:4789-UDP", 1, False),
        ("10.99.0.2:40001-10.99.0.1:4789-UDP", 1, False)]


def test_tunnel_truncated_counted(tracer, tmp_path):
    """Each tunnel cut at every byte: cut before the outer packet's flow
    fields end is 'truncated', later the tunnel is left closed and the frame
    counts on the outer flow (tunnel_undecoded); none is lost."""
    got, want, run = run_scenario(tracer, pcapgen.SCENARIOS["tunnel_truncated"](), tmp_path)
    compare_records(got, want)
    truncated, undecoded = pcapgen.tunnel_truncated_counts()
    assert (truncated, undecoded) == (501, 592)
    cap = _capture(run)
    assert cap["undecodable"] == {"truncated": 501, "bad_header": 0, "unsupported_link": 0,
                                  "not_ip": 0}
    assert cap["tunnel_undecoded"] == 592
    assert cap["tunnel_decapsulated"] == len(pcapgen.TUNNEL_CASES)
