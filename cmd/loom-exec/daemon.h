/*
 * daemon.h: the database mode's state (struct xd) and what its files ask
 * of each other.  dbmode.h is the mode's entry for main.c; this header is
 * for the files of the mode alone:
 *
 *   dbmode.c     the entry: set up, run the loop, tear down; the work
 *                callback (do_work) that every event kicks
 *   dbopts.c     the exec.* keys of this mode (struct dbopts)
 *   jobs.c       a claimed task while it runs and until its result is
 *                written (struct job): the running list, the result queue
 *   claims.c     starting what a claim brought, after asking the breakers
 *   batch.c      the batch in flight: results and the next claim as one
 *                round trip the loop does not wait for; xd_settle()
 *   report.c     results and output lines written the blocking way
 *   leases.c     lease renewal, and jobs stopped when their run is cancelled
 *   deadlines.c  the timers armed from a query: callback deadlines,
 *                foreign lease expiry, held tasks coming due
 *   breakers.c   circuit breaker notes, held tasks re-timed, SIGHUP's
 *                breaker.* keys
 *   conn.c       the work connection lost and re-made; the doorbells
 *   drain.c      SIGTERM/SIGINT's drain, the stop, SIGHUP
 *   status.c     the control socket's status (util/ctl.h) and the HTTP
 *                latency per target it reports
 *
 * Everything runs on the one loop thread.  The xd_ prefix keeps these
 * names apart from the other programs' in the tests' link.
 */
#ifndef LOOM_EXEC_DAEMON_H
#define LOOM_EXEC_DAEMON_H

#include <stddef.h>
#include <stdint.h>

#include <jv.h>
#include <libpq-fe.h>

#include "advance.h"
#include "core/execbreaker.h"
#include "exec.h"
#include "logq.h"
#include "logsink.h"
#include "net/otlp.h"
#include "store/breakerdb.h"
#include "store/db.h"
#include "store/execdb.h"
#include "util/config.h"
#include "util/loop.h"

#define FLUSH_MAX 1000 /* results per report statement */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define DUE_AGAIN_MS 100    /* a due READY row a claim skipped, locked */
#define SLOTS_MIN 64	    /* adaptive slots: the fewest (claims.c) */
#define SLOTS_MAX 512	    /* ... the most: exec.concurrency's default */
#define SLOTS_WINDOW_MS 100 /* ... follow the tasks done in this long */

struct dbopts {
	const char *url;
	char *name;	 /* lease owner; owned */
	int concurrency; /* the most slots */
	int slots_min;	 /* the fewest: concurrency when it was given */
	int batch;
	int64_t lease_ms;
	int64_t drain_ms;
	const char *config_path;
	int cli_debug;		/* -d given: SIGHUP keeps debug on */
	int advance;		/* exec.advance: see advance.h */
	const char *log_socket; /* logd.socket; NULL: the direct way only */
	char *ctl_path;		/* the control socket (owned); NULL: none */
};

struct xd;

/* What one dispatch told its target's breaker, waiting to be written. */
struct bknote {
	char *target;
	char *owner; /* "<exec.name>/<execution>/<task>/<n>" */
	enum execbreaker_verdict verdict;
	enum errclass outcome; /* EXECBREAKER_RECORD */
	struct bknote *next;
};

struct job {
	struct xd *x;
	struct execdb_key key; /* owned */
	int64_t timeout_ms;
	uint64_t rid;	       /* runner id */
	char *target;	       /* breaker target (HTTP), or NULL; owned */
	int64_t start_mono;    /* monotonic ms: dispatched */
	int dropped;	       /* the lease is gone: do not report */
	uint64_t log_mark;     /* its lines are synced at this logsink mark */
	int64_t start_wall_ms; /* dispatched, for the attempt's span */
	char *workflow;	       /* the request's workflowId, or NULL */
	char *type;	       /* http, shell, java; owned, or NULL */
	/* The request's "retry" (dispatch_retry_parse()), when has_retry:
	 * what the engine decides when this attempt fails. */
	struct retry_policy retry;
	int retry_base;
	int has_retry;
	jv result; /* once done */
	struct job *prev, *next;
};

struct xd {
	const struct dbopts *o;
	struct loop *loop;
	struct runner *runner;
	PGconn *conn; /* work connection; NULL while down */
	struct execdb *edb;
	struct logq *logq;    /* output lines for task_logs (logq.h) */
	struct logsink *sink; /* ... or for loom-log first (logsink.h) */
	uint64_t out_mark;    /* the sink's mark after the last output line */
	struct job *wait_head, *wait_tail; /* results waiting for a sync */
	size_t nwait;
	struct pglisten *listen;
	struct loop_defer *work;
	struct loop_timer *renew_t;
	struct loop_timer *callback_t; /* earliest callback deadline */
	struct loop_timer *lease_t;    /* earliest foreign lease expiry */
	struct loop_timer *ready_t;    /* earliest held task's ready_at */
	struct loop_timer *reconnect_t;
	struct loop_timer *drain_t;
	struct loop_signal *sig[3];
	struct job *running; /* doubly linked */
	size_t nrunning;
	struct job *done_head, *done_tail; /* results to write */
	size_t ndone;
	/*
	 * The batch in flight on the work connection (db_async): the jobs
	 * whose results it writes (fl[], with their rows in flr[]) and the
	 * number of rows its claim asked for (0: none); at most one batch.
	 */
	struct db_async *async;
	struct loop_io *conn_io; /* the work connection's socket */
	struct job **fl;
	struct execdb_result *flr;
	size_t nfl;
	int fl_ask;		 /* also what claimed below asked for */
	int batch_out;		 /* that batch is out */
	struct logq_batch flb;	 /* the output lines it writes first */
	int flb_out;		 /* flb is in it */
	struct advance *adv;	 /* exec.advance; NULL when off */
	struct otlp_config tcfg; /* trace.* */
	struct otlp *otlp;	 /* attempt and run spans; NULL: off */
	int claim_rings;   /* the next claim follows a pass: see advance.h */
	int adv_claim_out; /* a claim is out in a pass's writes */
	PGresult *claimed; /* a claim's answer, to start */
	int sync_flush;	   /* a batch was refused: write one by one */
	char **cancels;	   /* executions to check after loom_cancel */
	size_t ncancels, capcancels;
	struct breaker_config bcfg;
	struct breaker_cache *bcache;		/* closed breakers; owned */
	struct bknote *notes_head, *notes_tail; /* breaker notes */
	char **btargets; /* breakers that rang: re-time held tasks */
	size_t nbtargets, capbtargets;
	int recheck_held;      /* re-time every held target (catch-up) */
	int more_ready;	       /* there may be READY rows */
	uint64_t ready_news;   /* times more_ready was set by news */
	uint64_t fl_news;      /* ready_news when the claim went out */
	uint64_t bells;	       /* loom_task_ready doorbells and catch-ups */
	uint64_t bells_looked; /* bells when xd_arm_deadlines() last ran */
	int looked_idle;       /* that look saw no lease, READY row or result */
	int64_t ready_t_at;    /* monotonic: when ready_t fires; 0: not */
	int want_deadlines;    /* re-arm the deadline timers */
	int draining;
	int finished;  /* xd_finish() ran */
	int hard_stop; /* runner_free() is cancelling everything */
	int64_t backoff_ms;
	int64_t last_renew_ms;	 /* monotonic */
	int64_t deadlines_at_ms; /* monotonic: xd_arm_deadlines() ran */
	uint64_t nclaimed, nreported, ndropped, nheld;
	int slots;	     /* tasks at once now (claims.c) */
	int slots_peak;	     /* the most they were */
	int64_t slots_at_ms; /* monotonic: the window's start */
	uint64_t slots_done; /* tasks done in the window */
	struct ctl *ctl;     /* the control socket (status.c) */
	struct xd_lat *lat;  /* HTTP latency per target (status.c) */
	size_t nlat;
};

/* status.c: the control socket's status; the latency of HTTP calls. */
jv xd_status(void *arg);
void xd_lat_observe(struct xd *x, const char *target, int64_t ms);
void xd_lat_free(struct xd *x);

/* dbopts.c: reads this mode's exec.* keys; -j (jobs > 0) wins. */
int dbopts_load(struct dbopts *d, const struct config *cfg, long jobs);

/* dbmode.c: asks for a turn of the work callback. */
void xd_kick(struct xd *x);

/*
 * dbmode.c: a record for the task's log (consumed): to loom-log, or to
 * task_logs directly.  xd_record() makes one of loom-exec's own, stream
 * "loom".
 */
void xd_log(struct xd *x, jv line);
void xd_record(struct xd *x, const struct execdb_key *k, const char *level,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * jobs.c: the log context of the attempt k (execution, task, attempt;
 * log.h), or none (NULL).
 */
void xd_key_ctx(const struct execdb_key *k);

/*
 * jobs.c: a job lives on the running list, then on the result queue
 * (after waiting, when loom-log has lines of it not synced yet, on the
 * wait list; xd_release_synced() moves those that are).
 */
void xd_release_synced(struct xd *x);
void xd_job_free(struct job *j); /* NULL-safe */
void xd_done_push_front(struct xd *x, struct job *j);
struct job *xd_done_pop(struct xd *x); /* the queue's head */
int xd_result_is(jv result, const char *status);
void xd_job_drop(struct xd *x, struct job *j, const char *why);
void xd_job_start(struct xd *x, struct execdb_claim *c, char *target);

/*
 * claims.c: starts what the last batch claimed.  xd_want_claim() is how
 * news (a doorbell, a timer, a reconnect) says READY rows may be there.
 */
void xd_take_claimed(struct xd *x);
void xd_want_claim(struct xd *x);
int xd_slots(struct xd *x);

/* batch.c: the batch in flight on the work connection. */
int xd_in_flight(const struct xd *x);
int xd_async_open(struct xd *x);
void xd_async_close(struct xd *x);
void xd_settle(struct xd *x);
void xd_advance_step(struct xd *x);
void xd_advance_claim(struct xd *x, struct advance_claim *c);
void xd_send_batch(struct xd *x);

/* report.c: writing the blocking way. */
void xd_account(struct xd *x, struct job *j, int matched);
/*
 * j's failed result is stored: records what the engine decides about it
 * (retry_decision_text()), stream "loom".  Nothing for another result or
 * a request without "retry".
 */
void xd_record_decision(struct xd *x, const struct job *j);
/*
 * jobs.c: loom-exec's two records of a failed attempt, made the same way
 * for a result it reports and for an asynchronous attempt it fails when
 * no callback came (deadlines.c): how the attempt ended (etype NULL: a
 * failure of no known type), and what the engine decides by policy p
 * (retry_decision_text(); base the request's attempt base).
 */
void xd_record_failure(struct xd *x, const struct execdb_key *k,
    const char *etype, const char *emsg);
void xd_record_verdict(struct xd *x, const struct execdb_key *k,
    const struct retry_policy *p, int base, const char *etype);
void xd_flush(struct xd *x);
void xd_flush_logs(struct xd *x);

/* leases.c */
void xd_renew(struct xd *x);
void xd_on_renew(struct loop_timer *t, void *arg);
void xd_renew_arm(struct xd *x);
int xd_has_jobs_of(struct xd *x, const char *execution_id);
void xd_check_cancels(struct xd *x);

/* deadlines.c */
void xd_arm_deadlines(struct xd *x);
void xd_ready_wake(struct xd *x, int64_t ms);
void xd_on_callback_deadline(struct loop_timer *t, void *arg);
void xd_on_lease_expiry(struct loop_timer *t, void *arg);
void xd_on_ready_due(struct loop_timer *t, void *arg);

/* breakers.c: notes queue like results; the owner string is malloc'd. */
char *xd_dispatch_owner(const struct xd *x, const struct execdb_key *k);
void xd_note_push(struct xd *x, const struct job *j, enum execbreaker_verdict v,
    enum errclass outcome);
void xd_note_free(struct bknote *n);	  /* NULL-safe */
struct bknote *xd_note_pop(struct xd *x); /* the queue's head */
void xd_btarget_add(struct xd *x, const char *target);
void xd_bcache_renew(struct xd *x);
void xd_write_notes(struct xd *x);
void xd_retime_held(struct xd *x);
void xd_reload_breaker(struct xd *x, const struct config *cfg);

/*
 * conn.c: the work connection.  xd_db_failed() frees err and returns 1
 * when the connection is gone.
 */
void xd_db_lost(struct xd *x, const char *why);
int xd_db_failed(struct xd *x, const char *what, char *err);
void xd_catch_up(struct xd *x);
void xd_on_reconnect(struct loop_timer *t, void *arg);
void xd_on_notify(void *arg, const char *channel, const char *payload);
void xd_on_listen_connect(void *arg);

/* drain.c */
void xd_finish(struct xd *x);
void xd_on_drain_timeout(struct loop_timer *t, void *arg);
void xd_on_signal(struct loop_signal *s, int signo, void *arg);

#endif
