/*
 * engine: see engine.h.  The single place where Link Loom decides what
 * happens next in a run.
 *
 * engine_step() works in two phases.  First it checks that the event
 * applies to the current state without touching anything, so a refused
 * event (EINVAL) leaves the run exactly as it was.  Then it applies the
 * event through small helpers that each make one legal transition (via
 * task_transition/run_transition of state.h, so an illegal one cannot slip
 * through), append it to the result, and keep the counters right.
 *
 * Readiness is incremental: rt->unmet[v] counts v's dependencies that are
 * not yet satisfied (SUCCESS, or SKIPPED because of their own condition).
 * A completion decrements its children's counters; a child that reaches
 * zero joins a FIFO of tasks to promote, so promotion order is the
 * children's index order and there is no recursion, however long the
 * chain of condition-skipped tasks.  A failure marks everything downstream
 * SKIPPED(upstream) with an explicit stack, again without recursion; each
 * task is skipped at most once, so that costs O(n + e) over a whole run.
 *
 * The expression context {"params", "tasks": {id: {"output"}}, "trigger",
 * "scheduledTime"} (run_rt_context) costs
 * O(tasks) to build, so it is built only when a task being promoted has a
 * `when:` or an input template with "${{", and at most once per event (no
 * task succeeds while an event's promotions are processed).  A fan-out of
 * 10,000 plain tasks therefore costs O(1) per completion.
 *
 * A reset (EV_RESET) is planned before anything changes: one pass over
 * the tasks in topological order marks what runs again (see reset_plan),
 * so a refusal leaves the run untouched like any other refused event.
 * Applying it recounts the dependency counters of the reset tasks and of
 * their children only, and the ordinary promotion FIFO takes over.
 *
 * Only `input:` is rendered here, because the rendered input is part of
 * the attempt's identity (it is stored with the dispatch).  `headers:` and
 * `body:` of http tasks are rendered by the drivers when they build the
 * executor's request (lib/core/dispatch.c), from the same context, so the
 * engine never handles transport details.
 */
#include "engine.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dag.h"
#include "duration.h"
#include "xalloc.h"

const char *
skip_reason_name(enum skip_reason r)
{
	switch (r) {
	case SKIP_CONDITION:
		return "condition";
	case SKIP_UPSTREAM:
		return "upstream";
	default:
		return "";
	}
}

/* A task counts against the run when it ends without its work done. */
static int
task_is_bad(const struct task_rt *t)
{
	return t->state == TASK_DEAD || t->state == TASK_CANCELLED ||
	    (t->state == TASK_SKIPPED && t->skip == SKIP_UPSTREAM);
}

/* Whether a task lets its dependents run. */
static int
task_satisfies(const struct task_rt *t)
{
	return t->state == TASK_SUCCESS ||
	    (t->state == TASK_SKIPPED && t->skip == SKIP_CONDITION);
}

static void
run_rt_zero(struct run_rt *rt)
{
	memset(rt, 0, sizeof(*rt));
	rt->params = jv_null();
}

/* "a, b, c": the declared params, for the unknown-param message. */
static char *
param_names(jv params)
{
	jv keys = jv_keys(params);
	size_t len = 1;
	char *s;
	int n = jv_array_length(jv_copy(keys));

	for (int i = 0; i < n; i++) {
		jv k = jv_array_get(jv_copy(keys), i);

		len += strlen(jv_string_value(k)) + 2;
		jv_free(k);
	}
	s = xcalloc(1, len);
	for (int i = 0; i < n; i++) {
		jv k = jv_array_get(jv_copy(keys), i);

		if (i > 0)
			strcat(s, ", ");
		strcat(s, jv_string_value(k));
		jv_free(k);
	}
	jv_free(keys);
	return s;
}

int
run_params(jv declared, jv input, jv *params, char **err)
{
	jv_kind kind = jv_get_kind(input);

	*params = jv_invalid();
	*err = NULL;
	if (kind == JV_KIND_NULL) {
		jv_free(input);
		input = jv_object();
	} else if (kind != JV_KIND_OBJECT) {
		*err = xasprintf("run input must be a JSON object, not %s",
		    jv_kind_name(kind));
		jv_free(input);
		jv_free(declared);
		return -1;
	}
	if (jv_get_kind(declared) != JV_KIND_OBJECT ||
	    jv_object_length(jv_copy(declared)) == 0) {
		/* Nothing declared: the input is the params, as given. */
		jv_free(declared);
		*params = input;
		return 0;
	}
	*params = jv_copy(declared);
	jv_object_foreach(input, k, v)
	{
		if (!jv_object_has(jv_copy(declared), jv_copy(k))) {
			char *names = param_names(jv_copy(declared));

			*err = xasprintf("unknown param '%s'; declared: %s",
			    jv_string_value(k), names);
			free(names);
			jv_free(k);
			jv_free(v);
			jv_free(*params);
			*params = jv_invalid();
			break;
		}
		*params = jv_object_set(*params, k, v);
	}
	jv_free(input);
	jv_free(declared);
	return *err ? -1 : 0;
}

int
run_rt_init(struct run_rt *rt, const struct workflow *wf, jv input, char **err)
{
	jv_kind kind = jv_get_kind(input);
	jv params;

	run_rt_zero(rt);
	*err = NULL;
	if ((kind == JV_KIND_NULL || kind == JV_KIND_OBJECT) &&
	    wf->ntasks > 0 && wf->dag == NULL) {
		*err = xasprintf(
		    "workflow '%s' has no task graph", wf->id ? wf->id : "?");
		jv_free(input);
		return -1;
	}
	if (run_params(jv_copy(wf->params), input, &params, err) < 0)
		return -1;
	rt->state = RUN_PENDING;
	rt->params = params;
	rt->ntasks = wf->ntasks;
	rt->tasks = xcalloc(wf->ntasks ? wf->ntasks : 1, sizeof(*rt->tasks));
	rt->unmet = xcalloc(wf->ntasks ? wf->ntasks : 1, sizeof(*rt->unmet));
	rt->dag = wf->dag;
	for (size_t i = 0; i < wf->ntasks; i++) {
		rt->tasks[i].state = TASK_PENDING;
		rt->tasks[i].output = jv_null();
		rt->unmet[i] = wf->dag->dep_off[i + 1] - wf->dag->dep_off[i];
	}
	return 0;
}

void
run_rt_free(struct run_rt *rt)
{
	if (rt == NULL)
		return;
	for (size_t i = 0; rt->tasks != NULL && i < rt->ntasks; i++)
		jv_free(rt->tasks[i].output);
	free(rt->tasks);
	free(rt->unmet);
	jv_free(rt->params);
	run_rt_zero(rt);
}

void
run_rt_recount(struct run_rt *rt)
{
	const struct dag *g = rt->dag;

	rt->nterminal = 0;
	rt->nbad = 0;
	for (size_t i = 0; i < rt->ntasks; i++) {
		const struct task_rt *t = &rt->tasks[i];

		if (task_state_terminal(t->state))
			rt->nterminal++;
		if (task_is_bad(t))
			rt->nbad++;
		if (g == NULL || rt->unmet == NULL)
			continue;
		rt->unmet[i] = 0;
		for (size_t k = g->dep_off[i]; k < g->dep_off[i + 1]; k++)
			if (!task_satisfies(&rt->tasks[g->deps[k]]))
				rt->unmet[i]++;
	}
}

void
engine_result_init(struct engine_result *res)
{
	memset(res, 0, sizeof(*res));
}

void
engine_result_clear(struct engine_result *res)
{
	for (size_t i = 0; i < res->nactions; i++) {
		jv_free(res->actions[i].input);
		free(res->actions[i].message);
	}
	free(res->actions);
	free(res->transitions);
	engine_result_init(res);
}

/* Everything one engine_step() call works with. */
struct step {
	const struct workflow *wf;
	struct run_rt *rt;
	struct jqx *jq;
	struct engine_result *res;
	const struct engine_event *ev;
	jv ctx;	       /* expression context, or jv_invalid() until built */
	size_t *queue; /* FIFO of tasks whose dependencies are all met */
	size_t qhead, qtail, qcap;
	size_t *stack; /* tasks to mark SKIPPED(upstream) */
	size_t nstack, stackcap;
};

static struct engine_action *
add_action(struct step *s, enum engine_action_type type, size_t task)
{
	struct engine_result *res = s->res;
	struct engine_action *a;

	if (res->nactions == res->actions_cap) {
		res->actions_cap = res->actions_cap ? res->actions_cap * 2 : 16;
		res->actions = xreallocarray(
		    res->actions, res->actions_cap, sizeof(*res->actions));
	}
	a = &res->actions[res->nactions++];
	memset(a, 0, sizeof(*a));
	a->type = type;
	a->task = task;
	a->input = jv_null();
	return a;
}

static void
add_transition(struct step *s, size_t task, int from, int to)
{
	struct engine_result *res = s->res;
	struct engine_transition *t;

	if (res->ntransitions == res->transitions_cap) {
		res->transitions_cap =
		    res->transitions_cap ? res->transitions_cap * 2 : 16;
		res->transitions = xreallocarray(res->transitions,
		    res->transitions_cap, sizeof(*res->transitions));
	}
	t = &res->transitions[res->ntransitions++];
	t->task = task;
	t->from = from;
	t->to = to;
}

/*
 * Moves task i to state `to` (set t->skip first for SKIPPED), records the
 * transition and keeps nterminal/nbad.  Every caller has checked that the
 * move is legal; a refusal here would be an engine bug, and then nothing
 * changes.
 */
static int
set_task(struct step *s, size_t i, enum task_state to)
{
	struct task_rt *t = &s->rt->tasks[i];
	enum task_state from = t->state;

	if (task_transition(&t->state, to) == -1)
		return -1;
	add_transition(s, i, from, to);
	if (task_state_terminal(to)) {
		s->rt->nterminal++;
		if (task_is_bad(t))
			s->rt->nbad++;
	}
	return 0;
}

static int
set_run(struct step *s, enum run_state to)
{
	enum run_state from = s->rt->state;

	if (run_transition(&s->rt->state, to) == -1)
		return -1;
	add_transition(s, ENGINE_RUN, from, to);
	return 0;
}

static void
enqueue(struct step *s, size_t i)
{
	if (s->qtail == s->qcap) {
		s->qcap = s->qcap ? s->qcap * 2 : 64;
		s->queue = xreallocarray(s->queue, s->qcap, sizeof(*s->queue));
	}
	s->queue[s->qtail++] = i;
}

static void
push(struct step *s, size_t i)
{
	if (s->nstack == s->stackcap) {
		s->stackcap = s->stackcap ? s->stackcap * 2 : 64;
		s->stack =
		    xreallocarray(s->stack, s->stackcap, sizeof(*s->stack));
	}
	s->stack[s->nstack++] = i;
}

/* Task u now satisfies its dependents: queue those whose last need it was. */
static void
release_children(struct step *s, size_t u)
{
	const struct dag *g = s->wf->dag;

	for (size_t k = g->child_off[u]; k < g->child_off[u + 1]; k++) {
		size_t c = g->children[k];

		if (s->rt->unmet[c] > 0 && --s->rt->unmet[c] == 0 &&
		    s->rt->tasks[c].state == TASK_PENDING)
			enqueue(s, c);
	}
}

/* Task u will never succeed: skip everything downstream that waits on it. */
static void
skip_downstream(struct step *s, size_t u)
{
	const struct dag *g = s->wf->dag;

	push(s, u);
	while (s->nstack > 0) {
		size_t v = s->stack[--s->nstack];

		for (size_t k = g->child_off[v]; k < g->child_off[v + 1]; k++) {
			size_t c = g->children[k];
			struct task_rt *t = &s->rt->tasks[c];

			/* Only a task still waiting can be downstream of v. */
			if (t->state != TASK_PENDING)
				continue;
			t->skip = SKIP_UPSTREAM;
			if (set_task(s, c, TASK_SKIPPED) == -1) {
				t->skip = SKIP_NONE;
				continue;
			}
			add_action(s, ACT_SKIP, c)->skip = SKIP_UPSTREAM;
			push(s, c);
		}
	}
}

jv
run_rt_context(const struct workflow *wf, const struct run_rt *rt)
{
	jv tasks = jv_object(), ctx;

	for (size_t i = 0; i < rt->ntasks; i++) {
		if (rt->tasks[i].state != TASK_SUCCESS)
			continue;
		tasks = jv_object_set(tasks, jv_string(wf->tasks[i].id),
		    jv_object_set(jv_object(), jv_string("output"),
			jv_copy(rt->tasks[i].output)));
	}
	ctx = jv_object_set(
	    jv_object(), jv_string("params"), jv_copy(rt->params));
	ctx = jv_object_set(ctx, jv_string("tasks"), tasks);
	ctx = jv_object_set(ctx, jv_string("trigger"),
	    rt->trigger[0] ? jv_string(rt->trigger) : jv_null());
	return jv_object_set(ctx, jv_string("scheduledTime"),
	    rt->scheduled_time[0] ? jv_string(rt->scheduled_time) : jv_null());
}

static jv
context(struct step *s)
{
	if (!jv_is_valid(s->ctx)) {
		jv_free(s->ctx);
		s->ctx = run_rt_context(s->wf, s->rt);
	}
	return jv_copy(s->ctx);
}

/*
 * An attempt failed with class err.  The task is RUNNING (or, for an
 * attempt that could not even be prepared, FAILED already).  Retries it or
 * makes it DEAD.  message is borrowed unless owned_msg is set.
 */
static void
fail_attempt(struct step *s, size_t i, enum errclass err, const char *message,
    char *owned_msg, int retryable)
{
	const struct task *task = &s->wf->tasks[i];
	struct task_rt *t = &s->rt->tasks[i];
	struct engine_action *a;
	int attempt = t->attempt > 0 ? t->attempt : 1;
	/* Retries count from the last reset (a fresh budget); loom-exec's
	 * record of this decision counts the same way. */
	int spent = retry_attempts_spent(attempt, t->attempt_base);

	if (t->state == TASK_RUNNING)
		set_task(s, i, TASK_FAILED);
	t->error = err;
	if (retryable && retry_should_retry(&task->retry, err, spent) &&
	    set_task(s, i, TASK_RETRY) == 0) {
		t->not_before_ms = s->ev->now_ms +
		    retry_next_delay(&task->retry, spent, s->ev->rand01);
		a = add_action(s, ACT_RETRY_AT, i);
		a->at_ms = t->not_before_ms;
		a->attempt = attempt;
		a->error = err;
		free(owned_msg);
		return;
	}
	set_task(s, i, TASK_DEAD);
	a = add_action(s, ACT_DEAD_LETTER, i);
	a->attempt = attempt;
	a->error = err;
	if (owned_msg != NULL)
		a->message = owned_msg;
	else if (message != NULL)
		a->message = xstrdup(message);
	skip_downstream(s, i);
}

/*
 * The task's when: or input: could not be evaluated: that is a mistake in
 * the workflow, not a passing fault, so the task is DEAD at once.  It goes
 * READY -> FAILED when the state table allows that, else through RUNNING,
 * so every step stays a legal transition.  A `when:` that fails has not
 * started an attempt yet; it counts as attempt 1, failed before sending.
 */
static void
fail_unsent(struct step *s, size_t i, char *msg)
{
	if (s->rt->tasks[i].attempt == 0)
		s->rt->tasks[i].attempt = 1;
	if (!task_transition_allowed(s->rt->tasks[i].state, TASK_FAILED))
		set_task(s, i, TASK_RUNNING);
	if (s->rt->tasks[i].state != TASK_RUNNING)
		set_task(s, i, TASK_FAILED);
	fail_attempt(s, i, ERR_VALIDATION, NULL, msg, 0);
}

/* Task i is READY: start its next attempt with the rendered input. */
static void
dispatch(struct step *s, size_t i)
{
	const struct task *task = &s->wf->tasks[i];
	struct task_rt *t = &s->rt->tasks[i];
	struct engine_action *a;
	jv input;

	t->attempt++;
	if (jv_get_kind(task->input) == JV_KIND_NULL ||
	    jv_get_kind(task->input) == JV_KIND_INVALID)
		input = jv_object(); /* no input: the backend still gets {} */
	else if (!jqx_template_has_expr(jv_copy(task->input)))
		input = jv_copy(task->input);
	else {
		input = jqx_render(s->jq, jv_copy(task->input), context(s));
		if (!jv_is_valid(input)) {
			jv msg = jv_invalid_get_msg(input);
			char *m;

			if (jv_get_kind(msg) == JV_KIND_STRING)
				m = xasprintf("task '%s': input: %s", task->id,
				    jv_string_value(msg));
			else
				m = xasprintf("task '%s': input: cannot be "
					      "rendered",
				    task->id);
			jv_free(msg);
			fail_unsent(s, i, m);
			return;
		}
	}
	a = add_action(s, ACT_DISPATCH, i);
	a->attempt = t->attempt;
	a->input = input;
}

/* Task i is PENDING with every dependency met: make it READY and act. */
static void
promote(struct step *s, size_t i)
{
	const struct task *task = &s->wf->tasks[i];
	struct task_rt *t = &s->rt->tasks[i];

	if (set_task(s, i, TASK_READY) == -1)
		return;
	if (task->when != NULL) {
		char *err = NULL;
		int rc = jqx_eval_bool(s->jq, task->when, context(s), &err);

		if (rc == -1) {
			char *m = xasprintf("task '%s': when '%s': %s",
			    task->id, task->when, err ? err : "error");

			free(err);
			fail_unsent(s, i, m);
			return;
		}
		if (rc == 0) {
			t->skip = SKIP_CONDITION;
			if (set_task(s, i, TASK_SKIPPED) == -1) {
				t->skip = SKIP_NONE;
				return;
			}
			add_action(s, ACT_SKIP, i)->skip = SKIP_CONDITION;
			release_children(s, i);
			return;
		}
	}
	dispatch(s, i);
}

static void
drain(struct step *s)
{
	while (s->qhead < s->qtail)
		promote(s, s->queue[s->qhead++]);
}

/* The task that best explains a failed run: the first DEAD one, in order. */
static size_t
first_bad(const struct run_rt *rt, const struct dag *g)
{
	size_t bad = rt->ntasks;

	for (size_t k = 0; k < rt->ntasks; k++) {
		size_t i = g->topo[k];

		if (rt->tasks[i].state == TASK_DEAD)
			return i;
		if (bad == rt->ntasks && task_is_bad(&rt->tasks[i]))
			bad = i;
	}
	return bad;
}

static void
check_finish(struct step *s)
{
	struct run_rt *rt = s->rt;
	struct engine_action *a;
	enum run_state to;
	size_t i;

	if (rt->state != RUN_RUNNING || rt->nterminal < rt->ntasks)
		return;
	to = rt->nbad == 0 ? RUN_SUCCESS : RUN_FAILED;
	if (set_run(s, to) == -1)
		return;
	a = add_action(s, ACT_FINISH_RUN, ENGINE_RUN);
	a->run_state = to;
	if (to == RUN_SUCCESS)
		return;
	i = first_bad(rt, s->wf->dag);
	if (i == rt->ntasks)
		return;
	if (rt->tasks[i].state == TASK_DEAD) {
		a->error = rt->tasks[i].error;
		a->message = xasprintf("task '%s' failed (%s)",
		    s->wf->tasks[i].id, errclass_name(rt->tasks[i].error));
	} else
		a->message = xasprintf("task '%s' was %s", s->wf->tasks[i].id,
		    rt->tasks[i].state == TASK_CANCELLED ? "cancelled" :
							   "skipped");
	if (rt->nbad > 1) {
		char *m = xasprintf("%s; %zu of %zu tasks did not succeed",
		    a->message, rt->nbad, rt->ntasks);

		free(a->message);
		a->message = m;
	}
}

/* Cancel or run timeout: stop whatever is left and end the run at once. */
static void
end_run(struct step *s, enum run_state to, enum errclass err, char *msg)
{
	struct engine_action *a;

	for (size_t i = 0; i < s->rt->ntasks; i++) {
		enum task_state st = s->rt->tasks[i].state;

		if (task_state_terminal(st))
			continue;
		if (set_task(s, i, TASK_CANCELLED) == -1)
			continue;
		if (st == TASK_RUNNING)
			add_action(s, ACT_CANCEL_TASK, i)->attempt =
			    s->rt->tasks[i].attempt;
	}
	set_run(s, to);
	a = add_action(s, ACT_FINISH_RUN, ENGINE_RUN);
	a->run_state = to;
	a->error = err;
	a->message = msg;
}

/* ---- reset (EV_RESET) ---------------------------------------------- */

/* A task that has started and not finished: a reset must not overtake it. */
static int
task_is_active(enum task_state st)
{
	return !task_state_terminal(st) && st != TASK_PENDING;
}

/* A dependency of v that is bad and not marked in in[], or rt->ntasks. */
static size_t
blocking_dep(const struct dag *g, const struct run_rt *rt,
    const unsigned char *in, size_t v)
{
	for (size_t k = g->dep_off[v]; k < g->dep_off[v + 1]; k++) {
		size_t d = g->deps[k];

		if (!in[d] && task_is_bad(&rt->tasks[d]))
			return d;
	}
	return rt->ntasks;
}

#define RESET_ASKED 2 /* in[]: named by the event */
#define RESET_WITH 1  /* in[]: taken along */

/*
 * Checks that the run and every task ev names can run again, and marks
 * those RESET_ASKED in in[].  Returns NULL, or why not (malloc'd).
 */
static char *
reset_check_asked(const struct workflow *wf, const struct run_rt *rt,
    const struct engine_event *ev, unsigned char *in)
{
	const struct dag *g = wf->dag;

	if (rt->ntasks != wf->ntasks ||
	    (wf->ntasks > 0 && (g == NULL || rt->unmet == NULL)))
		return xstrdup("the run does not match its workflow");
	if (ev->tasks == NULL || ev->ntasks == 0)
		return xstrdup("no task to run again");
	if (rt->state == RUN_PENDING)
		return xstrdup("the run has not started yet");
	if (rt->state != RUN_RUNNING &&
	    !run_transition_allowed(rt->state, RUN_RUNNING))
		return xasprintf(
		    "a %s run cannot run again", run_state_name(rt->state));
	for (size_t k = 0; k < ev->ntasks; k++) {
		size_t i = ev->tasks[k];
		enum task_state st;

		if (i >= rt->ntasks)
			return xasprintf("no task #%zu in the workflow", i);
		st = rt->tasks[i].state;
		if (!task_state_terminal(st))
			return xasprintf("task '%s' is %s; only a finished "
					 "task can run again",
			    wf->tasks[i].id, task_state_name(st));
		if (!task_transition_allowed(st, TASK_PENDING))
			return xasprintf("task '%s' is %s and cannot run again",
			    wf->tasks[i].id, task_state_name(st));
		in[i] = RESET_ASKED;
	}
	return NULL;
}

/*
 * The tasks a reset takes along (RESET_WITH in in[]), in topological
 * order so that every dependency is decided before its dependents.
 * Returns NULL, or why the reset cannot take one (malloc'd).
 */
static char *
reset_take_along(const struct workflow *wf, const struct run_rt *rt,
    const struct engine_event *ev, unsigned char *in)
{
	const struct dag *g = wf->dag;
	unsigned char *reach = NULL;
	char *why = NULL;
	size_t d;

	reach = xcalloc(rt->ntasks, 1);
	for (size_t k = 0; k < rt->ntasks; k++) {
		size_t v = g->topo[k];
		const struct task_rt *t = &rt->tasks[v];
		int direct = 0, reached = 0;

		if (in[v])
			continue;
		for (size_t e = g->dep_off[v]; e < g->dep_off[v + 1]; e++) {
			d = g->deps[e];
			direct |= in[d] != 0;
			reached |= in[d] != 0 || reach[d];
		}
		if (t->state == TASK_SKIPPED && t->skip == SKIP_UPSTREAM) {
			/* Skipped because of a task that runs again, and of
			 * nothing that stays bad: it may run after all. */
			if ((direct || (ev->downstream && reached)) &&
			    blocking_dep(g, rt, in, v) == rt->ntasks)
				in[v] = RESET_WITH;
			reach[v] = reached;
			continue;
		}
		if (!ev->downstream || !reached)
			continue;
		reach[v] = 1;
		if (task_is_active(t->state)) {
			why = xasprintf(
			    "task '%s', downstream, is %s; wait "
			    "for it to finish (or cancel the run) first",
			    wf->tasks[v].id, task_state_name(t->state));
			goto out;
		}
		if (task_state_terminal(t->state))
			in[v] = RESET_WITH; /* PENDING ones just wait */
	}
out:
	free(reach);
	return why;
}

/*
 * Marks in in[] (rt->ntasks entries, zeroed) the tasks EV_RESET ev runs
 * again: the ones it names, then, in topological order so that every
 * dependency is decided before its dependents, the upstream-skipped tasks
 * whose dependencies are all reset or harmless, and with ev->downstream
 * every finished task reachable from a named one.  Returns NULL, or a
 * malloc'd message saying why the reset does not apply.
 */
static char *
reset_plan(const struct workflow *wf, const struct run_rt *rt,
    const struct engine_event *ev, unsigned char *in)
{
	const struct dag *g = wf->dag;
	char *why;
	size_t d;

	if ((why = reset_check_asked(wf, rt, ev, in)) != NULL ||
	    (why = reset_take_along(wf, rt, ev, in)) != NULL)
		return why;
	for (size_t k = 0; k < ev->ntasks; k++) {
		size_t i = ev->tasks[k];

		if ((d = blocking_dep(g, rt, in, i)) < rt->ntasks)
			return xasprintf(
			    "task '%s' cannot run while its "
			    "dependency '%s' is %s; run that one again (with "
			    "what is downstream of it)",
			    wf->tasks[i].id, wf->tasks[d].id,
			    task_state_name(rt->tasks[d].state));
	}
	return NULL;
}

char *
engine_reset_refusal(const struct workflow *wf, const struct run_rt *rt,
    const struct engine_event *ev)
{
	unsigned char *in = xcalloc(rt->ntasks ? rt->ntasks : 1, 1);
	char *why = reset_plan(wf, rt, ev, in);

	free(in);
	return why;
}

size_t
engine_failed_tasks(const struct run_rt *rt, size_t *out)
{
	size_t n = 0;

	for (size_t i = 0; i < rt->ntasks; i++)
		if (task_is_bad(&rt->tasks[i]))
			out[n++] = i;
	return n;
}

/* unmet[v] from scratch: v's dependencies that do not satisfy it. */
static void
recount_unmet(struct step *s, size_t v)
{
	const struct dag *g = s->wf->dag;

	s->rt->unmet[v] = 0;
	for (size_t k = g->dep_off[v]; k < g->dep_off[v + 1]; k++)
		if (!task_satisfies(&s->rt->tasks[g->deps[k]]))
			s->rt->unmet[v]++;
}

/* Applies a reset planned by reset_plan() (see engine.h). */
static void
reset(struct step *s, const unsigned char *in)
{
	const struct dag *g = s->wf->dag;
	struct run_rt *rt = s->rt;

	for (size_t k = 0; k < rt->ntasks; k++) {
		size_t v = g->topo[k];
		struct task_rt *t = &rt->tasks[v];
		enum task_state from = t->state;
		int bad = task_is_bad(t);

		if (!in[v] || task_transition(&t->state, TASK_PENDING) == -1)
			continue;
		add_transition(s, v, from, TASK_PENDING);
		rt->nterminal--;
		if (bad)
			rt->nbad--;
		t->skip = SKIP_NONE;
		t->error = ERR_NONE;
		t->not_before_ms = 0;
		t->attempt_base = t->attempt;
		jv_free(t->output);
		t->output = jv_null();
		add_action(s, ACT_RESET, v)->attempt = t->attempt;
	}
	/* Only the reset tasks and their children count differently now. */
	for (size_t v = 0; v < rt->ntasks; v++) {
		if (!in[v])
			continue;
		recount_unmet(s, v);
		for (size_t k = g->child_off[v]; k < g->child_off[v + 1]; k++)
			recount_unmet(s, g->children[k]);
	}
	if (run_state_terminal(rt->state) && set_run(s, RUN_RUNNING) == 0)
		rt->deadline_ms = s->wf->timeout_ms > 0 ?
		    s->ev->now_ms + s->wf->timeout_ms :
		    0;
	for (size_t k = 0; k < rt->ntasks; k++) {
		size_t v = g->topo[k];
		struct task_rt *t = &rt->tasks[v];

		int blocked = 0;

		if (!in[v] || t->state != TASK_PENDING)
			continue;
		/*
		 * A task taken along with --downstream may still wait on a
		 * dependency that stays bad: skip it (and what waits on it)
		 * again, or the run would never end.
		 */
		for (size_t e = g->dep_off[v]; e < g->dep_off[v + 1]; e++)
			blocked |= task_is_bad(&rt->tasks[g->deps[e]]);
		if (blocked) {
			t->skip = SKIP_UPSTREAM;
			if (set_task(s, v, TASK_SKIPPED) == -1) {
				t->skip = SKIP_NONE;
				continue;
			}
			add_action(s, ACT_SKIP, v)->skip = SKIP_UPSTREAM;
			skip_downstream(s, v);
		} else if (rt->unmet[v] == 0)
			enqueue(s, v);
	}
}

/* ---- recover (EV_RECOVER) ------------------------------------------ */

/*
 * The run as a driver loaded it: whatever event should have moved a
 * PENDING task and was not stored (its transaction was lost) is made
 * good.  In topological order, so a task skipped here is seen as bad by
 * its dependents in the same walk; the promotions wait in the FIFO, and
 * what they release (a condition-skipped task's children) follows as
 * after any event.  Nothing changes in a run stored whole.
 */
static void
recover(struct step *s)
{
	const struct dag *g = s->wf->dag;
	struct run_rt *rt = s->rt;

	for (size_t k = 0; k < rt->ntasks; k++) {
		size_t v = g->topo[k];
		struct task_rt *t = &rt->tasks[v];
		int blocked = 0;

		if (t->state != TASK_PENDING)
			continue;
		for (size_t e = g->dep_off[v]; e < g->dep_off[v + 1]; e++)
			blocked |= task_is_bad(&rt->tasks[g->deps[e]]);
		if (blocked) {
			t->skip = SKIP_UPSTREAM;
			if (set_task(s, v, TASK_SKIPPED) == -1) {
				t->skip = SKIP_NONE;
				continue;
			}
			add_action(s, ACT_SKIP, v)->skip = SKIP_UPSTREAM;
		} else if (rt->unmet[v] == 0)
			enqueue(s, v);
	}
}

/* Phase one: does ev apply to rt as it is?  Changes nothing. */
static int
event_applies(const struct workflow *wf, const struct run_rt *rt,
    const struct engine_event *ev)
{
	const struct task_rt *t = NULL;

	if (rt->ntasks != wf->ntasks ||
	    (wf->ntasks > 0 && (wf->dag == NULL || rt->unmet == NULL)))
		return 0;
	switch (ev->type) {
	case EV_RUN_START:
		return run_transition_allowed(rt->state, RUN_RUNNING) &&
		    rt->state == RUN_PENDING;
	case EV_CANCEL:
		return run_transition_allowed(rt->state, RUN_CANCELLED);
	case EV_RUN_TIMEOUT:
		/* Trusted like EV_RETRY_DUE below, given a deadline. */
		return rt->state == RUN_RUNNING && rt->deadline_ms != 0;
	case EV_RESET:
		return 1; /* planned by engine_step: reset_plan() */
	case EV_RECOVER:
		return rt->state == RUN_RUNNING;
	case EV_TASK_STARTED:
	case EV_TASK_SUCCEEDED:
	case EV_TASK_FAILED:
	case EV_RETRY_DUE:
		break;
	default:
		return 0;
	}
	if (rt->state != RUN_RUNNING || ev->task >= rt->ntasks)
		return 0;
	t = &rt->tasks[ev->task];
	switch (ev->type) {
	case EV_TASK_STARTED:
		return t->state == TASK_READY;
	case EV_TASK_SUCCEEDED:
	case EV_TASK_FAILED:
		/* The executor may report before its start was seen. */
		return t->state == TASK_RUNNING || t->state == TASK_READY;
	case EV_RETRY_DUE:
		/*
		 * The driver's timer says it is due; now_ms is not compared
		 * with not_before_ms, because a wall clock stepped back
		 * between arming and firing would otherwise strand the task
		 * in RETRY for good.
		 */
		return t->state == TASK_RETRY;
	default:
		return 0;
	}
}

/*
 * What ev does to the run directly; drain() then follows it through the
 * DAG.  *output is the event's: kept (and set to null) when it becomes
 * the task's output.  plan is reset_plan()'s, for EV_RESET.
 */
static void
apply_event(struct step *s, jv *output, const unsigned char *plan)
{
	const struct workflow *wf = s->wf;
	struct run_rt *rt = s->rt;
	const struct engine_event *ev = s->ev;
	char buf[64];

	switch (ev->type) {
	case EV_RUN_START:
		set_run(s, RUN_RUNNING);
		rt->started_ms = ev->now_ms;
		rt->deadline_ms =
		    wf->timeout_ms > 0 ? ev->now_ms + wf->timeout_ms : 0;
		for (size_t k = 0; k < rt->ntasks; k++) {
			size_t i = wf->dag->topo[k];

			if (rt->tasks[i].state == TASK_PENDING &&
			    rt->unmet[i] == 0)
				enqueue(s, i);
		}
		break;
	case EV_TASK_STARTED:
		set_task(s, ev->task, TASK_RUNNING);
		break;
	case EV_TASK_SUCCEEDED:
		if (rt->tasks[ev->task].state == TASK_READY)
			set_task(s, ev->task, TASK_RUNNING);
		if (rt->tasks[ev->task].attempt == 0)
			rt->tasks[ev->task].attempt = 1;
		if (set_task(s, ev->task, TASK_SUCCESS) == 0) {
			jv_free(rt->tasks[ev->task].output);
			rt->tasks[ev->task].output = *output;
			*output = jv_null();
			rt->tasks[ev->task].error = ERR_NONE;
			release_children(s, ev->task);
		}
		break;
	case EV_TASK_FAILED:
		if (rt->tasks[ev->task].state == TASK_READY)
			set_task(s, ev->task, TASK_RUNNING);
		/* A failure without a class is the backend's own "FAILED". */
		fail_attempt(s, ev->task,
		    ev->error > ERR_NONE && ev->error < ERR__COUNT ?
			ev->error :
			ERR_TASK_FAILED,
		    ev->message, NULL, 1);
		break;
	case EV_RETRY_DUE:
		if (set_task(s, ev->task, TASK_READY) == 0)
			dispatch(s, ev->task); /* when: is not asked again */
		break;
	case EV_CANCEL:
		end_run(s, RUN_CANCELLED, ERR_NONE, xstrdup("run cancelled"));
		break;
	case EV_RUN_TIMEOUT:
		duration_format(wf->timeout_ms, buf, sizeof(buf));
		end_run(s, RUN_FAILED, ERR_TIMEOUT,
		    xasprintf("run timed out after %s", buf));
		break;
	case EV_RESET:
		reset(s, plan);
		break;
	case EV_RECOVER:
		recover(s);
		break;
	}
}

int
engine_step(const struct workflow *wf, struct run_rt *rt, struct jqx *jq,
    struct engine_event *ev, struct engine_result *res)
{
	struct step s;
	jv output = ev->output;
	unsigned char *plan = NULL;
	char *why;

	ev->output = jv_null(); /* consumed, whatever happens */
	if (!event_applies(wf, rt, ev)) {
		jv_free(output);
		errno = EINVAL;
		return -1;
	}
	if (ev->type == EV_RESET) {
		plan = xcalloc(rt->ntasks ? rt->ntasks : 1, 1);
		if ((why = reset_plan(wf, rt, ev, plan)) != NULL) {
			free(why);
			free(plan);
			jv_free(output);
			errno = EINVAL;
			return -1;
		}
	}
	memset(&s, 0, sizeof(s));
	s.wf = wf;
	s.rt = rt;
	s.jq = jq;
	s.res = res;
	s.ev = ev;
	s.ctx = jv_invalid();

	apply_event(&s, &output, plan);
	drain(&s);
	check_finish(&s);

	free(plan);
	jv_free(output);
	jv_free(s.ctx);
	free(s.queue);
	free(s.stack);
	return 0;
}
