/*
 * server: loom-log's Unix socket (loom-ipc(7)).
 *
 * The socket is the one systemd passes (loom-log.socket, sd_listen_fds)
 * or one made at logd.socket with mode logd.socket_mode; a path some
 * other process still listens on is refused rather than stolen.  Every
 * peer is checked once, on accept, with SO_PEERCRED: root, loom-log's own
 * user and the users of logd.allow_uids may write; anyone else gets one
 * error line and is closed.  (The socket's mode is the first gate; this
 * is the second, for a mode opened wider or a socket passed in.)
 *
 * A connection is a byte stream cut into lines at '\n'.  A line is at
 * most LD_LINE_MAX bytes: a longer one is answered with an error and
 * skipped up to its newline, and the connection goes on.  Good "log"
 * lines are answered with nothing; an error names the line's number on
 * the connection.  "sync" is answered once every record before it is in
 * the store or the spool (ld_server_synced).  Replies queue per
 * connection and are written when the socket takes them; a peer that
 * lets more than LD_LINE_MAX of them pile up unread is closed.
 * Ownership: struct ld_conn belongs to the server's list until closed.
 */
#include "logd.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "core/xalloc.h"
#include "util/ctl.h"
#include "util/log.h"

#define READ_CHUNK 65536

struct ld_conn {
	struct ld_server *s;
	int fd;
	struct loop_io *io;
	unsigned long uid;
	struct buf in;	 /* bytes of the line(s) being read */
	int discarding;	 /* skipping an oversized line's rest */
	uint64_t lineno; /* lines seen so far */
	struct buf out;	 /* replies not written yet */
	size_t out_off;	 /* ... from here */
	int closing;	 /* close once out is written */
	int nsyncs;	 /* sync requests not answered yet */
	int eof;	 /* the peer sends no more */
	int refused;	 /* not allowed: what it sends is dropped */
	struct ld_conn *prev, *next;
};

struct ld_sync {
	struct ld_conn *c;
	jv id;
	uint64_t seq; /* answered once the records up to seq are written */
	struct ld_sync *next;
};

struct ld_server {
	struct logd *d;
	const struct logd_opts *o;
	int fd;
	int activated; /* passed in by systemd: not ours to unlink */
	struct loop_io *io;
	struct ld_conn *conns;
	size_t nconns;
	struct ld_sync *sync_head, *sync_tail;
	struct ld_conn *dead; /* closed, freed by reap */
	int paused;	      /* the queue is full: read no connection */
	struct loop_defer *reap;
};

static void conn_close(struct ld_conn *c);

static void
conn_flush(struct ld_conn *c)
{
	if (c->fd < 0)
		return;
	while (c->out_off < c->out.len) {
		ssize_t w = write(
		    c->fd, c->out.p + c->out_off, c->out.len - c->out_off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (w <= 0) {
			conn_close(c);
			return;
		}
		c->out_off += (size_t)w;
	}
	if (c->out_off == c->out.len) {
		buf_reset(&c->out);
		c->out_off = 0;
		if (c->closing) {
			conn_close(c);
			return;
		}
	}
	(void)loop_io_set(c->io,
	    (c->closing || c->eof || c->s->paused ? 0 : LOOP_READ) |
		(c->out.len > 0 ? LOOP_WRITE : 0));
}

/* Queues one reply line (reply consumed) and tries to write it. */
static void
conn_reply(struct ld_conn *c, jv reply)
{
	jv s;

	if (c->fd < 0) {
		jv_free(reply);
		return;
	}
	s = jv_dump_string(reply, 0);
	buf_puts(&c->out, jv_string_value(s));
	buf_putc(&c->out, '\n');
	jv_free(s);
	if (c->out.len - c->out_off > LD_LINE_MAX) {
		log_warnx(
		    "peer uid %lu reads none of its replies: closed", c->uid);
		conn_close(c);
		return;
	}
	conn_flush(c);
}

static void
reply_error(struct ld_conn *c, const char *msg)
{
	conn_reply(c,
	    JV_OBJECT(jv_string("v"), jv_number(1), jv_string("t"),
		jv_string("error"), jv_string("line"), jv_number(c->lineno),
		jv_string("error"), jv_string(msg)));
}

static void
sync_push(struct ld_server *s, struct ld_conn *c, jv id)
{
	struct ld_sync *y = xcalloc(1, sizeof(*y));

	y->c = c;
	c->nsyncs++;
	y->id = id;
	y->seq = logd_seq(s->d);
	if (s->sync_tail)
		s->sync_tail->next = y;
	else
		s->sync_head = y;
	s->sync_tail = y;
	/* Everything before it may be written already; what is not is
	 * written now rather than after logd.flush_delay. */
	ld_server_synced(s, logd_done(s->d));
	logd_flush_soon(s->d);
}

void
ld_server_synced(struct ld_server *s, uint64_t done)
{
	while (s->sync_head != NULL && s->sync_head->seq <= done) {
		struct ld_sync *y = s->sync_head;

		s->sync_head = y->next;
		if (s->sync_head == NULL)
			s->sync_tail = NULL;
		if (y->c != NULL) {
			struct ld_conn *c = y->c;

			if (--c->nsyncs == 0 && c->eof)
				c->closing = 1; /* its last answer */
			conn_reply(c,
			    JV_OBJECT(jv_string("v"), jv_number(1),
				jv_string("t"), jv_string("synced"),
				jv_string("id"), y->id));
		} else
			jv_free(y->id);
		free(y);
	}
}

/* One line: a record for the queue, or an answer. */
static void
conn_line(struct ld_conn *c, const char *p, size_t n)
{
	struct ld_msg m;

	c->lineno++;
	if (n > 0 && p[n - 1] == '\r')
		n--;
	if (n == 0)
		return; /* blank lines are allowed between messages */
	ld_parse(p, n, loop_now_ms(logd_loop(c->s->d)), &m);
	switch (m.kind) {
	case LD_LOG:
		logd_record(c->s->d, &m.rec);
		memset(&m.rec, 0, sizeof(m.rec));
		break;
	case LD_SYNC:
		sync_push(c->s, c, jv_copy(m.id));
		break;
	case LD_PING:
		conn_reply(c,
		    JV_OBJECT(jv_string("v"), jv_number(1), jv_string("t"),
			jv_string("pong"), jv_string("id"), jv_copy(m.id)));
		break;
	case LD_STATUS:
		conn_reply(c, logd_status(c->s->d));
		break;
	case LD_RELOAD:
		/* What SIGHUP does, from the loop; only for our own kind. */
		if (c->uid != 0 && c->uid != (unsigned long)geteuid()) {
			reply_error(c,
			    "permission denied: reload is for root "
			    "and loom-log's user");
			break;
		}
		log_info("reload asked on the socket");
		(void)kill(getpid(), SIGHUP);
		conn_reply(c,
		    JV_OBJECT(jv_string("v"), jv_number(1), jv_string("t"),
			jv_string("reloading"), jv_string("id"),
			jv_copy(m.id)));
		break;
	case LD_ERROR:
		reply_error(c, m.err);
		break;
	}
	ld_msg_clear(&m);
}

/* Cuts c->in into lines; keeps the unfinished rest. */
static void
conn_lines(struct ld_conn *c)
{
	size_t start = 0;
	char *nl;

	while (c->fd >= 0 &&
	    (nl = memchr(c->in.p + start, '\n', c->in.len - start)) != NULL) {
		size_t n = (size_t)(nl - (c->in.p + start));

		if (c->discarding)
			c->discarding = 0;
		else if (n > LD_LINE_MAX) {
			c->lineno++;
			reply_error(c, "line longer than 1048576 bytes");
		} else
			conn_line(c, c->in.p + start, n);
		start += n + 1;
	}
	if (c->fd < 0)
		return;
	memmove(c->in.p, c->in.p + start, c->in.len - start);
	c->in.len -= start;
	if (c->in.len > LD_LINE_MAX) { /* no newline within the cap */
		if (!c->discarding) {
			c->lineno++;
			reply_error(c, "line longer than 1048576 bytes");
		}
		c->discarding = 1;
		c->in.len = 0;
	}
}

static void
on_conn(struct loop_io *io, int fd, unsigned events, void *arg)
{
	struct ld_conn *c = arg;
	ssize_t r;

	if (events & LOOP_WRITE) {
		conn_flush(c);
		if (c->fd < 0)
			return;
	}
	if (!(events & (LOOP_READ | LOOP_ERROR)) || c->closing || c->eof)
		return;
	if (c->refused) { /* drained until it hangs up, then closed */
		char junk[4096];

		r = read(fd, junk, sizeof(junk));
		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
			conn_close(c);
		return;
	}
	if (c->in.cap < c->in.len + READ_CHUNK + 1) {
		c->in.cap = c->in.len + READ_CHUNK + 1;
		c->in.p = xreallocarray(c->in.p, c->in.cap, 1);
	}
	r = read(fd, c->in.p + c->in.len, READ_CHUNK);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r <= 0) {
		if (c->in.len > 0 && !c->discarding) /* a last line, unended */
			conn_line(c, c->in.p, c->in.len);
		c->in.len = 0;
		/* The peer may have only shut down its side: it gets the
		 * answers to its syncs before we close. */
		c->eof = 1;
		if (c->nsyncs == 0)
			c->closing = 1;
		else
			(void)loop_io_set(c->io, c->out.len ? LOOP_WRITE : 0);
		if (c->closing)
			conn_flush(c);
		return;
	}
	c->in.len += (size_t)r;
	c->in.p[c->in.len] = '\0';
	conn_lines(c);
}

static void
conn_close(struct ld_conn *c)
{
	struct ld_server *s = c->s;

	if (c->fd < 0)
		return;
	for (struct ld_sync *y = s->sync_head; y; y = y->next)
		if (y->c == c)
			y->c = NULL;
	loop_io_del(c->io);
	close(c->fd);
	c->fd = -1;
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->nconns--;
	buf_free(&c->in);
	buf_free(&c->out);
	/* The callers up the stack may still look at c (c->fd < 0 says it
	 * is closed): it is freed at the next loop turn. */
	c->next = s->dead;
	s->dead = c;
	(void)loop_defer_arm(s->reap);
}

static void
on_reap(struct loop_defer *df, void *arg)
{
	struct ld_server *s = arg;

	while (s->dead != NULL) {
		struct ld_conn *c = s->dead;

		s->dead = c->next;
		free(c);
	}
}

/* root, our own user, or one of logd.allow_uids */
static int
peer_allowed(const struct ld_server *s, unsigned long uid)
{
	const char *p = s->o->allow_uids;

	if (uid == 0 || uid == (unsigned long)geteuid())
		return 1;
	while (p != NULL && *p) {
		char *end;
		unsigned long u = strtoul(p, &end, 10);

		if (end != p && u == uid)
			return 1;
		p = end + strspn(end, ", ");
		if (end == p && *p && strchr(", ", *p) == NULL)
			break;
	}
	return 0;
}

static void
on_accept(struct loop_io *io, int lfd, unsigned events, void *arg)
{
	struct ld_server *s = arg;
	struct ucred cr;
	socklen_t crlen = sizeof(cr);
	struct ld_conn *c;
	int fd;

	if ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) < 0) {
		if (errno != EAGAIN && errno != EINTR)
			log_warn("accept");
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->s = s;
	c->fd = fd;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) < 0) {
		log_warn("SO_PEERCRED");
		close(fd);
		free(c);
		return;
	}
	c->uid = (unsigned long)cr.uid;
	if ((c->io = loop_io_add(logd_loop(s->d), fd, s->paused ? 0 : LOOP_READ,
		 on_conn, c)) == NULL) {
		log_warn("event loop");
		close(fd);
		free(c);
		return;
	}
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->nconns++;
	if (!peer_allowed(s, c->uid)) {
		char msg[120];

		log_warnx(
		    "refused a peer: uid %lu, pid %ld", c->uid, (long)cr.pid);
		snprintf(msg, sizeof(msg),
		    "permission denied: uid %lu may not write here "
		    "(logd.allow_uids)",
		    c->uid);
		/* The error line, then our side is shut; closed once the
		 * peer hangs up, so that it reads the line rather than a
		 * broken pipe. */
		c->refused = 1;
		reply_error(c, msg);
		if (c->fd >= 0)
			(void)shutdown(c->fd, SHUT_WR);
		return;
	}
	log_debug("peer uid %lu, pid %ld", c->uid, (long)cr.pid);
}

static int
listen_path(const struct logd_opts *o, char **err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	mode_t old;
	int fd;

	if (ctl_claim_path(o->socket, "loom-log", err) < 0)
		return -1;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", o->socket);
	if ((fd = socket(
		 AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0) {
		*err = xasprintf("socket: %s", strerror(errno));
		return -1;
	}
	old = umask(0777 & ~o->socket_mode);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(o->socket, o->socket_mode) < 0 || listen(fd, 128) < 0) {
		*err = xasprintf("%s: %s", o->socket, strerror(errno));
		umask(old);
		close(fd);
		return -1;
	}
	umask(old);
	return fd;
}

struct ld_server *
ld_server_new(struct logd *d, const struct logd_opts *o, char **err)
{
	struct ld_server *s = xcalloc(1, sizeof(*s));
	int n = sd_listen_fds(1);

	s->d = d;
	s->o = o;
	s->reap = loop_defer_new(logd_loop(d), on_reap, s);
	if (n > 0) {
		s->fd = SD_LISTEN_FDS_START;
		s->activated = 1;
		if (sd_is_socket_unix(s->fd, SOCK_STREAM, 1, NULL, 0) <= 0) {
			*err = xasprintf("the socket passed in is not a "
					 "listening Unix stream socket");
			loop_defer_del(s->reap);
			free(s);
			return NULL;
		}
		(void)sd_listen_fds(1); /* unsets LISTEN_FDS */
	} else if ((s->fd = listen_path(o, err)) < 0) {
		loop_defer_del(s->reap);
		free(s);
		return NULL;
	}
	if ((s->io = loop_io_add(
		 logd_loop(d), s->fd, LOOP_READ, on_accept, s)) == NULL) {
		*err = xasprintf("event loop: %s", strerror(errno));
		if (!s->activated)
			close(s->fd);
		loop_defer_del(s->reap);
		free(s);
		return NULL;
	}
	return s;
}

void
ld_server_free(struct ld_server *s)
{
	if (s == NULL)
		return;
	while (s->conns != NULL)
		conn_close(s->conns);
	ld_server_synced(s, UINT64_MAX);
	on_reap(NULL, s);
	loop_defer_del(s->reap);
	loop_io_del(s->io);
	if (!s->activated) {
		close(s->fd);
		(void)unlink(s->o->socket);
	}
	free(s);
}

void
ld_server_pause(struct ld_server *s, int on)
{
	if (s->paused == on)
		return;
	s->paused = on;
	for (struct ld_conn *c = s->conns; c != NULL; c = c->next)
		if (!c->closing && !c->eof)
			(void)loop_io_set(c->io,
			    (on ? 0 : LOOP_READ) |
				(c->out.len > 0 ? LOOP_WRITE : 0));
}

size_t
ld_server_conns(const struct ld_server *s)
{
	return s ? s->nconns : 0;
}
