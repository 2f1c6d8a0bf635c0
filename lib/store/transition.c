/*
 * transition: see transition.h.
 *
 * Each statement's from-states (and a fixed to-state it SETs) are written
 * once, as a list macro FOO(X) or FOO(X, SEP), and expanded twice: with Q
 * into the SQL text ("'READY'", "'PENDING', 'RUNNING'") and with TB or RB
 * into the row's bit mask.  The texts come out as they were written by
 * hand before (their plans were tuned: see the comments and git log), so
 * the prepared statements and their plans are unchanged.
 *
 * The SQL moved here from lib/store/execdb.c, lib/store/enginedb.c and
 * loom-api's api_executions.c, api_controls.c and api_workflows.c; the
 * code that fills in the parameters stayed with its caller.
 */
#include "transition.h"

#include "core/state.h"

/* A state's name as an SQL literal: Q(READY) is "'READY'". */
#define Q(s) "'" #s "'"
/* A state's bit in a from- or to-mask. */
#define TB(s) (1u << TASK_##s)
#define RB(s) (1u << RUN_##s)
#define TASK_ALL ((1u << TASK__COUNT) - 1)

/* ---- loom-exec: the work queue ------------------------------------------ */

/* The statements are laid out by hand, SQL line by line. */
/* clang-format off */

/*
 * task_claim.  $1 the most rows, $2 the lease owner, $3 the lease in ms.
 *
 * Expired leases first (they are the oldest work), then READY rows that
 * are due (a row held by a circuit breaker is READY with a ready_at in the
 * future) in the order they became ready, together no more than $1; the
 * partial index run_tasks_ready serves both the range and the order.  A
 * lease is expired when lease_until has passed; rows awaiting a callback
 * are not leases but deadlines (task_fail_overdue).  The token names
 * its row ("<execution>~<task>~" and 256 random bits from two version-4
 * UUIDs), so that loom-api finds it by primary key
 * (schema/008_callback_keys.sql).
 *
 * The same statement writes the claim's events (schema/012), so that a
 * task is seen RUNNING while it runs, and rings loom_event once per run
 * (an InitPlan: evaluated once, whatever the rows).  A READY row whose
 * attempt has no READY -> RUNNING yet (started_attempt) gets one; a held
 * row claimed again does not.  An expired lease is a lost attempt, run
 * again under the same number: RUNNING -> FAILED (with who lost it, or
 * that a stopping executor released it), FAILED -> RETRY, RETRY -> READY,
 * READY -> RUNNING, each a transition lib/core/state.c allows.  The events are
 * inserted in the order of those steps, so each task's ids follow them.
 *
 * Its last row (task_id NULL) says when the earliest READY row that it
 * did not take falls due (execdb_claim_next_ready()): one held for later,
 * or one due already that it skipped, locked by another transaction.
 *
 * The update finds its rows by TID twice over: joined to c, and in an
 * array of c's TIDs.  With the join alone the cached generic plan guesses
 * a tenth of the READY rows for LIMIT $1 and may hash-join a sequential
 * scan of run_tasks, every row of every run ever kept: 75 ms a claim with
 * 125,000 rows instead of 2 ms (make bench, 100,000 tasks waiting).  The
 * array gives the planner a TID scan of the claimed rows alone.
 */
#define CLAIM_LEASED(X) X(RUNNING)
#define CLAIM_DUE(X) X(READY)
#define CLAIM_TO(X) X(RUNNING)

static const char claim_sql[] =
    "WITH x AS (SELECT ctid AS rid, lease_owner AS lost FROM run_tasks "
    "WHERE state = " CLAIM_LEASED(Q) " AND NOT awaiting_callback "
    "AND lease_until <= now() ORDER BY lease_until LIMIT $1 "
    "FOR UPDATE SKIP LOCKED), "
    "r AS (SELECT ctid AS rid, "
    "started_attempt IS DISTINCT FROM attempt AS fresh FROM run_tasks "
    "WHERE state = " CLAIM_DUE(Q) " AND ready_at <= now() ORDER BY ready_at "
    "LIMIT greatest($1 - (SELECT count(*) FROM x), 0) "
    "FOR UPDATE SKIP LOCKED), "
    "c AS (SELECT rid, true AS expired, lost, true AS fresh FROM x "
    "UNION ALL SELECT rid, false, NULL, fresh FROM r), "
    "u AS (UPDATE run_tasks t SET state = " CLAIM_TO(Q) ", lease_owner = $2, "
    "lease_until = now() + $3 * interval '1 millisecond', "
    "started_at = now(), finished_at = NULL, awaiting_callback = false, "
    "held_target = NULL, started_attempt = t.attempt, "
    "callback_token = t.execution_id || '~' || t.task_id || '~' || "
    "replace(gen_random_uuid()::text, '-', '') || "
    "replace(gen_random_uuid()::text, '-', '') "
    "FROM c WHERE t.ctid = c.rid "
    "AND t.ctid = ANY (ARRAY(SELECT rid FROM c)) "
    "RETURNING t.execution_id, t.task_id, t.attempt, t.request, "
    "t.callback_token, c.expired, c.lost, c.fresh), "
    "e AS (INSERT INTO events (execution_id, task_id, kind, from_state, "
    "to_state, attempt, data) SELECT u.execution_id, u.task_id, 'task', "
    "s.f, s.t, u.attempt, CASE WHEN s.n = 1 THEN "
    "jsonb_build_object('reason', CASE WHEN u.lost IS NULL THEN "
    "'lease released' ELSE 'lease expired' END, 'executor', u.lost) "
    "END FROM u CROSS JOIN (VALUES (1, 'RUNNING', 'FAILED'), "
    "(2, 'FAILED', 'RETRY'), (3, 'RETRY', 'READY'), "
    "(4, 'READY', 'RUNNING')) AS s(n, f, t) "
    "WHERE CASE WHEN s.n < 4 THEN u.expired ELSE u.fresh END "
    "ORDER BY s.n) "
    "SELECT execution_id, task_id, attempt, request::text, callback_token, "
    "NULL::bigint "
    "FROM u WHERE (SELECT count(pg_notify('loom_event', d.execution_id)) "
    "FROM (SELECT DISTINCT execution_id FROM u WHERE fresh) d) >= 0 "
    "UNION ALL SELECT NULL, NULL, NULL, NULL, NULL, "
    "ceil(extract(epoch FROM (SELECT min(ready_at) FROM run_tasks "
    "WHERE state = " CLAIM_DUE(Q) " AND ctid NOT IN (SELECT rid FROM r)) "
    "- now()) * 1000)::bigint";

/*
 * Batch statements find their rows through MINE: a lateral lookup of
 * each listed key by the primary key, locked, kept when the row is still
 * ours (RUNNING under our lease, same attempt, not awaiting a callback);
 * the update then joins by ctid.  Written as a plain UPDATE ... FROM
 * with those conditions, the cached generic plan (which guesses ten rows
 * for an unnest()) may scan our leased rows on the outside and rescan the
 * batch for each: quadratic, a quarter of a second for 500 results among
 * 2,000 running tasks.  OFFSET 0 keeps the conditions out of the lookup,
 * so that it always uses the primary key.  $1 is the lease owner; the
 * keys are the columns eid, tid and att of the relation before it.
 */
#define MINE_FROM(X) X(RUNNING)
#define MINE(rel)							\
	"SELECT " rel ".*, r.ctid AS rid FROM " rel " CROSS JOIN LATERAL " \
	"(SELECT ctid, attempt, state, lease_owner, awaiting_callback "	\
	"FROM run_tasks WHERE execution_id = " rel ".eid AND task_id = " \
	rel ".tid OFFSET 0 FOR UPDATE) r WHERE r.attempt = " rel ".att " \
	"AND r.state = " MINE_FROM(Q) " AND r.lease_owner = $1 "	\
	"AND NOT r.awaiting_callback"

/*
 * task_renew.  $1 the lease owner, $2 the lease in ms, $3..$5 the keys
 * (execution ids, task ids, attempts).  The state stays RUNNING.
 */
static const char renew_sql[] =
    "WITH v AS (SELECT * FROM unnest("
    "$3::text[], $4::text[], $5::int[]) AS v(eid, tid, att)), "
    "k AS (" MINE("v") ") "
    "UPDATE run_tasks t SET lease_until = "
    "now() + $2 * interval '1 millisecond' FROM k "
    "WHERE t.ctid = k.rid "
    "RETURNING t.execution_id, t.task_id, t.attempt";

/*
 * task_report.  $1 the lease owner, $2..$13 the results as arrays (see
 * the A_* order in execdb.c), $14 whether to ring loom_task_done.
 *
 * One statement writes a whole batch, as one transaction: v is the batch,
 * k its rows that are still ours (MINE), u those rows after the update,
 * with what their history needs, h their attempt history, n the
 * executions to ring loom_task_done for (unless $14 is false: the
 * executor passes over them itself, see execdb_report_stmt()).  An
 * ACCEPTED result keeps the row RUNNING, unleased, awaiting its callback
 * until started_at + the task's timeout.  The set_config() makes this
 * transaction's commit durable although the session's default is
 * asynchronous (it is SET LOCAL, evaluated as v is read).  The answer: one row per matched key,
 * then one row per doorbell (task_id NULL).
 */
static const char report_sql[] =
    "WITH v AS (SELECT * FROM unnest($2::text[], $3::text[], $4::int[], "
    "$5::text[], $6::text[], $7::text[], $8::text[], $9::text[], "
    "$10::int[], $11::int[], $12::bigint[], $13::bigint[]) "
    "AS v(eid, tid, att, st, out, et, em, logs, hs, ec, dur, tmo) "
    "WHERE set_config('synchronous_commit', 'on', true) IS NOT NULL), "
    "k AS (" MINE("v") "), "
    "u AS (UPDATE run_tasks t SET "
    "state = CASE WHEN k.st = 'ACCEPTED' THEN 'RUNNING' ELSE k.st END, "
    "settled = k.st = 'ACCEPTED' AND t.settled, "
    "awaiting_callback = k.st = 'ACCEPTED', "
    "output = CASE WHEN k.st = 'ACCEPTED' THEN t.output "
    "ELSE k.out::jsonb END, "
    "error_type = CASE WHEN k.st = 'ACCEPTED' THEN t.error_type "
    "ELSE k.et END, "
    "error_message = CASE WHEN k.st = 'ACCEPTED' THEN t.error_message "
    "ELSE k.em END, "
    "finished_at = CASE WHEN k.st = 'ACCEPTED' THEN NULL ELSE now() END, "
    "lease_owner = NULL, "
    "lease_until = CASE WHEN k.st = 'ACCEPTED' THEN "
    "t.started_at + k.tmo * interval '1 millisecond' END "
    "FROM k WHERE t.ctid = k.rid "
    "RETURNING t.execution_id, t.task_id, t.attempt, t.started_at, k.st, "
    "t.request, k.out, k.et, k.em, k.logs, k.hs, k.ec, k.dur), "
    "h AS (INSERT INTO task_executions (execution_id, task_id, attempt, "
    "status, executor, request, output, error_type, error_message, logs, "
    "http_status, exit_code, started_at, duration_ms) "
    "SELECT execution_id, task_id, attempt, st, $1, request, "
    "out::jsonb, et, em, logs, hs, ec, started_at, dur FROM u), "
    "n AS (SELECT DISTINCT execution_id FROM u "
    "WHERE st <> 'ACCEPTED' AND $14::boolean) "
    "SELECT execution_id, task_id, attempt, NULL::text FROM u "
    "UNION ALL SELECT execution_id, NULL, NULL, "
    "pg_notify('loom_task_done', execution_id)::text FROM n";

/*
 * task_release.  $1 the lease owner.  The lease ends now: the next claim
 * takes the row over as an expired lease (the chain of task_claim).
 */
#define RELEASE_FROM(X) X(RUNNING)

static const char release_sql[] =
    "WITH r AS (UPDATE run_tasks SET "
    "lease_owner = NULL, lease_until = now() WHERE state = "
    RELEASE_FROM(Q) " "
    "AND lease_owner = $1 AND NOT awaiting_callback RETURNING 1), "
    "c AS (SELECT count(*) AS n FROM r) "
    "SELECT n, CASE WHEN n > 0 THEN "
    "pg_notify('loom_task_ready', '') END FROM c";

/*
 * task_fail_overdue.  $1 the executor named in the attempt's row.
 *
 * A row for each attempt it failed (execution, task, attempt, the
 * stored request's "retry", the error's type and message: what loom-exec
 * makes the attempt's records of), then the count row (all NULL but the
 * last column, the count), which also rings loom_task_done once per run
 * (an InitPlan: evaluated once, whatever the rows).
 */
#define OVERDUE_FROM(X) X(RUNNING)
#define OVERDUE_TO(X) X(FAILED)

static const char fail_overdue_sql[] =
    "WITH f AS (UPDATE run_tasks SET "
    "state = " OVERDUE_TO(Q) ", settled = false, awaiting_callback = false, "
    "error_type = 'TimeoutException', "
    "error_message = 'no callback within the task timeout', "
    "finished_at = now(), lease_owner = NULL, lease_until = NULL "
    "WHERE state = " OVERDUE_FROM(Q) " AND awaiting_callback "
    "AND lease_until <= now() "
    "RETURNING execution_id, task_id, attempt, started_at, request, "
    "error_type, error_message), "
    "h AS (INSERT INTO task_executions (execution_id, task_id, "
    "attempt, status, executor, request, error_type, error_message, "
    "started_at, duration_ms) SELECT execution_id, task_id, attempt, "
    "'FAILED', $1, request, error_type, error_message, started_at, "
    "(extract(epoch FROM now() - started_at) * 1000)::bigint FROM f) "
    "SELECT execution_id, task_id, attempt, (request -> 'retry')::text, "
    "error_type, error_message, NULL::bigint FROM f "
    "UNION ALL SELECT NULL, NULL, NULL, NULL, NULL, NULL, "
    "(SELECT count(*) FROM f) "
    "WHERE (SELECT count(pg_notify('loom_task_done', d.execution_id)) "
    "FROM (SELECT DISTINCT execution_id FROM f) d) >= 0";

/*
 * task_hold.  $1 the lease owner, $2..$4 the keys, $5 the targets, $6
 * the retry times (ms since the epoch; 0: in a second).
 *
 * Only rows still RUNNING under our lease and not yet answered go back;
 * the notify is a doorbell for the other executors' ready timers.
 */
#define HOLD_TO(X) X(READY)

static const char hold_sql[] =
    "WITH v AS (SELECT * FROM unnest($2::text[], $3::text[], $4::int[], "
    "$5::text[], $6::bigint[]) AS v(eid, tid, att, tgt, at)), "
    "k AS (" MINE("v") "), "
    "h AS (UPDATE run_tasks t SET state = " HOLD_TO(Q) ", "
    "lease_owner = NULL, lease_until = NULL, started_at = NULL, "
    "callback_token = NULL, held_target = k.tgt, "
    "ready_at = CASE WHEN k.at > 0 THEN greatest(now(), "
    "'epoch'::timestamptz + k.at * interval '1 millisecond') "
    "ELSE now() + interval '1 second' END "
    "FROM k WHERE t.ctid = k.rid RETURNING 1), "
    "c AS (SELECT count(*) AS n FROM h) "
    "SELECT n, CASE WHEN n > 0 THEN pg_notify('loom_task_ready', 'held') "
    "END FROM c";

/*
 * task_unhold.  $1 the target (NULL: every one), $2 the new retry time
 * (ms since the epoch; <= 0: release now).  run_tasks_held finds the
 * rows; ones already right are skipped.  They stay READY.
 */
#define UNHOLD_FROM(X) X(READY)

static const char unhold_sql[] =
    "WITH v AS (SELECT CASE WHEN $2::bigint > 0 "
    "THEN greatest(now(), 'epoch'::timestamptz + $2::bigint * "
    "interval '1 millisecond') ELSE now() END AS at, "
    "$2::bigint > 0 AS keep), "
    "u AS (UPDATE run_tasks t SET ready_at = v.at, "
    "held_target = CASE WHEN v.keep THEN t.held_target END FROM v "
    "WHERE t.state = " UNHOLD_FROM(Q) " AND t.held_target IS NOT NULL "
    "AND ($1::text IS NULL OR t.held_target = $1) "
    "AND (NOT v.keep OR t.ready_at <> v.at) RETURNING 1), "
    "c AS (SELECT count(*) AS n FROM u) "
    "SELECT n, CASE WHEN n > 0 AND $2::bigint <= 0 THEN "
    "pg_notify('loom_task_ready', '') END FROM c";

/* ---- loom-api: callbacks ------------------------------------------------ */

/*
 * task_callback.  $1 the token, $2 SUCCESS or FAILED, $3 the output, $4
 * and $5 the error's type and message, $6 the logs, $7 the duration (NULL:
 * measured), $8 and $9 the execution and task the token names.
 */
#define CALLBACK_FROM(X) X(RUNNING)

static const char callback_sql[] =
    "WITH u AS (UPDATE run_tasks SET "
    "state = $2, settled = false, output = $3::jsonb, "
    "error_type = $4, error_message = $5, finished_at = now(), "
    "awaiting_callback = false, lease_owner = NULL, "
    "lease_until = NULL WHERE execution_id = $8 AND "
    "task_id = $9 AND callback_token = $1 AND "
    "state = " CALLBACK_FROM(Q) " "
    "RETURNING execution_id, task_id, attempt, started_at), "
    "t AS (INSERT INTO task_executions (execution_id, task_id, "
    "attempt, status, executor, output, error_type, "
    "error_message, logs, started_at, completed_at, "
    "duration_ms) SELECT execution_id, task_id, attempt, $2, "
    "'callback', $3::jsonb, $4, $5, $6, started_at, now(), "
    "coalesce($7::bigint, (extract(epoch FROM now() - "
    "started_at) * 1000)::bigint) FROM u) "
    "SELECT pg_notify('loom_task_done', execution_id) FROM u";

/* ---- loom-engine: the pass's writes ------------------------------------- */

/* task_settle.  $1 the execution: a finished run's late reports, seen. */
static const char settle_sql[] =
    "UPDATE run_tasks SET settled = true "
    "WHERE execution_id = $1 AND NOT settled";

/*
 * task_reset_clear.  $1 the execution, $2 the task ids.  Reset tasks
 * forget their last attempt's result first, so task_engine_write (which
 * keeps what it is not given) starts clean.
 */
static const char reset_clear_sql[] =
    "UPDATE run_tasks SET "
    "output = NULL, error_type = NULL, "
    "error_message = NULL, request = NULL, "
    "skip_reason = NULL, started_at = NULL, "
    "finished_at = NULL, not_before = NULL, "
    "lease_owner = NULL, lease_until = NULL, "
    "callback_token = NULL, awaiting_callback = false "
    "WHERE execution_id = $1 AND "
    "task_id = ANY($2::text[])";

/*
 * task_engine_write.  $1..$10 the changed tasks as arrays, one element a
 * task (the PR_* order of the pass): their executions (one pass writes
 * the tasks of several runs), ids, states, attempts, retry times, skip
 * reasons, requests, error types and messages, attempt bases.
 * A task without its row is PENDING; the upsert writes the state the
 * core decided, whatever the row held.
 */
static const char engine_write_sql[] =
    "INSERT INTO run_tasks AS rt (execution_id, task_id, state, "
    "attempt, attempt_base, not_before, skip_reason, request, "
    "error_type, error_message, settled, ready_at) "
    "SELECT t.x, t.id, t.st, t.att, t.base, "
    "to_timestamp(t.nb / 1000.0), t.skip, t.req::jsonb, t.et, "
    "t.em, true, now() FROM unnest($1::text[], $2::text[], $3::text[], "
    "$4::int[], $5::bigint[], $6::text[], $7::text[], "
    "$8::text[], $9::text[], $10::int[]) AS t(x, id, st, att, nb, "
    "skip, req, et, em, base) "
    "ON CONFLICT (execution_id, task_id) DO UPDATE SET "
    "state = EXCLUDED.state, attempt = EXCLUDED.attempt, "
    "attempt_base = EXCLUDED.attempt_base, "
    "not_before = EXCLUDED.not_before, "
    "skip_reason = EXCLUDED.skip_reason, "
    "request = coalesce(EXCLUDED.request, rt.request), "
    "error_type = coalesce(EXCLUDED.error_type, rt.error_type), "
    "error_message = coalesce(EXCLUDED.error_message, "
    "rt.error_message), settled = true, "
    "ready_at = CASE WHEN EXCLUDED.state = 'READY' THEN now() "
    "ELSE rt.ready_at END, "
    "lease_owner = CASE WHEN EXCLUDED.state = 'READY' THEN NULL "
    "ELSE rt.lease_owner END, "
    "finished_at = CASE WHEN EXCLUDED.state IN ('SKIPPED', "
    "'CANCELLED', 'DEAD') THEN coalesce(rt.finished_at, now()) "
    "ELSE rt.finished_at END";

/*
 * run_engine_write.  Arrays, one element a run (a pass may write
 * several): $1 the executions, $2 their states, $3 their errors, $4
 * their deadlines (ms since the epoch), $5 whether each runs again after
 * it had finished, $6 whether its pass is written in part
 * (pass_incomplete), $7 when the engine started each (ms since the
 * epoch, or NULL).  A run that ends has used up its cancel request;
 * one that runs again starts without it and without its old error and
 * completion time.  A run's start time is the engine's, the clock its
 * deadline was counted on, not the time its transaction began, which
 * comes later on a busy machine.  (The second test of the id makes the
 * plan find the rows by the primary key, never by a scan of every run.)
 */
#define RUN_ENGINE_WRITE_SQL \
	"UPDATE executions e SET " \
	"status = r.st, " \
	"started_at = CASE WHEN r.st <> 'PENDING' THEN " \
	"coalesce(e.started_at, to_timestamp(r.started / 1000.0), now()) " \
	"END, " \
	"completed_at = CASE WHEN r.st IN ('SUCCESS', " \
	"'FAILED', 'CANCELLED') THEN CASE WHEN " \
	"r.again THEN now() " \
	"ELSE coalesce(e.completed_at, now()) END END, " \
	"error = CASE WHEN r.again THEN r.err " \
	"ELSE coalesce(r.err, e.error) END, " \
	"cancel_requested = CASE WHEN r.again OR r.st IN " \
	"('SUCCESS', 'FAILED', 'CANCELLED') THEN false " \
	"ELSE e.cancel_requested END, " \
	"deadline_at = to_timestamp(r.dl / 1000.0), " \
	"pass_incomplete = r.part, " \
	"queued = e.queued AND r.st = 'PENDING', " \
	"engine_gen = e.engine_gen + 1 " \
	"FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], " \
	"$5::boolean[], $6::boolean[], $7::bigint[]) " \
	"AS r(id, st, err, dl, again, part, started) " \
	"WHERE e.id = r.id AND e.id = ANY($1::text[])"
static const char run_engine_write_sql[] = RUN_ENGINE_WRITE_SQL;

/*
 * run_engine_write and the doorbells of the runs it wrote, in one
 * statement: loom_event for each run, and loom_task_ready once when
 * $8 is true (an executor reads no payload of it).
 */
static const char run_engine_write_ring_sql[] =
    "WITH u AS (" RUN_ENGINE_WRITE_SQL " RETURNING e.id) "
    "SELECT count(pg_notify('loom_event', u.id)), CASE WHEN "
    "$8::boolean THEN pg_notify('loom_task_ready', '') END FROM u";

const char *
transition_run_engine_write_ring(void)
{
	return run_engine_write_ring_sql;
}

/* ---- loom-api: runs ----------------------------------------------------- */

/*
 * run_create: a run of a workflow without a concurrency limit (max 0 or
 * policy allow), in one statement, so one transaction; NOTIFY goes on
 * commit.  $1 the new id, $2 the workflow, $3 its version, $4 the params,
 * $5 the trigger kind (manual, schedule, backfill, message, file, retry),
 * $6 the nominal fire time in Unix seconds or NULL (claimed for schedule
 * and backfill; a retry keeps its run's without claiming), $7 whether a paused
 * workflow may start (force), $8 the run retried or NULL, $9 the
 * version that must be current (loom-api's trigger), or NULL.
 * The KEY SHARE lock waits for a delete or an apply in progress and then
 * sees the row as it committed (READ COMMITTED reads a locked row's
 * latest version): a deleted workflow gets no new run, and $9 is
 * compared with the version an apply just made current.  A nominal time
 * is claimed in schedule_fires first: the second claim of one fire
 * makes nothing.  The last row says why nothing was made: deleted or
 * missing (no w row), paused, limited (then lib/store/runstart.c takes
 * the locked way), or not the current version (the fifth column).
 */
#define CREATE_TO(X) X(PENDING)

#define SQL_NOMINAL "to_timestamp($6::bigint)"
#define SQL_NOMINAL_ISO \
	"to_char(" SQL_NOMINAL " AT TIME ZONE 'UTC', " \
	"'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

static const char run_create_sql[] =
    "WITH w AS (SELECT id, paused, current_version, NOT (concurrency_max = "
    "0 OR concurrency_policy = 'allow') AS limited FROM workflows "
    "WHERE id = $2 AND deleted_at IS NULL FOR KEY SHARE), "
    "ok AS (SELECT id FROM w WHERE (NOT paused OR $7::boolean) AND "
    "($9::int IS NULL OR current_version = $9) AND NOT limited), "
    "f AS (INSERT INTO schedule_fires (workflow_id, nominal_at, kind, "
    "outcome, execution_id) SELECT ok.id, " SQL_NOMINAL ", $5, "
    "'started', $1 FROM ok WHERE $6::bigint IS NOT NULL AND "
    "$5 IN ('schedule', 'backfill') ON CONFLICT DO NOTHING RETURNING 1), "
    "e AS (INSERT INTO executions "
    "(id, workflow_id, workflow_version, status, params, "
    "trigger, scheduled_at) SELECT $1, ok.id, $3::int, " CREATE_TO(Q) ", "
    "$4::jsonb, $5, " SQL_NOMINAL " FROM ok WHERE $6::bigint IS NULL OR "
    "$5 NOT IN ('schedule', 'backfill') OR EXISTS (SELECT 1 FROM f) "
    "RETURNING id), "
    "ev AS (INSERT INTO events (execution_id, kind, to_state, "
    "data) SELECT id, 'run', " CREATE_TO(Q) ", jsonb_strip_nulls("
    "jsonb_build_object('workflow', $2::text, 'version', $3::int, "
    "'trigger', $5::text, 'scheduledTime', " SQL_NOMINAL_ISO ", "
    "'retryOf', $8::text)) FROM e), "
    "n AS (SELECT pg_notify('loom_run', id), "
    "pg_notify('loom_event', id) FROM e) "
    "SELECT (SELECT id FROM e), (SELECT count(*) FROM n), w.paused, "
    "w.limited, w.current_version FROM (VALUES (1)) v LEFT JOIN w ON true";

/*
 * run_create_limited: a run of a workflow with a concurrency limit, made
 * by runstart() inside its transaction, which holds the workflow's row
 * (FOR NO KEY UPDATE) and decided with overlap_decide().  $1..$6 and $8
 * as for run_create; $7 whether it is queued: a queued run waits for a
 * slot (run_admit) and rings no loom_run.
 */
static const char run_create_limited_sql[] =
    "WITH e AS (INSERT INTO executions "
    "(id, workflow_id, workflow_version, status, params, "
    "trigger, scheduled_at, queued) VALUES ($1, $2, $3::int, "
    CREATE_TO(Q) ", $4::jsonb, $5, " SQL_NOMINAL ", $7::boolean) "
    "RETURNING id, queued), "
    "ev AS (INSERT INTO events (execution_id, kind, to_state, "
    "data) SELECT id, 'run', " CREATE_TO(Q) ", jsonb_strip_nulls("
    "jsonb_build_object('workflow', $2::text, 'version', $3::int, "
    "'trigger', $5::text, 'scheduledTime', " SQL_NOMINAL_ISO ", "
    "'retryOf', $8::text, 'queued', CASE WHEN queued THEN true END)) "
    "FROM e), "
    "n AS (SELECT pg_notify('loom_run', id) FROM e WHERE NOT queued "
    "UNION ALL SELECT pg_notify('loom_event', id) FROM e) "
    "SELECT id, (SELECT count(*) FROM n) FROM e";

/*
 * run_admit: $1 the workflow.  Queued runs take the free slots, oldest
 * first, and ring loom_run.  The caller locked the workflow's row in an
 * earlier statement of its transaction (so this one's snapshot counts
 * every committed start).  SKIP LOCKED: a queued run locked by a pass
 * (being cancelled) is not waited for.
 */
static const char run_admit_sql[] =
    "WITH w AS (SELECT concurrency_max AS m, concurrency_policy AS p "
    "FROM workflows WHERE id = $1), "
    "a AS (SELECT count(*) AS n FROM executions WHERE workflow_id = $1 "
    "AND status IN ('PENDING', 'RUNNING') AND NOT queued), "
    "q AS (SELECT id FROM executions WHERE workflow_id = $1 AND "
    "status = 'PENDING' AND queued AND NOT cancel_requested "
    "ORDER BY created_at, id LIMIT (SELECT CASE WHEN w.m = 0 OR "
    "w.p = 'allow' THEN NULL ELSE greatest(w.m - a.n, 0) END FROM w, a) "
    "FOR UPDATE SKIP LOCKED), "
    "u AS (UPDATE executions x SET queued = false FROM q "
    "WHERE x.id = q.id RETURNING x.id), "
    "ev AS (INSERT INTO events (execution_id, kind, data) SELECT id, "
    "'run', jsonb_build_object('action', 'admitted') FROM u) "
    "SELECT id, pg_notify('loom_run', id), pg_notify('loom_event', id) "
    "FROM u";

/*
 * run_cancel.  $1 the run.  One statement: the flag and the engine's
 * doorbell commit together; the engine's pass makes the run CANCELLED.
 */
#define CANCEL_FROM(X, SEP) X(PENDING) SEP X(RUNNING)
#define CANCEL_TO(X) X(CANCELLED)

static const char run_cancel_sql[] =
    "WITH u AS (UPDATE executions SET "
    "cancel_requested = true WHERE id = $1 AND status IN "
    "(" CANCEL_FROM(Q, ", ") ") RETURNING id) "
    "SELECT pg_notify('loom_run', id), pg_notify('loom_event', id) "
    "FROM u";

/*
 * run_cancel_workflow.  $1 the workflow (deleted with ?force=true): the
 * run's doorbell and the event stream's, as a cancel rings.
 */
static const char run_cancel_workflow_sql[] =
    "WITH u AS (UPDATE executions SET "
    "cancel_requested = true WHERE workflow_id = $1 AND status IN "
    "(" CANCEL_FROM(Q, ", ") ") RETURNING id) "
    "SELECT id, pg_notify('loom_run', id), "
    "pg_notify('loom_event', id) FROM u ORDER BY id";

/* clang-format on */

/* ---- the table ---------------------------------------------------------- */

const struct transition transitions[TR__COUNT] = {
	[TR_TASK_CLAIM] = { "task_claim", TRANSITION_TASK,
	    CLAIM_DUE(TB) | CLAIM_LEASED(TB), CLAIM_TO(TB), 0, claim_sql, 3 },
	[TR_TASK_RENEW] = { "task_renew", TRANSITION_TASK, MINE_FROM(TB), 0, 0,
	    renew_sql, 5 },
	[TR_TASK_REPORT] = { "task_report", TRANSITION_TASK, MINE_FROM(TB),
	    TB(SUCCESS) | TB(FAILED), 0, report_sql, 14 },
	[TR_TASK_RELEASE] = { "task_release", TRANSITION_TASK, RELEASE_FROM(TB),
	    0, 0, release_sql, 1 },
	[TR_TASK_FAIL_OVERDUE] = { "task_fail_overdue", TRANSITION_TASK,
	    OVERDUE_FROM(TB), OVERDUE_TO(TB), 0, fail_overdue_sql, 1 },
	[TR_TASK_HOLD] = { "task_hold", TRANSITION_TASK, MINE_FROM(TB),
	    HOLD_TO(TB), TRANSITION_HOLD, hold_sql, 6 },
	[TR_TASK_UNHOLD] = { "task_unhold", TRANSITION_TASK, UNHOLD_FROM(TB), 0,
	    0, unhold_sql, 2 },
	[TR_TASK_CALLBACK] = { "task_callback", TRANSITION_TASK,
	    CALLBACK_FROM(TB), TB(SUCCESS) | TB(FAILED), 0, callback_sql, 9 },
	[TR_TASK_SETTLE] = { "task_settle", TRANSITION_TASK, TASK_ALL, 0, 0,
	    settle_sql, 1 },
	[TR_TASK_RESET_CLEAR] = { "task_reset_clear", TRANSITION_TASK, TASK_ALL,
	    0, 0, reset_clear_sql, 2 },
	[TR_TASK_ENGINE_WRITE] = { "task_engine_write", TRANSITION_TASK,
	    TASK_ALL, TASK_ALL, TRANSITION_CORE, engine_write_sql, 10 },
	[TR_RUN_CREATE] = { "run_create", TRANSITION_RUN, 0, CREATE_TO(RB),
	    TRANSITION_CREATE, run_create_sql, 9 },
	[TR_RUN_CREATE_LIMITED] = { "run_create_limited", TRANSITION_RUN, 0,
	    CREATE_TO(RB), TRANSITION_CREATE, run_create_limited_sql, 8 },
	[TR_RUN_ADMIT] = { "run_admit", TRANSITION_RUN, RB(PENDING), 0, 0,
	    run_admit_sql, 1 },
	[TR_RUN_CANCEL] = { "run_cancel", TRANSITION_RUN, CANCEL_FROM(RB, |),
	    CANCEL_TO(RB), TRANSITION_REQUEST, run_cancel_sql, 1 },
	[TR_RUN_CANCEL_WORKFLOW] = { "run_cancel_workflow", TRANSITION_RUN,
	    CANCEL_FROM(RB, |), CANCEL_TO(RB), TRANSITION_REQUEST,
	    run_cancel_workflow_sql, 1 },
	[TR_RUN_ENGINE_WRITE] = { "run_engine_write", TRANSITION_RUN,
	    (1u << RUN__COUNT) - 1, (1u << RUN__COUNT) - 1, TRANSITION_CORE,
	    run_engine_write_sql, 7 },
};

const char *
transition_sql(enum transition_id id)
{
	return transitions[id].sql;
}

int
transition_lists(enum transition_id id, int from, int to)
{
	const struct transition *t = &transitions[id];
	int n = t->machine == TRANSITION_TASK ? TASK__COUNT : RUN__COUNT;

	if (from < 0 || from >= n || to < 0 || to >= n)
		return 0;
	if (t->flags & TRANSITION_CORE)
		return t->machine == TRANSITION_TASK ?
		    task_transition_allowed(
			(enum task_state)from, (enum task_state)to) :
		    run_transition_allowed(
			(enum run_state)from, (enum run_state)to);
	return (t->from >> from & 1) && (t->to >> to & 1);
}
