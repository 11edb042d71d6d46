#!/usr/bin/env bash
# Soak test: does the sensor hold steady for a long live run?
#
# The sensor captures live on one end of a veth pair in a network namespace
# this script creates, while tcpreplay replays a generated trace in a loop into
# the other end for SOAK_SECONDS (default 600). Resident memory is sampled every
# 10 s; after the warm-up (the first fifth of the run) it must stay within 5 %
# of its value at the end of the warm-up. Then a shorter live run under
# Valgrind memcheck (SOAK_VG_SECONDS, default 30) must report no leak.
#   tests/soak.sh BINARY            (root; used by `make soak`, not by `make test`)
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${1:?usage: tests/soak.sh BINARY}
SECS=${SOAK_SECONDS:-600}
VG_SECS=${SOAK_VG_SECONDS:-30}
PY=/usr/bin/python3
[ "$(id -u)" -eq 0 ] || { echo "soak: needs root (network namespaces)" >&2; exit 2; }
command -v tcpreplay >/dev/null || { echo "soak: tcpreplay missing (apt-get install tcpreplay)" >&2; exit 2; }

ns=soak$$
tmp=$(mktemp -d)
cleanup() {
    [ -n "${replay_pid:-}" ] && kill "$replay_pid" 2>/dev/null || true
    [ -n "${sensor_pid:-}" ] && kill -9 "$sensor_pid" 2>/dev/null || true
    ip netns del "${ns}a" 2>/dev/null || true
    ip netns del "${ns}b" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

# Our own two test hosts; no traffic leaves them.
ip netns add "${ns}a"
ip netns add "${ns}b"
ip link add "${ns}x" netns "${ns}a" type veth peer name "${ns}y" netns "${ns}b"
ip -n "${ns}a" link set "${ns}x" up
ip -n "${ns}b" link set "${ns}y" up

# A trace with many short flows (they keep ending and starting as the loop replays).
"$PY" tests/e2e/pcapgen.py many_flows "$tmp/trace.pcap" >/dev/null

start_sensor() {   # $1: output file, rest: command prefix
    local out=$1; shift
    ip netns exec "${ns}a" env AGENT_INTERFACE="${ns}x" AGENT_UDP_IDLE_TIMEOUT=1 \
        AGENT_TCP_IDLE_TIMEOUT=1 AGENT_IDLE_TIMEOUT=1 AGENT_TOPOLOGY_INTERVAL=0 \
        AGENT_STATS_INTERVAL=10 "$@" "$BIN" >"$out" 2>"$out.err" &
    sensor_pid=$!
    sleep 2
}

replay() {
    ip netns exec "${ns}b" tcpreplay --quiet --intf1="${ns}y" --pps=20000 --loop=0 "$tmp/trace.pcap" \
        >/dev/null 2>&1 &
    replay_pid=$!
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# The sensor runs inside `ip netns exec` (and maybe env): find the real process.
sensor_proc() {
    local p=$sensor_pid
    for _ in 1 2 3; do
        local child
        child=$(pgrep -P "$p" | head -n1 || true)
        [ -z "$child" ] && break
        p=$child
    done
    echo "$p"
}

# 1. The long run.
start_sensor "$tmp/soak.ndjson"
replay
proc=$(sensor_proc)
warm=$(( (SECS / 5 + 9) / 10 * 10 ))   # the samples are 10 s apart
[ "$warm" -ge 10 ] || warm=10
samples=()
t=0
while [ "$t" -lt "$SECS" ]; do
    sleep 10
    t=$((t + 10))
    r=$(rss_kb "$proc")
    samples+=("$t:$r")
    echo "soak: t=${t}s rss=${r} kB"
    [ "$t" -le "$warm" ] && warm_rss=$r
done
kill "$replay_pid"; replay_pid=
kill -TERM "$sensor_pid"; wait "$sensor_pid" || true; sensor_pid=
max_after=0
for s in "${samples[@]}"; do
    ts=${s%%:*}; r=${s##*:}
    [ "$ts" -gt "$warm" ] && [ "$r" -gt "$max_after" ] && max_after=$r
done
flows=$(grep -c '"type":"flow"' "$tmp/soak.ndjson" || true)
summary=$(grep -o 'summary .*' "$tmp/soak.ndjson.err" | tail -n1)
echo "soak: ${SECS}s, rss at end of warm-up ${warm_rss} kB, max after ${max_after} kB, ${flows} flow records"
echo "soak: $summary"
limit=$((warm_rss + warm_rss / 20))
if [ "$max_after" -gt "$limit" ]; then
    echo "soak: FAIL: rss grew beyond 5% after warm-up (${max_after} > ${limit} kB)" >&2
    exit 1
fi

# 2. A shorter run under Valgrind memcheck.
start_sensor "$tmp/vg.ndjson" valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite \
    --error-exitcode=99 --log-file="$tmp/vg.log"
replay
sleep "$VG_SECS"
kill "$replay_pid"; replay_pid=
proc=$(sensor_proc)
kill -TERM "$proc" 2>/dev/null || true
rc=0
wait "$sensor_pid" || rc=$?
sensor_pid=
vflows=$(grep -c '"type":"flow"' "$tmp/vg.ndjson" || true)
echo "soak: valgrind run ${VG_SECS}s: exit ${rc}, ${vflows} flow records"
if [ "$rc" -eq 99 ] || grep -q "definitely lost: [1-9]" "$tmp/vg.log"; then
    cat "$tmp/vg.log" >&2
    echo "soak: FAIL: valgrind reports errors or leaks" >&2
    exit 1
fi
echo "soak: PASS"
