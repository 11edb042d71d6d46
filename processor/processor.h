/*
 * processor.h — the processor and janitor threads around the flow table.
 *
 * The processor thread drains the capture ring in bursts and folds each burst
 * into the flow table under one mutex (taken per burst, not per packet). The
 * janitor thread wakes every 50 ms, takes the same mutex only to collect what
 * has expired, and pushes those records after releasing it. Each thread is the
 * single producer of its own event ring, which the sender drains.
 *
 * Time: reading a file, the table's clock is packet time and the janitor uses
 * it; live, the janitor uses wall time. Reading a file, a full event ring makes
 * the producer wait (nothing can be lost and there is no kernel buffer to
 * overflow); live, a full ring drops the record and counts it, so capture is
 * never stalled by a slow backend.
 */
#ifndef TRACER_PROCESSOR_H
#define TRACER_PROCESSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/ring.h"
#include "../common/payload.h"
#include "dpi.h"
#include "flow_table.h"

struct config;
typedef struct processor processor;

struct processor_stats {
    struct flow_table_stats table;
    uint64_t events_dropped;   /* records lost to full event rings (live only) */
    /* dpi (issue 15) */
    bool     dpi_on;           /* AGENT_DPI */
    struct dpi_stats dpi;
    uint64_t payload_orphans;  /* payload slots whose record was dropped */
    uint64_t payload_missing;  /* records whose payload slot was not there */
};

/* Capture rings one processor drains at most. */
#define PROCESSOR_MAX_INPUTS 16

/*
 * Create the processor for `cfg`. in[0..nin-1] carry pkt_records from the
 * captures (one ring per interface; 1 <= nin <= PROCESSOR_MAX_INPUTS);
 * `out_proc` and `out_janitor` carry flow_events to the sender (slot size
 * sizeof(struct flow_event)). `file_mode` picks packet time and waiting on full
 * rings. NULL with a message in err on failure. Main thread.
 *
 * Several input rings are drained in rounds: up to one burst from each ring
 * per round (no ring can starve another), and the round's records are folded
 * in timestamp order (a merge of the per-ring bursts, each already in capture
 * order), so interfaces interleave by packet time within a round.
 */
processor *processor_create(const struct config *cfg, ring *const *in, size_t nin, ring *out_proc,
                            ring *out_janitor, bool file_mode, char *err, size_t errlen);

/* NULL-safe; after both threads were joined. */
void processor_destroy(processor *p);

/* Processor thread body: returns 0 once processor_input_done() was called and every input is empty. */
int processor_run(processor *p);

/* Janitor thread body: returns 0 after processor_stop_janitor(). */
int processor_janitor_run(processor *p);

/* Capture has pushed its last record (call after joining the capture thread). */
void processor_input_done(processor *p);

/* Ask the janitor to return (any thread). */
void processor_stop_janitor(processor *p);

/*
 * Shutdown: after the processor and janitor threads were joined, apply the
 * timeout rules one last time and end every remaining flow, pushing the
 * records into `out_proc` (the calling thread becomes its producer). Returns
 * the number of records pushed.
 */
uint64_t processor_flush(processor *p);

/*
 * dpi (issue 15): the payload rings the capture threads must fill, one per
 * input ring and in the same order (ring i's producer is the capture port
 * that feeds input i), and the detection-done table they read; both NULL when
 * AGENT_DPI is off, the table NULL also when replaying a file (no hints there).
 * Owned by the processor. Main thread, before the threads start.
 */
ring *const *processor_payload_rings(processor *p);
payload_done *processor_payload_done(processor *p);

/* Any thread: counters (takes the table mutex briefly). */
void processor_get_stats(processor *p, struct processor_stats *out);

/* Like processor_get_stats but never waits: -1 when the table is busy. */
int processor_try_get_stats(processor *p, struct processor_stats *out);

#endif
