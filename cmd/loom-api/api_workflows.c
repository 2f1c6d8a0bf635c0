/*
 * api_workflows: the /api/v1/workflows routes of loom-api (see api.h and
 * loom-api(8)).
 *
 * Apply parses the submitted file with the same loader as `loom validate`
 * and writes nothing unless the whole file is valid.  What is stored is
 * the text as submitted (definition) and the canonical JSON of the model
 * (spec, every default filled in); the checksum is the SHA-256 of the
 * canonical text, so re-applying an unchanged workflow - even reformatted
 * or with new comments - is a no-op.  Versions are numbered under a row
 * lock on the workflows row, so concurrent applies never share a number.
 *
 * Deleting sets workflows.deleted_at (schema/007_workflow_delete.sql):
 * the live routes (list, describe, trigger, pause) forget the workflow,
 * while its versions, history and executions stay readable, and applying
 * it again brings it back.  Runs still PENDING or RUNNING refuse a delete
 * (409) unless ?force=true cancels them in the same transaction.  The
 * workflows row orders it all: apply and delete lock it FOR UPDATE, a
 * trigger FOR KEY SHARE, so no run slips in between a delete's check and
 * its commit.  A paused workflow is not fired by schedules, and the
 * trigger route refuses it (409) unless ?force=true.
 *
 * Runs load their version's stored spec back through the loader.  Each
 * worker thread keeps the last few parsed versions (a version never
 * changes, so the cache needs no invalidation), WFCACHE_SIZE of them and
 * WFCACHE_TASKS tasks in all: a parsed task costs about a kilobyte, and
 * every thread holds its own copies (the model's jv members are not safe
 * to share between threads), so a 10,000-task version kept by four
 * threads would hold 50 MB for good.  A version larger than that is
 * parsed for the request that needs it and freed when the request ends
 * (api_workflow_cache_release()).  The loader itself runs
 * under one mutex because it compiles jq programs, and libjq 1.6 does not
 * promise that this is safe on several threads at once.
 *
 * A trigger checks its params against the version the thread parsed last
 * for the workflow and starts the run in one statement, which makes it
 * only if that version is still current (runstart.h, `current`); the
 * guess is never trusted on its own, so several loom-api instances and
 * applies in between start no run of a superseded version.  When the
 * guess is missing or wrong, the current version is read and the start
 * tried again, and the answers (404, 409 paused, 422 params) are those
 * of the current version.
 */
/*
 * Its SQL, built from string literals and macros, is laid out by hand;
 * clang-format would tear it into columns.
 */
/* clang-format off */
#include "api.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/db.h"
#include "store/runstart.h"
#include "store/transition.h"
#include "core/engine.h"
#include "util/idgen.h"
#include "util/jsonutil.h"
#include "util/tzload.h"
#include "core/workflow.h"
#include "core/xalloc.h"

#define WFCACHE_SIZE 16
#define WFCACHE_TASKS 4096	/* tasks of the versions kept per thread */
#define TRIGGER_TRIES 8		/* starts of a trigger that meet an apply */

/* ---- the loader and the per-thread cache -------------------------------- */

static pthread_mutex_t wf_load_mu = PTHREAD_MUTEX_INITIALIZER;

struct workflow *
api_workflow_parse(const char *name, const char *buf, size_t len,
    struct diags *d)
{
	struct workflow *wf;

	static const struct workflow_opts o = {tzload_known};

	pthread_mutex_lock(&wf_load_mu);
	wf = workflow_load_buf_opts(name, buf, len, &o, d);
	pthread_mutex_unlock(&wf_load_mu);
	return wf;
}

struct wfcache {
	struct {
		char *id;
		int version;
		struct workflow *wf;
		uint64_t used;
	} e[WFCACHE_SIZE];
	size_t ntasks;			/* of the versions kept */
	struct workflow *scratch;	/* too large to keep: this request's */
	uint64_t tick;
};

static pthread_key_t wfc_key;
static pthread_once_t wfc_once = PTHREAD_ONCE_INIT;

static void
wfcache_free(void *p)
{
	struct wfcache *c = p;

	for (size_t i = 0; i < WFCACHE_SIZE; i++) {
		free(c->e[i].id);
		workflow_free(c->e[i].wf);
	}
	workflow_free(c->scratch);
	free(c);
}

static void
wfc_key_init(void)
{
	if (pthread_key_create(&wfc_key, wfcache_free) != 0)
		abort();
}

static struct wfcache *
wfcache(void)
{
	struct wfcache *c;

	pthread_once(&wfc_once, wfc_key_init);
	if ((c = pthread_getspecific(wfc_key)) == NULL) {
		c = xcalloc(1, sizeof(*c));
		pthread_setspecific(wfc_key, c);
	}
	return c;
}

int
api_workflow_cache_release(void)
{
	struct wfcache *c;
	int had = 0;

	pthread_once(&wfc_once, wfc_key_init);
	if ((c = pthread_getspecific(wfc_key)) != NULL) {
		had = c->scratch != NULL;
		workflow_free(c->scratch);
		c->scratch = NULL;
	}
	return had;
}

/* Room for a version of n tasks: the least used go first. */
static size_t
wfcache_room(struct wfcache *c, size_t n)
{
	size_t v;

	for (;;) {
		v = WFCACHE_SIZE;
		for (size_t i = 0; i < WFCACHE_SIZE; i++) {
			if (c->e[i].wf == NULL) {
				if (c->ntasks + n <= WFCACHE_TASKS)
					return i;
				continue;
			}
			if (v == WFCACHE_SIZE || c->e[i].used < c->e[v].used)
				v = i;
		}
		c->ntasks -= c->e[v].wf->ntasks;
		free(c->e[v].id);
		workflow_free(c->e[v].wf);
		memset(&c->e[v], 0, sizeof(c->e[v]));
	}
}

const struct workflow *
api_workflow_cached(PGconn *db, const char *id, int version,
    const char *spec, int *notfound, char **err)
{
	struct wfcache *c = wfcache();
	PGresult *r = NULL;
	struct workflow *wf;
	struct diags d;
	size_t victim;
	char ver[16], *name;

	*notfound = 0;
	/* The last one borrowed from the scratch slot is done with. */
	workflow_free(c->scratch);
	c->scratch = NULL;
	for (size_t i = 0; i < WFCACHE_SIZE; i++) {
		if (c->e[i].wf && c->e[i].version == version &&
		    strcmp(c->e[i].id, id) == 0) {
			c->e[i].used = ++c->tick;
			return c->e[i].wf;
		}
	}
	if (spec == NULL) {
		const char *p[2] = { id, ver };

		snprintf(ver, sizeof(ver), "%d", version);
		r = db_exec(db, err, "SELECT spec::text FROM workflow_versions "
		    "WHERE workflow_id = $1 AND version = $2::int", 2, p);
		if (r == NULL)
			return NULL;
		if (PQntuples(r) == 0) {
			PQclear(r);
			*notfound = 1;
			*err = xasprintf("workflow %s has no version %d", id,
			    version);
			return NULL;
		}
		spec = PQgetvalue(r, 0, 0);
	}
	diags_init(&d);
	name = xasprintf("%s version %d (stored)", id, version);
	/* Canonical JSON, validated when applied: no YAML parser. */
	pthread_mutex_lock(&wf_load_mu);
	wf = workflow_load_json(name, spec, strlen(spec), &d);
	pthread_mutex_unlock(&wf_load_mu);
	free(name);
	PQclear(r);
	if (wf == NULL) {
		*err = xasprintf("the stored spec of %s version %d does not "
		    "load: %s", id, version, d.n ? d.v[0].msg : "?");
		diags_clear(&d);
		return NULL;
	}
	diags_clear(&d);
	if (wf->ntasks > WFCACHE_TASKS)
		return c->scratch = wf;
	victim = wfcache_room(c, wf->ntasks);
	c->ntasks += wf->ntasks;
	c->e[victim].id = xstrdup(id);
	c->e[victim].version = version;
	c->e[victim].wf = wf;
	c->e[victim].used = ++c->tick;
	return wf;
}

/*
 * The declared params of the versions too large for a thread's cache,
 * kept as JSON text for every thread: a trigger checks its params
 * against them without reading and loading the whole spec again (4 MB,
 * about 80 ms, for a 10,000-task fan-out).  Text, since a jv may not be
 * shared between threads; a version never changes, so an entry is never
 * stale.
 */
#define PARAMS_KEPT 16

static struct {
	char *id;
	int version;
	char *declared;
	uint64_t used;
} kept[PARAMS_KEPT];
static uint64_t kept_tick;
static pthread_mutex_t kept_mu = PTHREAD_MUTEX_INITIALIZER;

/* The kept declared params of version of id, or jv_invalid(). */
static jv
params_kept(const char *id, int version)
{
	char *text = NULL;
	jv d;

	pthread_mutex_lock(&kept_mu);
	for (size_t i = 0; i < PARAMS_KEPT && text == NULL; i++)
		if (kept[i].id && kept[i].version == version &&
		    strcmp(kept[i].id, id) == 0) {
			text = xstrdup(kept[i].declared);
			kept[i].used = ++kept_tick;
		}
	pthread_mutex_unlock(&kept_mu);
	if (text == NULL)
		return jv_invalid();
	d = jv_parse(text);
	free(text);
	return d;
}

/* Keeps the declared params of version of id (borrowed) in the least used
 * entry. */
static void
params_keep(const char *id, int version, jv declared)
{
	jv s = jv_dump_string(jv_copy(declared), 0);
	size_t v = 0;

	pthread_mutex_lock(&kept_mu);
	for (size_t i = 0; i < PARAMS_KEPT; i++) {
		if (kept[i].id && kept[i].version == version &&
		    strcmp(kept[i].id, id) == 0) {
			v = PARAMS_KEPT; /* another thread was first */
			break;
		}
		if (kept[i].id == NULL || kept[i].used < kept[v].used)
			v = i;
	}
	if (v < PARAMS_KEPT) {
		free(kept[v].id);
		free(kept[v].declared);
		kept[v].id = xstrdup(id);
		kept[v].version = version;
		kept[v].declared = xstrdup(jv_string_value(s));
		kept[v].used = ++kept_tick;
	}
	pthread_mutex_unlock(&kept_mu);
	jv_free(s);
}

/* The kept version of id used last, or 0. */
static int
params_kept_last(const char *id)
{
	int version = 0;
	uint64_t used = 0;

	pthread_mutex_lock(&kept_mu);
	for (size_t i = 0; i < PARAMS_KEPT; i++)
		if (kept[i].id && strcmp(kept[i].id, id) == 0 &&
		    kept[i].used > used) {
			used = kept[i].used;
			version = kept[i].version;
		}
	pthread_mutex_unlock(&kept_mu);
	return version;
}

int
api_workflow_last(const char *id)
{
	struct wfcache *c = wfcache();
	size_t best = WFCACHE_SIZE;

	for (size_t i = 0; i < WFCACHE_SIZE; i++)
		if (c->e[i].wf && strcmp(c->e[i].id, id) == 0 &&
		    (best == WFCACHE_SIZE || c->e[i].used > c->e[best].used))
			best = i;
	return best == WFCACHE_SIZE ? params_kept_last(id) :
				      c->e[best].version;
}

/* ---- helpers ------------------------------------------------------------ */

static jv
workflow_summary(const PGresult *r, int row)
{
	jv o = jv_object();

	o = jv_put(o, "id", pg_jv_text(r, row, 0));
	o = jv_put(o, "name", pg_jv_text(r, row, 1));
	o = jv_put(o, "schedule", pg_jv_text(r, row, 2));
	o = jv_put(o, "timezone", pg_jv_text(r, row, 3));
	o = jv_put(o, "version", pg_jv_num(r, row, 4));
	o = jv_put(o, "paused", pg_jv_bool(r, row, 5));
	return o;
}

/* The canonical spec of a stored version, in the loader's key order. */
static jv
spec_jv(PGconn *db, const char *id, int version, const PGresult *r,
    int row, int col)
{
	const struct workflow *wf;
	char *err = NULL;
	int notfound;

	wf = api_workflow_cached(db, id, version, PQgetvalue(r, row, col),
	    &notfound, &err);
	if (wf != NULL)
		return workflow_to_jv(wf);
	api_log(LOG_LVL_WARN, "%s", err);
	free(err);
	return pg_jv_json(r, row, col);	/* jsonb's key order, but intact */
}

static int
parse_version(const char *s, int *out)
{
	char *end;
	long n = strtol(s, &end, 10);

	if (*s < '0' || *s > '9' || *end != '\0' || n < 1 || n > 1000000000)
		return -1;
	*out = (int)n;
	return 0;
}

/* ---- routes ------------------------------------------------------------- */

int
api_workflows_list(struct api_request *rq, jv *out)
{
	PGconn *db = api_db(rq);
	char *err = NULL;
	PGresult *r;
	jv list = jv_array();

	if (db == NULL)
		return api_db_down(out);
	r = db_exec(db, &err, "SELECT w.id, w.name, w.schedule, w.timezone, "
	    "w.current_version, w.paused, " SQL_ISO("w.created_at") ", "
	    SQL_ISO("w.updated_at") ", "
	    "CASE jsonb_typeof(v.spec->'tasks') WHEN 'array' THEN "
	    "jsonb_array_length(v.spec->'tasks') ELSE 0 END "
	    "FROM workflows w LEFT JOIN workflow_versions v "
	    "ON v.workflow_id = w.id AND v.version = w.current_version "
	    "WHERE w.deleted_at IS NULL ORDER BY w.id", 0, NULL);
	if (r == NULL) {
		jv_free(list);
		return api_db_fail(rq, out, err);
	}
	for (int i = 0; i < PQntuples(r); i++) {
		jv o = workflow_summary(r, i);

		o = jv_put(o, "taskCount", pg_jv_num(r, i, 8));
		o = jv_put(o, "createdAt", pg_jv_text(r, i, 6));
		o = jv_put(o, "updatedAt", pg_jv_text(r, i, 7));
		list = jv_array_append(list, o);
	}
	PQclear(r);
	*out = jv_object_set(jv_object(), jv_string("workflows"), list);
	return 200;
}

int
api_workflow_get(struct api_request *rq, jv *out)
{
	const char *id = rq->param[0];
	PGconn *db = api_db(rq);
	char *err = NULL;
	PGresult *r;
	jv o;

	if (db == NULL)
		return api_db_down(out);
	r = db_exec(db, &err, "SELECT w.id, w.name, w.schedule, w.timezone, "
	    "w.current_version, w.paused, " SQL_ISO("w.created_at") ", "
	    SQL_ISO("w.updated_at") ", v.spec::text, v.definition "
	    "FROM workflows w JOIN workflow_versions v "
	    "ON v.workflow_id = w.id AND v.version = w.current_version "
	    "WHERE w.id = $1 AND w.deleted_at IS NULL", 1, &id);
	if (r == NULL)
		return api_db_fail(rq, out, err);
	if (PQntuples(r) == 0) {
		PQclear(r);
		return api_error(out, 404, "not_found", "id",
		    "no workflow '%s'", id);
	}
	o = workflow_summary(r, 0);
	o = jv_put(o, "createdAt", pg_jv_text(r, 0, 6));
	o = jv_put(o, "updatedAt", pg_jv_text(r, 0, 7));
	o = jv_put(o, "spec", spec_jv(db, id,
	    atoi(PQgetvalue(r, 0, 4)), r, 0, 8));
	o = jv_put(o, "definition", pg_jv_text(r, 0, 9));
	PQclear(r);
	*out = o;
	return 200;
}

int
api_workflow_versions(struct api_request *rq, jv *out)
{
	const char *id = rq->param[0];
	PGconn *db = api_db(rq);
	char *err = NULL;
	PGresult *r;
	jv list;

	if (db == NULL)
		return api_db_down(out);
	r = db_exec(db, &err, "SELECT version, checksum, "
	    SQL_ISO("created_at") " FROM workflow_versions "
	    "WHERE workflow_id = $1 ORDER BY version DESC", 1, &id);
	if (r == NULL)
		return api_db_fail(rq, out, err);
	if (PQntuples(r) == 0) {
		/* Every workflow has a version: none means no workflow. */
		PQclear(r);
		return api_error(out, 404, "not_found", "id",
		    "no workflow '%s'", id);
	}
	list = jv_array();
	for (int i = 0; i < PQntuples(r); i++) {
		jv o = jv_object();

		o = jv_put(o, "version", pg_jv_num(r, i, 0));
		o = jv_put(o, "checksum", pg_jv_text(r, i, 1));
		o = jv_put(o, "createdAt", pg_jv_text(r, i, 2));
		list = jv_array_append(list, o);
	}
	PQclear(r);
	*out = jv_object_set(jv_object(), jv_string("versions"), list);
	return 200;
}

int
api_workflow_version(struct api_request *rq, jv *out)
{
	const char *p[2] = { rq->param[0], rq->param[1] };
	PGconn *db;
	char *err = NULL;
	PGresult *r;
	int version;
	jv o;

	if (parse_version(rq->param[1], &version) < 0)
		return api_error(out, 400, "bad_request", "version",
		    "version must be a positive integer, not '%s'",
		    rq->param[1]);
	if ((db = api_db(rq)) == NULL)
		return api_db_down(out);
	r = db_exec(db, &err, "SELECT version, " SQL_ISO("created_at")
	    ", spec::text, definition FROM workflow_versions "
	    "WHERE workflow_id = $1 AND version = $2::int", 2, p);
	if (r == NULL)
		return api_db_fail(rq, out, err);
	if (PQntuples(r) == 0) {
		PQclear(r);
		return api_error(out, 404, "not_found", "version",
		    "workflow '%s' has no version %d", p[0], version);
	}
	o = jv_object_set(jv_object(), jv_string("id"), jv_string(p[0]));
	o = jv_put(o, "version", pg_jv_num(r, 0, 0));
	o = jv_put(o, "createdAt", pg_jv_text(r, 0, 1));
	o = jv_put(o, "spec", spec_jv(db, p[0], version, r, 0, 2));
	o = jv_put(o, "definition", pg_jv_text(r, 0, 3));
	PQclear(r);
	*out = o;
	return 200;
}

static jv
apply_result(const char *id, int version, int created)
{
	jv o = jv_object();

	o = jv_put(o, "id", jv_string(id));
	o = jv_put(o, "version", jv_number(version));
	return jv_put(o, "created", jv_bool(created));
}

/* The workflows row takes the applied version (in apply_tx). */
static int
apply_row(PGconn *db, const struct workflow *wf, const char *ver, char **err)
{
	char cmax[16];
	const char *up[7] = { wf->id, wf->name, wf->schedule, wf->timezone,
		ver, cmax, concurrency_policy_name(wf->concurrency_policy) };

	snprintf(cmax, sizeof(cmax), "%d", wf->concurrency_max);
	/* SET reads the old row: a re-created workflow starts afresh, and
	 * a new or changed schedule fires from now on (schedule_since). */
	return db_cmd(db, err, "UPDATE workflows SET name = $2, schedule = $3, "
	    "timezone = $4, current_version = $5::int, updated_at = now(), "
	    "created_at = CASE WHEN deleted_at IS NULL THEN created_at "
	    "ELSE now() END, paused = paused AND deleted_at IS NULL, "
	    "concurrency_max = $6::int, concurrency_policy = $7, "
	    "schedule_since = CASE WHEN deleted_at IS NOT NULL OR "
	    "current_version = 0 OR schedule IS DISTINCT FROM $3 OR "
	    "timezone <> $4 THEN now() ELSE schedule_since END, "
	    "deleted_at = NULL WHERE id = $1", 7, up);
}

/* A raised (or lifted) limit lets queued runs start now (else the
 * engines' sweep admits them). */
static void
apply_admit(PGconn *db, const char *id)
{
	char *err = NULL;

	if (runstart_admit(db, id, &err) < 0) {
		api_log(LOG_LVL_WARN, "workflow %s: admitting queued runs: %s",
		    id, err);
		free(err);
	}
}

/*
 * The apply transaction.  Returns the HTTP status with *out set.  The
 * workflows row is inserted if missing and then locked, so two applies
 * of one workflow take turns; the version number is max + 1 under that
 * lock.
 */
static int
apply_tx(struct api_request *rq, PGconn *db, const struct workflow *wf,
    const char *spec, jv *out)
{
	char ver[16];
	const char *ins[4] = { wf->id, wf->name, wf->schedule, wf->timezone };
	const char *sel[2] = { wf->id, spec };
	const char *nv[3] = { wf->id, rq->body, spec };
	const char *ev[3] = { wf->id, ver, NULL };
	char *err = NULL;
	PGresult *r;
	int version, same, deleted;

	if (db_cmd(db, &err, "BEGIN", 0, NULL) < 0)
		goto fail;
	if (db_cmd(db, &err, "INSERT INTO workflows (id, name, schedule, "
	    "timezone, current_version) VALUES ($1, $2, $3, $4, 0) "
	    "ON CONFLICT (id) DO NOTHING", 4, ins) < 0)
		goto fail;
	r = db_exec(db, &err, "SELECT w.current_version, "
	    "v.checksum IS NOT DISTINCT FROM "
	    "encode(sha256(convert_to($2::text, 'UTF8')), 'hex'), "
	    "w.deleted_at IS NOT NULL "
	    "FROM workflows w LEFT JOIN workflow_versions v "
	    "ON v.workflow_id = w.id AND v.version = w.current_version "
	    "WHERE w.id = $1 FOR UPDATE OF w", 2, sel);
	if (r == NULL)
		goto fail;
	version = atoi(PQgetvalue(r, 0, 0));
	same = version > 0 && PQgetvalue(r, 0, 1)[0] == 't';
	deleted = PQgetvalue(r, 0, 2)[0] == 't';
	PQclear(r);
	if (same && !deleted) {
		if (db_cmd(db, &err, "COMMIT", 0, NULL) < 0)
			goto fail;
		*out = apply_result(wf->id, version, 0);
		return 200;
	}
	/* A deleted workflow applied unchanged comes back as it was. */
	if (!same) {
		r = db_exec(db, &err, "INSERT INTO workflow_versions "
		    "(workflow_id, version, definition, spec, checksum) "
		    "SELECT $1, coalesce(max(version), 0) + 1, $2, "
		    "$3::text::jsonb, "
		    "encode(sha256(convert_to($3::text, 'UTF8')), 'hex') "
		    "FROM workflow_versions WHERE workflow_id = $1 "
		    "RETURNING version", 3, nv);
		if (r == NULL)
			goto fail;
		version = atoi(PQgetvalue(r, 0, 0));
		PQclear(r);
	}
	snprintf(ver, sizeof(ver), "%d", version);
	if (apply_row(db, wf, ver, &err) < 0)
		goto fail;
	ev[2] = deleted ? "recreated" : "applied";
	/* loom_event is for event streams (api_events.c); its payload
	 * names no execution, so no long-poll wakes for it.  loom_workflow
	 * lets engines read the version before its first run. */
	if (db_cmd(db, &err, "WITH e AS (INSERT INTO events (kind, data) "
	    "VALUES ('workflow', jsonb_build_object('workflow', $1::text, "
	    "'version', $2::int, 'action', $3::text)) RETURNING 1) "
	    "SELECT pg_notify('loom_event', 'workflow:' || $1), "
	    "pg_notify('loom_workflow', $2 || ' ' || $1), "
	    "pg_notify('loom_sched', $1) FROM e", 3,
	    ev) < 0)
		goto fail;
	if (db_cmd(db, &err, "COMMIT", 0, NULL) < 0)
		goto fail;
	apply_admit(db, wf->id);
	api_log(LOG_LVL_INFO, "workflow %s version %d applied", wf->id,
	    version);
	*out = apply_result(wf->id, version, 1);
	return 201;
fail:
	return api_db_fail(rq, out, err);
}

int
api_workflow_apply(struct api_request *rq, jv *out)
{
	struct workflow *wf;
	struct diags d;
	PGconn *db;
	int line, col, status;
	jv spec;

	if (rq->body_len == 0)
		return api_error(out, 400, "bad_request", NULL, "the body is "
		    "empty: send a workflow file (YAML or JSON)");
	if (api_yaml_depth_check(rq->body, rq->body_len, API_MAX_DEPTH,
	    &line, &col) < 0)
		return api_error(out, 400, "bad_request", NULL, "the workflow "
		    "nests deeper than %d levels (line %d, column %d)",
		    API_MAX_DEPTH, line, col);
	diags_init(&d);
	wf = api_workflow_parse("<request>", rq->body, rq->body_len, &d);
	if (wf == NULL) {
		size_t n = d.n;

		diags_sort(&d);
		status = api_error_details(out, 422, "invalid_workflow",
		    diags_to_jv(&d), "%zu error%s", n, n == 1 ? "" : "s");
		diags_clear(&d);
		return status;
	}
	diags_clear(&d);
	if ((db = api_db(rq)) == NULL) {
		workflow_free(wf);
		return api_db_down(out);
	}
	spec = jv_dump_string(workflow_to_jv(wf), 0);
	if (json_has_nul(jv_string_value(spec))) {
		diags_add(&d, "<request>", 0, 0, "a string holds a NUL "
		    "character (\\u0000), which cannot be stored");
		status = api_error_details(out, 422, "invalid_workflow",
		    diags_to_jv(&d), "1 error");
		diags_clear(&d);
	} else
		status = apply_tx(rq, db, wf, jv_string_value(spec), out);
	jv_free(spec);
	workflow_free(wf);
	return status;
}

/*
 * A boolean query argument such as ?force=true: 0 with *val (0 when
 * absent), or 400 with *out.
 */
static int
query_flag(struct api_request *rq, const char *name, int *val, jv *out)
{
	const char *v = api_query(rq, name);

	*val = 0;
	if (v == NULL || strcmp(v, "false") == 0 || strcmp(v, "0") == 0 ||
	    strcmp(v, "no") == 0)
		return 0;
	if (*v == '\0' || strcmp(v, "true") == 0 || strcmp(v, "1") == 0 ||
	    strcmp(v, "yes") == 0) {
		*val = 1;
		return 0;
	}
	return api_error(out, 400, "bad_request", name, "%s must be true or "
	    "false, not '%s'", name, v);
}

/*
 * The current version of workflow id, when it may be triggered: 0 with
 * *version, else the status of the error in *out (404; 409 when it is
 * paused and force is not set).
 */
static int
trigger_version(struct api_request *rq, PGconn *db, const char *id,
    int force, int *version, jv *out)
{
	PGresult *r;
	char *err = NULL;

	r = db_exec(db, &err, "SELECT current_version, paused FROM workflows "
	    "WHERE id = $1 AND deleted_at IS NULL", 1, &id);
	if (r == NULL)
		return api_db_fail(rq, out, err);
	if (PQntuples(r) == 0) {
		PQclear(r);
		return api_error(out, 404, "not_found", "id",
		    "no workflow '%s'", id);
	}
	if (PQgetvalue(r, 0, 1)[0] == 't' && !force) {
		PQclear(r);
		return api_error(out, 409, "conflict", "id", "workflow '%s' "
		    "is paused: unpause it, or trigger with ?force=true", id);
	}
	*version = atoi(PQgetvalue(r, 0, 0));
	PQclear(r);
	return 0;
}

/*
 * The run's params from input (consumed), as JSON text in *params (the
 * caller's to free): 0, else the status of the error in *out (422).
 */
static int
trigger_params(jv declared, jv input, jv *params, jv *out)
{
	char *err = NULL;
	int status;
	jv p;

	/* The engine's own rule for params (defaults, unknown names). */
	if (run_params(declared, input, &p, &err) < 0) {
		status = api_error(out, 422, "invalid_input", "input", "%s",
		    err);
		free(err);
		return status;
	}
	*params = jv_dump_string(p, 0);
	if (json_has_nul(jv_string_value(*params))) {
		jv_free(*params);
		return api_error(out, 422, "invalid_input", "input", "a string "
		    "holds a NUL character (\\u0000), which cannot be stored");
	}
	return 0;
}

/*
 * The answer to a start (runstart.h): 201 with the run (queued or not),
 * else the error that says why none was made.
 */
static int
trigger_answer(struct api_request *rq, const char *id, int version,
    const struct run_started *st, jv *out)
{
	char *loc;

	switch (st->outcome) {
	case RUNSTART_STARTED:
	case RUNSTART_QUEUED:
		break;
	case RUNSTART_SKIPPED:
		return api_error(out, 409, "concurrency_limit", "id",
		    "workflow '%s': not started: %s", id, st->reason);
	case RUNSTART_PAUSED:
		return api_error(out, 409, "conflict", "id", "workflow '%s' "
		    "is paused: unpause it, or trigger with ?force=true", id);
	case RUNSTART_NO_WORKFLOW:
	case RUNSTART_DUPLICATE:
	default:
		return api_error(out, 404, "not_found", "id",
		    "no workflow '%s' (it was just deleted)", id);
	}
	log_set_run(id, st->id, NULL, 0);
	api_log(LOG_LVL_INFO, "run of version %d created%s", version,
	    st->outcome == RUNSTART_QUEUED ?
		" (queued: the concurrency limit is reached)" :
		"");
	log_set_run(NULL, NULL, NULL, 0);
	loc = xasprintf("/api/v1/executions/%s", st->id);
	api_set_header(rq, "Location", loc);
	free(loc);
	*out = jv_object();
	*out = jv_put(*out, "executionId", jv_string(st->id));
	*out = jv_put(*out, "workflowId", jv_string(id));
	*out = jv_put(*out, "workflowVersion", jv_number(version));
	*out = jv_put(*out, "status", jv_string("PENDING"));
	*out = jv_put(*out, "queued", jv_bool(st->outcome == RUNSTART_QUEUED));
	if (st->cancelled[0] != '\0')
		*out = jv_put(*out, "cancelled", jv_string(st->cancelled));
	return 201;
}

/*
 * One start at *version: the params are checked against it, and the run
 * is made only if it is still the current version (runstart's current).
 * guess: *version is the thread's guess (api_workflow_last()), not read
 * from the database, so params it refuses and a missing workflow are
 * looked at again.  Returns the status of the answer in *out, or 0 to
 * try again at *version (0: read the current version first).
 */
static int
trigger_try(struct api_request *rq, PGconn *db, const char *id, int force,
    int guess, int *version, jv input, jv *out)
{
	const struct workflow *wf;
	struct run_started st;
	char *err = NULL;
	int status, notfound;
	jv params, declared;

	if (!jv_is_valid(declared = params_kept(id, *version))) {
		wf = api_workflow_cached(
		    db, id, *version, NULL, &notfound, &err);
		if (wf == NULL)
			return api_db_fail(rq, out, err);
		declared = jv_copy(wf->params);
		if (wf->ntasks > WFCACHE_TASKS)
			params_keep(id, *version, declared);
	}
	if ((status = trigger_params(declared, jv_copy(input), &params,
		 out)) != 0) {
		if (!guess)
			return status;
		jv_free(*out);
		*out = jv_invalid();
		*version = 0;
		return 0;
	}
	{
		struct run_start rs = { id, *version, jv_string_value(params),
			"manual", -1, NULL, force, 0, 1 };

		status = runstart(db, &rs, &st, &err);
	}
	jv_free(params);
	if (status < 0)
		return api_db_fail(rq, out, err);
	if (st.outcome == RUNSTART_STALE) {
		*version = st.version;
		return 0;
	}
	if (guess && st.outcome == RUNSTART_NO_WORKFLOW)
		return api_error(out, 404, "not_found", "id",
		    "no workflow '%s'", id);
	return trigger_answer(rq, id, *version, &st, out);
}

/*
 * A trigger is one statement when the thread has parsed the workflow's
 * current version before (run_create checks that it is still current),
 * two when it reads the current version first, as the first trigger of
 * a workflow in a thread does and one after an apply.
 */
int
api_workflow_trigger(struct api_request *rq, jv *out)
{
	const char *id = rq->param[0];
	PGconn *db;
	int status = 0, version, guess, force;
	jv input;

	if ((status = query_flag(rq, "force", &force, out)) != 0)
		return status;
	if ((status = api_trigger_body(jv_copy(rq->json), &input, out)) != 0)
		return status;
	if ((db = api_db(rq)) == NULL) {
		jv_free(input);
		return api_db_down(out);
	}
	version = api_workflow_last(id);
	guess = version != 0;
	for (int i = 0; i < TRIGGER_TRIES && status == 0; i++, guess = 0) {
		if (version == 0 && (status = trigger_version(rq, db, id,
		    force, &version, out)) != 0)
			break;
		status = trigger_try(rq, db, id, force, guess, &version,
		    input, out);
	}
	jv_free(input);
	if (status == 0)
		status = api_error(out, 409, "conflict", "id", "workflow '%s' "
		    "got %d new versions while it was triggered: try again",
		    id, TRIGGER_TRIES);
	return status;
}

/* ---- delete, pause ------------------------------------------------------ */

/*
 * The delete transaction: lock the row, look for live runs, cancel them
 * (force) or refuse, mark the workflow deleted.  Returns the status.
 */
static int
delete_tx(struct api_request *rq, PGconn *db, const char *id, int force,
    jv *out)
{
	char *err = NULL;
	PGresult *r = NULL;
	jv cancelled = jv_array();
	int n;

	if (db_cmd(db, &err, "BEGIN", 0, NULL) < 0)
		goto fail;
	r = db_exec(db, &err, "SELECT 1 FROM workflows WHERE id = $1 AND "
	    "deleted_at IS NULL FOR UPDATE", 1, &id);
	if (r == NULL)
		goto fail;
	if (PQntuples(r) == 0) {
		PQclear(r);
		jv_free(cancelled);
		if (db_cmd(db, &err, "ROLLBACK", 0, NULL) < 0)
			return api_db_fail(rq, out, err);
		return api_error(out, 404, "not_found", "id",
		    "no workflow '%s'", id);
	}
	PQclear(r);
	/* The run's doorbell and the event stream's, as a cancel rings. */
	r = db_exec(db, &err, force ? transition_sql(TR_RUN_CANCEL_WORKFLOW) :
	    "SELECT id FROM executions WHERE workflow_id = $1 AND status IN "
	    "('PENDING', 'RUNNING') ORDER BY id", 1, &id);
	if (r == NULL)
		goto fail;
	n = PQntuples(r);
	for (int i = 0; i < n; i++)
		cancelled = jv_array_append(cancelled, pg_jv_text(r, i, 0));
	PQclear(r);
	r = NULL;
	if (n > 0 && !force) {
		if (db_cmd(db, &err, "ROLLBACK", 0, NULL) < 0)
			goto fail;
		return api_error_details(out, 409, "conflict", cancelled,
		    "workflow '%s' has %d execution%s still PENDING or "
		    "RUNNING; cancel %s, or delete with ?force=true", id, n,
		    n == 1 ? "" : "s", n == 1 ? "it" : "them");
	}
	if (db_cmd(db, &err, "UPDATE workflows SET deleted_at = now(), "
	    "updated_at = now() WHERE id = $1", 1, &id) < 0)
		goto fail;
	{
		char cnt[16];
		const char *p[2] = { id, cnt };

		snprintf(cnt, sizeof(cnt), "%d", n);
		if (db_cmd(db, &err, "WITH e AS (INSERT INTO events (kind, "
		    "data) VALUES ('workflow', jsonb_build_object('workflow', "
		    "$1::text, 'action', 'deleted', 'cancelled', $2::int)) "
		    "RETURNING 1) SELECT pg_notify('loom_event', "
		    "'workflow:' || $1), pg_notify('loom_sched', $1) FROM e",
		    2, p) < 0)
			goto fail;
	}
	if (db_cmd(db, &err, "COMMIT", 0, NULL) < 0)
		goto fail;
	api_log(LOG_LVL_INFO, "workflow %s deleted%s", id, n ?
	    " (its live executions are being cancelled)" : "");
	*out = jv_object();
	*out = jv_put(*out, "id", jv_string(id));
	*out = jv_put(*out, "deleted", jv_true());
	*out = jv_put(*out, "cancelled", cancelled);
	return 200;
fail:
	PQclear(r);
	jv_free(cancelled);
	return api_db_fail(rq, out, err);
}

int
api_workflow_delete(struct api_request *rq, jv *out)
{
	PGconn *db;
	int status, force;

	if ((status = query_flag(rq, "force", &force, out)) != 0)
		return status;
	if ((db = api_db(rq)) == NULL)
		return api_db_down(out);
	return delete_tx(rq, db, rq->param[0], force, out);
}

/* Pause (paused = "true") or unpause ("false"): the workflow as it is. */
static int
set_paused(struct api_request *rq, const char *paused, jv *out)
{
	const char *id = rq->param[0];
	const char *p[3] = { id, paused, strcmp(paused, "true") == 0 ?
		"paused" : "unpaused" };
	PGconn *db;
	PGresult *r;
	char *err = NULL;
	jv o;

	if ((db = api_db(rq)) == NULL)
		return api_db_down(out);
	/* One statement: the change and its event commit together; an
	 * unchanged flag writes nothing. */
	r = db_exec(db, &err, "WITH o AS (SELECT id, paused AS was FROM "
	    "workflows WHERE id = $1 AND deleted_at IS NULL "
	    "FOR NO KEY UPDATE), "
	    "u AS (UPDATE workflows w SET paused = $2::boolean, "
	    "updated_at = now(), schedule_since = CASE WHEN $2::boolean "
	    "THEN w.schedule_since ELSE now() END FROM o WHERE w.id = o.id AND "
	    "o.was <> $2::boolean RETURNING w.id), "
	    "e AS (INSERT INTO events (kind, data) SELECT 'workflow', "
	    "jsonb_build_object('workflow', id, 'action', $3::text) FROM u "
	    "RETURNING 1), "
	    "n AS (SELECT pg_notify('loom_event', 'workflow:' || $1), "
	    "pg_notify('loom_sched', $1) FROM e) "
	    "SELECT o.was <> $2::boolean, (SELECT count(*) FROM n) FROM o",
	    3, p);
	if (r == NULL)
		return api_db_fail(rq, out, err);
	if (PQntuples(r) == 0) {
		PQclear(r);
		return api_error(out, 404, "not_found", "id",
		    "no workflow '%s'", id);
	}
	if (PQgetvalue(r, 0, 0)[0] == 't')
		api_log(LOG_LVL_INFO, "workflow %s %s", id, p[2]);
	o = jv_object_set(jv_object(), jv_string("changed"),
	    jv_bool(PQgetvalue(r, 0, 0)[0] == 't'));
	PQclear(r);
	r = db_exec(db, &err, "SELECT w.id, w.name, w.schedule, w.timezone, "
	    "w.current_version, w.paused, " SQL_ISO("w.created_at") ", "
	    SQL_ISO("w.updated_at") " FROM workflows w WHERE w.id = $1", 1,
	    &id);
	if (r == NULL || PQntuples(r) == 0) {
		jv_free(o);
		if (r == NULL)
			return api_db_fail(rq, out, err);
		PQclear(r);
		return api_error(out, 404, "not_found", "id",
		    "no workflow '%s'", id);
	}
	*out = jv_object_merge(workflow_summary(r, 0), o);
	*out = jv_put(*out, "createdAt", pg_jv_text(r, 0, 6));
	*out = jv_put(*out, "updatedAt", pg_jv_text(r, 0, 7));
	PQclear(r);
	return 200;
}

int
api_workflow_pause(struct api_request *rq, jv *out)
{
	return set_paused(rq, "true", out);
}

int
api_workflow_unpause(struct api_request *rq, jv *out)
{
	return set_paused(rq, "false", out);
}
/* clang-format on */
