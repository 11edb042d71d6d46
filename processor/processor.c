/*
 * processor.c — the processor and janitor threads (see processor.h).
 *
 * Locking: `lock` guards the flow table and nothing else. The processor holds
 * it for one burst of up to PROC_BURST records; the janitor holds it while it
 * collects at most JANITOR_CHUNK expired records into a local array, and pushes
 * them after unlocking. Records the processor makes inline (a packet hitting an
 * expired flow, evictions) are pushed from inside the burst: a ring push is a
 * copy, never a wait, except when replaying a file, where waiting is the point.
 *
 * Several capture rings (one per interface): a round pops one burst from
 * each and folds them merged by packet time, so a busy interface cannot
 * starve a quiet one and packets of one conversation seen on two interfaces
 * meet the table in time order within the round. One ring keeps the old path
 * (no copy).
 */
#include "processor.h"

#include <errno.h>
#include <stdint.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/payload.h"
#include "../common/timefmt.h"
#include "../config/config.h"

#define PROC_BURST 256u
#define JANITOR_CHUNK 512u
#define JANITOR_PERIOD_MS 50
#define FIN_LINGER_US 2000000u
/* Payload ring: 4096 slots of 2 KiB (8 MiB), 16 bursts of the capture's 256. */
#define PROC_PAYLOAD_SLOTS 4096u

struct processor {
    flow_table *table;
    pthread_mutex_t lock;          /* guards table */
    pthread_mutex_t wake_lock;     /* with wake: the janitor's sleep */
    pthread_cond_t wake;
    ring *in[PROCESSOR_MAX_INPUTS];
    size_t nin;
    ring *out_proc, *out_janitor;
    bool file_mode;
    atomic_bool input_done;
    atomic_bool janitor_stop;
    _Atomic uint64_t events_dropped;
    /* several inputs: each ring's burst, then the round merged by time */
    struct pkt_record *rbuf;       /* nin * PROC_BURST records (NULL when nin == 1) */
    struct pkt_record *merged;     /* nin * PROC_BURST records (NULL when nin == 1) */
    struct flow_event jbuf[JANITOR_CHUNK];    /* janitor only */
    struct flow_event fbuf[JANITOR_CHUNK];    /* processor_flush only */
    /* dpi (issue 15) */
    dpi *dpi;                      /* NULL when AGENT_DPI is off */
    payload_done *done;            /* detection-done hints for the capture */
    ring *payload[PROCESSOR_MAX_INPUTS]; /* capture port i -> processor payload slots (one per input) */
};

static void sleep_us(long us)
{
    struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

/*
 * Push n records. Replaying a file (and at shutdown, `wait`) waits for room;
 * live, what does not fit is dropped and counted.
 */
static void push_events(processor *p, ring *r, const struct flow_event *ev, uint32_t n, bool wait)
{
    uint32_t done = ring_push_burst_used(r, ev, sizeof *ev, n, flow_event_used);
    if (wait || p->file_mode) {
        while (done < n) {
            sleep_us(50);
            done += ring_push_burst_used(r, ev + done, sizeof *ev, n - done, flow_event_used);
        }
    } else if (done < n) {
        ring_count_drops(r, n - done);
        atomic_fetch_add_explicit(&p->events_dropped, n - done, memory_order_relaxed);
    }
}

static void emit_inline(void *arg, const struct flow_event *ev)
{
    processor *p = arg;
    push_events(p, p->out_proc, ev, 1, false);
}

/* What processor_create allocates besides the struct and its locks (NULL-safe parts). */
static void free_parts(processor *p)
{
    flow_table_destroy(p->table);
    free(p->rbuf);
    free(p->merged);
    dpi_destroy(p->dpi);
    for (size_t i = 0; i < PROCESSOR_MAX_INPUTS; i++)
        ring_destroy(p->payload[i]);
    payload_done_destroy(p->done);
}

processor *processor_create(const struct config *cfg, ring *const *in, size_t nin, ring *out_proc,
                            ring *out_janitor, bool file_mode, char *err, size_t errlen)
{
    if (nin == 0 || nin > PROCESSOR_MAX_INPUTS) {
        snprintf(err, errlen, "processor: %zu input rings (1 to %u)", nin, (unsigned)PROCESSOR_MAX_INPUTS);
        return NULL;
    }
    size_t need = flow_event_slot_size(cfg->dpi, cfg->flow_stats);
    if (!out_proc || !out_janitor || ring_slot_size(out_proc) < need || ring_slot_size(out_janitor) < need) {
        snprintf(err, errlen, "processor: the event rings' slots must hold %zu bytes (flow_event_slot_size)", need);
        return NULL;
    }
    processor *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "processor: out of memory");
        return NULL;
    }
    if (nin > 1) {
        p->rbuf = malloc(nin * PROC_BURST * sizeof *p->rbuf);
        p->merged = malloc(nin * PROC_BURST * sizeof *p->merged);
        if (!p->rbuf || !p->merged) {
            snprintf(err, errlen, "processor: out of memory");
            goto err;
        }
    }
    struct flow_table_cfg fc = {
        .tcp_idle_us = (uint64_t)cfg->tcp_idle_timeout_s * 1000000u,
        .udp_idle_us = (uint64_t)cfg->udp_idle_timeout_s * 1000000u,
        .other_idle_us = (uint64_t)cfg->idle_timeout_s * 1000000u,
        .active_us = (uint64_t)cfg->active_timeout_s * 1000000u,
        .linger_us = FIN_LINGER_US,
        .max_flows = cfg->max_flows,
        .ignore_vlan = !cfg->vlan_in_key,
        .flow_stats = cfg->flow_stats,
        .early_packets = (uint8_t)(cfg->flow_stats ? cfg->early_packets : 0),
        .tcp_health = cfg->tcp_health,
    };
    p->table = flow_table_create(&fc, err, errlen);
    if (!p->table)
        goto err;
    if (cfg->dpi) {
        /* a ring has one producer: one payload ring per input (capture port);
         * the done table only live: a file is replayed without hints (common/payload.h),
         * so keeping it would be a hash, a store and a clear per flow for nothing */
        if (!file_mode && !(p->done = payload_done_create(err, errlen)))
            goto err;
        for (size_t i = 0; i < nin; i++)
            if (!(p->payload[i] = ring_create(PROC_PAYLOAD_SLOTS, PAYLOAD_SLOT_SIZE, err, errlen)))
                goto err;
        p->dpi = dpi_create(cfg->dpi_flows, p->done, err, errlen);
        if (!p->dpi)
            goto err;
        flow_table_set_dpi(p->table, p->dpi, p->payload, nin);
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->wake, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&p->lock, NULL);
    pthread_mutex_init(&p->wake_lock, NULL);
    for (size_t i = 0; i < nin; i++)
        p->in[i] = in[i];
    p->nin = nin;
    p->out_proc = out_proc;
    p->out_janitor = out_janitor;
    p->file_mode = file_mode;
    atomic_init(&p->input_done, false);
    atomic_init(&p->janitor_stop, false);
    atomic_init(&p->events_dropped, 0);
    return p;
err:
    free_parts(p);
    free(p);
    return NULL;
}

void processor_destroy(processor *p)
{
    if (!p)
        return;
    free_parts(p);
    pthread_mutex_destroy(&p->lock);
    pthread_mutex_destroy(&p->wake_lock);
    pthread_cond_destroy(&p->wake);
    free(p);
}

/*
 * One round over several inputs: up to PROC_BURST records from each ring,
 * merged by timestamp (each ring's records are in its capture's order; ties
 * keep the lower ring first) into p->merged. Returns the count.
 */
static uint32_t pop_round(processor *p)
{
    uint32_t cnt[PROCESSOR_MAX_INPUTS], pos[PROCESSOR_MAX_INPUTS] = {0}, total = 0;
    for (size_t i = 0; i < p->nin; i++) {
        cnt[i] = ring_pop_burst(p->in[i], p->rbuf + i * PROC_BURST, PROC_BURST);
        total += cnt[i];
    }
    for (uint32_t k = 0; k < total; k++) {
        size_t best = SIZE_MAX;
        uint64_t best_ts = 0;
        for (size_t i = 0; i < p->nin; i++) {
            if (pos[i] == cnt[i])
                continue;
            uint64_t ts = p->rbuf[i * PROC_BURST + pos[i]].ts_us;
            if (best == SIZE_MAX || ts < best_ts) {
                best = i;
                best_ts = ts;
            }
        }
        p->merged[k] = p->rbuf[best * PROC_BURST + pos[best]++];
    }
    return total;
}

/* Records from the inputs: one ring's burst read in place (done_input frees
 * it), or a merged round. */
static uint32_t pop_input(processor *p, const struct pkt_record **recs)
{
    if (p->nin == 1) {
        uint32_t n;
        *recs = ring_peek_burst(p->in[0], PROC_BURST, &n);
        return n;
    }
    *recs = p->merged;
    return pop_round(p);
}

/* The n records pop_input gave were folded: free their slots. */
static void done_input(processor *p, uint32_t n)
{
    if (p->nin == 1)
        ring_release_burst(p->in[0], n);
}

int processor_run(processor *p)
{
    long idle_us = 0;
    for (;;) {
        const struct pkt_record *recs;
        uint32_t n = pop_input(p, &recs);
        if (n == 0) {
            /* input_done is stored after capture's last push (and a join), so
             * empty rings seen after it are really the end. */
            if (atomic_load_explicit(&p->input_done, memory_order_acquire) &&
                (n = pop_input(p, &recs)) == 0)
                return 0;
            if (n == 0) {
                idle_us = idle_us ? (idle_us < 2000 ? idle_us * 2 : 2000) : 50;
                sleep_us(idle_us);
                continue;
            }
        }
        idle_us = 0;
        pthread_mutex_lock(&p->lock);
        flow_table_packet_burst(p->table, recs, n, emit_inline, p);
        pthread_mutex_unlock(&p->lock);
        done_input(p, n);
    }
}

/* The time rules are applied at: packet time for a file, wall time live. */
static uint64_t janitor_now(const processor *p) { return p->file_mode ? 0 : timefmt_now_us(); }

int processor_janitor_run(processor *p)
{
    for (;;) {
        pthread_mutex_lock(&p->wake_lock);
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += JANITOR_PERIOD_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (!atomic_load(&p->janitor_stop)) {
            if (pthread_cond_timedwait(&p->wake, &p->wake_lock, &until) == ETIMEDOUT)
                break;
        }
        pthread_mutex_unlock(&p->wake_lock);
        if (atomic_load(&p->janitor_stop))
            return 0;

        size_t n;
        do {
            pthread_mutex_lock(&p->lock);
            n = flow_table_expire(p->table, janitor_now(p), p->jbuf, JANITOR_CHUNK);
            pthread_mutex_unlock(&p->lock);
            push_events(p, p->out_janitor, p->jbuf, (uint32_t)n, false);
        } while (n > 0 && !atomic_load(&p->janitor_stop));
    }
}

void processor_input_done(processor *p)
{
    atomic_store_explicit(&p->input_done, true, memory_order_release);
}

void processor_stop_janitor(processor *p)
{
    pthread_mutex_lock(&p->wake_lock);
    atomic_store(&p->janitor_stop, true);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->wake_lock);
}

uint64_t processor_flush(processor *p)
{
    uint64_t total = 0;
    size_t n;
    pthread_mutex_lock(&p->lock);
    if (!p->file_mode) {
        /* Live: what has expired by now ends as it would have, the rest "shutdown". */
        while ((n = flow_table_expire(p->table, timefmt_now_us(), p->fbuf, JANITOR_CHUNK)) > 0) {
            push_events(p, p->out_proc, p->fbuf, (uint32_t)n, true);
            total += n;
        }
    }
    while ((n = flow_table_flush(p->table, p->fbuf, JANITOR_CHUNK)) > 0) {
        push_events(p, p->out_proc, p->fbuf, (uint32_t)n, true);
        total += n;
    }
    pthread_mutex_unlock(&p->lock);
    return total;
}

/* dpi (issue 15): under the lock. */
static void stats_dpi(processor *p, struct processor_stats *out)
{
    memset(&out->dpi, 0, sizeof out->dpi);
    out->dpi_on = p->dpi != NULL;
    if (!p->dpi)
        return;
    dpi_get_stats(p->dpi, &out->dpi);
    flow_table_get_payload_stats(p->table, &out->payload_orphans, &out->payload_missing);
}

ring *const *processor_payload_rings(processor *p) { return p->dpi ? p->payload : NULL; }

payload_done *processor_payload_done(processor *p) { return p->done; }

int processor_try_get_stats(processor *p, struct processor_stats *out)
{
    if (pthread_mutex_trylock(&p->lock) != 0)
        return -1;
    flow_table_get_stats(p->table, &out->table);
    stats_dpi(p, out);
    pthread_mutex_unlock(&p->lock);
    out->events_dropped = atomic_load_explicit(&p->events_dropped, memory_order_relaxed);
    return 0;
}

void processor_get_stats(processor *p, struct processor_stats *out)
{
    pthread_mutex_lock(&p->lock);
    flow_table_get_stats(p->table, &out->table);
    stats_dpi(p, out);
    pthread_mutex_unlock(&p->lock);
    out->events_dropped = atomic_load_explicit(&p->events_dropped, memory_order_relaxed);
}
