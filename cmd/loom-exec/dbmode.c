/*
 * dbmode: loom-exec's database mode, the executor daemon.
 *
 * Work queues are rows (DESIGN.md section 1): loom-engine writes READY
 * run_tasks rows and rings loom_task_ready; every executor claims as many
 * as it has free slots in one statement (lib/store/execdb.c), runs them through
 * the shared runner, and reports the results in batches, one durable
 * transaction per batch.  Doorbells arrive on a pglisten connection; the
 * queries run on a separate work connection.  All the database work
 * happens in one deferred callback ("work") at idle priority, so it runs
 * once every watch that woke in the same turn (curl sockets, child
 * processes) has delivered its result.  The queued results and the next
 * claim go out together as one batch that the loop does not wait for
 * (db_async, "the batch in flight" below): tasks keep running and results
 * keep queueing while it is out, so the busier the executor, the more
 * results one transaction carries.  Work also writes breaker notes,
 * checks cancelled runs and renews leases, blocking but short, after the
 * batch in flight settled.  It claims while there may be more ready rows
 * (the last claim filled what it asked for, or a doorbell rang) and slots
 * are free.  A claim that came back short means the queue is empty: the
 * next doorbell wakes us.  When a batch is all this executor has, it takes
 * the run's next step itself right behind it (exec.advance, advance.h);
 * the statements of such a pass go out on the same connection, so every
 * blocking helper first takes a pass under way to its end (settle()).
 *
 * Leases: every row this executor runs is leased for exec.lease and
 * renewed every third of it, in one UPDATE for all; a row whose lease is
 * not ours any more (the run was cancelled, or another executor took it
 * over after the lease ran out) stops its job and its result is dropped.
 * Rows of dead executors are reclaimed by whoever claims next; a timer set
 * for the earliest foreign lease expiry makes sure someone does even when
 * no doorbell rings.  Another timer, set for the earliest deadline of a
 * task whose backend answered 202, fails those whose callback never came.
 * Both timers are armed from a query, never polled.
 *
 * When the database goes away, queued results are kept, running tasks go
 * on, and the work connection is re-made with backoff; then leases are
 * renewed, results flushed and claiming resumes.  SIGTERM/SIGINT stop
 * claiming and wait up to exec.drain_timeout for the running tasks, then
 * cancel the rest and give up their leases so another executor re-runs
 * them at once; a second signal cuts the wait short.  Ownership: a struct
 * job belongs to the running list while the runner has it, then to the
 * result queue until its result is written (or dropped).
 *
 * Circuit breakers (lib/store/breakerdb.h, breaker.* keys, re-read on SIGHUP):
 * each claimed HTTP task asks its target's breaker first.  One that must
 * wait is held (lib/store/execdb.c, execdb_hold()): READY again with its
 * attempt number, ready_at at the breaker's retry time and held_target
 * set, so it uses up nothing; a timer set from a query for the earliest
 * future ready_at claims it when it is due.  Every result of an HTTP
 * dispatch is told to the breaker, a cancelled one gives its probe back;
 * these notes queue like results and are written by "work".  A state
 * change of any breaker rings loom_breaker (payload: the target): every
 * executor then asks the breaker when its held tasks may go and re-times
 * them, releasing them at once when it closed or its probe is free, and
 * forgets its cache of closed breakers.  Breaker database errors fail
 * open: the task is logged and dispatched.
 */
#include "dbmode.h"
#include "advance.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "store/breakerdb.h"
#include "store/db.h"
#include "core/execbreaker.h"
#include "store/execdb.h"
#include "core/hmap.h"
#include "util/log.h"
#include "logq.h"
#include "util/loop.h"
#include "store/pglisten.h"
#include "core/xalloc.h"

#define FLUSH_MAX	1000	/* results per report statement */
#define BACKOFF_MIN_MS	100
#define BACKOFF_MAX_MS	5000

struct dbopts {
	const char *url;
	char *name;		/* lease owner; owned */
	int concurrency;
	int batch;
	int64_t lease_ms;
	int64_t drain_ms;
	const char *config_path;
	int cli_debug;		/* -d given: SIGHUP keeps debug on */
	int advance;		/* exec.advance: see advance.h */
};

struct xd;

/* What one dispatch told its target's breaker, waiting to be written. */
struct bknote {
	char *target;
	char *owner;		/* "<exec.name>/<execution>/<task>/<n>" */
	enum execbreaker_verdict verdict;
	enum errclass outcome;	/* EXECBREAKER_RECORD */
	struct bknote *next;
};

struct job {
	struct xd *x;
	struct execdb_key key;	/* owned */
	int64_t timeout_ms;
	uint64_t rid;		/* runner id */
	char *target;		/* breaker target (HTTP), or NULL; owned */
	int dropped;		/* the lease is gone: do not report */
	jv result;		/* once done */
	struct job *prev, *next;
};

struct xd {
	const struct dbopts *o;
	struct loop *loop;
	struct runner *runner;
	PGconn *conn;		/* work connection; NULL while down */
	struct execdb *edb;
	struct logq *logq;	/* output lines for task_logs (logq.h) */
	struct pglisten *listen;
	struct loop_defer *work;
	struct loop_timer *renew_t;
	struct loop_timer *callback_t;	/* earliest callback deadline */
	struct loop_timer *lease_t;	/* earliest foreign lease expiry */
	struct loop_timer *ready_t;	/* earliest held task's ready_at */
	struct loop_timer *reconnect_t;
	struct loop_timer *drain_t;
	struct loop_signal *sig[3];
	struct job *running;	/* doubly linked */
	size_t nrunning;
	struct job *done_head, *done_tail;	/* results to write */
	size_t ndone;
	/*
	 * The batch in flight on the work connection (db_async): the jobs
	 * whose results it writes (fl[], with their rows in flr[]) and the
	 * number of rows its claim asked for (0: none); at most one batch.
	 */
	struct db_async *async;
	struct loop_io *conn_io;	/* the work connection's socket */
	struct job **fl;
	struct execdb_result *flr;
	size_t nfl;
	int fl_ask;		/* also what claimed below asked for */
	int batch_out;		/* that batch is out */
	struct logq_batch flb;	/* the output lines it writes first */
	int flb_out;		/* flb is in it */
	struct advance *adv;	/* exec.advance; NULL when off */
	int claim_rings;	/* the next claim follows a pass: see advance.h */
	PGresult *claimed;	/* a claim's answer, to start */
	int sync_flush;		/* a batch was refused: write one by one */
	char **cancels;		/* executions to check after loom_cancel */
	size_t ncancels, capcancels;
	struct breaker_config bcfg;
	struct breaker_cache *bcache;	/* closed breakers; owned */
	struct bknote *notes_head, *notes_tail;	/* breaker notes */
	char **btargets;	/* breakers that rang: re-time held tasks */
	size_t nbtargets, capbtargets;
	int recheck_held;	/* re-time every held target (catch-up) */
	int more_ready;		/* there may be READY rows */
	int want_deadlines;	/* re-arm the deadline timers */
	int draining;
	int finished;		/* finish() ran */
	int hard_stop;		/* runner_free() is cancelling everything */
	int64_t backoff_ms;
	int64_t last_renew_ms;	/* monotonic */
	int64_t deadlines_at_ms;	/* monotonic: arm_deadlines() ran */
	uint64_t nclaimed, nreported, ndropped, nheld;
};

/* --- options ----------------------------------------------------------- */

static int
opts_load(struct dbopts *d, const struct config *cfg, long jobs)
{
	char host[256];
	const char *name, *lvl;
	enum log_level conf = LOG_LVL_INFO;
	long n;

	memset(d, 0, sizeof(*d));
	d->url = db_url(cfg);
	d->config_path = config_path(cfg);
	if (config_get_int(cfg, "exec.concurrency", 64, &n) < 0 || n < 1 ||
	    n > 100000) {
		log_warnx("exec.concurrency: expected a number from 1 to "
		    "100000");
		return -1;
	}
	d->concurrency = (int)(jobs > 0 ? jobs : n);
	if (config_get_int(cfg, "exec.batch", 100, &n) < 0 || n < 1 ||
	    n > 10000) {
		log_warnx("exec.batch: expected a number from 1 to 10000");
		return -1;
	}
	d->batch = (int)n;
	if (config_get_duration(cfg, "exec.lease", 30000, &d->lease_ms) < 0 ||
	    d->lease_ms < 300) {
		log_warnx("exec.lease: expected a duration of at least 300ms");
		return -1;
	}
	if (config_get_duration(cfg, "exec.drain_timeout", 30000,
	    &d->drain_ms) < 0 || d->drain_ms < 0) {
		log_warnx("exec.drain_timeout: expected a duration like 30s");
		return -1;
	}
	if (config_get_bool(cfg, "exec.advance", 1, &d->advance) < 0) {
		log_warnx("exec.advance: expected on or off");
		return -1;
	}
	name = config_get(cfg, "exec.name", NULL);
	if (name != NULL && *name != '\0')
		d->name = xstrdup(name);
	else {
		if (gethostname(host, sizeof(host)) == -1)
			strcpy(host, "localhost");
		host[sizeof(host) - 1] = '\0';
		d->name = xasprintf("%s-%ld", host, (long)getpid());
	}
	lvl = config_get(cfg, "log.level", NULL);
	if (lvl == NULL || log_level_parse(lvl, &conf) < 0)
		conf = LOG_LVL_INFO;
	d->cli_debug = log_get_level() == LOG_LVL_DEBUG &&
	    conf != LOG_LVL_DEBUG;
	return 0;
}

/* --- jobs -------------------------------------------------------------- */

static void
kick(struct xd *x)
{
	if (x->work != NULL)
		(void)loop_defer_arm(x->work);
}

static void
job_free(struct job *j)
{
	if (j == NULL)
		return;
	free(j->key.execution_id);
	free(j->key.task_id);
	free(j->target);
	jv_free(j->result);
	free(j);
}

/* --- breaker notes ----------------------------------------------------- */

/* The owner name of a dispatch in the breakers table. */
static char *
dispatch_owner(const struct xd *x, const struct execdb_key *k)
{
	return xasprintf("%s/%s/%s/%d", x->o->name, k->execution_id,
	    k->task_id, k->attempt);
}

static void
note_push(struct xd *x, const struct job *j, enum execbreaker_verdict v,
    enum errclass outcome)
{
	struct bknote *n = xcalloc(1, sizeof(*n));

	n->target = xstrdup(j->target);
	n->owner = dispatch_owner(x, &j->key);
	n->verdict = v;
	n->outcome = outcome;
	if (x->notes_tail)
		x->notes_tail->next = n;
	else
		x->notes_head = n;
	x->notes_tail = n;
}

static void
note_free(struct bknote *n)
{
	if (n == NULL)
		return;
	free(n->target);
	free(n->owner);
	free(n);
}

static struct bknote *
note_pop(struct xd *x)
{
	struct bknote *n = x->notes_head;

	x->notes_head = n->next;
	if (x->notes_head == NULL)
		x->notes_tail = NULL;
	n->next = NULL;
	return n;
}

/* A breaker rang (or gave back its probe): its held tasks are re-timed. */
static void
btarget_add(struct xd *x, const char *target)
{
	for (size_t i = 0; i < x->nbtargets; i++)
		if (strcmp(x->btargets[i], target) == 0)
			return;
	if (x->nbtargets == x->capbtargets) {
		x->capbtargets = x->capbtargets ? x->capbtargets * 2 : 8;
		x->btargets = xreallocarray(x->btargets, x->capbtargets,
		    sizeof(char *));
	}
	x->btargets[x->nbtargets++] = xstrdup(target);
}

/* Another executor may have opened a breaker we remember as closed. */
static void
bcache_renew(struct xd *x)
{
	breaker_cache_free(x->bcache);
	x->bcache = breaker_cache_new();
}

static void
running_link(struct xd *x, struct job *j)
{
	j->prev = NULL;
	j->next = x->running;
	if (x->running)
		x->running->prev = j;
	x->running = j;
	x->nrunning++;
}

static void
running_unlink(struct xd *x, struct job *j)
{
	if (j->prev)
		j->prev->next = j->next;
	else
		x->running = j->next;
	if (j->next)
		j->next->prev = j->prev;
	j->prev = j->next = NULL;
	x->nrunning--;
}

static void
done_push(struct xd *x, struct job *j)
{
	j->next = NULL;
	if (x->done_tail)
		x->done_tail->next = j;
	else
		x->done_head = j;
	x->done_tail = j;
	x->ndone++;
}

/* Back at the head of the queue: a batch that was not written. */
static void
done_push_front(struct xd *x, struct job *j)
{
	j->next = x->done_head;
	x->done_head = j;
	if (x->done_tail == NULL)
		x->done_tail = j;
	x->ndone++;
}

static struct job *
done_pop(struct xd *x)
{
	struct job *j = x->done_head;

	x->done_head = j->next;
	if (x->done_head == NULL)
		x->done_tail = NULL;
	x->ndone--;
	j->next = NULL;
	return j;
}

/* Whether a runner result's "status" is status. */
static int
result_is(jv result, const char *status)
{
	jv st = jv_object_get(jv_copy(result), jv_string("status"));
	int is = jv_get_kind(st) == JV_KIND_STRING &&
	    strcmp(jv_string_value(st), status) == 0;

	jv_free(st);
	return is;
}

static int
is_cancelled_result(jv result)
{
	jv t = jv_getpath(jv_copy(result), JV_ARRAY(jv_string("error"),
	    jv_string("type")));
	int c = jv_get_kind(t) == JV_KIND_STRING &&
	    strcmp(jv_string_value(t), "Cancelled") == 0;

	jv_free(t);
	return c;
}

static void
on_done(void *arg, jv result)
{
	struct job *j = arg;
	struct xd *x = j->x;
	enum errclass outcome;
	enum execbreaker_verdict v;

	running_unlink(x, j);
	if (j->target != NULL) {
		/* Even a result we drop says how the target is doing. */
		v = execbreaker_outcome(jv_copy(result), &outcome);
		note_push(x, j, v, outcome);
	}
	logq_result(x->logq, j->key.execution_id, j->key.task_id,
	    j->key.attempt, result);	/* a backend's "logs" */
	if (j->dropped || (x->hard_stop && is_cancelled_result(result))) {
		log_debug("%s/%s attempt %d: result dropped (not ours any "
		    "more, or stopped)", j->key.execution_id, j->key.task_id,
		    j->key.attempt);
		jv_free(result);
		job_free(j);
		x->ndropped++;
	} else {
		j->result = result;
		done_push(x, j);
	}
	kick(x);
}

/* Stops a job whose row is not ours any more; its result is dropped. */
static void
job_drop(struct xd *x, struct job *j, const char *why)
{
	if (j->dropped)
		return;
	log_info("%s/%s attempt %d: %s; stopping it", j->key.execution_id,
	    j->key.task_id, j->key.attempt, why);
	j->dropped = 1;
	if (x->runner != NULL)
		(void)runner_cancel(x->runner, j->rid);
}

/* Starts the claimed task c; target (owned, may be NULL) is its breaker. */
static void
job_start(struct xd *x, struct execdb_claim *c, char *target)
{
	struct job *j = xcalloc(1, sizeof(*j));
	int64_t tmo;

	j->x = x;
	j->target = target;
	j->key = c->key;
	c->key.execution_id = c->key.task_id = NULL;
	j->result = jv_invalid();
	tmo = runner_request_timeout(jv_copy(c->request));
	j->timeout_ms = tmo > 0 ? tmo : RUNNER_DEFAULT_TIMEOUT_MS;
	running_link(x, j);
	log_debug("%s/%s attempt %d: starting", j->key.execution_id,
	    j->key.task_id, j->key.attempt);
	if (runner_start(x->runner, c->request, on_done, j, &j->rid) == -1) {
		/* Not even queued: report the failure like any other. */
		running_unlink(x, j);
		j->result = JV_OBJECT(jv_string("status"), jv_string("FAILED"),
		    jv_string("output"), jv_null(), jv_string("error"),
		    runner_error(ERR_TASK_FAILED, "cannot start: %s",
		    strerror(errno)));
		/* Never sent: a probe it took goes back. */
		if (j->target != NULL)
			note_push(x, j, EXECBREAKER_RELEASE, ERR_NONE);
		done_push(x, j);
	}
	c->request = jv_null();
}

/* --- the database ------------------------------------------------------ */

static void async_close(struct xd *x);
static int async_open(struct xd *x);
static void settle(struct xd *x);
static void advance_step(struct xd *x);

/* Whether the batch of "the batch in flight" below is out. */
static int
in_flight(const struct xd *x)
{
	return db_async_pending(x->async) > 0;
}

static void
db_lost(struct xd *x, const char *why)
{
	if (x->conn == NULL)
		return;
	log_warnx("database: %s; reconnecting (%zu results kept, %zu tasks "
	    "running)", why ? why : "connection broken", x->ndone,
	    x->nrunning);
	async_close(x);
	PQfinish(x->conn);
	x->conn = NULL;
	(void)execdb_set_conn(x->edb, NULL, NULL);
	if (x->adv)
		advance_set_conn(x->adv, NULL, NULL);
	(void)loop_timer_after(x->reconnect_t, x->backoff_ms);
}

/*
 * After a failed statement: a broken connection is re-made; a refused
 * statement is only logged (the work is retried by the next event).
 * Returns 1 when the connection is gone.  err is freed.
 */
static int
db_failed(struct xd *x, const char *what, char *err)
{
	int lost = x->conn == NULL || PQstatus(x->conn) != CONNECTION_OK;

	if (lost)
		db_lost(x, err);
	else
		log_warnx("%s: %s", what, err ? err : "database error");
	free(err);
	return lost;
}

static char *
key_string(const struct execdb_key *k)
{
	return xasprintf("%s\n%s\n%d", k->execution_id, k->task_id,
	    k->attempt);
}

/*
 * Renews the leases of the rows we run or have results for; running jobs
 * whose row is not ours any more are stopped.
 */
static void
renew(struct xd *x)
{
	struct execdb_key *mine, *kept = NULL;
	struct hmap *m;
	char **ks;
	char *err = NULL;
	size_t n = 0, i;
	long nk;

	x->last_renew_ms = loop_mono_ms(x->loop);
	settle(x);
	if (x->conn == NULL || x->nrunning + x->ndone == 0)
		return;
	mine = xcalloc(x->nrunning + x->ndone, sizeof(*mine));
	for (struct job *j = x->running; j; j = j->next)
		if (!j->dropped)
			mine[n++] = j->key;
	for (struct job *j = x->done_head; j; j = j->next)
		mine[n++] = j->key;
	nk = execdb_renew(x->edb, mine, n, &kept, &err);
	free(mine);
	if (nk < 0) {
		db_failed(x, "renewing leases", err);
		return;
	}
	m = hmap_new((size_t)nk);
	ks = xcalloc((size_t)nk + 1, sizeof(char *));
	for (long k = 0; k < nk; k++) {
		ks[k] = key_string(&kept[k]);
		hmap_put(m, ks[k], (size_t)k);
	}
	for (struct job *j = x->running; j; j = j->next) {
		char *s;
		size_t v;

		if (j->dropped)
			continue;
		s = key_string(&j->key);
		if (hmap_get(m, s, &v) < 0)
			job_drop(x, j, "the task is not leased to this "
			    "executor any more (cancelled or taken over)");
		free(s);
	}
	for (i = 0; i < (size_t)nk; i++)
		free(ks[i]);
	free(ks);
	hmap_free(m);
	execdb_keys_free(kept, nk);
}

static void flush_one_by_one(struct xd *x, struct job **b, size_t n);
static void flush_logs(struct xd *x);

/* Counts a written result; an ACCEPTED one moves a callback deadline. */
static void
account(struct xd *x, struct job *j, int matched)
{
	if (!matched) {
		log_debug("%s/%s attempt %d: not ours any more (cancelled or "
		    "taken over); result dropped", j->key.execution_id,
		    j->key.task_id, j->key.attempt);
		x->ndropped++;
		return;
	}
	x->nreported++;
	if (result_is(j->result, "ACCEPTED"))
		x->want_deadlines = 1;
}

/* Writes the queued results, FLUSH_MAX per transaction. */
static void
flush(struct xd *x)
{
	struct job *b[FLUSH_MAX];
	struct execdb_result r[FLUSH_MAX];
	struct logq_batch lb;
	struct db_stmt lst, *pre = NULL;

	settle(x);

	while (x->done_head != NULL && x->conn != NULL) {
		size_t n = 0;
		char *err = NULL;
		long rc;

		for (struct job *j = x->done_head; j && n < FLUSH_MAX;
		    j = j->next, n++) {
			b[n] = j;
			r[n].key = &j->key;
			r[n].result = j->result;
			r[n].timeout_ms = j->timeout_ms;
			r[n].matched = 0;
		}
		/* Output lines ride with the results: same round trip,
		 * same transaction, ahead of them. */
		if (logq_len(x->logq) > 0 &&
		    logq_batch(x->logq, &lb, &lst) > 0) {
			if (lb.k == logq_len(x->logq))
				pre = &lst;
			else {
				/* More than a batch: all of them first. */
				logq_batch_end(x->logq, &lb, 0);
				flush_logs(x);
				if (x->conn == NULL)
					return;
			}
		}
		rc = execdb_report(x->edb, r, n, pre, &err);
		if (pre != NULL)
			logq_batch_end(x->logq, &lb, rc >= 0);
		pre = NULL;
		if (rc < 0) {
			if (db_failed(x, "writing results", err))
				return;
			/* Refused: lines and results go on their own. */
			flush_logs(x);
			flush_one_by_one(x, b, n);
			continue;
		}
		log_debug("wrote %zu results (%ld still ours)", n, rc);
		for (size_t i = 0; i < n; i++) {
			account(x, b[i], r[i].matched);
			job_free(done_pop(x));
		}
	}
}

/*
 * A batch the server refused (a result it cannot store, such as output
 * with a NUL character): write each alone; one that still fails is
 * written as a plain failure saying why, so the run goes on.
 */
static void
flush_one_by_one(struct xd *x, struct job **b, size_t n)
{
	for (size_t i = 0; i < n && x->conn != NULL; i++) {
		struct job *j = b[i];
		struct execdb_result r;
		char *err = NULL;
		long rc;

		r.key = &j->key;
		r.result = j->result;
		r.timeout_ms = j->timeout_ms;
		rc = execdb_report(x->edb, &r, 1, NULL, &err);
		if (rc < 0 && err != NULL && x->conn &&
		    PQstatus(x->conn) == CONNECTION_OK) {
			char *nl = strchr(err, '\n');
			jv d = jv_object_get(jv_copy(j->result),
			    jv_string("durationMs"));

			/* "ERROR:  what\nDETAIL: ..." -> "what" */
			if (nl != NULL)
				*nl = '\0';
			if (strncmp(err, "ERROR:  ", 8) == 0)
				memmove(err, err + 8, strlen(err + 8) + 1);
			if (jv_get_kind(d) != JV_KIND_NUMBER) {
				jv_free(d);
				d = jv_null();
			}
			log_warnx("%s/%s attempt %d: the result cannot be "
			    "stored (%s); reporting a failure instead",
			    j->key.execution_id, j->key.task_id,
			    j->key.attempt, err);
			jv_free(j->result);
			j->result = JV_OBJECT(jv_string("status"),
			    jv_string("FAILED"), jv_string("output"),
			    jv_null(), jv_string("error"),
			    runner_error(ERR_TASK_FAILED, "the result could not "
			    "be stored: %s", err), jv_string("durationMs"), d);
			free(err);
			err = NULL;
			r.result = j->result;
			rc = execdb_report(x->edb, &r, 1, NULL, &err);
		}
		if (rc < 0) {
			if (db_failed(x, "writing a result", err))
				return;	/* the rest stays queued */
			log_warnx("%s/%s attempt %d: result dropped; the task "
			    "will run again when its lease expires",
			    j->key.execution_id, j->key.task_id,
			    j->key.attempt);
			r.matched = 0;
		}
		account(x, j, r.matched);
		job_free(done_pop(x));	/* b[i] is the head */
	}
}

/*
 * Asks the breaker of every claimed HTTP task whether it may go: targets[i]
 * gets the target of claim i (or NULL), and the claims that must wait are
 * held.  On a breaker database error the task goes anyway (fail open).
 */
static void
screen(struct xd *x, struct execdb_claim *c, long n, char **targets,
    unsigned char *held)
{
	struct execdb_hold *h = xcalloc((size_t)n + 1, sizeof(*h));
	char buf[BREAKER_TARGET_MAX], *owner, *err = NULL;
	size_t nh = 0;
	int64_t at;
	long done;
	int rc;

	for (long i = 0; i < n; i++) {
		targets[i] = NULL;
		held[i] = 0;
		if (!x->bcfg.enabled ||
		    !execbreaker_target(jv_copy(c[i].request), buf,
		    sizeof(buf)))
			continue;
		targets[i] = xstrdup(buf);
		if (!breakerdb_cached(&x->bcfg, x->bcache, buf, 0, ERR_NONE))
			settle(x);
		if (x->conn == NULL)
			continue;
		owner = dispatch_owner(x, &c[i].key);
		rc = breakerdb_allow(x->conn, &x->bcfg, x->bcache, buf, owner,
		    &at, &err);
		free(owner);
		if (rc < 0) {
			log_warnx("%s/%s attempt %d: circuit breaker of %s: "
			    "%s; dispatching anyway", c[i].key.execution_id,
			    c[i].key.task_id, c[i].key.attempt, buf,
			    err ? err : "database error");
			if (PQstatus(x->conn) != CONNECTION_OK)
				db_lost(x, NULL);
			free(err);
			err = NULL;
			continue;
		}
		if (rc == 0) {
			held[i] = 1;
			h[nh].key = &c[i].key;
			h[nh].target = targets[i];
			h[nh].retry_at_ms = at;
			nh++;
			log_debug("%s/%s attempt %d: held: the circuit breaker "
			    "of %s is open", c[i].key.execution_id,
			    c[i].key.task_id, c[i].key.attempt, buf);
		}
	}
	if (nh > 0)
		settle(x);
	if (nh > 0 && x->conn != NULL &&
	    (done = execdb_hold(x->edb, h, nh, &err)) >= 0) {
		log_info("held %zu task%s (first for %s): circuit breaker "
		    "open", nh, nh == 1 ? "" : "s", h[0].target);
		if ((size_t)done != nh)
			log_debug("%zu of them were not ours any more",
			    nh - (size_t)done);
		x->nheld += (uint64_t)done;
		x->want_deadlines = 1;
	} else if (nh > 0) {
		log_warnx("holding %zu task%s for open circuit breakers: %s; "
		    "dispatching them anyway", nh, nh == 1 ? "" : "s",
		    err ? err : "no database connection");
		if (x->conn != NULL && PQstatus(x->conn) != CONNECTION_OK)
			db_lost(x, NULL);
		free(err);
		memset(held, 0, (size_t)n);
	}
	free(h);
}

/* Starts the rows a claim that asked for ask rows answered with (r). */
static void
start_claimed(struct xd *x, PGresult *r, int ask)
{
	struct execdb_claim *c = NULL;
	char **targets;
	unsigned char *held;
	long n = execdb_claim_parse(r, &c);

	PQclear(r);
	if (n > 0)
		log_debug("claimed %ld of %d", n, ask);
	x->nclaimed += (uint64_t)n;
	targets = xcalloc((size_t)n + 1, sizeof(char *));
	held = xcalloc((size_t)n + 1, 1);
	screen(x, c, n, targets, held);
	for (long i = 0; i < n; i++)
		if (held[i])
			free(targets[i]);
		else
			job_start(x, &c[i], targets[i]);
	free(targets);
	free(held);
	execdb_claims_free(c, n);
	if (n < ask) {
		/* The queue is empty; the next doorbell wakes us.  Make sure
		 * a dead executor's leases are reclaimed even without one. */
		x->more_ready = 0;
		if (!loop_timer_armed(x->lease_t)) {
			/*
			 * A foreign lease taken since the last look lasts
			 * exec.lease: looking again a quarter of that after
			 * it is soon enough, and spares a query per claim.
			 */
			int64_t since = loop_mono_ms(x->loop) -
			    x->deadlines_at_ms;

			if (x->deadlines_at_ms == 0 ||
			    since >= x->o->lease_ms / 4)
				x->want_deadlines = 1;
			else
				(void)loop_timer_after(x->lease_t,
				    x->o->lease_ms / 4 - since);
		}
	}
}

static void
arm_deadlines(struct xd *x)
{
	int64_t cb, lease, ready;
	char *err = NULL;

	settle(x);

	x->want_deadlines = 0;
	x->deadlines_at_ms = loop_mono_ms(x->loop);
	if (execdb_next_deadlines(x->edb, &cb, &lease, &ready, &err) < 0) {
		db_failed(x, "reading deadlines", err);
		return;
	}
	/* Held tasks: a few ms late, so that they are due on the server. */
	if (ready < 0 || x->draining)
		loop_timer_stop(x->ready_t);
	else
		(void)loop_timer_after(x->ready_t, ready + 5);
	if (cb >= 0)
		(void)loop_timer_after(x->callback_t, cb < 10 ? 10 : cb);
	else
		loop_timer_stop(x->callback_t);
	/*
	 * A foreign lease matters only with a free slot: when every slot
	 * is busy, the claim made as one frees looks again.  A little late
	 * is fine: its owner may still renew it, and a row that is due
	 * already but was not claimed is locked by someone else.
	 */
	if (lease < 0 || x->draining)
		loop_timer_stop(x->lease_t);
	else if (x->nrunning >= (size_t)x->o->concurrency) {
		loop_timer_stop(x->lease_t);
		x->more_ready = 1;
	} else
		(void)loop_timer_after(x->lease_t, lease < 450 ? 500 :
		    lease + 50);
}

static int
has_jobs_of(struct xd *x, const char *execution_id)
{
	for (struct job *j = x->running; j; j = j->next)
		if (!j->dropped && strcmp(j->key.execution_id,
		    execution_id) == 0)
			return 1;
	return 0;
}

/* After loom_cancel: stop our jobs of those runs whose rows are gone. */
static void
check_cancels(struct xd *x)
{
	settle(x);
	while (x->ncancels > 0 && x->conn != NULL) {
		char *id = x->cancels[x->ncancels - 1], *err = NULL;
		struct execdb_key *held = NULL;
		long n;

		if (has_jobs_of(x, id)) {
			n = execdb_held(x->edb, id, &held, &err);
			if (n < 0) {
				if (db_failed(x, "checking a cancel", err))
					return;	/* keep it for later */
				n = 0;
			}
			for (struct job *j = x->running; j; j = j->next) {
				long k;

				if (j->dropped || strcmp(j->key.execution_id,
				    id) != 0)
					continue;
				for (k = 0; k < n; k++)
					if (held[k].attempt == j->key.attempt &&
					    strcmp(held[k].task_id,
					    j->key.task_id) == 0)
						break;
				if (k == n)
					job_drop(x, j, "the run was cancelled");
			}
			execdb_keys_free(held, n);
		}
		x->ncancels--;
		free(id);
	}
}

/*
 * Writes the breaker notes in order.  A refused statement drops its note
 * (the breaker misses one result: fail open); a lost connection keeps
 * the rest for after the reconnect.
 */
static void
write_notes(struct xd *x)
{
	while (x->notes_head != NULL && x->conn != NULL) {
		struct bknote *n = x->notes_head;
		char *err = NULL;
		int rc;

		if (n->verdict == EXECBREAKER_RELEASE ||
		    !breakerdb_cached(&x->bcfg, x->bcache, n->target, 1,
		    n->outcome)) {
			settle(x);
			if (x->conn == NULL)
				return;
		}
		if (n->verdict == EXECBREAKER_RELEASE)
			rc = breakerdb_release(x->conn, &x->bcfg, x->bcache,
			    n->target, n->owner, &err);
		else
			rc = breakerdb_record(x->conn, &x->bcfg, x->bcache,
			    n->target, n->owner, n->outcome, 0, &err);
		if (rc < 0 && db_failed(x, "circuit breaker", err))
			return;
		/* A probe given back: whoever waits for it may go now. */
		if (rc == 1 && n->verdict == EXECBREAKER_RELEASE)
			btarget_add(x, n->target);
		note_free(note_pop(x));
	}
}

/*
 * Re-times the tasks held for the breakers that rang: when the breaker
 * lets dispatches through now they are released (execdb_unhold() rings
 * loom_task_ready), else they wait for its new retry time.
 */
static void
retime_held(struct xd *x)
{
	char **all = NULL, *err = NULL;
	long n;

	settle(x);

	if (x->recheck_held && x->conn != NULL) {
		if ((n = execdb_held_targets(x->edb, &all, &err)) < 0) {
			if (db_failed(x, "reading held tasks", err))
				return;
			n = 0;
		}
		for (long i = 0; i < n; i++) {
			btarget_add(x, all[i]);
			free(all[i]);
		}
		free(all);
		x->recheck_held = 0;
	}
	while (x->nbtargets > 0 && x->conn != NULL) {
		char *t = x->btargets[x->nbtargets - 1];
		int64_t at = 0;
		long m;

		if (breakerdb_retry_at(x->conn, &x->bcfg, t, &at, &err) < 0) {
			if (db_failed(x, "circuit breaker", err))
				return;
			err = NULL;
			at = 0;		/* fail open */
		}
		if ((m = execdb_unhold(x->edb, t, at, &err)) < 0) {
			if (db_failed(x, "re-timing held tasks", err))
				return;
			m = 0;
		}
		if (m > 0) {
			log_info("%ld task%s held for %s %s", m, m == 1 ? "" :
			    "s", t, at > 0 ? "wait for its new retry time" :
			    "released: the circuit breaker lets them through");
			x->want_deadlines = 1;
		}
		x->nbtargets--;
		free(t);
	}
}

static void finish(struct xd *x);

/* Task output lines go before results: a run never ends without them. */
static void
flush_logs(struct xd *x)
{
	char *err = NULL;

	if (logq_len(x->logq) > 0)
		settle(x);
	if (x->conn != NULL && logq_len(x->logq) > 0 &&
	    logq_flush(x->logq, x->conn, &err) < 0)
		db_failed(x, "writing task output lines", err);
}

/* --- the batch in flight ------------------------------------------------ */

/*
 * Results and claims go out together as one batch that the loop does not
 * wait for (db_async): one round trip, one durable transaction (the
 * report makes the commit durable; a claim alone commits asynchronously),
 * while the runner goes on with the tasks in flight and new results
 * queue for the next batch.  Anything else on the work connection settles
 * the batch first (settle()).
 */

/* The batch's answer: account for the results, keep the claim's rows. */
static void
on_batch(void *arg, int rc, const char *err, PGresult **res, size_t n)
{
	struct xd *x = arg;
	size_t k = 0;

	if (x->flb_out) {
		/* Kept when not written: the blocking way writes them. */
		logq_batch_end(x->logq, &x->flb, rc == 0);
		x->flb_out = 0;
		if (rc == 0)
			k++;
	}
	if (rc == 0 && x->nfl > 0) {
		long m = execdb_report_parse(res[k++], x->flr, x->nfl);

		log_debug("wrote %zu results (%ld still ours)", x->nfl, m);
		for (size_t i = 0; i < x->nfl; i++) {
			account(x, x->fl[i], x->flr[i].matched);
			job_free(x->fl[i]);
		}
	} else if (x->nfl > 0) {
		/* Not written: back to the head of the queue, in order. */
		for (size_t i = x->nfl; i-- > 0;)
			done_push_front(x, x->fl[i]);
		if (x->conn != NULL && PQstatus(x->conn) == CONNECTION_OK) {
			log_warnx("writing results: %s", err ? err : "?");
			x->sync_flush = 1;
		}
	}
	x->batch_out = 0;
	if (x->claim_rings) {
		/* Behind a pass: its ready tasks may be more than we took. */
		x->claim_rings = 0;
		advance_claimed(x->adv, rc == 0 && x->fl_ask > 0 && k < n ?
		    (long)PQntuples(res[k]) : -1, x->fl_ask);
	}
	if (rc == 0 && x->fl_ask > 0 && k < n) {
		x->claimed = res[k];
		res[k] = NULL;
	} else if (x->fl_ask > 0) {
		if (x->nfl == 0 && x->conn != NULL &&
		    PQstatus(x->conn) == CONNECTION_OK)
			log_warnx("claiming tasks: %s", err ? err : "?");
		x->more_ready = 1;	/* claim again */
	}
	free(x->fl);
	free(x->flr);
	x->fl = NULL;
	x->flr = NULL;
	x->nfl = 0;
	kick(x);
}

/* Reads the answers that arrived; a broken connection is re-made. */
static void
async_poll(struct xd *x)
{
	if (x->async == NULL)
		return;
	if (!in_flight(x)) {
		/* Nothing asked: a notice, or the server hanging up. */
		if (PQconsumeInput(x->conn) != 1)
			db_lost(x, PQerrorMessage(x->conn));
		return;
	}
	if (db_async_poll(x->async) < 0)
		db_lost(x, NULL);
}

static void
on_conn_readable(struct loop_io *io, int fd, unsigned events, void *arg)
{
	async_poll(arg);
}

static int
async_open(struct xd *x)
{
	x->async = db_async_new(x->conn);
	x->conn_io = loop_io_add(x->loop, PQsocket(x->conn), LOOP_READ,
	    on_conn_readable, x);
	if (x->conn_io == NULL) {
		db_async_free(x->async);
		x->async = NULL;
		return -1;
	}
	return 0;
}

/* Before the connection goes: a batch in flight is not written. */
static void
async_close(struct xd *x)
{
	db_async_free(x->async);	/* on_batch() with -1 */
	x->async = NULL;
	loop_io_del(x->conn_io);
	x->conn_io = NULL;
}

/*
 * Makes the work connection free for a blocking statement: every batch in
 * flight answered, and a pass of exec.advance taken to its end (its
 * transaction must not take in anything else).
 */
static void
settle(struct xd *x)
{
	while (x->conn != NULL) {
		if (in_flight(x) && db_async_wait(x->async) < 0) {
			db_lost(x, NULL);
			return;
		}
		if (!advance_pending(x->adv))
			return;
		advance_step(x);
	}
}

/*
 * Takes a pass whose rows came to its end; its writes go out without
 * being waited for, and the claim that follows goes right behind them.
 */
static void
advance_step(struct xd *x)
{
	if (in_flight(x) && db_async_wait(x->async) < 0) {
		db_lost(x, NULL);
		return;
	}
	if (x->conn == NULL || !advance_pending(x->adv))
		return;
	switch (advance_finish(x->adv, loop_now_ms(x->loop))) {
	case -1:
		db_lost(x, NULL);
		break;
	case 1:
		if (x->draining)	/* no more claims: tell the others */
			advance_claimed(x->adv, -1, 0);
		else {
			x->more_ready = 1;
			x->claim_rings = 1;
		}
		break;
	}
}

static void
adv_kick(void *arg)
{
	kick(arg);
}

/*
 * The run whose next step this executor takes itself after writing the
 * batch (exec.advance), or NULL: only when the batch is all it has (no
 * task running, no other result queued), holds the successes of one run
 * and nothing else; failures go to loom-engine, whose are the retry
 * timers, and a busy executor leaves the steps to it.
 */
static const char *
advance_run(const struct xd *x)
{
	const char *id;

	if (x->adv == NULL || x->draining || x->nrunning > 0 ||
	    x->ndone > 0 || x->nfl == 0)
		return NULL;
	id = x->fl[0]->key.execution_id;
	for (size_t i = 0; i < x->nfl; i++)
		if (!result_is(x->fl[i]->result, "SUCCESS") ||
		    strcmp(x->fl[i]->key.execution_id, id) != 0)
			return NULL;
	return id;
}

/* Sends the queued results (up to FLUSH_MAX) and a claim for free slots. */
static void
send_batch(struct xd *x)
{
	struct db_stmt st[3];
	struct execdb_q *q[2] = { NULL, NULL };
	size_t nst = 0;
	char *err = NULL;
	const char *adv = NULL;
	int ask = 0;

	if (x->conn == NULL || x->batch_out || x->claimed != NULL ||
	    advance_busy(x->adv))
		return;
	/* Output lines go ahead of the results, in their transaction. */
	if (x->ndone > 0 && logq_len(x->logq) > 0) {
		if (logq_batch(x->logq, &x->flb, &st[nst]) !=
		    logq_len(x->logq)) {
			/* More than one statement's worth: the blocking
			 * way writes them all first. */
			logq_batch_end(x->logq, &x->flb, 0);
			x->sync_flush = 1;
			kick(x);
			return;
		}
		x->flb_out = 1;
		nst++;
	}
	if (x->more_ready && !x->draining) {
		ask = x->o->concurrency - (int)x->nrunning;
		if (ask > x->o->batch)
			ask = x->o->batch;
	}
	if (x->claim_rings && ask <= 0) {
		/* No slot for what a pass made ready: tell the others. */
		x->claim_rings = 0;
		advance_claimed(x->adv, -1, 0);
		kick(x);
	}
	x->nfl = x->ndone < FLUSH_MAX ? x->ndone : FLUSH_MAX;
	if (x->nfl == 0 && ask <= 0)
		return;		/* (no lines taken: ndone is 0) */
	if (x->nfl > 0) {
		x->fl = xcalloc(x->nfl, sizeof(*x->fl));
		x->flr = xcalloc(x->nfl, sizeof(*x->flr));
		for (size_t i = 0; i < x->nfl; i++) {
			x->fl[i] = done_pop(x);
			x->flr[i].key = &x->fl[i]->key;
			x->flr[i].result = x->fl[i]->result;
			x->flr[i].timeout_ms = x->fl[i]->timeout_ms;
		}
		adv = advance_run(x);
		q[0] = execdb_report_stmt(x->edb, x->flr, x->nfl, adv == NULL,
		    &st[nst++]);
	}
	if (ask > 0)
		q[1] = execdb_claim_stmt(x->edb, ask, &st[nst++]);
	x->fl_ask = ask > 0 ? ask : 0;
	if (db_async_send(x->async, st, nst, 1, on_batch, x, &err) < 0) {
		execdb_q_free(q[0]);
		execdb_q_free(q[1]);
		on_batch(x, -1, err, NULL, 0);
		db_lost(x, err);
		free(err);
		return;
	}
	execdb_q_free(q[0]);
	execdb_q_free(q[1]);
	x->batch_out = 1;
	/* The pass's first round trip goes right behind the results. */
	if (adv != NULL && advance_start(x->adv, adv, adv_kick, x, &err) < 0) {
		db_lost(x, err);
		free(err);
		return;
	}
	/* libpq may have read the answer while it sent. */
	async_poll(x);
}

/* Starts what the last batch claimed. */
static void
take_claimed(struct xd *x)
{
	PGresult *r = x->claimed;

	x->claimed = NULL;
	if (r != NULL)
		start_claimed(x, r, x->fl_ask);
}

static void
do_work(struct loop_defer *d, void *arg)
{
	struct xd *x = arg;

	/* A pass of exec.advance whose rows came goes on first. */
	if (advance_pending(x->adv))
		advance_step(x);
	take_claimed(x);
	/* Breaker notes first: a retry must find the breaker up to date. */
	if (x->conn != NULL)
		write_notes(x);
	/* Output lines go with the results that follow them, in order, in
	 * the batch (send_batch()); more lines than one statement takes, a
	 * refused batch and a drain take the blocking way. */
	if (x->conn != NULL && x->done_head != NULL && (x->sync_flush ||
	    x->draining)) {
		x->sync_flush = 0;
		flush(x);
	}
	/* Lines of tasks still running; with results queued they wait for
	 * the batch, as do those of a batch that is out. */
	if (x->done_head == NULL && !x->flb_out)
		flush_logs(x);
	if (x->conn != NULL && x->ncancels > 0)
		check_cancels(x);
	if (x->conn != NULL && (x->nbtargets > 0 || x->recheck_held))
		retime_held(x);
	if (x->draining) {
		/* Results still queued wait for the database, up to the
		 * drain timeout. */
		settle(x);
		if (x->nrunning == 0 && x->done_head == NULL)
			finish(x);
		return;
	}
	if (x->conn == NULL)
		return;
	/* A loop that was stalled must not let its own leases lapse. */
	if (x->nrunning > 0 && loop_mono_ms(x->loop) - x->last_renew_ms >
	    x->o->lease_ms / 2)
		renew(x);
	/* Settling above may have brought a claim's rows. */
	take_claimed(x);
	if (x->conn != NULL && x->want_deadlines && !in_flight(x))
		arm_deadlines(x);
	send_batch(x);
}

/* After (re)connecting: whatever doorbells were missed, re-read state. */
static void
catch_up(struct xd *x)
{
	renew(x);
	x->more_ready = 1;
	x->want_deadlines = 1;
	x->recheck_held = 1;
	kick(x);
}

static void
on_reconnect(struct loop_timer *t, void *arg)
{
	struct xd *x = arg;
	char *err = NULL;

	x->conn = db_connect(x->o->url, "loom-exec", &err);
	if (x->conn != NULL && (execdb_set_conn(x->edb, x->conn, &err) < 0 ||
	    async_open(x) < 0)) {
		if (err == NULL)
			err = xasprintf("event loop: %s", strerror(errno));
		PQfinish(x->conn);
		x->conn = NULL;
		(void)execdb_set_conn(x->edb, NULL, NULL);
	}
	if (x->conn == NULL) {
		log_debug("reconnect: %s", err);
		free(err);
		x->backoff_ms = x->backoff_ms * 2 > BACKOFF_MAX_MS ?
		    BACKOFF_MAX_MS : x->backoff_ms * 2;
		(void)loop_timer_after(x->reconnect_t, x->backoff_ms);
		return;
	}
	if (x->adv)
		advance_set_conn(x->adv, x->conn, x->async);
	log_info("database connection is back");
	x->backoff_ms = BACKOFF_MIN_MS;
	catch_up(x);
}

static void
on_notify(void *arg, const char *channel, const char *payload)
{
	struct xd *x = arg;

	if (strcmp(channel, "loom_cancel") == 0) {
		if (payload == NULL || *payload == '\0' ||
		    !has_jobs_of(x, payload))
			return;
		for (size_t i = 0; i < x->ncancels; i++)
			if (strcmp(x->cancels[i], payload) == 0)
				return;
		if (x->ncancels == x->capcancels) {
			x->capcancels = x->capcancels ? x->capcancels * 2 : 8;
			x->cancels = xreallocarray(x->cancels, x->capcancels,
			    sizeof(char *));
		}
		x->cancels[x->ncancels++] = xstrdup(payload);
	} else if (strcmp(channel, BREAKERDB_CHANNEL) == 0) {
		bcache_renew(x);
		if (payload != NULL && *payload != '\0')
			btarget_add(x, payload);
		else
			x->recheck_held = 1;
	} else if (payload != NULL && strcmp(payload, "held") == 0)
		x->want_deadlines = 1;	/* somebody held tasks: re-arm */
	else
		x->more_ready = 1;
	kick(x);
}

static void
on_listen_connect(void *arg)
{
	catch_up(arg);
}

/* --- timers ------------------------------------------------------------ */

static void
on_renew(struct loop_timer *t, void *arg)
{
	struct xd *x = arg;

	renew(x);
	(void)loop_timer_after(t, x->o->lease_ms / 3);
}

static void
on_callback_deadline(struct loop_timer *t, void *arg)
{
	struct xd *x = arg;
	char *err = NULL;
	long n;

	settle(x);
	if (x->conn == NULL)
		return;	/* catch_up() re-arms it */
	n = execdb_fail_overdue(x->edb, &err);
	if (n < 0) {
		db_failed(x, "failing overdue callbacks", err);
		return;
	}
	if (n > 0)
		log_info("%ld task%s failed: no callback within the task "
		    "timeout", n, n == 1 ? "" : "s");
	x->want_deadlines = 1;
	kick(x);
}

static void
on_lease_expiry(struct loop_timer *t, void *arg)
{
	struct xd *x = arg;

	x->more_ready = 1;
	x->want_deadlines = 1;
	kick(x);
}

/* A held task is due: claim (its breaker is asked again). */
static void
on_ready_due(struct loop_timer *t, void *arg)
{
	struct xd *x = arg;

	x->more_ready = 1;
	x->want_deadlines = 1;
	kick(x);
}

/* --- stopping ---------------------------------------------------------- */

/* Gives up what we no longer run, then leaves the loop. */
static void
finish(struct xd *x)
{
	char *err = NULL;
	long n;

	if (x->finished)
		return;
	x->finished = 1;
	settle(x);
	/* Probes of dispatches never sent go back, held tasks are freed. */
	if (x->conn != NULL)
		write_notes(x);
	if (x->conn != NULL && x->nbtargets > 0)
		retime_held(x);
	if (x->conn != NULL) {
		n = execdb_release(x->edb, &err);
		if (n < 0)
			db_failed(x, "releasing leases", err);
		else if (n > 0)
			log_info("released %ld task%s for other executors", n,
			    n == 1 ? "" : "s");
	}
	if (x->ndone > 0)
		log_warnx("%zu results could not be written; those tasks "
		    "will run again when their leases expire", x->ndone);
	log_info("stopped: %llu claimed, %llu results written, %llu dropped, "
	    "%llu held, %llu steps taken", (unsigned long long)x->nclaimed,
	    (unsigned long long)x->nreported, (unsigned long long)x->ndropped,
	    (unsigned long long)x->nheld,
	    (unsigned long long)advance_count(x->adv));
	loop_exit(x->loop, EXEC_OK);
}

/* The drain is over: cancel what still runs, write what finished. */
static void
stop_now(struct xd *x)
{
	if (x->hard_stop)
		return;
	if (x->nrunning > 0)
		log_info("cancelling %zu running task%s", x->nrunning,
		    x->nrunning == 1 ? "" : "s");
	x->hard_stop = 1;
	runner_free(x->runner);	/* calls on_done for every job */
	x->runner = NULL;
	flush_logs(x);
	flush(x);
	finish(x);
}

static void
on_drain_timeout(struct loop_timer *t, void *arg)
{
	stop_now(arg);
}

/* SIGHUP: the breaker.* keys; a bad value keeps the old settings. */
static void
reload_breaker(struct xd *x, const struct config *cfg)
{
	struct breaker_config b;
	char *err = NULL;

	if (breaker_config_load(cfg, &b, &err) < 0) {
		log_warnx("SIGHUP: %s; keeping the circuit breaker settings",
		    err);
		free(err);
		return;
	}
	/* Turned off: what it held goes now (breakerdb_retry_at() says 0). */
	if (x->bcfg.enabled && !b.enabled)
		x->recheck_held = 1;
	x->bcfg = b;
	bcache_renew(x);
	log_info("SIGHUP: circuit breakers %s", b.enabled ? "on" : "off");
	kick(x);
}

static void
reload_config(struct xd *x)
{
	struct config *cfg;
	struct diags d;
	const char *lvl;
	enum log_level level = LOG_LVL_INFO;

	diags_init(&d);
	/* The default file may be absent (built-in defaults); another that
	 * was asked for (-c, LOOM_CONFIG) must be there. */
	if ((cfg = config_load(strcmp(x->o->config_path,
	    CONFIG_DEFAULT_PATH) == 0 ? NULL : x->o->config_path, &d)) ==
	    NULL) {
		log_warnx("SIGHUP: cannot read %s; keeping the settings",
		    x->o->config_path);
		diags_print(&d, stderr);
		diags_clear(&d);
		return;
	}
	diags_clear(&d);
	lvl = config_get(cfg, "log.level", NULL);
	if (lvl != NULL && log_level_parse(lvl, &level) < 0)
		log_warnx("SIGHUP: log.level: unknown level '%s'", lvl);
	else if (x->o->cli_debug)
		log_info("SIGHUP: keeping debug logging (-d)");
	else {
		log_set_level(level);
		log_info("SIGHUP: log level %s", lvl ? lvl : "info");
	}
	reload_breaker(x, cfg);
	config_free(cfg);
}

static void
on_signal(struct loop_signal *s, int signo, void *arg)
{
	struct xd *x = arg;

	if (signo == SIGHUP) {
		reload_config(x);
		return;
	}
	if (x->draining) {
		log_info("second signal: stopping now");
		stop_now(x);
		return;
	}
	log_info("%s: no more claims; waiting up to %lldms for %zu running "
	    "task%s", strsignal(signo), (long long)x->o->drain_ms,
	    x->nrunning, x->nrunning == 1 ? "" : "s");
	loop_notify_stopping(x->loop);
	x->draining = 1;
	x->more_ready = 0;
	(void)loop_timer_after(x->drain_t, x->o->drain_ms);
	kick(x);
}

static void
on_log_line(void *arg, jv line)
{
	if (log_get_level() >= LOG_LVL_DEBUG) {
		jv e = jv_object_get(jv_copy(line), jv_string("execution"));
		jv t = jv_object_get(jv_copy(line), jv_string("task"));
		jv s = jv_object_get(jv_copy(line), jv_string("stream"));
		jv m = jv_object_get(jv_copy(line), jv_string("msg"));

		if (jv_get_kind(e) == JV_KIND_STRING &&
		    jv_get_kind(t) == JV_KIND_STRING &&
		    jv_get_kind(s) == JV_KIND_STRING &&
		    jv_get_kind(m) == JV_KIND_STRING)
			log_debug("%s/%s %s: %s", jv_string_value(e),
			    jv_string_value(t), jv_string_value(s),
			    jv_string_value(m));
		jv_free(e);
		jv_free(t);
		jv_free(s);
		jv_free(m);
	}
	logq_line(((struct xd *)arg)->logq, line);	/* to task_logs */
}

static void
logq_kick(void *arg)
{
	kick(arg);
}

/* --- the entry point --------------------------------------------------- */

int
exec_db_run(const struct exec_opts *eo, const struct config *cfg, long jobs,
    int check)
{
	static const char *const channels[] = { "loom_task_ready",
		"loom_cancel", BREAKERDB_CHANNEL, NULL };
	static const int sigs[3] = { SIGTERM, SIGINT, SIGHUP };
	struct runner_config rc = eo->rc;
	struct dbopts o;
	struct xd x;
	char *err = NULL;
	int status = EXEC_SYSTEM;

	if (opts_load(&o, cfg, jobs) < 0)
		return EXEC_USAGE;
	if (eo->name != NULL) {	/* --name wins over exec.name */
		free(o.name);
		o.name = xstrdup(eo->name);
	}
	memset(&x, 0, sizeof(x));
	if (breaker_config_load(cfg, &x.bcfg, &err) < 0) {
		log_warnx("%s", err);
		free(err);
		free(o.name);
		return EXEC_USAGE;
	}
	if (check) {
		printf("configuration ok\n");
		free(o.name);
		return EXEC_OK;
	}
	x.o = &o;
	x.backoff_ms = BACKOFF_MIN_MS;
	x.bcache = breaker_cache_new();
	rc.log_line = on_log_line;
	rc.log_arg = &x;
	if ((x.loop = loop_new()) == NULL) {
		log_warn("event loop");
		free(o.name);
		return EXEC_SYSTEM;
	}
	if ((x.conn = db_connect(o.url, "loom-exec", &err)) == NULL ||
	    db_schema_check(x.conn, &err) < 0)
		goto out;
	x.edb = execdb_new(x.conn, o.name, o.lease_ms);
	if (execdb_set_conn(x.edb, x.conn, &err) < 0)
		goto out;
	if (async_open(&x) < 0) {
		err = xasprintf("event loop: %s", strerror(errno));
		goto out;
	}
	if (o.advance) {
		x.adv = advance_new();
		advance_set_conn(x.adv, x.conn, x.async);
	}
	if ((x.runner = runner_new(x.loop, &rc)) == NULL) {
		err = xasprintf("runner: %s", strerror(errno));
		goto out;
	}
	x.work = loop_defer_new_idle(x.loop, do_work, &x);
	if ((x.logq = logq_new(x.loop, logq_kick, &x)) == NULL) {
		err = xasprintf("event loop: %s", strerror(errno));
		goto out;
	}
	x.renew_t = loop_timer_new(x.loop, on_renew, &x);
	x.callback_t = loop_timer_new(x.loop, on_callback_deadline, &x);
	x.lease_t = loop_timer_new(x.loop, on_lease_expiry, &x);
	x.ready_t = loop_timer_new(x.loop, on_ready_due, &x);
	x.reconnect_t = loop_timer_new(x.loop, on_reconnect, &x);
	x.drain_t = loop_timer_new(x.loop, on_drain_timeout, &x);
	if (!x.work || !x.renew_t || !x.callback_t || !x.lease_t ||
	    !x.ready_t || !x.reconnect_t || !x.drain_t) {
		err = xasprintf("event loop: %s", strerror(errno));
		goto out;
	}
	for (int i = 0; i < 3; i++)
		if ((x.sig[i] = loop_signal_add(x.loop, sigs[i], on_signal,
		    &x)) == NULL) {
			err = xasprintf("signal %d: %s", sigs[i],
			    strerror(errno));
			goto out;
		}
	x.listen = pglisten_new(x.loop, o.url, "loom-exec-listen", channels,
	    on_notify, on_listen_connect, &x, &err);
	if (x.listen == NULL)
		goto out;
	catch_up(&x);
	(void)loop_timer_after(x.renew_t, o.lease_ms / 3);
	log_info("ready as %s: %d slots, lease %lldms, circuit breakers "
	    "%s%s%s", o.name, o.concurrency, (long long)o.lease_ms,
	    x.bcfg.enabled ? "on" : "off",
	    rc.callback_base_url ? ", callbacks via " : "",
	    rc.callback_base_url ? rc.callback_base_url : "");
	loop_notify_ready(x.loop);
	status = loop_run(x.loop);
	if (status < 0) {
		log_warn("event loop");
		status = EXEC_SYSTEM;
	}
out:
	if (err != NULL) {
		log_warnx("%s", err);
		free(err);
	}
	pglisten_free(x.listen);
	x.hard_stop = 1;
	runner_free(x.runner);	/* nothing runs after a clean stop */
	x.runner = NULL;
	/* A batch still out gives its jobs and lines back first. */
	if (x.conn != NULL)
		async_close(&x);
	advance_free(x.adv);
	while (x.done_head != NULL)
		job_free(done_pop(&x));
	logq_free(x.logq);
	while (x.notes_head != NULL)
		note_free(note_pop(&x));
	for (size_t i = 0; i < x.nbtargets; i++)
		free(x.btargets[i]);
	free(x.btargets);
	breaker_cache_free(x.bcache);
	for (int i = 0; i < 3; i++)
		loop_signal_del(x.sig[i]);
	loop_timer_del(x.renew_t);
	loop_timer_del(x.callback_t);
	loop_timer_del(x.lease_t);
	loop_timer_del(x.ready_t);
	loop_timer_del(x.reconnect_t);
	loop_timer_del(x.drain_t);
	loop_defer_del(x.work);
	for (size_t i = 0; i < x.ncancels; i++)
		free(x.cancels[i]);
	free(x.cancels);
	PQclear(x.claimed);
	while (x.done_head != NULL)
		job_free(done_pop(&x));
	execdb_free(x.edb);
	if (x.conn != NULL)
		PQfinish(x.conn);
	loop_free(x.loop);
	free(o.name);
	return status;
}
