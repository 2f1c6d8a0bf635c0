/*
 * libloomclient's REST client: see loom/client.h.  Every call is one or a
 * few requests through lib/net/client.c, the HTTP client the loom command
 * line uses (libcurl, TCP or a Unix socket, one kept-alive connection);
 * this file adds the routes, the error record and the paging.
 */
#include "loom/client.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sdk_int.h"
#include "core/xalloc.h"
#include "net/client.h"

struct loom_client {
	struct client *http;
	char *token; /* the client's own, for a per-call token's restore */
	long timeout_ms;
	struct loom_error err;
};

loom_client *
loom_client_new(const char *base, const char *token, char **err)
{
	loom_client *c = xcalloc(1, sizeof(*c));

	c->timeout_ms = LOOM_DEFAULT_TIMEOUT_MS;
	if ((c->http = client_new(base, err)) == NULL)
		goto fail;
	if (loom_client_set_token(c, token) < 0) {
		*err = xstrdup("the token holds characters a header cannot "
			       "carry");
		goto fail;
	}
	return c;
fail:
	loom_client_free(c);
	return NULL;
}

void
loom_client_free(loom_client *c)
{
	if (c == NULL)
		return;
	client_free(c->http);
	free(c->token);
	free(c);
}

void
loom_client_set_timeout(loom_client *c, long ms)
{
	c->timeout_ms = ms;
	client_set_timeout(c->http, ms);
}

int
loom_client_set_token(loom_client *c, const char *token)
{
	if (client_set_token(c->http, token) < 0)
		return -1;
	free(c->token);
	c->token = token && *token ? xstrdup(token) : NULL;
	return 0;
}

const struct loom_error *
loom_client_error(const loom_client *c)
{
	return &c->err;
}

/* ---- errors ------------------------------------------------------------- */

static void
copy_member(jv obj, const char *key, char *out, size_t len)
{
	jv v = jv_object_get(jv_copy(obj), jv_string(key));

	if (jv_get_kind(v) == JV_KIND_STRING)
		snprintf(out, len, "%s", jv_string_value(v));
	jv_free(v);
}

void
loom_error_set(struct loom_error *e, int status, jv reply)
{
	jv error, details;

	memset(e, 0, sizeof(*e));
	e->status = status < 0 ? 0 : status;
	e->sys_errno = status < 0 ? errno : 0;
	if (status < 0) {
		jv msg = jv_invalid_get_msg(reply);

		snprintf(e->message, sizeof(e->message), "%s",
		    jv_get_kind(msg) == JV_KIND_STRING ? jv_string_value(msg) :
							 "request failed");
		jv_free(msg);
		return;
	}
	error = jv_get_kind(reply) == JV_KIND_OBJECT ?
	    jv_object_get(jv_copy(reply), jv_string("error")) :
	    jv_invalid();
	if (jv_get_kind(error) == JV_KIND_OBJECT) {
		copy_member(error, "code", e->code, sizeof(e->code));
		copy_member(error, "field", e->field, sizeof(e->field));
		copy_member(error, "message", e->message, sizeof(e->message));
		details = jv_object_get(jv_copy(error), jv_string("details"));
		if (jv_get_kind(details) == JV_KIND_ARRAY) {
			jv s = jv_dump_string(details, 0);
			size_t n = strlen(e->message);

			snprintf(e->message + n, sizeof(e->message) - n, ": %s",
			    jv_string_value(s));
			jv_free(s);
		} else
			jv_free(details);
	}
	jv_free(error);
	if (e->message[0] == '\0') {
		char *m = client_error_message(status, jv_copy(reply));

		snprintf(e->message, sizeof(e->message), "%s", m);
		free(m);
	}
	jv_free(reply);
}

/* The answer of a 2xx, or an invalid with the client's error set. */
static jv
answer(loom_client *c, int status, jv reply)
{
	if (status >= 200 && status < 300) {
		memset(&c->err, 0, sizeof(c->err));
		return reply;
	}
	loom_error_set(&c->err, status, reply);
	return jv_invalid_with_msg(jv_string(c->err.message));
}

jv
loom_request(loom_client *c, const char *method, const char *path, jv body)
{
	jv reply;
	int status = client_json(c->http, method, path, body, &reply);

	return answer(c, status, reply);
}

/* loom_request() on a path made with printf's format. */
static jv __attribute__((format(printf, 4, 5)))
requestf(loom_client *c, const char *method, jv body, const char *fmt, ...)
{
	va_list ap;
	char *path;
	jv r;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&path, fmt, ap);
	va_end(ap);
	if (n < 0) {
		jv_free(body);
		return jv_invalid_with_msg(jv_string("out of memory"));
	}
	r = loom_request(c, method, path, body);
	free(path);
	return r;
}

/* Member key of a successful answer; the answer itself when failed. */
static jv
member(jv reply, const char *key)
{
	if (!jv_is_valid(reply))
		return reply;
	return jv_object_get(reply, jv_string(key));
}

/* ---- workflows ---------------------------------------------------------- */

jv
loom_workflow_apply(loom_client *c, const char *text, size_t len)
{
	jv reply;
	int status = client_request(c->http, "POST", "/api/v1/workflows",
	    "application/yaml", text, len, &reply);

	return answer(c, status, reply);
}

jv
loom_workflow_apply_file(loom_client *c, const char *path)
{
	FILE *fp = fopen(path, "r");
	char *text = NULL;
	size_t len = 0, n;
	char chunk[8192];
	jv r;

	if (fp == NULL) {
		memset(&c->err, 0, sizeof(c->err));
		c->err.sys_errno = errno;
		snprintf(c->err.message, sizeof(c->err.message), "%s: %s", path,
		    strerror(errno));
		return jv_invalid_with_msg(jv_string(c->err.message));
	}
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
		text = xreallocarray(text, len + n, 1);
		memcpy(text + len, chunk, n);
		len += n;
	}
	fclose(fp);
	r = loom_workflow_apply(c, text ? text : "", len);
	free(text);
	return r;
}

jv
loom_workflow_apply_json(loom_client *c, jv workflow)
{
	return loom_request(c, "POST", "/api/v1/workflows", workflow);
}

jv
loom_workflow_list(loom_client *c)
{
	return member(loom_request(c, "GET", "/api/v1/workflows", jv_invalid()),
	    "workflows");
}

jv
loom_workflow_get(loom_client *c, const char *id)
{
	char *e = client_escape(id);
	jv r = requestf(c, "GET", jv_invalid(), "/api/v1/workflows/%s", e);

	free(e);
	return r;
}

jv
loom_workflow_trigger(
    loom_client *c, const char *id, jv input, const char *token)
{
	char *e = client_escape(id), *own = c->token ? xstrdup(c->token) : NULL;
	jv body, r;

	if (!jv_is_valid(input) || jv_get_kind(input) == JV_KIND_NULL) {
		jv_free(input);
		input = jv_object();
	}
	body = JV_OBJECT(jv_string("input"), input);
	if (token != NULL && client_set_token(c->http, token) < 0) {
		jv_free(body);
		free(e);
		free(own);
		memset(&c->err, 0, sizeof(c->err));
		c->err.sys_errno = EINVAL;
		snprintf(c->err.message, sizeof(c->err.message),
		    "the token holds characters a header cannot carry");
		return jv_invalid_with_msg(jv_string(c->err.message));
	}
	r = requestf(c, "POST", body, "/api/v1/workflows/%s/trigger", e);
	if (token != NULL)
		(void)client_set_token(c->http, own);
	free(own);
	free(e);
	return r;
}

/* ---- executions --------------------------------------------------------- */

jv
loom_execution_get(loom_client *c, const char *id)
{
	char *e = client_escape(id);
	jv r = requestf(c, "GET", jv_invalid(), "/api/v1/executions/%s", e);

	free(e);
	return r;
}

int
loom_execution_finished(jv execution)
{
	jv st = jv_get_kind(execution) == JV_KIND_OBJECT ?
	    jv_object_get(jv_copy(execution), jv_string("status")) :
	    jv_invalid();
	int done = 0;

	if (jv_get_kind(st) == JV_KIND_STRING)
		done = strcmp(jv_string_value(st), "SUCCESS") == 0 ||
		    strcmp(jv_string_value(st), "FAILED") == 0 ||
		    strcmp(jv_string_value(st), "CANCELLED") == 0;
	jv_free(st);
	return done;
}

jv
loom_execution_wait(loom_client *c, const char *id, long timeout_ms)
{
	int64_t end = loom_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0), t0;
	char *e = client_escape(id);
	long left, wait_ms;
	int early = 0;
	jv r;

	/* each poll may take its whole wait: the request limit goes past it */
	for (;;) {
		left = (long)(end - loom_mono_ms());
		wait_ms = left < 0 ? 0 : left > 300000 ? 300000 : left;
		client_set_timeout(
		    c->http, c->timeout_ms > 0 ? wait_ms + c->timeout_ms : 0);
		t0 = loom_mono_ms();
		r = requestf(c, "GET", jv_invalid(),
		    "/api/v1/executions/%s?wait=%ldms", e, wait_ms);
		if (!jv_is_valid(r) || loom_execution_finished(r) ||
		    loom_mono_ms() >= end)
			break;
		/* a server that answers a live run at once ignores ?wait:
		 * give up rather than spin (as the loom command line does) */
		if (wait_ms >= 1000 && loom_mono_ms() - t0 < wait_ms / 2 &&
		    ++early >= 5) {
			jv_free(r);
			memset(&c->err, 0, sizeof(c->err));
			c->err.sys_errno = EPROTO;
			snprintf(c->err.message, sizeof(c->err.message),
			    "the server does not hold ?wait requests");
			r = jv_invalid_with_msg(jv_string(c->err.message));
			break;
		}
		if (wait_ms >= 1000 && loom_mono_ms() - t0 >= wait_ms / 2)
			early = 0;
		jv_free(r);
	}
	client_set_timeout(c->http, c->timeout_ms);
	free(e);
	return r;
}

jv
loom_execution_tasks(loom_client *c, const char *id)
{
	return member(loom_execution_get(c, id), "tasks");
}

jv
loom_execution_output(jv execution, const char *task_id)
{
	jv tasks = jv_get_kind(execution) == JV_KIND_OBJECT ?
	    jv_object_get(jv_copy(execution), jv_string("tasks")) :
	    jv_invalid();
	jv out = jv_null();

	if (jv_get_kind(tasks) == JV_KIND_ARRAY) {
		jv_array_foreach(tasks, i, t)
		{
			jv tid = jv_object_get(jv_copy(t), jv_string("taskId"));

			if (jv_get_kind(tid) == JV_KIND_STRING &&
			    strcmp(jv_string_value(tid), task_id) == 0) {
				jv_free(out);
				out = jv_object_get(
				    jv_copy(t), jv_string("output"));
			}
			jv_free(tid);
			jv_free(t);
		}
	}
	jv_free(tasks);
	return jv_is_valid(out) ? out : jv_null();
}

jv
loom_executions_page(loom_client *c, const char *query, const char *cursor)
{
	char *e = cursor ? client_escape(cursor) : NULL;
	int q = query && *query;
	jv r = requestf(c, "GET", jv_invalid(), "/api/v1/executions%s%s%s%s%s",
	    q || e ? "?" : "", q ? query : "", q && e ? "&" : "",
	    e ? "cursor=" : "", e ? e : "");

	free(e);
	return r;
}

jv
loom_execution_cancel(loom_client *c, const char *id)
{
	char *e = client_escape(id);
	jv r = requestf(
	    c, "POST", jv_invalid(), "/api/v1/executions/%s/cancel", e);

	free(e);
	return r;
}

jv
loom_execution_retry(loom_client *c, const char *id, int from_failed)
{
	char *e = client_escape(id);
	jv r = requestf(c, "POST",
	    JV_OBJECT(jv_string("fromFailed"), jv_bool(from_failed)),
	    "/api/v1/executions/%s/retry", e);

	free(e);
	return r;
}

jv
loom_task_rerun(
    loom_client *c, const char *id, const char *task, int downstream)
{
	char *e = client_escape(id), *t = client_escape(task);
	jv r = requestf(c, "POST",
	    JV_OBJECT(jv_string("downstream"), jv_bool(downstream)),
	    "/api/v1/executions/%s/tasks/%s/rerun", e, t);

	free(e);
	free(t);
	return r;
}

jv
loom_execution_logs(loom_client *c, const char *id, long after, int limit)
{
	char *e = client_escape(id), lim[32] = "";
	jv r;

	if (limit > 0)
		snprintf(lim, sizeof(lim), "&limit=%d", limit);
	r = requestf(c, "GET", jv_invalid(),
	    "/api/v1/executions/%s/logs?after=%ld%s", e, after, lim);
	free(e);
	return r;
}

/* ---- dead letters ------------------------------------------------------- */

jv
loom_dead_letters(loom_client *c, const char *query)
{
	int q = query && *query;

	return member(
	    requestf(c, "GET", jv_invalid(), "/api/v1/dead-letters%s%s",
		q ? "?" : "", q ? query : ""),
	    "deadLetters");
}

jv
loom_dead_letter_replay(loom_client *c, long id)
{
	return requestf(
	    c, "POST", jv_invalid(), "/api/v1/dead-letters/%ld/replay", id);
}

jv
loom_dead_letter_discard(loom_client *c, long id)
{
	return requestf(
	    c, "POST", jv_invalid(), "/api/v1/dead-letters/%ld/discard", id);
}

/* ---- paging ------------------------------------------------------------- */

struct loom_exec_iter {
	loom_client *c;
	char *query;
	char *cursor; /* the next page's, NULL before the first */
	jv page;      /* the executions of the page being walked */
	int next;     /* index into page */
	int last;     /* the page is the last one */
};

loom_exec_iter *
loom_executions_iter(loom_client *c, const char *query)
{
	loom_exec_iter *it = xcalloc(1, sizeof(*it));

	it->c = c;
	it->query = xstrdup(query ? query : "");
	it->page = jv_invalid();
	return it;
}

/* Fetches the next page: 0, or -1 when it failed. */
static int
iter_fetch(loom_exec_iter *it)
{
	jv r = loom_executions_page(it->c, it->query, it->cursor);
	jv cur;

	if (!jv_is_valid(r)) {
		jv_free(r);
		return -1;
	}
	jv_free(it->page);
	it->page = jv_object_get(jv_copy(r), jv_string("executions"));
	if (jv_get_kind(it->page) != JV_KIND_ARRAY) {
		jv_free(it->page);
		it->page = jv_array();
	}
	it->next = 0;
	cur = jv_object_get(r, jv_string("nextCursor"));
	if (jv_get_kind(cur) == JV_KIND_STRING && it->cursor &&
	    strcmp(it->cursor, jv_string_value(cur)) == 0) {
		/* the same page again would be asked for ever */
		jv_free(cur);
		memset(&it->c->err, 0, sizeof(it->c->err));
		it->c->err.sys_errno = EPROTO;
		snprintf(it->c->err.message, sizeof(it->c->err.message),
		    "the server gave the same page twice");
		return -1;
	}
	free(it->cursor);
	it->cursor = NULL;
	if (jv_get_kind(cur) == JV_KIND_STRING)
		it->cursor = xstrdup(jv_string_value(cur));
	else
		it->last = 1;
	jv_free(cur);
	return 0;
}

int
loom_exec_iter_next(loom_exec_iter *it, jv *out)
{
	*out = jv_invalid();
	for (;;) {
		if (jv_is_valid(it->page) &&
		    it->next < jv_array_length(jv_copy(it->page))) {
			*out = jv_array_get(jv_copy(it->page), it->next++);
			return 1;
		}
		if (it->last)
			return 0;
		if (iter_fetch(it) < 0)
			return -1;
	}
}

void
loom_exec_iter_free(loom_exec_iter *it)
{
	if (it == NULL)
		return;
	jv_free(it->page);
	free(it->query);
	free(it->cursor);
	free(it);
}

/* ---- event streams ------------------------------------------------------ */

struct follow {
	loom_event_cb *cb;
	void *arg;
};

static int
follow_msg(void *arg, const struct client_event *ev)
{
	struct follow *f = arg;
	struct loom_event le = { ev->id, ev->event, jv_invalid() };
	int rc;

	le.data = jv_parse(ev->data);
	if (!jv_is_valid(le.data)) {
		jv_free(le.data);
		le.data = jv_string(ev->data);
	}
	rc = f->cb(f->arg, &le);
	jv_free(le.data);
	/* an execution's stream is over at its end: do not reconnect */
	return rc != 0 ? rc : strcmp(ev->event, "end") == 0;
}

int
loom_events_follow(loom_client *c, const char *id, const char *query,
    const char *since, loom_event_cb *cb, void *arg)
{
	struct follow f = { cb, arg };
	char *e = id ? client_escape(id) : NULL, *s = NULL, *path;
	int q = query && *query, status;
	jv reply;

	if (since == NULL && id != NULL)
		since = "0";
	if (since)
		s = client_escape(since);
	path = xasprintf("%s%s%s?%s%s%s%s", e ? "/api/v1/executions/" : "",
	    e ? e : "/api/v1/events", e ? "/events" : "", q ? query : "",
	    q && s ? "&" : "", s ? "since=" : "", s ? s : "");
	status = client_stream(c->http, path, follow_msg, &f, &reply);
	free(path);
	free(e);
	free(s);
	if (status == 200) {
		jv_free(reply);
		memset(&c->err, 0, sizeof(c->err));
		return 0;
	}
	jv_free(answer(c, status, reply));
	return -1;
}
