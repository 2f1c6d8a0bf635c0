/*
 * pglisten: see pglisten.h.  The connection's socket is a loop io watch;
 * on readability PQconsumeInput + PQnotifies drain every pending NOTIFY.
 * A broken connection is closed and a timer re-makes it.
 */
#include "pglisten.h"

#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "db.h"
#include "util/log.h"
#include "core/xalloc.h"

struct pglisten {
	struct loop *loop;
	char *url;
	char *app;
	char **channels;
	pglisten_notify_cb *notify;
	pglisten_connect_cb *connect;
	void *arg;
	PGconn *conn;
	struct loop_io *io;
	struct loop_timer *retry;
	int64_t backoff_ms;
	long long lock_key; /* pglisten_new_leader(): the advisory lock */
	int leader;	    /* wants the lock before it listens */
	int waiting;	    /* the lock is asked for, not yet held */
};

static void pgl_readable(struct loop_io *io, int fd, unsigned ev, void *arg);

static void
pgl_close(struct pglisten *l)
{
	loop_io_del(l->io);
	l->io = NULL;
	if (l->conn)
		PQfinish(l->conn);
	l->conn = NULL;
}

static int
pgl_listen_all(struct pglisten *l, char **err)
{
	for (char **c = l->channels; *c; c++) {
		/* Channel names are ours (not user input); quote anyway. */
		char *q = PQescapeIdentifier(l->conn, *c, strlen(*c));
		char *sql = xasprintf("LISTEN %s", q);
		int rc = db_cmd(l->conn, err, sql, 0, NULL);

		PQfreemem(q);
		free(sql);
		if (rc < 0)
			return -1;
	}
	return 0;
}

static int
pgl_open(struct pglisten *l, char **err)
{
	char key[32];
	const char *p[1] = { key };

	l->conn = db_connect(l->url, l->app, err);
	if (l->conn == NULL)
		return -1;
	if (!l->leader && pgl_listen_all(l, err) < 0) {
		pgl_close(l);
		return -1;
	}
	PQsetnonblocking(l->conn, 1);
	if (l->leader) {
		/* Waits in the server, not here: the answer comes when the
		 * lock is ours (its holder's session ended). */
		snprintf(key, sizeof(key), "%lld", l->lock_key);
		if (!PQsendQueryParams(l->conn,
			"SELECT pg_advisory_lock($1::bigint)", 1, NULL, p, NULL,
			NULL, 0)) {
			*err = xasprintf(
			    "asking for the lock: %s", PQerrorMessage(l->conn));
			pgl_close(l);
			return -1;
		}
		l->waiting = 1;
	}
	l->io =
	    loop_io_add(l->loop, PQsocket(l->conn), LOOP_READ, pgl_readable, l);
	if (l->io == NULL) {
		*err = xstrdup("cannot watch the database socket");
		pgl_close(l);
		return -1;
	}
	l->backoff_ms = 100;
	return 0;
}

/* The lock's answer arrived (or part of it): 1 held, 0 not yet, -1 bad. */
static int
pgl_lock_answer(struct pglisten *l)
{
	PGresult *r;
	int ok = 1;
	char *err = NULL;

	if (PQisBusy(l->conn))
		return 0;
	while ((r = PQgetResult(l->conn)) != NULL) {
		if (PQresultStatus(r) != PGRES_TUPLES_OK)
			ok = 0;
		PQclear(r);
	}
	if (!ok)
		return -1;
	l->waiting = 0;
	if (pgl_listen_all(l, &err) < 0) {
		log_warnx("LISTEN: %s", err);
		free(err);
		return -1;
	}
	log_info("holding the lock for %s: listening", l->channels[0]);
	if (l->connect)
		l->connect(l->arg);
	return 1;
}

static void
pgl_schedule_retry(struct pglisten *l)
{
	loop_timer_after(l->retry, l->backoff_ms);
	l->backoff_ms = l->backoff_ms * 2 > 5000 ? 5000 : l->backoff_ms * 2;
}

static void
pgl_broken(struct pglisten *l)
{
	log_warnx("lost the database connection for notifications: %s",
	    l->conn ? PQerrorMessage(l->conn) : "?");
	pgl_close(l);
	pgl_schedule_retry(l);
}

static void
pgl_readable(struct loop_io *io, int fd, unsigned ev, void *arg)
{
	struct pglisten *l = arg;
	PGnotify *n;

	if (PQconsumeInput(l->conn) == 0 ||
	    PQstatus(l->conn) != CONNECTION_OK) {
		pgl_broken(l);
		return;
	}
	if (l->waiting && pgl_lock_answer(l) < 0) {
		pgl_broken(l);
		return;
	}
	while (l->conn && (n = PQnotifies(l->conn)) != NULL) {
		l->notify(l->arg, n->relname, n->extra);
		PQfreemem(n);
	}
}

static void
pgl_retry(struct loop_timer *t, void *arg)
{
	struct pglisten *l = arg;
	char *err = NULL;

	if (pgl_open(l, &err) < 0) {
		log_debug("reconnect failed: %s", err);
		free(err);
		pgl_schedule_retry(l);
		return;
	}
	log_info("database connection for notifications is back");
	if (l->connect && !l->leader)
		l->connect(l->arg);
}

static struct pglisten *
pgl_new(struct loop *loop, const char *url, const char *app,
    const char *const *channels, pglisten_notify_cb *notify,
    pglisten_connect_cb *connect, void *arg, int leader, long long key,
    char **err)
{
	struct pglisten *l = xcalloc(1, sizeof(*l));
	size_t n = 0;

	while (channels[n])
		n++;
	l->loop = loop;
	l->url = xstrdup(url);
	l->app = xstrdup(app);
	l->channels = xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		l->channels[i] = xstrdup(channels[i]);
	l->notify = notify;
	l->connect = connect;
	l->arg = arg;
	l->backoff_ms = 100;
	l->leader = leader;
	l->lock_key = key;
	l->retry = loop_timer_new(loop, pgl_retry, l);
	if (l->retry == NULL || pgl_open(l, err) < 0) {
		if (l->retry == NULL)
			*err = xstrdup("cannot make a timer");
		pglisten_free(l);
		return NULL;
	}
	return l;
}

struct pglisten *
pglisten_new(struct loop *loop, const char *url, const char *app,
    const char *const *channels, pglisten_notify_cb *notify,
    pglisten_connect_cb *connect, void *arg, char **err)
{
	return pgl_new(
	    loop, url, app, channels, notify, connect, arg, 0, 0, err);
}

struct pglisten *
pglisten_new_leader(struct loop *loop, const char *url, const char *app,
    long long lock_key, const char *const *channels, pglisten_notify_cb *notify,
    pglisten_connect_cb *connect, void *arg, char **err)
{
	return pgl_new(
	    loop, url, app, channels, notify, connect, arg, 1, lock_key, err);
}

int
pglisten_leading(const struct pglisten *l)
{
	return l->conn != NULL && !l->waiting;
}

void
pglisten_free(struct pglisten *l)
{
	if (l == NULL)
		return;
	pgl_close(l);
	loop_timer_del(l->retry);
	for (char **c = l->channels; c && *c; c++)
		free(*c);
	free(l->channels);
	free(l->url);
	free(l->app);
	free(l);
}

int
pglisten_connected(const struct pglisten *l)
{
	return l->conn != NULL;
}
