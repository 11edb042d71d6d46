"""fault_receiver — a real HTTP(S) ingest endpoint on loopback whose failures a
test scripts, for the sender's delivery tests (tests/e2e/test_delivery.py).

A `Receiver` is a ThreadingHTTPServer on 127.0.0.1:0 (HTTP/1.1, keep-alive) in
a background thread. For every request it asks its *policy* what to do; the
policy is a callable `policy(req) -> Action` that sees the request record
(its index, arrival time, connection, headers) before the body is read:

    Respond(status, body=b"", headers=None)   answer (body read first)
    Close(reset=False)                        read the body, then close the
                                              connection without an answer:
                                              reset=False with a FIN ("empty
                                              reply"), reset=True with a TCP RST
                                              (SO_LINGER 0: "connection reset")
    Stall(seconds)                            read the body, say nothing for
                                              `seconds`, then close
    OK                                        Respond(200, b"{}")

Ready-made policies: `script([a0, a1, ...], then=OK)` (per request index) and
`for_seconds(s, action, then=OK)` (by time since the first request). The
policy can be swapped at any time (`rcv.policy = ...`).

Every request is recorded as a `Request` (index, time, connection id, method,
path, headers, raw body as received, decoded body, parsed events, HMAC verdict,
the answer given, the TLS peer certificate). Bodies with `Content-Encoding:
gzip` are decoded. With `hmac_key` the receiver verifies X-Tracer-Signature
(sha256=HMAC-SHA256(key, timestamp "." nonce "." raw body)) and records "ok",
"bad" or "missing"; with `hmac_reject=True` a request that is not "ok" is
answered 401 whatever the policy says.

TLS: pass `tls=TLSConfig(cert, key, client_ca=None)`; the handshake runs in
the connection's thread, failures are recorded in `tls_errors`. `make_pki(dir)`
makes a test CA, a server certificate for 127.0.0.1/localhost and a client
certificate with the openssl command line.

`stop()` closes the listening socket and every open connection (a client then
gets "connection refused"); `start()` listens again on the same port.

stdlib only.
"""

import gzip
import hashlib
import hmac
import json
import os
import socket
import ssl
import struct
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


# ----------------------------------------------------------------------------
# actions and policies

class Action:
    kind = "?"

    def __repr__(self):
        return "<%s>" % self.describe()

    def describe(self):
        return self.kind


class Respond(Action):
    kind = "respond"

    def __init__(self, status, body=b"", headers=None):
        self.status = status
        self.body = body.encode() if isinstance(body, str) else body
        self.headers = dict(headers or {})

    def describe(self):
        return "respond %d" % self.status


class Close(Action):
    kind = "close"

    def __init__(self, reset=False):
        self.reset = reset

    def describe(self):
        return "close (%s)" % ("rst" if self.reset else "fin")


class Stall(Action):
    kind = "stall"

    def __init__(self, seconds):
        self.seconds = seconds

    def describe(self):
        return "stall %.1fs" % self.seconds


OK = Respond(200, b"{}", {"Content-Type": "application/json"})


def script(actions, then=OK):
    """Policy: request i gets actions[i]; later ones get `then`."""
    actions = list(actions)

    def policy(req):
        return actions[req.index] if req.index < len(actions) else then
    return policy


def for_seconds(seconds, action, then=OK):
    """Policy: `action` for every request that arrives within `seconds` of the
    first request, `then` afterwards."""
    def policy(req):
        return action if req.t - req.receiver.t_first < seconds else then
    return policy


def always(action):
    return lambda req: action


# ----------------------------------------------------------------------------
# records

class Request:
    def __init__(self, receiver, index, t, conn, method, path, headers):
        self.receiver = receiver
        self.index = index
        self.t = t                  # time.monotonic() when the headers were read
        self.conn = conn            # connection id (1, 2, ...), per receiver
        self.method = method
        self.path = path
        self.headers = headers      # list of (name, value) as received
        self.raw = None             # body bytes as received (None: not read)
        self.body = None            # decoded body (gzip undone)
        self.docs = None            # parsed JSON document
        self.events = []            # the event objects in it
        self.decode_error = None
        self.hmac = None            # None (not checked), "ok", "bad", "missing"
        self.action = None          # what was done, as text
        self.status = None          # status answered, None when none was sent
        self.t_done = None          # time.monotonic() after the answer/close
        self.peer_cert = None       # TLS client certificate (dict), if any

    def header(self, name):
        """The value of header `name` (case-insensitive); None when absent.
        A header that appears more than once is an error here."""
        vals = [v for k, v in self.headers if k.lower() == name.lower()]
        assert len(vals) <= 1, "header %s sent %d times: %r" % (name, len(vals), vals)
        return vals[0] if vals else None

    def accepted(self):
        return self.status is not None and 200 <= self.status <= 299

    def __repr__(self):
        return "<req #%d conn %d %s %s: %s, %d events>" % (
            self.index, self.conn, self.method, self.path, self.action, len(self.events))


def hmac_signature(key, ts, nonce, raw):
    key = key.encode() if isinstance(key, str) else key
    mac = hmac.new(key, ts.encode() + b"." + nonce.encode() + b"." + raw, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


# ----------------------------------------------------------------------------
# TLS

class TLSConfig:
    def __init__(self, cert, key, client_ca=None):
        """client_ca: require a client certificate signed by this CA."""
        self.cert, self.key, self.client_ca = str(cert), str(key), client_ca

    def context(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        if self.client_ca:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(str(self.client_ca))
        return ctx


_OPENSSL_CNF = """\
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = unused
[ v3_ca ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ v3_server ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = {san}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ v3_client ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


def _openssl(*args, cwd):
    p = subprocess.run(["openssl", *args], cwd=str(cwd), capture_output=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (" ".join(args), p.stderr.decode(errors="replace")))


def make_pki(d, server_san="IP:127.0.0.1,DNS:localhost"):
    """In directory d (a pathlib.Path): a CA (ca.crt/ca.key), a server
    certificate signed by it for `server_san` (server.crt/server.key), a client
    certificate (client.crt/client.key, CN tracer-sensor-client) and a second,
    unrelated CA (other-ca.crt). Returns a dict of the paths (str)."""
    d.mkdir(parents=True, exist_ok=True)
    (d / "openssl.cnf").write_text(_OPENSSL_CNF.format(san=server_san))
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for ca in ("ca", "other-ca"):
        _openssl("req", "-config", "openssl.cnf", "-x509", *ec, "-keyout", ca + ".key",
                 "-out", ca + ".crt", "-days", "2", "-subj", "/CN=Tracer Test %s" % ca,
                 "-extensions", "v3_ca", cwd=d)
    serial = 1000
    for name, cn, ext in (("server", "localhost", "v3_server"),
                          ("client", "tracer-sensor-client", "v3_client")):
        _openssl("req", "-config", "openssl.cnf", "-new", *ec, "-keyout", name + ".key",
                 "-out", name + ".csr", "-subj", "/CN=" + cn, cwd=d)
        serial += 1
        _openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                 "-set_serial", str(serial), "-days", "2", "-extfile", "openssl.cnf",
                 "-extensions", ext, "-out", name + ".crt", cwd=d)
    return {k: str(d / f) for k, f in (
        ("ca", "ca.crt"), ("other_ca", "other-ca.crt"), ("server_cert", "server.crt"),
        ("server_key", "server.key"), ("client_cert", "client.crt"), ("client_key", "client.key"))}


# ----------------------------------------------------------------------------
# the server

class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, handler, receiver):
        self.receiver = receiver
        self.ssl_ctx = receiver.tls.context() if receiver.tls else None
        self.resets = set()   # sockets to close with a bare RST (Close(reset=True))
        super().__init__(addr, handler)

    def shutdown_request(self, request):
        with self.receiver.lock:
            reset = request in self.resets
            self.resets.discard(request)
        if reset:   # no shutdown(SHUT_WR): its FIN would reach the client before the RST
            self.close_request(request)
        else:
            super().shutdown_request(request)

    def finish_request(self, request, client_address):
        rcv = self.receiver
        if self.ssl_ctx is None:
            super().finish_request(request, client_address)
            return
        request.settimeout(10)
        try:
            tls = self.ssl_ctx.wrap_socket(request, server_side=True,
                                           do_handshake_on_connect=False)
        except (ssl.SSLError, OSError) as e:
            with rcv.lock:
                rcv.tls_errors.append(repr(e))
            return
        try:
            tls.do_handshake()
        except (ssl.SSLError, OSError) as e:
            with rcv.lock:
                rcv.tls_errors.append(repr(e))
            # The alert is sent; read what the client still sends until it
            # closes, so that our close is not a reset that could discard the
            # alert before the client reads it (TLS 1.3 client-cert failures
            # reach the client only after its handshake completed).
            self._drain(tls)
            return
        try:
            tls.settimeout(None)
            self.RequestHandlerClass(tls, client_address, self)
        except (ssl.SSLError, OSError) as e:
            with rcv.lock:
                rcv.tls_errors.append(repr(e))
        finally:
            try:
                tls.close()
            except OSError:
                pass

    @staticmethod
    def _drain(tls):
        try:
            raw = socket.socket(fileno=os.dup(tls.fileno()))
        except OSError:
            raw = None
        try:
            tls.close()
        except OSError:
            pass
        if raw is None:
            return
        try:
            raw.settimeout(3)
            while raw.recv(65536):
                pass
        except OSError:
            pass
        finally:
            raw.close()

    def handle_error(self, request, client_address):
        pass   # a client that went away (timeouts, resets) is part of the tests


def _make_handler(rcv):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body leave in one write, with TCP_NODELAY: no 40 ms
        # delayed-ACK stall per request.
        wbufsize = 1 << 16
        disable_nagle_algorithm = True

        def log_message(self, *a):
            pass

        def setup(self):
            super().setup()
            self.conn_id = rcv._register(self.connection)
            if isinstance(self.connection, ssl.SSLSocket):
                self.peer_cert = self.connection.getpeercert()
            else:
                self.peer_cert = None

        def finish(self):
            try:
                super().finish()
            finally:
                rcv._unregister(self.connection)

        def _read_body(self):
            if (self.headers.get("Transfer-Encoding") or "").lower() == "chunked":
                out = b""
                while True:
                    n = int(self.rfile.readline().split(b";")[0].strip(), 16)
                    if n == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return out
                    out += self.rfile.read(n)
                    self.rfile.readline()
            n = int(self.headers.get("Content-Length") or "0")
            data = self.rfile.read(n)
            if len(data) != n:
                raise ConnectionError("short body: %d of %d bytes" % (len(data), n))
            return data

        def _handle(self):
            req = rcv._new_request(self)
            action = rcv.policy(req)
            req.action = action.describe()
            rcv._read_and_check(req, self._read_body())
            if isinstance(action, Close):
                # The RST only after the whole request is read: a reset while the
                # client still sends is "Send failure" or "Empty reply" by timing.
                if action.reset:
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                               struct.pack("ii", 1, 0))
                    with rcv.lock:
                        self.server.resets.add(self.connection)
                self.close_connection = True
                req.t_done = time.monotonic()
                return
            if isinstance(action, Stall):
                rcv._stop_event.wait(action.seconds)
                self.close_connection = True
                req.t_done = time.monotonic()
                return
            if rcv.hmac_key is not None and rcv.hmac_reject and req.hmac != "ok":
                action = Respond(401, b"signature check failed")
                req.action = "respond 401 (hmac %s)" % req.hmac
            hdrs = dict(action.headers)
            for k, v in hdrs.items():
                if callable(v):            # e.g. a Retry-After date made at answer time
                    hdrs[k] = v()
            req.response_headers = hdrs
            self.send_response(action.status)
            for k, v in hdrs.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(action.body)))
            self.end_headers()
            self.wfile.write(action.body)
            self.wfile.flush()
            req.status = action.status
            req.t_done = time.monotonic()

        do_POST = do_PUT = do_GET = _handle

    return Handler


class Receiver:
    def __init__(self, policy=None, tls=None, hmac_key=None, hmac_reject=False,
                 host="127.0.0.1", port=0):
        self.policy = policy or always(OK)
        self.tls = tls
        self.hmac_key = hmac_key.encode() if isinstance(hmac_key, str) else hmac_key
        self.hmac_reject = hmac_reject
        self.host = host
        self.port = port
        self.lock = threading.Lock()
        self.requests = []
        self.tls_errors = []
        self.t_first = None
        self.t_start = time.monotonic()
        self._conns = {}
        self._next_conn = 0
        self._server = None
        self._thread = None
        self._stop_event = threading.Event()
        self.start()

    # --- lifecycle

    def start(self):
        """Listen (again) on the same port."""
        assert self._server is None, "already listening"
        self._stop_event.clear()
        self._server = _Server((self.host, self.port), _make_handler(self), self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def stop(self):
        """Stop listening and cut every open connection: connects are refused."""
        if self._server is None:
            return
        self._stop_event.set()
        self._server.shutdown()
        self._server.server_close()
        self._server = None
        with self.lock:
            conns = list(self._conns.values())
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    close = stop

    def start_after(self, seconds):
        """Start listening again `seconds` from now (in a timer thread)."""
        t = threading.Timer(seconds, self.start)
        t.daemon = True
        t.start()
        return t

    def url(self, path="/ingest", scheme=None, host=None):
        scheme = scheme or ("https" if self.tls else "http")
        return "%s://%s:%d%s" % (scheme, host or self.host, self.port, path)

    # --- queries

    def snapshot(self):
        with self.lock:
            return list(self.requests)

    def accepted(self):
        """The requests answered 2xx, in arrival order."""
        return [r for r in self.snapshot() if r.accepted()]

    def accepted_events(self):
        """Every event in the 2xx-answered requests, in order (duplicates kept)."""
        return [e for r in self.accepted() for e in r.events]

    def wait_for(self, pred, timeout=10.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if pred(self):
                return True
            time.sleep(0.02)
        return pred(self)

    # --- internals (handler threads)

    def _register(self, sock):
        with self.lock:
            self._next_conn += 1
            cid = self._next_conn
            self._conns[cid] = sock
            return cid

    def _unregister(self, sock):
        with self.lock:
            for k, v in list(self._conns.items()):
                if v is sock:
                    del self._conns[k]

    def _new_request(self, h):
        now = time.monotonic()
        with self.lock:
            if self.t_first is None:
                self.t_first = now
            req = Request(self, len(self.requests), now, h.conn_id, h.command, h.path,
                          list(h.headers.items()))
            req.peer_cert = h.peer_cert
            req.response_headers = {}
            self.requests.append(req)
            return req

    def _read_and_check(self, req, raw):
        req.raw = raw
        body = raw
        enc = (req.header("Content-Encoding") or "").lower()
        try:
            if enc == "gzip":
                body = gzip.decompress(raw)
            elif enc:
                raise ValueError("unknown Content-Encoding %r" % enc)
            req.body = body
            doc = json.loads(body)
            req.docs = doc
            req.events = doc if isinstance(doc, list) else [doc]
        except (OSError, EOFError, ValueError) as e:
            req.decode_error = repr(e)
        if self.hmac_key is not None:
            ts, nonce = req.header("X-Tracer-Timestamp"), req.header("X-Tracer-Nonce")
            sig = req.header("X-Tracer-Signature")
            if ts is None or nonce is None or sig is None:
                req.hmac = "missing"
            else:
                want = hmac_signature(self.hmac_key, ts, nonce, raw)
                req.hmac = "ok" if hmac.compare_digest(want, sig) else "bad"
