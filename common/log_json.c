/*
 * log_json.c — a cJSON object as the fields of one log line (see log_json.h).
 */
#include "common/log_json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_MAX 64

struct flat {
    struct log_field f[LOG_JSON_MAX_FIELDS + 1];   /* + truncated_fields */
    char keys[LOG_JSON_MAX_FIELDS][KEY_MAX];
    size_t n;
    uint64_t left_out;
};

/* Exact integers as integers (cJSON keeps doubles: exact below 2^53), the rest as doubles. */
static struct log_field number_field(const char *key, double v)
{
    if (v == floor(v) && v >= 0 && v < 9007199254740992.0)
        return LOG_U64(key, (uint64_t)v);
    if (v == floor(v) && v < 0 && v > -9007199254740992.0)
        return LOG_I64(key, (int64_t)v);
    return LOG_F64(key, v);
}

/* A raw member (how big counters travel): a decimal integer stays a number. */
static struct log_field raw_field(const char *key, const char *raw)
{
    errno = 0;
    char *end = NULL;
    unsigned long long u = raw && raw[0] >= '0' && raw[0] <= '9' ? strtoull(raw, &end, 10) : 0;
    if (raw && end && *end == '\0' && errno == 0)
        return LOG_U64(key, u);
    return LOG_STR(key, raw);
}

static void flatten(struct flat *fl, const char *prefix, const cJSON *obj)
{
    size_t idx = 0;
    for (const cJSON *it = obj ? obj->child : NULL; it; it = it->next, idx++) {
        char key[KEY_MAX];
        char num[24];
        const char *name = it->string;
        if (!name) {   /* an array element */
            snprintf(num, sizeof num, "%zu", idx);
            name = num;
        }
        int kl = snprintf(key, sizeof key, "%s%s%s", prefix, prefix[0] ? "." : "", name);
        if (kl < 0 || (size_t)kl >= sizeof key) {
            fl->left_out++;
            continue;
        }
        if (cJSON_IsObject(it) || cJSON_IsArray(it)) {
            flatten(fl, key, it);
            continue;
        }
        if (fl->n >= LOG_JSON_MAX_FIELDS) {
            fl->left_out++;
            continue;
        }
        char *k = fl->keys[fl->n];
        memcpy(k, key, (size_t)kl + 1);
        struct log_field f;
        if (cJSON_IsBool(it))
            f = LOG_BOOL(k, cJSON_IsTrue(it));
        else if (cJSON_IsNumber(it))
            f = number_field(k, it->valuedouble);
        else if (cJSON_IsString(it))
            f = LOG_STR(k, it->valuestring);
        else if (cJSON_IsRaw(it))
            f = raw_field(k, it->valuestring);
        else
            f = LOG_STR(k, "");   /* null */
        fl->f[fl->n++] = f;
    }
}

void log_cjson(enum log_level level, const char *msg, const cJSON *obj)
{
    if (!log_enabled(level))
        return;
    struct flat *fl = calloc(1, sizeof *fl);
    if (!fl) {
        log_fields(level, msg, NULL, 0);
        return;
    }
    if (cJSON_IsObject(obj))
        flatten(fl, "", obj);
    size_t n = fl->n;
    if (fl->left_out)
        fl->f[n++] = LOG_U64("truncated_fields", fl->left_out);
    log_fields(level, msg, fl->f, n);
    free(fl);
}
