/*
 * api_events: live events and task output (loom-api(8), "EVENTS").
 *
 *   GET /api/v1/events                  every event, as server-sent events
 *   GET /api/v1/executions/{id}/events  one run's events and log lines,
 *                                       ending once the run is over
 *   GET /api/v1/executions/{id}/logs    one run's log lines, paged JSON
 *
 * The streams are api_stream() answers: this file only says how to fill
 * them; cmd/loom-api/api_stream.c parks and wakes them without holding a
 * thread. A fill reads the rows after the stream's cursor, one page at a time,
 * and writes one SSE message per row ("id: ID", "event: KIND", "data:
 * JSON").  A NOTIFY is only a doorbell: each fill re-reads the tables.
 *
 * Order and resumption: rows are read in (tx, id) order, and only rows
 * whose transaction is older than every transaction still running
 * (schema/005_task_logs.sql says why); the cursor is the (tx, id) of the
 * last row sent.  A visible row that is not readable yet (a transaction
 * older than it is still open) is "held": the fill asks to be called
 * again soon (20ms, doubling to 1s) instead of waiting for a doorbell
 * that may never come.  Events and log lines share one id sequence, so
 * one remembered id resumes a run's stream whichever kind it was: the
 * cursor starts at that row's (tx, id).  Without one the stream starts at
 * "now" (the oldest running transaction), so it carries only what commits
 * from then on; ?since=0 starts at the beginning.
 *
 * A run's stream ends, after an "end" message, when the run is terminal
 * and no row of it is left to send; a stream with log lines first waits
 * (at most API_RECORDS_TIMEOUT_MS) for loom-log to store what it had been
 * sent, and looks once more.  Ownership: a stream's struct evs
 * belongs to the stream (freed by evs_free); fill runs on whichever
 * worker thread serves the connection, with that thread's connection.
 */
/*
 * Its SQL, built from string literals and macros, is laid out by hand;
 * clang-format would tear it into columns.
 */
/* clang-format off */
#include "api.h"
#include "server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "store/db.h"
#include "util/jsonutil.h"
#include "net/sse.h"
#include "core/state.h"
#include "core/xalloc.h"

#define EV_PAGE 500		/* rows per fill (the LIMIT below) */
#define EV_HELD_MIN_MS 20	/* re-check of held rows: first */
#define EV_HELD_MAX_MS 1000	/* ...and at most */
#define EV_RETRY_DB_MS 1000	/* the database is away: look again */
#define LOGS_DEFAULT 1000
#define LOGS_MAX 10000

struct evs {
	char *execution;	/* a run's stream; NULL: every event */
	char *workflow;		/* ?workflow= (every-event stream) */
	char *kinds;		/* ?kind= as an array literal, or NULL */
	char *task;		/* ?task= (a run's stream) */
	char *grep;		/* ?grep= words, full-text (log lines) */
	char *levels;		/* ?level= and above, an array literal */
	char *from;		/* ?from= time (log lines) */
	int logs;		/* log lines too */
	char tx[24], id[24];	/* the cursor: the last row sent */
	char min_id[24];	/* only ids above this ("0": any) */
	int64_t held_ms;	/* the next re-check of held rows */
	int logd_synced;	/* the run is over and loom-log was synced */
};

/* The columns every page has, events and log lines alike. */
enum {
	C_ID, C_TX, C_EXEC, C_TASK, C_KIND, C_FROM, C_TO, C_ATT, C_DATA,
	C_AT, C_STREAM, C_LINE, C_LEVEL
};

/* A log line matches ?grep=, ?level= and ?from= ($n, $n+1, $n+2). */
#define LOG_MATCH(t, a, b, c) \
	" AND ($" a "::text IS NULL OR to_tsvector('simple', " t ".line) " \
	"@@ plainto_tsquery('simple', $" a ")) " \
	"AND ($" b "::text[] IS NULL OR " t ".level = ANY($" b "::text[])) " \
	"AND ($" c "::timestamptz IS NULL OR " t ".ts >= $" c "::timestamptz)"

/* The rows (tx, id) after the cursor, readable, and filtered. */
#define EV_AFTER(t) "(" t ".tx, " t ".id) > ($2::xid8, $3::bigint) " \
	"AND " t ".id > $4::bigint"
#define HORIZON "(SELECT pg_snapshot_xmin(pg_current_snapshot()))"

/*
 * $1 run, $2 $3 cursor, $4 min id, $5 kinds, $6 task, $7 logs, $8 grep,
 * $9 levels, $10 from
 */
static const char run_page_sql[] =
    "SELECT r.id, r.tx::text, $1::text, r.task_id, r.kind, r.from_state, "
    "r.to_state, r.attempt, r.data, r.at, r.stream, r.line, r.level FROM ("
    "SELECT e.id, e.tx, e.task_id, e.kind, e.from_state, e.to_state, "
    "e.attempt, e.data::text AS data, " SQL_ISO("e.created_at") " AS at, "
    "NULL::text AS stream, NULL::text AS line, NULL::text AS level "
    "FROM events e "
    "WHERE e.execution_id = $1 AND " EV_AFTER("e") " AND e.tx < " HORIZON
    " AND ($5::text[] IS NULL OR e.kind = ANY($5::text[])) "
    "AND ($6::text IS NULL OR e.task_id = $6) "
    "UNION ALL "
    "SELECT l.id, l.tx, l.task_id, 'log', NULL, NULL, l.attempt, NULL, "
    SQL_ISO("l.ts") ", l.stream, l.line, l.level FROM task_logs l "
    "WHERE $7::boolean AND l.execution_id = $1 AND " EV_AFTER("l")
    " AND l.tx < " HORIZON " AND ($6::text IS NULL OR l.task_id = $6)"
    LOG_MATCH("l", "8", "9", "10")
    ") r ORDER BY r.tx, r.id LIMIT 500";

/* The run's status, and whether rows after the cursor exist (held). */
static const char run_rest_sql[] =
    "SELECT x.status, EXISTS (SELECT 1 FROM events e "
    "WHERE e.execution_id = $1 AND " EV_AFTER("e")
    " AND ($5::text[] IS NULL OR e.kind = ANY($5::text[])) "
    "AND ($6::text IS NULL OR e.task_id = $6)) OR ($7::boolean AND "
    "EXISTS (SELECT 1 FROM task_logs l WHERE l.execution_id = $1 AND "
    EV_AFTER("l") " AND ($6::text IS NULL OR l.task_id = $6)"
    LOG_MATCH("l", "8", "9", "10") ")) "
    "FROM executions x WHERE x.id = $1";

/* $1 (unused), $2 $3 cursor, $4 min id, $5 kinds, $6 workflow */
#define ALL_WHERE EV_AFTER("e") \
	" AND ($5::text[] IS NULL OR e.kind = ANY($5::text[])) " \
	"AND ($6::text IS NULL OR x.workflow_id = $6 OR " \
	"(e.execution_id IS NULL AND e.data->>'workflow' = $6))"

static const char all_page_sql[] =
    "SELECT e.id, e.tx::text, e.execution_id, e.task_id, e.kind, "
    "e.from_state, e.to_state, e.attempt, e.data::text, "
    SQL_ISO("e.created_at") ", NULL::text, NULL::text, $1::text "
    "FROM events e LEFT JOIN executions x ON x.id = e.execution_id "
    "WHERE " ALL_WHERE " AND e.tx < " HORIZON " ORDER BY e.tx, e.id "
    "LIMIT 500";

static const char all_rest_sql[] =
    "SELECT NULL::text, EXISTS (SELECT 1 FROM events e "
    "LEFT JOIN executions x ON x.id = e.execution_id WHERE " ALL_WHERE
    "), $1::text";

/* ---- rows to messages --------------------------------------------------- */

static jv
row_jv(const PGresult *r, int i)
{
	jv o = jv_object();

	o = jv_put(o, "id", pg_jv_num(r, i, C_ID));
	o = jv_put(o, "executionId", pg_jv_text(r, i, C_EXEC));
	o = jv_put(o, "taskId", pg_jv_text(r, i, C_TASK));
	if (!PQgetisnull(r, i, C_STREAM)) {
		o = jv_put(o, "attempt", pg_jv_num(r, i, C_ATT));
		o = jv_put(o, "stream", pg_jv_text(r, i, C_STREAM));
		o = jv_put(o, "level", pg_jv_text(r, i, C_LEVEL));
		o = jv_put(o, "line", pg_jv_text(r, i, C_LINE));
		return jv_put(o, "ts", pg_jv_text(r, i, C_AT));
	}
	o = jv_put(o, "kind", pg_jv_text(r, i, C_KIND));
	o = jv_put(o, "from", pg_jv_text(r, i, C_FROM));
	o = jv_put(o, "to", pg_jv_text(r, i, C_TO));
	o = jv_put(o, "attempt", pg_jv_num(r, i, C_ATT));
	o = jv_put(o, "data", pg_jv_json(r, i, C_DATA));
	return jv_put(o, "createdAt", pg_jv_text(r, i, C_AT));
}

static void
row_sse(struct buf *out, const PGresult *r, int i)
{
	jv s = jv_dump_string(row_jv(r, i), 0);

	sse_write(out, PQgetvalue(r, i, C_ID), PQgetvalue(r, i, C_KIND),
	    jv_string_value(s));
	jv_free(s);
}

static void
copy_num(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src);
}

/* ---- the stream --------------------------------------------------------- */

static void
evs_free(void *ctx)
{
	struct evs *e = ctx;

	if (e == NULL)
		return;
	free(e->execution);
	free(e->workflow);
	free(e->kinds);
	free(e->task);
	free(e->grep);
	free(e->levels);
	free(e->from);
	free(e);
}

static int
run_terminal(const char *status)
{
	enum run_state s;

	return run_state_parse(status, &s) == 0 && run_state_terminal(s);
}

/*
 * The run is over, but loom-log may not have stored yet what it was sent
 * before (loom-exec's record of the outcome does not hold the result
 * back): asks it to, once, before the stream's last look.
 */
static void
logd_sync_once(struct api_request *rq, struct evs *e)
{
	const char *path = rq->api->opt->logd_socket;

	e->logd_synced = 1;
	if (api_logd_sync(path, API_RECORDS_TIMEOUT_MS) < 0)
		api_log(LOG_LVL_DEBUG, "%s: loom-log at %s: %s", rq->path,
		    path, strerror(errno));
}

static int
evs_fill(struct api_request *rq, void *ctx, struct buf *out,
    int64_t *recheck_ms)
{
	struct evs *e = ctx;
	const char *p[10] = { e->execution, e->tx, e->id, e->min_id, e->kinds,
		e->execution ? e->task : e->workflow,
		e->logs ? "true" : "false", e->grep, e->levels, e->from };
	int np = e->execution ? 10 : 6, n, pending, ended = 0;
	PGconn *db = api_db(rq);
	PGresult *r;
	char *err = NULL;

	if (db == NULL) {
		*recheck_ms = EV_RETRY_DB_MS;	/* the stream waits it out */
		return 0;
	}
	r = db_exec(db, &err, e->execution ? run_page_sql : all_page_sql, np,
	    p);
	if (r == NULL)
		goto fail;
	n = PQntuples(r);
	for (int i = 0; i < n; i++)
		row_sse(out, r, i);
	if (n > 0) {
		copy_num(e->tx, sizeof(e->tx), PQgetvalue(r, n - 1, C_TX));
		copy_num(e->id, sizeof(e->id), PQgetvalue(r, n - 1, C_ID));
		e->held_ms = EV_HELD_MIN_MS;
	}
	PQclear(r);
	if (n == EV_PAGE) {
		*recheck_ms = 0;	/* there is more right now */
		return 0;
	}
	p[1] = e->tx;
	p[2] = e->id;
	r = db_exec(db, &err, e->execution ? run_rest_sql : all_rest_sql, np,
	    p);
	if (r == NULL)
		goto fail;
	if (PQntuples(r) == 0) {	/* the run was deleted */
		PQclear(r);
		return 1;
	}
	pending = strcmp(PQgetvalue(r, 0, 1), "t") == 0;
	if (pending) {
		/* Visible but not readable yet: an older transaction is
		 * still open.  Its end rings no bell of ours. */
		*recheck_ms = e->held_ms;
		e->held_ms = e->held_ms * 2 > EV_HELD_MAX_MS ? EV_HELD_MAX_MS :
		    e->held_ms * 2;
	} else if (e->execution && e->logs && !e->logd_synced &&
	    run_terminal(PQgetvalue(r, 0, 0))) {
		PQclear(r);
		logd_sync_once(rq, e);
		*recheck_ms = 0;	/* one more look, then the end */
		return 0;
	} else if (e->execution && run_terminal(PQgetvalue(r, 0, 0))) {
		jv end = JV_OBJECT(jv_string("executionId"),
		    jv_string(e->execution), jv_string("status"),
		    jv_string(PQgetvalue(r, 0, 0)));
		jv s = jv_dump_string(end, 0);

		sse_write(out, NULL, "end", jv_string_value(s));
		jv_free(s);
		ended = 1;
	}
	PQclear(r);
	return ended;
fail:
	api_log(LOG_LVL_WARN, "%s: reading events: %s", rq->path,
	    err ? err : "?");
	free(err);
	*recheck_ms = EV_RETRY_DB_MS;
	return 0;
}

static const struct api_stream_ops evs_ops = { evs_fill, evs_free };

/* ---- arguments ---------------------------------------------------------- */

static int
all_digits(const char *s)
{
	return *s && strspn(s, "0123456789") == strlen(s) && strlen(s) < 19;
}

/*
 * The kinds a stream can carry: the events table's (task, run, workflow)
 * and, on one execution's stream, its log lines.  Anything else would
 * match no row and leave a stream that never delivers, so it is refused.
 */
static int
event_kind_known(const char *k, int logs)
{
	return strcmp(k, "task") == 0 || strcmp(k, "run") == 0 ||
	    strcmp(k, "workflow") == 0 || (logs && strcmp(k, "log") == 0);
}

/*
 * ?kind=a,b into an array literal in *kinds; whether "log" is one (only
 * allowed when logs is set: an execution's stream).
 */
static int
parse_kinds(const char *v, int logs, char **kinds, int *has_log, jv *out)
{
	struct buf b = BUF_INIT;
	char *copy, *tok, *save = NULL;

	*kinds = NULL;
	*has_log = 1;
	if (v == NULL || *v == '\0')
		return 0;
	*has_log = 0;
	copy = xstrdup(v);
	buf_putc(&b, '{');
	for (tok = strtok_r(copy, ",", &save); tok;
	    tok = strtok_r(NULL, ",", &save)) {
		if (!event_kind_known(tok, logs)) {
			free(copy);
			buf_free(&b);
			return api_error(out, 400, "bad_request", "kind",
			    "kind must be a comma-separated list of event "
			    "kinds (%s), not '%s'", logs ? "task, run, "
			    "workflow, log" : "task, run, workflow", v);
		}
		if (strcmp(tok, "log") == 0)
			*has_log = 1;
		buf_pgarray_elem(&b, tok);
	}
	buf_putc(&b, '}');
	free(copy);
	if (b.len == 2) {
		buf_free(&b);
		return api_error(out, 400, "bad_request", "kind",
		    "kind must name at least one kind");
	}
	*kinds = b.p;
	return 0;
}

/*
 * Where to start: the Last-Event-ID header, else ?name= (since, after);
 * none: "now" when now_ok, else the beginning.  The cursor is the (tx,
 * id) of the row with that id; an id no table has any more starts after
 * that id, whatever the order.
 */
static int
resolve_cursor(struct api_request *rq, PGconn *db, const char *name,
    int header, int now_ok, struct evs *e, jv *out)
{
	const char *v = header ? api_header(rq, "Last-Event-ID") : NULL;
	const char *field = name;
	PGresult *r;
	char *err = NULL;

	if (v != NULL && *v != '\0')
		field = "Last-Event-ID";
	else
		v = api_query(rq, name);
	strcpy(e->tx, "0");
	strcpy(e->id, "0");
	strcpy(e->min_id, "0");
	if (v == NULL || *v == '\0') {
		if (!now_ok)
			return 0;
		r = db_exec(db, &err, "SELECT " HORIZON "::text", 0, NULL);
		if (r == NULL)
			return api_db_fail(rq, out, err);
		copy_num(e->tx, sizeof(e->tx), PQgetvalue(r, 0, 0));
		PQclear(r);
		return 0;
	}
	if (!all_digits(v))
		return api_error(out, 400, "bad_request", field, "%s must be "
		    "an event id (a number), not '%s'", field, v);
	if (strcmp(v, "0") == 0)
		return 0;
	r = db_exec(db, &err, "SELECT tx::text FROM events WHERE id = $1 "
	    "UNION ALL SELECT tx::text FROM task_logs WHERE id = $1 LIMIT 1",
	    1, &v);
	if (r == NULL)
		return api_db_fail(rq, out, err);
	if (PQntuples(r) == 1) {
		copy_num(e->tx, sizeof(e->tx), PQgetvalue(r, 0, 0));
		copy_num(e->id, sizeof(e->id), v);
	} else
		copy_num(e->min_id, sizeof(e->min_id), v);
	PQclear(r);
	return 0;
}

/* 404 unless the run exists; 0 when it does. */
static int
execution_exists(struct api_request *rq, PGconn *db, const char *id,
    jv *out)
{
	PGresult *r;
	char *err = NULL;
	int n;

	r = db_exec(db, &err, "SELECT 1 FROM executions WHERE id = $1", 1,
	    &id);
	if (r == NULL)
		return api_db_fail(rq, out, err);
	n = PQntuples(r);
	PQclear(r);
	if (n == 0)
		return api_error(out, 404, "not_found", "id",
		    "no execution '%s'", id);
	return 0;
}

/*
 * ?grep= (words, all of them, full-text), ?level= (that level and the
 * ones above) and ?from= (an ISO 8601 time) of log lines into e.
 */
static int
parse_log_filters(struct api_request *rq, struct evs *e, jv *out)
{
	static const char *const lv[] = { "debug", "info", "warn", "error" };
	const char *g = api_query(rq, "grep"), *l = api_query(rq, "level");
	const char *f = api_query(rq, "from");
	int i;

	if (g != NULL && *g != '\0') {
		if (strlen(g) > 200)
			return api_error(out, 400, "bad_request", "grep",
			    "grep must be at most 200 bytes");
		e->grep = xstrdup(g);
	}
	if (l != NULL && *l != '\0') {
		struct buf b = BUF_INIT;

		for (i = 0; i < 4 && strcmp(l, lv[i]) != 0; i++)
			;
		if (i == 4)
			return api_error(out, 400, "bad_request", "level",
			    "level must be debug, info, warn or error, not "
			    "'%.40s'", l);
		buf_putc(&b, '{');
		for (; i < 4; i++)
			buf_pgarray_elem(&b, lv[i]);
		buf_putc(&b, '}');
		e->levels = b.p;
	}
	if (f != NULL && *f != '\0') {
		if (strlen(f) > 40 || f[0] < '0' || f[0] > '9' ||
		    strspn(f, "0123456789-:T.Z+ ") != strlen(f))
			return api_error(out, 400, "bad_request", "from",
			    "from must be an ISO 8601 time such as "
			    "2026-12-07T04:05:06Z, not '%.40s'", f);
		e->from = xstrdup(f);
	}
	return 0;
}

static int
start_stream(struct api_request *rq, const char *execution, jv *out)
{
	struct evs *e = xcalloc(1, sizeof(*e));
	const char *v;
	PGconn *db;
	int st, has_log;

	e->held_ms = EV_HELD_MIN_MS;
	if ((st = parse_kinds(api_query(rq, "kind"), execution != NULL,
	    &e->kinds, &has_log, out)) != 0)
		goto fail;
	if (execution != NULL && api_mongo_on(rq) && e->kinds != NULL &&
	    strcmp(e->kinds, "{\"log\"}") == 0) {
		/* The lines alone, from the MongoDB log store. */
		const char *lid = api_header(rq, "Last-Event-ID");

		if (lid == NULL || *lid == '\0')
			lid = api_query(rq, "since");
		evs_free(e);
		if (lid != NULL && *lid && !all_digits(lid))
			return api_error(out, 400, "bad_request", "since",
			    "since must be a line id (a number), not '%s'",
			    lid);
		return api_mongo_stream(rq, execution,
		    lid != NULL && *lid ? strtoll(lid, NULL, 10) : -1, out);
	}
	if (execution != NULL) {
		e->execution = xstrdup(execution);
		e->logs = has_log && !api_mongo_on(rq);
		if ((v = api_query(rq, "task")) != NULL && *v)
			e->task = xstrdup(v);
		if ((st = parse_log_filters(rq, e, out)) != 0)
			goto fail;
	} else if ((v = api_query(rq, "workflow")) != NULL && *v)
		e->workflow = xstrdup(v);
	if ((db = api_db(rq)) == NULL) {
		st = api_db_down(out);
		goto fail;
	}
	if (execution != NULL &&
	    (st = execution_exists(rq, db, execution, out)) != 0)
		goto fail;
	if ((st = resolve_cursor(rq, db, "since", 1, 1, e, out)) != 0)
		goto fail;
	return api_stream(rq, execution, e->logs, &evs_ops, e);
fail:
	evs_free(e);
	return st;
}

int
api_events_stream(struct api_request *rq, jv *out)
{
	return start_stream(rq, NULL, out);
}

int
api_execution_events(struct api_request *rq, jv *out)
{
	return start_stream(rq, rq->param[0], out);
}

/* ---- paged log lines ---------------------------------------------------- */

int
api_execution_logs(struct api_request *rq, jv *out)
{
	const char *id = rq->param[0], *task = api_query(rq, "task");
	const char *lim = api_query(rq, "limit");
	struct evs e;
	char limit[16], *err = NULL;
	const char *p[9];
	long n = LOGS_DEFAULT;
	PGconn *db;
	PGresult *r;
	jv list;
	int st, rows;

	if (api_mongo_on(rq))
		return api_mongo_logs(rq, id, out);
	memset(&e, 0, sizeof(e));
	if (task != NULL && *task == '\0')
		task = NULL;
	if (lim && *lim) {
		char *end;

		n = strtol(lim, &end, 10);
		if (*end || end == lim || n < 1 || n > LOGS_MAX)
			return api_error(out, 400, "bad_request", "limit",
			    "limit must be an integer from 1 to %d, not '%s'",
			    LOGS_MAX, lim);
	}
	snprintf(limit, sizeof(limit), "%ld", n);
	if ((st = parse_log_filters(rq, &e, out)) != 0)
		goto done;
	if ((db = api_db(rq)) == NULL) {
		st = api_db_down(out);
		goto done;
	}
	if ((st = execution_exists(rq, db, id, out)) != 0 ||
	    (st = resolve_cursor(rq, db, "after", 0, 0, &e, out)) != 0)
		goto done;
	p[0] = id;
	p[1] = e.tx;
	p[2] = e.id;
	p[3] = e.min_id;
	p[4] = task;
	p[5] = limit;
	p[6] = e.grep;
	p[7] = e.levels;
	p[8] = e.from;
	r = db_exec(db, &err, "SELECT l.id, l.tx::text, l.execution_id, "
	    "l.task_id, 'log', NULL, NULL, l.attempt, NULL, " SQL_ISO("l.ts")
	    ", l.stream, l.line, l.level FROM task_logs l "
	    "WHERE l.execution_id = $1 "
	    "AND " EV_AFTER("l") " AND l.tx < " HORIZON " AND ($5::text IS "
	    "NULL OR l.task_id = $5)" LOG_MATCH("l", "7", "8", "9")
	    " ORDER BY l.tx, l.id LIMIT $6::int", 9, p);
	if (r == NULL) {
		st = api_db_fail(rq, out, err);
		goto done;
	}
	rows = PQntuples(r);
	list = jv_array();
	for (int i = 0; i < rows; i++)
		list = jv_array_append(list, row_jv(r, i));
	*out = JV_OBJECT(jv_string("executionId"), jv_string(id),
	    jv_string("logs"), list, jv_string("next"), rows == n ?
	    pg_jv_num(r, rows - 1, C_ID) : jv_null());
	PQclear(r);
	st = 200;
done:
	free(e.grep);
	free(e.levels);
	free(e.from);
	return st;
}

/* ---- callbacks' logs ---------------------------------------------------- */

int
api_task_logs_callback(PGconn *db, const char *execution_id,
    const char *task_id, const char *logs,
    char **err)
{
	const char *p[3] = { execution_id, logs, task_id };

	if (logs == NULL || *logs == '\0')
		return 0;
	return db_cmd(db, err, "WITH l AS (INSERT INTO task_logs "
	    "(execution_id, task_id, attempt, stream, line) "
	    "SELECT t.execution_id, t.task_id, t.attempt, 'backend', x.line "
	    "FROM run_tasks t, regexp_split_to_table(rtrim($2, chr(13) || "
	    "chr(10)), '\\r?\\n') WITH ORDINALITY AS x(line, n) "
	    "WHERE t.execution_id = $1 AND t.task_id = $3 ORDER BY x.n "
	    "RETURNING execution_id) "
	    "SELECT pg_notify('loom_log', execution_id) "
	    "FROM (SELECT DISTINCT execution_id FROM l) d", 3, p);
}
/* clang-format on */
