"""test_file_reader — classic pcap files read by the sensor's block reader
(capture/savefile.c) give exactly what libpcap alone gives.

The same bytes go in twice: as AGENT_PCAP_FILE (the block reader, handing over
to libpcap where it must) and on standard input (AGENT_PCAP_FILE=-, which
libpcap always reads itself). Records, capture counters and the log line of a
damaged file must be the same; where the scenario says what the records are,
they are checked against that too.
"""

import struct

import pcapgen
from conftest import canonical, compare_records, log_records, run_sensor, run_sensor_stdin

REC_HDR = struct.Struct("<IIII")


def write_mixed(tmp_path, name="mixed.pcap"):
    sc = pcapgen.scenario_mixed()
    p = tmp_path / name
    sc.write(str(p))
    return sc, p


def records_of(raw):
    """(offset, sec, frac, caplen, len) of each record of a classic pcap file."""
    out, off = [], 24
    while off + 16 <= len(raw):
        sec, frac, cap, wire = REC_HDR.unpack_from(raw, off)
        out.append((off, sec, frac, cap, wire))
        off += 16 + cap
    return out


def run_both(tracer, path, env=None):
    """The sensor on the file and on the same bytes from stdin (AGENT_INTERFACE
    names that source; its records are given the file's name for comparing)."""
    e = {"AGENT_PCAP_FILE": str(path)}
    e.update(env or {})
    return run_sensor(tracer, e), run_sensor_stdin(tracer, path, env)


def capture_counters(run):
    final = [e for e in run.events("sensor") if e.get("final")]
    assert len(final) == 1, run.stdout[-2000:]
    return final[0]["capture"]


def stop_lines(run, source):
    """The 'stopped reading' warnings, with the source name taken out."""
    out = []
    for rec in log_records(run.stderr):
        msg = rec.get("msg", "")
        if "stopped reading" in msg:
            out.append(msg.replace(source, "SOURCE"))
    return out


def assert_same(by_file, by_libpcap, path):
    from_stdin = by_libpcap.records()
    assert all(r["interface"] == "lo" for r in from_stdin)
    for r in from_stdin:
        r["interface"] = path.name
    assert canonical(by_file.records()) == canonical(from_stdin)
    assert capture_counters(by_file) == capture_counters(by_libpcap)
    assert stop_lines(by_file, str(path)) == stop_lines(by_libpcap, "-")


def test_whole_file_same_as_libpcap(tracer, tmp_path):
    sc, p = write_mixed(tmp_path)
    by_file, by_libpcap = run_both(tracer, p)
    compare_records(by_file.records(), sc.expected(p.name))
    assert_same(by_file, by_libpcap, p)
    n = len(sc.frames)
    c = capture_counters(by_file)
    assert c["frames"] == n and c["decoded"] == n - 1 and c["undecodable"]["not_ip"] == 1   # one ARP frame
    assert c["file_truncated"] is False


def test_record_longer_than_snapshot_goes_to_libpcap(tracer, tmp_path):
    """A header snap length of 100 bytes: the first longer record and all after
    it are read by libpcap, which cuts each to 100 bytes."""
    sc, p = write_mixed(tmp_path)
    raw = bytearray(p.read_bytes())
    recs = records_of(raw)
    assert any(cap > 100 for _, _, _, cap, _ in recs)
    struct.pack_into("<I", raw, 16, 100)
    p.write_bytes(bytes(raw))
    by_file, by_libpcap = run_both(tracer, p)
    assert_same(by_file, by_libpcap, p)
    # lengths come from the wire length, so the records are the scenario's own
    compare_records(by_file.records(), sc.expected(p.name))
    assert capture_counters(by_file)["frames"] == len(recs)


def test_file_cut_inside_last_record(tracer, tmp_path):
    sc, p = write_mixed(tmp_path)
    raw = p.read_bytes()
    off, _, _, cap, _ = records_of(raw)[-1]
    assert cap > 10
    p.write_bytes(raw[:off + 16 + cap - 10])
    by_file, by_libpcap = run_both(tracer, p)
    assert_same(by_file, by_libpcap, p)
    n = len(records_of(raw)) - 1
    assert stop_lines(by_file, str(p)) == [
        "capture: SOURCE: stopped reading after %d frames: truncated dump file; "
        "tried to read %d captured bytes, only got %d" % (n, cap, cap - 10)]
    c = capture_counters(by_file)
    assert c["frames"] == n and c["file_truncated"] is True


def test_file_cut_inside_record_header(tracer, tmp_path):
    sc, p = write_mixed(tmp_path)
    raw = p.read_bytes()
    off = records_of(raw)[-1][0]
    p.write_bytes(raw[:off + 5])
    by_file, by_libpcap = run_both(tracer, p)
    assert_same(by_file, by_libpcap, p)
    n = len(records_of(raw)) - 1
    assert stop_lines(by_file, str(p)) == [
        "capture: SOURCE: stopped reading after %d frames: truncated dump file; "
        "tried to read 16 header bytes, only got 5" % n]


def test_nanosecond_file(tracer, tmp_path):
    """Nanosecond magic: times in microseconds, the fraction divided by 1000."""
    sc, p = write_mixed(tmp_path)
    raw = bytearray(p.read_bytes())
    struct.pack_into("<I", raw, 0, 0xA1B23C4D)
    for off, sec, frac, cap, wire in records_of(raw):
        REC_HDR.pack_into(raw, off, sec, frac * 1000 + 999, cap, wire)
    p.write_bytes(bytes(raw))
    by_file, by_libpcap = run_both(tracer, p)
    assert_same(by_file, by_libpcap, p)
    compare_records(by_file.records(), sc.expected(p.name))


def test_filter_and_pcapng_stay_with_libpcap(tracer, tmp_path):
    """With a BPF filter, and for pcapng, the records are the same as well
    ("tcp" matches untagged, untunnelled TCP only)."""
    sc, p = write_mixed(tmp_path)
    by_file, by_libpcap = run_both(tracer, p, {"AGENT_BPF_FILTER": "tcp"})
    assert_same(by_file, by_libpcap, p)
    tcp = [r for r in sc.expected(p.name)
           if r["protocol"] == "TCP" and not r.get("vlan_id") and "tunnel" not in r]
    assert len(tcp) == 54
    compare_records(by_file.records(), tcp)
    sc.pcapng = True
    q = tmp_path / "mixed.pcapng"
    sc.write(str(q))
    by_file, by_libpcap = run_both(tracer, q)
    assert_same(by_file, by_libpcap, q)
    compare_records(by_file.records(), sc.expected(q.name))
