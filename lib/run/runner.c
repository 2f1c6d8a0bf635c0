/*
 * runner: the task-attempt front end shared by every caller (see runner.h).
 *
 * runner_start() checks the request, builds a job (ids, timeout, trace
 * context, the protocol envelope) and hands it to a back end: run_http.c
 * (curl multi on the loop) or run_proc.c (shell and java processes).  A
 * back end reports the end with runner_job_finish() and a partial result;
 * this file completes it (ids, duration, trace context, the "Cancelled"
 * override) and queues it.  Results are delivered from one deferred loop
 * callback, never from inside a back end's own callbacks, so a done
 * callback may start, cancel or even free the runner without pulling the
 * ground from under curl or a child watch.
 *
 * Jobs live on one doubly linked list until delivered (runner_active()
 * counts them); finished ones also sit on a FIFO for delivery.  The pure
 * helpers (request checks, envelope, response and exit interpretation,
 * trace ids) are at the end and unit-tested in tests/unit/test_runner.c.
 */
/*
 * Its SQL, built from string literals and macros, is laid out by hand;
 * clang-format would tear it into columns.
 */
/* clang-format off */
#define LOOM_RUNNER_INTERNAL
#include "runner.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include "core/buf.h"
#include "core/duration.h"
#include "util/idgen.h"
#include "core/jsoncheck.h"
#include "net/otlp.h"
#include "util/log.h"
#include "core/xalloc.h"

#ifdef LOOM_VERSION
#define RUNNER_VERSION LOOM_VERSION
#else
#define RUNNER_VERSION "0"
#endif

struct runner {
	struct loop *loop;
	struct runner_config cfg; /* strings owned (copied) */
	struct run_http *http;
	struct loop_defer *deliver;
	struct runner_job *jobs; /* every undelivered job */
	struct runner_job *done_head, *done_tail;
	size_t njobs;
	uint64_t next_id;
	struct runner_outdir outdir; /* run_proc.c's for $LOOM_OUTPUT */
	int dying;	    /* runner_free() was called */
	int delivering;	    /* inside runner_deliver() */
};

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void runner_deliver(struct loop_defer *d, void *arg);
static int check_request(jv req, char **err, int64_t *timeout_ms);

struct runner *
runner_new(struct loop *loop, const struct runner_config *cfg)
{
	struct runner *r;

	r = xcalloc(1, sizeof(*r));
	r->outdir.lock_fd = -1;
	r->loop = loop;
	if (cfg != NULL)
		r->cfg = *cfg;
	if (r->cfg.max_host_connections <= 0)
		r->cfg.max_host_connections = RUNNER_DEFAULT_HOST_CONNECTIONS;
	if (r->cfg.kill_grace_ms <= 0)
		r->cfg.kill_grace_ms = RUNNER_DEFAULT_KILL_GRACE_MS;
	r->cfg.user_agent = r->cfg.user_agent ?
	    xstrdup(r->cfg.user_agent) : xasprintf("link-loom/%s",
	    RUNNER_VERSION);
	if (r->cfg.callback_base_url != NULL)
		r->cfg.callback_base_url = xstrdup(r->cfg.callback_base_url);
	if (r->cfg.pass_env != NULL)
		r->cfg.pass_env = xstrdup(r->cfg.pass_env);
	r->next_id = 1;
	/* Its first firing finds nothing to deliver; later ones are armed by
	 * runner_job_finish(). */
	if ((r->deliver = loop_defer_new(loop, runner_deliver, r)) == NULL)
		goto fail;
	if ((r->http = run_http_new(loop, &r->cfg)) == NULL)
		goto fail;
	return r;
fail:
	loop_defer_del(r->deliver);
	free((char *)r->cfg.user_agent);
	free((char *)r->cfg.callback_base_url);
	free((char *)r->cfg.pass_env);
	free(r);
	return NULL;
}

struct loop *
runner_loop(struct runner *r)
{
	return r->loop;
}

const struct runner_config *
runner_cfg(struct runner *r)
{
	return &r->cfg;
}

struct run_http *
runner_http(struct runner *r)
{
	return r->http;
}

struct runner_outdir *
runner_outdir(struct runner *r)
{
	return &r->outdir;
}

size_t
runner_active(const struct runner *r)
{
	return r->njobs;
}

static void
job_free(struct runner_job *j)
{
	free(j->execution_id);
	free(j->task_id);
	jv_free(j->task);
	free(j->envelope);
	free(j->secrets[0]);
	free(j->secrets[1]);
	jv_free(j->result);
	free(j);
}

static void
job_unlink(struct runner *r, struct runner_job *j)
{
	if (j->prev)
		j->prev->next = j->next;
	else
		r->jobs = j->next;
	if (j->next)
		j->next->prev = j->prev;
	r->njobs--;
}

/* Copies a key's string value, "" when absent, not a string, or obj is no
 * object. */
static char *
get_str(jv obj, const char *key)
{
	jv v = jv_get_kind(obj) == JV_KIND_OBJECT ?
	    jv_object_get(jv_copy(obj), jv_string(key)) : jv_null();
	char *s;

	s = xstrdup(jv_get_kind(v) == JV_KIND_STRING ? jv_string_value(v) :
	    "");
	jv_free(v);
	return s;
}

static void
obj_copy_key(jv *dst, jv src, const char *key)
{
	jv v = jv_object_get(jv_copy(src), jv_string(key));

	if (jv_is_valid(v))
		*dst = jv_object_set(*dst, jv_string(key), v);
	else
		jv_free(v);
}

void
runner_job_finish(struct runner_job *j, jv partial)
{
	struct runner *r = j->runner;
	jv res, status;

	if (j->finished) {	/* a back end bug; never deliver twice */
		jv_free(partial);
		return;
	}
	if (j->cancelled) {
		partial = jv_object_set(partial, jv_string("status"),
		    jv_string("FAILED"));
		partial = jv_object_set(partial, jv_string("output"),
		    jv_null());
		partial = jv_object_set(partial, jv_string("error"),
		    JV_OBJECT(jv_string("type"), jv_string("Cancelled"),
		    jv_string("message"), jv_string("cancelled")));
	}
	status = jv_object_get(jv_copy(partial), jv_string("status"));
	if (jv_get_kind(status) != JV_KIND_STRING) {
		jv_free(status);
		status = jv_string("FAILED");
	}

	/* Fixed key order, so result lines read the same every time. */
	res = JV_OBJECT(jv_string("executionId"), jv_string(j->execution_id),
	    jv_string("taskId"), jv_string(j->task_id),
	    jv_string("attempt"), jv_number(j->attempt),
	    jv_string("status"), status);
	if (jv_object_has(jv_copy(partial), jv_string("output")))
		obj_copy_key(&res, partial, "output");
	else
		res = jv_object_set(res, jv_string("output"), jv_null());
	obj_copy_key(&res, partial, "error");
	obj_copy_key(&res, partial, "logs");
	res = jv_object_set(res, jv_string("durationMs"),
	    jv_number((double)(mono_ms() - j->start_ms)));
	if (j->traceparent[0])
		res = jv_object_set(res, jv_string("traceparent"),
		    jv_string(j->traceparent));
	/* Whatever else the back end said (httpStatus, exitCode, …). */
	jv_object_foreach(partial, k, v) {
		if (!jv_object_has(jv_copy(res), jv_copy(k)))
			res = jv_object_set(res, k, v);
		else {
			jv_free(k);
			jv_free(v);
		}
	}
	jv_free(partial);

	jv_free(j->result);
	j->result = res;
	j->finished = 1;
	j->xfer = NULL;
	j->proc = NULL;
	if (r->done_tail)
		r->done_tail->next_done = j;
	else
		r->done_head = j;
	r->done_tail = j;
	if (!r->dying)
		(void)loop_defer_arm(r->deliver);
}

static void runner_destroy(struct runner *r);

/* Pops the next finished job and calls its done callback. */
static int
deliver_one(struct runner *r)
{
	struct runner_job *j = r->done_head;
	jv res;

	if (j == NULL)
		return 0;
	r->done_head = j->next_done;
	if (r->done_head == NULL)
		r->done_tail = NULL;
	job_unlink(r, j);
	res = j->result;
	j->result = jv_invalid();
	j->done(j->arg, res);
	job_free(j);
	return 1;
}

/*
 * Calls done for every finished job, in finishing order.  A done callback
 * may call runner_free(): that delivers the rest itself and leaves the
 * final free() to us, so r stays valid until we return.
 */
static void
runner_deliver(struct loop_defer *d, void *arg)
{
	struct runner *r = arg;

	(void)d;
	r->delivering = 1;
	while (!r->dying && deliver_one(r))
		;
	r->delivering = 0;
	if (r->dying)
		runner_destroy(r);
}

static void
job_cancel(struct runner *r, struct runner_job *j, int hard)
{
	if (j->finished)
		return;
	if (j->kind == RUN_HTTP) {
		j->cancelled = 1;
		if (j->xfer != NULL)
			run_http_cancel(r->http, j);
		runner_job_finish(j, JV_OBJECT(jv_string("status"),
		    jv_string("FAILED")));
	} else if (hard) {
		j->cancelled = 1;
		if (j->proc != NULL)
			run_proc_abort(j);
		if (!j->finished)
			runner_job_finish(j, JV_OBJECT(jv_string("status"),
			    jv_string("FAILED")));
	} else if (!j->cancelled) {
		j->cancelled = 1;
		if (j->proc != NULL)
			run_proc_cancel(j);
	}
}

static void
runner_destroy(struct runner *r)
{
	run_http_free(r->http);
	if (r->outdir.path != NULL) /* every task's file is gone by now */
		(void)rmdir(r->outdir.path);
	if (r->outdir.lock_fd >= 0)
		(void)close(r->outdir.lock_fd);
	free(r->outdir.path);
	loop_defer_del(r->deliver);
	free((char *)r->cfg.user_agent);
	free((char *)r->cfg.callback_base_url);
	free((char *)r->cfg.pass_env);
	free(r);
}

void
runner_free(struct runner *r)
{
	struct runner_job *j, *next;

	if (r == NULL || r->dying)
		return;
	r->dying = 1;
	for (j = r->jobs; j != NULL; j = next) {
		next = j->next;
		job_cancel(r, j, 1);
	}
	/* Every job is finished now: hand them over. */
	while (deliver_one(r))
		;
	if (!r->delivering)
		runner_destroy(r);
}

int
runner_cancel(struct runner *r, uint64_t id)
{
	struct runner_job *j;

	for (j = r->jobs; j != NULL; j = j->next)
		if (j->id == id)
			break;
	if (j == NULL) {
		errno = ENOENT;
		return -1;
	}
	job_cancel(r, j, 0);
	return 0;
}

void
runner_cancel_all(struct runner *r)
{
	struct runner_job *j, *next;

	for (j = r->jobs; j != NULL; j = next) {
		next = j->next;
		job_cancel(r, j, 0);
	}
}

static char *url_escape(const char *s);

/*
 * The callback token goes to the task inside the envelope's callbackUrl
 * (only when there is a base URL): run_proc.c keeps it out of the logs.
 */
static void
job_secrets(struct runner_job *j, jv request, const char *base)
{
	jv t;

	if (base == NULL || *base == '\0')
		return;
	t = jv_object_get(jv_copy(request), jv_string("callbackToken"));
	if (jv_get_kind(t) == JV_KIND_STRING && *jv_string_value(t)) {
		j->secrets[0] = xstrdup(jv_string_value(t));
		j->secrets[1] = url_escape(j->secrets[0]);
	}
	jv_free(t);
}

/*
 * The job's traceparent (the request's when valid, else the attempt's own
 * span in the run's trace, otlp.h, else a random one) and its scheduled
 * time (the request's, checked by check_request(), or "").
 */
static void
job_trace_and_time(struct runner_job *j, jv request)
{
	jv v = jv_object_get(jv_copy(request), jv_string("traceparent"));

	if (jv_get_kind(v) == JV_KIND_STRING &&
	    runner_traceparent_valid(jv_string_value(v)))
		snprintf(j->traceparent, sizeof(j->traceparent), "%s",
		    jv_string_value(v));
	else if (j->execution_id[0] && j->task_id[0])
		otlp_attempt_traceparent(j->execution_id, j->task_id,
		    j->attempt, j->traceparent);
	else
		runner_traceparent_new(j->traceparent);
	jv_free(v);
	v = jv_object_get(jv_copy(request), jv_string("scheduledTime"));
	if (jv_get_kind(v) == JV_KIND_STRING)
		snprintf(j->scheduled_time, sizeof(j->scheduled_time), "%s",
		    jv_string_value(v));
	jv_free(v);
}

int
runner_start(struct runner *r, jv request, runner_done_cb *done, void *arg,
    uint64_t *id)
{
	struct runner_job *j;
	char *err = NULL;
	jv type;

	if (r->dying || done == NULL) {
		jv_free(request);
		errno = r->dying ? ESHUTDOWN : EINVAL;
		return -1;
	}
	j = xcalloc(1, sizeof(*j));
	j->runner = r;
	j->id = r->next_id++;
	j->done = done;
	j->arg = arg;
	j->start_ms = mono_ms();
	j->task = jv_null();
	j->result = jv_invalid();
	j->attempt = 1;
	if (jv_get_kind(request) == JV_KIND_OBJECT) {
		jv a = jv_object_get(jv_copy(request), jv_string("attempt"));

		if (jv_get_kind(a) == JV_KIND_NUMBER)
			j->attempt = (int)jv_number_value(a);
		jv_free(a);
	}
	j->execution_id = get_str(request, "executionId");
	j->task_id = get_str(request, "taskId");
	j->next = r->jobs;
	if (r->jobs)
		r->jobs->prev = j;
	r->jobs = j;
	r->njobs++;
	if (id != NULL)
		*id = j->id;

	/* (a request that is no object included) */
	if (check_request(jv_copy(request), &err, &j->timeout_ms) == -1) {
		runner_job_finish(j, JV_OBJECT(jv_string("status"),
		    jv_string("FAILED"), jv_string("error"),
		    runner_error(ERR_VALIDATION, "%s", err)));
		free(err);
		jv_free(request);
		return 0;
	}
	job_trace_and_time(j, request);
	j->envelope = runner_envelope(jv_copy(request), j->timeout_ms,
	    r->cfg.callback_base_url, &j->envelope_len);
	job_secrets(j, request, r->cfg.callback_base_url);
	jv_free(j->task);
	j->task = jv_object_get(request, jv_string("task"));
	type = jv_object_get(jv_copy(j->task), jv_string("type"));
	if (strcmp(jv_string_value(type), "http") == 0)
		j->kind = RUN_HTTP;
	else if (strcmp(jv_string_value(type), "shell") == 0)
		j->kind = RUN_SHELL;
	else
		j->kind = RUN_JAVA;
	jv_free(type);

	runner_job_ctx(j);
	log_debug("start (%s, timeout %lldms)",
	    j->kind == RUN_HTTP ? "http" :
	    j->kind == RUN_SHELL ? "shell" : "java",
	    (long long)j->timeout_ms);
	runner_job_ctx(NULL);
	if (j->kind == RUN_HTTP)
		run_http_start(r->http, j);
	else
		run_proc_start(r, j);
	return 0;
}

void
runner_job_ctx(const struct runner_job *j)
{
	if (j == NULL)
		log_set_run(NULL, NULL, NULL, 0);
	else
		log_set_run(NULL, j->execution_id[0] ? j->execution_id : NULL,
		    j->task_id[0] ? j->task_id : NULL, j->attempt);
}

/*
 * Pure helpers.
 */

jv
runner_error(enum errclass c, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	jv e = JV_OBJECT(jv_string("type"), jv_string(errclass_name(c)),
	    jv_string("message"), jv_string(msg ? msg : "(no message)"));
	free(msg);
	return e;
}

/* Printable ASCII/UTF-8 without control characters (ids go into headers). */
static int
clean_id(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

static int
check_str_array(jv a, int allow_empty)
{
	int n = 0, bad = 0;

	if (jv_get_kind(a) != JV_KIND_ARRAY) {
		jv_free(a);
		return -1;
	}
	jv_array_foreach(a, i, v) {
		if (jv_get_kind(v) != JV_KIND_STRING)
			bad = 1;
		n++;
		jv_free(v);
	}
	jv_free(a);
	return bad || (!allow_empty && n == 0) ? -1 : 0;
}

/* Object of scalar values (strings, numbers, booleans). */
static int
check_str_object(jv o)
{
	int bad = 0;

	if (jv_get_kind(o) != JV_KIND_OBJECT) {
		jv_free(o);
		return -1;
	}
	jv_object_foreach(o, k, v) {
		jv_kind kk = jv_get_kind(v);

		if (kk != JV_KIND_STRING && kk != JV_KIND_NUMBER &&
		    kk != JV_KIND_TRUE && kk != JV_KIND_FALSE)
			bad = 1;
		if (jv_string_length_bytes(jv_copy(k)) == 0)
			bad = 1;
		jv_free(k);
		jv_free(v);
	}
	jv_free(o);
	return bad ? -1 : 0;
}

/* An http task's url, method and headers; task is borrowed. */
static int
check_http_task(jv task, char **err)
{
	jv v;

	v = jv_object_get(jv_copy(task), jv_string("url"));
	if (jv_get_kind(v) != JV_KIND_STRING ||
	    (strncasecmp(jv_string_value(v), "http://", 7) != 0 &&
	    strncasecmp(jv_string_value(v), "https://", 8) != 0)) {
		jv_free(v);
		*err = xstrdup("http task needs a \"url\" starting "
		    "with http:// or https://");
		return -1;
	}
	jv_free(v);
	v = jv_object_get(jv_copy(task), jv_string("method"));
	if (jv_is_valid(v) && jv_get_kind(v) != JV_KIND_NULL) {
		const char *m = jv_get_kind(v) == JV_KIND_STRING ?
		    jv_string_value(v) : "";
		int ok = *m != '\0';

		for (; *m; m++)
			if (!isalpha((unsigned char)*m))
				ok = 0;
		if (!ok) {
			jv_free(v);
			*err = xstrdup("\"method\" must be an HTTP "
			    "method name such as POST");
			return -1;
		}
	}
	jv_free(v);
	v = jv_object_get(jv_copy(task), jv_string("headers"));
	if (jv_is_valid(v) && jv_get_kind(v) != JV_KIND_NULL &&
	    check_str_object(jv_copy(v)) == -1) {
		jv_free(v);
		*err = xstrdup("\"headers\" must be an object of "
		    "strings");
		return -1;
	}
	jv_free(v);
	return 0;
}

/* A shell task's command; task is borrowed. */
static int
check_shell_task(jv task, char **err)
{
	jv v;

	v = jv_object_get(jv_copy(task), jv_string("command"));
	if (!((jv_get_kind(v) == JV_KIND_STRING &&
	    jv_string_length_bytes(jv_copy(v)) > 0) ||
	    check_str_array(jv_copy(v), 0) == 0)) {
		jv_free(v);
		*err = xstrdup("shell task needs a \"command\": a "
		    "string for /bin/sh -c or a non-empty array of "
		    "strings");
		return -1;
	}
	jv_free(v);
	return 0;
}

/* A java task's class, classpath, args and JVM options; task is borrowed. */
static int
check_java_task(jv task, char **err)
{
	jv v;

	v = jv_object_get(jv_copy(task), jv_string("class"));
	if (jv_get_kind(v) != JV_KIND_STRING ||
	    jv_string_length_bytes(jv_copy(v)) == 0) {
		jv_free(v);
		*err = xstrdup("java task needs a \"class\"");
		return -1;
	}
	jv_free(v);
	v = jv_object_get(jv_copy(task), jv_string("classpath"));
	if (jv_is_valid(v) && jv_get_kind(v) != JV_KIND_NULL &&
	    jv_get_kind(v) != JV_KIND_STRING &&
	    check_str_array(jv_copy(v), 1) == -1) {
		jv_free(v);
		*err = xstrdup("\"classpath\" must be a string");
		return -1;
	}
	jv_free(v);
	static const char *arrays[] = { "args", "jvmOptions" };
	for (size_t i = 0; i < 2; i++) {
		v = jv_object_get(jv_copy(task), jv_string(arrays[i]));
		if (jv_is_valid(v) && jv_get_kind(v) != JV_KIND_NULL &&
		    check_str_array(jv_copy(v), 1) == -1) {
			jv_free(v);
			*err = xasprintf("\"%s\" must be an array of "
			    "strings", arrays[i]);
			return -1;
		}
		jv_free(v);
	}
	return 0;
}

/* What shell and java tasks share (env, workdir); task is borrowed. */
static int
check_proc_task(jv task, char **err)
{
	jv v;

	v = jv_object_get(jv_copy(task), jv_string("env"));
	if (jv_is_valid(v) && jv_get_kind(v) != JV_KIND_NULL &&
	    check_str_object(jv_copy(v)) == -1) {
		jv_free(v);
		*err = xstrdup("\"env\" must be an object of strings");
		return -1;
	}
	jv_free(v);
	v = jv_object_get(jv_copy(task), jv_string("workdir"));
	if (jv_is_valid(v) && jv_get_kind(v) != JV_KIND_NULL &&
	    jv_get_kind(v) != JV_KIND_STRING) {
		jv_free(v);
		*err = xstrdup("\"workdir\" must be a string");
		return -1;
	}
	jv_free(v);
	return 0;
}

/* Whether task (consumed) is one the runner can start; *err says why not. */
static int
check_task(jv task, char **err)
{
	jv type = jv_object_get(jv_copy(task), jv_string("type"));
	const char *t;
	int rc = -1;

	if (jv_get_kind(type) != JV_KIND_STRING) {
		*err = xstrdup("task has no \"type\" (expected http, shell or "
		    "java)");
		goto out;
	}
	t = jv_string_value(type);
	if (strcmp(t, "http") == 0)
		rc = check_http_task(task, err);
	else if (strcmp(t, "shell") == 0)
		rc = check_shell_task(task, err);
	else if (strcmp(t, "java") == 0)
		rc = check_java_task(task, err);
	else
		*err = xasprintf("unknown task type \"%s\" (expected http, "
		    "shell or java)", t);
	if (rc == 0 && strcmp(t, "http") != 0)
		rc = check_proc_task(task, err);
out:
	jv_free(type);
	jv_free(task);
	return rc;
}

int64_t
runner_request_timeout(jv request)
{
	jv t = jv_getpath(request, JV_ARRAY(jv_string("task"),
	    jv_string("timeout")));
	int64_t ms = -1;
	const char *err;

	switch (jv_get_kind(t)) {
	case JV_KIND_NULL:
		ms = RUNNER_DEFAULT_TIMEOUT_MS;
		break;
	case JV_KIND_STRING:
		if (duration_parse(jv_string_value(t), &ms, &err) == -1 ||
		    ms <= 0)
			ms = -1;
		break;
	case JV_KIND_NUMBER:	/* milliseconds, as in the envelope */
		if (jv_number_value(t) >= 1 && jv_number_value(t) < 1e15)
			ms = (int64_t)jv_number_value(t);
		break;
	default:
		break;
	}
	jv_free(t);
	return ms;
}

/*
 * Whether v (consumed) looks like an RFC 3339 time: it goes into a
 * header-like envelope field and an environment variable, so it is short
 * and holds digits, '-', ':', '.', '+', 'T' and 'Z' only.
 */
static int
scheduled_time_valid(jv v)
{
	int ok = jv_get_kind(v) == JV_KIND_STRING;

	/* (32: runner_job.scheduled_time) */
	if (ok) {
		const char *s = jv_string_value(v);
		size_t n = strlen(s);

		ok = n >= 20 && n < 32 && strspn(s, "0123456789-:.+TZ") == n && s[10] == 'T';
	}
	jv_free(v);
	return ok;
}

static int
check_request(jv req, char **err, int64_t *timeout_ms)
{
	static const char *ids[] = { "executionId", "taskId" };
	jv v;
	int rc = -1;

	*err = NULL;
	if (jv_get_kind(req) != JV_KIND_OBJECT) {
		*err = xstrdup("a request must be a JSON object");
		goto out;
	}
	for (size_t i = 0; i < 2; i++) {
		v = jv_object_get(jv_copy(req), jv_string(ids[i]));
		if (jv_get_kind(v) != JV_KIND_STRING ||
		    !clean_id(jv_string_value(v))) {
			jv_free(v);
			*err = xasprintf("\"%s\" must be a non-empty string "
			    "without control characters", ids[i]);
			goto out;
		}
		jv_free(v);
	}
	v = jv_object_get(jv_copy(req), jv_string("attempt"));
	if (jv_is_valid(v) && jv_get_kind(v) != JV_KIND_NULL &&
	    (jv_get_kind(v) != JV_KIND_NUMBER || jv_number_value(v) < 1 ||
	    jv_number_value(v) > 1e9 ||
	    jv_number_value(v) != (int)jv_number_value(v))) {
		jv_free(v);
		*err = xstrdup("\"attempt\" must be a whole number >= 1");
		goto out;
	}
	jv_free(v);
	v = jv_object_get(jv_copy(req), jv_string("callbackToken"));
	if (jv_is_valid(v) && jv_get_kind(v) != JV_KIND_NULL &&
	    jv_get_kind(v) != JV_KIND_STRING) {
		jv_free(v);
		*err = xstrdup("\"callbackToken\" must be a string");
		goto out;
	}
	jv_free(v);
	v = jv_object_get(jv_copy(req), jv_string("scheduledTime"));
	if (jv_is_valid(v) && jv_get_kind(v) != JV_KIND_NULL &&
	    !scheduled_time_valid(v)) {
		*err = xstrdup("\"scheduledTime\" must be an RFC 3339 time "
			       "like 2026-12-07T03:00:00Z");
		goto out;
	}
	v = jv_object_get(jv_copy(req), jv_string("task"));
	if (jv_get_kind(v) != JV_KIND_OBJECT) {
		jv_free(v);
		*err = xstrdup("request has no \"task\" object");
		goto out;
	}
	if (check_task(v, err) == -1)
		goto out;
	if ((*timeout_ms = runner_request_timeout(jv_copy(req))) == -1) {
		*err = xstrdup("task \"timeout\" must be a positive duration "
		    "like 500ms, 30s or 5m");
		goto out;
	}
	rc = 0;
out:
	jv_free(req);
	return rc;
}

int
runner_check_request(jv req, char **err)
{
	int64_t ms;

	return check_request(req, err, &ms);
}

int
runner_pass_env_check(const char *list, char **err)
{
	const char *p = list ? list : "";

	for (;;) {
		size_t n;

		p += strspn(p, " \t,");
		if (*p == '\0')
			return 0;
		n = strcspn(p, " \t,");
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)p[i];

			if (c == '_' || isalpha(c) || (i > 0 && isdigit(c)) ||
			    (i > 0 && c == '*' && i == n - 1))
				continue;
			*err = xasprintf("'%.*s' is not a variable name (or "
			    "a prefix ending in *)", (int)n, p);
			return -1;
		}
		p += n;
	}
}

/* RFC 3986 unreserved characters pass; everything else is %XX. */
static char *
url_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = xmalloc(strlen(s) * 3 + 1), *p = out;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (isalnum(c) || c == '-' || c == '_' || c == '.' ||
		    c == '~')
			*p++ = (char)c;
		else {
			*p++ = '%';
			*p++ = hex[c >> 4];
			*p++ = hex[c & 15];
		}
	}
	*p = '\0';
	return out;
}

/* prefix, then req's string member key as JSON (null if not a string). */
static void
put_str_member(struct buf *b, const char *prefix, jv req, const char *key)
{
	jv v = jv_object_get(jv_copy(req), jv_string(key));

	buf_puts(b, prefix);
	if (jv_get_kind(v) == JV_KIND_STRING)
		buf_json_str(b, jv_string_value(v),
		    (size_t)jv_string_length_bytes(jv_copy(v)));
	else
		buf_puts(b, "null");
	jv_free(v);
}

/*
 * Written as text, not built as a jv and dumped: it is made for every
 * task, and jv formats its numbers through double-to-string.
 */
char *
runner_envelope(jv req, int64_t timeout_ms, const char *callback_base_url,
    size_t *len)
{
	struct buf b = BUF_INIT;
	jv v;

	put_str_member(&b, "{\"executionId\":", req, "executionId");
	put_str_member(&b, ",\"taskId\":", req, "taskId");
	buf_puts(&b, ",\"input\":");
	v = jv_object_get(jv_copy(req), jv_string("input"));
	if (!jv_is_valid(v) || (jv_get_kind(v) == JV_KIND_OBJECT &&
	    jv_object_length(jv_copy(v)) == 0)) {
		buf_puts(&b, "{}");
		jv_free(v);
	} else {
		jv s = jv_dump_string(v, 0);

		buf_puts(&b, jv_string_value(s));
		jv_free(s);
	}
	v = jv_object_get(jv_copy(req), jv_string("attempt"));
	buf_printf(&b, ",\"attempt\":%d,\"timeout\":%lld",
	    jv_get_kind(v) == JV_KIND_NUMBER ? (int)jv_number_value(v) : 1,
	    (long long)timeout_ms);
	jv_free(v);
	/* (checked by check_request: RFC 3339 characters only) */
	v = jv_object_get(jv_copy(req), jv_string("scheduledTime"));
	if (jv_get_kind(v) == JV_KIND_STRING) {
		buf_puts(&b, ",\"scheduledTime\":");
		buf_json_str(&b, jv_string_value(v),
		    (size_t)jv_string_length_bytes(jv_copy(v)));
	}
	jv_free(v);
	v = jv_object_get(req, jv_string("callbackToken"));
	if (callback_base_url != NULL && *callback_base_url != '\0' &&
	    jv_get_kind(v) == JV_KIND_STRING &&
	    jv_string_length_bytes(jv_copy(v)) > 0) {
		size_t n = strlen(callback_base_url);
		char *esc = url_escape(jv_string_value(v));
		char *url;

		while (n > 0 && callback_base_url[n - 1] == '/')
			n--;
		url = xasprintf("%.*s/api/v1/callbacks/%s", (int)n,
		    callback_base_url, esc);
		buf_puts(&b, ",\"callbackUrl\":");
		buf_json_str(&b, url, strlen(url));
		free(url);
		free(esc);
	}
	jv_free(v);
	buf_putc(&b, '}');
	*len = b.len;
	return b.p;
}

/* The first bytes of a body, for messages; control characters become ' '. */
static jv
body_snippet(const char *body, size_t len)
{
	char buf[201];
	size_t n = len < 200 ? len : 200;

	for (size_t i = 0; i < n; i++)
		buf[i] = (unsigned char)body[i] < 0x20 ? ' ' : body[i];
	buf[n] = '\0';
	return jv_string_fmt("%s%s", buf, len > n ? "…" : "");
}

static int
all_space(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!isspace((unsigned char)s[i]))
			return 0;
	return 1;
}

/* Copies "logs" (text) and "duration" from a protocol body into res. */
static jv
take_logs(jv res, jv body)
{
	jv logs, dur;

	if (jv_get_kind(body) != JV_KIND_OBJECT) {
		jv_free(body);
		return res;
	}
	logs = jv_object_get(jv_copy(body), jv_string("logs"));
	if (jv_get_kind(logs) == JV_KIND_STRING)
		res = jv_object_set(res, jv_string("logs"), logs);
	else if (jv_is_valid(logs) && jv_get_kind(logs) != JV_KIND_NULL)
		res = jv_object_set(res, jv_string("logs"),
		    jv_dump_string(logs, 0));
	else
		jv_free(logs);
	dur = jv_object_get(body, jv_string("duration"));
	if (jv_get_kind(dur) == JV_KIND_NUMBER)
		res = jv_object_set(res, jv_string("backendDurationMs"), dur);
	else
		jv_free(dur);
	return res;
}

/* The message a backend gave in "error" (object or string), or NULL. */
static jv
backend_error_message(jv body)
{
	jv e, m;

	if (jv_get_kind(body) != JV_KIND_OBJECT) {
		jv_free(body);
		return jv_invalid();
	}
	e = jv_object_get(body, jv_string("error"));
	if (jv_get_kind(e) == JV_KIND_STRING)
		return e;
	if (jv_get_kind(e) != JV_KIND_OBJECT) {
		jv_free(e);
		return jv_invalid();
	}
	m = jv_object_get(e, jv_string("message"));
	if (jv_get_kind(m) == JV_KIND_STRING)
		return m;
	jv_free(m);
	return jv_invalid();
}

static jv
failed(enum errclass c, jv msg)
{
	jv r = JV_OBJECT(jv_string("status"), jv_string("FAILED"),
	    jv_string("output"), jv_null(),
	    jv_string("error"), JV_OBJECT(jv_string("type"),
	    jv_string(errclass_name(c)), jv_string("message"), msg));
	return r;
}

static jv
http_error_result(int st, const char *body, size_t len, jv parsed)
{
	enum errclass c = errclass_from_http(st);
	jv msg, detail, res;

	if (c == ERR_NONE)	/* 1xx/3xx as a final answer: misconfigured */
		c = ERR_HTTP_CLIENT;
	detail = backend_error_message(jv_copy(parsed));
	if (!jv_is_valid(detail)) {
		jv_free(detail);
		detail = all_space(body, len) ? jv_string("") :
		    body_snippet(body, len);
	}
	if (jv_string_length_bytes(jv_copy(detail)) > 0)
		msg = jv_string_fmt("HTTP %d: %s", st,
		    jv_string_value(detail));
	else
		msg = jv_string_fmt("HTTP %d", st);
	jv_free(detail);
	res = failed(c, msg);
	return take_logs(res, parsed);
}

/*
 * What a protocol backend's 2xx answer, a JSON object (parsed, consumed),
 * stands for, by its "status"; the "logs" in it go with the result.
 */
static jv
protocol_result(jv parsed)
{
	jv res, status, v;

	status = jv_object_get(jv_copy(parsed), jv_string("status"));
	if (jv_get_kind(status) == JV_KIND_NULL ||
	    !jv_is_valid(status)) {
		/* No protocol status: a plain JSON answer is the output. */
		if (jv_object_has(jv_copy(parsed), jv_string("output")))
			v = jv_object_get(jv_copy(parsed),
			    jv_string("output"));
		else
			v = jv_copy(parsed);
		res = JV_OBJECT(jv_string("status"), jv_string("SUCCESS"),
		    jv_string("output"), v);
	} else if (jv_get_kind(status) != JV_KIND_STRING) {
		res = failed(ERR_TASK_FAILED, jv_string("\"status\" in the "
		    "response is not a string"));
	} else if (strcasecmp(jv_string_value(status), "SUCCESS") == 0) {
		v = jv_object_get(jv_copy(parsed), jv_string("output"));
		if (!jv_is_valid(v)) {
			jv_free(v);
			v = jv_null();
		}
		res = JV_OBJECT(jv_string("status"), jv_string("SUCCESS"),
		    jv_string("output"), v);
	} else if (strcasecmp(jv_string_value(status), "FAILED") == 0) {
		enum errclass c = ERR_TASK_FAILED, named;
		jv type = jv_getpath(jv_copy(parsed),
		    JV_ARRAY(jv_string("error"), jv_string("type")));
		jv msg = backend_error_message(jv_copy(parsed));

		if (jv_get_kind(type) == JV_KIND_STRING &&
		    errclass_parse(jv_string_value(type), &named) == 0 &&
		    named != ERR_NONE)
			c = named;
		jv_free(type);
		if (!jv_is_valid(msg)) {
			jv_free(msg);
			msg = jv_string("the backend reported FAILED");
		}
		res = failed(c, msg);
	} else if (strcasecmp(jv_string_value(status), "RUNNING") == 0 ||
	    strcasecmp(jv_string_value(status), "ACCEPTED") == 0) {
		res = JV_OBJECT(jv_string("status"), jv_string("ACCEPTED"),
		    jv_string("output"), jv_null());
	} else {
		res = failed(ERR_TASK_FAILED, jv_string_fmt("unknown status "
		    "\"%s\" in the response (expected SUCCESS, FAILED or "
		    "RUNNING)", jv_string_value(status)));
	}
	jv_free(status);
	return take_logs(res, parsed);
}

jv
runner_parse_response(int st, const char *body, size_t len, int protocol)
{
	jv parsed = jv_invalid(), res, v;
	int empty = body == NULL || all_space(body, len);

	if (body == NULL)
		body = "", len = 0;
	if (!empty)
		parsed = json_parse_untrusted(body, len);

	if (st < 200 || st > 299) {
		res = http_error_result(st, body, len, jv_is_valid(parsed) ?
		    jv_copy(parsed) : jv_null());
		jv_free(parsed);
		return res;
	}

	if (!protocol) {
		if (empty)
			v = jv_null();
		else if (jv_is_valid(parsed))
			v = jv_copy(parsed);
		else
			v = jv_string_sized(body, (int)len);
		jv_free(parsed);
		return JV_OBJECT(jv_string("status"), jv_string("SUCCESS"),
		    jv_string("output"), v);
	}

	if (st == 202) {
		res = JV_OBJECT(jv_string("status"), jv_string("ACCEPTED"),
		    jv_string("output"), jv_null());
		return take_logs(res, parsed);	/* invalid is ignored there */
	}
	if (empty) {
		jv_free(parsed);
		return JV_OBJECT(jv_string("status"), jv_string("SUCCESS"),
		    jv_string("output"), jv_null());
	}
	if (!jv_is_valid(parsed)) {
		jv why = jv_invalid_get_msg(parsed), sn = body_snippet(body,
		    len);

		res = failed(ERR_TASK_FAILED, jv_string_fmt("response body "
		    "is not JSON (%s): %s", jv_get_kind(why) == JV_KIND_STRING ?
		    jv_string_value(why) : "parse error", jv_string_value(sn)));
		jv_free(why);
		jv_free(sn);
		return res;
	}
	if (jv_get_kind(parsed) != JV_KIND_OBJECT) {
		jv_free(parsed);
		return failed(ERR_TASK_FAILED, jv_string("response body is "
		    "not a JSON object"));
	}

	return protocol_result(parsed);
}

const char *
runner_signal_name(int signo, char *buf, size_t len)
{
	const char *abbrev = signo > 0 ? sigabbrev_np(signo) : NULL;

	if (abbrev != NULL)
		snprintf(buf, len, "SIG%s", abbrev);
	else
		snprintf(buf, len, "SIG%d", signo);
	return buf;
}

jv
runner_proc_outcome(const struct runner_proc_exit *x)
{
	jv res, out;
	char sig[16];

	if (!x->exited) {
		runner_signal_name(x->status, sig, sizeof(sig));
		res = failed(ERR_TASK_FAILED, jv_string_fmt("killed by "
		    "signal %s", sig));
		return jv_object_set(res, jv_string("signal"),
		    jv_string(sig));
	}
	if (x->status != 0) {
		if (x->last_stderr && *x->last_stderr)
			res = failed(ERR_TASK_FAILED, jv_string_fmt("exited "
			    "with status %d: %.300s", x->status,
			    x->last_stderr));
		else
			res = failed(ERR_TASK_FAILED, jv_string_fmt("exited "
			    "with status %d", x->status));
		return jv_object_set(res, jv_string("exitCode"),
		    jv_number(x->status));
	}
	if (x->output_file && !all_space(x->output_file,
	    x->output_file_len)) {
		out = json_parse_untrusted(x->output_file,
		    x->output_file_len);
		if (!jv_is_valid(out)) {
			jv why = jv_invalid_get_msg(out);

			res = failed(ERR_TASK_FAILED, jv_string_fmt("the "
			    "file $LOOM_OUTPUT is not JSON: %s",
			    jv_get_kind(why) == JV_KIND_STRING ?
			    jv_string_value(why) : "parse error"));
			jv_free(why);
			return jv_object_set(res, jv_string("exitCode"),
			    jv_number(0));
		}
	} else if (x->last_stdout && *x->last_stdout) {
		out = json_parse_untrusted(x->last_stdout,
		    strlen(x->last_stdout));
		if (!jv_is_valid(out)) {
			jv_free(out);
			out = jv_null();
		}
	} else
		out = jv_null();
	return JV_OBJECT(jv_string("status"), jv_string("SUCCESS"),
	    jv_string("output"), out, jv_string("exitCode"), jv_number(0));
}

/*
 * Random bytes for trace ids come from a pool that idgen_bytes() fills 4 KiB
 * at a time: one system call per 170 tasks, not one per task.  Bytes are
 * never handed out twice.
 */
static void
random_bytes(unsigned char *out, size_t n)
{
	static _Thread_local unsigned char pool[4096];
	static _Thread_local size_t left;

	if (left < n) {
		if (idgen_bytes(pool, sizeof(pool)) < 0) {
			/* no entropy source: unique enough for trace ids */
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			for (size_t i = 0; i < sizeof(pool); i++)
				pool[i] = (unsigned char)(rand() ^
				    (ts.tv_nsec >> (i % 24)));
		}
		left = sizeof(pool);
	}
	memcpy(out, pool + sizeof(pool) - left, n);
	left -= n;
}

void
runner_traceparent_new(char buf[56])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char rnd[24];
	char *p = buf;

	random_bytes(rnd, sizeof(rnd));
	rnd[0] |= 1;	/* an all-zero trace or span id is invalid */
	rnd[16] |= 1;
	memcpy(p, "00-", 3);
	p += 3;
	for (int i = 0; i < 16; i++) {
		*p++ = hex[rnd[i] >> 4];
		*p++ = hex[rnd[i] & 15];
	}
	*p++ = '-';
	for (int i = 16; i < 24; i++) {
		*p++ = hex[rnd[i] >> 4];
		*p++ = hex[rnd[i] & 15];
	}
	memcpy(p, "-01", 4);
}

static int
hex_field(const char *s, size_t n)
{
	int nonzero = 0;

	for (size_t i = 0; i < n; i++) {
		if (!isxdigit((unsigned char)s[i]) ||
		    isupper((unsigned char)s[i]))
			return 0;
		if (s[i] != '0')
			nonzero = 1;
	}
	return nonzero;
}

int
runner_traceparent_valid(const char *s)
{
	if (strlen(s) != 55 || strncmp(s, "00-", 3) != 0 || s[35] != '-' ||
	    s[52] != '-')
		return 0;
	return hex_field(s + 3, 32) && hex_field(s + 36, 16) &&
	    isxdigit((unsigned char)s[53]) && isxdigit((unsigned char)s[54]);
}
/* clang-format on */
