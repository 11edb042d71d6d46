/*
 * sensor_stats.h — the periodic `type: "sensor"` event: every counter in one place.
 *
 * Nothing the sensor could not handle may go unseen, so main's reporter gathers
 * every stage's counters (capture and kernel drops, decode failures by reason, ring
 * drops, flow-table events, delivery: queued, sent, retried, spooled, replayed,
 * dropped by reason, HTTP status classes) every AGENT_STATS_INTERVAL and at
 * exit, and sends them through the same stream as the flows. Hooks add their
 * own counters under "hooks".
 */
#ifndef TRACER_SENSOR_STATS_H
#define TRACER_SENSOR_STATS_H

#include <stdint.h>

#include "capture/capture.h"
#include "cmd/stages.h"
#include "processor/processor.h"
#include "sender/sender.h"

struct cJSON;

struct sensor_counters {
    struct capture_stats capture;
    struct processor_stats processor;
    struct sender_stats sender;
    uint64_t uptime_s;
    bool final;                    /* the last one, at exit */
    bool loopback_twice;           /* capture.kernel_counts_loopback_twice: see sensor_loopback_twice */
};

/*
 * Whether the kernel's kernel_received counts loopback packets twice for this
 * capture: live on "lo" or "any". The kernel hands a packet socket each
 * loopback packet twice, as it leaves (PACKET_OUTGOING) and as it comes back
 * in, and counts both (PACKET_STATISTICS tp_packets); libpcap then discards
 * the outgoing copy in user space, so frames count it once. On lo,
 * kernel_received is about twice frames with nothing lost. Any thread.
 */
bool sensor_loopback_twice(const struct config *cfg);

/*
 * Build the event object (type "sensor"; the sender adds event_id,
 * schema_version, hostname, timestamp). Returns NULL when out of memory.
 */
struct cJSON *sensor_stats_json(const struct sensor_counters *c);

/*
 * Gather every stage's counters and every hook's (under "hooks") into a
 * `sensor` event. Returns NULL when out of memory. Any thread that may read
 * the stages (main's, in practice).
 */
struct cJSON *sensor_stats_gather(const struct stages *st, uint64_t uptime_s, bool final);

#endif
