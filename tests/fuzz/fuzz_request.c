/*
 * fuzz_request: a libFuzzer target for what loom-api does with the bytes
 * of a request before any database sees them (make check-fuzz).
 *
 * The first byte of an input picks the parser, so one seed corpus
 * (tests/fuzz/corpus/) can hold inputs of every kind; any other first
 * byte runs all of them on the rest:
 *
 *   'w'  a workflow file: the nesting check, then the loader
 *        (workflow_load_buf), as POST /api/v1/workflows does; a workflow
 *        that loads must load again from its canonical JSON, because that
 *        is what loom-api stores and every run reads back
 *   'j'  a JSON body: utf8_check, json_depth_check, json_syntax_check,
 *        jv_parse (which must take whatever passed the check), then the
 *        trigger and callback body parsers
 *   'r'  a request line "METHOD PATH": route matching over loom-api's own
 *        table (api_route_find)
 *   'c'  a cursor and a time argument: the decoder (a cursor that decodes
 *        must encode back to itself) and cursor_time_parse
 *   'q'  a list query, its five values separated by '&': the parser of
 *        ?status=&limit=&cursor=&since=&until=
 *
 * Every check of a property calls abort(), which libFuzzer reports as a
 * crash with the input that caused it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jv.h>

#include "cmd/loom-api/api.h"
#include "cmd/loom-api/cursor.h"
#include "core/diag.h"
#include "core/jsoncheck.h"
#include "util/jsonutil.h"
#include "core/workflow.h"

#define NOW_US 1795665906123456LL /* a fixed "now": runs repeat exactly */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A NUL-terminated copy (the server's strings are NUL-terminated). */
static char *
dup_bytes(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

static void
fuzz_workflow(const uint8_t *data, size_t size)
{
	char *buf = dup_bytes(data, size);
	struct workflow *wf, *again;
	struct diags d;
	int line, col;
	jv spec;

	/* The server's order: UTF-8, nesting, then the loader. */
	if (utf8_check(buf, size, NULL) < 0 ||
	    api_yaml_depth_check(buf, size, API_MAX_DEPTH, &line, &col) < 0) {
		free(buf);
		return;
	}
	diags_init(&d);
	wf = workflow_load_buf("<fuzz>", buf, size, &d);
	if (wf == NULL && d.n == 0)
		abort(); /* refused without saying why */
	diags_clear(&d);
	if (wf != NULL) {
		spec = jv_dump_string(workflow_to_jv(wf), 0);
		/* loom-api refuses a spec with a NUL before storing it */
		if (!json_has_nul(jv_string_value(spec))) {
			again = workflow_load_buf("<stored>",
			    jv_string_value(spec),
			    (size_t)jv_string_length_bytes(jv_copy(spec)), &d);
			if (again == NULL) {
				diags_print(&d, stderr);
				abort(); /* stored, but cannot run */
			}
			workflow_free(again);
			diags_clear(&d);
		}
		jv_free(spec);
		workflow_free(wf);
	}
	free(buf);
}

static void
fuzz_json(const uint8_t *data, size_t size)
{
	struct api_callback_body cb;
	const char *why;
	size_t at;
	jv v, input, out;

	if (utf8_check((const char *)data, size, &at) < 0) {
		if (at >= size)
			abort();
		return;
	}
	if (json_depth_check((const char *)data, size, API_MAX_DEPTH, &at) < 0)
		return;
	/* The server's gate before libjq (lib/core/jsoncheck.h says why). */
	if (json_syntax_check(
		(const char *)data, size, API_MAX_DEPTH, &at, &why) < 0) {
		if (at > size || why == NULL)
			abort();
		return;
	}
	v = jv_parse_sized((const char *)data, (int)size);
	if (!jv_is_valid(v))
		abort(); /* passed the check, yet libjq refuses it */
	out = jv_invalid();
	if (api_trigger_body(jv_copy(v), &input, &out) != 0 &&
	    !jv_is_valid(out))
		abort(); /* an error status with no error body */
	jv_free(input);
	jv_free(out);
	out = jv_invalid();
	if (api_callback_body_parse(jv_copy(v), &cb, &out) == 0 &&
	    (cb.status == NULL ||
		(strcmp(cb.status, "SUCCESS") && strcmp(cb.status, "FAILED"))))
		abort();
	api_callback_body_free(&cb);
	jv_free(out);
	jv_free(v);
}

static void
fuzz_route(const uint8_t *data, size_t size)
{
	static const char *const methods[] = { "GET", "HEAD", "POST", "DELETE",
		"PUT", "PATCH" };
	char *line = dup_bytes(data, size), *path;
	const char *method, *param[API_MAX_PARAMS];
	const struct api_route *tab, *r;
	char allow[64];
	size_t n, nparam;

	/* "METHOD PATH", or just a path with a method picked by length */
	if ((path = strchr(line, ' ')) != NULL) {
		*path++ = '\0';
		method = line;
	} else {
		path = line;
		method = methods[size % 6];
	}
	tab = api_route_table(&n);
	r = api_route_find(
	    tab, n, method, path, param, &nparam, allow, sizeof(allow));
	if (r != NULL) {
		if (nparam > API_MAX_PARAMS || allow[0] != '\0')
			abort();
		for (size_t i = 0; i < nparam; i++)
			if (param[i] == NULL || param[i][0] == '\0')
				abort(); /* handlers count on it */
	} else if (strlen(allow) >= sizeof(allow))
		abort();
	free(line);
}

static void
fuzz_cursor(const uint8_t *data, size_t size)
{
	char *s = dup_bytes(data, size), buf[CURSOR_MAX + 1];
	struct page_key k, back;
	const char *why;
	int64_t us;

	if (cursor_decode(s, &k) == 0) {
		if (cursor_encode(&k, buf, sizeof(buf)) < 0 ||
		    strcmp(buf, s) != 0)
			abort(); /* two spellings of one cursor */
		if (cursor_decode(buf, &back) < 0 || back.us != k.us ||
		    strcmp(back.id, k.id) != 0)
			abort();
	}
	if (cursor_time_parse(s, NOW_US, &us, &why) == 0) {
		char ts[CURSOR_TS_LEN];

		if (us < CURSOR_US_MIN || us > CURSOR_US_MAX)
			abort();
		cursor_ts_format(us, ts, sizeof(ts));
	} else if (why == NULL)
		abort();
	free(s);
}

static void
fuzz_query(const uint8_t *data, size_t size)
{
	char *s = dup_bytes(data, size), *v[5] = { NULL }, *p = s;
	struct api_list_args a;
	jv out = jv_invalid();

	for (int i = 0; i < 5 && p != NULL; i++) {
		v[i] = p;
		if ((p = strchr(p, '&')) != NULL)
			*p++ = '\0';
	}
	if (api_list_args_parse(
		&a, v[0], v[1], v[2], v[3], v[4], NOW_US, &out) == 0) {
		if (a.limit < 1 || a.limit > API_LIST_MAX)
			abort();
	} else if (!jv_is_valid(out))
		abort();
	jv_free(out);
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	switch (data[0]) {
	case 'w':
		fuzz_workflow(data + 1, size - 1);
		break;
	case 'j':
		fuzz_json(data + 1, size - 1);
		break;
	case 'r':
		fuzz_route(data + 1, size - 1);
		break;
	case 'c':
		fuzz_cursor(data + 1, size - 1);
		break;
	case 'q':
		fuzz_query(data + 1, size - 1);
		break;
	default:
		fuzz_workflow(data + 1, size - 1);
		fuzz_json(data + 1, size - 1);
		fuzz_route(data + 1, size - 1);
		fuzz_cursor(data + 1, size - 1);
		fuzz_query(data + 1, size - 1);
	}
	return 0;
}
