/*
 * dbmode.h: loom-exec's database mode (dbmode.c), the daemon that claims
 * tasks from PostgreSQL, runs them and reports their results.  See the
 * DATABASE MODE section of loom-exec(8).  (Not "db.h": that name is
 * lib/store/db.h's, which dbmode.c includes.)
 */
#ifndef LOOM_EXEC_DBMODE_H
#define LOOM_EXEC_DBMODE_H

#include "util/config.h"
#include "exec.h"

/*
 * Runs the database mode until SIGTERM/SIGINT and returns the exit
 * status.  o: the runner settings main.c read; cfg: the loaded
 * configuration (borrowed; read for the exec.* keys of this mode and on
 * SIGHUP for log.level); jobs: -j, or 0 when not given; check: -n (check
 * the configuration, print "configuration ok" and return).
 */
int exec_db_run(
    const struct exec_opts *o, const struct config *cfg, long jobs, int check);

#endif
