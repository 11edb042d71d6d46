/*
 * sensor_identity.h — which sensor_id this run carries, and the line that says so.
 *
 * Both the sensor and its one-shot modes (--once) stamp their events with the
 * same id, read or made once at start-up (common/identity.h) while the
 * process still has the rights to its state directory.
 */
#ifndef TRACER_SENSOR_IDENTITY_H
#define TRACER_SENSOR_IDENTITY_H

#include <stddef.h>

struct config;

/*
 * AGENT_SENSOR_ID, or the id kept in AGENT_STATE_DIR (made at the first start),
 * into out (>= IDENTITY_MAX + 1 bytes); logs where it came from (a warning
 * when it cannot be kept). Returns 0, or -1 with "AGENT_STATE_DIR=...: why" in
 * err (a configuration error: exit 2). Main thread, before privileges drop.
 */
int sensor_identity_setup(const struct config *cfg, char *out, size_t outlen, char *err, size_t errlen);

#endif
