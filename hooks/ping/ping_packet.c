/*
 * ping_packet.c — echo requests out, echo replies in (see ping_packet.h).
 *
 * Formats: ICMP echo, RFC 792 (type 8 request, 0 reply; code 0; checksum;
 * identifier; sequence number; data). ICMPv6 echo, RFC 4443 4.1/4.2 (types 128
 * and 129, same layout). IPv4 header, RFC 791 (version 4, IHL in 32-bit words,
 * at least 5; protocol 1 = ICMP; total length).
 */
#include "ping_packet.h"

#include <string.h>

struct cur {
    const uint8_t *p;
    size_t left;
};

static bool cur_u8(struct cur *c, uint8_t *v)
{
    if (c->left < 1)
        return false;
    *v = c->p[0];
    c->p++;
    c->left--;
    return true;
}

static bool cur_be16(struct cur *c, uint16_t *v)
{
    if (c->left < 2)
        return false;
    *v = (uint16_t)(c->p[0] << 8 | c->p[1]);
    c->p += 2;
    c->left -= 2;
    return true;
}

static bool cur_be32(struct cur *c, uint32_t *v)
{
    if (c->left < 4)
        return false;
    *v = (uint32_t)c->p[0] << 24 | (uint32_t)c->p[1] << 16 | (uint32_t)c->p[2] << 8 | c->p[3];
    c->p += 4;
    c->left -= 4;
    return true;
}

static void put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

uint16_t ping_checksum(const uint8_t *p, size_t len)
{
    uint32_t sum = 0;
    size_t i = 0;
    for (; i + 1 < len; i += 2)
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (i < len)
        sum += (uint32_t)p[i] << 8;
    while (sum >> 16)
        sum = (sum & 0xffffu) + (sum >> 16);
    return (uint16_t)~sum;
}

size_t ping_packet_build(uint8_t *buf, size_t buflen, bool v6, uint16_t id, uint16_t seq,
                         const struct ping_tag *tag, size_t size)
{
    size_t len = PING_ICMP_HDR + size;
    if (size < PING_TAG_LEN || buflen < len)
        return 0;
    buf[0] = v6 ? 128 : 8;
    buf[1] = 0;
    put_be16(buf + 2, 0);
    put_be16(buf + 4, id);
    put_be16(buf + 6, seq);
    uint8_t *d = buf + PING_ICMP_HDR;
    memcpy(d, tag->token, PING_TOKEN_LEN);
    put_be32(d + 8, tag->key);
    put_be32(d + 12, tag->round);
    put_be16(d + 16, tag->probe);
    memset(d + 18, 0, PING_TAG_LEN - 18);
    for (size_t i = PING_TAG_LEN; i < size; i++)
        d[i] = (uint8_t)i;   /* a fixed pattern, as ping(8) fills its data */
    if (!v6)
        put_be16(buf + 2, ping_checksum(buf, len));
    return len;
}

enum ping_parse ping_packet_parse(const uint8_t *pkt, size_t len, bool v6, bool ip_header, struct ping_reply *out)
{
    struct cur c = {pkt, len};
    uint8_t ttl = 0;
    if (!v6 && ip_header) {
        uint8_t vihl, proto, b;
        uint16_t total, w;
        if (!cur_u8(&c, &vihl) || !cur_u8(&c, &b) || !cur_be16(&c, &total) || !cur_be16(&c, &w) ||
            !cur_be16(&c, &w) || !cur_u8(&c, &ttl) || !cur_u8(&c, &proto))
            return PING_PKT_TRUNC;
        size_t ihl = (size_t)(vihl & 0x0f) * 4;
        if (vihl >> 4 != 4 || ihl < 20 || proto != 1)
            return PING_PKT_BADHDR;
        if (len < ihl)
            return PING_PKT_TRUNC;
        /* Linux hands raw sockets the total length in host terms; clamp to what arrived either way. */
        size_t end = total >= ihl && total <= len ? total : len;
        c.p = pkt + ihl;
        c.left = end - ihl;
    }
    const uint8_t *icmp = c.p;
    size_t icmp_len = c.left;
    uint8_t type, code;
    uint16_t sum, id, seq;
    if (!cur_u8(&c, &type) || !cur_u8(&c, &code) || !cur_be16(&c, &sum) || !cur_be16(&c, &id) ||
        !cur_be16(&c, &seq))
        return PING_PKT_TRUNC;
    if (type != (v6 ? 129 : 0) || code != 0)
        return PING_PKT_OTHER;
    if (!v6 && ping_checksum(icmp, icmp_len) != 0)
        return PING_PKT_BADSUM;
    memset(out, 0, sizeof *out);
    out->id = id;
    out->seq = seq;
    out->ttl = ttl;
    if (c.left >= PING_TAG_LEN) {
        memcpy(out->tag.token, c.p, PING_TOKEN_LEN);
        c.p += PING_TOKEN_LEN;
        c.left -= PING_TOKEN_LEN;
        uint32_t key, round;
        uint16_t probe;
        if (cur_be32(&c, &key) && cur_be32(&c, &round) && cur_be16(&c, &probe)) {
            out->tag.key = key;
            out->tag.round = round;
            out->tag.probe = probe;
            out->has_tag = true;
        }
    }
    return PING_PKT_REPLY;
}
