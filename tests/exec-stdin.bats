#!/usr/bin/env bats
# loom-exec --stdin: real requests against a real HTTP backend
# (tests/backend, libmicrohttpd) and real shell/java processes.

bats_require_minimum_version 1.5.0

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

# Starts a backend logging to $1; sets BACKEND_PID and PORT.  Waits on the
# "port N" line it prints once it listens, never on a sleep.
start_backend() {
	local fifo="$WORK/port.$BASHPID.$RANDOM" word
	mkfifo "$fifo"
	"$BACKEND_BIN" -p 0 -l "$1" >"$fifo" 2>>"$WORK/backend.err" 3>&- &
	BACKEND_PID=$!
	read -r -t 10 word PORT <"$fifo"
	rm -f "$fifo"
	[ "$word" = port ] && [ -n "$PORT" ]
}

setup_file() {
	local root="$BATS_TEST_DIRNAME/.." b
	case "${BUILD:-build}" in
	/*) b=$BUILD ;;
	*) b=$root/${BUILD:-build} ;;
	esac
	export EXEC="${LOOM_BIN:-$b/bin}/loom-exec"
	export BACKEND_BIN="$b/tests/loom-test-backend"
	export WORK="$BATS_FILE_TMPDIR"
	export CALLS="$WORK/calls.jsonl"
	: >"$WORK/empty.conf"
	export LOOM_CONFIG="$WORK/empty.conf"
	start_backend "$CALLS"
	export PORT BACKEND_PID
	export BASE="http://127.0.0.1:$PORT/api/tasks"
}

# what a failed kill -9 test left behind: the process groups of its
# marked processes
teardown() {
	local p g
	[ -n "${MARK:-}" ] || return 0
	for p in $(pgrep -f "$MARK"); do
		g=$(ps -o pgid= -p "$p" | tr -d ' ')
		[ -z "$g" ] || kill -KILL -- "-$g" 2>/dev/null || true
	done
}

teardown_file() {
	[ -z "${BACKEND_PID:-}" ] || kill "$BACKEND_PID" 2>/dev/null || true
}

# http_req TASKID URL [TIMEOUT]: one request line with a fixed input.
http_req() {
	jq -nc --arg t "$1" --arg u "$2" --arg to "${3:-5s}" \
	    '{executionId:"exec-http", taskId:$t, attempt:1,
	      input:{n:1, s:"a b"}, task:{type:"http", url:$u, timeout:$to}}'
}

# shell_req TASKID COMMAND-JSON [TIMEOUT] [EXTRA-TASK-JSON]: the command is
# JSON (an argv array, or a string for /bin/sh -c); sh_req takes the
# /bin/sh -c string as is.
shell_req() {
	local extra=${4:-'{}'}
	jq -nc --arg t "$1" --argjson c "$2" --arg to "${3:-10s}" \
	    --argjson x "$extra" \
	    '{executionId:"exec-sh", taskId:$t, attempt:2,
	      input:{evil:"$(touch /tmp/loom-pwned-$PPID)", n:7},
	      task:({type:"shell", command:$c, timeout:$to} + $x)}'
}
sh_req() {
	shell_req "$1" "$(jq -nc --arg c "$2" '$c')" "${3:-10s}" "${4:-}"
}

# result TASKID: the result line of that task from $output.
result() {
	printf '%s\n' "$output" | jq -c --arg t "$1" 'select(.taskId == $t)'
}

# wait_for CMD...: until the command succeeds, for at most ~10s.
wait_for() {
	local i
	for i in $(seq 1 200); do
		"$@" && return 0
		sleep 0.05
	done
	return 1
}

@test "-n checks the configuration; bad options are usage errors" {
	run "$EXEC" --stdin -n
	assert_success
	assert_output "configuration ok"
	run "$EXEC" --stdin -j 0
	assert_failure 2
	run "$EXEC" --stdin extra-argument
	assert_failure 2
	LOOM_EXEC_KILL_GRACE=soon run "$EXEC" --stdin -n
	assert_failure 2
}

@test "http: success echoes the input" {
	run "$EXEC" --stdin <<<"$(http_req ok "$BASE/echo")"
	assert_success
	r=$(result ok)
	[ "$(jq -r .status <<<"$r")" = SUCCESS ]
	[ "$(jq -c .output <<<"$r")" = \
	    '{"echo":{"n":1,"s":"a b"},"task":"ok","attempt":1}' ]
	[ "$(jq -r .httpStatus <<<"$r")" = 200 ]
	[ "$(jq -r .logs <<<"$r")" = "handled by loom-test-backend" ]
	[ "$(jq -r '.executionId + "/" + (.attempt|tostring)' <<<"$r")" = \
	    exec-http/1 ]
	jq -e '.durationMs >= 0' <<<"$r"
}

@test "http: Idempotency-Key, traceparent and the envelope reach the backend" {
	tp=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
	reqs=$(jq -nc --arg u "$BASE/hdr" '
	    {executionId:"exec-h", taskId:"hdr", attempt:3, input:{x:1},
	     task:{type:"http", url:$u, timeout:"5s",
	           headers:{"X-Custom":"yes"}}},
	    {executionId:"exec-h", taskId:"tp", attempt:1, traceparent:"'$tp'",
	     task:{type:"http", url:$u, timeout:"5s"}}')
	run "$EXEC" --stdin <<<"$reqs"
	assert_success
	call=$(jq -c 'select(.idempotencyKey == "exec-h/hdr/3")' "$CALLS")
	[ -n "$call" ]
	[[ "$(jq -r .traceparent <<<"$call")" =~ ^00-[0-9a-f]{32}-[0-9a-f]{16}-01$ ]]
	[ "$(jq -r .traceparent <<<"$call")" = \
	    "$(result hdr | jq -r .traceparent)" ]
	[ "$(jq -r .contentType <<<"$call")" = application/json ]
	[[ "$(jq -r .userAgent <<<"$call")" == link-loom/* ]]
	[ "$(jq -r '.headers["x-custom"]' <<<"$call")" = yes ]
	[ "$(jq -r .method <<<"$call")" = POST ]
	[ "$(jq -c .body <<<"$call")" = \
	    '{"executionId":"exec-h","taskId":"hdr","input":{"x":1},"attempt":3,"timeout":5000}' ]
	# a traceparent in the request is passed on unchanged
	[ "$(jq -r 'select(.idempotencyKey == "exec-h/tp/1") | .traceparent' \
	    "$CALLS")" = "$tp" ]
}

@test "http: 500, 404, 422 and 400 map to their error classes" {
	reqs=$(for s in 500 404 422 400; do
		http_req "s$s" "$BASE/st?status=$s"; done)
	run "$EXEC" --stdin <<<"$reqs"
	assert_failure 1
	[ "$(result s500 | jq -r .error.type)" = HttpServerError ]
	[ "$(result s404 | jq -r .error.type)" = ResourceNotFoundException ]
	[ "$(result s422 | jq -r .error.type)" = ValidationException ]
	[ "$(result s400 | jq -r .error.type)" = ValidationException ]
	[ "$(result s500 | jq -r .httpStatus)" = 500 ]
	[ "$(result s500 | jq -r .status)" = FAILED ]
}

@test "http: a closed port is a ConnectionException" {
	start_backend "$WORK/other.jsonl"
	closed=$PORT
	kill "$BACKEND_PID"
	wait "$BACKEND_PID" || true
	run "$EXEC" --stdin <<<"$(http_req refused "http://127.0.0.1:$closed/api/tasks/x")"
	assert_failure 1
	[ "$(result refused | jq -r .error.type)" = ConnectionException ]
}

@test "http: a connection closed without an answer is a ConnectionException" {
	run "$EXEC" --stdin <<<"$(http_req closed "$BASE/c?close=1")"
	assert_failure 1
	[ "$(result closed | jq -r .error.type)" = ConnectionException ]
}

@test "http: a reused connection closed without an answer is not sent again" {
	# one slot: the second request reuses the first one's connection,
	# which the backend then closes; curl would silently send it again
	reqs=$(http_req warm "$BASE/warm"; http_req reused "$BASE/reused?close=1")
	run "$EXEC" --stdin -j 1 <<<"$reqs"
	assert_failure 1
	[ "$(result warm | jq -r .status)" = SUCCESS ]
	[ "$(result reused | jq -r .error.type)" = ConnectionException ]
	[[ "$(result reused | jq -r .error.message)" == *"closed without an answer"* ]]
	[ "$(grep -c '"/api/tasks/reused' "$CALLS")" = 1 ]
}

@test "http: no answer within the timeout is a TimeoutException" {
	run "$EXEC" --stdin <<<"$(http_req slow "$BASE/slow?sleep=5000" 300ms)"
	assert_failure 1
	[ "$(result slow | jq -r .error.type)" = TimeoutException ]
	jq -e '.durationMs >= 250 and .durationMs < 3000' <<<"$(result slow)"
}

@test "http: a FAILED body is a TaskFailedException unless it names a class" {
	reqs=$(http_req f1 "$BASE/f?fail=1"
	    http_req f2 "$BASE/f?fail=1&errtype=ValidationException"
	    http_req bad "$BASE/f?badjson=1"
	    http_req empty "$BASE/f?empty=1")
	run "$EXEC" --stdin <<<"$reqs"
	assert_failure 1
	[ "$(result f1 | jq -r .error.type)" = TaskFailedException ]
	[ "$(result f1 | jq -r .logs)" = "loom-test-backend failed on purpose" ]
	[ "$(result f2 | jq -r .error.type)" = ValidationException ]
	[ "$(result bad | jq -r .error.type)" = TaskFailedException ]
	[[ "$(result bad | jq -r .error.message)" == *"not JSON"* ]]
	[ "$(result empty | jq -r .status)" = SUCCESS ]
	[ "$(result empty | jq -c .output)" = null ]
	# fail=1 failed the first call for exec-http/f1 only: attempt 2 works
	run "$EXEC" --stdin <<<"$(http_req f1 "$BASE/f?fail=1" |
	    jq -c '.attempt = 2')"
	assert_success
	[ "$(result f1 | jq -c '[.attempt, .status]')" = '[2,"SUCCESS"]' ]
}

@test "http: 202 is ACCEPTED and the backend calls back to callbackUrl" {
	req=$(jq -nc --arg u "$BASE/a?async=1&sleep=10" '
	    {executionId:"exec-a", taskId:"async", attempt:1,
	     callbackToken:"tok-42", input:{q:1},
	     task:{type:"http", url:$u, timeout:"5s"}}')
	LOOM_EXEC_CALLBACK_URL="http://127.0.0.1:$PORT/" \
	    run "$EXEC" --stdin <<<"$req"
	[ "$(result async | jq -r .status)" = ACCEPTED ]
	[ "$(result async | jq -r .httpStatus)" = 202 ]
	[ "$(jq -r 'select(.idempotencyKey == "exec-a/async/1") |
	    .body.callbackUrl' "$CALLS")" = \
	    "http://127.0.0.1:$PORT/api/v1/callbacks/tok-42" ]
	# (-s: jq 1.6's -e looks at the last input only)
	cb() { jq -se 'any(.[]; .path == "/api/v1/callbacks/tok-42" and
	    .body.status == "SUCCESS")' "$CALLS" >/dev/null; }
	wait_for cb
}

@test "shell: argv, sh -c, \$LOOM_OUTPUT, last line, env and workdir" {
	mkdir -p "$WORK/wd"
	reqs=$(shell_req argv '["printf","%s\\n","not json","{\"argv\":true}"]'
	    sh_req shc 'read -r req; echo working
		printf %s "$req" | jq -c "{got: .input, id: env.LOOM_TASK_ID,
		    attempt: env.LOOM_ATTEMPT, exec: env.LOOM_EXECUTION_ID,
		    greeting: env.GREETING}" > "$LOOM_OUTPUT"
		echo "{\"ignored\":1}"' 10s '{"env":{"GREETING":"hi"}}'
	    sh_req wd 'printf "\"%s\"\n" "$(pwd)"' 10s \
	        "$(jq -nc --arg d "$WORK/wd" '{workdir:$d}')"
	    shell_req quiet '["true"]')
	run "$EXEC" --stdin <<<"$reqs"
	assert_success
	[ "$(result argv | jq -c .output)" = '{"argv":true}' ]
	[ "$(result argv | jq -r .logs)" = "not json
{\"argv\":true}" ]
	[ "$(result shc | jq -c .output)" = \
	    '{"got":{"evil":"$(touch /tmp/loom-pwned-$PPID)","n":7},"id":"shc","attempt":"2","exec":"exec-sh","greeting":"hi"}' ]
	[ "$(result wd | jq -r .output)" = "$WORK/wd" ]
	[ "$(result quiet | jq -c .output)" = null ]
	[ "$(result quiet | jq -r .exitCode)" = 0 ]
	! ls /tmp/loom-pwned-* 2>/dev/null
}

@test "shell: a non-zero exit or a missing command is a TaskFailedException" {
	reqs=$(sh_req three 'echo oops >&2; exit 3'
	    shell_req missing '["/nonexistent/loom-cmd"]')
	run "$EXEC" --stdin <<<"$reqs"
	assert_failure 1
	[ "$(result three | jq -r .error.type)" = TaskFailedException ]
	[ "$(result three | jq -r .exitCode)" = 3 ]
	[[ "$(result three | jq -r .error.message)" == *"status 3: oops"* ]]
	[ "$(result missing | jq -r .error.type)" = TaskFailedException ]
	[[ "$(result missing | jq -r .error.message)" == *"No such file"* ]]
}

# The process is gone, or at least dead (a zombie nobody reaped yet).
gone() {
	! kill -0 "$1" 2>/dev/null ||
	    [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]
}

@test "shell: a timeout kills the whole process group" {
	rm -f "$WORK/child1.pid" "$WORK/child2.pid"
	reqs=$(sh_req t1 "sleep 100 & echo \$! > $WORK/child1.pid; wait" 500ms
	    sh_req t2 "trap '' TERM; sleep 100 & echo \$! > $WORK/child2.pid
		wait; sleep 100" 500ms)
	LOOM_EXEC_KILL_GRACE=300ms run "$EXEC" --stdin <<<"$reqs"
	assert_failure 1
	[ "$(result t1 | jq -r .error.type)" = TimeoutException ]
	[ "$(result t1 | jq -r .signal)" = SIGTERM ]
	# t2 ignores SIGTERM: SIGKILL after the grace period
	[ "$(result t2 | jq -r .error.type)" = TimeoutException ]
	[ "$(result t2 | jq -r .signal)" = SIGKILL ]
	# signalled with their group; on a busy machine a child may take a
	# moment to act on it after its shell is reaped
	wait_for gone "$(cat "$WORK/child1.pid")"
	wait_for gone "$(cat "$WORK/child2.pid")"
}

@test "shell: the last line of stdout is the output, even a blank one" {
	reqs=$(sh_req nl 'echo "{\"a\":1}"'
	    sh_req nonl 'printf "{\"a\":2}"'
	    sh_req blank 'echo "{\"a\":3}"; echo'
	    sh_req spaces 'echo "{\"a\":4}"; echo "  "')
	run "$EXEC" --stdin <<<"$reqs"
	assert_success
	assert_equal "$(result nl | jq -c .output)" '{"a":1}'
	assert_equal "$(result nonl | jq -c .output)" '{"a":2}'
	assert_equal "$(result blank | jq -c .output)" null
	assert_equal "$(result spaces | jq -c .output)" null
}

@test "shell: tasks get PATH, HOME, LANG, exec.pass_env and LOOM_*, not the executor's environment; loom run too" {
	local want
	req=$(sh_req env 'jq -n env >"$LOOM_OUTPUT"' 10s \
	    '{"env":{"OWN":"mine"}}')
	export LOOM_DATABASE_URL=postgresql://loom:pw@db.example/loom
	export LOOM_PROCS_SECRET=s3cret LOOM_PROCS_PASSED=yes
	export LOOM_PROCS_PFX_A=a LOOM_PROCS_PFX_B=b
	export LOOM_EXEC_PASS_ENV="LOOM_PROCS_PASSED,LOOM_PROCS_PFX_* UNSET_X"
	want='["HOME","LANG","LOOM_ATTEMPT","LOOM_EXECUTION_ID","LOOM_OUTPUT",
	    "LOOM_PROCS_PASSED","LOOM_PROCS_PFX_A","LOOM_PROCS_PFX_B",
	    "LOOM_TASK_ID","LOOM_TIMEOUT_MS","LOOM_TRACEPARENT","OWN","PATH",
	    "PWD"]'
	# (PWD is the shell's own; HOME and LANG only when set here)
	export HOME=${HOME:-/} LANG=${LANG:-C}
	run "$EXEC" --stdin <<<"$req"
	assert_success
	assert_equal "$(result env | jq -c '.output | keys')" \
	    "$(jq -c . <<<"$want")"
	assert_equal "$(result env | jq -r .output.PATH)" "$PATH"
	# loom run builds the same environment
	cat >"$WORK/env.yaml" <<'EOF'
id: env
tasks:
  - id: env
    type: shell
    command: jq -n env >"$LOOM_OUTPUT"
    env: {OWN: mine}
EOF
	run "$(dirname "$EXEC")/loom" run -q "$WORK/env.yaml"
	assert_success
	assert_equal "$(printf '%s\n' "$output" |
	    jq -c 'select(.event == "finish") | .outputs.env | keys')" \
	    "$(jq -c . <<<"$want")"
	# a bad name is a configuration error
	LOOM_EXEC_PASS_ENV='A-B' run "$EXEC" --stdin -n
	assert_failure 2
	assert_output --partial "exec.pass_env"
}

@test "shell: the callback token of the envelope is redacted from logs and output" {
	req=$(sh_req cb 'tee /dev/stderr' |
	    jq -c '.callbackToken = "exec-sh~cb~tok3n5ecret"'
	    sh_req file 'cat >"$LOOM_OUTPUT"' |
	    jq -c '.callbackToken = "exec-sh~file~tok3n5ecret"')
	LOOM_EXEC_CALLBACK_URL=http://127.0.0.1:9 run --separate-stderr \
	    "$EXEC" --stdin -d <<<"$req"
	assert_success
	assert_equal "$(result cb | jq -r .output.callbackUrl)" \
	    "http://127.0.0.1:9/api/v1/callbacks/[redacted]"
	[[ "$(result cb | jq -r .logs)" == *'callbacks/[redacted]"'* ]]
	# and in what the task wrote to $LOOM_OUTPUT
	assert_equal "$(result file | jq -r .output.callbackUrl)" \
	    "http://127.0.0.1:9/api/v1/callbacks/[redacted]"
	[[ "$stderr" == *'callbacks/[redacted]'* ]]
	[[ "$output$stderr" != *tok3n5ecret* ]]
}

@test "kill -9 of loom-exec --stdin: nothing of a running shell task is left" {
	MARK=loom-stdin-procs-$$-$RANDOM
	mkfifo "$WORK/$MARK.in"
	"$EXEC" --stdin <"$WORK/$MARK.in" >/dev/null 2>&1 3>&- &
	pid=$!
	exec 4>"$WORK/$MARK.in"
	# a grandchild too, which only the process guard reaches
	sh_req k "sh -c 'sleep 1000 & wait' $MARK-child & wait" 10m >&4
	wait_for pgrep -f "$MARK-child"
	kill -KILL "$pid"
	wait "$pid" || true
	exec 4>&-
	wait_for eval "! pgrep -f '$MARK' >/dev/null"
}

@test "java: a class compiled here runs with args and \$LOOM_OUTPUT" {
	command -v javac >/dev/null || skip "javac is not installed"
	mkdir -p "$WORK/java/src" "$WORK/java/classes"
	cat >"$WORK/java/src/Hello.java" <<'EOF'
import java.io.*;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;

public class Hello {
    public static void main(String[] args) throws IOException {
        byte[] in = System.in.readAllBytes();
        String req = new String(in, StandardCharsets.UTF_8).trim();
        System.out.println("hello from java");
        String out = "{\"args\":" + args.length + ",\"first\":\"" + args[0]
            + "\",\"task\":\"" + System.getenv("LOOM_TASK_ID")
            + "\",\"sawInput\":" + req.contains("\"input\"") + "}";
        Files.write(Paths.get(System.getenv("LOOM_OUTPUT")),
            out.getBytes(StandardCharsets.UTF_8));
    }
}
EOF
	javac -d "$WORK/java/classes" "$WORK/java/src/Hello.java"
	req=$(jq -nc --arg cp "$WORK/java/classes" '
	    {executionId:"exec-j", taskId:"hello", input:{a:1},
	     task:{type:"java", class:"Hello", classpath:$cp,
	           args:["one","two"], jvmOptions:["-Xmx64m"],
	           timeout:"60s"}}')
	run "$EXEC" --stdin <<<"$req"
	assert_success
	[ "$(result hello | jq -c .output)" = \
	    '{"args":2,"first":"one","task":"hello","sawInput":true}' ]
	[ "$(result hello | jq -r .logs)" = "hello from java" ]
}

@test "a malformed line gets an error result and the next line still runs" {
	reqs="$(shell_req first '["true"]')
{this is not json
[1,2]
$(shell_req after '["true"]')"
	run "$EXEC" --stdin <<<"$reqs"
	assert_failure 1
	[ "$(printf '%s\n' "$output" | wc -l)" -eq 4 ]
	bad=$(printf '%s\n' "$output" | jq -c 'select(.line == 2)')
	[ "$(jq -r .error.type <<<"$bad")" = ValidationException ]
	[[ "$(jq -r .error.message <<<"$bad")" == "line 2: "* ]]
	[[ "$(printf '%s\n' "$output" | jq -r 'select(.line == 3) |
	    .error.message')" == "line 3: "* ]]
	[ "$(result after | jq -r .status)" = SUCCESS ]
	[ "$(result first | jq -r .status)" = SUCCESS ]
}

@test "200 concurrent requests with -j 50 all complete" {
	reqs=$(jq -nc --arg u "$BASE/many?sleep=20" 'range(1; 201) |
	    {executionId:"exec-many", taskId:"c\(.)", input:{i:.},
	     task:{type:"http", url:$u, timeout:"10s"}}')
	run "$EXEC" --stdin -j 50 <<<"$reqs"
	assert_success
	[ "$(printf '%s\n' "$output" | jq -r 'select(.status == "SUCCESS") |
	    .taskId' | sort -u | wc -l)" -eq 200 ]
	[ "$(jq -r 'select(.path == "/api/tasks/many") | .idempotencyKey' \
	    "$CALLS" | sort -u | wc -l)" -eq 200 ]
}

@test "SIGTERM cancels running tasks and reports them as Cancelled" {
	mkfifo "$WORK/in"
	"$EXEC" --stdin <"$WORK/in" >"$WORK/term.out" 2>"$WORK/term.err" &
	pid=$!
	exec 7>"$WORK/in"
	sh_req long "touch $WORK/started; sleep 100" >&7
	wait_for test -e "$WORK/started"
	kill -TERM "$pid"
	status=0
	wait "$pid" || status=$?
	exec 7>&-
	[ "$status" -eq 1 ]
	[ "$(jq -r .error.type "$WORK/term.out")" = Cancelled ]
	[ "$(jq -r .taskId "$WORK/term.out")" = long ]
}

@test "shell: \$LOOM_OUTPUT is not there before the task writes it, in a private directory that goes with loom-exec" {
	export TMPDIR=$BATS_TEST_TMPDIR/tmp
	mkdir -p "$TMPDIR"
	req=$(sh_req has 'if [ -e "$LOOM_OUTPUT" ]; then echo there; else echo absent; fi
	    stat -c %a "$(dirname "$LOOM_OUTPUT")"'
	    sh_req writes 'echo "{\"n\":1}" >"$LOOM_OUTPUT"; echo "\"$LOOM_OUTPUT\""'
	    sh_req none 'true')
	run --separate-stderr "$EXEC" --stdin -j 1 <<<"$req"
	assert_success
	# the task's last line: the directory's mode; the file was not there
	assert_equal "$(result has | jq -r .output)" 700
	[[ "$(result has | jq -r .logs)" == *absent* ]]
	assert_equal "$(result writes | jq -c .output)" '{"n":1}'
	# every file and the directory are gone once loom-exec has ended
	run ls -A "$TMPDIR"
	assert_output ""
}

@test "shell: the \$LOOM_OUTPUT directory of a killed loom-exec goes with the next one's first task, a live one's stays" {
	export TMPDIR=$BATS_TEST_TMPDIR/tmp
	mkdir -p "$TMPDIR"
	MARK=loom-stdin-outdir-$$-$RANDOM
	# long LABEL: a loom-exec --stdin whose one task says where its
	# output goes, then sleeps; its pid in $LONG
	long() {
		mkfifo "$WORK/in.$1"
		"$EXEC" --stdin <"$WORK/in.$1" >/dev/null 2>&1 &
		LONG=$!
		exec 7>"$WORK/in.$1"
		sh_req "$1" "echo \"\$LOOM_OUTPUT\" >$WORK/out.$1; sleep 100 # $MARK" >&7
		exec 7>&-
		wait_for test -s "$WORK/out.$1"
	}
	long killed
	kill -KILL "$LONG"
	wait "$LONG" || true
	dead=$(dirname "$(cat "$WORK/out.killed")")
	[ -d "$dead" ]
	: >"$dead/7" # a task's output file, left with it
	long alive
	live=$(dirname "$(cat "$WORK/out.alive")")
	# a second executor's first task
	run --separate-stderr "$EXEC" --stdin <<<"$(sh_req quick 'echo "[1]" >"$LOOM_OUTPUT"')"
	assert_success
	assert_equal "$(result quick | jq -c .output)" '[1]'
	[ ! -e "$dead" ]
	[ -d "$live" ]
	kill -TERM "$LONG"
	wait "$LONG" || true
	run ls -A "$TMPDIR"
	assert_output ""
}
