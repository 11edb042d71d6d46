/*
 * reporter.h — what the main thread reports while the sensor runs.
 *
 * Three periodic duties, each cheap, run from main's wait loop every tick
 * (about 100 ms): the start and end of drop episodes (one log line each, see
 * common/drop_watch.h), the `sensor` event every AGENT_STATS_INTERVAL, and,
 * when a file is replayed with stderr on a terminal, a progress line with
 * the percent read and packets/s. Main thread only.
 */
#ifndef TRACER_REPORTER_H
#define TRACER_REPORTER_H

#include <stdbool.h>

#include "cmd/stages.h"

typedef struct reporter reporter;

/* `st` is borrowed and must outlive the reporter. Returns NULL when out of memory. */
reporter *reporter_create(const struct stages *st);

/* The pipeline starts now: the clock for uptime, the first stats event, the progress line. */
void reporter_start(reporter *r);

/* One tick: drop episodes, a stats event when due, the progress line. */
void reporter_tick(reporter *r);

/* Capture ended: clear the progress line. Then, when stats are on, the final event. */
void reporter_end_capture(reporter *r);
void reporter_emit_final(reporter *r);

void reporter_destroy(reporter *r);   /* NULL-safe */

#endif
