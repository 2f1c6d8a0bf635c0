/*
 * conn: the work connection and the doorbells.  When the database goes
 * away, queued results are kept, running tasks go on, and the work
 * connection is re-made with backoff; then leases are renewed, results
 * flushed and claiming resumes (xd_catch_up()).  Doorbells arrive on the
 * pglisten connection: loom_task_ready, loom_cancel and loom_breaker.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "daemon.h"
#include "util/log.h"

void
xd_db_lost(struct xd *x, const char *why)
{
	if (x->conn == NULL)
		return;
	log_warnx("database: %s; reconnecting (%zu results kept, %zu tasks "
		  "running)",
	    why ? why : "connection broken", x->ndone, x->nrunning);
	xd_async_close(x);
	PQfinish(x->conn);
	x->conn = NULL;
	(void)execdb_set_conn(x->edb, NULL, NULL);
	if (x->adv)
		advance_set_conn(x->adv, NULL, NULL);
	(void)loop_timer_after(x->reconnect_t, x->backoff_ms);
}

/*
 * After a failed statement: a broken connection is re-made; a refused
 * statement is only logged (the work is retried by the next event).
 * Returns 1 when the connection is gone.  err is freed.
 */
int
xd_db_failed(struct xd *x, const char *what, char *err)
{
	int lost = x->conn == NULL || PQstatus(x->conn) != CONNECTION_OK;

	if (lost)
		xd_db_lost(x, err);
	else
		log_warnx("%s: %s", what, err ? err : "database error");
	free(err);
	return lost;
}

/* After (re)connecting: whatever doorbells were missed, re-read state. */
void
xd_catch_up(struct xd *x)
{
	xd_renew(x);
	xd_want_claim(x);
	x->bells++;
	x->want_deadlines = 1;
	x->recheck_held = 1;
	xd_kick(x);
}

void
xd_on_reconnect(struct loop_timer *t, void *arg)
{
	struct xd *x = arg;
	char *err = NULL;

	x->conn = db_connect(x->o->url, "loom-exec", &err);
	if (x->conn != NULL &&
	    (execdb_set_conn(x->edb, x->conn, &err) < 0 ||
		xd_async_open(x) < 0)) {
		if (err == NULL)
			err = xasprintf("event loop: %s", strerror(errno));
		PQfinish(x->conn);
		x->conn = NULL;
		(void)execdb_set_conn(x->edb, NULL, NULL);
	}
	if (x->conn == NULL) {
		log_debug("reconnect: %s", err);
		free(err);
		x->backoff_ms = x->backoff_ms * 2 > BACKOFF_MAX_MS ?
		    BACKOFF_MAX_MS :
		    x->backoff_ms * 2;
		(void)loop_timer_after(x->reconnect_t, x->backoff_ms);
		return;
	}
	if (x->adv)
		advance_set_conn(x->adv, x->conn, x->async);
	log_info("database connection is back");
	x->backoff_ms = BACKOFF_MIN_MS;
	xd_catch_up(x);
}

void
xd_on_notify(void *arg, const char *channel, const char *payload)
{
	struct xd *x = arg;

	if (strcmp(channel, "loom_cancel") == 0) {
		if (payload == NULL || *payload == '\0' ||
		    !xd_has_jobs_of(x, payload))
			return;
		for (size_t i = 0; i < x->ncancels; i++)
			if (strcmp(x->cancels[i], payload) == 0)
				return;
		if (x->ncancels == x->capcancels) {
			x->capcancels = x->capcancels ? x->capcancels * 2 : 8;
			x->cancels = xreallocarray(
			    x->cancels, x->capcancels, sizeof(char *));
		}
		x->cancels[x->ncancels++] = xstrdup(payload);
	} else if (strcmp(channel, BREAKERDB_CHANNEL) == 0) {
		xd_bcache_renew(x);
		if (payload != NULL && *payload != '\0')
			xd_btarget_add(x, payload);
		else
			x->recheck_held = 1;
	} else if (payload != NULL && strcmp(payload, "held") == 0)
		x->want_deadlines = 1; /* somebody held tasks: re-arm */
	else {
		xd_want_claim(x);
		x->bells++;
	}
	xd_kick(x);
}

void
xd_on_listen_connect(void *arg)
{
	xd_catch_up(arg);
}
