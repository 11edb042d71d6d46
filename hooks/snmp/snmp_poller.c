/*
 * snmp_poller.c — the SNMP polling hook (see snmp_poller.h).
 *
 * Scheduling: one mutex + condition variable (CLOCK_MONOTONIC) guard a small
 * table of per-target state {next due time, busy, session}. A worker takes
 * the earliest due target that no other worker holds, marks it busy, polls it
 * without the lock, then — under the lock again — sets its next due time
 * (start + interval, or now + interval when a poll overran) and pushes the
 * event. The hook's ring is single-producer: pushing only under this mutex
 * makes the workers take turns as its one producer, with the mutex as the
 * happens-before edge ring.h asks for. Workers sleep on the condition
 * variable until the next due time, a freed target, or stop.
 *
 * v3 sessions are opened under a second mutex, so that only one worker at a
 * time waits in an engine discovery holding net-snmp's process-wide lock
 * (snmp_client_lib_lock, see snmp_client.c for why every net-snmp call that
 * processes messages takes it).
 */
#include "snmp_poller.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "../../common/caps.h"
#include "../../config/config.h"
#include "snmp_client.h"
#include "snmp_collect.h"
#include "snmp_config.h"
#include "snmp_limiter.h"
#include "snmp_log.h"
#include "../../common/log_json.h"

struct target_state {
    uint64_t due_ms;          /* monotonic */
    bool busy;
    bool failing;             /* last poll failed (log only on changes) */
    snmp_client *client;      /* owned by whichever worker holds `busy` */
};

struct snmp_poller {
    struct snmp_config *scfg;
    uint32_t nworkers;
    pthread_t *threads;
    uint32_t nstarted;
    pthread_mutex_t mu;            /* guards ts[], stopping, and pushes into out */
    pthread_cond_t cv;
    pthread_mutex_t open_mu;       /* one v3 session open at a time */
    bool stopping;
    atomic_bool stop;              /* read by the clients' wait loops */
    struct target_state *ts;
    ring *out;
    _Atomic uint64_t polls, polls_ok, polls_failed, timeouts, auth_failures, truncated, byte_limited,
        events_dropped;
    snmp_limiter *limiter;         /* shared with the API's jobs (snmp_poller_set_limiter); NULL = none */
};

static uint64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

static void inc(_Atomic uint64_t *c) { atomic_fetch_add_explicit(c, 1, memory_order_relaxed); }
static uint64_t get(_Atomic uint64_t *c) { return atomic_load_explicit(c, memory_order_relaxed); }

/* Counters and a log line when a target changes between working and failing. */
static void account(struct snmp_poller *p, size_t i, const cJSON *ev)
{
    const struct snmp_target *t = &p->scfg->targets[i];
    inc(&p->polls);
    if (!ev) {
        inc(&p->polls_failed);
        return;
    }
    const cJSON *ok = cJSON_GetObjectItemCaseSensitive(ev, "ok");
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(ev, "error");
    if (cJSON_GetObjectItemCaseSensitive(ev, "truncated"))
        inc(&p->truncated);
    if (cJSON_GetObjectItemCaseSensitive(ev, "max_poll_bytes"))
        inc(&p->byte_limited);
    if (cJSON_IsTrue(ok)) {
        inc(&p->polls_ok);
        if (p->ts[i].failing)
            log_info("snmp target %s (%s): polling works again", t->name, t->host);
        p->ts[i].failing = false;
        return;
    }
    inc(&p->polls_failed);
    const char *e = cJSON_IsString(err) ? err->valuestring : "error";
    if (strcmp(e, "timeout") == 0)
        inc(&p->timeouts);
    else if (strcmp(e, "auth failure") == 0 || strcmp(e, "unknown user") == 0 ||
             strcmp(e, "decryption error") == 0 || strcmp(e, "unsupported security level") == 0)
        inc(&p->auth_failures);
    if (!p->ts[i].failing)
        log_warn("snmp target %s (%s): poll failed: %s", t->name, t->host, e);
    p->ts[i].failing = true;
}

static void *worker(void *arg)
{
    struct snmp_poller *p = arg;
    caps_thread_init("snmp-poll");
    pthread_mutex_lock(&p->mu);
    while (!p->stopping) {
        size_t best = SIZE_MAX;
        for (size_t i = 0; i < p->scfg->ntargets; i++)
            if (!p->ts[i].busy && (best == SIZE_MAX || p->ts[i].due_ms < p->ts[best].due_ms))
                best = i;
        uint64_t now = mono_ms();
        if (best == SIZE_MAX || p->ts[best].due_ms > now) {
            if (best == SIZE_MAX) {
                pthread_cond_wait(&p->cv, &p->mu);
            } else {
                struct timespec until;
                clock_gettime(CLOCK_MONOTONIC, &until);
                uint64_t wait = p->ts[best].due_ms - now;
                until.tv_sec += (time_t)(wait / 1000u);
                until.tv_nsec += (long)(wait % 1000u) * 1000000L;
                if (until.tv_nsec >= 1000000000L) {
                    until.tv_sec++;
                    until.tv_nsec -= 1000000000L;
                }
                pthread_cond_timedwait(&p->cv, &p->mu, &until);
            }
            continue;   /* re-check: stop, a freed target, or the due time */
        }
        struct target_state *ts = &p->ts[best];
        const struct snmp_target *t = &p->scfg->targets[best];
        ts->busy = true;
        uint64_t started = now;
        snmp_client *client = ts->client;
        pthread_mutex_unlock(&p->mu);

        bool slot = p->limiter && snmp_limiter_acquire(p->limiter, &p->stop, 0);   /* false only at stop */
        cJSON *ev = snmp_collect_poll(t, &client, &p->stop, t->version == SNMP_CFG_V3 ? &p->open_mu : NULL);
        if (slot)
            snmp_limiter_release(p->limiter);

        pthread_mutex_lock(&p->mu);
        ts->client = client;
        ts->busy = false;
        uint64_t end = mono_ms();
        uint64_t interval = (uint64_t)t->interval_s * 1000u;
        ts->due_ms = started + interval;
        if (ts->due_ms <= end)
            ts->due_ms = end + interval;   /* overran its interval: do not burst to catch up */
        account(p, best, ev);
        if (!ev || !hook_emit(p->out, ev))   /* NULL: out of memory */
            inc(&p->events_dropped);
        pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static void poller_stop(void *self);

static int poller_start(void *self, ring *out, char *err, size_t errlen)
{
    struct snmp_poller *p = self;
    p->out = out;
    uint64_t now = mono_ms();
    for (size_t i = 0; i < p->scfg->ntargets; i++)
        p->ts[i].due_ms = now;   /* first poll at once */
    for (uint32_t i = 0; i < p->nworkers; i++) {
        int rc = pthread_create(&p->threads[i], NULL, worker, p);
        if (rc != 0) {
            snprintf(err, errlen, "snmp poller: cannot start worker thread: %s", strerror(rc));
            poller_stop(p);
            return -1;
        }
        p->nstarted++;
    }
    log_info("snmp poller: %zu target%s, %u worker%s", p->scfg->ntargets, p->scfg->ntargets == 1 ? "" : "s",
             p->nworkers, p->nworkers == 1 ? "" : "s");
    return 0;
}

void snmp_poller_get_stats(void *self, struct snmp_poller_stats *o)
{
    struct snmp_poller *p = self;
    o->polls = get(&p->polls);
    o->polls_ok = get(&p->polls_ok);
    o->polls_failed = get(&p->polls_failed);
    o->timeouts = get(&p->timeouts);
    o->auth_failures = get(&p->auth_failures);
    o->truncated = get(&p->truncated);
    o->byte_limited = get(&p->byte_limited);
    o->events_dropped = get(&p->events_dropped);
}

static void poller_stats(void *self, cJSON *into)
{
    struct snmp_poller_stats s;
    snmp_poller_get_stats(self, &s);
    const struct { const char *k; uint64_t v; } kv[] = {
        {"snmp_polls", s.polls}, {"snmp_polls_ok", s.polls_ok}, {"snmp_polls_failed", s.polls_failed},
        {"snmp_timeouts", s.timeouts}, {"snmp_auth_failures", s.auth_failures},
        {"snmp_truncated", s.truncated}, {"snmp_poll_bytes_limited", s.byte_limited},
        {"snmp_events_dropped", s.events_dropped}};
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        cJSON_AddItemToObject(into, kv[i].k, snmp_u64_json(kv[i].v));
}

static void poller_stop(void *self)
{
    struct snmp_poller *p = self;
    if (p->nstarted == 0)
        return;
    atomic_store_explicit(&p->stop, true, memory_order_relaxed);
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (uint32_t i = 0; i < p->nstarted; i++)
        pthread_join(p->threads[i], NULL);
    p->nstarted = 0;
    cJSON *st = cJSON_CreateObject();
    if (st)
        poller_stats(p, st);
    log_cjson(LOG_INFO, "snmp poller stopped", st);   /* the counters as fields */
    cJSON_Delete(st);
}

static void poller_destroy(void *self)
{
    struct snmp_poller *p = self;
    if (!p)
        return;
    poller_stop(p);
    if (p->ts)
        for (size_t i = 0; i < p->scfg->ntargets; i++)
            snmp_client_close(p->ts[i].client);
    free(p->ts);
    free(p->threads);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    pthread_mutex_destroy(&p->open_mu);
    snmp_config_destroy(p->scfg);
    free(p);
}

static const struct hook_ops POLLER_OPS = {
    .name = "snmp",
    .start = poller_start,
    .stop = poller_stop,
    .stats = poller_stats,
    .destroy = poller_destroy,
};

int hook_snmp_poller_create(const struct config *cfg, struct hook *out, char *err, size_t errlen)
{
    if (!cfg->snmp_config)
        return 0;
    struct snmp_config *scfg;
    int rc = snmp_config_load(cfg->snmp_config, &scfg, err, errlen);
    if (rc != 0)
        return rc;
    /* Initialise net-snmp here, in the main thread, before any thread starts. */
    snmp_client_lib_init();
    if (scfg->ntargets == 0) {
        snmp_config_destroy(scfg);
        return 0;
    }
    struct snmp_poller *p = calloc(1, sizeof *p);
    if (!p) {
        snmp_config_destroy(scfg);
        snprintf(err, errlen, "out of memory");
        return -2;
    }
    p->scfg = scfg;
    atomic_init(&p->stop, false);
    uint32_t n = cfg->snmp_concurrency ? cfg->snmp_concurrency : 4;
    p->nworkers = (size_t)n > scfg->ntargets ? (uint32_t)scfg->ntargets : n;
    pthread_condattr_t ca;
    bool ok = pthread_condattr_init(&ca) == 0;
    ok = ok && pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 && pthread_cond_init(&p->cv, &ca) == 0;
    if (ok)
        pthread_condattr_destroy(&ca);
    if (!ok || pthread_mutex_init(&p->mu, NULL) != 0 || pthread_mutex_init(&p->open_mu, NULL) != 0) {
        free(p);
        snmp_config_destroy(scfg);
        snprintf(err, errlen, "snmp poller: cannot create its locks");
        return -2;
    }
    p->ts = calloc(scfg->ntargets, sizeof *p->ts);
    p->threads = calloc(p->nworkers, sizeof *p->threads);
    if (!p->ts || !p->threads) {
        poller_destroy(p);
        snprintf(err, errlen, "out of memory");
        return -2;
    }
    out->ops = &POLLER_OPS;
    out->self = p;
    return 1;
}

void snmp_poller_set_limiter(void *self, snmp_limiter *l)
{
    ((struct snmp_poller *)self)->limiter = l;
}

int snmp_poll_once(const struct config *cfg, const char *name, struct cJSON **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!cfg->snmp_config) {
        snprintf(err, errlen, "--once snmp %s: AGENT_SNMP_CONFIG is not set", name);
        return -1;
    }
    struct snmp_config *scfg;
    int rc = snmp_config_load(cfg->snmp_config, &scfg, err, errlen);
    if (rc != 0)
        return rc;
    const struct snmp_target *t = NULL;
    for (size_t i = 0; i < scfg->ntargets && !t; i++)
        if (strcmp(scfg->targets[i].name, name) == 0)
            t = &scfg->targets[i];
    if (!t) {
        int n = snprintf(err, errlen, "--once snmp %s: no such target in AGENT_SNMP_CONFIG=%s (targets:",
                         name, cfg->snmp_config);
        for (size_t i = 0; i < scfg->ntargets && n > 0 && (size_t)n < errlen; i++)
            n += snprintf(err + n, errlen - (size_t)n, "%s %s", i ? "," : "", scfg->targets[i].name);
        if (n > 0 && (size_t)n < errlen)
            snprintf(err + n, errlen - (size_t)n, "%s)", scfg->ntargets ? "" : " none");
        snmp_config_destroy(scfg);
        return -1;
    }
    snmp_client_lib_init();
    atomic_bool stop;
    atomic_init(&stop, false);
    snmp_client *client = NULL;
    *out = snmp_collect_poll(t, &client, &stop, NULL);
    snmp_client_close(client);
    snmp_config_destroy(scfg);
    if (!*out) {
        snprintf(err, errlen, "out of memory");
        return -2;
    }
    return 0;
}
