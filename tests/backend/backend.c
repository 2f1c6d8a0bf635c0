/*
 * loom-test-backend: a real user backend for Link Loom's integration tests.
 *
 *   loom-test-backend [-p PORT] [-l CALLS.jsonl] [-a ADDR] [-s SECRET]
 *
 * Listens on ADDR (127.0.0.1) port PORT; with -p 0 (the default) the
 * kernel picks a free port and the first stdout line is "port N", flushed,
 * so a test waits on that line instead of sleeping.  Every request is
 * appended to CALLS.jsonl as one JSON line:
 *   {"ts","method","path","query":{…},"idempotencyKey","traceparent",
 *    "userAgent","contentType","headers":{lower-case name: value},"body"}
 * and every asynchronous callback it makes as {"ts","callback","status"}.
 * With -s SECRET every /api/tasks/ request must carry a valid
 * X-Loom-Signature (lib/net/sign.h, a 5-minute window): the line gets
 * "signature": "ok" | "bad" | "missing", and a request that is not "ok"
 * is answered 401 (an HttpClientError) before anything else.
 *
 * POST /api/tasks/<anything> answers with the Link Loom callback protocol;
 * the query string picks the behaviour (they combine where it makes sense):
 *   sleep=MS       answer MS ms late (other requests are not held up)
 *   fail=N         "FAILED" for the first N calls with the same
 *                  executionId/taskId (from Idempotency-Key), then SUCCESS
 *   errtype=CLASS  the error type of fail= (default TaskFailedException)
 *   status=CODE    answer with that HTTP status (with fail=N: for the
 *                  first N calls only, then SUCCESS)
 *   async=1        answer 202, then after sleep= ms POST
 *                  {"status":"SUCCESS","output":{…}} to the callbackUrl of
 *                  the request; async=running answers 200 "RUNNING" instead
 *   close=1        close the connection without an answer
 *   badjson=1      a 200 whose body is not JSON
 *   empty=1        a 200 with an empty body
 *   big=BYTES      pad the output with a string of that many bytes
 *   nul=1          put a NUL character (\u0000) in the output, which
 *                  PostgreSQL's jsonb cannot store
 *   logs=TEXT      the answer's (or async callback's) "logs" text
 *   gate=NAME      answer (with async=1: call back) only once gate NAME
 *                  is open, after sleep=: a test holds a task running
 *                  until it says so
 * Default: {"status":"SUCCESS","output":{"echo":<input>,"task":<taskId>,
 * "attempt":N},"logs":"…","duration":N}.  GET /healthz answers 200, and
 * POST /api/v1/callbacks/<token> answers 200 (recorded like any call), so
 * the backend can also receive the callbacks of async=1.  POST /gates/NAME
 * opens gate NAME for good, and the calls waiting on it are answered.
 *
 * libmicrohttpd runs a thread per connection, so a slow answer blocks only
 * its own connection; sleeps and gates wait on a condition variable so
 * SIGTERM stops the server at once.  Shared state (the call log, fail
 * counters, open gates) is under one mutex.
 */
/*
 * Its SQL, built from string literals and macros, is laid out by hand;
 * clang-format would tear it into columns.
 */
/* clang-format off */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>

#include <curl/curl.h>
#include <jv.h>
#include <microhttpd.h>

#include "net/sign.h"
#include "core/xalloc.h"

#define MAX_BODY (16 * 1024 * 1024)

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t stop_cv = PTHREAD_COND_INITIALIZER;
static int stopping;
static int log_fd = -1;
static const char *sign_secret;	/* -s: signatures are checked */

struct counter {
	char *key;
	long calls;
	struct counter *next;
};
static struct counter *counters;

struct gate {
	char *name;
	struct gate *next;
};
static struct gate *gates;	/* the open ones */

struct req {
	char *body;
	size_t len, cap;
	int too_big;
};

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleeps ms, or less when the server is stopping. */
static void
nap(long ms)
{
	struct timespec until;

	if (ms <= 0)
		return;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&mu);
	while (!stopping &&
	    pthread_cond_timedwait(&stop_cv, &mu, &until) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&mu);
}

static int
gate_is_open(const char *name)
{
	for (struct gate *g = gates; g != NULL; g = g->next)
		if (strcmp(g->name, name) == 0)
			return 1;
	return 0;
}

/* Waits until gate name is open, or the server is stopping. */
static void
gate_wait(const char *name)
{
	pthread_mutex_lock(&mu);
	while (!stopping && !gate_is_open(name))
		pthread_cond_wait(&stop_cv, &mu);
	pthread_mutex_unlock(&mu);
}

static void
gate_open(const char *name)
{
	pthread_mutex_lock(&mu);
	if (!gate_is_open(name)) {
		struct gate *g = xcalloc(1, sizeof(*g));

		g->name = xstrdup(name);
		g->next = gates;
		gates = g;
	}
	pthread_cond_broadcast(&stop_cv);
	pthread_mutex_unlock(&mu);
}

/* Appends one JSON line (consumed) to the call log, in one write. */
static void
record(jv line)
{
	jv s = jv_dump_string(line, 0);
	char *buf;
	size_t n;

	if (log_fd != -1) {
		buf = xasprintf("%s\n", jv_string_value(s));
		n = strlen(buf);
		pthread_mutex_lock(&mu);
		if (write(log_fd, buf, n) != (ssize_t)n)
			fprintf(stderr, "loom-test-backend: log write: %s\n",
			    strerror(errno));
		pthread_mutex_unlock(&mu);
		free(buf);
	}
	jv_free(s);
}

/* Calls so far (this one included) for key. */
static long
count_call(const char *key)
{
	struct counter *c;
	long n;

	pthread_mutex_lock(&mu);
	for (c = counters; c != NULL; c = c->next)
		if (strcmp(c->key, key) == 0)
			break;
	if (c == NULL) {
		c = xcalloc(1, sizeof(*c));
		c->key = xstrdup(key);
		c->next = counters;
		counters = c;
	}
	n = ++c->calls;
	pthread_mutex_unlock(&mu);
	return n;
}

static enum MHD_Result
collect_kv(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	jv *obj = cls;
	char *k = xstrdup(key);

	(void)kind;
	for (char *p = k; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	*obj = jv_object_set(*obj, jv_string(k),
	    jv_string(value ? value : ""));
	free(k);
	return MHD_YES;
}

static jv
opt_str(const char *s)
{
	return s ? jv_string(s) : jv_null();
}

static long
arg_long(struct MHD_Connection *c, const char *name, long def)
{
	const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND,
	    name);

	return v ? strtol(v, NULL, 10) : def;
}

static enum MHD_Result
reply(struct MHD_Connection *c, unsigned status, jv body)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	jv s;

	if (jv_get_kind(body) == JV_KIND_STRING)
		s = body;
	else
		s = jv_dump_string(body, 0);
	r = MHD_create_response_from_buffer(
	    (size_t)jv_string_length_bytes(jv_copy(s)),
	    (void *)jv_string_value(s), MHD_RESPMEM_MUST_COPY);
	jv_free(s);
	MHD_add_response_header(r, "Content-Type", "application/json");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static const char *
class_for_status(long st)
{
	if (st == 404)
		return "ResourceNotFoundException";
	if (st == 400 || st == 422)
		return "ValidationException";
	if (st >= 500)
		return "HttpServerError";
	return "HttpClientError";
}

struct callback {
	char *url;
	char *body;
	long sleep_ms;
	char *gate;		/* NULL: none */
};

static void *
callback_thread(void *arg)
{
	struct callback *cb = arg;
	struct curl_slist *h = NULL;
	long status = 0;
	CURLcode rc = CURLE_FAILED_INIT;
	CURL *e;

	nap(cb->sleep_ms);
	if (cb->gate != NULL)
		gate_wait(cb->gate);
	if ((e = curl_easy_init()) != NULL) {
		h = curl_slist_append(h, "Content-Type: application/json");
		curl_easy_setopt(e, CURLOPT_URL, cb->url);
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, cb->body);
		curl_easy_setopt(e, CURLOPT_TIMEOUT, 30L);
		curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
		rc = curl_easy_perform(e);
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
		curl_easy_cleanup(e);
		curl_slist_free_all(h);
	}
	record(JV_OBJECT(jv_string("ts"), jv_number((double)now_ms()),
	    jv_string("callback"), jv_string(cb->url),
	    jv_string("status"), jv_number(status),
	    jv_string("error"), rc == CURLE_OK ? jv_null() :
	    jv_string(curl_easy_strerror(rc))));
	free(cb->url);
	free(cb->body);
	free(cb->gate);
	free(cb);
	return NULL;
}

static void
start_callback(jv url, jv body, long sleep_ms, const char *gate)
{
	struct callback *cb = xcalloc(1, sizeof(*cb));
	jv s = jv_dump_string(body, 0);
	pthread_attr_t attr;
	pthread_t t;

	cb->url = xstrdup(jv_string_value(url));
	cb->body = xstrdup(jv_string_value(s));
	cb->sleep_ms = sleep_ms;
	cb->gate = gate ? xstrdup(gate) : NULL;
	jv_free(url);
	jv_free(s);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, callback_thread, cb) != 0) {
		fprintf(stderr, "loom-test-backend: pthread_create failed\n");
		free(cb->url);
		free(cb->body);
		free(cb->gate);
		free(cb);
	}
	pthread_attr_destroy(&attr);
}

static enum MHD_Result
task_call(struct MHD_Connection *c, struct req *rq, jv body, int64_t t0)
{
	const char *key = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    "Idempotency-Key");
	const char *async = MHD_lookup_connection_value(c,
	    MHD_GET_ARGUMENT_KIND, "async");
	const char *errtype = MHD_lookup_connection_value(c,
	    MHD_GET_ARGUMENT_KIND, "errtype");
	const char *logs = MHD_lookup_connection_value(c,
	    MHD_GET_ARGUMENT_KIND, "logs");	/* the answer's "logs" */
	const char *gate = MHD_lookup_connection_value(c,
	    MHD_GET_ARGUMENT_KIND, "gate");
	long sleep_ms = arg_long(c, "sleep", 0), st = arg_long(c, "status", 0);
	long fail = arg_long(c, "fail", 0), big = arg_long(c, "big", 0);
	long failing = 0; /* this call's number, when fail= makes it fail */
	jv input, task, attempt, output, res;

	(void)rq;
	if (arg_long(c, "close", 0)) {
		jv_free(body);
		return MHD_NO;	/* MHD closes the connection, no answer */
	}
	if (jv_get_kind(body) != JV_KIND_OBJECT) {
		jv_free(body);
		body = jv_object();
	}
	input = jv_object_get(jv_copy(body), jv_string("input"));
	task = jv_object_get(jv_copy(body), jv_string("taskId"));
	attempt = jv_object_get(jv_copy(body), jv_string("attempt"));
	if (!jv_is_valid(input))
		input = (jv_free(input), jv_null());
	if (!jv_is_valid(task))
		task = (jv_free(task), jv_null());
	if (!jv_is_valid(attempt))
		attempt = (jv_free(attempt), jv_null());
	output = JV_OBJECT(jv_string("echo"), input, jv_string("task"), task,
	    jv_string("attempt"), attempt);
	if (big > 0 && big <= 64L * 1024 * 1024) {
		char *pad = xmalloc((size_t)big + 1);

		memset(pad, 'x', (size_t)big);
		pad[big] = '\0';
		output = jv_object_set(output, jv_string("pad"),
		    jv_string(pad));
		free(pad);
	}
	if (arg_long(c, "nul", 0))
		output = jv_object_set(output, jv_string("nul"),
		    jv_string_sized("a\0b", 3));

	if (async != NULL && strcmp(async, "0") != 0) {
		jv url = jv_object_get(jv_copy(body), jv_string("callbackUrl"));

		if (jv_get_kind(url) == JV_KIND_STRING)
			start_callback(url, JV_OBJECT(jv_string("status"),
			    jv_string("SUCCESS"), jv_string("output"), output,
			    jv_string("logs"), jv_string(logs ? logs :
			    "finished asynchronously")), sleep_ms, gate);
		else {
			fprintf(stderr, "loom-test-backend: async=1 but the "
			    "request has no callbackUrl\n");
			jv_free(url);
			jv_free(output);
		}
		jv_free(body);
		if (strcmp(async, "running") == 0)
			return reply(c, 200, JV_OBJECT(jv_string("status"),
			    jv_string("RUNNING")));
		return reply(c, 202, JV_OBJECT(jv_string("status"),
		    jv_string("RUNNING")));
	}

	nap(sleep_ms);
	if (gate != NULL)
		gate_wait(gate);
	if (fail > 0) {
		/* executionId/taskId: the key without its "/attempt". */
		char *k = xstrdup(key ? key : "");
		char *slash = strrchr(k, '/');

		if (slash != NULL)
			*slash = '\0';
		failing = count_call(k);
		free(k);
		/* Past the first N calls: no failure, not even status=. */
		if (failing > fail)
			failing = st = 0;
	}
	if (st > 0) {
		jv_free(output);
		jv_free(body);
		if (st >= 200 && st < 300)
			return reply(c, (unsigned)st, JV_OBJECT(
			    jv_string("status"), jv_string("SUCCESS")));
		return reply(c, (unsigned)st, JV_OBJECT(jv_string("status"),
		    jv_string("FAILED"), jv_string("error"), JV_OBJECT(
		    jv_string("type"), jv_string(class_for_status(st)),
		    jv_string("message"), jv_string_fmt("status %ld as "
		    "asked", st))));
	}
	if (arg_long(c, "badjson", 0)) {
		jv_free(output);
		jv_free(body);
		return reply(c, 200, jv_string("this is not JSON {"));
	}
	if (arg_long(c, "empty", 0)) {
		jv_free(output);
		jv_free(body);
		return reply(c, 200, jv_string(""));
	}
	if (failing > 0) {
		jv_free(output);
		jv_free(body);
		return reply(c, 200, JV_OBJECT(jv_string("status"),
		    jv_string("FAILED"), jv_string("error"), JV_OBJECT(
		    jv_string("type"), jv_string(errtype ? errtype :
		    "TaskFailedException"), jv_string("message"),
		    jv_string_fmt("failing as asked (call %ld of %ld)",
		    failing, fail)), jv_string("logs"),
		    jv_string("loom-test-backend failed on purpose")));
	}
	res = JV_OBJECT(jv_string("status"), jv_string("SUCCESS"),
	    jv_string("output"), output, jv_string("logs"),
	    jv_string(logs ? logs : "handled by loom-test-backend"),
	    jv_string("duration"), jv_number((double)(now_ms() - t0)));
	jv_free(body);
	return reply(c, 200, res);
}

static enum MHD_Result
handler(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_size, void **con_cls)
{
	struct req *rq = *con_cls;
	jv body, line, query = jv_object(), headers = jv_object();
	int64_t t0 = now_ms();

	(void)cls;
	(void)version;
	if (rq == NULL) {
		rq = xcalloc(1, sizeof(*rq));
		*con_cls = rq;
		jv_free(query);
		jv_free(headers);
		return MHD_YES;
	}
	if (*upload_size > 0) {
		if (rq->len + *upload_size > MAX_BODY)
			rq->too_big = 1;
		else {
			if (rq->len + *upload_size + 1 > rq->cap) {
				rq->cap = (rq->len + *upload_size + 1) * 2;
				rq->body = xreallocarray(rq->body, rq->cap, 1);
			}
			memcpy(rq->body + rq->len, upload, *upload_size);
			rq->len += *upload_size;
			rq->body[rq->len] = '\0';
		}
		*upload_size = 0;
		jv_free(query);
		jv_free(headers);
		return MHD_YES;
	}

	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_kv,
	    &query);
	MHD_get_connection_values(c, MHD_HEADER_KIND, collect_kv, &headers);
	if (rq->len == 0)
		body = jv_null();
	else {
		body = jv_parse_sized(rq->body, (int)rq->len);
		if (!jv_is_valid(body)) {
			jv_free(body);
			body = jv_string_sized(rq->body, (int)rq->len);
		}
	}
	line = JV_OBJECT(jv_string("ts"), jv_number((double)t0),
	    jv_string("method"), jv_string(method),
	    jv_string("path"), jv_string(url),
	    jv_string("query"), query,
	    jv_string("idempotencyKey"), opt_str(MHD_lookup_connection_value(
	    c, MHD_HEADER_KIND, "Idempotency-Key")),
	    jv_string("traceparent"), opt_str(MHD_lookup_connection_value(c,
	    MHD_HEADER_KIND, "traceparent")),
	    jv_string("userAgent"), opt_str(MHD_lookup_connection_value(c,
	    MHD_HEADER_KIND, "User-Agent")),
	    jv_string("contentType"), opt_str(MHD_lookup_connection_value(c,
	    MHD_HEADER_KIND, "Content-Type")),
	    jv_string("headers"), headers);
	if (sign_secret != NULL && strncmp(url, "/api/tasks/", 11) == 0) {
		const char *ts = MHD_lookup_connection_value(c,
		    MHD_HEADER_KIND, SIGN_TS_HEADER);
		const char *sg = MHD_lookup_connection_value(c,
		    MHD_HEADER_KIND, SIGN_SIG_HEADER);
		const char *v = ts == NULL || sg == NULL ? "missing" :
		    sign_verify(sign_secret, strlen(sign_secret), ts, sg,
		    rq->body ? rq->body : "", rq->len, time(NULL),
		    SIGN_MAX_SKEW_S) == 0 ? "ok" : "bad";

		record(jv_object_set(jv_object_set(line, jv_string("body"),
		    jv_copy(body)), jv_string("signature"), jv_string(v)));
		if (strcmp(v, "ok") != 0) {
			jv_free(body);
			return reply(c, 401, JV_OBJECT(jv_string("status"),
			    jv_string("FAILED"), jv_string("error"), JV_OBJECT(
			    jv_string("type"), jv_string("HttpClientError"),
			    jv_string("message"), jv_string_fmt("signature "
			    "%s", v))));
		}
	} else
		record(jv_object_set(line, jv_string("body"), jv_copy(body)));

	if (strcmp(url, "/healthz") == 0) {
		jv_free(body);
		return reply(c, 200, JV_OBJECT(jv_string("status"),
		    jv_string("ok")));
	}
	if (strncmp(url, "/api/v1/callbacks/", 18) == 0) {
		/* Stands in for loom-api when async callbacks come home. */
		jv_free(body);
		return reply(c, 200, JV_OBJECT(jv_string("ok"), jv_true()));
	}
	if (strncmp(url, "/gates/", 7) == 0 && url[7] != '\0' &&
	    strcmp(method, "POST") == 0) {
		gate_open(url + 7);
		jv_free(body);
		return reply(c, 200, JV_OBJECT(jv_string("open"),
		    jv_string(url + 7)));
	}
	if (strncmp(url, "/api/tasks/", 11) != 0) {
		jv_free(body);
		return reply(c, 404, JV_OBJECT(jv_string("error"),
		    jv_string("no such path")));
	}
	if (strcmp(method, "POST") != 0 && strcmp(method, "PUT") != 0) {
		jv_free(body);
		return reply(c, 405, JV_OBJECT(jv_string("error"),
		    jv_string("POST expected")));
	}
	if (rq->too_big) {
		jv_free(body);
		return reply(c, 413, JV_OBJECT(jv_string("error"),
		    jv_string("body too large")));
	}
	return task_call(c, rq, body, t0);
}

static void
completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct req *rq = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (rq != NULL) {
		free(rq->body);
		free(rq);
	}
	*con_cls = NULL;
}

static void
usage(void)
{
	fprintf(stderr, "usage: loom-test-backend [-p PORT] [-l CALLS.jsonl] "
	    "[-a ADDR] [-s SECRET]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sa;
	struct MHD_Daemon *d;
	const union MHD_DaemonInfo *info;
	const char *addr = "127.0.0.1", *logpath = NULL;
	sigset_t set;
	long port = 0;
	int ch, sig;

	while ((ch = getopt(argc, argv, "a:l:p:s:h")) != -1) {
		switch (ch) {
		case 'a':
			addr = optarg;
			break;
		case 's':
			sign_secret = optarg;
			break;
		case 'l':
			logpath = optarg;
			break;
		case 'p':
			port = strtol(optarg, NULL, 10);
			if (port < 0 || port > 65535)
				usage();
			break;
		default:
			usage();
		}
	}
	if (logpath != NULL && (log_fd = open(logpath, O_WRONLY | O_CREAT |
	    O_APPEND | O_CLOEXEC, 0644)) == -1) {
		fprintf(stderr, "loom-test-backend: %s: %s\n", logpath,
		    strerror(errno));
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
		fprintf(stderr, "loom-test-backend: bad address %s\n", addr);
		return 2;
	}

	/* Every thread inherits this mask; main() takes the signals. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);

	d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION |
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
	    MHD_USE_ERROR_LOG, (uint16_t)port, NULL, NULL, handler, NULL,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
	    MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)120,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)2000,
	    MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned int)1024,
	    MHD_OPTION_END);
	if (d == NULL) {
		fprintf(stderr, "loom-test-backend: cannot listen on %s:%ld\n",
		    addr, port);
		return 1;
	}
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	printf("port %u\n", info ? (unsigned)info->port : (unsigned)port);
	fflush(stdout);

	do {
		if (sigwait(&set, &sig) != 0)
			break;
	} while (sig == SIGHUP);
	pthread_mutex_lock(&mu);
	stopping = 1;
	pthread_cond_broadcast(&stop_cv);
	pthread_mutex_unlock(&mu);
	MHD_stop_daemon(d);
	return 0;	/* callback threads still napping end with us */
}
/* clang-format on */
