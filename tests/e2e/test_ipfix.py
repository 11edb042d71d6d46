"""IPFIX and NetFlow v9 export (issue 16.1) against real components.

nfcapd (from nfdump) listens on a loopback port; the sensor replays a
generated capture with AGENT_IPFIX_COLLECTOR set and writes its JSON to stdout
at the same time. A small relay in this test stands between them: it receives
the sensor's datagrams (or its TCP stream, cut into IPFIX messages by their
length field), keeps a copy, and forwards each message to nfcapd. Then:
  - `nfdump -r` lists exactly the flows, packet/byte counts per direction,
    times (ms), ports / ICMP type.code, TCP flags and VLAN of the JSON records;
  - tshark decodes every exported message (written to a pcap as UDP) as
    cflow without a malformed-packet warning;
  - a collector that is down is counted, never fatal (UDP and TCP).
"""

import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time

import pytest

import pcapgen
from conftest import (assert_no_sanitizer, clean_env, log_message, log_records, parse_ndjson, run_scenario,
                      wait_for_text)

NFCAPD, NFDUMP, TSHARK = shutil.which("nfcapd"), shutil.which("nfdump"), shutil.which("tshark")
pytestmark = pytest.mark.skipif(not (NFCAPD and NFDUMP and TSHARK),
                                reason="needs nfcapd/nfdump (package nfdump) and tshark: scripts/install-deps.sh --test")

FMT = "fmt:%ts|%te|%sa|%da|%sp|%dp|%pr|%ipkt|%ibyt|%opkt|%obyt|%flg|%svln"
DONE = re.compile(r"ipfix: done: (\d+) records sent to \S+ in (\d+) messages, (\d+) dropped "
                  r"\(queue_full=(\d+) send_error=(\d+) unencodable=(\d+)\)")


def free_port(kind=socket.SOCK_DGRAM):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Nfcapd:
    """nfcapd on 127.0.0.1:<free port>, writing into dir; stop() returns the file."""

    def __init__(self, tmp_path):
        self.dir = tmp_path / "nfcapd"
        self.dir.mkdir()
        self.port = free_port()
        self.log = open(tmp_path / "nfcapd.log", "w+")
        self.proc = subprocess.Popen([NFCAPD, "-p", str(self.port), "-b", "127.0.0.1", "-w", str(self.dir),
                                      "-t", "3600"], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            self.log.seek(0)
            if "Startup" in self.log.read():
                return
            assert self.proc.poll() is None, "nfcapd exited at start"
            time.sleep(0.05)
        pytest.fail("nfcapd did not start")

    def stop(self):
        time.sleep(1.0)     # let it read what the relay forwarded last (no assertion on time)
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)
        self.log.close()
        files = sorted(p for p in self.dir.iterdir() if re.match(r"nfcapd\.\d{12}$", p.name))
        assert len(files) == 1, list(self.dir.iterdir())
        return files[0]


class Relay(threading.Thread):
    """Receives the export (UDP datagrams or a TCP stream of IPFIX messages),
    keeps every message, forwards each one to nfcapd as a datagram."""

    def __init__(self, to_port, tcp=False):
        super().__init__(daemon=True)
        self.tcp = tcp
        self.to = ("127.0.0.1", to_port)
        self.out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        if tcp:
            self.sock.listen(4)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.messages = []
        self.connections = 0
        self.stopping = False
        self.start()

    def forward(self, msg):
        self.messages.append(msg)
        self.out.sendto(msg, self.to)

    def run(self):
        while not self.stopping:
            try:
                if not self.tcp:
                    self.forward(self.sock.recv(65535))
                    continue
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            self.connections += 1
            buf = b""
            conn.settimeout(30)
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                buf += data
                while len(buf) >= 4 and len(buf) >= struct.unpack("!H", buf[2:4])[0]:
                    n = struct.unpack("!H", buf[2:4])[0]
                    assert n >= 16, "bad IPFIX message length %d" % n
                    self.forward(buf[:n])
                    buf = buf[n:]
            conn.close()

    def wait_for(self, n):
        deadline = time.monotonic() + 30
        while len(self.messages) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.messages) == n, "relay got %d messages, the sensor sent %d" % (len(self.messages), n)

    def close(self):
        self.stopping = True
        self.join(timeout=10)
        self.sock.close()
        self.out.close()

    def write_pcap(self, path, port):
        """The messages as UDP datagrams 127.0.0.1:40000 -> 127.0.0.1:port (raw IPv4 link type)."""
        frames = []
        for i, m in enumerate(self.messages):
            ip = pcapgen.ipv4("127.0.0.1", "127.0.0.1", 17, pcapgen.udp("127.0.0.1", "127.0.0.1", 40000, port, m))
            frames.append(pcapgen.Frame(1_700_000_000_000_000 + i, ip))
        pcapgen.write_pcap(str(path), frames, linktype=101)


def done_line(stderr):
    m = DONE.search(stderr)
    assert m, "no 'ipfix: done' line in stderr:\n" + stderr[-3000:]
    keys = ("sent", "messages", "dropped", "queue_full", "send_error", "unencodable")
    return dict(zip(keys, map(int, m.groups())))


def ms_text(rfc3339_us):
    """'2024-01-01T00:00:10.000123Z' -> '2024-01-01 00:00:10.000' (nfdump's form, UTC)."""
    return rfc3339_us[:10] + " " + rfc3339_us[11:23]


def nf_flags(letters, proto):
    """JSON flag letters ("SAFP") -> nfdump's 8 columns CWR ECE URG ACK PSH RST SYN FIN."""
    if proto != 6:
        return "........"
    return "".join(c if c in letters else "." for c in ("C", "E", "U", "A", "P", "R", "S", "F"))


def nf_dport(r, forward=True):
    if r["protocol_number"] in (1, 58):
        return "%d.%d" % (r["icmp_type"], r["icmp_code"]) if forward else "0.0"
    return r["dst_port"] if forward else r["src_port"]


def want_rows(records, netflow9):
    rows = []
    for r in records:
        ts, te, pr, vlan = ms_text(r["start_time"]), ms_text(r["end_time"]), str(r["protocol_number"]), str(r["vlan_id"])
        icmp = r["protocol_number"] in (1, 58)
        sp = "0" if icmp else r["src_port"]
        if not netflow9:
            rows.append((ts, te, r["src_ip"], r["dst_ip"], sp, nf_dport(r), pr, str(r["src_packets"]),
                         str(r["src_bytes"]), str(r["dst_packets"]), str(r["dst_bytes"]),
                         nf_flags(r["src_tcp_flags"], r["protocol_number"]), vlan))
            continue
        rows.append((ts, te, r["src_ip"], r["dst_ip"], sp, nf_dport(r), pr, str(r["src_packets"]),
                     str(r["src_bytes"]), "0", "0", nf_flags(r["src_tcp_flags"], r["protocol_number"]), vlan))
        if r["dst_packets"]:
            rows.append((ts, te, r["dst_ip"], r["src_ip"], "0" if icmp else r["dst_port"], nf_dport(r, False), pr,
                         str(r["dst_packets"]), str(r["dst_bytes"]), "0", "0",
                         nf_flags(r["dst_tcp_flags"], r["protocol_number"]), vlan))
    return sorted(rows)


def nfdump_rows(path):
    out = subprocess.run([NFDUMP, "-q", "-N", "-r", str(path), "-o", FMT], env=dict(os.environ, TZ="UTC"),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True, timeout=60).stdout.decode()
    return sorted(tuple(f.strip() for f in line.split("|")) for line in out.splitlines() if line.strip())


def export_run(tracer, tmp_path, protocol, tcp=False, scenario="mixed"):
    nf = Nfcapd(tmp_path)
    relay = Relay(nf.port, tcp=tcp)
    try:
        sc = pcapgen.SCENARIOS[scenario]()
        env = {"AGENT_IPFIX_COLLECTOR": "%s://127.0.0.1:%d" % ("tcp" if tcp else "udp", relay.port),
               "AGENT_IPFIX_PROTOCOL": protocol}
        got, want, run = run_scenario(tracer, sc, tmp_path, env)
        done = done_line(run.stderr)
        relay.wait_for(done["messages"])
    finally:
        relay.close()
        path = nf.stop()
    return got, want, done, relay, path


@pytest.mark.parametrize("protocol", ["ipfix", "netflow9"])
def test_udp_export_matches_json(tracer, tmp_path, protocol):
    got, want, done, relay, path = export_run(tracer, tmp_path, protocol)
    assert len(got) == len(want) == 108                       # the JSON output is unchanged
    assert done == {"sent": 108, "messages": done["messages"], "dropped": 0, "queue_full": 0,
                    "send_error": 0, "unencodable": 0}
    assert nfdump_rows(path) == want_rows(got, protocol == "netflow9")
    # tshark decodes every message as IPFIX / NetFlow v9, none malformed
    pcap = tmp_path / "export.pcap"
    relay.write_pcap(pcap, 4739)
    decode = ["-r", str(pcap), "-d", "udp.port==4739,cflow"]
    bad = subprocess.run([TSHARK, *decode, "-Y", "_ws.malformed || _ws.expert.severity >= warning"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120).stdout.decode()
    assert bad.strip() == "", bad
    versions = subprocess.run([TSHARK, *decode, "-T", "fields", "-e", "cflow.version"], stdout=subprocess.PIPE,
                              timeout=120, check=True).stdout.decode().split()
    assert versions == ["10" if protocol == "ipfix" else "9"] * len(relay.messages)


def test_tcp_export_matches_json(tracer, tmp_path):
    got, _, done, relay, path = export_run(tracer, tmp_path, "ipfix", tcp=True)
    assert relay.connections == 1
    assert done["sent"] == 108 and done["dropped"] == 0
    assert nfdump_rows(path) == want_rows(got, False)


def test_udp_collector_down_is_counted(tracer, tmp_path):
    port = free_port()          # nothing listens there: ICMP port unreachable
    sc = pcapgen.SCENARIOS["mixed"]()
    got, want, run = run_scenario(tracer, sc, tmp_path, {"AGENT_IPFIX_COLLECTOR": "udp://127.0.0.1:%d" % port})
    assert len(got) == len(want) == 108                       # stdout unaffected, exit status 0
    done = done_line(run.stderr)
    assert done["sent"] + done["send_error"] == 108
    assert done["send_error"] > 0 and done["queue_full"] == 0 and done["unencodable"] == 0
    assert log_message(run.stderr, "ipfix: sending to udp://127.0.0.1:%d failed" % port)


def test_tcp_collector_down_is_counted(tracer, tmp_path):
    port = free_port(socket.SOCK_STREAM)    # closed: connection refused
    sc = pcapgen.SCENARIOS["mixed"]()
    got, want, run = run_scenario(tracer, sc, tmp_path, {"AGENT_IPFIX_COLLECTOR": "tcp://127.0.0.1:%d" % port})
    assert len(got) == len(want) == 108
    done = done_line(run.stderr)
    assert done == {"sent": 0, "messages": 0, "dropped": 108, "queue_full": 0, "send_error": 108, "unencodable": 0}
    assert log_message(run.stderr, "ipfix: cannot connect to tcp://127.0.0.1:%d: Connection refused" % port)
    stats = [e for e in run.events("sensor")]
    assert stats and "ipfix" in stats[-1]["outputs"]


def test_tcp_reconnects_after_the_collector_drops_it(tracer, tmp_path):
    """Live on lo: the collector closes the first connection after its first
    bytes; the sensor counts the records lost, reconnects after its 1 s backoff
    and delivers the rest on the second connection, without stopping."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    srv.settimeout(0.2)
    conns, stop = [], threading.Event()

    def collector():
        while not stop.is_set():
            try:
                c, _ = srv.accept()
            except socket.timeout:
                continue
            conns.append(c)
            c.recv(65536)
            if len(conns) == 1:
                c.close()                      # drop the first connection
            else:
                threading.Thread(target=lambda c=c: [c.recv(65536) for _ in iter(int, 1)], daemon=True).start()

    threading.Thread(target=collector, daemon=True).start()
    dport = free_port()
    env = clean_env({"AGENT_INTERFACE": "lo", "AGENT_UDP_IDLE_TIMEOUT": "1", "AGENT_STATS_INTERVAL": "0",
                     "AGENT_BPF_FILTER": "udp and dst port %d" % dport,
                     "AGENT_IPFIX_COLLECTOR": "tcp://127.0.0.1:%d" % srv.getsockname()[1]})
    out_path, err_path = tmp_path / "sensor.out", tmp_path / "sensor.err"
    with open(out_path, "wb") as out, open(err_path, "wb") as errf:
        p = subprocess.Popen([tracer], env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=errf)
    try:
        # the capture (with its filter) is open once the sensor says so
        assert wait_for_text(err_path, "capturing on lo", p, 60), err_path.read_text(errors="replace")[-3000:]
        # 60 one-packet UDP flows from 60 distinct source ports: every socket stays
        # open to the end, so the kernel cannot hand out one port twice.
        senders = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(60)]
        for s in senders:
            s.sendto(b"x", ("127.0.0.1", dport))
            time.sleep(0.1)
        time.sleep(2.5)                         # the last ones end by idle timeout
        for s in senders:
            s.close()
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=120)
        stop.set()
    err = err_path.read_text(errors="replace")
    assert_no_sanitizer(err)
    assert p.returncode == 0, err[-3000:]
    flows = [r for r in parse_ndjson(out_path.read_text()) if r.get("type") == "flow"]
    assert len(flows) == 60, err[-3000:]
    done = done_line(err)
    assert len(conns) >= 2
    assert done["sent"] >= 1 and done["send_error"] >= 1
    assert done["sent"] + done["send_error"] == 60 and done["queue_full"] == 0 and done["unencodable"] == 0
    assert len([r for r in log_records(err) if r.get("msg", "").startswith("ipfix: connected to")]) >= 2
