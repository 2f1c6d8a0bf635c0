#!/usr/bin/env bats
# Control sockets (loom-ipc(7), "Control sockets"), `loom status`'s
# processes, and GET /metrics (loom-api(8), METRICS): every daemon
# answers status, reload and bad lines on its socket, a second instance
# is refused and a stale socket taken over; /metrics after real runs
# holds the right values and passes promtool.

load helpers

bats_require_minimum_version 1.5.0

setup_file() {
	loom_pg_start
	loom_backend_start
	mkdir -p "$LOOM_CONTROL_DIR"
	export LOOM_LOGD_SOCKET=$LOOM_CONTROL_DIR/log.sock
	export LOOM_LOGD_SPOOL=$LOOM_TEST_DIR/log.spool
	loom_api_start
	loom_daemon_start loom-log
	loom_daemon_start loom-engine
	loom_daemon_start loom-exec
	loom_daemon_start loom-exec # the second one: loom-exec-2.sock
	loom_daemon_start loom-sched
}

teardown_file() {
	loom_stop_all
}

setup() {
	set -o pipefail # ask ... | jq -e: no answer is a failure
}

teardown() {
	[ -z "${BATS_TEST_COMPLETED:-}" ] || return 0
	for p in "$LOOM_TEST_DIR"/loom-*.log "$LOOM_API_LOG"; do
		echo "--- $p (last lines)"
		tail -n 25 "$p"
	done
}

# ask NAME LINE...: the answers of the daemon at control.dir/loom-NAME.sock
# (loom-log: its socket)
ask() {
	local s=$LOOM_CONTROL_DIR/loom-$1.sock
	[ "$1" != log ] || s=$LOOM_LOGD_SOCKET
	shift
	local out
	out=$(printf '%s\n' "$@" | timeout 20 socat -t 5 - "UNIX-CONNECT:$s") ||
	    return 1
	[ -n "$out" ] || {
		echo "no answer on $s" >&2
		return 1
	}
	printf '%s\n' "$out"
}

# metric NAME [LABEL=VALUE...]: the value of the one sample of NAME with
# those labels (in any order) in $M, the last scrape.
metric() {
	local name=$1 lines
	shift
	lines=$(grep -E "^$name(\{| )" <<<"$M") || {
		echo "no $name" >&2
		return 1
	}
	for l in "$@"; do
		lines=$(grep -F "${l%%=*}=\"${l#*=}\"" <<<"$lines") || {
			echo "no $name with $l" >&2
			return 1
		}
	done
	[ "$(wc -l <<<"$lines")" -eq 1 ] || {
		echo "several $name $*: $lines" >&2
		return 1
	}
	awk '{print $NF}' <<<"$lines"
}

scrape() {
	M=$(curl -sSf "$LOOM_API/metrics")
}

@test "control sockets: every daemon answers status with its version, pid, uptime and figures" {
	local v
	v=$(cat "$BATS_TEST_DIRNAME/../VERSION")
	for s in api engine exec exec-2 sched log; do
		run ask "$s" '{"v":1,"t":"status"}'
		assert_success
		jq -e --arg v "$v" '.v == 1 and .t == "status" and
		    .version == $v and (.pid | type) == "number" and
		    .uptime_s >= 0 and (.host | length) > 0 and
		    (.started | test("Z$")) and (.metrics | type) == "object"' \
		    <<<"$output"
	done
	[ "$(ask api '{"v":1,"t":"status"}' | jq .pid)" = "$LOOM_API_PID" ]
	ask api '{"v":1,"t":"status"}' | jq -e '.daemon == "loom-api" and
	    .listeners >= 1 and (.connections | type) == "number"'
	ask engine '{"v":1,"t":"status"}' | jq -e '.daemon == "loom-engine"
	    and .database == "connected" and .dirty_runs == 0'
	ask exec '{"v":1,"t":"status"}' | jq -e '.daemon == "loom-exec" and
	    .slots >= 1 and .running == 0 and .loom_log == "connected"'
	ask sched '{"v":1,"t":"status"}' | jq -e '.daemon == "loom-sched" and
	    .workflows == 0 and .fires == 0'
	ask log '{"v":1,"t":"status"}' | jq -e '.daemon == "loom-log" and
	    .store == "postgresql" and (.written | type) == "number"'
	# the two executors are two processes
	[ "$(ask exec '{"v":1,"t":"status"}' | jq .pid)" != \
	    "$(ask exec-2 '{"v":1,"t":"status"}' | jq .pid)" ]
	# mode 0660
	[ "$(stat -c %a "$LOOM_CONTROL_DIR/loom-engine.sock")" = 660 ]
}

@test "control sockets: reload does what SIGHUP does; bad lines get error lines and the connection goes on" {
	run ask engine '{"v":1,"t":"reload","id":7}'
	assert_output '{"v":1,"t":"reloading","id":7}'
	wait_for grep -q 'SIGHUP' "$LOOM_TEST_DIR/loom-engine.1.log"
	run ask log '{"v":1,"t":"reload"}'
	assert_output '{"v":1,"t":"reloading","id":null}'
	wait_for grep -q 'SIGHUP: reloaded' "$LOOM_TEST_DIR/loom-log.1.log"
	run ask api '{"v":1,"t":"reload"}'
	assert_output --partial '"reloading"'
	wait_for grep -q 'SIGHUP' "$LOOM_API_LOG"
	run ask exec '{"v":1,"t":"reload"}'
	assert_output --partial '"reloading"'
	wait_for grep -q 'SIGHUP: circuit breakers on' \
	    "$LOOM_TEST_DIR/loom-exec.1.log"
	! grep -q 'SIGHUP' "$LOOM_TEST_DIR/loom-exec.2.log" # only that one
	run ask sched '{"v":1,"t":"reload"}'
	assert_output --partial '"reloading"'
	wait_for grep -q 'SIGHUP: reading every workflow again' \
	    "$LOOM_TEST_DIR/loom-sched.1.log"

	run ask sched 'not json' '{"v":2,"t":"status"}' '{"v":1,"t":"nope"}' \
	    '{"v":1,"t":"ping","id":"x"}' '[1]'
	assert_success
	assert_line -n 0 '{"v":1,"t":"error","line":1,"error":"not a JSON object"}'
	assert_line -n 1 '{"v":1,"t":"error","line":2,"error":"\"v\" must be 1"}'
	assert_line -n 2 '{"v":1,"t":"error","line":3,"error":"unknown type \"nope\""}'
	assert_line -n 3 '{"v":1,"t":"pong","id":"x"}'
	assert_line -n 4 '{"v":1,"t":"error","line":5,"error":"not a JSON object"}'
	# an over-long line: an error, and the daemon lives on
	run bash -c "head -c 70000 /dev/zero | tr '\\0' x |
	    timeout 20 socat -t 5 - UNIX-CONNECT:$LOOM_CONTROL_DIR/loom-exec.sock"
	assert_output --partial '"line too long"'
	ask exec '{"v":1,"t":"ping"}' | jq -e '.t == "pong"'
	# loom-log: the same types on its one socket
	run ask log '{"v":1,"t":"bogus"}'
	assert_output --partial '"error"'
}

@test "control sockets: a second instance is refused; a stale socket file is taken over" {
	# (helpers.bash gives hand-started daemons no control socket)
	local -A ctlvar=([loom-engine]=LOOM_ENGINE_CONTROL_SOCKET
	    [loom-exec]=LOOM_EXEC_CONTROL_SOCKET
	    [loom-sched]=LOOM_SCHED_CONTROL_SOCKET)
	for d in loom-engine:1 loom-exec:5 loom-sched:1; do
		run env -u "${ctlvar[${d%:*}]}" timeout 20 "$LOOM_BIN/${d%:*}"
		[ "$status" -eq "${d#*:}" ]
		assert_output --partial "another ${d%:*} listens there"
	done
	run -1 env -u LOOM_API_CONTROL_SOCKET \
	    timeout 20 "$LOOM_BIN/loom-api" --listen 127.0.0.1:0
	assert_output --partial "another loom-api listens there"
	# the first ones still answer
	ask engine '{"v":1,"t":"ping"}' | jq -e '.t == "pong"'
	# a named executor has a socket of its own: loom-exec-NAME.sock
	env -u LOOM_EXEC_CONTROL_SOCKET \
	    "$LOOM_BIN/loom-exec" --name "w/1" 2>"$BATS_TEST_TMPDIR/w1.log" \
	    </dev/null 3>&- &
	local pid=$!
	wait_for test -S "$LOOM_CONTROL_DIR/loom-exec-w_1.sock"
	ask exec-w_1 '{"v":1,"t":"status"}' | jq -e '.name == "w/1"'
	kill "$pid"
	wait "$pid" || true
	[ ! -e "$LOOM_CONTROL_DIR/loom-exec-w_1.sock" ]

	# a socket file nobody listens on (a daemon killed with -9)
	local stale=$LOOM_TEST_DIR/stale.sock
	python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$stale"
	[ -S "$stale" ]
	loom_daemon_start loom-engine -C "$stale"
	printf '%s\n' '{"v":1,"t":"status"}' |
	    timeout 20 socat -t 5 - "UNIX-CONNECT:$stale" |
	    jq -e --arg p "$LOOM_DAEMON_PID" '.pid == ($p | tonumber)'
	loom_daemon_stop "$LOOM_DAEMON_PID"
	[ ! -e "$stale" ] # removed on a clean stop

	# a socket that cannot be made: said loudly, the daemon runs on
	loom_daemon_start loom-engine -C "$LOOM_TEST_DIR/no/such/x.sock"
	grep -q 'control socket .*no/such/x.sock.*going on without one' \
	    "$LOOM_DAEMON_LOG"
	loom_daemon_stop "$LOOM_DAEMON_PID"
}

@test "loom status shows the processes of the control sockets, with -o json, and says when one is missing" {
	run "$LOOM_BIN/loom" status --api "$LOOM_API"
	assert_success
	assert_output --partial PROCESS
	for d in loom-api loom-engine loom-exec loom-sched loom-log; do
		assert_line --regexp "^$d +$LOOM_CONTROL_DIR/"
	done
	assert_line --regexp "^loom-exec +$LOOM_CONTROL_DIR/loom-exec-2.sock +[0-9]+ "
	assert_output --partial "running 0, slots"
	run "$LOOM_BIN/loom" status --api "$LOOM_API" -o json
	assert_success
	jq -e --arg p "$LOOM_API_PID" '.processes | map(select(.ok)) |
	    length == 6 and (map(select(.daemon == "loom-api"))[0].pid ==
	    ($p | tonumber))' <<<"$output"

	# a dead socket and a missing one: said, and loom status still works
	local dir=$BATS_TEST_TMPDIR/ctl
	mkdir -p "$dir"
	python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$dir/loom-engine.sock"
	run env LOOM_CONTROL_DIR="$dir" "$LOOM_BIN/loom" status --api "$LOOM_API"
	assert_success
	assert_line --regexp "^loom-engine +$dir/loom-engine.sock .*not answering: Connection refused"
	assert_line --regexp "^loom-sched +$dir/loom-sched.sock .*not answering: no control socket"
	run env LOOM_CONTROL_DIR="$dir" "$LOOM_BIN/loom" status \
	    --api "$LOOM_API" -o json
	assert_success
	jq -e '.processes | map(select(.name == "loom-sched"))[0] |
	    .ok == false and .error == "no control socket"' <<<"$output"
}

@test "an executor's socket in an exec-* directory of control.dir is found by loom status and /metrics" {
	# as the instances of loom-exec@.service make theirs, in their
	# runtime directory /run/loom/exec-N
	local d=$LOOM_CONTROL_DIR/exec-9 pid
	mkdir -p "$d" "$LOOM_CONTROL_DIR/other"
	# only exec-* directories are looked into
	python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' \
	    "$LOOM_CONTROL_DIR/other/loom-exec-x.sock"
	env -u LOOM_EXEC_CONTROL_SOCKET "$LOOM_BIN/loom-exec" --name w9 \
	    -C "$d/loom-exec-w9.sock" 2>"$BATS_TEST_TMPDIR/w9.log" \
	    </dev/null 3>&- &
	pid=$!
	wait_for test -S "$d/loom-exec-w9.sock"
	run "$LOOM_BIN/loom" status --api "$LOOM_API"
	assert_success
	assert_line --regexp "^loom-exec +$d/loom-exec-w9.sock +[0-9]+ "
	refute_output --partial "$LOOM_CONTROL_DIR/other"
	refute_output --partial "not answering"
	scrape
	[ "$(metric loom_daemon_up daemon=loom-exec-w9)" = 1 ]
	! metric loom_daemon_up daemon=loom-exec-x 2>/dev/null
	kill "$pid"
	wait "$pid" || true
	[ ! -e "$d/loom-exec-w9.sock" ]
	rm -rf "$d" "$LOOM_CONTROL_DIR/other"
}

@test "GET /metrics after real runs: values match the runs made, and promtool passes it" {
	local T=$BATS_TEST_TMPDIR B=$BACKEND_URL/api/tasks
	cat >"$T/ok.yaml" <<EOF
id: m-ok
tasks:
  - {id: a, url: $B/a}
  - {id: b, type: shell, command: "echo '{}'", dependsOn: a}
EOF
	cat >"$T/flaky.yaml" <<EOF
id: m-flaky
tasks:
  - id: f
    url: $B/f?fail=2
    retryPolicy: {maxAttempts: 3, backoffStrategy: fixed, initialDelay: 100ms,
                  jitter: 0, retryOn: [TaskFailedException]}
EOF
	cat >"$T/bad.yaml" <<EOF
id: m-bad
tasks:
  - {id: x, url: $B/x?status=404, maxAttempts: 1}
EOF
	for f in ok flaky bad; do apply "$T/$f.yaml"; done
	local ids=()
	for _ in 1 2 3; do ids+=("$(trigger m-ok)"); done
	ids+=("$(trigger m-flaky)" "$(trigger m-bad)")
	for e in "${ids[@]}"; do finished "$e" >/dev/null; done

	scrape
	[ "$(metric loom_scheduler_executions_total workflow=m-ok \
	    trigger=manual status=SUCCESS)" = 3 ]
	[ "$(metric loom_scheduler_executions_total workflow=m-flaky \
	    status=SUCCESS)" = 1 ]
	[ "$(metric loom_scheduler_executions_total workflow=m-bad \
	    status=FAILED)" = 1 ]
	[ "$(metric loom_execution_duration_seconds_count workflow=m-ok)" = 3 ]
	[ "$(metric loom_execution_duration_seconds_bucket workflow=m-ok \
	    le=+Inf)" = 3 ]
	[ "$(metric loom_task_retries_total workflow=m-flaky)" = 2 ]
	# 3 x (a, b) + f + x
	[ "$(metric loom_tasks state=SUCCESS)" = 7 ]
	[ "$(metric loom_tasks state=DEAD)" = 1 ]
	[ "$(metric loom_tasks state=RUNNING)" = 0 ]
	[ "$(metric loom_queue_depth)" = 0 ]
	[ "$(metric loom_queue_oldest_ready_age_seconds)" = 0 ]
	[ "$(metric loom_dead_letters)" = 1 ]
	[ "$(metric loom_dispatch_latency_seconds_count)" = 8 ]
	# HTTP calls: 3 x a, 3 x f, 1 x x, over the two executors
	local target n1 n2
	target=$(sed -E 's|^(https?://[^/]+).*|\1|' <<<"$BACKEND_URL")
	n1=$(metric loom_http_callback_latency_seconds_count daemon=loom-exec \
	    "target=$target" 2>/dev/null || echo 0)
	n2=$(metric loom_http_callback_latency_seconds_count daemon=loom-exec-2 \
	    "target=$target" 2>/dev/null || echo 0)
	[ $((n1 + n2)) -eq 7 ] || {
		echo "HTTP calls $n1 + $n2, want 7"
		grep callback_latency <<<"$M"
		return 1
	}
	# the daemons' own figures
	for d in api engine exec exec-2 sched log; do
		d=loom-$d
		[ "$(metric loom_daemon_up daemon=$d)" = 1 ]
		metric loom_database_errors_total daemon=$d >/dev/null
	done
	[ "$(metric loom_log_records_written_total daemon=loom-log)" -gt 0 ]
	[ "$(metric loom_log_records_dropped_total daemon=loom-log)" = 0 ]
	metric loom_log_records_spooled_total daemon=loom-log >/dev/null
	n1=$(metric loom_exec_claimed_total daemon=loom-exec)
	n2=$(metric loom_exec_claimed_total daemon=loom-exec-2)
	[ $((n1 + n2)) -eq 10 ] # 8 tasks, f twice more
	[ "$(metric loom_engine_passes_total daemon=loom-engine)" -gt 0 ]

	run promtool check metrics <<<"$M"
	assert_success

	curl -sSf -D "$T/h" -o /dev/null "$LOOM_API/metrics"
	grep -qi '^content-type: text/plain; version=0.0.4' "$T/h"
}

@test "GET /metrics: breakers, fires and skipped fires per workflow" {
	sql "INSERT INTO breakers (target, state, opened_at)
	    VALUES ('http://203.0.113.9:80', 'OPEN', now())"
	sql "INSERT INTO schedule_fires (workflow_id, nominal_at, kind, outcome)
	    VALUES ('m-ok', now(), 'schedule', 'started'),
	           ('m-ok', now() - interval '1 minute', 'schedule', 'skipped'),
	           ('m-ok', now() - interval '2 minutes', 'backfill', 'queued')"
	scrape
	[ "$(metric loom_breaker_state target=http://203.0.113.9:80)" = 2 ]
	[ "$(metric loom_schedule_fires_total workflow=m-ok)" = 2 ]
	[ "$(metric loom_schedule_skipped_fires_total workflow=m-ok)" = 1 ]
	run promtool check metrics <<<"$M"
	assert_success
	sql "DELETE FROM breakers"
}

@test "GET /metrics needs a read token when api.auth = token" {
	local db=$LOOM_DATABASE_URL reader port url
	reader=$("$LOOM_BIN/loom" token create scraper --scope read --db "$db")
	LOOM_API_AUTH=token "$LOOM_BIN/loom-api" --listen 127.0.0.1:0 \
	    --print-url --control-socket "$BATS_TEST_TMPDIR/api2.sock" \
	    >"$BATS_TEST_TMPDIR/url" 2>"$BATS_TEST_TMPDIR/api2.log" 3>&- &
	local pid=$!
	wait_for test -s "$BATS_TEST_TMPDIR/url"
	url=$(head -1 "$BATS_TEST_TMPDIR/url")
	run curl -s -o /dev/null -w '%{http_code}' "$url/metrics"
	assert_output 401
	run curl -s -o /dev/null -w '%{http_code}' \
	    -H "Authorization: Bearer $reader" "$url/metrics"
	assert_output 200
	kill "$pid"
	wait "$pid" || true
}
