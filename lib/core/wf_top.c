/*
 * wf_top: the workflow's own keys, the top level of the DSL (part of the
 * loader, see workflow.c).
 *
 * parse_workflow() reads the top-level mapping: id, name, the schedule
 * (a cron expression that must fire some day) and its time zone, params,
 * concurrency, signing, the scheduling keys (wf_sched.c), the retry defaults of
 * every task, and then each task in turn (wf_task.c).  The strings it keeps are
 * the model's.
 */
#include <stdlib.h>
#include <string.h>

#include "cron.h"
#include "wf_int.h"
#include "xalloc.h"

/* ---- the workflow ------------------------------------------------------ */

static void
parse_defaults(struct wctx *c, const struct ynode *n, struct rp_over *block,
    struct rp_over *direct)
{
	const struct ynode *s[DK__COUNT], *unknown[32];
	size_t nu;

	if (expect_map(c, n, "defaults") < 0)
		return;
	nu = map_slots(n, defaults_keys, DK__COUNT, s, NULL, unknown, 32);
	for (size_t i = 0; i < nu; i++)
		report_unknown(
		    c, unknown[i], "defaults", defaults_keys, DK__COUNT);
	if (s[DK_TIMEOUT])
		get_duration(
		    c, s[DK_TIMEOUT], "timeout", 1, &c->wf->default_timeout_ms);
	if (s[DK_RETRYPOLICY])
		parse_retry_policy(c, s[DK_RETRYPOLICY], block);
	parse_retry_keys(
	    c, s[DK_MAXATTEMPTS], s[DK_RETRYON], s[DK_DONTRETRYON], direct);
	if (s[DK_HEADERS]) {
		jv h = get_string_map(c, s[DK_HEADERS], "headers", 1);

		if (jv_is_valid(h)) {
			jv_free(c->default_headers);
			c->default_headers = h;
			queue_templates(c, s[DK_HEADERS], "headers");
		}
	}
}

static void
parse_concurrency(struct wctx *c, const struct ynode *n)
{
	const struct ynode *s[CK__COUNT], *unknown[32];
	struct workflow *wf = c->wf;
	size_t nu;
	int64_t v;
	int p;

	if (n->type == YN_SCALAR &&
	    (n->kind == YS_INT || n->kind == YS_FLOAT)) {
		if (get_int(c, n, "concurrency", 0, 1000000, &v) == 0)
			wf->concurrency_max = (int)v;
		return;
	}
	if (n->type != YN_MAP) {
		expect(c, n, "an integer or a mapping {max, policy}",
		    "concurrency", 0);
		return;
	}
	nu = map_slots(n, conc_keys, CK__COUNT, s, NULL, unknown, 32);
	for (size_t i = 0; i < nu; i++)
		report_unknown(
		    c, unknown[i], "concurrency", conc_keys, CK__COUNT);
	if (s[CK_MAX] == NULL)
		report(c, n, "'concurrency' has no 'max'");
	else if (get_int(c, s[CK_MAX], "max", 0, 1000000, &v) == 0)
		wf->concurrency_max = (int)v;
	if (s[CK_POLICY] &&
	    (p = get_enum(c, s[CK_POLICY], "concurrency policy", policy_names,
		 c->stored ? NELEM(policy_names) : CONC__COUNT, 0)) >= 0)
		wf->concurrency_policy = p < CONC__COUNT ?
		    (enum concurrency_policy)p :
		    CONC_CANCEL_OTHER;
}

/* schedule: a cron expression that fires some day (cron.h). */
static void
parse_schedule(struct wctx *c, const struct ynode *n)
{
	struct workflow *wf = c->wf;
	const char *str;

	if ((str = get_nonempty(c, n, "schedule"))) {
		char *err = NULL;
		struct cron *cr = cron_parse(str, &err);

		if (cr == NULL)
			report(c, n, "bad schedule '%s': %s", str,
			    err ? err : "not a cron expression");
		else if (!c->stored && cron_never_fires(cr))
			report(c, n,
			    "schedule '%s' never fires: no date matches its "
			    "day-of-month, month and day-of-week fields",
			    str);
		else
			wf->schedule = xstrdup(str);
		free(err);
		cron_free(cr);
	}
}

/* timezone: an IANA name, checked by the caller's zone_known when given. */
static void
parse_timezone(struct wctx *c, const struct ynode *n)
{
	struct workflow *wf = c->wf;
	const char *str;

	if ((str = get_nonempty(c, n, "timezone"))) {
		if (c->opts && c->opts->zone_known && !c->opts->zone_known(str))
			report(c, n,
			    "unknown time zone '%s' "
			    "(expected an IANA name like Europe/Kyiv or UTC)",
			    str);
		else
			wf->timezone = xstrdup(str);
	}
}

/* params: a mapping of names to default values, kept as JSON. */
static void
parse_params(struct wctx *c, const struct ynode *n)
{
	struct workflow *wf = c->wf;

	if (expect_map(c, n, "params") == 0) {
		jv p = node_json(c, n, "params");

		for (size_t i = 0; i < n->n; i++)
			if (ynode_key(n, i)->n == 0)
				report(
				    c, ynode_key(n, i), "empty parameter name");
		if (jv_is_valid(p)) {
			jv_free(wf->params);
			wf->params = p;
		}
	}
}

/*
 * The retry defaults of every task, in resolution order: retryStrategy,
 * retryPolicy, then defaults (its retryPolicy, then its own keys).
 */
static void
parse_retry_defaults(
    struct wctx *c, const struct ynode *root, const struct ynode **s)
{
	struct workflow *wf = c->wf;
	struct rp_over strategy = { 0 }, block = { 0 }, dblock = { 0 },
		       ddirect = { 0 };
	int b;

	if (s[WK_RETRYSTRATEGY] &&
	    (b = get_enum(c, s[WK_RETRYSTRATEGY], "retryStrategy",
		 backoff_names, NELEM(backoff_names), 0)) >= 0 &&
	    backoff_parse(backoff_names[b], &strategy.p.strategy) == 0)
		strategy.set = RP_STRATEGY;
	if (s[WK_RETRYPOLICY])
		parse_retry_policy(c, s[WK_RETRYPOLICY], &block);
	if (s[WK_DEFAULTS])
		parse_defaults(c, s[WK_DEFAULTS], &dblock, &ddirect);
	rp_apply(&wf->retry_defaults, &strategy);
	rp_apply(&wf->retry_defaults, &block);
	rp_apply(&wf->retry_defaults, &dblock);
	rp_apply(&wf->retry_defaults, &ddirect);
	c->defaults_ok =
	    rp_check(c,
		s[WK_RETRYPOLICY]  ? s[WK_RETRYPOLICY] :
		    s[WK_DEFAULTS] ? s[WK_DEFAULTS] :
				     root,
		&wf->retry_defaults, "the workflow's default") == 0;
}

/* tasks: a non-empty list, each entry read by parse_task() (wf_task.c). */
static void
parse_tasks(struct wctx *c, const struct ynode *root, const struct ynode *tasks)
{
	struct workflow *wf = c->wf;

	if (tasks == NULL) {
		report(c, root, "workflow has no 'tasks'");
		return;
	}
	if (tasks->type != YN_SEQ) {
		expect(c, tasks, "a list of tasks", "tasks", 0);
		return;
	}
	if (tasks->n == 0) {
		report(c, tasks,
		    "'tasks' is empty: a workflow needs at least "
		    "one task");
		return;
	}
	wf->ntasks = tasks->n;
	wf->tasks = xcalloc(wf->ntasks, sizeof(*wf->tasks));
	c->task_nodes = xcalloc(wf->ntasks, sizeof(*c->task_nodes));
	c->id_nodes = xcalloc(wf->ntasks, sizeof(*c->id_nodes));
	c->dep_first = xcalloc(wf->ntasks, sizeof(*c->dep_first));
	for (size_t i = 0; i < wf->ntasks; i++)
		task_init(&wf->tasks[i]);
	for (size_t i = 0; i < wf->ntasks; i++)
		parse_task(c, i, tasks->u.items[i]);
}

void
parse_workflow(struct wctx *c, const struct ynode *root)
{
	struct workflow *wf = c->wf;
	const struct ynode *s[WK__COUNT], *k[WK__COUNT], *unknown[32];
	const char *str;
	size_t nu;

	nu = map_slots(root, wf_keys, WK__COUNT, s, k, unknown, 32);
	for (size_t i = 0; i < nu; i++)
		report_unknown(c, unknown[i], "workflow", wf_keys, WK__COUNT);

	if (s[WK_ID] == NULL)
		report(c, root, "workflow has no 'id'");
	else
		wf->id = get_id(c, s[WK_ID], "workflow");
	if (s[WK_NAME] && (str = get_str(c, s[WK_NAME], "name", 0)))
		wf->name = xstrdup(str);
	else if (wf->id != NULL)
		wf->name = xstrdup(wf->id);
	if (s[WK_DESCRIPTION] &&
	    (str = get_str(c, s[WK_DESCRIPTION], "description", 0)))
		wf->description = xstrdup(str);
	if (s[WK_SCHEDULE])
		parse_schedule(c, s[WK_SCHEDULE]);
	if (s[WK_TIMEZONE])
		parse_timezone(c, s[WK_TIMEZONE]);
	if (wf->timezone == NULL)
		wf->timezone = xstrdup("UTC");
	if (s[WK_TIMEOUT])
		get_duration(c, s[WK_TIMEOUT], "timeout", 1, &wf->timeout_ms);
	if (s[WK_PARAMS])
		parse_params(c, s[WK_PARAMS]);
	if (s[WK_CONCURRENCY])
		parse_concurrency(c, s[WK_CONCURRENCY]);
	parse_sched_keys(c, s);
	if (s[WK_SIGNING]) /* before the tasks: they inherit it */
		wf->signing_env = parse_signing(c, s[WK_SIGNING]);

	parse_retry_defaults(c, root, s);
	parse_tasks(c, root, s[WK_TASKS]);
}
