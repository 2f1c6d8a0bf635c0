#!/bin/bash
# Link Loom beside its peers (issue: performance), on one throwaway
# PostgreSQL cluster, in ROUNDS interleaved rounds (default 3): medians,
# and each ratio beside its target.  The cases (peers/compare.mjs):
#
#   1,000 concurrent runs of a 5-task diamond of no-op HTTP tasks: runs/s
#   fan-out of 10,000 no-op HTTP tasks, loom-exec's default settings,
#     against graphile-worker 0.17.3 (concurrency 10) plain and with
#     localQueue and completeJobBatchDelay: 0
#   chain of 1,000 no-op HTTP tasks against graphile-worker's strict chain
#     (the next job is added once the previous completion has committed)
#   the chain again with 10,000 READY tasks waiting (not yet due)
#   chain and fan-out of 1,000 shell `true` tasks against make -j2
#   fan-out of 1,000 with and without 100,000 tasks waiting
#   idle daemons: RSS and wake-ups per second, before the rounds and once
#     the rounds are over (about 20,000 tasks a round), each time once no
#     daemon woke for 12 s
#   floors: a durable commit, a NOTIFY round trip, a loopback HTTP request
#
# Loom figures are end to end as a client sees them: from the trigger
# request to GET /api/v1/executions/{id}?wait= answering that the run
# finished.  The cluster is durable (fsync on, synchronous_commit on) with
# pg_stat_statements loaded: the statements that took the most time are
# printed at the end.  loom-exec, loom-engine and loom-api run with their
# defaults (an empty config file).  node and npm are needed (graphile-worker
# and pg are installed with npm ci into contrib/bench/peers); the machine's
# load is printed and a busy machine is warned about.
#
# Usage: contrib/bench/bench-peers.sh [BUILD] [ROUNDS]
# (CASES=, sizes and BENCH_PGCONF: contrib/bench/README.md)
set -eu
BUILD=${1:-build}
export ROUNDS=${2:-${ROUNDS:-3}}
cd "$(dirname "$0")/../.."
case $BUILD in
/*) BIN=$BUILD/bin NOOPD=$BUILD/bench/noopd ;;
*) BIN=$PWD/$BUILD/bin NOOPD=$PWD/$BUILD/bench/noopd ;;
esac
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	echo "bench-peers: node and npm are needed (apt-get install nodejs npm); skipped"
	exit 0
fi
[ -d contrib/bench/peers/node_modules/graphile-worker ] ||
	(cd contrib/bench/peers && npm ci --silent --no-audit --no-fund) >&2
DIR=$(mktemp -d /tmp/loom-bench.XXXXXX)
chmod 755 "$DIR"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	"$BIN/loom" db stop --state-dir "$DIR" >/dev/null 2>&1 || true
	# KEEP=1: the processes stop, the state directory (logs, pgdata) stays
	if [ -n "${KEEP:-}" ]; then echo "kept $DIR" >&2; else rm -rf "$DIR"; fi
}
trap cleanup EXIT
: >"$DIR/empty.conf"
export LOOM_CONFIG=$DIR/empty.conf
# The daemons' control sockets and loom-log's (absent, as by default) in
# $DIR: another Link Loom on this machine (a second bench, a test suite,
# a system one in /run/loom) neither stops these daemons nor gets lines.
mkdir -p "$DIR/run"
export LOOM_CONTROL_DIR=$DIR/run LOOM_LOGD_SOCKET=$DIR/run/log.sock
"$BIN/loom" db start --state-dir "$DIR" >/dev/null
cat >>"$DIR/pgdata/postgresql.conf" <<'CONF'
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = all
CONF
# BENCH_PGCONF: more postgresql.conf lines, e.g. auto_explain's, to profile
[ -z "${BENCH_PGCONF:-}" ] || printf '%s\n' "$BENCH_PGCONF" >>"$DIR/pgdata/postgresql.conf"
"$BIN/loom" db stop --state-dir "$DIR" >/dev/null
"$BIN/loom" db start --state-dir "$DIR" >/dev/null
export LOOM_DATABASE_URL=$("$BIN/loom" db url --state-dir "$DIR")
"$BIN/loom" db migrate >/dev/null
psql -qAt "$LOOM_DATABASE_URL" -c 'CREATE EXTENSION pg_stat_statements'

[ -x "$NOOPD" ] || make -s BUILD="$BUILD" "$BUILD/bench/noopd"
"$NOOPD" -p 0 >"$DIR/backend.out" 2>"$DIR/backend.log" &
pids+=($!)
until grep -q '^port ' "$DIR/backend.out" 2>/dev/null; do
	kill -0 "${pids[0]}" 2>/dev/null || { echo "bench-peers: noopd did not start" >&2; exit 1; }
	sleep 0.05
done
PORT=$(awk '/^port /{print $2; exit}' "$DIR/backend.out")

"$BIN/loom-exec" 2>"$DIR/exec.log" &
pids+=($!)
EXEC=$!
"$BIN/loom-engine" 2>"$DIR/engine.log" &
pids+=($!)
ENGINE=$!
mkfifo "$DIR/api.url"
"$BIN/loom-api" --listen 127.0.0.1:0 --print-url >"$DIR/api.url" 2>"$DIR/api.log" &
pids+=($!)
APIPID=$!
read -r API <"$DIR/api.url"

echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "PostgreSQL: $(psql -qAt "$LOOM_DATABASE_URL" -c "SELECT string_agg(name || '=' || setting, ' ' ORDER BY name) FROM pg_settings WHERE name IN ('server_version', 'fsync', 'synchronous_commit', 'full_page_writes', 'wal_sync_method', 'shared_buffers', 'commit_delay', 'max_connections', 'wal_level')")"
echo "loom-exec, loom-engine, loom-api: default settings (empty config, no LOOM_EXEC_* variables)"
echo "graphile-worker $(node -p "require('./contrib/bench/peers/node_modules/graphile-worker/package.json').version"), node $(node --version), $(make --version | head -1)"

# CPU seconds (user + system) of each daemon and of all PostgreSQL processes
cpu() {	# cpu PID... -> seconds
	local t=0 p
	for p in "$@"; do
		[ -r "/proc/$p/stat" ] || continue
		t=$((t + $(awk '{print $14 + $15 + $16 + $17}' "/proc/$p/stat")))
	done
	echo "$t"
}
pgpids() {	# the postmaster (its reaped children counted) and its live children
	local pm
	pm=$(head -1 "$DIR/pgdata/postmaster.pid")
	echo "$pm" $(pgrep -P "$pm")
}
cpus() {
	echo "loom-exec=$(cpu $EXEC) loom-engine=$(cpu $ENGINE) loom-api=$(cpu $APIPID) noopd=$(cpu "${pids[0]}") postgres=$(cpu $(pgpids))"
}
before=$(cpus)
# transactions committed in the database, for the per-run figures below
xacts() { psql -qAt "$LOOM_DATABASE_URL" -c "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"; }
xact_before=$(xacts)
# WAL written by the whole cluster (pg_stat_wal: records, full-page images,
# bytes), for the per-run figures below
wal() { psql -qAt -F ' ' "$LOOM_DATABASE_URL" -c "SELECT wal_records, wal_fpi, wal_bytes FROM pg_stat_wal"; }
read -r wal_rec0 wal_fpi0 wal_bytes0 <<<"$(wal)"

DATABASE_URL=$LOOM_DATABASE_URL API=$API NOOP_URL=http://127.0.0.1:$PORT/api/tasks/noop \
LOOM_PIDS="loom-exec:$EXEC loom-engine:$ENGINE loom-api:$APIPID" WORKDIR=$DIR \
	node contrib/bench/peers/compare.mjs

echo
echo "-- CPU time in clock ticks ($(getconf CLK_TCK)/s) over the rounds (graphile-worker and make included for PostgreSQL)"
echo "before: $before"
echo "after:  $(cpus)"
echo
echo "-- the Loom statements that took the most time (pg_stat_statements)"
psql -q "$LOOM_DATABASE_URL" -P pager=off -c "SELECT calls, round(total_exec_time::numeric, 0) AS total_ms, round(mean_exec_time::numeric, 3) AS mean_ms, rows, round(wal_bytes / 1024) AS wal_kb, left(regexp_replace(query, '\s+', ' ', 'g'), 90) AS query FROM pg_stat_statements WHERE query NOT LIKE '%graphile_worker%' AND query NOT LIKE '%bench_commit%' ORDER BY total_exec_time DESC LIMIT 15"
echo
echo "-- per run of Link Loom (every run of the rounds; with loom.diamond alone, the diamond's)"
psql -qAt "$LOOM_DATABASE_URL" -F ' ' -c "SELECT 'runs=' || r.n, 'statements/run=' || round(s.calls / greatest(r.n, 1), 1), 'transactions/run=' || round(($(xacts) - $xact_before)::numeric / greatest(r.n, 1), 1) FROM (SELECT count(*) AS n FROM executions) r, (SELECT sum(calls) AS calls FROM pg_stat_statements WHERE query NOT LIKE '%graphile_worker%' AND query NOT LIKE '%bench_commit%') s"
read -r wal_rec1 wal_fpi1 wal_bytes1 <<<"$(wal)"
psql -qAt "$LOOM_DATABASE_URL" -F ' ' -c "SELECT 'WAL/run: records=' || round(($wal_rec1 - $wal_rec0)::numeric / greatest(n, 1), 1), 'fpi=' || round(($wal_fpi1 - $wal_fpi0)::numeric / greatest(n, 1), 2), 'bytes=' || round(($wal_bytes1 - $wal_bytes0)::numeric / greatest(n, 1)) FROM (SELECT count(*) AS n FROM executions) r"
psql -qAt "$LOOM_DATABASE_URL" -F ' ' -c "SELECT 'updates ' || relname || ': ' || n_tup_upd || ' (HOT ' || n_tup_hot_upd || ')' FROM pg_stat_user_tables WHERE relname IN ('executions', 'run_tasks') ORDER BY relname"
[ -z "${BENCH_ALL_STATEMENTS:-}" ] || psql -q "$LOOM_DATABASE_URL" -P pager=off -c "SELECT calls, round(total_exec_time::numeric, 0) AS total_ms, rows, left(regexp_replace(query, '\s+', ' ', 'g'), 110) AS query FROM pg_stat_statements WHERE query NOT LIKE '%graphile_worker%' AND query NOT LIKE '%bench_commit%' ORDER BY calls DESC LIMIT 60"
