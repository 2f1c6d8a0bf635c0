/* dispatch: see dispatch.h. */
#include "dispatch.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "xalloc.h"
#include "yamlnode.h"

/* The engine's own fields: a runner never reads them, and every request
 * (and attempt history row) would carry them. */
static const char *const engine_only[] = { "name", "dependsOn", "when", "input",
	"retryPolicy", NULL };

/* A finite double as the shortest of %.15g / %.17g that reads back. */
static void
put_double(struct buf *b, double x)
{
	char s[32];

	if (!isfinite(x))
		x = 0;
	snprintf(s, sizeof(s), "%.15g", x);
	if (strtod(s, NULL) != x)
		snprintf(s, sizeof(s), "%.17g", x);
	buf_puts(b, s);
}

/* ",\"key\":" or "\"key\":" for the first member. */
static void
put_key(struct buf *b, const char *key)
{
	if (b->len > 0 && b->p[b->len - 1] != '{')
		buf_putc(b, ',');
	buf_printf(b, "\"%s\":", key);
}

static void
put_classes(struct buf *b, const char *key, unsigned set)
{
	const char *sep = "";

	put_key(b, key);
	buf_putc(b, '[');
	for (int c = ERR_NONE + 1; c < ERR__COUNT; c++)
		if (set & ERRCLASS_BIT(c)) {
			buf_printf(b, "%s\"%s\"", sep, errclass_name(c));
			sep = ",";
		}
	buf_putc(b, ']');
}

/*
 * The request's "retry" object: what dispatch_retry_parse() reads back.
 * Only what differs from retry_policy_default() is written, so the
 * common task's requests (stored per task and per attempt) grow by
 * ",\"retry\":{}" and no more.
 */
static void
put_retry(struct buf *b, const struct retry_policy *p, int base)
{
	struct retry_policy d;

	retry_policy_default(&d);
	buf_putc(b, '{');
	if (base != 0) {
		put_key(b, "attemptBase");
		buf_printf(b, "%d", base);
	}
	if (p->max_attempts != d.max_attempts) {
		put_key(b, "maxAttempts");
		buf_printf(b, "%d", p->max_attempts);
	}
	if (p->strategy != d.strategy) {
		put_key(b, "backoff");
		buf_printf(b, "\"%s\"", backoff_name(p->strategy));
	}
	if (p->initial_delay_ms != d.initial_delay_ms) {
		put_key(b, "initialDelay");
		buf_printf(b, "%lld", (long long)p->initial_delay_ms);
	}
	if (p->max_delay_ms != d.max_delay_ms) {
		put_key(b, "maxDelay");
		buf_printf(b, "%lld", (long long)p->max_delay_ms);
	}
	if (p->multiplier != d.multiplier) {
		put_key(b, "multiplier");
		put_double(b, p->multiplier);
	}
	if (p->jitter != d.jitter) {
		put_key(b, "jitter");
		put_double(b, p->jitter);
	}
	if (p->retry_on != d.retry_on)
		put_classes(b, "retryOn", p->retry_on);
	if (p->dont_retry_on != d.dont_retry_on)
		put_classes(b, "dontRetryOn", p->dont_retry_on);
	buf_putc(b, '}');
}

/*
 * Member key of o (borrowed), consumed by the caller: 1 when it is there,
 * 0 when it is not (the default stands).
 */
static int
member(jv o, const char *key, jv *v)
{
	*v = jv_object_get(jv_copy(o), jv_string(key));
	if (jv_is_valid(*v))
		return 1;
	jv_free(*v);
	*v = jv_null();
	return 0;
}

/*
 * A number member in [lo, hi]: 1, or 0 when absent (*out left as it
 * is), -1 when it is no such number.
 */
static int
get_number(jv o, const char *key, double lo, double hi, double *out)
{
	jv v;
	int ok;

	if (!member(o, key, &v))
		return 0;
	ok = jv_get_kind(v) == JV_KIND_NUMBER && jv_number_value(v) >= lo &&
	    jv_number_value(v) <= hi;
	if (ok)
		*out = jv_number_value(v);
	jv_free(v);
	return ok ? 1 : -1;
}

/* A whole number member in [lo, hi]; an absent one leaves *out. */
static int
get_whole(jv o, const char *key, double lo, double hi, double *out)
{
	double d = 0;
	int rc = get_number(o, key, lo, hi, &d);

	if (rc < 0 || (rc == 1 && d != floor(d)))
		return -1;
	if (rc == 1)
		*out = d;
	return 0;
}

static int
get_classes(jv o, const char *key, unsigned *out)
{
	jv v;
	int rc = 0;
	enum errclass c;
	unsigned set = 0;

	if (!member(o, key, &v))
		return 0;
	if (jv_get_kind(v) != JV_KIND_ARRAY) {
		jv_free(v);
		return -1;
	}
	jv_array_foreach(v, i, name)
	{
		if (jv_get_kind(name) != JV_KIND_STRING ||
		    errclass_parse(jv_string_value(name), &c) < 0)
			rc = -1;
		else
			set |= ERRCLASS_BIT(c);
		jv_free(name);
	}
	jv_free(v);
	if (rc == 0)
		*out = set;
	return rc;
}

int
dispatch_retry_parse(jv retry, struct retry_policy *p, int *base)
{
	double base_d = 0, max, initial, maxd;
	jv v;
	int rc = -1;

	retry_policy_default(p);
	max = p->max_attempts;
	initial = (double)p->initial_delay_ms;
	maxd = (double)p->max_delay_ms;
	if (jv_get_kind(retry) != JV_KIND_OBJECT ||
	    get_whole(retry, "attemptBase", 0, 1e9, &base_d) < 0 ||
	    get_whole(retry, "maxAttempts", 1, 1e9, &max) < 0 ||
	    get_whole(retry, "initialDelay", 0, 9e15, &initial) < 0 ||
	    get_whole(retry, "maxDelay", 0, 9e15, &maxd) < 0 ||
	    get_number(retry, "multiplier", 0, 1e6, &p->multiplier) < 0 ||
	    get_number(retry, "jitter", 0, 1, &p->jitter) < 0 ||
	    get_classes(retry, "retryOn", &p->retry_on) < 0 ||
	    get_classes(retry, "dontRetryOn", &p->dont_retry_on) < 0)
		goto out;
	if (member(retry, "backoff", &v) &&
	    (jv_get_kind(v) != JV_KIND_STRING ||
		backoff_parse(jv_string_value(v), &p->strategy) < 0)) {
		jv_free(v);
		goto out;
	}
	jv_free(v);
	*base = (int)base_d;
	p->max_attempts = (int)max;
	p->initial_delay_ms = (int64_t)initial;
	p->max_delay_ms = (int64_t)maxd;
	rc = 0;
out:
	jv_free(retry);
	return rc;
}

jv
dispatch_task_specs(const struct workflow *wf)
{
	jv tasks = jv_object_get(workflow_to_jv(wf), jv_string("tasks"));
	jv out = jv_array();

	jv_array_foreach(tasks, i, t)
	{
		for (size_t k = 0; engine_only[k] != NULL; k++)
			t = jv_object_delete(t, jv_string(engine_only[k]));
		out = jv_array_append(out, t);
	}
	jv_free(tasks);
	return out;
}

jv
dispatch_request(const char *execution_id, const struct workflow *wf,
    const struct run_rt *rt, struct jqx *jq, const struct engine_action *a,
    jv task_spec)
{
	static const char *const fields[] = { "headers", "body" };
	const struct task *t = &wf->tasks[a->task];
	struct buf b = BUF_INIT;
	jv req, ctx = jv_invalid();

	for (size_t f = 0; f < 2; f++) {
		jv v = jv_object_get(jv_copy(task_spec), jv_string(fields[f]));

		if (!jv_is_valid(v) || !jqx_template_has_expr(jv_copy(v))) {
			jv_free(v);
			continue;
		}
		if (!jv_is_valid(ctx))
			ctx = run_rt_context(wf, rt);
		v = jqx_render(jq, v, jv_copy(ctx));
		if (!jv_is_valid(v)) {
			jv msg = jv_invalid_get_msg(v);
			jv err = jv_invalid_with_msg(jv_string_fmt(
			    "task '%s': rendering %s: %s", t->id, fields[f],
			    jv_get_kind(msg) == JV_KIND_STRING ?
				jv_string_value(msg) :
				"error"));

			jv_free(msg);
			jv_free(ctx);
			jv_free(task_spec);
			return err;
		}
		task_spec = jv_object_set(task_spec, jv_string(fields[f]), v);
	}
	jv_free(ctx);
	req = jv_object();
	req = jv_object_set(
	    req, jv_string("executionId"), jv_string(execution_id));
	req = jv_object_set(req, jv_string("workflowId"), jv_string(wf->id));
	req = jv_object_set(req, jv_string("taskId"), jv_string(t->id));
	req = jv_object_set(req, jv_string("attempt"), jv_number(a->attempt));
	req = jv_object_set(req, jv_string("input"), jv_copy(a->input));
	req = jv_object_set(req, jv_string("task"), task_spec);
	if (rt->scheduled_time[0] != '\0')
		req = jv_object_set(req, jv_string("scheduledTime"),
		    jv_string(rt->scheduled_time));
	/* The same text as dispatch_request_text() writes. */
	put_retry(&b, &t->retry, rt->tasks[a->task].attempt_base);
	req = jv_object_set(
	    req, jv_string("retry"), jv_parse_sized(b.p, (int)b.len));
	buf_free(&b);
	return req;
}

int
dispatch_spec_has_template(jv task_spec)
{
	static const char *const fields[] = { "headers", "body" };

	for (size_t f = 0; f < 2; f++) {
		jv v = jv_object_get(jv_copy(task_spec), jv_string(fields[f]));
		int has = jv_is_valid(v) && jqx_template_has_expr(jv_copy(v));

		jv_free(v);
		if (has)
			return 1;
	}
	return 0;
}

int
dispatch_task_texts(
    const struct workflow *wf, const struct ydoc *doc, char ***texts, jv *tasks)
{
	const struct ynode *seq =
	    doc->root ? ynode_map_get(doc->root, "tasks") : NULL;
	struct buf b = BUF_INIT;
	char **out;

	*tasks = jv_array();
	if (seq == NULL || seq->type != YN_SEQ || seq->n != wf->ntasks) {
		*texts = NULL;
		return -1;
	}
	out = xcalloc(wf->ntasks + 1, sizeof(char *));
	for (size_t i = 0; i < seq->n; i++) {
		const struct ynode *t = seq->u.items[i];
		const struct ynode *id = ynode_map_get(t, "id");
		jv spec = jv_null(), hb = jv_object();
		int templated;

		if (id == NULL || strcmp(id->u.str, wf->tasks[i].id) != 0) {
			jv_free(hb);
			goto mismatch;
		}
		/* Only the fields dispatch_spec_has_template() reads. */
		for (size_t f = 0; f < 2; f++) {
			const char *field = f == 0 ? "headers" : "body";
			const struct ynode *v = ynode_map_get(t, field);

			if (v != NULL)
				hb = jv_object_set(
				    hb, jv_string(field), ynode_to_jv(v));
		}
		templated = dispatch_spec_has_template(hb);
		jv_free(hb);
		buf_reset(&b);
		if (ynode_json(t, &b, engine_only) < 0)
			goto mismatch;
		if (templated)
			spec = jv_parse_sized(b.p, (int)b.len);
		else
			out[i] = xstrndup(b.p, b.len);
		*tasks = jv_array_append(*tasks, spec);
	}
	buf_free(&b);
	*texts = out;
	return 0;
mismatch:
	buf_free(&b);
	for (size_t i = 0; i < wf->ntasks; i++)
		free(out[i]);
	free(out);
	jv_free(*tasks);
	*tasks = jv_array();
	*texts = NULL;
	return -1;
}

char *
dispatch_request_text(const char *execution_id, const struct workflow *wf,
    const struct run_rt *rt, struct jqx *jq, const struct engine_action *a,
    jv task_spec, const char *spec_text, char **err)
{
	struct buf b = BUF_INIT;
	jv in;

	if (spec_text == NULL) {
		jv req =
		    dispatch_request(execution_id, wf, rt, jq, a, task_spec);
		char *text;

		if (!jv_is_valid(req)) {
			jv msg = jv_invalid_get_msg(req);

			*err = xstrdup(jv_get_kind(msg) == JV_KIND_STRING ?
				jv_string_value(msg) :
				"the request does not render");
			jv_free(msg);
			return NULL;
		}
		req = jv_dump_string(req, 0);
		text = xstrdup(jv_string_value(req));
		jv_free(req);
		return text;
	}
	jv_free(task_spec);
	buf_puts(&b, "{\"executionId\":");
	buf_json_str(&b, execution_id, strlen(execution_id));
	buf_puts(&b, ",\"workflowId\":");
	buf_json_str(&b, wf->id, strlen(wf->id));
	buf_puts(&b, ",\"taskId\":");
	buf_json_str(&b, wf->tasks[a->task].id, strlen(wf->tasks[a->task].id));
	buf_printf(&b, ",\"attempt\":%d,\"input\":", a->attempt);
	in = jv_dump_string(jv_copy(a->input), 0);
	buf_puts(&b, jv_string_value(in));
	jv_free(in);
	buf_puts(&b, ",\"task\":");
	buf_puts(&b, spec_text);
	if (rt->scheduled_time[0] != '\0') {
		buf_puts(&b, ",\"scheduledTime\":");
		buf_json_str(
		    &b, rt->scheduled_time, strlen(rt->scheduled_time));
	}
	buf_puts(&b, ",\"retry\":");
	put_retry(
	    &b, &wf->tasks[a->task].retry, rt->tasks[a->task].attempt_base);
	buf_putc(&b, '}');
	return b.p;
}
