/*
 * enginedb_write: the last step of a pass (enginedb.h, step 4): what the
 * engine core decided, as the statements of one pipelined round trip,
 * the rows of a large pass in chunks of their own transactions.  The
 * statements that move a task or the run are transition.c's
 * (task_reset_clear, task_engine_write, run_engine_write); the
 * parameters' arrays are built here and live until the round trip is
 * sent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/engine.h"
#include "core/state.h"
#include "core/workflow.h"
#include "core/xalloc.h"
#include "db.h"
#include "enginedb.h"
#include "enginedb_int.h"
#include "transition.h"

static const char *
skip_text(enum skip_reason r)
{
	return r == SKIP_NONE ? NULL : skip_reason_name(r);
}

/*
 * Rows a pass writes beyond this many go in further transactions of the
 * same round trip (see edb_write_pass()).
 */
#define PASS_CHUNK 1000

/*
 * One transaction's task rows and events, as array literals: the arrays
 * in the order of the parameters of task_engine_write (PR_X..PR_BASE)
 * and of sql_events (PR_EV_X..PR_EV_ATT).  PR_X and PR_EV_X name each
 * row's run: a transaction may write the rows of several runs.
 */
enum {
	PR_X,
	PR_ID,
	PR_STATE,
	PR_ATTEMPT,
	PR_NB,
	PR_SKIP,
	PR_REQ,
	PR_ETYPE,
	PR_EMSG,
	PR_BASE,
	PR_EV_X,
	PR_EV_TASK,
	PR_EV_KIND,
	PR_EV_FROM,
	PR_EV_TO,
	PR_EV_ATT,
	PR_N
};

struct passrows {
	struct buf a[PR_N];
	const char *p_up[PR_EV_X], *p_ev[PR_N - PR_EV_X];
	int nrows, nev;
};

static void
passrows_free(struct passrows *pr)
{
	for (int i = 0; i < PR_N; i++)
		buf_free(&pr->a[i]);
}

static void
passrows_open(struct passrows *pr)
{
	memset(pr, 0, sizeof(*pr));
	for (int i = 0; i < PR_N; i++)
		buf_putc(&pr->a[i], '{');
}

/* Ends the arrays; pr->p_up and pr->p_ev point into them. */
static void
passrows_close(struct passrows *pr)
{
	for (int i = 0; i < PR_N; i++) {
		buf_putc(&pr->a[i], '}');
		if (i < PR_EV_X)
			pr->p_up[i] = pr->a[i].p;
		else
			pr->p_ev[i - PR_EV_X] = pr->a[i].p;
	}
}

/*
 * Adds to pr the changed tasks of run id whose ordinal (ord[i], among the
 * changed ones) is in [lo, hi), and the transitions of those tasks (and
 * of the run itself when run_events).
 */
static void
passrows_add(struct passrows *pr, const char *id, const struct runentry *run,
    const struct engine_result *res, const long *ord, const struct change *ch,
    long lo, long hi, int run_events)
{
	const struct workflow *wf = run->w->wf;
	struct buf *a = pr->a;
	char num[32];

	for (size_t i = 0; i < wf->ntasks; i++) {
		const struct task_rt *t = &run->rt.tasks[i];

		if (ord[i] < lo || ord[i] >= hi)
			continue;
		pr->nrows++;
		buf_pgarray_elem(&a[PR_X], id);
		buf_pgarray_elem(&a[PR_ID], wf->tasks[i].id);
		buf_pgarray_elem(&a[PR_STATE], task_state_name(t->state));
		snprintf(num, sizeof(num), "%d", t->attempt);
		buf_pgarray_elem(&a[PR_ATTEMPT], num);
		snprintf(num, sizeof(num), "%d", t->attempt_base);
		buf_pgarray_elem(&a[PR_BASE], num);
		snprintf(num, sizeof(num), "%lld", (long long)t->not_before_ms);
		buf_pgarray_elem(
		    &a[PR_NB], t->state == TASK_RETRY ? num : NULL);
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
		buf_pgarray_elem(&a[PR_EV_X], id);
		buf_pgarray_elem(
		    &a[PR_EV_TASK], isrun ? NULL : wf->tasks[tr->task].id);
		buf_pgarray_elem(&a[PR_EV_KIND], isrun ? "run" : "task");
		buf_pgarray_elem(&a[PR_EV_FROM],
		    isrun ? run_state_name((enum run_state)tr->from) :
			    task_state_name((enum task_state)tr->from));
		buf_pgarray_elem(&a[PR_EV_TO],
		    isrun ? run_state_name((enum run_state)tr->to) :
			    task_state_name((enum task_state)tr->to));
		snprintf(num, sizeof(num), "%d",
		    isrun ? 0 : run->rt.tasks[tr->task].attempt);
		buf_pgarray_elem(&a[PR_EV_ATT], isrun ? NULL : num);
	}
}

static const char sql_events[] =
    "INSERT INTO events (execution_id, task_id, kind, from_state, "
    "to_state, attempt) SELECT * FROM unnest($1::text[], $2::text[], "
    "$3::text[], $4::text[], $5::text[], $6::int[])";

/*
 * The run rows of a transaction (run_engine_write's parameters, arrays
 * of one element a run).
 */
#define RUNROW_N 7 /* run_engine_write's arrays */

struct runrows {
	struct buf a[RUNROW_N];
	const char *p[RUNROW_N];
	int n;
};

static void
runrows_open(struct runrows *rr)
{
	memset(rr, 0, sizeof(*rr));
	for (int i = 0; i < RUNROW_N; i++)
		buf_putc(&rr->a[i], '{');
}

/* v: run_engine_write's values for one run (NULL for SQL NULL). */
static void
runrows_add(struct runrows *rr, const char *const *v)
{
	for (int i = 0; i < RUNROW_N; i++)
		buf_pgarray_elem(&rr->a[i], v[i]);
	rr->n++;
}

static void
runrows_close(struct runrows *rr)
{
	for (int i = 0; i < RUNROW_N; i++) {
		buf_putc(&rr->a[i], '}');
		rr->p[i] = rr->a[i].p;
	}
}

static void
runrows_free(struct runrows *rr)
{
	for (int i = 0; i < RUNROW_N; i++)
		buf_free(&rr->a[i]);
}

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
/*
 * What edb_write_pass() builds: the statements of its round trip and the
 * parameters they point into, which live until it is sent (pw_free()).
 */
struct passwrite {
	const char *id;
	struct buf dead;
	struct buf rs_tasks, undead, replayed, rq_ids, rq_errs, rq_res;
	int ndead, dispatch, cancel;
	int nreset, nundead, resumed;
	size_t nrq;
	char dl[32], started[32], gen[32];
	const char *p_dead[2], *p_run[RUNROW_N], *p_id[1], *p_wf[2];
	int admit, pause; /* the run ended: see pw_run_ended() */
	const char *p_rs[2], *p_undead[3], *p_rq[3], *p_gen[2];
	long *ord, nchanged, nchunks;
	struct passrows *pr;
	struct runrows rr; /* p_run as run_engine_write's arrays */
	struct db_stmt *st;
	size_t nst;
};

static void
pw_init(struct passwrite *pw, const char *id)
{
	memset(pw, 0, sizeof(*pw));
	pw->id = id;
	pw->p_id[0] = id;
	pw->p_gen[0] = id;
	pw->p_gen[1] = pw->gen;
}

static void
pw_free(struct passwrite *pw)
{
	for (long c = 0; c < pw->nchunks; c++)
		passrows_free(&pw->pr[c]);
	free(pw->pr);
	runrows_free(&pw->rr);
	free(pw->st);
	free(pw->ord);
	buf_free(&pw->dead);
	buf_free(&pw->rs_tasks);
	buf_free(&pw->undead);
	buf_free(&pw->replayed);
	buf_free(&pw->rq_ids);
	buf_free(&pw->rq_errs);
	buf_free(&pw->rq_res);
}

/* Each changed task's ordinal among them (ord), and those gone DEAD. */
static void
pw_changed(struct passwrite *pw, const struct workflow *wf,
    const unsigned char *changed, const struct change *ch)
{
	pw->ord = xcalloc(wf->ntasks + 1, sizeof(long));
	buf_puts(&pw->dead, "{");
	for (size_t i = 0; i < wf->ntasks; i++) {
		pw->ord[i] = changed[i] ? pw->nchanged++ : -1;
		if (changed[i] && ch[i].dead) {
			buf_pgarray_elem(&pw->dead, wf->tasks[i].id);
			pw->ndead++;
		}
	}
	buf_puts(&pw->dead, "}");
}

/*
 * Reset tasks forget their last attempt's result first, so the
 * upsert of the rows (which keeps what it is not given) starts clean.
 * Tasks that leave DEAD that way resolve their open dead letters.
 */
static void
pw_resets(struct passwrite *pw, const struct workflow *wf,
    const struct engine_result *res)
{
	buf_puts(&pw->rs_tasks, "{");
	buf_puts(&pw->undead, "{");
	for (size_t i = 0; i < res->nactions; i++)
		if (res->actions[i].type == ACT_RESET) {
			buf_pgarray_elem(
			    &pw->rs_tasks, wf->tasks[res->actions[i].task].id);
			pw->nreset++;
		}
	for (size_t i = 0; i < res->ntransitions; i++) {
		const struct engine_transition *tr = &res->transitions[i];

		if (tr->task == ENGINE_RUN) {
			if (tr->to == RUN_RUNNING &&
			    run_state_terminal((enum run_state)tr->from))
				pw->resumed = 1;
		} else if (tr->from == TASK_DEAD && tr->to == TASK_PENDING) {
			buf_pgarray_elem(&pw->undead, wf->tasks[tr->task].id);
			pw->nundead++;
		}
	}
	buf_puts(&pw->rs_tasks, "}");
	buf_puts(&pw->undead, "}");
}

/* The control requests, done: refused or applied, and what they replayed. */
static void
pw_requests(struct passwrite *pw, const struct request *rq, size_t nrq)
{
	pw->nrq = nrq;
	buf_puts(&pw->replayed, "{");
	buf_puts(&pw->rq_ids, "{");
	buf_puts(&pw->rq_errs, "{");
	buf_puts(&pw->rq_res, "{");
	for (size_t i = 0; i < nrq; i++) {
		buf_pgarray_elem(&pw->rq_ids, rq[i].id);
		buf_pgarray_elem(&pw->rq_errs, rq[i].error);
		buf_pgarray_elem(&pw->rq_res, rq[i].result);
		if (rq[i].error == NULL && rq[i].dead_letter != NULL)
			buf_pgarray_elem(&pw->replayed, rq[i].dead_letter);
	}
	buf_puts(&pw->replayed, "}");
	buf_puts(&pw->rq_ids, "}");
	buf_puts(&pw->rq_errs, "}");
	buf_puts(&pw->rq_res, "}");
}

/* The doorbells to ring, and the run row's parameters (but $6). */
static void
pw_run_row(struct passwrite *pw, const struct runentry *run,
    const struct engine_result *res)
{
	const char *finish_msg = NULL;

	for (size_t i = 0; i < res->nactions; i++) {
		const struct engine_action *a = &res->actions[i];

		if (a->type == ACT_DISPATCH)
			pw->dispatch = 1;
		else if (a->type == ACT_CANCEL_TASK)
			pw->cancel = 1;
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
			pw->cancel = 1;
	snprintf(
	    pw->dl, sizeof(pw->dl), "%lld", (long long)run->rt.deadline_ms);
	pw->p_run[0] = pw->id;
	pw->p_run[1] = run_state_name(run->rt.state);
	pw->p_run[2] = finish_msg;
	pw->p_run[3] = run->rt.deadline_ms ? pw->dl : NULL;
	pw->p_run[4] = pw->resumed ? "true" : "false";
	snprintf(pw->started, sizeof(pw->started), "%lld",
	    (long long)run->rt.started_ms);
	pw->p_run[6] = run->rt.started_ms > 0 ? pw->started : NULL;
}

/* In how many transactions the rows go, and room for the statements. */
static void
pw_chunks(struct passwrite *pw, const struct runentry *run, long long gen_after)
{
	pw->nchunks = 1;
	if (pw->nreset == 0 && pw->nundead == 0 && pw->ndead == 0 &&
	    pw->nrq == 0 && !pw->cancel && !run_state_terminal(run->rt.state) &&
	    pw->nchanged > PASS_CHUNK)
		pw->nchunks = (pw->nchanged + PASS_CHUNK - 1) / PASS_CHUNK;
	pw->p_run[5] = pw->nchunks > 1 ? "true" : "false";
	pw->pr = xcalloc((size_t)pw->nchunks, sizeof(*pw->pr));
	pw->st = xcalloc(20 + 8 * (size_t)pw->nchunks, sizeof(*pw->st));
	snprintf(pw->gen, sizeof(pw->gen), "%lld", gen_after);
}

/*
 * Chunk c's opening: a later chunk locks the run again and checks that
 * no other engine passed it; the first clears the reset tasks and
 * resolves the dead letters of tasks that left DEAD.
 */
static void
pw_chunk_open(struct passwrite *pw, long c)
{
	struct db_stmt *st = pw->st;

	if (c > 0) {
		st[pw->nst++] = (struct db_stmt){ "BEGIN", 0, NULL };
		st[pw->nst++] = (struct db_stmt){
			"SELECT loom_check("
			"count(*) = 1, 'another engine passed the run') "
			"FROM (SELECT 1 FROM executions WHERE id = $1 AND "
			"engine_gen = $2::bigint FOR NO KEY UPDATE) r",
			2, pw->p_gen
		};
	}
	if (c == 0 && pw->nreset > 0) {
		pw->p_rs[0] = pw->id;
		pw->p_rs[1] = pw->rs_tasks.p;
		st[pw->nst++] =
		    (struct db_stmt){ transition_sql(TR_TASK_RESET_CLEAR), 2,
			    pw->p_rs };
	}
	if (c == 0 && pw->nundead > 0) {
		pw->p_undead[0] = pw->id;
		pw->p_undead[1] = pw->undead.p;
		pw->p_undead[2] = pw->replayed.p;
		st[pw->nst++] = (struct db_stmt){
			"UPDATE dead_letters SET "
			"resolved_at = now(), resolution = CASE WHEN "
			"id = ANY($3::bigint[]) THEN 'replayed' "
			"ELSE 'retried' END "
			"WHERE execution_id = $1 AND "
			"task_id = ANY($2::text[]) "
			"AND resolved_at IS NULL",
			3, pw->p_undead
		};
	}
}

/* Chunk c's rows, (the first chunk) new dead letters, and its events. */
static void
pw_chunk_rows(struct passwrite *pw, long c)
{
	struct db_stmt *st = pw->st;
	struct passrows *pr = pw->pr;

	if (pr[c].nrows > 0)
		st[pw->nst++] =
		    (struct db_stmt){ transition_sql(TR_TASK_ENGINE_WRITE),
			    PR_EV_X, pr[c].p_up };
	if (c == 0 && pw->ndead > 0) {
		pw->p_dead[0] = pw->id;
		pw->p_dead[1] = pw->dead.p;
		st[pw->nst++] = (struct db_stmt){
			"INSERT INTO dead_letters "
			"(execution_id, task_id, attempts, request, "
			"error_type, error_message) SELECT execution_id, "
			"task_id, attempt, request, error_type, "
			"error_message FROM run_tasks WHERE "
			"execution_id = $1 AND task_id = ANY($2::text[])",
			2, pw->p_dead
		};
	}
	if (pr[c].nev > 0)
		st[pw->nst++] =
		    (struct db_stmt){ sql_events, PR_N - PR_EV_X, pr[c].p_ev };
}

/*
 * A run that ended frees its slot: under a concurrency limit, the queued
 * runs of its workflow take the free slots (lock the workflow's row, then
 * run_admit, which skips queued rows another pass holds: see runstart.c
 * for the lock order).  A FAILED run of a workflow with pauseOnFailure
 * pauses it; the schedulers hear of it on loom_sched.
 */
static void
pw_run_ended(struct passwrite *pw)
{
	struct db_stmt *st = pw->st;

	if (pw->admit) {
		st[pw->nst++] = (struct db_stmt){ "SELECT 1 FROM workflows "
						  "WHERE id = $1 FOR NO KEY "
						  "UPDATE",
			1, pw->p_wf };
		st[pw->nst++] = (struct db_stmt){ transition_sql(TR_RUN_ADMIT),
			1, pw->p_wf };
	}
	if (pw->pause)
		st[pw->nst++] = (struct db_stmt){
			"WITH u AS (UPDATE workflows SET paused = true, "
			"updated_at = now() WHERE id = $1 AND NOT paused AND "
			"deleted_at IS NULL RETURNING id), "
			"e AS (INSERT INTO events (kind, data) SELECT "
			"'workflow', jsonb_build_object('workflow', id, "
			"'action', 'paused', 'reason', 'pauseOnFailure', "
			"'execution', $2::text) FROM u RETURNING 1) "
			"SELECT pg_notify('loom_event', 'workflow:' || $1), "
			"pg_notify('loom_sched', $1) FROM e",
			2, pw->p_wf
		};
}

/*
 * Chunk c's run: the first writes the run row and marks the requests
 * done, the last of several clears the mark; then the doorbells and
 * COMMIT.
 */
static void
pw_chunk_close(struct passwrite *pw, const struct enginedb *e, long c)
{
	struct db_stmt *st = pw->st;

	if (c == 0) {
		/* The run row (see run_engine_write). */
		runrows_open(&pw->rr);
		runrows_add(&pw->rr, pw->p_run);
		runrows_close(&pw->rr);
		st[pw->nst++] =
		    (struct db_stmt){ transition_sql(TR_RUN_ENGINE_WRITE),
			    RUNROW_N, pw->rr.p };
	}
	if (c > 0 && c == pw->nchunks - 1)
		/* The whole pass is in: the run is marked no more. */
		st[pw->nst++] =
		    (struct db_stmt){ "UPDATE executions SET "
				      "pass_incomplete = false WHERE id = $1",
			    1, pw->p_id };
	if (c == 0 && pw->nrq > 0) {
		pw->p_rq[0] = pw->rq_ids.p;
		pw->p_rq[1] = pw->rq_errs.p;
		pw->p_rq[2] = pw->rq_res.p;
		st[pw->nst++] = (struct db_stmt){
			"UPDATE run_requests q SET "
			"done_at = now(), error = r.err, "
			"result = r.res::jsonb "
			"FROM unnest($1::bigint[], $2::text[], $3::text[]) "
			"AS r(id, err, res) WHERE q.id = r.id",
			3, pw->p_rq
		};
	}
	if (c == pw->nchunks - 1)
		pw_run_ended(pw);
	if (pw->dispatch && !e->quiet_ready)
		st[pw->nst++] =
		    (struct db_stmt){ "SELECT pg_notify('loom_task_ready', $1)",
			    1, pw->p_id };
	if (pw->cancel)
		st[pw->nst++] =
		    (struct db_stmt){ "SELECT pg_notify('loom_cancel', $1)", 1,
			    pw->p_id };
	st[pw->nst++] = (struct db_stmt){ "SELECT pg_notify('loom_event', $1)",
		1, pw->p_id };
	st[pw->nst++] = (struct db_stmt){ "COMMIT", 0, NULL };
}

/* Whether the pass whose outcome is res ended its run. */
static int
pass_ended_run(const struct runentry *run, const struct engine_result *res)
{
	if (!run_state_terminal(run->rt.state))
		return 0;
	for (size_t i = 0; i < res->ntransitions; i++) {
		const struct engine_transition *tr = &res->transitions[i];

		if (tr->task == ENGINE_RUN &&
		    run_state_terminal((enum run_state)tr->to) &&
		    !run_state_terminal((enum run_state)tr->from))
			return 1;
	}
	return 0;
}

/* A pass ended run id: says so (enginedb_set_run_end()). */
static void
tell_run_end(struct enginedb *e, const char *id, const struct runentry *run)
{
	struct enginedb_run_end re;
	struct timespec ts;

	if (e->run_end == NULL)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	re.execution_id = id;
	re.workflow_id = run->w->wf->id;
	re.version = run->w->version;
	re.status = run_state_name(run->rt.state);
	re.ended_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	re.started_ms =
	    run->rt.started_ms > 0 ? run->rt.started_ms : re.ended_ms;
	re.ntasks = run->rt.ntasks;
	re.nbad = run->rt.nbad;
	e->run_end(e->run_end_arg, &re);
}

int
edb_write_pass(struct enginedb *e, const char *id, struct runentry *run,
    const struct engine_result *res, const unsigned char *changed,
    struct change *ch, const struct request *rq, size_t nrq,
    long long gen_after, char **err)
{
	struct passwrite pw;
	long n;
	int rc;

	pw_init(&pw, id);
	pw_changed(&pw, run->w->wf, changed, ch);
	pw_resets(&pw, run->w->wf, res);
	pw_requests(&pw, rq, nrq);
	pw_run_row(&pw, run, res);
	if (run_state_terminal(run->rt.state)) {
		pw.p_wf[0] = run->w->wf->id;
		pw.p_wf[1] = id;
		pw.admit = run->w->wf->concurrency_max > 0;
		pw.pause =
		    run->rt.state == RUN_FAILED && run->w->wf->pause_on_failure;
	}
	pw_chunks(&pw, run, gen_after);
	n = pw.nchunks;
	for (long c = 0; c < n; c++) {
		passrows_open(&pw.pr[c]);
		passrows_add(&pw.pr[c], id, run, res, pw.ord, ch,
		    n == 1 ? 0 : c * PASS_CHUNK,
		    n == 1 ? pw.nchanged : (c + 1) * PASS_CHUNK, c == 0);
		passrows_close(&pw.pr[c]);
		pw_chunk_open(&pw, c);
		pw_chunk_rows(&pw, c);
		pw_chunk_close(&pw, e, c);
	}
	/* Everything, COMMITs included, in one round trip. */
	if (e->writer)
		rc = e->writer(e->writer_arg, id, pw.st, pw.nst, err);
	else
		rc = db_pipeline(e->conn, err, pw.st, pw.nst, NULL);
	pw_free(&pw);
	if (rc == 0 && pass_ended_run(run, res))
		tell_run_end(e, id, run);
	return rc;
}

/*
 * The passes of several runs, written in one transaction (enginedb_many.c):
 * the rows of every run in one upsert, the events in one insert, the run
 * rows in one update, each doorbell channel in one statement, and one
 * COMMIT.  Only what a plain pass writes is taken (no control requests,
 * no chunks, no admission or pause after the run: enginedb_many.c passes
 * such runs alone), but for the dead letters of tasks gone DEAD.
 */
struct batchwrite {
	struct passrows rows;
	struct runrows runs;
	struct buf dead_x, dead_t, cancels;
	int ndead, ncancel, dispatch;
	size_t nruns;
	struct runentry **ended; /* the runs the batch ends */
	char **ended_id;
	size_t nended;
};

struct batchwrite *
edb_batch_new(size_t nmax)
{
	struct batchwrite *b = xcalloc(1, sizeof(*b));

	passrows_open(&b->rows);
	runrows_open(&b->runs);
	buf_putc(&b->dead_x, '{');
	buf_putc(&b->dead_t, '{');
	buf_putc(&b->cancels, '{');
	b->ended = xcalloc(nmax + 1, sizeof(*b->ended));
	b->ended_id = xcalloc(nmax + 1, sizeof(*b->ended_id));
	return b;
}

void
edb_batch_free(struct batchwrite *b)
{
	if (b == NULL)
		return;
	passrows_free(&b->rows);
	runrows_free(&b->runs);
	buf_free(&b->dead_x);
	buf_free(&b->dead_t);
	buf_free(&b->cancels);
	for (size_t i = 0; i < b->nended; i++)
		free(b->ended_id[i]);
	free(b->ended);
	free(b->ended_id);
	free(b);
}

size_t
edb_batch_runs(const struct batchwrite *b)
{
	return b->nruns;
}

/*
 * Adds the outcome of run id's pass (as edb_write_pass() takes it) to b;
 * what it needs is copied.
 */
void
edb_batch_add(struct batchwrite *b, const char *id, struct runentry *run,
    const struct engine_result *res, const unsigned char *changed,
    struct change *ch)
{
	const struct workflow *wf = run->w->wf;
	struct passwrite pw;

	pw_init(&pw, id);
	pw_changed(&pw, wf, changed, ch);
	pw_resets(&pw, wf, res);
	pw_run_row(&pw, run, res);
	pw.p_run[5] = "false";
	passrows_add(&b->rows, id, run, res, pw.ord, ch, 0, pw.nchanged, 1);
	runrows_add(&b->runs, pw.p_run);
	for (size_t i = 0; i < wf->ntasks; i++)
		if (changed[i] && ch[i].dead) {
			buf_pgarray_elem(&b->dead_x, id);
			buf_pgarray_elem(&b->dead_t, wf->tasks[i].id);
			b->ndead++;
		}
	if (pw.cancel) {
		buf_pgarray_elem(&b->cancels, id);
		b->ncancel++;
	}
	b->dispatch |= pw.dispatch;
	if (pass_ended_run(run, res)) {
		b->ended[b->nended] = run;
		b->ended_id[b->nended++] = xstrdup(id);
	}
	b->nruns++;
	pw_free(&pw);
}

/*
 * Sends b's statements and COMMIT in one round trip, on the transaction
 * that the batch's first round trip opened.  0, or -1 with *err (the
 * caller rolls back and forgets the runs).
 */
int
edb_batch_send(struct enginedb *e, struct batchwrite *b, char **err)
{
	struct db_stmt st[8];
	const char *p_dead[2], *p_cancel[1], *p_runs[RUNROW_N + 1];
	size_t n = 0;
	int rc;

	passrows_close(&b->rows);
	runrows_close(&b->runs);
	buf_putc(&b->dead_x, '}');
	buf_putc(&b->dead_t, '}');
	buf_putc(&b->cancels, '}');
	if (b->rows.nrows > 0)
		st[n++] =
		    (struct db_stmt){ transition_sql(TR_TASK_ENGINE_WRITE),
			    PR_EV_X, b->rows.p_up };
	if (b->ndead > 0) {
		p_dead[0] = b->dead_x.p;
		p_dead[1] = b->dead_t.p;
		st[n++] = (struct db_stmt){
			"INSERT INTO dead_letters "
			"(execution_id, task_id, attempts, request, "
			"error_type, error_message) SELECT rt.execution_id, "
			"rt.task_id, rt.attempt, rt.request, rt.error_type, "
			"rt.error_message FROM run_tasks rt JOIN "
			"unnest($1::text[], $2::text[]) AS d(x, t) ON "
			"rt.execution_id = d.x AND rt.task_id = d.t "
			"WHERE rt.execution_id = ANY($1::text[])",
			2, p_dead
		};
	}
	if (b->rows.nev > 0)
		st[n++] = (struct db_stmt){ sql_events, PR_N - PR_EV_X,
			b->rows.p_ev };
	/*
	 * The run rows, and the doorbells: loom_event for each run, and one
	 * loom_task_ready for all (its payload is not read).
	 */
	for (int i = 0; i < RUNROW_N; i++)
		p_runs[i] = b->runs.p[i];
	p_runs[RUNROW_N] = b->dispatch && !e->quiet_ready ? "true" : "false";
	st[n++] = (struct db_stmt){ transition_run_engine_write_ring(),
		RUNROW_N + 1, p_runs };
	p_cancel[0] = b->cancels.p;
	if (b->ncancel > 0)
		st[n++] =
		    (struct db_stmt){ "SELECT pg_notify('loom_cancel', x) "
				      "FROM unnest($1::text[]) x",
			    1, p_cancel };
	st[n++] = (struct db_stmt){ "COMMIT", 0, NULL };
	rc = db_pipeline(e->conn, err, st, n, NULL);
	if (rc == 0)
		for (size_t i = 0; i < b->nended; i++)
			tell_run_end(e, b->ended_id[i], b->ended[i]);
	return rc;
}
