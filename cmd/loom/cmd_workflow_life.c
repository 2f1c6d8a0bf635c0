/*
 * loom workflow delete|pause|unpause|history.
 *
 *   loom workflow delete ID [--force]
 *   loom workflow pause ID
 *   loom workflow unpause ID
 *   loom workflow history ID [--status S] [--since T] [--until T]
 *                            [--limit N] [--cursor C | --all]
 *
 * cmd_workflow() (cmd_workflow.c) hands these subcommands here with its
 * own argc/argv; history is a paged list of the workflow's executions
 * (execlist.c).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jv.h>

#include "cli.h"
#include "net/client.h"
#include "table.h"
#include "core/xalloc.h"

static void
lifecycle_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: loom workflow delete ID [--force]\n"
	    "       loom workflow pause ID\n"
	    "       loom workflow unpause ID\n"
	    "       loom workflow history ID [--status S] [--since T] "
	    "[--until T]\n"
	    "                                [--limit N] [--cursor C | "
	    "--all]\n"
	    "\n"
	    "All take -o text|json and --api URL.  delete refuses while\n"
	    "executions are PENDING or RUNNING; --force cancels them first.\n"
	    "A paused workflow is not fired by schedules, and 'trigger'\n"
	    "refuses it without --force.  T is an ISO 8601 time\n"
	    "(2026-11-26, 2026-11-26T04:05:06Z) or a duration ago (90m, 2d).\n"
	    "N is the page size, 1..1000 (default 50).\n");
}

/* ---- delete, pause, unpause ------------------------------------------- */

static int
workflow_delete(
    const struct cli_online *o, struct client *c, const char *id, int force)
{
	char *eid = client_escape(id), *path;
	jv reply, cancelled;
	int st, n = 0;

	path = xasprintf(
	    "/api/v1/workflows/%s%s", eid, force ? "?force=true" : "");
	free(eid);
	st = client_json(c, "DELETE", path, jv_invalid(), &reply);
	free(path);
	if (st != 200)
		return cli_api_fail(o, c, st, reply);
	if (o->fmt == OUT_JSON) {
		json_print(stdout, reply);
		return EXIT_OK;
	}
	cancelled = jv_object_get(jv_copy(reply), jv_string("cancelled"));
	if (jv_get_kind(cancelled) == JV_KIND_ARRAY)
		n = jv_array_length(jv_copy(cancelled));
	printf("%s: deleted", id);
	if (n > 0) {
		printf("; cancelling %d execution%s:", n, n == 1 ? "" : "s");
		jv_array_foreach(cancelled, i, x)
		{
			if (jv_get_kind(x) == JV_KIND_STRING)
				printf(" %s", jv_string_value(x));
			jv_free(x);
		}
	}
	printf("\n");
	jv_free(cancelled);
	jv_free(reply);
	return EXIT_OK;
}

static int
workflow_pause(
    const struct cli_online *o, struct client *c, const char *id, int pause)
{
	char *eid = client_escape(id), *path;
	jv reply, changed;
	int st, was_changed;

	path = xasprintf(
	    "/api/v1/workflows/%s/%s", eid, pause ? "pause" : "unpause");
	free(eid);
	st = client_json(c, "POST", path, jv_invalid(), &reply);
	free(path);
	if (st != 200)
		return cli_api_fail(o, c, st, reply);
	if (o->fmt == OUT_JSON) {
		json_print(stdout, reply);
		return EXIT_OK;
	}
	changed = jv_object_get(jv_copy(reply), jv_string("changed"));
	was_changed = jv_get_kind(changed) != JV_KIND_FALSE;
	jv_free(changed);
	printf("%s: %s%s\n", id, was_changed ? "" : "already ",
	    pause ? "paused" : "unpaused");
	jv_free(reply);
	return EXIT_OK;
}

/* ---- dispatch ---------------------------------------------------------- */

int
cli_workflow_lifecycle(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_ONLINE_OPTIONS,
		CLI_LIST_OPTIONS,
		{ "force", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sub = argv[1];
	struct cli_online o = { "workflow", NULL, OUT_TEXT, 0 };
	struct cli_list_query q;
	struct client *c = NULL;
	char cmdname[64];
	int ch, r, force = 0, rc = EXIT_USAGE;

	memset(&q, 0, sizeof(q));
	snprintf(cmdname, sizeof(cmdname), "workflow %s", sub);
	o.cmd = cmdname;
	optind = 0; /* a fresh scan; argv[0] is the subcommand */
	while (
	    (ch = getopt_long(argc - 1, argv + 1, "o:hn:", opts, NULL)) != -1) {
		if ((r = cli_online_opt(&o, ch, optarg)) < 0)
			return EXIT_USAGE;
		if (r > 0)
			continue;
		if ((r = cli_list_opt(&q, o.cmd, ch, optarg)) < 0)
			return EXIT_USAGE;
		if (r > 0)
			continue;
		switch (ch) {
		case 'h':
			lifecycle_usage(stdout);
			return EXIT_OK;
		case 'f':
			force = 1;
			break;
		default:
			return cli_usage_error(o.cmd, "bad option");
		}
	}
	argc -= optind + 1;
	argv += optind + 1;
	if (argc != 1)
		return cli_usage_error(o.cmd,
		    argc ? "one workflow ID only" : "missing workflow ID");
	if (strcmp(sub, "history") && cli_list_query_set(&q))
		return cli_usage_error(o.cmd,
		    "--status, --since, --until, "
		    "--limit, --cursor and --all are for 'history'");
	if (strcmp(sub, "delete") && force)
		return cli_usage_error(o.cmd,
		    "--force is for 'delete' (and "
		    "'trigger')");
	if (q.all && q.cursor)
		return cli_usage_error(o.cmd,
		    "--cursor and --all do not go "
		    "together");

	if ((c = cli_api_client(&o, &rc)) == NULL)
		return rc;
	if (!strcmp(sub, "delete"))
		rc = workflow_delete(&o, c, argv[0], force);
	else if (!strcmp(sub, "pause") || !strcmp(sub, "unpause"))
		rc = workflow_pause(&o, c, argv[0], !strcmp(sub, "pause"));
	else {
		char *eid = client_escape(argv[0]);
		char *path = xasprintf("/api/v1/workflows/%s/history", eid);

		free(eid);
		rc = cli_execution_list(&o, c, path, &q);
		free(path);
	}
	client_free(c);
	return rc;
}
