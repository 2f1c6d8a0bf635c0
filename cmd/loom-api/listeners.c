/*
 * listeners: the sockets loom-api serves on, bound by listen_all() into
 * struct api's ls[] before the MHD daemons start (server.c): the ones
 * systemd passes (socket activation), else a TCP listener (api.listen)
 * and a Unix socket (api.socket).  Each listener owns its descriptor,
 * its URL for the log and, for a Unix socket we made, the path that
 * api_free() removes.  nofile_check() makes the open-files limit fit
 * what the listeners may hold at once.
 */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "core/xalloc.h"

static char *
sockaddr_url(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[INET6_ADDRSTRLEN];

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return NULL;
	switch (ss.ss_family) {
	case AF_INET: {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		return xasprintf("http://%s:%u", host, ntohs(in->sin_port));
	}
	case AF_INET6: {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		return xasprintf("http://[%s]:%u", host, ntohs(in6->sin6_port));
	}
	case AF_UNIX: {
		struct sockaddr_un *un = (struct sockaddr_un *)&ss;

		return xasprintf(
		    "unix:%s", un->sun_path[0] ? un->sun_path : "(unnamed)");
	}
	}
	return NULL;
}

static int
listen_tcp(const char *spec, struct listener *l, char **err)
{
	struct addrinfo hints, *res = NULL, *ai;
	char *host = NULL, *port = NULL;
	int fd = -1, rc, on = 1, saved = 0;

	if (split_hostport(spec, &host, &port) < 0) {
		*err = xasprintf("bad listen address '%s'", spec);
		return -1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		*err = xasprintf(
		    "cannot resolve '%s': %s", spec, gai_strerror(rc));
		goto fail;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family,
		    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd < 0) {
			saved = errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, SOMAXCONN) == 0)
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	if (fd < 0) {
		*err = xasprintf("cannot listen on %s: %s", spec,
		    strerror(saved ? saved : EADDRNOTAVAIL));
		goto fail;
	}
	l->fd = fd;
	l->url = sockaddr_url(fd);
	freeaddrinfo(res);
	free(host);
	free(port);
	return 0;
fail:
	if (res)
		freeaddrinfo(res);
	free(host);
	free(port);
	return -1;
}

/*
 * A Unix socket at path.  An existing socket file is removed only when
 * nobody answers on it (a crashed instance's leftover); when someone does,
 * another loom-api is running there and we refuse to start.
 */
static int
listen_unix(const char *path, struct listener *l, char **err)
{
	struct sockaddr_un sun;
	struct stat st;
	mode_t old;
	int fd = -1;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		*err = xasprintf("socket path too long: %s", path);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path));
	if (lstat(path, &st) == 0) {
		int probe;

		if (!S_ISSOCK(st.st_mode)) {
			*err = xasprintf("%s exists and is not a socket", path);
			return -1;
		}
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe < 0) {
			*err = xasprintf("socket: %s", strerror(errno));
			return -1;
		}
		if (connect(probe, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
			close(probe);
			*err = xasprintf("another server is already listening "
					 "on %s",
			    path);
			return -1;
		}
		if (errno != ECONNREFUSED) {
			*err = xasprintf(
			    "cannot check %s: %s", path, strerror(errno));
			close(probe);
			return -1;
		}
		close(probe);
		log_info("removing stale socket %s", path);
		if (unlink(path) < 0 && errno != ENOENT) {
			*err = xasprintf("cannot remove stale %s: %s", path,
			    strerror(errno));
			return -1;
		}
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*err = xasprintf("socket: %s", strerror(errno));
		return -1;
	}
	/* No window where the socket is wider open than 0660. */
	old = umask(0117);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		umask(old);
		*err = xasprintf("cannot bind %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	umask(old);
	if (chmod(path, 0660) < 0 || listen(fd, SOMAXCONN) < 0) {
		*err =
		    xasprintf("cannot listen on %s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	l->fd = fd;
	l->url = xasprintf("unix:%s", path);
	l->unlink_path = xstrdup(path);
	return 0;
}

int
listen_all(struct api *a, char **err)
{
	int n = sd_listen_fds(1);

	if (n > 0) {
		a->ls = xcalloc((size_t)n, sizeof(*a->ls));
		for (int i = 0; i < n; i++) {
			int fd = SD_LISTEN_FDS_START + i;

			if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0) {
				*err =
				    xasprintf("socket activation: fd %d is "
					      "not a listening stream socket",
					fd);
				return -1;
			}
			fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
			fcntl(fd, F_SETFD, FD_CLOEXEC);
			a->ls[a->nls].fd = fd;
			a->ls[a->nls].url = sockaddr_url(fd);
			a->nls++;
		}
		log_info("using %d socket(s) from systemd", n);
		return 0;
	}
	a->ls = xcalloc(2, sizeof(*a->ls));
	if (a->opt->listen) {
		if (listen_tcp(a->opt->listen, &a->ls[a->nls], err) < 0)
			return -1;
		a->nls++;
	}
	if (a->opt->socket) {
		if (listen_unix(a->opt->socket, &a->ls[a->nls], err) < 0)
			return -1;
		a->nls++;
	}
	return 0;
}

/*
 * The descriptors every listener may need at once; the soft limit is
 * raised to the hard one, and a shortfall is said at start rather than
 * found out when accept(2) fails for the Unix socket too.
 */
void
nofile_check(const struct api *a)
{
	struct rlimit rl;
	rlim_t need = 64;

	for (size_t i = 0; i < a->nls; i++)
		need += (rlim_t)(a->opt->max_connections +
		    API_CONN_RESERVE(a->opt->max_connections) +
		    a->opt->threads);
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur < rl.rlim_max && rl.rlim_cur < need) {
		rl.rlim_cur = rl.rlim_max < need ? rl.rlim_max : need;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
		(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)
		api_log(LOG_LVL_WARN,
		    "api.max_connections needs about %llu "
		    "file descriptors, and only %llu are allowed (ulimit -n): "
		    "lower it or raise the limit",
		    (unsigned long long)need, (unsigned long long)rl.rlim_cur);
}
