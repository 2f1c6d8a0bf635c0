/*
 * enginedb: see enginedb.h for the shape of a pass.
 *
 * Writes are batched: every changed task of a pass goes to PostgreSQL in
 * one upsert fed with arrays (unnest), every transition in one events
 * insert, so a pass costs a fixed handful of round trips however many
 * tasks a completion releases.
 *
 * Control requests (run_requests rows: retry --from-failed, task rerun,
 * dead-letter replay) are written by loom-api, which rings loom_run; the
 * pass reads the pending ones with its first round trip, under the run's
 * row lock, and turns each into an EV_RESET of the engine core (a finished
 * run is loaded in full for that).  Each request is marked done in the
 * same transaction, with the tasks it reset or the reason it was refused,
 * so loom-api can answer the user once the engine has decided.  loom-api
 * never writes run_tasks, so the cached run state stays valid: only the
 * passes move executions.engine_gen.
 *
 * This file holds the handle and its settings; the caches, the pass (read,
 * apply, write) and the sweep's queries have files of their own, listed
 * in enginedb_int.h.
 */
#include "enginedb.h"

#include <stdlib.h>

#include "core/jqx.h"
#include "core/xalloc.h"
#include "db.h"
#include "enginedb_int.h"

/*
 * Every transaction of the engine commits asynchronously (see enginedb.h
 * for why that is safe).  Plans: see DB_GENERIC_PLANS in db.h.
 */
static void
conn_setup(PGconn *conn)
{
	if (conn) {
		db_cmd(conn, NULL, "SET synchronous_commit = off", 0, NULL);
		db_cmd(conn, NULL, DB_GENERIC_PLANS, 0, NULL);
	}
}

struct enginedb *
enginedb_new(PGconn *conn)
{
	struct enginedb *e = xcalloc(1, sizeof(*e));

	e->conn = conn;
	conn_setup(conn);
	e->jq = jqx_new();
	e->rng = 0x9e3779b97f4a7c15ULL ^ (unsigned long long)(uintptr_t)e;
	return e;
}

void
enginedb_free(struct enginedb *e)
{
	if (e == NULL)
		return;
	edb_wfs_drop_all(e);
	jqx_free(e->jq);
	free(e);
}

void
enginedb_set_conn(struct enginedb *e, PGconn *conn)
{
	e->conn = conn;
	conn_setup(conn);
	edb_runs_drop_all(e);
}

void
enginedb_stats(const struct enginedb *e, struct enginedb_stats *st)
{
	*st = e->st;
}

int64_t
enginedb_pass_wakeup(const struct enginedb *e)
{
	return e->wake_ms;
}

int
enginedb_pass_retrying(const struct enginedb *e)
{
	return e->retrying;
}

void
enginedb_set_writer(
    struct enginedb *e, enginedb_writer *fn, void *arg, int quiet_ready)
{
	e->writer = fn;
	e->writer_arg = arg;
	e->quiet_ready = fn != NULL && quiet_ready;
}

int
enginedb_warm(
    struct enginedb *e, const char *workflow_id, int version, char **err)
{
	if (e->conn == NULL) {
		*err = xstrdup("no database connection");
		return -1;
	}
	return edb_wf_get(e, workflow_id, version, err) == NULL ? -1 : 0;
}

void
enginedb_forget(struct enginedb *e, const char *id)
{
	struct runentry *run = edb_run_find(e, id);

	if (run)
		edb_run_drop(e, run);
}

void
enginedb_set_run_end(struct enginedb *e, enginedb_run_end_cb *fn, void *arg)
{
	e->run_end = fn;
	e->run_end_arg = arg;
}
