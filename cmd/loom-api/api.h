/*
 * api: the REST API of loom-api (contract: man/loom-api.8).
 *
 * The HTTP server (server.h lists its files; api_stream.c is its half for
 * streamed answers) is the only code that knows libmicrohttpd.  It binds
 * the listeners (TCP, a Unix socket, or the sockets systemd passes), runs one
 * MHD daemon per listener with a pool of worker threads, reads and checks
 * each request (size cap, UTF-8, JSON nesting, media type), finds the
 * route in a static table and calls its handler with a struct api_request.
 * A handler returns an HTTP status and a jv body; errors use api_error(),
 * which builds the one error shape of the contract.
 *
 * Threads: handlers run on MHD's worker threads, many at once.  Each worker
 * thread has its own PostgreSQL connection (api_db(), made lazily and
 * re-made when it breaks) and its own cache of parsed workflows.  The main
 * thread runs the event loop (lib/util/loop.h): signals, and the LISTEN
 * connection that wakes long-polling requests.
 *
 * Long-polling: a handler that must wait calls api_wait() and returns its
 * value; the request is suspended (it holds no thread while it waits) until
 * a loom_event NOTIFY names its key, the deadline passes, or the server
 * stops; then the handler is called again with rq->resumed counting up, and
 * re-reads the rows.  A NOTIFY is a doorbell, never the data.
 *
 * Streaming: a handler may answer with a server-sent event stream instead
 * (api_stream()); its body is filled on demand and the connection is
 * suspended whenever there is nothing to send (cmd/loom-api/api_stream.c).
 *
 * Ownership: a handler's *out is owned by the server once the handler returns;
 * rq->json and the strings in rq are borrowed and live as long as the
 * request.
 */
#ifndef LOOM_API_H
#define LOOM_API_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jv.h>
#include <libpq-fe.h>

#include "cursor.h"
#include "core/diag.h"
#include "util/log.h"

struct config;
struct workflow;
struct api;
struct api_conn;

#define API_MAX_PARAMS 4		/* {params} in one route */
#define API_MAX_DEPTH 64		/* JSON nesting of a request body */
#define API_WAIT_MAX_MS (5 * 60 * 1000) /* ?wait= cap */
#define API_DRAIN_MS 10000		/* SIGTERM: in-flight grace */
#define API_SUSPEND 0			/* handler status: api_wait() */

/* api.auth: who may call the API (loom-api(8), AUTHENTICATION). */
enum api_auth_mode {
	API_AUTH_NONE = 0, /* anyone who can reach a listener */
	API_AUTH_TOKEN,	   /* bearer tokens (lib/store/token.h) */
};

/* Settings from the config file and the command line (see loom-api(8)). */
struct api_options {
	char *listen; /* "HOST:PORT", or NULL: no TCP listener */
	char *socket; /* Unix socket path, or NULL */
	char *db_url;
	long threads;		    /* worker threads per listener */
	long max_body;		    /* bytes */
	long max_connections;	    /* per listener */
	long max_per_client;	    /* TCP connections from one address */
	long timeout_s;		    /* idle connection timeout */
	int64_t request_timeout_ms; /* to receive headers, then a body */
	long max_streams;	    /* open event streams (api_stream.c) */
	int64_t heartbeat_ms;	    /* a stream's keep-alive comment period */
	int print_url;		    /* first URL as the first stdout line */
	int debug;		    /* -d: log level stays debug on SIGHUP */
	char *config_path;	    /* -c FILE, or NULL (LOOM_CONFIG, default):
				       re-read on SIGHUP for the log level */
	/* authentication (api_auth.c) */
	enum api_auth_mode auth; /* api.auth */
	int socket_trust_uid;	 /* api.socket_trust = uid */
	uid_t *trusted_uids; /* api.trusted_uids (root and we are implied) */
	size_t ntrusted_uids;
	char *ui_dir; /* the web UI's files, or NULL (api_static.c) */
	/* the log store loom-log writes (logd.store; api_mongo.c) */
	char *mongo_uri; /* logd.mongodb_uri when logd.store is mongodb */
	char *mongo_db;	 /* logd.mongodb_database */
	/* control sockets (util/ctl.h; api_metrics.c reads the others') */
	char *control_socket; /* api.control_socket, --control-socket */
	char *control_dir;    /* control.dir */
	char *logd_socket;    /* logd.socket: loom-log answers status there */
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
	API_BODY_NONE = 0, /* a body is ignored */
	API_BODY_JSON,	   /* parsed into rq->json (null when empty) */
	API_BODY_WORKFLOW, /* YAML or JSON text, for the workflow loader */
};

struct api_request {
	struct api *api;
	const char *method;		   /* HEAD is routed as GET */
	const char *path;		   /* decoded, without the query */
	const char *param[API_MAX_PARAMS]; /* the route's {params}, in order */
	size_t nparam;
	const char *body; /* NUL-terminated; "" when none */
	size_t body_len;
	const char *content_type; /* or NULL */
	jv json;		  /* API_BODY_JSON: the body; else jv_null() */
	int64_t wait_until_ms; /* handler scratch for api_wait(); 0 = unset */
	unsigned resumed;      /* times woken after api_wait() */
	int64_t scratch;       /* handler state kept across api_wait(); 0 at
				  first (api_controls.c: a request id) */
	struct api_conn *conn; /* private to request.c */
	struct api_stream
	    *stream; /* set by api_stream(); request.c starts it */
};

/* Returns an HTTP status with *out set, or API_SUSPEND via api_wait(). */
typedef int api_handler(struct api_request *rq, jv *out);

/*
 * What a caller needs to use a route (api_auth.c).  Every route names
 * one; a route left at API_SCOPE_UNSET is refused whatever api.auth says,
 * so a new route is never open by mistake.
 */
enum api_scope {
	API_SCOPE_UNSET = 0,
	API_SCOPE_OPEN,	    /* /healthz, /readyz: nothing */
	API_SCOPE_CALLBACK, /* its own callback token, in the path */
	API_SCOPE_READ,	    /* a read token (every GET) */
	API_SCOPE_OPERATOR, /* an operator token (every action) */
	API_SCOPE_ADMIN,    /* an admin token (token management) */
};

struct api_route {
	const char *method;
	const char *pattern; /* "/api/v1/workflows/{id}" */
	enum api_body body;
	api_handler *fn;
	enum api_scope scope;
};

/* loom-api's own route table, for tests that walk it. */
const struct api_route *api_route_table(size_t *n);

/*
 * Finds the route for method and path.  path is a writable copy; its
 * segments are split in place and param[] points into it.  Returns the
 * route, or NULL: then *allow is the comma-separated methods the path
 * accepts (405) or "" when no route has this path (404).  Pure; exposed
 * for the unit test.
 */
const struct api_route *api_route_find(const struct api_route *tab, size_t n,
    const char *method, char *path, const char **param, size_t *nparam,
    char *allow, size_t allowlen);

/* A query-string argument, or NULL. */
const char *api_query(const struct api_request *rq, const char *key);
/* A request header, or NULL. */
const char *api_header(const struct api_request *rq, const char *name);
/*
 * Answers a 2xx with text, JSON the handler wrote itself, instead of its
 * *out: for hot read paths where building a jv only to print it costs
 * more than the query (api_detail.c).  text is malloc'd with at least
 * len + 1 bytes (a struct buf's p will do) and is owned by reply.c from
 * this call; the handler returns its status and leaves *out unset.
 */
void api_set_json_text(struct api_request *rq, char *text, size_t len);
/* The same for a body that is not JSON: type is a static string. */
void api_set_text(
    struct api_request *rq, char *text, size_t len, const char *type);
/* Adds a response header (copied); at most a few per response. */
void api_set_header(
    struct api_request *rq, const char *name, const char *value);

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

/* ---- streamed answers (api_stream.c) ------------------------------------ */

struct buf;

/*
 * A text/event-stream answer that stays open.  A handler that wants one
 * calls api_stream() and returns 200; request.c then answers with headers
 * only and asks fill() for the body whenever the client can take more.
 * fill() runs on a worker thread with rq (a request of the stream's own:
 * api, method and path, for api_db() and messages) and appends to out.
 * It returns 0 to go on, 1 when the stream is over once out is sent, -1
 * to close it at once.  *recheck_ms comes in as -1: when fill() appends
 * nothing, the stream waits, holding no thread, for a doorbell (a
 * loom_event NOTIFY whose payload is key, or any one when key is NULL; a
 * loom_log NOTIFY naming key when logs is set), a heartbeat (an SSE
 * comment every api.stream_heartbeat), or shutdown (the stream ends); set
 * it to 0 to be called again at once, or to N to be called again within
 * N ms even without a doorbell.  ctx is owned by the stream from this
 * call on: ops->free(ctx) is called when it ends, whatever happened.
 */
struct api_stream_ops {
	int (*fill)(struct api_request *rq, void *ctx, struct buf *out,
	    int64_t *recheck_ms);
	void (*free)(void *ctx);
};
int api_stream(struct api_request *rq, const char *key, int logs,
    const struct api_stream_ops *ops, void *ctx);

/*
 * api_mongo.c: a run's log lines from the MongoDB log store, when
 * logd.store is mongodb (o->mongo_uri set).  api_mongo_logs() answers
 * GET .../logs; api_mongo_stream() a run's stream of log lines alone
 * (?kind=log), given the run's id and where to start (since: the seq of
 * the last line seen, 0: the beginning; -1: from now on).
 */
int api_mongo_on(const struct api_request *rq);
int api_mongo_logs(struct api_request *rq, const char *id, jv *out);
int api_mongo_stream(
    struct api_request *rq, const char *id, int64_t since, jv *out);

/* The request's socket (for SO_PEERCRED and the like). */
int api_conn_fd(const struct api_request *rq);

/* ---- authentication (api_auth.c) --------------------------------------- */

/* Reads api.auth, api.socket_trust and api.trusted_uids into o. */
void api_auth_options_load(
    struct api_options *o, const struct config *cfg, struct diags *d);
/*
 * Whether rq may use a route of scope: 0 when it may, else the status to
 * answer (401 with WWW-Authenticate, 403, 503) with *out the error body.
 * Called by request.c once per request, after routing, before the body is
 * looked at and the handler runs.
 */
int api_auth_check(struct api_request *rq, const struct api_options *o,
    enum api_scope scope, jv *out);
/* "open", "callback", "read", "operator", "admin"; "unset". */
const char *api_scope_name(enum api_scope s);

/* ---- the web UI's files (api_static.c) -------------------------------- */

/* Reads api.ui_dir into o (its default when unset; NULL for "none"). */
void api_static_options_load(struct api_options *o, const struct config *cfg);
/* --ui-dir: dir replaces api.ui_dir ("none": no UI). */
void api_static_set_dir(struct api_options *o, const char *dir);
/* Logs where the UI is served from, or why not; resolves o->ui_dir to its
 * real path, or NULL when it cannot be read. */
void api_static_announce(struct api_options *o);
/* Pure, for the unit test: the Content-Type of a file name, and whether a
 * decoded request path may name a UI file (not /api/, no "..", no dot
 * files, no empty segment). */
const char *api_static_mime(const char *path);
int api_static_path_ok(const char *path);

/* Logging from worker threads: whole lines, never interleaved. */
void api_log(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/*
 * The debug line of one answered request, with method, path, status and
 * durationMs as context (keys of their own under log.format = json); what,
 * when not NULL, is added in parentheses.
 */
void api_log_request(const char *method, const char *path, int status,
    int64_t duration_ms, const char *what);

/* ---- routes (api_workflows.c, api_executions.c) ----------------------- */

int api_workflows_list(struct api_request *rq, jv *out);
int api_workflow_apply(struct api_request *rq, jv *out);
int api_workflow_get(struct api_request *rq, jv *out);
int api_workflow_versions(struct api_request *rq, jv *out);
int api_workflow_version(struct api_request *rq, jv *out);
int api_workflow_trigger(struct api_request *rq, jv *out);
int api_workflow_backfill(struct api_request *rq, jv *out); /* api_backfill.c */
int api_workflow_delete(struct api_request *rq, jv *out);
int api_workflow_pause(struct api_request *rq, jv *out);
int api_workflow_unpause(struct api_request *rq, jv *out);
int api_workflow_history(struct api_request *rq, jv *out); /* api_list.c */
int api_executions_list(struct api_request *rq, jv *out);  /* api_list.c */
int api_execution_get(struct api_request *rq, jv *out);
int api_callback(struct api_request *rq, jv *out);
/*
 * The execution detail of GET /api/v1/executions/{id} as JSON text,
 * appended to out (api_detail.c): 200 with *finished (whether the run
 * has ended), or an error status with *err_out.  With only_finished, a
 * run that has not ended is not rendered (200, *finished 0, out as it
 * was): a long-poll's first look waits on, and would throw away the
 * spec it loaded and the tasks it rendered (4 MB of spec and 10,000
 * tasks for a 10,000-task fan-out).
 */
int api_execution_render(struct api_request *rq, PGconn *db, const char *id,
    struct buf *out, jv *err_out, int only_finished, int *finished);
int api_execution_cancel(struct api_request *rq, jv *out); /* api_controls.c */
int api_execution_retry(struct api_request *rq, jv *out);
int api_task_rerun(struct api_request *rq, jv *out);
int api_dead_letters_list(struct api_request *rq, jv *out);
int api_dead_letter_get(struct api_request *rq, jv *out);
int api_dead_letter_replay(struct api_request *rq, jv *out);
int api_dead_letter_discard(struct api_request *rq, jv *out);
int api_status(struct api_request *rq, jv *out);	 /* api_status.c */
int api_metrics(struct api_request *rq, jv *out);	 /* api_metrics.c */
int api_schedules_list(struct api_request *rq, jv *out); /* api_schedules.c */
int api_schedule_get(struct api_request *rq, jv *out);
int api_breakers_list(struct api_request *rq, jv *out);
int api_breaker_reset(struct api_request *rq, jv *out);
int api_tokens_create(struct api_request *rq, jv *out); /* api_tokens.c */
int api_tokens_list(struct api_request *rq, jv *out);
int api_token_revoke(struct api_request *rq, jv *out);
int api_trigger_tokens_create(struct api_request *rq, jv *out);
int api_trigger_tokens_list(struct api_request *rq, jv *out);
int api_trigger_token_revoke(struct api_request *rq, jv *out);
int api_events_stream(struct api_request *rq, jv *out); /* api_events.c */
int api_execution_events(struct api_request *rq, jv *out);
int api_execution_logs(struct api_request *rq, jv *out);
/*
 * A backend's "logs" text, as task_logs lines (stream "backend") of the
 * current attempt of task_id of execution_id (the task a callback
 * completed), with a loom_log doorbell; in the caller's transaction.
 * Returns 0, or -1 with *err (malloc'd).
 */
int api_task_logs_callback(PGconn *db, const char *execution_id,
    const char *task_id, const char *logs, char **err);

/*
 * Workflow (id, version), parsed, from this thread's cache; on a miss it
 * is loaded from spec (the stored canonical JSON) or, when spec is NULL,
 * read from the database first.  Borrowed: valid until this thread's next
 * call, or api_workflow_cache_release() for one too large to keep.  NULL
 * with *err (malloc'd) when it cannot be had; *notfound is set when the
 * version does not exist.
 */
const struct workflow *api_workflow_cached(PGconn *db, const char *id,
    int version, const char *spec, int *notfound, char **err);

/*
 * The version of workflow id this thread used last (its parse cache), or
 * 0: a guess for the trigger, which run_create checks in the database.
 */
int api_workflow_last(const char *id);

/*
 * Frees this thread's version too large to cache, at a request's end;
 * returns 1 when there was one.
 */
int api_workflow_cache_release(void);
/* The workflow loader under one lock: it compiles jq programs, and libjq
 * 1.6 does not promise that this is safe on several threads at once. */
struct workflow *api_workflow_parse(
    const char *name, const char *buf, size_t len, struct diags *d);

/* ---- request bodies and list arguments (api_body.c) -------------------- */

/*
 * Pure parsers, shared by the handlers and tests/fuzz/fuzz_request.c.
 * Each returns 0, or the HTTP status of the error written into *out.
 */

/*
 * 0 when YAML (or JSON) text nests collections at most max deep; else -1
 * with the line and column where it went deeper.  Syntax errors are left
 * to the workflow loader, which runs after this check.
 */
int api_yaml_depth_check(
    const char *buf, size_t len, int max, int *line, int *col);

/*
 * The trigger body {"input": {...}} (consumed; null: no body).  0 with
 * *input the input (jv_null() when none), else *input is jv_null().
 */
int api_trigger_body(jv body, jv *input, jv *out);

/* ---- the records of an asynchronous attempt (api_records.c) ----------- */

#define API_RECORDS_TIMEOUT_MS 1000 /* the whole exchange with loom-log */

/* One record of an attempt, stream "loom", as loom-exec writes them. */
struct api_record {
	const char *level; /* static: "info", "warn", "error" */
	char msg[1024];
};

/*
 * Pure: the records loom-exec writes after a failed attempt, for attempt
 * number attempt that failed with error type etype and message emsg
 * (either NULL when the callback left it out): rec[0] says how it ended,
 * rec[1] what the engine decides (retry_decision_text()) under the
 * request's "retry" object retry (consumed), when dispatch_retry_parse()
 * takes it.  Returns how many records were made (1 or 2).
 */
int api_failure_records(jv retry, int attempt, const char *etype,
    const char *emsg, struct api_record rec[2]);
/*
 * Sends the n records of attempt attempt of task tid of execution eid to
 * loom-log at path (loom-ipc(7)) on a fresh connection and waits for its
 * "synced", all within timeout_ms.  Blocks.  Returns 0 (also when path
 * is NULL or ""), or -1 with errno (no loom-log, ETIMEDOUT, ECONNRESET,
 * EPROTO).
 */
int api_records_send(const char *path, const char *eid, const char *tid,
    int attempt, const struct api_record *rec, int n, int timeout_ms);
/*
 * Asks loom-log at path (logd.socket; "" or "none": no loom-log, 0) for a
 * "synced" on a fresh connection: once it comes, every record loom-log
 * had read before, from any writer, is in the log store.  Blocks at most
 * timeout_ms.  Returns 0, or -1 with errno.
 */
int api_logd_sync(const char *path, int timeout_ms);
/*
 * Both: the records of a failed asynchronous attempt to loom-log at path
 * (logd.socket; "" or "none": nothing is sent), within
 * API_RECORDS_TIMEOUT_MS, or dropped (said in the log once until
 * loom-log takes them again).  retry is consumed.
 */
void api_failure_records_send(const char *path, const char *eid,
    const char *tid, int attempt, jv retry, const char *etype,
    const char *emsg);

/* A callback result; the strings point into body, which it owns. */
struct api_callback_body {
	jv body;
	const char *status; /* SUCCESS or FAILED */
	jv output_text;	    /* string (JSON text) or null */
	const char *logs, *etype, *emsg;
	char duration[32]; /* "" when not given */
};
/* Parses body (consumed) into *cb; api_callback_body_free() always. */
int api_callback_body_parse(jv body, struct api_callback_body *cb, jv *out);
void api_callback_body_free(struct api_callback_body *cb);

#define API_LIST_DEFAULT 50
#define API_LIST_MAX 1000

/* ?limit=&status=&cursor=&since=&until= of the execution lists. */
struct api_list_args {
	int limit;		      /* 1..API_LIST_MAX */
	char status[16];	      /* a run state, or "" */
	int has_cursor;		      /* after_*: the last row seen */
	char after_ts[CURSOR_TS_LEN]; /* cursor_ts_format() text */
	char after_id[CURSOR_ID_MAX + 1];
	char since[CURSOR_TS_LEN]; /* created at or after; "" */
	char until[CURSOR_TS_LEN]; /* created before; "" */
};
/* Any argument may be NULL or "" (not given); now_us for "since=1h". */
int api_list_args_parse(struct api_list_args *a, const char *status,
    const char *limit, const char *cursor, const char *since, const char *until,
    int64_t now_us, jv *out);

#endif
