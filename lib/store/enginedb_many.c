/*
 * enginedb_many: one pass over several runs, in one transaction
 * (enginedb_pass_many(), see enginedb.h).  When thousands of small runs
 * are in flight, the cost of a pass is its statements and its commit,
 * not its work: here they are shared.  One round trip begins, locks
 * every run it can (one statement, SKIP LOCKED, which also says which
 * have control requests pending) and reads their unsettled rows (one
 * more); the runs whose cache is not current are read in full with one
 * more; each run is stepped in memory as its own pass would be
 * (edb_pass_batch_apply()); and one round trip writes them all
 * (edb_batch_send()) and commits once.
 *
 * What a plain pass does not do goes to a pass of its own, after the
 * batch's commit, as enginedb_pass() always did it: runs another
 * session holds or that are gone or queued (not locked here), finished
 * runs, runs with control requests, workflows with a concurrency limit
 * or pauseOnFailure (the end of a run locks the workflow), and runs too
 * large to share a transaction (more than BATCH_TASKS tasks).
 */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/state.h"
#include "core/workflow.h"
#include "core/xalloc.h"
#include "db.h"
#include "enginedb.h"
#include "enginedb_int.h"
#include "util/jsonutil.h"

/*
 * Runs of at most this many tasks share a batch.  With ENGINEDB_MANY_MAX
 * runs a batch holds at most 65,536 tasks in the run cache, half of what
 * it keeps (enginedb_cache.c), so adding a run never drops another of
 * the same batch.
 */
#define BATCH_TASKS 256

/*
 * The executions row first (EDB_RUN_FIELDS by position), then its id and
 * whether it has control requests pending.
 */
static const char sql_lock_many[] =
    "SELECT " EDB_RUN_FIELDS ", id, EXISTS (SELECT 1 FROM run_requests q "
    "WHERE q.execution_id = executions.id AND q.done_at IS NULL) "
    "FROM executions "
    "WHERE id = ANY($1::text[]) AND (cancel_requested OR NOT queued) "
    "ORDER BY id FOR NO KEY UPDATE OF executions SKIP LOCKED";
#define LOCK_ID_COL EDB_RUN_NFIELDS
#define LOCK_REQUESTS_COL (EDB_RUN_NFIELDS + 1)

static const char sql_unsettled_many[] =
    "SELECT execution_id, " EDB_TASK_FIELDS " FROM run_tasks "
    "WHERE execution_id = ANY($1::text[]) AND NOT settled "
    "ORDER BY execution_id, finished_at";

static const char sql_all_many[] =
    "SELECT execution_id, " EDB_TASK_FIELDS " FROM run_tasks "
    "WHERE execution_id = ANY($1::text[]) "
    "ORDER BY execution_id, finished_at";

/* A run of the batch. */
struct member {
	struct enginedb_item *it;
	struct runentry *run;
	long long gen;
	int full, cancel_requested;
	int fresh; /* never passed (engine_gen 0): it has no rows to read */
	struct report *reps;
	size_t nreps;
};

struct many {
	struct enginedb *e;
	struct enginedb_item *it;
	size_t n;
	struct member *m;
	size_t nm;
	unsigned char *alone; /* by item: passed alone after the batch */
};

static long
item_index(const struct many *b, const char *id)
{
	for (size_t i = 0; i < b->n; i++)
		if (strcmp(b->it[i].id, id) == 0)
			return (long)i;
	return -1;
}

static struct member *
member_of(struct many *b, const char *id)
{
	for (size_t i = 0; i < b->nm; i++)
		if (strcmp(b->m[i].it->id, id) == 0)
			return &b->m[i];
	return NULL;
}

/* Whether the run's workflow makes its pass one of its own. */
static int
wf_alone(const struct workflow *wf)
{
	return wf->ntasks > BATCH_TASKS || wf->concurrency_max > 0 ||
	    wf->pause_on_failure;
}

/*
 * A run that cannot be read as a batch's (a bad workflow version or
 * parameters) is passed alone, which says why; but a database error
 * ends the batch: -1 with *err.
 */
static int
not_joined(struct many *b, char **err)
{
	if (PQtransactionStatus(b->e->conn) != PQTRANS_INTRANS)
		return -1;
	free(*err);
	*err = NULL;
	return 0;
}

/*
 * Row row of the lock: the run joins the batch (its cache entry current,
 * or made anew to be read in full), or is left to a pass alone.  -1 with
 * *err.
 */
static int
join(struct many *b, const PGresult *lk, int row, char **err)
{
	const char *id = PQgetvalue(lk, row, LOCK_ID_COL);
	long i = item_index(b, id);
	struct runentry *run;
	struct wfentry *w;
	struct member *m;
	enum run_state status;
	long long gen = strtoll(PQgetvalue(lk, row, 6), NULL, 10);

	if (i < 0 || b->alone[i] == 2)
		return 0; /* not asked for, or named twice */
	b->alone[i] = 2;
	if (PQgetvalue(lk, row, LOCK_REQUESTS_COL)[0] == 't')
		return 0; /* control requests: alone */
	if (run_state_parse(PQgetvalue(lk, row, 2), &status) < 0 ||
	    run_state_terminal(status))
		return 0;
	w = edb_wf_get(
	    b->e, PQgetvalue(lk, row, 0), atoi(PQgetvalue(lk, row, 1)), err);
	if (w == NULL)
		return not_joined(b, err);
	if (wf_alone(w->wf))
		return 0;
	m = &b->m[b->nm];
	memset(m, 0, sizeof(*m));
	run = edb_run_find(b->e, id);
	if (run == NULL || run->gen != gen ||
	    PQgetvalue(lk, row, 8)[0] == 't') {
		run = edb_run_cache_new(b->e, id, lk, row, status, run, err);
		if (run == NULL)
			return not_joined(b, err);
		m->full = 1;
		m->fresh = gen == 0 && status == RUN_PENDING;
	}
	m->it = &b->it[i];
	m->run = run;
	m->gen = gen;
	m->cancel_requested = PQgetvalue(lk, row, 4)[0] == 't';
	b->alone[i] = 0;
	b->nm++;
	b->e->st.passes++;
	return 0;
}

/* The rows of r (execution id in column 0) into the members they are of. */
static void
load_rows(struct many *b, const PGresult *r, int full)
{
	int lo = 0, n = PQntuples(r);

	while (lo < n) {
		const char *id = PQgetvalue(r, lo, 0);
		struct member *m = member_of(b, id);
		int hi = lo + 1;

		while (hi < n && strcmp(PQgetvalue(r, hi, 0), id) == 0)
			hi++;
		if (m != NULL && m->full == full) {
			m->reps = xreallocarray(m->reps,
			    m->nreps + (size_t)(hi - lo) + 1, sizeof(*m->reps));
			memset(&m->reps[m->nreps], 0,
			    ((size_t)(hi - lo) + 1) * sizeof(*m->reps));
			edb_rows_load(m->run, r, lo, hi, 1, m->reps, &m->nreps);
		}
		lo = hi;
	}
}

/* The members read in full: their rows, in one statement.  -1 with *err. */
static int
read_full(struct many *b, char **err)
{
	struct buf ids = { 0 };
	const char *p[1];
	PGresult *r;
	size_t k = 0;

	buf_putc(&ids, '{');
	for (size_t i = 0; i < b->nm; i++)
		if (b->m[i].full && !b->m[i].fresh) {
			buf_pgarray_elem(&ids, b->m[i].it->id);
			k++;
		}
	buf_putc(&ids, '}');
	if (k == 0) {
		buf_free(&ids);
		return 0;
	}
	p[0] = ids.p;
	r = db_exec(b->e->conn, err, sql_all_many, 1, p);
	buf_free(&ids);
	if (r == NULL)
		return -1;
	load_rows(b, r, 1);
	PQclear(r);
	for (size_t i = 0; i < b->nm; i++)
		if (b->m[i].full)
			run_rt_recount(&b->m[i].run->rt);
	return 0;
}

/*
 * The first round trip (begin, lock, read) and the batch's members.
 * -1 with *err (the caller rolls back).
 */
static int
read_batch(struct many *b, char **err)
{
	struct buf ids = { 0 };
	const char *p[1];
	struct db_stmt st[3];
	PGresult *rs[3] = { NULL, NULL, NULL };
	int rc = -1;

	buf_putc(&ids, '{');
	for (size_t i = 0; i < b->n; i++)
		buf_pgarray_elem(&ids, b->it[i].id);
	buf_putc(&ids, '}');
	p[0] = ids.p;
	st[0] = (struct db_stmt){ "BEGIN", 0, NULL };
	st[1] = (struct db_stmt){ sql_lock_many, 1, p };
	st[2] = (struct db_stmt){ sql_unsettled_many, 1, p };
	if (db_pipeline(b->e->conn, err, st, 3, rs) < 0)
		goto out;
	for (int row = 0; row < PQntuples(rs[1]); row++)
		if (join(b, rs[1], row, err) < 0)
			goto out;
	load_rows(b, rs[2], 0);
	rc = read_full(b, err);
out:
	for (int i = 0; i < 3; i++)
		PQclear(rs[i]);
	buf_free(&ids);
	return rc;
}

static void
members_free(struct many *b)
{
	for (size_t i = 0; i < b->nm; i++)
		edb_reports_free(b->m[i].reps, b->m[i].nreps);
	free(b->m);
	free(b->alone);
}

/*
 * Steps every member and writes the batch.  0, or -1 with *err: the
 * members' cached state went ahead of the database and is dropped.
 */
static int
step_and_write(struct many *b, int64_t now_ms, char **err)
{
	struct enginedb *e = b->e;
	struct batchwrite *w = edb_batch_new(b->nm);
	int rc = 0, dropped = 0;

	for (size_t i = 0; i < b->nm; i++) {
		struct member *m = &b->m[i];

		m->it->rc = edb_pass_batch_apply(e, m->it->id, m->run, m->full,
		    m->cancel_requested, m->reps, m->nreps, now_ms, w);
		m->it->wake_ms = e->wake_ms;
		m->it->retrying = e->retrying;
	}
	if (edb_batch_runs(w) == 0)
		PQclear(PQexec(e->conn, "ROLLBACK"));
	else if (edb_batch_send(e, w, err) < 0)
		rc = -1;
	edb_batch_free(w);
	for (size_t i = 0; i < b->nm; i++) {
		struct member *m = &b->m[i];

		if (rc < 0) {
			m->it->rc = -1;
			edb_run_drop(e, m->run);
			continue;
		}
		if (m->it->rc != ENGINEDB_DID_WORK)
			continue;
		m->run->gen = m->gen + 1;
		if (run_state_terminal(m->run->rt.state)) {
			edb_run_drop(e, m->run);
			dropped = 1;
		}
	}
	if (rc < 0)
		PQclear(PQexec(e->conn, "ROLLBACK"));
	if (dropped)
		edb_wfs_trim(e, NULL);
	return rc;
}

int
enginedb_pass_many(struct enginedb *e, struct enginedb_item *it, size_t n,
    int64_t now_ms, char **err)
{
	struct many b;
	int rc = 0;

	for (size_t i = 0; i < n; i++) {
		it[i].rc = ENGINEDB_IDLE;
		it[i].wake_ms = 0;
		it[i].retrying = 0;
		it[i].err = NULL;
	}
	if (e->conn == NULL) {
		*err = xstrdup("no database connection");
		return -1;
	}
	memset(&b, 0, sizeof(b));
	b.e = e;
	b.it = it;
	b.n = n;
	b.m = xcalloc(n + 1, sizeof(*b.m));
	b.alone = xcalloc(n + 1, 1);
	for (size_t i = 0; i < n; i++)
		b.alone[i] = 1;
	if (n > 0 && e->writer == NULL) {
		/* On -1 the caller keeps every run for later. */
		if (read_batch(&b, err) < 0) {
			PQclear(PQexec(e->conn, "ROLLBACK"));
			for (size_t i = 0; i < b.nm; i++)
				edb_run_drop(e, b.m[i].run);
			members_free(&b);
			return -1;
		}
		rc = step_and_write(&b, now_ms, err);
	}
	/* The others, each in a pass of its own (enginedb_pass()). */
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (b.alone[i] == 0)
			continue;
		it[i].rc = enginedb_pass(e, it[i].id, now_ms, &it[i].err);
		it[i].wake_ms = e->wake_ms;
		it[i].retrying = e->retrying;
		if (it[i].rc < 0 && PQstatus(e->conn) != CONNECTION_OK) {
			*err =
			    xstrdup(it[i].err ? it[i].err : "connection lost");
			rc = -1;
		}
	}
	members_free(&b);
	return rc;
}
