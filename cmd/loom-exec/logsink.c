/*
 * logsink: see logsink.h.  Lines not confirmed yet wait in a queue of jv
 * records (pend), their bytes in the output buffer until the socket took
 * them.  Line number k (1-based, counted since start) is confirmed once a
 * "synced" answer with id >= k came; a sync's id is the count of lines
 * taken when it was sent.
 */
#include "logsink.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/xalloc.h"
#include "util/ctl.h"
#include "util/jsonutil.h"
#include "util/log.h"

#define LINE_MAX_BYTES (1024 * 1024)

struct logsink {
	struct loop *loop;
	char *path;
	void (*fallback)(void *, jv);
	void (*synced)(void *);
	void *arg;
	int fd;
	struct loop_io *io;
	struct loop_timer *retry_t, *stall_t;
	struct loop_defer *sync_d; /* a sync after each turn's lines */
	struct loop_timer *lazy_t; /* ... or a little later */
	struct buf out, in;
	size_t out_off;
	jv *pend; /* pend[phead .. phead + pn): lines acked + 1 ... */
	size_t phead, pn, pcap, pbytes;
	uint64_t mark, acked, sync_sent;
	int said_down; /* the loud warning was given for this outage */
	int wanted;    /* something came for loom-log since the last try */
	int ino_fd;    /* inotify, for the socket's directory while away */
	int ino_wd;    /* its watch; -1: none */
	struct loop_io *ino_io;
};

static void
pend_push(struct logsink *s, jv line, size_t bytes)
{
	if (s->phead + s->pn == s->pcap) {
		if (s->phead > 0) {
			memmove(s->pend, s->pend + s->phead,
			    s->pn * sizeof(*s->pend));
			s->phead = 0;
		}
		if (s->pn == s->pcap) {
			s->pcap = s->pcap ? s->pcap * 2 : 256;
			s->pend =
			    xreallocarray(s->pend, s->pcap, sizeof(*s->pend));
		}
	}
	s->pend[s->phead + s->pn++] = line;
	s->pbytes += bytes;
}

/* Gives every line not confirmed to the fallback, in order. */
static void
give_back(struct logsink *s)
{
	for (size_t i = 0; i < s->pn; i++)
		s->fallback(s->arg, s->pend[s->phead + i]);
	s->phead = s->pn = s->pbytes = 0;
	s->acked = s->sync_sent = s->mark;
	if (s->synced)
		s->synced(s->arg);
}

static void
disconnect(struct logsink *s, const char *why)
{
	if (s->fd >= 0) {
		log_warnx("loom-log at %s: %s; task output goes to the "
			  "database directly (%zu line%s not confirmed "
			  "written there again)",
		    s->path, why, s->pn, s->pn == 1 ? " is" : "s are");
		s->said_down = 1;
		loop_io_del(s->io);
		s->io = NULL;
		close(s->fd);
		s->fd = -1;
	}
	buf_reset(&s->out);
	buf_reset(&s->in);
	s->out_off = 0;
	loop_timer_stop(s->stall_t);
	give_back(s);
	if (s->retry_t && !loop_timer_armed(s->retry_t))
		(void)loop_timer_after(s->retry_t, LOGSINK_RETRY_MS);
}

static void
flush_out(struct logsink *s)
{
	while (s->fd >= 0 && s->out_off < s->out.len) {
		ssize_t w = send(s->fd, s->out.p + s->out_off,
		    s->out.len - s->out_off, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (w <= 0) {
			disconnect(s, strerror(errno));
			return;
		}
		s->out_off += (size_t)w;
	}
	if (s->fd < 0)
		return;
	if (s->out_off == s->out.len) {
		buf_reset(&s->out);
		s->out_off = 0;
	}
	(void)loop_io_set(s->io, LOOP_READ | (s->out.len ? LOOP_WRITE : 0));
}

static void
on_answer(struct logsink *s, const char *p, size_t n)
{
	jv o = jv_parse_sized(p, (int)n);
	/* jv_object_get() asserts an object: any other answer is only logged */
	int obj = jv_get_kind(o) == JV_KIND_OBJECT;
	jv t = obj ? jv_object_get(jv_copy(o), jv_string("t")) : jv_null();
	jv id = obj ? jv_object_get(jv_copy(o), jv_string("id")) : jv_null();

	if (jv_get_kind(t) == JV_KIND_STRING &&
	    strcmp(jv_string_value(t), "synced") == 0 &&
	    jv_get_kind(id) == JV_KIND_NUMBER) {
		uint64_t k = (uint64_t)jv_number_value(id);

		while (s->acked < k && s->pn > 0) {
			jv_free(s->pend[s->phead++]);
			s->pn--;
			s->acked++;
		}
		if (s->pn == 0) {
			s->phead = 0;
			s->pbytes = 0;
		}
		if (s->acked >= s->sync_sent)
			loop_timer_stop(s->stall_t);
		else
			(void)loop_timer_after(s->stall_t, LOGSINK_STALL_MS);
		if (s->synced)
			s->synced(s->arg);
	} else
		log_warnx("loom-log at %s answered: %.*s", s->path,
		    (int)(n > 300 ? 300 : n), p);
	jv_free(o);
	jv_free(t);
	jv_free(id);
}

static void
on_io(struct loop_io *io, int fd, unsigned events, void *arg)
{
	struct logsink *s = arg;
	char chunk[8192];
	ssize_t r;
	char *nl;

	if (events & LOOP_WRITE)
		flush_out(s);
	if (s->fd < 0 || !(events & (LOOP_READ | LOOP_ERROR)))
		return;
	r = read(s->fd, chunk, sizeof(chunk));
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r <= 0) {
		disconnect(
		    s, r == 0 ? "closed the connection" : strerror(errno));
		return;
	}
	buf_put(&s->in, chunk, (size_t)r);
	while (s->fd >= 0 && (nl = memchr(s->in.p, '\n', s->in.len)) != NULL) {
		size_t n = (size_t)(nl - s->in.p);

		on_answer(s, s->in.p, n);
		memmove(s->in.p, nl + 1, s->in.len - n - 1);
		s->in.len -= n + 1;
	}
	if (s->in.len > LINE_MAX_BYTES)
		disconnect(s, "answered a line too long");
}

/*
 * While loom-log is away, the directory of its socket is watched
 * (inotify), so that loom-exec tries it as soon as the socket is made
 * there, without waking up now and then to look.  A socket made but
 * not listening yet gets one more try LOGSINK_RETRY_MS later.
 */
static void
on_dir(struct loop_io *io, int fd, unsigned events, void *arg)
{
	struct logsink *s = arg;
	char buf[4096]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	const char *base = strrchr(s->path, '/');
	const struct inotify_event *ev;
	ssize_t n;
	int seen = 0;

	base = base ? base + 1 : s->path;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (char *p = buf; p < buf + n; p += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)(void *)p;
			if (ev->len > 0 && strcmp(ev->name, base) == 0)
				seen = 1;
		}
	if (seen && s->fd < 0) {
		s->wanted = 1;
		(void)loop_timer_after(s->retry_t, LOGSINK_APPEAR_MS);
	}
}

static void
watch_dir(struct logsink *s, int on)
{
	struct stat st;
	char *dir, *slash;

	if (s->ino_fd < 0 || on == (s->ino_wd >= 0))
		return;
	if (!on) {
		(void)inotify_rm_watch(s->ino_fd, s->ino_wd);
		s->ino_wd = -1;
		return;
	}
	dir = xstrdup(s->path);
	if ((slash = strrchr(dir, '/')) == NULL)
		strcpy(dir, ".");
	else
		slash[slash == dir] = '\0';
	s->ino_wd = inotify_add_watch(
	    s->ino_fd, dir, IN_CREATE | IN_MOVED_TO | IN_ONLYDIR);
	free(dir);
	/* made before the watch: try it once more */
	if (s->ino_wd >= 0 && stat(s->path, &st) == 0 && S_ISSOCK(st.st_mode) &&
	    !loop_timer_armed(s->retry_t))
		(void)loop_timer_after(s->retry_t, LOGSINK_APPEAR_MS);
}

static void
try_connect(struct logsink *s)
{
	int fd = ctl_unix_connect(s->path, SOCK_NONBLOCK);

	if (fd >= 0 &&
	    (s->io = loop_io_add(s->loop, fd, LOOP_READ, on_io, s)) != NULL) {
		s->fd = fd;
		watch_dir(s, 0);
		log_info("loom-log at %s: connected; task output goes there",
		    s->path);
		s->said_down = 0;
		return;
	}
	if (!s->said_down)
		log_warnx("loom-log at %s: %s; task output goes to the "
			  "database directly until it is there",
		    s->path, strerror(errno));
	s->said_down = 1;
	if (fd >= 0)
		close(fd);
	/* Nothing came for it since the last try: no idle wake-ups, the
	 * next line or the socket's coming looks again. */
	if (!s->wanted) {
		watch_dir(s, 1);
		return;
	}
	s->wanted = 0;
	(void)loop_timer_after(s->retry_t, LOGSINK_RETRY_MS);
}

static void
on_retry(struct loop_timer *t, void *arg)
{
	struct logsink *s = arg;

	if (s->fd < 0)
		try_connect(s);
}

static void
on_stall(struct loop_timer *t, void *arg)
{
	struct logsink *s = arg;

	if (s->acked < s->sync_sent)
		disconnect(s, "no answer for 10s");
}

/*
 * The lines of a loop turn are followed by a sync, so that loom-log
 * confirms them as soon as they are written: a line confirmed is not
 * written again if loom-log goes away later.
 */
static void
on_sync_defer(struct loop_defer *d, void *arg)
{
	logsink_sync(arg);
}

static void
on_lazy(struct loop_timer *t, void *arg)
{
	logsink_sync(arg);
}

struct logsink *
logsink_new(struct loop *loop, const char *path, void (*fallback)(void *, jv),
    void (*synced)(void *), void *arg)
{
	struct logsink *s;

	if (path == NULL || *path == '\0')
		return NULL;
	s = xcalloc(1, sizeof(*s));
	s->loop = loop;
	s->path = xstrdup(path);
	s->fallback = fallback;
	s->synced = synced;
	s->arg = arg;
	s->fd = -1;
	s->ino_wd = -1;
	s->ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (s->ino_fd >= 0 &&
	    (s->ino_io = loop_io_add(loop, s->ino_fd, LOOP_READ, on_dir, s)) ==
		NULL) {
		close(s->ino_fd);
		s->ino_fd = -1;
	}
	s->retry_t = loop_timer_new(loop, on_retry, s);
	s->stall_t = loop_timer_new(loop, on_stall, s);
	s->sync_d = loop_defer_new(loop, on_sync_defer, s);
	s->lazy_t = loop_timer_new(loop, on_lazy, s);
	if (s->retry_t == NULL || s->stall_t == NULL || s->sync_d == NULL ||
	    s->lazy_t == NULL) {
		logsink_free(s);
		return NULL;
	}
	try_connect(s);
	return s;
}

void
logsink_free(struct logsink *s)
{
	if (s == NULL)
		return;
	if (s->fd >= 0) {
		flush_out(s);
		loop_io_del(s->io);
		close(s->fd);
		s->fd = -1;
	}
	s->synced = NULL;
	give_back(s);
	if (s->ino_fd >= 0) {
		loop_io_del(s->ino_io);
		close(s->ino_fd);
	}
	loop_timer_del(s->retry_t);
	loop_timer_del(s->stall_t);
	loop_defer_del(s->sync_d);
	loop_timer_del(s->lazy_t);
	buf_free(&s->out);
	buf_free(&s->in);
	free(s->pend);
	free(s->path);
	free(s);
}

static const char *
str_or(jv line, const char *key, const char *def, jv *keep)
{
	*keep = jv_object_get(jv_copy(line), jv_string(key));
	return jv_get_kind(*keep) == JV_KIND_STRING ? jv_string_value(*keep) :
						      def;
}

/* The envelope of a runner line (consumed), with its level and time. */
static jv
envelope(struct logsink *s, jv line)
{
	jv st, lv, ts;
	const char *stream = str_or(line, "stream", "stdout", &st);
	const char *level = str_or(line, "level",
	    strcmp(stream, "stderr") == 0 ? "warn" : "info", &lv);
	char iso[32];
	jv e;

	if (str_or(line, "ts", NULL, &ts) == NULL) {
		iso_time_ms(loop_now_ms(s->loop), iso, sizeof(iso));
		jv_free(ts);
		ts = jv_string(iso);
	}
	e = JV_OBJECT(jv_string("v"), jv_number(1), jv_string("t"),
	    jv_string("log"), jv_string("execution"),
	    jv_object_get(jv_copy(line), jv_string("execution")),
	    jv_string("task"), jv_object_get(jv_copy(line), jv_string("task")),
	    jv_string("attempt"),
	    jv_object_get(jv_copy(line), jv_string("attempt")));
	e = jv_put(e, "level", jv_string(level));
	e = jv_put(e, "stream", jv_string(stream));
	e = jv_put(e, "ts", ts);
	e = jv_put(e, "msg", jv_object_get(jv_copy(line), jv_string("msg")));
	jv_free(st);
	jv_free(lv);
	jv_free(line);
	return e;
}

void
logsink_poke(struct logsink *s)
{
	if (s == NULL || s->fd >= 0)
		return;
	s->wanted = 1;
	if (!loop_timer_armed(s->retry_t))
		(void)loop_timer_after(s->retry_t, LOGSINK_RETRY_MS);
}

int
logsink_line(struct logsink *s, jv line, int urgent)
{
	jv d;
	size_t n;

	if (s == NULL)
		return -1;
	if (s->fd < 0) {
		logsink_poke(s);
		return -1;
	}
	if (s->pn >= LOGSINK_MAX_LINES || s->pbytes >= LOGSINK_MAX_BYTES) {
		disconnect(s, "too far behind");
		return -1;
	}
	d = jv_dump_string(envelope(s, jv_copy(line)), 0);
	n = (size_t)jv_string_length_bytes(jv_copy(d));
	if (n > LINE_MAX_BYTES) {
		jv_free(d);
		return -1; /* over the protocol's cap: the direct way */
	}
	buf_put(&s->out, jv_string_value(d), n);
	buf_putc(&s->out, '\n');
	jv_free(d);
	pend_push(s, line, n);
	s->mark++;
	flush_out(s);
	if (urgent)
		(void)loop_defer_arm(s->sync_d);
	else if (!loop_timer_armed(s->lazy_t))
		(void)loop_timer_after(s->lazy_t, LOGSINK_LAZY_MS);
	return 0;
}

uint64_t
logsink_mark(const struct logsink *s)
{
	return s ? s->mark : 0;
}

uint64_t
logsink_acked(const struct logsink *s)
{
	return s ? s->acked : 0;
}

int
logsink_connected(const struct logsink *s)
{
	return s != NULL && s->fd >= 0;
}

void
logsink_sync(struct logsink *s)
{
	if (s == NULL || s->fd < 0 || s->sync_sent >= s->mark)
		return;
	buf_printf(&s->out, "{\"v\":1,\"t\":\"sync\",\"id\":%llu}\n",
	    (unsigned long long)s->mark);
	s->sync_sent = s->mark;
	if (!loop_timer_armed(s->stall_t))
		(void)loop_timer_after(s->stall_t, LOGSINK_STALL_MS);
	flush_out(s);
}
