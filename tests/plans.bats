#!/usr/bin/env bats
# loom-exec and loom-engine plan their frequent statements once, at their
# first execution (plan_cache_mode = force_generic_plan), and keep the plan
# until the table is analyzed again.  On a new database that first
# execution meets empty tables, where a scan of the whole table is the
# cheapest plan; kept, it went on scanning every execution on each pass
# once the table had grown (contrib/bench/README.md, "plans made on empty
# tables").  Their sessions run with enable_seqscan off: whatever the
# statistics, no plan of theirs scans executions, run_tasks, events or
# task_executions whole.  auto_explain logs every plan their sessions run.

load helpers

setup_file() {
	loom_pg_start
	cat >>"$LOOM_TEST_DIR/pgdata/postgresql.conf" <<'CONF'
session_preload_libraries = 'auto_explain'
auto_explain.log_min_duration = 0
auto_explain.log_nested_statements = on
log_line_prefix = '@@ %a @@ '
CONF
	sql "SELECT pg_reload_conf()" >/dev/null
	# a session made from now on loads auto_explain
	wait_for sql_explains
	loom_backend_start
	loom_api_start
	loom_daemon_start loom-engine
	loom_daemon_start loom-exec
}

teardown_file() {
	loom_stop_all
}

teardown() {
	[ -z "${BATS_TEST_COMPLETED:-}" ] || return 0
	loom_show_logs
}

sql_explains() {
	[ "$(sql "SHOW auto_explain.log_min_duration")" = "0" ]
}

# plans APP: the plans logged for the sessions whose application_name
# starts with APP[ (each plan's lines follow its prefixed line)
plans() {
	awk -v app="$1" '
	    /^@@ / { mine = index($2, app "[") == 1; next }
	    mine' "$LOOM_TEST_DIR/pg.log"
}

@test "on a new database, loom-engine's and loom-exec's plans scan no table of runs whole" {
	cat >"$BATS_TEST_TMPDIR/wf.yaml" <<EOF
id: plans
tasks:
  - id: a
    url: $BACKEND_URL/api/tasks/a
  - id: b
    url: $BACKEND_URL/api/tasks/b
    dependsOn: [a]
  - id: c
    url: $BACKEND_URL/api/tasks/c
    dependsOn: [a]
  - id: d
    url: $BACKEND_URL/api/tasks/d
    dependsOn: [b, c]
EOF
	apply "$BATS_TEST_TMPDIR/wf.yaml"
	for i in 1 2 3; do
		all_succeeded "$(finished "$(trigger plans)")" 4
	done
	# the statements ran and their plans were logged
	plans loom-engine | grep -q 'executions' ||
	    fail "no plan of loom-engine's: $(tail -20 "$LOOM_TEST_DIR/pg.log")"
	plans loom-exec | grep -q 'run_tasks' || fail "no plan of loom-exec's"
	for app in loom-engine loom-exec; do
		run grep -E \
		    'Seq Scan on (executions|run_tasks|events|task_executions)' \
		    <(plans "$app")
		[ "$status" -ne 0 ] || fail "$app scans a whole table: $output"
	done
}
