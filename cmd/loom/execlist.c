/*
 * execlist: the paged list of executions that `loom execution list` and
 * `loom workflow history` share (cli.h).  Lists come a page at a time
 * (GET ...?limit=N&cursor=C, answered with "nextCursor"); --all follows
 * the cursors to the end, and without it a list that has more says how to
 * get the next page on standard error when that is a terminal.  JSON
 * output is one execution per line as pages arrive; text is one table, so
 * --all holds the rows until the last page.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jv.h>

#include "cli.h"
#include "net/client.h"
#include "table.h"
#include "core/xalloc.h"

static const char *const run_states[] = {
	"PENDING",
	"RUNNING",
	"SUCCESS",
	"FAILED",
	"CANCELLED",
	NULL,
};

int
cli_list_opt(struct cli_list_query *q, const char *cmd, int ch, const char *arg)
{
	char *end;
	long l;
	size_t k;

	switch (ch) {
	case 's':
		for (k = 0; arg[k] && k + 1 < sizeof(q->status); k++)
			q->status[k] = (char)(arg[k] >= 'a' && arg[k] <= 'z' ?
				arg[k] - 'a' + 'A' :
				arg[k]);
		q->status[k] = '\0';
		for (k = 0; run_states[k]; k++)
			if (!strcmp(run_states[k], q->status))
				break;
		if (run_states[k] == NULL || arg[strlen(q->status)]) {
			cli_usage_error(cmd,
			    "bad --status '%s' (PENDING, "
			    "RUNNING, SUCCESS, FAILED or CANCELLED)",
			    arg);
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
	return q->status[0] || q->limit || q->since || q->until || q->cursor ||
	    q->all;
}

/* path?query for one page: path's own '?' respected, values escaped. */
static char *
page_path(const char *path, const struct cli_list_query *q, const char *cursor)
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

/*
 * One page of executions (list, consumed): JSON lines at once, or rows
 * added to t, printed when the last page is in.
 */
static void
print_page(const struct cli_online *o, struct table *t, jv list)
{
	if (o->fmt == OUT_JSON) {
		json_print_lines(stdout, list);
		fflush(stdout);
		return;
	}
	jv_array_foreach(list, i, x)
	{
		char ver[16], created[32], took[32];

		snprintf(
		    ver, sizeof(ver), "%ld", cli_num(x, "workflowVersion", 0));
		table_add(t, cli_str(x, "id"), cli_str(x, "workflowId"), ver,
		    cli_str(x, "status"), cli_str(x, "trigger"),
		    cli_time_text(x, "createdAt", created, sizeof(created)),
		    cli_span_text(
			x, "startedAt", "completedAt", took, sizeof(took)));
		jv_free(x);
	}
	jv_free(list);
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
			fprintf(stderr,
			    "loom %s: loom-api gave the same page "
			    "twice; stopping\n",
			    o->cmd);
			rc = EXIT_FAIL;
			goto out;
		}
		free(asked);
		list = jv_object_get(reply, jv_string("executions"));
		if (jv_get_kind(list) != JV_KIND_ARRAY) {
			jv_free(list);
			fprintf(stderr,
			    "loom %s: unexpected reply from "
			    "loom-api\n",
			    o->cmd);
			rc = EXIT_FAIL;
			goto out;
		}
		print_page(o, t, list);
		if (cursor == NULL || !q->all)
			break;
	}
	if (t != NULL) {
		table_print(t, stdout, table_aligned(o->text_asked));
		if (table_rows(t) == 0 && table_aligned(o->text_asked))
			fprintf(stderr, "no executions%s\n",
			    q->workflow || q->status[0] || q->since ||
				    q->until || q->cursor ?
				" match" :
				" yet: start one with "
				"'loom workflow trigger ID'");
	}
	/* A hint for people; scripts that want pages ask for --all. */
	if (cursor != NULL && isatty(STDERR_FILENO))
		fprintf(stderr,
		    "loom %s: more on the next page: add "
		    "--cursor %s (or --all for every page)\n",
		    o->cmd, cursor);
out:
	free(cursor);
	table_free(t);
	return rc;
}
