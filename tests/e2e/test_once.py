"""--once topology (issue 17.4): one topology snapshot of the host on stdout, the
same the topology hook sends, then exit. Run inside a network namespace made
here, so the expected interfaces, addresses and routes are exactly known."""

import json
import os
import re
import socket
import subprocess
import uuid

import pytest

from conftest import assert_no_sanitizer, clean_env


@pytest.fixture
def netns():
    tag = uuid.uuid4().hex[:6]
    ns, a, b = "to" + tag, "toa" + tag, "tob" + tag
    sh = lambda *c: subprocess.run(list(c), check=True)
    sh("ip", "netns", "add", ns)
    try:
        sh("ip", "-n", ns, "link", "add", a, "type", "veth", "peer", "name", b)
        sh("ip", "-n", ns, "addr", "add", "198.18.77.1/24", "dev", a)
        sh("ip", "-n", ns, "addr", "add", "2001:db8:77::1/64", "dev", a, "nodad")
        for dev in ("lo", a, b):
            sh("ip", "-n", ns, "link", "set", dev, "up")
        sh("ip", "-n", ns, "route", "add", "203.0.113.0/24", "via", "198.18.77.2", "metric", "55")
        sh("ip", "-n", ns, "neigh", "add", "198.18.77.9", "lladdr", "02:00:00:00:77:09", "dev", a, "nud",
           "permanent")
        yield ns, a, b
    finally:
        subprocess.run(["ip", "netns", "del", ns])


def test_once_topology_prints_one_snapshot(tracer, netns):
    ns, a, b = netns
    p = subprocess.run(["ip", "netns", "exec", ns, tracer, "--once", "topology"],
                       env=clean_env({"AGENT_INTERFACE": a, "AGENT_SENSOR_ID": "topo-once"}),
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert_no_sanitizer(p.stderr)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert len(lines) == 1, p.stdout
    ev = json.loads(lines[0])
    assert ev["type"] == "topology" and ev["errors"] == [], ev.get("errors")
    assert ev["sensor_id"] == "topo-once" and ev["schema_version"] == 2
    assert ev["hostname"] == socket.gethostname() and re.fullmatch(r"[0-9a-f]{16}-1", ev["event_id"])
    assert sorted(i["name"] for i in ev["interfaces"]) == sorted(["lo", a, b])
    ifx = {i["name"]: i for i in ev["interfaces"]}
    assert ifx[a]["kind"] == "veth" and ifx[a]["admin_state"] == "up"
    addrs = {(x["interface"], x["address"], x["prefix_len"]) for x in ev["addresses"]}
    assert {(a, "198.18.77.1", 24), (a, "2001:db8:77::1", 64), ("lo", "127.0.0.1", 8)} <= addrs, addrs
    routes = {(r["destination"], r.get("gateway"), r["metric"]) for r in ev["routes"]
              if r["table"] == "main" and r["family"] == "ipv4"}
    assert ("203.0.113.0/24", "198.18.77.2", 55) in routes, routes
    neigh = [n for n in ev["neighbors"] if n["ip"] == "198.18.77.9"]
    assert neigh == [{"ip": "198.18.77.9", "family": "ipv4", "mac": "02:00:00:00:77:09", "interface": a,
                      "state": "permanent"}], ev["neighbors"]
    assert ev["wireguard"] == []


def test_once_sensor_prints_the_setup(tracer, tmp_path):
    """--once sensor (issue 17.4): the sensor set up as configured (capture on lo opened, HTTP output,
    hooks created, privileges dropped), its `sensor` event with zero counters and "setup", then exit;
    no thread ran, nothing was sent, the metrics port was not bound."""
    import pwd
    snmp = tmp_path / "snmp.json"
    snmp.write_text('{"targets": []}')
    env = {"AGENT_INTERFACE": "lo", "AGENT_BPF_FILTER": "port 1", "AGENT_SENSOR_ID": "once-sensor",
           "AGENT_STATE_DIR": str(tmp_path / "state"), "AGENT_USER": "nobody",
           "AGENT_ENDPOINT_URL": "http://user:pw@127.0.0.1:9/flows?k=v",
           "AGENT_EVENTS_ENDPOINT_URL": "http://127.0.0.1:9/events", "AGENT_AUTH_TOKEN": "onceSecretTok",
           "AGENT_HTTP_BODY": "array", "AGENT_COMPRESS": "gzip", "AGENT_SNMP_CONFIG": str(snmp),
           "AGENT_METRICS_ADDR": "127.0.0.1:1"}   # port 1 is never bound as nobody: binding would fail
    p = subprocess.run([tracer, "--once", "sensor"], env=clean_env(env), stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=60)
    assert_no_sanitizer(p.stderr)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert len(lines) == 1, p.stdout
    ev = json.loads(lines[0])
    nobody = pwd.getpwnam("nobody")
    assert ev["setup"] == {
        "source": {"interface": "lo", "link_type": 1, "bpf_filter": "port 1"},
        "capabilities": {"net_raw": True, "net_admin": True},
        "user": {"name": "nobody", "uid": nobody.pw_uid, "gid": nobody.pw_gid},
        "seccomp": True,
        "outputs": {"stdout": False, "http": {"endpoint": "http://127.0.0.1:9/flows",
                                              "events_endpoint": "http://127.0.0.1:9/events", "body": "array",
                                              "gzip": True, "bearer_token": True, "hmac_signed": False,
                                              "spool_dir": None}},
        "hooks": ["topology", "snmp"],
    }
    assert ev["type"] == "sensor" and ev["final"] is False and ev["uptime_s"] == 0
    assert ev["sensor_id"] == "once-sensor" and ev["schema_version"] == 2
    assert ev["hostname"] == socket.gethostname() and re.fullmatch(r"[0-9a-f]{16}-1", ev["event_id"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", ev["timestamp"])
    assert ev["capture"]["frames"] == 0 and ev["capture"]["kernel_counts_loopback_twice"] is True
    assert ev["flows"]["created"] == 0 and ev["delivery"]["events_output"] == 0
    assert ev["delivery"]["outputs"]["http"] is True
    assert ev["hooks"]["snmp"]["snmp_targets"] == 0 and ev["hooks"]["snmp"]["snmp_reloads_applied"] == 0
    assert "onceSecretTok" not in p.stdout + p.stderr and "pw@" not in p.stdout + p.stderr
    assert "metrics: serving" not in p.stderr and "tracer-sensor 0" not in p.stderr   # never started
