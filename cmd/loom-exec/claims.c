/*
 * claims: starting the rows a claim brought.  Each claimed HTTP task asks
 * its target's circuit breaker first; one that must wait is held
 * (execdb_hold()) instead of started.  A claim that came back short means
 * the queue is empty, but for what it says it left: the READY row that
 * falls due first (held, or due and locked by someone else) arms the
 * ready timer.  News that READY rows may be there (xd_want_claim()) while
 * a claim was out may be rows the claim's snapshot did not see: they are
 * claimed again, whatever the claim brought.  How many tasks run at once
 * (the slots) adapts unless exec.concurrency or -j fixes it (xd_slots()).
 */
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "daemon.h"
#include "util/log.h"

/*
 * Asks the breaker of every claimed HTTP task whether it may go: targets[i]
 * gets the target of claim i (or NULL), and the claims that must wait are
 * held.  On a breaker database error the task goes anyway (fail open).
 */
static void
screen(struct xd *x, struct execdb_claim *c, long n, char **targets,
    unsigned char *held)
{
	struct execdb_hold *h = xcalloc((size_t)n + 1, sizeof(*h));
	char buf[BREAKER_TARGET_MAX], *owner, *err = NULL;
	size_t nh = 0;
	int64_t at;
	long done;
	int rc;

	for (long i = 0; i < n; i++) {
		targets[i] = NULL;
		held[i] = 0;
		if (!x->bcfg.enabled ||
		    !execbreaker_target(
			jv_copy(c[i].request), buf, sizeof(buf)))
			continue;
		targets[i] = xstrdup(buf);
		if (!breakerdb_cached(&x->bcfg, x->bcache, buf, 0, ERR_NONE))
			xd_settle(x);
		if (x->conn == NULL)
			continue;
		owner = xd_dispatch_owner(x, &c[i].key);
		rc = breakerdb_allow(
		    x->conn, &x->bcfg, x->bcache, buf, owner, &at, &err);
		free(owner);
		if (rc < 0) {
			xd_key_ctx(&c[i].key);
			log_warnx("circuit breaker of %s: %s; dispatching "
				  "anyway",
			    buf, err ? err : "database error");
			xd_key_ctx(NULL);
			if (PQstatus(x->conn) != CONNECTION_OK)
				xd_db_lost(x, NULL);
			free(err);
			err = NULL;
			continue;
		}
		if (rc == 0) {
			held[i] = 1;
			h[nh].key = &c[i].key;
			h[nh].target = targets[i];
			h[nh].retry_at_ms = at;
			nh++;
			xd_key_ctx(&c[i].key);
			log_debug(
			    "held: the circuit breaker of %s is open", buf);
			xd_key_ctx(NULL);
			xd_record(x, &c[i].key, "warn",
			    "attempt %d held: the circuit breaker of %s is "
			    "open",
			    c[i].key.attempt, buf);
		}
	}
	if (nh > 0)
		xd_settle(x);
	if (nh > 0 && x->conn != NULL &&
	    (done = execdb_hold(x->edb, h, nh, &err)) >= 0) {
		log_info("held %zu task%s (first for %s): circuit breaker "
			 "open",
		    nh, nh == 1 ? "" : "s", h[0].target);
		if ((size_t)done != nh)
			log_debug("%zu of them were not ours any more",
			    nh - (size_t)done);
		x->nheld += (uint64_t)done;
		x->want_deadlines = 1;
	} else if (nh > 0) {
		log_warnx("holding %zu task%s for open circuit breakers: %s; "
			  "dispatching them anyway",
		    nh, nh == 1 ? "" : "s",
		    err ? err : "no database connection");
		if (x->conn != NULL && PQstatus(x->conn) != CONNECTION_OK)
			xd_db_lost(x, NULL);
		free(err);
		memset(held, 0, (size_t)n);
	}
	free(h);
}

/* Starts the rows a claim that asked for ask rows answered with (r). */
static void
start_claimed(struct xd *x, PGresult *r, int ask)
{
	struct execdb_claim *c = NULL;
	char **targets;
	unsigned char *held;
	long n = execdb_claim_parse(r, &c);
	int64_t next = execdb_claim_next_ready(r);

	PQclear(r);
	if (n > 0)
		log_debug("claimed %ld of %d", n, ask);
	x->nclaimed += (uint64_t)n;
	targets = xcalloc((size_t)n + 1, sizeof(char *));
	held = xcalloc((size_t)n + 1, 1);
	screen(x, c, n, targets, held);
	for (long i = 0; i < n; i++)
		if (held[i])
			free(targets[i]);
		else
			xd_job_start(x, &c[i], targets[i]);
	free(targets);
	free(held);
	execdb_claims_free(c, n);
	if (n < ask) {
		/* The queue is empty, unless news came while the claim was
		 * out; the next doorbell wakes us, or the ready timer for
		 * the rows it left.  Make sure a dead executor's leases are
		 * reclaimed even without one. */
		if (x->ready_news == x->fl_news)
			x->more_ready = 0;
		if (next >= 0)
			xd_ready_wake(x, next);
		if (!loop_timer_armed(x->lease_t) &&
		    (x->bells != x->bells_looked || !x->looked_idle)) {
			/*
			 * Another executor may have taken what a doorbell
			 * announced or the last look saw: look for leases.
			 * A foreign lease taken since the last look lasts
			 * exec.lease: looking again a quarter of that after
			 * it is soon enough, and spares a query per claim.
			 * After a look that saw nothing and no doorbell
			 * since, there is nothing to look for (deadlines.c):
			 * an idle executor sleeps.
			 */
			int64_t since =
			    loop_mono_ms(x->loop) - x->deadlines_at_ms;

			if (x->deadlines_at_ms == 0 ||
			    since >= x->o->lease_ms / 4)
				x->want_deadlines = 1;
			else
				(void)loop_timer_after(
				    x->lease_t, x->o->lease_ms / 4 - since);
		}
	}
}

/*
 * News that READY rows may be there: a doorbell, a timer, a reconnect.
 * Counted, so that a claim that was out meanwhile does not clear it.
 */
void
xd_want_claim(struct xd *x)
{
	x->more_ready = 1;
	x->ready_news++;
}

/* Starts what the last batch claimed. */
void
xd_take_claimed(struct xd *x)
{
	PGresult *r = x->claimed;

	x->claimed = NULL;
	if (r != NULL)
		start_claimed(x, r, x->fl_ask);
}

/*
 * The slots: tasks at once.  With exec.concurrency (or -j) given, that
 * many.  Otherwise as many as finished in the last SLOTS_WINDOW_MS,
 * between SLOTS_MIN and exec.concurrency's default (SLOTS_MAX): tasks
 * quicker than the window, round trips to the database included, get
 * more slots than they had, so a fan-out of quick tasks keeps its
 * backends and the database busy; slower ones keep SLOTS_MIN, so that
 * claimed tasks queued for a connection (exec.max_host_connections) wait
 * about a window at most.  The slots shrink by half a window at most,
 * down to SLOTS_MIN after a quiet spell.  Taken when a claim is made.
 */
int
xd_slots(struct xd *x)
{
	const struct dbopts *o = x->o;
	int64_t now, dt;
	int64_t n, s;

	if (o->slots_min >= o->concurrency)
		return x->slots_peak = o->concurrency;
	now = loop_mono_ms(x->loop);
	dt = now - x->slots_at_ms;
	if (x->slots == 0 || dt < 0) {
		x->slots = o->slots_min;
		if (x->slots > x->slots_peak)
			x->slots_peak = x->slots;
		x->slots_at_ms = now;
		x->slots_done = 0;
		return x->slots;
	}
	if (dt < SLOTS_WINDOW_MS)
		return x->slots;
	n = (int64_t)x->slots_done * SLOTS_WINDOW_MS / dt;
	s = x->slots;
	for (int64_t w = dt / SLOTS_WINDOW_MS; w > 0 && s > n; w--)
		s /= 2;
	if (n > s)
		s = n;
	if (s < o->slots_min)
		s = o->slots_min;
	if (s > o->concurrency)
		s = o->concurrency;
	if (s != x->slots)
		log_debug("slots: %d -> %d (%lld tasks done in %lldms)",
		    x->slots, (int)s, (long long)x->slots_done, (long long)dt);
	x->slots = (int)s;
	if (x->slots > x->slots_peak)
		x->slots_peak = x->slots;
	x->slots_at_ms = now;
	x->slots_done = 0;
	return x->slots;
}
