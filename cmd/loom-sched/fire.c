/*
 * fire: a workflow's due fires, exactly once across schedulers.
 *
 * For each watched workflow whose next fire is due, in one transaction:
 * take its schedule_state row (made on first use, its cursor at
 * workflows.schedule_since) FOR UPDATE SKIP LOCKED -- a row another
 * scheduler holds is left to it, and looked at again a second later --
 * read the cursor (never before schedule_since: a schedule applied,
 * changed or unpaused fires from then on), plan with sched_plan(), start
 * each planned fire through runstart() (which claims the fire in
 * schedule_fires), record what the catch-up policy dropped, move the
 * cursor, commit.  A scheduler killed half way commits nothing; the next
 * one plans the same fires again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/schedule.h"
#include "core/workflow.h"
#include "core/xalloc.h"
#include "sched.h"
#include "store/db.h"
#include "store/runstart.h"
#include "util/log.h"

#define RETRY_LOCKED_MS 1000

static const char *
iso(int64_t t, char *buf, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

/* The cursor, locked: 1 with *cursor, 0 when another scheduler holds it
 * or the workflow is gone or paused, -1 with *err. */
static int
lock_cursor(struct sched *s, struct swf *w, int64_t *cursor, char **err)
{
	const char *p[1] = { w->id };
	PGresult *r;
	int rc;

	if (db_cmd(s->conn, err,
		"INSERT INTO schedule_state (workflow_id, cursor_at) SELECT "
		"id, "
		"schedule_since FROM workflows WHERE id = $1 "
		"ON CONFLICT DO NOTHING",
		1, p) < 0)
		return -1;
	r = db_exec(s->conn, err,
	    "SELECT extract(epoch FROM greatest(s.cursor_at, "
	    "w.schedule_since))::bigint, w.paused, w.current_version "
	    "FROM schedule_state s JOIN workflows w ON w.id = s.workflow_id "
	    "WHERE s.workflow_id = $1 AND w.deleted_at IS NULL "
	    "FOR UPDATE OF s SKIP LOCKED",
	    1, p);
	if (r == NULL)
		return -1;
	if (PQntuples(r) == 0) {
		rc = 0;
		w->retry = 1;
	} else if (PQgetvalue(r, 0, 1)[0] == 't' ||
	    atoi(PQgetvalue(r, 0, 2)) != w->version) {
		rc = 0; /* a doorbell for it is on its way */
		w->due_ms = -1;
	} else {
		*cursor = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		rc = 1;
	}
	PQclear(r);
	return rc;
}

/* What the policy dropped, as an event of the workflow. */
static int
record_missed(
    struct sched *s, struct swf *w, const struct sched_plan *pl, char **err)
{
	char n[24], from[32];
	const char *p[4] = { w->id, n, catchup_policy_name(w->wf->catchup),
		from };

	snprintf(n, sizeof(n), "%zu", pl->missed);
	iso(pl->cursor, from, sizeof(from));
	log_info("%zu missed fire%s not run (catchup %s)%s", pl->missed,
	    pl->missed == 1 ? "" : "s", p[2],
	    pl->dropped_old ? ", and older ones outside the catch-up window" :
			      "");
	s->missed += pl->missed;
	return db_cmd(s->conn, err,
	    "INSERT INTO events (kind, data) VALUES ('workflow', "
	    "jsonb_build_object('workflow', $1::text, 'action', 'missed', "
	    "'count', $2::int, 'catchup', $3::text, 'upTo', $4::text))",
	    4, p);
}

/* One planned fire. */
static int
start_fire(struct sched *s, struct swf *w, int64_t t, int late,
    const char *params, struct run_started *st, char **err)
{
	struct run_start rs = { w->id, w->version, params, "schedule", t, NULL,
		0, 1, 0 };
	char when[32];

	if (runstart(s->conn, &rs, st, err) < 0)
		return -1;
	iso(t, when, sizeof(when));
	switch (st->outcome) {
	case RUNSTART_STARTED:
	case RUNSTART_QUEUED:
		s->fires++;
		log_set_context("execution", st->id);
		log_info("fire %s%s: %s", when, late ? " (catch-up)" : "",
		    st->outcome == RUNSTART_QUEUED ? "queued" : "started");
		log_set_context("execution", NULL);
		break;
	case RUNSTART_SKIPPED:
		s->skipped++;
		log_info("fire %s skipped: %s", when, st->reason);
		break;
	default:
		log_debug(
		    "fire %s: %s", when, runstart_outcome_name(st->outcome));
		break;
	}
	return 0;
}

/* The plan's fires and the new cursor (the transaction is open). */
static int
fire_plan(struct sched *s, struct swf *w, const struct sched_plan *pl,
    char ***cancel, size_t *ncancel, char **err)
{
	struct run_started st;
	char *params = NULL, *why = NULL, cur[24];
	const char *p[2] = { w->id, cur };

	if (pl->nfires > 0 && wfs_params(w, jv_object(), &params, &why) < 0) {
		log_warnx(
		    "workflow %s: its fires cannot start: %s", w->id, why);
		free(why);
	}
	for (size_t i = 0; params && i < pl->nfires; i++) {
		if (start_fire(s, w, pl->fires[i], pl->late[i], params, &st,
			err) < 0) {
			free(params);
			return -1;
		}
		if (st.cancelled[0] == '?') {
			*cancel = xreallocarray(
			    *cancel, *ncancel + 1, sizeof(char *));
			(*cancel)[(*ncancel)++] = xstrdup(w->id);
		}
	}
	free(params);
	if ((pl->missed > 0 || pl->dropped_old) &&
	    record_missed(s, w, pl, err) < 0)
		return -1;
	snprintf(cur, sizeof(cur), "%lld", (long long)pl->cursor);
	return db_cmd(s->conn, err,
	    "UPDATE schedule_state SET cursor_at = to_timestamp($2::bigint), "
	    "updated_at = now() WHERE workflow_id = $1",
	    2, p);
}

/* cancelOther's victims, after the commit (see runstart.h). */
static void
cancel_others(struct sched *s, char **ids, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct run_start rs = { ids[i], 0, NULL, "schedule", -1, NULL,
			0, 1, 0 };
		struct run_started st;
		char *err = NULL;

		if (runstart_cancel_other(s->conn, &rs, &st, &err) < 0) {
			log_warnx("workflow %s: cancelOther: %s", ids[i], err);
			free(err);
		} else if (st.cancelled[0])
			log_info("workflow %s: cancelling %s (cancelOther)",
			    ids[i], st.cancelled);
		free(ids[i]);
	}
	free(ids);
}

/* One workflow: 0 (done, or left to another scheduler), -1 database. */
static int
fire_one(struct sched *s, struct swf *w, int64_t now_ms)
{
	struct sched_policy pol;
	struct sched_plan *pl = xcalloc(1, sizeof(*pl));
	char *err = NULL, **cancel = NULL;
	size_t ncancel = 0;
	int64_t cursor;
	int rc;

	w->retry = 0;
	if (db_cmd(s->conn, &err, "BEGIN", 0, NULL) < 0)
		goto fail;
	if ((rc = lock_cursor(s, w, &cursor, &err)) <= 0) {
		PQclear(PQexec(s->conn, "ROLLBACK"));
		free(pl);
		if (rc < 0)
			goto fail;
		return 0;
	}
	sched_policy_from(&pol, w->wf, s->o->grace_ms);
	if (sched_plan(w->cron, w->tz, &pol, cursor, now_ms, pl) < 0)
		log_warnx("schedule '%s' fires no more", w->wf->schedule);
	if (fire_plan(s, w, pl, &cancel, &ncancel, &err) < 0 ||
	    db_cmd(s->conn, &err, "COMMIT", 0, NULL) < 0) {
		PQclear(PQexec(s->conn, "ROLLBACK"));
		for (size_t i = 0; i < ncancel; i++)
			free(cancel[i]);
		free(cancel);
		goto fail;
	}
	w->due_ms = pl->next_due_ms;
	free(pl);
	cancel_others(s, cancel, ncancel);
	return 0;
fail:
	free(pl);
	sched_db_lost(s, err);
	free(err);
	return -1;
}

int
fire_due(struct sched *s, int64_t now_ms)
{
	int rc;

	for (size_t i = 0; i < s->nwfs; i++) {
		struct swf *w = s->wfs[i];

		if (w->cron == NULL || w->paused || w->due_ms < 0 ||
		    w->due_ms > now_ms)
			continue;
		log_set_context("workflow", w->id);
		rc = fire_one(s, w, now_ms);
		log_set_context("workflow", NULL);
		if (rc < 0)
			return -1;
	}
	return 0;
}
