#!/usr/bin/env bats
# A READY row is claimed once it is due, whatever doorbells were lost or
# raced (loom-exec(8), Claiming).  Each test makes one of the ways a
# doorbell can be missed happen on purpose, with one executor and no
# engine (the rows are made READY by hand, as loom-engine would):
#
#   - the doorbell rings while a claim is out, for a row that the claim's
#     snapshot does not see (a trigger makes that claim last a second);
#   - the doorbell rings while another transaction holds the due row
#     locked, so the claim skips it, and the lock goes without a doorbell.
#
# Both executors have a 60s lease, so the look again after a quarter of
# it (claims.c) would come long after the limits below.

bats_require_minimum_version 1.5.0

load helpers

setup_file() {
	loom_pg_start
	loom_backend_start
	loom_api_start
	export B=$BACKEND_URL/api/tasks
}

teardown_file() {
	loom_stop_all
}

setup() {
	WF=$BATS_TEST_TMPDIR/wf.yaml
}

teardown() {
	[ -n "${BATS_TEST_COMPLETED:-}" ] || loom_show_logs
	loom_daemons_stop
	sql "DROP TRIGGER IF EXISTS liveness_slow ON run_tasks" || true
	sql "DROP FUNCTION IF EXISTS liveness_slow()" || true
}

# two_tasks ID: a run of ID whose tasks "slow" and "late" are left
# PENDING by hand, with no engine and no executor running; prints the
# execution id.
two_tasks() {
	local e
	cat >"$WF" <<EOF
id: $1
tasks:
  - {id: slow, url: "$B/slow"}
  - {id: late, url: "$B/late"}
EOF
	apply "$WF"
	loom_daemon_start loom-engine
	e=$(trigger "$1")
	wait_for sql_is = 2 "SELECT count(*) FROM run_tasks WHERE
	    execution_id = '$e' AND state = 'READY'"
	loom_daemon_stop "$LOOM_DAEMON_PID"
	sql "UPDATE run_tasks SET state = 'PENDING' WHERE execution_id = '$e'"
	echo "$e"
}

# ready EXEC TASK: makes the task READY and due now, and rings
ready() {
	sql "WITH u AS (UPDATE run_tasks SET state = 'READY', ready_at = now()
	    WHERE execution_id = '$1' AND task_id = '$2' RETURNING 1)
	    SELECT count(pg_notify('loom_task_ready', '')) FROM u" >/dev/null
}

# state EXEC TASK
state() {
	sql "SELECT state FROM run_tasks WHERE execution_id = '$1' AND
	    task_id = '$2'"
}

# claimed EXEC TASK: the task was claimed (it is READY no more)
claimed() {
	[ "$(state "$1" "$2")" != READY ]
}

# ncalls EXEC: how many calls of the run reached the backend
ncalls() {
	jq -r --arg e "$1/" 'select((.idempotencyKey // "") | startswith($e))
	    | .idempotencyKey' "$BACKEND_LOG" | wc -l
}

# sql_is OP N SQL: the number SQL answers is OP (= or -ge) N; for wait_for,
# which runs its command again (a "$(...)" in its arguments would not be)
sql_is() {
	[ "$(sql "$3")" "$1" "$2" ]
}

# ncalls_is EXEC N
ncalls_is() {
	[ "$(ncalls "$1")" = "$2" ]
}

# an_idle_executor: one executor, its doorbells listened to, its first
# claims made
an_idle_executor() {
	LOOM_EXEC_ADVANCE=off LOOM_EXEC_LEASE=60s loom_daemon_start \
	    loom-exec -j 4
	wait_for sql_is = 1 "SELECT count(*) FROM pg_stat_activity WHERE
	    application_name LIKE 'loom-exec-listen[%' AND state = 'idle'"
	wait_for sql_is -ge 1 "SELECT count(*) FROM pg_stat_activity WHERE
	    application_name LIKE 'loom-exec[%' AND state = 'idle'"
}

@test "a doorbell that rings while a claim is out is not lost: the row it rang for is claimed" {
	e=$(two_tasks live-race)
	# the claim that takes slow sleeps 1s after its snapshot was taken
	sql "CREATE FUNCTION liveness_slow() RETURNS trigger LANGUAGE plpgsql
	    AS \$\$ BEGIN IF NEW.task_id = 'slow' AND NEW.state = 'RUNNING'
	    AND OLD.state = 'READY' THEN PERFORM pg_sleep(1); END IF;
	    RETURN NEW; END \$\$"
	sql "CREATE TRIGGER liveness_slow BEFORE UPDATE ON run_tasks
	    FOR EACH ROW EXECUTE FUNCTION liveness_slow()"
	an_idle_executor
	ready "$e" slow
	wait_for sql_is = 1 "SELECT count(*) FROM pg_stat_activity WHERE
	    application_name LIKE 'loom-exec[%' AND wait_event = 'PgSleep'"
	# late is READY, and its doorbell rings, while that claim is out
	ready "$e" late
	wait_for -t 5 claimed "$e" slow
	wait_for -t 3 claimed "$e" late
	wait_for ncalls_is "$e" 2
}

@test "a due row a claim skipped, locked by another transaction, is claimed once the lock goes, with no doorbell" {
	e=$(two_tasks live-locked)
	an_idle_executor
	# late is READY and due, but locked by a session that commits when
	# told to: no doorbell rings when the lock goes
	sql "UPDATE run_tasks SET state = 'READY', ready_at = now() WHERE
	    execution_id = '$e' AND task_id = 'late'"
	mkfifo "$BATS_TEST_TMPDIR/lock"
	psql -X -q -At "$LOOM_DATABASE_URL" <"$BATS_TEST_TMPDIR/lock" \
	    >/dev/null 3>&- &
	lock=$!
	exec 4>"$BATS_TEST_TMPDIR/lock"
	echo "BEGIN; SELECT 1 FROM run_tasks WHERE execution_id = '$e' AND
	    task_id = 'late' FOR UPDATE;" >&4
	wait_for sql_is = 1 "SELECT count(*) FROM pg_stat_activity WHERE
	    state = 'idle in transaction' AND query LIKE '%FOR UPDATE%'"
	# the doorbell rings while the lock is held: the claim skips late
	ready "$e" slow
	wait_for -t 5 claimed "$e" slow
	[ "$(state "$e" late)" = READY ]
	echo "COMMIT;" >&4
	exec 4>&-
	wait "$lock"
	wait_for -t 3 claimed "$e" late
	wait_for ncalls_is "$e" 2
}
