/*
 * sched: the loom-sched daemon (see sched.h for the map).
 *
 * Wake-ups: a timerfd on CLOCK_REALTIME armed at the earliest due fire
 * (absolute, so a wall-clock change moves it, and with
 * TFD_TIMER_CANCEL_ON_SET, so a change is also reported: the daemon
 * plans every schedule again and the catch-up policy decides about what
 * the jump skipped); the doorbells; the trigger queue's timer; a retry a
 * second after a workflow another scheduler held; and the slow sweep
 * (sched.sweep) that re-reads everything in case a doorbell was lost.
 * With nothing due, nothing wakes it.
 */
#include "sched.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "core/xalloc.h"
#include "store/db.h"
#include "store/pglisten.h"
#include "util/ctl.h"
#include "util/metrics.h"
#include "util/log.h"
#include "util/loop.h"

/* The advisory lock of the one scheduler that hears loom_trigger. */
#define MESSAGE_LOCK_KEY 0x6c6f6f6d74726967LL /* "loomtrig" */

int
sched_opts_load(struct sched_opts *o, const struct config *cfg)
{
	const char *roots;
	char *copy, *tok, *save = NULL;
	size_t n = 0;

	memset(o, 0, sizeof(*o));
	o->db_url = db_url(cfg);
	o->name = config_get(cfg, "sched.name", "loom-sched");
	if (config_get_duration(
		cfg, "sched.misfire_grace", 10000, &o->grace_ms) < 0) {
		log_warnx("sched.misfire_grace: expected a duration");
		return -1;
	}
	if (config_get_duration(cfg, "sched.sweep", 300000, &o->sweep_ms) < 0 ||
	    o->sweep_ms < 1000) {
		log_warnx("sched.sweep: expected a duration of at least 1s");
		return -1;
	}
	roots = config_get(cfg, "sched.file_roots", "");
	copy = xstrdup(roots);
	o->file_roots = xcalloc(strlen(roots) / 2 + 2, sizeof(char *));
	for (tok = strtok_r(copy, ":", &save); tok;
	     tok = strtok_r(NULL, ":", &save)) {
		if (tok[0] != '/') {
			log_warnx("sched.file_roots: '%s' is not an absolute "
				  "directory",
			    tok);
			free(copy);
			return -1;
		}
		o->file_roots[n++] = xstrdup(tok);
	}
	free(copy);
	return 0;
}

void
sched_opts_free(struct sched_opts *o)
{
	for (char **r = o->file_roots; r && *r; r++)
		free(*r);
	free(o->file_roots);
	o->file_roots = NULL;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
sched_kick(struct sched *s)
{
	loop_defer_arm(s->work);
}

void
sched_rearm(struct sched *s)
{
	struct itimerspec its;
	int64_t at = -1;
	int retry = 0;

	for (size_t i = 0; i < s->nwfs; i++) {
		const struct swf *w = s->wfs[i];

		retry |= w->retry;
		if (w->cron && !w->paused && w->due_ms >= 0 &&
		    (at < 0 || w->due_ms < at))
			at = w->due_ms;
	}
	if (retry && !loop_timer_armed(s->retry_t))
		loop_timer_after(s->retry_t, 1000);
	memset(&its, 0, sizeof(its));
	if (at >= 0) {
		if (at == 0)
			at = 1;
		its.it_value.tv_sec = at / 1000;
		its.it_value.tv_nsec = (at % 1000) * 1000000;
	}
	s->clock_target_ms = at;
	if (timerfd_settime(s->clock_fd,
		TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &its, NULL) < 0)
		log_warn("timerfd_settime");
}

static void
do_work(struct loop_defer *d, void *arg)
{
	struct sched *s = arg;

	if (s->conn == NULL)
		return;
	if (fire_due(s, now_ms()) < 0)
		return;
	if (s->queue_dirty) {
		s->queue_dirty = 0;
		if (triggers_consume(s) < 0)
			return;
	}
	sched_rearm(s);
}

static void
on_clock(struct loop_io *io, int fd, unsigned events, void *arg)
{
	struct sched *s = arg;
	uint64_t n;
	int64_t late;

	if (read(fd, &n, sizeof(n)) < 0 && errno == ECANCELED) {
		log_info("the wall clock was set: planning every schedule "
			 "again (the catch-up policy decides about fires it "
			 "skipped)");
		for (size_t i = 0; i < s->nwfs; i++)
			if (s->wfs[i]->cron)
				s->wfs[i]->due_ms = 0;
	} else if (s->clock_target_ms > 0 &&
	    (late = now_ms() - s->clock_target_ms) > s->o->grace_ms)
		log_info("woke %lld ms after the fire was due (stopped, "
			 "suspended or starved): the catch-up policy decides",
		    (long long)late);
	sched_kick(s);
}

static void
on_notify(void *arg, const char *channel, const char *payload)
{
	struct sched *s = arg;
	char *err = NULL;

	if (strcmp(channel, "loom_trigger") == 0) {
		triggers_message(s, payload);
		return;
	}
	if (strcmp(channel, "loom_trigger_queue") == 0)
		s->queue_dirty = 1;
	else if (strcmp(channel, "loom_sched") == 0 && s->conn != NULL &&
	    wfs_reload(s, payload, &err) < 0) {
		sched_db_lost(s, err);
		free(err);
		return;
	}
	sched_kick(s);
}

static void
read_all(struct sched *s)
{
	char *err = NULL;

	if (s->conn == NULL)
		return;
	if (wfs_load_all(s, &err) < 0) {
		sched_db_lost(s, err);
		free(err);
		return;
	}
	s->queue_dirty = 1;
	sched_kick(s);
}

static void
on_listen_connect(void *arg)
{
	read_all(arg); /* doorbells were missed while it was away */
}

static void
on_leader(void *arg)
{
	struct sched *s = arg;

	s->queue_dirty = 1;
	sched_kick(s);
}

static void
on_queue(struct loop_timer *t, void *arg)
{
	struct sched *s = arg;

	s->queue_dirty = 1;
	sched_kick(s);
}

static void
on_retry(struct loop_timer *t, void *arg)
{
	struct sched *s = arg;

	for (size_t i = 0; i < s->nwfs; i++)
		if (s->wfs[i]->retry)
			s->wfs[i]->due_ms = 0;
	sched_kick(s);
}

static void
on_sweep(struct loop_timer *t, void *arg)
{
	struct sched *s = arg;

	read_all(s);
	loop_timer_after(t, s->o->sweep_ms);
}

static void
try_reconnect(struct loop_timer *t, void *arg)
{
	struct sched *s = arg;
	char *err = NULL;

	s->conn = db_connect(s->o->db_url, s->o->name, &err);
	if (s->conn == NULL) {
		log_debug("reconnect: %s", err);
		free(err);
		s->backoff_ms =
		    s->backoff_ms * 2 > 5000 ? 5000 : s->backoff_ms * 2;
		loop_timer_after(t, s->backoff_ms);
		return;
	}
	log_info("database connection is back");
	s->backoff_ms = 100;
	read_all(s);
}

void
sched_db_lost(struct sched *s, const char *why)
{
	log_warnx("database: %s; reconnecting", why ? why : "error");
	if (s->conn)
		PQfinish(s->conn);
	s->conn = NULL;
	loop_timer_after(s->reconnect_t, s->backoff_ms);
}

static void
on_signal(struct loop_signal *sg, int signo, void *arg)
{
	struct sched *s = arg;

	if (signo == SIGHUP) {
		log_info("SIGHUP: reading every workflow again");
		read_all(s);
		return;
	}
	log_info("%s: stopping (fired %lu, skipped %lu, missed %lu; "
		 "messages %lu, %lu malformed; file events %lu; trigger runs "
		 "%lu)",
	    signo == SIGTERM ? "SIGTERM" : "SIGINT", s->fires, s->skipped,
	    s->missed, s->messages, s->bad_messages, s->file_events,
	    s->trigger_runs);
	loop_notify_stopping(s->loop);
	loop_exit(s->loop, 0);
}

static int
sched_setup(struct sched *s, char **err)
{
	static const char *const channels[] = { "loom_sched",
		"loom_trigger_queue", NULL };
	static const char *const msg[] = { "loom_trigger", NULL };

	s->conn = db_connect(s->o->db_url, s->o->name, err);
	if (s->conn == NULL || db_schema_check(s->conn, err) < 0)
		return -1;
	/* A scheduler stopped inside a transaction must not hold a
	 * workflow's fires for long: the server ends that session. */
	if (db_cmd(s->conn, err,
		"SET idle_in_transaction_session_timeout = '5s'", 0, NULL) < 0)
		return -1;
	s->clock_fd =
	    timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
	if (s->clock_fd < 0 ||
	    (s->clock_io = loop_io_add(
		 s->loop, s->clock_fd, LOOP_READ, on_clock, s)) == NULL) {
		*err = xstrdup("cannot make the wall-clock timer");
		return -1;
	}
	if (files_init(s) < 0)
		log_warn("inotify: file triggers are off");
	s->work = loop_defer_new(s->loop, do_work, s);
	s->queue_t = loop_timer_new(s->loop, on_queue, s);
	s->sweep_t = loop_timer_new(s->loop, on_sweep, s);
	s->reconnect_t = loop_timer_new(s->loop, try_reconnect, s);
	s->retry_t = loop_timer_new(s->loop, on_retry, s);
	s->sig[0] = loop_signal_add(s->loop, SIGTERM, on_signal, s);
	s->sig[1] = loop_signal_add(s->loop, SIGINT, on_signal, s);
	s->sig[2] = loop_signal_add(s->loop, SIGHUP, on_signal, s);
	s->listen = pglisten_new(s->loop, s->o->db_url, "loom-sched-listen",
	    channels, on_notify, on_listen_connect, s, err);
	if (s->listen == NULL)
		return -1;
	s->leader =
	    pglisten_new_leader(s->loop, s->o->db_url, "loom-sched-messages",
		MESSAGE_LOCK_KEY, msg, on_notify, on_leader, s, err);
	return s->leader ? 0 : -1;
}

static void
sched_teardown(struct sched *s)
{
	ctl_free(s->ctl);
	wfs_free_all(s);
	files_fini(s);
	pglisten_free(s->leader);
	pglisten_free(s->listen);
	for (int i = 0; i < 3; i++)
		loop_signal_del(s->sig[i]);
	loop_timer_del(s->queue_t);
	loop_timer_del(s->sweep_t);
	loop_timer_del(s->reconnect_t);
	loop_timer_del(s->retry_t);
	loop_defer_del(s->work);
	loop_io_del(s->clock_io);
	if (s->clock_fd >= 0)
		close(s->clock_fd);
	if (s->conn)
		PQfinish(s->conn);
	loop_free(s->loop);
}

/* The control socket's status: the figures of loom-sched(8). */
static jv
sched_status(void *arg)
{
	struct sched *s = arg;
	jv m = jv_object();
	static const struct {
		const char *name, *help;
		size_t off;
	} figs[] = {
		{ "fires", "Schedule fires made by this loom-sched.",
		    offsetof(struct sched, fires) },
		{ "skipped",
		    "Fires skipped (overlap policy) by this loom-sched.",
		    offsetof(struct sched, skipped) },
		{ "missed", "Fires missed past the misfire grace.",
		    offsetof(struct sched, missed) },
		{ "messages", "Trigger messages received.",
		    offsetof(struct sched, messages) },
		{ "bad_messages", "Trigger messages refused.",
		    offsetof(struct sched, bad_messages) },
		{ "file_events", "File trigger events seen.",
		    offsetof(struct sched, file_events) },
		{ "trigger_runs", "Runs started by triggers.",
		    offsetof(struct sched, trigger_runs) },
	};
	jv st = JV_OBJECT(jv_string("workflows"), jv_number((double)s->nwfs),
	    jv_string("database"),
	    jv_string(s->conn && PQstatus(s->conn) == CONNECTION_OK ?
		    "connected" :
		    "away"),
	    jv_string("leader"),
	    jv_bool(s->leader && pglisten_leading(s->leader)));

	for (size_t i = 0; i < sizeof(figs) / sizeof(figs[0]); i++) {
		unsigned long v =
		    *(const unsigned long *)((const char *)s + figs[i].off);
		char name[64];

		st = jv_object_set(
		    st, jv_string(figs[i].name), jv_number((double)v));
		snprintf(
		    name, sizeof(name), "loom_sched_%s_total", figs[i].name);
		metrics_add(
		    &m, name, "counter", figs[i].help, jv_object(), (double)v);
	}
	metrics_add(&m, "loom_sched_workflows", "gauge",
	    "Workflows with a schedule or triggers this loom-sched watches.",
	    jv_object(), (double)s->nwfs);
	metrics_add(&m, "loom_database_errors_total", "counter",
	    "Database errors met by this process.", jv_object(),
	    (double)db_error_count());
	return jv_object_set(st, jv_string("metrics"), m);
}

int
sched_run(const struct sched_opts *o)
{
	struct sched s;
	char *err = NULL;
	int rc = 1;

	memset(&s, 0, sizeof(s));
	s.o = o;
	s.clock_fd = s.inotify_fd = -1;
	s.backoff_ms = 100;
	if ((s.loop = loop_new()) == NULL)
		fatal("event loop");
	if (sched_setup(&s, &err) < 0)
		goto out;
	if (o->ctl_path &&
	    (s.ctl = ctl_new(s.loop, o->ctl_path, "loom-sched", sched_status,
		 &s, &err)) == NULL)
		goto out;
	if (wfs_load_all(&s, &err) < 0)
		goto out;
	s.queue_dirty = 1;
	do_work(s.work, &s);
	loop_timer_after(s.sweep_t, o->sweep_ms);
	log_info("ready; %zu workflows with a schedule or triggers; "
		 "listening on loom_sched, loom_trigger_queue%s",
	    s.nwfs,
	    pglisten_leading(s.leader) ? ", loom_trigger" :
					 " (loom_trigger: another scheduler "
					 "listens, or will)");
	loop_notify_ready(s.loop);
	rc = loop_run(s.loop) < 0 ? 1 : 0;
out:
	if (err) {
		log_warnx("%s", err);
		free(err);
	}
	sched_teardown(&s);
	return rc;
}
