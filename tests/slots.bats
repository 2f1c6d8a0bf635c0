#!/usr/bin/env bats
# loom-exec's slots (loom-exec(8), "Slots"): without exec.concurrency or
# -j they adapt, from 64 up to 512, to the tasks finished in the last
# 100 ms: a fan-out of quick HTTP tasks grows them, slow tasks keep 64
# (no more tasks claimed than the backend's connections get through in
# about that long); with exec.concurrency or -j given they are that
# many, always.  Read from the control socket's status (slots, slots_max,
# slots_peak) after real runs against the test backend.

bats_require_minimum_version 1.5.0

load helpers

setup_file() {
	loom_pg_start
	loom_backend_start
	mkdir -p "$LOOM_CONTROL_DIR"
	export LOOM_LOGD_SOCKET=$LOOM_CONTROL_DIR/log.sock # none: the database
	loom_api_start
	loom_daemon_start loom-engine
	export B=$BACKEND_URL/api/tasks
}

teardown_file() {
	loom_stop_all
}

setup() {
	set -o pipefail
	WF=$BATS_TEST_TMPDIR/wf.yaml
}

teardown() {
	[ -z "${BATS_TEST_COMPLETED:-}" ] || return 0
	loom_show_logs
}

# status: the status line of the executor running (one at a time; the
# Nth started answers on loom-exec-N.sock).
status() {
	local s=("$LOOM_CONTROL_DIR"/loom-exec*.sock)
	[ "${#s[@]}" -eq 1 ] || return 1
	printf '%s\n' '{"v":1,"t":"status"}' |
	    timeout 20 socat -t 5 - "UNIX-CONNECT:${s[0]}"
}

# slots_are N: the executor has N slots now.
slots_are() {
	status | jq -e --argjson n "$1" '.slots == $n' >/dev/null
}

# fan ID N URL: a workflow of N independent HTTP tasks calling URL.
fan() {
	{
		printf 'id: %s\ntasks:\n' "$1"
		for ((i = 0; i < $2; i++)); do
			printf '  - id: t%d\n    url: %s\n    timeout: 1m\n' \
			    "$i" "$3"
		done
	} >"$WF"
	apply "$WF"
}

@test "default slots: slow tasks keep 64 of them, quick ones grow them up to 512" {
	loom_daemon_start loom-exec
	status | jq -e '.slots == 64 and .slots_max == 512 and
	    .slots_peak == 64'
	grep -q 'ready as .*: 64 to 512 slots' "$LOOM_DAEMON_LOG"

	# 200 ms a task over 16 connections: at most 80 tasks a second, 8
	# in a window: the slots stay at their fewest
	fan slow 150 "$B/slow?sleep=200"
	E=$(trigger slow)
	ex=$(finished "$E")
	all_succeeded "$ex" 150
	status | jq -e '.slots == 64 and .slots_peak == 64'

	# 3,000 quick tasks: hundreds finish in 100 ms, the slots follow
	fan quick 3000 "$B/quick"
	E=$(trigger quick)
	ex=$(finished "$E")
	all_succeeded "$ex" 3000
	run -0 status
	echo "# after 3,000 quick tasks: $(jq -c '{slots, slots_peak}' \
	    <<<"$output")" >&3
	jq -e '.slots_peak > 64 and .slots_peak <= 512 and .running == 0' \
	    <<<"$output"
	# idle, they fall back to 64 (halved every 100 ms without work)
	wait_for -t 5 slots_are 64
	loom_daemon_stop "$LOOM_DAEMON_PID"
}

@test "-j and exec.concurrency fix the slots: a fan-out of quick tasks keeps them" {
	loom_daemon_start loom-exec -j 8
	status | jq -e '.slots == 8 and .slots_max == 8 and .slots_peak == 8'
	grep -q 'ready as .*: 8 slots' "$LOOM_DAEMON_LOG"
	fan fixed 500 "$B/quick"
	E=$(trigger fixed)
	all_succeeded "$(finished "$E")" 500
	status | jq -e '.slots == 8 and .slots_peak == 8'
	loom_daemon_stop "$LOOM_DAEMON_PID"

	LOOM_EXEC_CONCURRENCY=100 loom_daemon_start loom-exec
	E=$(trigger fixed)
	all_succeeded "$(finished "$E")" 500
	status | jq -e '.slots == 100 and .slots_max == 100 and
	    .slots_peak == 100'
	loom_daemon_stop "$LOOM_DAEMON_PID"
}
