#!/usr/bin/env bats
# Idle daemons sleep: once the work is over, loom-api, loom-engine,
# loom-exec, loom-sched and loom-log make no system call until something
# happens (no timer of theirs fires without work).  The timers are made
# short here (exec.lease 2s: a renewal every 0.7 s and a lease look every
# 0.5 s before; engine.sweep 500ms), so that any wake-up of the old kind
# shows within the window.  Sleeping must not cost liveness: an executor
# that went quiet still takes over the tasks of one that died.

load helpers

setup_file() {
	loom_pg_start
	loom_backend_start
	export LOOM_LOGD_SOCKET=$LOOM_TEST_DIR/log.sock
	export LOOM_LOGD_SPOOL=$LOOM_TEST_DIR/log.spool
	loom_daemon_start loom-log
	export LOG_PID=$LOOM_DAEMON_PID
	loom_api_start
	export API_PID=$LOOM_API_PID
	export LOOM_EXEC_LEASE=2s LOOM_ENGINE_SWEEP=500ms
	loom_daemon_start loom-engine
	export ENGINE_PID=$LOOM_DAEMON_PID
	LOOM_EXEC_NAME=idle-a loom_daemon_start loom-exec
	export EXEC_PID=$LOOM_DAEMON_PID
	loom_daemon_start loom-sched
	export SCHED_PID=$LOOM_DAEMON_PID
}

teardown_file() {
	loom_stop_all
}

teardown() {
	[ -z "${BATS_TEST_COMPLETED:-}" ] || return 0
	loom_show_logs
}

# owner_is RUN EXECUTOR: the run's running task is leased to EXECUTOR
owner_is() {
	[ "$(sql "SELECT lease_owner FROM run_tasks WHERE execution_id = '$1'
	    AND state = 'RUNNING'")" = "$2" ]
}

@test "once a run is over, every daemon sleeps: no wake-up in 3 s" {
	cat >"$BATS_TEST_TMPDIR/wf.yaml" <<EOF
id: idle-work
tasks:
  - id: call
    url: $BACKEND_URL/api/tasks/call
  - id: talk
    type: shell
    command: "echo some output; echo '{}'"
    dependsOn: [call]
EOF
	apply "$BATS_TEST_TMPDIR/wf.yaml"
	E=$(trigger idle-work)
	all_succeeded "$(finished "$E")" 2
	# a window with no wake-up at all, once the work's tail is over
	# (the last looks at the database, the memory trim)
	wait_for -t 60 quiet 3 "$LOG_PID" "$API_PID" "$ENGINE_PID" \
	    "$EXEC_PID" "$SCHED_PID"
}

@test "an executor that went quiet still takes over the tasks of one killed mid-task" {
	# two executors of this test's own (its children, so that the kill
	# below is waited for)
	loom_daemon_stop "$EXEC_PID"
	LOOM_EXEC_NAME=idle-a loom_daemon_start loom-exec
	a=$LOOM_DAEMON_PID
	LOOM_EXEC_NAME=idle-b loom_daemon_start loom-exec
	b=$LOOM_DAEMON_PID
	wait_for -t 60 quiet 3 "$a" "$b"
	cat >"$BATS_TEST_TMPDIR/wf.yaml" <<EOF
id: idle-takeover
tasks:
  - id: held
    url: $BACKEND_URL/api/tasks/held?gate=idle-takeover
    timeout: 60s
EOF
	apply "$BATS_TEST_TMPDIR/wf.yaml"
	# b is slow to hear the doorbell: the first executor takes the task
	kill -STOP "$b"
	E=$(trigger idle-takeover)
	wait_for -t 20 owner_is "$E" idle-a
	kill -CONT "$b"
	{ kill -KILL "$a" && wait "$a"; } 2>/dev/null || true
	# no doorbell rings now: b's lease watch must find the lost lease
	wait_for -t 30 owner_is "$E" idle-b
	open_gate idle-takeover
	run=$(finished "$E")
	assert_equal "$(jq -r .status <<<"$run")" SUCCESS
	assert_equal "$(sql "SELECT executor FROM task_executions
	    WHERE execution_id = '$E' AND status = 'SUCCESS'")" idle-b
}

@test "a long poll that the run's end answered leaves no timer: loom-api sleeps through the poll's deadline" {
	cat >"$BATS_TEST_TMPDIR/wf.yaml" <<EOF
id: idle-poll
tasks:
  - id: call
    url: $BACKEND_URL/api/tasks/call?sleep=1000
EOF
	apply "$BATS_TEST_TMPDIR/wf.yaml"
	E=$(trigger idle-poll)
	t0=$(date +%s%N)
	# polls of 8 s, each answered by a doorbell long before its deadline
	for _ in $(seq 50); do
		[ "$(curl -sS "$LOOM_API/api/v1/executions/$E?wait=8s" |
		    jq -r .status)" != SUCCESS ] || break
	done
	assert_equal "$(sql "SELECT status FROM executions WHERE id = '$E'")" SUCCESS
	wait_for -t 20 quiet 1 "$API_PID"
	# the window runs from here to past the first poll's deadline, t0 + 8 s
	left=$((9 - ($(date +%s%N) - t0) / 1000000000))
	[ "$left" -ge 2 ] || skip "the machine took until the deadline to go quiet"
	quiet "$left" "$API_PID"
}
