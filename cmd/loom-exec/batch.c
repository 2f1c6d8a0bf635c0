/*
 * batch: the batch in flight.  Results and claims go out together as one
 * batch that the loop does not wait for (db_async): one round trip, one
 * durable transaction (the report makes the commit durable; a claim alone
 * commits asynchronously), while the runner goes on with the tasks in
 * flight and new results queue for the next batch.  Anything else on the
 * work connection settles the batch first (xd_settle()), and a pass of
 * exec.advance (advance.h) behind it.  The jobs of a batch that is out
 * belong to it (x->fl) until its answer comes (on_batch()).
 */
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "daemon.h"
#include "util/log.h"

/* Whether the batch in flight is out. */
int
xd_in_flight(const struct xd *x)
{
	return db_async_pending(x->async) > 0;
}

/* The batch's answer: account for the results, keep the claim's rows. */
static void
on_batch(void *arg, int rc, const char *err, PGresult **res, size_t n)
{
	struct xd *x = arg;
	size_t k = 0;

	if (x->flb_out) {
		/* Kept when not written: the blocking way writes them. */
		logq_batch_end(x->logq, &x->flb, rc == 0);
		x->flb_out = 0;
		if (rc == 0)
			k++;
	}
	if (rc == 0 && x->nfl > 0) {
		long m = execdb_report_parse(res[k++], x->flr, x->nfl);

		log_debug("wrote %zu results (%ld still ours)", x->nfl, m);
		for (size_t i = 0; i < x->nfl; i++) {
			xd_account(x, x->fl[i], x->flr[i].matched);
			xd_job_free(x->fl[i]);
		}
	} else if (x->nfl > 0) {
		/* Not written: back to the head of the queue, in order. */
		for (size_t i = x->nfl; i-- > 0;)
			xd_done_push_front(x, x->fl[i]);
		if (x->conn != NULL && PQstatus(x->conn) == CONNECTION_OK) {
			log_warnx("writing results: %s", err ? err : "?");
			x->sync_flush = 1;
		}
	}
	x->batch_out = 0;
	if (x->claim_rings) {
		/* Behind a pass: its ready tasks may be more than we took. */
		x->claim_rings = 0;
		advance_claimed(x->adv,
		    rc == 0 && x->fl_ask > 0 && k < n ?
			execdb_claim_count(res[k]) :
			-1,
		    x->fl_ask);
	}
	if (rc == 0 && x->fl_ask > 0 && k < n) {
		x->claimed = res[k];
		res[k] = NULL;
	} else if (x->fl_ask > 0) {
		if (x->nfl == 0 && x->conn != NULL &&
		    PQstatus(x->conn) == CONNECTION_OK)
			log_warnx("claiming tasks: %s", err ? err : "?");
		x->more_ready = 1; /* claim again */
	}
	free(x->fl);
	free(x->flr);
	x->fl = NULL;
	x->flr = NULL;
	x->nfl = 0;
	xd_kick(x);
}

/* Reads the answers that arrived; a broken connection is re-made. */
static void
async_poll(struct xd *x)
{
	if (x->async == NULL)
		return;
	if (!xd_in_flight(x)) {
		/* Nothing asked: a notice, or the server hanging up. */
		if (PQconsumeInput(x->conn) != 1)
			xd_db_lost(x, PQerrorMessage(x->conn));
		return;
	}
	if (db_async_poll(x->async) < 0)
		xd_db_lost(x, NULL);
}

static void
on_conn_readable(struct loop_io *io, int fd, unsigned events, void *arg)
{
	async_poll(arg);
}

int
xd_async_open(struct xd *x)
{
	x->async = db_async_new(x->conn);
	x->conn_io = loop_io_add(
	    x->loop, PQsocket(x->conn), LOOP_READ, on_conn_readable, x);
	if (x->conn_io == NULL) {
		db_async_free(x->async);
		x->async = NULL;
		return -1;
	}
	return 0;
}

/* Before the connection goes: a batch in flight is not written. */
void
xd_async_close(struct xd *x)
{
	db_async_free(x->async); /* on_batch() with -1 */
	x->async = NULL;
	loop_io_del(x->conn_io);
	x->conn_io = NULL;
}

/*
 * Makes the work connection free for a blocking statement: every batch in
 * flight answered, and a pass of exec.advance taken to its end (its
 * transaction must not take in anything else).
 */
void
xd_settle(struct xd *x)
{
	while (x->conn != NULL) {
		if (xd_in_flight(x) && db_async_wait(x->async) < 0) {
			xd_db_lost(x, NULL);
			return;
		}
		if (!advance_pending(x->adv))
			return;
		xd_advance_step(x);
	}
}

/*
 * Takes a pass whose rows came to its end; its writes go out without
 * being waited for, and the claim that follows goes right behind them.
 */
void
xd_advance_step(struct xd *x)
{
	if (xd_in_flight(x) && db_async_wait(x->async) < 0) {
		xd_db_lost(x, NULL);
		return;
	}
	if (x->conn == NULL || !advance_pending(x->adv))
		return;
	switch (advance_finish(x->adv, loop_now_ms(x->loop))) {
	case -1:
		xd_db_lost(x, NULL);
		break;
	case 2: /* the claim went with the writes (adv_claim_done()) */
		break;
	case 1:
		if (x->draining) /* no more claims: tell the others */
			advance_claimed(x->adv, -1, 0);
		else {
			x->more_ready = 1;
			x->claim_rings = 1;
		}
		break;
	}
}

static void
adv_kick(void *arg)
{
	xd_kick(arg);
}

/*
 * The claim that goes into a pass's transaction (advance.h): for the
 * free slots, when nothing else is to be claimed or started first (no
 * claim's rows waiting, not draining).  Nothing is in flight then
 * (xd_advance_step() waited), and no batch goes out until the answer
 * came (xd_send_batch()), so fl_ask is the claim's.
 */
static int
adv_claim_stmt(void *arg, struct db_stmt *st, void **q)
{
	struct xd *x = arg;
	int ask;

	if (x->draining || x->claimed != NULL || x->batch_out ||
	    x->adv_claim_out)
		return 0;
	ask = xd_slots(x) - (int)x->nrunning;
	if (ask > x->o->batch)
		ask = x->o->batch;
	if (ask <= 0)
		return 0;
	*q = execdb_claim_stmt(x->edb, ask, st);
	x->adv_claim_out = 1;
	x->fl_ask = ask;
	x->fl_news = x->ready_news;
	return ask;
}

static void
adv_claim_free(void *q)
{
	execdb_q_free(q);
}

/* Its answer, as on_batch() takes a batch's claim. */
static void
adv_claim_done(void *arg, PGresult *r, int ask)
{
	struct xd *x = arg;

	x->adv_claim_out = 0;
	advance_claimed(x->adv, r != NULL ? execdb_claim_count(r) : -1, ask);
	if (r != NULL) {
		x->claimed = r;
		x->fl_ask = ask;
	} else
		x->more_ready = 1; /* claim again */
	xd_kick(x);
}

void
xd_advance_claim(struct xd *x, struct advance_claim *c)
{
	*c = (struct advance_claim){ adv_claim_stmt, adv_claim_free,
		adv_claim_done, x };
}

/*
 * The run whose next step this executor takes itself after writing the
 * batch (exec.advance), or NULL: only when the batch is all it has (no
 * task running, no other result queued), holds the successes of one run
 * and nothing else; failures go to loom-engine, whose are the retry
 * timers, and a busy executor leaves the steps to it.
 */
static const char *
advance_run(const struct xd *x)
{
	const char *id;

	if (x->adv == NULL || x->draining || x->nrunning > 0 || x->ndone > 0 ||
	    x->nfl == 0)
		return NULL;
	id = x->fl[0]->key.execution_id;
	for (size_t i = 0; i < x->nfl; i++)
		if (!xd_result_is(x->fl[i]->result, "SUCCESS") ||
		    strcmp(x->fl[i]->key.execution_id, id) != 0)
			return NULL;
	return id;
}

/* Sends the queued results (up to FLUSH_MAX) and a claim for free slots. */
void
xd_send_batch(struct xd *x)
{
	struct db_stmt st[3];
	struct execdb_q *q[2] = { NULL, NULL };
	size_t nst = 0;
	char *err = NULL;
	const char *adv = NULL;
	int ask = 0;

	if (x->conn == NULL || x->batch_out || x->claimed != NULL ||
	    x->adv_claim_out || advance_busy(x->adv))
		return;
	/* Output lines go ahead of the results, in their transaction. */
	if (x->ndone > 0 && logq_len(x->logq) > 0) {
		if (logq_batch(x->logq, &x->flb, &st[nst]) !=
		    logq_len(x->logq)) {
			/* More than one statement's worth: the blocking
			 * way writes them all first. */
			logq_batch_end(x->logq, &x->flb, 0);
			x->sync_flush = 1;
			xd_kick(x);
			return;
		}
		x->flb_out = 1;
		nst++;
	}
	if (x->more_ready && !x->draining) {
		ask = xd_slots(x) - (int)x->nrunning;
		if (ask > x->o->batch)
			ask = x->o->batch;
	}
	if (x->claim_rings && ask <= 0) {
		/* No slot for what a pass made ready: tell the others. */
		x->claim_rings = 0;
		advance_claimed(x->adv, -1, 0);
		xd_kick(x);
	}
	x->nfl = x->ndone < FLUSH_MAX ? x->ndone : FLUSH_MAX;
	if (x->nfl == 0 && ask <= 0)
		return; /* (no lines taken: ndone is 0) */
	if (x->nfl > 0) {
		x->fl = xcalloc(x->nfl, sizeof(*x->fl));
		x->flr = xcalloc(x->nfl, sizeof(*x->flr));
		for (size_t i = 0; i < x->nfl; i++) {
			x->fl[i] = xd_done_pop(x);
			x->flr[i].key = &x->fl[i]->key;
			x->flr[i].result = x->fl[i]->result;
			x->flr[i].timeout_ms = x->fl[i]->timeout_ms;
		}
		adv = advance_run(x);
		q[0] = execdb_report_stmt(
		    x->edb, x->flr, x->nfl, adv == NULL, &st[nst++]);
	}
	if (ask > 0)
		q[1] = execdb_claim_stmt(x->edb, ask, &st[nst++]);
	x->fl_ask = ask > 0 ? ask : 0;
	x->fl_news = x->ready_news;
	if (db_async_send(x->async, st, nst, 1, on_batch, x, &err) < 0) {
		execdb_q_free(q[0]);
		execdb_q_free(q[1]);
		on_batch(x, -1, err, NULL, 0);
		xd_db_lost(x, err);
		free(err);
		return;
	}
	execdb_q_free(q[0]);
	execdb_q_free(q[1]);
	x->batch_out = 1;
	/* The pass's first round trip goes right behind the results. */
	if (adv != NULL && advance_start(x->adv, adv, adv_kick, x, &err) < 0) {
		xd_db_lost(x, err);
		free(err);
		return;
	}
	/* libpq may have read the answer while it sent. */
	async_poll(x);
}
