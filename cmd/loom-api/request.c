/*
 * request: a request's life in loom-api, from its headers to the answer
 * of its route's handler: MHD's access handler (on_request) and
 * completed callback (on_completed), the limits on what a request may
 * be (URI and header size, body size, UTF-8, JSON depth and syntax,
 * media type), and what handlers read of it (api_query, api_header,
 * api_conn_fd).  The api_conn is MHD's request context: made on the
 * first call, freed when MHD says the request is complete.
 *
 * Request life in MHD terms: the access handler is called once when the
 * headers are in (we make a struct api_conn and refuse an announced
 * over-size body), once per piece of body (appended up to the cap, then
 * discarded), and once more when the request is complete, where we route,
 * check the body and call the handler.  A handler that returned API_SUSPEND
 * (via api_wait) has its connection suspended and put on the wait list;
 * the main thread resumes it on a doorbell, a deadline or shutdown, and MHD
 * calls the access handler again, which calls the route's handler again.
 * The completed callback frees the api_conn.
 */
#include "server.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <microhttpd.h>

#include "api_stream.h"
#include "core/buf.h"
#include "core/jsoncheck.h"
#include "util/jsonutil.h"
#include "core/xalloc.h"

#define API_DISCARD_FACTOR 8 /* bodies this far over: close, not read */
/*
 * Below what libmicrohttpd's 32 KiB connection buffer holds, so that a
 * long URI or a large header block gets our JSON 414 or 431; past the
 * buffer MHD answers by itself (loom-api(8), BUGS).
 */
#define API_MAX_URI 8192
#define API_MAX_HEADERS_BYTES 16384

const char *
api_query(const struct api_request *rq, const char *key)
{
	return MHD_lookup_connection_value(
	    rq->conn->mc, MHD_GET_ARGUMENT_KIND, key);
}

const char *
api_header(const struct api_request *rq, const char *name)
{
	return MHD_lookup_connection_value(rq->conn->mc, MHD_HEADER_KIND, name);
}

int
api_conn_fd(const struct api_request *rq)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
	    rq->conn->mc, MHD_CONNECTION_INFO_CONNECTION_FD);

	return ci ? (int)ci->connect_fd : -1;
}

static struct api_conn *
conn_new(struct api *a, struct MHD_Connection *mc, const char *method,
    const char *url)
{
	struct api_conn *rc = xcalloc(1, sizeof(*rc));

	rc->api = a;
	rc->mc = mc;
	rc->method = xstrdup(method);
	rc->path = xstrdup(url);
	rc->t0 = api_mono_ms();
	rc->rq.api = a;
	rc->rq.conn = rc;
	rc->rq.method = strcmp(rc->method, "HEAD") == 0 ? "GET" : rc->method;
	rc->rq.path = url; /* replaced by a stable copy when routed */
	rc->rq.body = "";
	rc->rq.json = jv_null();
	pthread_mutex_lock(&a->mu);
	a->inflight++;
	pthread_mutex_unlock(&a->mu);
	return rc;
}

static void
conn_free(struct api_conn *rc)
{
	if (rc == NULL)
		return;
	jv_free(rc->rq.json);
	for (size_t i = 0; i < rc->nhdr; i++) {
		free(rc->hdr[i].name);
		free(rc->hdr[i].value);
	}
	free(rc->path_copy);
	free(rc->json_text);
	free(rc->method);
	free(rc->path);
	free(rc->wait_key);
	buf_free(&rc->body);
	free(rc);
}

static enum MHD_Result
too_large(struct api_conn *rc)
{
	return api_send_error(rc, 413, "too_large", NULL,
	    "the request body "
	    "is larger than the limit of %ld bytes (api.max_body)",
	    rc->api->opt->max_body);
}

/* A connection over a limit (see conns.c), at once. */
static enum MHD_Result
busy(struct api_conn *rc)
{
	api_set_header(&rc->rq, "Connection", "close");
	api_set_header(&rc->rq, "Retry-After", "1");
	return api_send_error(rc, 503, "unavailable", NULL,
	    "too many "
	    "connections (api.max_connections, "
	    "api.max_connections_per_client); try again shortly");
}

static enum MHD_Result
header_bytes(
    void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	size_t *n = cls;

	*n += strlen(key) + (value ? strlen(value) : 0) + 4;
	return MHD_YES;
}

/* First call: the headers are in, no body yet. */
static enum MHD_Result
on_headers(struct api_conn *rc)
{
	const char *cl = MHD_lookup_connection_value(
	    rc->mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	const char *expect = MHD_lookup_connection_value(
	    rc->mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
	unsigned long long len;
	long max = rc->api->opt->max_body;
	size_t hbytes = 0;

	if (rc->sock && rc->sock->uri_len > API_MAX_URI)
		return api_send_error(rc, 414, "uri_too_long", NULL,
		    "the "
		    "request URI is longer than %d bytes",
		    API_MAX_URI);
	MHD_get_connection_values(
	    rc->mc, MHD_HEADER_KIND, header_bytes, &hbytes);
	if (hbytes > API_MAX_HEADERS_BYTES)
		return api_send_error(rc, 431, "headers_too_large", NULL,
		    "the request headers are larger than %d bytes",
		    API_MAX_HEADERS_BYTES);
	if (cl == NULL)
		return MHD_YES;
	len = strtoull(cl, NULL, 10);
	if (len <= (unsigned long long)max)
		return MHD_YES;
	/*
	 * Answering now makes MHD skip the body and close.  A client that
	 * waits for "100 Continue" then sends nothing; one that does not
	 * may still be sending, and a close with unread data resets the
	 * connection before it reads our answer, so a modest body is read
	 * and dropped first.
	 */
	if ((expect && strcasecmp(expect, "100-continue") == 0) ||
	    len > (unsigned long long)max * API_DISCARD_FACTOR)
		return too_large(rc);
	rc->too_large = 1;
	return MHD_YES;
}

static void
on_body(struct api_conn *rc, const char *data, size_t n)
{
	size_t max = (size_t)rc->api->opt->max_body;

	if (rc->too_large || rc->body.len + n > max) {
		rc->too_large = 1;
		rc->discarded += n;
		return;
	}
	buf_put(&rc->body, data, n);
}

static enum MHD_Result
query_arg_bad(
    void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	int *bad = cls;

	if (utf8_check(key, strlen(key), NULL) < 0 ||
	    (value && utf8_check(value, strlen(value), NULL) < 0)) {
		*bad = 1;
		return MHD_NO;
	}
	return MHD_YES;
}

/* The media type of a Content-Type value, compared without parameters. */
static int
media_type_is(const char *ct, const char *want)
{
	size_t n = strcspn(ct, "; \t");

	return strlen(want) == n && strncasecmp(ct, want, n) == 0;
}

static int
json_media_type(const char *ct)
{
	size_t n = strcspn(ct, "; \t");

	return media_type_is(ct, "application/json") ||
	    (n > 5 && strncasecmp(ct + n - 5, "+json", 5) == 0);
}

static int
workflow_media_type(const char *ct)
{
	static const char *const ok[] = { "application/yaml", "text/yaml",
		"application/x-yaml", "text/x-yaml", "application/json",
		"text/plain" };

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (media_type_is(ct, ok[i]))
			return 1;
	return json_media_type(ct);
}

/*
 * The request target before it is routed: no encoded NUL, a UTF-8 path
 * and query.  Returns 0, else the status of the answer already sent (ret
 * holds MHD's verdict), as do the checks below.
 */
static int
target_check(struct api_conn *rc, enum MHD_Result *ret)
{
	struct api_request *rq = &rc->rq;
	int badq = 0;

	if (rc->sock && rc->sock->nul) {
		*ret = api_send_error(rc, 400, "bad_request", NULL,
		    "the path or query holds an encoded NUL byte (%%00)");
		return 400;
	}
	if (utf8_check(rc->path, strlen(rc->path), NULL) < 0) {
		*ret = api_send_error(rc, 400, "bad_request", NULL,
		    "the path is not valid UTF-8");
		return 400;
	}
	rq->path = rc->path_copy = xstrdup(rc->path);
	MHD_get_connection_values(
	    rc->mc, MHD_GET_ARGUMENT_KIND, query_arg_bad, &badq);
	if (badq) {
		*ret = api_send_error(rc, 400, "bad_request", NULL,
		    "the query string is not valid UTF-8");
		return 400;
	}
	return 0;
}

/* The route of the request (404, 405), and whether the caller may use it. */
static int
route_find(struct api_conn *rc, enum MHD_Result *ret)
{
	struct api_request *rq = &rc->rq;
	const struct api_route *tab;
	size_t ntab;
	char allow[64];

	tab = api_route_table(&ntab);
	rc->route = api_route_find(tab, ntab, rc->method, rc->path, rq->param,
	    &rq->nparam, allow, sizeof(allow));
	if (rc->route == NULL && allow[0]) {
		api_set_header(rq, "Allow", allow);
		*ret = api_send_error(rc, 405, "method_not_allowed", NULL,
		    "%s is not allowed on %s (allowed: %s)", rc->method,
		    rq->path, allow);
		return 405;
	}
	if (rc->route == NULL && api_static_serve(rc, ret) != 0)
		return 200; /* the web UI (api_static.c) */
	if (rc->route == NULL) {
		/* field "path": no route, as opposed to no such resource */
		*ret = api_send_error(rc, 404, "not_found", "path",
		    "no such endpoint: %s %s", rc->method, rq->path);
		return 404;
	}
	/* Who may call it, before anything looks at the body. */
	{
		jv denied = jv_invalid();
		int st =
		    api_auth_check(rq, rc->api->opt, rc->route->scope, &denied);

		if (st != 0) {
			*ret = api_send(rc, st, denied);
			return st;
		}
	}
	return 0;
}

/* An API_BODY_JSON body, UTF-8 already: its depth, syntax, then rq->json. */
static int
json_body_parse(struct api_conn *rc, enum MHD_Result *ret)
{
	struct api_request *rq = &rc->rq;
	size_t bad;

	if (json_depth_check(rq->body, rq->body_len, API_MAX_DEPTH, &bad) < 0) {
		*ret = api_send_error(rc, 400, "bad_request", NULL,
		    "the body nests deeper than %d levels (at byte %zu)",
		    API_MAX_DEPTH, bad);
		return 400;
	}
	/* libjq 1.6 leaks on some malformed text: it never sees any. */
	{
		const char *why;

		if (json_syntax_check(rq->body, rq->body_len, API_MAX_DEPTH,
			&bad, &why) < 0) {
			*ret = api_send_error(rc, 400, "invalid_json", NULL,
			    "the body is not valid JSON: %s at byte %zu", why,
			    bad);
			return 400;
		}
	}
	jv_free(rq->json);
	rq->json = jv_parse_sized(rq->body, (int)rq->body_len);
	if (!jv_is_valid(rq->json)) {
		jv msg = jv_invalid_get_msg(rq->json);

		rq->json = jv_null();
		*ret = api_send_error(rc, 400, "invalid_json", NULL,
		    "the body is not valid JSON: %s",
		    jv_get_kind(msg) == JV_KIND_STRING ? jv_string_value(msg) :
							 "parse error");
		jv_free(msg);
		return 400;
	}
	return 0;
}

/* The body the route takes: its size, media type and UTF-8, then JSON. */
static int
body_check(struct api_conn *rc, enum MHD_Result *ret)
{
	struct api_request *rq = &rc->rq;
	const char *ct;
	size_t bad;

	if (rc->too_large) {
		*ret = too_large(rc);
		return 413;
	}
	rq->body = rc->body.p ? rc->body.p : ""; /* buf keeps a NUL */
	rq->body_len = rc->body.len;
	rq->content_type = MHD_lookup_connection_value(
	    rc->mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	ct = rq->content_type;
	if (rc->route->body == API_BODY_NONE || rq->body_len == 0)
		return 0;
	if (ct &&
	    !(rc->route->body == API_BODY_JSON ? json_media_type(ct) :
						 workflow_media_type(ct))) {
		*ret = api_send_error(rc, 415, "unsupported_media_type",
		    "Content-Type",
		    "Content-Type '%s' is not accepted here; "
		    "send %s",
		    ct,
		    rc->route->body == API_BODY_JSON ? "application/json" :
						       "application/yaml or "
						       "application/json");
		return 415;
	}
	if (utf8_check(rq->body, rq->body_len, &bad) < 0) {
		*ret = api_send_error(rc, 400, "bad_request", NULL,
		    "the body is not valid UTF-8 (or holds a NUL byte) at "
		    "byte %zu",
		    bad);
		return 400;
	}
	if (rc->route->body != API_BODY_JSON)
		return 0;
	return json_body_parse(rc, ret);
}

/*
 * Last call, first time: route the request and check its body.  Returns
 * 0 when the handler may run, else the status of the answer already sent
 * (ret holds MHD's verdict).
 */
static int
route_request(struct api_conn *rc, enum MHD_Result *ret)
{
	int status;

	if ((status = target_check(rc, ret)) != 0 ||
	    (status = route_find(rc, ret)) != 0)
		return status;
	return body_check(rc, ret);
}

enum MHD_Result
on_request(void *cls, struct MHD_Connection *mc, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct api *a = cls;
	struct api_conn *rc = *con_cls;
	enum MHD_Result ret;
	jv out = jv_invalid();
	int status;

	if (rc == NULL) {
		*con_cls = rc = conn_new(a, mc, method, url);
		rc->sock = sock_of(mc);
		if (rc->sock && rc->sock->limited && strcmp(url, "/healthz") &&
		    strcmp(url, "/readyz"))
			return busy(rc);
		/* The headers are in; the body has its own time. */
		sock_deadline(
		    a, rc->sock, api_mono_ms() + a->opt->request_timeout_ms, 0);
		return on_headers(rc);
	}
	if (*upload_data_size > 0) {
		on_body(rc, upload_data, *upload_data_size);
		*upload_data_size = 0;
		/* A body far over the cap is not worth reading to the end. */
		return rc->discarded >
			(size_t)a->opt->max_body * API_DISCARD_FACTOR ?
		    MHD_NO :
		    MHD_YES;
	}
	if (!rc->routed) {
		rc->routed = 1;
		sock_deadline(a, rc->sock, 0, 0); /* all in: answering */
		if (route_request(rc, &ret) != 0)
			return ret;
	}
	pthread_mutex_lock(&a->mu);
	rc->gen_seen = a->gen;
	pthread_mutex_unlock(&a->mu);
	status = rc->route->fn(&rc->rq, &out);
	if (rc->rq.stream != NULL) { /* api_stream(): answer with it */
		tdb_check_idle(&rc->rq);
		jv_free(out);
		out = jv_invalid();
		if ((status = api_streams_start(
			 a->streams, rc->mc, &rc->rq, &out)) <= 0)
			return status == 0 ? MHD_YES : MHD_NO;
	}
	if (status == API_SUSPEND && rc->wait_key != NULL) {
		jv_free(out);
		api_suspend(rc);
		return MHD_YES;
	}
	tdb_check_idle(&rc->rq);
	if (status < 100 || status > 599) {
		api_log(LOG_LVL_ERR, "%s %s: handler returned status %d",
		    rc->method, rc->rq.path, status);
		jv_free(out);
		out = jv_invalid();
		status = 500;
	}
	return api_send(rc, status, out);
}

void
on_completed(void *cls, struct MHD_Connection *mc, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct api *a = cls;
	struct api_conn *rc = *con_cls;
	size_t moved;
	int kick;

	if (rc == NULL)
		return;
	pthread_mutex_lock(&a->mu);
	/* The last waiter gone, the main loop stops its deadline's timer. */
	kick = rc->waiting;
	if (rc->waiting)
		waiter_unlink(a, rc);
	a->inflight--;
	kick =
	    (kick && a->waiters == NULL) || (a->stopping && a->inflight == 0);
	pthread_mutex_unlock(&a->mu);
	if (kick)
		efd_kick(a);
	/* Kept alive, it may wait for its next request, but not for ever. */
	sock_deadline(a, rc->sock,
	    api_mono_ms() + a->opt->timeout_s * 1000 +
		a->opt->request_timeout_ms,
	    0);
	moved = rc->body.len + rc->resp_len;
	conn_free(rc);
	*con_cls = NULL;
	if (api_workflow_cache_release()) /* a very large spec was read */
		moved += TDB_LARGE_BYTES;
	tdb_request_done(moved);
	loop_note_work(a->loop); /* so it trims once quiet */
}
