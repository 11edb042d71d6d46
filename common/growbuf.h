/*
 * growbuf.h — the one growth step of the sender's append-only byte buffers.
 *
 * The sender's batch bodies (sender.c) and the Kafka output's events waiting
 * for the spool (kafka_output.c) are plain (buf, len, cap) buffers that grow
 * by doubling up to a hard cap, past which the caller drops and counts. One
 * static inline keeps the rule (and its overflow-safe arithmetic) in one
 * place; the buffers stay fields of their owners' structs.
 */
#ifndef TRACER_GROWBUF_H
#define TRACER_GROWBUF_H

#include <stddef.h>
#include <stdlib.h>

/*
 * Make room for `need` more bytes after the `len` in use of *buf (*cap bytes,
 * len <= *cap <= max). The capacity starts at `first` when *cap is 0 (0 <
 * first <= max) and doubles, the last step clamped to `max`. Returns 0, or
 * -1 when len + need would pass max or realloc fails (*buf and *cap are then
 * unchanged). The buffer's owner calls it, from the thread that owns it.
 */
static inline int growbuf_reserve(char **buf, size_t *cap, size_t len, size_t need, size_t first, size_t max)
{
    if (*cap - len >= need)
        return 0;
    if (need > max - len)
        return -1;
    size_t c = *cap ? *cap : first;
    while (c - len < need)
        c = c > max / 2 ? max : c * 2;
    char *b = realloc(*buf, c);
    if (!b)
        return -1;
    *buf = b;
    *cap = c;
    return 0;
}

#endif
