/*
 * runner: runs one task attempt (http, shell or java) on the event loop and
 * reports its result.  Used by loom-exec (--stdin and database modes) and
 * by `loom run`.
 *
 * A caller hands runner_start() a request object
 *
 *   {"executionId":"exec-…","workflowId":"…"?,"taskId":"fetch_data",
 *    "attempt":1,"input":{…},"callbackToken":"…"?,"traceparent":"00-…"?,
 *    "scheduledTime":"2026-12-07T03:00:00Z"?,"retry":{…}? (the engine's
 *    policy for loom-exec's records, dispatch.h; no runner reads it),
 *    "task":{"type":"http"|"shell"|"java","timeout":"5m",…}}
 *
 * where "task" is the task's canonical JSON as the DSL writes it (without
 * a "traceparent" the attempt carries otlp_attempt_traceparent(): its span
 * in the run's trace), and gets
 * back, from the loop, exactly one result object
 *
 *   {"executionId","taskId","attempt","status":"SUCCESS"|"FAILED"|"ACCEPTED",
 *    "output":…,"error":{"type","message"} (FAILED only),"logs":"…"?,
 *    "durationMs":N,"traceparent":"00-…","httpStatus":N (http),
 *    "exitCode":N | "signal":"SIGTERM" (shell, java)}
 *
 * error.type is an error class name from retry.h ("TimeoutException", …),
 * or "Cancelled" after runner_cancel().  "ACCEPTED" means the backend took
 * the task asynchronously (HTTP 202 or "status":"RUNNING"); it will finish
 * through loom-api's callback endpoint.  The wire contracts (headers,
 * envelope, environment, output rules) are documented in loom-exec(8).
 *
 * HTTP requests share one curl multi handle (keep-alive connections, a cap
 * per host); processes run in their own process group and are killed as a
 * group on timeout or cancel.  Nothing here blocks the loop.
 */
#ifndef LOOM_RUNNER_H
#define LOOM_RUNNER_H

#include <stddef.h>
#include <stdint.h>

#include <jv.h>

#include "util/loop.h"
#include "core/retry.h"

#define RUNNER_DEFAULT_HOST_CONNECTIONS 16
#define RUNNER_DEFAULT_KILL_GRACE_MS 5000
#define RUNNER_DEFAULT_TIMEOUT_MS (5 * 60 * 1000) /* task without one */
#define RUNNER_MAX_RESPONSE_BYTES (16u * 1024 * 1024)
#define RUNNER_MAX_LOG_BYTES (64u * 1024)    /* "logs" keeps the tail */
#define RUNNER_MAX_LINE_BYTES (1024u * 1024) /* longer lines are split */

struct runner_config {
	int max_host_connections; /* per scheme://host:port; 0: default */
	int64_t kill_grace_ms;	  /* SIGTERM -> SIGKILL; 0: default 5s */
	const char *user_agent;	  /* NULL: "link-loom/<version>" */
	/*
	 * When set, an HTTP request whose "callbackToken" is set carries
	 * "callbackUrl": "<base>/api/v1/callbacks/<token>".
	 */
	const char *callback_base_url;
	/*
	 * Names of variables of our environment that shell and java tasks
	 * get besides PATH, HOME and LANG (exec.pass_env): separated by
	 * spaces or commas, NAME or a prefix ending in '*'.  Nothing else
	 * of ours reaches a task (see loom-exec(8), ENVIRONMENT OF TASKS).
	 * May be NULL.
	 */
	const char *pass_env;
	/*
	 * Called from the loop for every output line of a shell/java task,
	 * with {"execution","task","attempt","stream":"stdout"|"stderr",
	 * "msg"}; line is owned by the callee.  May be NULL.  It may call
	 * runner_cancel() but not runner_free().
	 */
	void (*log_line)(void *arg, jv line);
	void *log_arg;
};

struct runner;

/* Called exactly once per started task; result is owned by the callee. */
typedef void runner_done_cb(void *arg, jv result);

/*
 * Makes a runner on loop; cfg is copied (strings too).  Returns NULL with
 * errno set on failure.
 */
struct runner *runner_new(struct loop *loop, const struct runner_config *cfg);

/*
 * Cancels everything still running: processes are killed with SIGKILL and
 * reaped, transfers dropped, and every done callback not yet called is
 * called now, before runner_free() returns, with a "Cancelled" result (or
 * its real result when it had finished but was not yet delivered).  To
 * drain gracefully, wait for runner_active() == 0 first.  NULL-safe; may be
 * called from a done callback.
 */
void runner_free(struct runner *r);

/*
 * Starts the task in request (consumed).  done(arg, result) is called
 * exactly once, from the loop, never from inside runner_start(); a request
 * that is not valid gets a FAILED result with a ValidationException.
 * *id (when id is not NULL) is set to a number for runner_cancel().
 * Returns 0, or -1 with errno set when the task could not even be queued
 * (then done is never called).
 */
int runner_start(struct runner *r, jv request, runner_done_cb *done, void *arg,
    uint64_t *id);

/*
 * Stops a running task: an HTTP transfer is dropped at once, a process
 * group gets SIGTERM (SIGKILL after the grace period) and is reported
 * when it is gone.  done is still called once, with status FAILED and
 * error type "Cancelled" (unless the task had already finished).  Returns
 * 0, or -1 with errno ENOENT for an unknown or already delivered id.
 */
int runner_cancel(struct runner *r, uint64_t id);

/* runner_cancel() for every running task (for a drain on SIGTERM). */
void runner_cancel_all(struct runner *r);

/* Tasks started whose done callback has not been called yet. */
size_t runner_active(const struct runner *r);

/*
 * Pure helpers, exposed for loom-exec, `loom run` and the unit tests.
 */

/*
 * Checks a request's shape (ids, attempt, task type, timeout, the fields
 * each type needs).  Returns 0, or -1 with *err a malloc'd message.
 */
int runner_check_request(jv request, char **err);

/* The request's task timeout in ms (RUNNER_DEFAULT_TIMEOUT_MS if unset),
 * or -1 when malformed. */
int64_t runner_request_timeout(jv request);

/*
 * Checks exec.pass_env's list (see runner_config.pass_env).  Returns 0,
 * or -1 with *err a malloc'd message naming the bad entry.
 */
int runner_pass_env_check(const char *list, char **err);

/*
 * The protocol body sent to an HTTP backend and written to a process's
 * stdin, as JSON text (*len bytes, NUL-terminated, malloc'd):
 * {"executionId","taskId","input","attempt","timeout"} in that order, plus
 * "callbackUrl" when callback_base_url is set and the request has a
 * "callbackToken".
 */
char *runner_envelope(
    jv request, int64_t timeout_ms, const char *callback_base_url, size_t *len);

/*
 * Interprets an HTTP answer.  protocol: the body follows the callback
 * protocol ({"status","output","logs","duration","error"}); otherwise (a
 * task with its own "body") any 2xx is SUCCESS with the body, if JSON, as
 * output (else the body as a string).  Returns a partial result: "status",
 * "output", and as they apply "error", "logs", "backendDurationMs".
 */
jv runner_parse_response(
    int http_status, const char *body, size_t len, int protocol);

/* The error class of a curl failure (a CURLcode). */
enum errclass runner_curl_errclass(int curlcode);

/* {"type": errclass_name(c), "message": …} */
jv runner_error(enum errclass c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * How a finished process turns into a partial result (status, output,
 * error, exitCode/signal).  output_file is the content of $LOOM_OUTPUT,
 * last_stdout the last stdout line, blank or not, last_stderr the last
 * non-blank stderr line (for messages); each may be NULL.
 */
struct runner_proc_exit {
	int exited; /* 1: exit code in status; 0: killed by signal */
	int status; /* exit code or signal number */
	const char *output_file;
	size_t output_file_len;
	const char *last_stdout;
	const char *last_stderr;
};
jv runner_proc_outcome(const struct runner_proc_exit *x);

/* "SIGTERM" for SIGTERM; "SIG42" for an unnamed one.  buf >= 16 bytes. */
const char *runner_signal_name(int signo, char *buf, size_t len);

/* Writes a fresh W3C traceparent "00-<32 hex>-<16 hex>-01" (56 bytes with
 * the NUL) into buf. */
void runner_traceparent_new(char buf[56]);
/* Whether s is a well-formed version-00 traceparent. */
int runner_traceparent_valid(const char *s);

#ifdef LOOM_RUNNER_INTERNAL
/*
 * Between runner.c and its back ends run_http.c and run_proc.c; nothing
 * else includes this part.
 */
enum runner_kind {
	RUN_HTTP,
	RUN_SHELL,
	RUN_JAVA,
};

struct run_http;
struct run_proc;
struct http_xfer;

struct runner_job {
	struct runner *runner;
	uint64_t id;
	enum runner_kind kind;
	char *execution_id;
	char *task_id;
	int attempt;
	int64_t timeout_ms;
	char traceparent[56];
	char scheduled_time[32]; /* the request's "scheduledTime", or "" */
	jv task;		 /* the request's "task" object; owned */
	char *envelope;		 /* runner_envelope(); owned */
	char *secrets[2];	 /* the callback token in it, raw and as in the
				  * URL, to keep out of logs; owned, or NULL */
	size_t envelope_len;
	int64_t start_ms; /* monotonic */
	int cancelled;	  /* runner_cancel() was called */
	int finished;	  /* result is set; waiting for delivery */
	jv result;	  /* partial result from the back end, then full */
	runner_done_cb *done;
	void *arg;
	struct runner_job *next_done; /* delivery queue, once finished */
	struct http_xfer *xfer;	      /* RUN_HTTP while running */
	struct run_proc *proc;	      /* RUN_SHELL/RUN_JAVA while running */
	struct runner_job *prev, *next;
};

struct loop *runner_loop(struct runner *r);
/* The job's execution, task and attempt as log context (log.h); NULL:
 * none. */
void runner_job_ctx(const struct runner_job *j);
const struct runner_config *runner_cfg(struct runner *r);
struct run_http *runner_http(struct runner *r);
/*
 * run_proc.c's directory of $LOOM_OUTPUT files (owned by the runner,
 * removed with it): its path (NULL until made), and a descriptor of it
 * (-1: none) that holds a lock on it for as long as the runner lives.
 */
struct runner_outdir {
	char *path;
	int lock_fd;
};
struct runner_outdir *runner_outdir(struct runner *r);

/*
 * A back end reports the end of a job with a partial result (consumed);
 * the runner completes it and delivers it from a deferred callback.  May
 * be called from inside a *_start function.
 */
void runner_job_finish(struct runner_job *j, jv partial);

struct run_http *run_http_new(
    struct loop *loop, const struct runner_config *cfg);
void run_http_free(struct run_http *h);
void run_http_start(struct run_http *h, struct runner_job *j);
/* Drops the transfer at once; the back end will not finish the job. */
void run_http_cancel(struct run_http *h, struct runner_job *j);

void run_proc_start(struct runner *r, struct runner_job *j);
/* SIGTERM now, SIGKILL after the grace; finishes the job when reaped. */
void run_proc_cancel(struct runner_job *j);
/* SIGKILL, reap and clean up now; the back end will not finish the job. */
void run_proc_abort(struct runner_job *j);
#endif

#endif
