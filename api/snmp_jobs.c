/*
 * snmp_jobs.c — on-demand SNMP jobs and direct GET/walk (see snmp_jobs.h).
 *
 * One mutex guards the job list (creation order, oldest first), the counts and
 * pushes into the hook's ring: workers push only under it, which makes them
 * take turns as the ring's single producer (the poller does the same). A
 * condition variable wakes workers for new jobs and stop; a second one wakes
 * DELETE callers when a job ends. A job's memory is freed only once it has
 * ended (by expiry or by the cap on retained jobs, both under the mutex), so
 * a worker's pointer to its running job stays valid without the lock; callers
 * that wait (DELETE) look their ticket up again afterwards.
 *
 * Cancellation: each job has its own stop flag, which the SNMP client reads
 * every 100 ms while it waits for an answer and the limiter while it waits for
 * a slot, so a cancelled walk ends within about 100 ms plus one request's
 * processing; a v3 engine discovery inside snmp_sess_open cannot be
 * interrupted and may take up to timeout * (retries + 1).
 */
#include "api/snmp_jobs.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <openssl/rand.h>

#include "common/caps.h"
#include "common/log.h"
#include "common/timefmt.h"
#include "config/config.h"
#include "hooks/snmp/snmp_client.h"
#include "hooks/snmp/snmp_collect.h"
#include "hooks/snmp/snmp_config.h"
#include "hooks/snmp/snmp_values.h"

#define JOBS_MAX_WORKERS   16u
#define DIRECT_SLOT_WAIT_MS 10000u   /* a direct GET/walk waits this long for a limiter slot */
#define CANCEL_WAIT_MS      2000u

enum job_state { JOB_QUEUED, JOB_RUNNING, JOB_COMPLETE, JOB_FAILED, JOB_CANCELLED };
static const char *const STATE_NAMES[] = {"queued", "running", "complete", "failed", "cancelled"};

struct job {
    char ticket[SNMP_JOBS_TICKET_LEN + 1];
    enum job_state state;
    struct snmp_target t;            /* owns its strings; secrets wiped on free */
    atomic_bool cancel;
    struct snmp_collect_progress prog;
    uint64_t created_ms, started_ms, finished_ms;   /* monotonic; 0 = not yet */
    char created_at[32];             /* RFC 3339 wall time */
    cJSON *result;                   /* the poll event (complete, failed) */
    struct job *next;
};

/* Answers counted by status code (the API's counters). */
static const int ANSWER_CODES[] = {200, 202, 400, 401, 404, 405, 413, 429, 500, 503};
#define NCODES (sizeof ANSWER_CODES / sizeof ANSWER_CODES[0])

struct snmp_jobs {
    struct snmp_jobs_limits lim;
    snmp_limiter *limiter;
    pthread_mutex_t mu;
    pthread_cond_t work_cv, done_cv;
    pthread_mutex_t open_mu;          /* one v3 session open at a time among the workers */
    struct job *head, *tail;
    size_t nqueued, nrunning, nfinished;
    bool stopping;
    atomic_bool stop;                 /* direct requests' stop flag */
    pthread_t threads[JOBS_MAX_WORKERS];
    uint32_t nstarted;
    ring *out;
    _Atomic uint64_t accepted, completed, failed, cancelled, rejected_full, rejected_invalid, expired, evicted,
        events_sent, events_dropped, gets, walks, busy;
    _Atomic uint64_t answers[NCODES];
};

static void inc(_Atomic uint64_t *c) { atomic_fetch_add_explicit(c, 1, memory_order_relaxed); }
static uint64_t get(_Atomic uint64_t *c) { return atomic_load_explicit(c, memory_order_relaxed); }

uint64_t snmp_jobs_now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

cJSON *snmp_jobs_error(const char *msg, const char *field)
{
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddStringToObject(o, "error", msg) ||
        (field && field[0] && !cJSON_AddStringToObject(o, "field", field))) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* ------------------------------------------------------------------ lifecycle */

snmp_jobs *snmp_jobs_create(const struct snmp_jobs_limits *lim)
{
    snmp_jobs *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    j->lim = *lim;
    if (j->lim.workers == 0)
        j->lim.workers = 1;
    if (j->lim.workers > JOBS_MAX_WORKERS)
        j->lim.workers = JOBS_MAX_WORKERS;
    atomic_init(&j->stop, false);
    pthread_condattr_t ca;
    bool ok = pthread_condattr_init(&ca) == 0 && pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0;
    bool work = ok && pthread_cond_init(&j->work_cv, &ca) == 0;
    bool done = ok && pthread_cond_init(&j->done_cv, &ca) == 0;
    bool mu = pthread_mutex_init(&j->mu, NULL) == 0;
    bool omu = pthread_mutex_init(&j->open_mu, NULL) == 0;
    if (ok)
        pthread_condattr_destroy(&ca);
    if (!work || !done || !mu || !omu) {
        if (work) pthread_cond_destroy(&j->work_cv);
        if (done) pthread_cond_destroy(&j->done_cv);
        if (mu) pthread_mutex_destroy(&j->mu);
        if (omu) pthread_mutex_destroy(&j->open_mu);
        free(j);
        return NULL;
    }
    return j;
}

void snmp_jobs_set_limiter(snmp_jobs *j, snmp_limiter *l)
{
    j->limiter = l;
}

static void job_free(struct job *jb)
{
    if (!jb)
        return;
    snmp_target_clear(&jb->t);
    cJSON_Delete(jb->result);
    free(jb);
}

/* Unlink `jb` (finished) from the list; `prev` is its predecessor or NULL. Under mu. */
static void unlink_job(snmp_jobs *j, struct job *prev, struct job *jb)
{
    if (prev)
        prev->next = jb->next;
    else
        j->head = jb->next;
    if (j->tail == jb)
        j->tail = prev;
    j->nfinished--;
    job_free(jb);
}

static bool finished(const struct job *jb)
{
    return jb->state >= JOB_COMPLETE;
}

/* Under mu: drop expired finished jobs, then the oldest finished beyond the cap. */
static size_t expire_locked(snmp_jobs *j, uint64_t now)
{
    size_t n = 0;
    uint64_t keep = (uint64_t)j->lim.retention_s * 1000u;
    struct job *prev = NULL;
    for (struct job *jb = j->head; jb;) {
        struct job *next = jb->next;
        if (finished(jb) && now >= jb->finished_ms + keep) {
            unlink_job(j, prev, jb);
            inc(&j->expired);
            n++;
        } else {
            prev = jb;
        }
        jb = next;
    }
    prev = NULL;
    for (struct job *jb = j->head; jb && j->nfinished > j->lim.max_retained;) {
        struct job *next = jb->next;
        if (finished(jb)) {   /* the list is in creation order: the oldest first */
            unlink_job(j, prev, jb);
            inc(&j->evicted);
            n++;
        } else {
            prev = jb;
        }
        jb = next;
    }
    return n;
}

size_t snmp_jobs_expire(snmp_jobs *j, uint64_t now_ms)
{
    pthread_mutex_lock(&j->mu);
    size_t n = expire_locked(j, now_ms);
    pthread_mutex_unlock(&j->mu);
    return n;
}

size_t snmp_jobs_count(snmp_jobs *j)
{
    pthread_mutex_lock(&j->mu);
    size_t n = j->nqueued + j->nrunning + j->nfinished;
    pthread_mutex_unlock(&j->mu);
    return n;
}

static struct job *find(snmp_jobs *j, const char *ticket)
{
    if (!ticket || strlen(ticket) != SNMP_JOBS_TICKET_LEN)
        return NULL;
    for (struct job *jb = j->head; jb; jb = jb->next)
        if (strcmp(jb->ticket, ticket) == 0)
            return jb;
    return NULL;
}

/* Under mu: the job has ended in `st`. */
static void finish_locked(snmp_jobs *j, struct job *jb, enum job_state st, uint64_t now)
{
    if (jb->state == JOB_QUEUED)
        j->nqueued--;
    else if (jb->state == JOB_RUNNING)
        j->nrunning--;
    jb->state = st;
    jb->finished_ms = now ? now : 1;
    j->nfinished++;
    inc(st == JOB_COMPLETE ? &j->completed : st == JOB_FAILED ? &j->failed : &j->cancelled);
    pthread_cond_broadcast(&j->done_cv);
}

/* ------------------------------------------------------------------ state answers */

static cJSON *u64(uint64_t v) { return snmp_u64_json(v); }

static bool add(cJSON *o, const char *k, cJSON *v)
{
    if (!v || !cJSON_AddItemToObject(o, k, v)) {
        cJSON_Delete(v);
        return false;
    }
    return true;
}

/* A job's state, as GET /v1/snmp/jobs/{ticket} answers it. Under mu. */
static cJSON *job_json(const struct job *jb, uint64_t now)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    bool ok = add(o, "ticket", cJSON_CreateString(jb->ticket)) &&
              add(o, "status", cJSON_CreateString(STATE_NAMES[jb->state])) &&
              add(o, "target", cJSON_CreateString(jb->t.name)) && add(o, "host", cJSON_CreateString(jb->t.host)) &&
              add(o, "port", cJSON_CreateNumber(jb->t.port)) &&
              add(o, "version", cJSON_CreateString(snmp_config_version_name(jb->t.version))) &&
              add(o, "created", cJSON_CreateString(jb->created_at));
    uint64_t end = jb->finished_ms ? jb->finished_ms : now;
    if (ok)
        ok = add(o, "queued_ms", u64((jb->started_ms ? jb->started_ms : end) - jb->created_ms)) &&
             add(o, "elapsed_ms", u64(jb->started_ms ? end - jb->started_ms : 0));
    /* progress and timing per section: the sections the job asks for, in the order they run */
    cJSON *secs = ok ? cJSON_AddArrayToObject(o, "sections") : NULL;
    uint64_t total = 0;
    const char *current = NULL;
    for (size_t i = 0; secs && i < SNMP_COLLECT_NSECTIONS; i++) {
        bool asked = i < 4 ? (jb->t.collect & (1u << i)) != 0 : jb->t.noids > 0;
        if (!asked)
            continue;
        uint64_t rows = atomic_load_explicit(&jb->prog.rows[i], memory_order_relaxed);
        uint64_t s = atomic_load_explicit(&jb->prog.start_ms[i], memory_order_relaxed);
        uint64_t e = atomic_load_explicit(&jb->prog.end_ms[i], memory_order_relaxed);
        total += rows;
        const char *state = e ? "done" : !s ? "pending" : jb->state == JOB_RUNNING ? "running"
                          : jb->state == JOB_CANCELLED ? "cancelled" : "failed";
        if (s && !e && jb->state == JOB_RUNNING)
            current = snmp_collect_section_name(i);
        cJSON *so = cJSON_CreateObject();
        if (!so || !cJSON_AddItemToArray(secs, so)) {
            cJSON_Delete(so);
            ok = false;
            break;
        }
        ok = add(so, "name", cJSON_CreateString(snmp_collect_section_name(i))) &&
             add(so, "state", cJSON_CreateString(state)) && add(so, "rows", u64(rows)) &&
             add(so, "duration_ms", s ? u64((e ? e : end) - s) : cJSON_CreateNull());
        if (!ok)
            break;
    }
    ok = ok && secs && add(o, "rows", u64(total)) &&
         add(o, "section", current ? cJSON_CreateString(current) : cJSON_CreateNull());
    if (ok && jb->result && (jb->state == JOB_COMPLETE || jb->state == JOB_FAILED)) {
        const cJSON *err = cJSON_GetObjectItemCaseSensitive(jb->result, "error");
        if (jb->state == JOB_FAILED && cJSON_IsString(err))
            ok = add(o, "error", cJSON_CreateString(err->valuestring));
        ok = ok && add(o, "result", cJSON_Duplicate(jb->result, true));
    }
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* ------------------------------------------------------------------ workers */

static struct job *next_queued(snmp_jobs *j)
{
    for (struct job *jb = j->head; jb; jb = jb->next)
        if (jb->state == JOB_QUEUED)
            return jb;
    return NULL;
}

/* The event for the stream: the result with the job's ticket. */
static void emit_locked(snmp_jobs *j, const struct job *jb)
{
    if (!j->out)
        return;
    cJSON *ev = cJSON_Duplicate(jb->result, true);
    if (!ev || !cJSON_AddStringToObject(ev, "job", jb->ticket)) {
        cJSON_Delete(ev);
        inc(&j->events_dropped);
        return;
    }
    if (hook_emit(j->out, ev))
        inc(&j->events_sent);
    else
        inc(&j->events_dropped);
}

static void run_job(snmp_jobs *j, struct job *jb)
{
    bool slot = j->limiter && snmp_limiter_acquire(j->limiter, &jb->cancel, 0);
    cJSON *ev = NULL;
    if (!j->limiter || slot) {
        snmp_client *client = NULL;
        ev = snmp_collect_poll_watched(&jb->t, &client, &jb->cancel, jb->t.version == SNMP_CFG_V3 ? &j->open_mu : NULL,
                                       &jb->prog);
        snmp_client_close(client);
    }
    if (slot)
        snmp_limiter_release(j->limiter);
    pthread_mutex_lock(&j->mu);
    enum job_state st;
    if (atomic_load_explicit(&jb->cancel, memory_order_relaxed)) {
        st = JOB_CANCELLED;
        cJSON_Delete(ev);
        ev = NULL;
    } else {
        st = ev && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ev, "ok")) ? JOB_COMPLETE : JOB_FAILED;
    }
    jb->result = ev;
    finish_locked(j, jb, st, snmp_jobs_now_ms());
    if (ev)
        emit_locked(j, jb);
    log_fields(LOG_INFO, "snmp job ended", (const struct log_field[]){
        LOG_STR("job", jb->ticket), LOG_STR("status", STATE_NAMES[st]), LOG_STR("host", jb->t.host),
        LOG_U64("duration_ms", jb->finished_ms - jb->started_ms)}, 4);
    expire_locked(j, jb->finished_ms);   /* the cap on retained jobs; jb itself may go */
    pthread_mutex_unlock(&j->mu);
}

static void *worker(void *arg)
{
    snmp_jobs *j = arg;
    caps_thread_init("snmp-job");
    pthread_mutex_lock(&j->mu);
    while (!j->stopping) {
        struct job *jb = next_queued(j);
        if (!jb) {
            pthread_cond_wait(&j->work_cv, &j->mu);
            continue;   /* re-check: stop or a new job */
        }
        jb->state = JOB_RUNNING;
        j->nqueued--;
        j->nrunning++;
        jb->started_ms = snmp_jobs_now_ms();
        pthread_mutex_unlock(&j->mu);
        run_job(j, jb);
        pthread_mutex_lock(&j->mu);
    }
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

int snmp_jobs_start(snmp_jobs *j, ring *out, char *err, size_t errlen)
{
    j->out = out;
    for (uint32_t i = 0; i < j->lim.workers; i++) {
        int rc = pthread_create(&j->threads[i], NULL, worker, j);
        if (rc != 0) {
            snprintf(err, errlen, "snmp jobs: cannot start a worker thread: %s", strerror(rc));
            snmp_jobs_stop(j);
            return -1;
        }
        j->nstarted++;
    }
    return 0;
}

void snmp_jobs_interrupt(snmp_jobs *j)
{
    if (!j)
        return;
    atomic_store_explicit(&j->stop, true, memory_order_relaxed);
    pthread_mutex_lock(&j->mu);
    j->stopping = true;
    for (struct job *jb = j->head; jb; jb = jb->next)
        atomic_store_explicit(&jb->cancel, true, memory_order_relaxed);
    pthread_cond_broadcast(&j->work_cv);
    pthread_mutex_unlock(&j->mu);
}

void snmp_jobs_stop(snmp_jobs *j)
{
    snmp_jobs_interrupt(j);
    for (uint32_t i = 0; i < j->nstarted; i++)
        pthread_join(j->threads[i], NULL);
    j->nstarted = 0;
}

void snmp_jobs_destroy(snmp_jobs *j)
{
    if (!j)
        return;
    for (struct job *jb = j->head; jb;) {
        struct job *next = jb->next;
        job_free(jb);
        jb = next;
    }
    pthread_cond_destroy(&j->work_cv);
    pthread_cond_destroy(&j->done_cv);
    pthread_mutex_destroy(&j->mu);
    pthread_mutex_destroy(&j->open_mu);
    free(j);
}

/* ------------------------------------------------------------------ requests */

static bool make_ticket(char out[SNMP_JOBS_TICKET_LEN + 1])
{
    unsigned char b[SNMP_JOBS_TICKET_LEN / 2];
    if (RAND_bytes(b, (int)sizeof b) != 1)
        return false;
    static const char HEX[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof b; i++) {
        out[2 * i] = HEX[b[i] >> 4];
        out[2 * i + 1] = HEX[b[i] & 15];
    }
    out[SNMP_JOBS_TICKET_LEN] = '\0';
    return true;
}

/* 400 answer from a target's validation problems. */
static int bad_request(snmp_jobs *j, const char *msg, const char *field, cJSON **answer)
{
    inc(&j->rejected_invalid);
    *answer = snmp_jobs_error(msg, field);
    return 400;
}

/* Parse the target part of a request (every field but the ones in `extra`, which the caller reads).
 * 0, or an HTTP status with *answer set. */
static int parse_request_target(snmp_jobs *j, const cJSON *req, const char *const *extra, struct snmp_target *t,
                                cJSON **answer)
{
    if (!cJSON_IsObject(req))
        return bad_request(j, "the body must be a JSON object", NULL, answer);
    cJSON *copy = cJSON_Duplicate(req, true);
    if (!copy) {
        *answer = snmp_jobs_error("out of memory", NULL);
        return 500;
    }
    for (size_t i = 0; extra && extra[i]; i++)
        cJSON_DeleteItemFromObjectCaseSensitive(copy, extra[i]);
    char field[64], err[1024];
    int rc = snmp_target_from_json(copy, t, field, sizeof field, err, sizeof err);
    /* the copy holds the request's secrets: blank every string before freeing it */
    for (cJSON *it = copy->child; it; it = it->next)
        if (cJSON_IsString(it) && it->valuestring)
            explicit_bzero(it->valuestring, strlen(it->valuestring));
    cJSON_Delete(copy);
    if (rc == -1)
        return bad_request(j, err, field, answer);
    if (rc != 0) {
        *answer = snmp_jobs_error("out of memory", NULL);
        return 500;
    }
    return 0;
}

int snmp_jobs_submit(snmp_jobs *j, const cJSON *req, cJSON **answer)
{
    *answer = NULL;
    struct job *jb = calloc(1, sizeof *jb);
    if (!jb) {
        *answer = snmp_jobs_error("out of memory", NULL);
        return 500;
    }
    int st = parse_request_target(j, req, NULL, &jb->t, answer);
    if (st != 0) {
        free(jb);
        return st;
    }
    atomic_init(&jb->cancel, false);
    if (!make_ticket(jb->ticket)) {
        job_free(jb);
        *answer = snmp_jobs_error("cannot make a ticket (no randomness)", NULL);
        return 500;
    }
    timefmt_rfc3339(timefmt_now_us(), 3, jb->created_at, sizeof jb->created_at);
    pthread_mutex_lock(&j->mu);
    uint64_t now = snmp_jobs_now_ms();
    expire_locked(j, now);
    if (j->stopping) {
        pthread_mutex_unlock(&j->mu);
        job_free(jb);
        *answer = snmp_jobs_error("the sensor is stopping", NULL);
        return 503;
    }
    if (j->nqueued >= j->lim.max_queued) {
        pthread_mutex_unlock(&j->mu);
        job_free(jb);
        inc(&j->rejected_full);
        char msg[128];
        snprintf(msg, sizeof msg, "too many jobs waiting (AGENT_API_MAX_QUEUED=%u); try again later",
                 j->lim.max_queued);
        *answer = snmp_jobs_error(msg, NULL);
        return 429;
    }
    jb->created_ms = now;
    jb->state = JOB_QUEUED;
    if (j->tail)
        j->tail->next = jb;
    else
        j->head = jb;
    j->tail = jb;
    j->nqueued++;
    inc(&j->accepted);
    pthread_cond_signal(&j->work_cv);
    log_fields(LOG_INFO, "snmp job queued", (const struct log_field[]){
        LOG_STR("job", jb->ticket), LOG_STR("host", jb->t.host)}, 2);
    cJSON *o = cJSON_CreateObject();
    if (o && (!cJSON_AddStringToObject(o, "ticket", jb->ticket) || !cJSON_AddStringToObject(o, "status", "queued"))) {
        cJSON_Delete(o);
        o = NULL;
    }
    pthread_mutex_unlock(&j->mu);
    *answer = o;
    return 202;
}

int snmp_jobs_status(snmp_jobs *j, const char *ticket, cJSON **answer)
{
    pthread_mutex_lock(&j->mu);
    uint64_t now = snmp_jobs_now_ms();
    expire_locked(j, now);
    const struct job *jb = find(j, ticket);
    *answer = jb ? job_json(jb, now) : snmp_jobs_error("no such job (unknown ticket, or expired)", NULL);
    pthread_mutex_unlock(&j->mu);
    return jb ? 200 : 404;
}

int snmp_jobs_cancel(snmp_jobs *j, const char *ticket, cJSON **answer)
{
    pthread_mutex_lock(&j->mu);
    uint64_t now = snmp_jobs_now_ms();
    expire_locked(j, now);
    struct job *jb = find(j, ticket);
    if (!jb) {
        pthread_mutex_unlock(&j->mu);
        *answer = snmp_jobs_error("no such job (unknown ticket, or expired)", NULL);
        return 404;
    }
    if (jb->state == JOB_QUEUED) {
        atomic_store_explicit(&jb->cancel, true, memory_order_relaxed);
        finish_locked(j, jb, JOB_CANCELLED, now);
    } else if (jb->state == JOB_RUNNING) {
        atomic_store_explicit(&jb->cancel, true, memory_order_relaxed);
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += CANCEL_WAIT_MS / 1000u;
        /* the worker may free nothing of it while it runs; once it ends, look it up again */
        while ((jb = find(j, ticket)) && jb->state == JOB_RUNNING)
            if (pthread_cond_timedwait(&j->done_cv, &j->mu, &until) != 0)
                break;
        jb = find(j, ticket);
    }
    if (jb)
        log_fields(LOG_INFO, "snmp job cancel asked", (const struct log_field[]){
            LOG_STR("job", jb->ticket), LOG_STR("status", STATE_NAMES[jb->state])}, 2);
    *answer = jb ? job_json(jb, snmp_jobs_now_ms()) : snmp_jobs_error("no such job (expired)", NULL);
    if (jb)
        expire_locked(j, snmp_jobs_now_ms());   /* a cancelled queued job counts against the cap too */
    pthread_mutex_unlock(&j->mu);
    return jb ? 200 : 404;
}

/* ------------------------------------------------------------------ direct GET / walk */

struct direct {
    cJSON *varbinds;
};

static int direct_cb(const netsnmp_variable_list *v, void *arg)
{
    struct direct *d = arg;
    cJSON *vb = snmp_varbind_json(v);
    if (!vb || !cJSON_AddItemToArray(d->varbinds, vb)) {
        cJSON_Delete(vb);
        return -1;
    }
    return 0;
}

static int direct(snmp_jobs *j, const cJSON *req, bool walk, cJSON **answer)
{
    static const char *const EXTRA[] = {"oid", NULL};
    *answer = NULL;
    inc(walk ? &j->walks : &j->gets);
    const cJSON *oidv = cJSON_IsObject(req) ? cJSON_GetObjectItemCaseSensitive(req, "oid") : NULL;
    struct snmp_oid oid;
    if (cJSON_IsObject(req) && (!cJSON_IsString(oidv) || !snmp_oid_parse(oidv->valuestring, &oid)))
        return bad_request(j, "oid: required, a numeric OID such as \"1.3.6.1.2.1.1.5.0\"", "oid", answer);
    struct snmp_target t;
    int st = parse_request_target(j, req, EXTRA, &t, answer);
    if (st != 0)
        return st;
    if (j->limiter && !snmp_limiter_acquire(j->limiter, &j->stop, DIRECT_SLOT_WAIT_MS)) {
        snmp_target_clear(&t);
        inc(&j->busy);
        *answer = snmp_jobs_error("every SNMP slot is busy (AGENT_SNMP_CONCURRENCY); try again later", NULL);
        return 429;
    }
    uint64_t start = snmp_jobs_now_ms();
    struct direct d = {.varbinds = cJSON_CreateArray()};
    char err[256] = "";
    size_t rows = 0;
    int rc = SNMPC_FAILURE;
    snmp_client *c = NULL;
    if (d.varbinds) {
        if (t.version == SNMP_CFG_V3)
            pthread_mutex_lock(&j->open_mu);
        c = snmp_client_open(&t, &j->stop, err, sizeof err);
        if (t.version == SNMP_CFG_V3)
            pthread_mutex_unlock(&j->open_mu);
    } else {
        snprintf(err, sizeof err, "out of memory");
    }
    if (c) {
        snmp_client_budget(c, t.max_poll_bytes);
        rc = walk ? snmp_client_walk(c, oid.ids, oid.len, direct_cb, &d, &rows, err, sizeof err)
                  : snmp_client_get(c, &oid, 1, direct_cb, &d, err, sizeof err);
        snmp_client_close(c);
    }
    if (j->limiter)
        snmp_limiter_release(j->limiter);
    bool ok = rc == SNMPC_OK || rc == SNMPC_LIMIT;
    cJSON *o = cJSON_CreateObject();
    bool built = o && add(o, "host", cJSON_CreateString(t.host)) && add(o, "port", cJSON_CreateNumber(t.port)) &&
                 add(o, "version", cJSON_CreateString(snmp_config_version_name(t.version))) &&
                 add(o, "oid", cJSON_CreateString(oidv->valuestring)) && add(o, "ok", cJSON_CreateBool(ok)) &&
                 add(o, "error", ok && rc == SNMPC_OK ? cJSON_CreateNull() : cJSON_CreateString(err));
    if (built && walk)
        built = add(o, "rows", u64(rows)) && add(o, "truncated", cJSON_CreateBool(rc == SNMPC_LIMIT));
    if (built) {
        built = cJSON_AddItemToObject(o, "varbinds", d.varbinds);
        if (built)
            d.varbinds = NULL;
    }
    built = built && add(o, "duration_ms", u64(snmp_jobs_now_ms() - start));
    cJSON_Delete(d.varbinds);
    snmp_target_clear(&t);
    if (!built) {
        cJSON_Delete(o);
        *answer = snmp_jobs_error("out of memory", NULL);
        return 500;
    }
    *answer = o;
    return 200;
}

int snmp_jobs_get(snmp_jobs *j, const cJSON *req, cJSON **answer)
{
    return direct(j, req, false, answer);
}

int snmp_jobs_walk(snmp_jobs *j, const cJSON *req, cJSON **answer)
{
    return direct(j, req, true, answer);
}

void snmp_jobs_count_answer(snmp_jobs *j, int status)
{
    for (size_t i = 0; i < NCODES; i++)
        if (ANSWER_CODES[i] == status)
            inc(&j->answers[i]);
}

/* ------------------------------------------------------------------ the hook */

static void jobs_stats(void *self, cJSON *into)
{
    snmp_jobs *j = self;
    const struct { const char *k; _Atomic uint64_t *v; } kv[] = {
        {"jobs_accepted", &j->accepted}, {"jobs_completed", &j->completed}, {"jobs_failed", &j->failed},
        {"jobs_cancelled", &j->cancelled}, {"jobs_rejected_full", &j->rejected_full},
        {"jobs_rejected_invalid", &j->rejected_invalid}, {"jobs_expired", &j->expired},
        {"jobs_evicted", &j->evicted}, {"direct_gets", &j->gets}, {"direct_walks", &j->walks},
        {"direct_busy", &j->busy}, {"events_sent", &j->events_sent}, {"events_dropped", &j->events_dropped}};
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        cJSON_AddItemToObject(into, kv[i].k, snmp_u64_json(get(kv[i].v)));
    cJSON *codes = cJSON_AddObjectToObject(into, "answers");
    for (size_t i = 0; codes && i < NCODES; i++) {
        char k[8];
        snprintf(k, sizeof k, "%d", ANSWER_CODES[i]);
        cJSON_AddItemToObject(codes, k, snmp_u64_json(get(&j->answers[i])));
    }
}

static int jobs_start(void *self, ring *out, char *err, size_t errlen) { return snmp_jobs_start(self, out, err, errlen); }
static void jobs_stop(void *self) { snmp_jobs_stop(self); }
static void jobs_destroy(void *self) { snmp_jobs_destroy(self); }

static const struct hook_ops JOBS_OPS = {
    .name = "snmp_jobs",
    .start = jobs_start,
    .stop = jobs_stop,
    .stats = jobs_stats,
    .destroy = jobs_destroy,
};

int hook_snmp_jobs_create(const struct config *cfg, struct hook *out, char *err, size_t errlen)
{
    if (!cfg->api_addr)
        return 0;
    snmp_client_lib_init();   /* main thread, before any thread starts */
    uint32_t conc = cfg->snmp_concurrency ? cfg->snmp_concurrency : 4;
    const struct snmp_jobs_limits lim = {
        .retention_s = cfg->api_job_retention_s,
        .max_retained = cfg->api_max_jobs,
        .max_queued = cfg->api_max_queued,
        .workers = conc < JOBS_MAX_WORKERS ? conc : JOBS_MAX_WORKERS,
    };
    snmp_jobs *j = snmp_jobs_create(&lim);
    if (!j) {
        snprintf(err, errlen, "out of memory");
        return -2;
    }
    out->ops = &JOBS_OPS;
    out->self = j;
    return 1;
}

snmp_jobs *snmp_jobs_of_hook(const struct hook *h)
{
    return h && h->ops == &JOBS_OPS ? h->self : NULL;
}
