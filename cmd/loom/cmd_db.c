/*
 * loom db: the database behind Link Loom.
 *
 *   loom db migrate [--db URL]          apply missing schema migrations
 *   loom db status  [--db URL] [-o json] schema version, what is missing
 *   loom db prune   --older-than DUR [--workflow ID] [--dry-run] [--db URL]
 *                                       remove the runs that ended long ago
 *   loom db start   [--state-dir DIR]   start the private cluster (as loom up)
 *   loom db stop    [--state-dir DIR]
 *   loom db url     [--state-dir DIR]   print the private cluster's URL
 *
 * start/stop/url manage the embedded PostgreSQL cluster that `loom up`
 * uses, so scripts and tests can have the database without the daemons.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jv.h>

#include "cli.h"
#include "util/config.h"
#include "store/db.h"
#include "store/pgcluster.h"

static void
db_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: loom db migrate [--db URL]\n"
	    "       loom db status [--db URL] [-o text|json]\n"
	    "       loom db prune --older-than DURATION [--workflow ID] "
	    "[--dry-run]\n"
	    "                     [--db URL] [-o text|json]\n"
	    "       loom db start|stop|url [--state-dir DIR] [--port N] "
	    "[--fast]\n"
	    "\n"
	    "--db defaults to $LOOM_DATABASE_URL, the config key "
	    "database.url,\n"
	    "then %s.  --state-dir defaults to $LOOM_STATE_DIR, then\n"
	    "/var/lib/loom as root, else $XDG_STATE_HOME/loom.\n",
	    DB_DEFAULT_URL);
}

static int
db_migrate_cmd(const char *url, enum output_format fmt, int migrate)
{
	char *err = NULL;
	PGconn *c = db_connect(url, "loom", &err);
	int from, to, rc = EXIT_OK;

	if (c == NULL) {
		fprintf(stderr, "loom db: %s\n", err);
		free(err);
		return EXIT_UNREACHABLE;
	}
	if (migrate) {
		if (db_migrate(c, &from, &to, &err) < 0) {
			fprintf(stderr, "loom db migrate: %s\n", err);
			rc = EXIT_FAIL;
		} else if (fmt == OUT_JSON)
			printf("{\"from\":%d,\"to\":%d}\n", from, to);
		else if (from == to)
			printf("schema is up to date (version %d)\n", to);
		else
			printf("migrated schema from version %d to %d\n", from,
			    to);
	} else {
		from = db_schema_version(c, &err);
		if (from < 0) {
			fprintf(stderr, "loom db status: %s\n", err);
			rc = EXIT_FAIL;
		} else {
			char *why = NULL;
			int current = db_schema_check(c, &why) == 0;

			if (fmt == OUT_JSON)
				printf("{\"version\":%d,\"latest\":%d,"
				       "\"current\":%s}\n",
				    from, db_schema_latest(),
				    current ? "true" : "false");
			else if (current)
				printf("schema version %d (current)\n", from);
			else
				printf("schema version %d: %s\n", from, why);
			free(why);
			if (!current)
				rc = EXIT_FAIL;
		}
	}
	free(err);
	PQfinish(c);
	return rc;
}

/* What `loom db`'s options asked for. */
struct db_opts {
	const char *url;       /* --db, or NULL: the config's */
	const char *state_dir; /* --state-dir, or NULL */
	int port;	       /* --port, or 0 */
	int fast;	       /* --fast */
	const char *older;     /* --older-than (prune) */
	const char *workflow;  /* --workflow (prune) */
	int dry_run;	       /* --dry-run (prune) */
	enum output_format fmt;
};

/*
 * Parses the options (before or after the subcommand) into o; optind is
 * left at the subcommand.  Returns -1 to go on, else the exit code to
 * return (--help, or a usage error already printed).
 */
static int
db_parse_opts(int argc, char **argv, struct db_opts *o)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'D' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "port", required_argument, NULL, 'p' },
		{ "fast", no_argument, NULL, 'f' },
		{ "older-than", required_argument, NULL, 'O' },
		{ "workflow", required_argument, NULL, 'w' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'D':
			o->url = optarg;
			break;
		case 's':
			o->state_dir = optarg;
			break;
		case 'p':
			o->port = atoi(optarg);
			if (o->port <= 0 || o->port > 65535)
				return cli_usage_error(
				    "db", "bad --port '%s'", optarg);
			break;
		case 'f':
			o->fast = 1;
			break;
		case 'O':
			o->older = optarg;
			break;
		case 'w':
			o->workflow = optarg;
			break;
		case 'n':
			o->dry_run = 1;
			break;
		case 'o':
			if (cli_parse_output("db", optarg, &o->fmt) < 0)
				return EXIT_USAGE;
			break;
		case 'h':
			db_usage(stdout);
			return EXIT_OK;
		default:
			return cli_usage_error("db", "bad option");
		}
	}
	return -1;
}

/* `loom db migrate|status|prune` on --db or the configured database. */
static int
db_schema_cmd(const char *sub, const struct db_opts *o)
{
	struct config *cfg;
	struct diags d;
	int rc;

	diags_init(&d);
	if ((cfg = config_load(NULL, &d)) == NULL) {
		diags_print(&d, stderr);
		diags_clear(&d);
		return EXIT_FAIL;
	}
	if (!strcmp(sub, "prune"))
		rc = db_prune_cmd(o->url ? o->url : db_url(cfg), o->older,
		    o->workflow, o->dry_run, o->fmt);
	else
		rc = db_migrate_cmd(o->url ? o->url : db_url(cfg), o->fmt,
		    !strcmp(sub, "migrate"));
	config_free(cfg);
	return rc;
}

/* `loom db start|stop|url` on the private cluster; prints its URL but
 * after stop. */
static int
db_cluster_cmd(const char *sub, const struct db_opts *o)
{
	struct pgcluster pc;
	char *err = NULL, *dir;
	int rc;

	if ((dir = cli_state_dir(o->state_dir)) == NULL)
		return EXIT_SYSTEM;
	if (pgcluster_prepare(&pc, dir, o->port, &err) < 0) {
		fprintf(stderr, "loom db %s: %s\n", sub, err);
		free(err);
		free(dir);
		return EXIT_SYSTEM;
	}
	free(dir);
	pc.fast = o->fast;
	rc = EXIT_OK;
	if (!strcmp(sub, "start")) {
		if (pgcluster_start(&pc, &err) < 0)
			rc = EXIT_FAIL;
	} else if (!strcmp(sub, "stop")) {
		if (pgcluster_stop(&pc, &err) < 0)
			rc = EXIT_FAIL;
	}
	if (rc == EXIT_OK && strcmp(sub, "stop")) {
		char *u = pgcluster_url(&pc);

		printf("%s\n", u);
		free(u);
	}
	if (rc != EXIT_OK) {
		fprintf(stderr, "loom db %s: %s\n", sub, err);
		free(err);
	}
	pgcluster_release(&pc);
	return rc;
}

int
cmd_db(int argc, char **argv)
{
	struct db_opts o;
	const char *sub;
	int rc;

	memset(&o, 0, sizeof(o));
	o.fmt = OUT_TEXT;
	if ((rc = db_parse_opts(argc, argv, &o)) >= 0)
		return rc;
	if (optind >= argc)
		return cli_usage_error("db",
		    "missing subcommand (migrate, "
		    "status, prune, start, stop, url)");
	sub = argv[optind];
	if (strcmp(sub, "prune") &&
	    (o.older != NULL || o.workflow != NULL || o.dry_run))
		return cli_usage_error("db",
		    "--older-than, --workflow and --dry-run are for prune");
	if (!strcmp(sub, "migrate") || !strcmp(sub, "status") ||
	    !strcmp(sub, "prune"))
		return db_schema_cmd(sub, &o);
	if (strcmp(sub, "start") && strcmp(sub, "stop") && strcmp(sub, "url"))
		return cli_usage_error("db", "unknown subcommand '%s'", sub);
	return db_cluster_cmd(sub, &o);
}
