/*
 * drop_watch.c — one log line per episode of drops (see drop_watch.h).
 */
#include "drop_watch.h"

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
            log_warn("%s: dropping (counted as %s; logged once until it stops)", w->what, w->counter);
        }
        w->last_drop_us = now_us;
        w->seen = count;
        return;
    }
    if (w->active && now_us - w->last_drop_us >= DROP_WATCH_QUIET_US) {
        w->active = false;
        log_info("%s: stopped dropping; %llu dropped in that episode (%s)", w->what,
                 (unsigned long long)(w->seen - w->episode_start), w->counter);
    }
}
