/*
 * digest: SHA-256, HMAC-SHA256 and a constant-time compare, from OpenSSL's
 * libcrypto.
 *
 * Link Loom hashes in two places: API tokens are stored only as the
 * SHA-256 of the token (lib/store/token.c), and HTTP callbacks to user
 * backends may carry an HMAC-SHA256 signature (lib/net/sign.c).  libcrypto
 * is loaded in every process already (through libcurl and libpq), so these
 * are thin calls into it, not crypto of our own.  Nothing allocated
 * outlives a call but the SHA-256 implementation, looked up once and
 * kept until exit; safe from any thread; tested with the FIPS 180-4 and
 * RFC 4231 vectors in tests/unit/test_digest.c.
 */
#ifndef LOOM_DIGEST_H
#define LOOM_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN 32	  /* digest bytes */
#define SHA256_HEX_LEN 64 /* digest as lower-case hex, without NUL */

/* The SHA-256 digest of data. */
void sha256(const void *data, size_t len, uint8_t out[SHA256_LEN]);

/* HMAC-SHA256 of data under key (any length). */
void hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
    uint8_t out[SHA256_LEN]);

/*
 * Lower-case hex of n bytes into out (2n + 1 bytes with the NUL).
 * Returns out.
 */
char *hex_encode(const uint8_t *in, size_t n, char *out);

/*
 * Whether a and b (n bytes each) are equal, in time that depends only on
 * n (CRYPTO_memcmp): for comparing secrets and their hashes.
 */
int ct_memeq(const void *a, const void *b, size_t n);

#endif
