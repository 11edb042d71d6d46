/*
 * inspect_quic.c — QUIC Initial packets (RFC 9000 §17.2.2, RFC 9001 §5,
 * RFC 9369 for version 2): derive the Initial keys from the client's first
 * Destination Connection ID (HKDF-SHA256 with the version's salt), remove
 * header protection (AES-128-ECB mask over a 16-byte sample), decrypt the
 * payload (AES-128-GCM, the header as associated data) and copy the CRYPTO
 * frames' bytes to their stream offsets. The TLS ClientHello (or
 * ServerHello) in that stream is then read by inspect_tls.c.
 *
 * Decryption uses OpenSSL's contexts in struct inspect_crypto, made once per
 * thread; the plaintext goes to its scratch buffer. A datagram that does not
 * decrypt (not QUIC, another version, a later packet) is simply refused.
 */
#include "inspect/inspect.h"
#include "inspect/inspect_int.h"
#include "inspect/inspect_proto.h"

#define QUIC_V1 0x00000001u
#define QUIC_V2 0x6b3343cfu

static const uint8_t salt_v1[20] = {0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17,
                                    0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a};
static const uint8_t salt_v2[20] = {0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93,
                                    0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb, 0xf9, 0xbd, 0x2e, 0xd9};
static const uint8_t salt_d29[20] = {0xaf, 0xbf, 0xec, 0x28, 0x99, 0x93, 0xd2, 0x4c, 0x9e, 0x97,
                                     0x86, 0xf1, 0x9c, 0x61, 0x11, 0xe0, 0x43, 0x90, 0xa8, 0x99};
static const uint8_t salt_d23[20] = {0xc3, 0xee, 0xf7, 0x12, 0xc7, 0x2e, 0xbb, 0x5a, 0x11, 0xa7,
                                     0xd2, 0x43, 0x2b, 0xb4, 0x63, 0x65, 0xbe, 0xf9, 0xf5, 0x02};

/* The version's salt, or NULL when its keys are unknown to us. */
static const uint8_t *version_salt(uint32_t v)
{
    if (v == QUIC_V1)
        return salt_v1;
    if (v == QUIC_V2)
        return salt_v2;
    if ((v & 0xffffff00u) == 0xff000000u) {          /* IETF drafts */
        unsigned d = v & 0xff;
        if (d >= 33 && d <= 34)
            return salt_v1;                          /* the final salt came with draft 33 */
        if (d >= 29 && d <= 32)
            return salt_d29;
        if (d >= 23 && d <= 28)
            return salt_d23;
    }
    return NULL;
}

int inspect_quic_version_known(uint32_t version)
{
    return version_salt(version) != NULL;
}

int inspect_quic_retry_scid(const uint8_t *dgram, size_t len, uint8_t scid[20], uint8_t *scid_len)
{
    struct cur c = cur_make(dgram, len);
    uint8_t b0, dl, sl;
    uint32_t version;
    if (!cur_u8(&c, &b0) || !(b0 & 0x80) || !cur_be32(&c, &version) || !version_salt(version))
        return 0;
    unsigned type = (b0 >> 4) & 3;
    if (type != (version == QUIC_V2 ? 0u : 3u))
        return 0;
    if (!cur_u8(&c, &dl) || dl > 20 || !cur_skip(&c, dl) || !cur_u8(&c, &sl) || sl > 20 ||
        c.left < sl)
        return 0;
    memcpy(scid, c.p, sl);
    *scid_len = sl;
    return 1;
}

/* HKDF-Expand-Label (RFC 8446 §7.1) with an empty context, out_len <= 32. */
static int expand_label(struct inspect_crypto *c, const uint8_t secret[32], const char *label,
                        uint8_t *out, size_t out_len)
{
    uint8_t info[2 + 1 + 6 + 32 + 1 + 1];
    size_t ll = strlen(label), n = 0;
    if (ll > 32 || out_len > 32)
        return -1;
    info[n++] = 0;
    info[n++] = (uint8_t)out_len;
    info[n++] = (uint8_t)(6 + ll);
    memcpy(info + n, "tls13 ", 6);
    n += 6;
    memcpy(info + n, label, ll);
    n += ll;
    info[n++] = 0;                                   /* context length */
    info[n++] = 1;                                   /* HKDF-Expand's counter: T(1) */
    uint8_t t[32];
    if (inspect_hmac_sha256(c, secret, 32, info, n, t) != 0)
        return -1;
    memcpy(out, t, out_len);
    return 0;
}

struct keys {
    uint8_t key[16], iv[12], hp[16];
};

static int derive(struct inspect_crypto *c, uint32_t version, const uint8_t *dcid, size_t dcid_len,
                  int server, struct keys *k)
{
    const uint8_t *salt = version_salt(version);
    uint8_t initial[32], secret[32];
    if (!salt || inspect_hmac_sha256(c, salt, 20, dcid, dcid_len, initial) != 0 ||
        expand_label(c, initial, server ? "server in" : "client in", secret, 32) != 0)
        return -1;
    bool v2 = version == QUIC_V2;
    if (expand_label(c, secret, v2 ? "quicv2 key" : "quic key", k->key, 16) != 0 ||
        expand_label(c, secret, v2 ? "quicv2 iv" : "quic iv", k->iv, 12) != 0 ||
        expand_label(c, secret, v2 ? "quicv2 hp" : "quic hp", k->hp, 16) != 0)
        return -1;
    return 0;
}

/* A variable-length integer (RFC 9000 §16). */
static bool cur_varint(struct cur *c, uint64_t *v)
{
    uint8_t b;
    if (!cur_u8(c, &b))
        return false;
    unsigned extra = (1u << (b >> 6)) - 1;
    uint64_t x = b & 0x3f;
    for (unsigned i = 0; i < extra; i++) {
        uint8_t n;
        if (!cur_u8(c, &n))
            return false;
        x = x << 8 | n;
    }
    *v = x;
    return true;
}

/* Walk the decrypted frames; copy CRYPTO data. False on an unknown frame. */
static bool frames(struct cur f, uint8_t *buf, size_t cap, inspect_quic_range_fn on_range,
                   void *ctx)
{
    while (f.left) {
        uint64_t type;
        if (!cur_varint(&f, &type))
            return false;
        if (type == 0x00 || type == 0x01)            /* PADDING, PING */
            continue;
        if (type == 0x02 || type == 0x03) {          /* ACK (§19.3) */
            uint64_t largest, delay, count, first, gap, len;
            if (!cur_varint(&f, &largest) || !cur_varint(&f, &delay) ||
                !cur_varint(&f, &count) || !cur_varint(&f, &first) || count > 256)
                return false;
            for (uint64_t i = 0; i < count; i++)
                if (!cur_varint(&f, &gap) || !cur_varint(&f, &len))
                    return false;
            if (type == 0x03) {
                uint64_t e0, e1, e2;
                if (!cur_varint(&f, &e0) || !cur_varint(&f, &e1) || !cur_varint(&f, &e2))
                    return false;
            }
            continue;
        }
        if (type == 0x06) {                          /* CRYPTO (§19.6) */
            uint64_t off, len;
            if (!cur_varint(&f, &off) || !cur_varint(&f, &len) || len > f.left)
                return false;
            if (off < cap && len > 0) {
                size_t n = (size_t)(cap - off < len ? cap - off : len);
                memcpy(buf + off, f.p, n);
                on_range(ctx, (uint32_t)off, (uint32_t)(off + n));
            }
            cur_skip(&f, (size_t)len);
            continue;
        }
        if (type == 0x1c) {                          /* CONNECTION_CLOSE: nothing more */
            return true;
        }
        return false;                                /* not allowed in an Initial */
    }
    return true;
}

/* Decrypt the Initial at pkt[0..pkt_len) (header through payload); pn_off is
 * the packet number's offset. */
static bool open_initial(struct inspect_crypto *c, const struct keys *k, uint8_t *hdr_copy,
                         const uint8_t *pkt, size_t pkt_len, size_t pn_off, uint8_t *plain,
                         size_t *plain_len)
{
    if (pkt_len < pn_off + 4 + 16)
        return false;
    uint8_t mask[16 + 16];
    int outl = 0;
    if (!EVP_EncryptInit_ex(c->ecb, EVP_aes_128_ecb(), NULL, k->hp, NULL) ||
        !EVP_CIPHER_CTX_set_padding(c->ecb, 0) ||
        !EVP_EncryptUpdate(c->ecb, mask, &outl, pkt + pn_off + 4, 16) || outl != 16)
        return false;
    uint8_t first = pkt[0] ^ (mask[0] & 0x0f);
    size_t pn_len = (size_t)(first & 3) + 1;
    size_t hdr_len = pn_off + pn_len;
    if (hdr_len > 1500 || pkt_len < hdr_len + 16)
        return false;
    memcpy(hdr_copy, pkt, hdr_len);
    hdr_copy[0] = first;
    uint64_t pn = 0;
    for (size_t i = 0; i < pn_len; i++) {
        hdr_copy[pn_off + i] = pkt[pn_off + i] ^ mask[1 + i];
        pn = pn << 8 | hdr_copy[pn_off + i];
    }
    uint8_t nonce[12];
    memcpy(nonce, k->iv, 12);
    for (int i = 0; i < 8; i++)
        nonce[11 - i] ^= (uint8_t)(pn >> (8 * i));
    size_t ct_len = pkt_len - hdr_len - 16;
    if (ct_len > INSPECT_SCRATCH_BYTES)
        return false;
    int n1 = 0, n2 = 0;
    if (!EVP_DecryptInit_ex(c->gcm, EVP_aes_128_gcm(), NULL, NULL, NULL) ||
        !EVP_DecryptInit_ex(c->gcm, NULL, NULL, k->key, nonce) ||
        !EVP_DecryptUpdate(c->gcm, NULL, &outl, hdr_copy, (int)hdr_len) ||
        !EVP_DecryptUpdate(c->gcm, plain, &n1, pkt + hdr_len, (int)ct_len) ||
        !EVP_CIPHER_CTX_ctrl(c->gcm, EVP_CTRL_GCM_SET_TAG, 16, (void *)(pkt + hdr_len + ct_len)) ||
        EVP_DecryptFinal_ex(c->gcm, plain + n1, &n2) <= 0)
        return false;
    *plain_len = (size_t)n1 + (size_t)n2;
    return true;
}

enum inspect_status inspect_quic_initial(struct inspect_crypto *crypto, const uint8_t *dgram,
                                         size_t len, int from_server,
                                         const uint8_t *dcid, size_t dcid_len,
                                         uint8_t seen_dcid[20], uint8_t *seen_dcid_len,
                                         uint8_t *crypto_buf, size_t crypto_cap,
                                         inspect_quic_range_fn on_range, void *ctx)
{
    struct cur c = cur_make(dgram, len);
    bool any = false;
    uint8_t hdr[1500];
    while (c.left) {
        const uint8_t *pkt = c.p;
        uint8_t b0, dl, sl;
        uint32_t version;
        /* the long form bit; the fixed bit may be greased (RFC 9287) */
        if (!cur_u8(&c, &b0) || !(b0 & 0x80) || !cur_be32(&c, &version))
            break;                                   /* short header or junk: done */
        const uint8_t *pd;
        if (!cur_u8(&c, &dl) || dl > 20 || (pd = c.p, !cur_skip(&c, dl)) ||
            !cur_u8(&c, &sl) || sl > 20 || !cur_skip(&c, sl))
            break;
        unsigned type = (b0 >> 4) & 3;
        bool v2 = version == QUIC_V2;
        bool initial = v2 ? type == 1 : type == 0;
        uint64_t tlen = 0, plen;
        if (initial && !cur_varint(&c, &tlen))
            break;
        if (initial && !cur_skip(&c, (size_t)(tlen > c.left ? c.left + 1 : tlen)))
            break;
        bool retry = v2 ? type == 0 : type == 3;
        if (retry || !version_salt(version) || !cur_varint(&c, &plen) || plen > c.left)
            break;
        size_t pn_off = (size_t)(c.p - pkt);
        size_t pkt_len = pn_off + (size_t)plen;
        cur_skip(&c, (size_t)plen);
        if (!initial)
            continue;
        const uint8_t *seed = dcid;
        size_t seed_len = dcid_len;
        if (seed_len == 0) {
            if (from_server)
                continue;                            /* no key seed for a server packet */
            seed = pd;
            seed_len = dl;
        }
        struct keys k;
        if (derive(crypto, version, seed, seed_len, from_server, &k) != 0)
            continue;
        size_t plain_len = 0;
        if (!open_initial(crypto, &k, hdr, pkt, pkt_len, pn_off, crypto->scratch, &plain_len))
            continue;
        if (dcid_len == 0 && seen_dcid && seen_dcid_len) {
            memcpy(seen_dcid, pd, dl);
            *seen_dcid_len = dl;
            dcid = seen_dcid;
            dcid_len = dl;
        }
        if (frames(cur_make(crypto->scratch, plain_len), crypto_buf, crypto_cap, on_range, ctx))
            any = true;
    }
    return any ? INSPECT_PARSED : INSPECT_MALFORMED;
}
