/*
 * wf_dag: the second pass of the loader, after every task was read (see
 * workflow.c): dependsOn names resolved to task indices through a hash
 * map of task ids, then the DAG built (dag.h) and a cycle reported with
 * its path.
 *
 * Linear in the size of the workflow; the "did you mean" search for a
 * dangling dependency runs only on errors and compares a bounded number
 * of candidates (DYM_MAX_CANDIDATES ids, for DYM_MAX_HINTS dependencies).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dag.h"
#include "hmap.h"
#include "wf_int.h"
#include "xalloc.h"

#define DYM_MAX_CANDIDATES 10000 /* task ids compared for one hint */
#define DYM_MAX_HINTS 100	 /* dangling deps that get a hint */

/* ---- dependencies and the DAG ------------------------------------------ */

static const char *
suggest_task(struct wctx *c, const char *name)
{
	const struct workflow *wf = c->wf;
	const char *best = NULL;
	int bestd = 3;
	size_t len = strlen(name), compared = 0;

	if (c->nhints >= DYM_MAX_HINTS)
		return NULL;
	c->nhints++;
	for (size_t i = 0; i < wf->ntasks && compared < DYM_MAX_CANDIDATES;
	     i++) {
		const char *id = wf->tasks[i].id;
		size_t l;
		int dd;

		if (id == NULL)
			continue;
		l = strlen(id);
		if (l + 2 < len || l > len + 2)
			continue;
		compared++;
		dd = dym_score(name, id);
		if (dd < bestd) {
			bestd = dd;
			best = id;
		}
	}
	return best;
}

static void
task_label(const struct workflow *wf, size_t i, char *buf, size_t len)
{
	if (wf->tasks[i].id != NULL)
		snprintf(buf, len, "'%s'", wf->tasks[i].id);
	else
		snprintf(buf, len, "#%zu", i + 1);
}

/* Returns 0 when every dependency names another, existing task. */
int
resolve_deps(struct wctx *c)
{
	struct workflow *wf = c->wf;
	size_t *stamp, first;
	char label[ID_MAX + 16];
	int bad = 0;

	wf->task_ids = hmap_new(wf->ntasks);
	for (size_t i = 0; i < wf->ntasks; i++) {
		const char *id = wf->tasks[i].id;

		if (id == NULL)
			continue;
		if (hmap_put(wf->task_ids, id, i) == 1 &&
		    hmap_get(wf->task_ids, id, &first) == 0) {
			const struct ynode *f = c->id_nodes[first];

			report(c, c->id_nodes[i],
			    "duplicate task id '%s' "
			    "(first at line %d, column %d)",
			    id, f->line, f->col);
			bad = 1;
		}
	}
	stamp = xcalloc(wf->ntasks, sizeof(*stamp));
	for (size_t i = 0; i < wf->ntasks; i++) {
		struct task *t = &wf->tasks[i];
		size_t k = 0;

		t->dep_index = xcalloc(t->ndepends + 1, sizeof(size_t));
		task_label(wf, i, label, sizeof(label));
		for (size_t j = 0; j < t->ndepends; j++) {
			const struct ynode *at =
			    c->dep_nodes[c->dep_first[i] + j];
			const char *dep = t->depends_on[j], *hint;
			size_t idx;

			if (hmap_get(wf->task_ids, dep, &idx) != 0) {
				if ((hint = suggest_task(c, dep)) != NULL)
					report(c, at,
					    "task %s depends on '%s', "
					    "which does not exist; did you "
					    "mean "
					    "'%s'?",
					    label, dep, hint);
				else
					report(c, at,
					    "task %s depends on '%s', "
					    "which does not exist",
					    label, dep);
				bad = 1;
			} else if (idx == i) {
				report(
				    c, at, "task %s depends on itself", label);
				bad = 1;
			} else if (stamp[idx] == i + 1) {
				report(c, at,
				    "task %s lists '%s' twice in "
				    "'dependsOn'",
				    label, dep);
				bad = 1;
			} else {
				stamp[idx] = i + 1;
				t->dep_index[k++] = idx;
			}
		}
	}
	free(stamp);
	return bad ? -1 : 0;
}

static int
task_depends_on(const struct task *t, size_t dep)
{
	for (size_t i = 0; i < t->ndepends; i++)
		if (t->dep_index[i] == dep)
			return 1;
	return 0;
}

/*
 * Reports a cycle as "a -> b -> c -> a", read "a depends on b, which
 * depends on c, which depends on a" (the way the file is written), starting
 * at the task that comes first in the file.  dag_build's path may run either
 * way; it is turned around when needed.
 */
static void
report_cycle(struct wctx *c, size_t *cyc, size_t len)
{
	const struct workflow *wf = c->wf;
	size_t m = len - 1, start = 0, shown;
	char *msg, *p;
	size_t cap;

	if (len < 2) {
		report(c, NULL, "dependency cycle");
		return;
	}
	if (m >= 2 && !task_depends_on(&wf->tasks[cyc[0]], cyc[1]))
		for (size_t i = 0; i < len / 2; i++) {
			size_t tmp = cyc[i];

			cyc[i] = cyc[len - 1 - i];
			cyc[len - 1 - i] = tmp;
		}
	for (size_t i = 1; i < m; i++)
		if (cyc[i] < cyc[start])
			start = i;
	shown = m > 32 ? 32 : m;
	cap = 64 + (shown + 1) * (ID_MAX + 8);
	msg = p = xmalloc(cap);
	p += snprintf(p, cap, "dependency cycle: ");
	for (size_t k = 0; k < shown; k++) {
		const char *id = wf->tasks[cyc[(start + k) % m]].id;

		p += snprintf(
		    p, cap - (size_t)(p - msg), "%s -> ", id ? id : "?");
	}
	if (shown < m)
		p += snprintf(p, cap - (size_t)(p - msg), "... (%zu more) -> ",
		    m - shown);
	snprintf(p, cap - (size_t)(p - msg), "%s", wf->tasks[cyc[start]].id);
	report(c, c->task_nodes[cyc[start]], "%s", msg);
	free(msg);
}

void
build_dag(struct wctx *c)
{
	struct workflow *wf = c->wf;
	const size_t **deps_of;
	size_t *nd, *cycle = NULL, clen = 0;

	deps_of = xcalloc(wf->ntasks, sizeof(*deps_of));
	nd = xcalloc(wf->ntasks, sizeof(*nd));
	for (size_t i = 0; i < wf->ntasks; i++) {
		deps_of[i] = wf->tasks[i].dep_index;
		nd[i] = wf->tasks[i].ndepends;
	}
	wf->dag = dag_build(
	    wf->ntasks, (const size_t *const *)deps_of, nd, &cycle, &clen);
	if (wf->dag == NULL) {
		if (cycle != NULL)
			report_cycle(c, cycle, clen);
		else
			report(c, c->task_nodes[0], "dependency cycle");
	}
	free(cycle);
	free(deps_of);
	free(nd);
}
