/* Unit tests for retry.c: error classes, policies and backoff delays. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/retry.h"
#include "t.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define MIN5 (5 * 60 * 1000)

static void
test_names(void)
{
	static const struct {
		enum errclass c;
		const char *name;
	} names[] = {
		{ ERR_TIMEOUT, "TimeoutException" },
		{ ERR_CONNECTION, "ConnectionException" },
		{ ERR_HTTP_SERVER, "HttpServerError" },
		{ ERR_HTTP_CLIENT, "HttpClientError" },
		{ ERR_NOT_FOUND, "ResourceNotFoundException" },
		{ ERR_VALIDATION, "ValidationException" },
		{ ERR_TASK_FAILED, "TaskFailedException" },
	};
	static const struct {
		const char *in;
		enum errclass want;
	} notes[] = {
		{ "HttpServerError (5xx)", ERR_HTTP_SERVER },
		{ "ResourceNotFoundException (4xx)", ERR_NOT_FOUND },
		{ "  TimeoutException  ", ERR_TIMEOUT },
		{ "\tValidationException(400/422) ", ERR_VALIDATION },
		{ "HttpClientError ()", ERR_HTTP_CLIENT },
	};
	static const char *bad[] = { "", " ", "Timeout", "timeoutexception",
		"TIMEOUTEXCEPTION", "TimeoutExceptionX", "(5xx)",
		"HttpServerError (5xx", "HttpServerError 5xx)",
		"HttpServerError (5xx) x", "Http ServerError" };
	enum errclass c;

	is_int(NELEM(names), ERR__COUNT - 1, "every class is in the table");
	for (size_t i = 0; i < NELEM(names); i++) {
		is_str(errclass_name(names[i].c), names[i].name, "name of %d",
		    names[i].c);
		c = ERR_NONE;
		ok(errclass_parse(names[i].name, &c) == 0 && c == names[i].c,
		    "parse \"%s\"", names[i].name);
		c = ERR_NONE;
		ok(errclass_parse(errclass_name(names[i].c), &c) == 0 &&
			c == names[i].c,
		    "round trip %s", names[i].name);
	}
	is_str(errclass_name(ERR_NONE), "", "ERR_NONE has no name");
	is_str(errclass_name(ERR__COUNT), "", "out of range has no name");
	for (size_t i = 0; i < NELEM(notes); i++) {
		c = ERR_NONE;
		ok(errclass_parse(notes[i].in, &c) == 0 && c == notes[i].want,
		    "parse \"%s\"", notes[i].in);
	}
	for (size_t i = 0; i < NELEM(bad); i++) {
		c = ERR_TASK_FAILED;
		errno = 0;
		ok(errclass_parse(bad[i], &c) == -1 && errno == EINVAL &&
			c == ERR_TASK_FAILED,
		    "refuse \"%s\"", bad[i]);
	}
	ok(errclass_parse(NULL, &c) == -1, "refuse NULL");
}

static void
test_http(void)
{
	static const struct {
		int status;
		enum errclass want;
	} map[] = {
		{ 100, ERR_NONE },
		{ 200, ERR_NONE },
		{ 202, ERR_NONE },
		{ 204, ERR_NONE },
		{ 301, ERR_NONE },
		{ 399, ERR_NONE },
		{ 400, ERR_VALIDATION },
		{ 401, ERR_HTTP_CLIENT },
		{ 403, ERR_HTTP_CLIENT },
		{ 404, ERR_NOT_FOUND },
		{ 405, ERR_HTTP_CLIENT },
		{ 408, ERR_HTTP_CLIENT },
		{ 409, ERR_HTTP_CLIENT },
		{ 422, ERR_VALIDATION },
		{ 429, ERR_HTTP_SERVER },
		{ 499, ERR_HTTP_CLIENT },
		{ 500, ERR_HTTP_SERVER },
		{ 502, ERR_HTTP_SERVER },
		{ 503, ERR_HTTP_SERVER },
		{ 504, ERR_HTTP_SERVER },
		{ 599, ERR_HTTP_SERVER },
		{ 0, ERR_HTTP_SERVER },
		{ 99, ERR_HTTP_SERVER },
		{ 600, ERR_HTTP_SERVER },
		{ -1, ERR_HTTP_SERVER },
	};

	for (size_t i = 0; i < NELEM(map); i++)
		is_int(errclass_from_http(map[i].status), map[i].want,
		    "HTTP %d -> %s", map[i].status, errclass_name(map[i].want));
}

static void
test_backoff_names(void)
{
	static const struct {
		const char *in;
		int ret;
		enum backoff want;
	} tab[] = {
		{ "exponential", 0, BACKOFF_EXPONENTIAL },
		{ "linear", 0, BACKOFF_LINEAR },
		{ "fixed", 0, BACKOFF_FIXED },
		{ "EXPONENTIAL", 0, BACKOFF_EXPONENTIAL },
		{ "Fixed", 0, BACKOFF_FIXED },
		{ "", -1, 0 },
		{ "expo", -1, 0 },
		{ "random", -1, 0 },
	};
	enum backoff b;

	for (size_t i = 0; i < NELEM(tab); i++) {
		b = (enum backoff)99;
		is_int(backoff_parse(tab[i].in, &b), tab[i].ret,
		    "backoff_parse \"%s\"", tab[i].in);
		if (tab[i].ret == 0)
			is_int(
			    b, tab[i].want, "backoff \"%s\" value", tab[i].in);
		else
			is_int(b, 99, "backoff \"%s\" untouched", tab[i].in);
	}
	is_str(backoff_name(BACKOFF_EXPONENTIAL), "exponential", "name exp");
	is_str(backoff_name(BACKOFF_LINEAR), "linear", "name linear");
	is_str(backoff_name(BACKOFF_FIXED), "fixed", "name fixed");
	for (int i = BACKOFF_EXPONENTIAL; i <= BACKOFF_FIXED; i++)
		ok(backoff_parse(backoff_name(i), &b) == 0 && (int)b == i,
		    "backoff round trip %d", i);
}

static void
test_defaults(void)
{
	struct retry_policy p;

	memset(&p, 0xa5, sizeof(p));
	retry_policy_default(&p);
	is_int(p.max_attempts, 3, "default max_attempts");
	is_int(p.strategy, BACKOFF_EXPONENTIAL, "default strategy");
	is_int(p.initial_delay_ms, 1000, "default initial delay");
	is_int(p.max_delay_ms, MIN5, "default cap 5m");
	ok(p.multiplier == 2.0, "default multiplier 2");
	ok(p.jitter == 0.1, "default jitter 0.1");
	is_int(p.retry_on,
	    ERRCLASS_BIT(ERR_TIMEOUT) | ERRCLASS_BIT(ERR_CONNECTION) |
		ERRCLASS_BIT(ERR_HTTP_SERVER),
	    "default retryOn");
	is_int(p.dont_retry_on,
	    ERRCLASS_BIT(ERR_VALIDATION) | ERRCLASS_BIT(ERR_NOT_FOUND) |
		ERRCLASS_BIT(ERR_HTTP_CLIENT),
	    "default dontRetryOn");

	/* The seed's sequence, jitter off: 1s, 2s, 4s, 8s, 16s. */
	p.jitter = 0;
	p.max_attempts = 6;
	for (int a = 1; a <= 5; a++)
		is_int(retry_next_delay(&p, a, 0.5), 1000LL << (a - 1),
		    "default exponential attempt %d", a);
}

static void
test_delays(void)
{
	static const struct {
		enum backoff strategy;
		int64_t initial, cap;
		double multiplier;
		int attempt;
		int64_t want;
	} tab[] = {
		/* exponential: initial * multiplier^(attempt-1) */
		{ BACKOFF_EXPONENTIAL, 1000, MIN5, 2, 1, 1000 },
		{ BACKOFF_EXPONENTIAL, 1000, MIN5, 2, 2, 2000 },
		{ BACKOFF_EXPONENTIAL, 1000, MIN5, 2, 3, 4000 },
		{ BACKOFF_EXPONENTIAL, 1000, MIN5, 2, 4, 8000 },
		{ BACKOFF_EXPONENTIAL, 1000, MIN5, 2, 5, 16000 },
		{ BACKOFF_EXPONENTIAL, 1000, MIN5, 2, 9, 256000 },
		{ BACKOFF_EXPONENTIAL, 1000, MIN5, 2, 10, MIN5 },
		{ BACKOFF_EXPONENTIAL, 500, 60000, 3, 1, 500 },
		{ BACKOFF_EXPONENTIAL, 500, 60000, 3, 3, 4500 },
		{ BACKOFF_EXPONENTIAL, 500, 60000, 3, 5, 40500 },
		{ BACKOFF_EXPONENTIAL, 500, 60000, 3, 6, 60000 },
		{ BACKOFF_EXPONENTIAL, 100, 1000, 1.5, 2, 150 },
		{ BACKOFF_EXPONENTIAL, 100, 1000, 1.5, 3, 225 },
		{ BACKOFF_EXPONENTIAL, 1000, MIN5, 1, 7, 1000 },
		{ BACKOFF_EXPONENTIAL, 0, MIN5, 2, 50, 0 },
		{ BACKOFF_EXPONENTIAL, 1000, MIN5, 2, 0, 1000 },
		{ BACKOFF_EXPONENTIAL, 1000, MIN5, 2, -5, 1000 },
		/* linear: initial * attempt */
		{ BACKOFF_LINEAR, 1000, MIN5, 2, 1, 1000 },
		{ BACKOFF_LINEAR, 1000, MIN5, 2, 2, 2000 },
		{ BACKOFF_LINEAR, 1000, MIN5, 2, 3, 3000 },
		{ BACKOFF_LINEAR, 1000, MIN5, 2, 10, 10000 },
		{ BACKOFF_LINEAR, 30000, MIN5, 2, 11, MIN5 },
		{ BACKOFF_LINEAR, 250, MIN5, 9, 4, 1000 },
		/* fixed: initial */
		{ BACKOFF_FIXED, 1500, MIN5, 2, 1, 1500 },
		{ BACKOFF_FIXED, 1500, MIN5, 2, 2, 1500 },
		{ BACKOFF_FIXED, 1500, MIN5, 2, 100, 1500 },
		{ BACKOFF_FIXED, 10 * 60000, MIN5, 2, 1, MIN5 },
		/* the cap applies to the first delay too */
		{ BACKOFF_EXPONENTIAL, 5000, 3000, 2, 1, 3000 },
		/* negative initial delay: never a negative delay */
		{ BACKOFF_FIXED, -100, MIN5, 2, 1, 0 },
		{ BACKOFF_LINEAR, -100, MIN5, 2, 3, 0 },
	};
	struct retry_policy p;

	for (size_t i = 0; i < NELEM(tab); i++) {
		retry_policy_default(&p);
		p.strategy = tab[i].strategy;
		p.initial_delay_ms = tab[i].initial;
		p.max_delay_ms = tab[i].cap;
		p.multiplier = tab[i].multiplier;
		p.jitter = 0;
		is_int(retry_next_delay(&p, tab[i].attempt, 0.7), tab[i].want,
		    "%s initial %lld x%g cap %lld attempt %d -> %lld",
		    backoff_name(tab[i].strategy), (long long)tab[i].initial,
		    tab[i].multiplier, (long long)tab[i].cap, tab[i].attempt,
		    (long long)tab[i].want);
	}
}

static void
test_jitter(void)
{
	static const double jitters[] = { 0.1, 0.25, 0.5, 1.0 };
	struct retry_policy p;
	int64_t d, base;

	retry_policy_default(&p);
	p.max_delay_ms = 0; /* no cap: look at jitter alone */
	for (size_t i = 0; i < NELEM(jitters); i++) {
		p.jitter = jitters[i];
		for (int a = 1; a <= 5; a++) {
			base = 1000LL << (a - 1);
			d = retry_next_delay(&p, a, 0);
			is_int(d, (int64_t)(base * (1 - jitters[i]) + 0.5),
			    "jitter %g attempt %d rand 0: lowest", jitters[i],
			    a);
			d = retry_next_delay(&p, a, 0.999);
			ok(d > base && d <= base * (1 + jitters[i]) + 0.5,
			    "jitter %g attempt %d rand 0.999: %lld in (%lld, "
			    "%g]",
			    jitters[i], a, (long long)d, (long long)base,
			    base * (1 + jitters[i]));
			d = retry_next_delay(&p, a, 0.5);
			is_int(d, base, "jitter %g attempt %d rand 0.5: base",
			    jitters[i], a);
		}
	}
	p.jitter = 0.1;
	is_int(retry_next_delay(&p, 1, 0.999), 1100,
	    "jitter 0.1 rand 0.999 rounds to 1100");
	/* Out-of-range draws and jitter are clamped, not trusted. */
	is_int(retry_next_delay(&p, 1, -3), 900, "rand < 0 counts as 0");
	is_int(retry_next_delay(&p, 1, 7), 1100, "rand > 1 counts as 1");
	p.jitter = 5;
	is_int(retry_next_delay(&p, 1, 0), 0, "jitter > 1 counts as 1");
	p.jitter = -1;
	is_int(retry_next_delay(&p, 1, 0), 1000, "jitter < 0 counts as 0");

	/* The cap is applied after jitter. */
	p.jitter = 0.5;
	p.max_delay_ms = 1200;
	is_int(retry_next_delay(&p, 1, 0.999), 1200, "jitter then cap");
	is_int(retry_next_delay(&p, 1, 0), 500, "jitter below the cap");
}

static void
test_huge(void)
{
	static const int attempts[] = { 31, 63, 64, 65, 1000, 100000, INT_MAX };
	struct retry_policy p;
	int64_t d;

	retry_policy_default(&p);
	for (size_t i = 0; i < NELEM(attempts); i++) {
		p.jitter = 0.1;
		p.max_delay_ms = MIN5;
		p.strategy = BACKOFF_EXPONENTIAL;
		is_int(retry_next_delay(&p, attempts[i], 0.999), MIN5,
		    "exponential attempt %d capped", attempts[i]);
		is_int(retry_next_delay(&p, attempts[i], 0), MIN5,
		    "exponential attempt %d capped even at rand 0",
		    attempts[i]);
		p.strategy = BACKOFF_LINEAR;
		is_int(retry_next_delay(&p, attempts[i], 0.5),
		    attempts[i] < 300 ? attempts[i] * 1000LL : MIN5,
		    "linear attempt %d", attempts[i]);
		p.strategy = BACKOFF_EXPONENTIAL;
		p.max_delay_ms = 0;
		d = retry_next_delay(&p, attempts[i], 0.999);
		ok(d > 0 && d <= (int64_t)100 * 365 * 86400 * 1000,
		    "uncapped attempt %d stays positive and bounded (%lld)",
		    attempts[i], (long long)d);
	}
	p.max_delay_ms = INT64_MAX;
	p.initial_delay_ms = INT64_MAX;
	p.multiplier = 1e300;
	d = retry_next_delay(&p, 5, 0.999);
	ok(d > 0 && d <= (int64_t)100 * 365 * 86400 * 1000,
	    "absurd policy stays bounded (%lld)", (long long)d);
	p.multiplier = -2;
	p.initial_delay_ms = 1000;
	p.jitter = 0;
	is_int(retry_next_delay(&p, 4, 0), 1000, "negative multiplier is 1");
}

static void
test_should_retry(void)
{
	static const struct {
		unsigned retry_on, dont;
		int max;
		enum errclass c;
		int attempt, want;
	} tab[] = {
#define B ERRCLASS_BIT
		{ B(ERR_TIMEOUT), 0, 3, ERR_TIMEOUT, 1, 1 },
		{ B(ERR_TIMEOUT), 0, 3, ERR_TIMEOUT, 2, 1 },
		{ B(ERR_TIMEOUT), 0, 3, ERR_TIMEOUT, 3, 0 }, /* last attempt */
		{ B(ERR_TIMEOUT), 0, 3, ERR_TIMEOUT, 4, 0 },
		{ B(ERR_TIMEOUT), 0, 1, ERR_TIMEOUT, 1, 0 }, /* single shot */
		{ B(ERR_TIMEOUT), 0, 3, ERR_CONNECTION, 1, 0 }, /* not listed */
		{ B(ERR_TIMEOUT), B(ERR_TIMEOUT), 3, ERR_TIMEOUT, 1, 0 },
		{ B(ERR_HTTP_CLIENT) | B(ERR_NOT_FOUND), B(ERR_NOT_FOUND), 5,
		    ERR_NOT_FOUND, 1, 0 }, /* dontRetryOn wins */
		{ B(ERR_HTTP_CLIENT) | B(ERR_NOT_FOUND), B(ERR_NOT_FOUND), 5,
		    ERR_HTTP_CLIENT, 1, 1 },
		{ B(ERR_TASK_FAILED), 0, 10, ERR_TASK_FAILED, 9, 1 },
		{ B(ERR_TASK_FAILED), 0, 10, ERR_TASK_FAILED, 10, 0 },
		{ ~0u, 0, 3, ERR_NONE, 1, 0 }, /* no error, nothing to retry */
		{ ~0u, 0, 3, ERR__COUNT, 1, 0 },
		{ 0, 0, 3, ERR_TIMEOUT, 1, 0 },
#undef B
	};
	static const struct {
		enum errclass c;
		int want;
	} defaults[] = {
		{ ERR_TIMEOUT, 1 },
		{ ERR_CONNECTION, 1 },
		{ ERR_HTTP_SERVER, 1 },
		{ ERR_HTTP_CLIENT, 0 },
		{ ERR_NOT_FOUND, 0 },
		{ ERR_VALIDATION, 0 },
		{ ERR_TASK_FAILED, 0 },
	};
	struct retry_policy p;

	for (size_t i = 0; i < NELEM(tab); i++) {
		retry_policy_default(&p);
		p.retry_on = tab[i].retry_on;
		p.dont_retry_on = tab[i].dont;
		p.max_attempts = tab[i].max;
		is_int(retry_should_retry(&p, tab[i].c, tab[i].attempt),
		    tab[i].want, "should_retry row %zu (%s, attempt %d of %d)",
		    i, errclass_name(tab[i].c), tab[i].attempt, tab[i].max);
	}
	retry_policy_default(&p);
	for (size_t i = 0; i < NELEM(defaults); i++) {
		is_int(retry_should_retry(&p, defaults[i].c, 1),
		    defaults[i].want, "default policy, %s attempt 1",
		    errclass_name(defaults[i].c));
		is_int(retry_should_retry(&p, defaults[i].c, 3), 0,
		    "default policy, %s attempt 3 is the last",
		    errclass_name(defaults[i].c));
	}
	/* dontRetryOn wins even when the class is in both sets. */
	p.retry_on |= ERRCLASS_BIT(ERR_VALIDATION);
	is_int(retry_should_retry(&p, ERR_VALIDATION, 1), 0,
	    "default dontRetryOn beats an added retryOn");
}

/* retry_decide() gives the reason; retry_should_retry() is its AGAIN. */
static void
test_decide(void)
{
	static const struct {
		enum errclass c;
		int attempt;
		enum retry_verdict want;
	} tab[] = {
		{ ERR_HTTP_SERVER, 1, RETRY_AGAIN },
		{ ERR_HTTP_SERVER, 2, RETRY_AGAIN },
		{ ERR_HTTP_SERVER, 3, RETRY_EXHAUSTED },
		{ ERR_HTTP_SERVER, 9, RETRY_EXHAUSTED },
		{ ERR_HTTP_CLIENT, 1, RETRY_DONT_ON },
		{ ERR_VALIDATION, 3, RETRY_DONT_ON },
		{ ERR_TASK_FAILED, 1, RETRY_NOT_ON },
		{ ERR_NONE, 1, RETRY_NOT_FAILURE },
		{ ERR__COUNT, 1, RETRY_NOT_FAILURE },
	};
	struct retry_policy p;

	retry_policy_default(&p);
	for (size_t i = 0; i < NELEM(tab); i++) {
		is_int(retry_decide(&p, tab[i].c, tab[i].attempt), tab[i].want,
		    "decide row %zu", i);
		is_int(retry_should_retry(&p, tab[i].c, tab[i].attempt),
		    tab[i].want == RETRY_AGAIN, "should_retry agrees, row %zu",
		    i);
	}
	is_int(retry_attempts_spent(1, 0), 1, "spent: first attempt");
	is_int(retry_attempts_spent(5, 3), 2, "spent: second since reset");
	is_int(retry_attempts_spent(3, 3), 1, "spent: never below 1");
	is_int(retry_attempts_spent(0, 0), 1, "spent: attempt 0 counts as 1");
	is_int(errclass_of_failure(NULL), ERR_TASK_FAILED, "no type");
	is_int(
	    errclass_of_failure("Cancelled"), ERR_TASK_FAILED, "unknown type");
	is_int(errclass_of_failure("HttpServerError"), ERR_HTTP_SERVER,
	    "named type");
	is_int(errclass_of_failure("TimeoutException (timeout)"), ERR_TIMEOUT,
	    "named type with a note");
}

static void
test_decision_text(void)
{
	static const struct {
		enum errclass c;
		int attempt, base, max;
		double jitter;
		const char *want;
	} tab[] = {
		{ ERR_HTTP_SERVER, 1, 0, 3, 0.1,
		    "attempt 1 of 3 failed (HttpServerError): retrying as "
		    "attempt 2 in about 1s" },
		{ ERR_HTTP_SERVER, 2, 0, 5, 0.1,
		    "attempt 2 of 5 failed (HttpServerError): retrying as "
		    "attempt 3 in about 2s" },
		{ ERR_TIMEOUT, 3, 0, 5, 0,
		    "attempt 3 of 5 failed (TimeoutException): retrying as "
		    "attempt 4 in 4s" },
		{ ERR_HTTP_SERVER, 5, 0, 5, 0.1,
		    "attempt 5 of 5 failed (HttpServerError): no retry left, "
		    "dead letter" },
		{ ERR_HTTP_CLIENT, 1, 0, 3, 0.1,
		    "attempt 1 of 3 failed (HttpClientError): not retried "
		    "(dontRetryOn), dead letter" },
		{ ERR_TASK_FAILED, 2, 0, 3, 0.1,
		    "attempt 2 of 3 failed (TaskFailedException): not retried "
		    "(not in retryOn), dead letter" },
		{ ERR_CONNECTION, 5, 3, 3, 0.1,
		    "attempt 5 (2 of 3 since the reset) failed "
		    "(ConnectionException): retrying as attempt 6 in about "
		    "2s" },
		{ ERR_CONNECTION, 6, 3, 3, 0.1,
		    "attempt 6 (3 of 3 since the reset) failed "
		    "(ConnectionException): no retry left, dead letter" },
	};
	struct retry_policy p;
	char buf[256], small[16];

	for (size_t i = 0; i < NELEM(tab); i++) {
		retry_policy_default(&p);
		p.max_attempts = tab[i].max;
		p.jitter = tab[i].jitter;
		retry_decision_text(&p, tab[i].c, tab[i].attempt, tab[i].base,
		    buf, sizeof(buf));
		is_str(buf, tab[i].want, "decision text row %zu", i);
	}
	retry_policy_default(&p);
	p.initial_delay_ms = 0;
	is_int(retry_decision_text(&p, ERR_TIMEOUT, 1, 0, buf, sizeof(buf)),
	    RETRY_AGAIN, "zero delay still retries");
	is_str(buf,
	    "attempt 1 of 3 failed (TimeoutException): retrying as attempt 2 "
	    "at once",
	    "zero delay reads \"at once\"");
	retry_policy_default(&p);
	is_int(retry_decision_text(
		   &p, ERR_HTTP_CLIENT, 1, 0, small, sizeof(small)),
	    RETRY_DONT_ON, "a short buffer still gives the verdict");
	is_int((int)strlen(small), (int)sizeof(small) - 1,
	    "a short buffer is cut and terminated");
}

int
main(void)
{
	test_names();
	test_http();
	test_backoff_names();
	test_defaults();
	test_delays();
	test_jitter();
	test_huge();
	test_should_retry();
	test_decide();
	test_decision_text();
	return t_done();
}
