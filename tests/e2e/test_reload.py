"""Reload without restart (issue 17.5): SIGHUP re-reads AGENT_SNMP_CONFIG and
applies added, removed and changed targets while the sensor runs, against
Debian's snmpd (v2c, on a 127.0.0.1 high port); an invalid new file keeps the
old targets and the log line says why. A file without targets at start still
gets a poller, so a reload can add the first target.

The sensor runs live on lo with a BPF filter that matches nothing ("port 1"),
as in test_snmp.py, so only hook events reach stdout."""

import os
import shutil
import signal
import subprocess

import pytest

from conftest import log_records
from test_snmp import Sensor, free_udp_port, spawn_snmpd, write_config

COMMUNITY = "reloadComm1"

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("snmpd"),
                                reason="needs root (live capture on lo) and snmpd")


@pytest.fixture(scope="module")
def snmpd(tmp_path_factory):
    """A plain snmpd answering v2c community COMMUNITY on 127.0.0.1:<port>."""
    tmp = tmp_path_factory.mktemp("reload-snmpd")
    port = free_udp_port()
    proc = spawn_snmpd(tmp, port, COMMUNITY, "agentaddress udp:127.0.0.1:%d\nrocommunity %s 127.0.0.1\n"
                       "sysLocation Reload-Lab\n" % (port, COMMUNITY))
    try:
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()


class LiveSensor(Sensor):
    """Sensor whose log lines can be read while it runs."""

    def _read_err(self):
        for line in self.proc.stderr:
            with self.lock:
                self.err += line

    def logs(self, msg):
        with self.lock:
            text = self.err.decode("utf-8", "replace")
        return [r for r in log_records(text) if r.get("msg") == msg]


def target(name, port, **kw):
    t = {"name": name, "host": "127.0.0.1", "port": port, "version": "2c", "community": COMMUNITY,
         "interval": 1, "timeout": 0.3, "retries": 0, "collect": ["system"]}
    t.update(kw)
    return t


def hup_and_wait(s, msg, n_before):
    s.proc.send_signal(signal.SIGHUP)
    s.wait_for(lambda: len(s.logs(msg)) > n_before, 20, "the log line %r" % msg)
    return s.logs(msg)[-1]


def test_reload_good_then_bad_file(tracer, snmpd, tmp_path):
    dead = free_udp_port()   # nothing answers there: a poll of it times out
    # "slow" waits 3 s for an agent that never answers: a reload almost surely finds it being polled,
    # so its removal takes the path where the worker finishes the poll and frees the target.
    cfg = write_config(tmp_path, {"targets": [target("keep", snmpd), target("moved", dead),
                                              target("gone", snmpd), target("slow", dead, timeout=3)]})
    s = LiveSensor(tracer, {"AGENT_SNMP_CONFIG": cfg, "LOG_LEVEL": "info"})
    s.wait_for(lambda: s.of("snmp", target="keep", ok=True) and s.of("snmp", target="gone", ok=True)
               and s.of("snmp", target="moved", ok=False), 30, "a first poll of every target")
    assert {e["error"] for e in s.of("snmp", target="moved")} == {"timeout"}

    # Good file: "keep" unchanged, "moved" changed (port: now the live agent), "gone" removed, "new" added.
    write_config(tmp_path, {"targets": [target("keep", snmpd), target("moved", snmpd), target("new", snmpd)]})
    rec = hup_and_wait(s, "reload: targets applied", 0)
    assert rec["hook"] == "snmp"
    assert rec["result"] == "AGENT_SNMP_CONFIG=%s: 3 targets: 1 added, 2 removed, 1 changed, 1 unchanged" % cfg
    gone_at_reload = len(s.of("snmp", target="gone"))
    slow_at_reload = len(s.of("snmp", target="slow"))
    keep_at_reload = len(s.of("snmp", target="keep"))
    s.wait_for(lambda: s.of("snmp", target="new", ok=True) and s.of("snmp", target="moved", ok=True)
               and len(s.of("snmp", target="keep")) >= keep_at_reload + 3, 30,
               "polls of the added and the changed target, three more of the kept one")
    # A poll of "gone" that was in flight at the reload may still finish; no new one starts.
    assert len(s.of("snmp", target="gone")) <= gone_at_reload + 1
    moved_ok = s.of("snmp", target="moved", ok=True)[0]
    assert moved_ok["system"]["location"] == "Reload-Lab"
    new_ok = s.of("snmp", target="new", ok=True)[0]
    assert new_ok["system"]["location"] == "Reload-Lab"

    # Bad file: refused, the old targets keep being polled.
    (tmp_path / "snmp.json").write_text('{"targets": [{"name": "keep", "host": "127.0.0.1", "version": "9"}]}')
    rec = hup_and_wait(s, "reload: new targets refused, the old ones stay", 0)
    assert rec["hook"] == "snmp"
    assert "AGENT_SNMP_CONFIG=%s" % cfg in rec["error"] and "version" in rec["error"], rec["error"]
    counts = {n: len(s.of("snmp", target=n)) for n in ("keep", "moved", "new")}
    s.wait_for(lambda: all(len(s.of("snmp", target=n)) >= counts[n] + 2 for n in counts), 30,
               "two more polls of every target after the refused reload")
    gone_final, slow_final = len(s.of("snmp", target="gone")), len(s.of("snmp", target="slow"))
    assert s.stop() == 0
    assert gone_final <= gone_at_reload + 1 and slow_final <= slow_at_reload + 1
    assert {e["error"] for e in s.of("snmp", target="slow")} == {"timeout"}
    assert "SIGHUP: log file reopened" not in s.stderr   # no AGENT_LOG_FILE: nothing to reopen
    stats = [r for r in log_records(s.stderr) if r.get("msg") == "snmp poller stopped"][0]
    assert (stats["snmp_reloads_applied"], stats["snmp_reloads_refused"], stats["snmp_targets"]) == ("1", "1", "3")


def test_reload_adds_the_first_target(tracer, snmpd, tmp_path):
    cfg = write_config(tmp_path, {"targets": []})
    s = LiveSensor(tracer, {"AGENT_SNMP_CONFIG": cfg})
    s.wait_for(lambda: s.logs("hook snmp started"), 20, "the poller to start without targets")
    write_config(tmp_path, {"targets": [target("first", snmpd)]})
    rec = hup_and_wait(s, "reload: targets applied", 0)
    assert rec["result"] == "AGENT_SNMP_CONFIG=%s: 1 target: 1 added, 0 removed, 0 changed, 0 unchanged" % cfg
    s.wait_for(lambda: len(s.of("snmp", target="first", ok=True)) >= 2, 30, "two polls of the added target")
    assert s.stop() == 0
