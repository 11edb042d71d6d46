"""Process attribution (issue 15 item 6) on a live capture.

In a network namespace this test makes, the sensor captures on the loopback
interface as user nobody (its default capabilities: CAP_NET_RAW and
CAP_NET_ADMIN only). Two Python processes, also nobody, with the process names
tps_server and tps_client, talk TCP and UDP over 127.0.0.1 and keep their
sockets open a few seconds; the flows' records must carry exactly their pids
and names on the right sides. With AGENT_PROCESS_INFO=false no record has them.
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import assert_no_sanitizer, check_shape, clean_env, parse_ndjson, wait_for_text

PY = "/usr/bin/python3"
NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]

NAME = r"""
import ctypes, json, socket, sys
ctypes.CDLL(None).prctl(15, ctypes.c_char_p(b"%s"), 0, 0, 0)   # PR_SET_NAME
"""

SERVER = NAME % b"tps_server".decode() + r"""
t = socket.socket(); t.bind(("127.0.0.1", 0)); t.listen(1)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 0))
print(json.dumps({"pid": __import__("os").getpid(), "tport": t.getsockname()[1],
                  "uport": u.getsockname()[1]}), flush=True)
c, _ = t.accept()
c.sendall(b"pong:" + c.recv(100))
data, peer = u.recvfrom(100)
u.sendto(b"pong:" + data, peer)
print("served", flush=True)
sys.stdin.readline()
c.close(); t.close(); u.close()
"""

CLIENT = NAME % b"tps_client".decode() + r"""
tport, uport = int(sys.argv[1]), int(sys.argv[2])
t = socket.create_connection(("127.0.0.1", tport))
t.sendall(b"hello"); assert t.recv(100) == b"pong:hello"
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.sendto(b"hi", ("127.0.0.1", uport)); assert u.recvfrom(100)[0] == b"pong:hi"
print(json.dumps({"pid": __import__("os").getpid(), "tport": t.getsockname()[1],
                  "uport": u.getsockname()[1]}), flush=True)
sys.stdin.readline()
t.close(); u.close()
"""


def _ip(*args, check=True):
    return subprocess.run(["ip", *args], capture_output=True, check=check, timeout=30)


@pytest.fixture
def netns(request):
    if os.geteuid() != 0 or subprocess.run(["ip", "netns", "list"], capture_output=True).returncode:
        pytest.skip("needs root and ip netns")
    ns = "tpi%d" % (os.getpid() % 1000000)
    _ip("netns", "del", ns, check=False)
    request.addfinalizer(lambda: _ip("netns", "del", ns, check=False))
    _ip("netns", "add", ns)
    _ip("-n", ns, "link", "set", "lo", "up")
    return ns


def run_live(tracer, ns, tmp_path, extra_env):
    out_path, err_path = tmp_path / "sensor.out", tmp_path / "sensor.err"
    env = {"AGENT_INTERFACE": "lo", "AGENT_USER": "nobody", "LOG_LEVEL": "info"}
    env.update(extra_env)
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        sensor = subprocess.Popen(["ip", "netns", "exec", ns, tracer], env=clean_env(env),
                                  stdin=subprocess.DEVNULL, stdout=out, stderr=err)
    procs = []
    try:
        assert wait_for_text(err_path, "capturing on lo", sensor, 30), err_path.read_text()
        time.sleep(0.5)
        run = ["ip", "netns", "exec", ns] + NOBODY + [PY, "-c"]
        server = subprocess.Popen(run + [SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        procs.append(server)
        srv = json.loads(server.stdout.readline())
        client = subprocess.Popen(run + [CLIENT, str(srv["tport"]), str(srv["uport"])],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        procs.append(client)
        line = client.stdout.readline()
        assert line, client.stderr.read().decode()
        cli = json.loads(line)
        assert server.stdout.readline().strip() == b"served"
        time.sleep(2.5)                      # the sensor snapshots sockets every second
        for p in (client, server):
            p.stdin.write(b"bye\n")
            p.stdin.flush()
        for p in (client, server):
            assert p.wait(timeout=30) == 0, p.stderr.read().decode()
        time.sleep(1.5)                      # the teardown reaches the flow table
        sensor.send_signal(signal.SIGINT)
        rc = sensor.wait(timeout=60)
    finally:
        for p in [sensor] + procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    stderr = err_path.read_text(errors="replace")
    assert_no_sanitizer(stderr)
    assert rc == 0, stderr[-3000:]
    events = parse_ndjson(out_path.read_text())
    return srv, cli, events, stderr


def test_process_owner_live(tracer, netns, tmp_path):
    srv, cli, events, stderr = run_live(tracer, netns, tmp_path, {})
    flows = [e for e in events if e.get("type") == "flow"]
    for r in flows:
        check_shape(r)
    dump = "\n".join(json.dumps(r) for r in flows) + "\n" + stderr[-2000:]
    want = {"src_pid": cli["pid"], "src_name": "tps_client", "dst_pid": srv["pid"], "dst_name": "tps_server"}
    tcp = [r for r in flows if r["protocol"] == "TCP" and r["src_port"] == str(cli["tport"])]
    udp = [r for r in flows if r["protocol"] == "UDP" and r["src_port"] == str(cli["uport"])]
    assert len(tcp) == 1 and len(udp) == 1, dump
    assert tcp[0]["process"] == want, dump
    assert udp[0]["process"] == want, dump
    assert tcp[0]["dst_port"] == str(srv["tport"]) and udp[0]["dst_port"] == str(srv["uport"])
    stats = [e for e in events if e.get("type") == "sensor" and e.get("final")]
    assert stats and stats[-1]["process_info"]["found"] >= 4, stats
    assert stats[-1]["process_info"]["snapshot_errors"] == 0, stats


def test_process_owner_off(tracer, netns, tmp_path):
    srv, cli, events, _ = run_live(tracer, netns, tmp_path, {"AGENT_PROCESS_INFO": "false"})
    flows = [e for e in events if e.get("type") == "flow"]
    assert any(r["src_port"] == str(cli["tport"]) for r in flows), flows
    assert not any("process" in r for r in flows), flows
    assert not any("process_info" in e for e in events if e.get("type") == "sensor")
