/*
 * api: the HTTP server of loom-api (see api.h for the model).
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
 *
 * Race-free waiting: the main thread counts doorbells (gen).  api.c notes
 * gen before each handler call; if it moved by the time the request is
 * parked, a doorbell may have rung after the handler read its rows, so the
 * request is resumed at once and reads them again.  After the LISTEN
 * connection is (re)made, every waiter is woken for the same reason.
 *
 * Shutdown (SIGTERM/SIGINT): the daemons stop accepting, waiters are woken
 * (a long-poll answers with the state it has), and the main loop ends when
 * no request is in flight or after API_DRAIN_MS; a second signal ends it
 * at once.  Only then are the MHD daemons stopped, so no suspended
 * connection is ever left behind.
 */
#include "api.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <systemd/sd-daemon.h>

#include "api_stream.h"
#include "core/buf.h"
#include "util/config.h"
#include "store/db.h"
#include "core/jsoncheck.h"
#include "util/jsonutil.h"
#include "util/loop.h"
#include "store/pglisten.h"
#include "core/xalloc.h"

#define API_APP_NAME "loom-api"
#define API_MAX_HEADERS 4
#define API_MAX_SEGMENTS 32
#define API_DISCARD_FACTOR 8	 /* bodies this far over: close, not read */
#define API_DB_RETRY_MS 1000	 /* a thread retries a dead database */
#define API_STATEMENT_TIMEOUT "30s"
/* MHD takes this many over api.max_connections (see "connections"). */
#define API_CONN_RESERVE(max) ((max) / 4 + 16)
/*
 * Below what libmicrohttpd's 32 KiB connection buffer holds, so that a
 * long URI or a large header block gets our JSON 414 or 431; past the
 * buffer MHD answers by itself (loom-api(8), BUGS).
 */
#define API_MAX_URI 8192
#define API_MAX_HEADERS_BYTES 16384

struct listener {
	struct api *api;
	int fd;
	char *url;
	char *unlink_path;	/* our Unix socket file, removed at exit */
	struct MHD_Daemon *d;
};

struct api {
	const struct api_options *opt;
	struct listener *ls;
	size_t nls;
	struct loop *loop;
	struct loop_signal *sig[3];
	struct loop_io *efd_io;
	int efd;		/* workers -> main loop: re-arm, drained */
	struct loop_timer *wait_timer;
	struct loop_timer *drain_timer;
	struct pglisten *pgl;
	struct api_streams *streams;	/* event streams (api_stream.c) */
	struct loop_timer *sock_timer;	/* the first connection deadline */

	/* Shared with the worker threads; guarded by mu. */
	pthread_mutex_t mu;
	struct api_conn *waiters; /* suspended requests (doubly linked) */
	uint64_t gen;		/* doorbells seen */
	int stopping;
	long inflight;		/* requests begun and not completed */
	struct api_sock *socks;	/* accepted connections, newest first */
	int64_t sweep_at;	/* sock_timer's time, 0: not armed */
};

/*
 * One accepted connection: MHD's socket context, made when it is
 * accepted and freed when it is closed (see "connections" below).  The
 * links, deadline and evicted are guarded by api->mu; the rest belongs
 * to the worker thread that serves the connection.
 */
struct api_sock {
	struct listener *l;
	int fd;
	struct sockaddr_storage peer;	/* AF_INET or AF_INET6: per_client */
	int per_client;		/* counts toward its address's limit */
	int64_t deadline;	/* mono ms; 0: answering, none */
	int evicted;		/* shut down; MHD closes it */
	int limited;		/* over a limit: only /healthz, /readyz */
	int nul;		/* the request's URI holds %00 */
	size_t uri_len;		/* the request's URI, still encoded */
	struct api_sock *prev, *next;
};

struct api_conn {
	struct api *api;
	struct MHD_Connection *mc;
	struct api_request rq;
	char *method;
	char *path;		/* split in place by the router */
	char *path_copy;	/* rq.path once routed (path is cut up) */
	const struct api_route *route;
	struct api_sock *sock;	/* the connection's, or NULL */
	struct buf body;
	size_t discarded;	/* bytes dropped after the cap */
	int too_large;
	int routed;
	int64_t t0;
	struct {
		char *name, *value;
	} hdr[API_MAX_HEADERS];
	size_t nhdr;

	char *json_text;	/* api_set_json_text(): the body, as is */
	size_t json_len;

	/* long-polling; wait_* set by api_wait(), links guarded by api->mu */
	char *wait_key;
	int64_t wait_until;
	uint64_t gen_seen;
	int waiting;
	struct api_conn *wprev, *wnext;
};

static enum MHD_Result api_send(struct api_conn *rc, int status, jv body);
static void socks_sweep(struct api *a);
static int api_healthz(struct api_request *rq, jv *out);
static int api_readyz(struct api_request *rq, jv *out);

/* The last field is the scope a caller needs (api_auth.c); never leave
 * it out: an unset scope refuses every call. */
static const struct api_route api_routes[] = {
	{ "GET", "/healthz", API_BODY_NONE, api_healthz, API_SCOPE_OPEN },
	{ "GET", "/readyz", API_BODY_NONE, api_readyz, API_SCOPE_OPEN },
	{ "GET", "/api/v1/workflows", API_BODY_NONE, api_workflows_list,
	    API_SCOPE_READ },
	{ "POST", "/api/v1/workflows", API_BODY_WORKFLOW, api_workflow_apply,
	    API_SCOPE_OPERATOR },
	{ "GET", "/api/v1/workflows/{id}", API_BODY_NONE, api_workflow_get,
	    API_SCOPE_READ },
	{ "GET", "/api/v1/workflows/{id}/versions", API_BODY_NONE,
	    api_workflow_versions, API_SCOPE_READ },
	{ "GET", "/api/v1/workflows/{id}/versions/{n}", API_BODY_NONE,
	    api_workflow_version, API_SCOPE_READ },
	{ "POST", "/api/v1/workflows/{id}/trigger", API_BODY_JSON,
	    api_workflow_trigger, API_SCOPE_OPERATOR },
	/* api_workflows.c, api_list.c: delete, pause, history */
	{ "DELETE", "/api/v1/workflows/{id}", API_BODY_NONE,
	    api_workflow_delete, API_SCOPE_OPERATOR },
	{ "POST", "/api/v1/workflows/{id}/pause", API_BODY_NONE,
	    api_workflow_pause, API_SCOPE_OPERATOR },
	{ "POST", "/api/v1/workflows/{id}/unpause", API_BODY_NONE,
	    api_workflow_unpause, API_SCOPE_OPERATOR },
	{ "GET", "/api/v1/workflows/{id}/history", API_BODY_NONE,
	    api_workflow_history, API_SCOPE_READ },
	{ "GET", "/api/v1/executions", API_BODY_NONE, api_executions_list,
	    API_SCOPE_READ },
	{ "GET", "/api/v1/executions/{id}", API_BODY_NONE, api_execution_get,
	    API_SCOPE_READ },
	/* api_events.c: server-sent events, log lines */
	{ "GET", "/api/v1/events", API_BODY_NONE, api_events_stream,
	    API_SCOPE_READ },
	{ "GET", "/api/v1/executions/{id}/events", API_BODY_NONE,
	    api_execution_events, API_SCOPE_READ },
	{ "GET", "/api/v1/executions/{id}/logs", API_BODY_NONE,
	    api_execution_logs, API_SCOPE_READ },
	/* api_controls.c: run and task controls, the dead-letter queue */
	{ "POST", "/api/v1/executions/{id}/cancel", API_BODY_NONE,
	    api_execution_cancel, API_SCOPE_OPERATOR },
	{ "POST", "/api/v1/executions/{id}/retry", API_BODY_JSON,
	    api_execution_retry, API_SCOPE_OPERATOR },
	{ "POST", "/api/v1/executions/{id}/tasks/{task}/rerun", API_BODY_JSON,
	    api_task_rerun, API_SCOPE_OPERATOR },
	{ "GET", "/api/v1/dead-letters", API_BODY_NONE, api_dead_letters_list,
	    API_SCOPE_READ },
	{ "GET", "/api/v1/dead-letters/{id}", API_BODY_NONE,
	    api_dead_letter_get, API_SCOPE_READ },
	{ "POST", "/api/v1/dead-letters/{id}/replay", API_BODY_NONE,
	    api_dead_letter_replay, API_SCOPE_OPERATOR },
	{ "POST", "/api/v1/dead-letters/{id}/discard", API_BODY_NONE,
	    api_dead_letter_discard, API_SCOPE_OPERATOR },
	{ "POST", "/api/v1/callbacks/{token}", API_BODY_JSON, api_callback,
	    API_SCOPE_CALLBACK },
	/* api_status.c; a decoded target "http://h:80" is three segments */
	{ "GET", "/api/v1/status", API_BODY_NONE, api_status, API_SCOPE_READ },
	{ "GET", "/api/v1/schedules", API_BODY_NONE, api_schedules_list,
	    API_SCOPE_READ },
	{ "GET", "/api/v1/breakers", API_BODY_NONE, api_breakers_list,
	    API_SCOPE_READ },
	{ "POST", "/api/v1/breakers/{target}/reset", API_BODY_NONE,
	    api_breaker_reset, API_SCOPE_OPERATOR },
	{ "POST", "/api/v1/breakers/{scheme}//{host}/reset", API_BODY_NONE,
	    api_breaker_reset, API_SCOPE_OPERATOR },
	{ "GET", "/api/v1/tokens", API_BODY_NONE, api_tokens_list,
	    API_SCOPE_ADMIN },
	{ "POST", "/api/v1/tokens", API_BODY_JSON, api_tokens_create,
	    API_SCOPE_ADMIN },
	{ "DELETE", "/api/v1/tokens/{id}", API_BODY_NONE, api_token_revoke,
	    API_SCOPE_ADMIN },
};
#define API_NROUTES (sizeof(api_routes) / sizeof(api_routes[0]))

const struct api_route *
api_route_table(size_t *n)
{
	*n = API_NROUTES;
	return api_routes;
}

/* ---- logging ------------------------------------------------------------ */

void
api_log(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	/* log.c writes a line in several stdio calls; hold the stream. */
	flockfile(stderr);
	va_start(ap, fmt);
	log_vlog(level, 0, fmt, ap);
	va_end(ap);
	funlockfile(stderr);
}

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[1024];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		msg[--n] = '\0';
	/* A client that hangs up mid-request, or one we shut down for
	 * being slow, is no news worth a warning per connection. */
	api_log(strstr(msg, "closed by remote side") ||
	    strstr(msg, "detected connection closure") ? LOG_LVL_DEBUG :
	    LOG_LVL_WARN, "http: %s", msg);
}

int64_t
api_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- options ------------------------------------------------------------ */

/* "HOST:PORT", "[V6]:PORT", ":PORT".  *host is NULL for "all". */
static int
split_hostport(const char *s, char **host, char **port)
{
	const char *colon;

	*host = *port = NULL;
	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (end == NULL || end[1] != ':')
			return -1;
		*host = xstrndup(s + 1, (size_t)(end - s - 1));
		colon = end + 1;
	} else {
		if ((colon = strrchr(s, ':')) == NULL)
			return -1;
		if (colon != s)
			*host = xstrndup(s, (size_t)(colon - s));
	}
	if (colon[1] == '\0' || strspn(colon + 1, "0123456789") !=
	    strlen(colon + 1) || strlen(colon + 1) > 5 ||
	    atol(colon + 1) > 65535) {
		free(*host);
		*host = NULL;
		return -1;
	}
	*port = xstrdup(colon + 1);
	return 0;
}

/* Bytes, with an optional K, M or G (binary) suffix. */
static int
parse_size(const char *s, long *out)
{
	char *end;
	long long n;

	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno || end == s || n < 0)
		return -1;
	switch (*end) {
	case 'k': case 'K': n *= 1024; end++; break;
	case 'm': case 'M': n *= 1024 * 1024; end++; break;
	case 'g': case 'G': n *= 1024LL * 1024 * 1024; end++; break;
	}
	if (*end == 'i' && end[1] == 'B')
		end += 2;
	else if (*end == 'B')
		end++;
	if (*end != '\0' || n > 1024LL * 1024 * 1024)
		return -1;
	*out = (long)n;
	return 0;
}

static int
opt_int(const struct config *cfg, const char *key, long def, long lo,
    long hi, long *out, struct diags *d)
{
	if (config_get_int(cfg, key, def, out) < 0 || *out < lo || *out > hi) {
		diags_add(d, cfg ? config_path(cfg) : "-", 0, 0,
		    "%s must be an integer from %ld to %ld", key, lo, hi);
		return -1;
	}
	return 0;
}

int
api_options_load(struct api_options *o, const struct config *cfg,
    const char *listen, const char *socket, struct diags *d)
{
	const char *file = cfg ? config_path(cfg) : "-";
	const char *v;
	int64_t ms;
	size_t before = d->n;

	memset(o, 0, sizeof(*o));
	v = listen ? listen : config_get(cfg, "api.listen", "127.0.0.1:8080");
	if (*v && strcmp(v, "none") && strcmp(v, "off")) {
		char *h, *p;

		if (split_hostport(v, &h, &p) < 0)
			diags_add(d, file, 0, 0, "api.listen '%s' is not "
			    "HOST:PORT, [V6ADDR]:PORT or :PORT", v);
		else
			o->listen = xstrdup(v);
		free(h);
		free(p);
	}
	v = socket ? socket : config_get(cfg, "api.socket", "");
	if (*v) {
		if (strlen(v) >= sizeof(((struct sockaddr_un *)0)->sun_path))
			diags_add(d, file, 0, 0, "api.socket '%s' is too long "
			    "for a Unix socket path", v);
		else
			o->socket = xstrdup(v);
	}
	if (o->listen == NULL && o->socket == NULL && d->n == before &&
	    sd_listen_fds(0) <= 0)
		diags_add(d, file, 0, 0, "nothing to listen on: set api.listen "
		    "or api.socket");
	opt_int(cfg, "api.threads", 4, 1, 256, &o->threads, d);
	opt_int(cfg, "api.max_connections", 1024, 1, 1000000,
	    &o->max_connections, d);
	opt_int(cfg, "api.max_connections_per_client", 256, 1, 1000000,
	    &o->max_per_client, d);
	opt_int(cfg, "api.max_streams", API_MAX_STREAMS_DEFAULT, 1, 1000000,
	    &o->max_streams, d);
	if (config_get_duration(cfg, "api.stream_heartbeat",
	    API_HEARTBEAT_MS_DEFAULT, &o->heartbeat_ms) < 0 ||
	    o->heartbeat_ms < 100 || o->heartbeat_ms > 3600000)
		diags_add(d, file, 0, 0, "api.stream_heartbeat must be a "
		    "duration from 100ms to 1h (e.g. 15s)");
	v = config_get(cfg, "api.max_body", "1M");
	if (parse_size(v, &o->max_body) < 0 || o->max_body < 1024)
		diags_add(d, file, 0, 0, "api.max_body '%s' must be a size "
		    "from 1K to 1G (e.g. 1048576, 512K, 4M)", v);
	if (config_get_duration(cfg, "api.timeout", 30000, &ms) < 0 ||
	    ms < 1000 || ms > 3600000)
		diags_add(d, file, 0, 0, "api.timeout must be a duration "
		    "from 1s to 1h (e.g. 30s)");
	else
		o->timeout_s = (long)(ms / 1000);
	if (config_get_duration(cfg, "api.request_timeout", 10000,
	    &o->request_timeout_ms) < 0 || o->request_timeout_ms < 100 ||
	    o->request_timeout_ms > 3600000)
		diags_add(d, file, 0, 0, "api.request_timeout must be a "
		    "duration from 100ms to 1h (e.g. 10s)");
	o->db_url = xstrdup(db_url(cfg));
	{
		enum log_level l;

		if (api_log_level(cfg, &l) < 0)
			diags_add(d, file, 0, 0, "log level must be error, "
			    "warn, info or debug");
	}
	api_auth_options_load(o, cfg, d);
	return d->n == before ? 0 : -1;
}

void
api_options_free(struct api_options *o)
{
	if (o == NULL)
		return;
	free(o->listen);
	free(o->socket);
	free(o->db_url);
	free(o->config_path);
	free(o->trusted_uids);
	memset(o, 0, sizeof(*o));
}

int
api_log_level(const struct config *cfg, enum log_level *out)
{
	const char *v = config_get(cfg, "api.log_level",
	    config_get(cfg, "log.level", "info"));

	return log_level_parse(v, out);
}

/* ---- routing ------------------------------------------------------------ */

/* Whether pattern's segments match seg[0..nseg); fills param. */
static int
route_match(const char *pattern, char *const *seg, size_t nseg,
    const char **param, size_t *nparam)
{
	const char *p = pattern + 1;
	size_t i = 0, np = 0;

	for (;;) {
		const char *end = strchrnul(p, '/');
		size_t len = (size_t)(end - p);

		if (i >= nseg)
			return 0;
		if (p[0] == '{') {
			if (seg[i][0] == '\0' || np >= API_MAX_PARAMS)
				return 0;
			param[np++] = seg[i];
		} else if (strlen(seg[i]) != len || strncmp(seg[i], p, len))
			return 0;
		i++;
		if (*end == '\0')
			break;
		p = end + 1;
	}
	if (i != nseg)
		return 0;
	*nparam = np;
	return 1;
}

static void
allow_add(char *allow, size_t len, const char *m)
{
	size_t n = strlen(allow);
	const char *p;

	/* Already listed?  (Whole words only.) */
	for (p = allow; (p = strstr(p, m)) != NULL; p += strlen(m))
		if ((p == allow || p[-1] == ' ') &&
		    (p[strlen(m)] == ',' || p[strlen(m)] == '\0'))
			return;
	snprintf(allow + n, len - n, "%s%s", n ? ", " : "", m);
}

const struct api_route *
api_route_find(const struct api_route *tab, size_t n, const char *method,
    char *path, const char **param, size_t *nparam, char *allow,
    size_t allowlen)
{
	char *seg[API_MAX_SEGMENTS];
	size_t nseg = 0, len = strlen(path);
	const char *want = strcmp(method, "HEAD") == 0 ? "GET" : method;

	allow[0] = '\0';
	*nparam = 0;
	if (path[0] != '/')
		return NULL;
	if (len > 1 && path[len - 1] == '/')
		path[len - 1] = '\0';	/* "/api/v1/workflows/" is the list */
	for (char *p = path + 1;;) {
		char *slash = strchr(p, '/');

		if (nseg == API_MAX_SEGMENTS)
			return NULL;
		seg[nseg++] = p;
		if (slash == NULL)
			break;
		*slash = '\0';
		p = slash + 1;
	}
	for (size_t i = 0; i < n; i++) {
		const char *tmp[API_MAX_PARAMS];
		size_t np;

		if (!route_match(tab[i].pattern, seg, nseg, tmp, &np))
			continue;
		if (strcmp(tab[i].method, want) == 0) {
			memcpy(param, tmp, np * sizeof(*tmp));
			*nparam = np;
			allow[0] = '\0';
			return &tab[i];
		}
		allow_add(allow, allowlen, tab[i].method);
		if (strcmp(tab[i].method, "GET") == 0)
			allow_add(allow, allowlen, "HEAD");
	}
	return NULL;
}

/* ---- errors, headers, query -------------------------------------------- */

static jv
error_body(const char *code, const char *field, jv details, const char *fmt,
    va_list ap)
{
	char *msg;
	jv e = jv_object();

	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	e = jv_put(e, "code", jv_string(code));
	e = jv_put(e, "message", jv_string(msg ? msg : code));
	e = jv_put(e, "field", field ? jv_string(field) : jv_null());
	if (jv_is_valid(details))
		e = jv_put(e, "details", details);
	else
		jv_free(details);
	free(msg);
	return jv_object_set(jv_object(), jv_string("error"), e);
}

int
api_error(jv *out, int status, const char *code, const char *field,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	*out = error_body(code, field, jv_invalid(), fmt, ap);
	va_end(ap);
	return status;
}

int
api_error_details(jv *out, int status, const char *code, jv details,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	*out = error_body(code, NULL, details, fmt, ap);
	va_end(ap);
	return status;
}

const char *
api_query(const struct api_request *rq, const char *key)
{
	return MHD_lookup_connection_value(rq->conn->mc,
	    MHD_GET_ARGUMENT_KIND, key);
}

const char *
api_header(const struct api_request *rq, const char *name)
{
	return MHD_lookup_connection_value(rq->conn->mc, MHD_HEADER_KIND,
	    name);
}

void
api_set_header(struct api_request *rq, const char *name, const char *value)
{
	struct api_conn *rc = rq->conn;

	if (rc->nhdr == API_MAX_HEADERS)
		return;
	rc->hdr[rc->nhdr].name = xstrdup(name);
	rc->hdr[rc->nhdr].value = xstrdup(value);
	rc->nhdr++;
}

void
api_set_json_text(struct api_request *rq, char *text, size_t len)
{
	free(rq->conn->json_text);
	rq->conn->json_text = text;
	rq->conn->json_len = len;
}

int
api_conn_fd(const struct api_request *rq)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
	    rq->conn->mc, MHD_CONNECTION_INFO_CONNECTION_FD);

	return ci ? (int)ci->connect_fd : -1;
}

int
api_stopping(const struct api_request *rq)
{
	struct api *a = rq->api;
	int s;

	pthread_mutex_lock(&a->mu);
	s = a->stopping;
	pthread_mutex_unlock(&a->mu);
	return s;
}

/* ---- the per-thread database connection ------------------------------- */

struct tdb {
	PGconn *c;
	int64_t retry_at;	/* no new attempt before this (mono ms) */
};

static pthread_key_t tdb_key;
static pthread_once_t tdb_once = PTHREAD_ONCE_INIT;

static void
tdb_free(void *p)
{
	struct tdb *t = p;

	if (t->c)
		PQfinish(t->c);
	free(t);
}

static void
tdb_key_init(void)
{
	if (pthread_key_create(&tdb_key, tdb_free) != 0)
		abort();
}

/* Session settings; redone after every (re)connect. */
static int
tdb_setup(PGconn *c, char **err)
{
	if (PQsetClientEncoding(c, "UTF8") != 0) {
		*err = xstrdup("cannot set client_encoding to UTF8");
		return -1;
	}
	/* A stuck query must not hold a worker thread forever. */
	return db_cmd(c, err, "SET statement_timeout = '"
	    API_STATEMENT_TIMEOUT "'", 0, NULL);
}

/*
 * Whether an idle connection is still good.  A server that restarts
 * tells its clients (FATAL, then EOF) before they ask anything, so a
 * readable idle socket is read now rather than failing the next query.
 */
static int
tdb_alive(PGconn *c)
{
	struct pollfd p = { .fd = PQsocket(c), .events = POLLIN };

	if (PQstatus(c) != CONNECTION_OK)
		return 0;
	/* A message and the EOF behind it take a read each. */
	for (int i = 0; i < 4 && poll(&p, 1, 0) > 0; i++)
		if (PQconsumeInput(c) == 0)
			return 0;
	return PQstatus(c) == CONNECTION_OK;
}

PGconn *
api_db(struct api_request *rq)
{
	struct tdb *t;
	char *err = NULL;
	int64_t now;

	pthread_once(&tdb_once, tdb_key_init);
	if ((t = pthread_getspecific(tdb_key)) == NULL) {
		t = xcalloc(1, sizeof(*t));
		pthread_setspecific(tdb_key, t);
	}
	if (t->c != NULL && tdb_alive(t->c))
		return t->c;
	now = api_mono_ms();
	if (now < t->retry_at)
		return NULL;
	if (t->c != NULL) {
		PQreset(t->c);
		if (PQstatus(t->c) != CONNECTION_OK) {
			err = xasprintf("cannot reconnect to PostgreSQL: %s",
			    PQerrorMessage(t->c));
			goto fail;
		}
	} else if ((t->c = db_connect(rq->api->opt->db_url, API_APP_NAME,
	    &err)) == NULL)
		goto fail;
	if (tdb_setup(t->c, &err) < 0)
		goto fail;
	return t->c;
fail:
	api_log(LOG_LVL_WARN, "%s", err);
	free(err);
	t->retry_at = now + API_DB_RETRY_MS;
	if (t->c && PQstatus(t->c) == CONNECTION_OK) {
		PQfinish(t->c);
		t->c = NULL;
	}
	return NULL;
}

int
api_db_down(jv *out)
{
	return api_error(out, 503, "unavailable", NULL,
	    "the database is unreachable; try again shortly");
}

int
api_db_fail(struct api_request *rq, jv *out, char *err)
{
	struct tdb *t;
	PGconn *c;

	pthread_once(&tdb_once, tdb_key_init);
	t = pthread_getspecific(tdb_key);
	c = t ? t->c : NULL;

	api_log(LOG_LVL_WARN, "%s %s: database error: %s", rq->method,
	    rq->path, err ? err : "?");
	free(err);
	if (c == NULL || PQstatus(c) != CONNECTION_OK)
		return api_db_down(out);
	if (PQtransactionStatus(c) != PQTRANS_IDLE)
		PQclear(PQexec(c, "ROLLBACK"));
	return api_error(out, 500, "internal", NULL,
	    "internal error (the server's log has the details)");
}

/* After each handler: a transaction left open is a bug; never leak it. */
static void
tdb_check_idle(const struct api_request *rq)
{
	struct tdb *t;

	pthread_once(&tdb_once, tdb_key_init);
	if ((t = pthread_getspecific(tdb_key)) == NULL || t->c == NULL ||
	    PQstatus(t->c) != CONNECTION_OK)
		return;
	if (PQtransactionStatus(t->c) != PQTRANS_IDLE) {
		api_log(LOG_LVL_WARN, "%s %s left a transaction open; rolled "
		    "back", rq->method, rq->path);
		PQclear(PQexec(t->c, "ROLLBACK"));
	}
}

/* ---- health ------------------------------------------------------------- */

static int
api_healthz(struct api_request *rq, jv *out)
{
	*out = jv_object_set(jv_object(), jv_string("status"),
	    jv_string("ok"));
	return 200;
}

static int
api_readyz(struct api_request *rq, jv *out)
{
	PGconn *db = api_db(rq);
	char *err = NULL;

	if (db == NULL)
		return api_db_down(out);
	if (db_schema_check(db, &err) < 0) {
		if (PQstatus(db) != CONNECTION_OK)
			return api_db_fail(rq, out, err);
		api_error(out, 503, "unavailable", NULL, "%s", err);
		free(err);
		return 503;
	}
	*out = jv_object_set(jv_object(), jv_string("status"),
	    jv_string("ready"));
	return 200;
}

/* ---- waiting ------------------------------------------------------------ */

int
api_wait(struct api_request *rq, const char *key, int64_t until_ms)
{
	struct api_conn *rc = rq->conn;

	free(rc->wait_key);
	rc->wait_key = xstrdup(key);
	rc->wait_until = until_ms;
	return API_SUSPEND;
}

static void
efd_kick(struct api *a)
{
	if (eventfd_write(a->efd, 1) < 0)
		api_log(LOG_LVL_WARN, "eventfd write: %s", strerror(errno));
}

/* Called with a->mu held. */
static void
waiter_unlink(struct api *a, struct api_conn *rc)
{
	if (rc->wprev)
		rc->wprev->wnext = rc->wnext;
	else
		a->waiters = rc->wnext;
	if (rc->wnext)
		rc->wnext->wprev = rc->wprev;
	rc->wprev = rc->wnext = NULL;
	rc->waiting = 0;
}

/* Called with a->mu held: the request runs its handler again. */
static void
waiter_wake(struct api *a, struct api_conn *rc)
{
	waiter_unlink(a, rc);
	MHD_resume_connection(rc->mc);
}

/* key NULL: everyone. */
static void
wake_matching(struct api *a, const char *key)
{
	struct api_conn *rc, *next;

	pthread_mutex_lock(&a->mu);
	a->gen++;
	for (rc = a->waiters; rc; rc = next) {
		next = rc->wnext;
		if (key == NULL || strcmp(rc->wait_key, key) == 0)
			waiter_wake(a, rc);
	}
	pthread_mutex_unlock(&a->mu);
}

/* Worker thread, inside the access handler. */
static void
api_suspend(struct api_conn *rc)
{
	struct api *a = rc->api;
	int now_again;

	MHD_suspend_connection(rc->mc);
	pthread_mutex_lock(&a->mu);
	now_again = a->stopping || a->gen != rc->gen_seen ||
	    rc->wait_until <= api_mono_ms();
	if (!now_again) {
		rc->wnext = a->waiters;
		if (a->waiters)
			a->waiters->wprev = rc;
		a->waiters = rc;
		rc->waiting = 1;
	}
	rc->rq.resumed++;
	pthread_mutex_unlock(&a->mu);
	if (now_again)
		MHD_resume_connection(rc->mc);
	else
		efd_kick(a);	/* the main loop re-arms its timer */
}

/* Main thread: wake waiters whose time is up; arm for the next. */
static void
waiters_rearm(struct api *a)
{
	struct api_conn *rc, *next;
	int64_t now = api_mono_ms(), first = 0;

	pthread_mutex_lock(&a->mu);
	for (rc = a->waiters; rc; rc = next) {
		next = rc->wnext;
		if (rc->wait_until <= now)
			waiter_wake(a, rc);
		else if (first == 0 || rc->wait_until < first)
			first = rc->wait_until;
	}
	pthread_mutex_unlock(&a->mu);
	if (first)
		loop_timer_at(a->wait_timer, first);
	else
		loop_timer_stop(a->wait_timer);
}

static void
on_wait_timer(struct loop_timer *t, void *arg)
{
	waiters_rearm(arg);
}

static void
on_efd(struct loop_io *io, int fd, unsigned events, void *arg)
{
	struct api *a = arg;
	eventfd_t v;
	int done;

	(void)eventfd_read(fd, &v);
	waiters_rearm(a);
	socks_sweep(a);
	pthread_mutex_lock(&a->mu);
	done = a->stopping && a->inflight == 0;
	pthread_mutex_unlock(&a->mu);
	if (done)
		loop_exit(a->loop, 0);
}

static void
on_notify(void *arg, const char *channel, const char *payload)
{
	struct api *a = arg;

	api_streams_doorbell(a->streams, channel, payload);
	if (strcmp(channel, "loom_event") == 0)	/* not loom_log */
		wake_matching(a, payload && *payload ? payload : NULL);
}

static void
on_listen_connect(void *arg)
{
	struct api *a = arg;

	/* Doorbells may have rung while we were not listening. */
	api_streams_doorbell(a->streams, NULL, NULL);
	wake_matching(a, NULL);
}

/* ---- signals ------------------------------------------------------------ */

static void
on_drain_timer(struct loop_timer *t, void *arg)
{
	struct api *a = arg;
	long n;

	pthread_mutex_lock(&a->mu);
	n = a->inflight;
	pthread_mutex_unlock(&a->mu);
	api_log(LOG_LVL_WARN, "stopping with %ld request(s) still in flight",
	    n);
	loop_exit(a->loop, 0);
}

static void
on_stop_signal(struct loop_signal *s, int signo, void *arg)
{
	struct api *a = arg;
	long n;

	pthread_mutex_lock(&a->mu);
	if (a->stopping) {
		pthread_mutex_unlock(&a->mu);
		api_log(LOG_LVL_INFO, "second %s: stopping now",
		    strsignal(signo));
		loop_exit(a->loop, 0);
		return;
	}
	a->stopping = 1;
	pthread_mutex_unlock(&a->mu);
	api_log(LOG_LVL_INFO, "%s: draining", strsignal(signo));
	loop_notify_stopping(a->loop);
	for (size_t i = 0; i < a->nls; i++)
		if (a->ls[i].d)
			(void)MHD_quiesce_daemon(a->ls[i].d);
	wake_matching(a, NULL);
	api_streams_stop(a->streams);	/* event streams end now */
	pthread_mutex_lock(&a->mu);
	n = a->inflight;
	pthread_mutex_unlock(&a->mu);
	if (n == 0)
		loop_exit(a->loop, 0);
	else
		loop_timer_after(a->drain_timer, API_DRAIN_MS);
}

static void
on_hup(struct loop_signal *s, int signo, void *arg)
{
	struct api *a = arg;
	struct config *cfg;
	struct diags d;
	enum log_level l;

	diags_init(&d);
	if ((cfg = config_load(a->opt->config_path, &d)) == NULL) {
		api_log(LOG_LVL_WARN, "SIGHUP: config not reloaded: %s",
		    d.n ? d.v[0].msg : "?");
		diags_clear(&d);
		return;
	}
	if (a->opt->debug)
		l = LOG_LVL_DEBUG;
	else if (api_log_level(cfg, &l) < 0) {
		api_log(LOG_LVL_WARN, "SIGHUP: bad log level; kept");
		config_free(cfg);
		return;
	}
	log_set_level(l);
	api_log(LOG_LVL_INFO, "SIGHUP: config reloaded (log level; other "
	    "settings need a restart)");
	config_free(cfg);
}

/* ---- connections: deadlines and limits ----------------------------------- */

/*
 * Every accepted connection has an api_sock on a->socks, so that slow or
 * greedy clients cannot shut everybody else out:
 *
 * Deadlines.  MHD's own timeout (api.timeout) closes a connection only
 * when it says nothing at all; one that sends a byte now and then would
 * live for ever.  So while a connection is receiving a request it has a
 * deadline: the request line and headers must be in within
 * api.request_timeout of the connection being accepted (of its request
 * line, for a later request on a kept-alive connection), and the body
 * within api.request_timeout of the headers.  While a request is being
 * answered there is none (long-polls and streams last as they must);
 * between requests a kept-alive connection has api.timeout plus
 * api.request_timeout to send its next request's headers.  The main
 * loop's sock_timer shuts a connection past its deadline down
 * (shutdown(2), not close: MHD sees the stream end and closes it
 * itself, and the descriptor stays ours until MHD says it is closed).
 *
 * Limits.  A listener serves api.max_connections connections, and a TCP
 * listener at most api.max_connections_per_client from one address.  A
 * connection over either makes room by shutting down the oldest one (of
 * that address, or of anybody) that has a deadline: one still sending a
 * request, or idle between two, which is what a slow client holds.  When
 * every connection is busy being answered, the newcomer is "limited": it
 * may ask for /healthz and /readyz, and anything else is 503.  MHD
 * itself takes API_CONN_RESERVE more than api.max_connections: room for
 * those, and for newcomers that arrive before the evicted are gone
 * (under a flood, on a busy machine, that takes a while).
 */

static int
sock_same_peer(const struct api_sock *a, const struct api_sock *b)
{
	if (!a->per_client || !b->per_client ||
	    a->peer.ss_family != b->peer.ss_family)
		return 0;
	if (a->peer.ss_family == AF_INET)
		return memcmp(&((const struct sockaddr_in *)&a->peer)->sin_addr,
		    &((const struct sockaddr_in *)&b->peer)->sin_addr,
		    sizeof(struct in_addr)) == 0;
	return memcmp(&((const struct sockaddr_in6 *)&a->peer)->sin6_addr,
	    &((const struct sockaddr_in6 *)&b->peer)->sin6_addr,
	    sizeof(struct in6_addr)) == 0;
}

/* Called with a->mu held. */
static void
sock_evict(struct api_sock *s)
{
	if (s->evicted)
		return;
	s->evicted = 1;
	s->deadline = 0;
	if (s->fd >= 0)
		(void)shutdown(s->fd, SHUT_RDWR);
}

/*
 * Called with a->mu held, s just linked: counts s's listener and s's
 * address, and when one is over its limit evicts the oldest connection
 * that holds no request being answered, or marks s limited.
 */
static void
sock_make_room(struct api *a, struct api_sock *s)
{
	struct api_sock *p, *oldest = NULL, *oldest_peer = NULL;
	long total = 0, peer = 0;

	for (p = a->socks; p; p = p->next) {	/* newest first */
		int same;

		if (p->l != s->l || p->evicted)
			continue;
		same = p == s || sock_same_peer(p, s);
		total++;
		peer += same;
		if (p == s || p->deadline == 0)
			continue;
		oldest = p;
		if (same)
			oldest_peer = p;
	}
	if (s->per_client && peer > a->opt->max_per_client)
		p = oldest_peer;
	else if (total > a->opt->max_connections)
		p = oldest;
	else
		return;
	if (p != NULL)
		sock_evict(p);
	else
		s->limited = 1;
}

/*
 * Sets s's deadline to at (mono ms; 0: none).  earlier: only when that
 * brings it forward.  Tells the main loop when its timer must move.
 */
static void
sock_deadline(struct api *a, struct api_sock *s, int64_t at, int earlier)
{
	int kick = 0;

	if (s == NULL)
		return;
	pthread_mutex_lock(&a->mu);
	if (!s->evicted && !(earlier && s->deadline && s->deadline <= at)) {
		s->deadline = at;
		if (at && (a->sweep_at == 0 || at < a->sweep_at)) {
			a->sweep_at = at;
			kick = 1;
		}
	}
	pthread_mutex_unlock(&a->mu);
	if (kick)
		efd_kick(a);
}

/* Main thread: shut down connections past their deadline; re-arm. */
static void
socks_sweep(struct api *a)
{
	struct api_sock *s;
	int64_t now = api_mono_ms(), first = 0;
	int n = 0;

	pthread_mutex_lock(&a->mu);
	for (s = a->socks; s; s = s->next) {
		if (s->deadline == 0)
			continue;
		if (s->deadline <= now) {
			sock_evict(s);
			n++;
		} else if (first == 0 || s->deadline < first)
			first = s->deadline;
	}
	a->sweep_at = first;
	pthread_mutex_unlock(&a->mu);
	if (n > 0)
		api_log(LOG_LVL_DEBUG, "closed %d connection(s) slower than "
		    "api.request_timeout", n);
	if (first)
		loop_timer_at(a->sock_timer, first);
	else
		loop_timer_stop(a->sock_timer);
}

static void
on_sock_timer(struct loop_timer *t, void *arg)
{
	socks_sweep(arg);
}

static struct api_sock *
sock_of(struct MHD_Connection *mc)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(mc,
	    MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

/* MHD_OPTION_NOTIFY_CONNECTION, on the connection's worker thread. */
static void
on_connection(void *cls, struct MHD_Connection *mc, void **socket_context,
    enum MHD_ConnectionNotificationCode code)
{
	struct listener *l = cls;
	struct api *a = l->api;
	struct api_sock *s = *socket_context;
	const union MHD_ConnectionInfo *ci;

	if (code != MHD_CONNECTION_NOTIFY_STARTED) {
		if (s == NULL)
			return;
		pthread_mutex_lock(&a->mu);
		if (s->prev)
			s->prev->next = s->next;
		else
			a->socks = s->next;
		if (s->next)
			s->next->prev = s->prev;
		pthread_mutex_unlock(&a->mu);
		free(s);
		*socket_context = NULL;
		return;
	}
	s = xcalloc(1, sizeof(*s));
	s->l = l;
	s->fd = (ci = MHD_get_connection_info(mc,
	    MHD_CONNECTION_INFO_CONNECTION_FD)) ? ci->connect_fd : -1;
	ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci && ci->client_addr && (ci->client_addr->sa_family == AF_INET ||
	    ci->client_addr->sa_family == AF_INET6)) {
		memcpy(&s->peer, ci->client_addr,
		    ci->client_addr->sa_family == AF_INET ?
		    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
		s->per_client = 1;
	}
	*socket_context = s;
	pthread_mutex_lock(&a->mu);
	s->next = a->socks;
	if (a->socks)
		a->socks->prev = s;
	a->socks = s;
	sock_make_room(a, s);
	pthread_mutex_unlock(&a->mu);
	/* Its first request line and headers have this long. */
	sock_deadline(a, s, api_mono_ms() + a->opt->request_timeout_ms, 0);
}

/*
 * MHD_OPTION_URI_LOG_CALLBACK: a request line is in, its headers are
 * not.  uri is still percent-encoded here: a %00 that decoding would
 * turn into the end of the string is noted, and refused later.
 */
static void *
on_uri(void *cls, const char *uri, struct MHD_Connection *mc)
{
	struct api *a = cls;
	struct api_sock *s = sock_of(mc);

	if (s == NULL)
		return NULL;
	s->nul = strstr(uri, "%00") != NULL;
	s->uri_len = strlen(uri);
	sock_deadline(a, s, api_mono_ms() + a->opt->request_timeout_ms, 1);
	return NULL;
}

/*
 * The descriptors every listener may need at once; the soft limit is
 * raised to the hard one, and a shortfall is said at start rather than
 * found out when accept(2) fails for the Unix socket too.
 */
static void
nofile_check(const struct api *a)
{
	struct rlimit rl;
	rlim_t need = 64;

	for (size_t i = 0; i < a->nls; i++)
		need += (rlim_t)(a->opt->max_connections +
		    API_CONN_RESERVE(a->opt->max_connections) +
		    a->opt->threads);
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur < rl.rlim_max && rl.rlim_cur < need) {
		rl.rlim_cur = rl.rlim_max < need ? rl.rlim_max : need;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
		(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)
		api_log(LOG_LVL_WARN, "api.max_connections needs about %llu "
		    "file descriptors, and only %llu are allowed (ulimit -n): "
		    "lower it or raise the limit", (unsigned long long)need,
		    (unsigned long long)rl.rlim_cur);
}

/* ---- requests ----------------------------------------------------------- */

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
	rc->rq.path = url;	/* replaced by a stable copy when routed */
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
api_send(struct api_conn *rc, int status, jv body)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	jv s;
	size_t n;
	char *p;

	if (rc->json_text != NULL && status >= 200 && status < 300) {
		/* The handler wrote the body itself; its NUL makes room. */
		jv_free(body);
		p = rc->json_text;
		n = rc->json_len;
		rc->json_text = NULL;
		p[n] = '\n';
		goto send;
	}
	if (!jv_is_valid(body)) {
		jv_free(body);
		api_error(&body, 500, "internal", NULL, "internal error");
		status = 500;
	}
	s = jv_dump_string(body, 0);
	n = (size_t)jv_string_length_bytes(jv_copy(s));
	p = xmalloc(n + 1);
	memcpy(p, jv_string_value(s), n);
	p[n] = '\n';
	jv_free(s);
send:
	resp = MHD_create_response_from_buffer(n + 1, p,
	    MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(p);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", "application/json");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	for (size_t i = 0; i < rc->nhdr; i++)
		MHD_add_response_header(resp, rc->hdr[i].name,
		    rc->hdr[i].value);
	ret = MHD_queue_response(rc->mc, (unsigned)status, resp);
	MHD_destroy_response(resp);
	if (log_get_level() >= LOG_LVL_DEBUG)
		api_log(LOG_LVL_DEBUG, "%s %s %d %lldms", rc->method,
		    rc->rq.path, status,
		    (long long)(api_mono_ms() - rc->t0));
	return ret;
}

static enum MHD_Result
api_send_error(struct api_conn *rc, int status, const char *code,
    const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static enum MHD_Result
api_send_error(struct api_conn *rc, int status, const char *code,
    const char *field, const char *fmt, ...)
{
	va_list ap;
	jv body;

	va_start(ap, fmt);
	body = error_body(code, field, jv_invalid(), fmt, ap);
	va_end(ap);
	return api_send(rc, status, body);
}

static enum MHD_Result
too_large(struct api_conn *rc)
{
	return api_send_error(rc, 413, "too_large", NULL, "the request body "
	    "is larger than the limit of %ld bytes (api.max_body)",
	    rc->api->opt->max_body);
}

/* A connection over a limit (see "connections" above), at once. */
static enum MHD_Result
busy(struct api_conn *rc)
{
	api_set_header(&rc->rq, "Connection", "close");
	api_set_header(&rc->rq, "Retry-After", "1");
	return api_send_error(rc, 503, "unavailable", NULL, "too many "
	    "connections (api.max_connections, "
	    "api.max_connections_per_client); try again shortly");
}

static enum MHD_Result
header_bytes(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	size_t *n = cls;

	*n += strlen(key) + (value ? strlen(value) : 0) + 4;
	return MHD_YES;
}

/* First call: the headers are in, no body yet. */
static enum MHD_Result
on_headers(struct api_conn *rc)
{
	const char *cl = MHD_lookup_connection_value(rc->mc, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH);
	const char *expect = MHD_lookup_connection_value(rc->mc,
	    MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
	unsigned long long len;
	long max = rc->api->opt->max_body;
	size_t hbytes = 0;

	if (rc->sock && rc->sock->uri_len > API_MAX_URI)
		return api_send_error(rc, 414, "uri_too_long", NULL, "the "
		    "request URI is longer than %d bytes", API_MAX_URI);
	MHD_get_connection_values(rc->mc, MHD_HEADER_KIND, header_bytes,
	    &hbytes);
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
query_arg_bad(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
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
 * Last call, first time: route the request and check its body.  Returns
 * 0 when the handler may run, else the status of the answer already sent
 * (ret holds MHD's verdict).
 */
static int
route_request(struct api_conn *rc, enum MHD_Result *ret)
{
	struct api_request *rq = &rc->rq;
	char allow[64];
	const char *ct;
	size_t bad;
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
	MHD_get_connection_values(rc->mc, MHD_GET_ARGUMENT_KIND,
	    query_arg_bad, &badq);
	if (badq) {
		*ret = api_send_error(rc, 400, "bad_request", NULL,
		    "the query string is not valid UTF-8");
		return 400;
	}
	rc->route = api_route_find(api_routes, API_NROUTES, rc->method,
	    rc->path, rq->param, &rq->nparam, allow, sizeof(allow));
	if (rc->route == NULL && allow[0]) {
		api_set_header(rq, "Allow", allow);
		*ret = api_send_error(rc, 405, "method_not_allowed", NULL,
		    "%s is not allowed on %s (allowed: %s)", rc->method,
		    rq->path, allow);
		return 405;
	}
	if (rc->route == NULL) {
		/* field "path": no route, as opposed to no such resource */
		*ret = api_send_error(rc, 404, "not_found", "path",
		    "no such endpoint: %s %s", rc->method, rq->path);
		return 404;
	}
	/* Who may call it, before anything looks at the body. */
	{
		jv denied = jv_invalid();
		int st = api_auth_check(rq, rc->api->opt, rc->route->scope,
		    &denied);

		if (st != 0) {
			*ret = api_send(rc, st, denied);
			return st;
		}
	}
	if (rc->too_large) {
		*ret = too_large(rc);
		return 413;
	}
	rq->body = rc->body.p ? rc->body.p : "";	/* buf keeps a NUL */
	rq->body_len = rc->body.len;
	rq->content_type = MHD_lookup_connection_value(rc->mc,
	    MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	ct = rq->content_type;
	if (rc->route->body == API_BODY_NONE || rq->body_len == 0)
		return 0;
	if (ct && !(rc->route->body == API_BODY_JSON ? json_media_type(ct) :
	    workflow_media_type(ct))) {
		*ret = api_send_error(rc, 415, "unsupported_media_type",
		    "Content-Type", "Content-Type '%s' is not accepted here; "
		    "send %s", ct, rc->route->body == API_BODY_JSON ?
		    "application/json" : "application/yaml or "
		    "application/json");
		return 415;
	}
	if (utf8_check(rq->body, rq->body_len, &bad) < 0) {
		*ret = api_send_error(rc, 400, "bad_request", NULL,
		    "the body is not valid UTF-8 (or holds a NUL byte) at "
		    "byte %zu", bad);
		return 400;
	}
	if (rc->route->body != API_BODY_JSON)
		return 0;
	if (json_depth_check(rq->body, rq->body_len, API_MAX_DEPTH,
	    &bad) < 0) {
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
		    jv_get_kind(msg) == JV_KIND_STRING ?
		    jv_string_value(msg) : "parse error");
		jv_free(msg);
		return 400;
	}
	return 0;
}

static enum MHD_Result
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
		sock_deadline(a, rc->sock, api_mono_ms() +
		    a->opt->request_timeout_ms, 0);
		return on_headers(rc);
	}
	if (*upload_data_size > 0) {
		on_body(rc, upload_data, *upload_data_size);
		*upload_data_size = 0;
		/* A body far over the cap is not worth reading to the end. */
		return rc->discarded > (size_t)a->opt->max_body *
		    API_DISCARD_FACTOR ? MHD_NO : MHD_YES;
	}
	if (!rc->routed) {
		rc->routed = 1;
		sock_deadline(a, rc->sock, 0, 0);	/* all in: answering */
		if (route_request(rc, &ret) != 0)
			return ret;
	}
	pthread_mutex_lock(&a->mu);
	rc->gen_seen = a->gen;
	pthread_mutex_unlock(&a->mu);
	status = rc->route->fn(&rc->rq, &out);
	if (rc->rq.stream != NULL) {	/* api_stream(): answer with it */
		tdb_check_idle(&rc->rq);
		jv_free(out);
		out = jv_invalid();
		if ((status = api_streams_start(a->streams, rc->mc, &rc->rq,
		    &out)) <= 0)
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

static void
on_completed(void *cls, struct MHD_Connection *mc, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct api *a = cls;
	struct api_conn *rc = *con_cls;
	int kick;

	if (rc == NULL)
		return;
	pthread_mutex_lock(&a->mu);
	if (rc->waiting)
		waiter_unlink(a, rc);
	a->inflight--;
	kick = a->stopping && a->inflight == 0;
	pthread_mutex_unlock(&a->mu);
	if (kick)
		efd_kick(a);
	/* Kept alive, it may wait for its next request, but not for ever. */
	sock_deadline(a, rc->sock, api_mono_ms() + a->opt->timeout_s * 1000 +
	    a->opt->request_timeout_ms, 0);
	conn_free(rc);
	*con_cls = NULL;
	api_workflow_cache_release();
	loop_note_work(a->loop);	/* so it trims once quiet */
}

/* ---- listeners ---------------------------------------------------------- */

static char *
sockaddr_url(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[INET6_ADDRSTRLEN];

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return NULL;
	switch (ss.ss_family) {
	case AF_INET: {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		return xasprintf("http://%s:%u", host, ntohs(in->sin_port));
	}
	case AF_INET6: {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		return xasprintf("http://[%s]:%u", host,
		    ntohs(in6->sin6_port));
	}
	case AF_UNIX: {
		struct sockaddr_un *un = (struct sockaddr_un *)&ss;

		return xasprintf("unix:%s", un->sun_path[0] ? un->sun_path :
		    "(unnamed)");
	}
	}
	return NULL;
}

static int
listen_tcp(const char *spec, struct listener *l, char **err)
{
	struct addrinfo hints, *res = NULL, *ai;
	char *host = NULL, *port = NULL;
	int fd = -1, rc, on = 1, saved = 0;

	if (split_hostport(spec, &host, &port) < 0) {
		*err = xasprintf("bad listen address '%s'", spec);
		return -1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		*err = xasprintf("cannot resolve '%s': %s", spec,
		    gai_strerror(rc));
		goto fail;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			saved = errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, SOMAXCONN) == 0)
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	if (fd < 0) {
		*err = xasprintf("cannot listen on %s: %s", spec,
		    strerror(saved ? saved : EADDRNOTAVAIL));
		goto fail;
	}
	l->fd = fd;
	l->url = sockaddr_url(fd);
	freeaddrinfo(res);
	free(host);
	free(port);
	return 0;
fail:
	if (res)
		freeaddrinfo(res);
	free(host);
	free(port);
	return -1;
}

/*
 * A Unix socket at path.  An existing socket file is removed only when
 * nobody answers on it (a crashed instance's leftover); when someone does,
 * another loom-api is running there and we refuse to start.
 */
static int
listen_unix(const char *path, struct listener *l, char **err)
{
	struct sockaddr_un sun;
	struct stat st;
	mode_t old;
	int fd = -1;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		*err = xasprintf("socket path too long: %s", path);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path));
	if (lstat(path, &st) == 0) {
		int probe;

		if (!S_ISSOCK(st.st_mode)) {
			*err = xasprintf("%s exists and is not a socket", path);
			return -1;
		}
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe < 0) {
			*err = xasprintf("socket: %s", strerror(errno));
			return -1;
		}
		if (connect(probe, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
			close(probe);
			*err = xasprintf("another server is already listening "
			    "on %s", path);
			return -1;
		}
		if (errno != ECONNREFUSED) {
			*err = xasprintf("cannot check %s: %s", path,
			    strerror(errno));
			close(probe);
			return -1;
		}
		close(probe);
		log_info("removing stale socket %s", path);
		if (unlink(path) < 0 && errno != ENOENT) {
			*err = xasprintf("cannot remove stale %s: %s", path,
			    strerror(errno));
			return -1;
		}
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*err = xasprintf("socket: %s", strerror(errno));
		return -1;
	}
	/* No window where the socket is wider open than 0660. */
	old = umask(0117);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		umask(old);
		*err = xasprintf("cannot bind %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	umask(old);
	if (chmod(path, 0660) < 0 || listen(fd, SOMAXCONN) < 0) {
		*err = xasprintf("cannot listen on %s: %s", path,
		    strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	l->fd = fd;
	l->url = xasprintf("unix:%s", path);
	l->unlink_path = xstrdup(path);
	return 0;
}

static int
listen_all(struct api *a, char **err)
{
	int n = sd_listen_fds(1);

	if (n > 0) {
		a->ls = xcalloc((size_t)n, sizeof(*a->ls));
		for (int i = 0; i < n; i++) {
			int fd = SD_LISTEN_FDS_START + i;

			if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0) {
				*err = xasprintf("socket activation: fd %d is "
				    "not a listening stream socket", fd);
				return -1;
			}
			fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
			fcntl(fd, F_SETFD, FD_CLOEXEC);
			a->ls[a->nls].fd = fd;
			a->ls[a->nls].url = sockaddr_url(fd);
			a->nls++;
		}
		log_info("using %d socket(s) from systemd", n);
		return 0;
	}
	a->ls = xcalloc(2, sizeof(*a->ls));
	if (a->opt->listen) {
		if (listen_tcp(a->opt->listen, &a->ls[a->nls], err) < 0)
			return -1;
		a->nls++;
	}
	if (a->opt->socket) {
		if (listen_unix(a->opt->socket, &a->ls[a->nls], err) < 0)
			return -1;
		a->nls++;
	}
	return 0;
}

static int
start_daemons(struct api *a, char **err)
{
	const unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD |
	    MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;

	for (size_t i = 0; i < a->nls; i++) {
		struct listener *l = &a->ls[i];

		/* The logger first, so MHD's own option parsing uses it. */
		l->api = a;
		l->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, a,
		    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, a,
		    MHD_OPTION_LISTEN_SOCKET, (MHD_socket)l->fd,
		    MHD_OPTION_THREAD_POOL_SIZE, (unsigned)a->opt->threads,
		    MHD_OPTION_CONNECTION_LIMIT,
		    (unsigned)(a->opt->max_connections +
		    API_CONN_RESERVE(a->opt->max_connections)),
		    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)a->opt->timeout_s,
		    MHD_OPTION_NOTIFY_CONNECTION, on_connection, l,
		    MHD_OPTION_URI_LOG_CALLBACK, on_uri, a,
		    MHD_OPTION_NOTIFY_COMPLETED, on_completed, a,
		    MHD_OPTION_END);
		if (l->d == NULL) {
			*err = xasprintf("cannot start the HTTP server on %s",
			    l->url ? l->url : "?");
			return -1;
		}
	}
	return 0;
}

/* ---- life cycle --------------------------------------------------------- */

static int
check_schema(const char *url, char **err)
{
	PGconn *c = db_connect(url, API_APP_NAME, err);
	int rc;

	if (c == NULL)
		return -1;
	rc = db_schema_check(c, err);
	PQfinish(c);
	return rc;
}

struct api *
api_new(const struct api_options *o, char **err)
{
	static const char *const channels[] = { "loom_event", "loom_log",
		NULL };
	struct api *a = xcalloc(1, sizeof(*a));

	a->opt = o;
	a->efd = -1;
	pthread_mutex_init(&a->mu, NULL);
	if (check_schema(o->db_url, err) < 0)
		goto fail;
	/*
	 * The loop and its signal watches come first: they block the
	 * signals in this thread, and the MHD threads made later inherit
	 * that mask, so a SIGTERM always reaches the loop.
	 */
	if ((a->loop = loop_new()) == NULL) {
		*err = xasprintf("cannot make the event loop: %s",
		    strerror(errno));
		goto fail;
	}
	a->sig[0] = loop_signal_add(a->loop, SIGTERM, on_stop_signal, a);
	a->sig[1] = loop_signal_add(a->loop, SIGINT, on_stop_signal, a);
	a->sig[2] = loop_signal_add(a->loop, SIGHUP, on_hup, a);
	a->wait_timer = loop_timer_new(a->loop, on_wait_timer, a);
	a->drain_timer = loop_timer_new(a->loop, on_drain_timer, a);
	a->sock_timer = loop_timer_new(a->loop, on_sock_timer, a);
	a->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (!a->sig[0] || !a->sig[1] || !a->sig[2] || !a->wait_timer ||
	    !a->drain_timer || !a->sock_timer || a->efd < 0 ||
	    (a->efd_io = loop_io_add(a->loop, a->efd, LOOP_READ, on_efd,
	    a)) == NULL) {
		*err = xasprintf("cannot set up the event loop: %s",
		    strerror(errno));
		goto fail;
	}
	if ((a->streams = api_streams_new(a->loop, o->max_streams,
	    o->heartbeat_ms, err)) == NULL)
		goto fail;
	a->pgl = pglisten_new(a->loop, o->db_url, API_APP_NAME, channels,
	    on_notify, on_listen_connect, a, err);
	if (a->pgl == NULL)
		goto fail;
	if (listen_all(a, err) < 0)
		goto fail;
	nofile_check(a);
	if (start_daemons(a, err) < 0)
		goto fail;
	return a;
fail:
	api_free(a);
	return NULL;
}

int
api_run(struct api *a)
{
	int rc;

	for (size_t i = 0; i < a->nls; i++)
		if (a->ls[i].url)
			api_log(LOG_LVL_INFO, "listening on %s", a->ls[i].url);
	if (a->opt->print_url) {
		const char *first = NULL;

		for (size_t i = 0; i < a->nls && !first; i++)
			if (a->ls[i].url && !strncmp(a->ls[i].url, "http", 4))
				first = a->ls[i].url;
		if (first == NULL && a->nls)
			first = a->ls[0].url;
		printf("%s\n", first ? first : "");
		fflush(stdout);
	}
	loop_notify_ready(a->loop);
	rc = loop_run(a->loop);
	/*
	 * MHD must not be stopped with a suspended connection.  The stop
	 * signal woke every waiter already; this covers a loop that failed,
	 * and stopping = 1 keeps any request from parking again.
	 */
	pthread_mutex_lock(&a->mu);
	a->stopping = 1;
	pthread_mutex_unlock(&a->mu);
	wake_matching(a, NULL);
	api_streams_stop(a->streams);
	for (size_t i = 0; i < a->nls; i++) {
		if (a->ls[i].d)
			MHD_stop_daemon(a->ls[i].d);
		a->ls[i].d = NULL;
	}
	api_log(LOG_LVL_INFO, "stopped");
	return rc < 0 ? 1 : rc;
}

void
api_free(struct api *a)
{
	if (a == NULL)
		return;
	for (size_t i = 0; i < a->nls; i++) {
		struct listener *l = &a->ls[i];

		if (l->d)
			MHD_stop_daemon(l->d);
		if (l->fd >= 0)
			close(l->fd);
		if (l->unlink_path)
			unlink(l->unlink_path);
		free(l->unlink_path);
		free(l->url);
	}
	free(a->ls);
	pglisten_free(a->pgl);
	api_streams_free(a->streams);
	loop_io_del(a->efd_io);
	if (a->efd >= 0)
		close(a->efd);
	loop_timer_del(a->wait_timer);
	loop_timer_del(a->drain_timer);
	loop_timer_del(a->sock_timer);
	for (size_t i = 0; i < 3; i++)
		loop_signal_del(a->sig[i]);
	loop_free(a->loop);
	pthread_mutex_destroy(&a->mu);
	free(a);
}
