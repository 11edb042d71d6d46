"""End-to-end tests of the SNMP hooks: the poller against Debian's snmpd (v2c
community and v3 authPriv user, lldpd as its AgentX subagent in a private
network namespace), and the trap receiver fed by Debian's snmptrap/snmpinform.

The sensor runs live on lo with a BPF filter that matches nothing of ours
("port 1"), so only hook events reach its stdout; it is stopped with SIGTERM.
Every value the poller reports is compared with what snmpget/snmpwalk print
for the same agent. Everything listens on 127.0.0.1 high ports.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import assert_no_sanitizer, clean_env, log_message, log_record

COMMUNITY = "e2eSecretComm"
V3_USER, V3_AUTH, V3_PRIV = "e2euser", "e2eAuthPass1", "e2ePrivPass1"
TRAP_USER, TRAP_AUTH, TRAP_PRIV = "trapuser", "trapAuthPass1", "trapPrivPass1"
TRAP_ENGINE = "0x8000000001020304"
SECRETS = (COMMUNITY, V3_AUTH, V3_PRIV, TRAP_AUTH, TRAP_PRIV, "wrongPassword1", "trapComm1")

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("snmpd"),
                                reason="needs root (live capture on lo) and snmpd")


def free_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def tool_env(tmp):
    """Environment for net-snmp tools: no MIBs, no user config, state in tmp."""
    e = clean_env({"MIBS": "", "MIBDIRS": str(tmp), "SNMPCONFPATH": str(tmp / "toolconf"),
                   "SNMP_PERSISTENT_DIR": str(tmp / "toolstate")})
    (tmp / "toolconf").mkdir(exist_ok=True)
    (tmp / "toolstate").mkdir(exist_ok=True)
    return e


def tool(tmp, *args, check=True):
    p = subprocess.run(list(args), env=tool_env(tmp), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=20)
    if check:
        assert p.returncode == 0, "%s failed: %s" % (args[0], p.stderr.decode()[-2000:])
    return p.stdout.decode("utf-8", "replace")


# ---------------------------------------------------------------------------
# snmpd (+ lldpd) fixture

class Agent:
    def __init__(self, tmp):
        self.tmp = tmp
        self.port = free_udp_port()
        self.addr = "127.0.0.1:%d" % self.port
        self.lldp = False
        self.lldp_why = None

    def get(self, *oids):
        return tool(self.tmp, "snmpget", "-v2c", "-c", COMMUNITY, "-On", "-Oe", "-Ot", "-t", "2",
                    self.addr, *oids)

    def walk(self, oid, hexout=False):
        """snmpbulkwalk; hexout: octet strings always in hex (for MAC columns)."""
        return tool(self.tmp, "snmpbulkwalk", "-v2c", "-c", COMMUNITY, "-On", "-Oe", "-Ot",
                    *(["-Ox"] if hexout else []), self.addr, oid)


LINE = re.compile(r"^\.?([\d.]+) = (?:(\w[\w-]*): )?(.*)$")


def parse_tool(text):
    """{oid: (type, raw value text)} from -On output (multi-line Hex-STRINGs joined)."""
    out, last = {}, None
    for line in text.splitlines():
        m = LINE.match(line)
        if m:
            last = m.group(1)
            out[last] = [m.group(2) or "", m.group(3)]
        elif last:
            out[last][1] += " " + line.strip()
    return {k: (t, v.strip()) for k, (t, v) in out.items()}


def tool_value(t, v):
    """The sensor's readable form of a tool value (for the types the tests use)."""
    if t in ("INTEGER", "Counter32", "Counter64", "Gauge32", "Timeticks"):
        return int(v.split()[0])
    if t == "STRING":
        return v[1:-1] if v.startswith('"') else v
    if t in ("Hex-STRING",):
        return ":".join(v.lower().split())
    if t == "OID":
        return v.lstrip(".")
    if t == "" and v == '""':
        return ""
    return v


def spawn_snmpd(tmp, port, community, conf_text):
    """snmpd run from conf_text (written to tmp/snmpd.conf; its state and log in tmp): the process,
    once it answers a v2c get for `community` on 127.0.0.1:port. Also used by test_reload.py."""
    conf = tmp / "snmpd.conf"
    conf.write_text(conf_text)
    (tmp / "state").mkdir()
    env = tool_env(tmp)
    env["SNMP_PERSISTENT_DIR"] = str(tmp / "state")
    with open(tmp / "snmpd.log", "wb") as log:
        snmpd = subprocess.Popen(["snmpd", "-f", "-Lo", "-C", "-c", str(conf), "-p", str(tmp / "snmpd.pid")],
                                 env=env, stdout=log, stderr=log)
    for _ in range(100):
        if snmpd.poll() is not None:
            pytest.fail("snmpd exited: %s" % (tmp / "snmpd.log").read_text()[-2000:])
        p = subprocess.run(["snmpget", "-v2c", "-c", community, "-t", "0.3", "-r", "0", "127.0.0.1:%d" % port,
                            "1.3.6.1.2.1.1.5.0"], env=tool_env(tmp), capture_output=True)
        if p.returncode == 0:
            return snmpd
        time.sleep(0.1)
    snmpd.terminate()
    snmpd.wait(5)
    pytest.fail("snmpd did not answer")


def start_snmpd(tmp):
    """snmpd on a free port of 127.0.0.1 (v2c community, v3 users, AgentX master): (Agent, process),
    once it answers. Also used by test_api.py."""
    a = Agent(tmp)
    sock = tmp / "agentx.sock"
    conf = ("agentaddress udp:127.0.0.1:%d\n"
            "rocommunity %s 127.0.0.1\n"
            'createUser %s SHA "%s" AES "%s"\n'
            'createUser %s2 SHA "%s" AES "%s"\n'
            "rouser %s authpriv\nrouser %s2 authpriv\n"
            "sysLocation E2E-Lab\nsysContact e2e@example.com\n"
            "master agentx\nagentXSocket %s\nagentXPerms 0777 0777\n"
            % (a.port, COMMUNITY, V3_USER, V3_AUTH, V3_PRIV, V3_USER, V3_AUTH, V3_PRIV, V3_USER, V3_USER, sock))
    return a, spawn_snmpd(tmp, a.port, COMMUNITY, conf)


@pytest.fixture(scope="module")
def agent(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("snmpd")
    sock = tmp / "agentx.sock"
    a, snmpd = start_snmpd(tmp)
    procs = [snmpd]
    netns = "tracer-e2e-%d" % os.getpid()
    try:
        # lldpd as AgentX subagent, in its own network namespace with a veth pair, so its two
        # ports see each other as LLDP neighbours without touching the host's interfaces.
        if shutil.which("lldpd") and shutil.which("ip"):
            ok = subprocess.run(["ip", "netns", "add", netns], capture_output=True).returncode == 0
            for cmd in (["link", "add", "va", "type", "veth", "peer", "name", "vb"], ["link", "set", "va", "up"],
                        ["link", "set", "vb", "up"]):
                ok = ok and subprocess.run(["ip", "-n", netns] + cmd, capture_output=True).returncode == 0
            if ok:
                llog = open(tmp / "lldpd.log", "wb")
                lldpd = subprocess.Popen(["ip", "netns", "exec", netns, "lldpd", "-d", "-x", "-X", str(sock),
                                          "-u", str(tmp / "lldpd.ctl"), "-I", "va,vb", "-O", "/dev/null"],
                                         stdout=llog, stderr=llog)
                procs.append(lldpd)
                deadline = time.time() + 20
                while time.time() < deadline:
                    if len(parse_tool(a.walk("1.0.8802.1.1.2.1.4.1.1.9"))) >= 2:
                        a.lldp = True
                        break
                    time.sleep(0.5)
                if not a.lldp:
                    a.lldp_why = "no LLDP neighbours via AgentX: " + (tmp / "lldpd.log").read_text()[-500:]
            else:
                a.lldp_why = "cannot create a network namespace with a veth pair"
        else:
            a.lldp_why = "lldpd or ip not installed"
        yield a
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
        subprocess.run(["ip", "netns", "del", netns], capture_output=True)


# ---------------------------------------------------------------------------
# running the sensor live until its hook events satisfy a condition

class Sensor:
    def __init__(self, tracer, env):
        e = {"AGENT_INTERFACE": "lo", "AGENT_BPF_FILTER": "port 1", "AGENT_SEND_INTERVAL": "0.05"}
        e.update(env)
        self.proc = subprocess.Popen([tracer], env=clean_env(e), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.events = []
        self.lock = threading.Lock()
        self.err = b""
        self.t_out = threading.Thread(target=self._read_out, daemon=True)
        self.t_err = threading.Thread(target=self._read_err, daemon=True)
        self.t_out.start()
        self.t_err.start()

    def _read_out(self):
        for line in self.proc.stdout:
            ev = json.loads(line)
            with self.lock:
                self.events.append(ev)

    def _read_err(self):
        self.err = self.proc.stderr.read()

    def of(self, type_, **match):
        with self.lock:
            return [e for e in self.events if e.get("type") == type_
                    and all(e.get(k) == v for k, v in match.items())]

    def wait_for(self, cond, timeout, what):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if cond():
                return
            assert self.proc.poll() is None, "sensor exited early: %s" % self.err.decode()[-3000:]
            time.sleep(0.05)
        self.stop()
        pytest.fail("timed out waiting for %s; stderr:\n%s" % (what, self.stderr[-3000:]))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=20)
        self.t_out.join(5)
        self.t_err.join(5)
        self.stderr = self.err.decode("utf-8", "replace")
        assert_no_sanitizer(self.stderr)
        return rc

    def stdout_text(self):
        with self.lock:
            return "\n".join(json.dumps(e) for e in self.events)


def write_config(tmp, doc):
    p = tmp / "snmp.json"
    p.write_text(json.dumps(doc))
    return str(p)


def assert_no_secrets(sensor):
    blob = sensor.stdout_text() + sensor.stderr
    for s in SECRETS:
        assert s not in blob, "a credential leaked into the sensor's output"


# ---------------------------------------------------------------------------
# the poller

IF_COLS = {"descr": "2", "type": "3", "mtu": "4", "mac": "6", "admin_status": "7", "oper_status": "8"}
ADMIN = {1: "up", 2: "down", 3: "testing"}
OPER = {1: "up", 2: "down", 3: "testing", 4: "unknown", 5: "dormant", 6: "notPresent", 7: "lowerLayerDown"}


def test_poll_against_snmpget(tracer, agent, tmp_path):
    before = parse_tool(agent.walk("1.3.6.1.2.1.31.1.1.1.6"))   # ifHCInOctets
    cfg = write_config(tmp_path, {"targets": [
        {"name": "v2", "host": "127.0.0.1", "port": agent.port, "version": "2c", "community": COMMUNITY,
         "interval": 2, "timeout": 1, "retries": 0, "collect": ["system", "interfaces", "arp", "lldp"],
         "oids": ["1.3.6.1.2.1.1.5.0", "1.3.6.1.2.1.1.6.0", "1.3.6.1.2.1.1.99.0"]},
        {"name": "v3", "host": "127.0.0.1", "port": agent.port, "version": "3", "username": V3_USER,
         "security_level": "authPriv", "auth_protocol": "SHA", "auth_password": V3_AUTH,
         "priv_protocol": "AES", "priv_password": V3_PRIV, "interval": 2, "collect": ["system"],
         "oids": ["1.3.6.1.2.1.1.4.0"]},
        # another user: net-snmp keeps one key set per (engine, user), see the README
        {"name": "v3bad", "host": "127.0.0.1", "port": agent.port, "version": "3", "username": V3_USER + "2",
         "auth_protocol": "SHA", "auth_password": "wrongPassword1", "priv_protocol": "AES",
         "priv_password": V3_PRIV, "interval": 2, "timeout": 1, "retries": 0},
        {"name": "dead", "host": "127.0.0.1", "port": free_udp_port(), "community": COMMUNITY,
         "interval": 2, "timeout": 3, "retries": 0},
    ]})
    s = Sensor(tracer, {"AGENT_SNMP_CONFIG": cfg, "AGENT_SNMP_CONCURRENCY": "3"})
    s.wait_for(lambda: len(s.of("snmp", target="v2")) >= 3 and s.of("snmp", target="v3")
               and s.of("snmp", target="v3bad") and s.of("snmp", target="dead"), 20, "polls of every target")
    assert s.stop() == 0
    after = parse_tool(agent.walk("1.3.6.1.2.1.31.1.1.1.6"))
    assert_no_secrets(s)

    v2 = s.of("snmp", target="v2")
    ev = v2[0]
    for k in ("event_id", "timestamp", "hostname"):
        assert ev[k]
    assert ev["ok"] is True and ev["error"] is None and ev["version"] == "2c"
    assert ev["host"] == "127.0.0.1" and ev["port"] == agent.port
    assert isinstance(ev["duration_ms"], int) and 0 <= ev["duration_ms"] < 1000

    # system group
    sysv = parse_tool(agent.get(*["1.3.6.1.2.1.1.%d.0" % i for i in (1, 2, 4, 5, 6)]))
    assert ev["system"]["descr"] == tool_value(*sysv["1.3.6.1.2.1.1.1.0"])
    assert ev["system"]["object_id"] == tool_value(*sysv["1.3.6.1.2.1.1.2.0"])
    assert ev["system"]["contact"] == "e2e@example.com" == tool_value(*sysv["1.3.6.1.2.1.1.4.0"])
    assert ev["system"]["name"] == tool_value(*sysv["1.3.6.1.2.1.1.5.0"])
    assert ev["system"]["location"] == "E2E-Lab"
    assert isinstance(ev["system"]["uptime"], int)

    # interfaces: every row of ifTable, joined with ifXTable
    rows = {r["index"]: r for r in ev["interfaces"]}
    descr = parse_tool(agent.walk("1.3.6.1.2.1.2.2.1.2"))
    assert sorted(rows) == sorted(int(o.rsplit(".", 1)[1]) for o in descr)
    for key, col in IF_COLS.items():
        for oid, (t, v) in parse_tool(agent.walk("1.3.6.1.2.1.2.2.1." + col, hexout=key == "mac")).items():
            idx = int(oid.rsplit(".", 1)[1])
            want = tool_value(t, v)
            if key == "admin_status":
                want = ADMIN[want]
            elif key == "oper_status":
                want = OPER[want]
            assert rows[idx][key] == want, "ifIndex %d %s: %r, snmpwalk %r" % (idx, key, rows[idx][key], want)
    for oid, (t, v) in parse_tool(agent.walk("1.3.6.1.2.1.31.1.1.1.1")).items():
        assert rows[int(oid.rsplit(".", 1)[1])]["name"] == tool_value(t, v)
    for oid, (t, v) in before.items():
        idx = int(oid.rsplit(".", 1)[1])
        assert rows[idx]["counters_64bit"] is True
        assert int(v) <= rows[idx]["in_octets"] <= int(after[oid][1]), "ifHCInOctets.%d out of range" % idx

    # arp: ipNetToPhysicalTable and ipNetToMediaTable merged
    want = set()
    for oid, (t, v) in parse_tool(agent.walk("1.3.6.1.2.1.4.35.1.4", hexout=True)).items():
        sub = [int(x) for x in oid.split(".")[10:]]
        ifindex, atype, alen, addr = sub[0], sub[1], sub[2], sub[3:]
        ip = (socket.inet_ntop(socket.AF_INET, bytes(addr)) if atype == 1
              else socket.inet_ntop(socket.AF_INET6, bytes(addr)))
        want.add((ifindex, ip, tool_value(t, v)))
    for oid, (t, v) in parse_tool(agent.walk("1.3.6.1.2.1.4.22.1.2", hexout=True)).items():
        sub = oid.split(".")[10:]
        want.add((int(sub[0]), ".".join(sub[1:]), tool_value(t, v)))
    got = {(r["ifindex"], r["ip"], r["mac"]) for r in ev["arp"]}
    assert got == want
    for r in ev["arp"]:
        assert r["family"] in ("ipv4", "ipv6") and isinstance(r["type"], str)

    # plain GETs, a missing OID as nosuchobject
    assert ev["oids"] == [
        {"oid": "1.3.6.1.2.1.1.5.0", "type": "string", "value": ev["system"]["name"]},
        {"oid": "1.3.6.1.2.1.1.6.0", "type": "string", "value": "E2E-Lab"},
        {"oid": "1.3.6.1.2.1.1.99.0", "type": "nosuchobject", "value": None}]

    # lldp through lldpd's AgentX subagent
    assert isinstance(ev["lldp"], list)
    if agent.lldp:
        names = parse_tool(agent.walk("1.0.8802.1.1.2.1.4.1.1.9"))
        pdesc = parse_tool(agent.walk("1.0.8802.1.1.2.1.4.1.1.8"))
        chassis = parse_tool(agent.walk("1.0.8802.1.1.2.1.4.1.1.5", hexout=True))
        assert len(ev["lldp"]) == len(names) >= 2
        by = {(r["local_port_num"], r["remote_index"]): r for r in ev["lldp"]}
        for oid, tv in names.items():
            tm, lp, ri = oid.split(".")[-3:]
            r = by[(int(lp), int(ri))]
            assert r["system_name"] == tool_value(*tv)
            assert r["port_description"] == tool_value(*pdesc[oid.replace(".1.1.9.", ".1.1.8.")])
            assert r["chassis_id"] == tool_value(*chassis[oid.replace(".1.1.9.", ".1.1.5.")])
            assert r["chassis_id_subtype"] == "macAddress"
            assert r["local_port"] in ("va", "vb") and r["local_port"] != r["port_description"]
            assert r["management_addresses"] and all(":" in m or "." in m for m in r["management_addresses"])
    else:
        print("LLDP not checked:", agent.lldp_why)

    # v3 authPriv
    v3 = s.of("snmp", target="v3")[0]
    assert v3["ok"] is True and v3["version"] == "3"
    assert v3["system"]["name"] == ev["system"]["name"]
    assert v3["oids"] == [{"oid": "1.3.6.1.2.1.1.4.0", "type": "string", "value": "e2e@example.com"}]
    # wrong v3 password: an auth failure, no data
    bad = s.of("snmp", target="v3bad")[0]
    assert bad["ok"] is False and bad["error"] == "auth failure" and "system" not in bad
    # the dead target times out...
    dead = s.of("snmp", target="dead")[0]
    assert dead["ok"] is False and dead["error"] == "timeout" and dead["duration_ms"] >= 2900
    # ...without delaying the live target: its polls keep their 2 s rhythm and stay fast.
    times = [time.mktime(time.strptime(e["timestamp"][:19], "%Y-%m-%dT%H:%M:%S")) + float(e["timestamp"][19:23])
             for e in v2]
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert gaps and all(1.5 <= g <= 2.6 for g in gaps), gaps
    assert all(e["ok"] and e["duration_ms"] < 1000 for e in v2)
    # the counters are fields of the line, not JSON inside the message
    stats = {k: int(v) for k, v in log_record(s.stderr, "snmp poller stopped").items() if k.startswith("snmp_")}
    assert stats["snmp_timeouts"] >= 1 and stats["snmp_auth_failures"] >= 1 and stats["snmp_polls_ok"] >= 4


# ---------------------------------------------------------------------------
# the trap receiver

def capture_datagram(tmp, *args):
    """What snmptrap sends for `args` (with the destination filled in), as bytes."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(5)
    tool(tmp, *args[:4], "127.0.0.1:%d" % s.getsockname()[1], *args[4:])
    data = s.recv(65535)
    s.close()
    return data


def test_traps(tracer, tmp_path):
    port = free_udp_port()
    dest = "127.0.0.1:%d" % port
    cfg = write_config(tmp_path, {"trap_users": [
        {"username": TRAP_USER, "auth_protocol": "SHA256", "auth_password": TRAP_AUTH,
         "priv_protocol": "AES", "priv_password": TRAP_PRIV, "engine_id": TRAP_ENGINE}]})
    s = Sensor(tracer, {"AGENT_TRAP_LISTEN": dest, "AGENT_TRAP_COMMUNITIES": "trapComm1, other",
                        "AGENT_SNMP_CONFIG": cfg})
    try:
        wait_bound(port)   # not a fixed sleep: the first trap must not arrive before the socket exists
        t = tmp_path
        tool(t, "snmptrap", "-v1", "-c", "trapComm1", dest, "1.3.6.1.4.1.9999", "127.0.0.9", "6", "42", "1234",
             "1.3.6.1.4.1.9999.1", "s", "v1 hello")
        tool(t, "snmptrap", "-v1", "-c", "other", dest, "1.3.6.1.4.1.9999", "127.0.0.10", "3", "0", "55")
        tool(t, "snmptrap", "-v2c", "-c", "trapComm1", dest, "5678", "1.3.6.1.6.3.1.1.5.3",
             "1.3.6.1.2.1.2.2.1.1.7", "i", "7", "1.3.6.1.4.1.9999.3", "x", "00ff10")
        # snmpinform exits 0 only when the inform was acknowledged
        tool(t, "snmpinform", "-v2c", "-c", "trapComm1", "-t", "2", "-r", "1", dest, "777",
             "1.3.6.1.4.1.9999.0.7", "1.3.6.1.4.1.9999.2", "c", "99")
        v3 = ["-v3", "-u", TRAP_USER, "-l", "authPriv", "-a", "SHA-256", "-A", TRAP_AUTH, "-x", "AES",
              "-X", TRAP_PRIV]
        tool(t, "snmptrap", *v3, "-e", TRAP_ENGINE, dest, "4321", "1.3.6.1.4.1.9999.0.11",
             "1.3.6.1.4.1.9999.4", "s", "v3 trap")
        tool(t, "snmpinform", *v3, "-t", "2", "-r", "1", dest, "8765", "1.3.6.1.4.1.9999.0.12",
             "1.3.6.1.4.1.9999.5", "u", "5")
        s.wait_for(lambda: len(s.of("trap")) >= 6, 10, "six trap events")
        # rejected: a wrong community (v1, v2c), a wrong v3 password, an unknown v3 user
        tool(t, "snmptrap", "-v2c", "-c", "nottheone", dest, "1", "1.3.6.1.6.3.1.1.5.1")
        tool(t, "snmptrap", "-v1", "-c", "nottheone", dest, "1.3.6.1.4.1.9999", "127.0.0.9", "0", "0", "1")
        tool(t, "snmptrap", "-v3", "-u", TRAP_USER, "-l", "authPriv", "-a", "SHA-256", "-A", "wrongPassword1",
             "-x", "AES", "-X", TRAP_PRIV, "-e", TRAP_ENGINE, dest, "1", "1.3.6.1.6.3.1.1.5.1")
        tool(t, "snmptrap", "-v3", "-u", "nosuchuser", "-l", "authNoPriv", "-a", "SHA", "-A", "whatever12",
             "-e", TRAP_ENGINE, dest, "1", "1.3.6.1.6.3.1.1.5.1")
        # malformed: random bytes, and a real trap truncated at every length
        good = capture_datagram(t, "snmptrap", "-v2c", "-c", "trapComm1", "1", "1.3.6.1.6.3.1.1.5.4",
                                "1.3.6.1.4.1.9999.6", "s", "truncate me")
        tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rnd = [os.urandom(n) for n in (1, 7, 64, 600)] + [b"\x30\x82\xff\xff" + os.urandom(20), b""]
        cuts = [good[:n] for n in range(1, len(good))]
        for d in rnd + cuts:
            tx.sendto(d, ("127.0.0.1", port))
            time.sleep(0.001)
        tx.sendto(good, ("127.0.0.1", port))   # and the whole one still works afterwards
        s.wait_for(lambda: len(s.of("trap")) >= 7, 10, "the trap after the garbage")
        time.sleep(0.3)
    finally:
        rc = s.stop()
    assert rc == 0
    assert_no_secrets(s)
    traps = s.of("trap")
    assert len(traps) == 7, json.dumps(traps, indent=1)
    for e in traps:
        assert e["source_ip"] == "127.0.0.1" and 0 < e["source_port"] < 65536
        assert e["event_id"] and e["timestamp"] and e["hostname"] and e["schema_version"] == 2
        for k in ("version", "pdu", "trap_oid", "enterprise", "generic_trap", "specific_trap", "uptime",
                  "varbinds"):
            assert k in e, k
        assert "community" not in json.dumps(e)

    def strip(e):
        return {k: v for k, v in e.items()
                if k not in ("source_ip", "source_port", "event_id", "timestamp", "hostname", "schema_version",
                             "type", "sensor_id")}
    got = [strip(e) for e in traps]
    assert got[0] == {"version": "1", "pdu": "trap", "trap_oid": "1.3.6.1.4.1.9999.0.42",
                      "enterprise": "1.3.6.1.4.1.9999", "generic_trap": 6, "specific_trap": 42, "uptime": 1234,
                      "agent_address": "127.0.0.9",
                      "varbinds": [{"oid": "1.3.6.1.4.1.9999.1", "type": "string", "value": "v1 hello"}]}
    assert got[1] == {"version": "1", "pdu": "trap", "trap_oid": "1.3.6.1.6.3.1.1.5.4",
                      "enterprise": "1.3.6.1.4.1.9999", "generic_trap": 3, "specific_trap": 0, "uptime": 55,
                      "agent_address": "127.0.0.10", "varbinds": []}
    assert got[2] == {"version": "2c", "pdu": "trap", "trap_oid": "1.3.6.1.6.3.1.1.5.3",
                      "enterprise": "1.3.6.1.6.3.1.1.5", "generic_trap": 2, "specific_trap": 0, "uptime": 5678,
                      "varbinds": [{"oid": "1.3.6.1.2.1.2.2.1.1.7", "type": "integer", "value": 7},
                                   {"oid": "1.3.6.1.4.1.9999.3", "type": "string", "value": "00:ff:10"}]}
    assert got[3] == {"version": "2c", "pdu": "inform", "trap_oid": "1.3.6.1.4.1.9999.0.7",
                      "enterprise": "1.3.6.1.4.1.9999", "generic_trap": 6, "specific_trap": 7, "uptime": 777,
                      "varbinds": [{"oid": "1.3.6.1.4.1.9999.2", "type": "counter32", "value": 99}]}
    assert got[4] == {"version": "3", "pdu": "trap", "trap_oid": "1.3.6.1.4.1.9999.0.11",
                      "enterprise": "1.3.6.1.4.1.9999", "generic_trap": 6, "specific_trap": 11, "uptime": 4321,
                      "user": TRAP_USER, "security_level": "authPriv",
                      "varbinds": [{"oid": "1.3.6.1.4.1.9999.4", "type": "string", "value": "v3 trap"}]}
    assert got[5] == {"version": "3", "pdu": "inform", "trap_oid": "1.3.6.1.4.1.9999.0.12",
                      "enterprise": "1.3.6.1.4.1.9999", "generic_trap": 6, "specific_trap": 12, "uptime": 8765,
                      "user": TRAP_USER, "security_level": "authPriv",
                      "varbinds": [{"oid": "1.3.6.1.4.1.9999.5", "type": "gauge32", "value": 5}]}
    assert got[6]["trap_oid"] == "1.3.6.1.6.3.1.1.5.4" and got[6]["varbinds"][0]["value"] == "truncate me"

    stats = {k: int(v) for k, v in log_record(s.stderr, "trap receiver stopped").items() if k.startswith("trap_")}
    assert stats["trap_traps"] == 5 and stats["trap_informs"] == 2 and stats["trap_informs_acked"] == 2
    assert stats["trap_rejected_community"] == 2
    assert stats["trap_auth_failures"] == 2
    assert stats["trap_malformed"] >= len(cuts) + len(rnd) - 1
    assert stats["trap_events_dropped"] == 0


# ---------------------------------------------------------------------------
# configuration errors stop the sensor with status 2 and a precise message

@pytest.mark.parametrize("doc,needle", [
    ({"targets": [{"name": "core1", "host": "192.0.2.1", "community": "x", "version": "4"}]},
     'targets[0] ("core1"): version'),
    ({"targets": [{"name": "edge", "host": "192.0.2.1", "version": "3", "username": "u",
                   "auth_password": "short", "priv_password": "longenough"}]},
     'targets[0] ("edge"): auth_password: must be at least 8'),
    ({"targets": [{"name": "a", "host": "192.0.2.1", "community": "x", "collect": ["cpu"]}]},
     'targets[0] ("a"): collect'),
    ({"targets": [{"name": "a", "host": "192.0.2.1", "community": "x", "intervall": 5}]},
     'targets[0] ("a"): intervall: unknown field'),
    ({"trap_users": [{"username": "t", "auth_password": "abcdefgh1", "engine_id": "0x12"}]},
     'trap_users[0] ("t"): engine_id'),
])
def test_bad_config(tracer, tmp_path, doc, needle):
    cfg = write_config(tmp_path, doc)
    p = subprocess.run([tracer], env=clean_env({"AGENT_BPF_FILTER": "port 1", "AGENT_SNMP_CONFIG": cfg,
                                                "AGENT_INTERFACE": "lo"}),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    err = p.stderr.decode()
    assert_no_sanitizer(err)
    assert p.returncode == 2, err
    assert "AGENT_SNMP_CONFIG=" + cfg in err and needle in err, err
    assert "longenough" not in err and "abcdefgh1" not in err


# ---------------------------------------------------------------------------
# security of the trap receiver (issue 13) and the poller's bounds

def ber(tag, content):
    n = len(content)
    if n < 0x80:
        head = bytes([n])
    else:
        b = n.to_bytes((n.bit_length() + 7) // 8, "big")
        head = bytes([0x80 | len(b)]) + b
    return bytes([tag]) + head + content


def ber_int(v, tag=0x02):
    return ber(tag, v.to_bytes(max(1, (v.bit_length() + 8) // 8), "big", signed=True))


def ber_oid(text):
    ids = [int(x) for x in text.split(".")]
    out = bytes([40 * ids[0] + ids[1]])
    for i in ids[2:]:
        chunk = [i & 0x7f]
        i >>= 7
        while i:
            chunk.append(0x80 | (i & 0x7f))
            i >>= 7
        out += bytes(reversed(chunk))
    return ber(0x06, out)


def v2c_notification(community, reqid, varbinds, inform=False):
    """A v2c trap (or inform) with sysUpTime.0, snmpTrapOID.0 and `varbinds` [(oid, bytes)] as octet strings."""
    vbs = ber(0x30, ber_oid("1.3.6.1.2.1.1.3.0") + ber_int(42, 0x43))
    vbs += ber(0x30, ber_oid("1.3.6.1.6.3.1.1.4.1.0") + ber_oid("1.3.6.1.4.1.9999.0.99"))
    for oid, val in varbinds:
        vbs += ber(0x30, ber_oid(oid) + ber(0x04, val))
    pdu = ber(0xA6 if inform else 0xA7, ber_int(reqid) + ber_int(0) + ber_int(0) + ber(0x30, vbs))
    return ber(0x30, ber_int(1) + ber(0x04, community.encode()) + pdu)


def udp_queue(port):
    """(rx_queue bytes, drops) of the UDP socket bound to 127.0.0.1:port, from /proc/net/udp."""
    want = "0100007F:%04X" % port
    with open("/proc/net/udp") as f:
        for line in f.readlines()[1:]:
            cols = line.split()
            if cols[1] == want:
                return int(cols[4].split(":")[1], 16), int(cols[-1])
    return 0, 0


def wait_bound(port, timeout=20):
    """Wait until something listens on UDP 127.0.0.1:port (the sensor's trap receiver)."""
    want = "0100007F:%04X" % port
    deadline = time.time() + timeout
    while time.time() < deadline:
        with open("/proc/net/udp") as f:
            if any(line.split()[1] == want for line in f.readlines()[1:]):
                return
        time.sleep(0.05)
    pytest.fail("nothing listens on 127.0.0.1:%d" % port)


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def hook_stats(stderr, msg):
    """A hook's counters from its "... stopped" log line (fields; numbers as ints)."""
    rec = log_record(stderr, msg)
    assert rec, "no %r line in stderr:\n%s" % (msg, stderr[-3000:])
    return {k: int(v) if re.fullmatch(r"-?\d+", str(v)) else v for k, v in rec.items()}


def trap_stats(s):
    return hook_stats(s.stderr, "trap receiver stopped")


def test_v3_trap_needs_configured_user_and_level(tracer, tmp_path):
    """A v3 trap or inform is accepted only from a trap user at or above its configured level."""
    port = free_udp_port()
    dest = "127.0.0.1:%d" % port
    cfg = write_config(tmp_path, {"trap_users": [
        {"username": TRAP_USER, "auth_protocol": "SHA", "auth_password": TRAP_AUTH,
         "priv_protocol": "AES", "priv_password": TRAP_PRIV, "engine_id": TRAP_ENGINE}]})
    s = Sensor(tracer, {"AGENT_TRAP_LISTEN": dest, "AGENT_SNMP_CONFIG": cfg})
    t = tmp_path
    try:
        wait_bound(port)
        # below the user's level: no key at all, then auth without privacy
        tool(t, "snmptrap", "-v3", "-u", TRAP_USER, "-l", "noAuthNoPriv", "-e", TRAP_ENGINE, dest, "1",
             "1.3.6.1.4.1.9999.0.1", "1.3.6.1.4.1.9999.1", "s", "forged noauth")
        tool(t, "snmptrap", "-v3", "-u", TRAP_USER, "-l", "authNoPriv", "-a", "SHA", "-A", TRAP_AUTH,
             "-e", TRAP_ENGINE, dest, "2", "1.3.6.1.4.1.9999.0.2", "1.3.6.1.4.1.9999.1", "s", "authnopriv")
        # an unauthenticated inform is not acknowledged: snmpinform fails
        p = subprocess.run(["snmpinform", "-v3", "-u", TRAP_USER, "-l", "noAuthNoPriv", "-t", "1", "-r", "0",
                            dest, "3", "1.3.6.1.4.1.9999.0.3"], env=tool_env(t), capture_output=True, timeout=30)
        assert p.returncode != 0, "an unauthenticated inform was acknowledged"
        # the configured user at its level
        tool(t, "snmptrap", "-v3", "-u", TRAP_USER, "-l", "authPriv", "-a", "SHA", "-A", TRAP_AUTH, "-x", "AES",
             "-X", TRAP_PRIV, "-e", TRAP_ENGINE, dest, "4", "1.3.6.1.4.1.9999.0.4", "1.3.6.1.4.1.9999.1", "s",
             "genuine")
        s.wait_for(lambda: s.of("trap"), 10, "the genuine v3 trap")
        time.sleep(0.5)
    finally:
        s.stop()
    assert_no_secrets(s)
    traps = s.of("trap")
    assert len(traps) == 1, json.dumps(traps, indent=1)
    assert traps[0]["user"] == TRAP_USER and traps[0]["security_level"] == "authPriv"
    assert traps[0]["varbinds"] == [{"oid": "1.3.6.1.4.1.9999.1", "type": "string", "value": "genuine"}]
    st = trap_stats(s)
    # noAuthNoPriv trap, authNoPriv trap, the noAuthNoPriv inform (after its engine discovery, answered)
    assert st["trap_auth_failures"] == 3 and st["trap_discovery"] == 1, st
    assert st["trap_traps"] == 1 and st["trap_informs"] == 0 and st["trap_informs_acked"] == 0


def engine_id_of(agent):
    out = tool(agent.tmp, "snmpget", "-v3", "-u", V3_USER, "-l", "authPriv", "-a", "SHA", "-A", V3_AUTH, "-x", "AES",
               "-X", V3_PRIV, "-On", "-Ox", agent.addr, "1.3.6.1.6.3.10.2.1.1.0")
    return "0x" + "".join(out.split("=", 1)[1].split(":", 1)[1].split())


def test_poller_users_are_not_trap_identities(tracer, agent, tmp_path):
    """The USM user the poller creates for a v3 agent authenticates nothing at the receiver, and a
    trap made with the poller's credentials (and a later engine time) does not break the polls."""
    port = free_udp_port()
    dest = "127.0.0.1:%d" % port
    cfg = write_config(tmp_path, {"targets": [
        {"name": "v3", "host": "127.0.0.1", "port": agent.port, "version": "3", "username": V3_USER,
         "auth_protocol": "SHA", "auth_password": V3_AUTH, "priv_protocol": "AES", "priv_password": V3_PRIV,
         "interval": 1, "timeout": 1, "retries": 1, "collect": ["system"]}]})
    engine = engine_id_of(agent)
    s = Sensor(tracer, {"AGENT_SNMP_CONFIG": cfg, "AGENT_TRAP_LISTEN": dest})
    try:
        s.wait_for(lambda: s.of("snmp", target="v3", ok=True), 20, "a first v3 poll")
        # the poller's user and keys, the agent's engine id, boots far ahead of the agent's
        tool(tmp_path, "snmptrap", "-v3", "-u", V3_USER, "-l", "authPriv", "-a", "SHA", "-A", V3_AUTH,
             "-x", "AES", "-X", V3_PRIV, "-e", engine, "-Z", "9999,9999", dest, "5", "1.3.6.1.4.1.9999.0.5",
             "1.3.6.1.4.1.9999.1", "s", "as the poller")
        time.sleep(0.5)
        n = len(s.of("snmp", target="v3"))
        s.wait_for(lambda: len(s.of("snmp", target="v3")) >= n + 3, 30, "three more v3 polls")
    finally:
        s.stop()
    assert s.of("trap") == [], "a trap authenticated with the poller's user was accepted"
    polls = s.of("snmp", target="v3")
    assert all(e["ok"] for e in polls[n:]), [e.get("error") for e in polls[n:]]
    assert trap_stats(s)["trap_auth_failures"] == 1


def test_trap_flood_is_capped_and_rate_limited(tracer, tmp_path):
    """3,000 traps of 40 KB from one source: 100 events (the burst), each cut to the event byte cap;
    every other trap counted as rate-limited; the sensor's memory stays flat."""
    port = free_udp_port()
    cfg = write_config(tmp_path, {"trap_limits": {"rate": 0.001, "burst": 100}})
    s = Sensor(tracer, {"AGENT_TRAP_LISTEN": "127.0.0.1:%d" % port, "AGENT_SNMP_CONFIG": cfg,
                        # ASan keeps freed memory in quarantine (256 MB by default): keep it small, so
                        # RSS shows what the sensor holds
                        "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=4"})
    sent = 3000
    varbinds = [("1.3.6.1.4.1.9999.7.%d" % i, b"A" * 4000) for i in range(10)]   # ~40 KB per trap
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        wait_bound(port)
        warm = v2c_notification("public", 1, varbinds)
        assert 40000 < len(warm) < 65000
        rss0 = rss_kib(s.proc.pid)
        _, drops0 = udp_queue(port)
        for i in range(sent):
            tx.sendto(v2c_notification("public", i + 1, varbinds), ("127.0.0.1", port))
            while udp_queue(port)[0] > 150000:   # let the receiver keep up (wait only)
                time.sleep(0.0005)
        deadline = time.time() + 60
        while udp_queue(port)[0] and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        rss1 = rss_kib(s.proc.pid)
        _, drops1 = udp_queue(port)
    finally:
        tx.close()
        s.stop()
    st = trap_stats(s)
    received = sent - (drops1 - drops0)
    print("RSS %d KiB -> %d KiB (+%d KiB); datagrams %d, kernel drops %d, stats %s"
          % (rss0, rss1, rss1 - rss0, sent, drops1 - drops0, st))
    assert st["trap_datagrams"] == received
    assert st["trap_traps"] == 100 and st["trap_truncated"] == 100
    assert st["trap_rate_limited"] == received - 100
    traps = s.of("trap")
    assert len(traps) == 100
    for e in traps:
        assert e["truncated"] is True and e["varbinds_total"] == 10
        # 16384 bytes of values and OIDs per event: 4 of the 10 big varbinds
        assert len(e["varbinds"]) == 4 and len(json.dumps(e)) < 16384 + 2048
    # 100 events of ~17 KB; without the caps 3,000 events of ~40 KB passed through
    assert rss1 - rss0 < 32 * 1024, (rss0, rss1)


def test_inform_answers_are_rate_limited_per_source(tracer, tmp_path):
    port = free_udp_port()
    cfg = write_config(tmp_path, {"trap_limits": {"inform_rate": 0.001, "inform_burst": 5}})
    s = Sensor(tracer, {"AGENT_TRAP_LISTEN": "127.0.0.1:%d" % port, "AGENT_SNMP_CONFIG": cfg})
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(0.2)
    answers = 0
    try:
        wait_bound(port)
        for i in range(50):
            rx.sendto(v2c_notification("public", 1000 + i, [("1.3.6.1.4.1.9999.8", b"x")], inform=True),
                      ("127.0.0.1", port))
        s.wait_for(lambda: len(s.of("trap")) >= 50, 15, "50 inform events")
        deadline = time.time() + 3
        while time.time() < deadline:
            try:
                data = rx.recv(65535)
            except socket.timeout:
                continue
            assert data[0] == 0x30 and b"\xa2" in data   # a GetResponse
            answers += 1
    finally:
        rx.close()
        s.stop()
    st = trap_stats(s)
    assert answers == 5
    assert st["trap_informs"] == 50 and st["trap_informs_acked"] == 5 and st["trap_informs_unanswered"] == 45


def test_poll_byte_cap(tracer, agent, tmp_path):
    cfg = write_config(tmp_path, {"targets": [
        {"name": "capped", "host": "127.0.0.1", "port": agent.port, "community": COMMUNITY, "interval": 60,
         "collect": ["system", "interfaces", "arp"], "max_poll_bytes": 1024}]})
    s = Sensor(tracer, {"AGENT_SNMP_CONFIG": cfg})
    s.wait_for(lambda: s.of("snmp", target="capped"), 20, "a poll")
    s.stop()
    ev = s.of("snmp", target="capped")[0]
    assert ev["ok"] is True and ev["max_poll_bytes"] == 1024
    assert ev["truncated"] == ["interfaces"] and "arp" not in ev
    assert len(json.dumps(ev)) < 4096
    stats = hook_stats(s.stderr, "snmp poller stopped")
    assert stats["snmp_poll_bytes_limited"] == 1 and stats["snmp_truncated"] == 1


def test_v3_timeout_is_counted(tracer, tmp_path):
    """A v3 target that never answers fails with "timeout" and counts in snmp_timeouts."""
    cfg = write_config(tmp_path, {"targets": [
        {"name": "v3dead", "host": "127.0.0.1", "port": free_udp_port(), "version": "3", "username": V3_USER,
         "auth_protocol": "SHA", "auth_password": V3_AUTH, "priv_protocol": "AES", "priv_password": V3_PRIV,
         "interval": 1, "timeout": 0.5, "retries": 0}]})
    s = Sensor(tracer, {"AGENT_SNMP_CONFIG": cfg})
    s.wait_for(lambda: len(s.of("snmp", target="v3dead")) >= 2, 20, "two polls")
    s.stop()
    evs = s.of("snmp", target="v3dead")
    assert all(e["ok"] is False and e["error"] == "timeout" for e in evs), [e["error"] for e in evs]
    stats = hook_stats(s.stderr, "snmp poller stopped")
    assert stats["snmp_timeouts"] == stats["snmp_polls"] >= 2


def test_debug_log_has_no_mib_noise(tracer, agent, tmp_path):
    cfg = write_config(tmp_path, {"targets": [
        {"name": "v2", "host": "127.0.0.1", "port": agent.port, "community": COMMUNITY, "interval": 60}]})
    s = Sensor(tracer, {"AGENT_SNMP_CONFIG": cfg, "LOG_LEVEL": "debug",
                        "AGENT_TRAP_LISTEN": "127.0.0.1:%d" % free_udp_port()})
    s.wait_for(lambda: s.of("snmp", target="v2", ok=True), 20, "a poll")
    s.stop()
    assert "LOG_LEVEL=debug" in s.stderr
    assert "Cannot find module" not in s.stderr and "MIB search path" not in s.stderr


def test_bad_config_reports_every_problem(tracer, tmp_path):
    p = tmp_path / "snmp.json"
    p.write_text('{"targets": [{"name": "a", "host": "192.0.2.1", "community": "x", "port": "161"},\n'
                 ' {"name": "b", "host": "192.0.2.2", "community": "x", "interval": 5, "interval": 6},\n'
                 ' {"name": "c", "host": "192.0.2.3", "community": "x", "version": "4", "retries": true}]}')
    r = subprocess.run([tracer], env=clean_env({"AGENT_BPF_FILTER": "port 1", "AGENT_SNMP_CONFIG": str(p),
                                                "AGENT_INTERFACE": "lo"}),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    err = r.stderr.decode()
    assert_no_sanitizer(err)
    assert r.returncode == 2, err
    pre = "AGENT_SNMP_CONFIG=%s: " % p
    for want in ('targets[0] ("a"): port: must be a JSON number in [1, 65535], not a string ("161")',
                 'targets[1] ("b"): interval: duplicate key',
                 'targets[2] ("c"): version: "4" must be one of',
                 'targets[2] ("c"): retries: must be a JSON number in [0, 10], not a boolean'):
        assert pre + want in err, err


# ---------------------------------------------------------------------------
# --once snmp NAME (issue 17.4)

def test_once_snmp_polls_one_target_and_exits(tracer, agent, tmp_path):
    cfg = write_config(tmp_path, {"targets": [
        {"name": "edge", "host": "127.0.0.1", "port": agent.port, "version": "2c", "community": COMMUNITY,
         "interval": 300, "collect": ["system"], "oids": ["1.3.6.1.2.1.1.6.0"]},
        {"name": "dead", "host": "127.0.0.1", "port": free_udp_port(), "community": COMMUNITY,
         "interval": 300, "timeout": 1, "retries": 0, "collect": ["system"]},
    ]})
    env = clean_env({"AGENT_SNMP_CONFIG": cfg, "AGENT_INTERFACE": "lo", "AGENT_SENSOR_ID": "once-test"})
    run = lambda *a: subprocess.run([tracer, *a], env=env, stdin=subprocess.DEVNULL, capture_output=True,
                                    text=True, timeout=60)
    p = run("--once", "snmp", "edge")
    assert_no_sanitizer(p.stderr)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert len(lines) == 1, p.stdout
    ev = json.loads(lines[0])
    assert ev["type"] == "snmp" and ev["target"] == "edge" and ev["ok"] is True and ev["error"] is None
    sysv = parse_tool(agent.get("1.3.6.1.2.1.1.5.0"))
    assert ev["system"]["name"] == tool_value(*sysv["1.3.6.1.2.1.1.5.0"])
    assert ev["system"]["location"] == "E2E-Lab"
    assert ev["oids"] == [{"oid": "1.3.6.1.2.1.1.6.0", "type": "string", "value": "E2E-Lab"}]
    assert ev["sensor_id"] == "once-test" and ev["schema_version"] == 2
    assert ev["hostname"] == socket.gethostname()
    assert re.fullmatch(r"[0-9a-f]{16}-1", ev["event_id"]) and ev["timestamp"].endswith("Z")
    assert COMMUNITY not in p.stdout + p.stderr

    # a target that does not answer: the event still printed, exit 1, the reason logged
    p = run("--once", "snmp", "dead")
    assert_no_sanitizer(p.stderr)
    assert p.returncode == 1, p.stderr
    ev = json.loads(p.stdout)
    assert ev["target"] == "dead" and ev["ok"] is False and ev["error"] == "timeout", ev
    assert "--once snmp dead: the poll failed: timeout" in p.stderr

    # bad input: exit 2, one line naming what is wrong
    p = run("--once", "snmp", "nosuch")
    assert p.returncode == 2 and p.stdout == ""
    assert "\n--once snmp nosuch: no such target in AGENT_SNMP_CONFIG=%s (targets: edge, dead)\n" % cfg \
        in p.stderr, p.stderr
    p = run("--once", "snmp")
    assert p.returncode == 2 and p.stderr.splitlines()[0].startswith("--once snmp: missing the target's name")
    p = run("--once", "bogus")
    assert p.returncode == 2 and p.stderr.splitlines()[0] == "--once bogus: must be topology, sensor or snmp NAME"
    p = subprocess.run([tracer, "--once", "snmp", "edge"], env=clean_env({"AGENT_INTERFACE": "lo"}),
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "--once snmp edge: AGENT_SNMP_CONFIG is not set" in p.stderr, p.stderr
