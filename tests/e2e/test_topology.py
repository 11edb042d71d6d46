"""The topology hook end to end (issue 5).

Live: two network namespaces of our own (unique names, deleted in finalizers
even on failure). Namespace A holds the sensor: a veth to namespace B with
IPv4+IPv6 addresses, a second veth pair whose end is enslaved to a bridge, a
static IPv4 and IPv6 route, a permanent neighbour entry, a wireguard-go
interface with two peers (one of them real, in B, so there is a handshake),
and a tun device whose UAPI "socket" is a plain file (an unreadable WireGuard
socket, reported in `errors`). The sensor runs inside A, live on the veth, with
AGENT_TOPOLOGY_INTERVAL=2; its NDJSON is read as it comes. Every snapshot
field is checked against what the test configured and against `ip -j`/`wg`.
Link down, address removal and peer removal each produce their change within 2 s.

Wire: LLDP/CDP frames in ../shared/pcaps/tcpdump-tests compared field by field
with `tcpdump -v`; crafted frames (whole and cut by the snap length) replayed
from a pcap file and sent live from B.
"""

import json
import os
import pathlib
import queue
import random
import re
import signal
import socket
import struct
import subprocess
import threading
import time

import pytest

from conftest import assert_no_sanitizer, clean_env, tracer_path  # noqa: F401

SHARED = pathlib.Path(__file__).resolve().parents[3] / "shared" / "pcaps" / "tcpdump-tests"
if not SHARED.is_dir():
    SHARED = pathlib.Path("/work/shared/pcaps/tcpdump-tests")
WG_DIR = "/var/run/wireguard"


def sh(*cmd, ns=None, check=True, input=None):
    full = (["ip", "netns", "exec", ns] if ns else []) + list(cmd)
    p = subprocess.run(full, capture_output=True, text=True, input=input, timeout=20)
    if check and p.returncode != 0:
        raise AssertionError("%s failed (%d): %s" % (" ".join(full), p.returncode, p.stderr))
    return p.stdout


def udp_send(ns, dst, port=9):
    """One UDP datagram from inside `ns` (there is no ping binary here)."""
    code = "import socket;socket.socket(socket.AF_INET,socket.SOCK_DGRAM).sendto(b't5',(%r,%d))" % (dst, port)
    sh("/usr/bin/python3", "-c", code, ns=ns)


def ipj(ns, *args):
    return json.loads(sh("ip", "-n", ns, "-j", *args))


# ----------------------------------------------------------------------------
# The namespaces

class Lab:
    pass


@pytest.fixture(scope="module")
def lab(request):
    if os.geteuid() != 0:
        pytest.skip("needs root (network namespaces)")
    tag = "%04x" % random.randrange(0x10000)
    L = Lab()
    L.a, L.b = "t5a-%s-%d" % (tag, os.getpid()), "t5b-%s-%d" % (tag, os.getpid())
    L.x = random.randrange(10, 250)           # 198.18.X.0/24 inside the namespaces
    L.veth, L.peer = "vt5" + tag, "vp5" + tag
    L.v2a, L.v2b, L.br = "va5" + tag, "vb5" + tag, "br5" + tag
    L.wga, L.wgb, L.fake = "wga5" + tag, "wgb5" + tag, "wgf5" + tag
    L.procs = []

    def cleanup():
        for p in L.procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=5)
        for ns in (L.a, L.b):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        for name in (L.wga, L.wgb, L.fake):
            try:
                os.unlink(os.path.join(WG_DIR, name + ".sock"))
            except OSError:
                pass
    request.addfinalizer(cleanup)

    x = L.x
    for ns in (L.a, L.b):
        sh("ip", "netns", "add", ns)
        sh("ip", "-n", ns, "link", "set", "lo", "up")
    sh("ip", "link", "add", L.veth, "netns", L.a, "type", "veth", "peer", "name", L.peer, "netns", L.b)
    L.ip4, L.ip4b = "198.18.%d.1" % x, "198.18.%d.2" % x
    L.ip6, L.ip6b = "2001:db8:%x::1" % x, "2001:db8:%x::2" % x
    sh("ip", "-n", L.a, "addr", "add", L.ip4 + "/24", "dev", L.veth)
    sh("ip", "-n", L.a, "addr", "add", L.ip6 + "/64", "dev", L.veth, "nodad")
    sh("ip", "-n", L.b, "addr", "add", L.ip4b + "/24", "dev", L.peer)
    sh("ip", "-n", L.b, "addr", "add", L.ip6b + "/64", "dev", L.peer, "nodad")
    sh("ip", "-n", L.a, "link", "set", L.veth, "up")
    sh("ip", "-n", L.b, "link", "set", L.peer, "up")
    # bridge with one end of a second veth pair
    sh("ip", "-n", L.a, "link", "add", L.br, "type", "bridge")
    sh("ip", "-n", L.a, "link", "add", L.v2a, "type", "veth", "peer", "name", L.v2b)
    sh("ip", "-n", L.a, "link", "set", L.v2b, "master", L.br)
    for d in (L.br, L.v2a, L.v2b):
        sh("ip", "-n", L.a, "link", "set", d, "up")
    # static routes, permanent neighbour
    L.route4 = "198.19.%d.0/24" % x
    L.route6 = "2001:db8:%x::/64" % (x + 1)
    sh("ip", "-n", L.a, "route", "add", L.route4, "via", L.ip4b, "metric", "77")
    sh("ip", "-n", L.a, "-6", "route", "add", L.route6, "via", L.ip6b, "metric", "99")
    L.nip, L.nmac = "198.18.%d.9" % x, "02:00:5e:00:53:09"
    sh("ip", "-n", L.a, "neigh", "add", L.nip, "lladdr", L.nmac, "dev", L.veth, "nud", "permanent")
    # WireGuard: wireguard-go in A and B; A has B as a peer plus a second, unreachable one
    keys = {}
    for k in ("a", "b", "c"):
        keys[k] = sh("wg", "genkey").strip()
        keys[k + "_pub"] = sh("wg", "pubkey", input=keys[k] + "\n").strip()
    L.keys = keys
    for ns, dev in ((L.a, L.wga), (L.b, L.wgb)):
        env = dict(os.environ, WG_PROCESS_FOREGROUND="1", LOG_LEVEL="error")
        L.procs.append(subprocess.Popen(["ip", "netns", "exec", ns, "wireguard-go", dev], env=env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    for _ in range(100):
        if all(os.path.exists(os.path.join(WG_DIR, d + ".sock")) for d in (L.wga, L.wgb)):
            break
        time.sleep(0.05)
    keydir = pathlib.Path(request.config.rootpath if hasattr(request.config, "rootpath") else ".")
    kf = {}
    for k in ("a", "b"):
        path = "/tmp/t5key-%s-%s-%d" % (tag, k, os.getpid())
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, (keys[k] + "\n").encode())
        os.close(fd)
        kf[k] = path
    del keydir
    L.wg_ip_a, L.wg_ip_b = "198.19.250.1", "198.19.250.2"
    L.c_allowed, L.c_endpoint = "198.19.251.0/24", "198.18.%d.77:51999" % x
    try:
        sh("wg", "set", L.wga, "listen-port", "51820", "private-key", kf["a"],
           "peer", keys["b_pub"], "endpoint", "%s:51821" % L.ip4b, "allowed-ips", L.wg_ip_b + "/32",
           "peer", keys["c_pub"], "endpoint", L.c_endpoint, "allowed-ips", L.c_allowed,
           "persistent-keepalive", "25", ns=L.a)
        sh("wg", "set", L.wgb, "listen-port", "51821", "private-key", kf["b"],
           "peer", keys["a_pub"], "endpoint", "%s:51820" % L.ip4, "allowed-ips", L.wg_ip_a + "/32", ns=L.b)
    finally:
        for path in kf.values():
            os.unlink(path)
    sh("ip", "-n", L.a, "addr", "add", L.wg_ip_a + "/24", "dev", L.wga)
    sh("ip", "-n", L.b, "addr", "add", L.wg_ip_b + "/24", "dev", L.wgb)
    sh("ip", "-n", L.a, "link", "set", L.wga, "up")
    sh("ip", "-n", L.b, "link", "set", L.wgb, "up")
    for _ in range(30):                         # a datagram into the tunnel makes the handshake
        udp_send(L.a, L.wg_ip_b)
        hs = sh("wg", "show", L.wga, "latest-handshakes", ns=L.a)
        if any(int(line.split()[1]) > 0 for line in hs.strip().splitlines()):
            break
        time.sleep(0.2)
    else:
        raise AssertionError("no WireGuard handshake between A and B")
    # a "WireGuard" device whose UAPI socket cannot be read
    sh("ip", "-n", L.a, "tuntap", "add", L.fake, "mode", "tun")
    os.makedirs(WG_DIR, exist_ok=True)
    with open(os.path.join(WG_DIR, L.fake + ".sock"), "w") as f:
        f.write("not a socket\n")
    return L


class Sensor:
    """The sensor inside namespace A; lines are parsed as they arrive."""

    def __init__(self, tracer, ns, env):
        self.q = queue.Queue()
        self.events = []
        self.proc = subprocess.Popen(["ip", "netns", "exec", ns, tracer], env=clean_env(env),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.err = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=lambda: self.err.extend(self.proc.stderr), daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            if line.strip():
                self.q.put(json.loads(line))

    def wait_for(self, pred, timeout):
        end = time.monotonic() + timeout
        for e in self.events:
            if pred(e):
                return e
        while time.monotonic() < end:
            try:
                e = self.q.get(timeout=max(0.01, end - time.monotonic()))
            except queue.Empty:
                break
            self.events.append(e)
            if pred(e):
                return e
        return None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=20)
        time.sleep(0.2)
        while not self.q.empty():
            self.events.append(self.q.get())
        stderr = b"".join(self.err).decode("utf-8", "replace")
        assert_no_sanitizer(stderr)
        assert self.proc.returncode == 0, stderr[-3000:]
        return stderr


@pytest.fixture(scope="module")
def live(lab, request):
    s = Sensor(tracer_path(), lab.a, {"AGENT_INTERFACE": lab.veth, "AGENT_TOPOLOGY_INTERVAL": "2",
                                      "AGENT_UDP_IDLE_TIMEOUT": "1", "LOG_LEVEL": "info",
                                      "AGENT_SNAP_LEN": "256"})
    request.addfinalizer(lambda: s.proc.poll() is None and s.proc.kill())
    snap = s.wait_for(lambda e: e.get("type") == "topology", 10)
    assert snap is not None, "no topology snapshot within 10 s"
    s.first = snap
    return s


def changes(s, change):
    return [e for e in s.events if e.get("type") == "topology_change" and e.get("change") == change]


# ----------------------------------------------------------------------------
# Snapshot

def test_snapshot_interfaces(lab, live):
    snap = live.first
    assert snap["schema_version"] == 2 and snap["event_id"] and snap["hostname"]
    got = {i["name"]: i for i in snap["interfaces"]}
    want = {l["ifname"]: l for l in ipj(lab.a, "-s", "-d", "link", "show")}
    assert set(got) == set(want)
    kinds = {"lo": "loopback", lab.veth: "veth", lab.v2a: "veth", lab.v2b: "veth", lab.br: "bridge",
             lab.wga: "wireguard", lab.fake: "wireguard"}   # a UAPI socket path makes it one
    for name, w in want.items():
        g = got[name]
        assert g["index"] == w["ifindex"], name
        assert g["kind"] == kinds[name], (name, g["kind"])
        assert g["mtu"] == w["mtu"], name
        assert g["mac"] == (w.get("address") if w.get("link_type") != "none" else None), name
        assert g["admin_state"] == ("up" if "UP" in w["flags"] else "down"), name
        assert g["oper_state"] == w["operstate"].lower(), name
        assert g["master"] == w.get("master"), name
        for k in ("rx_bytes", "rx_packets", "rx_errors", "rx_dropped",
                  "tx_bytes", "tx_packets", "tx_errors", "tx_dropped"):
            assert isinstance(g[k], int) and g[k] >= 0, (name, k)
        # counters only grow: the snapshot is no later than `ip -s` now
        assert g["rx_packets"] <= w["stats64"]["rx"]["packets"], name
        assert g["tx_bytes"] <= w["stats64"]["tx"]["bytes"], name
    assert got[lab.v2b]["master"] == lab.br
    assert got[lab.v2a]["parent"] == lab.v2b and got[lab.v2b]["parent"] == lab.v2a
    # the veth's peer lives in namespace B: no name, its index instead
    assert got[lab.veth]["parent"] is None and "parent_index_other_netns" in got[lab.veth]
    assert got["lo"]["oper_state"] == "unknown" and got["lo"]["admin_state"] == "up"
    assert got[lab.wga]["mtu"] == 1420 and got[lab.wga]["mac"] is None


def test_snapshot_addresses_routes_neighbors(lab, live):
    snap = live.first
    got = {(a["interface"], a["family"], a["address"], a["prefix_len"], a["scope"]) for a in snap["addresses"]}
    want = set()
    for l in ipj(lab.a, "addr", "show"):
        for a in l.get("addr_info", []):
            want.add((l["ifname"], "ipv4" if a["family"] == "inet" else "ipv6", a["local"], a["prefixlen"],
                      {"global": "global", "host": "host", "link": "link"}[a["scope"]]))
    assert got == want
    for item in ((lab.veth, "ipv4", lab.ip4, 24, "global"), (lab.veth, "ipv6", lab.ip6, 64, "global"),
                 (lab.wga, "ipv4", lab.wg_ip_a, 24, "global"), ("lo", "ipv4", "127.0.0.1", 8, "host")):
        assert item in got

    routes = snap["routes"]
    r4 = [r for r in routes if r["destination"] == lab.route4]
    assert r4 == [{"family": "ipv4", "table": "main", "destination": lab.route4, "gateway": lab.ip4b,
                   "interface": lab.veth, "metric": 77, "protocol": "boot", "scope": "global",
                   "route_type": "unicast"}]
    r6 = [r for r in routes if r["destination"] == lab.route6]
    assert r6 == [{"family": "ipv6", "table": "main", "destination": lab.route6, "gateway": lab.ip6b,
                   "interface": lab.veth, "metric": 99, "protocol": "boot", "scope": "global",
                   "route_type": "unicast"}]
    conn = [r for r in routes if r["destination"] == "198.18.%d.0/24" % lab.x]
    assert conn and conn[0]["protocol"] == "kernel" and conn[0]["scope"] == "link" and conn[0]["gateway"] is None
    # the same main-table routes `ip route` lists
    want4 = {r["dst"] for r in ipj(lab.a, "-4", "route", "show", "table", "main")}
    got4 = {r["destination"] if r["destination"] == "default" else r["destination"].replace("/32", "")
            for r in routes if r["family"] == "ipv4" and r["table"] == "main"}
    assert got4 == want4

    nb = [n for n in snap["neighbors"] if n["ip"] == lab.nip]
    assert nb == [{"ip": lab.nip, "family": "ipv4", "mac": lab.nmac, "interface": lab.veth,
                   "state": "permanent"}]


def wg_dump(ns, dev):
    lines = sh("wg", "show", dev, "dump", ns=ns).strip().splitlines()
    iface = lines[0].split("\t")
    peers = {}
    for ln in lines[1:]:
        f = ln.split("\t")
        peers[f[0]] = {"endpoint": None if f[2] == "(none)" else f[2],
                       "allowed": sorted(f[3].split(",")) if f[3] != "(none)" else [],
                       "handshake": int(f[4]), "rx": int(f[5]), "tx": int(f[6]),
                       "keepalive": 0 if f[7] == "off" else int(f[7])}
    return {"public": iface[1], "port": int(iface[2])}, peers


def test_snapshot_wireguard(lab, live):
    snap = live.first
    wg = {w["interface"]: w for w in snap["wireguard"]}
    assert set(wg) == {lab.wga}
    w = wg[lab.wga]
    iface, peers = wg_dump(lab.a, lab.wga)
    assert w["implementation"] == "userspace"
    assert w["public_key"] == lab.keys["a_pub"] == iface["public"]
    assert w["listen_port"] == 51820 == iface["port"]
    got = {p["public_key"]: p for p in w["peers"]}
    assert set(got) == {lab.keys["b_pub"], lab.keys["c_pub"]} == set(peers)
    b, c = got[lab.keys["b_pub"]], got[lab.keys["c_pub"]]
    assert b["endpoint"] == "%s:51821" % lab.ip4b and b["allowed_ips"] == [lab.wg_ip_b + "/32"]
    assert b["latest_handshake_unix"] == peers[lab.keys["b_pub"]]["handshake"] > 0
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", b["latest_handshake"])
    assert 0 < b["rx_bytes"] <= peers[lab.keys["b_pub"]]["rx"]
    assert 0 < b["tx_bytes"] <= peers[lab.keys["b_pub"]]["tx"]
    assert b["persistent_keepalive"] == 0
    assert c["endpoint"] == lab.c_endpoint and c["allowed_ips"] == [lab.c_allowed]
    assert c["latest_handshake"] is None and c["latest_handshake_unix"] is None
    assert c["persistent_keepalive"] == 25 == peers[lab.keys["c_pub"]]["keepalive"]
    # the unreadable "socket" is an error in the event, not a failure
    assert any(lab.fake in e and "cannot connect" in e for e in snap["errors"]), snap["errors"]
    # no private key, anywhere in the output
    text = json.dumps(live.events)
    for k in ("a", "b", "c"):
        assert lab.keys[k] not in text


def test_snapshots_repeat(live):
    first = live.first
    nxt = live.wait_for(lambda e: e.get("type") == "topology" and e is not first, 4)
    assert nxt is not None, "no second snapshot within interval + 2 s"


# ----------------------------------------------------------------------------
# Changes

def _within(live, change, pred, t0, limit=2.0):
    e = live.wait_for(lambda e: e.get("type") == "topology_change" and e.get("change") == change and pred(e),
                      limit + 1.0)
    assert e is not None, "no %s event" % change
    assert time.monotonic() - t0 <= limit + 0.5, "%s came after %.2f s" % (change, time.monotonic() - t0)
    return e


def test_new_address_counts_for_direction(lab, live):
    """An address added while the sensor runs makes new flows `inbound` at once
    (the periodic getifaddrs refresh is 10 s; this runs well inside it)."""
    new = "198.18.%d.50" % lab.x
    t0 = time.monotonic()
    sh("ip", "-n", lab.a, "addr", "add", new + "/32", "dev", lab.veth)
    e = _within(live, "address_added", lambda e: e["address"] == new, t0)
    assert e["interface"] == lab.veth and e["prefix_len"] == 32 and e["family"] == "ipv4"
    udp_send(lab.b, new, 9999)
    flow = live.wait_for(lambda e: e.get("type") == "flow" and e.get("dst_ip") == new, 6)
    assert flow is not None, "no flow to the new address"
    assert flow["direction"] == "inbound", flow


def test_link_down_change(lab, live):
    t0 = time.monotonic()
    sh("ip", "-n", lab.a, "link", "set", lab.v2a, "down")
    e = _within(live, "link_down", lambda e: e["interface"] == lab.v2a, t0)
    assert e["admin_state"] == "down" and e["kind"] == "veth" and e["name"] == lab.v2a
    # its peer loses carrier too
    _within(live, "link_down", lambda e: e["interface"] == lab.v2b, t0)
    t0 = time.monotonic()
    sh("ip", "-n", lab.a, "link", "set", lab.v2a, "up")
    _within(live, "link_up", lambda e: e["interface"] == lab.v2a, t0)


def test_address_removed_change(lab, live):
    t0 = time.monotonic()
    sh("ip", "-n", lab.a, "addr", "del", lab.ip6 + "/64", "dev", lab.veth)
    e = _within(live, "address_removed", lambda e: e["address"] == lab.ip6, t0)
    assert e == {**e, "interface": lab.veth, "family": "ipv6", "prefix_len": 64, "scope": "global"}
    _within(live, "route_removed", lambda e: e["destination"] == "2001:db8:%x::/64" % lab.x, t0)


def test_route_and_neighbor_changes(lab, live):
    t0 = time.monotonic()
    dst = "198.19.%d.128/25" % lab.x
    sh("ip", "-n", lab.a, "route", "add", dst, "via", lab.ip4b, "metric", "5")
    e = _within(live, "route_added", lambda e: e["destination"] == dst, t0)
    assert e["gateway"] == lab.ip4b and e["metric"] == 5 and e["interface"] == lab.veth
    t0 = time.monotonic()
    sh("ip", "-n", lab.a, "route", "del", dst, "via", lab.ip4b, "metric", "5")
    _within(live, "route_removed", lambda e: e["destination"] == dst, t0)
    t0 = time.monotonic()
    sh("ip", "-n", lab.a, "neigh", "del", lab.nip, "dev", lab.veth)
    e = _within(live, "neighbor_removed", lambda e: e["ip"] == lab.nip, t0)
    assert e["mac"] == lab.nmac and e["interface"] == lab.veth
    t0 = time.monotonic()
    sh("ip", "-n", lab.a, "neigh", "add", lab.nip, "lladdr", lab.nmac, "dev", lab.veth, "nud", "permanent")
    _within(live, "neighbor_added", lambda e: e["ip"] == lab.nip and e["state"] == "permanent", t0)


def test_wg_peer_removed_change(lab, live):
    t0 = time.monotonic()
    sh("wg", "set", lab.wga, "peer", lab.keys["c_pub"], "remove", ns=lab.a)
    e = _within(live, "wg_peer_removed", lambda e: e["public_key"] == lab.keys["c_pub"], t0)
    assert e["interface"] == lab.wga and e["allowed_ips"] == [lab.c_allowed]
    t0 = time.monotonic()
    sh("wg", "set", lab.wga, "peer", lab.keys["c_pub"], "allowed-ips", lab.c_allowed, ns=lab.a)
    _within(live, "wg_peer_added", lambda e: e["public_key"] == lab.keys["c_pub"], t0)


def test_link_added_removed(lab, live):
    name = "vx5" + lab.veth[3:]
    t0 = time.monotonic()
    sh("ip", "-n", lab.a, "link", "add", name, "type", "veth", "peer", "name", name + "p")
    e = _within(live, "link_added", lambda e: e["interface"] == name, t0)
    assert e["kind"] == "veth"
    t0 = time.monotonic()
    sh("ip", "-n", lab.a, "link", "del", name)
    _within(live, "link_removed", lambda e: e["interface"] == name, t0)


# ----------------------------------------------------------------------------
# LLDP / CDP: crafted frames

def lldp_tlv(t, v):
    return struct.pack("!H", t << 9 | len(v)) + v


def lldp_frame(src, sysname=b"sw-t5", sysdesc=b"crafted", ttl=120, port=b"ge-0/0/1"):
    pdu = (lldp_tlv(1, b"\x04" + src) + lldp_tlv(2, b"\x05" + port) + lldp_tlv(3, struct.pack("!H", ttl)) +
           lldp_tlv(5, sysname) + lldp_tlv(6, sysdesc) +
           lldp_tlv(8, bytes([5, 1, 192, 0, 2, 7, 2, 0, 0, 0, 1, 0])) + lldp_tlv(0, b""))
    return b"\x01\x80\xc2\x00\x00\x0e" + src + b"\x88\xcc" + pdu


def cdp_frame(src, device=b"cdp-t5", port=b"Gi0/7"):
    def tlv(t, v):
        return struct.pack("!HH", t, len(v) + 4) + v
    addr = struct.pack("!IBBBH", 1, 1, 1, 0xcc, 4) + bytes([192, 0, 2, 8])
    pdu = (b"\x02\xb4\x00\x00" + tlv(1, device) + tlv(2, addr) + tlv(3, port) + tlv(5, b"IOS t5") +
           tlv(6, b"WS-T5") + tlv(0x16, addr))
    llc = b"\xaa\xaa\x03\x00\x00\x0c\x20\x00"
    return b"\x01\x00\x0c\xcc\xcc\xcc" + src + struct.pack("!H", len(llc) + len(pdu)) + llc + pdu


def write_pcap(path, frames):
    """frames: (ts_seconds, bytes, caplen or None)."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for ts, data, cap in frames:
            cap = len(data) if cap is None else cap
            f.write(struct.pack("<IIII", int(ts), int((ts % 1) * 1e6), cap, len(data)))
            f.write(data[:cap])


def run_file(tracer, path, extra=None):
    env = clean_env({"AGENT_PCAP_FILE": str(path), **(extra or {})})
    p = subprocess.run([tracer], env=env, capture_output=True, timeout=60)
    stderr = p.stderr.decode("utf-8", "replace")
    assert_no_sanitizer(stderr)
    assert p.returncode == 0, stderr[-2000:]
    return [json.loads(l) for l in p.stdout.decode().splitlines() if l.strip()]


def neighbors(events):
    return [e for e in events if e.get("type") == "topology_change"
            and e.get("change") in ("lldp_neighbor", "cdp_neighbor")]


def test_crafted_frames_from_file(tmp_path):
    tracer = tracer_path()
    src = bytes.fromhex("02005e005301")
    long_desc = b"D" * 400
    frames = [
        (1000.0, lldp_frame(src), None),
        (1030.0, lldp_frame(src), None),                          # repeat within TTL: not re-sent
        (1121.0, lldp_frame(src), None),                          # TTL passed: sent again
        (1122.0, lldp_frame(src, sysname=b"sw-t5-renamed"), None),  # changed: sent at once
        (1200.0, cdp_frame(bytes.fromhex("02005e005302")), None),
        (1300.0, lldp_frame(bytes.fromhex("02005e005303"), sysdesc=long_desc), 256),  # cut at 256
        (1301.0, cdp_frame(bytes.fromhex("02005e005304"), device=b"cut-cdp"), 40),
        (1302.0, lldp_frame(bytes.fromhex("02005e005305"))[:20], None),  # too short to name anyone
    ]
    path = tmp_path / "crafted.pcap"
    write_pcap(path, frames)
    ev = neighbors(run_file(tracer, path))
    assert [e["timestamp"][11:19] for e in ev] == ["00:16:40", "00:18:41", "00:18:42", "00:20:00",
                                                   "00:21:40", "00:21:41"]
    first = ev[0]
    assert first == {**first, "change": "lldp_neighbor", "interface": "crafted.pcap", "protocol": "lldp",
                     "chassis_id": "02:00:5e:00:53:01", "chassis_id_subtype": "mac_address",
                     "port_id": "ge-0/0/1", "port_id_subtype": "interface_name", "system_name": "sw-t5",
                     "system_description": "crafted", "management_addresses": ["192.0.2.7"], "ttl": 120,
                     "truncated": False, "src_mac": "02:00:5e:00:53:01"}
    assert ev[2]["system_name"] == "sw-t5-renamed"
    cdp = ev[3]
    assert cdp == {**cdp, "change": "cdp_neighbor", "chassis_id": "cdp-t5", "port_id": "Gi0/7",
                   "system_description": "IOS t5", "platform": "WS-T5", "addresses": ["192.0.2.8"],
                   "management_addresses": ["192.0.2.8"], "ttl": 180, "cdp_version": 2, "truncated": False}
    cut = ev[4]
    # 256 bytes: Ethernet 14 + chassis 9 + port 11 + TTL 4 + name 7 = 45; the 400-byte description is cut
    assert cut["truncated"] is True and cut["system_name"] == "sw-t5" and cut["ttl"] == 120
    assert cut["system_description"] is None and cut["management_addresses"] == []
    cutc = ev[5]
    assert cutc["truncated"] is True and cutc["chassis_id"] == "cut-cdp" and cutc["port_id"] is None


# ----------------------------------------------------------------------------
# LLDP / CDP: the shared captures, against tcpdump -v

def tcpdump_frames(path):
    """{timestamp ms string: dict of fields tcpdump -v printed}."""
    out = subprocess.run(["tcpdump", "-n", "-v", "-tt", "-r", str(path)], capture_output=True,
                         text=True, timeout=60).stdout
    frames, cur, key, cont = {}, None, None, None
    for line in out.splitlines():
        m = re.match(r"^(\d+)\.(\d{6}) (LLDP|CDPv\d)", line)
        if m:
            sec, us = int(m.group(1)), int(m.group(2))
            key = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + ".%03dZ" % (us // 1000)
            cur = {"proto": "lldp" if m.group(3) == "LLDP" else "cdp", "mgmt": [], "addr": []}
            t = re.search(r"ttl: (\d+)s", line)
            if t:
                cur["ttl"] = int(t.group(1))
            frames.setdefault(key, cur)
            cont = None
            continue
        if re.match(r"^\S", line):
            cur = None
            continue
        if cur is None:
            continue
        s = line.strip()
        if cont == "sysdesc_cdp" and line.startswith("\t  "):
            cur["system_description"] = (cur.get("system_description", "") + "\n" + s).lstrip("\n")
            continue
        if cont in ("chassis", "port"):
            m = re.match(r"Subtype .*\((\d)\): (.*)$", s)
            if m:
                val = re.sub(r" \(oui .*\)$", "", m.group(2))
                val = re.sub(r"^AFI IPv[46] \(\d\): ", "", val)
                cur[cont] = (int(m.group(1)), val)
            cont = None
            continue
        if cont == "sysdesc":
            cur["system_description"] = s.replace("^J", "\n")
            cont = None
            continue
        if cont == "mgmt":
            m = re.match(r"Management Address length \d+, AFI IPv[46] \(\d\): (\S+)", s)
            if m:
                cur["mgmt"].append(m.group(1))
            cont = None
            continue
        cont = None
        if s.startswith("Chassis ID TLV"):
            cont = "chassis"
        elif s.startswith("Port ID TLV"):
            cont = "port"
        elif s.startswith("System Description TLV"):
            cont = "sysdesc"
        elif s.startswith("Management Address TLV"):
            cont = "mgmt"
        elif m := re.match(r"Time to Live TLV \(3\), length 2: TTL (\d+)s", s):
            cur["ttl"] = int(m.group(1))
        elif m := re.match(r"System Name TLV \(5\), length \d+: (.*)$", s):
            cur["system_name"] = m.group(1)
        elif m := re.match(r"Port Description TLV \(4\), length \d+: (.*)$", s):
            cur["port_description"] = m.group(1)
        elif m := re.match(r"Device-ID \(0x01\), value length: \d+ bytes?: '(.*)'$", s):
            cur["device"] = m.group(1)
        elif m := re.match(r"Port-ID \(0x03\), value length: \d+ bytes?: '(.*)'$", s):
            cur["port_id"] = m.group(1)
        elif m := re.match(r"Platform \(0x06\), value length: \d+ bytes?: '(.*)'$", s):
            cur["platform"] = m.group(1)
        elif s.startswith("Version String (0x05)"):
            cont = "sysdesc_cdp"
            cur["system_description"] = ""
        elif m := re.match(r"Address \(0x02\), value length: \d+ bytes: IPv4 \(1\) (\S+)", s):
            cur["addr"].append(m.group(1))
        elif m := re.match(r"Management Addresses \(0x16\), value length: \d+ bytes: IPv4 \(1\) (\S+)", s):
            cur["mgmt"].append(m.group(1))
    return frames


def _shared_l2_files():
    names = ["LLDP_and_CDP.pcap", "3560_CDP.pcap", "lldp_mudurl.pcap", "lldp_asan.pcap",
             "lldp_mgmt_addr_tlv_asan.pcap", "lldp-infinite-loop-1.pcap", "lldp-infinite-loop-2.pcap",
             "lldp_8021_linkagg.pcap", "lldp_8023_mtu-oobr.pcap", "lldp-app-priority.pcap",
             "DTP.pcap", "UDLD.pcap", "dcb_ets.pcap", "evb.pcap"]
    return [n for n in names if (SHARED / n).is_file()]


@pytest.mark.parametrize("name", _shared_l2_files())
def test_shared_captures_match_tcpdump(name):
    path = SHARED / name
    ev = neighbors(run_file(tracer_path(), path))
    tcp = tcpdump_frames(path)
    for e in ev:
        assert e["interface"] == name
        t = tcp.get(e["timestamp"])
        assert t is not None, "event at %s matches no tcpdump frame" % e["timestamp"]
        assert e["protocol"] == t["proto"]
        if t["proto"] == "lldp":
            if "chassis" in t:
                assert e["chassis_id"] == t["chassis"][1]
            if "port" in t:
                assert e["port_id"] == t["port"][1]
            for k in ("ttl", "system_name", "port_description", "system_description"):
                if k in t:
                    assert e[k] == t[k], (k, e[k], t[k])
            assert e["management_addresses"] == t["mgmt"]
        else:
            assert e["chassis_id"] == t["device"] and e["system_name"] == t["device"]
            for k, tk in (("port_id", "port_id"), ("platform", "platform"), ("ttl", "ttl"),
                          ("system_description", "system_description")):
                if tk in t:
                    assert e[k] == t[tk], (k, e[k], t[tk])
            assert e["addresses"] == t["addr"] and e["management_addresses"] == t["mgmt"]
    # every neighbour tcpdump names (chassis + port, or a device id) is reported
    want = {(t["chassis"][1], t["port"][1]) for t in tcp.values() if "chassis" in t and "port" in t}
    want |= {(t["device"], t.get("port_id")) for t in tcp.values() if "device" in t}
    got = {(e["chassis_id"], e["port_id"]) for e in ev}
    assert got == want
    if name in ("LLDP_and_CDP.pcap", "3560_CDP.pcap", "lldp_mudurl.pcap"):
        assert ev, "no neighbour decoded from %s" % name
    if name in ("DTP.pcap", "UDLD.pcap"):
        assert not ev                     # same address as CDP, other protocols


# ----------------------------------------------------------------------------
# LLDP / CDP live on the veth

def send_frames(ns, ifname, frames):
    code = ("import socket,sys\ns=socket.socket(socket.AF_PACKET,socket.SOCK_RAW)\ns.bind((%r,0))\n"
            "for h in sys.argv[1:]: s.send(bytes.fromhex(h))\n" % ifname)
    sh("/usr/bin/python3", "-c", code, *[f.hex() for f in frames], ns=ns)


def test_lldp_cdp_live(lab, live):
    src = bytes.fromhex("02005e0053aa")
    long = lldp_frame(src, sysname=b"sw-live", sysdesc=b"L" * 400, port=b"xe-1/2/3")
    send_frames(lab.b, lab.peer, [long, long, cdp_frame(bytes.fromhex("02005e0053ab"), device=b"live-cdp")])
    e = live.wait_for(lambda e: e.get("change") == "lldp_neighbor" and e.get("system_name") == "sw-live", 3)
    assert e is not None, "no lldp_neighbor event"
    assert e["interface"] == lab.veth and e["chassis_id"] == "02:00:5e:00:53:aa" and e["port_id"] == "xe-1/2/3"
    assert e["truncated"] is True and e["system_description"] is None   # snap length 256 (the live fixture sets it)
    c = live.wait_for(lambda e: e.get("change") == "cdp_neighbor" and e.get("chassis_id") == "live-cdp", 3)
    assert c is not None and c["truncated"] is False and c["interface"] == lab.veth
    time.sleep(0.5)
    assert len([x for x in live.events if x.get("system_name") == "sw-live"]) == 1   # repeat suppressed


def test_zz_shutdown_clean(live):
    stderr = live.stop()
    assert "summary" in stderr
