/*
 * fuzz_inspect.c — libFuzzer harness for the payload parsers (inspect/).
 *
 * One harness for all of them: the first byte picks the target, the rest is
 * its input.
 *   0 DNS message           1 TLS ClientHello (+ JA3, JA4)   2 ServerHello (+ JA3S)
 *   3 TLS record stream     4 QUIC datagram as it comes       5 QUIC Initial built here
 *   6 HTTP request/response 7 SSH banner                      8+ a whole flow
 * Target 5 encrypts the input as the plaintext of a valid client Initial
 * (keys from a fixed DCID), so that the frame walk and the CRYPTO
 * reassembly behind the AEAD are reached too; target 4 alone would never
 * get past the tag. Target 8+ cuts the input into packets (direction,
 * protocol, TCP flags, sequence offset, length, bytes) fed to one flow, then
 * checks that the cJSON builder and the fast writer agree on its result.
 * Contracts checkable from outside abort like a sanitizer report would.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "inspect/inspect.h"
#include "inspect/inspect_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Made once per process (libFuzzer calls the entry point many times). */
static struct inspect_crypto *fi_crypto(void)
{
    static struct inspect_crypto *c;
    if (!c) {
        char err[128];
        c = inspect_crypto_create(err, sizeof err);
        if (!c)
            abort();
    }
    return c;
}

static struct inspect_pool *fi_pool(void)
{
    static struct inspect_pool *p;
    if (!p) {
        char err[128];
        p = inspect_pool_create(1, err, sizeof err);
        if (!p)
            abort();
    }
    return p;
}

static void fi_range(void *ctx, uint32_t s, uint32_t e)
{
    (void)ctx;
    if (e <= s || e > 4096)
        abort();
}

/* HKDF-Expand-Label with one HMAC block (RFC 8446 §7.1), for the harness's
 * own Initial. */
static void fi_label(const uint8_t secret[32], const char *label, uint8_t *out, size_t n)
{
    uint8_t info[64], t[32];
    size_t ll = strlen(label), k = 0;
    unsigned tl = 0;
    info[k++] = 0;
    info[k++] = (uint8_t)n;
    info[k++] = (uint8_t)(6 + ll);
    memcpy(info + k, "tls13 ", 6);
    k += 6;
    memcpy(info + k, label, ll);
    k += ll;
    info[k++] = 0;
    info[k++] = 1;
    if (!HMAC(EVP_sha256(), secret, 32, info, k, t, &tl))
        abort();
    memcpy(out, t, n);
}

/* Encrypt plain as a v1 client Initial with DCID 8 x 0x83 into out. */
static size_t fi_initial(const uint8_t *plain, size_t n, uint8_t *out, size_t cap)
{
    static const uint8_t salt[20] = {0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17,
                                     0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a};
    uint8_t dcid[8], initial[32], secret[32], key[16], iv[12], hp[16];
    unsigned l = 0;
    memset(dcid, 0x83, sizeof dcid);
    if (!HMAC(EVP_sha256(), salt, 20, dcid, 8, initial, &l))
        abort();
    fi_label(initial, "client in", secret, 32);
    fi_label(secret, "quic key", key, 16);
    fi_label(secret, "quic iv", iv, 12);
    fi_label(secret, "quic hp", hp, 16);
    uint8_t pt[1400];
    size_t pn = n < sizeof pt ? n : sizeof pt;
    memcpy(pt, plain, pn);
    if (pn < 20) {                                   /* room for the header-protection sample */
        memset(pt + pn, 0, 20 - pn);
        pn = 20;
    }
    size_t h = 0, plen = 1 + pn + 16;
    if (cap < 32 + plen)
        return 0;
    out[h++] = 0xc0;                                 /* Initial, 1-byte packet number */
    out[h++] = 0; out[h++] = 0; out[h++] = 0; out[h++] = 1;
    out[h++] = 8;
    memcpy(out + h, dcid, 8);
    h += 8;
    out[h++] = 0;                                    /* SCID */
    out[h++] = 0;                                    /* token */
    out[h++] = (uint8_t)(0x40 | plen >> 8);
    out[h++] = (uint8_t)plen;
    size_t pn_off = h;
    out[h++] = 0;                                    /* packet number 0: nonce = iv */
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int o1 = 0, o2 = 0;
    if (!c || !EVP_EncryptInit_ex(c, EVP_aes_128_gcm(), NULL, key, iv) ||
        !EVP_EncryptUpdate(c, NULL, &o1, out, (int)h) ||
        !EVP_EncryptUpdate(c, out + h, &o1, pt, (int)pn) ||
        !EVP_EncryptFinal_ex(c, out + h + o1, &o2) ||
        !EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, out + h + pn))
        abort();
    EVP_CIPHER_CTX_free(c);
    size_t total = h + pn + 16;
    uint8_t mask[32];
    c = EVP_CIPHER_CTX_new();
    if (!c || !EVP_EncryptInit_ex(c, EVP_aes_128_ecb(), NULL, hp, NULL) ||
        !EVP_CIPHER_CTX_set_padding(c, 0) ||
        !EVP_EncryptUpdate(c, mask, &o1, out + pn_off + 4, 16))
        abort();
    EVP_CIPHER_CTX_free(c);
    out[0] ^= mask[0] & 0x0f;
    out[pn_off] ^= mask[1];
    return total;
}

static void fi_json(const struct inspect_result *r)
{
    char fast[4096], wrapped[4200];
    size_t n = inspect_result_format(r, fast, sizeof fast);
    if (n >= sizeof fast)
        abort();
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return;
    if (inspect_result_add_json(o, r) == 0) {
        char *s = cJSON_PrintUnformatted(o);
        if (s) {
            size_t k = 0;
            wrapped[k++] = '{';
            if (n) {
                memcpy(wrapped + k, fast + 1, n - 1);
                k += n - 1;
            }
            wrapped[k++] = '}';
            wrapped[k] = '\0';
            if (strcmp(s, wrapped) != 0)
                abort();
            free(s);
        }
    }
    cJSON_Delete(o);
}

static void fi_flow(const uint8_t *d, size_t n)
{
    struct inspect_pool *pool = fi_pool();
    struct inspect_flow *f = inspect_flow_acquire(pool);
    if (!f)
        abort();
    uint32_t seq[2] = {1000, 50000};
    while (n >= 5) {
        uint8_t ctl = d[0], flags = d[1];
        uint16_t off = (uint16_t)(d[2] << 8 | d[3]);
        size_t len = d[4];
        d += 5;
        n -= 5;
        if (len > n)
            len = n;
        enum inspect_dir dir = (ctl & 1) ? INSPECT_DIR_REV : INSPECT_DIR_FWD;
        uint8_t proto = (ctl & 2) ? 17 : 6;
        uint16_t sp = (ctl & 4) ? 443 : (ctl & 8) ? 53 : 40000;
        uint16_t dp = (ctl & 16) ? 22 : 80;
        bool more = inspect_flow_feed(f, dir, proto, dir ? dp : sp, dir ? sp : dp, flags,
                                      seq[dir] + (uint32_t)(int16_t)off, (ctl & 32) == 0, d, len);
        d += len;
        n -= len;
        if (!more)
            break;
    }
    struct inspect_result r = *inspect_flow_result(f);
    inspect_flow_release(pool, f);
    fi_json(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t sel = data[0];
    const uint8_t *d = data + 1;
    size_t n = size - 1;
    struct inspect_crypto *c = fi_crypto();
    static uint8_t buf[70000];
    switch (sel) {
    case 0: {
        struct inspect_dns_msg m;
        if (inspect_dns_parse(d, n, &m) == INSPECT_PARSED && m.q.n_answers > INSPECT_DNS_ANSWERS)
            abort();
        break;
    }
    case 1: {
        struct inspect_tls_client_hello ch;
        if (inspect_tls_client_hello_parse(d, n, &ch) == INSPECT_PARSED) {
            char ja3[4096], ja4[INSPECT_JA4_LEN], md5[33];
            size_t k = inspect_tls_ja3_string(&ch, ja3, sizeof ja3);
            if (k && (strlen(ja3) != k || inspect_md5_hex(c, ja3, k, md5) != 0))
                abort();
            if (inspect_tls_ja4(&ch, 't', c, ja4) != 0 || strlen(ja4) != 36)
                abort();
        }
        break;
    }
    case 2: {
        struct inspect_tls_server_hello sh;
        if (inspect_tls_server_hello_parse(d, n, &sh) == INSPECT_PARSED) {
            char s[1024];
            (void)inspect_tls_ja3s_string(&sh, s, sizeof s);
        }
        break;
    }
    case 3: {
        size_t ml = 0;
        enum inspect_status st = inspect_tls_records_collect(d, n, buf, 4096, &ml);
        if (st == INSPECT_PARSED && (ml > 4096 || ml < 4))
            abort();
        break;
    }
    case 4:
    case 5: {
        uint8_t dcid[20], dl = 0;
        const uint8_t *pkt = d;
        size_t pl = n;
        static uint8_t enc[1600];
        if (sel == 5) {
            pl = fi_initial(d, n, enc, sizeof enc);
            pkt = enc;
        }
        memset(buf, 0, 4096);                        /* no bytes from an earlier input */
        enum inspect_status st = inspect_quic_initial(c, pkt, pl, 0, NULL, 0, dcid, &dl, buf,
                                                      4096, fi_range, NULL);
        if (st == INSPECT_PARSED && dl > 20)
            abort();
        uint8_t scid[20], sl = 0;
        if (inspect_quic_retry_scid(pkt, pl, scid, &sl) && sl > 20)
            abort();
        if (sel == 5) {
            struct inspect_tls_client_hello ch;
            (void)inspect_tls_client_hello_parse(buf, 4096, &ch);
        }
        break;
    }
    case 6: {
        struct inspect_http h;
        memset(&h, 0, sizeof h);
        (void)inspect_http_request_parse(d, n, 0, &h);
        (void)inspect_http_request_parse(d, n, 1, &h);
        (void)inspect_http_response_parse(d, n, &h);
        if (memchr(h.path, 0, sizeof h.path) == NULL || memchr(h.host, 0, sizeof h.host) == NULL)
            abort();
        break;
    }
    case 7: {
        char out[INSPECT_BANNER_LEN];
        if (inspect_ssh_banner_parse(d, n, out, sizeof out) == INSPECT_PARSED &&
            strlen(out) >= sizeof out)
            abort();
        break;
    }
    default:
        fi_flow(d, n);
        break;
    }
    return 0;
}
