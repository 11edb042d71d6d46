/*
 * test_inspect_tls.c — TLS ClientHello/ServerHello, their fingerprints, and
 * QUIC Initial decryption (inspect_tls.c, inspect_quic.c).
 *
 * Real handshakes from the shared captures (inspect_vectors.h) with the
 * values tshark 4.0 prints for the same frames (server name, ja3_full, ja3,
 * ja3s_full, ja3s); the JA4 strings were computed independently from
 * tshark's cipher/extension/signature fields following JA4.md. Then every
 * truncation point, lying length fields, every single byte set to 0xff, and
 * hand-built hellos for GREASE and the JA4 ALPN rules.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inspect/inspect.h"
#include "inspect/inspect_proto.h"
#include "tests/unit/inspect_vectors.h"

static struct inspect_crypto *crypto;

static int setup(void **state)
{
    (void)state;
    char err[128];
    crypto = inspect_crypto_create(err, sizeof err);
    return crypto ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    inspect_crypto_destroy(crypto);
    return 0;
}

/* The first handshake message of a record stream, into a static buffer. */
static const uint8_t *first_message(const uint8_t *stream, size_t len, size_t *mlen)
{
    static uint8_t msg[8192];
    assert_int_equal(inspect_tls_records_collect(stream, len, msg, sizeof msg, mlen),
                     INSPECT_PARSED);
    return msg;
}

static void test_client_hello_tshark(void **state)
{
    (void)state;
    size_t ml;
    const uint8_t *m = first_message(tls_ch, sizeof tls_ch, &ml);
    assert_int_equal(ml, 512);
    struct inspect_tls_client_hello ch;
    assert_int_equal(inspect_tls_client_hello_parse(m, ml, &ch), INSPECT_PARSED);
    assert_string_equal(ch.server_name, "www.repubblica.it");
    assert_int_equal(ch.legacy_version, 0x0303);
    assert_int_equal(ch.n_ciphers, 17);           /* as sent, GREASE 0xfafa first */
    assert_int_equal(ch.ciphers[0], 0xfafa);
    assert_int_equal(ch.n_exts, 17);              /* GREASE 0x8a8a and 0x0a0a among them */
    assert_int_equal(ch.exts[0], 0x8a8a);
    assert_int_equal(ch.n_alpn, 2);
    assert_string_equal(ch.alpn[0], "h2");
    assert_string_equal(ch.alpn[1], "http/1.1");
    assert_int_equal(ch.n_versions, 5);           /* GREASE, 1.3, 1.2, 1.1, 1.0 */
    assert_true(inspect_tls_is_grease(ch.versions[0]));
    assert_int_equal(ch.versions[1], 0x0304);
    char ja3[2048];
    size_t n = inspect_tls_ja3_string(&ch, ja3, sizeof ja3);
    assert_string_equal(ja3, "771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-49172-"
                             "156-157-47-53-10,0-23-65281-10-11-35-16-5-13-18-51-45-43-27-21,"
                             "29-23-24,0");
    assert_int_equal(n, strlen(ja3));
    char md5[33];
    assert_int_equal(inspect_md5_hex(crypto, ja3, n, md5), 0);
    assert_string_equal(md5, "66918128f1b9b03303d77c6f2eefd128");
    char ja4[INSPECT_JA4_LEN];
    assert_int_equal(inspect_tls_ja4(&ch, 't', crypto, ja4), 0);
    assert_string_equal(ja4, "t13d1615h2_46e7e9700bed_45f260be83e2");
    /* too small a buffer: 0, never a cut string */
    assert_int_equal(inspect_tls_ja3_string(&ch, ja3, 20), 0);
}

static void test_server_hello_tshark(void **state)
{
    (void)state;
    size_t ml;
    const uint8_t *m = first_message(tls_sh, sizeof tls_sh, &ml);
    struct inspect_tls_server_hello sh;
    assert_int_equal(inspect_tls_server_hello_parse(m, ml, &sh), INSPECT_PARSED);
    assert_int_equal(sh.legacy_version, 0x0303);
    assert_int_equal(sh.selected_version, 0);
    assert_int_equal(sh.cipher, 0xc030);
    assert_string_equal(sh.alpn, "h2");
    char s[256], md5[33];
    size_t n = inspect_tls_ja3s_string(&sh, s, sizeof s);
    assert_string_equal(s, "771,49200,65281-0-11-35-5-16");
    assert_int_equal(inspect_md5_hex(crypto, s, n, md5), 0);
    assert_string_equal(md5, "35af4c8cd9495354f7d701ce8ad7fd2d");
    /* a ServerHello is not a ClientHello and the other way round */
    struct inspect_tls_client_hello ch;
    assert_int_equal(inspect_tls_client_hello_parse(m, ml, &ch), INSPECT_MALFORMED);
}

/* Every prefix of a message: NEED_MORE (the header promises more), never a
 * read past the prefix (ASan: each prefix is copied to its own allocation). */
static void test_every_truncation(void **state)
{
    (void)state;
    size_t ml;
    const uint8_t *m = first_message(tls_ch, sizeof tls_ch, &ml);
    for (size_t cut = 0; cut < ml; cut++) {
        uint8_t *p = malloc(cut ? cut : 1);
        memcpy(p, m, cut);
        struct inspect_tls_client_hello ch;
        assert_int_equal(inspect_tls_client_hello_parse(p, cut, &ch), INSPECT_NEED_MORE);
        free(p);
    }
    for (size_t cut = 0; cut < sizeof tls_ch; cut++) {
        uint8_t *p = malloc(cut ? cut : 1);
        memcpy(p, tls_ch, cut);
        uint8_t out[8192];
        size_t got;
        assert_int_equal(inspect_tls_records_collect(p, cut, out, sizeof out, &got),
                         INSPECT_NEED_MORE);
        free(p);
    }
    const uint8_t *s = first_message(tls_sh, sizeof tls_sh, &ml);
    for (size_t cut = 0; cut < ml; cut++) {
        uint8_t *p = malloc(cut ? cut : 1);
        memcpy(p, s, cut);
        struct inspect_tls_server_hello sh;
        assert_int_equal(inspect_tls_server_hello_parse(p, cut, &sh), INSPECT_NEED_MORE);
        free(p);
    }
}

/* Offsets in tls_ch's handshake message (after the 5-byte record header). */
#define CH_SID_LEN   38     /* 1+3 header, 2 version, 32 random */
static void test_lying_lengths(void **state)
{
    (void)state;
    size_t ml;
    const uint8_t *m = first_message(tls_ch, sizeof tls_ch, &ml);
    uint8_t b[1024];
    struct inspect_tls_client_hello ch;
    size_t sid = m[CH_SID_LEN];
    size_t cs_off = CH_SID_LEN + 1 + sid;

    memcpy(b, m, ml);                    /* session id length above 32 */
    b[CH_SID_LEN] = 33;
    assert_int_equal(inspect_tls_client_hello_parse(b, ml, &ch), INSPECT_MALFORMED);

    memcpy(b, m, ml);                    /* odd cipher suites length */
    b[cs_off + 1] |= 1;
    assert_int_equal(inspect_tls_client_hello_parse(b, ml, &ch), INSPECT_MALFORMED);

    memcpy(b, m, ml);                    /* cipher suites running past the message */
    b[cs_off] = 0x7f;
    assert_int_equal(inspect_tls_client_hello_parse(b, ml, &ch), INSPECT_MALFORMED);

    memcpy(b, m, ml);                    /* handshake length below the fixed part */
    b[1] = 0;
    b[2] = 0;
    b[3] = 10;
    assert_int_equal(inspect_tls_client_hello_parse(b, ml, &ch), INSPECT_MALFORMED);

    memcpy(b, m, ml);                    /* handshake length longer than what came */
    b[3] = (uint8_t)(b[3] + 1);
    assert_int_equal(inspect_tls_client_hello_parse(b, ml, &ch), INSPECT_NEED_MORE);

    /* every byte set to 0xff in turn: whatever it says, it stays inside */
    for (size_t i = 0; i < ml; i++) {
        memcpy(b, m, ml);
        b[i] = 0xff;
        enum inspect_status st = inspect_tls_client_hello_parse(b, ml, &ch);
        assert_true(st == INSPECT_PARSED || st == INSPECT_NEED_MORE || st == INSPECT_MALFORMED);
        if (st == INSPECT_PARSED) {
            char ja3[4096], ja4[INSPECT_JA4_LEN];
            (void)inspect_tls_ja3_string(&ch, ja3, sizeof ja3);
            assert_int_equal(inspect_tls_ja4(&ch, 't', crypto, ja4), 0);
            assert_int_equal(strlen(ja4), 36);
        }
    }

    /* records: a non-handshake record type, a record longer than allowed */
    uint8_t r[600];
    uint8_t out[4096];
    size_t got;
    memcpy(r, tls_ch, sizeof tls_ch);
    r[0] = 23;
    assert_int_equal(inspect_tls_records_collect(r, sizeof tls_ch, out, sizeof out, &got),
                     INSPECT_MALFORMED);
    memcpy(r, tls_ch, sizeof tls_ch);
    r[3] = 0x50;
    assert_int_equal(inspect_tls_records_collect(r, sizeof tls_ch, out, sizeof out, &got),
                     INSPECT_MALFORMED);
    /* a message longer than the output: NEED_MORE with its length, so the caller gives up */
    assert_int_equal(inspect_tls_records_collect(tls_ch, sizeof tls_ch, out, 100, &got),
                     INSPECT_NEED_MORE);
    assert_int_equal(got, 512);
}

/* ---- hand-built hellos ---------------------------------------------------- */

struct hb {
    uint8_t b[2048];
    size_t n;
};

static void put8(struct hb *h, unsigned v) { h->b[h->n++] = (uint8_t)v; }
static void put16(struct hb *h, unsigned v) { put8(h, v >> 8); put8(h, v & 0xff); }

/* A ClientHello with the given lists; the ALPN value raw (alen bytes). */
static size_t build_hello(uint8_t *out, const uint16_t *cs, size_t ncs, const uint16_t *ext_order,
                          size_t next, const uint8_t *alpn, size_t alen, int with_sigalgs)
{
    struct hb h = {.n = 0};
    put8(&h, 1);
    put8(&h, 0); put16(&h, 0);                   /* length, patched below */
    put16(&h, 0x0303);
    for (int i = 0; i < 32; i++)
        put8(&h, i);
    put8(&h, 0);                                 /* no session id */
    put16(&h, (unsigned)ncs * 2);
    for (size_t i = 0; i < ncs; i++)
        put16(&h, cs[i]);
    put8(&h, 1); put8(&h, 0);                    /* null compression */
    size_t el = h.n;
    put16(&h, 0);
    for (size_t i = 0; i < next; i++) {
        uint16_t t = ext_order[i];
        put16(&h, t);
        size_t lp = h.n;
        put16(&h, 0);
        switch (t) {
        case 0x0000:
            put16(&h, 14); put8(&h, 0); put16(&h, 11);
            memcpy(h.b + h.n, "example.com", 11);
            h.n += 11;
            break;
        case 0x0010:
            put16(&h, (unsigned)alen + 1); put8(&h, (unsigned)alen);
            memcpy(h.b + h.n, alpn, alen);
            h.n += alen;
            break;
        case 0x000a:
            put16(&h, 6); put16(&h, 0x2a2a); put16(&h, 29); put16(&h, 23);
            break;
        case 0x000d:
            if (with_sigalgs) {
                put16(&h, 4); put16(&h, 0x0403); put16(&h, 0x0804);
            } else {
                put16(&h, 0);
            }
            break;
        case 0x002b:
            put8(&h, 6); put16(&h, 0x7a7a); put16(&h, 0x0304); put16(&h, 0x0303);
            break;
        default:
            break;
        }
        size_t l = h.n - lp - 2;
        h.b[lp] = (uint8_t)(l >> 8);
        h.b[lp + 1] = (uint8_t)l;
    }
    size_t tl = h.n - el - 2;
    h.b[el] = (uint8_t)(tl >> 8);
    h.b[el + 1] = (uint8_t)tl;
    size_t bl = h.n - 4;
    h.b[1] = (uint8_t)(bl >> 16);
    h.b[2] = (uint8_t)(bl >> 8);
    h.b[3] = (uint8_t)bl;
    memcpy(out, h.b, h.n);
    return h.n;
}

static void test_grease_and_ja4_rules(void **state)
{
    (void)state;
    static const uint16_t cs[] = {0x1a1a, 0x1302, 0x1301, 0xc02b};
    static const uint16_t ext[] = {0xdada, 0x0000, 0x0010, 0x000a, 0x000d, 0x002b, 0x0a0a};
    uint8_t m[2048];
    size_t n = build_hello(m, cs, 4, ext, 7, (const uint8_t *)"h2", 2, 1);
    struct inspect_tls_client_hello ch;
    assert_int_equal(inspect_tls_client_hello_parse(m, n, &ch), INSPECT_PARSED);
    assert_string_equal(ch.server_name, "example.com");
    char ja3[512], ja4[INSPECT_JA4_LEN];
    inspect_tls_ja3_string(&ch, ja3, sizeof ja3);
    /* GREASE gone from ciphers, extensions and groups; no point formats */
    assert_string_equal(ja3, "771,4866-4865-49195,0-16-10-13-43,29-23,");
    assert_int_equal(inspect_tls_ja4(&ch, 't', crypto, ja4), 0);
    /* 3 ciphers, 5 extensions (SNI and ALPN counted), TLS 1.3 from supported_versions;
     * b = sha256("1301,1302,c02b"), c = sha256("000a,000d,002b_0403,0804") */
    char hb[13], hc[13], want[INSPECT_JA4_LEN];
    assert_int_equal(inspect_sha256_hex12(crypto, "1301,1302,c02b", 14, hb), 0);
    assert_int_equal(inspect_sha256_hex12(crypto, "000a,000d,002b_0403,0804", 24, hc), 0);
    snprintf(want, sizeof want, "t13d0305h2_%s_%s", hb, hc);
    assert_string_equal(ja4, want);

    /* no signature algorithms: no '_' in the hashed text */
    n = build_hello(m, cs, 4, ext, 7, (const uint8_t *)"h2", 2, 0);
    assert_int_equal(inspect_tls_client_hello_parse(m, n, &ch), INSPECT_PARSED);
    assert_int_equal(inspect_tls_ja4(&ch, 'q', crypto, ja4), 0);
    assert_int_equal(inspect_sha256_hex12(crypto, "000a,000d,002b", 14, hc), 0);
    snprintf(want, sizeof want, "q13d0305h2_%s_%s", hb, hc);
    assert_string_equal(ja4, want);

    /* ALPN ends not alphanumeric: first and last hex digits (JA4.md: 0xAB 0xCD -> "ad") */
    static const uint8_t odd[] = {0xab, 0xcd};
    n = build_hello(m, cs, 4, ext, 7, odd, 2, 1);
    assert_int_equal(inspect_tls_client_hello_parse(m, n, &ch), INSPECT_PARSED);
    assert_int_equal(inspect_tls_ja4(&ch, 't', crypto, ja4), 0);
    assert_memory_equal(ja4, "t13d0305ad_", 11);
    assert_string_equal(ch.alpn[0], "??");      /* kept printable */
    /* one-character ALPN: that character twice */
    n = build_hello(m, cs, 4, ext, 7, (const uint8_t *)"x", 1, 1);
    assert_int_equal(inspect_tls_client_hello_parse(m, n, &ch), INSPECT_PARSED);
    assert_int_equal(inspect_tls_ja4(&ch, 't', crypto, ja4), 0);
    assert_memory_equal(ja4, "t13d0305xx_", 11);

    /* no SNI, no ALPN: 'i' and "00"; no extensions at all: hash of zeros */
    static const uint16_t ext2[] = {0x000a};
    n = build_hello(m, cs, 4, ext2, 1, NULL, 0, 1);
    assert_int_equal(inspect_tls_client_hello_parse(m, n, &ch), INSPECT_PARSED);
    assert_int_equal(inspect_tls_ja4(&ch, 't', crypto, ja4), 0);
    assert_memory_equal(ja4, "t12i030100_", 11);
    n = build_hello(m, cs, 4, ext2, 0, NULL, 0, 1);
    assert_int_equal(inspect_tls_client_hello_parse(m, n, &ch), INSPECT_PARSED);
    assert_int_equal(inspect_tls_ja4(&ch, 't', crypto, ja4), 0);
    snprintf(want, sizeof want, "t12i030000_%s_000000000000", hb);
    assert_string_equal(ja4, want);
}

static void test_grease_values(void **state)
{
    (void)state;
    assert_true(inspect_tls_is_grease(0x0a0a));
    assert_true(inspect_tls_is_grease(0xfafa));
    assert_false(inspect_tls_is_grease(0x0a1a));
    assert_false(inspect_tls_is_grease(0x1301));
}

/* ---- QUIC ----------------------------------------------------------------- */

struct ranges {
    uint32_t s[16], e[16];
    unsigned n;
};

static void on_range(void *ctx, uint32_t s, uint32_t e)
{
    struct ranges *r = ctx;
    if (r->n < 16) {
        r->s[r->n] = s;
        r->e[r->n] = e;
        r->n++;
    }
}

/* Length of the prefix [0, x) the ranges cover (CRYPTO frames may come out
 * of order inside one packet, as Chrome sends them). */
static uint32_t contiguous(const struct ranges *r)
{
    uint32_t end = 0;
    for (bool grew = true; grew;) {
        grew = false;
        for (unsigned i = 0; i < r->n; i++)
            if (r->s[i] <= end && r->e[i] > end) {
                end = r->e[i];
                grew = true;
            }
    }
    return end;
}

/* Decrypt a client Initial, parse its ClientHello; returns the DCID used. */
static void quic_client(const uint8_t *d, size_t n, struct inspect_tls_client_hello *ch,
                        uint8_t dcid[20], uint8_t *dcid_len)
{
    static uint8_t buf[4096];
    struct ranges r = {.n = 0};
    assert_int_equal(inspect_quic_initial(crypto, d, n, 0, NULL, 0, dcid, dcid_len, buf,
                                          sizeof buf, on_range, &r),
                     INSPECT_PARSED);
    assert_int_equal(inspect_tls_client_hello_parse(buf, contiguous(&r), ch), INSPECT_PARSED);
}

static void test_quic_v1(void **state)
{
    (void)state;
    struct inspect_tls_client_hello ch;
    uint8_t dcid[20], dl = 0;
    quic_client(quic1_client, sizeof quic1_client, &ch, dcid, &dl);
    assert_int_equal(dl, 8);
    assert_string_equal(ch.server_name, "ssl.gstatic.com");
    assert_string_equal(ch.alpn[0], "h3");
    char ja3[2048], md5[33], ja4[INSPECT_JA4_LEN];
    size_t n = inspect_tls_ja3_string(&ch, ja3, sizeof ja3);
    assert_int_equal(inspect_md5_hex(crypto, ja3, n, md5), 0);
    assert_string_equal(md5, "06b6b2a2cba0b7deeaaa6a3d8374d627");
    assert_int_equal(inspect_tls_ja4(&ch, 'q', crypto, ja4), 0);
    assert_string_equal(ja4, "q13d0312h3_55b375c5d22e_73e2d9e6cde6");

    /* the server's Initial: keys from the client's DCID, "server in" */
    uint8_t buf[4096];
    struct ranges r = {.n = 0};
    assert_int_equal(inspect_quic_initial(crypto, quic1_server, sizeof quic1_server, 1, dcid, dl,
                                          NULL, NULL, buf, sizeof buf, on_range, &r),
                     INSPECT_PARSED);
    struct inspect_tls_server_hello sh;
    assert_int_equal(inspect_tls_server_hello_parse(buf, contiguous(&r), &sh), INSPECT_PARSED);
    assert_int_equal(sh.selected_version, 0x0304);
    assert_int_equal(sh.cipher, 0x1301);
    char s[256];
    n = inspect_tls_ja3s_string(&sh, s, sizeof s);
    assert_int_equal(inspect_md5_hex(crypto, s, n, md5), 0);
    assert_string_equal(md5, "2b0648ab686ee45e0e7c35fcfb0eea7e");
    /* with the client keys (or another DCID) nothing decrypts */
    r.n = 0;
    assert_int_equal(inspect_quic_initial(crypto, quic1_server, sizeof quic1_server, 0, dcid, dl,
                                          NULL, NULL, buf, sizeof buf, on_range, &r),
                     INSPECT_MALFORMED);
    assert_int_equal(r.n, 0);
}

static void test_quic_v2(void **state)
{
    (void)state;
    struct inspect_tls_client_hello ch;
    uint8_t dcid[20], dl = 0;
    quic_client(quic2_client, sizeof quic2_client, &ch, dcid, &dl);
    assert_string_equal(ch.server_name, "test");
    char ja4[INSPECT_JA4_LEN];
    assert_int_equal(inspect_tls_ja4(&ch, 'q', crypto, ja4), 0);
    assert_string_equal(ja4, "q13d0310h3_55b375c5d22e_0a3b52e28cea");
    uint8_t buf[4096];
    struct ranges r = {.n = 0};
    /* coalesced Initial + Handshake, with the QUIC bit greased (RFC 9287) */
    assert_int_equal(inspect_quic_initial(crypto, quic2_server, sizeof quic2_server, 1, dcid, dl,
                                          NULL, NULL, buf, sizeof buf, on_range, &r),
                     INSPECT_PARSED);
    struct inspect_tls_server_hello sh;
    assert_int_equal(inspect_tls_server_hello_parse(buf, contiguous(&r), &sh), INSPECT_PARSED);
    assert_int_equal(sh.selected_version, 0x0304);
}

/* Every truncation, and every byte flipped: no Initial authenticates (the
 * AEAD tag covers header and payload), nothing is read outside. */
static void test_quic_hostile(void **state)
{
    (void)state;
    uint8_t buf[4096], dcid[20], dl;
    struct ranges r;
    for (size_t cut = 0; cut < sizeof quic1_client; cut++) {
        uint8_t *p = malloc(cut ? cut : 1);
        memcpy(p, quic1_client, cut);
        r.n = 0;
        dl = 0;
        assert_int_equal(inspect_quic_initial(crypto, p, cut, 0, NULL, 0, dcid, &dl, buf,
                                              sizeof buf, on_range, &r),
                         INSPECT_MALFORMED);
        assert_int_equal(r.n, 0);
        free(p);
    }
    uint8_t *p = malloc(sizeof quic1_client);
    for (size_t i = 0; i < sizeof quic1_client; i += 7) {
        memcpy(p, quic1_client, sizeof quic1_client);
        p[i] ^= 0x41;
        r.n = 0;
        dl = 0;
        enum inspect_status st = inspect_quic_initial(crypto, p, sizeof quic1_client, 0, NULL, 0,
                                                      dcid, &dl, buf, sizeof buf, on_range, &r);
        /* bytes 6-13 are the DCID: a changed seed gives other keys, the tag fails too */
        if (i == 0)
            continue;                 /* the unprotected type bits: may become another type */
        assert_int_equal(st, INSPECT_MALFORMED);
    }
    free(p);
    assert_true(inspect_quic_version_known(1));
    assert_true(inspect_quic_version_known(0x6b3343cf));
    assert_true(inspect_quic_version_known(0xff00001d));
    assert_false(inspect_quic_version_known(0x51303530)); /* gQUIC Q050 */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_client_hello_tshark),
        cmocka_unit_test(test_server_hello_tshark),
        cmocka_unit_test(test_every_truncation),
        cmocka_unit_test(test_lying_lengths),
        cmocka_unit_test(test_grease_and_ja4_rules),
        cmocka_unit_test(test_grease_values),
        cmocka_unit_test(test_quic_v1),
        cmocka_unit_test(test_quic_v2),
        cmocka_unit_test(test_quic_hostile),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
