-- Link Loom migration 008: callback tokens name their task.
--
-- A callback token is "<execution id>~<task id>~<64 hex digits>": the
-- callback endpoint finds its row by primary key and compares the whole
-- token.  The unique index on callback_token goes: every new version of a
-- run_tasks row (claim, result, settle) added an entry to it, which was a
-- third of the executor's database time in a large fan-out.  Tokens of
-- attempts that are running when this migration runs have the old form;
-- their callbacks are refused (404) and the attempts time out and retry.

ALTER TABLE run_tasks DROP CONSTRAINT IF EXISTS run_tasks_callback_token_key;
