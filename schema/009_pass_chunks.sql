-- Link Loom schema, migration 009: engine passes in several transactions.
--
-- loom-engine writes a pass that changes many task rows and nothing else
-- (the first pass of a large fan-out) PASS_CHUNK rows per transaction, all
-- in one round trip, so that executors start on the first rows while the
-- server writes the rest.  Each transaction after the first locks the run
-- again and checks that its engine_gen is still the one the first
-- transaction wrote, i.e. that no other engine passed the run in between;
-- loom_check() fails the transaction (SQLSTATE 40001) when it is not, and
-- the engine forgets its cached state of the run.  Every state in between
-- is one a later pass re-derives: a task without its row is PENDING.

CREATE FUNCTION loom_check(ok boolean, what text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	IF NOT ok THEN
		RAISE EXCEPTION '%', what USING ERRCODE = 'serialization_failure';
	END IF;
END
$$;
