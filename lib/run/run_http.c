/*
 * run_http: HTTP callbacks to user backends on libcurl's multi interface.
 *
 * One multi handle per runner, so connections are kept alive and reused
 * across tasks, with at most cfg->max_host_connections per host (curl
 * queues the rest).  curl tells us which sockets to watch
 * (CURLMOPT_SOCKETFUNCTION -> one loop io watch per socket, stored with
 * curl_multi_assign) and when to call it back (CURLMOPT_TIMERFUNCTION ->
 * one loop timer); readiness and the timer feed curl_multi_socket_action(),
 * and finished transfers are collected with curl_multi_info_read().  There
 * is no polling loop of our own.
 *
 * A transfer sends the protocol envelope (or the task's own "body"), the
 * headers of loom-exec(8), and keeps at most RUNNER_MAX_RESPONSE_BYTES of
 * answer; the answer is interpreted by runner_parse_response().  The task
 * timeout is CURLOPT_TIMEOUT_MS, which covers connecting, sending and
 * waiting for the answer.
 *
 * curl silently sends a request again, on another connection and up to
 * five times, when a reused connection closes without an answer: the
 * backend would get one attempt (one Idempotency-Key) several times,
 * outside the task's retry policy.  So the pre-request callback lets a
 * transfer be sent once: curl's second try is aborted, and the attempt
 * fails with a ConnectionException that the policy decides about.  (A
 * read callback that cannot rewind has the same effect, but then curl
 * sends the body in a TCP segment of its own, and the backend wakes
 * twice per request; given CURLOPT_POSTFIELDS, one segment carries
 * both.)  Easy handles are kept for reuse, with their buffers.
 */
#define LOOM_RUNNER_INTERNAL
#include "runner.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "util/log.h"
#include "net/sign.h"
#include "core/xalloc.h"

/* One per socket curl asked us to watch; found again by curl_multi_assign. */
struct http_sock {
	struct run_http *h;
	curl_socket_t fd;
	struct loop_io *io;
	struct http_sock *prev, *next;
};

struct run_http {
	struct loop *loop;
	const struct runner_config *cfg; /* the runner's; outlives us */
	CURLM *multi;
	struct loop_timer *timer;
	struct loop_defer *soon; /* curl's "0 ms": no timerfd round */
	struct http_sock *socks; /* watched sockets */
	int running;
	CURL **idle; /* easy handles kept for reuse */
	size_t nidle, idle_cap;
};

/* Easy handles kept for the next transfers; beyond this, freed. */
#define HTTP_IDLE_MAX 1024

struct http_xfer {
	struct run_http *h;
	struct runner_job *job;
	CURL *easy;
	struct curl_slist *headers;
	char *url;
	const char *body; /* request body: own_body or the job's
			   * envelope (the job outlives us); curl
			   * borrows it */
	char *own_body;	  /* the task's own body */
	size_t body_len;
	int sent;     /* times curl was about to send it (> 1:
		       * curl's resend, refused) */
	int protocol; /* 1: envelope sent, protocol answer expected */
	char *resp;
	size_t resp_len, resp_cap;
	int too_big;
	char errbuf[CURL_ERROR_SIZE];
};

static void http_check_done(struct run_http *h);

static void
http_action(struct run_http *h, curl_socket_t fd, int flags)
{
	curl_multi_socket_action(h->multi, fd, flags, &h->running);
	http_check_done(h);
}

static void
http_on_timer(struct loop_timer *t, void *arg)
{
	(void)t;
	http_action(arg, CURL_SOCKET_TIMEOUT, 0);
}

static void
http_on_soon(struct loop_defer *d, void *arg)
{
	(void)d;
	http_on_timer(NULL, arg);
}

static void
http_on_socket(struct loop_io *io, int fd, unsigned events, void *arg)
{
	struct run_http *h = arg;
	int flags = 0;

	(void)io;
	if (events & LOOP_READ)
		flags |= CURL_CSELECT_IN;
	if (events & LOOP_WRITE)
		flags |= CURL_CSELECT_OUT;
	if (events & LOOP_ERROR)
		flags |= CURL_CSELECT_ERR;
	http_action(h, fd, flags);
}

static void
http_sock_del(struct run_http *h, struct http_sock *hs)
{
	if (hs->prev)
		hs->prev->next = hs->next;
	else
		h->socks = hs->next;
	if (hs->next)
		hs->next->prev = hs->prev;
	loop_io_del(hs->io);
	free(hs);
}

/* CURLMOPT_SOCKETFUNCTION: socketp is our http_sock for s, or NULL. */
static int
http_socket_cb(
    CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct run_http *h = userp;
	struct http_sock *hs = socketp;
	unsigned ev = 0;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (hs != NULL) {
			curl_multi_assign(h->multi, s, NULL);
			http_sock_del(h, hs);
		}
		return 0;
	}
	if (what & CURL_POLL_IN)
		ev |= LOOP_READ;
	if (what & CURL_POLL_OUT)
		ev |= LOOP_WRITE;
	if (hs == NULL) {
		hs = xcalloc(1, sizeof(*hs));
		hs->h = h;
		hs->fd = s;
		if ((hs->io = loop_io_add(h->loop, s, ev, http_on_socket, h)) ==
		    NULL) {
			log_warn("run_http: cannot watch socket %d", (int)s);
			free(hs);
			return -1;
		}
		hs->next = h->socks;
		if (h->socks)
			h->socks->prev = hs;
		h->socks = hs;
		curl_multi_assign(h->multi, s, hs);
	} else if (loop_io_set(hs->io, ev) == -1) {
		log_warn("run_http: cannot change watch on socket %d", (int)s);
		return -1;
	}
	return 0;
}

/*
 * CURLMOPT_TIMERFUNCTION: -1 stops the timer, 0 means "soon".  curl asks
 * for 0 with every transfer it starts: that is a deferred call, not a
 * timer (re-arming the timerfd for each was a sixth of loom-exec's time
 * in a large fan-out).  A deferred call that comes when it is no longer
 * wanted only makes curl look at its timeouts.
 */
static int
http_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct run_http *h = userp;

	(void)multi;
	if (timeout_ms < 0) {
		loop_timer_stop(h->timer);
		return 0;
	}
	if (timeout_ms == 0) {
		loop_timer_stop(h->timer);
		return loop_defer_arm(h->soon) == -1 ? -1 : 0;
	}
	return loop_timer_after(h->timer, timeout_ms) == -1 ? -1 : 0;
}

struct run_http *
run_http_new(struct loop *loop, const struct runner_config *cfg)
{
	struct run_http *h;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		errno = ENOMEM;
		return NULL;
	}
	h = xcalloc(1, sizeof(*h));
	h->loop = loop;
	h->cfg = cfg;
	h->timer = loop_timer_new(loop, http_on_timer, h);
	h->soon = loop_defer_new(loop, http_on_soon, h);
	if ((h->multi = curl_multi_init()) == NULL) {
		loop_timer_del(h->timer);
		loop_defer_del(h->soon);
		free(h);
		curl_global_cleanup();
		errno = ENOMEM;
		return NULL;
	}
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, http_socket_cb);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, http_timer_cb);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
	    (long)cfg->max_host_connections);
	return h;
}

static void
xfer_free(struct http_xfer *x)
{
	if (x == NULL)
		return;
	if (x->easy) {
		struct run_http *h = x->h;

		curl_multi_remove_handle(h->multi, x->easy);
		if (h->nidle < HTTP_IDLE_MAX) {
			/* keeps its buffers; forgets this transfer's options */
			curl_easy_reset(x->easy);
			if (h->nidle == h->idle_cap) {
				h->idle_cap =
				    h->idle_cap ? h->idle_cap * 2 : 64;
				h->idle = xreallocarray(
				    h->idle, h->idle_cap, sizeof(*h->idle));
			}
			h->idle[h->nidle++] = x->easy;
		} else
			curl_easy_cleanup(x->easy);
	}
	curl_slist_free_all(x->headers);
	free(x->url);
	free(x->own_body);
	free(x->resp);
	free(x);
}

void
run_http_free(struct run_http *h)
{
	if (h == NULL)
		return;
	/*
	 * Jobs were cancelled by runner_free(); no easy handle is left.  The
	 * cleanup closes cached connections without always telling the
	 * socket callback, so drop our watches first, while the fds are
	 * still open, and unhook them from curl.
	 */
	while (h->socks != NULL) {
		curl_multi_assign(h->multi, h->socks->fd, NULL);
		http_sock_del(h, h->socks);
	}
	while (h->nidle > 0)
		curl_easy_cleanup(h->idle[--h->nidle]);
	free(h->idle);
	curl_multi_cleanup(h->multi);
	loop_timer_del(h->timer);
	loop_defer_del(h->soon);
	free(h);
	curl_global_cleanup();
}

static size_t
http_write_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	struct http_xfer *x = userp;
	size_t n = size * nmemb;

	if (x->resp_len + n > RUNNER_MAX_RESPONSE_BYTES) {
		x->too_big = 1;
		return 0; /* curl fails the transfer: CURLE_WRITE_ERROR */
	}
	if (x->resp_len + n + 1 > x->resp_cap) {
		size_t cap = x->resp_cap ? x->resp_cap : 4096;

		while (cap < x->resp_len + n + 1)
			cap *= 2;
		x->resp = xreallocarray(x->resp, cap, 1);
		x->resp_cap = cap;
	}
	memcpy(x->resp + x->resp_len, data, n);
	x->resp_len += n;
	x->resp[x->resp_len] = '\0';
	return n;
}

/*
 * CURLOPT_PREREQFUNCTION: curl is about to send the request.  The
 * second time for one transfer is curl's silent resend (see the top of
 * the file): refuse it, and the attempt fails as a connection error.
 */
static int
http_prereq(void *arg, char *ip, char *local_ip, int port, int local_port)
{
	struct http_xfer *x = arg;

	(void)ip, (void)local_ip, (void)port, (void)local_port;
	return x->sent++ > 0 ? CURL_PREREQFUNC_ABORT : CURL_PREREQFUNC_OK;
}

enum errclass
runner_curl_errclass(int code)
{
	switch ((CURLcode)code) {
	case CURLE_OK:
		return ERR_NONE;
	case CURLE_OPERATION_TIMEDOUT:
		return ERR_TIMEOUT;
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_GOT_NOTHING:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_HTTP3:
	case CURLE_QUIC_CONNECT_ERROR:
	case CURLE_PROXY:
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_SEND_FAIL_REWIND: /* closed without an answer */
		return ERR_CONNECTION;
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_BAD_FUNCTION_ARGUMENT:
		return ERR_VALIDATION;
	default:
		/* TLS verification, write errors (response too large), …:
		 * nothing a retry would fix on its own. */
		return ERR_TASK_FAILED;
	}
}

/* An HTTP header name: RFC 9110 token characters. */
static int
header_name_ok(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) &&
		    !strchr("!#$%&'*+-.^_`|~", *s))
			return 0;
	return 1;
}

static int
header_value_ok(const char *s)
{
	for (; *s; s++)
		if (*s == '\r' || *s == '\n' || *s == '\0')
			return 0;
	return 1;
}

/* Protocol headers a task may not replace. */
static int
header_reserved(const char *name)
{
	return strcasecmp(name, "Idempotency-Key") == 0 ||
	    strcasecmp(name, "traceparent") == 0 ||
	    strcasecmp(name, SIGN_TS_HEADER) == 0 ||
	    strcasecmp(name, SIGN_SIG_HEADER) == 0;
}

/*
 * Builds the header list.  Returns 0, or -1 with *err set (a bad header
 * in the task).
 */
static int
xfer_headers(struct http_xfer *x, jv task, char **err)
{
	struct runner_job *j = x->job;
	jv hdrs = jv_object_get(jv_copy(task), jv_string("headers"));
	int own_ct = 0, own_ua = 0;
	char *line;

	if (jv_get_kind(hdrs) == JV_KIND_OBJECT) {
		jv_object_foreach(hdrs, k, v)
		{
			const char *name = jv_string_value(k);
			jv val = jv_get_kind(v) == JV_KIND_STRING ?
			    jv_copy(v) :
			    jv_dump_string(jv_copy(v), 0);

			if (!header_name_ok(name) ||
			    !header_value_ok(jv_string_value(val))) {
				*err =
				    xasprintf("bad header \"%s\" (names "
					      "are tokens, values have no line "
					      "breaks)",
					name);
			} else if (header_reserved(name)) {
				*err = xasprintf(
				    "header \"%s\" is set by "
				    "Link Loom and cannot be overridden",
				    name);
			} else {
				if (strcasecmp(name, "Content-Type") == 0)
					own_ct = 1;
				if (strcasecmp(name, "User-Agent") == 0)
					own_ua = 1;
				line = xasprintf(
				    "%s: %s", name, jv_string_value(val));
				x->headers =
				    curl_slist_append(x->headers, line);
				free(line);
			}
			jv_free(val);
			jv_free(k);
			jv_free(v);
			if (*err != NULL)
				break;
		}
	}
	jv_free(hdrs);
	if (*err != NULL)
		return -1;
	if (!own_ct)
		x->headers = curl_slist_append(
		    x->headers, "Content-Type: application/json");
	if (!own_ua)
		curl_easy_setopt(
		    x->easy, CURLOPT_USERAGENT, x->h->cfg->user_agent);
	line = xasprintf("Idempotency-Key: %s/%s/%d", j->execution_id,
	    j->task_id, j->attempt);
	x->headers = curl_slist_append(x->headers, line);
	free(line);
	line = xasprintf("traceparent: %s", j->traceparent);
	x->headers = curl_slist_append(x->headers, line);
	free(line);
	x->headers = curl_slist_append(x->headers, "Accept: application/json");
	/* No "Expect: 100-continue" round trip for large bodies. */
	x->headers = curl_slist_append(x->headers, "Expect:");
	return 0;
}

static char *
task_str(jv task, const char *key, const char *def)
{
	jv v = jv_object_get(jv_copy(task), jv_string(key));
	char *s = xstrdup(
	    jv_get_kind(v) == JV_KIND_STRING ? jv_string_value(v) : def);

	jv_free(v);
	return s;
}

static void
fail_job(struct runner_job *j, enum errclass c, const char *msg)
{
	runner_job_finish(j,
	    JV_OBJECT(jv_string("status"), jv_string("FAILED"),
		jv_string("error"), runner_error(c, "%s", msg)));
}

/*
 * What the request sends: the task's own "body" (a string as is, JSON as
 * JSON), or else the envelope of the protocol (borrowed from the job).
 */
static void
xfer_body(struct http_xfer *x, struct runner_job *j)
{
	jv body;

	body = jv_object_get(jv_copy(j->task), jv_string("body"));
	if (jv_is_valid(body) && jv_get_kind(body) != JV_KIND_NULL) {
		/* The task's own body: a string goes as is, JSON as JSON. */
		jv s = jv_get_kind(body) == JV_KIND_STRING ?
		    body :
		    jv_dump_string(body, 0);

		x->body_len = (size_t)jv_string_length_bytes(jv_copy(s));
		x->body = x->own_body =
		    xstrndup(jv_string_value(s), x->body_len);
		jv_free(s);
		x->protocol = 0;
	} else {
		jv_free(body);
		x->body_len = j->envelope_len;
		x->body = j->envelope;
		x->protocol = 1;
	}
}

/*
 * Signing (lib/net/sign.h): over the bytes sent; none for GET/HEAD.
 * Returns -1 with *err set when the task's signing settings are wrong.
 */
static int
xfer_sign(
    struct http_xfer *x, struct runner_job *j, const char *method, char **err)
{
	int nobody = !strcmp(method, "GET") || !strcmp(method, "HEAD");
	char *sig[2];

	if (sign_task_headers(j->task, nobody ? "" : x->body,
		nobody ? 0 : x->body_len, time(NULL), sig, err) == -1)
		return -1;
	for (int i = 0; i < 2 && sig[i] != NULL; i++) {
		x->headers = curl_slist_append(x->headers, sig[i]);
		free(sig[i]);
	}
	return 0;
}

/* The transfer's curl options; method is in upper case. */
static void
xfer_setopt(struct http_xfer *x, struct runner_job *j, const char *method)
{
	curl_easy_setopt(x->easy, CURLOPT_URL, x->url);
	curl_easy_setopt(x->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->headers);
	curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
	curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, http_write_cb);
	curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(x->easy, CURLOPT_PREREQFUNCTION, http_prereq);
	curl_easy_setopt(x->easy, CURLOPT_PREREQDATA, x);
	curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, (long)j->timeout_ms);
	curl_easy_setopt(x->easy, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(x->easy, CURLOPT_ACCEPT_ENCODING, "");
	if (strcmp(method, "GET") == 0) {
		curl_easy_setopt(x->easy, CURLOPT_HTTPGET, 1L);
	} else if (strcmp(method, "HEAD") == 0) {
		curl_easy_setopt(x->easy, CURLOPT_NOBODY, 1L);
	} else {
		curl_easy_setopt(x->easy, CURLOPT_POST, 1L);
		curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)x->body_len);
		curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, x->body);
		if (strcmp(method, "POST") != 0)
			curl_easy_setopt(
			    x->easy, CURLOPT_CUSTOMREQUEST, method);
	}
}

void
run_http_start(struct run_http *h, struct runner_job *j)
{
	struct http_xfer *x;
	char *method = NULL, *err = NULL;
	CURLMcode mc;

	x = xcalloc(1, sizeof(*x));
	x->h = h;
	x->job = j;
	if (h->nidle > 0)
		x->easy = h->idle[--h->nidle];
	else if ((x->easy = curl_easy_init()) == NULL) {
		fail_job(j, ERR_TASK_FAILED, "cannot create a curl handle");
		goto fail;
	}
	x->url = task_str(j->task, "url", "");
	method = task_str(j->task, "method", "POST");
	for (char *p = method; *p; p++)
		*p = (char)toupper((unsigned char)*p);

	xfer_body(x, j);

	if (xfer_headers(x, j->task, &err) == -1) {
		fail_job(j, ERR_VALIDATION, err);
		goto fail;
	}
	if (xfer_sign(x, j, method, &err) == -1) {
		fail_job(j, ERR_VALIDATION, err);
		goto fail;
	}
	xfer_setopt(x, j, method);
	if ((mc = curl_multi_add_handle(h->multi, x->easy)) != CURLM_OK) {
		fail_job(j, ERR_TASK_FAILED, curl_multi_strerror(mc));
		goto fail;
	}
	j->xfer = x;
	free(method);
	return;
fail:
	free(err);
	free(method);
	xfer_free(x);
}

void
run_http_cancel(struct run_http *h, struct runner_job *j)
{
	(void)h;
	xfer_free(j->xfer);
	j->xfer = NULL;
}

/* Turns a finished transfer into a partial result. */
static jv
xfer_result(struct http_xfer *x, CURLcode code)
{
	struct runner_job *j = x->job;
	long status = 0;
	enum errclass c;
	jv res;
	const char *why;

	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
	if (code == CURLE_OK) {
		res = runner_parse_response(
		    (int)status, x->resp, x->resp_len, x->protocol);
		return jv_object_set(
		    res, jv_string("httpStatus"), jv_number(status));
	}
	/* A resend refused (http_prereq()) is what a read callback that
	 * cannot rewind would have made of it. */
	if (x->sent > 1)
		code = CURLE_SEND_FAIL_REWIND;
	why = code == CURLE_SEND_FAIL_REWIND ?
	    "the connection closed without an answer" :
	    x->errbuf[0] ? x->errbuf :
			   curl_easy_strerror(code);
	if (x->too_big) {
		res = JV_OBJECT(jv_string("status"), jv_string("FAILED"),
		    jv_string("error"),
		    runner_error(ERR_TASK_FAILED,
			"response from %s is larger than %u bytes", x->url,
			RUNNER_MAX_RESPONSE_BYTES));
	} else if ((c = runner_curl_errclass(code)) == ERR_TIMEOUT) {
		char d[32];

		snprintf(d, sizeof(d), "%lldms", (long long)j->timeout_ms);
		res = JV_OBJECT(jv_string("status"), jv_string("FAILED"),
		    jv_string("error"),
		    runner_error(c,
			"no answer from %s "
			"within the task timeout (%s): %s",
			x->url, d, why));
	} else {
		res = JV_OBJECT(jv_string("status"), jv_string("FAILED"),
		    jv_string("error"),
		    runner_error(c, "%s %s: %s",
			c == ERR_CONNECTION ? "cannot reach" : "request to",
			x->url, why));
	}
	if (status > 0)
		res = jv_object_set(
		    res, jv_string("httpStatus"), jv_number(status));
	return res;
}

static void
http_check_done(struct run_http *h)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(h->multi, &left)) != NULL) {
		struct http_xfer *x;
		struct runner_job *j;
		char *priv = NULL;
		jv res;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
		x = (struct http_xfer *)priv;
		/* msg is invalid once the handle is removed: read it first. */
		res = xfer_result(x, msg->data.result);
		j = x->job;
		j->xfer = NULL;
		xfer_free(x);
		runner_job_finish(j, res);
	}
}
