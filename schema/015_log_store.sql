-- Link Loom schema, migration 015: task_logs as loom-log's PostgreSQL
-- store (loom-log(8)).
--
-- level: each record's level (debug, info, warn, error), sent by the
-- writer (loom-ipc(7)); lines read from a task's stderr are 'warn', from
-- its stdout and a backend's "logs" 'info'.  Rows from before this
-- migration are 'info'.
--
-- Indexes: task_logs_run (005) serves a run's stream in commit order;
-- task_logs_task one task's lines of a run by time (--task, --since);
-- task_logs_ts retention by age (logd.retention deletes the oldest
-- first).  The full-text search of --grep (to_tsvector('simple', line)
-- @@ plainto_tsquery('simple', TEXT): words as written, lower-cased, no
-- stemming, any language) is always within one run, which the run's
-- index finds; a GIN index over every line would serve searches across
-- runs, which nothing makes, and cut loom-log's ingestion by more than
-- half.
ALTER TABLE task_logs ADD COLUMN level text NOT NULL DEFAULT 'info'
	CHECK (level IN ('debug', 'info', 'warn', 'error'));
CREATE INDEX task_logs_task ON task_logs (execution_id, task_id, ts);
CREATE INDEX task_logs_ts ON task_logs (ts);

-- No per-row key check (as migration 010 did for run_tasks and
-- task_executions): every statement that writes task_logs (loom-log's,
-- loom-exec's, loom-api's for callbacks) keeps only the lines of runs
-- that exist, and the check cost a lookup of the run's row per line, a
-- third of loom-log's batch.  Deleting a run still takes its lines.
ALTER TABLE task_logs DROP CONSTRAINT task_logs_execution_id_fkey;

CREATE OR REPLACE FUNCTION loom_executions_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	DELETE FROM run_tasks t USING gone g WHERE t.execution_id = g.id;
	DELETE FROM task_executions t USING gone g WHERE t.execution_id = g.id;
	DELETE FROM task_logs t USING gone g WHERE t.execution_id = g.id;
	RETURN NULL;
END
$$;
