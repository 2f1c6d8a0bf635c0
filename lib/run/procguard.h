/*
 * procguard: task process groups die with the process that started them.
 *
 * A shell or java task runs in a process group of its own, so a timeout
 * can signal all of it.  That also takes it out of reach of everything
 * that would end it with its executor: if loom-exec (or `loom run`) dies
 * by SIGKILL, the task is re-parented to init and keeps running while
 * another executor takes over its lease and starts the same attempt
 * again.
 *
 * Two things stop that.  The task's first process asks for SIGKILL when
 * its parent dies (PR_SET_PDEATHSIG, set in run_proc.c before exec).  It
 * does not reach what that process started (`sleep 100 & wait`), so every
 * group is also registered here, with a guard: a small process forked
 * from this one on first use, which does nothing but read a pipe whose
 * only writer is this process.  When the writer goes, however it went,
 * the kernel closes the pipe, the guard reads end-of-file, sends SIGKILL
 * to every group still registered and exits.  Nothing depends on a
 * signal being delivered to the dying process, or on a file left behind.
 *
 * One guard per process (it is about this process dying), created from
 * the thread that runs the loop.  What a task moves out of its own group
 * (setsid, setpgid) is not covered; under systemd the unit's control
 * group is (KillMode=control-group).
 */
#ifndef LOOM_PROCGUARD_H
#define LOOM_PROCGUARD_H

#include <sys/types.h>

/*
 * Registers process group pgid: it gets SIGKILL if this process dies
 * before procguard_del(pgid).  Starts the guard on first use (and again
 * if it died).  Returns 0, or -1 with errno set when there is no guard
 * (the group is then covered by PR_SET_PDEATHSIG of its leader only).
 */
int procguard_add(pid_t pgid);

/*
 * The end of the guard's pipe (the guard started if need be), for a
 * child that registers its own group before exec, with one write of its
 * pgid as a pid_t (pipe writes that small are atomic); -1 with errno set
 * when there is no guard.  The child must write while SIGPIPE is still
 * ignored; a write that fails means the guard is gone: procguard_lost().
 */
int procguard_fd(void);
void procguard_lost(void);

/* The group is gone (its leader reaped, the rest killed): forget it. */
void procguard_del(pid_t pgid);

#endif
