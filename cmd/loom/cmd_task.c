/*
 * loom task, loom execution cancel|retry: the run and task controls,
 * through loom-api (see loom(1) and loom-api(8)).
 *
 *   loom execution cancel ID [--wait [--timeout DUR]]
 *   loom execution retry ID [--from-failed] [--wait [--timeout DUR]]
 *   loom task rerun EXECUTION TASK [--downstream] [--wait [--timeout DUR]]
 *
 * loom-engine, not loom-api, changes the state of a run, so loom-api
 * answers a retry --from-failed or a rerun once the engine has applied it,
 * naming the tasks that run again (or with the engine's reason for
 * refusing: exit 1), and these commands print that.  --wait then follows
 * the run to its end with cli_execution_wait(), which never sleeps on the
 * client side.  retry without --from-failed starts a new execution of the
 * same workflow version with the same params and prints its id, as
 * `workflow trigger` does.  cli_control_done() is shared with `loom dlq
 * replay` (cmd_dlq.c).
 */
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

struct ctl_args {
	int flag; /* --from-failed, --downstream */
	int wait;
	int64_t timeout_ms;
	int timeout_set;
};

static void
task_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: loom task rerun EXECUTION TASK [--downstream] "
	    "[--wait [--timeout DUR]]\n"
	    "\n"
	    "Runs one finished task of an execution again (a fresh attempt\n"
	    "budget; attempt numbers go on), and with --downstream every\n"
	    "task that depends on it.  A finished execution runs again.\n"
	    "Takes -o text|json and --api URL.  --wait returns when the\n"
	    "execution is over: exit 0 when it succeeded, else 1.\n");
}

/*
 * Parses the options after argv[1] (the subcommand): flag_name (NULL:
 * none) sets a->flag.  Returns the index of the first operand in argv,
 * or -1 with *rc the exit code (usage error, or 0 after --help).
 */
static int
ctl_parse(struct cli_online *o, int argc, char **argv, const char *flag_name,
    void (*usage)(FILE *), struct ctl_args *a, int *rc)
{
	struct option opts[] = {
		CLI_ONLINE_OPTIONS,
		{ "wait", no_argument, NULL, 'w' },
		{ "timeout", required_argument, NULL, 't' },
		{ flag_name, no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	const char *derr;
	int ch, r;

	if (flag_name == NULL) /* no flag: the table ends there */
		memset(&opts[sizeof(opts) / sizeof(opts[0]) - 2], 0,
		    sizeof(opts[0]));
	memset(a, 0, sizeof(*a));
	*rc = EXIT_USAGE;
	optind = 0; /* a fresh scan; argv[0] is the subcommand */
	while (
	    (ch = getopt_long(argc - 1, argv + 1, "o:h", opts, NULL)) != -1) {
		if ((r = cli_online_opt(o, ch, optarg)) < 0)
			return -1;
		if (r > 0)
			continue;
		switch (ch) {
		case 'h':
			usage(stdout);
			*rc = EXIT_OK;
			return -1;
		case 'w':
			a->wait = 1;
			break;
		case 't':
			if (duration_parse(optarg, &a->timeout_ms, &derr) < 0) {
				cli_usage_error(o->cmd,
				    "bad --timeout '%s': "
				    "%s",
				    optarg, derr);
				return -1;
			}
			a->timeout_set = 1;
			break;
		case 'f':
			a->flag = 1;
			break;
		default:
			cli_usage_error(o->cmd, "bad option");
			return -1;
		}
	}
	if (a->timeout_set && !a->wait) {
		cli_usage_error(o->cmd, "--timeout needs --wait");
		return -1;
	}
	return optind + 1;
}

/* "b, c" from a JSON array of strings; "-" when empty. */
static char *
names(jv list)
{
	char *s = xstrdup(""), *t;

	if (jv_get_kind(list) == JV_KIND_ARRAY)
		jv_array_foreach(list, i, x)
		{
			if (jv_get_kind(x) == JV_KIND_STRING) {
				t = xasprintf("%s%s%s", s, *s ? ", " : "",
				    jv_string_value(x));
				free(s);
				s = t;
			}
			jv_free(x);
		}
	jv_free(list);
	if (*s == '\0') {
		free(s);
		s = xstrdup("-");
	}
	return s;
}

/* Waits for execution id to end and prints it; the exit code of print. */
static int
wait_and_print(const struct cli_online *o, struct client *c, const char *id,
    int64_t timeout_ms)
{
	jv exec;
	int rc;

	if ((rc = cli_execution_wait(o, c, id, timeout_ms, &exec)) != EXIT_OK)
		return rc;
	if (o->fmt == OUT_TEXT)
		printf("\n");
	return cli_execution_print(o, exec);
}

int
cli_control_done(const struct cli_online *o, struct client *c, const char *what,
    jv reply, int wait, int64_t timeout_ms)
{
	jv req = jv_object_get(jv_copy(reply), jv_string("request"));
	const char *id = cli_str(reply, "id"), *state = cli_str(req, "state");
	char *eid, *tasks;
	int pending = state != NULL && strcmp(state, "pending") == 0, rc;

	if (id == NULL || state == NULL) {
		jv_free(req);
		jv_free(reply);
		fprintf(stderr, "loom %s: unexpected reply from loom-api\n",
		    o->cmd);
		return EXIT_FAIL;
	}
	eid = xstrdup(id);
	if (o->fmt == OUT_JSON && !wait)
		json_print(stdout, jv_copy(reply));
	else if (o->fmt == OUT_TEXT && pending)
		printf("%s: %s requested; loom-engine has not taken it yet\n",
		    eid, what);
	else if (o->fmt == OUT_TEXT) {
		tasks = names(jv_object_get(jv_copy(req), jv_string("reset")));
		printf("%s: running again: %s\n", eid, tasks);
		free(tasks);
	}
	fflush(stdout);
	jv_free(req);
	jv_free(reply);
	rc = EXIT_OK;
	if (wait && pending) {
		fprintf(stderr,
		    "loom %s: not waiting: is loom-engine "
		    "running?\n",
		    o->cmd);
		rc = EXIT_FAIL;
	} else if (wait)
		rc = wait_and_print(o, c, eid, timeout_ms);
	free(eid);
	return rc;
}

/* ---- loom execution cancel ---------------------------------------------- */

static void
control_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: loom execution cancel ID [--wait [--timeout DUR]]\n"
	    "       loom execution retry ID [--from-failed] "
	    "[--wait [--timeout DUR]]\n"
	    "\n"
	    "cancel stops the running tasks of an execution and cancels the\n"
	    "rest; --wait exits 0 once it is CANCELLED (1 when it ended\n"
	    "otherwise first).  retry --from-failed runs the failed,\n"
	    "cancelled and skipped tasks of a FAILED or CANCELLED execution\n"
	    "again in the same execution, reusing what succeeded; without\n"
	    "--from-failed it starts a new execution of the same workflow\n"
	    "version with the same params and prints its id.  --wait then\n"
	    "exits 0 when the run succeeded, else 1.  Both take -o text|json\n"
	    "and --api URL.\n");
}

static int
execution_cancel(const struct cli_online *o, struct client *c, const char *id,
    const struct ctl_args *a)
{
	char *eid = client_escape(id), *path;
	const char *status;
	jv reply, exec;
	int st, rc;

	path = xasprintf("/api/v1/executions/%s/cancel", eid);
	free(eid);
	st = client_json(c, "POST", path, jv_invalid(), &reply);
	free(path);
	if (st != 202 && st != 200)
		return cli_api_fail(o, c, st, reply);
	if (!a->wait) {
		if (o->fmt == OUT_JSON)
			json_print(stdout, reply);
		else {
			printf("%s: cancel requested\n", id);
			jv_free(reply);
		}
		return EXIT_OK;
	}
	jv_free(reply);
	if (o->fmt == OUT_TEXT) {
		printf("%s: cancel requested\n", id);
		fflush(stdout);
	}
	if ((rc = cli_execution_wait(o, c, id, a->timeout_ms, &exec)) !=
	    EXIT_OK)
		return rc;
	status = cli_str(exec, "status");
	rc = status && strcmp(status, "CANCELLED") == 0 ? EXIT_OK : EXIT_FAIL;
	if (rc != EXIT_OK && status)
		fprintf(stderr, "loom %s: %s ended %s, not CANCELLED\n", o->cmd,
		    id, status);
	if (o->fmt == OUT_TEXT)
		printf("\n");
	(void)cli_execution_print(o, exec);
	return rc;
}

static int
execution_retry(const struct cli_online *o, struct client *c, const char *id,
    const struct ctl_args *a)
{
	char *eid = client_escape(id), *path, *xid;
	jv reply, body;
	int st, rc;

	path = xasprintf("/api/v1/executions/%s/retry", eid);
	free(eid);
	body = jv_object_set(
	    jv_object(), jv_string("fromFailed"), jv_bool(a->flag));
	st = client_json(c, "POST", path, body, &reply);
	free(path);
	if (a->flag) {
		if (st != 202 && st != 200)
			return cli_api_fail(o, c, st, reply);
		return cli_control_done(
		    o, c, "retry", reply, a->wait, a->timeout_ms);
	}
	/* A new execution, as `workflow trigger` makes. */
	if (st != 201 && st != 200)
		return cli_api_fail(o, c, st, reply);
	if (cli_str(reply, "executionId") == NULL) {
		jv_free(reply);
		fprintf(stderr, "loom %s: unexpected reply from loom-api\n",
		    o->cmd);
		return EXIT_FAIL;
	}
	xid = xstrdup(cli_str(reply, "executionId"));
	if (o->fmt == OUT_JSON && !a->wait)
		json_print(stdout, reply);
	else {
		jv_free(reply);
		if (o->fmt == OUT_TEXT)
			printf("%s\n", xid);
		fflush(stdout);
	}
	rc = a->wait ? wait_and_print(o, c, xid, a->timeout_ms) : EXIT_OK;
	free(xid);
	return rc;
}

int
cli_execution_control(int argc, char **argv)
{
	struct cli_online o = { "execution", NULL, OUT_TEXT, 0 };
	const char *sub = argv[1];
	char cmdname[64];
	struct ctl_args a;
	struct client *c;
	int first, rc;

	snprintf(cmdname, sizeof(cmdname), "execution %s", sub);
	o.cmd = cmdname;
	first = ctl_parse(&o, argc, argv,
	    strcmp(sub, "retry") == 0 ? "from-failed" : NULL, control_usage, &a,
	    &rc);
	if (first < 0)
		return rc;
	if (argc - first != 1)
		return cli_usage_error(o.cmd,
		    argc - first ? "one execution "
				   "ID only" :
				   "missing execution ID");
	if ((c = cli_api_client(&o, &rc)) == NULL)
		return rc;
	if (strcmp(sub, "cancel") == 0)
		rc = execution_cancel(&o, c, argv[first], &a);
	else
		rc = execution_retry(&o, c, argv[first], &a);
	client_free(c);
	return rc;
}

/* ---- loom task rerun ---------------------------------------------------- */

int
cmd_task(int argc, char **argv)
{
	struct cli_online o = { "task rerun", NULL, OUT_TEXT, 0 };
	char *eid, *tid, *path;
	struct ctl_args a;
	struct client *c;
	int first, rc, st;
	jv reply;

	if (argc < 2)
		return cli_usage_error("task", "missing subcommand (rerun)");
	if (cli_is_help(argv[1])) {
		task_usage(stdout);
		return EXIT_OK;
	}
	if (strcmp(argv[1], "rerun") != 0)
		return cli_usage_error(
		    "task", "unknown subcommand '%s'", argv[1]);
	first = ctl_parse(&o, argc, argv, "downstream", task_usage, &a, &rc);
	if (first < 0)
		return rc;
	if (argc - first != 2)
		return cli_usage_error(o.cmd,
		    argc - first > 2 ? "too many "
				       "operands" :
				       "expected EXECUTION and TASK");
	if ((c = cli_api_client(&o, &rc)) == NULL)
		return rc;
	eid = client_escape(argv[first]);
	tid = client_escape(argv[first + 1]);
	path = xasprintf("/api/v1/executions/%s/tasks/%s/rerun", eid, tid);
	free(eid);
	free(tid);
	st = client_json(c, "POST", path,
	    jv_object_set(
		jv_object(), jv_string("downstream"), jv_bool(a.flag)),
	    &reply);
	free(path);
	if (st != 202 && st != 200)
		rc = cli_api_fail(&o, c, st, reply);
	else
		rc = cli_control_done(
		    &o, c, "rerun", reply, a.wait, a.timeout_ms);
	client_free(c);
	return rc;
}
