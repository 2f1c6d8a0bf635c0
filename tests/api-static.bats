#!/usr/bin/env bats
# loom-api serving the web UI's files (loom-api(8), WEB UI): MIME types,
# caching, the SPA fallback that never shadows /api/, refused traversal,
# api.ui_dir / --ui-dir; and the trigger= filter of the executions list,
# which the UI's runs table uses.  A UI directory of its own is made here,
# so neither node nor a built UI is needed.

load helpers

setup_file() {
	loom_pg_start
	UIDIR=$LOOM_TEST_DIR/ui
	mkdir -p "$UIDIR/assets" "$UIDIR/.git"
	printf '<!doctype html><title>Link Loom</title>\n' >"$UIDIR/index.html"
	printf 'console.log(1)\n' >"$UIDIR/assets/index-Ab12Cd.js"
	printf 'body{}\n' >"$UIDIR/assets/index-Ef34.css"
	printf '<svg/>\n' >"$UIDIR/logo.svg"
	printf 'TOPSECRET-CONTENT\n' >"$LOOM_TEST_DIR/secret.txt"
	printf 'TOPSECRET-CONTENT\n' >"$UIDIR/.git/config"
	ln -s "$LOOM_TEST_DIR/secret.txt" "$UIDIR/leak.txt"
	export UIDIR
	loom_api_start --ui-dir "$UIDIR"
}

teardown_file() {
	loom_stop_all
}

setup() {
	BODY=$BATS_TEST_TMPDIR/body
}

# get PATH: "code content-type cache-control" of a GET, the body in $BODY.
get() {
	curl -sS --path-as-is -o "$BODY" -D "$BATS_TEST_TMPDIR/hdr" \
	    -w '%{http_code} %{content_type}' "$LOOM_API$1"
	printf ' %s' "$(grep -i '^cache-control:' "$BATS_TEST_TMPDIR/hdr" |
	    cut -d' ' -f2- | tr -d '\r')"
}

@test "static: / is index.html, not to be cached" {
	run get /
	assert_output '200 text/html; charset=utf-8 no-cache'
	run cat "$BODY"
	assert_output --partial '<title>Link Loom</title>'
	grep -q "web UI: serving $UIDIR" "$LOOM_API_LOG"
	run curl -sS -D - -o /dev/null "$LOOM_API/"
	assert_output --partial "Content-Security-Policy: default-src 'self';"
	assert_output --partial "frame-ancestors 'none'"
	assert_output --partial 'X-Content-Type-Options: nosniff'
}

@test "static: Last-Modified, and 304 when If-Modified-Since matches" {
	local lm
	lm=$(curl -sS -D - -o /dev/null "$LOOM_API/" |
	    sed -n 's/^Last-Modified: //Ip' | tr -d '\r')
	[ -n "$lm" ]
	run curl -sS -o /dev/null -w '%{http_code} %{size_download}' \
	    -H "If-Modified-Since: $lm" "$LOOM_API/runs/exec-1"
	assert_output '304 0'
	run curl -sS -o /dev/null -w '%{http_code}' \
	    -H 'If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT' "$LOOM_API/"
	assert_output 200
}

@test "static: hashed assets are kept for a year, with their MIME type" {
	run get /assets/index-Ab12Cd.js
	assert_output '200 text/javascript; charset=utf-8 public, max-age=31536000, immutable'
	run get /assets/index-Ef34.css
	assert_output '200 text/css; charset=utf-8 public, max-age=31536000, immutable'
	run get /logo.svg
	assert_output '200 image/svg+xml no-cache'
}

@test "static: a page of the UI gets index.html; a missing file is a JSON 404" {
	run get /runs/exec-0123/logs
	assert_output '200 text/html; charset=utf-8 no-cache'
	run get /workflows/daily-report/
	assert_output '200 text/html; charset=utf-8 no-cache'
	run get /assets/gone.js
	assert_output '404 application/json no-store'
}

@test "static: /api/ is never shadowed" {
	run get /api/v1/nosuch
	assert_output '404 application/json no-store'
	run jq -r .error.field "$BODY"
	assert_output path
	run get /api
	assert_output '404 application/json no-store'
	run get /api/v1/workflows
	assert_output '200 application/json no-store'
}

@test "static: traversal, dot files and links out of the directory are refused" {
	local p
	for p in /../secret.txt /%2e%2e/secret.txt /..%2fsecret.txt \
	    /assets/..%2f..%2fsecret.txt /.git/config /leak.txt //etc/passwd \
	    '/assets/%5c..%5csecret.txt'; do
		run get "$p"
		assert_output '404 application/json no-store'
		run cat "$BODY"
		refute_output --partial TOPSECRET-CONTENT
	done
}

@test "static: HEAD answers without a body; other methods are not served" {
	run curl -sS -I -o /dev/null -w '%{http_code} %{size_download}' \
	    "$LOOM_API/"
	assert_output '200 0'
	run curl -sS -X POST -o /dev/null -w '%{http_code} %{content_type}' \
	    "$LOOM_API/"
	assert_output '404 application/json'
}

@test "static: api.ui_dir = none serves no UI; LOOM_API_UI_DIR names one" {
	local api=$LOOM_API pid=$LOOM_API_PID
	LOOM_API_UI_DIR=none loom_api_start
	run curl -sS -o /dev/null -w '%{http_code}' "$LOOM_API/"
	assert_output 404
	grep -q 'web UI: off' "$LOOM_API_LOG"
	loom_api_stop
	LOOM_API_UI_DIR=$UIDIR loom_api_start
	run curl -sS -o /dev/null -w '%{http_code}' "$LOOM_API/runs"
	assert_output 200
	loom_api_stop
	LOOM_API_UI_DIR=$LOOM_TEST_DIR/nosuch loom_api_start
	run curl -sS -o /dev/null -w '%{http_code}' "$LOOM_API/"
	assert_output 404
	grep -q "web UI: off: $LOOM_TEST_DIR/nosuch" "$LOOM_API_LOG"
	loom_api_stop
	export LOOM_API=$api LOOM_API_PID=$pid
}

@test "static: with api.auth = token the files need no token, the API does" {
	local api=$LOOM_API pid=$LOOM_API_PID
	LOOM_API_AUTH=token loom_api_start --ui-dir "$UIDIR"
	run curl -sS -o /dev/null -w '%{http_code}' "$LOOM_API/runs"
	assert_output 200
	run curl -sS -o /dev/null -w '%{http_code}' "$LOOM_API/api/v1/workflows"
	assert_output 401
	loom_api_stop
	export LOOM_API=$api LOOM_API_PID=$pid
}

@test "executions: trigger= keeps the runs started that way" {
	printf 'id: trig\ntasks:\n  - id: a\n    type: shell\n    command: "true"\n' \
	    >"$BATS_TEST_TMPDIR/trig.yaml"
	apply "$BATS_TEST_TMPDIR/trig.yaml"
	local e1 e2
	e1=$(trigger trig)
	e2=$(trigger trig)
	sql "UPDATE executions SET trigger = 'schedule' WHERE id = '$e2'"
	run curl -sS "$LOOM_API/api/v1/executions?trigger=schedule"
	assert_equal "$(jq -r '[.executions[].id] | join(" ")' <<<"$output")" "$e2"
	run curl -sS "$LOOM_API/api/v1/workflows/trig/history?trigger=manual"
	assert_equal "$(jq -r '[.executions[].id] | join(" ")' <<<"$output")" "$e1"
	run curl -sS -w ' %{http_code}' "$LOOM_API/api/v1/executions?trigger=cron"
	assert_output --partial '"field":"trigger"'
	assert_output --partial ' 400'
}
