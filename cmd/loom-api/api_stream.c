/*
 * api_stream: streamed answers of loom-api without a thread per client
 * (see api_stream.h, and api.h for the handler's side).
 *
 * A stream is an MHD response whose body comes from a content-reader
 * callback (stream_read), run by the worker thread that owns the
 * connection whenever the socket can take more.  It sends what it has
 * buffered; when the buffer is empty it asks the handler's fill() for
 * more (a database read); when that brings nothing it parks: the
 * connection is suspended (MHD stops polling it, so the stream costs no
 * thread and no CPU) and the reader returns 0.  The main thread resumes
 * parked streams on a doorbell naming them, when a heartbeat or a
 * re-check falls due (one timer for the earliest), when the client hangs
 * up, and on shutdown; MHD then calls the reader again.
 *
 * Race-free parking, as for api_wait(): a doorbell (or the timer) marks
 * a stream dirty whether or not it is parked; the reader clears the mark
 * before fill() and, once the connection is suspended, parks only if no
 * mark came since, else resumes itself at once.  fill() is called only
 * for a mark or when it asked to be called again, so what a bell brings
 * costs one read, not one more to find there is nothing left.
 *
 * Hang-ups: MHD does not watch a suspended connection, so a client that
 * goes away would hold its slot until the next heartbeat.  The main loop
 * watches each parked stream's socket for input; end of file (or an
 * error) resumes the stream, whose reader then closes it.  The watch is
 * added by the main thread once the stream is parked and always deleted
 * before the stream is resumed, so it never outlives the socket.
 *
 * Threads and ownership: the hub's list of streams, the marks and the
 * parked state are under h->mu; a stream's buffer and fill() state are
 * its worker thread's.  The stream is owned by its MHD response and freed
 * by MHD (stream_release) when the response is done with, which can only
 * happen while it is not suspended, hence not parked.  MHD calls are made
 * without h->mu held, except MHD_resume_connection (as wait.c does).
 */
#include "api_stream.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "core/buf.h"
#include "net/sse.h"
#include "core/xalloc.h"

#define STREAM_BLOCK (16 * 1024) /* MHD's read size for us */
#define STREAM_RETRY_HINT "2000" /* "retry:" told to clients, ms */
#define STREAM_FILL_ROUNDS 8	 /* fill() calls per reader call */

struct api_stream {
	struct api_streams *hub;
	struct MHD_Connection *mc;
	int fd;	   /* the client's socket, for hang-ups */
	char *key; /* doorbell payload it waits for; NULL: all */
	int logs;  /* loom_log doorbells too */
	const struct api_stream_ops *ops;
	void *ctx;
	struct api_request rq; /* what fill() gets */
	char *method, *path;   /* rq's strings */

	/* the worker thread's */
	struct buf out;
	size_t off;	    /* sent from out */
	int64_t last_write; /* mono ms */
	int hello;	    /* the opening comment went out */
	int ended;
	int64_t recheck; /* fill()'s last answer; 0: call it now */

	/* under hub->mu */
	int dirty; /* a doorbell rang since the last fill() */
	int parked;
	int gone;	    /* the client hung up */
	int64_t wake_at;    /* parked: heartbeat or re-check, mono ms */
	struct loop_io *io; /* main thread: hang-up watch while parked */
	struct api_stream *prev, *next;
};

struct api_streams {
	struct loop *loop;
	long max;
	int64_t heartbeat_ms;
	int efd; /* workers -> main: a stream parked */
	struct loop_io *efd_io;
	struct loop_timer *timer;

	pthread_mutex_t mu;
	struct api_stream *all; /* every started stream */
	long n;
	int stopping;
};

/* ---- the stream object -------------------------------------------------- */

static void stream_free(struct api_stream *s);

int
api_stream(struct api_request *rq, const char *key, int logs,
    const struct api_stream_ops *ops, void *ctx)
{
	struct api_stream *s = xcalloc(1, sizeof(*s));

	if (rq->stream != NULL) { /* asked twice: the last one wins */
		struct api_stream *old = rq->stream;

		rq->stream = NULL;
		stream_free(old);
	}
	s->fd = -1;
	s->key = key ? xstrdup(key) : NULL;
	s->logs = logs;
	s->ops = ops;
	s->ctx = ctx;
	s->method = xstrdup(rq->method);
	s->path = xstrdup(rq->path);
	s->rq.api = rq->api;
	s->rq.method = s->method;
	s->rq.path = s->path;
	s->rq.body = "";
	s->rq.json = jv_null();
	rq->stream = s;
	return 200;
}

/* Frees a stream that is on no list. */
static void
stream_free(struct api_stream *s)
{
	s->ops->free(s->ctx);
	buf_free(&s->out);
	free(s->key);
	free(s->method);
	free(s->path);
	free(s);
}

/* MHD is done with the response (the client went, or the stream ended). */
static void
stream_release(void *cls)
{
	struct api_stream *s = cls;
	struct api_streams *h = s->hub;

	pthread_mutex_lock(&h->mu);
	if (s->prev)
		s->prev->next = s->next;
	else
		h->all = s->next;
	if (s->next)
		s->next->prev = s->prev;
	h->n--;
	pthread_mutex_unlock(&h->mu);
	if (log_get_level() >= LOG_LVL_DEBUG)
		api_log(LOG_LVL_DEBUG, "stream %s ended%s", s->path,
		    s->gone ? " (the client hung up)" : "");
	stream_free(s);
}

/* ---- the main thread's side --------------------------------------------- */

/* h->mu held, main thread: the reader runs again. */
static void
unpark(struct api_stream *s)
{
	s->parked = 0;
	loop_io_del(s->io);
	s->io = NULL;
	MHD_resume_connection(s->mc);
}

static void
on_hangup(struct loop_io *io, int fd, unsigned events, void *arg)
{
	struct api_stream *s = arg;
	struct api_streams *h = s->hub;
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	pthread_mutex_lock(&h->mu);
	if (n > 0) {
		/* A request pipelined behind the stream: not ours to read.
		 * The next heartbeat write finds out if the client went. */
		(void)loop_io_set(io, 0);
	} else if (s->parked) {
		s->gone = 1;
		unpark(s);
	}
	pthread_mutex_unlock(&h->mu);
}

/* Main thread: watch new parkers, wake the due, arm for the next. */
static void
rearm(struct api_streams *h)
{
	int64_t now = api_mono_ms(), first = 0;

	pthread_mutex_lock(&h->mu);
	for (struct api_stream *s = h->all; s; s = s->next) {
		if (!s->parked)
			continue;
		if (s->wake_at <= now) {
			s->dirty = 1; /* a re-check, or a heartbeat */
			unpark(s);
			continue;
		}
		if (s->io == NULL && s->fd >= 0)
			s->io = loop_io_add(
			    h->loop, s->fd, LOOP_READ, on_hangup, s);
		if (first == 0 || s->wake_at < first)
			first = s->wake_at;
	}
	pthread_mutex_unlock(&h->mu);
	if (first)
		(void)loop_timer_at(h->timer, first);
	else
		loop_timer_stop(h->timer);
}

static void
on_timer(struct loop_timer *t, void *arg)
{
	rearm(arg);
}

static void
on_efd(struct loop_io *io, int fd, unsigned events, void *arg)
{
	eventfd_t v;

	(void)eventfd_read(fd, &v);
	rearm(arg);
}

void
api_streams_doorbell(
    struct api_streams *h, const char *channel, const char *payload)
{
	int all = channel == NULL || payload == NULL || *payload == '\0';
	int logs = channel != NULL && strcmp(channel, "loom_log") == 0;

	if (h == NULL)
		return;
	if (channel != NULL && !logs && strcmp(channel, "loom_event") != 0)
		return;
	pthread_mutex_lock(&h->mu);
	for (struct api_stream *s = h->all; s; s = s->next) {
		if (!all && logs &&
		    (!s->logs || s->key == NULL ||
			strcmp(s->key, payload) != 0))
			continue;
		if (!all && !logs && s->key != NULL &&
		    strcmp(s->key, payload) != 0)
			continue;
		s->dirty = 1;
		if (s->parked)
			unpark(s);
	}
	pthread_mutex_unlock(&h->mu);
}

void
api_streams_stop(struct api_streams *h)
{
	if (h == NULL)
		return;
	pthread_mutex_lock(&h->mu);
	h->stopping = 1;
	for (struct api_stream *s = h->all; s; s = s->next)
		if (s->parked)
			unpark(s);
	pthread_mutex_unlock(&h->mu);
}

long
api_streams_count(struct api_streams *h)
{
	long n;

	pthread_mutex_lock(&h->mu);
	n = h->n;
	pthread_mutex_unlock(&h->mu);
	return n;
}

/* ---- the worker thread's side ------------------------------------------- */

static ssize_t
copy_out(struct api_stream *s, char *buf, size_t max)
{
	size_t n = s->out.len - s->off;

	if (n > max)
		n = max;
	memcpy(buf, s->out.p + s->off, n);
	s->off += n;
	s->last_write = api_mono_ms();
	return (ssize_t)n;
}

/* Suspends the connection until the main thread resumes it. */
static void
park(struct api_stream *s, int64_t recheck_ms)
{
	struct api_streams *h = s->hub;
	int64_t now = api_mono_ms();
	int again;

	MHD_suspend_connection(s->mc);
	pthread_mutex_lock(&h->mu);
	again = h->stopping || s->dirty || s->gone;
	if (!again) {
		s->parked = 1;
		s->wake_at = s->last_write + h->heartbeat_ms;
		if (recheck_ms > 0 && now + recheck_ms < s->wake_at)
			s->wake_at = now + recheck_ms;
	}
	pthread_mutex_unlock(&h->mu);
	if (again)
		MHD_resume_connection(s->mc);
	else if (eventfd_write(h->efd, 1) < 0)
		api_log(LOG_LVL_WARN, "eventfd write: %s", strerror(errno));
}

static ssize_t
stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct api_stream *s = cls;
	struct api_streams *h = s->hub;
	int stopping, gone, dirty, rc;

	for (int round = 0;; round++) {
		if (s->off < s->out.len)
			return copy_out(s, buf, max);
		buf_reset(&s->out);
		s->off = 0;
		if (s->ended)
			return MHD_CONTENT_READER_END_OF_STREAM;
		pthread_mutex_lock(&h->mu);
		stopping = h->stopping;
		gone = s->gone;
		dirty = s->dirty;
		s->dirty = 0;
		pthread_mutex_unlock(&h->mu);
		/* A client that hung up gets the regular end: MHD's write of
		 * it fails quietly, where an error would be logged. */
		if (gone || stopping)
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (!s->hello) {
			/* Headers and a first line at once: the client knows
			 * it is connected, and how soon to come back. */
			s->hello = 1;
			buf_puts(&s->out, "retry: " STREAM_RETRY_HINT "\n");
			sse_comment(&s->out, "link loom event stream");
			continue;
		}
		/*
		 * fill() again only when it asked for it or a bell rang
		 * since: what it wrote last time has just been sent, and
		 * reading the tables once more would find nothing new.
		 */
		if (round >= STREAM_FILL_ROUNDS)
			s->recheck = 1; /* it keeps asking: not in a spin */
		else if (dirty || s->recheck == 0) {
			s->recheck = -1;
			rc = s->ops->fill(&s->rq, s->ctx, &s->out, &s->recheck);
			if (rc != 0)
				s->ended = 1;
			if (rc < 0 && s->out.len == 0)
				return MHD_CONTENT_READER_END_WITH_ERROR;
			if (s->out.len > 0 || s->ended || s->recheck == 0)
				continue;
		}
		if (api_mono_ms() - s->last_write >= h->heartbeat_ms) {
			sse_comment(&s->out, "ping");
			continue;
		}
		park(s, s->recheck);
		return 0;
	}
}

int
api_streams_start(struct api_streams *h, struct MHD_Connection *mc,
    struct api_request *rq, jv *out)
{
	struct api_stream *s = rq->stream;
	const union MHD_ConnectionInfo *ci;
	struct MHD_Response *resp;
	enum MHD_Result ret;
	int status = 0;

	rq->stream = NULL;
	pthread_mutex_lock(&h->mu);
	if (h->stopping)
		status = api_error(out, 503, "unavailable", NULL,
		    "the server is shutting down");
	else if (h->n >= h->max)
		status = api_error(out, 503, "unavailable", NULL,
		    "too many event streams are open (api.max_streams = "
		    "%ld); try again later",
		    h->max);
	else {
		s->hub = h;
		s->next = h->all;
		if (h->all)
			h->all->prev = s;
		h->all = s;
		h->n++;
	}
	pthread_mutex_unlock(&h->mu);
	if (status != 0) {
		api_set_header(rq, "Retry-After", "5");
		stream_free(s);
		return status;
	}
	s->mc = mc;
	ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
	s->fd = ci ? (int)ci->connect_fd : -1;
	s->last_write = api_mono_ms();
	/* From here on MHD owns s: stream_release() frees it. */
	resp = MHD_create_response_from_callback(
	    MHD_SIZE_UNKNOWN, STREAM_BLOCK, stream_read, s, stream_release);
	if (resp == NULL) {
		stream_release(s);
		return api_error(
		    out, 500, "internal", NULL, "cannot start the stream");
	}
	MHD_add_response_header(
	    resp, "Content-Type", "text/event-stream; charset=utf-8");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	/* Proxies (nginx) must not buffer what is meant to flow. */
	MHD_add_response_header(resp, "X-Accel-Buffering", "no");
	ret = MHD_queue_response(mc, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	if (log_get_level() >= LOG_LVL_DEBUG)
		api_log(LOG_LVL_DEBUG, "%s %s: stream started", rq->method,
		    rq->path);
	return ret == MHD_YES ? 0 : -1;
}

/* ---- the hub ------------------------------------------------------------ */

struct api_streams *
api_streams_new(
    struct loop *loop, long max_streams, int64_t heartbeat_ms, char **err)
{
	struct api_streams *h = xcalloc(1, sizeof(*h));

	h->loop = loop;
	h->max = max_streams > 0 ? max_streams : API_MAX_STREAMS_DEFAULT;
	h->heartbeat_ms =
	    heartbeat_ms > 0 ? heartbeat_ms : API_HEARTBEAT_MS_DEFAULT;
	pthread_mutex_init(&h->mu, NULL);
	h->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (h->efd < 0 ||
	    (h->efd_io = loop_io_add(loop, h->efd, LOOP_READ, on_efd, h)) ==
		NULL ||
	    (h->timer = loop_timer_new(loop, on_timer, h)) == NULL) {
		*err = xasprintf(
		    "cannot set up event streams: %s", strerror(errno));
		api_streams_free(h);
		return NULL;
	}
	return h;
}

void
api_streams_free(struct api_streams *h)
{
	if (h == NULL)
		return;
	if (h->n > 0)
		api_log(LOG_LVL_WARN, "%ld event stream(s) still open at exit",
		    h->n);
	loop_timer_del(h->timer);
	loop_io_del(h->efd_io);
	if (h->efd >= 0)
		close(h->efd);
	pthread_mutex_destroy(&h->mu);
	free(h);
}
