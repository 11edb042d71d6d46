"""Issue 17.2: reachability checks (the ping hook) end to end.

Each test builds two hosts: network namespaces a (the sensor) and b (the
peer), joined by a veth pair, with IPv4 and IPv6 addresses; traffic never
leaves them. The sensor captures on a's veth with a BPF filter that matches
none of our packets, so its stdout carries only hook events. In b:
  - ip_b / ip6_b answer every echo request (0% loss);
  - lossy / lossy6 (more addresses on b) sit behind an nftables rule that
    drops every second echo request (`numgen inc mod 2`): with an even count
    per round and nothing else sending echo requests to them, every round
    loses exactly half;
and in a a blackhole route makes a target unreachable (the kernel refuses
the send: 100% loss, one send error per probe).
The unprivileged paths: datagram ICMP sockets as nobody (ping_group_range set
in a), the refusal when the range leaves the group out, and the automatic
fallback of a sensor without CAP_NET_RAW (replaying a never-ending capture
file on stdin, since live capture would need the capability).
Needs root, iproute2 and nftables.
"""
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import time
import uuid

import pytest

from conftest import assert_no_sanitizer, clean_env, parse_ndjson

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("nft"),
                                reason="needs root, iproute2 and nftables for network namespaces")

COUNT = 10                       # even: numgen inc mod 2 drops exactly COUNT / 2 per round
BLACKHOLE = "203.0.113.7"


def sh(*cmd):
    subprocess.run(list(cmd), check=True, stdout=subprocess.DEVNULL)


class Hosts:
    def __init__(self, net):
        tag = "%d%s" % (os.getpid() % 10000, uuid.uuid4().hex[:4])
        self.a, self.b = "tpga" + tag, "tpgb" + tag
        self.x, self.y = "tpgx" + tag, "tpgy" + tag
        self.ip_a, self.ip_b, self.lossy = "198.18.%d.1" % net, "198.18.%d.2" % net, "198.18.%d.5" % net
        self.ip6_a, self.ip6_b, self.lossy6 = "fd17:%x::1" % net, "fd17:%x::2" % net, "fd17:%x::5" % net
        for ns in (self.a, self.b):
            sh("ip", "netns", "add", ns)
        sh("ip", "link", "add", self.x, "netns", self.a, "type", "veth", "peer", "name", self.y, "netns", self.b)
        sh("ip", "-n", self.a, "addr", "add", self.ip_a + "/24", "dev", self.x)
        sh("ip", "-n", self.b, "addr", "add", self.ip_b + "/24", "dev", self.y)
        sh("ip", "-n", self.b, "addr", "add", self.lossy + "/24", "dev", self.y)
        sh("ip", "-n", self.a, "-6", "addr", "add", self.ip6_a + "/64", "dev", self.x, "nodad")
        sh("ip", "-n", self.b, "-6", "addr", "add", self.ip6_b + "/64", "dev", self.y, "nodad")
        sh("ip", "-n", self.b, "-6", "addr", "add", self.lossy6 + "/64", "dev", self.y, "nodad")
        for ns, dev in ((self.a, self.x), (self.b, self.y)):
            sh("ip", "-n", ns, "link", "set", dev, "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", self.a, "route", "add", "blackhole", BLACKHOLE + "/32")
        rules = ("table inet tpg {\n"
                 " chain input {\n"
                 "  type filter hook input priority 0;\n"
                 "  ip daddr %s icmp type echo-request numgen inc mod 2 == 0 drop\n"
                 "  ip6 daddr %s icmpv6 type echo-request numgen inc mod 2 == 0 drop\n"
                 " }\n"
                 "}\n") % (self.lossy, self.lossy6)
        subprocess.run(["ip", "netns", "exec", self.b, "nft", "-f", "-"], input=rules.encode(), check=True)

    def echo_from_a(self, dst, count):
        """Another program's pings from a (a raw socket of its own): returns the replies it got."""
        code = ("import socket, struct, time\n"
                "s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)\n"
                "s.settimeout(5)\n"
                "def csum(b):\n"
                "    t = sum(struct.unpack('>' + 'H' * (len(b) // 2), b))\n"
                "    t = (t & 0xffff) + (t >> 16); t = (t & 0xffff) + (t >> 16)\n"
                "    return ~t & 0xffff\n"
                "got = 0\n"
                "for i in range(%d):\n"
                "    m = struct.pack('>BBHHH', 8, 0, 0, 0x1234, i) + b'other-program-16'\n"
                "    m = m[:2] + struct.pack('>H', csum(m)) + m[4:]\n"
                "    s.sendto(m, ('%s', 0))\n"
                "    while True:\n"
                "        d = s.recv(2048)\n"
                "        if d[20] == 0 and d[24:26] == b'\\x12\\x34':\n"
                "            got += 1\n"
                "            break\n"
                "print(got)\n") % (count, dst)
        out = subprocess.run(["ip", "netns", "exec", self.a, "/usr/bin/python3", "-c", code], check=True,
                             capture_output=True, text=True, timeout=60).stdout
        return int(out)

    def sysctl(self, key, value):
        sh("ip", "netns", "exec", self.a, "sysctl", "-qw", "%s=%s" % (key, value))

    def close(self):
        for ns in (self.a, self.b):
            subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)


@pytest.fixture
def hosts(request):
    h = Hosts(100 + (abs(hash(request.node.name)) % 100))
    yield h
    h.close()


class Sensor:
    def __init__(self, tracer, hosts, tmp_path, targets, env=None, prefix=(), stdin_pcap=False):
        self.out, self.err = tmp_path / "out.ndjson", tmp_path / "err.log"
        cfg = tmp_path / "ping.json"
        cfg.write_text(json.dumps({"defaults": {"interval": 3, "count": COUNT, "timeout": 2,
                                                "probe_interval": 0.02},
                                   "targets": targets}))
        os.chmod(tmp_path, 0o755)
        os.chmod(cfg, 0o644)
        e = clean_env({"AGENT_INTERFACE": hosts.x, "AGENT_BPF_FILTER": "port 1", "AGENT_TOPOLOGY_INTERVAL": "0",
                       "AGENT_PING_CONFIG": str(cfg), "AGENT_SEND_INTERVAL": "0.1",
                       "AGENT_SENSOR_ID": "ping-test", **(env or {})})
        if stdin_pcap:
            # A capture file on standard input that never ends until the test closes it: the
            # sensor runs without any capture privilege (CAP_NET_RAW is only for live capture).
            e = {k: v for k, v in e.items() if k not in ("AGENT_INTERFACE", "AGENT_BPF_FILTER")}
            e["AGENT_PCAP_FILE"] = "-"
        self.proc = subprocess.Popen(["ip", "netns", "exec", hosts.a, *prefix, tracer], env=e,
                                     stdin=subprocess.PIPE if stdin_pcap else subprocess.DEVNULL,
                                     stdout=open(self.out, "wb"), stderr=open(self.err, "wb"))
        if stdin_pcap:   # pcap global header: magic, v2.4, tz 0, sigfigs 0, snaplen, Ethernet
            self.proc.stdin.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
            self.proc.stdin.flush()

    def stderr(self):
        return self.err.read_text(errors="replace")

    def events(self):
        text = self.out.read_text(errors="replace")
        text = text[:text.rfind("\n") + 1]           # a line still being written is not read
        return [r for r in parse_ndjson(text) if r.get("type") == "ping"]

    def wait_rounds(self, names, rounds=1, timeout=40):
        """The first `rounds` events of every target in `names`."""
        end = time.time() + timeout
        while time.time() < end:
            got = {n: [e for e in self.events() if e["target"] == n] for n in names}
            if all(len(v) >= rounds for v in got.values()):
                return {n: v[:rounds] for n, v in got.items()}
            if self.proc.poll() is not None:
                raise AssertionError("sensor exited %s:\n%s" % (self.proc.returncode, self.stderr()[-3000:]))
            time.sleep(0.1)
        raise AssertionError("not %d round(s) of %s within %d s; events %s\n%s"
                             % (rounds, names, timeout, self.events(), self.stderr()[-3000:]))

    def stop(self):
        if self.proc.stdin:
            self.proc.stdin.close()      # end of the capture file: the sensor finishes as on SIGTERM
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(30)
        assert_no_sanitizer(self.stderr())
        assert rc == 0, self.stderr()[-3000:]

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def sensor_event(self):
        ev = [r for r in parse_ndjson(self.out.read_text()) if r.get("type") == "sensor"]
        return ev[-1]


def check_reachable(ev, address, version, socket_kind):
    assert ev["address"] == address and ev["ip_version"] == version and ev["socket"] == socket_kind, ev
    assert (ev["sent"], ev["received"], ev["loss"], ev["send_errors"]) == (COUNT, COUNT, 0, 0), ev
    assert 0 < ev["rtt_min_ms"] <= ev["rtt_avg_ms"] <= ev["rtt_max_ms"] < 2000, ev
    assert ev["rtt_stddev_ms"] >= 0 and ev["jitter_ms"] >= 0, ev
    assert "error" not in ev


def check_half(ev, address):
    assert ev["address"] == address, ev
    assert (ev["sent"], ev["received"], ev["loss"], ev["send_errors"]) == (COUNT, COUNT // 2, 0.5, 0), ev
    assert 0 < ev["rtt_min_ms"] <= ev["rtt_avg_ms"] <= ev["rtt_max_ms"], ev


def test_reachable_blackhole_and_partial_loss_raw(tracer, hosts, tmp_path):
    targets = [{"name": "peer", "host": hosts.ip_b}, {"name": "peer6", "host": hosts.ip6_b},
               {"name": "lossy", "host": hosts.lossy}, {"name": "lossy6", "host": hosts.lossy6},
               {"name": "hole", "host": BLACKHOLE}]
    # the metrics server listens inside namespace a, where no other test can hold the port
    s = Sensor(tracer, hosts, tmp_path, targets, {"AGENT_METRICS_ADDR": "127.0.0.1:9108"})
    try:
        got = s.wait_rounds([t["name"] for t in targets], rounds=2)
        # a raw socket sees every echo reply on the host: these 5 must be told apart, not counted
        assert hosts.echo_from_a(hosts.ip_b, 5) == 5
        code = "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:9108/metrics').read().decode())"
        metrics = subprocess.run(["ip", "netns", "exec", hosts.a, "/usr/bin/python3", "-c", code], check=True,
                                 capture_output=True, text=True, timeout=30).stdout
    finally:
        s.kill() if s.proc.poll() is not None else s.stop()
    for ev in got["peer"]:
        check_reachable(ev, hosts.ip_b, 4, "raw")
        assert ev["host"] == hosts.ip_b and ev["hostname"] and ev["sensor_id"] == "ping-test"
        assert ev["interval"] == 3 and ev["timeout_ms"] == 2000 and ev["size"] == 56
    for ev in got["peer6"]:
        check_reachable(ev, hosts.ip6_b, 6, "raw")
    for ev in got["lossy"]:
        check_half(ev, hosts.lossy)
    for ev in got["lossy6"]:
        check_half(ev, hosts.lossy6)
    for ev in got["hole"]:
        assert (ev["sent"], ev["received"], ev["loss"], ev["send_errors"]) == (COUNT, 0, 1, COUNT), ev
        assert ev["rtt_min_ms"] is None and ev["rtt_avg_ms"] is None and ev["jitter_ms"] is None, ev
        assert ev["error"] == "Invalid argument", ev          # the kernel's answer for a blackhole route
    hooks = s.sensor_event()["hooks"]["ping"]
    assert hooks["ping_targets"] == 5
    assert hooks["ping_send_errors"] >= 2 * COUNT       # the stop may cut a blackhole round short
    assert hooks["ping_rounds"] >= 10 and hooks["ping_events_dropped"] == 0
    assert hooks["ping_bad_replies"] == 0 and hooks["ping_foreign_replies"] == 5
    # every probe sent is answered or timed out (the last round may be cut by the stop)
    assert hooks["ping_replies"] + hooks["ping_timeouts"] <= hooks["ping_probes_sent"]
    assert "ping: 5 targets, IPv4 raw socket, IPv6 raw socket" in s.stderr()
    m = dict(re.findall(r'^tracer_ping_probes_total\{result="(\w+)"\} (\d+)$', metrics, re.M))
    assert set(m) == {"replied", "timed_out", "send_error"}, metrics
    # two rounds of the blackhole target at least, each all send errors (a third may be under
    # way: the counters are live); replies from 4 targets
    assert int(m["send_error"]) >= 2 * COUNT, m
    assert int(m["replied"]) >= 2 * (COUNT + COUNT + COUNT // 2 + COUNT // 2), m


def test_unprivileged_datagram_sockets(tracer, hosts, tmp_path):
    """As nobody, ICMP datagram sockets: the namespace's ping_group_range lets gid 65534 in."""
    hosts.sysctl("net.ipv4.ping_group_range", "65534 65534")
    targets = [{"name": "peer", "host": hosts.ip_b}, {"name": "peer6", "host": hosts.ip6_b},
               {"name": "lossy", "host": hosts.lossy}]
    s = Sensor(tracer, hosts, tmp_path, targets, {"AGENT_USER": "nobody", "AGENT_PING_SOCKET": "datagram"})
    try:
        got = s.wait_rounds(["peer", "peer6", "lossy"])
    finally:
        s.kill() if s.proc.poll() is not None else s.stop()
    check_reachable(got["peer"][0], hosts.ip_b, 4, "datagram")
    check_reachable(got["peer6"][0], hosts.ip6_b, 6, "datagram")
    check_half(got["lossy"][0], hosts.lossy)
    assert "ping: 3 targets, IPv4 datagram socket, IPv6 datagram socket" in s.stderr()
    assert "msg=privileges user=nobody uid=65534 gid=65534" in s.stderr()


def test_datagram_refused_outside_ping_group_range(tracer, hosts, tmp_path):
    """The kernel's default range ("1 0") admits nobody: every probe is a send error, named."""
    hosts.sysctl("net.ipv4.ping_group_range", "1 0")
    s = Sensor(tracer, hosts, tmp_path, [{"name": "peer", "host": hosts.ip_b, "count": 2}],
               {"AGENT_USER": "nobody", "AGENT_PING_SOCKET": "datagram"})
    try:
        ev = s.wait_rounds(["peer"])["peer"][0]
    finally:
        s.kill() if s.proc.poll() is not None else s.stop()
    assert (ev["socket"], ev["sent"], ev["received"], ev["loss"], ev["send_errors"]) == ("none", 2, 0, 1, 2), ev
    assert ev["error"] == ("no IPv4 ICMP socket: the datagram socket is refused: the sensor's group (gid 65534) "
                           "is outside net.ipv4.ping_group_range"), ev
    assert "ping: no IPv4 ICMP socket" in s.stderr()


def test_auto_without_cap_net_raw_uses_datagram_sockets(tracer, hosts, tmp_path):
    """AGENT_PING_SOCKET=auto (the default) in a sensor that lacks CAP_NET_RAW altogether (root
    with the capability removed from the bounding set, replaying a capture file): the raw socket
    is refused, the datagram one works because ping_group_range admits gid 0."""
    if not shutil.which("setpriv"):
        pytest.skip("setpriv (util-linux) missing")
    hosts.sysctl("net.ipv4.ping_group_range", "0 0")
    targets = [{"name": "peer", "host": hosts.ip_b}, {"name": "peer6", "host": hosts.ip6_b}]
    s = Sensor(tracer, hosts, tmp_path, targets, prefix=("setpriv", "--bounding-set=-net_raw"), stdin_pcap=True)
    try:
        got = s.wait_rounds(["peer", "peer6"])
    finally:
        s.kill() if s.proc.poll() is not None else s.stop()
    check_reachable(got["peer"][0], hosts.ip_b, 4, "datagram")
    check_reachable(got["peer6"][0], hosts.ip6_b, 6, "datagram")
    assert "cap_net_raw=false" in s.stderr()
    assert "ping: 2 targets, IPv4 datagram socket, IPv6 datagram socket" in s.stderr()


def test_invalid_file_is_a_configuration_error(tracer, tmp_path):
    cfg = tmp_path / "ping.json"
    cfg.write_text('{"targets": [{"name": "gw", "host": "192.0.2.1", "count": 0, "intervall": 5}]}')
    p = subprocess.run([tracer], env=clean_env({"AGENT_INTERFACE": "lo", "AGENT_PING_CONFIG": str(cfg)}),
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    assert p.returncode == 2, p.stderr.decode()[-2000:]
    lines = p.stderr.decode().splitlines()
    assert 'AGENT_PING_CONFIG=%s: targets[0] ("gw"): intervall: unknown field' % cfg in lines
    assert 'AGENT_PING_CONFIG=%s: targets[0] ("gw"): count: 0 must be an integer in [1, 100]' % cfg in lines
