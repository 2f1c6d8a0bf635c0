/*
 * api_records: the records of an asynchronous attempt that failed, sent
 * to loom-log by loom-api (see api.h).
 *
 * loom-exec writes two records (stream "loom") after every failed
 * attempt it sees: how the attempt ended, and what the engine does about
 * it (retry_decision_text()).  An asynchronous attempt's result comes to
 * loom-api's callback route instead, so loom-api writes them, with the
 * same texts and levels, made by the same functions from the policy the
 * attempt's stored request carries (dispatch_retry_parse()).
 *
 * Like loom-exec's own records they go to loom-log only, never to
 * task_logs directly: a run's log holds them whenever loom-log is used,
 * and never otherwise.  loom-api's request threads block, so the sending
 * is a short exchange on a fresh connection per callback (loom-ipc(7):
 * the "log" lines, a "sync", its "synced"), with one deadline for all of
 * it; when loom-log is not there or too slow the records are dropped.
 */
#include "api.h"

#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/dispatch.h"
#include "core/retry.h"
#include "util/ctl.h"
#include "util/jsonutil.h"

#define ANSWER_MAX (64 * 1024) /* an answer line longer than this: gone */

int
api_failure_records(jv retry, int attempt, const char *etype, const char *emsg,
    struct api_record rec[2])
{
	struct retry_policy p;
	enum retry_verdict v;
	int base, n = 1;

	/* How the attempt ended, as loom-exec's jobs.c says it. */
	if (etype != NULL && strcmp(etype, "Cancelled") == 0) {
		rec[0].level = "warn";
		snprintf(rec[0].msg, sizeof(rec[0].msg), "attempt %d cancelled",
		    attempt);
	} else if (etype != NULL) {
		rec[0].level =
		    strcmp(etype, "TimeoutException") == 0 ? "warn" : "error";
		snprintf(rec[0].msg, sizeof(rec[0].msg),
		    "attempt %d failed: %s: %s", attempt, etype,
		    emsg ? emsg : "");
	} else {
		/* A callback may leave its error out, which loom-exec's
		 * results never do: it failed all the same. */
		rec[0].level = "error";
		if (emsg != NULL)
			snprintf(rec[0].msg, sizeof(rec[0].msg),
			    "attempt %d failed: %s", attempt, emsg);
		else
			snprintf(rec[0].msg, sizeof(rec[0].msg),
			    "attempt %d failed", attempt);
	}
	/* What the engine decides: the class and the count it takes
	 * (enginedb_read.c, engine.c), by the same functions.  No "retry"
	 * in the request (one made before it was there): no decision. */
	if (dispatch_retry_parse(retry, &p, &base) == 0) {
		v = retry_decision_text(&p, errclass_of_failure(etype), attempt,
		    base, rec[1].msg, sizeof(rec[1].msg));
		rec[1].level = v == RETRY_AGAIN ? "info" : "error";
		n = 2;
	}
	return n;
}

/* ---- the exchange with loom-log ----------------------------------------- */

/* The envelope lines of the records and the sync that follows them. */
static void
records_lines(struct buf *b, const char *eid, const char *tid, int attempt,
    const struct api_record *rec, int n)
{
	struct timespec now;
	char iso[32];

	clock_gettime(CLOCK_REALTIME, &now);
	iso_time_ms((int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000, iso,
	    sizeof(iso));
	for (int i = 0; i < n; i++) {
		jv d = jv_dump_string(
		    JV_OBJECT(jv_string("v"), jv_number(1), jv_string("t"),
			jv_string("log"), jv_string("execution"),
			jv_string(eid), jv_string("task"), jv_string(tid),
			jv_string("attempt"), jv_number(attempt),
			jv_string("level"), jv_string(rec[i].level),
			jv_string("ts"), jv_string(iso), jv_string("stream"),
			jv_string("loom"), jv_string("msg"),
			jv_string(rec[i].msg)),
		    0);

		buf_printf(b, "%s\n", jv_string_value(d));
		jv_free(d);
	}
	buf_printf(b, "{\"v\":1,\"t\":\"sync\",\"id\":%d}\n", n);
}

/* Waits for events on fd until deadline (monotonic ms): 1, or 0 at the
 * deadline (errno ETIMEDOUT), or -1. */
static int
wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int64_t left;
	int r;

	while (1) {
		if ((left = deadline - api_mono_ms()) <= 0)
			break;
		r = poll(&pfd, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r != 0)
			return r;
	}
	errno = ETIMEDOUT;
	return 0;
}

static int
send_all(int fd, const struct buf *b, int64_t deadline)
{
	size_t off = 0;

	while (off < b->len) {
		ssize_t w = send(fd, b->p + off, b->len - off, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (wait_fd(fd, POLLOUT, deadline) <= 0)
				return -1;
			continue;
		}
		if (w <= 0)
			return -1;
		off += (size_t)w;
	}
	return 0;
}

/*
 * One answer line: 1 when it is our "synced", 0 for anything else
 * (an error line is said in the log, once per exchange).
 */
static int
on_answer(const char *path, const char *p, size_t n, int *said)
{
	jv o = jv_parse_sized(p, (int)n);
	/* jv_object_get() asserts an object: anything else is no answer */
	jv t = jv_get_kind(o) == JV_KIND_OBJECT ?
	    jv_object_get(jv_copy(o), jv_string("t")) :
	    jv_invalid();
	int synced = jv_get_kind(t) == JV_KIND_STRING &&
	    strcmp(jv_string_value(t), "synced") == 0;

	/* What it said, printed from the parsed value: the raw bytes
	 * may be anything. */
	if (!synced && !*said && jv_get_kind(o) == JV_KIND_OBJECT) {
		jv d = jv_dump_string(jv_copy(o), 0);

		log_warnx("loom-log at %s answered: %.300s", path,
		    jv_string_value(d));
		jv_free(d);
		*said = 1;
	} else if (!synced && !*said) {
		log_warnx("loom-log at %s answered a line that is not a "
			  "JSON object",
		    path);
		*said = 1;
	}
	jv_free(t);
	jv_free(o);
	return synced;
}

/* Reads answer lines until the "synced" (0) or the deadline (-1). */
static int
read_synced(const char *path, int fd, int64_t deadline)
{
	struct buf in = BUF_INIT;
	char chunk[4096], *nl;
	int rc = -1, said = 0;

	for (;;) {
		ssize_t r = recv(fd, chunk, sizeof(chunk), 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (wait_fd(fd, POLLIN, deadline) <= 0)
				goto out; /* errno set */
			continue;
		}
		if (r == 0)
			errno = ECONNRESET; /* closed before it answered */
		if (r <= 0)
			break;
		buf_put(&in, chunk, (size_t)r);
		while ((nl = memchr(in.p, '\n', in.len)) != NULL) {
			size_t n = (size_t)(nl - in.p);

			if (on_answer(path, in.p, n, &said)) {
				rc = 0;
				goto out;
			}
			memmove(in.p, nl + 1, in.len - n - 1);
			in.len -= n + 1;
		}
		if (in.len > ANSWER_MAX) {
			errno = EPROTO;
			break;
		}
	}
out:
	buf_free(&in);
	return rc;
}

/* Sends b (ending with a sync) on a fresh connection; waits for "synced". */
static int
exchange(const char *path, struct buf *b, int timeout_ms)
{
	int64_t deadline = api_mono_ms() + timeout_ms;
	int fd, rc = -1, e;

	/* non-blocking: EAGAIN (a full backlog) is loom-log too busy for us */
	if ((fd = ctl_unix_connect(path, SOCK_NONBLOCK)) < 0)
		e = errno;
	else {
		if (send_all(fd, b, deadline) == 0)
			rc = read_synced(path, fd, deadline);
		e = errno;
		close(fd);
	}
	buf_free(b);
	errno = e;
	return rc;
}

int
api_records_send(const char *path, const char *eid, const char *tid,
    int attempt, const struct api_record *rec, int n, int timeout_ms)
{
	struct buf b = BUF_INIT;

	if (path == NULL || *path == '\0' || n <= 0)
		return 0; /* no loom-log: nothing to say */
	records_lines(&b, eid, tid, attempt, rec, n);
	return exchange(path, &b, timeout_ms);
}

int
api_logd_sync(const char *path, int timeout_ms)
{
	struct buf b = BUF_INIT;

	if (path == NULL || *path == '\0' || strcmp(path, "none") == 0)
		return 0;
	buf_printf(&b, "{\"v\":1,\"t\":\"sync\",\"id\":0}\n");
	return exchange(path, &b, timeout_ms);
}

/*
 * Whether the last exchange failed: a failure is said once, until an
 * exchange succeeds again (callbacks come on many threads at once).
 */
static atomic_int logd_down;

void
api_failure_records_send(const char *path, const char *eid, const char *tid,
    int attempt, jv retry, const char *etype, const char *emsg)
{
	struct api_record rec[2];
	int n;

	/* logd.socket "" or "none": no loom-log, as for loom-exec */
	if (path == NULL || *path == '\0' || strcmp(path, "none") == 0) {
		jv_free(retry);
		return;
	}
	n = api_failure_records(retry, attempt, etype, emsg, rec);
	if (api_records_send(
		path, eid, tid, attempt, rec, n, API_RECORDS_TIMEOUT_MS) == 0) {
		if (atomic_exchange(&logd_down, 0))
			log_info("loom-log at %s: the records of "
				 "asynchronous attempts go there again",
			    path);
	} else if (!atomic_exchange(&logd_down, 1))
		log_warnx("loom-log at %s: %s; the records of asynchronous "
			  "attempts that fail are dropped until it is there",
		    path, strerror(errno));
	else
		log_debug("loom-log at %s: %s; the records of attempt %d of "
			  "%s of %s dropped",
		    path, strerror(errno), attempt, tid, eid);
}
