# tests/sdk-helpers.bash: the stack the SDK test files (tests/sdk-*.bats)
# run their language's own test runner against.  Load after helpers:
#
#     load helpers
#     load sdk-helpers
#     setup_file()    { sdk_stack_start; }
#     teardown_file() { sdk_stack_stop; }
#
# sdk_stack_start starts a throwaway PostgreSQL, loom-api on TCP and on a
# Unix socket, a second loom-api with api.auth = token, loom-engine and
# loom-exec (callbacks to the first loom-api, the signing secret in
# LOOM_SDK_SIGNING_SECRET), and exports for the tests:
#   LOOM_API             the open API's URL
# (not LOOM_API_*: loom-api reads those as settings, and the tests start
# loom-api themselves too)
#   LOOM_SDK_SOCKET      its Unix socket
#   LOOM_SDK_AUTHED_API  the URL of the loom-api that asks for tokens
#   LOOM_SDK_TOKEN       an operator token for it
#   LOOM_SDK_SIGNING_SECRET  the secret loom-exec signs requests with
#   LOOM_SDK_INTEGRATION=1   the integration tests must run, not skip
#   LOOM_BIN             where loom-exec is, for the signature capture

sdk_stack_start() {
	loom_pg_start || return 1
	export LOOM_SDK_SIGNING_SECRET="sdk secret $RANDOM$RANDOM"
	LOOM_SDK_TOKEN=$("$LOOM_BIN/loom" token create sdk --scope operator \
	    --db "$LOOM_DATABASE_URL") || return 1
	export LOOM_SDK_TOKEN
	LOOM_API_AUTH=token loom_api_start || return 1
	echo "$LOOM_API_PID" >"$LOOM_TEST_DIR/api-authed.pid"
	export LOOM_SDK_AUTHED_API=$LOOM_API
	export LOOM_SDK_SOCKET=$LOOM_TEST_DIR/api.sock
	loom_api_start --socket "$LOOM_SDK_SOCKET" || return 1
	export LOOM_EXEC_CALLBACK_URL=$LOOM_API
	loom_daemon_start loom-engine || return 1
	loom_daemon_start loom-exec || return 1
	export LOOM_SDK_INTEGRATION=1 LOOM_BIN
}

sdk_stack_stop() {
	local p
	p=$(cat "$LOOM_TEST_DIR/api-authed.pid" 2>/dev/null) &&
	    kill -TERM "$p" 2>/dev/null &&
	    timeout 30 tail --pid="$p" -f /dev/null 3>&-
	loom_stop_all
}

# sdk_run NAME CMD...: runs a language's test runner in the SDK's folder;
# its whole output goes to the TAP log when it fails.
sdk_run() {
	local dir=$1
	shift
	run --separate-stderr bash -c 'cd "$1" && shift && "$@" 2>&1' _ \
	    "$BATS_TEST_DIRNAME/../sdk/$dir" "$@"
	if [ "$status" -ne 0 ]; then
		printf '%s\n' "$output"
		loom_show_logs
		return 1
	fi
}

# sdk_backend_start CMD...: starts a language's example backend (CMD -p 0,
# which prints "port N" first) with the stack's signing secret in its
# environment; sets SDK_BACKEND_PORT and SDK_BACKEND_PID.
sdk_backend_start() {
	local fifo=$BATS_TEST_TMPDIR/backend.port word
	mkfifo "$fifo"
	"$@" -p 0 >"$fifo" 2>"$BATS_TEST_TMPDIR/backend.log" 3>&- &
	SDK_BACKEND_PID=$!
	if ! read -r -t 60 word SDK_BACKEND_PORT <"$fifo" || [ "$word" != port ]; then
		cat "$BATS_TEST_TMPDIR/backend.log"
		kill "$SDK_BACKEND_PID" 2>/dev/null
		return 1
	fi
}

sdk_backend_stop() {
	kill "$SDK_BACKEND_PID" 2>/dev/null || true
	wait "$SDK_BACKEND_PID" 2>/dev/null || true
}

# sdk_example_backend_check CMD...: starts the example backend, and has
# loom-exec --stdin call its fetch-data signed (it succeeds) and unsigned
# (refused with 401, an HttpClientError).
sdk_example_backend_check() {
	local req
	sdk_backend_start "$@" || return 1
	req=$(jq -cn \
	    --arg url "http://127.0.0.1:$SDK_BACKEND_PORT/api/tasks/fetch-data" \
	    '{executionId: "exec-cli", taskId: "fetch_data", attempt: 1,
	      input: {date: "2024-01-14", limit: 7},
	      task: {type: "http", timeout: "10s", url: $url}}')
	run "$LOOM_BIN/loom-exec" --stdin <<<"$(jq -c \
	    '.task.signing = {secretEnv: "LOOM_SDK_SIGNING_SECRET"}' <<<"$req")"
	local signed=$output
	run "$LOOM_BIN/loom-exec" --stdin <<<"$req"
	local unsigned=$output
	sdk_backend_stop
	assert_equal "$(jq -r '.status, .output.recordCount' <<<"$signed" |
	    paste -sd' ')" "SUCCESS 7"
	assert_equal "$(jq -r '.status, .error.type, .httpStatus' <<<"$unsigned" |
	    paste -sd' ')" "FAILED HttpClientError 401"
}

# sdk_quickstart LANG FILE CMD...: the first LANG code block of
# sdk/LANG/README.md, with the API at $LOOM_API and daily-report.yaml the
# seed workflow (id daily-report) pointing at the example backend already
# started, written to FILE (after the lines of $SDK_QUICKSTART_HEAD and
# before those of $SDK_QUICKSTART_TAIL) and run as CMD in $BATS_TEST_TMPDIR.
sdk_quickstart() {
	local lang=$1 file=$2
	shift 2
	sed -e 's/@ID@/daily-report/' \
	    -e "s|@BACKEND@|http://127.0.0.1:$SDK_BACKEND_PORT|" \
	    "$BATS_TEST_DIRNAME/../sdk/testdata/seed.yaml" \
	    >"$BATS_TEST_TMPDIR/daily-report.yaml"
	{
		printf '%s' "${SDK_QUICKSTART_HEAD:-}"
		sdk_snippet "$lang" "$lang" 1 |
		    sed -e "s|http://127.0.0.1:8080|$LOOM_API|" \
			-e "s|\"daily-report.yaml\"|\"$BATS_TEST_TMPDIR/daily-report.yaml\"|" \
			-e "s|'daily-report.yaml'|'$BATS_TEST_TMPDIR/daily-report.yaml'|"
		printf '%s' "${SDK_QUICKSTART_TAIL:-}"
	} >"$BATS_TEST_TMPDIR/$file"
	cd "$BATS_TEST_TMPDIR" || return 1
	run "$@"
	sdk_backend_stop
	if [ "$status" -ne 0 ]; then
		cat "$BATS_TEST_TMPDIR/$file"
		printf '%s\n' "$output"
		return 1
	fi
	assert_line --partial "fetch_data Fetched 5 records for 2024-01-14"
	assert_line --partial "send_email Sent \"Report for 2024-01-14\" to team@example.com"
	assert_line --regexp "^SUCCESS"
}

# sdk_snippet DIR LANG N: the Nth LANG code block of sdk/DIR/README.md.
sdk_snippet() {
	awk -v fence='```'"$2" -v want="$3" '
	    $0 == fence { n++; on = (n == want); next }
	    on && $0 == "```" { exit }
	    on { print }' "$BATS_TEST_DIRNAME/../sdk/$1/README.md"
}
