/*
 * advance: loom-exec takes the next step of a run itself (exec.advance).
 *
 * When an executor's results leave it with nothing to run, waking
 * loom-engine to take the run's next step and then being woken back to
 * claim it costs two doorbells and four round trips between three
 * processes, all of which this executor would spend waiting.  So it does
 * the engine's pass itself (lib/store/enginedb.h, the same code loom-engine
 * runs, under the same lock on the run) on its work connection:
 *
 *   1. the batch that writes the results rings no loom_task_done for
 *      them, and the pass's first round trip (begin, lock the run, read
 *      what is new) goes out right behind it (advance_start());
 *   2. when its rows are in, the pass goes on (advance_finish()) and its
 *      writes go out as one more batch, with no loom_task_ready and with
 *      the executor's claim before their COMMIT (struct advance_claim):
 *      the claim takes what the pass made ready in the pass's own
 *      transaction, and the executor rings loom_task_ready for the
 *      others only when its claim came back full.
 *
 * One transaction instead of two a step: one commit, and one round of
 * the doorbells (a commit that notifies wakes every listening session;
 * the claim's loom_event for the run is the pass's own).  When the
 * executor cannot claim then (no free slot, a claim's rows not yet
 * started), it claims right behind the writes, as its own transaction.
 *
 * The results' own transaction is durable on its own, before the pass
 * begins, so nothing about them changes.  Whatever goes wrong on the
 * way (the run locked by an engine, a failed statement, a lost
 * connection) rings loom_task_done, so loom-engine takes the step; a
 * process that dies in between leaves the results unsettled, and the
 * engine's sweep (engine.sweep) finds them.  A pass that leaves a retry
 * waiting rings it too: the timer of the retry is loom-engine's.
 */
#ifndef LOOM_EXEC_ADVANCE_H
#define LOOM_EXEC_ADVANCE_H

#include <stdint.h>

#include <libpq-fe.h>

#include "store/db.h"
#include "store/enginedb.h"

struct advance;

/*
 * The executor's claim, which goes into a pass's transaction before its
 * COMMIT.  stmt(arg, st, q) fills *st with the claim (its parameters
 * owned by *q, freed with free_q() once sent) and returns how many rows
 * it asks for, or 0 for no claim now.  done(arg, r, ask) takes the
 * claim's answer r, NULL when the writes failed or were not sent (then
 * nothing was claimed).
 */
struct advance_claim {
	int (*stmt)(void *arg, struct db_stmt *st, void **q);
	void (*free_q)(void *q);
	void (*done)(void *arg, PGresult *r, int ask);
	void *arg;
};

/*
 * run_end(arg, ...) hears of each run a pass ends (may be NULL); claim
 * (copied; may be NULL) is how the executor claims in a pass.
 */
struct advance *advance_new(
    enginedb_run_end_cb *run_end, void *arg, const struct advance_claim *claim);
void advance_free(struct advance *a); /* NULL-safe */
/* conn and as are borrowed (NULL while the database is away). */
void advance_set_conn(struct advance *a, PGconn *conn, struct db_async *as);

/*
 * Whether a pass is under way (from advance_start() until advance_finish()
 * sent its writes): no other batch may go out meanwhile, since the pass's
 * transaction is open on the connection.
 */
int advance_busy(const struct advance *a);

/* Whether advance_finish() has something to do. */
int advance_pending(const struct advance *a);

/*
 * Sends the first round trip of a pass over run id, behind the batch that
 * writes its results (rung 0).  kick(arg) is called when its answer came.
 * Returns 0, or -1 with *err (the connection is broken).
 */
int advance_start(struct advance *a, const char *id, void (*kick)(void *),
    void *arg, char **err);

/*
 * Goes on with the pass whose first answer came (advance_pending()), with
 * nothing else in flight on the connection.  Returns 2 when the pass sent
 * writes with the executor's claim in them (its answer goes to the
 * claim's done()), 1 when it sent writes without one that may have made
 * tasks ready (claim now, then advance_claimed()), 0 when it sent no
 * writes, -1 when the connection broke.
 */
int advance_finish(struct advance *a, int64_t now_ms);

/*
 * After the claim in or behind a pass: asked for ask rows, got n (n < 0:
 * the claim failed).  A full claim may have left ready tasks behind:
 * rings loom_task_ready for the other executors.
 */
void advance_claimed(struct advance *a, long n, int ask);

/* Counters for the status line. */
uint64_t advance_count(const struct advance *a);

#endif
