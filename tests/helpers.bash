# tests/helpers.bash: what bats files of Link Loom share.  Load it with
#
#     load helpers
#
# and, typically:
#
#     setup_file()    { loom_pg_start; loom_api_start; }
#     teardown_file() { loom_stop_all; }
#
# It loads bats-support and bats-assert for every test of the file.
#
# loom_pg_start   a throwaway PostgreSQL cluster (loom db start --fast) in a
#                 fresh directory, migrated; exports LOOM_DATABASE_URL and
#                 LOOM_TEST_DIR (scratch space, removed by loom_pg_stop)
# loom_pg_stop    stops it and removes the directory
# loom_api_start [ARGS...]
#                 loom-api on 127.0.0.1, port 0, with --print-url; waits for
#                 the URL on its first stdout line (no fixed sleeps) and
#                 exports LOOM_API (the URL), LOOM_API_PID and LOOM_API_LOG
# loom_api_stop   SIGTERM, then waits for the process to end
# wait_for [-t SECONDS] CMD...
#                 runs CMD until it succeeds, for at most SECONDS (10)
# quiet SECONDS PID...
#                 none of the processes woke up (context switches of all
#                 their threads) in a window of SECONDS
#
# Programs come from $LOOM_BIN (tests/run-tests.sh exports it), else
# build/bin.  Every background process closes fd 3, or bats would wait
# for it.  The helpers point LOOM_CONFIG at an empty file so that a
# machine's /etc/loom/loom.conf does not leak into the tests.

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

LOOM_BIN=${LOOM_BIN:-$BATS_TEST_DIRNAME/../build/bin}
export LOOM_BIN

# The daemons' control sockets (control.dir): one directory per test
# file, so that files running in parallel never meet at /run/loom.  Only
# the daemons started by loom_api_start and loom_daemon_start get one
# (each its own path); a daemon a test starts by hand gets none unless
# the test says so, so that it never meets the file's daemons there.
LOOM_CONTROL_DIR=${BATS_FILE_TMPDIR:-${TMPDIR:-/tmp}}/run
export LOOM_CONTROL_DIR
export LOOM_API_CONTROL_SOCKET= LOOM_ENGINE_CONTROL_SOCKET= \
    LOOM_EXEC_CONTROL_SOCKET= LOOM_SCHED_CONTROL_SOCKET=

# loom-api and loom-log load libmongoc, which makes /dev/shm/mongoc-PID
# before main() and removes it only at a normal exit: the kill -9s of the
# tests would leave one each.  The shipped units and loom up set this
# too; tests/up.bats and tests/units.bats check that they do.
export MONGOC_DISABLE_SHM=1

# has_env (proc-helpers.bash)
source "${BASH_SOURCE[0]%/*}/proc-helpers.bash"

# wait_for [-t SECONDS] CMD...: for readiness that has no event to wait on.
wait_for() {
	local limit=10 end
	if [ "${1:-}" = -t ]; then
		limit=$2
		shift 2
	fi
	end=$((SECONDS + limit))
	until "$@"; do
		if [ "$SECONDS" -ge "$end" ]; then
			echo "wait_for: '$*' still failing after ${limit}s" >&2
			return 1
		fi
		sleep 0.1
	done
}

loom_pg_start() {
	LOOM_TEST_DIR=$(mktemp -d "${TMPDIR:-/tmp}/loom-test.XXXXXX") ||
	    return 1
	# As root the server runs as postgres, which must reach the cluster.
	chmod 755 "$LOOM_TEST_DIR"
	export LOOM_TEST_DIR
	: >"$LOOM_TEST_DIR/empty.conf"
	export LOOM_CONFIG=${LOOM_CONFIG:-$LOOM_TEST_DIR/empty.conf}
	if ! "$LOOM_BIN/loom" db start --state-dir "$LOOM_TEST_DIR" --fast \
	    >"$LOOM_TEST_DIR/db-start.log" 2>&1 3>&-; then
		echo "# loom db start failed:" >&3
		sed 's/^/#   /' "$LOOM_TEST_DIR/db-start.log" >&3
		return 1
	fi
	LOOM_DATABASE_URL=$("$LOOM_BIN/loom" db url --state-dir "$LOOM_TEST_DIR")
	export LOOM_DATABASE_URL
	"$LOOM_BIN/loom" db migrate >/dev/null
}

loom_pg_stop() {
	[ -n "${LOOM_TEST_DIR:-}" ] || return 0
	"$LOOM_BIN/loom" db stop --state-dir "$LOOM_TEST_DIR" >/dev/null 2>&1 \
	    3>&- || true
	rm -rf "$LOOM_TEST_DIR"
	[ "${LOOM_CONFIG:-}" != "$LOOM_TEST_DIR/empty.conf" ] || unset LOOM_CONFIG
	unset LOOM_TEST_DIR LOOM_DATABASE_URL
}

loom_api_start() {
	local dir=${LOOM_TEST_DIR:-${BATS_FILE_TMPDIR:-/tmp}} fifo url
	# one log per instance: a test may start a second server
	LOOM_API_LOG=$(mktemp "$dir/loom-api.XXXXXX.log") || return 1
	# loom-api.sock, or a path of its own when that one is taken
	local -x LOOM_API_CONTROL_SOCKET=$LOOM_CONTROL_DIR/loom-api.sock
	[ ! -S "$LOOM_API_CONTROL_SOCKET" ] ||
	    LOOM_API_CONTROL_SOCKET=$LOOM_CONTROL_DIR/loom-api-$$-$RANDOM.sock
	fifo=$LOOM_API_LOG.url
	mkfifo "$fifo" || return 1
	"$LOOM_BIN/loom-api" --listen 127.0.0.1:0 --print-url "$@" \
	    >"$fifo" 2>"$LOOM_API_LOG" 3>&- &
	LOOM_API_PID=$!
	# Opening the fifo pairs us with loom-api's stdout; if it dies before
	# printing, read sees end-of-file at once instead of waiting.
	if ! IFS= read -r -t 30 url <"$fifo" || [ -z "$url" ]; then
		echo "# loom-api did not start; its log:" >&3
		sed 's/^/#   /' "$LOOM_API_LOG" >&3
		kill "$LOOM_API_PID" 2>/dev/null
		return 1
	fi
	rm -f "$fifo"
	export LOOM_API=$url LOOM_API_PID LOOM_API_LOG
}

loom_api_stop() {
	[ -n "${LOOM_API_PID:-}" ] || return 0
	kill -TERM "$LOOM_API_PID" 2>/dev/null || true
	timeout 30 tail --pid="$LOOM_API_PID" -f /dev/null 3>&- || true
	unset LOOM_API LOOM_API_PID
}

# --- the runtime: the HTTP test backend and the daemons -------------------
#
# loom_backend_start
#                 tests/backend's loom-test-backend on 127.0.0.1, a port the
#                 kernel picks; waits for its "port N" line and exports
#                 BACKEND_URL (http://127.0.0.1:N), BACKEND_PID and
#                 BACKEND_LOG (its call log, one JSON line per call)
# loom_backend_stop
# open_gate NAME  the backend answers the calls held by ?gate=NAME, and
#                 every later one at once
# loom_daemon_start NAME [ARGS...]
#                 $LOOM_BIN/NAME in the background (it inherits the
#                 environment: LOOM_DATABASE_URL, LOOM_EXEC_*, ...) with its
#                 stderr in $LOOM_TEST_DIR/NAME.N.log; waits for its "ready"
#                 log line (text or log.format = json); sets LOOM_DAEMON_PID and LOOM_DAEMON_LOG and
#                 records the pid in $LOOM_TEST_DIR/daemons.pids (a file:
#                 variables set in a test do not reach teardown_file)
# loom_daemon_stop PID
#                 SIGTERM, waits for the end (30s, then SIGKILL); returns
#                 the exit status when PID is a child of this shell; does
#                 nothing when PID is not one of $LOOM_BIN's programs
# loom_daemons_stop
#                 loom_daemon_stop for every recorded daemon still running

LOOM_TEST_BACKEND=${LOOM_TEST_BACKEND:-$LOOM_BIN/../tests/loom-test-backend}

loom_backend_start() {
	local dir=${LOOM_TEST_DIR:-${BATS_FILE_TMPDIR:-/tmp}} fifo word port
	fifo=$dir/backend.port
	BACKEND_LOG=$dir/backend-calls.jsonl
	rm -f "$fifo"
	mkfifo "$fifo" || return 1
	"$LOOM_TEST_BACKEND" -p 0 -l "$BACKEND_LOG" >"$fifo" \
	    2>"$dir/backend.log" 3>&- &
	BACKEND_PID=$!
	# for loom_backend_stop in teardown_file, which a test's variables
	# do not reach
	echo "$BACKEND_PID" >>"$dir/backends.pids"
	if ! read -r -t 10 word port <"$fifo" || [ "$word" != port ]; then
		echo "# loom-test-backend did not start:" >&3
		sed 's/^/#   /' "$dir/backend.log" >&3
		return 1
	fi
	rm -f "$fifo"
	export BACKEND_URL=http://127.0.0.1:$port BACKEND_PID BACKEND_LOG
}

loom_backend_stop() {
	local dir=${LOOM_TEST_DIR:-${BATS_FILE_TMPDIR:-/tmp}} p
	for p in ${BACKEND_PID:-} $(cat "$dir/backends.pids" 2>/dev/null); do
		case $(ps -o args= -p "$p" 2>/dev/null) in
		*loom-test-backend*) ;;
		*) continue ;;	# gone, or the pid is another's by now
		esac
		kill -TERM "$p" 2>/dev/null || true
		timeout 30 tail --pid="$p" -f /dev/null 3>&- || true
	done
	rm -f "$dir/backends.pids"
	unset BACKEND_PID
}

open_gate() {
	curl -sSf -o /dev/null -X POST "$BACKEND_URL/gates/$1"
}

loom_daemon_start() {
	local name=$1 dir=${LOOM_TEST_DIR:-${BATS_FILE_TMPDIR:-/tmp}} n=1
	shift
	while [ -e "$dir/$name.$n.log" ]; do n=$((n + 1)); done
	LOOM_DAEMON_LOG=$dir/$name.$n.log
	# made here, not by the child's redirection: tail -f below must not
	# race the fork to it (tail gives up on a file that is not there)
	: >"$LOOM_DAEMON_LOG"
	# The control socket: loom-NAME.sock, then loom-NAME-N.sock for the
	# Nth instance, so that each one has its own.
	local ctlvar=LOOM_${name#loom-}_CONTROL_SOCKET
	ctlvar=${ctlvar^^}
	if [ "$n" -gt 1 ]; then
		local -x "$ctlvar=$LOOM_CONTROL_DIR/$name-$n.sock"
	else
		local -x "$ctlvar=$LOOM_CONTROL_DIR/$name.sock"
	fi
	"$LOOM_BIN/$name" "$@" 2>>"$LOOM_DAEMON_LOG" </dev/null >/dev/null 3>&- &
	LOOM_DAEMON_PID=$!
	echo "$LOOM_DAEMON_PID" >>"$dir/daemons.pids"
	# tail -f waits on inotify; it ends with the daemon if that dies.
	if ! timeout 30 grep -q -m1 -E '^([^ ]+: )?ready|"msg":"ready' \
	    <(tail --pid="$LOOM_DAEMON_PID" -n +1 -f "$LOOM_DAEMON_LOG" \
	    3>&- 2>/dev/null); then
		echo "# $name did not become ready; its log:" >&3
		sed 's/^/#   /' "$LOOM_DAEMON_LOG" >&3
		kill "$LOOM_DAEMON_PID" 2>/dev/null
		return 1
	fi
	export LOOM_DAEMON_PID LOOM_DAEMON_LOG
}

# loom_is_daemon PID: PID is still one of our programs (a pid read back
# from daemons.pids may have been reused by now).
loom_is_daemon() {
	case $(ps -o args= -p "$1" 2>/dev/null) in
	"$LOOM_BIN"/*) return 0 ;;
	*) return 1 ;;
	esac
}

loom_daemon_stop() {
	local pid=$1 child=0
	loom_is_daemon "$pid" || return 0
	[ "$(ps -o ppid= -p "$pid" 2>/dev/null | tr -d ' ')" != "$BASHPID" ] ||
	    child=1
	kill -TERM "$pid" 2>/dev/null || return 0
	if ! timeout 30 tail --pid="$pid" -f /dev/null 3>&-; then
		echo "# $pid did not stop within 30s; killing it" >&2
		kill -KILL "$pid" 2>/dev/null
	fi
	# a child's exit status; one started by another shell (setup_file)
	# has none to give
	[ "$child" = 0 ] || wait "$pid"
}

# loom_show_logs: the last lines of every daemon's log, for a failed test.
loom_show_logs() {
	local f
	for f in "$LOOM_TEST_DIR"/loom-*.log; do
		echo "--- $f (last lines)"
		tail -n 25 "$f"
	done
}

# loom_stop_all: whatever the helpers started, last first (each stop does
# nothing for what was not started).
loom_stop_all() {
	loom_daemons_stop
	loom_api_stop
	loom_backend_stop
	loom_pg_stop
}

loom_daemons_stop() {
	local dir=${LOOM_TEST_DIR:-${BATS_FILE_TMPDIR:-/tmp}} p
	[ -f "$dir/daemons.pids" ] || return 0
	while read -r p; do
		loom_daemon_stop "$p" || true
	done <"$dir/daemons.pids"
	rm -f "$dir/daemons.pids"
}

# Shared by the end-to-end files (a file may define its own to differ).
# sql SQL: one statement on the test database, unaligned output.
sql() {
	psql -X -q -At -v ON_ERROR_STOP=1 "$LOOM_DATABASE_URL" -c "$1"
}

# apply FILE: loom-api stores the workflow.
apply() {
	local out=$BATS_TEST_TMPDIR/apply.out code
	code=$(curl -sS -o "$out" -w '%{http_code}' -X POST \
	    -H 'Content-Type: application/yaml' --data-binary "@$1" \
	    "$LOOM_API/api/v1/workflows") || return 1
	case $code in
	200 | 201) ;;
	*)
		echo "apply $1: HTTP $code: $(cat "$out")"
		return 1
		;;
	esac
}

# trigger WORKFLOW [INPUT-JSON]: prints the new execution id.
trigger() {
	curl -sS -X POST -H 'Content-Type: application/json' \
	    --data "{\"input\":${2:-{\}}}" \
	    "$LOOM_API/api/v1/workflows/$1/trigger" | jq -er .executionId
}

# finished ID: the run's JSON once it is terminal (long polls of 30s, two
# minutes at most).
finished() {
	local body status
	for _ in 1 2 3 4; do
		body=$(curl -sS "$LOOM_API/api/v1/executions/$1?wait=30s") ||
		    return 1
		status=$(jq -r .status <<<"$body")
		case $status in
		SUCCESS | FAILED | CANCELLED)
			printf '%s\n' "$body"
			return 0
			;;
		esac
	done
	echo "execution $1 is still $status: $body" >&2
	return 1
}

# all_succeeded RUN-JSON N: the run ended SUCCESS with N tasks, each
# SUCCESS at its first attempt.
all_succeeded() {
	assert_equal "$(jq -r .status <<<"$1")" SUCCESS
	assert_equal "$(jq '.tasks | length' <<<"$1")" "$2"
	assert_equal "$(jq '[.tasks[] | select(.state == "SUCCESS" and
	    .attempt == 1)] | length' <<<"$1")" "$2"
}

# switches PID: the context switches of every thread of PID so far (each
# sleep it wakes from counts one)
switches() {
	cat /proc/"$1"/task/*/status |
	    awk '/^(non)?voluntary_ctxt_switches:/ { n += $2 } END { print n }'
}

# quiet SECONDS PID...: none of them woke up in a window of SECONDS
quiet() {
	local secs=$1 p i=0 before=()
	shift
	for p; do before+=("$(switches "$p")"); done
	sleep "$secs"
	for p; do
		if [ "$(switches "$p")" != "${before[$i]}" ]; then
			echo "pid $p ($(cat /proc/"$p"/comm)) woke up" \
			    "$(($(switches "$p") - before[i])) times in ${secs}s"
			return 1
		fi
		i=$((i + 1))
	done
}
