/*
 * libloomclient's task server: libmicrohttpd (as loom-api uses) with a
 * small pool of threads, a table of POST paths to handlers, and the
 * signature check before a handler sees a byte of the body.
 *
 * A request's body is collected whole (at most 16 MiB), then verified
 * (when a secret is set), parsed as an envelope and handed to its
 * handler; the handler's result is the answer: 200, or 202 for
 * loom_result_accepted().  Errors are answered as loom-api answers them:
 * {"error":{"code":...,"message":...}}.
 */
#include "loom/client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>

#include "core/xalloc.h"

#define SERVER_MAX_ROUTES 64
#define SERVER_MAX_BODY (16u * 1024 * 1024)
#define SERVER_THREADS 4u

struct route {
	char *path;
	loom_task_handler *fn;
	void *arg;
};

struct loom_server {
	struct MHD_Daemon *mhd;
	struct sockaddr_in sin;
	int port;
	struct route routes[SERVER_MAX_ROUTES];
	int nroutes;
	char *secret; /* NULL: signatures are not asked for */
	size_t slen;
};

struct req {
	char *body;
	size_t len;
	int too_big;
};

loom_server *
loom_server_new(const char *addr, int port)
{
	loom_server *s = xcalloc(1, sizeof(*s));

	s->sin.sin_family = AF_INET;
	s->sin.sin_port = htons((uint16_t)port);
	s->sin.sin_addr.s_addr = htonl(INADDR_ANY);
	s->port = port;
	if (addr && inet_pton(AF_INET, addr, &s->sin.sin_addr) != 1)
		s->port = -1;
	return s;
}

int
loom_server_handle(
    loom_server *s, const char *path, loom_task_handler *fn, void *arg)
{
	if (s->nroutes == SERVER_MAX_ROUTES)
		return -1;
	s->routes[s->nroutes].path = xstrdup(path);
	s->routes[s->nroutes].fn = fn;
	s->routes[s->nroutes].arg = arg;
	s->nroutes++;
	return 0;
}

void
loom_server_require_signature(loom_server *s, const void *secret, size_t slen)
{
	free(s->secret);
	s->secret = xmalloc(slen + 1);
	memcpy(s->secret, secret, slen);
	s->slen = slen;
}

static enum MHD_Result
reply(struct MHD_Connection *conn, unsigned status, jv body)
{
	jv s = jv_dump_string(body, 0);
	size_t len = (size_t)jv_string_length_bytes(jv_copy(s));
	struct MHD_Response *r;
	enum MHD_Result rc;

	r = MHD_create_response_from_buffer(
	    len, (void *)jv_string_value(s), MHD_RESPMEM_MUST_COPY);
	jv_free(s);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", "application/json");
	rc = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result
reply_error(struct MHD_Connection *conn, unsigned status, const char *code,
    const char *message)
{
	return reply(conn, status,
	    JV_OBJECT(jv_string("error"),
		JV_OBJECT(jv_string("code"), jv_string(code),
		    jv_string("message"), jv_string(message))));
}

/* Appends a piece of the body; 0, or -1 when out of memory. */
static int
collect(struct req *rq, const char *data, size_t n)
{
	char *p;

	if (rq->too_big || rq->len + n > SERVER_MAX_BODY) {
		rq->too_big = 1;
		return 0;
	}
	if ((p = realloc(rq->body, rq->len + n + 1)) == NULL)
		return -1;
	rq->body = p;
	memcpy(rq->body + rq->len, data, n);
	rq->len += n;
	rq->body[rq->len] = '\0';
	return 0;
}

/* Runs the handler of rt on the request's envelope and answers. */
static enum MHD_Result
run_handler(loom_server *s, const struct route *rt, struct MHD_Connection *conn,
    const struct req *rq)
{
	struct loom_task t;
	char *err = NULL;
	enum MHD_Result rc;
	jv result, st;
	int accepted;

	if (s->secret != NULL &&
	    loom_signature_verify(s->secret, s->slen,
		MHD_lookup_connection_value(
		    conn, MHD_HEADER_KIND, "X-Loom-Timestamp"),
		MHD_lookup_connection_value(
		    conn, MHD_HEADER_KIND, "X-Loom-Signature"),
		rq->body ? rq->body : "", rq->len, time(NULL),
		LOOM_SIGNATURE_MAX_SKEW) < 0)
		return reply_error(conn, 401, "unauthorized",
		    "missing, wrong or stale X-Loom-Signature");
	if (loom_task_parse(rq->body, rq->len,
		MHD_lookup_connection_value(
		    conn, MHD_HEADER_KIND, "Idempotency-Key"),
		&t, &err) < 0) {
		rc = reply_error(conn, 400, "bad_request", err);
		free(err);
		return rc;
	}
	result = rt->fn(rt->arg, &t);
	loom_task_clear(&t);
	if (!jv_is_valid(result)) {
		jv msg = jv_invalid_get_msg(result);

		rc = reply_error(conn, 500, "internal",
		    jv_get_kind(msg) == JV_KIND_STRING ? jv_string_value(msg) :
							 "the handler failed");
		jv_free(msg);
		return rc;
	}
	st = jv_get_kind(result) == JV_KIND_OBJECT ?
	    jv_object_get(jv_copy(result), jv_string("status")) :
	    jv_invalid();
	accepted = jv_get_kind(st) == JV_KIND_STRING &&
	    strcmp(jv_string_value(st), "RUNNING") == 0;
	jv_free(st);
	return reply(conn, accepted ? 202 : 200, result);
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *data,
    size_t *data_size, void **con_cls)
{
	loom_server *s = cls;
	struct req *rq = *con_cls;
	const struct route *rt = NULL;

	(void)version;
	if (rq == NULL) {
		if ((rq = calloc(1, sizeof(*rq))) == NULL)
			return MHD_NO;
		*con_cls = rq;
		return MHD_YES;
	}
	if (*data_size > 0) {
		if (collect(rq, data, *data_size) < 0)
			return MHD_NO;
		*data_size = 0;
		return MHD_YES;
	}
	for (int i = 0; i < s->nroutes; i++)
		if (strcmp(url, s->routes[i].path) == 0)
			rt = &s->routes[i];
	if (strcmp(url, "/healthz") == 0 && strcmp(method, "GET") == 0)
		return reply(
		    conn, 200, JV_OBJECT(jv_string("status"), jv_string("ok")));
	if (rt == NULL)
		return reply_error(conn, 404, "not_found", "no such task");
	if (strcmp(method, "POST") != 0)
		return reply_error(
		    conn, 405, "method_not_allowed", "tasks take POST");
	if (rq->too_big)
		return reply_error(
		    conn, 413, "too_large", "the body is over 16 MiB");
	return run_handler(s, rt, conn, rq);
}

static void
request_done(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct req *rq = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (rq) {
		free(rq->body);
		free(rq);
		*con_cls = NULL;
	}
}

int
loom_server_start(loom_server *s, char **err)
{
	const union MHD_DaemonInfo *info;

	if (s->port < 0 || s->port > 65535) {
		*err = xstrdup("bad address or port (expected IPv4 and "
			       "0 to 65535)");
		return -1;
	}
	s->mhd = MHD_start_daemon(
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG,
	    (uint16_t)s->port, NULL, NULL, handle, s, MHD_OPTION_SOCK_ADDR,
	    (struct sockaddr *)&s->sin, MHD_OPTION_NOTIFY_COMPLETED,
	    request_done, NULL, MHD_OPTION_THREAD_POOL_SIZE, SERVER_THREADS,
	    MHD_OPTION_CONNECTION_TIMEOUT, 120u, MHD_OPTION_END);
	if (s->mhd == NULL) {
		*err = xasprintf("cannot listen on port %d", s->port);
		return -1;
	}
	info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
	if (info)
		s->port = info->port;
	return 0;
}

int
loom_server_port(const loom_server *s)
{
	return s->port;
}

void
loom_server_free(loom_server *s)
{
	if (s == NULL)
		return;
	if (s->mhd)
		MHD_stop_daemon(s->mhd);
	for (int i = 0; i < s->nroutes; i++)
		free(s->routes[i].path);
	free(s->secret);
	free(s);
}
