-- Link Loom schema, migration 013: a pass written in part is found again.
--
-- A pass written in several transactions (migration 009) marks the run
-- with its first transaction and clears the mark with its last.  A run
-- left marked is one whose pass stopped half way: another engine or an
-- executor passed the run in between (loom_check() refused the rest), or
-- the writer died or lost its connection.  Some of the run's ready tasks
-- then have no row yet.  The next pass over the run reads it in full,
-- whatever engine_gen says, and derives the missing rows again; and the
-- engines' safety sweep looks for marked runs, so that one with no other
-- work in flight (nothing left to report, no doorbell to come) still gets
-- that pass.

ALTER TABLE executions ADD COLUMN pass_incomplete boolean NOT NULL
	DEFAULT false;
