/*
 * deadlines: the timers armed from a query, never polled.  One for the
 * earliest deadline of a task whose backend answered 202 (those whose
 * callback never came fail), one for the earliest foreign lease expiry
 * (rows of dead executors are reclaimed by whoever claims next), one for
 * the earliest READY row's ready_at (it is claimed when due).
 *
 * The ready timer is what makes a READY row claimed once due whatever
 * doorbells were lost or raced: it is armed from this query and from
 * every claim that came back short (execdb_claim_next_ready()), both
 * taken after what they answer for, and a row that is due already but
 * was not claimed (another transaction had it locked) is looked at
 * again DUE_AGAIN_MS later while a slot is free, or by the claim that
 * a freed slot makes.
 *
 * An idle executor sleeps: the query looks at everything that can move
 * without a doorbell (a lease, a READY row, a result waiting for a pass)
 * in one snapshot, and arms a timer only for what it saw.  When it saw
 * none of them, whatever comes next starts with a doorbell
 * (loom_task_ready), and a claim that came back short after one looks
 * again (claims.c); a claim with no doorbell since the last look does
 * not, since that look saw all there was.
 */
#include <stdlib.h>

#include "core/dispatch.h"
#include "daemon.h"
#include "util/log.h"

/*
 * A foreign lease matters only with a free slot: when every slot is
 * busy, the claim made as one frees looks again.  A little late is fine:
 * its owner may still renew it, and a row that is due already but was
 * not claimed is locked by someone else.  Results waiting for a pass are
 * work under way that may lead to a lease with no doorbell (an
 * executor's exec.advance claims what its pass made READY): look again a
 * quarter of exec.lease later.  With nothing leased, READY or unsettled
 * anywhere, the next work rings a doorbell, and the executor sleeps.
 */
static void
arm_lease_watch(struct xd *x, const struct execdb_deadlines *dl)
{
	int64_t lease = dl->lease_ms;

	if (lease < 0 && dl->unsettled)
		lease = x->o->lease_ms / 4;
	x->looked_idle = lease < 0 && dl->ready_ms < 0;
	if (lease < 0 || x->draining)
		loop_timer_stop(x->lease_t);
	else if (x->nrunning >= (size_t)xd_slots(x)) {
		loop_timer_stop(x->lease_t);
		x->more_ready = 1;
	} else
		(void)loop_timer_after(
		    x->lease_t, lease < 450 ? 500 : lease + 50);
}

void
xd_arm_deadlines(struct xd *x)
{
	struct execdb_deadlines dl;
	char *err = NULL;

	xd_settle(x);

	x->want_deadlines = 0;
	x->deadlines_at_ms = loop_mono_ms(x->loop);
	x->bells_looked = x->bells;
	if (execdb_next_deadlines(x->edb, &dl, &err) < 0) {
		xd_db_failed(x, "reading deadlines", err);
		return;
	}
	/* READY rows: a few ms late, so that they are due on the server. */
	loop_timer_stop(x->ready_t);
	x->ready_t_at = 0;
	if (dl.ready_ms >= 0)
		xd_ready_wake(x, dl.ready_ms);
	if (dl.callback_ms >= 0)
		(void)loop_timer_after(
		    x->callback_t, dl.callback_ms < 10 ? 10 : dl.callback_ms);
	else
		loop_timer_stop(x->callback_t);
	arm_lease_watch(x, &dl);
}

/*
 * The earliest READY row falls due in ms (0: due already, yet not taken
 * by the claim that saw it): wake then, unless the ready timer fires
 * sooner.  With every slot busy, the claim made as one frees takes it.
 */
void
xd_ready_wake(struct xd *x, int64_t ms)
{
	int64_t at;

	if (x->draining)
		return;
	if (ms == 0 && x->nrunning >= (size_t)xd_slots(x)) {
		x->more_ready = 1;
		return;
	}
	ms = ms == 0 ? DUE_AGAIN_MS : ms + 5;
	at = loop_mono_ms(x->loop) + ms;
	if (x->ready_t_at != 0 && loop_timer_armed(x->ready_t) &&
	    x->ready_t_at <= at)
		return;
	if (loop_timer_after(x->ready_t, ms) == 0)
		x->ready_t_at = at;
}

/*
 * The records of an asynchronous attempt failed for want of a callback:
 * the two loom-exec writes of every failed attempt (jobs.c), the
 * decision by the policy its stored request carries, as loom-api's for
 * a FAILED callback.  No "retry" in the request (one made before it was
 * there): no decision.
 */
static void
overdue_records(struct xd *x, const struct execdb_overdue *o)
{
	struct retry_policy p;
	int base;

	xd_record_failure(x, &o->key, o->error_type, o->error_message);
	if (dispatch_retry_parse(jv_copy(o->retry), &p, &base) == 0)
		xd_record_verdict(x, &o->key, &p, base, o->error_type);
}

void
xd_on_callback_deadline(struct loop_timer *t, void *arg)
{
	struct xd *x = arg;
	struct execdb_overdue *o = NULL;
	char *err = NULL;
	long n;

	xd_settle(x);
	if (x->conn == NULL)
		return; /* xd_catch_up() re-arms it */
	n = execdb_fail_overdue(x->edb, &o, &err);
	if (n < 0) {
		xd_db_failed(x, "failing overdue callbacks", err);
		return;
	}
	if (n > 0)
		log_info("%ld task%s failed: no callback within the task "
			 "timeout",
		    n, n == 1 ? "" : "s");
	for (long i = 0; i < n; i++)
		overdue_records(x, &o[i]);
	execdb_overdue_free(o, n);
	x->want_deadlines = 1;
	xd_kick(x);
}

void
xd_on_lease_expiry(struct loop_timer *t, void *arg)
{
	struct xd *x = arg;

	xd_want_claim(x);
	x->want_deadlines = 1;
	xd_kick(x);
}

/* A READY row is due: claim (a held task's breaker is asked again). */
void
xd_on_ready_due(struct loop_timer *t, void *arg)
{
	struct xd *x = arg;

	x->ready_t_at = 0;
	xd_want_claim(x);
	x->want_deadlines = 1;
	xd_kick(x);
}
