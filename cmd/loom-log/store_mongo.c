/*
 * store_mongo: the MongoDB log store (logd.store = mongodb), collection
 * execution_logs of logd.mongodb_database, one document per record in
 * the seed's shape:
 *
 *   { _id: ObjectId, execution_id: "exec-…", task_id: "fetch_data",
 *     level: "INFO", message: "…", timestamp: ISODate,
 *     context: { attempt: 1, stream: "stdout", seq: NumberLong } }
 *
 * context.seq grows with every record written (the time of writing in
 * microseconds, or one more than the last), so readers page and resume
 * by it.  The
 * indexes (made with the createIndexes command when the store first
 * answers): {execution_id, context.seq} for a run's lines in order,
 * {execution_id, task_id, timestamp} for a task's, {timestamp} for
 * retention.  One mongoc_client_t, not a pool; a batch is one ordered
 * insert_many.  Errors of the connection (stream, server selection,
 * protocol) keep the batch for the spool; anything else refuses it.
 */
#include "logd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mongoc/mongoc.h>

#include "core/xalloc.h"
#include "util/log.h"

#define COLLECTION "execution_logs"

struct mgstore {
	struct ld_store base;
	const struct logd_opts *o;
	mongoc_client_t *client;
	mongoc_collection_t *coll;
	int indexed; /* createIndexes went through */
	int64_t seq; /* the last context.seq written */
	int rc;	     /* the last batch's outcome (the write is blocking) */
	char *err;
};

static int
transient(const bson_error_t *e)
{
	return e->domain == MONGOC_ERROR_STREAM ||
	    e->domain == MONGOC_ERROR_SERVER_SELECTION ||
	    e->domain == MONGOC_ERROR_CLIENT ||
	    e->domain == MONGOC_ERROR_PROTOCOL;
}

static int
make_indexes(struct mgstore *m, char **err)
{
	bson_t *cmd;
	bson_t reply;
	bson_error_t e;
	int ok;

	cmd = BCON_NEW("createIndexes", BCON_UTF8(COLLECTION), "indexes", "[",
	    "{", "key", "{", "execution_id", BCON_INT32(1), "context.seq",
	    BCON_INT32(1), "}", "name", BCON_UTF8("run_seq"), "}", "{", "key",
	    "{", "execution_id", BCON_INT32(1), "task_id", BCON_INT32(1),
	    "timestamp", BCON_INT32(1), "}", "name", BCON_UTF8("run_task_time"),
	    "}", "{", "key", "{", "timestamp", BCON_INT32(1), "}", "name",
	    BCON_UTF8("time"), "}", "]");
	ok = mongoc_collection_write_command_with_opts(
	    m->coll, cmd, NULL, &reply, &e);
	bson_destroy(cmd);
	bson_destroy(&reply);
	if (!ok) {
		*err = xasprintf("createIndexes: %s", e.message);
		return -1;
	}
	m->indexed = 1;
	return 0;
}

static int
mg_reconnect(struct ld_store *s, char **err)
{
	struct mgstore *m = (struct mgstore *)s;
	bson_t *ping = BCON_NEW("ping", BCON_INT32(1));
	bson_error_t e;
	int ok;

	ok = mongoc_client_command_simple(
	    m->client, m->o->mongo_db, ping, NULL, NULL, &e);
	bson_destroy(ping);
	if (!ok) {
		*err = xasprintf("%s", e.message);
		return -1;
	}
	return m->indexed ? 0 : make_indexes(m, err);
}

/*
 * The time of writing in microseconds, or one more than the last: it
 * grows across restarts too, so a record written late (from the spool)
 * still sorts after everything before it.
 */
static int64_t
next_seq(struct mgstore *m)
{
	struct timespec now;
	int64_t s;

	clock_gettime(CLOCK_REALTIME, &now);
	s = (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;

	m->seq = s > m->seq ? s : m->seq + 1;
	return m->seq;
}

static bson_t *
rec_doc(struct mgstore *m, const struct ld_rec *r)
{
	char level[8];
	size_t i;

	for (i = 0; r->level[i] && i < sizeof(level) - 1; i++)
		level[i] = (char)(r->level[i] -
		    ('a' <= r->level[i] && r->level[i] <= 'z' ? 32 : 0));
	level[i] = '\0';
	return BCON_NEW("execution_id", BCON_UTF8(r->execution), "task_id",
	    BCON_UTF8(r->task), "level", BCON_UTF8(level), "message",
	    BCON_UTF8(r->msg), "timestamp", BCON_DATE_TIME(r->ts_ms), "context",
	    "{", "attempt", BCON_INT32(r->attempt), "stream",
	    BCON_UTF8(r->stream), "seq", BCON_INT64(next_seq(m)), "}");
}

/* libmongoc blocks: begin() writes the batch, finish() tells. */
static int mg_write(
    struct ld_store *s, const struct ld_rec *r, size_t n, char **err);

static int
mg_begin(struct ld_store *s, const struct ld_rec *r, size_t n, char **err)
{
	struct mgstore *m = (struct mgstore *)s;

	m->rc = mg_write(s, r, n, &m->err);
	return 0;
}

static int
mg_fd(struct ld_store *s)
{
	return -1;
}

static int
mg_finish(struct ld_store *s, int block, char **err)
{
	struct mgstore *m = (struct mgstore *)s;

	*err = m->err;
	m->err = NULL;
	return m->rc;
}

static int
mg_write(struct ld_store *s, const struct ld_rec *r, size_t n, char **err)
{
	struct mgstore *m = (struct mgstore *)s;
	bson_t **docs = xcalloc(n, sizeof(*docs));
	bson_error_t e;
	int64_t seq0 = m->seq;
	int ok, rc = 0;

	if (!m->indexed && make_indexes(m, err) < 0) {
		free(docs);
		return 1;
	}
	for (size_t i = 0; i < n; i++)
		docs[i] = rec_doc(m, &r[i]);
	ok = mongoc_collection_insert_many(
	    m->coll, (const bson_t **)docs, n, NULL, NULL, &e);
	if (!ok) {
		*err = xasprintf("%s", e.message);
		rc = transient(&e) ? 1 : -1;
		if (rc > 0)
			m->seq = seq0; /* the same records come again */
	}
	for (size_t i = 0; i < n; i++)
		bson_destroy(docs[i]);
	free(docs);
	return rc;
}

static long
mg_expire(struct ld_store *s, int64_t cutoff_ms, char **err)
{
	struct mgstore *m = (struct mgstore *)s;
	bson_t *sel =
	    BCON_NEW("timestamp", "{", "$lt", BCON_DATE_TIME(cutoff_ms), "}");
	bson_t reply;
	bson_error_t e;
	bson_iter_t it;
	long n = 0;

	if (!mongoc_collection_delete_many(m->coll, sel, NULL, &reply, &e)) {
		*err = xasprintf("%s", e.message);
		n = -1;
	} else if (bson_iter_init_find(&it, &reply, "deletedCount"))
		n = (long)bson_iter_as_int64(&it);
	bson_destroy(sel);
	bson_destroy(&reply);
	return n;
}

static void
mg_free(struct ld_store *s)
{
	struct mgstore *m = (struct mgstore *)s;

	if (m == NULL)
		return;
	if (m->coll)
		mongoc_collection_destroy(m->coll);
	if (m->client)
		mongoc_client_destroy(m->client);
	free(m->err);
	free(m);
	mongoc_cleanup();
}

static const struct ld_store_ops mg_ops = {
	mg_begin,
	mg_fd,
	mg_finish,
	mg_expire,
	mg_reconnect,
	mg_free,
	"mongodb",
};

struct ld_store *
ld_store_mongo_new(const struct logd_opts *o, char **err)
{
	struct mgstore *m;
	mongoc_uri_t *uri;
	bson_error_t e;
	char *ee = NULL;

	mongoc_init();
	if ((uri = mongoc_uri_new_with_error(o->mongo_uri, &e)) == NULL) {
		*err = xasprintf("logd.mongodb_uri: %s", e.message);
		mongoc_cleanup();
		return NULL;
	}
	mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS,
	    (int32_t)o->store_timeout_ms);
	mongoc_uri_set_option_as_int32(
	    uri, MONGOC_URI_SOCKETTIMEOUTMS, (int32_t)o->store_timeout_ms);
	mongoc_uri_set_option_as_int32(
	    uri, MONGOC_URI_CONNECTTIMEOUTMS, (int32_t)o->store_timeout_ms);
	m = xcalloc(1, sizeof(*m));
	m->base.ops = &mg_ops;
	m->o = o;
	m->client = mongoc_client_new_from_uri(uri);
	mongoc_uri_destroy(uri);
	if (m->client == NULL) {
		*err = xasprintf("logd.mongodb_uri: cannot make a client");
		mg_free(&m->base);
		return NULL;
	}
	mongoc_client_set_appname(m->client, "loom-log");
	m->coll =
	    mongoc_client_get_collection(m->client, o->mongo_db, COLLECTION);
	if (mg_reconnect(&m->base, &ee) < 0) {
		log_warnx("MongoDB: %s; records go to the spool until it "
			  "answers",
		    ee ? ee : "?");
		free(ee);
	}
	return &m->base;
}
