"""Issue 18, the operators' items that need no Docker engine: the image's files,
the health check, the ignore files, the shutdown budget, compose, systemd.

- The HEALTHCHECK's command is taken from the Dockerfile and run with /bin/sh,
  as Docker runs it, inside a network namespace this test makes, where a
  stand-in answers /healthz 200 on 127.0.0.1:9108 (the port the old command
  fell back to) and 503 on 9109: an empty AGENT_METRICS_ADDR must be unhealthy
  even though 9108 answers.
- .dockerignore (Docker's rules: a pattern matches the path or a parent
  folder, `*` stops at `/`, `**/` matches any depth) and .gitignore (asked from
  git itself) keep settings files, captures and NDJSON output out.
- The shutdown budget: the sensor's default AGENT_SHUTDOWN_TIMEOUT leaves room
  inside docker stop's 10 s, and the README's docker run and the compose file
  give more when it is raised.
- docker-compose.yml through Compose v1 itself (`docker-compose config`,
  Debian's docker-compose package; it needs no engine).
- The systemd unit template's reload, exit statuses and writable paths.
The real container runs are `make docker-check` (scripts/docker-check.sh).
"""
import os
import re
import shutil
import subprocess
import sys
import uuid

import pytest

from conftest import REPO, run_sensor

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from test_ship import _dockerignore_patterns, _ignored, dockerfile_stages  # noqa: E402

UID = 10001


def _runtime():
    return dict(dockerfile_stages())["runtime"]


def _help_default(tracer, var):
    r = run_sensor(tracer, args=["--help"], timeout=30)
    m = re.search(r"^  --[\w-]+ \S+\s+%s\s+default: (\S+)" % var, r.stdout, re.M)
    assert m, r.stdout
    return m.group(1)


def _seconds(text):
    m = re.fullmatch(r"(\d+)(ms|s|m)?", text)
    assert m, text
    n, unit = int(m.group(1)), m.group(2) or "s"
    return {"ms": n / 1000, "s": n, "m": n * 60}[unit]


# ----------------------------------------------------------------------------
# Dockerfile


def test_dockerfile_builds_offline_and_pins_the_user():
    text = (REPO / "Dockerfile").read_text()
    # a "# syntax=" directive makes BuildKit fetch its frontend from a registry
    assert not re.search(r"^#\s*syntax\s*=", text, re.M | re.I), "remove the # syntax= line"
    rt = _runtime()
    assert ("ARG", "TRACER_UID=%d" % UID) in rt and ("ARG", "TRACER_GID=%d" % UID) in rt, rt
    runs = " && ".join(a for i, a in rt if i == "RUN")
    assert re.search(r'groupadd --system --gid "\$TRACER_GID" tracer\b', runs), runs
    assert re.search(r'useradd --system --uid "\$TRACER_UID" --gid tracer\b', runs), runs
    assert [a for i, a in rt if i == "USER"][-1] == "tracer"
    # the README tells how to give a 0600 token file to that uid
    readme = (REPO / "README.md").read_text()
    assert "chown %d /etc/tracer/token" % UID in readme
    assert "uid %d" % UID in readme


def _healthcheck_cmd():
    hc = [a for i, a in _runtime() if i == "HEALTHCHECK"]
    assert len(hc) == 1
    m = re.search(r"\bCMD (.*)$", hc[0])
    assert m and not m.group(1).startswith("["), "the shell form, so $AGENT_METRICS_ADDR is expanded"
    return m.group(1)


STANDIN = r"""
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        code = int(sys.argv[2]) if self.path == "/healthz" else 404
        self.send_response(code); self.end_headers(); self.wfile.write(b"ok\n" if code == 200 else b"no\n")
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H)
print("ready", flush=True)
s.serve_forever()
"""


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("curl"),
                    reason="needs root and iproute2 (a network namespace) and curl")
def test_healthcheck_metrics_off_is_unhealthy(tmp_path):
    cmd = _healthcheck_cmd()
    ns = "tops" + uuid.uuid4().hex[:8]
    subprocess.run(["ip", "netns", "add", ns], check=True)
    procs = []
    try:
        subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
        (tmp_path / "standin.py").write_text(STANDIN)
        for port, code in ((9108, 200), (9109, 503)):
            p = subprocess.Popen(["ip", "netns", "exec", ns, "/usr/bin/python3", str(tmp_path / "standin.py"),
                                  str(port), str(code)], stdout=subprocess.PIPE, text=True)
            procs.append(p)
            assert p.stdout.readline().strip() == "ready"

        def health(addr):
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
            if addr is not None:
                env["AGENT_METRICS_ADDR"] = addr
            r = subprocess.run(["ip", "netns", "exec", ns, "/bin/sh", "-c", cmd], env=env,
                               capture_output=True, text=True, timeout=30)
            return r.returncode, r.stdout + r.stderr

        assert health("127.0.0.1:9108")[0] == 0
        assert health(":9108")[0] == 0                   # every address: asked on loopback
        assert health("127.0.0.1:9109")[0] == 1          # 503: a thread is not running
        assert health("127.0.0.1:9110")[0] == 1          # nothing listens
        # metrics off: unhealthy, although 127.0.0.1:9108 answers 200 (another sensor, say)
        rc, out = health("")
        assert rc == 1 and "AGENT_METRICS_ADDR is empty: /healthz is off" in out, (rc, out)
        assert health(None)[0] == 1
    finally:
        for p in procs:
            p.kill()
            p.wait()
        subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)


# ----------------------------------------------------------------------------
# .dockerignore, .gitignore

KEEP_OUT = [".env", ".env.production", "scripts/.env", "capture.pcap", "tmp/x.pcapng", "deep/a/b.pcap",
            "flows.ndjson", "out/run1.ndjson"]
KEEP_IN = ["packaging/tracer-sensor.env", "Dockerfile", "Makefile", "VERSION", "cmd/main.c",
           "scripts/install-deps.sh", "config/config.c"]


def test_dockerignore_keeps_secrets_and_captures_out():
    pats = _dockerignore_patterns()
    for rel in KEEP_OUT:
        assert _ignored(rel, pats), "%s would be copied into the build context" % rel
    for rel in KEEP_IN:
        assert not _ignored(rel, pats), "%s is needed by the build stage" % rel
    # Docker's `*` does not cross `/`: a bare "*.pcap" would only match at the top
    for p in pats:
        if re.search(r"\.(pcap|pcapng|ndjson)$", p):
            assert p.startswith("**/"), p


def test_gitignore_keeps_secrets_and_captures_out():
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    for rel in KEEP_OUT:
        r = subprocess.run(["git", "check-ignore", "-q", "--no-index", rel], cwd=REPO)
        assert r.returncode == 0, "%s is not ignored by .gitignore" % rel
    for rel in KEEP_IN + ["tests/data/fixture.pcap", "fuzz/regressions/decode/x.pcapng"]:
        r = subprocess.run(["git", "check-ignore", "-q", "--no-index", rel], cwd=REPO)
        assert r.returncode == 1, "%s is ignored by .gitignore" % rel


# ----------------------------------------------------------------------------
# shutdown budget: docker stop waits 10 s by default, then SIGKILL (137)

DOCKER_STOP_DEFAULT_S = 10


def test_shutdown_fits_docker_stop(tracer):
    default = _seconds(_help_default(tracer, "AGENT_SHUTDOWN_TIMEOUT"))
    # the image's own value: ending every open flow before it, and spooling after it,
    # need the rest of docker stop's 10 s
    envs = dict(a.split("=", 1) for i, a in _runtime() if i == "ENV")
    image = _seconds(envs["AGENT_SHUTDOWN_TIMEOUT"])
    assert image + 5 <= DOCKER_STOP_DEFAULT_S, image
    assert ("STOPSIGNAL", "SIGTERM") in _runtime()
    # the README's docker run and the compose file give room for the sensor's default
    readme = (REPO / "README.md").read_text()
    runs = re.findall(r"^docker run [^\n]*(?:\\\n[^\n]*)*", readme, re.M)
    live = [r for r in runs if "--network host" in r]
    assert live, "no docker run example in the README"
    for r in live:
        m = re.search(r"--stop-timeout (\d+)", r)
        assert m and int(m.group(1)) >= default + 5, r
    yaml = pytest.importorskip("yaml")
    svc = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]["tracer-sensor"]
    assert svc["environment"]["AGENT_SHUTDOWN_TIMEOUT"] == "${AGENT_SHUTDOWN_TIMEOUT:-%s}" % \
        _help_default(tracer, "AGENT_SHUTDOWN_TIMEOUT")
    assert _seconds(svc["stop_grace_period"]) >= default + 5


# ----------------------------------------------------------------------------
# docker-compose.yml through Compose itself


def _compose_v1():
    if not shutil.which("docker-compose"):
        pytest.skip("docker-compose (Debian's Compose v1) is not installed: scripts/install-deps.sh --test")
    return ["docker-compose"]


def test_compose_v1_reads_the_file(tmp_path):
    yaml = pytest.importorskip("yaml")
    base = _compose_v1()
    env = {k: v for k, v in os.environ.items() if not (k.startswith("AGENT_") or k.startswith("LOG_"))}
    # no .env here, so the defaults apply; --project-directory keeps a user's .env out of it
    r = subprocess.run(base + ["-f", str(REPO / "docker-compose.yml"), "--project-directory", str(tmp_path),
                               "config"], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    doc = yaml.safe_load(r.stdout)
    svc = doc["services"]["tracer-sensor"]
    assert svc["restart"] == "on-failure:5"
    assert svc["environment"]["AGENT_SPOOL_DIR"] == "/var/lib/tracer-sensor/spool"
    assert svc["environment"]["AGENT_STATE_DIR"] == "/var/lib/tracer-sensor"
    vols = [v.split(":")[:2] if isinstance(v, str) else [v["source"], v["target"]]   # "name:/path:rw"
            for v in svc["volumes"]]
    assert vols == [["tracer-state", "/var/lib/tracer-sensor"], ["tracer-spool", "/var/lib/tracer-sensor/spool"]]
    assert "tracer-spool" in doc["volumes"] and "tracer-state" in doc["volumes"]
    # a .env next to the file sets a variable; an empty value there means the default
    (tmp_path / ".env").write_text("AGENT_INTERFACE=eth7\nAGENT_SPOOL_DIR=\n")
    r = subprocess.run(base + ["-f", str(REPO / "docker-compose.yml"), "--project-directory", str(tmp_path),
                               "config"], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    e = yaml.safe_load(r.stdout)["services"]["tracer-sensor"]["environment"]
    assert e["AGENT_INTERFACE"] == "eth7" and e["AGENT_SPOOL_DIR"] == "/var/lib/tracer-sensor/spool"


# ----------------------------------------------------------------------------
# systemd unit template


def test_systemd_unit_reload_exit_statuses_and_paths():
    unit = (REPO / "packaging/tracer-sensor.service.in").read_text()
    lines = set(l.strip() for l in unit.splitlines() if l.strip() and not l.startswith("#"))
    for want in ("ExecReload=/bin/kill -HUP $MAINPID",   # SIGHUP reopens AGENT_LOG_FILE
                 "SuccessExitStatus=3",                  # stopped with events left in the spool
                 "RestartPreventExitStatus=2",           # configuration error
                 "Restart=on-failure",
                 "ProtectSystem=strict",
                 "StateDirectory=tracer-sensor",         # writable: the spool
                 "LogsDirectory=tracer-sensor"):         # writable: AGENT_LOG_FILE
        assert want in lines, want
    # what is not writable, and how to allow it, is said in the unit and the README
    assert "ReadWritePaths=" in unit
    readme = (REPO / "README.md").read_text()
    assert "/var/log/tracer-sensor" in readme and "ReadWritePaths=" in readme
    assert "systemctl reload tracer-sensor" in readme
    env = (REPO / "packaging/tracer-sensor.env").read_text()
    assert "/var/log/tracer-sensor/" in env


# ----------------------------------------------------------------------------
# make docker-check: present, not part of make test, and failing fast without an engine


def test_docker_check_target_and_script():
    mk = (REPO / "Makefile").read_text()
    assert re.search(r"^docker-check:", mk, re.M)
    test_rule = re.search(r"^test:.*?(?=^\S)", mk, re.M | re.S).group(0)
    assert "docker-check" not in test_rule
    script = REPO / "scripts/docker-check.sh"
    assert os.access(script, os.X_OK)
    if shutil.which("shellcheck"):
        r = subprocess.run(["shellcheck", "-x", str(script)], capture_output=True, text=True, cwd=REPO)
        assert r.returncode == 0, r.stdout + r.stderr


def test_docker_check_fails_fast_without_an_engine(tmp_path):
    """Pointed at a socket nobody serves, it stops at once with one clear line, exit 1."""
    if not shutil.which("docker"):
        pytest.skip("no docker client")
    env = {**os.environ, "DOCKER_HOST": "unix://%s/none.sock" % tmp_path}
    r = subprocess.run([str(REPO / "scripts/docker-check.sh")], env=env, capture_output=True, text=True,
                       timeout=120, cwd=REPO)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "docker-check: no Docker engine reachable" in r.stderr, r.stderr
    assert r.stdout == ""
    assert "docker build" not in r.stderr and "debootstrap" not in r.stderr   # nothing started first
