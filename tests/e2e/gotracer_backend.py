"""gotracer_backend — an ingest backend written the way go-Tracer's is, for
tests/e2e/test_gotracer.py.

A real FastAPI app (Debian python3-fastapi, served by python3-uvicorn) that
declares go-Tracer's FlowEvent as a pydantic model: its 14 fields with their
types (the ports are strings, the counts integers). Like go-Tracer's backend it
parses each POST body as ONE FlowEvent object: an array, an NDJSON body, or an
event of another shape (a `sensor` or `topology` event has no src_ip) is
answered 422. Fields beyond the 14 are accepted and ignored, as Go's
encoding/json and pydantic's default do, because the sensor adds fields.

Run: python3 gotracer_backend.py [--poison-flow-id ID]; it listens on
127.0.0.1 (an ephemeral port), prints "port N" on stdout, serves until
SIGTERM/SIGINT, then prints one JSON line: {"statuses": {code: count},
"flows": [every accepted event as received], "poisoned": n}. With
--poison-flow-id, the flow with that flow_id is answered 500, every time.
"""

import argparse
import json
import socket
import sys
import threading
from datetime import datetime

import uvicorn
from fastapi import FastAPI, HTTPException, Request
from pydantic import BaseModel, StrictInt, StrictStr


class FlowEvent(BaseModel):
    """go-Tracer's FlowEvent: 14 fields, these names, these JSON types."""
    flow_id: StrictStr
    timestamp: datetime
    interface: StrictStr
    hostname: StrictStr
    direction: StrictStr
    src_ip: StrictStr
    dst_ip: StrictStr
    src_port: StrictStr
    dst_port: StrictStr
    protocol: StrictStr
    flow_duration: float
    packet_count: StrictInt
    byte_count: StrictInt
    avg_packet_size: float


def make_app(poison_flow_id):
    app = FastAPI()
    lock = threading.Lock()
    state = {"statuses": {}, "flows": [], "poisoned": 0}

    @app.middleware("http")
    async def count_status(request, call_next):
        resp = await call_next(request)
        with lock:
            k = str(resp.status_code)
            state["statuses"][k] = state["statuses"].get(k, 0) + 1
        return resp

    @app.post("/api/flows")
    async def ingest(ev: FlowEvent, request: Request):
        if poison_flow_id is not None and ev.flow_id == poison_flow_id:
            with lock:
                state["poisoned"] += 1
            raise HTTPException(status_code=500, detail="cannot store this flow")
        raw = await request.json()
        with lock:
            state["flows"].append(raw)
        return {"status": "ok"}

    return app, state


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--poison-flow-id")
    a = ap.parse_args()
    app, state = make_app(a.poison_flow_id)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted sockets inherit it: uvicorn writes the status line and the body
    # separately, and Nagle + delayed ACK would hold each response for 40 ms.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    print("port %d" % sock.getsockname()[1], flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    server.run(sockets=[sock])
    print(json.dumps(state), flush=True)


if __name__ == "__main__":
    sys.exit(main())
