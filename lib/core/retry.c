/*
 * retry: see retry.h.
 *
 * Everything here is arithmetic on a struct retry_policy; the caller brings
 * the random draw, so the same inputs always give the same delay and the
 * tables in tests/unit/test_retry.c pin the behaviour down.  Delays are
 * computed in double precision and clamped to RETRY_DELAY_CEIL_MS before
 * converting back to int64_t, so absurd attempt numbers or multipliers can
 * neither overflow nor go negative: they simply hit the cap.
 */
#include "retry.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "duration.h"

/*
 * The hard ceiling on any delay, whatever the policy says: 100 years, the
 * same bound duration_parse() puts on a written duration.  It is exactly
 * representable as a double, so the clamp below is exact.
 */
#define RETRY_DELAY_CEIL_MS ((int64_t)100 * 365 * 24 * 60 * 60 * 1000)

/* Indexed by enum errclass; ERR_NONE has no name. */
static const char *const errclass_names[ERR__COUNT] = {
	[ERR_NONE] = "",
	[ERR_TIMEOUT] = "TimeoutException",
	[ERR_CONNECTION] = "ConnectionException",
	[ERR_HTTP_SERVER] = "HttpServerError",
	[ERR_HTTP_CLIENT] = "HttpClientError",
	[ERR_NOT_FOUND] = "ResourceNotFoundException",
	[ERR_VALIDATION] = "ValidationException",
	[ERR_TASK_FAILED] = "TaskFailedException",
};

static const char *const backoff_names[] = {
	[BACKOFF_EXPONENTIAL] = "exponential",
	[BACKOFF_LINEAR] = "linear",
	[BACKOFF_FIXED] = "fixed",
};

#define NBACKOFF (sizeof(backoff_names) / sizeof(backoff_names[0]))

const char *
errclass_name(enum errclass c)
{
	if ((unsigned)c >= ERR__COUNT)
		return "";
	return errclass_names[c];
}

/*
 * The name is matched case-sensitively: these are the seed's Java class
 * names and users copy them as such; a misspelt class is better reported
 * (the DSL validator offers a "did you mean") than silently accepted.
 */
int
errclass_parse(const char *s, enum errclass *out)
{
	const char *end;
	size_t len;

	if (s == NULL)
		goto bad;
	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		end--;
	/* Drop one trailing "(note)": "HttpServerError (5xx)". */
	if (end > s && end[-1] == ')') {
		const char *open = end - 1;

		while (open > s && *open != '(')
			open--;
		if (*open != '(')
			goto bad;
		end = open;
		while (end > s && isspace((unsigned char)end[-1]))
			end--;
	}
	len = (size_t)(end - s);
	if (len == 0)
		goto bad;
	for (int c = ERR_NONE + 1; c < ERR__COUNT; c++)
		if (strlen(errclass_names[c]) == len &&
		    strncmp(errclass_names[c], s, len) == 0) {
			*out = (enum errclass)c;
			return 0;
		}
bad:
	errno = EINVAL;
	return -1;
}

enum errclass
errclass_from_http(int status)
{
	if (status >= 100 && status < 400)
		return ERR_NONE;
	switch (status) {
	case 404:
		return ERR_NOT_FOUND;
	case 400:
	case 422:
		return ERR_VALIDATION;
	case 429:
		/* "Too Many Requests" asks us to back off, not to give up. */
		return ERR_HTTP_SERVER;
	}
	if (status >= 400 && status < 500)
		return ERR_HTTP_CLIENT;
	/* 5xx, and anything that is not an HTTP status at all. */
	return ERR_HTTP_SERVER;
}

const char *
backoff_name(enum backoff b)
{
	if ((unsigned)b >= NBACKOFF)
		return "";
	return backoff_names[b];
}

int
backoff_parse(const char *s, enum backoff *out)
{
	for (size_t i = 0; s != NULL && i < NBACKOFF; i++)
		if (strcasecmp(s, backoff_names[i]) == 0) {
			*out = (enum backoff)i;
			return 0;
		}
	errno = EINVAL;
	return -1;
}

void
retry_policy_default(struct retry_policy *p)
{
	memset(p, 0, sizeof(*p));
	p->max_attempts = 3;
	p->strategy = BACKOFF_EXPONENTIAL;
	p->initial_delay_ms = 1000;
	p->max_delay_ms = 5 * 60 * 1000;
	p->multiplier = 2.0;
	p->jitter = 0.1;
	p->retry_on = ERRCLASS_BIT(ERR_TIMEOUT) | ERRCLASS_BIT(ERR_CONNECTION) |
	    ERRCLASS_BIT(ERR_HTTP_SERVER);
	p->dont_retry_on = ERRCLASS_BIT(ERR_VALIDATION) |
	    ERRCLASS_BIT(ERR_NOT_FOUND) | ERRCLASS_BIT(ERR_HTTP_CLIENT);
}

enum retry_verdict
retry_decide(const struct retry_policy *p, enum errclass c, int attempt)
{
	if ((unsigned)c >= ERR__COUNT || c == ERR_NONE)
		return RETRY_NOT_FAILURE;
	if (p->dont_retry_on & ERRCLASS_BIT(c))
		return RETRY_DONT_ON;
	if (!(p->retry_on & ERRCLASS_BIT(c)))
		return RETRY_NOT_ON;
	return attempt < p->max_attempts ? RETRY_AGAIN : RETRY_EXHAUSTED;
}

int
retry_should_retry(const struct retry_policy *p, enum errclass c, int attempt)
{
	return retry_decide(p, c, attempt) == RETRY_AGAIN;
}

int
retry_attempts_spent(int attempt, int base)
{
	if (attempt < 1)
		attempt = 1;
	return attempt - base > 0 ? attempt - base : 1;
}

enum errclass
errclass_of_failure(const char *type)
{
	enum errclass c;

	if (type == NULL || errclass_parse(type, &c) < 0 || c == ERR_NONE)
		return ERR_TASK_FAILED;
	return c;
}

enum retry_verdict
retry_decision_text(const struct retry_policy *p, enum errclass c, int attempt,
    int base, char *buf, size_t n)
{
	int spent = retry_attempts_spent(attempt, base);
	enum retry_verdict v = retry_decide(p, c, spent);
	char head[96], when[48], d[32];
	int64_t ms;

	if (attempt < 1)
		attempt = 1;
	/* After a reset the budget counts from it, not from attempt 1. */
	if (spent == attempt)
		snprintf(head, sizeof(head), "attempt %d of %d", attempt,
		    p->max_attempts);
	else
		snprintf(head, sizeof(head),
		    "attempt %d (%d of %d since the reset)", attempt, spent,
		    p->max_attempts);
	switch (v) {
	case RETRY_AGAIN:
		ms = retry_next_delay(p, spent, 0.5); /* 0.5: no jitter */
		duration_format(ms, d, sizeof(d));
		if (ms <= 0)
			snprintf(when, sizeof(when), "at once");
		else
			snprintf(when, sizeof(when), "in %s%s",
			    p->jitter > 0 ? "about " : "", d);
		snprintf(buf, n, "%s failed (%s): retrying as attempt %d %s",
		    head, errclass_name(c), attempt + 1, when);
		break;
	case RETRY_EXHAUSTED:
		snprintf(buf, n, "%s failed (%s): no retry left, dead letter",
		    head, errclass_name(c));
		break;
	case RETRY_DONT_ON:
	case RETRY_NOT_ON:
		snprintf(buf, n,
		    "%s failed (%s): not retried (%s), dead letter", head,
		    errclass_name(c),
		    v == RETRY_DONT_ON ? "dontRetryOn" : "not in retryOn");
		break;
	case RETRY_NOT_FAILURE:
	default:
		snprintf(buf, n, "%s did not fail: nothing to retry", head);
		break;
	}
	return v;
}

/* Clamps x into [0, hi]; NaN counts as hi (it only comes from overflow). */
static double
clamp(double x, double hi)
{
	if (isnan(x) || x > hi)
		return hi;
	if (x < 0)
		return 0;
	return x;
}

int64_t
retry_next_delay(const struct retry_policy *p, int attempt, double rand01)
{
	double ceil_ms = (double)RETRY_DELAY_CEIL_MS;
	double cap, initial, mult, delay, j, r;

	if (attempt < 1)
		attempt = 1;
	initial = clamp((double)p->initial_delay_ms, ceil_ms);
	/* A cap of 0 or less means "no cap" beyond the hard ceiling. */
	cap = p->max_delay_ms > 0 ? clamp((double)p->max_delay_ms, ceil_ms) :
				    ceil_ms;

	switch (p->strategy) {
	case BACKOFF_EXPONENTIAL:
		/*
		 * pow() overflows to inf for huge attempts and clamp() takes
		 * it; 0 * inf would be NaN, hence the test on initial.  A
		 * negative or NaN multiplier is nonsense: treat it as 1.
		 */
		mult = p->multiplier >= 0 ? p->multiplier : 1;
		delay =
		    initial == 0 ? 0 : initial * pow(mult, (double)attempt - 1);
		break;
	case BACKOFF_LINEAR:
		delay = initial * (double)attempt;
		break;
	case BACKOFF_FIXED:
	default:
		delay = initial;
		break;
	}
	delay = clamp(delay, ceil_ms);

	j = isnan(p->jitter) ? 0 : p->jitter;
	j = j < 0 ? 0 : j > 1 ? 1 : j;
	r = isnan(rand01) || rand01 < 0 ? 0 : rand01 >= 1 ? 1 : rand01;
	delay *= 1 - j + 2 * j * r;

	delay = clamp(delay, cap);
	return (int64_t)llround(delay);
}
