/*
 * pgcluster: see pgcluster.h.  Runs initdb, pg_ctl and psql-free SQL (via
 * libpq) to give `loom up` and the tests a cluster of their own.
 */
#include "pgcluster.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "db.h"
#include "core/xalloc.h"

static char *
find_bindir(void)
{
	const char *env = getenv("LOOM_PG_BINDIR");
	DIR *d;
	struct dirent *e;
	int best = -1;

	if (env && *env)
		return xstrdup(env);
	if ((d = opendir("/usr/lib/postgresql")) == NULL)
		return NULL;
	while ((e = readdir(d)) != NULL) {
		int v = atoi(e->d_name);
		char *p;

		if (v <= best)
			continue;
		p = xasprintf("/usr/lib/postgresql/%s/bin/pg_ctl", e->d_name);
		if (access(p, X_OK) == 0)
			best = v;
		free(p);
	}
	closedir(d);
	return best < 0 ? NULL : xasprintf("/usr/lib/postgresql/%d/bin", best);
}

/* Every ancestor of path must be searchable by uid/gid. */
static int
check_reachable(const char *path, uid_t uid, gid_t gid, char **err)
{
	char *p = xstrdup(path), *slash;
	struct stat st;

	for (;;) {
		if (stat(p, &st) == 0) {
			int ok = (st.st_mode & S_IXOTH) ||
			    (st.st_uid == uid && (st.st_mode & S_IXUSR)) ||
			    (st.st_gid == gid && (st.st_mode & S_IXGRP));
			if (!ok) {
				*err = xasprintf(
				    "the postgres user cannot "
				    "enter %s (mode %o): choose a state "
				    "directory it can reach (--state-dir), "
				    "e.g. under /var/lib",
				    p, (unsigned)(st.st_mode & 07777));
				free(p);
				return -1;
			}
		}
		slash = strrchr(p, '/');
		if (slash == NULL || slash == p)
			break;
		*slash = '\0';
	}
	free(p);
	return 0;
}

static int
mkdir_p(const char *path, mode_t mode)
{
	char *p = xstrdup(path);

	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST) {
			free(p);
			return -1;
		}
		*s = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST) {
		free(p);
		return -1;
	}
	free(p);
	return 0;
}

int
pgcluster_prepare(struct pgcluster *c, const char *dir, int port, char **err)
{
	char *abs = NULL;

	memset(c, 0, sizeof(*c));
	if (mkdir_p(dir, 0755) < 0) {
		*err = xasprintf("cannot create %s: %s", dir, strerror(errno));
		return -1;
	}
	if ((abs = realpath(dir, NULL)) == NULL) {
		*err = xasprintf("%s: %s", dir, strerror(errno));
		return -1;
	}
	c->dir = abs;
	c->datadir = xasprintf("%s/pgdata", abs);
	c->sockdir = xasprintf("%s/run", abs);
	c->logfile = xasprintf("%s/pg.log", abs);
	c->port = port > 0 ? port : 5432;
	if ((c->bindir = find_bindir()) == NULL) {
		*err = xstrdup(
		    "PostgreSQL server binaries not found under "
		    "/usr/lib/postgresql (install the postgresql package, "
		    "or set LOOM_PG_BINDIR)");
		goto fail;
	}
	if (geteuid() == 0) {
		struct passwd *pw = getpwnam("postgres");

		if (pw == NULL) {
			*err = xstrdup("running as root, but there is no "
				       "'postgres' user to run the server as");
			goto fail;
		}
		c->as_user = 1;
		c->uid = pw->pw_uid;
		c->gid = pw->pw_gid;
		if (check_reachable(abs, c->uid, c->gid, err) < 0)
			goto fail;
	}
	if (mkdir_p(c->sockdir, 0755) < 0) {
		*err = xasprintf(
		    "cannot create %s: %s", c->sockdir, strerror(errno));
		goto fail;
	}
	if (c->as_user && (chown(c->sockdir, c->uid, c->gid) < 0)) {
		*err = xasprintf("chown %s: %s", c->sockdir, strerror(errno));
		goto fail;
	}
	return 0;
fail:
	pgcluster_release(c);
	return -1;
}

void
pgcluster_release(struct pgcluster *c)
{
	free(c->dir);
	free(c->datadir);
	free(c->sockdir);
	free(c->logfile);
	free(c->bindir);
	memset(c, 0, sizeof(*c));
}

int
pgcluster_exists(const struct pgcluster *c)
{
	char *p = xasprintf("%s/PG_VERSION", c->datadir);
	int ok = access(p, F_OK) == 0;

	free(p);
	return ok;
}

/*
 * Runs argv (argv[0] a program in the cluster's bindir) as the cluster
 * user, with stdout/stderr appended to the log file.  Returns the exit
 * status, or -1 when it could not run.
 */
static int
run_pg(const struct pgcluster *c, char *const argv[])
{
	pid_t pid;
	int status;
	char *prog = xasprintf("%s/%s", c->bindir, argv[0]);

	if ((pid = fork()) < 0) {
		free(prog);
		return -1;
	}
	if (pid == 0) {
		int fd = open(c->logfile, O_WRONLY | O_CREAT | O_APPEND, 0640);

		if (fd >= 0) {
			if (c->as_user && fchown(fd, c->uid, c->gid) < 0)
				_exit(126);
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		fd = open("/dev/null", O_RDONLY);
		if (fd >= 0) {
			dup2(fd, 0);
			close(fd);
		}
		if (c->as_user &&
		    (setgroups(0, NULL) < 0 || setgid(c->gid) < 0 ||
			setuid(c->uid) < 0))
			_exit(126);
		/* Our own children must not be in pg's process group. */
		setsid();
		execv(prog, argv);
		_exit(127);
	}
	free(prog);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static char *
log_tail(const struct pgcluster *c)
{
	FILE *fp = fopen(c->logfile, "r");
	char buf[1024] = "";
	long size;
	size_t n;

	if (fp == NULL)
		return xstrdup("(no server log)");
	fseek(fp, 0, SEEK_END);
	size = ftell(fp);
	fseek(fp,
	    size > (long)sizeof(buf) - 1 ? size - (long)sizeof(buf) + 1 : 0,
	    SEEK_SET);
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	return xstrdup(buf);
}

static int
create_database(const struct pgcluster *c, char **err)
{
	char *url =
	    xasprintf("postgresql:///postgres?host=%s&port=%d&user=loom",
		c->sockdir, c->port);
	PGconn *conn = db_connect(url, "loom-up", err);
	PGresult *r;
	int rc = -1;

	free(url);
	if (conn == NULL)
		return -1;
	r = db_exec(conn, err,
	    "SELECT 1 FROM pg_database WHERE datname = "
	    "'loom'",
	    0, NULL);
	if (r == NULL)
		goto out;
	if (PQntuples(r) == 0 &&
	    db_cmd(conn, err, "CREATE DATABASE loom", 0, NULL) < 0) {
		PQclear(r);
		goto out;
	}
	PQclear(r);
	rc = 0;
out:
	PQfinish(conn);
	return rc;
}

int
pgcluster_start(struct pgcluster *c, char **err)
{
	char port[16], *opts;
	int rc;

	if (!pgcluster_exists(c)) {
		char *argv[] = { "initdb", "-D", c->datadir, "-U", "loom", "-A",
			"trust", "-E", "UTF8", "--locale=C",
			c->fast ? "--no-sync" : NULL, NULL };

		if (mkdir_p(c->datadir, 0700) < 0 ||
		    (c->as_user && chown(c->datadir, c->uid, c->gid) < 0)) {
			*err = xasprintf("cannot create %s: %s", c->datadir,
			    strerror(errno));
			return -1;
		}
		if ((rc = run_pg(c, argv)) != 0) {
			char *t = log_tail(c);

			*err = xasprintf("initdb failed (status %d); from %s:"
					 "\n%s",
			    rc, c->logfile, t);
			free(t);
			return -1;
		}
	}
	if (!pgcluster_running(c)) {
		snprintf(port, sizeof(port), "%d", c->port);
		opts = xasprintf("-c listen_addresses='' "
				 "-c unix_socket_directories='%s' -c port=%d "
				 "-c max_connections=200%s",
		    c->sockdir, c->port,
		    c->fast ? " -c fsync=off -c full_page_writes=off" : "");
		char *argv[] = { "pg_ctl", "-D", c->datadir, "-l", c->logfile,
			"-w", "-t", "60", "-o", opts, "start", NULL };
		rc = run_pg(c, argv);
		free(opts);
		if (rc != 0) {
			char *t = log_tail(c);

			*err = xasprintf("PostgreSQL did not start (pg_ctl "
					 "status %d); from %s:\n%s",
			    rc, c->logfile, t);
			free(t);
			return -1;
		}
	}
	return create_database(c, err);
}

int
pgcluster_stop(struct pgcluster *c, char **err)
{
	char *argv[] = { "pg_ctl", "-D", c->datadir, "-m", "fast", "-w", "stop",
		NULL };

	if (!pgcluster_exists(c) || !pgcluster_running(c))
		return 0;
	if (run_pg(c, argv) != 0) {
		*err = xasprintf("pg_ctl stop failed; see %s", c->logfile);
		return -1;
	}
	return 0;
}

int
pgcluster_running(const struct pgcluster *c)
{
	char *argv[] = { "pg_ctl", "-D", c->datadir, "status", NULL };

	return pgcluster_exists(c) && run_pg(c, argv) == 0;
}

char *
pgcluster_url(const struct pgcluster *c)
{
	return xasprintf("postgresql:///loom?host=%s&port=%d&user=loom",
	    c->sockdir, c->port);
}
