/*
 * Unit tests for dispatch.c's "retry" member of a request: the task's
 * effective policy (workflow-level settings applied) goes out with every
 * dispatch, the same in the jv and the text form, reads back as the very
 * policy the engine decides with, and never reaches what a backend gets.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/diag.h"
#include "core/dispatch.h"
#include "core/engine.h"
#include "core/xalloc.h"
#include "core/jqx.h"
#include "core/workflow.h"
#include "run/runner.h"
#include "t.h"

static const char yaml[] = "id: rp\n"
			   "retryStrategy: linear\n"
			   "defaults:\n"
			   "  retryPolicy:\n"
			   "    maxAttempts: 5\n"
			   "    initialDelay: 2s\n"
			   "    jitter: 0.25\n"
			   "    dontRetryOn: [TimeoutException]\n"
			   "tasks:\n"
			   "  - id: a\n"
			   "    type: http\n"
			   "    url: http://127.0.0.1:1/a\n"
			   "    retryPolicy:\n"
			   "      maxAttempts: 2\n"
			   "      multiplier: 1.7\n"
			   "      retryOn: [TaskFailedException]\n"
			   "  - id: b\n"
			   "    type: shell\n"
			   "    command: [\"true\"]\n"
			   "    dependsOn: [a]\n";

/* The same policy as the built-in default, written out. */
static const char plain[] = "id: plain\n"
			    "tasks:\n"
			    "  - id: c\n"
			    "    type: shell\n"
			    "    command: [\"true\"]\n"
			    "    retryPolicy:\n"
			    "      maxAttempts: 3\n"
			    "      initialDelay: 1s\n";

static int
same_policy(const struct retry_policy *x, const struct retry_policy *y)
{
	return x->max_attempts == y->max_attempts &&
	    x->strategy == y->strategy &&
	    x->initial_delay_ms == y->initial_delay_ms &&
	    x->max_delay_ms == y->max_delay_ms &&
	    x->multiplier == y->multiplier && x->jitter == y->jitter &&
	    x->retry_on == y->retry_on && x->dont_retry_on == y->dont_retry_on;
}

/* Both forms of task i's request, attempt `attempt`, base `base`. */
static void
check_task(struct workflow *wf, struct run_rt *rt, struct jqx *jq, size_t i,
    int attempt, int base)
{
	struct engine_action a;
	struct retry_policy p;
	jv specs = dispatch_task_specs(wf), spec, req, fromtext, dumped;
	char *text, *err = NULL, *env;
	size_t envlen;
	int got_base = -1;

	memset(&a, 0, sizeof(a));
	a.type = ACT_DISPATCH;
	a.task = i;
	a.attempt = attempt;
	a.input = jv_object();
	rt->tasks[i].attempt = attempt;
	rt->tasks[i].attempt_base = base;
	spec = jv_array_get(jv_copy(specs), (int)i);
	dumped = jv_dump_string(jv_copy(spec), 0);
	req = dispatch_request("exec-1", wf, rt, jq, &a, jv_copy(spec));
	text = dispatch_request_text("exec-1", wf, rt, jq, &a, jv_copy(spec),
	    jv_string_value(dumped), &err);
	ok(text != NULL, "task %zu: the text form renders", i);
	fromtext = jv_parse(text ? text : "null");
	ok(jv_equal(jv_copy(req), jv_copy(fromtext)),
	    "task %zu: the jv and the text request agree", i);
	ok(!jv_object_has(jv_copy(spec), jv_string("retryPolicy")) &&
		!jv_object_has(jv_copy(spec), jv_string("retry")),
	    "task %zu: the task spec carries no policy", i);
	ok(dispatch_retry_parse(
	       jv_object_get(jv_copy(fromtext), jv_string("retry")), &p,
	       &got_base) == 0,
	    "task %zu: \"retry\" reads back", i);
	ok(same_policy(&p, &wf->tasks[i].retry),
	    "task %zu: it is the engine's effective policy", i);
	is_int(got_base, base, "task %zu: with the attempt base", i);
	env = runner_envelope(jv_copy(fromtext), 1000, NULL, &envlen);
	ok(strstr(env, "retry") == NULL && strstr(env, "maxAttempts") == NULL,
	    "task %zu: a backend's envelope has no policy: %s", i, env);
	free(env);
	free(text);
	free(err);
	jv_free(fromtext);
	jv_free(req);
	jv_free(dumped);
	jv_free(spec);
	jv_free(specs);
	jv_free(a.input);
}

static void
test_request(void)
{
	struct diags d;
	struct workflow *wf;
	struct run_rt rt;
	struct jqx *jq = jqx_new();
	char *err = NULL;

	diags_init(&d);
	wf = workflow_load_buf("rp.yaml", yaml, sizeof(yaml) - 1, &d);
	ok(wf != NULL, "the workflow loads");
	if (wf == NULL) {
		diags_print(&d, stdout);
		diags_clear(&d);
		jqx_free(jq);
		return;
	}
	ok(run_rt_init(&rt, wf, jv_null(), &err) == 0, "run_rt_init");
	is_int(wf->tasks[0].retry.max_attempts, 2, "a: its own maxAttempts");
	is_int(wf->tasks[1].retry.max_attempts, 5, "b: the default's");
	is_int(wf->tasks[1].retry.strategy, BACKOFF_LINEAR,
	    "b: the workflow's retryStrategy");
	check_task(wf, &rt, jq, 0, 1, 0);
	check_task(wf, &rt, jq, 1, 7, 4);
	run_rt_free(&rt);
	workflow_free(wf);
	diags_clear(&d);
	jqx_free(jq);
}

/* A task with the built-in policy: its request grows by "retry":{}. */
static void
test_default_small(void)
{
	struct diags d;
	struct workflow *wf;
	struct run_rt rt;
	struct jqx *jq = jqx_new();
	struct engine_action a;
	char *err = NULL, *text;
	jv specs, dumped;

	diags_init(&d);
	wf = workflow_load_buf("plain.yaml", plain, sizeof(plain) - 1, &d);
	ok(wf != NULL, "the plain workflow loads");
	if (wf == NULL) {
		diags_clear(&d);
		jqx_free(jq);
		return;
	}
	ok(run_rt_init(&rt, wf, jv_null(), &err) == 0, "run_rt_init");
	memset(&a, 0, sizeof(a));
	a.type = ACT_DISPATCH;
	a.attempt = 1;
	a.input = jv_object();
	specs = dispatch_task_specs(wf);
	dumped = jv_dump_string(jv_array_get(jv_copy(specs), 0), 0);
	text = dispatch_request_text("exec-1", wf, &rt, jq, &a, jv_null(),
	    jv_string_value(dumped), &err);
	ok(text != NULL && strstr(text, ",\"retry\":{}}") != NULL,
	    "the default policy is written as {}: %s", text ? text : "-");
	free(text);
	jv_free(dumped);
	jv_free(specs);
	jv_free(a.input);
	run_rt_free(&rt);
	workflow_free(wf);
	diags_clear(&d);
	jqx_free(jq);
}

static void
test_parse_bad(void)
{
	static const char *bad[] = {
		"null",
		"[]",
		"{\"maxAttempts\":\"3\"}",
		"{\"retryOn\":\"HttpServerError\"}",
		"{\"jitter\":2}",
		"{\"backoff\":null}",
		"{\"attemptBase\":0,\"maxAttempts\":3,\"backoff\":\"fixed\","
		"\"initialDelay\":1000,\"maxDelay\":0,\"multiplier\":2,"
		"\"jitter\":0,\"retryOn\":[\"NoSuchClass\"],\"dontRetryOn\":[]"
		"}",
		"{\"attemptBase\":0,\"maxAttempts\":0,\"backoff\":\"fixed\","
		"\"initialDelay\":1000,\"maxDelay\":0,\"multiplier\":2,"
		"\"jitter\":0,\"retryOn\":[],\"dontRetryOn\":[]}",
		"{\"attemptBase\":-1,\"maxAttempts\":3,\"backoff\":\"fixed\","
		"\"initialDelay\":1000,\"maxDelay\":0,\"multiplier\":2,"
		"\"jitter\":0,\"retryOn\":[],\"dontRetryOn\":[]}",
		"{\"attemptBase\":0,\"maxAttempts\":3,\"backoff\":\"bouncy\","
		"\"initialDelay\":1000,\"maxDelay\":0,\"multiplier\":2,"
		"\"jitter\":0,\"retryOn\":[],\"dontRetryOn\":[]}",
		"{\"attemptBase\":0,\"maxAttempts\":3,\"backoff\":\"fixed\","
		"\"initialDelay\":1.5,\"maxDelay\":0,\"multiplier\":2,"
		"\"jitter\":0,\"retryOn\":[],\"dontRetryOn\":[]}",
		"{\"attemptBase\":0,\"maxAttempts\":3,\"backoff\":\"fixed\","
		"\"initialDelay\":1000,\"maxDelay\":0,\"multiplier\":\"2\","
		"\"jitter\":0,\"retryOn\":[],\"dontRetryOn\":[]}",
	};
	struct retry_policy p, d;
	int base = -1;

	retry_policy_default(&d);
	ok(dispatch_retry_parse(jv_parse("{}"), &p, &base) == 0 &&
		same_policy(&p, &d) && base == 0,
	    "{} is the default policy, attempt base 0");
	ok(dispatch_retry_parse(jv_parse("{\"maxAttempts\":7}"), &p, &base) ==
		    0 &&
		p.max_attempts == 7 && p.retry_on == d.retry_on,
	    "a member left out keeps its default");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		is_int(dispatch_retry_parse(jv_parse(bad[i]), &p, &base), -1,
		    "refused: %s", bad[i]);
	is_int(dispatch_retry_parse(jv_invalid(), &p, &base), -1,
	    "a request without \"retry\"");
}

/* A body and a header that read how the run started. */
static const char facts[] =
    "id: facts\n"
    "tasks:\n"
    "  - id: f\n"
    "    url: http://127.0.0.1:1/f\n"
    "    headers: {X-Day: \"day ${{ .scheduledTime[0:10] }}\"}\n"
    "    body: {at: \"${{ .scheduledTime }}\", by: \"${{ .trigger }}\"}\n";

/* The body of task 0's request in run rt, as compact JSON (malloc'd). */
static char *
facts_body(struct workflow *wf, struct run_rt *rt, struct jqx *jq, jv *hdr)
{
	struct engine_action a;
	jv specs = dispatch_task_specs(wf), task, body;
	char *err = NULL, *text, *out;

	memset(&a, 0, sizeof(a));
	a.type = ACT_DISPATCH;
	a.attempt = 1;
	a.input = jv_object();
	text = dispatch_request_text(
	    "exec-1", wf, rt, jq, &a, jv_array_get(specs, 0), NULL, &err);
	ok(text != NULL, "the templated request renders: %s", err ? err : "");
	task = jv_object_get(jv_parse(text ? text : "{}"), jv_string("task"));
	*hdr = jv_object_get(jv_object_get(jv_copy(task), jv_string("headers")),
	    jv_string("X-Day"));
	body = jv_dump_string(jv_object_get(task, jv_string("body")), 0);
	out = xstrdup(jv_string_value(body));
	jv_free(body);
	jv_free(a.input);
	free(text);
	free(err);
	return out;
}

static void
test_trigger_facts(void)
{
	struct diags d;
	struct workflow *wf;
	struct run_rt rt;
	struct jqx *jq = jqx_new();
	char *err = NULL, *body;
	jv hdr, ctx;

	diags_init(&d);
	wf = workflow_load_buf("facts.yaml", facts, sizeof(facts) - 1, &d);
	ok(wf != NULL, "the facts workflow loads");
	if (wf == NULL) {
		diags_print(&d, stdout);
		diags_clear(&d);
		jqx_free(jq);
		return;
	}
	ok(run_rt_init(&rt, wf, jv_null(), &err) == 0, "run_rt_init");
	snprintf(rt.scheduled_time, sizeof(rt.scheduled_time), "%s",
	    "2026-12-07T03:00:00Z");
	snprintf(rt.trigger, sizeof(rt.trigger), "%s", "schedule");
	body = facts_body(wf, &rt, jq, &hdr);
	is_str(body, "{\"at\":\"2026-12-07T03:00:00Z\",\"by\":\"schedule\"}",
	    "body: the scheduled run's nominal time and trigger");
	ok(jv_get_kind(hdr) == JV_KIND_STRING &&
		strcmp(jv_string_value(hdr), "day 2026-12-07") == 0,
	    "a header reads them too");
	free(body);
	jv_free(hdr);
	/* A run nothing scheduled: null, which a template writes as null. */
	rt.scheduled_time[0] = rt.trigger[0] = '\0';
	ctx = run_rt_context(wf, &rt);
	ok(jv_equal(jv_object_get(jv_copy(ctx), jv_string("scheduledTime")),
	       jv_null()) &&
		jv_equal(jv_object_get(ctx, jv_string("trigger")), jv_null()),
	    "no nominal time, no trigger: null");
	run_rt_free(&rt);
	workflow_free(wf);
	diags_clear(&d);
	jqx_free(jq);
}

int
main(void)
{
	test_request();
	test_default_small();
	test_parse_bad();
	test_trigger_facts();
	return t_done();
}
