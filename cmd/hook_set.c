/*
 * hook_set.c — the hooks this build knows and their lifecycle (see hook_set.h).
 */
#include "cmd/hook_set.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/snmp_jobs.h"
#include "common/log.h"
#include "config/config.h"
#include "hooks/ping/ping.h"
#include "hooks/snmp/snmp_poller.h"
#include "hooks/snmp/snmp_trap.h"
#include "hooks/topology/topology.h"

/* Every hook this build knows; each decides from the configuration whether it runs. */
static const hook_create_fn HOOK_CREATORS[] = {
    topology_hook_create,
    hook_snmp_poller_create,
    hook_snmp_trap_create,
    hook_snmp_jobs_create,          /* the control API's on-demand SNMP jobs (issue 17.1) */
    hook_ping_create,
};
#define MAX_HOOKS (sizeof HOOK_CREATORS / sizeof HOOK_CREATORS[0])

struct hook_slot {
    struct hook hook;
    ring *ring;
    bool started;
};

struct hook_set {
    struct hook_slot slots[MAX_HOOKS];
    size_t n;
    pthread_mutex_t reload_lock;    /* one reload at a time (signal loop, API thread) */
};

hook_set *hook_set_create(void)
{
    hook_set *hs = calloc(1, sizeof(hook_set));
    if (hs && pthread_mutex_init(&hs->reload_lock, NULL) != 0) {
        free(hs);
        return NULL;
    }
    return hs;
}

int hook_set_build(hook_set *hs, const struct config *cfg, sender *snd, char *err, size_t errlen)
{
    for (size_t i = 0; i < MAX_HOOKS; i++) {
        struct hook_slot *h = &hs->slots[hs->n];
        int rc = HOOK_CREATORS[i](cfg, &h->hook, err, errlen);
        if (rc < 0)
            return rc == -1 ? -1 : -2;
        if (rc == 0)
            continue;
        if (cfg->endpoint_url && !cfg->events_endpoint_url && !cfg->kafka_brokers && !cfg->stdout_also) {
            /* AGENT_ENDPOINT_URL takes flows only (go-Tracer's backend parses FlowEvents):
             * a hook whose events have nowhere to go does not run. */
            log_warn("hook %s not started: its events have nowhere to go (AGENT_ENDPOINT_URL receives flow "
                     "events only); set AGENT_EVENTS_ENDPOINT_URL to send them, or run without "
                     "AGENT_ENDPOINT_URL to print every event on stdout", h->hook.ops->name);
            h->hook.ops->destroy(h->hook.self);
            memset(h, 0, sizeof *h);
            continue;
        }
        hs->n++;
        h->ring = hook_ring_create(HOOK_RING_SLOTS, err, errlen);
        if (!h->ring || sender_add_json_ring(snd, h->ring, err, errlen) != 0)
            return -2;
    }
    return 0;
}

void hook_set_wire_topology(hook_set *hs, capture *cap, hostaddr_signal *sig)
{
    for (size_t i = 0; i < hs->n; i++) {
        ring *l2 = topology_hook_l2_ring(&hs->slots[i].hook);
        if (l2)
            capture_set_l2_ring(cap, l2);
        topology_hook_set_addr_signal(&hs->slots[i].hook, sig);
    }
}

int hook_set_start(hook_set *hs, char *err, size_t errlen)
{
    for (size_t i = 0; i < hs->n; i++) {
        struct hook_slot *h = &hs->slots[i];
        if (h->hook.ops->start(h->hook.self, h->ring, err, errlen) != 0)
            return -1;
        h->started = true;
        char msg[96];
        snprintf(msg, sizeof msg, "hook %s started", h->hook.ops->name);
        log_fields(LOG_INFO, msg, &LOG_STR("hook", h->hook.ops->name), 1);
    }
    return 0;
}

void hook_set_stop(hook_set *hs)
{
    for (size_t i = hs->n; i-- > 0;) {
        struct hook_slot *h = &hs->slots[i];
        if (h->started)
            h->hook.ops->stop(h->hook.self);
        h->started = false;
    }
}

size_t hook_set_count(const hook_set *hs) { return hs->n; }
const struct hook *hook_set_hook(const hook_set *hs, size_t i) { return &hs->slots[i].hook; }
const ring *hook_set_ring(const hook_set *hs, size_t i) { return hs->slots[i].ring; }

uint64_t hook_set_ring_drops(const hook_set *hs)
{
    uint64_t n = 0;
    for (size_t i = 0; i < hs->n; i++)
        n += ring_drops(hs->slots[i].ring);
    return n;
}

uint64_t hook_set_ring_count(const hook_set *hs)
{
    uint64_t n = 0;
    for (size_t i = 0; i < hs->n; i++)
        n += ring_count(hs->slots[i].ring);
    return n;
}

void hook_set_stats_json(const hook_set *hs, cJSON *into)
{
    for (size_t i = 0; i < hs->n; i++) {
        const struct hook *h = &hs->slots[i].hook;
        cJSON *o = cJSON_AddObjectToObject(into, h->ops->name);
        if (o)
            h->ops->stats(h->self, o);
    }
}

int hook_set_reload(hook_set *hs, const struct config *cfg)
{
    int refused = 0;
    pthread_mutex_lock(&hs->reload_lock);
    for (size_t i = 0; i < hs->n; i++) {
        const struct hook *h = &hs->slots[i].hook;
        if (!h->ops->reload)
            continue;
        char err[512] = "";
        if (h->ops->reload(h->self, cfg, err, sizeof err) == 0) {
            log_fields(LOG_INFO, "reload: targets applied", (struct log_field[]){
                LOG_STR("hook", h->ops->name), LOG_STR("result", err)}, 2);
        } else {
            refused++;
            log_fields(LOG_WARN, "reload: new targets refused, the old ones stay", (struct log_field[]){
                LOG_STR("hook", h->ops->name), LOG_STR("error", err)}, 2);
        }
    }
    pthread_mutex_unlock(&hs->reload_lock);
    return refused;
}

const struct hook *hook_set_find(const hook_set *hs, const char *name)
{
    for (size_t i = 0; i < hs->n; i++)
        if (strcmp(hs->slots[i].hook.ops->name, name) == 0)
            return &hs->slots[i].hook;
    return NULL;
}

unsigned hook_set_reloadable(const hook_set *hs)
{
    unsigned n = 0;
    for (size_t i = 0; i < hs->n; i++)
        n += hs->slots[i].hook.ops->reload != NULL;
    return n;
}

void hook_set_destroy(hook_set *hs)
{
    if (!hs)
        return;
    for (size_t i = 0; i < hs->n; i++) {
        hs->slots[i].hook.ops->destroy(hs->slots[i].hook.self);
        ring_destroy(hs->slots[i].ring);
    }
    pthread_mutex_destroy(&hs->reload_lock);
    free(hs);
}
