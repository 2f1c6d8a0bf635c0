#!/usr/bin/env bats
# The run and task controls and the dead-letter queue, end to end: loom
# (the CLI) -> loom-api -> run_requests / cancel_requested -> loom-engine
# -> loom-exec -> the test backend (tests/backend), on a throwaway
# PostgreSQL cluster.  Every scenario checks the final state and attempt
# of every task through loom-api and the number of calls each task got
# from the backend's call log (one line per call, keyed by
# Idempotency-Key executionId/taskId/attempt).  The backend's ?fail=N
# fails the first N calls of one executionId/taskId, so a task that used
# up its attempts succeeds on a later one: that is how a retry, a rerun
# or a replay is made to succeed.  Waits are on events, never fixed
# sleeps.

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

setup() {
	WF=$BATS_TEST_TMPDIR/wf.yaml
}

teardown() {
	[ -z "${BATS_TEST_COMPLETED:-}" ] || return 0
	loom_show_logs
}

loom() {
	"$LOOM_BIN/loom" "$@"
}

# summary RUN-JSON: "task=STATE/ATTEMPT ..." in loom-api's task order.
summary() {
	jq -r '[.tasks[] | "\(.taskId)=\(.state)/\(.attempt)"] | join(" ")' \
	    <<<"$1"
}

task() {
	jq -c --arg t "$2" '.tasks[] | select(.taskId == $t)' <<<"$1"
}

# ncalls EXEC: "task=N ..." calls per task, sorted by task id.
ncalls() {
	jq -r --arg e "$1/" 'select((.idempotencyKey // "") | startswith($e))
	    | .body.taskId' "$BACKEND_LOG" | sort | uniq -c |
	    awk '{printf "%s%s=%s", sep, $2, $1; sep=" "}'
}

# keys EXEC TASK: the Idempotency-Keys of that task's calls, in order.
keys() {
	jq -r --arg e "$1/$2/" 'select((.idempotencyKey // "") |
	    startswith($e)) | .idempotencyKey' "$BACKEND_LOG" | tr '\n' ' '
}

# call EXEC TASK ATTEMPT: the backend's first call for that attempt.
call() {
	jq -c --arg k "$1/$2/$3" 'select(.idempotencyKey == $k)' \
	    "$BACKEND_LOG" | head -n 1
}

# post PATH [BODY]: "HTTP-STATUS BODY" of a POST to loom-api.
post() {
	local out=$BATS_TEST_TMPDIR/post.out code
	code=$(curl -sS -o "$out" -w '%{http_code}' -X POST \
	    -H 'Content-Type: application/json' ${2:+--data "$2"} \
	    "$LOOM_API$1") || return 1
	echo "$code $(cat "$out")"
}

@test "cancel stops the running task, cancels the pending ones, ends the run" {
	cat >"$WF" <<EOF
id: ctl-cancel
tasks:
  - id: quick
    url: $B/quick
  - id: slow
    url: $B/slow?sleep=20000
    timeout: 60s
    dependsOn: quick
  - id: after
    url: $B/after
    dependsOn: slow
  - id: also
    url: $B/also
    dependsOn: slow
EOF
	apply "$WF"
	E=$(trigger ctl-cancel)
	wait_for -t 20 grep -qF "\"idempotencyKey\":\"$E/slow/1\"" \
	    "$BACKEND_LOG"

	# What does not apply to a running run is refused, and changes nothing.
	run -1 loom execution retry "$E" --from-failed
	assert_output --partial "execution $E is RUNNING; only a FAILED or CANCELLED execution can be retried"
	run -1 loom execution retry "$E"
	assert_output --partial "execution $E is still RUNNING"
	run -1 loom task rerun "$E" slow
	assert_output --partial "task slow of $E is RUNNING; only a finished task can run again"
	# the engine's own refusal, with its reason
	run -1 loom task rerun "$E" quick --downstream
	# (the engine knows slow as READY until its result comes)
	assert_output --regexp "task 'slow', downstream, is (READY|RUNNING); wait for it to finish \\(or cancel the run\\) first"
	assert_equal "$(sql "SELECT count(*) FROM run_requests
	    WHERE execution_id = '$E' AND done_at IS NULL")" 0

	run -0 loom execution cancel "$E" --wait -o json
	ex=$(tail -n 1 <<<"$output")
	assert_equal "$(jq -r .status <<<"$ex")" CANCELLED
	assert_equal "$(summary "$ex")" \
	    "quick=SUCCESS/1 slow=CANCELLED/1 after=CANCELLED/0 also=CANCELLED/0"
	assert_equal "$(jq -r .error <<<"$ex")" "run cancelled"
	assert_equal "$(ncalls "$E")" "quick=1 slow=1"
	# the executor stopped the attempt and recorded nothing for it
	wait_for -t 10 grep -qE "\\[execution=$E\\] \\[task=slow\\] \\[attempt=1\\] (the run was cancelled|the task is not leased)" \
	    "$LOOM_TEST_DIR"/loom-exec.*.log
	assert_equal "$(sql "SELECT string_agg(task_id, ' ') FROM
	    task_executions WHERE execution_id = '$E'")" quick
	# the request is spent with the run
	assert_equal "$(sql "SELECT cancel_requested FROM executions
	    WHERE id = '$E'")" f

	run -1 loom execution cancel "$E"
	assert_output "loom execution cancel: execution $E is already CANCELLED; only a PENDING or RUNNING execution can be cancelled"
	run -4 loom execution cancel exec-00000000000000000000
	assert_output --partial "no execution 'exec-00000000000000000000'"
	read -r code body < <(post "/api/v1/executions/$E/cancel")
	assert_equal "$code" 409
	assert_equal "$(jq -c .error.code <<<"$body")" '"conflict"'
}

@test "cancel without --wait; a cancelled run is retried where it stopped" {
	cat >"$WF" <<EOF
id: ctl-cancel2
tasks:
  - id: slow
    url: $B/slow?sleep=4000
    timeout: 60s
  - id: next
    url: $B/next
    dependsOn: slow
EOF
	apply "$WF"
	E=$(trigger ctl-cancel2)
	wait_for -t 20 grep -qF "\"idempotencyKey\":\"$E/slow/1\"" \
	    "$BACKEND_LOG"
	run -0 loom execution cancel "$E"
	assert_output "$E: cancel requested"
	ex=$(finished "$E")
	assert_equal "$(summary "$ex")" "slow=CANCELLED/1 next=CANCELLED/0"
	assert_equal "$(jq -r .status <<<"$ex")" CANCELLED

	# A cancelled run can be retried from where it stopped: the stopped
	# attempt is not reused, its number goes on.
	run -0 loom execution retry "$E" --from-failed --wait
	assert_line "$E: running again: slow, next"
	ex=$(finished "$E")
	assert_equal "$(jq -r .status <<<"$ex")" SUCCESS
	assert_equal "$(summary "$ex")" "slow=SUCCESS/2 next=SUCCESS/1"
	assert_equal "$(keys "$E" slow)" "$E/slow/1 $E/slow/2 "
	assert_equal "$(ncalls "$E")" "next=1 slow=2"
}

@test "retry --from-failed runs only what failed; successful outputs are reused" {
	cat >"$WF" <<EOF
id: ctl-retry
tasks:
  - id: a
    url: $B/a
  - id: b
    url: $B/b?fail=3
    dependsOn: a
    retryPolicy: {maxAttempts: 2, backoffStrategy: fixed, initialDelay: 100ms, retryOn: [TaskFailedException]}
  - id: c
    url: $B/c
    dependsOn: b
    input: {fromA: "\${{ .tasks.a.output.task }}", bAttempt: "\${{ .tasks.b.output.attempt }}"}
  - id: d
    url: $B/d
    dependsOn: a
EOF
	apply "$WF"
	E=$(trigger ctl-retry)
	ex=$(finished "$E")
	assert_equal "$(jq -r .status <<<"$ex")" FAILED
	assert_equal "$(summary "$ex")" \
	    "a=SUCCESS/1 b=DEAD/2 c=SKIPPED/0 d=SUCCESS/1"
	assert_equal "$(ncalls "$E")" "a=1 b=2 d=1"
	assert_equal "$(sql "SELECT count(*) FROM dead_letters
	    WHERE execution_id = '$E' AND resolved_at IS NULL")" 1

	run -0 loom execution retry "$E" --from-failed --wait
	assert_line --index 0 "$E: running again: b, c"
	assert_line "Status:    SUCCESS"
	ex=$(finished "$E")
	assert_equal "$(jq -c '[.status, .error]' <<<"$ex")" '["SUCCESS",null]'
	# b: attempt 3 failed (the backend's third failure) and, with a
	# fresh budget of 2, was retried once more; a and d never ran again
	assert_equal "$(summary "$ex")" \
	    "a=SUCCESS/1 b=SUCCESS/4 c=SUCCESS/1 d=SUCCESS/1"
	assert_equal "$(task "$ex" b | jq -c '[.attempts[] | .status]')" \
	    '["FAILED","FAILED","FAILED","SUCCESS"]'
	assert_equal "$(ncalls "$E")" "a=1 b=4 c=1 d=1"
	assert_equal "$(keys "$E" b)" "$E/b/1 $E/b/2 $E/b/3 $E/b/4 "
	# c got a's output from the first run and b's from the retry
	assert_equal "$(call "$E" c 1 | jq -c .body.input)" \
	    '{"fromA":"a","bAttempt":4}'
	# the run went FAILED -> RUNNING -> SUCCESS; b's dead letter is closed
	assert_equal "$(sql "SELECT string_agg(from_state || '>' || to_state,
	    ' ' ORDER BY id) FROM events WHERE execution_id = '$E'
	    AND kind = 'run' AND from_state IS NOT NULL")" \
	    "PENDING>RUNNING RUNNING>FAILED FAILED>RUNNING RUNNING>SUCCESS"
	assert_equal "$(sql "SELECT resolution FROM dead_letters
	    WHERE execution_id = '$E'")" retried
	assert_equal "$(sql "SELECT kind || ' ' || (result->'reset')::text
	    FROM run_requests WHERE execution_id = '$E'")" \
	    'retry ["b", "c"]'

	# nothing left to retry
	run -1 loom execution retry "$E" --from-failed
	assert_output --partial "execution $E is SUCCESS; only a FAILED or CANCELLED execution can be retried"
	run -4 loom execution retry exec-00000000000000000000 --from-failed
	read -r code body < <(post "/api/v1/executions/$E/retry" \
	    '{"fromFailed":"yes"}')
	assert_equal "$code" 422
	assert_equal "$(jq -c .error.field <<<"$body")" '"fromFailed"'
	read -r code body < <(post "/api/v1/executions/$E/retry" \
	    '{"fromFailed":true,"extra":1}')
	assert_equal "$code" 422
}

@test "retry without --from-failed runs the whole workflow again as a new execution" {
	cat >"$WF" <<EOF
id: ctl-again
params: {n: 1}
tasks:
  - id: one
    url: $B/one
    input: {n: "\${{ .params.n }}"}
EOF
	apply "$WF"
	E=$(trigger ctl-again '{"n":5}')
	ex=$(finished "$E")
	assert_equal "$(jq -r .status <<<"$ex")" SUCCESS
	run -0 loom execution retry "$E" --wait
	N=${lines[0]}
	assert_regex "$N" '^exec-[0-9a-f]{20}$'
	[ "$N" != "$E" ]
	assert_line "Status:    SUCCESS"
	ex=$(finished "$N")
	assert_equal "$(jq -c '[.trigger, .params, .workflowVersion]' \
	    <<<"$ex")" '["retry",{"n":5},1]'
	assert_equal "$(call "$N" one 1 | jq -c .body.input)" '{"n":5}'
	# the original is untouched
	assert_equal "$(ncalls "$E")" "one=1"
	assert_equal "$(finished "$E" | jq -r .status)" SUCCESS
	assert_equal "$(sql "SELECT data->>'retryOf' FROM events
	    WHERE execution_id = '$N' AND kind = 'run' AND to_state = 'PENDING'")" "$E"
}

@test "task rerun: one task alone, then with what is downstream" {
	cat >"$WF" <<EOF
id: ctl-rerun
tasks:
  - id: a
    url: $B/a
  - id: b
    url: $B/b
    dependsOn: a
  - id: c
    url: $B/c
    dependsOn: b
    input: {bAttempt: "\${{ .tasks.b.output.attempt }}"}
EOF
	apply "$WF"
	E=$(trigger ctl-rerun)
	ex=$(finished "$E")
	assert_equal "$(summary "$ex")" "a=SUCCESS/1 b=SUCCESS/1 c=SUCCESS/1"

	run -0 loom task rerun "$E" b --wait
	assert_line --index 0 "$E: running again: b"
	assert_line "Status:    SUCCESS"
	ex=$(finished "$E")
	assert_equal "$(summary "$ex")" "a=SUCCESS/1 b=SUCCESS/2 c=SUCCESS/1"
	assert_equal "$(task "$ex" b | jq -c .output.attempt)" 2
	assert_equal "$(ncalls "$E")" "a=1 b=2 c=1"

	run -0 loom task rerun "$E" b --downstream --wait -o json
	ex=$(tail -n 1 <<<"$output")
	assert_equal "$(jq -r .status <<<"$ex")" SUCCESS
	assert_equal "$(summary "$ex")" "a=SUCCESS/1 b=SUCCESS/3 c=SUCCESS/2"
	assert_equal "$(ncalls "$E")" "a=1 b=3 c=2"
	assert_equal "$(keys "$E" c)" "$E/c/1 $E/c/2 "
	assert_equal "$(call "$E" c 2 | jq -c .body.input)" '{"bAttempt":3}'
	assert_equal "$(sql "SELECT string_agg(from_state || '>' || to_state,
	    ' ' ORDER BY id) FROM events WHERE execution_id = '$E'
	    AND kind = 'run' AND from_state IS NOT NULL")" \
	    "PENDING>RUNNING RUNNING>SUCCESS SUCCESS>RUNNING RUNNING>SUCCESS SUCCESS>RUNNING RUNNING>SUCCESS"

	# without --wait, JSON: the execution running again, and the request
	run -0 loom task rerun "$E" a -o json
	assert_equal "$(jq -c '[.request.kind, .request.state,
	    .request.reset, .id]' <<<"$output")" "[\"rerun\",\"applied\",[\"a\"],\"$E\"]"
	ex=$(finished "$E")
	assert_equal "$(summary "$ex")" "a=SUCCESS/2 b=SUCCESS/3 c=SUCCESS/2"
	assert_equal "$(ncalls "$E")" "a=2 b=3 c=2"

	run -4 loom task rerun "$E" nope
	assert_output --partial "no task 'nope' in workflow ctl-rerun version 1"
	run -4 loom task rerun exec-00000000000000000000 b
	run -2 loom task rerun "$E"
}

@test "dlq: list and show a dead task; replay resumes the run with a fresh budget" {
	cat >"$WF" <<EOF
id: ctl-dlq
tasks:
  - id: doomed
    url: $B/doomed?fail=3
    retryPolicy: {maxAttempts: 2, backoffStrategy: fixed, initialDelay: 100ms, retryOn: [TaskFailedException]}
  - id: downstream
    url: $B/downstream
    dependsOn: doomed
  - id: further
    url: $B/further
    dependsOn: downstream
  - id: side
    url: $B/side
EOF
	apply "$WF"
	E=$(trigger ctl-dlq)
	ex=$(finished "$E")
	assert_equal "$(jq -r .status <<<"$ex")" FAILED
	assert_equal "$(summary "$ex")" \
	    "doomed=DEAD/2 downstream=SKIPPED/0 further=SKIPPED/0 side=SUCCESS/1"

	run -0 loom dlq list --workflow ctl-dlq -o json
	assert_equal "${#lines[@]}" 1
	D=$(jq -r .id <<<"$output")
	assert_equal "$(jq -c '[.executionId, .workflowId, .taskId, .attempts,
	    .status, .error.type, .resolvedAt]' <<<"$output")" \
	    "[\"$E\",\"ctl-dlq\",\"doomed\",2,\"open\",\"TaskFailedException\",null]"
	assert_equal "$(jq -r .error.message <<<"$output")" \
	    "failing as asked (call 2 of 3)"
	run -0 loom dlq list --execution "$E"
	assert_output --regexp "^$D	$E	ctl-dlq	doomed	2	open	"
	run -0 loom dlq show "$D" -o json
	assert_equal "$(jq -c '[.taskState, .executionStatus,
	    .request.taskId, .request.attempt]' <<<"$output")" \
	    '["DEAD","FAILED","doomed",2]'
	run -0 loom dlq show "$D"
	assert_line "Task:        doomed (now DEAD)"
	assert_line "Status:      open"

	run -0 loom dlq replay "$D" --wait
	assert_line --index 0 "dead letter $D: $E: running again: doomed, downstream, further"
	assert_line "Status:    SUCCESS"
	ex=$(finished "$E")
	assert_equal "$(jq -r .status <<<"$ex")" SUCCESS
	# attempt 3 failed, and was retried within the new budget: 4 succeeded
	assert_equal "$(summary "$ex")" \
	    "doomed=SUCCESS/4 downstream=SUCCESS/1 further=SUCCESS/1 side=SUCCESS/1"
	assert_equal "$(keys "$E" doomed)" \
	    "$E/doomed/1 $E/doomed/2 $E/doomed/3 $E/doomed/4 "
	assert_equal "$(ncalls "$E")" "doomed=4 downstream=1 further=1 side=1"

	# resolved: gone from the open list, shown with --all
	run -0 loom dlq list --workflow ctl-dlq -o json
	assert_output ""
	run -0 loom dlq list --workflow ctl-dlq --all -o json
	assert_equal "$(jq -c '[.id, .status, .resolution, (.resolvedAt != null)]' \
	    <<<"$output")" "[$D,\"replayed\",\"replayed\",true]"
	run -1 loom dlq replay "$D"
	assert_output --partial "dead letter $D was already replayed"
	run -1 loom dlq discard "$D"
	read -r code body < <(post "/api/v1/dead-letters/$D/replay")
	assert_equal "$code" 409
	assert_equal "$(jq -r .error.code <<<"$body")" conflict

	run -4 loom dlq show 999999999
	assert_output --partial "no dead letter '999999999'"
	run -4 loom dlq replay nope
	run -2 loom dlq show
}

@test "dlq: a replayed task that dies again leaves a new letter; discard closes one" {
	cat >"$WF" <<EOF
id: ctl-dlq2
tasks:
  - id: doomed
    url: $B/doomed?fail=100
    retryPolicy: {maxAttempts: 2, backoffStrategy: fixed, initialDelay: 100ms, retryOn: [TaskFailedException]}
  - id: after
    url: $B/after
    dependsOn: doomed
EOF
	apply "$WF"
	E=$(trigger ctl-dlq2)
	ex=$(finished "$E")
	assert_equal "$(summary "$ex")" "doomed=DEAD/2 after=SKIPPED/0"
	D1=$(loom dlq list --execution "$E" -o json | jq -r .id)

	run -1 loom dlq replay "$D1" --wait
	assert_line --index 0 "dead letter $D1: $E: running again: doomed, after"
	assert_line "Status:    FAILED"
	ex=$(finished "$E")
	assert_equal "$(summary "$ex")" "doomed=DEAD/4 after=SKIPPED/0"
	assert_equal "$(keys "$E" doomed)" \
	    "$E/doomed/1 $E/doomed/2 $E/doomed/3 $E/doomed/4 "
	assert_equal "$(ncalls "$E")" "doomed=4"
	# two letters: the replayed one and a new open one, attempt numbers
	# going on
	assert_equal "$(loom dlq list --execution "$E" --all -o json |
	    jq -r '"\(.attempts) \(.status)"' | tr '\n' ' ')" "4 open 2 replayed "
	D2=$(loom dlq list --execution "$E" -o json | jq -r .id)
	[ "$D2" != "$D1" ]

	run -0 loom dlq discard "$D2"
	assert_output "dead letter $D2 discarded (task doomed of $E stays DEAD)"
	run -0 loom dlq show "$D2" -o json
	assert_equal "$(jq -c '[.status, .taskState, .executionStatus]' \
	    <<<"$output")" '["discarded","DEAD","FAILED"]'
	run -1 loom dlq discard "$D2"
	assert_output --partial "dead letter $D2 was already discarded"
	run -1 loom dlq replay "$D2"
	run -0 loom dlq list --execution "$E" -o json
	assert_output ""
	# the run stayed as it was, and nothing ran
	ex=$(finished "$E")
	assert_equal "$(summary "$ex")" "doomed=DEAD/4 after=SKIPPED/0"
	assert_equal "$(ncalls "$E")" "doomed=4"
	assert_equal "$(sql "SELECT count(*) FROM run_requests
	    WHERE execution_id = '$E'")" 1
}

@test "a rerun request waits for loom-engine and is applied when it comes" {
	cat >"$WF" <<EOF
id: ctl-late
tasks:
  - id: only
    url: $B/only
EOF
	apply "$WF"
	E=$(trigger ctl-late)
	ex=$(finished "$E")
	assert_equal "$(summary "$ex")" "only=SUCCESS/1"
	loom_daemon_stop "$(head -n 1 "$LOOM_TEST_DIR/daemons.pids")"
	# no engine: loom-api answers 202 "pending" after its wait
	run -0 loom task rerun "$E" only
	assert_output "$E: rerun requested; loom-engine has not taken it yet"
	run -1 loom task rerun "$E" only
	assert_output --partial "a rerun of only in $E is already pending"
	loom_daemon_start loom-engine
	wait_for -t 20 test "$(sql "SELECT count(*) FROM run_requests
	    WHERE execution_id = '$E' AND done_at IS NOT NULL")" = 1
	ex=$(finished "$E")
	assert_equal "$(summary "$ex")" "only=SUCCESS/2"
	assert_equal "$(ncalls "$E")" "only=2"
}
