/*
 * inspect_dns.c — one DNS message: the first question, the response code and
 * the A, AAAA and CNAME answers (RFC 1035 §4.1, RFC 3596).
 *
 * Names are where hostile messages bite: a compression pointer (RFC 1035
 * §4.1.4) may point anywhere, including at itself. Here a pointer must point
 * strictly before the label that holds it, and at most INSPECT_DNS_MAX_HOPS
 * are followed, so every name ends; a name longer than 255 bytes on the wire
 * is malformed. Every read goes through the bounds-checked cursor.
 */
#include <arpa/inet.h>
#include <stdio.h>

#include "inspect/inspect.h"
#include "inspect/inspect_int.h"
#include "inspect/inspect_proto.h"

/* Read the name at msg[*off], text into out (cut to cap, labels joined by '.',
 * "<Root>" for the root name); *off moves past it in the message (not past
 * the pointer's target). Returns false when malformed. */
static bool dns_name(const uint8_t *msg, size_t len, size_t *off, char *out, size_t cap)
{
    size_t pos = *off, n = 0, wire = 0;
    bool jumped = false;
    unsigned hops = 0;
    size_t limit = pos;   /* a pointer must point before the start of the run that holds
                             it: targets strictly decrease, so no loop survives */
    out[0] = '\0';
    for (;;) {
        if (pos >= len)
            return false;
        uint8_t l = msg[pos];
        if ((l & 0xc0) == 0xc0) {
            if (pos + 1 >= len)
                return false;
            size_t target = (size_t)(l & 0x3f) << 8 | msg[pos + 1];
            if (!jumped)
                *off = pos + 2;
            jumped = true;
            if (target >= limit || ++hops > INSPECT_DNS_MAX_HOPS)
                return false;
            limit = target;
            pos = target;
            continue;
        }
        if (l & 0xc0)
            return false;                  /* 0x40/0x80: extended label types, not handled */
        if (l == 0) {
            if (!jumped)
                *off = pos + 1;
            break;
        }
        if (pos + 1 + l > len)
            return false;
        wire += (size_t)l + 1;
        if (wire > 255)
            return false;
        if (n && n + 1 < cap)
            out[n++] = '.';
        for (size_t i = 0; i < l && n + 1 < cap; i++) {
            uint8_t b = msg[pos + 1 + i];
            out[n++] = (b >= 0x20 && b < 0x7f) ? (char)b : '?';
        }
        out[n < cap ? n : cap - 1] = '\0';
        pos += (size_t)l + 1;
    }
    if (n == 0)
        inspect_copy_text(out, cap, (const uint8_t *)"<Root>", 6);
    return true;
}

enum inspect_status inspect_dns_parse(const uint8_t *msg, size_t len, struct inspect_dns_msg *out)
{
    memset(out, 0, sizeof *out);
    struct cur c = cur_make(msg, len);
    uint16_t nscount, arcount;
    if (!cur_be16(&c, &out->id) || !cur_be16(&c, &out->flags) || !cur_be16(&c, &out->qdcount) ||
        !cur_be16(&c, &out->ancount) || !cur_be16(&c, &nscount) || !cur_be16(&c, &arcount))
        return INSPECT_MALFORMED;
    out->is_response = (uint8_t)(out->flags >> 15);
    out->rcode = (uint8_t)(out->flags & 0x0f);
    if ((out->flags >> 11 & 0x0f) > 6)      /* opcodes 0-6 are assigned (RFC 6895 §2.2) */
        return INSPECT_MALFORMED;
    out->q.ancount = out->ancount;
    size_t off = 12;
    for (unsigned i = 0; i < out->qdcount; i++) {
        char name[INSPECT_NAME_LEN];
        if (!dns_name(msg, len, &off, name, sizeof name))
            return INSPECT_MALFORMED;
        if (len - off < 4)
            return INSPECT_MALFORMED;
        if (i == 0) {
            memcpy(out->q.qname, name, sizeof name);
            out->q.qtype = (uint16_t)(msg[off] << 8 | msg[off + 1]);
        }
        off += 4;
    }
    for (unsigned i = 0; i < out->ancount; i++) {
        char name[INSPECT_NAME_LEN];
        if (!dns_name(msg, len, &off, name, sizeof name))
            return INSPECT_MALFORMED;
        struct cur rr = cur_make(msg + off, len - off);
        uint16_t type, klass, rdlen;
        uint32_t ttl;
        if (!cur_be16(&rr, &type) || !cur_be16(&rr, &klass) || !cur_be32(&rr, &ttl) ||
            !cur_be16(&rr, &rdlen) || rr.left < rdlen)
            return INSPECT_MALFORMED;
        size_t rdoff = off + 10;
        off = rdoff + rdlen;
        if (out->q.n_answers >= INSPECT_DNS_ANSWERS)
            continue;
        struct inspect_dns_answer *a = &out->q.answers[out->q.n_answers];
        if (type == 1 && rdlen == 4) {
            inet_ntop(AF_INET, msg + rdoff, a->data, sizeof a->data);
        } else if (type == 28 && rdlen == 16) {
            inet_ntop(AF_INET6, msg + rdoff, a->data, sizeof a->data);
        } else if (type == 5) {
            size_t noff = rdoff;
            char target[INSPECT_DNS_DATA_LEN];
            if (!dns_name(msg, rdoff + rdlen, &noff, target, sizeof target))
                return INSPECT_MALFORMED;
            memcpy(a->data, target, sizeof target);
        } else {
            continue;
        }
        a->type = type;
        a->ttl = ttl;
        out->q.n_answers++;
    }
    return INSPECT_PARSED;
}
