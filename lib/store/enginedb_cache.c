/*
 * enginedb_cache: the engine's two caches, owned by struct enginedb: the
 * workflow versions (parsed, with each task's request text) and the
 * state of the live runs it passed over, each entry current as of its
 * run's executions.engine_gen.  A cached run holds its version (nruns),
 * so a version is dropped only once no cached run uses it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jv.h>

#include "core/dispatch.h"
#include "core/workflow.h"
#include "core/xalloc.h"
#include "core/yamlnode.h"
#include "db.h"
#include "enginedb_int.h"

/*
 * The caches hold what a pass would otherwise read and parse again: the
 * workflow versions (about 1.7 kB a task, parsed and as request texts)
 * and the state of live runs (a finished run is dropped).  Both are
 * bounded in entries and in tasks, so a few huge workflows or thousands
 * of live fan-outs cannot make the daemon grow without end: the least
 * recently used go first, and a version goes only once no cached run
 * uses it.
 */
#define WF_CACHE_MAX 256
#define WF_CACHE_TASKS 16384
#define RUN_CACHE_MAX 1024
#define RUN_CACHE_TASKS 131072

void
edb_run_drop(struct enginedb *e, struct runentry *r)
{
	struct runentry **pp;

	for (pp = &e->runs; *pp; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	e->run_tasks -= r->rt.ntasks;
	r->w->nruns--;
	run_rt_free(&r->rt);
	free(r->id);
	free(r);
	e->st.cached_runs--;
}

void
edb_runs_drop_all(struct enginedb *e)
{
	while (e->runs)
		edb_run_drop(e, e->runs);
}

static void
wf_free(struct enginedb *e, struct wfentry *w)
{
	e->nwfs--;
	e->wf_tasks -= w->wf->ntasks;
	for (size_t i = 0; i < w->wf->ntasks; i++)
		free(w->spec_text[i]);
	free(w->spec_text);
	workflow_free(w->wf);
	jv_free(w->tasks);
	free(w->id);
	free(w);
}

void
edb_wfs_drop_all(struct enginedb *e)
{
	edb_runs_drop_all(e);
	while (e->wfs) {
		struct wfentry *w = e->wfs;

		e->wfs = w->next;
		wf_free(e, w);
	}
}

/*
 * Drops the least recently used versions that no cached run uses while
 * the cache is over its bounds; keep stays (it was just loaded).
 */
void
edb_wfs_trim(struct enginedb *e, const struct wfentry *keep)
{
	struct wfentry **pp, **victim;

	while (e->nwfs > WF_CACHE_MAX || e->wf_tasks > WF_CACHE_TASKS) {
		victim = NULL;
		for (pp = &e->wfs; *pp; pp = &(*pp)->next)
			if (*pp != keep && (*pp)->nruns == 0)
				victim = pp; /* the last one: least recent */
		if (victim == NULL)
			return; /* all in use by live runs */
		struct wfentry *w = *victim;

		*victim = w->next;
		wf_free(e, w);
	}
}

struct wfentry *
edb_wf_get(struct enginedb *e, const char *id, int version, char **err)
{
	struct wfentry *w;
	struct diags d;
	struct ydoc *doc;
	char *perr = NULL;
	PGresult *r;
	char ver[16];
	const char *p[2] = { id, ver };

	for (struct wfentry **pp = &e->wfs; (w = *pp); pp = &w->next)
		if (w->version == version && strcmp(w->id, id) == 0) {
			*pp = w->next; /* to the front */
			w->next = e->wfs;
			e->wfs = w;
			return w;
		}
	snprintf(ver, sizeof(ver), "%d", version);
	r = db_exec(e->conn, err,
	    "SELECT spec::text FROM workflow_versions "
	    "WHERE workflow_id = $1 AND version = $2",
	    2, p);
	if (r == NULL)
		return NULL;
	if (PQntuples(r) == 0) {
		PQclear(r);
		*err =
		    xasprintf("workflow %s version %d is missing", id, version);
		return NULL;
	}
	diags_init(&d);
	w = xcalloc(1, sizeof(*w));
	/*
	 * Canonical JSON, validated when applied: read straight into a tree
	 * (no YAML parser, no jv), which also gives each task's part of a
	 * request as text, once per version (dispatch_task_texts()).
	 */
	doc = ydoc_parse_json(
	    PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0), &perr);
	PQclear(r);
	if (doc != NULL)
		w->wf = workflow_load_doc(id, doc, &d);
	if (w->wf == NULL ||
	    dispatch_task_texts(w->wf, doc, &w->spec_text, &w->tasks) < 0) {
		*err = xasprintf("stored workflow %s version %d does not load: "
				 "%s",
		    id, version,
		    perr    ? perr :
			d.n ? d.v[0].msg :
			      "its tasks do not match");
		free(perr);
		diags_clear(&d);
		if (w->wf)
			workflow_free(w->wf);
		ydoc_free(doc);
		free(w);
		return NULL;
	}
	ydoc_free(doc);
	diags_clear(&d);
	w->id = xstrdup(id);
	w->version = version;
	w->next = e->wfs;
	e->wfs = w;
	e->nwfs++;
	e->wf_tasks += w->wf->ntasks;
	edb_wfs_trim(e, w);
	return w;
}

/* The cached run id, moved to the front (the list is most recent first). */
struct runentry *
edb_run_find(struct enginedb *e, const char *id)
{
	for (struct runentry **pp = &e->runs; *pp; pp = &(*pp)->next)
		if (strcmp((*pp)->id, id) == 0) {
			struct runentry *r = *pp;

			*pp = r->next;
			r->next = e->runs;
			e->runs = r;
			return r;
		}
	return NULL;
}

/*
 * Makes room for one more cached run of ntasks tasks: the least recently
 * passed go.  A run that another process finished is never seen again
 * here, and a dropped one is only read afresh when it comes back.
 */
void
edb_runs_trim(struct enginedb *e, size_t ntasks)
{
	struct runentry *last = NULL, *r;
	size_t n = 0, tasks = ntasks;

	if (e->st.cached_runs < RUN_CACHE_MAX &&
	    e->run_tasks + ntasks <= RUN_CACHE_TASKS)
		return;
	/* Keep the most recent ones while they fit with the new one. */
	for (r = e->runs; r; last = r, r = r->next) {
		if (n + 1 >= RUN_CACHE_MAX ||
		    tasks + r->rt.ntasks > RUN_CACHE_TASKS)
			break;
		n++;
		tasks += r->rt.ntasks;
	}
	while ((r = last ? last->next : e->runs) != NULL)
		edb_run_drop(e, r);
}
