/*
 * advance: loom-exec takes the next step of a run itself (see advance.h).
 *
 * States of the one pass at a time: IDLE; READING (its first round trip
 * is out); READ (its rows came: advance_finish() goes on); FAILED (the
 * first round trip failed: roll back what it began, let the engine do
 * it).  After the writes went out the pass is IDLE again; their answer
 * comes to on_written(), which hands the claim in them to the executor
 * and notes what advance_finish() must do next time: roll back a failed
 * write and ring the engine.
 */
#include "advance.h"

#include <stdlib.h>
#include <string.h>

#include "store/enginedb.h"
#include "util/log.h"
#include "core/xalloc.h"

enum { AV_IDLE, AV_READING, AV_READ, AV_FAILED };

/* A doorbell still to ring, on a channel, for a run (or ""). */
struct ring {
	const char *channel;
	char *id;
	struct ring *next;
};

struct advance {
	PGconn *conn;
	struct db_async *as;
	struct enginedb *edb;
	int state;
	char *id; /* the run of the pass under way */
	PGresult *rs[ENGINEDB_PASS_STMTS];
	int rollback; /* a pass's transaction failed */
	struct ring *rings;
	void (*kick)(void *);
	void *kick_arg;
	struct advance_claim claim; /* stmt NULL: none */
	int claim_sent;		    /* the pass's writes took a claim */
	uint64_t passes;
};

/* What a write in flight is about. */
struct written {
	struct advance *a;
	char *id;
	int ask;   /* rows its claim asked for (0: no claim) */
	size_t at; /* the claim's answer among the batch's */
};

static void
ring_add(struct advance *a, const char *channel, const char *id)
{
	struct ring *r = xcalloc(1, sizeof(*r));

	r->channel = channel;
	r->id = xstrdup(id ? id : "");
	r->next = a->rings;
	a->rings = r;
}

static void
rings_free(struct advance *a)
{
	while (a->rings) {
		struct ring *r = a->rings;

		a->rings = r->next;
		free(r->id);
		free(r);
	}
}

/* The rows of a pass's first round trip, not taken by enginedb. */
static void
rs_clear(struct advance *a)
{
	for (int i = 0; i < ENGINEDB_PASS_STMTS; i++) {
		PQclear(a->rs[i]);
		a->rs[i] = NULL;
	}
}

static void
pass_clear(struct advance *a)
{
	rs_clear(a);
	free(a->id);
	a->id = NULL;
	a->state = AV_IDLE;
}

static void
on_written(void *arg, int rc, const char *err, PGresult **res, size_t n)
{
	struct written *w = arg;

	if (w->ask > 0) {
		/* The claim's answer, or NULL: it was not written. */
		PGresult *r = NULL;

		if (rc == 0 && w->at < n) {
			r = res[w->at];
			res[w->at] = NULL;
		}
		w->a->claim.done(w->a->claim.arg, r, w->ask);
	}
	if (rc != 0) {
		/* The cached run went ahead of the database. */
		log_set_context("execution", w->id);
		log_warnx("writing the next step: %s", err ? err : "?");
		log_set_context("execution", NULL);
		enginedb_forget(w->a->edb, w->id);
		if (w->a->conn != NULL) {
			w->a->rollback = 1;
			ring_add(w->a, "loom_task_done", w->id);
			if (w->a->kick)
				w->a->kick(w->a->kick_arg);
		}
	}
	free(w->id);
	free(w);
}

/*
 * enginedb's writer: the pass's writes go out as one batch, with the
 * executor's claim before the last COMMIT when it has one to make.
 */
static int
send_writes(
    void *arg, const char *id, const struct db_stmt *st, size_t n, char **err)
{
	struct advance *a = arg;
	struct written *w = xcalloc(1, sizeof(*w));
	struct db_stmt *all = NULL;
	void *q = NULL;
	int rc;

	w->a = a;
	w->id = xstrdup(id);
	if (a->claim.stmt != NULL && n > 0 &&
	    strcmp(st[n - 1].sql, "COMMIT") == 0) {
		all = xcalloc(n + 1, sizeof(*all));
		memcpy(all, st, (n - 1) * sizeof(*st));
		w->ask = a->claim.stmt(a->claim.arg, &all[n - 1], &q);
		all[n] = st[n - 1];
	}
	if (w->ask > 0) {
		w->at = n - 1;
		rc = db_async_send(a->as, all, n + 1, 1, on_written, w, err);
		a->claim.free_q(q);
	} else
		rc = db_async_send(a->as, st, n, 0, on_written, w, err);
	free(all);
	if (rc < 0) {
		if (w->ask > 0)
			a->claim.done(a->claim.arg, NULL, w->ask);
		free(w->id);
		free(w);
		return -1;
	}
	if (w->ask > 0)
		a->claim_sent = 1;
	return 0;
}

struct advance *
advance_new(
    enginedb_run_end_cb *run_end, void *arg, const struct advance_claim *claim)
{
	struct advance *a = xcalloc(1, sizeof(*a));

	if (claim != NULL)
		a->claim = *claim;
	a->edb = enginedb_new(NULL);
	enginedb_set_writer(a->edb, send_writes, a, 1);
	enginedb_set_run_end(a->edb, run_end, arg);
	return a;
}

void
advance_free(struct advance *a)
{
	if (a == NULL)
		return;
	pass_clear(a);
	rings_free(a);
	enginedb_free(a->edb);
	free(a);
}

void
advance_set_conn(struct advance *a, PGconn *conn, struct db_async *as)
{
	/* A pass whose rows came on the old connection: its transaction
	 * is gone; the engine must take the step. */
	if (a->state == AV_READ) {
		rs_clear(a);
		a->state = AV_FAILED;
	}
	a->conn = conn;
	a->as = as;
	a->rollback = 0;
	enginedb_set_conn(a->edb, conn);
}

int
advance_busy(const struct advance *a)
{
	return a != NULL && a->state != AV_IDLE;
}

int
advance_pending(const struct advance *a)
{
	return a != NULL && a->conn != NULL &&
	    (a->state == AV_READ || a->state == AV_FAILED || a->rollback ||
		a->rings != NULL);
}

static void
on_read(void *arg, int rc, const char *err, PGresult **res, size_t n)
{
	struct advance *a = arg;

	if (rc == 0 && n == ENGINEDB_PASS_STMTS) {
		for (size_t i = 0; i < n; i++) {
			a->rs[i] = res[i];
			res[i] = NULL;
		}
		a->state = AV_READ;
	} else {
		log_set_context("execution", a->id);
		log_debug("reading the run: %s", err ? err : "?");
		log_set_context("execution", NULL);
		a->state = AV_FAILED;
	}
	if (a->kick)
		a->kick(a->kick_arg);
}

int
advance_start(struct advance *a, const char *id, void (*kick)(void *),
    void *arg, char **err)
{
	struct db_stmt st[ENGINEDB_PASS_STMTS];
	const char *p[1];

	a->id = xstrdup(id);
	a->kick = kick;
	a->kick_arg = arg;
	p[0] = a->id;
	enginedb_pass_stmts(p, st);
	if (db_async_send(a->as, st, ENGINEDB_PASS_STMTS, 1, on_read, a, err) <
	    0) {
		pass_clear(a);
		return -1;
	}
	a->state = AV_READING;
	return 0;
}

static void
on_rung(void *arg, int rc, const char *err, PGresult **res, size_t n)
{
	(void)arg;
	(void)res;
	(void)n;
	if (rc != 0)
		log_debug("ringing: %s", err ? err : "?");
}

/* Rolls back and rings what is due, in one batch.  -1: connection lost. */
static int
send_rings(struct advance *a)
{
	struct db_stmt *st;
	const char **p;
	size_t n = 0, k = 0, i = 0;
	char *err = NULL;
	int rc = 0;

	for (struct ring *r = a->rings; r; r = r->next)
		n++;
	st = xcalloc(n + 1, sizeof(*st));
	p = xcalloc(2 * n + 1, sizeof(*p));
	if (a->rollback)
		st[k++] = (struct db_stmt){ "ROLLBACK", 0, NULL };
	for (struct ring *r = a->rings; r; r = r->next, i += 2) {
		p[i] = r->channel;
		p[i + 1] = r->id;
		st[k++] =
		    (struct db_stmt){ "SELECT pg_notify($1, $2)", 2, &p[i] };
	}
	if (k > 0 && db_async_send(a->as, st, k, 0, on_rung, NULL, &err) < 0) {
		/* The doorbells wait for the next connection. */
		log_warnx("ringing loom-engine: %s", err);
		free(err);
		rc = -1;
	} else
		rings_free(a);
	a->rollback = 0;
	free(st);
	free(p);
	return rc;
}

int
advance_finish(struct advance *a, int64_t now_ms)
{
	char *err = NULL;
	int rc, wrote = 0;

	if (a->conn == NULL)
		return 0;
	if (a->state == AV_FAILED) {
		/* What the pass began (if it did) must end. */
		a->rollback = 1;
		ring_add(a, "loom_task_done", a->id);
		pass_clear(a);
	} else if (a->state == AV_READ) {
		a->claim_sent = 0;
		rc = enginedb_pass_read(a->edb, a->id, a->rs, now_ms, &err);
		memset(a->rs, 0, sizeof(a->rs)); /* taken */
		log_set_context("execution", a->id);
		log_debug("next step %s",
		    rc == ENGINEDB_DID_WORK ?
			"taken" :
			rc == ENGINEDB_BUSY ?
			"left to the engine holding the run" :
			rc < 0 ? "failed" :
				 "not needed");
		if (rc < 0)
			log_warnx("%s", err);
		log_set_context("execution", NULL);
		if (rc < 0) {
			free(err);
			if (PQstatus(a->conn) != CONNECTION_OK) {
				pass_clear(a);
				return -1;
			}
			ring_add(a, "loom_task_done", a->id);
		} else if (rc == ENGINEDB_BUSY) {
			/* An engine holds the run and may have read it
			 * before our results were in. */
			ring_add(a, "loom_task_done", a->id);
		} else if (rc == ENGINEDB_DID_WORK) {
			a->passes++;
			wrote = a->claim_sent ? 2 : 1;
		}
		/* The timer of a retry is the engine's. */
		if (rc >= 0 && enginedb_pass_retrying(a->edb))
			ring_add(a, "loom_task_done", a->id);
		pass_clear(a);
	}
	if ((a->rollback || a->rings) && send_rings(a) < 0)
		return -1;
	return wrote;
}

void
advance_claimed(struct advance *a, long n, int ask)
{
	if (n < 0 || n >= ask)
		ring_add(a, "loom_task_ready", "");
}

uint64_t
advance_count(const struct advance *a)
{
	return a ? a->passes : 0;
}
