#!/usr/bin/env bats
# A scheduled run's nominal fire time (executions.scheduled_at) end to
# end: loom-engine puts it into every task request, loom-exec into the
# HTTP callback envelope ("scheduledTime") and a shell task's environment
# (LOOM_SCHEDULED_TIME); loom-api and `loom execution show` show it, and a
# retry of the run keeps it.  Most runs are made with an INSERT like
# lib/store/transition.c's run_create and a loom_run doorbell, as
# loom-sched makes one; the last test has loom-sched itself fire them.

bats_require_minimum_version 1.5.0

load helpers

setup_file() {
	loom_pg_start
	loom_backend_start
	loom_api_start
	loom_daemon_start loom-engine
	loom_daemon_start loom-exec
	export LOOM="$LOOM_BIN/loom"
	cat >"$LOOM_TEST_DIR/wf.yaml" <<EOF
id: nightly
tasks:
  - id: report
    type: http
    method: POST
    url: $BACKEND_URL/api/tasks/report
  - id: day
    type: shell
    command: 'jq -n --arg t "\${LOOM_SCHEDULED_TIME-unset}" "{t: \\\$t}" >"\$LOOM_OUTPUT"'
EOF
	apply "$LOOM_TEST_DIR/wf.yaml"
}

teardown_file() {
	loom_stop_all
}

teardown() {
	[ -z "${BATS_TEST_COMPLETED:-}" ] || return 0
	loom_show_logs
}

# scheduled_run ID NOMINAL: a run of nightly as a schedule starts one.
scheduled_run() {
	sql "INSERT INTO executions (id, workflow_id, workflow_version, status,
	    params, trigger, scheduled_at) VALUES ('$1', 'nightly', 1,
	    'PENDING', '{}', 'schedule', '$2');
	    SELECT pg_notify('loom_run', '$1')" >/dev/null
}

# envelope EXEC: the body the backend got for the run's report task.
envelope() {
	jq -c --arg k "$1/report/1" 'select(.idempotencyKey == $k) | .body' \
	    "$BACKEND_LOG" | head -n 1
}

# tick_runs_done N: N runs of tick have succeeded.
tick_runs_done() {
	[ "$(sql "SELECT count(*) FROM executions WHERE workflow_id = 'tick'
	    AND status = 'SUCCESS'")" -ge "$1" ]
}

@test "a scheduled run's tasks get scheduledTime in the envelope and LOOM_SCHEDULED_TIME" {
	scheduled_run exec-sched-0001 2026-12-07T03:00:00Z
	ex=$(finished exec-sched-0001)
	assert_equal "$(jq -r .status <<<"$ex")" SUCCESS
	body=$(envelope exec-sched-0001)
	# the body is logged as text or as JSON; read it either way
	jq -e 'if type == "string" then fromjson else . end |
	    .scheduledTime == "2026-12-07T03:00:00Z"' <<<"$body"
	assert_equal "$(jq -r '.tasks[] | select(.taskId == "day") |
	    .output.t' <<<"$ex")" 2026-12-07T03:00:00Z
	assert_equal "$(jq -r .scheduledTime <<<"$ex")" 2026-12-07T03:00:00Z
	assert_equal "$(jq -r .queued <<<"$ex")" false
	assert_equal "$(jq -r .trigger <<<"$ex")" schedule
}

@test "a time with an offset or fractions is given in UTC, to the second" {
	scheduled_run exec-sched-0002 '2026-12-07 04:00:00.250+01:00'
	ex=$(finished exec-sched-0002)
	assert_equal "$(jq -r .scheduledTime <<<"$ex")" 2026-12-07T03:00:00Z
	assert_equal "$(jq -r '.tasks[] | select(.taskId == "day") |
	    .output.t' <<<"$ex")" 2026-12-07T03:00:00Z
}

@test "a manual run has no scheduledTime anywhere" {
	E=$(trigger nightly)
	ex=$(finished "$E")
	assert_equal "$(jq -r .status <<<"$ex")" SUCCESS
	assert_equal "$(jq -c .scheduledTime <<<"$ex")" null
	body=$(envelope "$E")
	jq -e 'if type == "string" then fromjson else . end |
	    has("scheduledTime") | not' <<<"$body"
	assert_equal "$(jq -r '.tasks[] | select(.taskId == "day") |
	    .output.t' <<<"$ex")" unset
	run -0 $LOOM execution show "$E"
	refute_output --partial Scheduled:
}

@test "the execution list and loom execution show carry it" {
	run -0 curl -sSf "$LOOM_API/api/v1/executions?workflow=nightly&limit=100"
	assert_equal "$(jq -r '.executions[] | select(.id == "exec-sched-0001") |
	    [.scheduledTime, .queued] | @tsv' <<<"$output")" \
	    "$(printf '2026-12-07T03:00:00Z\tfalse')"
	run -0 $LOOM execution show exec-sched-0001
	assert_line 'Scheduled: 2026-12-07T03:00:00Z'
	assert_line 'Trigger:   schedule'
	run -0 $LOOM execution show exec-sched-0001 -o json
	assert_equal "$(jq -r .scheduledTime <<<"$output")" \
	    2026-12-07T03:00:00Z
}

@test "a retry of a scheduled run keeps its nominal time" {
	run -0 curl -sSf -X POST "$LOOM_API/api/v1/executions/exec-sched-0001/retry"
	R=$(jq -r .executionId <<<"$output")
	ex=$(finished "$R")
	assert_equal "$(jq -r .status <<<"$ex")" SUCCESS
	assert_equal "$(jq -r .trigger <<<"$ex")" retry
	assert_equal "$(jq -r .scheduledTime <<<"$ex")" 2026-12-07T03:00:00Z
	body=$(envelope "$R")
	jq -e 'if type == "string" then fromjson else . end |
	    .scheduledTime == "2026-12-07T03:00:00Z"' <<<"$body"
}

@test "loom-exec --stdin takes scheduledTime from a request, and refuses a malformed one" {
	req='{"executionId":"e1","taskId":"day","scheduledTime":"2026-12-07T03:00:00Z","task":{"type":"shell","command":"printf %s \"$LOOM_SCHEDULED_TIME\" | jq -cR \"{t: .}\""}}'
	bad='{"executionId":"e2","taskId":"day","scheduledTime":"Monday; rm -rf /","task":{"type":"shell","command":"true"}}'
	# (exit 1: one of the two failed)
	run -1 --separate-stderr "$LOOM_BIN/loom-exec" --stdin \
	    <<<"$req"$'\n'"$bad"
	jq -se 'map(select(.taskId == "day")) | length == 2' <<<"$output"
	jq -se 'map(select(.executionId == "e1"))[0] |
	    .status == "SUCCESS" and .output.t == "2026-12-07T03:00:00Z"' \
	    <<<"$output"
	jq -se 'map(select(.executionId == "e2"))[0] |
	    .status == "FAILED" and .error.type == "ValidationException" and
	    (.error.message | contains("scheduledTime"))' <<<"$output"
}

@test "loom-sched end to end: a */2-second schedule's runs reach the backend with their nominal times" {
	[ -x "$LOOM_BIN/loom-sched" ] || skip "no loom-sched in this build"
	cat >"$BATS_TEST_TMPDIR/tick.yaml" <<EOF2
id: tick
schedule: "*/2 * * * * *"
tasks:
  - id: report
    type: http
    method: POST
    url: $BACKEND_URL/api/tasks/report
  - id: day
    type: shell
    command: 'jq -n --arg t "\${LOOM_SCHEDULED_TIME-unset}" "{t: \\\$t}" >"\$LOOM_OUTPUT"'
EOF2
	apply "$BATS_TEST_TMPDIR/tick.yaml"
	loom_daemon_start loom-sched
	local sched=$LOOM_DAEMON_PID
	wait_for -t 30 tick_runs_done 2
	curl -sSf -o /dev/null -X POST "$LOOM_API/api/v1/workflows/tick/pause"
	loom_daemon_stop "$sched"
	for E in $(sql "SELECT id FROM executions WHERE workflow_id = 'tick'
	    AND status = 'SUCCESS' ORDER BY scheduled_at LIMIT 2"); do
		ex=$(finished "$E")
		nominal=$(jq -r .scheduledTime <<<"$ex")
		# a fire of */2: an even second, in UTC
		[[ $nominal =~ ^[0-9-]{10}T[0-9]{2}:[0-9]{2}:[0-9][02468]Z$ ]]
		assert_equal "$(jq -r .trigger <<<"$ex")" schedule
		assert_equal "$(jq -r '.tasks[] | select(.taskId == "day") |
		    .output.t' <<<"$ex")" "$nominal"
		jq -e --arg n "$nominal" 'if type == "string" then fromjson
		    else . end | .scheduledTime == $n' <<<"$(envelope "$E")"
	done
}

# call_body EXEC TASK: the body the backend got for the run's TASK, as
# JSON with sorted keys
call_body() {
	jq -cS --arg k "$1/$2/1" 'select(.idempotencyKey == $k) | .body |
	    if type == "string" then fromjson else . end' "$BACKEND_LOG" |
	    head -n 1
}

# runs_done WF N: N runs of WF have succeeded.
runs_done() {
	[ "$(sql "SELECT count(*) FROM executions WHERE workflow_id = '$1'
	    AND status = 'SUCCESS'")" -ge "$2" ]
}

@test "templates read the run's trigger and nominal time: a schedule fire's body, header and input" {
	[ -x "$LOOM_BIN/loom-sched" ] || skip "no loom-sched in this build"
	cat >"$BATS_TEST_TMPDIR/facts.yaml" <<EOF2
id: facts
schedule: "*/2 * * * * *"
tasks:
  - id: post
    url: $BACKEND_URL/api/tasks/post
    headers: {X-Day: "\${{ .scheduledTime // \"none\" | .[0:10] }}"}
    body: {day: "\${{ .scheduledTime }}", by: "\${{ .trigger }}", n: 1}
  - id: env
    url: $BACKEND_URL/api/tasks/env
    input: {day: "\${{ .scheduledTime }}", by: "\${{ .trigger }}"}
  - id: late
    when: .trigger == "schedule" and (.scheduledTime | endswith("Z"))
    command: "true"
EOF2
	apply "$BATS_TEST_TMPDIR/facts.yaml"
	loom_daemon_start loom-sched
	local sched=$LOOM_DAEMON_PID
	wait_for -t 30 runs_done facts 1
	curl -sSf -o /dev/null -X POST "$LOOM_API/api/v1/workflows/facts/pause"
	loom_daemon_stop "$sched"
	E=$(sql "SELECT id FROM executions WHERE workflow_id = 'facts'
	    AND status = 'SUCCESS' ORDER BY scheduled_at LIMIT 1")
	ex=$(finished "$E")
	nominal=$(jq -r .scheduledTime <<<"$ex")
	[[ $nominal =~ ^[0-9-]{10}T[0-9]{2}:[0-9]{2}:[0-9][02468]Z$ ]]
	# the body of its own, rendered with the fire's facts
	assert_equal "$(call_body "$E" post)" \
	    "$(jq -ncS --arg n "$nominal" '{day: $n, by: "schedule", n: 1}')"
	assert_equal "$(jq -r --arg k "$E/post/1" 'select(.idempotencyKey == $k) |
	    .headers["x-day"]' "$BACKEND_LOG")" "${nominal:0:10}"
	# the input template, in the envelope, and the condition
	assert_equal "$(call_body "$E" env | jq -c .input)" \
	    "$(jq -ncS --arg n "$nominal" '{day: $n, by: "schedule"}')"
	assert_equal "$(jq -r '.tasks[] | select(.taskId == "late") | .state' <<<"$ex")" SUCCESS
	# a manual run of the same (paused) workflow: trigger manual, no
	# nominal time
	E=$(curl -sS -X POST -H 'Content-Type: application/json' --data '{}' \
	    "$LOOM_API/api/v1/workflows/facts/trigger?force=true" |
	    jq -er .executionId)
	ex=$(finished "$E")
	assert_equal "$(jq -r .status <<<"$ex")" SUCCESS
	assert_equal "$(call_body "$E" post)" '{"by":"manual","day":null,"n":1}'
	assert_equal "$(jq -r '.tasks[] | select(.taskId == "late") | [.state, .skipReason] | @tsv' <<<"$ex")" \
	    "$(printf 'SKIPPED\tcondition')"
}
