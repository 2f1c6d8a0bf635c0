# tests/fault-helpers.bash: what the fault-injection suites (faults.bats,
# crash.bats) share, on top of helpers.bash.  Load it after helpers:
#
#     load helpers
#     load fault-helpers
#
# The suites prove that a run reaches the right final state whatever its
# backends or Link Loom's own processes do, and that no task ran more
# often than its attempts allow.  Two sources are compared: loom-api's
# view of the run (GET /api/v1/executions/ID, every task with its
# attempts as recorded in task_executions) and the test backend's call
# log (one JSON line per call, keyed by Idempotency-Key
# executionId/taskId/attempt).
#
# sql SQL                 psql on the test cluster, unaligned, one value a line
# apply FILE              loom-api stores the workflow (POST /workflows)
# trigger WF [INPUT]      starts a run, prints its id
# finished ID [SECONDS]   the run's JSON once terminal: long polls of
#                         ?wait=60s until SECONDS (150) have passed; an
#                         error answer (loom-api or PostgreSQL restarting)
#                         is retried, so it also waits out an outage
# task RUN-JSON ID        one task of the run
# summary RUN-JSON        "task=STATE/ATTEMPT ..." in loom-api's order
# callmap EXEC            {"task":[calls of attempt 1, of attempt 2, ...]}
#                         from the call log; a hole (an attempt never
#                         called) shows as null
# ncalls EXEC             how many calls the run's tasks made
# wait_calls EXEC N [S]   waits until the run made at least N calls
# history_errors RUN-JSON what is wrong with the attempt history, one
#                         line each (nothing: it is consistent)
# now_ms                  wall clock in ms (the backend's ts is the same)
# rand N                  a random number in [0, N)
# nap_ms MS               sleeps MS ms: only to put a fault at a random
#                         point of a run, never to wait for readiness
# dump_logs               the daemons' last log lines (for a failed test)

finished() {
	local id=$1 limit=${2:-150} end body status=unknown
	end=$((SECONDS + limit))
	while [ "$SECONDS" -lt "$end" ]; do
		if body=$(curl -sS --max-time 75 \
		    "$LOOM_API/api/v1/executions/$id?wait=60s" 2>/dev/null) &&
		    status=$(jq -er .status <<<"$body" 2>/dev/null); then
			case $status in
			SUCCESS | FAILED | CANCELLED)
				printf '%s\n' "$body"
				return 0
				;;
			esac
		else
			# loom-api is restarting or cannot reach PostgreSQL:
			# it answers at once, so do not spin
			sleep 0.2
		fi
	done
	echo "execution $id is still ${status:-unknown} after ${limit}s:" \
	    "$body" >&2
	return 1
}

task() {
	jq -c --arg t "$2" '.tasks[] | select(.taskId == $t)' <<<"$1"
}

summary() {
	jq -r '[.tasks[] | "\(.taskId)=\(.state)/\(.attempt)"] | join(" ")' \
	    <<<"$1"
}

callmap() {
	jq -cnS --arg e "$1/" '[inputs | .idempotencyKey // "" |
	    select(startswith($e)) | ltrimstr($e) | split("/") |
	    {t: .[0], a: (.[1] | tonumber)}] | group_by(.t) |
	    map({(.[0].t): (reduce .[] as $c ([]; .[$c.a - 1] += 1))}) |
	    add // {}' "$BACKEND_LOG"
}

ncalls() {
	jq -r --arg e "$1/" 'select((.idempotencyKey // "") | startswith($e))
	    | 1' "$BACKEND_LOG" | wc -l
}

wait_calls() {
	wait_for -t "${3:-30}" _calls_at_least "$1" "$2"
}
_calls_at_least() {
	[ "$(ncalls "$1")" -ge "$2" ]
}

# The attempt history agrees with the task states: attempts are numbered
# 1..attempt with no hole; a finished attempt has one final record
# (SUCCESS or FAILED; an asynchronous one has an ACCEPTED record first);
# a SUCCESS or DEAD task has a record for every attempt, the last one
# SUCCESS resp. FAILED, the others FAILED; a SKIPPED task has none.  A
# CANCELLED task's last attempt may have none (it was stopped).  Called
# on a finished run, where no task is PENDING, READY, RUNNING, FAILED or
# RETRY any more.
history_errors() {
	jq -r '
	  .tasks[] | . as $t |
	  ([.attempts[] | select(.status != "ACCEPTED")]) as $fin |
	  ([$fin[] | .attempt]) as $nums |
	  (if ($nums | length) != ($nums | unique | length) then
	     "\($t.taskId): an attempt has two final records: \($nums)"
	   else empty end),
	  (if any($t.attempts[]; .attempt < 1 or .attempt > $t.attempt) then
	     "\($t.taskId): a record outside 1..\($t.attempt)"
	   else empty end),
	  (if ($t.state == "SUCCESS" or $t.state == "DEAD") then
	     (if ($nums | sort) != [range(1; $t.attempt + 1)] then
	        "\($t.taskId) \($t.state)/\($t.attempt): records for \($nums)"
	      else empty end),
	     (if ($fin | length) > 0 and ($fin | max_by(.attempt) | .status)
	         != (if $t.state == "SUCCESS" then "SUCCESS" else "FAILED" end)
	      then "\($t.taskId): last record is not \($t.state)"
	      else empty end),
	     (if any($fin[]; .attempt < $t.attempt and .status != "FAILED")
	      then "\($t.taskId): an earlier attempt did not fail"
	      else empty end)
	   elif $t.state == "SKIPPED" then
	     (if ($t.attempts | length) > 0 or $t.attempt != 0 then
	        "\($t.taskId) \($t.state) has attempts"
	      else empty end)
	   elif $t.state == "CANCELLED" then
	     (if ($nums | sort) != [range(1; $t.attempt + 1)] and
	         ($nums | sort) != [range(1; $t.attempt)] then
	        "\($t.taskId) CANCELLED/\($t.attempt): records for \($nums)"
	      else empty end)
	   else "\($t.taskId) is \($t.state) in a finished run" end)
	' <<<"$1"
}

now_ms() {
	date +%s%3N
}

rand() {
	echo $((RANDOM % $1))
}

nap_ms() {
	sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"
}

dump_logs() {
	local f
	for f in "$LOOM_TEST_DIR"/loom-*.log; do
		[ -e "$f" ] || continue
		echo "--- $f (last lines)"
		tail -n 30 "$f"
	done
}
