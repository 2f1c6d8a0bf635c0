/*
 * enginedb: see enginedb.h for the shape of a pass.
 *
 * Writes are batched: every changed task of a pass goes to PostgreSQL in
 * one upsert fed with arrays (unnest), every transition in one events
 * insert, so a pass costs a fixed handful of round trips however many
 * tasks a completion releases.
 *
 * Control requests (run_requests rows: retry --from-failed, task rerun,
 * dead-letter replay) are written by loom-api, which rings loom_run; the
 * pass reads the pending ones with its first round trip, under the run's
 * row lock, and turns each into an EV_RESET of the engine core (a finished
 * run is loaded in full for that).  Each request is marked done in the
 * same transaction, with the tasks it reset or the reason it was refused,
 * so loom-api can answer the user once the engine has decided.  loom-api
 * never writes run_tasks, so the cached run state stays valid: only the
 * passes move executions.engine_gen.
 */
#include "enginedb.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jv.h>

#include "core/buf.h"
#include "db.h"
#include "core/dispatch.h"
#include "core/engine.h"
#include "core/jqx.h"
#include "util/log.h"
#include "core/state.h"
#include "core/workflow.h"
#include "core/xalloc.h"
#include "core/yamlnode.h"
#include "transition.h"

/*
 * The caches hold what a pass would otherwise read and parse again: the
 * workflow versions (about 1.7 kB a task, parsed and as request texts)
 * and the state of live runs (a finished run is dropped).  Both are
 * bounded in entries and in tasks, so a few huge workflows or thousands
 * of live fan-outs cannot make the daemon grow without end: the least
 * recently used go first, and a version goes only once no cached run
 * uses it.
 */
#define WF_CACHE_MAX 256
#define WF_CACHE_TASKS 16384
#define RUN_CACHE_MAX 1024
#define RUN_CACHE_TASKS 131072

struct wfentry {
	char *id;
	int version;
	struct workflow *wf;
	jv tasks;		/* canonical task objects, by task index */
	char **spec_text;	/* the same as JSON text, NULL when templated */
	size_t nruns;		/* cached runs of this version */
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
	struct wfentry *wfs;	/* most recently used first */
	size_t nwfs;
	size_t wf_tasks;	/* tasks of the cached versions */
	struct runentry *runs;
	size_t run_tasks;	/* tasks of the cached runs */
	struct enginedb_stats st;
	unsigned long long rng;
	int64_t wake_ms;	/* of the last pass: see enginedb_pass_wakeup() */
	int retrying;		/* the last pass left a task in RETRY */
	enginedb_writer *writer;	/* see enginedb_set_writer() */
	void *writer_arg;
	int quiet_ready;	/* no loom_task_ready (the writer claims) */
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

/* A control request of loom-api (a run_requests row) for this pass. */
struct request {
	char *id;		/* run_requests.id */
	char *kind;		/* retry, rerun, replay */
	char *task;		/* rerun, replay: the task id; else NULL */
	int downstream;		/* rerun: and what is downstream */
	char *dead_letter;	/* replay: dead_letters.id; else NULL */
	char *error;		/* why it was refused; NULL when applied */
	char *result;		/* applied: {"reset":[task ids]} as JSON */
};

/*
 * Every transaction of the engine commits asynchronously (see enginedb.h
 * for why that is safe).  Plans: see DB_GENERIC_PLANS in db.h.
 */
static void
conn_setup(PGconn *conn)
{
	if (conn) {
		db_cmd(conn, NULL, "SET synchronous_commit = off", 0, NULL);
		db_cmd(conn, NULL, DB_GENERIC_PLANS, 0, NULL);
	}
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
	e->run_tasks -= r->rt.ntasks;
	r->w->nruns--;
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
wf_free(struct enginedb *e, struct wfentry *w)
{
	e->nwfs--;
	e->wf_tasks -= w->wf->ntasks;
	for (size_t i = 0; i < w->wf->ntasks; i++)
		free(w->spec_text[i]);
	free(w->spec_text);
	workflow_free(w->wf);
	jv_free(w->tasks);
	free(w->id);
	free(w);
}

static void
wfs_drop_all(struct enginedb *e)
{
	runs_drop_all(e);
	while (e->wfs) {
		struct wfentry *w = e->wfs;

		e->wfs = w->next;
		wf_free(e, w);
	}
}

/*
 * Drops the least recently used versions that no cached run uses while
 * the cache is over its bounds; keep stays (it was just loaded).
 */
static void
wfs_trim(struct enginedb *e, const struct wfentry *keep)
{
	struct wfentry **pp, **victim;

	while (e->nwfs > WF_CACHE_MAX || e->wf_tasks > WF_CACHE_TASKS) {
		victim = NULL;
		for (pp = &e->wfs; *pp; pp = &(*pp)->next)
			if (*pp != keep && (*pp)->nruns == 0)
				victim = pp;	/* the last one: least recent */
		if (victim == NULL)
			return;		/* all in use by live runs */
		struct wfentry *w = *victim;

		*victim = w->next;
		wf_free(e, w);
	}
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
	struct ydoc *doc;
	char *perr = NULL;
	PGresult *r;
	char ver[16];
	const char *p[2] = { id, ver };

	for (struct wfentry **pp = &e->wfs; (w = *pp); pp = &w->next)
		if (w->version == version && strcmp(w->id, id) == 0) {
			*pp = w->next;	/* to the front */
			w->next = e->wfs;
			e->wfs = w;
			return w;
		}
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
	/*
	 * Canonical JSON, validated when applied: read straight into a tree
	 * (no YAML parser, no jv), which also gives each task's part of a
	 * request as text, once per version (dispatch_task_texts()).
	 */
	doc = ydoc_parse_json(PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0,
	    0), &perr);
	PQclear(r);
	if (doc != NULL)
		w->wf = workflow_load_doc(id, doc, &d);
	if (w->wf == NULL || dispatch_task_texts(w->wf, doc, &w->spec_text,
	    &w->tasks) < 0) {
		*err = xasprintf("stored workflow %s version %d does not load: "
		    "%s", id, version, perr ? perr : d.n ? d.v[0].msg :
		    "its tasks do not match");
		free(perr);
		diags_clear(&d);
		if (w->wf)
			workflow_free(w->wf);
		ydoc_free(doc);
		free(w);
		return NULL;
	}
	ydoc_free(doc);
	diags_clear(&d);
	w->id = xstrdup(id);
	w->version = version;
	w->next = e->wfs;
	e->wfs = w;
	e->nwfs++;
	e->wf_tasks += w->wf->ntasks;
	wfs_trim(e, w);
	return w;
}

/* The cached run id, moved to the front (the list is most recent first). */
static struct runentry *
run_find(struct enginedb *e, const char *id)
{
	for (struct runentry **pp = &e->runs; *pp; pp = &(*pp)->next)
		if (strcmp((*pp)->id, id) == 0) {
			struct runentry *r = *pp;

			*pp = r->next;
			r->next = e->runs;
			e->runs = r;
			return r;
		}
	return NULL;
}

/*
 * Makes room for one more cached run of ntasks tasks: the least recently
 * passed go.  A run that another process finished is never seen again
 * here, and a dropped one is only read afresh when it comes back.
 */
static void
runs_trim(struct enginedb *e, size_t ntasks)
{
	struct runentry *last = NULL, *r;
	size_t n = 0, tasks = ntasks;

	if (e->st.cached_runs < RUN_CACHE_MAX &&
	    e->run_tasks + ntasks <= RUN_CACHE_TASKS)
		return;
	/* Keep the most recent ones while they fit with the new one. */
	for (r = e->runs; r; last = r, r = r->next) {
		if (n + 1 >= RUN_CACHE_MAX ||
		    tasks + r->rt.ntasks > RUN_CACHE_TASKS)
			break;
		n++;
		tasks += r->rt.ntasks;
	}
	while ((r = last ? last->next : e->runs) != NULL)
		run_drop(e, r);
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
	"(extract(epoch FROM not_before) * 1000)::bigint, attempt_base " \
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
		t->attempt_base = atoi(PQgetvalue(r, i, 9));
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
		/*
		 * A result the engine has not seen: the task was running.
		 * The claim that made it RUNNING wrote READY -> RUNNING
		 * itself (lib/store/execdb.c), while a cached run may still know
		 * the task as READY (only executors make rows RUNNING): the
		 * state catches up here, without a second event, and the
		 * report takes it on from RUNNING.
		 */
		struct report *rep = &(*reps)[(*nreps)++];

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

#define SQL_PENDING_REQUESTS						\
	"SELECT id, kind, task_id, downstream, dead_letter_id "		\
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
		q[i].task = PQgetisnull(r, row, 2) ? NULL :
		    xstrdup(PQgetvalue(r, row, 2));
		q[i].downstream = PQgetvalue(r, row, 3)[0] == 't';
		q[i].dead_letter = PQgetisnull(r, row, 4) ? NULL :
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
 * Rows a pass writes beyond this many go in further transactions of the
 * same round trip (see write_pass()).
 */
#define PASS_CHUNK 1000

/*
 * One transaction's task rows and events, as array literals: the arrays
 * in the order of the parameters after $1 of task_engine_write (PR_ID..PR_BASE)
 * and of sql_events (PR_EV_TASK..PR_EV_ATT).
 */
enum {
	PR_ID, PR_STATE, PR_ATTEMPT, PR_NB, PR_SKIP, PR_REQ, PR_ETYPE,
	PR_EMSG, PR_BASE,
	PR_EV_TASK, PR_EV_KIND, PR_EV_FROM, PR_EV_TO, PR_EV_ATT,
	PR_N
};

struct passrows {
	struct buf a[PR_N];
	const char *p_up[1 + PR_EV_TASK], *p_ev[1 + PR_N - PR_EV_TASK];
	int nrows, nev;
};

static void
passrows_free(struct passrows *pr)
{
	for (int i = 0; i < PR_N; i++)
		buf_free(&pr->a[i]);
}

/*
 * The changed tasks whose ordinal (ord[i], among the changed ones) is in
 * [lo, hi), and the transitions of those tasks (and of the run itself
 * when run_events), into pr.
 */
static void
passrows_fill(struct passrows *pr, const char *id, const struct runentry *run,
    const struct engine_result *res, const long *ord, const struct change *ch,
    long lo, long hi, int run_events)
{
	const struct workflow *wf = run->w->wf;
	struct buf *a = pr->a;
	char num[32];

	memset(pr, 0, sizeof(*pr));
	for (int i = 0; i < PR_N; i++)
		buf_putc(&a[i], '{');
	for (size_t i = 0; i < wf->ntasks; i++) {
		const struct task_rt *t = &run->rt.tasks[i];

		if (ord[i] < lo || ord[i] >= hi)
			continue;
		pr->nrows++;
		buf_pgarray_elem(&a[PR_ID], wf->tasks[i].id);
		buf_pgarray_elem(&a[PR_STATE], task_state_name(t->state));
		snprintf(num, sizeof(num), "%d", t->attempt);
		buf_pgarray_elem(&a[PR_ATTEMPT], num);
		snprintf(num, sizeof(num), "%d", t->attempt_base);
		buf_pgarray_elem(&a[PR_BASE], num);
		snprintf(num, sizeof(num), "%lld", (long long)t->not_before_ms);
		buf_pgarray_elem(&a[PR_NB], t->state == TASK_RETRY ? num : NULL);
		buf_pgarray_elem(&a[PR_SKIP], skip_text(t->skip));
		buf_pgarray_elem(&a[PR_REQ], ch[i].request);
		buf_pgarray_elem(&a[PR_ETYPE], ch[i].error_type);
		buf_pgarray_elem(&a[PR_EMSG], ch[i].error_message);
	}
	/* Events: one row per transition. */
	for (size_t i = 0; i < res->ntransitions; i++) {
		const struct engine_transition *tr = &res->transitions[i];
		int isrun = tr->task == ENGINE_RUN;

		if (isrun ? !run_events :
		    (ord[tr->task] < lo || ord[tr->task] >= hi))
			continue;
		pr->nev++;
		buf_pgarray_elem(&a[PR_EV_TASK], isrun ? NULL :
		    wf->tasks[tr->task].id);
		buf_pgarray_elem(&a[PR_EV_KIND], isrun ? "run" : "task");
		buf_pgarray_elem(&a[PR_EV_FROM], isrun ?
		    run_state_name((enum run_state)tr->from) :
		    task_state_name((enum task_state)tr->from));
		buf_pgarray_elem(&a[PR_EV_TO], isrun ?
		    run_state_name((enum run_state)tr->to) :
		    task_state_name((enum task_state)tr->to));
		snprintf(num, sizeof(num), "%d",
		    isrun ? 0 : run->rt.tasks[tr->task].attempt);
		buf_pgarray_elem(&a[PR_EV_ATT], isrun ? NULL : num);
	}
	pr->p_up[0] = pr->p_ev[0] = id;
	for (int i = 0; i < PR_N; i++) {
		buf_putc(&a[i], '}');
		if (i < PR_EV_TASK)
			pr->p_up[1 + i] = a[i].p;
		else
			pr->p_ev[1 + i - PR_EV_TASK] = a[i].p;
	}
}

static const char sql_events[] =
    "INSERT INTO events (execution_id, task_id, kind, from_state, "
    "to_state, attempt) SELECT $1, * FROM unnest($2::text[], $3::text[], "
    "$4::text[], $5::text[], $6::int[])";

/*
 * Writes the pass's result and commits, in one pipelined round trip.
 * changed[i] marks tasks to upsert; gen_after is the run's engine_gen once
 * the first transaction has bumped it.  Returns 0 or -1 with *err (the
 * caller rolls back and forgets the run; the first transactions of a
 * chunked pass may have committed).
 *
 * A pass that changes many rows and nothing else (the first pass of a
 * large fan-out, a wave of promotions) commits them PASS_CHUNK at a time,
 * the run row with the first chunk: executors start on the first rows
 * while the server writes the rest, and every state in between is one
 * that a later pass re-derives (a task without its row is PENDING).  Each
 * later transaction locks the run again and checks that no other engine
 * passed it in between (loom_check(), schema/009); if one did, that
 * transaction and the ones after it are not applied, and the caller drops
 * its cached state.  The first transaction marks the run
 * (executions.pass_incomplete, schema/013) and the last clears the mark,
 * so a pass that stopped half way, for that reason or because its writer
 * died, is found again: the next pass reads the run in full and
 * derives the missing rows (EV_RECOVER), and the engines' sweep looks for
 * marked runs (enginedb_due_runs()).
 */
static int
write_pass(struct enginedb *e, const char *id, struct runentry *run,
    const struct engine_result *res, const unsigned char *changed,
    struct change *ch, const struct request *rq, size_t nrq,
    long long gen_after, char **err)
{
	const struct workflow *wf = run->w->wf;
	struct buf dead = BUF_INIT;
	struct buf rs_tasks = BUF_INIT, undead = BUF_INIT, replayed = BUF_INIT,
		   rq_ids = BUF_INIT, rq_errs = BUF_INIT, rq_res = BUF_INIT;
	struct passrows *pr;
	int rc = -1, ndead = 0, dispatch = 0, cancel = 0;
	int nreset = 0, nundead = 0, resumed = 0;
	char dl[32], gen[32];
	struct db_stmt *st;
	const char *p_dead[2], *p_run[6], *p_id[1] = { id };
	const char *p_rs[2], *p_undead[3], *p_rq[3], *p_gen[2] = { id, gen };
	long *ord, nchanged = 0, nchunks;
	size_t nst = 0;

	ord = xcalloc(wf->ntasks + 1, sizeof(long));
	buf_puts(&dead, "{");
	for (size_t i = 0; i < wf->ntasks; i++) {
		ord[i] = changed[i] ? nchanged++ : -1;
		if (changed[i] && ch[i].dead) {
			buf_pgarray_elem(&dead, wf->tasks[i].id);
			ndead++;
		}
	}
	buf_puts(&dead, "}");

	/*
	 * Reset tasks forget their last attempt's result first, so the
	 * upsert below (which keeps what it is not given) starts clean.
	 * Tasks that leave DEAD that way resolve their open dead letters.
	 */
	buf_puts(&rs_tasks, "{");
	buf_puts(&undead, "{");
	for (size_t i = 0; i < res->nactions; i++)
		if (res->actions[i].type == ACT_RESET) {
			buf_pgarray_elem(&rs_tasks,
			    wf->tasks[res->actions[i].task].id);
			nreset++;
		}
	for (size_t i = 0; i < res->ntransitions; i++) {
		const struct engine_transition *tr = &res->transitions[i];

		if (tr->task == ENGINE_RUN) {
			if (tr->to == RUN_RUNNING &&
			    run_state_terminal((enum run_state)tr->from))
				resumed = 1;
		} else if (tr->from == TASK_DEAD && tr->to == TASK_PENDING) {
			buf_pgarray_elem(&undead, wf->tasks[tr->task].id);
			nundead++;
		}
	}
	buf_puts(&rs_tasks, "}");
	buf_puts(&undead, "}");
	buf_puts(&replayed, "{");
	buf_puts(&rq_ids, "{");
	buf_puts(&rq_errs, "{");
	buf_puts(&rq_res, "{");
	for (size_t i = 0; i < nrq; i++) {
		buf_pgarray_elem(&rq_ids, rq[i].id);
		buf_pgarray_elem(&rq_errs, rq[i].error);
		buf_pgarray_elem(&rq_res, rq[i].result);
		if (rq[i].error == NULL && rq[i].dead_letter != NULL)
			buf_pgarray_elem(&replayed, rq[i].dead_letter);
	}
	buf_puts(&replayed, "}");
	buf_puts(&rq_ids, "}");
	buf_puts(&rq_errs, "}");
	buf_puts(&rq_res, "}");

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
		/*
		 * Executors do not report a claim to the engine: a task it
		 * knows as READY may be running on one, so cancelling it
		 * rings loom_cancel too (the executor checks its own rows).
		 */
		for (size_t i = 0; i < res->ntransitions; i++)
			if (res->transitions[i].task != ENGINE_RUN &&
			    res->transitions[i].from == TASK_READY &&
			    res->transitions[i].to == TASK_CANCELLED)
				cancel = 1;
		snprintf(dl, sizeof(dl), "%lld", (long long)run->rt.deadline_ms);
		p_run[0] = id;
		p_run[1] = run_state_name(run->rt.state);
		p_run[2] = finish_msg;
		p_run[3] = run->rt.deadline_ms ? dl : NULL;
		p_run[4] = resumed ? "true" : "false";
	}

	nchunks = 1;
	if (nreset == 0 && nundead == 0 && ndead == 0 && nrq == 0 &&
	    !cancel && !run_state_terminal(run->rt.state) &&
	    nchanged > PASS_CHUNK)
		nchunks = (nchanged + PASS_CHUNK - 1) / PASS_CHUNK;
	p_run[5] = nchunks > 1 ? "true" : "false";
	pr = xcalloc((size_t)nchunks, sizeof(*pr));
	st = xcalloc(16 + 8 * (size_t)nchunks, sizeof(*st));
	snprintf(gen, sizeof(gen), "%lld", gen_after);

	for (long c = 0; c < nchunks; c++) {
		passrows_fill(&pr[c], id, run, res, ord, ch,
		    nchunks == 1 ? 0 : c * PASS_CHUNK,
		    nchunks == 1 ? nchanged : (c + 1) * PASS_CHUNK, c == 0);
		if (c > 0) {
			st[nst++] = (struct db_stmt){ "BEGIN", 0, NULL };
			st[nst++] = (struct db_stmt){ "SELECT loom_check("
			    "count(*) = 1, 'another engine passed the run') "
			    "FROM (SELECT 1 FROM executions WHERE id = $1 AND "
			    "engine_gen = $2::bigint FOR NO KEY UPDATE) r", 2,
			    p_gen };
		}
		if (c == 0 && nreset > 0) {
			p_rs[0] = id;
			p_rs[1] = rs_tasks.p;
			st[nst++] = (struct db_stmt){
			    transition_sql(TR_TASK_RESET_CLEAR), 2, p_rs };
		}
		if (c == 0 && nundead > 0) {
			p_undead[0] = id;
			p_undead[1] = undead.p;
			p_undead[2] = replayed.p;
			st[nst++] = (struct db_stmt){ "UPDATE dead_letters SET "
			    "resolved_at = now(), resolution = CASE WHEN "
			    "id = ANY($3::bigint[]) THEN 'replayed' "
			    "ELSE 'retried' END "
			    "WHERE execution_id = $1 AND "
			    "task_id = ANY($2::text[]) "
			    "AND resolved_at IS NULL", 3, p_undead };
		}
		if (pr[c].nrows > 0)
			st[nst++] = (struct db_stmt){
			    transition_sql(TR_TASK_ENGINE_WRITE),
			    1 + PR_EV_TASK, pr[c].p_up };
		if (c == 0 && ndead > 0) {
			p_dead[0] = id;
			p_dead[1] = dead.p;
			st[nst++] = (struct db_stmt){ "INSERT INTO dead_letters "
			    "(execution_id, task_id, attempts, request, "
			    "error_type, error_message) SELECT execution_id, "
			    "task_id, attempt, request, error_type, "
			    "error_message FROM run_tasks WHERE "
			    "execution_id = $1 AND task_id = ANY($2::text[])",
			    2, p_dead };
		}
		if (pr[c].nev > 0)
			st[nst++] = (struct db_stmt){ sql_events,
			    1 + PR_N - PR_EV_TASK, pr[c].p_ev };
		if (c == 0) {
			/* The run row (see run_engine_write). */
			st[nst++] = (struct db_stmt){
			    transition_sql(TR_RUN_ENGINE_WRITE), 6, p_run };
		}
		if (c > 0 && c == nchunks - 1)
			/* The whole pass is in: the run is marked no more. */
			st[nst++] = (struct db_stmt){ "UPDATE executions SET "
			    "pass_incomplete = false WHERE id = $1", 1, p_id };
		if (c == 0 && nrq > 0) {
			p_rq[0] = rq_ids.p;
			p_rq[1] = rq_errs.p;
			p_rq[2] = rq_res.p;
			st[nst++] = (struct db_stmt){ "UPDATE run_requests q SET "
			    "done_at = now(), error = r.err, "
			    "result = r.res::jsonb "
			    "FROM unnest($1::bigint[], $2::text[], $3::text[]) "
			    "AS r(id, err, res) WHERE q.id = r.id", 3, p_rq };
		}
		if (dispatch && !e->quiet_ready)
			st[nst++] = (struct db_stmt){
			    "SELECT pg_notify('loom_task_ready', $1)", 1,
			    p_id };
		if (cancel)
			st[nst++] = (struct db_stmt){
			    "SELECT pg_notify('loom_cancel', $1)", 1, p_id };
		st[nst++] = (struct db_stmt){
		    "SELECT pg_notify('loom_event', $1)", 1, p_id };
		st[nst++] = (struct db_stmt){ "COMMIT", 0, NULL };
	}
	/* Everything, COMMITs included, in one round trip. */
	if (e->writer)
		rc = e->writer(e->writer_arg, id, st, nst, err);
	else
		rc = db_pipeline(e->conn, err, st, nst, NULL);
	for (long c = 0; c < nchunks; c++)
		passrows_free(&pr[c]);
	free(pr);
	free(st);
	free(ord);
	buf_free(&dead);
	buf_free(&rs_tasks);
	buf_free(&undead);
	buf_free(&replayed);
	buf_free(&rq_ids);
	buf_free(&rq_errs);
	buf_free(&rq_res);
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

/*
 * Turns control request q into an EV_RESET of the run (see engine.h) and
 * applies it, or sets q->error to why not.  retry re-runs every failed
 * task of a FAILED or CANCELLED run; rerun one task (and, asked, what is
 * downstream); replay a DEAD task.
 */
static void
apply_request(struct enginedb *e, struct runentry *run, struct request *q,
    int64_t now_ms, struct engine_result *res)
{
	const struct workflow *wf = run->w->wf;
	struct run_rt *rt = &run->rt;
	size_t *tasks = xcalloc(rt->ntasks + 1, sizeof(*tasks)), n = 0;
	size_t first = res->nactions;
	struct engine_event ev;
	long idx = -1;
	jv reset;

	if (strcmp(q->kind, "retry") == 0) {
		if (rt->state != RUN_FAILED && rt->state != RUN_CANCELLED)
			q->error = xasprintf("the execution is %s; only a "
			    "FAILED or CANCELLED one can be retried",
			    run_state_name(rt->state));
		else if ((n = engine_failed_tasks(rt, tasks)) == 0)
			q->error = xstrdup("no task of the execution failed");
	} else if (strcmp(q->kind, "rerun") != 0 &&
	    strcmp(q->kind, "replay") != 0)
		q->error = xasprintf("unknown request '%s'", q->kind);
	else if (q->task == NULL ||
	    (idx = workflow_task_index(wf, q->task)) < 0)
		q->error = xasprintf("no task '%s' in workflow %s version %d",
		    q->task ? q->task : "", run->w->id, run->w->version);
	else if (strcmp(q->kind, "replay") == 0 &&
	    rt->tasks[idx].state != TASK_DEAD)
		q->error = xasprintf("task '%s' is %s, not DEAD: there is "
		    "nothing to replay", q->task,
		    task_state_name(rt->tasks[idx].state));
	else
		tasks[n++] = (size_t)idx;
	if (q->error == NULL) {
		memset(&ev, 0, sizeof(ev));
		ev.type = EV_RESET;
		ev.tasks = tasks;
		ev.ntasks = n;
		ev.downstream = q->downstream && strcmp(q->kind, "rerun") == 0;
		ev.output = jv_null();
		ev.now_ms = now_ms;
		ev.rand01 = rand01(e);
		q->error = engine_reset_refusal(wf, rt, &ev);
		if (q->error == NULL &&
		    engine_step(wf, rt, e->jq, &ev, res) < 0)
			q->error = xstrdup("the engine refused the request");
		e->st.events++;
	}
	free(tasks);
	if (q->error != NULL) {
		log_info("request %s (%s%s%s) refused: %s", q->id, q->kind,
		    q->task ? " " : "", q->task ? q->task : "", q->error);
		return;
	}
	reset = jv_array();
	for (size_t i = first; i < res->nactions; i++)
		if (res->actions[i].type == ACT_RESET)
			reset = jv_array_append(reset,
			    jv_string(wf->tasks[res->actions[i].task].id));
	reset = jv_dump_string(jv_object_set(jv_object(), jv_string("reset"),
	    reset), 0);
	q->result = xstrdup(jv_string_value(reset));
	jv_free(reset);
	log_info("request %s (%s%s%s) applied: %s", q->id, q->kind,
	    q->task ? " " : "", q->task ? q->task : "", q->result);
}

/*
 * When run needs its next pass (its deadline or its earliest retry), for
 * enginedb_pass_wakeup(); also after a pass with nothing to write, since
 * another process may have made the retry that this one now finds.  NULL
 * (a pass that failed or found no run): none.
 */
static void
note_wakeup(struct enginedb *e, const struct runentry *run)
{
	e->wake_ms = 0;
	e->retrying = 0;
	if (run == NULL || run_state_terminal(run->rt.state))
		return;
	e->wake_ms = run->rt.deadline_ms;
	for (size_t i = 0; i < run->rt.ntasks; i++)
		if (run->rt.tasks[i].state == TASK_RETRY) {
			e->retrying = 1;
			if (e->wake_ms == 0 ||
			    run->rt.tasks[i].not_before_ms < e->wake_ms)
				e->wake_ms = run->rt.tasks[i].not_before_ms;
		}
}

/*
 * The second half of a pass, in the transaction the first half opened:
 * feeds the reports, the control requests and the clock to the engine
 * core for run (its cached state, current as of engine_gen gen, or read
 * in full just now) and
 * writes the outcome (write_pass()).  Returns ENGINEDB_DID_WORK,
 * ENGINEDB_IDLE (nothing to write: the transaction is rolled back), or -1
 * with *err after the run was dropped from the cache and the transaction
 * rolled back.
 */
static int
pass_apply(struct enginedb *e, const char *id, struct runentry *run,
    long long gen, int full, int cancel_requested, struct report *reps,
    size_t nreps, struct request *rq, size_t nrq, int64_t now_ms, char **err)
{
	struct engine_result res;
	struct engine_event ev;
	unsigned char *changed = NULL;
	struct change *ch = NULL;
	char **reqtext = NULL;
	size_t nt = 0;
	int rc;

	engine_result_init(&res);
	memset(&ev, 0, sizeof(ev));
	ev.output = jv_null();
	ev.now_ms = now_ms;
	if (run->rt.state == RUN_PENDING) {
		ev.type = EV_RUN_START;
		step(e, run, &ev, &res);
	} else if (full && run->rt.state == RUN_RUNNING) {
		/*
		 * Read from its rows: what a pass written in part did not
		 * store (a task without its row reads as PENDING) is
		 * derived again.  A run stored whole gives nothing here.
		 */
		ev.type = EV_RECOVER;
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
	/* After the reports: a request is judged on the latest state. */
	for (size_t i = 0; i < nrq; i++)
		apply_request(e, run, &rq[i], now_ms, &res);
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

	if (nreps == 0 && nrq == 0 && res.ntransitions == 0 &&
	    res.nactions == 0) {
		/* Nothing happened: leave the row (and engine_gen) alone. */
		PQclear(PQexec(e->conn, "ROLLBACK"));
		note_wakeup(e, run);
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

		switch (a->type) {
		case ACT_DISPATCH: {
			char *text, *rerr = NULL;

			text = dispatch_request_text(id, run->w->wf, &run->rt,
			    e->jq, a, jv_array_get(jv_copy(run->w->tasks),
			    (int)a->task), run->w->spec_text[a->task], &rerr);
			if (text == NULL) {
				memset(&ev, 0, sizeof(ev));
				ev.type = EV_TASK_FAILED;
				ev.task = a->task;
				ev.error = ERR_VALIDATION;
				ev.message = rerr;
				ev.output = jv_null();
				ev.now_ms = now_ms;
				step(e, run, &ev, &res);
				free(rerr);
				changed[res.actions[i].task] = 1;
				break;
			}
			free(reqtext[a->task]);
			reqtext[a->task] = text;
			ch[a->task].request = reqtext[a->task];
			break;
		}
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
	if (write_pass(e, id, run, &res, changed, ch, rq, nrq, gen + 1,
	    err) < 0)
		goto fail_drop;
	run->gen = gen + 1;
	note_wakeup(e, run);
	if (run_state_terminal(run->rt.state)) {
		run_drop(e, run);
		/* Its version may be the one over the bounds: once the
		 * last run of a huge workflow ends, it goes now, not at
		 * the next version loaded. */
		wfs_trim(e, NULL);
	}
	rc = ENGINEDB_DID_WORK;
	goto out;

fail_drop:
	/* The in-memory state went ahead of the database: forget it. */
	run_drop(e, run);
	PQclear(PQexec(e->conn, "ROLLBACK"));
	rc = -1;
out:
	for (size_t i = 0; reqtext && i < nt; i++)
		free(reqtext[i]);
	free(reqtext);
	free(changed);
	free(ch);
	engine_result_clear(&res);
	return rc;
}

/* The first round trip of a pass; see enginedb_pass_stmts(). */
#define PASS_LOCK_RUN "SELECT workflow_id, workflow_version, status, "	\
	"params::text, cancel_requested, "					\
	"(extract(epoch FROM deadline_at) * 1000)::bigint, engine_gen, "	\
	"(extract(epoch FROM started_at) * 1000)::bigint, pass_incomplete "	\
	"FROM executions WHERE id = $1 FOR NO KEY UPDATE SKIP LOCKED"

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
		note_wakeup(e, NULL);
		return -1;
	}
	return enginedb_pass_read(e, id, rs, now_ms, err);
}

int
enginedb_pass_read(struct enginedb *e, const char *id, PGresult **rs,
    int64_t now_ms, char **err)
{
	const char *p[1] = { id };
	struct runentry *run;
	struct report *reps = NULL;
	size_t nreps = 0, nrq = 0;
	struct request *rq = NULL;
	PGresult *r = NULL, *unsettled = NULL;
	enum run_state status;
	long long gen;
	int rc = -1, full = 0, was_terminal;

	note_wakeup(e, NULL);
	PQclear(rs[0]);
	r = rs[1];
	unsettled = rs[2];
	rq = load_requests(rs[3], &nrq);
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
		requests_free(rq, nrq);
		return rc;
	}
	e->st.passes++;
	run_state_parse(PQgetvalue(r, 0, 2), &status);
	gen = strtoll(PQgetvalue(r, 0, 6), NULL, 10);
	run = run_find(e, id);
	was_terminal = run_state_terminal(status);
	if (was_terminal) {
		/*
		 * Late reports for a finished run: acknowledge them.  With
		 * control requests pending, go on with the whole run read
		 * afresh (a finished run is not cached).
		 */
		if (run)
			run_drop(e, run);
		run = NULL;
		PQclear(unsettled);
		unsettled = NULL;
		if (db_cmd(e->conn, err, transition_sql(TR_TASK_SETTLE), 1,
		    p) < 0)
			goto fail;
		if (nrq == 0) {
			PQclear(r);
			r = NULL;
			if (db_cmd(e->conn, err, "COMMIT", 0, NULL) < 0)
				goto fail;
			requests_free(rq, nrq);
			return ENGINEDB_IDLE;
		}
	}
	/*
	 * A pass written in part (see write_pass()) leaves rows missing that
	 * no cached state knows of: read the run in full, whatever its
	 * engine_gen, and pass_apply() derives them again.
	 */
	if (run == NULL || run->gen != gen || PQgetvalue(r, 0, 8)[0] == 't') {
		struct wfentry *w = wf_get(e, PQgetvalue(r, 0, 0),
		    atoi(PQgetvalue(r, 0, 1)), err);
		char *perr = NULL;

		if (w == NULL)
			goto fail;
		if (run)
			run_drop(e, run);
		runs_trim(e, w->wf->ntasks);
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
		e->run_tasks += run->rt.ntasks;
		w->nruns++;
		full = 1;
	}
	/* A finished run's cancel request is spent (see write_pass). */
	int cancel_requested = PQgetvalue(r, 0, 4)[0] == 't' && !was_terminal;
	PQclear(r);
	r = NULL;

	if (load_tasks(e, run, id, full, unsettled, &reps, &nreps, err) < 0) {
		unsettled = NULL;
		goto fail_drop;
	}
	unsettled = NULL;

	rc = pass_apply(e, id, run, gen, full, cancel_requested, reps, nreps,
	    rq, nrq, now_ms, err);
	reports_free(reps, nreps);
	requests_free(rq, nrq);
	return rc;

fail_drop:
	/* The in-memory state went ahead of the database: forget it. */
	run_drop(e, run);
fail:
	PQclear(r);
	PQclear(unsettled);
	PQclear(PQexec(e->conn, "ROLLBACK"));
	reports_free(reps, nreps);
	requests_free(rq, nrq);
	return -1;
}

int64_t
enginedb_pass_wakeup(const struct enginedb *e)
{
	return e->wake_ms;
}

int
enginedb_pass_retrying(const struct enginedb *e)
{
	return e->retrying;
}

void
enginedb_set_writer(struct enginedb *e, enginedb_writer *fn, void *arg,
    int quiet_ready)
{
	e->writer = fn;
	e->writer_arg = arg;
	e->quiet_ready = fn != NULL && quiet_ready;
}

int
enginedb_warm(struct enginedb *e, const char *workflow_id, int version,
    char **err)
{
	if (e->conn == NULL) {
		*err = xstrdup("no database connection");
		return -1;
	}
	return wf_get(e, workflow_id, version, err) == NULL ? -1 : 0;
}

void
enginedb_forget(struct enginedb *e, const char *id)
{
	struct runentry *run = run_find(e, id);

	if (run)
		run_drop(e, run);
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
	    "WHERE state = 'RETRY' AND not_before <= now() "
	    "UNION SELECT DISTINCT execution_id FROM run_requests "
	    "WHERE done_at IS NULL "
	    "UNION SELECT id FROM executions WHERE status = 'RUNNING' "
	    "AND pass_incomplete", 0, NULL);
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
