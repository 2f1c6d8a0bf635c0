/*
 * client: see client.h.  A thin, blocking layer over libcurl's easy
 * interface, which is all a command line needs: one request at a time,
 * one connection kept alive between them.
 *
 * The easy handle is reset before every request (curl_easy_reset keeps
 * the connection cache), so no option of one call leaks into the next.
 * The reply is collected into a growing buffer capped at
 * CLIENT_MAX_REPLY.  curl's failure codes are folded into three errno
 * values: the CLI only needs to know whether the server could be reached.
 */
#include "client.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "sse.h"
#include "core/xalloc.h"

#ifndef LOOM_VERSION
#define LOOM_VERSION "dev"
#endif

struct client {
	CURL *curl;
	char *base;	/* as given */
	char *prefix;	/* URL prefix requests are built on */
	char *sockpath; /* Unix socket path, or NULL for TCP */
	long timeout_ms;
	char *auth; /* "Authorization: Bearer ..." line, or NULL */
	char errbuf[CURL_ERROR_SIZE];
};

struct buf {
	char *p;
	size_t len;
	size_t cap;
	int too_big;
};

struct client *
client_new(const char *base, char **err)
{
	struct client *c;
	size_t n;

	if (base == NULL || *base == '\0') {
		*err = xstrdup("empty API address");
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	c->base = xstrdup(base);
	c->timeout_ms = CLIENT_DEFAULT_TIMEOUT_MS;
	if (strncmp(base, "unix:", 5) == 0) {
		if (base[5] != '/') {
			*err = xasprintf("bad API address '%s': expected "
					 "unix:/absolute/path",
			    base);
			goto fail;
		}
		c->sockpath = xstrdup(base + 5);
		c->prefix = xstrdup("http://localhost");
	} else if (strncmp(base, "http://", 7) == 0 ||
	    strncmp(base, "https://", 8) == 0) {
		/* "http://h:p/" and "http://h:p" both work with "/api/..." */
		n = strlen(base);
		while (n > 0 && base[n - 1] == '/')
			n--;
		c->prefix = xstrndup(base, n);
		if (strchr(c->prefix + (base[4] == 's' ? 8 : 7), '/')) {
			*err = xasprintf("bad API address '%s': expected "
					 "http://HOST:PORT without a path",
			    base);
			goto fail;
		}
	} else {
		*err = xasprintf("bad API address '%s': expected "
				 "http://HOST:PORT or unix:/path",
		    base);
		goto fail;
	}
	if ((c->curl = curl_easy_init()) == NULL) {
		*err = xstrdup("cannot initialise libcurl");
		goto fail;
	}
	return c;
fail:
	client_free(c);
	return NULL;
}

void
client_free(struct client *c)
{
	if (c == NULL)
		return;
	if (c->curl)
		curl_easy_cleanup(c->curl);
	free(c->base);
	free(c->prefix);
	free(c->sockpath);
	if (c->auth)
		explicit_bzero(c->auth, strlen(c->auth));
	free(c->auth);
	free(c);
}

const char *
client_base(const struct client *c)
{
	return c->base;
}

void
client_set_timeout(struct client *c, long ms)
{
	c->timeout_ms = ms < 0 ? 0 : ms;
}

int
client_set_token(struct client *c, const char *token)
{
	if (c->auth)
		explicit_bzero(c->auth, strlen(c->auth));
	free(c->auth);
	c->auth = NULL;
	if (token == NULL || *token == '\0')
		return 0;
	for (const char *p = token; *p; p++)
		if ((unsigned char)*p < 0x21 || *p == 0x7f) {
			errno = EINVAL;
			return -1;
		}
	c->auth = xasprintf("Authorization: Bearer %s", token);
	return 0;
}

static size_t
collect(char *data, size_t size, size_t nmemb, void *arg)
{
	struct buf *b = arg;
	size_t n = size * nmemb;

	if (b->len + n > CLIENT_MAX_REPLY) {
		b->too_big = 1;
		return 0; /* makes curl fail with CURLE_WRITE_ERROR */
	}
	if (b->len + n + 1 > b->cap) {
		while (b->len + n + 1 > b->cap)
			b->cap = b->cap ? b->cap * 2 : 4096;
		b->p = xreallocarray(b->p, b->cap, 1);
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return n;
}

/* Maps a curl failure to the errno of client_request(). */
static int
transport_errno(struct client *c, CURLcode rc)
{
	curl_off_t connect_us = 0, pretransfer_us = 0;

	switch (rc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return ECONNREFUSED;
	case CURLE_OPERATION_TIMEDOUT:
		/*
		 * Timing out before the connection was made is "could not
		 * connect" too (a firewall dropping packets).  A reused
		 * connection has no connect time, but it has a pretransfer
		 * time: the request went out.
		 */
		curl_easy_getinfo(
		    c->curl, CURLINFO_CONNECT_TIME_T, &connect_us);
		curl_easy_getinfo(
		    c->curl, CURLINFO_PRETRANSFER_TIME_T, &pretransfer_us);
		return connect_us == 0 && pretransfer_us == 0 ? ECONNREFUSED :
								ETIMEDOUT;
	default:
		return EPROTO;
	}
}

static jv
parse_reply(const struct buf *b)
{
	jv v;

	if (b->len == 0)
		return jv_null();
	v = jv_parse_sized(b->p, (int)b->len);
	if (jv_is_valid(v))
		return v;
	jv_free(v);
	return jv_string_sized(b->p, (int)b->len);
}

/*
 * Readies c->curl for one request of method to url, the reply going into
 * b and data (len bytes of ctype; NULL: no body) going out.  Returns the
 * header list, which the caller frees once the transfer is over.
 */
static struct curl_slist *
request_setup(struct client *c, const char *url, const char *method,
    const char *ctype, const char *data, size_t len, struct buf *b)
{
	struct curl_slist *hdrs = NULL;
	char *h;

	curl_easy_reset(c->curl);
	c->errbuf[0] = '\0';
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	curl_easy_setopt(c->curl, CURLOPT_USERAGENT, "loom/" LOOM_VERSION);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, b);
	if (c->sockpath)
		curl_easy_setopt(
		    c->curl, CURLOPT_UNIX_SOCKET_PATH, c->sockpath);
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	/* No "Expect: 100-continue" round trip for bigger bodies. */
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (c->auth)
		hdrs = curl_slist_append(hdrs, c->auth);
	if (data != NULL) {
		h = xasprintf("Content-Type: %s",
		    ctype ? ctype : "application/octet-stream");
		hdrs = curl_slist_append(hdrs, h);
		free(h);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, data);
		curl_easy_setopt(
		    c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	} else if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD")) {
		/* A bodyless POST still says so: Content-Length: 0. */
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(
		    c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
	}
	if (strcmp(method, "GET") == 0)
		curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
	else if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c->curl, CURLOPT_NOBODY, 1L);
	else if (strcmp(method, "POST") != 0)
		curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, hdrs);
	return hdrs;
}

/*
 * What went wrong with a transfer that ended in rc (saved: its errno, see
 * transport_errno()), as an invalid jv with a message for people.
 */
static jv
request_failure(struct client *c, CURLcode rc, int saved, const struct buf *b)
{
	if (b->too_big)
		return jv_invalid_with_msg(
		    jv_string_fmt("the reply from %s "
				  "is larger than %u bytes",
			c->base, CLIENT_MAX_REPLY));
	if (saved == ECONNREFUSED && c->sockpath)
		/* curl would say "localhost port 80": say what is wrong
		 * with the socket instead. */
		return jv_invalid_with_msg(jv_string_fmt("cannot connect to "
							 "%s: %s",
		    c->base,
		    access(c->sockpath, F_OK) < 0 ?
			strerror(errno) :
			"nothing is listening on that socket"));
	return jv_invalid_with_msg(jv_string_fmt("%s %s: %s",
	    saved == ECONNREFUSED ? "cannot connect to" : "request to", c->base,
	    c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc)));
}

int
client_request(struct client *c, const char *method, const char *path,
    const char *ctype, const char *data, size_t len, jv *reply)
{
	struct curl_slist *hdrs;
	struct buf b = { NULL, 0, 0, 0 };
	char *url = xasprintf("%s%s", c->prefix, path);
	CURLcode rc;
	long status = 0;
	int saved;

	hdrs = request_setup(c, url, method, ctype, data, len, &b);
	rc = curl_easy_perform(c->curl);
	if (rc != CURLE_OK) {
		saved = transport_errno(c, rc);
		*reply = request_failure(c, rc, saved, &b);
		free(b.p);
		free(url);
		curl_slist_free_all(hdrs);
		errno = saved;
		return -1;
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
	*reply = parse_reply(&b);
	free(b.p);
	free(url);
	curl_slist_free_all(hdrs);
	return (int)status;
}

int
client_json(
    struct client *c, const char *method, const char *path, jv body, jv *reply)
{
	jv s;
	int rc;

	if (!jv_is_valid(body)) {
		jv_free(body);
		return client_request(c, method, path, NULL, NULL, 0, reply);
	}
	s = jv_dump_string(body, 0);
	rc = client_request(c, method, path, "application/json",
	    jv_string_value(s), (size_t)jv_string_length_bytes(jv_copy(s)),
	    reply);
	jv_free(s);
	return rc;
}

char *
client_error_message(int status, jv reply)
{
	char *out;

	if (!jv_is_valid(reply)) {
		jv msg = jv_invalid_get_msg(reply);

		out = jv_get_kind(msg) == JV_KIND_STRING ?
		    xstrdup(jv_string_value(msg)) :
		    xstrdup("request failed");
		jv_free(msg);
		return out;
	}
	if (jv_get_kind(reply) == JV_KIND_OBJECT) {
		jv m = jv_getpath(jv_copy(reply),
		    JV_ARRAY(jv_string("error"), jv_string("message")));

		if (jv_get_kind(m) == JV_KIND_STRING) {
			out = xstrdup(jv_string_value(m));
			jv_free(m);
			jv_free(reply);
			return out;
		}
		jv_free(m);
	}
	if (jv_get_kind(reply) == JV_KIND_STRING) {
		const char *s = jv_string_value(reply);
		size_t n = strcspn(s, "\r\n");

		out = xasprintf(
		    "HTTP %d: %.*s", status, (int)(n > 200 ? 200 : n), s);
	} else
		out = xasprintf("HTTP %d", status);
	jv_free(reply);
	return out;
}

char *
client_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = xmalloc(strlen(s) * 3 + 1), *o = out;

	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' ||
		    ch == '_' || ch == '~') {
			*o++ = (char)ch;
		} else {
			*o++ = '%';
			*o++ = hex[ch >> 4];
			*o++ = hex[ch & 15];
		}
	}
	*o = '\0';
	return out;
}

/* ---- server-sent events --------------------------------------------------
 *
 * client_stream() runs one transfer per connection; the write callback
 * feeds the body to an SSE parser (lib/net/sse.h) whose messages go to the
 * caller's callback, or collects it when the answer is an error.  When
 * the caller says stop, the write callback refuses the data, which ends
 * the transfer at once.  Anything else that ends a transfer is a dropped
 * connection: it is made again with Last-Event-ID.
 */

struct stream_state {
	struct client *c;
	struct sse_parser *p;
	client_event_cb *cb;
	void *arg;
	struct buf body; /* an error answer */
	long status;	 /* of this connection; 0 until known */
	size_t got;	 /* event bytes on this connection */
	int stopped;	 /* the callback ended it */
	int too_long;	 /* the parser failed */
};

static int
stream_msg(void *arg, const struct sse_msg *m)
{
	struct stream_state *st = arg;
	struct client_event ev = { m->id, m->event, m->data };

	return st->cb(st->arg, &ev);
}

static size_t
stream_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct stream_state *st = arg;
	size_t n = size * nmemb;
	int rc;

	if (st->status == 0)
		curl_easy_getinfo(
		    st->c->curl, CURLINFO_RESPONSE_CODE, &st->status);
	if (st->status != 200)
		return collect(data, size, nmemb, &st->body);
	st->got += n;
	if ((rc = sse_feed(st->p, data, n, stream_msg, st)) == 0)
		return n;
	if (rc < 0)
		st->too_long = 1;
	else
		st->stopped = 1;
	return 0; /* ends the transfer (CURLE_WRITE_ERROR) */
}

static int64_t
client_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One connection: the transfer's curl code. */
static CURLcode
stream_connect(struct client *c, const char *url, struct stream_state *st)
{
	struct curl_slist *hdrs = NULL;
	const char *last = sse_parser_last_id(st->p);
	char *h;
	CURLcode rc;

	curl_easy_reset(c->curl);
	c->errbuf[0] = '\0';
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(
	    c->curl, CURLOPT_LOW_SPEED_TIME, CLIENT_STREAM_STALL_S);
	curl_easy_setopt(c->curl, CURLOPT_USERAGENT, "loom/" LOOM_VERSION);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, stream_write);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, st);
	curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
	if (c->sockpath)
		curl_easy_setopt(
		    c->curl, CURLOPT_UNIX_SOCKET_PATH, c->sockpath);
	hdrs = curl_slist_append(hdrs, "Accept: text/event-stream");
	hdrs = curl_slist_append(hdrs, "Cache-Control: no-cache");
	if (c->auth)
		hdrs = curl_slist_append(hdrs, c->auth);
	if (*last && strcspn(last, "\r\n") == strlen(last)) {
		h = xasprintf("Last-Event-ID: %s", last);
		hdrs = curl_slist_append(hdrs, h);
		free(h);
	}
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, hdrs);
	st->status = 0;
	st->got = 0;
	st->body.len = 0;
	rc = curl_easy_perform(c->curl);
	curl_slist_free_all(hdrs);
	if (st->status == 0)
		curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &st->status);
	return rc;
}

int
client_stream(struct client *c, const char *path, client_event_cb *cb,
    void *arg, jv *reply)
{
	struct stream_state st;
	char *url = xasprintf("%s%s", c->prefix, path);
	int64_t failing_since = 0;
	long wait_ms = 0;
	int connected = 0, rc, saved;
	CURLcode cc;

	memset(&st, 0, sizeof(st));
	st.c = c;
	st.p = sse_parser_new();
	st.cb = cb;
	st.arg = arg;
	for (;;) {
		cc = stream_connect(c, url, &st);
		if (st.stopped) {
			*reply = jv_null();
			rc = 200;
			break;
		}
		if (st.too_long) {
			*reply = jv_invalid_with_msg(jv_string_fmt(
			    "the event "
			    "stream from %s has a line longer than %u bytes",
			    c->base, SSE_MAX_LINE));
			errno = EPROTO;
			rc = -1;
			break;
		}
		if (st.status != 0 && st.status != 200) {
			*reply = parse_reply(&st.body);
			rc = (int)st.status;
			break;
		}
		if (st.status == 200)
			connected = 1;
		if (st.got > 0) {
			failing_since = 0; /* it was working: come back */
			wait_ms = 0;
		} else if (failing_since == 0)
			failing_since = client_mono_ms();
		if (!connected ||
		    (failing_since &&
			client_mono_ms() - failing_since >
			    CLIENT_STREAM_GIVE_UP_MS)) {
			saved =
			    cc == CURLE_OK ? EPROTO : transport_errno(c, cc);
			*reply = jv_invalid_with_msg(jv_string_fmt("%s %s: %s",
			    saved == ECONNREFUSED ? "cannot connect to" :
						    "event stream from",
			    c->base,
			    cc == CURLE_OK   ? "the server closed the stream" :
				c->errbuf[0] ? c->errbuf :
					       curl_easy_strerror(cc)));
			errno = saved;
			rc = -1;
			break;
		}
		/* A message cut off by the drop is not delivered. */
		sse_parser_reset(st.p);
		if (wait_ms == 0)
			wait_ms = sse_parser_retry(st.p) > 0 ?
			    sse_parser_retry(st.p) :
			    1000;
		else if ((wait_ms *= 2) > CLIENT_STREAM_BACKOFF_MAX_MS)
			wait_ms = CLIENT_STREAM_BACKOFF_MAX_MS;
		(void)poll(NULL, 0, (int)wait_ms);
	}
	sse_parser_free(st.p);
	free(st.body.p);
	free(url);
	return rc;
}
