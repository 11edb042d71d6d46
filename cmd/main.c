/*
 * main.c — tracer-sensor: configuration, threads, signals, shutdown.
 *
 * main is the only place that exits. It validates the configuration (exit 2
 * on any problem, before a thread starts), builds the rings and the stages,
 * starts one thread per stage (capture, processor, janitor, sender), and waits
 * for SIGINT/SIGTERM or the end of the pcap file with sigtimedwait (the
 * signals are blocked in every thread, so no async handler is needed). Shutdown
 * runs in pipeline order so nothing in flight is lost: capture stops, the
 * processor drains its ring, the janitor stops, every open flow is ended
 * ("shutdown"), the sender drains every ring and flushes, then the last log
 * line says what was read, made and delivered.
 */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "capture/capture.h"
#include "common/drop_watch.h"
#include "cmd/privileges.h"
#include "cmd/sensor_probe.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/ring.h"
#include "common/timefmt.h"
#include "config/config.h"
#include "hooks/hook.h"
#include "hooks/snmp_poller.h"
#include "hooks/snmp_trap.h"
#include "hooks/topology.h"
#include "models/flow_event.h"
#include "models/sensor_stats.h"
#include "processor/processor.h"
#include "sender/sender.h"

extern char **environ;

/* Exit statuses: 3 and 4 say that not every event reached the endpoint. */
enum { EXIT_RUNTIME = 1, EXIT_CONFIG = 2, EXIT_SPOOLED = 3, EXIT_DROPPED = 4 };

/* Every hook this build knows; each decides from the configuration whether it runs. */
static const hook_create_fn HOOK_CREATORS[] = {
    topology_hook_create,
    hook_snmp_poller_create,
    hook_snmp_trap_create,
    NULL
};
#define MAX_HOOKS 8

struct hook_slot {
    struct hook hook;
    ring *ring;
    bool started;
};

struct sensor {
    struct config *cfg;
    ring *pkt_ring, *ev_proc, *ev_janitor;
    capture *cap;
    processor *proc;
    sender *snd;
    struct flow_event_ctx ctx;
    pthread_t t_cap, t_proc, t_jan, t_snd;
    pthread_t t_watch;              /* during shutdown: a second signal exits at once */
    struct drop_watch drops[4];     /* kernel, packet ring, event rings, hook rings */
    atomic_bool shutdown_done;
    int cap_status;
    struct hook_slot hooks[MAX_HOOKS];
    size_t nhooks;
    ring *stats_ring;               /* main thread -> sender: "sensor" events */
    hostaddr_signal *addr_signal;   /* topology hook -> sender: addresses changed */
    uint64_t started_us;            /* monotonic */
    uint64_t next_stats_us;         /* monotonic; 0 = stats off */
    struct sensor_probe probe;      /* what the metrics server reads */
    metrics_server *metrics;        /* AGENT_METRICS_ADDR; NULL = off */
    struct progress {               /* replaying a file with stderr on a terminal */
        uint64_t file_size, next_us, last_us, last_frames;
    } progress;                     /* file_size 0 = off */
};

/* Create the configured hooks. Returns 0, or the exit status for a failure. */
static int create_hooks(struct sensor *s, char *err, size_t errlen)
{
    for (size_t i = 0; HOOK_CREATORS[i] && s->nhooks < MAX_HOOKS; i++) {
        struct hook_slot *h = &s->hooks[s->nhooks];
        int rc = HOOK_CREATORS[i](s->cfg, &h->hook, err, errlen);
        if (rc < 0)
            return rc == -1 ? EXIT_CONFIG : EXIT_RUNTIME;
        if (rc == 0)
            continue;
        s->nhooks++;
        h->ring = ring_create(HOOK_RING_SLOTS, sizeof(struct sender_json_msg), err, errlen);
        if (!h->ring || sender_add_json_ring(s->snd, h->ring, err, errlen) != 0)
            return EXIT_RUNTIME;
    }
    return 0;
}

/* Start every hook (after the sender runs). Returns 0 or -1 with a message. */
static int start_hooks(struct sensor *s, char *err, size_t errlen)
{
    for (size_t i = 0; i < s->nhooks; i++) {
        struct hook_slot *h = &s->hooks[i];
        if (h->hook.ops->start(h->hook.self, h->ring, err, errlen) != 0)
            return -1;
        h->started = true;
        log_info("hook %s started", h->hook.ops->name);
    }
    return 0;
}

/* Stop the started hooks, newest first; nothing is pushed to their rings after. */
static void stop_hooks(struct sensor *s)
{
    for (size_t i = s->nhooks; i-- > 0;) {
        struct hook_slot *h = &s->hooks[i];
        if (h->started)
            h->hook.ops->stop(h->hook.self);
        h->started = false;
    }
}

/* The capture and sender wrappers clear their "running" mark (for /healthz) when the body returns. */
static void *capture_thread(void *arg)
{
    struct sensor *s = arg;
    s->cap_status = capture_run(s->cap);
    atomic_store(&s->probe.capture_running, false);
    return NULL;
}

static void *processor_thread(void *arg) { processor_run(arg); return NULL; }
static void *janitor_thread(void *arg) { processor_janitor_run(arg); return NULL; }

static void *sender_thread(void *arg)
{
    struct sensor *s = arg;
    sender_run(s->snd);
    atomic_store(&s->probe.sender_running, false);
    return NULL;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* The metrics server (AGENT_METRICS_ADDR) and the probe it reads the stages through. */
static int build_metrics(struct sensor *s, char *err, size_t errlen)
{
    struct sensor_probe *p = &s->probe;
    p->cap = s->cap;
    p->proc = s->proc;
    p->snd = s->snd;
    for (size_t i = 0; i < s->nhooks && i < SENSOR_PROBE_MAX_HOOKS; i++) {
        p->hooks[p->nhooks++] = &s->hooks[i].hook;
        p->hook_rings[p->nhook_rings++] = s->hooks[i].ring;
    }
    p->hook_rings[p->nhook_rings++] = s->stats_ring;
    p->started_us = timefmt_mono_us();
    if (!s->cfg->metrics_addr)
        return 0;
    const struct metrics_source src = {sensor_probe_collect, sensor_probe_healthy, p};
    s->metrics = metrics_create(s->cfg->metrics_addr, TRACER_VERSION, &src, err, errlen);
    return s->metrics ? 0 : EXIT_CONFIG;
}

/* Build every stage and hook. Returns 0, or the exit status (message in err). */
static int build(struct sensor *s, char *err, size_t errlen)
{
    const struct config *cfg = s->cfg;
    s->pkt_ring = ring_create(cfg->packet_ring_slots, sizeof(struct pkt_record), err, errlen);
    if (!s->pkt_ring)
        return EXIT_RUNTIME;
    s->ev_proc = ring_create(cfg->event_ring_slots, sizeof(struct flow_event), err, errlen);
    if (!s->ev_proc)
        return EXIT_RUNTIME;
    s->ev_janitor = ring_create(cfg->event_ring_slots, sizeof(struct flow_event), err, errlen);
    if (!s->ev_janitor)
        return EXIT_RUNTIME;
    s->cap = capture_create(cfg, s->pkt_ring, err, errlen);
    if (!s->cap)
        return EXIT_RUNTIME;
    s->proc = processor_create(cfg, s->pkt_ring, s->ev_proc, s->ev_janitor, cfg->pcap_file != NULL,
                               err, errlen);
    if (!s->proc)
        return EXIT_RUNTIME;
    s->ctx.interface = cfg->interface ? cfg->interface : base_name(cfg->pcap_file);
    s->ctx.hostname = cfg->hostname;
    s->ctx.community_seed = cfg->community_id_seed;
    ring *const rings[] = {s->ev_proc, s->ev_janitor};
    s->snd = sender_create(cfg, rings, 2, &s->ctx, stdout, err, errlen);
    if (!s->snd)
        return EXIT_RUNTIME;
    s->stats_ring = ring_create(64, sizeof(struct sender_json_msg), err, errlen);
    if (!s->stats_ring || sender_add_json_ring(s->snd, s->stats_ring, err, errlen) != 0)
        return EXIT_RUNTIME;
    int rc = create_hooks(s, err, errlen);
    if (rc != 0)
        return rc;
    /* The topology hook decodes LLDP/CDP (the capture copies those frames into
     * its ring) and tells the sender when the host's addresses change. */
    s->addr_signal = hostaddr_signal_create();
    if (!s->addr_signal) {
        snprintf(err, errlen, "out of memory");
        return EXIT_RUNTIME;
    }
    sender_follow_addr_signal(s->snd, s->addr_signal);
    for (size_t i = 0; i < s->nhooks; i++) {
        ring *l2 = topology_hook_l2_ring(&s->hooks[i].hook);
        if (l2)
            capture_set_l2_ring(s->cap, l2);
        topology_hook_set_addr_signal(&s->hooks[i].hook, s->addr_signal);
    }
    return build_metrics(s, err, errlen);
}

static void teardown(struct sensor *s)
{
    metrics_destroy(s->metrics);   /* first: its callbacks read the stages */
    for (size_t i = 0; i < s->nhooks; i++)
        s->hooks[i].hook.ops->destroy(s->hooks[i].hook.self);
    sender_destroy(s->snd);   /* frees what is left in the hook and stats rings */
    ring_destroy(s->stats_ring);
    hostaddr_signal_destroy(s->addr_signal);
    for (size_t i = 0; i < s->nhooks; i++)
        ring_destroy(s->hooks[i].ring);
    processor_destroy(s->proc);
    capture_destroy(s->cap);
    ring_destroy(s->ev_janitor);
    ring_destroy(s->ev_proc);
    ring_destroy(s->pkt_ring);
}

/* Returns how many of the four threads started (4 = all). */
static int start_threads(struct sensor *s)
{
    /* Sender first, capture last: every consumer is running before its producer. */
    atomic_store(&s->probe.sender_running, true);
    if (pthread_create(&s->t_snd, NULL, sender_thread, s) != 0) {
        atomic_store(&s->probe.sender_running, false);
        return 0;
    }
    if (pthread_create(&s->t_jan, NULL, janitor_thread, s->proc) != 0)
        return 1;
    if (pthread_create(&s->t_proc, NULL, processor_thread, s->proc) != 0)
        return 2;
    atomic_store(&s->probe.capture_running, true);
    if (pthread_create(&s->t_cap, NULL, capture_thread, s) != 0) {
        atomic_store(&s->probe.capture_running, false);
        return 3;
    }
    return 4;
}

/* Gather every counter into a "sensor" event and hand it to the sender (main thread). */
static void emit_stats(struct sensor *s, bool final)
{
    struct sensor_counters c = {.final = final};
    capture_get_stats(s->cap, &c.capture);
    processor_get_stats(s->proc, &c.processor);
    sender_get_stats(s->snd, &c.sender);
    c.uptime_s = (timefmt_mono_us() - s->started_us) / 1000000u;
    cJSON *ev = sensor_stats_json(&c);
    if (!ev)
        return;
    cJSON *hooks = cJSON_AddObjectToObject(ev, "hooks");
    for (size_t i = 0; hooks && i < s->nhooks; i++) {
        cJSON *h = cJSON_AddObjectToObject(hooks, s->hooks[i].hook.ops->name);
        if (h)
            s->hooks[i].hook.ops->stats(s->hooks[i].hook.self, h);
    }
    hook_emit(s->stats_ring, ev);   /* a full ring frees it and counts the drop */
}

static void maybe_emit_stats(struct sensor *s)
{
    if (!s->next_stats_us || timefmt_mono_us() < s->next_stats_us)
        return;
    emit_stats(s, false);
    s->next_stats_us = timefmt_mono_us() + (uint64_t)s->cfg->stats_interval_ms * 1000u;
}

/* Replaying a file with stderr on a terminal: a status line with the percent
 * of the file read and packets/s, from the second second on, twice a second. */
static void progress_start(struct sensor *s)
{
    struct stat st;
    if (!s->cfg->pcap_file || !isatty(STDERR_FILENO) || stat(s->cfg->pcap_file, &st) != 0 ||
        !S_ISREG(st.st_mode) || st.st_size <= 0)
        return;
    s->progress.file_size = (uint64_t)st.st_size;
    s->progress.last_us = timefmt_mono_us();
    s->progress.next_us = s->progress.last_us + 1000000u;
}

static void progress_update(struct sensor *s)
{
    struct progress *p = &s->progress;
    uint64_t now = timefmt_mono_us();
    if (!p->file_size || now < p->next_us)
        return;
    struct capture_stats cs;
    capture_get_stats(s->cap, &cs);
    uint64_t pos = capture_file_pos(s->cap);
    unsigned pct = (unsigned)(pos >= p->file_size ? 100 : pos * 100 / p->file_size);
    uint64_t rate = now > p->last_us ? (cs.frames - p->last_frames) * 1000000u / (now - p->last_us) : 0;
    char line[200];
    snprintf(line, sizeof line, "reading %s: %3u%% (%llu/%llu MB), %llu packets, %llu packets/s",
             base_name(s->cfg->pcap_file), pct, (unsigned long long)(pos >> 20),
             (unsigned long long)(p->file_size >> 20), (unsigned long long)cs.frames, (unsigned long long)rate);
    log_status(line);
    p->last_us = now;
    p->last_frames = cs.frames;
    p->next_us = now + 500000u;
}

/* SIGHUP: reopen AGENT_LOG_FILE (after logrotate moved it). */
static void reopen_log(void)
{
    int rc = log_reopen();
    if (rc == 0)
        log_info("SIGHUP: log file reopened");
    else if (rc < 0)
        log_warn("SIGHUP: cannot reopen the log file (%s); still writing to the old one", strerror(errno));
}

/*
 * A second SIGINT/SIGTERM while shutting down: the user does not want to wait
 * for the flush. Say what is lost, as exactly as can be read without waiting,
 * and exit at once (the spool on disk stays for the next start).
 */
static void *watch_thread(void *arg)
{
    struct sensor *s = arg;
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    for (;;) {
        int sig = 0;
        if (sigwait(&sigs, &sig) != 0)
            continue;
        if (atomic_load(&s->shutdown_done))
            return NULL;                       /* main's wake-up: the flush finished */
        if (sig == SIGHUP) {
            reopen_log();
            continue;
        }
        struct processor_stats ps;
        struct sender_stats ss;
        bool flows_known = processor_try_get_stats(s->proc, &ps) == 0;
        sender_get_stats(s->snd, &ss);
        uint64_t in_rings = ring_count(s->ev_proc) + ring_count(s->ev_janitor);
        for (size_t i = 0; i < s->nhooks; i++)
            in_rings += ring_count(s->hooks[i].ring);
        log_fields(LOG_ERROR, "second signal during shutdown: exiting now without flushing",
                   (const struct log_field[]){
                       LOG_STR("signal", sig == SIGINT ? "SIGINT" : "SIGTERM"),
                       LOG_STR("open_flows_lost", flows_known ? NULL : "unknown (table busy)"),
                       LOG_U64("open_flows", flows_known ? ps.table.active_flows : 0),
                       LOG_U64("packets_unprocessed", ring_count(s->pkt_ring)),
                       LOG_U64("events_in_rings", in_rings),
                       LOG_U64("events_in_memory_queue", ss.delivery.queue_events),
                       LOG_U64("events_delivered", ss.events_sent),
                       LOG_U64("events_dropped_before", ss.events_failed),
                       LOG_U64("events_in_spool", ss.delivery.spool_events),
                   },
                   9);
        _exit(EXIT_DROPPED);
    }
}

static uint64_t hook_ring_drops(const struct sensor *s)
{
    uint64_t n = ring_drops(s->stats_ring);
    for (size_t i = 0; i < s->nhooks; i++)
        n += ring_drops(s->hooks[i].ring);
    return n;
}

/* Log the start and end of drop episodes (main thread, every tick). */
static void watch_drops(struct sensor *s, bool init)
{
    struct capture_stats cs;
    struct processor_stats ps;
    capture_get_stats(s->cap, &cs);
    processor_get_stats(s->proc, &ps);
    const uint64_t now[4] = {cs.kernel_dropped + cs.interface_dropped, cs.ring_drops, ps.events_dropped,
                             hook_ring_drops(s)};
    if (init) {
        drop_watch_init(&s->drops[0], "kernel capture buffer full", "kernel_dropped", now[0]);
        drop_watch_init(&s->drops[1], "packet ring full: the processor cannot keep up", "packet_ring_drops",
                        now[1]);
        drop_watch_init(&s->drops[2], "event ring full: the sender cannot keep up", "event_ring_drops", now[2]);
        drop_watch_init(&s->drops[3], "hook ring full: the sender cannot keep up with a hook",
                        "hook ring drops", now[3]);
        return;
    }
    uint64_t t = timefmt_mono_us();
    for (int i = 0; i < 4; i++)
        drop_watch_update(&s->drops[i], now[i], t);
}

/* Wait for the end of the file or a signal; stop capture on a signal. */
static void wait_for_end(struct sensor *s, const sigset_t *sigs)
{
    const struct timespec tick = {0, 100 * 1000000L};
    progress_start(s);
    watch_drops(s, true);
    while (!capture_finished(s->cap)) {
        watch_drops(s, false);
        maybe_emit_stats(s);
        progress_update(s);
        int sig = sigtimedwait(sigs, NULL, &tick);
        if (sig == SIGHUP) {
            reopen_log();
            continue;
        }
        if (sig == SIGINT || sig == SIGTERM) {
            log_info("received %s: ending every open flow and flushing", sig == SIGINT ? "SIGINT" : "SIGTERM");
            capture_stop(s->cap);
            break;
        }
    }
    if (s->progress.file_size)
        log_status(NULL);
}

/* Pipeline-order shutdown; every stage drains before the next is told to stop. */
static void shutdown_pipeline(struct sensor *s)
{
    bool watching = pthread_create(&s->t_watch, NULL, watch_thread, s) == 0;
    pthread_join(s->t_cap, NULL);
    processor_input_done(s->proc);
    pthread_join(s->t_proc, NULL);
    processor_stop_janitor(s->proc);
    pthread_join(s->t_jan, NULL);
    processor_flush(s->proc);
    stop_hooks(s);
    if (s->next_stats_us)
        emit_stats(s, true);
    sender_finish(s->snd);
    pthread_join(s->t_snd, NULL);
    if (watching) {
        atomic_store(&s->shutdown_done, true);
        pthread_kill(s->t_watch, SIGHUP);      /* wakes its sigwait; it sees done and returns */
        pthread_join(s->t_watch, NULL);
    }
}

/*
 * Everything privileged is open (capture, trap socket, spool directory, log
 * file); no thread runs yet. Give up root and every capability but the two the
 * capture needs. Returns 0 or an exit status (message in err).
 */
static int drop_privileges(struct sensor *s, char *err, size_t errlen)
{
    struct priv_result pr;
    if (priv_drop(s->cfg->user, &pr, err, errlen) != 0)
        return EXIT_RUNTIME;
    if (s->cfg->spool_dir && access(s->cfg->spool_dir, W_OK | X_OK) != 0) {
        snprintf(err, errlen, "AGENT_SPOOL_DIR=%s: not writable by uid %u (AGENT_USER=%s): give that "
                 "user the directory (chown) or choose another", s->cfg->spool_dir, (unsigned)pr.uid,
                 s->cfg->user);
        return EXIT_CONFIG;
    }
    log_fields(LOG_INFO, "privileges",
               (const struct log_field[]){
                   LOG_STR("user", pr.switched ? s->cfg->user : "unchanged"),
                   LOG_U64("uid", pr.uid),
                   LOG_U64("gid", pr.gid),
                   LOG_STR("cap_net_raw", pr.net_raw ? "kept" : "no"),
                   LOG_STR("cap_net_admin", pr.net_admin ? "kept" : "no"),
                   LOG_STR("no_new_privs", "true"),
               },
               6);
    return 0;
}

/* 0 when every event reached its output, else EXIT_SPOOLED or EXIT_DROPPED. */
static int delivery_status(struct sensor *s)
{
    struct sender_stats ss;
    struct processor_stats ps;
    sender_get_stats(s->snd, &ss);
    processor_get_stats(s->proc, &ps);
    if (ss.events_failed || ss.json_errors || ps.events_dropped)
        return EXIT_DROPPED;
    if (ss.delivery.spool_events)
        return EXIT_SPOOLED;
    return 0;
}

static void log_summary(struct sensor *s)
{
    struct capture_stats cs;
    struct processor_stats ps;
    struct sender_stats ss;
    capture_get_stats(s->cap, &cs);
    processor_get_stats(s->proc, &ps);
    sender_get_stats(s->snd, &ss);
    const struct log_field f[] = {
        LOG_U64("frames", cs.frames), LOG_U64("decoded", cs.decode[DECODE_OK]),
        LOG_U64("truncated", cs.decode[DECODE_TRUNCATED]), LOG_U64("bad_header", cs.decode[DECODE_BAD_HEADER]),
        LOG_U64("not_ip", cs.decode[DECODE_NOT_IP]), LOG_U64("unsupported_link", cs.decode[DECODE_UNSUPPORTED_LINK]),
        LOG_U64("packet_ring_drops", cs.ring_drops), LOG_U64("kernel_received", cs.kernel_received),
        LOG_U64("kernel_dropped", cs.kernel_dropped), LOG_U64("interface_dropped", cs.interface_dropped),
        LOG_U64("file_truncated", cs.file_truncated), LOG_U64("interface_lost", cs.interface_lost),
        LOG_U64("reopens", cs.reopens), LOG_U64("flows", ps.table.flows_created),
        LOG_U64("records", ps.table.flows_ended + ps.table.interim_records),
        LOG_U64("interim", ps.table.interim_records), LOG_U64("evicted", ps.table.evicted),
        LOG_U64("frag_orphans", ps.table.frag_orphans), LOG_U64("flow_alloc_failures", ps.table.alloc_failures),
        LOG_U64("event_ring_drops", ps.events_dropped), LOG_U64("events_sent", ss.events_sent),
        LOG_U64("events_failed", ss.events_failed), LOG_U64("json_errors", ss.json_errors)};
    log_fields(LOG_INFO, "summary", f, sizeof f / sizeof f[0]);
}

/* The startup line: the version and every setting's effective value (secrets masked). */
static void log_configuration(const struct config *cfg)
{
    struct config_kv kv[64];
    struct log_field f[65];
    size_t n = config_describe(cfg, kv, 64);
    f[0] = LOG_STR("version", TRACER_VERSION);
    for (size_t i = 0; i < n; i++)
        f[i + 1] = LOG_STR(kv[i].var, kv[i].value);
    log_fields(LOG_INFO, "configuration", f, n + 1);
}

int main(int argc, char **argv)
{
    static char err[16384];
    int nerr = 0;
    struct config *cfg = config_load(argc, argv, environ, err, sizeof err, &nerr);
    if (!cfg) {
        size_t len = strlen(err);
        fprintf(stderr, "%s%s", err, len && err[len - 1] == '\n' ? "" : "\n");
        fprintf(stderr, "tracer-sensor: %d configuration problem%s; see tracer-sensor --help\n",
                nerr, nerr == 1 ? "" : "s");
        return EXIT_CONFIG;
    }
    if (cfg->show_help) {
        config_print_help(stdout);
        config_destroy(cfg);
        return 0;
    }
    if (cfg->show_version) {
        printf("tracer-sensor %s\n", TRACER_VERSION);
        config_destroy(cfg);
        return 0;
    }
    if (cfg->show_man) {
        config_print_man(stdout, TRACER_VERSION);
        config_destroy(cfg);
        return 0;
    }
    log_set_level((enum log_level)cfg->log_level);
    log_set_format(cfg->log_format == CFG_LOG_JSON ? LOG_FORMAT_JSON : LOG_FORMAT_LOGFMT);
    if (cfg->log_file && log_open_file(cfg->log_file) != 0) {
        fprintf(stderr, "AGENT_LOG_FILE=%s: cannot open: %s\n", cfg->log_file, strerror(errno));
        config_destroy(cfg);
        return EXIT_CONFIG;
    }
    log_configuration(cfg);

    /* Signals: SIGPIPE ignored (a closed stdout or socket is an error return);
     * SIGINT/SIGTERM/SIGHUP blocked here and so in every thread, taken by
     * sigtimedwait (and, during shutdown, by the watch thread). */
    signal(SIGPIPE, SIG_IGN);
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "tracer-sensor: libcurl initialisation failed\n");
        config_destroy(cfg);
        return EXIT_RUNTIME;
    }

    struct sensor s = {.cfg = cfg};
    int status = build(&s, err, sizeof err);
    if (status == EXIT_CONFIG) {
        fprintf(stderr, "%s\ntracer-sensor: 1 configuration problem; see tracer-sensor --help\n", err);
        goto out;
    }
    if (status != 0) {
        log_error("%s", err);
        goto out;
    }
    status = drop_privileges(&s, err, sizeof err);
    if (status != 0) {
        if (status == EXIT_CONFIG)
            fprintf(stderr, "%s\ntracer-sensor: 1 configuration problem; see tracer-sensor --help\n", err);
        else
            log_error("%s", err);
        goto out;
    }
    if (s.metrics) {
        if (metrics_start(s.metrics, err, sizeof err) != 0) {
            log_error("%s", err);
            status = EXIT_RUNTIME;
            goto out;
        }
        log_info("metrics: serving /metrics and /healthz on %s (port %u)", cfg->metrics_addr,
                 (unsigned)metrics_port(s.metrics));
    }
    s.started_us = timefmt_mono_us();
    if (cfg->stats_interval_ms)
        s.next_stats_us = s.started_us + (uint64_t)cfg->stats_interval_ms * 1000u;
    int started = start_threads(&s);
    if (started < 4) {
        /* The system refused a thread: stop the ones that run, in order. */
        log_error("cannot start threads: %s", strerror(errno));
        if (started >= 3) {
            processor_input_done(s.proc);
            pthread_join(s.t_proc, NULL);
        }
        if (started >= 2) {
            processor_stop_janitor(s.proc);
            pthread_join(s.t_jan, NULL);
        }
        if (started >= 1) {
            sender_finish(s.snd);
            pthread_join(s.t_snd, NULL);
        }
        status = EXIT_RUNTIME;
        goto out;
    }
    if (start_hooks(&s, err, sizeof err) != 0) {
        log_error("%s", err);
        status = EXIT_RUNTIME;
        capture_stop(s.cap);
    }
    if (cfg->pcap_file)
        log_info("tracer-sensor %s reading %s (link type %d), output %s", TRACER_VERSION, cfg->pcap_file,
                 capture_datalink(s.cap), cfg->endpoint_url ? "HTTP" : "stdout");
    else
        log_info("tracer-sensor %s capturing on %s (link type %d), output %s", TRACER_VERSION,
                 cfg->interface, capture_datalink(s.cap), cfg->endpoint_url ? "HTTP" : "stdout");

    wait_for_end(&s, &sigs);
    shutdown_pipeline(&s);
    log_summary(&s);
    if (s.cap_status < 0)
        status = EXIT_RUNTIME;
    else if (status == 0)
        status = delivery_status(&s);
out:
    teardown(&s);
    curl_global_cleanup();
    config_destroy(cfg);
    return status;
}
