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
 * states and the attempts agree with each other; api_detail.c reads them
 * in one round trip and writes the answer as JSON text.
 *
 * ?wait= long-polls: the handler reads the run's status; while it is not
 * terminal it parks the request with api_wait() on the execution id, and
 * each loom_event doorbell for that id (or the deadline, or shutdown)
 * runs the handler again, which re-reads the row.
 *
 * A callback settles the RUNNING attempt its token belongs to (whether or
 * not loom-exec has recorded the 202 yet): in one transaction the row,
 * found by the execution and task the token names, is locked (unknown
 * token: 404; no longer running: 409), its body checked (only then, so
 * an unknown token is 404 whatever it sends: 400, 422), updated for the engine
 * (settled = false), the attempt is recorded in task_executions, and
 * loom_task_done rings the engine's doorbell.  A FAILED one then gets the
 * records loom-exec writes of a failed attempt (how it ended, the retry
 * decision), sent to loom-log by api_records.c from what the lock read.
 */
#include "api.h"
#include "server.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "store/db.h"
#include "store/transition.h"
#include "core/duration.h"
#include "core/hmap.h"
#include "util/jsonutil.h"
#include "core/state.h"
#include "core/workflow.h"
#include "core/dag.h"
#include "core/xalloc.h"

/* ---- detail ------------------------------------------------------------- */

/*
 * The detail, rendered by api_detail.c as JSON text.  GET answers with
 * that text as it is; the controls (api_controls.c), which call
 * api_execution_get() from their POST routes, get a jv to add to.
 */
static int
execution_detail(
    struct api_request *rq, PGconn *db, const char *id, int wait, jv *out)
{
	struct buf b = BUF_INIT;
	int status, finished = 1;

	if ((status = api_execution_render(
		 rq, db, id, &b, out, wait, &finished)) != 200) {
		buf_free(&b);
		return status;
	}
	if (wait && !finished) {
		buf_free(&b);
		return api_wait(rq, id, rq->wait_until_ms);
	}
	if (strcmp(rq->method, "GET") == 0) {
		api_set_json_text(rq, b.p, b.len); /* reply.c owns b.p */
		return 200;
	}
	*out = jv_parse_sized(b.p, (int)b.len);
	buf_free(&b);
	if (!jv_is_valid(*out)) {
		jv_free(*out);
		return api_error(out, 500, "internal", NULL,
		    "internal error: "
		    "the execution detail is not valid JSON");
	}
	return 200;
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
	int done, waiting;

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
	waiting = rq->wait_until_ms > api_mono_ms() && !api_stopping(rq);
	/*
	 * A first look reads the detail at once, as the run may be over
	 * (one statement); once woken, the status alone says whether to
	 * read it or to wait on.
	 */
	if (waiting && rq->resumed > 0) {
		r = db_exec(db, &err,
		    "SELECT status FROM executions "
		    "WHERE id = $1",
		    1, &id);
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
	return execution_detail(rq, db, id, waiting, out);
}

/* ---- callbacks ---------------------------------------------------------- */

/*
 * A callback token is "<execution id>~<task id>~<secret>" (loom-exec
 * makes them when it claims a task, lib/store/execdb.c): the row is found by
 * primary key and the whole token compared.  key gets a copy of token
 * with the first two '~' made NULs; *eid and *tid point into it.
 */
static int
callback_key(const char *token, char *key, size_t len, const char **eid,
    const char **tid)
{
	char *a, *b;

	if (strlen(token) >= len)
		return -1;
	strcpy(key, token);
	if ((a = strchr(key, '~')) == NULL ||
	    (b = strchr(a + 1, '~')) == NULL || a == key || b == a + 1 ||
	    b[1] == '\0')
		return -1;
	*a = *b = '\0';
	*eid = key;
	*tid = a + 1;
	return 0;
}

/* What the callback's records need of the locked row (api_records.c). */
struct callback_row {
	int attempt;
	jv retry; /* the stored request's "retry", or null */
};

/*
 * Locks the attempt a callback settles, in the open transaction: 0 when
 * it is RUNNING and waits for this token, with *row filled.  Otherwise
 * the transaction is rolled back and the status of the error in *out is
 * returned (404, 409), or -1 with *err when the database failed.
 */
static int
callback_attempt_lock(PGconn *db, const char *token, const char *eid,
    const char *tid, struct callback_row *row, jv *out, char **err)
{
	const char *p[3] = { token, eid, tid };
	PGresult *r;
	int status = 0;

	r = db_exec(db, err,
	    "SELECT execution_id, task_id, state, "
	    "awaiting_callback, awaiting_callback AND "
	    "lease_until <= now(), attempt, request -> 'retry' "
	    "FROM run_tasks "
	    "WHERE execution_id = $2 AND task_id = $3 "
	    "AND callback_token = $1 FOR UPDATE",
	    3, p);
	if (r == NULL)
		return -1;
	if (PQntuples(r) == 1) {
		row->attempt = atoi(PQgetvalue(r, 0, 5));
		row->retry = PQgetisnull(r, 0, 6) ?
		    jv_null() :
		    jv_parse(PQgetvalue(r, 0, 6));
	}
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
		if (db_cmd(db, err, "ROLLBACK", 0, NULL) < 0)
			status = -1;
		else if (PQntuples(r) == 0)
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
			    "this callback",
			    PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 0),
			    PQgetvalue(r, 0, 2));
	}
	PQclear(r);
	return status;
}

/*
 * Settles the locked attempt with cb, in the open transaction: its
 * run_tasks row for the engine (settled = false), the attempt in
 * task_executions, and loom_task_done on commit.  Returns 0, or -1 with
 * *err.
 */
static int
callback_settle(PGconn *db, const char *token, const char *eid, const char *tid,
    const struct api_callback_body *cb, char **err)
{
	const char *p[9] = { token, cb->status,
		jv_get_kind(cb->output_text) == JV_KIND_STRING ?
		    jv_string_value(cb->output_text) :
		    NULL,
		cb->etype, cb->emsg, cb->logs,
		cb->duration[0] ? cb->duration : NULL, eid, tid };

	if (db_cmd(db, err, transition_sql(TR_TASK_CALLBACK), 9, p) < 0)
		return -1;
	return 0;
}

int
api_callback(struct api_request *rq, jv *out)
{
	const char *token = rq->param[0], *eid = NULL, *tid = NULL;
	struct api_callback_body cb;
	struct callback_row row = { 0, jv_null() };
	char *err = NULL, key[512];
	PGconn *db;
	int status;

	/* The token first: a stranger learns nothing from our body rules. */
	memset(&cb, 0, sizeof(cb));
	cb.body = cb.output_text = jv_null();
	if (callback_key(token, key, sizeof(key), &eid, &tid) < 0) {
		status = api_error(
		    out, 404, "not_found", "token", "unknown callback token");
		goto done;
	}
	if ((db = api_db(rq)) == NULL) {
		status = api_db_down(out);
		goto done;
	}
	if (db_cmd(db, &err, "BEGIN", 0, NULL) < 0)
		goto fail;
	if ((status = callback_attempt_lock(
		 db, token, eid, tid, &row, out, &err)) < 0)
		goto fail;
	if (status != 0)
		goto done;
	if ((status = api_callback_body_parse(jv_copy(rq->json), &cb, out)) !=
	    0) {
		if (db_cmd(db, &err, "ROLLBACK", 0, NULL) < 0) {
			jv_free(*out);
			goto fail;
		}
		goto done;
	}
	if (callback_settle(db, token, eid, tid, &cb, &err) < 0)
		goto fail;
	/* The backend's "logs" as lines of the attempt (api_events.c). */
	if (api_task_logs_callback(db, eid, tid, cb.logs, &err) < 0)
		goto fail;
	if (db_cmd(db, &err, "COMMIT", 0, NULL) < 0)
		goto fail;
	/* loom-exec never sees this result: the records it would have
	 * written of a failure, once the engine can act on it. */
	if (strcmp(cb.status, "FAILED") == 0)
		api_failure_records_send(rq->api->opt->logd_socket, eid, tid,
		    row.attempt, jv_copy(row.retry), cb.etype, cb.emsg);
	*out = jv_object_set(jv_object(), jv_string("accepted"), jv_true());
	status = 200;
	goto done;
fail:
	status = api_db_fail(rq, out, err);
done:
	jv_free(row.retry);
	api_callback_body_free(&cb);
	return status;
}
