-- Link Loom schema, migration 016: one run per file event, however many
-- schedulers see it.
--
-- trigger_file_events: the claims of file events.  Every loom-sched that
--   watches a directory sees its events (several may run on one host for
--   availability); each queues an event into trigger_queue only together
--   with a claim of the event's identity (a digest of the workflow, the
--   trigger, the event, the path and the file's stat), in one statement,
--   so the first claim wins and the others queue nothing.  A scheduler
--   deletes claims older than an hour.

CREATE TABLE trigger_file_events (
	key	text PRIMARY KEY,	-- md5 of the event's identity
	seen_at	timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX trigger_file_events_seen ON trigger_file_events (seen_at);
