/*
 * breakerdb: see breakerdb.h for the contract and the costs.
 *
 * Shape of every call: read the target's row into a struct breaker_state
 * together with the database's "now", run lib/core/breaker.c on a copy, and
 * compare.  When nothing would change (the hot paths: CLOSED, or held
 * while cooling down) the plain read was the whole cost.  When something
 * changes, the decision is taken again in a transaction that holds the
 * row with FOR UPDATE, so it is made on the latest row and only one
 * executor wins a race (e.g. for the half-open probe); the loser reads
 * the winner's row after the lock is released and decides on that.
 *
 * "now" is clock_timestamp() read in the same statement as the row.  For
 * a FOR UPDATE read that had to wait, PostgreSQL re-evaluates the target
 * list on the updated row (EvalPlanQual), so "now" is taken after the
 * wait and never goes behind what the previous holder wrote.
 *
 * The cache is a small array searched linearly: an executor talks to a
 * handful of targets, and a miss costs a round trip anyway.
 */
#include "breakerdb.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/config.h"
#include "db.h"
#include "core/duration.h"
#include "util/jsonutil.h"
#include "core/xalloc.h"

#define CACHE_MAX 256

/* SQL reads best laid out as SQL. */
/* clang-format off */
/* ms since the epoch on the database's clock, as bigint. */
#define SQL_MS(x) "floor(extract(epoch FROM " x ") * 1000)::bigint"
/* ...and back: parameter n (bigint ms or NULL) as a timestamptz. */
#define SQL_TS(n) "('epoch'::timestamptz + " n "::bigint * " \
	"interval '1 millisecond')"

#define ROW_COLS							\
	"state, consecutive_failures, win_start, win_ok, win_fail, "	\
	SQL_MS("opened_at") ", cooldown_ms, probe_owner, "		\
	SQL_MS("probe_until") ", " SQL_MS("clock_timestamp()")

enum { C_STATE, C_CONSEC, C_WSTART, C_WOK, C_WFAIL, C_OPENED, C_COOLDOWN,
	C_OWNER, C_PROBE_UNTIL, C_NOW, C__COUNT };

static const char sql_read[] =
    "SELECT " ROW_COLS " FROM breakers WHERE target = $1";
static const char sql_lock[] =
    "SELECT " ROW_COLS " FROM breakers WHERE target = $1 FOR UPDATE";
static const char sql_insert[] =
    "INSERT INTO breakers (target) VALUES ($1) ON CONFLICT DO NOTHING";
static const char sql_update[] =
    "UPDATE breakers SET state = $2, consecutive_failures = $3, "
    "win_start = $4::bigint[], win_ok = $5::integer[], "
    "win_fail = $6::integer[], opened_at = " SQL_TS("$7") ", "
    "cooldown_ms = $8, probe_owner = $9, probe_until = " SQL_TS("$10") ", "
    "updated_at = now() WHERE target = $1";
static const char sql_delete[] = "DELETE FROM breakers WHERE target = $1";
static const char sql_notify[] =
    "SELECT pg_notify('" BREAKERDB_CHANNEL "', $1)";
/* clang-format on */

enum cache_kind { CACHE_ABSENT, CACHE_CLOSED };

struct cache_entry {
	char *target;
	enum cache_kind kind;
	int64_t until; /* CLOCK_MONOTONIC ms */
};

struct breaker_cache {
	struct cache_entry v[CACHE_MAX];
	size_t n;
};

/* One row as read: the state plus what breaker_state does not hold. */
struct row {
	struct breaker_state s;
	char *owner; /* probe_owner, or NULL */
	int64_t now; /* the database's clock */
};

/* ---- configuration ---- */

static int
load_duration(const struct config *c, const char *key, int64_t *v, int64_t min,
    char **err)
{
	char buf[32];

	if (config_get_duration(c, key, *v, v) < 0) {
		*err = xasprintf("%s: expected a duration like 30s or 5m, "
				 "got \"%s\"",
		    key, config_get(c, key, ""));
		return -1;
	}
	if (*v < min) {
		duration_format(min, buf, sizeof(buf));
		*err = xasprintf("%s: must be at least %s", key, buf);
		return -1;
	}
	return 0;
}

static int
load_int(const struct config *c, const char *key, int *v, long min, char **err)
{
	long l;

	if (config_get_int(c, key, *v, &l) < 0 || l < min || l > INT32_MAX) {
		*err = xasprintf("%s: expected a whole number from %ld, got "
				 "\"%s\"",
		    key, min, config_get(c, key, ""));
		return -1;
	}
	*v = (int)l;
	return 0;
}

int
breaker_config_load(
    const struct config *c, struct breaker_config *cfg, char **err)
{
	const char *rate;

	breaker_config_default(cfg);
	if (config_get_bool(c, "breaker.enabled", cfg->enabled, &cfg->enabled) <
	    0) {
		*err = xasprintf("breaker.enabled: expected yes or no, got "
				 "\"%s\"",
		    config_get(c, "breaker.enabled", ""));
		return -1;
	}
	if (load_int(c, "breaker.failures", &cfg->failures, 0, err) < 0 ||
	    load_int(c, "breaker.min_calls", &cfg->min_calls, 1, err) < 0)
		return -1;
	if ((rate = config_get(c, "breaker.rate", NULL)) != NULL) {
		char *end;
		double d;

		errno = 0;
		d = strtod(rate, &end);
		if (end != rate && *end == '%') {
			d /= 100;
			end++;
		}
		if (errno || end == rate || *end != '\0' || !isfinite(d) ||
		    d < 0 || d > 1) {
			*err = xasprintf("breaker.rate: expected a number from "
					 "0 to 1 or a percentage, got \"%s\"",
			    rate);
			return -1;
		}
		cfg->rate = d;
	}
	if (load_duration(c, "breaker.window", &cfg->window_ms, 1, err) < 0 ||
	    load_duration(c, "breaker.cooldown", &cfg->cooldown_ms, 0, err) <
		0 ||
	    load_duration(
		c, "breaker.max_cooldown", &cfg->max_cooldown_ms, 0, err) < 0 ||
	    load_duration(c, "breaker.probe_timeout", &cfg->probe_timeout_ms, 1,
		err) < 0 ||
	    load_duration(c, "breaker.cache_ttl", &cfg->cache_ms, 0, err) < 0)
		return -1;
	if (cfg->max_cooldown_ms < cfg->cooldown_ms) {
		*err = xstrdup("breaker.max_cooldown: must not be shorter "
			       "than breaker.cooldown");
		return -1;
	}
	return 0;
}

/* ---- the per-process cache ---- */

struct breaker_cache *
breaker_cache_new(void)
{
	return xcalloc(1, sizeof(struct breaker_cache));
}

void
breaker_cache_free(struct breaker_cache *cache)
{
	if (cache == NULL)
		return;
	for (size_t i = 0; i < cache->n; i++)
		free(cache->v[i].target);
	free(cache);
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct cache_entry *
cache_find(struct breaker_cache *cache, const char *target)
{
	for (size_t i = 0; cache && i < cache->n; i++)
		if (strcmp(cache->v[i].target, target) == 0)
			return &cache->v[i];
	return NULL;
}

static void
cache_drop(struct breaker_cache *cache, size_t i)
{
	free(cache->v[i].target);
	cache->v[i] = cache->v[--cache->n];
}

/* The fresh entry for target, or NULL (an expired one is dropped). */
static struct cache_entry *
cache_get(struct breaker_cache *cache, const struct breaker_config *cfg,
    const char *target)
{
	struct cache_entry *e;

	if (cfg->cache_ms <= 0 || (e = cache_find(cache, target)) == NULL)
		return NULL;
	if (mono_ms() < e->until)
		return e;
	cache_drop(cache, (size_t)(e - cache->v));
	return NULL;
}

static void
cache_forget(struct breaker_cache *cache, const char *target)
{
	struct cache_entry *e = cache_find(cache, target);

	if (e)
		cache_drop(cache, (size_t)(e - cache->v));
}

static void
cache_put(struct breaker_cache *cache, const struct breaker_config *cfg,
    const char *target, enum cache_kind kind)
{
	struct cache_entry *e;
	int64_t now;

	if (cache == NULL || cfg->cache_ms <= 0)
		return;
	now = mono_ms();
	if ((e = cache_find(cache, target)) == NULL) {
		if (cache->n == CACHE_MAX)
			for (size_t i = cache->n; i-- > 0;)
				if (cache->v[i].until <= now)
					cache_drop(cache, i);
		/* Still full of live entries: it is only a cache. */
		while (cache->n == CACHE_MAX)
			cache_drop(cache, cache->n - 1);
		e = &cache->v[cache->n++];
		e->target = xstrdup(target);
	}
	e->kind = kind;
	e->until = now + cfg->cache_ms;
}

/* ---- rows ---- */

static int64_t
field_i64(const PGresult *r, int i, int col)
{
	return PQgetisnull(r, i, col) ?
	    0 :
	    strtoll(PQgetvalue(r, i, col), NULL, 10);
}

/* Parses a PostgreSQL integer array "{1,2,3}" into at most max values. */
static size_t
parse_array(const char *s, int64_t *out, size_t max)
{
	size_t n = 0;
	char *end;

	if (*s == '{')
		s++;
	while (*s && *s != '}' && n < max) {
		out[n++] = strtoll(s, &end, 10);
		if (end == s)
			break;
		s = end;
		if (*s == ',')
			s++;
	}
	return n;
}

/* Row i of a result whose first columns are ROW_COLS. */
static void
row_read(const PGresult *r, int i, struct row *row)
{
	struct breaker_state *s = &row->s;
	int64_t st[BREAKER_BUCKETS] = { 0 }, ok[BREAKER_BUCKETS] = { 0 },
		fail[BREAKER_BUCKETS] = { 0 };
	size_t n;

	breaker_state_init(s);
	/* The CHECK constraint makes a bad name impossible; CLOSED if so. */
	if (breaker_state_parse(PQgetvalue(r, i, C_STATE), &s->state) < 0)
		s->state = BREAKER_CLOSED;
	s->consecutive = (int32_t)field_i64(r, i, C_CONSEC);
	n = parse_array(PQgetvalue(r, i, C_WSTART), st, BREAKER_BUCKETS);
	parse_array(PQgetvalue(r, i, C_WOK), ok, n);
	parse_array(PQgetvalue(r, i, C_WFAIL), fail, n);
	for (size_t b = 0; b < n; b++) {
		s->win[b].start_ms = st[b];
		s->win[b].ok = (int32_t)ok[b];
		s->win[b].fail = (int32_t)fail[b];
	}
	s->opened_at_ms = field_i64(r, i, C_OPENED);
	s->cooldown_ms = field_i64(r, i, C_COOLDOWN);
	s->probe_in_flight = !PQgetisnull(r, i, C_PROBE_UNTIL);
	s->probe_until_ms = field_i64(r, i, C_PROBE_UNTIL);
	row->owner = PQgetisnull(r, i, C_OWNER) ?
	    NULL :
	    xstrdup(PQgetvalue(r, i, C_OWNER));
	row->now = field_i64(r, i, C_NOW);
}

/*
 * Reads target's row (locked when lock).  Returns 1 with *row filled (the
 * caller frees row->owner), 0 when there is no row, -1 with *err.
 */
static int
row_load(PGconn *c, const char *target, int lock, struct row *row, char **err)
{
	PGresult *r = db_exec(c, err, lock ? sql_lock : sql_read, 1, &target);
	int found;

	if (r == NULL)
		return -1;
	if ((found = PQntuples(r) == 1 && PQnfields(r) == C__COUNT))
		row_read(r, 0, row);
	PQclear(r);
	return found;
}

static int
same_state(const struct breaker_state *a, const struct breaker_state *b)
{
	if (a->state != b->state || a->consecutive != b->consecutive ||
	    a->opened_at_ms != b->opened_at_ms ||
	    a->cooldown_ms != b->cooldown_ms ||
	    a->probe_in_flight != b->probe_in_flight ||
	    a->probe_until_ms != b->probe_until_ms)
		return 0;
	for (size_t i = 0; i < BREAKER_BUCKETS; i++)
		if (a->win[i].start_ms != b->win[i].start_ms ||
		    a->win[i].ok != b->win[i].ok ||
		    a->win[i].fail != b->win[i].fail)
			return 0;
	return 1;
}

/* CLOSED with no failure to remember: the row can go. */
static int
row_clean(const struct breaker_state *s, const struct breaker_config *cfg,
    int64_t now)
{
	long fails;

	if (s->state != BREAKER_CLOSED || s->consecutive != 0)
		return 0;
	breaker_window(s, cfg, now, NULL, &fails);
	return fails == 0;
}

static int
row_write(PGconn *c, const char *target, const struct breaker_state *s,
    const char *owner, char **err)
{
	char consec[16], wst[BREAKER_BUCKETS * 21 + 3],
	    wok[BREAKER_BUCKETS * 12 + 3], wfail[BREAKER_BUCKETS * 12 + 3],
	    opened[24], cool[24], until[24];
	const char *p[10];
	size_t a = 0, b = 0, d = 0;
	int open = s->state != BREAKER_CLOSED;

	wst[a++] = wok[b++] = wfail[d++] = '{';
	for (size_t i = 0; i < BREAKER_BUCKETS; i++) {
		const char *sep = i ? "," : "";

		a += (size_t)snprintf(wst + a, sizeof(wst) - a, "%s%" PRId64,
		    sep, s->win[i].start_ms);
		b += (size_t)snprintf(
		    wok + b, sizeof(wok) - b, "%s%" PRId32, sep, s->win[i].ok);
		d += (size_t)snprintf(wfail + d, sizeof(wfail) - d,
		    "%s%" PRId32, sep, s->win[i].fail);
	}
	snprintf(wst + a, sizeof(wst) - a, "}");
	snprintf(wok + b, sizeof(wok) - b, "}");
	snprintf(wfail + d, sizeof(wfail) - d, "}");
	snprintf(consec, sizeof(consec), "%" PRId32, s->consecutive);
	snprintf(opened, sizeof(opened), "%" PRId64, s->opened_at_ms);
	snprintf(cool, sizeof(cool), "%" PRId64, s->cooldown_ms);
	snprintf(until, sizeof(until), "%" PRId64, s->probe_until_ms);
	p[0] = target;
	p[1] = breaker_state_name(s->state);
	p[2] = consec;
	p[3] = wst;
	p[4] = wok;
	p[5] = wfail;
	p[6] = open ? opened : NULL;
	p[7] = cool;
	p[8] = s->probe_in_flight ? (owner ? owner : "") : NULL;
	p[9] = s->probe_in_flight ? until : NULL;
	return db_cmd(c, err, sql_update, 10, p);
}

/* ---- transactions: our own, or a savepoint inside the caller's ---- */

static int
txn_begin(PGconn *c, int *nested, char **err)
{
	switch (PQtransactionStatus(c)) {
	case PQTRANS_IDLE:
		*nested = 0;
		return db_cmd(c, err, "BEGIN", 0, NULL);
	case PQTRANS_INTRANS:
		*nested = 1;
		return db_cmd(c, err, "SAVEPOINT loom_breaker", 0, NULL);
	default:
		*err = xstrdup("circuit breaker: the database connection is "
			       "busy or in a failed transaction");
		return -1;
	}
}

static int
txn_commit(PGconn *c, int nested, char **err)
{
	return db_cmd(c, err,
	    nested ? "RELEASE SAVEPOINT loom_breaker" : "COMMIT", 0, NULL);
}

static void
txn_abort(PGconn *c, int nested)
{
	PQclear(PQexec(c,
	    nested ? "ROLLBACK TO SAVEPOINT loom_breaker; "
		     "RELEASE SAVEPOINT loom_breaker" :
		     "ROLLBACK"));
}

/* Applies the change from before to after: update, delete, doorbell. */
static int
row_store(PGconn *c, const struct breaker_config *cfg, const char *target,
    const struct row *before, const struct breaker_state *after,
    const char *owner, int *deleted, char **err)
{
	*deleted = 0;
	if (row_clean(after, cfg, before->now)) {
		if (db_cmd(c, err, sql_delete, 1, &target) < 0)
			return -1;
		*deleted = 1;
	} else if (!same_state(&before->s, after) &&
	    row_write(c, target, after, owner, err) < 0)
		return -1;
	if (before->s.state != after->state &&
	    db_cmd(c, err, sql_notify, 1, &target) < 0)
		return -1;
	return 0;
}

/* ---- the calls ---- */

/* The slow path of breakerdb_allow(): decide again on the locked row. */
static int
allow_locked(PGconn *c, const struct breaker_config *cfg,
    struct breaker_cache *cache, const char *target, const char *owner,
    int64_t *retry_at_ms, char **err)
{
	struct row row = { 0 };
	struct breaker_state s;
	const char *probe_owner;
	int nested, found, allowed, deleted;

	if (txn_begin(c, &nested, err) < 0)
		return -1;
	if ((found = row_load(c, target, 1, &row, err)) < 0)
		goto fail;
	if (!found) {
		/* Reset or cleaned up meanwhile: CLOSED. */
		if (txn_commit(c, nested, err) < 0)
			goto fail;
		cache_put(cache, cfg, target, CACHE_ABSENT);
		return 1;
	}
	s = row.s;
	allowed = breaker_allow(&s, cfg, row.now);
	/* Whoever claims the probe owns it; otherwise keep the holder. */
	probe_owner =
	    allowed && s.state == BREAKER_HALF_OPEN ? owner : row.owner;
	if (row_store(c, cfg, target, &row, &s, probe_owner, &deleted, err) <
		0 ||
	    txn_commit(c, nested, err) < 0)
		goto fail;
	free(row.owner);
	if (!allowed)
		*retry_at_ms = breaker_retry_at(&s, cfg);
	return allowed;
fail:
	txn_abort(c, nested);
	free(row.owner);
	return -1;
}

int
breakerdb_allow(PGconn *c, const struct breaker_config *cfg,
    struct breaker_cache *cache, const char *target, const char *owner,
    int64_t *retry_at_ms, char **err)
{
	struct row row = { 0 };
	struct breaker_state s;
	int found, allowed;

	*retry_at_ms = 0;
	if (!cfg->enabled || cache_get(cache, cfg, target) != NULL)
		return 1;
	if ((found = row_load(c, target, 0, &row, err)) < 0)
		return -1;
	if (!found || row.s.state == BREAKER_CLOSED) {
		free(row.owner);
		cache_put(
		    cache, cfg, target, found ? CACHE_CLOSED : CACHE_ABSENT);
		return 1;
	}
	free(row.owner);
	s = row.s;
	allowed = breaker_allow(&s, cfg, row.now);
	if (!same_state(&row.s, &s))
		return allow_locked(
		    c, cfg, cache, target, owner, retry_at_ms, err);
	if (!allowed)
		*retry_at_ms = breaker_retry_at(&s, cfg);
	return allowed;
}

int
breakerdb_cached(const struct breaker_config *cfg, struct breaker_cache *cache,
    const char *target, int record, enum errclass outcome)
{
	struct cache_entry *e;

	if (!cfg->enabled)
		return 1;
	e = cache_get(cache, cfg, target);
	if (!record)
		return e != NULL;
	return !breaker_is_failure(outcome) && e != NULL &&
	    e->kind == CACHE_ABSENT;
}

int
breakerdb_record(PGconn *c, const struct breaker_config *cfg,
    struct breaker_cache *cache, const char *target, const char *owner,
    enum errclass outcome, int64_t now_ms, char **err)
{
	struct row row = { 0 };
	struct breaker_state s;
	struct cache_entry *e;
	int failed = breaker_is_failure(outcome), nested, found, deleted;

	if (!cfg->enabled)
		return 0;
	e = cache_get(cache, cfg, target);
	if (!failed && e != NULL && e->kind == CACHE_ABSENT)
		return 0;
	if (!failed && e == NULL) {
		/* A success for a healthy target: one read, nothing to do. */
		if ((found = row_load(c, target, 0, &row, err)) < 0)
			return -1;
		free(row.owner);
		row.owner = NULL;
		if (!found) {
			cache_put(cache, cfg, target, CACHE_ABSENT);
			return 0;
		}
	}
	/* Our own failure must show in our next allow at once. */
	cache_forget(cache, target);
	if (txn_begin(c, &nested, err) < 0)
		return -1;
	if (failed && db_cmd(c, err, sql_insert, 1, &target) < 0)
		goto fail;
	if ((found = row_load(c, target, 1, &row, err)) < 0)
		goto fail;
	if (!found) {
		/* A success for a target with no row changes nothing. */
		if (txn_commit(c, nested, err) < 0)
			goto fail;
		cache_put(cache, cfg, target, CACHE_ABSENT);
		return 0;
	}
	if (now_ms > 0)
		row.now = now_ms;
	s = row.s;
	breaker_record(&s, cfg, row.now, outcome);
	if (row_store(c, cfg, target, &row, &s, row.owner, &deleted, err) < 0 ||
	    txn_commit(c, nested, err) < 0)
		goto fail;
	free(row.owner);
	if (deleted)
		cache_put(cache, cfg, target, CACHE_ABSENT);
	else if (s.state == BREAKER_CLOSED)
		cache_put(cache, cfg, target, CACHE_CLOSED);
	return 0;
fail:
	txn_abort(c, nested);
	free(row.owner);
	return -1;
}

int
breakerdb_release(PGconn *c, const struct breaker_config *cfg,
    struct breaker_cache *cache, const char *target, const char *owner,
    char **err)
{
	struct row row = { 0 };
	struct breaker_state s;
	int nested, found, held = 0, deleted;

	if (!cfg->enabled)
		return 0;
	cache_forget(cache, target);
	if (txn_begin(c, &nested, err) < 0)
		return -1;
	if ((found = row_load(c, target, 1, &row, err)) < 0)
		goto fail;
	if (found && row.s.state == BREAKER_HALF_OPEN &&
	    row.s.probe_in_flight && row.owner && owner &&
	    strcmp(row.owner, owner) == 0) {
		s = row.s;
		breaker_release_probe(&s);
		if (row_store(c, cfg, target, &row, &s, NULL, &deleted, err) <
		    0)
			goto fail;
		held = 1;
	}
	if (txn_commit(c, nested, err) < 0)
		goto fail;
	free(row.owner);
	return held;
fail:
	txn_abort(c, nested);
	free(row.owner);
	return -1;
}

int
breakerdb_retry_at(PGconn *c, const struct breaker_config *cfg,
    const char *target, int64_t *retry_at_ms, char **err)
{
	struct row row = { 0 };
	struct breaker_state s;
	int found;

	*retry_at_ms = 0;
	if (!cfg->enabled)
		return 0;
	if ((found = row_load(c, target, 0, &row, err)) < 0)
		return -1;
	free(row.owner);
	if (!found)
		return 0;
	/* Decide on a copy, as breakerdb_allow() would, and keep nothing. */
	s = row.s;
	if (!breaker_allow(&s, cfg, row.now))
		*retry_at_ms = breaker_retry_at(&s, cfg);
	return 0;
}

int
breakerdb_reset(PGconn *c, const char *target, char **err)
{
	PGresult *r = db_exec(c, err,
	    "WITH d AS (DELETE FROM breakers WHERE target = $1 "
	    "RETURNING target) "
	    "SELECT pg_notify('" BREAKERDB_CHANNEL "', target) FROM d",
	    1, &target);
	int n;

	if (r == NULL)
		return -1;
	n = PQntuples(r) > 0;
	PQclear(r);
	return n;
}

static jv
ms_iso(int64_t ms, int present)
{
	char buf[32];

	if (!present)
		return jv_null();
	iso_time_ms(ms, buf, sizeof(buf));
	return jv_string(buf);
}

long
breakerdb_list(PGconn *c, const struct breaker_config *cfg, jv *out, char **err)
{
	struct breaker_config def;
	PGresult *r;
	jv list = jv_array();
	int n;

	if (cfg == NULL) {
		breaker_config_default(&def);
		cfg = &def;
	}
	r = db_exec(c, err,
	    "SELECT " ROW_COLS
	    ", target, " SQL_ISO("updated_at") " FROM breakers ORDER BY target",
	    0, NULL);
	if (r == NULL) {
		jv_free(list);
		return -1;
	}
	n = PQntuples(r);
	for (int i = 0; i < n; i++) {
		struct row row = { 0 };
		const struct breaker_state *s = &row.s;
		long calls, fails;
		int64_t retry;
		jv o;

		row_read(r, i, &row);
		breaker_window(s, cfg, row.now, &calls, &fails);
		retry = breaker_retry_at(s, cfg);
		o = jv_object();
		o = jv_object_set(
		    o, jv_string("target"), pg_jv_text(r, i, C__COUNT));
		o = jv_object_set(o, jv_string("state"),
		    jv_string(breaker_state_name(s->state)));
		o = jv_object_set(o, jv_string("consecutiveFailures"),
		    jv_number(s->consecutive));
		o = jv_object_set(
		    o, jv_string("recentCalls"), jv_number(calls));
		o = jv_object_set(
		    o, jv_string("recentFailures"), jv_number(fails));
		o = jv_object_set(o, jv_string("openedAt"),
		    ms_iso(s->opened_at_ms, !PQgetisnull(r, i, C_OPENED)));
		o = jv_object_set(o, jv_string("cooldownMs"),
		    jv_number((double)s->cooldown_ms));
		o = jv_object_set(
		    o, jv_string("retryAt"), ms_iso(retry, retry > 0));
		o = jv_object_set(
		    o, jv_string("probeOwner"), pg_jv_text(r, i, C_OWNER));
		o = jv_object_set(o, jv_string("probeUntil"),
		    ms_iso(s->probe_until_ms, s->probe_in_flight));
		o = jv_object_set(
		    o, jv_string("updatedAt"), pg_jv_text(r, i, C__COUNT + 1));
		list = jv_array_append(list, o);
		free(row.owner);
	}
	PQclear(r);
	*out = list;
	return n;
}
