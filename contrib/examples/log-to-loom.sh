#!/bin/sh
# log-to-loom.sh EXECUTION TASK [LEVEL]: each line of standard input into
# the run's log, through loom-log's socket (loom-ipc(7)), so that
# `loom execution logs EXECUTION` and the web UI show it beside the tasks'
# own output.  Exits 0 once loom-log confirmed every line is kept, 1 if it
# did not (loom-log down, a record refused).
#   $ pg_dump mydb 2>&1 >/backup/db.sql | log-to-loom.sh "$LOOM_EXECUTION_ID" backup warn
# LOOM_LOG_SOCKET: the socket (logd.socket in loom.conf(5)); default
# /run/loom/log.sock.  Needs jq(1) and socat(1).
set -eu
[ $# -ge 2 ] || { echo "usage: log-to-loom.sh EXECUTION TASK [LEVEL]" >&2; exit 2; }
sock=${LOOM_LOG_SOCKET:-/run/loom/log.sock}
answers=$({
	# jq escapes the text: quotes and backslashes stay what they were
	jq -R -c --arg e "$1" --arg t "$2" --arg l "${3:-info}" \
	    '{v: 1, t: "log", execution: $e, task: $t, level: $l,
	      stream: "script", msg: .}'
	echo '{"v":1,"t":"sync","id":"log-to-loom"}'
} | socat -t 30 - "UNIX-CONNECT:$sock")
# loom-log answers a refused record with an error, and the sync once
# every record before it is kept
if printf '%s\n' "$answers" | grep '"t":"error"' >&2; then
	exit 1
fi
printf '%s\n' "$answers" | grep -q '"t":"synced","id":"log-to-loom"'
