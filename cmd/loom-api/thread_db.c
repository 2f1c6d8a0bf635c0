/*
 * thread_db: each of loom-api's worker threads has its own PostgreSQL
 * connection (api_db), made on first use, checked before each use and
 * re-made when it broke, with at most one attempt a second while the
 * database is down.  The connection is owned by its thread (freed when
 * the thread ends); handlers borrow it for one request, and
 * tdb_check_idle() rolls back a transaction a handler left open.
 */
#include "server.h"

#include <poll.h>
#include <pthread.h>
#include <stdlib.h>

#include "store/db.h"
#include "core/xalloc.h"

#define API_DB_RETRY_MS 1000 /* a thread retries a dead database */
#define API_STATEMENT_TIMEOUT "30s"

struct tdb {
	PGconn *c;
	int64_t retry_at; /* no new attempt before this (mono ms) */
};

static pthread_key_t tdb_key;
static pthread_once_t tdb_once = PTHREAD_ONCE_INIT;

static void
tdb_free(void *p)
{
	struct tdb *t = p;

	if (t->c)
		PQfinish(t->c);
	free(t);
}

static void
tdb_key_init(void)
{
	if (pthread_key_create(&tdb_key, tdb_free) != 0)
		abort();
}

/* Session settings; redone after every (re)connect. */
static int
tdb_setup(PGconn *c, char **err)
{
	if (PQsetClientEncoding(c, "UTF8") != 0) {
		*err = xstrdup("cannot set client_encoding to UTF8");
		return -1;
	}
	/* A stuck query must not hold a worker thread forever. */
	return db_cmd(c, err,
	    "SET statement_timeout = '" API_STATEMENT_TIMEOUT "'", 0, NULL);
}

/*
 * Whether an idle connection is still good.  A server that restarts
 * tells its clients (FATAL, then EOF) before they ask anything, so a
 * readable idle socket is read now rather than failing the next query.
 */
static int
tdb_alive(PGconn *c)
{
	struct pollfd p = { .fd = PQsocket(c), .events = POLLIN };

	if (PQstatus(c) != CONNECTION_OK)
		return 0;
	/* A message and the EOF behind it take a read each. */
	for (int i = 0; i < 4 && poll(&p, 1, 0) > 0; i++)
		if (PQconsumeInput(c) == 0)
			return 0;
	return PQstatus(c) == CONNECTION_OK;
}

PGconn *
api_db(struct api_request *rq)
{
	struct tdb *t;
	char *err = NULL;
	int64_t now;

	pthread_once(&tdb_once, tdb_key_init);
	if ((t = pthread_getspecific(tdb_key)) == NULL) {
		t = xcalloc(1, sizeof(*t));
		pthread_setspecific(tdb_key, t);
	}
	if (t->c != NULL && tdb_alive(t->c))
		return t->c;
	now = api_mono_ms();
	if (now < t->retry_at)
		return NULL;
	if (t->c != NULL) {
		PQreset(t->c);
		if (PQstatus(t->c) != CONNECTION_OK) {
			err = xasprintf("cannot reconnect to PostgreSQL: %s",
			    PQerrorMessage(t->c));
			goto fail;
		}
	} else if ((t->c = db_connect(
			rq->api->opt->db_url, API_APP_NAME, &err)) == NULL)
		goto fail;
	if (tdb_setup(t->c, &err) < 0)
		goto fail;
	return t->c;
fail:
	api_log(LOG_LVL_WARN, "%s", err);
	free(err);
	t->retry_at = now + API_DB_RETRY_MS;
	if (t->c && PQstatus(t->c) == CONNECTION_OK) {
		PQfinish(t->c);
		t->c = NULL;
	}
	return NULL;
}

int
api_db_down(jv *out)
{
	return api_error(out, 503, "unavailable", NULL,
	    "the database is unreachable; try again shortly");
}

int
api_db_fail(struct api_request *rq, jv *out, char *err)
{
	struct tdb *t;
	PGconn *c;

	pthread_once(&tdb_once, tdb_key_init);
	t = pthread_getspecific(tdb_key);
	c = t ? t->c : NULL;

	api_log(LOG_LVL_WARN, "%s %s: database error: %s", rq->method, rq->path,
	    err ? err : "?");
	free(err);
	if (c == NULL || PQstatus(c) != CONNECTION_OK)
		return api_db_down(out);
	if (PQtransactionStatus(c) != PQTRANS_IDLE)
		PQclear(PQexec(c, "ROLLBACK"));
	return api_error(out, 500, "internal", NULL,
	    "internal error (the server's log has the details)");
}

/* After each handler: a transaction left open is a bug; never leak it. */
void
tdb_request_done(size_t moved)
{
	struct tdb *t;

	if (moved < TDB_LARGE_BYTES)
		return;
	pthread_once(&tdb_once, tdb_key_init);
	if ((t = pthread_getspecific(tdb_key)) != NULL && t->c != NULL) {
		PQfinish(t->c);
		t->c = NULL;
	}
}

void
tdb_check_idle(const struct api_request *rq)
{
	struct tdb *t;

	pthread_once(&tdb_once, tdb_key_init);
	if ((t = pthread_getspecific(tdb_key)) == NULL || t->c == NULL ||
	    PQstatus(t->c) != CONNECTION_OK)
		return;
	if (PQtransactionStatus(t->c) != PQTRANS_IDLE) {
		api_log(LOG_LVL_WARN,
		    "%s %s left a transaction open; rolled "
		    "back",
		    rq->method, rq->path);
		PQclear(PQexec(t->c, "ROLLBACK"));
	}
}
