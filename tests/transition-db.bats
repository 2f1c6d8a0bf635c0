#!/usr/bin/env bats
# The statements that move a task or a run (lib/store/transition.c)
# against the state machines of lib/core/state.c.
#
# The checks live in the C driver tests/unit/test_transition.c, which
# skips its database part without LOOM_DATABASE_URL; here it runs against
# a throwaway cluster of its own (migrated by loom_pg_start), where no
# executor takes the rows it seeds.

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'
load helpers

setup_file() {
	loom_pg_start
}

teardown_file() {
	loom_stop_all
}

@test "every state-changing statement makes only moves its row lists and state.c allows (C driver)" {
	run "$LOOM_BIN/../tests/test_transition"
	assert_success
	refute_output --partial "not ok"
	refute_output --partial "# skip"
	refute_output --partial "Bail out"
	# the moves the seed provokes, so that doing nothing cannot pass
	assert_output --partial "task_claim: moved"
	assert_output --partial "task_hold: moved"
	assert_output --partial "task_report: moved"
	assert_output --partial "task_callback: moved"
	assert_output --partial "task_fail_overdue: moved"
	[ "$(grep -c '^ok' <<<"$output")" -ge 100 ]
}
