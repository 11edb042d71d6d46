"""The sensor's stable identity: a sensor_id made at the first start, kept in
AGENT_STATE_DIR and carried by every event (flows and the sensor's own), the
same after a restart, different for another state directory, overridable by
AGENT_SENSOR_ID, and a damaged or unusable state refused with exit status 2."""

import json
import os
import re

import pcapgen
from conftest import log_records, run_sensor

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def _capture(tmp_path):
    sc = pcapgen.scenario_tcp_fin()
    path = tmp_path / sc.filename()
    sc.write(str(path))
    return str(path)


def _id_log(stderr):
    (rec,) = [r for r in log_records(stderr) if "sensor_id" in r]
    return {k: rec[k] for k in ("msg", "sensor_id", "source")}


def _ids(stdout):
    events = [json.loads(l) for l in stdout.splitlines() if l.strip()]
    return events, {(e["type"], e.get("sensor_id")) for e in events}


def test_made_once_kept_across_restarts(tracer, tmp_path):
    pcap = _capture(tmp_path)
    state = tmp_path / "state"
    env = {"AGENT_PCAP_FILE": pcap, "AGENT_STATE_DIR": str(state), "AGENT_STATS_INTERVAL": "1"}
    first = run_sensor(tracer, env)
    stored = (state / "sensor_id").read_text()
    assert stored.endswith("\n") and UUID4.match(stored[:-1]), repr(stored)
    sid = stored[:-1]
    assert oct(os.stat(state).st_mode & 0o777) == "0o755"
    assert oct(os.stat(state / "sensor_id").st_mode & 0o777) == "0o644"
    events, kinds = _ids(first.stdout)
    assert {t for t, _ in kinds} >= {"flow", "sensor"}, kinds
    assert {s for _, s in kinds} == {sid}, kinds          # every event, every type
    assert _id_log(first.stderr) == {"msg": "sensor_id %s (created in %s)" % (sid, state),
                                      "sensor_id": sid, "source": "created in"}

    again = run_sensor(tracer, env)
    _, kinds2 = _ids(again.stdout)
    assert {s for _, s in kinds2} == {sid}
    assert _id_log(again.stderr) == {"msg": "sensor_id %s (read from %s)" % (sid, state),
                                     "sensor_id": sid, "source": "read from"}
    assert (state / "sensor_id").read_text() == stored        # never rewritten

    other = run_sensor(tracer, dict(env, AGENT_STATE_DIR=str(tmp_path / "other")))
    _, kinds3 = _ids(other.stdout)
    (oid,) = {s for _, s in kinds3}
    assert UUID4.match(oid) and oid != sid


def test_sensor_id_setting_wins(tracer, tmp_path):
    pcap = _capture(tmp_path)
    state = tmp_path / "state"
    r = run_sensor(tracer, {"AGENT_PCAP_FILE": pcap, "AGENT_STATE_DIR": str(state),
                            "AGENT_SENSOR_ID": "edge-7.dc2"})
    _, kinds = _ids(r.stdout)
    assert {s for _, s in kinds} == {"edge-7.dc2"}
    assert _id_log(r.stderr) == {"msg": "sensor_id edge-7.dc2 (AGENT_SENSOR_ID)",
                                 "sensor_id": "edge-7.dc2", "source": "AGENT_SENSOR_ID"}
    assert not state.exists()                                 # nothing stored when the user names it


def test_damaged_or_unusable_state_exits_2(tracer, tmp_path):
    pcap = _capture(tmp_path)
    state = tmp_path / "state"
    state.mkdir()
    (state / "sensor_id").write_text("not an id\n")
    r = run_sensor(tracer, {"AGENT_PCAP_FILE": pcap, "AGENT_STATE_DIR": str(state)}, check=False)
    assert r.rc == 2, r.stderr
    assert "AGENT_STATE_DIR=%s: %s/sensor_id: not a sensor id" % (state, state) in r.stderr, r.stderr
    assert r.stdout == ""
    assert (state / "sensor_id").read_text() == "not an id\n"   # left for the user to look at

    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = run_sensor(tracer, {"AGENT_PCAP_FILE": pcap, "AGENT_STATE_DIR": str(blocker / "state")},
                   check=False)
    assert r.rc == 2, r.stderr
    assert "AGENT_STATE_DIR=%s/state: %s/state: cannot create the state directory: Not a directory" % (
        blocker, blocker) in r.stderr, r.stderr

    r = run_sensor(tracer, {"AGENT_PCAP_FILE": pcap, "AGENT_STATE_DIR": "relative/dir"}, check=False)
    assert r.rc == 2
    assert "AGENT_STATE_DIR=relative/dir: must be an absolute directory path" in r.stderr
