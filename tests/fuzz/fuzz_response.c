/*
 * fuzz_response: a libFuzzer target for what Link Loom makes of a user
 * backend's answer: the body of an HTTP task's response, as loom-exec
 * reads it (runner_parse_response(), lib/run/runner.c, called by
 * lib/run/run_http.c), and the body of a callback, as loom-api reads it
 * (the JSON gate, then api_callback_body_parse(), POST
 * /api/v1/executions/{id}/tasks/{task}/callback).
 *
 * An input is two bytes of HTTP status (big-endian, taken modulo 600),
 * one byte whose low bit says whether the task follows the callback
 * protocol, then the body.  Properties, each checked with abort():
 *
 *   - the partial result is an object with "status" SUCCESS, FAILED or
 *     ACCEPTED, an "output" key, and with FAILED an "error" object whose
 *     "type" and "message" are strings; a non-2xx status always FAILS;
 *   - a callback body the gate lets through is JSON libjq takes, and the
 *     callback parser either refuses it with an error body or gives a
 *     status SUCCESS or FAILED.
 *
 * Seeds: tests/fuzz/corpus/response/.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jv.h>

#include "cmd/loom-api/api.h"
#include "core/jsoncheck.h"
#include "run/runner.h"
#include "util/jsonutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
is_str(jv o, const char *key)
{
	jv v = jv_object_get(jv_copy(o), jv_string(key));
	int ok = jv_get_kind(v) == JV_KIND_STRING;

	jv_free(v);
	return ok;
}

static void
check_result(jv res, int status)
{
	jv st, err;
	const char *s;

	if (jv_get_kind(res) != JV_KIND_OBJECT || !is_str(res, "status"))
		abort();
	if (!jv_object_has(jv_copy(res), jv_string("output")))
		abort();
	st = jv_object_get(jv_copy(res), jv_string("status"));
	s = jv_string_value(st);
	if (strcmp(s, "SUCCESS") && strcmp(s, "FAILED") &&
	    strcmp(s, "ACCEPTED"))
		abort();
	if ((status < 200 || status > 299) && strcmp(s, "FAILED"))
		abort(); /* an error status that did not fail */
	if (strcmp(s, "FAILED") == 0) {
		err = jv_object_get(jv_copy(res), jv_string("error"));
		if (jv_get_kind(err) != JV_KIND_OBJECT ||
		    !is_str(err, "type") || !is_str(err, "message"))
			abort(); /* FAILED with no error to show */
		jv_free(err);
	}
	jv_free(st);
}

/* loom-api's gate for a JSON body, then the callback parser. */
static void
callback_body(const char *body, size_t len)
{
	struct api_callback_body cb;
	const char *why;
	size_t at;
	jv v, out = jv_invalid();

	if (utf8_check(body, len, &at) < 0 ||
	    json_depth_check(body, len, API_MAX_DEPTH, &at) < 0 ||
	    json_syntax_check(body, len, API_MAX_DEPTH, &at, &why) < 0)
		return;
	v = jv_parse_sized(body, (int)len);
	if (!jv_is_valid(v))
		abort(); /* passed the gate, yet libjq refuses it */
	if (api_callback_body_parse(v, &cb, &out) == 0) {
		if (cb.status == NULL ||
		    (strcmp(cb.status, "SUCCESS") &&
			strcmp(cb.status, "FAILED")))
			abort();
	} else if (!jv_is_valid(out))
		abort(); /* refused with no error body */
	api_callback_body_free(&cb);
	jv_free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int status, protocol;
	const char *body;
	size_t len;
	jv res;

	if (size < 3)
		return 0;
	status = ((data[0] << 8) | data[1]) % 600;
	protocol = data[2] & 1;
	body = (const char *)data + 3;
	len = size - 3;
	res = runner_parse_response(status, body, len, protocol);
	check_result(res, status);
	jv_free(res);
	/* with no body at all, as a transfer that read nothing */
	if (len == 0) {
		res = runner_parse_response(status, NULL, 0, protocol);
		check_result(res, status);
		jv_free(res);
	}
	callback_body(body, len);
	return 0;
}
