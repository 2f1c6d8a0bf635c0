#!/usr/bin/env bats
# loom up: the whole stack -- a private PostgreSQL cluster, loom-engine, loom-sched,
# loom-exec, loom-api and the example backend -- under a throwaway state
# directory, driven the way a newcomer drives it.  Waits are on events
# (the "ready" line, log lines, a process ending) or bounded readiness
# checks, never on fixed sleeps.

bats_require_minimum_version 1.5.0

load proc-helpers

# The directory of the programs under test.
bin_dir() {
	local root="$BATS_TEST_DIRNAME/.." b
	if [ -n "${LOOM_BIN:-}" ] && [ -x "$LOOM_BIN/loom" ]; then
		echo "$LOOM_BIN"
		return
	fi
	case "${BUILD:-build}" in
	/*) b=$BUILD ;;
	*) b=$root/${BUILD:-build} ;;
	esac
	echo "$b/bin"
}

# A TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 20000))
		if ! (exec 5<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# up_wait_line FILE REGEX PID [SECONDS]: waits until a line of FILE
# matches REGEX (also counting lines already there); fails when PID ends
# first or after SECONDS (60).  tail waits on inotify, not a timer.
up_wait_line() {
	# -F: FILE may not be there yet (the shell that started PID opens
	# its redirections after $! is known); -f would give up at once.
	timeout "${4:-60}" grep -q -m1 -E "$2" \
	    <(tail --pid="$3" -n +1 -F "$1" 3>&- 2>/dev/null)
}

# up_wait_until SECONDS CMD...: runs CMD until it succeeds, for at most
# SECONDS; for readiness that has no event to wait on (a port answering).
up_wait_until() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.1
	done
}

# Starts `loom up` in the background (stdout/stderr to $STATE/up.$1.out
# and .err), records its pid in $STATE/up.pid and, when it ends, its exit
# status in $STATE/up.status; waits for "ready".
start_up() {
	local tag=$1
	rm -f "$STATE/up.pid" "$STATE/up.status"
	(
		"$LOOM" up --state-dir "$STATE" --fast \
		    --listen "127.0.0.1:$PORT" >"$STATE/up.$tag.out" \
		    2>"$STATE/up.$tag.err" 3>&- &
		echo $! >"$STATE/up.pid"
		wait $!
		echo $? >"$STATE/up.status"
	) 3>&- &
	up_wait_until 10 test -s "$STATE/up.pid"
	if ! up_wait_line "$STATE/up.$tag.out" '^ready$' "$(cat "$STATE/up.pid")" 90
	then
		echo "# loom up did not become ready; its stderr:" >&3
		sed 's/^/#   /' "$STATE/up.$tag.err" >&3
		return 1
	fi
}

# Stops the running `loom up` with SIGTERM and waits for it to end.
stop_up() {
	local pid
	pid=$(cat "$STATE/up.pid" 2>/dev/null) || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	timeout 30 tail --pid="$pid" -f /dev/null 3>&-
	up_wait_until 10 test -s "$STATE/up.status"
}

gone() {
	! kill -0 "$1" 2>/dev/null
}

api_healthy() {
	curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null
}

setup_file() {
	export LOOM
	LOOM="$(bin_dir)/loom"
	export STATE
	STATE=$(mktemp -d /tmp/loom-up-test.XXXXXX)
	# As root the server runs as postgres, which must reach the cluster.
	chmod 755 "$STATE"
	export PORT
	PORT=$(free_port)
	export LOOM_DATADIR="$BATS_TEST_DIRNAME/../contrib"
	: >"$STATE/empty.conf"
	export LOOM_CONFIG="$STATE/empty.conf"
	# MONGOC_DISABLE_SHM: loom up is to set it (a test below checks)
	unset LOOM_API LOOM_DATABASE_URL LOOM_STATE_DIR MONGOC_DISABLE_SHM
	export API="http://127.0.0.1:$PORT"
	start_up first
}

teardown_file() {
	stop_up
	"$LOOM" db stop --state-dir "$STATE" >/dev/null 2>&1 || true
	rm -rf "$STATE"
}

setup() {
	load '/usr/lib/bats/bats-support/load'
	load '/usr/lib/bats/bats-assert/load'
}

@test "loom up prints where everything is, then 'ready'" {
	run cat "$STATE/up.first.out"
	assert_line --index 0 'Link Loom is up.'
	assert_line "  API:  http://127.0.0.1:$PORT"
	assert_line "        unix:$STATE/run/api.sock"
	assert_line "  UI:   http://127.0.0.1:$PORT/"
	assert_line --regexp "^  DB:   postgresql:///loom\?host=$STATE/run"
	assert_line '  Sample workflow: sample-report'
	assert_line --regexp '^  Sample backend:  http://127\.0\.0\.1:[0-9]+$'
	assert_line --partial 'loom workflow trigger sample-report'
	assert_equal "${lines[-1]}" ready
	run cat "$STATE/up.first.err"
	assert_output --partial 'creating a PostgreSQL cluster'
	assert_output --partial 'started loom-api'
	assert_output --partial 'started loom-sched'
}

@test "loom-sched runs under loom up: a seconds schedule fires" {
	f=$STATE/tick.yaml
	printf 'id: up-tick\nschedule: "*/2 * * * * *"\ntasks:\n  - id: a\n    command: "true"\n' >"$f"
	"$LOOM" workflow apply --api "$API" "$f"
	ticked() {
		"$LOOM" workflow history up-tick --api "$API" -o json |
		    jq -e '[.executions[] | select(.trigger == "schedule")] | length >= 2' >/dev/null
	}
	up_wait_until 30 ticked
	"$LOOM" workflow pause up-tick --api "$API"
}

@test "loom up runs loom-log on DIR/run/log.sock and loom-exec writes there" {
	[ -S "$STATE/run/log.sock" ]
	up_wait_until 20 grep -q 'loom-exec: loom-log at .*/run/log.sock: connected' \
	    "$STATE/up.first.err"
	run cat "$STATE/up.first.err"
	assert_output --partial 'started loom-log'
}

@test "loom-api and loom-log run with MONGOC_DISABLE_SHM=1: no /dev/shm/mongoc-PID" {
	local up d pid out
	up=$(cat "$STATE/up.pid")
	for d in loom-api loom-log; do
		pid=$(pgrep -P "$up" -x "$d")
		[ -n "$pid" ] || fail "no $d under loom up ($up)"
		out=$(has_env "$pid" MONGOC_DISABLE_SHM=1) || fail "$d: $out"
		[ ! -e "/dev/shm/mongoc-$pid" ] ||
		    fail "$d ($pid) made /dev/shm/mongoc-$pid"
	done
}

@test "loom up's daemons answer on their control sockets in DIR/run; loom status shows them" {
	for d in loom-api loom-engine loom-sched; do
		[ -S "$STATE/run/$d.sock" ]
	done
	run env LOOM_CONTROL_DIR="$STATE/run" "$LOOM" status --api "$API" -o json
	assert_success
	jq -e '.processes | map(select(.ok) | .daemon) | sort ==
	    ["loom-api", "loom-engine", "loom-exec", "loom-log", "loom-sched"]' \
	    <<<"$output"
}

@test "the API answers /healthz over TCP and over the Unix socket" {
	run curl -sf "$API/healthz"
	assert_success
	assert_output --partial '"ok"'
	run curl -sf --unix-socket "$STATE/run/api.sock" http://localhost/healthz
	assert_success
	assert_output --partial '"ok"'
	run curl -sf "$API/readyz"
	assert_success
}

@test "the UI's address serves the web UI when the build has it" {
	[ -f "$(bin_dir)/../share/loom/ui/index.html" ] ||
	    skip "the web UI is not built (make ui needs npm)"
	run curl -sS -o /dev/null -w '%{http_code} %{content_type}' "$API/"
	assert_output '200 text/html; charset=utf-8'
}

@test "the sample workflow is applied" {
	run "$LOOM" workflow describe sample-report --api "$API" -o json
	assert_success
	assert_equal "$(jq -r .id <<<"$output")" sample-report
	assert_equal "$(jq -r .version <<<"$output")" 1
	assert_equal "$(jq -r '.spec.tasks | length' <<<"$output")" 4
}

@test "the CLI finds the API by --api, \$LOOM_API and the socket" {
	run "$LOOM" workflow list --api "unix:$STATE/run/api.sock"
	assert_success
	assert_output --partial sample-report
	LOOM_API="$API" run "$LOOM" workflow list
	assert_success
	assert_output --partial sample-report
	# The default: unix:STATEDIR/run/api.sock when it exists.
	LOOM_STATE_DIR="$STATE" run "$LOOM" workflow list
	assert_success
	assert_output --partial sample-report
}

# The sample backend's URL from the banner of `loom up` (FILE).
backend_of() {
	sed -n 's/^  Sample backend: *//p' "$1"
}

@test "the example backend serves the sample's tasks" {
	local url
	url=$(backend_of "$STATE/up.first.out")
	[[ $url == http://127.0.0.1:* ]]
	run curl -sf -X POST -H 'Content-Type: application/json' \
	    -d '{"executionId":"exec-t","taskId":"fetch_data","attempt":1,"input":{"limit":7,"date":"2024-01-14"}}' \
	    "$url/api/tasks/fetch-data"
	assert_success
	assert_equal "$(jq -r .status <<<"$output")" SUCCESS
	assert_equal "$(jq -r .output.recordCount <<<"$output")" 7
	assert_equal "$(jq -r '.output.checksum | length' <<<"$output")" 16
}

@test "a second stack on this host gets its own backend port and its sample runs" {
	local other port mine theirs pid
	# as root the server runs as postgres, which must reach the cluster
	other=$(mktemp -d /tmp/loom-up-other.XXXXXX)
	chmod 755 "$other"
	port=$(free_port)
	(
		exec "$LOOM" up --state-dir "$other" --fast \
		    --listen "127.0.0.1:$port" >"$other/up.out" \
		    2>"$other/up.err" 3>&-
	) 3>&- &
	pid=$!
	up_wait_line "$other/up.out" '^ready$' "$pid" 90 || {
		sed 's/^/# /' "$other/up.err" >&3
		kill "$pid"
		rm -rf "$other"
		false
	}
	mine=$(backend_of "$STATE/up.first.out")
	theirs=$(backend_of "$other/up.out")
	[ -n "$theirs" ] && [ "$theirs" != "$mine" ]
	"$LOOM" workflow describe sample-report --api "http://127.0.0.1:$port" \
	    -o json >"$other/describe.json"
	run "$LOOM" workflow trigger sample-report --api "http://127.0.0.1:$port" \
	    --wait --timeout 60s -o json
	kill -TERM "$pid"
	timeout 30 tail --pid="$pid" -f /dev/null 3>&-
	"$LOOM" db stop --state-dir "$other" >/dev/null 2>&1 || true
	cp "$other/describe.json" "$BATS_TEST_TMPDIR/"
	rm -rf "$other"
	assert_success
	assert_equal "$(jq -r .status <<<"$output")" SUCCESS
	# the second stack's sample calls the second backend
	run jq -r '.spec.tasks[].url' "$BATS_TEST_TMPDIR/describe.json"
	assert_success
	[ "${#lines[@]}" -eq 4 ]
	for u in "${lines[@]}"; do [[ $u == "$theirs"/* ]]; done
}

@test "--listen 127.0.0.1:0: loom up prints the port loom-api got, and a 202 task's callback reaches it" {
	local other pid url port backend bport wf
	backend="$(bin_dir)/../tests/loom-test-backend"
	[ -x "$backend" ]
	other=$(mktemp -d /tmp/loom-up-zero.XXXXXX)
	chmod 755 "$other"
	(
		exec "$LOOM" up --state-dir "$other" --fast --no-sample \
		    --listen 127.0.0.1:0 >"$other/up.out" 2>"$other/up.err" 3>&-
	) 3>&- &
	pid=$!
	# the user's backend, answering 202 and calling back later
	"$backend" -p 0 -l "$other/calls.jsonl" >"$other/backend.port" \
	    2>"$other/backend.err" 3>&- &
	echo $! >"$other/backend.pid"
	up_wait_line "$other/backend.port" '^port [0-9]+$' "$(cat "$other/backend.pid")" 10
	bport=$(awk '{print $2; exit}' "$other/backend.port")
	if ! up_wait_line "$other/up.out" '^ready$' "$pid" 90; then
		sed 's/^/# /' "$other/up.err" >&3
	fi
	url=$(sed -n 's/^  API:  //p' "$other/up.out")
	port=${url##*:}
	wf=$other/async.yaml
	printf 'id: up-async\ntasks:\n  - id: accept\n    url: http://127.0.0.1:%s/api/tasks/accept?async=1&sleep=100\n    timeout: 30s\n' \
	    "$bport" >"$wf"
	"$LOOM" workflow apply --api "$url" "$wf" >/dev/null 2>&1 || true
	run "$LOOM" workflow trigger up-async --api "$url" --wait --timeout 60s -o json
	local res=$output
	cp "$other/up.out" "$other/calls.jsonl" "$BATS_TEST_TMPDIR/" 2>/dev/null
	curl -s "$url/api/v1/status" >"$BATS_TEST_TMPDIR/status.json" 2>/dev/null
	kill -TERM "$pid" "$(cat "$other/backend.pid")"
	timeout 30 tail --pid="$pid" -f /dev/null 3>&-
	"$LOOM" db stop --state-dir "$other" >/dev/null 2>&1 || true
	rm -rf "$other"
	# the banner names a real port, and it is the one that answered
	[[ $url =~ ^http://127\.0\.0\.1:[0-9]+$ ]]
	[ "$port" -gt 0 ]
	jq -e '.database' "$BATS_TEST_TMPDIR/status.json" >/dev/null
	grep -qx "  UI:   $url/" "$BATS_TEST_TMPDIR/up.out"
	grep -q "^  Try:  loom workflow apply FILE --api $url\$" "$BATS_TEST_TMPDIR/up.out"
	run ! grep -q ':0\b' "$BATS_TEST_TMPDIR/up.out"
	# the 202 task was handed loom-api's real address and its callback landed
	assert_equal "$(jq -r .status <<<"$res")" SUCCESS
	run jq -r 'select(.path == "/api/tasks/accept") | .body.callbackUrl' \
	    "$BATS_TEST_TMPDIR/calls.jsonl"
	assert_output --regexp "^$url/api/v1/callbacks/"
	run jq -c 'select(.callback) | [.status, (.callback | startswith($u))]' \
	    --arg u "$url/api/v1/callbacks/" "$BATS_TEST_TMPDIR/calls.jsonl"
	assert_output '[200,true]'
}

@test "a second loom up on the same state directory is refused" {
	run -1 "$LOOM" up --state-dir "$STATE" --fast --no-sample \
	    --listen "127.0.0.1:$(free_port)"
	assert_output --partial "another 'loom up' is running on"
	# ... and the first one still serves.
	run curl -sf "$API/healthz"
	assert_success
}

@test "loom-api killed with SIGKILL is restarted" {
	local up old new
	up=$(cat "$STATE/up.pid")
	old=$(pgrep -P "$up" -f 'loom-api ')
	[ -n "$old" ]
	kill -KILL "$old"
	up_wait_line "$STATE/up.first.err" \
	    "loom-api \\(pid $old\\) was killed by signal 9" "$up" 20
	# libmongoc had no chance to remove a counters file: none was made
	[ ! -e "/dev/shm/mongoc-$old" ]
	up_wait_line "$STATE/up.first.err" 'started loom-api \(pid' "$up" 20
	up_wait_until 30 api_healthy
	new=$(pgrep -P "$up" -f 'loom-api ')
	[ -n "$new" ] && [ "$new" != "$old" ]
	run "$LOOM" workflow list --api "$API" -o json
	assert_success
	assert_output --partial '"sample-report"'
}

@test "SIGTERM stops every child and PostgreSQL, exit 0" {
	local up kids pm
	up=$(cat "$STATE/up.pid")
	kids=$(pgrep -P "$up" | tr '\n' ' ')
	[ -n "$kids" ]
	pm=$(head -1 "$STATE/pgdata/postmaster.pid")
	kill -0 "$pm"
	stop_up
	assert_equal "$(cat "$STATE/up.status")" 0
	for k in $kids; do
		run kill -0 "$k"
		assert_failure
	done
	# pg_ctl -w returns once the postmaster removed its pid file, a
	# moment before the process itself is gone.
	up_wait_until 10 gone "$pm"
	run pgrep -f "$STATE"
	assert_failure
	run cat "$STATE/up.first.err"
	assert_output --partial 'stopping PostgreSQL'
	[ ! -e "$STATE/pgdata/postmaster.pid" ]
}

@test "a second loom up reuses the cluster and its data" {
	local before
	before=$(stat -c %i:%Y "$STATE/pgdata/PG_VERSION")
	# a value of the user's own is left as it is
	local -x MONGOC_DISABLE_SHM=mine
	start_up second
	has_env "$(pgrep -P "$(cat "$STATE/up.pid")" -x loom-api)" \
	    MONGOC_DISABLE_SHM=mine
	run cat "$STATE/up.second.err"
	refute_output --partial 'creating a PostgreSQL cluster'
	assert_equal "$(stat -c %i:%Y "$STATE/pgdata/PG_VERSION")" "$before"
	# Same database: the sample is still version 1, applied unchanged --
	# unless its backend's port was taken meanwhile by another program on
	# this host, when the sample says the new port as version 2.
	run "$LOOM" workflow describe sample-report --api "$API" -o json
	assert_success
	if [ "$(backend_of "$STATE/up.first.out")" = \
	    "$(backend_of "$STATE/up.second.out")" ]; then
		assert_equal "$(jq -r .version <<<"$output")" 1
	else
		assert_equal "$(jq -r .version <<<"$output")" 2
	fi
	stop_up
	assert_equal "$(cat "$STATE/up.status")" 0
	up_wait_until 10 eval '! pgrep -f "$STATE" >/dev/null'
}
