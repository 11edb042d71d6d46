/*
 * sensor_identity.c — which sensor_id this run carries (see sensor_identity.h).
 */
#include "cmd/sensor_identity.h"

#include <stdio.h>

#include "common/identity.h"
#include "common/log.h"
#include "config/config.h"

int sensor_identity_setup(const struct config *cfg, char *out, size_t outlen, char *err, size_t errlen)
{
    static const char *const how[] = {"read from", "created in", "not stored: cannot write"};
    const char *source;
    if (cfg->sensor_id) {
        snprintf(out, outlen, "%s", cfg->sensor_id);
        source = "AGENT_SENSOR_ID";
    } else {
        char why[4600] = "";
        int rc = identity_load(cfg->state_dir, cfg->state_dir_explicit, out, outlen, why, sizeof why);
        if (rc < 0) {
            snprintf(err, errlen, "AGENT_STATE_DIR=%s: %s", cfg->state_dir, why);
            return -1;
        }
        if (rc == IDENTITY_EPHEMERAL)
            log_warn("sensor_id: %s; this run's id %s will change at the next start (set AGENT_STATE_DIR "
                     "to a writable directory, or AGENT_SENSOR_ID)", why, out);
        source = how[rc];
    }
    char msg[300];
    snprintf(msg, sizeof msg, "sensor_id %s (%s%s%s)", out, source, cfg->sensor_id ? "" : " ",
             cfg->sensor_id ? "" : cfg->state_dir);
    log_fields(LOG_INFO, msg, (const struct log_field[]){LOG_STR("sensor_id", out), LOG_STR("source", source)},
               2);
    return 0;
}
