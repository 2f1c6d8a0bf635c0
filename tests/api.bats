#!/usr/bin/env bats
# loom-api: the REST API as a client sees it, with curl and jq, against a
# throwaway PostgreSQL cluster.  No engine runs here, so executions stay
# PENDING unless a test moves them with SQL (as the engine would).

bats_require_minimum_version 1.5.0

load helpers

EXAMPLE=$BATS_TEST_DIRNAME/../contrib/examples/daily-report.yaml
DATA=$BATS_TEST_DIRNAME/data/api

setup_file() {
	loom_pg_start
	loom_api_start
}

teardown_file() {
	loom_stop_all
}

# req METHOD PATH [CURL-ARGS...]: sets $code and $body.
req() {
	local m=$1 p=$2 out
	shift 2
	out=$(curl -sS -X "$m" -w '\n%{http_code}' "$@" "$LOOM_API$p") ||
	    return 1
	body=${out%$'\n'*}
	code=${out##*$'\n'}
}

# post_yaml FILE: applies a workflow file.
post_yaml() {
	req POST /api/v1/workflows -H 'Content-Type: application/yaml' \
	    --data-binary @"$1"
}

post_json() {	# PATH JSON
	req POST "$1" -H 'Content-Type: application/json' --data-binary "$2"
}

sql() {
	psql -qAtX "$LOOM_DATABASE_URL" -c "$1"
}

# jqt FILTER: the body passes the jq test.
jqt() {
	jq -e "$1" <<<"$body" >/dev/null || {
		echo "body: $body" >&2
		echo "fails: $1" >&2
		return 1
	}
}

# error CODE STATUS: the body is the contract's error shape.
assert_error() {
	assert_equal "$code" "$2"
	jqt ".error.code == \"$1\" and (.error.message | type == \"string\")
	    and (.error | has(\"field\"))"
}

healthy() {
	[ "$(curl -sS "$LOOM_API/healthz" | jq -r .status)" = ok ]
}

@test "healthz and readyz answer" {
	req GET /healthz
	assert_equal "$code" 200
	jqt '.status == "ok"'
	req GET /readyz
	assert_equal "$code" 200
	jqt '.status == "ready"'
	run curl -sSI "$LOOM_API/healthz"
	assert_line --partial 'HTTP/1.1 200'
	assert_line --partial 'Content-Type: application/json'
}

@test "apply: new workflow is created as version 1" {
	post_yaml "$EXAMPLE"
	assert_equal "$code" 201
	jqt '.id == "daily-report" and .version == 1 and .created == true'
}

@test "apply: the same spec again is not a new version" {
	post_yaml "$EXAMPLE"
	assert_equal "$code" 200
	jqt '.id == "daily-report" and .version == 1 and .created == false'
	# comments and layout are not the spec
	{ echo '# a new comment'; cat "$EXAMPLE"; } >"$BATS_TEST_TMPDIR/c.yaml"
	post_yaml "$BATS_TEST_TMPDIR/c.yaml"
	assert_equal "$code" 200
	jqt '.created == false'
}

@test "apply: a changed spec bumps the version" {
	{ cat "$EXAMPLE"; echo 'description: the second version'; } \
	    >"$BATS_TEST_TMPDIR/v2.yaml"
	post_yaml "$BATS_TEST_TMPDIR/v2.yaml"
	assert_equal "$code" 201
	jqt '.version == 2 and .created == true'
	# JSON is accepted too (it is YAML), and the same spec is no change
	req GET /api/v1/workflows/daily-report
	jq .spec <<<"$body" >"$BATS_TEST_TMPDIR/v2.json"
	req POST /api/v1/workflows -H 'Content-Type: application/json' \
	    --data-binary @"$BATS_TEST_TMPDIR/v2.json"
	assert_equal "$code" 200
	jqt '.version == 2 and .created == false'
}

@test "apply: an invalid workflow is 422 with line/column details and writes nothing" {
	before=$(sql "SELECT count(*) FROM workflow_versions")
	post_yaml "$DATA/invalid.yaml"
	assert_error invalid_workflow 422
	jqt '.error.message == "3 errors"'
	jqt '.error.details | length == 3'
	jqt '.error.details[0] == {"file": "<request>", "line": 7, "column": 14,
	    "message": .error.details[0].message}'
	jqt '[.error.details[].line] == [7, 11, 12]'
	jqt '.error.details[2].message | test("did you mean .retryOn.")'
	assert_equal "$(sql "SELECT count(*) FROM workflow_versions")" "$before"
	assert_equal "$(sql "SELECT count(*) FROM workflows WHERE id = 'api-invalid'")" 0
	req GET /api/v1/workflows/api-invalid
	assert_error not_found 404
}

@test "apply: a bad concurrency policy is refused with its place, and nothing is stored" {
	before=$(sql "SELECT count(*) FROM workflow_versions")
	req POST /api/v1/workflows -H 'Content-Type: application/yaml' \
	    --data-binary $'id: api-conc\nconcurrency: {max: 1, policy: skipp}\ntasks:\n  - {id: a, command: "true"}\n'
	assert_error invalid_workflow 422
	jqt '.error.details | length == 1'
	jqt '.error.details[0].line == 2 and .error.details[0].column == 31'
	jqt '.error.details[0].message | startswith("unknown concurrency policy '"'skipp'"'")'
	assert_equal "$(sql "SELECT count(*) FROM workflow_versions")" "$before"
	assert_equal "$(sql "SELECT count(*) FROM workflows WHERE id = 'api-conc'")" 0
	# a workflow without the key has no limit in its stored form
	req GET /api/v1/workflows/daily-report
	jqt '.spec | has("concurrency") | not'
}

@test "apply: YAML syntax errors and empty bodies are refused" {
	req POST /api/v1/workflows -H 'Content-Type: application/yaml' \
	    --data-binary $'id: x\ntasks: [\n'
	assert_error invalid_workflow 422
	jqt '.error.details[0].line > 0'
	req POST /api/v1/workflows -H 'Content-Type: application/yaml'
	assert_error bad_request 400
}

@test "apply: concurrent applies of one workflow never share a version" {
	for i in $(seq 12); do
		{ sed 's/^id: .*/id: api-concurrent/' "$EXAMPLE"
		  echo "description: version $i"; } >"$BATS_TEST_TMPDIR/c$i.yaml"
	done
	for i in $(seq 12); do
		curl -sS -o /dev/null -w '%{http_code}\n' \
		    -H 'Content-Type: application/yaml' \
		    --data-binary @"$BATS_TEST_TMPDIR/c$i.yaml" \
		    "$LOOM_API/api/v1/workflows" >"$BATS_TEST_TMPDIR/s$i" 3>&- &
	done
	wait
	run cat "$BATS_TEST_TMPDIR"/s*
	refute_output --partial 5
	req GET /api/v1/workflows/api-concurrent/versions
	jqt '[.versions[].version] == [range(12; 0; -1)]'
	req GET /api/v1/workflows/api-concurrent
	jqt '.version == 12'
	sql "DELETE FROM workflows WHERE id = 'api-concurrent'"
}

@test "workflows: list, describe, versions" {
	post_yaml "$DATA/params.yaml"
	assert_equal "$code" 201
	req GET /api/v1/workflows
	assert_equal "$code" 200
	jqt '.workflows | map(.id) == ["api-params", "daily-report"]'
	jqt '.workflows[] | select(.id == "daily-report") |
	    .name == "Daily Report" and .schedule == "0 3 * * *" and
	    .timezone == "UTC" and .version == 2 and .paused == false and
	    .taskCount == 4 and
	    (.createdAt | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\\.[0-9]{3}Z$"))'

	req GET /api/v1/workflows/daily-report
	assert_equal "$code" 200
	jqt '.id == "daily-report" and .version == 2 and
	    (.spec.tasks | map(.id)) == ["fetch_data", "validate", "process",
	    "send_email"] and .spec.description == "the second version" and
	    (.definition | test("description: the second version"))'

	req GET /api/v1/workflows/daily-report/versions
	assert_equal "$code" 200
	jqt '.versions | map(.version) == [2, 1]'
	jqt '.versions[0].checksum | test("^[0-9a-f]{64}$")'
	jqt '.versions[0].checksum != .versions[1].checksum'

	req GET /api/v1/workflows/daily-report/versions/1
	assert_equal "$code" 200
	jqt '.id == "daily-report" and .version == 1 and
	    (.definition | test("second version") | not)
	    and (.spec.tasks | length) == 4'

	req GET /api/v1/workflows/daily-report/versions/3
	assert_error not_found 404
	req GET /api/v1/workflows/daily-report/versions/x
	assert_error bad_request 400
	jqt '.error.field == "version"'
	req GET /api/v1/workflows/nope
	assert_error not_found 404
	req GET /api/v1/workflows/nope/versions
	assert_error not_found 404
}

@test "trigger: 201 with an execution id and a PENDING row" {
	req POST /api/v1/workflows/daily-report/trigger
	assert_equal "$code" 201
	jqt '(.executionId | test("^exec-[0-9a-f]{20}$")) and
	    .workflowId == "daily-report" and .workflowVersion == 2 and
	    .status == "PENDING"'
	id=$(jq -r .executionId <<<"$body")
	assert_equal "$(sql "SELECT status || ' ' || workflow_version FROM executions WHERE id = '$id'")" "PENDING 2"
	assert_equal "$(sql "SELECT count(*) FROM events WHERE execution_id = '$id' AND kind = 'run' AND to_state = 'PENDING'")" 1
	run curl -sS -D - -o /dev/null -X POST \
	    "$LOOM_API/api/v1/workflows/daily-report/trigger"
	assert_line --partial "Location: /api/v1/executions/exec-"
}

@test "trigger: params are defaults overlaid with the input" {
	post_json /api/v1/workflows/api-params/trigger '{"input":{"limit":3}}'
	assert_equal "$code" 201
	id=$(jq -r .executionId <<<"$body")
	req GET "/api/v1/executions/$id"
	jqt '.params == {"region": "eu", "limit": 3}'
}

@test "trigger: an unknown param or a non-object input is 422" {
	post_json /api/v1/workflows/api-params/trigger '{"input":{"colour":"red"}}'
	assert_error invalid_input 422
	jqt '.error.message | test("unknown param .colour.")'
	jqt '.error.field == "input"'
	post_json /api/v1/workflows/api-params/trigger '{"input":[1]}'
	assert_error invalid_input 422
	post_json /api/v1/workflows/api-params/trigger '{"inputs":{}}'
	assert_error invalid_input 422
	jqt '.error.field == "inputs"'
	assert_equal "$(sql "SELECT count(*) FROM executions WHERE workflow_id = 'api-params'")" 1
}

@test "trigger: an unknown workflow is 404" {
	req POST /api/v1/workflows/no-such-flow/trigger
	assert_error not_found 404
}

@test "executions: list, newest first, with filters" {
	req GET /api/v1/executions
	assert_equal "$code" 200
	jqt '.executions | length == 3'
	jqt '.executions[0].workflowId == "api-params"'
	jqt '.executions | map(.createdAt) == (map(.createdAt) | sort | reverse)'
	jqt '.executions[0] | has("id", "workflowId", "workflowVersion",
	    "status", "trigger", "createdAt", "startedAt", "completedAt",
	    "error")'
	req GET '/api/v1/executions?workflow=daily-report&status=PENDING&limit=1'
	jqt '.executions | length == 1 and .[0].workflowId == "daily-report"'
	req GET '/api/v1/executions?status=SUCCESS'
	jqt '.executions == []'
	req GET '/api/v1/executions?limit=1001'
	assert_error bad_request 400
	jqt '.error.field == "limit"'
	req GET '/api/v1/executions?status=DONE'
	assert_error bad_request 400
}

@test "executions: detail lists every task, PENDING, in topological order" {
	id=$(sql "SELECT id FROM executions WHERE workflow_id = 'api-params'")
	req GET "/api/v1/executions/$id"
	assert_equal "$code" 200
	jqt ".id == \"$id\" and .status == \"PENDING\" and .trigger == \"manual\""
	# the file lists report, transform, extract
	jqt '.tasks | map(.taskId) == ["extract", "transform", "report"]'
	jqt '.tasks | all(.state == "PENDING" and .attempt == 0 and
	    .attempts == [] and .type == "shell" and .error == null)'
	req GET /api/v1/executions/exec-00000000000000000000
	assert_error not_found 404
}

@test "executions: ?wait answers when the run ends (LISTEN loom_event)" {
	req POST /api/v1/workflows/daily-report/trigger
	id=$(jq -r .executionId <<<"$body")
	start=$SECONDS
	curl -sS "$LOOM_API/api/v1/executions/$id?wait=60s" \
	    >"$BATS_TEST_TMPDIR/wait.json" 3>&- &
	cpid=$!
	# what loom-engine would do: change the row, ring the doorbell
	sql "UPDATE executions SET status = 'RUNNING' WHERE id = '$id';
	    SELECT pg_notify('loom_event', '$id')" >/dev/null
	sql "UPDATE executions SET status = 'FAILED', completed_at = now(),
	    error = 'boom' WHERE id = '$id';
	    SELECT pg_notify('loom_event', '$id')" >/dev/null
	wait "$cpid"
	[ $((SECONDS - start)) -lt 30 ]
	body=$(cat "$BATS_TEST_TMPDIR/wait.json")
	jqt '.status == "FAILED" and .error == "boom" and .completedAt != null'
}

@test "executions: ?wait gives up after the duration; a bad duration is 400" {
	req POST /api/v1/workflows/daily-report/trigger
	id=$(jq -r .executionId <<<"$body")
	start=$(date +%s%N)
	req GET "/api/v1/executions/$id?wait=1s"
	ms=$((($(date +%s%N) - start) / 1000000))
	assert_equal "$code" 200
	jqt '.status == "PENDING"'
	[ "$ms" -ge 900 ] && [ "$ms" -lt 10000 ]
	req GET "/api/v1/executions/$id?wait=soon"
	assert_error bad_request 400
	jqt '.error.field == "wait"'
}

@test "callbacks: unknown token is 404; a waiting task is settled once" {
	post_json /api/v1/callbacks/nosuchtoken '{"status":"SUCCESS"}'
	assert_error not_found 404
	post_json "/api/v1/callbacks/exec-00000000000000000000~t~x" \
	    '{"status":"SUCCESS"}'
	assert_error not_found 404

	id=$(sql "SELECT id FROM executions WHERE workflow_id = 'api-params'")
	# what loom-exec does when a backend answers 202
	sql "INSERT INTO run_tasks (execution_id, task_id, state, attempt,
	    callback_token, awaiting_callback, started_at)
	    VALUES ('$id', 'extract', 'RUNNING', 1, '$id~extract~tok', true, now())"
	post_json "/api/v1/callbacks/$id~extract~tok" '{"status":"MAYBE"}'
	assert_error invalid_input 422
	jqt '.error.field == "status"'
	post_json "/api/v1/callbacks/$id~extract~tok" '{"status": 1}'
	assert_error invalid_input 422
	post_json "/api/v1/callbacks/$id~extract~tok" \
	    '{"status": "FAILED", "error": "x"}'
	assert_error invalid_input 422
	jqt '.error.field == "error"'
	post_json "/api/v1/callbacks/$id~extract~tok" '[1]'
	assert_error bad_request 400
	post_json "/api/v1/callbacks/$id~extract~tok" \
	    '{"status":"SUCCESS","output":{"rows":42},"logs":"done\n"}'
	assert_equal "$code" 200
	jqt '.accepted == true'
	assert_equal "$(sql "SELECT state || ' ' || settled || ' ' || awaiting_callback || ' ' || (output->>'rows') FROM run_tasks WHERE execution_id = '$id'")" "SUCCESS false false 42"
	assert_equal "$(sql "SELECT status || ' ' || attempt || ' ' || logs FROM task_executions WHERE execution_id = '$id'")" "SUCCESS 1 done"
	post_json "/api/v1/callbacks/$id~extract~tok" '{"status":"FAILED"}'
	assert_error conflict 409

	req GET "/api/v1/executions/$id"
	jqt '.tasks[0] | .taskId == "extract" and .state == "SUCCESS" and
	    .output == {"rows": 42} and .attempt == 1 and
	    (.attempts | length == 1 and .[0].status == "SUCCESS" and
	    .[0].durationMs >= 0)'
	jqt '.tasks[1].state == "PENDING"'
}

@test "robustness: malformed JSON is 400 invalid_json" {
	post_json /api/v1/workflows/daily-report/trigger '{"input": {'
	assert_error invalid_json 400
	healthy
}

@test "robustness: wrong types are refused" {
	post_json /api/v1/workflows/daily-report/trigger '[1, 2]'
	assert_error bad_request 400
	post_json /api/v1/workflows/daily-report/trigger '"input"'
	assert_error bad_request 400
	# an unknown token is 404 whatever its body; a live one's wrong
	# types are 422 (callbacks, below)
	post_json /api/v1/callbacks/x '{"status": 1}'
	assert_error not_found 404
	healthy
}

@test "robustness: a 2 MiB body is 413" {
	head -c $((2 * 1024 * 1024)) /dev/zero | tr '\0' ' ' \
	    >"$BATS_TEST_TMPDIR/big"
	req POST /api/v1/workflows/daily-report/trigger \
	    -H 'Content-Type: application/json' \
	    --data-binary @"$BATS_TEST_TMPDIR/big"
	assert_error too_large 413
	healthy
	# without "Expect: 100-continue", and chunked: the same answer
	req POST /api/v1/workflows -H 'Content-Type: application/yaml' \
	    -H 'Expect:' --data-binary @"$BATS_TEST_TMPDIR/big"
	assert_error too_large 413
	req POST /api/v1/workflows -H 'Content-Type: application/yaml' \
	    -H 'Transfer-Encoding: chunked' --data-binary @"$BATS_TEST_TMPDIR/big"
	assert_error too_large 413
	healthy
}

@test "robustness: 100 levels of nesting is 400" {
	deep=$(printf '%.0s[' {1..100})$(printf '%.0s]' {1..100})
	post_json /api/v1/workflows/daily-report/trigger "{\"input\":{\"a\":$deep}}"
	assert_error bad_request 400
	jqt '.error.message | test("deeper than 64")'
	req POST /api/v1/workflows -H 'Content-Type: application/yaml' \
	    --data-binary "id: deep
tasks: $deep"
	assert_error bad_request 400
	healthy
}

@test "robustness: bad UTF-8 is 400" {
	printf '{"input":{"a":"\xc3\x28"}}' >"$BATS_TEST_TMPDIR/bad"
	req POST /api/v1/workflows/api-params/trigger \
	    -H 'Content-Type: application/json' --data-binary @"$BATS_TEST_TMPDIR/bad"
	assert_error bad_request 400
	jqt '.error.message | test("UTF-8")'
	printf 'id: caf\xe9\ntasks: []\n' >"$BATS_TEST_TMPDIR/bad.yaml"
	post_yaml "$BATS_TEST_TMPDIR/bad.yaml"
	assert_error bad_request 400
	req GET '/api/v1/workflows/%FF'
	assert_error bad_request 400
	healthy
}

@test "robustness: a NUL character (\\u0000) is refused, not a 500" {
	post_json /api/v1/workflows/api-params/trigger '{"input":{"region":"e\u0000u"}}'
	assert_error invalid_input 422
	req POST /api/v1/workflows -H 'Content-Type: application/json' \
	    --data-binary '{"id":"nul","params":{"a":"\u0000"},
	    "tasks":[{"id":"t","type":"shell","command":"true"}]}'
	assert_error invalid_workflow 422
	healthy
}

@test "robustness: unknown route is 404, wrong method 405 with Allow" {
	req GET /api/v2/nothing
	assert_error not_found 404
	# / is the web UI's when loom-api finds it (api-static.bats); a
	# missing file is still a JSON 404
	req GET /nothing.txt
	assert_error not_found 404
	jqt '.error.field == "path"'	# no route, as opposed to no resource
	req PATCH /api/v1/workflows/daily-report
	assert_error method_not_allowed 405
	run curl -sS -D - -o /dev/null -X PUT "$LOOM_API/api/v1/workflows"
	assert_line --partial 'HTTP/1.1 405'
	assert_line --partial 'Allow: GET, HEAD, POST'
	healthy
}

@test "robustness: an unsupported media type is 415" {
	req POST /api/v1/workflows/daily-report/trigger -d '{}'
	assert_error unsupported_media_type 415
	req POST /api/v1/workflows -H 'Content-Type: image/png' \
	    --data-binary @"$EXAMPLE"
	assert_error unsupported_media_type 415
	healthy
}

@test "loom-api: Unix socket, one instance per socket, config check" {
	sock=$LOOM_TEST_DIR/api.sock
	"$LOOM_BIN/loom-api" --listen none --socket "$sock" --print-url \
	    >"$LOOM_TEST_DIR/u.out" 2>"$LOOM_TEST_DIR/u.err" 3>&- &
	pid=$!
	wait_for test -S "$sock"
	wait_for curl -sf --unix-socket "$sock" http://loom/healthz
	run stat -c %a "$sock"
	assert_output 660
	run curl -sS --unix-socket "$sock" http://loom/api/v1/workflows/daily-report
	assert_output --partial '"id":"daily-report"'
	# a second instance on the same socket refuses to start
	run "$LOOM_BIN/loom-api" --listen none --socket "$sock"
	assert_failure 1
	assert_output --partial 'already listening'
	kill -TERM "$pid"
	wait "$pid"
	[ ! -e "$sock" ]
	assert_equal "$(head -1 "$LOOM_TEST_DIR/u.out")" "unix:$sock"
	# a stale socket file (nobody listening) is replaced
	python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$sock"
	"$LOOM_BIN/loom-api" --listen none --socket "$sock" \
	    >/dev/null 2>&1 3>&- &
	pid=$!
	wait_for curl -sf --unix-socket "$sock" http://loom/healthz
	kill -TERM "$pid"
	wait "$pid"

	run "$LOOM_BIN/loom-api" -n
	assert_success
	printf '[api]\nthreads = many\nlisten = nowhere\n' >"$LOOM_TEST_DIR/bad.conf"
	run "$LOOM_BIN/loom-api" -n -c "$LOOM_TEST_DIR/bad.conf"
	assert_failure 1
	assert_output --partial 'api.threads'
	assert_output --partial 'api.listen'
	run "$LOOM_BIN/loom-api" --bogus
	assert_failure 2
}

@test "loom-api: refuses to start on an unmigrated database" {
	sql "CREATE DATABASE loom_empty" >/dev/null
	url=${LOOM_DATABASE_URL/loom\?/loom_empty?}
	[ "$url" != "$LOOM_DATABASE_URL" ]
	run env LOOM_DATABASE_URL="$url" "$LOOM_BIN/loom-api" \
	    --listen 127.0.0.1:0
	assert_failure 1
	assert_output --partial "loom db migrate"
}

@test "loom-api: SIGTERM answers a parked long-poll and exits 0" {
	req POST /api/v1/workflows/daily-report/trigger
	id=$(jq -r .executionId <<<"$body")
	# the queries of a long-poll's first look, just before it parks: the
	# detail, then the workflow's version it renders the tasks with
	parked="SELECT count(*) FROM pg_stat_activity WHERE
	    application_name LIKE 'loom-api[%' AND
	    (query LIKE 'SELECT 0, id, workflow_id%' OR
	    query LIKE 'SELECT spec::text FROM workflow_versions%')"
	before=$(sql "$parked")
	loom_api_start
	curl -sS "$LOOM_API/api/v1/executions/$id?wait=5m" \
	    >"$BATS_TEST_TMPDIR/w.json" 3>&- &
	cpid=$!
	more_parked() { [ "$(sql "$parked")" -gt "$before" ]; }
	wait_for more_parked
	start=$SECONDS
	kill -TERM "$LOOM_API_PID"
	wait "$cpid"
	body=$(cat "$BATS_TEST_TMPDIR/w.json")
	jqt ".id == \"$id\" and .status == \"PENDING\""
	wait "$LOOM_API_PID"
	[ $((SECONDS - start)) -lt 10 ]
	grep -q 'stopped' "$LOOM_API_LOG"
}
