/*
 * loom events: live events, through loom-api; and the printing and
 * following that `loom execution logs --follow` (cmd_execution_logs.c)
 * shares.
 *
 *   loom events [--execution ID] [--workflow W] [--kind K] [--since N]
 *
 * The command reads a server-sent event stream (lib/net/client.h client_stream:
 * one callback per message, reconnecting with Last-Event-ID when the
 * connection drops, so nothing is lost or shown twice) and prints each
 * message as it comes: a log line as "TIME TASK#ATTEMPT [STREAM] LINE",
 * an event as "TIME KIND EXECUTION TASK#ATTEMPT FROM -> TO", or with
 * -o json the message's JSON object on a line.  A run's stream ends with
 * an "end" message carrying the run's status, which becomes the exit
 * status: 0 when it succeeded, 1 when it failed or was cancelled.  The
 * stream of every event never ends; Ctrl-C does.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jv.h>

#include "cli.h"
#include "core/buf.h"
#include "core/duration.h"
#include "net/client.h"
#include "util/jsonutil.h"
#include "table.h"
#include "core/xalloc.h"

/* ---- printing ----------------------------------------------------------- */

/* ISO 8601 UTC ("2026-11-26T04:05:06.123Z") as local "04:05:06.123". */
static const char *
local_time(const char *iso, char *buf, size_t len)
{
	struct tm tm;
	const char *p;
	time_t t;
	int ms = 0;

	memset(&tm, 0, sizeof(tm));
	if (iso == NULL ||
	    (p = strptime(iso, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL) {
		snprintf(buf, len, "%-12s", "-");
		return buf;
	}
	if (*p == '.' && p[1] >= '0' && p[1] <= '9')
		ms = atoi(p + 1) % 1000;
	t = timegm(&tm);
	localtime_r(&t, &tm);
	snprintf(buf, len, "%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min,
	    tm.tm_sec, ms);
	return buf;
}

/* "TASK#ATTEMPT", or "-" for an event of the run itself. */
static const char *
task_attempt(jv o, char *buf, size_t len)
{
	const char *t = cli_str(o, "taskId");
	long a = cli_num(o, "attempt", 0);

	if (t == NULL)
		snprintf(buf, len, "-");
	else if (a > 0)
		snprintf(buf, len, "%s#%ld", t, a);
	else
		snprintf(buf, len, "%s", t);
	return buf;
}

void
events_print_log(jv o, int with_execution)
{
	char tb[32], ta[256];
	const char *s = cli_str(o, "stream"), *line = cli_str(o, "line");

	printf("%s ", local_time(cli_str(o, "ts"), tb, sizeof(tb)));
	if (with_execution)
		printf("log %s ", cli_str_or(o, "executionId", "-"));
	printf("%s [%s] %s\n", task_attempt(o, ta, sizeof(ta)), s ? s : "?",
	    line ? line : "");
}

static void
print_event(jv o)
{
	char tb[32], ta[256];
	const char *from = cli_str(o, "from"), *to = cli_str(o, "to");
	const char *kind = cli_str(o, "kind");

	printf("%s %s %s %s",
	    local_time(cli_str(o, "createdAt"), tb, sizeof(tb)),
	    kind ? kind : "?", cli_str_or(o, "executionId", "-"),
	    task_attempt(o, ta, sizeof(ta)));
	if (from || to)
		printf(" %s -> %s", from ? from : "(new)", to ? to : "?");
	if (kind && strcmp(kind, "workflow") == 0) {
		jv d = jv_object_get(jv_copy(o), jv_string("data"));

		if (jv_get_kind(d) == JV_KIND_OBJECT) {
			jv s = jv_dump_string(d, 0);

			printf(" %s", jv_string_value(s));
			jv_free(s);
		} else
			jv_free(d);
	}
	printf("\n");
}

/* ---- following a stream ------------------------------------------------- */

struct follow {
	const struct cli_online *o;
	int events;	/* print events too (loom events) */
	int run_status; /* EXIT_OK / EXIT_FAIL from "end"; -1 */
};

static int
on_message(void *arg, const struct client_event *ev)
{
	struct follow *f = arg;
	jv o;

	if (strcmp(ev->event, "end") == 0) {
		o = jv_parse(ev->data);
		f->run_status = cli_str(o, "status") &&
			strcmp(cli_str(o, "status"), "SUCCESS") == 0 ?
		    EXIT_OK :
		    EXIT_FAIL;
		jv_free(o);
		return 1;
	}
	if (!f->events && strcmp(ev->event, "log") != 0)
		return 0;
	o = jv_parse(ev->data);
	if (jv_get_kind(o) != JV_KIND_OBJECT) {
		jv_free(o);
		return 0; /* not ours to judge: skip it */
	}
	if (f->o->fmt == OUT_JSON)
		json_print(stdout, o);
	else {
		if (strcmp(ev->event, "log") == 0)
			events_print_log(o, f->events);
		else
			print_event(o);
		jv_free(o);
	}
	fflush(stdout); /* live: a pipe would hold it back */
	return 0;
}

int
events_follow(
    const struct cli_online *o, struct client *c, const char *path, int events)
{
	struct follow f = { o, events, -1 };
	jv reply;
	int st;

	st = client_stream(c, path, on_message, &f, &reply);
	if (st != 200)
		return cli_api_fail(o, c, st, reply);
	jv_free(reply);
	return f.run_status >= 0 ? f.run_status : EXIT_OK;
}

/* ---- loom events -------------------------------------------------------- */

static void
events_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: loom events [--execution ID] [--workflow W] [--kind K]\n"
	    "                   [--since N] [-o text|json] [--api URL]\n"
	    "\n"
	    "Prints events as they happen: TIME KIND EXECUTION TASK#ATTEMPT\n"
	    "FROM -> TO, one per line (-o json: the event objects).  With\n"
	    "--execution, one run's events and log lines from its start, "
	    "until\n"
	    "it is over (exit 0 when it succeeded, 1 when not); otherwise\n"
	    "every event from now on (--since N: after event N; 0: from the\n"
	    "first) until interrupted.  K is a comma-separated list of kinds\n"
	    "(task, run, workflow, log).\n");
}

static void
query_add(char **path, const char **sep, const char *key, const char *v)
{
	char *e, *n;

	if (v == NULL)
		return;
	e = client_escape(v);
	n = xasprintf("%s%s%s=%s", *path, *sep, key, e);
	free(e);
	free(*path);
	*path = n;
	*sep = "&";
}

int
cmd_events(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_ONLINE_OPTIONS,
		{ "execution", required_argument, NULL, 'e' },
		{ "workflow", required_argument, NULL, 'W' },
		{ "kind", required_argument, NULL, 'k' },
		{ "since", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_online o = { "events", NULL, OUT_TEXT, 0 };
	const char *exec = NULL, *wf = NULL, *kind = NULL, *since = NULL;
	const char *sep = "?";
	struct client *c;
	char *path;
	int ch, r, rc = EXIT_USAGE;

	optind = 0;
	while (
	    (ch = getopt_long(argc, argv, "o:he:W:k:s:", opts, NULL)) != -1) {
		if ((r = cli_online_opt(&o, ch, optarg)) < 0)
			return EXIT_USAGE;
		if (r > 0)
			continue;
		switch (ch) {
		case 'h':
			events_usage(stdout);
			return EXIT_OK;
		case 'e':
			exec = optarg;
			break;
		case 'W':
			wf = optarg;
			break;
		case 'k':
			kind = optarg;
			break;
		case 's':
			if (*optarg == '\0' ||
			    strspn(optarg, "0123456789") != strlen(optarg))
				return cli_usage_error(o.cmd,
				    "bad --since "
				    "'%s' (an event id; 0: from the first)",
				    optarg);
			since = optarg;
			break;
		default:
			return cli_usage_error(o.cmd, "bad option");
		}
	}
	if (optind != argc)
		return cli_usage_error(o.cmd, "no operands expected");
	if (exec && wf)
		return cli_usage_error(o.cmd,
		    "--execution and --workflow do "
		    "not go together");
	if (exec) {
		char *e = client_escape(exec);

		path = xasprintf("/api/v1/executions/%s/events", e);
		free(e);
		if (since == NULL)
			since = "0"; /* the whole run */
	} else
		path = xstrdup("/api/v1/events");
	query_add(&path, &sep, "since", since);
	query_add(&path, &sep, "workflow", wf);
	query_add(&path, &sep, "kind", kind);
	if ((c = cli_api_client(&o, &rc)) == NULL) {
		free(path);
		return rc;
	}
	rc = events_follow(&o, c, path, 1);
	free(path);
	client_free(c);
	return rc;
}
