/*
 * enginedb_read: the first half of a pass (enginedb.h, steps 1 and 2):
 * the round trip that locks the run and reads what is new (its unsettled
 * rows and its pending control requests), and bringing the cached state
 * of the run up to date from it, or reading the run in full.  It takes
 * the round trip's results and frees them; the run's state it reads is
 * the cache's.  It ends by handing over to the second half,
 * edb_pass_apply().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jv.h>

#include "core/engine.h"
#include "core/state.h"
#include "core/workflow.h"
#include "core/xalloc.h"
#include "db.h"
#include "enginedb.h"
#include "enginedb_int.h"
#include "transition.h"
#include "util/jsonutil.h"

int64_t
edb_ms_value(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ?
	    0 :
	    strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static jv
json_value(const PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col))
		return jv_null();
	return jv_parse(PQgetvalue(r, row, col));
}

#define TASK_COLUMNS \
	"SELECT " EDB_TASK_FIELDS " FROM run_tasks WHERE execution_id = $1 "
#define SQL_ALL_TASKS TASK_COLUMNS "ORDER BY finished_at"
#define SQL_UNSETTLED_TASKS TASK_COLUMNS "AND NOT settled ORDER BY finished_at"

/*
 * Reads the run_tasks rows lo..hi-1 of r, whose columns start at c0 (as
 * TASK_COLUMNS), into the state of run; unsettled rows become reports,
 * added to reps (room for hi - lo more) and counted in *nreps.
 */
void
edb_rows_load(struct runentry *run, const PGresult *r, int lo, int hi, int c0,
    struct report *reps, size_t *nreps)
{
	const struct workflow *wf = run->w->wf;

	for (int i = lo; i < hi; i++) {
		long idx = workflow_task_index(wf, PQgetvalue(r, i, c0));
		enum task_state st;
		struct task_rt *t;
		int settled = PQgetvalue(r, i, c0 + 3)[0] == 't';

		if (idx < 0 ||
		    task_state_parse(PQgetvalue(r, i, c0 + 1), &st) < 0)
			continue;
		t = &run->rt.tasks[idx];
		t->attempt = atoi(PQgetvalue(r, i, c0 + 2));
		t->attempt_base = atoi(PQgetvalue(r, i, c0 + 9));
		if (settled) {
			const char *skip = PQgetvalue(r, i, c0 + 4);

			t->state = st;
			t->not_before_ms = edb_ms_value(r, i, c0 + 8);
			t->skip = strcmp(skip, "condition") == 0 ?
			    SKIP_CONDITION :
			    strcmp(skip, "upstream") == 0 ? SKIP_UPSTREAM :
							    SKIP_NONE;
			if (st == TASK_SUCCESS) {
				jv_free(t->output);
				t->output = json_value(r, i, c0 + 5);
			}
			continue;
		}
		/*
		 * A result the engine has not seen: the task was running.
		 * The claim that made it RUNNING wrote READY -> RUNNING
		 * itself (lib/store/execdb.c), while a cached run may still
		 * know the task as READY (only executors make rows RUNNING):
		 * the state catches up here, without a second event, and the
		 * report takes it on from RUNNING.
		 */
		struct report *rep = &reps[(*nreps)++];

		t->state = TASK_RUNNING;
		rep->task = (size_t)idx;
		rep->success = st == TASK_SUCCESS;
		rep->attempt = t->attempt;
		rep->output =
		    rep->success ? json_value(r, i, c0 + 5) : jv_null();
		/* The class loom-exec's record of the retry decision takes
		 * from the same result (errclass_of_failure()). */
		rep->error = errclass_of_failure(PQgetisnull(r, i, c0 + 6) ?
			NULL :
			PQgetvalue(r, i, c0 + 6));
		rep->message = PQgetisnull(r, i, c0 + 7) ?
		    NULL :
		    xstrdup(PQgetvalue(r, i, c0 + 7));
	}
}

/*
 * Reads run_tasks rows (all of them when full, else only the unsettled
 * ones, which r may already hold) into the run state; unsettled rows
 * become reports.  r, when given, is consumed.
 */
static int
load_tasks(struct enginedb *e, struct runentry *run, const char *id, int full,
    PGresult *r, struct report **reps, size_t *nreps, char **err)
{
	const char *p[1] = { id };

	if (full) {
		PQclear(r);
		r = db_exec(e->conn, err, SQL_ALL_TASKS, 1, p);
	}
	if (r == NULL)
		return -1;
	*reps = xcalloc((size_t)PQntuples(r) + 1, sizeof(**reps));
	*nreps = 0;
	edb_rows_load(run, r, 0, PQntuples(r), 0, *reps, nreps);
	PQclear(r);
	if (full)
		run_rt_recount(&run->rt);
	return 0;
}

void
edb_reports_free(struct report *reps, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		jv_free(reps[i].output);
		free(reps[i].message);
	}
	free(reps);
}

#define SQL_PENDING_REQUESTS \
	"SELECT id, kind, task_id, downstream, dead_letter_id " \
	"FROM run_requests WHERE execution_id = $1 AND done_at IS NULL " \
	"ORDER BY id"

/* The pending requests of r (consumed) into a malloc'd array. */
static struct request *
load_requests(PGresult *r, size_t *n)
{
	struct request *q;

	*n = r ? (size_t)PQntuples(r) : 0;
	q = xcalloc(*n + 1, sizeof(*q));
	for (size_t i = 0; i < *n; i++) {
		int row = (int)i;

		q[i].id = xstrdup(PQgetvalue(r, row, 0));
		q[i].kind = xstrdup(PQgetvalue(r, row, 1));
		q[i].task = PQgetisnull(r, row, 2) ?
		    NULL :
		    xstrdup(PQgetvalue(r, row, 2));
		q[i].downstream = PQgetvalue(r, row, 3)[0] == 't';
		q[i].dead_letter = PQgetisnull(r, row, 4) ?
		    NULL :
		    xstrdup(PQgetvalue(r, row, 4));
	}
	PQclear(r);
	return q;
}

static void
requests_free(struct request *q, size_t n)
{
	for (size_t i = 0; q && i < n; i++) {
		free(q[i].id);
		free(q[i].kind);
		free(q[i].task);
		free(q[i].dead_letter);
		free(q[i].error);
		free(q[i].result);
	}
	free(q);
}

/* The first round trip of a pass; see enginedb_pass_stmts(). */
/* clang-format off */
#define PASS_LOCK_RUN \
	"SELECT " EDB_RUN_FIELDS " " \
	"FROM executions WHERE id = $1 AND (cancel_requested OR NOT queued) " \
	"FOR NO KEY UPDATE SKIP LOCKED"
/* clang-format on */

size_t
enginedb_pass_stmts(const char *const *id, struct db_stmt *st)
{
	/*
	 * Begin, lock the run, and read its unsettled rows (enough when the
	 * cached state is current, the common case) and its pending control
	 * requests.
	 */
	st[0] = (struct db_stmt){ "BEGIN", 0, NULL };
	st[1] = (struct db_stmt){ PASS_LOCK_RUN, 1, id };
	st[2] = (struct db_stmt){ SQL_UNSETTLED_TASKS, 1, id };
	st[3] = (struct db_stmt){ SQL_PENDING_REQUESTS, 1, id };
	return ENGINEDB_PASS_STMTS;
}

int
enginedb_pass(struct enginedb *e, const char *id, int64_t now_ms, char **err)
{
	const char *p[1] = { id };
	struct db_stmt st[ENGINEDB_PASS_STMTS];
	PGresult *rs[ENGINEDB_PASS_STMTS];

	enginedb_pass_stmts(p, st);
	if (db_pipeline(e->conn, err, st, ENGINEDB_PASS_STMTS, rs) < 0) {
		PQclear(PQexec(e->conn, "ROLLBACK"));
		edb_note_wakeup(e, NULL);
		return -1;
	}
	return enginedb_pass_read(e, id, rs, now_ms, err);
}

/*
 * The run's row was not locked: another engine holds it (ENGINEDB_BUSY)
 * or it is gone (ENGINEDB_IDLE); or -1 with *err.  Rolls back.
 */
static int
pass_not_locked(struct enginedb *e, const char *id, char **err)
{
	const char *p[1] = { id };
	PGresult *r;
	int rc;

	/* A queued run (schema 014) waits for its slot: nothing to do. */
	r = db_exec(e->conn, err,
	    "SELECT 1 FROM executions WHERE "
	    "id = $1 AND (cancel_requested OR NOT queued)",
	    1, p);
	if (r == NULL) {
		PQclear(PQexec(e->conn, "ROLLBACK"));
		return -1;
	}
	rc = PQntuples(r) ? ENGINEDB_BUSY : ENGINEDB_IDLE;
	PQclear(r);
	db_cmd(e->conn, NULL, "ROLLBACK", 0, NULL);
	if (rc == ENGINEDB_BUSY)
		e->st.busy++;
	return rc;
}

/*
 * Late reports for a finished run: acknowledge them.  With control
 * requests pending (nrq), go on with the whole run read afresh (a
 * finished run is not cached): returns 1; else commits and returns 0.
 * -1 with *err (the caller rolls back).
 */
static int
settle_finished(struct enginedb *e, const char *id, size_t nrq, char **err)
{
	const char *p[1] = { id };

	if (db_cmd(e->conn, err, transition_sql(TR_TASK_SETTLE), 1, p) < 0)
		return -1;
	if (nrq > 0)
		return 1;
	if (db_cmd(e->conn, err, "COMMIT", 0, NULL) < 0)
		return -1;
	return 0;
}

/*
 * A new cache entry for run id, in state status, from row of r, its
 * executions row of the first round trip (version, params, deadline, start,
 * nominal fire time, trigger): its tasks are read next, in full.  old, the
 * stale entry, goes once the version is at hand.  NULL with *err.
 */
struct runentry *
edb_run_cache_new(struct enginedb *e, const char *id, const PGresult *r,
    int row, enum run_state status, struct runentry *old, char **err)
{
	struct wfentry *w = edb_wf_get(
	    e, PQgetvalue(r, row, 0), atoi(PQgetvalue(r, row, 1)), err);
	struct runentry *run;
	char *perr = NULL;

	if (w == NULL)
		return NULL;
	if (old)
		edb_run_drop(e, old);
	edb_runs_trim(e, w->wf->ntasks);
	run = xcalloc(1, sizeof(*run));
	run->id = xstrdup(id);
	run->w = w;
	if (run_rt_init(
		&run->rt, w->wf, jv_parse(PQgetvalue(r, row, 3)), &perr) < 0) {
		/* The API checked the params; a bad row is a bug. */
		*err = xasprintf("execution %s: %s", id, perr);
		free(perr);
		free(run->id);
		free(run);
		return NULL;
	}
	run->rt.state = status;
	run->rt.deadline_ms = edb_ms_value(r, row, 5);
	run->rt.started_ms = edb_ms_value(r, row, 7);
	/* A scheduled run's nominal time, for every request of the run, and
	 * how it started, for its expressions. */
	snprintf(run->rt.scheduled_time, sizeof(run->rt.scheduled_time), "%s",
	    PQgetvalue(r, row, 9));
	snprintf(run->rt.trigger, sizeof(run->rt.trigger), "%s",
	    PQgetvalue(r, row, 10));
	run->next = e->runs;
	e->runs = run;
	e->st.cached_runs++;
	e->run_tasks += run->rt.ntasks;
	w->nruns++;
	return run;
}

int
enginedb_pass_read(struct enginedb *e, const char *id, PGresult **rs,
    int64_t now_ms, char **err)
{
	struct runentry *run;
	struct report *reps = NULL;
	size_t nreps = 0, nrq = 0;
	struct request *rq = NULL;
	PGresult *r = rs[1], *unsettled = rs[2];
	enum run_state status;
	long long gen;
	int rc = -1, full = 0, was_terminal;

	edb_note_wakeup(e, NULL);
	PQclear(rs[0]);
	rq = load_requests(rs[3], &nrq);
	if (PQntuples(r) == 0) {
		PQclear(r);
		PQclear(unsettled);
		rc = pass_not_locked(e, id, err);
		requests_free(rq, nrq);
		return rc;
	}
	e->st.passes++;
	run_state_parse(PQgetvalue(r, 0, 2), &status);
	gen = strtoll(PQgetvalue(r, 0, 6), NULL, 10);
	run = edb_run_find(e, id);
	was_terminal = run_state_terminal(status);
	if (was_terminal) {
		if (run)
			edb_run_drop(e, run);
		run = NULL;
		PQclear(unsettled);
		unsettled = NULL;
		if ((rc = settle_finished(e, id, nrq, err)) < 0)
			goto fail;
		if (rc == 0) {
			PQclear(r);
			requests_free(rq, nrq);
			return ENGINEDB_IDLE;
		}
	}
	/*
	 * A pass written in part (see edb_write_pass()) leaves rows missing
	 * that no cached state knows of: read the run in full, whatever its
	 * engine_gen, and edb_pass_apply() derives them again.
	 */
	if (run == NULL || run->gen != gen || PQgetvalue(r, 0, 8)[0] == 't') {
		run = edb_run_cache_new(e, id, r, 0, status, run, err);
		if (run == NULL)
			goto fail;
		full = 1;
	}
	/* A finished run's cancel request is spent (see edb_write_pass). */
	int cancel_requested = PQgetvalue(r, 0, 4)[0] == 't' && !was_terminal;
	PQclear(r);
	r = NULL;

	if (load_tasks(e, run, id, full, unsettled, &reps, &nreps, err) < 0) {
		unsettled = NULL;
		goto fail_drop;
	}
	unsettled = NULL;

	rc = edb_pass_apply(e, id, run, gen, full, cancel_requested, reps,
	    nreps, rq, nrq, now_ms, err);
	edb_reports_free(reps, nreps);
	requests_free(rq, nrq);
	return rc;

fail_drop:
	/* The in-memory state went ahead of the database: forget it. */
	edb_run_drop(e, run);
fail:
	PQclear(r);
	PQclear(unsettled);
	PQclear(PQexec(e->conn, "ROLLBACK"));
	edb_reports_free(reps, nreps);
	requests_free(rq, nrq);
	return -1;
}
