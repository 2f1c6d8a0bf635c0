#!/usr/bin/env bats
# Large fan-outs under contention: every run finishes, with every task row.
#
# Two loom-engine and two loom-exec processes share one database: one
# executor at its default settings (exec.concurrency 64, exec.batch 100),
# the other tuned (512 and 256), both with exec.advance on, so the first
# pass of a fan-out (written 1,000 rows per transaction) meets the other
# engine and the executors' own passes in every order the machine makes.
# Runs are started several at a time and each must end SUCCESS with one
# SUCCESS row per task at its first attempt.  A run that stops moving (no
# new row, no new success, no change of status) for $LOOM_STRESS_STALL
# seconds has stalled and fails the test; that is longer than the
# engines' safety sweep (engine.sweep, 10 s) and than any pause a busy
# machine makes.
#
# The size comes from the environment; the defaults keep `make check`
# short:
#
#   LOOM_STRESS_RUNS      fan-outs in all (6)
#   LOOM_STRESS_TASKS     tasks per fan-out (2500; over 1,000 so that
#                         first passes are chunked)
#   LOOM_STRESS_PARALLEL  fan-outs running at once (3)
#   LOOM_STRESS_HOGS      busy loops beside the stack for the test's
#                         length, to make the machine busy (0)
#   LOOM_STRESS_STALL     seconds without progress that count as a stall (30)
#
# `make stress` runs the big version: 60 fan-outs of 10,000 tasks, 4 at a
# time, with one busy loop per CPU.  By hand:
#
#   LOOM_STRESS_RUNS=60 LOOM_STRESS_TASKS=10000 LOOM_STRESS_PARALLEL=4 \
#   LOOM_STRESS_HOGS=2 LOOM_BIN=$PWD/build/bin bats tests/stress.bats

bats_require_minimum_version 1.5.0

load helpers

RUNS=${LOOM_STRESS_RUNS:-6}
TASKS=${LOOM_STRESS_TASKS:-2500}
PARALLEL=${LOOM_STRESS_PARALLEL:-3}
HOGS=${LOOM_STRESS_HOGS:-0}
STALL=${LOOM_STRESS_STALL:-30}

setup_file() {
	local i
	loom_pg_start
	# no call log: a big run makes hundreds of thousands of calls
	stress_backend_start
	loom_api_start
	: >"$LOOM_TEST_DIR/hogs.pids"
	for ((i = 0; i < HOGS; i++)); do
		bash -c 'while :; do :; done' 3>&- &
		echo $! >>"$LOOM_TEST_DIR/hogs.pids"
	done
	loom_daemon_start loom-engine
	loom_daemon_start loom-engine
	loom_daemon_start loom-exec
	LOOM_EXEC_CONCURRENCY=512 LOOM_EXEC_BATCH=256 \
	    loom_daemon_start loom-exec
}

teardown_file() {
	local p
	if [ -f "${LOOM_TEST_DIR:-/nonexistent}/hogs.pids" ]; then
		while read -r p; do
			kill "$p" 2>/dev/null || true
		done <"$LOOM_TEST_DIR/hogs.pids"
	fi
	loom_stop_all
}

teardown() {
	[ -n "${BATS_TEST_COMPLETED:-}" ] || loom_show_logs
}

# The test backend without its call log, which a big run would fill.
stress_backend_start() {
	local fifo=$LOOM_TEST_DIR/backend.port word port
	mkfifo "$fifo" || return 1
	"$LOOM_TEST_BACKEND" -p 0 >"$fifo" 2>"$LOOM_TEST_DIR/backend.log" 3>&- &
	BACKEND_PID=$!
	if ! read -r -t 10 word port <"$fifo" || [ "$word" != port ]; then
		echo "# loom-test-backend did not start" >&3
		return 1
	fi
	rm -f "$fifo"
	export BACKEND_URL=http://127.0.0.1:$port BACKEND_PID
}

# fanout ID N: N independent tasks.  wave ID N: one task, then N that
# depend on it (promoted by the pass over its result, often an
# executor's), then one that depends on all of them.
fanout() {
	printf 'id: %s\ntasks:\n' "$1"
	seq -f "  - {id: t%.0f, url: \"$BACKEND_URL/api/tasks/t\"}" 1 "$2"
}
wave() {
	local deps
	printf 'id: %s\ntasks:\n' "$1"
	printf '  - {id: start, url: "%s/api/tasks/s"}\n' "$BACKEND_URL"
	seq -f "  - {id: t%.0f, url: \"$BACKEND_URL/api/tasks/t\", dependsOn: start}" \
	    1 "$2"
	deps=$(seq -f 't%.0f' 1 "$2" | paste -sd,)
	printf '  - {id: end, url: "%s/api/tasks/e", dependsOn: [%s]}\n' \
	    "$BACKEND_URL" "$deps"
}

# progress ID...: "id status rows successes-at-first-attempt" per run.
progress() {
	local ids
	ids=$(printf "'%s'," "$@")
	sql "SELECT e.id, e.status, count(t.task_id),
	    count(*) FILTER (WHERE t.state = 'SUCCESS' AND t.attempt = 1)
	    FROM executions e LEFT JOIN run_tasks t ON t.execution_id = e.id
	    WHERE e.id IN (${ids%,}) GROUP BY e.id, e.status ORDER BY e.id" |
	    tr '|' ' '
}

# settle WANT ID...: waits until every run is finished, failing as soon as
# one has made no progress for $STALL seconds; then checks that each ended
# SUCCESS with WANT rows, all SUCCESS at attempt 1.
settle() {
	local want=$1 now last='' since=$SECONDS id st rows ok bad=0
	shift
	while :; do
		now=$(progress "$@")
		if ! grep -qE ' (PENDING|RUNNING) ' <<<"$now"; then
			break
		fi
		if [ "$now" != "$last" ]; then
			last=$now
			since=$SECONDS
		elif [ $((SECONDS - since)) -ge "$STALL" ]; then
			echo "no progress for ${STALL}s:"
			echo "$now"
			grep -h 'another engine passed' "$LOOM_TEST_DIR"/loom-*.log |
			    tail -n 5
			return 1
		fi
		sleep 1
	done
	while read -r id st rows ok; do
		if [ "$st" != SUCCESS ] || [ "$rows" != "$want" ] ||
		    [ "$ok" != "$want" ]; then
			echo "$id: $st with $rows of $want rows, $ok succeeded"
			bad=1
		fi
	done <<<"$now"
	return "$bad"
}

@test "$RUNS fan-outs of $TASKS tasks, $PARALLEL at a time, on two engines and two executors" {
	local f=$BATS_FILE_TMPDIR/fan.yaml w=$BATS_FILE_TMPDIR/wave.yaml
	local done=0 n ids i start=$SECONDS
	fanout stress-fan "$TASKS" >"$f"
	wave stress-wave "$TASKS" >"$w"
	apply "$f"
	apply "$w"
	while [ "$done" -lt "$RUNS" ]; do
		n=$((RUNS - done < PARALLEL ? RUNS - done : PARALLEL))
		ids=()
		for ((i = 0; i < n; i++)); do
			# one in three a wave of promotions behind a first task
			if [ $(((done + i) % 3)) = 2 ]; then
				ids+=("$(trigger stress-wave):$((TASKS + 2))")
			else
				ids+=("$(trigger stress-fan):$TASKS")
			fi
		done
		for i in "${ids[@]}"; do
			run settle "${i#*:}" "${i%%:*}"
			[ "$status" = 0 ] || { echo "$output"; false; }
		done
		done=$((done + n))
	done
	echo "# $RUNS runs of $TASKS tasks in $((SECONDS - start))s" >&3
	grep -h 'another engine passed' "$LOOM_TEST_DIR"/loom-*.log |
	    wc -l | sed 's/^/# chunked passes interrupted: /' >&3
}
