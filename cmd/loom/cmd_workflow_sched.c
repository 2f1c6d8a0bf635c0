/*
 * loom workflow next|trigger-token: a workflow's schedule and the tokens
 * that let a third party trigger it.
 *
 *   loom workflow next ID [-n N]
 *   loom workflow trigger-token create ID [--name N] [--expires DUR]
 *   loom workflow trigger-token list ID
 *   loom workflow trigger-token revoke ID TOKENID
 *
 * cmd_workflow() (cmd_workflow.c) hands these subcommands here with its
 * own argc/argv.  next reads GET /api/v1/schedules/{id}?n=N and prints
 * each fire time in UTC and in the workflow's zone; it exits 1 when the
 * workflow has no schedule.  The trigger-token subcommands go through
 * /api/v1/workflows/{id}/trigger-tokens and print as `loom token` does
 * (cmd_token.c): a new token alone on stdout, once.
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

#define NEXT_MAX 100 /* what GET /api/v1/schedules/{id} allows */

static void
sched_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: loom workflow next ID [-n N]\n"
	    "       loom workflow trigger-token create ID [--name N] "
	    "[--expires DUR]\n"
	    "       loom workflow trigger-token list ID\n"
	    "       loom workflow trigger-token revoke ID TOKENID\n"
	    "\n"
	    "All take -o text|json and --api URL.  next prints the next N\n"
	    "(1..%d, default 5) fire times of the workflow's schedule, in\n"
	    "UTC and in its time zone; exit 1 when it has no schedule.\n"
	    "A trigger token may only trigger its workflow (POST\n"
	    "/api/v1/workflows/ID/trigger); create prints it once.\n",
	    NEXT_MAX);
}

/* ---- next --------------------------------------------------------------- */

/* Whether reply is the 404 of a workflow that has no schedule (borrowed). */
static int
is_no_schedule(int st, jv reply)
{
	jv e, f;
	int yes;

	if (st != 404 || jv_get_kind(reply) != JV_KIND_OBJECT)
		return 0;
	e = jv_object_get(jv_copy(reply), jv_string("error"));
	if (jv_get_kind(e) != JV_KIND_OBJECT) {
		jv_free(e);
		return 0;
	}
	f = jv_object_get(e, jv_string("field"));
	yes = jv_get_kind(f) == JV_KIND_STRING &&
	    strcmp(jv_string_value(f), "schedule") == 0;
	jv_free(f);
	return yes;
}

static int
is_paused(jv reply)
{
	jv p = jv_object_get(jv_copy(reply), jv_string("paused"));
	int yes = jv_get_kind(p) == JV_KIND_TRUE;

	jv_free(p);
	return yes;
}

static int
workflow_next(
    const struct cli_online *o, struct client *c, const char *id, int n)
{
	char *eid = client_escape(id), *path;
	jv reply, utc, local;
	int st;

	path = xasprintf("/api/v1/schedules/%s?n=%d", eid, n);
	free(eid);
	st = client_json(c, "GET", path, jv_invalid(), &reply);
	free(path);
	if (is_no_schedule(st, reply)) {
		fprintf(stderr, "loom %s: workflow %s has no schedule\n",
		    o->cmd, id);
		jv_free(reply);
		return EXIT_FAIL;
	}
	if (st != 200)
		return cli_api_fail(o, c, st, reply);
	if (cli_str(reply, "error"))
		fprintf(
		    stderr, "loom %s: %s\n", o->cmd, cli_str(reply, "error"));
	else if (is_paused(reply))
		fprintf(stderr,
		    "loom %s: %s is paused: no fire times until it is "
		    "unpaused\n",
		    o->cmd, id);
	utc = jv_object_get(jv_copy(reply), jv_string("nextFires"));
	local = jv_object_get(reply, jv_string("nextFiresLocal"));
	if (jv_get_kind(utc) == JV_KIND_ARRAY &&
	    jv_get_kind(local) == JV_KIND_ARRAY)
		jv_array_foreach(utc, i, u)
		{
			jv l = jv_array_get(jv_copy(local), i);

			if (o->fmt == OUT_JSON)
				json_print(stdout,
				    JV_OBJECT(jv_string("utc"), jv_copy(u),
					jv_string("local"), jv_copy(l)));
			else if (jv_get_kind(u) == JV_KIND_STRING &&
			    jv_get_kind(l) == JV_KIND_STRING)
				printf("%s  %s\n", jv_string_value(u),
				    jv_string_value(l));
			jv_free(l);
			jv_free(u);
		}
	jv_free(utc);
	jv_free(local);
	return EXIT_OK;
}

/* ---- trigger tokens ----------------------------------------------------- */

static int
trigger_token_create(const struct cli_online *o, struct client *c,
    const char *id, const char *name, const char *expires)
{
	char *eid = client_escape(id), *path;
	jv body = jv_object(), reply;
	int st;

	if (name != NULL)
		body = jv_object_set(body, jv_string("name"), jv_string(name));
	if (expires != NULL)
		body = jv_object_set(
		    body, jv_string("expiresIn"), jv_string(expires));
	path = xasprintf("/api/v1/workflows/%s/trigger-tokens", eid);
	free(eid);
	st = client_json(c, "POST", path, body, &reply);
	free(path);
	if (st != 201)
		return cli_api_fail(o, c, st, reply);
	cli_token_print_created(o, reply);
	return EXIT_OK;
}

static int
trigger_token_list(const struct cli_online *o, struct client *c, const char *id)
{
	char *eid = client_escape(id), *path;
	jv reply;
	int st;

	path = xasprintf("/api/v1/workflows/%s/trigger-tokens", eid);
	free(eid);
	st = client_json(c, "GET", path, jv_invalid(), &reply);
	free(path);
	if (st != 200)
		return cli_api_fail(o, c, st, reply);
	cli_token_print_list(o, jv_object_get(reply, jv_string("tokens")));
	return EXIT_OK;
}

static int
trigger_token_revoke(const struct cli_online *o, struct client *c,
    const char *id, const char *token_id)
{
	char *eid = client_escape(id), *etid = client_escape(token_id), *path;
	jv reply;
	int st;

	path = xasprintf("/api/v1/workflows/%s/trigger-tokens/%s", eid, etid);
	free(eid);
	free(etid);
	st = client_json(c, "DELETE", path, jv_invalid(), &reply);
	free(path);
	if (st != 200)
		return cli_api_fail(o, c, st, reply);
	cli_token_print_revoked(o, reply);
	return EXIT_OK;
}

/* ---- dispatch ----------------------------------------------------------- */

struct sched_opts {
	const char *name, *expires; /* trigger-token create */
	int n;			    /* next: -n, 0 when not given */
};

/* Why the operands and options do not fit subcommand sub (action for
 * trigger-token), or NULL when they do. */
static const char *
sched_misfit(
    const char *sub, const char *action, int argc, const struct sched_opts *s)
{
	int want = 1;

	if (!strcmp(sub, "next")) {
		if (s->name || s->expires)
			return "--name and --expires are for 'trigger-token "
			       "create'";
	} else {
		if (action == NULL ||
		    (strcmp(action, "create") && strcmp(action, "list") &&
			strcmp(action, "revoke")))
			return "expected create, list or revoke";
		if (s->n)
			return "-n is for 'next'";
		if (strcmp(action, "create") && (s->name || s->expires))
			return "--name and --expires are for 'create'";
		if (!strcmp(action, "revoke"))
			want = 2;
	}
	if (argc == 0)
		return "missing workflow ID";
	if (argc < want)
		return "missing TOKENID";
	if (argc > want)
		return "too many operands";
	return NULL;
}

/* Parses the options after argv[0]; -1 to go on, else the exit code. */
static int
sched_parse_opts(
    int argc, char **argv, struct cli_online *o, struct sched_opts *s)
{
	static const struct option opts[] = {
		CLI_ONLINE_OPTIONS,
		{ "name", required_argument, NULL, 'N' },
		{ "expires", required_argument, NULL, 'E' },
		{ NULL, 0, NULL, 0 },
	};
	const char *derr;
	int64_t ms;
	char *end;
	int ch, r;

	optind = 0; /* a fresh scan; argv[0] is the subcommand */
	while ((ch = getopt_long(argc, argv, "o:hn:", opts, NULL)) != -1) {
		if ((r = cli_online_opt(o, ch, optarg)) < 0)
			return EXIT_USAGE;
		if (r > 0)
			continue;
		switch (ch) {
		case 'h':
			sched_usage(stdout);
			return EXIT_OK;
		case 'n':
			s->n = (int)strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || s->n < 1 ||
			    s->n > NEXT_MAX)
				return cli_usage_error(o->cmd,
				    "bad -n '%s' (1..%d)", optarg, NEXT_MAX);
			break;
		case 'N':
			s->name = optarg;
			break;
		case 'E':
			if (duration_parse(optarg, &ms, &derr) < 0 || ms <= 0)
				return cli_usage_error(o->cmd,
				    "bad --expires '%s' (a duration like 30d)",
				    optarg);
			s->expires = optarg;
			break;
		default:
			return cli_usage_error(o->cmd, "bad option");
		}
	}
	return -1;
}

int
cli_workflow_sched(int argc, char **argv)
{
	const char *sub = argv[1], *action = NULL, *why;
	struct cli_online o = { "workflow", NULL, OUT_TEXT, 0 };
	struct sched_opts s = { NULL, NULL, 0 };
	struct client *c;
	char cmdname[64];
	int rc;

	snprintf(cmdname, sizeof(cmdname), "workflow %s", sub);
	o.cmd = cmdname;
	if ((rc = sched_parse_opts(argc - 1, argv + 1, &o, &s)) >= 0)
		return rc;
	argc -= optind + 1;
	argv += optind + 1;
	if (strcmp(sub, "trigger-token") == 0 && argc > 0) {
		action = argv[0];
		argc--;
		argv++;
		snprintf(
		    cmdname, sizeof(cmdname), "workflow %s %s", sub, action);
	}
	if ((why = sched_misfit(sub, action, argc, &s)) != NULL)
		return cli_usage_error(o.cmd, "%s", why);
	if ((c = cli_api_client(&o, &rc)) == NULL)
		return rc;
	if (action == NULL)
		rc = workflow_next(&o, c, argv[0], s.n ? s.n : 5);
	else if (!strcmp(action, "create"))
		rc = trigger_token_create(&o, c, argv[0], s.name, s.expires);
	else if (!strcmp(action, "list"))
		rc = trigger_token_list(&o, c, argv[0]);
	else
		rc = trigger_token_revoke(&o, c, argv[0], argv[1]);
	client_free(c);
	return rc;
}
