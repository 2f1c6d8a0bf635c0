/*
 * api_detail: the body of GET /api/v1/executions/{id}, read with one
 * prepared statement and written straight as JSON text (see api.h and
 * loom-api(8)).
 *
 * This is the hottest read of the API (dashboards and `loom execution
 * show --wait` poll it).  Profiling showed its time going first to libjq
 * (an object per task and attempt, each task's output parsed only to be
 * printed again, then the whole tree printed), and then, once that was
 * gone, to PostgreSQL parsing and planning five statements (BEGIN, the
 * run, its run_tasks rows, its task_executions rows, COMMIT) and to
 * to_char() on every time.  So:
 *
 *   - one statement, the three SELECTs as a UNION ALL: one statement
 *     reads one snapshot, so the states and the attempts agree without
 *     a REPEATABLE READ transaction around them;
 *   - prepared once per connection (the backend pid says which session
 *     has it; a session that lost it is told so and it is prepared
 *     again; behind a pooler that keeps losing it, the text is sent),
 *     so it is neither parsed nor planned again;
 *   - times leave PostgreSQL as milliseconds and are written here
 *     (cursor_iso_ms(), the same text SQL_ISO() gives);
 *   - the answer is written field by field: numbers and jsonb columns
 *     (params, output) are JSON text as PostgreSQL sends them; strings
 *     are escaped here;
 *   - a finished run's answer is kept (per worker thread) and served
 *     again while a one-row lookup finds its status and engine_gen
 *     unchanged (struct detail_cache says why that is exact).
 *
 * contrib/bench/bench-api.sh measures it: on two CPUs shared with wrk
 * and PostgreSQL, a 50-task run went from about 1,800 answers a second
 * (jv, five statements) to about 6,900 (one prepared statement, direct
 * JSON) and about 40,000 once finished runs are kept.
 *
 * Tasks come in the topological order of the workflow version the run
 * runs (api_workflow_cached(), so PENDING tasks without a run_tasks row
 * are listed too), then any row the spec does not know.  The fields and
 * their order are the contract's; tests/api.bats checks them.
 */
/*
 * Its SQL, built from string literals and macros, is laid out by hand;
 * clang-format would tear it into columns.
 */
/* clang-format off */
#include "api.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "cursor.h"
#include "core/dag.h"
#include "core/hmap.h"
#include "core/state.h"
#include "core/workflow.h"
#include "core/xalloc.h"
#include "util/jsonutil.h"

#define DETAIL_STMT "loom_execution_detail"
#define DETAIL_OVER_STMT "loom_execution_detail_over"
#define MS(col) "floor(extract(epoch FROM " col ") * 1000)::bigint::text"

/*
 * Rows of kind 0: the run (one; column 11 is its engine_gen, 14 and 15
 * its scheduledTime and queued); 1: its run_tasks rows (column 12 is
 * settled); 2: its attempts, by task, attempt and id.  Columns 1..11 are
 * the kind's fields as text; 12 and 13 sort the attempts.  OVER limits
 * the rows of kinds 1 and 2.
 */
#define DETAIL_SQL(OVER) \
    "SELECT 0, id, workflow_id, workflow_version::text, status, trigger, " \
    "params::text, error, " MS("created_at") ", " MS("started_at") ", " \
    MS("completed_at") ", engine_gen::text, 0, 0::bigint, " \
    SQL_ISO_SECONDS("scheduled_at") ", queued::text " \
    "FROM executions WHERE id = $1 " \
    "UNION ALL " \
    /* heldUntil/heldBy: a READY task loom-exec holds for an open \
     * circuit breaker (schema/004_held.sql); null otherwise */ \
    "SELECT 1, task_id, state, attempt::text, skip_reason, output::text, " \
    "error_type, error_message, " MS("started_at") ", " MS("finished_at") \
    ", CASE WHEN state = 'READY' AND held_target IS NOT NULL THEN " \
    MS("ready_at") " END, CASE WHEN state = 'READY' THEN held_target END, " \
    "settled::int, 0, NULL, NULL FROM run_tasks WHERE execution_id = $1" \
    OVER " UNION ALL " \
    "SELECT 2, task_id, attempt::text, status, " MS("started_at") ", " \
    MS("completed_at") ", duration_ms::text, http_status::text, " \
    "exit_code::text, error_type, error_message, NULL, attempt, id, NULL, " \
    "NULL FROM task_executions WHERE execution_id = $1" OVER " " \
    "ORDER BY 1, 2, 13, 14"
static const char detail_sql[] = DETAIL_SQL("");
/*
 * A long-poll's first look: the tasks and attempts only when the run is
 * over (run_state_terminal()); else the run's row alone, and the poll
 * waits.  (The status is read once, in the statement's snapshot.)
 */
static const char detail_over_sql[] = DETAIL_SQL(
    " AND (SELECT status FROM executions WHERE id = $1) "
    "IN ('SUCCESS', 'FAILED', 'CANCELLED')");

#define GEN_STMT "loom_execution_gen"
static const char gen_sql[] =
    "SELECT status, engine_gen::text FROM executions WHERE id = $1";

enum { K_RUN, K_TASK, K_ATTEMPT };

#define DETAIL_CACHE 32			/* answers kept per worker thread */
#define DETAIL_CACHE_MAX (256 * 1024)	/* bytes of the largest kept */
#define DETAIL_CACHE_BYTES (1024 * 1024) /* bytes kept per worker thread */

/*
 * The answers for finished runs, per worker thread.  A run that is over
 * (SUCCESS, FAILED or CANCELLED) and whose tasks are all in a final
 * state and settled can change only through loom-engine (retry, rerun,
 * replay), and every engine pass that changes a run moves its
 * engine_gen: nothing else writes to it (executors claim READY and
 * report RUNNING tasks, callbacks settle RUNNING ones; it has none).  So
 * its answer is kept with its (status, engine_gen) and served again
 * while a one-row lookup finds both unchanged.
 */
struct detail_cache {
	struct {
		char *id;
		char status[16];
		long long gen;
		char *text;
		size_t len;
		uint64_t used;
	} e[DETAIL_CACHE];
	size_t bytes;		/* of the texts kept: DETAIL_CACHE_BYTES */
	uint64_t tick;
};

static pthread_key_t dc_key;
static pthread_once_t dc_once = PTHREAD_ONCE_INIT;

/* Per worker thread: the backend pid whose session has DETAIL_STMT, and
 * whether preparing was given up (see detail_query()). */
static __thread int detail_pid;
static __thread int detail_unprepared;

/* ---- the order of a version's tasks -------------------------------------- */

/*
 * The tasks of a version in the order the answer lists them (topological,
 * as the spec's DAG gives it) with their types: all a render needs of the
 * workflow.  A version of ORDER_SHARED_MIN tasks or more is too large for
 * a thread's cache of parsed versions (api_workflow_cached() parses it
 * again for every request: its spec, 4 MB for a 10,000-task fan-out, read
 * and loaded each time), so its order is kept for every thread, in plain
 * strings that need no lock to read: a long-poll that sees such a run
 * finished answers without reading the spec again.  A smaller version's
 * order points into the thread's parsed workflow, for one render.
 */
#define ORDER_SHARED_MIN 1000
#define ORDER_SHARED 4 /* versions whose order is kept */

struct taskorder {
	char *wid; /* a kept one's workflow (NULL: one render's) */
	int version;
	size_t n;
	const char **ids, **types;
	char *text;	 /* a kept one's ids */
	int refs, kept;	 /* under orders_mu */
	uint64_t used;
};

static struct taskorder *orders[ORDER_SHARED];
static uint64_t orders_tick;
static pthread_mutex_t orders_mu = PTHREAD_MUTEX_INITIALIZER;

static void
order_free(struct taskorder *o)
{
	free(o->wid);
	free(o->ids);
	free(o->types);
	free(o->text);
	free(o);
}

/* The kept order of (wid, version), held until order_put(), or NULL. */
static struct taskorder *
order_find(const char *wid, int version)
{
	struct taskorder *o = NULL;

	pthread_mutex_lock(&orders_mu);
	for (size_t i = 0; i < ORDER_SHARED && o == NULL; i++)
		if (orders[i] && orders[i]->version == version &&
		    strcmp(orders[i]->wid, wid) == 0) {
			o = orders[i];
			o->refs++;
			o->used = ++orders_tick;
		}
	pthread_mutex_unlock(&orders_mu);
	return o;
}

static void
order_put(struct taskorder *o)
{
	int gone = 1;

	if (o == NULL)
		return;
	if (o->wid != NULL) {
		pthread_mutex_lock(&orders_mu);
		gone = --o->refs == 0 && !o->kept;
		pthread_mutex_unlock(&orders_mu);
	}
	if (gone)
		order_free(o);
}

/* Keeps o (held once, by the caller) in place of the least used. */
static void
order_keep(struct taskorder *o)
{
	size_t v = 0;
	struct taskorder *old;

	pthread_mutex_lock(&orders_mu);
	for (size_t i = 0; i < ORDER_SHARED; i++) {
		if (orders[i] == NULL) {
			v = i;
			break;
		}
		if (orders[i]->used < orders[v]->used)
			v = i;
	}
	old = orders[v];
	if (old != NULL)
		old->kept = 0;
	o->kept = 1;
	o->used = ++orders_tick;
	orders[v] = o;
	if (old != NULL && old->refs > 0)
		old = NULL; /* its last order_put() frees it */
	pthread_mutex_unlock(&orders_mu);
	if (old != NULL)
		order_free(old);
}

/* The order of wf, version of workflow wid: kept when it is large. */
static struct taskorder *
order_of(const struct workflow *wf, const char *wid, int version)
{
	struct taskorder *o = xcalloc(1, sizeof(*o));
	size_t len = 0;

	o->n = wf->ntasks;
	o->ids = xcalloc(o->n + 1, sizeof(*o->ids));
	o->types = xcalloc(o->n + 1, sizeof(*o->types));
	for (size_t k = 0; k < o->n; k++) {
		const struct task *t =
		    &wf->tasks[wf->dag ? wf->dag->topo[k] : k];

		o->ids[k] = t->id;
		o->types[k] = task_type_name(t->type);
		len += strlen(t->id) + 1;
	}
	if (o->n < ORDER_SHARED_MIN)
		return o;
	o->text = xmalloc(len);
	len = 0;
	for (size_t k = 0; k < o->n; k++) {
		size_t l = strlen(o->ids[k]) + 1;

		memcpy(o->text + len, o->ids[k], l);
		o->ids[k] = o->text + len;
		len += l;
	}
	o->wid = xstrdup(wid);
	o->version = version;
	o->refs = 1;
	order_keep(o);
	return o;
}

/* ---- writing JSON ------------------------------------------------------- */

static void
put_str(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const char *run = s;

	buf_putc(b, '"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		const char *esc = NULL;
		char u[7];

		if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f)
			continue;
		buf_put(b, run, (size_t)(s - run));
		switch (c) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\n': esc = "\\n"; break;
		case '\t': esc = "\\t"; break;
		case '\r': esc = "\\r"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		default:
			memcpy(u, "\\u00", 4);
			u[4] = hex[c >> 4];
			u[5] = hex[c & 15];
			u[6] = '\0';
			esc = u;
		}
		buf_puts(b, esc);
		run = s + 1;
	}
	buf_put(b, run, (size_t)(s - run));
	buf_putc(b, '"');
}

/* ,"key": for every member after an object's first */
static void
put_key(struct buf *b, const char *key)
{
	buf_puts(b, ",\"");
	buf_puts(b, key);
	buf_puts(b, "\":");
}

/* A text column: a JSON string, or null for SQL NULL. */
static void
put_text(struct buf *b, const PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col))
		buf_puts(b, "null");
	else
		put_str(b, PQgetvalue(r, row, col));
}

/* A column PostgreSQL already sends as JSON text (numbers, json, jsonb). */
static void
put_raw(struct buf *b, const PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col))
		buf_puts(b, "null");
	else
		buf_puts(b, PQgetvalue(r, row, col));
}

/* A time sent as milliseconds (MS()), written as the API writes times. */
static void
put_time(struct buf *b, const PGresult *r, int row, int col)
{
	char iso[32];

	if (PQgetisnull(r, row, col)) {
		buf_puts(b, "null");
		return;
	}
	cursor_iso_ms(strtoll(PQgetvalue(r, row, col), NULL, 10), iso,
	    sizeof(iso));
	buf_putc(b, '"');
	buf_puts(b, iso);
	buf_putc(b, '"');
}

/* {"type","message"} when either column is set, else null. */
static void
put_error(struct buf *b, const PGresult *r, int row, int tcol, int mcol)
{
	if (PQgetisnull(r, row, tcol) && PQgetisnull(r, row, mcol)) {
		buf_puts(b, "null");
		return;
	}
	buf_puts(b, "{\"type\":");
	put_text(b, r, row, tcol);
	buf_puts(b, ",\"message\":");
	put_text(b, r, row, mcol);
	buf_putc(b, '}');
}

/* The attempts of one task: rows [from, to) of r, of kind K_ATTEMPT. */
static void
put_attempts(struct buf *b, const PGresult *r, int from, int to)
{
	buf_putc(b, '[');
	for (int i = from; i < to; i++) {
		if (i > from)
			buf_putc(b, ',');
		buf_puts(b, "{\"attempt\":");
		put_raw(b, r, i, 2);
		put_key(b, "status");
		put_text(b, r, i, 3);
		put_key(b, "startedAt");
		put_time(b, r, i, 4);
		put_key(b, "completedAt");
		put_time(b, r, i, 5);
		put_key(b, "durationMs");
		put_raw(b, r, i, 6);
		put_key(b, "httpStatus");
		put_raw(b, r, i, 7);
		put_key(b, "exitCode");
		put_raw(b, r, i, 8);
		put_key(b, "error");
		put_error(b, r, i, 9, 10);
		buf_putc(b, '}');
	}
	buf_putc(b, ']');
}

/*
 * One task; row is its K_TASK row of r or -1 (PENDING, no row yet); its
 * attempts are rows [from, to).
 */
static void
put_task(struct buf *b, const char *id, const char *type, const PGresult *r,
    int row, int from, int to)
{
	buf_puts(b, "{\"taskId\":");
	put_str(b, id);
	put_key(b, "type");
	if (type)
		put_str(b, type);
	else
		buf_puts(b, "null");
	if (row < 0)
		buf_puts(b, ",\"state\":\"PENDING\",\"attempt\":0,"
		    "\"skipReason\":null,\"output\":null,\"error\":null,"
		    "\"startedAt\":null,\"finishedAt\":null,"
		    "\"heldUntil\":null,\"heldBy\":null");
	else {
		put_key(b, "state");
		put_text(b, r, row, 2);
		put_key(b, "attempt");
		put_raw(b, r, row, 3);
		put_key(b, "skipReason");
		if (PQgetvalue(r, row, 4)[0] != '\0')
			put_str(b, PQgetvalue(r, row, 4));
		else
			buf_puts(b, "null");
		put_key(b, "output");
		put_raw(b, r, row, 5);
		put_key(b, "error");
		put_error(b, r, row, 6, 7);
		put_key(b, "startedAt");
		put_time(b, r, row, 8);
		put_key(b, "finishedAt");
		put_time(b, r, row, 9);
		put_key(b, "heldUntil");
		put_time(b, r, row, 10);
		put_key(b, "heldBy");
		put_text(b, r, row, 11);
	}
	put_key(b, "attempts");
	put_attempts(b, r, from, to);
	buf_putc(b, '}');
}

/*
 * The tasks array from rows [t0, a0) (K_TASK) and [a0, n) (K_ATTEMPT,
 * grouped by task): the spec's order first, then rows it does not know.
 */
static void
put_tasks(struct buf *b, const struct taskorder *o, const PGresult *r,
    int t0, int a0, int n)
{
	struct hmap *rows = hmap_new((size_t)(a0 - t0) + 1);
	struct hmap *att = hmap_new((size_t)(n - a0) + 1);
	unsigned char *used = xcalloc((size_t)(a0 - t0) + 1, 1);
	int *att_end = xcalloc((size_t)n + 1, sizeof(*att_end));
	int first = 1;

	for (int i = t0; i < a0; i++)
		hmap_put(rows, PQgetvalue(r, i, 1), (size_t)i);
	for (int i = a0, start = a0; i < n; i++)
		if (i + 1 == n || strcmp(PQgetvalue(r, i, 1),
		    PQgetvalue(r, i + 1, 1)) != 0) {
			hmap_put(att, PQgetvalue(r, start, 1), (size_t)start);
			att_end[start] = i + 1;
			start = i + 1;
		}
	buf_putc(b, '[');
	for (size_t k = 0; o && k < o->n; k++) {
		size_t row, a;
		int rr = -1, from = 0, to = 0;

		if (hmap_get(rows, o->ids[k], &row) == 0) {
			rr = (int)row;
			used[rr - t0] = 1;
		}
		if (hmap_get(att, o->ids[k], &a) == 0) {
			from = (int)a;
			to = att_end[a];
		}
		if (!first)
			buf_putc(b, ',');
		first = 0;
		put_task(b, o->ids[k], o->types[k], r, rr, from, to);
	}
	for (int i = t0; i < a0; i++) {
		const char *id = PQgetvalue(r, i, 1);
		size_t a;
		int from = 0, to = 0;

		if (used[i - t0])
			continue;
		if (hmap_get(att, id, &a) == 0) {
			from = (int)a;
			to = att_end[a];
		}
		if (!first)
			buf_putc(b, ',');
		first = 0;
		put_task(b, id, NULL, r, i, from, to);
	}
	buf_putc(b, ']');
	free(att_end);
	free(used);
	hmap_free(att);
	hmap_free(rows);
}

/* ---- the cache of finished runs ----------------------------------------- */

static void
dc_free(void *p)
{
	struct detail_cache *c = p;

	for (size_t i = 0; i < DETAIL_CACHE; i++) {
		free(c->e[i].id);
		free(c->e[i].text);
	}
	free(c);
}

static void
dc_key_init(void)
{
	if (pthread_key_create(&dc_key, dc_free) != 0)
		abort();
}

static struct detail_cache *
dc_get(void)
{
	struct detail_cache *c;

	pthread_once(&dc_once, dc_key_init);
	if ((c = pthread_getspecific(dc_key)) == NULL) {
		c = xcalloc(1, sizeof(*c));
		pthread_setspecific(dc_key, c);
	}
	return c;
}

/* The entry of id, or -1. */
static int
dc_find(const struct detail_cache *c, const char *id)
{
	for (int i = 0; i < DETAIL_CACHE; i++)
		if (c->e[i].id && strcmp(c->e[i].id, id) == 0)
			return i;
	return -1;
}

static void
dc_drop(struct detail_cache *c, int i)
{
	c->bytes -= c->e[i].len;
	free(c->e[i].id);
	free(c->e[i].text);
	memset(&c->e[i], 0, sizeof(c->e[i]));
}

/* The free entry, else the least used one. */
static int
dc_victim(const struct detail_cache *c)
{
	int v = 0;

	for (int i = 0; i < DETAIL_CACHE; i++) {
		if (c->e[i].id == NULL)
			return i;
		if (c->e[i].used < c->e[v].used)
			v = i;
	}
	return v;
}

/* The least used entry that holds an answer (there is one). */
static int
dc_victim_used(const struct detail_cache *c)
{
	int v = -1;

	for (int i = 0; i < DETAIL_CACHE; i++)
		if (c->e[i].id != NULL && (v < 0 ||
		    c->e[i].used < c->e[v].used))
			v = i;
	return v;
}

/*
 * Keeps a copy of text as id's answer, in place of the least used, and
 * drops the least used others while the texts pass DETAIL_CACHE_BYTES.
 */
static void
dc_put(struct detail_cache *c, const char *id, const char *status,
    long long gen, const char *text, size_t len)
{
	int v = dc_victim(c);

	dc_drop(c, v);
	while (c->bytes + len > DETAIL_CACHE_BYTES)
		dc_drop(c, dc_victim_used(c));
	c->e[v].id = xstrdup(id);
	snprintf(c->e[v].status, sizeof(c->e[v].status), "%s", status);
	c->e[v].gen = gen;
	c->e[v].text = xmalloc(len + 1);
	memcpy(c->e[v].text, text, len);
	c->e[v].text[len] = '\0';
	c->e[v].len = len;
	c->e[v].used = ++c->tick;
	c->bytes += len;
}

static int
is_one_of(const char *s, const char *const *set)
{
	for (; *set; set++)
		if (strcmp(s, *set) == 0)
			return 1;
	return 0;
}

/*
 * Whether the run in r (rows [t0, a0) its tasks) is over for good but
 * for loom-engine: see struct detail_cache.
 */
static int
settled_for_good(const PGresult *r, int t0, int a0)
{
	static const char *const run_final[] = { "SUCCESS", "FAILED",
		"CANCELLED", NULL };
	static const char *const task_final[] = { "SUCCESS", "FAILED", "DEAD",
		"SKIPPED", "CANCELLED", NULL };

	if (!is_one_of(PQgetvalue(r, 0, 4), run_final))
		return 0;
	for (int i = t0; i < a0; i++)
		if (strcmp(PQgetvalue(r, i, 12), "1") != 0 ||
		    !is_one_of(PQgetvalue(r, i, 2), task_final))
			return 0;
	return 1;
}

/* ---- the statement ------------------------------------------------------ */

/* Whether r failed with SQLSTATE state. */
static int
failed_with(const PGresult *r, const char *state)
{
	const char *s = PQresultErrorField(r, PG_DIAG_SQLSTATE);

	return s != NULL && strcmp(s, state) == 0;
}

/* Prepares the statements on this session.  0, or -1 with *err. */
static int
prepare(PGconn *db, char **err)
{
	static const struct {
		const char *name, *sql;
	} st[] = { { DETAIL_STMT, detail_sql },
		{ DETAIL_OVER_STMT, detail_over_sql }, { GEN_STMT, gen_sql } };
	PGresult *r;

	for (size_t i = 0; i < sizeof(st) / sizeof(st[0]); i++) {
		r = PQprepare(db, st[i].name, st[i].sql, 1, NULL);
		/* 42P05: this session has it already */
		if (PQresultStatus(r) != PGRES_COMMAND_OK &&
		    !failed_with(r, "42P05")) {
			*err = xasprintf("prepare: %s", PQresultErrorMessage(r));
			PQclear(r);
			return -1;
		}
		PQclear(r);
	}
	detail_pid = PQbackendPID(db);
	return 0;
}

/*
 * Runs statement name (text sql) for id, preparing the statements first
 * on a session that does not have them.  A session that loses them again
 * at once is one behind a transaction-pooling PgBouncer, where statements
 * land on any server session: that thread stops preparing and sends the
 * text each time.  Returns the result, or NULL with *err.
 */
static PGresult *
query(PGconn *db, const char *name, const char *sql, const char *id,
    char **err)
{
	PGresult *r;

	for (int again = 0; !detail_unprepared; again++) {
		if (detail_pid != PQbackendPID(db) && prepare(db, err) < 0)
			return NULL;
		r = PQexecPrepared(db, name, 1, &id, NULL, NULL, 0);
		if (PQresultStatus(r) == PGRES_TUPLES_OK)
			return r;
		detail_pid = 0;
		/* 26000: gone (DEALLOCATE, a new session with the same pid) */
		if (!failed_with(r, "26000")) {
			*err = xstrdup(PQresultErrorMessage(r));
			PQclear(r);
			return NULL;
		}
		PQclear(r);
		if (again > 0) {
			api_log(LOG_LVL_WARN, "prepared statements do not last "
			    "on this database connection (a pooler?); the "
			    "execution detail is sent as text from now on");
			detail_unprepared = 1;
		}
	}
	r = PQexecParams(db, sql, 1, NULL, &id, NULL, NULL, 0);
	if (PQresultStatus(r) == PGRES_TUPLES_OK)
		return r;
	*err = xstrdup(PQresultErrorMessage(r));
	PQclear(r);
	return NULL;
}

/* ---- the route ---------------------------------------------------------- */

/* Whether status names a finished run. */
static int
status_final(const char *status)
{
	enum run_state s;

	return run_state_parse(status, &s) == 0 && run_state_terminal(s);
}

/* The run's fields of the answer, from its row (kind 0), up to "tasks". */
static void
put_run(struct buf *out, const PGresult *r)
{
	buf_puts(out, "{\"id\":");
	put_text(out, r, 0, 1);
	put_key(out, "workflowId");
	put_text(out, r, 0, 2);
	put_key(out, "workflowVersion");
	put_raw(out, r, 0, 3);
	put_key(out, "status");
	put_text(out, r, 0, 4);
	put_key(out, "trigger");
	put_text(out, r, 0, 5);
	put_key(out, "scheduledTime");
	put_text(out, r, 0, 14);
	put_key(out, "queued");
	buf_puts(out, PQgetvalue(r, 0, 15)[0] == 't' ? "true" : "false");
	put_key(out, "params");
	put_raw(out, r, 0, 6);
	put_key(out, "error");
	put_text(out, r, 0, 7);
	put_key(out, "createdAt");
	put_time(out, r, 0, 8);
	put_key(out, "startedAt");
	put_time(out, r, 0, 9);
	put_key(out, "completedAt");
	put_time(out, r, 0, 10);
}

/*
 * The order of the tasks of run id, of version version of workflow wid,
 * held until order_put(); NULL when its spec does not load (the answer
 * then lists the rows alone, in no particular order).
 */
static struct taskorder *
run_order(PGconn *db, const char *id, const char *wid, int version)
{
	const struct workflow *wf;
	struct taskorder *o;
	char *err = NULL;
	int notfound;

	if ((o = order_find(wid, version)) != NULL)
		return o;
	wf = api_workflow_cached(db, wid, version, NULL, &notfound, &err);
	if (wf == NULL) {
		api_log(LOG_LVL_WARN, "execution %s: %s", id, err);
		free(err);
		return NULL;
	}
	return order_of(wf, wid, version);
}

int
api_execution_render(struct api_request *rq, PGconn *db, const char *id,
    struct buf *out, jv *err_out, int only_finished, int *finished)
{
	struct detail_cache *c = dc_get();
	struct taskorder *o;
	PGresult *r;
	char *err = NULL;
	int n, t0, a0, ci;
	size_t start = out->len;

	/* A finished run's answer, when its (status, engine_gen) hold. */
	if ((ci = dc_find(c, id)) >= 0) {
		if ((r = query(db, GEN_STMT, gen_sql, id, &err)) == NULL)
			return api_db_fail(rq, err_out, err);
		if (PQntuples(r) == 1 &&
		    strcmp(PQgetvalue(r, 0, 0), c->e[ci].status) == 0 &&
		    strtoll(PQgetvalue(r, 0, 1), NULL, 10) == c->e[ci].gen) {
			PQclear(r);
			buf_put(out, c->e[ci].text, c->e[ci].len);
			c->e[ci].used = ++c->tick;
			*finished = status_final(c->e[ci].status);
			return 200;
		}
		PQclear(r);
		dc_drop(c, ci);
	}
	if ((r = only_finished ?
	    query(db, DETAIL_OVER_STMT, detail_over_sql, id, &err) :
	    query(db, DETAIL_STMT, detail_sql, id, &err)) == NULL)
		return api_db_fail(rq, err_out, err);
	n = PQntuples(r);
	if (n == 0 || atoi(PQgetvalue(r, 0, 0)) != K_RUN) {
		PQclear(r);
		return api_error(err_out, 404, "not_found", "id",
		    "no execution '%s'", id);
	}
	/* rows are ordered by kind: the run, its tasks, its attempts */
	for (t0 = a0 = 1; a0 < n && atoi(PQgetvalue(r, a0, 0)) == K_TASK;
	    a0++)
		;
	*finished = status_final(PQgetvalue(r, 0, 4));
	/* a first look of a long-poll waits on (api.h): nothing to render */
	if (only_finished && !*finished) {
		PQclear(r);
		return 200;
	}
	o = run_order(db, id, PQgetvalue(r, 0, 2), atoi(PQgetvalue(r, 0, 3)));
	put_run(out, r);
	put_key(out, "tasks");
	put_tasks(out, o, r, t0, a0, n);
	buf_putc(out, '}');
	if (o != NULL && settled_for_good(r, t0, a0) &&
	    out->len - start <= DETAIL_CACHE_MAX)
		dc_put(c, id, PQgetvalue(r, 0, 4),
		    strtoll(PQgetvalue(r, 0, 11), NULL, 10), out->p + start,
		    out->len - start);
	order_put(o);
	PQclear(r);
	return 200;
}
/* clang-format on */
