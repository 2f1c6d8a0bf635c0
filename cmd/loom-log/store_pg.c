/*
 * store_pg: the PostgreSQL log store, table task_logs (schema/005 and
 * schema/015_log_store.sql).
 *
 * A batch is one INSERT of one array per column through unnest() WITH
 * ORDINALITY, so ids follow the order records came in, and it rings
 * pg_notify('loom_log', execution) once per run in it (the doorbell of
 * loom-api's followers).  Records of a run that does not exist are
 * skipped by the statement, not refused.  Every statement runs under
 * statement_timeout = logd.store_timeout, so a store that hangs is a
 * store that is away: its batch goes to the spool.  An error of the
 * connection or of the server's state (SQLSTATE classes 08, 40, 53, 57,
 * 58) keeps the batch; any other refuses it for good.
 */
#include "logd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "core/xalloc.h"
#include "store/db.h"
#include "util/log.h"

#define EXPIRE_CHUNK 10000

struct pgstore {
	struct ld_store base;
	const struct logd_opts *o;
	PGconn *c; /* NULL while away */
	int busy;  /* a batch was sent, its answer not read */
	int rc;	   /* that answer so far */
	char *err; /* ... and its error */
};

/* clang-format off */
static const char insert_sql[] =
    "WITH v AS (SELECT * FROM unnest($1::text[], $2::text[], $3::int[], "
    "$4::text[], $5::text[], $6::text[], $7::bigint[]) WITH ORDINALITY "
    "AS v(eid, tid, att, lvl, st, line, ms, n)), "
    "i AS (INSERT INTO task_logs (execution_id, task_id, attempt, level, "
    "stream, line, ts) SELECT eid, tid, att, lvl, st, line, "
    "to_timestamp(ms / 1000.0) FROM v WHERE EXISTS (SELECT 1 FROM "
    "executions x WHERE x.id = v.eid) ORDER BY n RETURNING execution_id) "
    "SELECT pg_notify('loom_log', execution_id) "
    "FROM (SELECT DISTINCT execution_id FROM i) d";

static const char expire_sql[] =
    "WITH d AS (DELETE FROM task_logs WHERE id IN (SELECT id FROM "
    "task_logs WHERE ts < to_timestamp($1::bigint / 1000.0) LIMIT 10000) "
    "RETURNING 1) SELECT count(*) FROM d";
/* clang-format on */

static void
drop_conn(struct pgstore *p)
{
	if (p->c != NULL)
		PQfinish(p->c);
	p->c = NULL;
	p->busy = 0;
}

static int
pg_reconnect(struct ld_store *s, char **err)
{
	struct pgstore *p = (struct pgstore *)s;
	char set[64];

	drop_conn(p);
	if ((p->c = db_connect(p->o->url, "loom-log", err)) == NULL)
		return -1;
	snprintf(set, sizeof(set), "SET statement_timeout = %lld",
	    (long long)p->o->store_timeout_ms);
	if (db_schema_check(p->c, err) < 0 ||
	    db_cmd(p->c, err, set, 0, NULL) < 0) {
		drop_conn(p);
		return -1;
	}
	return 0;
}

/* 1: the batch may go through later; -1: it never will. */
static int
classify(struct pgstore *p, PGresult *r, char **err)
{
	const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

	free(*err);
	*err =
	    xstrdup(r && PQresultErrorMessage(r)[0] ? PQresultErrorMessage(r) :
						      PQerrorMessage(p->c));
	(*err)[strcspn(*err, "\n")] = '\0';
	if (PQstatus(p->c) != CONNECTION_OK) {
		drop_conn(p);
		return 1;
	}
	if (st == NULL || strncmp(st, "08", 2) == 0 ||
	    strncmp(st, "40", 2) == 0 || strncmp(st, "53", 2) == 0 ||
	    strncmp(st, "57", 2) == 0 || strncmp(st, "58", 2) == 0)
		return 1;
	return -1;
}

static int
pg_begin(struct ld_store *s, const struct ld_rec *r, size_t n, char **err)
{
	struct pgstore *p = (struct pgstore *)s;
	struct buf a[7];
	const char *pv[7];
	int rc = 0;

	if (p->c == NULL) {
		*err = xstrdup("not connected");
		return 1;
	}
	for (int i = 0; i < 7; i++) {
		a[i] = (struct buf)BUF_INIT;
		buf_putc(&a[i], '{');
	}
	for (size_t k = 0; k < n; k++) {
		char num[2][24];

		snprintf(num[0], sizeof(num[0]), "%d", r[k].attempt);
		snprintf(num[1], sizeof(num[1]), "%lld", (long long)r[k].ts_ms);
		buf_pgarray_elem(&a[0], r[k].execution);
		buf_pgarray_elem(&a[1], r[k].task);
		buf_pgarray_elem(&a[2], num[0]);
		buf_pgarray_elem(&a[3], r[k].level);
		buf_pgarray_elem(&a[4], r[k].stream);
		buf_pgarray_elem(&a[5], r[k].msg);
		buf_pgarray_elem(&a[6], num[1]);
	}
	for (int i = 0; i < 7; i++) {
		buf_putc(&a[i], '}');
		pv[i] = a[i].p;
	}
	/* Sent whole (the connection blocks on sending); the answer is
	 * read when the socket says so. */
	if (!PQsendQueryParams(p->c, insert_sql, 7, NULL, pv, NULL, NULL, 0))
		rc = classify(p, NULL, err);
	else {
		p->busy = 1;
		p->rc = 0;
	}
	for (int i = 0; i < 7; i++)
		buf_free(&a[i]);
	return rc;
}

static int
pg_fd(struct ld_store *s)
{
	struct pgstore *p = (struct pgstore *)s;

	return p->c != NULL && p->busy ? PQsocket(p->c) : -1;
}

static int
pg_finish(struct ld_store *s, int block, char **err)
{
	struct pgstore *p = (struct pgstore *)s;
	PGresult *res;

	if (!p->busy)
		return 0;
	if (!block && (!PQconsumeInput(p->c) || PQisBusy(p->c))) {
		if (PQstatus(p->c) == CONNECTION_OK)
			return 2;
	}
	while ((res = PQgetResult(p->c)) != NULL) {
		if (PQresultStatus(res) != PGRES_TUPLES_OK && p->rc == 0)
			p->rc = classify(p, res, &p->err);
		PQclear(res);
		if (p->c == NULL)
			break;
	}
	if (p->c != NULL && PQstatus(p->c) != CONNECTION_OK && p->rc == 0)
		p->rc = classify(p, NULL, &p->err);
	p->busy = 0;
	*err = p->err;
	p->err = NULL;
	return p->rc;
}

static long
pg_expire(struct ld_store *s, int64_t cutoff_ms, char **err)
{
	struct pgstore *p = (struct pgstore *)s;
	char num[24];
	const char *pv[1] = { num };
	long total = 0, n;

	if (p->c == NULL || p->busy) {
		*err = xstrdup(p->c ? "busy" : "not connected");
		return -1;
	}
	snprintf(num, sizeof(num), "%lld", (long long)cutoff_ms);
	do {
		PGresult *res = db_exec(p->c, err, expire_sql, 1, pv);

		if (res == NULL) {
			if (PQstatus(p->c) != CONNECTION_OK)
				drop_conn(p);
			return -1;
		}
		n = strtol(PQgetvalue(res, 0, 0), NULL, 10);
		PQclear(res);
		total += n;
	} while (n == EXPIRE_CHUNK);
	return total;
}

static void
pg_free(struct ld_store *s)
{
	struct pgstore *p = (struct pgstore *)s;

	if (p == NULL)
		return;
	drop_conn(p);
	free(p->err);
	free(p);
}

static const struct ld_store_ops pg_ops = {
	pg_begin,
	pg_fd,
	pg_finish,
	pg_expire,
	pg_reconnect,
	pg_free,
	"postgresql",
};

struct ld_store *
ld_store_pg_new(const struct logd_opts *o, char **err)
{
	struct pgstore *p = xcalloc(1, sizeof(*p));
	char *e = NULL;

	p->base.ops = &pg_ops;
	p->o = o;
	if (pg_reconnect(&p->base, &e) < 0) {
		/* A schema that does not fit is a mistake to fix first; a
		 * database that is down is an outage the spool rides out. */
		if (e != NULL && strstr(e, "migrate") != NULL) {
			*err = e;
			pg_free(&p->base);
			return NULL;
		}
		log_warnx("PostgreSQL: %s; records go to the spool until it "
			  "answers",
		    e ? e : "?");
		free(e);
	}
	return &p->base;
}
