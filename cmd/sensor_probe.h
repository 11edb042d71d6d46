/*
 * sensor_probe.h — what the metrics server reads: the running sensor's stages.
 *
 * main owns the stages; the metrics server (common/metrics.h) owns no state.
 * This is the bridge: main fills a sensor_probe with pointers to its stages
 * and rings before the threads start, marks when the capture and sender
 * threads run, and hands sensor_probe_collect / sensor_probe_healthy to the
 * server as its callbacks. Both read only through the stages' "any thread"
 * accessors (relaxed counters; the processor takes its table lock briefly).
 */
#ifndef TRACER_SENSOR_PROBE_H
#define TRACER_SENSOR_PROBE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capture/capture.h"
#include "common/metrics.h"
#include "common/ring.h"
#include "cmd/hook_set.h"
#include "processor/processor.h"
#include "sender/sender.h"

struct sensor_probe {
    /* Set by main before any thread starts; read-only afterwards. */
    capture *cap;
    processor *proc;
    sender *snd;
    const hook_set *hooks;
    const ring *stats_ring;
    uint64_t started_us;                                  /* monotonic */
    /* Set by main's thread wrappers. */
    atomic_bool capture_running, sender_running;
};

/* metrics_source.collect: every counter into *out (zeroed by the caller). Any thread. */
void sensor_probe_collect(void *probe, struct metrics_snapshot *out);

/* metrics_source.healthy: both the capture and the sender thread run. Any thread. */
bool sensor_probe_healthy(void *probe, char *why, size_t whylen);

#endif
