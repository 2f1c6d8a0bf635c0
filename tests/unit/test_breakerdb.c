/*
 * test_breakerdb: the shared circuit breakers (lib/store/breakerdb.c) against a
 * real PostgreSQL.
 *
 * The config tests always run.  The database tests need LOOM_DATABASE_URL
 * (tests/breaker-db.bats starts a throwaway cluster and sets it); without
 * it they are skipped with one "ok # skip" line, so `make check-unit` on a
 * machine without a cluster stays green.  Every connection stands for one
 * loom-exec; time moves by rewriting the row's times in SQL (the breaker
 * runs on the database's clock), never by sleeping.  Targets carry the
 * process id so reruns against one database do not collide.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jv.h>
#include <libpq-fe.h>

#include "core/breaker.h"
#include "store/breakerdb.h"
#include "store/db.h"
#include "t.h"
#include "tdb.h"

static const char *url;

/* ---- config (no database) ---- */

static void
test_config(void)
{
	static const struct {
		const char *env, *value;
		int ok;
	} bad[] = {
		{ "LOOM_BREAKER_RATE", "1.5", 0 },
		{ "LOOM_BREAKER_RATE", "-0.1", 0 },
		{ "LOOM_BREAKER_RATE", "half", 0 },
		{ "LOOM_BREAKER_RATE", "0.5x", 0 },
		{ "LOOM_BREAKER_RATE", "nan", 0 },
		{ "LOOM_BREAKER_RATE", "0", 1 },
		{ "LOOM_BREAKER_FAILURES", "-1", 0 },
		{ "LOOM_BREAKER_FAILURES", "five", 0 },
		{ "LOOM_BREAKER_FAILURES", "0", 1 },
		{ "LOOM_BREAKER_MIN_CALLS", "0", 0 },
		{ "LOOM_BREAKER_WINDOW", "60", 0 },
		{ "LOOM_BREAKER_WINDOW", "0s", 0 },
		{ "LOOM_BREAKER_COOLDOWN", "10m", 0 }, /* > max_cooldown */
		{ "LOOM_BREAKER_COOLDOWN", "0s", 1 },
		{ "LOOM_BREAKER_PROBE_TIMEOUT", "0s", 0 },
		{ "LOOM_BREAKER_CACHE_TTL", "0s", 1 },
		{ "LOOM_BREAKER_ENABLED", "maybe", 0 },
	};
	struct breaker_config cfg, def;
	char *err = NULL;

	breaker_config_default(&def);
	ok(breaker_config_load(NULL, &cfg, &err) == 0 &&
		memcmp(&cfg, &def, sizeof(cfg)) == 0,
	    "no keys: the defaults");
	setenv("LOOM_BREAKER_ENABLED", "no", 1);
	setenv("LOOM_BREAKER_FAILURES", "3", 1);
	setenv("LOOM_BREAKER_RATE", "25%", 1);
	setenv("LOOM_BREAKER_MIN_CALLS", "10", 1);
	setenv("LOOM_BREAKER_WINDOW", "2m", 1);
	setenv("LOOM_BREAKER_COOLDOWN", "10s", 1);
	setenv("LOOM_BREAKER_MAX_COOLDOWN", "1h", 1);
	setenv("LOOM_BREAKER_PROBE_TIMEOUT", "5m", 1);
	setenv("LOOM_BREAKER_CACHE_TTL", "250ms", 1);
	ok(breaker_config_load(NULL, &cfg, &err) == 0, "every key set");
	ok(cfg.enabled == 0 && cfg.failures == 3 && cfg.rate == 0.25 &&
		cfg.min_calls == 10 && cfg.window_ms == 120000 &&
		cfg.cooldown_ms == 10000 && cfg.max_cooldown_ms == 3600000 &&
		cfg.probe_timeout_ms == 300000 && cfg.cache_ms == 250,
	    "  and read right");
	unsetenv("LOOM_BREAKER_MAX_COOLDOWN");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *old = getenv(bad[i].env);
		char *keep = old ? strdup(old) : NULL;
		int rc;

		setenv(bad[i].env, bad[i].value, 1);
		err = NULL;
		rc = breaker_config_load(NULL, &cfg, &err);
		if (bad[i].ok)
			ok(rc == 0, "%s=%s accepted", bad[i].env, bad[i].value);
		else
			ok(rc == -1 && err && strstr(err, "breaker."),
			    "%s=%s refused: %s", bad[i].env, bad[i].value,
			    err ? err : "(no message)");
		free(err);
		if (keep)
			setenv(bad[i].env, keep, 1);
		else
			unsetenv(bad[i].env);
		free(keep);
	}
	unsetenv("LOOM_BREAKER_ENABLED");
	unsetenv("LOOM_BREAKER_FAILURES");
	unsetenv("LOOM_BREAKER_RATE");
	unsetenv("LOOM_BREAKER_MIN_CALLS");
	unsetenv("LOOM_BREAKER_WINDOW");
	unsetenv("LOOM_BREAKER_COOLDOWN");
	unsetenv("LOOM_BREAKER_PROBE_TIMEOUT");
	unsetenv("LOOM_BREAKER_CACHE_TTL");
}

/* ---- database helpers ---- */

static PGconn *
conn(void)
{
	char *err = NULL;
	PGconn *c = db_connect(url, "test_breakerdb", &err);

	if (c == NULL) {
		printf("Bail out! %s\n", err);
		exit(1);
	}
	return c;
}

static int64_t
db_now(PGconn *c)
{
	return strtoll(tdb_q1(c,
			   "SELECT floor(extract(epoch FROM "
			   "clock_timestamp()) * 1000)::bigint",
			   NULL),
	    NULL, 10);
}

static const char *
row_state(PGconn *c, const char *target)
{
	return tdb_q1(c,
	    "SELECT coalesce((SELECT state FROM breakers WHERE "
	    "target = $1), 'none')",
	    target);
}

/* One column of target's row ("" when none); column is test text. */
static const char *
field(PGconn *c, const char *column, const char *target)
{
	char sql[160];

	snprintf(sql, sizeof(sql), "SELECT %s FROM breakers WHERE target = $1",
	    column);
	return tdb_q1(c, sql, target);
}

static void
reset(PGconn *c, const char *target)
{
	char *err = NULL;

	if (breakerdb_reset(c, target, &err) < 0) {
		printf("# reset: %s\n", err);
		free(err);
	}
}

/* Pretends the cool-down (or the probe's time) ran out. */
static void
age(PGconn *c, const char *target)
{
	tdb_q1(c,
	    "UPDATE breakers SET opened_at = opened_at - interval '1 day', "
	    "probe_until = probe_until - interval '1 day' WHERE target = $1",
	    target);
}

static char *
mktarget(const char *name)
{
	char buf[BREAKER_TARGET_MAX], *u;

	if (asprintf(&u, "http://%s-%ld.test/x", name, (long)getpid()) < 0)
		abort();
	breaker_target_of(u, buf, sizeof(buf));
	free(u);
	return strdup(buf);
}

static int
allow(PGconn *c, const struct breaker_config *cfg, struct breaker_cache *cache,
    const char *target, const char *owner, int64_t *retry_at)
{
	int64_t dummy;
	char *err = NULL;
	int rc = breakerdb_allow(
	    c, cfg, cache, target, owner, retry_at ? retry_at : &dummy, &err);

	if (rc < 0) {
		printf("# allow: %s\n", err);
		free(err);
	}
	return rc;
}

static int
record(PGconn *c, const struct breaker_config *cfg, struct breaker_cache *cache,
    const char *target, const char *owner, enum errclass oc, int times)
{
	char *err = NULL;

	for (int i = 0; i < times; i++)
		if (breakerdb_record(
			c, cfg, cache, target, owner, oc, 0, &err) < 0) {
			printf("# record: %s\n", err);
			free(err);
			return -1;
		}
	return 0;
}

/* Whether a NOTIFY for target has arrived on c (which LISTENs). */
static int
rang(PGconn *c, const char *target)
{
	PGnotify *n;
	int seen = 0;

	tdb_q1(c, "SELECT 1", NULL); /* let libpq read what is pending */
	PQconsumeInput(c);
	while ((n = PQnotifies(c)) != NULL) {
		if (strcmp(n->relname, BREAKERDB_CHANNEL) == 0 &&
		    strcmp(n->extra, target) == 0)
			seen = 1;
		PQfreemem(n);
	}
	return seen;
}

/* ---- the database tests ---- */

static void
test_fast_path(PGconn *a, const struct breaker_config *cfg)
{
	char *t = mktarget("fast");
	int64_t ra = -1;

	is_int(allow(a, cfg, NULL, t, "a", &ra), 1, "no row: allowed");
	is_int(ra, 0, "  retry_at 0");
	record(a, cfg, NULL, t, "a", ERR_NONE, 3);
	is_str(row_state(a, t), "none", "successes of a clean target: no row");
	record(a, cfg, NULL, t, "a", ERR_VALIDATION, 5);
	record(a, cfg, NULL, t, "a", ERR_HTTP_CLIENT, 5);
	record(a, cfg, NULL, t, "a", ERR_TASK_FAILED, 5);
	is_str(row_state(a, t), "none", "4xx/validation/FAILED: no row");
	record(a, cfg, NULL, t, "a", ERR_TIMEOUT, 1);
	is_str(row_state(a, t), "CLOSED", "first failure makes a row");
	is_int(allow(a, cfg, NULL, t, "a", NULL), 1, "closed row: allowed");
	record(a, cfg, NULL, t, "a", ERR_NONE, 1);
	is_str(row_state(a, t), "CLOSED",
	    "a success keeps the row while the failure is in the window");
	tdb_q1(a,
	    "UPDATE breakers SET win_start = "
	    "array(SELECT x - 3600000 FROM unnest(win_start) x) "
	    "WHERE target = $1",
	    t);
	record(a, cfg, NULL, t, "a", ERR_NONE, 1);
	is_str(row_state(a, t), "none",
	    "once the failure aged out, a success deletes the row");
	free(t);
}

static void
test_shared_open(PGconn *a, PGconn *b, const struct breaker_config *cfg)
{
	char *t = mktarget("shared");
	int64_t ra = 0, now;

	tdb_q1(b, "LISTEN " BREAKERDB_CHANNEL, NULL);
	rang(b, "");
	record(a, cfg, NULL, t, "exec-a", ERR_CONNECTION, 4);
	is_int(allow(b, cfg, NULL, t, "exec-b", NULL), 1,
	    "4 failures by A: B still allowed");
	ok(!rang(b, t), "  no doorbell yet");
	record(a, cfg, NULL, t, "exec-a", ERR_HTTP_SERVER, 1);
	now = db_now(b);
	is_int(allow(b, cfg, NULL, t, "exec-b", &ra), 0,
	    "the 5th failure by A holds B");
	ok(ra > now + 28000 && ra <= now + 30000,
	    "  B's retry_at is the end of the 30s cool-down (%lld ms away)",
	    (long long)(ra - now));
	ok(rang(b, t), "  B heard the doorbell on " BREAKERDB_CHANNEL);
	is_int(allow(a, cfg, NULL, t, "exec-a", NULL), 0, "A is held too");
	is_str(row_state(a, t), "OPEN", "  the row says OPEN");
	is_str(field(a, "consecutive_failures", t), "5", "  5 in a row");

	/* Cool-down over: exactly one of A and B gets the probe. */
	age(a, t);
	is_int(allow(b, cfg, NULL, t, "exec-b/run/task/1", NULL), 1,
	    "after the cool-down B gets the probe");
	is_str(row_state(a, t), "HALF_OPEN", "  HALF_OPEN");
	is_str(field(a, "probe_owner", t), "exec-b/run/task/1",
	    "  probe_owner is B's dispatch");
	now = db_now(a);
	is_int(allow(a, cfg, NULL, t, "exec-a", &ra), 0, "A is held");
	ok(ra > now + 58000 && ra <= now + 60000,
	    "  until the probe's deadline (%lld ms away)",
	    (long long)(ra - now));
	is_int(allow(b, cfg, NULL, t, "exec-b/run/task/2", NULL), 0,
	    "B's next dispatch is held as well");

	/* The probe fails: OPEN again with 60s. */
	record(b, cfg, NULL, t, "exec-b/run/task/1", ERR_TIMEOUT, 1);
	is_str(row_state(a, t), "OPEN", "a failed probe re-opens");
	is_str(field(a, "cooldown_ms", t), "60000",
	    "  with the cool-down doubled");
	ok(rang(b, t), "  and rings");

	/* The next probe succeeds: closed and forgotten. */
	age(a, t);
	is_int(allow(a, cfg, NULL, t, "exec-a", NULL), 1, "A probes next");
	record(a, cfg, NULL, t, "exec-a", ERR_NONE, 1);
	is_str(row_state(a, t), "none", "its success closes (row deleted)");
	ok(rang(b, t), "  and rings");
	is_int(allow(b, cfg, NULL, t, "exec-b", NULL), 1, "B allowed again");
	tdb_q1(b, "UNLISTEN *", NULL);
	free(t);
}

static void
test_lost_and_released(PGconn *a, PGconn *b, const struct breaker_config *cfg)
{
	char *t = mktarget("lost");
	char *err = NULL;

	record(a, cfg, NULL, t, "a", ERR_CONNECTION, 5);
	age(a, t);
	is_int(allow(a, cfg, NULL, t, "a/1", NULL), 1, "A takes the probe");
	age(a, t); /* A died: its probe's deadline passes */
	is_int(allow(b, cfg, NULL, t, "b/1", NULL), 1,
	    "a lost probe: B becomes the probe");
	is_str(field(a, "probe_owner", t), "b/1", "  probe_owner is B");
	is_int(breakerdb_release(a, cfg, NULL, t, "a/1", &err), 0,
	    "A cannot give back B's probe");
	is_int(allow(a, cfg, NULL, t, "a/2", NULL), 0, "  A is held");
	is_int(breakerdb_release(b, cfg, NULL, t, "b/1", &err), 1,
	    "B gives its probe back");
	is_str(
	    field(a, "probe_until IS NULL", t), "t", "  probe_until cleared");
	is_int(allow(a, cfg, NULL, t, "a/3", NULL), 1, "A probes at once");
	is_int(breakerdb_reset(a, t, &err), 1, "reset deletes the row");
	is_int(breakerdb_reset(a, t, &err), 0, "  once");
	is_int(allow(b, cfg, NULL, t, "b", NULL), 1, "  and all may go");
	free(t);
}

static void
test_savepoint(PGconn *a, const struct breaker_config *cfg)
{
	char *t = mktarget("savepoint");

	record(a, cfg, NULL, t, "a", ERR_CONNECTION, 5);
	age(a, t);
	tdb_q1(a, "BEGIN", NULL);
	is_int(allow(a, cfg, NULL, t, "a", NULL), 1,
	    "inside the caller's transaction: the probe");
	ok(PQtransactionStatus(a) == PQTRANS_INTRANS,
	    "  the caller's transaction is still open");
	tdb_q1(a, "ROLLBACK", NULL);
	is_str(row_state(a, t), "OPEN", "  and rolls back with it");
	tdb_q1(a, "BEGIN", NULL);
	tdb_q1(a, "SELECT 1/0", NULL);
	{
		int64_t ra;
		char *err = NULL;

		ok(breakerdb_allow(a, cfg, NULL, t, "a", &ra, &err) == -1 &&
			err != NULL,
		    "a failed transaction: an error, no crash");
		free(err);
	}
	tdb_q1(a, "ROLLBACK", NULL);
	reset(a, t);
	free(t);
}

static void
test_shared_rate(PGconn *a, PGconn *b)
{
	struct breaker_config cfg;
	char *t = mktarget("rate");

	breaker_config_default(&cfg);
	cfg.cache_ms = 0;
	cfg.failures = 0;
	cfg.min_calls = 4;
	record(a, &cfg, NULL, t, "a", ERR_HTTP_SERVER, 1);
	record(b, &cfg, NULL, t, "b", ERR_NONE, 1);
	record(a, &cfg, NULL, t, "a", ERR_NONE, 1);
	is_str(row_state(a, t), "CLOSED", "rate: 1 of 3 calls failed");
	record(b, &cfg, NULL, t, "b", ERR_TIMEOUT, 1);
	is_str(row_state(a, t), "OPEN",
	    "  A's and B's calls share one window: 2 of 4 opens it");
	reset(a, t);
	free(t);
}

static void
test_cache(PGconn *a, PGconn *b)
{
	struct breaker_config cfg, nocache;
	struct breaker_cache *cb = breaker_cache_new();
	char *t = mktarget("cache");

	breaker_config_default(&cfg);
	cfg.cache_ms = 3600 * 1000;
	nocache = cfg;
	nocache.cache_ms = 0;
	is_int(allow(b, &cfg, cb, t, "b", NULL), 1, "B caches \"closed\"");
	record(a, &cfg, NULL, t, "a", ERR_CONNECTION, 5);
	is_int(allow(b, &cfg, cb, t, "b", NULL), 1,
	    "  and keeps dispatching while that lasts (the trade-off)");
	is_int(allow(b, &nocache, cb, t, "b", NULL), 0,
	    "  cache_ttl 0 reads the row");
	record(b, &cfg, cb, t, "b", ERR_CONNECTION, 1);
	is_int(allow(b, &cfg, cb, t, "b", NULL), 0,
	    "  B's own failure drops its cache at once");
	reset(a, t);
	/* Fill it past its size: it stays bounded and correct. */
	for (int i = 0; i < 300; i++) {
		char u[64];

		snprintf(u, sizeof(u), "http://many-%d.test:80", i);
		allow(b, &cfg, cb, u, "b", NULL);
	}
	is_int(allow(b, &cfg, cb, t, "b", NULL), 1, "a full cache still works");
	breaker_cache_free(cb);
	breaker_cache_free(NULL);
	free(t);
}

static void
test_disabled(PGconn *a, const struct breaker_config *on)
{
	struct breaker_config off = *on;
	char *t = mktarget("disabled");

	off.enabled = 0;
	record(a, on, NULL, t, "a", ERR_CONNECTION, 5);
	is_int(allow(a, &off, NULL, t, "a", NULL), 1,
	    "breaker.enabled = no: an open breaker does not hold");
	record(a, &off, NULL, t, "a", ERR_NONE, 1);
	is_str(row_state(a, t), "OPEN", "  nor is anything recorded");
	reset(a, t);
	free(t);
}

static void
test_list(PGconn *a, const struct breaker_config *cfg)
{
	char *t1 = mktarget("list-1"), *t2 = mktarget("list-2");
	char *err = NULL;
	jv list = jv_invalid(), e1 = jv_null(), e2 = jv_null();
	long n;

	record(a, cfg, NULL, t1, "a", ERR_CONNECTION, 5);
	record(a, cfg, NULL, t2, "a", ERR_CONNECTION, 2);
	record(a, cfg, NULL, t2, "a", ERR_NONE, 1);
	n = breakerdb_list(a, cfg, &list, &err);
	ok(n >= 2 && jv_get_kind(list) == JV_KIND_ARRAY &&
		jv_array_length(jv_copy(list)) == n,
	    "list: an array of %ld", n);
	jv_array_foreach(list, i, x)
	{
		jv tg = jv_object_get(jv_copy(x), jv_string("target"));

		if (strcmp(jv_string_value(tg), t1) == 0)
			e1 = jv_copy(x);
		else if (strcmp(jv_string_value(tg), t2) == 0)
			e2 = jv_copy(x);
		jv_free(tg);
		jv_free(x);
	}
	{
		jv d = jv_copy(e1), dump;

		d = jv_object_delete(d, jv_string("openedAt"));
		d = jv_object_delete(d, jv_string("retryAt"));
		d = jv_object_delete(d, jv_string("updatedAt"));
		d = jv_object_delete(d, jv_string("target"));
		dump = jv_dump_string(d, 0);
		is_str(jv_string_value(dump),
		    "{\"state\":\"OPEN\",\"consecutiveFailures\":5,"
		    "\"recentCalls\":5,\"recentFailures\":5,\"cooldownMs\":"
		    "30000,"
		    "\"probeOwner\":null,\"probeUntil\":null}",
		    "  the open target's entry");
		jv_free(dump);
	}
	{
		jv oa = jv_object_get(jv_copy(e1), jv_string("openedAt"));
		jv ra = jv_object_get(jv_copy(e1), jv_string("retryAt"));
		jv ua = jv_object_get(jv_copy(e1), jv_string("updatedAt"));

		ok(jv_get_kind(oa) == JV_KIND_STRING &&
			strlen(jv_string_value(oa)) == 24 &&
			jv_string_value(oa)[23] == 'Z',
		    "  openedAt is ISO UTC: %s",
		    jv_get_kind(oa) == JV_KIND_STRING ? jv_string_value(oa) :
							"?");
		ok(jv_get_kind(ra) == JV_KIND_STRING &&
			strcmp(jv_string_value(ra), jv_string_value(oa)) > 0,
		    "  retryAt after it");
		ok(jv_get_kind(ua) == JV_KIND_STRING, "  updatedAt");
		jv_free(oa);
		jv_free(ra);
		jv_free(ua);
	}
	{
		jv st = jv_object_get(jv_copy(e2), jv_string("state"));
		jv c = jv_object_get(jv_copy(e2), jv_string("recentCalls"));
		jv f = jv_object_get(jv_copy(e2), jv_string("recentFailures"));
		jv cf = jv_object_get(
		    jv_copy(e2), jv_string("consecutiveFailures"));
		jv ra = jv_object_get(jv_copy(e2), jv_string("retryAt"));

		ok(jv_get_kind(st) == JV_KIND_STRING &&
			strcmp(jv_string_value(st), "CLOSED") == 0 &&
			jv_number_value(c) == 3 && jv_number_value(f) == 2 &&
			jv_number_value(cf) == 0 &&
			jv_get_kind(ra) == JV_KIND_NULL,
		    "  the closed one: 3 calls, 2 failed, none in a row");
		jv_free(st);
		jv_free(c);
		jv_free(f);
		jv_free(cf);
		jv_free(ra);
	}
	jv_free(list);
	jv_free(e1);
	jv_free(e2);
	reset(a, t1);
	reset(a, t2);
	free(t1);
	free(t2);
}

/* ---- the race for the probe: N executors at once, many rounds ---- */

#define RACERS 8
#define ROUNDS 25

struct racer {
	PGconn *c;
	const struct breaker_config *cfg;
	const char *target;
	pthread_barrier_t *go;
	int won, errors;
	char owner[32];
};

static void *
race(void *arg)
{
	struct racer *r = arg;
	int64_t ra;
	char *err = NULL;
	int rc;

	pthread_barrier_wait(r->go);
	rc =
	    breakerdb_allow(r->c, r->cfg, NULL, r->target, r->owner, &ra, &err);
	if (rc < 0) {
		r->errors++;
		free(err);
	}
	r->won = rc == 1;
	return NULL;
}

static void
test_race(PGconn *a, const struct breaker_config *cfg)
{
	struct racer r[RACERS];
	pthread_t th[RACERS];
	pthread_barrier_t go;
	char *t = mktarget("race");
	int bad = 0, errors = 0;

	for (int i = 0; i < RACERS; i++) {
		r[i].c = conn();
		r[i].cfg = cfg;
		r[i].target = t;
		r[i].go = &go;
		r[i].errors = 0;
		snprintf(r[i].owner, sizeof(r[i].owner), "racer-%d", i);
	}
	record(a, cfg, NULL, t, "a", ERR_CONNECTION, 5);
	for (int round = 0; round < ROUNDS; round++) {
		int winners = 0, winner = -1;

		age(a, t);
		pthread_barrier_init(&go, NULL, RACERS);
		for (int i = 0; i < RACERS; i++)
			pthread_create(&th[i], NULL, race, &r[i]);
		for (int i = 0; i < RACERS; i++) {
			pthread_join(th[i], NULL);
			if (r[i].won) {
				winners++;
				winner = i;
			}
			errors += r[i].errors;
		}
		pthread_barrier_destroy(&go);
		if (winners != 1 ||
		    strcmp(field(a, "probe_owner", t), r[winner].owner) != 0) {
			printf("# round %d: %d winners\n", round, winners);
			bad++;
		}
		/* The probe fails: OPEN again for the next round. */
		record(a, cfg, NULL, t, "a", ERR_CONNECTION, 1);
	}
	ok(bad == 0 && errors == 0,
	    "%d executors race for the probe %d times: one winner each time",
	    RACERS, ROUNDS);
	for (int i = 0; i < RACERS; i++)
		PQfinish(r[i].c);
	reset(a, t);
	free(t);
}

int
main(void)
{
	struct breaker_config cfg;
	PGconn *a, *b;
	char *err = NULL;
	int from, to;

	test_config();
	url = getenv("LOOM_DATABASE_URL");
	if (url == NULL || *url == '\0') {
		ok(1, "# skip database tests: LOOM_DATABASE_URL is not set");
		return t_done();
	}
	a = conn();
	b = conn();
	if (db_migrate(a, &from, &to, &err) < 0) {
		printf("Bail out! %s\n", err);
		return 1;
	}
	breaker_config_default(&cfg);
	cfg.cache_ms = 0; /* each connection must see the row */
	test_fast_path(a, &cfg);
	test_shared_open(a, b, &cfg);
	test_lost_and_released(a, b, &cfg);
	test_savepoint(a, &cfg);
	test_shared_rate(a, b);
	test_cache(a, b);
	test_disabled(a, &cfg);
	test_list(a, &cfg);
	test_race(a, &cfg);
	PQfinish(a);
	PQfinish(b);
	return t_done();
}
