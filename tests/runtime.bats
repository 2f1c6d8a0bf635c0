#!/usr/bin/env bats
# The runtime end to end: loom-api, loom-engine and loom-exec (database
# mode) on a throwaway PostgreSQL cluster, with HTTP tasks calling the real
# test backend (tests/backend) and shell/java tasks running real processes.
# Every scenario checks the final state of every task through loom-api
# (GET /api/v1/executions/ID?wait=...) and, for HTTP tasks, the backend's
# call log.  Waits are on events or bounded conditions, never fixed sleeps.

bats_require_minimum_version 1.5.0

load helpers

setup_file() {
	loom_pg_start
	loom_backend_start
	loom_api_start
	# backends post asynchronous results to loom-api
	export LOOM_EXEC_CALLBACK_URL=$LOOM_API
	loom_daemon_start loom-engine
	loom_daemon_start loom-exec
	echo "$LOOM_DAEMON_PID" >"$LOOM_TEST_DIR/exec.pid"
	export B=$BACKEND_URL/api/tasks
}

teardown_file() {
	loom_stop_all
}

setup() {
	WF=$BATS_TEST_TMPDIR/wf.yaml
}

teardown() {
	# a failed test shows what the daemons said
	[ -z "${BATS_TEST_COMPLETED:-}" ] || return 0
	loom_show_logs
}

# The executor the tests share (the last tests replace it).
exec_pid() {
	cat "$LOOM_TEST_DIR/exec.pid"
}
exec_replaced() {
	echo "$LOOM_DAEMON_PID" >"$LOOM_TEST_DIR/exec.pid"
}

# keys_once EXEC N: the backend was called N times for the run, once per
# Idempotency-Key.
keys_once() {
	assert_equal "$(calls "$1" | wc -l)" "$2"
	assert_equal "$(calls "$1" | jq -r .idempotencyKey | sort -u |
	    wc -l)" "$2"
}

# states RUN-JSON: "task=STATE ..." in the order loom-api lists the tasks.
states() {
	jq -r '[.tasks[] | "\(.taskId)=\(.state)"] | join(" ")' <<<"$1"
}

# json_is ACTUAL EXPECTED: equal as JSON, whatever the order of keys (jsonb
# keeps its own).
json_is() {
	assert_equal "$(jq -cS . <<<"$1")" "$(jq -cS . <<<"$2")"
}

# task RUN-JSON ID: one task of the run.
task() {
	jq -c --arg t "$2" '.tasks[] | select(.taskId == $t)' <<<"$1"
}

# calls EXEC: the backend's calls for execution EXEC, in arrival order.
calls() {
	jq -c --arg e "$1/" 'select((.idempotencyKey // "") | startswith($e))' \
	    "$BACKEND_LOG"
}

# call EXEC TASK [ATTEMPT]: the backend's (first) call for that attempt.
call() {
	jq -c --arg k "$1/$2/${3:-1}" 'select(.idempotencyKey == $k)' \
	    "$BACKEND_LOG" | head -n 1
}

@test "the seed workflow runs in dependency order against a real backend" {
	cat >"$WF" <<EOF
id: rt-seed
name: Daily Report
retryStrategy: exponential
tasks:
  - id: fetch_data
    type: http
    method: POST
    url: $B/fetch-data?sleep=100
    timeout: 5m
    maxAttempts: 3
    retryOn: [TimeoutException, ConnectionException]
  - id: validate
    type: http
    method: POST
    url: $B/validate?sleep=300
    timeout: 2m
    dependsOn: [fetch_data]
  - id: process
    type: http
    method: POST
    url: $B/process
    timeout: 10m
    dependsOn: [fetch_data, validate]
  - id: send_email
    type: http
    method: POST
    url: $B/send-email
    timeout: 1m
    dependsOn: [process]
EOF
	apply "$WF"
	E=$(trigger rt-seed)
	ex=$(finished "$E")
	assert_equal "$(jq -r .status <<<"$ex")" SUCCESS
	assert_equal "$(states "$ex")" \
	    "fetch_data=SUCCESS validate=SUCCESS process=SUCCESS send_email=SUCCESS"
	# one attempt each, answered 200, output from the backend
	for t in fetch_data validate process send_email; do
		assert_equal "$(task "$ex" $t | jq -c '[.attempt,
		    [.attempts[] | .status, .httpStatus], .output.task]')" \
		    "[1,[\"SUCCESS\",200],\"$t\"]"
	done
	# the backend: one call per task, with the protocol envelope
	assert_equal "$(calls "$E" | wc -l)" 4
	assert_equal "$(call "$E" fetch_data | jq -c '[.path, .method,
	    .body.executionId, .body.taskId, .body.attempt, .body.timeout]')" \
	    "[\"/api/tasks/fetch-data\",\"POST\",\"$E\",\"fetch_data\",1,300000]"
	# process only after fetch_data and validate finished, send_email last
	f=$(call "$E" fetch_data | jq .ts)
	v=$(call "$E" validate | jq .ts)
	p=$(call "$E" process | jq .ts)
	s=$(call "$E" send_email | jq .ts)
	[ "$v" -ge $((f + 100)) ]
	[ "$p" -ge $((v + 300)) ]
	[ "$s" -ge "$p" ]
	assert_equal "$(calls "$E" | tail -n 1 | jq -r .body.taskId)" send_email
	# the same from the database's clock, through loom-api
	jq -e '(.tasks | map({(.taskId): .}) | add) as $t |
	    $t.process.startedAt >= $t.fetch_data.finishedAt and
	    $t.process.startedAt >= $t.validate.finishedAt and
	    $t.send_email.startedAt >= $t.process.finishedAt' <<<"$ex"
}

@test "outputs flow into downstream inputs; params take defaults and overrides" {
	cat >"$WF" <<EOF
id: rt-flow
params: {region: eu, limit: 10}
tasks:
  - id: fetch_data
    url: $B/fetch
    input: {n: 7, region: "\${{ .params.region }}"}
  - id: count
    url: $B/count
    dependsOn: fetch_data
    headers: {X-Region: "\${{ .params.region }}"}
    input:
      count: "\${{ .tasks.fetch_data.output.echo.n }}"
      label: "n=\${{ .tasks.fetch_data.output.echo.n }} in \${{ .params.region }}"
      limit: "\${{ .params.limit }}"
      literal: "\$\${{ not an expression }}"
EOF
	apply "$WF"
	E=$(trigger rt-flow '{"region":"us"}')
	ex=$(finished "$E")
	assert_equal "$(jq -r .status <<<"$ex")" SUCCESS
	assert_equal "$(states "$ex")" "fetch_data=SUCCESS count=SUCCESS"
	json_is "$(jq -c .params <<<"$ex")" '{"region":"us","limit":10}'
	json_is "$(call "$E" fetch_data | jq -c .body.input)" \
	    '{"n":7,"region":"us"}'
	want='{"count":7,"label":"n=7 in us","limit":10,"literal":"${{ not an expression }}"}'
	json_is "$(call "$E" count | jq -c .body.input)" "$want"
	json_is "$(task "$ex" count | jq -c .output.echo)" "$want"
	# a templated header is rendered per run; an untemplated task's
	# spec goes out as it is
	assert_equal "$(call "$E" count | jq -r '.headers["x-region"]')" us
	assert_equal "$(call "$E" fetch_data | jq -r '.headers["x-region"]')" null

	# without input the defaults apply
	E2=$(trigger rt-flow)
	ex=$(finished "$E2")
	assert_equal "$(jq -r .status <<<"$ex")" SUCCESS
	assert_equal "$(call "$E2" count | jq -c .body.input.label)" '"n=7 in eu"'
}

@test "a false when: skips the task and its dependents still run" {
	cat >"$WF" <<EOF
id: rt-when
params: {send: false}
tasks:
  - id: prepare
    url: $B/prepare
  - id: notify
    url: $B/notify
    dependsOn: prepare
    when: .params.send
  - id: archive
    url: $B/archive
    dependsOn: prepare
    when: .tasks.prepare.output.task == "prepare"
  - id: report
    url: $B/report
    dependsOn: [notify, archive]
EOF
	apply "$WF"
	E=$(trigger rt-when)
	ex=$(finished "$E")
	assert_equal "$(jq -r .status <<<"$ex")" SUCCESS
	json_is "$(jq -c '.tasks | map({(.taskId): [.state, .skipReason]})
	    | add' <<<"$ex")" \
	    '{"prepare":["SUCCESS",null],"notify":["SKIPPED","condition"],"archive":["SUCCESS",null],"report":["SUCCESS",null]}'
	# the skipped task was never called; the others once each
	assert_equal "$(calls "$E" | jq -r .body.taskId | sort | tr '\n' ' ')" \
	    "archive prepare report "
}

@test "shell tasks: an argv command and sh -c, output on stdout or in \$LOOM_OUTPUT" {
	rm -f "$BATS_TEST_TMPDIR/pwned"
	cat >"$WF" <<EOF
id: rt-shell
tasks:
  - id: argv
    command: [jq, -c, "{n: (.input.n * 2), attempt: (env.LOOM_ATTEMPT | tonumber), task: env.LOOM_TASK_ID}"]
    input: {n: 21}
  - id: script
    dependsOn: argv
    command: |
      read -r envelope
      printf '%s' "\$envelope" | jq -c '{from: .input.from, evil: .input.evil, exec: .executionId}' >"\$LOOM_OUTPUT"
      echo "this last line is not JSON"
    input:
      from: "\${{ .tasks.argv.output.n }}"
      evil: "\$(touch $BATS_TEST_TMPDIR/pwned)"
  - id: fails
    dependsOn: argv
    command: "echo about to fail >&2; exit 3"
    maxAttempts: 1
EOF
	apply "$WF"
	E=$(trigger rt-shell)
	ex=$(finished "$E")
	assert_equal "$(jq -r .status <<<"$ex")" FAILED
	assert_equal "$(states "$ex")" "argv=SUCCESS script=SUCCESS fails=DEAD"
	json_is "$(task "$ex" argv | jq -c .output)" \
	    '{"n":42,"attempt":1,"task":"argv"}'
	json_is "$(task "$ex" script | jq -c .output)" \
	    "{\"from\":42,\"evil\":\"\$(touch $BATS_TEST_TMPDIR/pwned)\",\"exec\":\"$E\"}"
	[ ! -e "$BATS_TEST_TMPDIR/pwned" ]
	assert_equal "$(task "$ex" argv | jq -c '[.attempts[] | .exitCode]')" \
	    '[0]'
	f=$(task "$ex" fails)
	assert_equal "$(jq -c '[.error.type, .attempts[0].exitCode]' <<<"$f")" \
	    '["TaskFailedException",3]'
	assert_regex "$(jq -r .error.message <<<"$f")" 'about to fail'
}

@test "java tasks: a class compiled here gets the envelope and its args" {
	command -v javac >/dev/null || skip "javac is not installed"
	mkdir -p "$BATS_TEST_TMPDIR/src" "$BATS_TEST_TMPDIR/classes"
	cat >"$BATS_TEST_TMPDIR/src/Report.java" <<'EOF'
import java.io.*;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;

public class Report {
    public static void main(String[] args) throws IOException {
        String req = new String(System.in.readAllBytes(),
            StandardCharsets.UTF_8);
        String out = "{\"args\":\"" + String.join(",", args)
            + "\",\"task\":\"" + System.getenv("LOOM_TASK_ID")
            + "\",\"sawDate\":" + req.contains("\"2024-01-14\"") + "}";
        Files.write(Paths.get(System.getenv("LOOM_OUTPUT")),
            out.getBytes(StandardCharsets.UTF_8));
        System.out.println("report written");
    }
}
EOF
	javac -d "$BATS_TEST_TMPDIR/classes" "$BATS_TEST_TMPDIR/src/Report.java"
	cat >"$WF" <<EOF
id: rt-java
tasks:
  - id: report
    type: java
    class: Report
    classpath: $BATS_TEST_TMPDIR/classes
    args: [daily, "2"]
    jvmOptions: [-Xmx64m]
    input: {date: "2024-01-14"}
    timeout: 60s
EOF
	apply "$WF"
	E=$(trigger rt-java)
	ex=$(finished "$E")
	assert_equal "$(jq -r .status <<<"$ex")" SUCCESS
	assert_equal "$(states "$ex")" "report=SUCCESS"
	json_is "$(task "$ex" report | jq -c .output)" \
	    '{"args":"daily,2","task":"report","sawDate":true}'
}

@test "an asynchronous (202) task completes through loom-api's callback" {
	cat >"$WF" <<EOF
id: rt-async
tasks:
  - id: accept
    url: $B/accept?async=1&sleep=300
    input: {job: 42}
    timeout: 30s
  - id: after
    url: $B/after
    dependsOn: accept
    input: {job: "\${{ .tasks.accept.output.echo.job }}"}
EOF
	apply "$WF"
	E=$(trigger rt-async)
	ex=$(finished "$E")
	assert_equal "$(jq -r .status <<<"$ex")" SUCCESS
	assert_equal "$(states "$ex")" "accept=SUCCESS after=SUCCESS"
	a=$(task "$ex" accept)
	assert_equal "$(jq -c '[.attempts[] | .status]' <<<"$a")" \
	    '["ACCEPTED","SUCCESS"]'
	json_is "$(jq -c .output <<<"$a")" \
	    '{"echo":{"job":42},"task":"accept","attempt":1}'
	assert_equal "$(call "$E" after | jq -c .body.input)" '{"job":42}'
	# the request carried loom-api's callback URL, and the callback landed
	url=$(call "$E" accept | jq -r .body.callbackUrl)
	assert_regex "$url" "^$LOOM_API/api/v1/callbacks/$E~accept~[0-9a-f]{64}\$"
	assert_equal "$(jq -c --arg u "$url" 'select(.callback == $u) |
	    .status' "$BACKEND_LOG")" 200
}

@test "a callback that arrives before the executor recorded the 202 counts" {
	# The backend posts its result at once, racing loom-exec, which
	# records the 202 (awaiting_callback) only when it writes the result
	# batch.  The token is fresh per claim, so a callback with it while
	# the task is RUNNING can only be for this attempt.
	{
		echo "id: rt-async-race"
		echo "tasks:"
		for i in $(seq 1 20); do
			echo "  - {id: t$i, url: \"$B/race?async=1\", timeout: 5s, maxAttempts: 1}"
		done
	} >"$WF"
	apply "$WF"
	E=$(trigger rt-async-race)
	ex=$(finished "$E")
	assert_equal "$(jq -c '[.tasks[] | select(.state != "SUCCESS") |
	    {(.taskId): .error}] | add' <<<"$ex")" null
	assert_equal "$(jq -r .status <<<"$ex")" SUCCESS
}

@test "an asynchronous task whose callback never comes fails at its timeout" {
	g=rt-late-$RANDOM$RANDOM
	cat >"$WF" <<EOF
id: rt-async-late
tasks:
  - id: late
    url: $B/late?async=1&gate=$g
    timeout: 1s
    maxAttempts: 1
  - id: after
    url: $B/after
    dependsOn: late
EOF
	apply "$WF"
	E=$(trigger rt-async-late)
	ex=$(finished "$E")
	assert_equal "$(jq -r .status <<<"$ex")" FAILED
	assert_equal "$(states "$ex")" "late=DEAD after=SKIPPED"
	json_is "$(task "$ex" late | jq -c '.error')" \
	    '{"type":"TimeoutException","message":"no callback within the task timeout"}'
	assert_equal "$(task "$ex" late | jq -c '[.attempts[] | .status]')" \
	    '["ACCEPTED","FAILED"]'
	# the late callback is refused
	open_gate "$g"
	url=$(call "$E" late | jq -r .body.callbackUrl)
	wait_for -t 10 grep -qF "\"callback\":\"$url\"" "$BACKEND_LOG"
	assert_equal "$(jq -c --arg u "$url" 'select(.callback == $u) |
	    .status' "$BACKEND_LOG")" 409
}

@test "two executors and two engines share 200 tasks and a chain; each runs once" {
	loom_daemon_start loom-engine
	engine2=$LOOM_DAEMON_PID
	LOOM_EXEC_NAME=rt-exec-2 loom_daemon_start loom-exec -j 32
	exec2=$LOOM_DAEMON_PID
	{
		echo "id: rt-wide"
		echo "tasks:"
		for i in $(seq -w 1 200); do
			echo "  - {id: p$i, url: \"$B/p?sleep=20\", input: {i: $((10#$i))}}"
		done
		echo "  - {id: c1, url: \"$B/c\"}"
		for i in 2 3 4 5; do
			echo "  - {id: c$i, url: \"$B/c\", dependsOn: c$((i - 1))}"
		done
	} >"$WF"
	apply "$WF"
	E=$(trigger rt-wide)
	ex=$(finished "$E")
	all_succeeded "$ex" 205
	# exactly one call per Idempotency-Key, 205 keys
	keys_once "$E" 205
	# the chain ran in order
	prev=0
	for i in 1 2 3 4 5; do
		ts=$(call "$E" c$i | jq .ts)
		[ "$ts" -ge "$prev" ]
		prev=$ts
	done
	# both executors took part, and nothing ran twice in the history
	assert_equal "$(sql "SELECT count(DISTINCT executor) FROM
	    task_executions WHERE execution_id = '$E'")" 2
	assert_equal "$(sql "SELECT count(*) FROM task_executions
	    WHERE execution_id = '$E'")" 205
	# results are written in batches: rows of one transaction share
	# completed_at (now()), so far fewer distinct values than rows
	batches=$(sql "SELECT count(DISTINCT completed_at) FROM
	    task_executions WHERE execution_id = '$E'")
	echo "205 results in $batches transactions"
	[ "$batches" -le 100 ]
	loom_daemon_stop "$exec2"
	loom_daemon_stop "$engine2"
}

@test "a fan-out of 2,500 is promoted in transactions of 1,000; each task runs once" {
	{
		echo "id: rt-fan"
		echo "tasks:"
		for i in $(seq 1 2500); do
			echo "  - {id: f$i, url: \"$B/f\"}"
		done
	} >"$WF"
	apply "$WF"
	E=$(trigger rt-fan)
	ex=$(finished "$E")
	all_succeeded "$ex" 2500
	keys_once "$E" 2500
	# one event per promotion, written by three transactions
	assert_equal "$(sql "SELECT count(*) FROM events WHERE
	    execution_id = '$E' AND to_state = 'READY'")" 2500
	assert_equal "$(sql "SELECT count(DISTINCT xmin::text) FROM events
	    WHERE execution_id = '$E' AND to_state = 'READY'")" 3
	assert_equal "$(sql "SELECT count(*) FROM events WHERE
	    execution_id = '$E' AND kind = 'run' AND to_state = 'RUNNING'")" 1
}

@test "an engine reads a version when it is applied, before its first run" {
	loom_daemon_start loom-engine -v
	engine2=$LOOM_DAEMON_PID log2=$LOOM_DAEMON_LOG
	printf 'id: rt-ahead\ntasks:\n  - {id: a, url: "%s/a"}\n' "$B" >"$WF"
	apply "$WF"
	wait_for grep -q 'workflow rt-ahead version 1: read ahead' "$log2"
	printf '  - {id: b, url: "%s/b", dependsOn: [a]}\n' "$B" >>"$WF"
	apply "$WF"
	wait_for grep -q 'workflow rt-ahead version 2: read ahead' "$log2"
	E=$(trigger rt-ahead)
	ex=$(finished "$E")
	loom_daemon_stop "$engine2"
	assert_equal "$(jq -r .status <<<"$ex")" SUCCESS
	assert_equal "$(states "$ex")" "a=SUCCESS b=SUCCESS"
}

@test "a pass in several transactions stops when another engine passed the run" {
	# what loom-engine runs before each transaction after the first
	run sql "SELECT loom_check(false, 'another engine passed the run')"
	assert_failure
	assert_output --partial 'another engine passed the run'
	run sql "SELECT loom_check(true, 'x')"
	assert_success
}

@test "deleting a run by hand takes its task rows and attempt history with it" {
	printf 'id: rt-del\ntasks:\n  - {id: a, url: "%s/a"}\n  - {id: b, url: "%s/b", dependsOn: a}\n' \
	    "$B" "$B" >"$WF"
	apply "$WF"
	E=$(trigger rt-del)
	assert_equal "$(jq -r .status <<<"$(finished "$E")")" SUCCESS
	assert_equal "$(sql "SELECT count(*) FROM task_executions
	    WHERE execution_id = '$E'")" 2
	sql "DELETE FROM events WHERE execution_id = '$E'"
	sql "DELETE FROM executions WHERE id = '$E'"
	assert_equal "$(sql "SELECT count(*) FROM run_tasks
	    WHERE execution_id = '$E'")" 0
	assert_equal "$(sql "SELECT count(*) FROM task_executions
	    WHERE execution_id = '$E'")" 0
}

@test "a claimed row whose request is no object fails its attempt; the executor keeps serving" {
	# a is held by the backend until b's row, which no engine wrote
	# yet, was written by hand and failed
	g=rt-broken-$RANDOM$RANDOM
	printf 'id: rt-broken\ntasks:\n  - {id: a, url: "%s/a?gate=%s"}\n  - {id: b, url: "%s/b", dependsOn: a, maxAttempts: 1}\n' \
	    "$B" "$g" "$B" >"$WF"
	apply "$WF"
	E=$(trigger rt-broken)
	wait_for -t 20 grep -qF "\"idempotencyKey\":\"$E/a/1\"" "$BACKEND_LOG"
	# what no engine writes: a READY row whose request is a string
	sql "INSERT INTO run_tasks (execution_id, task_id, state, attempt,
	    request) VALUES ('$E', 'b', 'READY', 1, '\"x\"');
	    SELECT pg_notify('loom_task_ready', '$E')" >/dev/null
	wait_for -t 20 test -n "$(sql "SELECT 1 FROM task_executions WHERE
	    execution_id = '$E' AND task_id = 'b'")"
	assert_equal "$(sql "SELECT error_type FROM task_executions WHERE
	    execution_id = '$E' AND task_id = 'b'")" ValidationException
	kill -0 "$(exec_pid)"
	open_gate "$g"
	finished "$E" >/dev/null
	# and the executor still runs what comes next
	printf 'id: rt-after\ntasks:\n  - {id: a, url: "%s/a"}\n' "$B" >"$WF"
	apply "$WF"
	E=$(trigger rt-after)
	assert_equal "$(jq -r .status <<<"$(finished "$E")")" SUCCESS
}

@test "a result the database refuses fails alone; the rest of its batch is written" {
	{
		echo "id: rt-nul"
		echo "tasks:"
		echo "  - {id: bad, url: \"$B/bad?nul=1&sleep=100\", maxAttempts: 1}"
		for i in 1 2 3 4 5; do
			echo "  - {id: ok$i, url: \"$B/ok?sleep=100\"}"
		done
	} >"$WF"
	apply "$WF"
	E=$(trigger rt-nul)
	ex=$(finished "$E")
	assert_equal "$(jq -r .status <<<"$ex")" FAILED
	assert_equal "$(jq '[.tasks[] | select(.state == "SUCCESS")] |
	    length' <<<"$ex")" 5
	assert_equal "$(sql "SELECT state FROM run_tasks WHERE
	    execution_id = '$E' AND task_id = 'bad'")" DEAD
	run sql "SELECT error_message FROM run_tasks WHERE
	    execution_id = '$E' AND task_id = 'bad'"
	assert_output --partial 'the result could not be stored'
	# one attempt each: nothing ran twice
	assert_equal "$(calls "$E" | wc -l)" 6
	grep -q "\[task=bad\] \[attempt=1\] the result cannot be stored" \
	    "$LOOM_TEST_DIR"/loom-exec.*.log
}

@test "loom run gives the same task states and outputs as the server" {
	cat >"$WF" <<EOF
id: rt-local
params: {who: world, loud: false}
tasks:
  - id: greet
    url: $B/greet
    input: {who: "\${{ .params.who }}"}
  - id: shout
    url: $B/shout
    dependsOn: greet
    when: .params.loud
  - id: measure
    command: [jq, -c, "{len: (.input.text | length)}"]
    dependsOn: greet
    input: {text: "hello \${{ .tasks.greet.output.echo.who }}"}
  - id: total
    url: $B/total
    dependsOn: [shout, measure]
    input: {len: "\${{ .tasks.measure.output.len }}"}
EOF
	apply "$WF"
	E=$(trigger rt-local '{"who":"loom"}')
	ex=$(finished "$E")
	assert_equal "$(jq -r .status <<<"$ex")" SUCCESS
	server_states=$(jq -cS '.tasks | map({(.taskId): .state}) | add' \
	    <<<"$ex")
	server_outputs=$(jq -cS '[.tasks[] | select(.state == "SUCCESS") |
	    {(.taskId): .output}] | add' <<<"$ex")

	run -0 "$LOOM_BIN/loom" run "$WF" --input '{"who":"loom"}'
	events=$output
	local_states=$(jq -scS '[.[] | select(.event == "task")] |
	    reduce .[] as $e ({}; .[$e.task] = $e.to)' <<<"$events")
	local_outputs=$(jq -scS '.[] | select(.event == "finish") | .outputs' \
	    <<<"$events")
	assert_equal "$(jq -r 'select(.event == "finish") | .status' \
	    <<<"$events")" SUCCESS
	assert_equal "$local_states" "$server_states"
	assert_equal "$local_outputs" "$server_outputs"
	assert_equal "$server_states" \
	    '{"greet":"SUCCESS","measure":"SUCCESS","shout":"SKIPPED","total":"SUCCESS"}'
	assert_equal "$(jq -c .total.echo <<<"$server_outputs")" '{"len":10}'
}

@test "a failing task is retried per its policy; one out of attempts ends DEAD" {
	cat >"$WF" <<EOF
id: rt-retry
tasks:
  - id: flaky
    url: $B/flaky?fail=2
    retryPolicy:
      maxAttempts: 3
      backoffStrategy: fixed
      initialDelay: 100ms
      retryOn: [TaskFailedException]
  - id: after
    url: $B/after
    dependsOn: flaky
EOF
	apply "$WF"
	E=$(trigger rt-retry)
	ex=$(finished "$E")
	assert_equal "$(jq -r .status <<<"$ex")" SUCCESS
	assert_equal "$(states "$ex")" "flaky=SUCCESS after=SUCCESS"
	f=$(task "$ex" flaky)
	assert_equal "$(jq -c '[.attempt, [.attempts[] | .status]]' <<<"$f")" \
	    '[3,["FAILED","FAILED","SUCCESS"]]'
	assert_equal "$(jq -c .output.attempt <<<"$f")" 3
	assert_equal "$(calls "$E" | jq -r .idempotencyKey | tr '\n' ' ')" \
	    "$E/flaky/1 $E/flaky/2 $E/flaky/3 $E/after/1 "

	cat >"$WF" <<EOF
id: rt-dead
tasks:
  - id: doomed
    url: $B/doomed?fail=5
    retryPolicy: {maxAttempts: 2, initialDelay: 100ms, retryOn: [TaskFailedException]}
  - id: downstream
    url: $B/downstream
    dependsOn: doomed
  - id: further
    url: $B/further
    dependsOn: downstream
EOF
	apply "$WF"
	E=$(trigger rt-dead)
	ex=$(finished "$E")
	assert_equal "$(jq -r .status <<<"$ex")" FAILED
	json_is "$(jq -c '.tasks | map({(.taskId): [.state, .attempt,
	    .skipReason]}) | add' <<<"$ex")" \
	    '{"doomed":["DEAD",2,null],"downstream":["SKIPPED",0,"upstream"],"further":["SKIPPED",0,"upstream"]}'
	assert_equal "$(task "$ex" doomed | jq -r .error.type)" \
	    TaskFailedException
	assert_equal "$(calls "$E" | jq -r .idempotencyKey | tr '\n' ' ')" \
	    "$E/doomed/1 $E/doomed/2 "
	assert_equal "$(sql "SELECT task_id || ' ' || attempts FROM
	    dead_letters WHERE execution_id = '$E'")" "doomed 2"
}

@test "cancelling a run stops its running task on the executor" {
	cat >"$WF" <<EOF
id: rt-cancel
tasks:
  - id: slow
    url: $B/slow?gate=rt-cancel-never
    timeout: 60s
  - id: after
    url: $B/after
    dependsOn: slow
EOF
	apply "$WF"
	E=$(trigger rt-cancel)
	wait_for -t 20 grep -qF "\"idempotencyKey\":\"$E/slow/1\"" \
	    "$BACKEND_LOG"
	# as `loom cancel` does: the request, then the engine's doorbell
	sql "UPDATE executions SET cancel_requested = true WHERE id = '$E';
	    SELECT pg_notify('loom_run', '$E')" >/dev/null
	ex=$(finished "$E")
	assert_equal "$(jq -r .status <<<"$ex")" CANCELLED
	assert_equal "$(states "$ex")" "slow=CANCELLED after=CANCELLED"
	# the executor stopped the attempt and wrote nothing for it
	wait_for -t 10 grep -qE "\\[execution=$E\\] \\[task=slow\\] \\[attempt=1\\] (the run was cancelled|the task is not leased)" \
	    "$LOOM_TEST_DIR"/loom-exec.*.log
	assert_equal "$(sql "SELECT count(*) FROM task_executions
	    WHERE execution_id = '$E'")" 0
}

@test "on SIGTERM a task still running at exec.drain_timeout runs again elsewhere" {
	loom_daemon_stop "$(exec_pid)"
	LOOM_EXEC_NAME=rt-exec-a LOOM_EXEC_DRAIN_TIMEOUT=200ms \
	    loom_daemon_start loom-exec
	a=$LOOM_DAEMON_PID
	alog=$LOOM_DAEMON_LOG
	g=rt-drain-$RANDOM$RANDOM
	cat >"$WF" <<EOF
id: rt-drain
tasks:
  - id: quick
    url: $B/quick
  - id: slow
    url: $B/slow?gate=$g
    timeout: 30s
EOF
	apply "$WF"
	E=$(trigger rt-drain)
	wait_for -t 20 grep -qF "\"idempotencyKey\":\"$E/slow/1\"" \
	    "$BACKEND_LOG"
	loom_daemon_stop "$a"	# exit status 0 after a drain
	grep -q "released 1 task for other executors" "$alog"
	LOOM_EXEC_NAME=rt-exec-b loom_daemon_start loom-exec
	exec_replaced
	open_gate "$g"
	ex=$(finished "$E")
	assert_equal "$(jq -r .status <<<"$ex")" SUCCESS
	assert_equal "$(states "$ex")" "quick=SUCCESS slow=SUCCESS"
	# the same attempt ran again (same Idempotency-Key), reported by b
	assert_equal "$(calls "$E" | jq -r .idempotencyKey | sort | uniq -c |
	    awk '{print $1, $2}' | tr '\n' ' ')" \
	    "1 $E/quick/1 2 $E/slow/1 "
	assert_equal "$(sql "SELECT executor FROM task_executions
	    WHERE execution_id = '$E' AND task_id = 'slow'")" rt-exec-b
	# its events say that the first run of the attempt was given up
	assert_equal "$(sql "SELECT data->>'reason' FROM events WHERE
	    execution_id = '$E' AND task_id = 'slow' AND to_state = 'FAILED'")" \
	    "lease released"
}

@test "a killed executor's task is taken over when its lease expires" {
	loom_daemon_stop "$(exec_pid)"
	LOOM_EXEC_NAME=rt-exec-k LOOM_EXEC_LEASE=1s loom_daemon_start loom-exec
	k=$LOOM_DAEMON_PID
	g=rt-crash-$RANDOM$RANDOM
	cat >"$WF" <<EOF
id: rt-crash
tasks:
  - id: slow
    url: $B/slow?gate=$g
    timeout: 30s
EOF
	apply "$WF"
	E=$(trigger rt-crash)
	wait_for -t 20 grep -qF "\"idempotencyKey\":\"$E/slow/1\"" \
	    "$BACKEND_LOG"
	kill -KILL "$k"
	loom_daemon_stop "$k" || true	# reaped; forgotten
	# the survivor claims nothing until the dead lease runs out; no
	# doorbell rings for that: its lease timer does it
	LOOM_EXEC_NAME=rt-exec-s loom_daemon_start loom-exec
	exec_replaced
	open_gate "$g"
	ex=$(finished "$E")
	assert_equal "$(jq -r .status <<<"$ex")" SUCCESS
	assert_equal "$(calls "$E" | jq -r .idempotencyKey | tr '\n' ' ')" \
	    "$E/slow/1 $E/slow/1 "
	assert_equal "$(sql "SELECT executor FROM task_executions
	    WHERE execution_id = '$E'")" rt-exec-s
}

@test "running tasks survive a database restart and report afterwards" {
	g=rt-dbdown-$RANDOM$RANDOM
	cat >"$WF" <<EOF
id: rt-dbdown
tasks:
  - id: slow
    url: $B/slow?gate=$g
    timeout: 30s
  - id: after
    url: $B/after
    dependsOn: slow
EOF
	apply "$WF"
	E=$(trigger rt-dbdown)
	wait_for -t 20 grep -qF "\"idempotencyKey\":\"$E/slow/1\"" \
	    "$BACKEND_LOG"
	"$LOOM_BIN/loom" db stop --state-dir "$LOOM_TEST_DIR" 3>&-
	"$LOOM_BIN/loom" db start --state-dir "$LOOM_TEST_DIR" --fast \
	    >/dev/null 3>&-
	open_gate "$g"
	ex=$(finished "$E")
	assert_equal "$(jq -r .status <<<"$ex")" SUCCESS
	assert_equal "$(states "$ex")" "slow=SUCCESS after=SUCCESS"
	# the attempt ran once: its result was kept and written after
	assert_equal "$(calls "$E" | jq -r .idempotencyKey | tr '\n' ' ')" \
	    "$E/slow/1 $E/after/1 "
	grep -q "database connection is back" "$LOOM_TEST_DIR"/loom-exec.*.log
}
