/*
 * procguard: see procguard.h.
 *
 * The pipe carries one int per message, written in one write() (atomic,
 * being under PIPE_BUF): a group to watch as +pgid, one to forget as
 * -pgid.  The guard keeps them in an array; on end-of-file it kills each
 * and exits.  It is forked, not executed: it closes every descriptor but
 * its end of the pipe first (so it holds no socket, pipe or terminal of
 * its parent's), ignores the signals a terminal or a stop sends to a
 * whole process group (it must outlive its parent to do its job), and
 * calls nothing but system calls and realloc().
 */
#include "procguard.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "util/log.h"

static pid_t guard_pid = -1; /* the guard, while we know it alive */
static pid_t guard_owner;    /* the process that started it */
static int guard_fd = -1;    /* our end of its pipe */

static void
close_all_but(int keep)
{
	if (keep > 0 && close_range(0, (unsigned)keep - 1, 0) == 0 &&
	    close_range((unsigned)keep + 1, ~0u, 0) == 0)
		return;
	for (int fd = 0; fd < 65536; fd++) /* close_range() missing */
		if (fd != keep)
			(void)close(fd);
}

static void __attribute__((noreturn)) guard_main(int fd)
{
	static const int ign[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE,
		SIGTSTP, SIGTTIN, SIGTTOU };
	pid_t *set = NULL, msg[256];
	size_t n = 0, cap = 0;
	ssize_t r;

	close_all_but(fd);
	for (size_t i = 0; i < sizeof(ign) / sizeof(ign[0]); i++)
		(void)signal(ign[i], SIG_IGN);
	(void)prctl(PR_SET_NAME, "loom-procguard", 0, 0, 0);
	for (;;) {
		r = read(fd, msg, sizeof(msg));
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break; /* the writer is gone */
		for (size_t i = 0; i < (size_t)r / sizeof(msg[0]); i++) {
			if (msg[i] > 0) {
				if (n == cap) {
					pid_t *ns;

					cap = cap ? cap * 2 : 64;
					if ((ns = realloc(set,
						 cap * sizeof(*set))) == NULL)
						goto out; /* kill what we know
							   */
					set = ns;
				}
				set[n++] = msg[i];
				continue;
			}
			for (size_t k = 0; k < n; k++)
				if (set[k] == -msg[i]) {
					set[k] = set[--n];
					break;
				}
		}
	}
out:
	for (size_t k = 0; k < n; k++)
		(void)kill(-set[k], SIGKILL);
	_exit(0);
}

static int
guard_start(void)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) == -1)
		return -1;
	if ((pid = fork()) == -1) {
		int e = errno;

		close(p[0]);
		close(p[1]);
		errno = e;
		return -1;
	}
	if (pid == 0)
		guard_main(p[0]);
	close(p[0]);
	guard_pid = pid;
	guard_owner = getpid();
	guard_fd = p[1];
	log_debug("process guard %d started", (int)pid);
	return 0;
}

/* The guard is gone (a write failed): reap it; the next add starts one. */
static void
guard_lost(void)
{
	log_warn("process guard %d", (int)guard_pid);
	close(guard_fd);
	guard_fd = -1;
	(void)waitpid(guard_pid, NULL, WNOHANG);
	guard_pid = -1;
}

static int
guard_send(pid_t msg)
{
	ssize_t r;

	do
		r = write(guard_fd, &msg, sizeof(msg));
	while (r == -1 && errno == EINTR);
	if (r == (ssize_t)sizeof(msg))
		return 0;
	guard_lost(); /* EPIPE (SIGPIPE is ignored by the loop) */
	errno = EPIPE;
	return -1;
}

int
procguard_fd(void)
{
	if (guard_fd != -1 && guard_owner != getpid()) {
		guard_fd = -1; /* inherited through fork: not ours */
		guard_pid = -1;
	}
	if (guard_fd == -1 && guard_start() == -1)
		return -1;
	return guard_fd;
}

void
procguard_lost(void)
{
	if (guard_fd != -1 && guard_owner == getpid())
		guard_lost();
}

int
procguard_add(pid_t pgid)
{
	if (procguard_fd() == -1)
		return -1;
	return guard_send(pgid);
}

void
procguard_del(pid_t pgid)
{
	if (guard_fd != -1 && guard_owner == getpid())
		(void)guard_send(-pgid);
}
