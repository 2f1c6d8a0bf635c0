/*
 * server: the insides of loom-api's HTTP server, shared by the files that
 * make it up and private to them; handlers see only api.h.
 *
 *   server.c      struct api's life: start, the main loop's wake-ups,
 *                 signals, draining, stop; the control socket's status
 *   listeners.c   the listening sockets: TCP, a Unix socket, systemd's
 *   conns.c       every accepted connection: deadlines and limits
 *   request.c     a request's life in MHD's access handler, from its
 *                 headers to its handler's answer
 *   routes.c      the route table and the router
 *   reply.c       answers: the JSON body, the error shape, headers
 *   wait.c        long-polling: parked requests and the doorbells
 *                 (LISTEN) that wake them
 *   thread_db.c   each worker thread's PostgreSQL connection
 *   options.c     settings from the config file and the command line
 *   log.c         whole log lines from many threads; MHD's messages
 *   api_stream.c  streamed answers (api_stream.h)
 *   api_metrics.c GET /metrics: the database's figures and every
 *                 daemon's, from its control socket
 *
 * Only server.c, listeners.c, conns.c, request.c, reply.c, wait.c and
 * api_stream.c know libmicrohttpd.  The main thread runs the event loop
 * (server.c, and the timers of wait.c and conns.c); MHD's worker threads
 * run request.c and the handlers.  What both touch lives in struct api
 * under its mu, as marked there.
 */
#ifndef LOOM_API_SERVER_H
#define LOOM_API_SERVER_H

#include <stdarg.h>
#include <stdint.h>
#include <pthread.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "api.h"
#include "core/buf.h"
#include "util/loop.h"

#define API_APP_NAME "loom-api"
#define API_MAX_HEADERS 4
/* MHD takes this many over api.max_connections (see conns.c). */
#define API_CONN_RESERVE(max) ((max) / 4 + 16)

struct listener {
	struct api *api;
	int fd;
	char *url;
	char *unlink_path; /* our Unix socket file, removed at exit */
	struct MHD_Daemon *d;
};

struct api {
	const struct api_options *opt;
	struct listener *ls;
	size_t nls;
	struct loop *loop;
	struct loop_signal *sig[3];
	struct loop_io *efd_io;
	int efd; /* workers -> main loop: re-arm, drained */
	struct loop_timer *wait_timer;
	struct loop_timer *drain_timer;
	struct pglisten *pgl;
	struct api_streams *streams;   /* event streams (api_stream.c) */
	struct loop_timer *sock_timer; /* the first connection deadline */
	struct ctl *ctl;	       /* the control socket */

	/* Shared with the worker threads; guarded by mu. */
	pthread_mutex_t mu;
	struct api_conn *waiters; /* suspended requests (doubly linked) */
	uint64_t gen;		  /* doorbells seen */
	int stopping;
	long inflight;		/* requests begun and not completed */
	struct api_sock *socks; /* accepted connections, newest first */
	int64_t sweep_at;	/* sock_timer's time, 0: not armed */
};

/*
 * One accepted connection: MHD's socket context, made when it is
 * accepted and freed when it is closed (see conns.c).  The
 * links, deadline and evicted are guarded by api->mu; the rest belongs
 * to the worker thread that serves the connection.
 */
struct api_sock {
	struct listener *l;
	int fd;
	struct sockaddr_storage peer; /* AF_INET or AF_INET6: per_client */
	int per_client;		      /* counts toward its address's limit */
	int64_t deadline;	      /* mono ms; 0: answering, none */
	int evicted;		      /* shut down; MHD closes it */
	int limited;		      /* over a limit: only /healthz, /readyz */
	int nul;		      /* the request's URI holds %00 */
	size_t uri_len;		      /* the request's URI, still encoded */
	struct api_sock *prev, *next;
};

struct api_conn {
	struct api *api;
	struct MHD_Connection *mc;
	struct api_request rq;
	char *method;
	char *path;	 /* split in place by the router */
	char *path_copy; /* rq.path once routed (path is cut up) */
	const struct api_route *route;
	struct api_sock *sock; /* the connection's, or NULL */
	struct buf body;
	size_t discarded; /* bytes dropped after the cap */
	int too_large;
	int routed;
	int64_t t0;
	struct {
		char *name, *value;
	} hdr[API_MAX_HEADERS];
	size_t nhdr;

	char *json_text;       /* api_set_json_text(): the body, as is */
	const char *text_type; /* api_set_text(): its Content-Type (static) */
	size_t json_len;
	size_t resp_len; /* bytes of the answer sent, once sent */

	/* long-polling; wait_* set by api_wait(), links guarded by api->mu */
	char *wait_key;
	int64_t wait_until;
	uint64_t gen_seen;
	int waiting;
	struct api_conn *wprev, *wnext;
};

/* ---- api_static.c -------------------------------------------------------- */

/*
 * A GET that no route takes: a file of the web UI, or index.html for a
 * page of it.  Returns 200 with *ret MHD's verdict when it answered, 0
 * when it did not (the caller answers 404).
 */
int api_static_serve(struct api_conn *rc, enum MHD_Result *ret);

/* ---- server.c ------------------------------------------------------------ */

/* Wakes the main loop (any thread): it re-arms its timers, and ends the
 * drain when the last request is done. */
void efd_kick(struct api *a);

/* ---- listeners.c --------------------------------------------------------- */

/* Binds the listeners into a->ls: systemd's sockets, else api.listen and
 * api.socket.  Returns 0, or -1 with *err (malloc'd). */
int listen_all(struct api *a, char **err);
/* Raises the open-files limit to fit the listeners, or warns. */
void nofile_check(const struct api *a);

/* ---- conns.c (MHD callbacks and the main loop's sweep) ------------------- */

void on_connection(void *cls, struct MHD_Connection *mc, void **socket_context,
    enum MHD_ConnectionNotificationCode code);
void *on_uri(void *cls, const char *uri, struct MHD_Connection *mc);
/* The api_sock of an accepted connection, or NULL. */
struct api_sock *sock_of(struct MHD_Connection *mc);
void sock_deadline(struct api *a, struct api_sock *s, int64_t at, int earlier);
void socks_sweep(struct api *a);
void on_sock_timer(struct loop_timer *t, void *arg);

/* ---- request.c (MHD's access and completed callbacks) -------------------- */

enum MHD_Result on_request(void *cls, struct MHD_Connection *mc,
    const char *url, const char *method, const char *version,
    const char *upload_data, size_t *upload_data_size, void **con_cls);
void on_completed(void *cls, struct MHD_Connection *mc, void **con_cls,
    enum MHD_RequestTerminationCode toe);

/* ---- reply.c ------------------------------------------------------------- */

/* Queues body (consumed) as the answer to rc, or *rc's JSON text when the
 * handler set one; returns MHD's verdict. */
enum MHD_Result api_send(struct api_conn *rc, int status, jv body);
enum MHD_Result api_send_error(struct api_conn *rc, int status,
    const char *code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* ---- wait.c -------------------------------------------------------------- */

/* Parks rc after its handler returned API_SUSPEND (worker thread). */
void api_suspend(struct api_conn *rc);
/* Called with a->mu held. */
void waiter_unlink(struct api *a, struct api_conn *rc);
/* Wakes the waiters on key; NULL: everyone. */
void wake_matching(struct api *a, const char *key);
void waiters_rearm(struct api *a);
void on_wait_timer(struct loop_timer *t, void *arg);
/* The LISTEN connection's callbacks (store/pglisten.h). */
void on_notify(void *arg, const char *channel, const char *payload);
void on_listen_connect(void *arg);

/* ---- thread_db.c, options.c, log.c --------------------------------------- */

void tdb_check_idle(const struct api_request *rq);
/*
 * A request that moved about TDB_LARGE_BYTES or more (its body, its
 * answer, a spec too large to cache) has grown this thread's libpq
 * buffers to its largest message, and libpq never shrinks them: the
 * connection is closed, to be made again by the next request.
 */
#define TDB_LARGE_BYTES (1024 * 1024)
void tdb_request_done(size_t moved);
int split_hostport(const char *s, char **host, char **port);
void mhd_log(void *cls, const char *fmt, va_list ap);

#endif
