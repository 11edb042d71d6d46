/*
 * ping_stats.h — the numbers one round of probes to a target ends with.
 *
 * Separate from the hook so that the definitions (what loss, stddev and jitter
 * mean here, as the README documents them) are tested with exact values.
 */
#ifndef TRACER_PING_STATS_H
#define TRACER_PING_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ping_summary {
    uint32_t sent;         /* probes of the round (a probe whose send failed counts as sent and lost) */
    uint32_t received;     /* probes answered within their timeout */
    double loss;           /* (sent - received) / sent, a fraction in [0, 1]; 0 when sent == 0 */
    /* In milliseconds; valid only when received > 0 (jitter: received > 1). */
    double rtt_min, rtt_avg, rtt_max;
    double rtt_stddev;     /* population standard deviation of the RTTs (as ping(8)'s mdev) */
    double jitter;         /* mean absolute difference of consecutive answered probes' RTTs */
};

/*
 * Summarise one round: rtt_us[i] is probe i's round-trip time in µs and
 * counts only when got[i]; probes are in sending order (jitter follows it).
 * n: probes sent. Any thread; no allocation.
 */
void ping_stats_compute(const uint32_t *rtt_us, const bool *got, size_t n, struct ping_summary *out);

#endif
