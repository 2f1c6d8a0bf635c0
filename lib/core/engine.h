/*
 * engine: the pure core that decides what happens next in a run.
 *
 * Given a workflow, the run's current state (every task's state) and one
 * event, engine_step() moves the state forward through the state machines
 * of state.h and returns the actions a driver must carry out: dispatch a
 * task (with its rendered input), hold one for retry until a time, dead-
 * letter one, cancel a running one, finish the run.  It performs no I/O and
 * reads no clock: time and randomness come in the event.  Both drivers —
 * loom-engine (PostgreSQL) and `loom run` (in memory) — call it, so they
 * cannot disagree.
 *
 * Rules (documented for users in loom-workflow(5)):
 *   - A task becomes READY when every dependency is SUCCESS, or SKIPPED
 *     because its own `when:` was false.  Its `when:` is evaluated then; false
 *     makes it SKIPPED (reason "condition").
 *   - A failed attempt is retried per the task's retry policy (FAILED ->
 *     RETRY until not_before, then READY with attempt+1); otherwise DEAD.
 *   - A DEAD, CANCELLED or upstream-skipped dependency makes a task SKIPPED
 *     (reason "upstream"); independent branches keep running.
 *   - The run ends when every task is terminal: SUCCESS if no task is DEAD,
 *     CANCELLED or upstream-skipped, else FAILED.  Cancel and run timeout
 *     end it CANCELLED / FAILED at once, cancelling what is left.
 *   - A reset (EV_RESET: `retry --from-failed`, `task rerun`, `dlq
 *     replay`) takes finished tasks back to PENDING with a fresh attempt
 *     budget, together with the tasks that were skipped only because of
 *     them (and, when asked, everything downstream); a finished run goes
 *     back to RUNNING, and the usual rules take it from there.
 *
 *   - A run a driver loaded afresh from storage (EV_RECOVER) is brought
 *     back to what the rules say: every PENDING task whose dependencies
 *     are met is promoted, every one behind a DEAD, CANCELLED or
 *     upstream-skipped dependency is skipped, and a run whose tasks are
 *     all finished ends.  Stored state the driver wrote only in part (a
 *     pass written in several transactions, a crash between them) loses
 *     nothing that way: a task without its row reads as PENDING, and is
 *     derived again.
 *
 * Cost: engine_step touches only the tasks the event affects (a task's
 * children), so a 10,000-task fan-out costs O(1) per completion;
 * EV_RECOVER looks at every task and dependency once, O(n + e), like the
 * load that precedes it.
 */
#ifndef LOOM_ENGINE_H
#define LOOM_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include <jv.h>

#include "jqx.h"
#include "retry.h"
#include "state.h"
#include "workflow.h"

enum skip_reason {
	SKIP_NONE = 0,
	SKIP_CONDITION, /* its own when: was false */
	SKIP_UPSTREAM,	/* a dependency did not succeed */
};

const char *skip_reason_name(
    enum skip_reason r); /* "", "condition", "upstream" */

struct task_rt {
	enum task_state state;
	int attempt; /* current/last attempt, 1-based; 0 = never dispatched */
	int attempt_base; /* attempts spent before the last reset: attempt
			     numbers keep growing across resets (they are
			     part of the Idempotency-Key), while retry
			     decisions count attempt - attempt_base */
	int64_t
	    not_before_ms; /* while RETRY: when the next attempt may start */
	enum skip_reason skip;
	enum errclass error; /* class of the last failure */
	jv output; /* output of the successful attempt; jv_null otherwise */
};

struct run_rt {
	enum run_state state;
	jv params;	       /* defaults merged with the run's input */
	struct task_rt *tasks; /* wf->ntasks entries, same order */
	size_t ntasks;
	size_t nterminal; /* tasks in a terminal state */
	size_t nbad;	  /* DEAD, CANCELLED or upstream-skipped */
	int64_t started_ms;
	int64_t deadline_ms; /* run timeout instant; 0 = none */
	/*
	 * The nominal fire time of a run a schedule or a backfill started,
	 * as RFC 3339 UTC ("2026-12-07T03:00:00Z"), set by the driver; ""
	 * for any other run.  Every request of the run carries it
	 * ("scheduledTime").
	 */
	char scheduled_time[32];
	/*
	 * How the run started ("manual", "schedule", "backfill", "message",
	 * "file", ...: executions.trigger), set by the driver; "" when it
	 * does not say (`loom run`).
	 */
	char trigger[32];

	/*
	 * Bookkeeping of the engine, set by run_rt_init() and kept by
	 * engine_step() and run_rt_recount(); drivers leave it alone.  unmet
	 * makes readiness O(1) per completed dependency, so a fan-in of
	 * 10,000 tasks does not rescan 10,000 dependencies per completion.
	 */
	const struct dag *dag; /* wf->dag, borrowed */
	size_t *unmet;	       /* per task: dependencies not yet satisfied */
};

/*
 * Sets up a run: every task PENDING, params = workflow defaults overlaid
 * with input (an object or null, consumed; unknown params are an error,
 * "unknown param 'x'; declared: a, b").  A workflow that declares no params
 * at all takes any input object as its params, which suits quick
 * workflows.  Returns 0, or -1 with *err a malloc'd message; rt then needs
 * no run_rt_free() (calling it is harmless).
 */
int run_rt_init(
    struct run_rt *rt, const struct workflow *wf, jv input, char **err);
/*
 * The rule of run_rt_init() for params alone: the declared params (a
 * workflow's params, consumed) overlaid with input (consumed) into
 * *params.  Returns 0, or -1 with *err a malloc'd message (and *params
 * invalid).
 */
int run_params(jv declared, jv input, jv *params, char **err);
void run_rt_free(struct run_rt *rt);
/*
 * The context of the run's jq expressions (`when:` and the templates
 * `input:`, `headers:`, `body:`), owned by the caller:
 *
 *   {"params": {...}, "tasks": {ID: {"output": ...}, ...},
 *    "trigger": "schedule" | ... | null, "scheduledTime": "..." | null}
 *
 * tasks holds the tasks that have succeeded so far.
 */
jv run_rt_context(const struct workflow *wf, const struct run_rt *rt);
/*
 * Recomputes nterminal/nbad (and the engine's bookkeeping) after a driver
 * loaded task states directly.  The driver also loads each task's skip
 * reason: a condition-skipped task satisfies its dependents, an
 * upstream-skipped one does not.
 */
void run_rt_recount(struct run_rt *rt);

enum engine_event_type {
	EV_RUN_START,	   /* the run begins (PENDING -> RUNNING) */
	EV_TASK_STARTED,   /* an executor took the task: READY -> RUNNING */
	EV_TASK_SUCCEEDED, /* task, output */
	EV_TASK_FAILED,	   /* task, error, message */
	EV_RETRY_DUE,	   /* task's not_before has passed */
	EV_CANCEL,	   /* the user cancelled the run */
	EV_RUN_TIMEOUT,	   /* the run's deadline passed */
	EV_RESET,	   /* run finished tasks again: tasks, downstream */
	EV_RECOVER,	   /* the driver loaded the run afresh: see below */
};

struct engine_event {
	enum engine_event_type type;
	size_t task;	     /* for task events */
	enum errclass error; /* for EV_TASK_FAILED */
	const char *message; /* for EV_TASK_FAILED; borrowed */
	jv output;	     /* for EV_TASK_SUCCEEDED; always consumed */
	int64_t now_ms;	     /* the driver's clock */
	double rand01;	     /* a draw in [0,1) for retry jitter */
	const size_t *tasks; /* EV_RESET: tasks to run again; borrowed */
	size_t ntasks;
	int downstream; /* EV_RESET: and all tasks downstream */
};

enum engine_action_type {
	ACT_DISPATCH,	 /* task is READY: send attempt with input */
	ACT_RETRY_AT,	 /* task waits in RETRY until at_ms */
	ACT_DEAD_LETTER, /* task is DEAD: record it in the dead-letter queue */
	ACT_SKIP,	 /* task was SKIPPED (skip says why) */
	ACT_CANCEL_TASK, /* stop the task's running attempt */
	ACT_FINISH_RUN,	 /* the run reached run_state */
	ACT_RESET,	 /* task is PENDING again: forget its last result */
};

struct engine_action {
	enum engine_action_type type;
	size_t task;
	int attempt;	       /* ACT_DISPATCH; ACT_RESET: the last one */
	jv input;	       /* ACT_DISPATCH: rendered input (owned by the
				  result); jv_null() for other actions */
	int64_t at_ms;	       /* ACT_RETRY_AT */
	enum skip_reason skip; /* ACT_SKIP */
	enum errclass error;   /* ACT_DEAD_LETTER, ACT_FINISH_RUN on failure */
	char
	    *message; /* ACT_DEAD_LETTER / ACT_FINISH_RUN; owned, may be NULL */
	enum run_state run_state; /* ACT_FINISH_RUN */
};

#define ENGINE_RUN ((size_t)-1) /* transition.task for the run itself */

struct engine_transition {
	size_t task; /* or ENGINE_RUN */
	int from;    /* enum task_state or enum run_state */
	int to;
};

struct engine_result {
	struct engine_action *actions;
	size_t nactions, actions_cap;
	struct engine_transition *transitions;
	size_t ntransitions, transitions_cap;
};

void engine_result_init(struct engine_result *res);
/* Frees actions' inputs and messages; res stays usable (emptied). */
void engine_result_clear(struct engine_result *res);

/*
 * Applies one event.  Appends to res (it is not cleared first).  Returns 0,
 * or -1 with errno EINVAL when the event does not apply to the current state
 * (an illegal transition, e.g. a late result for a cancelled task, or a
 * run timeout for a run without a deadline): nothing is changed then, and
 * drivers log and drop the event.  EV_RETRY_DUE and EV_RUN_TIMEOUT are
 * the driver's word that the time has come; now_ms is not checked
 * against not_before_ms / deadline_ms, so a stepped clock cannot strand a
 * run.
 * ev->output is consumed in every case, errors included, and replaced by
 * jv_null(), so a driver never frees it.
 * jq is the expression cache used for when:/input: (see jqx.h).
 */
int engine_step(const struct workflow *wf, struct run_rt *rt, struct jqx *jq,
    struct engine_event *ev, struct engine_result *res);

/*
 * EV_RESET runs finished tasks again (`loom execution retry --from-failed`,
 * `loom task rerun`, `loom dlq replay`).  Each of ev->tasks must be
 * terminal (SUCCESS, DEAD, SKIPPED, CANCELLED).  It goes back to PENDING
 * (ACT_RESET: its output and error are forgotten) with a fresh attempt
 * budget: attempt_base = attempt, so the next attempt is attempt + 1 and
 * its retries are counted from there.  With it go
 *   - every upstream-skipped task downstream of a reset task whose
 *     dependencies will all be satisfied or run again (the tasks skipped
 *     because of it), whatever ev->downstream says;
 *   - with ev->downstream, every finished task downstream of them
 *     (PENDING ones simply keep waiting).
 * A finished run goes back to RUNNING with a new deadline; then what is
 * ready is promoted, as after any event.  Refused (EINVAL, nothing
 * changed) when the run is PENDING or cannot run again, a task is not
 * terminal, a task cannot run because a dependency that is not reset
 * is DEAD, CANCELLED or upstream-skipped, or, with ev->downstream, a
 * downstream task is still active (READY, RUNNING, FAILED, RETRY): stop
 * or wait for it first.
 *
 * engine_reset_refusal() says why EV_RESET ev would be refused, as a
 * malloc'd message ("task 'b' is RUNNING; only a finished task can run
 * again"), or returns NULL when it applies.  Changes nothing.
 */
char *engine_reset_refusal(const struct workflow *wf, const struct run_rt *rt,
    const struct engine_event *ev);

/*
 * The tasks `retry --from-failed` runs again: every DEAD, CANCELLED and
 * upstream-skipped task, in index order, into out (room for rt->ntasks).
 * Returns their count.
 */
size_t engine_failed_tasks(const struct run_rt *rt, size_t *out);

#endif
