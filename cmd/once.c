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
    return status;
}
