/*
 * sign: see sign.h.  The signed message is built in one buffer
 * ("<ts>." then the body) and handed to hmac_sha256(); the secret is only
 * ever borrowed from the environment and never copied.  A verifier MACs
 * the timestamp exactly as the header wrote it, as a backend in any
 * language would.
 */
#include "sign.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/digest.h"
#include "core/xalloc.h"

/* The signature of body under secret with the timestamp as written. */
static void
sign_text(const void *secret, size_t slen, const char *ts, const char *body,
    size_t len, char *out)
{
	uint8_t mac[SHA256_LEN];
	size_t n = strlen(ts);
	char *msg = xmalloc(n + 1 + len + 1);

	memcpy(msg, ts, n);
	msg[n] = '.';
	if (len > 0)
		memcpy(msg + n + 1, body, len);
	hmac_sha256(secret, slen, msg, n + 1 + len, mac);
	free(msg);
	memcpy(out, SIGN_SCHEME, sizeof(SIGN_SCHEME) - 1);
	hex_encode(mac, sizeof(mac), out + sizeof(SIGN_SCHEME) - 1);
}

void
sign_value(const void *secret, size_t slen, long long ts, const char *body,
    size_t len, char *out)
{
	char text[32];

	snprintf(text, sizeof(text), "%lld", ts);
	sign_text(secret, slen, text, body, len, out);
}

int
sign_task_headers(jv task, const char *body, size_t len, time_t now,
    char *lines[2], char **err)
{
	jv sg = jv_object_get(jv_copy(task), jv_string("signing"));
	jv name = jv_invalid();
	char value[SIGN_VALUE_LEN + 1];
	const char *secret;
	int rc = -1;

	lines[0] = lines[1] = NULL;
	if (!jv_is_valid(sg) || jv_get_kind(sg) == JV_KIND_NULL) {
		rc = 0; /* not signed */
		goto out;
	}
	if (jv_get_kind(sg) == JV_KIND_OBJECT)
		name = jv_object_get(jv_copy(sg), jv_string("secretEnv"));
	if (jv_get_kind(name) != JV_KIND_STRING ||
	    jv_string_length_bytes(jv_copy(name)) == 0) {
		*err = xstrdup("task \"signing\" must be {\"secretEnv\": "
			       "\"NAME\"}");
		goto out;
	}
	secret = getenv(jv_string_value(name));
	if (secret == NULL || *secret == '\0') {
		*err = xasprintf("signing secret $%s is not set on this "
				 "executor",
		    jv_string_value(name));
		goto out;
	}
	sign_value(secret, strlen(secret), (long long)now, body, len, value);
	lines[0] = xasprintf("%s: %lld", SIGN_TS_HEADER, (long long)now);
	lines[1] = xasprintf("%s: %s", SIGN_SIG_HEADER, value);
	rc = 0;
out:
	jv_free(name);
	jv_free(sg);
	return rc;
}

int
sign_verify(const void *secret, size_t slen, const char *ts, const char *sig,
    const char *body, size_t len, time_t now, long max_skew)
{
	char want[SIGN_VALUE_LEN + 1], *end;
	long long t;

	if (ts == NULL || sig == NULL || strlen(sig) != SIGN_VALUE_LEN ||
	    *ts < '0' || *ts > '9' || strlen(ts) > 20)
		return -1;
	errno = 0;
	t = strtoll(ts, &end, 10);
	if (errno || *end != '\0')
		return -1;
	if (max_skew >= 0 &&
	    (t > (long long)now + max_skew || t < (long long)now - max_skew))
		return -1;
	/* the timestamp as it was sent is what was signed */
	sign_text(secret, slen, ts, body, len, want);
	return ct_memeq(want, sig, SIGN_VALUE_LEN) ? 0 : -1;
}
