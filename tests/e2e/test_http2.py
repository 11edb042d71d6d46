"""Delivery over HTTP/2: an https endpoint that offers h2 (ALPN) gets every
event exactly once, one FlowEvent object per request, as concurrent streams of
one kept-alive connection (README "Delivery", AGENT_HTTP_CONNECTIONS).

The receiver is a real HTTP/2 server on loopback: Python's ssl with ALPN
["h2"] and the h2 protocol library (Debian python3-h2), one thread per
connection. It holds its answers until two streams are open on the
connection (or 0.5 s passed), so a client that sends one request at a time
still gets every answer, and the test sees whether requests were in flight
together, whatever the machine's speed."""

import json
import socket
import ssl
import threading
import time

import pytest

h2_connection = pytest.importorskip("h2.connection")
import h2.config  # noqa: E402
import h2.events  # noqa: E402

import pcapgen  # noqa: E402
from conftest import canonical, compare_records, parse_ndjson, run_sensor, tracer_path  # noqa: E402
from fault_receiver import make_pki  # noqa: E402

HOLD_S = 0.5          # longest an answer waits for a second stream


class H2Receiver:
    """HTTP/2 over TLS on 127.0.0.1:0. Records (connection, stream id, headers,
    body) per request; alpn[conn] is the protocol each connection negotiated;
    max_open[conn] the most streams open at once."""

    def __init__(self, cert, key):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(str(cert), str(key))
        self.ctx.set_alpn_protocols(["h2"])
        self.lock = threading.Lock()
        self.requests, self.alpn, self.max_open, self.errors = [], {}, {}, []
        self.ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(16)
        self.port = self.ls.getsockname()[1]
        self.stopping = False
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self):
        return "https://127.0.0.1:%d/ingest" % self.port

    def _accept(self):
        n = 0
        while not self.stopping:
            try:
                s, _ = self.ls.accept()
            except OSError:
                return
            n += 1
            threading.Thread(target=self._serve, args=(s, n), daemon=True).start()

    def _serve(self, raw, cid):
        try:
            s = self.ctx.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError) as e:
            self.errors.append("handshake: %s" % e)
            raw.close()
            return
        with self.lock:
            self.alpn[cid] = s.selected_alpn_protocol()
            self.max_open[cid] = 0
        conn = h2_connection.H2Connection(h2.config.H2Configuration(client_side=False))
        conn.initiate_connection()
        s.sendall(conn.data_to_send())
        s.settimeout(0.05)
        streams, done = {}, []          # open: id -> [headers, body]; done: [(id, since)]
        try:
            while True:
                try:
                    data = s.recv(65536)
                    if not data:
                        return
                except socket.timeout:
                    data = b""
                for ev in conn.receive_data(data) if data else []:
                    if isinstance(ev, h2.events.RequestReceived):
                        streams[ev.stream_id] = [dict((k.decode(), v.decode()) for k, v in ev.headers),
                                                 bytearray()]
                    elif isinstance(ev, h2.events.DataReceived):
                        streams[ev.stream_id][1] += ev.data
                        conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                    elif isinstance(ev, h2.events.StreamEnded):
                        hdrs, body = streams[ev.stream_id]
                        with self.lock:
                            self.requests.append((cid, ev.stream_id, hdrs, bytes(body)))
                        done.append((ev.stream_id, time.monotonic()))
                    elif isinstance(ev, h2.events.ConnectionTerminated):
                        return
                with self.lock:
                    self.max_open[cid] = max(self.max_open[cid], len(done))
                if done and (len(done) >= 2 or time.monotonic() - done[0][1] >= HOLD_S):
                    for sid, _ in done:
                        conn.send_headers(sid, [(":status", "200"), ("content-type", "application/json"),
                                                ("content-length", "2")])
                        conn.send_data(sid, b"{}", end_stream=True)
                        del streams[sid]
                    done = []
                out = conn.data_to_send()
                if out:
                    s.sendall(out)
        except Exception as e:  # noqa: BLE001 - recorded and asserted empty by the test
            if not self.stopping:
                self.errors.append("connection %d: %r" % (cid, e))
        finally:
            s.close()

    def stop(self):
        self.stopping = True
        self.ls.close()


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("h2pki"))


@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    """A capture with many flows ending together, and its stdout records."""
    d = tmp_path_factory.mktemp("h2")
    sc = pcapgen.scenario_mixed()
    path = d / "mixed.pcap"
    sc.write(str(path))
    recs = parse_ndjson(run_sensor(tracer_path(), {"AGENT_PCAP_FILE": str(path),
                                                   "AGENT_TOPOLOGY_INTERVAL": "0"}).stdout)
    return sc, path, [e for e in recs if e.get("type") == "flow"]


def test_h2_offered_every_event_once_as_streams_of_one_connection(tracer, pki, capture):
    sc, path, stdout_flows = capture
    rcv = H2Receiver(pki["server_cert"], pki["server_key"])
    try:
        r = run_sensor(tracer, {"AGENT_PCAP_FILE": str(path), "AGENT_ENDPOINT_URL": rcv.url(),
                                "AGENT_TLS_CA_FILE": str(pki["ca"]), "AGENT_TOPOLOGY_INTERVAL": "0"},
                       check=False)
    finally:
        rcv.stop()
    assert r.rc == 0, "exit %d:\n%s" % (r.rc, r.stderr[-3000:])
    assert rcv.errors == []
    reqs = rcv.requests
    # Only flows go to AGENT_ENDPOINT_URL, one object per request, each exactly once.
    docs = [json.loads(body) for _, _, _, body in reqs]
    assert all(isinstance(d, dict) and d.get("type") == "flow" for d in docs)
    assert len(docs) == len(sc.recs) == len(stdout_flows)
    assert len({d["event_id"] for d in docs}) == len(docs), "an event arrived twice"
    compare_records(docs, sc.expected(path.name))
    assert canonical(docs) == canonical(stdout_flows)
    for _, _, hdrs, _ in reqs:
        assert hdrs[":method"] == "POST" and hdrs[":path"] == "/ingest"
        assert hdrs["content-type"] == "application/json"
    # HTTP/2 on one kept-alive connection, with requests in flight together.
    assert set(rcv.alpn.values()) == {"h2"}
    assert len({c for c, _, _, _ in reqs}) == 1, "requests spread over %d connections" % len(rcv.alpn)
    assert max(rcv.max_open.values()) >= 2, "never two streams open at once: not multiplexed"
