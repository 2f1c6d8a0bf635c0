#!/usr/bin/env bats
# Shell tasks' processes under the database-mode executor: they die with
# loom-exec (even by SIGKILL, grandchildren included, so the attempt's
# re-run never runs beside them).  loom-exec(8): Task processes.

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

@test "loom-exec@.service kills the unit's whole control group" {
	run grep -x 'KillMode=[a-z-]*' \
	    "$BATS_TEST_DIRNAME/../systemd/loom-exec@.service"
	assert_output KillMode=control-group
}
