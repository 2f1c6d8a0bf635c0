/*
 * api_backfill: POST /api/v1/workflows/{id}/backfill
 *
 *   {"from": T, "to": T, "dryRun": bool, "input": {...}}
 *
 * Runs for the nominal fire times of the workflow's schedule in [from,
 * to] (its current version, in its time zone), each started as a
 * scheduled fire is (runstart, trigger "backfill", the nominal time
 * claimed in schedule_fires): the workflow's concurrency applies, and a
 * fire that already has a run -- fired by loom-sched or by an earlier
 * backfill -- is not run again, so the same backfill twice makes nothing
 * the second time.  dryRun lists the fires and what would happen,
 * making nothing.  T is as ?since= takes it (cursor_time_parse): ISO 8601,
 * no zone meaning UTC, or a duration ago.  At most BACKFILL_MAX fires.
 */
#include "api.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/cron.h"
#include "core/engine.h"
#include "core/workflow.h"
#include "core/xalloc.h"
#include "cursor.h"
#include "store/db.h"
#include "store/runstart.h"
#include "util/jsonutil.h"
#include "util/tzload.h"

#define BACKFILL_MAX 10000

struct backfill {
	int64_t from, to; /* seconds */
	int dry;
	jv input;
};

static int
body_time(jv body, const char *key, int64_t *out_s, jv *out)
{
	jv v = jv_object_get(jv_copy(body), jv_string(key));
	const char *why = NULL;
	int64_t us;
	struct timespec ts;
	int status = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (jv_get_kind(v) != JV_KIND_STRING)
		status = api_error(out, 422, "invalid_input", key,
		    "'%s' is required: a time such as 2026-12-01T03:00:00Z "
		    "or 2026-12-01",
		    key);
	else if (cursor_time_parse(jv_string_value(v),
		     (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000, &us,
		     &why) < 0)
		status = api_error(
		    out, 422, "invalid_input", key, "'%s': %s", key, why);
	else
		*out_s = us / 1000000 + (us % 1000000 > 0); /* a whole second */
	jv_free(v);
	return status;
}

/* The body: 0, or the status of the error in *out. */
static int
backfill_body(jv body, struct backfill *b, jv *out)
{
	jv dry;
	int status;

	b->input = jv_null(); /* nothing to free on the errors below */
	if (jv_get_kind(body) != JV_KIND_OBJECT) {
		jv_free(body);
		return api_error(out, 400, "bad_request", NULL,
		    "the body must be a JSON object like {\"from\": T, "
		    "\"to\": T}");
	}
	jv_object_foreach(body, k, v)
	{
		const char *n = jv_string_value(k);

		if (strcmp(n, "from") && strcmp(n, "to") &&
		    strcmp(n, "dryRun") && strcmp(n, "input")) {
			status = api_error(out, 422, "invalid_input", n,
			    "unknown field '%s' (from, to, dryRun, input)", n);
			jv_free(k);
			jv_free(v);
			jv_free(body);
			return status;
		}
		jv_free(k);
		jv_free(v);
	}
	if ((status = body_time(body, "from", &b->from, out)) != 0 ||
	    (status = body_time(body, "to", &b->to, out)) != 0) {
		jv_free(body);
		return status;
	}
	if (b->to < b->from) {
		jv_free(body);
		return api_error(
		    out, 422, "invalid_input", "to", "'to' is before 'from'");
	}
	dry = jv_object_get(jv_copy(body), jv_string("dryRun"));
	b->dry = jv_get_kind(dry) == JV_KIND_TRUE;
	jv_free(dry);
	jv_free(b->input);
	b->input = jv_object_get(body, jv_string("input"));
	if (jv_get_kind(b->input) == JV_KIND_NULL || !jv_is_valid(b->input)) {
		jv_free(b->input);
		b->input = jv_object();
	}
	return 0;
}

/* The nominal times in [from, to]: a malloc'd array; -1 with *status and
 * the error in *err. */
static long
fires_in(const struct workflow *wf, const struct backfill *b, int64_t **out,
    jv *err, int *status)
{
	char *msg = NULL;
	struct cron *c = cron_parse(wf->schedule, &msg);
	const struct tz *z = tzload_get(wf->timezone);
	int64_t t = b->from - 1, *v = NULL;
	long n = 0;

	if (c == NULL || z == NULL) {
		*status = api_error(err, 409, "conflict", "id",
		    "workflow '%s': its schedule cannot be used here: %s",
		    wf->id, msg ? msg : "unknown time zone");
		n = -1;
		goto out;
	}
	while (cron_next(c, z, t, &t) == 0 && t <= b->to) {
		if (n == BACKFILL_MAX) {
			*status = api_error(err, 422, "invalid_input", "to",
			    "the range holds more than %d fires: "
			    "backfill it in parts",
			    BACKFILL_MAX);
			n = -1;
			goto out;
		}
		v = xreallocarray(v, (size_t)n + 1, sizeof(*v));
		v[n++] = t;
	}
out:
	free(msg);
	cron_free(c);
	tzload_release(z);
	if (n < 0) {
		free(v);
		v = NULL;
	}
	*out = v;
	return n;
}

static jv
fire_jv(int64_t t, const char *outcome, const char *exec)
{
	char buf[32];
	time_t tt = (time_t)t;
	struct tm tm;
	jv o = jv_object();

	gmtime_r(&tt, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	o = jv_put(o, "scheduledTime", jv_string(buf));
	o = jv_put(o, "outcome", jv_string(outcome));
	if (exec && *exec)
		o = jv_put(o, "executionId", jv_string(exec));
	return o;
}

/* The fires that have a record already, as a sorted array of seconds. */
static int
existing_fires(PGconn *db, const char *id, const struct backfill *b,
    int64_t **v, long *n, char **err)
{
	char f[24], t[24];
	const char *p[3] = { id, f, t };
	PGresult *r;

	snprintf(f, sizeof(f), "%lld", (long long)b->from);
	snprintf(t, sizeof(t), "%lld", (long long)b->to);
	r = db_exec(db, err,
	    "SELECT extract(epoch FROM nominal_at)::bigint FROM schedule_fires "
	    "WHERE workflow_id = $1 AND nominal_at BETWEEN "
	    "to_timestamp($2::bigint) AND to_timestamp($3::bigint) "
	    "ORDER BY 1",
	    3, p);
	if (r == NULL)
		return -1;
	*n = PQntuples(r);
	*v = xcalloc((size_t)*n + 1, sizeof(**v));
	for (long i = 0; i < *n; i++)
		(*v)[i] = strtoll(PQgetvalue(r, (int)i, 0), NULL, 10);
	PQclear(r);
	return 0;
}

static int
dry_run(struct api_request *rq, PGconn *db, const char *id,
    const struct backfill *b, const int64_t *t, long n, jv *list, jv *out)
{
	int64_t *have;
	long nhave, k = 0;
	char *err = NULL;

	if (existing_fires(db, id, b, &have, &nhave, &err) < 0)
		return api_db_fail(rq, out, err);
	for (long i = 0; i < n; i++) {
		while (k < nhave && have[k] < t[i])
			k++;
		*list = jv_array_append(*list,
		    fire_jv(t[i],
			k < nhave && have[k] == t[i] ? "exists" : "would start",
			NULL));
	}
	free(have);
	return 0;
}

static int
make_runs(struct api_request *rq, PGconn *db, const struct workflow *wf,
    int version, const char *params, const int64_t *t, long n, jv *list,
    jv *out)
{
	static const char *const said[] = { "started", "queued", "skipped",
		"exists", "deleted", "paused" };
	char *err = NULL;

	for (long i = 0; i < n; i++) {
		struct run_start rs = { wf->id, version, params, "backfill",
			t[i], NULL, 1, 0, 0 };
		struct run_started st;

		if (runstart(db, &rs, &st, &err) < 0)
			return api_db_fail(rq, out, err);
		if (st.outcome == RUNSTART_NO_WORKFLOW)
			return api_error(out, 404, "not_found", "id",
			    "no workflow '%s' (it was just deleted)", wf->id);
		*list = jv_array_append(*list,
		    fire_jv(t[i], said[st.outcome],
			st.outcome <= RUNSTART_QUEUED ? st.id : NULL));
	}
	return 0;
}

/* The answer's counts by outcome. */
static jv
summary(jv o, jv list)
{
	long made = 0, exist = 0, skipped = 0;

	jv_array_foreach(list, i, f)
	{
		jv oc = jv_object_get(f, jv_string("outcome"));
		const char *s = jv_string_value(oc);

		made += !strcmp(s, "started") || !strcmp(s, "queued") ||
		    !strcmp(s, "would start");
		exist += !strcmp(s, "exists");
		skipped += !strcmp(s, "skipped");
		jv_free(oc);
	}
	o = jv_put(o, "created", jv_number((double)made));
	o = jv_put(o, "existing", jv_number((double)exist));
	o = jv_put(o, "skipped", jv_number((double)skipped));
	return jv_put(o, "fires", list);
}

/* The current version of workflow id, which must have a schedule; NULL
 * with *status and the error in *out. */
static const struct workflow *
scheduled_workflow(struct api_request *rq, PGconn *db, const char *id,
    int *version, jv *out, int *status)
{
	const struct workflow *wf;
	char *err = NULL;
	PGresult *r;
	int notfound;

	r = db_exec(db, &err,
	    "SELECT current_version FROM workflows "
	    "WHERE id = $1 AND deleted_at IS NULL",
	    1, &id);
	if (r == NULL) {
		*status = api_db_fail(rq, out, err);
		return NULL;
	}
	*version = PQntuples(r) ? atoi(PQgetvalue(r, 0, 0)) : 0;
	PQclear(r);
	if (*version == 0) {
		*status = api_error(
		    out, 404, "not_found", "id", "no workflow '%s'", id);
		return NULL;
	}
	wf = api_workflow_cached(db, id, *version, NULL, &notfound, &err);
	if (wf == NULL)
		*status = api_db_fail(rq, out, err);
	else if (wf->schedule == NULL) {
		*status = api_error(out, 409, "conflict", "id",
		    "workflow '%s' has no schedule: nothing to backfill", id);
		wf = NULL;
	}
	return wf;
}

/* The runs' params from the body's input (consumed): JSON text, or
 * jv_invalid() with *status and the error in *out. */
static jv
backfill_params(const struct workflow *wf, jv input, jv *out, int *status)
{
	struct run_rt rt;
	char *err = NULL;
	jv params;

	if (run_rt_init(&rt, wf, input, &err) < 0) {
		*status =
		    api_error(out, 422, "invalid_input", "input", "%s", err);
		free(err);
		return jv_invalid();
	}
	params = jv_dump_string(jv_copy(rt.params), 0);
	run_rt_free(&rt);
	return params;
}

int
api_workflow_backfill(struct api_request *rq, jv *out)
{
	const char *id = rq->param[0];
	const struct workflow *wf;
	struct backfill b;
	PGconn *db;
	int64_t *t = NULL;
	long n;
	int status, version;
	jv list, params;

	if ((status = backfill_body(jv_copy(rq->json), &b, out)) != 0)
		return status;
	if ((db = api_db(rq)) == NULL) {
		jv_free(b.input);
		return api_db_down(out);
	}
	wf = scheduled_workflow(rq, db, id, &version, out, &status);
	if (wf == NULL) {
		jv_free(b.input);
		return status;
	}
	params = backfill_params(wf, b.input, out, &status);
	if (!jv_is_valid(params))
		return status;
	if ((n = fires_in(wf, &b, &t, out, &status)) < 0) {
		jv_free(params);
		return status;
	}
	list = jv_array();
	status = b.dry ? dry_run(rq, db, id, &b, t, n, &list, out) :
			 make_runs(rq, db, wf, version, jv_string_value(params),
			     t, n, &list, out);
	free(t);
	jv_free(params);
	if (status != 0) {
		jv_free(list);
		return status;
	}
	api_log(LOG_LVL_INFO, "workflow %s: backfill of %ld fires%s", id, n,
	    b.dry ? " (dry run)" : "");
	*out = jv_put(jv_object(), "workflowId", jv_string(id));
	*out = jv_put(*out, "dryRun", jv_bool(b.dry));
	*out = summary(*out, list);
	return b.dry ? 200 : 201;
}
