/*
 * api_mongo: a run's log lines from the MongoDB log store (logd.store =
 * mongodb; loom-log(8) says what the documents hold).
 *
 *   GET /api/v1/executions/{id}/logs               a page, as from PostgreSQL
 *   GET /api/v1/executions/{id}/events?kind=log    the lines, live
 *
 * A line's id is its document's context.seq, which grows with every
 * document loom-log writes: pages and streams go in seq order, and a
 * stream resumes after the seq of Last-Event-ID.  ?grep= keeps lines that
 * hold every word of the text (a case-insensitive regular expression per
 * word, at word boundaries: what PostgreSQL's full-text search over the
 * "simple" configuration does, near enough), ?level= that level and
 * above, ?from= lines from that time on.  Nothing rings a doorbell when a
 * document is written, so a live stream looks again every STREAM_POLL_MS
 * while the run lasts; the run's status still comes from PostgreSQL.
 *
 * Threads: each worker thread has its own mongoc_client_t, made on first
 * use (libmongoc's clients are not thread-safe; a pool busy-polls some
 * servers).
 */
#include "api.h"
#include "server.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mongoc/mongoc.h>

#include "core/buf.h"
#include "core/state.h"
#include "core/xalloc.h"
#include "net/sse.h"
#include "store/db.h"
#include "util/jsonutil.h"

#define STREAM_POLL_MS 100
#define STREAM_PAGE 500
#define LOGS_DEFAULT 1000
#define LOGS_MAX 10000

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
/* Each worker thread's client, destroyed when the thread ends. */
static pthread_key_t client_key;

static void
client_destroy(void *c)
{
	mongoc_client_destroy(c);
}

static void
init_mongoc(void)
{
	mongoc_init();
	(void)pthread_key_create(&client_key, client_destroy);
}

static mongoc_collection_t *
collection(struct api_request *rq)
{
	const struct api_options *o = rq->api->opt;

	mongoc_client_t *tl_client;

	pthread_once(&init_once, init_mongoc);
	if ((tl_client = pthread_getspecific(client_key)) == NULL) {
		bson_error_t e;
		mongoc_uri_t *u = mongoc_uri_new_with_error(o->mongo_uri, &e);

		if (u == NULL) {
			api_log(
			    LOG_LVL_WARN, "logd.mongodb_uri: %s", e.message);
			return NULL;
		}
		mongoc_uri_set_option_as_int32(
		    u, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, 5000);
		tl_client = mongoc_client_new_from_uri(u);
		mongoc_uri_destroy(u);
		if (tl_client == NULL)
			return NULL;
		mongoc_client_set_appname(tl_client, "loom-api");
		(void)pthread_setspecific(client_key, tl_client);
	}
	return mongoc_client_get_collection(
	    tl_client, o->mongo_db, "execution_logs");
}

/* What a run's lines are filtered by. */
struct mfilter {
	char *task, *grep, *level;
	int64_t from_ms; /* -1: none */
	int64_t after;	 /* seq */
};

static void
mfilter_clear(struct mfilter *f)
{
	free(f->task);
	free(f->grep);
	free(f->level);
}

/* One word of ?grep= as a regular expression, its specials escaped. */
static void
word_regex(struct buf *b, const char *w, size_t n)
{
	buf_puts(b, "\\b");
	for (size_t i = 0; i < n; i++) {
		if (strchr("\\^$.|?*+()[]{}", w[i]))
			buf_putc(b, '\\');
		buf_putc(b, w[i]);
	}
	buf_puts(b, "\\b");
}

static int
word_char(unsigned char c)
{
	return c >= 0x80 || c == '_' || (c >= '0' && c <= '9') ||
	    (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Each word of ?grep= (runs of letters, digits, _ and UTF-8) must match. */
static void
append_grep(bson_t *q, const char *g)
{
	bson_t and, el;
	char key[16];
	int i = 0;

	for (const char *p = g; *p; p++)
		if (word_char((unsigned char)*p))
			break;
		else if (p[1] == '\0')
			return; /* no word at all: nothing to keep out */
	BSON_APPEND_ARRAY_BEGIN(q, "$and", &and);
	while (*g) {
		size_t n = 0;
		struct buf b = BUF_INIT;

		while (g[n] && word_char((unsigned char)g[n]))
			n++;
		if (n == 0) {
			g++;
			continue;
		}
		word_regex(&b, g, n);
		snprintf(key, sizeof(key), "%d", i++);
		BSON_APPEND_DOCUMENT_BEGIN(&and, key, &el);
		BSON_APPEND_REGEX(&el, "message", b.p, "i");
		bson_append_document_end(&and, &el);
		buf_free(&b);
		g += n;
	}
	bson_append_array_end(q, &and);
}

/* The query for a run's lines after f->after. */
static bson_t *
make_query(const char *id, const struct mfilter *f)
{
	static const char *const lv[] = { "DEBUG", "INFO", "WARN", "ERROR" };
	static const char *const lvl[] = { "debug", "info", "warn", "error" };
	bson_t *q = bson_new(), sub, arr;

	BSON_APPEND_UTF8(q, "execution_id", id);
	if (f->task)
		BSON_APPEND_UTF8(q, "task_id", f->task);
	BSON_APPEND_DOCUMENT_BEGIN(q, "context.seq", &sub);
	BSON_APPEND_INT64(&sub, "$gt", f->after);
	bson_append_document_end(q, &sub);
	if (f->level) {
		int i, k = 0;
		char key[4];

		for (i = 0; i < 4 && strcmp(f->level, lvl[i]); i++)
			;
		BSON_APPEND_DOCUMENT_BEGIN(q, "level", &sub);
		BSON_APPEND_ARRAY_BEGIN(&sub, "$in", &arr);
		for (; i < 4; i++) {
			snprintf(key, sizeof(key), "%d", k++);
			BSON_APPEND_UTF8(&arr, key, lv[i]);
		}
		bson_append_array_end(&sub, &arr);
		bson_append_document_end(q, &sub);
	}
	if (f->from_ms >= 0) {
		BSON_APPEND_DOCUMENT_BEGIN(q, "timestamp", &sub);
		BSON_APPEND_DATE_TIME(&sub, "$gte", f->from_ms);
		bson_append_document_end(q, &sub);
	}
	if (f->grep)
		append_grep(q, f->grep);
	return q;
}

/* A document as the LogLine of loom-api(8) (its id the seq). */
static jv
doc_jv(const bson_t *d, int64_t *seq)
{
	bson_iter_t it;
	jv o = jv_object();
	char iso[32], lvl[8] = "info";

	*seq = 0;
	if (bson_iter_init_find(&it, d, "context.seq") ||
	    (bson_iter_init(&it, d) &&
		bson_iter_find_descendant(&it, "context.seq", &it)))
		*seq = bson_iter_as_int64(&it);
	o = jv_put(o, "id", jv_number((double)*seq));
	if (bson_iter_init_find(&it, d, "execution_id") &&
	    BSON_ITER_HOLDS_UTF8(&it))
		o = jv_put(
		    o, "executionId", jv_string(bson_iter_utf8(&it, NULL)));
	if (bson_iter_init_find(&it, d, "task_id") && BSON_ITER_HOLDS_UTF8(&it))
		o = jv_put(o, "taskId", jv_string(bson_iter_utf8(&it, NULL)));
	if (bson_iter_init(&it, d) &&
	    bson_iter_find_descendant(&it, "context.attempt", &it))
		o = jv_put(o, "attempt", jv_number(bson_iter_as_int64(&it)));
	if (bson_iter_init(&it, d) &&
	    bson_iter_find_descendant(&it, "context.stream", &it) &&
	    BSON_ITER_HOLDS_UTF8(&it))
		o = jv_put(o, "stream", jv_string(bson_iter_utf8(&it, NULL)));
	if (bson_iter_init_find(&it, d, "level") && BSON_ITER_HOLDS_UTF8(&it)) {
		snprintf(lvl, sizeof(lvl), "%s", bson_iter_utf8(&it, NULL));
		for (char *c = lvl; *c; c++)
			*c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
	}
	o = jv_put(o, "level", jv_string(lvl));
	if (bson_iter_init_find(&it, d, "message") && BSON_ITER_HOLDS_UTF8(&it))
		o = jv_put(o, "line", jv_string(bson_iter_utf8(&it, NULL)));
	if (bson_iter_init_find(&it, d, "timestamp") &&
	    BSON_ITER_HOLDS_DATE_TIME(&it)) {
		iso_time_ms(bson_iter_date_time(&it), iso, sizeof(iso));
		o = jv_put(o, "ts", jv_string(iso));
	}
	return o;
}

/*
 * Up to limit lines after f->after, in seq order, into *list; f->after
 * moves to the last.  Returns 0, or -1 with *err (malloc'd).
 */
static int
read_lines(struct api_request *rq, const char *id, struct mfilter *f,
    long limit, jv *list, char **err)
{
	mongoc_collection_t *c = collection(rq);
	bson_t *q, *opts;
	mongoc_cursor_t *cur;
	const bson_t *d;
	bson_error_t e;
	int rc = 0;

	*list = jv_array();
	if (c == NULL) {
		*err = xstrdup("cannot make a MongoDB client");
		return -1;
	}
	q = make_query(id, f);
	opts = BCON_NEW("sort", "{", "context.seq", BCON_INT32(1), "}", "limit",
	    BCON_INT64(limit));
	cur = mongoc_collection_find_with_opts(c, q, opts, NULL);
	while (mongoc_cursor_next(cur, &d)) {
		int64_t seq;

		*list = jv_array_append(*list, doc_jv(d, &seq));
		f->after = seq;
	}
	if (mongoc_cursor_error(cur, &e)) {
		*err = xasprintf("MongoDB: %s", e.message);
		rc = -1;
	}
	mongoc_cursor_destroy(cur);
	bson_destroy(q);
	bson_destroy(opts);
	mongoc_collection_destroy(c);
	return rc;
}

/* ?task=, ?grep=, ?level=, ?from= (turned into ms by PostgreSQL). */
static int
parse_filter(struct api_request *rq, PGconn *db, struct mfilter *f, jv *out)
{
	static const char *const lv[] = { "debug", "info", "warn", "error" };
	const char *v;
	PGresult *r;
	char *err = NULL;
	int i;

	memset(f, 0, sizeof(*f));
	f->from_ms = -1;
	if ((v = api_query(rq, "task")) && *v)
		f->task = xstrdup(v);
	if ((v = api_query(rq, "grep")) && *v) {
		if (strlen(v) > 200)
			return api_error(out, 400, "bad_request", "grep",
			    "grep must be at most 200 bytes");
		f->grep = xstrdup(v);
	}
	if ((v = api_query(rq, "level")) && *v) {
		for (i = 0; i < 4 && strcmp(v, lv[i]); i++)
			;
		if (i == 4)
			return api_error(out, 400, "bad_request", "level",
			    "level must be debug, info, warn or error, not "
			    "'%.40s'",
			    v);
		f->level = xstrdup(v);
	}
	if ((v = api_query(rq, "from")) && *v) {
		r = db_exec(db, &err,
		    "SELECT (extract(epoch FROM $1::timestamptz) * "
		    "1000)::bigint",
		    1, &v);
		if (r == NULL) {
			free(err);
			return api_error(out, 400, "bad_request", "from",
			    "from must be an ISO 8601 time such as "
			    "2026-12-07T04:05:06Z, not '%.40s'",
			    v);
		}
		f->from_ms = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		PQclear(r);
	}
	return 0;
}

static int
digits(const char *s)
{
	return *s && strspn(s, "0123456789") == strlen(s) && strlen(s) < 19;
}

/* 404 unless the run exists (in PostgreSQL); its status into st. */
static int
run_status(struct api_request *rq, PGconn *db, const char *id, char *st,
    size_t len, jv *out)
{
	PGresult *r;
	char *err = NULL;

	r = db_exec(
	    db, &err, "SELECT status FROM executions WHERE id = $1", 1, &id);
	if (r == NULL)
		return api_db_fail(rq, out, err);
	if (PQntuples(r) == 0) {
		PQclear(r);
		return api_error(
		    out, 404, "not_found", "id", "no execution '%s'", id);
	}
	snprintf(st, len, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	return 0;
}

int
api_mongo_on(const struct api_request *rq)
{
	return rq->api->opt->mongo_uri != NULL;
}

int
api_mongo_logs(struct api_request *rq, const char *id, jv *out)
{
	const char *lim = api_query(rq, "limit"),
		   *after = api_query(rq, "after");
	struct mfilter f;
	char st[32], *err = NULL;
	long n = LOGS_DEFAULT;
	PGconn *db;
	jv list;
	int rc;

	if (lim && *lim) {
		char *end;

		n = strtol(lim, &end, 10);
		if (*end || end == lim || n < 1 || n > LOGS_MAX)
			return api_error(out, 400, "bad_request", "limit",
			    "limit must be an integer from 1 to %d, not '%s'",
			    LOGS_MAX, lim);
	}
	if (after && *after && !digits(after))
		return api_error(out, 400, "bad_request", "after",
		    "after must be a line id (a number), not '%s'", after);
	if ((db = api_db(rq)) == NULL)
		return api_db_down(out);
	if ((rc = run_status(rq, db, id, st, sizeof(st), out)) != 0)
		return rc;
	if ((rc = parse_filter(rq, db, &f, out)) != 0)
		goto done;
	f.after = after && *after ? strtoll(after, NULL, 10) : 0;
	if (read_lines(rq, id, &f, n, &list, &err) < 0) {
		api_log(LOG_LVL_WARN, "%s: %s", rq->path, err);
		free(err);
		jv_free(list);
		rc = api_error(out, 503, "unavailable", NULL,
		    "the MongoDB log store does not answer");
		goto done;
	}
	*out = JV_OBJECT(jv_string("executionId"), jv_string(id),
	    jv_string("logs"), jv_copy(list), jv_string("next"),
	    jv_array_length(jv_copy(list)) == n ? jv_number((double)f.after) :
						  jv_null());
	jv_free(list);
	rc = 200;
done:
	mfilter_clear(&f);
	return rc;
}

/* ---- the live stream ---------------------------------------------------- */

struct mstream {
	char *id;
	struct mfilter f;
};

static void
mstream_free(void *ctx)
{
	struct mstream *m = ctx;

	if (m == NULL)
		return;
	free(m->id);
	mfilter_clear(&m->f);
	free(m);
}

static int
run_terminal(const char *status)
{
	enum run_state s;

	return run_state_parse(status, &s) == 0 && run_state_terminal(s);
}

/* A page of lines; the end once the run is over and nothing is left. */
static int
mstream_fill(
    struct api_request *rq, void *ctx, struct buf *out, int64_t *recheck_ms)
{
	struct mstream *m = ctx;
	PGconn *db = api_db(rq);
	char st[32] = "", num[24], *err = NULL;
	jv list, ignore;
	int n;

	*recheck_ms = STREAM_POLL_MS;
	/* The status first: a run over before this read has all its lines
	 * in the store (loom-exec reports results after its lines). */
	if (db == NULL || run_status(rq, db, m->id, st, sizeof(st), &ignore)) {
		if (db != NULL)
			jv_free(ignore);
		return db != NULL ? 1 : 0; /* deleted; or wait for the db */
	}
	if (read_lines(rq, m->id, &m->f, STREAM_PAGE, &list, &err) < 0) {
		api_log(LOG_LVL_WARN, "%s: %s", rq->path, err);
		free(err);
		jv_free(list);
		*recheck_ms = 1000;
		return 0;
	}
	n = jv_array_length(jv_copy(list));
	jv_array_foreach(list, i, x)
	{
		jv s = jv_dump_string(jv_copy(x), 0);

		snprintf(num, sizeof(num), "%.0f",
		    jv_number_value(jv_object_get(x, jv_string("id"))));
		sse_write(out, num, "log", jv_string_value(s));
		jv_free(s);
	}
	jv_free(list);
	if (n == STREAM_PAGE) {
		*recheck_ms = 0;
		return 0;
	}
	if (run_terminal(st)) {
		jv end = JV_OBJECT(jv_string("executionId"), jv_string(m->id),
		    jv_string("status"), jv_string(st));
		jv s = jv_dump_string(end, 0);

		sse_write(out, NULL, "end", jv_string_value(s));
		jv_free(s);
		return 1;
	}
	return 0;
}

static const struct api_stream_ops mstream_ops = { mstream_fill, mstream_free };

int
api_mongo_stream(struct api_request *rq, const char *id, int64_t since, jv *out)
{
	struct mstream *m = xcalloc(1, sizeof(*m));
	char st[32];
	PGconn *db;
	int rc;

	m->id = xstrdup(id);
	if ((db = api_db(rq)) == NULL) {
		rc = api_db_down(out);
		goto fail;
	}
	if ((rc = run_status(rq, db, id, st, sizeof(st), out)) != 0 ||
	    (rc = parse_filter(rq, db, &m->f, out)) != 0)
		goto fail;
	/* From now on: after the newest seq there can be (the time now). */
	if (since < 0) {
		struct timespec now;

		clock_gettime(CLOCK_REALTIME, &now);
		since = (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
	}
	m->f.after = since;
	return api_stream(rq, id, 0, &mstream_ops, m);
fail:
	mstream_free(m);
	return rc;
}
