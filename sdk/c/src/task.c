/*
 * libloomclient's backend half without I/O, and the callback: the
 * envelope loom-exec(8) sends (HTTP TASKS there), the results it reads
 * back, the signature of loom-workflow(5) SIGNING (the same HMAC as
 * lib/net/sign.c, whose sign_verify() does the check), and the POST of an
 * asynchronous task's result to loom-api(8).
 */
#include "loom/client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sdk_int.h"
#include "core/xalloc.h"
#include "net/client.h"
#include "net/sign.h"
#include "util/digest.h"

int64_t
loom_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the envelope ------------------------------------------------------- */

/* obj's string member key, malloc'd, or NULL. */
static char *
string_member(jv obj, const char *key)
{
	jv v = jv_object_get(jv_copy(obj), jv_string(key));
	char *s = NULL;

	if (jv_get_kind(v) == JV_KIND_STRING)
		s = xstrdup(jv_string_value(v));
	jv_free(v);
	return s;
}

static double
number_member(jv obj, const char *key, double def)
{
	jv v = jv_object_get(jv_copy(obj), jv_string(key));
	double n = jv_get_kind(v) == JV_KIND_NUMBER ? jv_number_value(v) : def;

	jv_free(v);
	return n;
}

int
loom_task_parse(const char *body, size_t len, const char *idempotency,
    struct loom_task *t, char **err)
{
	jv env = jv_parse_sized(body ? body : "", (int)len);

	memset(t, 0, sizeof(*t));
	t->input = jv_null();
	t->envelope = jv_null();
	if (jv_get_kind(env) != JV_KIND_OBJECT) {
		*err = xstrdup(jv_is_valid(env) ?
			"the envelope is not a JSON object" :
			"the envelope is not JSON");
		jv_free(env);
		return -1;
	}
	t->execution_id = string_member(env, "executionId");
	t->task_id = string_member(env, "taskId");
	if (t->execution_id == NULL || t->task_id == NULL) {
		*err = xstrdup("the envelope has no executionId or taskId");
		jv_free(env);
		loom_task_clear(t);
		return -1;
	}
	jv_free(t->input);
	t->input = jv_object_get(jv_copy(env), jv_string("input"));
	if (!jv_is_valid(t->input)) {
		jv_free(t->input);
		t->input = jv_null();
	}
	t->attempt = (int)number_member(env, "attempt", 1);
	t->timeout_ms = (long)number_member(env, "timeout", 0);
	t->scheduled_time = string_member(env, "scheduledTime");
	t->callback_url = string_member(env, "callbackUrl");
	t->idempotency_key = idempotency && *idempotency ?
	    xstrdup(idempotency) :
	    xasprintf("%s/%s/%d", t->execution_id, t->task_id, t->attempt);
	jv_free(t->envelope);
	t->envelope = env;
	return 0;
}

void
loom_task_clear(struct loom_task *t)
{
	free(t->execution_id);
	free(t->task_id);
	free(t->idempotency_key);
	free(t->scheduled_time);
	free(t->callback_url);
	/* a zeroed struct holds jv_invalid()'s bits: jv_free() is a no-op */
	jv_free(t->input);
	jv_free(t->envelope);
	memset(t, 0, sizeof(*t));
}

/* ---- results ------------------------------------------------------------ */

jv
loom_result_success(jv output, const char *logs)
{
	jv r = JV_OBJECT(jv_string("status"), jv_string("SUCCESS"),
	    jv_string("output"), jv_is_valid(output) ? output : jv_null());

	if (logs)
		r = jv_object_set(r, jv_string("logs"), jv_string(logs));
	return r;
}

jv
loom_result_failed(const char *type, const char *message, const char *logs)
{
	jv r = JV_OBJECT(jv_string("status"), jv_string("FAILED"),
	    jv_string("error"),
	    JV_OBJECT(jv_string("type"),
		jv_string(type ? type : "TaskFailedException"),
		jv_string("message"), jv_string(message ? message : "")));

	if (logs)
		r = jv_object_set(r, jv_string("logs"), jv_string(logs));
	return r;
}

jv
loom_result_accepted(void)
{
	return JV_OBJECT(jv_string("status"), jv_string("RUNNING"));
}

/* ---- signatures --------------------------------------------------------- */

void
loom_signature(const void *secret, size_t slen, const char *ts,
    const char *body, size_t len, char *out)
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
loom_hmac_sha256_hex(
    const void *key, size_t klen, const void *data, size_t len, char *out)
{
	uint8_t mac[SHA256_LEN];

	hmac_sha256(key, klen, data, len, mac);
	hex_encode(mac, sizeof(mac), out);
}

int
loom_signature_verify(const void *secret, size_t slen, const char *ts,
    const char *sig, const char *body, size_t len, time_t now, long max_skew)
{
	return sign_verify(secret, slen, ts, sig, body, len, now, max_skew);
}

/* ---- completing an asynchronous task ------------------------------------ */

int
loom_callback_complete(
    const char *callback_url, jv result, struct loom_error *err)
{
	struct loom_error local;
	const char *host, *path;
	struct client *http;
	char *base, *msg = NULL;
	int status;
	jv reply;

	if (err == NULL)
		err = &local;
	memset(err, 0, sizeof(*err));
	host = callback_url ? strstr(callback_url, "://") : NULL;
	path = host ? strchr(host + 3, '/') : NULL;
	if (path == NULL) {
		jv_free(result);
		err->sys_errno = EINVAL;
		snprintf(err->message, sizeof(err->message),
		    "not a callback URL: %s",
		    callback_url ? callback_url : "(none)");
		return -1;
	}
	base = xstrndup(callback_url, (size_t)(path - callback_url));
	if ((http = client_new(base, &msg)) == NULL) {
		jv_free(result);
		err->sys_errno = EINVAL;
		snprintf(err->message, sizeof(err->message), "%s", msg);
		free(msg);
		free(base);
		return -1;
	}
	status = client_json(http, "POST", path, result, &reply);
	client_free(http);
	free(base);
	if (status >= 200 && status < 300) {
		jv_free(reply);
		return 0;
	}
	loom_error_set(err, status, reply);
	return -1;
}
