/*
 * test_sdk_c: libloomclient without loom-api: HMAC-SHA256 against RFC
 * 4231, a signature that loom-exec made (sdk/c/tests/data, captured from
 * a real `loom run` with signing on) and every refusal of the check;
 * envelope parsing with and without the optional members; results; the
 * error record for an API error body, a bare status and a refused
 * connection; and the task server over real HTTP: a signed request
 * answered 200, an unsigned or stale one 401, a bad envelope 400, an
 * asynchronous handler 202, an unknown path 404, which
 * loom_callback_complete() reports with the API's error code.
 *
 * Links libloomclient.a alone (with libcurl, libmicrohttpd, libcrypto and
 * libjq): nothing else of Link Loom.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#include "loom/client.h"
#include "../../../tests/unit/t.h"

/* The same declaration as sdk/c/src/sdk_int.h: exported, not public. */
void loom_error_set(struct loom_error *e, int status, jv reply);

#ifndef SDK_TEST_DATA
#define SDK_TEST_DATA "sdk/c/tests/data"
#endif

static void
rfc4231(void)
{
	static const struct {
		const char *key, *data, *mac;
		size_t klen, dlen, maclen;
	} v[] = {
		{ "\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b"
		  "\x0b\x0b\x0b\x0b\x0b\x0b",
		    "Hi There",
		    "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2"
		    "e32cff7",
		    20, 8, 64 },
		{ "Jefe", "what do ya want for nothing?",
		    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b96"
		    "4ec3843",
		    4, 28, 64 },
		{ "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e"
		  "\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19",
		    NULL,
		    "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46"
		    "729665b",
		    25, 50, 64 },
		{ "\x0c\x0c\x0c\x0c\x0c\x0c\x0c\x0c\x0c\x0c\x0c\x0c\x0c\x0c"
		  "\x0c\x0c\x0c\x0c\x0c\x0c",
		    "Test With Truncation", "a3b6167473100ee06e0c796c2955552b",
		    20, 20, 32 },
	};
	char key[131], data[200], out[65];

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		const char *d = v[i].data;

		if (d == NULL) {
			memset(data, 0xcd, v[i].dlen);
			d = data;
		}
		loom_hmac_sha256_hex(v[i].key, v[i].klen, d, v[i].dlen, out);
		ok(strncmp(out, v[i].mac, v[i].maclen) == 0,
		    "RFC 4231 vector (key of %zu bytes)", v[i].klen);
	}
	/* case 3: 0xaa x 20, 0xdd x 50 */
	memset(key, 0xaa, 20);
	memset(data, 0xdd, 50);
	loom_hmac_sha256_hex(key, 20, data, 50, out);
	is_str(out,
	    "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
	    "RFC 4231 test case 3");
	/* cases 6 and 7: a key longer than a block is hashed first */
	memset(key, 0xaa, sizeof(key));
	loom_hmac_sha256_hex(key, 131,
	    "Test Using Larger Than Block-Size Key - Hash Key First", 54, out);
	is_str(out,
	    "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
	    "RFC 4231 test case 6");
	/* case 7 through the signature: ts "." body is its data */
	{
		static const char ts[] =
		    "This is a test using a larger than block-size key and a "
		    "larger than block-size data",
				  body[] = " The key needs to be hashed before "
					   "being "
					   "used by the HMAC algorithm.";
		char sig[LOOM_SIGNATURE_LEN + 1];

		loom_signature(key, 131, ts, body, strlen(body), sig);
		is_str(sig,
		    "v1=9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51"
		    "535c3a35e2",
		    "RFC 4231 test case 7 as a signature");
	}
}

/* The captured request's member key (malloc'd). */
static char *
fixture(jv f, const char *key)
{
	jv v = jv_object_get(jv_copy(f), jv_string(key));
	char *s =
	    strdup(jv_get_kind(v) == JV_KIND_STRING ? jv_string_value(v) : "");

	jv_free(v);
	return s;
}

static void
loom_exec_signature(void)
{
	jv f = jv_load_file(SDK_TEST_DATA "/loom-exec-signed.json", 0);
	char *secret, *ts, *sig, *body, *idem, mine[LOOM_SIGNATURE_LEN + 1];
	struct loom_task t;
	char *err = NULL;
	time_t now;

	if (jv_get_kind(f) == JV_KIND_ARRAY)
		f = jv_array_get(f, 0);
	ok(jv_get_kind(f) == JV_KIND_OBJECT, "the captured request loads");
	secret = fixture(f, "secret");
	ts = fixture(f, "timestamp");
	sig = fixture(f, "signature");
	body = fixture(f, "body");
	idem = fixture(f, "idempotencyKey");
	now = (time_t)strtoll(ts, NULL, 10);

	loom_signature(secret, strlen(secret), ts, body, strlen(body), mine);
	is_str(mine, sig, "the signature loom-exec made is recomputed");
	is_int(loom_signature_verify(secret, strlen(secret), ts, sig, body,
		   strlen(body), now + 10, LOOM_SIGNATURE_MAX_SKEW),
	    0, "and verifies within the window");
	is_int(loom_signature_verify(secret, strlen(secret), ts, sig, body,
		   strlen(body), now + 301, LOOM_SIGNATURE_MAX_SKEW),
	    -1, "a replay 301 s later is refused");
	is_int(loom_signature_verify(secret, strlen(secret), ts, sig, body,
		   strlen(body), now - 301, LOOM_SIGNATURE_MAX_SKEW),
	    -1, "a timestamp 301 s ahead is refused");
	is_int(loom_signature_verify(secret, strlen(secret), ts, sig, body,
		   strlen(body), now + 100000, -1),
	    0, "max_skew < 0 does not look at the clock");
	is_int(loom_signature_verify("other", 5, ts, sig, body, strlen(body),
		   now, LOOM_SIGNATURE_MAX_SKEW),
	    -1, "another secret is refused");
	body[strlen(body) - 2] ^= 1;
	is_int(loom_signature_verify(secret, strlen(secret), ts, sig, body,
		   strlen(body), now, LOOM_SIGNATURE_MAX_SKEW),
	    -1, "a changed body is refused");
	body[strlen(body) - 2] ^= 1;
	is_int(loom_signature_verify(secret, strlen(secret), NULL, sig, body,
		   strlen(body), now, LOOM_SIGNATURE_MAX_SKEW),
	    -1, "no timestamp is refused");
	is_int(loom_signature_verify(secret, strlen(secret), ts, "v1=00", body,
		   strlen(body), now, LOOM_SIGNATURE_MAX_SKEW),
	    -1, "a short signature is refused");

	is_int(loom_task_parse(body, strlen(body), idem, &t, &err), 0,
	    "the captured envelope parses");
	is_str(t.task_id, "fetch_data", "its taskId");
	is_int(t.attempt, 1, "its attempt");
	is_int(t.timeout_ms, 300000, "its timeout");
	is_str(t.idempotency_key, idem, "the Idempotency-Key header");
	ok(t.scheduled_time == NULL && t.callback_url == NULL,
	    "no scheduledTime, no callbackUrl");
	loom_task_clear(&t);
	jv_free(f);
	free(secret);
	free(ts);
	free(sig);
	free(body);
	free(idem);
}

static void
envelopes(void)
{
	static const char full[] =
	    "{\"executionId\":\"exec-1\",\"taskId\":\"process\","
	    "\"input\":{\"n\":2},\"attempt\":3,\"timeout\":60000,"
	    "\"scheduledTime\":\"2026-12-07T03:00:00Z\","
	    "\"callbackUrl\":\"http://loom:8080/api/v1/callbacks/x\"}";
	struct loom_task t;
	char *err = NULL;
	jv n;

	is_int(loom_task_parse(full, strlen(full), NULL, &t, &err), 0,
	    "an envelope with every member parses");
	is_str(t.execution_id, "exec-1", "executionId");
	is_str(t.scheduled_time, "2026-12-07T03:00:00Z", "scheduledTime");
	is_str(t.callback_url, "http://loom:8080/api/v1/callbacks/x",
	    "callbackUrl");
	is_str(t.idempotency_key, "exec-1/process/3",
	    "no header: the key is made executionId/taskId/attempt");
	n = jv_object_get(jv_copy(t.input), jv_string("n"));
	is_int(jv_number_value(n), 2, "input");
	jv_free(n);
	loom_task_clear(&t);
	loom_task_clear(&t); /* twice: the struct is zeroed */

	is_int(loom_task_parse("{\"executionId\":\"e\",\"taskId\":\"t\"}", 32,
		   NULL, &t, &err),
	    0, "a minimal envelope parses");
	ok(jv_get_kind(t.input) == JV_KIND_NULL && t.attempt == 1,
	    "input null, attempt 1");
	loom_task_clear(&t);
	ok(loom_task_parse("nope", 4, NULL, &t, &err) < 0 && err &&
		strstr(err, "not JSON"),
	    "not JSON");
	free(err);
	err = NULL;
	ok(loom_task_parse("[1]", 3, NULL, &t, &err) < 0 && err &&
		strstr(err, "not a JSON object"),
	    "not an object");
	free(err);
	err = NULL;
	ok(loom_task_parse("{\"taskId\":\"t\"}", 14, NULL, &t, &err) < 0 &&
		err && strstr(err, "executionId"),
	    "no executionId");
	free(err);
}

static void
results(void)
{
	jv r =
	    loom_result_success(JV_OBJECT(jv_string("k"), jv_number(1)), "l");
	jv s = jv_dump_string(r, JV_PRINT_SORTED);

	is_str(jv_string_value(s),
	    "{\"logs\":\"l\",\"output\":{\"k\":1},\"status\":\"SUCCESS\"}",
	    "a success");
	jv_free(s);
	r = loom_result_failed("ValidationException", "bad", NULL);
	s = jv_dump_string(r, JV_PRINT_SORTED);
	is_str(jv_string_value(s),
	    "{\"error\":{\"message\":\"bad\",\"type\":\"ValidationException\"},"
	    "\"status\":\"FAILED\"}",
	    "a failure with its error type");
	jv_free(s);
	s = jv_dump_string(loom_result_accepted(), 0);
	is_str(jv_string_value(s), "{\"status\":\"RUNNING\"}", "accepted");
	jv_free(s);
}

static void
errors(void)
{
	struct loom_error e;
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	loom_client *c;
	char base[64], *err = NULL;
	int fd;
	jv r;

	loom_error_set(&e, 404,
	    jv_parse("{\"error\":{\"code\":\"not_found\",\"message\":\"no "
		     "workflow 'x'\",\"field\":\"id\"}}"));
	ok(e.status == 404 && strcmp(e.code, "not_found") == 0 &&
		strcmp(e.field, "id") == 0 &&
		strcmp(e.message, "no workflow 'x'") == 0,
	    "an API error: status, code, field, message");
	loom_error_set(&e, 422,
	    jv_parse(
		"{\"error\":{\"code\":\"invalid_workflow\",\"message\":"
		"\"1 error\",\"field\":null,\"details\":[{\"line\":7}]}}"));
	ok(strcmp(e.code, "invalid_workflow") == 0 &&
		strstr(e.message, "\"line\":7") != NULL,
	    "details are in the message: %s", e.message);
	loom_error_set(&e, 502, jv_string("Bad Gateway"));
	ok(e.status == 502 && e.code[0] == '\0' && e.message[0] != '\0',
	    "a body that is not an API error: %s", e.message);

	/* a port nothing listens on: bound, then closed */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(fd, (struct sockaddr *)&sin, sizeof(sin));
	getsockname(fd, (struct sockaddr *)&sin, &sl);
	close(fd);
	snprintf(
	    base, sizeof(base), "http://127.0.0.1:%d", ntohs(sin.sin_port));
	c = loom_client_new(base, NULL, &err);
	r = loom_workflow_list(c);
	ok(!jv_is_valid(r) && loom_client_error(c)->status == 0 &&
		loom_client_error(c)->sys_errno == ECONNREFUSED,
	    "nothing listening: status 0, ECONNREFUSED: %s",
	    loom_client_error(c)->message);
	jv_free(r);
	loom_client_free(c);
	ok(loom_client_new("ftp://x", NULL, &err) == NULL && err,
	    "a bad base is refused");
	free(err);
	err = NULL;
	c = loom_client_new("unix:/nonexistent/api.sock", "tok", &err);
	r = loom_workflow_list(c);
	ok(!jv_is_valid(r) && loom_client_error(c)->sys_errno == ECONNREFUSED,
	    "a Unix socket that is not there: %s",
	    loom_client_error(c)->message);
	jv_free(r);
	loom_client_free(c);
}

/* ---- the task server over HTTP ------------------------------------------ */

static jv
echo(void *arg, const struct loom_task *t)
{
	(void)arg;
	return loom_result_success(
	    JV_OBJECT(jv_string("task"), jv_string(t->task_id),
		jv_string("key"), jv_string(t->idempotency_key)),
	    "echoed");
}

static jv
later(void *arg, const struct loom_task *t)
{
	(void)arg;
	(void)t;
	return loom_result_accepted();
}

static size_t
keep(char *p, size_t size, size_t n, void *arg)
{
	jv *out = arg;

	*out = jv_string_append_buf(*out, p, (int)(size * n));
	return size * n;
}

/* POSTs body to url with the signature made at ts under secret (NULL:
 * unsigned); returns the status, *reply the answer. */
static long
post(const char *url, const char *body, const char *secret, long long ts,
    jv *reply)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hd = NULL;
	char line[128], sig[LOOM_SIGNATURE_LEN + 1], tss[32];
	long status = 0;
	jv text = jv_string("");

	hd = curl_slist_append(hd, "Content-Type: application/json");
	hd = curl_slist_append(hd, "Idempotency-Key: e/t/1");
	if (secret) {
		snprintf(tss, sizeof(tss), "%lld", ts);
		loom_signature(
		    secret, strlen(secret), tss, body, strlen(body), sig);
		snprintf(line, sizeof(line), "X-Loom-Timestamp: %s", tss);
		hd = curl_slist_append(hd, line);
		snprintf(line, sizeof(line), "X-Loom-Signature: %s", sig);
		hd = curl_slist_append(hd, line);
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, keep);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &text);
	if (curl_easy_perform(h) == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hd);
	curl_easy_cleanup(h);
	*reply = jv_parse(jv_string_value(text));
	jv_free(text);
	return status;
}

static void
server(void)
{
	static const char env[] = "{\"executionId\":\"e\",\"taskId\":\"t\"}";
	loom_server *s = loom_server_new("127.0.0.1", 0);
	char url[128], base[64], *err = NULL;
	struct loom_error e;
	long long now = (long long)time(NULL);
	jv r, v;

	loom_server_handle(s, "/tasks/echo", echo, NULL);
	loom_server_handle(s, "/tasks/later", later, NULL);
	loom_server_require_signature(s, "k3y", 3);
	is_int(loom_server_start(s, &err), 0, "the server starts on port 0");
	ok(loom_server_port(s) > 0, "and says its port (%d)",
	    loom_server_port(s));
	snprintf(
	    base, sizeof(base), "http://127.0.0.1:%d", loom_server_port(s));

	snprintf(url, sizeof(url), "%s/tasks/echo", base);
	is_int(post(url, env, "k3y", now, &r), 200, "a signed request: 200");
	v = jv_getpath(
	    jv_copy(r), JV_ARRAY(jv_string("output"), jv_string("key")));
	is_str(jv_get_kind(v) == JV_KIND_STRING ? jv_string_value(v) : "",
	    "e/t/1", "the handler saw the Idempotency-Key header");
	jv_free(v);
	jv_free(r);
	is_int(post(url, env, NULL, 0, &r), 401, "unsigned: 401");
	jv_free(r);
	is_int(post(url, env, "wrong", now, &r), 401, "another secret: 401");
	jv_free(r);
	is_int(
	    post(url, env, "k3y", now - 600, &r), 401, "ten minutes old: 401");
	jv_free(r);
	is_int(post(url, "{\"nope\":1}", "k3y", now, &r), 400,
	    "not an envelope: 400");
	jv_free(r);
	snprintf(url, sizeof(url), "%s/tasks/later", base);
	is_int(post(url, env, "k3y", now, &r), 202,
	    "an asynchronous handler: 202");
	jv_free(r);

	/* a callback to a path the server has not: the error record */
	snprintf(url, sizeof(url), "%s/api/v1/callbacks/tok", base);
	ok(loom_callback_complete(
	       url, loom_result_success(jv_null(), NULL), &e) < 0 &&
		e.status == 404 && strcmp(e.code, "not_found") == 0,
	    "a refused callback: 404 not_found (%s)", e.message);
	ok(loom_callback_complete("nowhere", jv_null(), &e) < 0 &&
		e.sys_errno == EINVAL,
	    "not a URL: %s", e.message);
	loom_server_free(s);
}

int
main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rfc4231();
	loom_exec_signature();
	envelopes();
	results();
	errors();
	server();
	curl_global_cleanup();
	return t_done();
}
