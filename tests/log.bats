#!/usr/bin/env bats
# loom-log (loom-log(8), loom-ipc(7)): the socket protocol (good lines
# stored, malformed and oversized lines answered, the peer check), a
# shell script writing with socat, loom-exec's lines through loom-log,
# loom-api's records of asynchronous attempts that failed,
# loom-log killed mid-run (loom-exec falls back, no line lost), the store
# down (spool, written later), retention, and `loom execution logs`
# --grep / --level / --since / --follow.

load helpers

bats_require_minimum_version 1.5.0

setup_file() {
	loom_pg_start
	# loom-api too: it sends the records of asynchronous attempts
	export LOOM_LOGD_SOCKET=$LOOM_TEST_DIR/log.sock
	export LOOM_LOGD_SPOOL=$LOOM_TEST_DIR/log.spool
	loom_api_start
	# asynchronous tasks call back there
	export LOOM_EXEC_CALLBACK_URL=$LOOM_API
	loom_daemon_start loom-log
	echo "$LOOM_DAEMON_PID" >"$LOOM_TEST_DIR/logd.pid"
	loom_daemon_start loom-engine
	loom_daemon_start loom-exec
	echo "$LOOM_DAEMON_LOG" >"$LOOM_TEST_DIR/exec.logname"
}

teardown_file() {
	loom_stop_all
}

setup() {
	T=$BATS_TEST_TMPDIR
	WF=$T/wf.yaml
}

teardown() {
	# what a test started beside the file's daemons
	for f in "$T/socat.pid" "$T/api.pid"; do
		[ ! -f "$f" ] || kill "$(cat "$f")" 2>/dev/null || true
	done
	[ -z "${BACKEND_PID:-}" ] || kill "$BACKEND_PID" 2>/dev/null || true
	[ -z "${BATS_TEST_COMPLETED:-}" ] || return 0
	for p in "$LOOM_TEST_DIR"/loom-*.log; do
		echo "--- $p (last lines)"
		tail -n 25 "$p"
	done
}

# send LINE...: writes the lines to loom-log with socat, prints answers.
send() {
	printf '%s\n' "$@" '{"v":1,"t":"sync","id":"end"}' |
	    timeout 20 socat -t 10 - "UNIX-CONNECT:$LOOM_LOGD_SOCKET"
}

# a run to log against: a one-task shell workflow, finished.
a_run() {
	cat >"$T/one.yaml" <<EOF
id: log-one-$1
tasks:
  - id: t
    type: shell
    command: "echo '{}'"
EOF
	apply "$T/one.yaml" >/dev/null
	E=$(trigger "log-one-$1")
	finished "$E" >/dev/null
	echo "$E"
}

lines_of() { # lines_of EXEC [STREAM]: the lines stored, in order
	sql "SELECT string_agg(line, '|' ORDER BY id) FROM task_logs
	    WHERE execution_id = '$1' AND stream = '${2:-app}'"
}

# lines_are EXEC STREAM WANT: for wait_for, which runs it again each time
lines_are() {
	[ "$(lines_of "$1" "$2" 2>/dev/null)" = "$3" ]
}

# slow_record EXEC: prints the record of task slow's failure, if there
slow_record() {
	local r
	r=$(sql "SELECT level || ' ' || line FROM task_logs
	    WHERE execution_id = '$1' AND task_id = 'slow' AND stream = 'loom'
	    AND line LIKE '%failed:%'")
	[ -n "$r" ] && echo "$r"
}

# decisions EXEC: loom-exec's records of what follows each failed attempt
# (the engine's retry decision), "task attempt level line" in order
decisions() {
	"$LOOM_BIN/loom" execution logs "$1" -o json |
	    jq -r 'select(.stream == "loom" and (.line | test(" failed \\(")))
		| "\(.taskId) \(.attempt) \(.level) \(.line)"'
}

# decisions_are EXEC N: for wait_for; N decision records are stored
decisions_are() {
	[ "$(decisions "$1" | wc -l)" -eq "$2" ]
}

# task_logs_locked: a session holds task_logs exclusively
task_logs_locked() {
	[ "$(sql "SELECT count(*) FROM pg_locks l JOIN pg_class c
	    ON c.oid = l.relation WHERE c.relname = 'task_logs'
	    AND l.mode = 'AccessExclusiveLock' AND l.granted")" = 1 ]
}

# connects_ge FILE N: loom-exec said "connected" at least N times
connects_ge() {
	[ "$(grep -c 'loom-log at .*: connected' "$1")" -ge "$2" ]
}

@test "protocol: a good line is stored; malformed, unknown and oversized lines are answered" {
	E=$(a_run proto)
	big=$(head -c 1100000 /dev/zero | tr '\0' x)
	run -0 send \
	    "{\"v\":1,\"t\":\"log\",\"execution\":\"$E\",\"task\":\"t\",\"msg\":\"first line\",\"level\":\"warn\",\"attempt\":2,\"ts\":\"2026-01-02T03:04:05.678Z\"}" \
	    'not json' \
	    '{"v":2,"t":"log"}' \
	    '{"v":1,"t":"bogus"}' \
	    "{\"v\":1,\"t\":\"log\",\"execution\":\"$E\",\"task\":\"t\"}" \
	    "{\"v\":1,\"t\":\"log\",\"execution\":\"$E\",\"task\":\"t\",\"msg\":\"x\",\"level\":\"loud\"}" \
	    "$big" \
	    '{"v":1,"t":"ping","id":5}' \
	    "{\"v\":1,\"t\":\"log\",\"execution\":\"$E\",\"task\":\"t\",\"msg\":\"after the errors\"}"
	assert_line --index 0 --partial '"line":2,"error":"not JSON'
	assert_line --index 1 '{"v":1,"t":"error","line":3,"error":"\"v\" must be 1"}'
	assert_line --index 2 --partial '"line":4,"error":"unknown message type'
	assert_line --index 3 --partial '"line":5,"error":"\"msg\" is required"'
	assert_line --index 4 --partial '"line":6,"error":"\"level\" must be'
	assert_line --index 5 --partial '"line":7,"error":"line longer than 1048576 bytes"'
	assert_line --index 6 '{"v":1,"t":"pong","id":5}'
	assert_line --index 7 '{"v":1,"t":"synced","id":"end"}'
	assert_equal "${#lines[@]}" 8
	assert_equal "$(lines_of "$E")" "first line|after the errors"
	run -0 sql "SELECT level, attempt, to_char(ts AT TIME ZONE 'UTC',
	    'YYYY-MM-DD HH24:MI:SS.MS') FROM task_logs WHERE execution_id = '$E'
	    AND line = 'first line'"
	assert_output "warn|2|2026-01-02 03:04:05.678"
	# loom-log is still there
	run -0 send '{"v":1,"t":"ping"}'
	assert_line --index 0 '{"v":1,"t":"pong","id":null}'
}

@test "a shell script writes lines with socat; the socket's mode is 0660" {
	E=$(a_run script)
	cat >"$T/job.sh" <<EOF
#!/bin/sh
for i in 1 2 3; do
	printf '{"v":1,"t":"log","execution":"%s","task":"cron","msg":"step %s","stream":"backup"}\n' "$E" "\$i"
done | socat - UNIX-CONNECT:$LOOM_LOGD_SOCKET
EOF
	chmod +x "$T/job.sh"
	"$T/job.sh"
	wait_for lines_are "$E" backup "step 1|step 2|step 3"
	assert_equal "$(stat -c %a "$LOOM_LOGD_SOCKET")" 660
}

@test "nc -U, as loom-ipc(7) shows: lines written, the sync answered" {
	command -v nc >/dev/null || skip "no nc (netcat-openbsd)"
	E=$(a_run nc)
	run -0 timeout 20 sh -c "printf '%s\n' \
	    '{\"v\":1,\"t\":\"log\",\"execution\":\"$E\",\"task\":\"t\",\"msg\":\"hello\"}' \
	    '{\"v\":1,\"t\":\"sync\",\"id\":1}' | nc -U -q 5 '$LOOM_LOGD_SOCKET'"
	assert_output '{"v":1,"t":"synced","id":1}'
	assert_equal "$(lines_of "$E")" hello
}

@test "a peer whose uid is not allowed is refused (SO_PEERCRED)" {
	[ "$(id -u)" = 0 ] || skip "needs root to connect as another user"
	command -v setpriv >/dev/null || skip "no setpriv"
	d=$LOOM_TEST_DIR/open
	mkdir -p "$d"
	chmod 777 "$d"
	LOOM_LOGD_SOCKET=$d/log.sock LOOM_LOGD_SOCKET_MODE=0666 \
	    loom_daemon_start loom-log
	pid=$LOOM_DAEMON_PID
	# socat may also fail writing to the closed socket: any status
	run setpriv --reuid=65534 --regid=65534 --clear-groups \
	    socat -t 5 - "UNIX-CONNECT:$d/log.sock" <<<'{"v":1,"t":"ping"}'
	assert_output --partial '"error":"permission denied: uid 65534'
	refute_output --partial pong
	LOOM_LOGD_SOCKET=$d/log.sock LOOM_LOGD_SOCKET_MODE=0666 \
	    LOOM_LOGD_ALLOW_UIDS=65534 "$LOOM_BIN/loom-log" -n
	# the same user, allowed
	loom_daemon_stop "$pid"
	LOOM_LOGD_SOCKET=$d/log.sock LOOM_LOGD_SOCKET_MODE=0666 \
	    LOOM_LOGD_ALLOW_UIDS=1,65534 loom_daemon_start loom-log
	run -0 setpriv --reuid=65534 --regid=65534 --clear-groups \
	    socat -t 5 - "UNIX-CONNECT:$d/log.sock" <<<'{"v":1,"t":"ping"}'
	assert_output '{"v":1,"t":"pong","id":null}'
	loom_daemon_stop "$LOOM_DAEMON_PID"
}

@test "a second loom-log on the same socket refuses to start" {
	run -1 "$LOOM_BIN/loom-log"
	assert_output --partial "another loom-log listens there"
}

@test "loom-exec sends a shell task's lines through loom-log, with its own records" {
	cat >"$WF" <<EOF
id: log-through
tasks:
  - id: talk
    type: shell
    command: "echo hello world; echo oops >&2; echo '{}'"
EOF
	apply "$WF"
	E=$(trigger log-through)
	finished "$E" >/dev/null
	assert_equal "$(lines_of "$E" stdout)" "hello world|{}"
	assert_equal "$(lines_of "$E" stderr)" "oops"
	run -0 sql "SELECT level FROM task_logs WHERE execution_id = '$E'
	    AND stream = 'stderr'"
	assert_output warn
	# the executor's own records come only through loom-log
	run -0 sql "SELECT string_agg(line, '|' ORDER BY id) FROM task_logs
	    WHERE execution_id = '$E' AND stream = 'loom'"
	assert_output --regexp '^attempt 1 dispatched by .*\|attempt 1: SUCCESS$'
	grep -q 'loom-log at .*: connected' "$(cat "$LOOM_TEST_DIR/exec.logname")"
}

@test "loom-exec's records: a failure and its class, a timeout" {
	cat >"$WF" <<EOF
id: log-retry
tasks:
  - id: flaky
    type: shell
    command: "echo trying; exit 3"
    retryPolicy:
      maxAttempts: 2
      initialDelay: 100ms
      retryOn: [TaskFailedException]
  - id: slow
    type: shell
    timeout: 500ms
    command: "sleep 5"
    retryPolicy:
      maxAttempts: 1
EOF
	apply "$WF"
	E=$(trigger log-retry)
	finished "$E" >/dev/null
	run -0 sql "SELECT string_agg(attempt || ' ' || level || ' ' || line, '|'
	    ORDER BY id) FROM task_logs WHERE execution_id = '$E'
	    AND task_id = 'flaky' AND stream = 'loom' AND line LIKE '%failed:%'"
	assert_output '1 error attempt 1 failed: TaskFailedException: exited with status 3|2 error attempt 2 failed: TaskFailedException: exited with status 3'
	# what followed each failure: a retry, then no attempt left; slow's
	# timeout is not retried (retryOn has it, but maxAttempts is 1)
	wait_for decisions_are "$E" 3
	run -0 decisions "$E"
	assert_line 'flaky 1 info attempt 1 of 2 failed (TaskFailedException): retrying as attempt 2 in about 100ms'
	assert_line 'flaky 2 error attempt 2 of 2 failed (TaskFailedException): no retry left, dead letter'
	assert_line 'slow 1 error attempt 1 of 1 failed (TimeoutException): no retry left, dead letter'
	# slow printed nothing: its result did not wait for its records
	wait_for slow_record "$E"
	run -0 slow_record "$E"
	assert_output --regexp '^warn attempt 1 failed: TimeoutException: '
}

@test "loom-exec records the retry decision of each failed attempt" {
	loom_backend_start
	# initialDelay and jitter come from the workflow's defaults, the
	# attempts from the task: the record uses the effective policy
	cat >"$WF" <<EOF
id: log-decision
defaults:
  retryPolicy:
    initialDelay: 100ms
    jitter: 0
tasks:
  - id: flaky
    type: http
    url: "$BACKEND_URL/api/tasks/flaky?fail=2&status=503"
    retryPolicy:
      maxAttempts: 3
  - id: refused
    type: http
    url: "$BACKEND_URL/api/tasks/refused?status=409"
    maxAttempts: 3
EOF
	apply "$WF"
	E=$(trigger log-decision)
	run -0 finished "$E"
	assert_equal "$(jq -r .status <<<"$output")" FAILED
	# the records go out once each result is stored, maybe after the end
	wait_for decisions_are "$E" 3
	run -0 decisions "$E"
	assert_line 'flaky 1 info attempt 1 of 3 failed (HttpServerError): retrying as attempt 2 in 100ms'
	assert_line 'flaky 2 info attempt 2 of 3 failed (HttpServerError): retrying as attempt 3 in 200ms'
	assert_line 'refused 1 error attempt 1 of 3 failed (HttpClientError): not retried (dontRetryOn), dead letter'
	# and that is what the engine did: flaky's third call succeeded, the
	# 409 was called once and is a dead letter
	run -0 sql "SELECT string_agg(task_id || ' ' || state || ' ' || attempt,
	    '|' ORDER BY task_id) FROM run_tasks WHERE execution_id = '$E'"
	assert_output 'flaky SUCCESS 3|refused DEAD 1'
	run -0 sql "SELECT count(*) FROM dead_letters WHERE execution_id = '$E'
	    AND task_id = 'refused'"
	assert_output 1
	# the policy rides in the stored request (what differs from the
	# built-in one), never in what a backend got
	run -0 sql "SELECT string_agg(task_id || ' ' || (request->'retry')::text,
	    '|' ORDER BY task_id) FROM run_tasks WHERE execution_id = '$E'"
	assert_output 'flaky {"jitter": 0, "initialDelay": 100}|refused {"jitter": 0, "initialDelay": 100}'
	run -0 grep -c '"path":"/api/tasks/' "$BACKEND_LOG"
	assert_output 4
	run -1 grep -q '"retry"\|maxAttempts' "$BACKEND_LOG"
	# run again from the failed task: a fresh budget, counted from there
	# (exit 1: the run fails again)
	run -1 "$LOOM_BIN/loom" execution retry "$E" --from-failed --wait
	wait_for decisions_are "$E" 4
	run -0 decisions "$E"
	assert_line 'refused 2 error attempt 2 (1 of 3 since the reset) failed (HttpClientError): not retried (dontRetryOn), dead letter'
}

# callback_url EXEC TASK N: the callbackUrl attempt N's request carried,
# on the loom-api of $LOOM_API (a test may start one of its own)
callback_url() {
	jq -r --arg k "$1/$2/$3" 'select(.idempotencyKey == $k) |
	    .body.callbackUrl' "$BACKEND_LOG" | head -n 1 |
	    sed "s|^http://[^/]*|$LOOM_API|"
}

# called EXEC TASK N: the backend got attempt N's request
called() {
	[ -n "$(callback_url "$@")" ]
}

# fail_back URL TYPE MESSAGE: the backend's FAILED callback, its status
fail_back() {
	curl -sS -o /dev/null -w '%{http_code}' -X POST \
	    -H 'Content-Type: application/json' --data "$(jq -nc \
	    --arg t "$2" --arg m "$3" \
	    '{status: "FAILED", error: {type: $t, message: $m}}')" "$1"
}

# async_records EXEC TASK: loom's records of TASK's failed attempts,
# "attempt level line" in order
async_records() {
	"$LOOM_BIN/loom" execution logs "$1" --task "$2" -o json |
	    jq -r 'select(.stream == "loom" and (.line | test(" failed")))
		| "\(.attempt) \(.level) \(.line)"'
}

async_records_are() { # async_records_are EXEC TASK N
	[ "$(async_records "$1" "$2" | wc -l)" -eq "$3" ]
}

@test "loom-api records the failure and the retry decision of an asynchronous attempt" {
	loom_backend_start
	# the backend answers 202 and would call back in 10 minutes: the
	# test calls back for it, FAILED
	cat >"$WF" <<EOF
id: log-async
defaults:
  retryPolicy:
    initialDelay: 100ms
    jitter: 0
tasks:
  - id: later
    type: http
    url: "$BACKEND_URL/api/tasks/later?async=1&sleep=600000"
    timeout: 60s
    retryPolicy:
      maxAttempts: 2
  - id: picky
    type: http
    url: "$BACKEND_URL/api/tasks/picky?async=1&sleep=600000"
    timeout: 60s
    maxAttempts: 3
EOF
	apply "$WF"
	E=$(trigger log-async)
	wait_for called "$E" later 1
	run -0 fail_back "$(callback_url "$E" later 1)" HttpServerError \
	    "the warehouse answered 503"
	assert_output 200
	wait_for async_records_are "$E" later 2
	run -0 async_records "$E" later
	assert_line --index 0 '1 error attempt 1 failed: HttpServerError: the warehouse answered 503'
	assert_line --index 1 '1 info attempt 1 of 2 failed (HttpServerError): retrying as attempt 2 in 100ms'
	# and the engine did retry: attempt 2 came to the backend
	wait_for called "$E" later 2
	run -0 fail_back "$(callback_url "$E" later 2)" HttpServerError \
	    "still 503"
	assert_output 200
	# a validation error is not retried, whatever attempts are left
	wait_for called "$E" picky 1
	run -0 fail_back "$(callback_url "$E" picky 1)" ValidationException \
	    "no such SKU"
	assert_output 200
	run -0 finished "$E"
	assert_equal "$(jq -r .status <<<"$output")" FAILED
	wait_for async_records_are "$E" later 4
	run -0 async_records "$E" later
	assert_line --index 2 '2 error attempt 2 failed: HttpServerError: still 503'
	assert_line --index 3 '2 error attempt 2 of 2 failed (HttpServerError): no retry left, dead letter'
	wait_for async_records_are "$E" picky 2
	run -0 async_records "$E" picky
	assert_line --index 0 '1 error attempt 1 failed: ValidationException: no such SKU'
	assert_line --index 1 '1 error attempt 1 of 3 failed (ValidationException): not retried (dontRetryOn), dead letter'
	# what the records say is what the engine did
	run -0 sql "SELECT string_agg(task_id || ' ' || state || ' ' || attempt,
	    '|' ORDER BY task_id) FROM run_tasks WHERE execution_id = '$E'"
	assert_output 'later DEAD 2|picky DEAD 1'
	run -0 sql "SELECT string_agg(task_id || ' ' || attempt || ' ' ||
	    error_type, '|' ORDER BY task_id, attempt) FROM task_executions
	    WHERE execution_id = '$E' AND status = 'FAILED'"
	assert_output 'later 1 HttpServerError|later 2 HttpServerError|picky 1 ValidationException'
	# the last callback again (a backend that posts it twice): the
	# attempt is over, 409, and no record
	run -0 fail_back "$(callback_url "$E" later 2)" HttpServerError \
	    "still 503"
	assert_output 409
	run -0 async_records "$E" later
	assert_equal "${#lines[@]}" 4
}

@test "loom-exec records the end and the retry decision of an asynchronous attempt whose callback never came" {
	loom_backend_start
	# the backend answers 202 and would call back in 10 minutes: each
	# attempt fails at its 1s timeout, in loom-exec
	cat >"$WF" <<EOF
id: log-async-overdue
defaults:
  retryPolicy:
    initialDelay: 100ms
    jitter: 0
tasks:
  - id: silent
    type: http
    url: "$BACKEND_URL/api/tasks/silent?async=1&sleep=600000"
    timeout: 1s
    retryPolicy:
      maxAttempts: 2
EOF
	apply "$WF"
	E=$(trigger log-async-overdue)
	run -0 finished "$E"
	assert_equal "$(jq -r .status <<<"$output")" FAILED
	# both attempts were called: the backend answered 202 twice
	called "$E" silent 1
	called "$E" silent 2
	# the records go out once the attempt is failed, maybe after the end
	wait_for async_records_are "$E" silent 4
	run -0 async_records "$E" silent
	assert_line --index 0 '1 warn attempt 1 failed: TimeoutException: no callback within the task timeout'
	assert_line --index 1 '1 info attempt 1 of 2 failed (TimeoutException): retrying as attempt 2 in 100ms'
	assert_line --index 2 '2 warn attempt 2 failed: TimeoutException: no callback within the task timeout'
	assert_line --index 3 '2 error attempt 2 of 2 failed (TimeoutException): no retry left, dead letter'
	# what the records say is what the engine did
	run -0 sql "SELECT task_id || ' ' || state || ' ' || attempt
	    FROM run_tasks WHERE execution_id = '$E'"
	assert_output 'silent DEAD 2'
	run -0 sql "SELECT string_agg(attempt || ' ' || status || ' ' ||
	    coalesce(error_type, '-'), '|' ORDER BY attempt, status)
	    FROM task_executions WHERE execution_id = '$E'"
	assert_output '1 ACCEPTED -|1 FAILED TimeoutException|2 ACCEPTED -|2 FAILED TimeoutException'
	run -0 sql "SELECT count(*) FROM dead_letters WHERE execution_id = '$E'
	    AND task_id = 'silent'"
	assert_output 1
}

@test "a loom-log that does not answer holds a callback 1s at most; its records are dropped" {
	loom_backend_start
	# a socket that takes every line and never answers
	mute=$T/mute.sock
	socat "UNIX-LISTEN:$mute,fork" SYSTEM:'cat >/dev/null' \
	    </dev/null >/dev/null 2>&1 3>&- &
	echo $! >"$T/socat.pid"
	wait_for test -S "$mute"
	# a loom-api of its own that sends there
	LOOM_LOGD_SOCKET=$mute loom_api_start
	echo "$LOOM_API_PID" >"$T/api.pid"
	cat >"$WF" <<EOF
id: log-async-mute
tasks:
  - id: later
    type: http
    url: "$BACKEND_URL/api/tasks/later?async=1&sleep=600000"
    timeout: 60s
    maxAttempts: 1
EOF
	apply "$WF"
	E=$(trigger log-async-mute)
	wait_for called "$E" later 1
	start=$(date +%s%N)
	run -0 fail_back "$(callback_url "$E" later 1)" HttpServerError down
	took=$((($(date +%s%N) - start) / 1000000))
	assert_output 200
	# the answer waited for loom-log, but not much longer than the bound
	[ "$took" -ge 900 ] && [ "$took" -lt 5000 ] ||
	    fail "the callback took ${took}ms"
	run -0 finished "$E"
	assert_equal "$(jq -r .status <<<"$output")" FAILED
	run -0 grep -c 'loom-log at .*mute.sock: Connection timed out; the records of asynchronous attempts that fail are dropped' "$LOOM_API_LOG"
	assert_output 1
	run -0 async_records "$E" later
	assert_output ''
}

@test "loom execution logs --grep, --level, --since, --task; the API's filters" {
	cat >"$WF" <<EOF
id: log-search
tasks:
  - id: a
    type: shell
    command: "echo 'disk almost full'; echo 'all good'; echo 'Disk check done' >&2; echo '{}'"
  - id: b
    type: shell
    dependsOn: [a]
    command: "echo 'disk fine here'; echo '{}'"
EOF
	# b after a: lines are listed in the order they came, and two tasks
	# at once would interleave theirs differently from run to run
	apply "$WF"
	E=$(trigger log-search)
	finished "$E" >/dev/null
	run -0 "$LOOM_BIN/loom" execution logs "$E" --grep disk -o json
	assert_equal "$(jq -r .line <<<"$output" | tr '\n' '|')" \
	    "disk almost full|Disk check done|disk fine here|"
	run -0 "$LOOM_BIN/loom" execution logs "$E" --grep 'disk full' -o json
	assert_equal "$(jq -r .line <<<"$output")" "disk almost full"
	run -0 "$LOOM_BIN/loom" execution logs "$E" --grep disk --task b -o json
	assert_equal "$(jq -r .line <<<"$output")" "disk fine here"
	run -0 "$LOOM_BIN/loom" execution logs "$E" --level warn -o json
	assert_equal "$(jq -r '[.line, .level, .stream] | join(" ")' <<<"$output")" \
	    "Disk check done warn stderr"
	run -0 "$LOOM_BIN/loom" execution logs "$E" --since 1h -o json
	assert_equal "$(jq -r 'select(.stream != "loom") | .line' <<<"$output" | wc -l)" 6
	run -0 "$LOOM_BIN/loom" execution logs "$E" --since 2099-01-01T00:00:00Z
	assert_output ""
	run -2 "$LOOM_BIN/loom" execution logs "$E" --since yesterday
	run -0 curl -sS "$LOOM_API/api/v1/executions/$E/logs?grep=good"
	assert_equal "$(jq -r '.logs[].line' <<<"$output")" "all good"
	run -0 curl -sS -w '%{http_code}' -o /dev/null \
	    "$LOOM_API/api/v1/executions/$E/logs?level=loud"
	assert_output 400
}

@test "--follow shows lines that come through loom-log live, and ends with the run" {
	mkfifo "$T/go"
	cat >"$WF" <<EOF
id: log-follow
tasks:
  - id: talk
    type: shell
    timeout: 30s
    command: "echo one; read x < $T/go; echo two; echo '{}'"
EOF
	apply "$WF"
	E=$(trigger log-follow)
	"$LOOM_BIN/loom" execution logs --follow "$E" >"$T/out.txt" \
	    2>"$T/err.txt" 3>&- &
	fpid=$!
	wait_for grep -q 'talk#1 \[stdout\] one' "$T/out.txt"
	run ! grep -q two "$T/out.txt"
	echo go >"$T/go"
	timeout 60 tail --pid="$fpid" -f /dev/null
	rc=0
	wait "$fpid" || rc=$?
	assert_equal "$rc" 0
	assert_equal "$(grep -c ' one$' "$T/out.txt") $(grep -c ' two$' "$T/out.txt")" "1 1"
	grep -q 'talk#1 \[loom\] attempt 1: SUCCESS' "$T/out.txt"
}

@test "loom-log killed mid-run: loom-exec falls back to the database, no line is lost" {
	mkfifo "$T/go"
	cat >"$WF" <<EOF
id: log-kill
tasks:
  - id: talk
    type: shell
    timeout: 60s
    command: "for i in 1 2 3; do echo before \$i; done; read x < $T/go; for i in 1 2 3; do echo after \$i; done; echo '{}'"
EOF
	apply "$WF"
	E=$(trigger log-kill)
	wait_for -t 20 lines_are "$E" stdout "before 1|before 2|before 3"
	kill -9 "$(cat "$LOOM_TEST_DIR/logd.pid")"
	echo go >"$T/go"
	finished "$E" >/dev/null
	# every line, in order; a line loom-log stored but had not confirmed
	# when it died may be there twice (loom-ipc(7), sync)
	run -0 sql "SELECT string_agg(line, '|' ORDER BY i) FROM (SELECT line,
	    min(id) AS i FROM task_logs WHERE execution_id = '$E'
	    AND stream = 'stdout' GROUP BY line) l"
	assert_output "before 1|before 2|before 3|after 1|after 2|after 3|{}"
	log=$(cat "$LOOM_TEST_DIR/exec.logname")
	grep -q 'task output goes to the database directly' "$log"
	# loom-log back: loom-exec finds it again
	rm -f "$LOOM_LOGD_SOCKET"
	loom_daemon_start loom-log
	echo "$LOOM_DAEMON_PID" >"$LOOM_TEST_DIR/logd.pid"
	wait_for -t 20 connects_ge "$log" 2
}

@test "the store down: records go to the spool and are written once it is back" {
	E=$(a_run spool)
	"$LOOM_BIN/loom" db stop --state-dir "$LOOM_TEST_DIR" >/dev/null 2>&1 3>&-
	run -0 send \
	    "{\"v\":1,\"t\":\"log\",\"execution\":\"$E\",\"task\":\"t\",\"msg\":\"while down 1\"}" \
	    "{\"v\":1,\"t\":\"log\",\"execution\":\"$E\",\"task\":\"t\",\"msg\":\"while down 2\"}"
	assert_line '{"v":1,"t":"synced","id":"end"}'
	[ -s "$LOOM_LOGD_SPOOL" ]
	grep -q 'while down 2' "$LOOM_LOGD_SPOOL"
	"$LOOM_BIN/loom" db start --state-dir "$LOOM_TEST_DIR" --fast \
	    >/dev/null 2>&1 3>&-
	wait_for -t 30 lines_are "$E" app "while down 1|while down 2"
	wait_for test ! -s "$LOOM_LOGD_SPOOL"
	grep -q 'spool written into the postgresql store' "$LOOM_TEST_DIR"/loom-log.*.log
}

@test "retention deletes records older than logd.retention, keeps the rest" {
	E=$(a_run keep)
	sql "INSERT INTO task_logs (execution_id, task_id, attempt, stream, line, ts)
	    VALUES ('$E', 't', 1, 'app', 'old', now() - interval '3 days'),
	    ('$E', 't', 1, 'app', 'new', now() - interval '1 hour')"
	d=$LOOM_TEST_DIR/ret
	mkdir -p "$d"
	LOOM_LOGD_SOCKET=$d/log.sock LOOM_LOGD_SPOOL=$d/spool \
	    LOOM_LOGD_RETENTION=2d LOOM_LOGD_RETENTION_INTERVAL=200ms \
	    loom_daemon_start loom-log
	wait_for lines_are "$E" app new
	wait_for grep -qE 'retention: [0-9]+ records older' "$LOOM_DAEMON_LOG"
	loom_daemon_stop "$LOOM_DAEMON_PID"
}

@test "loom-log -n checks its configuration; bad keys are refused" {
	run -0 "$LOOM_BIN/loom-log" -n
	assert_output "configuration ok"
	LOOM_LOGD_STORE=oracle run -1 "$LOOM_BIN/loom-log" -n
	assert_output --partial "logd.store: expected postgresql or mongodb"
	LOOM_LOGD_SOCKET=relative run -1 "$LOOM_BIN/loom-log" -n
	assert_output --partial "logd.socket"
	run -2 "$LOOM_BIN/loom-log" extra
}

@test "socket activation: loom-log serves the socket systemd passes it" {
	command -v systemd-socket-activate >/dev/null ||
	    skip "no systemd-socket-activate"
	d=$LOOM_TEST_DIR/act
	mkdir -p "$d"
	E=$(a_run act)
	# it passes on only the environment named with -E
	systemd-socket-activate -l "$d/log.sock" \
	    -E LOOM_LOGD_SOCKET="$d/unused.sock" -E LOOM_LOGD_SPOOL="$d/spool" \
	    -E LOOM_CONFIG -E LOOM_DATABASE_URL "$LOOM_BIN/loom-log" \
	    2>"$d/err" 3>&- &
	pid=$!
	wait_for test -S "$d/log.sock"
	run -0 timeout 20 socat -t 10 - "UNIX-CONNECT:$d/log.sock" <<EOF2
{"v":1,"t":"log","execution":"$E","task":"t","msg":"activated"}
{"v":1,"t":"sync","id":1}
EOF2
	assert_output '{"v":1,"t":"synced","id":1}'
	assert_equal "$(lines_of "$E")" activated
	[ ! -e "$d/unused.sock" ]
	kill "$pid"
	wait "$pid" || true
}

@test "-s SOCKET; SIGHUP reads logd.retention again" {
	E=$(a_run hup)
	d=$LOOM_TEST_DIR/hup
	mkdir -p "$d"
	: >"$d/loom.conf"
	sql "INSERT INTO task_logs (execution_id, task_id, attempt, stream, line, ts)
	    VALUES ('$E', 't', 1, 'app', 'old', now() - interval '3 days'),
	    ('$E', 't', 1, 'app', 'new', now())"
	LOOM_LOGD_SPOOL=$d/spool loom_daemon_start loom-log -c "$d/loom.conf" \
	    -s "$d/other.sock"
	pid=$LOOM_DAEMON_PID
	run -0 timeout 20 socat -t 5 - "UNIX-CONNECT:$d/other.sock" <<<'{"v":1,"t":"ping","id":"s"}'
	assert_output '{"v":1,"t":"pong","id":"s"}'
	[ "$(lines_of "$E")" = "old|new" ]
	printf '[logd]\nretention = 2d\n' >"$d/loom.conf"
	kill -HUP "$pid"
	wait_for lines_are "$E" app new
	grep -q 'SIGHUP: reloaded log.level and logd.retention' "$LOOM_DAEMON_LOG"
	loom_daemon_stop "$pid"
}

@test "a full spool: records past logd.spool_max are dropped, counted and reported" {
	d=$LOOM_TEST_DIR/full
	mkdir -p "$d"
	# a store that is never there: everything goes to the spool
	LOOM_DATABASE_URL="postgresql:///nope?host=$d/nowhere" \
	    LOOM_LOGD_SOCKET=$d/log.sock LOOM_LOGD_SPOOL=$d/spool \
	    LOOM_LOGD_SPOOL_MAX=1 loom_daemon_start loom-log
	pid=$LOOM_DAEMON_PID
	awk 'BEGIN { for (i = 0; i < 20000; i++)
	    printf "{\"v\":1,\"t\":\"log\",\"execution\":\"e\",\"task\":\"t\",\"msg\":\"line %d of a spool that fills up\"}\n", i
	    print "{\"v\":1,\"t\":\"sync\",\"id\":1}" }' |
	    timeout 30 socat -t 20 - "UNIX-CONNECT:$d/log.sock" >"$d/out"
	grep -q synced "$d/out"
	size=$(stat -c %s "$d/spool")
	[ "$size" -le 1048576 ]
	[ "$size" -gt 900000 ]
	wait_for grep -qE 'spool full \(logd.spool_max\): [0-9]+ records dropped so far' "$LOOM_DAEMON_LOG"
	loom_daemon_stop "$pid"
	run grep -oE 'stopped: 0 records stored, [0-9]+ spooled, [0-9]+ dropped' "$LOOM_DAEMON_LOG"
	spooled=$(grep -oE '[0-9]+ spooled' <<<"$output" | cut -d' ' -f1)
	dropped=$(grep -oE '[0-9]+ dropped' <<<"$output" | cut -d' ' -f1)
	assert_equal "$((spooled + dropped))" 20000
	assert_equal "$(wc -l <"$d/spool")" "$spooled"
}

@test "a slow store: a batch past logd.store_timeout goes to the spool, and in once the store is quick again" {
	E=$(a_run slow)
	d=$LOOM_TEST_DIR/slow
	mkdir -p "$d"
	LOOM_LOGD_SOCKET=$d/log.sock LOOM_LOGD_SPOOL=$d/spool \
	    LOOM_LOGD_STORE_TIMEOUT=300ms loom_daemon_start loom-log
	pid=$LOOM_DAEMON_PID
	# a session holds task_logs until it is told to let go
	mkfifo "$d/release"
	psql -X -q "$LOOM_DATABASE_URL" >/dev/null 2>&1 3>&- <<EOF &
BEGIN;
LOCK TABLE task_logs IN ACCESS EXCLUSIVE MODE;
\! cat $d/release >/dev/null
COMMIT;
EOF
	locker=$!
	wait_for task_logs_locked
	run -0 timeout 20 socat -t 10 - "UNIX-CONNECT:$d/log.sock" <<EOF
{"v":1,"t":"log","execution":"$E","task":"t","msg":"slow 1"}
{"v":1,"t":"log","execution":"$E","task":"t","msg":"slow 2"}
{"v":1,"t":"sync","id":1}
EOF
	assert_output '{"v":1,"t":"synced","id":1}'
	grep -q 'slow 2' "$d/spool"
	grep -q 'statement timeout' "$LOOM_DAEMON_LOG"
	echo go >"$d/release"
	wait "$locker"
	wait_for -t 20 lines_are "$E" app "slow 1|slow 2"
	loom_daemon_stop "$pid"
}

@test "loom-log not there and nothing to send: an idle loom-exec sleeps, and finds loom-log once its socket is made" {
	local sock=$BATS_TEST_TMPDIR/later.sock pid log
	LOOM_LOGD_SOCKET=$sock LOOM_EXEC_LEASE=2s LOOM_EXEC_NAME=idle-exec \
	    loom_daemon_start loom-exec
	pid=$LOOM_DAEMON_PID
	log=$LOOM_DAEMON_LOG
	grep -q 'later.sock: .*directly until it is there' "$log"
	# it does not look for loom-log on a timer (it did: after 1, 3, 7,
	# 15 s, then every minute)
	wait_for -t 30 quiet 3 "$pid"
	# the socket's directory is watched: loom-log found when it comes
	LOOM_LOGD_SOCKET=$sock LOOM_LOGD_SPOOL=$BATS_TEST_TMPDIR/spool \
	    loom_daemon_start loom-log
	wait_for -t 10 grep -q 'later.sock: connected' "$log"
	loom_daemon_stop "$LOOM_DAEMON_PID"
	loom_daemon_stop "$pid"
}

@test "an answer from loom-log that is not a JSON object is logged, and loom-exec goes on" {
	local sock=$BATS_TEST_TMPDIR/odd.sock pid log spid
	socat "UNIX-LISTEN:$sock,fork" SYSTEM:'echo "[1]"; echo "not json"; cat >/dev/null' 3>&- &
	spid=$!
	wait_for test -S "$sock"
	LOOM_LOGD_SOCKET=$sock LOOM_EXEC_NAME=odd-exec loom_daemon_start loom-exec
	pid=$LOOM_DAEMON_PID
	log=$LOOM_DAEMON_LOG
	wait_for -t 10 grep -q 'odd.sock answered: not json' "$log"
	grep -q 'odd.sock answered: \[1\]' "$log"
	kill -0 "$pid"
	loom_daemon_stop "$pid"
	kill "$spid"
}
