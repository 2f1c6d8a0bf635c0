/*
 * api_schedules: what the schedules will do, for people and monitoring
 * (loom-api(8)).
 *
 *   GET /api/v1/schedules          every workflow that has a `schedule:`
 *   GET /api/v1/schedules/{id}?n=N one of them, with its next N fires
 *
 * Each answer holds the schedule, its time zone, whether it is paused,
 * the last fire loom-sched acted on (the newest row of schedule_fires by
 * nominal time: started, queued or skipped), the next fire times computed
 * by the same cron code (lib/core/cron.c) that loom-sched and `loom cron
 * next` use (none while paused), and the workflow's scheduling policy as
 * its current version's stored spec has it.  The policy keys are copied
 * verbatim from workflow_versions.spec, and only those the spec has, so a
 * key the DSL gains needs only its name in POLICY_KEYS.
 */
#include "api.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/cron.h"
#include "core/tz.h"
#include "store/db.h"
#include "util/jsonutil.h"
#include "util/tzload.h"
#include "core/xalloc.h"

#define SCHEDULE_NEXT 3	      /* fire times listed per workflow */
#define SCHEDULE_NEXT_ONE 5   /* ... and by default for one (?n=) */
#define SCHEDULE_NEXT_MAX 100 /* the most ?n= may ask */

/* The spec keys of a workflow's scheduling policy (loom-workflow(5)). */
#define POLICY_KEYS \
	"'catchup', 'catchupWindow', 'catchupMax', 'jitter', " \
	"'pauseOnFailure', 'concurrency'"

/*
 * Columns: id, schedule, timezone, paused, current_version, the policy
 * (a jsonb object of the keys the spec has), the last fire (jsonb or
 * NULL).  $1: one workflow, or NULL for every one.
 */
/* clang-format off */
static const char schedules_sql[] =
    "SELECT w.id, w.schedule, w.timezone, w.paused, w.current_version, "
    "(SELECT coalesce(jsonb_object_agg(k, v.spec -> k), '{}') "
    " FROM workflow_versions v, unnest(ARRAY[" POLICY_KEYS "]) k "
    " WHERE v.workflow_id = w.id AND v.version = w.current_version "
    " AND v.spec ? k)::text, "
    "(SELECT jsonb_build_object('nominalTime', "
    SQL_ISO_SECONDS("f.nominal_at") ", 'kind', f.kind, "
    " 'outcome', f.outcome, 'executionId', f.execution_id, "
    " 'reason', f.reason) "
    " FROM schedule_fires f WHERE f.workflow_id = w.id "
    " ORDER BY f.nominal_at DESC LIMIT 1)::text "
    "FROM workflows w WHERE w.schedule IS NOT NULL AND "
    "w.deleted_at IS NULL AND ($1::text IS NULL OR w.id = $1) "
    "ORDER BY w.id";
/* clang-format on */

static void
format_utc(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The wall time in zone z, with its offset: 2026-11-27T05:00:00+02:00. */
static void
format_local(const struct tz *z, int64_t t, char *buf, size_t len)
{
	struct tz_local lt;
	long off;
	size_t n;

	tz_to_local(z, t, &lt);
	n = (size_t)snprintf(buf, len, "%04lld-%02d-%02dT%02d:%02d:%02d",
	    (long long)lt.year, lt.mon, lt.mday, lt.hour, lt.min, lt.sec);
	off = lt.utoff;
	snprintf(buf + n, len - n, "%c%02ld:%02ld", off < 0 ? '-' : '+',
	    labs(off) / 3600, labs(off) / 60 % 60);
}

/*
 * The next count fire times after now of expr in zone tz (none when
 * paused) into *utc and *local (arrays of strings); 0, or -1 with *err
 * (a jv string) when the expression or the zone cannot be read.
 */
static int
next_fires(const char *expr, const char *tz, int64_t now, int count, jv *utc,
    jv *local, jv *err)
{
	char *msg = NULL;
	struct cron *c = cron_parse(expr, &msg);
	const struct tz *z;
	int64_t t = now;

	*utc = jv_array();
	*local = jv_array();
	if (c == NULL) { /* validated on apply; say so if not */
		*err = jv_string(msg ? msg : "bad cron expression");
		free(msg);
		return -1;
	}
	/* Checked on apply too, but the zone may have left the system. */
	if ((z = tzload_get(tz && *tz ? tz : "UTC")) == NULL) {
		cron_free(c);
		*err = jv_string_fmt("unknown time zone '%s'", tz);
		return -1;
	}
	for (int i = 0; i < count; i++) {
		char buf[48];

		if (cron_next(c, z, t, &t) < 0)
			break;
		format_utc(t, buf, sizeof(buf));
		*utc = jv_array_append(*utc, jv_string(buf));
		format_local(z, t, buf, sizeof(buf));
		*local = jv_array_append(*local, jv_string(buf));
	}
	tzload_release(z);
	cron_free(c);
	return 0;
}

/* Row i of schedules_sql as the API shows it, with count next fires. */
static jv
schedule_jv(const PGresult *r, int i, int64_t now, int count)
{
	int paused = PQgetvalue(r, i, 3)[0] == 't';
	jv o = jv_object(), utc, local, err, policy;

	o = jv_put(o, "workflowId", pg_jv_text(r, i, 0));
	o = jv_put(o, "schedule", pg_jv_text(r, i, 1));
	o = jv_put(o, "timezone", pg_jv_text(r, i, 2));
	o = jv_put(o, "paused", pg_jv_bool(r, i, 3));
	o = jv_put(o, "version", pg_jv_num(r, i, 4));
	o = jv_put(o, "lastFire",
	    PQgetisnull(r, i, 6) ? jv_null() : jv_parse(PQgetvalue(r, i, 6)));
	if (next_fires(PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), now,
		paused ? 0 : count, &utc, &local, &err) < 0)
		o = jv_put(o, "error", err);
	o = jv_put(o, "nextFire",
	    jv_array_length(jv_copy(utc)) > 0 ? jv_array_get(jv_copy(utc), 0) :
						jv_null());
	o = jv_put(o, "nextFires", utc);
	o = jv_put(o, "nextFiresLocal", local);
	/* the policy's keys, as the spec has them */
	policy = jv_parse(PQgetisnull(r, i, 5) ? "{}" : PQgetvalue(r, i, 5));
	if (jv_get_kind(policy) == JV_KIND_OBJECT)
		o = jv_object_merge(o, policy);
	else
		jv_free(policy);
	return o;
}

/* schedules_sql for workflow id (NULL: all); NULL after *out is set. */
static PGresult *
schedules_query(struct api_request *rq, const char *id, jv *out, int *st)
{
	PGconn *db;
	PGresult *r;
	char *err = NULL;

	if ((db = api_db(rq)) == NULL) {
		*st = api_db_down(out);
		return NULL;
	}
	if ((r = db_exec(db, &err, schedules_sql, 1, &id)) == NULL)
		*st = api_db_fail(rq, out, err);
	return r;
}

int
api_schedules_list(struct api_request *rq, jv *out)
{
	PGresult *r;
	jv list = jv_array();
	int64_t now = (int64_t)time(NULL);
	int st;

	if ((r = schedules_query(rq, NULL, out, &st)) == NULL) {
		jv_free(list);
		return st;
	}
	for (int i = 0; i < PQntuples(r); i++)
		list = jv_array_append(
		    list, schedule_jv(r, i, now, SCHEDULE_NEXT));
	PQclear(r);
	*out = jv_put(jv_object(), "schedules", list);
	return 200;
}

/*
 * The 404 for workflow id, which has no schedule: field "schedule" when
 * the workflow is there (`loom workflow next` exits 1 for it), "id" when
 * there is no such workflow.
 */
static int
no_schedule(struct api_request *rq, const char *id, jv *out)
{
	PGresult *r;
	char *err = NULL;
	int known;

	r = db_exec(api_db(rq), &err,
	    "SELECT 1 FROM workflows WHERE id = $1 AND deleted_at IS NULL", 1,
	    &id);
	if (r == NULL)
		return api_db_fail(rq, out, err);
	known = PQntuples(r) > 0;
	PQclear(r);
	if (known)
		return api_error(out, 404, "not_found", "schedule",
		    "workflow '%s' has no schedule", id);
	return api_error(out, 404, "not_found", "id", "no workflow '%s'", id);
}

int
api_schedule_get(struct api_request *rq, jv *out)
{
	const char *id = rq->param[0], *q = api_query(rq, "n");
	PGresult *r;
	char *end = NULL;
	long n = SCHEDULE_NEXT_ONE;
	int st;

	if (q != NULL) {
		n = strtol(q, &end, 10);
		if (*q == '\0' || *end != '\0' || n < 1 ||
		    n > SCHEDULE_NEXT_MAX)
			return api_error(out, 400, "bad_request", "n",
			    "n must be a whole number from 1 to %d",
			    SCHEDULE_NEXT_MAX);
	}
	if ((r = schedules_query(rq, id, out, &st)) == NULL)
		return st;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return no_schedule(rq, id, out);
	}
	*out = schedule_jv(r, 0, (int64_t)time(NULL), (int)n);
	PQclear(r);
	return 200;
}
