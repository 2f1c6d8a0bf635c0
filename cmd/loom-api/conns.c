/*
 * conns: the connections loom-api accepts, their deadlines and limits.
 * MHD calls on_connection() when it accepts and closes one, and on_uri()
 * when a request line is in; request.c moves a connection's deadline as
 * its request goes on; the main loop's sock_timer (server.c) runs
 * socks_sweep().  An api_sock is MHD's socket context, made and freed
 * here on the connection's worker thread.
 *
 * Every accepted connection has an api_sock on a->socks, so that slow or
 * greedy clients cannot shut everybody else out:
 *
 * Deadlines.  MHD's own timeout (api.timeout) closes a connection only
 * when it says nothing at all; one that sends a byte now and then would
 * live for ever.  So while a connection is receiving a request it has a
 * deadline: the request line and headers must be in within
 * api.request_timeout of the connection being accepted (of its request
 * line, for a later request on a kept-alive connection), and the body
 * within api.request_timeout of the headers.  While a request is being
 * answered there is none (long-polls and streams last as they must);
 * between requests a kept-alive connection has api.timeout plus
 * api.request_timeout to send its next request's headers.  The main
 * loop's sock_timer shuts a connection past its deadline down
 * (shutdown(2), not close: MHD sees the stream end and closes it
 * itself, and the descriptor stays ours until MHD says it is closed).
 *
 * Limits.  A listener serves api.max_connections connections, and a TCP
 * listener at most api.max_connections_per_client from one address.  A
 * connection over either makes room by shutting down the oldest one (of
 * that address, or of anybody) that has a deadline: one still sending a
 * request, or idle between two, which is what a slow client holds.  When
 * every connection is busy being answered, the newcomer is "limited": it
 * may ask for /healthz and /readyz, and anything else is 503.  MHD
 * itself takes API_CONN_RESERVE more than api.max_connections: room for
 * those, and for newcomers that arrive before the evicted are gone
 * (under a flood, on a busy machine, that takes a while).
 */
#include "server.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "util/loop.h"
#include "core/xalloc.h"

static int
sock_same_peer(const struct api_sock *a, const struct api_sock *b)
{
	if (!a->per_client || !b->per_client ||
	    a->peer.ss_family != b->peer.ss_family)
		return 0;
	if (a->peer.ss_family == AF_INET)
		return memcmp(&((const struct sockaddr_in *)&a->peer)->sin_addr,
			   &((const struct sockaddr_in *)&b->peer)->sin_addr,
			   sizeof(struct in_addr)) == 0;
	return memcmp(&((const struct sockaddr_in6 *)&a->peer)->sin6_addr,
		   &((const struct sockaddr_in6 *)&b->peer)->sin6_addr,
		   sizeof(struct in6_addr)) == 0;
}

/* Called with a->mu held. */
static void
sock_evict(struct api_sock *s)
{
	if (s->evicted)
		return;
	s->evicted = 1;
	s->deadline = 0;
	if (s->fd >= 0)
		(void)shutdown(s->fd, SHUT_RDWR);
}

/*
 * Called with a->mu held, s just linked: counts s's listener and s's
 * address, and when one is over its limit evicts the oldest connection
 * that holds no request being answered, or marks s limited.
 */
static void
sock_make_room(struct api *a, struct api_sock *s)
{
	struct api_sock *p, *oldest = NULL, *oldest_peer = NULL;
	long total = 0, peer = 0;

	for (p = a->socks; p; p = p->next) { /* newest first */
		int same;

		if (p->l != s->l || p->evicted)
			continue;
		same = p == s || sock_same_peer(p, s);
		total++;
		peer += same;
		if (p == s || p->deadline == 0)
			continue;
		oldest = p;
		if (same)
			oldest_peer = p;
	}
	if (s->per_client && peer > a->opt->max_per_client)
		p = oldest_peer;
	else if (total > a->opt->max_connections)
		p = oldest;
	else
		return;
	if (p != NULL)
		sock_evict(p);
	else
		s->limited = 1;
}

/*
 * Sets s's deadline to at (mono ms; 0: none).  earlier: only when that
 * brings it forward.  Tells the main loop when its timer must move.
 */
void
sock_deadline(struct api *a, struct api_sock *s, int64_t at, int earlier)
{
	int kick = 0;

	if (s == NULL)
		return;
	pthread_mutex_lock(&a->mu);
	if (!s->evicted && !(earlier && s->deadline && s->deadline <= at)) {
		s->deadline = at;
		if (at && (a->sweep_at == 0 || at < a->sweep_at)) {
			a->sweep_at = at;
			kick = 1;
		}
	}
	pthread_mutex_unlock(&a->mu);
	if (kick)
		efd_kick(a);
}

/* Main thread: shut down connections past their deadline; re-arm. */
void
socks_sweep(struct api *a)
{
	struct api_sock *s;
	int64_t now = api_mono_ms(), first = 0;
	int n = 0;

	pthread_mutex_lock(&a->mu);
	for (s = a->socks; s; s = s->next) {
		if (s->deadline == 0)
			continue;
		if (s->deadline <= now) {
			sock_evict(s);
			n++;
		} else if (first == 0 || s->deadline < first)
			first = s->deadline;
	}
	a->sweep_at = first;
	pthread_mutex_unlock(&a->mu);
	if (n > 0)
		api_log(LOG_LVL_DEBUG,
		    "closed %d connection(s) slower than "
		    "api.request_timeout",
		    n);
	if (first)
		loop_timer_at(a->sock_timer, first);
	else
		loop_timer_stop(a->sock_timer);
}

void
on_sock_timer(struct loop_timer *t, void *arg)
{
	socks_sweep(arg);
}

struct api_sock *
sock_of(struct MHD_Connection *mc)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

/* MHD_OPTION_NOTIFY_CONNECTION, on the connection's worker thread. */
void
on_connection(void *cls, struct MHD_Connection *mc, void **socket_context,
    enum MHD_ConnectionNotificationCode code)
{
	struct listener *l = cls;
	struct api *a = l->api;
	struct api_sock *s = *socket_context;
	const union MHD_ConnectionInfo *ci;

	if (code != MHD_CONNECTION_NOTIFY_STARTED) {
		if (s == NULL)
			return;
		pthread_mutex_lock(&a->mu);
		if (s->prev)
			s->prev->next = s->next;
		else
			a->socks = s->next;
		if (s->next)
			s->next->prev = s->prev;
		pthread_mutex_unlock(&a->mu);
		free(s);
		*socket_context = NULL;
		return;
	}
	s = xcalloc(1, sizeof(*s));
	s->l = l;
	s->fd = (ci = MHD_get_connection_info(
		     mc, MHD_CONNECTION_INFO_CONNECTION_FD)) ?
	    ci->connect_fd :
	    -1;
	ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci && ci->client_addr &&
	    (ci->client_addr->sa_family == AF_INET ||
		ci->client_addr->sa_family == AF_INET6)) {
		memcpy(&s->peer, ci->client_addr,
		    ci->client_addr->sa_family == AF_INET ?
			sizeof(struct sockaddr_in) :
			sizeof(struct sockaddr_in6));
		s->per_client = 1;
	}
	*socket_context = s;
	pthread_mutex_lock(&a->mu);
	s->next = a->socks;
	if (a->socks)
		a->socks->prev = s;
	a->socks = s;
	sock_make_room(a, s);
	pthread_mutex_unlock(&a->mu);
	/* Its first request line and headers have this long. */
	sock_deadline(a, s, api_mono_ms() + a->opt->request_timeout_ms, 0);
}

/*
 * MHD_OPTION_URI_LOG_CALLBACK: a request line is in, its headers are
 * not.  uri is still percent-encoded here: a %00 that decoding would
 * turn into the end of the string is noted, and refused later.
 */
void *
on_uri(void *cls, const char *uri, struct MHD_Connection *mc)
{
	struct api *a = cls;
	struct api_sock *s = sock_of(mc);

	if (s == NULL)
		return NULL;
	s->nul = strstr(uri, "%00") != NULL;
	s->uri_len = strlen(uri);
	sock_deadline(a, s, api_mono_ms() + a->opt->request_timeout_ms, 1);
	return NULL;
}
