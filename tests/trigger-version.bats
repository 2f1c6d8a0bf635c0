#!/usr/bin/env bats
# loom-api's trigger starts the run in one statement, against the version
# its thread parsed last, which the database checks is still current.
# Here one loom-api (one thread, so one parse cache) triggers while a
# second one applies, pauses and deletes: every answer and every run must
# be the current version's, never the one the first instance last saw.

bats_require_minimum_version 1.5.0

load helpers

setup_file() {
	loom_pg_start
	printf '[api]\nthreads = 1\n' >"$LOOM_TEST_DIR/one-thread.conf"
	loom_api_start -c "$LOOM_TEST_DIR/one-thread.conf"
	export TRIGGER_API=$LOOM_API TRIGGER_API_PID=$LOOM_API_PID
	loom_api_start
	export APPLY_API=$LOOM_API APPLY_API_PID=$LOOM_API_PID
}

teardown_file() {
	kill -TERM "$TRIGGER_API_PID" 2>/dev/null || true
	timeout 30 tail --pid="$TRIGGER_API_PID" -f /dev/null 3>&- || true
	loom_stop_all
}

# trig ID [JSON] [QUERY]: a trigger through the one-thread instance; sets
# $code and $body.
trig() {
	local out
	out=$(curl -sS -X POST -w '\n%{http_code}' \
	    -H 'Content-Type: application/json' --data-binary "${2:-{\}}" \
	    "$TRIGGER_API/api/v1/workflows/$1/trigger${3:-}") || return 1
	body=${out%$'\n'*}
	code=${out##*$'\n'}
}

# apply YAML: a new version through the other instance.
apply() {
	curl -sSf -X POST -H 'Content-Type: application/yaml' \
	    --data-binary @- "$APPLY_API/api/v1/workflows" <<<"$1" >/dev/null
}

# wf ID PARAMS [EXTRA]: a one-task workflow with those params.
wf() {
	printf 'id: %s\nparams: %s\n%stasks:\n  - {id: a, type: shell, command: [true]}\n' \
	    "$1" "$2" "${3:-}"
}

sql() {
	psql -qAtX "$LOOM_DATABASE_URL" -c "$1"
}

# expect CODE FILTER: the answer's status and a jq test of its body.
expect() {
	[ "$code" = "$1" ] && jq -e "$2" <<<"$body" >/dev/null || {
		echo "status $code, body: $body; expected $1 and $2" >&2
		return 1
	}
}

@test "trigger: a version applied elsewhere counts at once, params and all" {
	apply "$(wf tv '{region: eu}')"
	trig tv
	expect 201 '.workflowVersion == 1'
	trig tv '{"input":{"region":"us"}}'
	expect 201 '.workflowVersion == 1'
	# version 2 has a param version 1 refuses
	apply "$(wf tv '{region: eu, colour: blue}')"
	trig tv '{"input":{"colour":"red"}}'
	expect 201 '.workflowVersion == 2'
	id=$(jq -r .executionId <<<"$body")
	assert_equal "$(sql "SELECT workflow_version || ' ' || params::text FROM executions WHERE id = '$id'")" \
	    '2 {"colour": "red", "region": "eu"}'
	trig tv
	expect 201 '.workflowVersion == 2'
	id=$(jq -r .executionId <<<"$body")
	assert_equal "$(sql "SELECT params->>'colour' FROM executions WHERE id = '$id'")" blue
	# version 3 drops a param version 2 takes: 422, and no run
	apply "$(wf tv '{colour: blue}')"
	n=$(sql "SELECT count(*) FROM executions WHERE workflow_id = 'tv'")
	trig tv '{"input":{"region":"us"}}'
	expect 422 '.error.code == "invalid_input" and
	    (.error.message | test("unknown param .region."))'
	assert_equal "$(sql "SELECT count(*) FROM executions WHERE workflow_id = 'tv'")" "$n"
	trig tv
	expect 201 '.workflowVersion == 3'
}

@test "trigger: paused and deleted elsewhere answer as before" {
	apply "$(wf tp '{}')"
	trig tp
	expect 201 '.workflowVersion == 1'
	curl -sSf -X POST "$APPLY_API/api/v1/workflows/tp/pause" >/dev/null
	trig tp
	expect 409 '.error.code == "conflict" and
	    (.error.message | test("paused"))'
	trig tp '{}' '?force=true'
	expect 201 '.workflowVersion == 1'
	curl -sSf -X DELETE "$APPLY_API/api/v1/workflows/tp?force=true" >/dev/null
	trig tp
	expect 404 ".error.code == \"not_found\" and
	    .error.message == \"no workflow 'tp'\""
}

@test "trigger: a workflow with a concurrency limit takes the new version too" {
	apply "$(wf tc '{a: 1}' 'concurrency: {max: 5, policy: queue}
')"
	trig tc
	expect 201 '.workflowVersion == 1 and .queued == false'
	apply "$(wf tc '{a: 1, b: 2}' 'concurrency: {max: 5, policy: queue}
')"
	# params version 1 takes too: the locked way finds version 2 current
	trig tc
	expect 201 '.workflowVersion == 2 and .queued == false'
	id=$(jq -r .executionId <<<"$body")
	assert_equal "$(sql "SELECT workflow_version || ' ' || params::text FROM executions WHERE id = '$id'")" \
	    '2 {"a": 1, "b": 2}'
	trig tc '{"input":{"b":3}}'
	expect 201 '.workflowVersion == 2'
}

# bigwf ID PARAMS: a workflow of 4,200 tasks, more than a thread keeps
# parsed, whose declared params loom-api keeps for every thread instead
bigwf() {
	printf 'id: %s\nparams: %s\ntasks:\n' "$1" "$2"
	for ((i = 0; i < 4200; i++)); do
		printf '  - {id: t%d, type: shell, command: [true]}\n' "$i"
	done
}

@test "trigger: a large workflow's kept params follow each new version" {
	apply "$(bigwf tb '{region: eu}')"
	for i in 1 2 3; do
		trig tb '{"input":{"region":"us"}}'
		expect 201 '.workflowVersion == 1'
		trig tb '{"input":{"colour":"red"}}'
		expect 422 '.error.code == "invalid_input" and
		    (.error.message | test("unknown param .colour."))'
	done
	apply "$(bigwf tb '{region: eu, colour: blue}')"
	trig tb '{"input":{"colour":"red"}}'
	expect 201 '.workflowVersion == 2'
	id=$(jq -r .executionId <<<"$body")
	assert_equal "$(sql "SELECT workflow_version || ' ' || params::text FROM executions WHERE id = '$id'")" \
	    '2 {"colour": "red", "region": "eu"}'
	trig tb
	expect 201 '.workflowVersion == 2'
	id=$(jq -r .executionId <<<"$body")
	assert_equal "$(sql "SELECT params::text FROM executions WHERE id = '$id'")" \
	    '{"colour": "blue", "region": "eu"}'
	apply "$(bigwf tb '{colour: blue}')"
	n=$(sql "SELECT count(*) FROM executions WHERE workflow_id = 'tb'")
	trig tb '{"input":{"region":"us"}}'
	expect 422 '.error.code == "invalid_input" and
	    (.error.message | test("unknown param .region."))'
	assert_equal "$(sql "SELECT count(*) FROM executions WHERE workflow_id = 'tb'")" "$n"
	trig tb
	expect 201 '.workflowVersion == 3'
}
