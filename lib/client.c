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
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "xalloc.h"

#ifndef LOOM_VERSION
#define LOOM_VERSION "dev"
#endif

struct client {
	CURL *curl;
	char *base;	/* as given */
	char *prefix;	/* URL prefix requests are built on */
	char *sockpath;	/* Unix socket path, or NULL for TCP */
	long timeout_ms;
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
			    "unix:/absolute/path", base);
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
			    "http://HOST:PORT without a path", base);
			goto fail;
		}
	} else {
		*err = xasprintf("bad API address '%s': expected "
		    "http://HOST:PORT or unix:/path", base);
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

static size_t
collect(char *data, size_t size, size_t nmemb, void *arg)
{
	struct buf *b = arg;
	size_t n = size * nmemb;

	if (b->len + n > CLIENT_MAX_REPLY) {
		b->too_big = 1;
		return 0;	/* makes curl fail with CURLE_WRITE_ERROR */
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
		curl_easy_getinfo(c->curl, CURLINFO_CONNECT_TIME_T,
		    &connect_us);
		curl_easy_getinfo(c->curl, CURLINFO_PRETRANSFER_TIME_T,
		    &pretransfer_us);
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

int
client_request(struct client *c, const char *method, const char *path,
    const char *ctype, const char *data, size_t len, jv *reply)
{
	struct curl_slist *hdrs = NULL;
	struct buf b = { NULL, 0, 0, 0 };
	char *url = xasprintf("%s%s", c->prefix, path), *h;
	CURLcode rc;
	long status = 0;
	int saved;

	curl_easy_reset(c->curl);
	c->errbuf[0] = '\0';
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	curl_easy_setopt(c->curl, CURLOPT_USERAGENT, "loom/" LOOM_VERSION);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &b);
	if (c->sockpath)
		curl_easy_setopt(c->curl, CURLOPT_UNIX_SOCKET_PATH,
		    c->sockpath);
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	/* No "Expect: 100-continue" round trip for bigger bodies. */
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (data != NULL) {
		h = xasprintf("Content-Type: %s",
		    ctype ? ctype : "application/octet-stream");
		hdrs = curl_slist_append(hdrs, h);
		free(h);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, data);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)len);
	} else if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD")) {
		/* A bodyless POST still says so: Content-Length: 0. */
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)0);
	}
	if (strcmp(method, "GET") == 0)
		curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
	else if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c->curl, CURLOPT_NOBODY, 1L);
	else if (strcmp(method, "POST") != 0)
		curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, hdrs);

	rc = curl_easy_perform(c->curl);
	if (rc != CURLE_OK) {
		saved = transport_errno(c, rc);
		if (b.too_big)
			*reply = jv_invalid_with_msg(jv_string_fmt("the reply "
			    "from %s is larger than %u bytes", c->base,
			    CLIENT_MAX_REPLY));
		else if (saved == ECONNREFUSED && c->sockpath)
			/* curl would say "localhost port 80": say what is
			 * wrong with the socket instead. */
			*reply = jv_invalid_with_msg(jv_string_fmt("cannot "
			    "connect to %s: %s", c->base,
			    access(c->sockpath, F_OK) < 0 ? strerror(errno) :
			    "nothing is listening on that socket"));
		else
			*reply = jv_invalid_with_msg(jv_string_fmt("%s %s: %s",
			    saved == ECONNREFUSED ? "cannot connect to" :
			    "request to", c->base, c->errbuf[0] ? c->errbuf :
			    curl_easy_strerror(rc)));
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
client_json(struct client *c, const char *method, const char *path, jv body,
    jv *reply)
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
		    xstrdup(jv_string_value(msg)) : xstrdup("request failed");
		jv_free(msg);
		return out;
	}
	if (jv_get_kind(reply) == JV_KIND_OBJECT) {
		jv m = jv_getpath(jv_copy(reply), JV_ARRAY(jv_string("error"),
		    jv_string("message")));

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

		out = xasprintf("HTTP %d: %.*s", status,
		    (int)(n > 200 ? 200 : n), s);
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
