-- Link Loom schema, migration 012: a claim writes its own events.
--
-- loom-exec's claim makes a task RUNNING; the READY -> RUNNING event is
-- written by that same statement (lib/execdb.c), so `loom events`, SSE
-- followers and the UI see a task running while it runs, not only once
-- its result is in.  loom-engine no longer writes that transition.
--
-- started_attempt is the attempt whose READY -> RUNNING event has been
-- written.  A task held by an open circuit breaker goes back to READY
-- with the same attempt and is claimed again later; that claim writes no
-- second event for the attempt (the history stays READY -> RUNNING ->
-- SUCCESS, with the hold inside RUNNING).  Every new attempt has a new
-- number, so its first claim writes its event.  A claim that takes over
-- an expired lease (the attempt is run again, same number) writes the
-- lost attempt's RUNNING -> FAILED, then FAILED -> RETRY -> READY ->
-- RUNNING: the only way back to RUNNING that the task state machine
-- allows (lib/state.c).

ALTER TABLE run_tasks ADD COLUMN started_attempt integer;
