#!/usr/bin/env bats
# loom workflow backfill: runs for the nominal fire times of a past range,
# each carrying its time, the workflow's concurrency respected, and the
# same backfill twice making nothing the second time.

bats_require_minimum_version 1.5.0

load helpers

setup_file() {
	loom_pg_start
	loom_api_start
	loom_daemon_start loom-engine
	loom_daemon_start loom-exec
	export LOOM_API
}

teardown_file() {
	loom_stop_all
}

loom() { "$LOOM_BIN/loom" "$@"; }

@test "a range of a daily schedule: one run per day, each with its nominal time; twice makes nothing" {
	printf 'id: b-daily\nschedule: "0 3 * * *"\ntimezone: Europe/Kyiv\ntasks:\n  - id: a\n    command: "true"\n' >"$BATS_TEST_TMPDIR/w.yaml"
	apply "$BATS_TEST_TMPDIR/w.yaml"
	run loom workflow backfill b-daily --from 2026-11-01 --to 2026-11-05T23:59:59Z --dry-run
	assert_success
	assert_line --index 0 "2026-11-01T01:00:00Z  would start  -"
	assert_line --index 5 "5 to run, 0 existing, 0 skipped"
	assert_equal "$(sql "SELECT count(*) FROM executions WHERE workflow_id = 'b-daily'")" 0
	run loom workflow backfill b-daily --from 2026-11-01 --to 2026-11-05T23:59:59Z -o json
	assert_success
	jq -e '.created == 5 and .existing == 0 and ([.fires[].outcome] | unique) == ["started"]' <<<"$output"
	# 03:00 in Kyiv is 01:00Z in November (EET)
	assert_equal "$(sql "SELECT string_agg(to_char(scheduled_at AT TIME ZONE 'UTC', 'MM-DD HH24:MI'), ',' ORDER BY scheduled_at) FROM executions WHERE workflow_id = 'b-daily'")" \
	    "11-01 01:00,11-02 01:00,11-03 01:00,11-04 01:00,11-05 01:00"
	assert_equal "$(sql "SELECT DISTINCT trigger FROM executions WHERE workflow_id = 'b-daily'")" backfill
	for id in $(sql "SELECT id FROM executions WHERE workflow_id = 'b-daily'"); do
		finished "$id" | jq -e '.status == "SUCCESS"'
	done
	# the same again: nothing new
	run loom workflow backfill b-daily --from 2026-11-01 --to 2026-11-05T23:59:59Z
	assert_success
	assert_line --index 0 "2026-11-01T01:00:00Z  exists       -"
	assert_line --index 5 "0 to run, 5 existing, 0 skipped"
	# a wider range makes only the new days
	run loom workflow backfill b-daily --from 2026-10-30 --to 2026-11-05T23:59:59Z -o json
	jq -e '.created == 2 and .existing == 5' <<<"$output"
	assert_equal "$(sql "SELECT count(*) FROM executions WHERE workflow_id = 'b-daily'")" 7
}

@test "backfill respects concurrency: skip leaves one run" {
	printf 'id: b-skip\nschedule: "0 * * * *"\nconcurrency: {max: 1, policy: skip}\ntasks:\n  - id: a\n    command: "sleep 1"\n' >"$BATS_TEST_TMPDIR/w.yaml"
	apply "$BATS_TEST_TMPDIR/w.yaml"
	run loom workflow backfill b-skip --from 2026-11-01T00:00:00Z --to 2026-11-01T02:00:00Z -o json
	assert_success
	jq -e '[.fires[].outcome] == ["started", "skipped", "skipped"]' <<<"$output"
	assert_equal "$(sql "SELECT count(*) FROM executions WHERE workflow_id = 'b-skip'")" 1
	# a skipped fire is acted on: a second backfill does not start it
	id=$(sql "SELECT id FROM executions WHERE workflow_id = 'b-skip'")
	finished "$id" >/dev/null
	run loom workflow backfill b-skip --from 2026-11-01T00:00:00Z --to 2026-11-01T02:00:00Z -o json
	jq -e '.created == 0 and .existing == 3' <<<"$output"
}

@test "backfill errors name what is wrong" {
	run loom workflow backfill nope --from 2026-11-01 --to 2026-11-02
	assert_failure 4
	assert_output --partial "no workflow 'nope'"
	printf 'id: b-none\ntasks:\n  - id: a\n    command: "true"\n' >"$BATS_TEST_TMPDIR/w.yaml"
	apply "$BATS_TEST_TMPDIR/w.yaml"
	run loom workflow backfill b-none --from 2026-11-01 --to 2026-11-02
	assert_failure 1
	assert_output --partial "has no schedule: nothing to backfill"
	run loom workflow backfill b-daily --from 2026-11-05 --to 2026-11-01
	assert_failure 1
	assert_output --partial "'to' is before 'from'"
	run loom workflow backfill b-daily --from yesterday --to 2026-11-01
	assert_failure 1
	assert_output --partial "from"
	run loom workflow backfill b-daily --from 2026-11-01
	assert_failure 2
	run curl -sS -w "\n%{http_code}" -X POST -H 'Content-Type: application/json' --data '{"from":"2000-01-01","to":"2026-01-01"}' "$LOOM_API/api/v1/workflows/b-skip/backfill"
	assert_line --index 1 422
	jq -e '.error.code == "invalid_input" and .error.field == "to" and (.error.message | test("more than 10000 fires"))' <<<"${lines[0]}"
}
