/*
 * control_api.h — main's wiring of the control API (issue 17.1, 17.5).
 *
 * Creates the SNMP concurrency limiter that the poller and the API's jobs
 * share (AGENT_SNMP_CONCURRENCY slots), hands it to both hooks, and runs the
 * API server (AGENT_API_ADDR) with the jobs hook and a reload callback that
 * calls hook_set_reload. Main thread.
 */
#ifndef TRACER_CONTROL_API_H
#define TRACER_CONTROL_API_H

#include <stddef.h>
#include <stdint.h>

#include "cmd/hook_set.h"

struct config;
typedef struct control_api control_api;

/* After hook_set_build. Returns the wiring (even when the API is off: the limiter), or NULL with a
 * message in err (bad address or certificate: exit 2). */
control_api *control_api_create(const struct config *cfg, hook_set *hs, char *err, size_t errlen);

/* After hook_set_start: listen. 0, or -1 with a message. */
int control_api_start(control_api *ca, char *err, size_t errlen) __attribute__((warn_unused_result));

/* The port the API listens on (0 when off). */
uint16_t control_api_port(const control_api *ca);

/* Before hook_set_stop: stop answering (no request runs after it returns). NULL-safe. */
void control_api_stop(control_api *ca);

/* After hook_set_stop (the limiter is still in use until then). NULL-safe. */
void control_api_destroy(control_api *ca);

#endif
