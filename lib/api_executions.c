/*
 * api_executions: the /api/v1/executions/{id} and /api/v1/callbacks routes
 * of loom-api (see api.h and loom-api(8)); the list is in api_list.c, the
 * callback body parser in api_body.c.
 *
 * An execution's detail merges three things: the task list of the
 * workflow version it runs (in the DAG's topological order, so PENDING
 * tasks that have no run_tasks row yet are listed too), the run_tasks rows
 * (current state), and the task_executions rows (one per attempt).  The
 * three queries run in one read-only REPEATABLE READ transaction so the
 * states and the attempts agree with each other.
 *
 * ?wait= long-polls: the handler reads the run's status; while it is not
 * terminal it parks the request with api_wait() on the execution id, and
 * each loom_event doorbell for that id (or the deadline, or shutdown)
 * runs the handler again, which re-reads the row.
 *
 * A callback settles the RUNNING attempt its token belongs to (whether or
 * not loom-exec has recorded the 202 yet): in one transaction the row is
 * locked (unknown token: 404; no longer running: 409), updated for the engine (settled = false), the attempt is recorded
 * in task_executions, and loom_task_done rings the engine's doorbell.
 */
#include "api.h"

#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "duration.h"
#include "hmap.h"
#include "jsonutil.h"
#include "state.h"
#include "workflow.h"
#include "dag.h"
#include "xalloc.h"

/* ---- detail ------------------------------------------------------------- */

/* {"type","message"} when either is set, else null. */
static jv
error_jv(const PGresult *r, int row, int tcol, int mcol)
{
	jv e;

	if (PQgetisnull(r, row, tcol) && PQgetisnull(r, row, mcol))
		return jv_null();
	e = jv_object_set(jv_object(), jv_string("type"),
	    pg_jv_text(r, row, tcol));
	return jv_put(e, "message", pg_jv_text(r, row, mcol));
}

#define TE_COLS "task_id, attempt, status, " SQL_ISO("started_at") ", " \
	SQL_ISO("completed_at") ", duration_ms, http_status, exit_code, " \
	"error_type, error_message"

static jv
attempt_jv(const PGresult *r, int i)
{
	jv o = jv_object();

	o = jv_put(o, "attempt", pg_jv_num(r, i, 1));
	o = jv_put(o, "status", pg_jv_text(r, i, 2));
	o = jv_put(o, "startedAt", pg_jv_text(r, i, 3));
	o = jv_put(o, "completedAt", pg_jv_text(r, i, 4));
	o = jv_put(o, "durationMs", pg_jv_num(r, i, 5));
	o = jv_put(o, "httpStatus", pg_jv_num(r, i, 6));
	o = jv_put(o, "exitCode", pg_jv_num(r, i, 7));
	return jv_put(o, "error", error_jv(r, i, 8, 9));
}

/* heldUntil/heldBy: a READY task loom-exec holds for an open circuit
 * breaker until a time to come (schema/004_held.sql); null otherwise. */
#define RT_HELD "state = 'READY' AND held_target IS NOT NULL AND " \
	"ready_at > now()"
#define RT_COLS "task_id, state, attempt, skip_reason, output::text, " \
	"error_type, error_message, " SQL_ISO("started_at") ", " \
	SQL_ISO("finished_at") ", CASE WHEN " RT_HELD " THEN " \
	SQL_ISO("ready_at") " END, CASE WHEN " RT_HELD " THEN held_target END"

/* One task of the detail; row is its run_tasks row or -1 (PENDING). */
static jv
task_jv(const char *id, const char *type, const PGresult *r, int row,
    jv attempts)
{
	jv o = jv_object();

	o = jv_put(o, "taskId", jv_string(id));
	o = jv_put(o, "type", type ? jv_string(type) : jv_null());
	if (row < 0) {
		o = jv_put(o, "state", jv_string("PENDING"));
		o = jv_put(o, "attempt", jv_number(0));
		o = jv_put(o, "skipReason", jv_null());
		o = jv_put(o, "output", jv_null());
		o = jv_put(o, "error", jv_null());
		o = jv_put(o, "startedAt", jv_null());
		o = jv_put(o, "finishedAt", jv_null());
		o = jv_put(o, "heldUntil", jv_null());
		o = jv_put(o, "heldBy", jv_null());
	} else {
		const char *skip = PQgetvalue(r, row, 3);

		o = jv_put(o, "state", pg_jv_text(r, row, 1));
		o = jv_put(o, "attempt", pg_jv_num(r, row, 2));
		o = jv_put(o, "skipReason",
		    *skip ? jv_string(skip) : jv_null());
		o = jv_put(o, "output", pg_jv_json(r, row, 4));
		o = jv_put(o, "error", error_jv(r, row, 5, 6));
		o = jv_put(o, "startedAt", pg_jv_text(r, row, 7));
		o = jv_put(o, "finishedAt", pg_jv_text(r, row, 8));
		o = jv_put(o, "heldUntil", pg_jv_text(r, row, 9));
		o = jv_put(o, "heldBy", pg_jv_text(r, row, 10));
	}
	if (!jv_is_valid(attempts)) {
		jv_free(attempts);
		attempts = jv_array();
	}
	return jv_put(o, "attempts", attempts);
}

/* task id -> array of attempts (rows are ordered by task, attempt). */
static jv
attempts_by_task(const PGresult *r)
{
	jv by = jv_object(), cur = jv_invalid();
	const char *tid = NULL;

	for (int i = 0; i < PQntuples(r); i++) {
		const char *t = PQgetvalue(r, i, 0);

		if (tid == NULL || strcmp(t, tid) != 0) {
			if (tid != NULL)
				by = jv_object_set(by, jv_string(tid), cur);
			tid = t;
			cur = jv_array();
		}
		cur = jv_array_append(cur, attempt_jv(r, i));
	}
	if (tid != NULL)
		by = jv_object_set(by, jv_string(tid), cur);
	else
		jv_free(cur);
	return by;
}

static jv
tasks_jv(const struct workflow *wf, const PGresult *rt, const PGresult *te)
{
	int nrows = PQntuples(rt);
	struct hmap *rows = hmap_new((size_t)nrows + 1);
	unsigned char *used = xcalloc((size_t)nrows + 1, 1);
	jv by = attempts_by_task(te), list = jv_array();

	for (int i = 0; i < nrows; i++)
		hmap_put(rows, PQgetvalue(rt, i, 0), (size_t)i);
	for (size_t k = 0; wf && k < wf->ntasks; k++) {
		size_t idx = wf->dag ? wf->dag->topo[k] : k, row;
		const struct task *t = &wf->tasks[idx];
		int r = -1;

		if (hmap_get(rows, t->id, &row) == 0) {
			r = (int)row;
			used[row] = 1;
		}
		list = jv_array_append(list, task_jv(t->id,
		    task_type_name(t->type), rt, r,
		    jv_object_get(jv_copy(by), jv_string(t->id))));
	}
	/* Rows the spec does not know (or no spec at all): still shown. */
	for (int i = 0; i < nrows; i++)
		if (!used[i]) {
			const char *id = PQgetvalue(rt, i, 0);

			list = jv_array_append(list, task_jv(id, NULL, rt, i,
			    jv_object_get(jv_copy(by), jv_string(id))));
		}
	jv_free(by);
	free(used);
	hmap_free(rows);
	return list;
}

static int
execution_detail(struct api_request *rq, PGconn *db, const char *id,
    jv *out)
{
	PGresult *ex = NULL, *rt = NULL, *te = NULL;
	const struct workflow *wf;
	char *err = NULL;
	int notfound;
	jv o;

	if (db_cmd(db, &err, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
	    0, NULL) < 0)
		goto fail;
	ex = db_exec(db, &err, "SELECT id, workflow_id, workflow_version, "
	    "status, trigger, params::text, error, "
	    SQL_ISO("created_at") ", " SQL_ISO("started_at") ", "
	    SQL_ISO("completed_at") " FROM executions WHERE id = $1", 1, &id);
	if (ex == NULL)
		goto fail;
	if (PQntuples(ex) == 0) {
		PQclear(ex);
		if (db_cmd(db, &err, "COMMIT", 0, NULL) < 0)
			goto fail;
		return api_error(out, 404, "not_found", "id",
		    "no execution '%s'", id);
	}
	rt = db_exec(db, &err, "SELECT " RT_COLS " FROM run_tasks "
	    "WHERE execution_id = $1", 1, &id);
	if (rt == NULL)
		goto fail;
	te = db_exec(db, &err, "SELECT " TE_COLS " FROM task_executions "
	    "WHERE execution_id = $1 ORDER BY task_id, attempt, id", 1, &id);
	if (te == NULL || db_cmd(db, &err, "COMMIT", 0, NULL) < 0)
		goto fail;

	wf = api_workflow_cached(db, PQgetvalue(ex, 0, 1),
	    atoi(PQgetvalue(ex, 0, 2)), NULL, &notfound, &err);
	if (wf == NULL) {
		/* Still answer: the rows alone, in no particular order. */
		api_log(LOG_LVL_WARN, "execution %s: %s", id, err);
		free(err);
		err = NULL;
	}
	o = jv_object();
	o = jv_put(o, "id", pg_jv_text(ex, 0, 0));
	o = jv_put(o, "workflowId", pg_jv_text(ex, 0, 1));
	o = jv_put(o, "workflowVersion", pg_jv_num(ex, 0, 2));
	o = jv_put(o, "status", pg_jv_text(ex, 0, 3));
	o = jv_put(o, "trigger", pg_jv_text(ex, 0, 4));
	o = jv_put(o, "params", pg_jv_json(ex, 0, 5));
	o = jv_put(o, "error", pg_jv_text(ex, 0, 6));
	o = jv_put(o, "createdAt", pg_jv_text(ex, 0, 7));
	o = jv_put(o, "startedAt", pg_jv_text(ex, 0, 8));
	o = jv_put(o, "completedAt", pg_jv_text(ex, 0, 9));
	o = jv_put(o, "tasks", tasks_jv(wf, rt, te));
	PQclear(ex);
	PQclear(rt);
	PQclear(te);
	*out = o;
	return 200;
fail:
	PQclear(ex);
	PQclear(rt);
	PQclear(te);
	return api_db_fail(rq, out, err);
}

static int
terminal(const char *status)
{
	enum run_state s;

	return run_state_parse(status, &s) == 0 && run_state_terminal(s);
}

int
api_execution_get(struct api_request *rq, jv *out)
{
	const char *id = rq->param[0], *wait = api_query(rq, "wait");
	PGconn *db;
	PGresult *r;
	char *err = NULL;
	int done;

	if (wait && *wait && rq->resumed == 0 && rq->wait_until_ms == 0) {
		const char *why;
		int64_t ms;

		if (duration_parse(wait, &ms, &why) < 0)
			return api_error(out, 400, "bad_request", "wait",
			    "wait '%s' is not a duration like 30s or 5m: %s",
			    wait, why);
		if (ms > API_WAIT_MAX_MS)
			ms = API_WAIT_MAX_MS;
		rq->wait_until_ms = api_mono_ms() + ms;
	}
	if ((db = api_db(rq)) == NULL)
		return api_db_down(out);
	if (rq->wait_until_ms > api_mono_ms() && !api_stopping(rq)) {
		r = db_exec(db, &err, "SELECT status FROM executions "
		    "WHERE id = $1", 1, &id);
		if (r == NULL)
			return api_db_fail(rq, out, err);
		if (PQntuples(r) == 0) {
			PQclear(r);
			return api_error(out, 404, "not_found", "id",
			    "no execution '%s'", id);
		}
		done = terminal(PQgetvalue(r, 0, 0));
		PQclear(r);
		if (!done)
			return api_wait(rq, id, rq->wait_until_ms);
	}
	return execution_detail(rq, db, id, out);
}

/* ---- callbacks ---------------------------------------------------------- */

int
api_callback(struct api_request *rq, jv *out)
{
	const char *token = rq->param[0];
	struct api_callback_body cb;
	char *err = NULL;
	PGconn *db;
	PGresult *r = NULL;
	int status;

	if ((status = api_callback_body_parse(jv_copy(rq->json), &cb,
	    out)) != 0)
		goto done;
	if ((db = api_db(rq)) == NULL) {
		status = api_db_down(out);
		goto done;
	}
	if (db_cmd(db, &err, "BEGIN", 0, NULL) < 0)
		goto fail;
	r = db_exec(db, &err, "SELECT execution_id, task_id, state, "
	    "awaiting_callback, awaiting_callback AND lease_until <= now() "
	    "FROM run_tasks WHERE callback_token = $1 "
	    "FOR UPDATE", 1, &token);
	if (r == NULL)
		goto fail;
	/*
	 * A running attempt whose token matches is the one waiting, even
	 * before loom-exec recorded the 202: a quick backend may call back
	 * before that write lands.  Tokens are new for every claim.  An
	 * awaiting row's lease_until is its deadline (the task timeout):
	 * past it the token has expired, even before loom-exec has marked
	 * the attempt timed out.
	 */
	if (PQntuples(r) == 0 || strcmp(PQgetvalue(r, 0, 2), "RUNNING") ||
	    strcmp(PQgetvalue(r, 0, 4), "t") == 0) {
		if (db_cmd(db, &err, "ROLLBACK", 0, NULL) < 0)
			goto fail;
		if (PQntuples(r) == 0)
			status = api_error(out, 404, "not_found", "token",
			    "unknown callback token");
		else if (strcmp(PQgetvalue(r, 0, 4), "t") == 0)
			status = api_error(out, 409, "conflict", "token",
			    "task %s of %s timed out waiting for this "
			    "callback; the token has expired",
			    PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 0));
		else
			status = api_error(out, 409, "conflict", "token",
			    "task %s of %s is %s and no longer waits for "
			    "this callback", PQgetvalue(r, 0, 1),
			    PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 2));
		goto done;
	}
	{
		const char *p[7] = { token, cb.status,
			jv_get_kind(cb.output_text) == JV_KIND_STRING ?
			jv_string_value(cb.output_text) : NULL,
			cb.etype, cb.emsg, cb.logs,
			cb.duration[0] ? cb.duration : NULL };

		PQclear(r);
		r = NULL;
		if (db_cmd(db, &err, "WITH u AS (UPDATE run_tasks SET "
		    "state = $2, settled = false, output = $3::jsonb, "
		    "error_type = $4, error_message = $5, finished_at = now(), "
		    "awaiting_callback = false, lease_owner = NULL, "
		    "lease_until = NULL WHERE callback_token = $1 AND "
		    "state = 'RUNNING' "
		    "RETURNING execution_id, task_id, attempt, started_at), "
		    "t AS (INSERT INTO task_executions (execution_id, task_id, "
		    "attempt, status, executor, output, error_type, "
		    "error_message, logs, started_at, completed_at, "
		    "duration_ms) SELECT execution_id, task_id, attempt, $2, "
		    "'callback', $3::jsonb, $4, $5, $6, started_at, now(), "
		    "coalesce($7::bigint, (extract(epoch FROM now() - "
		    "started_at) * 1000)::bigint) FROM u) "
		    "SELECT pg_notify('loom_task_done', execution_id) FROM u",
		    7, p) < 0)
			goto fail;
	}
	/* The backend's "logs" as lines of the attempt (api_events.c). */
	if (api_task_logs_callback(db, token, cb.logs, &err) < 0)
		goto fail;
	if (db_cmd(db, &err, "COMMIT", 0, NULL) < 0)
		goto fail;
	*out = jv_object_set(jv_object(), jv_string("accepted"),
	    jv_true());
	status = 200;
	goto done;
fail:
	status = api_db_fail(rq, out, err);
done:
	PQclear(r);
	api_callback_body_free(&cb);
	return status;
}
