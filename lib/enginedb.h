/*
 * enginedb: the PostgreSQL driver of the engine core (loom-engine).
 *
 * One "pass" over a run, in one transaction:
 *   1. lock the executions row (FOR NO KEY UPDATE SKIP LOCKED: another
 *      engine that holds it is doing the same work; it re-checks after its
 *      commit, so nothing is missed);
 *   2. bring the in-memory state of the run up to date: when the cached
 *      copy's generation matches executions.engine_gen only the unsettled
 *      run_tasks rows (results reported by loom-exec or a callback) are
 *      read, otherwise every row is;
 *   3. feed the events (run start, each reported result, the pending
 *      control requests of loom-api -- run_requests rows, each an EV_RESET
 *      -- due retries, cancel, run timeout) to engine_step();
 *   4. write what changed: run_tasks rows (upsert in one statement), events,
 *      dead letters (new ones, and those of tasks a reset took out of
 *      DEAD), the requests (done, with what they reset or why they were
 *      refused), the executions row (bumping engine_gen), and ring the
 *      doorbells (loom_task_ready, loom_cancel, loom_event).
 * A finished run is not cached; a pass over one only settles late reports,
 * unless control requests are pending: then it is read in full and may
 * run again.
 * The commit is asynchronous (synchronous_commit = off): everything it
 * writes can be derived again from the durable results if the server
 * crashes, because the results stay unsettled until a pass commits.
 *
 * Workflows are cached per (id, version): a run keeps the definition it
 * started with.
 */
#ifndef LOOM_ENGINEDB_H
#define LOOM_ENGINEDB_H

#include <stdint.h>

#include <libpq-fe.h>

struct enginedb;

enum enginedb_pass_result {
	ENGINEDB_IDLE = 0,   /* nothing to do (or the run is gone) */
	ENGINEDB_DID_WORK,   /* changes committed */
	ENGINEDB_BUSY,	     /* another engine holds the run right now */
};

/* conn is borrowed; it must stay open while the enginedb lives. */
struct enginedb *enginedb_new(PGconn *conn);
void enginedb_free(struct enginedb *e);
/* Swaps the connection after a reconnect; drops every cached run. */
void enginedb_set_conn(struct enginedb *e, PGconn *conn);

/*
 * One pass over execution id at wall-clock now_ms.  Returns an
 * enginedb_pass_result, or -1 with *err on a database error (the
 * transaction is rolled back; nothing is half-applied).
 */
int enginedb_pass(struct enginedb *e, const char *id, int64_t now_ms,
    char **err);

/*
 * After a pass that did work: the wall-clock ms at which the run it
 * passed over needs another (its earliest retry or its deadline), or 0.
 * Results and requests that come later ring their own doorbells.
 */
int64_t enginedb_pass_wakeup(const struct enginedb *e);

/*
 * The runs that need a pass now: PENDING runs, runs with unsettled
 * results, due retries, cancel and control requests, passed deadlines.
 * *ids is a malloc'd array of malloc'd strings.  Returns the count, or
 * -1 with *err.
 */
long enginedb_due_runs(struct enginedb *e, char ***ids, char **err);

/*
 * The earliest future instant (wall-clock ms) at which a retry becomes due
 * or a run deadline passes, among all runs; 0 when none.  -1 with *err.
 */
int64_t enginedb_next_wakeup(struct enginedb *e, char **err);

/* Counters for status output. */
struct enginedb_stats {
	uint64_t passes;
	uint64_t busy;
	uint64_t events;
	uint64_t cached_runs;
};
void enginedb_stats(const struct enginedb *e, struct enginedb_stats *st);

#endif
