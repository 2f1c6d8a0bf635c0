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
 * (db_async, "the batch in flight", batch.c): tasks keep running and results
 * keep queueing while it is out, so the busier the executor, the more
 * results one transaction carries.  Work also writes breaker notes,
 * checks cancelled runs and renews leases, blocking but short, after the
 * batch in flight settled.  It claims while there may be more ready rows
 * (the last claim filled what it asked for, or a doorbell rang) and slots
 * are free.  A claim that came back short means the queue is empty: the
 * next doorbell wakes us, or the ready timer for the row that claim says
 * falls due first (claims.c, deadlines.c).  When a batch is all this
 * executor has, it takes
 * the run's next step itself right behind it (exec.advance, advance.h);
 * the statements of such a pass go out on the same connection, so every
 * blocking helper first takes a pass under way to its end (xd_settle()).
 *
 * Leases: every row this executor runs is leased for exec.lease and
 * renewed every third of it while it holds any, in one UPDATE for all
 * (an idle executor sleeps: deadlines.c); a row whose lease is
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
 *
 * daemon.h lists the files of this mode and what each holds; this one
 * sets up, runs the loop and tears down, and holds the work callback.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "daemon.h"
#include "dbmode.h"
#include "store/pglisten.h"
#include "util/ctl.h"
#include "util/log.h"

void
xd_kick(struct xd *x)
{
	if (x->work != NULL)
		(void)loop_defer_arm(x->work);
}

static void
do_work(struct loop_defer *d, void *arg)
{
	struct xd *x = arg;

	/* A pass of exec.advance whose rows came goes on first. */
	if (advance_pending(x->adv))
		xd_advance_step(x);
	xd_take_claimed(x);
	/* Breaker notes first: a retry must find the breaker up to date. */
	if (x->conn != NULL)
		xd_write_notes(x);
	/* Output lines go with the results that follow them, in order, in
	 * the batch (xd_send_batch()); more lines than one statement takes, a
	 * refused batch and a drain take the blocking way. */
	if (x->conn != NULL && x->done_head != NULL &&
	    (x->sync_flush || x->draining)) {
		x->sync_flush = 0;
		xd_flush(x);
	}
	/* Lines of tasks still running; with results queued they wait for
	 * the batch, as do those of a batch that is out. */
	if (x->done_head == NULL && !x->flb_out)
		xd_flush_logs(x);
	if (x->conn != NULL && x->ncancels > 0)
		xd_check_cancels(x);
	if (x->conn != NULL && (x->nbtargets > 0 || x->recheck_held))
		xd_retime_held(x);
	if (x->draining) {
		/* Results still queued wait for the database, up to the
		 * drain timeout. */
		xd_settle(x);
		if (x->nrunning == 0 && x->done_head == NULL &&
		    x->wait_head == NULL)
			xd_finish(x);
		return;
	}
	if (x->conn == NULL)
		return;
	/* A loop that was stalled must not let its own leases lapse. */
	if (x->nrunning > 0 &&
	    loop_mono_ms(x->loop) - x->last_renew_ms > x->o->lease_ms / 2)
		xd_renew(x);
	/* Settling above may have brought a claim's rows. */
	xd_take_claimed(x);
	if (x->conn != NULL && x->want_deadlines && !xd_in_flight(x))
		xd_arm_deadlines(x);
	xd_send_batch(x);
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
		    jv_get_kind(m) == JV_KIND_STRING) {
			log_set_run(
			    NULL, jv_string_value(e), jv_string_value(t), 0);
			log_debug(
			    "%s: %s", jv_string_value(s), jv_string_value(m));
			log_set_run(NULL, NULL, NULL, 0);
		}
		jv_free(e);
		jv_free(t);
		jv_free(s);
		jv_free(m);
	}
	xd_log(arg, line);
}

/*
 * A task's output line.  A result waits only while output lines are not
 * confirmed (out_mark): a task that printed nothing costs loom-log no
 * round trip, and its executor's records may land just after it.
 */
void
xd_log(struct xd *x, jv line)
{
	if (logsink_line(x->sink, line, 1) < 0)
		logq_line(x->logq, line); /* to task_logs directly */
	else
		x->out_mark = logsink_mark(x->sink);
}

/*
 * loom-exec's own records go to loom-log only: written directly they
 * would change what a run's log holds whenever loom-log is not used.
 */
void
xd_record(struct xd *x, const struct execdb_key *k, const char *level,
    const char *fmt, ...)
{
	va_list ap;
	char msg[1024];
	jv rec;

	if (!logsink_connected(x->sink)) {
		logsink_poke(x->sink);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	rec = JV_OBJECT(jv_string("execution"), jv_string(k->execution_id),
	    jv_string("task"), jv_string(k->task_id), jv_string("attempt"),
	    jv_number(k->attempt), jv_string("stream"), jv_string("loom"),
	    jv_string("level"), jv_string(level), jv_string("msg"),
	    jv_string(msg));
	/* Not urgent: no result waits for it (see xd_log). */
	if (logsink_line(x->sink, rec, 0) < 0)
		jv_free(rec); /* loom-log went away just now: dropped */
}

/* Lines loom-log did not confirm come back here, to task_logs. */
static void
sink_fallback(void *arg, jv line)
{
	logq_line(((struct xd *)arg)->logq, line);
}

static void
sink_synced(void *arg)
{
	xd_release_synced(arg);
}

static void
logq_kick(void *arg)
{
	xd_kick(arg);
}

/*
 * The settings: this mode's exec.* keys, --name over exec.name, and the
 * breaker.* keys.  On failure nothing is left to free.
 */
/*
 * The control socket: -C, exec.control_socket, else loom-exec.sock in
 * control.dir, or loom-exec-NAME.sock when the executor was given a
 * name (--name, exec.name), so that the executors of one host
 * (loom-exec@N, named %H-%i) each have their own.
 */
static char *
exec_ctl_path(const struct config *cfg, const struct exec_opts *eo)
{
	const char *name =
	    eo->name ? eo->name : config_get(cfg, "exec.name", NULL);
	char prog[80];
	size_t i;

	if (eo->ctl_opt || config_get(cfg, "exec.control_socket", NULL) ||
	    name == NULL || *name == '\0')
		return ctl_path(
		    cfg, "exec.control_socket", "loom-exec", eo->ctl_opt);
	snprintf(prog, sizeof(prog), "loom-exec-%.60s", name);
	for (i = 0; prog[i]; i++)
		if (prog[i] == '/')
			prog[i] = '_';
	return ctl_path(cfg, "exec.control_socket", prog, NULL);
}

static int
load_settings(struct dbopts *o, struct xd *x, const struct exec_opts *eo,
    const struct config *cfg, long jobs)
{
	char *err = NULL;

	if (dbopts_load(o, cfg, jobs) < 0)
		return -1;
	if (eo->name != NULL) { /* --name wins over exec.name */
		free(o->name);
		o->name = xstrdup(eo->name);
	}
	o->ctl_path = exec_ctl_path(cfg, eo);
	if (breaker_config_load(cfg, &x->bcfg, &err) < 0 ||
	    otlp_config_load(&x->tcfg, cfg, "loom-exec", &err) < 0) {
		log_warnx("%s", err);
		free(err);
		free(o->name);
		return -1;
	}
	return 0;
}

/* exec.advance's pass ended a run: its span (loom-exec(8), TRACES). */
static void
on_run_end(void *arg, const struct enginedb_run_end *re)
{
	struct xd *x = arg;

	otlp_add_run(x->otlp, re->execution_id, re->workflow_id, re->version,
	    re->status, re->started_ms, re->ended_ms);
}

/* The work connection, with its statements, batches and passes. */
static int
open_database(struct xd *x, char **err)
{
	if ((x->otlp = otlp_new(x->loop, &x->tcfg)) == NULL && errno != 0)
		log_warn("trace: spans are not exported");
	if ((x->conn = db_connect(x->o->url, "loom-exec", err)) == NULL ||
	    db_schema_check(x->conn, err) < 0)
		return -1;
	x->edb = execdb_new(x->conn, x->o->name, x->o->lease_ms);
	if (execdb_set_conn(x->edb, x->conn, err) < 0)
		return -1;
	if (xd_async_open(x) < 0) {
		*err = xasprintf("event loop: %s", strerror(errno));
		return -1;
	}
	if (x->o->advance) {
		struct advance_claim c;

		xd_advance_claim(x, &c);
		x->adv = advance_new(x->otlp ? on_run_end : NULL, x, &c);
		advance_set_conn(x->adv, x->conn, x->async);
	}
	return 0;
}

/* The runner, the work callback, the timers, the signals, the doorbells. */
static int
open_watches(struct xd *x, const struct runner_config *rc, char **err)
{
	static const char *const channels[] = { "loom_task_ready",
		"loom_cancel", BREAKERDB_CHANNEL, NULL };
	static const int sigs[3] = { SIGTERM, SIGINT, SIGHUP };

	if (x->o->ctl_path != NULL &&
	    (x->ctl = ctl_new(x->loop, x->o->ctl_path, "loom-exec", xd_status,
		 x, err)) == NULL)
		return -1;
	if ((x->runner = runner_new(x->loop, rc)) == NULL) {
		*err = xasprintf("runner: %s", strerror(errno));
		return -1;
	}
	x->work = loop_defer_new_idle(x->loop, do_work, x);
	if ((x->logq = logq_new(x->loop, logq_kick, x)) == NULL) {
		*err = xasprintf("event loop: %s", strerror(errno));
		return -1;
	}
	x->sink = logsink_new(
	    x->loop, x->o->log_socket, sink_fallback, sink_synced, x);
	x->renew_t = loop_timer_new(x->loop, xd_on_renew, x);
	x->callback_t = loop_timer_new(x->loop, xd_on_callback_deadline, x);
	x->lease_t = loop_timer_new(x->loop, xd_on_lease_expiry, x);
	x->ready_t = loop_timer_new(x->loop, xd_on_ready_due, x);
	x->reconnect_t = loop_timer_new(x->loop, xd_on_reconnect, x);
	x->drain_t = loop_timer_new(x->loop, xd_on_drain_timeout, x);
	if (!x->work || !x->renew_t || !x->callback_t || !x->lease_t ||
	    !x->ready_t || !x->reconnect_t || !x->drain_t) {
		*err = xasprintf("event loop: %s", strerror(errno));
		return -1;
	}
	for (int i = 0; i < 3; i++)
		if ((x->sig[i] = loop_signal_add(
			 x->loop, sigs[i], xd_on_signal, x)) == NULL) {
			*err = xasprintf(
			    "signal %d: %s", sigs[i], strerror(errno));
			return -1;
		}
	x->listen = pglisten_new(x->loop, x->o->url, "loom-exec-listen",
	    channels, xd_on_notify, xd_on_listen_connect, x, err);
	if (x->listen == NULL)
		return -1;
	return 0;
}

/* Runs the loop until the drain is over; returns the exit status. */
static int
serve(struct xd *x, const struct runner_config *rc)
{
	char from[32] = "";
	int status;

	xd_catch_up(x);
	if (x->o->slots_min < x->o->concurrency)
		snprintf(from, sizeof(from), "%d to ", x->o->slots_min);
	log_info("ready as %s: %s%d slots, lease %lldms, circuit breakers "
		 "%s%s%s",
	    x->o->name, from, x->o->concurrency, (long long)x->o->lease_ms,
	    x->bcfg.enabled ? "on" : "off",
	    rc->callback_base_url ? ", callbacks via " : "",
	    rc->callback_base_url ? rc->callback_base_url : "");
	loop_notify_ready(x->loop);
	status = loop_run(x->loop);
	if (status < 0) {
		log_warn("event loop");
		status = EXEC_SYSTEM;
	}
	return status;
}

/* Frees what open_database() and open_watches() made, whatever they got to. */
static void
teardown(struct xd *x)
{
	pglisten_free(x->listen);
	ctl_free(x->ctl);
	x->hard_stop = 1;
	runner_free(x->runner); /* nothing runs after a clean stop */
	x->runner = NULL;
	/* A batch still out gives its jobs and lines back first. */
	if (x->conn != NULL)
		xd_async_close(x);
	advance_free(x->adv);
	while (x->done_head != NULL)
		xd_job_free(xd_done_pop(x));
	logsink_free(x->sink); /* unsynced lines go to logq, lost with it */
	while (x->wait_head != NULL) {
		struct job *j = x->wait_head;

		x->wait_head = j->next;
		xd_job_free(j);
	}
	logq_free(x->logq);
	while (x->notes_head != NULL)
		xd_note_free(xd_note_pop(x));
	for (size_t i = 0; i < x->nbtargets; i++)
		free(x->btargets[i]);
	free(x->btargets);
	breaker_cache_free(x->bcache);
	for (int i = 0; i < 3; i++)
		loop_signal_del(x->sig[i]);
	loop_timer_del(x->renew_t);
	loop_timer_del(x->callback_t);
	loop_timer_del(x->lease_t);
	loop_timer_del(x->ready_t);
	loop_timer_del(x->reconnect_t);
	loop_timer_del(x->drain_t);
	loop_defer_del(x->work);
	for (size_t i = 0; i < x->ncancels; i++)
		free(x->cancels[i]);
	free(x->cancels);
	PQclear(x->claimed);
	while (x->done_head != NULL)
		xd_job_free(xd_done_pop(x));
	execdb_free(x->edb);
	if (x->conn != NULL)
		PQfinish(x->conn);
	otlp_free(x->otlp);
	otlp_config_free(&x->tcfg);
	xd_lat_free(x);
	loop_free(x->loop);
}

/* --- the entry point --------------------------------------------------- */

int
exec_db_run(
    const struct exec_opts *eo, const struct config *cfg, long jobs, int check)
{
	struct runner_config rc = eo->rc;
	struct dbopts o;
	struct xd x;
	char *err = NULL;
	int status = EXEC_SYSTEM;

	memset(&x, 0, sizeof(x));
	if (load_settings(&o, &x, eo, cfg, jobs) < 0)
		return EXEC_USAGE;
	if (check) {
		printf("configuration ok\n");
		free(o.name);
		free(o.ctl_path);
		otlp_config_free(&x.tcfg);
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
		free(o.ctl_path);
		otlp_config_free(&x.tcfg);
		breaker_cache_free(x.bcache);
		return EXEC_SYSTEM;
	}
	if (open_database(&x, &err) == 0 && open_watches(&x, &rc, &err) == 0)
		status = serve(&x, &rc);
	if (err != NULL) {
		log_warnx("%s", err);
		free(err);
	}
	teardown(&x);
	free(o.name);
	free(o.ctl_path);
	return status;
}
