#!/usr/bin/env bats
# exec.advance (loom-exec(8), "Advancing runs"): an executor with nothing
# else to do takes the next step of the run whose successes it just wrote,
# and leaves to the engines whatever it cannot finish.  The engine is
# stopped (SIGSTOP) at chosen points to show who took each step; the
# safety sweep is a minute, so nothing here may wait for it.

bats_require_minimum_version 1.5.0

load helpers

setup_file() {
	loom_pg_start
	loom_backend_start
	export B=$BACKEND_URL/api/tasks
	export LOOM_ENGINE_SWEEP=60s
}

teardown_file() {
	loom_stop_all
}

setup() {
	WF=$BATS_TEST_TMPDIR/wf.yaml
	loom_api_start
}

teardown() {
	[ -z "${ENGINE:-}" ] || kill -CONT "$ENGINE" 2>/dev/null || true
	[ -n "${BATS_TEST_COMPLETED:-}" ] || loom_show_logs
	loom_daemons_stop
	loom_api_stop
}

# chain ID N SLEEP: tasks t1..tN, each after the one before; t1 answers
# SLEEP ms late (time to stop the engine while it runs), the others at once.
chain() {
	local i
	echo "id: $1"
	echo "tasks:"
	echo "  - {id: t1, url: \"$B/t?sleep=$3\"}"
	for i in $(seq 2 "$2"); do
		echo "  - {id: t$i, url: \"$B/t\", dependsOn: t$((i - 1))}"
	done
}

# called EXEC TASK: the backend has had its call for that task.
called() {
	grep -qF "\"idempotencyKey\":\"$1/$2/1\"" "$BACKEND_LOG"
}

# calls_of EXEC: the tasks the backend was called for, in arrival order
calls_of() {
	jq -r --arg e "$1/" 'select((.idempotencyKey // "") | startswith($e))
	    | .idempotencyKey | ltrimstr($e) | split("/")[0]' "$BACKEND_LOG" |
	    paste -sd ' '
}

# task_is EXEC TASK STATE: the task's row is in that state
task_is() {
	[ "$(sql "SELECT state FROM run_tasks WHERE execution_id = '$1'
	    AND task_id = '$2'")" = "$3" ]
}

# state EXEC: the run's status
state() {
	sql "SELECT status FROM executions WHERE id = '$1'"
}

@test "an idle executor takes a chain's steps itself: the run ends with its engine stopped" {
	loom_daemon_start loom-engine
	ENGINE=$LOOM_DAEMON_PID
	loom_daemon_start loom-exec
	exec=$LOOM_DAEMON_PID
	log=$LOOM_DAEMON_LOG
	chain adv-on 6 500 >"$WF"
	apply "$WF"
	E=$(trigger adv-on)
	# the engine starts the run; from then on (t1 runs 500ms) it sleeps
	wait_for called "$E" t1
	kill -STOP "$ENGINE"
	ex=$(finished "$E")
	all_succeeded "$ex" 6
	# in order, each once
	assert_equal "$(calls_of "$E")" "t1 t2 t3 t4 t5 t6"
	# a step's claim is in the step's own transaction: the task it made
	# READY went RUNNING in that transaction (all five, unless a doorbell
	# had the executor claim with a result first)
	run sql "SELECT count(*) FROM events r JOIN events c
	    USING (execution_id, task_id) WHERE r.execution_id = '$E'
	    AND r.to_state = 'READY' AND c.to_state = 'RUNNING'
	    AND r.tx = c.tx AND task_id <> 't1'"
	assert_success
	[ "$output" -ge 3 ]
	kill -CONT "$ENGINE"
	loom_daemon_stop "$exec"
	# the executor says how many steps it took: at least the five after t1
	run grep -oE '[0-9]+ steps taken' "$log"
	assert_success
	[ "${output%% *}" -ge 5 ]
}

@test "with exec.advance off, the steps wait for an engine" {
	loom_daemon_start loom-engine
	ENGINE=$LOOM_DAEMON_PID
	LOOM_EXEC_ADVANCE=off loom_daemon_start loom-exec
	exec=$LOOM_DAEMON_PID
	chain adv-off 3 500 >"$WF"
	apply "$WF"
	E=$(trigger adv-off)
	wait_for called "$E" t1
	kill -STOP "$ENGINE"
	# t1's result is written, rings loom_task_done, and nobody answers
	wait_for task_is "$E" t1 SUCCESS
	sleep 1
	assert_equal "$(state "$E")" RUNNING
	! called "$E" t2
	kill -CONT "$ENGINE"
	ex=$(finished "$E")
	assert_equal "$(jq -r .status <<<"$ex")" SUCCESS
	assert_equal "$(calls_of "$E")" "t1 t2 t3"
	loom_daemon_stop "$exec"
	run grep -oE '[0-9]+ steps taken' "$LOOM_TEST_DIR"/loom-exec.*.log
	assert_output --partial "0 steps taken"
}

@test "a step that makes more ready than its executor can take rings the other executors" {
	loom_daemon_start loom-engine
	ENGINE=$LOOM_DAEMON_PID
	LOOM_EXEC_NAME=adv-one loom_daemon_start loom-exec -j 1
	one=$LOOM_DAEMON_PID
	cat >"$WF" <<-EOF
	id: adv-wide
	tasks:
	  - {id: a, url: "$B/a?sleep=500"}
	  - {id: b1, url: "$B/b?sleep=300", dependsOn: a}
	  - {id: b2, url: "$B/b?sleep=300", dependsOn: a}
	  - {id: b3, url: "$B/b?sleep=300", dependsOn: a}
	EOF
	apply "$WF"
	E=$(trigger adv-wide)
	wait_for called "$E" a
	# a second executor, and no engine, while a runs on the first
	LOOM_EXEC_NAME=adv-other loom_daemon_start loom-exec
	other=$LOOM_DAEMON_PID
	kill -STOP "$ENGINE"
	# Every b runs with the engine stopped.  The run's last step is
	# left to the engine: when b's of both executors finish at once,
	# one executor's pass finds the run locked by the other's and rings
	# loom_task_done for the engine, as advance.h says.
	for t in b1 b2 b3; do wait_for task_is "$E" $t SUCCESS; done
	kill -CONT "$ENGINE"
	ex=$(finished "$E")
	assert_equal "$(jq -r .status <<<"$ex")" SUCCESS
	# the first took a's step and one b (all its slot holds); only the
	# doorbell it rang told the other about the rest
	assert_equal "$(sql "SELECT executor FROM task_executions
	    WHERE execution_id = '$E' AND task_id = 'a'")" adv-one
	run sql "SELECT count(*) FROM task_executions WHERE
	    execution_id = '$E' AND executor = 'adv-other'"
	assert_success
	[ "$output" -ge 1 ]
	loom_daemon_stop "$one"
	loom_daemon_stop "$other"
}

@test "a run whose lock an engine holds: the executor rings loom_task_done and the engine takes the step" {
	loom_daemon_start loom-engine
	ENGINE=$LOOM_DAEMON_PID
	loom_daemon_start loom-exec
	exec=$LOOM_DAEMON_PID
	chain adv-busy 3 400 >"$WF"
	apply "$WF"
	E=$(trigger adv-busy)
	wait_for called "$E" t1
	# t1 is running (400ms): hold the run's row as an engine's pass
	# would, until well after t1 has finished
	psql -X -q -v ON_ERROR_STOP=1 "$LOOM_DATABASE_URL" -c "BEGIN" \
	    -c "SELECT 1 FROM executions WHERE id = '$E' FOR NO KEY UPDATE" \
	    -c "SELECT pg_sleep(1.5)" -c "COMMIT" >/dev/null 3>&- &
	locker=$!
	wait "$locker"
	# without the doorbell the run would wait for the sweep, a minute
	# away
	t0=$SECONDS
	ex=$(finished "$E")
	[ $((SECONDS - t0)) -lt 20 ]
	assert_equal "$(jq -r .status <<<"$ex")" SUCCESS
	assert_equal "$(calls_of "$E")" "t1 t2 t3"
	loom_daemon_stop "$exec"
}

@test "a failed result goes to the engine, which times its retry; the executor takes the steps after" {
	loom_daemon_start loom-engine
	ENGINE=$LOOM_DAEMON_PID
	loom_daemon_start loom-exec
	exec=$LOOM_DAEMON_PID
	cat >"$WF" <<-EOF
	id: adv-retry
	tasks:
	  - {id: a, url: "$B/a"}
	  - {id: r, url: "$B/r?fail=1", dependsOn: a, retryPolicy: {maxAttempts: 2, backoffStrategy: fixed, initialDelay: 300ms, jitter: 0, retryOn: [TaskFailedException]}}
	  - {id: z, url: "$B/z", dependsOn: r}
	EOF
	apply "$WF"
	E=$(trigger adv-retry)
	ex=$(finished "$E")
	assert_equal "$(jq -r .status <<<"$ex")" SUCCESS
	assert_equal "$(jq -r '[.tasks[] | "\(.taskId)=\(.attempt)"] |
	    join(" ")' <<<"$ex")" "a=1 r=2 z=1"
	# the retry waited its 300ms
	gap=$(sql "SELECT (extract(epoch FROM max(started_at) - min(completed_at))
	    * 1000)::int FROM task_executions WHERE execution_id = '$E'
	    AND task_id = 'r'")
	echo "retry after ${gap}ms"
	[ "$gap" -ge 250 ]
	loom_daemon_stop "$exec"
}
