#!/usr/bin/env bats
# Circuit breakers in the running system: loom-api, loom-engine and
# loom-exec (database mode) on a throwaway PostgreSQL cluster, HTTP tasks
# against the real test backend (tests/backend) and against a closed port.
#
# The breaker settings are small so that a test takes seconds: 3 failures
# in a row open a breaker, the first cool-down is 1s and doubles up to 2s,
# the failure-rate rule is off (every test shares the backend's target,
# so each starts with no breaker rows at all).  Every scenario checks the
# final state of every task and that no task ran more attempts than it
# may.  "No call while open" is checked on the backend's call log, whose
# timestamps come from the same clock as the database's.  Where a task
# must be dispatched while a breaker is open, it depends on a shell task,
# the gate, that waits until the database says the breaker is open:
# shell tasks have no breaker.

bats_require_minimum_version 1.5.0

load helpers

# Every test that replaces the shared executor records the new one in
# exec.pid and exec.log.path, so that the next one stops the right
# process and reads the right log.

setup_file() {
	export LOOM_BREAKER_FAILURES=3 LOOM_BREAKER_COOLDOWN=1s \
	    LOOM_BREAKER_MAX_COOLDOWN=2s LOOM_BREAKER_RATE=0
	loom_pg_start
	loom_backend_start
	loom_api_start
	loom_daemon_start loom-engine
	loom_daemon_start loom-exec
	echo "$LOOM_DAEMON_LOG" >"$LOOM_TEST_DIR/exec.log.path"
	echo "$LOOM_DAEMON_PID" >"$LOOM_TEST_DIR/exec.pid"
	export B=$BACKEND_URL/api/tasks
	# a port nothing listens on: connections are refused at once
	DEAD_PORT=$(python3 -c 'import socket; s = socket.socket();
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	export DEAD=http://127.0.0.1:$DEAD_PORT DEAD_PORT
}

teardown_file() {
	loom_stop_all
}

setup() {
	WF=$BATS_TEST_TMPDIR/wf.yaml
	GATE=$BATS_TEST_TMPDIR/gate.sh
	# each test starts with every breaker closed and clean
	sql "DELETE FROM breakers" >/dev/null
	# written in: tasks do not inherit the executor's environment
	printf '#!/bin/sh\nLOOM_DATABASE_URL=%s\n' "'$LOOM_DATABASE_URL'" >"$GATE"
	cat >>"$GATE" <<'EOF'
# waits until the breaker of $1 is OPEN (shell tasks have no breaker)
until [ "$(psql -X -q -At "$LOOM_DATABASE_URL" -c "SELECT count(*) FROM
    breakers WHERE target = '$1' AND state = 'OPEN'")" = 1 ]; do
	sleep 0.02
done
echo '{"open":true}'
EOF
	chmod +x "$GATE"
}

teardown() {
	[ -z "${BATS_TEST_COMPLETED:-}" ] || return 0
	local f
	for f in "$LOOM_TEST_DIR"/loom-*.log; do
		echo "--- $f (last lines)"
		tail -n 30 "$f"
	done
}

trigger() {
	curl -sS -X POST -H 'Content-Type: application/json' --data '{}' \
	    "$LOOM_API/api/v1/workflows/$1/trigger" | jq -er .executionId
}

detail() {
	curl -sS "$LOOM_API/api/v1/executions/$1"
}

states() {
	jq -r '[.tasks[] | "\(.taskId)=\(.state)"] | join(" ")' <<<"$1"
}

# target_state TARGET: the state of its breaker ("" when it has no row).
target_state() {
	curl -sS "$LOOM_API/api/v1/breakers" |
	    jq -r --arg t "$1" '.breakers[] | select(.target == $t) | .state'
}

breaker_is() {
	[ "$(target_state "$1")" = "$2" ]
}

# attempts_within RUN-JSON MAX: every task ran at most MAX attempts, one
# history row per attempt, and a finished task's attempt is its last.
attempts_within() {
	run jq -e --argjson max "$2" 'all(.tasks[];
	    (.attempts | length) <= $max and
	    ((.attempts | length) == .attempt or .state == "SKIPPED"))' \
	    <<<"$1"
	assert_success
}

# calls_to PATH-PREFIX: the backend's calls whose path starts so, as
# "ts key path" lines in arrival order.
calls_to() {
	jq -r --arg p "$1" 'select((.path // "") | startswith($p)) |
	    "\(.ts) \(.idempotencyKey) \(.path)"' "$BACKEND_LOG"
}

exec_log() {
	cat "$(cat "$LOOM_TEST_DIR/exec.log.path")"
}

@test "holding, re-timing and releasing rows; the claim skips what is not due (C driver)" {
	# a database of its own: the driver claims every due row, and the
	# executor of this file must not take them first
	url=${LOOM_DATABASE_URL/\/\/\/loom\?/\/\/\/loom_held?}
	[ "$url" != "$LOOM_DATABASE_URL" ]
	sql "DROP DATABASE IF EXISTS loom_held" >/dev/null
	sql "CREATE DATABASE loom_held" >/dev/null
	LOOM_DATABASE_URL=$url "$LOOM_BIN/loom" db migrate >/dev/null
	run env LOOM_DATABASE_URL="$url" "$LOOM_BIN/../tests/test_execdb_held"
	assert_success
	refute_output --partial "not ok"
	refute_output --partial "# skip"
	assert_output --partial "range scan of run_tasks_ready"
	[ "$(grep -c '^ok' <<<"$output")" -ge 25 ]
}

@test "a closed port trips the breaker after 3 failures; held tasks keep their attempt" {
	cat >"$WF" <<EOF
id: bk-down
tasks:
  - {id: a, url: $DEAD/a, maxAttempts: 1}
  - {id: b, url: $DEAD/b, maxAttempts: 1}
  - {id: c, url: $DEAD/c, maxAttempts: 1}
EOF
	apply "$WF"
	E=$(trigger bk-down)
	ex=$(finished "$E")
	assert_equal "$(jq -r .status <<<"$ex")" FAILED
	assert_equal "$(states "$ex")" "a=DEAD b=DEAD c=DEAD"
	assert_equal "$(jq -r '[.tasks[].error.type] | unique | join(",")' \
	    <<<"$ex")" ConnectionException
	attempts_within "$ex" 1
	# three failures in a row: open, for every executor (shared row)
	run curl -sS "$LOOM_API/api/v1/breakers"
	assert_success
	run jq -e --arg t "$DEAD" '.breakers | length == 1 and
	    (.[0] | .target == $t and .state == "OPEN" and
	    .consecutiveFailures == 3 and .retryAt != null)' <<<"$output"
	assert_success

	# Tasks for that target now wait without using up attempts.  Each
	# cool-down ends with one probe, which fails again (nothing listens),
	# so the breaker re-opens and the others go on waiting.
	cat >"$WF" <<EOF
id: bk-down-later
tasks:
  - {id: p, url: $DEAD/p, retryPolicy: {maxAttempts: 2, initialDelay: 100ms}}
  - {id: q, url: $DEAD/q, retryPolicy: {maxAttempts: 2, initialDelay: 100ms}}
EOF
	apply "$WF"
	E=$(trigger bk-down-later)
	# each task is seen held at least once: READY, heldBy the target,
	# heldUntil set, not started, its attempt not run yet
	seen=
	end=$((SECONDS + 30))
	while [ "$seen" != "p q " ] && [ "$SECONDS" -lt "$end" ]; do
		d=$(detail "$E")
		for t in p q; do
			case $seen in *"$t "*) continue ;; esac
			if jq -e --arg t "$t" --arg target "$DEAD" '.tasks[] |
			    select(.taskId == $t) | .state == "READY" and
			    .heldBy == $target and .heldUntil != null and
			    .startedAt == null and .attempt >= 1 and
			    (.attempts | length) == .attempt - 1' \
			    <<<"$d" >/dev/null; then
				seen=$(printf '%s\n' $seen "$t" | sort -u |
				    tr '\n' ' ')
			fi
		done
		sleep 0.05
	done
	assert_equal "$seen" "p q "
	ex=$(finished "$E")
	assert_equal "$(jq -r .status <<<"$ex")" FAILED
	assert_equal "$(states "$ex")" "p=DEAD q=DEAD"
	# every attempt was a probe, and no task got more than its two
	assert_equal "$(jq -c '[.tasks[] | [.attempt, (.attempts |
	    map(.error.type) | unique)]]' <<<"$ex")" \
	    '[[2,["ConnectionException"]],[2,["ConnectionException"]]]'
	attempts_within "$ex" 2
	assert_equal "$(jq -c '[.tasks[] | .heldBy, .heldUntil]' <<<"$ex")" \
	    '[null,null,null,null]'
	# probes never overlap: one attempt per cool-down (>= 1s apart)
	run sql "SELECT count(*) FROM (SELECT started_at - lag(started_at)
	    OVER (ORDER BY started_at) AS gap FROM task_executions
	    WHERE execution_id = '$E') g WHERE gap < interval '900ms'"
	assert_output 0
	exec_log | grep -q "held [0-9]* tasks\? (first for $DEAD): circuit breaker open"
	# a held task claimed again is still the same attempt: one
	# READY -> RUNNING event each
	assert_equal "$(sql "SELECT string_agg(k || '=' || n, ' ' ORDER BY k)
	    FROM (SELECT task_id || '/' || attempt AS k, count(*) AS n
	    FROM events WHERE execution_id = '$E' AND from_state = 'READY'
	    AND to_state = 'RUNNING' GROUP BY 1) x")" "p/1=1 p/2=1 q/1=1 q/2=1"
}

@test "a flapping backend trips the breaker, no call reaches it while open, then it closes and the held tasks succeed" {
	cat >"$WF" <<EOF
id: bk-flap
tasks:
  - id: flaky
    url: $B/flap/flaky?fail=3&errtype=HttpServerError
    retryPolicy: {maxAttempts: 5, backoffStrategy: fixed, initialDelay: 100ms}
  - id: gate
    type: shell
    command: ["$GATE", "$BACKEND_URL"]
  - {id: w1, url: $B/flap/w1, maxAttempts: 1, dependsOn: [gate]}
  - {id: w2, url: $B/flap/w2, maxAttempts: 1, dependsOn: [gate]}
  - {id: w3, url: $B/flap/w3, maxAttempts: 1, dependsOn: [gate]}
  - {id: w4, url: $B/flap/w4, maxAttempts: 1, dependsOn: [gate]}
EOF
	apply "$WF"
	E=$(trigger bk-flap)
	ex=$(finished "$E")
	assert_equal "$(jq -r .status <<<"$ex")" SUCCESS
	assert_equal "$(states "$ex")" \
	    "flaky=SUCCESS gate=SUCCESS w1=SUCCESS w2=SUCCESS w3=SUCCESS w4=SUCCESS"
	# flaky: three failures (HttpServerError) and the success; w: one each
	assert_equal "$(jq -c '[.tasks[] | select(.taskId == "flaky") |
	    .attempt, [.attempts[].status]]' <<<"$ex")" \
	    '[4,["FAILED","FAILED","FAILED","SUCCESS"]]'
	attempts_within "$ex" 5
	assert_equal "$(jq -c '[.tasks[] | select(.taskId | startswith("w")) |
	    .attempt]' <<<"$ex")" '[1,1,1,1]'
	# the backend: the third failure opened the breaker at T; nothing
	# arrived in the cool-down after it, then one probe at a time
	calls_to /api/tasks/flap/ >"$BATS_TEST_TMPDIR/calls"
	assert_equal "$(wc -l <"$BATS_TEST_TMPDIR/calls")" 8
	t3=$(grep -F "$E/flaky/3" "$BATS_TEST_TMPDIR/calls" | cut -d' ' -f1)
	next=$(awk -v t="$t3" '$1 > t { print $1; exit }' \
	    "$BATS_TEST_TMPDIR/calls")
	[ -n "$t3" ] && [ -n "$next" ]
	[ $((next - t3)) -ge 950 ] || {
		echo "a call $((next - t3))ms after the breaker opened"
		cat "$BATS_TEST_TMPDIR/calls"
		false
	}
	# the w tasks were held (they were ready while it was open) and the
	# breaker is closed again: its row is gone
	exec_log | grep -q "held [0-9]* tasks\? (first for $BACKEND_URL)"
	exec_log | grep -q "held for $BACKEND_URL released"
	assert_equal "$(target_state "$BACKEND_URL")" ""
}

@test "two executors: once the breaker is open neither sends; one probe closes it" {
	# two small executors, so that both have work to do
	loom_daemon_stop "$(cat "$LOOM_TEST_DIR/exec.pid")"
	LOOM_EXEC_NAME=bk-exec-a loom_daemon_start loom-exec -j 4
	echo "$LOOM_DAEMON_PID" >"$LOOM_TEST_DIR/exec.pid"
	echo "$LOOM_DAEMON_LOG" >"$LOOM_TEST_DIR/exec.log.path"
	LOOM_EXEC_NAME=bk-exec-b loom_daemon_start loom-exec -j 4
	second=$LOOM_DAEMON_PID
	{
		cat <<EOF
id: bk-two
tasks:
  - {id: t1, url: "$B/two/trip?status=500", maxAttempts: 1}
  - {id: t2, url: "$B/two/trip?status=500", maxAttempts: 1}
  - {id: t3, url: "$B/two/trip?status=500", maxAttempts: 1}
  - id: gate
    type: shell
    command: ["$GATE", "$BACKEND_URL"]
EOF
		for i in $(seq 1 12); do
			echo "  - {id: after$i, url: \"$B/two/after?sleep=300\"," \
			    "maxAttempts: 2, dependsOn: [gate]}"
		done
	} >"$WF"
	apply "$WF"
	E=$(trigger bk-two)
	ex=$(finished "$E")
	assert_equal "$(jq -r .status <<<"$ex")" FAILED
	assert_equal "$(jq -r '[.tasks[] | select(.taskId | startswith("t")) |
	    .state] | join(" ")' <<<"$ex")" "DEAD DEAD DEAD"
	assert_equal "$(jq -r '[.tasks[] | select(.taskId | startswith("after"))
	    | .state] | unique | join(" ")' <<<"$ex")" SUCCESS
	assert_equal "$(jq -r '[.tasks[] | select(.taskId | startswith("after"))
	    | .attempt] | unique | join(" ")' <<<"$ex")" 1
	attempts_within "$ex" 2
	calls_to /api/tasks/two/ >"$BATS_TEST_TMPDIR/calls"
	assert_equal "$(grep -c ' /api/tasks/two/after$' \
	    "$BATS_TEST_TMPDIR/calls")" 12
	assert_equal "$(grep -c ' /api/tasks/two/trip$' \
	    "$BATS_TEST_TMPDIR/calls")" 3
	# no call in the cool-down after the last failure: neither executor
	# sent anything while the breaker was open
	t3=$(grep ' /api/tasks/two/trip$' "$BATS_TEST_TMPDIR/calls" | tail -n 1 |
	    cut -d' ' -f1)
	first=$(grep ' /api/tasks/two/after$' "$BATS_TEST_TMPDIR/calls" |
	    head -n 1 | cut -d' ' -f1)
	[ $((first - t3)) -ge 950 ] || {
		echo "a call $((first - t3))ms after the breaker opened"
		cat "$BATS_TEST_TMPDIR/calls"
		false
	}
	# half-open lets exactly one probe through: the next call comes only
	# after the probe's 300ms answer closed the breaker
	second_call=$(grep ' /api/tasks/two/after$' "$BATS_TEST_TMPDIR/calls" |
	    sed -n 2p | cut -d' ' -f1)
	[ $((second_call - first)) -ge 290 ] || {
		echo "two calls $((second_call - first))ms apart while half-open"
		cat "$BATS_TEST_TMPDIR/calls"
		false
	}
	# both executors ran tasks of this run (4 slots each for 12 tasks)
	run sql "SELECT string_agg(DISTINCT executor, ' ') FROM task_executions
	    WHERE execution_id = '$E' AND task_id LIKE 'after%'"
	assert_output "bk-exec-a bk-exec-b"
	assert_equal "$(target_state "$BACKEND_URL")" ""
	loom_daemon_stop "$second"
}

@test "loom status and GET /api/v1/breakers show an open breaker; loom breaker reset closes it and held tasks run" {
	# an executor with a long cool-down, so the breaker stays open
	loom_daemon_stop "$(cat "$LOOM_TEST_DIR/exec.pid")"
	LOOM_BREAKER_COOLDOWN=5m LOOM_BREAKER_MAX_COOLDOWN=5m \
	    LOOM_EXEC_NAME=bk-exec-long loom_daemon_start loom-exec
	echo "$LOOM_DAEMON_PID" >"$LOOM_TEST_DIR/exec.pid"
	echo "$LOOM_DAEMON_LOG" >"$LOOM_TEST_DIR/exec.log.path"
	cat >"$WF" <<EOF
id: bk-trip
tasks:
  - {id: a, url: "$B/st/a?status=503", maxAttempts: 1}
  - {id: b, url: "$B/st/b?status=503", maxAttempts: 1}
  - {id: c, url: "$B/st/c?status=503", maxAttempts: 1}
EOF
	apply "$WF"
	E=$(trigger bk-trip)
	ex=$(finished "$E")
	assert_equal "$(states "$ex")" "a=DEAD b=DEAD c=DEAD"
	assert_equal "$(target_state "$BACKEND_URL")" OPEN

	cat >"$WF" <<EOF
id: bk-held
tasks:
  - {id: h, url: "$B/st/h", maxAttempts: 1}
EOF
	apply "$WF"
	H=$(trigger bk-held)
	wait_for -t 20 eval '[ "$(detail "$H" | jq -r ".tasks[0].heldBy")" = \
	    "$BACKEND_URL" ]'

	# loom status: the open breaker, the held task, exit 0
	run "$LOOM_BIN/loom" status --api "$LOOM_API"
	assert_success
	assert_output --regexp 'Database: +ok, schema version [0-9]+'
	assert_output --partial "held 1"
	assert_output --regexp "$BACKEND_URL +OPEN +3 "
	assert_output --partial "loom-engine"
	assert_output --partial "loom-exec"
	run "$LOOM_BIN/loom" status -o json --api "$LOOM_API"
	assert_success
	run jq -e --arg t "$BACKEND_URL" '.database.ok and
	    .database.schemaVersion >= 4 and .queue.held == 1 and
	    .runs.running >= 1 and .deadLetters >= 3 and
	    (.breakers | length == 1 and .[0].target == $t and
	    .[0].state == "OPEN" and .[0].heldTasks == 1) and
	    ([.daemons[].name] | index("loom-engine") != null and
	    index("loom-exec") != null and index("loom-api") != null) and
	    all(.daemons[]; .pid > 0 and .host != null and .since != null)' \
	    <<<"$output"
	assert_success
	# the API and the list agree
	run curl -sS "$LOOM_API/api/v1/breakers"
	run jq -e --arg t "$BACKEND_URL" '.breakers | length == 1 and
	    .[0].target == $t and .[0].state == "OPEN" and
	    .[0].consecutiveFailures == 3 and .[0].heldTasks == 1' <<<"$output"
	assert_success
	run "$LOOM_BIN/loom" breaker list -o json --api "$LOOM_API"
	assert_success
	assert_equal "$(jq -r .state <<<"$output")" OPEN
	run "$LOOM_BIN/loom" breaker list -o text --api "$LOOM_API"
	assert_success
	assert_output --regexp "TARGET +STATE"
	assert_output --regexp "$BACKEND_URL +OPEN"

	# reset, naming the target by any of its URLs: closed, and the
	# held task runs at once (the cool-down had minutes to go)
	run "$LOOM_BIN/loom" breaker reset "$B/any/path?x=1" --api "$LOOM_API"
	assert_success
	assert_output "$BACKEND_URL: reset; the breaker is closed"
	ex=$(finished "$H")
	assert_equal "$(states "$ex")" "h=SUCCESS"
	assert_equal "$(jq -c '[.tasks[0].attempt, (.tasks[0].attempts |
	    length)]' <<<"$ex")" '[1,1]'
	run "$LOOM_BIN/loom" breaker list -o json --api "$LOOM_API"
	assert_success
	assert_output ""
	run "$LOOM_BIN/loom" status -o json --api "$LOOM_API"
	assert_success
	assert_equal "$(jq -c '[.breakers, .queue.held]' <<<"$output")" '[[],0]'
	# again: nothing to reset; the encoded form straight to the API
	run "$LOOM_BIN/loom" breaker reset "$BACKEND_URL" --api "$LOOM_API"
	assert_success
	assert_output "$BACKEND_URL: the breaker was closed already"
	enc=$(jq -rn --arg t "$BACKEND_URL" '$t | @uri')
	run curl -sS -X POST "$LOOM_API/api/v1/breakers/$enc/reset"
	assert_equal "$(jq -c . <<<"$output")" \
	    "{\"target\":\"$BACKEND_URL\",\"reset\":false}"
	run curl -sS -o /dev/null -w '%{http_code}' -X POST \
	    "$LOOM_API/api/v1/breakers/not-a-url/reset"
	assert_output 400
	run "$LOOM_BIN/loom" breaker reset ftp://x --api "$LOOM_API"
	assert_failure 2
}

@test "SIGHUP with breaker.enabled = no lets held tasks go; bad breaker keys are refused" {
	loom_daemon_stop "$(cat "$LOOM_TEST_DIR/exec.pid")"
	conf=$BATS_TEST_TMPDIR/exec.conf
	printf '[breaker]\nfailures = 3\ncooldown = 5m\nmax_cooldown = 5m\n' \
	    >"$conf"
	# this executor reads the cool-down from its file, not the environment
	(
		unset LOOM_BREAKER_COOLDOWN LOOM_BREAKER_MAX_COOLDOWN
		LOOM_CONFIG=$conf LOOM_EXEC_NAME=bk-exec-hup \
		    loom_daemon_start loom-exec
		echo "$LOOM_DAEMON_PID" >"$LOOM_TEST_DIR/exec.pid"
		echo "$LOOM_DAEMON_LOG" >"$LOOM_TEST_DIR/exec.log.path"
	)
	cat >"$WF" <<EOF
id: bk-hup
tasks:
  - {id: a, url: "$B/hup/a?status=500", maxAttempts: 1}
  - {id: b, url: "$B/hup/b?status=500", maxAttempts: 1}
  - {id: c, url: "$B/hup/c?status=500", maxAttempts: 1}
  - id: gate
    type: shell
    command: ["$GATE", "$BACKEND_URL"]
  - {id: h, url: "$B/hup/h", maxAttempts: 1, dependsOn: [gate]}
EOF
	apply "$WF"
	E=$(trigger bk-hup)
	wait_for -t 20 eval '[ "$(detail "$E" | jq -r ".tasks[] |
	    select(.taskId == \"h\") | .heldBy")" = "$BACKEND_URL" ]'
	printf '[breaker]\nenabled = no\n' >"$conf"
	kill -HUP "$(cat "$LOOM_TEST_DIR/exec.pid")"
	ex=$(finished "$E")
	assert_equal "$(states "$ex")" \
	    "a=DEAD b=DEAD c=DEAD gate=SUCCESS h=SUCCESS"
	attempts_within "$ex" 1
	exec_log | grep -q "SIGHUP: circuit breakers off"
	exec_log | grep -q "1 task held for $BACKEND_URL released"
	# the breaker itself is still open: only this executor stopped asking
	assert_equal "$(target_state "$BACKEND_URL")" OPEN

	run env LOOM_BREAKER_RATE=2 "$LOOM_BIN/loom-exec" -n
	assert_failure 2
	assert_output --partial "breaker.rate"
	run env LOOM_BREAKER_COOLDOWN=1m LOOM_BREAKER_MAX_COOLDOWN=10s \
	    "$LOOM_BIN/loom-exec" -n
	assert_failure 2
	assert_output --partial "breaker.max_cooldown"
}

@test "loom status exit codes: 3 when loom-api is unreachable, 1 when the database is not ok" {
	run "$LOOM_BIN/loom" status --api http://127.0.0.1:"$DEAD_PORT"
	assert_failure 3
	# a stand-in loom-api whose database is down
	mkdir -p "$BATS_TEST_TMPDIR/fake/api/v1"
	echo '{"database":{"ok":false,"schemaVersion":null,"error":"the database is unreachable"},"daemons":null,"queue":null,"runs":null,"deadLetters":null,"breakers":null}' \
	    >"$BATS_TEST_TMPDIR/fake/api/v1/status"
	python3 -m http.server --bind 127.0.0.1 "$DEAD_PORT" \
	    --directory "$BATS_TEST_TMPDIR/fake" >/dev/null 2>&1 3>&- &
	fake=$!
	wait_for curl -sf -o /dev/null "http://127.0.0.1:$DEAD_PORT/api/v1/status"
	run "$LOOM_BIN/loom" status --api "http://127.0.0.1:$DEAD_PORT"
	kill "$fake"
	assert_failure 1
	assert_output --partial "NOT OK: the database is unreachable"
	run "$LOOM_BIN/loom" breaker
	assert_failure 2
	run "$LOOM_BIN/loom" breaker reset
	assert_failure 2
}
