/*
 * main.c — tracer-sensor: the start-up sequence, the wait, the teardown.
 *
 * main is the only place that exits. It validates the configuration (exit 2
 * on any problem, before a thread starts), raises the capabilities it holds
 * for the set-up, builds the rings, stages and hooks in pipeline order, gives
 * up privileges and lowers every capability (threads raise one per call:
 * common/caps.h), starts one thread per stage (every consumer before its
 * producer) and the hooks, enters the seccomp allow-list (common/sandbox.h),
 * and waits for SIGINT/SIGTERM or the end of the pcap file. Shutdown runs in pipeline order so nothing in flight is
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

#include "cmd/control_api.h"
#include "cmd/dump_request.h"
#include "cmd/hook_set.h"
#include "cmd/once.h"
#include "cmd/privileges.h"
#include "cmd/reporter.h"
#include "cmd/sensor_identity.h"
#include "cmd/sensor_probe.h"
#include "cmd/signals.h"
#include "cmd/stages.h"
#include "cmd/summary.h"
#include "common/caps.h"
#include "common/identity.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/sandbox.h"
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
    control_api *api;               /* the SNMP limiter and AGENT_API_ADDR (issue 17.1) */
    pthread_t t_cap, t_proc, t_jan, t_snd;
    int cap_status;
    char sensor_id[IDENTITY_MAX + 1];   /* every event's sensor_id (ctx points here) */
    bool once;                      /* --once sensor: set up, print, tear down (no thread, no listener) */
};

/* The capture and sender wrappers clear their "running" mark (for /healthz) when the body returns. */
static void *capture_thread(void *arg)
{
    struct sensor *s = arg;
    caps_thread_init("capture");       /* CAP_NET_RAW is raised only to reopen the interface */
    s->cap_status = capture_run(s->st.cap);
    atomic_store(&s->probe.capture_running, false);
    return NULL;
}

static void *processor_thread(void *arg)
{
    caps_thread_init("processor");
    processor_run(arg);
    return NULL;
}

static void *janitor_thread(void *arg)
{
    caps_thread_init("janitor");
    processor_janitor_run(arg);
    return NULL;
}

static void *sender_thread(void *arg)
{
    struct sensor *s = arg;
    caps_thread_init("sender");
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
    st->n_pkt_rings = cfg->pcap_file ? 1 : cfg->interface_count;   /* one per interface */
    for (size_t i = 0; i < st->n_pkt_rings; i++)
        if (!(st->pkt_rings[i] = ring_create(cfg->packet_ring_slots, sizeof(struct pkt_record), err, errlen)))
            return EXIT_RUNTIME;
    if (!(st->ifnames = ifnames_create())) {
        snprintf(err, errlen, "out of memory");
        return EXIT_RUNTIME;
    }
    /* event slots only as large as the configured groups can fill (flow_event_seal) */
    uint32_t ev_slot = (uint32_t)flow_event_slot_size(cfg->dpi, cfg->flow_stats);
    if (!(st->ev_proc = ring_create(cfg->event_ring_slots, ev_slot, err, errlen)) ||
        !(st->ev_janitor = ring_create(cfg->event_ring_slots, ev_slot, err, errlen)) ||
        !(st->stats_ring = ring_create(64, sizeof(struct sender_json_msg), err, errlen)))
        return EXIT_RUNTIME;
    if (!(st->cap = capture_create(cfg, st->pkt_rings, st->n_pkt_rings, st->ifnames, err, errlen)))
        return EXIT_RUNTIME;
    st->proc = processor_create(cfg, st->pkt_rings, st->n_pkt_rings, st->ev_proc, st->ev_janitor,
                                cfg->pcap_file != NULL, err, errlen);
    if (!st->proc)
        return EXIT_RUNTIME;
    /* dpi (issue 15): reading a file, no done hints, so labels never depend on thread timing */
    if (capture_set_payload(st->cap, processor_payload_rings(st->proc), st->n_pkt_rings,
                            cfg->pcap_file ? NULL : processor_payload_done(st->proc)) != 0) {
        snprintf(err, errlen, "capture: %zu payload rings do not match the capture ports", st->n_pkt_rings);
        return EXIT_RUNTIME;
    }
    s->ctx.interface = config_source_name(cfg);
    s->ctx.hostname = cfg->hostname;
    s->ctx.community_seed = cfg->community_id_seed;
    s->ctx.ifnames = st->ifnames;
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
    if (!(s->api = control_api_create(cfg, st->hooks, err, errlen)))
        return EXIT_CONFIG;
    return build_metrics(s, err, errlen);
}

static void teardown(struct sensor *s)
{
    metrics_destroy(s->metrics);    /* first: its callbacks read the stages */
    reporter_destroy(s->report);
    sender_destroy(s->st.snd);      /* frees what is left in the hook and stats rings */
    control_api_destroy(s->api);    /* after the hooks stopped: they share its limiter */
    hook_set_destroy(s->st.hooks);
    ring_destroy(s->st.stats_ring);
    hostaddr_signal_destroy(s->addr_signal);
    processor_destroy(s->st.proc);
    capture_destroy(s->st.cap);
    ring_destroy(s->st.ev_janitor);
    ring_destroy(s->st.ev_proc);
    for (size_t i = 0; i < s->st.n_pkt_rings; i++)
        ring_destroy(s->st.pkt_rings[i]);
    ifnames_destroy(s->st.ifnames);   /* after the sender and the captures: both read it */
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
            signals_hangup(&s->st);   /* log reopened, hook target files reloaded */
        if (sig == SIGUSR1)
            summary_log_counters(&s->st, "counters (SIGUSR1)");
        if (sig == SIGINT || sig == SIGTERM) {
            const char *name = sig == SIGINT ? "SIGINT" : "SIGTERM";
            char msg[80];
            snprintf(msg, sizeof msg, "received %s: ending every open flow and flushing", name);
            log_fields(LOG_INFO, msg, &LOG_STR("signal", name), 1);
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
    control_api_stop(s->api);       /* no request reaches a hook after this */
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
                   LOG_BOOL("cap_net_raw", pr.net_raw),
                   LOG_BOOL("cap_net_admin", pr.net_admin),
                   LOG_BOOL("no_new_privs", true),
               },
               6);
    return 0;
}

/*
 * Set-up phase: the capabilities the process may hold (file capabilities set
 * permitted-only, `setcap cap_net_raw,cap_net_admin+p`, or granted by the
 * container runtime or systemd) become effective in the main thread while the
 * capture, the trap socket and the rest are opened. A live capture without
 * CAP_NET_RAW can never work (no packet socket; no_new_privs keeps it from
 * ever being gained): say which capability is missing in one line and stop
 * (exit 2: restarting cannot help). Without CAP_NET_ADMIN only the kernel
 * WireGuard peers of the topology hook are lost: say so once, go on. File
 * replay, --version and --help need neither. Returns 0 or an exit status; on
 * EXIT_CONFIG the line is logged already and err is empty.
 */
static int raise_for_setup(const struct config *cfg, char *err, size_t errlen)
{
    caps_raise_permitted();   /* fails only without capabilities to raise: then nothing is effective */
    if (cfg->pcap_file)
        return 0;
    if (!caps_permitted(CAP_NET_RAW)) {
        log_error("CAP_NET_RAW missing: cannot capture on %s (packet sockets need it; the process's "
                  "bounding or permitted set lacks it): grant it (docker run --cap-add NET_RAW, systemd "
                  "AmbientCapabilities=CAP_NET_RAW, setcap cap_net_raw,cap_net_admin+p) or run as root",
                  cfg->interface ? cfg->interface : "the default interface");
        err[0] = '\0';
        (void)errlen;
        return EXIT_CONFIG;
    }
    if (cfg->topology_interval_s > 0 && !caps_permitted(CAP_NET_ADMIN))
        log_warn("CAP_NET_ADMIN missing: the topology hook cannot read kernel WireGuard peers "
                 "(everything else works; docker run --cap-add NET_ADMIN to have them)");
    return 0;
}

/* After the drop: no thread keeps an effective capability (threads inherit main's sets). */
static int lower_after_setup(char *err, size_t errlen)
{
    if (caps_lower_all() != 0) {
        snprintf(err, errlen, "cannot empty the effective capability set: %s", strerror(errno));
        return EXIT_RUNTIME;
    }
    return 0;
}

/*
 * Every thread runs and every privileged thing is open: from here on, calls
 * outside the allow-list fail with EPERM in every thread (common/sandbox.h).
 * AGENT_SECCOMP=false skips it. Returns 0 or EXIT_RUNTIME (message in err).
 */
static int enter_sandbox(const struct config *cfg, char *err, size_t errlen)
{
    if (!cfg->seccomp) {
        log_info("seccomp: off (AGENT_SECCOMP=false)");
        return 0;
    }
    if (sandbox_apply(true, err, errlen) != 0)
        return EXIT_RUNTIME;
    log_info("seccomp: allow-list on in every thread; other system calls fail with EPERM");
    return 0;
}

/* The line that says the sensor runs and where its events go, its values also as fields. */
static void log_started(const struct config *cfg, int link_type)
{
    static const char *const bodies[] = {"one event per POST", "arrays", "NDJSON"};
    const char *source = cfg->pcap_file ? cfg->pcap_file : cfg->interface;
    char msg[800], link[48], output[300];
    if (link_type >= 0)
        snprintf(link, sizeof link, "link type %d", link_type);
    else   /* an interface that is down at start: capture waits for it */
        snprintf(link, sizeof link, "link type not known until it is up");
    if (!cfg->endpoint_url)
        snprintf(output, sizeof output, "%s", cfg->kafka_brokers && !cfg->stdout_also ? "" : "stdout (every event)");
    else
        snprintf(output, sizeof output, "HTTP (flows, %s)%s", bodies[cfg->http_body],
                 cfg->events_endpoint_url ? "; other events to AGENT_EVENTS_ENDPOINT_URL"
                 : cfg->kafka_brokers || cfg->stdout_also ? "; other events not over HTTP"
                                          : "; sensor and hook events are not sent: set AGENT_EVENTS_ENDPOINT_URL "
                                            "to send them");
    size_t olen = strlen(output);
    if (cfg->endpoint_url && cfg->stdout_also && olen < sizeof output)   /* more outputs (issue 16) */
        olen += (size_t)snprintf(output + olen, sizeof output - olen, "; stdout (every event)");
    if (cfg->kafka_brokers && olen < sizeof output)
        snprintf(output + olen, sizeof output - olen, "%sKafka (flows to %s, other events to %s)", olen ? "; " : "",
                 cfg->kafka_topic_flow, cfg->kafka_topic_events);
    char outputs[64];   /* the outputs on, comma-separated (issue 16) */
    bool to_stdout = (!cfg->endpoint_url && !cfg->kafka_brokers) || cfg->stdout_also;
    snprintf(outputs, sizeof outputs, "%s%s%s%s%s", cfg->endpoint_url ? "http" : "",
             cfg->endpoint_url && (to_stdout || cfg->kafka_brokers) ? "," : "", to_stdout ? "stdout" : "",
             to_stdout && cfg->kafka_brokers ? "," : "", cfg->kafka_brokers ? "kafka" : "");
    snprintf(msg, sizeof msg, "tracer-sensor %s %s %s (%s), output %s", TRACER_VERSION,
             cfg->pcap_file ? "reading" : "capturing on", source, link, output);
    log_fields(LOG_INFO, msg,
               (const struct log_field[]){
                   LOG_STR("version", TRACER_VERSION),
                   LOG_STR(cfg->pcap_file ? "pcap_file" : "interface", source),
                   LOG_I64("link_type", link_type),
                   LOG_STR("output", outputs),
                   LOG_BOOL("other_events_sent", !cfg->endpoint_url || cfg->events_endpoint_url),
               },
               5);
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
    if (!err[0])
        return;   /* logged already */
    if (status == EXIT_CONFIG) {
        int n = 1;   /* one problem a line (the SNMP file reports every problem at once) */
        for (const char *p = err; (p = strchr(p, '\n')) && p[1]; p++)
            n++;
        fprintf(stderr, "%s\ntracer-sensor: %d configuration problem%s; see tracer-sensor --help\n", err, n,
                n == 1 ? "" : "s");
    } else
        log_error("%s", err);
}

/* Open the log, build, drop privileges, start the metrics server. Returns 0 or an exit status. */
static int prepare(struct sensor *s, char *err, size_t errlen)
{
    const struct config *cfg = s->st.cfg;
    log_set_level((enum log_level)cfg->log_level);
    log_set_format(cfg->log_format == CFG_LOG_JSON ? LOG_FORMAT_JSON : LOG_FORMAT_LOGFMT);
    if (cfg->log_file) {
        uid_t uid;
        gid_t gid;
        char why[512] = "";
        if (priv_target(cfg->user, &uid, &gid, err, errlen) != 0)
            return EXIT_CONFIG;
        if (log_open_file(cfg->log_file, uid, gid, why, sizeof why) != 0) {
            snprintf(err, errlen, "AGENT_LOG_FILE=%s: %s", cfg->log_file, why);
            return EXIT_CONFIG;
        }
    }
    for (const char *w = cfg->warnings; w && *w;) {   /* config's warnings, one line each */
        const char *nl = strchr(w, '\n');
        int n = nl ? (int)(nl - w) : (int)strlen(w);
        log_warn("%.*s", n, w);
        w += n + (nl != NULL);
    }
    summary_log_configuration(cfg);
    if (sensor_identity_setup(cfg, s->sensor_id, sizeof s->sensor_id, err, errlen) != 0)
        return EXIT_CONFIG;
    s->ctx.sensor_id = s->sensor_id;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, errlen, "libcurl initialisation failed");
        return EXIT_RUNTIME;
    }
    int status = raise_for_setup(cfg, err, errlen);
    if (status == 0)
        status = build(s, err, errlen);
    if (status == 0)
        status = drop_privileges(cfg, err, errlen);
    if (status == 0)
        status = lower_after_setup(err, errlen);
    if (status == 0 && s->metrics && !s->once) {
        if (metrics_start(s->metrics, err, errlen) != 0)
            return EXIT_RUNTIME;
        char msg[300];
        snprintf(msg, sizeof msg, "metrics: serving /metrics and /healthz on %s (port %u)", cfg->metrics_addr,
                 (unsigned)metrics_port(s->metrics));
        log_fields(LOG_INFO, msg,
                   (const struct log_field[]){LOG_STR("addr", cfg->metrics_addr),
                                              LOG_U64("port", metrics_port(s->metrics))},
                   2);
    }
    return status;
}

/*
 * --once sensor (issue 17.4): the whole set-up as configured (log, identity,
 * capabilities, capture opened, rings, sender and outputs, hooks created,
 * privileges dropped), so each problem shows as it would at start; then the
 * `sensor` event of that sensor, which never ran (counters zero), with its
 * "setup"; then the teardown. No thread starts, no metrics listener is bound,
 * nothing is captured or sent. Returns the exit status.
 */
static int run_once_sensor(struct config *cfg, char *err, size_t errlen)
{
    struct sensor s = {.st.cfg = cfg, .once = true};
    int status = prepare(&s, err, errlen);
    if (status == 0)
        status = once_print_sensor(&s.st, s.sensor_id, stdout, err, errlen);
    if (status != 0)
        report_error(status, err);
    teardown(&s);
    curl_global_cleanup();
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
    if (cfg->dump_request) {   /* --dump-request FILE: the request for a sample flow, then exit */
        int st = dump_request_run(cfg, err, sizeof err);
        if (st != 0)
            report_error(st, err);
        config_destroy(cfg);
        return st;
    }
    if (cfg->once == CFG_ONCE_SENSOR) {
        int st = run_once_sensor(cfg, err, sizeof err);
        config_destroy(cfg);
        return st;
    }
    if (cfg->once != CFG_ONCE_NONE) {   /* --once: one event on stdout, then exit */
        int st = once_run(cfg, stdout, err, sizeof err);
        if (st != 0)
            report_error(st, err);
        config_destroy(cfg);
        return st;
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
    if (hook_set_start(s.st.hooks, err, sizeof err) != 0 || control_api_start(s.api, err, sizeof err) != 0) {
        log_error("%s", err);
        status = EXIT_RUNTIME;
        capture_stop(s.st.cap);
    } else if (enter_sandbox(cfg, err, sizeof err) != 0) {
        log_error("%s", err);
        status = EXIT_RUNTIME;
        capture_stop(s.st.cap);
    }
    log_started(cfg, capture_datalink(s.st.cap));

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
