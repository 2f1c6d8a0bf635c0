/*
 * transition: every SQL statement that moves a task (run_tasks, with its
 * attempt rows in task_executions) or a run (executions.status) from one
 * state to another, in one table, each named for the transition it makes.
 *
 * The task and run state machines are lib/core/state.c's tables; the
 * engine core asks them before every move it decides (engine_step()).
 * But four processes also move states in SQL, with the legality written
 * into WHERE clauses: loom-exec claims, reports, holds and fails overdue
 * tasks, loom-api's callback endpoint finishes an awaited one and its
 * controls ask for cancels and create runs, loom-engine writes what the
 * core decided.  Those statements live here, and only here, as rows of
 * transitions[]: {name, machine, the states it moves rows from, the states
 * it can move them to, flags, the SQL}.  Where a statement's WHERE names
 * its from-states (or its SET a fixed to-state), the SQL text is built
 * from the same list as the row's masks (transition.c), so the two cannot
 * drift; tests/unit/test_transition.c checks, against a real database,
 * that each statement makes only moves that its row lists and state.c
 * allows, and that every row lists only moves state.c allows.
 *
 * How a row reads, by flag:
 *   (none)    the statement moves rows from a state in from to one in
 *             to, and every such pair (from != to) is allowed.
 *   CORE      the statement writes the states the engine core decided
 *             (loom-engine's pass): it checks nothing itself, and the
 *             pairs it may write are exactly those state.c allows.
 *   REQUEST   the statement moves nothing: it asks the engine for the
 *             move (cancel_requested), for rows in from only; the
 *             engine's next pass makes it (a CORE statement).
 *   CREATE    the statement makes the row, in the machine's first state
 *             (PENDING); from is empty.
 *   HOLD      the circuit breaker's hold: a claimed RUNNING row goes
 *             back to READY (same attempt, no event) to be claimed again
 *             later.  To the state machine the task stays RUNNING: the
 *             claim wrote READY -> RUNNING once for the attempt and the
 *             next claim of it writes none (schema/012_claim_events.sql).
 *   A row with an empty to moves no state: it keeps rows of those states
 *   as they are (a lease renewed, given up or re-timed; results settled
 *   or cleared before a reset) and is listed because its WHERE is part
 *   of the machine.
 *
 * Callers (lib/store/execdb.c, the pass writer of enginedb, loom-api)
 * run transition_sql(id) with their parameters; the parameters of each
 * are documented beside its SQL in transition.c.  The texts are constant
 * (prepared once per connection by db.c); nothing is spliced in.
 */
#ifndef LOOM_TRANSITION_H
#define LOOM_TRANSITION_H

enum transition_id {
	/* run_tasks, loom-exec (execdb.c) */
	TR_TASK_CLAIM,	      /* READY, leased RUNNING -> RUNNING */
	TR_TASK_RENEW,	      /* RUNNING: its lease renewed */
	TR_TASK_REPORT,	      /* RUNNING -> SUCCESS | FAILED */
	TR_TASK_RELEASE,      /* RUNNING: lease given up */
	TR_TASK_FAIL_OVERDUE, /* RUNNING (awaiting callback) -> FAILED */
	TR_TASK_HOLD,	      /* RUNNING -> READY, held by a breaker */
	TR_TASK_UNHOLD,	      /* READY: held rows re-timed or released */
	/* run_tasks, loom-api */
	TR_TASK_CALLBACK, /* RUNNING, awaited -> SUCCESS | FAILED */
	/* run_tasks, loom-engine's pass */
	TR_TASK_SETTLE,	      /* late reports of a finished run settled */
	TR_TASK_RESET_CLEAR,  /* a reset task's last result forgotten */
	TR_TASK_ENGINE_WRITE, /* what the engine core decided */
	/* executions */
	TR_RUN_CREATE,		/* -> PENDING: a start, no limit */
	TR_RUN_CREATE_LIMITED,	/* -> PENDING (maybe queued): a start */
	TR_RUN_ADMIT,		/* PENDING: queued runs take free slots */
	TR_RUN_CANCEL,		/* PENDING | RUNNING -> CANCELLED, requested */
	TR_RUN_CANCEL_WORKFLOW, /* the same for every run of a workflow */
	TR_RUN_ENGINE_WRITE,	/* what the engine core decided */
	TR__COUNT
};

enum transition_machine {
	TRANSITION_TASK, /* enum task_state, run_tasks.state */
	TRANSITION_RUN,	 /* enum run_state, executions.status */
};

enum {
	TRANSITION_CORE = 1 << 0,
	TRANSITION_REQUEST = 1 << 1,
	TRANSITION_CREATE = 1 << 2,
	TRANSITION_HOLD = 1 << 3,
};

struct transition {
	const char *name; /* "task_claim" */
	enum transition_machine machine;
	unsigned from;	/* 1u << state, for each from-state */
	unsigned to;	/* 1u << state, for each to-state */
	unsigned flags; /* TRANSITION_* */
	const char *sql;
	int nparams;
};

/* The whole table, indexed by enum transition_id. */
extern const struct transition transitions[TR__COUNT];

/* The SQL text of transition id (static). */
const char *transition_sql(enum transition_id id);
/*
 * TR_RUN_ENGINE_WRITE ($1..$6) that also rings loom_event for each run
 * it wrote, and loom_task_ready once when $7 is true.
 */
const char *transition_run_engine_write_ring(void);

/*
 * Whether the row of id may move a row of its machine from state from to
 * state to: from in its from-set and to in its to-set (for CORE rows:
 * whatever state.c allows).  Pure; the tests' reference.
 */
int transition_lists(enum transition_id id, int from, int to);

#endif
