/*
 * enginedb_sweep: the queries of loom-engine's sweep, over all runs: which
 * need a pass now, and when the next one will.  They read; the passes
 * write.
 */
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "db.h"
#include "enginedb.h"
#include "enginedb_int.h"
#include "runstart.h"

long
enginedb_due_runs(struct enginedb *e, char ***ids, char **err)
{
	PGresult *r;
	long n;

	r = db_exec(e->conn, err,
	    "SELECT id FROM executions WHERE (status = 'PENDING' AND "
	    "(cancel_requested OR NOT queued)) "
	    "OR (status = 'RUNNING' AND (cancel_requested "
	    "OR deadline_at <= now())) "
	    "UNION SELECT DISTINCT execution_id FROM run_tasks WHERE NOT "
	    "settled "
	    "UNION SELECT DISTINCT execution_id FROM run_tasks "
	    "WHERE state = 'RETRY' AND not_before <= now() "
	    "UNION SELECT DISTINCT execution_id FROM run_requests "
	    "WHERE done_at IS NULL "
	    "UNION SELECT id FROM executions WHERE status = 'RUNNING' "
	    "AND pass_incomplete",
	    0, NULL);
	if (r == NULL)
		return -1;
	n = PQntuples(r);
	*ids = xcalloc((size_t)n + 1, sizeof(char *));
	for (long i = 0; i < n; i++)
		(*ids)[i] = xstrdup(PQgetvalue(r, (int)i, 0));
	PQclear(r);
	return n;
}

int64_t
enginedb_next_wakeup(struct enginedb *e, int *active, char **err)
{
	PGresult *r;
	int64_t t;

	r = db_exec(e->conn, err,
	    "SELECT (extract(epoch FROM least("
	    "(SELECT min(not_before) FROM run_tasks WHERE state = 'RETRY'), "
	    "(SELECT min(deadline_at) FROM executions "
	    "WHERE status = 'RUNNING'))) * 1000)::bigint, "
	    "EXISTS (SELECT 1 FROM executions "
	    "WHERE status IN ('PENDING', 'RUNNING'))",
	    0, NULL);
	if (r == NULL)
		return -1;
	t = edb_ms_value(r, 0, 0);
	if (active != NULL)
		*active = strcmp(PQgetvalue(r, 0, 1), "t") == 0;
	PQclear(r);
	return t;
}

long
enginedb_admit_queued(struct enginedb *e, char **err)
{
	PGresult *r;
	long n = 0, k;

	r = db_exec(e->conn, err,
	    "SELECT DISTINCT workflow_id FROM executions WHERE "
	    "status = 'PENDING' AND queued",
	    0, NULL);
	if (r == NULL)
		return -1;
	for (int i = 0; i < PQntuples(r); i++) {
		if ((k = runstart_admit(e->conn, PQgetvalue(r, i, 0), err)) <
		    0) {
			PQclear(r);
			return -1;
		}
		n += k;
	}
	PQclear(r);
	return n;
}
