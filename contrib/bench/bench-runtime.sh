#!/bin/bash
# Runtime benchmark (issue: runtime): the whole server path, durable.
#
#   chain   1,000 no-op HTTP tasks, each depending on the previous one:
#           milliseconds per dependent hop (target <= 1.0 ms)
#   fan-out 10,000 independent no-op HTTP tasks in one run:
#           tasks per second (target >= 10,000)
#
# A private PostgreSQL cluster with fsync on (results are committed
# durably), loom-engine, loom-exec, loom-api, and noopd (contrib/bench/
# noopd.c: a minimal keep-alive HTTP server that answers every request
# with success and nothing else) all run on this machine.  Timings come
# from the run's own started_at/completed_at in the database.  loom-exec
# runs with a fixed 512 slots and claims up to 256 rows at a time (by
# default the slots adapt from 64 to 512, loom-exec(8), Slots; this
# takes the ramp out); $LOOM_EXEC_CONCURRENCY and $LOOM_EXEC_BATCH
# override them.  The chain's steps are taken by the
# executor itself when it has nothing else to run (exec.advance, on by
# default; LOOM_EXEC_ADVANCE=off leaves them all to loom-engine, for a
# comparison).  On a shared machine the figures
# move by 15-20% from one run to the next: compare runs made together.
#
# Usage: contrib/bench/bench-runtime.sh [BUILD] [CHAIN] [FANOUT]
set -eu
BUILD=${1:-build}
CHAIN=${2:-1000}
FANOUT=${3:-10000}
cd "$(dirname "$0")/../.."
BIN=$PWD/$BUILD/bin
DIR=$(mktemp -d /tmp/loom-bench.XXXXXX)
chmod 755 "$DIR"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	"$BIN/loom" db stop --state-dir "$DIR" >/dev/null 2>&1 || true
	rm -rf "$DIR"
}
[ -n "${KEEP:-}" ] && echo "keeping $DIR" >&2 && trap - EXIT || trap cleanup EXIT
: >"$DIR/empty.conf"
export LOOM_CONFIG=$DIR/empty.conf
# Control sockets and loom-log's socket in $DIR: another Link Loom on
# this machine (a test suite, a second bench, a system one in /run/loom)
# neither stops these daemons nor gets their lines.
mkdir -p "$DIR/run"
export LOOM_CONTROL_DIR=$DIR/run LOOM_LOGD_SOCKET=$DIR/run/log.sock
"$BIN/loom" db start --state-dir "$DIR" >/dev/null
export LOOM_DATABASE_URL=$("$BIN/loom" db url --state-dir "$DIR")
"$BIN/loom" db migrate >/dev/null

[ -x "$BUILD/bench/noopd" ] || make -s BUILD="$BUILD" "$BUILD/bench/noopd"
"$PWD/$BUILD/bench/noopd" -p 0 >"$DIR/backend.out" 2>"$DIR/backend.log" &
pids+=($!)
until grep -q '^port ' "$DIR/backend.out" 2>/dev/null; do sleep 0.05; done
PORT=$(awk '/^port /{print $2; exit}' "$DIR/backend.out")
URL=http://127.0.0.1:$PORT/api/tasks/noop

LOOM_EXEC_CONCURRENCY=${LOOM_EXEC_CONCURRENCY:-512} \
LOOM_EXEC_BATCH=${LOOM_EXEC_BATCH:-256} \
    "$BIN/loom-exec" 2>"$DIR/exec.log" &
pids+=($!)
"$BIN/loom-engine" 2>"$DIR/engine.log" &
pids+=($!)
mkfifo "$DIR/api.url"
"$BIN/loom-api" --listen 127.0.0.1:0 --print-url >"$DIR/api.url" 2>"$DIR/api.log" &
pids+=($!)
read -r API <"$DIR/api.url"

gen() {	# gen ID N CHAINED
	echo "id: $1"
	echo "tasks:"
	for ((i = 0; i < $2; i++)); do
		echo "  - id: t$i"
		echo "    url: $URL"
		echo "    timeout: 30s"
		if [ "$3" = 1 ] && [ "$i" -gt 0 ]; then
			echo "    dependsOn: [t$((i - 1))]"
		fi
	done
}

run() {	# run ID N CHAINED -> prints seconds
	gen "$1" "$2" "$3" >"$DIR/$1.yaml"
	curl -sf -X POST --data-binary @"$DIR/$1.yaml" \
	    -H 'Content-Type: application/yaml' "$API/api/v1/workflows" >/dev/null
	id=$(curl -sf -X POST -d '{}' -H 'Content-Type: application/json' \
	    "$API/api/v1/workflows/$1/trigger" | jq -r .executionId)
	st=RUNNING
	while [ "$st" != SUCCESS ] && [ "$st" != FAILED ] && [ "$st" != CANCELLED ]; do
		st=$(curl -sf "$API/api/v1/executions/$id?wait=60s" | jq -r .status)
	done
	[ "$st" = SUCCESS ] || { echo "run $1 ended $st" >&2; exit 1; }
	psql -qAt "$LOOM_DATABASE_URL" -c "SELECT extract(epoch FROM \
	    completed_at - started_at) FROM executions WHERE id = '$id'"
}

s=$(run chain "$CHAIN" 1)
ms=$(echo "$s $CHAIN" | awk '{printf "%.3f", $1 * 1000 / ($2 - 1)}')
ok=$(echo "$ms" | awk '{print ($1 <= 1.0) ? "ok" : "MISSED"}')
printf '%-40s %10s ms  target <= 1.0 ms  %s\n' "chain of $CHAIN: per dependent hop" "$ms" "$ok"

s=$(run fanout "$FANOUT" 0)
tps=$(echo "$s $FANOUT" | awk '{printf "%.0f", $2 / $1}')
ok=$(echo "$tps" | awk '{print ($1 >= 10000) ? "ok" : "MISSED"}')
printf '%-40s %10s /s  target >= 10,000 %s\n' "fan-out of $FANOUT: tasks per second" "$tps" "$ok"
