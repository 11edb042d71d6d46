/*
 * fuzz_json.h — what every event the harnesses see must be once printed:
 * valid UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing above
 * U+10FFFF) and JSON that parses back. An event that breaks either would make
 * the receiver reject the whole batch it travels in, so one hostile packet
 * could lose everyone's events. A breach aborts, like a sanitizer report.
 */
#ifndef TRACER_FUZZ_JSON_H
#define TRACER_FUZZ_JSON_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

static inline int fuzz_utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (n - i < len)
            return 0;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
            return 0;
        i += len;
    }
    return 1;
}

/* Print `o` as the sender does and check the text; NULL o (out of memory) is fine. */
static inline void fuzz_json_check(const cJSON *o)
{
    if (!o)
        return;
    char *txt = cJSON_PrintUnformatted(o);
    if (!txt)
        return;
    if (!fuzz_utf8_valid((const unsigned char *)txt, strlen(txt)))
        abort();
    cJSON *back = cJSON_Parse(txt);
    if (!back)
        abort();
    cJSON_Delete(back);
    free(txt);
}

#endif
