-- Link Loom schema, migration 011: one index less on events.
--
-- Readers of a run's events order them by (tx, id) since migration 005
-- and use events_run_tx; nothing reads events_run (execution_id, id) any
-- more, and every state change of every task paid for keeping it: three
-- events per task attempt, each an entry in every index of the table.

DROP INDEX IF EXISTS events_run;
