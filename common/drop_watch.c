/*
 * drop_watch.c — one log line per episode of drops (see drop_watch.h).
 */
#include "drop_watch.h"

#include <stdio.h>

#include "log.h"

void drop_watch_init(struct drop_watch *w, const char *what, const char *counter, uint64_t now_count)
{
    *w = (struct drop_watch){.what = what, .counter = counter, .seen = now_count};
}

void drop_watch_update(struct drop_watch *w, uint64_t count, uint64_t now_us)
{
    if (count > w->seen) {
        if (!w->active) {
            w->active = true;
            w->episode_start = w->seen;
            char msg[256];
            snprintf(msg, sizeof msg, "%s: dropping (counted as %s; logged once until it stops)", w->what,
                     w->counter);
            log_fields(LOG_WARN, msg, &LOG_STR("counter", w->counter), 1);
        }
        w->last_drop_us = now_us;
        w->seen = count;
        return;
    }
    if (w->active && now_us - w->last_drop_us >= DROP_WATCH_QUIET_US) {
        w->active = false;
        char msg[256];
        snprintf(msg, sizeof msg, "%s: stopped dropping; %llu dropped in that episode (%s)", w->what,
                 (unsigned long long)(w->seen - w->episode_start), w->counter);
        log_fields(LOG_INFO, msg,
                   (const struct log_field[]){LOG_STR("counter", w->counter),
                                              LOG_U64("dropped", w->seen - w->episode_start)},
                   2);
    }
}
