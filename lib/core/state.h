/*
 * state: the task and run state machines of DESIGN.md section 3, as
 * transition tables.  Pure code.
 *
 * Task:  PENDING -> READY -> RUNNING -> SUCCESS
 *                              |
 *                            FAILED -> RETRY -> READY ...
 *                              |
 *                            DEAD
 *        SKIPPED from PENDING/READY/RETRY; CANCELLED from any non-terminal.
 *        DEAD -> READY re-queues a dead task directly.  A reset (`loom
 *        execution retry --from-failed`, `loom task rerun`, `loom dlq
 *        replay`: the engine's EV_RESET) takes a finished task back to
 *        PENDING: SUCCESS, DEAD, SKIPPED, CANCELLED -> PENDING.
 * Run:   PENDING -> RUNNING -> SUCCESS | FAILED | CANCELLED
 *        (PENDING may also go straight to CANCELLED; a finished run goes
 *        back to RUNNING when tasks of it run again: FAILED and CANCELLED
 *        for `retry --from-failed`, DLQ replay and task reruns, SUCCESS
 *        for a task rerun).
 * Names are upper case as in the enums; the parsers ignore case.
 *
 * A transition not in the table is refused: task_transition() returns -1
 * and leaves the state alone.
 */
#ifndef LOOM_STATE_H
#define LOOM_STATE_H

enum task_state {
	TASK_PENDING = 0,
	TASK_READY,
	TASK_RUNNING,
	TASK_SUCCESS,
	TASK_FAILED,
	TASK_RETRY,
	TASK_DEAD,
	TASK_SKIPPED,
	TASK_CANCELLED,
	TASK__COUNT
};

enum run_state {
	RUN_PENDING = 0,
	RUN_RUNNING,
	RUN_SUCCESS,
	RUN_FAILED,
	RUN_CANCELLED,
	RUN__COUNT
};

const char *task_state_name(enum task_state s); /* "PENDING" ... */
int task_state_parse(const char *s, enum task_state *out);
const char *run_state_name(enum run_state s);
int run_state_parse(const char *s, enum run_state *out);

int task_state_terminal(enum task_state s); /* SUCCESS DEAD SKIPPED CANCELLED */
int run_state_terminal(enum run_state s);

int task_transition_allowed(enum task_state from, enum task_state to);
int run_transition_allowed(enum run_state from, enum run_state to);

/* Sets *s = to when allowed and returns 0; else returns -1, errno EINVAL. */
int task_transition(enum task_state *s, enum task_state to);
int run_transition(enum run_state *s, enum run_state to);

#endif
