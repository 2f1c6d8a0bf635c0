/*
 * wait: long-polling in loom-api.  A handler that must wait calls
 * api_wait(); request.c then parks the request here (api_suspend: its
 * connection is suspended and put on struct api's waiters list, holding
 * no thread) until a loom_event NOTIFY names its key (on_notify, from
 * the LISTEN connection: the doorbells, passed on to the event streams
 * too), its deadline passes (the main loop's wait_timer) or the server
 * stops.  The waiters list and gen are guarded by api->mu.
 *
 * Race-free waiting: the main thread counts doorbells (gen).  request.c notes
 * gen before each handler call; if it moved by the time the request is
 * parked, a doorbell may have rung after the handler read its rows, so the
 * request is resumed at once and reads them again.  After the LISTEN
 * connection is (re)made, every waiter is woken for the same reason.
 */
#include "server.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <microhttpd.h>

#include "api_stream.h"
#include "util/loop.h"
#include "core/xalloc.h"

int64_t
api_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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

int
api_wait(struct api_request *rq, const char *key, int64_t until_ms)
{
	struct api_conn *rc = rq->conn;

	free(rc->wait_key);
	rc->wait_key = xstrdup(key);
	rc->wait_until = until_ms;
	return API_SUSPEND;
}

/* Called with a->mu held. */
void
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

/*
 * Main thread; key NULL: everyone.  When the last waiter goes, so does
 * the timer of its deadline: left armed, it would wake an idle server
 * once, wait= after the last long poll.
 */
void
wake_matching(struct api *a, const char *key)
{
	struct api_conn *rc, *next;
	int woke = 0, none;

	pthread_mutex_lock(&a->mu);
	a->gen++;
	for (rc = a->waiters; rc; rc = next) {
		next = rc->wnext;
		if (key == NULL || strcmp(rc->wait_key, key) == 0) {
			waiter_wake(a, rc);
			woke = 1;
		}
	}
	none = a->waiters == NULL;
	pthread_mutex_unlock(&a->mu);
	if (woke && none)
		loop_timer_stop(a->wait_timer);
}

/* Worker thread, inside the access handler. */
void
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
		efd_kick(a); /* the main loop re-arms its timer */
}

/* Main thread: wake waiters whose time is up; arm for the next. */
void
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

void
on_wait_timer(struct loop_timer *t, void *arg)
{
	waiters_rearm(arg);
}

/* ---- doorbells ---------------------------------------------------------- */

void
on_notify(void *arg, const char *channel, const char *payload)
{
	struct api *a = arg;

	api_streams_doorbell(a->streams, channel, payload);
	if (strcmp(channel, "loom_event") == 0) /* not loom_log */
		wake_matching(a, payload && *payload ? payload : NULL);
}

void
on_listen_connect(void *arg)
{
	struct api *a = arg;

	/* Doorbells may have rung while we were not listening. */
	api_streams_doorbell(a->streams, NULL, NULL);
	wake_matching(a, NULL);
}
