/*
 * leases: every row this executor runs is leased for exec.lease and
 * renewed every third of it, in one UPDATE for all; a row whose lease is
 * not ours any more (the run was cancelled, or another executor took it
 * over after the lease ran out) stops its job and its result is dropped.
 * After loom_cancel, the jobs of that run whose rows are gone stop too.
 */
#include <stdlib.h>
#include <string.h>

#include "core/hmap.h"
#include "core/xalloc.h"
#include "daemon.h"
#include "util/log.h"

static char *
key_string(const struct execdb_key *k)
{
	return xasprintf("%s\n%s\n%d", k->execution_id, k->task_id, k->attempt);
}

/*
 * Renews the leases of the rows we run or have results for; running jobs
 * whose row is not ours any more are stopped.
 */
void
xd_renew(struct xd *x)
{
	struct execdb_key *mine, *kept = NULL;
	struct hmap *m;
	char **ks;
	char *err = NULL;
	size_t n = 0, i;
	long nk;

	x->last_renew_ms = loop_mono_ms(x->loop);
	xd_settle(x);
	if (x->conn == NULL || x->nrunning + x->ndone == 0)
		return;
	mine = xcalloc(x->nrunning + x->ndone, sizeof(*mine));
	for (struct job *j = x->running; j; j = j->next)
		if (!j->dropped)
			mine[n++] = j->key;
	for (struct job *j = x->done_head; j; j = j->next)
		mine[n++] = j->key;
	nk = execdb_renew(x->edb, mine, n, &kept, &err);
	free(mine);
	if (nk < 0) {
		xd_db_failed(x, "renewing leases", err);
		return;
	}
	m = hmap_new((size_t)nk);
	ks = xcalloc((size_t)nk + 1, sizeof(char *));
	for (long k = 0; k < nk; k++) {
		ks[k] = key_string(&kept[k]);
		hmap_put(m, ks[k], (size_t)k);
	}
	for (struct job *j = x->running; j; j = j->next) {
		char *s;
		size_t v;

		if (j->dropped)
			continue;
		s = key_string(&j->key);
		if (hmap_get(m, s, &v) < 0)
			xd_job_drop(x, j,
			    "the task is not leased to this "
			    "executor any more (cancelled or taken over)");
		free(s);
	}
	for (i = 0; i < (size_t)nk; i++)
		free(ks[i]);
	free(ks);
	hmap_free(m);
	execdb_keys_free(kept, nk);
}

void
xd_on_renew(struct loop_timer *t, void *arg)
{
	struct xd *x = arg;

	xd_renew(x);
	xd_renew_arm(x);
}

/*
 * The renewal timer runs while this executor holds a lease: armed when a
 * job starts (xd_job_start()), not re-armed once the last result is
 * written, so that an idle executor sleeps.
 */
void
xd_renew_arm(struct xd *x)
{
	if (x->nrunning + x->ndone + x->nwait == 0 ||
	    loop_timer_armed(x->renew_t))
		return;
	(void)loop_timer_after(x->renew_t, x->o->lease_ms / 3);
	/* Nothing was held: the claim that started the job set its lease. */
	x->last_renew_ms = loop_mono_ms(x->loop);
}

int
xd_has_jobs_of(struct xd *x, const char *execution_id)
{
	for (struct job *j = x->running; j; j = j->next)
		if (!j->dropped &&
		    strcmp(j->key.execution_id, execution_id) == 0)
			return 1;
	return 0;
}

/* After loom_cancel: stop our jobs of those runs whose rows are gone. */
void
xd_check_cancels(struct xd *x)
{
	xd_settle(x);
	while (x->ncancels > 0 && x->conn != NULL) {
		char *id = x->cancels[x->ncancels - 1], *err = NULL;
		struct execdb_key *held = NULL;
		long n;

		if (xd_has_jobs_of(x, id)) {
			n = execdb_held(x->edb, id, &held, &err);
			if (n < 0) {
				if (xd_db_failed(x, "checking a cancel", err))
					return; /* keep it for later */
				n = 0;
			}
			for (struct job *j = x->running; j; j = j->next) {
				long k;

				if (j->dropped ||
				    strcmp(j->key.execution_id, id) != 0)
					continue;
				for (k = 0; k < n; k++)
					if (held[k].attempt == j->key.attempt &&
					    strcmp(held[k].task_id,
						j->key.task_id) == 0)
						break;
				if (k == n)
					xd_job_drop(
					    x, j, "the run was cancelled");
			}
			execdb_keys_free(held, n);
		}
		x->ncancels--;
		free(id);
	}
}
