/*
 * inspect_int.h — private to inspect/: the bounds-checked read cursor every
 * parser uses (tcpdump's GET_ idea without longjmp: each read compares the
 * bytes left before touching them) and the crypto context's body.
 */
#ifndef TRACER_INSPECT_INT_H
#define TRACER_INSPECT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <openssl/evp.h>

struct cur {
    const uint8_t *p;
    size_t left;
};

static inline struct cur cur_make(const uint8_t *p, size_t n)
{
    struct cur c = {p, n};
    return c;
}

static inline bool cur_u8(struct cur *c, uint8_t *v)
{
    if (c->left < 1)
        return false;
    *v = c->p[0];
    c->p++;
    c->left--;
    return true;
}

static inline bool cur_be16(struct cur *c, uint16_t *v)
{
    if (c->left < 2)
        return false;
    *v = (uint16_t)(c->p[0] << 8 | c->p[1]);
    c->p += 2;
    c->left -= 2;
    return true;
}

static inline bool cur_be24(struct cur *c, uint32_t *v)
{
    if (c->left < 3)
        return false;
    *v = (uint32_t)c->p[0] << 16 | (uint32_t)c->p[1] << 8 | c->p[2];
    c->p += 3;
    c->left -= 3;
    return true;
}

static inline bool cur_be32(struct cur *c, uint32_t *v)
{
    if (c->left < 4)
        return false;
    *v = (uint32_t)c->p[0] << 24 | (uint32_t)c->p[1] << 16 | (uint32_t)c->p[2] << 8 | c->p[3];
    c->p += 4;
    c->left -= 4;
    return true;
}

static inline bool cur_skip(struct cur *c, size_t n)
{
    if (c->left < n)
        return false;
    c->p += n;
    c->left -= n;
    return true;
}

/* Split off the next n bytes as their own cursor. */
static inline bool cur_sub(struct cur *c, size_t n, struct cur *sub)
{
    if (c->left < n)
        return false;
    *sub = cur_make(c->p, n);
    c->p += n;
    c->left -= n;
    return true;
}

/* Copy n bytes as a C string cut to cap, non-printable bytes as '?'. */
static inline void inspect_copy_text(char *dst, size_t cap, const uint8_t *src, size_t n)
{
    if (cap == 0)
        return;
    size_t k = n < cap - 1 ? n : cap - 1;
    for (size_t i = 0; i < k; i++)
        dst[i] = (src[i] >= 0x20 && src[i] < 0x7f) ? (char)src[i] : '?';
    dst[k] = '\0';
}

/* Body of struct inspect_crypto (inspect_crypto.c makes it). */
#define INSPECT_SCRATCH_BYTES 65536
struct inspect_crypto {
    EVP_MD_CTX *md;
    EVP_CIPHER_CTX *gcm;
    EVP_CIPHER_CTX *ecb;
    EVP_MAC *hmac;
    EVP_MAC_CTX *hmac_ctx;
    uint8_t scratch[INSPECT_SCRATCH_BYTES];   /* decrypted QUIC payloads, TLS messages */
};

/* HMAC-SHA256(key, data) into out[32]; 0 or -1. */
int inspect_hmac_sha256(struct inspect_crypto *c, const uint8_t *key, size_t keylen,
                        const uint8_t *data, size_t len, uint8_t out[32]);

#endif
