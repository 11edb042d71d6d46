/*
 * inspect_crypto.c — the OpenSSL contexts the parsers reuse: digests for the
 * JA3/JA3S (MD5) and JA4 (SHA-256) fingerprints, HMAC-SHA256 for the QUIC
 * Initial key schedule (HKDF, RFC 5869), AES-128-GCM and AES-128-ECB for the
 * Initial packets themselves (RFC 9001 §5). They are made once per thread so
 * that the packet path does not create and free OpenSSL objects.
 */
#include <stdio.h>
#include <stdlib.h>

#include <openssl/core_names.h>
#include <openssl/params.h>

#include "inspect/inspect.h"
#include "inspect/inspect_int.h"
#include "inspect/inspect_proto.h"

struct inspect_crypto *inspect_crypto_create(char *err, size_t errlen)
{
    struct inspect_crypto *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "inspect: out of memory for the crypto contexts");
        return NULL;
    }
    c->md = EVP_MD_CTX_new();
    c->gcm = EVP_CIPHER_CTX_new();
    c->ecb = EVP_CIPHER_CTX_new();
    c->hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    c->hmac_ctx = c->hmac ? EVP_MAC_CTX_new(c->hmac) : NULL;
    if (!c->md || !c->gcm || !c->ecb || !c->hmac_ctx)
        goto err;
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    if (!EVP_MAC_CTX_set_params(c->hmac_ctx, params))
        goto err;
    return c;
err:
    snprintf(err, errlen, "inspect: OpenSSL could not make its digest/cipher/HMAC contexts");
    inspect_crypto_destroy(c);
    return NULL;
}

void inspect_crypto_destroy(struct inspect_crypto *c)
{
    if (!c)
        return;
    EVP_MD_CTX_free(c->md);
    EVP_CIPHER_CTX_free(c->gcm);
    EVP_CIPHER_CTX_free(c->ecb);
    EVP_MAC_CTX_free(c->hmac_ctx);
    EVP_MAC_free(c->hmac);
    free(c);
}

int inspect_hmac_sha256(struct inspect_crypto *c, const uint8_t *key, size_t keylen,
                        const uint8_t *data, size_t len, uint8_t out[32])
{
    size_t n = 0;
    if (!EVP_MAC_init(c->hmac_ctx, key, keylen, NULL) ||
        !EVP_MAC_update(c->hmac_ctx, data, len) ||
        !EVP_MAC_final(c->hmac_ctx, out, &n, 32) || n != 32)
        return -1;
    return 0;
}

static int digest(struct inspect_crypto *c, const EVP_MD *md, const void *data, size_t len,
                  uint8_t *out, unsigned *outlen)
{
    if (!EVP_DigestInit_ex(c->md, md, NULL) || !EVP_DigestUpdate(c->md, data, len) ||
        !EVP_DigestFinal_ex(c->md, out, outlen))
        return -1;
    return 0;
}

static void hex(const uint8_t *b, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

int inspect_md5_hex(struct inspect_crypto *c, const void *data, size_t len, char out[33])
{
    uint8_t h[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    if (digest(c, EVP_md5(), data, len, h, &n) != 0 || n != 16)
        return -1;
    hex(h, 16, out);
    return 0;
}

int inspect_sha256_hex12(struct inspect_crypto *c, const void *data, size_t len, char out[13])
{
    uint8_t h[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    if (digest(c, EVP_sha256(), data, len, h, &n) != 0 || n != 32)
        return -1;
    hex(h, 6, out);
    return 0;
}
