/*
 * test_enginedb_many: one engine pass over several runs in one
 * transaction (lib/store/enginedb_many.c, enginedb_pass_many()) against
 * a real PostgreSQL: the runs' writes share one commit; a run another
 * session holds is skipped (BUSY) and picked up by the next pass; and a
 * batch whose session dies at its commit leaves nothing of any run
 * applied, and the next pass, on a new connection, derives it all again.
 *
 * It needs LOOM_DATABASE_URL naming a migrated database where no engine
 * or executor runs, and LOOM_TEST_WORKFLOW, the id of a stored diamond
 * workflow (a; b, c, d after a; e after b, c, d); tests/enginedb-many.bats
 * makes both.  Without them it prints one "ok # skip" line.  Results are
 * written in SQL, as loom-exec's report writes them.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "store/db.h"
#include "store/enginedb.h"
#include "t.h"
#include "tdb.h"

#define NRUNS 3

static PGconn *c;  /* the test's own session */
static PGconn *ec; /* the engine's */
static PGconn *lk; /* another session, to hold a run locked */
static const char *url, *wf;
static char ids[NRUNS][64];

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The ids of the runs as an array literal (static). */
static const char *
ids_array(void)
{
	static char buf[256];

	snprintf(buf, sizeof(buf), "{%s,%s,%s}", ids[0], ids[1], ids[2]);
	return buf;
}

/* One batch over the runs; each item's rc into rc[].  Returns its rc. */
static int
pass(struct enginedb *e, int *rc)
{
	struct enginedb_item it[NRUNS];
	char *err = NULL;
	int r;

	for (int i = 0; i < NRUNS; i++)
		it[i].id = ids[i];
	r = enginedb_pass_many(e, it, NRUNS, now_ms(), &err);
	if (r < 0) {
		printf("# the batch: %s\n", err);
		free(err);
	}
	for (int i = 0; i < NRUNS; i++) {
		rc[i] = r < 0 ? -1 : it[i].rc;
		if (it[i].err)
			printf("# %s: %s\n", ids[i], it[i].err);
		free(it[i].err);
	}
	return r;
}

/* Task task of every run reports success, as loom-exec's report does. */
static void
succeed(const char *task)
{
	const char *p[2] = { ids_array(), task };
	char *err = NULL;

	if (db_cmd(c, &err,
		"UPDATE run_tasks SET state = 'SUCCESS', settled = false, "
		"attempt = 1, output = '{}', started_at = now(), "
		"finished_at = now() WHERE execution_id = ANY($1::text[]) "
		"AND task_id = $2",
		2, p) < 0) {
		printf("# succeed %s: %s\n", task, err);
		free(err);
	}
}

/* How many of the runs have task in state (NULL: have no row for it). */
static int
count_tasks(const char *task, const char *state)
{
	const char *p[3] = { ids_array(), task, state };
	char *err = NULL;
	PGresult *r = db_exec(c, &err,
	    "SELECT count(*) FILTER (WHERE $3::text IS NULL AND t.state IS "
	    "NULL OR t.state = $3 AND t.settled) FROM unnest($1::text[]) x "
	    "LEFT JOIN run_tasks t ON t.execution_id = x AND t.task_id = $2",
	    3, p);
	int n = -1;

	if (r == NULL) {
		printf("# count: %s\n", err);
		free(err);
		return -1;
	}
	n = atoi(PQgetvalue(r, 0, 0));
	PQclear(r);
	return n;
}

static int
count_runs(const char *status)
{
	const char *p[2] = { ids_array(), status };
	PGresult *r = db_exec(c, NULL,
	    "SELECT count(*) FROM executions WHERE id = ANY($1::text[]) "
	    "AND status = $2",
	    2, p);
	int n = r ? atoi(PQgetvalue(r, 0, 0)) : -1;

	PQclear(r);
	return n;
}

/* Every run is in one batch, committed once. */
static void
test_batch(struct enginedb *e)
{
	int rc[NRUNS];

	is_int(pass(e, rc), 0, "a pass over %d new runs", NRUNS);
	for (int i = 0; i < NRUNS; i++)
		is_int(rc[i], ENGINEDB_DID_WORK, "  run %d started", i);
	is_int(count_runs("RUNNING"), NRUNS, "  every run is RUNNING");
	is_int(count_tasks("a", "READY"), NRUNS, "  every task a is READY");
	is_str(tdb_q1(c,
		   "SELECT count(DISTINCT xmin::text) FROM executions "
		   "WHERE id = ANY($1::text[])",
		   ids_array()),
	    "1", "  the runs were written by one transaction");
	is_str(tdb_q1(c,
		   "SELECT count(*) FROM events WHERE execution_id = "
		   "ANY($1::text[]) AND kind = 'run' AND to_state = 'RUNNING'",
		   ids_array()),
	    "3", "  each run has its start event");
	is_int(pass(e, rc), 0, "a pass with nothing new");
	for (int i = 0; i < NRUNS; i++)
		is_int(rc[i], ENGINEDB_IDLE, "  run %d: nothing to do", i);
}

/* A run another session holds is skipped, and taken by the next pass. */
static void
test_locked(struct enginedb *e)
{
	int rc[NRUNS];

	succeed("a");
	tdb_q1(lk, "BEGIN", NULL);
	tdb_q1(lk, "SELECT 1 FROM executions WHERE id = $1 FOR UPDATE", ids[1]);
	is_int(pass(e, rc), 0, "a pass while run 1 is held elsewhere");
	is_int(rc[0], ENGINEDB_DID_WORK, "  run 0 went on");
	is_int(rc[1], ENGINEDB_BUSY, "  run 1 was skipped as busy");
	is_int(rc[2], ENGINEDB_DID_WORK, "  run 2 went on");
	is_int(count_tasks("b", "READY"), 2, "  b is READY in runs 0 and 2");
	is_int(count_tasks("b", NULL), 1, "  run 1 has no b yet");
	tdb_q1(lk, "COMMIT", NULL);
	is_int(pass(e, rc), 0, "once released, a pass again");
	is_int(rc[0], ENGINEDB_IDLE, "  run 0: nothing to do");
	is_int(rc[1], ENGINEDB_DID_WORK, "  run 1 picked up");
	is_int(rc[2], ENGINEDB_IDLE, "  run 2: nothing to do");
	is_int(count_tasks("d", "READY"), NRUNS, "  d is READY in every run");
}

/*
 * The engine's session dies at the batch's COMMIT (a deferred trigger
 * ends it, as a crash of the engine or of its server session would):
 * nothing of any run is applied, and a pass on a new connection takes
 * every run on from its durable results.
 */
static void
test_crash(struct enginedb *e)
{
	const char *gen0;
	char gen[32], *err = NULL;
	int rc[NRUNS];

	succeed("b");
	succeed("c");
	succeed("d");
	snprintf(gen, sizeof(gen), "%s",
	    tdb_q1(c,
		"SELECT sum(engine_gen) FROM executions WHERE id = "
		"ANY($1::text[])",
		ids_array()));
	tdb_q1(c,
	    "CREATE FUNCTION t_many_die() RETURNS trigger LANGUAGE plpgsql "
	    "AS $$ BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); "
	    "RETURN NULL; END $$",
	    NULL);
	tdb_q1(c,
	    "CREATE CONSTRAINT TRIGGER t_many_die AFTER UPDATE ON executions "
	    "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN "
	    "(NEW.engine_gen > OLD.engine_gen) EXECUTE FUNCTION t_many_die()",
	    NULL);
	ok(pass(e, rc) < 0, "the session died at the batch's commit");
	ok(PQstatus(ec) != CONNECTION_OK, "  the engine's connection is gone");
	tdb_q1(c, "DROP TRIGGER t_many_die ON executions", NULL);
	tdb_q1(c, "DROP FUNCTION t_many_die()", NULL);
	gen0 = tdb_q1(c,
	    "SELECT sum(engine_gen) FROM executions WHERE id = "
	    "ANY($1::text[])",
	    ids_array());
	is_str(gen0, gen, "  no run row changed");
	is_int(count_tasks("e", NULL), NRUNS, "  no task e was written");
	is_str(tdb_q1(c,
		   "SELECT count(*) FROM run_tasks WHERE execution_id = "
		   "ANY($1::text[]) AND NOT settled",
		   ids_array()),
	    "9", "  every result is still unsettled");

	PQfinish(ec);
	if ((ec = db_connect(url, "test_enginedb_many", &err)) == NULL) {
		printf("Bail out! %s\n", err);
		free(err);
		exit(1);
	}
	enginedb_set_conn(e, ec);
	is_int(pass(e, rc), 0, "a pass on a new connection");
	for (int i = 0; i < NRUNS; i++)
		is_int(rc[i], ENGINEDB_DID_WORK, "  run %d went on", i);
	is_int(count_tasks("e", "READY"), NRUNS, "  e is READY in every run");
	succeed("e");
	is_int(pass(e, rc), 0, "after e");
	is_int(count_runs("SUCCESS"), NRUNS, "  every run ended SUCCESS");
	is_str(tdb_q1(c,
		   "SELECT count(*) FROM events WHERE execution_id = "
		   "ANY($1::text[]) AND kind = 'run' AND to_state = 'SUCCESS'",
		   ids_array()),
	    "3", "  each run ended once");
	is_str(tdb_q1(c,
		   "SELECT count(*) FROM events WHERE execution_id = "
		   "ANY($1::text[]) AND task_id = 'e' AND to_state = 'READY'",
		   ids_array()),
	    "3", "  each e was made READY once");
}

int
main(void)
{
	struct enginedb *e;
	char *err = NULL;

	url = getenv("LOOM_DATABASE_URL");
	wf = getenv("LOOM_TEST_WORKFLOW");
	if (url == NULL || *url == '\0' || wf == NULL || *wf == '\0') {
		ok(1,
		    "# skip database tests: LOOM_DATABASE_URL and "
		    "LOOM_TEST_WORKFLOW are not set");
		return t_done();
	}
	if ((c = db_connect(url, "test_enginedb_many", &err)) == NULL ||
	    (ec = db_connect(url, "test_enginedb_many", &err)) == NULL ||
	    (lk = db_connect(url, "test_enginedb_many", &err)) == NULL) {
		printf("Bail out! %s\n", err);
		free(err);
		return 1;
	}
	for (int i = 0; i < NRUNS; i++) {
		const char *p[2] = { ids[i], wf };

		snprintf(ids[i], sizeof(ids[i]), "exec-many-%ld-%d",
		    (long)getpid(), i);
		if (db_cmd(c, &err,
			"INSERT INTO executions (id, workflow_id, "
			"workflow_version) VALUES ($1, $2, 1)",
			2, p) < 0) {
			printf("Bail out! %s\n", err);
			free(err);
			return 1;
		}
	}
	e = enginedb_new(ec);
	test_batch(e);
	test_locked(e);
	test_crash(e);
	enginedb_free(e);
	PQfinish(ec);
	PQfinish(lk);
	PQfinish(c);
	return t_done();
}
