#!/usr/bin/env bats
# loom db prune (loom(1), "loom db"): runs that ended and were created
# long enough ago go, with their tasks, attempts, output lines and events;
# runs still going, other workflows' runs and the workflows stay.

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
	loom_api_start
	loom_daemon_start loom-engine
	loom_daemon_start loom-exec
}

teardown() {
	[ -n "${BATS_TEST_COMPLETED:-}" ] || loom_show_logs
	loom_daemons_stop
	loom_api_stop
}

# running EXEC: the run's one task is RUNNING
running() {
	[ "$(sql "SELECT state FROM run_tasks WHERE execution_id = '$1'")" = RUNNING ]
}

# count TABLE EXEC: the rows of that run in the table
count() {
	sql "SELECT count(*) FROM $1 WHERE execution_id = '$2'"
}

@test "prune removes the runs that ended, with all that is theirs, and nothing else" {
	WF=$BATS_TEST_TMPDIR/wf.yaml
	cat >"$WF" <<-EOF
	id: prune-quick
	tasks:
	  - {id: a, url: "$B/a"}
	  - {id: b, url: "$B/b", dependsOn: a}
	EOF
	apply "$WF"
	cat >"$WF" <<-EOF
	id: prune-other
	tasks:
	  - {id: a, url: "$B/a"}
	EOF
	apply "$WF"
	cat >"$WF" <<-EOF
	id: prune-slow
	tasks:
	  - {id: s, command: [sleep, "60"], timeout: 2m}
	EOF
	apply "$WF"
	q1=$(trigger prune-quick)
	q2=$(trigger prune-quick)
	o1=$(trigger prune-other)
	s1=$(trigger prune-slow)
	for e in "$q1" "$q2" "$o1"; do finished "$e" >/dev/null; done
	wait_for running "$s1"
	# an output line of q1's, as loom-log or loom-exec would keep it
	sql "INSERT INTO task_logs (execution_id, task_id, attempt, stream, line)
	    VALUES ('$q1', 'a', 1, 'stdout', 'kept until pruned')"
	[ "$(count events "$q1")" -gt 0 ]
	[ "$(count task_executions "$q1")" -eq 2 ]

	# nothing is that old
	run --separate-stderr "$LOOM_BIN/loom" db prune --older-than 1h -o json
	assert_success
	assert_equal "$(jq -c . <<<"$output")" '{"runs":0,"events":0,"dryRun":false}'

	# a dry run counts and keeps
	run --separate-stderr "$LOOM_BIN/loom" db prune --older-than 0s --dry-run -o json
	assert_success
	assert_equal "$(jq .runs <<<"$output")" 3
	[ "$(jq .events <<<"$output")" -gt 0 ]
	assert_equal "$(sql "SELECT count(*) FROM executions")" 4

	# one workflow's
	run --separate-stderr "$LOOM_BIN/loom" db prune --older-than 0s --workflow prune-quick
	assert_success
	assert_output --regexp '^removed 2 runs that ended, created more than 0s ago, and their [0-9]+ events$'
	for e in "$q1" "$q2"; do
		assert_equal "$(sql "SELECT count(*) FROM executions WHERE id = '$e'")" 0
		for t in run_tasks task_executions task_logs events; do
			assert_equal "$(count $t "$e")" 0
		done
	done
	run "$LOOM_BIN/loom" execution show "$q1"
	assert_failure 4
	# the other workflow's run and the run still going stay; so do the
	# workflows
	assert_equal "$(sql "SELECT count(*) FROM executions WHERE id IN ('$o1', '$s1')")" 2
	[ "$(count run_tasks "$s1")" -eq 1 ]
	assert_equal "$(sql "SELECT count(*) FROM workflows WHERE id LIKE 'prune-%'")" 3

	# every workflow's: the running one stays
	run --separate-stderr "$LOOM_BIN/loom" db prune --older-than 0s -o json
	assert_success
	assert_equal "$(jq .runs <<<"$output")" 1
	assert_equal "$(sql "SELECT id FROM executions WHERE workflow_id LIKE 'prune-%'")" "$s1"
	curl -sS -X POST "$LOOM_API/api/v1/executions/$s1/cancel" >/dev/null
	finished "$s1" >/dev/null
}

@test "prune without a duration, with a bad one, or its options elsewhere is a usage error" {
	run --separate-stderr "$LOOM_BIN/loom" db prune
	assert_failure 2
	[[ "$stderr" == *"--older-than is required"* ]]
	run --separate-stderr "$LOOM_BIN/loom" db prune --older-than soon
	assert_failure 2
	[[ "$stderr" == *"--older-than 'soon'"* ]]
	run --separate-stderr "$LOOM_BIN/loom" db status --dry-run
	assert_failure 2
	[[ "$stderr" == *"are for prune"* ]]
	run --separate-stderr "$LOOM_BIN/loom" db prune --older-than 1d --db "postgresql://bob:hunter2@127.0.0.1:1/x"
	assert_failure 3
	[[ "$stderr" != *hunter2* ]]
}
