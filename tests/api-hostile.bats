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
	# 2 x LIMIT slow clients and the server's side of them, and more
	[ "$(ulimit -n)" -ge 1024 ] || skip "ulimit -n is below 1024"
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
	if [ -z "${BATS_TEST_COMPLETED:-}" ] && [ -n "${LOOM_API_LOG:-}" ]; then
		echo "# loom-api's log, the end:" >&3
		tail -n 20 "$LOOM_API_LOG" | sed 's/^/#   /' >&3
	fi
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

# healthz [CURL-ARGS...]: /healthz answers 200 within one second.  A
# probe's connection is itself one "still sending its request" for an
# instant, and may be the oldest such when the flood's slow clients
# reconnect around it: loom-api(8) closes it then, unanswered (curl exit
# 52), as it would any other; a health checker asks again, and so does
# this, once, at once.
healthz() {
	local t0=$EPOCHREALTIME out rc=0
	out=$(curl -sS --max-time 1 -w ' %{http_code}' "$@") || rc=$?
	if [ "$rc" = 52 ]; then
		echo "healthz $*: closed unanswered once (evicted); again" >&2
		rc=0
		out=$(curl -sS --max-time 1 -w ' %{http_code}' "$@") || rc=$?
	fi
	[ "$rc" = 0 ] || {
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

@test "twice api.max_connections of slow clients: /healthz answers within a second, over TCP and the Unix socket" {
	slow_start slow --count $((2 * LIMIT)) --interval 0.5 --duration 8 \
	    --sources 127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5,127.0.0.6,127.0.0.7,127.0.0.8,127.0.0.9
	local end=$((SECONDS + 5)) n=0
	while [ "$SECONDS" -lt "$end" ]; do
		probe_tcp
		probe_unix
		n=$((n + 1))
	done
	[ "$n" -ge 5 ]
	slow_result slow
	# each slow connection was cut off by api.request_timeout (2 s)
	jq -e '.closed_by_server >= 64 and .max_lifetime < 3.5' <<<"$result"
	probe_tcp
}

@test "one address gets api.max_connections_per_client; /healthz still answers it and everyone else" {
	slow_start greedy --count 40 --interval 0.5 --duration 6 \
	    --sources 127.0.0.10
	# the oldest over the limit are closed: 24 stay established
	wait_for bash -c "[ \$(ss -Htn state established \
	    '( src 127.0.0.10 and dport = :$API_PORT )' | wc -l) -eq 24 ]"
	probe_tcp --interface 127.0.0.10
	probe_tcp
	probe_unix
	slow_result greedy
}

@test "connections busy with answers: a newcomer over the limit gets 503 JSON, but /healthz" {
	slow_start busy --mode busy --count 24 --duration 20 \
	    --sources 127.0.0.11
	wait_for grep -q '^streaming' "$BATS_TEST_TMPDIR/busy.out"
	run -0 curl -sS --max-time 5 -D "$BATS_TEST_TMPDIR/h" \
	    --interface 127.0.0.11 "$LOOM_API/api/v1/workflows"
	echo "$output"
	jq -e '.error.code == "unavailable" and
	    (.error.message | test("max_connections_per_client"))' <<<"$output"
	grep -qi '^HTTP/1.1 503' "$BATS_TEST_TMPDIR/h"
	grep -qi '^Retry-After: 1' "$BATS_TEST_TMPDIR/h"
	probe_tcp --interface 127.0.0.11
	probe_tcp
	kill "$(cat "$BATS_TEST_TMPDIR/busy.pid")"
	slow_result busy
}

@test "a NUL byte (%00) in the path or the query is 400, not a truncated id" {
	run -0 curl -sS -w '\n%{http_code}' \
	    "$LOOM_API/api/v1/executions/exec-%00abc"
	assert_line --index 1 400
	jq -e '.error.code == "bad_request" and (.error.message | test("NUL"))' \
	    <<<"${lines[0]}"
	run -0 curl -sS -w '\n%{http_code}' \
	    "$LOOM_API/api/v1/executions?status=%00RUNNING"
	assert_line --index 1 400
	run -0 curl -sS -w '\n%{http_code}' "$LOOM_API/api/v1/executions/exec-x"
	assert_line --index 1 404
}

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

@test "a long URI or large headers get JSON 414 and 431 while the server's buffer holds them" {
	local long big
	long=$(printf 'a%.0s' {1..9000})
	big=$(printf 'b%.0s' {1..20000})
	run -0 curl -sS -w '\n%{http_code}' "$LOOM_API/$long"
	assert_line --index 1 414
	jq -e '.error.code == "uri_too_long"' <<<"${lines[0]}"
	run -0 curl -sS -w '\n%{http_code}' -H "X-Big: $big" "$LOOM_API/healthz"
	assert_line --index 1 431
	jq -e '.error.code == "headers_too_large"' <<<"${lines[0]}"
}

@test "loom-api -n checks api.request_timeout and api.max_connections_per_client" {
	printf '[api]\nrequest_timeout = 5ms\nmax_connections_per_client = 0\n' \
	    >"$BATS_TEST_TMPDIR/bad.conf"
	# (the file's own keys, not the environment of setup_file)
	unset LOOM_API_MAX_CONNECTIONS_PER_CLIENT LOOM_API_REQUEST_TIMEOUT
	run "$LOOM_BIN/loom-api" -n -c "$BATS_TEST_TMPDIR/bad.conf"
	assert_failure 1
	assert_output --partial 'api.request_timeout'
	assert_output --partial 'api.max_connections_per_client'
	printf '[api]\nrequest_timeout = 30s\nmax_connections_per_client = 8\n' \
	    >"$BATS_TEST_TMPDIR/good.conf"
	run "$LOOM_BIN/loom-api" -n -c "$BATS_TEST_TMPDIR/good.conf"
	assert_success
}
