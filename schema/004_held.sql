-- Link Loom schema, migration 004: tasks held by an open circuit breaker.
--
-- When loom-exec claims an HTTP task whose target's breaker is open
-- (schema/002_breakers.sql), it does not dispatch it: the row goes back
-- to READY with the same attempt number, no lease, ready_at set to when
-- the breaker may let it through, and held_target naming the target.  A
-- held task therefore waits without using up an attempt, and the claim
-- query (READY rows with ready_at <= now(), served by run_tasks_ready)
-- skips it until then.  held_target is cleared when the row is claimed
-- again or released early: on every state change of a breaker
-- (NOTIFY loom_breaker, payload the target) executors re-time the rows
-- held for that target through run_tasks_held, and make them claimable
-- at once when the breaker closed or its probe is free.  The value is
-- only meaningful while state = 'READY'; loom-api shows it as heldBy and
-- ready_at as heldUntil.

ALTER TABLE run_tasks ADD COLUMN held_target text;

CREATE INDEX run_tasks_held ON run_tasks (held_target)
	WHERE state = 'READY' AND held_target IS NOT NULL;
