/*
 * loom status, loom breaker: how a running Link Loom is doing, through
 * loom-api.
 *
 *   loom status                      database, daemons, queue, runs, dead
 *                                    letters, circuit breakers not closed
 *   loom breaker list                every breaker with a row (the targets
 *                                    that failed recently)
 *   loom breaker reset TARGET        close a breaker now
 *
 * All three take -o text|json and --api URL.  `status` reads
 * GET /api/v1/status once, and this host's control sockets
 * (status_procs.c); its text is a short report (a block of "Name:
 * value" lines, then a table of processes and one of breakers),
 * aligned whatever stdout is, because it is meant for eyes; -o json
 * prints the API's object as one line.  Exit status: 0 when loom-api
 * answered and the database is ok, 1 when it is not (unreachable, or
 * its schema is not the one loom-api needs), 3 when loom-api cannot be
 * reached.  `breaker list` is a list like the other list commands: a
 * table on a terminal, tab-separated rows in a pipe, JSON lines with -o
 * json.  TARGET is any http or https URL of the target: it is reduced to
 * scheme://host:port here (breaker_target_of()) and sent URL-encoded as
 * one path segment.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jv.h>

#include "core/breaker.h"
#include "cli.h"
#include "net/client.h"
#include "table.h"
#include "core/xalloc.h"

static void
status_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: loom status [-o text|json] [--api URL]\n"
	    "\n"
	    "Shows the database, the work queue, runs in progress, open\n"
	    "dead letters, the circuit breakers that are not closed, and\n"
	    "this host's daemons from their control sockets.  Exit 0: all\n"
	    "is well; 1: the database is not ok; 3: loom-api cannot be\n"
	    "reached.\n");
}

static void
breaker_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: loom breaker list [-o text|json] [--api URL]\n"
	    "       loom breaker reset TARGET [-o text|json] [--api URL]\n"
	    "\n"
	    "A circuit breaker guards one HTTP target, scheme://host:port.\n"
	    "list shows every target that failed recently (the others are\n"
	    "closed); reset closes one now, and the tasks held for it run.\n"
	    "TARGET may be any URL of the target.\n");
}

/* ---- reading API objects ---------------------------------------------- */

/*
 * "2026-11-26T04:05:06.123Z" as "2026-11-26 04:05:06", with how far it
 * is from now when rel ("in 12s", "3m ago").  "" when missing.
 */
static const char *
time_text(jv o, const char *key, int rel, char *buf, size_t len)
{
	const char *s = cli_str(o, key);
	struct tm tm;
	long d;
	char ago[32];

	buf[0] = '\0';
	if (s == NULL)
		return buf;
	snprintf(buf, len, "%.19s", s);
	if (strlen(buf) > 10 && buf[10] == 'T')
		buf[10] = ' ';
	memset(&tm, 0, sizeof(tm));
	if (!rel || strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) == NULL)
		return buf;
	d = (long)(timegm(&tm) - time(NULL));
	if (d >= 0 && d < 120)
		snprintf(ago, sizeof(ago), "in %lds", d);
	else if (d >= 0)
		snprintf(ago, sizeof(ago), "in %ldm", (d + 59) / 60);
	else if (d > -120)
		snprintf(ago, sizeof(ago), "%lds ago", -d);
	else
		snprintf(ago, sizeof(ago), "%ldm ago", -d / 60);
	snprintf(buf + strlen(buf), len - strlen(buf), " (%s)", ago);
	return buf;
}

/* ---- status ------------------------------------------------------------ */

static void
print_counts(jv q, const char *label, const char *const *keys,
    const char *const *names, size_t n)
{
	char num[32];

	printf("%-14s", label);
	if (jv_get_kind(q) != JV_KIND_OBJECT) {
		printf("-\n");
		return;
	}
	for (size_t i = 0; i < n; i++)
		printf("%s%s %s", i ? ", " : "", names[i],
		    *cli_num_text(q, keys[i], num, sizeof(num)) ? num : "-");
	printf("\n");
}

static void
print_breakers(jv list, int aligned)
{
	struct table *t = table_new(
	    6, "TARGET", "STATE", "FAILURES", "RECENT", "RETRY AT", "HELD");

	jv_array_foreach(list, i, b)
	{
		char fails[32], calls[32], failed[32], recent[80], retry[64],
		    held[32];

		cli_num_text(b, "recentCalls", calls, sizeof(calls));
		cli_num_text(b, "recentFailures", failed, sizeof(failed));
		snprintf(recent, sizeof(recent), "%s of %s failed",
		    *failed ? failed : "0", *calls ? calls : "0");
		table_add(t, cli_str(b, "target"), cli_str(b, "state"),
		    cli_num_text(
			b, "consecutiveFailures", fails, sizeof(fails)),
		    recent, time_text(b, "retryAt", 1, retry, sizeof(retry)),
		    cli_num_text(b, "heldTasks", held, sizeof(held)));
		jv_free(b);
	}
	jv_free(list);
	table_print(t, stdout, aligned);
	table_free(t);
}

static void
print_status(jv st)
{
	static const char *const qkeys[] = { "ready", "running", "retry",
		"awaitingCallback", "held" };
	static const char *const qnames[] = { "ready", "running", "retry",
		"awaiting callback", "held" };
	static const char *const rkeys[] = { "pending", "running" };
	jv db = jv_object_get(jv_copy(st), jv_string("database"));
	jv daemons = jv_object_get(jv_copy(st), jv_string("daemons"));
	jv breakers = jv_object_get(jv_copy(st), jv_string("breakers"));
	jv q = jv_object_get(jv_copy(st), jv_string("queue"));
	jv runs = jv_object_get(jv_copy(st), jv_string("runs"));
	char ver[32], num[32];

	cli_num_text(db, "schemaVersion", ver, sizeof(ver));
	if (cli_true(db, "ok"))
		printf("%-14sok, schema version %s\n", "Database:", ver);
	else
		printf("%-14sNOT OK: %s\n",
		    "Database:", cli_str_or(db, "error", "unknown"));
	print_counts(q, "Queue:", qkeys, qnames, 5);
	print_counts(runs, "Runs:", rkeys, rkeys, 2);
	cli_num_text(st, "deadLetters", num, sizeof(num));
	printf("%-14s%s open\n", "Dead letters:", *num ? num : "-");
	if (jv_get_kind(breakers) == JV_KIND_ARRAY) {
		int n = jv_array_length(jv_copy(breakers));

		if (n == 0)
			printf("%-14sall closed\n", "Breakers:");
		else
			printf("%-14s%d not closed (below)\n", "Breakers:", n);
	}
	status_processes_print(
	    jv_object_get(jv_copy(st), jv_string("processes")));
	if (jv_get_kind(breakers) == JV_KIND_ARRAY &&
	    jv_array_length(jv_copy(breakers)) > 0) {
		printf("\n");
		print_breakers(jv_copy(breakers), 1);
	}
	jv_free(db);
	jv_free(daemons);
	jv_free(breakers);
	jv_free(q);
	jv_free(runs);
	jv_free(st);
}

/* The online options (-o, --api), written out: these commands take no
 * others, not even the list options. */
static const struct option online_opts[] = {
	{ "output", required_argument, NULL, 'o' },
	{ "api", required_argument, NULL, 'A' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

int
cmd_status(int argc, char **argv)
{
	struct cli_online o = { "status", NULL, OUT_TEXT, 0 };
	struct client *c;
	jv reply, db;
	int ch, r, st, rc;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "o:h", online_opts, NULL)) != -1) {
		if ((r = cli_online_opt(&o, ch, optarg)) < 0)
			return EXIT_USAGE;
		if (r > 0)
			continue;
		if (ch == 'h') {
			status_usage(stdout);
			return EXIT_OK;
		}
		status_usage(stderr);
		return EXIT_USAGE;
	}
	if (optind != argc)
		return cli_usage_error(
		    o.cmd, "unexpected argument '%s'", argv[optind]);
	if ((c = cli_api_client(&o, &rc)) == NULL)
		return rc;
	st = client_json(c, "GET", "/api/v1/status", jv_invalid(), &reply);
	if (st != 200) {
		rc = cli_api_fail(&o, c, st, reply);
		client_free(c);
		return rc;
	}
	client_free(c);
	db = jv_get_kind(reply) == JV_KIND_OBJECT ?
	    jv_object_get(jv_copy(reply), jv_string("database")) :
	    jv_invalid();
	if (jv_get_kind(db) != JV_KIND_OBJECT) {
		jv_free(db);
		jv_free(reply);
		fprintf(stderr,
		    "loom status: unexpected reply from "
		    "loom-api\n");
		return EXIT_FAIL;
	}
	rc = cli_true(db, "ok") ? EXIT_OK : EXIT_FAIL;
	jv_free(db);
	reply =
	    jv_object_set(reply, jv_string("processes"), status_processes());
	if (o.fmt == OUT_JSON)
		json_print(stdout, reply);
	else
		print_status(reply);
	return rc;
}

/* ---- breaker ----------------------------------------------------------- */

static int
breaker_list(struct cli_online *o, struct client *c)
{
	jv reply, list;
	int st;

	st = client_json(c, "GET", "/api/v1/breakers", jv_invalid(), &reply);
	if (st != 200)
		return cli_api_fail(o, c, st, reply);
	list = jv_get_kind(reply) == JV_KIND_OBJECT ?
	    jv_object_get(reply, jv_string("breakers")) :
	    (jv_free(reply), jv_invalid());
	if (jv_get_kind(list) != JV_KIND_ARRAY) {
		jv_free(list);
		fprintf(stderr, "loom %s: unexpected reply from loom-api\n",
		    o->cmd);
		return EXIT_FAIL;
	}
	if (o->fmt == OUT_JSON) {
		json_print_lines(stdout, list);
		return EXIT_OK;
	}
	if (jv_array_length(jv_copy(list)) == 0 && table_aligned(o->text_asked))
		fprintf(stderr, "every circuit breaker is closed\n");
	print_breakers(list, table_aligned(o->text_asked));
	return EXIT_OK;
}

static int
breaker_reset(struct cli_online *o, struct client *c, const char *target)
{
	char *esc, *path, t[BREAKER_TARGET_MAX];
	jv reply;
	int st;

	/* The path carries scheme://host:port only: a URL's own path would
	 * add segments once loom-api decodes it. */
	if (breaker_target_of(target, t, sizeof(t)) < 0)
		return cli_usage_error(o->cmd,
		    "'%s' is not an http or https "
		    "URL (a target is scheme://host:port)",
		    target);
	esc = client_escape(t);
	path = xasprintf("/api/v1/breakers/%s/reset", esc);
	free(esc);
	st = client_json(c, "POST", path, jv_invalid(), &reply);
	free(path);
	if (st != 200)
		return cli_api_fail(o, c, st, reply);
	if (o->fmt == OUT_JSON)
		json_print(stdout, reply);
	else {
		const char *name = cli_str(reply, "target");

		printf("%s: %s\n", name ? name : t,
		    cli_true(reply, "reset") ?
			"reset; the breaker is closed" :
			"the breaker was closed already");
		jv_free(reply);
	}
	return EXIT_OK;
}

int
cmd_breaker(int argc, char **argv)
{
	struct cli_online o = { "breaker", NULL, OUT_TEXT, 0 };
	struct client *c;
	const char *sub;
	char cmdname[32];
	int ch, r, rc, nargs;

	if (argc < 2)
		return cli_usage_error("breaker",
		    "missing subcommand (list, "
		    "reset)");
	sub = argv[1];
	if (cli_is_help(sub)) {
		breaker_usage(stdout);
		return EXIT_OK;
	}
	if (strcmp(sub, "list") && strcmp(sub, "reset"))
		return cli_usage_error(
		    "breaker", "unknown subcommand '%s'", sub);
	snprintf(cmdname, sizeof(cmdname), "breaker %s", sub);
	o.cmd = cmdname;
	optind = 0; /* a fresh scan; argv[0] is the subcommand */
	while ((ch = getopt_long(
		    argc - 1, argv + 1, "o:h", online_opts, NULL)) != -1) {
		if ((r = cli_online_opt(&o, ch, optarg)) < 0)
			return EXIT_USAGE;
		if (r > 0)
			continue;
		if (ch == 'h') {
			breaker_usage(stdout);
			return EXIT_OK;
		}
		breaker_usage(stderr);
		return EXIT_USAGE;
	}
	nargs = argc - 1 - optind;
	if (!strcmp(sub, "list") && nargs != 0)
		return cli_usage_error(
		    o.cmd, "unexpected argument '%s'", argv[1 + optind]);
	if (!strcmp(sub, "reset") && nargs != 1)
		return cli_usage_error(o.cmd,
		    nargs ? "one TARGET only" :
			    "missing TARGET (e.g. http://host:8080)");
	if ((c = cli_api_client(&o, &rc)) == NULL)
		return rc;
	if (!strcmp(sub, "list"))
		rc = breaker_list(&o, c);
	else
		rc = breaker_reset(&o, c, argv[1 + optind]);
	client_free(c);
	return rc;
}
