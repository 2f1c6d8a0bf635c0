/*
 * stdin: loom-exec --stdin, the pipe-friendly mode.
 *
 * Request objects arrive one per line on stdin, are queued, and run
 * through the shared runner with at most -j of them at once; each result
 * is written to stdout as one compact JSON line as soon as it is known, so
 * results come in finishing order (match them by executionId/taskId).  A
 * line that is not a valid request gets a FAILED ValidationException
 * result naming the line, and the next line runs as usual.  Lines longer
 * than 1 MiB are refused the same way.
 *
 * stdin is read on the loop: pipes, terminals and sockets through an io
 * watch; regular files and devices, which epoll refuses but which never
 * block, through a deferred callback that reads one chunk per loop turn.
 * When the queue is long the reader pauses, so a million-line file is not
 * slurped into memory.  Results are written with ordinary blocking writes:
 * a consumer that stops reading stalls us, which is what a pipe means.
 *
 * SIGTERM/SIGINT: stop reading, report what was queued but never started
 * as Cancelled, cancel what runs (processes get SIGTERM, then SIGKILL after
 * the grace period) and exit once every result is written.  A second
 * signal stops at once.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exec.h"
#include "core/jsoncheck.h"
#include "util/log.h"
#include "util/loop.h"
#include "core/xalloc.h"

#define LINE_MAX_BYTES (1024 * 1024)
#define READ_CHUNK 65536

struct queued {
	jv req;
	long line;
};

struct xs {
	const struct exec_opts *o;
	struct loop *loop;
	struct runner *runner;
	struct loop_io *in_io;	  /* stdin is pollable */
	struct loop_defer *in_rd; /* stdin is a file or device */
	struct loop_signal *sig[3];
	char *buf; /* the unfinished line */
	size_t len, cap;
	int skipping; /* inside an over-long line */
	long lineno;
	int eof;
	int paused;
	int stopping;	  /* signal received, or stdout gone */
	int out_broken;	  /* stdout write failed */
	struct queued *q; /* ring buffer of waiting requests */
	size_t qhead, qlen, qcap;
	size_t running;
	size_t nresults;
	int failed; /* some result was not SUCCESS */
};

static void pump(struct xs *x);

/* Ring buffer of requests read but not started. */
static void
q_push(struct xs *x, jv req, long line)
{
	if (x->qlen == x->qcap) {
		size_t cap = x->qcap ? x->qcap * 2 : 64;
		struct queued *nq = xcalloc(cap, sizeof(*nq));

		for (size_t i = 0; i < x->qlen; i++)
			nq[i] = x->q[(x->qhead + i) % x->qcap];
		free(x->q);
		x->q = nq;
		x->qcap = cap;
		x->qhead = 0;
	}
	x->q[(x->qhead + x->qlen) % x->qcap] = (struct queued){ req, line };
	x->qlen++;
}

static struct queued
q_pop(struct xs *x)
{
	struct queued e = x->q[x->qhead];

	x->qhead = (x->qhead + 1) % x->qcap;
	x->qlen--;
	return e;
}

/* Above this many waiting requests the reader pauses. */
static size_t
q_high(const struct xs *x)
{
	size_t n = (size_t)x->o->jobs * 2;

	return n < 256 ? 256 : n;
}

static void begin_stop(struct xs *x);

static void
write_result(struct xs *x, jv res)
{
	jv s = jv_dump_string(res, 0);

	if (!x->out_broken &&
	    (printf("%s\n", jv_string_value(s)) < 0 || fflush(stdout) == EOF)) {
		log_warn("writing results to stdout");
		x->out_broken = 1;
		begin_stop(x); /* nobody listens: wind down */
	}
	jv_free(s);
	x->nresults++;
}

static void
maybe_finish(struct xs *x)
{
	if ((x->eof || x->stopping) && x->qlen == 0 && x->running == 0)
		loop_exit(x->loop, x->failed ? EXEC_FAIL : EXEC_OK);
}

static void
stop_reading(struct xs *x)
{
	loop_io_del(x->in_io);
	x->in_io = NULL;
	loop_defer_del(x->in_rd);
	x->in_rd = NULL;
}

static void
resume_reading(struct xs *x)
{
	if (!x->paused)
		return;
	x->paused = 0;
	if (x->in_io)
		(void)loop_io_set(x->in_io, LOOP_READ);
	if (x->in_rd)
		(void)loop_defer_arm(x->in_rd);
}

static void
on_done(void *arg, jv res)
{
	struct xs *x = arg;
	jv st = jv_object_get(jv_copy(res), jv_string("status"));

	if (jv_get_kind(st) != JV_KIND_STRING ||
	    strcmp(jv_string_value(st), "SUCCESS") != 0)
		x->failed = 1;
	jv_free(st);
	write_result(x, res);
	x->running--;
	pump(x);
	maybe_finish(x);
}

/*
 * The result line of a request that never reached the runner: type is
 * ValidationException (line > 0 is named in the message) or Cancelled.
 */
static jv
reject(jv req, long line, const char *type, const char *why)
{
	static const char *keep[] = { "executionId", "taskId", "attempt" };
	jv res = jv_object();

	if (jv_get_kind(req) == JV_KIND_OBJECT)
		for (size_t i = 0; i < 3; i++) {
			jv v = jv_object_get(jv_copy(req), jv_string(keep[i]));

			if (jv_get_kind(v) == JV_KIND_STRING ||
			    jv_get_kind(v) == JV_KIND_NUMBER)
				res = jv_object_set(res, jv_string(keep[i]), v);
			else
				jv_free(v);
		}
	jv_free(req);
	res = jv_object_set(res, jv_string("status"), jv_string("FAILED"));
	res = jv_object_set(res, jv_string("output"), jv_null());
	res = jv_object_set(res, jv_string("error"),
	    JV_OBJECT(jv_string("type"), jv_string(type), jv_string("message"),
		line > 0 ? jv_string_fmt("line %ld: %s", line, why) :
			   jv_string(why)));
	if (line > 0)
		res = jv_object_set(res, jv_string("line"), jv_number(line));
	return res;
}

static void
reject_line(struct xs *x, jv req, const char *why)
{
	x->failed = 1;
	write_result(x, reject(req, x->lineno, "ValidationException", why));
}

static void
pump(struct xs *x)
{
	while (!x->stopping && x->qlen > 0 && x->running < (size_t)x->o->jobs) {
		struct queued e = q_pop(x);

		if (runner_start(x->runner, e.req, on_done, x, NULL) == -1) {
			x->failed = 1;
			write_result(x,
			    reject(jv_null(), e.line, "TaskFailedException",
				strerror(errno)));
			continue;
		}
		x->running++;
	}
	if (x->qlen < q_high(x) / 2)
		resume_reading(x);
}

static void
handle_line(struct xs *x, const char *s, size_t n)
{
	char *err = NULL;
	jv req;
	size_t i;

	x->lineno++;
	for (i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			break;
	if (i == n)
		return; /* blank lines are allowed */
	req = json_parse_untrusted(s, n);
	if (!jv_is_valid(req)) {
		jv msg = jv_invalid_get_msg(req);

		reject_line(x, jv_null(),
		    jv_get_kind(msg) == JV_KIND_STRING ? jv_string_value(msg) :
							 "not JSON");
		jv_free(msg);
		return;
	}
	if (runner_check_request(jv_copy(req), &err) == -1) {
		reject_line(x, req, err);
		free(err);
		return;
	}
	q_push(x, req, x->lineno);
}

static void
consume(struct xs *x, const char *data, size_t n)
{
	while (n > 0) {
		const char *nl = memchr(data, '\n', n);
		size_t take = nl ? (size_t)(nl - data) : n;

		if (!x->skipping && x->len + take > LINE_MAX_BYTES) {
			x->skipping = 1;
			x->len = 0;
		}
		if (!x->skipping) {
			if (x->len + take > x->cap) {
				x->cap = x->len + take + READ_CHUNK;
				x->buf = xreallocarray(x->buf, x->cap, 1);
			}
			memcpy(x->buf + x->len, data, take);
			x->len += take;
		}
		data += take;
		n -= take;
		if (nl == NULL)
			break;
		data++;
		n--;
		if (x->skipping) {
			x->lineno++;
			reject_line(x, jv_null(), "longer than 1 MiB");
			x->skipping = 0;
		} else
			handle_line(x, x->buf, x->len);
		x->len = 0;
	}
}

static void
at_eof(struct xs *x)
{
	if (x->skipping) {
		x->lineno++;
		reject_line(x, jv_null(), "longer than 1 MiB");
	} else if (x->len > 0)
		handle_line(x, x->buf, x->len);
	x->len = 0;
	x->skipping = 0;
	x->eof = 1;
	stop_reading(x);
	log_debug("end of input after %ld lines", x->lineno);
}

/* One read; 1 when more may follow, 0 at EOF or error. */
static int
read_some(struct xs *x)
{
	char buf[READ_CHUNK];
	ssize_t n;

	n = read(STDIN_FILENO, buf, sizeof(buf));
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return 1;
	if (n == -1)
		log_warn("reading stdin");
	if (n <= 0) {
		at_eof(x);
		pump(x);
		maybe_finish(x);
		return 0;
	}
	consume(x, buf, (size_t)n);
	pump(x);
	if (x->qlen >= q_high(x)) {
		x->paused = 1;
		if (x->in_io)
			(void)loop_io_set(x->in_io, 0);
		return 0;
	}
	return 1;
}

static void
on_stdin(struct loop_io *io, int fd, unsigned events, void *arg)
{
	(void)io;
	(void)fd;
	(void)events;
	read_some(arg);
}

static void
on_stdin_file(struct loop_defer *d, void *arg)
{
	struct xs *x = arg;

	if (read_some(x) && x->in_rd != NULL)
		(void)loop_defer_arm(d);
}

static void
on_log_line(void *arg, jv line)
{
	(void)arg;
	if (log_get_level() >= LOG_LVL_DEBUG) {
		jv e = jv_object_get(jv_copy(line), jv_string("execution"));
		jv t = jv_object_get(jv_copy(line), jv_string("task"));
		jv s = jv_object_get(jv_copy(line), jv_string("stream"));
		jv m = jv_object_get(jv_copy(line), jv_string("msg"));

		log_debug("%s/%s %s: %s", jv_string_value(e),
		    jv_string_value(t), jv_string_value(s), jv_string_value(m));
		jv_free(e);
		jv_free(t);
		jv_free(s);
		jv_free(m);
	}
	jv_free(line);
}

/*
 * Stop reading, report what waits as Cancelled, cancel what runs; the
 * loop exits once the last result is written.
 */
static void
begin_stop(struct xs *x)
{
	if (x->stopping)
		return;
	loop_notify_stopping(x->loop);
	x->stopping = 1;
	x->failed = 1;
	stop_reading(x);
	while (x->qlen > 0) {
		struct queued e = q_pop(x);

		write_result(x,
		    reject(e.req, 0, "Cancelled",
			"cancelled "
			"before it started"));
	}
	if (x->runner != NULL)
		runner_cancel_all(x->runner);
	maybe_finish(x);
}

static void
on_signal(struct loop_signal *s, int signo, void *arg)
{
	struct xs *x = arg;

	(void)s;
	if (signo == SIGHUP) {
		log_info("SIGHUP: nothing to reload in --stdin mode");
		return;
	}
	if (x->stopping) {
		log_info("second signal: stopping now");
		runner_free(x->runner); /* delivers every result */
		x->runner = NULL;
		loop_exit(x->loop, EXEC_FAIL);
		return;
	}
	log_info("%s: cancelling %zu running and %zu waiting tasks",
	    strsignal(signo), x->running, x->qlen);
	begin_stop(x);
}

int
exec_stdin_run(const struct exec_opts *o)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP };
	struct runner_config rc = o->rc;
	struct xs x;
	int status = EXEC_SYSTEM;

	memset(&x, 0, sizeof(x));
	x.o = o;
	rc.log_line = on_log_line;
	rc.log_arg = &x;
	if ((x.loop = loop_new()) == NULL) {
		log_warn("event loop");
		return EXEC_SYSTEM;
	}
	if ((x.runner = runner_new(x.loop, &rc)) == NULL) {
		log_warn("runner");
		goto out;
	}
	for (size_t i = 0; i < 3; i++)
		if ((x.sig[i] = loop_signal_add(
			 x.loop, sigs[i], on_signal, &x)) == NULL) {
			log_warn("signal %d", sigs[i]);
			goto out;
		}
	x.in_io = loop_io_add(x.loop, STDIN_FILENO, LOOP_READ, on_stdin, &x);
	if (x.in_io == NULL && errno == EPERM) /* file or /dev/null */
		x.in_rd = loop_defer_new(x.loop, on_stdin_file, &x);
	if (x.in_io == NULL && x.in_rd == NULL) {
		log_warn("watching stdin");
		goto out;
	}
	log_debug("reading requests from stdin, %d at once", o->jobs);
	loop_notify_ready(x.loop);
	status = loop_run(x.loop);
	if (status < 0) {
		log_warn("event loop");
		status = EXEC_SYSTEM;
	}
	log_debug("%zu results written", x.nresults);
out:
	stop_reading(&x);
	runner_free(x.runner);
	x.runner = NULL;
	for (size_t i = 0; i < 3; i++)
		loop_signal_del(x.sig[i]);
	while (x.qlen > 0)
		jv_free(q_pop(&x).req);
	free(x.q);
	free(x.buf);
	loop_free(x.loop);
	return status;
}
