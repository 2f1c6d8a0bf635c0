/*
 * loop: sd-event behind a small API (see loop.h).
 *
 * Each handle wraps one sd_event_source whose userdata points back at the
 * handle, so callbacks get the handle and the caller's arg.  Sources are
 * created lazily where that keeps a handle "disarmed" without a kernel
 * object (timers), and are released with sd_event_source_disable_unref(),
 * which sd-event allows from inside the source's own dispatch.  Timers ask
 * for 1 ms accuracy, and 1 us when they are due within 50 ms: sd-event's
 * default (250 ms) would stretch short task timeouts noticeably, and even
 * 1 ms would add a millisecond to every HTTP call (curl asks for 0 ms
 * timers constantly).
 *
 * Memory is given back when the loop goes quiet.  glibc keeps what a
 * daemon freed for reuse: the main heap shrinks only from its top (one
 * live chunk above a large freed region pins it all), and the arenas of
 * other threads (loom-api's worker pool, curl's resolver threads) shrink
 * even less.  After a burst of work (a 10,000-task run, thousands of
 * triggers) a daemon would hold its peak for good.  So every dispatch
 * notes when it ended, and a timer at idle priority, armed by the first
 * dispatch after a trim, fires once nothing has been dispatched for
 * LOOP_IDLE_TRIM_MS and calls malloc_trim(0), which returns the free
 * pages of every arena to the kernel.  That costs one timer per quiet
 * period and nothing on the hot path; work done by other threads is
 * reported with loop_note_work().  loop_new() also caps the number of
 * arenas (LOOP_ARENA_MAX, unless MALLOC_ARENA_MAX or GLIBC_TUNABLES say
 * otherwise): glibc's default, eight per CPU, gives each thread of a
 * pool its own heap to fragment.
 */
#include "loop.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "core/xalloc.h"

#define TIMER_ACCURACY_USEC 1000
#define LOOP_IDLE_TRIM_MS 1000 /* quiet this long, then malloc_trim() */
#define LOOP_ARENA_MAX 2       /* malloc arenas, unless the user says */

struct loop {
	sd_event *ev;
	sd_event_source *trim; /* the idle trim timer, see above */
	int trim_armed;
	uint64_t last_work; /* CLOCK_MONOTONIC us of the last dispatch */
	int work_fd;	    /* eventfd: other threads' work */
	sd_event_source *work_src;
	atomic_int work_noted; /* set by loop_note_work(), 0 after a trim */
};

struct loop_io {
	struct loop *loop;
	sd_event_source *src;
	int fd;
	unsigned events;
	loop_io_cb *cb;
	void *arg;
};

struct loop_timer {
	struct loop *loop;
	sd_event_source *src; /* NULL until first armed */
	int armed;
	loop_timer_cb *cb;
	void *arg;
};

struct loop_signal {
	struct loop *loop;
	sd_event_source *src;
	int signo;
	loop_signal_cb *cb;
	void *arg;
};

struct loop_child {
	struct loop *loop;
	sd_event_source *src;
	pid_t pid;
	loop_child_cb *cb;
	void *arg;
};

struct loop_defer {
	struct loop *loop;
	sd_event_source *src;
	loop_defer_cb *cb;
	void *arg;
};

/* sd-event wants negative errno; we want -1 and errno. */
static int
fail_errno(int r)
{
	errno = -r;
	return -1;
}

static int
block_signal(int signo)
{
	sigset_t set;
	int r;

	sigemptyset(&set);
	sigaddset(&set, signo);
	if ((r = pthread_sigmask(SIG_BLOCK, &set, NULL)) != 0) {
		errno = r;
		return -1;
	}
	return 0;
}

/* ---- giving memory back ---- */

/*
 * Caps malloc's arenas once per process, before any thread allocates,
 * unless the environment already set glibc's own knob.
 */
static void
cap_arenas(void)
{
	static int done;
	const char *t = getenv("GLIBC_TUNABLES");

	if (done++ || getenv("MALLOC_ARENA_MAX") != NULL ||
	    (t != NULL && strstr(t, "glibc.malloc.arena_max") != NULL))
		return;
	(void)mallopt(M_ARENA_MAX, LOOP_ARENA_MAX);
}

/*
 * Called after every dispatch: remembers when it ended (the real clock:
 * a pass may take seconds, and the iteration's cached time would make
 * the loop look quiet right after it), and arms the trim timer when it
 * is not armed (once per quiet period; the timer moves itself on while
 * work goes on).
 */
static void
loop_worked(struct loop *loop)
{
	struct timespec ts;
	uint64_t now;

	if (loop->trim == NULL)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
	loop->last_work = now;
	if (loop->trim_armed)
		return;
	if (sd_event_source_set_time(
		loop->trim, now + LOOP_IDLE_TRIM_MS * 1000ULL) >= 0 &&
	    sd_event_source_set_enabled(loop->trim, SD_EVENT_ONESHOT) >= 0)
		loop->trim_armed = 1;
}

static int
trim_dispatch(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct loop *loop = userdata;
	uint64_t quiet = loop->last_work + LOOP_IDLE_TRIM_MS * 1000ULL;
	struct timespec ts;

	loop->trim_armed = 0;
	/* Work since the timer was armed, here or in another thread:
	 * wait for a whole quiet period after it. */
	if (atomic_exchange(&loop->work_noted, 0)) {
		loop_worked(loop);
		return 0;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	usec = (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
	if (usec < quiet) {
		if (sd_event_source_set_time(src, quiet) >= 0 &&
		    sd_event_source_set_enabled(src, SD_EVENT_ONESHOT) >= 0)
			loop->trim_armed = 1;
		return 0;
	}
	(void)malloc_trim(0);
	return 0;
}

static int
work_dispatch(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	struct loop *loop = userdata;
	uint64_t n;

	(void)src;
	(void)revents;
	if (read(fd, &n, sizeof(n)) < 0) {
		/* EAGAIN: another wake-up read it; nothing else fails */
	}
	loop_worked(loop);
	return 0;
}

void
loop_note_work(struct loop *loop)
{
	uint64_t one = 1;

	/* One write per quiet period: the flag stays up until a trim
	 * timer sees it. */
	if (atomic_exchange(&loop->work_noted, 1) == 0 &&
	    write(loop->work_fd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is full, the loop will wake anyway */
	}
}

static int
trim_setup(struct loop *loop)
{
	int r;

	r = sd_event_add_time(loop->ev, &loop->trim, CLOCK_MONOTONIC, 0,
	    100 * 1000, trim_dispatch, loop);
	if (r >= 0)
		r = sd_event_source_set_enabled(loop->trim, SD_EVENT_OFF);
	if (r >= 0)
		r = sd_event_source_set_priority(
		    loop->trim, SD_EVENT_PRIORITY_IDLE);
	if (r < 0)
		return r;
	if ((loop->work_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
		return -errno;
	return sd_event_add_io(loop->ev, &loop->work_src, loop->work_fd,
	    EPOLLIN, work_dispatch, loop);
}

struct loop *
loop_new(void)
{
	struct loop *loop;
	struct sigaction sa;
	int r;

	if (block_signal(SIGCHLD) == -1)
		return NULL;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGPIPE, &sa, NULL) == -1)
		return NULL;

	cap_arenas();
	loop = xcalloc(1, sizeof(*loop));
	loop->work_fd = -1;
	if ((r = sd_event_new(&loop->ev)) < 0 || (r = trim_setup(loop)) < 0) {
		loop_free(loop);
		errno = -r;
		return NULL;
	}
	/* 0 when WATCHDOG_USEC is unset: nothing to do then. */
	(void)sd_event_set_watchdog(loop->ev, 1);
	return loop;
}

void
loop_free(struct loop *loop)
{
	if (loop == NULL)
		return;
	sd_event_source_disable_unref(loop->trim);
	sd_event_source_disable_unref(loop->work_src);
	if (loop->work_fd >= 0)
		close(loop->work_fd);
	sd_event_unref(loop->ev);
	free(loop);
}

int
loop_run(struct loop *loop)
{
	int r;

	r = sd_event_loop(loop->ev);
	if (r < 0)
		return fail_errno(r);
	return r;
}

void
loop_exit(struct loop *loop, int code)
{
	(void)sd_event_exit(loop->ev, code);
}

static int64_t
loop_clock_ms(struct loop *loop, clockid_t clock)
{
	uint64_t usec;

	if (sd_event_now(loop->ev, clock, &usec) < 0) {
		struct timespec ts;

		clock_gettime(clock, &ts);
		return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	}
	return (int64_t)(usec / 1000);
}

int64_t
loop_now_ms(struct loop *loop)
{
	return loop_clock_ms(loop, CLOCK_REALTIME);
}

int64_t
loop_mono_ms(struct loop *loop)
{
	return loop_clock_ms(loop, CLOCK_MONOTONIC);
}

void
loop_notify_ready(struct loop *loop)
{
	(void)loop;
	(void)sd_notify(0, "READY=1");
}

void
loop_notify_stopping(struct loop *loop)
{
	(void)loop;
	(void)sd_notify(0, "STOPPING=1");
}

/* io */

static uint32_t
io_epoll_events(unsigned events)
{
	uint32_t e = 0;

	if (events & LOOP_READ)
		e |= EPOLLIN;
	if (events & LOOP_WRITE)
		e |= EPOLLOUT;
	return e;
}

static int
io_dispatch(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	struct loop_io *io = userdata;
	struct loop *loop = io->loop; /* cb may delete io */
	unsigned ev = 0;

	(void)src;
	if (revents & (EPOLLIN | EPOLLHUP | EPOLLRDHUP))
		ev |= io->events & LOOP_READ;
	if (revents & EPOLLOUT)
		ev |= LOOP_WRITE;
	if (revents & (EPOLLERR | EPOLLHUP))
		ev |= LOOP_ERROR;
	io->cb(io, fd, ev, io->arg);
	loop_worked(loop);
	return 0;
}

struct loop_io *
loop_io_add(
    struct loop *loop, int fd, unsigned events, loop_io_cb *cb, void *arg)
{
	struct loop_io *io;
	int r;

	io = xcalloc(1, sizeof(*io));
	io->loop = loop;
	io->fd = fd;
	io->cb = cb;
	io->arg = arg;
	r = sd_event_add_io(loop->ev, &io->src, fd,
	    io_epoll_events(events ? events : LOOP_READ), io_dispatch, io);
	if (r < 0)
		goto fail;
	io->events = events;
	if (events == 0 &&
	    (r = sd_event_source_set_enabled(io->src, SD_EVENT_OFF)) < 0)
		goto fail;
	return io;
fail:
	sd_event_source_disable_unref(io->src);
	free(io);
	errno = -r;
	return NULL;
}

int
loop_io_set(struct loop_io *io, unsigned events)
{
	int r;

	if (events == io->events)
		return 0;
	if (events == 0) {
		r = sd_event_source_set_enabled(io->src, SD_EVENT_OFF);
	} else {
		r = sd_event_source_set_io_events(
		    io->src, io_epoll_events(events));
		if (r >= 0 && io->events == 0)
			r = sd_event_source_set_enabled(io->src, SD_EVENT_ON);
	}
	if (r < 0)
		return fail_errno(r);
	io->events = events;
	return 0;
}

void
loop_io_del(struct loop_io *io)
{
	if (io == NULL)
		return;
	sd_event_source_disable_unref(io->src);
	free(io);
}

/* timers */

static int
timer_dispatch(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct loop_timer *t = userdata;
	struct loop *loop = t->loop; /* cb may delete t */

	(void)src;
	(void)usec;
	t->armed = 0;
	t->cb(t, t->arg);
	loop_worked(loop);
	return 0;
}

struct loop_timer *
loop_timer_new(struct loop *loop, loop_timer_cb *cb, void *arg)
{
	struct loop_timer *t;

	t = xcalloc(1, sizeof(*t));
	t->loop = loop;
	t->cb = cb;
	t->arg = arg;
	return t;
}

int
loop_timer_at(struct loop_timer *t, int64_t mono_ms)
{
	uint64_t usec = mono_ms < 0 ? 0 : (uint64_t)mono_ms * 1000;
	int r;

	struct timespec ts;
	uint64_t acc;

	/*
	 * Short timers (curl asks for 0-1 ms ones all the time) get 1 us
	 * accuracy, or sd-event would coalesce them up to a millisecond
	 * later, which is a millisecond added to every HTTP call.
	 */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	acc =
	    usec <= (uint64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000 + 50000 ?
	    1 :
	    TIMER_ACCURACY_USEC;
	if (t->src == NULL) {
		r = sd_event_add_time(t->loop->ev, &t->src, CLOCK_MONOTONIC,
		    usec, acc, timer_dispatch, t);
		if (r < 0)
			return fail_errno(r);
	} else if ((r = sd_event_source_set_time(t->src, usec)) < 0 ||
	    (r = sd_event_source_set_time_accuracy(t->src, acc)) < 0)
		return fail_errno(r);
	if ((r = sd_event_source_set_enabled(t->src, SD_EVENT_ONESHOT)) < 0)
		return fail_errno(r);
	t->armed = 1;
	return 0;
}

int
loop_timer_after(struct loop_timer *t, int64_t ms)
{
	struct timespec ts;
	int64_t now;

	/* The real clock, not the iteration's cached one: a timer armed
	 * late in a long iteration must not fire early. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	return loop_timer_at(t, now + (ms < 0 ? 0 : ms));
}

void
loop_timer_stop(struct loop_timer *t)
{
	if (t->src != NULL)
		(void)sd_event_source_set_enabled(t->src, SD_EVENT_OFF);
	t->armed = 0;
}

int
loop_timer_armed(const struct loop_timer *t)
{
	return t->armed;
}

void
loop_timer_del(struct loop_timer *t)
{
	if (t == NULL)
		return;
	sd_event_source_disable_unref(t->src);
	free(t);
}

/* signals */

static int
signal_dispatch(
    sd_event_source *src, const struct signalfd_siginfo *si, void *userdata)
{
	struct loop_signal *s = userdata;
	struct loop *loop = s->loop; /* cb may delete s */

	(void)src;
	(void)si;
	s->cb(s, s->signo, s->arg);
	loop_worked(loop);
	return 0;
}

struct loop_signal *
loop_signal_add(struct loop *loop, int signo, loop_signal_cb *cb, void *arg)
{
	struct loop_signal *s;
	int r;

	if (block_signal(signo) == -1)
		return NULL;
	s = xcalloc(1, sizeof(*s));
	s->loop = loop;
	s->signo = signo;
	s->cb = cb;
	s->arg = arg;
	r = sd_event_add_signal(loop->ev, &s->src, signo, signal_dispatch, s);
	if (r < 0) {
		free(s);
		errno = -r;
		return NULL;
	}
	return s;
}

void
loop_signal_del(struct loop_signal *s)
{
	if (s == NULL)
		return;
	sd_event_source_disable_unref(s->src);
	free(s);
}

/* children */

static int
child_dispatch(sd_event_source *src, const siginfo_t *si, void *userdata)
{
	struct loop_child *c = userdata;
	struct loop *loop = c->loop; /* cb may delete c */

	(void)src;
	c->cb(c, c->pid, si, c->arg);
	loop_worked(loop);
	return 0;
}

struct loop_child *
loop_child_add(struct loop *loop, pid_t pid, loop_child_cb *cb, void *arg)
{
	struct loop_child *c;
	int r;

	c = xcalloc(1, sizeof(*c));
	c->loop = loop;
	c->pid = pid;
	c->cb = cb;
	c->arg = arg;
	r = sd_event_add_child(
	    loop->ev, &c->src, pid, WEXITED, child_dispatch, c);
	if (r < 0)
		goto fail;
	/* Dropping the watch early kills and reaps: no orphaned zombies. */
	if ((r = sd_event_source_set_child_process_own(c->src, 1)) < 0)
		goto fail;
	return c;
fail:
	sd_event_source_disable_unref(c->src);
	free(c);
	errno = -r;
	return NULL;
}

void
loop_child_del(struct loop_child *c)
{
	if (c == NULL)
		return;
	sd_event_source_disable_unref(c->src);
	free(c);
}

/* deferred calls */

static int
defer_dispatch(sd_event_source *src, void *userdata)
{
	struct loop_defer *d = userdata;
	struct loop *loop = d->loop; /* cb may delete d */

	(void)src;
	d->cb(d, d->arg);
	loop_worked(loop);
	return 0;
}

struct loop_defer *
loop_defer_new(struct loop *loop, loop_defer_cb *cb, void *arg)
{
	struct loop_defer *d;
	int r;

	d = xcalloc(1, sizeof(*d));
	d->loop = loop;
	d->cb = cb;
	d->arg = arg;
	r = sd_event_add_defer(loop->ev, &d->src, defer_dispatch, d);
	if (r < 0) {
		free(d);
		errno = -r;
		return NULL;
	}
	/* sd_event_add_defer() makes it SD_EVENT_ONESHOT already. */
	return d;
}

struct loop_defer *
loop_defer_new_idle(struct loop *loop, loop_defer_cb *cb, void *arg)
{
	struct loop_defer *d = loop_defer_new(loop, cb, arg);
	int r;

	if (d == NULL)
		return NULL;
	r = sd_event_source_set_priority(d->src, SD_EVENT_PRIORITY_IDLE);
	if (r < 0) {
		loop_defer_del(d);
		errno = -r;
		return NULL;
	}
	return d;
}

int
loop_defer_arm(struct loop_defer *d)
{
	int r;

	if ((r = sd_event_source_set_enabled(d->src, SD_EVENT_ONESHOT)) < 0)
		return fail_errno(r);
	return 0;
}

void
loop_defer_del(struct loop_defer *d)
{
	if (d == NULL)
		return;
	sd_event_source_disable_unref(d->src);
	free(d);
}
