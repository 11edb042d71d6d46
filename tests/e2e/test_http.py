"""Delivery to a real HTTP receiver on loopback: batching (one object per POST
with batch size 1, arrays of at most N otherwise), Content-Type, keep-alive,
bearer token, and the same records as on stdout."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import pcapgen
from conftest import canonical, check_shape, check_unique_event_ids, compare_records, run_sensor


class Receiver:
    """ThreadingHTTPServer on 127.0.0.1:0 speaking HTTP/1.1 with keep-alive.
    Records every POST: (path, headers, body bytes, client address)."""

    def __init__(self, fail_first=0, fail_status=503):
        """fail_first: answer the first N POSTs with fail_status (not recorded)."""
        self.fail_first, self.fail_status = fail_first, fail_status
        self.failed = 0
        self.posts = []
        self.lock = threading.Lock()
        recv = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _body(self):
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    out = b""
                    while True:
                        n = int(self.rfile.readline().split(b";")[0].strip(), 16)
                        if n == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return out
                        out += self.rfile.read(n)
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length", "0")))

            def do_POST(self):
                body = self._body()
                with recv.lock:
                    if recv.failed < recv.fail_first:
                        recv.failed += 1
                        self.send_response(recv.fail_status)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    recv.posts.append((self.path, dict(self.headers.items()), body,
                                       self.client_address))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path="/ingest"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """The mixed scenario's file and the records the sensor prints on stdout for it."""
    d = tmp_path_factory.mktemp("http")
    sc = pcapgen.scenario_mixed()
    path = d / "mixed.pcap"
    sc.write(str(path))
    return sc, path


@pytest.fixture(scope="module")
def stdout_records(mixed):
    from conftest import tracer_path
    sc, path = mixed
    return run_sensor(tracer_path(), {"AGENT_PCAP_FILE": str(path)}).records()


def _header(headers, name):
    for k, v in headers.items():
        if k.lower() == name.lower():
            return v
    return None


def _flows(body):
    """The flow events of one POST body (an object or an array); the stream
    also carries "sensor" counter events."""
    doc = json.loads(body)
    docs = doc if isinstance(doc, list) else [doc]
    return [d for d in docs if d.get("type") == "flow"]


def _events(receiver):
    """One entry per POST that carried a flow: the parsed body as sent."""
    out = []
    for path, headers, body, _ in receiver.posts:
        if _flows(body):
            out.append(json.loads(body))
    return out


def test_batch_size_1_one_object_per_post(tracer, receiver, mixed, stdout_records):
    sc, path = mixed
    r = run_sensor(tracer, {"AGENT_PCAP_FILE": str(path), "AGENT_ENDPOINT_URL": receiver.url(),
                            "AGENT_BATCH_SIZE": "1"})
    assert r.records() == [], "events on stdout although an endpoint is set"
    docs = _events(receiver)
    assert all(isinstance(d, dict) for d in docs), "a POST body is not one JSON object"
    for p, headers, _, _ in receiver.posts:
        assert p == "/ingest"
        ct = _header(headers, "Content-Type") or ""
        assert ct.split(";")[0].strip() == "application/json", ct
    assert len(docs) == len(sc.recs)
    for d in docs:
        check_shape(d)
    check_unique_event_ids(docs)
    assert canonical(docs) == canonical(stdout_records)
    compare_records(docs, sc.expected(path.name))
    # keep-alive: the POSTs share the pool's connections (AGENT_HTTP_CONNECTIONS, 8), not one each
    conns = {c for _, _, _, c in receiver.posts}
    assert len(conns) <= 8, "%d connections for %d POSTs (no keep-alive?)" % (
        len(conns), len(docs))


def test_batch_size_5_arrays(tracer, receiver, mixed, stdout_records):
    sc, path = mixed
    run_sensor(tracer, {"AGENT_PCAP_FILE": str(path), "AGENT_ENDPOINT_URL": receiver.url(),
                        "AGENT_BATCH_SIZE": "5", "AGENT_HTTP_BODY": "array"})
    docs = _events(receiver)
    assert docs, "no POST received"
    events = []
    for d in docs:
        assert isinstance(d, list), "a POST body with batch size 5 is not an array: %r" % (d,)
        assert 1 <= len(d) <= 5, "batch of %d events" % len(d)
        events.extend(e for e in d if e.get("type") == "flow")
    for _, headers, _, _ in receiver.posts:
        ct = _header(headers, "Content-Type") or ""
        assert ct.split(";")[0].strip() == "application/json", ct
    for e in events:
        check_shape(e)
    check_unique_event_ids(events)
    assert canonical(events) == canonical(stdout_records)


def test_bearer_token(tracer, receiver, mixed):
    sc, path = mixed
    r = run_sensor(tracer, {"AGENT_PCAP_FILE": str(path), "AGENT_ENDPOINT_URL": receiver.url(),
                            "AGENT_BATCH_SIZE": "50", "AGENT_AUTH_TOKEN": "tok"})
    assert receiver.posts
    for _, headers, _, _ in receiver.posts:
        assert _header(headers, "Authorization") == "Bearer tok"
    total = sum(len(_flows(b)) for _, _, b, _ in receiver.posts)
    assert total == len(sc.recs)
    assert "Bearer tok" not in r.stderr and "=tok" not in r.stderr, "the token appears in the log"


def test_no_token_no_authorization_header(tracer, receiver, tmp_path):
    sc = pcapgen.scenario_udp()
    p = tmp_path / sc.filename()
    sc.write(str(p))
    run_sensor(tracer, {"AGENT_PCAP_FILE": str(p), "AGENT_ENDPOINT_URL": receiver.url()})
    assert receiver.posts
    for _, headers, _, _ in receiver.posts:
        assert _header(headers, "Authorization") is None


def test_retry_after_5xx(tracer, mixed):
    """The endpoint answers 503 twice: the sender retries and every event
    arrives (at least once; duplicates are told apart by event_id)."""
    sc, path = mixed
    rcv = Receiver(fail_first=2, fail_status=503)
    try:
        run_sensor(tracer, {"AGENT_PCAP_FILE": str(path), "AGENT_ENDPOINT_URL": rcv.url(),
                            "AGENT_BATCH_SIZE": "20"}, timeout=120)
        assert rcv.failed == 2
        events = {}
        for _, _, body, _ in rcv.posts:
            for e in _flows(body):
                events[e["event_id"]] = e
        compare_records(list(events.values()), sc.expected(path.name))
    finally:
        rcv.close()


def test_many_events_small_ring(tracer, receiver, tmp_path):
    """5,000 events through a 1024-slot event ring to HTTP: none lost."""
    sc = pcapgen.scenario_many_flows(5000)
    p = tmp_path / sc.filename()
    sc.write(str(p))
    run_sensor(tracer, {"AGENT_PCAP_FILE": str(p), "AGENT_ENDPOINT_URL": receiver.url(),
                        "AGENT_BATCH_SIZE": "100", "AGENT_HTTP_BODY": "array",
                        "AGENT_EVENT_RING_SLOTS": "1024"})
    events = [e for _, _, b, _ in receiver.posts for e in _flows(b)]
    assert all(len(json.loads(b)) <= 100 for _, _, b, _ in receiver.posts)
    check_unique_event_ids(events)
    compare_records(events, sc.expected(p.name))
