#!/usr/bin/env bash
# tsan_pipeline.sh BINARY — the whole pipeline under ThreadSanitizer.
#
# Generates the mixed capture (tests/e2e/pcapgen.py: every kind of flow,
# interleaved), runs BINARY on it twice — NDJSON to stdout, then POSTs to a
# small loopback HTTP receiver with batches of 7 — and fails unless each run
# exits 0, prints no sanitizer report, and delivers exactly the expected number
# of flow records. Run it from anywhere; `make tsan-check` passes
# build/tsan/tracer-sensor with TSAN_OPTIONS="halt_on_error=1 exitcode=66".
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 BINARY" >&2
    exit 2
fi
BIN=$(realpath "$1")
PY=/usr/bin/python3
cd "$(dirname "$0")/.."
[ -x "$BIN" ] || { echo "tsan_pipeline: $BIN is not an executable" >&2; exit 1; }

tmp=$(mktemp -d)
recv_pid=
cleanup() {
    if [ -n "$recv_pid" ]; then kill "$recv_pid" 2>/dev/null || true; wait "$recv_pid" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT

# Run the sensor with a clean AGENT_* environment plus the given assignments.
run_sensor() {
    local out=$1; shift
    local rc=0
    env $(env | sed -n 's/^\(AGENT_[A-Z_]*\|LOG_LEVEL\)=.*/-u \1/p') "$@" \
        timeout -k 10 300 "$BIN" >"$out" 2>"$tmp/stderr.log" || rc=$?
    if grep -Eq 'ThreadSanitizer|AddressSanitizer|runtime error' "$tmp/stderr.log"; then
        echo "tsan_pipeline: sanitizer report:" >&2
        cat "$tmp/stderr.log" >&2
        return 1
    fi
    if [ "$rc" -ne 0 ]; then
        echo "tsan_pipeline: exit status $rc; stderr:" >&2
        tail -n 40 "$tmp/stderr.log" >&2
        return 1
    fi
}

expected=$("$PY" tests/e2e/pcapgen.py mixed "$tmp/mixed.pcap")

# 1. NDJSON on stdout
run_sensor "$tmp/out.ndjson" AGENT_PCAP_FILE="$tmp/mixed.pcap"
got=$(grep -c "\"type\":\"flow\"" "$tmp/out.ndjson" || true)
if [ "$got" -ne "$expected" ]; then
    echo "tsan_pipeline: stdout: $got records, expected $expected" >&2
    exit 1
fi
echo "tsan_pipeline: stdout: $got records, as expected"

# 2. HTTP: a loopback receiver counts the events of every POST
"$PY" -u - "$tmp/received" >"$tmp/port" <<'EOF' &
import json, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
out = sys.argv[1]
lock = threading.Lock()
count = [0]
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        doc = json.loads(body)
        with lock:
            docs = doc if isinstance(doc, list) else [doc]
            count[0] += sum(1 for d in docs if d.get("type") == "flow")
            with open(out, "w") as f:
                f.write("%d\n" % count[0])
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
srv.daemon_threads = True
print(srv.server_address[1], flush=True)
srv.serve_forever()
EOF
recv_pid=$!
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.1; done
port=$(head -n 1 "$tmp/port")
[ -n "$port" ] || { echo "tsan_pipeline: receiver did not start" >&2; exit 1; }

# Arrays of 7, then one object per POST (the default: every event its own
# request, several in flight over the connection pool).
run_sensor "$tmp/http.out" AGENT_PCAP_FILE="$tmp/mixed.pcap" \
    AGENT_ENDPOINT_URL="http://127.0.0.1:$port/ingest" AGENT_HTTP_BODY=array AGENT_BATCH_SIZE=7
got=$(cat "$tmp/received" 2>/dev/null || echo 0)
if [ "$got" -ne "$expected" ]; then
    echo "tsan_pipeline: http: $got records received, expected $expected" >&2
    exit 1
fi
echo "tsan_pipeline: http (arrays): $got records, as expected"
run_sensor "$tmp/http.out" AGENT_PCAP_FILE="$tmp/mixed.pcap" \
    AGENT_ENDPOINT_URL="http://127.0.0.1:$port/ingest"
got=$(cat "$tmp/received" 2>/dev/null || echo 0)
if [ "$got" -ne $((2 * expected)) ]; then
    echo "tsan_pipeline: http (objects): $((got - expected)) records received, expected $expected" >&2
    exit 1
fi
echo "tsan_pipeline: http (objects): $((got - expected)) records, as expected"
