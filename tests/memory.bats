#!/usr/bin/env bats
# Memory: once a large workload is over, every daemon gives back what it
# no longer needs (loop.h: malloc_trim() when the loop goes quiet) and
# keeps only bounded caches.  contrib/bench/bench-memory.sh runs the same
# check on 50,000 tasks.

load helpers

setup_file() {
	loom_pg_start
	loom_backend_start
	loom_api_start
	export API_PID=$LOOM_API_PID
	loom_daemon_start loom-engine
	export ENGINE_PID=$LOOM_DAEMON_PID
	LOOM_EXEC_CONCURRENCY=64 loom_daemon_start loom-exec
	export EXEC_PID=$LOOM_DAEMON_PID
}

teardown_file() {
	loom_stop_all
}

# rss_mb PID: its resident set in MB
rss_mb() {
	awk '$1 == "VmRSS:" { print int($2 / 1024) }' "/proc/$1/status"
}

# all_under MB: loom-api, loom-engine and loom-exec each hold less.
all_under() {
	local p
	for p in "$API_PID" "$ENGINE_PID" "$EXEC_PID"; do
		[ "$(rss_mb "$p")" -lt "$1" ] || return 1
	done
}

# fanout ID N: a workflow of N independent tasks
fanout() {
	echo "id: $1"
	echo "tasks:"
	for ((i = 0; i < $2; i++)); do
		echo "  - id: t$i"
		echo "    url: $BACKEND_URL/api/tasks/t"
		echo "    timeout: 30s"
	done
}

@test "every daemon is back under 50 MB once a 10,000-task run is over" {
	local id
	fanout wide 10000 >"$BATS_TEST_TMPDIR/wide.yaml"
	apply "$BATS_TEST_TMPDIR/wide.yaml"
	id=$(trigger wide)
	assert_equal "$(finished "$id" | jq -r .status)" SUCCESS
	# every worker thread of loom-api renders the big answer (3 MB)
	curl -sSf -Z --parallel-max 8 -o /dev/null \
	    "$LOOM_API/api/v1/executions/$id?n=[1-16]"
	echo "# peak MB: api $(rss_mb "$API_PID") engine" \
	    "$(rss_mb "$ENGINE_PID") exec $(rss_mb "$EXEC_PID")"
	if ! wait_for -t 20 all_under 50; then
		echo "idle MB: api $(rss_mb "$API_PID")" \
		    "engine $(rss_mb "$ENGINE_PID") exec $(rss_mb "$EXEC_PID")"
		return 1
	fi
}
