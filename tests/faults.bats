#!/usr/bin/env bats
# Fault injection, part one: misbehaving backends and tasks that overrun
# their time (the process crashes are in crash.bats).  loom-api,
# loom-engine and loom-exec (database mode) run on a throwaway PostgreSQL
# cluster against the fault-injecting test backend (tests/backend:
# ?fail=N, ?sleep=MS, ?status=CODE, ?close=1, ?async=1) and real shell
# and java processes.
#
# Every test checks, for EVERY task of its run: the final state and
# attempt number and the error class of each attempt as loom-api reports
# them (GET /api/v1/executions/ID?wait=60s), that the attempt history is
# consistent (history_errors), and from the backend's call log how many
# times each attempt was called (callmap): exactly once here, since no
# executor dies in this file.  Waits are on events or conditions, never
# fixed sleeps.

bats_require_minimum_version 1.5.0

load helpers
load fault-helpers

setup_file() {
	loom_pg_start
	loom_backend_start
	loom_api_start
	export LOOM_EXEC_CALLBACK_URL=$LOOM_API
	loom_daemon_start loom-engine
	# a task that ignores SIGTERM is killed 500ms after it
	LOOM_EXEC_KILL_GRACE=500ms loom_daemon_start loom-exec
	export B=$BACKEND_URL/api/tasks
	# a port nobody listens on, for "connection refused"
	export CLOSED_URL=http://127.0.0.1:1/api/tasks
}

teardown_file() {
	loom_stop_all
}

setup() {
	WF=$BATS_TEST_TMPDIR/wf.yaml
}

teardown() {
	[ -z "${BATS_TEST_COMPLETED:-}" ] || return 0
	dump_logs
}

# errors RUN-JSON: {"task": [error type of each attempt's final record]}
errors() {
	jq -cS '.tasks | map({(.taskId): [.attempts[] |
	    select(.status != "ACCEPTED") | .error.type]}) | add' <<<"$1"
}

# states RUN-JSON: {"task": "STATE/ATTEMPT"}
states() {
	jq -cS '.tasks | map({(.taskId): "\(.state)/\(.attempt)"}) | add' \
	    <<<"$1"
}

json_is() {
	assert_equal "$(jq -cS . <<<"$1")" "$(jq -cS . <<<"$2")"
}

# dead_letters EXEC: {"task": "ERROR-TYPE/ATTEMPTS"} of the run's letters
dead_letters() {
	sql "SELECT coalesce(json_object_agg(task_id,
	    error_type || '/' || attempts), '{}') FROM dead_letters
	    WHERE execution_id = '$1'"
}

# gaps RUN-JSON TASK: ms from each attempt's end to the next one's start
gaps() {
	jq -c --arg t "$2" '
	  def ms: sub("Z$"; "") | split(".") |
	    ((.[0] + "Z" | fromdateiso8601) * 1000 + (.[1] | tonumber));
	  .tasks[] | select(.taskId == $t) | .attempts | sort_by(.attempt) |
	  [range(1; length) as $i |
	   (.[$i].startedAt | ms) - (.[$i - 1].completedAt | ms)]' <<<"$1"
}

# call_gaps EXEC TASK: ms between the backend's calls of the task's attempts
call_gaps() {
	jq -sc --arg p "$1/$2/" '[.[] | select((.idempotencyKey // "") |
	    startswith($p))] | sort_by(.idempotencyKey | ltrimstr($p) |
	    tonumber) | [range(1; length) as $i | .[$i].ts - .[$i - 1].ts]' \
	    "$BACKEND_LOG"
}

# all_at_least JSON-ARRAY MIN...: element i >= MIN i
all_at_least() {
	local arr=$1 i=0 want
	shift
	assert_equal "$(jq length <<<"$arr")" "$#"
	for want in "$@"; do
		[ "$(jq ".[$i]" <<<"$arr")" -ge "$want" ] || {
			echo "gap $i of $arr is under $want ms"
			return 1
		}
		i=$((i + 1))
	done
}

@test "backend faults: each attempt gets its error class, retries and DEAD as the class says" {
	cat >"$WF" <<EOF
id: ft-backend
tasks:
  # fails twice, then succeeds: retried with backoff, three attempts
  - id: flaky
    url: $B/flaky?fail=2
    retryPolicy: {maxAttempts: 3, backoffStrategy: fixed, initialDelay: 200ms,
                  jitter: 0, retryOn: [TaskFailedException]}
  - id: after_flaky
    url: $B/after
    dependsOn: flaky
  # no answer within the task timeout: TimeoutException, retried
  - id: hang
    url: $B/hang?sleep=30000
    timeout: 500ms
    retryPolicy: {maxAttempts: 2, initialDelay: 200ms, jitter: 0}
  # 500: HttpServerError, retried until out of attempts
  - id: s500
    url: $B/s500?status=500
    retryPolicy: {maxAttempts: 3, initialDelay: 200ms, jitter: 0}
  # 404: ResourceNotFoundException, DEAD at once
  - id: s404
    url: $B/s404?status=404
    maxAttempts: 3
  - id: after_404
    url: $B/after
    dependsOn: s404
  # 422: ValidationException, DEAD at once
  - id: s422
    url: $B/s422?status=422
    maxAttempts: 3
  # the backend hangs up without answering: ConnectionException; each
  # attempt is delivered once, even over a reused keep-alive connection
  # (curl must not send the request again by itself)
  - id: closed
    url: $B/closed?close=1
    retryPolicy: {maxAttempts: 2, initialDelay: 200ms, jitter: 0}
  # nobody listens: ConnectionException
  - id: refused
    url: $CLOSED_URL/refused
    retryPolicy: {maxAttempts: 2, initialDelay: 200ms, jitter: 0}
  # slow, but within its timeout: SUCCESS at the first attempt
  - id: slow
    url: $B/slow?sleep=1500
    timeout: 20s
EOF
	# the closed port really refuses
	run curl -sS --max-time 5 -X POST "$CLOSED_URL/refused"
	assert_equal "$status" 7
	apply "$WF"
	E=$(trigger ft-backend)
	ex=$(finished "$E")
	assert_equal "$(jq -r .status <<<"$ex")" FAILED
	json_is "$(states "$ex")" '{
	    "flaky": "SUCCESS/3", "after_flaky": "SUCCESS/1",
	    "hang": "DEAD/2", "s500": "DEAD/3",
	    "s404": "DEAD/1", "after_404": "SKIPPED/0",
	    "s422": "DEAD/1", "closed": "DEAD/2", "refused": "DEAD/2",
	    "slow": "SUCCESS/1"}'
	assert_equal "$(task "$ex" after_404 | jq -r .skipReason)" upstream
	json_is "$(errors "$ex")" '{
	    "flaky": ["TaskFailedException", "TaskFailedException", null],
	    "after_flaky": [null],
	    "hang": ["TimeoutException", "TimeoutException"],
	    "s500": ["HttpServerError", "HttpServerError", "HttpServerError"],
	    "s404": ["ResourceNotFoundException"],
	    "after_404": [],
	    "s422": ["ValidationException"],
	    "closed": ["ConnectionException", "ConnectionException"],
	    "refused": ["ConnectionException", "ConnectionException"],
	    "slow": [null]}'
	# the HTTP status is kept with each attempt
	assert_equal "$(task "$ex" s500 | jq -c '[.attempts[].httpStatus]')" \
	    '[500,500,500]'
	assert_equal "$(task "$ex" s404 | jq -c '[.attempts[].httpStatus]')" \
	    '[404]'
	assert_equal "$(task "$ex" s422 | jq -c '[.attempts[].httpStatus]')" \
	    '[422]'
	# the timed-out attempts took their timeout, not the backend's 30s
	task "$ex" hang | jq -e '[.attempts[].durationMs] |
	    all(. >= 500 and . < 10000)'
	task "$ex" slow | jq -e '.attempts[0].durationMs >= 1500'
	assert_equal "$(history_errors "$ex")" ""
	# every attempt that reached the backend was called once, and only
	# the attempts the history shows were called
	json_is "$(callmap "$E")" '{
	    "flaky": [1, 1, 1], "after_flaky": [1], "hang": [1, 1],
	    "s500": [1, 1, 1], "s404": [1], "s422": [1], "closed": [1, 1],
	    "slow": [1]}'
	# the DEAD tasks, and only they, are in the dead-letter queue
	json_is "$(dead_letters "$E")" '{
	    "hang": "TimeoutException/2", "s500": "HttpServerError/3",
	    "s404": "ResourceNotFoundException/1",
	    "s422": "ValidationException/1",
	    "closed": "ConnectionException/2",
	    "refused": "ConnectionException/2"}'
	# retries waited their backoff
	all_at_least "$(gaps "$ex" flaky)" 200 200
	all_at_least "$(gaps "$ex" s500)" 200 200
}

@test "retryOn and dontRetryOn change which classes are retried" {
	cat >"$WF" <<EOF
id: ft-override
tasks:
  # 409 is an HttpClientError: not retried by default ...
  - id: c409
    url: $B/c409?status=409
    maxAttempts: 3
  # ... but retried when listed (it leaves the default dontRetryOn)
  - id: c409_listed
    url: $B/c409?status=409
    retryPolicy: {maxAttempts: 3, initialDelay: 200ms, jitter: 0,
                  retryOn: [HttpClientError]}
  # a 404 retried on request, in the task-level shorthand
  - id: nf_listed
    url: $B/nf?status=404
    maxAttempts: 2
    retryOn: [ResourceNotFoundException]
  # a ValidationException from the backend, retried on request: the
  # second attempt succeeds
  - id: invalid_listed
    url: $B/invalid?fail=1&errtype=ValidationException
    retryPolicy: {maxAttempts: 3, initialDelay: 200ms, jitter: 0,
                  retryOn: [ValidationException]}
  # a 5xx is retried by default, but not when dontRetryOn lists it
  - id: s503_refused
    url: $B/s503?status=503
    maxAttempts: 3
    dontRetryOn: [HttpServerError]
  # a timeout, not retried when retryOn leaves it out
  - id: hang_unlisted
    url: $B/hang?sleep=30000
    timeout: 300ms
    maxAttempts: 3
    retryOn: [ConnectionException]
EOF
	apply "$WF"
	E=$(trigger ft-override)
	ex=$(finished "$E")
	assert_equal "$(jq -r .status <<<"$ex")" FAILED
	json_is "$(states "$ex")" '{
	    "c409": "DEAD/1", "c409_listed": "DEAD/3", "nf_listed": "DEAD/2",
	    "invalid_listed": "SUCCESS/2", "s503_refused": "DEAD/1",
	    "hang_unlisted": "DEAD/1"}'
	json_is "$(errors "$ex")" '{
	    "c409": ["HttpClientError"],
	    "c409_listed": ["HttpClientError", "HttpClientError",
	                    "HttpClientError"],
	    "nf_listed": ["ResourceNotFoundException",
	                  "ResourceNotFoundException"],
	    "invalid_listed": ["ValidationException", null],
	    "s503_refused": ["HttpServerError"],
	    "hang_unlisted": ["TimeoutException"]}'
	assert_equal "$(history_errors "$ex")" ""
	json_is "$(callmap "$E")" '{
	    "c409": [1], "c409_listed": [1, 1, 1], "nf_listed": [1, 1],
	    "invalid_listed": [1, 1], "s503_refused": [1],
	    "hang_unlisted": [1]}'
	json_is "$(dead_letters "$E")" '{
	    "c409": "HttpClientError/1", "c409_listed": "HttpClientError/3",
	    "nf_listed": "ResourceNotFoundException/2",
	    "s503_refused": "HttpServerError/1",
	    "hang_unlisted": "TimeoutException/1"}'
}

@test "backoff: attempts are spaced by the policy's delays (fixed, linear, exponential)" {
	cat >"$WF" <<EOF
id: ft-backoff
tasks:
  - id: fixed
    url: $B/fixed?fail=3
    retryPolicy: {maxAttempts: 4, backoffStrategy: fixed, initialDelay: 200ms,
                  jitter: 0, retryOn: [TaskFailedException]}
  - id: linear
    url: $B/linear?fail=3
    retryPolicy: {maxAttempts: 4, backoffStrategy: linear, initialDelay: 200ms,
                  jitter: 0, retryOn: [TaskFailedException]}
  - id: exponential
    url: $B/exponential?fail=3
    retryPolicy: {maxAttempts: 4, backoffStrategy: exponential,
                  initialDelay: 200ms, multiplier: 2, jitter: 0,
                  retryOn: [TaskFailedException]}
  # the cap wins over the growth
  - id: capped
    url: $B/capped?fail=3
    retryPolicy: {maxAttempts: 4, backoffStrategy: exponential,
                  initialDelay: 200ms, multiplier: 10, maxDelay: 300ms,
                  jitter: 0, retryOn: [TaskFailedException]}
EOF
	apply "$WF"
	E=$(trigger ft-backoff)
	ex=$(finished "$E")
	assert_equal "$(jq -r .status <<<"$ex")" SUCCESS
	json_is "$(states "$ex")" '{"fixed": "SUCCESS/4", "linear": "SUCCESS/4",
	    "exponential": "SUCCESS/4", "capped": "SUCCESS/4"}'
	assert_equal "$(history_errors "$ex")" ""
	json_is "$(callmap "$E")" '{"fixed": [1, 1, 1, 1],
	    "linear": [1, 1, 1, 1], "exponential": [1, 1, 1, 1],
	    "capped": [1, 1, 1, 1]}'
	# from the database's clock (task_executions through loom-api): the
	# end of an attempt to the start of the next
	echo "fixed $(gaps "$ex" fixed) linear $(gaps "$ex" linear)" \
	    "exponential $(gaps "$ex" exponential) capped $(gaps "$ex" capped)"
	all_at_least "$(gaps "$ex" fixed)" 200 200 200
	all_at_least "$(gaps "$ex" linear)" 200 400 600
	all_at_least "$(gaps "$ex" exponential)" 200 400 800
	all_at_least "$(gaps "$ex" capped)" 200 300 300
	# the capped delays stay near the cap (a generous bound: the
	# machine may be loaded), so the growth was really cut
	[ "$(gaps "$ex" capped | jq max)" -lt 3000 ]
	# and from the backend's clock: one call to the next
	all_at_least "$(call_gaps "$E" fixed)" 200 200 200
	all_at_least "$(call_gaps "$E" exponential)" 200 400 800
}

@test "timeouts: http, shell (its whole process group), java and async tasks fail with TimeoutException" {
	mark=loom-fault-$$-$RANDOM
	java=0
	if command -v javac >/dev/null; then
		java=1
		mkdir -p "$BATS_TEST_TMPDIR/src" "$BATS_TEST_TMPDIR/$mark"
		cat >"$BATS_TEST_TMPDIR/src/Sleeper.java" <<'EOF'
public class Sleeper {
    public static void main(String[] args) throws Exception {
        System.out.println("sleeping");
        Thread.sleep(600000);
    }
}
EOF
		javac -d "$BATS_TEST_TMPDIR/$mark" \
		    "$BATS_TEST_TMPDIR/src/Sleeper.java"
	fi
	{
		cat <<EOF
id: ft-timeouts
tasks:
  - id: http
    url: $B/hang?sleep=30000
    timeout: 1s
    maxAttempts: 1
  # ignores SIGTERM, and so does its child: SIGKILL after the grace
  - id: shell
    command: [bash, -c, "trap '' TERM; (exec -a $mark-child sleep 1000) & echo started; wait; wait", $mark-parent]
    timeout: 2s
    maxAttempts: 1
  # answers 202 and never calls back in time
  - id: async
    url: $B/async?async=1&sleep=600000
    timeout: 1s
    maxAttempts: 1
  - id: after_shell
    command: [true]
    dependsOn: shell
EOF
		[ "$java" = 0 ] || cat <<EOF
  - id: java
    type: java
    class: Sleeper
    classpath: $BATS_TEST_TMPDIR/$mark
    jvmOptions: [-Xmx32m]
    timeout: 4s
    maxAttempts: 1
EOF
	} >"$WF"
	apply "$WF"
	E=$(trigger ft-timeouts)
	# the shell task's processes are there while it runs
	wait_for -t 30 pgrep -f "$mark-child" >/dev/null
	ex=$(finished "$E")
	assert_equal "$(jq -r .status <<<"$ex")" FAILED
	want='{"http": "DEAD/1", "shell": "DEAD/1", "async": "DEAD/1",
	    "after_shell": "SKIPPED/0"}'
	[ "$java" = 0 ] || want=$(jq -c '. + {"java": "DEAD/1"}' <<<"$want")
	json_is "$(states "$ex")" "$want"
	want='{"http": ["TimeoutException"], "shell": ["TimeoutException"],
	    "async": ["TimeoutException"], "after_shell": []}'
	[ "$java" = 0 ] ||
	    want=$(jq -c '. + {"java": ["TimeoutException"]}' <<<"$want")
	json_is "$(errors "$ex")" "$want"
	assert_equal "$(history_errors "$ex")" ""
	json_is "$(callmap "$E")" '{"http": [1], "async": [1]}'
	assert_equal "$(task "$ex" async | jq -c '[.attempts[].status]')" \
	    '["ACCEPTED","FAILED"]'
	# each ended at its timeout: not before, and not much after
	task "$ex" http | jq -e '.attempts[0].durationMs |
	    . >= 1000 and . < 10000'
	task "$ex" async | jq -e '.attempts[] | select(.status == "FAILED") |
	    .durationMs | . >= 1000 and . < 10000'
	task "$ex" shell | jq -e '.attempts[0].durationMs |
	    . >= 2000 and . < 12000'
	[ "$java" = 0 ] || task "$ex" java | jq -e '.attempts[0].durationMs |
	    . >= 4000 and . < 15000'
	# nothing of the shell task (or the JVM) outlived it: the whole
	# process group got SIGKILL after SIGTERM was ignored
	run pgrep -f "$mark"
	assert_failure 1
	assert_output ""
	if [ "$java" = 0 ]; then
		echo "# javac is not installed: no java task" >&3
	fi
}

@test "the run-level timeout cancels what is left and fails the run" {
	mark=loom-fault-run-$$-$RANDOM
	cat >"$WF" <<EOF
id: ft-run-timeout
timeout: 3s
tasks:
  - id: quick
    url: $B/quick
  - id: slow
    url: $B/slow?sleep=30000
    timeout: 60s
  - id: after_slow
    url: $B/after
    dependsOn: slow
  - id: shell
    command: [bash, -c, "(exec -a $mark-child sleep 1000) & wait", $mark-parent]
    timeout: 60s
  - id: after_shell
    command: [true]
    dependsOn: shell
EOF
	apply "$WF"
	E=$(trigger ft-run-timeout)
	ex=$(finished "$E")
	assert_equal "$(jq -r .status <<<"$ex")" FAILED
	assert_regex "$(jq -r .error <<<"$ex")" 'timed out after 3s'
	json_is "$(states "$ex")" '{"quick": "SUCCESS/1",
	    "slow": "CANCELLED/1", "after_slow": "CANCELLED/0",
	    "shell": "CANCELLED/1", "after_shell": "CANCELLED/0"}'
	assert_equal "$(history_errors "$ex")" ""
	# the run ended at its deadline, not when its tasks would have
	jq -e '
	  def ms: sub("Z$"; "") | split(".") |
	    ((.[0] + "Z" | fromdateiso8601) * 1000 + (.[1] | tonumber));
	  (.completedAt | ms) - (.startedAt | ms) | . >= 3000 and . < 15000' \
	    <<<"$ex"
	json_is "$(callmap "$E")" '{"quick": [1], "slow": [1]}'
	# the executor stopped both running attempts: the shell task's
	# processes are gone, and no result was recorded for either
	wait_for -t 20 eval "! pgrep -f '$mark' >/dev/null"
	assert_equal "$(sql "SELECT count(*) FROM task_executions
	    WHERE execution_id = '$E' AND task_id IN ('slow', 'shell')")" 0
}
