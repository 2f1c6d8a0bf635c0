/*
 * test_db: lib/store/db.c's statement cache against a real PostgreSQL.
 *
 * Statements are prepared once per connection and run by name after
 * that; the cache must stay right through errors (a statement the server
 * refuses, an aborted transaction, a failing pipeline), a statement twice
 * in one pipeline, a connection reset, and more distinct statements than
 * it keeps.  It needs LOOM_DATABASE_URL (tests/cli-db.bats runs it);
 * without it, it prints one "ok # skip" line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "store/db.h"
#include "t.h"

static PGconn *c;

/* The first value of sql with one parameter p, as a number; -1: error. */
static long
num(const char *sql, const char *p)
{
	char *err = NULL;
	PGresult *r = db_exec(c, &err, sql, p ? 1 : 0, &p);
	long v;

	if (r == NULL) {
		printf("# %s: %s\n", sql, err);
		free(err);
		return -1;
	}
	v = PQntuples(r) ? atol(PQgetvalue(r, 0, 0)) : -1;
	PQclear(r);
	return v;
}

static long
prepared(void)
{
	return num("SELECT count(*) FROM pg_prepared_statements", NULL);
}

static void
test_exec(void)
{
	char *err = NULL;
	PGresult *bad;
	long before;

	ok(num("SELECT $1::int + 1", "41") == 42, "a statement runs");
	before = prepared();
	ok(num("SELECT $1::int + 1", "1") == 2, "and runs again");
	ok(prepared() == before, "by name: nothing new was prepared");
	bad = db_exec(c, &err, "SELEC $1::int", 1, (const char *[]){ "1" });
	ok(bad == NULL && err && strstr(err, "syntax"),
	    "a refused statement: %s", err ? err : "no error");
	PQclear(bad);
	free(err);
	err = NULL;
	ok(num("SELECT $1::int * 2", "21") == 42,
	    "the next statement still runs");
	/* An aborted transaction refuses everything until it ends. */
	ok(db_cmd(c, NULL, "BEGIN", 0, NULL) == 0 &&
		db_cmd(c, NULL, "SELECT 1/0", 0, NULL) < 0,
	    "a transaction aborts");
	ok(db_exec(c, &err, "SELECT $1::int - 1", 1, (const char *[]){ "1" }) ==
		    NULL &&
		err,
	    "a new statement in it "
	    "fails");
	free(err);
	err = NULL;
	ok(db_cmd(c, NULL, "ROLLBACK", 0, NULL) == 0 &&
		num("SELECT $1::int - 1", "43") == 42,
	    "and runs after the rollback");
}

static void
test_pipeline(void)
{
	const char *p1[1] = { "20" }, *p2[1] = { "22" };
	struct db_stmt st[3] = {
		{ "SELECT $1::int + 100", 1, p1 },
		{ "SELECT $1::int + 100", 1, p2 },
		{ "SELECT 7", 0, NULL },
	};
	struct db_stmt bad[3] = {
		{ "SELECT $1::int + 200", 1, p1 },
		{ "SELEC nonsense", 0, NULL },
		{ "SELECT $1::int + 300", 1, p2 },
	};
	PGresult *r[3];
	char *err = NULL;
	int rc;

	ok(db_pipeline(c, &err, st, 3, r) == 0,
	    "a pipeline with the same "
	    "new statement twice runs");
	ok(r[0] && r[1] && r[2] && strcmp(PQgetvalue(r[0], 0, 0), "120") == 0 &&
		strcmp(PQgetvalue(r[1], 0, 0), "122") == 0 &&
		strcmp(PQgetvalue(r[2], 0, 0), "7") == 0,
	    "with each its own "
	    "parameters");
	for (int i = 0; i < 3; i++)
		PQclear(r[i]);
	ok(db_pipeline(c, &err, st, 3, r) == 0 && r[1] &&
		strcmp(PQgetvalue(r[1], 0, 0), "122") == 0,
	    "and again, by name");
	for (int i = 0; i < 3; i++)
		PQclear(r[i]);
	rc = db_pipeline(c, &err, bad, 3, r);
	ok(rc < 0 && err && strstr(err, "statement 2 of 3"),
	    "a refused statement names itself: %s", err ? err : "no error");
	ok(r[0] == NULL && r[1] == NULL && r[2] == NULL,
	    "and no result is "
	    "kept");
	free(err);
	err = NULL;
	ok(db_pipeline(c, &err, bad, 1, r) == 0 && r[0] &&
		strcmp(PQgetvalue(r[0], 0, 0), "220") == 0,
	    "the statements before it work afterwards");
	PQclear(r[0]);
	ok(db_pipeline(c, &err, bad + 2, 1, r) == 0 && r[0] &&
		strcmp(PQgetvalue(r[0], 0, 0), "322") == 0,
	    "and so do those after it");
	PQclear(r[0]);
}

static void
test_reset_and_bound(void)
{
	char sql[64], v[16];
	int bad = 0;
	long n;

	PQreset(c);
	ok(PQstatus(c) == CONNECTION_OK && prepared() >= 0 &&
		num("SELECT $1::int + 1", "41") == 42,
	    "after a reset, statements "
	    "are prepared again");
	for (int i = 0; i < 400; i++) {
		snprintf(sql, sizeof(sql), "SELECT $1::int + %d", 1000 + i);
		snprintf(v, sizeof(v), "%d", i);
		if (num(sql, v) != 1000 + 2 * i)
			bad++;
	}
	ok(bad == 0, "400 distinct statements run (%d wrong)", bad);
	n = prepared();
	ok(n > 0 && n <= 200, "the cache keeps a bounded number (%ld)", n);
}

int
main(void)
{
	const char *url = getenv("LOOM_DATABASE_URL");
	char *err = NULL;

	if (url == NULL || *url == '\0') {
		printf("ok 1 # skip LOOM_DATABASE_URL is not set\n1..1\n");
		return 0;
	}
	if ((c = db_connect(url, "test_db", &err)) == NULL) {
		printf("Bail out! %s\n", err);
		return 1;
	}
	test_exec();
	test_pipeline();
	test_reset_and_bound();
	PQfinish(c);
	return t_done();
}
