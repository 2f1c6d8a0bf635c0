/*
 * loom execution: runs of workflows, through loom-api.
 *
 *   loom execution list [--workflow ID] [--status S] [--since T]
 *       [--until T] [--limit N] [--cursor C | --all]  (execlist.c)
 *   loom execution show ID [--wait [--timeout DUR]]
 *   loom execution cancel|retry ...   (cmd_task.c: the run controls)
 *
 * `show --wait` (and `workflow trigger --wait`, which shares
 * cli_execution_wait) never sleeps on the client side: each request asks
 * loom-api to hold the answer until the run is terminal or up to 30
 * seconds have passed (GET /api/v1/executions/ID?wait=30s), and the
 * request is simply repeated until the run is over.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jv.h>

#include "cli.h"
#include "net/client.h"
#include "core/duration.h"
#include "table.h"
#include "core/xalloc.h"

#define WAIT_SLICE_MS 30000 /* what one long-poll asks the server for */
#define WAIT_SLACK_MS 30000 /* more client time for the answer to come */

/*
 * Status (with "queued": a PENDING run waiting for a concurrency slot),
 * trigger and, for a scheduled or backfilled run, its nominal fire time.
 */
static void
print_status_lines(jv exec, const char *status)
{
	jv q = jv_object_get(jv_copy(exec), jv_string("queued"));

	printf("Status:    %s%s\n", status ? status : "?",
	    jv_get_kind(q) == JV_KIND_TRUE ?
		" (queued: waiting for a concurrency slot)" :
		"");
	jv_free(q);
	if (cli_str(exec, "trigger"))
		printf("Trigger:   %s\n", cli_str(exec, "trigger"));
	if (cli_str(exec, "scheduledTime"))
		printf("Scheduled: %s\n", cli_str(exec, "scheduledTime"));
}

static void
execution_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: loom execution list [--workflow ID] [--status S] "
	    "[--since T]\n"
	    "                           [--until T] [--limit N] "
	    "[--cursor C | --all]\n"
	    "       loom execution show ID [--wait [--timeout DUR]]\n"
	    "       loom execution cancel ID [--wait [--timeout DUR]]\n"
	    "       loom execution retry ID [--from-failed] "
	    "[--wait [--timeout DUR]]\n"
	    "       loom execution logs ID [--follow] [--task T]\n"
	    "\n"
	    "All take -o text|json and --api URL.  S is one of PENDING,\n"
	    "RUNNING, SUCCESS, FAILED, CANCELLED; N is the page size,\n"
	    "1..1000 (default 50); --all follows the pages to the end.  T is\n"
	    "an ISO 8601 time (2026-11-26T04:05:06Z) or a duration ago (2h).\n"
	    "show --wait returns when the run is over: exit 0 when it\n"
	    "succeeded, 1 when it failed, was cancelled, or --timeout\n"
	    "passed.\n");
}

/* ---- printing one execution ------------------------------------------- */

int
cli_execution_print(const struct cli_online *o, jv exec)
{
	const char *status = cli_str(exec, "status");
	int rc = status && !strcmp(status, "SUCCESS") ? EXIT_OK : EXIT_FAIL;
	char b1[64], b2[64];
	struct table *t;
	jv tasks, params;
	char *err;

	if (o->fmt == OUT_JSON) {
		json_print(stdout, exec);
		return rc;
	}
	printf("Execution: %s\n", cli_str_or(exec, "id", "?"));
	printf("Workflow:  %s (version %ld)\n",
	    cli_str_or(exec, "workflowId", "?"),
	    cli_num(exec, "workflowVersion", 0));
	print_status_lines(exec, status);
	params = jv_object_get(jv_copy(exec), jv_string("params"));
	if (jv_get_kind(params) == JV_KIND_OBJECT &&
	    jv_object_length(jv_copy(params)) > 0) {
		jv s = jv_dump_string(jv_copy(params), 0);

		printf("Params:    %s\n", jv_string_value(s));
		jv_free(s);
	}
	jv_free(params);
	printf("Created:   %s\n",
	    cli_time_text(exec, "createdAt", b1, sizeof(b1)));
	if (cli_str(exec, "startedAt"))
		printf("Started:   %s\n",
		    cli_time_text(exec, "startedAt", b1, sizeof(b1)));
	if (cli_str(exec, "completedAt"))
		printf("Finished:  %s (took %s)\n",
		    cli_time_text(exec, "completedAt", b1, sizeof(b1)),
		    cli_span_text(
			exec, "startedAt", "completedAt", b2, sizeof(b2)));
	if ((err = cli_error_text(exec, "error")) != NULL && *err)
		printf("Error:     %s\n", err);
	free(err);

	tasks = jv_object_get(jv_copy(exec), jv_string("tasks"));
	if (jv_get_kind(tasks) == JV_KIND_ARRAY &&
	    jv_array_length(jv_copy(tasks)) > 0) {
		printf("\n");
		t = table_new(
		    5, "TASK", "STATE", "ATTEMPT", "DURATION", "ERROR");
		jv_array_foreach(tasks, i, task)
		{
			char att[16], *e = cli_error_text(task, "error");
			long a = cli_num(task, "attempt", 0);

			if (e == NULL && cli_str(task, "skipReason"))
				e = xasprintf(
				    "skipped: %s", cli_str(task, "skipReason"));
			snprintf(att, sizeof(att), "%ld", a);
			table_add(t, cli_str(task, "taskId"),
			    cli_str(task, "state"), a > 0 ? att : NULL,
			    cli_span_text(task, "startedAt", "finishedAt", b1,
				sizeof(b1)),
			    e);
			free(e);
			jv_free(task);
		}
		table_print(t, stdout, table_aligned(o->text_asked));
		table_free(t);
	}
	jv_free(tasks);
	jv_free(exec);
	return rc;
}

/* ---- waiting ---------------------------------------------------------- */

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
cli_execution_wait(const struct cli_online *o, struct client *c, const char *id,
    int64_t timeout_ms, jv *exec)
{
	int64_t deadline = timeout_ms > 0 ? mono_ms() + timeout_ms : 0;
	int64_t slice, t0;
	char *eid = client_escape(id), *path, dur[32];
	jv reply;
	int st, early = 0;

	for (;;) {
		slice = WAIT_SLICE_MS;
		if (deadline && deadline - mono_ms() < slice)
			slice = deadline - mono_ms();
		if (slice < 0)
			slice = 0;
		duration_format(slice, dur, sizeof(dur));
		path = xasprintf("/api/v1/executions/%s?wait=%s", eid, dur);
		client_set_timeout(c, (long)(slice + WAIT_SLACK_MS));
		t0 = mono_ms();
		st = client_json(c, "GET", path, jv_invalid(), &reply);
		free(path);
		if (st != 200) {
			free(eid);
			return cli_api_fail(o, c, st, reply);
		}
		if (cli_run_terminal(cli_str(reply, "status")) ||
		    (deadline && mono_ms() >= deadline))
			break;
		/*
		 * The server holds the answer until the run ends or the
		 * slice passed; answering much sooner with a live run means
		 * it ignores ?wait.  Give up rather than spin.
		 */
		if (slice >= 1000 && mono_ms() - t0 < slice / 2) {
			if (++early >= 5) {
				jv_free(reply);
				free(eid);
				fprintf(stderr,
				    "loom %s: loom-api at %s does "
				    "not hold ?wait requests; cannot wait\n",
				    o->cmd, client_base(c));
				return EXIT_FAIL;
			}
		} else
			early = 0;
		jv_free(reply);
	}
	free(eid);
	if (!cli_run_terminal(cli_str(reply, "status"))) {
		char buf[32];

		duration_format(timeout_ms, buf, sizeof(buf));
		fprintf(stderr, "loom %s: %s is still %s after %s\n", o->cmd,
		    id, cli_str_or(reply, "status", "running"), buf);
	}
	*exec = reply;
	return EXIT_OK;
}

/* ---- list and show ---------------------------------------------------- */

static int
execution_show(struct cli_online *o, struct client *c, const char *id, int wait,
    int64_t timeout_ms)
{
	char *eid, *path;
	jv reply;
	int st, rc;

	if (wait) {
		if ((rc = cli_execution_wait(o, c, id, timeout_ms, &reply)) !=
		    EXIT_OK)
			return rc;
		return cli_execution_print(o, reply);
	}
	eid = client_escape(id);
	path = xasprintf("/api/v1/executions/%s", eid);
	free(eid);
	st = client_json(c, "GET", path, jv_invalid(), &reply);
	free(path);
	if (st != 200)
		return cli_api_fail(o, c, st, reply);
	(void)cli_execution_print(o, reply);
	return EXIT_OK;
}

/* ---- dispatch --------------------------------------------------------- */

/* The options of list and show. */
struct execution_opts {
	const char *workflow;	 /* list --workflow */
	struct cli_list_query q; /* list's other options */
	int wait, timeout_set;	 /* show --wait, --timeout */
	int64_t timeout_ms;
};

/*
 * Parses the options after the subcommand (argv[0]) into o and e.
 * Returns -1 to go on, else the exit code to return (--help, or a usage
 * error already printed).
 */
static int
execution_parse_opts(
    int argc, char **argv, struct cli_online *o, struct execution_opts *e)
{
	static const struct option opts[] = {
		CLI_ONLINE_OPTIONS,
		{ "workflow", required_argument, NULL, 'W' },
		CLI_LIST_OPTIONS,
		{ "wait", no_argument, NULL, 'w' },
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	const char *derr;
	int ch, r;

	optind = 0; /* a fresh scan; argv[0] is the subcommand */
	while ((ch = getopt_long(argc, argv, "o:hn:", opts, NULL)) != -1) {
		if ((r = cli_online_opt(o, ch, optarg)) < 0)
			return EXIT_USAGE;
		if (r > 0)
			continue;
		if ((r = cli_list_opt(&e->q, o->cmd, ch, optarg)) < 0)
			return EXIT_USAGE;
		if (r > 0)
			continue;
		switch (ch) {
		case 'h':
			execution_usage(stdout);
			return EXIT_OK;
		case 'W':
			e->workflow = optarg;
			break;
		case 'w':
			e->wait = 1;
			break;
		case 't':
			if (duration_parse(optarg, &e->timeout_ms, &derr) < 0)
				return cli_usage_error(o->cmd,
				    "bad --timeout "
				    "'%s': %s",
				    optarg, derr);
			e->timeout_set = 1;
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
execution_check_args(const char *sub, int argc, const struct cli_online *o,
    const struct execution_opts *e)
{
	if (!strcmp(sub, "list")) {
		if (argc != 0)
			return cli_usage_error(o->cmd, "no operands expected");
		if (e->wait || e->timeout_set)
			return cli_usage_error(o->cmd,
			    "--wait and --timeout "
			    "are for 'show'");
		if (e->q.all && e->q.cursor)
			return cli_usage_error(o->cmd,
			    "--cursor and --all do "
			    "not go together");
	} else {
		if (argc != 1)
			return cli_usage_error(o->cmd,
			    argc ? "one execution "
				   "ID only" :
				   "missing execution ID");
		if (e->workflow || cli_list_query_set(&e->q))
			return cli_usage_error(o->cmd,
			    "--workflow, --status, "
			    "--since, --until, --limit, --cursor and --all are "
			    "for 'list'");
		if (e->timeout_set && !e->wait)
			return cli_usage_error(o->cmd,
			    "--timeout needs "
			    "--wait");
	}
	return 0;
}

int
cmd_execution(int argc, char **argv)
{
	struct cli_online o = { "execution", NULL, OUT_TEXT, 0 };
	struct execution_opts e;
	const char *sub;
	char cmdname[64];
	struct client *c = NULL;
	int rc;

	if (argc < 2)
		return cli_usage_error("execution",
		    "missing subcommand "
		    "(list, show, cancel, retry)");
	sub = argv[1];
	if (cli_is_help(sub)) {
		execution_usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(sub, "cancel") || !strcmp(sub, "retry"))
		return cli_execution_control(argc, argv); /* cmd_task.c */
	if (!strcmp(sub, "logs"))
		return cmd_execution_logs(
		    argc - 1, argv + 1); /* cmd_events.c */
	if (strcmp(sub, "list") && strcmp(sub, "show"))
		return cli_usage_error(
		    "execution", "unknown subcommand '%s'", sub);
	snprintf(cmdname, sizeof(cmdname), "execution %s", sub);
	o.cmd = cmdname;

	memset(&e, 0, sizeof(e));
	if ((rc = execution_parse_opts(argc - 1, argv + 1, &o, &e)) >= 0)
		return rc;
	argc -= optind + 1;
	argv += optind + 1;
	if ((rc = execution_check_args(sub, argc, &o, &e)) != 0)
		return rc;

	if ((c = cli_api_client(&o, &rc)) == NULL)
		return rc;
	if (!strcmp(sub, "list")) {
		e.q.workflow = e.workflow;
		rc = cli_execution_list(&o, c, "/api/v1/executions", &e.q);
	} else
		rc = execution_show(&o, c, argv[0], e.wait, e.timeout_ms);
	client_free(c);
	return rc;
}
