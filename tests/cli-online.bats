#!/usr/bin/env bats
# The online commands of loom (workflow, execution) against a real loom-api
# and a throwaway PostgreSQL cluster (tests/helpers.bash).  No engine runs:
# executions stay PENDING unless a test moves them with SQL and rings the
# doorbell, as loom-engine would.  Checks text and -o json output and the
# exit codes of loom(1): 0 ok, 1 failed, 2 usage, 3 unreachable, 4 not
# found, 5 local I/O error.

bats_require_minimum_version 1.5.0

load helpers

setup_file() {
	loom_pg_start
	loom_api_start
	export LOOM="$LOOM_BIN/loom"
	export W="$LOOM_TEST_DIR/wf"
	mkdir -p "$W"
	cat >"$W/report.yaml" <<'EOF'
id: cli-report
name: CLI Report
params:
  date: "2024-01-14"
  limit: 10
tasks:
  - id: fetch
    type: http
    url: http://127.0.0.1:9/api/tasks/fetch
  - id: process
    type: http
    url: http://127.0.0.1:9/api/tasks/process
    dependsOn: [fetch]
  - id: notify
    type: shell
    command: ["true"]
    dependsOn: [process]
EOF
	sed 's/^name: CLI Report$/name: CLI Report v2/' "$W/report.yaml" \
	    >"$W/report-v2.yaml"
	cat >"$W/other.yaml" <<'EOF'
id: cli-other
schedule: "0 3 * * *"
tasks:
  - id: only
    type: shell
    command: ["true"]
EOF
	cat >"$W/bad.yaml" <<'EOF'
id: cli-bad
tasks:
  - id: a
    type: http
    url: http://127.0.0.1:9/x
    timout: 5s
  - id: b
    type: http
    url: http://127.0.0.1:9/y
    dependsOn: [nope]
EOF
	echo '{"date":"2024-02-02"}' >"$W/input.json"
	# The order of the tests matters from here: apply first.
}

teardown_file() {
	loom_stop_all
}

sql() {
	psql -qAtX "$LOOM_DATABASE_URL" -c "$1"
}

# A port on 127.0.0.1 that nothing listens on.
closed_port() {
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 20000))
		if ! (exec 5<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# ---- workflow apply ---------------------------------------------------

@test "workflow apply: created, then unchanged, then a new version" {
	run "$LOOM" workflow apply "$W/report.yaml"
	assert_success
	assert_output 'cli-report: version 1 (created)'
	run "$LOOM" workflow apply "$W/report.yaml"
	assert_success
	assert_output 'cli-report: version 1 (unchanged)'
	run "$LOOM" workflow apply "$W/report-v2.yaml" "$W/other.yaml"
	assert_success
	assert_line --index 0 'cli-report: version 2 (created)'
	assert_line --index 1 'cli-other: version 1 (created)'
}

@test "workflow apply -o json: one object per file, with the file name" {
	run "$LOOM" workflow apply -o json "$W/report-v2.yaml" - <"$W/other.yaml"
	assert_success
	assert_equal "${#lines[@]}" 2
	assert_equal "$(jq -c '[.id,.version,.created,.file]' <<<"${lines[0]}")" \
	    "[\"cli-report\",2,false,\"$W/report-v2.yaml\"]"
	assert_equal "$(jq -c '[.id,.created,.file]' <<<"${lines[1]}")" \
	    '["cli-other",false,"<stdin>"]'
}

@test "workflow apply: errors as FILE:LINE:COL with the real file name" {
	run --separate-stderr "$LOOM" workflow apply "$W/bad.yaml"
	assert_failure 1
	assert_output ''
	# every error, each on its own line, each naming the file
	[ "${#stderr_lines[@]}" -ge 2 ]
	for l in "${stderr_lines[@]}"; do
		[[ $l == "$W/bad.yaml:"[0-9]*:[0-9]*": "* ]] || {
			echo "bad line: $l"
			return 1
		}
	done
	[[ $stderr != *"<request>"* ]]
	[[ $stderr == *"$W/bad.yaml:6:5: "*timout* ]]
	[[ $stderr == *"$W/bad.yaml:10:"*nope* ]]
	# nothing was stored
	assert_equal "$(sql "SELECT count(*) FROM workflows WHERE id = 'cli-bad'")" 0
}

@test "workflow apply: a bad file does not stop the good ones; exit 1" {
	run --separate-stderr "$LOOM" workflow apply "$W/bad.yaml" "$W/other.yaml"
	assert_failure 1
	assert_output 'cli-other: version 1 (unchanged)'
}

@test "workflow apply: an unreadable file is exit 5" {
	run --separate-stderr "$LOOM" workflow apply "$W/missing.yaml"
	assert_failure 5
	[[ $stderr == *"$W/missing.yaml: No such file or directory"* ]]
}

# ---- workflow list / describe ------------------------------------------

@test "workflow list: tab-separated rows when piped, a table with -o text" {
	run "$LOOM" workflow list
	assert_success
	assert_line --regexp $'^cli-report\tCLI Report v2\t2\t3\t-\tno\t[0-9-]+ [0-9:]+$'
	# the name defaults to the id
	assert_line --regexp $'^cli-other\tcli-other\t1\t1\t0 3 \\* \\* \\*\tno\t'
	refute_line --partial 'NAME'
	run "$LOOM" workflow list -o text
	assert_success
	assert_line --index 0 --regexp '^ID +NAME +VERSION +TASKS +SCHEDULE +PAUSED +UPDATED$'
	assert_line --regexp '^cli-report +CLI Report v2 +2 +3 +- +no +'
	# aligned: every row has its NAME column where the header has it
	col=$(awk 'NR == 1 { print index($0, "NAME") }' <<<"$output")
	while IFS= read -r l; do
		[ "${l:$((col - 2)):1}" = ' ' ] && [ "${l:$((col - 1)):1}" != ' ' ]
	done <<<"$output"
}

@test "workflow list -o json: JSON lines" {
	run "$LOOM" workflow list -o json
	assert_success
	assert_equal "${#lines[@]}" 2
	for l in "${lines[@]}"; do
		jq -e 'type == "object" and has("id") and has("taskCount")' \
		    <<<"$l" >/dev/null
	done
	assert_equal "$(jq -rs 'map(.id) | sort | join(",")' <<<"$output")" \
	    cli-other,cli-report
}

@test "workflow describe: metadata, tasks with deps, the definition" {
	run "$LOOM" workflow describe cli-report
	assert_success
	assert_line 'ID:        cli-report'
	assert_line 'Name:      CLI Report v2'
	assert_line 'Version:   2'
	assert_line --partial 'Params:    {"date":"2024-01-14","limit":10}'
	assert_line 'Tasks:'
	assert_line --regexp $'^fetch\thttp\t-\tPOST http://127.0.0.1:9/api/tasks/fetch$'
	assert_line --regexp $'^process\thttp\tfetch\t'
	assert_line --regexp $'^notify\tshell\tprocess\t'
	assert_line 'Definition:'
	assert_line '  name: CLI Report v2'
	run "$LOOM" workflow describe cli-report -o text
	assert_line --regexp '^TASK +TYPE +DEPENDS ON +RUNS$'
	assert_line --regexp '^process +http +fetch +POST '
}

@test "workflow describe --version and -o json" {
	run "$LOOM" workflow describe cli-report --version 1
	assert_success
	assert_line 'Version:   1'
	assert_line 'Name:      CLI Report'
	run "$LOOM" workflow describe cli-report -o json
	assert_success
	assert_equal "${#lines[@]}" 1
	assert_equal "$(jq -r '[.id, .version, (.spec.tasks | length)] | @tsv' \
	    <<<"$output")" $'cli-report\t2\t3'
	jq -e '.definition | test("CLI Report v2")' <<<"$output" >/dev/null
}

@test "workflow describe: unknown workflow or version is exit 4" {
	run --separate-stderr "$LOOM" workflow describe no-such-workflow
	assert_failure 4
	[[ $stderr == "loom workflow describe: "* ]]
	run --separate-stderr "$LOOM" workflow describe cli-report --version 99
	assert_failure 4
}

# ---- trigger and executions --------------------------------------------

@test "workflow trigger prints an id that execution show finds" {
	run --separate-stderr "$LOOM" workflow trigger cli-report
	assert_success
	[[ $output =~ ^exec-[0-9a-f]{20}$ ]]
	id=$output
	run "$LOOM" execution show "$id"
	assert_success
	assert_line "Execution: $id"
	assert_line 'Workflow:  cli-report (version 2)'
	assert_line 'Status:    PENDING'
	assert_line --regexp $'^fetch\tPENDING\t'
	run "$LOOM" execution show "$id" -o json
	assert_success
	assert_equal "$(jq -r '[.id, .status, (.tasks | length)] | @tsv' \
	    <<<"$output")" "$id"$'\tPENDING\t3'
}

@test "workflow trigger: --input, --input @file and --param build the params" {
	run "$LOOM" workflow trigger cli-report --input '{"date":"2024-03-03"}' \
	    --param limit=5
	assert_success
	assert_equal "$(sql "SELECT params::text FROM executions WHERE id = '$output'")" \
	    '{"date": "2024-03-03", "limit": 5}'
	run "$LOOM" workflow trigger cli-report --input @"$W/input.json" \
	    --param limit=abc
	assert_success
	assert_equal "$(sql "SELECT params::text FROM executions WHERE id = '$output'")" \
	    '{"date": "2024-02-02", "limit": "abc"}'
	run "$LOOM" workflow trigger cli-report -o json
	assert_success
	assert_equal "$(jq -r '[.workflowId, .workflowVersion, .status] | @tsv' \
	    <<<"$output")" $'cli-report\t2\tPENDING'
	[[ $(jq -r .executionId <<<"$output") =~ ^exec-[0-9a-f]{20}$ ]]
}

@test "workflow trigger: exit 4 unknown workflow, 1 bad input, 2 bad usage" {
	run --separate-stderr "$LOOM" workflow trigger no-such-workflow
	assert_failure 4
	run --separate-stderr "$LOOM" workflow trigger cli-report \
	    --param nosuchparam=1
	assert_failure 1
	[[ $stderr == "loom workflow trigger: "* ]]
	run --separate-stderr "$LOOM" workflow trigger cli-report --input '{'
	assert_failure 2
	run --separate-stderr "$LOOM" workflow trigger cli-report --input '[1]'
	assert_failure 2
	run --separate-stderr "$LOOM" workflow trigger cli-report --param novalue
	assert_failure 2
	run --separate-stderr "$LOOM" workflow trigger cli-report --timeout 5s
	assert_failure 2
}

@test "execution list: filters, limit, text and JSON lines" {
	run "$LOOM" execution list --workflow cli-report -o json
	assert_success
	[ "${#lines[@]}" -ge 4 ]
	for l in "${lines[@]}"; do
		assert_equal "$(jq -r .workflowId <<<"$l")" cli-report
	done
	run "$LOOM" execution list --workflow cli-report --limit 1 -o json
	assert_success
	assert_equal "${#lines[@]}" 1
	run "$LOOM" execution list --status pending --limit 2
	assert_success
	assert_equal "${#lines[@]}" 2
	assert_line --regexp $'^exec-[0-9a-f]{20}\tcli-report\t2\tPENDING\tmanual\t'
	run "$LOOM" execution list --status SUCCESS
	assert_success
	assert_output ''
	run "$LOOM" execution list -o text --limit 1
	assert_line --index 0 --regexp '^ID +WORKFLOW +VERSION +STATUS +TRIGGER +CREATED +DURATION$'
}

@test "execution show: unknown execution is exit 4" {
	run --separate-stderr "$LOOM" execution show exec-00000000000000000000
	assert_failure 4
	[[ $stderr == "loom execution show: "* ]]
}

@test "--wait: the server holds the request; exit 0 on SUCCESS" {
	id=$("$LOOM" workflow trigger cli-report)
	start=$SECONDS
	"$LOOM" execution show "$id" --wait >"$BATS_TEST_TMPDIR/out" \
	    2>"$BATS_TEST_TMPDIR/err" 3>&- &
	pid=$!
	# what loom-engine would do: change the rows, ring the doorbell
	sql "UPDATE executions SET status = 'RUNNING', started_at = now()
	    WHERE id = '$id'; SELECT pg_notify('loom_event', '$id')" >/dev/null
	sql "UPDATE executions SET status = 'SUCCESS', completed_at = now()
	    WHERE id = '$id'; SELECT pg_notify('loom_event', '$id')" >/dev/null
	rc=0
	wait "$pid" || rc=$?
	assert_equal "$rc" 0
	# woken by the doorbell, long before the 30 s long-poll slice ends
	[ $((SECONDS - start)) -lt 20 ]
	run cat "$BATS_TEST_TMPDIR/out"
	assert_line 'Status:    SUCCESS'
	assert_line --regexp '^Finished:  .* \(took [0-9.]+(ms|s)\)$'
}

@test "--wait: exit 1 on FAILED, with the error" {
	id=$("$LOOM" workflow trigger cli-report)
	"$LOOM" execution show "$id" --wait -o json >"$BATS_TEST_TMPDIR/out" \
	    2>"$BATS_TEST_TMPDIR/err" 3>&- &
	pid=$!
	sql "UPDATE executions SET status = 'FAILED', started_at = now(),
	    completed_at = now(), error = 'task fetch is DEAD'
	    WHERE id = '$id'; SELECT pg_notify('loom_event', '$id')" >/dev/null
	rc=0
	wait "$pid" || rc=$?
	assert_equal "$rc" 1
	assert_equal "$(jq -r '[.status, .error] | @tsv' "$BATS_TEST_TMPDIR/out")" \
	    $'FAILED\ttask fetch is DEAD'
}

@test "trigger --wait --timeout: exit 1 when the run is not over in time" {
	start=$SECONDS
	run --separate-stderr "$LOOM" workflow trigger cli-report --wait \
	    --timeout 1s
	assert_failure 1
	[ $((SECONDS - start)) -lt 15 ]
	[[ ${lines[0]} =~ ^exec-[0-9a-f]{20}$ ]]
	assert_line 'Status:    PENDING'
	[[ $stderr == *"is still PENDING after 1s"* ]]
}

# ---- status ----------------------------------------------------------

# loom-api's database connections (one per worker thread that served a
# request), whatever they are named.
api_conns() {
	sql "SELECT count(*) FROM pg_stat_activity
	    WHERE application_name LIKE 'loom-api%'"
}

# Eight requests at once, until loom-api holds two connections or more.
api_busy() {
	local i
	for i in 1 2 3 4 5 6 7 8; do
		curl -sS -o /dev/null "$LOOM_API/api/v1/status" &
	done
	wait
	[ "$(api_conns)" -ge 2 ]
}

@test "status: the API's daemons by connection (JSON); this host's processes from their control sockets" {
	wait_for -t 30 api_busy
	run --separate-stderr "$LOOM" status -o json
	assert_success
	local json=$output
	n=$(api_conns)
	run jq -e --argjson pid "$LOOM_API_PID" --argjson n "$n" '
	    [.daemons[] | select(.name == "loom-api")] |
	    length == 1 and .[0].pid == $pid and .[0].connections == $n and
	    .[0].host == "local" and (.[0].since | type) == "string"' \
	    <<<"$json"
	assert_success
	run jq -e --argjson pid "$LOOM_API_PID" '
	    [.processes[] | select(.daemon == "loom-api")] |
	    length == 1 and .[0].pid == $pid and .[0].ok' <<<"$json"
	assert_success
	run --separate-stderr "$LOOM" status
	assert_success
	assert_line --regexp '^PROCESS +SOCKET +PID +HOST +UPTIME +FIGURES$'
	[ "$(grep -c '^loom-api ' <<<"$output")" -eq 1 ]
	assert_line --regexp "^loom-api +$LOOM_CONTROL_DIR/loom-api.sock +$LOOM_API_PID +[^ ]+ +[0-9]+s +connections [0-9]+, "
	# no engine here: said, not an error
	assert_line --regexp "^loom-engine +.*not answering: no control socket$"
}

# ---- reaching the API, usage -------------------------------------------

@test "exit 3 when nothing listens at the address" {
	local p
	p=$(closed_port)
	for cmd in "workflow list" "workflow describe cli-report" \
	    "workflow trigger cli-report" "execution list" \
	    "execution show exec-00000000000000000000"; do
		# shellcheck disable=SC2086
		run --separate-stderr "$LOOM" $cmd --api "http://127.0.0.1:$p"
		assert_failure 3
		[[ $stderr == *"cannot connect to http://127.0.0.1:$p"* ]]
	done
	run --separate-stderr "$LOOM" workflow apply "$W/report.yaml" \
	    --api "http://127.0.0.1:$p"
	assert_failure 3
	run --separate-stderr "$LOOM" workflow list \
	    --api "unix:$LOOM_TEST_DIR/no.sock"
	assert_failure 3
	[[ $stderr == *"No such file or directory"* ]]
	LOOM_API="http://127.0.0.1:$p" run --separate-stderr "$LOOM" \
	    execution list
	assert_failure 3
}

@test "the API is found through \$LOOM_API, --api and the config file" {
	run "$LOOM" workflow list --api "$LOOM_API"
	assert_success
	assert_line --partial cli-report
	# --api wins over $LOOM_API
	LOOM_API=http://127.0.0.1:1 run "$LOOM" workflow list --api "$LOOM_API"
	assert_success
	printf '[cli]\napi = %s\n' "$LOOM_API" >"$BATS_TEST_TMPDIR/loom.conf"
	api=$LOOM_API
	unset LOOM_API
	LOOM_CONFIG="$BATS_TEST_TMPDIR/loom.conf" run "$LOOM" workflow list
	assert_success
	assert_line --partial cli-report
	LOOM_API=$api
}

@test "usage errors are exit 2; --help is exit 0" {
	for args in "workflow" "workflow bogus" "workflow describe" \
	    "workflow list extra" "workflow apply" "workflow list -o yaml" \
	    "workflow describe x --version zero" "workflow list --version 2" \
	    "execution" "execution show" "execution list --limit 0" \
	    "execution list --limit 1001" "execution list --status bogus" \
	    "execution show x --timeout 5s" "execution list --wait" \
	    "workflow list --api ftp://x"; do
		# shellcheck disable=SC2086
		run --separate-stderr "$LOOM" $args
		[ "$status" -eq 2 ] || {
			echo "loom $args: status $status: $stderr"
			return 1
		}
	done
	run "$LOOM" workflow --help
	assert_success
	assert_line --partial 'usage: loom workflow apply FILE...'
	run "$LOOM" help execution
	assert_success
	assert_line --partial 'usage: loom execution list'
	run "$LOOM" wf list --help
	assert_success
}
