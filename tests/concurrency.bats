#!/usr/bin/env bats
# concurrency: at most N active runs of a workflow, and each overlap
# policy for the starts past N (queue, skip, bufferOne, cancelOther,
# allow), end to end: loom-api -> runstart (lib/store/runstart.c) ->
# loom-engine -> loom-exec -> the test backend, whose ?gate=NAME holds a
# task RUNNING until the test opens the gate.  Waits are on conditions.

bats_require_minimum_version 1.5.0

load helpers

setup_file() {
	loom_pg_start
	loom_backend_start
	loom_api_start
	export LOOM_EXEC_CALLBACK_URL=$LOOM_API
	loom_daemon_start loom-engine
	loom_daemon_start loom-exec
	export B=$BACKEND_URL/api/tasks
}

teardown_file() {
	loom_stop_all
}

teardown() {
	[ -z "${BATS_TEST_COMPLETED:-}" ] || return 0
	loom_show_logs
}

# wf ID POLICY MAX GATE: a one-task workflow whose task waits on GATE.
wf() {
	local f=$BATS_TEST_TMPDIR/$1.yaml
	cat >"$f" <<EOF
id: $1
concurrency: {max: $3, policy: $2}
tasks:
  - id: hold
    url: $B/hold?gate=$4
    timeout: 2m
EOF
	apply "$f"
}

# start WF: POST trigger; prints "CODE BODY".
start() {
	local out=$BATS_TEST_TMPDIR/start.out code
	code=$(curl -sS -o "$out" -w '%{http_code}' -X POST \
	    -H 'Content-Type: application/json' --data '{"input":{}}' \
	    "$LOOM_API/api/v1/workflows/$1/trigger")
	echo "$code $(cat "$out")"
}

run_id() { jq -r .executionId <<<"${1#* }"; }

status_of() { sql "SELECT status || CASE WHEN queued THEN '/queued' ELSE '' END FROM executions WHERE id = '$1'"; }

status_is() { [ "$(status_of "$1")" = "$2" ]; }

# the backend got the task's call for run $1 (it is RUNNING, held)
called() { grep -q "\"idempotencyKey\":\"$1/hold/1\"" "$BACKEND_LOG"; }

@test "queue: one at a time, the others wait and start in order" {
	wf c-queue queue 1 gq
	r1=$(start c-queue)
	[ "${r1%% *}" = 201 ]
	id1=$(run_id "$r1")
	wait_for called "$id1"
	r2=$(start c-queue); r3=$(start c-queue)
	id2=$(run_id "$r2"); id3=$(run_id "$r3")
	[ "$(jq -r .queued <<<"${r2#* }")" = true ]
	[ "$(jq -r .queued <<<"${r3#* }")" = true ]
	assert_equal "$(status_of "$id1")" RUNNING
	assert_equal "$(status_of "$id2")" PENDING/queued
	assert_equal "$(status_of "$id3")" PENDING/queued
	# the API shows it too, and the engine leaves a queued run alone
	curl -sS "$LOOM_API/api/v1/executions/$id2" | jq -e '.status == "PENDING"'
	! called "$id2"
	open_gate gq
	finished "$id3" >/dev/null
	# each started after the one before it ended
	assert_equal "$(sql "SELECT bool_and(ok) FROM (SELECT started_at >= lag(completed_at) OVER (ORDER BY created_at) OR lag(completed_at) OVER (ORDER BY created_at) IS NULL AS ok FROM executions WHERE workflow_id = 'c-queue') x")" t
	assert_equal "$(sql "SELECT string_agg(status, ',' ORDER BY created_at) FROM executions WHERE workflow_id = 'c-queue'")" SUCCESS,SUCCESS,SUCCESS
}

@test "skip: a start past the limit is refused with 409 and recorded" {
	wf c-skip skip 1 gs
	r1=$(start c-skip)
	id1=$(run_id "$r1")
	wait_for called "$id1"
	r2=$(start c-skip)
	[ "${r2%% *}" = 409 ]
	jq -e '.error.code == "concurrency_limit"' <<<"${r2#* }"
	jq -e '.error.message | test("concurrency policy skip")' <<<"${r2#* }"
	assert_equal "$(sql "SELECT count(*) FROM executions WHERE workflow_id = 'c-skip'")" 1
	assert_equal "$(sql "SELECT data->>'reason' FROM events WHERE kind = 'workflow' AND data->>'workflow' = 'c-skip' AND data->>'action' = 'skipped'")" \
	    "the concurrency limit is reached (concurrency policy skip)"
	open_gate gs
	finished "$id1" >/dev/null
	# a slot is free again: the next start runs
	r3=$(start c-skip)
	[ "${r3%% *}" = 201 ]
	finished "$(run_id "$r3")" | jq -e '.status == "SUCCESS"'
}

@test "bufferOne: one waits, the next is skipped" {
	wf c-buf bufferOne 1 gb
	id1=$(run_id "$(start c-buf)")
	wait_for called "$id1"
	r2=$(start c-buf)
	r3=$(start c-buf)
	[ "${r2%% *}" = 201 ]
	[ "${r3%% *}" = 409 ]
	jq -e '.error.message | test("bufferOne")' <<<"${r3#* }"
	id2=$(run_id "$r2")
	assert_equal "$(status_of "$id2")" PENDING/queued
	open_gate gb
	finished "$id2" | jq -e '.status == "SUCCESS"'
	assert_equal "$(sql "SELECT count(*) FROM executions WHERE workflow_id = 'c-buf'")" 2
}

@test "cancelOther: the oldest active run is cancelled and the new one runs" {
	wf c-cancel cancelOther 1 gc
	id1=$(run_id "$(start c-cancel)")
	wait_for called "$id1"
	r2=$(start c-cancel)
	[ "${r2%% *}" = 201 ]
	id2=$(run_id "$r2")
	jq -e --arg id "$id1" '.cancelled == $id' <<<"${r2#* }"
	finished "$id1" | jq -e '.status == "CANCELLED"'
	# the new run starts once the old one's slot is free, and is held
	wait_for -t 30 called "$id2"
	assert_equal "$(status_of "$id2")" RUNNING
	open_gate gc
	finished "$id2" | jq -e '.status == "SUCCESS"'
}

@test "allow: no limit after all" {
	wf c-allow allow 1 ga
	id1=$(run_id "$(start c-allow)")
	id2=$(run_id "$(start c-allow)")
	wait_for called "$id1"
	wait_for called "$id2"
	assert_equal "$(status_of "$id1")" RUNNING
	assert_equal "$(status_of "$id2")" RUNNING
	open_gate ga
	finished "$id2" >/dev/null
}

@test "a queued run can be cancelled, and the limit can be raised" {
	wf c-raise queue 1 gr
	id1=$(run_id "$(start c-raise)")
	wait_for called "$id1"
	id2=$(run_id "$(start c-raise)")
	id3=$(run_id "$(start c-raise)")
	curl -sSf -X POST "$LOOM_API/api/v1/executions/$id2/cancel" >/dev/null
	finished "$id2" | jq -e '.status == "CANCELLED"'
	assert_equal "$(status_of "$id3")" PENDING/queued
	# max 2: the waiting run starts at once, beside the held one
	wf c-raise queue 2 gr
	wait_for called "$id3"
	assert_equal "$(status_of "$id1")" RUNNING
	open_gate gr
	finished "$id3" | jq -e '.status == "SUCCESS"'
}
