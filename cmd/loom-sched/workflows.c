/*
 * workflows: the workflows loom-sched watches -- those with a schedule or
 * triggers -- each with its model (the current version's stored spec),
 * its cron and zone, and when its next fire is due.  A loom_sched
 * doorbell (apply, pause, unpause, delete) reads one again; a reconnect
 * or the sweep reads them all.  A workflow that is only ever started by
 * messages is read on demand (wfs_get) and kept too.
 */
#include <stdlib.h>
#include <string.h>

#include "core/cron.h"
#include "core/engine.h"
#include "core/schedule.h"
#include "core/workflow.h"
#include "core/xalloc.h"
#include "sched.h"
#include "store/db.h"
#include "util/log.h"
#include "util/tzload.h"

#define SQL_WF \
	"SELECT w.id, w.current_version, w.paused, v.spec::text " \
	"FROM workflows w JOIN workflow_versions v ON v.workflow_id = w.id " \
	"AND v.version = w.current_version WHERE w.deleted_at IS NULL "

static void
swf_free(struct sched *s, struct swf *w)
{
	if (w == NULL)
		return;
	files_unwatch(s, w);
	free(w->watches);
	cron_free(w->cron);
	tzload_release(w->tz);
	workflow_free(w->wf);
	free(w->id);
	free(w);
}

/* Row i of an SQL_WF result as a watched workflow, or NULL (logged). */
static struct swf *
swf_from_row(PGresult *r, int i)
{
	struct swf *w = xcalloc(1, sizeof(*w));
	const char *spec = PQgetvalue(r, i, 3);
	struct diags d;
	char *err = NULL;

	w->id = xstrdup(PQgetvalue(r, i, 0));
	w->version = atoi(PQgetvalue(r, i, 1));
	w->paused = PQgetvalue(r, i, 2)[0] == 't';
	w->due_ms = -1;
	diags_init(&d);
	w->wf = workflow_load_json(w->id, spec, strlen(spec), &d);
	diags_clear(&d);
	if (w->wf == NULL) {
		log_warnx("workflow %s version %d: its stored spec does not "
			  "load; not scheduled",
		    w->id, w->version);
		goto fail;
	}
	w->watches = xcalloc(w->wf->ntriggers + 1, sizeof(int));
	for (size_t t = 0; t < w->wf->ntriggers; t++)
		w->watches[t] = -1;
	if (w->wf->schedule == NULL)
		return w;
	if ((w->cron = cron_parse(w->wf->schedule, &err)) == NULL ||
	    (w->tz = tzload_get(w->wf->timezone)) == NULL) {
		log_warnx("workflow %s: schedule '%s' in '%s' cannot be used: "
			  "%s; not scheduled",
		    w->id, w->wf->schedule, w->wf->timezone,
		    err ? err : "unknown time zone");
		free(err);
		cron_free(w->cron);
		w->cron = NULL;
	}
	w->due_ms = 0; /* look now: fire.c plans it */
	return w;
fail:
	free(w->id);
	free(w);
	return NULL;
}

static void
wfs_put(struct sched *s, struct swf *w)
{
	for (size_t i = 0; i < s->nwfs; i++)
		if (strcmp(s->wfs[i]->id, w->id) == 0) {
			swf_free(s, s->wfs[i]);
			s->wfs[i] = w;
			files_watch(s, w);
			return;
		}
	s->wfs = xreallocarray(s->wfs, s->nwfs + 1, sizeof(*s->wfs));
	s->wfs[s->nwfs++] = w;
	files_watch(s, w);
}

static void
wfs_drop(struct sched *s, const char *id)
{
	for (size_t i = 0; i < s->nwfs; i++)
		if (strcmp(s->wfs[i]->id, id) == 0) {
			swf_free(s, s->wfs[i]);
			s->wfs[i] = s->wfs[--s->nwfs];
			return;
		}
}

int
wfs_load_all(struct sched *s, char **err)
{
	PGresult *r;

	r = db_exec(s->conn, err,
	    SQL_WF "AND (w.schedule IS NOT NULL OR v.spec ? 'triggers')", 0,
	    NULL);
	if (r == NULL)
		return -1;
	wfs_free_all(s);
	for (int i = 0; i < PQntuples(r); i++) {
		struct swf *w = swf_from_row(r, i);

		if (w != NULL)
			wfs_put(s, w);
	}
	PQclear(r);
	log_debug("watching %zu workflows", s->nwfs);
	return 0;
}

int
wfs_reload(struct sched *s, const char *id, char **err)
{
	const char *p[1] = { id };
	PGresult *r;
	struct swf *w;

	r = db_exec(s->conn, err, SQL_WF "AND w.id = $1", 1, p);
	if (r == NULL)
		return -1;
	if (PQntuples(r) == 0 || (w = swf_from_row(r, 0)) == NULL)
		wfs_drop(s, id);
	else
		wfs_put(s, w);
	PQclear(r);
	return 0;
}

struct swf *
wfs_find(struct sched *s, const char *id)
{
	for (size_t i = 0; i < s->nwfs; i++)
		if (strcmp(s->wfs[i]->id, id) == 0)
			return s->wfs[i];
	return NULL;
}

struct swf *
wfs_get(struct sched *s, const char *id, char **err)
{
	struct swf *w = wfs_find(s, id);

	if (w != NULL)
		return w;
	if (wfs_reload(s, id, err) < 0)
		return NULL;
	return wfs_find(s, id);
}

void
wfs_free_all(struct sched *s)
{
	/* Last first, each out of the list before it goes: files_unwatch()
	 * looks at the others' watches. */
	while (s->nwfs > 0) {
		struct swf *w = s->wfs[--s->nwfs];

		swf_free(s, w);
	}
	free(s->wfs);
	s->wfs = NULL;
	s->nwfs = 0;
}

int
wfs_params(const struct swf *w, jv input, char **out, char **why)
{
	struct run_rt rt;
	jv text;

	/* The engine's own rule for params (defaults, unknown names). */
	if (run_rt_init(&rt, w->wf, input, why) < 0)
		return -1;
	text = jv_dump_string(jv_copy(rt.params), 0);
	*out = xstrdup(jv_string_value(text));
	jv_free(text);
	run_rt_free(&rt);
	return 0;
}
