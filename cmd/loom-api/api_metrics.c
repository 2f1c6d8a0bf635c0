/*
 * api_metrics: GET /metrics, the Prometheus text exposition (format
 * 0.0.4) of the whole Link Loom installation; see loom-api(8), METRICS.
 *
 * Two sources, in one answer:
 *   - the cluster's figures from the database, read in one read-only
 *     REPEATABLE READ transaction so they agree with each other: runs by
 *     workflow, trigger and status, their durations, retries, tasks by
 *     state, the queue, dispatch latency, breakers, dead letters, and
 *     the schedules' fires;
 *   - every daemon's own figures (what only lives in its memory: HTTP
 *     callback latency, log records written/spooled/dropped, database
 *     errors...), asked of each control socket in control.dir (and
 *     loom-log's logd.socket) with {"t":"status"}, and labelled with
 *     daemon="NAME" (the socket's file name without ".sock").
 * Control sockets rather than a listener per daemon: they already exist,
 * need no port, and are guarded by file modes and SO_PEERCRED; the price
 * is that one loom-api shows the daemons of its own host only.
 *
 * The counters from the database count what the tables hold: deleting
 * old runs makes them go down, which Prometheus takes for a reset.
 */
/* clang-format off */
#include "api.h"
#include "server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/xalloc.h"
#include "store/db.h"
#include "util/ctl.h"
#include "util/metrics.h"

#define CTL_TIMEOUT_MS 1000

/* One query's rows into families by a callback; -1 with *err. */
typedef void rows_cb(jv *m, PGresult *r);

static int
query(PGconn *db, char **err, const char *sql, jv *m, rows_cb *cb)
{
	PGresult *r = db_exec(db, err, sql, 0, NULL);

	if (r == NULL)
		return -1;
	cb(m, r);
	PQclear(r);
	return 0;
}

static double
num(PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? 0 : strtod(PQgetvalue(r, row, col),
	    NULL);
}

static jv
label(const char *k, const char *v)
{
	return JV_OBJECT(jv_string(k), jv_string(v));
}

static void
runs_cb(jv *m, PGresult *r)
{
	for (int i = 0; i < PQntuples(r); i++)
		metrics_add(m, "loom_scheduler_executions_total", "counter",
		    "Runs in the database, by workflow, trigger and status.",
		    JV_OBJECT(jv_string("workflow"),
			jv_string(PQgetvalue(r, i, 0)), jv_string("trigger"),
			jv_string(PQgetvalue(r, i, 1)), jv_string("status"),
			jv_string(PQgetvalue(r, i, 2))),
		    num(r, i, 3));
}

/*
 * Histogram rows: a label value, then METRICS_NBUCKETS cumulative
 * counts, the sum and the count.
 */
static void
hist_rows(jv *m, PGresult *r, const char *name, const char *help,
    const char *key)
{
	char le[32];

	for (int i = 0; i < PQntuples(r); i++) {
		jv lab = key ? label(key, PQgetvalue(r, i, 0)) : jv_object();

		for (int b = 0; b < METRICS_NBUCKETS; b++) {
			snprintf(le, sizeof(le), "%g", metrics_bounds[b]);
			metrics_sample(m, name, "histogram", help, "_bucket",
			    jv_object_set(jv_copy(lab), jv_string("le"),
				jv_string(le)),
			    num(r, i, 1 + b));
		}
		metrics_sample(m, name, "histogram", help, "_bucket",
		    jv_object_set(jv_copy(lab), jv_string("le"),
			jv_string("+Inf")),
		    num(r, i, 2 + METRICS_NBUCKETS));
		metrics_sample(m, name, "histogram", help, "_sum",
		    jv_copy(lab), num(r, i, 1 + METRICS_NBUCKETS));
		metrics_sample(m, name, "histogram", help, "_count", lab,
		    num(r, i, 2 + METRICS_NBUCKETS));
	}
}

static void
duration_cb(jv *m, PGresult *r)
{
	hist_rows(m, r, "loom_execution_duration_seconds",
	    "Time from a run's start to its end, by workflow (finished runs).",
	    "workflow");
}

static void
dispatch_cb(jv *m, PGresult *r)
{
	hist_rows(m, r, "loom_dispatch_latency_seconds",
	    "Time from a task being ready to an executor claiming it "
	    "(the latest attempt of every task).", NULL);
}

/* SELECT KEY, <cumulative buckets>, sum(d), count(*) FROM (... d ...) */
static char *
hist_sql(const char *key, const char *from)
{
	struct buf b = { 0 };
	char *s;

	buf_printf(&b, "SELECT %s", key);
	for (int i = 0; i < METRICS_NBUCKETS; i++)
		buf_printf(&b, ", count(*) FILTER (WHERE d <= %g)",
		    metrics_bounds[i]);
	buf_printf(&b, ", coalesce(sum(d), 0), count(*) FROM (%s) x%s", from,
	    strcmp(key, "''") == 0 ? "" : " GROUP BY 1");
	s = xstrndup(b.p, b.len);
	buf_free(&b);
	return s;
}

static void
retries_cb(jv *m, PGresult *r)
{
	for (int i = 0; i < PQntuples(r); i++)
		metrics_add(m, "loom_task_retries_total", "counter",
		    "Task attempts that failed and were retried, by workflow.",
		    label("workflow", PQgetvalue(r, i, 0)), num(r, i, 1));
}

static void
tasks_cb(jv *m, PGresult *r)
{
	static const char *const states[] = { "PENDING", "READY", "RUNNING",
		"SUCCESS", "FAILED", "RETRY", "DEAD", "SKIPPED", "CANCELLED" };

	for (size_t s = 0; s < sizeof(states) / sizeof(states[0]); s++) {
		double v = 0;

		for (int i = 0; i < PQntuples(r); i++)
			if (strcmp(PQgetvalue(r, i, 0), states[s]) == 0)
				v = num(r, i, 1);
		metrics_add(m, "loom_tasks", "gauge",
		    "Tasks in the database, by state.",
		    label("state", states[s]), v);
	}
}

static void
queue_cb(jv *m, PGresult *r)
{
	metrics_add(m, "loom_queue_depth", "gauge",
	    "Tasks ready to run and not claimed yet.", jv_object(),
	    num(r, 0, 0));
	metrics_add(m, "loom_queue_oldest_ready_age_seconds", "gauge",
	    "How long the oldest ready task has waited (0: none waits).",
	    jv_object(), num(r, 0, 1));
	metrics_add(m, "loom_dead_letters", "gauge",
	    "Dead letters not replayed or discarded yet.", jv_object(),
	    num(r, 0, 2));
	metrics_add(m, "loom_dead_letters_total", "counter",
	    "Dead letters in the database, resolved or not.", jv_object(),
	    num(r, 0, 3));
}

static void
breakers_cb(jv *m, PGresult *r)
{
	for (int i = 0; i < PQntuples(r); i++) {
		const char *st = PQgetvalue(r, i, 1);

		metrics_add(m, "loom_breaker_state", "gauge",
		    "Circuit breaker of a target: 0 closed, 1 half-open, "
		    "2 open (targets without a row are closed).",
		    label("target", PQgetvalue(r, i, 0)),
		    strcmp(st, "OPEN") == 0	 ? 2
		    : strcmp(st, "HALF_OPEN") == 0 ? 1
						   : 0);
	}
}

static void
fires_cb(jv *m, PGresult *r)
{
	for (int i = 0; i < PQntuples(r); i++) {
		metrics_add(m, "loom_schedule_fires_total", "counter",
		    "Schedule and backfill fires that started or queued a run, "
		    "by workflow.",
		    label("workflow", PQgetvalue(r, i, 0)), num(r, i, 1));
		metrics_add(m, "loom_schedule_skipped_fires_total", "counter",
		    "Fires skipped (overlap policy), by workflow.",
		    label("workflow", PQgetvalue(r, i, 0)), num(r, i, 2));
	}
}

/* The database's figures into *m; -1 with *err. */
static int
db_figures(PGconn *db, jv *m, char **err)
{
	char *dur = hist_sql("workflow_id",
	    "SELECT workflow_id, extract(epoch FROM completed_at - "
	    "started_at)::float8 AS d FROM executions WHERE completed_at IS "
	    "NOT NULL AND started_at IS NOT NULL");
	char *disp = hist_sql("''",
	    "SELECT greatest(extract(epoch FROM started_at - ready_at), "
	    "0)::float8 AS d FROM run_tasks WHERE started_at IS NOT NULL");
	int rc = -1;

	if (db_cmd(db, err, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
		0, NULL) < 0)
		goto out;
	if (query(db, err,
		"SELECT workflow_id, trigger, status, count(*) FROM executions "
		"GROUP BY 1, 2, 3 ORDER BY 1, 2, 3", m, runs_cb) < 0 ||
	    query(db, err, dur, m, duration_cb) < 0 ||
	    query(db, err,
		"SELECT e.workflow_id, count(*) FROM events v JOIN executions e "
		"ON e.id = v.execution_id WHERE v.kind = 'task' AND "
		"v.to_state = 'RETRY' GROUP BY 1 ORDER BY 1", m, retries_cb) < 0 ||
	    query(db, err, "SELECT state, count(*) FROM run_tasks GROUP BY 1",
		m, tasks_cb) < 0 ||
	    query(db, err,
		"SELECT (SELECT count(*) FROM run_tasks WHERE state = 'READY' "
		"AND ready_at <= now()), (SELECT coalesce(extract(epoch FROM "
		"now() - min(ready_at)), 0) FROM run_tasks WHERE state = "
		"'READY' AND ready_at <= now()), (SELECT count(*) FROM "
		"dead_letters WHERE resolved_at IS NULL), (SELECT count(*) "
		"FROM dead_letters)", m, queue_cb) < 0 ||
	    query(db, err, disp, m, dispatch_cb) < 0 ||
	    query(db, err, "SELECT target, state FROM breakers ORDER BY 1", m,
		breakers_cb) < 0 ||
	    query(db, err,
		"SELECT workflow_id, count(*) FILTER (WHERE outcome <> "
		"'skipped'), count(*) FILTER (WHERE outcome = 'skipped') FROM "
		"schedule_fires GROUP BY 1 ORDER BY 1", m, fires_cb) < 0)
		goto out;
	rc = db_cmd(db, err, "COMMIT", 0, NULL);
out:
	free(dur);
	free(disp);
	return rc;
}


/* Every daemon's own figures, labelled daemon="NAME". */
static void
daemon_figures(const struct api_options *o, jv *m)
{
	jv socks = ctl_sockets(o->control_dir, o->logd_socket);

	jv_array_foreach(socks, i, p)
	{
		char *name = ctl_socket_name(jv_string_value(p));
		jv st = ctl_ask(jv_string_value(p), "status", CTL_TIMEOUT_MS);
		int up = jv_get_kind(st) == JV_KIND_OBJECT;

		if (up) {
			jv t = jv_object_get(jv_copy(st), jv_string("t"));

			up = jv_get_kind(t) == JV_KIND_STRING &&
			    strcmp(jv_string_value(t), "status") == 0;
			jv_free(t);
		}

		metrics_add(m, "loom_daemon_up", "gauge",
		    "1 when the daemon answered on its control socket.",
		    label("daemon", name), up);
		if (up) {
			jv pid = jv_object_get(jv_copy(st), jv_string("pid"));
			jv upt = jv_object_get(jv_copy(st), jv_string("uptime_s"));

			metrics_add(m, "loom_daemon_uptime_seconds", "gauge",
			    "Seconds since the daemon started.",
			    label("daemon", name),
			    jv_get_kind(upt) == JV_KIND_NUMBER ?
				jv_number_value(upt) : 0);
			jv_free(pid);
			jv_free(upt);
			metrics_merge(m, jv_object_get(st, jv_string("metrics")),
			    "daemon", name);
		} else
			jv_free(st);
		free(name);
		jv_free(p);
	}
	jv_free(socks);
}

int
api_metrics(struct api_request *rq, jv *out)
{
	PGconn *db = api_db(rq);
	jv m = jv_object();
	struct buf b = { 0 };
	char *err = NULL;

	if (db == NULL) {
		jv_free(m);
		return api_db_down(out);
	}
	if (db_figures(db, &m, &err) < 0) {
		jv_free(m);
		return api_db_fail(rq, out, err);
	}
	daemon_figures(rq->api->opt, &m);
	metrics_render(&b, m);
	if (b.len > 0)
		b.len--; /* reply.c adds the last newline */
	else
		buf_putc(&b, '\0');
	api_set_text(rq, b.p, b.len, "text/plain; version=0.0.4; charset=utf-8");
	return 200;
}
