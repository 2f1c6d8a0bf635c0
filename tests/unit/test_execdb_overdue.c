/*
 * test_execdb_overdue: reading the answer of task_fail_overdue
 * (execdb_fail_overdue_parse()), the attempts loom-exec failed because
 * no callback came, on hand-made results: an attempt a row, then the
 * count row.  The statement itself runs against a real database in
 * tests/log.bats and tests/transition-db.bats.
 */
#include <stdlib.h>
#include <string.h>

#include "store/execdb.h"
#include "t.h"

#define NCOLS 7

/* A result of the statement's shape; rows[i] holds NCOLS texts (NULL:
 * SQL NULL). */
static PGresult *
answer(const char *const (*rows)[NCOLS], int n, int ncols)
{
	PGresult *r = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	PGresAttDesc att[NCOLS];

	memset(att, 0, sizeof(att));
	for (int i = 0; i < ncols; i++)
		att[i].name = (char *)"c";
	if (r == NULL || !PQsetResultAttrs(r, ncols, att))
		return r;
	for (int i = 0; i < n; i++)
		for (int c = 0; c < ncols; c++)
			PQsetvalue(r, i, c, (char *)rows[i][c],
			    rows[i][c] ? (int)strlen(rows[i][c]) : -1);
	return r;
}

static const char *const count_row[NCOLS] = { NULL, NULL, NULL, NULL, NULL,
	NULL, "2" };

static void
test_attempts(void)
{
	const char *const rows[3][NCOLS] = {
		{ "exec-a", "silent", "1",
		    "{\"jitter\": 0, \"maxAttempts\": 2}", "TimeoutException",
		    "no callback within the task timeout", NULL },
		/* a request made before it carried "retry" */
		{ "exec-b", "quiet", "3", NULL, "TimeoutException", NULL,
		    NULL },
		{ NULL, NULL, NULL, NULL, NULL, NULL, "2" },
	};
	PGresult *r = answer(rows, 3, NCOLS);
	struct execdb_overdue *o = NULL;
	jv v;
	long n;

	n = execdb_fail_overdue_parse(r, &o);
	is_int(n, 2, "two attempts; the count row is none");
	ok(o != NULL, "an array");
	is_str(o[0].key.execution_id, "exec-a", "execution");
	is_str(o[0].key.task_id, "silent", "task");
	is_int(o[0].key.attempt, 1, "attempt");
	is_str(o[0].error_type, "TimeoutException", "error type");
	is_str(o[0].error_message, "no callback within the task timeout",
	    "error message");
	ok(jv_get_kind(o[0].retry) == JV_KIND_OBJECT, "retry read as JSON");
	v = jv_object_get(jv_copy(o[0].retry), jv_string("maxAttempts"));
	is_int(jv_number_value(v), 2, "retry's maxAttempts");
	jv_free(v);
	is_str(o[1].key.execution_id, "exec-b", "second execution");
	is_int(o[1].key.attempt, 3, "second attempt");
	ok(jv_get_kind(o[1].retry) == JV_KIND_NULL, "no retry: null");
	ok(o[1].error_message == NULL, "no message: NULL");
	execdb_overdue_free(o, n);
	PQclear(r);
}

static void
test_odd(void)
{
	const char *const bad[2][NCOLS] = {
		{ "exec-c", "t", "1", "{not json", "TimeoutException", "m",
		    NULL },
		{ NULL, NULL, NULL, NULL, NULL, NULL, "1" },
	};
	const char *const none[1][NCOLS] = {
		{ NULL, NULL, NULL, NULL, NULL, NULL, "0" },
	};
	struct execdb_overdue *o = NULL;
	PGresult *r;
	long n;

	/* nothing was overdue: the count row alone */
	r = answer(none, 1, NCOLS);
	n = execdb_fail_overdue_parse(r, &o);
	is_int(n, 0, "nothing overdue: no attempt");
	execdb_overdue_free(o, n);
	PQclear(r);

	/* a "retry" that does not parse is no policy, not a crash */
	r = answer(bad, 2, NCOLS);
	n = execdb_fail_overdue_parse(r, &o);
	is_int(n, 1, "one attempt");
	ok(n == 1 && jv_get_kind(o[0].retry) == JV_KIND_NULL,
	    "an unreadable retry is null");
	execdb_overdue_free(o, n);
	PQclear(r);

	/* an answer of another shape (the count alone, as before) */
	r = answer(&count_row, 1, 1);
	n = execdb_fail_overdue_parse(r, &o);
	is_int(n, 0, "another shape: no attempt");
	ok(o == NULL, "and no array");
	execdb_overdue_free(o, n);
	PQclear(r);

	execdb_overdue_free(NULL, 0); /* NULL-safe */
}

int
main(void)
{
	test_attempts();
	test_odd();
	return t_done();
}
