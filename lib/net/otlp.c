/*
 * otlp: derived trace ids and the OTLP/HTTP JSON span exporter (otlp.h).
 *
 * The exporter's curl multi handle plugs into the loop the way
 * lib/run/run_http.c does (a loop io watch per socket curl names, one
 * timer for curl's timeouts).  Its own state is one queue of span objects
 * (pending) and at most one batch (batch): being posted, or waiting on
 * the tick timer to be posted again.  The tick timer also ends the wait
 * of a partial batch (flush_ms) so that a quiet daemon's spans go out.
 */
#include "otlp.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "core/xalloc.h"
#include "util/digest.h"
#include "util/log.h"

/* ---- ids ------------------------------------------------------------- */

static void
derive(const char *prefix, const char *a, const char *b, int n, size_t bytes,
    char *out)
{
	char *s;
	uint8_t d[SHA256_LEN];

	if (b != NULL)
		s = xasprintf("%s %s/%s/%d", prefix, a, b, n);
	else
		s = xasprintf("%s %s", prefix, a);
	sha256(s, strlen(s), d);
	free(s);
	d[bytes - 1] |= 1; /* an all-zero id is invalid */
	hex_encode(d, bytes, out);
}

void
otlp_trace_id(const char *execution_id, char out[OTLP_TRACE_HEX])
{
	derive("loom-trace", execution_id, NULL, 0, 16, out);
}

void
otlp_run_span_id(const char *execution_id, char out[OTLP_SPAN_HEX])
{
	derive("loom-run", execution_id, NULL, 0, 8, out);
}

void
otlp_attempt_span_id(const char *execution_id, const char *task_id, int attempt,
    char out[OTLP_SPAN_HEX])
{
	derive("loom-attempt", execution_id, task_id, attempt, 8, out);
}

void
otlp_attempt_traceparent(
    const char *execution_id, const char *task_id, int attempt, char out[56])
{
	char t[OTLP_TRACE_HEX], s[OTLP_SPAN_HEX];

	otlp_trace_id(execution_id, t);
	otlp_attempt_span_id(execution_id, task_id, attempt, s);
	snprintf(out, 56, "00-%s-%s-01", t, s);
}

/* ---- configuration ----------------------------------------------------- */

static int
hexval(int c)
{
	return isdigit(c) ? c - '0' : tolower(c) - 'a' + 10;
}

/* OTEL_RESOURCE_ATTRIBUTES: "k=v,k2=v2", values percent-encoded. */
static int
parse_resource(const char *s, jv *out)
{
	jv o = jv_object();

	while (*s) {
		size_t n = strcspn(s, ",");
		const char *eq = memchr(s, '=', n);
		char *v, *w;

		if (eq == NULL || eq == s) {
			jv_free(o);
			return -1;
		}
		w = v = xstrndup(eq + 1, n - (size_t)(eq + 1 - s));
		for (char *p = v; *p; p++) {
			if (p[0] == '%' && isxdigit((unsigned char)p[1]) &&
			    isxdigit((unsigned char)p[2])) {
				*w++ = (char)(hexval(p[1]) * 16 + hexval(p[2]));
				p += 2;
			} else
				*w++ = *p;
		}
		*w = '\0';
		o = jv_object_set(
		    o, jv_string_sized(s, (int)(eq - s)), jv_string(v));
		free(v);
		s += n;
		if (*s == ',')
			s++;
	}
	jv_free(*out);
	*out = o;
	return 0;
}

static char *
env_endpoint(void)
{
	const char *e = getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
	size_t n;

	if (e != NULL && *e)
		return xstrdup(e);
	e = getenv("OTEL_EXPORTER_OTLP_ENDPOINT");
	if (e == NULL || *e == '\0')
		return NULL;
	n = strlen(e);
	return xasprintf(
	    "%.*s/v1/traces", (int)(n > 0 && e[n - 1] == '/' ? n - 1 : n), e);
}

int
otlp_config_load(struct otlp_config *c, const struct config *cfg,
    const char *daemon, char **err)
{
	const char *v;
	long n;

	memset(c, 0, sizeof(*c));
	c->resource = jv_object();
	c->queue_max = OTLP_DEFAULT_QUEUE;
	c->batch_max = OTLP_DEFAULT_BATCH;
	c->flush_ms = OTLP_DEFAULT_FLUSH_MS;
	c->timeout_ms = OTLP_DEFAULT_TIMEOUT_MS;
	v = cfg ? config_get(cfg, "trace.endpoint", NULL) : NULL;
	c->endpoint = v != NULL ? (*v ? xstrdup(v) : NULL) : env_endpoint();
	v = cfg ? config_get(cfg, "trace.service_name", NULL) : NULL;
	if (v == NULL || *v == '\0')
		v = getenv("OTEL_SERVICE_NAME");
	c->service_name = xstrdup(v != NULL && *v ? v : daemon);
	v = cfg ? config_get(cfg, "trace.resource_attributes", NULL) : NULL;
	if (v == NULL)
		v = getenv("OTEL_RESOURCE_ATTRIBUTES");
	if (v != NULL && parse_resource(v, &c->resource) == -1) {
		*err = xasprintf("resource attributes: not k=v,k=v: %s", v);
		goto fail;
	}
	if (cfg == NULL)
		return 0;
	if (config_get_int(cfg, "trace.queue", c->queue_max, &n) == -1 ||
	    n < 1) {
		*err = xstrdup("trace.queue: not a positive number");
		goto fail;
	}
	c->queue_max = n;
	if (config_get_int(cfg, "trace.batch", c->batch_max, &n) == -1 ||
	    n < 1) {
		*err = xstrdup("trace.batch: not a positive number");
		goto fail;
	}
	c->batch_max = n;
	if (config_get_duration(
		cfg, "trace.flush_interval", c->flush_ms, &c->flush_ms) == -1 ||
	    config_get_duration(
		cfg, "trace.timeout", c->timeout_ms, &c->timeout_ms) == -1) {
		*err = xstrdup("trace.flush_interval, trace.timeout: not a "
			       "duration");
		goto fail;
	}
	return 0;
fail:
	otlp_config_free(c);
	return -1;
}

void
otlp_config_free(struct otlp_config *c)
{
	free(c->endpoint);
	free(c->service_name);
	jv_free(c->resource);
	c->endpoint = c->service_name = NULL;
	c->resource = jv_null();
}

/* ---- span JSON --------------------------------------------------------- */

static jv
attr_value(jv v)
{
	switch (jv_get_kind(v)) {
	case JV_KIND_NUMBER: {
		char buf[32];

		/* OTLP JSON carries 64-bit integers as strings. */
		snprintf(
		    buf, sizeof(buf), "%lld", (long long)jv_number_value(v));
		jv_free(v);
		return JV_OBJECT(jv_string("intValue"), jv_string(buf));
	}
	case JV_KIND_TRUE:
	case JV_KIND_FALSE:
		return JV_OBJECT(jv_string("boolValue"), v);
	case JV_KIND_STRING:
		return JV_OBJECT(jv_string("stringValue"), v);
	default:
		return JV_OBJECT(
		    jv_string("stringValue"), jv_dump_string(v, 0));
	}
}

static jv
attr_list(jv attrs)
{
	jv a = jv_array();

	if (jv_get_kind(attrs) != JV_KIND_OBJECT) {
		jv_free(attrs);
		return a;
	}
	jv_object_foreach(attrs, k, v)
	{
		if (jv_get_kind(v) == JV_KIND_NULL) {
			jv_free(k);
			jv_free(v);
			continue;
		}
		a = jv_array_append(a,
		    JV_OBJECT(jv_string("key"), k, jv_string("value"),
			attr_value(v)));
	}
	jv_free(attrs);
	return a;
}

static jv
nanos(int64_t ms)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lld000000", (long long)ms);
	return jv_string(buf);
}

jv
otlp_span_json(const struct otlp_span *s, jv attrs)
{
	jv status = JV_OBJECT(jv_string("code"), jv_number(s->error ? 2 : 1));
	jv o;

	if (s->error && s->message != NULL)
		status = jv_object_set(
		    status, jv_string("message"), jv_string(s->message));
	o = JV_OBJECT(jv_string("traceId"), jv_string(s->trace_id),
	    jv_string("spanId"), jv_string(s->span_id), jv_string("name"),
	    jv_string(s->name), jv_string("kind"), jv_number(s->kind),
	    jv_string("startTimeUnixNano"), nanos(s->start_ms),
	    jv_string("endTimeUnixNano"),
	    nanos(s->end_ms < s->start_ms ? s->start_ms : s->end_ms),
	    jv_string("attributes"), attr_list(attrs), jv_string("status"),
	    status);
	if (s->parent_id != NULL && *s->parent_id)
		o = jv_object_set(
		    o, jv_string("parentSpanId"), jv_string(s->parent_id));
	return o;
}

/* ---- the exporter ------------------------------------------------------ */

struct otlp_sock {
	struct otlp *o;
	curl_socket_t fd;
	struct loop_io *io;
	struct otlp_sock *next;
};

struct otlp {
	struct loop *loop;
	struct otlp_config c;
	jv resource; /* the resource object of every request */
	CURLM *multi;
	CURL *easy; /* the POST in flight, or NULL */
	struct curl_slist *headers;
	struct loop_timer *curl_t; /* curl's timeouts */
	struct loop_timer *tick;   /* flush, or the retry of batch */
	struct otlp_sock *socks;
	int running;
	jv pending;   /* spans not in a batch yet */
	jv batch;     /* the batch posted or waiting to be again; or null */
	char *body;   /* batch as a request body, while posted */
	int tries;    /* posts of batch that failed */
	int down;     /* the last post failed: say when it works again */
	int dropping; /* the queue is full: said so once */
	struct otlp_stats st;
};

static void otlp_check_done(struct otlp *o);

static void
otlp_action(struct otlp *o, curl_socket_t fd, int flags)
{
	curl_multi_socket_action(o->multi, fd, flags, &o->running);
	otlp_check_done(o);
}

static void
on_curl_timer(struct loop_timer *t, void *arg)
{
	(void)t;
	otlp_action(arg, CURL_SOCKET_TIMEOUT, 0);
}

static void
on_socket(struct loop_io *io, int fd, unsigned events, void *arg)
{
	int flags = 0;

	(void)io;
	if (events & LOOP_READ)
		flags |= CURL_CSELECT_IN;
	if (events & LOOP_WRITE)
		flags |= CURL_CSELECT_OUT;
	if (events & LOOP_ERROR)
		flags |= CURL_CSELECT_ERR;
	otlp_action(arg, fd, flags);
}

static void
sock_del(struct otlp *o, struct otlp_sock *hs)
{
	struct otlp_sock **pp = &o->socks;

	while (*pp != hs)
		pp = &(*pp)->next;
	*pp = hs->next;
	loop_io_del(hs->io);
	free(hs);
}

static int
socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct otlp *o = userp;
	struct otlp_sock *hs = socketp;
	unsigned ev = 0;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (hs != NULL) {
			curl_multi_assign(o->multi, s, NULL);
			sock_del(o, hs);
		}
		return 0;
	}
	if (what & CURL_POLL_IN)
		ev |= LOOP_READ;
	if (what & CURL_POLL_OUT)
		ev |= LOOP_WRITE;
	if (hs != NULL)
		return loop_io_set(hs->io, ev) == -1 ? -1 : 0;
	hs = xcalloc(1, sizeof(*hs));
	hs->o = o;
	hs->fd = s;
	if ((hs->io = loop_io_add(o->loop, s, ev, on_socket, o)) == NULL) {
		free(hs);
		return -1;
	}
	hs->next = o->socks;
	o->socks = hs;
	curl_multi_assign(o->multi, s, hs);
	return 0;
}

static int
timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct otlp *o = userp;

	(void)multi;
	if (timeout_ms < 0) {
		loop_timer_stop(o->curl_t);
		return 0;
	}
	return loop_timer_after(o->curl_t, timeout_ms) == -1 ? -1 : 0;
}

static size_t
discard_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	(void)data;
	(void)userp;
	return size * nmemb;
}

/* The request body of spans (borrowed). */
static char *
body_of(const struct otlp *o, jv spans)
{
	jv scope = JV_OBJECT(jv_string("scope"),
	    JV_OBJECT(jv_string("name"), jv_string("link-loom"),
		jv_string("version"), jv_string(LOOM_VERSION)),
	    jv_string("spans"), jv_copy(spans));
	jv rs = JV_OBJECT(jv_string("resource"), jv_copy(o->resource),
	    jv_string("scopeSpans"), JV_ARRAY(scope));
	jv req = JV_OBJECT(jv_string("resourceSpans"), JV_ARRAY(rs));
	jv s = jv_dump_string(req, 0);
	char *text = xstrdup(jv_string_value(s));

	jv_free(s);
	return text;
}

static CURL *
easy_for(struct otlp *o, const char *body, long timeout_ms)
{
	CURL *e = curl_easy_init();

	if (e == NULL)
		return NULL;
	curl_easy_setopt(e, CURLOPT_URL, o->c.endpoint);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, o->headers);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
	    timeout_ms < 2000 ? timeout_ms : 2000L);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard_cb);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "link-loom/" LOOM_VERSION);
	return e;
}

/* Posts batch (it is set and not posted). */
static void
post_batch(struct otlp *o)
{
	free(o->body);
	o->body = body_of(o, o->batch);
	if ((o->easy = easy_for(o, o->body, (long)o->c.timeout_ms)) == NULL ||
	    curl_multi_add_handle(o->multi, o->easy) != CURLM_OK) {
		if (o->easy)
			curl_easy_cleanup(o->easy);
		o->easy = NULL;
		(void)loop_timer_after(o->tick, 1000);
	}
}

/* What comes next when no batch is out: a full batch now, else a wait. */
static void
schedule(struct otlp *o)
{
	int n = jv_array_length(jv_copy(o->pending));

	if (jv_get_kind(o->batch) != JV_KIND_NULL || n == 0)
		return;
	if (n >= o->c.batch_max)
		(void)loop_timer_after(o->tick, 0);
	else if (!loop_timer_armed(o->tick))
		(void)loop_timer_after(o->tick, o->c.flush_ms);
}

static void
on_tick(struct loop_timer *t, void *arg)
{
	struct otlp *o = arg;
	int n;

	(void)t;
	if (o->easy != NULL)
		return;
	if (jv_get_kind(o->batch) == JV_KIND_NULL) {
		n = jv_array_length(jv_copy(o->pending));
		if (n == 0)
			return;
		if (n > o->c.batch_max)
			n = (int)o->c.batch_max;
		o->batch = jv_array_slice(jv_copy(o->pending), 0, n);
		o->pending = jv_array_slice(
		    o->pending, n, jv_array_length(jv_copy(o->pending)));
		o->tries = 0;
	}
	post_batch(o);
}

/* The post of batch ended: ok, or failed for reason. */
static void
batch_ended(struct otlp *o, int ok, const char *reason)
{
	int n = jv_array_length(jv_copy(o->batch));

	if (ok) {
		o->st.sent += (uint64_t)n;
		if (o->down)
			log_info("trace: spans reach %s again", o->c.endpoint);
		o->down = 0;
	} else {
		o->st.failed_posts++;
		if (!o->down)
			log_warnx(
			    "trace: cannot send spans to %s: %s (retrying "
			    "%d times, then dropping)",
			    o->c.endpoint, reason, OTLP_RETRIES);
		o->down = 1;
		if (++o->tries <= OTLP_RETRIES) {
			(void)loop_timer_after(o->tick, 500L << o->tries);
			return;
		}
		o->st.dropped += (uint64_t)n;
	}
	jv_free(o->batch);
	o->batch = jv_null();
	schedule(o);
}

static void
otlp_check_done(struct otlp *o)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(o->multi, &left)) != NULL) {
		CURLcode code = msg->data.result;
		long status = 0;
		char why[64];

		if (msg->msg != CURLMSG_DONE || msg->easy_handle != o->easy)
			continue;
		curl_easy_getinfo(o->easy, CURLINFO_RESPONSE_CODE, &status);
		curl_multi_remove_handle(o->multi, o->easy);
		curl_easy_cleanup(o->easy);
		o->easy = NULL;
		free(o->body);
		o->body = NULL;
		if (code != CURLE_OK)
			batch_ended(o, 0, curl_easy_strerror(code));
		else if (status >= 200 && status < 300)
			batch_ended(o, 1, NULL);
		else if (status == 429 || status >= 500) {
			snprintf(why, sizeof(why), "HTTP %ld", status);
			batch_ended(o, 0, why);
		} else {
			/* The collector will never take it: no retry. */
			log_warnx("trace: %s refused %d spans: HTTP %ld",
			    o->c.endpoint, jv_array_length(jv_copy(o->batch)),
			    status);
			o->tries = OTLP_RETRIES;
			batch_ended(o, 0, "refused");
		}
	}
}

static jv
resource_of(const struct otlp_config *c)
{
	jv attrs = jv_object_set(jv_copy(c->resource),
	    jv_string("service.name"), jv_string(c->service_name));

	return JV_OBJECT(jv_string("attributes"), attr_list(attrs));
}

struct otlp *
otlp_new(struct loop *loop, const struct otlp_config *c)
{
	struct otlp *o;

	if (c->endpoint == NULL || *c->endpoint == '\0') {
		errno = 0;
		return NULL;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		errno = ENOMEM;
		return NULL;
	}
	o = xcalloc(1, sizeof(*o));
	o->loop = loop;
	o->c = *c;
	o->c.endpoint = xstrdup(c->endpoint);
	o->c.service_name = xstrdup(c->service_name);
	o->c.resource = jv_copy(c->resource);
	o->resource = resource_of(c);
	o->pending = jv_array();
	o->batch = jv_null();
	o->headers = curl_slist_append(NULL, "Content-Type: application/json");
	o->curl_t = loop_timer_new(loop, on_curl_timer, o);
	o->tick = loop_timer_new(loop, on_tick, o);
	if ((o->multi = curl_multi_init()) == NULL) {
		errno = ENOMEM;
		otlp_free(o);
		return NULL;
	}
	curl_multi_setopt(o->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(o->multi, CURLMOPT_SOCKETDATA, o);
	curl_multi_setopt(o->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(o->multi, CURLMOPT_TIMERDATA, o);
	log_info(
	    "trace: spans go to %s as %s", o->c.endpoint, o->c.service_name);
	return o;
}

/* The last word: what waits, in one blocking POST of at most a second. */
static void
final_flush(struct otlp *o)
{
	jv all = jv_get_kind(o->batch) == JV_KIND_ARRAY ? jv_copy(o->batch) :
							  jv_array();
	char *body;
	CURL *e;

	all = jv_array_concat(all, jv_copy(o->pending));
	if (jv_array_length(jv_copy(all)) == 0) {
		jv_free(all);
		return;
	}
	body = body_of(o, all);
	jv_free(all);
	if ((e = easy_for(o, body, 1000)) != NULL) {
		(void)curl_easy_perform(e);
		curl_easy_cleanup(e);
	}
	free(body);
}

void
otlp_free(struct otlp *o)
{
	if (o == NULL)
		return;
	if (o->easy != NULL) {
		curl_multi_remove_handle(o->multi, o->easy);
		curl_easy_cleanup(o->easy);
		o->easy = NULL;
	}
	if (o->multi != NULL)
		final_flush(o);
	while (o->socks != NULL) {
		if (o->multi)
			curl_multi_assign(o->multi, o->socks->fd, NULL);
		sock_del(o, o->socks);
	}
	if (o->multi)
		curl_multi_cleanup(o->multi);
	loop_timer_del(o->curl_t);
	loop_timer_del(o->tick);
	curl_slist_free_all(o->headers);
	jv_free(o->pending);
	jv_free(o->batch);
	jv_free(o->resource);
	free(o->body);
	otlp_config_free(&o->c);
	free(o);
	curl_global_cleanup();
}

void
otlp_add(struct otlp *o, const struct otlp_span *s, jv attrs)
{
	int n;

	if (o == NULL) {
		jv_free(attrs);
		return;
	}
	n = jv_array_length(jv_copy(o->pending));
	if (jv_get_kind(o->batch) == JV_KIND_ARRAY)
		n += jv_array_length(jv_copy(o->batch));
	if (n >= o->c.queue_max) {
		if (!o->dropping)
			log_warnx("trace: %d spans wait for %s: dropping new "
				  "ones",
			    n, o->c.endpoint);
		o->dropping = 1;
		o->st.dropped++;
		jv_free(attrs);
		return;
	}
	o->dropping = 0;
	o->pending = jv_array_append(o->pending, otlp_span_json(s, attrs));
	o->st.queued++;
	schedule(o);
}

void
otlp_stats(const struct otlp *o, struct otlp_stats *st)
{
	if (o == NULL)
		memset(st, 0, sizeof(*st));
	else
		*st = o->st;
}

/* ---- Link Loom's spans ------------------------------------------------- */

void
otlp_add_run(struct otlp *o, const char *execution_id, const char *workflow_id,
    int version, const char *status, int64_t start_ms, int64_t end_ms)
{
	char tid[OTLP_TRACE_HEX], sid[OTLP_SPAN_HEX], *name;
	struct otlp_span s = { 0 };

	if (o == NULL)
		return;
	otlp_trace_id(execution_id, tid);
	otlp_run_span_id(execution_id, sid);
	name = xasprintf("run %s", workflow_id);
	s.trace_id = tid;
	s.span_id = sid;
	s.name = name;
	s.kind = 1;
	s.start_ms = start_ms;
	s.end_ms = end_ms;
	s.error = strcmp(status, "SUCCESS") != 0;
	s.message = status;
	otlp_add(o, &s,
	    JV_OBJECT(jv_string("loom.workflow.id"), jv_string(workflow_id),
		jv_string("loom.workflow.version"), jv_number(version),
		jv_string("loom.execution.id"), jv_string(execution_id),
		jv_string("loom.status"), jv_string(status)));
	free(name);
}

/* A string member of result, or NULL; borrowed from result. */
static const char *
result_str(jv result, const char *a, const char *b, jv *keep)
{
	jv v = b ?
	    jv_getpath(jv_copy(result), JV_ARRAY(jv_string(a), jv_string(b))) :
	    jv_object_get(jv_copy(result), jv_string(a));

	*keep = v;
	return jv_get_kind(v) == JV_KIND_STRING ? jv_string_value(v) : NULL;
}

void
otlp_add_attempt(struct otlp *o, const char *execution_id,
    const char *workflow_id, const char *task_id, int attempt, const char *type,
    int64_t start_ms, int64_t end_ms, jv result)
{
	char tid[OTLP_TRACE_HEX], sid[OTLP_SPAN_HEX], pid[OTLP_SPAN_HEX];
	struct otlp_span s = { 0 };
	jv k1, k2, k3, hs, attrs;
	const char *status, *etype, *emsg;
	char *name;

	if (o == NULL)
		return;
	otlp_trace_id(execution_id, tid);
	otlp_attempt_span_id(execution_id, task_id, attempt, sid);
	otlp_run_span_id(execution_id, pid);
	status = result_str(result, "status", NULL, &k1);
	etype = result_str(result, "error", "type", &k2);
	emsg = result_str(result, "error", "message", &k3);
	hs = jv_object_get(jv_copy(result), jv_string("httpStatus"));
	name = xasprintf("task %s", task_id);
	s.trace_id = tid;
	s.span_id = sid;
	s.parent_id = pid;
	s.name = name;
	s.kind = type != NULL && strcmp(type, "http") == 0 ? 3 : 1;
	s.start_ms = start_ms;
	s.end_ms = end_ms;
	s.error = status == NULL || strcmp(status, "FAILED") == 0;
	s.message = emsg ? emsg : etype;
	attrs = JV_OBJECT(jv_string("loom.workflow.id"),
	    workflow_id ? jv_string(workflow_id) : jv_null(),
	    jv_string("loom.execution.id"), jv_string(execution_id),
	    jv_string("loom.task.id"), jv_string(task_id),
	    jv_string("loom.task.attempt"), jv_number(attempt),
	    jv_string("loom.task.type"), type ? jv_string(type) : jv_null(),
	    jv_string("loom.status"), jv_string(status ? status : "FAILED"),
	    jv_string("error.type"), etype ? jv_string(etype) : jv_null(),
	    jv_string("http.response.status_code"),
	    jv_get_kind(hs) == JV_KIND_NUMBER ? jv_copy(hs) : jv_null());
	otlp_add(o, &s, attrs);
	free(name);
	jv_free(k1);
	jv_free(k2);
	jv_free(k3);
	jv_free(hs);
}
