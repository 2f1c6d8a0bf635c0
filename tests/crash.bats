#!/usr/bin/env bats
# Fault injection, part two: Link Loom's own processes and its database
# die mid-run (the backend faults are in faults.bats).  Each scenario is
# repeated $LOOM_CRASH_ROUNDS times (3) with the fault at a random point
# of a run: after a random number of its calls reached the backend, plus
# a random delay.  Waits are on conditions, never fixed sleeps.
#
# After each round: the run is finished with the right state, EVERY task
# is SUCCESS with a consistent history (history_errors), the backend was
# called for exactly the attempts the history shows, and each attempt
# (Idempotency-Key executionId/taskId/attempt) was called once, except
# where README's guarantees ("What Link Loom guarantees") allow a second
# delivery of the same key: an attempt that was running when its
# executor died, or whose claim a PostgreSQL crash lost.  An executor
# that stays alive never delivers an attempt twice.  Every workflow has
# a task "r" that fails once and is retried after 300ms, so faults also
# land on retries that are due.
#
# engine.sweep is 60s here, and every round must end within 45s: no run
# may wait for the safety sweep.  Recovery must come from doorbells,
# lease timers and the catch-up after a (re)connect.

bats_require_minimum_version 1.5.0

load helpers
load fault-helpers

setup_file() {
	loom_pg_start
	loom_backend_start
	export B=$BACKEND_URL/api/tasks
	export LOOM_ENGINE_SWEEP=60s
	export ROUNDS=${LOOM_CRASH_ROUNDS:-3}
}

teardown_file() {
	loom_stop_all
}

setup() {
	WF=$BATS_TEST_TMPDIR/wf.yaml
	loom_api_start
}

teardown() {
	[ -n "${BATS_TEST_COMPLETED:-}" ] || dump_logs
	loom_daemons_stop
	loom_api_stop
}

# kill9 PID: SIGKILL, and wait until it is gone (it is our child).
kill9() {
	{ kill -KILL "$1" && wait "$1"; } 2>/dev/null || true
}

# keycounts EXEC: "task/attempt N" for each key the run called, sorted
keycounts() {
	jq -r --arg e "$1/" 'select((.idempotencyKey // "") | startswith($e))
	    | .idempotencyKey | ltrimstr($e)' "$BACKEND_LOG" | sort |
	    uniq -c | awk '{ print $2, $1 }'
}

# dups EXEC: the keys (task/attempt) called more than once, sorted
dups() {
	keycounts "$1" | awk '$2 > 1 { print $1 }'
}

# succeeded RUN-JSON EXEC N: the run and its N tasks are SUCCESS, the
# history is consistent, every task but r at attempt 1 (r at 2, or at 1
# when its failing first call was delivered again and then succeeded),
# and the backend was called for exactly the attempts of the history,
# each at most twice.
succeeded() {
	assert_equal "$(jq -r .status <<<"$1")" SUCCESS
	assert_equal "$(jq '.tasks | length' <<<"$1")" "$3"
	assert_equal "$(jq -r '[.tasks[] | select(.state != "SUCCESS") |
	    "\(.taskId)=\(.state)"] | join(" ")' <<<"$1")" ""
	assert_equal "$(history_errors "$1")" ""
	assert_equal "$(jq -r '[.tasks[] | select(.attempt != 1 and
	    .taskId != "r") | .taskId] | join(" ")' <<<"$1")" ""
	local r
	r=$(task "$1" r | jq .attempt)
	if ! [ "$r" = 2 ] && ! { [ "$r" = 1 ] && dups "$2" | grep -qx r/1; }
	then
		echo "r ended at attempt $r"
		return 1
	fi
	assert_equal "$(jq -r '.tasks[] | range(1; .attempt + 1) as $a |
	    "\(.taskId)/\($a)"' <<<"$1" | sort)" \
	    "$(keycounts "$2" | awk '{ print $1 }')"
	assert_equal "$(keycounts "$2" | awk '$2 > 2' | wc -l)" 0
}

# executor_of EXEC TASK/ATTEMPT: who recorded that attempt
executor_of() {
	sql "SELECT executor FROM task_executions WHERE execution_id = '$1'
	    AND task_id || '/' || attempt = '$2'"
}

# leased EXEC OWNER: the run's attempts (task/attempt) leased to OWNER
leased() {
	sql "SELECT task_id || '/' || attempt FROM run_tasks
	    WHERE execution_id = '$1' AND state = 'RUNNING' AND
	    lease_owner = '$2'" | sort
}

# only_in LIST ALLOWED: the words of LIST that are not in ALLOWED
only_in() {
	comm -23 <(tr ' ' '\n' <<<"$1" | grep . | sort) \
	    <(tr ' ' '\n' <<<"$2" | grep . | sort) | tr '\n' ' '
}

# unsettled EXEC: a result is committed that no engine has seen yet
unsettled() {
	[ "$(sql "SELECT count(*) FROM run_tasks WHERE execution_id = '$1'
	    AND NOT settled")" -gt 0 ]
}

# pg_crash: PostgreSQL dies at once (immediate shutdown: no checkpoint,
# asynchronously committed transactions not yet written are lost)
pg_crash() {
	local pg_ctl
	pg_ctl=$(ls /usr/lib/postgresql/*/bin/pg_ctl 2>/dev/null | sort -V |
	    tail -n 1)
	[ -n "$pg_ctl" ] || pg_ctl=$(command -v pg_ctl)
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$pg_ctl" -D "$LOOM_TEST_DIR/pgdata" \
		    -m immediate -w stop >/dev/null
	else
		"$pg_ctl" -D "$LOOM_TEST_DIR/pgdata" -m immediate -w stop \
		    >/dev/null
	fi
}

pg_start() {
	"$LOOM_BIN/loom" db start --state-dir "$LOOM_TEST_DIR" --fast \
	    >/dev/null 3>&-
}

pg_stop() {
	"$LOOM_BIN/loom" db stop --state-dir "$LOOM_TEST_DIR" >/dev/null 3>&-
}

# The retried task: its first call fails, the retry 300ms later succeeds.
task_r() {
	echo "  - {id: r, url: \"$B/r?fail=1\", dependsOn: $1, retryPolicy: {maxAttempts: 3, backoffStrategy: fixed, initialDelay: 300ms, jitter: 0, retryOn: [TaskFailedException]}}"
}

# wide_chain ID N M SLEEP: N independent tasks p01.., a chain of M tasks
# c1.. (c1 after p01) and r (after p01); N + M + 1 tasks.  The chain's
# tasks sleep SLEEP ms in the backend, the others from SLEEP/2 to 3/2
# SLEEP, so that they do not finish in lockstep and a fault finds them
# at every stage (running, answered, results being written).
wide_chain() {
	local i
	echo "id: $1"
	echo "tasks:"
	for i in $(seq -w 1 "$2"); do
		echo "  - {id: p$i, url: \"$B/p?sleep=$(($4 / 2 + 10#$i * 97 % $4))\", timeout: 30s}"
	done
	task_r "p$(seq -w 1 "$2" | head -n 1)"
	[ "$3" -gt 0 ] || return 0
	echo "  - {id: c1, url: \"$B/c?sleep=$4\", dependsOn: p$(seq -w 1 "$2" | head -n 1), timeout: 30s}"
	for i in $(seq 2 "$3"); do
		echo "  - {id: c$i, url: \"$B/c?sleep=$4\", dependsOn: c$((i - 1)), timeout: 30s}"
	done
}

@test "kill -9 of loom-exec mid-run: the leases expire and another executor runs the same attempts" {
	loom_daemon_start loom-engine
	wide_chain cr-exec 30 0 300 >"$WF"
	apply "$WF"
	export LOOM_EXEC_LEASE=2s
	rerun=0
	for round in $(seq 1 "$ROUNDS"); do
		a=cr-exec-$round-a
		LOOM_EXEC_NAME=$a loom_daemon_start loom-exec -j 6
		apid=$LOOM_DAEMON_PID
		E=$(trigger cr-exec)
		# after 1..20 calls, plus up to 300ms
		wait_calls "$E" $((1 + $(rand 20)))
		nap_ms "$(rand 300)"
		kill9 "$apid"
		at=$(ncalls "$E")
		# what the dead executor held; a result statement of its
		# may still be finishing, so this is a superset of what it
		# lost
		held=$(leased "$E" "$a")
		assert_equal "$(sql "SELECT status FROM executions
		    WHERE id = '$E'")" RUNNING
		LOOM_EXEC_NAME=cr-exec-$round-b loom_daemon_start loom-exec -j 6
		bpid=$LOOM_DAEMON_PID
		ex=$(finished "$E" 45)
		succeeded "$ex" "$E" 31
		# twice only what the dead executor held, each recorded by
		# the survivor
		rep=$(dups "$E")
		echo "round $round: killed after $at calls; held [$(echo $held)]" \
		    "called twice [$(echo $rep)]"
		assert_equal "$(only_in "$rep" "$held")" ""
		for k in $rep; do
			assert_equal "$(executor_of "$E" "$k")" cr-exec-$round-b
		done
		# what the dead executor recorded was called once
		for k in $(sql "SELECT task_id || '/' || attempt FROM
		    task_executions WHERE execution_id = '$E' AND
		    executor = '$a'"); do
			assert_equal "$(keycounts "$E" | grep "^$k " |
			    cut -d' ' -f2)" 1
		done
		# a kill that hit nothing running: grep -c prints 0 and fails
		rerun=$((rerun + $(echo "$rep" | grep -c . || true)))
		loom_daemon_stop "$bpid"
	done
	# the kills did hit running attempts
	[ "$rerun" -gt 0 ]
}

@test "kill -9 of loom-engine mid-run: a restarted or second engine promotes what finished meanwhile" {
	# The steps are the engines' alone here (an idle executor would
	# take them itself: advance.bats).
	LOOM_EXEC_ADVANCE=off LOOM_EXEC_LEASE=5s loom_daemon_start loom-exec -j 8
	# a chain of 10, a fan-out of 4 and r at its third task, and a join
	{
		echo "id: cr-engine"
		echo "tasks:"
		echo "  - {id: c01, url: \"$B/c?sleep=60\"}"
		for i in 02 03 04 05 06 07 08 09 10; do
			echo "  - {id: c$i, url: \"$B/c?sleep=60\", dependsOn: c$(printf %02d $((10#$i - 1)))}"
		done
		for i in 1 2 3 4; do
			echo "  - {id: f$i, url: \"$B/f?sleep=60\", dependsOn: c03}"
		done
		task_r c03
		echo "  - {id: join, url: \"$B/j\", dependsOn: [c10, f1, f2, f3, f4, r]}"
	} >"$WF"
	apply "$WF"
	loom_daemon_start loom-engine
	engines=$LOOM_DAEMON_PID
	for round in $(seq 1 "$ROUNDS"); do
		# every second round a standby engine runs beside the other
		if [ $((round % 2)) = 0 ]; then
			loom_daemon_start loom-engine
			engines="$engines $LOOM_DAEMON_PID"
		fi
		E=$(trigger cr-engine)
		kills=$((1 + $(rand 2)))
		for k in $(seq 1 "$kills"); do
			wait_calls "$E" $((k * 3 + $(rand 4)))
			nap_ms "$(rand 80)"
			set -- $engines
			victim=$1
			shift
			engines="$*"
			kill9 "$victim"
			at=$(ncalls "$E")
			how="the other engine goes on"
			if [ -z "$engines" ]; then
				# no engine: let a task finish unseen (a
				# result nobody promotes), then restart
				how="restarted"
				if [ "$(sql "SELECT count(*) FROM run_tasks
				    WHERE execution_id = '$E' AND state IN
				    ('READY', 'RUNNING')")" -gt 0 ]; then
					wait_for -t 20 unsettled "$E"
					how="restarted with a result unseen"
				fi
				loom_daemon_start loom-engine
				engines=$LOOM_DAEMON_PID
			fi
			echo "round $round: killed an engine after $at calls; $how"
		done
		ex=$(finished "$E" 45)
		succeeded "$ex" "$E" 16
		# no executor died: every attempt was called once
		assert_equal "$(dups "$E")" ""
		# dependency order held
		jq -e '(.tasks | map({(.taskId): .}) | add) as $t |
		  ([range(2; 11)] | all(. as $i |
		    ($i | tostring | if length < 2 then "0" + . else . end)
		      as $n |
		    (($i - 1) | tostring | if length < 2 then "0" + . else .
		      end) as $p |
		    $t["c" + $n].startedAt >= $t["c" + $p].finishedAt)) and
		  ([$t.c10, $t.f1, $t.f2, $t.f3, $t.f4, $t.r] |
		    all(.finishedAt <= $t.join.startedAt))' <<<"$ex"
	done
}

@test "an engine that dies holding a run's lock: the other engine takes the run over at once" {
	# A stand-in for an engine killed in the middle of a pass: a
	# session holds the run's row lock, as a pass does, while a result
	# comes in, and is then killed without committing.  The live
	# engine was rung (loom_task_done) but found the run busy; nothing
	# rings again, yet the run must go on without the sweep: the
	# engine's sweep is an hour away here, so a run that finishes at
	# all was taken over by the engine itself.
	loom_daemon_start loom-exec
	LOOM_ENGINE_SWEEP=1h loom_daemon_start loom-engine -d	# logs its doorbells
	engine_log=$LOOM_DAEMON_LOG
	for round in $(seq 1 "$ROUNDS"); do
		# first is held by the backend until the lock is taken
		g=cr-held-$round-$RANDOM$RANDOM
		cat >"$WF" <<EOF
id: cr-held
tasks:
  - {id: first, url: "$B/first?gate=$g"}
  - {id: second, url: "$B/second", dependsOn: first}
$(task_r second)
EOF
		apply "$WF"
		E=$(trigger cr-held)
		wait_calls "$E" 1
		rm -f "$BATS_TEST_TMPDIR/lock.in"
		mkfifo "$BATS_TEST_TMPDIR/lock.in"
		psql -X -q -v ON_ERROR_STOP=1 "$LOOM_DATABASE_URL" \
		    <"$BATS_TEST_TMPDIR/lock.in" >/dev/null 3>&- &
		holder=$!
		exec 4>"$BATS_TEST_TMPDIR/lock.in"
		# NO KEY: the executor's inserts (foreign keys to the run)
		# are not held up, the engine's FOR UPDATE is
		echo "SET application_name = 'cr-held'; BEGIN;
		    SELECT 1 FROM executions WHERE id = '$E'
		    FOR NO KEY UPDATE;" >&4
		wait_for -t 20 held_by_session
		# held before the result came in
		assert_equal "$(sql "SELECT state FROM run_tasks
		    WHERE execution_id = '$E' AND task_id = 'first'")" RUNNING
		open_gate "$g"
		# the result is in, and the engine was rung for it
		wait_for -t 20 unsettled "$E"
		wait_for -t 20 grep -qF "[execution=$E] doorbell loom_task_done" "$engine_log"
		kill9 "$holder"
		exec 4>&-
		t0=$SECONDS
		ex=$(finished "$E" 45)
		succeeded "$ex" "$E" 3
		assert_equal "$(dups "$E")" ""
		echo "round $round: went on $((SECONDS - t0))s after the holder died"
	done
}

held_by_session() {
	[ "$(sql "SELECT state FROM pg_stat_activity
	    WHERE application_name = 'cr-held'")" = "idle in transaction" ]
}

@test "PostgreSQL restarted mid-run: every daemon reconnects, listens again, catches up; each attempt runs once" {
	LOOM_EXEC_LEASE=5s loom_daemon_start loom-exec -j 8
	exec_log=$LOOM_DAEMON_LOG
	loom_daemon_start loom-engine
	engine_log=$LOOM_DAEMON_LOG
	wide_chain cr-pg 16 5 200 >"$WF"
	apply "$WF"
	for round in $(seq 1 "$ROUNDS"); do
		E=$(trigger cr-pg)
		wait_calls "$E" $((1 + $(rand 16)))
		nap_ms "$(rand 200)"
		at=$(ncalls "$E")
		pg_stop
		pg_start
		ex=$(finished "$E" 45)
		succeeded "$ex" "$E" 22
		# a clean shutdown loses nothing: no attempt ran twice
		assert_equal "$(dups "$E")" ""
		echo "round $round: restarted after $at calls"
	done
	# each daemon noticed, came back and listens again
	for log in "$exec_log" "$engine_log" "$LOOM_API_LOG"; do
		[ "$(grep -c "connection for notifications is back" \
		    "$log")" -ge "$ROUNDS" ]
	done
	grep -q "database connection is back" "$exec_log"
	grep -q "database connection is back" "$engine_log"
	# loom-api too: a new run is followed to its end through it, its
	# long poll woken by the run's doorbells (not its 60s wait)
	t0=$SECONDS
	E=$(trigger cr-pg)
	ex=$(finished "$E" 45)
	succeeded "$ex" "$E" 22
	assert_equal "$(dups "$E")" ""
	[ $((SECONDS - t0)) -lt 30 ]
}

@test "PostgreSQL crashes mid-run: lost claims and passes are redone from the durable results" {
	LOOM_EXEC_LEASE=5s loom_daemon_start loom-exec -j 8
	loom_daemon_start loom-engine
	wide_chain cr-pgcrash 16 5 200 >"$WF"
	apply "$WF"
	for round in $(seq 1 "$ROUNDS"); do
		E=$(trigger cr-pgcrash)
		wait_calls "$E" $((1 + $(rand 16)))
		nap_ms "$(rand 200)"
		at=$(ncalls "$E")
		pg_crash
		pg_start
		back=$(now_ms)
		ex=$(finished "$E" 45)
		succeeded "$ex" "$E" 22
		# an attempt whose claim the crash lost ran again with the
		# same key: its first call was before the database came back
		for k in $(dups "$E"); do
			first=$(jq -s --arg k "$E/$k" '[.[] |
			    select(.idempotencyKey == $k) | .ts] | min' \
			    "$BACKEND_LOG")
			[ "$first" -le "$back" ]
		done
		echo "round $round: crashed after $at calls;" \
		    "called twice: [$(echo $(dups "$E"))]"
	done
}

@test "every daemon killed mid-run and started again: no run stays RUNNING" {
	export LOOM_EXEC_LEASE=2s
	wide_chain cr-all 12 4 300 >"$WF"
	apply "$WF"
	LOOM_EXEC_NAME=cr-all-0 loom_daemon_start loom-exec -j 6
	exec_pid=$LOOM_DAEMON_PID
	loom_daemon_start loom-engine
	engine_pid=$LOOM_DAEMON_PID
	for round in $(seq 1 "$ROUNDS"); do
		# two runs in flight
		E1=$(trigger cr-all)
		E2=$(trigger cr-all)
		wait_calls "$E1" $((1 + $(rand 12)))
		nap_ms "$(rand 300)"
		kill9 "$exec_pid"
		kill9 "$engine_pid"
		kill9 "$LOOM_API_PID"
		at=$(ncalls "$E1")
		dead=cr-all-$((round - 1))
		held1=$(leased "$E1" "$dead")
		held2=$(leased "$E2" "$dead")
		loom_api_start
		LOOM_EXEC_NAME=cr-all-$round loom_daemon_start loom-exec -j 6
		exec_pid=$LOOM_DAEMON_PID
		loom_daemon_start loom-engine
		engine_pid=$LOOM_DAEMON_PID
		for E in "$E1" "$E2"; do
			ex=$(finished "$E" 45)
			succeeded "$ex" "$E" 17
			held=$held1
			[ "$E" = "$E1" ] || held=$held2
			rep=$(dups "$E")
			echo "round $round $E: killed after $at calls of the" \
			    "first run; held [$(echo $held)] called twice" \
			    "[$(echo $rep)]"
			assert_equal "$(only_in "$rep" "$held")" ""
		done
	done
}
