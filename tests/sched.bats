#!/usr/bin/env bats
# loom-sched end to end: schedules with a seconds field (no fake clock)
# fire on time and carry their nominal times; several schedulers make
# exactly one run per fire while one is killed and another stopped;
# catch-up none / latest / all after the scheduler was down across fires;
# pauseOnFailure; jitter; doorbells; an idle scheduler does not wake up.
# The real daemons run against a throwaway PostgreSQL cluster.  Waits are
# on conditions; the only sleeps are the downtime a catch-up test needs.

bats_require_minimum_version 1.5.0

load helpers

setup_file() {
	loom_pg_start
	loom_api_start
	loom_daemon_start loom-engine
	loom_daemon_start loom-exec
}

teardown_file() {
	loom_stop_all
}

teardown() {
	[ -z "${BATS_TEST_COMPLETED:-}" ] || return 0
	loom_show_logs
	sql "SELECT workflow_id, nominal_at, outcome FROM schedule_fires ORDER BY 1, 2" | tail -40
}

# wf ID SCHEDULE [EXTRA-YAML]: a workflow with one quick shell task.
wf() {
	local f=$BATS_TEST_TMPDIR/$1.yaml
	printf 'id: %s\nschedule: "%s"\n%s\ntasks:\n  - id: a\n    command: "true"\n' \
	    "$1" "$2" "${3:-}" >"$f"
	apply "$f"
}

pause() { curl -sSf -X POST "$LOOM_API/api/v1/workflows/$1/pause" >/dev/null; }

# nominal times (epoch seconds) of WF's scheduled runs, oldest first
nominals() { sql "SELECT extract(epoch FROM scheduled_at)::bigint FROM executions WHERE workflow_id = '$1' AND trigger = 'schedule' ORDER BY scheduled_at"; }

runs_at_least() { [ "$(sql "SELECT count(*) FROM executions WHERE workflow_id = '$1'")" -ge "$2" ]; }

# the nominal times of WF are every second second, no gap, no double
contiguous() {
	local prev= t
	while read -r t; do
		if [ -n "$prev" ] && [ $((t - prev)) -ne 2 ]; then
			echo "gap or double between $prev and $t"
			return 1
		fi
		prev=$t
	done < <(nominals "$1")
}

@test "a */2-second schedule fires on time, and each run carries its nominal time" {
	wf s-on "*/2 * * * * *"
	loom_daemon_start loom-sched
	wait_for -t 30 runs_at_least s-on 3
	pause s-on
	loom_daemon_stop "$LOOM_DAEMON_PID"
	run contiguous s-on
	assert_success
	# nominal times are even seconds; each run was made within a second
	# or two of its time (generous for a busy machine)
	assert_equal "$(sql "SELECT count(*) FROM executions WHERE workflow_id = 's-on' AND (extract(second FROM scheduled_at)::int % 2 <> 0 OR created_at - scheduled_at > interval '3 s' OR created_at < scheduled_at)")" 0
	assert_equal "$(sql "SELECT DISTINCT trigger FROM executions WHERE workflow_id = 's-on'")" schedule
	# every fire is recorded once, with its run
	assert_equal "$(sql "SELECT count(*) FROM schedule_fires f JOIN executions e ON e.id = f.execution_id WHERE f.workflow_id = 's-on'")" \
	    "$(sql "SELECT count(*) FROM executions WHERE workflow_id = 's-on'")"
}

@test "three schedulers over a minute, one killed -9 and one stopped and resumed: exactly one run per fire" {
	wf s-ha "*/2 * * * * *" "catchup: all"
	loom_daemon_start loom-sched
	a=$LOOM_DAEMON_PID
	loom_daemon_start loom-sched
	b=$LOOM_DAEMON_PID
	loom_daemon_start loom-sched
	c=$LOOM_DAEMON_PID
	wait_for -t 30 runs_at_least s-ha 6
	kill -KILL "$a"
	wait_for -t 30 runs_at_least s-ha 14
	kill -STOP "$b"
	wait_for -t 30 runs_at_least s-ha 22
	kill -CONT "$b"
	wait_for -t 30 runs_at_least s-ha 31
	pause s-ha
	loom_daemon_stop "$b"
	loom_daemon_stop "$c"
	run contiguous s-ha
	assert_success
	n=$(nominals s-ha | wc -l)
	[ "$n" -ge 31 ]  # a minute of fires
	# one run per nominal time, and every fire record has its run
	assert_equal "$(sql "SELECT count(DISTINCT scheduled_at) FROM executions WHERE workflow_id = 's-ha'")" "$n"
	assert_equal "$(sql "SELECT count(*) FROM schedule_fires WHERE workflow_id = 's-ha' AND outcome = 'started'")" "$n"
}

@test "catch-up none, latest and all after the scheduler was down across fires" {
	export LOOM_SCHED_MISFIRE_GRACE=1s
	wf c-none "*/2 * * * * *" "catchup: none"
	wf c-latest "*/2 * * * * *" "catchup: latest"
	wf c-all "*/2 * * * * *" "catchup: all"
	loom_daemon_start loom-sched
	wait_for -t 30 runs_at_least c-none 1
	wait_for -t 30 runs_at_least c-latest 1
	wait_for -t 30 runs_at_least c-all 1
	loom_daemon_stop "$LOOM_DAEMON_PID"
	down=$(date +%s.%N)
	# down for 8 seconds: about four fires of each are missed
	sleep 8
	up=$(date +%s.%N)
	loom_daemon_start loom-sched
	# once each has fired on time again, the catch-up is behind it
	for w in c-none c-latest c-all; do
		wait_for -t 30 eval "[ \$(sql \"SELECT count(*) FROM executions WHERE workflow_id = '$w' AND scheduled_at > to_timestamp($up + 1)\") -ge 1 ]"
	done
	loom_daemon_stop "$LOOM_DAEMON_PID"
	unset LOOM_SCHED_MISFIRE_GRACE
	for w in c-none c-latest c-all; do pause "$w"; done
	# the fires surely missed: after the last run before the stop, up to
	# a second and a half before the restart
	missed() { sql "SELECT count(*) FROM executions WHERE workflow_id = '$1' AND scheduled_at > (SELECT max(scheduled_at) FROM executions WHERE workflow_id = '$1' AND created_at < to_timestamp($down)) AND scheduled_at <= to_timestamp($up) - interval '1.5 s'"; }
	assert_equal "$(missed c-none)" 0
	# all: every missed fire ran (no gap at all)
	run contiguous c-all
	assert_success
	[ "$(missed c-all)" -ge 3 ]
	# latest: one run for the newest missed fire, none for older ones
	[ "$(missed c-latest)" -le 1 ]
	run contiguous c-latest
	assert_failure
	# what was dropped is an event of the workflow
	[ "$(sql "SELECT (data->>'count')::int FROM events WHERE kind = 'workflow' AND data->>'workflow' = 'c-none' AND data->>'action' = 'missed'")" -ge 3 ]
	assert_equal "$(sql "SELECT count(*) FROM events WHERE kind = 'workflow' AND data->>'workflow' = 'c-all' AND data->>'action' = 'missed'")" 0
}

@test "a scheduler stopped with SIGSTOP and resumed: the late fires go by the catch-up policy" {
	export LOOM_SCHED_MISFIRE_GRACE=1s
	wf s-stop "*/2 * * * * *" "catchup: none"
	loom_daemon_start loom-sched
	pid=$LOOM_DAEMON_PID
	wait_for -t 30 runs_at_least s-stop 1
	kill -STOP "$pid"
	stopped=$(date +%s.%N)
	sleep 7
	resumed=$(date +%s.%N)
	kill -CONT "$pid"
	wait_for -t 30 eval "[ \$(sql \"SELECT count(*) FROM executions WHERE workflow_id = 's-stop' AND scheduled_at > to_timestamp($resumed)\") -ge 1 ]"
	pause s-stop
	loom_daemon_stop "$pid"
	unset LOOM_SCHED_MISFIRE_GRACE
	# it noticed, and the fires of the stop were not run (catchup: none)
	grep -q "woke [0-9]* ms after the fire was due" "$LOOM_DAEMON_LOG"
	assert_equal "$(sql "SELECT count(*) FROM executions WHERE workflow_id = 's-stop' AND scheduled_at > to_timestamp($stopped) + interval '0.5 s' AND scheduled_at < to_timestamp($resumed) - interval '1.5 s'")" 0
	[ "$(sql "SELECT (data->>'count')::int FROM events WHERE kind = 'workflow' AND data->>'workflow' = 's-stop' AND data->>'action' = 'missed'")" -ge 2 ]
}

@test "pauseOnFailure: a failed run pauses the workflow and its schedule" {
	f=$BATS_TEST_TMPDIR/p.yaml
	printf 'id: s-pof\nschedule: "*/2 * * * * *"\npauseOnFailure: true\ntasks:\n  - id: a\n    command: "exit 3"\n    maxAttempts: 1\n' >"$f"
	apply "$f"
	loom_daemon_start loom-sched
	wait_for -t 30 eval '[ "$(sql "SELECT paused FROM workflows WHERE id = '"'s-pof'"'")" = t ]'
	n=$(sql "SELECT count(*) FROM executions WHERE workflow_id = 's-pof'")
	assert_equal "$(sql "SELECT data->>'reason' FROM events WHERE kind = 'workflow' AND data->>'workflow' = 's-pof' AND data->>'action' = 'paused'")" pauseOnFailure
	# no fire while paused (the next fire has long come and gone)
	t=$(($(date +%s) + 3))
	wait_for -t 10 eval '[ $(date +%s) -ge '$t' ]'
	[ "$(sql "SELECT count(*) FROM executions WHERE workflow_id = 's-pof'")" -le $((n + 1)) ]
	loom_daemon_stop "$LOOM_DAEMON_PID"
}

@test "unpausing is a doorbell: fires resume at once, from now on" {
	wf s-bell "*/2 * * * * *" "catchup: all"
	pause s-bell
	loom_daemon_start loom-sched
	t=$(date +%s)
	curl -sSf -X POST "$LOOM_API/api/v1/workflows/s-bell/unpause" >/dev/null
	wait_for -t 10 runs_at_least s-bell 1
	# nothing from before the unpause is made up for
	assert_equal "$(sql "SELECT count(*) FROM executions WHERE workflow_id = 's-bell' AND scheduled_at < to_timestamp($t)")" 0
	pause s-bell
	loom_daemon_stop "$LOOM_DAEMON_PID"
}

@test "jitter delays each start by up to the jitter, the same fire by the same amount" {
	wf s-jit "*/2 * * * * *" "jitter: 1500ms"
	loom_daemon_start loom-sched
	wait_for -t 40 runs_at_least s-jit 6
	pause s-jit
	loom_daemon_stop "$LOOM_DAEMON_PID"
	assert_equal "$(sql "SELECT count(*) FROM executions WHERE workflow_id = 's-jit' AND (created_at < scheduled_at OR created_at > scheduled_at + interval '3.5 s')")" 0
	# the delays differ from fire to fire
	[ "$(sql "SELECT count(DISTINCT round(extract(epoch FROM created_at - scheduled_at) * 10)) FROM executions WHERE workflow_id = 's-jit'")" -ge 2 ]
}

# voluntary context switches of PID: one per wake-up of a sleeping process
ctxt() { awk '/^voluntary_ctxt_switches/ {print $2}' "/proc/$1/status"; }

@test "an idle scheduler does not wake up: 10 s with the next fire far away" {
	wf s-idle "0 0 1 1 *"
	loom_daemon_start loom-sched
	pid=$LOOM_DAEMON_PID
	# settled: a whole second without a wake-up (the loop trims memory
	# once, a second after its last work)
	settled() {
		local a b
		a=$(ctxt "$pid")
		sleep 1.2
		b=$(ctxt "$pid")
		[ "$a" = "$b" ]
	}
	wait_for -t 20 settled
	before=$(ctxt "$pid")
	sleep 10
	after=$(ctxt "$pid")
	echo "wake-ups in 10 s: $((after - before))"
	assert_equal "$((after - before))" 0
	loom_daemon_stop "$pid"
}

@test "loom-sched -n checks the configuration and every stored schedule" {
	wf s-check "*/5 * * * *"
	run "$LOOM_BIN/loom-sched" -n
	assert_success
	assert_output --partial "configuration ok"
	f=$BATS_TEST_TMPDIR/ft.yaml
	printf 'id: s-file-etc\ntriggers:\n  - file: {path: /etc/*.conf}\ntasks:\n  - id: a\n    command: "true"\n' >"$f"
	apply "$f"
	run "$LOOM_BIN/loom-sched" -n
	assert_failure 1
	assert_output --partial "s-file-etc: file trigger /etc/*.conf: its directory is missing or not under sched.file_roots"
	curl -sSf -X DELETE "$LOOM_API/api/v1/workflows/s-file-etc" >/dev/null
	LOOM_SCHED_MISFIRE_GRACE=soon run "$LOOM_BIN/loom-sched" -n
	assert_failure 1
	assert_output --partial "sched.misfire_grace"
}
