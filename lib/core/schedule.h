/*
 * schedule: the pure decisions of loom-sched -- which nominal fires of a
 * schedule to run now (on time, or made up for by the catch-up policy),
 * when the next one is due, the jitter of a fire, and what a start past a
 * workflow's concurrency limit does.  No I/O and no clock: the caller
 * passes "now" (cmd/loom-sched and lib/store/runstart.c drive them).
 *
 * Times: a nominal fire time is in Unix seconds (cron fires on whole
 * seconds); "now", the due time and every duration are in milliseconds.
 * A fire's due time is its nominal time plus its jitter.  A fire is on
 * time when it is acted on within `grace_ms` of its due time; any later
 * and it was missed (the scheduler was down, stopped, starved, or the
 * wall clock jumped forward), and the catch-up policy decides.
 */
#ifndef LOOM_SCHEDULE_H
#define LOOM_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>

#include "workflow.h"

struct cron;
struct tz;

struct sched_policy {
	const char *workflow; /* the jitter's seed */
	enum catchup_policy catchup;
	int64_t window_ms; /* missed fires older than this are dropped */
	int catchup_max;   /* CATCHUP_ALL: the newest this many */
	int64_t jitter_ms; /* 0: none */
	int64_t grace_ms;  /* lateness still counted as on time */
};

/* Fills a sched_policy from the workflow's keys. */
void sched_policy_from(
    struct sched_policy *p, const struct workflow *wf, int64_t grace_ms);

/* At most this many missed fires are made up for at once (the most
 * catchupMax may say), and at most as many on-time fires are planned
 * at once (the rest next time). */
#define SCHED_CATCHUP_MAX 1000
#define SCHED_PLAN_MAX (2 * SCHED_CATCHUP_MAX)

struct sched_plan {
	int64_t fires[SCHED_PLAN_MAX];	    /* nominal seconds, ascending */
	unsigned char late[SCHED_PLAN_MAX]; /* made up for by catch-up */
	size_t nfires;
	int64_t cursor;	     /* the last nominal fire handled (seconds) */
	size_t missed;	     /* missed fires dropped by the policy */
	int dropped_old;     /* fires older than the window were dropped */
	int64_t next_due_ms; /* due time of the next fire; -1: none */
};

/*
 * Plans the fires of schedule c in zone z (NULL: UTC) after the cursor
 * (the last nominal fire handled, seconds) up to now_ms.  Returns 0, or
 * -1 when the schedule has no next fire at all (plan->next_due_ms is -1
 * then too).  The caller acts on plan->fires and then stores
 * plan->cursor; a plan with more fires than SCHED_PLAN_MAX handles the
 * oldest and leaves next_due_ms in the past, so the caller plans again.
 */
int sched_plan(const struct cron *c, const struct tz *z,
    const struct sched_policy *p, int64_t cursor, int64_t now_ms,
    struct sched_plan *plan);

/* The jitter of fire `nominal` of workflow p->workflow: the same number
 * in every scheduler, in [0, p->jitter_ms). */
int64_t sched_jitter_ms(const struct sched_policy *p, int64_t nominal);

/* The due time (ms) of fire `nominal`. */
int64_t sched_due_ms(const struct sched_policy *p, int64_t nominal);

/* What one more start of a workflow does (loom-workflow(5), concurrency). */
enum overlap_action {
	OVERLAP_START = 0,     /* starts now */
	OVERLAP_QUEUE,	       /* waits for a slot (PENDING, queued) */
	OVERLAP_SKIP,	       /* is not started */
	OVERLAP_CANCEL_OLDEST, /* queued, and the oldest active run cancelled */
};

/*
 * active: the workflow's runs that hold a slot (PENDING or RUNNING, not
 * queued); queued: the ones waiting.  max 0 means no limit.  *reason (may
 * be NULL) gets a static sentence for OVERLAP_SKIP.
 */
enum overlap_action overlap_decide(int max, enum concurrency_policy policy,
    long active, long queued, const char **reason);

const char *overlap_action_name(enum overlap_action a);

#endif
