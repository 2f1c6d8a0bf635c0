/*
 * server: loom-api's HTTP server as a whole (see api.h for the model,
 * server.h for the files that make it up).  api_new() checks the schema,
 * sets up the main loop (signals, timers, the eventfd the worker threads
 * kick, the LISTEN connection), binds the listeners and starts one MHD
 * daemon per listener; api_run() serves until a stop signal; api_free()
 * releases it all.  struct api is owned by the caller of api_new(); the
 * listeners, daemons and loop are owned by it.
 *
 * Shutdown (SIGTERM/SIGINT): the daemons stop accepting, waiters are woken
 * (a long-poll answers with the state it has), and the main loop ends when
 * no request is in flight or after API_DRAIN_MS; a second signal ends it
 * at once.  Only then are the MHD daemons stopped, so no suspended
 * connection is ever left behind.
 */
#include "server.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <microhttpd.h>

#include "api_stream.h"
#include "util/config.h"
#include "store/db.h"
#include "util/ctl.h"
#include "util/loop.h"
#include "util/metrics.h"
#include "store/pglisten.h"
#include "core/xalloc.h"

void
efd_kick(struct api *a)
{
	if (eventfd_write(a->efd, 1) < 0)
		api_log(LOG_LVL_WARN, "eventfd write: %s", strerror(errno));
}

static void
on_efd(struct loop_io *io, int fd, unsigned events, void *arg)
{
	struct api *a = arg;
	eventfd_t v;
	int done;

	(void)eventfd_read(fd, &v);
	waiters_rearm(a);
	socks_sweep(a);
	pthread_mutex_lock(&a->mu);
	done = a->stopping && a->inflight == 0;
	pthread_mutex_unlock(&a->mu);
	if (done)
		loop_exit(a->loop, 0);
}

/* ---- signals ------------------------------------------------------------ */

static void
on_drain_timer(struct loop_timer *t, void *arg)
{
	struct api *a = arg;
	long n;

	pthread_mutex_lock(&a->mu);
	n = a->inflight;
	pthread_mutex_unlock(&a->mu);
	api_log(
	    LOG_LVL_WARN, "stopping with %ld request(s) still in flight", n);
	loop_exit(a->loop, 0);
}

static void
on_stop_signal(struct loop_signal *s, int signo, void *arg)
{
	struct api *a = arg;
	long n;

	pthread_mutex_lock(&a->mu);
	if (a->stopping) {
		pthread_mutex_unlock(&a->mu);
		api_log(
		    LOG_LVL_INFO, "second %s: stopping now", strsignal(signo));
		loop_exit(a->loop, 0);
		return;
	}
	a->stopping = 1;
	pthread_mutex_unlock(&a->mu);
	api_log(LOG_LVL_INFO, "%s: draining", strsignal(signo));
	loop_notify_stopping(a->loop);
	for (size_t i = 0; i < a->nls; i++)
		if (a->ls[i].d)
			(void)MHD_quiesce_daemon(a->ls[i].d);
	wake_matching(a, NULL);
	api_streams_stop(a->streams); /* event streams end now */
	pthread_mutex_lock(&a->mu);
	n = a->inflight;
	pthread_mutex_unlock(&a->mu);
	if (n == 0)
		loop_exit(a->loop, 0);
	else
		loop_timer_after(a->drain_timer, API_DRAIN_MS);
}

static void
on_hup(struct loop_signal *s, int signo, void *arg)
{
	struct api *a = arg;
	struct config *cfg;
	struct diags d;
	enum log_level l;

	diags_init(&d);
	if ((cfg = config_load(a->opt->config_path, &d)) == NULL) {
		api_log(LOG_LVL_WARN, "SIGHUP: config not reloaded: %s",
		    d.n ? d.v[0].msg : "?");
		diags_clear(&d);
		return;
	}
	if (a->opt->debug)
		l = LOG_LVL_DEBUG;
	else if (api_log_level(cfg, &l) < 0) {
		api_log(LOG_LVL_WARN, "SIGHUP: bad log level; kept");
		config_free(cfg);
		return;
	}
	log_set_level(l);
	api_log(LOG_LVL_INFO,
	    "SIGHUP: config reloaded (log level; other "
	    "settings need a restart)");
	config_free(cfg);
}

/* ---- life cycle --------------------------------------------------------- */

static int
start_daemons(struct api *a, char **err)
{
	const unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
	    MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;

	for (size_t i = 0; i < a->nls; i++) {
		struct listener *l = &a->ls[i];

		/* The logger first, so MHD's own option parsing uses it. */
		l->api = a;
		l->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, a,
		    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, a,
		    MHD_OPTION_LISTEN_SOCKET, (MHD_socket)l->fd,
		    MHD_OPTION_THREAD_POOL_SIZE, (unsigned)a->opt->threads,
		    MHD_OPTION_CONNECTION_LIMIT,
		    (unsigned)(a->opt->max_connections +
			API_CONN_RESERVE(a->opt->max_connections)),
		    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)a->opt->timeout_s,
		    MHD_OPTION_NOTIFY_CONNECTION, on_connection, l,
		    MHD_OPTION_URI_LOG_CALLBACK, on_uri, a,
		    MHD_OPTION_NOTIFY_COMPLETED, on_completed, a,
		    MHD_OPTION_END);
		if (l->d == NULL) {
			*err = xasprintf("cannot start the HTTP server on %s",
			    l->url ? l->url : "?");
			return -1;
		}
	}
	return 0;
}

static int
check_schema(const char *url, char **err)
{
	PGconn *c = db_connect(url, API_APP_NAME, err);
	int rc;

	if (c == NULL)
		return -1;
	rc = db_schema_check(c, err);
	PQfinish(c);
	return rc;
}

/* The control socket's status: connections, requests, streams. */
static jv
api_ctl_status(void *arg)
{
	struct api *a = arg;
	size_t nsocks = 0;
	long inflight;
	jv m = jv_object();

	pthread_mutex_lock(&a->mu);
	for (struct api_sock *s = a->socks; s != NULL; s = s->next)
		nsocks++;
	inflight = a->inflight;
	pthread_mutex_unlock(&a->mu);
	metrics_add(&m, "loom_api_connections", "gauge",
	    "Client connections open on this loom-api.", jv_object(),
	    (double)nsocks);
	metrics_add(&m, "loom_api_requests_in_flight", "gauge",
	    "Requests this loom-api is answering.", jv_object(),
	    (double)inflight);
	metrics_add(&m, "loom_database_errors_total", "counter",
	    "Database errors met by this process.", jv_object(),
	    (double)db_error_count());
	return JV_OBJECT(jv_string("listeners"), jv_number((double)a->nls),
	    jv_string("connections"), jv_number((double)nsocks),
	    jv_string("requests_in_flight"), jv_number((double)inflight),
	    jv_string("threads"), jv_number((double)a->opt->threads),
	    jv_string("metrics"), m);
}

struct api *
api_new(const struct api_options *o, char **err)
{
	static const char *const channels[] = { "loom_event", "loom_log",
		NULL };
	struct api *a = xcalloc(1, sizeof(*a));

	a->opt = o;
	a->efd = -1;
	pthread_mutex_init(&a->mu, NULL);
	if (check_schema(o->db_url, err) < 0)
		goto fail;
	/*
	 * The loop and its signal watches come first: they block the
	 * signals in this thread, and the MHD threads made later inherit
	 * that mask, so a SIGTERM always reaches the loop.
	 */
	if ((a->loop = loop_new()) == NULL) {
		*err = xasprintf(
		    "cannot make the event loop: %s", strerror(errno));
		goto fail;
	}
	a->sig[0] = loop_signal_add(a->loop, SIGTERM, on_stop_signal, a);
	a->sig[1] = loop_signal_add(a->loop, SIGINT, on_stop_signal, a);
	a->sig[2] = loop_signal_add(a->loop, SIGHUP, on_hup, a);
	a->wait_timer = loop_timer_new(a->loop, on_wait_timer, a);
	a->drain_timer = loop_timer_new(a->loop, on_drain_timer, a);
	a->sock_timer = loop_timer_new(a->loop, on_sock_timer, a);
	a->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (!a->sig[0] || !a->sig[1] || !a->sig[2] || !a->wait_timer ||
	    !a->drain_timer || !a->sock_timer || a->efd < 0 ||
	    (a->efd_io = loop_io_add(a->loop, a->efd, LOOP_READ, on_efd, a)) ==
		NULL) {
		*err = xasprintf(
		    "cannot set up the event loop: %s", strerror(errno));
		goto fail;
	}
	if ((a->streams = api_streams_new(
		 a->loop, o->max_streams, o->heartbeat_ms, err)) == NULL)
		goto fail;
	a->pgl = pglisten_new(a->loop, o->db_url, API_APP_NAME, channels,
	    on_notify, on_listen_connect, a, err);
	if (a->pgl == NULL)
		goto fail;
	if (listen_all(a, err) < 0)
		goto fail;
	if (o->control_socket != NULL &&
	    (a->ctl = ctl_new(a->loop, o->control_socket, "loom-api",
		 api_ctl_status, a, err)) == NULL)
		goto fail;
	nofile_check(a);
	if (start_daemons(a, err) < 0)
		goto fail;
	return a;
fail:
	api_free(a);
	return NULL;
}

int
api_run(struct api *a)
{
	int rc;

	for (size_t i = 0; i < a->nls; i++)
		if (a->ls[i].url)
			api_log(LOG_LVL_INFO, "listening on %s", a->ls[i].url);
	if (a->opt->print_url) {
		const char *first = NULL;

		for (size_t i = 0; i < a->nls && !first; i++)
			if (a->ls[i].url && !strncmp(a->ls[i].url, "http", 4))
				first = a->ls[i].url;
		if (first == NULL && a->nls)
			first = a->ls[0].url;
		printf("%s\n", first ? first : "");
		fflush(stdout);
	}
	loop_notify_ready(a->loop);
	rc = loop_run(a->loop);
	/*
	 * MHD must not be stopped with a suspended connection.  The stop
	 * signal woke every waiter already; this covers a loop that failed,
	 * and stopping = 1 keeps any request from parking again.
	 */
	pthread_mutex_lock(&a->mu);
	a->stopping = 1;
	pthread_mutex_unlock(&a->mu);
	wake_matching(a, NULL);
	api_streams_stop(a->streams);
	for (size_t i = 0; i < a->nls; i++) {
		if (a->ls[i].d)
			MHD_stop_daemon(a->ls[i].d);
		a->ls[i].d = NULL;
	}
	api_log(LOG_LVL_INFO, "stopped");
	return rc < 0 ? 1 : rc;
}

void
api_free(struct api *a)
{
	if (a == NULL)
		return;
	for (size_t i = 0; i < a->nls; i++) {
		struct listener *l = &a->ls[i];

		if (l->d)
			MHD_stop_daemon(l->d);
		if (l->fd >= 0)
			close(l->fd);
		if (l->unlink_path)
			unlink(l->unlink_path);
		free(l->unlink_path);
		free(l->url);
	}
	free(a->ls);
	pglisten_free(a->pgl);
	ctl_free(a->ctl);
	api_streams_free(a->streams);
	loop_io_del(a->efd_io);
	if (a->efd >= 0)
		close(a->efd);
	loop_timer_del(a->wait_timer);
	loop_timer_del(a->drain_timer);
	loop_timer_del(a->sock_timer);
	for (size_t i = 0; i < 3; i++)
		loop_signal_del(a->sig[i]);
	loop_free(a->loop);
	pthread_mutex_destroy(&a->mu);
	free(a);
}
