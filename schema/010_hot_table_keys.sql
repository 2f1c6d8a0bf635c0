-- Link Loom schema, migration 010: no per-row key checks on the hot tables.
--
-- run_tasks and task_executions take a row for every task and every
-- attempt of every run.  Their foreign keys to executions cost a lookup of
-- the run's row for each row inserted: a third of what writing the first
-- pass of a 10,000-task fan-out cost the server, and as much again for
-- the attempt history of its results.  Those rows are only ever written
-- for a run that exists: loom-engine writes run_tasks while it holds the
-- run's row locked, loom-exec writes task_executions for rows it holds a
-- lease on.  Deleting a run (Link Loom never does; an administrator may)
-- still takes its rows with it: a statement trigger does what ON DELETE
-- CASCADE did.

ALTER TABLE run_tasks DROP CONSTRAINT run_tasks_execution_id_fkey;
ALTER TABLE task_executions
	DROP CONSTRAINT task_executions_execution_id_fkey;

CREATE FUNCTION loom_executions_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	DELETE FROM run_tasks t USING gone g WHERE t.execution_id = g.id;
	DELETE FROM task_executions t USING gone g WHERE t.execution_id = g.id;
	RETURN NULL;
END
$$;

CREATE TRIGGER executions_deleted AFTER DELETE ON executions
	REFERENCING OLD TABLE AS gone
	FOR EACH STATEMENT EXECUTE FUNCTION loom_executions_deleted();
