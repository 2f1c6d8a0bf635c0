#!/usr/bin/env bats
# Shell tasks' processes and environment under the database-mode executor:
# they die with loom-exec (even by SIGKILL, grandchildren included, so the
# attempt's re-run never runs beside them), they get a clean environment
# (no database URL, no signing secret; exec.pass_env passes what it
# names), and the callback token of their stdin envelope stays out of the
# stored logs.  loom-exec(8): SHELL TASKS, Environment of tasks, Task
# processes.

bats_require_minimum_version 1.5.0

load helpers

setup_file() {
	loom_pg_start
	export LOOM_EXEC_LEASE=2s
}

teardown_file() {
	loom_stop_all
}

setup() {
	WF=$BATS_TEST_TMPDIR/wf.yaml
	MARK=loom-procs-$$-$RANDOM
	loom_api_start
	loom_daemon_start loom-engine
}

teardown() {
	[ -n "${BATS_TEST_COMPLETED:-}" ] || loom_show_logs
	loom_daemons_stop
	loom_api_stop
	# what a failed test left behind, by pid
	pgrep -f "$MARK" | xargs -r kill -KILL 2>/dev/null || true
}

# kill9 PID: SIGKILL, and wait until it is gone (it is our child).
kill9() {
	{ kill -KILL "$1" && wait "$1"; } 2>/dev/null || true
}

# stored EXEC: every stored row of the run a read token may see (task
# logs, attempts, events) and what the API serves, as text
stored() {
	sql "SELECT t::text FROM task_logs t WHERE execution_id = '$1'"
	sql "SELECT t::text FROM task_executions t WHERE execution_id = '$1'"
	sql "SELECT t::text FROM events t WHERE execution_id = '$1'"
	curl -sS "$LOOM_API/api/v1/executions/$1/logs"
	curl -sS "$LOOM_API/api/v1/executions/$1"
}

@test "kill -9 of loom-exec: nothing of its shell task is left, and the re-run does not overlap it" {
	local dir=$BATS_TEST_TMPDIR marks=$BATS_TEST_TMPDIR/marks
	# The first run starts a grandchild (a loop in its own sh, which
	# PR_SET_PDEATHSIG of the task's first process does not reach) and
	# waits; the re-run writes how many processes of the first are still
	# there, and ends.
	cat >"$dir/$MARK-grandchild.sh" <<'EOF'
while :; do sleep 1; done
EOF
	cat >"$dir/$MARK-task.sh" <<EOF
alive() {
	[ "\$(awk '{ print \$3 }' /proc/\$1/stat 2>/dev/null)" != "" ] &&
	    [ "\$(awk '{ print \$3 }' /proc/\$1/stat 2>/dev/null)" != Z ]
}
if grep -q '^start' "$marks" 2>/dev/null; then
	left=0
	for p in \$(cat "$dir/pids"); do
		if alive "\$p"; then left=\$((left + 1)); fi
	done
	echo "start \$LOOM_ATTEMPT left=\$left" >>"$marks"
	exit 0
fi
echo \$\$ >"$dir/pids"
/bin/sh "$dir/$MARK-grandchild.sh" &
echo \$! >>"$dir/pids"
echo "start \$LOOM_ATTEMPT first" >>"$marks"
wait
EOF
	cat >"$WF" <<EOF
id: procs-kill
tasks:
  - id: long
    type: shell
    command: [/bin/sh, "$dir/$MARK-task.sh"]
    timeout: 10m
EOF
	apply "$WF"
	LOOM_EXEC_NAME=procs-a loom_daemon_start loom-exec
	apid=$LOOM_DAEMON_PID
	E=$(trigger procs-kill)
	wait_for -t 30 grep -q first "$marks"
	assert_equal "$(pgrep -f "$MARK" | wc -l)" 2

	kill9 "$apid"
	# another executor takes the attempt over once the lease (2s) expires
	LOOM_EXEC_NAME=procs-b loom_daemon_start loom-exec
	ex=$(finished "$E")
	assert_equal "$(jq -r .status <<<"$ex")" SUCCESS
	# the same attempt ran twice, the second time with nothing of the
	# first left
	run cat "$marks"
	assert_output "start 1 first
start 1 left=0"
	assert_equal "$(sql "SELECT executor FROM task_executions
	    WHERE execution_id = '$E' AND status = 'SUCCESS'")" procs-b
	run pgrep -f "$MARK"
	assert_failure 1
}

@test "a shell task's environment has neither the signing secret nor the database URL; exec.pass_env passes what it names" {
	local secret=s3cret-$RANDOM-$RANDOM
	cat >"$WF" <<EOF
id: procs-env
signing: {secretEnv: LOOM_PROCS_SECRET}
tasks:
  - id: show
    type: shell
    command: "env; jq -n env >\"\$LOOM_OUTPUT\""
    env: {OWN: mine}
EOF
	apply "$WF"
	LOOM_PROCS_SECRET=$secret LOOM_PROCS_PASSED=passed-$MARK \
	    LOOM_EXEC_PASS_ENV="LOOM_PROCS_PASSED, NOT_SET_ANYWHERE" \
	    loom_daemon_start loom-exec
	E=$(trigger procs-env)
	ex=$(finished "$E")
	assert_equal "$(jq -r .status <<<"$ex")" SUCCESS
	out=$(sql "SELECT output FROM task_executions
	    WHERE execution_id = '$E'")
	# what it names, and what every task gets, is there
	jq -e --arg p "passed-$MARK" '.LOOM_PROCS_PASSED == $p and
	    .OWN == "mine" and .LOOM_TASK_ID == "show" and
	    (.PATH | length > 0) and has("NOT_SET_ANYWHERE") == false' \
	    <<<"$out"
	# the env lines were logged, and nothing else of the executor's
	stored "$E" >"$BATS_TEST_TMPDIR/stored"
	grep -q "LOOM_PROCS_PASSED=passed-$MARK" "$BATS_TEST_TMPDIR/stored"
	run grep -c -e "$secret" -e "$LOOM_DATABASE_URL" \
	    -e LOOM_PROCS_SECRET= -e LOOM_DATABASE_URL= -e LOOM_EXEC_PASS_ENV= \
	    -e LOOM_CONFIG= "$BATS_TEST_TMPDIR/stored"
	assert_output 0
	assert_equal "$(jq -r 'keys | map(select(startswith("LOOM_"))) |
	    join(" ")' <<<"$out")" \
	    "LOOM_ATTEMPT LOOM_EXECUTION_ID LOOM_OUTPUT LOOM_PROCS_PASSED LOOM_TASK_ID LOOM_TIMEOUT_MS LOOM_TRACEPARENT"
}

@test "the callback token in a shell task's stdin is redacted from its stored logs and output" {
	cat >"$WF" <<EOF
id: procs-token
tasks:
  - id: echo
    type: shell
    command: "tee /dev/stderr"
EOF
	apply "$WF"
	LOOM_EXEC_CALLBACK_URL=http://127.0.0.1:9/ loom_daemon_start loom-exec
	E=$(trigger procs-token)
	ex=$(finished "$E")
	assert_equal "$(jq -r .status <<<"$ex")" SUCCESS
	stored "$E" >"$BATS_TEST_TMPDIR/stored"
	# the envelope was echoed on both streams, its URL without the token
	assert_equal "$(sql "SELECT count(*) FROM task_logs WHERE
	    execution_id = '$E' AND line LIKE
	    '%\"callbackUrl\":\"http://127.0.0.1:9/api/v1/callbacks/[redacted]\"%'")" 2
	assert_equal "$(sql "SELECT output->>'callbackUrl' FROM task_executions
	    WHERE execution_id = '$E'")" \
	    "http://127.0.0.1:9/api/v1/callbacks/[redacted]"
	# a token is the run, the task and 64 hex digits
	run grep -cE "$E~echo~|[0-9a-f]{64}" "$BATS_TEST_TMPDIR/stored"
	assert_output 0
}

@test "loom-exec@.service kills the unit's whole control group" {
	run grep -x 'KillMode=[a-z-]*' \
	    "$BATS_TEST_DIRNAME/../systemd/loom-exec@.service.in"
	assert_output KillMode=control-group
}
