/*
 * workflow: the workflow DSL loader and validator (see workflow.h and
 * loom-workflow(5)).
 *
 * Loading is two passes over the node tree of yamlnode.h.  The first walks
 * every key of the workflow and of each task once, checking types and
 * values and filling the model; a problem is recorded as a diagnostic at
 * the node's line:column and the walk goes on, so one run reports every
 * error of the file.  Keys are matched against per-place tables, which also
 * drive the "did you mean" hints (edit distance <= 2, or a case-insensitive
 * match).  The second pass resolves dependsOn through a hash map of task
 * ids, then builds the DAG (lib/core/dag.h) and reports a cycle with its path.
 * Retry policies are partial overlays applied in a fixed order (built-in
 * default, retryStrategy, workflow retryPolicy and defaults, task
 * retryPolicy, task keys), so each task ends up with a complete policy.
 * jq programs (`when:`, templates) are compiled after the walk, in batches,
 * because libjq pays a fixed cost per compile (see jq_check_all in wf_jq.c).
 *
 * Everything is linear in the size of the file: a 100,000-task workflow
 * loads in a fraction of a second.  The only quadratic-looking piece, the
 * "did you mean" search over task ids for a dangling dependency, runs only
 * on errors and compares a bounded number of candidates.
 *
 * Ownership: the returned model owns all its strings and jv values; the
 * YAML tree and the jq cache live only for the duration of the load.
 *
 * This file holds load() and the public API; the passes live in the wf_*.c
 * files named for what they check, listed in wf_int.h, which holds the
 * state of one load (struct wctx) they share.
 */
#include "workflow.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dag.h"
#include "hmap.h"
#include "jqx.h"
#include "wf_int.h"
#include "xalloc.h"
#include "yamlnode.h"

#define DEFAULT_TASK_TIMEOUT_MS (5 * 60 * 1000)

void __attribute__((format(printf, 3, 4)))
report(struct wctx *c, const struct ynode *at, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	diags_add(c->d, c->file, at ? at->line : 0, at ? at->col : 0, "%s",
	    msg ? msg : "(out of memory)");
	free(msg);
	c->nerr++;
}

/* ---- loading ----------------------------------------------------------- */

/*
 * A node reached through several aliases is checked once per use; its
 * problem is reported once.  Drops repeats (same place, same message) among
 * the sorted entries from index `from` on.
 */
static void
diags_dedup(struct diags *d, size_t from)
{
	size_t out = from;

	for (size_t i = from; i < d->n; i++) {
		struct diag *g = &d->v[i];

		if (out > from && g->line == d->v[out - 1].line &&
		    g->col == d->v[out - 1].col &&
		    strcmp(g->msg, d->v[out - 1].msg) == 0) {
			free(g->file);
			free(g->msg);
			continue;
		}
		d->v[out++] = *g;
	}
	d->n = out;
}

static struct workflow *
workflow_new(const char *file)
{
	struct workflow *wf = xcalloc(1, sizeof(*wf));

	wf->file = xstrdup(file);
	wf->params = jv_object();
	wf->default_timeout_ms = DEFAULT_TASK_TIMEOUT_MS;
	wf->concurrency_policy = CONC_QUEUE;
	wf->catchup = CATCHUP_LATEST;
	wf->catchup_window_ms = WF_DEFAULT_CATCHUP_WINDOW_MS;
	wf->catchup_max = WF_DEFAULT_CATCHUP_MAX;
	retry_policy_default(&wf->retry_defaults);
	return wf;
}

void
workflow_free(struct workflow *wf)
{
	if (wf == NULL)
		return;
	for (size_t i = 0; i < wf->ntasks; i++)
		task_clear(&wf->tasks[i]);
	free(wf->tasks);
	free(wf->file);
	free(wf->id);
	free(wf->name);
	free(wf->description);
	free(wf->schedule);
	free(wf->timezone);
	free(wf->signing_env);
	for (size_t i = 0; i < wf->ntriggers; i++)
		free(wf->triggers[i].path);
	free(wf->triggers);
	jv_free(wf->params);
	dag_free(wf->dag);
	hmap_free(wf->task_ids);
	free(wf);
}

/* given (borrowed), else buf (len bytes) as YAML. */
static struct workflow *
load(const char *name, const char *buf, size_t len, const struct ydoc *given,
    const struct workflow_opts *opts, int stored, struct diags *d)
{
	struct ylimits lim = {
		WORKFLOW_MAX_BYTES,
		YNODE_DEFAULT_MAX_NODES,
		WORKFLOW_MAX_ALIASES,
		YNODE_DEFAULT_MAX_EXPANSION,
	};
	struct wctx c;
	const struct ydoc *doc;
	struct workflow *wf = NULL;
	struct diags added;
	size_t before = d->n;

	if (name == NULL)
		name = "-";
	memset(&c, 0, sizeof(c));
	c.file = name;
	c.opts = opts;
	c.d = d;
	c.stored = stored;
	c.default_headers = jv_null();
	doc = given ? given : ydoc_parse(name, buf, len, &lim, d);
	if (doc == NULL) {
		c.nerr++;
		goto out;
	}
	c.nerr = d->n - before; /* duplicate keys, tags */
	wf = c.wf = workflow_new(name);
	if (doc->root == NULL)
		report(&c, NULL,
		    "empty file: expected a workflow (a mapping "
		    "with 'id' and 'tasks')");
	else if (doc->root->type != YN_MAP)
		report(&c, doc->root,
		    "expected a workflow (a mapping with 'id' "
		    "and 'tasks') at the top level, found %s",
		    ynode_kind_name(doc->root));
	else {
		parse_workflow(&c, doc->root);
		jq_check_all(&c);
		if (wf->ntasks > 0 && resolve_deps(&c) == 0)
			build_dag(&c);
	}
out:
	if (c.nerr > 0 && wf != NULL) {
		workflow_free(wf);
		wf = NULL;
	}
	/* Sort only what this load added: d may hold other files' lines. */
	if (d->n > before) {
		added = *d;
		added.v = d->v + before;
		added.n = d->n - before;
		diags_sort(&added);
		diags_dedup(d, before);
	}
	free(c.task_nodes);
	free(c.id_nodes);
	free(c.dep_first);
	free(c.dep_nodes);
	free(c.jqitems);
	jv_free(c.default_headers);
	jqx_free(c.jq);
	if (doc != given)
		ydoc_free((struct ydoc *)doc);
	return wf;
}

struct workflow *
workflow_load_buf_opts(const char *name, const char *buf, size_t len,
    const struct workflow_opts *o, struct diags *d)
{
	return load(name, buf, len, NULL, o, 0, d);
}

struct workflow *
workflow_load_buf(
    const char *name, const char *buf, size_t len, struct diags *d)
{
	return load(name, buf, len, NULL, NULL, 0, d);
}

struct workflow *
workflow_load_doc(const char *name, const struct ydoc *doc, struct diags *d)
{
	return load(name, NULL, 0, doc, NULL, 1, d);
}

struct workflow *
workflow_load_json(
    const char *name, const char *text, size_t len, struct diags *d)
{
	struct workflow *wf;
	struct ydoc *doc;
	char *err = NULL;

	if ((doc = ydoc_parse_json(text, len, &err)) == NULL) {
		diags_add(d, name ? name : "-", 0, 0, "%s", err);
		free(err);
		return NULL;
	}
	wf = workflow_load_doc(name, doc, d);
	ydoc_free(doc);
	return wf;
}

/* ---- queries and the canonical form ------------------------------------ */

long
workflow_task_index(const struct workflow *wf, const char *id)
{
	size_t i;

	if (wf == NULL || id == NULL)
		return -1;
	if (wf->task_ids != NULL)
		return hmap_get(wf->task_ids, id, &i) == 0 ? (long)i : -1;
	for (i = 0; i < wf->ntasks; i++)
		if (wf->tasks[i].id && strcmp(wf->tasks[i].id, id) == 0)
			return (long)i;
	return -1;
}

const char *
task_type_name(enum task_type t)
{
	return (unsigned)t < NELEM(type_names) ? type_names[t] : "unknown";
}

const char *
concurrency_policy_name(enum concurrency_policy p)
{
	return (unsigned)p < CONC__COUNT ? policy_names[p] : "unknown";
}

const char *
catchup_policy_name(enum catchup_policy p)
{
	return (unsigned)p < NELEM(catchup_names) ? catchup_names[p] :
						    "unknown";
}

const char *
wf_file_events_str(unsigned events, char *buf, size_t n)
{
	size_t used = 0;

	if (n == 0)
		return buf;
	buf[0] = '\0';
	for (size_t i = 0; i < NELEM(file_event_names); i++) {
		int w;

		if (!(events & (1u << i)))
			continue;
		w = snprintf(buf + used, n - used, "%s%s", used ? "," : "",
		    file_event_names[i]);
		if (w < 0 || (size_t)w >= n - used)
			break;
		used += (size_t)w;
	}
	return buf;
}
