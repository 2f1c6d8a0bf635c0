/*
 * Unit tests for lib/core/engine.c: whole runs driven event by event, checking
 * the task states, every transition and every action after each step.
 *
 * Most workflows are built by hand (wf_new/wf_task/wf_done below) so those
 * tests depend only on the engine, the DAG, the state tables, retry
 * policies and jqx; test_yaml() at the end runs workflows loaded by
 * lib/core/workflow.c, the seed among them.  Steps and their results are
 * rendered as short strings ("dispatch a#1, finish SUCCESS",
 * "a READY>RUNNING") so each expectation reads like the run it describes.
 */
/*
 * Its SQL, built from string literals and macros, is laid out by hand;
 * clang-format would tear it into columns.
 */
/* clang-format off */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dag.h"
#include "core/engine.h"
#include "t.h"
#include "core/workflow.h"
#include "core/xalloc.h"

/* ---- workflows by hand ---- */

static struct workflow *
wf_new(size_t n)
{
	struct workflow *wf = xcalloc(1, sizeof(*wf));

	wf->id = xstrdup("test");
	wf->name = xstrdup("test");
	wf->timezone = xstrdup("UTC");
	wf->params = jv_object();
	retry_policy_default(&wf->retry_defaults);
	wf->default_timeout_ms = 300000;
	wf->tasks = xcalloc(n ? n : 1, sizeof(*wf->tasks));
	wf->ntasks = n;
	return wf;
}

/* Task i: id, dependencies as space-separated ids (resolved in wf_done). */
static struct task *
wf_task(struct workflow *wf, size_t i, const char *id, const char *deps)
{
	struct task *t = &wf->tasks[i];
	char *copy, *tok, *save = NULL;

	t->id = xstrdup(id);
	t->name = xstrdup(id);
	t->type = TASK_HTTP;
	t->timeout_ms = 300000;
	retry_policy_default(&t->retry);
	t->input = jv_null();
	t->method = xstrdup("POST");
	t->url = xasprintf("http://backend/%s", id);
	t->headers = jv_null();
	t->body = jv_invalid();
	t->env = jv_null();
	if (deps == NULL)
		return t;
	copy = xstrdup(deps);
	for (tok = strtok_r(copy, " ", &save); tok != NULL;
	    tok = strtok_r(NULL, " ", &save)) {
		t->depends_on = xreallocarray(t->depends_on, t->ndepends + 1,
		    sizeof(*t->depends_on));
		t->depends_on[t->ndepends++] = xstrdup(tok);
	}
	free(copy);
	return t;
}

static void
wf_free_hand(struct workflow *wf)
{
	if (wf == NULL)
		return;
	for (size_t i = 0; i < wf->ntasks; i++) {
		struct task *t = &wf->tasks[i];

		free(t->id);
		free(t->name);
		for (size_t k = 0; k < t->ndepends; k++)
			free(t->depends_on[k]);
		free(t->depends_on);
		free(t->dep_index);
		free(t->when);
		jv_free(t->input);
		free(t->method);
		free(t->url);
		jv_free(t->headers);
		jv_free(t->body);
		jv_free(t->env);
	}
	free(wf->tasks);
	jv_free(wf->params);
	free(wf->id);
	free(wf->name);
	free(wf->timezone);
	dag_free(wf->dag);
	free(wf);
}

static long
task_index(const struct workflow *wf, const char *id)
{
	for (size_t i = 0; i < wf->ntasks; i++)
		if (strcmp(wf->tasks[i].id, id) == 0)
			return (long)i;
	return -1;
}

/* Resolves dependsOn by id and builds the DAG; NULL on a cycle. */
static struct workflow *
wf_done(struct workflow *wf)
{
	const size_t **deps = xcalloc(wf->ntasks ? wf->ntasks : 1,
	    sizeof(*deps));
	size_t *ndeps = xcalloc(wf->ntasks ? wf->ntasks : 1, sizeof(*ndeps));

	for (size_t i = 0; i < wf->ntasks; i++) {
		struct task *t = &wf->tasks[i];

		t->dep_index = xcalloc(t->ndepends ? t->ndepends : 1,
		    sizeof(*t->dep_index));
		for (size_t k = 0; k < t->ndepends; k++)
			t->dep_index[k] = (size_t)task_index(wf,
			    t->depends_on[k]);
		deps[i] = t->dep_index;
		ndeps[i] = t->ndepends;
	}
	wf->dag = dag_build(wf->ntasks, (const size_t *const *)deps, ndeps,
	    NULL, NULL);
	free(deps);
	free(ndeps);
	if (wf->dag == NULL) {
		wf_free_hand(wf);
		return NULL;
	}
	return wf;
}

/* A table row: id, deps, when, input (JSON text). */
struct tdef {
	const char *id;
	const char *deps;
	const char *when;
	const char *input;
};

static struct workflow *
wf_make(const struct tdef *d, size_t n)
{
	struct workflow *wf = wf_new(n);

	for (size_t i = 0; i < n; i++) {
		struct task *t = wf_task(wf, i, d[i].id, d[i].deps);

		if (d[i].when != NULL)
			t->when = xstrdup(d[i].when);
		if (d[i].input != NULL) {
			jv_free(t->input);
			t->input = jv_parse(d[i].input);
		}
	}
	return wf_done(wf);
}

#define WF(...)                                                           \
	wf_make((const struct tdef[]){ __VA_ARGS__ },                     \
	    sizeof((const struct tdef[]){ __VA_ARGS__ }) /                \
		sizeof(struct tdef))

/* ---- a tiny driver ---- */

struct h {
	struct workflow *wf;
	struct run_rt rt;
	struct jqx *jq;
	struct engine_result res;
	int64_t now;
	int rc, err;
	int leftover;	/* events whose output was not consumed */
	char *acts;	/* the last step's actions, as text */
	char *trans;	/* the last step's transitions, as text */
};

static void __attribute__((format(printf, 2, 3)))
append(char **s, const char *fmt, ...)
{
	va_list ap;
	char *piece, *t;

	va_start(ap, fmt);
	if (vasprintf(&piece, fmt, ap) == -1)
		piece = NULL;
	va_end(ap);
	t = xasprintf("%s%s%s", *s, **s ? ", " : "", piece ? piece : "?");
	free(piece);
	free(*s);
	*s = t;
}

static const char *
tname(const struct h *h, size_t i)
{
	return i == ENGINE_RUN ? "run" : i < h->wf->ntasks ?
	    h->wf->tasks[i].id : "?";
}

static void
render(struct h *h)
{
	free(h->acts);
	free(h->trans);
	h->acts = xstrdup("");
	h->trans = xstrdup("");
	for (size_t i = 0; i < h->res.nactions; i++) {
		const struct engine_action *a = &h->res.actions[i];

		switch (a->type) {
		case ACT_DISPATCH:
			append(&h->acts, "dispatch %s#%d", tname(h, a->task),
			    a->attempt);
			break;
		case ACT_RETRY_AT:
			append(&h->acts, "retry %s+%lld", tname(h, a->task),
			    (long long)(a->at_ms - h->now));
			break;
		case ACT_DEAD_LETTER:
			append(&h->acts, "dead %s %s", tname(h, a->task),
			    errclass_name(a->error));
			break;
		case ACT_SKIP:
			append(&h->acts, "skip %s %s", tname(h, a->task),
			    skip_reason_name(a->skip));
			break;
		case ACT_CANCEL_TASK:
			append(&h->acts, "cancel %s", tname(h, a->task));
			break;
		case ACT_FINISH_RUN:
			append(&h->acts, "finish %s",
			    run_state_name(a->run_state));
			break;
		case ACT_RESET:
			append(&h->acts, "reset %s", tname(h, a->task));
			break;
		}
	}
	for (size_t i = 0; i < h->res.ntransitions; i++) {
		const struct engine_transition *t = &h->res.transitions[i];
		char *fromto;

		if (t->task == ENGINE_RUN)
			fromto = xasprintf("%s>%s",
			    run_state_name((enum run_state)t->from),
			    run_state_name((enum run_state)t->to));
		else
			fromto = xasprintf("%s>%s",
			    task_state_name((enum task_state)t->from),
			    task_state_name((enum task_state)t->to));
		append(&h->trans, "%s %s", tname(h, t->task), fromto);
		free(fromto);
	}
}

static int
h_init(struct h *h, struct workflow *wf, const char *input)
{
	char *err = NULL;
	int rc;

	memset(h, 0, sizeof(*h));
	h->wf = wf;
	h->jq = jqx_new();
	engine_result_init(&h->res);
	h->now = 1000000;
	h->acts = xstrdup("");
	h->trans = xstrdup("");
	rc = run_rt_init(&h->rt, wf, input ? jv_parse(input) : jv_null(),
	    &err);
	if (rc == -1)
		printf("# run_rt_init: %s\n", err);
	free(err);
	return rc;
}

static void
h_free(struct h *h)
{
	engine_result_clear(&h->res);
	run_rt_free(&h->rt);
	jqx_free(h->jq);
	wf_free_hand(h->wf);
	free(h->acts);
	free(h->trans);
}

/* Applies one event (task by id, or an explicit index when id is NULL). */
static int
step_ix(struct h *h, enum engine_event_type type, size_t task, jv output,
    enum errclass err, const char *msg, double r)
{
	struct engine_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = type;
	ev.task = task;
	ev.output = output;
	ev.error = err;
	ev.message = msg;
	ev.now_ms = h->now;
	ev.rand01 = r;
	engine_result_clear(&h->res);
	errno = 0;
	h->rc = engine_step(h->wf, &h->rt, h->jq, &ev, &h->res);
	h->err = errno;
	if (jv_get_kind(ev.output) != JV_KIND_NULL)
		h->leftover++;
	jv_free(ev.output);
	render(h);
	return h->rc;
}

static size_t
ix(struct h *h, const char *id)
{
	long i = task_index(h->wf, id);

	return i < 0 ? (size_t)-7 : (size_t)i;
}

static int
start(struct h *h)
{
	return step_ix(h, EV_RUN_START, 0, jv_null(), ERR_NONE, NULL, 0);
}

static int
started(struct h *h, const char *id)
{
	return step_ix(h, EV_TASK_STARTED, ix(h, id), jv_null(), ERR_NONE,
	    NULL, 0);
}

static int
succeed(struct h *h, const char *id, const char *output)
{
	return step_ix(h, EV_TASK_SUCCEEDED, ix(h, id),
	    output ? jv_parse(output) : jv_null(), ERR_NONE, NULL, 0);
}

static int
fail(struct h *h, const char *id, enum errclass c, const char *msg)
{
	return step_ix(h, EV_TASK_FAILED, ix(h, id), jv_null(), c, msg, 0);
}

static int
fail_r(struct h *h, const char *id, enum errclass c, double r)
{
	return step_ix(h, EV_TASK_FAILED, ix(h, id), jv_null(), c, "boom", r);
}

static int
due(struct h *h, const char *id)
{
	return step_ix(h, EV_RETRY_DUE, ix(h, id), jv_null(), ERR_NONE, NULL,
	    0);
}

static int
cancel(struct h *h)
{
	return step_ix(h, EV_CANCEL, 0, jv_null(), ERR_NONE, NULL, 0);
}

static int
run_timeout(struct h *h)
{
	return step_ix(h, EV_RUN_TIMEOUT, 0, jv_null(), ERR_NONE, NULL, 0);
}

/*
 * EV_RESET of the tasks named in ids (space-separated; an unknown id
 * gives an out-of-range index).  *why, when not NULL, gets what
 * engine_reset_refusal() said first (malloc'd, or NULL).
 */
static int
reset_why(struct h *h, const char *ids, int downstream, char **why)
{
	struct engine_event ev;
	size_t idx[32], n = 0;
	char *copy = xstrdup(ids), *tok, *save = NULL;

	for (tok = strtok_r(copy, " ", &save); tok != NULL && n < 32;
	    tok = strtok_r(NULL, " ", &save)) {
		long i = task_index(h->wf, tok);

		idx[n] = i < 0 ? (size_t)1001 + n : (size_t)i;
		n++;
	}
	free(copy);
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_RESET;
	ev.tasks = idx;
	ev.ntasks = n;
	ev.downstream = downstream;
	ev.output = jv_null();
	ev.now_ms = h->now;
	if (why != NULL)
		*why = engine_reset_refusal(h->wf, &h->rt, &ev);
	engine_result_clear(&h->res);
	errno = 0;
	h->rc = engine_step(h->wf, &h->rt, h->jq, &ev, &h->res);
	h->err = errno;
	render(h);
	return h->rc;
}

static int
reset_tasks(struct h *h, const char *ids, int downstream)
{
	char *why = NULL;
	int rc = reset_why(h, ids, downstream, &why);

	if (why != NULL)
		printf("# reset %s refused: %s\n", ids, why);
	free(why);
	return rc;
}

/* "a=SUCCESS b=RUNNING ..." plus the run state and counters. */
static char *
states(const struct h *h)
{
	char *s = xasprintf("run=%s", run_state_name(h->rt.state)), *t;

	for (size_t i = 0; i < h->rt.ntasks; i++) {
		const struct task_rt *tr = &h->rt.tasks[i];

		t = xasprintf("%s %s=%s%s%s", s, h->wf->tasks[i].id,
		    task_state_name(tr->state), tr->skip ? "/" : "",
		    skip_reason_name(tr->skip));
		free(s);
		s = t;
	}
	t = xasprintf("%s [%zu/%zu bad %zu]", s, h->rt.nterminal,
	    h->rt.ntasks, h->rt.nbad);
	free(s);
	return t;
}

#define is_states(h, want, ...)                                           \
	do {                                                              \
		char *st_ = states(h);                                    \
		is_str(st_, want, __VA_ARGS__);                           \
		free(st_);                                                \
	} while (0)

static const struct engine_action *
action(const struct h *h, enum engine_action_type type, const char *id)
{
	for (size_t i = 0; i < h->res.nactions; i++) {
		const struct engine_action *a = &h->res.actions[i];

		if (a->type == type && (id == NULL ||
		    (a->task != ENGINE_RUN &&
		    strcmp(h->wf->tasks[a->task].id, id) == 0)))
			return a;
	}
	return NULL;
}

/* The dispatched input of task id in the last step, as compact JSON. */
static char *
dispatched_input(const struct h *h, const char *id)
{
	const struct engine_action *a = action(h, ACT_DISPATCH, id);
	jv s;
	char *r;

	if (a == NULL)
		return xstrdup("(no dispatch)");
	s = jv_dump_string(jv_copy(a->input), 0);
	r = xstrdup(jv_string_value(s));
	jv_free(s);
	return r;
}

#define is_input(h, id, want, ...)                                        \
	do {                                                              \
		char *in_ = dispatched_input(h, id);                      \
		is_str(in_, want, __VA_ARGS__);                           \
		free(in_);                                                \
	} while (0)

static char *
output_of(const struct h *h, const char *id)
{
	jv s = jv_dump_string(jv_copy(h->rt.tasks[ix((struct h *)h,
	    id)].output), 0);
	char *r = xstrdup(jv_string_value(s));

	jv_free(s);
	return r;
}

/* ---- the tests ---- */

static void
test_seed_diamond(void)
{
	struct h h;
	char *out;

	h_init(&h, WF({ "fetch_data", NULL, NULL, NULL },
	    { "validate", "fetch_data", NULL, NULL },
	    { "process", "fetch_data validate", NULL, NULL },
	    { "send_email", "process", NULL, NULL }), NULL);
	is_states(&h, "run=PENDING fetch_data=PENDING validate=PENDING "
	    "process=PENDING send_email=PENDING [0/4 bad 0]",
	    "seed: all pending");

	is_int(start(&h), 0, "seed: start");
	is_str(h.acts, "dispatch fetch_data#1",
	    "seed: only the root dispatched");
	is_str(h.trans, "run PENDING>RUNNING, fetch_data PENDING>READY",
	    "seed: start transitions");
	is_input(&h, "fetch_data", "{}", "seed: null input is {}");
	is_int(h.rt.started_ms, h.now, "seed: started_ms is now");
	is_int(h.rt.deadline_ms, 0, "seed: no deadline without a timeout");

	is_int(started(&h, "fetch_data"), 0, "seed: fetch_data started");
	is_str(h.acts, "", "seed: start has no action");
	is_str(h.trans, "fetch_data READY>RUNNING", "seed: READY>RUNNING");

	is_int(succeed(&h, "fetch_data", "{\"rows\":42}"), 0,
	    "seed: fetch_data succeeded");
	is_str(h.acts, "dispatch validate#1",
	    "seed: validate next, process still waits for it");
	is_str(h.trans, "fetch_data RUNNING>SUCCESS, validate PENDING>READY",
	    "seed: transitions");
	out = output_of(&h, "fetch_data");
	is_str(out, "{\"rows\":42}", "seed: output kept");
	free(out);

	started(&h, "validate");
	is_int(succeed(&h, "validate", NULL), 0, "seed: validate succeeded");
	is_str(h.acts, "dispatch process#1", "seed: process after both");
	started(&h, "process");
	succeed(&h, "process", "{}");
	is_str(h.acts, "dispatch send_email#1", "seed: then send_email");
	is_states(&h, "run=RUNNING fetch_data=SUCCESS validate=SUCCESS "
	    "process=SUCCESS send_email=READY [3/4 bad 0]",
	    "seed: 3 of 4 done");
	started(&h, "send_email");
	is_int(succeed(&h, "send_email", NULL), 0, "seed: last one");
	is_str(h.acts, "finish SUCCESS", "seed: run finished");
	is_str(h.trans, "send_email RUNNING>SUCCESS, run RUNNING>SUCCESS",
	    "seed: final transitions");
	ok(action(&h, ACT_FINISH_RUN, NULL)->message == NULL,
	    "seed: a successful run has no message");
	is_states(&h, "run=SUCCESS fetch_data=SUCCESS validate=SUCCESS "
	    "process=SUCCESS send_email=SUCCESS [4/4 bad 0]", "seed: all done");
	is_int(h.leftover, 0, "seed: every output consumed");
	h_free(&h);
}

static void
test_fan_out_in(void)
{
	struct h h;

	h_init(&h, WF({ "root", NULL, NULL, NULL }, { "a", "root", NULL, NULL },
	    { "b", "root", NULL, NULL }, { "c", "root", NULL, NULL },
	    { "sink", "c a b", NULL, NULL }), NULL);
	start(&h);
	succeed(&h, "root", NULL);
	is_str(h.acts, "dispatch a#1, dispatch b#1, dispatch c#1",
	    "fan: children in order");
	succeed(&h, "c", NULL);
	is_str(h.acts, "", "fan: sink waits (c done)");
	succeed(&h, "a", NULL);
	is_str(h.acts, "", "fan: sink waits (a done)");
	is_int(h.rt.unmet[ix(&h, "sink")], 1, "fan: one dependency left");
	succeed(&h, "b", NULL);
	is_str(h.acts, "dispatch sink#1", "fan: sink after the last one");
	succeed(&h, "sink", NULL);
	is_str(h.acts, "finish SUCCESS", "fan: run succeeds");
	h_free(&h);
}

static void
test_retry_exponential(void)
{
	struct h h;
	struct workflow *wf = WF({ "flaky", NULL, NULL, NULL },
	    { "after", "flaky", NULL, NULL });
	struct retry_policy *p = &wf->tasks[0].retry;
	const struct engine_action *a;

	p->max_attempts = 4;
	p->strategy = BACKOFF_EXPONENTIAL;
	p->initial_delay_ms = 1000;
	p->multiplier = 2;
	p->jitter = 0;
	h_init(&h, wf, NULL);
	start(&h);
	started(&h, "flaky");
	is_int(fail(&h, "flaky", ERR_TIMEOUT, "took too long"), 0,
	    "retry: first failure");
	is_str(h.acts, "retry flaky+1000", "retry: 1s");
	is_str(h.trans, "flaky RUNNING>FAILED, flaky FAILED>RETRY",
	    "retry: RUNNING>FAILED>RETRY");
	a = action(&h, ACT_RETRY_AT, "flaky");
	ok(a && a->error == ERR_TIMEOUT && a->attempt == 1,
	    "retry: action names the class and failed attempt");
	is_int(h.rt.tasks[0].not_before_ms, h.now + 1000, "retry: not_before");
	is_int(h.rt.tasks[0].error, ERR_TIMEOUT, "retry: error kept");

	h.now += 1000;
	is_int(due(&h, "flaky"), 0, "retry: due");
	is_str(h.acts, "dispatch flaky#2", "retry: attempt 2");
	is_str(h.trans, "flaky RETRY>READY", "retry: RETRY>READY");

	started(&h, "flaky");
	fail(&h, "flaky", ERR_CONNECTION, "refused");
	is_str(h.acts, "retry flaky+2000", "retry: 2s");
	h.now += 2000;
	due(&h, "flaky");
	is_str(h.acts, "dispatch flaky#3", "retry: attempt 3");
	fail(&h, "flaky", ERR_HTTP_SERVER, "503");	/* from READY */
	is_str(h.acts, "retry flaky+4000", "retry: 4s");
	is_str(h.trans, "flaky READY>RUNNING, flaky RUNNING>FAILED, "
	    "flaky FAILED>RETRY", "retry: failure reported before start");
	h.now += 4000;
	due(&h, "flaky");
	is_str(h.acts, "dispatch flaky#4", "retry: attempt 4");
	is_int(h.rt.tasks[0].attempt, 4, "retry: attempt counter");
	started(&h, "flaky");
	fail(&h, "flaky", ERR_TIMEOUT, "took too long again");
	is_str(h.acts, "dead flaky TimeoutException, skip after upstream, "
	    "finish FAILED", "retry: attempts exhausted -> DEAD");
	is_str(h.trans, "flaky RUNNING>FAILED, flaky FAILED>DEAD, "
	    "after PENDING>SKIPPED, run RUNNING>FAILED",
	    "retry: exhausted transitions");
	a = action(&h, ACT_DEAD_LETTER, "flaky");
	ok(a && a->message && strcmp(a->message, "took too long again") == 0 &&
	    a->attempt == 4, "retry: dead letter carries the last message");
	a = action(&h, ACT_FINISH_RUN, NULL);
	is_str(a ? a->message : NULL, "task 'flaky' failed (TimeoutException); "
	    "2 of 2 tasks did not succeed", "retry: run message");
	ok(a && a->error == ERR_TIMEOUT, "retry: run error class");
	h_free(&h);
}

static void
test_retry_jitter(void)
{
	static const struct {
		double r;
		long long lo, hi;
	} rows[] = {
		{ 0.5, 1000, 1000 }, { 0.0, 900, 900 }, { 0.999, 900, 1100 },
		{ 0.25, 900, 1100 },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct h h;
		struct workflow *wf = WF({ "t", NULL, NULL, NULL });
		const struct engine_action *a;

		wf->tasks[0].retry.jitter = 0.1;
		h_init(&h, wf, NULL);
		start(&h);
		fail_r(&h, "t", ERR_TIMEOUT, rows[i].r);
		a = action(&h, ACT_RETRY_AT, "t");
		ok(a && a->at_ms - h.now >= rows[i].lo &&
		    a->at_ms - h.now <= rows[i].hi,
		    "jitter 0.1, rand01 %.3f: delay %lld in [%lld, %lld]",
		    rows[i].r, a ? (long long)(a->at_ms - h.now) : -1,
		    rows[i].lo, rows[i].hi);
		h_free(&h);
	}
}

static void
test_not_retryable(void)
{
	static const struct {
		enum errclass c;
		const char *acts;
	} rows[] = {
		{ ERR_VALIDATION, "dead t ValidationException, finish FAILED" },
		{ ERR_NOT_FOUND, "dead t ResourceNotFoundException, "
		    "finish FAILED" },
		{ ERR_HTTP_CLIENT, "dead t HttpClientError, finish FAILED" },
		{ ERR_TASK_FAILED, "dead t TaskFailedException, "
		    "finish FAILED" },
		/* no class: the backend said FAILED */
		{ ERR_NONE, "dead t TaskFailedException, finish FAILED" },
		{ ERR_TIMEOUT, "retry t+1000" },
		{ ERR_CONNECTION, "retry t+1000" },
		{ ERR_HTTP_SERVER, "retry t+1000" },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct h h;
		struct workflow *wf = WF({ "t", NULL, NULL, NULL });

		wf->tasks[0].retry.jitter = 0;
		h_init(&h, wf, NULL);
		start(&h);
		started(&h, "t");
		fail(&h, "t", rows[i].c, "nope");
		is_str(h.acts, rows[i].acts, "default policy, class %s",
		    errclass_name(rows[i].c));
		h_free(&h);
	}
}

/* The driver's timer decides; a wall clock stepped back must not matter. */
static void
test_clock_step(void)
{
	struct h h;
	struct workflow *wf = WF({ "t", NULL, NULL, NULL });

	wf->tasks[0].retry.jitter = 0;
	wf->timeout_ms = 10000;
	h_init(&h, wf, NULL);
	start(&h);
	fail(&h, "t", ERR_TIMEOUT, "slow");
	is_str(h.acts, "retry t+1000", "clock step: retry armed");
	h.now -= 3600000;	/* the wall clock went back an hour */
	is_int(due(&h, "t"), 0, "clock step: the retry still happens");
	is_str(h.acts, "dispatch t#2", "clock step: attempt 2 sent");
	is_int(run_timeout(&h), 0, "clock step: the timeout still applies");
	is_str(h.acts, "finish FAILED", "clock step: run ended");
	h_free(&h);
}

static void
test_max_attempts_default(void)
{
	struct h h;
	struct workflow *wf = WF({ "t", NULL, NULL, NULL });

	wf->tasks[0].retry.jitter = 0;
	h_init(&h, wf, NULL);
	start(&h);
	fail(&h, "t", ERR_CONNECTION, "x");
	is_str(h.acts, "retry t+1000", "default: retry after attempt 1");
	h.now += 1000;
	due(&h, "t");
	fail(&h, "t", ERR_CONNECTION, "x");
	is_str(h.acts, "retry t+2000", "default: retry after attempt 2");
	h.now += 2000;
	due(&h, "t");
	is_str(h.acts, "dispatch t#3", "default: attempt 3");
	fail(&h, "t", ERR_CONNECTION, NULL);
	is_str(h.acts, "dead t ConnectionException, finish FAILED",
	    "default: 3 attempts, then DEAD");
	ok(action(&h, ACT_DEAD_LETTER, "t")->message == NULL,
	    "default: no message given, none made up");
	is_states(&h, "run=FAILED t=DEAD [1/1 bad 1]", "default: final");
	h_free(&h);
}

static void
test_downstream_skipped(void)
{
	struct h h;
	const struct engine_action *a;

	/* a -> b -> c -> d; x -> e; f needs c and x. */
	h_init(&h, WF({ "a", NULL, NULL, NULL }, { "b", "a", NULL, NULL },
	    { "c", "b", NULL, NULL }, { "d", "c", NULL, NULL },
	    { "x", NULL, NULL, NULL }, { "e", "x", NULL, NULL },
	    { "f", "c x", NULL, NULL }), NULL);
	start(&h);
	is_str(h.acts, "dispatch a#1, dispatch x#1", "skip: roots");
	succeed(&h, "a", NULL);
	started(&h, "b");
	fail(&h, "b", ERR_VALIDATION, "bad payload");
	is_str(h.acts, "dead b ValidationException, skip c upstream, "
	    "skip d upstream, skip f upstream",
	    "skip: everything downstream of b, transitively");
	is_str(h.trans, "b RUNNING>FAILED, b FAILED>DEAD, c PENDING>SKIPPED, "
	    "d PENDING>SKIPPED, f PENDING>SKIPPED", "skip: transitions");
	a = action(&h, ACT_DEAD_LETTER, "b");
	is_str(a ? a->message : NULL, "bad payload", "skip: dead message");
	is_states(&h, "run=RUNNING a=SUCCESS b=DEAD c=SKIPPED/upstream "
	    "d=SKIPPED/upstream x=READY e=PENDING f=SKIPPED/upstream "
	    "[5/7 bad 4]", "skip: the independent branch is still going");
	succeed(&h, "x", NULL);
	is_str(h.acts, "dispatch e#1", "skip: independent branch continues, "
	    "f stays skipped");
	succeed(&h, "e", NULL);
	is_str(h.acts, "finish FAILED", "skip: run ends FAILED");
	a = action(&h, ACT_FINISH_RUN, NULL);
	is_str(a ? a->message : NULL, "task 'b' failed (ValidationException); "
	    "4 of 7 tasks did not succeed", "skip: message names b");
	ok(a && a->run_state == RUN_FAILED && a->error == ERR_VALIDATION,
	    "skip: finish action fields");
	h_free(&h);
}

static void
test_when_false(void)
{
	struct h h;

	h_init(&h, WF({ "a", NULL, NULL, NULL }, { "b", "a", "false", NULL },
	    { "c", "b", NULL, NULL }, { "d", "c", "null", NULL },
	    { "e", "d", "1 == 2", NULL }, { "f", "e", NULL, NULL }), NULL);
	start(&h);
	succeed(&h, "a", NULL);
	is_str(h.acts, "skip b condition, dispatch c#1",
	    "when false: skipped, dependent runs");
	is_str(h.trans, "a READY>RUNNING, a RUNNING>SUCCESS, b PENDING>READY, "
	    "b READY>SKIPPED, c PENDING>READY",
	    "when false: READY then SKIPPED");
	succeed(&h, "c", NULL);
	is_str(h.acts, "skip d condition, skip e condition, dispatch f#1",
	    "when null and when false in a row, then f runs");
	succeed(&h, "f", NULL);
	is_str(h.acts, "finish SUCCESS",
	    "condition skips do not fail the run");
	is_states(&h, "run=SUCCESS a=SUCCESS b=SKIPPED/condition c=SUCCESS "
	    "d=SKIPPED/condition e=SKIPPED/condition f=SUCCESS [6/6 bad 0]",
	    "when false: final");
	h_free(&h);

	/* Every root skipped by condition: the run still succeeds. */
	h_init(&h, WF({ "a", NULL, "false", NULL }, { "b", NULL, "false",
	    NULL }), NULL);
	start(&h);
	is_str(h.acts, "skip a condition, skip b condition, finish SUCCESS",
	    "all roots skipped: run done at start");
	h_free(&h);

	/* A true condition dispatches; when: is asked once, not on retry. */
	h_init(&h, WF({ "a", NULL, "true", NULL }), NULL);
	start(&h);
	is_str(h.acts, "dispatch a#1", "when true: dispatched");
	fail(&h, "a", ERR_TIMEOUT, "slow");
	h.now += 100000;
	free(h.wf->tasks[0].when);
	h.wf->tasks[0].when = xstrdup("false");	/* would skip if asked */
	due(&h, "a");
	is_str(h.acts, "dispatch a#2", "when: not evaluated again on retry");
	h_free(&h);
}

static void
test_when_outputs_params(void)
{
	struct h h;
	struct workflow *wf = WF({ "a", NULL, NULL, NULL },
	    { "big", "a", ".tasks.a.output.n > 3", NULL },
	    { "huge", "a", ".tasks.a.output.n > 10", NULL },
	    { "prod", "a", ".params.env == \"prod\"", NULL },
	    { "missing", "a", ".tasks.nope.output.n", NULL });

	jv_free(wf->params);
	wf->params = jv_parse("{\"env\":\"dev\"}");
	h_init(&h, wf, "{\"env\":\"prod\"}");
	start(&h);
	succeed(&h, "a", "{\"n\":5}");
	is_str(h.acts, "dispatch big#1, skip huge condition, dispatch prod#1, "
	    "skip missing condition",
	    "when: upstream output and params decide");
	h_free(&h);
}

static void
test_when_error(void)
{
	struct h h;
	const struct engine_action *a;

	h_init(&h, WF({ "a", NULL, NULL, NULL },
	    { "b", "a", "this is not jq ((", NULL },
	    { "c", "b", NULL, NULL }, { "d", "a", NULL, NULL }), NULL);
	start(&h);
	succeed(&h, "a", NULL);
	is_str(h.acts, "dead b ValidationException, skip c upstream, "
	    "dispatch d#1", "when error: DEAD at once, downstream skipped");
	is_str(h.trans, "a READY>RUNNING, a RUNNING>SUCCESS, b PENDING>READY, "
	    "b READY>RUNNING, b RUNNING>FAILED, b FAILED>DEAD, "
	    "c PENDING>SKIPPED, d PENDING>READY",
	    "when error: legal transitions only");
	a = action(&h, ACT_DEAD_LETTER, "b");
	ok(a && a->attempt == 1 && h.rt.tasks[ix(&h, "b")].attempt == 1,
	    "when error: counted as attempt 1");
	ok(a && a->message && strstr(a->message, "task 'b'") &&
	    strstr(a->message, "this is not jq (("),
	    "when error: message names task and expression: %s",
	    a && a->message ? a->message : "(none)");
	succeed(&h, "d", NULL);
	is_str(h.acts, "finish FAILED", "when error: run fails");
	h_free(&h);

	/* A runtime error, not a compile error, and a generous policy. */
	h_init(&h, WF({ "a", NULL, ".params.x | error(\"no x\")", NULL }),
	    NULL);
	h.wf->tasks[0].retry.retry_on = ~0u;
	h.wf->tasks[0].retry.dont_retry_on = 0;
	start(&h);
	is_str(h.acts, "dead a ValidationException, finish FAILED",
	    "when runtime error: DEAD even when the policy retries all");
	h_free(&h);
}

static void
test_input(void)
{
	struct h h;
	struct workflow *wf = WF({ "a", NULL, NULL,
	    "{\"region\":\"${{ .params.region }}\",\"fixed\":\"plain\"}" },
	    { "b", "a", NULL,
		"{\"n\":\"${{ .tasks.a.output.n }}\","
		"\"msg\":\"got ${{ .tasks.a.output.n }} in "
		"${{ .params.region }}\",\"list\":[\"${{ .params.count }}\",1],"
		"\"lit\":\"$${{ not me }}\"}" },
	    { "c", "a", NULL, "{\"static\":[1,2,{\"k\":\"v\"}]}" },
	    { "d", "a", NULL, "{\"bad\":\"${{ .params.region | error }}\"}" });

	jv_free(wf->params);
	wf->params = jv_parse("{\"region\":\"eu\",\"count\":3}");
	h_init(&h, wf, "{\"count\":7}");
	start(&h);
	is_input(&h, "a", "{\"region\":\"eu\",\"fixed\":\"plain\"}",
	    "input: params rendered");
	succeed(&h, "a", "{\"n\":5}");
	is_input(&h, "b", "{\"n\":5,\"msg\":\"got 5 in eu\",\"list\":[7,1],"
	    "\"lit\":\"${{ not me }}\"}", "input: upstream output, text, "
	    "arrays, escapes");
	is_input(&h, "c", "{\"static\":[1,2,{\"k\":\"v\"}]}",
	    "input: no expressions, as written");
	ok(action(&h, ACT_DEAD_LETTER, "d") != NULL &&
	    h.rt.tasks[ix(&h, "d")].state == TASK_DEAD &&
	    h.rt.tasks[ix(&h, "d")].error == ERR_VALIDATION,
	    "input: render error makes the task DEAD (validation)");
	{
		const struct engine_action *a = action(&h, ACT_DEAD_LETTER,
		    "d");

		ok(a && a->message && strstr(a->message, "task 'd'") &&
		    strstr(a->message, "input") &&
		    strstr(a->message, ".params.region | error"),
		    "input error message names task and expression: %s",
		    a && a->message ? a->message : "(none)");
	}
	/* A retry renders the same input again. */
	fail(&h, "b", ERR_TIMEOUT, "slow");
	h.now += 100000;
	due(&h, "b");
	is_input(&h, "b", "{\"n\":5,\"msg\":\"got 5 in eu\",\"list\":[7,1],"
	    "\"lit\":\"${{ not me }}\"}", "input: same on retry");
	h_free(&h);
}

static void
test_params(void)
{
	static const struct {
		const char *declared, *input, *want, *err;
	} rows[] = {
		{ "{\"env\":\"dev\",\"n\":1}", NULL,
		    "{\"env\":\"dev\",\"n\":1}", NULL },
		{ "{\"env\":\"dev\",\"n\":1}", "{\"n\":2}",
		    "{\"env\":\"dev\",\"n\":2}", NULL },
		{ "{\"env\":\"dev\",\"n\":1}", "{\"env\":\"prod\",\"n\":null}",
		    "{\"env\":\"prod\",\"n\":null}", NULL },
		{ "{\"env\":\"dev\",\"n\":1}", "{\"x\":1}", NULL,
		    "unknown param 'x'; declared: env, n" },
		{ "{\"b\":1,\"a\":1}", "{\"a\":2,\"zz\":0}", NULL,
		    "unknown param 'zz'; declared: a, b" },
		{ "{\"env\":\"dev\"}", "[1]", NULL,
		    "run input must be a JSON object, not array" },
		{ "{}", "\"str\"", NULL,
		    "run input must be a JSON object, not string" },
		/* Nothing declared: any object is the params. */
		{ "{}", "{\"anything\":[1]}", "{\"anything\":[1]}", NULL },
		{ "null", "{\"k\":true}", "{\"k\":true}", NULL },
		{ "{}", NULL, "{}", NULL },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct workflow *wf = WF({ "t", NULL, NULL, NULL });
		struct run_rt rt;
		char *err = (char *)"unset";
		int rc;

		jv_free(wf->params);
		wf->params = jv_parse(rows[i].declared);
		rc = run_rt_init(&rt, wf, rows[i].input ?
		    jv_parse(rows[i].input) : jv_null(), &err);
		if (rows[i].want != NULL) {
			jv want = jv_parse(rows[i].want);

			ok(rc == 0 && err == NULL &&
			    jv_equal(jv_copy(rt.params), want),
			    "params %s + %s", rows[i].declared,
			    rows[i].input ? rows[i].input : "null");
		} else {
			ok(rc == -1, "params %s + %s refused",
			    rows[i].declared, rows[i].input);
			is_str(rc == -1 ? err : NULL, rows[i].err,
			    "params error message");
			ok(rt.tasks == NULL && rt.ntasks == 0,
			    "failed init leaves nothing to free");
			free(err);
		}
		run_rt_free(&rt);
		run_rt_free(&rt); /* twice is harmless */
		wf_free_hand(wf);
	}
}

static void
test_cancel(void)
{
	struct h h;
	char *before, *after;

	/* r1 running, r2 ready (dispatched), w waits, z in RETRY. */
	h_init(&h, WF({ "r1", NULL, NULL, NULL }, { "r2", NULL, NULL, NULL },
	    { "w", "r1 r2", NULL, NULL }, { "z", NULL, NULL, NULL },
	    { "done", NULL, NULL, NULL }), NULL);
	start(&h);
	started(&h, "r1");
	fail(&h, "z", ERR_TIMEOUT, "slow");
	succeed(&h, "done", NULL);
	is_int(cancel(&h), 0, "cancel mid-run");
	is_str(h.acts, "cancel r1, finish CANCELLED",
	    "cancel: the running task is stopped, the run ends");
	is_str(h.trans, "r1 RUNNING>CANCELLED, r2 READY>CANCELLED, "
	    "w PENDING>CANCELLED, z RETRY>CANCELLED, run RUNNING>CANCELLED",
	    "cancel: every unfinished task cancelled");
	is_str(action(&h, ACT_FINISH_RUN, NULL)->message, "run cancelled",
	    "cancel: message");
	is_states(&h, "run=CANCELLED r1=CANCELLED r2=CANCELLED w=CANCELLED "
	    "z=CANCELLED done=SUCCESS [5/5 bad 4]", "cancel: final states");

	/* A late result: refused, nothing changed, output still consumed. */
	before = states(&h);
	is_int(succeed(&h, "r1", "{\"late\":[1,2,3]}"), -1,
	    "late success after cancel refused");
	is_int(h.err, EINVAL, "late result: EINVAL");
	is_int(h.res.nactions + h.res.ntransitions, 0,
	    "late result: no actions, no transitions");
	after = states(&h);
	is_str(after, before, "late result: nothing changed");
	free(after);
	is_int(fail(&h, "r2", ERR_TIMEOUT, "x"), -1, "late failure refused");
	is_int(started(&h, "r2"), -1, "late start refused");
	is_int(due(&h, "z"), -1, "late retry refused");
	is_int(cancel(&h), -1, "cancelling twice refused");
	is_int(start(&h), -1, "starting a cancelled run refused");
	after = states(&h);
	is_str(after, before, "still nothing changed");
	free(after);
	free(before);
	is_int(h.leftover, 0, "refused events' outputs were consumed");
	h_free(&h);

	/* Cancelling a run that never started. */
	h_init(&h, WF({ "a", NULL, NULL, NULL }, { "b", "a", NULL, NULL }),
	    NULL);
	is_int(cancel(&h), 0, "cancel a pending run");
	is_str(h.acts, "finish CANCELLED", "cancel pending: no task to stop");
	is_str(h.trans, "a PENDING>CANCELLED, b PENDING>CANCELLED, "
	    "run PENDING>CANCELLED", "cancel pending: transitions");
	h_free(&h);
}

static void
test_run_timeout(void)
{
	struct h h;
	struct workflow *wf = WF({ "slow", NULL, NULL, NULL },
	    { "next", "slow", NULL, NULL }, { "quick", NULL, NULL, NULL });
	const struct engine_action *a;

	wf->timeout_ms = 60000;
	h_init(&h, wf, NULL);
	start(&h);
	is_int(h.rt.deadline_ms, h.now + 60000, "timeout: deadline set");
	started(&h, "slow");
	succeed(&h, "quick", NULL);
	h.now += 60000;
	is_int(run_timeout(&h), 0, "timeout at the deadline");
	is_str(h.acts, "cancel slow, finish FAILED",
	    "timeout: running task stopped, run FAILED");
	is_str(h.trans, "slow RUNNING>CANCELLED, next PENDING>CANCELLED, "
	    "run RUNNING>FAILED", "timeout: transitions");
	a = action(&h, ACT_FINISH_RUN, NULL);
	ok(a && a->error == ERR_TIMEOUT && a->run_state == RUN_FAILED,
	    "timeout: ERR_TIMEOUT");
	is_str(a ? a->message : NULL, "run timed out after 1m",
	    "timeout: message");
	is_int(succeed(&h, "slow", NULL), -1, "timeout: late result refused");
	h_free(&h);

	/* No timeout configured: a timeout event does not apply. */
	h_init(&h, WF({ "a", NULL, NULL, NULL }), NULL);
	start(&h);
	h.now += 1000000000;
	is_int(run_timeout(&h), -1, "no deadline: timeout refused");
	h_free(&h);
}

static void
test_refusals(void)
{
	struct h h;
	char *before, *after, *out;

	h_init(&h, WF({ "a", NULL, NULL, NULL }, { "b", "a", NULL, NULL }),
	    NULL);
	is_int(succeed(&h, "a", "{}"), -1, "task event before run start");
	is_int(run_timeout(&h), -1, "timeout of a pending run");
	start(&h);
	is_int(start(&h), -1, "start twice refused");
	is_int(started(&h, "b"), -1, "start of a PENDING task refused");
	is_int(succeed(&h, "b", "1"), -1, "result of a PENDING task refused");
	is_int(due(&h, "a"), -1, "retry of a READY task refused");
	is_int(step_ix(&h, EV_TASK_SUCCEEDED, 99, jv_parse("{\"x\":1}"),
	    ERR_NONE, NULL, 0), -1, "task index out of range refused");
	is_int(step_ix(&h, (enum engine_event_type)42, 0, jv_null(), ERR_NONE,
	    NULL, 0), -1, "unknown event type refused");

	/* EV_TASK_SUCCEEDED straight from READY. */
	is_int(succeed(&h, "a", "{\"v\":1}"), 0, "success from READY");
	is_str(h.trans, "a READY>RUNNING, a RUNNING>SUCCESS, b PENDING>READY",
	    "success from READY records both transitions");
	before = states(&h);
	is_int(succeed(&h, "a", "{\"v\":2}"), -1, "duplicate success refused");
	is_int(h.err, EINVAL, "duplicate: EINVAL");
	is_int(h.res.nactions + h.res.ntransitions, 0, "duplicate: no effect");
	after = states(&h);
	is_str(after, before, "duplicate: states unchanged");
	out = output_of(&h, "a");
	is_str(out, "{\"v\":1}", "duplicate: first output kept");
	free(out);
	free(after);
	free(before);
	is_int(started(&h, "a"), -1, "start after success refused");
	is_int(h.leftover, 0, "outputs consumed in every path");

	/* The result is appended to, not cleared, by engine_step. */
	{
		struct engine_event ev;
		struct engine_result res;

		engine_result_init(&res);
		memset(&ev, 0, sizeof(ev));
		ev.type = EV_TASK_STARTED;
		ev.task = ix(&h, "b");
		ev.output = jv_parse("{\"ignored\":true}");
		ok(engine_step(h.wf, &h.rt, h.jq, &ev, &res) == 0 &&
		    res.ntransitions == 1, "step into a fresh result");
		ok(jv_get_kind(ev.output) == JV_KIND_NULL,
		    "unused output consumed and replaced by null");
		ev.type = EV_TASK_SUCCEEDED;
		ev.output = jv_parse("[1]");
		ok(engine_step(h.wf, &h.rt, h.jq, &ev, &res) == 0 &&
		    res.ntransitions == 3 && res.nactions == 1,
		    "second step appends");
		engine_result_clear(&res);
		ok(res.nactions == 0 && res.ntransitions == 0 &&
		    res.actions == NULL, "clear empties the result");
		engine_result_clear(&res);
	}
	h_free(&h);
}

static void
test_fail_from_ready_and_cancel_retry(void)
{
	struct h h;

	h_init(&h, WF({ "a", NULL, NULL, NULL }), NULL);
	h.wf->tasks[0].retry.jitter = 0;
	start(&h);
	is_int(fail(&h, "a", ERR_TIMEOUT, "t"), 0, "failure from READY");
	is_str(h.trans, "a READY>RUNNING, a RUNNING>FAILED, a FAILED>RETRY",
	    "failure from READY: all steps recorded");
	is_int(cancel(&h), 0, "cancel while waiting to retry");
	is_str(h.acts, "finish CANCELLED", "no running attempt to stop");
	h_free(&h);
}

static void
test_recount(void)
{
	struct h h;

	/* A driver loads a half-done run from its database. */
	h_init(&h, WF({ "fetch_data", NULL, NULL, NULL },
	    { "validate", "fetch_data", NULL, NULL },
	    { "process", "fetch_data validate", NULL, NULL },
	    { "cond", NULL, "false", NULL },
	    { "send_email", "process cond", NULL, NULL }), NULL);
	h.rt.state = RUN_RUNNING;
	h.rt.tasks[0].state = TASK_SUCCESS;
	h.rt.tasks[1].state = TASK_SUCCESS;
	h.rt.tasks[2].state = TASK_RUNNING;
	h.rt.tasks[2].attempt = 1;
	h.rt.tasks[3].state = TASK_SKIPPED;
	h.rt.tasks[3].skip = SKIP_CONDITION;
	run_rt_recount(&h.rt);
	is_int(h.rt.nterminal, 3, "recount: 3 terminal");
	is_int(h.rt.nbad, 0, "recount: none bad");
	is_int(h.rt.unmet[4], 1, "recount: send_email waits for process only");
	succeed(&h, "process", NULL);
	is_str(h.acts, "dispatch send_email#1", "recount: the run goes on");
	succeed(&h, "send_email", NULL);
	is_str(h.acts, "finish SUCCESS", "recount: and finishes");
	h.rt.tasks[3].skip = SKIP_UPSTREAM;
	h.rt.tasks[1].state = TASK_DEAD;
	run_rt_recount(&h.rt);
	is_int(h.rt.nbad, 2, "recount: DEAD and upstream-skipped are bad");
	is_int(h.rt.unmet[2], 1, "recount: DEAD does not satisfy");
	h_free(&h);
}

static int
recover(struct h *h)
{
	return step_ix(h, EV_RECOVER, 0, jv_null(), ERR_NONE, NULL, 0);
}

/*
 * A run loaded from rows a driver wrote only in part: the tasks whose
 * rows were lost read as PENDING and are derived again.
 */
static void
test_recover(void)
{
	struct h h;

	/* A fan-out whose first pass stored a and b, not c and d. */
	h_init(&h, WF({ "a", NULL, NULL, NULL }, { "b", NULL, NULL, NULL },
	    { "c", NULL, NULL, NULL }, { "d", NULL, NULL, NULL },
	    { "e", "a b c d", NULL, NULL }), NULL);
	is_int(recover(&h), -1, "recover: a PENDING run is started, not "
	    "recovered");
	is_int(h.err, EINVAL, "recover: EINVAL");
	h.rt.state = RUN_RUNNING;
	h.rt.tasks[0].state = TASK_SUCCESS;
	h.rt.tasks[0].attempt = 1;
	h.rt.tasks[1].state = TASK_READY;
	h.rt.tasks[1].attempt = 1;
	run_rt_recount(&h.rt);
	is_int(recover(&h), 0, "recover: applies to a RUNNING run");
	is_str(h.acts, "dispatch c#1, dispatch d#1",
	    "recover: the tasks without their rows are dispatched");
	is_str(h.trans, "c PENDING>READY, d PENDING>READY",
	    "recover: as their lost pass would have");
	recover(&h);
	is_str(h.acts, "", "recover: a run stored whole is left alone");
	is_str(h.trans, "", "recover: no transition either");
	succeed(&h, "b", NULL);
	succeed(&h, "c", NULL);
	succeed(&h, "d", NULL);
	is_str(h.acts, "dispatch e#1", "recover: the run goes on");
	h_free(&h);

	/* Behind a dead task, behind a condition; a run all done. */
	h_init(&h, WF({ "a", NULL, NULL, NULL }, { "b", "a", NULL, NULL },
	    { "c", "b", NULL, NULL }, { "x", NULL, "false", NULL },
	    { "y", "x", NULL, NULL }), NULL);
	h.rt.state = RUN_RUNNING;
	h.rt.tasks[0].state = TASK_DEAD;
	h.rt.tasks[0].attempt = 3;
	h.rt.tasks[3].state = TASK_SKIPPED;
	h.rt.tasks[3].skip = SKIP_CONDITION;
	run_rt_recount(&h.rt);
	recover(&h);
	is_str(h.acts, "skip b upstream, skip c upstream, dispatch y#1",
	    "recover: skips what a dead task holds back, runs what a false "
	    "condition lets through");
	succeed(&h, "y", NULL);
	is_str(h.acts, "finish FAILED", "recover: and the run ends");
	h_free(&h);

	h_init(&h, WF({ "a", NULL, NULL, NULL }), NULL);
	h.rt.state = RUN_RUNNING;
	h.rt.tasks[0].state = TASK_SUCCESS;
	run_rt_recount(&h.rt);
	recover(&h);
	is_str(h.acts, "finish SUCCESS", "recover: a run whose last pass was "
	    "lost ends");
	h_free(&h);
}

static void
test_empty(void)
{
	struct h h;

	h_init(&h, wf_done(wf_new(0)), NULL);
	is_int(start(&h), 0, "empty workflow starts");
	is_str(h.acts, "finish SUCCESS", "empty workflow succeeds at once");
	h_free(&h);
	is_str(skip_reason_name(SKIP_NONE), "", "skip reason none");
	is_str(skip_reason_name(SKIP_CONDITION), "condition", "condition");
	is_str(skip_reason_name(SKIP_UPSTREAM), "upstream", "upstream");
}

/*
 * 10,000 tasks fanned out from one root and back into one sink.  With
 * per-event work proportional to the run size this would take 10^8 steps;
 * with the engine's counters it is instant.  Counts, not timing, are
 * asserted.
 */
static void
test_big_fan(void)
{
	const size_t n = 10000;
	struct workflow *wf = wf_new(n + 2);
	struct h h;
	size_t total = 0, maxper = 0, maxtr = 0;
	char id[32];
	int good = 1;

	wf_task(wf, 0, "root", NULL);
	for (size_t i = 1; i <= n; i++) {
		snprintf(id, sizeof(id), "leaf%zu", i);
		wf_task(wf, i, id, "root");
	}
	wf_task(wf, n + 1, "sink", NULL);
	wf->tasks[n + 1].depends_on = xcalloc(n, sizeof(char *));
	for (size_t i = 1; i <= n; i++) {
		snprintf(id, sizeof(id), "leaf%zu", i);
		wf->tasks[n + 1].depends_on[i - 1] = xstrdup(id);
	}
	wf->tasks[n + 1].ndepends = n;
	/* wf_done resolves by linear search: give it indices instead. */
	{
		const size_t **deps = xcalloc(n + 2, sizeof(*deps));
		size_t *ndeps = xcalloc(n + 2, sizeof(*ndeps));

		for (size_t i = 0; i < n + 2; i++) {
			struct task *t = &wf->tasks[i];

			t->dep_index = xcalloc(t->ndepends ? t->ndepends : 1,
			    sizeof(size_t));
			for (size_t k = 0; k < t->ndepends; k++)
				t->dep_index[k] = i == n + 1 ? k + 1 : 0;
			deps[i] = t->dep_index;
			ndeps[i] = t->ndepends;
		}
		wf->dag = dag_build(n + 2, (const size_t *const *)deps, ndeps,
		    NULL, NULL);
		free(deps);
		free(ndeps);
	}
	ok(wf->dag != NULL, "big fan: graph of %zu tasks", n + 2);
	h_init(&h, wf, NULL);
	start(&h);
	total += h.res.nactions;
	succeed(&h, "root", NULL);
	total += h.res.nactions;
	is_int(h.res.nactions, n, "big fan: root releases every leaf");
	for (size_t i = 1; i <= n; i++) {
		/* Half report a start first, half go straight from READY. */
		if (i % 2 == 0 && step_ix(&h, EV_TASK_STARTED, i, jv_null(),
		    ERR_NONE, NULL, 0) != 0)
			good = 0;
		if (step_ix(&h, EV_TASK_SUCCEEDED, i, jv_parse("{\"i\":1}"),
		    ERR_NONE, NULL, 0) != 0)
			good = 0;
		total += h.res.nactions;
		if (h.res.nactions > maxper && i < n)
			maxper = h.res.nactions;
		if (h.res.ntransitions > maxtr)
			maxtr = h.res.ntransitions;
	}
	ok(good, "big fan: every leaf accepted");
	is_int(maxper, 0, "big fan: a leaf completion does nothing else");
	is_int(maxtr, 2, "big fan: at most 2 transitions per event");
	is_str(h.acts, "dispatch sink#1", "big fan: the last leaf frees sink");
	succeed(&h, "sink", NULL);
	total += h.res.nactions;
	is_str(h.acts, "finish SUCCESS", "big fan: run done");
	is_int(total, n + 3, "big fan: total actions");
	is_int(h.rt.nterminal, n + 2, "big fan: all terminal");
	h_free(&h);
}

/* 10,000 leaves whose input uses an expression: one context per event. */
static void
test_big_fan_templates(void)
{
	const size_t n = 10000;
	struct workflow *wf = wf_new(n + 1);
	struct h h;
	char id[32];
	int good = 1;

	wf_task(wf, 0, "root", NULL);
	for (size_t i = 1; i <= n; i++) {
		struct task *t;

		snprintf(id, sizeof(id), "leaf%zu", i);
		t = wf_task(wf, i, id, NULL);
		t->depends_on = xcalloc(1, sizeof(char *));
		t->depends_on[0] = xstrdup("root");
		t->ndepends = 1;
		jv_free(t->input);
		t->input = jv_parse(
		    "{\"seed\":\"${{ .tasks.root.output.s }}\"}");
	}
	{
		const size_t **deps = xcalloc(n + 1, sizeof(*deps));
		size_t *ndeps = xcalloc(n + 1, sizeof(*ndeps));

		for (size_t i = 0; i <= n; i++) {
			struct task *t = &wf->tasks[i];

			t->dep_index = xcalloc(1, sizeof(size_t));
			deps[i] = t->dep_index;
			ndeps[i] = t->ndepends;
		}
		wf->dag = dag_build(n + 1, (const size_t *const *)deps, ndeps,
		    NULL, NULL);
		free(deps);
		free(ndeps);
	}
	h_init(&h, wf, NULL);
	start(&h);
	succeed(&h, "root", "{\"s\":42}");
	is_int(h.res.nactions, n, "templated fan: every leaf dispatched");
	for (size_t i = 0; i < h.res.nactions; i++) {
		jv want = jv_parse("{\"seed\":42}");

		if (!jv_equal(jv_copy(h.res.actions[i].input), want))
			good = 0;
	}
	ok(good, "templated fan: every input rendered");
	for (size_t i = 1; i <= n; i++)
		step_ix(&h, EV_TASK_SUCCEEDED, i, jv_null(), ERR_NONE, NULL, 0);
	is_str(h.acts, "finish SUCCESS", "templated fan: run done");
	h_free(&h);
}

/* ---- resets: retry --from-failed, task rerun, dead-letter replay ---- */

/* The ids of engine_failed_tasks(), space-separated (as reset_tasks()
 * takes them). */
static char *
failed_ids(const struct h *h)
{
	size_t *out = xcalloc(h->rt.ntasks + 1, sizeof(*out));
	size_t n = engine_failed_tasks(&h->rt, out);
	char *s = xstrdup("");

	for (size_t i = 0; i < n; i++) {
		char *t = xasprintf("%s%s%s", s, i ? " " : "",
		    h->wf->tasks[out[i]].id);

		free(s);
		s = t;
	}
	free(out);
	return s;
}

/* A reset must leave the counters as run_rt_recount() would. */
static void
is_recounted(struct h *h, const char *name)
{
	size_t nterminal = h->rt.nterminal, nbad = h->rt.nbad;
	size_t *unmet = xcalloc(h->rt.ntasks + 1, sizeof(*unmet));
	int same = 1;

	memcpy(unmet, h->rt.unmet, h->rt.ntasks * sizeof(*unmet));
	run_rt_recount(&h->rt);
	for (size_t i = 0; i < h->rt.ntasks; i++)
		same &= unmet[i] == h->rt.unmet[i];
	ok(same && nterminal == h->rt.nterminal && nbad == h->rt.nbad,
	    "%s: counters agree with a recount", name);
	free(unmet);
}

static void
test_reset_retry_failed(void)
{
	struct h h;
	struct workflow *wf = WF({ "a", NULL, NULL, NULL },
	    { "b", "a", NULL, NULL },
	    { "c", "b", NULL, "{\"fromA\":\"${{ .tasks.a.output.v }}\","
	      "\"fromB\":\"${{ .tasks.b.output.v }}\"}" },
	    { "d", "a", NULL, NULL });
	struct retry_policy *p = &wf->tasks[1].retry;
	const struct engine_action *a;
	char *ids;

	p->max_attempts = 2;
	p->jitter = 0;
	p->retry_on |= ERRCLASS_BIT(ERR_TASK_FAILED);
	wf->timeout_ms = 60000;
	h_init(&h, wf, NULL);
	start(&h);
	succeed(&h, "a", "{\"v\":\"A\"}");
	succeed(&h, "d", NULL);
	fail(&h, "b", ERR_TASK_FAILED, "no");
	h.now += 1000;
	due(&h, "b");
	fail(&h, "b", ERR_TASK_FAILED, "still no");
	is_str(h.acts, "dead b TaskFailedException, skip c upstream, "
	    "finish FAILED", "retry-failed: b DEAD after 2 attempts");
	ids = failed_ids(&h);
	is_str(ids, "b c", "retry-failed: DEAD and upstream-skipped tasks");
	free(ids);

	h.now += 500000;	/* long after the run's deadline */
	is_int(reset_tasks(&h, "b c", 0), 0, "retry-failed: reset applies");
	is_str(h.trans, "b DEAD>PENDING, c SKIPPED>PENDING, "
	    "run FAILED>RUNNING, b PENDING>READY",
	    "retry-failed: both back to PENDING, the run RUNNING again");
	is_str(h.acts, "reset b, reset c, dispatch b#3",
	    "retry-failed: b's attempt numbers go on");
	a = action(&h, ACT_RESET, "b");
	ok(a && a->attempt == 2, "retry-failed: reset names the last attempt");
	is_states(&h, "run=RUNNING a=SUCCESS b=READY c=PENDING d=SUCCESS "
	    "[2/4 bad 0]", "retry-failed: states after the reset");
	is_int(h.rt.tasks[1].attempt_base, 2, "retry-failed: attempt base");
	is_int(h.rt.deadline_ms, h.now + 60000,
	    "retry-failed: the run timeout starts again");
	is_recounted(&h, "retry-failed");

	/* A fresh budget: attempt 3 is the first of two again. */
	fail(&h, "b", ERR_TASK_FAILED, "third");
	is_str(h.acts, "retry b+1000",
	    "retry-failed: retried, backoff from the start");
	h.now += 1000;
	due(&h, "b");
	is_str(h.acts, "dispatch b#4", "retry-failed: attempt 4");
	succeed(&h, "b", "{\"v\":\"B\"}");
	is_str(h.acts, "dispatch c#1", "retry-failed: c runs");
	is_input(&h, "c", "{\"fromA\":\"A\",\"fromB\":\"B\"}",
	    "retry-failed: a's output reused, b's new one used");
	succeed(&h, "c", NULL);
	is_str(h.acts, "finish SUCCESS", "retry-failed: run succeeds");
	is_states(&h, "run=SUCCESS a=SUCCESS b=SUCCESS c=SUCCESS d=SUCCESS "
	    "[4/4 bad 0]", "retry-failed: final");

	/* Nothing failed: nothing to retry; a SUCCESS run has no bad task. */
	ids = failed_ids(&h);
	is_str(ids, "", "retry-failed: none failed now");
	free(ids);
	h_free(&h);

	/* Attempts out again after a reset: DEAD with the right number. */
	wf = WF({ "t", NULL, NULL, NULL });
	wf->tasks[0].retry.max_attempts = 2;
	wf->tasks[0].retry.jitter = 0;
	h_init(&h, wf, NULL);
	start(&h);
	fail(&h, "t", ERR_TIMEOUT, "1");
	due(&h, "t");
	fail(&h, "t", ERR_TIMEOUT, "2");
	reset_tasks(&h, "t", 0);
	is_str(h.acts, "reset t, dispatch t#3", "budget: attempt 3");
	fail(&h, "t", ERR_TIMEOUT, "3");
	is_str(h.acts, "retry t+1000", "budget: 3 is the first of 2");
	due(&h, "t");
	fail(&h, "t", ERR_TIMEOUT, "4");
	is_str(h.acts, "dead t TimeoutException, finish FAILED",
	    "budget: 4 is the last of 2");
	a = action(&h, ACT_DEAD_LETTER, "t");
	ok(a && a->attempt == 4, "budget: the dead letter names attempt 4");
	h_free(&h);
}

static void
test_reset_cancelled(void)
{
	struct h h;
	char *ids;

	/* Cancelled mid-run: the cancelled tasks run again. */
	h_init(&h, WF({ "a", NULL, NULL, NULL }, { "b", "a", NULL, NULL },
	    { "q", NULL, NULL, NULL }), NULL);
	start(&h);
	started(&h, "a");
	succeed(&h, "q", NULL);
	cancel(&h);
	ids = failed_ids(&h);
	is_str(ids, "a b", "cancelled: the cancelled tasks");
	is_int(reset_tasks(&h, ids, 0), 0, "cancelled: reset applies");
	free(ids);
	is_str(h.trans, "a CANCELLED>PENDING, b CANCELLED>PENDING, "
	    "run CANCELLED>RUNNING, a PENDING>READY",
	    "cancelled: back to RUNNING");
	is_str(h.acts, "reset a, reset b, dispatch a#2",
	    "cancelled: a's stopped attempt 1 is not reused");
	succeed(&h, "a", NULL);
	succeed(&h, "b", NULL);
	is_str(h.acts, "finish SUCCESS", "cancelled: the run finishes");
	h_free(&h);

	/* Cancelled before it started: nothing was dispatched yet. */
	h_init(&h, WF({ "a", NULL, NULL, NULL }, { "b", "a", NULL, NULL }),
	    NULL);
	cancel(&h);
	is_int(reset_tasks(&h, "a b", 0), 0, "never started: reset applies");
	is_str(h.acts, "reset a, reset b, dispatch a#1",
	    "never started: attempt 1");
	is_int(h.rt.deadline_ms, 0, "never started: no timeout, no deadline");
	h_free(&h);
}

static void
test_reset_replay(void)
{
	struct h h;
	char *why = NULL, *before, *after;

	/*
	 * a and x fail for good.  b and e wait on a only; c waits on b and
	 * x.  Replaying a brings b and e back, c stays skipped (x is DEAD).
	 */
	h_init(&h, WF({ "a", NULL, NULL, NULL }, { "x", NULL, NULL, NULL },
	    { "b", "a", NULL, NULL }, { "c", "b x", NULL, NULL },
	    { "e", "b", NULL, NULL }), NULL);
	start(&h);
	fail(&h, "a", ERR_VALIDATION, "bad");
	fail(&h, "x", ERR_VALIDATION, "bad too");
	is_states(&h, "run=FAILED a=DEAD x=DEAD b=SKIPPED/upstream "
	    "c=SKIPPED/upstream e=SKIPPED/upstream [5/5 bad 5]",
	    "replay: failed run");

	/* What cannot run is refused, and nothing changes. */
	before = states(&h);
	is_int(reset_why(&h, "c", 0, &why), -1, "replay: c refused");
	is_int(h.err, EINVAL, "replay: EINVAL");
	is_str(why, "task 'c' cannot run while its dependency 'b' is "
	    "SKIPPED; run that one again (with what is downstream of it)",
	    "replay: why c cannot run");
	free(why);
	is_int(h.res.nactions + h.res.ntransitions, 0, "replay: no effect");
	after = states(&h);
	is_str(after, before, "replay: states unchanged after a refusal");
	free(after);
	free(before);

	is_int(reset_tasks(&h, "a", 0), 0, "replay a");
	is_str(h.acts, "reset a, reset b, reset e, dispatch a#2",
	    "replay: a and what was skipped only because of it");
	is_str(h.trans, "a DEAD>PENDING, b SKIPPED>PENDING, "
	    "e SKIPPED>PENDING, run FAILED>RUNNING, a PENDING>READY",
	    "replay: transitions in topological order");
	is_states(&h, "run=RUNNING a=READY x=DEAD b=PENDING "
	    "c=SKIPPED/upstream e=PENDING [2/5 bad 2]", "replay: states");
	is_recounted(&h, "replay");
	succeed(&h, "a", NULL);
	is_str(h.acts, "dispatch b#1", "replay: b after a");
	succeed(&h, "b", NULL);
	is_str(h.acts, "dispatch e#1", "replay: e after b; c stays skipped");
	succeed(&h, "e", NULL);
	is_str(h.acts, "finish FAILED", "replay: x still failed the run");
	is_str(action(&h, ACT_FINISH_RUN, NULL)->message,
	    "task 'x' failed (ValidationException); 2 of 5 tasks did not "
	    "succeed", "replay: the run's message names x");

	/* Now x: c's last obstacle. */
	is_int(reset_tasks(&h, "x", 0), 0, "replay x");
	is_str(h.acts, "reset x, reset c, dispatch x#2",
	    "replay x: c comes back with it");
	succeed(&h, "x", NULL);
	succeed(&h, "c", NULL);
	is_str(h.acts, "finish SUCCESS", "replay x: the run succeeds");
	h_free(&h);
}

static void
test_reset_rerun(void)
{
	struct h h;
	char *why = NULL, *out;

	h_init(&h, WF({ "a", NULL, NULL, NULL },
	    { "b", "a", NULL, "{\"n\":\"${{ .params.n }}\"}" },
	    { "c", "b", NULL, "{\"fromB\":\"${{ .tasks.b.output.v }}\"}" }),
	    "{\"n\":1}");
	start(&h);
	succeed(&h, "a", NULL);
	succeed(&h, "b", "{\"v\":1}");
	succeed(&h, "c", NULL);
	is_str(h.acts, "finish SUCCESS", "rerun: the run succeeded");

	/* One task alone: its dependents keep their results. */
	is_int(reset_tasks(&h, "b", 0), 0, "rerun b");
	is_str(h.trans, "b SUCCESS>PENDING, run SUCCESS>RUNNING, "
	    "b PENDING>READY", "rerun b: a successful run re-opens");
	is_str(h.acts, "reset b, dispatch b#2", "rerun b: attempt 2");
	out = output_of(&h, "b");
	is_str(out, "null", "rerun b: the old output is forgotten");
	free(out);
	is_int(h.rt.unmet[ix(&h, "c")], 1, "rerun b: c's counter follows");
	succeed(&h, "b", "{\"v\":2}");
	is_str(h.acts, "finish SUCCESS", "rerun b: c is not run again");

	/* With what is downstream. */
	is_int(reset_tasks(&h, "b", 1), 0, "rerun b --downstream");
	is_str(h.acts, "reset b, reset c, dispatch b#3",
	    "rerun b --downstream: c too");
	succeed(&h, "b", "{\"v\":3}");
	is_str(h.acts, "dispatch c#2", "rerun b --downstream: c again");
	is_input(&h, "c", "{\"fromB\":3}", "rerun b --downstream: new input");

	/* In a running run: c is RUNNING. */
	started(&h, "c");
	is_int(reset_why(&h, "a", 1, &why), -1, "rerun a --downstream refused");
	is_str(why, "task 'c', downstream, is RUNNING; wait for it to finish "
	    "(or cancel the run) first", "rerun: why");
	free(why);
	h_free(&h);

	h_init(&h, WF({ "a", NULL, NULL, NULL }, { "b", "a", NULL, NULL },
	    { "c", "b", NULL, NULL }), NULL);
	start(&h);
	succeed(&h, "a", NULL);
	started(&h, "b");
	is_int(reset_why(&h, "a", 1, &why), -1,
	    "rerun --downstream with b running refused");
	is_str(why, "task 'b', downstream, is RUNNING; wait for it to finish "
	    "(or cancel the run) first", "rerun: why (RUNNING)");
	free(why);
	is_int(reset_why(&h, "b", 0, &why), -1, "rerun of a RUNNING task");
	is_str(why, "task 'b' is RUNNING; only a finished task can run again",
	    "rerun: why (not finished)");
	free(why);
	is_int(reset_why(&h, "c", 0, &why), -1, "rerun of a PENDING task");
	free(why);
	is_int(reset_why(&h, "nope", 0, &why), -1, "rerun of no task");
	is_str(why, "no task #1001 in the workflow", "rerun: why (no task)");
	free(why);
	is_int(reset_why(&h, "", 0, &why), -1, "reset of nothing refused");
	is_str(why, "no task to run again", "reset: why (nothing)");
	free(why);
	/* a alone while b runs: b keeps running on a's first output. */
	is_int(reset_tasks(&h, "a", 0), 0, "rerun a while b runs");
	is_str(h.acts, "reset a, dispatch a#2", "rerun a: only a");
	is_str(h.trans, "a SUCCESS>PENDING, a PENDING>READY",
	    "rerun a: the run was running already");
	is_int(h.rt.unmet[ix(&h, "b")], 1, "rerun a: b's counter follows");
	succeed(&h, "b", NULL);
	is_str(h.acts, "dispatch c#1", "rerun a: c needs b only");
	succeed(&h, "c", NULL);
	is_str(h.acts, "", "rerun a: the run waits for a");
	succeed(&h, "a", NULL);
	is_str(h.acts, "finish SUCCESS", "rerun a: done");
	h_free(&h);

	/* A pending run has nothing to run again. */
	h_init(&h, WF({ "a", NULL, NULL, NULL }), NULL);
	is_int(reset_why(&h, "a", 0, &why), -1, "reset of a PENDING run");
	is_str(why, "the run has not started yet", "reset: why (pending)");
	free(why);
	h_free(&h);
}

static void
test_reset_conditions(void)
{
	struct h h;

	/* --downstream asks a condition again: it may not skip this time. */
	h_init(&h, WF({ "a", NULL, NULL, NULL },
	    { "w", "a", ".tasks.a.output.go", NULL },
	    { "z", "w", NULL, NULL }), NULL);
	start(&h);
	succeed(&h, "a", "{\"go\":false}");
	is_str(h.acts, "skip w condition, dispatch z#1",
	    "conditions: w skipped, z runs");
	succeed(&h, "z", NULL);
	reset_tasks(&h, "a", 0);
	is_str(h.acts, "reset a, dispatch a#2",
	    "conditions: a condition-skipped task is not taken along");
	succeed(&h, "a", "{\"go\":true}");
	is_str(h.acts, "finish SUCCESS", "conditions: w stays skipped");
	reset_tasks(&h, "a", 1);
	is_str(h.acts, "reset a, reset w, reset z, dispatch a#3",
	    "conditions: --downstream takes w and z");
	succeed(&h, "a", "{\"go\":true}");
	is_str(h.acts, "dispatch w#1", "conditions: w runs this time");
	succeed(&h, "w", NULL);
	is_str(h.acts, "dispatch z#2", "conditions: then z");
	succeed(&h, "z", NULL);
	is_str(h.acts, "finish SUCCESS", "conditions: done");
	h_free(&h);

	/*
	 * A downstream task that succeeded once but whose other dependency
	 * died since: taken along, it is skipped again at once.
	 */
	h_init(&h, WF({ "a", NULL, NULL, NULL }, { "x", NULL, NULL, NULL },
	    { "c", "a x", NULL, NULL }), NULL);
	start(&h);
	succeed(&h, "a", NULL);
	succeed(&h, "x", NULL);
	succeed(&h, "c", NULL);
	reset_tasks(&h, "x", 0);
	fail(&h, "x", ERR_VALIDATION, "broken now");
	is_str(h.acts, "dead x ValidationException, finish FAILED",
	    "blocked: x died, c had succeeded");
	is_int(reset_tasks(&h, "a", 1), 0, "blocked: rerun a --downstream");
	is_str(h.acts, "reset a, reset c, skip c upstream, dispatch a#2",
	    "blocked: c cannot run while x is DEAD");
	is_recounted(&h, "blocked");
	succeed(&h, "a", NULL);
	is_str(h.acts, "finish FAILED", "blocked: the run fails again");
	is_states(&h, "run=FAILED a=SUCCESS x=DEAD c=SKIPPED/upstream "
	    "[3/3 bad 2]", "blocked: final");
	h_free(&h);
}

/* A reset of one task of a wide fan touches what it must, no more. */
static void
test_reset_fan(void)
{
	enum { N = 500 };
	struct workflow *wf = wf_new(N + 2);
	struct task *sink;
	struct h h;
	char id[16];

	wf_task(wf, 0, "root", NULL);
	for (size_t i = 1; i <= N; i++) {
		snprintf(id, sizeof(id), "t%zu", i);
		wf_task(wf, i, id, "root");
	}
	sink = wf_task(wf, N + 1, "sink", NULL);
	sink->depends_on = xcalloc(N, sizeof(char *));
	for (size_t i = 1; i <= N; i++) {
		snprintf(id, sizeof(id), "t%zu", i);
		sink->depends_on[i - 1] = xstrdup(id);
	}
	sink->ndepends = N;
	h_init(&h, wf_done(wf), NULL);
	start(&h);
	succeed(&h, "root", NULL);
	for (size_t i = 1; i < N; i++)
		step_ix(&h, EV_TASK_SUCCEEDED, i, jv_null(), ERR_NONE, NULL, 0);
	fail(&h, "t500", ERR_VALIDATION, "no");
	is_str(h.acts, "dead t500 ValidationException, skip sink upstream, "
	    "finish FAILED", "fan: one leaf died");
	reset_tasks(&h, "t500", 0);
	is_str(h.acts, "reset t500, reset sink, dispatch t500#2",
	    "fan: the leaf and the sink, nothing else");
	is_int(h.res.ntransitions, 4, "fan: four transitions");
	is_int(h.rt.unmet[N + 1], 1, "fan: the sink waits for one leaf");
	is_recounted(&h, "fan");
	succeed(&h, "t500", NULL);
	is_str(h.acts, "dispatch sink#1", "fan: the sink runs");
	succeed(&h, "sink", NULL);
	is_str(h.acts, "finish SUCCESS", "fan: done");
	h_free(&h);
}

/* ---- workflows loaded from YAML by lib/core/workflow.c ---- */

static struct workflow *
load_yaml(const char *name, const char *yaml)
{
	struct diags d;
	struct workflow *wf;

	diags_init(&d);
	wf = workflow_load_buf(name, yaml, strlen(yaml), &d);
	for (size_t i = 0; i < d.n; i++)
		printf("# %s:%d:%d: %s\n", d.v[i].file, d.v[i].line,
		    d.v[i].col, d.v[i].msg);
	diags_clear(&d);
	return wf;
}

static const char seed_yaml[] =
    "id: daily-report\n"
    "name: Daily Report\n"
    "schedule: \"0 3 * * *\"\n"
    "retryStrategy: exponential\n"
    "tasks:\n"
    "  - id: fetch_data\n"
    "    type: http\n"
    "    method: POST\n"
    "    url: http://user-backend:8080/api/tasks/fetch-data\n"
    "    timeout: 5m\n"
    "    maxAttempts: 3\n"
    "    retryOn: [TimeoutException, ConnectionException]\n"
    "  - id: process\n"
    "    type: http\n"
    "    method: POST\n"
    "    url: http://user-backend:8080/api/tasks/process\n"
    "    timeout: 10m\n"
    "    dependsOn: [fetch_data]\n";

static const char report_yaml[] =
    "id: report\n"
    "params: {region: eu, limit: 10}\n"
    "timeout: 1h\n"
    "tasks:\n"
    "  - id: fetch\n"
    "    command: [fetch]\n"
    "    input: {region: \"${{ .params.region }}\", "
    "limit: \"${{ .params.limit }}\"}\n"
    "    retryPolicy: {maxAttempts: 4, backoffStrategy: exponential,\n"
    "      initialDelay: 1s, multiplier: 2, jitter: 0,\n"
    "      retryOn: [TimeoutException]}\n"
    "  - id: big\n"
    "    command: [big]\n"
    "    dependsOn: [fetch]\n"
    "    when: .tasks.fetch.output.rows > 100\n"
    "  - id: report\n"
    "    command: [report]\n"
    "    dependsOn: [fetch, big]\n"
    "    input: {rows: \"${{ .tasks.fetch.output.rows }}\"}\n";

static void
h_free_loaded(struct h *h)
{
	struct workflow *wf = h->wf;

	h->wf = NULL;
	h_free(h);
	workflow_free(wf);
}

static void
test_yaml(void)
{
	struct workflow *wf;
	struct run_rt rt;
	struct h h;
	char *err = NULL;

	/* The seed workflow, exactly as written in DESIGN.md. */
	wf = load_yaml("seed.yaml", seed_yaml);
	ok(wf != NULL, "yaml: seed workflow loads");
	if (wf == NULL)
		return;
	h_init(&h, wf, NULL);
	start(&h);
	is_str(h.acts, "dispatch fetch_data#1", "yaml seed: fetch_data first");
	fail_r(&h, "fetch_data", ERR_CONNECTION, 0.5);
	is_str(h.acts, "retry fetch_data+1000",
	    "yaml seed: ConnectionException retried after 1s");
	h.now += 1000;
	due(&h, "fetch_data");
	is_str(h.acts, "dispatch fetch_data#2", "yaml seed: attempt 2");
	fail_r(&h, "fetch_data", ERR_HTTP_SERVER, 0.5);
	is_str(h.acts, "dead fetch_data HttpServerError, "
	    "skip process upstream, finish FAILED",
	    "yaml seed: 5xx is not in its retryOn");
	h_free_loaded(&h);

	wf = load_yaml("report.yaml", report_yaml);
	ok(wf != NULL, "yaml: report workflow loads");
	if (wf == NULL)
		return;
	ok(run_rt_init(&rt, wf, jv_parse("{\"nope\":1}"), &err) == -1,
	    "yaml: unknown param refused");
	is_str(err, "unknown param 'nope'; declared: limit, region",
	    "yaml: unknown param message");
	free(err);
	h_init(&h, wf, "{\"region\":\"us\"}");
	start(&h);
	is_int(h.rt.deadline_ms, h.now + 3600000, "yaml: 1h run timeout");
	is_input(&h, "fetch", "{\"region\":\"us\",\"limit\":10}",
	    "yaml: input from params (override and default)");
	fail(&h, "fetch", ERR_TIMEOUT, "slow");
	is_str(h.acts, "retry fetch+1000", "yaml: retryPolicy 1s");
	h.now += 1000;
	due(&h, "fetch");
	fail(&h, "fetch", ERR_TIMEOUT, "slow");
	is_str(h.acts, "retry fetch+2000", "yaml: retryPolicy 2s");
	h.now += 2000;
	due(&h, "fetch");
	succeed(&h, "fetch", "{\"rows\":50}");
	is_str(h.acts, "skip big condition, dispatch report#1",
	    "yaml: when false skips big, report still runs");
	is_input(&h, "report", "{\"rows\":50}", "yaml: upstream output");
	succeed(&h, "report", NULL);
	is_str(h.acts, "finish SUCCESS", "yaml: run succeeds");
	h_free_loaded(&h);
}

int
main(void)
{
	test_seed_diamond();
	test_fan_out_in();
	test_retry_exponential();
	test_retry_jitter();
	test_not_retryable();
	test_max_attempts_default();
	test_clock_step();
	test_downstream_skipped();
	test_when_false();
	test_when_outputs_params();
	test_when_error();
	test_input();
	test_params();
	test_cancel();
	test_run_timeout();
	test_refusals();
	test_fail_from_ready_and_cancel_retry();
	test_recount();
	test_recover();
	test_empty();
	test_big_fan();
	test_big_fan_templates();
	test_reset_retry_failed();
	test_reset_cancelled();
	test_reset_replay();
	test_reset_rerun();
	test_reset_conditions();
	test_reset_fan();
	test_yaml();
	return t_done();
}
/* clang-format on */
