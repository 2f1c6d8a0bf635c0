/*
 * loom workflow backfill ID --from T --to T [--dry-run] [--input JSON]
 *
 * Runs for the nominal fire times of the workflow's schedule in a past
 * range (POST /api/v1/workflows/{id}/backfill): each carries its nominal
 * time, the workflow's concurrency applies, and a fire that has a run
 * already is not run again.  Prints one line per fire -- its time, what
 * happened (started, queued, skipped, exists; with --dry-run: would
 * start, exists) and the run -- then the counts.  cmd_workflow() hands
 * it here with its own argc/argv.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jv.h>

#include "cli.h"
#include "core/xalloc.h"
#include "net/client.h"
#include "table.h"

static void
backfill_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: loom workflow backfill ID --from T --to T [--dry-run]\n"
	    "                              [--input JSON] [-o text|json] "
	    "[--api URL]\n"
	    "\n"
	    "Starts a run for each fire of the workflow's schedule from T to\n"
	    "T (both included), in its time zone, each with its nominal time.\n"
	    "A fire that has a run already is left alone, so running the same\n"
	    "backfill twice makes nothing the second time.  The workflow's\n"
	    "concurrency applies.  T is an ISO 8601 time (2026-12-01,\n"
	    "2026-12-01T03:00:00Z; no zone means UTC) or a duration ago (2d).\n"
	    "--dry-run lists the fires and what would happen.\n");
}

static void
print_fires(jv reply)
{
	jv fires = jv_object_get(jv_copy(reply), jv_string("fires"));

	jv_array_foreach(fires, i, f)
	{
		jv t = jv_object_get(jv_copy(f), jv_string("scheduledTime"));
		jv oc = jv_object_get(jv_copy(f), jv_string("outcome"));
		jv ex = jv_object_get(f, jv_string("executionId"));

		printf("%s  %-11s  %s\n", jv_string_value(t),
		    jv_string_value(oc),
		    jv_get_kind(ex) == JV_KIND_STRING ? jv_string_value(ex) :
							"-");
		jv_free(t);
		jv_free(oc);
		jv_free(ex);
	}
	jv_free(fires);
	printf("%d to run, %d existing, %d skipped\n",
	    (int)jv_number_value(
		jv_object_get(jv_copy(reply), jv_string("created"))),
	    (int)jv_number_value(
		jv_object_get(jv_copy(reply), jv_string("existing"))),
	    (int)jv_number_value(
		jv_object_get(jv_copy(reply), jv_string("skipped"))));
}

static int
backfill(const struct cli_online *o, struct client *c, const char *id, jv body)
{
	char *eid = client_escape(id), *path;
	jv reply;
	int st;

	path = xasprintf("/api/v1/workflows/%s/backfill", eid);
	free(eid);
	st = client_json(c, "POST", path, body, &reply);
	free(path);
	if (st != 200 && st != 201)
		return cli_api_fail(o, c, st, reply);
	if (o->fmt == OUT_JSON)
		json_print(stdout, reply);
	else {
		print_fires(reply);
		jv_free(reply);
	}
	return EXIT_OK;
}

int
cli_workflow_backfill(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_ONLINE_OPTIONS,
		{ "from", required_argument, NULL, 'F' },
		{ "to", required_argument, NULL, 'T' },
		{ "dry-run", no_argument, NULL, 'D' },
		{ "input", required_argument, NULL, 'I' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_online o = { "workflow backfill", NULL, OUT_TEXT, 0 };
	const char *from = NULL, *to = NULL;
	struct client *c;
	jv input = jv_invalid(), body;
	int ch, r, dry = 0, rc = EXIT_USAGE;

	optind = 0;
	while (
	    (ch = getopt_long(argc - 1, argv + 1, "o:h", opts, NULL)) != -1) {
		if ((r = cli_online_opt(&o, ch, optarg)) < 0)
			goto out;
		if (r > 0)
			continue;
		switch (ch) {
		case 'h':
			backfill_usage(stdout);
			rc = EXIT_OK;
			goto out;
		case 'F':
			from = optarg;
			break;
		case 'T':
			to = optarg;
			break;
		case 'D':
			dry = 1;
			break;
		case 'I':
			jv_free(input);
			input = jv_parse(optarg);
			if (jv_get_kind(input) != JV_KIND_OBJECT) {
				rc = cli_usage_error(
				    o.cmd, "--input: expected a JSON object");
				goto out;
			}
			break;
		default:
			rc = cli_usage_error(o.cmd, "bad option");
			goto out;
		}
	}
	argc -= optind + 1;
	argv += optind + 1;
	if (argc != 1) {
		rc = cli_usage_error(o.cmd,
		    argc ? "one workflow ID only" : "missing workflow ID");
		goto out;
	}
	if (from == NULL || to == NULL) {
		rc = cli_usage_error(o.cmd, "--from and --to are required");
		goto out;
	}
	if ((c = cli_api_client(&o, &rc)) == NULL)
		goto out;
	body = jv_object_set(jv_object(), jv_string("from"), jv_string(from));
	body = jv_object_set(body, jv_string("to"), jv_string(to));
	body = jv_object_set(body, jv_string("dryRun"), jv_bool(dry));
	if (jv_is_valid(input))
		body = jv_object_set(body, jv_string("input"), jv_copy(input));
	rc = backfill(&o, c, argv[0], body);
	client_free(c);
out:
	jv_free(input);
	return rc;
}
