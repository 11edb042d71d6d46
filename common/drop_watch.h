/*
 * drop_watch.h — one log line per episode of drops, not one per drop.
 *
 * Rings and the kernel buffer drop silently on the hot path (they only count).
 * main feeds each counter here once per tick; the first new drop after a quiet
 * spell logs a warning naming the counter, and a line follows when the drops
 * have stopped for a while, with the episode's total. Counts stay exact in the
 * counters; the log stays readable during a flood. Main thread only.
 */
#ifndef TRACER_DROP_WATCH_H
#define TRACER_DROP_WATCH_H

#include <stdbool.h>
#include <stdint.h>

struct drop_watch {
    const char *what;          /* "packet ring full: the processor cannot keep up" */
    const char *counter;       /* the counter's name in the summary and stats */
    uint64_t seen;             /* value at the last update */
    uint64_t episode_start;    /* value when the episode began */
    uint64_t last_drop_us;     /* monotonic time of the last increase */
    bool active;
};

/* Start watching a counter whose current value is `now_count`. */
void drop_watch_init(struct drop_watch *w, const char *what, const char *counter, uint64_t now_count);

/* Feed the counter's current value at monotonic time now_us (µs). */
void drop_watch_update(struct drop_watch *w, uint64_t count, uint64_t now_us);

/* Quiet spell that ends an episode. */
#define DROP_WATCH_QUIET_US (10u * 1000000u)

#endif
