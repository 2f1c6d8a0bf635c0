#!/usr/bin/env bats
# The Java SDK (sdk/java): built with javac (sdk/java/build.sh: no Maven
# here), its JUnit 5 unit tests, its pom.xml well-formed, and against a
# real stack (PostgreSQL, loom-api with api.auth = token, loom-engine,
# loom-exec posting callbacks to loom-api, and the Java example backend
# serving the seed's four tasks): every client call (LiveIT), the quick
# start following a run's logs, an asynchronous (202) task completed
# through the SDK's Callback, signed requests checked by the SDK's
# TaskServer.  A missing JDK or JUnit fails the file; nothing is skipped.

bats_require_minimum_version 1.5.0

load helpers

JUNIT=${JUNIT_JAR:-/usr/share/java/junit-platform-console-standalone.jar}

# java_backend NAME [ENV...]: starts the Java example backend; sets JB_URL.
java_backend() {
	local name=$1 fifo=$LOOM_TEST_DIR/$1.port word port
	shift
	rm -f "$fifo"
	mkfifo "$fifo"
	env "$@" java -cp "$JOUT/classes:$JOUT/examples" \
	    org.linkloom.example.ExampleBackend >"$fifo" \
	    2>"$LOOM_TEST_DIR/$name.log" 3>&- &
	echo "$!" >>"$LOOM_TEST_DIR/java-backends.pids"
	read -r -t 60 word port <"$fifo"
	[ "$word" = port ]
	rm -f "$fifo"
	JB_URL=http://127.0.0.1:$port
}

# seed FILE ID URL [SIGNING]: the seed workflow (contrib/examples/sample.yaml)
# with its tasks at URL.
seed() {
	sed -e "s|^id: sample-report|id: $2|" \
	    -e "s|http://127.0.0.1:8090|$3|" contrib/examples/sample.yaml >"$1"
	[ -z "${4:-}" ] || printf 'signing: {secretEnv: %s}\n' "$4" >>"$1"
}

quickstart() {
	java -cp "$JOUT/classes:$JOUT/examples" org.linkloom.example.QuickStart "$@"
}

setup_file() {
	cd "$BATS_TEST_DIRNAME/.."
	command -v java >/dev/null && command -v javac >/dev/null ||
	    { echo "# the JDK is missing (openjdk-17-jdk-headless, make deps)" >&3; return 1; }
	[ -f "$JUNIT" ] ||
	    { echo "# $JUNIT is missing (Debian package junit5, make deps)" >&3; return 1; }
	export JOUT=$LOOM_BIN/../sdk/java
	sdk/java/build.sh "$JOUT"
	loom_pg_start
	LOOM_API_AUTH=token loom_api_start
	export LOOM_EXEC_CALLBACK_URL=$LOOM_API
	export SDK_JAVA_SECRET="java sdk secret"
	loom_daemon_start loom-engine
	loom_daemon_start loom-exec
	OPERATOR=$("$LOOM_BIN/loom" token create ci --scope operator \
	    --db "$LOOM_DATABASE_URL")
	READER=$("$LOOM_BIN/loom" token create ro --scope read \
	    --db "$LOOM_DATABASE_URL")
	export OPERATOR READER
	java_backend backend
	export JB_URL
}

teardown_file() {
	local p
	if [ -f "$LOOM_TEST_DIR/java-backends.pids" ]; then
		while read -r p; do kill "$p" 2>/dev/null || true; done \
		    <"$LOOM_TEST_DIR/java-backends.pids"
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

@test "pom.xml is well-formed and names the SDK" {
	run -0 xmllint --noout sdk/java/pom.xml
	run -0 xmllint --xpath \
	    "string(/*[local-name()='project']/*[local-name()='artifactId'])" \
	    sdk/java/pom.xml
	assert_output loom-client
}

@test "the README's quick start and backend compile against the SDK" {
	local d=$BATS_TEST_TMPDIR/readme
	mkdir -p "$d"
	{
		echo 'import org.linkloom.sdk.*; import java.nio.file.Path;'
		echo 'import java.time.Duration; import java.util.Map;'
		echo 'import java.net.InetSocketAddress;'
		echo 'import static java.nio.charset.StandardCharsets.UTF_8;'
		echo 'class Readme { static void run() throws Exception {'
		awk '/^```java/ { n++; f = 1; next } /^```/ { f = 0 }
		    f && n <= 2 && !/^import/' sdk/java/README.md
		echo '}}'
	} >"$d/Readme.java"
	grep -q 'waitFor' "$d/Readme.java"
	grep -q 'TaskServer.create' "$d/Readme.java"
	run -0 javac -Xlint:all -Werror -d "$d" -cp "$JOUT/classes" "$d/Readme.java"
}

@test "the unit tests pass (JUnit 5)" {
	run java -jar "$JUNIT" --disable-banner --details=tree \
	    -cp "$JOUT/classes:$JOUT/test" \
	    --select-class org.linkloom.sdk.JsonTest \
	    --select-class org.linkloom.sdk.SignatureTest \
	    --select-class org.linkloom.sdk.TaskRequestTest \
	    --select-class org.linkloom.sdk.LoomExceptionTest \
	    --select-class org.linkloom.sdk.TaskServerTest \
	    --select-class org.linkloom.sdk.MisbehavingServerTest
	echo "$output"
	[ "$status" -eq 0 ]
	assert_output --regexp '\[ +2[0-9] tests successful +\]'
	assert_output --regexp '\[ +0 tests failed +\]'
}

@test "every client call against loom-api (LiveIT)" {
	local wf=$BATS_TEST_TMPDIR/seed.yaml
	seed "$wf" sdk-java-seed "$JB_URL"
	run env LOOM_API="$LOOM_API" LOOM_OPERATOR="$OPERATOR" \
	    LOOM_READER="$READER" SEED_FILE="$wf" \
	    java -jar "$JUNIT" --disable-banner --details=tree \
	    -cp "$JOUT/classes:$JOUT/test" --select-class org.linkloom.sdk.LiveIT
	echo "$output"
	[ "$status" -eq 0 ]
	assert_output --regexp '\[ +6 tests successful +\]'
}

@test "the quick start runs the seed on the Java backend and follows its logs" {
	local wf=$BATS_TEST_TMPDIR/quick.yaml last
	seed "$wf" sdk-java-quick "$JB_URL"
	run -0 env LOOM_TOKEN="$OPERATOR" java -cp "$JOUT/classes:$JOUT/examples" \
	    org.linkloom.example.QuickStart "$LOOM_API" "$wf" \
	    '{"limit": 12, "date": "2026-12-07"}'
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
}

@test "the Java backend computes the example backends' checksum (FNV-1a)" {
	local wf=$BATS_TEST_TMPDIR/sum.yaml sum
	seed "$wf" sdk-java-sum "$JB_URL"
	run -0 env LOOM_TOKEN="$OPERATOR" java -cp "$JOUT/classes:$JOUT/examples" \
	    org.linkloom.example.QuickStart "$LOOM_API" "$wf" '{"limit": 5}'
	sum=$(jq -r '.tasks[0].output.checksum' <<<"${lines[${#lines[@]} - 1]}")
	# FNV-1a of "2024-01-14/5", as contrib/examples/backend computes it
	assert_equal "$sum" "$(printf '%s' 2024-01-14/5 | python3 -c '
import sys
h = 0xcbf29ce484222325
for b in sys.stdin.buffer.read():
    h = ((h ^ b) * 0x100000001b3) % (1 << 64)
print("%016x" % h)')"
}

@test "an asynchronous (202) task completes through the SDK's Callback" {
	local wf=$BATS_TEST_TMPDIR/async.yaml out id
	seed "$wf" sdk-java-async "$JB_URL"
	sed -i '/^  - id: process/,/^  - id:/ s|^      title:|      async: true\n      title:|' "$wf"
	grep -q 'async: true' "$wf"
	run -0 env LOOM_TOKEN="$OPERATOR" java -cp "$JOUT/classes:$JOUT/examples" \
	    org.linkloom.example.QuickStart "$LOOM_API" "$wf"
	assert_line 'status SUCCESS'
	out=${lines[${#lines[@]} - 1]}
	id=$(jq -r .id <<<"$out")
	grep -q "$id process attempt 1 (async)" "$LOOM_TEST_DIR/backend.log"
	assert_equal "$(jq -r '.tasks[] | select(.taskId == "process") |
	    .output.title' <<<"$out")" "Report for 2024-01-14"
	# its first attempt was answered 202, then completed by the callback
	assert_equal "$(jq -r '.tasks[] | select(.taskId == "process") |
	    "\(.state) \(.attempt)"' <<<"$out")" "SUCCESS 1"
	assert_line 'log process Processed 1000 records'
}

@test "signed requests: the SDK's TaskServer takes loom-exec's, refuses others" {
	local wf=$BATS_TEST_TMPDIR/signed.yaml out
	java_backend backend-signed LOOM_BACKEND_SECRET="$SDK_JAVA_SECRET"
	seed "$wf" sdk-java-signed "$JB_URL" SDK_JAVA_SECRET
	run -0 env LOOM_TOKEN="$OPERATOR" java -cp "$JOUT/classes:$JOUT/examples" \
	    org.linkloom.example.QuickStart "$LOOM_API" "$wf"
	assert_line 'status SUCCESS'
	# another secret (loom-exec's callback URL, as it happens): 401, an
	# HttpClientError that is not retried
	seed "$wf" sdk-java-signed-wrong "$JB_URL" LOOM_EXEC_CALLBACK_URL
	run -1 env LOOM_TOKEN="$OPERATOR" java -cp "$JOUT/classes:$JOUT/examples" \
	    org.linkloom.example.QuickStart "$LOOM_API" "$wf"
	assert_line 'status FAILED'
	out=${lines[${#lines[@]} - 1]}
	assert_equal "$(jq -r '.tasks[0].error.type' <<<"$out")" HttpClientError
	assert_equal "$(jq -r '.tasks[0].attempts | length' <<<"$out")" 1
}

# Last: it restarts loom-api (on the same address).
@test "following a run's logs survives a loom-api restart (Last-Event-ID)" {
	local wf=$BATS_TEST_TMPDIR/restart.yaml out=$BATS_TEST_TMPDIR/out.txt \
	    go=$BATS_TEST_TMPDIR/go port qpid rc=0
	mkfifo "$go"
	cat >"$wf" <<EOF2
id: sdk-java-restart
tasks:
  - id: talk
    type: shell
    timeout: 60s
    command: "echo before; read x < $go; echo after"
EOF2
	LOOM_TOKEN=$OPERATOR java -cp "$JOUT/classes:$JOUT/examples" \
	    org.linkloom.example.QuickStart "$LOOM_API" "$wf" >"$out" 2>&1 3>&- &
	qpid=$!
	wait_for -t 60 grep -q '^log talk before$' "$out"
	port=${LOOM_API##*:}
	loom_api_stop
	LOOM_API_AUTH=token loom_api_start --listen "127.0.0.1:$port"
	echo "$LOOM_API_PID" >>"$LOOM_TEST_DIR/daemons.pids"
	echo go >"$go"
	wait "$qpid" || rc=$?
	cat "$out"
	assert_equal "$rc" 0
	assert_equal "$(grep '^log ' "$out" | tr '\n' '|')" \
	    "log talk before|log talk after|"
}
