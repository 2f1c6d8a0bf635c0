/*
 * engined: the loom-engine daemon.
 *
 * It waits on the PostgreSQL bus (LISTEN loom_run, loom_task_done) and
 * keeps a set of runs that need a pass ("dirty").  A deferred callback
 * drains the set, running enginedb_pass() once on each run (what comes
 * after a pass rings its own doorbell); a pass that leaves a retry or a
 * deadline pending moves the wakeup timer earlier.  Doorbells can be
 * missed (restart, reconnect), so on start, after every reconnect and on
 * a slow safety sweep it asks the database which runs need attention and
 * when the next retry or run deadline of any run is due.  The sweep runs
 * only while some run is unfinished: with none, the next one starts with
 * a doorbell (loom_run) or is found by the catch-up of a reconnect, so an
 * idle engine sleeps.  Database errors
 * drop the connection and retry with backoff; the runs stay dirty, so no
 * work is lost.
 *
 * A run another engine holds (its pass says ENGINEDB_BUSY) is normally
 * finished by that engine, which looks again after its commit.  But an
 * engine killed in the middle of a pass commits nothing and rings no
 * doorbell: the results it was handling would wait for the sweep.  So a
 * busy run is looked at again BUSY_RECHECK_MS later (one timer for all of
 * them); by then a live holder is done and the pass finds nothing to do.
 */
#include "engined.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "store/db.h"
#include "util/ctl.h"
#include "util/metrics.h"
#include "store/enginedb.h"
#include "util/log.h"
#include "util/loop.h"
#include "store/pglisten.h"
#include "core/xalloc.h"

#define BUSY_RECHECK_MS 500

struct engined {
	const struct engined_opts *o;
	struct loop *loop;
	PGconn *conn;
	struct enginedb *edb;
	struct pglisten *listen;
	struct loop_defer *work;
	struct loop_timer *sweep;
	struct loop_timer *wakeup;
	struct loop_timer *reconnect;
	struct loop_timer *busy_t;
	struct loop_signal *sig[3];
	char **dirty;
	size_t ndirty, capdirty;
	char **warm; /* "VERSION WORKFLOW" applied: read ahead */
	size_t nwarm, capwarm;
	char **busy; /* runs another engine held: look again */
	size_t nbusy, capbusy;
	int64_t backoff_ms;
	int64_t wake_ms;   /* wall clock: the wakeup timer's target */
	struct otlp *otlp; /* run spans; NULL: tracing is off */
	struct ctl *ctl;
	uint64_t passes; /* enginedb_pass() calls so far */
};

int
engined_opts_load(struct engined_opts *o, const struct config *cfg)
{
	char *err = NULL;

	o->db_url = db_url(cfg);
	o->ctl_path =
	    ctl_path(cfg, "engine.control_socket", "loom-engine", o->ctl_opt);
	if (config_get_duration(cfg, "engine.sweep", 10000, &o->sweep_ms) < 0 ||
	    o->sweep_ms < 100) {
		log_warnx(
		    "engine.sweep: expected a duration of at least 100ms");
		return -1;
	}
	if (otlp_config_load(&o->trace, cfg, "loom-engine", &err) < 0) {
		log_warnx("%s", err);
		free(err);
		return -1;
	}
	return 0;
}

void
engined_opts_free(struct engined_opts *o)
{
	otlp_config_free(&o->trace);
	free(o->ctl_path);
	o->ctl_path = NULL;
}

/* A pass of ours ended a run: the run's span (loom-engine(8), TRACES). */
static void
on_run_end(void *arg, const struct enginedb_run_end *re)
{
	struct engined *d = arg;

	/* the pass set "execution" */
	log_set_context("workflow", re->workflow_id);
	log_debug("run ended: %s", re->status);
	log_set_context("workflow", NULL);
	otlp_add_run(d->otlp, re->execution_id, re->workflow_id, re->version,
	    re->status, re->started_ms, re->ended_ms);
}

/* Appends a copy of s to the growing array *v of *n (room for *cap). */
static void
push_copy(char ***v, size_t *n, size_t *cap, const char *s)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		*v = xreallocarray(*v, *cap, sizeof(char *));
	}
	(*v)[(*n)++] = xstrdup(s);
}

static void
mark_dirty(struct engined *d, const char *id)
{
	if (id == NULL || *id == '\0')
		return;
	for (size_t i = 0; i < d->ndirty; i++)
		if (strcmp(d->dirty[i], id) == 0)
			return;
	push_copy(&d->dirty, &d->ndirty, &d->capdirty, id);
	loop_defer_arm(d->work);
	/* a run is under way: the sweep runs again until none is */
	if (!loop_timer_armed(d->sweep))
		loop_timer_after(d->sweep, d->o->sweep_ms);
}

static void
mark_busy(struct engined *d, const char *id)
{
	for (size_t i = 0; i < d->nbusy; i++)
		if (strcmp(d->busy[i], id) == 0)
			return;
	push_copy(&d->busy, &d->nbusy, &d->capbusy, id);
	if (!loop_timer_armed(d->busy_t))
		loop_timer_after(d->busy_t, BUSY_RECHECK_MS);
}

static void
on_busy(struct loop_timer *t, void *arg)
{
	struct engined *d = arg;

	while (d->nbusy > 0) {
		char *id = d->busy[--d->nbusy];

		mark_dirty(d, id);
		free(id);
	}
}

/* Wakes up at wall-clock at_ms unless the timer is set for sooner. */
static void
wake_at(struct engined *d, int64_t at_ms)
{
	int64_t delta = at_ms - loop_now_ms(d->loop);

	if (loop_timer_armed(d->wakeup) && d->wake_ms > 0 &&
	    d->wake_ms <= at_ms)
		return;
	d->wake_ms = at_ms;
	loop_timer_after(d->wakeup, delta > 0 ? delta + 1 : 0);
}

static void db_lost(struct engined *d, const char *why);

static void
catch_up(struct engined *d)
{
	char **ids = NULL, *err = NULL;
	long n;
	int64_t at;
	int active = 0;

	if (d->conn == NULL)
		return;
	n = enginedb_due_runs(d->edb, &ids, &err);
	if (n < 0) {
		db_lost(d, err);
		free(err);
		return;
	}
	for (long i = 0; i < n; i++) {
		mark_dirty(d, ids[i]);
		free(ids[i]);
	}
	free(ids);
	if (enginedb_admit_queued(d->edb, &err) < 0) {
		db_lost(d, err);
		free(err);
		return;
	}
	at = enginedb_next_wakeup(d->edb, &active, &err);
	if (at < 0) {
		db_lost(d, err);
		free(err);
		return;
	}
	/* The sweep runs while some run is unfinished (see the top). */
	if (!active)
		loop_timer_stop(d->sweep);
	else if (!loop_timer_armed(d->sweep))
		loop_timer_after(d->sweep, d->o->sweep_ms);
	/* The earliest of all runs: what the timer held may be gone. */
	loop_timer_stop(d->wakeup);
	if (at > 0)
		wake_at(d, at);
}

static void
on_notify(void *arg, const char *channel, const char *payload)
{
	struct engined *d = arg;

	if (strcmp(channel, "loom_workflow") != 0) {
		log_set_context("execution", payload);
		log_debug("doorbell %s", channel);
		log_set_context("execution", NULL);
		mark_dirty(d, payload);
		return;
	}
	log_debug("doorbell %s %s", channel, payload);
	push_copy(&d->warm, &d->nwarm, &d->capwarm, payload);
	loop_defer_arm(d->work);
}

/*
 * A version just applied (payload "VERSION WORKFLOW"): its spec is read
 * and parsed now, so that its first run does not wait for that.  Runs
 * that need a pass come first.
 */
static void
warm_one(struct engined *d, char *what)
{
	char *sp = strchr(what, ' '), *err = NULL;
	int version = atoi(what);

	if (sp == NULL || version <= 0)
		log_debug("loom_workflow: cannot read '%s'", what);
	else if (enginedb_warm(d->edb, sp + 1, version, &err) < 0) {
		log_debug("workflow %s version %d: %s", sp + 1, version, err);
		free(err);
	} else
		log_debug(
		    "workflow %s version %d: read ahead", sp + 1, version);
	free(what);
}

static void
on_reconnect(void *arg)
{
	catch_up(arg);
}

/* What the pass over one run said: log it, and look again if need be. */
static void
pass_done(struct engined *d, const struct enginedb_item *it)
{
	log_set_context("execution", it->id);
	if (it->rc >= 0 && it->wake_ms > 0)
		wake_at(d, it->wake_ms);
	if (it->rc < 0)
		log_warnx("pass: %s", it->err ? it->err : "?");
	else
		log_debug("pass: %s",
		    it->rc == ENGINEDB_DID_WORK ? "done" :
			it->rc == ENGINEDB_BUSY ? "busy elsewhere" :
						  "nothing to do");
	log_set_context("execution", NULL);
	/* rc < 0: e.g. a deadlock victim; look again shortly */
	if (it->rc < 0 || it->rc == ENGINEDB_BUSY)
		mark_busy(d, it->id);
}

/*
 * One pass per dirty run, up to ENGINEDB_MANY_MAX runs in one batch
 * (enginedb_pass_many()): whatever happens to a run after its pass read
 * it (a result, a request) rings a doorbell that marks it dirty again.
 */
static void
do_work(struct loop_defer *df, void *arg)
{
	struct engined *d = arg;
	struct enginedb_item it[ENGINEDB_MANY_MAX];

	while (d->ndirty > 0 && d->conn) {
		size_t n = d->ndirty < ENGINEDB_MANY_MAX ? d->ndirty :
							   ENGINEDB_MANY_MAX;
		char *err = NULL;
		int rc;

		/* The most recent doorbells first, as one pass at a time. */
		for (size_t i = 0; i < n; i++)
			it[i].id = d->dirty[d->ndirty - 1 - i];
		d->passes += n;
		rc = enginedb_pass_many(
		    d->edb, it, n, loop_now_ms(d->loop), &err);
		if (rc < 0 &&
		    (d->conn == NULL || PQstatus(d->conn) != CONNECTION_OK)) {
			/* keep them all dirty */
			for (size_t i = 0; i < n; i++)
				free(it[i].err);
			db_lost(d, err ? err : "connection broken");
			free(err);
			return;
		}
		d->ndirty -= n;
		if (rc < 0) {
			log_warnx("pass over %zu runs: %s", n, err);
			free(err);
		}
		for (size_t i = 0; i < n; i++) {
			if (rc < 0)
				mark_busy(d, it[i].id);
			else
				pass_done(d, &it[i]);
			free(it[i].err);
			free((char *)it[i].id);
		}
	}
	if (d->ndirty == 0 && d->nwarm > 0 && d->conn) {
		warm_one(d, d->warm[--d->nwarm]);
		if (d->nwarm > 0)
			loop_defer_arm(d->work); /* after new doorbells */
	}
}

static void
on_sweep(struct loop_timer *t, void *arg)
{
	struct engined *d = arg;

	catch_up(d);
}

static void
on_wakeup(struct loop_timer *t, void *arg)
{
	catch_up(arg);
}

static void
try_reconnect(struct loop_timer *t, void *arg)
{
	struct engined *d = arg;
	char *err = NULL;

	d->conn = db_connect(d->o->db_url, "loom-engine", &err);
	if (d->conn == NULL) {
		log_debug("reconnect: %s", err);
		free(err);
		d->backoff_ms =
		    d->backoff_ms * 2 > 5000 ? 5000 : d->backoff_ms * 2;
		loop_timer_after(d->reconnect, d->backoff_ms);
		return;
	}
	log_info("database connection is back");
	d->backoff_ms = 100;
	enginedb_set_conn(d->edb, d->conn);
	catch_up(d);
	loop_defer_arm(d->work);
}

static void
db_lost(struct engined *d, const char *why)
{
	log_warnx("database: %s; reconnecting", why ? why : "error");
	if (d->conn)
		PQfinish(d->conn);
	d->conn = NULL;
	enginedb_set_conn(d->edb, NULL);
	loop_timer_after(d->reconnect, d->backoff_ms);
}

static void
on_signal(struct loop_signal *s, int signo, void *arg)
{
	struct engined *d = arg;

	if (signo == SIGHUP) {
		log_info("SIGHUP: nothing to reload beyond the log level");
		return;
	}
	log_info("%s: stopping", signo == SIGTERM ? "SIGTERM" : "SIGINT");
	loop_notify_stopping(d->loop);
	loop_exit(d->loop, 0);
}

/* The control socket's status: what the engine holds now. */
static jv
engine_status(void *arg)
{
	struct engined *d = arg;
	jv m = jv_object();

	metrics_add(&m, "loom_engine_passes_total", "counter",
	    "Passes of a run through the engine by this loom-engine.",
	    jv_object(), (double)d->passes);
	metrics_add(&m, "loom_engine_dirty_runs", "gauge",
	    "Runs waiting for a pass in this loom-engine.", jv_object(),
	    (double)d->ndirty);
	metrics_add(&m, "loom_database_errors_total", "counter",
	    "Database errors met by this process.", jv_object(),
	    (double)db_error_count());
	return JV_OBJECT(jv_string("dirty_runs"), jv_number((double)d->ndirty),
	    jv_string("busy_runs"), jv_number((double)d->nbusy),
	    jv_string("passes"), jv_number((double)d->passes),
	    jv_string("database"),
	    jv_string(d->conn && PQstatus(d->conn) == CONNECTION_OK ?
		    "connected" :
		    "away"),
	    jv_string("metrics"), m);
}

int
engined_run(const struct engined_opts *o)
{
	static const char *const channels[] = { "loom_run", "loom_task_done",
		"loom_workflow", NULL };
	struct engined d;
	char *err = NULL;
	int rc = 1;

	memset(&d, 0, sizeof(d));
	d.o = o;
	d.backoff_ms = 100;
	if ((d.loop = loop_new()) == NULL)
		fatal("event loop");
	d.conn = db_connect(o->db_url, "loom-engine", &err);
	if (d.conn == NULL)
		goto out;
	if (db_schema_check(d.conn, &err) < 0)
		goto out;
	if (o->ctl_path &&
	    (d.ctl = ctl_new(d.loop, o->ctl_path, "loom-engine", engine_status,
		 &d, &err)) == NULL)
		goto out;
	d.edb = enginedb_new(d.conn);
	if ((d.otlp = otlp_new(d.loop, &o->trace)) != NULL)
		enginedb_set_run_end(d.edb, on_run_end, &d);
	d.work = loop_defer_new(d.loop, do_work, &d);
	d.sweep = loop_timer_new(d.loop, on_sweep, &d);
	d.wakeup = loop_timer_new(d.loop, on_wakeup, &d);
	d.reconnect = loop_timer_new(d.loop, try_reconnect, &d);
	d.busy_t = loop_timer_new(d.loop, on_busy, &d);
	d.sig[0] = loop_signal_add(d.loop, SIGTERM, on_signal, &d);
	d.sig[1] = loop_signal_add(d.loop, SIGINT, on_signal, &d);
	d.sig[2] = loop_signal_add(d.loop, SIGHUP, on_signal, &d);
	d.listen = pglisten_new(d.loop, o->db_url, "loom-engine-listen",
	    channels, on_notify, on_reconnect, &d, &err);
	if (d.listen == NULL)
		goto out;
	catch_up(&d);
	log_info("ready; listening on loom_run, loom_task_done, "
		 "loom_workflow");
	loop_notify_ready(d.loop);
	rc = loop_run(d.loop) < 0 ? 1 : 0;
out:
	if (err) {
		log_warnx("%s", err);
		free(err);
	}
	pglisten_free(d.listen);
	ctl_free(d.ctl);
	for (int i = 0; i < 3; i++)
		loop_signal_del(d.sig[i]);
	loop_timer_del(d.sweep);
	loop_timer_del(d.wakeup);
	loop_timer_del(d.reconnect);
	loop_timer_del(d.busy_t);
	loop_defer_del(d.work);
	enginedb_free(d.edb);
	otlp_free(d.otlp);
	for (size_t i = 0; i < d.ndirty; i++)
		free(d.dirty[i]);
	free(d.dirty);
	for (size_t i = 0; i < d.nwarm; i++)
		free(d.warm[i]);
	free(d.warm);
	for (size_t i = 0; i < d.nbusy; i++)
		free(d.busy[i]);
	free(d.busy);
	if (d.conn)
		PQfinish(d.conn);
	loop_free(d.loop);
	return rc;
}
