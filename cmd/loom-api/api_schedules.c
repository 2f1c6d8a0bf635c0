/*
 * api_schedules: GET /api/v1/schedules — every workflow that has a
 * `schedule:`, with its time zone, whether it is paused, and the next fire
 * times computed by the same cron code (lib/core/cron.c) that `loom cron next`
 * uses.  Nothing fires them yet: there is no scheduler daemon in this
 * version (see loom-api(8)); manual and API triggers work.
 */
#include "api.h"

#include <stdlib.h>
#include <time.h>

#include "core/cron.h"
#include "store/db.h"
#include "util/jsonutil.h"
#include "util/tzload.h"
#include "core/xalloc.h"

#define SCHEDULE_NEXT 3 /* fire times listed per workflow */

static jv
next_fires(const char *expr, const char *tz, int64_t now, int paused)
{
	jv list = jv_array();
	char *err = NULL;
	struct cron *c = cron_parse(expr, &err);
	const struct tz *z;
	int64_t t = now;

	if (c == NULL) { /* validated on apply; say so if not */
		jv e = jv_string(err ? err : "bad cron expression");

		free(err);
		jv_free(list);
		return jv_invalid_with_msg(e);
	}
	/* Checked on apply too, but the zone may have left the system. */
	if ((z = tzload_get(tz && *tz ? tz : "UTC")) == NULL) {
		cron_free(c);
		jv_free(list);
		return jv_invalid_with_msg(
		    jv_string_fmt("unknown time zone '%s'", tz));
	}
	for (int i = 0; i < SCHEDULE_NEXT && !paused; i++) {
		char buf[32];
		time_t tt;
		struct tm tm;

		if (cron_next(c, z, t, &t) < 0)
			break;
		tt = (time_t)t;
		gmtime_r(&tt, &tm);
		strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
		list = jv_array_append(list, jv_string(buf));
	}
	tzload_release(z);
	cron_free(c);
	return list;
}

int
api_schedules_list(struct api_request *rq, jv *out)
{
	PGconn *db;
	PGresult *r;
	char *err = NULL;
	jv list = jv_array();
	int64_t now = (int64_t)time(NULL);

	if ((db = api_db(rq)) == NULL) {
		jv_free(list);
		return api_db_down(out);
	}
	r = db_exec(db, &err,
	    "SELECT id, schedule, timezone, paused, "
	    "current_version FROM workflows WHERE schedule IS NOT NULL AND "
	    "deleted_at IS NULL ORDER BY id",
	    0, NULL);
	if (r == NULL) {
		jv_free(list);
		return api_db_fail(rq, out, err);
	}
	for (int i = 0; i < PQntuples(r); i++) {
		int paused = PQgetvalue(r, i, 3)[0] == 't';
		jv o = jv_object(), next;

		o = jv_put(o, "workflowId", pg_jv_text(r, i, 0));
		o = jv_put(o, "schedule", pg_jv_text(r, i, 1));
		o = jv_put(o, "timezone", pg_jv_text(r, i, 2));
		o = jv_put(o, "paused", pg_jv_bool(r, i, 3));
		o = jv_put(o, "version", pg_jv_num(r, i, 4));
		next = next_fires(
		    PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), now, paused);
		if (jv_is_valid(next))
			o = jv_put(o, "nextFires", next);
		else {
			o = jv_put(o, "nextFires", jv_array());
			o = jv_put(o, "error", jv_invalid_get_msg(next));
		}
		list = jv_array_append(list, o);
	}
	PQclear(r);
	*out = jv_put(jv_object(), "schedules", list);
	return 200;
}
