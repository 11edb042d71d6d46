/*
 * ping_stats.c — one round's loss, RTT statistics and jitter (see ping_stats.h).
 *
 * Jitter here is the simple form: the mean of |RTT(k) - RTT(k-1)| over
 * consecutive answered probes, in sending order (unanswered probes are
 * skipped, not counted as a difference). RFC 3550's interarrival jitter is a
 * running, smoothed estimate over a stream; one round of a few probes is too
 * short for its 1/16 gain to settle, so the plain mean is reported instead.
 */
#include "ping_stats.h"

#include <math.h>
#include <string.h>

void ping_stats_compute(const uint32_t *rtt_us, const bool *got, size_t n, struct ping_summary *out)
{
    memset(out, 0, sizeof *out);
    out->sent = (uint32_t)n;
    double sum = 0, prev = 0, diffs = 0;
    uint32_t ndiffs = 0;
    for (size_t i = 0; i < n; i++) {
        if (!got[i])
            continue;
        double ms = rtt_us[i] / 1000.0;
        if (out->received == 0 || ms < out->rtt_min)
            out->rtt_min = ms;
        if (out->received == 0 || ms > out->rtt_max)
            out->rtt_max = ms;
        if (out->received > 0) {
            diffs += fabs(ms - prev);
            ndiffs++;
        }
        prev = ms;
        sum += ms;
        out->received++;
    }
    out->loss = n ? (double)(n - out->received) / (double)n : 0;
    if (out->received == 0)
        return;
    out->rtt_avg = sum / out->received;
    double var = 0;
    for (size_t i = 0; i < n; i++)
        if (got[i]) {
            double d = rtt_us[i] / 1000.0 - out->rtt_avg;
            var += d * d;
        }
    out->rtt_stddev = sqrt(var / out->received);
    out->jitter = ndiffs ? diffs / ndiffs : 0;
}
