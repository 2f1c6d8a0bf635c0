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
-- first); task_logs_fts the full-text search of --grep, over the
-- 'simple' configuration (words as written, lower-cased, no stemming,
-- any language).
ALTER TABLE task_logs ADD COLUMN level text NOT NULL DEFAULT 'info'
	CHECK (level IN ('debug', 'info', 'warn', 'error'));
CREATE INDEX task_logs_task ON task_logs (execution_id, task_id, ts);
CREATE INDEX task_logs_ts ON task_logs (ts);
CREATE INDEX task_logs_fts ON task_logs
	USING gin (to_tsvector('simple', line));
