"""Application identification (issue 15): the sensor's nDPI labels against
Debian's ndpiReader (the same nDPI 4.2) on nDPI's own test captures, the
AGENT_DPI switch, and the "dpi" counters of the sensor event.

The agreement test runs a representative subset of ../shared/pcaps/ndpi
(web, TLS, QUIC, DNS, chat, P2P, SSH, IPv6: 12 captures, 510 flows) to stay within its time
budget; TRACER_DPI_ALL=1 runs every capture, and
`python3 tests/e2e/ndpi_agree.py --all` prints the full per-capture table.
"""

import json
import os
import shutil

import pytest

from conftest import REPO, run_sensor
import ndpi_agree

PCAPS = REPO.parent / "shared" / "pcaps" / "ndpi"
SUBSET = ["1kxun.pcap", "conncheck.pcap", "KakaoTalk_chat.pcap", "WebattackSQLinj.pcap", "dns_fragmented.pcap",
          "quic.pcap", "teams.pcap", "netflix.pcap", "bittorrent.pcap", "ssh.pcap", "http_ipv6.pcap",
          "whatsapp_login_call.pcap"]

needs_pcaps = pytest.mark.skipif(not PCAPS.is_dir() or not shutil.which("ndpiReader"),
                                 reason="needs ../shared/pcaps/ndpi and ndpiReader (libndpi-bin)")


@needs_pcaps
def test_labels_agree_with_ndpireader(tracer):
    names = sorted(p.name for p in PCAPS.iterdir()) if os.environ.get("TRACER_DPI_ALL") else SUBSET
    rows, tot_m, tot_a = [], 0, 0
    for name in names:
        p = PCAPS / name
        if not p.exists():
            continue
        total, matched, agree, diffs = ndpi_agree.compare(tracer, p)
        rows.append("%-32s reader %4d matched %4d same %4d %s" % (name, total, matched, agree, diffs[:3]))
        tot_m += matched
        tot_a += agree
    print("\n".join(rows))
    assert tot_m >= 500 or os.environ.get("TRACER_DPI_ALL"), "too few flows matched by 5-tuple: %d\n%s" % (tot_m, "\n".join(rows))
    assert tot_a >= 0.98 * tot_m, "agreement %d/%d below 98%%\n%s" % (tot_a, tot_m, "\n".join(rows))


def _sensor_event(r):
    ev = [e for e in r.events("sensor") if e.get("final")]
    assert ev, r.stderr[-2000:]
    return ev[-1]


@needs_pcaps
def test_dpi_counters_and_pool_bound(tracer):
    env = {"AGENT_PCAP_FILE": str(PCAPS / "1kxun.pcap"), "AGENT_STATS_INTERVAL": "3600s", "AGENT_DPI": "on"}
    r = run_sensor(tracer, env)
    d = _sensor_event(r)["dpi"]
    flows = [e for e in r.records()]
    assert all("app" in f for f in flows)
    assert d["pool_empty"] == 0 and d["payload_ring_full"] == 0 and d["pool_in_use"] == 0
    # replaying a file: every TCP/UDP frame copied (no done hints), each flow with payload inspected
    assert {k: d[k] for k in DPI_1KXUN} == DPI_1KXUN, d
    # a pool of 16 nDPI states: the flows beyond it are counted and labelled by nDPI's guess.
    # Which flows find the pool empty depends on when the janitor ends flows, so only the
    # sum is exact: every flow with payload either took a state or was counted.
    r = run_sensor(tracer, dict(env, AGENT_DPI_FLOWS="16"))
    d = _sensor_event(r)["dpi"]
    assert d["pool_empty"] > 0, d
    assert d["flows_inspected"] + d["pool_empty"] == DPI_1KXUN["flows_inspected"], d
    assert d["pool_in_use"] == 0
    assert all("app" in f for f in r.records())


@pytest.mark.parametrize("setting", [None, "off"])
def test_dpi_off_has_no_app(tracer, setting):
    """Off by default (see README: Application identification) and with AGENT_DPI=off."""
    pcap = PCAPS / "1kxun.pcap"
    if not pcap.exists():
        pytest.skip("needs ../shared/pcaps/ndpi")
    env = {"AGENT_PCAP_FILE": str(pcap), "AGENT_STATS_INTERVAL": "3600s"}
    if setting:
        env["AGENT_DPI"] = setting
    r = run_sensor(tracer, env)
    flows = r.records()
    assert len(flows) == 204 and not any("app" in f for f in flows)
    assert "dpi" not in _sensor_event(r)


# 1kxun.pcap: 1,723 frames, 204 flows; 201 of them carry payload, 597 packets reach nDPI
DPI_1KXUN = {"payload_copied": 1723, "payload_done_skips": 0, "payload_ring_full": 0, "payload_orphans": 0,
             "payload_missing": 0, "payload_packets": 597, "flows_inspected": 201, "flows_detected": 176,
             "flows_guessed": 8, "pool_empty": 0, "pool_in_use": 0}
