/*
 * state: see state.h.
 *
 * Each machine is one static table allowed[from][to] plus a name table; the
 * functions only index into them, so the tables below are the whole
 * specification and tests/unit/test_state.c checks every (from, to) pair of
 * them against a second, independently written copy.  States are plain
 * values: task_transition() writes the new state only when the table allows
 * it, so a refused transition can never leave a half-applied state behind.
 */
#include "state.h"

#include <errno.h>
#include <stddef.h>
#include <strings.h>

static const char *const task_names[TASK__COUNT] = {
	[TASK_PENDING] = "PENDING",
	[TASK_READY] = "READY",
	[TASK_RUNNING] = "RUNNING",
	[TASK_SUCCESS] = "SUCCESS",
	[TASK_FAILED] = "FAILED",
	[TASK_RETRY] = "RETRY",
	[TASK_DEAD] = "DEAD",
	[TASK_SKIPPED] = "SKIPPED",
	[TASK_CANCELLED] = "CANCELLED",
};

static const char *const run_names[RUN__COUNT] = {
	[RUN_PENDING] = "PENDING",
	[RUN_RUNNING] = "RUNNING",
	[RUN_SUCCESS] = "SUCCESS",
	[RUN_FAILED] = "FAILED",
	[RUN_CANCELLED] = "CANCELLED",
};

/*
 * Task transitions, as drawn in state.h and DESIGN.md section 3:
 *   - the happy path PENDING -> READY -> RUNNING -> SUCCESS;
 *   - a failed attempt RUNNING -> FAILED, then FAILED -> RETRY (another
 *     attempt, which waits for its backoff and becomes READY) or
 *     FAILED -> DEAD (attempts exhausted or error not retryable);
 *   - SKIPPED (when: false, upstream failed) from the states in which the
 *     task has not started an attempt: PENDING, READY, RETRY;
 *   - CANCELLED from every non-terminal state: PENDING, READY, RUNNING,
 *     FAILED (between the failed attempt and the retry decision), RETRY;
 *   - the ways out of a terminal state: DEAD -> READY, the dead-letter
 *     replay as first drawn (re-queue the dead task for a fresh attempt),
 *     and the reset of the engine's EV_RESET, which serves `loom dlq
 *     replay`, `loom execution retry --from-failed` and `loom task rerun`:
 *     SUCCESS, DEAD, SKIPPED and CANCELLED -> PENDING.  A reset task waits
 *     in PENDING like any other until its dependencies are met, so the
 *     same promotion rules (and `when:`) apply to its next attempt.
 * Staying in the same state is not a transition and is refused.
 */
static const unsigned char task_allowed[TASK__COUNT][TASK__COUNT] = {
	[TASK_PENDING] = {
		[TASK_READY] = 1,
		[TASK_SKIPPED] = 1,
		[TASK_CANCELLED] = 1,
	},
	[TASK_READY] = {
		[TASK_RUNNING] = 1,
		[TASK_SKIPPED] = 1,
		[TASK_CANCELLED] = 1,
	},
	[TASK_RUNNING] = {
		[TASK_SUCCESS] = 1,
		[TASK_FAILED] = 1,
		[TASK_CANCELLED] = 1,
	},
	[TASK_FAILED] = {
		[TASK_RETRY] = 1,
		[TASK_DEAD] = 1,
		[TASK_CANCELLED] = 1,
	},
	[TASK_RETRY] = {
		[TASK_READY] = 1,
		[TASK_SKIPPED] = 1,
		[TASK_CANCELLED] = 1,
	},
	[TASK_SUCCESS] = {
		[TASK_PENDING] = 1, /* reset: task rerun */
	},
	[TASK_DEAD] = {
		[TASK_READY] = 1, /* dead-letter replay */
		[TASK_PENDING] = 1, /* reset: replay, retry, rerun */
	},
	[TASK_SKIPPED] = {
		[TASK_PENDING] = 1, /* reset: its upstream runs again */
	},
	[TASK_CANCELLED] = {
		[TASK_PENDING] = 1, /* reset: retry --from-failed, rerun */
	},
};

/*
 * Run transitions: PENDING -> RUNNING -> SUCCESS | FAILED | CANCELLED, and
 * PENDING -> CANCELLED for a run cancelled (or dropped by a concurrency
 * policy) before it started.  A finished run may be started again when
 * tasks of it run again: FAILED -> RUNNING and CANCELLED -> RUNNING serve
 * `loom execution retry --from-failed`, the dead-letter replay and task
 * reruns, which resume the same run rather than creating a new one;
 * SUCCESS -> RUNNING serves `loom task rerun` of a run that succeeded.
 */
static const unsigned char run_allowed[RUN__COUNT][RUN__COUNT] = {
	[RUN_PENDING] = {
		[RUN_RUNNING] = 1,
		[RUN_CANCELLED] = 1,
	},
	[RUN_RUNNING] = {
		[RUN_SUCCESS] = 1,
		[RUN_FAILED] = 1,
		[RUN_CANCELLED] = 1,
	},
	[RUN_SUCCESS] = {
		[RUN_RUNNING] = 1, /* task rerun */
	},
	[RUN_FAILED] = {
		[RUN_RUNNING] = 1, /* retry --from-failed, DLQ replay */
	},
	[RUN_CANCELLED] = {
		[RUN_RUNNING] = 1, /* retry --from-failed, DLQ replay */
	},
};

const char *
task_state_name(enum task_state s)
{
	if ((unsigned)s >= TASK__COUNT)
		return "UNKNOWN";
	return task_names[s];
}

int
task_state_parse(const char *s, enum task_state *out)
{
	for (int i = 0; s != NULL && i < TASK__COUNT; i++)
		if (strcasecmp(s, task_names[i]) == 0) {
			*out = (enum task_state)i;
			return 0;
		}
	errno = EINVAL;
	return -1;
}

const char *
run_state_name(enum run_state s)
{
	if ((unsigned)s >= RUN__COUNT)
		return "UNKNOWN";
	return run_names[s];
}

int
run_state_parse(const char *s, enum run_state *out)
{
	for (int i = 0; s != NULL && i < RUN__COUNT; i++)
		if (strcasecmp(s, run_names[i]) == 0) {
			*out = (enum run_state)i;
			return 0;
		}
	errno = EINVAL;
	return -1;
}

int
task_state_terminal(enum task_state s)
{
	return s == TASK_SUCCESS || s == TASK_DEAD || s == TASK_SKIPPED ||
	    s == TASK_CANCELLED;
}

int
run_state_terminal(enum run_state s)
{
	return s == RUN_SUCCESS || s == RUN_FAILED || s == RUN_CANCELLED;
}

int
task_transition_allowed(enum task_state from, enum task_state to)
{
	if ((unsigned)from >= TASK__COUNT || (unsigned)to >= TASK__COUNT)
		return 0;
	return task_allowed[from][to];
}

int
run_transition_allowed(enum run_state from, enum run_state to)
{
	if ((unsigned)from >= RUN__COUNT || (unsigned)to >= RUN__COUNT)
		return 0;
	return run_allowed[from][to];
}

int
task_transition(enum task_state *s, enum task_state to)
{
	if (!task_transition_allowed(*s, to)) {
		errno = EINVAL;
		return -1;
	}
	*s = to;
	return 0;
}

int
run_transition(enum run_state *s, enum run_state to)
{
	if (!run_transition_allowed(*s, to)) {
		errno = EINVAL;
		return -1;
	}
	*s = to;
	return 0;
}
