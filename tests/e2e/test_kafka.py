"""Kafka output and several outputs at once (issue 16, items 2 and 3).

Real components: librdkafka's mock cluster (tests/tools/kafka_mock.c, a
3-broker Kafka on loopback speaking the real protocol, with fault injection
through its API), the sensor producing to it, and Debian's kcat consuming.
Every event Kafka holds is compared, byte for byte, with the NDJSON line the
same run printed on stdout (AGENT_STDOUT=on prints it beside the other
outputs).
"""

import os
import pathlib
import re
import shutil
import subprocess
import threading
import time

import pytest

import pcapgen
from conftest import assert_no_sanitizer, clean_env, log_message, log_records, tracer_path
from fault_receiver import Receiver, Stall, always

KCAT = shutil.which("kcat") or shutil.which("kafkacat")
pytestmark = pytest.mark.skipif(KCAT is None, reason="kcat (Debian package kcat) is not installed")

EXIT_SPOOLED, EXIT_DROPPED = 3, 4


def mock_binary(tmp_path_factory):
    """build/<asan>/tests/kafka_mock beside the sensor (make unit-bins), else compiled here."""
    built = pathlib.Path(tracer_path()).parent / "tests" / "kafka_mock"
    if built.is_file():
        return str(built)
    src = pathlib.Path(__file__).resolve().parents[1] / "tools" / "kafka_mock.c"
    out = tmp_path_factory.mktemp("kafka_mock") / "kafka_mock"
    libs = subprocess.run(["pkg-config", "--cflags", "--libs", "rdkafka"], capture_output=True, text=True,
                          check=True).stdout.split()
    subprocess.run(["cc", "-O1", "-o", str(out), str(src), *libs], check=True)
    return str(out)


class Cluster:
    """A running kafka_mock: bootstrap servers and fault commands."""

    def __init__(self, binary):
        self.proc = subprocess.Popen([binary], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True, bufsize=1)
        line = self.proc.stdout.readline().split()
        assert line and line[0] == "BOOTSTRAP", "kafka_mock said %r" % line
        self.bootstrap = line[1]

    def cmd(self, text):
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().strip()
        assert answer == "OK", "kafka_mock %r: %r" % (text, answer)

    def close(self):
        try:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="module")
def mock_bin(tmp_path_factory):
    return mock_binary(tmp_path_factory)


@pytest.fixture
def cluster(mock_bin):
    c = Cluster(mock_bin)
    c.cmd("topic tracer.flows 4")
    c.cmd("topic tracer.events 2")
    yield c
    c.close()


def consume(bootstrap, topic):
    """Every message of `topic` as (partition, key, value) via kcat, from the beginning to the end."""
    p = subprocess.run([KCAT, "-b", bootstrap, "-C", "-t", topic, "-e", "-q", "-f", "%p %k %s\\n"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, "kcat failed: %s" % p.stderr[-2000:]
    out = []
    for line in p.stdout.splitlines():
        part, key, value = line.split(" ", 2)
        out.append((int(part), key, value))
    return out


def start_sensor(env):
    """The sensor with its stdout and stderr read all along by two threads: a test that waits
    for something else (a spool file) must not leave the sensor blocked on a full pipe."""
    proc = subprocess.Popen([tracer_path()], env=clean_env(env), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.drained = {}

    def drain(name, f):
        proc.drained[name] = f.read()

    proc.drainers = [threading.Thread(target=drain, args=(n, f), daemon=True)
                     for n, f in (("out", proc.stdout), ("err", proc.stderr))]
    for t in proc.drainers:
        t.start()
    return proc


def finish(proc, timeout=90):
    proc.wait(timeout=timeout)
    for t in proc.drainers:
        t.join(timeout=30)
    err = proc.drained.get("err", b"").decode("utf-8", "replace")
    assert_no_sanitizer(err)
    return proc.returncode, proc.drained.get("out", b"").decode("utf-8", "replace"), err


def kafka_done(err):
    """The counters of the 'kafka: done: ...' line."""
    m = log_message(err, "kafka: done:")
    assert m, "no kafka summary in:\n" + err[-3000:]
    nums = dict((k, int(v)) for k, v in re.findall(r"(\w+)=(\d+)", m))
    head = re.match(r"kafka: done: (\d+) events offered, (\d+) acknowledged \((\d+) replayed from the spool\), "
                    r"(\d+) spooled", m)
    nums.update(offered=int(head[1]), acknowledged=int(head[2]), replayed=int(head[3]), spooled=int(head[4]))
    nums["waiting"] = int(re.search(r"(\d+) waiting in the spool", m)[1])
    return nums


def summary(err):
    rec = next(r for r in log_records(err) if r.get("msg") == "summary")
    return {k: int(v) for k, v in rec.items() if isinstance(v, str) and v.isdigit()}


def lines_by_type(stdout):
    flows, others = [], []
    for line in stdout.splitlines():
        if line.strip():
            (flows if '"type":"flow"' in line else others).append(line)
    return flows, others


def community_id(line):
    return re.search(r'"community_id":"([^"]*)"', line)[1]


def pcap(tmp_path, n):
    path = tmp_path / "flows.pcap"
    pcapgen.scenario_many_flows(n).write(str(path))
    return str(path)


def test_kafka_holds_every_event_as_stdout(cluster, tmp_path):
    """Flows on tracer.flows keyed by Community ID, other events on tracer.events keyed by host name:
    the same bytes as the stdout lines of the same run, and every record of a key in one partition."""
    n = 1500
    proc = start_sensor({"AGENT_PCAP_FILE": pcap(tmp_path, n), "AGENT_KAFKA_BROKERS": cluster.bootstrap,
                         "AGENT_STDOUT": "on"})
    rc, out, err = finish(proc)
    assert rc == 0, err[-3000:]
    flows, others = lines_by_type(out)
    assert len(flows) == n
    assert any('"type":"sensor"' in o for o in others), "no sensor event on stdout"
    got = consume(cluster.bootstrap, "tracer.flows")
    assert sorted(v for _, _, v in got) == sorted(flows)
    for part, key, value in got:
        assert key == community_id(value)
    parts = {}
    for part, key, _ in got:
        parts.setdefault(key, set()).add(part)
    assert all(len(p) == 1 for p in parts.values())
    assert len({part for part, _, _ in got}) == 4, "flows were not spread over the 4 partitions"
    ev = consume(cluster.bootstrap, "tracer.events")
    assert sorted(v for _, _, v in ev) == sorted(others)
    assert {k for _, k, _ in ev} == {__import__("socket").gethostname()}
    k = kafka_done(err)
    assert (k["offered"], k["acknowledged"], k["spooled"], k["queue_full"], k["timed_out"]) == \
        (n + len(others), n + len(others), 0, 0, 0)


def test_broker_down_spools_and_replays(cluster, tmp_path):
    """The leader of two of the four partitions is down until events spool: what it did not acknowledge
    within AGENT_KAFKA_DELIVERY_TIMEOUT goes to the spool and is produced again once it is back
    (within the shutdown timeout): nothing lost, every event accounted for."""
    n = 2000
    spool = tmp_path / "spool"
    spool.mkdir(mode=0o700)
    # the mock cluster picks leaders at random: broker 2 leads partitions 0 and 1, 1 and 3 the others
    for part, broker in ((0, 2), (1, 2), (2, 1), (3, 3)):
        cluster.cmd("leader tracer.flows %d %d" % (part, broker))
    cluster.cmd("down 2")
    proc = start_sensor({"AGENT_PCAP_FILE": pcap(tmp_path, n), "AGENT_KAFKA_BROKERS": cluster.bootstrap,
                         "AGENT_STDOUT": "on", "AGENT_STATS_INTERVAL": "0", "AGENT_SPOOL_DIR": str(spool),
                         "AGENT_KAFKA_DELIVERY_TIMEOUT": "1s", "AGENT_SHUTDOWN_TIMEOUT": "30s"})
    # Up again only once the broker's share timed out and reached the spool (no timing assumed).
    deadline = time.monotonic() + 120
    while not list((spool / "kafka").glob("*.batch")):
        if proc.poll() is not None or time.monotonic() >= deadline:
            proc.kill()
            _, _, err = finish(proc)
            pytest.fail("nothing was spooled (sensor exit status %s):\n%s" % (proc.returncode, err[-4000:]))
        time.sleep(0.1)
    cluster.cmd("up 2")
    rc, out, err = finish(proc)
    assert rc == 0, err[-3000:]
    flows, _ = lines_by_type(out)
    assert len(flows) == n
    got = [v for _, _, v in consume(cluster.bootstrap, "tracer.flows")]
    assert set(got) == set(flows), "missing %d" % len(set(flows) - set(got))
    k = kafka_done(err)
    assert k["timed_out"] > 0 and k["spooled"] == k["timed_out"], k
    assert k["replayed"] == k["spooled"] and k["waiting"] == 0, k
    assert k["offered"] == k["acknowledged"] - k["replayed"] + k["spooled"] == n, k
    assert k["spool_full"] == k["no_spool"] == k["spool_error"] == k["shutdown"] == 0, k
    assert len(got) == n                 # each event once: the timed-out ones never reached the broker


def test_produce_errors_are_retried(cluster, tmp_path):
    """Produce requests that fail (REQUEST_TIMED_OUT, NOT_LEADER_FOR_PARTITION) are retried by the
    idempotent producer: every event once, in order per key, nothing spooled."""
    n = 1000
    cluster.cmd("errors 10 7")
    cluster.cmd("errors 10 6")
    proc = start_sensor({"AGENT_PCAP_FILE": pcap(tmp_path, n), "AGENT_KAFKA_BROKERS": cluster.bootstrap,
                         "AGENT_STDOUT": "on", "AGENT_STATS_INTERVAL": "0", "AGENT_SHUTDOWN_TIMEOUT": "30s"})
    rc, out, err = finish(proc)
    assert rc == 0, err[-3000:]
    flows, _ = lines_by_type(out)
    got = [v for _, _, v in consume(cluster.bootstrap, "tracer.flows")]
    assert sorted(got) == sorted(flows) and len(flows) == n
    k = kafka_done(err)
    assert k["offered"] == k["acknowledged"] == n and k["spooled"] == 0, k


def test_brokers_down_past_the_spool_cap(cluster, mock_bin, tmp_path):
    """Every broker down, a 1 MiB spool: the oldest spooled events are deleted and counted, the sensor
    ends normally (exit 4: events dropped); a later run with the brokers back produces what stayed."""
    n = 4000
    spool = tmp_path / "spool"
    spool.mkdir(mode=0o700)
    for b in (1, 2, 3):
        cluster.cmd("down %d" % b)
    env = {"AGENT_PCAP_FILE": pcap(tmp_path, n), "AGENT_KAFKA_BROKERS": cluster.bootstrap,
           "AGENT_STDOUT": "on", "AGENT_STATS_INTERVAL": "0", "AGENT_SPOOL_DIR": str(spool),
           "AGENT_SPOOL_MAX_MB": "1", "AGENT_KAFKA_DELIVERY_TIMEOUT": "1s", "AGENT_SHUTDOWN_TIMEOUT": "2s"}
    rc, out, err = finish(start_sensor(env))
    assert rc == EXIT_DROPPED, err[-3000:]
    flows, others = lines_by_type(out)
    total = len(flows) + len(others)
    k = kafka_done(err)
    assert k["offered"] == total and k["acknowledged"] == 0
    assert k["spooled"] == total                         # every one reached the spool once
    assert k["spool_full"] > 0
    assert k["spool_full"] + k["waiting"] == total       # deleted for room, or still waiting: none unaccounted
    waiting = k["waiting"]

    for b in (1, 2, 3):
        cluster.cmd("up %d" % b)
    empty = tmp_path / "empty.pcap"
    pcapgen.write_pcap(str(empty), [])
    env.update({"AGENT_PCAP_FILE": str(empty), "AGENT_SHUTDOWN_TIMEOUT": "30s"})
    rc, out2, err2 = finish(start_sensor(env))
    assert rc == 0, err2[-3000:]
    k2 = kafka_done(err2)
    assert k2["replayed"] == waiting and k2["waiting"] == 0, k2
    got = [v for _, _, v in consume(cluster.bootstrap, "tracer.flows")] + \
          [v for _, _, v in consume(cluster.bootstrap, "tracer.events")]
    first = set(flows) | set(others)
    replayed = [g for g in got if g in first]
    assert len(replayed) == waiting and len(set(replayed)) == waiting
    # what was kept is the newest: the spool deletes oldest first
    assert set(replayed) <= first


def test_hanging_http_does_not_stall_kafka(cluster, tmp_path):
    """HTTP endpoint that never answers + Kafka healthy + stdout: Kafka and stdout get every event,
    the capture loses nothing, and HTTP counts its own losses at the shutdown timeout."""
    n = 3000
    rcv = Receiver(policy=always(Stall(3600)))
    try:
        proc = start_sensor({"AGENT_PCAP_FILE": pcap(tmp_path, n), "AGENT_KAFKA_BROKERS": cluster.bootstrap,
                             "AGENT_ENDPOINT_URL": rcv.url(), "AGENT_STDOUT": "on",
                             "AGENT_STATS_INTERVAL": "0", "AGENT_SHUTDOWN_TIMEOUT": "5s",
                             "AGENT_EVENT_RING_SLOTS": "1024"})
        rc, out, err = finish(proc)
    finally:
        rcv.close()
    assert rc == EXIT_DROPPED, err[-3000:]          # HTTP's events are lost, and said so
    flows, others = lines_by_type(out)
    assert len(flows) == n
    s = summary(err)
    assert s["packet_ring_drops"] == 0 and s["event_ring_drops"] == 0, s
    got = consume(cluster.bootstrap, "tracer.flows")
    assert sorted(v for _, _, v in got) == sorted(flows)
    k = kafka_done(err)
    assert k["acknowledged"] == k["offered"] == n + len(others), k
    done = log_message(err, "sender: done:")
    m = re.search(r"(\d+) events delivered .* shutdown=(\d+)", done)
    assert int(m[1]) == 0 and int(m[2]) == n, done   # every flow was queued for HTTP, none answered


def test_kafka_metrics_and_stats_event(cluster, tmp_path):
    """The sensor event carries delivery.outputs.kafka; /metrics has the output="kafka" samples."""
    n = 200
    rc, out, err = finish(start_sensor({"AGENT_PCAP_FILE": pcap(tmp_path, n),
                                        "AGENT_KAFKA_BROKERS": cluster.bootstrap, "AGENT_STDOUT": "on"}))
    assert rc == 0, err[-3000:]
    import json
    sensor = [json.loads(l) for l in out.splitlines() if '"type":"sensor"' in l]
    final = [e for e in sensor if e.get("final")]
    assert final, "no final sensor event"
    outs = final[-1]["delivery"]["outputs"]
    assert outs["http"] is False
    assert set(outs["stdout"]) == {"events_written", "events_failed"} and outs["stdout"]["events_failed"] == 0
    kf = outs["kafka"]
    assert set(kf) == {"events_offered", "events_produced", "events_delivered", "events_spooled",
                       "events_replayed", "queued", "spool_events", "failed", "dropped", "fatal_errors",
                       "producer_restarts"}
    assert kf["failed"] == {"queue_full": 0, "timed_out": 0, "broker_error": 0, "shutdown": 0, "replay": 0,
                            "fatal": 0}
    assert kf["fatal_errors"] == kf["producer_restarts"] == 0
    assert kf["dropped"] == {"no_spool": 0, "spool_full": 0, "spool_error": 0, "invalid": 0}


def test_fatal_producer_error_recreates_the_producer(cluster, tmp_path):
    """The first Produce request fails with OUT_OF_ORDER_SEQUENCE_NUMBER (45): for the idempotent producer
    that is a fatal error (its sequence with the brokers is lost, the librdkafka handle is unusable).
    The sensor creates a new producer and produces again what the old one had not got acknowledged:
    without a spool, nothing is lost, the exit status is 0, and the error and the restart are counted
    (kafka: done line, delivery.outputs.kafka in the sensor event)."""
    n = 1500
    cluster.cmd("errors 1 45")
    proc = start_sensor({"AGENT_PCAP_FILE": pcap(tmp_path, n), "AGENT_KAFKA_BROKERS": cluster.bootstrap,
                         "AGENT_STDOUT": "on", "AGENT_SHUTDOWN_TIMEOUT": "30s"})
    rc, out, err = finish(proc)
    assert rc == 0, err[-3000:]
    assert log_message(err, "kafka: fatal producer error"), err[-3000:]
    flows, others = lines_by_type(out)
    assert len(flows) == n
    got = [v for _, _, v in consume(cluster.bootstrap, "tracer.flows")]
    assert set(got) == set(flows), "missing %d" % len(set(flows) - set(got))
    k = kafka_done(err)
    total = n + len(others)
    assert (k["fatal_errors"], k["producer_restarts"]) == (1, 1), k
    assert k["fatal"] > 0, k
    assert k["offered"] == k["acknowledged"] == total, k
    assert k["spooled"] == k["no_spool"] == k["queue_full"] == k["shutdown"] == 0, k
    import json
    final = [e for e in (json.loads(l) for l in out.splitlines() if '"type":"sensor"' in l) if e.get("final")]
    kf = final[-1]["delivery"]["outputs"]["kafka"]
    # The final sensor event is itself produced to Kafka, so it may be written before the restart
    # (the fatal answer comes back after it): its counters are a snapshot at most the final ones.
    assert 0 <= kf["producer_restarts"] <= kf["fatal_errors"] <= 1, kf
    assert 0 <= kf["failed"]["fatal"] <= k["fatal"], kf
