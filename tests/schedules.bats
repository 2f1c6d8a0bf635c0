#!/usr/bin/env bats
# Schedules inspection (loom-api(8) GET /api/v1/schedules and
# /api/v1/schedules/{id}, loom(1) `loom workflow next`): the next fire
# times of a seconds-field schedule, the last fire from schedule_fires,
# the policy copied from the stored spec, paused workflows, bounds and
# errors.  Also the "queued" flag of an execution waiting for a
# concurrency slot, shown by the API and `loom execution show` (no engine
# runs here, so the run stays as it was written).

bats_require_minimum_version 1.5.0

load helpers

setup_file() {
	loom_pg_start
	loom_api_start
	export LOOM="$LOOM_BIN/loom"
	cat >"$LOOM_TEST_DIR/tick.yaml" <<'EOF'
id: tick
schedule: "*/10 * * * * *"
timezone: Europe/Paris
tasks:
  - {id: t, command: "true"}
EOF
	cat >"$LOOM_TEST_DIR/manual.yaml" <<'EOF'
id: manual
tasks:
  - {id: t, command: "true"}
EOF
	apply "$LOOM_TEST_DIR/tick.yaml"
	apply "$LOOM_TEST_DIR/manual.yaml"
}

teardown_file() {
	loom_stop_all
}

# get PATH: sets $code and $body.
get() {
	local out
	out=$(curl -sS -w '\n%{http_code}' "$LOOM_API$1")
	body=${out%$'\n'*}
	code=${out##*$'\n'}
}

# epoch TIME: seconds since 1970 of an RFC 3339 time.
epoch() {
	date -d "$1" +%s
}

@test "the next fires of */10 * * * * * are 10 s apart, in the future, in UTC and in the zone" {
	local now prev t
	now=$(date +%s)
	get /api/v1/schedules/tick
	assert_equal "$code" 200
	jq -e '.workflowId == "tick" and .schedule == "*/10 * * * * *" and
	    .timezone == "Europe/Paris" and .paused == false and
	    .lastFire == null and (.nextFires | length) == 5 and
	    (.nextFiresLocal | length) == 5 and .nextFire == .nextFires[0] and
	    (has("error") | not)' <<<"$body"
	prev=
	for t in $(jq -r '.nextFires[]' <<<"$body"); do
		[[ $t =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]0Z$ ]]
		[ "$(epoch "$t")" -ge "$now" ]
		[ -z "$prev" ] || assert_equal $(($(epoch "$t") - prev)) 10
		prev=$(epoch "$t")
	done
	# the same instants on the zone's wall clock (+01:00 in winter)
	for i in 0 1 2 3 4; do
		u=$(jq -r ".nextFires[$i]" <<<"$body")
		l=$(jq -r ".nextFiresLocal[$i]" <<<"$body")
		[[ $l =~ \+0[12]:00$ ]]
		assert_equal "$(epoch "$l")" "$(epoch "$u")"
	done
}

@test "?n= bounds: 1 and 100 are fine; 0, 101 and words are 400" {
	get '/api/v1/schedules/tick?n=1'
	assert_equal "$code" 200
	jq -e '(.nextFires | length) == 1' <<<"$body"
	get '/api/v1/schedules/tick?n=100'
	assert_equal "$code" 200
	jq -e '(.nextFires | length) == 100 and
	    ((.nextFires[99] | fromdateiso8601) -
	     (.nextFires[0] | fromdateiso8601)) == 990' <<<"$body"
	for n in 0 101 -1 ten ''; do
		get "/api/v1/schedules/tick?n=$n"
		assert_equal "n=$n $code" "n=$n 400"
		jq -e '.error.field == "n"' <<<"$body"
	done
}

@test "404 for a workflow without a schedule and for an unknown one" {
	get /api/v1/schedules/manual
	assert_equal "$code" 404
	jq -e '.error.code == "not_found" and .error.field == "schedule" and
	    (.error.message | contains("no schedule"))' <<<"$body"
	get /api/v1/schedules/nope
	assert_equal "$code" 404
	jq -e '.error.code == "not_found" and .error.field == "id"' <<<"$body"
}

@test "lastFire is the newest schedule_fires row; the policy is the spec's, verbatim" {
	sql "INSERT INTO schedule_fires (workflow_id, nominal_at, kind, outcome,
	    execution_id) VALUES
	    ('tick', '2026-12-07T02:00:00Z', 'schedule', 'started', 'exec-a'),
	    ('tick', '2026-12-07T03:00:00Z', 'schedule', 'skipped', NULL),
	    ('tick', '2026-12-06T03:00:00Z', 'backfill', 'queued', 'exec-b')"
	sql "UPDATE schedule_fires SET reason = 'concurrency limit'
	    WHERE outcome = 'skipped'"
	# whatever the stored spec has, and nothing it lacks
	sql "UPDATE workflow_versions SET spec = (spec - 'catchupMax' -
	    'jitter') || '{\"catchup\":\"all\",
	    \"catchupWindow\":\"6h\",\"concurrency\":{\"max\":1,
	    \"policy\":\"skip\"},\"pauseOnFailure\":true}'
	    WHERE workflow_id = 'tick'"
	get /api/v1/schedules/tick
	jq -e '.lastFire == {"nominalTime":"2026-12-07T03:00:00Z",
	    "kind":"schedule","outcome":"skipped","executionId":null,
	    "reason":"concurrency limit"}' <<<"$body"
	jq -e '.catchup == "all" and .catchupWindow == "6h" and
	    .concurrency == {"max":1,"policy":"skip"} and
	    .pauseOnFailure == true and (has("catchupMax") | not) and
	    (has("jitter") | not)' <<<"$body"
	# and as loom-workflow(5) writes them
	cat >"$BATS_TEST_TMPDIR/tock.yaml" <<'EOF2'
id: tock
schedule: "0 3 * * *"
catchup: all
catchupWindow: 6h
catchupMax: 3
jitter: 2s
pauseOnFailure: true
concurrency: {max: 1, policy: skip}
tasks:
  - {id: t, command: "true"}
EOF2
	apply "$BATS_TEST_TMPDIR/tock.yaml"
	get /api/v1/schedules/tock
	jq -e '.catchup == "all" and .catchupWindow == "6h" and
	    .catchupMax == 3 and .jitter == "2s" and .pauseOnFailure == true and
	    .concurrency == {"max":1,"policy":"skip"} and .lastFire == null' \
	    <<<"$body"
	curl -sSf -o /dev/null -X DELETE "$LOOM_API/api/v1/workflows/tock"
	get /api/v1/schedules
	jq -e '.schedules | length == 1 and .[0].workflowId == "tick" and
	    .[0].lastFire.outcome == "skipped" and .[0].catchup == "all" and
	    (.[0].nextFires | length) == 3 and
	    .[0].nextFire == .[0].nextFires[0]' <<<"$body"
}

@test "loom workflow next: UTC and local per line, -n, -o json, exit codes" {
	local now
	now=$(date +%s)
	run -0 "$LOOM" workflow next tick
	assert_equal "${#lines[@]}" 5
	for l in "${lines[@]}"; do
		[[ $l =~ ^([0-9T:-]+Z)\ \ ([0-9T:-]+\+0[12]:00)$ ]]
		assert_equal "$(epoch "${BASH_REMATCH[1]}")" \
		    "$(epoch "${BASH_REMATCH[2]}")"
		[ "$(epoch "${BASH_REMATCH[1]}")" -ge "$now" ]
	done
	run -0 "$LOOM" workflow next tick -n 3 -o json
	assert_equal "${#lines[@]}" 3
	jq -se 'map(has("utc") and has("local")) | all' <<<"$output"
	run -0 "$LOOM" workflow next -n 100 tick
	assert_equal "${#lines[@]}" 100
	run -2 "$LOOM" workflow next tick -n 0
	run -2 "$LOOM" workflow next tick -n 101
	run -2 "$LOOM" workflow next
	run -2 "$LOOM" workflow next tick manual
	run -2 "$LOOM" workflow next tick --name x
	run -1 "$LOOM" workflow next manual
	assert_output --partial "no schedule"
	run -4 "$LOOM" workflow next nope
}

@test "a paused workflow has no next fires" {
	curl -sSf -o /dev/null -X POST "$LOOM_API/api/v1/workflows/tick/pause"
	get /api/v1/schedules/tick
	jq -e '.paused == true and .nextFires == [] and .nextFire == null and
	    .nextFiresLocal == []' <<<"$body"
	run -0 --separate-stderr "$LOOM" workflow next tick
	assert_output ''
	[[ $stderr == *paused* ]]
	curl -sSf -o /dev/null -X POST "$LOOM_API/api/v1/workflows/tick/unpause"
	run -0 "$LOOM" workflow next tick -n 2
	assert_equal "${#lines[@]}" 2
}

@test "a run waiting for a concurrency slot is queued in the API and loom execution show" {
	sql "INSERT INTO executions (id, workflow_id, workflow_version, status,
	    params, trigger, scheduled_at, queued) VALUES
	    ('exec-queued-00000001', 'tick', 1, 'PENDING', '{}', 'schedule',
	    '2026-12-07T03:00:00Z', true)"
	get /api/v1/executions/exec-queued-00000001
	jq -e '.queued == true and .status == "PENDING" and
	    .scheduledTime == "2026-12-07T03:00:00Z"' <<<"$body"
	get '/api/v1/executions?workflow=tick'
	jq -e '.executions[0].queued == true' <<<"$body"
	run -0 "$LOOM" execution show exec-queued-00000001
	assert_line 'Status:    PENDING (queued: waiting for a concurrency slot)'
	assert_line 'Scheduled: 2026-12-07T03:00:00Z'
}
