-- Link Loom schema, migration 005: task output lines, and a commit-order
-- cursor for everything loom-api streams (GET /api/v1/events, GET
-- /api/v1/executions/{id}/events and /logs; see loom-api(8)).
--
-- task_logs holds one row per output line of a task attempt: stdout and
-- stderr lines of shell and java tasks, read by loom-exec as they are
-- written and inserted in batches (with its result flushes, or at most
-- about 100ms after the line), and the "logs" text of HTTP backends'
-- answers and callbacks, split into lines (stream 'backend').  Every
-- batch rings pg_notify('loom_log', execution_id), a doorbell for
-- loom-api's followers.  task_executions.logs keeps its 64 KiB tail as
-- before.
--
-- Ids: task_logs takes its ids from the events sequence, so an id names
-- one row of either table and a run's stream, which carries both, can be
-- resumed from the one id an SSE client remembers (Last-Event-ID).
--
-- Commit order: a bigserial id is taken when a row is inserted, not when
-- it commits, so "rows with id > the last one sent" can skip a row whose
-- transaction commits after a later id was read.  tx is the inserting
-- transaction's id.  Readers order by (tx, id) and read only rows with
-- tx < pg_snapshot_xmin(pg_current_snapshot()): every transaction older
-- than that has ended, so that set of rows can no longer grow and a
-- cursor (tx, id) never skips one.  Rows written before this migration
-- get tx 0 (long committed).

ALTER TABLE events ADD COLUMN tx xid8 NOT NULL DEFAULT '0';
ALTER TABLE events ALTER COLUMN tx SET DEFAULT pg_current_xact_id();
CREATE INDEX events_tx ON events (tx, id);
CREATE INDEX events_run_tx ON events (execution_id, tx, id);

CREATE TABLE task_logs (
	id		bigint PRIMARY KEY DEFAULT nextval('events_id_seq'),
	execution_id	text NOT NULL REFERENCES executions(id) ON DELETE CASCADE,
	task_id		text NOT NULL,
	attempt		integer NOT NULL,
	stream		text NOT NULL,		-- stdout, stderr, backend
	line		text NOT NULL,
	ts		timestamptz NOT NULL DEFAULT now(),	-- when it was read
	tx		xid8 NOT NULL DEFAULT pg_current_xact_id()
);
CREATE INDEX task_logs_run ON task_logs (execution_id, tx, id);
