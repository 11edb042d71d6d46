/*
 * reporter.c — drop episodes, periodic `sensor` events and the replay
 * progress line (see reporter.h).
 */
#include "cmd/reporter.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/sensor_stats.h"
#include "common/drop_watch.h"
#include "common/log.h"
#include "common/timefmt.h"
#include "hooks/hook.h"

enum { WATCH_KERNEL, WATCH_PACKET_RING, WATCH_EVENT_RINGS, WATCH_HOOK_RINGS, WATCH_COUNT };

struct reporter {
    const struct stages *st;
    struct drop_watch drops[WATCH_COUNT];
    uint64_t started_us;       /* monotonic */
    uint64_t next_stats_us;    /* monotonic; 0 = stats off */
    struct {                   /* replaying a file with stderr on a terminal */
        uint64_t file_size, next_us, last_us, last_frames;
    } progress;                /* file_size 0 = off */
};

reporter *reporter_create(const struct stages *st)
{
    reporter *r = calloc(1, sizeof *r);
    if (r)
        r->st = st;
    return r;
}

static void drop_counts(const reporter *r, uint64_t now[WATCH_COUNT])
{
    struct capture_stats cs;
    struct processor_stats ps;
    capture_get_stats(r->st->cap, &cs);
    processor_get_stats(r->st->proc, &ps);
    now[WATCH_KERNEL] = cs.kernel_dropped + cs.interface_dropped;
    now[WATCH_PACKET_RING] = cs.ring_drops;
    now[WATCH_EVENT_RINGS] = ps.events_dropped;
    now[WATCH_HOOK_RINGS] = ring_drops(r->st->stats_ring) + hook_set_ring_drops(r->st->hooks);
}

/* Replaying a file with stderr on a terminal: the line starts from the second second on. */
static void progress_start(reporter *r)
{
    struct stat st;
    const char *file = r->st->cfg->pcap_file;
    if (!file || !isatty(STDERR_FILENO) || stat(file, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0)
        return;
    r->progress.file_size = (uint64_t)st.st_size;
    r->progress.last_us = timefmt_mono_us();
    r->progress.next_us = r->progress.last_us + 1000000u;
}

void reporter_start(reporter *r)
{
    uint64_t now[WATCH_COUNT];
    drop_counts(r, now);
    drop_watch_init(&r->drops[WATCH_KERNEL], "kernel capture buffer full", "kernel_dropped", now[0]);
    drop_watch_init(&r->drops[WATCH_PACKET_RING], "packet ring full: the processor cannot keep up",
                    "packet_ring_drops", now[1]);
    drop_watch_init(&r->drops[WATCH_EVENT_RINGS], "event ring full: the sender cannot keep up",
                    "event_ring_drops", now[2]);
    drop_watch_init(&r->drops[WATCH_HOOK_RINGS], "hook ring full: the sender cannot keep up with a hook",
                    "hook ring drops", now[3]);
    r->started_us = timefmt_mono_us();
    if (r->st->cfg->stats_interval_ms)
        r->next_stats_us = r->started_us + (uint64_t)r->st->cfg->stats_interval_ms * 1000u;
    progress_start(r);
}

/* Gather every counter into a `sensor` event and hand it to the sender. */
static void emit_stats(reporter *r, bool final)
{
    const struct config *cfg = r->st->cfg;
    if (cfg->endpoint_url && !cfg->events_endpoint_url && !cfg->kafka_brokers && !cfg->stdout_also)
        return;   /* AGENT_ENDPOINT_URL carries flows only; main said so at start */
    cJSON *ev = sensor_stats_gather(r->st, (timefmt_mono_us() - r->started_us) / 1000000u, final);
    if (ev)
        hook_emit(r->st->stats_ring, ev);   /* a full ring frees it and counts the drop */
}

static void progress_update(reporter *r)
{
    uint64_t now = timefmt_mono_us();
    if (!r->progress.file_size || now < r->progress.next_us)
        return;
    struct capture_stats cs;
    capture_get_stats(r->st->cap, &cs);
    uint64_t pos = capture_file_pos(r->st->cap), size = r->progress.file_size;
    unsigned pct = (unsigned)(pos >= size ? 100 : pos * 100 / size);
    uint64_t rate = now > r->progress.last_us
                        ? (cs.frames - r->progress.last_frames) * 1000000u / (now - r->progress.last_us)
                        : 0;
    char line[200];
    snprintf(line, sizeof line, "reading %s: %3u%% (%llu/%llu MB), %llu packets, %llu packets/s",
             config_source_name(r->st->cfg), pct, (unsigned long long)(pos >> 20),
             (unsigned long long)(size >> 20), (unsigned long long)cs.frames, (unsigned long long)rate);
    log_status(line);
    r->progress.last_us = now;
    r->progress.last_frames = cs.frames;
    r->progress.next_us = now + 500000u;
}

void reporter_tick(reporter *r)
{
    uint64_t now[WATCH_COUNT];
    drop_counts(r, now);
    uint64_t t = timefmt_mono_us();
    for (int i = 0; i < WATCH_COUNT; i++)
        drop_watch_update(&r->drops[i], now[i], t);
    if (r->next_stats_us && t >= r->next_stats_us) {
        emit_stats(r, false);
        r->next_stats_us = timefmt_mono_us() + (uint64_t)r->st->cfg->stats_interval_ms * 1000u;
    }
    progress_update(r);
}

void reporter_end_capture(reporter *r)
{
    if (r->progress.file_size)
        log_status(NULL);
}

void reporter_emit_final(reporter *r)
{
    if (r->next_stats_us)
        emit_stats(r, true);
}

void reporter_destroy(reporter *r)
{
    free(r);
}
