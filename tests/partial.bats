#!/usr/bin/env bats
# A pass written in part (loom-engine(8): over 1,000 rows go 1,000 per
# transaction) must not strand its run.  The state such a pass leaves is
# made by hand here: the first pass of a 2,500-task fan-out is written
# whole, then the rows (and events) of its last two transactions are
# taken away again, as if another engine or an executor had passed the
# run after the first one, or the writer had died.  Daemons are started
# per test, executors only when the test wants tasks to run.

bats_require_minimum_version 1.5.0

load helpers

setup_file() {
	loom_pg_start
	loom_backend_start
	export B=$BACKEND_URL/api/tasks
}

teardown_file() {
	loom_stop_all
}

setup() {
	WF=$BATS_TEST_TMPDIR/wf.yaml
	loom_api_start
}

teardown() {
	[ -n "${BATS_TEST_COMPLETED:-}" ] || loom_show_logs
	loom_daemons_stop
	loom_api_stop
}

# fan ID N: N independent tasks.
fan() {
	printf 'id: %s\ntasks:\n' "$1"
	seq -f "  - {id: f%04.0f, url: \"$B/f\"}" 1 "$2"
}

rows() {
	sql "SELECT count(*) FROM run_tasks WHERE execution_id = '$1'"
}

# ready_rows EXEC N: the run has N READY rows.
ready_rows() {
	[ "$(sql "SELECT count(*) FROM run_tasks WHERE execution_id = '$1'
	    AND state = 'READY'")" = "$2" ]
}

# cut EXEC: takes away what the transactions after the first wrote (every
# row past the first 1,000 and its events), as if they never committed.
cut() {
	sql "DELETE FROM run_tasks WHERE execution_id = '$1' AND task_id > 'f1000';
	    DELETE FROM events WHERE execution_id = '$1' AND task_id > 'f1000'"
	assert_equal "$(rows "$1")" 1000
}

# ended EXEC: the run is finished (a stalled one never is).
ended() {
	case $(sql "SELECT status FROM executions WHERE id = '$1'") in
	SUCCESS | FAILED | CANCELLED) return 0 ;;
	esac
	echo "$1 is still running with $(rows "$1") of its task rows" >&2
	return 1
}

# once EXEC N: the backend was called N times for the run, once per task.
once() {
	assert_equal "$(jq -r --arg e "$1/" 'select((.idempotencyKey // "")
	    | startswith($e)) | .idempotencyKey' "$BACKEND_LOG" | wc -l)" "$2"
	assert_equal "$(jq -r --arg e "$1/" 'select((.idempotencyKey // "")
	    | startswith($e)) | .idempotencyKey' "$BACKEND_LOG" | sort -u |
	    wc -l)" "$2"
}

@test "a run read afresh gets back the rows its last pass did not write; each task runs once" {
	fan part-cold 2500 >"$WF"
	apply "$WF"
	loom_daemon_start loom-engine
	engine=$LOOM_DAEMON_PID
	E=$(trigger part-cold)
	wait_for -t 30 ready_rows "$E" 2500
	loom_daemon_stop "$engine"
	cut "$E"
	# nothing tells anyone of the missing rows: the executors run the
	# 1,000 there are, and the passes over their results read the run
	# afresh (a new engine, an executor's own pass)
	loom_daemon_start loom-engine
	loom_daemon_start loom-exec
	wait_for -t 90 ended "$E" 2>/dev/null || ended "$E"
	ex=$(finished "$E")
	all_succeeded "$ex" 2500
	once "$E" 2500
	# one promotion event per task, none twice
	assert_equal "$(sql "SELECT count(DISTINCT task_id) || ' ' || count(*)
	    FROM events WHERE execution_id = '$E' AND to_state = 'READY'")" \
	    "2500 2500"
}

@test "the sweep finds a run marked written in part and completes it, whatever engine_gen says" {
	fan part-mark 2500 >"$WF"
	apply "$WF"
	LOOM_ENGINE_SWEEP=1s loom_daemon_start loom-engine
	E=$(trigger part-mark)
	wait_for -t 30 ready_rows "$E" 2500
	assert_equal "$(sql "SELECT pass_incomplete FROM executions
	    WHERE id = '$E'")" f
	# the engine still holds the run at the engine_gen it wrote; no
	# executor runs, so no result or doorbell will come: only the sweep
	# can find the run
	cut "$E"
	sql "UPDATE executions SET pass_incomplete = true WHERE id = '$E'"
	wait_for -t 30 ready_rows "$E" 2500
	assert_equal "$(sql "SELECT pass_incomplete FROM executions
	    WHERE id = '$E'")" f
	loom_daemon_start loom-exec
	wait_for -t 90 ended "$E" 2>/dev/null || ended "$E"
	ex=$(finished "$E")
	all_succeeded "$ex" 2500
	once "$E" 2500
}
