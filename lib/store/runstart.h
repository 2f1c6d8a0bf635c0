/*
 * runstart: every way a run starts -- a trigger through loom-api, a
 * schedule's fire, a backfill, a message, a file, a retry -- goes through
 * runstart(), which applies the workflow's `concurrency:` (its max and
 * its policy, copied on apply to the workflows row) in one place.
 *
 * A workflow without a limit takes one statement (transition run_create).
 * One with a limit takes its row FOR NO KEY UPDATE, so its starts take
 * turns, counts its active and queued runs, and asks overlap_decide()
 * (lib/core/schedule.h): start, queue, skip (an event records the reason)
 * or queue and cancel the oldest active run.  A start with a nominal time
 * (schedule, backfill) first claims (workflow, time) in schedule_fires:
 * a second start of the same fire makes nothing (RUNSTART_DUPLICATE),
 * whatever the number of schedulers.
 *
 * With `current` set, the run is made only if `version` is the
 * workflow's current version when the workflow's row is locked (the
 * same statement, or the locked way's first): else RUNSTART_STALE names
 * the current one, and nothing was made.  loom-api's trigger checks the
 * params against the version it last saw current and starts the run in
 * one statement; an apply in between costs it a second try, never a run
 * of a superseded version.
 */
#ifndef LOOM_RUNSTART_H
#define LOOM_RUNSTART_H

#include <stdint.h>

#include <libpq-fe.h>

#include "util/idgen.h"

struct run_start {
	const char *workflow;
	int version;	      /* the version the params were checked against */
	const char *params;   /* JSON text */
	const char *trigger;  /* manual, schedule, backfill, message, ... */
	int64_t nominal;      /* fire time (Unix seconds), or -1 */
	const char *retry_of; /* or NULL */
	int force;	      /* start a paused workflow too */
	int in_tx;	      /* the caller holds a transaction */
	int current;	      /* version must be the current one */
};

enum runstart_outcome {
	RUNSTART_STARTED = 0,
	RUNSTART_QUEUED,      /* waits for a slot (made, PENDING, queued) */
	RUNSTART_SKIPPED,     /* not made: the policy said so */
	RUNSTART_DUPLICATE,   /* not made: that fire was acted on already */
	RUNSTART_NO_WORKFLOW, /* not made: no such workflow (or deleted) */
	RUNSTART_PAUSED,      /* not made: paused, and not forced */
	RUNSTART_STALE,	      /* not made: version is not current */
};

struct run_started {
	enum runstart_outcome outcome;
	char id[IDGEN_EXEC_LEN + 1];	    /* the new run (STARTED, QUEUED) */
	char cancelled[IDGEN_EXEC_LEN + 1]; /* cancelOther's victim, or "" */
	const char *reason;		    /* static: why SKIPPED */
	int version;			    /* STALE: the current version */
};

/*
 * Starts (or queues, or skips) one run.  Returns 0 with *out filled, or
 * -1 with *err (malloc'd); then, without in_tx, nothing was made (the
 * transaction it opened is rolled back); with in_tx the caller rolls
 * back.
 */
int runstart(PGconn *db, const struct run_start *rs, struct run_started *out,
    char **err);

/*
 * With in_tx, a cancelOther start leaves out->cancelled "?": after its
 * COMMIT the caller calls this, which asks the oldest active run to
 * cancel and names it in out->cancelled ("" when none was left).
 * Without in_tx runstart() does it itself.  0 or -1 with *err.
 */
int runstart_cancel_other(PGconn *db, const struct run_start *rs,
    struct run_started *out, char **err);

/* "started", "queued", ... */
const char *runstart_outcome_name(enum runstart_outcome o);

/*
 * Queued runs of the workflow take the free slots: in its own
 * transaction (locks the workflow's row first).  Returns the number
 * admitted, or -1 with *err.
 */
long runstart_admit(PGconn *db, const char *workflow, char **err);

#endif
