/*
 * sha256: SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104), self-contained.
 *
 * Link Loom needs a hash in two places: API tokens are stored only as the
 * SHA-256 of the token (lib/store/token.c), and HTTP callbacks to user backends
 * may carry an HMAC-SHA256 signature (lib/net/sign.c).  Both are small, fixed
 * uses, so a hundred lines of portable C beat pulling a TLS library into
 * every program.  No I/O, no allocation, safe from any thread; tested with
 * the FIPS 180-4 and RFC 4231 vectors in tests/unit/test_sha256.c.
 */
#ifndef LOOM_SHA256_H
#define LOOM_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN 32		/* digest bytes */
#define SHA256_HEX_LEN 64	/* digest as lower-case hex, without NUL */
#define SHA256_BLOCK 64

struct sha256 {
	uint32_t h[8];
	uint64_t len;		/* bytes hashed so far */
	uint8_t buf[SHA256_BLOCK];
	size_t nbuf;
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t len);
/* Writes the digest and wipes the state. */
void sha256_final(struct sha256 *s, uint8_t out[SHA256_LEN]);

/* One call: the digest of data. */
void sha256(const void *data, size_t len, uint8_t out[SHA256_LEN]);

/* HMAC-SHA256 of data under key (any length). */
void hmac_sha256(const void *key, size_t keylen, const void *data,
    size_t len, uint8_t out[SHA256_LEN]);

/*
 * Lower-case hex of n bytes into out (2n + 1 bytes with the NUL).
 * Returns out.
 */
char *sha256_hex(const uint8_t *in, size_t n, char *out);

/*
 * Whether a and b (n bytes each) are equal, in time that depends only on
 * n: for comparing secrets and their hashes.
 */
int ct_memeq(const void *a, const void *b, size_t n);

#endif
