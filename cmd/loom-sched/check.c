/*
 * check: loom-sched -n.  The configuration loaded already; this reads
 * every stored workflow with a schedule or triggers and says what this
 * scheduler would do with it: each schedule's cron and zone, each file
 * trigger's directory against sched.file_roots.  Exit 0 when all is
 * usable, 1 when something is not (each problem on one line).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cron.h"
#include "core/workflow.h"
#include "core/xalloc.h"
#include "sched.h"
#include "store/db.h"
#include "util/tzload.h"

static int
check_one(const struct sched_opts *o, const char *id, const char *spec)
{
	struct workflow *wf;
	struct diags d;
	int bad = 0;
	char *err = NULL;

	diags_init(&d);
	wf = workflow_load_json(id, spec, strlen(spec), &d);
	diags_clear(&d);
	if (wf == NULL) {
		printf("%s: its stored spec does not load\n", id);
		return 1;
	}
	if (wf->schedule) {
		struct cron *c = cron_parse(wf->schedule, &err);

		if (c == NULL)
			printf(
			    "%s: schedule '%s': %s\n", id, wf->schedule, err);
		if (!tzload_known(wf->timezone))
			printf(
			    "%s: unknown time zone '%s'\n", id, wf->timezone);
		bad |= c == NULL || !tzload_known(wf->timezone);
		free(err);
		cron_free(c);
	}
	for (size_t i = 0; i < wf->ntriggers; i++) {
		const struct wf_trigger *t = &wf->triggers[i];
		char *dir;

		if (t->kind != WF_TRIGGER_FILE)
			continue;
		dir = xstrndup(
		    t->path, (size_t)(strrchr(t->path, '/') - t->path));
		if (files_root_ok(o, *dir ? dir : "/") <= 0) {
			printf("%s: file trigger %s: its directory is missing "
			       "or not under sched.file_roots\n",
			    id, t->path);
			bad = 1;
		}
		free(dir);
	}
	workflow_free(wf);
	return bad;
}

int
sched_check(const struct sched_opts *o)
{
	PGconn *c;
	PGresult *r;
	char *err = NULL;
	int bad = 0, n;

	if ((c = db_connect(o->db_url, "loom-sched-check", &err)) == NULL) {
		fprintf(stderr, "loom-sched: %s\n", err);
		free(err);
		return 1;
	}
	r = db_exec(c, &err,
	    "SELECT w.id, v.spec::text FROM workflows w JOIN workflow_versions "
	    "v ON v.workflow_id = w.id AND v.version = w.current_version "
	    "WHERE w.deleted_at IS NULL AND (w.schedule IS NOT NULL OR "
	    "v.spec ? 'triggers') ORDER BY w.id",
	    0, NULL);
	if (r == NULL) {
		fprintf(stderr, "loom-sched: %s\n", err);
		free(err);
		PQfinish(c);
		return 1;
	}
	n = PQntuples(r);
	for (int i = 0; i < n; i++)
		bad |= check_one(o, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
	PQclear(r);
	PQfinish(c);
	printf(
	    "configuration ok; %d workflow%s with a schedule or triggers%s\n",
	    n, n == 1 ? "" : "s", bad ? ", some of them not usable" : "");
	return bad;
}
