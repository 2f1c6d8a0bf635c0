/*
 * enginedb_apply: the second half of a pass (enginedb.h, step 3): the
 * reports, the control requests of loom-api, due retries, cancel and the
 * run's deadline fed to the engine core, in that order, and what to write
 * for the outcome, handed to edb_write_pass().  The events and their
 * random draws are the engine's; the run's state is the cache's.
 */
#include <stdlib.h>
#include <string.h>

#include <jv.h>

#include "core/dispatch.h"
#include "core/engine.h"
#include "core/jqx.h"
#include "core/state.h"
#include "core/workflow.h"
#include "core/xalloc.h"
#include "db.h"
#include "enginedb.h"
#include "enginedb_int.h"
#include "util/log.h"

static double
rand01(struct enginedb *e)
{
	e->rng ^= e->rng << 13;
	e->rng ^= e->rng >> 7;
	e->rng ^= e->rng << 17;
	return (double)(e->rng >> 11) / 9007199254740992.0;
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
			q->error =
			    xasprintf("the execution is %s; only a "
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
				     "nothing to replay",
		    q->task, task_state_name(rt->tasks[idx].state));
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
	reset = jv_dump_string(
	    jv_object_set(jv_object(), jv_string("reset"), reset), 0);
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
void
edb_note_wakeup(struct enginedb *e, const struct runentry *run)
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

/* Each result reported since the last pass, as the core's event. */
static void
feed_reports(struct enginedb *e, struct runentry *run, struct report *reps,
    size_t nreps, int64_t now_ms, struct engine_result *res)
{
	struct engine_event ev;

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
		step(e, run, &ev, res);
	}
}

/* What the clock brings: due retries, a requested cancel, the deadline. */
static void
feed_clock(struct enginedb *e, struct runentry *run, int cancel_requested,
    int64_t now_ms, struct engine_result *res)
{
	struct engine_event ev;

	for (size_t i = 0; i < run->rt.ntasks; i++)
		if (run->rt.tasks[i].state == TASK_RETRY &&
		    run->rt.tasks[i].not_before_ms <= now_ms) {
			memset(&ev, 0, sizeof(ev));
			ev.type = EV_RETRY_DUE;
			ev.task = i;
			ev.output = jv_null();
			ev.now_ms = now_ms;
			step(e, run, &ev, res);
		}
	if (!run_state_terminal(run->rt.state) && cancel_requested) {
		memset(&ev, 0, sizeof(ev));
		ev.type = EV_CANCEL;
		ev.output = jv_null();
		ev.now_ms = now_ms;
		step(e, run, &ev, res);
	}
	if (!run_state_terminal(run->rt.state) && run->rt.deadline_ms &&
	    now_ms >= run->rt.deadline_ms) {
		memset(&ev, 0, sizeof(ev));
		ev.type = EV_RUN_TIMEOUT;
		ev.output = jv_null();
		ev.now_ms = now_ms;
		step(e, run, &ev, res);
	}
}

/*
 * Every event of a pass, in order: the run's start (or its recovery when
 * read in full), the reports, the control requests, the clock.
 */
static void
feed_events(struct enginedb *e, struct runentry *run, int full,
    int cancel_requested, struct report *reps, size_t nreps, struct request *rq,
    size_t nrq, int64_t now_ms, struct engine_result *res)
{
	struct engine_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.output = jv_null();
	ev.now_ms = now_ms;
	if (run->rt.state == RUN_PENDING) {
		ev.type = EV_RUN_START;
		step(e, run, &ev, res);
	} else if (full && run->rt.state == RUN_RUNNING) {
		/*
		 * Read from its rows: what a pass written in part did not
		 * store (a task without its row reads as PENDING) is
		 * derived again.  A run stored whole gives nothing here.
		 */
		ev.type = EV_RECOVER;
		step(e, run, &ev, res);
	}
	feed_reports(e, run, reps, nreps, now_ms, res);
	/* After the reports: a request is judged on the latest state. */
	for (size_t i = 0; i < nrq; i++)
		apply_request(e, run, &rq[i], now_ms, res);
	feed_clock(e, run, cancel_requested, now_ms, res);
}

/* Which rows a pass writes (changed), and with what (ch, reqtext). */
struct passplan {
	size_t nt;
	unsigned char *changed;
	struct change *ch;
	char **reqtext; /* the requests rendered, owned */
};

static void
plan_free(struct passplan *pl)
{
	for (size_t i = 0; pl->reqtext && i < pl->nt; i++)
		free(pl->reqtext[i]);
	free(pl->reqtext);
	free(pl->changed);
	free(pl->ch);
}

/*
 * Renders the request of the task that action a dispatches; one that
 * cannot be rendered fails its attempt (ERR_VALIDATION) instead.
 */
static void
plan_dispatch(struct enginedb *e, const char *id, struct runentry *run,
    const struct engine_action *a, int64_t now_ms, struct engine_result *res,
    struct passplan *pl)
{
	struct engine_event ev;
	char *text, *rerr = NULL;
	size_t task = a->task;

	text = dispatch_request_text(id, run->w->wf, &run->rt, e->jq, a,
	    jv_array_get(jv_copy(run->w->tasks), (int)a->task),
	    run->w->spec_text[a->task], &rerr);
	if (text == NULL) {
		memset(&ev, 0, sizeof(ev));
		ev.type = EV_TASK_FAILED;
		ev.task = a->task;
		ev.error = ERR_VALIDATION;
		ev.message = rerr;
		ev.output = jv_null();
		ev.now_ms = now_ms;
		step(e, run, &ev, res); /* res->actions may move */
		free(rerr);
		pl->changed[task] = 1;
		return;
	}
	free(pl->reqtext[a->task]);
	pl->reqtext[a->task] = text;
	pl->ch[a->task].request = pl->reqtext[a->task];
}

static void
plan_rows(struct enginedb *e, const char *id, struct runentry *run,
    const struct report *reps, size_t nreps, int64_t now_ms,
    struct engine_result *res, struct passplan *pl)
{
	size_t nt = run->rt.ntasks;

	pl->nt = nt;
	pl->changed = xcalloc(nt ? nt : 1, 1);
	pl->ch = xcalloc(nt ? nt : 1, sizeof(*pl->ch));
	pl->reqtext = xcalloc(nt ? nt : 1, sizeof(char *));
	for (size_t i = 0; i < nreps; i++)
		pl->changed[reps[i].task] = 1;
	/* res grows while we walk it: a request that cannot be rendered
	 * fails its attempt, which may skip tasks downstream. */
	for (size_t i = 0; i < res->nactions; i++) {
		const struct engine_action *a = &res->actions[i];

		switch (a->type) {
		case ACT_DISPATCH:
			plan_dispatch(e, id, run, a, now_ms, res, pl);
			break;
		case ACT_DEAD_LETTER:
			pl->ch[a->task].dead = 1;
			if (a->message) {
				/* Set by the engine (e.g. a bad `when:`);
				 * an executor's own error stays otherwise. */
				pl->ch[a->task].error_type =
				    errclass_name(a->error);
				pl->ch[a->task].error_message = a->message;
			}
			break;
		default:
			break;
		}
	}
	for (size_t i = 0; i < res->ntransitions; i++)
		if (res->transitions[i].task != ENGINE_RUN)
			pl->changed[res->transitions[i].task] = 1;
}

/*
 * The second half of a pass, in the transaction the first half opened:
 * feeds the reports, the control requests and the clock to the engine
 * core for run (its cached state, current as of engine_gen gen, or read
 * in full just now) and
 * writes the outcome (edb_write_pass()).  Returns ENGINEDB_DID_WORK,
 * ENGINEDB_IDLE (nothing to write: the transaction is rolled back), or -1
 * with *err after the run was dropped from the cache and the transaction
 * rolled back.
 */
int
edb_pass_apply(struct enginedb *e, const char *id, struct runentry *run,
    long long gen, int full, int cancel_requested, struct report *reps,
    size_t nreps, struct request *rq, size_t nrq, int64_t now_ms, char **err)
{
	struct engine_result res;
	struct passplan pl = { 0, NULL, NULL, NULL };
	int rc;

	engine_result_init(&res);
	feed_events(
	    e, run, full, cancel_requested, reps, nreps, rq, nrq, now_ms, &res);
	if (nreps == 0 && nrq == 0 && res.ntransitions == 0 &&
	    res.nactions == 0) {
		/* Nothing happened: leave the row (and engine_gen) alone. */
		PQclear(PQexec(e->conn, "ROLLBACK"));
		edb_note_wakeup(e, run);
		rc = ENGINEDB_IDLE;
		goto out;
	}

	plan_rows(e, id, run, reps, nreps, now_ms, &res, &pl);
	if (edb_write_pass(
		e, id, run, &res, pl.changed, pl.ch, rq, nrq, gen + 1, err) < 0)
		goto fail_drop;
	run->gen = gen + 1;
	edb_note_wakeup(e, run);
	if (run_state_terminal(run->rt.state)) {
		edb_run_drop(e, run);
		/* Its version may be the one over the bounds: once the
		 * last run of a huge workflow ends, it goes now, not at
		 * the next version loaded. */
		edb_wfs_trim(e, NULL);
	}
	rc = ENGINEDB_DID_WORK;
	goto out;

fail_drop:
	/* The in-memory state went ahead of the database: forget it. */
	edb_run_drop(e, run);
	PQclear(PQexec(e->conn, "ROLLBACK"));
	rc = -1;
out:
	plan_free(&pl);
	engine_result_clear(&res);
	return rc;
}

/*
 * The second half of a pass that is one of a batch (enginedb_many.c), in
 * the batch's transaction: feeds the events of run (no control requests)
 * and, when there is something to write, adds the outcome to b.  Returns
 * ENGINEDB_DID_WORK or ENGINEDB_IDLE; e->wake_ms and e->retrying are the
 * run's.
 */
int
edb_pass_batch_apply(struct enginedb *e, const char *id, struct runentry *run,
    int full, int cancel_requested, struct report *reps, size_t nreps,
    int64_t now_ms, struct batchwrite *b)
{
	struct engine_result res;
	struct passplan pl = { 0, NULL, NULL, NULL };
	int rc = ENGINEDB_IDLE;

	engine_result_init(&res);
	feed_events(
	    e, run, full, cancel_requested, reps, nreps, NULL, 0, now_ms, &res);
	if (nreps > 0 || res.ntransitions > 0 || res.nactions > 0) {
		plan_rows(e, id, run, reps, nreps, now_ms, &res, &pl);
		edb_batch_add(b, id, run, &res, pl.changed, pl.ch);
		rc = ENGINEDB_DID_WORK;
	}
	edb_note_wakeup(e, run);
	plan_free(&pl);
	engine_result_clear(&res);
	return rc;
}
