/*
 * inspect_tls.c — TLS ClientHello and ServerHello (RFC 8446 §4.1.2-4.1.3,
 * RFC 5246 §7.4.1, extensions of RFC 6066, 7301, 8422, 8446) and the client
 * and server fingerprints computed from them:
 *  - JA3 / JA3S (Salesforce): "version,ciphers,extensions,groups,point
 *    formats" in decimal, '-'-joined lists, GREASE (RFC 8701) removed, MD5;
 *  - JA4 (FoxIO, ja4/technical_details/JA4.md): transport, highest offered
 *    version, SNI or not, cipher and extension counts, first ALPN's ends,
 *    then truncated SHA-256 of the sorted ciphers and of the sorted
 *    extensions (SNI and ALPN left out) with the signature algorithms.
 * Also the record layer walk that joins a handshake message split over
 * several TLS records. Every read is bounds-checked (inspect_int.h).
 */
#include <stdio.h>
#include <stdlib.h>

#include "inspect/inspect.h"
#include "inspect/inspect_int.h"
#include "inspect/inspect_proto.h"

int inspect_tls_is_grease(uint16_t v)
{
    return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff);
}

/* A vector of 16-bit values with a length prefix of `lbytes` (1 or 2). */
static bool u16_list(struct cur *c, unsigned lbytes, uint16_t *out, unsigned cap,
                     uint16_t *n, uint8_t *cut)
{
    uint16_t l;
    uint8_t l8;
    if (lbytes == 1) {
        if (!cur_u8(c, &l8))
            return false;
        l = l8;
    } else if (!cur_be16(c, &l)) {
        return false;
    }
    struct cur v;
    if ((l & 1) || !cur_sub(c, l, &v))
        return false;
    *n = 0;
    uint16_t x;
    while (cur_be16(&v, &x)) {
        if (*n < cap)
            out[*n] = x;
        else
            *cut = 1;
        (*n)++;
    }
    if (*n > cap)
        *n = (uint16_t)cap;
    return true;
}

static enum inspect_status handshake_body(const uint8_t *msg, size_t len, uint8_t type,
                                          struct cur *body)
{
    struct cur c = cur_make(msg, len);
    uint8_t t;
    uint32_t blen;
    if (!cur_u8(&c, &t))
        return INSPECT_NEED_MORE;
    if (t != type)
        return INSPECT_MALFORMED;
    if (!cur_be24(&c, &blen))
        return INSPECT_NEED_MORE;
    if (blen < 38)
        return INSPECT_MALFORMED;       /* version + random + session id length at least */
    if (!cur_sub(&c, blen, body))
        return INSPECT_NEED_MORE;
    return INSPECT_PARSED;
}

static bool ch_extension(struct inspect_tls_client_hello *ch, uint16_t type, struct cur e)
{
    switch (type) {
    case 0x0000: {                                  /* server_name, RFC 6066 §3 */
        uint16_t l;
        struct cur list;
        if (!cur_be16(&e, &l) || !cur_sub(&e, l, &list))
            return false;
        uint8_t nt;
        uint16_t nl;
        while (cur_u8(&list, &nt) && cur_be16(&list, &nl)) {
            if (list.left < nl)
                return false;
            if (nt == 0 && !ch->has_sni) {
                inspect_copy_text(ch->server_name, sizeof ch->server_name, list.p, nl);
                ch->has_sni = 1;
            }
            cur_skip(&list, nl);
        }
        if (!ch->has_sni)
            ch->has_sni = 1;                        /* present (JA4 'd'), even if empty */
        return true;
    }
    case 0x000a:                                    /* supported_groups, RFC 8422 §5.1.1 */
        return u16_list(&e, 2, ch->groups, INSPECT_TLS_MAX_GROUPS, &ch->n_groups, &ch->lists_cut);
    case 0x000b: {                                  /* ec_point_formats */
        uint8_t l;
        struct cur v;
        if (!cur_u8(&e, &l) || !cur_sub(&e, l, &v))
            return false;
        uint8_t b;
        ch->n_pf = 0;
        while (cur_u8(&v, &b)) {
            if (ch->n_pf < INSPECT_TLS_MAX_PF)
                ch->pf[ch->n_pf++] = b;
            else
                ch->lists_cut = 1;
        }
        return true;
    }
    case 0x000d:                                    /* signature_algorithms, RFC 8446 §4.2.3 */
        return u16_list(&e, 2, ch->sigalgs, INSPECT_TLS_MAX_SIGALGS, &ch->n_sigalgs,
                        &ch->lists_cut);
    case 0x0010: {                                  /* ALPN, RFC 7301 §3.1 */
        uint16_t l;
        struct cur list;
        if (!cur_be16(&e, &l) || !cur_sub(&e, l, &list))
            return false;
        ch->has_alpn = 1;
        uint8_t pl;
        bool first = true;
        while (cur_u8(&list, &pl)) {
            if (list.left < pl)
                return false;
            if (first && pl > 0) {
                ch->alpn0_first = list.p[0];
                ch->alpn0_last = list.p[pl - 1];
                ch->alpn0_len = pl;
            }
            first = false;
            if (ch->n_alpn < INSPECT_TLS_ALPN && pl > 0) {
                inspect_copy_text(ch->alpn[ch->n_alpn], INSPECT_ALPN_LEN, list.p, pl);
                ch->n_alpn++;
            }
            cur_skip(&list, pl);
        }
        return true;
    }
    case 0x002b:                                    /* supported_versions, RFC 8446 §4.2.1 */
        return u16_list(&e, 1, ch->versions, INSPECT_TLS_MAX_VERSIONS, &ch->n_versions,
                        &ch->lists_cut);
    default:
        return true;
    }
}

/*
 * The start both hellos share (RFC 8446 §4.1.2, §4.1.3): the handshake header
 * of `type`, legacy_version (3.x), 32 random bytes and a session id of at most
 * 32 bytes. On INSPECT_PARSED *b is positioned after the session id.
 */
static enum inspect_status hello_start(const uint8_t *msg, size_t len, uint8_t type, struct cur *b,
                                       uint16_t *version)
{
    enum inspect_status st = handshake_body(msg, len, type, b);
    if (st != INSPECT_PARSED)
        return st;
    uint8_t sid;
    if (!cur_be16(b, version) || !cur_skip(b, 32) || !cur_u8(b, &sid) || sid > 32 || !cur_skip(b, sid))
        return INSPECT_MALFORMED;
    if ((*version >> 8) != 0x03)
        return INSPECT_MALFORMED;
    return INSPECT_PARSED;
}

enum inspect_status inspect_tls_client_hello_parse(const uint8_t *msg, size_t len,
                                                   struct inspect_tls_client_hello *out)
{
    memset(out, 0, sizeof *out);
    struct cur b;
    enum inspect_status st = hello_start(msg, len, 1, &b, &out->legacy_version);
    if (st != INSPECT_PARSED)
        return st;
    if (!u16_list(&b, 2, out->ciphers, INSPECT_TLS_MAX_CIPHERS, &out->n_ciphers, &out->lists_cut))
        return INSPECT_MALFORMED;
    uint8_t cl;
    if (!cur_u8(&b, &cl) || cl == 0 || !cur_skip(&b, cl))
        return INSPECT_MALFORMED;
    if (b.left == 0)
        return INSPECT_PARSED;                      /* no extensions (SSL 3.0 style) */
    uint16_t el;
    struct cur exts;
    if (!cur_be16(&b, &el) || !cur_sub(&b, el, &exts))
        return INSPECT_MALFORMED;
    uint16_t type, l;
    while (exts.left) {
        struct cur e;
        if (!cur_be16(&exts, &type) || !cur_be16(&exts, &l) || !cur_sub(&exts, l, &e))
            return INSPECT_MALFORMED;
        if (out->n_exts < INSPECT_TLS_MAX_EXTS)
            out->exts[out->n_exts++] = type;
        else
            out->lists_cut = 1;
        if (!ch_extension(out, type, e))
            return INSPECT_MALFORMED;
    }
    return INSPECT_PARSED;
}

enum inspect_status inspect_tls_server_hello_parse(const uint8_t *msg, size_t len,
                                                   struct inspect_tls_server_hello *out)
{
    memset(out, 0, sizeof *out);
    struct cur b;
    enum inspect_status st = hello_start(msg, len, 2, &b, &out->legacy_version);
    if (st != INSPECT_PARSED)
        return st;
    uint8_t comp;
    if (!cur_be16(&b, &out->cipher) || !cur_u8(&b, &comp))
        return INSPECT_MALFORMED;
    if (b.left == 0)
        return INSPECT_PARSED;
    uint16_t el, type, l;
    struct cur exts;
    if (!cur_be16(&b, &el) || !cur_sub(&b, el, &exts))
        return INSPECT_MALFORMED;
    while (exts.left) {
        struct cur e;
        if (!cur_be16(&exts, &type) || !cur_be16(&exts, &l) || !cur_sub(&exts, l, &e))
            return INSPECT_MALFORMED;
        if (out->n_exts < INSPECT_TLS_MAX_EXTS)
            out->exts[out->n_exts++] = type;
        if (type == 0x002b && !cur_be16(&e, &out->selected_version))
            return INSPECT_MALFORMED;
        if (type == 0x0010) {
            uint16_t ll;
            uint8_t pl;
            if (!cur_be16(&e, &ll) || !cur_u8(&e, &pl) || e.left < pl)
                return INSPECT_MALFORMED;
            inspect_copy_text(out->alpn, sizeof out->alpn, e.p, pl);
        }
    }
    return INSPECT_PARSED;
}

enum inspect_status inspect_tls_records_collect(const uint8_t *stream, size_t len,
                                                uint8_t *out, size_t outcap, size_t *msg_len)
{
    struct cur c = cur_make(stream, len);
    size_t have = 0, want = 0;
    *msg_len = 0;
    for (;;) {
        uint8_t type = 0, major = 0, minor = 0;
        uint16_t rlen = 0;
        if (c.left < 5)
            return INSPECT_NEED_MORE;
        cur_u8(&c, &type);
        cur_u8(&c, &major);
        cur_u8(&c, &minor);
        cur_be16(&c, &rlen);
        if (type != 22 || major != 3 || minor > 4 || rlen == 0 || rlen > 16384 + 2048)
            return INSPECT_MALFORMED;
        size_t take = rlen < c.left ? rlen : c.left;
        for (size_t i = 0; i < take; i++) {
            if (have < outcap)
                out[have] = c.p[i];
            have++;
            if (have == 4) {
                want = 4 + ((size_t)out[1] << 16 | (size_t)out[2] << 8 | out[3]);
                if (want > outcap) {
                    *msg_len = want;
                    return INSPECT_NEED_MORE;       /* never fits: the caller gives up */
                }
            }
            if (want && have == want) {
                *msg_len = want;
                return INSPECT_PARSED;
            }
        }
        if (take < rlen)
            return INSPECT_NEED_MORE;
        cur_skip(&c, rlen);
    }
}

/* ---- fingerprints ---------------------------------------------------------- */

struct sbuf {
    char *b;
    size_t cap, n;
    bool over;
};

static void sb_put(struct sbuf *s, const char *t, size_t n)
{
    if (s->over || s->cap - s->n <= n) {
        s->over = true;
        return;
    }
    memcpy(s->b + s->n, t, n);
    s->n += n;
    s->b[s->n] = '\0';
}

static void sb_dec(struct sbuf *s, unsigned v)
{
    char t[8];
    int n = snprintf(t, sizeof t, "%u", v);
    sb_put(s, t, (size_t)n);
}

static void sb_hex4(struct sbuf *s, uint16_t v)
{
    static const char d[] = "0123456789abcdef";
    char t[4] = {d[v >> 12], d[v >> 8 & 15], d[v >> 4 & 15], d[v & 15]};
    sb_put(s, t, 4);
}

static void sb_list(struct sbuf *s, const uint16_t *v, unsigned n)
{
    bool first = true;
    for (unsigned i = 0; i < n; i++) {
        if (inspect_tls_is_grease(v[i]))
            continue;
        if (!first)
            sb_put(s, "-", 1);
        sb_dec(s, v[i]);
        first = false;
    }
}

size_t inspect_tls_ja3_string(const struct inspect_tls_client_hello *ch, char *buf, size_t buflen)
{
    struct sbuf s = {buf, buflen, 0, buflen == 0};
    if (buflen)
        buf[0] = '\0';
    sb_dec(&s, ch->legacy_version);
    sb_put(&s, ",", 1);
    sb_list(&s, ch->ciphers, ch->n_ciphers);
    sb_put(&s, ",", 1);
    sb_list(&s, ch->exts, ch->n_exts);
    sb_put(&s, ",", 1);
    sb_list(&s, ch->groups, ch->n_groups);
    sb_put(&s, ",", 1);
    for (unsigned i = 0; i < ch->n_pf; i++) {
        if (i)
            sb_put(&s, "-", 1);
        sb_dec(&s, ch->pf[i]);
    }
    return s.over ? 0 : s.n;
}

size_t inspect_tls_ja3s_string(const struct inspect_tls_server_hello *sh, char *buf, size_t buflen)
{
    struct sbuf s = {buf, buflen, 0, buflen == 0};
    if (buflen)
        buf[0] = '\0';
    sb_dec(&s, sh->legacy_version);
    sb_put(&s, ",", 1);
    sb_dec(&s, sh->cipher);
    sb_put(&s, ",", 1);
    sb_list(&s, sh->exts, sh->n_exts);
    return s.over ? 0 : s.n;
}

static int cmp_u16(const void *a, const void *b)
{
    uint16_t x = *(const uint16_t *)a, y = *(const uint16_t *)b;
    return (x > y) - (x < y);
}

static const char *ja4_version(uint16_t v)
{
    switch (v) {
    case 0x0304: return "13";
    case 0x0303: return "12";
    case 0x0302: return "11";
    case 0x0301: return "10";
    case 0x0300: return "s3";
    case 0x0002: return "s2";
    case 0xfeff: return "d1";
    case 0xfefd: return "d2";
    case 0xfefc: return "d3";
    default:     return "00";
    }
}

static bool alnum(uint8_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

int inspect_tls_ja4(const struct inspect_tls_client_hello *ch, char transport,
                    struct inspect_crypto *crypto, char out[INSPECT_JA4_LEN])
{
    static const char d[] = "0123456789abcdef";
    uint16_t v = ch->legacy_version;
    bool have_sv = false;
    uint16_t best = 0;
    for (unsigned i = 0; i < ch->n_versions; i++) {
        if (inspect_tls_is_grease(ch->versions[i]))
            continue;
        if (!have_sv || ch->versions[i] > best)
            best = ch->versions[i];
        have_sv = true;
    }
    if (have_sv)
        v = best;
    uint16_t ciphers[INSPECT_TLS_MAX_CIPHERS], exts[INSPECT_TLS_MAX_EXTS];
    unsigned nc = 0, ne = 0, ne_all = 0;
    for (unsigned i = 0; i < ch->n_ciphers; i++)
        if (!inspect_tls_is_grease(ch->ciphers[i]))
            ciphers[nc++] = ch->ciphers[i];
    for (unsigned i = 0; i < ch->n_exts; i++) {
        uint16_t e = ch->exts[i];
        if (inspect_tls_is_grease(e))
            continue;
        ne_all++;
        if (e != 0x0000 && e != 0x0010)
            exts[ne++] = e;
    }
    char a0 = '0', a1 = '0';
    if (ch->has_alpn && ch->alpn0_len > 0) {
        if (alnum(ch->alpn0_first) && alnum(ch->alpn0_last)) {
            a0 = (char)ch->alpn0_first;
            a1 = (char)ch->alpn0_last;
        } else {
            a0 = d[ch->alpn0_first >> 4];
            a1 = d[ch->alpn0_last & 15];
        }
    }
    unsigned ncc = nc > 99 ? 99 : nc, nec = ne_all > 99 ? 99 : ne_all;
    const char *vs = ja4_version(v);
    char a[11] = {transport, vs[0], vs[1], ch->has_sni ? 'd' : 'i', (char)('0' + ncc / 10),
                  (char)('0' + ncc % 10), (char)('0' + nec / 10), (char)('0' + nec % 10), a0, a1,
                  '\0'};

    /* Each 4 hex digits + ',' per value: the biggest text is the extensions and
     * signature algorithms together. */
    char text[(INSPECT_TLS_MAX_EXTS + INSPECT_TLS_MAX_SIGALGS + INSPECT_TLS_MAX_CIPHERS) * 5 + 2];
    struct sbuf s = {text, sizeof text, 0, false};
    char hb[13] = "000000000000", hc[13] = "000000000000";
    qsort(ciphers, nc, sizeof ciphers[0], cmp_u16);
    for (unsigned i = 0; i < nc; i++) {
        if (i)
            sb_put(&s, ",", 1);
        sb_hex4(&s, ciphers[i]);
    }
    if (nc && inspect_sha256_hex12(crypto, text, s.n, hb) != 0)
        return -1;
    s.n = 0;
    qsort(exts, ne, sizeof exts[0], cmp_u16);
    for (unsigned i = 0; i < ne; i++) {
        if (i)
            sb_put(&s, ",", 1);
        sb_hex4(&s, exts[i]);
    }
    bool any_sig = false;
    for (unsigned i = 0; i < ch->n_sigalgs; i++) {
        sb_put(&s, any_sig ? "," : "_", 1);
        sb_hex4(&s, ch->sigalgs[i]);
        any_sig = true;
    }
    if (s.over)
        return -1;
    if (ne && inspect_sha256_hex12(crypto, text, s.n, hc) != 0)
        return -1;
    snprintf(out, INSPECT_JA4_LEN, "%s_%s_%s", a, hb, hc);
    return 0;
}
