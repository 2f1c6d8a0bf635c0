#!/usr/bin/env bats
# Live events end to end: loom-api's server-sent event streams
# (GET /api/v1/events, GET /api/v1/executions/ID/events), the task_logs
# lines loom-exec writes (shell output, HTTP backends' "logs"), paged
# GET /api/v1/executions/ID/logs, and `loom execution logs --follow` /
# `loom events` on top of them.  Streams are read with curl -N; waits are
# on what a stream or a log file shows (wait_for, bounded), never on
# fixed sleeps.

bats_require_minimum_version 1.5.0

load helpers

setup_file() {
	loom_pg_start
	loom_backend_start
	# -d: the daemon logs each stream's end, which the tests count
	loom_api_start -d
	export LOOM_EXEC_CALLBACK_URL=$LOOM_API
	loom_daemon_start loom-engine
	loom_daemon_start loom-exec
	echo "$LOOM_DAEMON_PID" >"$LOOM_TEST_DIR/exec.pid"
	export B=$BACKEND_URL/api/tasks
}

teardown_file() {
	loom_stop_all
}

setup() {
	WF=$BATS_TEST_TMPDIR/wf.yaml
	T=$BATS_TEST_TMPDIR
}

teardown() {
	local p
	# followers a test left running
	for p in $(cat "$T"/*.pid 2>/dev/null); do
		kill "$p" 2>/dev/null || true
	done
	[ -z "${BATS_TEST_COMPLETED:-}" ] || return 0
	for p in "$LOOM_TEST_DIR"/loom-*.log "$LOOM_API_LOG"; do
		echo "--- $p (last lines)"
		tail -n 25 "$p"
	done
}

apply() {
	curl -sSf -o /dev/null -X POST -H 'Content-Type: application/yaml' \
	    --data-binary "@$1" "$LOOM_API/api/v1/workflows"
}

# finished ID: waits (long polls) until the run is terminal; prints status.
finished() {
	local s
	for _ in 1 2 3 4; do
		s=$(curl -sS "$LOOM_API/api/v1/executions/$1?wait=30s" |
		    jq -r .status)
		case $s in SUCCESS | FAILED | CANCELLED)
			echo "$s"
			return 0
			;;
		esac
	done
	return 1
}

# follow FILE PATH [CURL-ARGS...]: a stream into FILE in the background;
# returns once the server's opening comment arrived.  FILE.pid has curl's.
follow() {
	local file=$1 path=$2
	shift 2
	curl -sN "$@" "$LOOM_API$path" >"$file" 2>&1 3>&- &
	echo $! >"$file.pid"
	wait_for grep -q '^: link loom event stream' "$file"
}

# ids FILE: the "id:" of every message, in order, one per line.
ids() {
	sed -n 's/^id: //p' "$1"
}

# data FILE: every message's data, one JSON object per line.
data() {
	sed -n 's/^data: //p' "$1"
}

# task_events EXEC TASK: "from>to/attempt" of the task's events, in order.
task_events() {
	sql "SELECT string_agg(from_state || '>' || to_state || '/' || attempt,
	    ' ' ORDER BY tx, id) FROM events WHERE execution_id = '$1'
	    AND task_id = '$2'"
}

# events_are EXEC TASK EXPECTED: task_events shows EXPECTED.
events_are() {
	[ "$(task_events "$1" "$2")" = "$3" ]
}

# called KEY N: the backend was called N times with Idempotency-Key KEY.
called() {
	[ "$(jq -r --arg k "$1" 'select(.idempotencyKey == $k) | 1' \
	    "$BACKEND_LOG" | wc -l)" -eq "$2" ]
}

# transitions FILE: "task:from>to" (or "run:from>to") per event, in order.
transitions() {
	data "$1" | jq -r 'select(.kind) |
	    "\(.taskId // "run"):\(.from // "")>\(.to)"'
}

@test "a run's stream carries its transitions in order and ends after the run" {
	cat >"$WF" <<EOF
id: ev-order
tasks:
  - id: a
    url: $B/a?sleep=100
  - id: b
    url: $B/b
    dependsOn: [a]
EOF
	apply "$WF"
	E=$(trigger ev-order)
	# curl ends by itself: the server closes the stream after the run
	run -0 timeout 60 curl -sN \
	    "$LOOM_API/api/v1/executions/$E/events?since=0&kind=task,run"
	printf '%s\n' "$output" >"$T/s.txt"
	assert_equal "$(transitions "$T/s.txt" | tr '\n' ' ')" \
	    "run:>PENDING run:PENDING>RUNNING a:PENDING>READY a:READY>RUNNING a:RUNNING>SUCCESS b:PENDING>READY b:READY>RUNNING b:RUNNING>SUCCESS run:RUNNING>SUCCESS "
	# the last message says how it ended
	assert_equal "$(grep '^event:' "$T/s.txt" | tail -n 1)" "event: end"
	assert_equal "$(data "$T/s.txt" | tail -n 1 | jq -c .)" \
	    "{\"executionId\":\"$E\",\"status\":\"SUCCESS\"}"
	# every event row of the run, in the database's commit order
	assert_equal "$(ids "$T/s.txt" | tr '\n' ' ')" \
	    "$(sql "SELECT id FROM events WHERE execution_id = '$E'
	    ORDER BY tx, id" | tr '\n' ' ')"
	# the message fields
	data "$T/s.txt" | head -n 1 | jq -e --arg e "$E" '.executionId == $e
	    and .kind == "run" and .from == null and .to == "PENDING"
	    and .data.workflow == "ev-order" and (.id | type) == "number"
	    and (.createdAt | test("^20..-..-..T..:..:..\\....Z$"))'
	# a stream opened after the end replays and ends at once too
	run -0 timeout 10 curl -sN "$LOOM_API/api/v1/executions/$E/events"
	assert_output --partial "event: end"
	refute_output --partial "event: task"	# no ?since: new events only
}

@test "resuming with Last-Event-ID gets exactly the missed events" {
	cat >"$WF" <<EOF
id: ev-resume
tasks:
  - id: first
    url: $B/first
  - id: slow
    type: shell
    command: "echo working; sleep 1; echo done"
    dependsOn: [first]
  - id: last
    url: $B/last?logs=bye
    dependsOn: [slow]
EOF
	apply "$WF"
	E=$(trigger ev-resume)
	# read until "first" succeeded, then drop the connection mid-run
	timeout 30 curl -sN "$LOOM_API/api/v1/executions/$E/events?since=0" |
	    sed '/"taskId":"first","kind":"task","from":"RUNNING"/q' \
	    >"$T/part1.txt" || true
	last=$(ids "$T/part1.txt" | tail -n 1)
	[ -n "$last" ]
	# the run is still going: resume where we were
	run -0 timeout 60 curl -sN -H "Last-Event-ID: $last" \
	    "$LOOM_API/api/v1/executions/$E/events"
	printf '%s\n' "$output" >"$T/part2.txt"
	assert_equal "$(finished "$E")" SUCCESS
	run -0 timeout 10 curl -sN "$LOOM_API/api/v1/executions/$E/events?since=0"
	printf '%s\n' "$output" >"$T/full.txt"
	# no gap, no duplicate: the two parts are the whole stream
	assert_equal "$( (ids "$T/part1.txt"; ids "$T/part2.txt") | tr '\n' ' ')" \
	    "$(ids "$T/full.txt" | tr '\n' ' ')"
	[ "$(ids "$T/full.txt" | sort | uniq -d | wc -l)" -eq 0 ]
	# log lines ride in the same id sequence
	grep -q '"line":"working"' "$T/full.txt"
	grep -q '"line":"bye"' "$T/full.txt"
	# ?since= resumes the same way; the header wins over it
	run -0 timeout 10 curl -sN "$LOOM_API/api/v1/executions/$E/events?since=$last"
	assert_equal "$(printf '%s\n' "$output" | sed -n 's/^id: //p' |
	    tr '\n' ' ')" "$(ids "$T/part2.txt" | tr '\n' ' ')"
	run -0 timeout 10 curl -sN -H "Last-Event-ID: $last" \
	    "$LOOM_API/api/v1/executions/$E/events?since=0"
	assert_equal "$(printf '%s\n' "$output" | sed -n 's/^id: //p' |
	    tr '\n' ' ')" "$(ids "$T/part2.txt" | tr '\n' ' ')"
	# bad resume points are refused
	run curl -sS "$LOOM_API/api/v1/executions/$E/events?since=x"
	assert_output --partial '"code":"bad_request"'
	run curl -sS "$LOOM_API/api/v1/executions/exec-nope/events"
	assert_output --partial '"code":"not_found"'
}

@test "the global stream sees two runs; ?workflow= and ?kind= filter it" {
	for w in ev-g1 ev-g2; do
		printf 'id: %s\ntasks:\n  - id: t\n    url: %s/%s\n' \
		    "$w" "$B" "$w" >"$T/$w.yaml"
		apply "$T/$w.yaml"
	done
	follow "$T/all.txt" /api/v1/events
	follow "$T/g1.txt" '/api/v1/events?workflow=ev-g1'
	follow "$T/runs.txt" '/api/v1/events?kind=run'
	E1=$(trigger ev-g1)
	E2=$(trigger ev-g2)
	assert_equal "$(finished "$E1") $(finished "$E2")" "SUCCESS SUCCESS"
	for e in "$E1" "$E2"; do
		wait_for grep -q "\"executionId\":\"$e\",\"taskId\":null,\"kind\":\"run\",\"from\":\"RUNNING\",\"to\":\"SUCCESS\"" "$T/all.txt"
	done
	wait_for grep -q "\"executionId\":\"$E1\",\"taskId\":null,\"kind\":\"run\",\"from\":\"RUNNING\"" "$T/g1.txt"
	wait_for grep -q "\"executionId\":\"$E2\",\"taskId\":null,\"kind\":\"run\",\"from\":\"RUNNING\"" "$T/runs.txt"
	# each run's events arrived in the run's own order, once
	for e in "$E1" "$E2"; do
		assert_equal "$(data "$T/all.txt" | jq -r --arg e "$e" \
		    'select(.executionId == $e) | .id' | tr '\n' ' ')" \
		    "$(sql "SELECT id FROM events WHERE execution_id = '$e'
		    ORDER BY tx, id" | tr '\n' ' ')"
	done
	# the filters
	run -0 bash -c "sed -n 's/^data: //p' '$T/g1.txt' | jq -r .executionId | sort -u"
	assert_output "$E1"
	run -0 bash -c "sed -n 's/^data: //p' '$T/runs.txt' | jq -r .kind | sort -u"
	assert_output run
	# a workflow applied now is an event too, and rings the bell at once
	printf 'id: ev-g3\ntasks:\n  - id: t\n    url: %s/g3\n' "$B" \
	    >"$T/ev-g3.yaml"
	apply "$T/ev-g3.yaml"
	wait_for grep -q '"kind":"workflow".*"workflow":"ev-g3"' "$T/all.txt"
	# the global stream never ends by itself
	kill -0 "$(cat "$T/all.txt.pid")"
}

@test "50 concurrent followers while /healthz still answers quickly" {
	printf 'id: ev-many\ntasks:\n  - id: t\n    url: %s/many\n' "$B" >"$WF"
	apply "$WF"
	before=$(grep -c 'stream /api/v1/events ended' "$LOOM_API_LOG" || true)
	for i in $(seq 1 50); do
		curl -sN "$LOOM_API/api/v1/events" >"$T/f$i.txt" 2>&1 3>&- &
		echo $! >"$T/f$i.pid"
	done
	wait_for -t 20 bash -c "[ \$(grep -l '^: link loom event stream' '$T'/f*.txt | wc -l) -eq 50 ]"
	# the 50 hold no worker thread: requests are answered at once
	for _ in 1 2 3 4 5; do
		t=$(curl -sS -o /dev/null -w '%{time_total}' "$LOOM_API/healthz")
		awk -v t="$t" 'BEGIN { exit !(t < 0.5) }'
	done
	E=$(trigger ev-many)
	assert_equal "$(finished "$E")" SUCCESS
	wait_for -t 20 bash -c "[ \$(grep -l '\"executionId\":\"$E\",\"taskId\":null,\"kind\":\"run\",\"from\":\"RUNNING\"' '$T'/f*.txt | wc -l) -eq 50 ]"
	# they all go away; the daemon notices every one
	kill $(cat "$T"/f*.pid)
	wait_for -t 20 bash -c "[ \$(grep -c 'stream /api/v1/events ended' '$LOOM_API_LOG') -ge $((before + 50)) ]"
	run -0 curl -sSf "$LOOM_API/healthz"
}

@test "a client hanging up frees its stream: max_streams, 503, heartbeats" {
	local api=$LOOM_API pid=$LOOM_API_PID log=$LOOM_API_LOG
	# a second server: two streams at most, a heartbeat every 200ms
	LOOM_API_MAX_STREAMS=2 LOOM_API_STREAM_HEARTBEAT=200ms loom_api_start -d
	echo "$LOOM_API_PID" >"$T/api2.pid"
	follow "$T/a.txt" /api/v1/events
	follow "$T/b.txt" /api/v1/events
	run -0 curl -sS -D "$T/h.txt" -o "$T/503.json" "$LOOM_API/api/v1/events"
	grep -q '^HTTP/1.1 503' "$T/h.txt"
	grep -qi '^Retry-After: 5' "$T/h.txt"
	jq -e '.error.message | test("max_streams")' "$T/503.json"
	# heartbeats keep an idle stream talking
	wait_for grep -q '^: ping' "$T/a.txt"
	# one client goes away mid-stream: its slot is free again
	kill "$(cat "$T/a.txt.pid")"
	wait_for grep -q 'ended (the client hung up)' "$LOOM_API_LOG"
	follow "$T/c.txt" /api/v1/events
	run -0 curl -sSf "$LOOM_API/healthz"
	kill "$(cat "$T/b.txt.pid")" "$(cat "$T/c.txt.pid")"
	# it stops cleanly with streams open and closed
	follow "$T/d.txt" /api/v1/events
	loom_api_stop
	wait_for bash -c "! kill -0 $(cat "$T/d.txt.pid") 2>/dev/null"
	grep -q 'stopped' "$LOOM_API_LOG"
	run ! grep -q 'still open at exit' "$LOOM_API_LOG"
	export LOOM_API=$api LOOM_API_PID=$pid LOOM_API_LOG=$log
}

@test "loom execution logs --follow shows a shell task's lines live, exit 0" {
	mkfifo "$T/go"
	cat >"$WF" <<EOF
id: ev-live
tasks:
  - id: talk
    type: shell
    timeout: 30s
    command: "echo one; echo warn >&2; read x < $T/go; echo two; echo '{}'"
EOF
	apply "$WF"
	E=$(trigger ev-live)
	"$LOOM_BIN/loom" execution logs --follow "$E" >"$T/out.txt" \
	    2>"$T/err.txt" 3>&- &
	fpid=$!
	echo $fpid >"$T/f.pid"
	# the first lines show while the task still waits
	wait_for grep -q 'talk#1 \[stdout\] one' "$T/out.txt"
	wait_for grep -q 'talk#1 \[stderr\] warn' "$T/out.txt"
	run ! grep -q two "$T/out.txt"
	echo go >"$T/go"
	timeout 60 tail --pid="$fpid" -f /dev/null
	rc=0
	wait "$fpid" || rc=$?
	assert_equal "$rc" 0
	run -0 cat "$T/out.txt"
	assert_line --index 0 --regexp '^[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3} talk#1 \[stdout\] one$'
	assert_line --regexp 'talk#1 \[stdout\] two$'
	assert_equal "$(grep -c ' one$' "$T/out.txt") $(grep -c ' two$' "$T/out.txt")" "1 1"
	# the same lines, after the fact, as text and as JSON
	run -0 "$LOOM_BIN/loom" execution logs "$E"
	assert_equal "$(printf '%s\n' "$output" | sed 's/^[^ ]* //')" \
	    "$(sed 's/^[^ ]* //' "$T/out.txt")"
	run -0 "$LOOM_BIN/loom" execution logs "$E" -o json
	assert_equal "$(printf '%s\n' "$output" | jq -r .line | tr '\n' ' ')" \
	    "one warn two {} "
	printf '%s\n' "$output" | head -n 1 | jq -e --arg e "$E" \
	    '.executionId == $e and .taskId == "talk" and .attempt == 1 and
	    .stream == "stdout" and (.id | type) == "number"'
	# paging: after= and limit=
	first=$(curl -sS "$LOOM_API/api/v1/executions/$E/logs?limit=1")
	assert_equal "$(jq -c '[.logs[].line, (.next | type)]' <<<"$first")" \
	    '["one","number"]'
	rest=$(curl -sS "$LOOM_API/api/v1/executions/$E/logs?after=$(jq .next <<<"$first")")
	assert_equal "$(jq -c '[[.logs[].line], .next]' <<<"$rest")" \
	    '[["warn","two","{}"],null]'
}

@test "loom execution logs --follow exits 1 for a failed run; loom events --execution" {
	cat >"$WF" <<EOF
id: ev-fail
tasks:
  - id: bad
    type: shell
    command: "echo before failing; exit 3"
EOF
	apply "$WF"
	E=$(trigger ev-fail)
	run -1 timeout 60 "$LOOM_BIN/loom" execution logs --follow "$E"
	assert_output --regexp 'bad#1 \[stdout\] before failing$'
	run -1 timeout 60 "$LOOM_BIN/loom" events --execution "$E"
	assert_line --regexp " run $E - RUNNING -> FAILED$"
	assert_line --regexp " log $E bad#1 \\[stdout\\] before failing$"
	run -1 timeout 60 "$LOOM_BIN/loom" events --execution "$E" -o json
	assert_equal "$(printf '%s\n' "$output" | jq -r 'select(.kind == "run") | .to' | tail -n 1)" FAILED
	run -4 "$LOOM_BIN/loom" execution logs --follow exec-nope
	run -4 "$LOOM_BIN/loom" execution logs exec-nope
	run -2 "$LOOM_BIN/loom" events --since x
}

@test "HTTP backends' logs (answers and callbacks) become log lines" {
	cat >"$WF" <<EOF
id: ev-http-logs
tasks:
  - id: sync
    url: $B/sync?logs=alpha%0Abeta%0D%0Agamma
  - id: async
    url: $B/async?async=1&sleep=50&logs=from%20the%20callback
    timeout: 30s
EOF
	apply "$WF"
	E=$(trigger ev-http-logs)
	assert_equal "$(finished "$E")" SUCCESS
	run -0 curl -sS "$LOOM_API/api/v1/executions/$E/logs?task=sync"
	assert_equal "$(jq -c '[.logs[] | [.stream, .line, .attempt]]' <<<"$output")" \
	    '[["backend","alpha",1],["backend","beta",1],["backend","gamma",1]]'
	run -0 curl -sS "$LOOM_API/api/v1/executions/$E/logs?task=async"
	assert_equal "$(jq -c '[.logs[] | [.stream, .line]]' <<<"$output")" \
	    '[["backend","from the callback"]]'
	# and in the run's stream, as "log" messages
	run -0 timeout 10 curl -sN "$LOOM_API/api/v1/executions/$E/events?since=0&kind=log"
	[ "$(printf '%s\n' "$output" | grep -c '^event: log')" -eq 4 ]
	refute_output --partial 'event: task'
}

@test "loom execution logs --follow survives a loom-api restart" {
	mkfifo "$T/go"
	cat >"$WF" <<EOF
id: ev-restart
tasks:
  - id: talk
    type: shell
    timeout: 60s
    command: "echo before; read x < $T/go; echo after; echo '{}'"
EOF
	apply "$WF"
	E=$(trigger ev-restart)
	"$LOOM_BIN/loom" execution logs --follow "$E" >"$T/out.txt" \
	    2>"$T/err.txt" 3>&- &
	fpid=$!
	echo $fpid >"$T/f.pid"
	wait_for grep -q 'talk#1 \[stdout\] before' "$T/out.txt"
	# the same address again: the follower reconnects with Last-Event-ID
	port=${LOOM_API##*:}
	loom_api_stop
	loom_api_start -d --listen "127.0.0.1:$port"
	# teardown_file only knows the first server: stop this one too
	echo "$LOOM_API_PID" >>"$LOOM_TEST_DIR/daemons.pids"
	echo go >"$T/go"
	timeout 60 tail --pid="$fpid" -f /dev/null
	rc=0
	wait "$fpid" || rc=$?
	assert_equal "$rc" 0
	assert_equal "$(sed 's/^[^ ]* //' "$T/out.txt" | tr '\n' '|')" \
	    "talk#1 [stdout] before|talk#1 [stdout] after|talk#1 [stdout] {}|"
}

@test "a task is seen RUNNING while it runs: loom events, the run's stream, the API" {
	g=ev-running-$RANDOM$RANDOM
	printf 'id: ev-running\ntasks:\n  - {id: slow, url: "%s/slow?gate=%s", timeout: 60s}\n' \
	    "$B" "$g" >"$WF"
	apply "$WF"
	E=$(trigger ev-running)
	follow "$T/s.txt" "/api/v1/executions/$E/events?since=0"
	"$LOOM_BIN/loom" events --execution "$E" >"$T/ev.txt" 2>&1 3>&- &
	echo $! >"$T/ev.pid"
	# the backend holds the call: the task is running, and says so
	wait_for -t 20 grep -q "slow#1 READY -> RUNNING$" "$T/ev.txt"
	wait_for grep -q '"taskId":"slow","kind":"task","from":"READY","to":"RUNNING"' \
	    "$T/s.txt"
	assert_equal "$(curl -sS "$LOOM_API/api/v1/executions/$E" |
	    jq -r '.tasks[] | select(.taskId == "slow") | .state')" RUNNING
	wait_for called "$E/slow/1" 1
	run ! grep -q "RUNNING -> SUCCESS" "$T/ev.txt"
	open_gate "$g"
	assert_equal "$(finished "$E")" SUCCESS
	wait_for grep -q "run $E - RUNNING -> SUCCESS$" "$T/ev.txt"
	# once each: the engine wrote no second READY -> RUNNING
	assert_equal "$(task_events "$E" slow)" \
	    "PENDING>READY/1 READY>RUNNING/1 RUNNING>SUCCESS/1"
	assert_equal "$(grep -c 'slow#1 READY -> RUNNING$' "$T/ev.txt")" 1
}

@test "a task taken over after its executor's lease expired leaves the lost attempt's events" {
	g=ev-lease-$RANDOM$RANDOM
	loom_daemon_stop "$(cat "$LOOM_TEST_DIR/exec.pid")"
	LOOM_EXEC_NAME=ev-exec-lost LOOM_EXEC_LEASE=1s \
	    loom_daemon_start loom-exec
	lost=$LOOM_DAEMON_PID
	printf 'id: ev-lease\ntasks:\n  - {id: slow, url: "%s/slow?gate=%s", timeout: 60s}\n' \
	    "$B" "$g" >"$WF"
	apply "$WF"
	E=$(trigger ev-lease)
	wait_for -t 20 called "$E/slow/1" 1
	kill -KILL "$lost"
	loom_daemon_stop "$lost" || true	# reaped
	# the survivor takes the attempt over once the lease ran out
	LOOM_EXEC_NAME=ev-exec-survivor loom_daemon_start loom-exec
	echo "$LOOM_DAEMON_PID" >"$LOOM_TEST_DIR/exec.pid"
	wait_for -t 20 called "$E/slow/1" 2
	wait_for events_are "$E" slow \
	    "PENDING>READY/1 READY>RUNNING/1 RUNNING>FAILED/1 FAILED>RETRY/1 RETRY>READY/1 READY>RUNNING/1"
	assert_equal "$(sql "SELECT data::text FROM events WHERE
	    execution_id = '$E' AND to_state = 'FAILED'")" \
	    '{"reason": "lease expired", "executor": "ev-exec-lost"}'
	open_gate "$g"
	assert_equal "$(finished "$E")" SUCCESS
	assert_equal "$(task_events "$E" slow)" \
	    "PENDING>READY/1 READY>RUNNING/1 RUNNING>FAILED/1 FAILED>RETRY/1 RETRY>READY/1 READY>RUNNING/1 RUNNING>SUCCESS/1"
	# one attempt in the history, recorded by the survivor
	assert_equal "$(sql "SELECT attempt || ' ' || executor FROM
	    task_executions WHERE execution_id = '$E'")" "1 ev-exec-survivor"
}
