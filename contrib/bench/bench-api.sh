#!/bin/bash
# Read benchmark of loom-api (issue: loom-api and the loom CLI, complete).
#
#   detail  GET /api/v1/executions/{id}: one finished run of a 50-task
#           workflow, every task with one attempt: requests per second
#           (target >= 10,000) and the 99th percentile latency
#   list    GET /api/v1/executions?limit=50 over 500 finished runs: the
#           same figures (no target; printed for comparison)
#
# A private PostgreSQL cluster (loom db start, durable settings, no
# --fast) and loom-api run on this machine; no engine is needed: the
# rows a finished run leaves are inserted with psql.  wrk (Debian
# package wrk) drives the load for DURATION seconds per route with
# THREADS threads and CONNS connections (default 10 s, 4, 64).
#
# Usage: contrib/bench/bench-api.sh [BUILD] [DURATION] [THREADS] [CONNS]
# API_THREADS sets api.threads of loom-api (default: the number of CPUs).
set -eu
BUILD=${1:-build}
DURATION=${2:-10}
THREADS=${3:-4}
CONNS=${4:-64}
cd "$(dirname "$0")/../.."
case $BUILD in
/*) BIN=$BUILD/bin ;;
*) BIN=$PWD/$BUILD/bin ;;
esac
if ! command -v wrk >/dev/null; then
	echo "bench-api: wrk is not installed (apt-get install wrk, or make deps); skipped"
	exit 0
fi
DIR=$(mktemp -d /tmp/loom-bench-api.XXXXXX)
chmod 755 "$DIR"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	"$BIN/loom" db stop --state-dir "$DIR" >/dev/null 2>&1 || true
	rm -rf "$DIR"
}
if [ -n "${KEEP:-}" ]; then
	echo "keeping $DIR" >&2
else
	trap cleanup EXIT
fi
: >"$DIR/empty.conf"
export LOOM_CONFIG=$DIR/empty.conf
# Control sockets and loom-log's socket in $DIR: another Link Loom on
# this machine (a test suite, a second bench, a system one in /run/loom)
# neither stops these daemons nor gets their lines.
mkdir -p "$DIR/run"
export LOOM_CONTROL_DIR=$DIR/run LOOM_LOGD_SOCKET=$DIR/run/log.sock
"$BIN/loom" db start --state-dir "$DIR" >/dev/null
LOOM_DATABASE_URL=$("$BIN/loom" db url --state-dir "$DIR")
export LOOM_DATABASE_URL
"$BIN/loom" db migrate >/dev/null

mkfifo "$DIR/api.url"
LOOM_API_THREADS=${API_THREADS:-$(nproc)} \
    "$BIN/loom-api" --listen 127.0.0.1:0 --print-url \
    >"$DIR/api.url" 2>"$DIR/api.log" &
pids+=($!)
read -r API <"$DIR/api.url"

# A 50-task workflow: a chain of ten levels, five tasks wide.
{
	echo "id: bench-read"
	echo "name: Read benchmark"
	echo "tasks:"
	for ((i = 0; i < 50; i++)); do
		echo "  - id: t$i"
		echo "    url: http://127.0.0.1:9/api/tasks/t$i"
		echo "    timeout: 30s"
		[ "$i" -lt 5 ] || echo "    dependsOn: [t$((i - 5))]"
	done
} >"$DIR/wf.yaml"
curl -sf -X POST --data-binary @"$DIR/wf.yaml" \
    -H 'Content-Type: application/yaml' "$API/api/v1/workflows" >/dev/null

# What loom-engine and loom-exec leave behind after a successful run:
# the run, a run_tasks row and an attempt per task.  500 runs, so the
# list has full pages; the newest one is read in detail.
psql -qAtX "$LOOM_DATABASE_URL" >/dev/null <<'EOF'
INSERT INTO executions (id, workflow_id, workflow_version, status, params,
    created_at, started_at, completed_at)
SELECT 'exec-' || lpad(to_hex(g), 20, '0'), 'bench-read', 1, 'SUCCESS',
    '{"region":"eu"}', now() - (500 - g) * interval '1 minute',
    now() - (500 - g) * interval '1 minute' + interval '1 second',
    now() - (500 - g) * interval '1 minute' + interval '9 seconds'
FROM generate_series(1, 500) g;
INSERT INTO run_tasks (execution_id, task_id, state, attempt, output,
    started_at, finished_at)
SELECT 'exec-' || lpad(to_hex(500), 20, '0'), 't' || t, 'SUCCESS', 1,
    jsonb_build_object('rows', t, 'ok', true), now() - interval '8 seconds',
    now() - interval '7 seconds'
FROM generate_series(0, 49) t;
INSERT INTO task_executions (execution_id, task_id, attempt, status,
    executor, output, http_status, started_at, completed_at, duration_ms)
SELECT 'exec-' || lpad(to_hex(500), 20, '0'), 't' || t, 1, 'SUCCESS',
    'http', jsonb_build_object('rows', t, 'ok', true), 200,
    now() - interval '8 seconds', now() - interval '7 seconds', 1000
FROM generate_series(0, 49) t;
ANALYZE;
EOF
EXEC=exec-$(printf '%020x' 500)
n=$(curl -sf "$API/api/v1/executions/$EXEC" | jq '.tasks | length')
[ "$n" = 50 ] || { echo "bench-api: the run has $n tasks, not 50" >&2; exit 1; }

# wrk PATH -> "REQS_PER_S P99_MS ERRORS"
bench() {
	wrk -t "$THREADS" -c "$CONNS" -d "${DURATION}s" --latency \
	    "$API$1" >"$DIR/wrk.out" 2>&1
	awk '
	/Requests\/sec:/ { rps = $2 }
	$1 == "99%" { v = $2; u = v; sub(/[a-z]+$/, "", v); sub(/^[0-9.]+/, "", u)
	    p99 = (u == "us") ? v / 1000 : (u == "s") ? v * 1000 : v }
	/Non-2xx|Socket errors/ { err = err " " $0 }
	END { printf "%.0f %.2f %s\n", rps, p99, (err == "" ? "-" : err) }' \
	    "$DIR/wrk.out"
}

report() {	# NAME PATH TARGET
	read -r rps p99 errs < <(bench "$2")
	if [ "$3" = - ]; then ok="(no target)"
	else ok=$(awk -v r="$rps" -v t="$3" 'BEGIN { print (r >= t) ? "ok" : "MISSED" }')
	fi
	printf '%-44s %8s req/s  p99 %7s ms  %s %s\n' "$1" "$rps" "$p99" \
	    "$([ "$3" = - ] || echo "target >= $3")" "$ok"
	[ "$errs" = - ] || echo "  errors:$errs"
}

echo "loom-api with $(nproc) CPUs, wrk -t$THREADS -c$CONNS -d${DURATION}s"
report "GET /api/v1/executions/{id} (50 tasks)" "/api/v1/executions/$EXEC" 10000
report "GET /api/v1/executions?limit=50" "/api/v1/executions?limit=50" -
