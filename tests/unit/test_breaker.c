/*
 * test_breaker: the pure circuit breaker (lib/core/breaker.c).
 *
 * Each scenario is a script of steps run against one breaker with made-up
 * times: ALLOW checks the answer, RECORD feeds results (rep times), and
 * every step checks the state and, when given, breaker_retry_at() after it.
 * The default config is 5 in a row, or 50% of at least 20 calls in 60s
 * (six 10s buckets), cool-down 30s doubling to 5m, probes lost after 1m.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "core/breaker.h"
#include "t.h"

enum op { END = 0, ALLOW, RECORD, RELEASE };

#define C BREAKER_CLOSED
#define O BREAKER_OPEN
#define H BREAKER_HALF_OPEN
#define ANY (-1) /* retry_at not checked */

struct step {
	enum op op;
	int64_t t;
	enum errclass oc;   /* RECORD */
	int rep;	    /* RECORD: how many (0 = 1) */
	int want;	    /* ALLOW: 1 allowed, 0 held */
	enum breaker_st st; /* state after the step */
	int64_t retry_at;   /* after the step, or ANY */
};

struct scenario {
	const char *name;
	int failures, min_calls; /* -1: default */
	double rate;		 /* -1: default */
	int enabled;		 /* -1: default */
	struct step steps[24];
};

#define OK ERR_NONE
#define TMO ERR_TIMEOUT
#define CONN ERR_CONNECTION
#define S5XX ERR_HTTP_SERVER
#define S4XX ERR_HTTP_CLIENT
#define VAL ERR_VALIDATION
#define NF ERR_NOT_FOUND
#define TF ERR_TASK_FAILED

/* clang-format off */
static const struct scenario scenarios[] = {
	{ "five in a row open it", -1, -1, -1, -1, {
		{ RECORD, 1000, CONN, 4, 0, C, 0 },
		{ ALLOW, 1000, 0, 0, 1, C, 0 },
		{ RECORD, 2000, TMO, 0, 0, O, 32000 },
		{ ALLOW, 2001, 0, 0, 0, O, 32000 },
	} },
	{ "a success breaks the run", -1, -1, -1, -1, {
		{ RECORD, 1000, S5XX, 4, 0, C, 0 },
		{ RECORD, 1001, OK, 0, 0, C, 0 },
		{ RECORD, 1002, S5XX, 4, 0, C, 0 },
		{ RECORD, 1003, S5XX, 0, 0, O, 31003 },
	} },
	{ "rate: 50% of 20 calls", 0, -1, -1, -1, {
		{ RECORD, 1000, OK, 10, 0, C, 0 },
		{ RECORD, 2000, CONN, 9, 0, C, 0 },
		{ RECORD, 3000, CONN, 0, 0, O, 33000 },
	} },
	{ "rate: below min_calls never opens", 0, -1, -1, -1, {
		{ RECORD, 1000, CONN, 19, 0, C, 0 },
		/* 20 calls, 19 failed: only a failure trips it */
		{ RECORD, 2000, OK, 0, 0, C, 0 },
		{ RECORD, 2001, OK, 0, 0, C, 0 },
		/* 22 calls, 20 failed */
		{ RECORD, 2002, TMO, 0, 0, O, 32002 },
	} },
	{ "rate: just under the rate stays closed", 0, -1, -1, -1, {
		{ RECORD, 1000, OK, 11, 0, C, 0 },
		{ RECORD, 1000, TMO, 10, 0, C, 0 },	/* 10/21 < 50% */
		{ RECORD, 1000, OK, 0, 0, C, 0 },
		{ RECORD, 1000, TMO, 0, 0, C, 0 },	/* 11/23 */
		{ RECORD, 1000, TMO, 0, 0, O, 31000 },	/* 12/24 */
	} },
	{ "rate: custom 0.25 with min_calls 4", 0, 4, 0.25, -1, {
		{ RECORD, 1000, OK, 2, 0, C, 0 },
		{ RECORD, 1000, TMO, 0, 0, C, 0 },	/* 3 calls: too few */
		{ RECORD, 1000, OK, 0, 0, C, 0 },	/* 1/4, a success */
		{ RECORD, 1000, OK, 0, 0, C, 0 },
		{ RECORD, 1000, TMO, 0, 0, O, 31000 },	/* 2/6 >= 25% */
	} },
	{ "window: failures still inside it count", 0, -1, -1, -1, {
		{ RECORD, 1000, CONN, 10, 0, C, 0 },
		/* bucket [0,10s) is still in the window at 55s */
		{ RECORD, 55000, CONN, 9, 0, C, 0 },
		{ RECORD, 55000, CONN, 0, 0, O, 85000 },
	} },
	{ "window: old failures age out", 0, -1, -1, -1, {
		{ RECORD, 1000, CONN, 10, 0, C, 0 },
		/* at 60s the [0,10s) bucket has left the window */
		{ RECORD, 60000, CONN, 10, 0, C, 0 },
		{ RECORD, 119999, CONN, 9, 0, C, 0 },
		/* 60s..120s holds 19 failures: one more opens it */
		{ RECORD, 119999, CONN, 0, 0, O, 149999 },
	} },
	{ "window: a slot one lap old is recycled", 0, -1, -1, -1, {
		{ RECORD, 5000, CONN, 15, 0, C, 0 },
		/* 65s lands in the same slot as 5s: it must be reset */
		{ RECORD, 65000, OK, 0, 0, C, 0 },
		{ RECORD, 65000, CONN, 4, 0, C, 0 },
	} },
	{ "cool-down, then exactly one probe", -1, -1, -1, -1, {
		{ RECORD, 1000, CONN, 5, 0, O, 31000 },
		{ ALLOW, 30999, 0, 0, 0, O, 31000 },
		{ ALLOW, 31000, 0, 0, 1, H, 91000 },
		{ ALLOW, 31001, 0, 0, 0, H, 91000 },
		{ ALLOW, 45000, 0, 0, 0, H, 91000 },
	} },
	{ "the probe's success closes it, counters reset", -1, -1, -1, -1, {
		{ RECORD, 1000, CONN, 5, 0, O, 31000 },
		{ ALLOW, 40000, 0, 0, 1, H, 100000 },
		{ RECORD, 41000, OK, 0, 0, C, 0 },
		{ ALLOW, 41001, 0, 0, 1, C, 0 },
		{ RECORD, 42000, CONN, 4, 0, C, 0 },
		{ RECORD, 42000, CONN, 0, 0, O, 72000 },
	} },
	{ "a failed probe re-opens, cool-down doubles to the cap", -1, -1, -1,
	    -1, {
		{ RECORD, 0, CONN, 5, 0, O, 30000 },
		{ ALLOW, 30000, 0, 0, 1, H, ANY },
		{ RECORD, 30500, TMO, 0, 0, O, 90500 },		/* 60s */
		{ ALLOW, 90000, 0, 0, 0, O, 90500 },
		{ ALLOW, 90500, 0, 0, 1, H, ANY },
		{ RECORD, 91000, S5XX, 0, 0, O, 211000 },	/* 2m */
		{ ALLOW, 211000, 0, 0, 1, H, ANY },
		{ RECORD, 211000, CONN, 0, 0, O, 451000 },	/* 4m */
		{ ALLOW, 451000, 0, 0, 1, H, ANY },
		{ RECORD, 451000, CONN, 0, 0, O, 751000 },	/* 5m cap */
		{ ALLOW, 751000, 0, 0, 1, H, ANY },
		{ RECORD, 751000, CONN, 0, 0, O, 1051000 },	/* still 5m */
		{ ALLOW, 1051000, 0, 0, 1, H, ANY },
		/* success closes; the next outage starts again at 30s */
		{ RECORD, 1052000, OK, 0, 0, C, 0 },
		{ RECORD, 1053000, CONN, 5, 0, O, 1083000 },
	} },
	{ "4xx, validation, not found, FAILED: the target is alive", -1, -1,
	    -1, -1, {
		{ RECORD, 1000, CONN, 4, 0, C, 0 },
		{ RECORD, 1000, S4XX, 0, 0, C, 0 },
		{ RECORD, 1000, CONN, 4, 0, C, 0 },
		{ RECORD, 1000, VAL, 0, 0, C, 0 },
		{ RECORD, 1000, CONN, 4, 0, C, 0 },
		{ RECORD, 1000, NF, 0, 0, C, 0 },
		{ RECORD, 1000, CONN, 4, 0, C, 0 },
		{ RECORD, 1000, TF, 0, 0, C, 0 },
		{ RECORD, 1000, TF, 40, 0, C, 0 },
		{ RECORD, 1000, CONN, 4, 0, C, 0 },
	} },
	{ "a 4xx answer to the probe closes it", -1, -1, -1, -1, {
		{ RECORD, 1000, S5XX, 5, 0, O, 31000 },
		{ ALLOW, 31000, 0, 0, 1, H, ANY },
		{ RECORD, 31500, VAL, 0, 0, C, 0 },
	} },
	{ "a lost probe expires and the next caller probes", -1, -1, -1, -1, {
		{ RECORD, 0, CONN, 5, 0, O, 30000 },
		{ ALLOW, 30000, 0, 0, 1, H, 90000 },
		{ ALLOW, 89999, 0, 0, 0, H, 90000 },
		{ ALLOW, 90000, 0, 0, 1, H, 150000 },
		{ ALLOW, 90001, 0, 0, 0, H, 150000 },
	} },
	{ "a released probe goes to the next caller", -1, -1, -1, -1, {
		{ RECORD, 0, CONN, 5, 0, O, 30000 },
		{ ALLOW, 30000, 0, 0, 1, H, 90000 },
		{ RELEASE, 30001, 0, 0, 0, H, 0 },
		{ ALLOW, 30002, 0, 0, 1, H, 90002 },
		{ ALLOW, 30003, 0, 0, 0, H, 90002 },
	} },
	{ "results of requests sent before it opened are ignored", -1, -1,
	    -1, -1, {
		{ RECORD, 0, CONN, 5, 0, O, 30000 },
		{ RECORD, 100, OK, 3, 0, O, 30000 },
		{ RECORD, 200, CONN, 3, 0, O, 30000 },
		{ ALLOW, 29999, 0, 0, 0, O, 30000 },
	} },
	{ "clock stepped back: the cool-down restarts from now", -1, -1, -1,
	    -1, {
		{ RECORD, 1000000, CONN, 5, 0, O, 1030000 },
		{ ALLOW, 500000, 0, 0, 0, O, 530000 },
		{ ALLOW, 530000, 0, 0, 1, H, 590000 },
		/* and a probe deadline from the future is pulled in */
		{ ALLOW, 100000, 0, 0, 0, H, 160000 },
	} },
	{ "disabled: never holds", -1, -1, -1, 0, {
		{ RECORD, 1000, CONN, 50, 0, C, 0 },
		{ ALLOW, 1001, 0, 0, 1, C, 0 },
	} },
	{ "both triggers off: never opens", 0, -1, 0, -1, {
		{ RECORD, 1000, CONN, 100, 0, C, 0 },
		{ ALLOW, 1001, 0, 0, 1, C, 0 },
	} },
};
/* clang-format on */

static void
run_scenario(const struct scenario *sc)
{
	struct breaker_config cfg;
	struct breaker_state s;
	int bad = 0;

	breaker_config_default(&cfg);
	if (sc->failures >= 0)
		cfg.failures = sc->failures;
	if (sc->min_calls >= 0)
		cfg.min_calls = sc->min_calls;
	if (sc->rate >= 0)
		cfg.rate = sc->rate;
	if (sc->enabled >= 0)
		cfg.enabled = sc->enabled;
	breaker_state_init(&s);
	for (int i = 0; sc->steps[i].op != END; i++) {
		const struct step *st = &sc->steps[i];
		int got = -1;

		switch (st->op) {
		case ALLOW:
			got = breaker_allow(&s, &cfg, st->t);
			break;
		case RECORD:
			for (int r = 0; r < (st->rep ? st->rep : 1); r++)
				breaker_record(&s, &cfg, st->t, st->oc);
			break;
		case RELEASE:
			breaker_release_probe(&s);
			break;
		case END:
			break;
		}
		if (st->op == ALLOW && got != st->want) {
			printf(
			    "# step %d: allow %d, want %d\n", i, got, st->want);
			bad++;
		}
		if (s.state != st->st) {
			printf("# step %d: state %s, want %s\n", i,
			    breaker_state_name(s.state),
			    breaker_state_name(st->st));
			bad++;
		}
		if (st->retry_at != ANY &&
		    breaker_retry_at(&s, &cfg) != st->retry_at) {
			printf("# step %d: retry_at %lld, want %lld\n", i,
			    (long long)breaker_retry_at(&s, &cfg),
			    (long long)st->retry_at);
			bad++;
		}
	}
	ok(bad == 0, "%s", sc->name);
}

/* clang-format off */
static const struct {
	const char *url;
	const char *want;	/* NULL: refused */
	int err;
} targets[] = {
	{ "http://user-backend:8080/api/tasks/fetch-data",
	    "http://user-backend:8080", 0 },
	{ "http://example.com", "http://example.com:80", 0 },
	{ "https://example.com/", "https://example.com:443", 0 },
	{ "HTTPS://Example.COM:8443/A/B?x=Y#Z", "https://example.com:8443", 0 },
	{ "HtTp://EXAMPLE.com?q=1", "http://example.com:80", 0 },
	{ "http://example.com#frag", "http://example.com:80", 0 },
	{ "http://example.com:/x", "http://example.com:80", 0 },
	{ "http://example.com:0080/", "http://example.com:80", 0 },
	{ "https://example.com:80", "https://example.com:80", 0 },
	{ "http://bob:s3cret@Example.com:81/", "http://example.com:81", 0 },
	{ "http://a@b@host/", "http://host:80", 0 },
	{ "http://[::1]:8080/x", "http://[::1]:8080", 0 },
	{ "http://[::1]/", "http://[::1]:80", 0 },
	{ "https://[FE80::1%25eth0]/", "https://[fe80::1%25eth0]:443", 0 },
	{ "http://127.0.0.1:65535", "http://127.0.0.1:65535", 0 },
	{ "http://xn--bcher-kva.example/", "http://xn--bcher-kva.example:80",
	    0 },
	{ "ftp://example.com/", NULL, EINVAL },
	{ "file:///etc/passwd", NULL, EINVAL },
	{ "http+unix://x/", NULL, EINVAL },
	{ "example.com:80", NULL, EINVAL },
	{ "http:/example.com", NULL, EINVAL },
	{ "http://", NULL, EINVAL },
	{ "http:///path", NULL, EINVAL },
	{ "http://:8080/", NULL, EINVAL },
	{ "http://user@/", NULL, EINVAL },
	{ "http://example.com:65536/", NULL, EINVAL },
	{ "http://example.com:0/", NULL, EINVAL },
	{ "http://example.com:99999999999999999999/", NULL, EINVAL },
	{ "http://example.com:8o/", NULL, EINVAL },
	{ "http://exa mple.com/", NULL, EINVAL },
	{ "http://exa\tmple.com/", NULL, EINVAL },
	{ "http://a:1:2/", NULL, EINVAL },
	{ "http://[::1/", NULL, EINVAL },
	{ "http://[]/", NULL, EINVAL },
	{ "http://[::1]x/", NULL, EINVAL },
	{ "", NULL, EINVAL },
};
/* clang-format on */

static void
test_targets(void)
{
	char buf[BREAKER_TARGET_MAX], small[16], big[400];

	for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		int rc;

		errno = 0;
		rc = breaker_target_of(targets[i].url, buf, sizeof(buf));
		if (targets[i].want) {
			is_int(rc, 0, "target of %s", targets[i].url);
			is_str(
			    buf, targets[i].want, "  is %s", targets[i].want);
		} else
			ok(rc == -1 && errno == targets[i].err &&
				buf[0] == '\0',
			    "target of \"%s\" refused", targets[i].url);
	}
	ok(breaker_target_of(NULL, buf, sizeof(buf)) == -1 && errno == EINVAL,
	    "NULL url refused");
	/* exactly fits: "http://abcdefg:80" is 17 bytes + NUL */
	is_int(breaker_target_of("http://abcdefg", buf, 18), 0,
	    "a target that just fits");
	ok(breaker_target_of("http://abcdefgh", small, sizeof(small)) == -1 &&
		errno == ERANGE && small[0] == '\0',
	    "too small a buffer: ERANGE");
	memset(big, 'a', sizeof(big));
	memcpy(big, "http://", 7);
	big[sizeof(big) - 1] = '\0';
	ok(breaker_target_of(big, buf, sizeof(buf)) == -1 && errno == ERANGE,
	    "a host longer than BREAKER_TARGET_MAX: ERANGE");
}

static void
test_classes(void)
{
	static const struct {
		enum errclass c;
		int failure;
	} t[] = {
		{ ERR_NONE, 0 },
		{ ERR_TIMEOUT, 1 },
		{ ERR_CONNECTION, 1 },
		{ ERR_HTTP_SERVER, 1 },
		{ ERR_HTTP_CLIENT, 0 },
		{ ERR_NOT_FOUND, 0 },
		{ ERR_VALIDATION, 0 },
		{ ERR_TASK_FAILED, 0 },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		is_int(breaker_is_failure(t[i].c), t[i].failure,
		    "%s counts as %s", i ? errclass_name(t[i].c) : "success",
		    t[i].failure ? "a failure" : "alive");
	ok(breaker_is_failure(errclass_from_http(429)),
	    "429 Too Many Requests counts as a failure");
	ok(breaker_is_failure(errclass_from_http(503)), "503 counts");
	ok(!breaker_is_failure(errclass_from_http(400)), "400 does not");
}

static void
test_names(void)
{
	enum breaker_st st;

	for (int i = BREAKER_CLOSED; i <= BREAKER_HALF_OPEN; i++) {
		const char *n = breaker_state_name((enum breaker_st)i);

		ok(breaker_state_parse(n, &st) == 0 && (int)st == i,
		    "state name %s round-trips", n);
	}
	is_str(breaker_state_name((enum breaker_st)42), "", "unknown name");
	ok(breaker_state_parse("closed", &st) == -1 && errno == EINVAL,
	    "names are exact");
	ok(breaker_state_parse(NULL, &st) == -1, "NULL name refused");
}

static void
test_extremes(void)
{
	struct breaker_config cfg;
	struct breaker_state s;
	long calls, fails;

	/* Times near INT64_MAX must saturate, never wrap. */
	breaker_config_default(&cfg);
	cfg.cooldown_ms = INT64_MAX / 4;
	cfg.max_cooldown_ms = INT64_MAX;
	breaker_state_init(&s);
	for (int i = 0; i < 5; i++)
		breaker_record(&s, &cfg, INT64_MAX - 5, ERR_CONNECTION);
	is_int(breaker_retry_at(&s, &cfg), INT64_MAX, "retry_at saturates");
	is_int(breaker_allow(&s, &cfg, INT64_MAX - 1), 0, "still held");
	s.cooldown_ms = 0;
	is_int(breaker_allow(&s, &cfg, INT64_MAX - 1), 1,
	    "zero cool-down probes at once");
	breaker_record(&s, &cfg, INT64_MAX - 1, ERR_CONNECTION);
	is_int(s.cooldown_ms, INT64_MAX / 4 * 2, "0 grows from the config");
	is_int(
	    breaker_allow(&s, &cfg, INT64_MAX), 1, "probe at the end of time");
	is_int(breaker_retry_at(&s, &cfg), INT64_MAX, "probe deadline too");
	s.cooldown_ms = INT64_MAX - 1;
	breaker_record(&s, &cfg, INT64_MAX, ERR_CONNECTION);
	is_int(s.cooldown_ms, INT64_MAX, "doubling is capped, no overflow");

	/* A window shorter than its bucket count still works. */
	breaker_config_default(&cfg);
	cfg.window_ms = 3;
	cfg.failures = 0;
	cfg.min_calls = 2;
	breaker_state_init(&s);
	breaker_record(&s, &cfg, 10, ERR_CONNECTION);
	breaker_window(&s, &cfg, 10, &calls, &fails);
	ok(calls == 1 && fails == 1, "tiny window counts");
	breaker_window(&s, &cfg, 20, &calls, NULL);
	is_int(calls, 0, "tiny window forgets");

	/* Times before the epoch (a test clock) bucket correctly. */
	breaker_config_default(&cfg);
	breaker_state_init(&s);
	breaker_record(&s, &cfg, -1, ERR_CONNECTION);
	breaker_record(&s, &cfg, 1, ERR_NONE);
	breaker_window(&s, &cfg, 1, &calls, &fails);
	ok(calls == 2 && fails == 1, "negative times bucket with floor");
	breaker_window(&s, &cfg, -1, &calls, &fails);
	ok(calls == 1 && fails == 1, "a future bucket is not counted");

	/* max_cooldown below cooldown: cooldown wins (config said so). */
	breaker_config_default(&cfg);
	cfg.max_cooldown_ms = 1000;
	breaker_state_init(&s);
	for (int i = 0; i < 5; i++)
		breaker_record(&s, &cfg, 0, ERR_CONNECTION);
	breaker_allow(&s, &cfg, 30000);
	breaker_record(&s, &cfg, 30000, ERR_CONNECTION);
	is_int(s.cooldown_ms, 30000, "cap below the cool-down: no growth");

	/* An unknown state (a corrupt row) lets traffic through. */
	breaker_state_init(&s);
	s.state = (enum breaker_st)7;
	is_int(breaker_allow(&s, &cfg, 0), 1, "unknown state allows");
	is_int(breaker_retry_at(&s, &cfg), 0, "unknown state: no wait");
	breaker_record(&s, &cfg, 0, ERR_NONE);
	is_int(s.state, BREAKER_CLOSED, "unknown state records as closed");
	breaker_release_probe(&s);
	is_int(s.state, BREAKER_CLOSED, "release on CLOSED is a no-op");
}

int
main(void)
{
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		run_scenario(&scenarios[i]);
	test_targets();
	test_classes();
	test_names();
	test_extremes();
	return t_done();
}
