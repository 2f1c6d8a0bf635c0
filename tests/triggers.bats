#!/usr/bin/env bats
# Event triggers of loom-sched, end to end: a NOTIFY loom_trigger message
# sent with psql, a row inserted into trigger_queue (the message that is
# not lost while no scheduler listens), a file trigger (inotify) and a
# debounced burst of 50 file events, each starting a run with the right
# input; a malformed message is counted, not fatal; delay; two schedulers
# watching one directory make one run of a file event.

bats_require_minimum_version 1.5.0

load helpers

setup_file() {
	loom_pg_start
	loom_api_start
	loom_daemon_start loom-engine
	loom_daemon_start loom-exec
	export INBOX=$LOOM_TEST_DIR/inbox
	mkdir -p "$INBOX"
	export LOOM_SCHED_FILE_ROOTS=$LOOM_TEST_DIR
	loom_daemon_start loom-sched
	echo "$LOOM_DAEMON_PID" >"$LOOM_TEST_DIR/sched.pid"
}

teardown_file() {
	loom_stop_all
}

teardown() {
	[ -z "${BATS_TEST_COMPLETED:-}" ] || return 0
	loom_show_logs
}

# grep -q PATTERN over the logs of every loom-sched started
sched_logged() { cat "$LOOM_TEST_DIR"/loom-sched.*.log | grep -q "$1"; }

# the params of WF's newest run, once there are N runs
runs_of() { sql "SELECT count(*) FROM executions WHERE workflow_id = '$1'"; }
has_runs() { [ "$(runs_of "$1")" -ge "$2" ]; }
last_params() { sql "SELECT params FROM executions WHERE workflow_id = '$1' ORDER BY created_at DESC LIMIT 1"; }

@test "NOTIFY loom_trigger from psql starts a run with the message's input" {
	printf 'id: t-msg\nparams: {day: none}\ntasks:\n  - id: a\n    command: "true"\n' >"$BATS_TEST_TMPDIR/w.yaml"
	apply "$BATS_TEST_TMPDIR/w.yaml"
	psql -X -q "$LOOM_DATABASE_URL" -c "NOTIFY loom_trigger, '{\"workflow\":\"t-msg\",\"input\":{\"day\":\"2026-12-07\"}}'"
	wait_for -t 20 has_runs t-msg 1
	last_params t-msg | jq -e '.day == "2026-12-07"'
	assert_equal "$(sql "SELECT trigger FROM executions WHERE workflow_id = 't-msg'")" message
	id=$(sql "SELECT id FROM executions WHERE workflow_id = 't-msg'")
	finished "$id" | jq -e '.status == "SUCCESS"'
}

@test "a malformed message is logged and counted, and the next one still works" {
	psql -X -q "$LOOM_DATABASE_URL" -c "NOTIFY loom_trigger, 'not json'"
	psql -X -q "$LOOM_DATABASE_URL" -c "NOTIFY loom_trigger, '{\"workflow\":42}'"
	wait_for -t 20 sched_logged "malformed message (2 so far)"
	psql -X -q "$LOOM_DATABASE_URL" -c "NOTIFY loom_trigger, '{\"workflow\":\"t-msg\",\"input\":{\"day\":\"again\"}}'"
	wait_for -t 20 has_runs t-msg 2
	last_params t-msg | jq -e '.day == "again"'
	# an input the workflow refuses is dropped with its reason
	psql -X -q "$LOOM_DATABASE_URL" -c "NOTIFY loom_trigger, '{\"workflow\":\"t-msg\",\"input\":{\"nope\":1}}'"
	wait_for -t 20 sched_logged "message trigger of t-msg: input refused, dropped: unknown param 'nope'"
}

@test "a row in trigger_queue starts a run, also one inserted while no scheduler ran" {
	printf 'id: t-row\ntasks:\n  - id: a\n    command: "true"\n' >"$BATS_TEST_TMPDIR/w.yaml"
	apply "$BATS_TEST_TMPDIR/w.yaml"
	sql "INSERT INTO trigger_queue (workflow, input) VALUES ('t-row', '{\"n\": 1}')"
	wait_for -t 20 has_runs t-row 1
	last_params t-row | jq -e '.n == 1'
	# with every scheduler stopped, a NOTIFY would be lost; a row is not
	# this file's scheduler (other files run theirs at the same time)
	loom_daemon_stop "$(cat "$LOOM_TEST_DIR/sched.pid")"
	sql "INSERT INTO trigger_queue (workflow, input) VALUES ('t-row', '{\"n\": 2}')"
	loom_daemon_start loom-sched
	echo "$LOOM_DAEMON_PID" >"$LOOM_TEST_DIR/sched.pid"
	wait_for -t 20 has_runs t-row 2
	last_params t-row | jq -e '.n == 2'
	assert_equal "$(sql "SELECT count(*) FROM trigger_queue")" 0
}

@test "a message trigger's delay holds the run back" {
	printf 'id: t-delay\ntriggers:\n  - message: {}\n    delay: 2s\ntasks:\n  - id: a\n    command: "true"\n' >"$BATS_TEST_TMPDIR/w.yaml"
	apply "$BATS_TEST_TMPDIR/w.yaml"
	t0=$(date +%s.%N)
	psql -X -q "$LOOM_DATABASE_URL" -c "NOTIFY loom_trigger, '{\"workflow\":\"t-delay\"}'"
	wait_for -t 20 has_runs t-delay 1
	# made no sooner than 2 s after the message
	assert_equal "$(sql "SELECT extract(epoch FROM created_at) - $t0 >= 1.9 FROM executions WHERE workflow_id = 't-delay'")" t
	assert_equal "$(sql "SELECT count(*) FROM executions WHERE workflow_id = 't-delay'")" 1
}

@test "a file trigger starts a run with the file's path; /etc is refused" {
	cat >"$BATS_TEST_TMPDIR/w.yaml" <<EOF
id: t-file
triggers:
  - file: {path: "$INBOX/*.csv", events: [close_write, moved_to]}
tasks:
  - id: a
    command: "true"
EOF
	apply "$BATS_TEST_TMPDIR/w.yaml"
	wait_for -t 20 sched_logged "workflow t-file: watching $INBOX/\*.csv"
	echo "a,b" >"$INBOX/orders.csv"
	echo "not a csv" >"$INBOX/notes.txt"
	wait_for -t 20 has_runs t-file 1
	last_params t-file | jq -e --arg p "$INBOX/orders.csv" '.file.path == $p and .file.event == "close_write"'
	# a file moved in counts too
	echo x >"$LOOM_TEST_DIR/tmp.csv"
	mv "$LOOM_TEST_DIR/tmp.csv" "$INBOX/moved.csv"
	wait_for -t 20 has_runs t-file 2
	last_params t-file | jq -e '.file.event == "moved_to" and (.file.path | endswith("/moved.csv"))'
	assert_equal "$(runs_of t-file)" 2
	# a workflow cannot watch a directory outside sched.file_roots
	printf 'id: t-etc\ntriggers:\n  - file: {path: /etc/*.conf}\ntasks:\n  - id: a\n    command: "true"\n' >"$BATS_TEST_TMPDIR/e.yaml"
	apply "$BATS_TEST_TMPDIR/e.yaml"
	wait_for -t 20 sched_logged "workflow t-etc: file trigger /etc/\*.conf not watched: its directory is not under sched.file_roots"
}

@test "debounce: a burst of 50 file events makes one run that lists them" {
	mkdir -p "$INBOX/burst"
	cat >"$BATS_TEST_TMPDIR/w.yaml" <<EOF
id: t-burst
triggers:
  - file: {path: "$INBOX/burst/*"}
    debounce: 2s
tasks:
  - id: a
    command: "true"
EOF
	apply "$BATS_TEST_TMPDIR/w.yaml"
	wait_for -t 20 sched_logged "workflow t-burst: watching"
	for i in $(seq 50); do echo "$i" >"$INBOX/burst/f$i"; done
	wait_for -t 30 has_runs t-burst 1
	# quiet for the debounce, then one run
	p=$(last_params t-burst)
	jq -e '.file.events | length == 50' <<<"$p"
	jq -e '.file.count == 50' <<<"$p"
	jq -e '[.file.events[].path] | unique | length == 50' <<<"$p"
	assert_equal "$(sql "SELECT count(*) FROM trigger_queue")" 0
	assert_equal "$(runs_of t-burst)" 1
}

# sched_ctl LOG: the control socket of the loom-sched whose log is LOG
# (loom_daemon_start names the Nth loom-NAME.N.log and loom-NAME-N.sock)
sched_ctl() {
	local n=${1%.log}
	n=${n##*.}
	if [ "$n" = 1 ]; then
		echo "$LOOM_CONTROL_DIR/loom-sched.sock"
	else
		echo "$LOOM_CONTROL_DIR/loom-sched-$n.sock"
	fi
}

# file_events_at_least SOCKET N: that loom-sched has handled N file events
# (it queues each one before it answers anything else)
file_events_at_least() {
	local n
	n=$(printf '{"v":1,"t":"status"}\n' |
	    timeout 10 socat -t 5 - "UNIX-CONNECT:$1" | jq -r .file_events)
	[ "${n:-0}" -ge "$2" ]
}

# settled WF: nothing of WF left in trigger_queue
settled() {
	[ "$(sql "SELECT count(*) FROM trigger_queue WHERE workflow = '$1'")" = 0 ]
}

@test "two schedulers watching one directory: one file event is one run, and still one with one of them killed" {
	local a b sa sb la lb
	mkdir -p "$INBOX/dup"
	cat >"$BATS_TEST_TMPDIR/w.yaml" <<EOF
id: t-dup
triggers:
  - file: {path: "$INBOX/dup/*.csv"}
tasks:
  - id: a
    command: "true"
EOF
	# this file's scheduler makes way for two of this test's own
	loom_daemon_stop "$(cat "$LOOM_TEST_DIR/sched.pid")"
	loom_daemon_start loom-sched
	a=$LOOM_DAEMON_PID la=$LOOM_DAEMON_LOG sa=$(sched_ctl "$LOOM_DAEMON_LOG")
	loom_daemon_start loom-sched
	b=$LOOM_DAEMON_PID lb=$LOOM_DAEMON_LOG sb=$(sched_ctl "$LOOM_DAEMON_LOG")
	echo "$b" >"$LOOM_TEST_DIR/sched.pid"
	apply "$BATS_TEST_TMPDIR/w.yaml"
	wait_for -t 20 grep -q "workflow t-dup: watching" "$la"
	wait_for -t 20 grep -q "workflow t-dup: watching" "$lb"
	echo "a,b" >"$INBOX/dup/one.csv"
	# both saw it and queued it (or found it queued) ...
	wait_for -t 20 file_events_at_least "$sa" 1
	wait_for -t 20 file_events_at_least "$sb" 1
	# ... and it became one run
	wait_for -t 20 has_runs t-dup 1
	wait_for -t 20 settled t-dup
	assert_equal "$(runs_of t-dup)" 1
	last_params t-dup | jq -e --arg p "$INBOX/dup/one.csv" '.file.path == $p and .file.count == 1'
	# one scheduler dies; the other alone still starts one run per file
	kill -KILL "$a"
	timeout 30 tail --pid="$a" -f /dev/null 3>&-
	echo "c,d" >"$INBOX/dup/two.csv"
	wait_for -t 20 file_events_at_least "$sb" 2
	wait_for -t 20 has_runs t-dup 2
	wait_for -t 20 settled t-dup
	assert_equal "$(runs_of t-dup)" 2
	last_params t-dup | jq -e '.file.path | endswith("/dup/two.csv")'
	# the same file written again is a new event
	echo "e,f" >>"$INBOX/dup/two.csv"
	wait_for -t 20 file_events_at_least "$sb" 3
	wait_for -t 20 has_runs t-dup 3
	wait_for -t 20 settled t-dup
	assert_equal "$(runs_of t-dup)" 3
}

@test "a paused workflow's messages are logged and dropped" {
	n=$(runs_of t-msg)
	curl -sSf -X POST "$LOOM_API/api/v1/workflows/t-msg/pause" >/dev/null
	psql -X -q "$LOOM_DATABASE_URL" -c "NOTIFY loom_trigger, '{\"workflow\":\"t-msg\",\"input\":{\"day\":\"paused\"}}'"
	wait_for -t 20 sched_logged "message trigger of t-msg (1 event): paused"
	assert_equal "$(runs_of t-msg)" "$n"
	assert_equal "$(sql "SELECT count(*) FROM trigger_queue")" 0
	curl -sSf -X POST "$LOOM_API/api/v1/workflows/t-msg/unpause" >/dev/null
}
