/*
 * loom workflow delete|pause|unpause|history, and the paged list of
 * executions that `loom workflow history` and `loom execution list` share.
 *
 *   loom workflow delete ID [--force]
 *   loom workflow pause ID
 *   loom workflow unpause ID
 *   loom workflow history ID [--status S] [--since T] [--until T]
 *                            [--limit N] [--cursor C | --all]
 *
 * cmd_workflow() (cmd_workflow.c) hands these subcommands here with its
 * own argc/argv.  Lists come a page at a time (GET ...?limit=N&cursor=C,
 * answered with "nextCursor"); --all follows the cursors to the end, and
 * without it a list that has more says how to get the next page on
 * standard error when that is a terminal.  JSON output is one execution
 * per line as pages arrive; text is one table, so --all holds the rows
 * until the last page.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jv.h>

#include "cli.h"
#include "net/client.h"
#include "table.h"
#include "core/xalloc.h"

static const char *const run_states[] = {
	"PENDING", "RUNNING", "SUCCESS", "FAILED", "CANCELLED", NULL,
};

static void
workflow2_usage(FILE *fp)
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

/* ---- reading API objects ---------------------------------------------- */

static const char *
took_text(jv o, char *buf, size_t len)
{
	int64_t a = cli_iso_ms(cli_str(o, "startedAt"));
	int64_t b = cli_iso_ms(cli_str(o, "completedAt"));
	int64_t ms = a >= 0 && b >= a ? b - a : -1;

	if (ms < 0)
		snprintf(buf, len, "-");
	else if (ms < 1000)
		snprintf(buf, len, "%lldms", (long long)ms);
	else if (ms < 60000)
		snprintf(buf, len, "%.1fs", ms / 1000.0);
	else if (ms < 3600000)
		snprintf(buf, len, "%lldm%02llds", (long long)(ms / 60000),
		    (long long)(ms / 1000 % 60));
	else
		snprintf(buf, len, "%lldh%02lldm", (long long)(ms / 3600000),
		    (long long)(ms / 60000 % 60));
	return buf;
}

static const char *
time_text(jv o, const char *key, char *buf, size_t len)
{
	const char *s = cli_str(o, key);

	snprintf(buf, len, "%.19s", s ? s : "");
	if (strlen(buf) > 10 && buf[10] == 'T')
		buf[10] = ' ';
	return buf;
}

/* ---- the paged list (cli.h) ------------------------------------------- */

int
cli_list_opt(struct cli_list_query *q, const char *cmd, int ch,
    const char *arg)
{
	char *end;
	long l;
	size_t k;

	switch (ch) {
	case 's':
		for (k = 0; arg[k] && k + 1 < sizeof(q->status); k++)
			q->status[k] = (char)(arg[k] >= 'a' && arg[k] <= 'z' ?
			    arg[k] - 'a' + 'A' : arg[k]);
		q->status[k] = '\0';
		for (k = 0; run_states[k]; k++)
			if (!strcmp(run_states[k], q->status))
				break;
		if (run_states[k] == NULL || arg[strlen(q->status)]) {
			cli_usage_error(cmd, "bad --status '%s' (PENDING, "
			    "RUNNING, SUCCESS, FAILED or CANCELLED)", arg);
			return -1;
		}
		return 1;
	case 'n':
		errno = 0;
		l = strtol(arg, &end, 10);
		if (errno || *end || end == arg || l < 1 || l > 1000) {
			cli_usage_error(cmd, "bad --limit '%s' (1..1000)", arg);
			return -1;
		}
		q->limit = (int)l;
		return 1;
	case 'S':
		q->since = arg;
		return 1;
	case 'U':
		q->until = arg;
		return 1;
	case 'C':
		q->cursor = arg;
		return 1;
	case 'a':
		q->all = 1;
		return 1;
	}
	return 0;
}

int
cli_list_query_set(const struct cli_list_query *q)
{
	return q->status[0] || q->limit || q->since || q->until ||
	    q->cursor || q->all;
}

/* path?query for one page: path's own '?' respected, values escaped. */
static char *
page_path(const char *path, const struct cli_list_query *q,
    const char *cursor)
{
	const char *keys[] = { "workflow", "status", "since", "until",
		"cursor" };
	const char *vals[] = { q->workflow, q->status[0] ? q->status : NULL,
		q->since, q->until, cursor };
	char *out = xstrdup(path), *n, *e;
	const char *sep = strchr(path, '?') ? "&" : "?";

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (vals[i] == NULL || *vals[i] == '\0')
			continue;
		e = client_escape(vals[i]);
		n = xasprintf("%s%s%s=%s", out, sep, keys[i], e);
		free(e);
		free(out);
		out = n;
		sep = "&";
	}
	if (q->limit > 0) {
		n = xasprintf("%s%slimit=%d", out, sep, q->limit);
		free(out);
		out = n;
	}
	return out;
}

int
cli_execution_list(const struct cli_online *o, struct client *c,
    const char *path, const struct cli_list_query *q)
{
	struct table *t = NULL;
	char *cursor = q->cursor ? xstrdup(q->cursor) : NULL, *p;
	jv reply, list;
	int st, rc = EXIT_OK;

	if (o->fmt == OUT_TEXT)
		t = table_new(7, "ID", "WORKFLOW", "VERSION", "STATUS",
		    "TRIGGER", "CREATED", "DURATION");
	for (;;) {
		char *asked = cursor;

		p = page_path(path, q, cursor);
		st = client_json(c, "GET", p, jv_invalid(), &reply);
		free(p);
		cursor = NULL;
		if (st != 200) {
			free(asked);
			rc = cli_api_fail(o, c, st, reply);
			goto out;
		}
		if (cli_str(reply, "nextCursor"))
			cursor = xstrdup(cli_str(reply, "nextCursor"));
		/* A server that gives back the cursor it was given would
		 * have --all ask for the same page for ever. */
		if (cursor && asked && strcmp(cursor, asked) == 0) {
			free(asked);
			jv_free(reply);
			fprintf(stderr, "loom %s: loom-api gave the same page "
			    "twice; stopping\n", o->cmd);
			rc = EXIT_FAIL;
			goto out;
		}
		free(asked);
		list = jv_object_get(reply, jv_string("executions"));
		if (jv_get_kind(list) != JV_KIND_ARRAY) {
			jv_free(list);
			fprintf(stderr, "loom %s: unexpected reply from "
			    "loom-api\n", o->cmd);
			rc = EXIT_FAIL;
			goto out;
		}
		if (o->fmt == OUT_JSON) {
			json_print_lines(stdout, list);
			fflush(stdout);
		} else {
			jv_array_foreach(list, i, x) {
				char ver[16], created[32], took[32];

				snprintf(ver, sizeof(ver), "%ld",
				    cli_num(x, "workflowVersion", 0));
				table_add(t, cli_str(x, "id"),
				    cli_str(x, "workflowId"), ver,
				    cli_str(x, "status"), cli_str(x, "trigger"),
				    time_text(x, "createdAt", created,
				    sizeof(created)), took_text(x, took,
				    sizeof(took)));
				jv_free(x);
			}
			jv_free(list);
		}
		if (cursor == NULL || !q->all)
			break;
	}
	if (t != NULL) {
		table_print(t, stdout, table_aligned(o->text_asked));
		if (table_rows(t) == 0 && table_aligned(o->text_asked))
			fprintf(stderr, "no executions%s\n", q->workflow ||
			    q->status[0] || q->since || q->until ||
			    q->cursor ? " match" : " yet: start one with "
			    "'loom workflow trigger ID'");
	}
	/* A hint for people; scripts that want pages ask for --all. */
	if (cursor != NULL && isatty(STDERR_FILENO))
		fprintf(stderr, "loom %s: more on the next page: add "
		    "--cursor %s (or --all for every page)\n", o->cmd, cursor);
out:
	free(cursor);
	table_free(t);
	return rc;
}

/* ---- delete, pause, unpause ------------------------------------------- */

static int
workflow_delete(const struct cli_online *o, struct client *c,
    const char *id, int force)
{
	char *eid = client_escape(id), *path;
	jv reply, cancelled;
	int st, n = 0;

	path = xasprintf("/api/v1/workflows/%s%s", eid, force ?
	    "?force=true" : "");
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
		jv_array_foreach(cancelled, i, x) {
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
workflow_pause(const struct cli_online *o, struct client *c,
    const char *id, int pause)
{
	char *eid = client_escape(id), *path;
	jv reply, changed;
	int st, was_changed;

	path = xasprintf("/api/v1/workflows/%s/%s", eid, pause ? "pause" :
	    "unpause");
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
cli_workflow_more(int argc, char **argv)
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
	optind = 0;	/* a fresh scan; argv[0] is the subcommand */
	while ((ch = getopt_long(argc - 1, argv + 1, "o:hn:", opts, NULL)) !=
	    -1) {
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
			workflow2_usage(stdout);
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
		return cli_usage_error(o.cmd, argc ? "one workflow ID only" :
		    "missing workflow ID");
	if (strcmp(sub, "history") && cli_list_query_set(&q))
		return cli_usage_error(o.cmd, "--status, --since, --until, "
		    "--limit, --cursor and --all are for 'history'");
	if (strcmp(sub, "delete") && force)
		return cli_usage_error(o.cmd, "--force is for 'delete' (and "
		    "'trigger')");
	if (q.all && q.cursor)
		return cli_usage_error(o.cmd, "--cursor and --all do not go "
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
