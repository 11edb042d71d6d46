"""Where a packet came in (issue 14 items 7 and 8), live, on veth pairs.

Three network namespaces this test makes: the sensor's (N) holds two veth
ends, N1 (198.18.1.1/24) towards namespace B1 (198.18.1.2) and N2
(198.18.2.1/24) towards B2 (198.18.2.2), and forwards between them. Traffic:
  - N -> B1 UDP: 2 datagrams (TTL 33, DSCP 46), one reply (TTL 20, DSCP 10);
  - N -> B2 UDP: 3 datagrams (TTL 33, DSCP 46), no reply;
  - B1 -> B2 UDP through N: 3 datagrams (TTL 64), seen in on N1 (TTL 64) and
    out on N2 (TTL 63): one flow, both copies counted, its "interface" the
    first copy's and "other_interface" the other's.
The sensor captures on "N1,N2" (two captures into one flow table) or on
"any" (cooked v2 headers name the interface), and every UDP flow must carry
exactly the interface names, MACs, DSCP and TTL ranges above. Everything is
removed in a finalizer, even on failure; traffic stays between these hosts.
"""

import json
import os
import shutil
import signal
import subprocess
import time

import pytest

from conftest import assert_no_sanitizer, check_shape, clean_env, parse_ndjson, wait_for_text

PY = "/usr/bin/python3"
N1, B1, N2, B2 = "198.18.1.1", "198.18.1.2", "198.18.2.1", "198.18.2.2"
_seq = 0


def _ip(*args, check=True):
    return subprocess.run(["ip", *args], capture_output=True, check=check, timeout=30)


def _mac(ns, dev):
    info = json.loads(_ip("-n", ns, "-j", "link", "show", "dev", dev).stdout)
    return info[0]["address"]


@pytest.fixture
def router(request):
    if os.geteuid() != 0 or not shutil.which("ip"):
        pytest.skip("needs root and the ip command")
    global _seq
    _seq += 1
    tag = "%d%d" % (os.getpid() % 100000, _seq)          # interface names: at most 15 bytes
    ns = {"n": "tif%sN" % tag, "b1": "tif%sB1" % tag, "b2": "tif%sB2" % tag}
    dev = {"n1": "tif%sn1" % tag, "b1": "tif%sb1" % tag, "n2": "tif%sn2" % tag, "b2": "tif%sb2" % tag}

    def cleanup():
        for name in ns.values():
            _ip("netns", "del", name, check=False)
    request.addfinalizer(cleanup)
    try:
        for name in ns.values():
            _ip("netns", "add", name)
            _ip("-n", name, "link", "set", "lo", "up")
        for side, nd, bd, na, ba in (("b1", "n1", "b1", N1, B1), ("b2", "n2", "b2", N2, B2)):
            _ip("link", "add", dev[nd], "netns", ns["n"], "type", "veth", "peer", "name", dev[bd],
                "netns", ns[side])
            _ip("-n", ns["n"], "addr", "add", na + "/24", "dev", dev[nd])
            _ip("-n", ns[side], "addr", "add", ba + "/24", "dev", dev[bd])
            _ip("-n", ns["n"], "link", "set", dev[nd], "up")
            _ip("-n", ns[side], "link", "set", dev[bd], "up")
            _ip("-n", ns[side], "route", "add", "default", "via", na)
        subprocess.run(["ip", "netns", "exec", ns["n"], "sysctl", "-qw", "net.ipv4.ip_forward=1"],
                       check=True, capture_output=True, timeout=30)
    except subprocess.CalledProcessError as e:
        pytest.skip("cannot set up network namespaces: %s" % e.stderr.decode(errors="replace"))
    mac = {d: _mac(ns["n" if d.startswith("n") else d], dev[d]) for d in dev}
    return ns, dev, mac


# Listens in B1 (replies once) and B2 (does not); prints its port, then "done".
SERVER = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 0))
print(s.getsockname()[1], flush=True)
s.settimeout(30)
want, reply = int(sys.argv[2]), sys.argv[3] == "reply"
for i in range(want):
    data, peer = s.recvfrom(2048)
    if reply and i == 0:
        s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 20)
        s.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, 10 << 2)
        s.sendto(b"reply", peer)
print("done", flush=True)
"""

# Sends n datagrams to host:port with the given TTL and DSCP; prints its own port.
CLIENT = r"""
import socket, sys, time
host, port, n, ttl, dscp = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
s.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, dscp << 2)
s.bind(("0.0.0.0", 0))
for i in range(n):
    s.sendto(b"datagram-%d" % i, (host, port))
    time.sleep(0.05)
print(s.getsockname()[1], flush=True)
"""


def _in(ns, *argv, **kw):
    return ["ip", "netns", "exec", ns, *argv]


def _server(ns, addr, want, reply):
    p = subprocess.Popen(_in(ns, PY, "-c", SERVER, addr, str(want), "reply" if reply else "quiet"),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return p, int(p.stdout.readline())


def _client(ns, host, port, n, ttl, dscp):
    r = subprocess.run(_in(ns, PY, "-c", CLIENT, host, str(port), str(n), str(ttl), str(dscp)),
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr.decode()
    return int(r.stdout)


def _run(tracer, router, tmp_path, interface, env=None, sensor_events=None):
    """Start the sensor in N on `interface`, make the traffic, stop it; the UDP flows by key
    (`env`: more settings; `sensor_events`: a list that gets the sensor events)."""
    ns, dev, mac = router
    out_path, err_path = tmp_path / "sensor.out", tmp_path / "sensor.err"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        sensor = subprocess.Popen(_in(ns["n"], tracer),
                                  env=clean_env({"AGENT_INTERFACE": interface, "LOG_LEVEL": "info", **(env or {})}),
                                  stdin=subprocess.DEVNULL, stdout=out, stderr=err)
    procs = [sensor]
    try:
        assert wait_for_text(err_path, "capturing on " + interface, sensor, 30), \
            "sensor did not start capturing:\n" + err_path.read_text()
        time.sleep(0.5)
        s1, p1 = _server(ns["b1"], B1, 2, True)          # from N (2), replies once
        s2, p2 = _server(ns["b2"], B2, 3 + 3, False)     # from N (3) and from B1 (3)
        procs += [s1, s2]
        ports = {"n_b1": _client(ns["n"], B1, p1, 2, 33, 46),
                 "n_b2": _client(ns["n"], B2, p2, 3, 33, 46),
                 "b1_b2": _client(ns["b1"], B2, p2, 3, 64, 0)}
        for s in (s1, s2):                               # every datagram arrived
            assert s.stdout.readline().strip() == b"done", s.stderr.read()
        time.sleep(1.5)                                  # let the captures drain the kernel
        sensor.send_signal(signal.SIGTERM)
        rc = sensor.wait(timeout=60)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    stderr = err_path.read_text(errors="replace")
    assert_no_sanitizer(stderr)
    assert rc == 0, "exit status %d:\n%s" % (rc, stderr[-3000:])
    events = parse_ndjson(out_path.read_text())
    if sensor_events is not None:
        sensor_events.extend(r for r in events if r.get("type") == "sensor")
    recs = [r for r in events if r.get("type") == "flow"]
    for r in recs:
        check_shape(r)
    udp = {}
    for r in recs:
        if r["protocol"] != "UDP":
            continue
        key = (r["src_ip"], int(r["src_port"]), r["dst_ip"], int(r["dst_port"]))
        assert key not in udp, "two records for %s" % (key,)
        udp[key] = r
    want = {(N1, ports["n_b1"], B1, p1): "n_b1", (N2, ports["n_b2"], B2, p2): "n_b2",
            (B1, ports["b1_b2"], B2, p2): "b1_b2"}
    dump = "\n".join(json.dumps(r, sort_keys=True) for r in recs)
    assert set(want) <= set(udp), "missing UDP flows:\n" + dump
    return {name: udp[key] for key, name in want.items()}, dev, mac


SIDE = ("interface", "other_interface", "src_mac", "dst_mac", "src_dscp", "src_ttl_min", "src_ttl_max",
        "dst_dscp", "dst_ttl_min", "dst_ttl_max", "src_packets", "dst_packets")


def _side(r):
    return {k: r[k] for k in SIDE if k in r}


def _forwarded(r, dev, mac, cooked):
    """B1 -> B2 through N: whichever copy the sensor took first names the flow."""
    first = r["interface"]
    assert first in (dev["n1"], dev["n2"]), r
    other = dev["n2"] if first == dev["n1"] else dev["n1"]
    want = {"interface": first, "other_interface": other, "src_dscp": 0, "src_ttl_min": 63,
            "src_ttl_max": 64, "src_packets": 6, "dst_packets": 0}
    if first == dev["n1"]:       # the copy coming in from B1
        want["src_mac"] = mac["b1"]
        if not cooked:
            want["dst_mac"] = mac["n1"]
    else:                        # the copy going out to B2
        want["src_mac"] = mac["n2"]
        if not cooked:
            want["dst_mac"] = mac["b2"]
    assert _side(r) == want


def test_two_interfaces(tracer, router, tmp_path):
    ns, dev, mac = router
    flows, dev, mac = _run(tracer, router, tmp_path, "%s,%s" % (dev["n1"], dev["n2"]))
    assert _side(flows["n_b1"]) == {
        "interface": dev["n1"], "src_mac": mac["n1"], "dst_mac": mac["b1"],
        "src_dscp": 46, "src_ttl_min": 33, "src_ttl_max": 33,
        "dst_dscp": 10, "dst_ttl_min": 20, "dst_ttl_max": 20, "src_packets": 2, "dst_packets": 1}
    assert _side(flows["n_b2"]) == {
        "interface": dev["n2"], "src_mac": mac["n2"], "dst_mac": mac["b2"],
        "src_dscp": 46, "src_ttl_min": 33, "src_ttl_max": 33, "src_packets": 3, "dst_packets": 0}
    _forwarded(flows["b1_b2"], dev, mac, cooked=False)


def test_two_interfaces_dpi(tracer, router, tmp_path):
    """dpi (issue 15) with an interface list: each capture port has its own payload ring,
    so the packets of both interfaces reach inspection (none missing, none orphaned)."""
    ns, dev, mac = router
    sensor = []
    flows, dev, mac = _run(tracer, router, tmp_path, "%s,%s" % (dev["n1"], dev["n2"]),
                           env={"AGENT_DPI": "on"}, sensor_events=sensor)
    for name in ("n_b1", "n_b2", "b1_b2"):
        assert "app" in flows[name], flows[name]
    final = [e for e in sensor if e.get("final")]
    assert len(final) == 1, sensor
    d = final[0]["dpi"]
    # UDP datagrams captured: n_b1 2 + 1 reply (on n1), n_b2 3 (on n2), b1_b2 3 on each
    assert d["payload_copied"] + d["payload_done_skips"] == 12, d
    assert d["payload_missing"] == 0 and d["payload_orphans"] == 0 and d["payload_ring_full"] == 0, d


def test_any_names_interfaces(tracer, router, tmp_path):
    flows, dev, mac = _run(tracer, router, tmp_path, "any")
    # cooked headers carry only the sender's MAC: the responder's comes from its reply
    assert _side(flows["n_b1"]) == {
        "interface": dev["n1"], "src_mac": mac["n1"], "dst_mac": mac["b1"],
        "src_dscp": 46, "src_ttl_min": 33, "src_ttl_max": 33,
        "dst_dscp": 10, "dst_ttl_min": 20, "dst_ttl_max": 20, "src_packets": 2, "dst_packets": 1}
    assert _side(flows["n_b2"]) == {
        "interface": dev["n2"], "src_mac": mac["n2"],
        "src_dscp": 46, "src_ttl_min": 33, "src_ttl_max": 33, "src_packets": 3, "dst_packets": 0}
    _forwarded(flows["b1_b2"], dev, mac, cooked=True)


@pytest.mark.parametrize("value,rule", [
    ("lo,,lo", "an empty interface name in the list (names are separated by single commas)"),
    ("lo,lo", "lo is listed twice"),
    ("any,lo", "\"any\" captures every interface already: it cannot be listed with others"),
    (",".join(["lo"] + ["x%d" % i for i in range(16)]), "more than 16 interfaces in the list"),
], ids=["empty", "duplicate", "any-mixed", "too-many"])
def test_bad_interface_list_exits_2(tracer, value, rule):
    r = subprocess.run([tracer], env=clean_env({"AGENT_INTERFACE": value}), stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2, r.stderr
    assert r.stderr.splitlines()[0] == "AGENT_INTERFACE=%s: %s" % (value, rule), r.stderr
    assert r.stdout == ""
