/*
 * hook.h — the one interface every extra event source implements.
 *
 * SNMP polling, the SNMP trap receiver, the host topology and later sources
 * are "hooks": each runs its own thread(s), builds its events as cJSON objects
 * (they are rare, so building JSON off the packet path is fine) and pushes them
 * into its own SPSC ring, which the sender drains like the flow rings (see
 * sender_add_json_ring). main's hook set (cmd/hook_set.c) creates the hooks the configuration asks for,
 * starts them after the sender, stops them before telling the sender to
 * finish, and asks each for its counters.
 */
#ifndef TRACER_HOOK_H
#define TRACER_HOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/ring.h"

struct cJSON;
struct config;

struct hook_ops {
    const char *name;                       /* "snmp", "trap", "topology", ... */
    /* Start the hook's thread(s); events go into `out` with hook_emit(). Main thread. */
    int  (*start)(void *self, ring *out, char *err, size_t errlen);
    /* Stop and join its threads; nothing is pushed to `out` after it returns. Main thread. */
    void (*stop)(void *self);
    /* Add the hook's counters to `into` (a cJSON object). Any thread. */
    void (*stats)(void *self, struct cJSON *into);
    /* Free everything; after stop (or instead of start). NULL-safe on self. */
    void (*destroy)(void *self);
    /*
     * Re-read the hook's target file (SIGHUP, POST /v1/reload) and apply added,
     * removed and changed targets while the hook runs; flows are not touched.
     * NULL when the hook has nothing to reload. Returns 0 when the new file is
     * applied (err holds a one-line summary, e.g. "2 added, 1 removed, 0 changed"),
     * -1 when the new file is invalid: the old targets stay and err names the
     * file, the target and the rule. Any thread but the hook's own; the hook
     * serialises concurrent calls itself.
     */
    int  (*reload)(void *self, const struct config *cfg, char *err, size_t errlen);
};

struct hook {
    const struct hook_ops *ops;
    void *self;
};

/*
 * Create a hook from the configuration. Returns 1 and fills *out when the
 * configuration asks for this hook, 0 when it does not (out untouched), -1 when
 * its settings are invalid (message in err naming the variable/file and the
 * rule: main exits with status 2), -2 on another failure (main exits 1).
 * Main thread, before any thread starts.
 */
typedef int (*hook_create_fn)(const struct config *cfg, struct hook *out, char *err, size_t errlen);

/* Slots in a hook's ring (sender_json_msg holds one cJSON pointer). */
#define HOOK_RING_SLOTS 4096u

/*
 * Push `obj` (ownership passes) into a hook's ring. When the ring is full the
 * object is freed and the drop counted by the ring (ring_drops); returns false.
 * The hook's producer thread only.
 */
bool hook_emit(ring *out, struct cJSON *obj);

/* A ring of hook events (one cJSON pointer a slot), as the sender drains them. NULL + message. */
ring *hook_ring_create(size_t slots, char *err, size_t errlen);

/* Pop and free every event left in `r` (NULL-safe); returns how many. Consumer side only. */
size_t hook_ring_discard(ring *r);

#endif
