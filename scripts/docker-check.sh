#!/usr/bin/env bash
# scripts/docker-check.sh — `make docker-check`: the image and compose file run
# for real on a Docker engine, as issue 18 did by hand. Not part of `make test`
# (the test machines have no engine); tests/e2e/test_ops.py checks the same
# files without one.
#
#   scripts/docker-check.sh                   every check below
#   scripts/docker-check.sh --base-rootfs DIR only make the Debian 12 root file
#                                             system the base image is imported
#                                             from (no engine needed)
#
# In order; each step prints "ok - ..." on stderr or stops with "FAIL - ...":
#  0. a Docker engine answers (`docker info`); else it stops at once, exit 1;
#  1. the base image: $DEBIAN_IMAGE if set; else debian:12-slim if present or
#     pullable; else one made here (debootstrap --variant=minbase bookworm into
#     a folder, then `docker import`), for hosts that reach Debian's mirror
#     ($DEBIAN_MIRROR) but no image registry;
#  2. docker build; canary .env, capture and NDJSON files in the context must
#     not reach the build stage (.dockerignore);
#  3. the image: --version runs, the user is tracer with uid/gid 10001, the
#     binary has file capabilities;
#  4. replay of a generated capture: stdout is NDJSON with the expected flow;
#  5. live capture on a veth pair (its peer in a namespace made here) with the
#     endpoint down and a spool volume: healthy; traffic; `docker stop` with
#     Docker's default 10 s: exit status 3 (spooled), not 137 (killed); the
#     volume holds the spool files, owned by uid 10001; a second container on
#     the same volume with a receiver up delivers them and exits 0;
#  6. AGENT_METRICS_ADDR empty: the container turns unhealthy;
#  7. a configuration error under --restart on-failure:5: exit status 2, five
#     restarts, then it stays stopped;
#  8. docker-compose.yml with Compose v1 (`docker-compose`) and v2 (`docker
#     compose`), each that is installed: up with the built image, restart
#     policy, spool volume used, healthy, down keeps the volume.
# Settings: DEBIAN_IMAGE (a base image to use as is), DEBIAN_MIRROR (for
# debootstrap), DOCKER_BUILD_ARGS (extra `docker build` options, e.g.
# "--network host"), DOCKER_HOST (the engine).
# Needs root (veth pairs, namespaces). What it made is removed at the end
# (containers, volumes, namespace, veth, canary files, the root file system);
# the images tracer-sensor:check, tracer-sensor:check-build and a made base
# image are kept, so a second run is quick.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
IMAGE=tracer-sensor:check
MADE_BASE=tracer-sensor-base:bookworm
UIDGID=10001
tag="dc$$"                    # names unique to this run
work=""
made=()                       # "kind name" of what cleanup removes
receiver_pid=""

say() { printf '%s\n' "$*" >&2; }
ok() { say "ok - $*"; }
die() { say "FAIL - $*"; exit 1; }

# --base-rootfs DIR: a minimal Debian 12 in DIR, apt lists removed (what `docker import` takes).
make_rootfs() {
    local dir=$1
    command -v debootstrap >/dev/null || "$REPO/scripts/install-deps.sh" --docker
    say "docker-check: debootstrap bookworm into $dir from $MIRROR"
    debootstrap --variant=minbase bookworm "$dir" "$MIRROR" >&2
    chroot "$dir" apt-get clean
    rm -rf "$dir"/var/lib/apt/lists/*
}

if [ "${1:-}" = --base-rootfs ]; then
    [ $# -eq 2 ] || { say "usage: $0 [--base-rootfs DIR]"; exit 2; }
    [ "$(id -u)" -eq 0 ] || { say "docker-check: debootstrap needs root"; exit 1; }
    make_rootfs "$2"
    say "docker-check: import it with: tar --numeric-owner -C $2 -c . | docker import - $MADE_BASE"
    exit 0
fi
[ $# -eq 0 ] || { say "usage: $0 [--base-rootfs DIR]"; exit 2; }

# ---- 0. an engine, root ----------------------------------------------------------
command -v docker >/dev/null || { say "docker-check: no docker client: install docker.io (Debian) or docker-ce"; exit 1; }
if ! server=$(docker info --format '{{.ServerVersion}}' 2>&1) || [ -z "$server" ] \
        || ! [[ "$server" =~ ^[0-9] ]]; then
    say "docker-check: no Docker engine reachable (${DOCKER_HOST:-unix:///var/run/docker.sock}): $(printf '%s' "$server" | tail -n 1)"
    say "docker-check: start one (systemctl start docker) or set DOCKER_HOST; nothing was built or run"
    exit 1
fi
[ "$(id -u)" -eq 0 ] || { say "docker-check: needs root (veth pairs and a network namespace)"; exit 1; }
"$REPO/scripts/install-deps.sh" --docker
ok "Docker engine $server"

cleanup() {
    local rc=$? kind name
    set +e
    [ -n "$receiver_pid" ] && kill "$receiver_pid" 2>/dev/null && wait "$receiver_pid" 2>/dev/null
    for ((i = ${#made[@]} - 1; i >= 0; i--)); do
        kind=${made[$i]%% *}
        name=${made[$i]#* }
        case $kind in
            container) docker rm -f "$name" >/dev/null 2>&1 ;;
            volume) docker volume rm -f "$name" >/dev/null 2>&1 ;;
            compose) eval "$name" >/dev/null 2>&1 ;;
            netns) ip netns del "$name" 2>/dev/null ;;
            link) ip link del "$name" 2>/dev/null ;;
            file) rm -f "$REPO/$name" ;;
        esac
    done
    [ -n "$work" ] && rm -rf "$work"
    if [ $rc -eq 0 ]; then say "docker-check: all checks passed"; else say "docker-check: failed (exit $rc)"; fi
}
trap cleanup EXIT
work=$(mktemp -d /tmp/docker-check.XXXXXX)
chmod 0755 "$work"

# wait_for SECONDS WHAT COMMAND...: run COMMAND every 0.5 s until it succeeds.
wait_for() {
    local secs=$1 what=$2 end
    shift 2
    end=$((SECONDS + secs))
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt $end ] || return 1
        sleep 0.5
    done
    say "     ($what)"
}
state() { docker inspect -f "$2" "$1" 2>/dev/null; }
is_health() { [ "$(state "$1" '{{.State.Health.Status}}')" = "$2" ]; }
is_exited() { [ "$(state "$1" '{{.State.Status}}')" = exited ]; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
show_logs() { say "---- docker logs $1 (last 40 lines)"; docker logs --tail 40 "$1" >&2 2>&1 || true; }

# ---- 1. base image -----------------------------------------------------------------
base=${DEBIAN_IMAGE:-}
if [ -z "$base" ]; then
    if docker image inspect debian:12-slim >/dev/null 2>&1; then
        base=debian:12-slim
    elif timeout 180 docker pull -q debian:12-slim >/dev/null 2>&1; then
        base=debian:12-slim
    else
        base=$MADE_BASE
        if ! docker image inspect "$base" >/dev/null 2>&1; then
            say "docker-check: no registry gave debian:12-slim: making $base locally"
            make_rootfs "$work/rootfs"
            tar --numeric-owner -C "$work/rootfs" -c . | docker import -c 'CMD ["/bin/bash"]' - "$base" >/dev/null
            rm -rf "$work/rootfs"
        fi
    fi
fi
ok "base image $base"

# ---- 2. build; the context keeps settings, captures and output out ------------------------
cd "$REPO"
if [ ! -e .env ]; then
    printf 'AGENT_AUTH_TOKEN=docker-check-canary\n' > .env
    made+=("file .env")
fi
for f in docker-check-canary.pcap docker-check-canary.pcapng docker-check-canary.ndjson; do
    printf 'canary\n' > "$f"
    made+=("file $f")
done
# DOCKER_BUILD_ARGS: e.g. "--network host" where the build's RUN steps reach the mirror only that way
read -r -a bargs <<< "${DOCKER_BUILD_ARGS:-}"
docker build "${bargs[@]}" --build-arg DEBIAN_IMAGE="$base" --target build -t "$IMAGE-build" . >&2 \
    || die "docker build (build stage)"
docker build "${bargs[@]}" --build-arg DEBIAN_IMAGE="$base" -t "$IMAGE" . >&2 || die "docker build"
leaked=$(docker run --rm --entrypoint sh "$IMAGE-build" -c \
    'cd /src && ls -A | grep -E "^\.env|\.(pcap|pcapng|ndjson)$" || true')
[ -z "$leaked" ] || die "in the build stage's /src, despite .dockerignore: $leaked"
ok "image $IMAGE built; .env, captures and NDJSON stayed out of the build context"

# ---- 3. the image -------------------------------------------------------------------
caps=(--cap-add NET_RAW --cap-add NET_ADMIN)
ver=$(docker run --rm "${caps[@]}" "$IMAGE" --version) || die "--version"
[[ "$ver" == "tracer-sensor $(cat VERSION)" ]] || die "--version printed: $ver"
who=$(docker run --rm --entrypoint id "$IMAGE")
[ "$who" = "uid=$UIDGID(tracer) gid=$UIDGID(tracer) groups=$UIDGID(tracer)" ] || die "image user: $who"
fcaps=$(docker run --rm --entrypoint getcap "$IMAGE" /usr/local/bin/tracer-sensor)
[[ "$fcaps" == *cap_net_raw* ]] || die "file capabilities: '$fcaps'"
ok "$ver, runs as $who, $fcaps"

# ---- 4. replay ------------------------------------------------------------------------
python3 tests/e2e/pcapgen.py udp "$work/udp.pcap" >/dev/null
chmod 0644 "$work/udp.pcap"
rc=0
docker run --rm "${caps[@]}" -v "$work/udp.pcap:/data/udp.pcap:ro" -e AGENT_PCAP_FILE=/data/udp.pcap \
    -e AGENT_METRICS_ADDR= -e AGENT_TOPOLOGY_INTERVAL=0 "$IMAGE" > "$work/replay.ndjson" 2> "$work/replay.log" \
    || rc=$?
[ "$rc" = 0 ] || { cat "$work/replay.log" >&2; die "replay: exit status $rc"; }
python3 - "$work/replay.ndjson" <<'EOF' || die "replay output"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert recs and all(isinstance(r, dict) for r in recs), "not NDJSON"
flows = [r for r in recs if r.get("type") == "flow"]
assert flows and all(r["protocol"] == "UDP" for r in flows), flows
EOF
ok "replay: $(grep -c '"type":"flow"' "$work/replay.ndjson") flow record(s), stdout pure NDJSON"

# ---- 5. live, endpoint down, spool volume; docker stop; replay from the volume ---------------
ns="${tag}n"; hx="${tag}x"; hy="${tag}y"
net="198.18.$((200 + $$ % 50))"
ip netns add "$ns"
made+=("netns $ns")
ip link add "$hx" type veth peer name "$hy" netns "$ns"
made+=("link $hx")
ip addr add "$net.1/24" dev "$hx"
ip link set "$hx" up
ip -n "$ns" addr add "$net.2/24" dev "$hy"
ip -n "$ns" link set "$hy" up
ip -n "$ns" link set lo up
send_udp() {   # three datagrams from the namespace to the host end, to port $1
    ip netns exec "$ns" python3 -c "import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(3): s.sendto(b'x', ('$net.1', $1))"
}
vol="${tag}-spool"
docker volume create "$vol" >/dev/null
made+=("volume $vol")
mport=$(free_port)
dead=$(free_port)
live=(-d --network host "${caps[@]}" --health-interval 2s --health-start-period 0s --health-retries 1
      -e AGENT_INTERFACE="$hx" -e AGENT_TOPOLOGY_INTERVAL=0 -e AGENT_STATS_INTERVAL=0
      -e AGENT_SPOOL_DIR=/var/lib/tracer-sensor/spool -v "$vol:/var/lib/tracer-sensor/spool")
c1="${tag}-live"
made+=("container $c1")
docker run "${live[@]}" --name "$c1" -e AGENT_METRICS_ADDR="127.0.0.1:$mport" \
    -e AGENT_ENDPOINT_URL="http://127.0.0.1:$dead/flows" "$IMAGE" >/dev/null
wait_for 60 healthy is_health "$c1" healthy || { show_logs "$c1"; die "live container never healthy"; }
send_udp 6553
sleep 1
docker stop "$c1" >/dev/null          # Docker's default: SIGTERM, SIGKILL after 10 s
rc=$(state "$c1" '{{.State.ExitCode}}')
[ "$rc" = 3 ] || { show_logs "$c1"; die "docker stop with the endpoint down: exit status $rc, expected 3 (spooled)"; }
logs=$(docker logs "$c1" 2>&1)
grep -q 'msg=summary' <<< "$logs" || { show_logs "$c1"; die "no summary line"; }
ok "live on $hx: healthy; docker stop (10 s) with the endpoint down: exit 3, events spooled"
files=$(docker run --rm -v "$vol:/spool" --entrypoint sh "$IMAGE" -c \
    "find /spool -name '*.batch' -user $UIDGID | wc -l")
[ "$files" -ge 1 ] || die "no spool files owned by uid $UIDGID in the volume"
ok "spool volume: $files batch file(s), owned by uid $UIDGID"

rport=$(free_port)
python3 - "$rport" "$work/received" <<'EOF' &
import http.server, sys
out = open(sys.argv[2], "ab", buffering=0)
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        out.write(self.rfile.read(int(self.headers.get("Content-Length", 0))) + b"\n")
        self.send_response(200); self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
EOF
receiver_pid=$!
wait_for 30 "receiver up" curl -s -o /dev/null "http://127.0.0.1:$rport/" || die "the test receiver did not start"
c2="${tag}-replay"
made+=("container $c2")
docker run "${live[@]}" --name "$c2" -e AGENT_METRICS_ADDR="127.0.0.1:$mport" \
    -e AGENT_ENDPOINT_URL="http://127.0.0.1:$rport/flows" "$IMAGE" >/dev/null
wait_for 60 "spooled flow delivered" grep -q '"dst_port":"6553"' "$work/received" \
    || { show_logs "$c2"; die "the spooled flow was not delivered after a restart"; }
docker stop "$c2" >/dev/null
rc=$(state "$c2" '{{.State.ExitCode}}')
[ "$rc" = 0 ] || { show_logs "$c2"; die "second run: exit status $rc, expected 0"; }
left=$(docker run --rm -v "$vol:/spool" --entrypoint sh "$IMAGE" -c "find /spool -name '*.batch' | wc -l")
[ "$left" = 0 ] || die "$left spool file(s) left after delivery"
ok "restart on the same volume: spooled events delivered, spool empty, exit 0"

# ---- 6. metrics off: unhealthy --------------------------------------------------------------
c3="${tag}-nometrics"
made+=("container $c3")
docker run "${live[@]}" --name "$c3" -e AGENT_METRICS_ADDR= "$IMAGE" >/dev/null
wait_for 60 unhealthy is_health "$c3" unhealthy || { show_logs "$c3"; die "metrics off, but not unhealthy"; }
docker rm -f "$c3" >/dev/null
ok "AGENT_METRICS_ADDR empty: unhealthy"

# ---- 7. configuration error: exit 2, restarts stop ------------------------------------------------
c4="${tag}-badconf"
made+=("container $c4")
docker run -d --name "$c4" "${caps[@]}" --restart on-failure:5 -e AGENT_SNAP_LEN=abc "$IMAGE" >/dev/null
restarts_done() { is_exited "$c4" && [ "$(state "$c4" '{{.RestartCount}}')" = 5 ]; }
wait_for 120 "5 restarts" restarts_done || { show_logs "$c4"; die "on-failure:5 did not stop after 5 restarts"; }
rc=$(state "$c4" '{{.State.ExitCode}}')
[ "$rc" = 2 ] || die "configuration error: exit status $rc, expected 2"
logs=$(docker logs "$c4" 2>&1)
grep -q 'AGENT_SNAP_LEN=abc: must be an integer' <<< "$logs" || die "no configuration error line"
sleep 3
is_exited "$c4" || die "restarted again after the 5th failure"
ok "configuration error: exit 2, restarted 5 times, then stopped"

# ---- 8. compose, v1 and v2 -----------------------------------------------------------------
cat > "$work/override.yml" <<EOF
services:
  tracer-sensor:
    image: $IMAGE
    healthcheck:
      interval: 2s
      retries: 1
      start_period: 0s
EOF
composes=()
docker-compose version >/dev/null 2>&1 && composes+=("docker-compose")
docker compose version >/dev/null 2>&1 && composes+=("docker compose")
[ ${#composes[@]} -gt 0 ] || say "docker-check: neither docker-compose nor docker compose is installed: compose not checked"
n=0
for compose in "${composes[@]}"; do
    n=$((n + 1))
    proj="${tag}c$n"
    read -r -a cmd <<< "$compose"
    cmd+=(-p "$proj" -f "$REPO/docker-compose.yml" -f "$work/override.yml")
    made+=("compose ${cmd[*]} down -v")
    AGENT_INTERFACE="$hx" AGENT_METRICS_ADDR="127.0.0.1:$mport" AGENT_TOPOLOGY_INTERVAL=0 \
        "${cmd[@]}" up -d --no-build >&2 || die "$compose up"
    id=$("${cmd[@]}" ps -q tracer-sensor)
    [ -n "$id" ] || die "$compose: no container"
    wait_for 60 healthy is_health "$id" healthy || { show_logs "$id"; die "$compose: never healthy"; }
    pol=$(state "$id" '{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}')
    [ "$pol" = on-failure:5 ] || die "$compose: restart policy $pol"
    spool=$(docker exec "$id" sh -c 'echo "$AGENT_SPOOL_DIR"')
    [ "$spool" = /var/lib/tracer-sensor/spool ] || die "$compose: AGENT_SPOOL_DIR=$spool"
    mounts=$(state "$id" '{{range .Mounts}}{{.Name}}:{{.Destination}} {{end}}')
    [[ " $mounts" == *" ${proj}_tracer-spool:/var/lib/tracer-sensor/spool "* ]] \
        || die "$compose: spool volume not mounted: $mounts"
    AGENT_INTERFACE="$hx" "${cmd[@]}" down >&2 || die "$compose down"
    docker volume inspect "${proj}_tracer-spool" >/dev/null || die "$compose down removed the spool volume"
    ok "$compose: up, healthy, on-failure:5, spool in volume ${proj}_tracer-spool, kept by down"
done
