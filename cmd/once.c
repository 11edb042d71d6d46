/*
 * once.c — the one-shot modes (see once.h).
 */
#include "cmd/once.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cmd/privileges.h"
#include "models/flow_event.h"
#include "cmd/sensor_identity.h"
#include "cmd/sensor_stats.h"
#include "cmd/stages.h"
#include "common/caps.h"
#include "common/identity.h"
#include "common/log.h"
#include "common/timefmt.h"
#include "config/config.h"
#include "hooks/snmp/snmp_poller.h"
#include "hooks/topology/topology.h"

/* The fields the sender adds to every hook event, added here the same way. */
static bool decorate(cJSON *o, const struct config *cfg, const char *sensor_id)
{
    uint64_t r = 0;
    if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
        r = timefmt_now_us() ^ (uint64_t)getpid() << 32;
    char id[40], ts[40];
    snprintf(id, sizeof id, "%016" PRIx64 "-1", r);
    return cJSON_AddStringToObject(o, "event_id", id) && cJSON_AddNumberToObject(o, "schema_version", EVENT_SCHEMA_VERSION) &&
           cJSON_AddStringToObject(o, "hostname", cfg->hostname ? cfg->hostname : "") &&
           cJSON_AddStringToObject(o, "sensor_id", sensor_id) &&
           cJSON_AddStringToObject(o, "timestamp", timefmt_rfc3339(timefmt_now_us(), 3, ts, sizeof ts));
}

/* Add the common fields to `ev` (freed here) and write it as one line. Returns 0 or EXIT_RUNTIME. */
static int print_event(cJSON *ev, const struct config *cfg, const char *sensor_id, FILE *out, char *err,
                       size_t errlen)
{
    char *text = decorate(ev, cfg, sensor_id) ? cJSON_PrintUnformatted(ev) : NULL;
    cJSON_Delete(ev);
    if (!text) {
        snprintf(err, errlen, "out of memory");
        return EXIT_RUNTIME;
    }
    bool written = fprintf(out, "%s\n", text) >= 0 && fflush(out) == 0;
    free(text);
    if (!written) {
        snprintf(err, errlen, "cannot write the event to standard output: %s", strerror(errno));
        return EXIT_RUNTIME;
    }
    return 0;
}

/* Give up root as the sensor does (AGENT_USER; CAP_NET_RAW/CAP_NET_ADMIN kept permitted). */
static int drop(const struct config *cfg, char *err, size_t errlen)
{
    struct priv_result pr;
    if (priv_drop(cfg->user, &pr, err, errlen) != 0)
        return EXIT_RUNTIME;
    if (caps_lower_all() != 0) {
        snprintf(err, errlen, "cannot empty the effective capability set: %s", strerror(errno));
        return EXIT_RUNTIME;
    }
    return 0;
}

int once_run(const struct config *cfg, FILE *out, char *err, size_t errlen)
{
    log_set_level((enum log_level)cfg->log_level);
    log_set_format(cfg->log_format == CFG_LOG_JSON ? LOG_FORMAT_JSON : LOG_FORMAT_LOGFMT);
    char sensor_id[IDENTITY_MAX + 1];
    if (sensor_identity_setup(cfg, sensor_id, sizeof sensor_id, err, errlen) != 0)
        return EXIT_CONFIG;
    int status = drop(cfg, err, errlen);
    if (status != 0)
        return status;

    cJSON *ev = NULL;
    if (cfg->once == CFG_ONCE_TOPOLOGY) {
        ev = topology_snapshot_once(cfg, err, errlen);
        if (!ev)
            return EXIT_RUNTIME;
    } else {
        int rc = snmp_poll_once(cfg, cfg->once_name, &ev, err, errlen);
        if (rc != 0)
            return rc == -1 ? EXIT_CONFIG : EXIT_RUNTIME;
        if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ev, "ok"))) {
            const cJSON *e = cJSON_GetObjectItemCaseSensitive(ev, "error");
            log_error("--once snmp %s: the poll failed: %s", cfg->once_name,
                      cJSON_IsString(e) ? e->valuestring : "unknown error");
            status = EXIT_RUNTIME;
        }
    }
    int st = print_event(ev, cfg, sensor_id, out, err, errlen);
    return st != 0 ? st : status;
}

/* "setup" of --once sensor: where it reads, with what rights, where its events go, which hooks run. */
static cJSON *setup_json(const struct stages *st)
{
    const struct config *cfg = st->cfg;
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON *src = cJSON_AddObjectToObject(o, "source");
    if (src) {
        if (cfg->pcap_file)
            cJSON_AddStringToObject(src, "pcap_file", cfg->pcap_file);
        else
            cJSON_AddStringToObject(src, "interface", cfg->interface ? cfg->interface : "");
        int lt = capture_datalink(st->cap);
        if (lt >= 0)
            cJSON_AddNumberToObject(src, "link_type", lt);
        else
            cJSON_AddNullToObject(src, "link_type");   /* an interface that is down: known when it is up */
        cJSON_AddStringToObject(src, "bpf_filter", cfg->bpf_filter ? cfg->bpf_filter : "");
    }
    cJSON *caps = cJSON_AddObjectToObject(o, "capabilities");   /* kept permitted after the drop */
    if (caps) {
        cJSON_AddBoolToObject(caps, "net_raw", caps_permitted(CAP_NET_RAW));
        cJSON_AddBoolToObject(caps, "net_admin", caps_permitted(CAP_NET_ADMIN));
    }
    cJSON *user = cJSON_AddObjectToObject(o, "user");
    if (user) {
        cJSON_AddStringToObject(user, "name", cfg->user ? cfg->user : "");
        cJSON_AddNumberToObject(user, "uid", (double)getuid());
        cJSON_AddNumberToObject(user, "gid", (double)getgid());
    }
    cJSON_AddBoolToObject(o, "seccomp", cfg->seccomp);
    /* outputs: URLs as the startup line shows them (no user info, query or fragment) */
    size_t n = config_setting_count();
    struct config_kv *kv = calloc(n, sizeof *kv);
    const char *url = "", *events_url = "";
    n = kv ? config_describe(cfg, kv, n) : 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(kv[i].var, "AGENT_ENDPOINT_URL") == 0)
            url = kv[i].value;
        else if (strcmp(kv[i].var, "AGENT_EVENTS_ENDPOINT_URL") == 0)
            events_url = kv[i].value;
    }
    static const char *const bodies[] = {"object", "array", "ndjson"};
    cJSON *out = cJSON_AddObjectToObject(o, "outputs");
    if (out) {
        bool to_stdout = (!cfg->endpoint_url && !cfg->kafka_brokers) || cfg->stdout_also;
        cJSON_AddBoolToObject(out, "stdout", to_stdout);
        if (cfg->endpoint_url) {
            cJSON *h = cJSON_AddObjectToObject(out, "http");
            if (h) {
                cJSON_AddStringToObject(h, "endpoint", url);
                if (events_url[0])
                    cJSON_AddStringToObject(h, "events_endpoint", events_url);
                else
                    cJSON_AddNullToObject(h, "events_endpoint");
                cJSON_AddStringToObject(h, "body", bodies[cfg->http_body]);
                cJSON_AddBoolToObject(h, "gzip", cfg->compress_gzip);
                cJSON_AddBoolToObject(h, "bearer_token", cfg->auth_token != NULL);
                cJSON_AddBoolToObject(h, "hmac_signed", cfg->hmac_key != NULL);
                if (cfg->spool_dir)
                    cJSON_AddStringToObject(h, "spool_dir", cfg->spool_dir);
                else
                    cJSON_AddNullToObject(h, "spool_dir");
            }
        }
        if (cfg->kafka_brokers)
            cJSON_AddStringToObject(out, "kafka", cfg->kafka_brokers);
        if (cfg->ipfix_collector)
            cJSON_AddStringToObject(out, "ipfix", cfg->ipfix_collector);
    }
    free(kv);
    cJSON *hooks = cJSON_AddArrayToObject(o, "hooks");   /* the hooks that would start */
    for (size_t i = 0; hooks && i < hook_set_count(st->hooks); i++)
        cJSON_AddItemToArray(hooks, cJSON_CreateString(hook_set_hook(st->hooks, i)->ops->name));
    return o;
}

int once_print_sensor(const struct stages *st, const char *sensor_id, FILE *out, char *err, size_t errlen)
{
    cJSON *ev = sensor_stats_gather(st, 0, false);
    cJSON *setup = ev ? setup_json(st) : NULL;
    if (!setup || !cJSON_AddItemToObject(ev, "setup", setup)) {
        cJSON_Delete(setup);
        cJSON_Delete(ev);
        snprintf(err, errlen, "out of memory");
        return EXIT_RUNTIME;
    }
    return print_event(ev, st->cfg, sensor_id, out, err, errlen);
}
