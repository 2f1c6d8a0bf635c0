/*
 * api_list: the lists of executions of loom-api (see api.h, loom-api(8)):
 *
 *   GET /api/v1/executions[?workflow=&status=&trigger=&since=&until=
 *                          &limit=&cursor=]
 *   GET /api/v1/workflows/{id}/history[?status=&trigger=&since=&until=
 *                                      &limit=&cursor=]
 *
 * Both answer {"executions": [...], "nextCursor": "..." or null}, newest
 * first by (created_at, id).  Paging is by keyset (cmd/loom-api/cursor.h): the
 * query asks for one row more than the page holds; when it comes, the
 * page is full and nextCursor names its last row, and the next request
 * reads the rows strictly older than that.  The bound is written so that
 * the created_at indexes of schema/001_core.sql serve it (a range on
 * created_at, the id only breaking ties), and concurrent inserts, always
 * newer, never move a page.
 *
 * A history is the list with the workflow fixed, for a workflow that
 * exists or existed: a deleted workflow's history, like its versions and
 * its executions, stays readable (schema/007_workflow_delete.sql).
 */
/*
 * Its SQL, built from string literals and macros, is laid out by hand;
 * clang-format would tear it into columns.
 */
/* clang-format off */
#include "api.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cursor.h"
#include "store/db.h"
#include "util/jsonutil.h"
#include "core/xalloc.h"

#define LIST_COLS "id, workflow_id, workflow_version, status, trigger, " \
	SQL_ISO("created_at") ", " SQL_ISO("started_at") ", " \
	SQL_ISO("completed_at") ", error, " \
	"(extract(epoch FROM created_at) * 1000000)::bigint, " \
	SQL_ISO_SECONDS("scheduled_at") ", queued"

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static jv
summary_jv(const PGresult *r, int i)
{
	jv o = jv_object();

	o = jv_put(o, "id", pg_jv_text(r, i, 0));
	o = jv_put(o, "workflowId", pg_jv_text(r, i, 1));
	o = jv_put(o, "workflowVersion", pg_jv_num(r, i, 2));
	o = jv_put(o, "status", pg_jv_text(r, i, 3));
	o = jv_put(o, "trigger", pg_jv_text(r, i, 4));
	o = jv_put(o, "scheduledTime", pg_jv_text(r, i, 10));
	o = jv_put(o, "queued", jv_bool(PQgetvalue(r, i, 11)[0] == 't'));
	o = jv_put(o, "createdAt", pg_jv_text(r, i, 5));
	o = jv_put(o, "startedAt", pg_jv_text(r, i, 6));
	o = jv_put(o, "completedAt", pg_jv_text(r, i, 7));
	return jv_put(o, "error", pg_jv_text(r, i, 8));
}

/* The cursor of row i, or null when it cannot be had (an odd id). */
static jv
next_cursor(const PGresult *r, int i)
{
	struct page_key k;
	char buf[CURSOR_MAX + 1];

	if (page_key_set(&k, strtoll(PQgetvalue(r, i, 9), NULL, 10),
	    PQgetvalue(r, i, 0)) < 0 ||
	    cursor_encode(&k, buf, sizeof(buf)) < 0) {
		api_log(LOG_LVL_WARN, "execution %s: no cursor for this row",
		    PQgetvalue(r, i, 0));
		return jv_null();
	}
	return jv_string(buf);
}

/* The page for workflow (NULL: any) and the query of rq. */
static int
list_page(struct api_request *rq, PGconn *db, const char *workflow,
    const struct api_list_args *a, jv *out)
{
	const char *trig = api_query(rq, "trigger");
	char limit[16];
	const char *p[8];
	char *err = NULL;
	PGresult *r;
	int n;
	jv list;

	snprintf(limit, sizeof(limit), "%d", a->limit + 1);
	p[0] = workflow;
	p[1] = a->status[0] ? a->status : NULL;
	p[2] = a->since[0] ? a->since : NULL;
	p[3] = a->until[0] ? a->until : NULL;
	p[4] = a->has_cursor ? a->after_ts : NULL;
	p[5] = a->has_cursor ? a->after_id : NULL;
	p[6] = limit;
	p[7] = trig && *trig ? trig : NULL;
	/* Unnamed statements are planned with their values: the IS NULL
	 * arms fold away and the created_at bounds reach the index. */
	r = db_exec(db, &err, "SELECT " LIST_COLS " FROM executions "
	    "WHERE ($1::text IS NULL OR workflow_id = $1) "
	    "AND ($2::text IS NULL OR status = $2) "
	    "AND ($8::text IS NULL OR trigger = $8) "
	    "AND ($3::timestamptz IS NULL OR created_at >= $3) "
	    "AND ($4::timestamptz IS NULL OR created_at < $4) "
	    "AND ($5::timestamptz IS NULL OR (created_at <= $5 AND "
	    "(created_at < $5 OR id < $6))) "
	    "ORDER BY created_at DESC, id DESC LIMIT $7::int", 8, p);
	if (r == NULL)
		return api_db_fail(rq, out, err);
	n = PQntuples(r);
	list = jv_array();
	for (int i = 0; i < n && i < a->limit; i++)
		list = jv_array_append(list, summary_jv(r, i));
	*out = jv_object_set(jv_object(), jv_string("executions"), list);
	*out = jv_put(*out, "nextCursor", n > a->limit ?
	    next_cursor(r, a->limit - 1) : jv_null());
	PQclear(r);
	return 200;
}

/* trigger=: one of the kinds a run is started by (loom-api(8)). */
static int
trigger_arg_ok(const char *t)
{
	static const char *const kinds[] = { "manual", "api", "schedule",
	    "backfill", "message", "file", "retry", "replay" };

	if (t == NULL || *t == '\0')
		return 1;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(t, kinds[i]) == 0)
			return 1;
	return 0;
}

static int
list_args(struct api_request *rq, struct api_list_args *a, jv *out)
{
	if (!trigger_arg_ok(api_query(rq, "trigger")))
		return api_error(out, 400, "bad_request", "trigger",
		    "trigger must be manual, api, schedule, backfill, "
		    "message, file, retry or replay");
	return api_list_args_parse(a, api_query(rq, "status"),
	    api_query(rq, "limit"), api_query(rq, "cursor"),
	    api_query(rq, "since"), api_query(rq, "until"), now_us(), out);
}

int
api_executions_list(struct api_request *rq, jv *out)
{
	const char *wf = api_query(rq, "workflow");
	struct api_list_args a;
	PGconn *db;
	int status;

	if ((status = list_args(rq, &a, out)) != 0)
		return status;
	if ((db = api_db(rq)) == NULL)
		return api_db_down(out);
	return list_page(rq, db, wf && *wf ? wf : NULL, &a, out);
}

int
api_workflow_history(struct api_request *rq, jv *out)
{
	const char *id = rq->param[0];
	struct api_list_args a;
	char *err = NULL;
	PGconn *db;
	PGresult *r;
	int status, found;

	if ((status = list_args(rq, &a, out)) != 0)
		return status;
	if ((db = api_db(rq)) == NULL)
		return api_db_down(out);
	/* Deleted or not: history is what past runs did. */
	r = db_exec(db, &err, "SELECT 1 FROM workflows WHERE id = $1", 1,
	    &id);
	if (r == NULL)
		return api_db_fail(rq, out, err);
	found = PQntuples(r) > 0;
	PQclear(r);
	if (!found)
		return api_error(out, 404, "not_found", "id",
		    "no workflow '%s'", id);
	return list_page(rq, db, id, &a, out);
}
/* clang-format on */
