/*
 * control_api.c — the control API's wiring (see control_api.h).
 */
#include "cmd/control_api.h"

#include <stdio.h>
#include <stdlib.h>

#include "api/api_server.h"
#include "api/snmp_jobs.h"
#include "common/log.h"
#include "config/config.h"
#include "hooks/snmp/snmp_limiter.h"
#include "hooks/snmp/snmp_poller.h"

struct control_api {
    const struct config *cfg;
    hook_set *hs;
    snmp_limiter *limiter;
    api_server *server;     /* NULL: AGENT_API_ADDR unset */
    snmp_jobs *jobs;        /* NULL: the jobs hook does not run */
};

/* POST /v1/reload: the same as SIGHUP's target reload. API thread. */
static void reload(void *arg, unsigned *applied, unsigned *refused)
{
    control_api *ca = arg;
    unsigned n = hook_set_reloadable(ca->hs);
    int bad = hook_set_reload(ca->hs, ca->cfg);
    *refused = bad > 0 ? (unsigned)bad : 0;
    *applied = n > *refused ? n - *refused : 0;
}

control_api *control_api_create(const struct config *cfg, hook_set *hs, char *err, size_t errlen)
{
    control_api *ca = calloc(1, sizeof *ca);
    if (!ca || !(ca->limiter = snmp_limiter_create(cfg->snmp_concurrency ? cfg->snmp_concurrency : 4))) {
        free(ca);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    ca->cfg = cfg;
    ca->hs = hs;
    const struct hook *poller = hook_set_find(hs, "snmp");
    if (poller)
        snmp_poller_set_limiter(poller->self, ca->limiter);
    snmp_jobs *jobs = ca->jobs = snmp_jobs_of_hook(hook_set_find(hs, "snmp_jobs"));
    if (jobs)
        snmp_jobs_set_limiter(jobs, ca->limiter);
    if (!cfg->api_addr)
        return ca;
    const struct api_settings set = {cfg->api_addr, cfg->api_key, cfg->api_key_len, cfg->api_tls_cert,
                                     cfg->api_tls_key};
    const struct api_callbacks cb = {jobs, reload, ca};
    if (!(ca->server = api_server_create(&set, &cb, err, errlen))) {
        control_api_destroy(ca);
        return NULL;
    }
    return ca;
}

int control_api_start(control_api *ca, char *err, size_t errlen)
{
    if (!ca || !ca->server)
        return 0;
    if (api_server_start(ca->server, err, errlen) != 0)
        return -1;
    char msg[300];
    snprintf(msg, sizeof msg, "api: serving the control API on %s (port %u, %s)", ca->cfg->api_addr,
             (unsigned)api_server_port(ca->server), ca->cfg->api_tls_cert ? "HTTPS" : "HTTP");
    log_fields(LOG_INFO, msg, (const struct log_field[]){LOG_STR("addr", ca->cfg->api_addr),
                                                        LOG_U64("port", api_server_port(ca->server)),
                                                        LOG_BOOL("tls", ca->cfg->api_tls_cert != NULL)}, 3);
    return 0;
}

uint16_t control_api_port(const control_api *ca)
{
    return ca ? api_server_port(ca->server) : 0;
}

void control_api_stop(control_api *ca)
{
    if (!ca)
        return;
    snmp_jobs_interrupt(ca->jobs);   /* a connection inside a direct walk returns at once */
    api_server_stop(ca->server);
}

void control_api_destroy(control_api *ca)
{
    if (!ca)
        return;
    api_server_destroy(ca->server);
    snmp_limiter_destroy(ca->limiter);
    free(ca);
}
