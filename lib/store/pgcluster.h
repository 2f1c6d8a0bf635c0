/*
 * pgcluster: the private PostgreSQL cluster of `loom up` and of the tests.
 *
 * A cluster lives under a state directory:
 *     DIR/pgdata     the data directory (initdb on first use)
 *     DIR/run        the Unix socket directory (no TCP listener at all)
 *     DIR/pg.log     the server's log
 * When the caller is root, initdb and the server run as the `postgres` user
 * (PostgreSQL refuses to run as root), so DIR and its parents must be
 * searchable by that user; pgcluster_prepare() says so when they are not.
 * The server binaries come from $LOOM_PG_BINDIR, else the newest
 * /usr/lib/postgresql/N/bin.
 */
#ifndef LOOM_PGCLUSTER_H
#define LOOM_PGCLUSTER_H

#include <sys/types.h>

struct pgcluster {
	char *dir;
	char *datadir;
	char *sockdir;
	char *logfile;
	char *bindir;
	int port;    /* names the socket file; default 5432 */
	int as_user; /* run server commands as uid/gid below */
	uid_t uid;
	gid_t gid;
	int fast; /* tests: initdb --no-sync, fsync=off */
};

/*
 * Fills in c for state directory dir (created if missing).  Returns 0, or -1
 * with *err a malloc'd message.
 */
int pgcluster_prepare(
    struct pgcluster *c, const char *dir, int port, char **err);
void pgcluster_release(struct pgcluster *c);

/* Whether the data directory has been initialised. */
int pgcluster_exists(const struct pgcluster *c);
/* initdb when needed, start the server and wait until it accepts
 * connections, create the "loom" database when missing.  Idempotent. */
int pgcluster_start(struct pgcluster *c, char **err);
/* Fast shutdown; waits for it.  0 also when it was not running. */
int pgcluster_stop(struct pgcluster *c, char **err);
/* Whether the server is running (pg_ctl status). */
int pgcluster_running(const struct pgcluster *c);
/* The libpq URL of the loom database; the caller frees it. */
char *pgcluster_url(const struct pgcluster *c);

#endif
