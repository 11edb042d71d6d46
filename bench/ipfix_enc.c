/*
 * ipfix_enc.c — `make bench` row for the IPFIX / NetFlow v9 encoder (issue
 * 16): records per second through ipfix_encoder_add/take on one core, the
 * work the output's thread does per flow record (libfixbuf transcoding, the
 * Community ID's SHA-1, message handling), without the socket.
 *
 * Usage: ipfix_enc [RECORDS]   (default 2,000,000; varied IPv4/IPv6, TCP/UDP/ICMP)
 * Prints: "ipfix C records/s W records/s netflow9 C records/s W records/s":
 * C per second of the thread's CPU time (CLOCK_THREAD_CPUTIME_ID), i.e. what
 * one core sustains, and W per second of wall time (CLOCK_MONOTONIC), i.e.
 * what it got on this machine as loaded as it was (a shared machine's wall
 * rate mostly measures the others).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sender/ipfix_encode.h"

/* CPU time of this thread (the encoder's cost per record, whatever else the
 * machine runs), or wall time. */
static double now_s(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct rates { double cpu, wall; };

static struct rates run(enum ipfix_enc_protocol p, const struct flow_event *evs, size_t nev, size_t n)
{
    char err[256];
    struct ipfix_enc_opts o = {.protocol = p, .max_message = 1400};
    ipfix_encoder *e = ipfix_encoder_create(&o, err, sizeof err);
    if (!e) {
        fprintf(stderr, "ipfix_enc: %s\n", err);
        exit(1);
    }
    const uint8_t *m;
    size_t bytes = 0, bad = 0;
    double t0 = now_s(CLOCK_THREAD_CPUTIME_ID), w0 = now_s(CLOCK_MONOTONIC);
    for (size_t i = 0; i < n; i++) {
        const struct flow_event *ev = &evs[i % nev];
        enum ipfix_enc_status st = ipfix_encoder_add(e, ev, 1700000000u);
        if (st == IPFIX_ENC_FULL) {
            bytes += ipfix_encoder_take(e, &m);
            st = ipfix_encoder_add(e, ev, 1700000000u);
        }
        bad += st != IPFIX_ENC_OK;
    }
    bytes += ipfix_encoder_take(e, &m);
    double dt = now_s(CLOCK_THREAD_CPUTIME_ID) - t0, dw = now_s(CLOCK_MONOTONIC) - w0;
    ipfix_encoder_destroy(e);
    if (bad || bytes == 0) {
        fprintf(stderr, "ipfix_enc: %zu records refused\n", bad);
        exit(1);
    }
    return (struct rates){(double)n / dt, (double)n / dw};
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 2000000u;
    enum { NEV = 4096 };
    static struct flow_event evs[NEV];
    for (size_t i = 0; i < NEV; i++) {
        struct flow_event *ev = &evs[i];
        memset(ev, 0, sizeof *ev);
        ev->first_us = 1700000000000000ull + i * 1000u;
        ev->last_us = ev->first_us + 250000u + i;
        ev->src_packets = 3 + i % 17;
        ev->src_bytes = ev->src_packets * 400u;
        ev->dst_packets = i % 5 ? 2 + i % 9 : 0;
        ev->dst_bytes = ev->dst_packets * 900u;
        ev->ip_version = i % 4 ? 4 : 6;
        ev->src_ip[0] = ev->ip_version == 4 ? 10 : 0x20;
        ev->src_ip[1] = ev->ip_version == 4 ? 0 : 0x01;
        ev->src_ip[2] = (uint8_t)(i >> 8);
        ev->src_ip[3] = (uint8_t)i;
        ev->dst_ip[0] = ev->ip_version == 4 ? 192 : 0x20;
        ev->dst_ip[3] = (uint8_t)(i * 7);
        ev->protocol = i % 10 == 0 ? (ev->ip_version == 4 ? 1 : 58) : i % 3 ? 6 : 17;
        if (ev->protocol == 1 || ev->protocol == 58) {
            ev->has_icmp = 1;
            ev->icmp_type = ev->protocol == 1 ? 8 : 128;
        } else {
            ev->src_port = (uint16_t)(32768 + i);
            ev->dst_port = i % 2 ? 443 : 53;
        }
        ev->src_tcp_flags = ev->protocol == 6 ? 0x1b : 0;
        ev->dst_tcp_flags = ev->protocol == 6 ? 0x1b : 0;
        ev->end_reason = (uint8_t)(i % FLOW_END_COUNT);
        ev->final = 1;
    }
    struct rates ipfix = run(IPFIX_ENC_IPFIX, evs, NEV, n);
    struct rates v9 = run(IPFIX_ENC_NETFLOW9, evs, NEV, n);
    printf("ipfix %.0f records/s %.0f records/s netflow9 %.0f records/s %.0f records/s\n", ipfix.cpu, ipfix.wall,
           v9.cpu, v9.wall);
    return 0;
}
