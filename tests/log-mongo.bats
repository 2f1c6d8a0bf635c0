#!/usr/bin/env bats
# loom-log's MongoDB store (logd.store = mongodb, loom-log(8)): records
# sent over the socket become documents of execution_logs in the seed's
# shape, with their indexes; retention by age; the store away -> the
# spool -> written once it is back.
#
# The server is tests/mongo/congo.mjs, the MongoDB wire-protocol server of
# the npm package @push.rocks/smartmongo (installed with `npm ci` in
# tests/mongo/ when missing), on 127.0.0.1 and a free port.  With
# LOOM_TEST_MONGODB_URI set the same tests run against that MongoDB
# instead (each run uses its own database).

load helpers

bats_require_minimum_version 1.5.0

MONGO_DIR=$BATS_TEST_DIRNAME/mongo

# congo_start [PORT]: the test server; sets MONGO_URI and CONGO_PID.
congo_start() {
	local fifo=$LOOM_TEST_DIR/congo.port word port
	rm -f "$fifo"
	mkfifo "$fifo"
	(cd "$MONGO_DIR" && exec node congo.mjs ${1:+--port "$1"}) \
	    >"$fifo" 2>>"$LOOM_TEST_DIR/congo.log" 3>&- &
	CONGO_PID=$!
	read -r -t 20 word port <"$fifo" || return 1
	[ "$word" = port ] || return 1
	echo "$CONGO_PID" >"$LOOM_TEST_DIR/congo.pid"
	export MONGO_URI=mongodb://127.0.0.1:$port CONGO_PID
}

setup_file() {
	loom_pg_start
	export MONGO_DB=loomtest_$$
	if [ -n "${LOOM_TEST_MONGODB_URI:-}" ]; then
		export MONGO_URI=$LOOM_TEST_MONGODB_URI
	else
		command -v node >/dev/null || return 0
		if [ ! -d "$MONGO_DIR/node_modules/@push.rocks/smartmongo" ]; then
			(cd "$MONGO_DIR" && npm ci --ignore-scripts --no-audit \
			    --no-fund >"$LOOM_TEST_DIR/npm.log" 2>&1) || return 0
		fi
		congo_start || return 0
	fi
	export LOOM_LOGD_STORE=mongodb LOOM_LOGD_MONGODB_URI=$MONGO_URI
	export LOOM_LOGD_MONGODB_DATABASE=$MONGO_DB
	export LOOM_LOGD_SOCKET=$LOOM_TEST_DIR/log.sock
	export LOOM_LOGD_SPOOL=$LOOM_TEST_DIR/log.spool
	export LOOM_LOGD_STORE_TIMEOUT=1s
	loom_daemon_start loom-log
	# the whole stack, reading and writing the MongoDB store
	loom_api_start
	loom_daemon_start loom-engine
	loom_daemon_start loom-exec
}

teardown_file() {
	[ -f "$LOOM_TEST_DIR/congo.pid" ] &&
	    kill "$(cat "$LOOM_TEST_DIR/congo.pid")" 2>/dev/null
	loom_stop_all
}

setup() {
	[ -n "${MONGO_URI:-}" ] ||
	    skip "no MongoDB: node or npm ci in tests/mongo failed"
}

teardown() {
	[ -z "${BATS_TEST_COMPLETED:-}" ] || return 0
	for p in "$LOOM_TEST_DIR"/loom-*.log "$LOOM_TEST_DIR/congo.log"; do
		echo "--- $p (last lines)"
		tail -n 25 "$p"
	done
}

mq() { # mq COMMAND [ARG]: tests/mongo/query.mjs against the store
	(cd "$MONGO_DIR" && node query.mjs "$MONGO_URI" "$MONGO_DB" "$@")
}

send() {
	printf '%s\n' "$@" '{"v":1,"t":"sync","id":"end"}' |
	    timeout 20 socat -t 10 - "UNIX-CONNECT:$LOOM_LOGD_SOCKET"
}

# messages_are EXEC WANT: the messages of EXEC's documents, in order
messages_are() {
	[ "$(mq find "{\"execution_id\":\"$1\"}" 2>/dev/null |
	    jq -r .message | paste -sd '|')" = "$2" ]
}

@test "records become execution_logs documents in the seed's shape, with indexes" {
	run -0 send \
	    '{"v":1,"t":"log","execution":"exec-m1","task":"fetch_data","attempt":2,"level":"warn","stream":"stderr","ts":"2026-03-04T05:06:07.089Z","msg":"Fetched 1000 records"}' \
	    '{"v":1,"t":"log","execution":"exec-m1","task":"fetch_data","msg":"second"}'
	assert_output '{"v":1,"t":"synced","id":"end"}'
	wait_for messages_are exec-m1 "Fetched 1000 records|second"
	run -0 mq find '{"execution_id":"exec-m1"}'
	first=${lines[0]}
	jq -e '.task_id == "fetch_data" and .level == "WARN" and
	    .timestamp == "2026-03-04T05:06:07.089Z" and
	    .context.attempt == 2 and .context.stream == "stderr" and
	    (._id | type) == "string" and (.context.seq | type) == "number"' \
	    <<<"$first"
	jq -e '.level == "INFO" and .context.attempt == 1' <<<"${lines[1]}"
	run -0 mq indexes
	assert_line run_seq
	assert_line run_task_time
	assert_line time
}

@test "retention deletes documents older than logd.retention" {
	old=$(( ($(date +%s) - 5 * 86400) * 1000 ))
	mq insert "{\"execution_id\":\"exec-m2\",\"task_id\":\"t\",\"level\":\"INFO\",\"message\":\"old\",\"timestamp\":$old,\"context\":{\"attempt\":1,\"stream\":\"app\",\"seq\":1}}"
	run -0 send '{"v":1,"t":"log","execution":"exec-m2","task":"t","msg":"new"}'
	wait_for messages_are exec-m2 "old|new"
	d=$LOOM_TEST_DIR/ret
	mkdir -p "$d"
	LOOM_LOGD_SOCKET=$d/log.sock LOOM_LOGD_SPOOL=$d/spool \
	    LOOM_LOGD_RETENTION=2d LOOM_LOGD_RETENTION_INTERVAL=200ms \
	    loom_daemon_start loom-log
	wait_for messages_are exec-m2 new
	loom_daemon_stop "$LOOM_DAEMON_PID"
}

@test "a run's lines go to MongoDB; loom execution logs reads them there: filters, --follow" {
	mkfifo "$BATS_TEST_TMPDIR/go"
	cat >"$BATS_TEST_TMPDIR/wf.yaml" <<EOF
id: mongo-run
tasks:
  - id: talk
    type: shell
    timeout: 30s
    command: "echo 'disk almost full'; echo 'Disk check done' >&2; read x < $BATS_TEST_TMPDIR/go; echo 'all good'; echo '{}'"
EOF
	apply "$BATS_TEST_TMPDIR/wf.yaml"
	E=$(trigger mongo-run)
	"$LOOM_BIN/loom" execution logs --follow "$E" >"$BATS_TEST_TMPDIR/out.txt" \
	    2>&1 3>&- &
	fpid=$!
	wait_for grep -q 'talk#1 \[stdout\] disk almost full' "$BATS_TEST_TMPDIR/out.txt"
	run ! grep -q 'all good' "$BATS_TEST_TMPDIR/out.txt"
	echo go >"$BATS_TEST_TMPDIR/go"
	timeout 60 tail --pid="$fpid" -f /dev/null
	rc=0
	wait "$fpid" || rc=$?
	assert_equal "$rc" 0
	grep -q 'talk#1 \[stdout\] all good' "$BATS_TEST_TMPDIR/out.txt"
	grep -q 'talk#1 \[loom\] attempt 1: SUCCESS' "$BATS_TEST_TMPDIR/out.txt"
	# in MongoDB, not in PostgreSQL
	assert_equal "$(sql "SELECT count(*) FROM task_logs WHERE execution_id = '$E'")" 0
	run -0 "$LOOM_BIN/loom" execution logs "$E" -o json
	assert_equal "$(jq -r 'select(.stream != "loom") | .line' <<<"$output" | paste -sd '|')" \
	    "disk almost full|Disk check done|all good|{}"
	all=$(jq -r .line <<<"$output" | wc -l)
	run -0 "$LOOM_BIN/loom" execution logs "$E" --grep disk -o json
	assert_equal "$(jq -r .line <<<"$output" | paste -sd '|')" \
	    "disk almost full|Disk check done"
	run -0 "$LOOM_BIN/loom" execution logs "$E" --level warn -o json
	assert_equal "$(jq -r 'select(.stream != "loom") | [.line, .level] | join(" ")' <<<"$output")" \
	    "Disk check done warn"
	run -0 "$LOOM_BIN/loom" execution logs "$E" --since 2099-01-01T00:00:00Z
	assert_output ""
	# paging by the documents' seq
	first=$(curl -sS "$LOOM_API/api/v1/executions/$E/logs?limit=1")
	assert_equal "$(jq -c '[(.logs | length), (.next | type)]' <<<"$first")" '[1,"number"]'
	rest=$(curl -sS "$LOOM_API/api/v1/executions/$E/logs?after=$(jq .next <<<"$first")")
	assert_equal "$(jq '.logs | length' <<<"$rest")" $((all - 1))
}

@test "MongoDB away: records are spooled and written once it answers again" {
	[ -z "${LOOM_TEST_MONGODB_URI:-}" ] ||
	    skip "stops the server: only with the test server"
	port=${MONGO_URI##*:}
	kill "$CONGO_PID"
	timeout 10 tail --pid="$CONGO_PID" -f /dev/null || true
	run -0 send \
	    '{"v":1,"t":"log","execution":"exec-m3","task":"t","msg":"while away 1"}' \
	    '{"v":1,"t":"log","execution":"exec-m3","task":"t","msg":"while away 2"}'
	assert_output '{"v":1,"t":"synced","id":"end"}'
	grep -q 'while away 2' "$LOOM_LOGD_SPOOL"
	congo_start "$port"
	[ "$MONGO_URI" = "mongodb://127.0.0.1:$port" ]
	wait_for -t 30 messages_are exec-m3 "while away 1|while away 2"
	wait_for test ! -s "$LOOM_LOGD_SPOOL"
}
