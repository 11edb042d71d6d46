/*
 * snmp_values.c — readable JSON for SNMP values (see snmp_values.h).
 *
 * Everything here reads only the variable it is given; lengths come from the
 * variable's val_len and are checked before any byte is read, so a hostile
 * agent or trap sender cannot make these functions read past a value.
 */
#include "snmp_values.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#define SNMP_U64_EXACT_MAX ((uint64_t)1 << 53)   /* doubles hold integers exactly below this */

bool snmp_oid_parse(const char *text, struct snmp_oid *out)
{
    const char *p = text;
    size_t n = 0;
    if (!p || !*p)
        return false;
    if (*p == '.')
        p++;
    for (;;) {
        if (*p < '0' || *p > '9' || n == MAX_OID_LEN)
            return false;
        uint64_t v = 0;
        while (*p >= '0' && *p <= '9') {
            v = v * 10 + (uint64_t)(*p - '0');
            if (v > UINT32_MAX)
                return false;
            p++;
        }
        out->ids[n++] = (oid)v;
        if (*p == '\0')
            break;
        if (*p != '.')
            return false;
        p++;
    }
    if (n < 2)
        return false;
    out->len = n;
    return true;
}

char *snmp_oid_format(const oid *ids, size_t len, char *buf, size_t buflen)
{
    size_t used = 0;
    if (buflen == 0)
        return buf;
    buf[0] = '\0';
    for (size_t i = 0; i < len; i++) {
        int w = snprintf(buf + used, buflen - used, i ? ".%lu" : "%lu", (unsigned long)ids[i]);
        if (w < 0 || (size_t)w >= buflen - used) {
            if (buflen >= 4)
                memcpy(buf + buflen - 4, "...", 4);
            return buf;
        }
        used += (size_t)w;
    }
    return buf;
}

cJSON *snmp_oid_json(const oid *ids, size_t len)
{
    char buf[SNMP_OID_TEXT_MAX];
    return cJSON_CreateString(snmp_oid_format(ids, len, buf, sizeof buf));
}

bool snmp_oid_below(const oid *root, size_t rootlen, const oid *name, size_t namelen)
{
    if (namelen <= rootlen)
        return false;
    for (size_t i = 0; i < rootlen; i++)
        if (name[i] != root[i])
            return false;
    return true;
}

char *snmp_hex_format(const uint8_t *p, size_t n, char *buf, size_t buflen)
{
    static const char digits[] = "0123456789abcdef";
    size_t used = 0;
    if (buflen == 0)
        return buf;
    for (size_t i = 0; i < n; i++) {
        size_t need = (i ? 3 : 2);
        if (used + need >= buflen)
            break;
        if (i)
            buf[used++] = ':';
        buf[used++] = digits[p[i] >> 4];
        buf[used++] = digits[p[i] & 15];
    }
    buf[used] = '\0';
    return buf;
}

/* Length of the UTF-8 sequence starting at p (left bytes), 0 when invalid (RFC 3629). */
static size_t utf8_seq(const uint8_t *p, size_t left)
{
    uint8_t c = p[0];
    size_t len;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) { len = 2; cp = c & 0x1f; }
    else if (c >= 0xe0 && c <= 0xef) { len = 3; cp = c & 0x0f; }
    else if (c >= 0xf0 && c <= 0xf4) { len = 4; cp = c & 0x07; }
    else return 0;
    if (left < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

bool snmp_octets_printable(const uint8_t *p, size_t n, size_t *textlen)
{
    while (n > 0 && p[n - 1] == 0)
        n--;
    for (size_t i = 0; i < n;) {
        uint8_t c = p[i];
        if (c < 0x20 && c != '\t' && c != '\r' && c != '\n')
            return false;
        if (c == 0x7f)
            return false;
        size_t l = utf8_seq(p + i, n - i);
        if (l == 0)
            return false;
        i += l;
    }
    *textlen = n;
    return true;
}

/* A cJSON string of n bytes (not NUL-terminated in the source). */
static cJSON *string_n(const uint8_t *p, size_t n)
{
    char small[256];
    char *buf = n < sizeof small ? small : malloc(n + 1);
    if (!buf)
        return NULL;
    if (n)
        memcpy(buf, p, n);
    buf[n] = '\0';
    cJSON *s = cJSON_CreateString(buf);
    if (buf != small)
        free(buf);
    return s;
}

static cJSON *hex_json(const uint8_t *p, size_t n)
{
    char small[256];
    size_t need = n ? n * 3 : 1;
    char *buf = need <= sizeof small ? small : malloc(need);
    if (!buf)
        return NULL;
    cJSON *s = cJSON_CreateString(snmp_hex_format(p, n, buf, need));
    if (buf != small)
        free(buf);
    return s;
}

cJSON *snmp_octets_json(const uint8_t *p, size_t n)
{
    size_t tl;
    if (snmp_octets_printable(p, n, &tl))
        return string_n(p, tl);
    return hex_json(p, n);
}

cJSON *snmp_mac_json(const uint8_t *p, size_t n)
{
    return hex_json(p, n);
}

cJSON *snmp_u64_json(uint64_t v)
{
    if (v < SNMP_U64_EXACT_MAX)
        return cJSON_CreateNumber((double)v);
    char buf[24];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    return cJSON_CreateRaw(buf);
}

const char *snmp_type_name(unsigned char asn_type)
{
    switch (asn_type) {
    case ASN_INTEGER:        return "integer";
    case ASN_OCTET_STR:      return "string";
    case ASN_OBJECT_ID:      return "oid";
    case ASN_IPADDRESS:      return "ipaddress";
    case ASN_COUNTER:        return "counter32";
    case ASN_GAUGE:          return "gauge32";
    case ASN_TIMETICKS:      return "timeticks";
    case ASN_OPAQUE:         return "opaque";
    case ASN_COUNTER64:      return "counter64";
    case ASN_NULL:           return "null";
    case ASN_BIT_STR:        return "bits";
    case SNMP_NOSUCHOBJECT:  return "nosuchobject";
    case SNMP_NOSUCHINSTANCE: return "nosuchinstance";
    case SNMP_ENDOFMIBVIEW:  return "endofmibview";
    default:                 return "unknown";
    }
}

bool snmp_value_is_exception(const netsnmp_variable_list *v)
{
    return v->type == SNMP_NOSUCHOBJECT || v->type == SNMP_NOSUCHINSTANCE || v->type == SNMP_ENDOFMIBVIEW;
}

bool snmp_value_long(const netsnmp_variable_list *v, long *out)
{
    if (v->type != ASN_INTEGER || !v->val.integer || v->val_len < sizeof(long))
        return false;
    *out = *v->val.integer;
    return true;
}

bool snmp_value_u64(const netsnmp_variable_list *v, uint64_t *out)
{
    switch (v->type) {
    case ASN_INTEGER: {
        long l;
        if (!snmp_value_long(v, &l) || l < 0)
            return false;
        *out = (uint64_t)l;
        return true;
    }
    case ASN_COUNTER: case ASN_GAUGE: case ASN_TIMETICKS: case ASN_UINTEGER:
        if (!v->val.integer || v->val_len < sizeof(long))
            return false;
        *out = (uint64_t)(unsigned long)*v->val.integer & 0xffffffffu;
        return true;
    case ASN_COUNTER64:
        if (!v->val.counter64 || v->val_len < sizeof(struct counter64))
            return false;
        *out = ((uint64_t)v->val.counter64->high << 32) | ((uint64_t)v->val.counter64->low & 0xffffffffu);
        return true;
    default:
        return false;
    }
}

cJSON *snmp_value_json(const netsnmp_variable_list *v)
{
    uint64_t u;
    long l;
    switch (v->type) {
    case ASN_INTEGER:
        if (snmp_value_long(v, &l))
            return cJSON_CreateNumber((double)l);
        return cJSON_CreateNull();
    case ASN_COUNTER: case ASN_GAUGE: case ASN_TIMETICKS: case ASN_UINTEGER: case ASN_COUNTER64:
        if (snmp_value_u64(v, &u))
            return snmp_u64_json(u);
        return cJSON_CreateNull();
    case ASN_OCTET_STR:
        return snmp_octets_json(v->val.string, v->val.string ? v->val_len : 0);
    case ASN_OBJECT_ID:
        if (!v->val.objid)
            return cJSON_CreateNull();
        return snmp_oid_json(v->val.objid, v->val_len / sizeof(oid));
    case ASN_IPADDRESS:
        if (v->val.string && v->val_len == 4) {
            char buf[16];
            snprintf(buf, sizeof buf, "%u.%u.%u.%u", v->val.string[0], v->val.string[1],
                     v->val.string[2], v->val.string[3]);
            return cJSON_CreateString(buf);
        }
        return hex_json(v->val.string, v->val.string ? v->val_len : 0);
    case ASN_NULL: case SNMP_NOSUCHOBJECT: case SNMP_NOSUCHINSTANCE: case SNMP_ENDOFMIBVIEW:
        return cJSON_CreateNull();
    default:
        return hex_json(v->val.string, v->val.string ? v->val_len : 0);
    }
}

cJSON *snmp_varbind_json(const netsnmp_variable_list *v)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *name = snmp_oid_json(v->name, v->name_length);
    cJSON *val = snmp_value_json(v);
    if (!o || !name || !val || !cJSON_AddItemToObject(o, "oid", name)) {
        cJSON_Delete(o);
        cJSON_Delete(name);
        cJSON_Delete(val);
        return NULL;
    }
    if (!cJSON_AddStringToObject(o, "type", snmp_type_name(v->type)) ||
        !cJSON_AddItemToObject(o, "value", val)) {
        cJSON_Delete(val);
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}
