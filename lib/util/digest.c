/* digest: see digest.h. */
#include "digest.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>

/*
 * Neither call can fail for SHA-256 with memory to spare; an allocation
 * failure inside libcrypto is out of memory, which dies like xmalloc.
 */
void
sha256(const void *data, size_t len, uint8_t out[SHA256_LEN])
{
	unsigned int n = SHA256_LEN;

	if (!EVP_Digest(data, len, out, &n, EVP_sha256(), NULL))
		abort();
}

void
hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
    uint8_t out[SHA256_LEN])
{
	unsigned int n = SHA256_LEN;
	static const uint8_t none;

	/* HMAC() takes a NULL key as "reuse the last one": never hand it one */
	if (HMAC(EVP_sha256(), keylen ? key : &none, (int)keylen, data, len,
		out, &n) == NULL)
		abort();
}

char *
hex_encode(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
	return out;
}

int
ct_memeq(const void *a, const void *b, size_t n)
{
	return n == 0 || CRYPTO_memcmp(a, b, n) == 0;
}
