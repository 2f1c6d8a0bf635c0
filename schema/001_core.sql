-- Link Loom core schema, migration 001.
--
-- PostgreSQL is the source of truth and the bus (DESIGN.md section 1).
-- Every durable state change is a row change in one transaction that also
-- calls pg_notify(); a NOTIFY payload is only a doorbell (an id), and
-- listeners re-read rows.
--
-- Tables:
--   workflows          one row per workflow id (the current version, paused)
--   workflow_versions  every applied definition; a run keeps its version
--   executions         one row per run
--   run_tasks          the current state of each task of a run, and the work
--                      queue loom-exec claims from (rows appear when a task
--                      first leaves PENDING: a missing row means PENDING)
--   task_executions    one row per attempt (history: request, output, error)
--   events             append-only log of every state change
--   dead_letters       tasks that ended DEAD

CREATE TABLE workflows (
	id		text PRIMARY KEY,
	name		text NOT NULL,
	schedule	text,
	timezone	text NOT NULL DEFAULT 'UTC',
	current_version	integer NOT NULL,
	paused		boolean NOT NULL DEFAULT false,
	created_at	timestamptz NOT NULL DEFAULT now(),
	updated_at	timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE workflow_versions (
	workflow_id	text NOT NULL REFERENCES workflows(id) ON DELETE CASCADE,
	version		integer NOT NULL,
	definition	text NOT NULL,		-- as submitted (YAML or JSON)
	spec		jsonb NOT NULL,		-- canonical JSON, defaults filled in
	checksum	text NOT NULL,		-- of spec; re-applying the same is a no-op
	created_at	timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (workflow_id, version)
);

CREATE TABLE executions (
	id		text PRIMARY KEY,	-- "exec-" + 20 hex digits
	workflow_id	text NOT NULL,
	workflow_version integer NOT NULL,
	status		text NOT NULL DEFAULT 'PENDING'
			CHECK (status IN ('PENDING','RUNNING','SUCCESS','FAILED','CANCELLED')),
	params		jsonb NOT NULL DEFAULT '{}',
	trigger		text NOT NULL DEFAULT 'manual',
	error		text,
	cancel_requested boolean NOT NULL DEFAULT false,
	engine_gen	bigint NOT NULL DEFAULT 0,	-- bumped by every engine pass (cache check)
	deadline_at	timestamptz,
	created_at	timestamptz NOT NULL DEFAULT now(),
	started_at	timestamptz,
	completed_at	timestamptz,
	FOREIGN KEY (workflow_id, workflow_version)
		REFERENCES workflow_versions(workflow_id, version)
);
CREATE INDEX executions_workflow ON executions (workflow_id, created_at DESC);
CREATE INDEX executions_created ON executions (created_at DESC);
CREATE INDEX executions_active ON executions (status)
	WHERE status IN ('PENDING', 'RUNNING');

CREATE TABLE run_tasks (
	execution_id	text NOT NULL REFERENCES executions(id) ON DELETE CASCADE,
	task_id		text NOT NULL,
	state		text NOT NULL
			CHECK (state IN ('PENDING','READY','RUNNING','SUCCESS','FAILED',
			                 'RETRY','DEAD','SKIPPED','CANCELLED')),
	attempt		integer NOT NULL DEFAULT 0,
	-- the engine has not yet seen this row's latest report (SUCCESS/FAILED
	-- written by an executor or by a callback)
	settled		boolean NOT NULL DEFAULT true,
	ready_at	timestamptz NOT NULL DEFAULT now(),
	not_before	timestamptz,		-- RETRY: earliest next attempt
	request		jsonb,			-- what loom-exec runs (task spec + input)
	lease_owner	text,
	lease_until	timestamptz,
	callback_token	text UNIQUE,		-- async (202) completion
	awaiting_callback boolean NOT NULL DEFAULT false,
	skip_reason	text,
	output		jsonb,
	error_type	text,
	error_message	text,
	started_at	timestamptz,
	finished_at	timestamptz,
	PRIMARY KEY (execution_id, task_id)
);
-- loom-exec's queue: READY now, RETRY when due, RUNNING with a dead lease
CREATE INDEX run_tasks_ready ON run_tasks (ready_at) WHERE state = 'READY';
CREATE INDEX run_tasks_retry ON run_tasks (not_before) WHERE state = 'RETRY';
CREATE INDEX run_tasks_leased ON run_tasks (lease_until) WHERE state = 'RUNNING';
-- loom-engine's inbox
CREATE INDEX run_tasks_unsettled ON run_tasks (execution_id) WHERE NOT settled;

CREATE TABLE task_executions (
	id		bigserial PRIMARY KEY,
	execution_id	text NOT NULL REFERENCES executions(id) ON DELETE CASCADE,
	task_id		text NOT NULL,
	attempt		integer NOT NULL,
	status		text NOT NULL,		-- SUCCESS, FAILED, ACCEPTED
	executor	text,
	request		jsonb,
	output		jsonb,
	error_type	text,
	error_message	text,
	logs		text,
	http_status	integer,
	exit_code	integer,
	started_at	timestamptz,
	completed_at	timestamptz NOT NULL DEFAULT now(),
	duration_ms	bigint
);
CREATE INDEX task_executions_run ON task_executions (execution_id, task_id, attempt);

CREATE TABLE events (
	id		bigserial PRIMARY KEY,
	execution_id	text,
	task_id		text,
	kind		text NOT NULL,		-- task, run, workflow
	from_state	text,
	to_state	text,
	attempt		integer,
	data		jsonb,
	created_at	timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_run ON events (execution_id, id);

CREATE TABLE dead_letters (
	id		bigserial PRIMARY KEY,
	execution_id	text NOT NULL REFERENCES executions(id) ON DELETE CASCADE,
	task_id		text NOT NULL,
	attempts	integer NOT NULL,
	request		jsonb,
	error_type	text,
	error_message	text,
	created_at	timestamptz NOT NULL DEFAULT now(),
	resolved_at	timestamptz,
	resolution	text			-- replayed, discarded
);
CREATE INDEX dead_letters_open ON dead_letters (created_at) WHERE resolved_at IS NULL;
