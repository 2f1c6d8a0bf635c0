#!/usr/bin/env bats
# The web UI (ui/, issue 18): its Vitest unit and component tests, and the
# end-to-end test (ui/e2e/run.mjs) that drives Debian's Chromium with
# playwright-core against a real stack: PostgreSQL, loom-api serving the
# built UI with api.auth = token, loom-engine, loom-exec and the test
# backend.  Screenshots of every page land in $BUILD/ui-shots.
#
# Needs node_modules (make deps, or npm ci in ui/), the built UI (make) and
# /usr/bin/chromium; without them the tests are skipped with the reason,
# except under LOOM_UI_REQUIRED=1.

load helpers

UI=$BATS_TEST_DIRNAME/../ui

ui_ready() {
	local why=
	command -v node >/dev/null || why="node is not installed"
	[ -n "$why" ] || [ -d "$UI/node_modules" ] ||
	    why="ui/node_modules is missing (make deps)"
	[ -n "$why" ] || [ -f "$UI/dist/index.html" ] ||
	    why="the UI is not built (make)"
	[ -n "$why" ] || [ -x "${CHROMIUM:-/usr/bin/chromium}" ] ||
	    why="no chromium (make deps)"
	if [ -n "$why" ]; then
		[ "${LOOM_UI_REQUIRED:-0}" != 1 ] || fail "$why"
		skip "$why"
	fi
}

setup_file() {
	loom_pg_start
	LOOM_TOKEN=$("$LOOM_BIN/loom" token create ui-e2e --scope admin \
	    --db "$LOOM_DATABASE_URL")
	export LOOM_TOKEN
	LOOM_API_AUTH=token loom_api_start --ui-dir "$UI/dist"
	loom_backend_start
	loom_daemon_start loom-engine
	loom_daemon_start loom-exec
}

teardown_file() {
	loom_stop_all
}

@test "ui: vitest (layout, Gantt geometry, filters, SSE, components)" {
	ui_ready
	cd "$UI"
	run npx vitest run --reporter=dot
	[ "$status" -eq 0 ] || { echo "$output"; false; }
}

@test "ui: loom-api serves the built UI at / with the SPA fallback" {
	ui_ready
	run curl -sS -o /dev/null -w '%{http_code} %{content_type}' "$LOOM_API/"
	assert_output '200 text/html; charset=utf-8'
	run curl -sS -o /dev/null -w '%{http_code} %{content_type}' \
	    "$LOOM_API/runs/exec-x/logs"
	assert_output '200 text/html; charset=utf-8'
	# the API still wants its token
	run curl -sS -o /dev/null -w '%{http_code}' "$LOOM_API/api/v1/workflows"
	assert_output 401
}

@test "ui: end to end in Chromium (dashboard, live DAG, Gantt, logs, DLQ, wrong token)" {
	ui_ready
	local build=${BUILD:-build}
	case $build in /*) ;; *) build=$BATS_TEST_DIRNAME/../$build ;; esac
	export SHOTS=$build/ui-shots WORK=$LOOM_TEST_DIR
	# The test stops loom-api to see the UI lose and regain its connection,
	# then starts it again on the same port with this command (and stops it
	# at its end); teardown_file's loom_api_stop finds the first one gone.
	export LOOM_API_PID LOOM_API_RESTART="exec env LOOM_API_AUTH=token \
	    '$LOOM_BIN/loom-api' --listen '${LOOM_API#http://}' \
	    --ui-dir '$UI/dist' 2>>'$LOOM_TEST_DIR/loom-api.restarted.log'"
	rm -rf "$SHOTS"
	cd "$UI"
	run timeout 240 node e2e/run.mjs
	echo "$output"
	[ "$status" -eq 0 ] || { loom_show_logs; false; }
}
