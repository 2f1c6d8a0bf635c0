-- Link Loom schema, migration 014: loom-sched -- schedules that fire,
-- concurrency limits, triggers from messages, rows and files, trigger
-- tokens.
--
-- workflows.concurrency_max / concurrency_policy: the current version's
--   `concurrency:` (0 = no limit), copied on apply so that every way a
--   run starts (lib/store/runstart.c) decides from one row, locked.
-- workflows.schedule_since: fires before this instant are never run:
--   set when a schedule is first applied or changed and when the workflow
--   is unpaused, so neither catches up fires from before.
-- executions.scheduled_at: the nominal fire time of a run started by the
--   schedule or a backfill (kept by a retry of that run), for backends
--   that ask "which day is this?".
-- executions.queued: a PENDING run waiting for a concurrency slot; the
--   engine leaves it alone (unless it is cancelled) until runstart's
--   admission clears the flag and rings loom_run.
-- schedule_fires: one row per nominal fire that was acted on (a run,
--   queued or not, or a skip); its key makes a second run for the same
--   fire impossible, whatever the number of schedulers or backfills.
-- schedule_state: per workflow, the last nominal fire handled (the
--   scheduler's cursor); a scheduler takes the row FOR UPDATE SKIP LOCKED
--   while it fires, so two schedulers never fire one workflow at once.
-- trigger_queue: runs to start; anyone may insert a row (a message that
--   is never lost, unlike a NOTIFY sent while no scheduler listens);
--   loom-sched deletes each row as it starts its run.  debounce_key
--   collapses a burst of events into one row (and so one run).
-- api_tokens: scope 'trigger' with workflow_id: a token that can only
--   trigger that workflow.

ALTER TABLE workflows
	ADD COLUMN concurrency_max integer NOT NULL DEFAULT 0
		CHECK (concurrency_max >= 0),
	ADD COLUMN concurrency_policy text NOT NULL DEFAULT 'queue'
		CHECK (concurrency_policy IN ('queue', 'skip', 'bufferOne',
		    'cancelOther', 'allow')),
	ADD COLUMN schedule_since timestamptz NOT NULL DEFAULT now();

ALTER TABLE executions
	ADD COLUMN scheduled_at timestamptz,
	ADD COLUMN queued boolean NOT NULL DEFAULT false;
-- the active runs of one workflow, counted by every admission
CREATE INDEX executions_workflow_active ON executions (workflow_id, created_at)
	WHERE status IN ('PENDING', 'RUNNING');

CREATE TABLE schedule_fires (
	workflow_id	text NOT NULL,
	nominal_at	timestamptz NOT NULL,
	kind		text NOT NULL CHECK (kind IN ('schedule', 'backfill')),
	outcome		text NOT NULL
			CHECK (outcome IN ('started', 'queued', 'skipped')),
	execution_id	text,
	reason		text,
	created_at	timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (workflow_id, nominal_at)
);

CREATE TABLE schedule_state (
	workflow_id	text PRIMARY KEY,
	cursor_at	timestamptz NOT NULL,
	updated_at	timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE trigger_queue (
	id		bigserial PRIMARY KEY,
	workflow	text NOT NULL,
	input		jsonb NOT NULL DEFAULT '{}',
	source		text NOT NULL DEFAULT 'message'
			CHECK (source IN ('message', 'file')),
	not_before	timestamptz NOT NULL DEFAULT now(),
	debounce_key	text UNIQUE,
	events		integer NOT NULL DEFAULT 1,
	created_at	timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX trigger_queue_due ON trigger_queue (not_before);

-- An insert from anywhere (psql, a script, another service) rings the
-- schedulers' doorbell; the row is the message.
CREATE FUNCTION loom_trigger_queue_ring() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('loom_trigger_queue', '');
	RETURN NULL;
END $$;
CREATE TRIGGER trigger_queue_ring AFTER INSERT OR UPDATE ON trigger_queue
	FOR EACH STATEMENT EXECUTE FUNCTION loom_trigger_queue_ring();

ALTER TABLE api_tokens DROP CONSTRAINT api_tokens_scope_check;
ALTER TABLE api_tokens
	ADD CONSTRAINT api_tokens_scope_check
		CHECK (scope IN ('read', 'operator', 'admin', 'trigger')),
	ADD COLUMN workflow_id text,
	ADD CONSTRAINT api_tokens_trigger_workflow
		CHECK ((scope = 'trigger') = (workflow_id IS NOT NULL));
