/*
 * hook_set.h — the hooks this build knows, and their lifecycle as one unit.
 *
 * Every hook (hooks/hook.h) is created from the configuration, gets its own
 * ring that the sender drains, starts after the sender runs, stops before the
 * sender is told to finish, and reports its counters under "hooks" in the
 * `sensor` event. Adding a hook is one line in the table in hook_set.c.
 * Main thread, except where a function says "any thread".
 */
#ifndef TRACER_HOOK_SET_H
#define TRACER_HOOK_SET_H

#include <stddef.h>
#include <stdint.h>

#include "capture/capture.h"
#include "common/hostaddr.h"
#include "common/ring.h"
#include "hooks/hook.h"
#include "sender/sender.h"

struct cJSON;
struct config;

typedef struct hook_set hook_set;

/* An empty set. Returns NULL when out of memory. */
hook_set *hook_set_create(void);

/*
 * Create every hook the configuration asks for, each with a ring attached to
 * `snd`. Returns 0; -1 when a hook's settings are invalid (message in err:
 * exit status 2); -2 on another failure. Either way destroy the set after
 * the sender (the sender holds the rings until then).
 */
int hook_set_build(hook_set *hs, const struct config *cfg, sender *snd, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* The topology hook decodes LLDP/CDP frames the capture copies to it, and tells the sender when the
 * host's addresses change. Before any thread starts. */
void hook_set_wire_topology(hook_set *hs, capture *cap, hostaddr_signal *sig);

/* Start every hook (the sender runs). Returns 0, or -1 with a message. */
int hook_set_start(hook_set *hs, char *err, size_t errlen) __attribute__((warn_unused_result));

/* Stop the started hooks, newest first; nothing is pushed to their rings after. */
void hook_set_stop(hook_set *hs);

/* How many hooks, the i-th hook and its ring (i < count). Any thread. */
size_t hook_set_count(const hook_set *hs);
const struct hook *hook_set_hook(const hook_set *hs, size_t i);
const ring *hook_set_ring(const hook_set *hs, size_t i);

/* Sum of drops / of events waiting, over every hook ring. Any thread. */
uint64_t hook_set_ring_drops(const hook_set *hs);
uint64_t hook_set_ring_count(const hook_set *hs);

/* Each hook's counters as an object named for it, added to `into`. Any thread. */
void hook_set_stats_json(const hook_set *hs, struct cJSON *into);

/*
 * Reload every hook that has a reload operation (SIGHUP, POST /v1/reload),
 * with the configuration the sensor started with. Each hook's outcome is
 * logged (applied: its summary; invalid: why, the old targets kept). Returns
 * how many hooks refused their new file (0 = all applied). Any thread but a
 * hook's own; calls are serialised inside the set.
 */
int hook_set_reload(hook_set *hs, const struct config *cfg);

/* The hook called `name` ("snmp", "snmp_jobs", ...), or NULL when it does not run. Any thread. */
const struct hook *hook_set_find(const hook_set *hs, const char *name);

/* How many hooks have a reload operation (what POST /v1/reload reports). Any thread. */
unsigned hook_set_reloadable(const hook_set *hs);

/* Destroy every hook and its ring; after sender_destroy. NULL-safe. */
void hook_set_destroy(hook_set *hs);

#endif
