/*
 * drain: stopping, and the signals.  SIGTERM/SIGINT stop claiming and
 * wait up to exec.drain_timeout for the running tasks, then cancel the
 * rest and give up their leases so another executor re-runs them at once;
 * a second signal cuts the wait short.  SIGHUP re-reads log.level and the
 * breaker.* keys; a bad file keeps the old settings.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "util/log.h"

/* Gives up what we no longer run, then leaves the loop. */
void
xd_finish(struct xd *x)
{
	char *err = NULL;
	long n;

	if (x->finished)
		return;
	x->finished = 1;
	xd_settle(x);
	/* Probes of dispatches never sent go back, held tasks are freed. */
	if (x->conn != NULL)
		xd_write_notes(x);
	if (x->conn != NULL && x->nbtargets > 0)
		xd_retime_held(x);
	if (x->conn != NULL) {
		n = execdb_release(x->edb, &err);
		if (n < 0)
			xd_db_failed(x, "releasing leases", err);
		else if (n > 0)
			log_info("released %ld task%s for other executors", n,
			    n == 1 ? "" : "s");
	}
	if (x->ndone > 0)
		log_warnx("%zu results could not be written; those tasks "
			  "will run again when their leases expire",
		    x->ndone);
	log_info("stopped: %llu claimed, %llu results written, %llu dropped, "
		 "%llu held, %llu steps taken",
	    (unsigned long long)x->nclaimed, (unsigned long long)x->nreported,
	    (unsigned long long)x->ndropped, (unsigned long long)x->nheld,
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
	runner_free(x->runner); /* calls on_done for every job */
	x->runner = NULL;
	xd_flush_logs(x);
	xd_flush(x);
	xd_finish(x);
}

void
xd_on_drain_timeout(struct loop_timer *t, void *arg)
{
	stop_now(arg);
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
	if ((cfg = config_load(
		 strcmp(x->o->config_path, CONFIG_DEFAULT_PATH) == 0 ?
		     NULL :
		     x->o->config_path,
		 &d)) == NULL) {
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
	xd_reload_breaker(x, cfg);
	config_free(cfg);
}

void
xd_on_signal(struct loop_signal *s, int signo, void *arg)
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
		 "task%s",
	    strsignal(signo), (long long)x->o->drain_ms, x->nrunning,
	    x->nrunning == 1 ? "" : "s");
	loop_notify_stopping(x->loop);
	x->draining = 1;
	x->more_ready = 0;
	(void)loop_timer_after(x->drain_t, x->o->drain_ms);
	xd_kick(x);
}
