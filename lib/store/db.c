/* db: see db.h. */
#include "db.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-events.h>

#include "util/config.h"
#include "core/xalloc.h"

/* Arbitrary constant: the advisory lock held while migrating. */
#define DB_MIGRATE_LOCK "7312946001"

/*
 * Statements are prepared once per connection and executed by name after
 * that, so the server parses (and, once it settles on a generic plan,
 * plans) each only once: for the short statements of the engine and the
 * executors that is most of their cost.  The cache hangs off the
 * connection (libpq instance data), is forgotten when the connection is
 * reset or closed, and has a bound: statements beyond it run unnamed.
 * A statement is marked prepared only once the server said so; prepared
 * statements outlive transactions, rolled back or not.
 */
#define PCACHE_MAX 192

struct pcache_entry {
	uint64_t hash;
	char *sql;
	int nparams;
	char name[24];
};

struct pcache {
	struct pcache_entry v[PCACHE_MAX];
	size_t n;
	unsigned long seq; /* names are never reused on a connection */
};

static void
pcache_clear(struct pcache *pc)
{
	for (size_t i = 0; i < pc->n; i++)
		free(pc->v[i].sql);
	pc->n = 0;
}

static int
pcache_event(PGEventId id, void *info, void *arg)
{
	struct pcache *pc = NULL;

	(void)arg;
	if (id == PGEVT_CONNRESET)
		pc = PQinstanceData(
		    ((PGEventConnReset *)info)->conn, pcache_event);
	else if (id == PGEVT_CONNDESTROY)
		pc = PQinstanceData(
		    ((PGEventConnDestroy *)info)->conn, pcache_event);
	if (pc != NULL) {
		pcache_clear(pc);
		if (id == PGEVT_CONNDESTROY)
			free(pc);
	}
	return 1;
}

static uint64_t
sql_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

/*
 * The name sql is prepared under on c, or NULL.  When it is not prepared
 * but may be, *fresh gets a new name to prepare it under (else "").
 */
static const char *
pcache_find(PGconn *c, const char *sql, int nparams, char fresh[24])
{
	struct pcache *pc = PQinstanceData(c, pcache_event);
	uint64_t h;

	fresh[0] = '\0';
	if (pc == NULL)
		return NULL;
	h = sql_hash(sql);
	for (size_t i = 0; i < pc->n; i++)
		if (pc->v[i].hash == h && pc->v[i].nparams == nparams &&
		    strcmp(pc->v[i].sql, sql) == 0)
			return pc->v[i].name;
	if (pc->n < PCACHE_MAX && PQtransactionStatus(c) != PQTRANS_INERROR)
		snprintf(fresh, 24, "loom_%lu", ++pc->seq);
	return NULL;
}

/* The server prepared sql as name. */
static void
pcache_add(PGconn *c, const char *name, const char *sql, int nparams)
{
	struct pcache *pc = PQinstanceData(c, pcache_event);
	struct pcache_entry *e;

	if (pc == NULL || pc->n >= PCACHE_MAX)
		return;
	e = &pc->v[pc->n++];
	e->hash = sql_hash(sql);
	e->sql = xstrdup(sql);
	e->nparams = nparams;
	snprintf(e->name, sizeof(e->name), "%s", name);
}

static void
pcache_attach(PGconn *c)
{
	struct pcache *pc;

	if (PQregisterEventProc(c, pcache_event, "loom-pcache", NULL) != 1)
		return;
	pc = xcalloc(1, sizeof(*pc));
	if (PQsetInstanceData(c, pcache_event, pc) != 1)
		free(pc);
}

extern const struct db_migration loom_migrations[];
extern const int loom_nmigrations;

const struct db_migration *
db_migrations(int *n)
{
	*n = loom_nmigrations;
	return loom_migrations;
}

int
db_schema_latest(void)
{
	return loom_nmigrations ?
	    loom_migrations[loom_nmigrations - 1].version :
	    0;
}

const char *
db_url(const struct config *cfg)
{
	return config_get(cfg, "database.url", DB_DEFAULT_URL);
}

/* Every failure that goes through pq_error(), for db_error_count(). */
static _Atomic unsigned long long db_errors;

unsigned long long
db_error_count(void)
{
	return db_errors;
}

static char *
pq_error(PGconn *c, PGresult *r)
{
	const char *m = r ? PQresultErrorMessage(r) : PQerrorMessage(c);
	char *s = xstrdup(m && *m ? m : "unknown database error");
	size_t n = strlen(s);

	db_errors++;

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
		s[--n] = '\0';
	return s;
}

static void
ignore_notice(void *arg, const char *message)
{
}

/*
 * url for messages: a password in "scheme://user:secret@host" or in a
 * "password=secret" conninfo word becomes "***".  Returns a malloc'd copy.
 */
static char *
url_redacted(const char *url)
{
	char *s = xstrdup(url), *p, *at, *colon, *end;

	if ((p = strstr(s, "://")) != NULL && (at = strchr(p + 3, '@')) &&
	    (colon = memchr(p + 3, ':', (size_t)(at - p - 3))) != NULL) {
		char *t = xasprintf("%.*s:***%s", (int)(colon - s), s, at);

		free(s);
		s = t;
	}
	if ((p = strstr(s, "password=")) != NULL) {
		end = p + 9;
		while (*end && *end != ' ' && *end != '&')
			end++;
		char *t = xasprintf("%.*spassword=***%s", (int)(p - s), s, end);

		free(s);
		s = t;
	}
	return s;
}

PGconn *
db_connect(const char *url, const char *app, char **err)
{
	const char *keys[] = { "dbname", "application_name",
		"fallback_application_name", NULL };
	const char *vals[] = { url, NULL, NULL, NULL };
	char name[64]; /* PostgreSQL keeps 63 bytes of it */
	PGconn *c;

	/*
	 * "loom-api[4242]": the program and its process id, so that a
	 * process's connections (a thread's each, a LISTEN one) can be told
	 * from another process's (loom status, GET /api/v1/status).
	 */
	snprintf(name, sizeof(name), "%s[%ld]", app, (long)getpid());
	vals[1] = vals[2] = name;

	/* expand_dbname=1: "dbname" may be a full URL or conninfo string. */
	c = PQconnectdbParams(keys, vals, 1);
	if (c == NULL) {
		*err = xstrdup("out of memory connecting to PostgreSQL");
		return NULL;
	}
	if (PQstatus(c) != CONNECTION_OK) {
		char *m = pq_error(c, NULL), *shown = url_redacted(url);

		*err = xasprintf(
		    "cannot connect to PostgreSQL (%s): %s", shown, m);
		free(m);
		free(shown);
		PQfinish(c);
		return NULL;
	}
	/* Notices ("relation already exists, skipping") are not for users. */
	PQsetNoticeProcessor(c, ignore_notice, NULL);
	pcache_attach(c);
	return c;
}

/*
 * Runs sql by name when it is (or can now be) prepared on c, else as an
 * unnamed statement.
 */
static PGresult *
exec_cached(PGconn *c, const char *sql, int nparams, const char *const *params)
{
	char fresh[24];
	const char *name = pcache_find(c, sql, nparams, fresh);

	if (name == NULL && fresh[0] != '\0') {
		PGresult *p = PQprepare(c, fresh, sql, nparams, NULL);

		if (PQresultStatus(p) == PGRES_COMMAND_OK) {
			pcache_add(c, fresh, sql, nparams);
			name = fresh;
		}
		PQclear(p);
	}
	if (name == NULL)
		return PQexecParams(
		    c, sql, nparams, NULL, params, NULL, NULL, 0);
	return PQexecPrepared(c, name, nparams, params, NULL, NULL, 0);
}

PGresult *
db_exec(PGconn *c, char **err, const char *sql, int nparams,
    const char *const *params)
{
	PGresult *r = exec_cached(c, sql, nparams, params);
	ExecStatusType st = PQresultStatus(r);

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return r;
	if (err)
		*err = pq_error(c, r);
	PQclear(r);
	return NULL;
}

int
db_cmd(PGconn *c, char **err, const char *sql, int nparams,
    const char *const *params)
{
	PGresult *r = db_exec(c, err, sql, nparams, params);

	if (r == NULL)
		return -1;
	PQclear(r);
	return 0;
}

int
db_schema_version(PGconn *c, char **err)
{
	PGresult *r;
	int v = 0;

	r = db_exec(c, err,
	    "SELECT to_regclass('loom_schema_migrations') "
	    "IS NOT NULL",
	    0, NULL);
	if (r == NULL)
		return -1;
	if (strcmp(PQgetvalue(r, 0, 0), "t") != 0) {
		PQclear(r);
		return 0;
	}
	PQclear(r);
	r = db_exec(c, err,
	    "SELECT coalesce(max(version), 0) FROM "
	    "loom_schema_migrations",
	    0, NULL);
	if (r == NULL)
		return -1;
	v = atoi(PQgetvalue(r, 0, 0));
	PQclear(r);
	return v;
}

int
db_migrate(PGconn *c, int *from, int *to, char **err)
{
	int cur, n;
	const struct db_migration *m = db_migrations(&n);

	if (db_cmd(c, err, "SELECT pg_advisory_lock(" DB_MIGRATE_LOCK ")", 0,
		NULL) < 0)
		return -1;
	if (db_cmd(c, err,
		"CREATE TABLE IF NOT EXISTS loom_schema_migrations ("
		"version integer PRIMARY KEY, name text NOT NULL, "
		"applied_at timestamptz NOT NULL DEFAULT now())",
		0, NULL) < 0)
		goto fail;
	if ((cur = db_schema_version(c, err)) < 0)
		goto fail;
	*from = *to = cur;
	if (cur > db_schema_latest()) {
		*err = xasprintf("the database schema is version %d, newer "
				 "than this Link Loom (%d): upgrade Link Loom",
		    cur, db_schema_latest());
		goto fail;
	}
	for (int i = 0; i < n; i++) {
		char ver[16];
		const char *p[2] = { ver, m[i].name };
		PGresult *have;
		int applied;

		/* Each version on its own: a database that has a later
		 * migration still gets an earlier one it lacks. */
		snprintf(ver, sizeof(ver), "%d", m[i].version);
		have = db_exec(c, err,
		    "SELECT 1 FROM loom_schema_migrations "
		    "WHERE version = $1",
		    1, p);
		if (have == NULL)
			goto fail;
		applied = PQntuples(have) > 0;
		PQclear(have);
		if (applied)
			continue;
		if (db_cmd(c, err, "BEGIN", 0, NULL) < 0)
			goto fail;
		/* PQexec: a migration file holds many statements. */
		PGresult *r = PQexec(c, m[i].sql);
		if (PQresultStatus(r) != PGRES_COMMAND_OK &&
		    PQresultStatus(r) != PGRES_TUPLES_OK) {
			char *msg = pq_error(c, r);

			*err = xasprintf(
			    "migration %s failed: %s", m[i].name, msg);
			free(msg);
			PQclear(r);
			PQclear(PQexec(c, "ROLLBACK"));
			goto fail;
		}
		PQclear(r);
		if (db_cmd(c, err,
			"INSERT INTO loom_schema_migrations "
			"(version, name) VALUES ($1, $2)",
			2, p) < 0 ||
		    db_cmd(c, err, "COMMIT", 0, NULL) < 0) {
			PQclear(PQexec(c, "ROLLBACK"));
			goto fail;
		}
		if (m[i].version > *to)
			*to = m[i].version;
	}
	db_cmd(
	    c, NULL, "SELECT pg_advisory_unlock(" DB_MIGRATE_LOCK ")", 0, NULL);
	return 0;
fail:
	db_cmd(
	    c, NULL, "SELECT pg_advisory_unlock(" DB_MIGRATE_LOCK ")", 0, NULL);
	return -1;
}

int
db_schema_check(PGconn *c, char **err)
{
	int v = db_schema_version(c, err);

	if (v < 0)
		return -1;
	if (v == db_schema_latest()) {
		int n;
		PGresult *r;
		long have;

		db_migrations(&n);
		r = db_exec(c, err,
		    "SELECT count(*) FROM loom_schema_migrations", 0, NULL);
		if (r == NULL)
			return -1;
		have = atol(PQgetvalue(r, 0, 0));
		PQclear(r);
		if (have >= n)
			return 0;
		*err =
		    xasprintf("the database lacks %ld of this Link Loom's %d "
			      "schema migrations: run 'loom db migrate'",
			n - have, n);
		return -1;
	}
	if (v < db_schema_latest())
		*err = xasprintf("the database schema is version %d but this "
				 "Link Loom needs %d: run 'loom db migrate'",
		    v, db_schema_latest());
	else
		*err = xasprintf("the database schema is version %d, newer "
				 "than this Link Loom (%d): upgrade Link Loom",
		    v, db_schema_latest());
	return -1;
}

/*
 * One batch of statements sent in pipeline mode and ended by a Sync, and
 * where reading its results has got to.  Statement i may first be
 * prepared (prep[i] names it), which gives a result of its own; every
 * result is followed by a NULL; the Sync's result ends the batch.
 */
struct batch {
	size_t n, i;
	int pass;      /* 0: statement i's prepare, 1: its own */
	int want_null; /* a result came; its NULL is next */
	int rc;
	char *err;
	char **sql; /* texts being prepared (copies), by index */
	int *nparams;
	char (*prep)[24];
	PGresult **res; /* NULL: the caller wants none */
	db_async_cb *cb;
	void *arg;
	struct batch *next;
};

static void
batch_free(struct batch *b)
{
	if (b == NULL)
		return;
	for (size_t i = 0; i < b->n; i++) {
		free(b->sql[i]);
		if (b->res)
			PQclear(b->res[i]);
	}
	free(b->sql);
	free(b->nparams);
	free(b->prep);
	free(b->res);
	free(b->err);
	free(b);
}

/* Queues the statements and a Sync; the connection is in pipeline mode. */
static struct batch *
batch_send(
    PGconn *c, char **err, const struct db_stmt *stmts, size_t n, int want_res)
{
	struct batch *b = xcalloc(1, sizeof(*b));

	b->n = n;
	b->sql = xcalloc(n + 1, sizeof(char *));
	b->nparams = xcalloc(n + 1, sizeof(int));
	b->prep = xcalloc(n + 1, sizeof(*b->prep));
	if (want_res)
		b->res = xcalloc(n + 1, sizeof(PGresult *));
	for (size_t i = 0; i < n; i++) {
		const char *name =
		    pcache_find(c, stmts[i].sql, stmts[i].nparams, b->prep[i]);
		int ok = 1;

		/* The same new text twice: prepared once, by the first. */
		for (size_t j = 0; name == NULL && j < i; j++)
			if (b->prep[j][0] != '\0' &&
			    strcmp(stmts[j].sql, stmts[i].sql) == 0) {
				b->prep[i][0] = '\0';
				name = b->prep[j];
			}
		if (b->prep[i][0] != '\0') {
			ok = PQsendPrepare(c, b->prep[i], stmts[i].sql,
			    stmts[i].nparams, NULL);
			name = b->prep[i];
			b->sql[i] = xstrdup(stmts[i].sql);
			b->nparams[i] = stmts[i].nparams;
		}
		if (ok == 1 && name != NULL)
			ok = PQsendQueryPrepared(c, name, stmts[i].nparams,
			    stmts[i].params, NULL, NULL, 0);
		else if (ok == 1)
			ok =
			    PQsendQueryParams(c, stmts[i].sql, stmts[i].nparams,
				NULL, stmts[i].params, NULL, NULL, 0);
		if (ok != 1) {
			*err = pq_error(c, NULL);
			batch_free(b);
			return NULL;
		}
	}
	if (PQpipelineSync(c) != 1) {
		*err = pq_error(c, NULL);
		batch_free(b);
		return NULL;
	}
	b->pass = n > 0 && b->prep[0][0] ? 0 : 1;
	return b;
}

/*
 * Reads b's results.  Without block, only what has arrived (PQisBusy()
 * says when more must come).  Returns 1 when the batch is complete (its
 * outcome in b->rc, b->err), 0 when it waits for input, -1 when the
 * connection failed.
 */
static int
batch_read(PGconn *c, struct batch *b, int block)
{
	PGresult *r;
	ExecStatusType st;

	for (;;) {
		if (!block && PQisBusy(c))
			return PQstatus(c) == CONNECTION_OK ? 0 : -1;
		r = PQgetResult(c);
		if (b->i == b->n) { /* the Sync is next */
			if (r == NULL)
				return -1;
			st = PQresultStatus(r);
			PQclear(r);
			if (st == PGRES_PIPELINE_SYNC)
				return 1;
			continue;
		}
		if (b->want_null) {
			if (r != NULL) {
				PQclear(r);
				continue;
			}
			b->want_null = 0;
			if (++b->pass == 2) {
				b->i++;
				b->pass =
				    b->i < b->n && b->prep[b->i][0] ? 0 : 1;
			}
			continue;
		}
		if (r == NULL)
			return -1; /* out of step: the connection broke */
		st = PQresultStatus(r);
		if (b->pass == 0 && st == PGRES_COMMAND_OK)
			pcache_add(
			    c, b->prep[b->i], b->sql[b->i], b->nparams[b->i]);
		if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK &&
		    b->rc == 0) {
			if (st != PGRES_PIPELINE_ABORTED) {
				char *m = pq_error(c, r);

				b->err = xasprintf("statement %zu of %zu: %s",
				    b->i + 1, b->n, m);
				free(m);
			} else
				b->err = xstrdup("pipeline aborted");
			b->rc = -1;
		}
		if (b->pass == 1 && b->res && b->rc == 0)
			b->res[b->i] = r;
		else
			PQclear(r);
		b->want_null = 1;
	}
}

int
db_pipeline(PGconn *c, char **err, const struct db_stmt *stmts, size_t n,
    PGresult **res)
{
	struct batch *b;
	int rc;

	if (res)
		for (size_t i = 0; i < n; i++)
			res[i] = NULL;
	if (PQenterPipelineMode(c) != 1) {
		*err = pq_error(c, NULL);
		return -1;
	}
	if ((b = batch_send(c, err, stmts, n, res != NULL)) == NULL) {
		PQexitPipelineMode(c);
		return -1;
	}
	if (batch_read(c, b, 1) < 0) {
		*err = pq_error(c, NULL);
		rc = -1;
	} else if ((rc = b->rc) < 0) {
		*err = b->err;
		b->err = NULL;
	} else if (res) {
		memcpy(res, b->res, n * sizeof(*res));
		memset(b->res, 0, n * sizeof(*res));
	}
	PQexitPipelineMode(c);
	batch_free(b);
	return rc;
}

/* ---- asynchronous pipelines ------------------------------------------- */

struct db_async {
	PGconn *conn;
	struct batch *head, *tail;
	size_t n;
};

struct db_async *
db_async_new(PGconn *c)
{
	struct db_async *a = xcalloc(1, sizeof(*a));

	a->conn = c;
	return a;
}

size_t
db_async_pending(const struct db_async *a)
{
	return a ? a->n : 0;
}

/* Ends every batch still in flight with rc -1 and err. */
static void
async_fail(struct db_async *a, const char *err)
{
	while (a->head != NULL) {
		struct batch *b = a->head;

		a->head = b->next;
		a->n--;
		b->cb(b->arg, -1, err, NULL, 0);
		batch_free(b);
	}
	a->tail = NULL;
}

/* The connection broke: every batch in flight fails with its error. */
static int
async_broken(struct db_async *a)
{
	char *err = pq_error(a->conn, NULL);

	async_fail(a, err);
	free(err);
	return -1;
}

void
db_async_free(struct db_async *a)
{
	if (a == NULL)
		return;
	async_fail(a, "abandoned");
	free(a);
}

int
db_async_send(struct db_async *a, const struct db_stmt *stmts, size_t n,
    int want_res, db_async_cb *cb, void *arg, char **err)
{
	struct batch *b;

	if (PQpipelineStatus(a->conn) == PQ_PIPELINE_OFF &&
	    PQenterPipelineMode(a->conn) != 1) {
		*err = pq_error(a->conn, NULL);
		return -1;
	}
	if ((b = batch_send(a->conn, err, stmts, n, want_res)) == NULL) {
		if (a->head == NULL)
			PQexitPipelineMode(a->conn);
		return -1;
	}
	/* Sent as far as the socket takes it; libpq reads while it waits. */
	if (PQflush(a->conn) < 0) {
		*err = pq_error(a->conn, NULL);
		batch_free(b);
		return -1;
	}
	b->cb = cb;
	b->arg = arg;
	if (a->tail)
		a->tail->next = b;
	else
		a->head = b;
	a->tail = b;
	a->n++;
	return 0;
}

static int
async_read(struct db_async *a, int block)
{
	while (a->head != NULL) {
		struct batch *b = a->head;
		int rc = batch_read(a->conn, b, block);

		if (rc == 0)
			return 0;
		if (rc < 0)
			return async_broken(a);
		a->head = b->next;
		if (a->head == NULL)
			a->tail = NULL;
		a->n--;
		b->cb(b->arg, b->rc, b->err, b->res, b->rc == 0 ? b->n : 0);
		batch_free(b);
	}
	PQexitPipelineMode(a->conn);
	return 0;
}

int
db_async_poll(struct db_async *a)
{
	if (a->head == NULL)
		return 0;
	if (PQconsumeInput(a->conn) != 1)
		return async_broken(a);
	return async_read(a, 0);
}

int
db_async_wait(struct db_async *a)
{
	if (a->head == NULL)
		return 0;
	return async_read(a, 1);
}
