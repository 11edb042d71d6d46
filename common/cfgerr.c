/*
 * cfgerr.c — problems of a JSON configuration file, one line each (see cfgerr.h).
 *
 * The SNMP and ping target files had each grown their own copy of this; the
 * messages (which users and tests read) are the same for both by construction.
 */
#include "cfgerr.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
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

int cfgerr_get_string(struct cfgerr *e, const cJSON *obj, const char *field, size_t min, size_t max, bool show,
                      char **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, field);
    *out = NULL;
    if (!v)
        return 0;
    if (!cJSON_IsString(v) || !v->valuestring)
        return cfgerr_add(e, field, "must be a string");
    size_t n = strlen(v->valuestring);
    if (n < min || n > max)
        return min ? cfgerr_add(e, field, "must be %zu to %zu characters", min, max)
                   : cfgerr_add(e, field, "must be at most %zu characters", max);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v->valuestring[i] < 0x20)
            return show ? cfgerr_add(e, field, "\"%s\" must not contain control characters", v->valuestring)
                        : cfgerr_add(e, field, "must not contain control characters");
    *out = strdup(v->valuestring);
    return *out ? 1 : -2;
}

static const char *json_type_name(const cJSON *v)
{
    if (cJSON_IsString(v)) return "a string";
    if (cJSON_IsBool(v)) return "a boolean";
    if (cJSON_IsNull(v)) return "null";
    if (cJSON_IsArray(v)) return "an array";
    if (cJSON_IsObject(v)) return "an object";
    return "not a number";
}

int cfgerr_get_number(struct cfgerr *e, const cJSON *obj, const char *field, double lo, double hi, bool integer,
                      double scale, uint32_t dflt, bool say_type, uint32_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, field);
    *out = dflt;
    if (!v)
        return 0;
    if (!cJSON_IsNumber(v) && !say_type)
        return cfgerr_add(e, field, "must be a JSON number in [%g, %g]", lo, hi);
    if (!cJSON_IsNumber(v))
        return cfgerr_add(e, field, "must be a JSON number in [%g, %g], not %s%s%.32s%s", lo, hi,
                          json_type_name(v), cJSON_IsString(v) ? " (\"" : "",
                          cJSON_IsString(v) ? v->valuestring : "", cJSON_IsString(v) ? "\")" : "");
    double d = v->valuedouble;
    if (!isfinite(d) || d < lo || d > hi || (integer && d != (double)(int64_t)d))
        return cfgerr_add(e, field, "%g must be %s in [%g, %g]", d, integer ? "an integer" : "a number", lo, hi);
    *out = (uint32_t)(d * scale + 0.5);   /* d >= lo >= 0 here; no libm needed */
    return 1;
}

cJSON *cfgerr_parse_object(struct cfgerr *e, const char *text, const char *rule)
{
    cJSON *root = cJSON_Parse(text);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        size_t line = 1;
        for (const char *p = text; at && p < at && *p; p++)
            line += *p == '\n';
        cfgerr_add(e, NULL, "not valid JSON (near line %zu)", line);
        return NULL;
    }
    if (!cJSON_IsObject(root)) {
        cfgerr_add(e, NULL, "%s", rule);
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}
