"""End-to-end tests of the control API (issue 17.1, and POST /v1/reload of 17.5):
on-demand SNMP jobs against Debian's snmpd (the agent fixture of test_snmp.py),
direct GET/walk, every error path, the job events in the stream, and HTTPS
with a certificate the test makes with openssl.

A long walk comes from a small UDP relay in front of snmpd that holds every
request for RELAY_DELAY: with max_repetitions 1 the interface tables take many
seconds, so progress can be watched (rows growing) and the walk cancelled. The
sensor runs live on lo with a BPF filter that matches nothing of ours, with the
seccomp allow-list on (the default), so the API's threads are checked too.
"""

import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time

import pytest

from conftest import log_message
from test_snmp import COMMUNITY, Sensor, free_udp_port, parse_tool, start_snmpd, tool_value, write_config

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("snmpd"),
                                reason="needs root (live capture on lo) and snmpd")

KEY = "api-Key-e2e-0123456789"
RELAY_DELAY = 0.05


def free_tcp_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Relay:
    """UDP relay 127.0.0.1:port -> snmpd that holds each request RELAY_DELAY; one upstream socket per client."""

    def __init__(self, upstream_port):
        self.upstream = ("127.0.0.1", upstream_port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.ups = {}
        self.forwarded = 0
        self.stop = False
        self.threads = [threading.Thread(target=self._down, daemon=True)]
        self.threads[0].start()

    def _down(self):
        while not self.stop:
            try:
                data, addr = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            up = self.ups.get(addr)
            if up is None:
                up = self.ups[addr] = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                up.connect(self.upstream)
                up.settimeout(0.2)
                t = threading.Thread(target=self._back, args=(up, addr), daemon=True)
                self.threads.append(t)
                t.start()
            time.sleep(RELAY_DELAY)
            up.send(data)
            self.forwarded += 1

    def _back(self, up, addr):
        while not self.stop:
            try:
                data = up.recv(65535)
            except (socket.timeout, ConnectionRefusedError):
                continue
            self.sock.sendto(data, addr)

    def close(self):
        self.stop = True
        for t in self.threads:
            t.join(2)
        self.sock.close()
        for up in self.ups.values():
            up.close()


class Api:
    def __init__(self, port, ca=None):
        self.port = port
        self.ca = ca

    def call(self, method, path, body=None, key=KEY, raw=None, headers=None):
        if self.ca:
            ctx = ssl.create_default_context(cafile=self.ca)
            c = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=30, context=ctx)
        else:
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        h = dict(headers or {})
        if key is not None:
            h["Authorization"] = "Bearer " + key
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        if data is not None:
            h["Content-Type"] = "application/json"
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        text = r.read().decode()
        c.close()
        return r.status, json.loads(text) if text else None, r

    def wait_job(self, ticket, cond, timeout, what):
        deadline = time.time() + timeout
        st = None
        while time.time() < deadline:
            code, st, _ = self.call("GET", "/v1/snmp/jobs/" + ticket)
            assert code == 200, st
            if cond(st):
                return st
            time.sleep(0.05)
        pytest.fail("timed out waiting for %s: %s" % (what, st))


def target(port, **kw):
    t = {"host": "127.0.0.1", "port": port, "version": "2c", "community": COMMUNITY, "timeout": 2, "retries": 0}
    t.update(kw)
    return t


@pytest.fixture(scope="module")
def agent(tmp_path_factory):
    """snmpd alone (test_snmp.py's agent also starts lldpd, which these tests do not need)."""
    a, snmpd = start_snmpd(tmp_path_factory.mktemp("snmpd"))
    yield a
    snmpd.terminate()
    try:
        snmpd.wait(timeout=5)
    except subprocess.TimeoutExpired:
        snmpd.kill()


@pytest.fixture(scope="module")
def relay(agent):
    r = Relay(agent.port)
    yield r
    r.close()


@pytest.fixture(scope="module")
def sensor(tracer, agent, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("api")
    (tmp / "key").write_text(KEY + "\n")
    # the poller polls the same target as the comparison job, once (interval 1 h)
    cfg = write_config(tmp, {"targets": [dict(target(agent.port), name="cmp", interval=3600,
                                              collect=["system", "interfaces"], oids=["1.3.6.1.2.1.1.5.0"])]})
    port = free_tcp_port()
    s = Sensor(tracer, {"AGENT_API_ADDR": "127.0.0.1:%d" % port, "AGENT_API_KEY_FILE": str(tmp / "key"),
                        "AGENT_SNMP_CONFIG": cfg, "AGENT_SNMP_CONCURRENCY": "2", "AGENT_API_MAX_QUEUED": "1",
                        "LOG_LEVEL": "debug"})
    api = Api(port)
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            if api.call("POST", "/v1/reload")[0] == 200:
                break
        except OSError:
            time.sleep(0.1)
    else:
        s.stop()
        pytest.fail("the API did not answer: " + s.stderr[-3000:])
    s.api = api
    s.cfg = cfg
    yield s
    if s.proc.poll() is None:
        s.stop()


def test_errors(sensor):
    api = sensor.api
    code, body, r = api.call("POST", "/v1/snmp/jobs", {"host": "h"}, key=None)
    assert (code, body) == (401, {"error": "missing API key (Authorization: Bearer KEY)"})
    assert r.getheader("WWW-Authenticate") == "Bearer"
    assert api.call("POST", "/v1/reload", key="wrong-key")[:2] == (401, {"error": "wrong API key"})
    assert api.call("POST", "/v1/reload", key=KEY + "x")[:2] == (401, {"error": "wrong API key"})
    # X-API-Key works as well
    assert api.call("POST", "/v1/reload", key=None, headers={"X-API-Key": KEY})[0] == 200
    code, body, _ = api.call("POST", "/v1/snmp/jobs", {"host": "127.0.0.1", "community": COMMUNITY, "port": "161"})
    assert (code, body) == (400, {"error": 'port: must be a JSON number in [1, 65535], not a string ("161")',
                                  "field": "port"})
    code, body, _ = api.call("POST", "/v1/snmp/jobs", {"community": COMMUNITY})
    assert (code, body["field"]) == (400, "host")
    code, body, _ = api.call("POST", "/v1/snmp/jobs", {"host": "h", "community": COMMUNITY, "collect": ["bogus"]})
    assert (code, body["field"]) == (400, "collect")
    code, body, _ = api.call("POST", "/v1/snmp/jobs", {"host": "h", "version": "3", "username": "u",
                                                       "auth_protocol": "SHA", "auth_password": "short"})
    assert (code, body["field"]) == (400, "auth_password")
    assert "short" not in json.dumps(body)
    assert api.call("POST", "/v1/snmp/jobs", raw="{not json")[:2] == (400, {"error": "the body is not valid JSON",
                                                                            "field": "body"})
    assert api.call("POST", "/v1/snmp/get", {"host": "h", "community": "c"})[:2] == (
        400, {"error": 'oid: required, a numeric OID such as "1.3.6.1.2.1.1.5.0"', "field": "oid"})
    code, body, _ = api.call("POST", "/v1/snmp/jobs", raw="x" * (64 * 1024 + 1))
    assert (code, body) == (413, {"error": "the body is larger than 65536 bytes"})
    assert api.call("GET", "/v1/snmp/jobs/0123456789abcdef0123456789abcdef")[:2] == (
        404, {"error": "no such job (unknown ticket, or expired)"})
    assert api.call("DELETE", "/v1/snmp/jobs/nope")[0] == 404
    assert api.call("GET", "/v1/nothing")[:2] == (404, {"error": "no such path"})
    code, body, r = api.call("GET", "/v1/snmp/jobs")
    assert (code, body, r.getheader("Allow")) == (405, {"error": "method not allowed"}, "POST")
    code, _, r = api.call("PUT", "/v1/snmp/jobs/abc")
    assert (code, r.getheader("Allow")) == (405, "GET, DELETE")


def test_reload_answers(sensor):
    # the poller is the one hook here with a reload operation (SNMP targets): the same file is
    # applied (nothing changed); a broken file is refused and the old targets stay
    assert sensor.api.call("POST", "/v1/reload")[:2] == (200, {"reloaded": 1, "refused": 0})
    with open(sensor.cfg) as f:
        good = f.read()
    try:
        with open(sensor.cfg, "w") as f:
            f.write("{not json")
        assert sensor.api.call("POST", "/v1/reload")[:2] == (200, {"reloaded": 0, "refused": 1})
    finally:
        with open(sensor.cfg, "w") as f:
            f.write(good)
    assert sensor.api.call("POST", "/v1/reload")[:2] == (200, {"reloaded": 1, "refused": 0})


def test_get_and_walk(sensor, agent):
    api = sensor.api
    code, body, _ = api.call("POST", "/v1/snmp/get", target(agent.port, oid="1.3.6.1.2.1.1.5.0"))
    want = parse_tool(agent.get("1.3.6.1.2.1.1.5.0"))["1.3.6.1.2.1.1.5.0"]
    assert code == 200 and body["ok"] is True and body["error"] is None, body
    assert [v["oid"] for v in body["varbinds"]] == ["1.3.6.1.2.1.1.5.0"]
    assert body["varbinds"][0]["value"] == tool_value(*want)
    code, body, _ = api.call("POST", "/v1/snmp/walk", target(agent.port, oid="1.3.6.1.2.1.1.9.1.2"))
    walked = parse_tool(agent.walk("1.3.6.1.2.1.1.9.1.2"))
    assert code == 200 and body["ok"] is True, body
    assert [v["oid"] for v in body["varbinds"]] == list(walked) and body["rows"] == len(walked) > 3
    assert body["truncated"] is False
    code, body, _ = api.call("POST", "/v1/snmp/walk", target(agent.port, oid="1.3.6.1.2.1.1.9.1.2", max_rows=3))
    assert (code, body["ok"], body["rows"], body["truncated"]) == (200, True, 3, True)
    assert body["error"] == "walk row limit (3) reached"
    # a dead agent: ok false with the reason, still 200
    code, body, _ = api.call("POST", "/v1/snmp/get", target(free_udp_port(), oid="1.3.6.1.2.1.1.5.0", timeout=0.3))
    assert (code, body["ok"], body["error"], body["varbinds"]) == (200, False, "timeout", [])


STATIC_IF = ("index", "name", "descr", "type", "mtu", "mac")
STREAM_KEYS = ("event_id", "timestamp", "hostname", "sensor_id", "schema_version")   # the sender adds them


def comparable(ev):
    """What a poll of the same agent must repeat: everything but timings and moving counters."""
    return {"keys": sorted(k for k in ev if k not in ("job",) + STREAM_KEYS),
            "system": {k: v for k, v in ev["system"].items() if k != "uptime"},
            "interfaces": [{k: i.get(k) for k in STATIC_IF} for i in ev["interfaces"]],
            "oids": ev["oids"], "ok": ev["ok"], "error": ev["error"],
            "head": [ev["type"], ev["host"], ev["port"], ev["version"]]}


def test_job_complete_equals_poll_event(sensor, agent):
    api = sensor.api
    code, body, _ = api.call("POST", "/v1/snmp/jobs", dict(target(agent.port), name="cmp",
                                                           collect=["system", "interfaces"],
                                                           oids=["1.3.6.1.2.1.1.5.0"]))
    assert code == 202 and body["status"] == "queued" and len(body["ticket"]) == 32, body
    ticket = body["ticket"]
    st = api.wait_job(ticket, lambda s: s["status"] not in ("queued", "running"), 20, "the job to end")
    assert st["status"] == "complete", st
    assert st["ticket"] == ticket and st["target"] == "cmp" and st["host"] == "127.0.0.1"
    assert st["section"] is None
    secs = {s["name"]: s for s in st["sections"]}
    assert list(secs) == ["system", "interfaces", "oids"]
    assert all(s["state"] == "done" and isinstance(s["duration_ms"], int) for s in secs.values())
    assert secs["oids"]["rows"] == 1 and secs["interfaces"]["rows"] > 10
    assert st["rows"] == sum(s["rows"] for s in secs.values())
    res = st["result"]
    sensor.wait_for(lambda: sensor.of("snmp", target="cmp", job=None) and sensor.of("snmp", job=ticket), 20,
                    "the poll event and the job event")
    poll = sensor.of("snmp", target="cmp", job=None)[0]
    assert comparable(res) == comparable(poll)
    ev = sensor.of("snmp", job=ticket)[0]
    assert {k: v for k, v in ev.items() if k not in ("job",) + STREAM_KEYS} == res


def test_long_walk_progress_cancel_and_429(sensor, relay, agent):
    api = sensor.api
    full = len(parse_tool(agent.walk("1.3.6.1.2.1.2.2"))) + len(parse_tool(agent.walk("1.3.6.1.2.1.31.1.1")))
    slow = target(relay.port, collect=["interfaces"], max_repetitions=1, timeout=5)
    tickets = []
    for _ in range(2):   # AGENT_SNMP_CONCURRENCY=2: both run
        code, body, _ = api.call("POST", "/v1/snmp/jobs", slow)
        assert code == 202, body
        tickets.append(body["ticket"])
    first = api.wait_job(tickets[0], lambda s: s["status"] == "running" and s["rows"] > 0, 20, "rows")
    later = api.wait_job(tickets[0], lambda s: s["rows"] > first["rows"], 20, "rows to grow")
    assert later["status"] == "running" and later["section"] == "interfaces"
    sec = later["sections"][0]
    assert sec["name"] == "interfaces" and sec["state"] == "running" and sec["rows"] == later["rows"]
    assert later["elapsed_ms"] >= first["elapsed_ms"]
    api.wait_job(tickets[1], lambda s: s["status"] == "running", 20, "the second job to run")
    # both workers busy: one job may wait (AGENT_API_MAX_QUEUED=1), the next is refused
    code, body, _ = api.call("POST", "/v1/snmp/jobs", slow)
    assert code == 202, body
    tickets.append(body["ticket"])
    code, body, _ = api.call("POST", "/v1/snmp/jobs", slow)
    assert (code, body) == (429, {"error": "too many jobs waiting (AGENT_API_MAX_QUEUED=1); try again later"})
    # cancel: the queued one at once, the running ones within the DELETE's own wait
    code, body, _ = api.call("DELETE", "/v1/snmp/jobs/" + tickets[2])
    assert (code, body["status"]) == (200, "cancelled")
    t0 = time.time()
    code, body, _ = api.call("DELETE", "/v1/snmp/jobs/" + tickets[0])
    took = time.time() - t0
    assert (code, body["status"]) == (200, "cancelled"), body
    assert body["rows"] < full, (body["rows"], full)   # stopped before the walk was done
    assert "result" not in body
    code, body, _ = api.call("DELETE", "/v1/snmp/jobs/" + tickets[1])
    assert (code, body["status"]) == (200, "cancelled")
    st = api.call("GET", "/v1/snmp/jobs/" + tickets[0])[1]
    assert st["status"] == "cancelled" and st["sections"][0]["state"] == "cancelled"
    print("DELETE of a running walk answered after %.3f s" % took)
    assert not [e for e in sensor.of("snmp") if e.get("job") in tickets]   # cancelled jobs send no event


def test_counters_and_no_secrets(sensor):
    rc = sensor.stop()
    assert rc == 0
    final = [e for e in sensor.of("sensor") if e.get("final")][-1]
    jobs = final["hooks"]["snmp_jobs"]
    assert jobs["jobs_accepted"] == 4 and jobs["jobs_completed"] == 1 and jobs["jobs_cancelled"] == 3
    assert jobs["jobs_rejected_full"] == 1 and jobs["events_sent"] == 1 and jobs["events_dropped"] == 0
    assert jobs["direct_gets"] == 3 and jobs["direct_walks"] == 2
    assert jobs["answers"]["401"] == 3 and jobs["answers"]["405"] == 2 and jobs["answers"]["413"] == 1
    assert jobs["answers"]["429"] == 1 and jobs["answers"]["404"] == 3
    blob = sensor.stdout_text() + sensor.stderr
    for secret in (COMMUNITY, KEY, "short"):
        assert secret not in blob, "a secret leaked into the sensor's output: " + secret
    assert log_message(sensor.stderr, "api: serving the control API on 127.0.0.1:")


def test_stop_during_direct_walk(tracer, relay, tmp_path):
    """SIGTERM while a connection is inside a long direct walk: the walk is told to stop, the sensor exits."""
    (tmp_path / "key").write_text(KEY)
    port = free_tcp_port()
    s = Sensor(tracer, {"AGENT_API_ADDR": "127.0.0.1:%d" % port, "AGENT_API_KEY_FILE": str(tmp_path / "key")})
    api = Api(port)
    deadline = time.time() + 20
    while True:
        try:
            api.call("POST", "/v1/reload")
            break
        except OSError:
            assert time.time() < deadline and s.proc.poll() is None, "the API did not answer"
            time.sleep(0.1)
    answer = []

    def walk():   # the whole MIB, one variable per request, 50 ms each: minutes
        try:
            answer.append(api.call("POST", "/v1/snmp/walk", target(relay.port, oid="1.3", max_repetitions=1,
                                                                   timeout=5, max_walk_time=3600))[:2])
        except (OSError, http.client.HTTPException) as e:
            answer.append(e)

    before = relay.forwarded
    t = threading.Thread(target=walk, daemon=True)
    t.start()
    s.wait_for(lambda: relay.forwarded >= before + 5, 20, "the walk to be under way")
    assert s.stop() == 0   # waits 20 s at most: without the interrupt it would wait for the walk
    t.join(20)
    assert answer, "the walk's request never ended"
    if isinstance(answer[0], tuple):   # answered before the server closed: the walk stopped
        code, body = answer[0]
        assert (code, body["ok"], body["error"]) == (200, False, "stopped"), answer


def test_https(tracer, tmp_path):
    key, cert = tmp_path / "tls.key", tmp_path / "tls.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    (tmp_path / "key").write_text(KEY)
    port = free_tcp_port()
    s = Sensor(tracer, {"AGENT_API_ADDR": "127.0.0.1:%d" % port, "AGENT_API_KEY_FILE": str(tmp_path / "key"),
                        "AGENT_API_TLS_CERT": str(cert), "AGENT_API_TLS_KEY": str(key)})
    api = Api(port, ca=str(cert))
    try:
        deadline = time.time() + 20
        while True:
            try:
                res = api.call("POST", "/v1/reload")
                break
            except (OSError, ssl.SSLError):
                assert time.time() < deadline and s.proc.poll() is None, "no HTTPS answer"
                time.sleep(0.1)
        assert res[:2] == (200, {"reloaded": 0, "refused": 0})
        assert api.call("POST", "/v1/reload", key="bad")[0] == 401
        with pytest.raises((http.client.HTTPException, OSError)):   # plain HTTP gets no answer
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("POST", "/v1/reload", headers={"Authorization": "Bearer " + KEY})
            r = c.getresponse()
            r.read()
            raise OSError("answered %d" % r.status) if r.status == 200 else OSError("refused")
    finally:
        assert s.stop() == 0
    assert log_message(s.stderr, "api: serving the control API on 127.0.0.1:%d (port %d, HTTPS)" % (port, port))
