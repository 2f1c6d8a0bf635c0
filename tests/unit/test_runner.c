/*
 * test_runner: the runner's pure parts (request checks, the envelope,
 * response and exit interpretation, error classes, trace ids) table by
 * table, then a few end-to-end checks of the done-callback contract with
 * tiny shell tasks on a real loop (no network).
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "run/runner.h"
#include "t.h"

/* Compares a jv (consumed) with JSON text. */
static int
jv_is_json(jv v, const char *json)
{
	jv want = jv_parse(json);
	int eq = jv_equal(v, want);

	return eq;
}

static const char *
str_at(jv v, const char *k1, const char *k2, char *buf, size_t len)
{
	jv x = jv_object_get(jv_copy(v), jv_string(k1));

	if (k2 != NULL && jv_get_kind(x) == JV_KIND_OBJECT)
		x = jv_object_get(x, jv_string(k2));
	if (jv_get_kind(x) == JV_KIND_STRING)
		snprintf(buf, len, "%s", jv_string_value(x));
	else if (jv_get_kind(x) == JV_KIND_INVALID)
		snprintf(buf, len, "(none)");
	else {
		jv s = jv_dump_string(jv_copy(x), 0);

		snprintf(buf, len, "%s", jv_string_value(s));
		jv_free(s);
	}
	jv_free(x);
	return buf;
}

static jv
parse(int st, const char *body)
{
	return runner_parse_response(st, body, strlen(body), 1);
}

static void
test_parse_response(void)
{
	static const struct {
		int st;
		const char *body;
		int protocol;
		const char *status, *type, *output;
	} cases[] = {
		{ 200, "{\"status\":\"SUCCESS\",\"output\":{\"n\":1}}", 1,
		    "SUCCESS", "(none)", "{\"n\":1}" },
		{ 200, "{\"status\":\"SUCCESS\"}", 1, "SUCCESS", "(none)",
		    "null" },
		{ 200, "", 1, "SUCCESS", "(none)", "null" },
		{ 204, "  \n", 1, "SUCCESS", "(none)", "null" },
		{ 202, "", 1, "ACCEPTED", "(none)", "null" },
		{ 202, "{\"status\":\"RUNNING\"}", 1, "ACCEPTED", "(none)",
		    "null" },
		{ 200, "{\"status\":\"RUNNING\"}", 1, "ACCEPTED", "(none)",
		    "null" },
		{ 200, "{\"status\":\"FAILED\"}", 1, "FAILED",
		    "TaskFailedException", "null" },
		{ 200,
		    "{\"status\":\"FAILED\",\"error\":{\"type\":"
		    "\"ValidationException\",\"message\":\"bad date\"}}",
		    1, "FAILED", "ValidationException", "null" },
		{ 200,
		    "{\"status\":\"FAILED\",\"error\":{\"type\":"
		    "\"NullPointerException\"}}",
		    1, "FAILED", "TaskFailedException", "null" },
		{ 200, "not json", 1, "FAILED", "TaskFailedException", "null" },
		{ 200, "[1,2]", 1, "FAILED", "TaskFailedException", "null" },
		{ 200, "{\"status\":\"WEIRD\"}", 1, "FAILED",
		    "TaskFailedException", "null" },
		{ 200, "{\"rows\":3}", 1, "SUCCESS", "(none)", "{\"rows\":3}" },
		{ 500, "{\"status\":\"FAILED\"}", 1, "FAILED",
		    "HttpServerError", "null" },
		{ 503, "", 1, "FAILED", "HttpServerError", "null" },
		{ 404, "nope", 1, "FAILED", "ResourceNotFoundException",
		    "null" },
		{ 400, "", 1, "FAILED", "ValidationException", "null" },
		{ 422, "", 1, "FAILED", "ValidationException", "null" },
		{ 403, "", 1, "FAILED", "HttpClientError", "null" },
		{ 301, "", 1, "FAILED", "HttpClientError", "null" },
		/* a task with its own body: the answer is the output */
		{ 200, "{\"a\":1}", 0, "SUCCESS", "(none)", "{\"a\":1}" },
		{ 200, "plain text", 0, "SUCCESS", "(none)", "plain text" },
		{ 202, "", 0, "SUCCESS", "(none)", "null" },
		{ 500, "{}", 0, "FAILED", "HttpServerError", "null" },
	};
	char b1[256], b2[256], b3[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		jv r = runner_parse_response(cases[i].st, cases[i].body,
		    strlen(cases[i].body), cases[i].protocol);

		is_str(str_at(r, "status", NULL, b1, sizeof(b1)),
		    cases[i].status, "response %zu (HTTP %d): status", i,
		    cases[i].st);
		is_str(str_at(r, "error", "type", b2, sizeof(b2)),
		    cases[i].type, "response %zu: error type", i);
		is_str(str_at(r, "output", NULL, b3, sizeof(b3)),
		    cases[i].output, "response %zu: output", i);
		jv_free(r);
	}

	jv r = parse(200,
	    "{\"status\":\"SUCCESS\",\"logs\":\"did it\","
	    "\"duration\":42}");
	is_str(
	    str_at(r, "logs", NULL, b1, sizeof(b1)), "did it", "logs are kept");
	is_str(str_at(r, "backendDurationMs", NULL, b1, sizeof(b1)), "42",
	    "the backend's duration is kept");
	jv_free(r);
	r = parse(200,
	    "{\"status\":\"FAILED\",\"error\":{\"message\":"
	    "\"disk full\"}}");
	is_str(str_at(r, "error", "message", b1, sizeof(b1)), "disk full",
	    "the backend's message is kept");
	jv_free(r);
	r = parse(200, "oops");
	ok(strstr(str_at(r, "error", "message", b1, sizeof(b1)), "not JSON") !=
		NULL,
	    "a non-JSON body says so: %s", b1);
	jv_free(r);
	r = parse(500, "{\"error\":{\"message\":\"db down\"}}");
	is_str(str_at(r, "error", "message", b1, sizeof(b1)),
	    "HTTP 500: db down", "a 5xx message names status and reason");
	jv_free(r);
}

static void
test_curl_classes(void)
{
	static const struct {
		int code;
		enum errclass want;
	} cases[] = {
		{ CURLE_OK, ERR_NONE },
		{ CURLE_OPERATION_TIMEDOUT, ERR_TIMEOUT },
		{ CURLE_COULDNT_CONNECT, ERR_CONNECTION },
		{ CURLE_COULDNT_RESOLVE_HOST, ERR_CONNECTION },
		{ CURLE_GOT_NOTHING, ERR_CONNECTION },
		{ CURLE_RECV_ERROR, ERR_CONNECTION },
		{ CURLE_SEND_ERROR, ERR_CONNECTION },
		/* run_http cannot rewind: a reused connection that closed
		 * without an answer, never sent again by curl */
		{ CURLE_SEND_FAIL_REWIND, ERR_CONNECTION },
		{ CURLE_URL_MALFORMAT, ERR_VALIDATION },
		{ CURLE_UNSUPPORTED_PROTOCOL, ERR_VALIDATION },
		{ CURLE_WRITE_ERROR, ERR_TASK_FAILED },
		{ CURLE_PEER_FAILED_VERIFICATION, ERR_TASK_FAILED },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		is_int(runner_curl_errclass(cases[i].code), cases[i].want,
		    "curl code %d -> %s", cases[i].code,
		    errclass_name(cases[i].want));
}

static void
test_envelope(void)
{
	jv req = jv_parse(
	    "{\"executionId\":\"exec-1\",\"taskId\":\"fetch\","
	    "\"attempt\":2,\"input\":{\"d\":\"2024-01-14\"},"
	    "\"callbackToken\":\"a b/c\",\"task\":{\"type\":\"http\"}}");
	jv e;
	char *t;
	size_t n;

	t = runner_envelope(jv_copy(req), 300000, NULL, &n);
	is_str(t,
	    "{\"executionId\":\"exec-1\",\"taskId\":\"fetch\","
	    "\"input\":{\"d\":\"2024-01-14\"},\"attempt\":2,"
	    "\"timeout\":300000}",
	    "the seed's envelope, in its key order");
	is_int((long long)n, (long long)strlen(t), "its length");
	e = jv_parse(t);
	free(t);
	ok(jv_is_json(e,
	       "{\"executionId\":\"exec-1\",\"taskId\":\"fetch\","
	       "\"input\":{\"d\":\"2024-01-14\"},\"attempt\":2,"
	       "\"timeout\":300000}"),
	    "the seed's envelope");
	t = runner_envelope(jv_copy(req), 1000, "http://api:8080/", &n);
	e = jv_parse(t);
	free(t);
	ok(jv_is_json(jv_object_get(e, jv_string("callbackUrl")),
	       "\"http://api:8080/api/v1/callbacks/a%20b%2Fc\""),
	    "callbackUrl: base without its slash, token escaped");
	t = runner_envelope(
	    jv_object_delete(jv_copy(req), jv_string("callbackToken")), 1000,
	    "http://api:8080", &n);
	e = jv_parse(t);
	free(t);
	ok(!jv_object_has(jv_copy(e), jv_string("callbackUrl")),
	    "no token, no callbackUrl");
	ok(!jv_object_has(jv_copy(e), jv_string("scheduledTime")),
	    "no scheduledTime, no key");
	jv_free(e);
	t = runner_envelope(
	    jv_object_set(jv_copy(req), jv_string("scheduledTime"),
		jv_string("2026-12-07T03:00:00Z")),
	    1000, NULL, &n);
	is_str(t,
	    "{\"executionId\":\"exec-1\",\"taskId\":\"fetch\","
	    "\"input\":{\"d\":\"2024-01-14\"},\"attempt\":2,"
	    "\"timeout\":1000,\"scheduledTime\":\"2026-12-07T03:00:00Z\"}",
	    "a scheduled run's envelope carries its nominal time");
	free(t);
	jv_free(req);

	t = runner_envelope(jv_parse("{\"executionId\":\"x\",\"taskId\":"
				     "\"y\"}"),
	    5, NULL, &n);
	e = jv_parse(t);
	free(t);
	ok(jv_is_json(e,
	       "{\"executionId\":\"x\",\"taskId\":\"y\","
	       "\"input\":{},\"attempt\":1,\"timeout\":5}"),
	    "defaults: input {} and attempt 1");
}

static void
test_check_request(void)
{
	static const struct {
		const char *req;
		const char *err; /* substring, or NULL when valid */
	} cases[] = {
		{ "{\"executionId\":\"e\",\"taskId\":\"t\",\"task\":{\"type\":"
		  "\"http\",\"url\":\"http://h/x\"}}",
		    NULL },
		{ "{\"executionId\":\"e\",\"taskId\":\"t\",\"attempt\":3,"
		  "\"task\":{\"type\":\"shell\",\"command\":[\"ls\"],"
		  "\"timeout\":\"30s\",\"env\":{\"A\":\"1\",\"N\":2}}}",
		    NULL },
		{ "{\"executionId\":\"e\",\"taskId\":\"t\",\"task\":{\"type\":"
		  "\"java\",\"class\":\"Main\",\"classpath\":\"a.jar\","
		  "\"args\":[\"x\"],\"jvmOptions\":[\"-Xmx64m\"]}}",
		    NULL },
		{ "{\"executionId\":\"e\",\"taskId\":\"t\",\"scheduledTime\":"
		  "\"2026-12-07T03:00:00Z\",\"task\":{\"type\":\"shell\","
		  "\"command\":\"x\"}}",
		    NULL },
		{ "{\"executionId\":\"e\",\"taskId\":\"t\",\"scheduledTime\":"
		  "\"tomorrow at 3\",\"task\":{\"type\":\"shell\","
		  "\"command\":\"x\"}}",
		    "scheduledTime" },
		{ "{\"executionId\":\"e\",\"taskId\":\"t\",\"scheduledTime\":"
		  "5,\"task\":{\"type\":\"shell\",\"command\":\"x\"}}",
		    "scheduledTime" },
		{ "[]", "JSON object" },
		{ "{\"taskId\":\"t\",\"task\":{\"type\":\"shell\","
		  "\"command\":\"x\"}}",
		    "executionId" },
		{ "{\"executionId\":\"e\",\"taskId\":\"a\\nb\",\"task\":"
		  "{\"type\":\"shell\",\"command\":\"x\"}}",
		    "taskId" },
		{ "{\"executionId\":\"e\",\"taskId\":\"t\",\"attempt\":0,"
		  "\"task\":{\"type\":\"shell\",\"command\":\"x\"}}",
		    "attempt" },
		{ "{\"executionId\":\"e\",\"taskId\":\"t\",\"attempt\":1.5,"
		  "\"task\":{\"type\":\"shell\",\"command\":\"x\"}}",
		    "attempt" },
		{ "{\"executionId\":\"e\",\"taskId\":\"t\"}", "task" },
		{ "{\"executionId\":\"e\",\"taskId\":\"t\",\"task\":{\"type\":"
		  "\"ftp\"}}",
		    "unknown task type" },
		{ "{\"executionId\":\"e\",\"taskId\":\"t\",\"task\":{\"type\":"
		  "\"http\",\"url\":\"ftp://h/x\"}}",
		    "url" },
		{ "{\"executionId\":\"e\",\"taskId\":\"t\",\"task\":{\"type\":"
		  "\"http\",\"url\":\"http://h\",\"method\":\"P OST\"}}",
		    "method" },
		{ "{\"executionId\":\"e\",\"taskId\":\"t\",\"task\":{\"type\":"
		  "\"http\",\"url\":\"http://h\",\"headers\":[1]}}",
		    "headers" },
		{ "{\"executionId\":\"e\",\"taskId\":\"t\",\"task\":{\"type\":"
		  "\"shell\",\"command\":[]}}",
		    "command" },
		{ "{\"executionId\":\"e\",\"taskId\":\"t\",\"task\":{\"type\":"
		  "\"shell\",\"command\":[\"ls\",1]}}",
		    "command" },
		{ "{\"executionId\":\"e\",\"taskId\":\"t\",\"task\":{\"type\":"
		  "\"shell\",\"command\":\"x\",\"env\":{\"A\":{}}}}",
		    "env" },
		{ "{\"executionId\":\"e\",\"taskId\":\"t\",\"task\":{\"type\":"
		  "\"shell\",\"command\":\"x\",\"timeout\":\"soon\"}}",
		    "timeout" },
		{ "{\"executionId\":\"e\",\"taskId\":\"t\",\"task\":{\"type\":"
		  "\"shell\",\"command\":\"x\",\"timeout\":\"0s\"}}",
		    "timeout" },
		{ "{\"executionId\":\"e\",\"taskId\":\"t\",\"task\":{\"type\":"
		  "\"java\"}}",
		    "class" },
		{ "{\"executionId\":\"e\",\"taskId\":\"t\",\"task\":{\"type\":"
		  "\"java\",\"class\":\"M\",\"args\":\"x\"}}",
		    "args" },
		{ "{\"executionId\":\"e\",\"taskId\":\"t\",\"callbackToken\":"
		  "5,\"task\":{\"type\":\"shell\",\"command\":\"x\"}}",
		    "callbackToken" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *err = NULL;
		int rc = runner_check_request(jv_parse(cases[i].req), &err);

		if (cases[i].err == NULL)
			ok(rc == 0 && err == NULL, "request %zu is valid%s%s",
			    i, err ? ": " : "", err ? err : "");
		else
			ok(rc == -1 && err && strstr(err, cases[i].err),
			    "request %zu refused mentioning \"%s\": %s", i,
			    cases[i].err, err ? err : "(accepted)");
		free(err);
	}
}

static void
test_timeout(void)
{
	static const struct {
		const char *req;
		int64_t ms;
	} cases[] = {
		{ "{\"task\":{}}", RUNNER_DEFAULT_TIMEOUT_MS },
		{ "{\"task\":{\"timeout\":\"5m\"}}", 300000 },
		{ "{\"task\":{\"timeout\":\"1h30m\"}}", 5400000 },
		{ "{\"task\":{\"timeout\":\"500ms\"}}", 500 },
		{ "{\"task\":{\"timeout\":250}}", 250 },
		{ "{\"task\":{\"timeout\":\"30\"}}", -1 },
		{ "{\"task\":{\"timeout\":0}}", -1 },
		{ "{\"task\":{\"timeout\":[]}}", -1 },
		/* no object where one is expected: as jv_getpath() */
		{ "{}", RUNNER_DEFAULT_TIMEOUT_MS },
		{ "null", RUNNER_DEFAULT_TIMEOUT_MS },
		{ "\"x\"", -1 },
		{ "{\"task\":null}", RUNNER_DEFAULT_TIMEOUT_MS },
		{ "{\"task\":\"x\"}", -1 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		is_int(runner_request_timeout(jv_parse(cases[i].req)),
		    cases[i].ms, "timeout of %s", cases[i].req);
}

static void
test_proc_outcome(void)
{
	static const struct {
		struct runner_proc_exit x;
		const char *status, *type, *output;
	} cases[] = {
		{ { 1, 0, NULL, 0, NULL, NULL }, "SUCCESS", "(none)", "null" },
		{ { 1, 0, "{\"a\":1}\n", 8, "{\"b\":2}", NULL }, "SUCCESS",
		    "(none)", "{\"a\":1}" },
		{ { 1, 0, "  \n", 3, "{\"b\":2}", NULL }, "SUCCESS", "(none)",
		    "{\"b\":2}" },
		{ { 1, 0, NULL, 0, "done: 3 rows", NULL }, "SUCCESS", "(none)",
		    "null" },
		{ { 1, 0, NULL, 0, "42", NULL }, "SUCCESS", "(none)", "42" },
		{ { 1, 0, "{oops", 5, NULL, NULL }, "FAILED",
		    "TaskFailedException", "null" },
		{ { 1, 3, "{\"a\":1}", 7, NULL, "boom" }, "FAILED",
		    "TaskFailedException", "null" },
		{ { 0, SIGKILL, NULL, 0, NULL, NULL }, "FAILED",
		    "TaskFailedException", "null" },
	};
	char b1[256], b2[256], b3[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		jv r = runner_proc_outcome(&cases[i].x);

		is_str(str_at(r, "status", NULL, b1, sizeof(b1)),
		    cases[i].status, "exit %zu: status", i);
		is_str(str_at(r, "error", "type", b2, sizeof(b2)),
		    cases[i].type, "exit %zu: error type", i);
		is_str(str_at(r, "output", NULL, b3, sizeof(b3)),
		    cases[i].output, "exit %zu: output", i);
		jv_free(r);
	}

	struct runner_proc_exit x = { 1, 3, NULL, 0, NULL, "no such file" };
	jv r = runner_proc_outcome(&x);
	is_str(str_at(r, "error", "message", b1, sizeof(b1)),
	    "exited with status 3: no such file",
	    "the message has the code and the last stderr line");
	is_str(str_at(r, "exitCode", NULL, b1, sizeof(b1)), "3", "exitCode");
	jv_free(r);
	x = (struct runner_proc_exit){ 0, SIGSEGV, NULL, 0, NULL, NULL };
	r = runner_proc_outcome(&x);
	is_str(str_at(r, "signal", NULL, b1, sizeof(b1)), "SIGSEGV",
	    "signal name");
	is_str(str_at(r, "error", "message", b1, sizeof(b1)),
	    "killed by signal SIGSEGV", "signal message");
	jv_free(r);
}

static void
test_names(void)
{
	char buf[16], tp[56], tp2[56];

	is_str(runner_signal_name(SIGTERM, buf, sizeof(buf)), "SIGTERM",
	    "SIGTERM");
	is_str(runner_signal_name(SIGKILL, buf, sizeof(buf)), "SIGKILL",
	    "SIGKILL");
	is_str(runner_signal_name(0, buf, sizeof(buf)), "SIG0", "unnamed");

	runner_traceparent_new(tp);
	runner_traceparent_new(tp2);
	ok(runner_traceparent_valid(tp), "a new traceparent is valid: %s", tp);
	ok(strcmp(tp, tp2) != 0, "two traceparents differ");
	{
		/* 500 of them draw on the 4 KiB pool three times over */
		static char many[500][56];
		int valid = 1, distinct = 1;

		for (int i = 0; i < 500; i++) {
			runner_traceparent_new(many[i]);
			valid = valid && runner_traceparent_valid(many[i]);
			for (int k = 0; k < i && distinct; k++)
				distinct =
				    memcmp(many[i] + 3, many[k] + 3, 32) != 0;
		}
		ok(valid, "500 new traceparents are valid");
		ok(distinct, "and their trace ids all differ");
	}
	ok(runner_traceparent_valid("00-4bf92f3577b34da6a3ce929d0e0e4736-"
				    "00f067aa0ba902b7-01"),
	    "the W3C example is valid");
	ok(!runner_traceparent_valid("00-00000000000000000000000000000000-"
				     "00f067aa0ba902b7-01"),
	    "an all-zero trace id is not");
	ok(!runner_traceparent_valid("00-4BF92F3577B34DA6A3CE929D0E0E4736-"
				     "00f067aa0ba902b7-01"),
	    "upper-case hex is not");
	ok(!runner_traceparent_valid("00-4bf92f3577b34da6a3ce929d0e0e4736-"
				     "00f067aa0ba902b7"),
	    "a short one is not");
}

/* The loop wrapper itself: timers, deferred calls, io, exit codes. */

struct lt {
	struct loop *loop;
	int fired_a, fired_b, deferred, readable;
	int64_t at_a;
	char got[8];
};

static void
lt_timer_a(struct loop_timer *t, void *arg)
{
	struct lt *x = arg;

	x->fired_a++;
	x->at_a = loop_mono_ms(x->loop);
	ok(!loop_timer_armed(t), "a fired timer is disarmed");
}

static void
lt_timer_b(struct loop_timer *t, void *arg)
{
	struct lt *x = arg;

	(void)t;
	x->fired_b++;
}

static void
lt_defer(struct loop_defer *d, void *arg)
{
	struct lt *x = arg;

	(void)d;
	x->deferred++;
}

static void
lt_io(struct loop_io *io, int fd, unsigned events, void *arg)
{
	struct lt *x = arg;
	ssize_t n;

	ok(events & LOOP_READ, "io: readable");
	n = read(fd, x->got, sizeof(x->got) - 1);
	if (n > 0)
		x->got[n] = '\0';
	x->readable++;
	loop_io_set(io, 0); /* paused: no more callbacks */
}

static void
lt_exit(struct loop_timer *t, void *arg)
{
	struct lt *x = arg;

	(void)t;
	loop_exit(x->loop, 7);
}

static void
test_loop(void)
{
	struct lt x = { 0 };
	struct loop_timer *a, *b, *end;
	struct loop_defer *d;
	struct loop_io *io;
	int fds[2];
	int64_t t0;

	x.loop = loop_new();
	a = loop_timer_new(x.loop, lt_timer_a, &x);
	b = loop_timer_new(x.loop, lt_timer_b, &x);
	end = loop_timer_new(x.loop, lt_exit, &x);
	ok(!loop_timer_armed(a), "a new timer is disarmed");
	t0 = loop_mono_ms(x.loop);
	loop_timer_after(a, 10);
	loop_timer_after(a, 60); /* re-arming moves it */
	ok(loop_timer_armed(a), "armed");
	loop_timer_after(b, 20);
	loop_timer_stop(b); /* cancelled: never fires */
	loop_timer_after(end, 150);
	d = loop_defer_new(x.loop, lt_defer, &x);
	is_int(x.deferred, 0, "a deferred call does not run at once");
	ok(pipe(fds) == 0, "pipe");
	io = loop_io_add(x.loop, fds[0], LOOP_READ, lt_io, &x);
	ok(io != NULL, "io watch on a pipe");
	ok(write(fds[1], "hi", 2) == 2, "write");
	is_int(loop_run(x.loop), 7, "loop_run returns the loop_exit code");
	is_int(x.fired_a, 1, "the re-armed timer fired once");
	ok(x.at_a - t0 >= 55, "at its new time (%lld ms)",
	    (long long)(x.at_a - t0));
	is_int(x.fired_b, 0, "the stopped timer did not fire");
	is_int(x.deferred, 1, "the deferred call ran once");
	is_int(x.readable, 1, "the paused io watch was called once");
	is_str(x.got, "hi", "and read the data");
	ok(loop_now_ms(x.loop) > 1600000000000LL, "loop_now_ms is wall time");
	loop_io_del(io);
	close(fds[0]);
	close(fds[1]);
	loop_defer_del(d);
	loop_timer_del(a);
	loop_timer_del(b);
	loop_timer_del(end);
	loop_timer_del(NULL);
	loop_free(x.loop);
}

/* End to end on a loop, with shell tasks only. */

struct got {
	int calls;
	int in_start;
	jv result;
	struct loop *loop;
	int exit_after;
};

static void
on_done(void *arg, jv res)
{
	struct got *g = arg;

	g->calls++;
	ok(!g->in_start, "done is not called from inside runner_start");
	jv_free(g->result);
	g->result = res;
	if (g->exit_after && --g->exit_after == 0)
		loop_exit(g->loop, 0);
}

static jv
shell_req(const char *id, const char *cmd, const char *timeout)
{
	return JV_OBJECT(jv_string("executionId"), jv_string("e"),
	    jv_string("taskId"), jv_string(id), jv_string("input"),
	    JV_OBJECT(jv_string("k"), jv_string("v")), jv_string("task"),
	    JV_OBJECT(jv_string("type"), jv_string("shell"),
		jv_string("command"), jv_string(cmd), jv_string("timeout"),
		jv_string(timeout)));
}

static void
cancel_later(struct loop_timer *t, void *arg)
{
	struct runner *r = arg;

	(void)t;
	runner_cancel_all(r);
}

static void
test_end_to_end(void)
{
	struct runner_config cfg = { .kill_grace_ms = 200 };
	struct loop *loop = loop_new();
	struct runner *r;
	struct got g = { .result = jv_null(), .loop = loop };
	struct got g2 = { .result = jv_null(), .loop = loop };
	struct loop_timer *t;
	uint64_t id;
	char b[256];

	ok(loop != NULL, "loop_new");
	r = runner_new(loop, &cfg);
	ok(r != NULL, "runner_new");

	/* stdin has the envelope; $LOOM_OUTPUT wins over stdout */
	g.in_start = 1;
	g.exit_after = 1;
	ok(runner_start(r,
	       shell_req("a",
		   "read l; printf '%s' \"$l\" > "
		   "\"$LOOM_OUTPUT\"; echo '{\"ignored\":1}'",
		   "10s"),
	       on_done, &g, &id) == 0,
	    "runner_start");
	g.in_start = 0;
	is_int(g.calls, 0, "not done yet");
	is_int(runner_active(r), 1, "one active");
	loop_run(loop);
	is_int(g.calls, 1, "done once");
	is_int(runner_active(r), 0, "none active");
	ok(jv_is_json(jv_getpath(jv_copy(g.result),
			  JV_ARRAY(jv_string("output"), jv_string("input"))),
	       "{\"k\":\"v\"}"),
	    "output from $LOOM_OUTPUT, the envelope came on stdin");
	is_str(str_at(g.result, "taskId", NULL, b, sizeof(b)), "a",
	    "result names the task");

	/* an invalid request is reported from the loop, not at once */
	runner_free(r);
	loop_free(loop);
	loop = loop_new();
	g.loop = g2.loop = loop;
	r = runner_new(loop, &cfg);
	g.calls = 0;
	g.in_start = 1;
	g.exit_after = 1;
	ok(runner_start(r,
	       jv_parse("{\"executionId\":\"e\",\"taskId\":\"b\","
			"\"task\":{\"type\":\"nope\"}}"),
	       on_done, &g, NULL) == 0,
	    "an invalid request is accepted for reporting");
	g.in_start = 0;
	is_int(g.calls, 0, "and not reported inside runner_start");
	loop_run(loop);
	is_str(str_at(g.result, "error", "type", b, sizeof(b)),
	    "ValidationException", "invalid request -> ValidationException");
	runner_free(r);
	loop_free(loop);

	/* so is one that is no object (a broken row, in loom-exec) */
	loop = loop_new();
	g.loop = g2.loop = loop;
	r = runner_new(loop, &cfg);
	g.calls = 0;
	g.exit_after = 1;
	ok(runner_start(r, jv_string("x"), on_done, &g, NULL) == 0,
	    "a request that is no object is accepted for reporting");
	loop_run(loop);
	is_int(g.calls, 1, "and reported once");
	is_str(str_at(g.result, "error", "type", b, sizeof(b)),
	    "ValidationException", "no object -> ValidationException");
	runner_free(r);
	loop_free(loop);

	/* cancel: SIGTERM to a task that ignores it, SIGKILL after grace */
	loop = loop_new();
	g.loop = loop;
	r = runner_new(loop, &cfg);
	g.calls = 0;
	g.exit_after = 1;
	runner_start(r, shell_req("c", "trap '' TERM; sleep 30", "10s"),
	    on_done, &g, &id);
	t = loop_timer_new(loop, cancel_later, r);
	loop_timer_after(t, 100);
	loop_run(loop);
	is_int(g.calls, 1, "cancelled task reported once");
	is_str(str_at(g.result, "error", "type", b, sizeof(b)), "Cancelled",
	    "error type Cancelled");
	is_str(str_at(g.result, "signal", NULL, b, sizeof(b)), "SIGKILL",
	    "killed after the grace period");
	errno = 0;
	ok(runner_cancel(r, id) == -1 && errno == ENOENT,
	    "cancel of a delivered id: ENOENT");
	loop_timer_del(t);
	runner_free(r);
	loop_free(loop);

	/* runner_free delivers what still runs, as Cancelled */
	loop = loop_new();
	r = runner_new(loop, &cfg);
	g.calls = g2.calls = 0;
	g.exit_after = g2.exit_after = 0;
	runner_start(r, shell_req("d", "sleep 30", "10s"), on_done, &g, NULL);
	runner_start(r, shell_req("e", "sleep 30", "10s"), on_done, &g2, NULL);
	is_int(runner_active(r), 2, "two active");
	runner_free(r);
	is_int(g.calls + g2.calls, 2, "runner_free delivered both");
	is_str(str_at(g2.result, "error", "type", b, sizeof(b)), "Cancelled",
	    "as Cancelled");
	loop_free(loop);
	jv_free(g.result);
	jv_free(g2.result);
}

int
main(void)
{
	test_parse_response();
	test_curl_classes();
	test_envelope();
	test_check_request();
	test_timeout();
	test_proc_outcome();
	test_names();
	test_loop();
	test_end_to_end();
	return t_done();
}
