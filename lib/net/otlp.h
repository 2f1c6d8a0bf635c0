/*
 * otlp: OpenTelemetry trace ids of runs and attempts, and an exporter
 * that sends spans as OTLP/HTTP JSON (POST .../v1/traces) from the loop.
 *
 * Ids are derived, not stored: every run is one trace whose id is the
 * first 16 bytes of SHA-256("loom-trace " execution), the run's span id
 * the first 8 of SHA-256("loom-run " execution), and an attempt's span id
 * the first 8 of SHA-256("loom-attempt " execution "/" task "/" attempt).
 * So loom-exec (which sends the attempt's traceparent to a backend and
 * exports the attempt's span) and the process whose engine pass ends the
 * run (which exports the run's span) agree without a word between them.
 *
 * The exporter never holds up its daemon: spans wait in a bounded queue
 * (beyond it they are dropped and counted), go out in batches from a
 * timer on the loop through one curl multi handle (one POST at a time),
 * and a batch the collector refuses or never receives is tried again a
 * few times with a growing pause, then dropped with a warning.  A
 * collector that is down costs a failed connect per batch, off the
 * dispatch path.
 *
 * Ownership follows jv: every jv argument is consumed.
 */
#ifndef LOOM_OTLP_H
#define LOOM_OTLP_H

#include <stdint.h>

#include <jv.h>

#include "util/config.h"
#include "util/loop.h"

#define OTLP_TRACE_HEX 33 /* 32 hex digits and the NUL */
#define OTLP_SPAN_HEX 17  /* 16 hex digits and the NUL */

void otlp_trace_id(const char *execution_id, char out[OTLP_TRACE_HEX]);
void otlp_run_span_id(const char *execution_id, char out[OTLP_SPAN_HEX]);
void otlp_attempt_span_id(const char *execution_id, const char *task_id,
    int attempt, char out[OTLP_SPAN_HEX]);
/* "00-<trace>-<attempt span>-01": what a backend gets for an attempt. */
void otlp_attempt_traceparent(
    const char *execution_id, const char *task_id, int attempt, char out[56]);

#define OTLP_DEFAULT_QUEUE 4096	   /* spans waiting, at most */
#define OTLP_DEFAULT_BATCH 512	   /* spans per POST, at most */
#define OTLP_DEFAULT_FLUSH_MS 1000 /* a span waits this long, at most */
#define OTLP_DEFAULT_TIMEOUT_MS 5000
#define OTLP_RETRIES 3 /* tries of a batch after its first */

struct otlp_config {
	char *endpoint;	    /* full URL of the traces route; NULL: off */
	char *service_name; /* service.name */
	jv resource;	    /* more resource attributes: {"k":"v"} */
	long queue_max;
	long batch_max;
	int64_t flush_ms;
	int64_t timeout_ms;
};

/*
 * Fills c from the trace.* keys of cfg (cfg may be NULL), then from the
 * standard OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_ENDPOINT
 * (with "/v1/traces" appended), OTEL_SERVICE_NAME (default: daemon) and
 * OTEL_RESOURCE_ATTRIBUTES ("k=v,k=v", values percent-decoded).  A key of
 * loom.conf wins over the environment.  Returns 0, or -1 with *err
 * (malloc'd) for a malformed value.
 */
int otlp_config_load(struct otlp_config *c, const struct config *cfg,
    const char *daemon, char **err);
void otlp_config_free(struct otlp_config *c);

struct otlp;

/*
 * An exporter on loop for c (copied).  Returns NULL when c has no
 * endpoint (tracing off), or on failure with errno set; every other call
 * takes NULL and does nothing.
 */
struct otlp *otlp_new(struct loop *loop, const struct otlp_config *c);
/* Tries, for at most a second, to send what waits; then frees. */
void otlp_free(struct otlp *o);

/*
 * One finished span.  attrs is an object whose members are strings,
 * numbers (sent as integers) or booleans; parent_id NULL or "" for a
 * root span; kind 1 internal, 2 server, 3 client; error 1 sets the
 * status to ERROR with message (may be NULL), 0 to OK.  Times are
 * wall-clock ms.  Queued, or dropped when the queue is full.
 */
struct otlp_span {
	const char *trace_id;
	const char *span_id;
	const char *parent_id;
	const char *name;
	int kind;
	int64_t start_ms;
	int64_t end_ms;
	int error;
	const char *message;
};
void otlp_add(struct otlp *o, const struct otlp_span *s, jv attrs);

/*
 * The span of a whole run (a root span named "run <workflow>", its id
 * otlp_run_span_id()), status SUCCESS, FAILED or CANCELLED (the last
 * two set the span's status to ERROR).
 */
void otlp_add_run(struct otlp *o, const char *execution_id,
    const char *workflow_id, int version, const char *status, int64_t start_ms,
    int64_t end_ms);

/*
 * The span of one attempt, child of its run's span, named "task <task>",
 * from the runner's result (borrowed): status, error.type,
 * error.message, httpStatus.  workflow_id and type may be NULL.
 */
void otlp_add_attempt(struct otlp *o, const char *execution_id,
    const char *workflow_id, const char *task_id, int attempt, const char *type,
    int64_t start_ms, int64_t end_ms, jv result);

/* Figures for status output and tests. */
struct otlp_stats {
	uint64_t queued, sent, dropped, failed_posts;
};
void otlp_stats(const struct otlp *o, struct otlp_stats *st);

/* The OTLP JSON of one span (pure; for the unit test). */
jv otlp_span_json(const struct otlp_span *s, jv attrs);

#endif
