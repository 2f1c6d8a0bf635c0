/*
 * wf_json: the canonical JSON form of a workflow (workflow_to_jv(), see
 * workflow.h), with every default filled in, for storage and for the API.
 * Loading it back (workflow_load_json()) gives an equal model.
 *
 * Reads the model only; the returned jv is the caller's.
 */
#include "workflow.h"

#include "duration.h"
#include "wf_int.h"

static jv
duration_jv(int64_t ms)
{
	char buf[64];

	duration_format(ms, buf, sizeof(buf));
	return jv_string(buf);
}

static jv
errclasses_jv(unsigned set)
{
	jv a = jv_array();

	for (int i = 1; i < ERR__COUNT; i++)
		if (set & ERRCLASS_BIT(i))
			a = jv_array_append(a, jv_string(errclass_name(i)));
	return a;
}

static jv
retry_jv(const struct retry_policy *p)
{
	jv o = jv_object();

	o = jv_object_set(
	    o, jv_string("maxAttempts"), jv_number(p->max_attempts));
	o = jv_object_set(o, jv_string("backoffStrategy"),
	    jv_string(backoff_name(p->strategy)));
	o = jv_object_set(
	    o, jv_string("initialDelay"), duration_jv(p->initial_delay_ms));
	o = jv_object_set(
	    o, jv_string("maxDelay"), duration_jv(p->max_delay_ms));
	o = jv_object_set(o, jv_string("multiplier"), jv_number(p->multiplier));
	o = jv_object_set(o, jv_string("jitter"), jv_number(p->jitter));
	o = jv_object_set(o, jv_string("retryOn"), errclasses_jv(p->retry_on));
	o = jv_object_set(
	    o, jv_string("dontRetryOn"), errclasses_jv(p->dont_retry_on));
	return o;
}

static jv
strv_jv(char *const *v, size_t n)
{
	jv a = jv_array();

	for (size_t i = 0; i < n; i++)
		a = jv_array_append(a, jv_string(v[i]));
	return a;
}

static jv
opt_set(jv o, const char *key, const char *val)
{
	if (val == NULL)
		return o;
	return jv_object_set(o, jv_string(key), jv_string(val));
}

static jv
task_jv(const struct task *t)
{
	jv o = jv_object();

	o = jv_object_set(o, jv_string("id"), jv_string(t->id));
	o = opt_set(o, "name", t->name);
	o = opt_set(o, "description", t->description);
	o = jv_object_set(
	    o, jv_string("type"), jv_string(task_type_name(t->type)));
	o = jv_object_set(
	    o, jv_string("dependsOn"), strv_jv(t->depends_on, t->ndepends));
	o = jv_object_set(o, jv_string("timeout"), duration_jv(t->timeout_ms));
	o = jv_object_set(o, jv_string("retryPolicy"), retry_jv(&t->retry));
	o = opt_set(o, "when", t->when);
	if (jv_get_kind(t->input) != JV_KIND_NULL)
		o = jv_object_set(o, jv_string("input"), jv_copy(t->input));
	switch (t->type) {
	case TASK_HTTP:
		o = opt_set(o, "method", t->method);
		o = opt_set(o, "url", t->url);
		if (jv_get_kind(t->headers) == JV_KIND_OBJECT)
			o = jv_object_set(
			    o, jv_string("headers"), jv_copy(t->headers));
		if (jv_is_valid(t->body))
			o = jv_object_set(
			    o, jv_string("body"), jv_copy(t->body));
		/* resolved here, so the executor sees it in the task spec */
		if (t->signing_env != NULL)
			o = jv_object_set(o, jv_string("signing"),
			    opt_set(jv_object(), "secretEnv", t->signing_env));
		break;
	case TASK_SHELL:
		if (t->argv != NULL)
			o = jv_object_set(
			    o, jv_string("command"), strv_jv(t->argv, t->argc));
		else
			o = opt_set(o, "command", t->command);
		if (jv_get_kind(t->env) == JV_KIND_OBJECT)
			o = jv_object_set(o, jv_string("env"), jv_copy(t->env));
		o = opt_set(o, "workdir", t->workdir);
		break;
	case TASK_JAVA:
		o = opt_set(o, "class", t->class_name);
		o = opt_set(o, "classpath", t->classpath);
		o = jv_object_set(
		    o, jv_string("args"), strv_jv(t->args, t->nargs));
		o = jv_object_set(o, jv_string("jvmOptions"),
		    strv_jv(t->jvm_options, t->njvm_options));
		break;
	}
	return o;
}

static jv
trigger_jv(const struct wf_trigger *t)
{
	jv o = jv_object();
	char ev[128];

	if (t->kind == WF_TRIGGER_FILE) {
		jv f = jv_object();

		f = opt_set(f, "path", t->path);
		wf_file_events_str(t->events, ev, sizeof(ev));
		f = jv_object_set(f, jv_string("events"),
		    jv_string_split(jv_string(ev), jv_string(",")));
		o = jv_object_set(o, jv_string("file"), f);
	} else
		o = jv_object_set(o, jv_string("message"), jv_object());
	if (t->delay_ms > 0)
		o = jv_object_set(
		    o, jv_string("delay"), duration_jv(t->delay_ms));
	if (t->debounce_ms > 0)
		o = jv_object_set(
		    o, jv_string("debounce"), duration_jv(t->debounce_ms));
	return o;
}

/* The keys of wf_sched.c, every default written out. */
static jv
sched_jv(jv o, const struct workflow *wf)
{
	jv list = jv_array();

	o = jv_object_set(o, jv_string("catchup"),
	    jv_string(catchup_policy_name(wf->catchup)));
	o = jv_object_set(
	    o, jv_string("catchupWindow"), duration_jv(wf->catchup_window_ms));
	o = jv_object_set(
	    o, jv_string("catchupMax"), jv_number(wf->catchup_max));
	if (wf->jitter_ms > 0)
		o = jv_object_set(
		    o, jv_string("jitter"), duration_jv(wf->jitter_ms));
	o = jv_object_set(
	    o, jv_string("pauseOnFailure"), jv_bool(wf->pause_on_failure));
	if (wf->ntriggers == 0) {
		jv_free(list);
		return o;
	}
	for (size_t i = 0; i < wf->ntriggers; i++)
		list = jv_array_append(list, trigger_jv(&wf->triggers[i]));
	return jv_object_set(o, jv_string("triggers"), list);
}

jv
workflow_to_jv(const struct workflow *wf)
{
	jv o = jv_object(), tasks = jv_array();

	o = jv_object_set(o, jv_string("id"), jv_string(wf->id));
	o = opt_set(o, "name", wf->name);
	o = opt_set(o, "description", wf->description);
	o = opt_set(o, "schedule", wf->schedule);
	o = opt_set(o, "timezone", wf->timezone);
	if (wf->timeout_ms > 0)
		o = jv_object_set(
		    o, jv_string("timeout"), duration_jv(wf->timeout_ms));
	o = jv_object_set(o, jv_string("params"), jv_copy(wf->params));
	if (wf->concurrency_max > 0) {
		jv conc = jv_object();

		conc = jv_object_set(
		    conc, jv_string("max"), jv_number(wf->concurrency_max));
		conc = jv_object_set(conc, jv_string("policy"),
		    jv_string(concurrency_policy_name(wf->concurrency_policy)));
		o = jv_object_set(o, jv_string("concurrency"), conc);
	}
	o = sched_jv(o, wf);
	if (wf->signing_env != NULL)
		o = jv_object_set(o, jv_string("signing"),
		    opt_set(jv_object(), "secretEnv", wf->signing_env));
	o = jv_object_set(
	    o, jv_string("retryPolicy"), retry_jv(&wf->retry_defaults));
	o = jv_object_set(o, jv_string("defaults"),
	    jv_object_set(jv_object(), jv_string("timeout"),
		duration_jv(wf->default_timeout_ms)));
	for (size_t i = 0; i < wf->ntasks; i++)
		tasks = jv_array_append(tasks, task_jv(&wf->tasks[i]));
	o = jv_object_set(o, jv_string("tasks"), tasks);
	return o;
}
