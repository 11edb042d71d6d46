/*
 * main.c — tracer-sensor: the start-up sequence, the wait, the teardown.
 *
 * main is the only place that exits. It validates the configuration (exit 2
 * on any problem, before a thread starts), builds the rings, stages and hooks
 * in pipeline order, gives up privileges, starts one thread per stage (every
 * consumer before its producer), and waits for SIGINT/SIGTERM or the end of
 * the pcap file. Shutdown runs in pipeline order so nothing in flight is
 * lost: capture stops, the processor drains its ring, the janitor stops,
 * every open flow is ended ("shutdown"), the hooks stop, the sender drains
 * every ring and flushes; then the summary says what was read, made and
 * delivered. What main delegates: hook lifecycle (hook_set), periodic
 * reporting (reporter), the lines and the exit status (summary), signals and
 * the second-signal watch (signals), the metrics bridge (sensor_probe).
 */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd/hook_set.h"
#include "cmd/privileges.h"
#include "cmd/reporter.h"
#include "cmd/sensor_probe.h"
#include "cmd/signals.h"
#include "cmd/stages.h"
#include "cmd/summary.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/timefmt.h"
#include "models/flow_event.h"

extern char **environ;

struct sensor {
    struct stages st;               /* what the helper modules read */
    struct flow_event_ctx ctx;
    hostaddr_signal *addr_signal;   /* topology hook -> sender: addresses changed */
    reporter *report;
    struct sensor_probe probe;      /* what the metrics server reads */
    metrics_server *metrics;        /* AGENT_METRICS_ADDR; NULL = off */
    pthread_t t_cap, t_proc, t_jan, t_snd;
    int cap_status;
};

/* The capture and sender wrappers clear their "running" mark (for /healthz) when the body returns. */
static void *capture_thread(void *arg)
{
    struct sensor *s = arg;
    s->cap_status = capture_run(s->st.cap);
    atomic_store(&s->probe.capture_running, false);
    return NULL;
}

static void *processor_thread(void *arg) { processor_run(arg); return NULL; }
static void *janitor_thread(void *arg) { processor_janitor_run(arg); return NULL; }

static void *sender_thread(void *arg)
{
    struct sensor *s = arg;
    sender_run(s->st.snd);
    atomic_store(&s->probe.sender_running, false);
    return NULL;
}

/* The metrics server (AGENT_METRICS_ADDR) and the probe it reads the stages through. */
static int build_metrics(struct sensor *s, char *err, size_t errlen)
{
    struct sensor_probe *p = &s->probe;
    p->cap = s->st.cap;
    p->proc = s->st.proc;
    p->snd = s->st.snd;
    p->hooks = s->st.hooks;
    p->stats_ring = s->st.stats_ring;
    p->started_us = timefmt_mono_us();
    if (!s->st.cfg->metrics_addr)
        return 0;
    const struct metrics_source src = {sensor_probe_collect, sensor_probe_healthy, p};
    s->metrics = metrics_create(s->st.cfg->metrics_addr, TRACER_VERSION, &src, err, errlen);
    return s->metrics ? 0 : EXIT_CONFIG;
}

/* Build every ring, stage and hook in pipeline order. Returns 0, or the exit status (message in err). */
static int build(struct sensor *s, char *err, size_t errlen)
{
    struct stages *st = &s->st;
    const struct config *cfg = st->cfg;
    if (!(st->pkt_ring = ring_create(cfg->packet_ring_slots, sizeof(struct pkt_record), err, errlen)) ||
        !(st->ev_proc = ring_create(cfg->event_ring_slots, sizeof(struct flow_event), err, errlen)) ||
        !(st->ev_janitor = ring_create(cfg->event_ring_slots, sizeof(struct flow_event), err, errlen)) ||
        !(st->stats_ring = ring_create(64, sizeof(struct sender_json_msg), err, errlen)))
        return EXIT_RUNTIME;
    if (!(st->cap = capture_create(cfg, st->pkt_ring, err, errlen)))
        return EXIT_RUNTIME;
    st->proc = processor_create(cfg, st->pkt_ring, st->ev_proc, st->ev_janitor, cfg->pcap_file != NULL,
                                err, errlen);
    if (!st->proc)
        return EXIT_RUNTIME;
    s->ctx.interface = config_source_name(cfg);
    s->ctx.hostname = cfg->hostname;
    s->ctx.community_seed = cfg->community_id_seed;
    ring *const rings[] = {st->ev_proc, st->ev_janitor};
    if (!(st->snd = sender_create(cfg, rings, 2, &s->ctx, stdout, err, errlen)) ||
        sender_add_json_ring(st->snd, st->stats_ring, err, errlen) != 0)
        return EXIT_RUNTIME;
    if (!(st->hooks = hook_set_create()) || !(s->addr_signal = hostaddr_signal_create()) ||
        !(s->report = reporter_create(st))) {
        snprintf(err, errlen, "out of memory");
        return EXIT_RUNTIME;
    }
    int rc = hook_set_build(st->hooks, cfg, st->snd, err, errlen);
    if (rc != 0)
        return rc == -1 ? EXIT_CONFIG : EXIT_RUNTIME;
    sender_follow_addr_signal(st->snd, s->addr_signal);
    hook_set_wire_topology(st->hooks, st->cap, s->addr_signal);
    return build_metrics(s, err, errlen);
}

static void teardown(struct sensor *s)
{
    metrics_destroy(s->metrics);    /* first: its callbacks read the stages */
    reporter_destroy(s->report);
    sender_destroy(s->st.snd);      /* frees what is left in the hook and stats rings */
    hook_set_destroy(s->st.hooks);
    ring_destroy(s->st.stats_ring);
    hostaddr_signal_destroy(s->addr_signal);
    processor_destroy(s->st.proc);
    capture_destroy(s->st.cap);
    ring_destroy(s->st.ev_janitor);
    ring_destroy(s->st.ev_proc);
    ring_destroy(s->st.pkt_ring);
}

/* Sender first, capture last: every consumer runs before its producer. Returns 0 or EXIT_RUNTIME
 * (message in err); when the system refuses a thread, the ones that run are stopped in order. */
static int start_threads(struct sensor *s, char *err, size_t errlen)
{
    struct stages *st = &s->st;
    int started = 0;
    atomic_store(&s->probe.sender_running, true);
    if (pthread_create(&s->t_snd, NULL, sender_thread, s) == 0 && ++started &&
        pthread_create(&s->t_jan, NULL, janitor_thread, st->proc) == 0 && ++started &&
        pthread_create(&s->t_proc, NULL, processor_thread, st->proc) == 0 && ++started) {
        atomic_store(&s->probe.capture_running, true);
        if (pthread_create(&s->t_cap, NULL, capture_thread, s) == 0)
            return 0;
    }
    snprintf(err, errlen, "cannot start threads: %s", strerror(errno));
    atomic_store(&s->probe.capture_running, false);
    if (started >= 3) {
        processor_input_done(st->proc);
        pthread_join(s->t_proc, NULL);
    }
    if (started >= 2) {
        processor_stop_janitor(st->proc);
        pthread_join(s->t_jan, NULL);
    }
    if (started >= 1) {
        sender_finish(st->snd);
        pthread_join(s->t_snd, NULL);
    }
    atomic_store(&s->probe.sender_running, false);
    return EXIT_RUNTIME;
}

/* Wait for the end of the file or a signal, reporting every tick; stop capture on a signal. */
static void wait_for_end(struct sensor *s, const sigset_t *sigs)
{
    const struct timespec tick = {0, 100 * 1000000L};
    while (!capture_finished(s->st.cap)) {
        reporter_tick(s->report);
        int sig = sigtimedwait(sigs, NULL, &tick);
        if (sig == SIGHUP)
            signals_reopen_log();
        if (sig == SIGINT || sig == SIGTERM) {
            log_info("received %s: ending every open flow and flushing", sig == SIGINT ? "SIGINT" : "SIGTERM");
            capture_stop(s->st.cap);
            break;
        }
    }
    reporter_end_capture(s->report);
}

/* Pipeline-order shutdown; every stage drains before the next is told to stop. */
static void shutdown_pipeline(struct sensor *s)
{
    signal_watch *watch = signal_watch_start(&s->st);
    pthread_join(s->t_cap, NULL);
    processor_input_done(s->st.proc);
    pthread_join(s->t_proc, NULL);
    processor_stop_janitor(s->st.proc);
    pthread_join(s->t_jan, NULL);
    processor_flush(s->st.proc);
    hook_set_stop(s->st.hooks);
    reporter_emit_final(s->report);
    sender_finish(s->st.snd);
    pthread_join(s->t_snd, NULL);
    signal_watch_stop(watch);
}

/*
 * Everything privileged is open (capture, trap socket, spool directory, log
 * file); no thread runs yet. Give up root and every capability but the two the
 * capture needs. Returns 0 or an exit status (message in err).
 */
static int drop_privileges(const struct config *cfg, char *err, size_t errlen)
{
    struct priv_result pr;
    if (priv_drop(cfg->user, &pr, err, errlen) != 0)
        return EXIT_RUNTIME;
    if (cfg->spool_dir && access(cfg->spool_dir, W_OK | X_OK) != 0) {
        snprintf(err, errlen, "AGENT_SPOOL_DIR=%s: not writable by uid %u (AGENT_USER=%s): give that "
                 "user the directory (chown) or choose another", cfg->spool_dir, (unsigned)pr.uid, cfg->user);
        return EXIT_CONFIG;
    }
    log_fields(LOG_INFO, "privileges",
               (const struct log_field[]){
                   LOG_STR("user", pr.switched ? cfg->user : "unchanged"),
                   LOG_U64("uid", pr.uid),
                   LOG_U64("gid", pr.gid),
                   LOG_STR("cap_net_raw", pr.net_raw ? "kept" : "no"),
                   LOG_STR("cap_net_admin", pr.net_admin ? "kept" : "no"),
                   LOG_STR("no_new_privs", "true"),
               },
               6);
    return 0;
}

/* --help, --version, --man: print and return true. */
static bool print_info(const struct config *cfg)
{
    if (cfg->show_help)
        config_print_help(stdout);
    else if (cfg->show_version)
        printf("tracer-sensor %s\n", TRACER_VERSION);
    else if (cfg->show_man)
        config_print_man(stdout, TRACER_VERSION);
    return cfg->show_help || cfg->show_version || cfg->show_man;
}

static void report_error(int status, const char *err)
{
    if (status == EXIT_CONFIG)
        fprintf(stderr, "%s\ntracer-sensor: 1 configuration problem; see tracer-sensor --help\n", err);
    else
        log_error("%s", err);
}

/* Open the log, build, drop privileges, start the metrics server. Returns 0 or an exit status. */
static int prepare(struct sensor *s, char *err, size_t errlen)
{
    const struct config *cfg = s->st.cfg;
    log_set_level((enum log_level)cfg->log_level);
    log_set_format(cfg->log_format == CFG_LOG_JSON ? LOG_FORMAT_JSON : LOG_FORMAT_LOGFMT);
    if (cfg->log_file && log_open_file(cfg->log_file) != 0) {
        snprintf(err, errlen, "AGENT_LOG_FILE=%s: cannot open: %s", cfg->log_file, strerror(errno));
        return EXIT_CONFIG;
    }
    summary_log_configuration(cfg);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, errlen, "libcurl initialisation failed");
        return EXIT_RUNTIME;
    }
    int status = build(s, err, errlen);
    if (status == 0)
        status = drop_privileges(cfg, err, errlen);
    if (status == 0 && s->metrics) {
        if (metrics_start(s->metrics, err, errlen) != 0)
            return EXIT_RUNTIME;
        log_info("metrics: serving /metrics and /healthz on %s (port %u)", cfg->metrics_addr,
                 (unsigned)metrics_port(s->metrics));
    }
    return status;
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
    if (print_info(cfg)) {
        config_destroy(cfg);
        return 0;
    }
    sigset_t sigs;
    signals_setup(&sigs);   /* before any thread: every thread inherits the mask */

    struct sensor s = {.st.cfg = cfg};
    int status = prepare(&s, err, sizeof err);
    if (status == 0)
        status = start_threads(&s, err, sizeof err);
    if (status != 0) {
        report_error(status, err);
        goto out;
    }
    reporter_start(s.report);
    if (hook_set_start(s.st.hooks, err, sizeof err) != 0) {
        log_error("%s", err);
        status = EXIT_RUNTIME;
        capture_stop(s.st.cap);
    }
    static const char *const bodies[] = {"one event per POST", "arrays", "NDJSON"};
    log_info("tracer-sensor %s %s %s (link type %d), output %s%s%s%s", TRACER_VERSION,
             cfg->pcap_file ? "reading" : "capturing on", cfg->pcap_file ? cfg->pcap_file : cfg->interface,
             capture_datalink(s.st.cap), cfg->endpoint_url ? "HTTP (flows, " : "stdout (every event)",
             cfg->endpoint_url ? bodies[cfg->http_body] : "", cfg->endpoint_url ? ")" : "",
             !cfg->endpoint_url ? ""
             : cfg->events_endpoint_url ? "; other events to AGENT_EVENTS_ENDPOINT_URL"
                                        : "; sensor and hook events are not sent: set AGENT_EVENTS_ENDPOINT_URL "
                                          "to send them");

    wait_for_end(&s, &sigs);
    shutdown_pipeline(&s);
    summary_log_end(&s.st);
    if (s.cap_status < 0)
        status = EXIT_RUNTIME;
    else if (status == 0)
        status = summary_delivery_status(&s.st);
out:
    teardown(&s);
    curl_global_cleanup();
    config_destroy(cfg);
    return status;
}
