/*
 * retry: error classes, retry policies and backoff.  Pure code, no I/O.
 *
 * Every failed attempt is classified into one error class (the seed's Java
 * exception names, which users write in retryOn/dontRetryOn).  Whether to
 * retry is decided by retry_should_retry(); when, by retry_next_delay().
 */
#ifndef LOOM_RETRY_H
#define LOOM_RETRY_H

#include <stddef.h>
#include <stdint.h>

enum errclass {
	ERR_NONE = 0,
	ERR_TIMEOUT,	 /* TimeoutException */
	ERR_CONNECTION,	 /* ConnectionException: refused, reset, DNS */
	ERR_HTTP_SERVER, /* HttpServerError: 5xx */
	ERR_HTTP_CLIENT, /* HttpClientError: other 4xx */
	ERR_NOT_FOUND,	 /* ResourceNotFoundException: 404 */
	ERR_VALIDATION,	 /* ValidationException: 400/422 or backend said so */
	ERR_TASK_FAILED, /* TaskFailedException: FAILED, non-zero exit, signal
			  */
	ERR__COUNT
};

#define ERRCLASS_BIT(c) (1u << (c))

/* "TimeoutException" etc.; ERR_NONE gives "". */
const char *errclass_name(enum errclass c);
/*
 * Parses a class name as written in the DSL.  Accepts the exact seed names
 * and ignores a trailing parenthesised note ("HttpServerError (5xx)").
 * Surrounding white space is ignored; the name itself is case-sensitive.
 * Returns -1 (errno EINVAL) when unknown.
 */
int errclass_parse(const char *s, enum errclass *out);
/*
 * Maps an HTTP status to a class: ERR_NONE for 1xx-3xx, 404 not-found,
 * 400 and 422 validation, 429 (Too Many Requests: "back off", so it is
 * retryable) and 5xx server error, any other 4xx client error.  A number
 * that is no HTTP status at all (0, 600+) counts as a server error.
 */
enum errclass errclass_from_http(int status);

enum backoff {
	BACKOFF_EXPONENTIAL = 0,
	BACKOFF_LINEAR,
	BACKOFF_FIXED,
};

const char *backoff_name(enum backoff b);
/* "exponential", "linear", "fixed", case-insensitive; -1 when unknown. */
int backoff_parse(const char *s, enum backoff *out);

struct retry_policy {
	int max_attempts; /* total attempts, >= 1 */
	enum backoff strategy;
	int64_t initial_delay_ms; /* delay before attempt 2 */
	int64_t max_delay_ms;	  /* cap */
	double multiplier;	  /* exponential growth factor */
	double jitter;		  /* 0..1: delay varies by +-jitter*delay */
	unsigned retry_on;	  /* ERRCLASS_BIT set */
	unsigned dont_retry_on;	  /* wins over retry_on */
};

/*
 * The defaults: 3 attempts, exponential from 1s doubling (1s, 2s, 4s, 8s,
 * 16s as in the seed), capped at 5m, jitter 0.1, retryOn timeout,
 * connection and 5xx, dontRetryOn validation, not-found and 4xx.
 */
void retry_policy_default(struct retry_policy *p);

/*
 * Whether a task that failed its attempt number `attempt` (1-based) with
 * class c gets another attempt: not when c is in dont_retry_on, not when c
 * is not in retry_on, not when attempt >= max_attempts.
 */
int retry_should_retry(
    const struct retry_policy *p, enum errclass c, int attempt);

/* Why a failed attempt is or is not tried again (retry_decide()). */
enum retry_verdict {
	RETRY_AGAIN = 0,   /* another attempt follows */
	RETRY_EXHAUSTED,   /* the class is retried, but no attempt is left */
	RETRY_DONT_ON,	   /* the class is in dontRetryOn */
	RETRY_NOT_ON,	   /* the class is not in retryOn */
	RETRY_NOT_FAILURE, /* ERR_NONE or no class at all: nothing to retry */
};

/*
 * The decision retry_should_retry() takes, with its reason: that function
 * is RETRY_AGAIN of this one, so a record of the decision cannot disagree
 * with the decision.
 */
enum retry_verdict retry_decide(
    const struct retry_policy *p, enum errclass c, int attempt);

/*
 * The attempt number as the retry budget counts it: attempt numbers keep
 * growing across resets (`loom execution retry --from-failed`, `dlq
 * replay`), while each reset brings a fresh budget; base is the attempts
 * spent before the last reset.  Never less than 1.
 */
int retry_attempts_spent(int attempt, int base);

/*
 * The class the engine gives a failure whose stored error type is type
 * (NULL when it has none): the class it names (errclass_parse()), else
 * TaskFailedException (a backend's own "FAILED", an unknown type).
 */
enum errclass errclass_of_failure(const char *type);

/*
 * One line saying what follows the failure of attempt `attempt` (the
 * number dispatched; base as for retry_attempts_spent()) with class c under
 * policy p, e.g. "attempt 2 of 3 failed (HttpServerError): retrying as
 * attempt 3 in about 2s" or "attempt 1 of 3 failed (HttpClientError): not
 * retried (dontRetryOn), dead letter".  The delay is the nominal one
 * (retry_next_delay() without jitter); "about" says that jitter moves it.
 * Written to buf (size n, always terminated); returns the verdict.
 */
enum retry_verdict retry_decision_text(const struct retry_policy *p,
    enum errclass c, int attempt, int base, char *buf, size_t n);

/*
 * Delay in ms before attempt `attempt + 1` after attempt `attempt` failed.
 * rand01 in [0,1) is the caller's random draw (so this stays pure and
 * testable); with jitter j the delay is scaled by (1 - j + 2*j*rand01) and
 * then capped at max_delay_ms.  Never negative and never overflows: huge
 * attempt numbers just hit the cap (max_delay_ms <= 0 means no cap but a
 * hard 100-year ceiling); attempt < 1 counts as 1.
 */
int64_t retry_next_delay(
    const struct retry_policy *p, int attempt, double rand01);

#endif
