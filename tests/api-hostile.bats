#!/usr/bin/env bats
# loom-api under hostile clients: slow ones that never finish their
# headers (slowloris), greedy ones from one address, and malformed
# requests.  Slow and greedy clients come from tests/slowclients.py,
# bounded in count and time, from several 127.0.0.0/8 source addresses
# (loopback only).  The server runs with a small connection limit so that
# twice the limit is cheap.

bats_require_minimum_version 1.5.0

load helpers

SLOW=$BATS_TEST_DIRNAME/slowclients.py
LIMIT=64

setup_file() {
	loom_pg_start
	export LOOM_API_MAX_CONNECTIONS=$LIMIT
	export LOOM_API_MAX_CONNECTIONS_PER_CLIENT=24
	export LOOM_API_REQUEST_TIMEOUT=2s
	export API_SOCK=$LOOM_TEST_DIR/api.sock
	loom_api_start --socket "$API_SOCK"
	API_PORT=${LOOM_API##*:}
	export API_PORT
}

teardown_file() {
	loom_stop_all
}

teardown() {
	# whatever a test left running: its clients, by the pids it wrote
	local p
	for p in $(cat "$BATS_TEST_TMPDIR"/*.pid 2>/dev/null); do
		kill "$p" 2>/dev/null || true
	done
}

# slow_start NAME ARGS...: slowclients.py in the background, its output in
# $BATS_TEST_TMPDIR/NAME.out; waits until it has opened its connections.
slow_start() {
	local name=$1
	shift
	python3 "$SLOW" --port "$API_PORT" "$@" \
	    >"$BATS_TEST_TMPDIR/$name.out" 2>&1 3>&- &
	echo $! >"$BATS_TEST_TMPDIR/$name.pid"
	wait_for -t 30 grep -q '^ready' "$BATS_TEST_TMPDIR/$name.out"
}

# slow_result NAME: waits (30 s at most) for it to end; sets $result to
# its JSON line.
slow_result() {
	timeout 30 tail --pid="$(cat "$BATS_TEST_TMPDIR/$1.pid")" -f /dev/null
	rm -f "$BATS_TEST_TMPDIR/$1.pid"
	result=$(tail -n 1 "$BATS_TEST_TMPDIR/$1.out")
	echo "$1: $result"
}

# healthz [CURL-ARGS...]: /healthz answers 200 within one second.
healthz() {
	local t0=$EPOCHREALTIME out
	out=$(curl -sS --max-time 1 -w ' %{http_code}' "$@") || {
		echo "healthz $*: no answer: $out" >&2
		return 1
	}
	[ "${out##* }" = 200 ] || {
		echo "healthz $*: $out" >&2
		return 1
	}
}

probe_tcp() { healthz "$@" "$LOOM_API/healthz"; }
probe_unix() { healthz --unix-socket "$API_SOCK" http://loom/healthz; }

@test "an unknown event kind is 400 with the kinds allowed, not a silent stream" {
	run -0 curl -sS --max-time 5 -w '\n%{http_code}' \
	    "$LOOM_API/api/v1/events?kind=bogus"
	assert_line --index 1 400
	jq -e '.error.field == "kind" and
	    (.error.message | test("task, run, workflow"))' <<<"${lines[0]}"
	# log lines only exist on one execution's stream
	run -0 curl -sS --max-time 5 -w '\n%{http_code}' \
	    "$LOOM_API/api/v1/events?kind=run,log"
	assert_line --index 1 400
	run -0 curl -sS --max-time 5 -w '\n%{http_code}' \
	    "$LOOM_API/api/v1/executions/exec-none/events?kind=log"
	assert_line --index 1 404
}

@test "a callback with a garbage token is 404 whatever its body" {
	local b
	for b in '{}' '{"status":"SUCCESS"}' '[]'; do
		run -0 curl -sS -w '\n%{http_code}' -H 'Content-Type: application/json' \
		    -d "$b" "$LOOM_API/api/v1/callbacks/garbage"
		assert_line --index 1 404
		run -0 curl -sS -w '\n%{http_code}' -H 'Content-Type: application/json' \
		    -d "$b" "$LOOM_API/api/v1/callbacks/exec-x~task~secret"
		assert_line --index 1 404
		jq -e '.error.field == "token"' <<<"${lines[0]}"
	done
}
