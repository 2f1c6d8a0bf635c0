/*
 * api: the REST API of loom-api (contract: man/loom-api.8).
 *
 * lib/api.c is the only file that knows libmicrohttpd.  It binds the
 * listeners (TCP, a Unix socket, or the sockets systemd passes), runs one
 * MHD daemon per listener with a pool of worker threads, reads and checks
 * each request (size cap, UTF-8, JSON nesting, media type), finds the
 * route in a static table and calls its handler with a struct api_request.
 * A handler returns an HTTP status and a jv body; errors use api_error(),
 * which builds the one error shape of the contract.
 *
 * Threads: handlers run on MHD's worker threads, many at once.  Each worker
 * thread has its own PostgreSQL connection (api_db(), made lazily and
 * re-made when it breaks) and its own cache of parsed workflows.  The main
 * thread runs the event loop (lib/loop.h): signals, and the LISTEN
 * connection that wakes long-polling requests.
 *
 * Long-polling: a handler that must wait calls api_wait() and returns its
 * value; the request is suspended (it holds no thread while it waits) until
 * a loom_event NOTIFY names its key, the deadline passes, or the server
 * stops; then the handler is called again with rq->resumed counting up, and
 * re-reads the rows.  A NOTIFY is a doorbell, never the data.
 *
 * Ownership: a handler's *out is owned by api.c once the handler returns;
 * rq->json and the strings in rq are borrowed and live as long as the
 * request.
 */
#ifndef LOOM_API_H
#define LOOM_API_H

#include <stddef.h>
#include <stdint.h>

#include <jv.h>
#include <libpq-fe.h>

#include "diag.h"
#include "log.h"

struct config;
struct workflow;
struct api;
struct api_conn;

#define API_MAX_PARAMS 4		   /* {params} in one route */
#define API_MAX_DEPTH 64		   /* JSON nesting of a request body */
#define API_WAIT_MAX_MS (5 * 60 * 1000)	   /* ?wait= cap */
#define API_DRAIN_MS 10000		   /* SIGTERM: in-flight grace */
#define API_SUSPEND 0			   /* handler status: api_wait() */

/* Settings from the config file and the command line (see loom-api(8)). */
struct api_options {
	char *listen;		/* "HOST:PORT", or NULL: no TCP listener */
	char *socket;		/* Unix socket path, or NULL */
	char *db_url;
	long threads;		/* worker threads per listener */
	long max_body;		/* bytes */
	long max_connections;
	long timeout_s;		/* idle connection timeout */
	int print_url;		/* first URL as the first stdout line */
	int debug;		/* -d: log level stays debug on SIGHUP */
	char *config_path;	/* -c FILE, or NULL (LOOM_CONFIG, default):
				   re-read on SIGHUP for the log level */
};

/*
 * Fills o from cfg with the command line's overrides (NULL: none).
 * Returns 0, or -1 with every problem in d.  api_options_free() releases
 * the strings either way.
 */
int api_options_load(struct api_options *o, const struct config *cfg,
    const char *listen, const char *socket, struct diags *d);
void api_options_free(struct api_options *o);
/* The log level of config keys api.log_level, log.level (default info). */
int api_log_level(const struct config *cfg, enum log_level *out);

/*
 * Checks the database schema, binds the listeners and starts serving.
 * Blocks SIGTERM/SIGINT/SIGHUP (the main loop takes them).  o must outlive
 * the server.  Returns NULL with *err (malloc'd) on failure.
 */
struct api *api_new(const struct api_options *o, char **err);
/* Serves until SIGTERM/SIGINT, then drains; returns the exit status. */
int api_run(struct api *a);
void api_free(struct api *a);

/* ---- what handlers see ------------------------------------------------ */

enum api_body {
	API_BODY_NONE = 0,	/* a body is ignored */
	API_BODY_JSON,		/* parsed into rq->json (null when empty) */
	API_BODY_WORKFLOW,	/* YAML or JSON text, for the workflow loader */
};

struct api_request {
	struct api *api;
	const char *method;	/* HEAD is routed as GET */
	const char *path;	/* decoded, without the query */
	const char *param[API_MAX_PARAMS]; /* the route's {params}, in order */
	size_t nparam;
	const char *body;	/* NUL-terminated; "" when none */
	size_t body_len;
	const char *content_type; /* or NULL */
	jv json;		/* API_BODY_JSON: the body; else jv_null() */
	int64_t wait_until_ms;	/* handler scratch for api_wait(); 0 = unset */
	unsigned resumed;	/* times woken after api_wait() */
	struct api_conn *conn;	/* private to api.c */
};

/* Returns an HTTP status with *out set, or API_SUSPEND via api_wait(). */
typedef int api_handler(struct api_request *rq, jv *out);

struct api_route {
	const char *method;
	const char *pattern;	/* "/api/v1/workflows/{id}" */
	enum api_body body;
	api_handler *fn;
};

/*
 * Finds the route for method and path.  path is a writable copy; its
 * segments are split in place and param[] points into it.  Returns the
 * route, or NULL: then *allow is the comma-separated methods the path
 * accepts (405) or "" when no route has this path (404).  Pure; exposed
 * for the unit test.
 */
const struct api_route *api_route_find(const struct api_route *tab,
    size_t n, const char *method, char *path, const char **param,
    size_t *nparam, char *allow, size_t allowlen);

/* A query-string argument, or NULL. */
const char *api_query(const struct api_request *rq, const char *key);
/* A request header, or NULL. */
const char *api_header(const struct api_request *rq, const char *name);
/* Adds a response header (copied); at most a few per response. */
void api_set_header(struct api_request *rq, const char *name,
    const char *value);

/*
 * Builds the contract's error body into *out and returns status:
 *   {"error":{"code","message","field"[,"details"]}}
 * field may be NULL.  details (consumed) is left out when invalid.
 */
int api_error(jv *out, int status, const char *code, const char *field,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
int api_error_details(jv *out, int status, const char *code, jv details,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/*
 * This thread's database connection, connected (or reset) on demand; NULL
 * when the database cannot be reached right now (answer api_db_down()).
 */
PGconn *api_db(struct api_request *rq);
int api_db_down(jv *out);
/*
 * After a failed query: logs err (consumed), rolls back an open
 * transaction, and answers 503 when the connection broke, else 500.
 */
int api_db_fail(struct api_request *rq, jv *out, char *err);

/*
 * Parks the request until a loom_event NOTIFY carries key (an empty
 * payload wakes everyone), until_ms (api_mono_ms clock) passes, or the
 * server stops.  key is copied.  Return its value from the handler.
 */
int api_wait(struct api_request *rq, const char *key, int64_t until_ms);
/* Whether the server is shutting down (long-polls answer at once). */
int api_stopping(const struct api_request *rq);
int64_t api_mono_ms(void);

/* Logging from worker threads: whole lines, never interleaved. */
void api_log(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- routes (api_workflows.c, api_executions.c) ----------------------- */

int api_workflows_list(struct api_request *rq, jv *out);
int api_workflow_apply(struct api_request *rq, jv *out);
int api_workflow_get(struct api_request *rq, jv *out);
int api_workflow_versions(struct api_request *rq, jv *out);
int api_workflow_version(struct api_request *rq, jv *out);
int api_workflow_trigger(struct api_request *rq, jv *out);
int api_executions_list(struct api_request *rq, jv *out);
int api_execution_get(struct api_request *rq, jv *out);
int api_callback(struct api_request *rq, jv *out);

/*
 * Workflow (id, version), parsed, from this thread's cache; on a miss it
 * is loaded from spec (the stored canonical JSON) or, when spec is NULL,
 * read from the database first.  Borrowed: valid until this thread's next
 * call.  NULL with *err (malloc'd) when it cannot be had; *notfound is
 * set when the version does not exist.
 */
const struct workflow *api_workflow_cached(PGconn *db, const char *id,
    int version, const char *spec, int *notfound, char **err);
/* The workflow loader under one lock: it compiles jq programs, and libjq
 * 1.6 does not promise that this is safe on several threads at once. */
struct workflow *api_workflow_parse(const char *name, const char *buf,
    size_t len, struct diags *d);

#endif
