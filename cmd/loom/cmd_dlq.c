/*
 * loom dlq: the dead-letter queue, through loom-api (see loom(1) and the
 * /api/v1/dead-letters routes of loom-api(8)).
 *
 *   loom dlq list [--workflow W] [--execution E] [--all] [--limit N]
 *   loom dlq show ID
 *   loom dlq replay ID [--wait [--timeout DUR]]
 *   loom dlq discard ID
 *
 * A task that ends DEAD (its attempts used up, or an error its policy does
 * not retry) leaves a dead letter with its last request and error.  list
 * shows the open ones (--all: the resolved ones too); replay runs the task
 * again with a fresh attempt budget and resumes its execution, together
 * with the tasks that were skipped because of it (the answer, and the
 * output, name them); discard closes the letter and leaves the run alone.
 * replay shares cli_control_done() with the run controls (cmd_task.c).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jv.h>

#include "cli.h"
#include "net/client.h"
#include "core/duration.h"
#include "table.h"
#include "core/xalloc.h"

static void
dlq_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: loom dlq list [--workflow W] [--execution E] [--all] "
	    "[--limit N]\n"
	    "       loom dlq show ID\n"
	    "       loom dlq replay ID [--wait [--timeout DUR]]\n"
	    "       loom dlq discard ID\n"
	    "\n"
	    "Every subcommand takes -o text|json and --api URL.  list shows\n"
	    "the open dead letters, newest first (--all: resolved ones too;\n"
	    "N is 1..1000, default 50).  replay runs the dead task again\n"
	    "with a fresh attempt budget and resumes its execution; --wait\n"
	    "exits 0 when the execution then succeeds, else 1.  discard\n"
	    "closes the letter without running anything.\n");
}

/* "/api/v1/dead-letters/ID[/what]" with ID escaped. */
static char *
dl_path(const char *id, const char *what)
{
	char *e = client_escape(id), *p;

	p = xasprintf("/api/v1/dead-letters/%s%s%s", e, what ? "/" : "",
	    what ? what : "");
	free(e);
	return p;
}

/* Appends "&key=value" (or "?key=value") to *path. */
static void
add_query(char **path, const char *key, const char *value)
{
	char *e = client_escape(value), *n;

	n = xasprintf(
	    "%s%c%s=%s", *path, strchr(*path, '?') ? '&' : '?', key, e);
	free(e);
	free(*path);
	*path = n;
}

/* ---- list, show --------------------------------------------------------- */

static int
dlq_list(const struct cli_online *o, struct client *c, const char *wf,
    const char *ex, int all, int limit)
{
	char *path = xstrdup("/api/v1/dead-letters"), num[16];
	struct table *t;
	jv reply, list;
	int st;

	if (wf)
		add_query(&path, "workflow", wf);
	if (ex)
		add_query(&path, "execution", ex);
	if (all)
		add_query(&path, "all", "true");
	if (limit > 0) {
		snprintf(num, sizeof(num), "%d", limit);
		add_query(&path, "limit", num);
	}
	st = client_json(c, "GET", path, jv_invalid(), &reply);
	free(path);
	if (st != 200)
		return cli_api_fail(o, c, st, reply);
	list = jv_object_get(reply, jv_string("deadLetters"));
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
	t = table_new(8, "ID", "EXECUTION", "WORKFLOW", "TASK", "ATTEMPTS",
	    "STATUS", "CREATED", "ERROR");
	jv_array_foreach(list, i, x)
	{
		char id[32], att[32], created[32],
		    *err = cli_error_text(x, "error");

		table_add(t, cli_num_text(x, "id", id, sizeof(id)),
		    cli_str(x, "executionId"), cli_str(x, "workflowId"),
		    cli_str(x, "taskId"),
		    cli_num_text(x, "attempts", att, sizeof(att)),
		    cli_str(x, "status"),
		    cli_time_text(x, "createdAt", created, sizeof(created)),
		    err);
		free(err);
		jv_free(x);
	}
	jv_free(list);
	table_print(t, stdout, table_aligned(o->text_asked));
	if (table_rows(t) == 0 && table_aligned(o->text_asked))
		fprintf(stderr, "no %sdead letters%s\n", all ? "" : "open ",
		    wf || ex ? " match" : "");
	table_free(t);
	return EXIT_OK;
}

static int
dlq_show(const struct cli_online *o, struct client *c, const char *id)
{
	char *path = dl_path(id, NULL), *err, b[64], v[32];
	jv reply, req;
	int st;

	st = client_json(c, "GET", path, jv_invalid(), &reply);
	free(path);
	if (st != 200)
		return cli_api_fail(o, c, st, reply);
	if (o->fmt == OUT_JSON) {
		json_print(stdout, reply);
		return EXIT_OK;
	}
	printf("Dead letter: %s\n",
	    *cli_num_text(reply, "id", b, sizeof(b)) ? b : id);
	printf("Status:      %s", cli_str_or(reply, "status", "?"));
	if (cli_str(reply, "resolvedAt"))
		printf(
		    " (%s)", cli_time_text(reply, "resolvedAt", b, sizeof(b)));
	printf("\n");
	printf("Execution:   %s (%s)\n", cli_str_or(reply, "executionId", "?"),
	    cli_str_or(reply, "executionStatus", "?"));
	printf("Workflow:    %s (version %s)\n",
	    cli_str_or(reply, "workflowId", "?"),
	    *cli_num_text(reply, "workflowVersion", v, sizeof(v)) ? v : "?");
	printf("Task:        %s (now %s)\n", cli_str_or(reply, "taskId", "?"),
	    cli_str_or(reply, "taskState", "?"));
	printf("Attempts:    %s\n",
	    *cli_num_text(reply, "attempts", v, sizeof(v)) ? v : "?");
	if ((err = cli_error_text(reply, "error")) != NULL)
		printf("Error:       %s\n", err);
	free(err);
	printf("Created:     %s\n",
	    cli_time_text(reply, "createdAt", b, sizeof(b)));
	req = jv_object_get(jv_copy(reply), jv_string("request"));
	if (jv_is_valid(req) && jv_get_kind(req) != JV_KIND_NULL) {
		jv s = jv_dump_string(
		    req, JV_PRINT_PRETTY | JV_PRINT_INDENT_FLAGS(2));

		printf("Request:\n%s\n", jv_string_value(s));
		jv_free(s);
	} else
		jv_free(req);
	jv_free(reply);
	return EXIT_OK;
}

/* ---- replay, discard ---------------------------------------------------- */

static int
dlq_replay(const struct cli_online *o, struct client *c, const char *id,
    int wait, int64_t timeout_ms)
{
	char *path = dl_path(id, "replay");
	jv reply;
	int st;

	st = client_json(c, "POST", path, jv_invalid(), &reply);
	free(path);
	if (st != 202 && st != 200)
		return cli_api_fail(o, c, st, reply);
	if (o->fmt == OUT_TEXT)
		printf("dead letter %s: ", id);
	return cli_control_done(o, c, "replay", reply, wait, timeout_ms);
}

static int
dlq_discard(const struct cli_online *o, struct client *c, const char *id)
{
	char *path = dl_path(id, "discard");
	jv reply;
	int st;

	st = client_json(c, "POST", path, jv_invalid(), &reply);
	free(path);
	if (st != 200)
		return cli_api_fail(o, c, st, reply);
	if (o->fmt == OUT_JSON)
		json_print(stdout, reply);
	else {
		printf("dead letter %s discarded (task %s of %s stays %s)\n",
		    id, cli_str_or(reply, "taskId", "?"),
		    cli_str_or(reply, "executionId", "?"),
		    cli_str_or(reply, "taskState", "?"));
		jv_free(reply);
	}
	return EXIT_OK;
}

/* The options of the dlq subcommands. */
struct dlq_opts {
	const char *workflow, *execution; /* list --workflow/--execution */
	int all, limit;			  /* list --all, --limit N */
	int wait, timeout_set;		  /* replay --wait, --timeout */
	int64_t timeout_ms;
};

/*
 * Parses the options after the subcommand (argv[0]) into o and d.
 * Returns -1 to go on, else the exit code to return (--help, or a usage
 * error already printed).
 */
static int
dlq_parse_opts(int argc, char **argv, struct cli_online *o, struct dlq_opts *d)
{
	static const struct option opts[] = {
		CLI_ONLINE_OPTIONS,
		{ "workflow", required_argument, NULL, 'W' },
		{ "execution", required_argument, NULL, 'E' },
		{ "all", no_argument, NULL, 'a' },
		{ "limit", required_argument, NULL, 'n' },
		{ "wait", no_argument, NULL, 'w' },
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	const char *derr;
	char *end;
	int ch, r;
	long l;

	optind = 0; /* a fresh scan; argv[0] is the subcommand */
	while ((ch = getopt_long(argc, argv, "o:hn:", opts, NULL)) != -1) {
		if ((r = cli_online_opt(o, ch, optarg)) < 0)
			return EXIT_USAGE;
		if (r > 0)
			continue;
		switch (ch) {
		case 'h':
			dlq_usage(stdout);
			return EXIT_OK;
		case 'W':
			d->workflow = optarg;
			break;
		case 'E':
			d->execution = optarg;
			break;
		case 'a':
			d->all = 1;
			break;
		case 'n':
			errno = 0;
			l = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || l < 1 || l > 1000)
				return cli_usage_error(o->cmd,
				    "bad --limit "
				    "'%s' (1..1000)",
				    optarg);
			d->limit = (int)l;
			break;
		case 'w':
			d->wait = 1;
			break;
		case 't':
			if (duration_parse(optarg, &d->timeout_ms, &derr) < 0)
				return cli_usage_error(o->cmd,
				    "bad --timeout "
				    "'%s': %s",
				    optarg, derr);
			d->timeout_set = 1;
			break;
		default:
			return cli_usage_error(o->cmd, "bad option");
		}
	}
	return -1;
}

/* Which options and how many operands each subcommand takes: 0, or
 * EXIT_USAGE after a usage error. */
static int
dlq_check_args(const char *sub, int argc, const struct cli_online *o,
    const struct dlq_opts *d)
{
	int is_list = strcmp(sub, "list") == 0;

	if (is_list && argc != 0)
		return cli_usage_error(o->cmd, "no operands expected");
	if (!is_list && argc != 1)
		return cli_usage_error(o->cmd,
		    argc ? "one dead letter ID only" :
			   "missing dead letter ID");
	if (!is_list && (d->workflow || d->execution || d->all || d->limit))
		return cli_usage_error(o->cmd,
		    "--workflow, --execution, --all "
		    "and --limit are for 'list'");
	if ((d->wait || d->timeout_set) && strcmp(sub, "replay") != 0)
		return cli_usage_error(o->cmd,
		    "--wait and --timeout are for "
		    "'replay'");
	if (d->timeout_set && !d->wait)
		return cli_usage_error(o->cmd, "--timeout needs --wait");
	return 0;
}

int
cmd_dlq(int argc, char **argv)
{
	struct cli_online o = { "dlq", NULL, OUT_TEXT, 0 };
	struct dlq_opts d;
	const char *sub;
	char cmdname[64];
	struct client *c;
	int rc;

	if (argc < 2)
		return cli_usage_error("dlq",
		    "missing subcommand (list, show, "
		    "replay, discard)");
	sub = argv[1];
	if (cli_is_help(sub)) {
		dlq_usage(stdout);
		return EXIT_OK;
	}
	if (strcmp(sub, "list") && strcmp(sub, "show") &&
	    strcmp(sub, "replay") && strcmp(sub, "discard"))
		return cli_usage_error("dlq", "unknown subcommand '%s'", sub);
	snprintf(cmdname, sizeof(cmdname), "dlq %s", sub);
	o.cmd = cmdname;

	memset(&d, 0, sizeof(d));
	if ((rc = dlq_parse_opts(argc - 1, argv + 1, &o, &d)) >= 0)
		return rc;
	argc -= optind + 1;
	argv += optind + 1;
	if ((rc = dlq_check_args(sub, argc, &o, &d)) != 0)
		return rc;

	if ((c = cli_api_client(&o, &rc)) == NULL)
		return rc;
	if (!strcmp(sub, "list"))
		rc = dlq_list(&o, c, d.workflow, d.execution, d.all, d.limit);
	else if (!strcmp(sub, "show"))
		rc = dlq_show(&o, c, argv[0]);
	else if (!strcmp(sub, "replay"))
		rc = dlq_replay(&o, c, argv[0], d.wait, d.timeout_ms);
	else
		rc = dlq_discard(&o, c, argv[0]);
	client_free(c);
	return rc;
}
