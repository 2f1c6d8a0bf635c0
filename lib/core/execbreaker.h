/*
 * execbreaker: what loom-exec reads from a task request and from a
 * runner result to drive the circuit breakers of lib/store/breakerdb.h.  Pure:
 * no I/O, unit-tested in tests/unit/test_execbreaker.c.
 *
 * Only HTTP tasks have a breaker, one per target (breaker_target_of() of
 * the request's task.url).  A request whose URL the breaker cannot parse
 * gets none: the runner refuses it with a ValidationException anyway.
 *
 * A result either tells the breaker something about the target (record
 * it: SUCCESS and ACCEPTED, a 202, are successes, a FAILED result counts
 * by its error class) or nothing at all: a dispatch that was cancelled
 * or could not start was not answered by the target, so it is given
 * back (breakerdb_release(), which matters only when it held the
 * half-open probe).
 */
#ifndef LOOM_EXECBREAKER_H
#define LOOM_EXECBREAKER_H

#include <stddef.h>

#include <jv.h>

#include "retry.h"

enum execbreaker_verdict {
	EXECBREAKER_RECORD = 0, /* breakerdb_record() with the outcome */
	EXECBREAKER_RELEASE,	/* breakerdb_release(): no answer */
};

/*
 * Writes the breaker target of request (consumed) into buf (len >=
 * BREAKER_TARGET_MAX is always enough).  Returns 1 when the request is an
 * HTTP task with a URL the breaker accepts, else 0 (no breaker applies).
 */
int execbreaker_target(jv request, char *buf, size_t len);

/*
 * What result (a runner result object, consumed) means for the breaker:
 * EXECBREAKER_RECORD with *outcome ERR_NONE for SUCCESS and ACCEPTED, the
 * error class for FAILED (TaskFailedException when the type is unknown or
 * missing), or EXECBREAKER_RELEASE for a "Cancelled" result (*outcome is
 * then ERR_NONE and means nothing).
 */
enum execbreaker_verdict execbreaker_outcome(jv result, enum errclass *outcome);

#endif
