"""Flow metadata from the inspect/ parsers (issue 15), wired into the DPI
inspection point: with AGENT_DPI=on a flow's record carries one member named
after what its first payload bytes were ("tls", "dns", "http", ...). Checked
against what tshark reports for the same flows of three shared captures: the
TLS server name (SNI), the DNS query name and the HTTP Host, each with the
exact value, and the flow matched by its 5-tuple (the initiator's side)."""

import shutil
import subprocess

import pytest

from conftest import REPO, check_shape, run_sensor

PCAPS = REPO.parent / "shared" / "pcaps" / "ndpi"

# capture, record member, member field, tshark filter, tshark field, transport, expected flows
CASES = [
    ("443-curl.pcap", "tls", "server_name", "tls.handshake.type==1", "tls.handshake.extensions_server_name",
     "tcp", {("192.168.1.13", 55523, "178.62.197.130", 443): "www.ntop.org"}),
    ("dns.pcap", "dns", "query", "dns.flags.response==0", "dns.qry.name", "udp",
     {("192.168.170.8", 32795, "192.168.170.20", 53): "www.example.com",
      ("82.178.113.245", 47255, "82.178.158.181", 53): "e7.whatsapp.net"}),
    ("http_auth.pcap", "http", "host", "http.request", "http.host", "tcp",
     {("192.168.0.4", 54337, "192.254.189.169", 80): "browserspy.dk"}),
]

needs = pytest.mark.skipif(not PCAPS.is_dir() or not shutil.which("tshark"),
                           reason="needs ../shared/pcaps/ndpi and tshark")


def _tshark(path, flt, field, proto):
    """{5-tuple of the first packet matching flt: field's value} (first value per flow)."""
    out = subprocess.run(["tshark", "-r", str(path), "-Y", flt, "-T", "fields", "-e", "ip.src",
                          "-e", proto + ".srcport", "-e", "ip.dst", "-e", proto + ".dstport", "-e", field],
                         capture_output=True, text=True, check=True, timeout=120).stdout
    got = {}
    for line in out.splitlines():
        s, sp, d, dp, v = line.split("\t")
        got.setdefault((s, int(sp), d, int(dp)), v)
    return got


@needs
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_metadata_matches_tshark(tracer, case):
    name, member, field, flt, tfield, proto, want = case
    path = PCAPS / name
    assert _tshark(path, flt, tfield, proto) == want       # what tshark says, written out
    r = run_sensor(tracer, {"AGENT_PCAP_FILE": str(path), "AGENT_DPI": "on"})
    got = {}
    for rec in r.records():
        check_shape(rec)
        key = (rec["src_ip"], int(rec["src_port"]), rec["dst_ip"], int(rec["dst_port"]))
        if key in want:
            assert member in rec, rec
            got[key] = rec[member][field]
    assert got == want


@needs
def test_metadata_follows_agent_dpi(tracer):
    """The payload path runs only with AGENT_DPI on: no metadata without it."""
    r = run_sensor(tracer, {"AGENT_PCAP_FILE": str(PCAPS / "dns.pcap")})
    recs = list(r.records())
    assert recs
    assert not any(k in rec for rec in recs for k in ("dns", "tls", "quic", "http", "ssh"))
