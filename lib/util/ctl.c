/*
 * ctl: the control socket of a daemon (see ctl.h).
 *
 * Connections are few and short (loom status, loom-api's /metrics):
 * each one reads lines of at most CTL_LINE_MAX bytes and queues one
 * reply line per request; a longer line is answered with an error and
 * the connection is closed.  Ownership: the ctl owns its connections;
 * a closed one is unlinked at once and freed from a deferred call, so a
 * callback never sees it freed under it.
 */
#include "util/ctl.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/xalloc.h"
#include "util/jsonutil.h"
#include "util/log.h"

#define CTL_LINE_MAX 65536

struct ctl_conn {
	struct ctl *c;
	int fd;
	struct loop_io *io;
	struct buf in, out;
	size_t out_off;
	uint64_t lineno;
	int closing; /* close once out is written */
	struct ctl_conn *next;
};

struct ctl {
	struct loop *loop;
	char *path;
	char *daemon;
	ctl_status_cb *cb;
	void *arg;
	int fd;
	struct loop_io *io;
	int64_t started_ms;
	struct ctl_conn *conns;
	struct ctl_conn *dead;
	struct loop_defer *reap;
};

const char *
ctl_dir(const struct config *cfg)
{
	return config_get(cfg, "control.dir", CTL_DEFAULT_DIR);
}

char *
ctl_path(const struct config *cfg, const char *key, const char *name,
    const char *opt)
{
	const char *v;

	if (opt != NULL)
		return *opt ? xstrdup(opt) : NULL;
	if ((v = config_get(cfg, key, NULL)) != NULL)
		return *v ? xstrdup(v) : NULL;
	return xasprintf("%s/%s.sock", ctl_dir(cfg), name);
}

jv
ctl_status_common(const char *daemon, int64_t started_ms)
{
	char host[HOST_NAME_MAX + 1] = "", iso[40];
	struct timespec ts;
	int64_t now;

	clock_gettime(CLOCK_REALTIME, &ts);
	now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	(void)gethostname(host, sizeof(host) - 1);
	iso_time_ms(started_ms, iso, sizeof(iso));
	return JV_OBJECT(jv_string("v"), jv_number(1), jv_string("t"),
	    jv_string("status"), jv_string("daemon"), jv_string(daemon),
	    jv_string("version"), jv_string(LOOM_VERSION), jv_string("pid"),
	    jv_number(getpid()), jv_string("host"), jv_string(host),
	    jv_string("started"), jv_string(iso), jv_string("uptime_s"),
	    jv_number((double)((now - started_ms) / 1000)));
}

int
ctl_claim_path(const char *path, const char *daemon, char **err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, rc;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		*err = xasprintf("%s: path too long for a Unix socket", path);
		return -1;
	}
	if (lstat(path, &st) < 0)
		return 0;
	if (!S_ISSOCK(st.st_mode)) {
		*err = xasprintf("%s: exists and is not a socket", path);
		return -1;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		*err = xasprintf("socket: %s", strerror(errno));
		return -1;
	}
	rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	if (rc == 0) {
		*err = xasprintf("%s: another %s listens there", path, daemon);
		return -1;
	}
	(void)unlink(path);
	return 0;
}

static void
conn_close(struct ctl_conn *k)
{
	struct ctl *c = k->c;

	for (struct ctl_conn **pp = &c->conns; *pp; pp = &(*pp)->next)
		if (*pp == k) {
			*pp = k->next;
			break;
		}
	loop_io_del(k->io);
	close(k->fd);
	k->fd = -1;
	buf_free(&k->in);
	buf_free(&k->out);
	k->next = c->dead;
	c->dead = k;
	(void)loop_defer_arm(c->reap);
}

static void
conn_flush(struct ctl_conn *k)
{
	while (k->out_off < k->out.len) {
		ssize_t w = write(
		    k->fd, k->out.p + k->out_off, k->out.len - k->out_off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			break;
		if (w <= 0) {
			conn_close(k);
			return;
		}
		k->out_off += (size_t)w;
	}
	if (k->out_off == k->out.len) {
		buf_reset(&k->out);
		k->out_off = 0;
		if (k->closing) {
			conn_close(k);
			return;
		}
	}
	(void)loop_io_set(k->io,
	    (k->closing ? 0 : LOOP_READ) | (k->out.len ? LOOP_WRITE : 0));
}

static void
conn_reply(struct ctl_conn *k, jv reply)
{
	jv s = jv_dump_string(reply, 0);

	buf_puts(&k->out, jv_string_value(s));
	buf_putc(&k->out, '\n');
	jv_free(s);
}

static void
reply_error(struct ctl_conn *k, const char *msg)
{
	conn_reply(k,
	    JV_OBJECT(jv_string("v"), jv_number(1), jv_string("t"),
		jv_string("error"), jv_string("line"),
		jv_number((double)k->lineno), jv_string("error"),
		jv_string(msg)));
}

static jv
status_reply(struct ctl *c)
{
	jv st = ctl_status_common(c->daemon, c->started_ms);
	jv mine = c->cb ? c->cb(c->arg) : jv_object();

	if (jv_get_kind(mine) == JV_KIND_OBJECT)
		st = jv_object_merge(st, mine);
	else
		jv_free(mine);
	return st;
}

/* One request line (no newline). */
static void
conn_line(struct ctl_conn *k, const char *line, size_t len)
{
	jv o = jv_parse_sized(line, (int)len), v, t, id;

	k->lineno++;
	if (jv_get_kind(o) != JV_KIND_OBJECT) {
		jv_free(o);
		reply_error(k, "not a JSON object");
		return;
	}
	v = jv_object_get(jv_copy(o), jv_string("v"));
	t = jv_object_get(jv_copy(o), jv_string("t"));
	id = jv_object_get(o, jv_string("id"));
	if (jv_get_kind(id) == JV_KIND_INVALID) {
		jv_free(id);
		id = jv_null();
	}
	if (jv_get_kind(v) != JV_KIND_NUMBER || jv_number_value(v) != 1)
		reply_error(k, "\"v\" must be 1");
	else if (jv_get_kind(t) != JV_KIND_STRING)
		reply_error(k, "\"t\" must be a string (status, reload, ping)");
	else if (strcmp(jv_string_value(t), "status") == 0)
		conn_reply(k, status_reply(k->c));
	else if (strcmp(jv_string_value(t), "reload") == 0) {
		/* The daemon's SIGHUP watch does the work, from the loop. */
		log_info("reload asked on the control socket");
		(void)kill(getpid(), SIGHUP);
		conn_reply(k,
		    JV_OBJECT(jv_string("v"), jv_number(1), jv_string("t"),
			jv_string("reloading"), jv_string("id"), jv_copy(id)));
	} else if (strcmp(jv_string_value(t), "ping") == 0)
		conn_reply(k,
		    JV_OBJECT(jv_string("v"), jv_number(1), jv_string("t"),
			jv_string("pong"), jv_string("id"), jv_copy(id)));
	else {
		char msg[120];

		snprintf(msg, sizeof(msg), "unknown type \"%.60s\"",
		    jv_string_value(t));
		reply_error(k, msg);
	}
	jv_free(v);
	jv_free(t);
	jv_free(id);
}

static void
conn_read(struct ctl_conn *k)
{
	char chunk[4096];
	ssize_t n;
	size_t start = 0;

	if ((n = read(k->fd, chunk, sizeof(chunk))) < 0) {
		if (errno != EAGAIN && errno != EINTR)
			conn_close(k);
		return;
	}
	if (n == 0) {
		k->closing = 1;
		return;
	}
	buf_put(&k->in, chunk, (size_t)n);
	for (size_t i = 0; i < k->in.len; i++) {
		if (k->in.p[i] != '\n')
			continue;
		size_t len = i - start;

		if (len > 0 && k->in.p[start + len - 1] == '\r')
			len--;
		if (len > 0)
			conn_line(k, k->in.p + start, len);
		start = i + 1;
	}
	if (start > 0) {
		memmove(k->in.p, k->in.p + start, k->in.len - start);
		k->in.len -= start;
	}
	if (k->in.len > CTL_LINE_MAX) {
		k->lineno++;
		reply_error(k, "line too long");
		k->closing = 1;
	}
}

static void
on_conn(struct loop_io *io, int fd, unsigned events, void *arg)
{
	struct ctl_conn *k = arg;

	if (events & LOOP_READ) {
		conn_read(k);
		if (k->fd < 0)
			return;
	}
	conn_flush(k);
}

static void
on_reap(struct loop_defer *df, void *arg)
{
	struct ctl *c = arg;

	while (c->dead != NULL) {
		struct ctl_conn *k = c->dead;

		c->dead = k->next;
		free(k);
	}
}

static void
on_accept(struct loop_io *io, int lfd, unsigned events, void *arg)
{
	struct ctl *c = arg;
	struct ucred cr;
	socklen_t crlen = sizeof(cr);
	struct ctl_conn *k;
	int fd;

	if ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) < 0)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) < 0 ||
	    (cr.uid != 0 && cr.uid != geteuid() && cr.gid != getegid())) {
		static const char deny[] =
		    "{\"v\":1,\"t\":\"error\",\"line\":0,"
		    "\"error\":\"permission denied\"}\n";

		log_warnx("control socket: refused uid %lu, pid %ld",
		    (unsigned long)cr.uid, (long)cr.pid);
		(void)!write(fd, deny, sizeof(deny) - 1);
		close(fd);
		return;
	}
	k = xcalloc(1, sizeof(*k));
	k->c = c;
	k->fd = fd;
	if ((k->io = loop_io_add(c->loop, fd, LOOP_READ, on_conn, k)) == NULL) {
		close(fd);
		free(k);
		return;
	}
	k->next = c->conns;
	c->conns = k;
}

static int
listen_on(const char *path, char **err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	mode_t old;
	int fd;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if ((fd = socket(
		 AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0) {
		*err = xasprintf("socket: %s", strerror(errno));
		return -1;
	}
	old = umask(0117);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(path, 0660) < 0 || listen(fd, 16) < 0) {
		*err = xasprintf("%s: %s", path, strerror(errno));
		umask(old);
		close(fd);
		return -1;
	}
	umask(old);
	return fd;
}

struct ctl *
ctl_new(struct loop *loop, const char *path, const char *daemon,
    ctl_status_cb *cb, void *arg, char **err)
{
	struct ctl *c;
	char *dir, *slash;
	int fd;

	/* The directory, when missing (/run/loom after a reboot). */
	dir = xstrdup(path);
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			log_warn("mkdir %s", dir);
	}
	free(dir);
	if (ctl_claim_path(path, daemon, err) < 0)
		return NULL;
	c = xcalloc(1, sizeof(*c));
	if ((fd = listen_on(path, err)) < 0) {
		/* A directory we may not write: loud, but no reason to stay
		 * down; loom status says the socket is missing. */
		log_warnx("control socket %s; going on without one", *err);
		free(*err);
		*err = NULL;
		c->fd = -1;
		c->path = xstrdup(path);
		return c;
	}
	c->loop = loop;
	c->path = xstrdup(path);
	c->daemon = xstrdup(daemon);
	c->cb = cb;
	c->arg = arg;
	c->fd = fd;
	c->started_ms = loop_now_ms(loop);
	c->reap = loop_defer_new(loop, on_reap, c);
	if (c->reap == NULL ||
	    (c->io = loop_io_add(loop, fd, LOOP_READ, on_accept, c)) == NULL) {
		*err = xasprintf("event loop: %s", strerror(errno));
		ctl_free(c);
		return NULL;
	}
	return c;
}

void
ctl_free(struct ctl *c)
{
	if (c == NULL)
		return;
	while (c->conns != NULL)
		conn_close(c->conns);
	on_reap(NULL, c);
	loop_defer_del(c->reap);
	loop_io_del(c->io);
	if (c->fd >= 0) {
		close(c->fd);
		(void)unlink(c->path);
	}
	free(c->path);
	free(c->daemon);
	free(c);
}

int
ctl_unix_connect(const char *path, int flags)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | flags, 0)) < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* Connects to path with a deadline; returns the fd or -1 (errno). */
static int
ask_connect(const char *path, int timeout_ms)
{
	struct timeval tv = { .tv_sec = timeout_ms / 1000,
		.tv_usec = (timeout_ms % 1000) * 1000 };
	int fd;

	if ((fd = ctl_unix_connect(path, 0)) < 0)
		return -1;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
}

jv
ctl_ask(const char *path, const char *type, int timeout_ms)
{
	struct buf b = { 0 };
	char line[64], chunk[8192];
	jv reply;
	int fd, n;

	if ((fd = ask_connect(path, timeout_ms)) < 0)
		return jv_invalid_with_msg(
		    jv_string_fmt("%s", strerror(errno)));
	n = snprintf(line, sizeof(line), "{\"v\":1,\"t\":\"%s\"}\n", type);
	if (write(fd, line, (size_t)n) != n) {
		close(fd);
		return jv_invalid_with_msg(jv_string("cannot send"));
	}
	for (;;) {
		ssize_t r = read(fd, chunk, sizeof(chunk));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		buf_put(&b, chunk, (size_t)r);
		if (memchr(chunk, '\n', (size_t)r) != NULL ||
		    b.len > 16 * 1024 * 1024)
			break;
	}
	close(fd);
	if (b.len == 0 || memchr(b.p, '\n', b.len) == NULL) {
		buf_free(&b);
		return jv_invalid_with_msg(jv_string("no answer"));
	}
	reply =
	    jv_parse_sized(b.p, (int)((char *)memchr(b.p, '\n', b.len) - b.p));
	buf_free(&b);
	if (jv_get_kind(reply) != JV_KIND_OBJECT) {
		jv_free(reply);
		return jv_invalid_with_msg(jv_string("not a JSON object"));
	}
	return reply;
}

/* Appends every loom-*.sock of dir to out; with sub, also those of its
 * exec-* directories (the executors' runtime directories, one level
 * down: loom-exec@.service). */
static jv
add_sockets(jv out, const char *dir, int sub)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	while (d != NULL && (e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);
		char *p;

		if (sub && strncmp(e->d_name, "exec-", 5) == 0 &&
		    (e->d_type == DT_DIR || e->d_type == DT_UNKNOWN)) {
			p = xasprintf("%s/%s", dir, e->d_name);
			out = add_sockets(out, p, 0);
			free(p);
			continue;
		}
		if (n < 11 || strncmp(e->d_name, "loom-", 5) != 0 ||
		    strcmp(e->d_name + n - 5, ".sock") != 0)
			continue;
		out = jv_array_append(
		    out, jv_string_fmt("%s/%s", dir, e->d_name));
	}
	if (d != NULL)
		closedir(d);
	return out;
}

jv
ctl_sockets(const char *dir, const char *logd_socket)
{
	jv out = add_sockets(jv_array(), dir, 1);
	char *extra[2];

	/* loom-log answers on its own socket: logd.socket, or log.sock
	 * beside the others (loom up) */
	extra[0] = xstrdup(logd_socket ? logd_socket : "");
	extra[1] = xasprintf("%s/log.sock", dir);
	for (int i = 0; i < 2; i++) {
		if (*extra[i] && access(extra[i], F_OK) == 0 &&
		    (i == 0 || strcmp(extra[0], extra[1]) != 0))
			out = jv_array_append(out, jv_string(extra[i]));
	}
	free(extra[0]);
	free(extra[1]);
	return jv_sort(out, jv_copy(out));
}

char *
ctl_socket_name(const char *path)
{
	const char *b = strrchr(path, '/');
	size_t n;

	b = b ? b + 1 : path;
	if (strncmp(b, "loom-", 5) != 0)
		return xstrdup("loom-log");
	n = strlen(b);
	return xstrndup(b, n > 5 && !strcmp(b + n - 5, ".sock") ? n - 5 : n);
}
