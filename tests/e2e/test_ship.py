"""Shipping the sensor: metrics and health, logs, install, systemd, Docker, compose.

- /metrics and /healthz scraped during a live capture on a veth pair between
  two network namespaces this test makes (IPv6 off, so only the traffic sent
  and ARP cross the link), the values checked against that traffic and against
  the records the sensor prints; /healthz 503 while the sensor drains after
  SIGTERM (capture thread gone, sender still delivering to a dead endpoint).
- Log lines parsed strictly in both formats (logfmt default, LOG_FORMAT=json):
  every line one record with ts/level/msg, the startup line with every setting
  and the secrets masked, the summary's numbers typed in JSON.
- The progress line: on a terminal (a pty) while a long file is replayed, not
  on a pipe.
- `make install DESTDIR=...` (binary, man page, unit, env file) from a copy of
  the Docker build context, after running the Dockerfile's build-stage make
  steps in it (its install-deps.sh step is checked, not run: its packages are
  the host build's and all installed); `systemd-analyze verify` on the installed unit (skipped, saying so, when
  systemd-analyze is missing); the Dockerfile checked statically (the same
  install script and make; the runtime packages cover every library the binary
  links); docker-compose.yml parsed and compared with `tracer-sensor --help`.
No Docker engine is needed (or used).
"""

import fnmatch
import json
import os
import pathlib
import pty
import re
import shutil
import signal
import struct
import subprocess
import threading
import time

import pytest

import pcapgen
from conftest import REPO, assert_no_sanitizer, clean_env, parse_log_line, parse_ndjson, run_sensor

PY = "/usr/bin/python3"
ADDR_A, ADDR_B = "198.18.1.1", "198.18.1.2"
METRICS_PORT = 19108
SECRETS = ("hmac-s3cret-value", "c0mmunity-secret")

# ----------------------------------------------------------------------------
# helpers: --help, Prometheus text, logfmt


def help_settings(tracer):
    """{VARIABLE: default text} from `tracer-sensor --help`, in order."""
    r = run_sensor(tracer, args=["--help"], timeout=30)
    out = {}
    for line in r.stdout.splitlines():
        m = re.match(r"^  --[\w-]+ \S+\s+([A-Z][A-Z0-9_]+)\s+default: (.*)$", line)
        if m:
            out[m.group(1)] = m.group(2)
    assert len(out) >= 40, r.stdout
    return out


def literal_default(var, text):
    """The default as a value one can write, or None when --help describes it in words
    ("none" is a value only for AGENT_COMPRESS: elsewhere it means "not set")."""
    if re.fullmatch(r"[0-9][0-9.]*[a-z]*", text) or text in ("true", "false", "logfmt", "info") or \
            (var, text) in (("AGENT_COMPRESS", "none"), ("AGENT_USER", "tracer-sensor"),
                            ("AGENT_STATE_DIR", "/var/lib/tracer-sensor"),
                            ("AGENT_IPFIX_PROTOCOL", "ipfix"), ("AGENT_IPFIX_TIME_PRECISION", "ms")):
        return text
    return None


def parse_prometheus(text):
    """{(name, frozenset(labels)): value} plus the families' TYPE; strict line forms."""
    samples, types = {}, {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split(" ")
            types[name] = typ
            continue
        m = re.fullmatch(r'([a-z_]+)(?:\{([^}]*)\})? (\d+)', line)
        assert m, "not a Prometheus sample line: %r" % line
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        samples[(m.group(1), labels)] = int(m.group(3))
        assert m.group(1) in types or m.group(1).rsplit("_", 1)[0] in types, "no TYPE for " + line
    return samples, types


def metric(samples, name, **labels):
    key = (name, frozenset(labels.items()))
    assert key in samples, "no sample %s%s" % (name, labels)
    return samples[key]


LOGFMT_LINE = re.compile(r'ts=\S+ level=(error|warn|info|debug) msg=("(?:[^"\\]|\\.)*"|[^\s"=]+)'
                         r'(?: [^\s="]+=(?:"(?:[^"\\]|\\.)*"|[^\s"=]*))*')


# ----------------------------------------------------------------------------
# network namespaces (only our own two hosts; removed in a finalizer)

_seq = 0


def _ip(*args, check=True):
    return subprocess.run(["ip", *args], capture_output=True, check=check, timeout=30)


@pytest.fixture
def netns_pair(request):
    if os.geteuid() != 0 or not shutil.which("ip"):
        pytest.skip("needs root and the ip command")
    global _seq
    _seq += 1
    tag = "%d%d" % (os.getpid() % 100000, _seq)
    na, nb = "trm%sA" % tag, "trm%sB" % tag
    ia, ib = "trm%sa" % tag, "trm%sb" % tag

    def cleanup():
        for ns in (na, nb):
            _ip("netns", "del", ns, check=False)
    request.addfinalizer(cleanup)
    try:
        for ns in (na, nb):
            _ip("netns", "add", ns)
            # IPv6 off: no router/neighbour solicitations become flows
            subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
                            "net.ipv6.conf.default.disable_ipv6=1"], check=True, capture_output=True)
        _ip("link", "add", ia, "netns", na, "type", "veth", "peer", "name", ib, "netns", nb)
        for ns, dev, addr in ((na, ia, ADDR_A), (nb, ib, ADDR_B)):
            _ip("-n", ns, "addr", "add", addr + "/24", "dev", dev)
            _ip("-n", ns, "link", "set", "lo", "up")
            _ip("-n", ns, "link", "set", dev, "up")
    except subprocess.CalledProcessError as e:
        pytest.skip("cannot set up network namespaces: %s" % (e.stderr or b"").decode(errors="replace"))
    return na, nb, ia, ib


FETCH = r"""
import sys, urllib.request, urllib.error
try:
    r = urllib.request.urlopen("http://127.0.0.1:%d" + sys.argv[1], timeout=5)
    code, body = r.status, r.read()
except urllib.error.HTTPError as e:
    code, body = e.code, e.read()
sys.stdout.write("%%d\n" %% code)
sys.stdout.buffer.write(body)
""" % METRICS_PORT


def fetch(ns, path):
    """GET http://127.0.0.1:PORT/path inside namespace ns: (status, body text)."""
    r = subprocess.run(["ip", "netns", "exec", ns, PY, "-c", FETCH, path], capture_output=True, timeout=20)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    code, _, body = r.stdout.decode().partition("\n")
    return int(code), body


SERVER = r"""
import socket
u1 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u1.bind(("%(b)s", 9999))
u2 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u2.bind(("%(b)s", 9998))
t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind(("%(b)s", 8080)); t.listen(1)
print("ready", flush=True)
for s in (u1, u2, t):
    s.settimeout(20)
for _ in range(5):
    u1.recvfrom(100)
for _ in range(3):
    u2.recvfrom(100)
c, _ = t.accept(); c.settimeout(20)
c.sendall(b"pong:" + c.recv(100))
while c.recv(100):
    pass
c.close()
print("done", flush=True)
"""

CLIENT = r"""
import socket
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("%(a)s", 0))
for i in range(5):
    u.sendto(b"one-%%d" %% i, ("%(b)s", 9999))
v = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); v.bind(("%(a)s", 0))
for i in range(3):
    v.sendto(b"two-%%d" %% i, ("%(b)s", 9998))
t = socket.create_connection(("%(b)s", 8080), timeout=10)
t.sendall(b"hello")
assert t.recv(100) == b"pong:hello"
t.shutdown(socket.SHUT_WR)
while t.recv(100):
    pass
t.close()
print("sent", flush=True)
"""


def _start_sensor(tracer, ns, env, tmp_path, name):
    """Start the sensor in ns and wait until it captures: the metrics server is
    listening by then (main starts it before the capture thread)."""
    out, err = tmp_path / (name + ".out"), tmp_path / (name + ".err")
    with open(out, "wb") as o, open(err, "wb") as e:
        p = subprocess.Popen(["ip", "netns", "exec", ns, tracer], env=clean_env(env),
                             stdin=subprocess.DEVNULL, stdout=o, stderr=e)
    end = time.time() + 30
    while "capturing on" not in err.read_text(errors="replace"):
        if p.poll() is not None or time.time() > end:
            raise AssertionError("sensor did not start (exit %s):\n%s" % (p.poll(), err.read_text()[-3000:]))
        time.sleep(0.05)
    return p, out, err


def _wait_until(pred, timeout, what):
    end = time.time() + timeout
    last = None
    while time.time() < end:
        last = pred()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError("timed out waiting for %s (last: %r)" % (what, last))


def test_metrics_and_health_live(tracer, netns_pair, tmp_path):
    """Scrape during a live run; every value matches the traffic sent."""
    na, nb, ia, _ = netns_pair
    params = {"a": ADDR_A, "b": ADDR_B}
    env = {"AGENT_INTERFACE": ia, "AGENT_METRICS_ADDR": "127.0.0.1:%d" % METRICS_PORT,
           "AGENT_UDP_IDLE_TIMEOUT": "1", "AGENT_STATS_INTERVAL": "0", "AGENT_TOPOLOGY_INTERVAL": "0"}
    sensor, out, err = _start_sensor(tracer, na, env, tmp_path, "live")
    server = None
    try:
        def healthy():
            assert sensor.poll() is None, "sensor exited:\n" + err.read_text()
            try:
                return fetch(na, "/healthz")
            except AssertionError:
                return None
        code, body = _wait_until(healthy, 15, "/healthz to answer")
        assert (code, body) == (200, "ok\n")
        code, text = fetch(na, "/metrics")
        assert code == 200
        s0, types = parse_prometheus(text)
        for fam, typ in (("tracer_packets_received_total", "counter"), ("tracer_flows_active", "gauge"),
                         ("tracer_events_spooled", "gauge"), ("tracer_build_info", "gauge")):
            assert types.get(fam) == typ, (fam, types.get(fam))
        version = (REPO / "VERSION").read_text().strip()
        assert metric(s0, "tracer_build_info", version=version) == 1
        assert metric(s0, "tracer_thread_alive", thread="capture") == 1

        server = subprocess.Popen(["ip", "netns", "exec", nb, PY, "-c", SERVER % params],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert server.stdout.readline().strip() == b"ready", server.stderr.read()
        cl = subprocess.run(["ip", "netns", "exec", na, PY, "-c", CLIENT % params], capture_output=True,
                            timeout=60)
        assert cl.returncode == 0, cl.stderr.decode()
        server.wait(timeout=30)

        # UDP flows end after 1 s idle, the TCP one 2 s after its last FIN
        def settled():
            samples, _ = parse_prometheus(fetch(na, "/metrics")[1])
            ended = sum(v for (n, _), v in samples.items() if n == "tracer_flows_ended_total")
            return samples if ended >= 3 and metric(samples, "tracer_flows_active") == 0 else None
        s = _wait_until(settled, 20, "three ended flows")
        time.sleep(0.5)   # the sender writes what the janitor pushed
        s = parse_prometheus(fetch(na, "/metrics")[1])[0]

        assert metric(s, "tracer_flows_ended_total", reason="idle") == 2
        assert metric(s, "tracer_flows_ended_total", reason="fin") == 1
        for r in ("rst", "evicted", "shutdown"):
            assert metric(s, "tracer_flows_ended_total", reason=r) == 0
        assert metric(s, "tracer_flows_active") == 0
        assert metric(s, "tracer_flows_evicted_total") == 0
        assert metric(s, "tracer_events_output_total", type="flow") == 3
        assert metric(s, "tracer_events_sent_total", type="flow") == 3   # deprecated alias
        assert metric(s, "tracer_events_delivered_total") == 3
        for st in ("kernel", "interface", "ring"):
            assert metric(s, "tracer_packets_dropped_total", stage=st) == 0
        for reason in ("ring", "queue_full", "spool_full", "spool_error", "rejected", "shutdown",
                       "write_error", "unserializable"):
            assert metric(s, "tracer_events_dropped_total", reason=reason) == 0
        assert metric(s, "tracer_events_spooled") == 0
        assert sum(v for (n, _), v in s.items() if n == "tracer_http_requests_total") == 0
        assert metric(s, "tracer_snmp_polls_total", result="ok") == 0
        assert metric(s, "tracer_traps_received_total") == 0
        scraped_frames = metric(s, "tracer_packets_received_total")
        decode_drops = metric(s, "tracer_packets_dropped_total", stage="decode")
        assert (fetch(na, "/healthz")) == (200, "ok\n")
        assert fetch(na, "/nope")[0] == 404

        sensor.send_signal(signal.SIGTERM)
        rc = sensor.wait(timeout=60)
    finally:
        for p in (sensor, server):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
    stderr = err.read_text(errors="replace")
    assert_no_sanitizer(stderr)
    assert rc == 0, stderr[-3000:]
    flows = [r for r in parse_ndjson(out.read_text()) if r.get("type") == "flow"]
    assert len(flows) == 3, flows
    udp = sorted((r["dst_port"], r["src_packets"], r["dst_packets"]) for r in flows if r["protocol"] == "UDP")
    assert udp == [("9998", 3, 0), ("9999", 5, 0)]
    tcp = [r for r in flows if r["protocol"] == "TCP"]
    assert len(tcp) == 1 and tcp[0]["end_reason"] == "fin"
    # every frame is in a flow or was not decodable (ARP): the counters agree with the records
    assert scraped_frames == sum(r["packet_count"] for r in flows) + decode_drops
    assert scraped_frames >= 8 + tcp[0]["packet_count"]
    summary = [parse_log_line(l) for l in stderr.splitlines() if "msg=summary" in l]
    assert len(summary) == 1 and int(summary[0]["frames"]) >= scraped_frames


def test_healthz_503_while_draining(tracer, netns_pair, tmp_path):
    """After SIGTERM the capture thread is gone while the sender still delivers
    (to a dead endpoint, for AGENT_SHUTDOWN_TIMEOUT): /healthz says 503 and why."""
    na, nb, ia, _ = netns_pair
    env = {"AGENT_INTERFACE": ia, "AGENT_METRICS_ADDR": "127.0.0.1:%d" % METRICS_PORT,
           "AGENT_ENDPOINT_URL": "http://127.0.0.1:9/ingest", "AGENT_SHUTDOWN_TIMEOUT": "4s",
           "AGENT_RETRY_BASE": "100ms", "AGENT_RETRY_MAX": "200ms", "AGENT_TOPOLOGY_INTERVAL": "0"}
    sensor, out, err = _start_sensor(tracer, na, env, tmp_path, "drain")
    try:
        _wait_until(lambda: sensor.poll() is None and fetch(na, "/healthz") == (200, "ok\n"), 15, "healthy")
        # one UDP flow, open at shutdown: it is what the sender still holds
        subprocess.run(["ip", "netns", "exec", na, PY, "-c",
                        "import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
                        "s.sendto(b'x', ('%s', 9997))" % ADDR_B], check=True, timeout=20)
        time.sleep(0.5)
        sensor.send_signal(signal.SIGTERM)
        code, body = _wait_until(lambda: (lambda c: c if c[0] == 503 else None)(fetch(na, "/healthz")),
                                 4, "503 from /healthz")
        assert body == "unhealthy: capture thread not running\n"
        s, _ = parse_prometheus(fetch(na, "/metrics")[1])
        assert metric(s, "tracer_thread_alive", thread="capture") == 0
        assert metric(s, "tracer_thread_alive", thread="sender") == 1
        assert metric(s, "tracer_http_requests_total", code="error") >= 1
        rc = sensor.wait(timeout=60)
    finally:
        if sensor.poll() is None:
            sensor.kill()
            sensor.wait()
    stderr = err.read_text(errors="replace")
    assert_no_sanitizer(stderr)
    assert rc == 4, "expected 4 (events dropped at the shutdown timeout): %d\n%s" % (rc, stderr[-3000:])


def test_metrics_addr_taken_exits_1(tracer, tmp_path):
    """A port that is taken stops the sensor at start, saying so."""
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    port = s.getsockname()[1]
    p = tmp_path / "x.pcap"
    _write_pcap(p, 10)
    try:
        r = run_sensor(tracer, {"AGENT_PCAP_FILE": str(p), "AGENT_METRICS_ADDR": "127.0.0.1:%d" % port},
                       check=False, timeout=30)
    finally:
        s.close()
    assert r.rc == 1, r.stderr
    rec = [parse_log_line(l) for l in r.stderr.splitlines() if "cannot listen" in l]
    assert rec and rec[0]["level"] == "error" and ("port %d" % port) in rec[0]["msg"], r.stderr


# ----------------------------------------------------------------------------
# logs


def _write_pcap(path, n, sport_count=1):
    """n UDP frames 10.0.0.1 -> 10.0.0.2, 1 µs apart, as fast as Python writes them."""
    def frame(sport):
        udp = struct.pack("!HHHH", sport, 53, 8 + 18, 0) + b"x" * 18
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                         bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))
        return b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + ip + udp
    frames = [frame(1000 + i) for i in range(sport_count)]
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        chunk = []
        for i in range(n):
            fr = frames[i % sport_count]
            ts = 1700000000 * 1000000 + i
            chunk.append(struct.pack("<IIII", ts // 1000000, ts % 1000000, len(fr), len(fr)) + fr)
            if len(chunk) == 65536:
                f.write(b"".join(chunk))
                chunk = []
        f.write(b"".join(chunk))


@pytest.fixture(scope="module")
def small_pcap(tmp_path_factory):
    p = tmp_path_factory.mktemp("ship") / "small.pcap"
    _write_pcap(p, 100, sport_count=4)
    return p


@pytest.mark.parametrize("fmt", ["logfmt", "json"])
def test_log_lines_parse(tracer, small_pcap, fmt):
    env = {"AGENT_PCAP_FILE": str(small_pcap), "AGENT_HMAC_KEY": SECRETS[0],
           "AGENT_TRAP_COMMUNITIES": SECRETS[1], "AGENT_STATS_INTERVAL": "0"}
    if fmt == "json":
        env["LOG_FORMAT"] = "json"
    r = run_sensor(tracer, env, timeout=60)
    lines = r.stderr.splitlines()
    assert lines, "no log lines"
    recs = []
    for l in lines:
        if fmt == "json":
            rec = json.loads(l)
            assert isinstance(rec, dict)
        else:
            assert LOGFMT_LINE.fullmatch(l), "not a logfmt line: %r" % l
            rec = parse_log_line(l)
        assert list(rec)[:3] == ["ts", "level", "msg"], rec
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", rec["ts"]), rec["ts"]
        assert rec["level"] in ("error", "warn", "info", "debug")
        recs.append(rec)
    for s in SECRETS:
        assert s not in r.stderr and s not in r.stdout
    # the startup line: the version and every setting --help lists, secrets masked
    conf = [x for x in recs if x["msg"] == "configuration"]
    assert len(conf) == 1 and recs[0] is conf[0]
    conf = conf[0]
    assert conf["version"] == (REPO / "VERSION").read_text().strip()
    helpvars = help_settings(tracer)
    assert set(conf) - {"ts", "level", "msg", "version"} == set(helpvars)
    assert conf["AGENT_HMAC_KEY"] == "<redacted>" and conf["AGENT_TRAP_COMMUNITIES"] == "<redacted>"
    assert conf["AGENT_PCAP_FILE"] == str(small_pcap)
    assert conf["LOG_FORMAT"] == fmt
    for var, d in helpvars.items():   # untouched settings show their default
        if literal_default(var, d) and var not in clean_env(env):   # clean_env sets AGENT_USER
            got = conf[var]
            if fmt == "json":   # typed: integers as numbers, booleans as booleans, the rest strings
                if d in ("true", "false"):
                    assert got is (d == "true"), (var, got, d)
                    continue
                if d.isdigit():
                    assert type(got) is int, (var, got, d)
                    got = str(got)
                else:
                    assert type(got) is str, (var, got, d)
            assert got == d, (var, got, d)
    # the summary: numbers (JSON integers), matching the records printed
    summ = [x for x in recs if x["msg"] == "summary"]
    assert len(summ) == 1
    summ = summ[0]
    want = {"frames": 100, "decoded": 100, "flows": 4, "records": 4, "events_output": 4, "events_delivered": 4, "events_failed": 0}
    for k, v in want.items():
        got = summ[k]
        if fmt == "json":
            assert type(got) is int, (k, got)
        assert int(got) == v, (k, got)
    assert len(r.records()) == 4


def test_log_level_and_bad_format(tracer, small_pcap):
    r = run_sensor(tracer, {"AGENT_PCAP_FILE": str(small_pcap), "LOG_LEVEL": "warn"}, timeout=60)
    assert r.stderr == "", r.stderr
    r = run_sensor(tracer, {"AGENT_PCAP_FILE": str(small_pcap), "LOG_FORMAT": "xml"}, timeout=30, check=False)
    assert r.rc == 2 and "LOG_FORMAT=xml: must be logfmt or json" in r.stderr.splitlines(), r.stderr


# ----------------------------------------------------------------------------
# progress line


def test_progress_on_a_terminal_only(tracer, tmp_path):
    big = tmp_path / "big.pcap"
    n = 1500000
    _write_pcap(big, n)
    # on a pipe: no progress at all (and the time it takes: the line shows from the second second on)
    t0 = time.time()
    r = run_sensor(tracer, {"AGENT_PCAP_FILE": str(big), "AGENT_STATS_INTERVAL": "0"}, timeout=300)
    took = time.time() - t0
    assert "reading big.pcap" not in r.stderr and "\r" not in r.stderr
    if took < 2.5:   # a fast build: a longer file, so that the terminal sees a few updates
        _write_pcap(big, min(int(n * 3.5 / max(took, 0.1)), 40000000))
    env = clean_env({"AGENT_PCAP_FILE": str(big), "AGENT_STATS_INTERVAL": "0"})
    master, slave = pty.openpty()
    chunks = []

    def reader():
        while True:
            try:
                b = os.read(master, 65536)
            except OSError:
                return
            if not b:
                return
            chunks.append(b)
    t = threading.Thread(target=reader, daemon=True)
    t.start()
    p = subprocess.run([tracer], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=slave,
                       timeout=300)
    os.close(slave)
    t.join(10)
    os.close(master)
    tty = b"".join(chunks).decode(errors="replace")
    assert_no_sanitizer(tty)
    assert p.returncode == 0, tty[-3000:]
    shown = re.findall(r"\rreading big\.pcap: +(\d+)% \((\d+)/(\d+) MB\), (\d+) packets, (\d+) packets/s\x1b\[K", tty)
    assert shown, "no progress line on the terminal:\n%r" % tty[-2000:]
    pcts = [int(x[0]) for x in shown]
    assert pcts == sorted(pcts) and all(0 <= x <= 100 for x in pcts), pcts
    assert all(int(x[4]) > 0 for x in shown)
    assert tty.rstrip("\n").endswith("\n" + tty.rstrip("\n").split("\n")[-1])
    # erased before the last lines: the summary starts at column 0
    summary_line = [l for l in tty.split("\n") if "msg=summary" in l][0]
    assert summary_line.startswith("\r\x1b[Kts=") or summary_line.startswith("ts="), repr(summary_line[:40])


# ----------------------------------------------------------------------------
# the Docker build context, make install, systemd


def _dockerignore_patterns():
    pats = []
    for line in (REPO / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            assert not line.startswith("!"), "exceptions are not emulated here"
            pats.append(line.rstrip("/"))
    return pats


def _ignored(rel, pats):
    parts = rel.split("/")
    for i in range(1, len(parts) + 1):
        sub = "/".join(parts[:i])
        for p in pats:
            if fnmatch.fnmatchcase(sub, p) or (p.startswith("**/") and fnmatch.fnmatchcase(sub, p[3:])):
                return True
    return False


def dockerfile_stages():
    """[(stage name, [(instruction, argument text)])], continuation lines joined."""
    stages, cur = [], None
    text = re.sub(r"\\\n", " ", (REPO / "Dockerfile").read_text())
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        ins, _, arg = line.partition(" ")
        ins = ins.upper()
        if ins == "FROM":
            m = re.match(r"(\S+)(?: AS (\S+))?", arg, re.I)
            cur = (m.group(2) or "", [])
            stages.append(cur)
        elif cur is not None:
            cur[1].append((ins, arg.strip()))
    return stages


@pytest.fixture(scope="module")
def docker_build(tmp_path_factory):
    """The build stage, without Docker: the context as .dockerignore filters it,
    copied to a fresh /src-like directory, and the stage's RUN steps run there."""
    root = tmp_path_factory.mktemp("docker")
    src = root / "src"
    pats = _dockerignore_patterns()
    tracked = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True,
                             text=True, check=True).stdout.split()
    for rel in tracked:
        if _ignored(rel, pats) or not (REPO / rel).is_file():
            continue
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, src / rel)
    stage = dict(dockerfile_stages())["build"]
    log = []
    for ins, arg in stage:
        if ins != "RUN":
            continue
        for cmd in (c.strip() for c in arg.split("&&")):
            if cmd.startswith("scripts/install-deps.sh"):
                # Not run here (it would change this machine): what it installs in the
                # image is what it installs for a host build, and all of it is here.
                assert cmd == "scripts/install-deps.sh", "the build stage must install the build packages: " + cmd
                pkgs = subprocess.run([str(src / "scripts/install-deps.sh"), "--print"], capture_output=True,
                                      text=True, check=True).stdout.split()
                missing = [p for p in pkgs if "install ok installed" not in subprocess.run(
                    ["dpkg-query", "-W", "-f=${Status}", p], capture_output=True, text=True).stdout]
                assert not missing, "build packages missing here: %s" % missing
                log.append((cmd, 0, " ".join(pkgs)))
            elif cmd.startswith("rm -rf /var/lib/apt/lists"):
                log.append((cmd, 0, "skipped: apt cache clean-up"))
            elif re.match(r"make\b", cmd):
                r = subprocess.run(["bash", "-c", cmd], cwd=src, capture_output=True, text=True, timeout=900,
                                   env={**os.environ, "MAKEFLAGS": ""})
                log.append((cmd, r.returncode, r.stdout[-2000:] + r.stderr[-3000:]))
                assert r.returncode == 0, "build step failed: %s\n%s" % (cmd, log[-1][2])
            else:
                raise AssertionError("build step this test does not know how to emulate: " + cmd)
    assert any(c.startswith("make") for c, _, _ in log), log
    return src, stage, log


def test_dockerfile(docker_build):
    """Static checks, and the build stage's steps worked on the filtered context."""
    src, build_stage, _ = docker_build
    stages = dict(dockerfile_stages())
    assert list(stages) == ["build", "runtime"], list(stages)
    text = (REPO / "Dockerfile").read_text()
    assert re.search(r"^ARG DEBIAN_IMAGE=debian:12(-slim)?$", text, re.M)
    assert len(re.findall(r"^FROM \$\{DEBIAN_IMAGE\} AS ", text, re.M)) == 2
    runs = [a for i, a in build_stage if i == "RUN"]
    # the repository's own install script (no options: the build packages) and make
    assert any(re.match(r"scripts/install-deps\.sh( |&&|$)", a) for a in runs), runs
    assert any(re.search(r"(^|&& )make\b.*\ball\b", a) for a in runs), runs
    # what the runtime stage copies is what that build made
    rt = stages["runtime"]
    for ins, arg in rt:
        if ins == "COPY" and arg.startswith("--from=build "):
            from_path = arg.split()[1]
            assert from_path.startswith("/src/"), arg
            assert (src / from_path[len("/src/"):]).is_file(), "the build stage did not make " + from_path
    rt_runs = " && ".join(a for i, a in rt if i == "RUN")
    assert "install-deps.sh --runtime" in rt_runs
    # permitted only: with =eip, exec fails where the bounding set lacks one (issue 18.1)
    assert re.search(r"setcap cap_net_raw,cap_net_admin\+p /usr/local/bin/tracer-sensor", rt_runs)
    assert re.search(r"useradd --system", rt_runs)
    user = [a for i, a in rt if i == "USER"]
    assert user and user[-1] not in ("root", "0"), user
    hc = [a for i, a in rt if i == "HEALTHCHECK"]
    assert hc and "/healthz" in hc[0] and "AGENT_METRICS_ADDR" in hc[0]
    assert ("ENV", "AGENT_METRICS_ADDR=127.0.0.1:9108") in rt
    assert ("ENTRYPOINT", '["/usr/local/bin/tracer-sensor"]') in rt
    # the built binary runs and its man page was generated
    r = subprocess.run([str(src / "build/tracer-sensor"), "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and "tracer-sensor" in r.stdout
    assert (src / "build/tracer-sensor.8").read_text().startswith(".\\\"")
    # setcap, as the runtime stage runs it, works on that binary (where the file system has xattrs)
    if shutil.which("setcap") and shutil.which("getcap") and os.geteuid() == 0:
        b = src / "capbin"
        shutil.copy2(src / "build/tracer-sensor", b)
        r = subprocess.run(["setcap", "cap_net_raw,cap_net_admin+p", str(b)], capture_output=True, text=True)
        if r.returncode == 0:
            g = subprocess.run(["getcap", str(b)], capture_output=True, text=True).stdout
            assert "cap_net_admin,cap_net_raw=p" in g, g


def _package_of(path):
    for p in {path, os.path.realpath(path), "/usr" + path if not path.startswith("/usr") else path[4:]}:
        r = subprocess.run(["dpkg", "-S", p], capture_output=True, text=True)
        if r.returncode == 0:
            return r.stdout.split(":")[0]
    return None


def test_runtime_packages_cover_the_binary(docker_build):
    """Every shared library the binary needs comes from a package the runtime stage installs."""
    src, _, _ = docker_build
    b = str(src / "build/tracer-sensor")
    if not shutil.which("objdump") or not shutil.which("dpkg"):
        pytest.skip("objdump or dpkg missing")
    needed = re.findall(r"NEEDED\s+(\S+)", subprocess.run(["objdump", "-p", b], capture_output=True,
                                                          text=True, check=True).stdout)
    ldd = dict(re.findall(r"^\s*(\S+) => (\S+)", subprocess.run(["ldd", b], capture_output=True, text=True,
                                                                check=True).stdout, re.M))
    runtime = set(subprocess.run([str(REPO / "scripts/install-deps.sh"), "--runtime", "--print"],
                                 capture_output=True, text=True, check=True).stdout.split())
    base = {"libc6", "libgcc-s1"}   # in every Debian image
    missing = []
    for lib in needed:
        pkg = _package_of(ldd[lib])
        assert pkg, "no package owns %s" % ldd[lib]
        if pkg not in runtime | base:
            missing.append("%s (%s)" % (lib, pkg))
    assert not missing, "install-deps.sh --runtime lacks: " + ", ".join(missing)
    assert {"libcap2-bin", "curl", "ca-certificates"} <= runtime   # setcap, HEALTHCHECK, https


def test_make_install_destdir(docker_build):
    src, _, _ = docker_build
    dest = src.parent / "root"
    r = subprocess.run(["make", "install", "DESTDIR=%s" % dest], cwd=src, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    binp = dest / "usr/local/bin/tracer-sensor"
    unit = dest / "usr/local/lib/systemd/system/tracer-sensor.service"
    man = dest / "usr/local/share/man/man8/tracer-sensor.8"
    envf = dest / "etc/tracer-sensor/tracer-sensor.env"
    for p, mode in ((binp, 0o755), (unit, 0o644), (man, 0o644), (envf, 0o640)):
        assert p.is_file(), p
        assert p.stat().st_mode & 0o777 == mode, (p, oct(p.stat().st_mode))
    u = unit.read_text()
    assert "ExecStart=/usr/local/bin/tracer-sensor\n" in u
    assert "EnvironmentFile=-/etc/tracer-sensor/tracer-sensor.env\n" in u
    for line in ("AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN", "CapabilityBoundingSet=CAP_NET_RAW CAP_NET_ADMIN",
                 "NoNewPrivileges=yes", "ProtectSystem=strict", "Restart=on-failure",
                 "Documentation=man:tracer-sensor(8)"):
        assert re.search("^%s$" % re.escape(line), u, re.M), line
    assert "@" not in re.sub(r"(?m)^#.*$", "", u), "unsubstituted placeholder"
    # the man page is what the installed binary generates, and it renders cleanly
    gen = subprocess.run([str(binp), "--man"], capture_output=True, text=True, check=True).stdout
    assert man.read_text() == gen
    if shutil.which("groff"):
        g = subprocess.run(["groff", "-man", "-ww", "-z", str(man)], capture_output=True, text=True)
        assert g.returncode == 0 and g.stderr == "", g.stderr
    # a second install keeps an edited env file
    envf.write_text("AGENT_INTERFACE=eth7\n")
    r = subprocess.run(["make", "install", "DESTDIR=%s" % dest], cwd=src, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0 and envf.read_text() == "AGENT_INTERFACE=eth7\n"


def test_make_run_stdout_is_ndjson(docker_build, tmp_path):
    """Issue 18: `make run` as root needs no sudo, and its stdout carries only the events:
    install-deps.sh, the compiler lines and make's own lines go to stderr. One source is
    touched first so that make really compiles and links (and says so, on stderr)."""
    src, _, _ = docker_build
    sc = pcapgen.scenario_udp()
    pcap = tmp_path / sc.filename()
    sc.write(str(pcap))
    fake = tmp_path / "bin"
    fake.mkdir()
    called = tmp_path / "sudo-called"
    (fake / "sudo").write_text("#!/bin/sh\necho \"$@\" >> %s\nexit 1\n" % called)
    (fake / "sudo").chmod(0o755)
    (src / "cmd/main.c").touch()
    # As a user types it: not inside another make (under `make test`, MAKELEVEL would
    # make this make print "Entering directory" itself, as `make -C` does).
    env = {k: v for k, v in clean_env({"AGENT_PCAP_FILE": str(pcap), "AGENT_TOPOLOGY_INTERVAL": "0"}).items()
           if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES")}
    env["PATH"] = "%s:%s" % (fake, os.environ.get("PATH", "/usr/bin:/bin"))
    r = subprocess.run(["make", "run"], cwd=src, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    assert not called.exists(), "make run called sudo as root: " + called.read_text()
    lines = r.stdout.splitlines()
    assert lines, r.stderr[-2000:]
    recs = [json.loads(l) for l in lines]          # every line one JSON object, nothing else
    assert all(isinstance(x, dict) for x in recs)
    flows = sorted((x["flow_id"], x["packet_count"]) for x in recs if x.get("type") == "flow")
    direct = run_sensor(str(src / "build/tracer-sensor"), {"AGENT_PCAP_FILE": str(pcap)})
    assert flows and flows == sorted((x["flow_id"], x["packet_count"]) for x in parse_ndjson(direct.stdout)
                                     if x.get("type") == "flow")
    # make's lines were there, on stderr
    assert re.search(r"(^|\s)-c -o build/obj/cmd/main\.o cmd/main\.c", r.stderr), r.stderr[-2000:]
    assert "make: Entering directory" not in r.stdout + r.stderr and "make[1]" not in r.stdout


def test_systemd_analyze_verify(docker_build):
    """The installed unit passes systemd-analyze verify (its ExecStart and man page exist)."""
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not available on this machine: the unit file was not verified")
    src, _, _ = docker_build
    pre = src.parent / "prefix"
    r = subprocess.run(["make", "install", "PREFIX=%s/usr" % pre, "SYSCONFDIR=%s/etc" % pre], cwd=src,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    unit = pre / "usr/lib/systemd/system/tracer-sensor.service"
    v = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "MANPATH": str(pre / "usr/share/man")})
    assert v.returncode == 0 and "tracer-sensor" not in v.stderr, v.stdout + v.stderr


def test_env_file_lists_every_variable(tracer):
    helpvars = help_settings(tracer)
    seen = {}
    for line in (REPO / "packaging/tracer-sensor.env").read_text().splitlines():
        m = re.fullmatch(r"#?([A-Z][A-Z0-9_]+)=(.*)", line)
        if m:
            assert m.group(1) not in seen, "listed twice: " + m.group(1)
            seen[m.group(1)] = m.group(2)
    assert set(seen) == set(helpvars), (set(seen) ^ set(helpvars))
    for var, val in seen.items():
        assert val in ("", literal_default(var, helpvars[var])), (var, val, helpvars[var])


# ----------------------------------------------------------------------------
# docker-compose.yml


def test_compose(tracer):
    yaml = pytest.importorskip("yaml")
    text = (REPO / "docker-compose.yml").read_text()
    doc = yaml.safe_load(text)
    svc = doc["services"]["tracer-sensor"]
    assert svc["network_mode"] == "host"
    assert sorted(svc["cap_add"]) == ["NET_ADMIN", "NET_RAW"]
    assert re.search(r"^\s*#\s*privileged: true\s*$", text, re.M), "the commented privileged alternative"
    assert "privileged" not in svc
    # restarted after a failure, but not forever (a configuration error, exit 2, fails every time)
    assert re.fullmatch(r"on-failure:[1-9][0-9]?", svc["restart"]), svc["restart"]
    assert svc.get("build") == "." or svc.get("build", {}).get("context") == "."
    envs = svc["environment"]
    assert isinstance(envs, dict)
    helpvars = help_settings(tracer)
    unknown = set(envs) - set(helpvars)
    assert not unknown, "variables the sensor does not know: %s" % sorted(unknown)
    assert set(envs) == set(helpvars), "not listed: %s" % sorted(set(helpvars) - set(envs))
    for var, val in envs.items():
        m = re.fullmatch(r"\$\{([A-Z0-9_]+):-([^}]*)\}", str(val))
        assert m and m.group(1) == var, (var, val)
        if var == "AGENT_METRICS_ADDR":   # on, for the image's HEALTHCHECK (documented in the file)
            assert m.group(2) == "127.0.0.1:9108"
        elif var == "AGENT_SPOOL_DIR":    # the named volume's mount point, so the volume is used
            assert m.group(2) == "/var/lib/tracer-sensor/spool"
            assert "tracer-spool:/var/lib/tracer-sensor/spool" in svc["volumes"]
            assert "tracer-spool" in doc["volumes"]
        else:
            assert m.group(2) in ("", literal_default(var, helpvars[var])), (var, m.group(2), helpvars[var])
    # every variable named anywhere in the file (comments too) is one the sensor knows
    named = set(re.findall(r"\b(AGENT_[A-Z0-9_]+|LOG_[A-Z]+)\b", text))
    assert named <= set(helpvars), sorted(named - set(helpvars))
