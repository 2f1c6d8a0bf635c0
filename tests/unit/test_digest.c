/*
 * test_digest: SHA-256 against the FIPS 180-4 examples (and the usual
 * long-message vectors); HMAC-SHA256 against the seven cases of RFC 4231;
 * the hex and constant-time compare helpers.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/digest.h"
#include "t.h"

static const struct {
	const char *msg;
	size_t repeat; /* msg is repeated this many times */
	const char *hex;
} hashes[] = {
	{ "", 1,
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85"
	    "5" },
	{ "abc", 1,
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a"
	    "d" },
	{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 1,
	    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c"
	    "1" },
	{ "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
	  "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
	    1,
	    "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d"
	    "1" },
	{ "a", 1000000,
	    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd"
	    "0" },
	/* 55, 56 and 64 bytes: the padding's edge cases */
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 1,
	    "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f73431"
	    "8" },
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 1,
	    "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738"
	    "a" },
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 1,
	    "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668e"
	    "b" },
};

/* RFC 4231: keys and data are a byte repeated, or given as text. */
static const struct {
	uint8_t key_byte; /* key: key_byte repeated key_len times... */
	size_t key_len;
	const char *key;   /* ...unless this is set */
	uint8_t data_byte; /* data likewise */
	size_t data_len;
	const char *data;
	size_t truncate; /* compare this many bytes; 0: all */
	const char *hex;
} hmacs[] = {
	{ 0x0b, 20, NULL, 0, 0, "Hi There", 0,
	    "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff"
	    "7" },
	{ 0, 0, "Jefe", 0, 0, "what do ya want for nothing?", 0,
	    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec384"
	    "3" },
	{ 0xaa, 20, NULL, 0xdd, 50, NULL, 0,
	    "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565f"
	    "e" },
	{ 0, 25,
	    "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e"
	    "\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19",
	    0xcd, 50, NULL, 0,
	    "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665"
	    "b" },
	{ 0x0c, 20, NULL, 0, 0, "Test With Truncation", 16,
	    "a3b6167473100ee06e0c796c2955552b" },
	{ 0xaa, 131, NULL, 0, 0,
	    "Test Using Larger Than Block-Size Key - Hash Key First", 0,
	    "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f5"
	    "4" },
	{ 0xaa, 131, NULL, 0, 0,
	    "This is a test using a larger than block-size key and a larger "
	    "than block-size data. The key needs to be hashed before being "
	    "used by the HMAC algorithm.",
	    0,
	    "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e"
	    "2" },
};

static char *
repeat(const char *s, size_t times, size_t *len)
{
	size_t n = strlen(s);
	char *p = malloc(n * times + 1);

	for (size_t i = 0; i < times; i++)
		memcpy(p + i * n, s, n);
	p[n * times] = '\0';
	*len = n * times;
	return p;
}

int
main(void)
{
	uint8_t d[SHA256_LEN];
	char hex[SHA256_HEX_LEN + 1];

	for (size_t i = 0; i < sizeof(hashes) / sizeof(hashes[0]); i++) {
		size_t len;
		char *m = repeat(hashes[i].msg, hashes[i].repeat, &len);

		sha256(m, len, d);
		is_str(hex_encode(d, sizeof(d), hex), hashes[i].hex,
		    "sha256 #%zu (%zu bytes)", i, len);
		free(m);
	}

	for (size_t i = 0; i < sizeof(hmacs) / sizeof(hmacs[0]); i++) {
		uint8_t key[256], data[256];
		size_t klen = hmacs[i].key_len, dlen = hmacs[i].data_len;
		size_t cmp = hmacs[i].truncate ? hmacs[i].truncate : SHA256_LEN;

		if (hmacs[i].key != NULL) {
			if (klen == 0)
				klen = strlen(hmacs[i].key);
			memcpy(key, hmacs[i].key, klen);
		} else
			memset(key, hmacs[i].key_byte, klen);
		if (hmacs[i].data) {
			dlen = strlen(hmacs[i].data);
			memcpy(data, hmacs[i].data, dlen);
		} else
			memset(data, hmacs[i].data_byte, dlen);
		hmac_sha256(klen ? key : NULL, klen, data, dlen, d);
		is_str(hex_encode(d, cmp, hex), hmacs[i].hex,
		    "RFC 4231 test case %zu", i + 1);
	}

	/* A key of exactly one block is used as is, not hashed. */
	{
		uint8_t k[64], d2[SHA256_LEN], hk[SHA256_LEN];

		memset(k, 'k', sizeof(k));
		hmac_sha256(k, sizeof(k), "x", 1, d);
		sha256(k, sizeof(k), hk);
		hmac_sha256(hk, sizeof(hk), "x", 1, d2);
		ok(memcmp(d, d2, SHA256_LEN) != 0,
		    "a 64-byte key is not hashed first");
		{
			uint8_t k65[65];

			memset(k65, 'k', sizeof(k65));
			sha256(k65, sizeof(k65), hk);
			hmac_sha256(k65, sizeof(k65), "x", 1, d);
			hmac_sha256(hk, sizeof(hk), "x", 1, d2);
			ok(memcmp(d, d2, SHA256_LEN) == 0,
			    "a 65-byte key is hashed first");
		}
	}

	/* an empty key is a key of zero bytes, not "the previous key" */
	hmac_sha256("k", 1, "x", 1, d);
	hmac_sha256(NULL, 0, "", 0, d);
	is_str(hex_encode(d, SHA256_LEN, hex),
	    "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad",
	    "HMAC-SHA256 with an empty key of an empty message");

	ok(ct_memeq("abcdef", "abcdef", 6), "ct_memeq: equal");
	ok(!ct_memeq("abcdef", "abcdeg", 6), "ct_memeq: last byte differs");
	ok(!ct_memeq("xbcdef", "abcdef", 6), "ct_memeq: first byte differs");
	ok(ct_memeq("a", "b", 0), "ct_memeq: empty is equal");
	{
		const uint8_t b[3] = { 0x00, 0x7f, 0xff };

		is_str(hex_encode(b, 3, hex), "007fff", "hex of 00 7f ff");
	}
	return t_done();
}
