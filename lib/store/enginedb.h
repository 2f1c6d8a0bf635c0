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
 * The passes over many runs may share one transaction
 * (enginedb_pass_many()): steps 1, 2 and 4 are then one statement for
 * all the runs (locked together with SKIP LOCKED, the ones held
 * elsewhere left out), step 3 is each run's own.  Every guarantee above
 * holds per run, and the batch commits whole or not at all: a result
 * stays unsettled until the batch that settles it has committed.
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
	ENGINEDB_IDLE = 0, /* nothing to do (or the run is gone) */
	ENGINEDB_DID_WORK, /* changes committed */
	ENGINEDB_BUSY,	   /* another engine holds the run right now */
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
int enginedb_pass(
    struct enginedb *e, const char *id, int64_t now_ms, char **err);

/*
 * The same pass in two steps, for a caller that sends its statements
 * itself (loom-exec, in the round trip that writes its results): the
 * first round trip is the ENGINEDB_PASS_STMTS statements that
 * enginedb_pass_stmts() fills in (BEGIN, lock the run, read what is new;
 * *id must outlive the send), and enginedb_pass_read() goes on from their
 * results (it takes them, and frees them) with the transaction open on
 * the connection, nothing else in flight on it.  Returns as
 * enginedb_pass().
 */
#define ENGINEDB_PASS_STMTS 4
struct db_stmt;
size_t enginedb_pass_stmts(const char *const *id, struct db_stmt *st);
int enginedb_pass_read(struct enginedb *e, const char *id, PGresult **rs,
    int64_t now_ms, char **err);
/*
 * One pass over each of n runs, as enginedb_pass() on each but sharing
 * the statements and the transaction: one round trip begins, locks the
 * runs (SKIP LOCKED, in one statement) and reads what is new of them;
 * each run is stepped in memory; one round trip writes what every run's
 * pass decided (each kind of row in one statement: the tasks, the
 * events, the runs, the doorbells) and commits once, asynchronously as
 * a pass does.  Nothing of the batch is applied unless all of it is.
 * Runs a batch does not take are passed alone afterwards, each in its
 * own transaction: those not locked (another session holds them, gone,
 * queued), finished runs, runs with control requests pending, runs of a
 * workflow with a concurrency limit or pauseOnFailure, runs of more
 * than 256 tasks; and every run when a writer is set.  (A batch of
 * one run is worth it too: it takes fewer statements than a pass.)
 * Each it[i].rc is then as enginedb_pass() returns (it[i].err set, to
 * free, when -1), it[i].wake_ms and it[i].retrying as
 * enginedb_pass_wakeup() and enginedb_pass_retrying() after it.
 * Returns 0, or -1 with *err when the batch failed (rolled back: no
 * run's pass is done; keep them all for later) or the connection broke.
 */
#define ENGINEDB_MANY_MAX 256
struct enginedb_item {
	const char *id;
	int rc;
	int64_t wake_ms;
	int retrying;
	char *err;
};
int enginedb_pass_many(struct enginedb *e, struct enginedb_item *it, size_t n,
    int64_t now_ms, char **err);

/*
 * With a writer, a pass hands the statements that write its outcome (the
 * last ends the transaction with COMMIT) to fn instead of running them:
 * fn sends them (libpq copies the parameters) and returns 0, or -1 with
 * *err.  The pass then counts as done; when the write fails later, the
 * caller must enginedb_forget() the run, whose cached state went ahead of
 * the database.  quiet_ready leaves loom_task_ready unrung: the caller
 * claims what the pass made ready, and rings it for the others if it
 * cannot take it all.  fn NULL: passes write for themselves again.
 */
typedef int enginedb_writer(
    void *arg, const char *id, const struct db_stmt *st, size_t n, char **err);
void enginedb_set_writer(
    struct enginedb *e, enginedb_writer *fn, void *arg, int quiet_ready);
void enginedb_forget(struct enginedb *e, const char *id);

/*
 * Reads a workflow version into the cache ahead of its first run (on the
 * loom_workflow doorbell that applying a version rings): the first pass of
 * a large workflow's run then starts at once instead of parsing its spec.
 * 0 (also when it is cached already), or -1 with *err.
 */
int enginedb_warm(
    struct enginedb *e, const char *workflow_id, int version, char **err);
/*
 * After a pass (one that wrote nothing too): the wall-clock ms at which
 * the run it passed over needs another (its earliest retry or its
 * deadline), or 0.
 * Results and requests that come later ring their own doorbells.
 */
int64_t enginedb_pass_wakeup(const struct enginedb *e);
/* Whether the run of the last pass has a task waiting to retry. */
int enginedb_pass_retrying(const struct enginedb *e);

/*
 * The runs that need a pass now: PENDING runs, runs with unsettled
 * results, due retries, cancel and control requests, passed deadlines,
 * and runs whose last pass was written in part (see edb_write_pass() in
 * enginedb_write.c).
 * *ids is a malloc'd array of malloc'd strings.  Returns the count, or
 * -1 with *err.
 */
long enginedb_due_runs(struct enginedb *e, char ***ids, char **err);

/*
 * The earliest future instant (wall-clock ms) at which a retry becomes due
 * or a run deadline passes, among all runs; 0 when none.  -1 with *err.
 * *active says whether any run is PENDING or RUNNING (read in the same
 * snapshot; may be NULL).
 */
int64_t enginedb_next_wakeup(struct enginedb *e, int *active, char **err);

/*
 * Queued runs (a concurrency limit) take the slots that are free: what a
 * pass that ended a run does at once (run_admit), done here for every
 * workflow with queued runs, in case that pass died after its commit or
 * a limit was raised.  Returns the runs admitted, or -1 with *err.
 */
long enginedb_admit_queued(struct enginedb *e, char **err);

/*
 * Who is told when a pass ends a run (the run's OpenTelemetry span is
 * exported from there, lib/net/otlp.h): fn(arg, re) is called once the
 * pass's writes have gone out (committed, or handed to the writer), with
 * re valid for the call only.  fn NULL: nobody.
 */
struct enginedb_run_end {
	const char *execution_id;
	const char *workflow_id;
	int version;
	const char *status; /* SUCCESS, FAILED or CANCELLED */
	int64_t started_ms; /* wall clock */
	int64_t ended_ms;
	size_t ntasks;
	size_t nbad; /* tasks DEAD, CANCELLED or skipped upstream */
};
typedef void enginedb_run_end_cb(void *arg, const struct enginedb_run_end *re);
void enginedb_set_run_end(
    struct enginedb *e, enginedb_run_end_cb *fn, void *arg);

/* Counters for status output. */
struct enginedb_stats {
	uint64_t passes;
	uint64_t busy;
	uint64_t events;
	uint64_t cached_runs;
};
void enginedb_stats(const struct enginedb *e, struct enginedb_stats *st);

#endif
