/*
 * enginedb: see enginedb.h for the shape of a pass.
 *
 * Writes are batched: every changed task of a pass goes to PostgreSQL in
 * one upsert fed with arrays (unnest), every transition in one events
 * insert, so a pass costs a fixed handful of round trips however many
 * tasks a completion releases.
 */
#include "enginedb.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jv.h>

#include "buf.h"
#include "db.h"
#include "dispatch.h"
#include "engine.h"
#include "jqx.h"
#include "log.h"
#include "state.h"
#include "workflow.h"
#include "xalloc.h"

#define WF_CACHE_MAX 256

struct wfentry {
	char *id;
	int version;
	struct workflow *wf;
	jv tasks;		/* canonical task objects, by task index */
	struct wfentry *next;
};

struct runentry {
	char *id;
	struct wfentry *w;
	struct run_rt rt;
	long long gen;		/* executions.engine_gen the cache matches */
	struct runentry *next;
};

struct enginedb {
	PGconn *conn;
	struct jqx *jq;
	struct wfentry *wfs;
	size_t nwfs;
	struct runentry *runs;
	struct enginedb_stats st;
	unsigned long long rng;
};

/* A result reported by an executor or a callback, not yet seen. */
struct report {
	size_t task;
	int success;
	jv output;
	enum errclass error;
	char *message;
	int attempt;
};

/*
 * Every transaction of the engine commits asynchronously (see enginedb.h
 * for why that is safe).
 */
static void
conn_setup(PGconn *conn)
{
	if (conn)
		db_cmd(conn, NULL, "SET synchronous_commit = off", 0, NULL);
}

struct enginedb *
enginedb_new(PGconn *conn)
{
	struct enginedb *e = xcalloc(1, sizeof(*e));

	e->conn = conn;
	conn_setup(conn);
	e->jq = jqx_new();
	e->rng = 0x9e3779b97f4a7c15ULL ^ (unsigned long long)(uintptr_t)e;
	return e;
}

static void
run_drop(struct enginedb *e, struct runentry *r)
{
	struct runentry **pp;

	for (pp = &e->runs; *pp; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	run_rt_free(&r->rt);
	free(r->id);
	free(r);
	e->st.cached_runs--;
}

static void
runs_drop_all(struct enginedb *e)
{
	while (e->runs)
		run_drop(e, e->runs);
}

static void
wfs_drop_all(struct enginedb *e)
{
	runs_drop_all(e);
	while (e->wfs) {
		struct wfentry *w = e->wfs;

		e->wfs = w->next;
		workflow_free(w->wf);
		jv_free(w->tasks);
		free(w->id);
		free(w);
	}
	e->nwfs = 0;
}

void
enginedb_free(struct enginedb *e)
{
	if (e == NULL)
		return;
	wfs_drop_all(e);
	jqx_free(e->jq);
	free(e);
}

void
enginedb_set_conn(struct enginedb *e, PGconn *conn)
{
	e->conn = conn;
	conn_setup(conn);
	runs_drop_all(e);
}

void
enginedb_stats(const struct enginedb *e, struct enginedb_stats *st)
{
	*st = e->st;
}

static double
rand01(struct enginedb *e)
{
	e->rng ^= e->rng << 13;
	e->rng ^= e->rng >> 7;
	e->rng ^= e->rng << 17;
	return (double)(e->rng >> 11) / 9007199254740992.0;
}

static struct wfentry *
wf_get(struct enginedb *e, const char *id, int version, char **err)
{
	struct wfentry *w;
	struct diags d;
	PGresult *r;
	char ver[16];
	const char *p[2] = { id, ver };

	for (w = e->wfs; w; w = w->next)
		if (w->version == version && strcmp(w->id, id) == 0)
			return w;
	if (e->nwfs >= WF_CACHE_MAX)
		wfs_drop_all(e);
	snprintf(ver, sizeof(ver), "%d", version);
	r = db_exec(e->conn, err, "SELECT spec::text FROM workflow_versions "
	    "WHERE workflow_id = $1 AND version = $2", 2, p);
	if (r == NULL)
		return NULL;
	if (PQntuples(r) == 0) {
		PQclear(r);
		*err = xasprintf("workflow %s version %d is missing", id,
		    version);
		return NULL;
	}
	diags_init(&d);
	w = xcalloc(1, sizeof(*w));
	w->wf = workflow_load_buf(id, PQgetvalue(r, 0, 0),
	    (size_t)PQgetlength(r, 0, 0), &d);
	PQclear(r);
	if (w->wf == NULL) {
		*err = xasprintf("stored workflow %s version %d does not load: "
		    "%s", id, version, d.n ? d.v[0].msg : "?");
		diags_clear(&d);
		free(w);
		return NULL;
	}
	diags_clear(&d);
	w->tasks = dispatch_task_specs(w->wf);
	w->id = xstrdup(id);
	w->version = version;
	w->next = e->wfs;
	e->wfs = w;
	e->nwfs++;
	return w;
}

static struct runentry *
run_find(struct enginedb *e, const char *id)
{
	for (struct runentry *r = e->runs; r; r = r->next)
		if (strcmp(r->id, id) == 0)
			return r;
	return NULL;
}

static int64_t
ms_value(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? 0 :
	    strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static jv
json_value(const PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col))
		return jv_null();
	return jv_parse(PQgetvalue(r, row, col));
}

#define TASK_COLUMNS							\
	"SELECT task_id, state, attempt, settled, skip_reason, "	\
	"output::text, error_type, error_message, "			\
	"(extract(epoch FROM not_before) * 1000)::bigint "		\
	"FROM run_tasks WHERE execution_id = $1 "
#define SQL_ALL_TASKS TASK_COLUMNS "ORDER BY finished_at"
#define SQL_UNSETTLED_TASKS TASK_COLUMNS "AND NOT settled ORDER BY finished_at"

/*
 * Reads run_tasks rows (all of them when full, else only the unsettled
 * ones, which r may already hold) into the run state; unsettled rows
 * become reports.  r, when given, is consumed.
 */
static int
load_tasks(struct enginedb *e, struct runentry *run, const char *id, int full,
    PGresult *r, struct report **reps, size_t *nreps, char **err)
{
	const struct workflow *wf = run->w->wf;
	const char *p[1] = { id };

	if (full) {
		PQclear(r);
		r = db_exec(e->conn, err, SQL_ALL_TASKS, 1, p);
	}
	if (r == NULL)
		return -1;
	*reps = xcalloc((size_t)PQntuples(r) + 1, sizeof(**reps));
	*nreps = 0;
	for (int i = 0; i < PQntuples(r); i++) {
		long idx = workflow_task_index(wf, PQgetvalue(r, i, 0));
		enum task_state st;
		struct task_rt *t;
		int settled = PQgetvalue(r, i, 3)[0] == 't';

		if (idx < 0 || task_state_parse(PQgetvalue(r, i, 1), &st) < 0)
			continue;
		t = &run->rt.tasks[idx];
		t->attempt = atoi(PQgetvalue(r, i, 2));
		if (settled) {
			t->state = st;
			t->not_before_ms = ms_value(r, i, 8);
			t->skip = strcmp(PQgetvalue(r, i, 4), "condition") == 0 ?
			    SKIP_CONDITION :
			    strcmp(PQgetvalue(r, i, 4), "upstream") == 0 ?
			    SKIP_UPSTREAM : SKIP_NONE;
			if (st == TASK_SUCCESS) {
				jv_free(t->output);
				t->output = json_value(r, i, 5);
			}
			continue;
		}
		/* A result the engine has not seen: the task was running. */
		struct report *rep = &(*reps)[(*nreps)++];

		if (full || (t->state != TASK_READY && t->state != TASK_RUNNING))
			t->state = TASK_RUNNING;
		rep->task = (size_t)idx;
		rep->success = st == TASK_SUCCESS;
		rep->attempt = t->attempt;
		rep->output = rep->success ? json_value(r, i, 5) : jv_null();
		if (PQgetisnull(r, i, 6) ||
		    errclass_parse(PQgetvalue(r, i, 6), &rep->error) < 0)
			rep->error = ERR_TASK_FAILED;
		rep->message = PQgetisnull(r, i, 7) ? NULL :
		    xstrdup(PQgetvalue(r, i, 7));
	}
	PQclear(r);
	if (full)
		run_rt_recount(&run->rt);
	return 0;
}

static void
reports_free(struct report *reps, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		jv_free(reps[i].output);
		free(reps[i].message);
	}
	free(reps);
}

/* What a pass writes for one task. */
struct change {
	const char *request;	/* NULL: keep the stored one */
	const char *error_type;
	const char *error_message;
	int dead;
};

static const char *
skip_text(enum skip_reason r)
{
	return r == SKIP_NONE ? NULL : skip_reason_name(r);
}

/*
 * Writes the pass's result and commits, in one pipelined round trip.
 * changed[i] marks tasks to upsert.  Returns 0 or -1 with *err (the caller
 * rolls back).
 */
static int
write_pass(struct enginedb *e, const char *id, struct runentry *run,
    const struct engine_result *res, const unsigned char *changed,
    struct change *ch, char **err)
{
	const struct workflow *wf = run->w->wf;
	struct buf ids = BUF_INIT, states = BUF_INIT, attempts = BUF_INIT,
		   nbs = BUF_INIT, skips = BUF_INIT, reqs = BUF_INIT,
		   etypes = BUF_INIT, emsgs = BUF_INIT, dead = BUF_INIT;
	struct buf ev_task = BUF_INIT, ev_kind = BUF_INIT, ev_from = BUF_INIT,
		   ev_to = BUF_INIT, ev_att = BUF_INIT;
	int rc = -1, any = 0, ndead = 0, dispatch = 0, cancel = 0;
	char num[32], dl[32];
	struct db_stmt st[9];
	const char *p_up[9], *p_dead[2], *p_ev[6], *p_run[4], *p_id[1] = { id };
	size_t nst = 0;

	buf_puts(&ids, "{");
	buf_puts(&states, "{");
	buf_puts(&attempts, "{");
	buf_puts(&nbs, "{");
	buf_puts(&skips, "{");
	buf_puts(&reqs, "{");
	buf_puts(&etypes, "{");
	buf_puts(&emsgs, "{");
	buf_puts(&dead, "{");
	for (size_t i = 0; i < wf->ntasks; i++) {
		const struct task_rt *t = &run->rt.tasks[i];

		if (!changed[i])
			continue;
		any = 1;
		buf_pgarray_elem(&ids, wf->tasks[i].id);
		buf_pgarray_elem(&states, task_state_name(t->state));
		snprintf(num, sizeof(num), "%d", t->attempt);
		buf_pgarray_elem(&attempts, num);
		snprintf(num, sizeof(num), "%lld", (long long)t->not_before_ms);
		buf_pgarray_elem(&nbs, t->state == TASK_RETRY ? num : NULL);
		buf_pgarray_elem(&skips, skip_text(t->skip));
		buf_pgarray_elem(&reqs, ch[i].request);
		buf_pgarray_elem(&etypes, ch[i].error_type);
		buf_pgarray_elem(&emsgs, ch[i].error_message);
		if (ch[i].dead) {
			buf_pgarray_elem(&dead, wf->tasks[i].id);
			ndead++;
		}
	}
	buf_puts(&ids, "}");
	buf_puts(&states, "}");
	buf_puts(&attempts, "}");
	buf_puts(&nbs, "}");
	buf_puts(&skips, "}");
	buf_puts(&reqs, "}");
	buf_puts(&etypes, "}");
	buf_puts(&emsgs, "}");
	buf_puts(&dead, "}");

	if (any) {
		p_up[0] = id;
		p_up[1] = ids.p;
		p_up[2] = states.p;
		p_up[3] = attempts.p;
		p_up[4] = nbs.p;
		p_up[5] = skips.p;
		p_up[6] = reqs.p;
		p_up[7] = etypes.p;
		p_up[8] = emsgs.p;
		st[nst++] = (struct db_stmt){
		    "INSERT INTO run_tasks AS rt (execution_id, task_id, state, "
		    "attempt, not_before, skip_reason, request, error_type, "
		    "error_message, settled, ready_at) "
		    "SELECT $1, t.id, t.st, t.att, "
		    "to_timestamp(t.nb / 1000.0), t.skip, t.req::jsonb, t.et, "
		    "t.em, true, now() FROM unnest($2::text[], $3::text[], "
		    "$4::int[], $5::bigint[], $6::text[], $7::text[], "
		    "$8::text[], $9::text[]) AS t(id, st, att, nb, skip, req, "
		    "et, em) "
		    "ON CONFLICT (execution_id, task_id) DO UPDATE SET "
		    "state = EXCLUDED.state, attempt = EXCLUDED.attempt, "
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
		    "ELSE rt.finished_at END", 9, p_up };
	}
	if (ndead > 0) {
		p_dead[0] = id;
		p_dead[1] = dead.p;
		st[nst++] = (struct db_stmt){ "INSERT INTO dead_letters "
		    "(execution_id, task_id, attempts, request, error_type, "
		    "error_message) SELECT execution_id, task_id, attempt, "
		    "request, error_type, error_message FROM run_tasks "
		    "WHERE execution_id = $1 AND task_id = ANY($2::text[])", 2,
		    p_dead };
	}

	/* Events: one row per transition. */
	buf_puts(&ev_task, "{");
	buf_puts(&ev_kind, "{");
	buf_puts(&ev_from, "{");
	buf_puts(&ev_to, "{");
	buf_puts(&ev_att, "{");
	for (size_t i = 0; i < res->ntransitions; i++) {
		const struct engine_transition *tr = &res->transitions[i];
		int isrun = tr->task == ENGINE_RUN;

		buf_pgarray_elem(&ev_task, isrun ? NULL : wf->tasks[tr->task].id);
		buf_pgarray_elem(&ev_kind, isrun ? "run" : "task");
		buf_pgarray_elem(&ev_from, isrun ?
		    run_state_name((enum run_state)tr->from) :
		    task_state_name((enum task_state)tr->from));
		buf_pgarray_elem(&ev_to, isrun ?
		    run_state_name((enum run_state)tr->to) :
		    task_state_name((enum task_state)tr->to));
		snprintf(num, sizeof(num), "%d",
		    isrun ? 0 : run->rt.tasks[tr->task].attempt);
		buf_pgarray_elem(&ev_att, isrun ? NULL : num);
	}
	buf_puts(&ev_task, "}");
	buf_puts(&ev_kind, "}");
	buf_puts(&ev_from, "}");
	buf_puts(&ev_to, "}");
	buf_puts(&ev_att, "}");
	if (res->ntransitions > 0) {
		p_ev[0] = id;
		p_ev[1] = ev_task.p;
		p_ev[2] = ev_kind.p;
		p_ev[3] = ev_from.p;
		p_ev[4] = ev_to.p;
		p_ev[5] = ev_att.p;
		st[nst++] = (struct db_stmt){ "INSERT INTO events (execution_id, "
		    "task_id, kind, from_state, to_state, attempt) "
		    "SELECT $1, * FROM unnest($2::text[], $3::text[], "
		    "$4::text[], $5::text[], $6::int[])", 6, p_ev };
	}

	/* The run row. */
	{
		const char *finish_msg = NULL;

		for (size_t i = 0; i < res->nactions; i++) {
			const struct engine_action *a = &res->actions[i];

			if (a->type == ACT_DISPATCH)
				dispatch = 1;
			else if (a->type == ACT_CANCEL_TASK)
				cancel = 1;
			else if (a->type == ACT_FINISH_RUN)
				finish_msg = a->message;
		}
		snprintf(dl, sizeof(dl), "%lld", (long long)run->rt.deadline_ms);
		p_run[0] = id;
		p_run[1] = run_state_name(run->rt.state);
		p_run[2] = finish_msg;
		p_run[3] = run->rt.deadline_ms ? dl : NULL;
		st[nst++] = (struct db_stmt){ "UPDATE executions SET status = $2, "
		    "started_at = CASE WHEN $2 <> 'PENDING' THEN "
		    "coalesce(started_at, now()) END, "
		    "completed_at = CASE WHEN $2 IN ('SUCCESS', 'FAILED', "
		    "'CANCELLED') THEN coalesce(completed_at, now()) END, "
		    "error = coalesce($3, error), "
		    "deadline_at = to_timestamp($4::bigint / 1000.0), "
		    "engine_gen = engine_gen + 1 WHERE id = $1", 4, p_run };
	}
	if (dispatch)
		st[nst++] = (struct db_stmt){
		    "SELECT pg_notify('loom_task_ready', $1)", 1, p_id };
	if (cancel)
		st[nst++] = (struct db_stmt){
		    "SELECT pg_notify('loom_cancel', $1)", 1, p_id };
	st[nst++] = (struct db_stmt){ "SELECT pg_notify('loom_event', $1)", 1,
	    p_id };
	st[nst++] = (struct db_stmt){ "COMMIT", 0, NULL };
	/* Everything, COMMIT included, in one round trip. */
	rc = db_pipeline(e->conn, err, st, nst, NULL);
	buf_free(&ids);
	buf_free(&states);
	buf_free(&attempts);
	buf_free(&nbs);
	buf_free(&skips);
	buf_free(&reqs);
	buf_free(&etypes);
	buf_free(&emsgs);
	buf_free(&dead);
	buf_free(&ev_task);
	buf_free(&ev_kind);
	buf_free(&ev_from);
	buf_free(&ev_to);
	buf_free(&ev_att);
	return rc;
}

static void
step(struct enginedb *e, struct runentry *run, struct engine_event *ev,
    struct engine_result *res)
{
	ev->rand01 = rand01(e);
	if (engine_step(run->w->wf, &run->rt, e->jq, ev, res) < 0)
		log_debug("event %d for task %zu does not apply; dropped",
		    (int)ev->type, ev->task);
	e->st.events++;
}

int
enginedb_pass(struct enginedb *e, const char *id, int64_t now_ms, char **err)
{
	const char *p[1] = { id };
	struct engine_result res;
	struct engine_event ev;
	struct runentry *run;
	struct report *reps = NULL;
	size_t nreps = 0;
	unsigned char *changed = NULL;
	struct change *ch = NULL;
	char **reqtext = NULL;
	PGresult *r = NULL, *unsettled = NULL;
	enum run_state status;
	long long gen;
	size_t nt = 0;
	int rc = -1, full = 0;

	engine_result_init(&res);
	/*
	 * One round trip: begin, lock the run, and read its unsettled rows
	 * (enough when the cached state is current, the common case).
	 */
	{
		struct db_stmt st[3] = {
			{ "BEGIN", 0, NULL },
			{ "SELECT workflow_id, workflow_version, status, "
			  "params::text, cancel_requested, "
			  "(extract(epoch FROM deadline_at) * 1000)::bigint, "
			  "engine_gen, "
			  "(extract(epoch FROM started_at) * 1000)::bigint "
			  "FROM executions WHERE id = $1 FOR UPDATE SKIP LOCKED",
			  1, p },
			{ SQL_UNSETTLED_TASKS, 1, p },
		};
		PGresult *rs[3];

		if (db_pipeline(e->conn, err, st, 3, rs) < 0)
			goto fail;
		PQclear(rs[0]);
		r = rs[1];
		unsettled = rs[2];
	}
	if (PQntuples(r) == 0) {
		PQclear(r);
		PQclear(unsettled);
		unsettled = NULL;
		r = db_exec(e->conn, err, "SELECT 1 FROM executions WHERE "
		    "id = $1", 1, p);
		if (r == NULL)
			goto fail;
		rc = PQntuples(r) ? ENGINEDB_BUSY : ENGINEDB_IDLE;
		PQclear(r);
		db_cmd(e->conn, NULL, "ROLLBACK", 0, NULL);
		if (rc == ENGINEDB_BUSY)
			e->st.busy++;
		return rc;
	}
	e->st.passes++;
	run_state_parse(PQgetvalue(r, 0, 2), &status);
	gen = strtoll(PQgetvalue(r, 0, 6), NULL, 10);
	run = run_find(e, id);
	if (run_state_terminal(status)) {
		/* Late reports for a finished run: acknowledge them. */
		if (run)
			run_drop(e, run);
		PQclear(r);
		r = NULL;
		PQclear(unsettled);
		unsettled = NULL;
		if (db_cmd(e->conn, err, "UPDATE run_tasks SET settled = true "
		    "WHERE execution_id = $1 AND NOT settled", 1, p) < 0 ||
		    db_cmd(e->conn, err, "COMMIT", 0, NULL) < 0)
			goto fail;
		return ENGINEDB_IDLE;
	}
	if (run == NULL || run->gen != gen) {
		struct wfentry *w = wf_get(e, PQgetvalue(r, 0, 0),
		    atoi(PQgetvalue(r, 0, 1)), err);
		char *perr = NULL;

		if (w == NULL)
			goto fail;
		if (run)
			run_drop(e, run);
		run = xcalloc(1, sizeof(*run));
		run->id = xstrdup(id);
		run->w = w;
		if (run_rt_init(&run->rt, w->wf, jv_parse(PQgetvalue(r, 0, 3)),
		    &perr) < 0) {
			/* The API checked the params; a bad row is a bug. */
			*err = xasprintf("execution %s: %s", id, perr);
			free(perr);
			free(run->id);
			free(run);
			goto fail;
		}
		run->rt.state = status;
		run->rt.deadline_ms = ms_value(r, 0, 5);
		run->rt.started_ms = ms_value(r, 0, 7);
		run->next = e->runs;
		e->runs = run;
		e->st.cached_runs++;
		full = 1;
	}
	int cancel_requested = PQgetvalue(r, 0, 4)[0] == 't';
	PQclear(r);
	r = NULL;

	if (load_tasks(e, run, id, full, unsettled, &reps, &nreps, err) < 0) {
		unsettled = NULL;
		goto fail_drop;
	}
	unsettled = NULL;

	memset(&ev, 0, sizeof(ev));
	ev.output = jv_null();
	ev.now_ms = now_ms;
	if (run->rt.state == RUN_PENDING) {
		ev.type = EV_RUN_START;
		step(e, run, &ev, &res);
	}
	for (size_t i = 0; i < nreps; i++) {
		memset(&ev, 0, sizeof(ev));
		ev.now_ms = now_ms;
		ev.task = reps[i].task;
		if (reps[i].success) {
			ev.type = EV_TASK_SUCCEEDED;
			ev.output = reps[i].output;
			reps[i].output = jv_null();
		} else {
			ev.type = EV_TASK_FAILED;
			ev.output = jv_null();
			ev.error = reps[i].error;
			ev.message = reps[i].message;
		}
		step(e, run, &ev, &res);
	}
	for (size_t i = 0; i < run->rt.ntasks; i++)
		if (run->rt.tasks[i].state == TASK_RETRY &&
		    run->rt.tasks[i].not_before_ms <= now_ms) {
			memset(&ev, 0, sizeof(ev));
			ev.type = EV_RETRY_DUE;
			ev.task = i;
			ev.output = jv_null();
			ev.now_ms = now_ms;
			step(e, run, &ev, &res);
		}
	if (!run_state_terminal(run->rt.state) && cancel_requested) {
		memset(&ev, 0, sizeof(ev));
		ev.type = EV_CANCEL;
		ev.output = jv_null();
		ev.now_ms = now_ms;
		step(e, run, &ev, &res);
	}
	if (!run_state_terminal(run->rt.state) && run->rt.deadline_ms &&
	    now_ms >= run->rt.deadline_ms) {
		memset(&ev, 0, sizeof(ev));
		ev.type = EV_RUN_TIMEOUT;
		ev.output = jv_null();
		ev.now_ms = now_ms;
		step(e, run, &ev, &res);
	}

	if (nreps == 0 && res.ntransitions == 0 && res.nactions == 0) {
		/* Nothing happened: leave the row (and engine_gen) alone. */
		PQclear(PQexec(e->conn, "ROLLBACK"));
		rc = ENGINEDB_IDLE;
		goto out;
	}

	/* Which rows to write, and with what. */
	nt = run->rt.ntasks;
	changed = xcalloc(nt ? nt : 1, 1);
	ch = xcalloc(nt ? nt : 1, sizeof(*ch));
	reqtext = xcalloc(nt ? nt : 1, sizeof(char *));
	for (size_t i = 0; i < nreps; i++)
		changed[reps[i].task] = 1;
	/* res grows while we walk it: a request that cannot be rendered
	 * fails its attempt, which may skip tasks downstream. */
	for (size_t i = 0; i < res.nactions; i++) {
		const struct engine_action *a = &res.actions[i];
		jv req;

		switch (a->type) {
		case ACT_DISPATCH:
			req = dispatch_request(id, run->w->wf, &run->rt, e->jq, a,
			    jv_array_get(jv_copy(run->w->tasks), (int)a->task));
			if (!jv_is_valid(req)) {
				jv msg = jv_invalid_get_msg(req);

				memset(&ev, 0, sizeof(ev));
				ev.type = EV_TASK_FAILED;
				ev.task = a->task;
				ev.error = ERR_VALIDATION;
				ev.message = jv_string_value(msg);
				ev.output = jv_null();
				ev.now_ms = now_ms;
				step(e, run, &ev, &res);
				jv_free(msg);
				changed[res.actions[i].task] = 1;
				break;
			}
			req = jv_dump_string(req, 0);
			free(reqtext[a->task]);
			reqtext[a->task] = xstrdup(jv_string_value(req));
			jv_free(req);
			ch[a->task].request = reqtext[a->task];
			break;
		case ACT_DEAD_LETTER:
			ch[a->task].dead = 1;
			if (a->message) {
				/* Set by the engine (e.g. a bad `when:`);
				 * an executor's own error stays otherwise. */
				ch[a->task].error_type = errclass_name(a->error);
				ch[a->task].error_message = a->message;
			}
			break;
		default:
			break;
		}
	}
	for (size_t i = 0; i < res.ntransitions; i++)
		if (res.transitions[i].task != ENGINE_RUN)
			changed[res.transitions[i].task] = 1;
	if (write_pass(e, id, run, &res, changed, ch, err) < 0)
		goto fail_drop;
	run->gen = gen + 1;
	if (run_state_terminal(run->rt.state))
		run_drop(e, run);
	rc = ENGINEDB_DID_WORK;
	goto out;

fail_drop:
	/* The in-memory state went ahead of the database: forget it. */
	run_drop(e, run);
fail:
	PQclear(r);
	PQclear(unsettled);
	PQclear(PQexec(e->conn, "ROLLBACK"));
	rc = -1;
out:
	for (size_t i = 0; reqtext && i < nt; i++)
		free(reqtext[i]);
	free(reqtext);
	reports_free(reps, nreps);
	free(changed);
	free(ch);
	engine_result_clear(&res);
	return rc;
}

long
enginedb_due_runs(struct enginedb *e, char ***ids, char **err)
{
	PGresult *r;
	long n;

	r = db_exec(e->conn, err,
	    "SELECT id FROM executions WHERE status = 'PENDING' "
	    "OR (status = 'RUNNING' AND (cancel_requested "
	    "OR deadline_at <= now())) "
	    "UNION SELECT DISTINCT execution_id FROM run_tasks WHERE NOT settled "
	    "UNION SELECT DISTINCT execution_id FROM run_tasks "
	    "WHERE state = 'RETRY' AND not_before <= now()", 0, NULL);
	if (r == NULL)
		return -1;
	n = PQntuples(r);
	*ids = xcalloc((size_t)n + 1, sizeof(char *));
	for (long i = 0; i < n; i++)
		(*ids)[i] = xstrdup(PQgetvalue(r, (int)i, 0));
	PQclear(r);
	return n;
}

int64_t
enginedb_next_wakeup(struct enginedb *e, char **err)
{
	PGresult *r;
	int64_t t;

	r = db_exec(e->conn, err,
	    "SELECT (extract(epoch FROM least("
	    "(SELECT min(not_before) FROM run_tasks WHERE state = 'RETRY'), "
	    "(SELECT min(deadline_at) FROM executions "
	    "WHERE status = 'RUNNING'))) * 1000)::bigint", 0, NULL);
	if (r == NULL)
		return -1;
	t = ms_value(r, 0, 0);
	PQclear(r);
	return t;
}
