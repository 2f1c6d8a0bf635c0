#!/usr/bin/env bats
# Workflows after apply, through loom-api and the loom CLI: pausing,
# deleting (and coming back), a workflow's history, and cursor paging of
# the execution lists (keyset on (created_at, id), stable while runs are
# being created).  No engine runs: runs stay PENDING unless SQL moves
# them, as in tests/api.bats.

bats_require_minimum_version 1.5.0

load helpers

EXAMPLE=$BATS_TEST_DIRNAME/../contrib/examples/daily-report.yaml

setup_file() {
	loom_pg_start
	loom_api_start
	export LOOM="$LOOM_BIN/loom"
}

teardown_file() {
	loom_stop_all
}

req() {	# METHOD PATH [CURL-ARGS...]: sets $code and $body
	local m=$1 p=$2 out
	shift 2
	out=$(curl -sS -X "$m" -w '\n%{http_code}' "$@" "$LOOM_API$p") ||
	    return 1
	body=${out%$'\n'*}
	code=${out##*$'\n'}
}

sql() {
	psql -qAtX "$LOOM_DATABASE_URL" -c "$1"
}

jqt() {
	jq -e "$1" <<<"$body" >/dev/null || {
		echo "body: $body" >&2
		echo "fails: $1" >&2
		return 1
	}
}

assert_error() {	# CODE STATUS
	assert_equal "$code" "$2"
	jqt ".error.code == \"$1\" and (.error.message | type == \"string\")"
}

# apply ID [EXTRA-YAML-LINE]: the example under another id.
apply() {
	{ sed "s/^id: .*/id: $1/" "$EXAMPLE"; [ -z "${2:-}" ] || echo "$2"; } \
	    >"$BATS_TEST_TMPDIR/$1.yaml"
	req POST /api/v1/workflows -H 'Content-Type: application/yaml' \
	    --data-binary @"$BATS_TEST_TMPDIR/$1.yaml"
}

trigger() {	# ID [QUERY]: sets $id to the new execution
	req POST "/api/v1/workflows/$1/trigger${2:-}"
	id=$(jq -r '.executionId // empty' <<<"$body")
}

# walk PATH LIMIT: every page of a list, ids one per line in $BATS_TEST_TMPDIR/walk
walk() {
	local sep=? cur= pages=0
	[[ $1 == *\?* ]] && sep='&'
	: >"$BATS_TEST_TMPDIR/walk"
	while :; do
		req GET "$1${sep}limit=$2${cur:+&cursor=$cur}"
		[ "$code" = 200 ] || { echo "page: $code $body" >&2; return 1; }
		jq -r '.executions[].id' <<<"$body" >>"$BATS_TEST_TMPDIR/walk"
		pages=$((pages + 1))
		cur=$(jq -r '.nextCursor // empty' <<<"$body")
		[ -n "$cur" ] || break
		[ "$pages" -lt 1000 ] || return 1
	done
	echo "$pages" >"$BATS_TEST_TMPDIR/pages"
}

# The ISO time 30 s after pg-walk's run number G was created (G <= 20).
pg_walk_after() {
	sql "SELECT to_char((created_at + interval '30 seconds') AT TIME ZONE
	    'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM executions
	    WHERE id = 'exec-' || lpad(to_hex($1), 20, '0')"
}

@test "pages: keyset walk returns every run once, newest first, ties by id" {
	apply pg-walk
	assert_equal "$code" 201
	# 30 runs, the last ten created in one instant (ties on created_at)
	sql "INSERT INTO executions (id, workflow_id, workflow_version, status,
	    created_at) SELECT 'exec-' || lpad(to_hex(g), 20, '0'), 'pg-walk', 1,
	    CASE WHEN g % 3 = 0 THEN 'SUCCESS' ELSE 'FAILED' END,
	    CASE WHEN g <= 20 THEN now() - (40 - g) * interval '1 minute'
	    ELSE now() - interval '1 second' END
	    FROM generate_series(1, 30) g"
	sql "SELECT id FROM executions WHERE workflow_id = 'pg-walk'
	    ORDER BY created_at DESC, id DESC" >"$BATS_TEST_TMPDIR/want"
	walk '/api/v1/executions?workflow=pg-walk' 7
	run diff "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/walk"
	assert_success
	assert_equal "$(cat "$BATS_TEST_TMPDIR/pages")" 5
	# exactly a page left: no empty last page
	walk '/api/v1/executions?workflow=pg-walk' 10
	assert_equal "$(cat "$BATS_TEST_TMPDIR/pages")" 3
	walk '/api/v1/executions?workflow=pg-walk' 1000
	assert_equal "$(cat "$BATS_TEST_TMPDIR/pages")" 1
	# the cursor is opaque base64url
	req GET '/api/v1/executions?workflow=pg-walk&limit=2'
	jqt '.executions | length == 2'
	jqt '.nextCursor | test("^[A-Za-z0-9_-]+$")'
}

@test "pages: runs created during a walk neither shift nor repeat a page" {
	apply pg-busy
	for i in $(seq 12); do trigger pg-busy; done
	sql "SELECT id FROM executions WHERE workflow_id = 'pg-busy'
	    ORDER BY created_at DESC, id DESC" >"$BATS_TEST_TMPDIR/want"
	req GET '/api/v1/executions?workflow=pg-busy&limit=5'
	jq -r '.executions[].id' <<<"$body" >"$BATS_TEST_TMPDIR/got"
	cur=$(jq -r .nextCursor <<<"$body")
	# new runs arrive between the pages
	for i in 1 2 3; do trigger pg-busy; done
	while [ -n "$cur" ]; do
		req GET "/api/v1/executions?workflow=pg-busy&limit=5&cursor=$cur"
		jq -r '.executions[].id' <<<"$body" >>"$BATS_TEST_TMPDIR/got"
		cur=$(jq -r '.nextCursor // empty' <<<"$body")
	done
	run diff "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got"
	assert_success
}

@test "pages: since, until, status and bad arguments" {
	req GET '/api/v1/executions?workflow=pg-walk&since=10m'
	jqt '[.executions[].id] | length == 10'
	req GET '/api/v1/executions?workflow=pg-walk&until=10m'
	jqt '[.executions[].id] | length == 20'
	# anchored on the rows themselves, not on now(): the test may run
	# minutes after they were made on a busy machine
	since=$(pg_walk_after 15)
	req GET "/api/v1/executions?workflow=pg-walk&since=$since&until=10m"
	jqt '[.executions[].id] | length == 5'
	req GET '/api/v1/executions?workflow=pg-walk&status=success&limit=1000'
	jqt '[.executions[].status] | unique == ["SUCCESS"] and length == 10'
	req GET '/api/v1/executions?workflow=pg-walk&since=2999-01-01'
	jqt '.executions == [] and .nextCursor == null'

	req GET '/api/v1/executions?cursor=bm90IGEgY3Vyc29y'
	assert_error bad_request 400
	jqt '.error.field == "cursor"'
	req GET '/api/v1/executions?cursor=%FF%FE'
	assert_error bad_request 400
	req GET '/api/v1/executions?since=yesterday'
	assert_error bad_request 400
	jqt '.error.field == "since"'
	req GET '/api/v1/executions?until=2026-02-30'
	assert_error bad_request 400
	jqt '.error.field == "until"'
	req GET '/api/v1/executions?limit=0'
	assert_error bad_request 400
	jqt '.error.field == "limit"'
}

@test "history: a workflow's executions, same shape, paged; 404 for none" {
	req GET '/api/v1/workflows/pg-walk/history?limit=4'
	assert_equal "$code" 200
	jqt '(.executions | length == 4) and (.nextCursor | type == "string")'
	jqt '.executions | all(.workflowId == "pg-walk")'
	jqt '.executions[0] | keys == ["completedAt", "createdAt", "error",
	    "id", "queued", "scheduledTime", "startedAt", "status", "trigger",
	    "workflowId", "workflowVersion"]'
	walk '/api/v1/workflows/pg-walk/history?status=FAILED' 3
	assert_equal "$(wc -l <"$BATS_TEST_TMPDIR/walk")" 20
	req GET /api/v1/workflows/no-such-flow/history
	assert_error not_found 404
	jqt '.error.field == "id"'
}

# A paused workflow's schedule lists no next fire times (and loom-sched
# does not fire it: tests/sched.bats).
@test "pause: marked paused, its schedule lists no fire times, triggers need ?force; unpause; idempotent" {
	apply pz
	req POST /api/v1/workflows/pz/pause
	assert_equal "$code" 200
	jqt '.id == "pz" and .paused == true and .changed == true'
	req POST /api/v1/workflows/pz/pause
	jqt '.paused == true and .changed == false'
	req GET /api/v1/workflows/pz
	jqt '.paused == true'
	req GET /api/v1/schedules
	jqt '.schedules[] | select(.workflowId == "pz") |
	    .paused == true and .nextFires == []'
	trigger pz
	assert_error conflict 409
	jqt '.error.message | test("paused")'
	trigger pz '?force=true'
	assert_equal "$code" 201
	trigger pz '?force=maybe'
	assert_error bad_request 400
	jqt '.error.field == "force"'
	req POST /api/v1/workflows/pz/unpause
	jqt '.paused == false and .changed == true'
	req GET /api/v1/schedules
	jqt '.schedules[] | select(.workflowId == "pz") |
	    .paused == false and (.nextFires | length) == 3'
	trigger pz
	assert_equal "$code" 201
	assert_equal "$(sql "SELECT string_agg(data->>'action', ',' ORDER BY id)
	    FROM events WHERE kind = 'workflow' AND data->>'workflow' = 'pz'")" \
	    "applied,paused,unpaused"
	req POST /api/v1/workflows/nope/pause
	assert_error not_found 404
	req GET /api/v1/workflows/pz/pause
	assert_error method_not_allowed 405
}

@test "delete: refused while runs are live; ?force cancels them; history stays" {
	apply dl
	trigger dl
	live=$id
	trigger dl
	done_id=$id
	sql "UPDATE executions SET status = 'SUCCESS', completed_at = now()
	    WHERE id = '$done_id'"
	req DELETE /api/v1/workflows/dl
	assert_error conflict 409
	jqt ".error.details == [\"$live\"]"
	req GET /api/v1/workflows/dl
	assert_equal "$code" 200

	req DELETE '/api/v1/workflows/dl?force=true'
	assert_equal "$code" 200
	jqt ".id == \"dl\" and .deleted == true and .cancelled == [\"$live\"]"
	assert_equal "$(sql "SELECT cancel_requested FROM executions WHERE id = '$live'")" t
	assert_equal "$(sql "SELECT cancel_requested FROM executions WHERE id = '$done_id'")" f

	# gone from the live routes...
	req GET /api/v1/workflows/dl
	assert_error not_found 404
	req GET /api/v1/workflows
	jqt '[.workflows[].id] | index("dl") == null'
	trigger dl
	assert_error not_found 404
	req POST /api/v1/workflows/dl/pause
	assert_error not_found 404
	req DELETE /api/v1/workflows/dl
	assert_error not_found 404
	# ...its past stays readable
	req GET "/api/v1/executions/$done_id"
	jqt '.status == "SUCCESS" and (.tasks | length == 4)'
	req GET /api/v1/workflows/dl/history
	jqt '.executions | length == 2'
	req GET /api/v1/workflows/dl/versions/1
	assert_equal "$code" 200
	req GET '/api/v1/executions?workflow=dl'
	jqt '.executions | length == 2'
	# ...but a deleted workflow does not run again through a retry
	req POST "/api/v1/executions/$done_id/retry" -H 'Content-Type: application/json' -d '{}'
	assert_error conflict 409
}

@test "delete: applying again brings it back, versions going on" {
	sql "UPDATE workflows SET paused = true WHERE id = 'dl'"
	apply dl
	assert_equal "$code" 201
	jqt '.id == "dl" and .version == 1 and .created == true'
	req GET /api/v1/workflows/dl
	jqt '.paused == false and .version == 1'
	req DELETE '/api/v1/workflows/dl?force=true'
	assert_equal "$code" 200
	apply dl 'description: changed while deleted'
	assert_equal "$code" 201
	jqt '.version == 2 and .created == true'
	req GET /api/v1/workflows/dl/versions
	jqt '[.versions[].version] == [2, 1]'
	assert_equal "$(sql "SELECT string_agg(data->>'action', ',' ORDER BY id)
	    FROM events WHERE kind = 'workflow' AND data->>'workflow' = 'dl'")" \
	    "applied,deleted,recreated,deleted,recreated"
}

@test "delete --force racing triggers: no run of it is left uncancelled" {
	apply race
	for i in $(seq 20); do
		curl -sS -o /dev/null -X POST \
		    "$LOOM_API/api/v1/workflows/race/trigger" 3>&- &
	done
	req DELETE '/api/v1/workflows/race?force=true'
	assert_equal "$code" 200
	wait
	# every run that made it in before the delete was cancelled with it;
	# every trigger after it found no workflow
	assert_equal "$(sql "SELECT count(*) FROM executions WHERE
	    workflow_id = 'race' AND NOT cancel_requested")" 0
}

@test "loom workflow pause|unpause|delete|history" {
	apply cli-life
	run "$LOOM" workflow pause cli-life
	assert_success
	assert_output 'cli-life: paused'
	run "$LOOM" workflow pause cli-life -o json
	assert_equal "$(jq -r .changed <<<"$output")" false
	run --separate-stderr "$LOOM" workflow trigger cli-life
	assert_failure 1
	[[ $stderr == *paused* ]]
	run "$LOOM" workflow trigger cli-life --force
	assert_success
	assert_output --regexp '^exec-[0-9a-f]{20}$'
	run "$LOOM" workflow unpause cli-life
	assert_output 'cli-life: unpaused'
	"$LOOM" workflow trigger cli-life >/dev/null
	"$LOOM" workflow trigger cli-life >/dev/null

	run "$LOOM" workflow history cli-life -o json
	assert_success
	assert_equal "${#lines[@]}" 3
	run "$LOOM" workflow history cli-life --limit 1 -o json
	assert_equal "${#lines[@]}" 1
	run "$LOOM" workflow history cli-life --limit 1 --all -o json
	assert_equal "${#lines[@]}" 3
	run "$LOOM" workflow history cli-life -o text --status pending --since 1h
	assert_line --index 0 --regexp '^ID +WORKFLOW +VERSION +STATUS'
	assert_equal "${#lines[@]}" 4

	run --separate-stderr "$LOOM" workflow delete cli-life
	assert_failure 1
	[[ $stderr == *"still PENDING or RUNNING"* ]]
	run "$LOOM" workflow delete cli-life --force
	assert_success
	assert_output --regexp '^cli-life: deleted; cancelling 3 executions:'
	run "$LOOM" workflow delete cli-life
	assert_failure 4
	run "$LOOM" workflow history cli-life -o json
	assert_equal "${#lines[@]}" 3
}

@test "loom execution list: --limit pages, --all follows them, --cursor resumes" {
	run "$LOOM" execution list --workflow pg-walk --limit 7 --all -o json
	assert_success
	assert_equal "${#lines[@]}" 30
	jq -r .id <<<"$output" >"$BATS_TEST_TMPDIR/all"
	cur=$(curl -sS "$LOOM_API/api/v1/executions?workflow=pg-walk&limit=25" |
	    jq -r .nextCursor)
	run "$LOOM" execution list --workflow pg-walk --cursor "$cur" -o json
	assert_equal "${#lines[@]}" 5
	assert_equal "$(jq -r .id <<<"$output")" "$(tail -5 "$BATS_TEST_TMPDIR/all")"
	run "$LOOM" execution list --workflow pg-walk --since "$(pg_walk_after 10)" \
	    --until 10m
	assert_equal "${#lines[@]}" 10
}

@test "schedules: scheduled workflows with their next fires; none while paused" {
	apply sch
	req GET /api/v1/schedules
	assert_equal "$code" 200
	jqt '[.schedules[] | select(.workflowId == "sch")] | length == 1'
	jqt '.schedules[] | select(.workflowId == "sch") |
	    .schedule == "0 3 * * *" and (.nextFires | length == 3) and
	    (.nextFires[0] | endswith("T03:00:00Z"))'
	req POST /api/v1/workflows/sch/pause
	req GET /api/v1/schedules
	jqt '.schedules[] | select(.workflowId == "sch") |
	    .paused == true and (.nextFires | length == 0)'
}

@test "schedules: zoned fire times agree across concurrent requests; an unknown zone is 422 at its line" {
	apply sch-kyiv "timezone: Europe/Kyiv"
	assert_equal "$code" 201
	apply sch-lhi "timezone: Australia/Lord_Howe"
	assert_equal "$code" 201
	for z in America/New_York Asia/Kolkata Pacific/Chatham \
	    America/Sao_Paulo Antarctica/Troll Pacific/Apia Europe/London \
	    Asia/Kathmandu; do
		apply "sch-${z//\//-}" "timezone: $z"
		assert_equal "$code" 201
	done
	filter='[.schedules[] | select(.workflowId | startswith("sch-")) |
	    {workflowId, timezone, nextFires}]'
	req GET /api/v1/schedules
	jq -c "$filter" <<<"$body" >"$BATS_TEST_TMPDIR/want"
	# 03:00 in Kyiv is 00:00 or 01:00 UTC; in Lord Howe 16:00 or 16:30.
	jqt '.schedules[] | select(.workflowId == "sch-kyiv") |
	    .timezone == "Europe/Kyiv" and (.nextFires | length == 3) and
	    all(.nextFires[]; test("T0[01]:00:00Z$"))'
	jqt '.schedules[] | select(.workflowId == "sch-lhi") |
	    all(.nextFires[]; test("T16:(00|30):00Z$"))'
	# loom-api's worker threads compute them at once.
	for i in $(seq 40); do
		curl -sS "$LOOM_API/api/v1/schedules" >"$BATS_TEST_TMPDIR/s.$i" &
	done
	wait
	for i in $(seq 40); do
		jq -c "$filter" "$BATS_TEST_TMPDIR/s.$i" >"$BATS_TEST_TMPDIR/got"
		cmp "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got"
	done

	apply sch-mars "timezone: Mars/Olympus_Mons"
	assert_equal "$code" 422
	line=$(($(wc -l <"$EXAMPLE") + 1))
	jqt ".error.details[0] == {\"file\": \"<request>\", \"line\": $line,
	    \"column\": 11, \"message\": \"unknown time zone 'Mars/Olympus_Mons' (expected an IANA name like Europe/Kyiv or UTC)\"}"
	sql "DELETE FROM workflows WHERE id LIKE 'sch-%'"
}

@test "CLI usage errors are exit 2" {
	for args in "workflow delete" "workflow pause a b" \
	    "workflow history" "workflow history x --limit 0" \
	    "workflow history x --all --cursor c" "workflow pause x --all" \
	    "workflow unpause x --force" "workflow list --force" \
	    "workflow delete x --status pending" \
	    "execution list --all --cursor c" "execution show x --all" \
	    "execution show x --since 1h"; do
		# shellcheck disable=SC2086
		run --separate-stderr "$LOOM" $args
		[ "$status" -eq 2 ] || {
			echo "loom $args: status $status: $stderr"
			return 1
		}
	done
	run "$LOOM" workflow history --help
	assert_success
	assert_line --partial 'loom workflow delete ID [--force]'
}
