/*
 * breakers: the circuit breakers' side of the database mode
 * (lib/store/breakerdb.h; breaker.* keys, re-read on SIGHUP).  Every
 * result of an HTTP dispatch is told to its breaker, a cancelled one gives
 * its probe back; these notes (struct bknote, owned by the queue
 * x->notes_head until written) are written by the work callback.  A state
 * change of a breaker rings loom_breaker: the tasks held for it are
 * re-timed, released at once when it closed or its probe is free.
 * Breaker database errors fail open.
 */
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "daemon.h"
#include "util/log.h"

/* The owner name of a dispatch in the breakers table. */
char *
xd_dispatch_owner(const struct xd *x, const struct execdb_key *k)
{
	return xasprintf(
	    "%s/%s/%s/%d", x->o->name, k->execution_id, k->task_id, k->attempt);
}

void
xd_note_push(struct xd *x, const struct job *j, enum execbreaker_verdict v,
    enum errclass outcome)
{
	struct bknote *n = xcalloc(1, sizeof(*n));

	n->target = xstrdup(j->target);
	n->owner = xd_dispatch_owner(x, &j->key);
	n->verdict = v;
	n->outcome = outcome;
	if (x->notes_tail)
		x->notes_tail->next = n;
	else
		x->notes_head = n;
	x->notes_tail = n;
}

void
xd_note_free(struct bknote *n)
{
	if (n == NULL)
		return;
	free(n->target);
	free(n->owner);
	free(n);
}

struct bknote *
xd_note_pop(struct xd *x)
{
	struct bknote *n = x->notes_head;

	x->notes_head = n->next;
	if (x->notes_head == NULL)
		x->notes_tail = NULL;
	n->next = NULL;
	return n;
}

/* A breaker rang (or gave back its probe): its held tasks are re-timed. */
void
xd_btarget_add(struct xd *x, const char *target)
{
	for (size_t i = 0; i < x->nbtargets; i++)
		if (strcmp(x->btargets[i], target) == 0)
			return;
	if (x->nbtargets == x->capbtargets) {
		x->capbtargets = x->capbtargets ? x->capbtargets * 2 : 8;
		x->btargets =
		    xreallocarray(x->btargets, x->capbtargets, sizeof(char *));
	}
	x->btargets[x->nbtargets++] = xstrdup(target);
}

/* Another executor may have opened a breaker we remember as closed. */
void
xd_bcache_renew(struct xd *x)
{
	breaker_cache_free(x->bcache);
	x->bcache = breaker_cache_new();
}

/*
 * Writes the breaker notes in order.  A refused statement drops its note
 * (the breaker misses one result: fail open); a lost connection keeps
 * the rest for after the reconnect.
 */
void
xd_write_notes(struct xd *x)
{
	while (x->notes_head != NULL && x->conn != NULL) {
		struct bknote *n = x->notes_head;
		char *err = NULL;
		int rc;

		if (n->verdict == EXECBREAKER_RELEASE ||
		    !breakerdb_cached(
			&x->bcfg, x->bcache, n->target, 1, n->outcome)) {
			xd_settle(x);
			if (x->conn == NULL)
				return;
		}
		if (n->verdict == EXECBREAKER_RELEASE)
			rc = breakerdb_release(x->conn, &x->bcfg, x->bcache,
			    n->target, n->owner, &err);
		else
			rc = breakerdb_record(x->conn, &x->bcfg, x->bcache,
			    n->target, n->owner, n->outcome, 0, &err);
		if (rc < 0 && xd_db_failed(x, "circuit breaker", err))
			return;
		/* A probe given back: whoever waits for it may go now. */
		if (rc == 1 && n->verdict == EXECBREAKER_RELEASE)
			xd_btarget_add(x, n->target);
		xd_note_free(xd_note_pop(x));
	}
}

/*
 * Re-times the tasks held for the breakers that rang: when the breaker
 * lets dispatches through now they are released (execdb_unhold() rings
 * loom_task_ready), else they wait for its new retry time.
 */
void
xd_retime_held(struct xd *x)
{
	char **all = NULL, *err = NULL;
	long n;

	xd_settle(x);

	if (x->recheck_held && x->conn != NULL) {
		if ((n = execdb_held_targets(x->edb, &all, &err)) < 0) {
			if (xd_db_failed(x, "reading held tasks", err))
				return;
			n = 0;
		}
		for (long i = 0; i < n; i++) {
			xd_btarget_add(x, all[i]);
			free(all[i]);
		}
		free(all);
		x->recheck_held = 0;
	}
	while (x->nbtargets > 0 && x->conn != NULL) {
		char *t = x->btargets[x->nbtargets - 1];
		int64_t at = 0;
		long m;

		if (breakerdb_retry_at(x->conn, &x->bcfg, t, &at, &err) < 0) {
			if (xd_db_failed(x, "circuit breaker", err))
				return;
			err = NULL;
			at = 0; /* fail open */
		}
		if ((m = execdb_unhold(x->edb, t, at, &err)) < 0) {
			if (xd_db_failed(x, "re-timing held tasks", err))
				return;
			m = 0;
		}
		if (m > 0) {
			log_info("%ld task%s held for %s %s", m,
			    m == 1 ? "" : "s", t,
			    at > 0 ? "wait for its new retry time" :
				     "released: the circuit breaker lets them "
				     "through");
			x->want_deadlines = 1;
		}
		x->nbtargets--;
		free(t);
	}
}

/* SIGHUP: the breaker.* keys; a bad value keeps the old settings. */
void
xd_reload_breaker(struct xd *x, const struct config *cfg)
{
	struct breaker_config b;
	char *err = NULL;

	if (breaker_config_load(cfg, &b, &err) < 0) {
		log_warnx(
		    "SIGHUP: %s; keeping the circuit breaker settings", err);
		free(err);
		return;
	}
	/* Turned off: what it held goes now (breakerdb_retry_at() says 0). */
	if (x->bcfg.enabled && !b.enabled)
		x->recheck_held = 1;
	x->bcfg = b;
	xd_bcache_renew(x);
	log_info("SIGHUP: circuit breakers %s", b.enabled ? "on" : "off");
	xd_kick(x);
}
