/*
 * logd: the loom-log daemon (loom-log(8)); logd.h says how records flow.
 *
 * The queue is an array of records in the order they came.  It is
 * written when it holds logd.batch records (at the next loop turn) or
 * logd.flush_delay after its first record, whichever is first; a write
 * is one statement (PostgreSQL) or one bulk insert (MongoDB), done on
 * the loop thread: while the store takes a batch, new lines wait in the
 * sockets' buffers, and writers that do not block (loom-exec) keep them
 * in theirs.  The store's own timeout (logd.store_timeout) bounds that
 * wait; a batch that runs past it, or finds the store away, goes to the
 * spool, and a timer tries the store again with backoff from 100ms to
 * 5s.  Once it answers, the spool is written into it a batch per loop
 * turn, before anything newer.  Counters (stored, spooled, dropped,
 * refused) are logged when something is dropped and at exit.
 */
#include "logd.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "store/db.h"
#include "util/ctl.h"
#include "util/jsonutil.h"
#include "util/log.h"
#include "util/metrics.h"

#define RETRY_MIN_MS 100
#define RETRY_MAX_MS 5000
#define WARN_EVERY_MS 10000
#define QUEUE_BATCHES 20 /* batches queued behind a slow one: then wait */

struct logd {
	const struct logd_opts *o;
	const char *config_path;
	int cli_debug;
	int64_t retention_ms, retention_every_ms; /* SIGHUP may change them */
	struct loop *loop;
	struct ld_server *srv;
	struct ld_store *store;
	struct ld_spool *spool;
	struct ld_rec *q;
	size_t qn, qcap;
	struct ld_rec *fl; /* the batch in flight: the store has it */
	size_t nfl;
	int inflight;
	struct loop_io *fl_io; /* its answer: the store's socket */
	uint64_t seq_in;       /* records queued, ever */
	uint64_t seq_done;     /* of those, written, spooled or dropped */
	struct loop_defer *flush_now, *drain_d;
	struct loop_timer *flush_t, *retry_t, *expire_t;
	struct loop_signal *sig[3];
	int store_away;
	int64_t retry_ms;
	int64_t warned_ms; /* monotonic: the last "dropped" warning */
	uint64_t n_stored, n_spooled, n_dropped, n_refused;
	int64_t started_ms;
};

jv
logd_status(struct logd *d)
{
	jv st = ctl_status_common("loom-log", d->started_ms), m = jv_object();
	static const char *const names[4] = { "written", "spooled", "dropped",
		"refused" };
	static const char *const helps[4] = {
		"Log records written to the log store by this loom-log.",
		("Log records written to the spool (the store was slow or "
		 "away)."),
		"Log records dropped (the spool was full).",
		"Log records the store refused for good.",
	};
	const uint64_t v[4] = { d->n_stored, d->n_spooled, d->n_dropped,
		d->n_refused };

	for (int i = 0; i < 4; i++) {
		char name[64];

		snprintf(
		    name, sizeof(name), "loom_log_records_%s_total", names[i]);
		metrics_add(
		    &m, name, "counter", helps[i], jv_object(), (double)v[i]);
		st = jv_put(st, names[i], jv_number((double)v[i]));
	}
	metrics_add(&m, "loom_log_queue_records", "gauge",
	    "Log records queued in this loom-log, not written yet.",
	    jv_object(), (double)d->qn);
	metrics_add(&m, "loom_log_spool_bytes", "gauge",
	    "Bytes in this loom-log's spool file.", jv_object(),
	    (double)(d->spool ? ld_spool_bytes(d->spool) : 0));
	metrics_add(&m, "loom_database_errors_total", "counter",
	    "Database errors met by this process.", jv_object(),
	    (double)db_error_count());
	st = jv_put(st, "store", jv_string(d->o->store));
	st =
	    jv_put(st, "store_state", jv_string(d->store_away ? "away" : "up"));
	st = jv_put(
	    st, "connections", jv_number((double)ld_server_conns(d->srv)));
	st = jv_put(st, "queued", jv_number((double)d->qn));
	st = jv_put(st, "spool_bytes",
	    jv_number((double)(d->spool ? ld_spool_bytes(d->spool) : 0)));
	return jv_put(st, "metrics", m);
}

struct loop *
logd_loop(struct logd *d)
{
	return d->loop;
}

uint64_t
logd_seq(const struct logd *d)
{
	return d->seq_in;
}

uint64_t
logd_done(const struct logd *d)
{
	return d->seq_done;
}

void
logd_flush_soon(struct logd *d)
{
	if (d->qn > 0)
		(void)loop_defer_arm(d->flush_now);
}

void
logd_record(struct logd *d, struct ld_rec *r)
{
	if (d->qn == d->qcap) {
		d->qcap = d->qcap ? d->qcap * 2 : 1024;
		d->q = xreallocarray(d->q, d->qcap, sizeof(*d->q));
	}
	d->q[d->qn++] = *r;
	d->seq_in++;
	if (d->qn >= (size_t)d->o->batch)
		(void)loop_defer_arm(d->flush_now);
	else if (!loop_timer_armed(d->flush_t))
		(void)loop_timer_after(d->flush_t, d->o->flush_ms);
}

static void
store_lost(struct logd *d, const char *err)
{
	if (!d->store_away)
		log_warnx("%s store: %s; records go to the spool until it "
			  "answers",
		    d->store->ops->name, err);
	d->store_away = 1;
	if (!loop_timer_armed(d->retry_t)) {
		(void)loop_timer_after(d->retry_t, d->retry_ms);
		d->retry_ms = d->retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS :
							       d->retry_ms * 2;
	}
}

/* Records r[0..n) into the spool; what does not fit is counted. */
static void
to_spool(struct logd *d, const struct ld_rec *r, size_t n)
{
	size_t put = d->spool ? ld_spool_put(d->spool, r, n) : 0;
	int64_t now = loop_mono_ms(d->loop);

	d->n_spooled += put;
	if (put == n)
		return;
	d->n_dropped += n - put;
	if (d->warned_ms == 0 || now - d->warned_ms >= WARN_EVERY_MS) {
		log_warnx("spool full (logd.spool_max): %llu records dropped "
			  "so far",
		    (unsigned long long)d->n_dropped);
		d->warned_ms = now;
	}
}

/* What became of a batch the store had: rc as ld_store_ops.finish. */
static void
batch_outcome(
    struct logd *d, const struct ld_rec *r, size_t n, int rc, const char *err)
{
	if (rc == 0)
		d->n_stored += n;
	else if (rc > 0) {
		store_lost(d, err ? err : "?");
		to_spool(d, r, n);
	} else {
		d->n_refused += n;
		log_warnx("%s store refused %zu records: %s",
		    d->store->ops->name, n, err ? err : "?");
	}
}

/* The blocking way, for the spool's batches: rc as finish. */
static int
write_now(struct logd *d, const struct ld_rec *r, size_t n, char **err)
{
	int rc = d->store->ops->begin(d->store, r, n, err);

	return rc != 0 ? rc : d->store->ops->finish(d->store, 1, err);
}

static void flush(struct logd *d);

/*
 * The batch in flight is over (rc as finish, or SPOOLED: it went to the
 * spool without trying the store): the next one goes.
 */
#define SPOOLED 3
static void
batch_done(struct logd *d, int rc, char *err)
{
	loop_io_del(d->fl_io);
	d->fl_io = NULL;
	if (rc != SPOOLED)
		batch_outcome(d, d->fl, d->nfl, rc, err);
	free(err);
	for (size_t i = 0; i < d->nfl; i++)
		ld_rec_clear(&d->fl[i]);
	d->seq_done += d->nfl;
	d->nfl = 0;
	d->inflight = 0;
	if (d->srv != NULL)
		ld_server_pause(d->srv, 0);
	if (d->srv != NULL)
		ld_server_synced(d->srv, d->seq_done);
	if (!d->store_away && d->spool && !ld_spool_empty(d->spool))
		(void)loop_defer_arm(d->drain_d);
	if (d->qn > 0)
		(void)loop_defer_arm(d->flush_now); /* the next batch */
}

static void
on_batch_answer(struct loop_io *io, int fd, unsigned events, void *arg)
{
	struct logd *d = arg;
	char *err = NULL;
	int rc = d->store->ops->finish(d->store, 0, &err);

	if (rc != 2)
		batch_done(d, rc, err);
}

/* Takes the first k queued records into d->fl. */
static void
take_batch(struct logd *d, size_t k)
{
	d->fl = xreallocarray(d->fl, k > 0 ? k : 1, sizeof(*d->fl));
	memcpy(d->fl, d->q, k * sizeof(*d->q));
	memmove(d->q, d->q + k, (d->qn - k) * sizeof(*d->q));
	d->qn -= k;
	d->nfl = k;
}

/* Spools the batch in d->fl, or hands it to the store. */
static void
send_batch(struct logd *d)
{
	char *err = NULL;
	int rc, fd;

	if (d->store_away || (d->spool && !ld_spool_empty(d->spool))) {
		/* After what waits in the spool, or while the store is away. */
		to_spool(d, d->fl, d->nfl);
		batch_done(d, SPOOLED, NULL);
		return;
	}
	if ((rc = d->store->ops->begin(d->store, d->fl, d->nfl, &err)) != 0) {
		batch_done(d, rc, err);
		return;
	}
	d->inflight = 1;
	if ((fd = d->store->ops->fd(d->store)) < 0 ||
	    (d->fl_io = loop_io_add(
		 d->loop, fd, LOOP_READ, on_batch_answer, d)) == NULL) {
		rc = d->store->ops->finish(d->store, 1, &err);
		batch_done(d, rc, err);
	}
}

/*
 * Sends the next batch unless one is in flight.  Behind a slow store at
 * most QUEUE_BATCHES batches wait; then the sockets are not read until
 * the store took one (the writers wait, or write elsewhere: loom-exec),
 * and a batch that takes longer than logd.store_timeout goes to the
 * spool with everything after it, so the order holds.
 */
static void
flush(struct logd *d)
{
	size_t b = (size_t)d->o->batch;

	loop_timer_stop(d->flush_t);
	if (d->inflight) {
		if (d->qn >= b * QUEUE_BATCHES && d->srv != NULL)
			ld_server_pause(d->srv, 1);
		return;
	}
	if (d->qn > 0) {
		take_batch(d, d->qn < b ? d->qn : b);
		send_batch(d); /* calls flush() again when done */
	}
}

static void
on_flush_now(struct loop_defer *df, void *arg)
{
	flush(arg);
}

static void
on_flush_timer(struct loop_timer *t, void *arg)
{
	flush(arg);
}

/* One batch of the spool into the store per loop turn. */
static void
on_drain(struct loop_defer *df, void *arg)
{
	struct logd *d = arg;
	struct ld_rec *r;
	char *err = NULL;
	long k;
	int rc;

	if (d->store_away || d->inflight || d->spool == NULL ||
	    ld_spool_empty(d->spool))
		return; /* a batch in flight arms this again when done */
	r = xcalloc((size_t)d->o->batch, sizeof(*r));
	if ((k = ld_spool_take(d->spool, r, (size_t)d->o->batch)) < 0) {
		free(r);
		return;
	}
	rc = k > 0 ? write_now(d, r, (size_t)k, &err) : 0;
	if (rc > 0)
		store_lost(d, err ? err : "?");
	else {
		if (rc < 0) {
			d->n_refused += (uint64_t)k;
			log_warnx("%s store refused %ld spooled records: %s",
			    d->store->ops->name, k, err ? err : "?");
		} else
			d->n_stored += (uint64_t)k;
		ld_spool_done(d->spool);
		if (ld_spool_empty(d->spool))
			log_info("spool written into the %s store",
			    d->store->ops->name);
		else
			(void)loop_defer_arm(d->drain_d);
	}
	for (long i = 0; i < k; i++)
		ld_rec_clear(&r[i]);
	free(r);
	free(err);
}

static void
on_retry(struct loop_timer *t, void *arg)
{
	struct logd *d = arg;
	char *err = NULL;

	if (d->store->ops->reconnect(d->store, &err) < 0) {
		log_debug("%s store: %s", d->store->ops->name, err ? err : "?");
		free(err);
		(void)loop_timer_after(d->retry_t, d->retry_ms);
		d->retry_ms = d->retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS :
							       d->retry_ms * 2;
		return;
	}
	log_info("%s store answers again; %lld bytes spooled",
	    d->store->ops->name,
	    (long long)(d->spool ? ld_spool_bytes(d->spool) : 0));
	d->store_away = 0;
	d->retry_ms = RETRY_MIN_MS;
	(void)loop_defer_arm(d->drain_d);
}

static void
on_expire(struct loop_timer *t, void *arg)
{
	struct logd *d = arg;
	char *err = NULL;
	long n;

	if (d->retention_ms <= 0)
		return;
	if (d->inflight) { /* the connection is busy: soon */
		(void)loop_timer_after(d->expire_t, 100);
		return;
	}
	(void)loop_timer_after(d->expire_t, d->retention_every_ms);
	if (d->store_away)
		return;
	n = d->store->ops->expire(
	    d->store, loop_now_ms(d->loop) - d->retention_ms, &err);
	if (n < 0) {
		log_warnx("retention: %s", err ? err : "?");
		free(err);
	} else if (n > 0)
		log_info("retention: %ld records older than logd.retention "
			 "deleted",
		    n);
}

/* SIGHUP: log.level, logd.retention and logd.retention_interval again. */
static void
reload(struct logd *d)
{
	struct diags dg;
	struct config *cfg;
	const char *lvl;
	enum log_level level = LOG_LVL_INFO;
	int64_t ms;

	diags_init(&dg);
	if ((cfg = config_load(d->config_path, &dg)) == NULL) {
		log_warnx("SIGHUP: the configuration has errors; kept the "
			  "old one");
		diags_clear(&dg);
		return;
	}
	if (!d->cli_debug && (lvl = config_get(cfg, "log.level", NULL)) &&
	    log_level_parse(lvl, &level) == 0)
		log_set_level(level);
	if (config_get_duration(cfg, "logd.retention", 0, &ms) == 0 && ms >= 0)
		d->retention_ms = ms;
	if (config_get_duration(cfg, "logd.retention_interval", 3600000, &ms) ==
		0 &&
	    ms >= 100)
		d->retention_every_ms = ms;
	config_free(cfg);
	log_info("SIGHUP: reloaded log.level and logd.retention (%lldms)",
	    (long long)d->retention_ms);
	if (d->retention_ms > 0)
		(void)loop_timer_after(d->expire_t, 0);
}

static void
on_signal(struct loop_signal *s, int signo, void *arg)
{
	struct logd *d = arg;

	if (signo == SIGHUP) {
		reload(d);
		return;
	}
	log_info("%s: stopping", signo == SIGTERM ? "SIGTERM" : "SIGINT");
	loop_exit(d->loop, 0);
}

static int
open_all(struct logd *d, char **err)
{
	static const int sigs[3] = { SIGTERM, SIGINT, SIGHUP };

	d->flush_now = loop_defer_new(d->loop, on_flush_now, d);
	d->drain_d = loop_defer_new(d->loop, on_drain, d);
	d->flush_t = loop_timer_new(d->loop, on_flush_timer, d);
	d->retry_t = loop_timer_new(d->loop, on_retry, d);
	d->expire_t = loop_timer_new(d->loop, on_expire, d);
	if (!d->flush_now || !d->drain_d || !d->flush_t || !d->retry_t ||
	    !d->expire_t) {
		*err = xasprintf("event loop: %s", strerror(errno));
		return -1;
	}
	for (int i = 0; i < 3; i++)
		if ((d->sig[i] = loop_signal_add(
			 d->loop, sigs[i], on_signal, d)) == NULL) {
			*err = xasprintf("signal: %s", strerror(errno));
			return -1;
		}
	if ((d->spool = ld_spool_open(d->o->spool, d->o->spool_max, err)) ==
	    NULL)
		return -1;
	d->store = strcmp(d->o->store, "mongodb") == 0 ?
	    ld_store_mongo_new(d->o, err) :
	    ld_store_pg_new(d->o, err);
	if (d->store == NULL)
		return -1;
	if ((d->srv = ld_server_new(d, d->o, err)) == NULL)
		return -1;
	return 0;
}

static void
close_all(struct logd *d)
{
	ld_server_free(d->srv);
	d->srv = NULL;
	/* What was read is written, or spooled. */
	while (d->store != NULL && (d->inflight || d->qn > 0)) {
		char *err = NULL;

		if (d->inflight)
			batch_done(
			    d, d->store->ops->finish(d->store, 1, &err), err);
		else
			flush(d);
	}
	free(d->fl);
	for (size_t i = 0; i < d->qn; i++)
		ld_rec_clear(&d->q[i]);
	free(d->q);
	if (d->store != NULL)
		d->store->ops->free(d->store);
	ld_spool_close(d->spool);
	for (int i = 0; i < 3; i++)
		loop_signal_del(d->sig[i]);
	loop_defer_del(d->flush_now);
	loop_defer_del(d->drain_d);
	loop_timer_del(d->flush_t);
	loop_timer_del(d->retry_t);
	loop_timer_del(d->expire_t);
	loop_free(d->loop);
}

int
logd_run(const struct logd_opts *o, const char *config_path, int cli_debug)
{
	struct logd d;
	char *err = NULL;
	int rc = 1;

	memset(&d, 0, sizeof(d));
	d.o = o;
	d.config_path = config_path;
	d.cli_debug = cli_debug;
	d.retention_ms = o->retention_ms;
	d.retention_every_ms = o->retention_every_ms;
	d.retry_ms = RETRY_MIN_MS;
	if ((d.loop = loop_new()) == NULL) {
		log_warn("event loop");
		return 1;
	}
	d.started_ms = loop_now_ms(d.loop);
	if (open_all(&d, &err) == 0) {
		if (d.store_away || !ld_spool_empty(d.spool))
			(void)loop_timer_after(d.retry_t, 0);
		if (d.retention_ms > 0)
			(void)loop_timer_after(d.expire_t, 0);
		log_info("ready; listening on %s, %s store, spool %s",
		    o->socket, o->store, o->spool);
		loop_notify_ready(d.loop);
		rc = loop_run(d.loop) < 0 ? 1 : 0;
		loop_notify_stopping(d.loop);
	} else {
		log_warnx("%s", err ? err : "?");
		free(err);
	}
	close_all(&d);
	log_info("stopped: %llu records stored, %llu spooled, %llu dropped, "
		 "%llu refused",
	    (unsigned long long)d.n_stored, (unsigned long long)d.n_spooled,
	    (unsigned long long)d.n_dropped, (unsigned long long)d.n_refused);
	return rc;
}
