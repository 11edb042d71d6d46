"""Shared helpers for the end-to-end tests: find the binary, run it on a
capture file, parse its NDJSON, and compare FlowEvent records field by field.

The binary is $TRACER_BIN (what `make e2e` sets), else build/asan/tracer-sensor.
Every run also checks that stderr carries no sanitizer report.
"""

import json
import math
import os
import pathlib
import re
import socket
import subprocess
import sys
import time

import pytest

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))

import pcapgen  # noqa: E402

SANITIZER_MARKS = ("Sanitizer", "runtime error")

STR_KEYS = ("flow_id", "timestamp", "interface", "hostname", "direction", "src_ip", "dst_ip",
            "src_port", "dst_port", "protocol", "type", "event_id", "start_time", "end_time",
            "src_tcp_flags", "dst_tcp_flags", "end_reason", "community_id", "sensor_id")
INT_KEYS = ("packet_count", "byte_count", "schema_version", "ip_version", "protocol_number",
            "vlan_id", "src_packets", "src_bytes", "dst_packets", "dst_bytes")
NUM_KEYS = ("flow_duration", "avg_packet_size")
TS3 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
TS6 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
FLAGS_RE = re.compile(r"^S?A?F?R?P?U?E?C?$")
SENSOR_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
MAC_RE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
# statistics, TCP health, owning process (issue 15 items 4-6): optional groups,
# checked for shape by check_xstats and left out of record comparisons
XS_KEYS = frozenset(("stats", "early_packets", "tcp", "process"))
XS_DIR_KEYS = ("size_min", "size_mean", "size_stddev", "size_max", "iat_min_us", "iat_mean_us",
               "iat_stddev_us", "iat_max_us", "payload_bytes", "syn_count", "ack_count",
               "fin_count", "rst_count", "psh_count", "urg_count", "ece_count", "cwr_count")


def tracer_path():
    return os.environ.get("TRACER_BIN") or str(REPO / "build" / "asan" / "tracer-sensor")


@pytest.fixture(scope="session")
def tracer():
    p = tracer_path()
    if not (os.path.isfile(p) and os.access(p, os.X_OK)):
        pytest.fail("sensor binary not found: %s (set TRACER_BIN or run `make asan`)" % p)
    return p


def clean_env(extra=None):
    """The test process's environment without any AGENT_*/LOG_LEVEL setting,
    plus AGENT_USER=root: the tests run as root and use root-owned temporary
    directories and sockets, so the sensor keeps uid 0 (still with only
    CAP_NET_RAW/CAP_NET_ADMIN and no_new_privs) unless a test sets AGENT_USER
    itself (test_privileges.py checks the switch to an unprivileged user)."""
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith("AGENT_") or k in ("LOG_LEVEL", "LOG_FORMAT"))}
    env["AGENT_USER"] = "root"
    env.update(extra or {})
    return env


class Run:
    def __init__(self, proc):
        self.rc = proc.returncode
        self.stdout = proc.stdout.decode("utf-8", "replace")
        self.stderr = proc.stderr.decode("utf-8", "replace")

    def records(self):
        """The flow records (the stream also carries "sensor" counter events)."""
        return [r for r in parse_ndjson(self.stdout) if r.get("type") == "flow"]

    def events(self, kind):
        """Every event of one type ("sensor", "snmp", "topology", ...)."""
        return [r for r in parse_ndjson(self.stdout) if r.get("type") == kind]


def parse_ndjson(text):
    out = []
    for i, line in enumerate(text.splitlines()):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as e:
            raise AssertionError("stdout line %d is not JSON (%s): %r" % (i + 1, e, line[:300]))
        assert isinstance(obj, dict), "stdout line %d is not a JSON object: %r" % (i + 1, line[:300])
        out.append(obj)
    return out


LOGFMT_PAIR = re.compile(r'([^\s="]+)=("(?:[^"\\]|\\.)*"|[^\s"]*)')


def parse_log_line(line):
    """One stderr log line (logfmt or JSON) as a dict; None for other text."""
    line = line.strip()
    if line.startswith("{"):
        try:
            return json.loads(line)
        except ValueError:
            return None
    if not line.startswith("ts="):
        return None
    rec = {}
    for k, v in LOGFMT_PAIR.findall(line):
        rec[k] = json.loads(v) if v.startswith('"') else v   # the quoting is JSON's
    return rec


def log_records(stderr):
    """Every log record in a stderr text (other lines are skipped)."""
    return [r for r in map(parse_log_line, stderr.splitlines()) if r]


def log_record(stderr, msg):
    """The first log record whose msg is exactly msg (or None); logfmt values are strings."""
    return next((r for r in log_records(stderr) if r.get("msg") == msg), None)


def log_message(stderr, prefix):
    """The msg of the first log record whose msg starts with prefix (or None)."""
    return next((r["msg"] for r in log_records(stderr) if r.get("msg", "").startswith(prefix)), None)


def assert_no_sanitizer(stderr):
    for m in SANITIZER_MARKS:
        assert m not in stderr, "sanitizer report in stderr:\n" + stderr[-4000:]


def wait_for_text(path, needles, proc, seconds):
    """True once the file at `path` (a sensor's stderr) holds one of `needles`
    (a string or a tuple of them); False when `proc` exits first or `seconds` pass."""
    if isinstance(needles, str):
        needles = (needles,)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        if os.path.exists(path):
            with open(path, errors="replace") as f:
                text = f.read()
            if any(n in text for n in needles):
                return True
        time.sleep(0.05)
    return False


def run_sensor(tracer, env=None, args=(), timeout=120, check=True):
    """Run the binary to completion. env: extra variables over a clean environment."""
    proc = subprocess.run([tracer, *args], env=clean_env(env), stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    r = Run(proc)
    assert_no_sanitizer(r.stderr)
    if check:
        assert r.rc == 0, "exit status %d, stderr:\n%s" % (r.rc, r.stderr[-4000:])
    return r


def run_sensor_stdin(tracer, path, env=None):
    """AGENT_PCAP_FILE=- with the capture file on standard input (libpcap reads
    it, never the block reader); AGENT_INTERFACE=lo names that source."""
    e = {"AGENT_PCAP_FILE": "-", "AGENT_INTERFACE": "lo"}
    e.update(env or {})
    with open(path, "rb") as f:
        proc = subprocess.run([tracer], env=clean_env(e), stdin=f, capture_output=True, timeout=120)
    r = Run(proc)
    assert_no_sanitizer(r.stderr)
    assert r.rc == 0, r.stderr[-3000:]
    return r


def run_scenario(tracer, sc, tmp_path, env=None, args=()):
    """Write the scenario's file, run the sensor on it (the scenario's own env
    plus `env`), return (records, expected records, Run)."""
    path = tmp_path / sc.filename()
    sc.write(str(path))
    e = {"AGENT_PCAP_FILE": str(path)}
    e.update(sc.env)
    e.update(env or {})
    r = run_sensor(tracer, e, args)
    return r.records(), sc.expected(path.name), r


# ----------------------------------------------------------------------------
# record checks

TUNNEL_IDS = {"gre": "gre_key", "erspan_ii": "session_id", "erspan_iii": "session_id",
              "vxlan": "vni", "geneve": "vni", "gtpu": "teid"}
TUNNEL_TYPES = set(TUNNEL_IDS) | {"erspan_i", "ipip", "ip6ip"}


def check_tunnel(t):
    """The "tunnel" object: type, depth 1..3, outer addresses of one version,
    and at most the type's own id."""
    assert t["type"] in TUNNEL_TYPES, t
    idname = TUNNEL_IDS.get(t["type"])
    assert set(t) - {idname} == {"type", "depth", "outer_src_ip", "outer_dst_ip"}, t
    assert isinstance(t["depth"], int) and 1 <= t["depth"] <= 3, t
    assert pcapgen.ip_version(t["outer_src_ip"]) == pcapgen.ip_version(t["outer_dst_ip"]), t
    if idname in t:
        assert isinstance(t[idname], int) and 0 <= t[idname] < 2 ** 32, t


def check_shape(rec):
    """Exact key set, JSON types and formats of one flow FlowEvent; its
    community_id recomputed from its own fields."""
    keys = set(rec)
    want = set(pcapgen.FLOW_KEYS)
    if rec.get("protocol") in ("ICMP", "ICMPv6"):
        want |= pcapgen.ICMP_KEYS
    if "initiator_inferred" in rec:             # only present (and true) when inferred
        assert rec["initiator_inferred"] is True, rec
        want |= {"initiator_inferred"}
    if "tunnel" in rec:                         # only on flows from inside a tunnel (issue 14)
        check_tunnel(rec["tunnel"])
        want |= {"tunnel"}
    want |= keys & pcapgen.SIDE_KEYS            # each present when the flow has it (issue 14.7-8)
    for k in keys & pcapgen.SIDE_INT_KEYS:
        assert isinstance(rec[k], int) and not isinstance(rec[k], bool) and 0 <= rec[k] <= 255, (k, rec)
    for k in keys & {"src_mac", "dst_mac"}:
        assert MAC_RE.match(rec[k]), "%s %r is not a MAC address" % (k, rec[k])
    want |= keys & XS_KEYS
    check_xstats(rec)
    if "app" in rec:                            # dpi (issue 15): nDPI's label, AGENT_DPI on
        app = rec["app"]
        assert set(app) == {"protocol", "application", "category", "guessed"}, rec
        assert all(isinstance(app[k], str) and app[k] for k in ("protocol", "application", "category")), rec
        assert isinstance(app["guessed"], bool), rec
        want |= {"app"}
    meta = keys & META_KEYS                     # inspect/ metadata, AGENT_DPI on: one member at most
    assert len(meta) <= 1 and ("app" in rec or not meta), "metadata %s without app or more than one in %s" % (
        sorted(meta), rec)
    for k in meta:
        assert isinstance(rec[k], dict) and rec[k], "%s is %r, not a non-empty object, in %s" % (k, rec[k], rec)
    want |= meta
    assert keys == want, "key set differs: missing %s, extra %s in %s" % (
        sorted(want - keys), sorted(keys - want), rec)
    for k in STR_KEYS:
        assert isinstance(rec[k], str), "%s is not a string: %r" % (k, rec[k])
    for k in INT_KEYS + tuple(pcapgen.ICMP_KEYS & keys):
        assert isinstance(rec[k], int) and not isinstance(rec[k], bool), \
            "%s is not an integer: %r" % (k, rec[k])
    for k in NUM_KEYS:
        assert isinstance(rec[k], (int, float)) and not isinstance(rec[k], bool), \
            "%s is not a number: %r" % (k, rec[k])
    assert isinstance(rec["final"], bool), "final is not a bool: %r" % rec["final"]
    assert TS3.match(rec["timestamp"]), "timestamp %r is not RFC 3339 UTC with ms" % rec["timestamp"]
    for k in ("start_time", "end_time"):
        assert TS6.match(rec[k]), "%s %r is not RFC 3339 UTC with µs" % (k, rec[k])
    assert rec["timestamp"] == rec["end_time"][:23] + "Z", \
        "timestamp %s is not end_time %s in ms" % (rec["timestamp"], rec["end_time"])
    assert rec["type"] == "flow" and rec["schema_version"] == 2, (rec["type"], rec["schema_version"])
    assert rec["hostname"] == socket.gethostname(), "hostname %r" % rec["hostname"]
    assert rec["event_id"], "empty event_id"
    assert SENSOR_ID_RE.match(rec["sensor_id"]), "sensor_id %r" % rec["sensor_id"]
    for k in ("src_tcp_flags", "dst_tcp_flags"):
        assert FLAGS_RE.match(rec[k]), "%s %r not in S A F R P U E C order" % (k, rec[k])
    for k in ("src_port", "dst_port"):
        assert rec[k].isdigit() and 0 <= int(rec[k]) <= 65535, "%s %r" % (k, rec[k])
    assert rec["packet_count"] == rec["src_packets"] + rec["dst_packets"], "packet counts %s" % rec
    assert rec["byte_count"] == rec["src_bytes"] + rec["dst_bytes"], "byte counts %s" % rec
    proto = rec["protocol_number"]
    if proto in pcapgen.ICMP_PROTOS:
        cid = pcapgen.community_id(rec["src_ip"], rec["dst_ip"], proto,
                                   rec["icmp_type"], rec["icmp_code"])
    else:
        cid = pcapgen.community_id(rec["src_ip"], rec["dst_ip"], proto,
                                   int(rec["src_port"]), int(rec["dst_port"]))
    assert rec["community_id"] == cid, "community_id %s, computed %s for %s" % (
        rec["community_id"], cid, rec["flow_id"])


def check_xstats(rec):
    """Shape of the issue 15 groups when present: exact key sets and types."""
    num = (int, float)
    if "stats" in rec:
        assert set(rec["stats"]) == {"src", "dst", "both"}, rec["stats"]
        for d in rec["stats"].values():
            assert list(d) == list(XS_DIR_KEYS), d
            for k, v in d.items():
                assert isinstance(v, num) and not isinstance(v, bool) and v >= 0, (k, v)
                if "mean" not in k and "stddev" not in k:
                    assert isinstance(v, int), (k, v)
    if "early_packets" in rec:
        e = rec["early_packets"]
        assert list(e) == ["size", "direction", "iat_us"], e
        assert 0 < len(e["size"]) == len(e["direction"]) == len(e["iat_us"]) <= 32, e
        assert all(d in (0, 1) for d in e["direction"]) and e["iat_us"][0] == 0, e
    if "tcp" in rec:
        assert rec["protocol"] == "TCP", rec
        for k, v in rec["tcp"].items():
            assert k in ("rtt_syn_synack_us", "rtt_synack_ack_us", "src_retransmissions",
                         "dst_retransmissions", "src_out_of_order", "dst_out_of_order",
                         "src_zero_window", "dst_zero_window"), k
            assert isinstance(v, int) and v >= 0, (k, v)
    if "process" in rec:
        p = rec["process"]
        assert p and set(p) <= {"src_pid", "src_name", "dst_pid", "dst_name"}, p


def check_unique_event_ids(records):
    ids = [r["event_id"] for r in records]
    assert len(set(ids)) == len(ids), "duplicate event_id values"


META_KEYS = {"dns", "tls", "quic", "http", "ssh"}   # inspect/ metadata members (AGENT_DPI on)


def strip(rec, drop=("event_id", "hostname", "sensor_id")):
    return {k: v for k, v in rec.items() if k not in drop and k not in XS_KEYS}


def _sort_key(r):
    return (r["flow_id"], r["start_time"], r["end_reason"], r.get("vlan_id", 0))


def canonical(records):
    """Records without event_id, as a sorted list of JSON texts (for set equality)."""
    return sorted(json.dumps(strip(r, ("event_id",)), sort_keys=True) for r in records)


def _eq(k, a, e):
    if k in NUM_KEYS:
        return (isinstance(a, (int, float)) and not isinstance(a, bool)
                and math.isclose(a, e, rel_tol=1e-9, abs_tol=1e-6))
    return type(a) is type(e) and a == e


def compare_records(actual, expected):
    """Every actual record well-formed and unique in event_id; the actual and
    expected lists equal as sets, field by field (exact values; floats to 1e-6)."""
    for r in actual:
        check_shape(r)
    check_unique_event_ids(actual)
    # "app" (nDPI's label, issue 15) is checked by test_dpi.py against ndpiReader, not by the flow model
    a = sorted((strip(r, ("event_id", "hostname", "sensor_id", "app") + tuple(META_KEYS)) for r in actual), key=_sort_key)
    e = sorted(expected, key=_sort_key)
    dump = "\nactual:\n%s\nexpected:\n%s" % (
        "\n".join(json.dumps(x, sort_keys=True) for x in a),
        "\n".join(json.dumps(x, sort_keys=True) for x in e))
    assert len(a) == len(e), "%d records, expected %d%s" % (len(a), len(e), dump)
    problems = []
    for ra, re_ in zip(a, e):
        keys = set(ra) | set(re_)
        for k in sorted(keys):
            if k not in ra or k not in re_:
                problems.append("%s: key %s only in %s" % (re_["flow_id"], k,
                                                           "actual" if k in ra else "expected"))
            elif not _eq(k, ra[k], re_[k]):
                problems.append("%s [%s]: %s = %r, expected %r" % (
                    re_["flow_id"], re_["start_time"], k, ra[k], re_[k]))
    assert not problems, "\n".join(problems) + dump
