/*
 * loom-exec: decides where and how tasks run (http, shell, java), with
 * timeouts, and reports their results.  Two modes: the database mode
 * (the default; dbmode.c) claims READY tasks from PostgreSQL, and --stdin
 * (stdin.c) takes task requests as JSON lines in and writes results as JSON
 * lines out, with no database.  See loom-exec(8).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/config.h"
#include "dbmode.h"
#include "exec.h"
#include "util/log.h"

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: loom-exec [--stdin] [-dnv] [-C SOCKET] [-c FILE] [-j N] "
	    "[-N NAME]\n");
}

/* exec.* keys of loom.conf(5); -j wins over exec.concurrency. */
static int
opts_load(struct exec_opts *o, const struct config *cfg, long jobs)
{
	char *err;
	long n;

	memset(o, 0, sizeof(*o));
	if (config_get_int(cfg, "exec.concurrency", 16, &n) < 0 || n < 1) {
		log_warnx("exec.concurrency: expected a number >= 1");
		return -1;
	}
	o->jobs = (int)(jobs > 0 ? jobs : n);
	if (config_get_int(cfg, "exec.max_host_connections",
		RUNNER_DEFAULT_HOST_CONNECTIONS, &n) < 0 ||
	    n < 1) {
		log_warnx("exec.max_host_connections: expected a number >= 1");
		return -1;
	}
	o->rc.max_host_connections = (int)n;
	if (config_get_duration(cfg, "exec.kill_grace",
		RUNNER_DEFAULT_KILL_GRACE_MS, &o->rc.kill_grace_ms) < 0 ||
	    o->rc.kill_grace_ms < 1) {
		log_warnx("exec.kill_grace: expected a duration like 5s");
		return -1;
	}
	o->rc.user_agent = config_get(cfg, "exec.user_agent", NULL);
	o->rc.callback_base_url = config_get(cfg, "exec.callback_url", NULL);
	o->rc.pass_env = config_get(cfg, "exec.pass_env", NULL);
	if (runner_pass_env_check(o->rc.pass_env, &err) < 0) {
		log_warnx("exec.pass_env: %s", err);
		free(err);
		return -1;
	}
	return 0;
}

/* What the command line asked for. */
struct args {
	const char *path;     /* -c; NULL: the default */
	enum log_level level; /* -d, -v: debug */
	long jobs;	      /* -j; 0: not given */
	int check;	      /* -n */
	int stdin_mode;	      /* --stdin */
	const char *name;     /* --name; NULL: not given */
	const char *ctl;      /* -C; NULL: not given */
};

/* Reads the options into a; returns -1 to go on, else the exit status. */
static int
parse_args(int argc, char **argv, struct args *a)
{
	static const struct option longopts[] = {
		{ "stdin", no_argument, NULL, 'S' },
		{ "name", required_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;
	char *end;

	memset(a, 0, sizeof(*a));
	a->level = LOG_LVL_INFO;
	while ((ch = getopt_long(argc, argv, "C:c:dj:nN:vh", longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'C':
			a->ctl = optarg;
			break;
		case 'c':
			a->path = optarg;
			break;
		case 'd':
		case 'v':
			a->level = LOG_LVL_DEBUG;
			break;
		case 'j':
			a->jobs = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || a->jobs < 1 ||
			    a->jobs > 100000) {
				fprintf(stderr,
				    "loom-exec: -j wants a number "
				    "from 1 to 100000\n");
				return EXEC_USAGE;
			}
			break;
		case 'n':
			a->check = 1;
			break;
		case 'N':
			if (*optarg == '\0' || strlen(optarg) > 200) {
				fprintf(stderr,
				    "loom-exec: --name wants 1 to "
				    "200 characters\n");
				return EXEC_USAGE;
			}
			a->name = optarg;
			break;
		case 'S':
			a->stdin_mode = 1;
			break;
		case 'h':
			usage(stdout);
			return EXEC_OK;
		default:
			usage(stderr);
			return EXEC_USAGE;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return EXEC_USAGE;
	}
	return -1;
}

/*
 * Loads loom.conf and sets logging from it (-d wins over log.level).
 * Returns the configuration (the caller frees it), or NULL after saying
 * what is wrong.
 */
static struct config *
load_config(const struct args *a)
{
	struct config *cfg;
	struct diags d;
	const char *lvl;
	enum log_level level = a->level;

	diags_init(&d);
	if ((cfg = config_load(a->path, &d)) == NULL) {
		diags_print(&d, stderr);
		diags_clear(&d);
		return NULL;
	}
	if ((lvl = config_get(cfg, "log.level", NULL)) &&
	    level != LOG_LVL_DEBUG && log_level_parse(lvl, &level) < 0) {
		log_warnx("log.level: unknown level '%s'", lvl);
		config_free(cfg);
		return NULL;
	}
	log_set_level(level);
	log_set_json(config_get(cfg, "log.format", "text")[0] == 'j');
	return cfg;
}

int
main(int argc, char **argv)
{
	struct args a;
	struct exec_opts o;
	struct config *cfg;
	int rc;

	log_init("loom-exec", LOG_LVL_INFO);
	if ((rc = parse_args(argc, argv, &a)) >= 0)
		return rc;
	if ((cfg = load_config(&a)) == NULL)
		return EXEC_USAGE;
	if (opts_load(&o, cfg, a.jobs) < 0) {
		config_free(cfg);
		return EXEC_USAGE;
	}
	o.name = a.name;
	o.ctl_opt = a.ctl;
	if (!a.stdin_mode) /* the daemon: dbmode.c */
		rc = exec_db_run(&o, cfg, a.jobs, a.check);
	else if (a.check) {
		printf("configuration ok\n");
		rc = EXEC_OK;
	} else
		rc = exec_stdin_run(&o);
	config_free(cfg);
	return rc;
}
