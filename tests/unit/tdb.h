/*
 * tdb.h: for the unit tests that run against a database (LOOM_TEST_DB,
 * skipped without one): the first value of a query.
 */
#ifndef LOOM_TDB_H
#define LOOM_TDB_H

#include <stdio.h>
#include <stdlib.h>

#include <libpq-fe.h>

#include "store/db.h"

/*
 * The first value of sql on c, with one parameter or none (param NULL),
 * or "" when it has no rows or failed (said as a TAP comment).  The
 * answer lives in a static buffer until the next call.
 */
static const char *
tdb_q1(PGconn *c, const char *sql, const char *param)
{
	static char buf[1024];
	char *err = NULL;
	PGresult *r = db_exec(c, &err, sql, param ? 1 : 0, &param);

	buf[0] = '\0';
	if (r == NULL) {
		printf("# %s: %s\n", sql, err);
		free(err);
		return buf;
	}
	if (PQntuples(r) > 0 && PQnfields(r) > 0)
		snprintf(buf, sizeof(buf), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	return buf;
}

#endif
