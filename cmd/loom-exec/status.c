/*
 * status: loom-exec's control socket (util/ctl.h): what it runs, its
 * counters, and the figures only it knows, for loom-api's /metrics: how
 * long each HTTP call took, by breaker target (the time from dispatch to
 * the backend's answer, measured on this process's monotonic clock).
 */
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "daemon.h"
#include "logsink.h"
#include "store/db.h"
#include "util/ctl.h"
#include "util/jsonutil.h"
#include "util/metrics.h"

/* One target's histogram; a plain array: targets are few. */
struct xd_lat {
	char *target;
	struct metrics_hist h;
};

void
xd_lat_observe(struct xd *x, const char *target, int64_t ms)
{
	size_t i;

	for (i = 0; i < x->nlat; i++)
		if (strcmp(x->lat[i].target, target) == 0)
			break;
	if (i == x->nlat) {
		if (x->nlat >= 1000) /* a bound on what a status carries */
			return;
		x->lat = xreallocarray(x->lat, x->nlat + 1, sizeof(*x->lat));
		memset(&x->lat[i], 0, sizeof(x->lat[i]));
		x->lat[i].target = xstrdup(target);
		x->nlat++;
	}
	metrics_hist_observe(&x->lat[i].h, (double)ms / 1000.0);
}

void
xd_lat_free(struct xd *x)
{
	for (size_t i = 0; i < x->nlat; i++)
		free(x->lat[i].target);
	free(x->lat);
	x->lat = NULL;
	x->nlat = 0;
}

static void
counter(jv *m, const char *name, const char *help, uint64_t v)
{
	metrics_add(m, name, "counter", help, jv_object(), (double)v);
}

jv
xd_status(void *arg)
{
	struct xd *x = arg;
	jv m = jv_object();
	int slots = xd_slots(x);

	for (size_t i = 0; i < x->nlat; i++)
		metrics_add_hist(&m, "loom_http_callback_latency_seconds",
		    "Time from dispatching an HTTP task to its backend's "
		    "answer, by breaker target.",
		    JV_OBJECT(jv_string("target"), jv_string(x->lat[i].target)),
		    &x->lat[i].h);
	counter(&m, "loom_exec_claimed_total",
	    "Tasks claimed by this loom-exec.", x->nclaimed);
	counter(&m, "loom_exec_reported_total",
	    "Results written by this loom-exec.", x->nreported);
	counter(&m, "loom_exec_dropped_total",
	    "Results dropped (the lease was lost) by this loom-exec.",
	    x->ndropped);
	counter(&m, "loom_exec_held_total",
	    "Tasks held back by an open breaker by this loom-exec.", x->nheld);
	metrics_add(&m, "loom_exec_running_tasks", "gauge",
	    "Tasks running in this loom-exec.", jv_object(),
	    (double)x->nrunning);
	counter(&m, "loom_database_errors_total",
	    "Database errors met by this process.", db_error_count());
	jv st = JV_OBJECT(jv_string("name"), jv_string(x->o->name),
	    jv_string("slots"), jv_number(slots), jv_string("slots_max"),
	    jv_number(x->o->concurrency), jv_string("slots_peak"),
	    jv_number(x->slots_peak), jv_string("running"),
	    jv_number((double)x->nrunning), jv_string("results_queued"),
	    jv_number((double)x->ndone), jv_string("claimed"),
	    jv_number((double)x->nclaimed));

	st = jv_put(st, "reported", jv_number((double)x->nreported));
	st = jv_put(st, "dropped", jv_number((double)x->ndropped));
	st = jv_put(st, "held", jv_number((double)x->nheld));
	st = jv_put(st, "draining", jv_bool(x->draining));
	st = jv_put(st, "database", jv_string(x->conn ? "connected" : "away"));
	st = jv_put(st, "loom_log",
	    jv_string(x->sink == NULL	       ? "off" :
		    logsink_connected(x->sink) ? "connected" :
						 "away"));
	return jv_put(st, "metrics", m);
}
