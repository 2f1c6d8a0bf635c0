/*
 * loom execution logs: a run's task output, through loom-api.
 *
 *   loom execution logs ID [--follow] [--task T] [--grep TEXT] [--level L]
 *                          [--since T]
 *
 * Without --follow it pages through GET /api/v1/executions/ID/logs and
 * exits; with it, it reads the run's stream of log lines
 * (GET /api/v1/executions/ID/events?kind=log) as `loom events` does
 * (cmd_events.c) until the run is over.  The filters become the query's
 * task=, grep=, level= and from= (loom-api(8)); --since takes a duration
 * ago or a time.
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
#include "core/xalloc.h"
#include "net/client.h"
#include "table.h"
#include "util/jsonutil.h"

#define LOGS_PAGE 1000

/* ---- loom execution logs ------------------------------------------------ */

static void
logs_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: loom execution logs ID [--follow] [--task T] [--grep "
	    "TEXT]\n"
	    "                          [--level L] [--since T] "
	    "[-o text|json] [--api URL]\n"
	    "\n"
	    "Prints the output lines of a run's tasks (stdout, stderr, and\n"
	    "what HTTP backends sent as \"logs\") as TIME TASK#ATTEMPT\n"
	    "[STREAM] LINE.  --follow keeps printing them as they come until\n"
	    "the run is over; then the exit status is 0 when the run\n"
	    "succeeded and 1 when it did not.  --grep: lines with every word\n"
	    "of TEXT; --level: lines of level L (debug, info, warn, error)\n"
	    "or above; --since: lines from time T on (a duration ago, like\n"
	    "10m, or an ISO 8601 time).\n");
}

/* The filters of `loom execution logs`, as a query string tail. */
struct logs_filter {
	const char *task, *grep, *level;
	char from[40]; /* ISO 8601, or "" */
};

static char *
filter_query(const struct logs_filter *f)
{
	const char *k[4] = { "task", "grep", "level", "from" };
	const char *v[4] = { f->task, f->grep, f->level,
		*f->from ? f->from : NULL };
	struct buf b = BUF_INIT;

	buf_puts(&b, "");
	for (int i = 0; i < 4; i++) {
		char *e;

		if (v[i] == NULL)
			continue;
		e = client_escape(v[i]);
		buf_printf(&b, "&%s=%s", k[i], e);
		free(e);
	}
	return b.p ? b.p : xstrdup("");
}

/* --since T: a duration ago (10m), or a time as it is. */
static int
since_parse(const char *t, char *out, size_t len)
{
	int64_t ms;
	const char *err;
	struct timespec now;

	if (duration_parse(t, &ms, &err) == 0) {
		clock_gettime(CLOCK_REALTIME, &now);
		iso_time_ms(
		    (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000 - ms,
		    out, len);
		return 0;
	}
	if (strlen(t) >= len || t[0] < '0' || t[0] > '9')
		return -1;
	snprintf(out, len, "%s", t);
	return 0;
}

/* Every page of GET .../logs. */
static int
logs_print(const struct cli_online *o, struct client *c, const char *id,
    const struct logs_filter *f)
{
	char *eid = client_escape(id), *et = filter_query(f);
	char after[32] = "";
	int st, rc = EXIT_OK;

	for (;;) {
		char *path = xasprintf("/api/v1/executions/%s/logs?limit=%d%s"
				       "%s%s",
		    eid, LOGS_PAGE, et, *after ? "&after=" : "", after);
		jv reply, list, next;

		st = client_json(c, "GET", path, jv_invalid(), &reply);
		free(path);
		if (st != 200) {
			rc = cli_api_fail(o, c, st, reply);
			break;
		}
		list = jv_object_get(jv_copy(reply), jv_string("logs"));
		next = jv_object_get(reply, jv_string("next"));
		if (jv_get_kind(list) != JV_KIND_ARRAY) {
			jv_free(list);
			jv_free(next);
			fprintf(stderr,
			    "loom %s: unexpected reply from "
			    "loom-api\n",
			    o->cmd);
			rc = EXIT_FAIL;
			break;
		}
		if (o->fmt == OUT_JSON)
			json_print_lines(stdout, list);
		else {
			jv_array_foreach(list, i, x)
			{
				events_print_log(x, 0);
				jv_free(x);
			}
			jv_free(list);
		}
		if (jv_get_kind(next) != JV_KIND_NUMBER) {
			jv_free(next);
			break;
		}
		snprintf(after, sizeof(after), "%.0f", jv_number_value(next));
		jv_free(next);
	}
	free(eid);
	free(et);
	return rc;
}

int
cmd_execution_logs(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_ONLINE_OPTIONS,
		{ "follow", no_argument, NULL, 'f' },
		{ "task", required_argument, NULL, 'T' },
		{ "grep", required_argument, NULL, 'g' },
		{ "level", required_argument, NULL, 'L' },
		{ "since", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_online o = { "execution logs", NULL, OUT_TEXT, 0 };
	struct logs_filter f;
	struct client *c;
	int ch, r, fol = 0, rc = EXIT_USAGE;

	memset(&f, 0, sizeof(f));
	optind = 0; /* a fresh scan; argv[0] is "logs" */
	while ((ch = getopt_long(argc, argv, "o:hfT:", opts, NULL)) != -1) {
		if ((r = cli_online_opt(&o, ch, optarg)) < 0)
			return EXIT_USAGE;
		if (r > 0)
			continue;
		switch (ch) {
		case 'h':
			logs_usage(stdout);
			return EXIT_OK;
		case 'f':
			fol = 1;
			break;
		case 'T':
			f.task = optarg;
			break;
		case 'g':
			f.grep = optarg;
			break;
		case 'L':
			f.level = optarg;
			break;
		case 's':
			if (since_parse(optarg, f.from, sizeof(f.from)) < 0)
				return cli_usage_error(o.cmd,
				    "--since wants a duration (10m) or an ISO "
				    "8601 time");
			break;
		default:
			return cli_usage_error(o.cmd, "bad option");
		}
	}
	if (argc - optind != 1)
		return cli_usage_error(o.cmd,
		    argc - optind ? "one execution "
				    "ID only" :
				    "missing execution ID");
	if ((c = cli_api_client(&o, &rc)) == NULL)
		return rc;
	if (fol) {
		char *eid = client_escape(argv[optind]);
		char *et = filter_query(&f);
		char *path = xasprintf("/api/v1/executions/%s/events?since=0&"
				       "kind=log%s",
		    eid, et);

		rc = events_follow(&o, c, path, 0);
		free(path);
		free(et);
		free(eid);
	} else
		rc = logs_print(&o, c, argv[optind], &f);
	client_free(c);
	return rc;
}
