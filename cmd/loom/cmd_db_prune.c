/*
 * loom db prune: the history of runs that ended long ago goes.
 *
 *   loom db prune --older-than DUR [--workflow ID] [--dry-run] [--db URL]
 *
 * A run goes when it has ended (SUCCESS, FAILED, CANCELLED) and was
 * created more than DUR ago, with everything that belongs to it: its
 * task rows, attempts, output lines, dead letters, control requests (the
 * schema's cascade and its trigger on executions) and its events.  Runs
 * go in batches of PRUNE_BATCH, each its own transaction, oldest first,
 * found through executions_created; a run whose row another transaction
 * holds (a pass that is writing it) is skipped, and goes next time.
 * Workflows, their versions, schedule fires and workflow events stay.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "core/duration.h"
#include "store/db.h"

#define PRUNE_BATCH "500"

/* clang-format off */
#define PRUNE_PICK \
	"SELECT id FROM executions WHERE created_at < now() - " \
	"$1::bigint * interval '1 millisecond' AND status IN " \
	"('SUCCESS', 'FAILED', 'CANCELLED') AND ($2::text IS NULL OR " \
	"workflow_id = $2) ORDER BY created_at"

static const char prune_sql[] =
    "WITH d AS (" PRUNE_PICK " LIMIT " PRUNE_BATCH " FOR UPDATE SKIP LOCKED), "
    "x AS (DELETE FROM executions e USING d WHERE e.id = d.id "
    "RETURNING e.id), "
    "v AS (DELETE FROM events v USING x WHERE v.execution_id = x.id "
    "RETURNING 1) "
    "SELECT (SELECT count(*) FROM x), (SELECT count(*) FROM v)";

static const char count_sql[] =
    "WITH d AS (" PRUNE_PICK ") "
    "SELECT (SELECT count(*) FROM d), (SELECT count(*) FROM events v "
    "JOIN d ON v.execution_id = d.id)";
/* clang-format on */

int
db_prune_cmd(const char *url, const char *older, const char *workflow,
    int dry_run, enum output_format fmt)
{
	char *err = NULL, ms[32];
	const char *derr = NULL, *p[2];
	int64_t age;
	long long runs = 0, events = 0;
	PGconn *c;
	int rc = EXIT_OK;

	if (older == NULL)
		return cli_usage_error("db prune",
		    "--older-than is required (a duration like 30d)");
	if (duration_parse(older, &age, &derr) < 0)
		return cli_usage_error(
		    "db prune", "--older-than '%s': %s", older, derr);
	if ((c = db_connect(url, "loom", &err)) == NULL) {
		fprintf(stderr, "loom db prune: %s\n", err);
		free(err);
		return EXIT_UNREACHABLE;
	}
	snprintf(ms, sizeof(ms), "%lld", (long long)age);
	p[0] = ms;
	p[1] = workflow;
	for (;;) {
		PGresult *r =
		    db_exec(c, &err, dry_run ? count_sql : prune_sql, 2, p);
		long long n;

		if (r == NULL) {
			fprintf(stderr, "loom db prune: %s\n", err);
			free(err);
			rc = EXIT_FAIL;
			break;
		}
		n = atoll(PQgetvalue(r, 0, 0));
		runs += n;
		events += atoll(PQgetvalue(r, 0, 1));
		PQclear(r);
		if (dry_run || n == 0)
			break;
	}
	PQfinish(c);
	if (fmt == OUT_JSON)
		printf("{\"runs\":%lld,\"events\":%lld,\"dryRun\":%s}\n", runs,
		    events, dry_run ? "true" : "false");
	else
		printf("%s %lld runs that ended, created more than %s ago, "
		       "and their %lld events\n",
		    dry_run ? "would remove" : "removed", runs, older, events);
	return rc;
}
