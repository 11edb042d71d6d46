/*
 * snmp_jobs.h — on-demand SNMP work for the HTTP API (issue 17.1).
 *
 * Operators ask for a poll of a target that is not (or not now) in
 * AGENT_SNMP_CONFIG: a job is queued, gets an unguessable ticket, runs on one
 * of this module's worker threads (each takes a slot of the SNMP limiter it
 * shares with the poller, so AGENT_SNMP_CONCURRENCY bounds both together),
 * publishes its progress while it walks, can be cancelled, and when it ends
 * keeps its result for AGENT_API_JOB_RETENTION (at most AGENT_API_MAX_JOBS
 * finished jobs; the oldest finished goes first). The result is the same
 * `type: "snmp"` event the poller makes (snmp_collect_poll_watched), and a
 * finished job's event also goes into the event stream with a "job" field
 * holding its ticket: this module is a hook (hooks/hook.h) for that ring.
 * One GET and one walk are also answered directly (snmp_jobs_get/_walk).
 *
 * Every request function takes the parsed JSON body (borrowed; secrets in it
 * stay there, the caller wipes it) and returns an HTTP status with a new JSON
 * answer in *answer (caller frees; NULL only when out of memory). Errors are
 * {"error": "...", "field": "..."} (field on 400 only). Credentials never
 * appear in answers, events or logs. Request functions: any thread (the API
 * server's); they serialise on the module's mutex and never hold it while
 * talking to an agent.
 */
#ifndef TRACER_SNMP_JOBS_H
#define TRACER_SNMP_JOBS_H

#include <stddef.h>
#include <stdint.h>

#include "hooks/hook.h"
#include "hooks/snmp/snmp_limiter.h"

struct cJSON;
struct config;

typedef struct snmp_jobs snmp_jobs;

/* Tickets: 16 random bytes as 32 lowercase hex digits. */
#define SNMP_JOBS_TICKET_LEN 32

struct snmp_jobs_limits {
    uint32_t retention_s;      /* keep a finished job this long */
    uint32_t max_retained;     /* finished jobs kept at most */
    uint32_t max_queued;       /* jobs waiting for a worker at most (429 beyond) */
    uint32_t workers;          /* worker threads (each still needs a limiter slot) */
};

/* A job table (not started; no ring yet). NULL when out of memory. Main thread. */
snmp_jobs *snmp_jobs_create(const struct snmp_jobs_limits *lim);

/* The shared concurrency bound (outlives the jobs); without one, jobs run up to `workers` at once.
 * Main thread, before start. */
void snmp_jobs_set_limiter(snmp_jobs *j, snmp_limiter *l);

/* hook_create_fn: 1 when AGENT_API_ADDR is set (the API's jobs), 0 otherwise, -2 when out of memory. */
int hook_snmp_jobs_create(const struct config *cfg, struct hook *out, char *err, size_t errlen);

/* The jobs behind a hook made by hook_snmp_jobs_create, or NULL when `h` is another hook. */
snmp_jobs *snmp_jobs_of_hook(const struct hook *h);

/* POST /v1/snmp/jobs: 202 {"ticket", "status": "queued"}; 400; 429 (queue full); 503 (stopping). */
int snmp_jobs_submit(snmp_jobs *j, const struct cJSON *req, struct cJSON **answer);

/* GET /v1/snmp/jobs/{ticket}: 200 with the job's state (snmp_jobs.c describes it); 404. */
int snmp_jobs_status(snmp_jobs *j, const char *ticket, struct cJSON **answer);

/* DELETE /v1/snmp/jobs/{ticket}: cancels a queued or running job and waits (at most 2 s) until its
 * worker has let go; 200 with its state (cancelled, or what it was when it had already ended); 404. */
int snmp_jobs_cancel(snmp_jobs *j, const char *ticket, struct cJSON **answer);

/* POST /v1/snmp/get and /v1/snmp/walk: one OID ("oid") answered directly, in the calling thread,
 * after taking a limiter slot (429 when none frees within 10 s). 200 {"ok", "error", "varbinds", ...}. */
int snmp_jobs_get(snmp_jobs *j, const struct cJSON *req, struct cJSON **answer);
int snmp_jobs_walk(snmp_jobs *j, const struct cJSON *req, struct cJSON **answer);

/* Count one API answer by status code (for the hook's counters). Any thread. */
void snmp_jobs_count_answer(snmp_jobs *j, int status);

/* Drop finished jobs that ended more than the retention before `now_ms` (CLOCK_MONOTONIC ms;
 * snmp_jobs_now_ms()); every request does this with the current time. Returns how many. Any thread. */
size_t snmp_jobs_expire(snmp_jobs *j, uint64_t now_ms);
uint64_t snmp_jobs_now_ms(void);

/* Jobs in the table now (queued, running, finished). Any thread. */
size_t snmp_jobs_count(snmp_jobs *j);

/* Start the workers; finished jobs' events go into `out`. Main thread. */
int snmp_jobs_start(snmp_jobs *j, ring *out, char *err, size_t errlen);

/* Stop taking work: new jobs are refused (503), every job and every direct GET/walk in progress is
 * told to stop (each ends within about 100 ms). Does not wait. Any thread; NULL-safe. Called before
 * the API server stops, whose connection threads may be inside a direct walk. */
void snmp_jobs_interrupt(snmp_jobs *j);

/* Cancel every job (snmp_jobs_interrupt), stop and join the workers. Main thread. */
void snmp_jobs_stop(snmp_jobs *j);

/* NULL-safe; after stop. */
void snmp_jobs_destroy(snmp_jobs *j);

/* The error answer {"error": msg, "field": field (omitted when NULL)}. NULL when out of memory. */
struct cJSON *snmp_jobs_error(const char *msg, const char *field);

#endif
