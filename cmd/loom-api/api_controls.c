/*
 * api_controls: the run and task controls and the dead-letter queue of
 * loom-api (see api.h and loom-api(8)):
 *
 *   POST /api/v1/executions/{id}/cancel
 *   POST /api/v1/executions/{id}/retry               {"fromFailed": bool}
 *   POST /api/v1/executions/{id}/tasks/{task}/rerun  {"downstream": bool}
 *   GET  /api/v1/dead-letters[?workflow=&execution=&all=&limit=]
 *   GET  /api/v1/dead-letters/{id}
 *   POST /api/v1/dead-letters/{id}/replay
 *   POST /api/v1/dead-letters/{id}/discard
 *
 * loom-api decides nothing about the state of a run: loom-engine does, in
 * its pass over the run under the run's row lock.  So a control is a
 * request: cancel sets executions.cancel_requested, retry --from-failed,
 * rerun and replay insert a run_requests row (schema/003_controls.sql);
 * each rings loom_run in the same statement.  The checks here (404 for
 * what does not exist, 409 for what is in the wrong state) read rows
 * without locking the run, because a lock held by loom-api would make the
 * engine skip the run (it locks with SKIP LOCKED); the engine checks
 * again when it applies the request and records why when it refuses.
 *
 * retry, rerun and replay then wait (api_wait(), holding no thread) for
 * the engine to mark the request done, up to CONTROL_WAIT_MS: the answer
 * is 409 with the engine's reason when it refused, else 202 with the
 * execution as it is now (RUNNING again) and a "request" object naming the
 * tasks that run again.  When no engine takes the request in time the
 * answer is 202 with "request": {"state": "pending"}; the engine applies
 * it whenever it comes.  rq->scratch keeps the request id across the
 * wait; rq->wait_until_ms its deadline.
 *
 * Without fromFailed, retry runs the whole workflow again as a new
 * execution of the same workflow version with the same params (trigger
 * "retry"): 201, like a trigger.  The finished run is left as it is.
 *
 * Discarding a dead letter changes only the dead_letters row, which the
 * engine never caches; a replay pending for it makes both refuse each
 * other (the dead letter's row lock orders them).
 */
/*
 * Its SQL, built from string literals and macros, is laid out by hand;
 * clang-format would tear it into columns.
 */
/* clang-format off */
#include "api.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/db.h"
#include "store/runstart.h"
#include "store/transition.h"
#include "util/idgen.h"
#include "util/jsonutil.h"
#include "core/state.h"
#include "core/workflow.h"
#include "core/xalloc.h"

#define CONTROL_WAIT_MS 10000	/* a control's wait for the engine */
#define DLQ_DEFAULT 50
#define DLQ_MAX 1000

/* ---- small helpers ------------------------------------------------------ */

/*
 * Reads the optional boolean member name of the JSON body (an object,
 * or no body at all) into *val.  Returns 0, or an error status with *out.
 */
static int
body_flag(struct api_request *rq, const char *name, int *val, jv *out)
{
	jv body = jv_copy(rq->json);
	int status = 0;

	*val = 0;
	if (jv_get_kind(body) == JV_KIND_NULL)
		return 0;
	if (jv_get_kind(body) != JV_KIND_OBJECT) {
		status = api_error(out, 400, "bad_request", NULL, "the body "
		    "must be a JSON object like {\"%s\": true}, not %s", name,
		    jv_kind_name(jv_get_kind(body)));
		jv_free(body);
		return status;
	}
	jv_object_foreach(body, k, v) {
		if (status != 0)
			;
		else if (strcmp(jv_string_value(k), name) != 0)
			status = api_error(out, 422, "invalid_input",
			    jv_string_value(k), "unknown field '%s' (the body "
			    "is {\"%s\": true|false})", jv_string_value(k),
			    name);
		else if (jv_get_kind(v) == JV_KIND_TRUE)
			*val = 1;
		else if (jv_get_kind(v) != JV_KIND_FALSE &&
		    jv_get_kind(v) != JV_KIND_NULL)
			status = api_error(out, 422, "invalid_input", name,
			    "%s must be true or false, not %s", name,
			    jv_kind_name(jv_get_kind(v)));
		jv_free(k);
		jv_free(v);
	}
	jv_free(body);
	return status;
}

static int
is_terminal(const char *status)
{
	enum run_state s;

	return run_state_parse(status, &s) == 0 && run_state_terminal(s);
}

/* Whether s is a dead letter id: 1 to 18 digits. */
static int
is_dl_id(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (!isdigit((unsigned char)s[n]))
			return 0;
	return n > 0 && n <= 18;
}

/*
 * The execution detail of GET /api/v1/executions/{id} for id, as 202,
 * with request (consumed; jv_invalid() for none) added.  The route's
 * first parameter stands in for GET's own while it runs, and
 * wait_until_ms is set in the past so that a ?wait= on this request
 * never makes it wait.
 */
static int
execution_answer(struct api_request *rq, const char *id, jv request, jv *out)
{
	const char *saved = rq->param[0];
	int status;

	rq->param[0] = id;
	rq->wait_until_ms = 1;
	status = api_execution_get(rq, out);
	rq->param[0] = saved;
	if (status != 200) {
		jv_free(request);
		return status;
	}
	if (jv_is_valid(request))
		*out = jv_put(*out, "request", request);
	else
		jv_free(request);
	return 202;
}

/* ---- cancel ------------------------------------------------------------- */

int
api_execution_cancel(struct api_request *rq, jv *out)
{
	const char *id = rq->param[0];
	char *err = NULL;
	PGconn *db;
	PGresult *r;
	int status;

	if ((db = api_db(rq)) == NULL)
		return api_db_down(out);
	/* One statement: the flag and the engine's doorbell commit together. */
	r = db_exec(db, &err, transition_sql(TR_RUN_CANCEL), 1, &id);
	if (r == NULL)
		return api_db_fail(rq, out, err);
	if (PQntuples(r) == 0) {
		PQclear(r);
		r = db_exec(db, &err, "SELECT status FROM executions "
		    "WHERE id = $1", 1, &id);
		if (r == NULL)
			return api_db_fail(rq, out, err);
		if (PQntuples(r) == 0)
			status = api_error(out, 404, "not_found", "id",
			    "no execution '%s'", id);
		else
			status = api_error(out, 409, "conflict", "id",
			    "execution %s is already %s; only a PENDING or "
			    "RUNNING execution can be cancelled", id,
			    PQgetvalue(r, 0, 0));
		PQclear(r);
		return status;
	}
	PQclear(r);
	log_set_context("execution", id);
	api_log(LOG_LVL_INFO, "cancel requested");
	log_set_context("execution", NULL);
	return execution_answer(rq, id, jv_invalid(), out);
}

/* ---- requests for the engine: retry, rerun, replay ---------------------- */

/*
 * Answers for the request in rq->scratch: 409 when the engine refused it,
 * 202 with the execution when it applied it or when CONTROL_WAIT_MS
 * passed, else parks the request until the run's next loom_event.
 */
static int
request_await(struct api_request *rq, jv *out)
{
	char rid[32], *err = NULL, *eid;
	const char *p[1] = { rid };
	PGconn *db;
	PGresult *r;
	jv req, result;
	int done, status;

	snprintf(rid, sizeof(rid), "%lld", (long long)rq->scratch);
	if ((db = api_db(rq)) == NULL)
		return api_db_down(out);
	r = db_exec(db, &err, "SELECT execution_id, kind, task_id, "
	    "done_at IS NOT NULL, error, result::text, dead_letter_id "
	    "FROM run_requests WHERE id = $1", 1, p);
	if (r == NULL)
		return api_db_fail(rq, out, err);
	if (PQntuples(r) == 0) {
		/* Deleted with its execution while we waited. */
		PQclear(r);
		return api_error(out, 404, "not_found", NULL, "the execution "
		    "was deleted");
	}
	done = PQgetvalue(r, 0, 3)[0] == 't';
	if (done && !PQgetisnull(r, 0, 4)) {
		status = api_error(out, 409, "conflict", NULL, "%s",
		    PQgetvalue(r, 0, 4));
		PQclear(r);
		return status;
	}
	if (!done && rq->wait_until_ms > api_mono_ms() && !api_stopping(rq)) {
		status = api_wait(rq, PQgetvalue(r, 0, 0), rq->wait_until_ms);
		PQclear(r);
		return status;
	}
	req = jv_object();
	req = jv_put(req, "id", jv_number((double)rq->scratch));
	req = jv_put(req, "kind", pg_jv_text(r, 0, 1));
	req = jv_put(req, "taskId", pg_jv_text(r, 0, 2));
	req = jv_put(req, "deadLetterId", pg_jv_num(r, 0, 6));
	req = jv_put(req, "state", jv_string(done ? "applied" : "pending"));
	result = pg_jv_json(r, 0, 5);
	if (jv_get_kind(result) == JV_KIND_OBJECT)
		result = jv_object_get(result, jv_string("reset"));
	else {
		jv_free(result);
		result = jv_null();
	}
	req = jv_put(req, "reset", result);
	if (!done)
		api_log(LOG_LVL_WARN, "request %s for %s: no engine took it "
		    "within %d s; it stays pending", rid, PQgetvalue(r, 0, 0),
		    CONTROL_WAIT_MS / 1000);
	eid = xstrdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	status = execution_answer(rq, eid, req, out);
	free(eid);
	return status;
}

/*
 * Records a request for the engine and rings loom_run, in one statement,
 * then waits for its outcome.  task and dead_letter may be NULL.
 */
static int
request_submit(struct api_request *rq, jv *out, const char *exec_id,
    const char *kind, const char *task, int downstream,
    const char *dead_letter)
{
	const char *p[5] = { exec_id, kind, task,
		downstream ? "true" : "false", dead_letter };
	char *err = NULL;
	PGconn *db;
	PGresult *r;

	if ((db = api_db(rq)) == NULL)
		return api_db_down(out);
	r = db_exec(db, &err, "WITH q AS (INSERT INTO run_requests "
	    "(execution_id, kind, task_id, downstream, dead_letter_id) "
	    "VALUES ($1, $2, $3, $4::boolean, $5::bigint) "
	    "RETURNING id, execution_id) "
	    "SELECT id, pg_notify('loom_run', execution_id) FROM q", 5, p);
	if (r == NULL)
		return api_db_fail(rq, out, err);
	rq->scratch = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	rq->wait_until_ms = api_mono_ms() + CONTROL_WAIT_MS;
	log_set_run(NULL, exec_id, task, 0);
	api_log(LOG_LVL_INFO, "%s%s requested (request %lld)", kind,
	    downstream ? " with downstream" : "", (long long)rq->scratch);
	log_set_run(NULL, NULL, NULL, 0);
	return request_await(rq, out);
}

/* 409 when a request of kind (for task, when not NULL) is pending. */
static int
request_pending(PGconn *db, struct api_request *rq, const char *exec_id,
    const char *kind, const char *task, jv *out)
{
	const char *p[3] = { exec_id, kind, task };
	char *err = NULL;
	PGresult *r;
	int status = 0;

	r = db_exec(db, &err, "SELECT id FROM run_requests WHERE "
	    "execution_id = $1 AND kind = $2 AND task_id IS NOT DISTINCT "
	    "FROM $3 AND done_at IS NULL LIMIT 1", 3, p);
	if (r == NULL)
		return api_db_fail(rq, out, err);
	if (PQntuples(r) > 0)
		status = api_error(out, 409, "conflict", NULL, "a %s of %s%s%s "
		    "is already pending (request %s); loom-engine has not "
		    "taken it yet", kind, task ? task : exec_id,
		    task ? " in " : "", task ? exec_id : "",
		    PQgetvalue(r, 0, 0));
	PQclear(r);
	return status;
}

/*
 * A new execution of the same workflow version with the same params and
 * nominal time, started as every run is (runstart: the workflow's
 * concurrency applies).
 */
static int
run_again(struct api_request *rq, PGconn *db, const char *id, jv *out)
{
	char *err = NULL, *loc;
	struct run_started st;
	PGresult *r;
	int status;

	r = db_exec(db, &err, "SELECT status, workflow_id, workflow_version, "
	    "params::text, extract(epoch FROM scheduled_at)::bigint "
	    "FROM executions WHERE id = $1", 1, &id);
	if (r == NULL)
		return api_db_fail(rq, out, err);
	if (PQntuples(r) == 0 || !is_terminal(PQgetvalue(r, 0, 0))) {
		if (PQntuples(r) == 0)
			status = api_error(out, 404, "not_found", "id",
			    "no execution '%s'", id);
		else
			status = api_error(out, 409, "conflict", "id",
			    "execution %s is still %s; wait for it or cancel "
			    "it before running it again", id,
			    PQgetvalue(r, 0, 0));
		PQclear(r);
		return status;
	}
	{
		struct run_start rs = { PQgetvalue(r, 0, 1),
			atoi(PQgetvalue(r, 0, 2)), PQgetvalue(r, 0, 3), "retry",
			PQgetisnull(r, 0, 4) ? -1 :
			strtoll(PQgetvalue(r, 0, 4), NULL, 10), id, 1, 0, 0 };

		status = runstart(db, &rs, &st, &err);
	}
	if (status < 0) {
		PQclear(r);
		return api_db_fail(rq, out, err);
	}
	if (st.outcome == RUNSTART_SKIPPED) {
		status = api_error(out, 409, "concurrency_limit", "id",
		    "execution %s: not run again: %s", id, st.reason);
		PQclear(r);
		return status;
	}
	if (st.outcome != RUNSTART_STARTED && st.outcome != RUNSTART_QUEUED) {
		PQclear(r);
		return api_error(out, 409, "conflict", "id",
		    "execution %s cannot run again: its workflow was deleted",
		    id);
	}
	log_set_run(PQgetvalue(r, 0, 1), st.id, NULL, 0);
	api_log(LOG_LVL_INFO, "a new run of version %s, retrying %s",
	    PQgetvalue(r, 0, 2), id);
	log_set_run(NULL, NULL, NULL, 0);
	loc = xasprintf("/api/v1/executions/%s", st.id);
	api_set_header(rq, "Location", loc);
	free(loc);
	*out = jv_object();
	*out = jv_put(*out, "executionId", jv_string(st.id));
	*out = jv_put(*out, "workflowId", pg_jv_text(r, 0, 1));
	*out = jv_put(*out, "workflowVersion", pg_jv_num(r, 0, 2));
	*out = jv_put(*out, "status", jv_string("PENDING"));
	*out = jv_put(*out, "queued", jv_bool(st.outcome == RUNSTART_QUEUED));
	*out = jv_put(*out, "retryOf", jv_string(id));
	PQclear(r);
	return 201;
}

int
api_execution_retry(struct api_request *rq, jv *out)
{
	const char *id = rq->param[0];
	char *err = NULL;
	PGconn *db;
	PGresult *r;
	int status, from_failed;

	if (rq->scratch > 0)
		return request_await(rq, out);
	if ((status = body_flag(rq, "fromFailed", &from_failed, out)) != 0)
		return status;
	if ((db = api_db(rq)) == NULL)
		return api_db_down(out);
	if (!from_failed)
		return run_again(rq, db, id, out);
	r = db_exec(db, &err, "SELECT status FROM executions WHERE id = $1",
	    1, &id);
	if (r == NULL)
		return api_db_fail(rq, out, err);
	if (PQntuples(r) == 0) {
		PQclear(r);
		return api_error(out, 404, "not_found", "id",
		    "no execution '%s'", id);
	}
	if (strcmp(PQgetvalue(r, 0, 0), "FAILED") &&
	    strcmp(PQgetvalue(r, 0, 0), "CANCELLED")) {
		status = api_error(out, 409, "conflict", "id", "execution %s "
		    "is %s; only a FAILED or CANCELLED execution can be "
		    "retried", id, PQgetvalue(r, 0, 0));
		PQclear(r);
		return status;
	}
	PQclear(r);
	if ((status = request_pending(db, rq, id, "retry", NULL, out)) != 0)
		return status;
	return request_submit(rq, out, id, "retry", NULL, 0, NULL);
}

int
api_task_rerun(struct api_request *rq, jv *out)
{
	const char *id = rq->param[0], *task = rq->param[1];
	const struct workflow *wf;
	const char *p[2] = { id, task };
	char *err = NULL;
	PGconn *db;
	PGresult *r;
	int status, downstream, notfound;

	if (rq->scratch > 0)
		return request_await(rq, out);
	if ((status = body_flag(rq, "downstream", &downstream, out)) != 0)
		return status;
	if ((db = api_db(rq)) == NULL)
		return api_db_down(out);
	r = db_exec(db, &err, "SELECT e.workflow_id, e.workflow_version, "
	    "e.status, t.state FROM executions e LEFT JOIN run_tasks t "
	    "ON t.execution_id = e.id AND t.task_id = $2 WHERE e.id = $1",
	    2, p);
	if (r == NULL)
		return api_db_fail(rq, out, err);
	if (PQntuples(r) == 0) {
		PQclear(r);
		return api_error(out, 404, "not_found", "id",
		    "no execution '%s'", id);
	}
	wf = api_workflow_cached(db, PQgetvalue(r, 0, 0),
	    atoi(PQgetvalue(r, 0, 1)), NULL, &notfound, &err);
	if (wf == NULL) {
		PQclear(r);
		return api_db_fail(rq, out, err);
	}
	if (workflow_task_index(wf, task) < 0) {
		status = api_error(out, 404, "not_found", "task", "no task "
		    "'%s' in workflow %s version %s", task, PQgetvalue(r, 0, 0),
		    PQgetvalue(r, 0, 1));
		PQclear(r);
		return status;
	}
	{
		/* No row yet: the task is PENDING. */
		const char *st = PQgetisnull(r, 0, 3) ? "PENDING" :
		    PQgetvalue(r, 0, 3);
		enum task_state ts;

		if (task_state_parse(st, &ts) < 0 || !task_state_terminal(ts)) {
			status = api_error(out, 409, "conflict", "task",
			    "task %s of %s is %s; only a finished task can "
			    "run again", task, id, st);
			PQclear(r);
			return status;
		}
	}
	PQclear(r);
	if ((status = request_pending(db, rq, id, "rerun", task, out)) != 0)
		return status;
	return request_submit(rq, out, id, "rerun", task, downstream, NULL);
}

/* ---- dead letters ------------------------------------------------------- */

#define DL_COLS "d.id, d.execution_id, e.workflow_id, e.workflow_version, " \
	"d.task_id, d.attempts, d.error_type, d.error_message, " \
	SQL_ISO("d.created_at") ", " SQL_ISO("d.resolved_at") ", " \
	"d.resolution"
#define DL_DETAIL_COLS DL_COLS ", d.request::text, " \
	"coalesce(t.state, 'PENDING'), e.status"
#define DL_FROM "FROM dead_letters d JOIN executions e " \
	"ON e.id = d.execution_id "

/* One dead letter; with detail, its request and current states too. */
static jv
dl_jv(const PGresult *r, int i, int detail)
{
	jv o = jv_object(), err = jv_null();

	o = jv_put(o, "id", pg_jv_num(r, i, 0));
	o = jv_put(o, "executionId", pg_jv_text(r, i, 1));
	o = jv_put(o, "workflowId", pg_jv_text(r, i, 2));
	o = jv_put(o, "workflowVersion", pg_jv_num(r, i, 3));
	o = jv_put(o, "taskId", pg_jv_text(r, i, 4));
	o = jv_put(o, "attempts", pg_jv_num(r, i, 5));
	if (!PQgetisnull(r, i, 6) || !PQgetisnull(r, i, 7))
		err = jv_put(jv_put(jv_object(), "type", pg_jv_text(r, i, 6)),
		    "message", pg_jv_text(r, i, 7));
	o = jv_put(o, "error", err);
	o = jv_put(o, "createdAt", pg_jv_text(r, i, 8));
	o = jv_put(o, "resolvedAt", pg_jv_text(r, i, 9));
	o = jv_put(o, "resolution", pg_jv_text(r, i, 10));
	o = jv_put(o, "status", PQgetisnull(r, i, 9) ? jv_string("open") :
	    PQgetisnull(r, i, 10) ? jv_string("resolved") :
	    pg_jv_text(r, i, 10));
	if (!detail)
		return o;
	o = jv_put(o, "request", pg_jv_json(r, i, 11));
	o = jv_put(o, "taskState", pg_jv_text(r, i, 12));
	o = jv_put(o, "executionStatus", pg_jv_text(r, i, 13));
	return o;
}

int
api_dead_letters_list(struct api_request *rq, jv *out)
{
	const char *wf = api_query(rq, "workflow");
	const char *ex = api_query(rq, "execution");
	const char *all = api_query(rq, "all");
	const char *lim = api_query(rq, "limit");
	char limit[16];
	const char *p[4];
	char *err = NULL;
	long n = DLQ_DEFAULT;
	int every = 0;
	PGconn *db;
	PGresult *r;
	jv list;

	if (all && *all) {
		if (!strcmp(all, "true") || !strcmp(all, "1"))
			every = 1;
		else if (strcmp(all, "false") && strcmp(all, "0"))
			return api_error(out, 400, "bad_request", "all",
			    "all must be true or false, not '%s'", all);
	}
	if (lim && *lim) {
		char *end;

		n = strtol(lim, &end, 10);
		if (*end || end == lim || n < 1 || n > DLQ_MAX)
			return api_error(out, 400, "bad_request", "limit",
			    "limit must be an integer from 1 to %d, not '%s'",
			    DLQ_MAX, lim);
	}
	snprintf(limit, sizeof(limit), "%ld", n);
	p[0] = wf && *wf ? wf : NULL;
	p[1] = ex && *ex ? ex : NULL;
	p[2] = every ? "true" : "false";
	p[3] = limit;
	if ((db = api_db(rq)) == NULL)
		return api_db_down(out);
	r = db_exec(db, &err, "SELECT " DL_COLS " " DL_FROM
	    "WHERE ($1::text IS NULL OR e.workflow_id = $1) "
	    "AND ($2::text IS NULL OR d.execution_id = $2) "
	    "AND ($3::boolean OR d.resolved_at IS NULL) "
	    "ORDER BY d.created_at DESC, d.id DESC LIMIT $4::int", 4, p);
	if (r == NULL)
		return api_db_fail(rq, out, err);
	list = jv_array();
	for (int i = 0; i < PQntuples(r); i++)
		list = jv_array_append(list, dl_jv(r, i, 0));
	PQclear(r);
	*out = jv_object_set(jv_object(), jv_string("deadLetters"), list);
	return 200;
}

/* The dead letter id in detail as 200 (or status), or 404. */
static int
dl_answer(struct api_request *rq, PGconn *db, const char *id, int status,
    jv *out)
{
	char *err = NULL;
	PGresult *r;

	r = db_exec(db, &err, "SELECT " DL_DETAIL_COLS " " DL_FROM
	    "LEFT JOIN run_tasks t ON t.execution_id = d.execution_id "
	    "AND t.task_id = d.task_id WHERE d.id = $1::bigint", 1, &id);
	if (r == NULL)
		return api_db_fail(rq, out, err);
	if (PQntuples(r) == 0) {
		PQclear(r);
		return api_error(out, 404, "not_found", "id",
		    "no dead letter '%s'", id);
	}
	*out = dl_jv(r, 0, 1);
	PQclear(r);
	return status;
}

int
api_dead_letter_get(struct api_request *rq, jv *out)
{
	const char *id = rq->param[0];
	PGconn *db;

	if (!is_dl_id(id))
		return api_error(out, 404, "not_found", "id",
		    "no dead letter '%s'", id);
	if ((db = api_db(rq)) == NULL)
		return api_db_down(out);
	return dl_answer(rq, db, id, 200, out);
}

/*
 * Opens a transaction holding dead letter id's row and checks that it is
 * open with no replay pending.  Returns 0 with *r its row (execution_id,
 * task_id, task state), or an error status with *out and no transaction
 * left open.
 */
static int
dl_lock_open(struct api_request *rq, PGconn *db, const char *id, PGresult **r,
    jv *out)
{
	char *err = NULL;
	int status;

	*r = NULL;
	if (!is_dl_id(id))
		return api_error(out, 404, "not_found", "id",
		    "no dead letter '%s'", id);
	if (db_cmd(db, &err, "BEGIN", 0, NULL) < 0)
		return api_db_fail(rq, out, err);
	*r = db_exec(db, &err, "SELECT d.execution_id, d.task_id, "
	    "coalesce(t.state, 'PENDING'), d.resolution, "
	    SQL_ISO("d.resolved_at") ", (SELECT min(q.id) FROM run_requests "
	    "q WHERE q.dead_letter_id = d.id AND q.done_at IS NULL) "
	    "FROM dead_letters d LEFT JOIN run_tasks t "
	    "ON t.execution_id = d.execution_id AND t.task_id = d.task_id "
	    "WHERE d.id = $1::bigint FOR UPDATE OF d", 1, &id);
	if (*r == NULL)
		return api_db_fail(rq, out, err);
	if (PQntuples(*r) == 0)
		status = api_error(out, 404, "not_found", "id",
		    "no dead letter '%s'", id);
	else if (!PQgetisnull(*r, 0, 4))
		status = api_error(out, 409, "conflict", "id", "dead letter "
		    "%s was already %s (%s)", id, PQgetisnull(*r, 0, 3) ?
		    "resolved" : PQgetvalue(*r, 0, 3), PQgetvalue(*r, 0, 4));
	else if (!PQgetisnull(*r, 0, 5))
		status = api_error(out, 409, "conflict", "id", "a replay of "
		    "dead letter %s is pending (request %s)", id,
		    PQgetvalue(*r, 0, 5));
	else
		return 0;
	PQclear(*r);
	*r = NULL;
	if (db_cmd(db, &err, "ROLLBACK", 0, NULL) < 0)
		return api_db_fail(rq, out, err);
	return status;
}

int
api_dead_letter_replay(struct api_request *rq, jv *out)
{
	const char *id = rq->param[0];
	char *err = NULL, *eid = NULL, *tid = NULL;
	const char *p[3];
	PGconn *db;
	PGresult *r;
	int status;

	if (rq->scratch > 0)
		return request_await(rq, out);
	if ((db = api_db(rq)) == NULL)
		return api_db_down(out);
	if ((status = dl_lock_open(rq, db, id, &r, out)) != 0)
		return status;
	if (strcmp(PQgetvalue(r, 0, 2), "DEAD") != 0) {
		status = api_error(out, 409, "conflict", "id", "task %s of %s "
		    "is %s, not DEAD: there is nothing to replay",
		    PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 0),
		    PQgetvalue(r, 0, 2));
		PQclear(r);
		if (db_cmd(db, &err, "ROLLBACK", 0, NULL) < 0)
			return api_db_fail(rq, out, err);
		return status;
	}
	eid = xstrdup(PQgetvalue(r, 0, 0));
	tid = xstrdup(PQgetvalue(r, 0, 1));
	PQclear(r);
	p[0] = eid;
	p[1] = tid;
	p[2] = id;
	/* Inserted under the dead letter's lock: a discard sees it. */
	r = db_exec(db, &err, "WITH q AS (INSERT INTO run_requests "
	    "(execution_id, kind, task_id, dead_letter_id) "
	    "VALUES ($1, 'replay', $2, $3::bigint) RETURNING id, execution_id) "
	    "SELECT id, pg_notify('loom_run', execution_id) FROM q", 3, p);
	if (r == NULL || db_cmd(db, &err, "COMMIT", 0, NULL) < 0) {
		PQclear(r);
		free(eid);
		free(tid);
		return api_db_fail(rq, out, err);
	}
	rq->scratch = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	rq->wait_until_ms = api_mono_ms() + CONTROL_WAIT_MS;
	log_set_run(NULL, eid, tid, 0);
	api_log(LOG_LVL_INFO, "replay of dead letter %s requested (request %lld)",
	    id, (long long)rq->scratch);
	log_set_run(NULL, NULL, NULL, 0);
	free(eid);
	free(tid);
	return request_await(rq, out);
}

int
api_dead_letter_discard(struct api_request *rq, jv *out)
{
	const char *id = rq->param[0];
	char *err = NULL;
	PGconn *db;
	PGresult *r;
	int status;

	if ((db = api_db(rq)) == NULL)
		return api_db_down(out);
	if ((status = dl_lock_open(rq, db, id, &r, out)) != 0)
		return status;
	PQclear(r);
	if (db_cmd(db, &err, "WITH u AS (UPDATE dead_letters SET "
	    "resolved_at = now(), resolution = 'discarded' "
	    "WHERE id = $1::bigint RETURNING execution_id) "
	    "SELECT pg_notify('loom_event', execution_id) FROM u", 1,
	    &id) < 0 || db_cmd(db, &err, "COMMIT", 0, NULL) < 0)
		return api_db_fail(rq, out, err);
	api_log(LOG_LVL_INFO, "dead letter %s discarded", id);
	return dl_answer(rq, db, id, 200, out);
}
/* clang-format on */
