"""The command line and the log as an operator meets them (issue 18 items 13,
15, 16, 17, 19, 20): time settings in every form, short tcpdump-style flags and a
trailing BPF expression, "did you mean" for a typo, --help grouped by what the
settings do, the man page rendered by man(1), JSON logs whose values keep
their types, one name per counter, and AGENT_LOCAL_NETWORKS deciding a flow's
direction on a replayed file. Every run drives the real binary."""

import json
import re
import socket
import subprocess

import pcapgen
from conftest import assert_no_sanitizer, check_shape, clean_env, compare_records, run_scenario, run_sensor


def _write(sc, tmp_path):
    path = tmp_path / sc.filename()
    sc.write(str(path))
    return path


def _mixed(tmp_path):
    """One TCP, one UDP and one ICMP flow."""
    sc = pcapgen.Scenario("cli_mixed")
    t = pcapgen.Conv(sc, pcapgen.PROTO_TCP, pcapgen.A4, pcapgen.B4, 40000, 443)
    t.record()
    t.send(10.0, "a", pcapgen.SYN)
    t.send(10.1, "b", pcapgen.SYN | pcapgen.ACK)
    u = pcapgen.Conv(sc, pcapgen.PROTO_UDP, pcapgen.A4, pcapgen.C4, 5353, 53)
    u.record()
    u.send(10.2, "a", payload=b"q")
    i = pcapgen.Conv(sc, pcapgen.PROTO_ICMP, pcapgen.A4, pcapgen.D4)
    i.record(icmp_tc=(8, 0))
    i.send(10.3, "a", icmp_tc=(8, 0), seqno=1)
    return sc, _write(sc, tmp_path)


# --------------------------------------------------------------------------- item 13

def test_timeouts_take_duration_forms(tracer, tmp_path):
    """The flow timeouts accept 5s, 7s and 0.05m where they took only 5, 7 and 3:
    the same flows, to the packet, as with bare seconds."""
    sc = pcapgen.SCENARIOS["custom_timeouts"]()
    got, want, _ = run_scenario(tracer, sc, tmp_path, env={
        "AGENT_UDP_IDLE_TIMEOUT": "5s", "AGENT_TCP_IDLE_TIMEOUT": "7s", "AGENT_IDLE_TIMEOUT": "0.05m"})
    compare_records(got, want)


def test_timeout_rejects_fractions_and_junk(tracer, tmp_path):
    _, pcap = _mixed(tmp_path)
    r = run_sensor(tracer, {"AGENT_PCAP_FILE": str(pcap), "AGENT_TCP_IDLE_TIMEOUT": "1.5s",
                            "AGENT_ACTIVE_TIMEOUT": "8d"}, check=False)
    assert r.rc == 2
    assert r.stderr.splitlines() == [
        "AGENT_TCP_IDLE_TIMEOUT=1.5s: must be whole seconds, bare (60) or as a duration (60s, 5m, 1h30m), "
        "in [1s, 1d]",
        "AGENT_ACTIVE_TIMEOUT=8d: must be whole seconds, bare (60) or as a duration (60s, 5m, 1h30m), "
        "in [1s, 7d]",
        "tracer-sensor: 2 configuration problems; see tracer-sensor --help"]


# --------------------------------------------------------------------------- item 16

def test_short_forms_and_trailing_expression(tracer, tmp_path):
    """tracer-sensor -r FILE udp: only the UDP flow; `-r FILE -- icmp` too."""
    _, pcap = _mixed(tmp_path)
    r = run_sensor(tracer, args=["-r", str(pcap), "udp"])
    assert [x["protocol"] for x in r.records()] == ["UDP"]
    r = run_sensor(tracer, args=["-r", str(pcap), "--", "icmp", "or", "tcp", "port", "443"])
    assert sorted(x["protocol"] for x in r.records()) == ["ICMP", "TCP"]
    # the expression wins over AGENT_BPF_FILTER, as a flag does
    r = run_sensor(tracer, {"AGENT_BPF_FILTER": "tcp"}, args=["-r", str(pcap), "udp"])
    assert [x["protocol"] for x in r.records()] == ["UDP"]
    # the configuration line shows the filter in effect
    conf = next(l for l in r.stderr.splitlines() if "msg=configuration" in l)
    assert " AGENT_BPF_FILTER=udp " in conf and " AGENT_PCAP_FILE=%s " % pcap in conf


def test_expression_and_bpf_flag_conflict(tracer, tmp_path):
    _, pcap = _mixed(tmp_path)
    r = run_sensor(tracer, args=["-r", str(pcap), "--bpf-filter", "tcp", "udp"], check=False)
    assert r.rc == 2
    assert r.stderr.splitlines()[0] == "EXPRESSION=udp: a filter expression and --bpf-filter: give only one"


def test_interface_short_form_live(tracer):
    """-i lo captures on lo (the startup line names it), and SIGTERM ends it."""
    p = subprocess.Popen([tracer, "-i", "lo", "--stats-interval", "0", "udp", "port", "9"],
                         env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seen = []
    try:
        line = b""
        while b"capturing on lo" not in line:
            line = p.stderr.readline()
            assert line, "no startup line"
            seen.append(line)
        assert b" interface=lo " in line and b" output=stdout" in line
        p.terminate()
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    err = b"".join(seen) + err
    assert p.returncode == 0, err.decode()[-2000:]
    conf = [l for l in err.decode().splitlines() if "msg=configuration" in l]
    assert conf and ' AGENT_BPF_FILTER="udp port 9" ' in conf[0]


def test_did_you_mean(tracer):
    r = run_sensor(tracer, args=["--intreface", "lo", "--snaplen=512", "--bogus"], check=False)
    assert r.rc == 2
    lines = r.stderr.splitlines()
    assert "--intreface: unknown flag; did you mean --interface? (see --help)" in lines
    assert "--snaplen: unknown flag; did you mean --snap-len? (see --help)" in lines
    assert "--bogus: unknown flag (see --help)" in lines


def _help_sections(text):
    """{section title: [flags]} from --help."""
    out, cur = {}, None
    for l in text.splitlines():
        m = re.fullmatch(r"([A-Z][A-Za-z ]+):", l)
        if m:
            cur = out.setdefault(m.group(1), [])
        elif cur is not None and l.startswith("  --"):
            cur.append(l.split()[0])
    return out


def test_help_groups_by_purpose(tracer):
    r = run_sensor(tracer, args=["--help"])
    sec = _help_sections(r.stdout)
    assert list(sec) == ["Capture", "Flows", "Flow statistics", "Output", "Delivery", "Pipeline", "Inspection",
                         "Hooks", "Monitoring", "Control API", "Logging and privileges"]
    assert sec["Control API"] == ["--api-addr", "--api-key-file", "--api-tls-cert", "--api-tls-key",
                                  "--api-job-retention", "--api-max-jobs", "--api-max-queued"]
    assert sec["Flow statistics"] == ["--flow-stats", "--early-packets", "--tcp-health", "--process-info"]
    assert sec["Inspection"] == ["--dpi", "--dpi-flows"]
    assert sec["Flows"] == ["--tcp-idle-timeout", "--udp-idle-timeout", "--idle-timeout", "--active-timeout",
                            "--max-flows", "--community-id-seed", "--local-networks", "--vlan-in-key",
                            "--decap"]
    assert "--tcp-idle-timeout" not in sec["Output"]
    flags = [f for v in sec.values() for f in v]
    assert len(flags) == len(set(flags))
    assert r.stdout.startswith("Usage: tracer-sensor [options] [BPF expression]\n")


def test_man_page_renders(tracer, tmp_path):
    """The page `make man` installs, rendered by man(1): schema, SNMP file, signals."""
    r = run_sensor(tracer, args=["--man"])
    page = tmp_path / "tracer-sensor.8"
    page.write_text(r.stdout)
    out = subprocess.run(["man", "-l", str(page)], capture_output=True, text=True, timeout=60,
                         env={"MANWIDTH": "100", "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})
    assert out.returncode == 0, out.stderr
    text = re.sub(r".\x08", "", out.stdout)
    for want in ("FLOW EVENTS", "SNMP CONFIGURATION FILE", "SIGNALS", "SIGHUP", "Reopen AGENT_LOG_FILE",
                 "A second SIGINT or SIGTERM", "community_id (string)", "end_reason (string)",
                 "\"trap_users\": [{\"username\": \"trapper\"", "-i interface", "tcp port 443"):
        assert want in text, (want, text[:3000])
    assert "warning" not in out.stderr.lower(), out.stderr


# --------------------------------------------------------------------------- items 15, 17

KNOWN_TYPES = {
    "configuration": {"AGENT_SNAP_LEN": int, "AGENT_BATCH_SIZE": int, "AGENT_PROMISCUOUS": bool,
                      "AGENT_TLS_INSECURE": bool, "AGENT_TCP_IDLE_TIMEOUT": str, "version": str},
    "privileges": {"uid": int, "gid": int, "cap_net_raw": bool, "cap_net_admin": bool, "no_new_privs": bool,
                   "user": str},
    "summary": {"frames": int, "decoded": int, "flows": int, "records": int, "events_output": int,
                "events_delivered": int, "events_failed": int, "kernel_received": int, "file_truncated": int},
}


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_json_log_fields_are_typed(tracer, tmp_path):
    """Every stderr line of a JSON-log replay (stats and metrics on) is one JSON
    object; counters are numbers and flags booleans; no value is a number, a
    boolean or JSON hidden in a string."""
    sc, pcap = _mixed(tmp_path)
    port = _free_port()
    r = run_sensor(tracer, {"AGENT_PCAP_FILE": str(pcap), "LOG_FORMAT": "json", "AGENT_STATS_INTERVAL": "1s",
                            "AGENT_METRICS_ADDR": "127.0.0.1:%d" % port})
    recs = [json.loads(l) for l in r.stderr.splitlines()]
    assert recs and all(isinstance(x, dict) for x in recs)
    by_msg = {}
    for rec in recs:
        by_msg.setdefault(rec["msg"], rec)
        for k, v in rec.items():
            if k in ("ts", "level", "msg") or not isinstance(v, str):
                continue
            assert not re.fullmatch(r"-?\d+|true|false", v), ("number or boolean as a string", rec["msg"], k, v)
            if v[:1] in ("{", "["):
                try:
                    json.loads(v)
                except ValueError:
                    continue
                raise AssertionError("JSON inside a string: %s %s=%s" % (rec["msg"], k, v))
        assert not re.search(r"[:=] ?[{\[]\"", rec["msg"]), ("JSON in the message", rec["msg"])
    for msg, types in KNOWN_TYPES.items():
        assert msg in by_msg, (msg, sorted(by_msg))
        for k, t in types.items():
            assert type(by_msg[msg][k]) is t, (msg, k, by_msg[msg][k])
    start = next(x for x in recs if x["msg"].startswith("tracer-sensor ") and " reading " in x["msg"])
    assert start["pcap_file"] == str(pcap) and start["link_type"] == 1 and start["output"] == "stdout"
    metrics = next(x for x in recs if x["msg"].startswith("metrics: serving"))
    assert metrics["port"] == port and metrics["addr"] == "127.0.0.1:%d" % port
    summ = by_msg["summary"]
    n = len(sc.recs)
    sensors = r.events("sensor")
    assert sensors and sensors[-1]["final"] is True
    # one name per quantity: every flow and sensor event was handed to the output and written
    assert (summ["flows"], summ["records"], summ["events_failed"]) == (n, n, 0), summ
    assert summ["events_output"] == summ["events_delivered"] == n + len(sensors), summ
    assert "events_sent" not in summ
    assert summ["kernel_counts_loopback_twice"] is False   # a file: no kernel counters at all
    # the sensor event uses the same names (its counts are taken before the last events are written)
    d = sensors[-1]["delivery"]
    assert "events_sent" not in d and "events_in" not in d
    assert type(d["events_output"]) is int and type(d["events_delivered"]) is int
    assert d["events_delivered"] <= d["events_output"] <= summ["events_output"]


# --------------------------------------------------------------------------- item 20

def test_local_networks_decide_direction(tracer, tmp_path):
    """On a replayed file, AGENT_LOCAL_NETWORKS gives each flow its exact direction, v4 and v6."""
    sc = pcapgen.SCENARIOS["local_networks"]()
    got, want, _ = run_scenario(tracer, sc, tmp_path)
    for x in got:
        check_shape(x)
    compare_records(got, want)
    assert sorted((x["src_ip"], x["direction"]) for x in got) == sorted([
        ("10.1.2.3", "outbound"), ("198.51.100.7", "inbound"), ("10.1.2.3", "local"),
        ("198.51.100.7", "unknown"), ("127.0.0.1", "unknown"), ("fd00::1", "outbound"),
        ("2001:db8::9", "inbound"), ("fd00::1", "local"), ("2001:db8::9", "unknown")])
    # without the setting the host's own addresses decide: 127.0.0.1 -> 127.0.0.1 is local again
    got2, _, _ = run_scenario(tracer, sc, tmp_path, env={"AGENT_LOCAL_NETWORKS": ""})
    lo = [x for x in got2 if x["src_ip"] == "127.0.0.1"]
    assert len(lo) == 1 and lo[0]["direction"] == "local"


def test_local_networks_rejected(tracer, tmp_path):
    _, pcap = _mixed(tmp_path)
    r = run_sensor(tracer, {"AGENT_PCAP_FILE": str(pcap), "AGENT_LOCAL_NETWORKS": "10.0.0.0/8,lan"}, check=False)
    assert r.rc == 2
    assert r.stderr.splitlines()[0] == ("AGENT_LOCAL_NETWORKS=10.0.0.0/8,lan: \"lan\": not an IPv4 or IPv6 "
                                        "address: must be comma-separated CIDRs (10.0.0.0/8,fd00::/8)")


# --------------------------------------------------------------------------- item 19

def test_loopback_kernel_counter(tracer):
    """On lo the kernel counts each packet twice (its outgoing and its incoming copy;
    libpcap discards the outgoing one): 100 datagrams are 100 frames, kernel_received
    200, nothing dropped, and the summary and the sensor event say why."""
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    port = rx.getsockname()[1]
    p = subprocess.Popen([tracer, "-i", "lo", "--stats-interval", "1s", "udp", "and", "port", str(port)],
                         env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seen = []
    try:
        line = b""
        while b"capturing on lo" not in line:
            line = p.stderr.readline()
            assert line, "no startup line: %r" % b"".join(seen)
            seen.append(line)
        tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for i in range(100):
            tx.sendto(b"x%d" % i, ("127.0.0.1", port))
        got = 0
        rx.settimeout(30)
        while got < 100:   # every datagram went through lo before the sensor stops
            rx.recv(64)
            got += 1
        tx.close()
        # libpcap hands frames over per ring block: wait until a stats event shows all 100
        early = []
        while True:
            l = p.stdout.readline()
            assert l, "sensor ended early"
            early.append(l)
            ev = json.loads(l)
            if ev.get("type") == "sensor" and ev["capture"]["frames"] >= 100:
                break
        p.terminate()
        out, err = p.communicate(timeout=60)
        out = b"".join(early) + out
    finally:
        if p.poll() is None:
            p.kill()
        rx.close()
    err = (b"".join(seen) + err).decode()
    assert_no_sanitizer(err)
    assert p.returncode == 0, err[-2000:]
    summ = [l for l in err.splitlines() if "msg=summary" in l]
    assert len(summ) == 1, err[-2000:]
    f = dict(re.findall(r" ([a-z_]+)=(\S+)", summ[0]))
    assert (f["frames"], f["kernel_dropped"], f["kernel_counts_loopback_twice"]) == ("100", "0", "true"), summ[0]
    # 200: both copies of each datagram. The kernel also counts what other processes send
    # over lo between the socket's creation and the filter's attachment (other tests run
    # beside this one), so a few more may show; never fewer, and never near 300.
    assert 200 <= int(f["kernel_received"]) < 250, summ[0]
    sensors = [json.loads(l) for l in out.decode().splitlines() if '"type":"sensor"' in l]
    assert sensors and sensors[-1]["final"] is True
    cap = sensors[-1]["capture"]
    assert cap["frames"] == 100 and cap["kernel_counts_loopback_twice"] is True, cap
