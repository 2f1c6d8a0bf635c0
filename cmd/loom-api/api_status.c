/*
 * api_status: the /api/v1/status and /api/v1/breakers routes of loom-api
 * (see api.h and loom-api(8)).
 *
 * GET /api/v1/status is one look at the whole system for `loom status`
 * and for monitoring: the database (reachable, schema version), the
 * daemons connected to it, the work queue, runs in progress, open dead
 * letters, and the circuit breakers that are not closed.  The daemons
 * come from the rows of pg_stat_activity in this database whose
 * application_name starts with "loom-": every Link Loom program connects
 * as NAME[PID] (db_connect(), its LISTEN connection as NAME-listen[PID]),
 * so PostgreSQL, which is the bus, already knows who is up.  One process
 * is one entry however many connections it holds (loom-api has one per
 * worker thread): they are grouped by name, process id and client host,
 * with their count.  The counts come from one statement,
 * each from a partial index, and everything is read in one read-only
 * REPEATABLE READ transaction so the numbers agree with each other.  A
 * database that cannot be reached is not an HTTP error here: the answer
 * is 200 with database.ok false, because saying so is the status.
 *
 * The breakers are lib/breakerdb's rows (one per target that failed
 * recently; none means CLOSED and clean), each with heldTasks, the tasks
 * loom-exec holds for it (run_tasks.held_target, schema/004_held.sql).
 * The breaker settings that size the failure window come from the
 * environment (LOOM_BREAKER_*) or the defaults: loom-api does not read
 * the executors' configuration file, and the window only changes the
 * recentCalls/recentFailures figures.
 *
 * POST /api/v1/breakers/{target}/reset closes a breaker by deleting its
 * row (breakerdb_reset(), which rings loom_breaker so that executors
 * release what they hold).  The target is URL-encoded in the path; since
 * libmicrohttpd decodes the path before routing, "http%3A%2F%2Fh%3A80"
 * arrives as "http://h:80", which the router sees as the segments
 * "http:", "" and "h:80": a second route, ".../{scheme}//{host}/reset",
 * takes that shape and the handler joins the parts again.  Any URL of the
 * target will do: it is reduced to scheme://host:port first.
 */
/*
 * Its SQL, built from string literals and macros, is laid out by hand;
 * clang-format would tear it into columns.
 */
/* clang-format off */
#include "api.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/breaker.h"
#include "store/breakerdb.h"
#include "store/db.h"
#include "util/jsonutil.h"
#include "core/xalloc.h"

/*
 * A task held for a breaker: READY with a target and a time to come.  A
 * held row whose time has come is due, i.e. ready, even before an
 * executor claims or releases it and so clears held_target.
 */
#define HELD "state = 'READY' AND held_target IS NOT NULL AND " \
	"ready_at > now()"

/* ---- the breaker settings: environment or defaults, read once -------- */

static pthread_once_t bcfg_once = PTHREAD_ONCE_INIT;
static struct breaker_config bcfg;

static void
bcfg_init(void)
{
	char *err = NULL;

	if (breaker_config_load(NULL, &bcfg, &err) < 0) {
		api_log(LOG_LVL_WARN, "%s; using the default breaker window",
		    err);
		free(err);
		breaker_config_default(&bcfg);
	}
}

static const struct breaker_config *
breaker_cfg(void)
{
	pthread_once(&bcfg_once, bcfg_init);
	return &bcfg;
}

/* ---- reading ------------------------------------------------------------ */

/*
 * The breakers (every row, or only those not CLOSED), each with the count
 * of tasks held for it.  Returns the array, or jv_invalid() with *err.
 */
static jv
breakers_read(PGconn *db, int open_only, char **err)
{
	PGresult *r;
	jv list, held = jv_object(), out = jv_array();

	if (breakerdb_list(db, breaker_cfg(), &list, err) < 0) {
		jv_free(held);
		jv_free(out);
		return jv_invalid();
	}
	r = db_exec(db, err, "SELECT held_target, count(*) FROM run_tasks "
	    "WHERE " HELD " GROUP BY held_target", 0, NULL);
	if (r == NULL) {
		jv_free(list);
		jv_free(held);
		jv_free(out);
		return jv_invalid();
	}
	for (int i = 0; i < PQntuples(r); i++)
		held = jv_object_set(held, jv_string(PQgetvalue(r, i, 0)),
		    jv_number(atof(PQgetvalue(r, i, 1))));
	PQclear(r);
	jv_array_foreach(list, i, b) {
		jv st = jv_object_get(jv_copy(b), jv_string("state"));
		jv t = jv_object_get(jv_copy(b), jv_string("target"));
		jv n = jv_object_get(jv_copy(held), t);
		int closed = jv_get_kind(st) == JV_KIND_STRING &&
		    strcmp(jv_string_value(st), "CLOSED") == 0;

		jv_free(st);
		if (jv_get_kind(n) != JV_KIND_NUMBER) {
			jv_free(n);
			n = jv_number(0);
		}
		b = jv_put(b, "heldTasks", n);
		if (open_only && closed)
			jv_free(b);
		else
			out = jv_array_append(out, b);
	}
	jv_free(list);
	jv_free(held);
	return out;
}

static jv
daemons_read(PGconn *db, char **err)
{
	PGresult *r;
	jv list;

	/*
	 * A process is busy when one of its connections is; a connection
	 * without "[PID]" (another client naming itself loom-...) is grouped
	 * by its name and host alone, with no pid.
	 */
	r = db_exec(db, err, "SELECT name, pid, host, " SQL_ISO("since")
	    ", state, connections FROM (SELECT "
	    "regexp_replace(application_name, '(-listen)?\\[[0-9]+\\]$', "
	    "'') AS name, "
	    "substring(application_name FROM '\\[([0-9]+)\\]$')::bigint "
	    "AS pid, coalesce(host(client_addr), 'local') AS host, "
	    "min(backend_start) AS since, count(*) AS connections, "
	    "CASE WHEN bool_or(state = 'active') THEN 'active' "
	    "WHEN bool_or(state LIKE 'idle in transaction%') "
	    "THEN 'idle in transaction' ELSE min(state) END AS state "
	    "FROM pg_stat_activity WHERE datname = current_database() "
	    "AND application_name LIKE 'loom-%' GROUP BY 1, 2, 3) p "
	    "ORDER BY name, since, pid", 0, NULL);
	if (r == NULL)
		return jv_invalid();
	list = jv_array();
	for (int i = 0; i < PQntuples(r); i++) {
		jv o = jv_object();

		o = jv_put(o, "name", pg_jv_text(r, i, 0));
		o = jv_put(o, "pid", pg_jv_num(r, i, 1));
		o = jv_put(o, "host", pg_jv_text(r, i, 2));
		o = jv_put(o, "since", pg_jv_text(r, i, 3));
		o = jv_put(o, "state", pg_jv_text(r, i, 4));
		o = jv_put(o, "connections", pg_jv_num(r, i, 5));
		list = jv_array_append(list, o);
	}
	PQclear(r);
	return list;
}

/* Each count is served by a partial index of schema/001 or 004. */
static const char counts_sql[] =
    "SELECT "
    "(SELECT count(*) FROM run_tasks WHERE state = 'READY' "
    "AND NOT (" HELD ")), "
    "(SELECT count(*) FROM run_tasks WHERE state = 'RUNNING' "
    "AND NOT awaiting_callback), "
    "(SELECT count(*) FROM run_tasks WHERE state = 'RETRY'), "
    "(SELECT count(*) FROM run_tasks WHERE state = 'RUNNING' "
    "AND awaiting_callback), "
    "(SELECT count(*) FROM run_tasks WHERE " HELD "), "
    "(SELECT count(*) FROM executions WHERE status = 'PENDING'), "
    "(SELECT count(*) FROM executions WHERE status = 'RUNNING'), "
    "(SELECT count(*) FROM dead_letters WHERE resolved_at IS NULL)";

/* Adds queue, runs and deadLetters to st.  0, or -1 with *err. */
static int
counts_read(PGconn *db, jv *st, char **err)
{
	static const char *const queue[] = { "ready", "running", "retry",
		"awaitingCallback", "held" };
	PGresult *r = db_exec(db, err, counts_sql, 0, NULL);
	jv q = jv_object(), runs = jv_object();

	if (r == NULL) {
		jv_free(q);
		jv_free(runs);
		return -1;
	}
	for (int i = 0; i < 5; i++)
		q = jv_put(q, queue[i], pg_jv_num(r, 0, i));
	runs = jv_put(runs, "pending", pg_jv_num(r, 0, 5));
	runs = jv_put(runs, "running", pg_jv_num(r, 0, 6));
	*st = jv_put(*st, "queue", q);
	*st = jv_put(*st, "runs", runs);
	*st = jv_put(*st, "deadLetters", pg_jv_num(r, 0, 7));
	PQclear(r);
	return 0;
}

/* ---- routes ------------------------------------------------------------- */

int
api_breakers_list(struct api_request *rq, jv *out)
{
	PGconn *db;
	char *err = NULL;
	jv list;

	if ((db = api_db(rq)) == NULL)
		return api_db_down(out);
	if (db_cmd(db, &err, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
	    0, NULL) < 0)
		return api_db_fail(rq, out, err);
	list = breakers_read(db, 0, &err);
	if (!jv_is_valid(list) || db_cmd(db, &err, "COMMIT", 0, NULL) < 0) {
		jv_free(list);
		return api_db_fail(rq, out, err);
	}
	*out = jv_put(jv_object(), "breakers", list);
	return 200;
}

int
api_breaker_reset(struct api_request *rq, jv *out)
{
	char target[BREAKER_TARGET_MAX], *raw;
	char *err = NULL;
	PGconn *db;
	int n, bad;

	/* ".../{target}/reset", or the decoded ".../{scheme}//{host}/reset" */
	raw = rq->nparam == 2
	    ? xasprintf("%s//%s", rq->param[0], rq->param[1])
	    : xstrdup(rq->param[0]);
	bad = breaker_target_of(raw, target, sizeof(target)) < 0;
	if (bad) {
		n = api_error(out, 400, "bad_request", "target",
		    "'%s' is not a breaker target: expected an http or https "
		    "URL such as http://host:8080", raw);
		free(raw);
		return n;
	}
	free(raw);
	if ((db = api_db(rq)) == NULL)
		return api_db_down(out);
	if ((n = breakerdb_reset(db, target, &err)) < 0)
		return api_db_fail(rq, out, err);
	/* No row, so no doorbell from breakerdb: ring it anyway, so that
	 * tasks still held for the target go now. */
	if (n == 0 && db_cmd(db, &err, "SELECT pg_notify('" BREAKERDB_CHANNEL
	    "', $1)", 1, (const char *const[]){ target }) < 0)
		return api_db_fail(rq, out, err);
	api_log(LOG_LVL_INFO, "circuit breaker of %s reset%s", target,
	    n ? "" : " (it was closed)");
	*out = jv_put(jv_put(jv_object(), "target", jv_string(target)),
	    "reset", jv_bool(n == 1));
	return 200;
}

/* The answer when the database is not usable: says why, and no numbers. */
static int
status_db_down(jv *out, int version, const char *why)
{
	jv d = jv_object(), st = jv_object();

	d = jv_put(d, "ok", jv_false());
	d = jv_put(d, "schemaVersion",
	    version > 0 ? jv_number(version) : jv_null());
	d = jv_put(d, "expectedVersion", jv_number(db_schema_latest()));
	d = jv_put(d, "error", jv_string(why));
	st = jv_put(st, "database", d);
	st = jv_put(st, "daemons", jv_null());
	st = jv_put(st, "queue", jv_null());
	st = jv_put(st, "runs", jv_null());
	st = jv_put(st, "deadLetters", jv_null());
	st = jv_put(st, "breakers", jv_null());
	*out = st;
	return 200;
}

int
api_status(struct api_request *rq, jv *out)
{
	PGconn *db;
	char *err = NULL, *why;
	int version, rc;
	jv st, daemons = jv_invalid(), breakers = jv_invalid(), scratch;

	if ((db = api_db(rq)) == NULL)
		return status_db_down(out, 0,
		    "the database is unreachable");
	if ((version = db_schema_version(db, &err)) < 0)
		goto fail;
	if (version != db_schema_latest()) {
		why = xasprintf("the database schema is version %d, this "
		    "loom-api needs %d: run 'loom db migrate' (or upgrade)",
		    version, db_schema_latest());
		rc = status_db_down(out, version, why);
		free(why);
		return rc;
	}
	st = jv_put(jv_object(), "database", jv_put(jv_put(jv_put(
	    jv_object(), "ok", jv_true()), "schemaVersion",
	    jv_number(version)), "expectedVersion", jv_number(version)));
	if (db_cmd(db, &err, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
	    0, NULL) < 0) {
		jv_free(st);
		goto fail;
	}
	if (!jv_is_valid(daemons = daemons_read(db, &err)) ||
	    counts_read(db, &st, &err) < 0 ||
	    !jv_is_valid(breakers = breakers_read(db, 1, &err)) ||
	    db_cmd(db, &err, "COMMIT", 0, NULL) < 0) {
		jv_free(st);
		jv_free(daemons);
		jv_free(breakers);
		goto fail;
	}
	st = jv_put(st, "daemons", daemons);
	*out = jv_put(st, "breakers", breakers);
	return 200;
fail:
	/* api_db_fail() logs, rolls back and consumes err; the status says
	 * what went wrong instead of its error body. */
	why = xstrdup(err ? err : "database error");
	why[strcspn(why, "\n")] = '\0';	/* the server's first line */
	(void)api_db_fail(rq, &scratch, err);
	jv_free(scratch);
	rc = status_db_down(out, version > 0 ? version : 0, why);
	free(why);
	return rc;
}
/* clang-format on */
