/*
 * exec.h: what the parts of loom-exec share.  main.c turns arguments and
 * loom.conf into struct exec_opts; each mode (stdin.c; the database mode
 * later) runs the loop with a runner and returns the exit status.
 */
#ifndef LOOM_EXEC_H
#define LOOM_EXEC_H

#include "run/runner.h"

enum {
	EXEC_OK = 0,	 /* every task succeeded */
	EXEC_FAIL = 1,	 /* some task did not succeed (or was cancelled) */
	EXEC_USAGE = 2,	 /* bad arguments or configuration */
	EXEC_SYSTEM = 5, /* could not set up (event loop, runner) */
};

struct exec_opts {
	int jobs;		 /* tasks running at once (-j) */
	const char *name;	 /* --name, over exec.name; NULL: not given */
	const char *ctl_opt;	 /* -C: the control socket; NULL: not given */
	struct runner_config rc; /* strings borrowed from the config */
};

/* --stdin: request lines in, result lines out.  Returns an exit status. */
int exec_stdin_run(const struct exec_opts *o);

#endif
