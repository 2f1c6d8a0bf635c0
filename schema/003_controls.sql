-- Link Loom schema, migration 003: run and task controls.
--
-- loom-api records what a user asks of a run (retry the failed tasks, re-run
-- one task, replay a dead letter) as a run_requests row and rings loom_run;
-- it never changes run or task state itself.  loom-engine picks the pending
-- rows up in its pass over the run, under the run's row lock, applies them
-- through the engine core (EV_RESET, lib/core/engine.h) and marks them done in
-- the same transaction: with the tasks it reset (result) or why it refused
-- (error).  Cancelling needs no row here: executions.cancel_requested
-- already carries it.
--
-- run_tasks.attempt_base gives a reset task a fresh attempt budget while
-- attempt numbers keep growing (they are part of the Idempotency-Key
-- executionId/taskId/attempt, which must never repeat): retry decisions
-- count attempt - attempt_base.
--
-- dead_letters.resolution (free text in 001) takes 'replayed' (loom dlq
-- replay), 'discarded' (loom dlq discard) and 'retried' (the task ran again
-- through retry --from-failed or a task rerun).

ALTER TABLE run_tasks ADD COLUMN attempt_base integer NOT NULL DEFAULT 0;

CREATE TABLE run_requests (
	id		bigserial PRIMARY KEY,
	execution_id	text NOT NULL REFERENCES executions(id) ON DELETE CASCADE,
	kind		text NOT NULL CHECK (kind IN ('retry', 'rerun', 'replay')),
	task_id		text,			-- rerun, replay
	downstream	boolean NOT NULL DEFAULT false,	-- rerun
	dead_letter_id	bigint REFERENCES dead_letters(id) ON DELETE SET NULL,
	created_at	timestamptz NOT NULL DEFAULT now(),
	done_at		timestamptz,		-- the engine decided
	error		text,			-- ...and refused, saying why
	result		jsonb,			-- ...or applied: {"reset": [task ids]}
	CHECK ((kind = 'retry') = (task_id IS NULL))
);
-- loom-engine's inbox
CREATE INDEX run_requests_pending ON run_requests (execution_id, id)
	WHERE done_at IS NULL;
CREATE INDEX run_requests_dead_letter ON run_requests (dead_letter_id)
	WHERE dead_letter_id IS NOT NULL;
