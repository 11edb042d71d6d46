"""Delivery that loses nothing (issue 3), tested end to end: the built sensor
replays a capture file and POSTs to a scripted receiver on loopback
(fault_receiver.py) that fails on purpose: 503s, connection refused, 429 with
Retry-After, 4xx, connections closed mid-request, stalls past the timeout,
signatures checked, gzip, TLS with a test CA. Every test asserts exact counts:
the events that arrive (deduplicated by event_id, equal to the stdout run's
records), the requests made, and the sender's last log line

    sender: done: N events delivered (M replayed from the spool), S spooled,
    D dropped (queue_full=.. spool_full=.. spool_error=.. rejected=..
    shutdown=.. unserializable=..), W waiting in the spool

and the exit status (0 all delivered, 3 some left in the spool, 4 some dropped).

Each run also carries one `type: "sensor"` stats event (the final one; runs
are far shorter than AGENT_STATS_INTERVAL), so a run of the mixed capture
makes len(flows) + 1 events.

Run with `-s` to see the counts each outage test saw (lines "COUNTS ...").
"""

import email.utils
import hashlib
import hmac
import json
import os
import pathlib
import re
import signal
import socket
import subprocess
import time
import zlib

import pytest

import pcapgen
from conftest import (assert_no_sanitizer, canonical, check_shape, check_unique_event_ids, clean_env,
                      compare_records, parse_ndjson, run_sensor, tracer_path, wait_for_text)
from fault_receiver import (OK, Close, Receiver, Respond, Stall, TLSConfig, always,
                            for_seconds, hmac_signature, make_pki, script)

MiB = 1024 * 1024

# Short retry timings keep every test to a few seconds. The topology hook is
# off so that a run's stream is its flows plus its final sensor event.
QUIET = {"AGENT_TOPOLOGY_INTERVAL": "0"}
FAST = {
    **QUIET,
    "AGENT_RETRY_BASE": "100ms",
    "AGENT_RETRY_MAX": "400ms",
    "AGENT_CONNECT_TIMEOUT": "1s",
    "AGENT_REQUEST_TIMEOUT": "3s",
    # One request in flight: these tests check the order of attempts and keep-alive.
    "AGENT_HTTP_CONNECTIONS": "1",
}

DONE_RE = re.compile(
    r"sender: done: (?P<delivered>\d+) events delivered \((?P<replayed>\d+) replayed from the "
    r"spool\), (?P<spooled>\d+) spooled, (?P<dropped>\d+) dropped \(queue_full=(?P<queue_full>\d+) "
    r"spool_full=(?P<spool_full>\d+) spool_error=(?P<spool_error>\d+) rejected=(?P<rejected>\d+) "
    r"shutdown=(?P<shutdown>\d+) undeliverable=(?P<undeliverable>\d+) dead_lettered=(?P<dead_lettered>\d+) "
    r"unrouted=(?P<unrouted>\d+) unserializable=(?P<unserializable>\d+)\), (?P<waiting>\d+) "
    r"waiting in the spool\"?$")  # logfmt quotes the message

SPOOL_NAME_RE = re.compile(r"^(\d{20})\.batch$")
SPOOL_HDR_RE = re.compile(rb"^TRSPOOL2 (0|[1-9]\d*) (0|[1-9]\d*) ([0-9a-f]{64})\n")


def report(name, **counts):
    print("COUNTS %s: %s" % (name, " ".join("%s=%s" % kv for kv in counts.items())))


# ----------------------------------------------------------------------------
# fixtures

@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """The mixed scenario, its file, and the flow records the sensor prints on stdout for it."""
    d = tmp_path_factory.mktemp("delivery")
    sc = pcapgen.scenario_mixed()
    path = d / "mixed.pcap"
    sc.write(str(path))
    r = run_sensor(tracer_path(), {"AGENT_PCAP_FILE": str(path), **QUIET})
    recs = parse_ndjson(r.stdout)
    flows = [e for e in recs if e.get("type") == "flow"]
    assert len(flows) == len(sc.recs)
    assert len(recs) == len(flows) + 1, "expected one final sensor event on stdout"
    return sc, path, flows


@pytest.fixture(scope="module")
def empty_pcap(tmp_path_factory):
    p = tmp_path_factory.mktemp("empty") / "empty.pcap"
    pcapgen.write_pcap(str(p), [])
    return p


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def receivers():
    """Receivers made through this fixture are stopped at teardown."""
    made = []

    def make(*a, **kw):
        r = Receiver(*a, **kw)
        made.append(r)
        return r
    yield make
    for r in made:
        r.stop()


# ----------------------------------------------------------------------------
# helpers

def denv(pcap, url, **extra):
    """These tests were written for array bodies and one endpoint for every
    event type: AGENT_BATCH_SIZE comes with AGENT_HTTP_BODY=array, and the
    sensor events go to the same URL (AGENT_EVENTS_ENDPOINT_URL)."""
    env = {"AGENT_PCAP_FILE": str(pcap), "AGENT_ENDPOINT_URL": url, "AGENT_EVENTS_ENDPOINT_URL": url}
    env.update(FAST)
    if "AGENT_BATCH_SIZE" in extra:
        env["AGENT_HTTP_BODY"] = "array"
    env.update({k: str(v) for k, v in extra.items()})
    return env


def done(stderr):
    """The sender's last log line, parsed (ints). Exactly one such line, and no
    sender/delivery log line after it."""
    lines = stderr.splitlines()
    idx = [i for i, l in enumerate(lines) if "sender: done:" in l]
    assert len(idx) == 1, "expected one 'sender: done:' line, got %d:\n%s" % (len(idx), stderr[-3000:])
    line = lines[idx[0]]
    m = DONE_RE.search(line)
    assert m, "last sender line has an unexpected form: %r" % line
    # The message follows 'msg="' (logfmt) or a space (plain / JSON "msg":").
    later = [l for l in lines[idx[0] + 1:] if re.search(r'(msg="|msg":"| )(sender|delivery): ', l)]
    assert not later, "sender/delivery lines after 'sender: done': %r" % later
    return {k: int(v) for k, v in m.groupdict().items()}


def expect_done(stderr, **want):
    """done() with every counter not named in `want` expected to be 0."""
    d = done(stderr)
    full = {k: 0 for k in d}
    full.update(want)
    full["dropped"] = (full["queue_full"] + full["spool_full"] + full["spool_error"] +
                       full["rejected"] + full["shutdown"] + full["undeliverable"] +
                       full["dead_lettered"] + full["unrouted"] + full["unserializable"])
    if "dropped" in want:
        assert want["dropped"] == full["dropped"]
    assert d == full, "last log line: got %s, expected %s" % (d, full)
    return d


def seq_of(ev):
    prefix, _, n = ev["event_id"].rpartition("-")
    assert prefix and n.isdigit(), "event_id %r is not <prefix>-<seq>" % ev["event_id"]
    return prefix, int(n)


def dedupe(events):
    """Unique events by event_id, in first-seen order; a repeated event_id must
    carry the very same event. Returns (unique, number of duplicates)."""
    seen = {}
    dups = 0
    for e in events:
        eid = e["event_id"]
        if eid in seen:
            assert seen[eid] == e, "event_id %s delivered twice with different content" % eid
            dups += 1
        else:
            seen[eid] = e
    return list(seen.values()), dups


def split_types(events):
    flows = [e for e in events if e.get("type") == "flow"]
    sensors = [e for e in events if e.get("type") == "sensor"]
    assert len(flows) + len(sensors) == len(events), \
        "events of other types: %r" % [e.get("type") for e in events]
    return flows, sensors


def check_flows(flows, sc, pcap, stdout_flows):
    """The flows that arrived are exactly the expected records, and the same as
    the stdout run's records ignoring event_id."""
    compare_records(flows, sc.expected(pcap.name))
    assert canonical(flows) == canonical(stdout_flows)


def check_content_type(reqs):
    for r in reqs:
        ct = r.header("Content-Type") or ""
        assert ct.split(";")[0].strip() == "application/json", "Content-Type %r" % ct
        assert r.method == "POST" and r.path == "/ingest", (r.method, r.path)


def read_spool(d, tolerate_vanished=False):
    """Every <20 digits>.batch file in d, checked (header, size, the HMAC under
    d/.spool-key, the body a JSON array/object of that many events), as a list
    of dicts sorted by sequence: seq, nevents, body, size, events."""
    out = []
    key = None
    for name in os.listdir(d):
        m = SPOOL_NAME_RE.match(name)
        if not m:
            continue
        try:
            with open(os.path.join(d, name), "rb") as f:
                data = f.read()
        except FileNotFoundError:
            if tolerate_vanished:
                continue
            raise
        h = SPOOL_HDR_RE.match(data)
        assert h, "spool file %s: bad header %r" % (name, data[:64])
        nev, blen, mac = int(h.group(1)), int(h.group(2)), h.group(3).decode()
        body = data[h.end():]
        assert len(body) == blen, "spool file %s: body %d bytes, header says %d" % (name, len(body), blen)
        key = key or (pathlib.Path(d) / ".spool-key").read_bytes()
        assert spool_mac(key, int(m.group(1)), nev, body) == mac, "spool file %s: MAC mismatch" % name
        # The spool holds events as NDJSON (one per line); files from before
        # that change hold the body as POSTed (an array or one object).
        if body.lstrip().startswith(b"["):
            events = json.loads(body)
        else:
            events = [json.loads(l) for l in body.splitlines() if l.strip()]
        assert len(events) == nev, "spool file %s: %d events, header says %d" % (name, len(events), nev)
        out.append({"seq": int(m.group(1)), "name": name, "nevents": nev, "body": body,
                    "size": len(data), "events": events})
    out.sort(key=lambda x: x["seq"])
    return out


def spool_mac(key, seq, nevents, body):
    """The MAC a spool file's header carries (sender/spool.h)."""
    return hmac.new(key, b"%020d %d %d\n" % (seq, nevents, len(body)) + body, hashlib.sha256).hexdigest()


def spool_events(d):
    return sum(f["nevents"] for f in read_spool(d, tolerate_vanished=True))


def log_lines(stderr, needle):
    """Log lines holding needle; the startup line (every setting's value) is not one."""
    return [l for l in stderr.splitlines() if needle in l and "msg=configuration " not in l]


# ----------------------------------------------------------------------------
# (1) an outage while the capture replays: 503 for the first 2 s

def test_outage_503_then_recovery_all_events_arrive(tracer, receivers, mixed):
    sc, pcap, stdout_flows = mixed
    total = len(sc.recs) + 1
    rcv = receivers(policy=for_seconds(2.0, Respond(503, "busy, try later")))
    r = run_sensor(tracer, denv(pcap, rcv.url(), AGENT_BATCH_SIZE=10), check=False)
    assert r.rc == 0, "exit %d:\n%s" % (r.rc, r.stderr[-3000:])

    reqs = rcv.snapshot()
    failed = [q for q in reqs if q.status == 503]
    ok = [q for q in reqs if q.accepted()]
    assert len(failed) + len(ok) == len(reqs), "requests neither 503 nor 2xx: %r" % reqs
    assert failed, "no request during the outage"
    check_content_type(reqs)
    # A failing request does not block the next one: the first two requests are
    # the first two batches; two failures in a row and the endpoint is taken as
    # down, so the oldest batch alone probes it until it answers; then the rest
    # goes in order.
    assert reqs[:len(failed)] == failed, "a request was accepted during the outage"
    assert len(failed) >= 2
    assert failed[1].raw != failed[0].raw
    assert {q.raw for q in failed[2:]} <= {failed[0].raw}, "the probe was not the oldest batch"
    assert ok[0].raw == failed[0].raw and ok[1].raw == failed[1].raw
    # Exponential backoff while down (base 0.1 s, cap 0.4 s, jitter in [d/2, d]): lower bounds.
    for k, (a, b) in enumerate(zip(reqs[1:], reqs[2:len(failed) + 1]), start=1):
        d = min(0.1 * 2 ** (k - 1), 0.4)
        assert b.t - a.t_done >= d / 2 - 0.01, "retry %d after %.3f s, backoff floor %.3f s" % (
            k, b.t - a.t_done, d / 2)

    events = rcv.accepted_events()
    unique, dups = dedupe(events)
    assert dups == 0, "%d duplicates although every failure was a 503" % dups
    # In order and complete: event sequence numbers 1..total, once each.
    prefixes = {seq_of(e)[0] for e in unique}
    assert len(prefixes) == 1
    assert [seq_of(e)[1] for e in events] == list(range(1, total + 1))
    flows, sensors = split_types(unique)
    assert len(sensors) == 1
    check_flows(flows, sc, pcap, stdout_flows)

    expect_done(r.stderr, delivered=total)
    assert len(log_lines(r.stderr, "failed (HTTP 503: busy, try later); retrying in")) == 1
    assert len(log_lines(r.stderr, "answers again after %d failed attempts" % len(failed))) == 1
    report("outage_503", requests=len(reqs), failed_503=len(failed), accepted=len(ok),
           events_received=len(events), unique=len(unique), duplicates=dups,
           flows=len(flows), sensor_events=len(sensors))


# ----------------------------------------------------------------------------
# (2) an outage longer than the memory queue, with a spool

SPOOL_SMALL_QUEUE = {"AGENT_BATCH_SIZE": 5, "AGENT_SEND_INTERVAL": "1h",
                     "AGENT_QUEUE_MAX_EVENTS": 20}


def test_outage_longer_than_queue_spool_replayed_when_back(tracer, receivers, mixed, tmp_path):
    """Connection refused for 2 s; memory holds 20 events (4 batches of 5).
    Replaying a file, a full queue makes the reader wait (backpressure) while
    the outage is shorter than AGENT_SPOOL_AFTER (5 s): nothing is spooled,
    and once the endpoint is back everything goes, in order."""
    sc, pcap, stdout_flows = mixed
    total = len(sc.recs) + 1
    spool = tmp_path / "spool"
    spool.mkdir()
    rcv = receivers()
    rcv.stop()
    timer = rcv.start_after(2.0)
    r = run_sensor(tracer, denv(pcap, rcv.url(), AGENT_SPOOL_DIR=spool,
                                AGENT_SHUTDOWN_TIMEOUT="30s", **SPOOL_SMALL_QUEUE), check=False)
    timer.join()
    assert r.rc == 0, "exit %d:\n%s" % (r.rc, r.stderr[-3000:])
    reqs = rcv.snapshot()
    assert all(q.accepted() for q in reqs)
    check_content_type(reqs)
    events = rcv.accepted_events()
    unique, dups = dedupe(events)
    assert dups == 0
    assert [seq_of(e)[1] for e in events] == list(range(1, total + 1)), \
        "not in order"
    assert all(len(q.events) == 5 for q in reqs[:-1]) and 1 <= len(reqs[-1].events) <= 5
    flows, sensors = split_types(unique)
    assert len(sensors) == 1
    check_flows(flows, sc, pcap, stdout_flows)
    expect_done(r.stderr, delivered=total)
    assert log_lines(r.stderr, "failed (Failed to connect to 127.0.0.1 port %d" % rcv.port), \
        "no connection-refused line:\n" + r.stderr[-3000:]
    assert read_spool(spool) == []
    report("outage_refused_backpressure", requests=len(reqs), events=len(events), duplicates=dups,
           flows=len(flows))


def test_outage_spooled_at_exit_then_restart_delivers(tracer, receivers, mixed, empty_pcap, tmp_path):
    """Endpoint refused for a whole run: everything ends in the spool (exit 3,
    nothing dropped); a restart on an empty capture with the endpoint back
    replays it all, oldest file first, byte for byte."""
    sc, pcap, stdout_flows = mixed
    total = len(sc.recs) + 1
    spool = tmp_path / "spool"
    spool.mkdir()
    rcv = receivers()
    rcv.stop()
    r1 = run_sensor(tracer, denv(pcap, rcv.url(), AGENT_SPOOL_DIR=spool,
                                 AGENT_SHUTDOWN_TIMEOUT="1s", **SPOOL_SMALL_QUEUE), check=False)
    assert r1.rc == 3, "exit %d (expected 3: left in the spool):\n%s" % (r1.rc, r1.stderr[-3000:])
    expect_done(r1.stderr, spooled=total, waiting=total)
    files = read_spool(spool)
    nbatches = -(-total // 5)
    assert [f["seq"] for f in files] == list(range(1, nbatches + 1))
    spooled_events = [e for f in files for e in f["events"]]
    assert sorted(seq_of(e)[1] for e in spooled_events) == list(range(1, total + 1))
    # Overflow batches (events 21..) and the 4 memory batches (aged past
    # AGENT_SPOOL_AFTER, or at exit): each file holds one batch of 5 in order.
    for f in files:
        seqs = [seq_of(e)[1] for e in f["events"]]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs))) and seqs[0] % 5 == 1, seqs

    rcv.start()
    r2 = run_sensor(tracer, denv(empty_pcap, rcv.url(), AGENT_SPOOL_DIR=spool,
                                 AGENT_SHUTDOWN_TIMEOUT="30s", **SPOOL_SMALL_QUEUE), check=False)
    assert r2.rc == 0, "exit %d:\n%s" % (r2.rc, r2.stderr[-3000:])
    assert log_lines(r2.stderr, "delivery: spool %s holds %d batches (%d events) from before" % (
        spool, nbatches, total))
    expect_done(r2.stderr, delivered=total + 1, replayed=total)
    old_prefix = seq_of(spooled_events[0])[0]
    replayed = [q for q in rcv.accepted() if q.events and seq_of(q.events[0])[0] == old_prefix]
    assert [q.events for q in replayed] == [f["events"] for f in files], \
        "spooled batches not replayed oldest first, event for event"
    unique, dups = dedupe(rcv.accepted_events())
    assert dups == 0
    flows, sensors = split_types(unique)
    assert len(sensors) == 2      # one per run
    check_flows(flows, sc, pcap, stdout_flows)
    assert read_spool(spool) == []
    report("outage_whole_run_then_restart", spool_files=len(files), spooled=total,
           restart_requests=len(rcv.snapshot()), replayed=total, duplicates=dups, flows=len(flows))


def test_shutdown_timeout_honoured_after_batches_were_spooled(tracer, receivers, mixed, tmp_path):
    """Issue 3: at the end of the file the sender "tries to deliver what is
    queued for up to AGENT_SHUTDOWN_TIMEOUT". The endpoint answers 503 for 3 s
    (longer than AGENT_SPOOL_AFTER=0.5 s, so the batches move to the spool
    meanwhile) and is back well within the 30 s shutdown timeout: everything
    must be delivered in this run (exit 0), not left in the spool."""
    sc, pcap, stdout_flows = mixed
    total = len(sc.recs) + 1
    spool = tmp_path / "spool"
    spool.mkdir()
    rcv = receivers(policy=for_seconds(3.0, Respond(503, "busy")))
    r = run_sensor(tracer, denv(pcap, rcv.url(), AGENT_SPOOL_DIR=spool, AGENT_BATCH_SIZE=10,
                                AGENT_SPOOL_AFTER="500ms", AGENT_SHUTDOWN_TIMEOUT="30s"), check=False)
    d = done(r.stderr)
    report("shutdown_timeout_with_spool", rc=r.rc, requests=len(rcv.snapshot()),
           delivered=d["delivered"], spooled=d["spooled"], waiting=d["waiting"])
    assert r.rc == 0, "exit %d: the sender gave up before the shutdown timeout:\n%s" % (
        r.rc, r.stderr[-3000:])
    unique, dups = dedupe(rcv.accepted_events())
    flows, sensors = split_types(unique)
    check_flows(flows, sc, pcap, stdout_flows)
    assert d["delivered"] == total and d["waiting"] == 0 and d["dropped"] == 0
    assert d["replayed"] == d["spooled"]
    assert read_spool(spool) == []


# ----------------------------------------------------------------------------
# (3) kill -9 while batches are spooled, then a restart

def _free_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_kill_9_with_spooled_batches_then_restart(tracer, receivers, empty_pcap, tmp_path):
    """The sensor captures live on lo (so it is running, not shutting down):
    25 one-datagram UDP flows end idle after 1 s, the endpoint answers 503, so
    after AGENT_SPOOL_AFTER=0.5 s every batch is on disk. kill -9 then; a
    restart on an empty capture with the endpoint back delivers every one of
    them, byte for byte as spooled."""
    if os.geteuid() != 0:
        pytest.skip("live capture on lo needs root")
    n = 25
    port = _free_udp_port()
    spool = tmp_path / "spool"
    spool.mkdir()
    errlog = tmp_path / "run1.stderr"
    rcv = receivers(policy=always(Respond(503, "down for maintenance")))
    env = {"AGENT_INTERFACE": "lo", "AGENT_BPF_FILTER": "udp and dst host 127.0.0.1 and dst port %d" % port,
           "AGENT_UDP_IDLE_TIMEOUT": "1", "AGENT_STATS_INTERVAL": "0", "AGENT_ENDPOINT_URL": rcv.url(),
           "AGENT_SPOOL_DIR": str(spool), "AGENT_BATCH_SIZE": "10", "AGENT_HTTP_BODY": "array",
           "AGENT_SEND_INTERVAL": "200ms",
           "AGENT_SPOOL_AFTER": "500ms", "AGENT_SHUTDOWN_TIMEOUT": "120s", **FAST}
    with open(errlog, "wb") as ef:
        p = subprocess.Popen([tracer], env=clean_env(env), stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=ef)
    socks = []
    try:
        assert wait_for_text(errlog, "capturing on lo", p, 20), errlog.read_text(errors="replace")[-3000:]
        ports = set()
        for i in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.0.1", 0))
            s.sendto(b"kill9-%02d-" % i + b"x" * i, ("127.0.0.1", port))
            ports.add(s.getsockname()[1])
            socks.append(s)
        end = time.monotonic() + 30
        while time.monotonic() < end and spool_events(spool) < n:
            assert p.poll() is None, "sensor exited early: %s" % errlog.read_text()[-3000:]
            time.sleep(0.05)
        assert spool_events(spool) == n, "spool holds %d events, expected %d" % (spool_events(spool), n)
        assert p.poll() is None
        p.send_signal(signal.SIGKILL)
        out, _ = p.communicate(timeout=30)
    finally:
        for s in socks:
            s.close()
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == -signal.SIGKILL
    assert out == b"", "events on stdout although an endpoint is set"
    err1 = errlog.read_text(errors="replace")
    assert_no_sanitizer(err1)
    assert len(log_lines(err1, "failed (HTTP 503: down for maintenance); retrying in")) == 1
    failed_first_run = len(rcv.snapshot())
    assert failed_first_run >= 1 and not rcv.accepted()

    files = read_spool(spool)
    spooled = [e for f in files for e in f["events"]]
    check_unique_event_ids(spooled)
    for e in spooled:
        check_shape(e)
    assert {int(e["src_port"]) for e in spooled} == ports
    for e in spooled:
        assert (e["dst_port"], e["packet_count"], e["end_reason"], e["direction"]) == \
            (str(port), 1, "idle", "local"), e
    assert sorted(e["byte_count"] for e in spooled) == sorted(14 + 20 + 8 + 9 + i for i in range(n))

    rcv.policy = always(OK)
    r2 = run_sensor(tracer, denv(empty_pcap, rcv.url(), AGENT_SPOOL_DIR=spool), check=False)
    assert r2.rc == 0, "exit %d:\n%s" % (r2.rc, r2.stderr[-3000:])
    assert log_lines(r2.stderr, "delivery: spool %s holds %d batches (%d events) from before" % (
        spool, len(files), n))
    expect_done(r2.stderr, delivered=n + 1, replayed=n)
    old_prefix = seq_of(spooled[0])[0]
    replayed = [q for q in rcv.accepted() if q.events and seq_of(q.events[0])[0] == old_prefix]
    # Replayed in today's body format (one object per POST), oldest file first.
    assert [e for q in replayed for e in q.events] == [e for f in files for e in f["events"]]
    unique, dups = dedupe(rcv.accepted_events())
    assert dups == 0
    flows, sensors = split_types(unique)
    assert len(sensors) == 1
    assert sorted(flows, key=lambda e: e["event_id"]) == sorted(spooled, key=lambda e: e["event_id"])
    assert read_spool(spool) == []
    report("kill_9_restart", failed_requests_before_kill=failed_first_run, spool_files=len(files),
           spooled=n, replayed=n, duplicates=dups, flows=len(flows))


def test_sigterm_live_capture_endpoint_down_spools_everything(tracer, receivers, tmp_path):
    """SIGTERM during live capture (lo) with the endpoint refusing: every open
    flow ends "shutdown", the sender tries for AGENT_SHUTDOWN_TIMEOUT=1s, then
    spools; exit 3, nothing dropped, the spool holds every event."""
    if os.geteuid() != 0:
        pytest.skip("live capture on lo needs root")
    n = 10
    port = _free_udp_port()
    spool = tmp_path / "spool"
    spool.mkdir()
    errlog = tmp_path / "stderr"
    rcv = receivers()
    rcv.stop()
    env = {"AGENT_INTERFACE": "lo", "AGENT_BPF_FILTER": "udp and dst host 127.0.0.1 and dst port %d" % port,
           "AGENT_ENDPOINT_URL": rcv.url(), "AGENT_EVENTS_ENDPOINT_URL": rcv.url(),
           "AGENT_SPOOL_DIR": str(spool), "AGENT_BATCH_SIZE": "4", "AGENT_HTTP_BODY": "array",
           "AGENT_SHUTDOWN_TIMEOUT": "1s", **FAST}
    with open(errlog, "wb") as ef:
        p = subprocess.Popen([tracer], env=clean_env(env), stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=ef)
    try:
        assert wait_for_text(errlog, "capturing on lo", p, 20), errlog.read_text(errors="replace")[-3000:]
        socks = []   # all open until every datagram is out: n distinct source ports
        for i in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.0.1", 0))
            s.sendto(b"term-%d" % i, ("127.0.0.1", port))
            socks.append(s)
        ports = {s.getsockname()[1] for s in socks}
        for s in socks:
            s.close()
        time.sleep(1.0)
        t0 = time.monotonic()
        p.send_signal(signal.SIGTERM)
        out, _ = p.communicate(timeout=30)
        took = time.monotonic() - t0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    err = errlog.read_text(errors="replace")
    assert_no_sanitizer(err)
    assert p.returncode == 3, "exit %s:\n%s" % (p.returncode, err[-3000:])
    assert out == b""
    assert log_lines(err, "received SIGTERM")
    assert took >= 0.9, "shutdown took %.2f s, timeout 1 s" % took
    expect_done(err, spooled=n + 1, waiting=n + 1)
    events = [e for f in read_spool(spool) for e in f["events"]]
    flows, sensors = split_types(events)
    assert len(sensors) == 1 and sensors[0]["final"] is True
    assert {int(e["src_port"]) for e in flows} == ports and len(flows) == n
    assert all(e["end_reason"] == "shutdown" and e["packet_count"] == 1 for e in flows)
    report("sigterm_live", spooled=n + 1, shutdown_s=round(took, 2))


# ----------------------------------------------------------------------------
# (4) the spool over its cap

def test_spool_over_cap_oldest_dropped_counted_exactly(tracer, receivers, empty_pcap, tmp_path):
    """3,000 UDP flows (~2 MiB of JSON) in batches of 100, memory for one batch,
    a 1 MiB spool, endpoint refused: the oldest spooled batches are deleted and
    counted as spool_full, exactly total - what the spool files hold."""
    n = 3000
    sc = pcapgen.scenario_many_flows(n)
    pcap = tmp_path / sc.filename()
    sc.write(str(pcap))
    total = n + 1
    batch = 100
    nbatches = -(-total // batch)
    spool = tmp_path / "spool"
    spool.mkdir()
    rcv = receivers()
    rcv.stop()
    env = denv(pcap, rcv.url(), AGENT_SPOOL_DIR=spool, AGENT_SPOOL_MAX_MB=1, AGENT_BATCH_SIZE=batch,
               AGENT_SEND_INTERVAL="1h", AGENT_QUEUE_MAX_EVENTS=batch,
               AGENT_SHUTDOWN_TIMEOUT="500ms")
    r = run_sensor(tracer, env, check=False)
    assert r.rc == 4, "exit %d (expected 4: events dropped):\n%s" % (r.rc, r.stderr[-3000:])
    files = read_spool(spool)
    left = sum(f["nevents"] for f in files)
    size = sum(f["size"] for f in files)
    assert size <= MiB, "spool holds %d bytes, over its 1 MiB cap" % size
    assert size > MiB - 2 * max(f["size"] for f in files), "spool far below its cap: %d bytes" % size
    assert 0 < left < total
    d = expect_done(r.stderr, spooled=total, spool_full=total - left, waiting=left)
    warned = [int(m.group(1)) for l in log_lines(r.stderr, "delivery: spool full:")
              for m in [re.search(r"deleted the oldest batches, (\d+) events dropped", l)]]
    assert sum(warned) == d["spool_full"]
    # Spool put k (file k) held batch k+1 (events 100k+1..100(k+1)); the memory
    # batch (events 1..100) was the last put, at the shutdown timeout. The
    # files left are the newest puts, whole.
    assert [f["seq"] for f in files] == list(range(nbatches - len(files) + 1, nbatches + 1)), \
        "not the oldest batches deleted: %r" % [f["name"] for f in files]
    # (Replaying a file, the memory batch may age into the spool before the
    # overflow does: which file holds which batch depends on timing.)
    for f in files:
        seqs = sorted(seq_of(e)[1] for e in f["events"])
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs))) and seqs[0] % batch == 1, \
            "file %s: %r" % (f["name"], seqs)
    check_unique_event_ids([e for f in files for e in f["events"]])

    # What is left is intact: a restart with the endpoint back delivers it all.
    rcv.start()
    r2 = run_sensor(tracer, denv(empty_pcap, rcv.url(), AGENT_SPOOL_DIR=spool), check=False)
    assert r2.rc == 0, "exit %d:\n%s" % (r2.rc, r2.stderr[-3000:])
    expect_done(r2.stderr, delivered=left + 1, replayed=left)
    old_prefix = seq_of(files[0]["events"][0])[0]
    got = [e for q in rcv.accepted() for e in q.events if seq_of(e)[0] == old_prefix]
    assert got == [e for f in files for e in f["events"]]
    assert read_spool(spool) == []
    report("spool_over_cap", total=total, spool_files_left=len(files), spool_bytes=size,
           events_left=left, dropped_spool_full=d["spool_full"], replayed_after_restart=left)


# ----------------------------------------------------------------------------
# (5) 4xx not retried

LONG_400 = "bad batch: " + "x" * 300


def test_4xx_not_retried_dropped_counted_logged_once(tracer, receivers, mixed):
    sc, pcap, _ = mixed
    total = len(sc.recs) + 1
    statuses = [400, 422]
    rcv = receivers(policy=lambda q: Respond(400, LONG_400) if q.index % 2 == 0
                    else Respond(422, "unprocessable\nentity"))
    r = run_sensor(tracer, denv(pcap, rcv.url(), AGENT_BATCH_SIZE=10, AGENT_SEND_INTERVAL="1h"),
                   check=False)
    assert r.rc == 4, "exit %d:\n%s" % (r.rc, r.stderr[-3000:])
    reqs = rcv.snapshot()
    assert [q.status for q in reqs] == [statuses[i % 2] for i in range(len(reqs))]
    # Exactly one request per batch: no body twice, every event once, in order.
    assert len({q.raw for q in reqs}) == len(reqs) == -(-total // 10)
    events = [e for q in reqs for e in q.events]
    assert [seq_of(e)[1] for e in events] == list(range(1, total + 1))
    expect_done(r.stderr, rejected=total)
    l400 = log_lines(r.stderr, "(HTTP 400: ")
    assert len(l400) == 1, l400
    m = re.search(r"rejected a batch of (\d+) events \(HTTP 400: (.*)\); not retried, dropped", l400[0])
    assert m, l400[0]
    assert int(m.group(1)) == len(reqs[0].events)
    assert m.group(2) == LONG_400[:200], "the body is not cut to its first 200 bytes"
    l422 = log_lines(r.stderr, "(HTTP 422: ")
    assert len(l422) == 1 and "(HTTP 422: unprocessable entity); not retried, dropped" in l422[0], l422
    assert not log_lines(r.stderr, "retrying in")
    report("4xx", requests=len(reqs), batches=len(reqs), rejected=total)


def test_4xx_logged_once_per_status_also_between_successes(tracer, receivers, mixed):
    """400, 200, 400, 200, ...: each rejected batch dropped once and counted;
    the 400 is logged once for the run, as the log line itself promises
    ("further rejections with this status are counted, not logged")."""
    sc, pcap, _ = mixed
    total = len(sc.recs) + 1
    rcv = receivers(policy=lambda q: Respond(400, "nope") if q.index % 2 == 0 else OK)
    r = run_sensor(tracer, denv(pcap, rcv.url(), AGENT_BATCH_SIZE=10, AGENT_SEND_INTERVAL="1h"),
                   check=False)
    assert r.rc == 4
    reqs = rcv.snapshot()
    assert len({q.raw for q in reqs}) == len(reqs) == -(-total // 10)
    rejected = sum(len(q.events) for q in reqs if q.status == 400)
    expect_done(r.stderr, delivered=total - rejected, rejected=rejected)
    lines = log_lines(r.stderr, "(HTTP 400: nope); not retried, dropped")
    assert len(lines) == 1, "HTTP 400 logged %d times:\n%s" % (len(lines), "\n".join(lines))


# ----------------------------------------------------------------------------
# (6) 429 / 503 with Retry-After

def test_retry_after_seconds_and_date_honoured(tracer, receivers, mixed):
    sc, pcap, stdout_flows = mixed
    total = len(sc.recs) + 1
    date = lambda: email.utils.formatdate(time.time() + 3, usegmt=True)  # noqa: E731
    rcv = receivers(policy=script([Respond(429, "slow down", {"Retry-After": "2"}),
                                   Respond(503, "later", {"Retry-After": date})]))
    r = run_sensor(tracer, denv(pcap, rcv.url(), AGENT_BATCH_SIZE=1000, AGENT_SEND_INTERVAL="1h"),
                   check=False)
    assert r.rc == 0, "exit %d:\n%s" % (r.rc, r.stderr[-3000:])
    reqs = rcv.snapshot()
    assert [q.status for q in reqs] == [429, 503, 200]
    assert len({q.raw for q in reqs}) == 1, "the same batch must be retried"
    gap1, gap2 = reqs[1].t - reqs[0].t_done, reqs[2].t - reqs[1].t_done
    assert gap1 >= 1.9, "next request %.3f s after 429 Retry-After: 2" % gap1
    assert gap2 >= 1.9, "next request %.3f s after Retry-After: <date 3 s ahead>" % gap2
    assert log_lines(r.stderr, "failed (HTTP 429: slow down); retrying in 2000 ms")
    l503 = log_lines(r.stderr, "failed (HTTP 503: later); retrying in ")
    # An HTTP date has 1 s resolution and the sensor counts from whole seconds
    # of its clock: 2 to 4 s from a date 3 s ahead (never earlier than the date).
    m = re.search(r"retrying in (\d+) ms", l503[0]) if len(l503) == 1 else None
    assert m and 2000 <= int(m.group(1)) <= 4000, l503
    unique, dups = dedupe(rcv.accepted_events())
    flows, _ = split_types(unique)
    check_flows(flows, sc, pcap, stdout_flows)
    expect_done(r.stderr, delivered=total)
    report("retry_after", gap_429_s=round(gap1, 3), gap_503_date_s=round(gap2, 3))


# ----------------------------------------------------------------------------
# (7) connection closed mid-request, stall past the request timeout

def test_close_mid_request_and_stall_retried(tracer, receivers, mixed):
    sc, pcap, stdout_flows = mixed
    total = len(sc.recs) + 1
    rcv = receivers(policy=script([Close(), Close(reset=True), Stall(3.0)]))
    r = run_sensor(tracer, denv(pcap, rcv.url(), AGENT_BATCH_SIZE=1000, AGENT_SEND_INTERVAL="1h",
                                AGENT_REQUEST_TIMEOUT="1s"), check=False)
    assert r.rc == 0, "exit %d:\n%s" % (r.rc, r.stderr[-3000:])
    reqs = rcv.snapshot()
    assert [q.action for q in reqs] == ["close (fin)", "close (rst)", "stall 3.0s", "respond 200"]
    assert len({q.conn for q in reqs}) == 4, "a dead connection was reused"
    assert reqs[0].raw == reqs[2].raw == reqs[3].raw
    gap = reqs[3].t - reqs[2].t
    assert gap >= 0.95, "retry %.3f s after a stalled request, timeout 1 s" % gap
    # One line per distinct failure: the FIN, the RST, the stall.
    failures = log_lines(r.stderr, "delivery: POST to %s failed (" % rcv.url())
    assert len(failures) == 3, failures
    assert "failed (Empty reply from server); retrying in" in failures[0]
    assert "failed (Recv failure: Connection reset by peer); retrying in" in failures[1]
    assert "failed (Operation timed out after 1" in failures[2]
    assert len(log_lines(r.stderr, "answers again after 3 failed attempts")) == 1
    unique, dups = dedupe(rcv.accepted_events())
    assert dups == 0
    flows, _ = split_types(unique)
    check_flows(flows, sc, pcap, stdout_flows)
    expect_done(r.stderr, delivered=total)
    report("close_stall", requests=len(reqs), gap_after_stall_s=round(gap, 3), duplicates=dups)


# ----------------------------------------------------------------------------
# (8) HMAC signing

NONCE_RE = re.compile(r"^[0-9a-f]{32}$")
SIG_RE = re.compile(r"^sha256=[0-9a-f]{64}$")


def _check_signed(reqs):
    nonces = [q.header("X-Tracer-Nonce") for q in reqs]
    for q in reqs:
        assert q.hmac == "ok", "signature not verified: %r" % q.headers
        assert NONCE_RE.match(q.header("X-Tracer-Nonce")), q.header("X-Tracer-Nonce")
        assert SIG_RE.match(q.header("X-Tracer-Signature")), q.header("X-Tracer-Signature")
        ts = q.header("X-Tracer-Timestamp")
        assert ts.isdigit() and abs(int(ts) - time.time()) < 300, ts
    assert len(set(nonces)) == len(nonces), "a nonce was used twice"


def test_hmac_env_key_verified_nonces_unique(tracer, receivers, mixed):
    sc, pcap, stdout_flows = mixed
    key = "k3y-for-signing"
    rcv = receivers(policy=script([Respond(503)]), hmac_key=key)
    r = run_sensor(tracer, denv(pcap, rcv.url(), AGENT_BATCH_SIZE=10, AGENT_HMAC_KEY=key),
                   check=False)
    assert r.rc == 0, r.stderr[-3000:]
    reqs = rcv.snapshot()
    assert reqs[0].status == 503
    # Retried (signed anew) once the next batch went through.
    assert [q.events for q in reqs if q.accepted() and q.events == reqs[0].events] == [reqs[0].events]
    _check_signed(reqs)
    flows, _ = split_types(dedupe(rcv.accepted_events())[0])
    check_flows(flows, sc, pcap, stdout_flows)
    assert key not in r.stderr
    report("hmac", requests=len(reqs), all_ok=all(q.hmac == "ok" for q in reqs))


def test_hmac_key_file(tracer, receivers, mixed, tmp_path):
    sc, pcap, stdout_flows = mixed
    kf = tmp_path / "hmac.key"
    kf.write_bytes(b"file-k3y \x01\xfe\n")
    rcv = receivers(hmac_key=b"file-k3y \x01\xfe")
    r = run_sensor(tracer, denv(pcap, rcv.url(), AGENT_BATCH_SIZE=25, AGENT_HMAC_KEY_FILE=kf),
                   check=False)
    assert r.rc == 0, r.stderr[-3000:]
    _check_signed(rcv.snapshot())
    flows, _ = split_types(dedupe(rcv.accepted_events())[0])
    check_flows(flows, sc, pcap, stdout_flows)


def test_hmac_wrong_key_rejected_401_not_retried(tracer, receivers, mixed):
    sc, pcap, _ = mixed
    total = len(sc.recs) + 1
    rcv = receivers(hmac_key="the-receivers-key", hmac_reject=True)
    r = run_sensor(tracer, denv(pcap, rcv.url(), AGENT_BATCH_SIZE=10, AGENT_SEND_INTERVAL="1h",
                                AGENT_HMAC_KEY="a-different-key"), check=False)
    assert r.rc == 4, "exit %d:\n%s" % (r.rc, r.stderr[-3000:])
    reqs = rcv.snapshot()
    assert all(q.hmac == "bad" and q.status == 401 for q in reqs)
    assert len({q.raw for q in reqs}) == len(reqs) == -(-total // 10)
    assert sorted(seq_of(e)[1] for q in reqs for e in q.events) == list(range(1, total + 1))
    expect_done(r.stderr, rejected=total)
    assert len(log_lines(r.stderr, "(HTTP 401: signature check failed); not retried, dropped")) == 1
    assert "a-different-key" not in r.stderr


# ----------------------------------------------------------------------------
# (9) bearer token

@pytest.mark.parametrize("how", ["env", "file"])
def test_bearer_token(tracer, receivers, mixed, tmp_path, how):
    sc, pcap, _ = mixed
    rcv = receivers()
    if how == "env":
        token, extra = "t0k-3nv.abc", {"AGENT_AUTH_TOKEN": "t0k-3nv.abc"}
    else:
        token = "t0k-f1le.xyz"
        (tmp_path / "token").write_text(token + "\n")
        extra = {"AGENT_AUTH_TOKEN_FILE": str(tmp_path / "token")}
    r = run_sensor(tracer, denv(pcap, rcv.url(), AGENT_BATCH_SIZE=50, **extra), check=False)
    assert r.rc == 0, r.stderr[-3000:]
    reqs = rcv.snapshot()
    assert reqs
    for q in reqs:
        assert q.header("Authorization") == "Bearer " + token
    assert sum(len(q.events) for q in reqs) == len(sc.recs) + 1
    assert token not in r.stderr


# ----------------------------------------------------------------------------
# (10) gzip (signed over the compressed bytes)

def test_gzip_body_decodes_to_same_events(tracer, receivers, mixed):
    sc, pcap, stdout_flows = mixed
    key = "gz-key"
    rcv = receivers(hmac_key=key)
    r = run_sensor(tracer, denv(pcap, rcv.url(), AGENT_BATCH_SIZE=20, AGENT_COMPRESS="gzip",
                                AGENT_HMAC_KEY=key), check=False)
    assert r.rc == 0, r.stderr[-3000:]
    reqs = rcv.snapshot()
    assert reqs
    check_content_type(reqs)
    for q in reqs:
        assert q.header("Content-Encoding") == "gzip"
        assert q.raw[:2] == b"\x1f\x8b" and q.decode_error is None
        assert len(q.raw) < len(q.body)
        assert q.hmac == "ok"
        assert hmac_signature(key, q.header("X-Tracer-Timestamp"), q.header("X-Tracer-Nonce"),
                              q.body) != q.header("X-Tracer-Signature")
    unique, dups = dedupe(rcv.accepted_events())
    assert dups == 0
    flows, sensors = split_types(unique)
    assert len(sensors) == 1
    check_flows(flows, sc, pcap, stdout_flows)
    expect_done(r.stderr, delivered=len(sc.recs) + 1)


# ----------------------------------------------------------------------------
# (11) TLS

def _tls_ok(r, rcv, sc, pcap, stdout_flows):
    assert r.rc == 0, "exit %d:\n%s" % (r.rc, r.stderr[-3000:])
    unique, dups = dedupe(rcv.accepted_events())
    flows, _ = split_types(unique)
    check_flows(flows, sc, pcap, stdout_flows)
    expect_done(r.stderr, delivered=len(sc.recs) + 1)


def _tls_fails(r, rcv, sc, text):
    assert r.rc == 4, "exit %d:\n%s" % (r.rc, r.stderr[-3000:])
    assert rcv.snapshot() == [], "an HTTP request got through"
    # The first failure names the TLS problem (later attempts, cut short by the
    # shutdown deadline, may fail differently and are logged once each).
    lines = log_lines(r.stderr, "delivery: POST to %s failed (" % rcv.url())
    assert lines and text in lines[0], "no clear TLS error (%r) in:\n%s" % (text, r.stderr[-3000:])
    assert len([l for l in lines if text in l]) == 1
    expect_done(r.stderr, shutdown=len(sc.recs) + 1)


def test_tls_with_test_ca(tracer, receivers, mixed, pki):
    sc, pcap, stdout_flows = mixed
    rcv = receivers(tls=TLSConfig(pki["server_cert"], pki["server_key"]))
    r = run_sensor(tracer, denv(pcap, rcv.url(), AGENT_BATCH_SIZE=20,
                                AGENT_TLS_CA_FILE=pki["ca"]), check=False)
    _tls_ok(r, rcv, sc, pcap, stdout_flows)
    assert len({q.conn for q in rcv.snapshot()}) == 1, "TLS connection not kept alive"
    assert not log_lines(r.stderr, "AGENT_TLS_INSECURE")


@pytest.mark.parametrize("ca", ["system", "other"])
def test_tls_without_the_ca_fails_clearly(tracer, receivers, mixed, pki, ca):
    sc, pcap, _ = mixed
    rcv = receivers(tls=TLSConfig(pki["server_cert"], pki["server_key"]))
    extra = {"AGENT_TLS_CA_FILE": pki["other_ca"]} if ca == "other" else {}
    # One attempt (the retry comes after the shutdown), with time to load the system CA store and
    # fail the handshake even on a loaded machine (1 s was not always enough under ASan).
    r = run_sensor(tracer, denv(pcap, rcv.url(), AGENT_BATCH_SIZE=20, AGENT_SHUTDOWN_TIMEOUT="5s",
                                AGENT_RETRY_BASE="20s", AGENT_RETRY_MAX="20s", **extra), check=False)
    _tls_fails(r, rcv, sc, "SSL certificate problem: ")
    assert rcv.tls_errors


def test_tls_host_name_verified(tracer, receivers, mixed, pki):
    """A certificate of the right CA for another name (127.0.0.1/localhost,
    served on 127.0.0.2) is refused."""
    sc, pcap, _ = mixed
    rcv = receivers(tls=TLSConfig(pki["server_cert"], pki["server_key"]), host="127.0.0.2")
    r = run_sensor(tracer, denv(pcap, rcv.url(), AGENT_BATCH_SIZE=20, AGENT_SHUTDOWN_TIMEOUT="1s",
                                AGENT_TLS_CA_FILE=pki["ca"]), check=False)
    _tls_fails(r, rcv, sc, "127.0.0.2")


def test_tls_insecure_succeeds_with_warning(tracer, receivers, mixed, pki):
    sc, pcap, stdout_flows = mixed
    rcv = receivers(tls=TLSConfig(pki["server_cert"], pki["server_key"]))
    r = run_sensor(tracer, denv(pcap, rcv.url(), AGENT_BATCH_SIZE=20, AGENT_TLS_INSECURE="true"),
                   check=False)
    _tls_ok(r, rcv, sc, pcap, stdout_flows)
    warn = log_lines(r.stderr, "AGENT_TLS_INSECURE=true")
    assert len(warn) == 1 and "level=warn" in warn[0] and "NOT verified" in warn[0], warn


def test_mutual_tls(tracer, receivers, mixed, pki):
    sc, pcap, stdout_flows = mixed
    rcv = receivers(tls=TLSConfig(pki["server_cert"], pki["server_key"], client_ca=pki["ca"]))
    r = run_sensor(tracer, denv(pcap, rcv.url(), AGENT_BATCH_SIZE=20, AGENT_TLS_CA_FILE=pki["ca"],
                                AGENT_TLS_CLIENT_CERT=pki["client_cert"],
                                AGENT_TLS_CLIENT_KEY=pki["client_key"]), check=False)
    _tls_ok(r, rcv, sc, pcap, stdout_flows)
    for q in rcv.snapshot():
        assert dict(x[0] for x in q.peer_cert["subject"])["commonName"] == "tracer-sensor-client"


def test_mutual_tls_without_client_cert_fails(tracer, receivers, mixed, pki):
    sc, pcap, _ = mixed
    rcv = receivers(tls=TLSConfig(pki["server_cert"], pki["server_key"], client_ca=pki["ca"]))
    r = run_sensor(tracer, denv(pcap, rcv.url(), AGENT_BATCH_SIZE=20, AGENT_SHUTDOWN_TIMEOUT="1s",
                                AGENT_TLS_CA_FILE=pki["ca"]), check=False)
    _tls_fails(r, rcv, sc, "certificate required")


# ----------------------------------------------------------------------------
# (12) corrupt spool files

def _spool_file(key, seq, body, nevents, mac=None):
    mac = spool_mac(key, seq, nevents, body) if mac is None else mac
    return b"TRSPOOL2 %d %d %s\n" % (nevents, len(body), mac.encode()) + body


def _write_0600(path, data):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def test_corrupt_spool_files_moved_aside_not_retried(tracer, receivers, empty_pcap, tmp_path):
    spool = tmp_path / "spool"
    spool.mkdir()
    key = os.urandom(32)
    _write_0600(spool / ".spool-key", key)       # as the sensor makes it at its first start
    good = json.dumps([{"type": "fixture", "event_id": "fixture-1"},
                       {"type": "fixture", "event_id": "fixture-2"}]).encode()
    bad_mac_body = json.dumps([{"type": "fixture", "event_id": "fixture-bad"}]).encode()
    planted = json.dumps([{"type": "fixture", "event_id": "fixture-planted"}]).encode()
    contents = {
        "00000000000000000001.batch": b"GARBAGE 1 2 3\n[]",                       # bad header
        "00000000000000000002.batch": _spool_file(key, 2, b"[{}]", 1)[:-2],      # truncated
        "00000000000000000003.batch": _spool_file(key, 3, bad_mac_body, 1, "0" * 64),  # wrong MAC
        # planted by another process: the old format with a valid CRC-32 (sent before)
        "00000000000000000004.batch": b"TRSPOOL1 1 %d %08x\n" % (len(planted), zlib.crc32(planted)) + planted,
        "00000000000000000005.batch": _spool_file(key, 5, planted, 1),          # mode 0644: not ours
        "00000000000000000006.batch": _spool_file(key, 6, good, 2),
        ".tmp-5": b"TRSPOOL2 1 10 00000000\n[{\"a\":",                             # half-written
        "README.txt": b"not a spool file\n",
    }
    for name, data in contents.items():
        _write_0600(spool / name, data)
    os.chmod(spool / "00000000000000000005.batch", 0o644)

    rcv = receivers()
    env = denv(empty_pcap, rcv.url(), AGENT_SPOOL_DIR=spool)
    r = run_sensor(tracer, env, check=False)
    assert r.rc == 0, "exit %d:\n%s" % (r.rc, r.stderr[-3000:])
    assert log_lines(r.stderr, "delivery: spool %s holds 2 batches (3 events) from before" % spool)
    assert log_lines(r.stderr, "delivery: spool %s: 4 corrupt files moved aside (*.corrupt), "
                               "1 half-written temp files removed" % spool)
    assert log_lines(r.stderr, "00000000000000000003.batch: MAC mismatch (damaged, or not written by the "
                               "sensor), moved aside to 00000000000000000003.batch.corrupt")
    reqs = rcv.snapshot()
    assert [e for q in reqs for e in q.events if e.get("type") == "fixture"] == json.loads(good), \
        "the good batch's events not sent exactly once"
    assert not [q for q in reqs if b"fixture-bad" in (q.raw or b"")], "a corrupt batch was sent"
    assert not [q for q in reqs if b"fixture-planted" in (q.raw or b"")], "a planted batch was sent"
    assert all(q.accepted() for q in reqs)
    sensors = [e for q in reqs for e in q.events if e.get("type") == "sensor"]
    assert len(sensors) == 1
    dl = sensors[0]["delivery"]
    assert 4 <= dl["spool_corrupt_files"] <= 5 and 1 <= dl["spool_unauthenticated_files"] <= 2, dl
    assert dl["spool_foreign_files"] == 1 and dl["spool_oversize_files"] == 0, dl
    expect_done(r.stderr, delivered=3, replayed=2)
    left = sorted(os.listdir(spool))
    assert left == [".spool-key"] + ["0000000000000000000%d.batch.corrupt" % i for i in range(1, 6)] + \
        ["README.txt"], left
    for n in ("0000000000000000000%d.batch" % i for i in range(1, 6)):
        assert (spool / (n + ".corrupt")).read_bytes() == contents[n], "%s changed" % n
    assert (spool / "README.txt").read_bytes() == contents["README.txt"]

    # Not retried: a second start finds nothing to replay and nothing to report.
    n_before = len(rcv.snapshot())
    r2 = run_sensor(tracer, env, check=False)
    assert r2.rc == 0, r2.stderr[-3000:]
    assert not log_lines(r2.stderr, "corrupt") and not log_lines(r2.stderr, "from before")
    new = rcv.snapshot()[n_before:]
    assert [e["type"] for q in new for e in q.events] == ["sensor"]
    expect_done(r2.stderr, delivered=1)
    assert sorted(os.listdir(spool)) == left
