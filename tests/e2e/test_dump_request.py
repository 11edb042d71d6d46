"""--dump-request FILE (issue 17.4): the exact HTTP request the sender would POST
for one sample flow, built by the sender's own code. Checked here the way a
receiver's author would use it: the signature recomputed from the headers and
body as the README's verify() does, and the dumped bytes POSTed as they are,
over a raw socket, to a real HTTP receiver on loopback that checks the token
and the signature and parses the body."""

import gzip
import hashlib
import hmac
import http.server
import json
import os
import socket
import stat
import subprocess
import threading
import time

import pytest

from conftest import assert_no_sanitizer, clean_env

TOKEN = "dumpTok-7f3a"
KEY = b"dump-hmac-key\x01\xff"

SAMPLE = {"flow_id": "192.0.2.10:51000-198.51.100.20:443-TCP", "src_ip": "192.0.2.10", "dst_ip": "198.51.100.20",
          "src_port": "51000", "dst_port": "443", "protocol": "TCP", "protocol_number": 6, "ip_version": 4,
          "packet_count": 18, "byte_count": 7600, "src_packets": 10, "src_bytes": 1200, "dst_packets": 8,
          "dst_bytes": 6400, "src_tcp_flags": "SAFP", "dst_tcp_flags": "SAFP", "end_reason": "fin",
          "final": True, "flow_duration": 1.5, "type": "flow", "schema_version": 2, "direction": "unknown",
          "sensor_id": "dump-sensor", "hostname": socket.gethostname(), "interface": "lo",
          "community_id": "1:h8jA4F2CUsBNpO7lDiYAJMYHPMc="}


def dump(tracer, tmp_path, url, env=None, path=None):
    out = path or str(tmp_path / "request.http")
    e = {"AGENT_ENDPOINT_URL": url, "AGENT_SENSOR_ID": "dump-sensor", "AGENT_INTERFACE": "lo", "AGENT_STATE_DIR": str(tmp_path / "state")}
    e.update(env or {})
    p = subprocess.run([tracer, "--dump-request", out], env=clean_env(e), stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=60)
    assert_no_sanitizer(p.stderr)
    assert p.returncode == 0, p.stderr
    for secret in (TOKEN, KEY.decode("latin-1")):
        assert secret not in p.stderr
    return out, open(out, "rb").read(), p.stderr


def split(raw):
    head, body = raw.split(b"\r\n\r\n", 1)
    lines = head.decode("ascii").split("\r\n")
    headers = {}
    for ln in lines[1:]:
        k, v = ln.split(": ", 1) if ": " in ln else (ln.rstrip(":"), "")
        assert k not in headers, "header %s twice" % k
        headers[k] = v
    return lines[0], [ln.split(":", 1)[0] for ln in lines[1:]], headers, body


def verify(headers, body, key, max_skew=300):
    """The README's receiver-side check."""
    ts, nonce = headers["X-Tracer-Timestamp"], headers["X-Tracer-Nonce"]
    mac = hmac.new(key, f"{ts}.{nonce}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers["X-Tracer-Signature"], "sha256=" + mac) and \
        abs(time.time() - int(ts)) <= max_skew


def check_flow(ev):
    for k, v in SAMPLE.items():
        assert ev[k] == v, (k, ev[k], v)
    assert len(ev["event_id"]) == 18 and ev["event_id"].endswith("-1")


@pytest.mark.parametrize("case", ["plain", "token_hmac_gzip_array", "hmac_file_ndjson", "https"])
def test_dump_request_file(tracer, tmp_path, case):
    env, url = {}, "http://127.0.0.1:18080/ingest?src=e2e"
    if case == "token_hmac_gzip_array":
        env = {"AGENT_AUTH_TOKEN": TOKEN, "AGENT_HMAC_KEY": KEY.decode("latin-1"), "AGENT_COMPRESS": "gzip",
               "AGENT_HTTP_BODY": "array"}
    elif case == "hmac_file_ndjson":
        kf = tmp_path / "key"
        kf.write_bytes(KEY + b"\n")
        tf = tmp_path / "token"
        tf.write_text(TOKEN + "\n")
        os.chmod(kf, 0o600)
        os.chmod(tf, 0o600)
        env = {"AGENT_HMAC_KEY_FILE": str(kf), "AGENT_AUTH_TOKEN_FILE": str(tf), "AGENT_HTTP_BODY": "ndjson"}
    elif case == "https":
        url = "https://collector.example.com/v1/flows"
        env = {"AGENT_AUTH_TOKEN": TOKEN}
    if "AGENT_HMAC_KEY" in env:   # the environment cannot carry byte 0x01/0xff as given: use a file
        kf = tmp_path / "key"
        kf.write_bytes(KEY)
        os.chmod(kf, 0o600)
        env["AGENT_HMAC_KEY_FILE"] = str(kf)
        del env["AGENT_HMAC_KEY"]
    path, raw, _ = dump(tracer, tmp_path, url, env)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    line, order, h, body = split(raw)
    signed = "AGENT_HMAC_KEY_FILE" in env
    if case == "https":
        assert line == "POST /v1/flows HTTP/1.1" and h["Host"] == "collector.example.com"
    else:
        assert line == "POST /ingest?src=e2e HTTP/1.1" and h["Host"] == "127.0.0.1:18080"
    want = ["Host", "User-Agent", "Accept", "Content-Type"]
    want += ["Content-Encoding"] if "AGENT_COMPRESS" in env else []
    want += ["Authorization"] if case != "plain" else []
    want += ["X-Tracer-Timestamp", "X-Tracer-Nonce", "X-Tracer-Signature"] if signed else []
    want += ["Content-Length"]
    assert order == want
    assert h["User-Agent"].startswith("tracer-sensor/") and h["Accept"] == "*/*"
    assert h["Content-Type"] == "application/json"
    assert int(h["Content-Length"]) == len(body)
    if case != "plain":
        assert h["Authorization"] == "Bearer " + TOKEN   # as sent: the operator asked for the exact request
    if signed:
        assert len(h["X-Tracer-Nonce"]) == 32 and verify(h, body, KEY)
        assert not verify(h, body + b" ", KEY) and not verify(h, body, KEY + b"x")
    text = gzip.decompress(body) if "AGENT_COMPRESS" in env else body
    if env.get("AGENT_HTTP_BODY") == "array":
        evs = json.loads(text)
        assert isinstance(evs, list) and len(evs) == 1
        ev = evs[0]
    elif env.get("AGENT_HTTP_BODY") == "ndjson":
        assert text.endswith(b"\n") and text.count(b"\n") == 1
        ev = json.loads(text)
    else:
        assert text.startswith(b"{") and text.endswith(b"}")
        ev = json.loads(text)
    check_flow(ev)


class Receiver(http.server.BaseHTTPRequestHandler):
    """Checks a POST as a real receiver would: token, signature (fresh, nonce unseen), JSON body."""
    got, nonces = [], set()

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        ok = self.headers.get("Authorization") == "Bearer " + TOKEN and verify(self.headers, body, KEY) \
            and self.headers["X-Tracer-Nonce"] not in self.nonces
        self.nonces.add(self.headers["X-Tracer-Nonce"])
        if ok and self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        Receiver.got.append((ok, self.path, body))
        self.send_response(200 if ok else 401)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


def test_dumped_request_accepted_by_a_receiver(tracer, tmp_path):
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    port = srv.server_address[1]
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        kf = tmp_path / "key"
        kf.write_bytes(KEY)
        os.chmod(kf, 0o600)
        _, raw, _ = dump(tracer, tmp_path, "http://127.0.0.1:%d/ingest" % port,
                         {"AGENT_AUTH_TOKEN": TOKEN, "AGENT_HMAC_KEY_FILE": str(kf), "AGENT_COMPRESS": "gzip"})

        def post(data):
            with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
                s.sendall(data)
                s.shutdown(socket.SHUT_WR)
                resp = b""
                while chunk := s.recv(4096):
                    resp += chunk
            return resp.split(b"\r\n", 1)[0]

        assert post(raw) == b"HTTP/1.0 200 OK"
        ok, path, body = Receiver.got[-1]
        assert ok and path == "/ingest"
        check_flow(json.loads(body))
        # The same bytes again: the nonce was seen, a real receiver refuses the replay.
        assert post(raw) == b"HTTP/1.0 401 Unauthorized"
        # One body byte changed: the signature no longer verifies.
        assert post(raw[:-1] + bytes([raw[-1] ^ 1])) == b"HTTP/1.0 401 Unauthorized"
    finally:
        srv.shutdown()


def test_dump_request_needs_an_endpoint(tracer, tmp_path):
    p = subprocess.run([tracer, "--dump-request", str(tmp_path / "r")], env=clean_env({}), capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 2
    assert "--dump-request %s: needs AGENT_ENDPOINT_URL" % (tmp_path / "r") in p.stderr
    assert not (tmp_path / "r").exists()
