#!/usr/bin/env bats
# Circuit breakers shared through PostgreSQL (lib/store/breakerdb.c).
#
# The checks live in the C driver tests/unit/test_breakerdb.c, which skips
# its database part without LOOM_DATABASE_URL; here it runs against a
# throwaway cluster (migrated by loom_pg_start, so schema/002_breakers.sql
# is applied by the real `loom db migrate`).  The driver runs once per
# file; each test below checks the TAP lines of one requirement, so a
# failure names what broke.

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'
load helpers

setup_file() {
	loom_pg_start
	DRIVER="$LOOM_BIN/../tests/test_breakerdb"
	export DRIVER TAP="$LOOM_TEST_DIR/breakerdb.tap"
	"$DRIVER" >"$TAP" 2>&1 3>&-
	echo $? >"$LOOM_TEST_DIR/breakerdb.rc"
}

teardown_file() {
	loom_stop_all
}

# passes PATTERN: the driver printed an "ok" line matching PATTERN and no
# "not ok" line matching it.
passes() {
	run grep -E "^ok [0-9]+ - .*$1" "$TAP"
	assert_success
	run grep -E "^not ok [0-9]+ - .*$1" "$TAP"
	assert_failure
}

@test "the driver ran its database tests and all passed" {
	run cat "$LOOM_TEST_DIR/breakerdb.rc"
	assert_output 0
	run grep -E '^not ok|# skip|Bail out' "$TAP"
	assert_failure
	run grep -cE '^ok ' "$TAP"
	[ "$output" -ge 60 ]
}

@test "migration 002 is applied by loom db migrate" {
	run "$LOOM_BIN/loom" db status -o json
	assert_success
	run jq -e '.version >= 2 and .current' <<<"$output"
	assert_success
}

@test "two owners race for the half-open probe: only one gets it" {
	passes 'executors race for the probe 25 times: one winner each time'
	passes 'after the cool-down B gets the probe'
	passes 'A is held$'
	passes 'a lost probe: B becomes the probe'
	passes 'A cannot give back B.s probe'
}

@test "failures recorded by one owner open the breaker for the other" {
	passes '4 failures by A: B still allowed'
	passes 'the 5th failure by A holds B'
	passes 'B heard the doorbell on loom_breaker'
	passes 'share one window: 2 of 4 opens it'
}

@test "cool-down expiry, probe failure doubles it, probe success closes" {
	passes 'retry_at is the end of the 30s cool-down'
	passes 'a failed probe re-opens'
	passes 'with the cool-down doubled'
	passes 'its success closes \(row deleted\)'
	passes 'B allowed again'
}

@test "list output" {
	passes 'list: an array of'
	passes 'the open target.s entry'
	passes 'openedAt is ISO UTC'
	passes 'the closed one: 3 calls, 2 failed, none in a row'
}

@test "a rerun against the same database passes too" {
	run "$DRIVER"
	assert_success
	refute_output --partial 'not ok'
}
