#!/bin/bash
# Log benchmark (issue 17): loom-log's ingestion and the follow delay.
#
#   ingestion  8 concurrent writers send RECORDS records each over
#              loom-log's socket (one JSON line each, loom-ipc(7)), then a
#              sync; the time until every writer's sync is answered and
#              the store counts every record gives records per second
#              into PostgreSQL (target
#              >= 50,000) and, when node and tests/mongo's packages are
#              there, into MongoDB (the test server of tests/mongo: an
#              in-memory wire-protocol server in TypeScript, far slower
#              than a mongod; no target).
#   follow     a shell task prints a line with the time every 100ms;
#              `loom execution logs --follow` shows it: the delay from
#              the echo to the line on the follower's output (target
#              < 50 ms), median and worst of LINES lines.
#
# A private PostgreSQL cluster with fsync on, loom-log, loom-engine,
# loom-exec and loom-api run on this machine.
#
# Usage: contrib/bench/bench-log.sh [BUILD] [RECORDS] [LINES]
set -eu
BUILD=${1:-build}
RECORDS=${2:-50000}
LINES=${3:-50}
WRITERS=8
cd "$(dirname "$0")/../.."
ROOT=$PWD
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
"$BIN/loom" db start --state-dir "$DIR" >/dev/null
export LOOM_DATABASE_URL=$("$BIN/loom" db url --state-dir "$DIR")
"$BIN/loom" db migrate >/dev/null
export LOOM_LOGD_SOCKET=$DIR/log.sock LOOM_LOGD_SPOOL=$DIR/log.spool
mkdir -p "$DIR/run"
export LOOM_CONTROL_DIR=$DIR/run # not /run/loom: another Link Loom may be there

# wait_line FILE REGEX: until a line of FILE matches (a daemon's "ready")
wait_line() {
	local n=0
	until grep -qE "$2" "$1" 2>/dev/null; do
		n=$((n + 1))
		[ "$n" -lt 600 ] || { echo "timed out: $1" >&2; cat "$1" >&2; exit 1; }
		sleep 0.05
	done
}

"$BIN/loom-log" 2>"$DIR/log.log" &
pids+=($!)
LOGD=$!
wait_line "$DIR/log.log" 'ready'
"$BIN/loom-engine" 2>"$DIR/engine.log" &
pids+=($!)
"$BIN/loom-exec" 2>"$DIR/exec.log" &
pids+=($!)
mkfifo "$DIR/api.url"
"$BIN/loom-api" --listen 127.0.0.1:0 --print-url >"$DIR/api.url" 2>"$DIR/api.log" &
pids+=($!)
read -r API <"$DIR/api.url"
export LOOM_API=$API
wait_line "$DIR/exec.log" 'ready'

# A run to log against (the PostgreSQL store keeps lines of runs that exist).
cat >"$DIR/one.yaml" <<EOF
id: bench-log
tasks:
  - id: t
    type: shell
    command: "echo '{}'"
EOF
"$BIN/loom" workflow apply "$DIR/one.yaml" >/dev/null
E=$("$BIN/loom" workflow trigger bench-log)

# Each writer's lines, made before the clock starts.
for w in $(seq 1 $WRITERS); do
	awk -v e="$E" -v w="$w" -v n="$RECORDS" 'BEGIN {
	    for (i = 1; i <= n; i++)
		printf "{\"v\":1,\"t\":\"log\",\"execution\":\"%s\",\"task\":\"w%d\",\"msg\":\"writer %d record %d of a benchmark of the log store\"}\n", e, w, w, i
	    printf "{\"v\":1,\"t\":\"sync\",\"id\":%d}\n", w }' >"$DIR/w$w.jsonl"
done

# ingest SOCKET [COUNT-COMMAND]: secs = seconds until every writer's sync
# is answered and, with COUNT-COMMAND, until it counts every record in the
# store (a sync is answered once records are stored or spooled).
ingest() {
	local t0 t1 w wp=() n=0
	t0=$(date +%s.%N)
	for w in $(seq 1 $WRITERS); do
		socat -t 120 - "UNIX-CONNECT:$1" <"$DIR/w$w.jsonl" >"$DIR/w$w.out" &
		wp+=($!)
	done
	wait "${wp[@]}"
	if [ -n "${2:-}" ]; then
		until [ "$($2)" = "$total" ]; do
			n=$((n + 1))
			[ "$n" -lt 2400 ] || { echo "only $($2) of $total stored" >&2; break; }
			sleep 0.05
		done
	fi
	t1=$(date +%s.%N)
	for w in $(seq 1 $WRITERS); do
		grep -q '"synced"' "$DIR/w$w.out" || { echo "writer $w: no sync answer" >&2; exit 1; }
	done
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
}

total=$((RECORDS * WRITERS))
pg_count() {
	psql -X -At "$LOOM_DATABASE_URL" -c "SELECT count(*) FROM task_logs WHERE execution_id = '$E' AND task_id LIKE 'w%'"
}
ingest "$LOOM_LOGD_SOCKET" pg_count
awk -v n="$total" -v s="$secs" 'BEGIN {
    r = n / s
    printf "ingestion, PostgreSQL: %d records from 8 writers in %.2f s = %.0f records/s (target >= 50,000) %s\n",
	n, s, r, (r >= 50000 ? "ok" : "MISSED") }'

if command -v node >/dev/null && [ -d "$ROOT/tests/mongo/node_modules/@push.rocks/smartmongo" ]; then
	(cd "$ROOT/tests/mongo" && exec node congo.mjs) >"$DIR/congo.out" 2>"$DIR/congo.log" &
	pids+=($!)
	wait_line "$DIR/congo.out" '^port '
	mport=$(awk '/^port /{print $2; exit}' "$DIR/congo.out")
	LOOM_LOGD_SOCKET=$DIR/mlog.sock LOOM_LOGD_SPOOL=$DIR/mlog.spool \
	LOOM_LOGD_STORE=mongodb LOOM_LOGD_MONGODB_URI=mongodb://127.0.0.1:$mport \
	    "$BIN/loom-log" 2>"$DIR/mlog.log" &
	pids+=($!)
	wait_line "$DIR/mlog.log" 'ready'
	mongo_count() {
		(cd "$ROOT/tests/mongo" && node query.mjs "mongodb://127.0.0.1:$mport" loom count "{\"execution_id\":\"$E\"}")
	}
	ingest "$DIR/mlog.sock" mongo_count
	awk -v n="$total" -v s="$secs" 'BEGIN {
	    printf "ingestion, MongoDB (the test server of tests/mongo): %d records in %.2f s = %.0f records/s (no target)\n",
		n, s, n / s }'
else
	echo "ingestion, MongoDB: skipped (needs node and npm ci in tests/mongo)"
fi

# The follow delay: each line carries the time it was echoed.
cat >"$DIR/talk.yaml" <<EOF
id: bench-follow
tasks:
  - id: talk
    type: shell
    timeout: 5m
    command: "for i in \$(seq 1 $LINES); do echo \"t=\$(date +%s%N)\"; sleep 0.1; done; echo '{}'"
EOF
"$BIN/loom" workflow apply "$DIR/talk.yaml" >/dev/null
E=$("$BIN/loom" workflow trigger bench-follow -o json | jq -r .executionId)
"$BIN/loom" execution logs --follow "$E" | while IFS= read -r l; do
	case $l in *" t="*) echo "${l##* t=} $(date +%s%N)" ;; esac
done >"$DIR/follow.txt"
awk '{ printf "%.3f\n", ($2 - $1) / 1e6 }' "$DIR/follow.txt" | sort -n >"$DIR/delays.txt"
awk '{ d[NR] = $1 } END {
    if (NR == 0) { print "follow: no lines"; exit 1 }
    med = d[int((NR + 1) / 2)]; max = d[NR]
    printf "follow: echo to --follow, %d lines: median %.1f ms, worst %.1f ms (target < 50 ms) %s\n",
	NR, med, max, (med < 50 ? "ok" : "MISSED") }' "$DIR/delays.txt"
