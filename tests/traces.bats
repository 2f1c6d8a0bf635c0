#!/usr/bin/env bats
# OpenTelemetry traces (loom-exec(8) and loom-engine(8), TRACES) and JSON
# logs (loom.conf(5), log.format): a real OTLP/HTTP JSON receiver
# (tests/otlp-receiver.py) gets the spans of real runs; every run is one
# trace whose root is the run's span, with one child span per attempt,
# and the backend receives the attempt's span id in traceparent.  A
# collector that never answers slows no run.

bats_require_minimum_version 1.5.0

load helpers

setup_file() {
	loom_pg_start
	loom_backend_start
	export B=$BACKEND_URL/api/tasks
	export SPANS=$LOOM_TEST_DIR/spans.jsonl
	: >"$SPANS"
	receiver "$SPANS"
	export OTLP_PID=$RECEIVER_PID
	export OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$RECEIVER_PORT
	export OTEL_SERVICE_NAME=loom-test
	export OTEL_RESOURCE_ATTRIBUTES='deployment.environment=ci,team=data%20eng'
	export LOOM_TRACE_FLUSH_INTERVAL=100ms
	export LOOM_LOG_FORMAT=json LOOM_LOG_LEVEL=debug
	loom_api_start
	loom_daemon_start loom-engine
	loom_daemon_start loom-exec
	cat >"$LOOM_TEST_DIR/traced.yaml" <<-EOF
	id: traced
	tasks:
	  - {id: fetch, url: "$B/fetch"}
	  - {id: flaky, url: "$B/flaky?fail=1", dependsOn: fetch, retryPolicy: {maxAttempts: 2, initialDelay: 100ms, jitter: 0, retryOn: [TaskFailedException]}}
	EOF
	BATS_TEST_TMPDIR=$LOOM_TEST_DIR apply "$LOOM_TEST_DIR/traced.yaml"
}

teardown_file() {
	# every receiver a test started (a test's variables do not reach
	# this function: their pids are in a file)
	local p
	for p in ${OTLP_PID:-} $(cat "$LOOM_TEST_DIR/receivers.pids" 2>/dev/null); do
		kill "$p" 2>/dev/null || true
	done
	loom_stop_all
}

teardown() {
	[ -n "${BATS_TEST_COMPLETED:-}" ] || loom_show_logs
}

# receiver FILE [--blackhole]: sets RECEIVER_PID and RECEIVER_PORT.
receiver() {
	local fifo=$LOOM_TEST_DIR/otlp.$$.port word
	rm -f "$fifo"
	mkfifo "$fifo"
	python3 "$BATS_TEST_DIRNAME/otlp-receiver.py" "$@" >"$fifo" 3>&- &
	RECEIVER_PID=$!
	echo "$RECEIVER_PID" >>"$LOOM_TEST_DIR/receivers.pids"
	read -r -t 10 word RECEIVER_PORT <"$fifo"
	rm -f "$fifo"
	[ "$word" = port ]
}

# spans_of EXEC: the spans of the run's trace, one JSON line each
spans_of() {
	jq -c --arg t "$(trace_of "$1")" 'select(.span.traceId == $t)' "$SPANS"
}

# trace_of EXEC: the trace id the run's attempts carried to the backend
trace_of() {
	jq -r --arg e "$1/" 'select((.idempotencyKey // "") | startswith($e))
	    | .traceparent | split("-")[1]' "$BACKEND_LOG" | sort -u
}

# has_spans EXEC N: the receiver has N spans of the run
has_spans() {
	[ "$(spans_of "$1" | wc -l)" -ge "$2" ]
}

@test "a run is one trace: the run's span is the parent of one span per attempt" {
	E=$(trigger traced)
	run -0 finished "$E"
	assert_equal "$(jq -r .status <<<"$output")" SUCCESS
	# one trace id for all three calls of the run
	run -0 trace_of "$E"
	assert_equal "${#lines[@]}" 1
	wait_for has_spans "$E" 4
	S=$(spans_of "$E")
	# one root: the run's span, and three attempts under it
	assert_equal "$(jq -s '[.[] | select(.span.parentSpanId == null)] |
	    length' <<<"$S")" 1
	root=$(jq -s -c '.[] | select(.span.parentSpanId == null) | .span' <<<"$S")
	assert_equal "$(jq -r .name <<<"$root")" "run traced"
	assert_equal "$(jq -r '.attributes["loom.execution.id"]' <<<"$root")" "$E"
	assert_equal "$(jq -r '.attributes["loom.workflow.id"]' <<<"$root")" traced
	assert_equal "$(jq -r '.attributes["loom.status"]' <<<"$root")" SUCCESS
	assert_equal "$(jq -r .status.code <<<"$root")" 1
	rid=$(jq -r .spanId <<<"$root")
	assert_equal "$(jq -s --arg r "$rid" '[.[] | select(.span.parentSpanId
	    == $r)] | length' <<<"$S")" 3
	# attributes of each attempt
	run -0 jq -s -r '[.[] | .span | select(.parentSpanId != null) |
	    .attributes | [.["loom.task.id"], .["loom.task.attempt"],
	    .["loom.status"], .["error.type"] // "-",
	    .["http.response.status_code"], .["loom.workflow.id"]] |
	    join(" ")] | sort | .[]' <<<"$S"
	assert_output "fetch 1 SUCCESS - 200 traced
flaky 1 FAILED TaskFailedException 200 traced
flaky 2 SUCCESS - 200 traced"
	# a failed attempt is an ERROR span; the resource names the service
	assert_equal "$(jq -s -r '.[] | select(.span.attributes["loom.task.id"]
	    == "flaky" and .span.attributes["loom.task.attempt"] == "1") |
	    .span.status.code' <<<"$S")" 2
	assert_equal "$(jq -s -r '.[0].resource["service.name"]' <<<"$S")" \
	    loom-test
	assert_equal "$(jq -s -r '.[0].resource.team' <<<"$S")" "data eng"
	assert_equal "$(jq -s -r '[.[] | select(.span.parentSpanId != null) |
	    .span.kind] | unique | .[]' <<<"$S")" 3
	# each call carried its attempt's span id in traceparent
	run -0 jq -r --arg e "$E/" 'select((.idempotencyKey // "") |
	    startswith($e)) | "\(.idempotencyKey) \(.traceparent)"' "$BACKEND_LOG"
	assert_equal "${#lines[@]}" 3
	for l in "${lines[@]}"; do
		key=${l% *} tp=${l#* }
		IFS=/ read -r _ task n <<<"$key"
		span=$(jq -s -r --arg t "$task" --arg n "$n" '.[] | .span |
		    select(.attributes["loom.task.id"] == $t and
		    .attributes["loom.task.attempt"] == $n) | .spanId' <<<"$S")
		assert_equal "$tp" "00-$(trace_of "$E")-$span-01"
	done
}

@test "two runs are two traces" {
	E1=$(trigger traced)
	E2=$(trigger traced)
	finished "$E1" >/dev/null
	finished "$E2" >/dev/null
	t1=$(trace_of "$E1") t2=$(trace_of "$E2")
	[ -n "$t1" ] && [ -n "$t2" ] && [ "$t1" != "$t2" ]
	wait_for has_spans "$E1" 4
	wait_for has_spans "$E2" 4
	assert_equal "$(spans_of "$E1" | jq -s '[.[] | select(.span.parentSpanId
	    == null)] | length')" 1
}

@test "daemons log JSON with the run's context as keys" {
	E=$(trigger traced)
	finished "$E" >/dev/null
	for f in "$LOOM_TEST_DIR"/loom-engine.1.log "$LOOM_TEST_DIR"/loom-exec.1.log \
	    "$LOOM_API_LOG"; do
		# every line is one JSON object with the fixed keys
		run -0 jq -e -s 'all(.[]; (.ts | type) == "string" and
		    (.level | type) == "string" and (.daemon | type) ==
		    "string" and (.pid | type) == "number" and
		    (.msg | type) == "string")' "$f"
	done
	# loom-exec: the attempt's line names it in keys, not in the text
	run -0 jq -c --arg e "$E" 'select(.execution == $e and .task == "flaky"
	    and .attempt == 2 and .workflow == "traced")' \
	    "$LOOM_TEST_DIR"/loom-exec.1.log
	[ "${#lines[@]}" -ge 1 ]
	refute_output --partial "\"msg\":\"$E"
	assert_equal "$(jq -r .daemon <<<"${lines[0]}")" loom-exec
	# loom-engine: its passes over the run
	run -0 jq -c --arg e "$E" 'select(.execution == $e)' \
	    "$LOOM_TEST_DIR"/loom-engine.1.log
	[ "${#lines[@]}" -ge 1 ]
	# loom-api: requests with method, path, status and duration
	run -0 jq -c --arg p "/api/v1/workflows/traced/trigger" 'select(.path
	    == $p and .method == "POST" and .status == 201 and
	    (.durationMs | type) == "number")' "$LOOM_API_LOG"
	[ "${#lines[@]}" -ge 1 ]
	# ... and the run it made
	run -0 jq -c --arg e "$E" 'select(.execution == $e and .workflow ==
	    "traced")' "$LOOM_API_LOG"
	assert_equal "$(jq -r .msg <<<"${lines[0]}")" "run of version 1 created"
}

# run_time WF: seconds (with ms) from trigger to the end of a run
run_time() {
	local s e E
	s=$(date +%s%N)
	E=$(trigger "$1")
	finished "$E" >/dev/null
	e=$(date +%s%N)
	echo $(((e - s) / 1000000))
}

@test "a collector that never answers slows no run" {
	{
		echo "id: chain"
		echo "tasks:"
		echo "  - {id: t1, url: \"$B/t\"}"
		for i in $(seq 2 8); do
			echo "  - {id: t$i, url: \"$B/t\", dependsOn: t$((i - 1))}"
		done
	} >"$BATS_TEST_TMPDIR/chain.yaml"
	apply "$BATS_TEST_TMPDIR/chain.yaml"
	# tracing off
	loom_daemons_stop
	LOOM_TRACE_ENDPOINT= loom_daemon_start loom-engine
	LOOM_TRACE_ENDPOINT= loom_daemon_start loom-exec
	run_time chain >/dev/null # warm
	off=$(run_time chain)
	# a collector that takes connections and never answers (each post
	# would wait trace.timeout, 5s, if anything waited on it), and one
	# that is not there at all
	loom_daemons_stop
	receiver "$LOOM_TEST_DIR/none" --blackhole
	LOOM_TRACE_FLUSH_INTERVAL=10ms LOOM_TRACE_ENDPOINT=http://127.0.0.1:$RECEIVER_PORT/v1/traces \
	    loom_daemon_start loom-engine
	LOOM_TRACE_FLUSH_INTERVAL=10ms LOOM_TRACE_ENDPOINT=http://127.0.0.1:$RECEIVER_PORT/v1/traces \
	    loom_daemon_start loom-exec
	hole=$(run_time chain)
	hole2=$(run_time chain)
	loom_daemons_stop
	closed=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	LOOM_TRACE_FLUSH_INTERVAL=10ms LOOM_TRACE_ENDPOINT=http://127.0.0.1:$closed/v1/traces \
	    loom_daemon_start loom-engine
	LOOM_TRACE_FLUSH_INTERVAL=10ms LOOM_TRACE_ENDPOINT=http://127.0.0.1:$closed/v1/traces \
	    loom_daemon_start loom-exec
	down=$(run_time chain)
	echo "# off ${off}ms, never answers ${hole}ms ${hole2}ms, closed port ${down}ms" >&3
	[ "$hole" -lt $((off + 1500)) ]
	[ "$hole2" -lt $((off + 1500)) ]
	[ "$down" -lt $((off + 1500)) ]
	# and it says so
	wait_for grep -q 'cannot send spans' "$LOOM_DAEMON_LOG"
}

@test "loom-sched logs its fires in JSON with the workflow and the run as keys" {
	printf 'id: ticking\nschedule: "* * * * * *"\ntasks:\n  - id: a\n    command: "true"\n' \
	    >"$BATS_TEST_TMPDIR/tick.yaml"
	apply "$BATS_TEST_TMPDIR/tick.yaml"
	loom_daemon_start loom-sched
	sched_log=$LOOM_DAEMON_LOG
	fired() {
		jq -e -s 'any(.[]; .workflow == "ticking" and
		    (.execution | startswith("exec-")) and
		    (.msg | startswith("fire ")))' "$sched_log" >/dev/null
	}
	wait_for -t 20 fired
	loom_daemon_stop "$LOOM_DAEMON_PID"
	run -0 jq -e -s 'all(.[]; .daemon == "loom-sched" and
	    (.pid | type) == "number")' "$sched_log"
	E=$(jq -r -s '[.[] | select(.workflow == "ticking" and .execution)][0]
	    | .execution' "$sched_log")
	[ -n "$E" ] && [ "$E" != null ]
	# the id is a key, not part of the message
	run -1 grep -q "\"msg\":\"[^\"]*$E" "$sched_log"
}
