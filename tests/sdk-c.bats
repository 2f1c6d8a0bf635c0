#!/usr/bin/env bats
# libloomclient, the C SDK (sdk/c, libloomclient(3)), against a real stack:
# PostgreSQL, loom-api with api.auth = token (and its Unix socket),
# loom-engine, loom-exec posting callbacks to loom-api, and the example
# backend written with the SDK (loom-c-example-backend) serving the seed's
# four tasks.  The unit tests (test_sdk_c) run with the other unit tests;
# here: every client call (sdk-c-live, TAP), the quick start following a
# run's logs, an asynchronous (202) task completed through the SDK's
# callback, and signed requests checked by the SDK's server.

bats_require_minimum_version 1.5.0

load helpers

SDKC=${LOOM_BIN}/../sdk/c

# c_backend NAME [ENV...]: starts loom-c-example-backend; sets CB_URL.
c_backend() {
	local name=$1 fifo=$LOOM_TEST_DIR/$1.port word port
	shift
	rm -f "$fifo"
	mkfifo "$fifo"
	env "$@" "$SDKC/loom-c-example-backend" >"$fifo" \
	    2>"$LOOM_TEST_DIR/$name.log" 3>&- &
	echo "$!" >>"$LOOM_TEST_DIR/c-backends.pids"
	read -r -t 10 word port <"$fifo"
	[ "$word" = port ]
	rm -f "$fifo"
	CB_URL=http://127.0.0.1:$port
}

# seed FILE ID URL [SIGNING]: the seed workflow (contrib/examples/sample.yaml)
# with its tasks at URL.
seed() {
	sed -e "s|^id: sample-report|id: $2|" \
	    -e "s|http://127.0.0.1:8090|$3|" contrib/examples/sample.yaml >"$1"
	[ -z "${4:-}" ] || printf 'signing: {secretEnv: %s}\n' "$4" >>"$1"
}

setup_file() {
	cd "$BATS_TEST_DIRNAME/.."
	loom_pg_start
	export SOCK=$LOOM_TEST_DIR/api.sock
	LOOM_API_AUTH=token loom_api_start --socket "$SOCK"
	export LOOM_EXEC_CALLBACK_URL=$LOOM_API
	export SDK_C_SECRET="c sdk secret"
	loom_daemon_start loom-engine
	loom_daemon_start loom-exec
	OPERATOR=$("$LOOM_BIN/loom" token create ci --scope operator \
	    --db "$LOOM_DATABASE_URL")
	READER=$("$LOOM_BIN/loom" token create ro --scope read \
	    --db "$LOOM_DATABASE_URL")
	export OPERATOR READER
	c_backend backend
	export CB_URL
}

teardown_file() {
	local p
	if [ -f "$LOOM_TEST_DIR/c-backends.pids" ]; then
		while read -r p; do kill "$p" 2>/dev/null || true; done \
		    <"$LOOM_TEST_DIR/c-backends.pids"
	fi
	loom_stop_all
}

setup() {
	cd "$BATS_TEST_DIRNAME/.."
}

teardown() {
	[ -z "${BATS_TEST_COMPLETED:-}" ] || return 0
	loom_show_logs
	tail -n 20 "$LOOM_TEST_DIR"/backend*.log
}

@test "libloomclient exports loom_* alone, the .so has its soname" {
	run -0 nm -g --defined-only "$LOOM_BIN/../libloomclient.a"
	refute_line --regexp ' [TDBR] [^l]'
	assert_line --partial ' T loom_client_new'
	run -0 objdump -p "$LOOM_BIN/../libloomclient.so.1"
	assert_line --regexp 'SONAME +libloomclient\.so\.1'
	run -0 nm -D --defined-only "$LOOM_BIN/../libloomclient.so.1"
	refute_line --regexp ' [TDBR] [^l]'
}

@test "the README's quick start compiles against libloomclient alone" {
	awk '/^```c/ { f = 1; next } /^```/ { if (f) exit } f' sdk/c/README.md \
	    >"$BATS_TEST_TMPDIR/q.c"
	grep -q loom_execution_wait "$BATS_TEST_TMPDIR/q.c"
	run -0 cc -Wall -Wextra -Werror -Isdk/c/include -o "$BATS_TEST_TMPDIR/q" \
	    "$BATS_TEST_TMPDIR/q.c" "$LOOM_BIN/../libloomclient.a" \
	    -lcurl -lmicrohttpd -lcrypto -ljq -lpthread
}

@test "every client call against loom-api (sdk-c-live)" {
	local wf=$BATS_TEST_TMPDIR/seed.yaml
	seed "$wf" sdk-c-seed "$CB_URL"
	run env LOOM_API="$LOOM_API" LOOM_API_SOCK="$SOCK" \
	    LOOM_OPERATOR="$OPERATOR" LOOM_READER="$READER" SEED_FILE="$wf" \
	    "$LOOM_BIN/../tests/sdk-c-live"
	echo "$output"
	[ "$status" -eq 0 ]
	refute_line --regexp '^not ok'
}

@test "the quick start runs the seed on the C backend and follows its logs" {
	local wf=$BATS_TEST_TMPDIR/quick.yaml last
	seed "$wf" sdk-c-quick "$CB_URL"
	run -0 env LOOM_TOKEN="$OPERATOR" "$SDKC/loom-c-quickstart" \
	    "$LOOM_API" "$wf" '{"limit": 12, "date": "2026-12-07"}'
	assert_line --regexp '^triggered exec-'
	assert_line 'log fetch_data Fetched 12 records for 2026-12-07'
	assert_line --regexp '^log validate Validated 12 records \(checksum [0-9a-f]{16}\)$'
	assert_line 'log process Processed 12 records'
	assert_line 'log send_email Sent "Report for 2026-12-07" to team@example.com'
	assert_line 'status SUCCESS'
	last=${lines[${#lines[@]} - 1]}
	# outputs flowed from task to task
	assert_equal "$(jq -r '[.tasks[] | {(.taskId): .output}] | add |
	    [.fetch_data.recordCount, .validate.recordCount,
	     .process.processed, .process.title, .send_email.to] |
	    map(tostring) | join(" ")' <<<"$last")" \
	    "12 12 12 Report for 2026-12-07 team@example.com"
	assert_equal "$(jq -r '.tasks[] | select(.taskId == "validate") |
	    .output.valid' <<<"$last")" true
}

@test "an asynchronous (202) task completes through the SDK's callback" {
	local wf=$BATS_TEST_TMPDIR/async.yaml out id
	seed "$wf" sdk-c-async "$CB_URL"
	# process answers 202 and posts its result from another thread
	sed -i '/^  - id: process/,/^  - id:/ s|^      title:|      async: true\n      title:|' "$wf"
	grep -q 'async: true' "$wf"
	run -0 env LOOM_TOKEN="$OPERATOR" "$SDKC/loom-c-quickstart" \
	    "$LOOM_API" "$wf"
	assert_line 'status SUCCESS'
	out=${lines[${#lines[@]} - 1]}
	id=$(jq -r .id <<<"$out")
	grep -q "$id process attempt 1 (async)" "$LOOM_TEST_DIR/backend.log"
	assert_equal "$(jq -r '.tasks[] | select(.taskId == "process") |
	    .output.title' <<<"$out")" "Report for 2024-01-14"
	# the title reached send_email after the callback
	assert_equal "$(jq -r '.tasks[] | select(.taskId == "send_email") |
	    .output.to' <<<"$out")" "team@example.com"
	assert_line 'log process Processed 1000 records'
}

@test "signed requests: the SDK's server takes loom-exec's, refuses others" {
	local wf=$BATS_TEST_TMPDIR/signed.yaml out
	c_backend backend-signed LOOM_BACKEND_SECRET="$SDK_C_SECRET"
	# loom-exec has SDK_C_SECRET: the right secret
	seed "$wf" sdk-c-signed "$CB_URL" SDK_C_SECRET
	run -0 env LOOM_TOKEN="$OPERATOR" "$SDKC/loom-c-quickstart" \
	    "$LOOM_API" "$wf"
	assert_line 'status SUCCESS'
	# and another secret (loom-exec's callback URL, as it happens): 401, an HttpClientError that is not retried
	seed "$wf" sdk-c-signed-wrong "$CB_URL" LOOM_EXEC_CALLBACK_URL
	run -1 env LOOM_TOKEN="$OPERATOR" "$SDKC/loom-c-quickstart" \
	    "$LOOM_API" "$wf"
	assert_line 'status FAILED'
	out=${lines[${#lines[@]} - 1]}
	assert_equal "$(jq -r '.tasks[0].error.type' <<<"$out")" \
	    HttpClientError
	assert_equal "$(jq -r '.tasks[0].attempts | length' <<<"$out")" 1
}

@test "the client under valgrind: no error, no leak" {
	local wf=$BATS_TEST_TMPDIR/vg.yaml
	command -v valgrind
	seed "$wf" sdk-c-vg "$CB_URL"
	run -0 env LOOM_TOKEN="$OPERATOR" valgrind -q --leak-check=full \
	    --errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
	    "$SDKC/loom-c-quickstart" "$LOOM_API" "$wf"
	assert_line 'status SUCCESS'
	# every call of sdk-c-live again (the seed is there already)
	seed "$wf" sdk-c-seed "$CB_URL"
	run env LOOM_API="$LOOM_API" LOOM_API_SOCK="$SOCK" \
	    LOOM_OPERATOR="$OPERATOR" LOOM_READER="$READER" SEED_FILE="$wf" \
	    valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
	    --error-exitcode=99 "$LOOM_BIN/../tests/sdk-c-live"
	echo "$output"
	[ "$status" -eq 0 ]
	refute_line --regexp '^not ok'
}

# Last: it restarts loom-api (on the same address).
@test "following a run's logs survives a loom-api restart (Last-Event-ID)" {
	local wf=$BATS_TEST_TMPDIR/restart.yaml out=$BATS_TEST_TMPDIR/out.txt \
	    go=$BATS_TEST_TMPDIR/go port qpid rc=0
	mkfifo "$go"
	cat >"$wf" <<EOF2
id: sdk-c-restart
tasks:
  - id: talk
    type: shell
    timeout: 60s
    command: "echo before; read x < $go; echo after"
EOF2
	LOOM_TOKEN=$OPERATOR "$SDKC/loom-c-quickstart" "$LOOM_API" "$wf" \
	    >"$out" 2>&1 3>&- &
	qpid=$!
	wait_for -t 30 grep -q '^log talk before$' "$out"
	port=${LOOM_API##*:}
	loom_api_stop
	LOOM_API_AUTH=token loom_api_start --listen "127.0.0.1:$port" \
	    --socket "$SOCK"
	echo "$LOOM_API_PID" >>"$LOOM_TEST_DIR/daemons.pids"
	echo go >"$go"
	wait "$qpid" || rc=$?
	cat "$out"
	assert_equal "$rc" 0
	assert_equal "$(grep '^log ' "$out" | tr '\n' '|')" \
	    "log talk before|log talk after|"
}
