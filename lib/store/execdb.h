/*
 * execdb: loom-exec's side of the run_tasks work queue (DESIGN.md section
 * 1, "Work queues are rows"), the SQL that loom-exec's database mode runs
 * on its work connection.
 *
 * An executor claims READY rows (and RUNNING rows whose lease expired: a
 * crashed executor's) in one statement with FOR UPDATE SKIP LOCKED, so any
 * number of executors share one queue without ever taking the same row.
 * Each claim writes the lease (owner, until), a fresh callback token,
 * started_at and the claim's events (READY -> RUNNING; see claim_sql in
 * transition.c).  While tasks run the executor renews every lease it holds in
 * one UPDATE.  Results are written in batches, one durable transaction per
 * batch, whatever its size (arrays through unnest()): the run_tasks row
 * becomes SUCCESS/FAILED with settled = false, an attempt row goes to
 * task_executions, and loom_task_done rings once per execution.  A result
 * whose row is no longer RUNNING under this executor's lease (cancelled,
 * or reclaimed after the lease expired) is dropped.  An asynchronous
 * ("ACCEPTED") result leaves the row RUNNING with awaiting_callback and a
 * lease_until at the task's deadline: loom-api's callback endpoint
 * finishes it, or execdb_fail_overdue() fails it once the deadline passed.
 * A claimed row whose circuit breaker is open is held instead of run
 * (execdb_hold()): READY again, same attempt, ready_at in the future, so
 * the claim, which takes only READY rows that are due, leaves it until
 * then or until a breaker doorbell releases it (execdb_unhold()).
 *
 * Claims, renewals and releases commit asynchronously (the session runs
 * with synchronous_commit = off): a claim lost in a server crash leaves the
 * row READY, to be run again with the same Idempotency-Key (at-least-once
 * per attempt).  Results are committed durably.
 *
 * Every function runs one blocking statement on the borrowed connection
 * and returns -1 with *err (malloc'd) on failure, when nothing of it was
 * applied; the caller checks PQstatus() to tell a broken connection from
 * a refused statement.  The claim and the report also come as statements
 * for a pipeline the caller does not wait for (execdb_claim_stmt(),
 * execdb_report_stmt()).
 */
#ifndef LOOM_EXECDB_H
#define LOOM_EXECDB_H

#include <stddef.h>
#include <stdint.h>

#include <jv.h>
#include <libpq-fe.h>

struct execdb;

/* A run_tasks row, by key. */
struct execdb_key {
	char *execution_id;
	char *task_id;
	int attempt;
};

/* One claimed row. */
struct execdb_claim {
	struct execdb_key key;
	jv request;	    /* as stored, plus "callbackToken"; owned */
	int64_t started_ms; /* started_at, wall-clock ms (server clock) */
};

/* One finished attempt to report. */
struct execdb_result {
	const struct execdb_key *key; /* borrowed */
	jv result;		      /* the runner's result object; borrowed */
	int64_t timeout_ms; /* the task's timeout (ACCEPTED deadline) */
	int matched;	    /* out: the row was still ours */
};

/*
 * conn is borrowed and must stay open while the execdb uses it; owner is
 * the lease owner name (copied); lease_ms the lease length.
 */
struct execdb *execdb_new(PGconn *conn, const char *owner, int64_t lease_ms);
void execdb_free(struct execdb *e); /* NULL-safe; leaves conn open */

/*
 * Starts using conn (after a reconnect; NULL while there is none) and sets
 * the session up (synchronous_commit = off).  Returns 0 or -1 with *err.
 */
int execdb_set_conn(struct execdb *e, PGconn *conn, char **err);

/*
 * Claims up to limit rows: expired leases of other executors first, then
 * READY rows by ready_at.  *out gets a malloc'd array (free it with
 * execdb_claims_free()).  Returns the count, or -1 with *err.
 */
long execdb_claim(
    struct execdb *e, int limit, struct execdb_claim **out, char **err);
void execdb_claims_free(struct execdb_claim *c, long n);

/*
 * Writes n results in one durable transaction and rings loom_task_done
 * for every execution with a finished (not ACCEPTED) task.  Sets each
 * result's matched.  pre, when not NULL, is a statement that goes first
 * in the same round trip and transaction (loom-exec's task output lines).
 * Returns the number matched, or -1 with *err (nothing written, pre
 * included).
 */
struct db_stmt;
long execdb_report(struct execdb *e, struct execdb_result *r, size_t n,
    const struct db_stmt *pre, char **err);

/*
 * The claim and the report as statements for a pipeline that does not
 * wait (db_async_send()): *st gets the statement, whose parameters live in
 * the returned holder until execdb_q_free() (after the send).  The
 * report's statement is one durable transaction when it is alone before
 * its Sync; res is read, not kept.  Their results are read by the
 * *_parse() functions (the result stays the caller's), which return what
 * execdb_claim() and execdb_report() return.  ring 0 leaves
 * loom_task_done unrung for the runs of the results: the caller passes
 * over them itself (loom-exec's exec.advance).
 */
struct execdb_q;
struct execdb_q *execdb_claim_stmt(
    struct execdb *e, int limit, struct db_stmt *st);
long execdb_claim_parse(PGresult *r, struct execdb_claim **out);
/* The rows a claim's answer claimed (what execdb_claim_parse() returns). */
long execdb_claim_count(const PGresult *r);
/*
 * From a claim's answer: ms (server clock, rounded up, 0 when due
 * already) until the earliest READY row that the claim did not take
 * falls due, whether held for later or skipped because another
 * transaction had it locked; -1 for none.
 */
int64_t execdb_claim_next_ready(const PGresult *r);
struct execdb_q *execdb_report_stmt(struct execdb *e, struct execdb_result *res,
    size_t n, int ring, struct db_stmt *st);
long execdb_report_parse(PGresult *r, struct execdb_result *res, size_t n);
void execdb_q_free(struct execdb_q *q);

/*
 * Renews, in one UPDATE, the leases of the n rows in mine that this
 * executor still holds (RUNNING under its lease).  Rows it holds but does
 * not list (a result it could not write, a previous process under the
 * same exec.name) are left to expire.  *kept gets the rows renewed: a
 * listed row missing from it is not ours any more.  Returns their count,
 * or -1 with *err.
 */
long execdb_renew(struct execdb *e, const struct execdb_key *mine, size_t n,
    struct execdb_key **kept, char **err);

/*
 * The rows of execution_id that are still RUNNING under this executor's
 * lease (after a cancel doorbell).  Returns the count, or -1 with *err.
 */
long execdb_held(struct execdb *e, const char *execution_id,
    struct execdb_key **keys, char **err);
void execdb_keys_free(struct execdb_key *k, long n);

/*
 * Gives up every lease this executor holds on tasks it no longer runs
 * (after a drain cancelled them): the rows become claimable at once and
 * loom_task_ready rings.  Returns the count released, or -1 with *err.
 */
long execdb_release(struct execdb *e, char **err);

/* One attempt execdb_fail_overdue() failed. */
struct execdb_overdue {
	struct execdb_key key;
	jv retry;	     /* the stored request's "retry", or null; owned */
	char *error_type;    /* TimeoutException */
	char *error_message; /* "no callback within the task timeout" */
};

/*
 * Fails every task whose asynchronous callback did not come before its
 * deadline (TimeoutException), records the attempt and rings
 * loom_task_done, in one statement.  *out gets the attempts it failed
 * (free them with execdb_overdue_free()), so that the executor can write
 * their records.  Returns the count, or -1 with *err.
 */
long execdb_fail_overdue(
    struct execdb *e, struct execdb_overdue **out, char **err);
/* The statement's answer read (r stays the caller's); as above. */
long execdb_fail_overdue_parse(const PGresult *r, struct execdb_overdue **out);
void execdb_overdue_free(struct execdb_overdue *o, long n); /* NULL-safe */

/*
 * What an executor's timers wait for, read in one snapshot: milliseconds
 * from now (server clock, rounded up, 0 when already due) until the
 * earliest callback deadline, until the earliest expiry of another
 * executor's lease and until the earliest READY row (one held by a
 * circuit breaker, or 0 for one due already that no claim took yet), -1
 * for none; and whether some result waits for a pass (unsettled).  A row
 * leased, READY or unsettled is work under way, which may move on
 * without a doorbell (exec.advance); with none of them, the next work
 * comes with one.
 */
struct execdb_deadlines {
	int64_t callback_ms;
	int64_t lease_ms;
	int64_t ready_ms;
	int unsettled;
};

/* Returns 0, or -1 with *err. */
int execdb_next_deadlines(
    struct execdb *e, struct execdb_deadlines *d, char **err);

/*
 * Circuit breakers (schema/004_held.sql).  A claimed row whose target's
 * breaker is open is not run but held: it goes back to READY with the
 * same attempt, no lease and no start time, ready_at at retry_at_ms (ms
 * since the epoch on the database's clock, as breakerdb_allow() gives
 * it; 0 or less: one second from now) and held_target set, so it waits
 * without using up an attempt.
 */
struct execdb_hold {
	const struct execdb_key *key; /* borrowed */
	const char *target;	      /* borrowed */
	int64_t retry_at_ms;
};

/*
 * Holds n rows this executor claimed, in one statement, and rings
 * loom_task_ready with the payload "held" so that every executor re-arms
 * its timer for the earliest ready_at.  Rows that are not ours any more
 * are left alone.  Returns the count held, or -1 with *err.
 */
long execdb_hold(
    struct execdb *e, const struct execdb_hold *h, size_t n, char **err);

/*
 * Re-times the rows held for target (NULL: for every target) after its
 * breaker changed: retry_at_ms > 0 moves their ready_at there (they stay
 * held), retry_at_ms <= 0 releases them: due now, held_target cleared,
 * and loom_task_ready rings so that every executor claims.  Returns the
 * count of rows changed, or -1 with *err.
 */
long execdb_unhold(
    struct execdb *e, const char *target, int64_t retry_at_ms, char **err);

/*
 * The targets rows are held for now (to catch up on breaker doorbells
 * missed while the LISTEN connection was down).  *targets gets a malloc'd
 * array of malloc'd strings (free each and the array).  Returns the
 * count, or -1 with *err.
 */
long execdb_held_targets(struct execdb *e, char ***targets, char **err);

#endif
