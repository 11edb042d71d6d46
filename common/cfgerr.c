/*
 * cfgerr.c — problems of a JSON configuration file, one line each (see cfgerr.h).
 *
 * The SNMP and ping target files had each grown their own copy of this; the
 * messages (which users and tests read) are the same for both by construction.
 */
#include "cfgerr.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void cfgerr_init(struct cfgerr *e, const char *var, const char *path, char *err, size_t errlen)
{
    memset(e, 0, sizeof *e);
    e->var = var;
    e->path = path;
    e->err = err;
    e->errlen = errlen;
    if (errlen)
        err[0] = '\0';
}

void cfgerr_init_request(struct cfgerr *e, char *err, size_t errlen)
{
    cfgerr_init(e, "", "", err, errlen);
    e->request = true;
}

/* Request form: the first field is kept; a text that does not fit is cut at the end of err. */
static void add_request(struct cfgerr *e, const char *field, const char *msg)
{
    if (e->nerr == 0)
        snprintf(e->field, sizeof e->field, "%s", field ? field : "");
    int n = snprintf(e->err + e->used, e->used < e->errlen ? e->errlen - e->used : 0, "%s%s%s%s",
                     e->nerr ? "; " : "", field ? field : "", field ? ": " : "", msg);
    e->nerr++;
    if (n > 0 && e->used + (size_t)n < e->errlen)
        e->used += (size_t)n;
    else if (e->errlen)
        e->used = strlen(e->err);
}

int cfgerr_add(struct cfgerr *e, const char *field, const char *fmt, ...)
{
    char msg[512], line[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (e->request) {
        add_request(e, field, msg);
        return -1;
    }
    int n = snprintf(line, sizeof line, "%s%s=%s: %s%s%s%s%s", e->nerr ? "\n" : "", e->var, e->path, e->where,
                     e->where[0] && field ? ": " : "", field ? field : "", (e->where[0] || field) ? ": " : "", msg);
    e->nerr++;
    /* Keep 48 bytes for the "(and N more)" tail; a line that does not fit whole is left out. */
    if (n > 0 && e->used + (size_t)n + 48 < e->errlen) {
        memcpy(e->err + e->used, line, (size_t)n + 1);
        e->used += (size_t)n;
        e->nshown++;
    }
    return -1;
}

void cfgerr_finish(struct cfgerr *e)
{
    if (!e->request && e->nerr > e->nshown && e->used < e->errlen)
        snprintf(e->err + e->used, e->errlen - e->used, "\n%s=%s: (and %u more problems)", e->var, e->path,
                 e->nerr - e->nshown);
}

static bool key_allowed(const char *key, const char *const *allowed)
{
    for (size_t i = 0; allowed[i]; i++)
        if (strcmp(key, allowed[i]) == 0)
            return true;
    return false;
}

int cfgerr_check_keys(struct cfgerr *e, const cJSON *obj, const char *const *allowed)
{
    const cJSON *it;
    int rc = 0;
    cJSON_ArrayForEach(it, obj) {
        if (!it->string || !key_allowed(it->string, allowed)) {
            rc = cfgerr_add(e, it->string ? it->string : "?", "unknown field");
            continue;
        }
        for (const cJSON *prev = obj->child; prev && prev != it; prev = prev->next) {
            if (prev->string && strcmp(prev->string, it->string) == 0) {
                rc = cfgerr_add(e, it->string, "duplicate key (each key may appear once)");
                break;
            }
        }
    }
    return rc;
}

size_t cfgerr_json_error_line(const char *text)
{
    const char *at = cJSON_GetErrorPtr();
    size_t line = 1;
    for (const char *p = text; at && p < at && *p; p++)
        line += *p == '\n';
    return line;
}
