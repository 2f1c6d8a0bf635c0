#!/usr/bin/env bats
# Authentication and request signing, end to end (loom-api(8)
# AUTHENTICATION, loom-workflow(5) SIGNING): loom-api with api.auth = token
# on TCP and on a Unix socket, tokens made with `loom token --db` and
# through the API, every route of the route table walked with no token,
# bad tokens and each scope; the CLI's LOOM_TOKEN and cli.token; callback
# tokens that expired; and HMAC-signed callbacks to a backend that checks
# them (tests/backend -s), through `loom run` and through the daemons.

bats_require_minimum_version 1.5.0

load helpers

# Every route of cmd/loom-api/routes.c's table and the scope it needs: open,
# callback, read, operator, admin.  "route table" below checks that this
# list and the table agree, so a new route cannot be left out here.
ROUTES=(
	"GET /healthz open"
	"GET /readyz open"
	"GET /api/v1/workflows read"
	"POST /api/v1/workflows operator"
	"GET /api/v1/workflows/{id} read"
	"GET /api/v1/workflows/{id}/versions read"
	"GET /api/v1/workflows/{id}/versions/{n} read"
	"POST /api/v1/workflows/{id}/trigger operator"
	"POST /api/v1/workflows/{id}/backfill operator"
	"DELETE /api/v1/workflows/{id} operator"
	"POST /api/v1/workflows/{id}/pause operator"
	"POST /api/v1/workflows/{id}/unpause operator"
	"GET /api/v1/workflows/{id}/history read"
	"GET /api/v1/executions read"
	"GET /api/v1/executions/{id} read"
	"GET /api/v1/events read"
	"GET /api/v1/executions/{id}/events read"
	"GET /api/v1/executions/{id}/logs read"
	"POST /api/v1/executions/{id}/cancel operator"
	"POST /api/v1/executions/{id}/retry operator"
	"POST /api/v1/executions/{id}/tasks/{task}/rerun operator"
	"GET /api/v1/dead-letters read"
	"GET /api/v1/dead-letters/{id} read"
	"POST /api/v1/dead-letters/{id}/replay operator"
	"POST /api/v1/dead-letters/{id}/discard operator"
	"POST /api/v1/callbacks/{token} callback"
	"GET /api/v1/status read"
	"GET /api/v1/schedules read"
	"GET /api/v1/schedules/{id} read"
	"GET /api/v1/breakers read"
	"POST /api/v1/breakers/{target}/reset operator"
	"POST /api/v1/breakers/{scheme}//{host}/reset operator"
	"GET /api/v1/tokens admin"
	"POST /api/v1/tokens admin"
	"DELETE /api/v1/tokens/{id} admin"
	"POST /api/v1/workflows/{id}/trigger-tokens admin"
	"GET /api/v1/workflows/{id}/trigger-tokens admin"
	"DELETE /api/v1/workflows/{id}/trigger-tokens/{tokenId} admin"
)

setup_file() {
	loom_pg_start
	export SOCK=$LOOM_TEST_DIR/api.sock
	LOOM_API_AUTH=token loom_api_start --socket "$SOCK"
	export LOOM="$LOOM_BIN/loom" DB=$LOOM_DATABASE_URL
	# the first admin token: straight into the database
	ADMIN=$("$LOOM" token create first-admin --scope admin --db "$DB")
	OPERATOR=$("$LOOM" token create ci --scope operator --db "$DB")
	READER=$("$LOOM" token create dashboard --scope read --db "$DB")
	EXPIRED=$("$LOOM" token create old --scope admin --expires 1h \
	    --db "$DB")
	REVOKED=$("$LOOM" token create gone --scope admin --db "$DB")
	export ADMIN OPERATOR READER EXPIRED REVOKED
	psql -qAtX "$DB" -c "UPDATE api_tokens SET expires_at = now() - \
	    interval '1 second' WHERE name = 'old'"
	"$LOOM" token revoke "$(id_of "$REVOKED")" --db "$DB" >/dev/null
}

teardown_file() {
	loom_stop_all
}

# id_of TOKEN: the id part of loom_<id>_<secret>.
id_of() {
	local t=${1#loom_}
	echo "${t%%_*}"
}

# call [-s] METHOD PATH TOKEN [CURL-ARGS...]: sets $code, $body, $hdrs.
# -s goes through the Unix socket.  TOKEN "-" sends no Authorization.
call() {
	local via=(--url "$LOOM_API$2") out
	if [ "$1" = -s ]; then
		shift
		via=(--unix-socket "$SOCK" --url "http://localhost$2")
	fi
	local m=$1 tok=$3
	shift 3
	local auth=()
	[ "$tok" = - ] || auth=(-H "Authorization: Bearer $tok")
	hdrs=$BATS_TEST_TMPDIR/hdrs
	# -m: a granted event stream would never end; its status is what
	# counts
	out=$(curl -sS -m 3 -X "$m" -D "$hdrs" -w '\n%{http_code}' \
	    "${auth[@]}" "$@" "${via[@]}" 2>/dev/null) || true
	body=${out%$'\n'*}
	code=${out##*$'\n'}
}

# path_of PATTERN: a concrete path for a route pattern.
path_of() {
	local p=$1
	p=${p//\{n\}/1}
	p=$(sed -E 's/\{[A-Za-z]+\}/x/g' <<<"$p")
	echo "$p"
}

# rank SCOPE: read < operator < admin.
rank() {
	case $1 in
	read) echo 1 ;;
	operator) echo 2 ;;
	admin) echo 3 ;;
	*) echo 0 ;;
	esac
}

is_error() {	# CODE STATUS
	assert_equal "$code" "$2"
	jq -e --arg c "$1" '.error.code == $c and (.error.message | length > 0)' \
	    <<<"$body" >/dev/null || {
		echo "body: $body"
		return 1
	}
}

@test "route table: the list here is cmd/loom-api/routes.c's, and every route has a scope" {
	local src=$BATS_TEST_DIRNAME/../cmd/loom-api/routes.c table mine n
	table=$(awk '/api_routes\[\] = \{/,/^\};/' "$src" |
	    grep -oE '\{ *"[A-Z]+", *"[^"]+"' |
	    sed -E 's/\{ *"([A-Z]+)", *"([^"]+)"/\1 \2/' | sort)
	mine=$(printf '%s\n' "${ROUTES[@]}" | cut -d' ' -f1,2 | sort)
	assert_equal "$mine" "$table"
	n=$(awk '/api_routes\[\] = \{/,/^\};/' "$src" | tr -d '\n' |
	    grep -oE 'API_SCOPE_[A-Z]+' | grep -vc UNSET)
	assert_equal "$n" "${#ROUTES[@]}"
}

@test "every route but the open ones answers 401 without a token, or with a bad one" {
	local r m pat scope p tok
	local bad=(- "nope" "loom_000000000000_$(printf '0%.0s' {1..64})"
	    "$(id_of "$ADMIN" | sed 's/^/loom_/')_$(printf 'f%.0s' {1..64})"
	    "$EXPIRED" "$REVOKED")
	for r in "${ROUTES[@]}"; do
		read -r m pat scope <<<"$r"
		p=$(path_of "$pat")
		for tok in "${bad[@]}"; do
			call "$m" "$p" "$tok"
			case $scope in
			open)
				assert_equal "$m $p $code" "$m $p 200" ;;
			callback)
				# its own token decides (an empty body: 400)
				[ "$code" = 400 ] || [ "$code" = 404 ] || {
					echo "$m $p ${tok:0:12}: $code $body"
					return 1
				} ;;
			*)
				assert_equal "$m $p ${tok:0:12} $code" \
				    "$m $p ${tok:0:12} 401"
				is_error unauthorized 401
				grep -qi '^WWW-Authenticate: Bearer realm="loom"' \
				    "$hdrs"
				;;
			esac
		done
	done
}

@test "401 says why: revoked, expired, unknown, not Bearer" {
	call GET /api/v1/workflows "$REVOKED"
	is_error unauthorized 401
	assert_regex "$body" "revoked"
	grep -qi 'error="invalid_token"' "$hdrs"
	call GET /api/v1/workflows "$EXPIRED"
	assert_regex "$body" "expired"
	call GET /api/v1/workflows "loom_$(id_of "$ADMIN")_$(printf 'a%.0s' {1..64})"
	assert_regex "$body" "unknown token"
	call GET /api/v1/workflows - -H "Authorization: Basic YTpi"
	is_error unauthorized 401
	assert_regex "$body" "Bearer"
	call GET /api/v1/workflows -
	assert_regex "$body" "loom token create"
}

@test "each scope gets exactly its routes: 403 below it, served at or above it" {
	local r m pat scope p who tok
	for r in "${ROUTES[@]}"; do
		read -r m pat scope <<<"$r"
		[ "$(rank "$scope")" -gt 0 ] || continue
		p=$(path_of "$pat")
		for who in read operator admin; do
			case $who in
			read) tok=$READER ;;
			operator) tok=$OPERATOR ;;
			admin) tok=$ADMIN ;;
			esac
			call "$m" "$p" "$tok"
			if [ "$(rank "$who")" -lt "$(rank "$scope")" ]; then
				assert_equal "$who $m $p $code" "$who $m $p 403"
				is_error forbidden 403
				grep -qi "error=\"insufficient_scope\", scope=\"$scope\"" \
				    "$hdrs"
			else
				# served: whatever the handler says, not a refusal
				[ "$code" != 401 ] && [ "$code" != 403 ] &&
				    [ "$code" != 000 ] || {
					echo "$who $m $p: $code $body"
					return 1
				}
			fi
		done
	done
}

@test "tokens through the API: created once, listed without secrets, revoked" {
	call POST /api/v1/tokens "$ADMIN" -H 'Content-Type: application/json' \
	    --data '{"name":"deploy bot","scope":"operator","expiresIn":"30d"}'
	assert_equal "$code" 201
	jq -e '.token | test("^loom_[0-9a-f]{12}_[0-9a-f]{64}$")' <<<"$body"
	jq -e '.scope == "operator" and .name == "deploy bot" and .active and
	    (.expiresAt | type == "string") and .revokedAt == null' <<<"$body"
	local tok id
	tok=$(jq -r .token <<<"$body")
	id=$(jq -r .id <<<"$body")
	assert_equal "$(id_of "$tok")" "$id"
	grep -qi "^Location: /api/v1/tokens/$id" "$hdrs"
	# it works, and last use is recorded
	call POST /api/v1/workflows/none/trigger "$tok" \
	    -H 'Content-Type: application/json' --data '{}'
	assert_equal "$code" 404
	call GET /api/v1/tokens "$ADMIN"
	assert_equal "$code" 200
	jq -e --arg id "$id" '.tokens[] | select(.id == $id) |
	    .lastUsedAt != null' <<<"$body"
	# no secret or hash is ever listed
	! grep -q "$tok" <<<"$body"
	! jq -e '.tokens[] | has("token") or has("hash")' <<<"$body"
	# only the hash is stored
	run psql -qAtX "$DB" -c "SELECT hash FROM api_tokens WHERE id = '$id'"
	assert_output "$(printf '%s' "$tok" | sha256sum | cut -d' ' -f1)"
	# revoke: at once, and again is the same answer
	call DELETE "/api/v1/tokens/$id" "$ADMIN"
	assert_equal "$code" 200
	jq -e '.active == false and (.revokedAt | type == "string")' <<<"$body"
	local first=$body
	call DELETE "/api/v1/tokens/$id" "$ADMIN"
	assert_equal "$code" 200
	assert_equal "$(jq -r .revokedAt <<<"$body")" \
	    "$(jq -r .revokedAt <<<"$first")"
	call GET /api/v1/workflows "$tok"
	is_error unauthorized 401
	call DELETE /api/v1/tokens/000000000000 "$ADMIN"
	is_error not_found 404
}

@test "token creation checks its body" {
	local b
	for b in '{"scope":"read"}' '{"name":""}' '{"name":"a","scope":"root"}' \
	    '{"name":"a","expiresIn":"soon"}' '{"name":"a","expiresIn":"0s"}' \
	    '{"name":"a","extra":1}' '{"name":5}'; do
		call POST /api/v1/tokens "$ADMIN" \
		    -H 'Content-Type: application/json' --data "$b"
		assert_equal "$b $code" "$b 422"
	done
	call POST /api/v1/tokens "$ADMIN" -H 'Content-Type: application/json' \
	    --data '[1]'
	assert_equal "$code" 400
	# the default scope is read
	call POST /api/v1/tokens "$ADMIN" -H 'Content-Type: application/json' \
	    --data '{"name":"defaults"}'
	assert_equal "$code" 201
	jq -e '.scope == "read" and .expiresAt == null' <<<"$body"
}

@test "Unix socket: the API's own uid (root here) is trusted without a token" {
	call -s GET /api/v1/tokens -
	assert_equal "$code" 200
	call -s POST /api/v1/tokens - -H 'Content-Type: application/json' \
	    --data '{"name":"from-socket","scope":"read"}'
	assert_equal "$code" 201
	# a token sent anyway does not lower the trust
	call -s GET /api/v1/tokens "$READER"
	assert_equal "$code" 200
}

@test "Unix socket: another uid needs a token; api.trusted_uids and socket_trust" {
	[ "$(id -u)" = 0 ] || skip "needs root to act as another uid"
	command -v setpriv >/dev/null || skip "no setpriv"
	local sock=$LOOM_TEST_DIR/other.sock pid as=(setpriv --reuid=65534
	    --regid=65534 --clear-groups)
	LOOM_API_AUTH=token "$LOOM_BIN/loom-api" --listen none --socket "$sock" \
	    2>"$LOOM_TEST_DIR/other.log" 3>&- &
	pid=$!
	wait_for test -S "$sock"
	chmod 666 "$sock"
	run "${as[@]}" curl -sS -o /dev/null -w '%{http_code}' \
	    --unix-socket "$sock" http://localhost/api/v1/workflows
	assert_output 401
	run "${as[@]}" curl -sS -o /dev/null -w '%{http_code}' \
	    -H "Authorization: Bearer $READER" \
	    --unix-socket "$sock" http://localhost/api/v1/workflows
	assert_output 200
	kill "$pid"
	wait "$pid" || true

	LOOM_API_AUTH=token LOOM_API_TRUSTED_UIDS=nobody \
	    "$LOOM_BIN/loom-api" --listen none --socket "$sock" \
	    2>>"$LOOM_TEST_DIR/other.log" 3>&- &
	pid=$!
	wait_for test -S "$sock"
	chmod 666 "$sock"
	run "${as[@]}" curl -sS -o /dev/null -w '%{http_code}' \
	    --unix-socket "$sock" http://localhost/api/v1/tokens
	assert_output 200
	kill "$pid"
	wait "$pid" || true

	LOOM_API_AUTH=token LOOM_API_SOCKET_TRUST=none \
	    "$LOOM_BIN/loom-api" --listen none --socket "$sock" \
	    2>>"$LOOM_TEST_DIR/other.log" 3>&- &
	pid=$!
	wait_for test -S "$sock"
	run curl -sS -o /dev/null -w '%{http_code}' \
	    --unix-socket "$sock" http://localhost/api/v1/workflows
	assert_output 401
	kill "$pid"
	wait "$pid" || true
}

@test "api.auth and api.socket_trust are checked by loom-api -n" {
	run env LOOM_API_AUTH=basic "$LOOM_BIN/loom-api" -n
	assert_failure 1
	assert_output --partial "api.auth 'basic' must be none or token"
	run env LOOM_API_SOCKET_TRUST=all "$LOOM_BIN/loom-api" -n
	assert_failure 1
	assert_output --partial "api.socket_trust"
	run env LOOM_API_TRUSTED_UIDS=no-such-user-here "$LOOM_BIN/loom-api" -n
	assert_failure 1
	run env LOOM_API_AUTH=token LOOM_API_TRUSTED_UIDS="0, 1000" \
	    "$LOOM_BIN/loom-api" -n
	assert_success
	# no auth on a non-loopback address is worth a warning
	run env LOOM_API_LISTEN=0.0.0.0:8080 "$LOOM_BIN/loom-api" -n
	assert_success
	assert_output --partial "anyone who can reach"
}

@test "the CLI sends \$LOOM_TOKEN, or cli.token from the config" {
	run -1 env -u LOOM_TOKEN "$LOOM" workflow list
	assert_output --partial "needs a valid bearer token"
	run -0 env LOOM_TOKEN="$READER" "$LOOM" workflow list
	run -1 env LOOM_TOKEN="$READER" "$LOOM" token list
	assert_output --partial "needs a token of scope admin"
	run -0 env LOOM_TOKEN="$ADMIN" "$LOOM" token list -o json
	jq -se 'map(.name) | index("first-admin") != null' <<<"$output"
	printf '[cli]\ntoken = %s\n' "$ADMIN" >"$BATS_TEST_TMPDIR/cli.conf"
	run -0 env -u LOOM_TOKEN LOOM_CONFIG="$BATS_TEST_TMPDIR/cli.conf" \
	    "$LOOM" token list
	assert_output --partial "first-admin"
	# the environment wins over the file
	run -1 env LOOM_TOKEN="$READER" LOOM_CONFIG="$BATS_TEST_TMPDIR/cli.conf" \
	    "$LOOM" token list
	run -2 env LOOM_TOKEN="$(printf 'a\nb')" "$LOOM" workflow list
}

@test "loom token: create, list and revoke through the API and with --db" {
	local tok id
	tok=$(LOOM_TOKEN=$ADMIN "$LOOM" token create nightly --scope operator \
	    --expires 12h 2>"$BATS_TEST_TMPDIR/err")
	[[ $tok =~ ^loom_[0-9a-f]{12}_[0-9a-f]{64}$ ]]
	grep -q "shown only this once" "$BATS_TEST_TMPDIR/err"
	id=$(id_of "$tok")
	run -0 env LOOM_TOKEN="$ADMIN" "$LOOM" token list -o text
	assert_line --regexp "^$id +nightly +operator .* active$"
	run -0 env LOOM_TOKEN="$ADMIN" "$LOOM" token revoke "$id"
	assert_output "revoked token $id (nightly)"
	run -0 "$LOOM" token list --db "$DB" -o json
	jq -se --arg id "$id" 'map(select(.id == $id))[0].active == false' \
	    <<<"$output"
	run -4 "$LOOM" token revoke 000000000000 --db "$DB"
	run -4 env LOOM_TOKEN="$ADMIN" "$LOOM" token revoke 000000000000
	# usage errors
	run -2 "$LOOM" token create
	run -2 "$LOOM" token create x --scope root
	run -2 "$LOOM" token create x --expires soon
	run -2 "$LOOM" token list --scope admin
	run -2 "$LOOM" token frobnicate
	run -0 "$LOOM" token --help
	assert_output --partial "--db URL"
	run -3 "$LOOM" token list --db "postgresql://127.0.0.1:1/none"
}

@test "callbacks: unknown tokens are 404; finished or timed-out attempts are 409" {
	local wf=$BATS_TEST_TMPDIR/cb.yaml
	printf 'id: cb\ntasks:\n  - {id: t, url: "http://127.0.0.1:9/x"}\n' >"$wf"
	call POST /api/v1/workflows "$OPERATOR" \
	    -H 'Content-Type: application/yaml' --data-binary "@$wf"
	assert_equal "$code" 201
	psql -qAtX -v ON_ERROR_STOP=1 "$DB" <<'EOF'
INSERT INTO executions (id, workflow_id, workflow_version, status)
    VALUES ('exec-cb0000000000000000001', 'cb', 1, 'RUNNING'),
           ('exec-cb0000000000000000002', 'cb', 1, 'RUNNING'),
           ('exec-cb0000000000000000003', 'cb', 1, 'SUCCESS');
INSERT INTO run_tasks (execution_id, task_id, state, attempt, started_at,
    callback_token, awaiting_callback, lease_until) VALUES
    ('exec-cb0000000000000000001', 't', 'RUNNING', 1, now() - interval '1h',
     'exec-cb0000000000000000001~t~expired', true, now() - interval '1 second'),
    ('exec-cb0000000000000000002', 't', 'RUNNING', 1, now(),
     'exec-cb0000000000000000002~t~waiting', true, now() + interval '1 hour'),
    ('exec-cb0000000000000000003', 't', 'SUCCESS', 1, now(),
     'exec-cb0000000000000000003~t~done', false, NULL);
EOF
	local ok='{"status":"SUCCESS","output":{"n":1}}'
	# callbacks need no bearer token, and a bearer token does not help
	call POST /api/v1/callbacks/tok-unknown "$ADMIN" \
	    -H 'Content-Type: application/json' --data "$ok"
	is_error not_found 404
	call POST /api/v1/callbacks/exec-cb0000000000000000001~t~expired - \
	    -H 'Content-Type: application/json' --data "$ok"
	is_error conflict 409
	assert_regex "$body" "timed out"
	call POST /api/v1/callbacks/exec-cb0000000000000000003~t~done - \
	    -H 'Content-Type: application/json' --data "$ok"
	is_error conflict 409
	call POST /api/v1/callbacks/exec-cb0000000000000000002~t~waiting - \
	    -H 'Content-Type: application/json' --data "$ok"
	assert_equal "$code" 200
	# accepted once; the same token again is a conflict
	call POST /api/v1/callbacks/exec-cb0000000000000000002~t~waiting - \
	    -H 'Content-Type: application/json' --data "$ok"
	is_error conflict 409
	run psql -qAtX "$DB" -c "SELECT state FROM run_tasks WHERE \
	    callback_token IN ('exec-cb0000000000000000001~t~expired',
	    'exec-cb0000000000000000002~t~waiting') ORDER BY 1"
	assert_output $'RUNNING\nSUCCESS'
	psql -qAtX "$DB" -c "DELETE FROM executions WHERE id LIKE 'exec-cb%'"
}

# signed_backend SECRET: a test backend that checks signatures; sets SB
# (its task URL base) and SB_LOG.
signed_backend() {
	local fifo=$LOOM_TEST_DIR/sb.port word port
	SB_LOG=$LOOM_TEST_DIR/signed-calls.jsonl
	rm -f "$fifo"
	mkfifo "$fifo"
	"$LOOM_TEST_BACKEND" -p 0 -l "$SB_LOG" -s "$1" >"$fifo" \
	    2>"$LOOM_TEST_DIR/sb.log" 3>&- &
	echo "$!" >"$LOOM_TEST_DIR/sb.pid"
	read -r -t 10 word port <"$fifo"
	[ "$word" = port ]
	rm -f "$fifo"
	SB=http://127.0.0.1:$port/api/tasks
}

signed_workflow() {	# FILE ID
	cat >"$1" <<EOF
id: $2
signing: {secretEnv: LOOM_TEST_SECRET}
tasks:
  - id: first
    url: $SB/first
    retryPolicy: {maxAttempts: 2, initialDelay: 100ms}
  - id: second
    method: PUT
    url: $SB/second
    dependsOn: [first]
    retryPolicy: {maxAttempts: 2, initialDelay: 100ms}
EOF
}

@test "signing (loom run): right secret succeeds, wrong one is HttpClientError, none is ValidationException" {
	local wf=$BATS_TEST_TMPDIR/signed.yaml n
	signed_backend "s3cret value"
	signed_workflow "$wf" signed-local
	run -0 env LOOM_TEST_SECRET="s3cret value" "$LOOM" run "$wf"
	assert_line --partial '"event":"finish"'
	assert_line --partial '"status":"SUCCESS"'
	assert_equal "$(jq -r 'select(.path) | .signature' "$SB_LOG" |
	    sort | uniq -c | awk '{print $1, $2}')" "2 ok"
	# what the backend saw: the headers of loom-workflow(5) SIGNING
	jq -e -s 'all(.[]; .headers["x-loom-signature"] | test("^v1=[0-9a-f]{64}$"))
	    and all(.[]; .headers["x-loom-timestamp"] | test("^[0-9]+$"))' \
	    "$SB_LOG"

	: >"$SB_LOG"
	run -1 env LOOM_TEST_SECRET=wrong "$LOOM" run "$wf"
	assert_output --partial "HttpClientError"
	assert_equal "$(jq -r .signature "$SB_LOG")" "bad"	# not retried

	: >"$SB_LOG"
	run -1 env -u LOOM_TEST_SECRET "$LOOM" run "$wf"
	assert_output --partial "ValidationException"
	assert_output --partial 'signing secret $LOOM_TEST_SECRET is not set on this executor'
	n=$(wc -l <"$SB_LOG")
	assert_equal "$n" 0	# nothing went out unsigned
	kill "$(cat "$LOOM_TEST_DIR/sb.pid")"
}

@test "signing through the daemons: the secret comes from loom-exec's environment only" {
	local wf=$BATS_TEST_TMPDIR/signed-db.yaml id st
	signed_backend "db secret"
	signed_workflow "$wf" signed-db
	LOOM_TEST_SECRET="db secret" loom_daemon_start loom-exec
	loom_daemon_start loom-engine
	run -0 env LOOM_TOKEN="$OPERATOR" "$LOOM" workflow apply "$wf"
	id=$(LOOM_TOKEN=$OPERATOR "$LOOM" workflow trigger signed-db -o json |
	    jq -r .executionId)
	run -0 env LOOM_TOKEN="$READER" "$LOOM" execution show "$id" --wait \
	    --timeout 60s -o json
	st=$(jq -r .status <<<"$output")
	assert_equal "$st" SUCCESS
	assert_equal "$(jq -r 'select(.path) | .signature' "$SB_LOG" |
	    sort -u)" ok
	# the database holds the variable's name, never the secret
	run psql -qAtX "$DB" -c "SELECT count(*) FROM workflow_versions WHERE \
	    definition LIKE '%db secret%' OR spec::text LIKE '%db secret%'"
	assert_output 0
	run psql -qAtX "$DB" -c "SELECT request->'task'->'signing' FROM \
	    run_tasks WHERE execution_id = '$id' AND task_id = 'first'"
	assert_output '{"secretEnv": "LOOM_TEST_SECRET"}'
	kill "$(cat "$LOOM_TEST_DIR/sb.pid")"
}
