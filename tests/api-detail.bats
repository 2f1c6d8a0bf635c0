#!/usr/bin/env bats
# GET /api/v1/executions/{id} as cmd/loom-api/api_detail.c writes it: JSON text
# straight from one prepared statement, and finished runs' answers kept
# while their (status, engine_gen) hold.  Rows are written with SQL the
# way loom-engine, loom-exec and callbacks would; no engine runs.

bats_require_minimum_version 1.5.0

load helpers

setup_file() {
	loom_pg_start
	loom_api_start
	cat >"$LOOM_TEST_DIR/wf.yaml" <<'EOF'
id: detail
tasks:
  - id: a
    type: shell
    command: "true"
  - id: b
    type: shell
    command: "true"
    dependsOn: [a]
  - id: c
    url: http://127.0.0.1:9/c
    dependsOn: [a]
EOF
	curl -sf -H 'Content-Type: application/yaml' \
	    --data-binary @"$LOOM_TEST_DIR/wf.yaml" "$LOOM_API/api/v1/workflows" \
	    >/dev/null
}

teardown_file() {
	loom_stop_all
}

sql() {
	psql -qAtX "$LOOM_DATABASE_URL" -c "$1"
}

get() {	# get ID: sets $body
	body=$(curl -sS "$LOOM_API/api/v1/executions/$1")
}

jqt() {
	jq -e "$1" <<<"$body" >/dev/null || {
		echo "body: $body" >&2
		echo "fails: $1" >&2
		return 1
	}
}

# run ID STATUS: an execution row of the workflow
run_row() {
	sql "INSERT INTO executions (id, workflow_id, workflow_version, status,
	    params, created_at, started_at, completed_at)
	    VALUES ('$1', 'detail', 1, '$2', '{\"k\": [1, \"x\"]}',
	    now() - interval '1 minute', now() - interval '50 seconds',
	    CASE WHEN '$2' IN ('SUCCESS', 'FAILED', 'CANCELLED') THEN now() END)"
}

@test "the answer has the contract's fields, types and order" {
	run_row exec-d0000000000000000001 FAILED
	sql "INSERT INTO run_tasks (execution_id, task_id, state, attempt,
	    output, error_type, error_message, skip_reason, started_at,
	    finished_at) VALUES
	    ('exec-d0000000000000000001', 'a', 'DEAD', 2, NULL, 'TaskFailedException',
	     E'quote \" backslash \\\\ newline \n tab \t bell \x07 caf\u00e9 \U0001F600', NULL,
	     now() - interval '40 seconds', now() - interval '30 seconds'),
	    ('exec-d0000000000000000001', 'c', 'SKIPPED', 0, NULL, NULL, NULL,
	     'upstream a failed', NULL, NULL),
	    ('exec-d0000000000000000001', 'gone', 'SUCCESS', 1,
	     '{\"n\": 1.5, \"s\": \"\\u00e9\"}', NULL, NULL, NULL, now(), now())"
	sql "INSERT INTO task_executions (execution_id, task_id, attempt,
	    status, output, error_type, error_message, exit_code, started_at,
	    completed_at, duration_ms) VALUES
	    ('exec-d0000000000000000001', 'a', 2, 'FAILED', NULL, 'TaskFailedException',
	     'second', 1, now(), now(), 20),
	    ('exec-d0000000000000000001', 'a', 1, 'FAILED', NULL, 'TimeoutException',
	     'first', NULL, now(), now(), 10)"
	get exec-d0000000000000000001
	jqt 'keys_unsorted == ["id", "workflowId", "workflowVersion", "status",
	    "trigger", "scheduledTime", "queued", "params", "error",
	    "createdAt", "startedAt", "completedAt", "tasks"]'
	jqt '.scheduledTime == null and .queued == false'
	jqt '.params == {"k": [1, "x"]} and .error == null and
	    .workflowVersion == 1 and .status == "FAILED"'
	jqt '[.createdAt, .startedAt, .completedAt] | all(test(
	    "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\\.[0-9]{3}Z$"))'
	# topological order, PENDING b without a row, the unknown row last
	jqt '[.tasks[].taskId] == ["a", "b", "c", "gone"]'
	jqt '[.tasks[].type] == ["shell", "shell", "http", null]'
	jqt '.tasks[0] | keys_unsorted == ["taskId", "type", "state", "attempt",
	    "skipReason", "output", "error", "startedAt", "finishedAt",
	    "heldUntil", "heldBy", "attempts"]'
	jqt '.tasks[1] == {"taskId": "b", "type": "shell", "state": "PENDING",
	    "attempt": 0, "skipReason": null, "output": null, "error": null,
	    "startedAt": null, "finishedAt": null, "heldUntil": null,
	    "heldBy": null, "attempts": []}'
	jqt '.tasks[2].skipReason == "upstream a failed" and
	    .tasks[2].error == null'
	jqt '.tasks[3].output == {"n": 1.5, "s": "é"}'
	jqt '[.tasks[0].attempts[].attempt] == [1, 2]'
	jqt '.tasks[0].attempts[0] | keys_unsorted == ["attempt", "status",
	    "startedAt", "completedAt", "durationMs", "httpStatus", "exitCode",
	    "error"]'
	jqt '.tasks[0].attempts[1] | .exitCode == 1 and .durationMs == 20 and
	    .httpStatus == null and .error == {"type": "TaskFailedException",
	    "message": "second"}'
	# every character of a message survives the trip
	want=$(sql "SELECT error_message FROM run_tasks WHERE
	    execution_id = 'exec-d0000000000000000001' AND task_id = 'a'")
	assert_equal "$(jq -r '.tasks[0].error.message' <<<"$body")" "$want"
	# the times are those of the list (SQL_ISO there, C here)
	list=$(curl -sS "$LOOM_API/api/v1/executions?workflow=detail&limit=1000")
	assert_equal "$(jq -r '.executions[] | select(.id ==
	    "exec-d0000000000000000001") | .createdAt' <<<"$list")" \
	    "$(jq -r .createdAt <<<"$body")"
	# HEAD and the 404 still answer as before
	run curl -sS -o /dev/null -w '%{http_code}' -I \
	    "$LOOM_API/api/v1/executions/exec-d0000000000000000001"
	assert_output 200
	get exec-00000000000000000000
	jqt '.error.code == "not_found" and .error.field == "id"'
}

@test "a finished run's kept answer follows every engine change" {
	run_row exec-d0000000000000000002 SUCCESS
	sql "INSERT INTO run_tasks (execution_id, task_id, state, attempt)
	    VALUES ('exec-d0000000000000000002', 'a', 'SUCCESS', 1),
	    ('exec-d0000000000000000002', 'b', 'SUCCESS', 1),
	    ('exec-d0000000000000000002', 'c', 'SUCCESS', 1)"
	# read it on every worker thread, so each keeps it
	for i in 1 2 3 4 5 6 7 8; do get exec-d0000000000000000002; done
	jqt '.status == "SUCCESS" and ([.tasks[].state] | unique) == ["SUCCESS"]'
	# what a rerun of b does, in one engine pass
	sql "UPDATE run_tasks SET state = 'READY', attempt_base = attempt
	    WHERE execution_id = 'exec-d0000000000000000002' AND task_id = 'b';
	    UPDATE executions SET status = 'RUNNING', completed_at = NULL,
	    engine_gen = engine_gen + 1 WHERE id = 'exec-d0000000000000000002'"
	for i in 1 2 3 4 5 6 7 8; do
		get exec-d0000000000000000002
		jqt '.status == "RUNNING" and .tasks[1].state == "READY"'
	done
	# ...and the next pass finishes it again
	sql "UPDATE run_tasks SET state = 'FAILED', attempt = 2,
	    error_type = 'X', error_message = 'again'
	    WHERE execution_id = 'exec-d0000000000000000002' AND task_id = 'b';
	    UPDATE executions SET status = 'FAILED', completed_at = now(),
	    engine_gen = engine_gen + 1 WHERE id = 'exec-d0000000000000000002'"
	for i in 1 2 3 4 5 6 7 8; do
		get exec-d0000000000000000002
		jqt '.status == "FAILED" and .tasks[1].error.message == "again"'
	done
}

@test "a run that is not settled is never served from memory" {
	# finished, but a late result the engine has not seen yet
	run_row exec-d0000000000000000003 CANCELLED
	sql "INSERT INTO run_tasks (execution_id, task_id, state, attempt,
	    settled) VALUES ('exec-d0000000000000000003', 'a', 'RUNNING', 1,
	    true)"
	for i in 1 2 3 4 5 6 7 8; do get exec-d0000000000000000003; done
	jqt '.tasks[0].state == "RUNNING"'
	# loom-exec reports it: no engine pass, no engine_gen change
	sql "UPDATE run_tasks SET state = 'SUCCESS', settled = false,
	    output = '{\"late\": true}'
	    WHERE execution_id = 'exec-d0000000000000000003'"
	for i in 1 2 3 4 5 6 7 8; do
		get exec-d0000000000000000003
		jqt '.tasks[0].state == "SUCCESS" and .tasks[0].output.late'
	done
	# an unsettled final row is not kept either
	sql "UPDATE run_tasks SET output = '{\"late\": 2}'
	    WHERE execution_id = 'exec-d0000000000000000003'"
	get exec-d0000000000000000003
	jqt '.tasks[0].output.late == 2'
}

@test "sessions that lose the prepared statements get them again" {
	get exec-d0000000000000000001
	jqt '.id == "exec-d0000000000000000001"'
	sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
	    WHERE application_name LIKE 'loom-api[%'" >/dev/null
	for i in 1 2 3 4 5 6 7 8 9 10; do
		code=$(curl -sS -o /dev/null -w '%{http_code}' \
		    "$LOOM_API/api/v1/executions/exec-d0000000000000000001")
		# a thread may find its connection gone once (503)
		[ "$code" = 200 ] || [ "$code" = 503 ]
	done
	wait_for -t 10 curl -sf -o /dev/null \
	    "$LOOM_API/api/v1/executions/exec-d0000000000000000001"
	get exec-d0000000000000000001
	jqt '[.tasks[].taskId] == ["a", "b", "c", "gone"]'
}

# apply_big ID PREFIX N REVERSE: a workflow of N http tasks PREFIX0..; with
# REVERSE, each depends on the next, so the spec's order is the reverse
apply_big() {
	{
		echo "id: $1"
		echo "tasks:"
		for ((i = 0; i < $3; i++)); do
			echo "  - id: $2$i"
			echo "    url: http://127.0.0.1:9/x"
			if [ -n "${4:-}" ] && ((i + 1 < $3)); then
				echo "    dependsOn: [$2$((i + 1))]"
			fi
		done
	} >"$LOOM_TEST_DIR/$1.yaml"
	curl -sf -H 'Content-Type: application/yaml' \
	    --data-binary @"$LOOM_TEST_DIR/$1.yaml" \
	    "$LOOM_API/api/v1/workflows" >/dev/null
}

@test "a large version's task order is kept for every thread, per version" {
	# 1,200 tasks: more than a worker thread keeps parsed, so the order
	# of the tasks is kept apart, shared by the threads
	apply_big big t 1200 reverse
	sql "INSERT INTO executions (id, workflow_id, workflow_version, status)
	    VALUES ('exec-d0000000000000000011', 'big', 1, 'SUCCESS')"
	sql "INSERT INTO run_tasks (execution_id, task_id, state, attempt)
	    VALUES ('exec-d0000000000000000011', 't5', 'SUCCESS', 1)"
	for i in 1 2 3 4 5 6 7 8; do
		get exec-d0000000000000000011
		jqt '(.tasks | length) == 1200 and .tasks[0].taskId == "t1199"
		    and .tasks[1199].taskId == "t0" and .tasks[0].type == "http"
		    and .tasks[0].state == "PENDING"'
		jqt '.tasks[1194] | .taskId == "t5" and .state == "SUCCESS"'
	done
	# a new version of another shape: its runs get its own order
	apply_big big u 1300
	sql "INSERT INTO executions (id, workflow_id, workflow_version, status)
	    VALUES ('exec-d0000000000000000012', 'big', 2, 'RUNNING')"
	for i in 1 2 3 4 5 6 7 8; do
		get exec-d0000000000000000012
		jqt '(.tasks | length) == 1300 and .tasks[0].taskId == "u0"'
		get exec-d0000000000000000011
		jqt '(.tasks | length) == 1200 and .tasks[0].taskId == "t1199"'
	done
}

@test "a long-poll that starts before the run ends answers its whole detail" {
	sql "INSERT INTO executions (id, workflow_id, workflow_version, status)
	    VALUES ('exec-d0000000000000000013', 'big', 1, 'RUNNING')"
	t0=$(sql "SELECT clock_timestamp()")
	curl -sS "$LOOM_API/api/v1/executions/exec-d0000000000000000013?wait=30s" \
	    >"$LOOM_TEST_DIR/poll.out" &
	poll=$!
	# the poll waits once loom-api has read the run (its first look)
	wait_for -t 10 test "$(sql "SELECT count(*) FROM pg_stat_activity
	    WHERE application_name LIKE 'loom-api[%' AND query_start > '$t0'
	    AND query LIKE 'SELECT 0, id, workflow_id%'")" -gt 0
	kill -0 "$poll"
	sql "INSERT INTO run_tasks (execution_id, task_id, state, attempt)
	    VALUES ('exec-d0000000000000000013', 't0', 'SUCCESS', 1)"
	sql "UPDATE executions SET status = 'SUCCESS', completed_at = now(),
	    engine_gen = engine_gen + 1 WHERE id = 'exec-d0000000000000000013';
	    SELECT pg_notify('loom_event', 'exec-d0000000000000000013')" \
	    >/dev/null
	wait "$poll"
	body=$(cat "$LOOM_TEST_DIR/poll.out")
	jqt '.status == "SUCCESS" and (.tasks | length) == 1200 and
	    (.tasks[1199] | .taskId == "t0" and .state == "SUCCESS")'
	# and one that runs out of time answers the run as it is
	sql "INSERT INTO executions (id, workflow_id, workflow_version, status)
	    VALUES ('exec-d0000000000000000014', 'detail', 1, 'RUNNING')"
	body=$(curl -sS "$LOOM_API/api/v1/executions/exec-d0000000000000000014?wait=1s")
	jqt '.status == "RUNNING" and [.tasks[].taskId] == ["a", "b", "c"]'
}
