/*
 * runstart: a run starts, under its workflow's concurrency limit (see
 * runstart.h).
 *
 * The limited way, in one transaction:
 *   1. lock the workflow's row (FOR NO KEY UPDATE): starts, admissions
 *      and pauses of one workflow take turns from here on;
 *   2. claim the nominal fire, if any (schedule_fires, ON CONFLICT DO
 *      NOTHING): a duplicate stops here;
 *   3. count the active and queued runs (a fresh snapshot: statement 1
 *      waited for whoever held the row);
 *   4. overlap_decide(), then make the run (queued or not) or record the
 *      skip; cancelOther also asks the oldest active run to cancel, so
 *      its end frees the slot the new run waits for.
 * Lock order: the workflow's row, then rows of executions; loom-engine's
 * passes take a run's row and then the workflow's (run_admit, after a
 * run ends), and so never wait for a row this holds in the other order
 * but one: the oldest run cancelOther marks.  That one is marked in a
 * statement of its own after the commit, so no two transactions wait on
 * each other.
 */
#include "runstart.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/schedule.h"
#include "core/xalloc.h"
#include "db.h"
#include "transition.h"
#include "util/idgen.h"

static const char *const outcome_names[] = { "started", "queued", "skipped",
	"duplicate", "no_workflow", "paused", "stale" };

const char *
runstart_outcome_name(enum runstart_outcome o)
{
	return (unsigned)o < sizeof(outcome_names) / sizeof(outcome_names[0]) ?
	    outcome_names[o] :
	    "unknown";
}

static enum concurrency_policy
policy_parse(const char *s)
{
	for (int p = 0; p < CONC__COUNT; p++)
		if (strcmp(s, concurrency_policy_name(p)) == 0)
			return (enum concurrency_policy)p;
	return CONC_QUEUE;
}

/* A schedule's or a backfill's start claims its fire; a retry of such
 * a run keeps the nominal time and claims nothing. */
static int
claims_fire(const struct run_start *rs)
{
	return rs->nominal >= 0 && rs->trigger &&
	    (strcmp(rs->trigger, "schedule") == 0 ||
		strcmp(rs->trigger, "backfill") == 0);
}

/* The parameters of run_create (9) / run_create_limited (8). */
struct params {
	char version[16], nominal[24];
	const char *p[9];
};

static void
params_fill(struct params *pp, const struct run_start *rs, const char *id,
    const char *flag)
{
	snprintf(pp->version, sizeof(pp->version), "%d", rs->version);
	snprintf(
	    pp->nominal, sizeof(pp->nominal), "%lld", (long long)rs->nominal);
	pp->p[0] = id;
	pp->p[1] = rs->workflow;
	pp->p[2] = pp->version;
	pp->p[3] = rs->params ? rs->params : "{}";
	pp->p[4] = rs->trigger ? rs->trigger : "manual";
	pp->p[5] = rs->nominal >= 0 ? pp->nominal : NULL;
	pp->p[6] = flag;
	pp->p[7] = rs->retry_of;
	pp->p[8] = rs->current ? pp->version : NULL;
}

/*
 * The one-statement way.  Returns 1 when it decided (out filled), 0 when
 * the workflow has a limit (take the locked way), -1 with *err.
 */
static int
start_unlimited(
    PGconn *db, const struct run_start *rs, struct run_started *out, char **err)
{
	struct params pp;
	PGresult *r;
	int rc = 1;

	params_fill(&pp, rs, out->id, rs->force ? "true" : "false");
	r = db_exec(db, err, transition_sql(TR_RUN_CREATE), 9, pp.p);
	if (r == NULL)
		return -1;
	if (!PQgetisnull(r, 0, 0))
		out->outcome = RUNSTART_STARTED;
	else if (PQgetisnull(r, 0, 2))
		out->outcome = RUNSTART_NO_WORKFLOW;
	else if (PQgetvalue(r, 0, 2)[0] == 't' && !rs->force)
		out->outcome = RUNSTART_PAUSED;
	else if (rs->current &&
	    (out->version = atoi(PQgetvalue(r, 0, 4))) != rs->version)
		out->outcome = RUNSTART_STALE;
	else if (PQgetvalue(r, 0, 3)[0] == 't')
		rc = 0;
	else
		out->outcome = RUNSTART_DUPLICATE;
	PQclear(r);
	return rc;
}

/* A skipped start is an event of the workflow, with its reason. */
static int
record_skip(
    PGconn *db, const struct run_start *rs, const char *reason, char **err)
{
	struct params pp;
	const char *p[4];

	params_fill(&pp, rs, NULL, NULL);
	p[0] = rs->workflow;
	p[1] = reason;
	p[2] = pp.p[4];
	p[3] = pp.p[5];
	if (claims_fire(rs) &&
	    db_cmd(db, err,
		"UPDATE schedule_fires SET outcome = 'skipped', "
		"execution_id = NULL, reason = $2 WHERE workflow_id = $1 AND "
		"nominal_at = to_timestamp($3::bigint)",
		3, (const char *[]){ rs->workflow, reason, pp.nominal }) < 0)
		return -1;
	return db_cmd(db, err,
	    "WITH e AS (INSERT INTO events (kind, data) VALUES ('workflow', "
	    "jsonb_strip_nulls(jsonb_build_object('workflow', $1::text, "
	    "'action', 'skipped', 'reason', $2::text, 'trigger', $3::text, "
	    "'scheduledTime', to_char(to_timestamp($4::bigint) AT TIME ZONE "
	    "'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')))) RETURNING 1) "
	    "SELECT pg_notify('loom_event', 'workflow:' || $1) FROM e",
	    4, p);
}

/* Steps 1-3 of the locked way; 1 to go on, 0 decided (out), -1 error. */
static int
lock_and_count(PGconn *db, const struct run_start *rs, struct run_started *out,
    int *max, enum concurrency_policy *pol, long *active, long *queued,
    char **err)
{
	const char *p[3] = { rs->workflow, rs->trigger, NULL };
	char nominal[24];
	PGresult *r;

	r = db_exec(db, err,
	    "SELECT paused, concurrency_max, concurrency_policy, "
	    "current_version FROM workflows WHERE id = $1 AND deleted_at IS "
	    "NULL FOR NO KEY UPDATE",
	    1, p);
	if (r == NULL)
		return -1;
	if (PQntuples(r) == 0 ||
	    (PQgetvalue(r, 0, 0)[0] == 't' && !rs->force)) {
		out->outcome =
		    PQntuples(r) ? RUNSTART_PAUSED : RUNSTART_NO_WORKFLOW;
		PQclear(r);
		return 0;
	}
	if (rs->current &&
	    (out->version = atoi(PQgetvalue(r, 0, 3))) != rs->version) {
		out->outcome = RUNSTART_STALE;
		PQclear(r);
		return 0;
	}
	*max = atoi(PQgetvalue(r, 0, 1));
	*pol = policy_parse(PQgetvalue(r, 0, 2));
	PQclear(r);
	if (claims_fire(rs)) {
		snprintf(
		    nominal, sizeof(nominal), "%lld", (long long)rs->nominal);
		p[2] = nominal;
		r = db_exec(db, err,
		    "INSERT INTO schedule_fires (workflow_id, nominal_at, "
		    "kind, outcome) VALUES ($1, to_timestamp($3::bigint), $2, "
		    "'started') ON CONFLICT DO NOTHING RETURNING 1",
		    3, p);
		if (r == NULL)
			return -1;
		if (PQntuples(r) == 0) {
			PQclear(r);
			out->outcome = RUNSTART_DUPLICATE;
			return 0;
		}
		PQclear(r);
	}
	r = db_exec(db, err,
	    "SELECT count(*) FILTER (WHERE NOT queued), count(*) FILTER "
	    "(WHERE queued) FROM executions WHERE workflow_id = $1 AND "
	    "status IN ('PENDING', 'RUNNING')",
	    1, p);
	if (r == NULL)
		return -1;
	*active = atol(PQgetvalue(r, 0, 0));
	*queued = atol(PQgetvalue(r, 0, 1));
	PQclear(r);
	return 1;
}

/* The locked way's step 4 (the transaction is open). */
static int
decide_and_make(
    PGconn *db, const struct run_start *rs, struct run_started *out, char **err)
{
	enum concurrency_policy pol = CONC_QUEUE;
	enum overlap_action a;
	struct params pp;
	long active = 0, queued = 0;
	int max = 0, rc;
	PGresult *r;

	rc = lock_and_count(db, rs, out, &max, &pol, &active, &queued, err);
	if (rc <= 0)
		return rc;
	a = overlap_decide(max, pol, active, queued, &out->reason);
	if (a == OVERLAP_SKIP) {
		out->outcome = RUNSTART_SKIPPED;
		return record_skip(db, rs, out->reason, err);
	}
	params_fill(&pp, rs, out->id, a == OVERLAP_START ? "false" : "true");
	r = db_exec(db, err, transition_sql(TR_RUN_CREATE_LIMITED), 8, pp.p);
	if (r == NULL)
		return -1;
	PQclear(r);
	out->outcome = a == OVERLAP_START ? RUNSTART_STARTED : RUNSTART_QUEUED;
	if (claims_fire(rs) &&
	    db_cmd(db, err,
		"UPDATE schedule_fires SET execution_id = $3, outcome = $4 "
		"WHERE workflow_id = $1 AND nominal_at = "
		"to_timestamp($2::bigint)",
		4,
		(const char *[]){ rs->workflow, pp.nominal, out->id,
		    a == OVERLAP_START ? "started" : "queued" }) < 0)
		return -1;
	if (a == OVERLAP_CANCEL_OLDEST)
		out->cancelled[0] = '?'; /* chosen after the commit */
	return 0;
}

/* cancelOther: the oldest active run not yet asked to cancel. */
int
runstart_cancel_other(
    PGconn *db, const struct run_start *rs, struct run_started *out, char **err)
{
	const char *p[1] = { rs->workflow };
	PGresult *r;

	out->cancelled[0] = '\0';
	r = db_exec(db, err,
	    "SELECT id FROM executions WHERE workflow_id = $1 AND status IN "
	    "('PENDING', 'RUNNING') AND NOT queued AND NOT cancel_requested "
	    "ORDER BY created_at, id LIMIT 1",
	    1, p);
	if (r == NULL)
		return -1;
	if (PQntuples(r) > 0) {
		snprintf(out->cancelled, sizeof(out->cancelled), "%s",
		    PQgetvalue(r, 0, 0));
		PQclear(r);
		p[0] = out->cancelled;
		r = db_exec(db, err, transition_sql(TR_RUN_CANCEL), 1, p);
		if (r == NULL)
			return -1;
	}
	PQclear(r);
	return 0;
}

int
runstart(
    PGconn *db, const struct run_start *rs, struct run_started *out, char **err)
{
	int rc;

	memset(out, 0, sizeof(*out));
	if (idgen_execution_id(out->id) < 0) {
		*err = xasprintf("getrandom: %s", strerror(errno));
		return -1;
	}
	if ((rc = start_unlimited(db, rs, out, err)) != 0)
		return rc < 0 ? -1 : 0;
	if (!rs->in_tx && db_cmd(db, err, "BEGIN", 0, NULL) < 0)
		return -1;
	rc = decide_and_make(db, rs, out, err);
	if (rs->in_tx)
		return rc;
	if (rc < 0) {
		PQclear(PQexec(db, "ROLLBACK"));
		return -1;
	}
	if (db_cmd(db, err, "COMMIT", 0, NULL) < 0)
		return -1;
	if (out->cancelled[0] == '?')
		return runstart_cancel_other(db, rs, out, err);
	return 0;
}

long
runstart_admit(PGconn *db, const char *workflow, char **err)
{
	const char *p[1] = { workflow };
	PGresult *r;
	long n;

	if (db_cmd(db, err, "BEGIN", 0, NULL) < 0)
		return -1;
	if (db_cmd(db, err,
		"SELECT 1 FROM workflows WHERE id = $1 FOR NO KEY UPDATE", 1,
		p) < 0 ||
	    (r = db_exec(db, err, transition_sql(TR_RUN_ADMIT), 1, p)) ==
		NULL) {
		PQclear(PQexec(db, "ROLLBACK"));
		return -1;
	}
	n = PQntuples(r);
	PQclear(r);
	if (db_cmd(db, err, "COMMIT", 0, NULL) < 0)
		return -1;
	return n;
}
