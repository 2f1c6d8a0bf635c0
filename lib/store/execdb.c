/*
 * execdb: see execdb.h.
 *
 * Every operation is one statement, and so one transaction and one round
 * trip, fed with arrays where it carries many rows, so its cost does not
 * grow with the batch.  Lease times are
 * computed by the server (now()), never from this host's clock, so
 * executors on hosts whose clocks disagree still agree on who holds what.
 * The statements that move a task (claim, renew, report, release, fail
 * overdue, hold, unhold) are rows of lib/store/transition.c, named for
 * their transitions; this file fills in their parameters and reads their
 * answers.
 */
#include "execdb.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "db.h"
#include "core/hmap.h"
#include "core/xalloc.h"
#include "transition.h"

struct execdb {
	PGconn *conn;
	char *owner;
	char lease[24]; /* lease length in ms, as a parameter */
};

struct execdb *
execdb_new(PGconn *conn, const char *owner, int64_t lease_ms)
{
	struct execdb *e = xcalloc(1, sizeof(*e));

	e->conn = conn;
	e->owner = xstrdup(owner);
	snprintf(e->lease, sizeof(e->lease), "%lld", (long long)lease_ms);
	return e;
}

void
execdb_free(struct execdb *e)
{
	if (e == NULL)
		return;
	free(e->owner);
	free(e);
}

int
execdb_set_conn(struct execdb *e, PGconn *conn, char **err)
{
	e->conn = conn;
	if (conn == NULL)
		return 0;
	/* Claims and renewals may be lost in a server crash (see execdb.h);
	 * execdb_report() asks for a durable commit itself.  Plans: see
	 * DB_GENERIC_PLANS in db.h. */
	if (db_cmd(conn, err, DB_GENERIC_PLANS, 0, NULL) < 0)
		return -1;
	return db_cmd(conn, err, "SET synchronous_commit = off", 0, NULL);
}

static int
no_conn(struct execdb *e, char **err)
{
	if (e->conn != NULL)
		return 0;
	*err = xstrdup("no database connection");
	errno = ENOTCONN;
	return -1;
}

static void
key_set(struct execdb_key *k, const PGresult *r, int row)
{
	k->execution_id = xstrdup(PQgetvalue(r, row, 0));
	k->task_id = xstrdup(PQgetvalue(r, row, 1));
	k->attempt = atoi(PQgetvalue(r, row, 2));
}

/* Frees what key_set() made. */
static void
key_clear(struct execdb_key *k)
{
	free(k->execution_id);
	free(k->task_id);
}

static long
keys_from(PGresult *r, struct execdb_key **keys)
{
	long n = PQntuples(r);

	*keys = xcalloc((size_t)n + 1, sizeof(**keys));
	for (long i = 0; i < n; i++)
		key_set(&(*keys)[i], r, (int)i);
	PQclear(r);
	return n;
}

void
execdb_keys_free(struct execdb_key *k, long n)
{
	for (long i = 0; k && i < n; i++)
		key_clear(&k[i]);
	free(k);
}

/* The report statement's arrays, in the order of its parameters. */
enum {
	A_EID,
	A_TID,
	A_ATT,
	A_ST,
	A_OUT,
	A_ET,
	A_EM,
	A_LOGS,
	A_HS,
	A_EC,
	A_DUR,
	A_TMO,
	A_N
};

/* What a claim or a report statement's parameters point into. */
struct execdb_q {
	char lim[16];
	const char *p[A_N + 2];
	struct buf a[A_N];
	int na;
};

void
execdb_q_free(struct execdb_q *q)
{
	if (q == NULL)
		return;
	for (int i = 0; i < q->na; i++)
		buf_free(&q->a[i]);
	free(q);
}

struct execdb_q *
execdb_claim_stmt(struct execdb *e, int limit, struct db_stmt *st)
{
	struct execdb_q *q = xcalloc(1, sizeof(*q));

	snprintf(q->lim, sizeof(q->lim), "%d", limit > 0 ? limit : 0);
	q->p[0] = q->lim;
	q->p[1] = e->owner;
	q->p[2] = e->lease;
	*st = (struct db_stmt){ transition_sql(TR_TASK_CLAIM), 3, q->p };
	return q;
}

long
execdb_claim_parse(PGresult *r, struct execdb_claim **out)
{
	long n = 0;

	*out = xcalloc((size_t)PQntuples(r) + 1, sizeof(**out));
	for (int i = 0; i < PQntuples(r); i++) {
		struct execdb_claim *c = &(*out)[n];
		jv req;

		if (PQgetisnull(r, i, 1))
			continue; /* the next READY row's time */
		n++;
		key_set(&c->key, r, (int)i);
		req = PQgetisnull(r, (int)i, 3) ?
		    jv_null() :
		    jv_parse(PQgetvalue(r, (int)i, 3));
		/* A broken row still gets a result: the runner answers a
		 * request that is not an object with a ValidationException. */
		if (jv_get_kind(req) != JV_KIND_OBJECT) {
			jv_free(req);
			req = jv_null();
		} else
			req = jv_object_set(req, jv_string("callbackToken"),
			    jv_string(PQgetvalue(r, (int)i, 4)));
		c->request = req;
	}
	return n;
}

long
execdb_claim_count(const PGresult *r)
{
	long n = 0;

	for (int i = 0; i < PQntuples(r); i++)
		if (!PQgetisnull(r, i, 1))
			n++;
	return n;
}

int64_t
execdb_claim_next_ready(const PGresult *r)
{
	long long v;

	for (int i = 0; i < PQntuples(r); i++) {
		if (!PQgetisnull(r, i, 1) || PQgetisnull(r, i, 5))
			continue;
		v = strtoll(PQgetvalue(r, i, 5), NULL, 10);
		return v < 0 ? 0 : (int64_t)v;
	}
	return -1;
}

long
execdb_claim(struct execdb *e, int limit, struct execdb_claim **out, char **err)
{
	struct db_stmt st;
	struct execdb_q *q;
	PGresult *r;
	long n;

	*out = NULL;
	if (no_conn(e, err) < 0)
		return -1;
	q = execdb_claim_stmt(e, limit, &st);
	r = db_exec(e->conn, err, st.sql, st.nparams, st.params);
	execdb_q_free(q);
	if (r == NULL)
		return -1;
	n = execdb_claim_parse(r, out);
	PQclear(r);
	return n;
}

void
execdb_claims_free(struct execdb_claim *c, long n)
{
	for (long i = 0; c && i < n; i++) {
		key_clear(&c[i].key);
		jv_free(c[i].request);
	}
	free(c);
}

/* A member of result as text for an array element (NULL: SQL NULL). */
static const char *
str_member(jv result, const char *name, jv *keep)
{
	jv v = jv_object_get(jv_copy(result), jv_string(name));

	if (jv_get_kind(v) != JV_KIND_STRING) {
		jv_free(v);
		return NULL;
	}
	*keep = v;
	return jv_string_value(v);
}

static const char *
num_member(jv result, const char *name, char *buf, size_t len)
{
	jv v = jv_object_get(jv_copy(result), jv_string(name));
	const char *s = NULL;

	if (jv_get_kind(v) == JV_KIND_NUMBER) {
		snprintf(buf, len, "%lld", (long long)jv_number_value(v));
		s = buf;
	}
	jv_free(v);
	return s;
}

/* "SUCCESS", "FAILED" or "ACCEPTED"; anything else counts as FAILED. */
static const char *
status_of(jv result)
{
	jv v = jv_object_get(jv_copy(result), jv_string("status"));
	const char *s = "FAILED";

	if (jv_get_kind(v) == JV_KIND_STRING) {
		if (strcmp(jv_string_value(v), "SUCCESS") == 0)
			s = "SUCCESS";
		else if (strcmp(jv_string_value(v), "ACCEPTED") == 0)
			s = "ACCEPTED";
	}
	jv_free(v);
	return s;
}

static void
add_result(struct buf *a, const struct execdb_result *res)
{
	jv r = res->result, keep[4], out, err;
	char num[3][32];
	const char *st = status_of(r);

	for (int i = 0; i < 4; i++)
		keep[i] = jv_null();
	snprintf(num[0], sizeof(num[0]), "%d", res->key->attempt);
	buf_pgarray_elem(&a[A_EID], res->key->execution_id);
	buf_pgarray_elem(&a[A_TID], res->key->task_id);
	buf_pgarray_elem(&a[A_ATT], num[0]);
	buf_pgarray_elem(&a[A_ST], st);

	out = jv_object_get(jv_copy(r), jv_string("output"));
	if (jv_get_kind(out) == JV_KIND_INVALID ||
	    jv_get_kind(out) == JV_KIND_NULL) {
		jv_free(out);
		buf_pgarray_elem(&a[A_OUT], NULL);
	} else {
		keep[0] = jv_dump_string(out, 0);
		buf_pgarray_elem(&a[A_OUT], jv_string_value(keep[0]));
	}
	err = jv_object_get(jv_copy(r), jv_string("error"));
	if (strcmp(st, "FAILED") == 0 && jv_get_kind(err) == JV_KIND_OBJECT) {
		buf_pgarray_elem(&a[A_ET], str_member(err, "type", &keep[1]));
		buf_pgarray_elem(
		    &a[A_EM], str_member(err, "message", &keep[2]));
	} else if (strcmp(st, "FAILED") == 0) {
		buf_pgarray_elem(&a[A_ET], "TaskFailedException");
		buf_pgarray_elem(&a[A_EM], NULL);
	} else {
		buf_pgarray_elem(&a[A_ET], NULL);
		buf_pgarray_elem(&a[A_EM], NULL);
	}
	jv_free(err);
	buf_pgarray_elem(&a[A_LOGS], str_member(r, "logs", &keep[3]));
	buf_pgarray_elem(
	    &a[A_HS], num_member(r, "httpStatus", num[1], sizeof(num[1])));
	buf_pgarray_elem(
	    &a[A_EC], num_member(r, "exitCode", num[2], sizeof(num[2])));
	buf_pgarray_elem(
	    &a[A_DUR], num_member(r, "durationMs", num[1], sizeof(num[1])));
	snprintf(num[2], sizeof(num[2]), "%lld", (long long)res->timeout_ms);
	buf_pgarray_elem(&a[A_TMO], num[2]);
	for (int i = 0; i < 4; i++)
		jv_free(keep[i]);
}

static char *
key_text(const char *eid, const char *tid, int attempt)
{
	return xasprintf("%s\n%s\n%d", eid, tid, attempt);
}

/* The matching rows come back by key; mark their results. */
long
execdb_report_parse(PGresult *r, struct execdb_result *res, size_t n)
{
	struct hmap *m = hmap_new(n);
	char **keys = xcalloc(n + 1, sizeof(char *));
	long matched = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		keys[i] = key_text(res[i].key->execution_id,
		    res[i].key->task_id, res[i].key->attempt);
		(void)hmap_put(m, keys[i], i);
	}
	for (int row = 0; row < PQntuples(r); row++) {
		char *k;

		if (PQgetisnull(r, row, 1))
			continue; /* a doorbell */
		k = key_text(PQgetvalue(r, row, 0), PQgetvalue(r, row, 1),
		    atoi(PQgetvalue(r, row, 2)));
		if (hmap_get(m, k, &i) == 0 && !res[i].matched) {
			res[i].matched = 1;
			matched++;
		}
		free(k);
	}
	hmap_free(m);
	for (i = 0; i < n; i++)
		free(keys[i]);
	free(keys);
	return matched;
}

struct execdb_q *
execdb_report_stmt(struct execdb *e, struct execdb_result *res, size_t n,
    int ring, struct db_stmt *st)
{
	struct execdb_q *q = xcalloc(1, sizeof(*q));

	q->na = A_N;
	for (int i = 0; i < A_N; i++) {
		q->a[i] = (struct buf)BUF_INIT;
		buf_putc(&q->a[i], '{');
	}
	for (size_t i = 0; i < n; i++) {
		res[i].matched = 0;
		add_result(q->a, &res[i]);
	}
	q->p[0] = e->owner;
	for (int i = 0; i < A_N; i++) {
		buf_putc(&q->a[i], '}');
		q->p[i + 1] = q->a[i].p;
	}
	q->p[A_N + 1] = ring ? "true" : "false";
	*st = (struct db_stmt){ transition_sql(TR_TASK_REPORT), A_N + 2, q->p };
	return q;
}

long
execdb_report(struct execdb *e, struct execdb_result *res, size_t n,
    const struct db_stmt *pre, char **err)
{
	struct db_stmt st[2];
	struct execdb_q *q;
	PGresult *rs[2] = { NULL, NULL };
	size_t nst = 0;
	long matched = -1;

	if (no_conn(e, err) < 0)
		return -1;
	if (n == 0)
		return 0;
	/* Statements before a Sync are one implicit transaction. */
	if (pre != NULL)
		st[nst++] = *pre;
	q = execdb_report_stmt(e, res, n, 1, &st[nst++]);
	if (db_pipeline(e->conn, err, st, nst, rs) == 0) {
		matched = execdb_report_parse(rs[nst - 1], res, n);
		PQclear(rs[nst - 1]);
		if (nst > 1)
			PQclear(rs[0]);
	}
	execdb_q_free(q);
	return matched;
}

/* Three array literals (execution ids, task ids, attempts) for keys. */
static void
key_arrays(const struct execdb_key *k, size_t n, struct buf *eid,
    struct buf *tid, struct buf *att)
{
	char num[16];

	buf_putc(eid, '{');
	buf_putc(tid, '{');
	buf_putc(att, '{');
	for (size_t i = 0; i < n; i++) {
		snprintf(num, sizeof(num), "%d", k[i].attempt);
		buf_pgarray_elem(eid, k[i].execution_id);
		buf_pgarray_elem(tid, k[i].task_id);
		buf_pgarray_elem(att, num);
	}
	buf_putc(eid, '}');
	buf_putc(tid, '}');
	buf_putc(att, '}');
}

long
execdb_renew(struct execdb *e, const struct execdb_key *mine, size_t n,
    struct execdb_key **kept, char **err)
{
	struct buf eid = BUF_INIT, tid = BUF_INIT, att = BUF_INIT;
	const char *p[5];
	PGresult *r;

	*kept = NULL;
	if (no_conn(e, err) < 0)
		return -1;
	key_arrays(mine, n, &eid, &tid, &att);
	p[0] = e->owner;
	p[1] = e->lease;
	p[2] = eid.p;
	p[3] = tid.p;
	p[4] = att.p;
	r = db_exec(e->conn, err, transition_sql(TR_TASK_RENEW), 5, p);
	buf_free(&eid);
	buf_free(&tid);
	buf_free(&att);
	if (r == NULL)
		return -1;
	return keys_from(r, kept);
}

long
execdb_held(struct execdb *e, const char *execution_id,
    struct execdb_key **keys, char **err)
{
	const char *p[2] = { execution_id, e->owner };
	PGresult *r;

	*keys = NULL;
	if (no_conn(e, err) < 0)
		return -1;
	r = db_exec(e->conn, err,
	    "SELECT execution_id, task_id, attempt "
	    "FROM run_tasks WHERE execution_id = $1 AND state = 'RUNNING' "
	    "AND lease_owner = $2 AND NOT awaiting_callback",
	    2, p);
	if (r == NULL)
		return -1;
	return keys_from(r, keys);
}

long
execdb_release(struct execdb *e, char **err)
{
	const char *p[1] = { e->owner };
	PGresult *r;
	long n;

	if (no_conn(e, err) < 0)
		return -1;
	r = db_exec(e->conn, err, transition_sql(TR_TASK_RELEASE), 1, p);
	if (r == NULL)
		return -1;
	n = atol(PQgetvalue(r, 0, 0));
	PQclear(r);
	return n;
}

static char *
text_or_null(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL :
					  xstrdup(PQgetvalue(r, row, col));
}

/*
 * The rows of task_fail_overdue (transition.c): an attempt a row, its
 * request's "retry" as JSON text; the count row has no task.  An answer
 * of another shape (none at all) is no attempt.
 */
long
execdb_fail_overdue_parse(const PGresult *r, struct execdb_overdue **out)
{
	long rows = PQntuples(r), n = 0;

	*out = NULL;
	if (PQnfields(r) < 7)
		return 0;
	*out = xcalloc((size_t)rows + 1, sizeof(**out));
	for (int i = 0; i < (int)rows; i++) {
		struct execdb_overdue *o = &(*out)[n];

		if (PQgetisnull(r, i, 0) || PQgetisnull(r, i, 1))
			continue; /* the count row */
		key_set(&o->key, r, i);
		o->retry = PQgetisnull(r, i, 3) ? jv_null() :
						  jv_parse(PQgetvalue(r, i, 3));
		if (!jv_is_valid(o->retry)) {
			jv_free(o->retry);
			o->retry = jv_null();
		}
		o->error_type = text_or_null(r, i, 4);
		o->error_message = text_or_null(r, i, 5);
		n++;
	}
	return n;
}

void
execdb_overdue_free(struct execdb_overdue *o, long n)
{
	for (long i = 0; o && i < n; i++) {
		key_clear(&o[i].key);
		jv_free(o[i].retry);
		free(o[i].error_type);
		free(o[i].error_message);
	}
	free(o);
}

long
execdb_fail_overdue(struct execdb *e, struct execdb_overdue **out, char **err)
{
	const char *p[1] = { e->owner };
	PGresult *r;
	long n;

	*out = NULL;
	if (no_conn(e, err) < 0)
		return -1;
	r = db_exec(e->conn, err, transition_sql(TR_TASK_FAIL_OVERDUE), 1, p);
	if (r == NULL)
		return -1;
	n = execdb_fail_overdue_parse(r, out);
	PQclear(r);
	return n;
}

static int64_t
ms_or_none(const PGresult *r, int col)
{
	long long v;

	if (PQgetisnull(r, 0, col))
		return -1;
	v = strtoll(PQgetvalue(r, 0, col), NULL, 10);
	return v < 0 ? 0 : (int64_t)v;
}

int
execdb_next_deadlines(struct execdb *e, struct execdb_deadlines *d, char **err)
{
	const char *p[1] = { e->owner };
	PGresult *r;

	d->callback_ms = d->lease_ms = d->ready_ms = -1;
	d->unsettled = 0;
	if (no_conn(e, err) < 0)
		return -1;
	/* The third is the first entry of run_tasks_ready: due or not. */
	r = db_exec(e->conn, err,
	    "SELECT "
	    "ceil(extract(epoch FROM (SELECT min(lease_until) FROM run_tasks "
	    "WHERE state = 'RUNNING' AND awaiting_callback) - now()) "
	    "* 1000)::bigint, "
	    "ceil(extract(epoch FROM (SELECT min(lease_until) FROM run_tasks "
	    "WHERE state = 'RUNNING' AND NOT awaiting_callback "
	    "AND lease_owner IS DISTINCT FROM $1) - now()) * 1000)::bigint, "
	    "ceil(extract(epoch FROM (SELECT min(ready_at) FROM run_tasks "
	    "WHERE state = 'READY') - now()) "
	    "* 1000)::bigint, "
	    "EXISTS (SELECT 1 FROM run_tasks WHERE NOT settled)",
	    1, p);
	if (r == NULL)
		return -1;
	d->callback_ms = ms_or_none(r, 0);
	d->lease_ms = ms_or_none(r, 1);
	d->ready_ms = ms_or_none(r, 2);
	d->unsettled = strcmp(PQgetvalue(r, 0, 3), "t") == 0;
	PQclear(r);
	return 0;
}

long
execdb_hold(struct execdb *e, const struct execdb_hold *h, size_t n, char **err)
{
	struct buf eid = BUF_INIT, tid = BUF_INIT, att = BUF_INIT,
		   tgt = BUF_INIT, at = BUF_INIT;
	const char *p[6];
	char num[24];
	PGresult *r;
	long held;

	if (no_conn(e, err) < 0)
		return -1;
	if (n == 0)
		return 0;
	buf_putc(&eid, '{');
	buf_putc(&tid, '{');
	buf_putc(&att, '{');
	buf_putc(&tgt, '{');
	buf_putc(&at, '{');
	for (size_t i = 0; i < n; i++) {
		snprintf(num, sizeof(num), "%d", h[i].key->attempt);
		buf_pgarray_elem(&eid, h[i].key->execution_id);
		buf_pgarray_elem(&tid, h[i].key->task_id);
		buf_pgarray_elem(&att, num);
		buf_pgarray_elem(&tgt, h[i].target);
		snprintf(num, sizeof(num), "%lld", (long long)h[i].retry_at_ms);
		buf_pgarray_elem(&at, num);
	}
	buf_putc(&eid, '}');
	buf_putc(&tid, '}');
	buf_putc(&att, '}');
	buf_putc(&tgt, '}');
	buf_putc(&at, '}');
	p[0] = e->owner;
	p[1] = eid.p;
	p[2] = tid.p;
	p[3] = att.p;
	p[4] = tgt.p;
	p[5] = at.p;
	r = db_exec(e->conn, err, transition_sql(TR_TASK_HOLD), 6, p);
	buf_free(&eid);
	buf_free(&tid);
	buf_free(&att);
	buf_free(&tgt);
	buf_free(&at);
	if (r == NULL)
		return -1;
	held = atol(PQgetvalue(r, 0, 0));
	PQclear(r);
	return held;
}

long
execdb_unhold(
    struct execdb *e, const char *target, int64_t retry_at_ms, char **err)
{
	char at[24];
	const char *p[2] = { target, at };
	PGresult *r;
	long n;

	if (no_conn(e, err) < 0)
		return -1;
	snprintf(at, sizeof(at), "%lld", (long long)retry_at_ms);
	r = db_exec(e->conn, err, transition_sql(TR_TASK_UNHOLD), 2, p);
	if (r == NULL)
		return -1;
	n = atol(PQgetvalue(r, 0, 0));
	PQclear(r);
	return n;
}

long
execdb_held_targets(struct execdb *e, char ***targets, char **err)
{
	PGresult *r;
	long n;

	*targets = NULL;
	if (no_conn(e, err) < 0)
		return -1;
	r = db_exec(e->conn, err,
	    "SELECT DISTINCT held_target FROM run_tasks "
	    "WHERE state = 'READY' AND held_target IS NOT NULL",
	    0, NULL);
	if (r == NULL)
		return -1;
	n = PQntuples(r);
	*targets = xcalloc((size_t)n + 1, sizeof(char *));
	for (long i = 0; i < n; i++)
		(*targets)[i] = xstrdup(PQgetvalue(r, (int)i, 0));
	PQclear(r);
	return n;
}
