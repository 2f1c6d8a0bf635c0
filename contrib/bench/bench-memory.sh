#!/bin/bash
# Memory benchmark: what the daemons hold once a large workload is over.
#
#   50,000 no-op HTTP tasks: RUNS runs of a 10-task workflow (five tasks,
#   then five that depend on them) plus one run each of WIDE different
#   fan-outs of BIG tasks (large JSON documents for every daemon: specs,
#   requests, answers), every run triggered and then read back (GET
#   /api/v1/executions/{id}) through loom-api.  For loom-api, loom-engine and loom-exec it prints
#   the resident set (VmRSS of /proc/PID/status) at start, at its peak
#   (VmHWM) and once idle, beside the target: under 50 MB once idle.
#
# "Idle" is read once every daemon is under the target and none of the
# figures moved for two seconds, or IDLE seconds (default 30) after the
# last request, whichever comes first.  The
# daemons give memory back about a second after their work stops
# (loop.h: malloc_trim() from the event loop), and their caches are
# bounded (MEMORY in loom-api(8), loom-engine(8) and loom-exec(8)).  A
# private PostgreSQL cluster (loom db start --fast), the three daemons
# and noopd (contrib/bench/noopd.c) run on this machine; loom-exec with 512 slots and claims of 256, as in
# bench-runtime.sh ($LOOM_EXEC_CONCURRENCY and $LOOM_EXEC_BATCH).
#
# Usage: contrib/bench/bench-memory.sh [BUILD] [RUNS] [WIDE] [BIG] [IDLE]
set -eu
BUILD=${1:-build}
RUNS=${2:-2000}
WIDE=${3:-3}
BIG=${4:-10000}
IDLE=${5:-30}
TARGET_KB=$((50 * 1024))
cd "$(dirname "$0")/../.."
BIN=$PWD/$BUILD/bin
DIR=$(mktemp -d /tmp/loom-bench-mem.XXXXXX)
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
"$BIN/loom" db start --state-dir "$DIR" --fast >/dev/null
export LOOM_DATABASE_URL=$("$BIN/loom" db url --state-dir "$DIR")
"$BIN/loom" db migrate >/dev/null

[ -x "$BUILD/bench/noopd" ] || make -s BUILD="$BUILD" "$BUILD/bench/noopd"
"$PWD/$BUILD/bench/noopd" -p 0 >"$DIR/backend.out" 2>"$DIR/backend.log" &
pids+=($!)
until grep -q '^port ' "$DIR/backend.out" 2>/dev/null; do sleep 0.05; done
PORT=$(awk '/^port /{print $2; exit}' "$DIR/backend.out")
URL=http://127.0.0.1:$PORT/api/tasks/noop

declare -A pid
LOOM_EXEC_CONCURRENCY=${LOOM_EXEC_CONCURRENCY:-512} \
LOOM_EXEC_BATCH=${LOOM_EXEC_BATCH:-256} \
    "$BIN/loom-exec" >/dev/null 2>"$DIR/exec.log" &
pids+=($!)
pid[loom-exec]=$!
"$BIN/loom-engine" >/dev/null 2>"$DIR/engine.log" &
pids+=($!)
pid[loom-engine]=$!
mkfifo "$DIR/api.url"
"$BIN/loom-api" --listen 127.0.0.1:0 --print-url >"$DIR/api.url" 2>"$DIR/api.log" &
pids+=($!)
pid[loom-api]=$!
read -r API <"$DIR/api.url"
DAEMONS="loom-api loom-engine loom-exec"

kb() {	# kb DAEMON FIELD -> kB
	awk -v f="$2:" '$1 == f { print $2 }' "/proc/${pid[$1]}/status"
}
declare -A start
for d in $DAEMONS; do start[$d]=$(kb "$d" VmRSS); done

gen() {	# gen ID N WIDE: N tasks, the ones past WIDE depend on one of those
	echo "id: $1"
	echo "tasks:"
	for ((i = 0; i < $2; i++)); do
		echo "  - id: t$i"
		echo "    url: $URL"
		echo "    timeout: 30s"
		[ "$i" -lt "$3" ] || echo "    dependsOn: [t$((i - $3))]"
	done
}
apply() {	# apply ID N WIDE
	gen "$@" >"$DIR/$1.yaml"
	curl -sf -X POST --data-binary @"$DIR/$1.yaml" \
	    -H 'Content-Type: application/yaml' "$API/api/v1/workflows" >/dev/null
}
trigger() {	# trigger ID COUNT: COUNT runs, 32 requests at a time
	curl -sf -Z --parallel-max 32 -X POST -d '{}' \
	    -H 'Content-Type: application/json' -o /dev/null \
	    "$API/api/v1/workflows/$1/trigger?n=[1-$2]" 2>/dev/null
}
apply small 10 5
for ((w = 1; w <= WIDE; w++)); do apply "wide$w" "$BIG" "$BIG"; done
t0=$SECONDS
for ((w = 1; w <= WIDE; w++)); do trigger "wide$w" 1; done
trigger small "$RUNS"
until [ "$(psql -qAtX "$LOOM_DATABASE_URL" -c "SELECT count(*) FROM \
    executions WHERE status IN ('SUCCESS', 'FAILED', 'CANCELLED')")" \
    -ge $((RUNS + WIDE)) ]; do
	sleep 1
done
bad=$(psql -qAtX "$LOOM_DATABASE_URL" -c "SELECT count(*) FROM executions \
    WHERE status <> 'SUCCESS'")
[ "$bad" = 0 ] || { echo "bench-memory: $bad runs did not succeed" >&2; exit 1; }
psql -qAtX "$LOOM_DATABASE_URL" -c "SELECT id FROM executions" |
    awk -v a="$API" '{ print "url = " a "/api/v1/executions/" $0
	print "output = /dev/null" }' >"$DIR/urls"
curl -sf -Z --parallel-max 16 -K "$DIR/urls" 2>/dev/null
tasks=$((RUNS * 10 + WIDE * BIG))
echo "$tasks tasks in $((RUNS + WIDE)) runs, run and read back in $((SECONDS - t0)) s"

# Idle: every daemon under the target and no figure moving for two
# seconds, or IDLE seconds.
end=$((SECONDS + IDLE))
last= still=0
while [ "$SECONDS" -lt "$end" ]; do
	now= over=0
	for d in $DAEMONS; do
		v=$(kb "$d" VmRSS)
		now="$now $v"
		[ "$v" -lt "$TARGET_KB" ] || over=1
	done
	if [ "$now" = "$last" ]; then still=$((still + 1)); else still=0; fi
	last=$now
	[ "$over" = 1 ] || [ "$still" -lt 4 ] || break
	sleep 0.5
done
for d in $DAEMONS; do
	idle=$(kb "$d" VmRSS)
	ok=$([ "$idle" -lt "$TARGET_KB" ] && echo ok || echo MISSED)
	printf '%-12s RSS start %4d MB  peak %4d MB  idle %4d MB  target < 50 MB once idle  %s\n' \
	    "$d" $((start[$d] / 1024)) $(($(kb "$d" VmHWM) / 1024)) \
	    $((idle / 1024)) "$ok"
done
