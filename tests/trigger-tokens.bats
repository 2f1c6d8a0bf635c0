#!/usr/bin/env bats
# Trigger tokens (loom-api(8) AUTHENTICATION, TRIGGER TOKENS): a token made
# for one workflow that a third-party webhook uses to start runs of that
# workflow and nothing else.  loom-api runs with api.auth = token; the
# webhook is plain curl with the token, as GitHub or a CI would send it.
# Also: the routes that manage them (admin), `loom workflow trigger-token`,
# `loom token list` showing them, `loom workflow trigger --token`, and
# api.auth = none, where a trigger token is not needed or checked.

bats_require_minimum_version 1.5.0

load helpers

setup_file() {
	loom_pg_start
	LOOM_API_AUTH=token loom_api_start
	export LOOM="$LOOM_BIN/loom" DB=$LOOM_DATABASE_URL
	ADMIN=$("$LOOM" token create admin --scope admin --db "$DB")
	OPERATOR=$("$LOOM" token create ci --scope operator --db "$DB")
	export ADMIN OPERATOR
	for id in hooked other; do
		printf 'id: %s\nparams: {ref: {default: none}}\ntasks:\n  - {id: t, command: "true"}\n' \
		    "$id" >"$LOOM_TEST_DIR/$id.yaml"
		curl -sSf -o /dev/null -H "Authorization: Bearer $OPERATOR" \
		    -H 'Content-Type: application/yaml' \
		    --data-binary "@$LOOM_TEST_DIR/$id.yaml" \
		    "$LOOM_API/api/v1/workflows"
	done
}

teardown_file() {
	# the second loom-api (auth none) of the last test
	if [ -f "$LOOM_TEST_DIR/api2.pid" ]; then
		LOOM_API_PID=$(cat "$LOOM_TEST_DIR/api2.pid") loom_api_stop
	fi
	loom_stop_all
}

# call METHOD PATH TOKEN [CURL-ARGS...]: sets $code and $body.
call() {
	local m=$1 p=$2 tok=$3 out
	shift 3
	out=$(curl -sS -X "$m" -w '\n%{http_code}' \
	    -H "Authorization: Bearer $tok" "$@" "$LOOM_API$p")
	body=${out%$'\n'*}
	code=${out##*$'\n'}
}

# mint WORKFLOW [BODY]: a new trigger token's JSON (as admin).
mint() {
	call POST "/api/v1/workflows/$1/trigger-tokens" "$ADMIN" \
	    -H 'Content-Type: application/json' --data "${2:-{\}}"
	assert_equal "$code" 201
	echo "$body"
}

@test "a webhook with a trigger token starts a run with the given input" {
	tok=$(mint hooked '{"name":"github","expiresIn":"30d"}')
	jq -e '.workflowId == "hooked" and .name == "github" and
	    .scope == "trigger" and (.token | startswith("loom_")) and
	    (.id | length) == 12 and (.createdAt | length) > 0 and
	    (.expiresAt | length) > 0 and .active' <<<"$tok"
	T=$(jq -r .token <<<"$tok")
	# a third party's POST, nothing Link Loom specific but the token
	run -0 curl -sS -w '\n%{http_code}' -X POST \
	    -H "Authorization: Bearer $T" -H 'Content-Type: application/json' \
	    --data '{"input":{"ref":"refs/heads/main"}}' \
	    "$LOOM_API/api/v1/workflows/hooked/trigger"
	assert_equal "${output##*$'\n'}" 201
	E=$(jq -r .executionId <<<"${output%$'\n'*}")
	assert_equal "$(sql "SELECT params->>'ref' || ' ' || workflow_id
	    FROM executions WHERE id = '$E'")" "refs/heads/main hooked"
	echo "$T" >"$LOOM_TEST_DIR/hooked.token"
}

@test "the same token is 403 on another workflow, on GET, on apply, on token routes" {
	T=$(cat "$LOOM_TEST_DIR/hooked.token")
	call POST /api/v1/workflows/other/trigger "$T" \
	    -H 'Content-Type: application/json' --data '{}'
	assert_equal "$code" 403
	jq -e '.error.code == "forbidden" and
	    (.error.message | contains("trigger token")) and
	    (.error.message | contains("/api/v1/workflows/hooked/trigger"))' \
	    <<<"$body"
	call GET /api/v1/workflows/hooked "$T"
	assert_equal "$code" 403
	call GET /api/v1/executions "$T"
	assert_equal "$code" 403
	call POST /api/v1/workflows "$T" -H 'Content-Type: application/yaml' \
	    --data-binary "@$LOOM_TEST_DIR/hooked.yaml"
	assert_equal "$code" 403
	jq -e '.error.code == "forbidden"' <<<"$body"
	call GET /api/v1/workflows/hooked/trigger-tokens "$T"
	assert_equal "$code" 403
	call POST /api/v1/workflows/hooked/pause "$T"
	assert_equal "$code" 403
	# pausing is the operator's call: no forcing past it
	call POST '/api/v1/workflows/hooked/trigger?force=true' "$T" \
	    -H 'Content-Type: application/json' --data '{}'
	assert_equal "$code" 403
	jq -e '.error.field == "force"' <<<"$body"
	# and nothing was started by the refusals
	assert_equal "$(sql "SELECT count(*) FROM executions
	    WHERE workflow_id = 'other'")" 0
}

@test "listed without the secret; revoked: 401; revoking twice is harmless" {
	T=$(cat "$LOOM_TEST_DIR/hooked.token")
	id=${T#loom_}
	id=${id%%_*}
	call GET /api/v1/workflows/hooked/trigger-tokens "$ADMIN"
	assert_equal "$code" 200
	jq -e --arg id "$id" '.tokens | length == 1 and .[0].id == $id and
	    .[0].workflowId == "hooked" and (.[0] | has("token") | not) and
	    (.[0] | has("hash") | not)' <<<"$body"
	[[ $body != *"${T#loom_*_}"* ]]
	# the other workflow's list does not show it; an unknown one is 404
	call GET /api/v1/workflows/other/trigger-tokens "$ADMIN"
	jq -e '.tokens == []' <<<"$body"
	call GET /api/v1/workflows/nope/trigger-tokens "$ADMIN"
	assert_equal "$code" 404
	# revoked through another workflow: not found, still active
	call DELETE "/api/v1/workflows/other/trigger-tokens/$id" "$ADMIN"
	assert_equal "$code" 404
	call DELETE "/api/v1/workflows/hooked/trigger-tokens/$id" "$ADMIN"
	assert_equal "$code" 200
	jq -e '.active == false and (.revokedAt | length) > 0' <<<"$body"
	call DELETE "/api/v1/workflows/hooked/trigger-tokens/$id" "$ADMIN"
	assert_equal "$code" 200
	call POST /api/v1/workflows/hooked/trigger "$T" \
	    -H 'Content-Type: application/json' --data '{}'
	assert_equal "$code" 401
	jq -e '.error.code == "unauthorized" and
	    (.error.message | contains("revoked"))' <<<"$body"
}

@test "managing trigger tokens needs admin; bodies are checked" {
	call POST /api/v1/workflows/hooked/trigger-tokens "$OPERATOR" \
	    -H 'Content-Type: application/json' --data '{}'
	assert_equal "$code" 403
	call POST /api/v1/workflows/nope/trigger-tokens "$ADMIN" \
	    -H 'Content-Type: application/json' --data '{}'
	assert_equal "$code" 404
	jq -e '.error.code == "not_found"' <<<"$body"
	for b in '{"scope":"admin"}' '{"name":""}' '{"expiresIn":"soon"}' \
	    '{"name":7}' '[]'; do
		call POST /api/v1/workflows/hooked/trigger-tokens "$ADMIN" \
		    -H 'Content-Type: application/json' --data "$b"
		[ "$code" = 422 ] || [ "$code" = 400 ] || {
			echo "$b: $code $body"
			return 1
		}
	done
	# no body at all: the defaults, no expiry
	call POST /api/v1/workflows/hooked/trigger-tokens "$ADMIN"
	assert_equal "$code" 201
	jq -e '.name == "webhook" and .expiresAt == null' <<<"$body"
	# a deleted workflow takes no new one
	call POST /api/v1/workflows "$OPERATOR" \
	    -H 'Content-Type: application/yaml' --data-binary \
	    $'id: gone\ntasks:\n  - {id: t, command: "true"}\n'
	call DELETE /api/v1/workflows/gone "$OPERATOR"
	assert_equal "$code" 200
	call POST /api/v1/workflows/gone/trigger-tokens "$ADMIN"
	assert_equal "$code" 404
	# and the schema refuses a trigger token without a workflow
	run ! sql "INSERT INTO api_tokens (id, name, scope, hash)
	    VALUES ('aaaaaaaaaaaa', 'x', 'trigger', 'h')"
}

@test "loom workflow trigger-token create, list, revoke; loom token list shows the workflow" {
	export LOOM_TOKEN=$ADMIN
	run -0 --separate-stderr "$LOOM" workflow trigger-token create hooked \
	    --name ci-hook --expires 7d
	T=$output
	[[ $T == loom_* ]]
	assert_equal "$(wc -l <<<"$T")" 1
	[[ $stderr == *"scope trigger of hooked"* ]]
	id=${T#loom_}
	id=${id%%_*}
	run -0 "$LOOM" workflow trigger-token list hooked -o text
	assert_line --regexp "^$id +ci-hook +trigger +hooked .* active$"
	refute_output --partial "${T#loom_*_}"
	run -0 "$LOOM" workflow trigger-token list hooked -o json
	jq -se --arg id "$id" 'map(select(.id == $id))[0].workflowId ==
	    "hooked"' <<<"$output"
	run -0 "$LOOM" token list -o text
	assert_line --regexp "^$id +ci-hook +trigger +hooked "
	assert_line --regexp "^[0-9a-f]+ +admin +admin +- "
	run -0 "$LOOM" workflow trigger-token create hooked -o json
	jq -e '.workflowId == "hooked" and (.token | startswith("loom_"))' \
	    <<<"$output"

	# loom workflow trigger --token: the call's own token
	run -0 env -u LOOM_TOKEN "$LOOM" workflow trigger hooked --token "$T" \
	    --param ref=v1
	E=$output
	assert_equal "$(sql "SELECT params->>'ref' FROM executions
	    WHERE id = '$E'")" v1
	run -1 env -u LOOM_TOKEN "$LOOM" workflow trigger other --token "$T"
	assert_output --partial "trigger token"
	run -2 "$LOOM" workflow list --token "$T"

	run -0 "$LOOM" workflow trigger-token revoke hooked "$id"
	assert_output "revoked token $id (ci-hook)"
	run -1 env -u LOOM_TOKEN "$LOOM" workflow trigger hooked --token "$T"
	assert_output --partial revoked
	run -4 "$LOOM" workflow trigger-token revoke hooked 000000000000
	run -4 "$LOOM" workflow trigger-token list nope
	# usage errors
	run -2 "$LOOM" workflow trigger-token
	run -2 "$LOOM" workflow trigger-token create
	run -2 "$LOOM" workflow trigger-token frob hooked
	run -2 "$LOOM" workflow trigger-token revoke hooked
	run -2 "$LOOM" workflow trigger-token list hooked --name x
	run -2 "$LOOM" workflow trigger-token create hooked --expires soon
}

@test "with api.auth = none a trigger token is neither needed nor checked" {
	T=$(jq -r .token <<<"$(mint hooked)")
	loom_api_stop
	loom_api_start
	echo "$LOOM_API_PID" >"$LOOM_TEST_DIR/api2.pid"
	run -0 curl -sSf -X POST -H "Authorization: Bearer $T" \
	    -H 'Content-Type: application/json' --data '{"input":{}}' \
	    "$LOOM_API/api/v1/workflows/other/trigger"
	run -0 curl -sSf -X POST -H 'Content-Type: application/json' \
	    --data '{"input":{}}' "$LOOM_API/api/v1/workflows/hooked/trigger"
}
