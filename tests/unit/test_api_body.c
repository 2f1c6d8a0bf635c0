/*
 * test_api_body: the pure parsers of loom-api's requests (api_body.c),
 * table-driven: the list query (limit, status, cursor, since, until),
 * the trigger body, the callback body, and the nesting of workflow
 * files.  Every refusal must carry the contract's error body.
 */
#include <string.h>

#include <jv.h>

#include "cmd/loom-api/api.h"
#include "cmd/loom-api/cursor.h"
#include "t.h"

#define NOW 1795665906123456LL /* 2026-11-26T04:05:06.123456Z */

/* The error body's code and field, checked and freed. */
static void
check_error(jv out, int status, int want_status, const char *code,
    const char *field, const char *what)
{
	jv e = jv_object_get(jv_copy(out), jv_string("error"));
	jv c = jv_object_get(jv_copy(e), jv_string("code"));
	jv f = jv_object_get(jv_copy(e), jv_string("field"));
	jv m = jv_object_get(jv_copy(e), jv_string("message"));

	is_int(status, want_status, "%s: status", what);
	is_str(jv_get_kind(c) == JV_KIND_STRING ? jv_string_value(c) : "?",
	    code, "%s: code", what);
	if (field)
		is_str(jv_get_kind(f) == JV_KIND_STRING ? jv_string_value(f) :
							  "(null)",
		    field, "%s: field", what);
	ok(jv_get_kind(m) == JV_KIND_STRING &&
		jv_string_length_bytes(jv_copy(m)) > 0,
	    "%s: a message", what);
	jv_free(e);
	jv_free(c);
	jv_free(f);
	jv_free(m);
	jv_free(out);
}

static const struct {
	const char *status, *limit, *cursor, *since, *until;
	int want;	   /* 0 or the HTTP status */
	const char *field; /* when refused */
	int limit_out;
	const char *status_out, *since_out, *until_out;
} lists[] = {
	{ NULL, NULL, NULL, NULL, NULL, 0, NULL, 50, "", "", "" },
	{ "", "", "", "", "", 0, NULL, 50, "", "", "" },
	{ "running", "1", NULL, NULL, NULL, 0, NULL, 1, "RUNNING", "", "" },
	{ "Cancelled", "1000", NULL, NULL, NULL, 0, NULL, 1000, "CANCELLED", "",
	    "" },
	{ NULL, NULL, NULL, "2026-11-26", "1h", 0, NULL, 50, "",
	    "2026-11-26 00:00:00.000000+00", "2026-11-26 03:05:06.123456+00" },
	{ "DONE", NULL, NULL, NULL, NULL, 400, "status", 0, NULL, NULL, NULL },
	{ "runningx", NULL, NULL, NULL, NULL, 400, "status", 0, NULL, NULL,
	    NULL },
	{ "averyveryverylongstatus", NULL, NULL, NULL, NULL, 400, "status", 0,
	    NULL, NULL, NULL },
	{ NULL, "0", NULL, NULL, NULL, 400, "limit", 0, NULL, NULL, NULL },
	{ NULL, "1001", NULL, NULL, NULL, 400, "limit", 0, NULL, NULL, NULL },
	{ NULL, "5x", NULL, NULL, NULL, 400, "limit", 0, NULL, NULL, NULL },
	{ NULL, "-1", NULL, NULL, NULL, 400, "limit", 0, NULL, NULL, NULL },
	{ NULL, NULL, "nope", NULL, NULL, 400, "cursor", 0, NULL, NULL, NULL },
	{ NULL, NULL, NULL, "yesterday", NULL, 400, "since", 0, NULL, NULL,
	    NULL },
	{ NULL, NULL, NULL, NULL, "2026-02-30", 400, "until", 0, NULL, NULL,
	    NULL },
};

static void
test_lists(void)
{
	struct api_list_args a;
	struct page_key k;
	char cur[CURSOR_MAX + 1];
	jv out;

	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		int st;

		out = jv_invalid();
		st = api_list_args_parse(&a, lists[i].status, lists[i].limit,
		    lists[i].cursor, lists[i].since, lists[i].until, NOW, &out);
		if (lists[i].want) {
			check_error(out, st, lists[i].want, "bad_request",
			    lists[i].field, "list query");
			continue;
		}
		is_int(st, 0, "list %zu accepted", i);
		is_int(a.limit, lists[i].limit_out, "list %zu: limit", i);
		is_str(a.status, lists[i].status_out, "list %zu: status", i);
		is_str(a.since, lists[i].since_out, "list %zu: since", i);
		is_str(a.until, lists[i].until_out, "list %zu: until", i);
		ok(!a.has_cursor, "list %zu: no cursor", i);
		jv_free(out);
	}
	/* a cursor becomes the bound of the next page */
	page_key_set(&k, NOW, "exec-0123456789abcdef0123");
	cursor_encode(&k, cur, sizeof(cur));
	out = jv_invalid();
	is_int(api_list_args_parse(&a, NULL, "10", cur, NULL, NULL, NOW, &out),
	    0, "a cursor is taken");
	ok(a.has_cursor, "has the cursor");
	is_str(a.after_ts, "2026-11-26 04:05:06.123456+00", "its time");
	is_str(a.after_id, "exec-0123456789abcdef0123", "its id");
	jv_free(out);
}

static const struct {
	const char *body; /* NULL: no body */
	int want;
	const char *field;
	const char *input; /* the input as JSON, when accepted */
} triggers[] = {
	{ NULL, 0, NULL, "null" },
	{ "{}", 0, NULL, "null" },
	{ "{\"input\":{\"a\":1}}", 0, NULL, "{\"a\":1}" },
	{ "{\"input\":null}", 0, NULL, "null" },
	{ "{\"input\":[1]}", 0, NULL, "[1]" }, /* the engine refuses it */
	{ "[1,2]", 400, NULL, NULL },
	{ "\"input\"", 400, NULL, NULL },
	{ "{\"inputs\":{}}", 422, "inputs", NULL },
	{ "{\"input\":{\"a\":1},\"x\":2}", 422, "x", NULL },
	{ "{\"x\":2,\"input\":{}}", 422, "x", NULL },
};

static void
test_triggers(void)
{
	for (size_t i = 0; i < sizeof(triggers) / sizeof(triggers[0]); i++) {
		jv body =
		    triggers[i].body ? jv_parse(triggers[i].body) : jv_null();
		jv input, out = jv_invalid();
		int st = api_trigger_body(body, &input, &out);

		if (triggers[i].want) {
			ok(jv_get_kind(input) == JV_KIND_NULL,
			    "trigger %zu: no input left behind", i);
			jv_free(input);
			check_error(out, st, triggers[i].want,
			    triggers[i].want == 400 ? "bad_request" :
						      "invalid_input",
			    triggers[i].field, "trigger body");
			continue;
		}
		is_int(st, 0, "trigger %zu accepted", i);
		{
			jv s = jv_dump_string(input, 0);

			is_str(jv_string_value(s), triggers[i].input,
			    "trigger %zu: input", i);
			jv_free(s);
		}
		jv_free(out);
	}
}

static const struct {
	const char *body;
	int want;
	const char *field;
	const char *status, *etype, *emsg, *logs, *output, *duration;
} callbacks[] = {
	{ "{\"status\":\"SUCCESS\",\"output\":{\"rows\":42},\"logs\":\"a\\nb\","
	  "\"duration\":1234.9}",
	    0, NULL, "SUCCESS", NULL, NULL, "a\nb", "{\"rows\":42}", "1234" },
	{ "{\"status\":\"SUCCESS\",\"error\":{\"type\":\"X\"}}", 0, NULL,
	    "SUCCESS", NULL, NULL, NULL, NULL, "" },
	{ "{\"status\":\"FAILED\"}", 0, NULL, "FAILED", "TaskFailedException",
	    "the backend reported FAILED", NULL, NULL, "" },
	{ "{\"status\":\"FAILED\",\"error\":{\"type\":\"ValidationException\","
	  "\"message\":\"bad\"},\"output\":null,\"duration\":-5}",
	    0, NULL, "FAILED", "ValidationException", "bad", NULL, NULL, "" },
	{ "[]", 400, NULL, NULL, NULL, NULL, NULL, NULL, NULL },
	{ "{\"status\":\"MAYBE\"}", 422, "status", NULL, NULL, NULL, NULL, NULL,
	    NULL },
	{ "{\"status\":1}", 422, "status", NULL, NULL, NULL, NULL, NULL, NULL },
	{ "{\"status\":\"SUCCESS\",\"logs\":5}", 422, "logs", NULL, NULL, NULL,
	    NULL, NULL, NULL },
	{ "{\"status\":\"FAILED\",\"error\":\"x\"}", 422, "error", NULL, NULL,
	    NULL, NULL, NULL, NULL },
	{ "{\"status\":\"FAILED\",\"error\":{\"type\":5}}", 422, "error", NULL,
	    NULL, NULL, NULL, NULL, NULL },
	{ "{\"status\":\"SUCCESS\",\"output\":\"a\\u0000b\"}", 422, "output",
	    NULL, NULL, NULL, NULL, NULL, NULL },
};

static void
test_callbacks(void)
{
	for (size_t i = 0; i < sizeof(callbacks) / sizeof(callbacks[0]); i++) {
		struct api_callback_body cb;
		jv out = jv_invalid();
		int st = api_callback_body_parse(
		    jv_parse(callbacks[i].body), &cb, &out);

		if (callbacks[i].want) {
			check_error(out, st, callbacks[i].want,
			    callbacks[i].want == 400 ? "bad_request" :
						       "invalid_input",
			    callbacks[i].field, "callback body");
			api_callback_body_free(&cb);
			continue;
		}
		is_int(st, 0, "callback %zu accepted", i);
		is_str(
		    cb.status, callbacks[i].status, "callback %zu: status", i);
		is_str(cb.etype, callbacks[i].etype, "callback %zu: type", i);
		is_str(cb.emsg, callbacks[i].emsg, "callback %zu: message", i);
		is_str(cb.logs, callbacks[i].logs, "callback %zu: logs", i);
		is_str(jv_get_kind(cb.output_text) == JV_KIND_STRING ?
			jv_string_value(cb.output_text) :
			NULL,
		    callbacks[i].output, "callback %zu: output", i);
		is_str(cb.duration, callbacks[i].duration,
		    "callback %zu: duration", i);
		api_callback_body_free(&cb);
		jv_free(out);
	}
}

static void
test_yaml_depth(void)
{
	char deep[300];
	int line = 0, col = 0, n;

	/* the mapping, the sequence, {b: ...}, [c]: four levels */
	ok(api_yaml_depth_check("a: [1, {b: [c]}]\n", 17, 4, &line, &col) == 0,
	    "four levels pass a limit of four");
	ok(api_yaml_depth_check("a: [1, {b: [c]}]\n", 17, 3, &line, &col) < 0 &&
		line == 1 && col == 12,
	    "...not of three, at 1:12");
	n = snprintf(deep, sizeof(deep), "x:\n  ");
	for (int i = 0; i < 70; i++)
		n += snprintf(deep + n, sizeof(deep) - (size_t)n, "[");
	ok(api_yaml_depth_check(deep, (size_t)n, API_MAX_DEPTH, &line, &col) <
		    0 &&
		line == 2,
	    "70 open brackets are too deep");
	ok(api_yaml_depth_check("id: [\n", 6, API_MAX_DEPTH, &line, &col) == 0,
	    "syntax errors are left to the loader");
}

int
main(void)
{
	test_lists();
	test_triggers();
	test_callbacks();
	test_yaml_depth();
	return t_done();
}
