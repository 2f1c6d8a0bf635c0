/* digest: see digest.h. */
#include "digest.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdlib.h>

/*
 * The SHA-256 implementation, looked up once.  EVP_sha256() is looked
 * up again by name in the providers on every call of OpenSSL 3 (an
 * "implicit fetch"): loom-exec derives two trace ids per task, and the
 * lookups were most of those calls' time in a 10,000-task fan-out.
 * Freed at exit, before libcrypto's own cleanup (registered earlier).
 */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void
sha256_md_free(void)
{
	EVP_MD_free(sha256_md);
	sha256_md = NULL;
}

static void
sha256_md_init(void)
{
	if ((sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL)) != NULL)
		atexit(sha256_md_free);
}

static const EVP_MD *
md(void)
{
	pthread_once(&sha256_once, sha256_md_init);
	return sha256_md ? sha256_md : EVP_sha256();
}

/*
 * Neither call can fail for SHA-256 with memory to spare; an allocation
 * failure inside libcrypto is out of memory, which dies like xmalloc.
 */
void
sha256(const void *data, size_t len, uint8_t out[SHA256_LEN])
{
	unsigned int n = SHA256_LEN;

	if (!EVP_Digest(data, len, out, &n, md(), NULL))
		abort();
}

void
hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
    uint8_t out[SHA256_LEN])
{
	unsigned int n = SHA256_LEN;
	static const uint8_t none;

	/* HMAC() takes a NULL key as "reuse the last one": never hand it one */
	if (HMAC(md(), keylen ? key : &none, (int)keylen, data, len, out, &n) ==
	    NULL)
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
