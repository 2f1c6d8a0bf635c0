#!/usr/bin/env bats
# contrib/examples run as written: the crontab line, the CI step, the
# `loom ... -o json | jq` pipeline and the script that logs through
# loom-log's socket, against a real stack.

load helpers

EX=$BATS_TEST_DIRNAME/../contrib/examples

setup_file() {
	loom_pg_start
	export LOOM_LOGD_SOCKET=$LOOM_TEST_DIR/log.sock
	export LOOM_LOGD_SPOOL=$LOOM_TEST_DIR/log.spool
	loom_daemon_start loom-log
	loom_api_start
	loom_daemon_start loom-engine
	loom_daemon_start loom-exec
	# the examples call `loom` from $PATH
	export PATH=$LOOM_BIN:$PATH
}

teardown_file() {
	loom_stop_all
}

# flow ID EXIT: a workflow of one shell task that exits EXIT, applied
flow() {
	cat >"$BATS_TEST_TMPDIR/$1.yaml" <<-EOF
		id: $1
		tasks:
		  - id: work
		    type: shell
		    command: echo working; exit $2
		    maxAttempts: 1
	EOF
	loom workflow apply "$BATS_TEST_TMPDIR/$1.yaml" >/dev/null
}

# cron_line: the command of the crontab's job line, and its variables
cron_env() { grep -E '^[A-Z_]+=' "$EX/crontab"; }
cron_cmd() {
	grep -vE '^(#|[A-Z_]+=|$)' "$EX/crontab" |
	    awk '{ $1 = $2 = $3 = $4 = $5 = ""; sub(/^ +/, ""); print }'
}

@test "crontab: silent when the run succeeds" {
	flow daily-report 0
	cron_env | grep -q '^LOOM_API=unix:/run/loom/api.sock$'
	# cron runs the command with sh; our API instead of /run/loom's
	run sh -c "$(cron_cmd)"
	[ "$status" -eq 0 ]
	[ -z "$output" ] || fail "$output"
}

@test "crontab: a failed run, or no such workflow, says loom's exit code" {
	flow daily-report 3
	run sh -c "$(cron_cmd)"
	[ "$output" = "daily-report: loom exited 1 (1 failed or timed out, 3 API unreachable, 4 no such workflow)" ] ||
	    fail "$output"
	loom workflow delete daily-report --force >/dev/null
	run sh -c "$(cron_cmd)"
	[[ "$output" == "daily-report: loom exited 4 "* ]] || fail "$output"
}

# the CI example's "Run the workflow" step, as a runner runs it (bash)
ci_step() {
	python3 -c '
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
for job in doc["jobs"].values():
    for step in job["steps"]:
        if step.get("name") == "Run the workflow":
            print(step["run"])
' "$EX/ci/github-actions.yml"
}

@test "CI step: loom run passes the job when the run succeeds" {
	cd "$BATS_TEST_TMPDIR"
	mkdir flows
	printf '%s\n' 'id: nightly' 'tasks:' '  - id: a' '    type: shell' \
	    '    command: echo "day $LOOM_PARAM_DAY"' >flows/nightly.yaml
	run bash --noprofile --norc -e -c "$(ci_step)"
	[ "$status" -eq 0 ] || fail "$output"
	[ -s events.jsonl ]
}

@test "CI step: a failed run fails the step" {
	cd "$BATS_TEST_TMPDIR"
	mkdir flows
	printf '%s\n' 'id: nightly' 'tasks:' '  - id: a' '    type: shell' \
	    '    command: exit 1' '    maxAttempts: 1' >flows/nightly.yaml
	run bash --noprofile --norc -e -c "$(ci_step)"
	[ "$status" -ne 0 ]
}

@test "failed-runs.sh: failed runs per workflow, most first" {
	local a b c
	flow often-fails 1
	flow seldom-fails 1
	flow never-fails 0
	a=$(trigger often-fails)
	b=$(trigger often-fails)
	c=$(trigger seldom-fails)
	for e in "$a" "$b" "$c" "$(trigger never-fails)"; do
		finished "$e" >/dev/null
	done
	run "$EX/failed-runs.sh" 1h
	[ "$status" -eq 0 ] || fail "$output"
	[ "${lines[0]% *}" = "2 often-fails" ] || fail "$output"
	[[ "${lines[0]##* }" == "$a" || "${lines[0]##* }" == "$b" ]]
	# (after it, the other test's daily-report, and this one)
	grep -qx "1 seldom-fails $c" <<<"$output" || fail "$output"
	[[ "$output" != *never-fails* ]]
}

@test "log-to-loom.sh: lines reach the run's log through loom-log" {
	local e
	flow logged 0
	e=$(trigger logged)
	finished "$e" >/dev/null
	printf '%s\n' 'backup started' 'a "quoted" \ line' |
	    LOOM_LOG_SOCKET=$LOOM_LOGD_SOCKET "$EX/log-to-loom.sh" "$e" backup
	run loom execution logs "$e"
	[[ "$output" == *'backup started'* ]] || fail "$output"
	[[ "$output" == *'a "quoted" \ line'* ]] || fail "$output"
	# loom-log down: the script says so
	run env LOOM_LOG_SOCKET=$BATS_TEST_TMPDIR/none.sock \
	    "$EX/log-to-loom.sh" "$e" backup </dev/null
	[ "$status" -ne 0 ]
}
