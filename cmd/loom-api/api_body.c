/*
 * api_body: the pure parsers of loom-api's request bodies and list
 * arguments (see api.h): the nesting of a workflow file, the trigger
 * body, the callback body, and the query of the execution lists (limit,
 * status, cursor, since, until).
 *
 * They take values, not requests, and touch neither the network nor the
 * database, so the handlers and the fuzzer (tests/fuzz/fuzz_request.c)
 * call the very same code.  Each returns 0, or the HTTP status of the
 * error it wrote into *out with api_error().
 */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "cursor.h"
#include "util/jsonutil.h"
#include "core/state.h"

/* ---- POST /api/v1/workflows ------------------------------------------- */

int
api_yaml_depth_check(const char *buf, size_t len, int max, int *line, int *col)
{
	yaml_parser_t p;
	yaml_event_t ev;
	int depth = 0, rc = 0;

	if (!yaml_parser_initialize(&p))
		return 0;
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
	while (yaml_parser_parse(&p, &ev)) {
		yaml_event_type_t t = ev.type;

		if (t == YAML_SEQUENCE_START_EVENT ||
		    t == YAML_MAPPING_START_EVENT) {
			if (++depth > max) {
				*line = (int)ev.start_mark.line + 1;
				*col = (int)ev.start_mark.column + 1;
				rc = -1;
			}
		} else if (t == YAML_SEQUENCE_END_EVENT ||
		    t == YAML_MAPPING_END_EVENT)
			depth--;
		yaml_event_delete(&ev);
		if (rc < 0 || t == YAML_STREAM_END_EVENT)
			break;
	}
	yaml_parser_delete(&p);
	return rc;
}

/* ---- POST /api/v1/workflows/{id}/trigger -------------------------------- */

int
api_trigger_body(jv body, jv *input, jv *out)
{
	int status = 0;

	*input = jv_null();
	if (jv_get_kind(body) == JV_KIND_NULL) {
		jv_free(body);
		return 0;
	}
	if (jv_get_kind(body) != JV_KIND_OBJECT) {
		status = api_error(out, 400, "bad_request", NULL,
		    "the body "
		    "must be a JSON object like {\"input\": {...}}, not %s",
		    jv_kind_name(jv_get_kind(body)));
		jv_free(body);
		return status;
	}
	jv_object_foreach(body, k, v)
	{
		if (status == 0 && strcmp(jv_string_value(k), "input") == 0) {
			jv_free(*input);
			*input = jv_copy(v);
		} else if (status == 0)
			status = api_error(out, 422, "invalid_input",
			    jv_string_value(k),
			    "unknown field '%s' (the "
			    "body is {\"input\": {...}})",
			    jv_string_value(k));
		jv_free(k);
		jv_free(v);
	}
	jv_free(body);
	if (status != 0) {
		jv_free(*input);
		*input = jv_null();
	}
	return status;
}

/* ---- POST /api/v1/callbacks/{token} ------------------------------------- */

/*
 * The callback's "error" member, {"type": string, "message": string}
 * (either may be left out): its strings into cb->etype and cb->emsg,
 * pointing into b, which cb->body keeps alive.  0, or 422 with *out.
 */
static int
callback_error_parse(jv b, struct api_callback_body *cb, jv *out)
{
	jv v = jv_object_get(jv_copy(b), jv_string("error"));

	if (jv_get_kind(v) == JV_KIND_OBJECT) {
		jv t = jv_object_get(jv_copy(v), jv_string("type"));
		jv m = jv_object_get(jv_copy(v), jv_string("message"));
		int bad = (jv_is_valid(t) && jv_get_kind(t) != JV_KIND_STRING &&
			      jv_get_kind(t) != JV_KIND_NULL) ||
		    (jv_is_valid(m) && jv_get_kind(m) != JV_KIND_STRING &&
			jv_get_kind(m) != JV_KIND_NULL);

		if (jv_get_kind(t) == JV_KIND_STRING)
			cb->etype = jv_string_value(t);
		if (jv_get_kind(m) == JV_KIND_STRING)
			cb->emsg = jv_string_value(m);
		jv_free(t);
		jv_free(m);
		jv_free(v);
		if (bad)
			return api_error(out, 422, "invalid_input", "error",
			    "error must be {\"type\": string, \"message\": "
			    "string}");
	} else if (jv_is_valid(v) && jv_get_kind(v) != JV_KIND_NULL) {
		jv_free(v);
		return api_error(out, 422, "invalid_input", "error",
		    "error must be {\"type\": string, \"message\": string}");
	} else
		jv_free(v);
	return 0;
}

int
api_callback_body_parse(jv body, struct api_callback_body *cb, jv *out)
{
	jv b, v;
	int status;

	memset(cb, 0, sizeof(*cb));
	cb->body = b = body;
	cb->output_text = jv_null();
	if (jv_get_kind(b) != JV_KIND_OBJECT)
		return api_error(out, 400, "bad_request", NULL,
		    "the body must "
		    "be a JSON object like {\"status\": \"SUCCESS\", "
		    "\"output\": {...}}");
	v = jv_object_get(jv_copy(b), jv_string("status"));
	if (jv_get_kind(v) != JV_KIND_STRING ||
	    (strcmp(jv_string_value(v), "SUCCESS") &&
		strcmp(jv_string_value(v), "FAILED"))) {
		jv_free(v);
		return api_error(out, 422, "invalid_input", "status",
		    "status must be \"SUCCESS\" or \"FAILED\"");
	}
	cb->status =
	    strcmp(jv_string_value(v), "SUCCESS") ? "FAILED" : "SUCCESS";
	jv_free(v);

	v = jv_object_get(jv_copy(b), jv_string("output"));
	if (jv_is_valid(v) && jv_get_kind(v) != JV_KIND_NULL)
		cb->output_text = jv_dump_string(v, 0);
	else
		jv_free(v);
	if (jv_get_kind(cb->output_text) == JV_KIND_STRING &&
	    json_has_nul(jv_string_value(cb->output_text)))
		return api_error(out, 422, "invalid_input", "output",
		    "a string holds a NUL character (\\u0000), which cannot "
		    "be stored");

	v = jv_object_get(jv_copy(b), jv_string("logs"));
	if (jv_get_kind(v) == JV_KIND_STRING)
		cb->logs = jv_string_value(v); /* b keeps it alive */
	else if (jv_is_valid(v) && jv_get_kind(v) != JV_KIND_NULL) {
		jv_free(v);
		return api_error(
		    out, 422, "invalid_input", "logs", "logs must be a string");
	}
	jv_free(v);

	if ((status = callback_error_parse(b, cb, out)) != 0)
		return status;

	v = jv_object_get(jv_copy(b), jv_string("duration"));
	if (jv_get_kind(v) == JV_KIND_NUMBER && jv_number_value(v) >= 0 &&
	    jv_number_value(v) < 1e15)
		snprintf(cb->duration, sizeof(cb->duration), "%lld",
		    (long long)jv_number_value(v));
	jv_free(v);

	if (strcmp(cb->status, "SUCCESS") == 0)
		cb->etype = cb->emsg = NULL;
	else if (cb->etype == NULL)
		cb->etype = "TaskFailedException";
	if (strcmp(cb->status, "FAILED") == 0 && cb->emsg == NULL)
		cb->emsg = "the backend reported FAILED";
	return 0;
}

void
api_callback_body_free(struct api_callback_body *cb)
{
	jv_free(cb->output_text);
	jv_free(cb->body);
	cb->output_text = cb->body = jv_null();
	cb->status = cb->logs = cb->etype = cb->emsg = NULL;
}

/* ---- the query of the execution lists ----------------------------------- */

int
api_list_args_parse(struct api_list_args *a, const char *status,
    const char *limit, const char *cursor, const char *since, const char *until,
    int64_t now_us, jv *out)
{
	const char *why;
	enum run_state rs;
	int64_t us;

	memset(a, 0, sizeof(*a));
	a->limit = API_LIST_DEFAULT;
	if (status && *status) {
		size_t i;

		for (i = 0; status[i] && i < sizeof(a->status) - 1; i++)
			a->status[i] = status[i] >= 'a' && status[i] <= 'z' ?
			    (char)(status[i] - 'a' + 'A') :
			    status[i];
		a->status[i] = '\0';
		if (status[i] || run_state_parse(a->status, &rs) < 0)
			return api_error(out, 400, "bad_request", "status",
			    "status must be PENDING, RUNNING, SUCCESS, FAILED "
			    "or CANCELLED, not '%s'",
			    status);
	}
	if (limit && *limit) {
		char *end;
		long n = strtol(limit, &end, 10);

		if (*end || end == limit || n < 1 || n > API_LIST_MAX)
			return api_error(out, 400, "bad_request", "limit",
			    "limit must be an integer from 1 to %d, not '%s'",
			    API_LIST_MAX, limit);
		a->limit = (int)n;
	}
	if (cursor && *cursor) {
		struct page_key k;

		if (cursor_decode(cursor, &k) < 0)
			return api_error(out, 400, "bad_request", "cursor",
			    "cursor is not one this server gave out (pass "
			    "nextCursor of the previous page as it is)");
		cursor_ts_format(k.us, a->after_ts, sizeof(a->after_ts));
		memcpy(a->after_id, k.id, sizeof(a->after_id));
		a->has_cursor = 1;
	}
	if (since && *since) {
		if (cursor_time_parse(since, now_us, &us, &why) < 0)
			return api_error(out, 400, "bad_request", "since",
			    "since '%s': %s", since, why);
		cursor_ts_format(us, a->since, sizeof(a->since));
	}
	if (until && *until) {
		if (cursor_time_parse(until, now_us, &us, &why) < 0)
			return api_error(out, 400, "bad_request", "until",
			    "until '%s': %s", until, why);
		cursor_ts_format(us, a->until, sizeof(a->until));
	}
	return 0;
}
