/*
 * test_execdb_held: tasks held by circuit breakers (lib/store/execdb.c
 * execdb_hold(), execdb_unhold(), the claim that skips what is not due,
 * the timer query; lib/store/breakerdb.c breakerdb_retry_at()) against a real
 * PostgreSQL.
 *
 * It needs LOOM_DATABASE_URL naming a migrated database that no executor
 * uses (the claims here take every due READY row); tests/breaker.bats
 * makes one beside its cluster's main database and runs this.  Without
 * the variable it prints one "ok # skip" line.  Time never passes by
 * sleeping: retry times are set relative to the database's clock, and the
 * breaker rows are written in SQL.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jv.h>
#include <libpq-fe.h>

#include "core/breaker.h"
#include "store/breakerdb.h"
#include "store/db.h"
#include "store/execdb.h"
#include "t.h"
#include "tdb.h"

static PGconn *c;
static PGconn *lk; /* another session, to hold a row locked */
static char eid[64], wid[64], target[64];

/* The first value of sql (one optional parameter), or "" (static). */
static const char *
q1(const char *sql, const char *param)
{
	return tdb_q1(c, sql, param);
}

/* The database's clock plus ms, in ms since the epoch. */
static int64_t
db_in(int64_t ms)
{
	char p[32];

	snprintf(p, sizeof(p), "%lld", (long long)ms);
	return strtoll(q1("SELECT floor(extract(epoch FROM clock_timestamp()) "
			  "* 1000)::bigint + $1::bigint",
			   p),
	    NULL, 10);
}

/* The notifications on loom_task_ready so far, payloads joined by ','. */
static const char *
doorbells(void)
{
	static char buf[256];
	PGnotify *n;

	buf[0] = '\0';
	PQconsumeInput(c);
	while ((n = PQnotifies(c)) != NULL) {
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s[%s]",
		    *buf ? "," : "", n->extra);
		PQfreemem(n);
	}
	return buf;
}

static void
setup_rows(void)
{
	q1("INSERT INTO workflows (id, name, current_version) "
	   "VALUES ($1, 'held', 1)",
	    wid);
	q1("INSERT INTO workflow_versions (workflow_id, version, definition, "
	   "spec, checksum) VALUES ($1, 1, '', '{}', 'x')",
	    wid);
	q1("INSERT INTO executions (id, workflow_id, workflow_version) "
	   "SELECT $1, replace($1, 'exec-', 'wf-'), 1",
	    eid);
	q1("INSERT INTO run_tasks (execution_id, task_id, state, attempt, "
	   "request) SELECT $1, t, 'READY', 1, "
	   "'{\"task\":{\"type\":\"http\",\"url\":\"http://h:1/\"}}' "
	   "FROM unnest(ARRAY['t1', 't2', 't3']) AS t",
	    eid);
}

/*
 * The claim's READY part (the shape of transition.c's claim_sql): a range
 * and an order on the partial index, no sort.  Sequential scans are off
 * because the table is tiny here; the question is whether the index can
 * serve the query at all.
 */
static void
test_index(void)
{
	char all[4096] = "", *err = NULL;
	PGresult *r;

	q1("SET enable_seqscan = off", NULL);
	r = db_exec(c, &err,
	    "EXPLAIN SELECT execution_id, task_id "
	    "FROM run_tasks WHERE state = 'READY' AND ready_at <= now() "
	    "ORDER BY ready_at LIMIT 10 FOR UPDATE SKIP LOCKED",
	    0, NULL);
	for (int i = 0; r && i < PQntuples(r); i++)
		snprintf(all + strlen(all), sizeof(all) - strlen(all), "%s\n",
		    PQgetvalue(r, i, 0));
	ok(strstr(all, "run_tasks_ready") != NULL &&
		strstr(all, "Index Cond: (ready_at <= now())") != NULL &&
		strstr(all, "Sort") == NULL,
	    "the claim of READY rows is a range scan of run_tasks_ready, "
	    "in its order");
	if (strstr(all, "run_tasks_ready") == NULL)
		printf("# %s%s\n", all, err ? err : "");
	free(err);
	PQclear(r);
	q1("RESET enable_seqscan", NULL);
}

/* Locks one READY row of the run in another transaction, until unlock. */
static void
lock_one(void)
{
	static const char lock_sql[] =
	    "SELECT 1 FROM run_tasks WHERE execution_id = $1 "
	    "AND state = 'READY' ORDER BY task_id LIMIT 1 FOR UPDATE";
	const char *p[1] = { eid };
	char *err = NULL;
	PGresult *r;

	if (db_cmd(lk, &err, "BEGIN", 0, NULL) < 0 ||
	    (r = db_exec(lk, &err, lock_sql, 1, p)) == NULL) {
		printf("# lock: %s\n", err);
		free(err);
		return;
	}
	PQclear(r);
}

static void
unlock_one(void)
{
	char *err = NULL;

	if (db_cmd(lk, &err, "COMMIT", 0, NULL) < 0) {
		printf("# unlock: %s\n", err);
		free(err);
	}
}

/*
 * A claim through the statement loom-exec sends: *next gets what its
 * last row says (execdb_claim_next_ready()).  Returns the rows claimed.
 */
static long
claim_next(struct execdb *e, int limit, int64_t *next)
{
	struct execdb_claim *cl = NULL;
	struct db_stmt st;
	struct execdb_q *q = execdb_claim_stmt(e, limit, &st);
	char *err = NULL;
	PGresult *r = db_exec(c, &err, st.sql, st.nparams, st.params);
	long n = -1;

	execdb_q_free(q);
	*next = -2;
	if (r == NULL) {
		printf("# claim: %s\n", err);
		free(err);
		return -1;
	}
	n = execdb_claim_parse(r, &cl);
	*next = execdb_claim_next_ready(r);
	execdb_claims_free(cl, n);
	PQclear(r);
	return n;
}

static void
test_hold(struct execdb *e)
{
	struct execdb_claim *cl = NULL;
	struct execdb_hold h[3];
	struct execdb_key bad;
	int64_t cb, lease, ready, at, next = -2;
	struct execdb_deadlines dl;
	char **targets = NULL, *err = NULL;
	long n;
	int rc;

	n = execdb_claim(e, 10, &cl, &err);
	is_int(n, 3, "three READY rows claimed");
	if (n != 3) {
		printf("# %s\n", err ? err : "");
		free(err);
		execdb_claims_free(cl, n);
		return;
	}
	(void)doorbells();
	at = db_in(60000);
	for (int i = 0; i < 2; i++) {
		h[i].key = &cl[i].key;
		h[i].target = target;
		h[i].retry_at_ms = at;
	}
	is_int(execdb_hold(e, h, 2, &err), 2, "two of them held");
	is_str(doorbells(), "[held]", "holding rang loom_task_ready 'held'");
	is_str(
	    q1("SELECT string_agg(concat_ws(' ', state, attempt, "
	       "coalesce(lease_owner, '-'), coalesce(started_at::text, '-'), "
	       "coalesce(callback_token, '-'), held_target), ',' ORDER BY "
	       "task_id) FROM run_tasks WHERE execution_id = $1 AND "
	       "held_target IS NOT NULL",
		eid),
	    "READY 1 - - - http://held-test:80,READY 1 - - - "
	    "http://held-test:80",
	    "held: READY, same attempt, no lease, not started, no token");
	is_str(
	    q1("SELECT count(*) FROM run_tasks WHERE execution_id = $1 "
	       "AND held_target IS NOT NULL AND abs(extract(epoch FROM "
	       "ready_at) "
	       "* 1000 - (SELECT floor(extract(epoch FROM clock_timestamp()) * "
	       "1000) + 60000)) < 5000",
		eid),
	    "2", "  ready_at is the breaker's retry time");

	bad = cl[2].key;
	bad.attempt = 7;
	h[0].key = &bad;
	is_int(execdb_hold(e, h, 1, &err), 0,
	    "a row not ours (another attempt) is left alone");
	is_str(doorbells(), "", "  and nothing rang");

	execdb_claims_free(cl, n);
	cl = NULL;
	is_int(execdb_claim(e, 10, &cl, &err), 0,
	    "held rows are not claimed before they are due");
	execdb_claims_free(cl, 0);
	cl = NULL;
	ok(claim_next(e, 10, &next) == 0 && next > 55000 && next <= 60001,
	    "  the claim says when the first falls due (%lld)",
	    (long long)next);

	rc = execdb_next_deadlines(e, &dl, &err);
	cb = dl.callback_ms;
	lease = dl.lease_ms;
	ready = dl.ready_ms;
	ok(rc == 0 && ready > 55000 && ready <= 60001,
	    "the ready timer: the earliest held row, in about 60s (%lld)",
	    (long long)ready);
	ok(cb == -1 && lease == -1, "  no callback or foreign lease due");
	ok(!dl.unsettled, "  no result waits for a pass");
	is_str(q1("WITH u AS (UPDATE run_tasks SET settled = false "
		  "WHERE execution_id = $1 RETURNING 1) SELECT count(*) "
		  "FROM u",
		   eid),
	    "3", "the run's results wait for a pass");
	ok(execdb_next_deadlines(e, &dl, &err) == 0 && dl.unsettled,
	    "  the deadlines say so: work under way");
	is_str(q1("WITH u AS (UPDATE run_tasks SET settled = true "
		  "WHERE execution_id = $1 RETURNING 1) SELECT count(*) "
		  "FROM u",
		   eid),
	    "3", "  (settled again)");

	n = execdb_held_targets(e, &targets, &err);
	ok(n == 1 && strcmp(targets[0], target) == 0,
	    "held targets: the one target");
	for (long i = 0; i < n; i++)
		free(targets[i]);
	free(targets);

	at = db_in(30000);
	is_int(execdb_unhold(e, target, at, &err), 2,
	    "a later doorbell moves them to the new retry time");
	rc = execdb_next_deadlines(e, &dl, &err);
	cb = dl.callback_ms;
	lease = dl.lease_ms;
	ready = dl.ready_ms;
	ok(rc == 0 && ready > 25000 && ready <= 30001,
	    "  the timer follows (%lld)", (long long)ready);
	is_int(execdb_unhold(e, target, at, &err), 0,
	    "  the same time again changes nothing");
	is_int(execdb_unhold(e, "http://other:80", 0, &err), 0,
	    "another target's release leaves them");
	is_str(doorbells(), "", "  and rings nothing");

	is_int(execdb_unhold(e, target, 0, &err), 2,
	    "released when the breaker lets them through");
	is_str(doorbells(), "[]", "  loom_task_ready rang for every executor");
	is_str(q1("SELECT count(*) FROM run_tasks WHERE execution_id = $1 "
		  "AND state = 'READY' AND held_target IS NULL AND "
		  "ready_at <= now()",
		   eid),
	    "2", "  due now, no longer held");
	rc = execdb_next_deadlines(e, &dl, &err);
	cb = dl.callback_ms;
	lease = dl.lease_ms;
	ready = dl.ready_ms;
	ok(rc == 0 && ready == 0, "  the ready timer: due already (%lld)",
	    (long long)ready);
	/* One of them locked by another transaction: the claim skips it. */
	lock_one();
	ok(claim_next(e, 10, &next) == 1 && next == 0,
	    "  a claim skips the locked one and says it is due (%lld)",
	    (long long)next);
	unlock_one();
	n = execdb_claim(e, 10, &cl, &err);
	ok(n == 1 && cl[0].key.attempt == 1,
	    "  the next claim takes it once the lock is gone");
	execdb_claims_free(cl, n);
	ok(claim_next(e, 10, &next) == 0 && next == -1,
	    "  then nothing is READY (%lld)", (long long)next);
	is_int(execdb_unhold(e, NULL, 0, &err), 0,
	    "releasing every target with nothing held: none");
	free(err);
}

static void
test_retry_at(void)
{
	struct breaker_config cfg, off;
	int64_t at = -1, now;
	char *err = NULL;

	breaker_config_default(&cfg);
	off = cfg;
	off.enabled = 0;
	q1("DELETE FROM breakers WHERE target = $1", target);
	ok(breakerdb_retry_at(c, &cfg, target, &at, &err) == 0 && at == 0,
	    "retry_at: no row, go now");

	now = db_in(0);
	q1("INSERT INTO breakers (target, state, opened_at, cooldown_ms) "
	   "VALUES ($1, 'OPEN', clock_timestamp(), 60000)",
	    target);
	ok(breakerdb_retry_at(c, &cfg, target, &at, &err) == 0 &&
		at >= now + 60000 && at < now + 65000,
	    "retry_at: OPEN, the end of the cool-down");
	ok(breakerdb_retry_at(c, &off, target, &at, &err) == 0 && at == 0,
	    "retry_at: disabled, go now");

	q1("UPDATE breakers SET opened_at = opened_at - interval '61 s' "
	   "WHERE target = $1",
	    target);
	ok(breakerdb_retry_at(c, &cfg, target, &at, &err) == 0 && at == 0,
	    "retry_at: OPEN and cooled down, go now (to probe)");
	is_str(q1("SELECT state || ' ' || (probe_owner IS NULL) FROM breakers "
		  "WHERE target = $1",
		   target),
	    "OPEN true", "  asking changed nothing: no probe was taken");

	now = db_in(0);
	q1("UPDATE breakers SET state = 'HALF_OPEN', probe_owner = 'x', "
	   "probe_until = clock_timestamp() + interval '30 s' "
	   "WHERE target = $1",
	    target);
	ok(breakerdb_retry_at(c, &cfg, target, &at, &err) == 0 &&
		at >= now + 30000 && at < now + 35000,
	    "retry_at: HALF_OPEN with the probe out, its deadline");
	q1("UPDATE breakers SET probe_owner = NULL, probe_until = NULL "
	   "WHERE target = $1",
	    target);
	ok(breakerdb_retry_at(c, &cfg, target, &at, &err) == 0 && at == 0,
	    "retry_at: HALF_OPEN with the probe free, go now");
	q1("UPDATE breakers SET state = 'CLOSED', opened_at = NULL "
	   "WHERE target = $1",
	    target);
	ok(breakerdb_retry_at(c, &cfg, target, &at, &err) == 0 && at == 0,
	    "retry_at: CLOSED, go now");
	q1("DELETE FROM breakers WHERE target = $1", target);
	free(err);
}

int
main(void)
{
	const char *url = getenv("LOOM_DATABASE_URL");
	struct execdb *e;
	char *err = NULL, owner[64];

	if (url == NULL || *url == '\0') {
		ok(1, "# skip database tests: LOOM_DATABASE_URL is not set");
		return t_done();
	}
	if ((c = db_connect(url, "test_execdb_held", &err)) == NULL) {
		printf("Bail out! %s\n", err);
		free(err);
		return 1;
	}
	if ((lk = db_connect(url, "test_execdb_held", &err)) == NULL) {
		printf("Bail out! %s\n", err);
		free(err);
		return 1;
	}
	snprintf(eid, sizeof(eid), "exec-held-%ld", (long)getpid());
	snprintf(wid, sizeof(wid), "wf-held-%ld", (long)getpid());
	snprintf(owner, sizeof(owner), "held-test-%ld", (long)getpid());
	snprintf(target, sizeof(target), "http://held-test:80");
	q1("LISTEN loom_task_ready", NULL);
	setup_rows();
	e = execdb_new(c, owner, 30000);
	if (execdb_set_conn(e, c, &err) < 0) {
		printf("Bail out! %s\n", err);
		free(err);
		return 1;
	}
	test_index();
	test_hold(e);
	test_retry_at();
	q1("DELETE FROM executions WHERE id = $1", eid);
	q1("DELETE FROM workflows WHERE id = $1", wid);
	execdb_free(e);
	PQfinish(lk);
	PQfinish(c);
	return t_done();
}
