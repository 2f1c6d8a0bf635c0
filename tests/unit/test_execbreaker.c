/*
 * test_execbreaker: what loom-exec reads from requests and results for
 * the circuit breakers (lib/core/execbreaker.c).  Two tables: requests and
 * the target they have (or none), results and what the breaker is told.
 */
#include <string.h>

#include <jv.h>

#include "core/breaker.h"
#include "core/execbreaker.h"
#include "t.h"

struct target_case {
	const char *request; /* JSON */
	const char *target;  /* NULL: no breaker */
};

/* clang-format off */
static const struct target_case targets[] = {
	{ "{\"task\":{\"type\":\"http\",\"url\":\"http://Backend:8080/api/x?y=1\"}}",
	  "http://backend:8080" },
	{ "{\"task\":{\"type\":\"http\",\"url\":\"https://example.com/\"}}",
	  "https://example.com:443" },
	{ "{\"task\":{\"type\":\"http\",\"url\":\"http://[::1]:9/a\"}}",
	  "http://[::1]:9" },
	{ "{\"task\":{\"type\":\"http\",\"url\":\"http://u:p@h/\"}}",
	  "http://h:80" },
	{ "{\"task\":{\"type\":\"shell\",\"command\":[\"true\"]}}", NULL },
	{ "{\"task\":{\"type\":\"java\",\"class\":\"A\"}}", NULL },
	{ "{\"task\":{\"type\":\"http\",\"url\":\"ftp://h/\"}}", NULL },
	{ "{\"task\":{\"type\":\"http\",\"url\":\"not a url\"}}", NULL },
	{ "{\"task\":{\"type\":\"http\",\"url\":42}}", NULL },
	{ "{\"task\":{\"type\":\"http\"}}", NULL },
	{ "{\"task\":{\"url\":\"http://h/\"}}", NULL },
	{ "{\"task\":\"http://h/\"}", NULL },
	{ "{}", NULL },
	{ "null", NULL },
	{ "[1,2]", NULL },
};

struct outcome_case {
	const char *result;	/* JSON */
	enum execbreaker_verdict verdict;
	enum errclass outcome;
	int counts;		/* breaker_is_failure(outcome) */
};

static const struct outcome_case outcomes[] = {
	{ "{\"status\":\"SUCCESS\",\"httpStatus\":200}",
	  EXECBREAKER_RECORD, ERR_NONE, 0 },
	{ "{\"status\":\"ACCEPTED\",\"httpStatus\":202}",
	  EXECBREAKER_RECORD, ERR_NONE, 0 },
	{ "{\"status\":\"FAILED\",\"error\":{\"type\":\"HttpServerError\"}}",
	  EXECBREAKER_RECORD, ERR_HTTP_SERVER, 1 },
	{ "{\"status\":\"FAILED\",\"error\":{\"type\":\"ConnectionException\"}}",
	  EXECBREAKER_RECORD, ERR_CONNECTION, 1 },
	{ "{\"status\":\"FAILED\",\"error\":{\"type\":\"TimeoutException\"}}",
	  EXECBREAKER_RECORD, ERR_TIMEOUT, 1 },
	{ "{\"status\":\"FAILED\",\"error\":{\"type\":\"HttpClientError\"}}",
	  EXECBREAKER_RECORD, ERR_HTTP_CLIENT, 0 },
	{ "{\"status\":\"FAILED\",\"error\":{\"type\":\"ValidationException\"}}",
	  EXECBREAKER_RECORD, ERR_VALIDATION, 0 },
	{ "{\"status\":\"FAILED\",\"error\":{\"type\":\"ResourceNotFoundException\"}}",
	  EXECBREAKER_RECORD, ERR_NOT_FOUND, 0 },
	{ "{\"status\":\"FAILED\",\"error\":{\"type\":\"TaskFailedException\"}}",
	  EXECBREAKER_RECORD, ERR_TASK_FAILED, 0 },
	{ "{\"status\":\"FAILED\",\"error\":{\"type\":\"SomethingElse\"}}",
	  EXECBREAKER_RECORD, ERR_TASK_FAILED, 0 },
	{ "{\"status\":\"FAILED\"}",
	  EXECBREAKER_RECORD, ERR_TASK_FAILED, 0 },
	{ "{\"status\":\"FAILED\",\"error\":{\"type\":\"\"}}",
	  EXECBREAKER_RECORD, ERR_TASK_FAILED, 0 },
	{ "{\"status\":\"FAILED\",\"error\":{\"type\":\"Cancelled\"}}",
	  EXECBREAKER_RELEASE, ERR_NONE, 0 },
	{ "{\"status\":\"SUCCESS\",\"error\":{\"type\":\"Cancelled\"}}",
	  EXECBREAKER_RECORD, ERR_NONE, 0 },
	{ "{\"status\":\"WHAT\"}",
	  EXECBREAKER_RECORD, ERR_TASK_FAILED, 0 },
	{ "null", EXECBREAKER_RECORD, ERR_TASK_FAILED, 0 },
};
/* clang-format on */

#define N(a) (sizeof(a) / sizeof((a)[0]))

int
main(void)
{
	char buf[BREAKER_TARGET_MAX], tiny[8];

	for (size_t i = 0; i < N(targets); i++) {
		const struct target_case *c = &targets[i];
		int got;

		memset(buf, 0, sizeof(buf));
		got =
		    execbreaker_target(jv_parse(c->request), buf, sizeof(buf));
		is_int(got, c->target != NULL, "target of %s: %s", c->request,
		    c->target ? "one" : "none");
		if (got && c->target)
			is_str(buf, c->target, "target of %s", c->request);
	}
	/* A buffer too small is no target rather than a cut one. */
	is_int(execbreaker_target(
		   jv_parse(targets[0].request), tiny, sizeof(tiny)),
	    0, "a buffer too small gives no target");

	for (size_t i = 0; i < N(outcomes); i++) {
		const struct outcome_case *c = &outcomes[i];
		enum errclass oc = (enum errclass) - 1;
		enum execbreaker_verdict v;

		v = execbreaker_outcome(jv_parse(c->result), &oc);
		is_int(v, c->verdict, "verdict of %s", c->result);
		if (v == EXECBREAKER_RECORD) {
			is_int(oc, c->outcome, "outcome of %s", c->result);
			is_int(breaker_is_failure(oc), c->counts,
			    "%s %s against the target", c->result,
			    c->counts ? "counts" : "does not count");
		}
	}
	return t_done();
}
