"""Issue 7, live: privileges after start-up, interface loss and reopen, a second
SIGTERM during shutdown, SIGHUP reopening the log file.

Each test builds its own two hosts (network namespaces joined by a veth pair,
198.18.x.0/24 addresses); traffic never leaves them. Needs root.
"""
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid

import pytest

import pcapgen
from conftest import clean_env, parse_ndjson, assert_no_sanitizer, run_sensor

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("ip"),
                                reason="needs root and iproute2 for network namespaces")

NOBODY = 65534
NET_CAPS = 0x3000          # CAP_NET_ADMIN (12) | CAP_NET_RAW (13)


class Hosts:
    """Two namespaces a and b, veth x (in a, 198.18.N.1) <-> y (in b, 198.18.N.2)."""

    def __init__(self, net):
        tag = uuid.uuid4().hex[:6]
        self.a, self.b = "tpa" + tag, "tpb" + tag
        self.x, self.y = "tpx" + tag, "tpy" + tag
        self.ip_a, self.ip_b = "198.18.%d.1" % net, "198.18.%d.2" % net
        for ns in (self.a, self.b):
            subprocess.run(["ip", "netns", "add", ns], check=True)
        self.make_link()

    def make_link(self):
        sh = lambda *c: subprocess.run(list(c), check=True)
        sh("ip", "link", "add", self.x, "netns", self.a, "type", "veth", "peer", "name", self.y,
           "netns", self.b)
        sh("ip", "-n", self.a, "addr", "add", self.ip_a + "/24", "dev", self.x)
        sh("ip", "-n", self.b, "addr", "add", self.ip_b + "/24", "dev", self.y)
        for ns, dev in ((self.a, self.x), (self.b, self.y)):
            sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.%s.disable_ipv6=1" % dev)
            sh("ip", "-n", ns, "link", "set", dev, "up")

    def udp_from_b(self, port, count=3):
        code = ("import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                "for i in range(%d): s.sendto(b'x', ('%s', %d))" % (count, self.ip_a, port))
        subprocess.run(["ip", "netns", "exec", self.b, "/usr/bin/python3", "-c", code], check=True)

    def close(self):
        for ns in (self.a, self.b):
            subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)


@pytest.fixture
def hosts(request):
    h = Hosts(40 + (hash(request.node.name) % 50))
    yield h
    h.close()


class Sensor:
    """The sensor live on x inside namespace a; stdout and stderr to files."""

    def __init__(self, tracer, hosts, tmp_path, env=None, prefix=(), log_file=None):
        self.out, self.err = tmp_path / "out.ndjson", tmp_path / "err.log"
        self.log_file = log_file          # where the log goes when AGENT_LOG_FILE is set
        e = clean_env({"AGENT_INTERFACE": hosts.x, "AGENT_TOPOLOGY_INTERVAL": "0", **(env or {})})
        self.proc = subprocess.Popen(["ip", "netns", "exec", hosts.a, *prefix, tracer], env=e,
                                     stdin=subprocess.DEVNULL, stdout=open(self.out, "wb"),
                                     stderr=open(self.err, "wb"))
        self.wait_log("capturing on", 20)

    def stderr(self):
        text = self.err.read_text(errors="replace")
        if self.log_file and self.log_file.exists():
            text += self.log_file.read_text(errors="replace")
        return text

    def wait_log(self, text, timeout):
        end = time.time() + timeout
        while time.time() < end:
            if text in self.stderr():
                return
            if self.proc.poll() is not None:
                raise AssertionError("sensor exited %s:\n%s" % (self.proc.returncode, self.stderr()[-3000:]))
            time.sleep(0.05)
        raise AssertionError("no %r in the log within %d s:\n%s" % (text, timeout, self.stderr()[-3000:]))

    def pid(self):
        """The sensor itself (ip netns exec execs it; setpriv/env exec too)."""
        return self.proc.pid

    def status(self):
        fields = {}
        with open("/proc/%d/status" % self.pid()) as f:
            for line in f:
                k, _, v = line.partition(":")
                fields[k] = v.split()
        return fields

    def stop(self, timeout=30):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout)
        assert_no_sanitizer(self.stderr())
        return rc

    def flows(self):
        return [r for r in parse_ndjson(self.out.read_text()) if r.get("type") == "flow"]

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def summary(stderr):
    line = [l for l in stderr.splitlines() if "msg=summary" in l][-1]
    return {k: int(v) for k, v in re.findall(r" ([a-z_]+)=(\d+)", line)}


def test_started_as_root_switches_to_nobody(tracer, hosts, tmp_path):
    s = Sensor(tracer, hosts, tmp_path, {"AGENT_USER": "nobody"})
    try:
        st = s.status()
        assert st["Uid"] == [str(NOBODY)] * 4 and st["Gid"] == [str(NOBODY)] * 4
        assert st["Groups"] == []
        for k in ("CapPrm", "CapBnd"):
            assert int(st[k][0], 16) == NET_CAPS, (k, st[k])
        assert int(st["CapEff"][0], 16) == 0          # raised per call only (common/caps.h)
        assert int(st["CapInh"][0], 16) == 0 and int(st["CapAmb"][0], 16) == 0
        assert st["NoNewPrivs"] == ["1"]
        # every thread, not only the main one (capabilities are per thread)
        for tid in os.listdir("/proc/%d/task" % s.pid()):
            with open("/proc/%d/task/%s/status" % (s.pid(), tid)) as f:
                caps = dict(l.split(":", 1) for l in f if l.startswith("Cap"))
            assert int(caps["CapPrm"], 16) == NET_CAPS and int(caps["CapBnd"], 16) == NET_CAPS, tid
            assert int(caps["CapEff"], 16) & ~NET_CAPS == 0, tid   # test_privsep.py checks which
        hosts.udp_from_b(5001)
        time.sleep(0.5)
    finally:
        rc = s.stop()
    assert rc == 0, s.stderr()[-2000:]
    assert "msg=privileges user=nobody uid=65534 gid=65534 cap_net_raw=true cap_net_admin=true " \
           "no_new_privs=true" in s.stderr()
    f = [r for r in s.flows() if r["dst_port"] == "5001"]
    assert len(f) == 1 and f[0]["src_ip"] == hosts.ip_b and f[0]["src_packets"] == 3


def test_root_kept_still_loses_other_capabilities(tracer, hosts, tmp_path):
    s = Sensor(tracer, hosts, tmp_path, {"AGENT_USER": "root"})
    try:
        st = s.status()
        assert st["Uid"] == ["0"] * 4
        assert int(st["CapPrm"][0], 16) == NET_CAPS and int(st["CapBnd"][0], 16) == NET_CAPS
        assert int(st["CapEff"][0], 16) == 0
        assert st["NoNewPrivs"] == ["1"]
    finally:
        assert s.stop() == 0


def test_non_root_with_file_capabilities(tracer, hosts, tmp_path):
    if not shutil.which("setcap") or not shutil.which("setpriv"):
        pytest.skip("setcap (libcap2-bin) or setpriv (util-linux) missing")
    d = tmp_path / "bin"
    d.mkdir()
    os.chmod(tmp_path, 0o755)
    os.chmod(d, 0o755)
    binary = d / "tracer-sensor"
    shutil.copy(tracer, binary)
    os.chmod(binary, 0o755)
    subprocess.run(["setcap", "cap_net_raw,cap_net_admin=eip", str(binary)], check=True)
    out = tmp_path / "run"
    out.mkdir()
    os.chmod(out, 0o777)
    s = Sensor(str(binary), hosts, out, {"AGENT_USER": "nobody"},
               prefix=("setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups"))
    try:
        st = s.status()
        assert st["Uid"] == [str(NOBODY)] * 4
        assert int(st["CapEff"][0], 16) == 0 and int(st["CapPrm"][0], 16) == NET_CAPS
        assert st["NoNewPrivs"] == ["1"]
        hosts.udp_from_b(5002)
        time.sleep(0.5)
    finally:
        assert s.stop() == 0
    assert "user=unchanged uid=65534" in s.stderr()
    assert [r["src_packets"] for r in s.flows() if r["dst_port"] == "5002"] == [3]


def test_unknown_user_is_a_configuration_error(tracer, tmp_path):
    p = subprocess.run([tracer], env=clean_env({"AGENT_INTERFACE": "lo", "AGENT_USER": "no-such-user-x"}),
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    assert p.returncode == 2
    assert p.stderr.decode().splitlines()[0] == "AGENT_USER=no-such-user-x: no such user"


def test_spool_dir_must_be_the_users_alone(tracer, tmp_path):
    """Issue 13.4: the spool must be the sensor's user's and not group/other-writable
    (anyone who can write there can make the sensor POST a batch with its token)."""
    spool = tmp_path / "spool"
    spool.mkdir(mode=0o700)                     # root's, not nobody's
    env = clean_env({"AGENT_INTERFACE": "lo", "AGENT_USER": "nobody", "AGENT_SPOOL_DIR": str(spool),
                     "AGENT_ENDPOINT_URL": "http://127.0.0.1:9/x", "AGENT_TOPOLOGY_INTERVAL": "0"})
    p = subprocess.run([tracer], env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    assert p.returncode == 2
    assert p.stderr.decode().splitlines()[0] == (
        "AGENT_SPOOL_DIR=%s: must be owned by the sensor's user (uid 65534, AGENT_USER=nobody) and not "
        "writable by group or others; it is owned by uid 0 with mode 0700" % spool)
    # nobody's, but writable by every other user (the state before: accepted)
    os.chown(spool, NOBODY, NOBODY)
    os.chmod(spool, 0o777)
    p = subprocess.run([tracer], env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    assert p.returncode == 2
    assert p.stderr.decode().splitlines()[0] == (
        "AGENT_SPOOL_DIR=%s: must be owned by the sensor's user (uid 65534, AGENT_USER=nobody) and not "
        "writable by group or others; it is owned by uid 65534 with mode 0777" % spool)


@pytest.fixture
def nobody_dir():
    """A fresh directory under /tmp that nobody can reach and owns (pytest's own
    temporary tree is root's alone)."""
    d = tempfile.mkdtemp(prefix="test_privileges-%d-" % os.getpid())
    os.chmod(d, 0o755)
    os.chown(d, NOBODY, NOBODY)
    yield pathlib.Path(d)
    shutil.rmtree(d, ignore_errors=True)


def test_spool_as_nobody_replayed_after_restart(tracer, nobody_dir, tmp_path):
    """Started as root for AGENT_USER=nobody: the key the root part makes is handed
    to nobody, the batches nobody spools verify at the next start (as root again)."""
    pcap = tmp_path / "udp.pcap"
    pcapgen.scenario_mixed().write(str(pcap))
    os.chmod(tmp_path, 0o755)
    spool = nobody_dir / "spool"
    spool.mkdir(mode=0o700)
    os.chown(spool, NOBODY, NOBODY)
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    port = srv.getsockname()[1]
    srv.close()                                 # nothing listens: every POST fails
    env = {"AGENT_PCAP_FILE": str(pcap), "AGENT_USER": "nobody", "AGENT_SPOOL_DIR": str(spool),
           "AGENT_ENDPOINT_URL": "http://127.0.0.1:%d/x" % port, "AGENT_SHUTDOWN_TIMEOUT": "1s",
           "AGENT_RETRY_BASE": "10ms", "AGENT_TOPOLOGY_INTERVAL": "0", "AGENT_STATS_INTERVAL": "0"}
    r = run_sensor(tracer, env, check=False)
    assert r.rc == 3, r.stderr[-3000:]          # left in the spool
    key = os.stat(spool / ".spool-key")
    assert (key.st_uid, key.st_mode & 0o7777, key.st_size) == (NOBODY, 0o600, 32)
    batches = sorted(n for n in os.listdir(spool) if n.endswith(".batch"))
    assert batches, os.listdir(spool)
    for n in batches:
        st = os.stat(spool / n)
        assert (st.st_uid, st.st_mode & 0o777) == (NOBODY, 0o600), n
    # second start: everything is still trusted (nothing moved aside) and waits again
    r2 = run_sensor(tracer, env, check=False)
    assert r2.rc == 3, r2.stderr[-3000:]
    assert "holds %d batches" % len(batches) in r2.stderr
    assert not [n for n in os.listdir(spool) if n.endswith(".corrupt")]


def test_log_file_symlink_refused(tracer, nobody_dir):
    """Issue 13.5: a link planted where the log file goes is not followed (before,
    root appended to its target, or created it)."""
    target = nobody_dir / "root-owned"
    target.write_bytes(b"precious\n")
    os.chmod(target, 0o600)
    log = nobody_dir / "sensor.log"
    os.symlink(target, log)
    env = clean_env({"AGENT_INTERFACE": "lo", "AGENT_USER": "nobody", "AGENT_LOG_FILE": str(log),
                     "AGENT_TOPOLOGY_INTERVAL": "0"})
    p = subprocess.run([tracer], env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    assert p.returncode == 2, p.stderr.decode()[-2000:]
    assert p.stderr.decode().splitlines()[0] == (
        "AGENT_LOG_FILE=%s: is a symbolic link: refused (the log file is opened before the privilege "
        "drop; give the real path)" % log)
    assert target.read_bytes() == b"precious\n" and os.stat(target).st_uid == 0
    # a dangling link: nothing is created through it
    os.unlink(log)
    os.symlink(nobody_dir / "made-by-root", log)
    p = subprocess.run([tracer], env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    assert p.returncode == 2
    assert not (nobody_dir / "made-by-root").exists()
    # another user's file (nobody's, not root's: AGENT_USER=root here) is refused too
    os.unlink(log)
    log.write_bytes(b"")
    os.chown(log, NOBODY, NOBODY)
    env["AGENT_USER"] = "root"
    p = subprocess.run([tracer], env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    assert p.returncode == 2
    assert p.stderr.decode().splitlines()[0] == (
        "AGENT_LOG_FILE=%s: is owned by uid 65534: refused (must be owned by the sensor's user, uid 0)" % log)
    assert log.read_bytes() == b""


def test_log_rotation_after_the_drop(tracer, hosts, nobody_dir, tmp_path):
    """Issue 13.5: the log file root opens is handed to AGENT_USER, so logrotate's
    `create` (a new file with the old one's owner and mode) and a plain mv both
    work with SIGHUP after the drop (before: root's 0600 file, "Permission denied")."""
    log = nobody_dir / "sensor.log"
    s = Sensor(tracer, hosts, tmp_path, {"AGENT_USER": "nobody", "AGENT_LOG_FILE": str(log)}, log_file=log)
    try:
        st = os.stat(log)
        assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (NOBODY, NOBODY, 0o600)
        # logrotate `create`: move, then a new empty file like the old one
        os.rename(log, nobody_dir / "sensor.log.1")
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_EXCL, st.st_mode & 0o777)
        os.fchown(fd, st.st_uid, st.st_gid)
        os.close(fd)
        s.proc.send_signal(signal.SIGHUP)
        end = time.time() + 10
        while "SIGHUP: log file reopened" not in log.read_text() and time.time() < end:
            time.sleep(0.05)
        assert "SIGHUP: log file reopened" in log.read_text(), \
            (nobody_dir / "sensor.log.1").read_text()[-2000:]
        # a plain mv: the sensor (as nobody) creates the new file itself
        os.rename(log, nobody_dir / "sensor.log.2")
        s.proc.send_signal(signal.SIGHUP)
        end = time.time() + 10
        while not log.exists() and time.time() < end:
            time.sleep(0.05)
        assert log.exists(), (nobody_dir / "sensor.log.2").read_text()[-2000:]
        hosts.udp_from_b(8101)
        time.sleep(0.3)
    finally:
        s.log_file = None
        assert s.stop() == 0
    new = log.read_text()
    assert "SIGHUP: log file reopened" in new and "msg=summary" in new
    assert os.stat(log).st_uid == NOBODY
    assert "capturing on" in (nobody_dir / "sensor.log.1").read_text()


def test_interface_lost_and_back(tracer, hosts, tmp_path):
    s = Sensor(tracer, hosts, tmp_path, {"AGENT_USER": "nobody"})
    try:
        hosts.udp_from_b(6001)
        time.sleep(0.3)
        # down and up: the handle survives, nothing to reopen
        subprocess.run(["ip", "-n", hosts.a, "link", "set", hosts.x, "down"], check=True)
        time.sleep(0.5)
        subprocess.run(["ip", "-n", hosts.a, "link", "set", hosts.x, "up"], check=True)
        time.sleep(1.0)
        hosts.udp_from_b(6002)
        time.sleep(0.3)
        # removed: the handle fails; it is reopened (as nobody, with CAP_NET_RAW) once it is back
        subprocess.run(["ip", "-n", hosts.a, "link", "del", hosts.x], check=True)
        s.wait_log("The interface disappeared", 10)
        time.sleep(1.0)
        hosts.make_link()
        s.wait_log("reopened after", 15)
        hosts.udp_from_b(6003)
        time.sleep(0.5)
    finally:
        rc = s.stop()
    assert rc == 0, s.stderr()[-2000:]
    err = s.stderr()
    assert len(re.findall(r"failed: The interface disappeared; reopening it with backoff", err)) == 1
    sm = summary(err)
    assert sm["interface_lost"] == 1 and sm["reopens"] == 1
    ports = sorted(r["dst_port"] for r in s.flows() if r["protocol"] == "UDP")
    assert ports == ["6001", "6002", "6003"]
    assert all(r["src_packets"] == 3 for r in s.flows() if r["protocol"] == "UDP")


def test_interface_down_at_start_is_waited_for(tracer, hosts, tmp_path):
    """Issue 18: an interface that exists but is down at start is no error (it used to exit 1,
    "That device is not up: That device is not up"): the sensor says once that it waits, opens
    it when it comes up, and its traffic makes flows."""
    subprocess.run(["ip", "-n", hosts.a, "link", "set", hosts.x, "down"], check=True)
    s = Sensor(tracer, hosts, tmp_path, {"AGENT_USER": "nobody"})
    try:
        s.wait_log("is not up; waiting for it to come up", 10)
        assert "(link type not known until it is up)" in s.stderr()
        time.sleep(1.0)                       # a few quiet attempts while it is down
        subprocess.run(["ip", "-n", hosts.a, "link", "set", hosts.x, "up"], check=True)
        s.wait_log("capture on %s opened (it came up) after" % hosts.x, 40)
        hosts.udp_from_b(6004)
        time.sleep(0.5)
    finally:
        rc = s.stop()
    assert rc == 0, s.stderr()[-2000:]
    err = s.stderr()
    assert err.count("%s is not up; waiting for it to come up" % hosts.x) == 1, err[-2000:]
    assert "That device is not up" not in err and "cannot reopen" not in err, err[-2000:]
    sm = summary(err)
    assert sm["interface_lost"] == 0 and sm["reopens"] == 0
    udp = [r for r in s.flows() if r["protocol"] == "UDP"]
    assert [(r["dst_port"], r["src_packets"], r["dst_packets"]) for r in udp] == [("6004", 3, 0)], udp


def test_second_sigterm_exits_at_once(tracer, hosts, tmp_path):
    # The endpoint never answers (a listener that accepts and says nothing), so the
    # flush would wait the whole 60 s shutdown timeout; the second SIGTERM cuts it short.
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    port = srv.getsockname()[1]
    try:
        s = Sensor(tracer, hosts, tmp_path, {
            "AGENT_USER": "root", "AGENT_ENDPOINT_URL": "http://127.0.0.1:%d/x" % port,
            "AGENT_SHUTDOWN_TIMEOUT": "60s", "AGENT_REQUEST_TIMEOUT": "60s", "AGENT_BATCH_SIZE": "1"})
        try:
            hosts.udp_from_b(7001)
            hosts.udp_from_b(7002)
            time.sleep(0.5)
            s.proc.send_signal(signal.SIGTERM)
            s.wait_log("ending every open flow", 10)
            time.sleep(1.0)
            assert s.proc.poll() is None, "exited before the second signal"
            t0 = time.time()
            s.proc.send_signal(signal.SIGTERM)
            rc = s.proc.wait(10)
            took = time.time() - t0
        finally:
            s.kill()
    finally:
        srv.close()
    assert rc == 4, s.stderr()[-2000:]
    assert took < 5, took
    line = [l for l in s.stderr().splitlines() if "second signal during shutdown" in l]
    assert len(line) == 1, s.stderr()[-2000:]
    f = dict(re.findall(r" ([a-z_]+)=(\d+)", line[0]))
    # Two flows became events; none delivered: one in the POST that hangs, the
    # rest waiting in memory (the in-flight one counts as queued until answered).
    assert f["events_delivered"] == "0"
    assert int(f["events_in_memory_queue"]) + int(f["events_in_rings"]) >= 2
    assert "signal=SIGTERM" in line[0]


def test_sighup_reopens_the_log_file(tracer, hosts, tmp_path):
    log = tmp_path / "sensor.log"
    s = Sensor(tracer, hosts, tmp_path, {"AGENT_USER": "root", "AGENT_LOG_FILE": str(log)}, log_file=log)
    try:
        assert (os.stat(log).st_mode & 0o777) == 0o600
        rotated = tmp_path / "sensor.log.1"
        os.rename(log, rotated)
        s.proc.send_signal(signal.SIGHUP)
        end = time.time() + 10
        while not log.exists() and time.time() < end:
            time.sleep(0.05)
        assert log.exists(), "SIGHUP did not reopen the log file"
        hosts.udp_from_b(8001)
        time.sleep(0.3)
    finally:
        s.log_file = None
        assert s.stop() == 0
    old, new = rotated.read_text(), log.read_text()
    assert "capturing on" in old and "capturing on" not in new
    assert "SIGHUP: log file reopened" in new and "msg=summary" in new
    assert (os.stat(log).st_mode & 0o777) == 0o600


def test_secret_flags_warn(tracer, tmp_path):
    """Issue 13.8: --auth-token and --hmac-key show in /proc/PID/cmdline to every
    local user; the sensor says so and names the _FILE forms (never the value)."""
    pcap = tmp_path / "empty.pcap"
    pcapgen.write_pcap(str(pcap), [])
    r = run_sensor(tracer, {"AGENT_PCAP_FILE": str(pcap)}, args=("--auth-token=s3cr3t-tok", "--hmac-key", "k3y"))
    warns = [l for l in r.stderr.splitlines() if "level=warn" in l and "command line" in l]
    assert warns == [
        'ts=%s level=warn msg="--auth-token: a secret on the command line is readable by every local user '
        '(ps, /proc/PID/cmdline); use --auth-token-file or AGENT_AUTH_TOKEN_FILE instead"' % warns[0][3:27],
        'ts=%s level=warn msg="--hmac-key: a secret on the command line is readable by every local user '
        '(ps, /proc/PID/cmdline); use --hmac-key-file or AGENT_HMAC_KEY_FILE instead"' % warns[1][3:27],
    ], r.stderr[-3000:]
    assert "s3cr3t-tok" not in r.stderr and "k3y" not in r.stderr


def test_sigusr1_logs_the_counters_and_goes_on(tracer, hosts, tmp_path):
    """Issue 17.5: SIGUSR1 logs one line with the summary's counters (pmacct's habit)
    instead of killing the sensor (its default action), as often as it is sent."""
    # no ICMP port unreachable from a: the UDP packets are then the only ones on the link
    subprocess.run(["ip", "netns", "exec", hosts.a, "nft", "add table inet usr1; add chain inet usr1 out "
                    "{ type filter hook output priority 0; }; add rule inet usr1 out icmp type "
                    "destination-unreachable drop"], check=True)
    s = Sensor(tracer, hosts, tmp_path, {"AGENT_USER": "root"})
    try:
        hosts.udp_from_b(8201, count=5)
        counters = None
        end = time.time() + 20
        while time.time() < end:
            s.proc.send_signal(signal.SIGUSR1)
            time.sleep(0.2)
            assert s.proc.poll() is None, "SIGUSR1 ended the sensor:\n" + s.stderr()[-2000:]
            lines = [l for l in s.stderr().splitlines() if 'msg="counters (SIGUSR1)"' in l]
            if lines:
                counters = {k: int(v) for k, v in re.findall(r" ([a-z_]+)=(\d+)", lines[-1])}
                if counters["decoded"] == 5:
                    break
        assert counters and counters["decoded"] == 5, counters
        assert counters["flows"] == 1 and counters["events_failed"] == 0, counters
        hosts.udp_from_b(8202, count=2)
        time.sleep(0.3)
    finally:
        assert s.stop() == 0
    final = summary(s.stderr())
    assert set(final) == set(counters), (set(final) ^ set(counters))   # the same fields
    assert final["decoded"] == 7 and final["flows"] == 2, final
    assert len(s.flows()) == 2
