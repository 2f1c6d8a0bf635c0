-- Link Loom schema, migration 002: circuit breakers shared by executors.
--
-- One row per HTTP target ("scheme://host:port", see lib/core/breaker.h) that
-- has failed recently.  No row means CLOSED with nothing counted: a
-- target's row appears with its first counted failure and is deleted again
-- once it is CLOSED with no failure left in its window, so a healthy target
-- costs nothing.  The decision logic is the pure C module lib/core/breaker.c;
-- lib/store/breakerdb.c runs it on a row it holds with SELECT ... FOR UPDATE and
-- writes the result back, so two executors can never both take the
-- half-open probe.  Every state change also calls
-- pg_notify('loom_breaker', target): a doorbell for executors holding
-- tasks for that target, and for loom-api's event stream.
--
-- All times are the database's clock.  The rate window is a ring of
-- buckets (lib/core/breaker.h BREAKER_BUCKETS): win_start[i] is the start of
-- bucket i in ms since the epoch, win_ok[i] / win_fail[i] its counts.

CREATE TABLE breakers (
	target		text PRIMARY KEY,
	state		text NOT NULL DEFAULT 'CLOSED'
			CHECK (state IN ('CLOSED', 'OPEN', 'HALF_OPEN')),
	consecutive_failures integer NOT NULL DEFAULT 0,
	win_start	bigint[] NOT NULL DEFAULT '{}',
	win_ok		integer[] NOT NULL DEFAULT '{}',
	win_fail	integer[] NOT NULL DEFAULT '{}',
	opened_at	timestamptz,		-- OPEN, HALF_OPEN: when it opened
	cooldown_ms	bigint NOT NULL DEFAULT 0,	-- current cool-down
	probe_owner	text,			-- HALF_OPEN: who holds the probe
	probe_until	timestamptz,		-- ...and until when (then lost)
	updated_at	timestamptz NOT NULL DEFAULT now(),
	CHECK (probe_until IS NULL OR state = 'HALF_OPEN')
);
