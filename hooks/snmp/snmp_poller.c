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
 *
 * Reload (SIGHUP, POST /v1/reload): the target table is an array of pointers
 * to heap-allocated states, in the order of the current file's targets, each
 * pointing at its target in that file (`cur`, reference-counted). A reload
 * parses the new file outside the lock, then under it builds the new table:
 * an unchanged target keeps its state (schedule, session, busy poll) and is
 * pointed at its equal copy in the new file; an added or changed target gets
 * a new state, due at once, with a new session; a removed (or changed) target
 * that is being polled is marked `removed`: its poll finishes with the target
 * it started with (a worker holds a reference to that file until then), its
 * event is sent, and the worker frees the state and closes its session. An
 * invalid file changes nothing. The poller exists whenever AGENT_SNMP_CONFIG
 * is set, even when the file lists no target (a trap-only file), so a reload
 * can add the first one; its AGENT_SNMP_CONCURRENCY workers then wait idle.
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
    const struct snmp_target *t;  /* in cur's file; a removed one's in the file its poll holds */
    uint64_t due_ms;          /* monotonic */
    bool busy;
    bool failing;             /* last poll failed (log only on changes) */
    bool removed;             /* reload dropped it while busy: the worker frees it */
    snmp_client *client;      /* owned by whichever worker holds `busy` */
};

/* One loaded file; the poller holds the current one, each poll in flight the one it started with. */
struct file_ref {
    struct snmp_config *scfg;
    unsigned refs;            /* under mu */
};

struct snmp_poller {
    struct file_ref *cur;          /* the targets polled now */
    uint32_t nworkers;
    pthread_t *threads;
    uint32_t nstarted;
    pthread_mutex_t mu;            /* guards cur, ts[], nts, the states, stopping, and pushes into out */
    pthread_cond_t cv;
    pthread_mutex_t open_mu;       /* one v3 session open at a time */
    bool stopping;
    atomic_bool stop;              /* read by the clients' wait loops */
    struct target_state **ts;      /* one per target of cur, in its order */
    size_t nts;
    ring *out;
    _Atomic uint64_t polls, polls_ok, polls_failed, timeouts, auth_failures, truncated, byte_limited,
        events_dropped;
    snmp_limiter *limiter;         /* shared with the API's jobs (snmp_poller_set_limiter); NULL = none */
    _Atomic uint64_t reloads_applied, reloads_refused;   /* reload (issue 17.5) */
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
static void account(struct snmp_poller *p, struct target_state *ts, const cJSON *ev)
{
    const struct snmp_target *t = ts->t;
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
        if (ts->failing)
            log_info("snmp target %s (%s): polling works again", t->name, t->host);
        ts->failing = false;
        return;
    }
    inc(&p->polls_failed);
    const char *e = cJSON_IsString(err) ? err->valuestring : "error";
    if (strcmp(e, "timeout") == 0)
        inc(&p->timeouts);
    else if (strcmp(e, "auth failure") == 0 || strcmp(e, "unknown user") == 0 ||
             strcmp(e, "decryption error") == 0 || strcmp(e, "unsupported security level") == 0)
        inc(&p->auth_failures);
    if (!ts->failing)
        log_warn("snmp target %s (%s): poll failed: %s", t->name, t->host, e);
    ts->failing = true;
}

/* Drop one reference to a loaded file; the last one frees it. Under mu. */
static void file_unref(struct file_ref *f)
{
    if (f && --f->refs == 0) {
        snmp_config_destroy(f->scfg);
        free(f);
    }
}

/* The earliest due target no worker holds, or SIZE_MAX. Under mu. */
static size_t next_target(const struct snmp_poller *p)
{
    size_t best = SIZE_MAX;
    for (size_t i = 0; i < p->nts; i++)
        if (!p->ts[i]->busy && (best == SIZE_MAX || p->ts[i]->due_ms < p->ts[best]->due_ms))
            best = i;
    return best;
}

/* Sleep until `due_ms` (monotonic), a signal on cv, or stop. Under mu. */
static void wait_until(struct snmp_poller *p, uint64_t due_ms, uint64_t now)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    uint64_t wait = due_ms - now;
    until.tv_sec += (time_t)(wait / 1000u);
    until.tv_nsec += (long)(wait % 1000u) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&p->cv, &p->mu, &until);
}

static void *worker(void *arg)
{
    struct snmp_poller *p = arg;
    caps_thread_init("snmp-poll");
    pthread_mutex_lock(&p->mu);
    while (!p->stopping) {
        size_t best = next_target(p);
        uint64_t now = mono_ms();
        if (best == SIZE_MAX || p->ts[best]->due_ms > now) {
            if (best == SIZE_MAX)
                pthread_cond_wait(&p->cv, &p->mu);
            else
                wait_until(p, p->ts[best]->due_ms, now);
            continue;   /* re-check: stop, a freed target, a reload, or the due time */
        }
        struct target_state *ts = p->ts[best];
        const struct snmp_target *t = ts->t;
        struct file_ref *held = p->cur;   /* keeps t alive should a reload drop it meanwhile */
        held->refs++;
        ts->busy = true;
        uint64_t started = now;
        snmp_client *client = ts->client;
        pthread_mutex_unlock(&p->mu);

        bool slot = p->limiter && snmp_limiter_acquire(p->limiter, &p->stop, 0);   /* false only at stop */
        cJSON *ev = snmp_collect_poll(t, &client, &p->stop, t->version == SNMP_CFG_V3 ? &p->open_mu : NULL);
        if (slot)
            snmp_limiter_release(p->limiter);

        pthread_mutex_lock(&p->mu);
        ts->busy = false;
        account(p, ts, ev);
        if (!ev || !hook_emit(p->out, ev))   /* NULL: out of memory */
            inc(&p->events_dropped);
        snmp_client *to_close = NULL;
        if (ts->removed) {   /* a reload dropped or changed it while it was polled */
            to_close = client;
            free(ts);
        } else {
            ts->client = client;
            uint64_t end = mono_ms();
            uint64_t interval = (uint64_t)t->interval_s * 1000u;
            ts->due_ms = started + interval;
            if (ts->due_ms <= end)
                ts->due_ms = end + interval;   /* overran its interval: do not burst to catch up */
        }
        file_unref(held);
        pthread_cond_broadcast(&p->cv);
        if (to_close) {   /* closing may wait for net-snmp's lock: not under mu */
            pthread_mutex_unlock(&p->mu);
            snmp_client_close(to_close);
            pthread_mutex_lock(&p->mu);
        }
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
    pthread_mutex_lock(&p->mu);
    for (size_t i = 0; i < p->nts; i++)
        p->ts[i]->due_ms = now;   /* first poll at once */
    size_t ntargets = p->nts;
    pthread_mutex_unlock(&p->mu);
    for (uint32_t i = 0; i < p->nworkers; i++) {
        int rc = pthread_create(&p->threads[i], NULL, worker, p);
        if (rc != 0) {
            snprintf(err, errlen, "snmp poller: cannot start worker thread: %s", strerror(rc));
            poller_stop(p);
            return -1;
        }
        p->nstarted++;
    }
    log_info("snmp poller: %zu target%s, %u worker%s", ntargets, ntargets == 1 ? "" : "s",
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
    o->reloads_applied = get(&p->reloads_applied);
    o->reloads_refused = get(&p->reloads_refused);
    pthread_mutex_lock(&p->mu);
    o->targets = p->nts;
    pthread_mutex_unlock(&p->mu);
}

static void poller_stats(void *self, cJSON *into)
{
    struct snmp_poller_stats s;
    snmp_poller_get_stats(self, &s);
    const struct { const char *k; uint64_t v; } kv[] = {
        {"snmp_polls", s.polls}, {"snmp_polls_ok", s.polls_ok}, {"snmp_polls_failed", s.polls_failed},
        {"snmp_timeouts", s.timeouts}, {"snmp_auth_failures", s.auth_failures},
        {"snmp_truncated", s.truncated}, {"snmp_poll_bytes_limited", s.byte_limited},
        {"snmp_events_dropped", s.events_dropped},
        {"snmp_reloads_applied", s.reloads_applied}, {"snmp_reloads_refused", s.reloads_refused},
        {"snmp_targets", s.targets}};
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
    for (size_t i = 0; p->ts && i < p->nts; i++) {
        snmp_client_close(p->ts[i]->client);
        free(p->ts[i]);
    }
    free(p->ts);
    if (p->cur) {
        snmp_config_destroy(p->cur->scfg);
        free(p->cur);
    }
    free(p->threads);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    pthread_mutex_destroy(&p->open_mu);
    free(p);
}

/* reload (issue 17.5) */
/*
 * The state table for `scfg`'s targets: target j reuses old[keep[j]] when keep
 * is given and keep[j] != SIZE_MAX, else gets a new state due at `now`. Reused
 * states are not touched here. Returns NULL when out of memory (nothing new
 * kept). Any thread, no lock needed (nothing shared is written).
 */
static struct target_state **targets_new(const struct snmp_config *scfg, struct target_state *const *old,
                                         const size_t *keep, uint64_t now)
{
    struct target_state **ts = calloc(scfg->ntargets ? scfg->ntargets : 1, sizeof *ts);
    for (size_t j = 0; ts && j < scfg->ntargets; j++) {
        if (old && keep && keep[j] != SIZE_MAX) {
            ts[j] = old[keep[j]];
            continue;
        }
        if (!(ts[j] = calloc(1, sizeof **ts))) {
            for (size_t k = 0; k < j; k++)
                if (!(old && keep && keep[k] != SIZE_MAX))
                    free(ts[k]);
            free(ts);
            return NULL;
        }
        ts[j]->t = &scfg->targets[j];
        ts[j]->due_ms = now;
    }
    return ts;
}

/*
 * Swap in the new file's table under mu: reused states point at their equal
 * target in the new file; states no longer listed are freed, or marked removed
 * when a worker polls them (it frees them). Their idle sessions are returned
 * in *closing (the caller closes them outside mu). Under mu.
 */
static void targets_swap(struct snmp_poller *p, struct file_ref *next, struct target_state **ts,
                         const size_t *keep, snmp_client **closing, size_t *nclosing)
{
    const struct snmp_config *nc = next->scfg;
    for (size_t j = 0; j < nc->ntargets; j++)
        if (keep[j] != SIZE_MAX) {
            ts[j]->t = &nc->targets[j];
            p->ts[keep[j]] = NULL;   /* taken over */
        }
    *nclosing = 0;
    for (size_t i = 0; i < p->nts; i++) {
        struct target_state *o = p->ts[i];
        if (!o)
            continue;
        if (o->busy) {
            o->removed = true;
            continue;
        }
        if (o->client)
            closing[(*nclosing)++] = o->client;
        free(o);
    }
    free(p->ts);
    p->ts = ts;
    p->nts = nc->ntargets;
    file_unref(p->cur);   /* the polls in flight keep their own reference */
    p->cur = next;
    pthread_cond_broadcast(&p->cv);
}

static int poller_reload(void *self, const struct config *cfg, char *err, size_t errlen)
{
    struct snmp_poller *p = self;
    struct snmp_config *nc = NULL;
    if (snmp_config_load(cfg->snmp_config, &nc, err, errlen) != 0) {
        inc(&p->reloads_refused);
        return -1;
    }
    /* Only reload writes cur and its file, and reloads are serialised: reading it here is safe. */
    size_t nold = p->cur->scfg->ntargets;
    size_t *keep = calloc(nc->ntargets ? nc->ntargets : 1, sizeof *keep);
    snmp_client **closing = calloc(nold ? nold : 1, sizeof *closing);
    struct file_ref *next = calloc(1, sizeof *next);
    struct snmp_config_diff d = {0};
    struct target_state **ts = NULL;
    if (keep && closing && next) {
        snmp_config_diff(p->cur->scfg, nc, keep, &d);
        ts = targets_new(nc, p->ts, keep, mono_ms());
    }
    if (!ts) {
        free(keep);
        free(closing);
        free(next);
        snmp_config_destroy(nc);
        snprintf(err, errlen, "AGENT_SNMP_CONFIG=%s: out of memory", cfg->snmp_config);
        inc(&p->reloads_refused);
        return -1;
    }
    next->scfg = nc;
    next->refs = 1;
    size_t nclosing = 0;
    pthread_mutex_lock(&p->mu);
    targets_swap(p, next, ts, keep, closing, &nclosing);
    pthread_mutex_unlock(&p->mu);
    for (size_t i = 0; i < nclosing; i++)
        snmp_client_close(closing[i]);
    free(closing);
    free(keep);
    snprintf(err, errlen, "AGENT_SNMP_CONFIG=%s: %zu target%s: %zu added, %zu removed, %zu changed, %zu unchanged",
             cfg->snmp_config, nc->ntargets, nc->ntargets == 1 ? "" : "s", d.added, d.removed, d.changed,
             d.unchanged);
    inc(&p->reloads_applied);
    return 0;
}

static const struct hook_ops POLLER_OPS = {
    .name = "snmp",
    .start = poller_start,
    .stop = poller_stop,
    .stats = poller_stats,
    .destroy = poller_destroy,
    .reload = poller_reload,
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
    /* Created even without targets (a trap-only file): a reload may add the first one. */
    struct snmp_poller *p = calloc(1, sizeof *p);
    struct file_ref *cur = calloc(1, sizeof *cur);
    if (!p || !cur) {
        free(p);
        free(cur);
        snmp_config_destroy(scfg);
        snprintf(err, errlen, "out of memory");
        return -2;
    }
    cur->scfg = scfg;
    cur->refs = 1;
    atomic_init(&p->stop, false);
    p->nworkers = cfg->snmp_concurrency ? cfg->snmp_concurrency : 4;   /* the same after a reload */
    pthread_condattr_t ca;
    bool ok = pthread_condattr_init(&ca) == 0;
    ok = ok && pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 && pthread_cond_init(&p->cv, &ca) == 0;
    if (ok)
        pthread_condattr_destroy(&ca);
    if (!ok || pthread_mutex_init(&p->mu, NULL) != 0 || pthread_mutex_init(&p->open_mu, NULL) != 0) {
        free(p);
        free(cur);
        snmp_config_destroy(scfg);
        snprintf(err, errlen, "snmp poller: cannot create its locks");
        return -2;
    }
    p->cur = cur;
    p->threads = calloc(p->nworkers, sizeof *p->threads);
    p->ts = targets_new(scfg, NULL, NULL, 0);
    p->nts = p->ts ? scfg->ntargets : 0;
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
