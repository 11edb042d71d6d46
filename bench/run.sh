#!/bin/bash
# bench/run.sh — `make bench`: the sensor against the floor and softflowd.
#
# Usage: bench/run.sh SENSOR_BINARY [WORKDIR]
#   BENCH_RUNS=5        runs of each program (alternating; the median is reported)
#   BENCH_LIVE=0        skip the live tcpreplay run (needs root and netns)
#   BENCH_MEM_FLOWS=1000000  flows of the memory trace
#   BENCH_ONLY=active   only the active-timeout order row (issue 13.3)
#   BENCH_ONLY=sender   only the sender rows (arrays, one object per POST, the POST floor)
#   BENCH_ONLY=ipfix    only the IPFIX / NetFlow v9 encoding row (issue 16)
#   BENCH_ONLY=kafka    only the Kafka rows (issue 16)
#   BENCH_ONLY=outputs  only the HTTP + Kafka + IPFIX together row (issue 16.3), main trace
#   BENCH_KAFKA_FLOWS=1000000  events of the Kafka rows
#   BENCH_ONLY=groups   only the floor, the defaults, the baseline, nDPI alone (bench/ndpi_floor.c)
#                       and one run per group (issues 14, 15)
#   BENCH_BASELINE=BIN  an older sensor binary run beside the defaults (`make bench` builds
#                       BENCH_BASE_REF, the sensor before this round's decoding work)
#   BENCH_KAFKA_BASELINE=BINARY  Kafka rows: also run this sensor build, alternating (e.g. the previous commit)
#
# Steps: build the generator, the floor loop and the receiver (cc); generate the
# 3.5M-packet trace and its truth (payloads start with what real clients and
# servers of each port send: TLS hellos, HTTP, SSH, SMTP, DNS, NTP, QUIC and
# IKE/ESP shapes, so nDPI names flows after their first packets as on real
# traffic; see bench/gen.c), or reuse it when its stamp (trace.pcap.gen, the
# SHA-256 of gen.c) says the same gen.c wrote it, as for every cached trace
# here; warm the page cache; run, alternating, the
# bare pcap_next_ex loop, the sensor to NDJSON on /dev/null, the sensor POSTing
# to the loopback receiver and softflowd -r; check the sensor's flows against
# the truth (NDJSON and HTTP); memory per flow with 1M concurrent flows and the
# max-flows cap; sender events/s; the live run on a veth pair in a namespace;
# the active-timeout order row: the same 680,000 packets in a benign and in a
# crafted order (long flows re-armed behind 40,000 newer ones), and the ratio.
# softflowd and tcpreplay come from Debian (apt-get) when missing.
set -euo pipefail

BIN=$(readlink -f "${1:?usage: bench/run.sh SENSOR_BINARY [WORKDIR]}")
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=${2:-$HERE/../build/benchdata}
RUNS=${BENCH_RUNS:-5}
MEMFLOWS=${BENCH_MEM_FLOWS:-1000000}
PY=/usr/bin/python3
mkdir -p "$WORK"
WORK=$(readlink -f "$WORK")
CC=${CC:-cc}

need_pkg() {   # need_pkg COMMAND PACKAGE
    command -v "$1" >/dev/null 2>&1 && return 0
    echo "bench: installing $2 (Debian)" >&2
    if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
    $SUDO apt-get install -y -q "$2" >/dev/null 2>&1 ||
        { $SUDO apt-get update -q >/dev/null 2>&1 && $SUDO apt-get install -y -q "$2" >/dev/null; }
    command -v "$1" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin
}
if [ "${BENCH_ONLY:-}" != active ] && [ "${BENCH_ONLY:-}" != kafka ] && [ "${BENCH_ONLY:-}" != groups ] &&
   [ "${BENCH_ONLY:-}" != ipfix ]; then
    need_pkg softflowd softflowd
    need_pkg tcpreplay tcpreplay
fi
SOFTFLOWD=$(command -v softflowd || echo /usr/sbin/softflowd)

$CC -O2 -Wall -std=c11 -D_DEFAULT_SOURCE -o "$WORK/gen" "$HERE/gen.c"
# Cached traces: each FILE has a stamp FILE.gen holding the SHA-256 of the
# gen.c that wrote it, so any change to the generator regenerates them (file
# times do not tell: a checkout or a merge gives gen.c any time).
GEN_SUM=$(sha256sum "$HERE/gen.c" | cut -d' ' -f1)
# fresh FILE...: every FILE is there, non-empty, and written by this gen.c.
fresh() { local f; for f in "$@"; do [ -s "$f" ] && [ "$(cat "$f.gen" 2>/dev/null)" = "$GEN_SUM" ] || return 1; done; }
# gen_to FILE GEN_ARGS...: run the generator, then stamp FILE.
gen_to() { local f=$1; shift; rm -f "$f.gen"; "$WORK/gen" "$@" || return 1; echo "$GEN_SUM" > "$f.gen"; }
$CC -O2 -Wall -o "$WORK/pcapread" "$HERE/pcapread.c" -lpcap
# nDPI alone (the DPI rows' floor, issue 15): libndpi-dev is a build dependency of the sensor
$CC -O2 -Wall -std=c11 -o "$WORK/ndpi_floor" "$HERE/ndpi_floor.c" $(pkg-config --cflags --libs libndpi libpcap)
$CC -O2 -Wall -pthread -o "$WORK/recv" "$HERE/recv.c"
$CC -O2 -Wall -pthread -o "$WORK/postfloor" "$HERE/postfloor.c"

# timed OUTFILE CMD...: runs CMD, prints "seconds maxrss_kb" into OUTFILE.
timed() { local o=$1; shift; /usr/bin/time -f "%e %M" -o "$o" "$@"; }
# recv_start [ARGS...]: the loopback receiver (bench/recv.c) in the background, its summary
# into $WORK/recv.out; sets RECV_PID and waits (at most 5 s) for its port in $WORK/port.
recv_start() {
    rm -f "$WORK/port"
    "$WORK/recv" "$@" "$WORK/port" > "$WORK/recv.out" &
    RECV_PID=$!
    for _ in $(seq 100); do [ -s "$WORK/port" ] && break; sleep 0.05; done
}
recv_stop() { kill -TERM "$RECV_PID"; wait "$RECV_PID" || true; }

# ---- the sender rows: events/s to the loopback receiver --------------------
# Sender: every one of the 1M flows becomes an event at the end of the file;
# POSTed to the receiver, once as arrays of 1000 (AGENT_HTTP_BODY=array) and
# once one object per POST (go-Tracer's body, the default), over the default
# pool of kept-alive connections. events/s = events / wall time.
# sender_run NAME [VAR=VALUE...]: sets SND_EVENTS_<NAME>, SND_RATE_<NAME>, SND_ALONE_<NAME>, SND_SPAN_<NAME>,
# SND_CPU_<NAME> (the sensor's user+sys CPU-us per event, the whole run) and
# SND_RCPU_<NAME> (the receiver's CPU-us per request).
sender_run() {
    local name=$1; shift
    recv_start
    /usr/bin/time -f "%e %M %U %S" -o "$WORK/t" "${SENSOR_ENV[@]}" "$@" AGENT_MAX_FLOWS=$((MEMFLOWS * 2)) \
        AGENT_EVENT_RING_SLOTS=65536 AGENT_ENDPOINT_URL="http://127.0.0.1:$(cat "$WORK/port")/ingest" \
        "$BIN" --pcap-file "$M" > /dev/null
    recv_stop
    local ev secs span after
    ev=$(cut -d' ' -f1 "$WORK/recv.out"); secs=$(cut -d' ' -f1 "$WORK/t")
    # The sender alone: the flows all end when the file does, so from the first
    # POST to the last the sender is serializing and POSTing and nothing else is
    # reading; the receiver times that span (events after the first POST / span).
    span=$(cut -d' ' -f4 "$WORK/recv.out"); after=$(cut -d' ' -f5 "$WORK/recv.out")
    printf -v "SND_EVENTS_$name" '%s' "$ev"
    printf -v "SND_SECS_$name" '%s' "$secs"
    printf -v "SND_SPAN_$name" '%s' "$span"
    printf -v "SND_RATE_$name" '%s' "$(awk -v e="$ev" -v s="$secs" 'BEGIN{printf "%.0f", e/s}')"
    printf -v "SND_ALONE_$name" '%s' "$(awk -v e="$after" -v s="$span" 'BEGIN{printf "%.0f", (s > 0 ? e / s : 0)}')"
    printf -v "SND_CPU_$name" '%s' "$(awk -v e="$ev" '{printf "%.1f (user %.1f, sys %.1f)", ($3 + $4) * 1e6 / e, $3 * 1e6 / e, $4 * 1e6 / e}' "$WORK/t")"
    printf -v "SND_RCPU_$name" '%s' "$(awk '{printf "%.1f (user %.1f, sys %.1f)", ($6 + $7) * 1e6 / $2, $6 * 1e6 / $2, $7 * 1e6 / $2}' "$WORK/recv.out")"
}
# postfloor_run NAME ARGS...: a raw-socket client POSTing the same-sized object
# to the same receiver (bench/postfloor.c): what any HTTP/1.1 client could reach
# here. Sets FLOOR_<NAME> to "requests/s, client CPU-us/request, receiver CPU-us/request".
postfloor_run() {
    local name=$1; shift
    recv_start
    "$WORK/postfloor" "$@" "$(cat "$WORK/port")" > "$WORK/floor.out"
    recv_stop
    printf -v "FLOOR_$name" '%s' "$(paste -d' ' "$WORK/floor.out" "$WORK/recv.out" | \
        awk '{printf "%.0f requests/s, client %.1f CPU-us/request, receiver %.1f", $3, ($4 + $5) * 1e6 / $1, ($11 + $12) * 1e6 / $7}')"
}
run_sender_rows() {
    M="$WORK/mem.pcap"
    fresh "$M" || gen_to "$M" -c -f "$MEMFLOWS" "$M" "$WORK/mem.tsv"
    cat "$M" > /dev/null
    sender_run ARRAY AGENT_HTTP_BODY=array AGENT_BATCH_SIZE=1000
    sender_run OBJECT AGENT_HTTP_BODY=object
    postfloor_run SEQ -c 8 -n 400000
    postfloor_run PIPE -c 8 -p 16 -n 400000
    local target=100000
    SENDER_ROWS="sender, arrays of 1000: $SND_EVENTS_ARRAY events POSTed: sender alone $SND_ALONE_ARRAY events/s (first to last POST, $SND_SPAN_ARRAY s); whole run incl. reading the file $SND_SECS_ARRAY s: $SND_RATE_ARRAY events/s; sensor CPU-us/event (whole run) $SND_CPU_ARRAY
sender, one object per POST (go-Tracer's body, AGENT_HTTP_CONNECTIONS=8): $SND_EVENTS_OBJECT events POSTed: sender alone $SND_ALONE_OBJECT events/s (first to last POST, $SND_SPAN_OBJECT s; $(awk -v a="$SND_ALONE_OBJECT" -v t=$target 'BEGIN{printf "%.2f", a / t}') x the $target target); whole run incl. reading the file $SND_SECS_OBJECT s: $SND_RATE_OBJECT events/s; sensor CPU-us/event (whole run) $SND_CPU_OBJECT; receiver CPU-us/request $SND_RCPU_OBJECT
objects / arrays (sender alone): $(awk -v a="$SND_ALONE_OBJECT" -v b="$SND_ALONE_ARRAY" 'BEGIN{printf "%.3f", (b > 0 ? a / b : 0)}')
POST floor, raw sockets, 8 connections, one request per round trip (bench/postfloor.c): $FLOOR_SEQ
POST floor, raw sockets, 8 connections, 16 requests pipelined per round trip: $FLOOR_PIPE"
}


# ---- active-timeout order (issue 13.3): crafted vs benign, same packets ----
run_active_order() {
    local o
    for o in benign crafted; do
        fresh "$WORK/active-$o.pcap" || gen_to "$WORK/active-$o.pcap" -a "$o" "$WORK/active-$o.pcap"
        cat "$WORK/active-$o.pcap" > /dev/null
    done
    local ab="" ac="" i
    for i in $(seq "$RUNS"); do
        timed "$WORK/t" env LOG_LEVEL=warn AGENT_TOPOLOGY_INTERVAL=0 "$BIN" --pcap-file "$WORK/active-benign.pcap" > /dev/null
        ab+="$(cut -d' ' -f1 "$WORK/t") "
        timed "$WORK/t" env LOG_LEVEL=warn AGENT_TOPOLOGY_INTERVAL=0 "$BIN" --pcap-file "$WORK/active-crafted.pcap" > /dev/null
        ac+="$(cut -d' ' -f1 "$WORK/t") "
    done
    local mb mc
    mb=$(echo "$ab" | tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END{print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}')
    mc=$(echo "$ac" | tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END{print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}')
    ACTIVE_ROW="active-timeout order (680,000 packets, 40,000 long flows re-armed behind 40,000 new ones): benign $mb s, crafted $mc s, crafted/benign $(awk -v c="$mc" -v b="$mb" 'BEGIN{printf "%.2f", (b > 0 ? c / b : 0)}') (median of $RUNS; runs benign ${ab}| crafted ${ac})"
}
if [ "${BENCH_ONLY:-}" = active ]; then
    run_active_order
    echo "$ACTIVE_ROW"
    exit 0
fi
if [ "${BENCH_ONLY:-}" = sender ]; then
    SENSOR_ENV=(env LOG_LEVEL=warn AGENT_TOPOLOGY_INTERVAL=0)
    echo "bench: sender rows only; load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
    run_sender_rows
    echo "$SENDER_ROWS"
    echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
    exit 0
fi

# ---- IPFIX / NetFlow v9 encoding (issue 16): records/s on one core ----------
run_ipfix_encoding() {
    local lib i out r="" v="" rw="" vw=""
    lib="$(dirname "$BIN")/libtracer.a"
    $CC -O2 -Wall -std=c11 -D_POSIX_C_SOURCE=200809L -I"$HERE/.." $(pkg-config --cflags libfixbuf) \
        -o "$WORK/ipfix_enc" "$HERE/ipfix_enc.c" "$lib" $(pkg-config --libs libfixbuf libcrypto nettle) -pthread
    for i in $(seq "$RUNS"); do
        out=$("$WORK/ipfix_enc" 2000000)
        r+="$(echo "$out" | awk '{print $2}') "
        rw+="$(echo "$out" | awk '{print $4}') "
        v+="$(echo "$out" | awk '{print $7}') "
        vw+="$(echo "$out" | awk '{print $9}') "
    done
    local mr mv mrw mvw
    mr=$(echo "$r" | tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END{print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}')
    mv=$(echo "$v" | tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END{print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}')
    mrw=$(echo "$rw" | tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END{print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}')
    mvw=$(echo "$vw" | tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END{print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}')
    IPFIX_ROW="IPFIX encoding (libfixbuf, biflow records with Community ID): $mr records/s per CPU-second, $mrw records/s wall; NetFlow v9 encoding (two records per flow): $mv flows/s per CPU-second, $mvw wall (one thread, 2,000,000 varied flows, median of $RUNS; runs ipfix CPU ${r}| wall ${rw}| v9 CPU ${v}| wall ${vw}; load average $(cut -d' ' -f1 /proc/loadavg))"
}
if [ "${BENCH_ONLY:-}" = ipfix ]; then
    run_ipfix_encoding
    echo "$IPFIX_ROW"
    exit 0
fi

# ---- Kafka (issue 16): every event to librdkafka's 3-broker mock cluster ----
# A file of BENCH_KAFKA_FLOWS flows that all end at the end of the file, so
# from the first offer to the last acknowledgement the sender and the producer
# do nothing but serialize, produce and wait for acks=all (the sensor's
# "kafka: done" line times that span). Topic tracer.flows with 12 partitions,
# lz4 (the default), idempotent. Alternating, per run, each against a fresh
# cluster:
#   floor   bench/kafka_floor: a bare librdkafka producer of the sensor's own
#           NDJSON lines with the sensor's settings (nothing else to do): the
#           ceiling of any producer here, like the HTTP rows' raw-socket floor;
#   output  bench/kafka_out: the sensor's Kafka output alone (offer, accounting);
#   sensor  the whole sensor; its Kafka CPU-us/event is its user+sys minus the
#           same file's NDJSON-to-/dev/null run's, per event;
#   base    with BENCH_KAFKA_BASELINE=BINARY, the same sensor run of another build;
#   all     Kafka + HTTP arrays of 1000 + stdout on together (issue 16.3):
#           events/s and the events each output got.
# (The packets/s of HTTP + Kafka + IPFIX together against the floor is the
# "outputs" row, on the main trace: BENCH_ONLY=outputs.)
# The mock cluster runs in its own process; its CPU is not in any row's.
kafka_tools() {
    # shellcheck disable=SC2046
    $CC -O2 -Wall -o "$WORK/kafka_mock" "$HERE/../tests/tools/kafka_mock.c" $(pkg-config --cflags --libs rdkafka)
}
kmock_start() {   # sets KBOOT; the cluster is the coprocess MOCK
    coproc MOCK { "$WORK/kafka_mock" 3 2>/dev/null; }
    local ans
    read -r _ KBOOT <&"${MOCK[0]}"
    echo "topic tracer.flows 12" >&"${MOCK[1]}"; read -r ans <&"${MOCK[0]}"
}
kmock_stop() { echo quit >&"${MOCK[1]}"; wait "$MOCK_PID" 2>/dev/null || true; }
# kafka_sensor BINARY LOG: the sensor to the cluster; prints "acked span_s user_s sys_s wall_s"
kafka_sensor() {
    kmock_start
    /usr/bin/time -f "%e %M %U %S" -o "$WORK/t" "${KENV[@]}" AGENT_KAFKA_BROKERS="$KBOOT" "$1" --pcap-file "$KF" \
        > /dev/null 2> "$2"
    kmock_stop
    local line acked span
    line=$(grep -o 'kafka: done: [^"]*' "$2" || true)
    acked=$(echo "$line" | sed -n 's/.* \([0-9]*\) acknowledged.*/\1/p')
    span=$(echo "$line" | sed -n 's/.*; \([0-9.]*\) s from the first offer.*/\1/p')
    [ "${acked:-0}" -ge "$KN" ] || echo "bench: kafka $1: acknowledged ${acked:-?} of $KN: $line" >&2
    echo "${acked:-0} ${span:-0} $(cut -d' ' -f3,4,1 "$WORK/t" | awk '{print $2, $3, $1}')"
}
# ndjson_cpu BINARY: user+sys seconds of the same file as NDJSON to /dev/null
ndjson_cpu() {
    /usr/bin/time -f "%U %S" -o "$WORK/t" "${SENSOR_ENV[@]}" AGENT_MAX_FLOWS=$((KN * 2)) \
        AGENT_EVENT_RING_SLOTS=65536 "$1" --pcap-file "$KF" > /dev/null 2>/dev/null
    awk '{print $1 + $2}' "$WORK/t"
}
kmed() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END{print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }
run_kafka() {
    local n=${BENCH_KAFKA_FLOWS:-1000000} f="$WORK/kafka.pcap" lib
    KN=$n; KF=$f
    fresh "$f" || gen_to "$f" -c -f "$n" "$f" "$WORK/kafka.tsv"
    cat "$f" > /dev/null
    lib="$(dirname "$BIN")/libtracer.a"
    kafka_tools
    # shellcheck disable=SC2046
    $CC -O2 -Wall -std=c11 -o "$WORK/kafka_floor" "$HERE/kafka_floor.c" $(pkg-config --cflags --libs rdkafka)
    # shellcheck disable=SC2046
    $CC -O2 -Wall -std=c11 -D_POSIX_C_SOURCE=200809L -I"$HERE/.." -o "$WORK/kafka_out" "$HERE/kafka_out.c" "$lib" \
        $(pkg-config --libs rdkafka libcjson libcrypto nettle) -pthread
    # The floor's and the output's messages: the sensor's own flow events of a small file like this one.
    "$WORK/gen" -c -f 4096 "$WORK/kafka-sample.pcap" "$WORK/kafka-sample.tsv" > /dev/null
    "${SENSOR_ENV[@]}" "$BIN" --pcap-file "$WORK/kafka-sample.pcap" | grep '"type":"flow"' > "$WORK/kafka-sample.ndjson"
    KENV=("${SENSOR_ENV[@]}" LOG_LEVEL=info AGENT_MAX_FLOWS=$((n * 2)) AGENT_EVENT_RING_SLOTS=65536
          AGENT_STATS_INTERVAL=0 AGENT_KAFKA_QUEUE_MAX_EVENTS=2000000)
    local i o fr="" fc="" orr="" oc="" sr="" sc="" sw="" br="" bc="" nc="" all=""
    for i in $(seq "$RUNS"); do
        kmock_start
        o=$("$WORK/kafka_floor" "$KBOOT" tracer.flows "$n" "$WORK/kafka-sample.ndjson" || true)
        kmock_stop
        fr+="$(echo "$o" | awk '{print $5}') "; fc+="$(echo "$o" | awk -v n="$n" '{printf "%.2f", ($7 + $9) * 1e6 / n}') "
        kmock_start
        o=$("$WORK/kafka_out" "$KBOOT" tracer.flows "$n" "$WORK/kafka-sample.ndjson" || true)
        kmock_stop
        orr+="$(echo "$o" | awk '{print $5}') "; oc+="$(echo "$o" | awk -v n="$n" '{printf "%.2f", ($7 + $9) * 1e6 / n}') "
        local ndcpu; ndcpu=$(ndjson_cpu "$BIN"); nc+="$ndcpu "
        o=$(kafka_sensor "$BIN" "$WORK/kafka.log")
        sr+="$(echo "$o" | awk '{printf "%.0f", ($2 > 0 ? $1 / $2 : 0)}') "; sw+="$(echo "$o" | awk '{print $5}') "
        sc+="$(echo "$o" | awk -v n="$n" -v nd="$ndcpu" '{printf "%.2f", ($3 + $4 - nd) * 1e6 / n}') "
        if [ -n "${BENCH_KAFKA_BASELINE:-}" ]; then
            ndcpu=$(ndjson_cpu "$BENCH_KAFKA_BASELINE")
            o=$(kafka_sensor "$BENCH_KAFKA_BASELINE" "$WORK/kafka-base.log")
            br+="$(echo "$o" | awk '{printf "%.0f", ($2 > 0 ? $1 / $2 : 0)}') "
            bc+="$(echo "$o" | awk -v n="$n" -v nd="$ndcpu" '{printf "%.2f", ($3 + $4 - nd) * 1e6 / n}') "
        fi
        # Kafka, HTTP and stdout together: each output gets every event.
        kmock_start
        recv_start
        timed "$WORK/t" "${KENV[@]}" AGENT_KAFKA_BROKERS="$KBOOT" AGENT_STDOUT=on AGENT_HTTP_BODY=array \
            AGENT_BATCH_SIZE=1000 AGENT_ENDPOINT_URL="http://127.0.0.1:$(cat "$WORK/port")/ingest" \
            "$BIN" --pcap-file "$f" > /dev/null 2> "$WORK/kafka-all.log"
        recv_stop
        kmock_stop
        local acked; acked=$(grep -o 'kafka: done: [^"]*' "$WORK/kafka-all.log" | sed -n 's/.* \([0-9]*\) acknowledged.*/\1/p')
        all+="$(awk -v e="$n" -v s="$(cut -d' ' -f1 "$WORK/t")" 'BEGIN{printf "%.0f", e / s}') (http $(cut -d' ' -f1 "$WORK/recv.out"), kafka ${acked:-?}); "
        echo "bench: kafka run $i done" >&2
    done
    local mf ms
    mf=$(echo "$fr" | kmed); ms=$(echo "$sr" | kmed)
    KAFKA_ROW="kafka floor, bare librdkafka producer (bench/kafka_floor.c, the sensor's settings and NDJSON lines): median $mf msgs/s, $(echo "$fc" | kmed) CPU-us/msg (runs: $fr; CPU-us: $fc)
kafka output alone (bench/kafka_out.c: kafka_output_offer as the sender calls it): median $(echo "$orr" | kmed) events/s, $(echo "$oc" | kmed) CPU-us/event (runs: $orr; CPU-us: $oc)
kafka, whole sensor (3-broker librdkafka mock cluster, 12 partitions, lz4, idempotent, acks=all): $n events, first offer to last ack: median $ms events/s = $(awk -v a="$ms" -v b="$mf" 'BEGIN{printf "%.2f", (b > 0 ? a / b : 0)}') x the floor; Kafka's CPU-us/event (sensor user+sys minus the NDJSON run's) median $(echo "$sc" | kmed) (runs: $sr; CPU-us: $sc; whole runs s: $sw; NDJSON run CPU s: $nc)"
    if [ -n "${BENCH_KAFKA_BASELINE:-}" ]; then
        KAFKA_ROW+="
kafka, baseline $BENCH_KAFKA_BASELINE (alternating with the above): median $(echo "$br" | kmed) events/s, Kafka's CPU-us/event $(echo "$bc" | kmed) (runs: $br; CPU-us: $bc)"
    fi
    KAFKA_ROW+="
kafka + HTTP arrays of 1000 + stdout (/dev/null) together, whole run events/s (events each output got): $all
load average $(cut -d' ' -f1-3 /proc/loadavg)"
}
if [ "${BENCH_ONLY:-}" = kafka ]; then
    SENSOR_ENV=(env LOG_LEVEL=warn AGENT_TOPOLOGY_INTERVAL=0)
    run_kafka
    echo "$KAFKA_ROW"
    exit 0
fi

T="$WORK/trace.pcap"
fresh "$T" && [ -s "$WORK/truth.tsv" ] || gen_to "$T" "$T" "$WORK/truth.tsv"
NPKT=3500000
cat "$T" > /dev/null                      # into the page cache

# Quiet sensor: no topology hook, warnings only.
SENSOR_ENV=(env LOG_LEVEL=warn AGENT_TOPOLOGY_INTERVAL=0)

# ---- several outputs at once (issue 16.3) on the main trace ----------------
# HTTP arrays to the loopback receiver, Kafka to the mock cluster and IPFIX
# over UDP to a loopback sink, all on, against the pcap_next_ex floor and the
# NDJSON run of the same trace, alternating (the target: >= 0.5 x the floor).
run_outputs() {
    kafka_tools
    local i o up fl="" nd="" al="" got=""
    for i in $(seq "$RUNS"); do
        timed "$WORK/t" "$WORK/pcapread" "$T" > /dev/null; fl+="$(cut -d' ' -f1 "$WORK/t") "
        timed "$WORK/t" "${SENSOR_ENV[@]}" "$BIN" --pcap-file "$T" > /dev/null; nd+="$(cut -d' ' -f1 "$WORK/t") "
        kmock_start
        rm -f "$WORK/uport"
        recv_start
        $PY -c 'import socket, signal, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
s.bind(("127.0.0.1", 0))
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
n = 0
signal.signal(signal.SIGTERM, lambda *a: (print(n), sys.exit(0)))
while True:
    s.recv(65536)
    n += 1' "$WORK/uport" > "$WORK/udp.out" &
        up=$!
        for _ in $(seq 100); do [ -s "$WORK/uport" ] && break; sleep 0.05; done
        timed "$WORK/t" "${SENSOR_ENV[@]}" LOG_LEVEL=info AGENT_STATS_INTERVAL=0 AGENT_KAFKA_BROKERS="$KBOOT" \
            AGENT_KAFKA_QUEUE_MAX_EVENTS=1000000 AGENT_HTTP_BODY=array \
            AGENT_ENDPOINT_URL="http://127.0.0.1:$(cat "$WORK/port")/ingest" \
            AGENT_IPFIX_COLLECTOR="udp://127.0.0.1:$(cat "$WORK/uport")" \
            "$BIN" --pcap-file "$T" > /dev/null 2> "$WORK/outputs.log"
        al+="$(cut -d' ' -f1 "$WORK/t") "
        kill -TERM "$RECV_PID" $up; wait "$RECV_PID" $up 2>/dev/null || true
        kmock_stop
        o=$(grep -o 'kafka: done: [^"]*' "$WORK/outputs.log" | sed -n 's/.* \([0-9]*\) acknowledged.*/\1/p')
        got="http $(cut -d' ' -f1 "$WORK/recv.out"), kafka ${o:-?}, ipfix datagrams $(cat "$WORK/udp.out" 2>/dev/null || echo ?)"
        echo "bench: outputs run $i done" >&2
    done
    local f n a
    f=$(echo "$fl" | kmed); n=$(echo "$nd" | kmed); a=$(echo "$al" | kmed)
    OUTPUTS_ROW="HTTP arrays + Kafka + IPFIX/UDP together, $NPKT packets: $(awk -v n=$NPKT -v s="$a" 'BEGIN{printf "%.2f", n/s/1e6}') M packets/s = $(awk -v f="$f" -v a="$a" 'BEGIN{printf "%.2f", f/a}') x the pcap_next_ex floor ($(awk -v n=$NPKT -v s="$f" 'BEGIN{printf "%.2f", n/s/1e6}') M); NDJSON alone $(awk -v f="$f" -v a="$n" 'BEGIN{printf "%.2f", f/a}') x (median of $RUNS; runs s: floor ${fl}| ndjson ${nd}| all ${al}; last run's events: $got; load average $(cut -d' ' -f1-3 /proc/loadavg))"
}
if [ "${BENCH_ONLY:-}" = outputs ]; then
    run_outputs
    echo "$OUTPUTS_ROW"
    exit 0
fi


declare -A SECS RSS
add() { SECS[$1]+="$2 "; RSS[$1]+="$3 "; }

run_floor() {
    timed "$WORK/t" "$WORK/pcapread" "$T" > /dev/null
    add floor $(cat "$WORK/t")
}
run_floor_buf() {   # the floor reading through a 256 KiB stdio buffer (how the sensor read files before its block reader)
    timed "$WORK/t" "$WORK/pcapread" -b 262144 "$T" > /dev/null
    add floorbuf $(cat "$WORK/t")
}
run_ndjson() {
    timed "$WORK/t" "${SENSOR_ENV[@]}" "$BIN" --pcap-file "$T" > "$WORK/out.ndjson"
    add ndjson $(cat "$WORK/t")
}
run_http() {
    recv_start -o "$WORK/out.http"
    timed "$WORK/t" "${SENSOR_ENV[@]}" AGENT_HTTP_BODY=array \
        AGENT_ENDPOINT_URL="http://127.0.0.1:$(cat "$WORK/port")/ingest" "$BIN" --pcap-file "$T" > /dev/null
    recv_stop
    add http $(cat "$WORK/t")
    HTTP_EVENTS=$(cut -d' ' -f1 "$WORK/recv.out")
}
run_softflowd() {
    # No control socket (-c none): with one, softflowd was seen blocking in
    # accept() after EOF when started from a script.
    timed "$WORK/t" timeout 300 "$SOFTFLOWD" -d -r "$T" -m 1000000 -6 -T vlan -p "$WORK/sf.pid" \
        -c none -n 127.0.0.1:9995 > /dev/null 2>&1 < /dev/null
    add softflowd $(cat "$WORK/t")
}

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END{print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }
maxof() { tr ' ' '\n' | grep -v '^$' | sort -g | tail -1; }

# The per-group rows (issues 14, 15): the same NDJSON run with one group
# changed from its default. AGENT_DPI and AGENT_FLOW_STATS are off by default,
# AGENT_TCP_HEALTH and AGENT_DECAP on; "all" turns every group on.
# Baseline (BENCH_BASELINE=BINARY, `make bench` builds it from BENCH_BASE_REF):
# the sensor before this round's decoding work, on the same trace, alternating.
# One line a group: NAME|ENVIRONMENT|ROW LABEL.
GROUP_TABLE=(
    "dpi|AGENT_DPI=on|application identification (nDPI), AGENT_DPI=on"
    "stats|AGENT_FLOW_STATS=on AGENT_EARLY_PACKETS=0|flow statistics, AGENT_FLOW_STATS=on, AGENT_EARLY_PACKETS=0"
    "early|AGENT_FLOW_STATS=on AGENT_EARLY_PACKETS=8|flow statistics and the first 8 packets, AGENT_FLOW_STATS=on"
    "health|AGENT_TCP_HEALTH=off|TCP health off, AGENT_TCP_HEALTH=off (on by default)"
    "nodecap|AGENT_DECAP=off|tunnel decapsulation off, AGENT_DECAP=off (on by default)"
    "all|AGENT_DPI=on AGENT_FLOW_STATS=on AGENT_EARLY_PACKETS=8 AGENT_TCP_HEALTH=on AGENT_DECAP=on|every group on (DPI, statistics, first 8 packets, TCP health, decap)"
)
GROUP_NAMES=()
declare -A GROUP_ENV GROUP_LABEL
for _group in "${GROUP_TABLE[@]}"; do
    IFS='|' read -r _name _env _label <<< "$_group"
    GROUP_NAMES+=("$_name"); GROUP_ENV[$_name]=$_env; GROUP_LABEL[$_name]=$_label
done
unset _group _name _env _label
run_group() {   # run_group NAME
    # shellcheck disable=SC2086
    timed "$WORK/t" "${SENSOR_ENV[@]}" ${GROUP_ENV[$1]} "$BIN" --pcap-file "$T" > "$WORK/out.$1.ndjson"
    add "g_$1" $(cat "$WORK/t")
}
run_baseline() {
    [ -n "${BENCH_BASELINE:-}" ] || return 0
    timed "$WORK/t" "${SENSOR_ENV[@]}" "$BENCH_BASELINE" --pcap-file "$T" > "$WORK/out.base.ndjson"
    add base $(cat "$WORK/t")
}
# group_pct A B: the median time of runs A against that of runs B (SECS keys), "+12.3%".
group_pct() {
    awk -v a="$(echo "${SECS[$1]}" | median)" -v b="$(echo "${SECS[$2]}" | median)" 'BEGIN{printf "%+.1f%%", (a/b-1)*100}'
}
# group_row LABEL KEY [COST]: one line for the runs KEY: packets/s, peak RSS, x floor, then COST.
group_row() {
    local f s
    f=$(echo "${SECS[floor]}" | median); s=$(echo "${SECS[$2]}" | median)
    echo "| $1 | $(awk -v n=$NPKT -v s="$s" 'BEGIN{printf "%.2f", n/s/1e6}') M | $(( $(echo "${RSS[$2]}" | maxof) / 1024 )) MiB | $(awk -v a="$f" -v b="$s" 'BEGIN{printf "%.2f", a/b}') x floor |${3:+ $3} |"
}
# One line per group: packets/s, peak RSS, x floor, time against the default run.
group_rows() {
    local g
    group_row "sensor, defaults (AGENT_DPI=off, AGENT_FLOW_STATS=off, TCP health and decap on)" ndjson
    if [ -n "${BENCH_BASELINE:-}" ]; then
        group_row "baseline: ${BENCH_BASELINE_LABEL:-$BENCH_BASELINE}, defaults" base \
            "defaults vs baseline $(group_pct ndjson base) time"
    fi
    for g in "${GROUP_NAMES[@]}"; do
        group_row "group: ${GROUP_LABEL[$g]}" "g_$g" "$(group_pct "g_$g" ndjson) time vs defaults"
    done
    group_row "nDPI alone (bench/ndpi_floor.c, one thread, no sensor)" ndpifloor \
        "$(group_pct ndpifloor ndjson) time vs defaults"
    echo "nDPI alone, last run: $(cat "$WORK/ndpi_floor.out")"
    echo "runs (s): floor ${SECS[floor]}| defaults ${SECS[ndjson]}| baseline ${SECS[base]:-}| ndpi alone ${SECS[ndpifloor]}$(for g in "${GROUP_NAMES[@]}"; do printf '| %s %s' "$g" "${SECS[g_$g]}"; done)"
}
# nDPI alone on the same trace (bench/ndpi_floor.c: one thread, the sensor's feeding
# rules, nothing else): what any nDPI-based sensor pays here before doing anything of
# its own. Its last output line (flows, detected, CPU) goes under the table.
run_ndpi_floor() {
    timed "$WORK/t" "$WORK/ndpi_floor" "$T" > "$WORK/ndpi_floor.out"
    add ndpifloor $(cat "$WORK/t")
}
run_groups() { local g; run_baseline; run_ndpi_floor; for g in "${GROUP_NAMES[@]}"; do run_group "$g"; done; }
if [ "${BENCH_ONLY:-}" = groups ]; then
    echo "bench: $RUNS alternating runs of the floor, the defaults, the baseline and each group; load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
    for i in $(seq "$RUNS"); do
        run_floor; run_ndjson; run_groups
        echo "bench: run $i done" >&2
    done
    echo "| program | packets/s | peak RSS | vs floor | cost |"
    echo "|---|---|---|---|---|"
    group_rows
    echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
    exit 0
fi

echo "bench: $RUNS alternating runs of each (trace: $NPKT packets, 300000 flows); load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for i in $(seq "$RUNS"); do
    run_floor; run_ndjson; run_http; run_softflowd; run_floor_buf; run_groups
    echo "bench: run $i done" >&2
done

pps() { awk -v n=$NPKT -v s="$1" 'BEGIN{printf "%.2f", n/s/1e6}'; }

echo "== truth check (last NDJSON run, last HTTP run)"
TRUTH_ND=$($PY "$HERE/check.py" "$WORK/truth.tsv" "$WORK/out.ndjson" || true)
TRUTH_HTTP=$($PY "$HERE/check.py" "$WORK/truth.tsv" "$WORK/out.http" || true)
echo "ndjson: $TRUTH_ND"
echo "http:   $TRUTH_HTTP (receiver counted $HTTP_EVENTS events)"

# ---- memory per flow, the cap, sender events/s ------------------------------
M="$WORK/mem.pcap"
fresh "$M" || gen_to "$M" -c -f "$MEMFLOWS" "$M" "$WORK/mem.tsv"
M2="$WORK/mem2.pcap"
fresh "$M2" || gen_to "$M2" -c -f $((MEMFLOWS * 2)) "$M2" "$WORK/mem2.tsv"
B="$WORK/base.pcap"
fresh "$B" || gen_to "$B" -c -f 1000 "$B" "$WORK/base.tsv"
cat "$M" "$M2" > /dev/null
timed "$WORK/t" "${SENSOR_ENV[@]}" "$BIN" --pcap-file "$B" > /dev/null
BASE_KB=$(cut -d' ' -f2 "$WORK/t")
timed "$WORK/t" "${SENSOR_ENV[@]}" AGENT_MAX_FLOWS=$((MEMFLOWS * 2)) "$BIN" --pcap-file "$M" > /dev/null
MEM_KB=$(cut -d' ' -f2 "$WORK/t")
PER_FLOW=$(awk -v b="$BASE_KB" -v m="$MEM_KB" -v n="$MEMFLOWS" 'BEGIN{printf "%.0f", (m-b)*1024/n}')
ALL_IN=$(awk -v m="$MEM_KB" -v n="$MEMFLOWS" 'BEGIN{printf "%.0f", m*1024/n}')
CAP=$((MEMFLOWS / 10))
timed "$WORK/t" "${SENSOR_ENV[@]}" AGENT_MAX_FLOWS=$CAP "$BIN" --pcap-file "$M" > /dev/null
CAP1_KB=$(cut -d' ' -f2 "$WORK/t")
timed "$WORK/t" "${SENSOR_ENV[@]}" AGENT_MAX_FLOWS=$CAP "$BIN" --pcap-file "$M2" > /dev/null
CAP2_KB=$(cut -d' ' -f2 "$WORK/t")

run_sender_rows

# ---- live: tcpreplay --topspeed onto a veth pair in a namespace ------------
LIVE="skipped"
if [ "${BENCH_LIVE:-1}" = 1 ] && [ "$(id -u)" = 0 ] && command -v ip >/dev/null; then
    NS=tsbench$$
    cleanup() { ip netns del "$NS" 2>/dev/null || true; }
    trap cleanup EXIT
    ip netns add "$NS"
    ip -n "$NS" link add tsb-tx type veth peer name tsb-rx
    # No IPv6 on the pair: its neighbour discovery and router solicitations
    # would be captured as flows that are not in the trace.
    ip netns exec "$NS" sysctl -q -w net.ipv6.conf.tsb-tx.disable_ipv6=1 net.ipv6.conf.tsb-rx.disable_ipv6=1 || true
    ip -n "$NS" link set tsb-tx mtu 9000 up
    ip -n "$NS" link set tsb-rx mtu 9000 up
    ip netns exec "$NS" "${SENSOR_ENV[@]}" LOG_LEVEL=info AGENT_INTERFACE=tsb-rx AGENT_PCAP_BUFFER_MB=512 \
        AGENT_PACKET_RING_SLOTS=1048576 "$BIN" > "$WORK/live.ndjson" 2> "$WORK/live.err" &
    SP=$!
    sleep 1.5
    ip netns exec "$NS" tcpreplay --topspeed -i tsb-tx "$T" > "$WORK/tcpreplay.out" 2>&1 || true
    sleep 1
    kill -INT $SP; wait $SP || true
    RATE=$(grep -o 'Rated: [0-9.]* Bps, [0-9.]* Mbps, [0-9.]* pps' "$WORK/tcpreplay.out" | awk '{print $6}')
    SENT=$(grep -o 'Successful packets: *[0-9]*' "$WORK/tcpreplay.out" | awk '{print $3}')
    KR=$(grep -o 'kernel_received=[0-9]*' "$WORK/live.err" | tail -1 | cut -d= -f2)
    KD=$(grep -o 'kernel_dropped=[0-9]*' "$WORK/live.err" | tail -1 | cut -d= -f2)
    ID=$(grep -o 'interface_dropped=[0-9]*' "$WORK/live.err" | tail -1 | cut -d= -f2)
    RD=$(grep -o 'packet_ring_drops=[0-9]*' "$WORK/live.err" | tail -1 | cut -d= -f2)
    LIVE_TRUTH=$($PY "$HERE/check.py" --live "$WORK/truth.tsv" "$WORK/live.ndjson" || true)
    LIVE="tcpreplay ${RATE:-?} pps (${SENT:-?} sent); pcap_stats received=${KR:-?} kernel_dropped=${KD:-?} if_dropped=${ID:-?}; ring_drops=${RD:-?}; $LIVE_TRUTH"
    cleanup
    trap - EXIT
fi

# ---- the table ------------------------------------------------------------
F=$(echo "${SECS[floor]}" | median); N=$(echo "${SECS[ndjson]}" | median)
H=$(echo "${SECS[http]}" | median); S=$(echo "${SECS[softflowd]}" | median)
FB=$(echo "${SECS[floorbuf]}" | median)
echo
echo "## Results ($(nproc) cores, $RUNS runs each, median; trace $NPKT packets, 300,000 flows, $(du -m "$T" | cut -f1) MB)"
echo
echo "| program | packets/s | peak RSS | vs floor | vs softflowd |"
echo "|---|---|---|---|---|"
row() { echo "| $1 | $(pps "$2") M | $(( $3 / 1024 )) MiB | $(awk -v a="$F" -v b="$2" 'BEGIN{printf "%.2f", a/b}') | $(awk -v a="$S" -v b="$2" 'BEGIN{printf "%.2f", a/b}') |"; }
row "bare libpcap pcap_next_ex loop (floor)" "$F" "$(echo "${RSS[floor]}" | maxof)"
row "tracer-sensor, every flow as NDJSON to /dev/null" "$N" "$(echo "${RSS[ndjson]}" | maxof)"
row "tracer-sensor, POSTing batches to a loopback receiver" "$H" "$(echo "${RSS[http]}" | maxof)"
row "softflowd -r (Debian 1.1.0, -m 1000000)" "$S" "$(echo "${RSS[softflowd]}" | maxof)"
row "floor with a 256 KiB stdio buffer (pcapread -b)" "$FB" "$(echo "${RSS[floorbuf]}" | maxof)"
echo
echo "| program | packets/s | peak RSS | vs floor | cost |"
echo "|---|---|---|---|---|"
group_rows
echo
echo "sensor vs the buffered floor: ndjson $(awk -v a="$FB" -v b="$N" 'BEGIN{printf "%.2f", a/b}'), http $(awk -v a="$FB" -v b="$H" 'BEGIN{printf "%.2f", a/b}')"
echo "runs (s): floor ${SECS[floor]}| ndjson ${SECS[ndjson]}| http ${SECS[http]}| softflowd ${SECS[softflowd]}| floor-buffered ${SECS[floorbuf]}"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "truth: ndjson: $TRUTH_ND; http: $TRUTH_HTTP"
echo "memory: $MEMFLOWS concurrent flows: peak RSS $((MEM_KB / 1024)) MiB, $PER_FLOW bytes/flow above the idle sensor ($((BASE_KB / 1024)) MiB), $ALL_IN bytes/flow all in"
echo "max-flows cap $CAP: peak RSS $((CAP1_KB / 1024)) MiB with $MEMFLOWS flows, $((CAP2_KB / 1024)) MiB with $((MEMFLOWS * 2)) flows"
echo "$SENDER_ROWS"
echo "live: $LIVE"
run_active_order
echo "$ACTIVE_ROW"
run_ipfix_encoding
echo "$IPFIX_ROW"
run_kafka
echo "$KAFKA_ROW"
run_outputs
echo "$OUTPUTS_ROW"
