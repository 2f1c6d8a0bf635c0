/*
 * loop: the one event loop of every Link Loom daemon, a thin layer over
 * libsystemd's sd-event.
 *
 * A daemon makes one loop, adds watches (fd readiness, timers, signals,
 * child processes, deferred calls), calls loop_run() and returns from it
 * when some callback calls loop_exit().  libpq's socket, curl multi's
 * sockets, Unix sockets and pipes all plug in as io watches whose interest
 * (read/write) can change at any time.
 *
 * Ownership: every watch is a small handle owned by whoever added it; the
 * owner deletes it with the matching *_del() (NULL-safe, and safe to call
 * from inside the watch's own callback).  Deleting a handle guarantees its
 * callback is never called again.  Every handle must be deleted before
 * loop_free().  Callbacks run one at a time on the thread that called
 * loop_run(); the loop is not thread-safe.
 *
 * Process-wide effects of loop_new(): SIGCHLD is blocked (sd-event reaps
 * the children it watches), SIGPIPE is ignored (a write to a pipe whose
 * reader died returns EPIPE instead of killing the daemon), and malloc
 * gets at most two arenas unless MALLOC_ARENA_MAX or GLIBC_TUNABLES set
 * them (call it before starting threads).  Code that
 * starts programs must restore both in the child (lib/run/run_proc.c does).
 * loop_signal_add() blocks the signal it watches, in the calling thread:
 * add signal watches before any thread starts, or a thread that does not
 * block the signal may take it with its default action.
 */
#ifndef LOOM_LOOP_H
#define LOOM_LOOP_H

#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

struct loop;
struct loop_io;
struct loop_timer;
struct loop_signal;
struct loop_child;
struct loop_defer;

/* io interest and readiness bits */
#define LOOP_READ 0x1u
#define LOOP_WRITE 0x2u
#define LOOP_ERROR 0x4u /* reported only: error or hang-up on the fd */

typedef void loop_io_cb(struct loop_io *io, int fd, unsigned events, void *arg);
typedef void loop_timer_cb(struct loop_timer *t, void *arg);
typedef void loop_signal_cb(struct loop_signal *s, int signo, void *arg);
/* si->si_code is CLD_EXITED (si_status = exit code), CLD_KILLED or
 * CLD_DUMPED (si_status = signal). */
typedef void loop_child_cb(
    struct loop_child *c, pid_t pid, const siginfo_t *si, void *arg);
typedef void loop_defer_cb(struct loop_defer *d, void *arg);

/*
 * Makes a loop.  Returns NULL with errno set on failure.  Also arms the
 * systemd watchdog when WATCHDOG_USEC is set for this process (sd-event
 * then pings at half the interval while the loop runs).
 */
struct loop *loop_new(void);
/* NULL-safe.  Every handle must have been deleted already. */
void loop_free(struct loop *loop);

/*
 * Runs until loop_exit(); returns the code given to it (>= 0), or -1 with
 * errno set when the loop itself failed.  A loop runs once: after it
 * exited, loop_run() fails (sd-event's rule).
 */
int loop_run(struct loop *loop);
void loop_exit(struct loop *loop, int code);

/* Wall-clock (CLOCK_REALTIME) and CLOCK_MONOTONIC time in ms, as of the
 * start of the current iteration (the current time outside loop_run). */
int64_t loop_now_ms(struct loop *loop);
int64_t loop_mono_ms(struct loop *loop);

/*
 * sd_notify(0, "READY=1"); a no-op when not started by systemd.  Call once
 * the daemon serves.  loop_notify_stopping() says STOPPING=1.
 */
void loop_notify_ready(struct loop *loop);
void loop_notify_stopping(struct loop *loop);

/*
 * Memory: the loop calls malloc_trim(0) once it has dispatched nothing
 * for a second after some work, so a daemon gives back what a burst of
 * work left free (see loop.c).  Work done outside the loop's thread (a
 * pool of request threads) does not wake the loop: such threads call
 * loop_note_work(), the one function here that is safe from any thread
 * (an atomic flag, and an eventfd write once per quiet period).
 */
void loop_note_work(struct loop *loop);

/*
 * Watches fd for the events in `events` (LOOP_READ|LOOP_WRITE; 0 adds it
 * disabled).  The fd stays owned by the caller, who must delete the watch
 * before closing it.  Only one watch per fd.  Returns NULL with errno set
 * (EPERM: the fd cannot be polled, e.g. a regular file).
 */
struct loop_io *loop_io_add(
    struct loop *loop, int fd, unsigned events, loop_io_cb *cb, void *arg);
/* Changes the interest; 0 pauses the watch.  Returns 0 or -1 (errno). */
int loop_io_set(struct loop_io *io, unsigned events);
void loop_io_del(struct loop_io *io);

/*
 * A timer on CLOCK_MONOTONIC, created disarmed.  Arming an armed timer
 * moves it; a timer fires once per arming.
 */
struct loop_timer *loop_timer_new(
    struct loop *loop, loop_timer_cb *cb, void *arg);
/* Fires ms from now (0: at the next iteration). */
int loop_timer_after(struct loop_timer *t, int64_t ms);
/* Fires at the absolute loop_mono_ms() instant mono_ms. */
int loop_timer_at(struct loop_timer *t, int64_t mono_ms);
void loop_timer_stop(struct loop_timer *t);
int loop_timer_armed(const struct loop_timer *t);
void loop_timer_del(struct loop_timer *t);

/*
 * Calls cb when signo arrives (the signal is blocked process-wide and read
 * through a signalfd).  One watch per signal.
 */
struct loop_signal *loop_signal_add(
    struct loop *loop, int signo, loop_signal_cb *cb, void *arg);
void loop_signal_del(struct loop_signal *s);

/*
 * Calls cb once when child pid exits (it is reaped right after cb
 * returns; nobody may waitpid() it).  Deleting the watch before the child
 * exited kills it with SIGKILL and reaps it, so a child never outlives its
 * watch as a zombie.
 */
struct loop_child *loop_child_add(
    struct loop *loop, pid_t pid, loop_child_cb *cb, void *arg);
void loop_child_del(struct loop_child *c);

/*
 * Calls cb once, at the next loop iteration (never from inside this
 * call).  The handle stays valid until deleted; loop_defer_arm() makes it
 * fire once more.
 */
struct loop_defer *loop_defer_new(
    struct loop *loop, loop_defer_cb *cb, void *arg);
/*
 * The same, but cb runs only once nothing else is pending (sd-event's idle
 * priority): after every watch that became ready in the same wake-up has
 * run.  For work that batches what those watches produced, such as writing
 * a batch of results in one transaction.
 */
struct loop_defer *loop_defer_new_idle(
    struct loop *loop, loop_defer_cb *cb, void *arg);
int loop_defer_arm(struct loop_defer *d);
void loop_defer_del(struct loop_defer *d);

#endif
