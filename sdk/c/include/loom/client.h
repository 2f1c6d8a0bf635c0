/*
 * libloomclient: Link Loom's C SDK (see libloomclient(3)).
 *
 * Two halves in one library:
 *
 *   - a client of loom-api(8): apply, list and describe workflows,
 *     trigger them, wait for runs, page through runs, cancel, retry,
 *     rerun, dead letters, and follow the event and log streams;
 *   - the pieces of a user backend: the callback envelope that
 *     loom-exec(8) POSTs, the results it reads back, the X-Loom-Signature
 *     check, completing an asynchronous (202) task through its callback
 *     URL, and a small libmicrohttpd server that mounts task handlers.
 *
 * JSON values are jq's jv, as everywhere in Link Loom.  Ownership follows
 * jv's rule: every jv passed to a function is consumed (keep one with
 * jv_copy()); every jv returned is the caller's to jv_free().  Strings
 * passed in are borrowed for the call.
 *
 * Errors: a client call returns its answer, or a jv invalid (with a
 * message) when the call failed; loom_client_error() then says why: the
 * HTTP status, the API's error code and message (loom-api(8), ERROR
 * RESPONSES), or status 0 with an errno when no answer came.
 *
 * A loom_client is not thread-safe: use one per thread.  A program with
 * several threads calls curl_global_init(CURL_GLOBAL_DEFAULT) once before
 * they start (libcurl's rule; a single-threaded one need not: libcurl
 * does it on first use).
 */
#ifndef LOOM_SDK_CLIENT_H
#define LOOM_SDK_CLIENT_H

#include <stddef.h>
#include <time.h>

#include <jv.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the client --------------------------------------------------------- */

typedef struct loom_client loom_client;

/* Why the last call of a client failed. */
struct loom_error {
	int status;	    /* HTTP status; 0 when no answer came */
	int sys_errno;	    /* when status is 0: ECONNREFUSED (nothing
			       listens), ETIMEDOUT, EPROTO (anything else) */
	char code[64];	    /* the API's error.code ("not_found"); "" if none */
	char field[64];	    /* the API's error.field; "" when none */
	char message[1024]; /* for people; never empty after a failure */
};

/*
 * A client of the loom-api at base: "http://HOST:PORT", "https://..." or
 * "unix:/path/to/api.sock" (the Unix socket, through libcurl's
 * CURLOPT_UNIX_SOCKET_PATH).  token, when not NULL or "", is sent as
 * "Authorization: Bearer TOKEN" with every request.  Returns NULL with
 * *err (malloc'd, the caller frees it) when base is malformed.
 */
loom_client *loom_client_new(const char *base, const char *token, char **err);
/* Closes the connection and frees c.  NULL-safe. */
void loom_client_free(loom_client *c);
/* Time limit of each following request, in ms (default 30000; 0: none). */
void loom_client_set_timeout(loom_client *c, long ms);
/* Replaces the bearer token (NULL or "": none).  0, or -1 when invalid. */
int loom_client_set_token(loom_client *c, const char *token);
/* Why the last failed call failed (borrowed; valid until the next call). */
const struct loom_error *loom_client_error(const loom_client *c);

/*
 * Any route: METHOD path (with its query) with body (consumed;
 * jv_invalid() for none) sent as JSON.  Returns the answer of a 2xx
 * status (jv_null() when empty), else an invalid and the error.
 */
jv loom_request(loom_client *c, const char *method, const char *path, jv body);

/* ---- workflows ---------------------------------------------------------- */

/*
 * Applies a workflow file (loom-workflow(5)), YAML or JSON text of len
 * bytes.  Returns {"id","version","created"}.  An invalid workflow is
 * status 422, code invalid_workflow; the answer's details are in the
 * error's message.
 */
jv loom_workflow_apply(loom_client *c, const char *text, size_t len);
/* The same with the file at path. */
jv loom_workflow_apply_file(loom_client *c, const char *path);
/* The same with a workflow as a jv object (consumed), sent as JSON. */
jv loom_workflow_apply_json(loom_client *c, jv workflow);
/* The workflows: the array of GET /api/v1/workflows. */
jv loom_workflow_list(loom_client *c);
/* One workflow, with its spec and definition. */
jv loom_workflow_get(loom_client *c, const char *id);
/*
 * Starts a run of workflow id with input (an object, consumed;
 * jv_invalid() or jv_null() for none).  token, when not NULL, is used for
 * this call alone instead of the client's (a trigger token, say).
 * Returns {"executionId","workflowId","workflowVersion","status"}.
 * Refusals: 404 not_found, 409 conflict (paused), 409 concurrency_limit
 * (the workflow's concurrency policy skips the run).
 */
jv loom_workflow_trigger(
    loom_client *c, const char *id, jv input, const char *token);

/* ---- executions --------------------------------------------------------- */

/* One execution with its tasks, as GET /api/v1/executions/{id}. */
jv loom_execution_get(loom_client *c, const char *id);
/*
 * Waits until execution id is SUCCESS, FAILED or CANCELLED, or timeout_ms
 * has passed, with long polls (?wait=) of at most five minutes each.
 * Returns the execution as it is then: look at its "status" to tell.
 */
jv loom_execution_wait(loom_client *c, const char *id, long timeout_ms);
/* Whether an execution (borrowed) is SUCCESS, FAILED or CANCELLED. */
int loom_execution_finished(jv execution);
/* The tasks array of execution id. */
jv loom_execution_tasks(loom_client *c, const char *id);
/* One task's output from an execution (borrowed); jv_null() if none. */
jv loom_execution_output(jv execution, const char *task_id);
/*
 * One page of GET /api/v1/executions: query is "" or parameters like
 * "workflow=daily-report&status=failed&limit=100" (already escaped),
 * cursor NULL for the first page.  Returns {"executions":[...],
 * "nextCursor":...}.
 */
jv loom_executions_page(loom_client *c, const char *query, const char *cursor);

/* Every execution that query matches, page after page. */
typedef struct loom_exec_iter loom_exec_iter;
/* An iterator; nothing is fetched until the first loom_exec_iter_next(). */
loom_exec_iter *loom_executions_iter(loom_client *c, const char *query);
/*
 * The next execution into *out: returns 1 (one more), 0 (no more) or -1
 * (a page failed: loom_client_error() says why).
 */
int loom_exec_iter_next(loom_exec_iter *it, jv *out);
void loom_exec_iter_free(loom_exec_iter *it); /* NULL-safe */

/* Cancels a PENDING or RUNNING execution; answers the execution (202). */
jv loom_execution_cancel(loom_client *c, const char *id);
/*
 * from_failed: runs the failed and cancelled tasks of a FAILED or
 * CANCELLED execution again in it; else a new execution of the same
 * version and params ({"executionId",...,"retryOf"}).
 */
jv loom_execution_retry(loom_client *c, const char *id, int from_failed);
/* Runs one finished task again (and with downstream, what follows it). */
jv loom_task_rerun(
    loom_client *c, const char *id, const char *task, int downstream);
/*
 * One page of an execution's log lines after line id after (0: from the
 * first), at most limit (0: the server's default): {"logs":[...],"next"}.
 */
jv loom_execution_logs(loom_client *c, const char *id, long after, int limit);

/* ---- dead letters ------------------------------------------------------- */

/* The dead letters of query ("" or "all=true&workflow=ID"): an array. */
jv loom_dead_letters(loom_client *c, const char *query);
/* Runs a dead letter's task again; answered as a retry. */
jv loom_dead_letter_replay(loom_client *c, long id);
/* Closes a dead letter without running anything. */
jv loom_dead_letter_discard(loom_client *c, long id);

/* ---- event streams ------------------------------------------------------ */

/* One server-sent event; everything is borrowed for the callback's call. */
struct loom_event {
	const char *id;	   /* its id ("" for "end", which has none) */
	const char *event; /* task, run, workflow, log, or end */
	jv data;	   /* its data, parsed */
};

/* Returns 0 to go on, anything else to stop following. */
typedef int loom_event_cb(void *arg, const struct loom_event *ev);

/*
 * Follows the events (and log lines) of execution id, or of every
 * execution when id is NULL, calling cb for each.  query adds parameters
 * ("kind=log", "task=fetch_data"; "" for none).  since is the id of the
 * last event already seen (NULL: from the first event when id is given,
 * from now on otherwise); the stream resumes after it, and after a
 * dropped connection it reconnects with Last-Event-ID, so nothing comes
 * twice and nothing is missed.  An execution's stream ends after its
 * "end" event (passed to cb).  Returns 0 when the stream ended or cb
 * stopped it, -1 on failure (loom_client_error()).
 */
int loom_events_follow(loom_client *c, const char *id, const char *query,
    const char *since, loom_event_cb *cb, void *arg);

/* ---- task handlers: what a user backend gets and answers ---------------- */

/* The callback envelope loom-exec(8) POSTs to an HTTP task's URL. */
struct loom_task {
	char *execution_id;
	char *task_id;
	jv input;	       /* the task's input (jv_null() when none) */
	int attempt;	       /* 1 for the first */
	long timeout_ms;       /* the task's timeout */
	char *idempotency_key; /* executionId/taskId/attempt */
	char *scheduled_time;  /* RFC 3339 when a schedule started the
				  run, else NULL */
	char *callback_url;    /* where to post a 202's result, or NULL */
	jv envelope;	       /* the whole envelope */
};

/*
 * Parses an envelope of len bytes into *t (cleared first).  idempotency
 * is the Idempotency-Key header, or NULL to make it from the envelope.
 * Returns 0, or -1 with *err (malloc'd) when the body is not an envelope
 * (not JSON, not an object, no executionId or taskId).
 */
int loom_task_parse(const char *body, size_t len, const char *idempotency,
    struct loom_task *t, char **err);
/* Frees what loom_task_parse() put in *t.  Safe on a zeroed struct. */
void loom_task_clear(struct loom_task *t);

/* A SUCCESS result with output (consumed; jv_null() for none) and logs. */
jv loom_result_success(jv output, const char *logs);
/*
 * A FAILED result: type is an error class (ValidationException,
 * TaskFailedException, ...: loom-workflow(5) ERROR CLASSES), message
 * says why; logs may be NULL.
 */
jv loom_result_failed(const char *type, const char *message, const char *logs);
/* The answer that makes a task asynchronous: {"status":"RUNNING"}. */
jv loom_result_accepted(void);

#define LOOM_SIGNATURE_LEN 67	    /* "v1=" and 64 hex digits */
#define LOOM_SIGNATURE_MAX_SKEW 300 /* seconds: the window advised */

/*
 * The X-Loom-Signature value of body (len bytes) sent with the
 * X-Loom-Timestamp ts (as written in the header), under secret (slen
 * bytes): "v1=" and the hex HMAC-SHA256 of ts "." body.  out holds
 * LOOM_SIGNATURE_LEN + 1 bytes.
 */
void loom_signature(const void *secret, size_t slen, const char *ts,
    const char *body, size_t len, char *out);
/* The hex HMAC-SHA256 of data under key, into out (65 bytes with NUL). */
void loom_hmac_sha256_hex(
    const void *key, size_t klen, const void *data, size_t len, char *out);
/*
 * Checks the X-Loom-Timestamp ts and X-Loom-Signature sig (either may be
 * NULL) of body: 0 when sig is the signature of body at ts under secret
 * (compared in constant time) and ts is within max_skew seconds of now
 * (max_skew < 0: not checked); -1 otherwise.
 */
int loom_signature_verify(const void *secret, size_t slen, const char *ts,
    const char *sig, const char *body, size_t len, time_t now, long max_skew);

/*
 * Completes an asynchronous task: posts result (consumed) to the
 * callbackUrl of its envelope.  Returns 0 when loom-api took it, -1
 * otherwise with *err filled when err is not NULL (404: unknown token;
 * 409: the task no longer waits, e.g. it timed out).
 */
int loom_callback_complete(
    const char *callback_url, jv result, struct loom_error *err);

/* ---- a server for task handlers (libmicrohttpd) ------------------------- */

/*
 * A task handler: returns the result for t (borrowed), made with
 * loom_result_*().  loom_result_accepted() answers 202: the handler (or
 * a thread it started, with a copy of t->callback_url) completes the task
 * later with loom_callback_complete().  A jv invalid answers 500.
 * Handlers run on the server's threads, several at once.
 */
typedef jv loom_task_handler(void *arg, const struct loom_task *t);

typedef struct loom_server loom_server;

/*
 * A server for task handlers on addr (IPv4, e.g. "127.0.0.1"; NULL: every
 * address) and port (0: the kernel picks one).  Not started yet.
 */
loom_server *loom_server_new(const char *addr, int port);
/*
 * Requests of POST path go to fn(arg, task).  Call before
 * loom_server_start().  Returns 0, or -1 when the table is full (64).
 */
int loom_server_handle(
    loom_server *s, const char *path, loom_task_handler *fn, void *arg);
/*
 * Requests must carry a valid X-Loom-Signature under secret (copied, slen
 * bytes), within LOOM_SIGNATURE_MAX_SKEW: others are answered 401.
 */
void loom_server_require_signature(
    loom_server *s, const void *secret, size_t slen);
/* Listens.  Returns 0, or -1 with *err (malloc'd). */
int loom_server_start(loom_server *s, char **err);
/* The port it listens on (after loom_server_start()). */
int loom_server_port(const loom_server *s);
/* Stops the server (waits for the requests in progress) and frees it. */
void loom_server_free(loom_server *s);

#ifdef __cplusplus
}
#endif

#endif
