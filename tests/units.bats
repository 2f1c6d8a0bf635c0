#!/usr/bin/env bats
# The systemd units: they verify, keep the sandbox scores the README
# records, create the loom user and directories, and boot the stack from
# the *installed* unit files under tests/unitrun (systemd is not PID 1
# here), watchdog included.  As root, the stage gets its own loom user
# (systemd-sysusers --root) and directories (systemd-tmpfiles --root), and
# unitrun runs every daemon as that uid, which has no name on the host;
# as another user the daemons run as that user (the test saying so).

load helpers

BUILD_DIR=$(cd "$LOOM_BIN/.." && pwd)
UNITDIR=$(pkg-config --variable=systemdsystemunitdir systemd)
UNITRUN=$BATS_TEST_DIRNAME/unitrun

setup_file() {
	loom_pg_start
	# short: Unix socket paths under it must fit in 107 bytes
	STAGE=$(mktemp -d /tmp/lu.XXXXXX)
	chmod 755 "$STAGE"
	export STAGE LOOM_API=unix:$STAGE/run/loom/api.sock
	make -s -C "$BATS_TEST_DIRNAME/.." install PREFIX=/usr \
	    DESTDIR="$STAGE" BUILD="$BUILD_DIR" >/dev/null
	# the stage's loom user, in $STAGE/etc/passwd, and /run/loom and
	# /var/lib/loom owned by it; the host's users are left alone
	if [ "$(id -u)" -eq 0 ]; then
		systemd-sysusers --root="$STAGE" >/dev/null
		systemd-tmpfiles --create --root="$STAGE" loom.conf
	fi
	# the site's configuration: this test's database, sockets in the stage
	cat >"$STAGE/etc/loom/loom.conf" <<-EOF
		[database]
		url = $LOOM_DATABASE_URL
		[logd]
		socket = $STAGE/run/loom/log.sock
		spool = $STAGE/var/lib/loom/log.spool
		[control]
		dir = $STAGE/run/loom
		[exec]
		lease = 5s
	EOF
	# drop-ins, as an administrator would write them: the API on its
	# Unix socket only (no fixed port in a test), and a short watchdog
	# for every daemon (the SIGSTOP test below)
	local u
	mkdir -p "$STAGE/etc/systemd/system/loom-api.socket.d"
	printf '[Socket]\nListenStream=\nListenStream=/run/loom/api.sock\n' \
	    >"$STAGE/etc/systemd/system/loom-api.socket.d/test.conf"
	for u in loom-api loom-engine loom-sched loom-log loom-exec@; do
		mkdir -p "$STAGE/etc/systemd/system/$u.service.d"
		printf '[Service]\nWatchdogSec=3s\n' \
		    >"$STAGE/etc/systemd/system/$u.service.d/test.conf"
	done
}

teardown_file() {
	stack_stop
	rm -rf "$STAGE"
	loom_pg_stop
}

# stack_start: every installed unit under unitrun; waits for the last
# one's "ready" line (each waits for the one before).
stack_start() {
	local out=$STAGE/unitrun.out
	: >"$out"
	"$UNITRUN" --root "$STAGE" --unitdir "$UNITDIR" --logdir "$STAGE" \
	    --abort-timeout 1 \
	    loom-log.socket loom-log.service loom-api.socket \
	    loom-api.service loom-engine.service loom-exec@1.service \
	    loom-sched.service >>"$out" 2>&1 3>&- &
	echo $! >"$STAGE/unitrun.pid"
	timeout 60 grep -q -m1 '^ready loom-sched.service' \
	    <(tail --pid="$(cat "$STAGE/unitrun.pid")" -n +1 -f "$out" \
	    2>/dev/null 3>&-) || {
		cat "$out" "$STAGE"/*.log
		return 1
	}
}

stack_stop() {
	local pid
	[ -f "$STAGE/unitrun.pid" ] || return 0
	pid=$(cat "$STAGE/unitrun.pid")
	kill -TERM "$pid" 2>/dev/null || true
	timeout 60 tail --pid="$pid" -f /dev/null 3>&- || true
	rm -f "$STAGE/unitrun.pid"
}

write_flow() {
	cat >"$STAGE/flow.yaml" <<-EOF
		id: units-smoke
		tasks:
		  - id: hello
		    type: shell
		    command: echo hello from the installed units
		  - id: after
		    type: shell
		    command: id -u >$STAGE/var/lib/loom/task.uid
		    dependsOn: [hello]
	EOF
}

@test "the built units pass systemd-analyze verify" {
	cd "$BUILD_DIR/systemd"
	run systemd-analyze verify --man=no loom-api.service loom-api.socket \
	    loom-engine.service loom-sched.service loom-log.service \
	    loom-log.socket loom-exec@.service loom.target
	[ "$status" -eq 0 ] || fail "$output"
	[ -z "$output" ] || fail "$output"
	run grep -l '@SBINDIR@' ./*
	[ "$status" -ne 0 ]
}

@test "the installed units verify, Documentation= pages included" {
	local d=$STAGE/verify
	# the installed files with the staged programs' paths; man(1) finds
	# the staged pages through MANPATH
	mkdir -p "$d"
	for u in "$STAGE$UNITDIR"/loom*; do
		sed "s|=/usr/sbin/|=$STAGE/usr/sbin/|" "$u" >"$d/${u##*/}"
	done
	cd "$d"
	run env MANPATH="$STAGE/usr/share/man" systemd-analyze verify \
	    --man=yes loom-api.service loom-api.socket loom-engine.service \
	    loom-sched.service loom-log.service loom-log.socket \
	    loom-exec@.service loom.target
	[ "$status" -eq 0 ] || fail "$output"
	[ -z "$output" ] || fail "$output"
}

@test "every service is Type=notify, watchdogged, restarted, documented" {
	local u
	for u in "$BUILD_DIR"/systemd/*.service; do
		grep -qx 'Type=notify' "$u" || fail "$u: Type="
		grep -qx 'WatchdogSec=30s' "$u" || fail "$u: WatchdogSec="
		grep -qx 'Restart=on-failure' "$u" || fail "$u: Restart="
		grep -qx 'KillMode=control-group' "$u" || fail "$u: KillMode="
		grep -q '^Documentation=man:' "$u" || fail "$u: Documentation="
	done
}

@test "every service whose program loads libmongoc sets MONGOC_DISABLE_SHM=1" {
	local u prog n=0
	for u in "$BUILD_DIR"/systemd/*.service; do
		prog=$(sed -n 's|^ExecStart=\([^ ]*\).*|\1|p' "$u")
		prog=${prog##*/}
		[ -x "$LOOM_BIN/$prog" ] || fail "$u: no $LOOM_BIN/$prog"
		ldd "$LOOM_BIN/$prog" | grep -q 'libmongoc' || continue
		n=$((n + 1))
		grep -qx 'Environment=MONGOC_DISABLE_SHM=1' "$u" ||
		    fail "$u: $prog loads libmongoc, no MONGOC_DISABLE_SHM=1"
	done
	# loom-api and loom-log at least (the log store's two ends)
	[ "$n" -ge 2 ] || fail "only $n services load libmongoc"
}

# score UNIT-FILE: the overall exposure systemd-analyze gives it
score() {
	systemd-analyze security --offline=true "$1" 2>/dev/null |
	    sed -n 's/^→ Overall exposure level for [^:]*: \([0-9.]*\) .*/\1/p'
}

@test "sandbox scores: 2.0 or less, loom-exec below 5.0, as the README says" {
	local u s want
	for u in loom-api loom-sched loom-engine loom-log loom-exec@; do
		s=$(score "$BUILD_DIR/systemd/$u.service")
		[ -n "$s" ] || fail "$u: no score"
		case $u in
		loom-exec@) awk -v s="$s" 'BEGIN { exit !(s < 5.0) }' ;;
		*) awk -v s="$s" 'BEGIN { exit !(s <= 2.0) }' ;;
		esac || fail "$u scores $s"
		# the README's table: | `loom-api.service` | 1.2 | ...
		want=$(sed -n "s/^| \`$u.service\` *| \([0-9.]*\) .*/\1/p" \
		    "$BATS_TEST_DIRNAME/../README.md")
		[ "$want" = "$s" ] || fail "$u scores $s, the README says '$want'"
	done
}

@test "sysusers.d makes the loom user, tmpfiles.d its directories" {
	local root=$STAGE/sysroot
	mkdir -p "$root/etc"
	cp -R "$STAGE/usr" "$root/"
	systemd-sysusers --root="$root"
	grep -q '^loom:x:[0-9]*:[0-9]*:Link Loom:/var/lib/loom:' \
	    "$root/etc/passwd"
	grep -q '^loom:x:' "$root/etc/group"
	systemd-tmpfiles --root="$root" --create loom.conf
	[ -d "$root/run/loom" ] && [ -d "$root/var/lib/loom" ]
	uid=$(awk -F: '$1 == "loom" { print $3 }' "$root/etc/passwd")
	[ "$(stat -c '%a %u' "$root/var/lib/loom")" = "750 $uid" ]
	[ "$(stat -c '%a %u' "$root/run/loom")" = "755 $uid" ]
}

@test "the stack boots from the installed units and runs a workflow" {
	stack_start
	grep -q '^ready loom-api.service' "$STAGE/unitrun.out"
	write_flow
	"$STAGE/usr/bin/loom" workflow apply "$STAGE/flow.yaml"
	run "$STAGE/usr/bin/loom" workflow trigger units-smoke --wait \
	    --timeout 60s
	[ "$status" -eq 0 ] || fail "$output; $(cat "$STAGE"/*.log)"
	run "$STAGE/usr/bin/loom" execution list -o json
	# one JSON object a line
	[ "$(jq -r .status <<<"$output" | sort -u)" = SUCCESS ]
	# loom-api took its socket from loom-api.socket (LISTEN_FDS)
	grep -q 'using 1 socket(s) from systemd' "$STAGE/loom-api.service.log"
}

# loom_uid: the uid of loom in the stage's etc/passwd
loom_uid() {
	awk -F: '$1 == "loom" { print $3 }' "$STAGE/etc/passwd"
}

# runs_as_loom UNIT: its latest process's real, effective, saved and
# filesystem uids (and gids) are the stage's loom user's, with no
# supplementary groups but loom.
runs_as_loom() {
	local u=$1 pid uid gid
	uid=$(loom_uid)
	gid=$(awk -F: '$1 == "loom" { print $3 }' "$STAGE/etc/group")
	[ -n "$uid" ] && [ "$uid" -ne 0 ] || fail "no loom user in the stage"
	pid=$(sed -n "s/^ready $u //p" "$STAGE/unitrun.out" | tail -1)
	[ -n "$pid" ] || fail "$u: not ready: $(cat "$STAGE/unitrun.out")"
	[ "$(awk '$1 == "Uid:" { print $2, $3, $4, $5 }' \
	    "/proc/$pid/status")" = "$uid $uid $uid $uid" ] ||
	    fail "$u ($pid): $(grep -E '^(Uid|Gid|Groups):' "/proc/$pid/status")"
	[ "$(awk '$1 == "Gid:" { print $2, $3, $4, $5 }' \
	    "/proc/$pid/status")" = "$gid $gid $gid $gid" ] ||
	    fail "$u ($pid): $(grep -E '^(Uid|Gid|Groups):' "/proc/$pid/status")"
	[ "$(awk '$1 == "Groups:" { $1 = ""; print }' "/proc/$pid/status" |
	    tr -d ' ')" = "" ] ||
	    fail "$u ($pid): $(grep '^Groups:' "/proc/$pid/status")"
}

@test "each daemon runs as the stage's loom user, and so do its tasks" {
	[ "$(id -u)" -eq 0 ] ||
	    skip "not root: unitrun runs the daemons as $(id -un), not as loom"
	[ -f "$STAGE/unitrun.pid" ] || stack_start
	for u in loom-log loom-api loom-engine loom-exec@1 loom-sched; do
		runs_as_loom "$u.service"
	done
	# the shell task of the smoke workflow, run by loom-exec
	[ -f "$STAGE/var/lib/loom/task.uid" ] || {
		write_flow
		"$STAGE/usr/bin/loom" workflow apply "$STAGE/flow.yaml"
		"$STAGE/usr/bin/loom" workflow trigger units-smoke --wait \
		    --timeout 60s
	}
	[ "$(cat "$STAGE/var/lib/loom/task.uid")" = "$(loom_uid)" ]
	# what they made is theirs: the spool, the control sockets
	[ "$(stat -c %u "$STAGE/var/lib/loom/log.spool")" = "$(loom_uid)" ]
	[ "$(stat -c '%u %a' "$STAGE/run/loom/loom-engine.sock")" = \
	    "$(loom_uid) 660" ]
	# the sockets unitrun made, as SocketUser= and SocketMode= say
	[ "$(stat -c '%u %a' "$STAGE/run/loom/log.sock")" = "$(loom_uid) 660" ]
	[ "$(stat -c '%u %a' "$STAGE/run/loom/api.sock")" = "$(loom_uid) 660" ]
}

@test "loom-api and loom-log get MONGOC_DISABLE_SHM=1 from their units: no /dev/shm/mongoc-PID" {
	local u pid out
	[ -f "$STAGE/unitrun.pid" ] || stack_start
	for u in loom-api loom-log; do
		pid=$(sed -n "s/^ready $u.service //p" "$STAGE/unitrun.out" |
		    tail -1)
		[ -n "$pid" ] || fail "$u: not ready: $(cat "$STAGE/unitrun.out")"
		out=$(has_env "$pid" MONGOC_DISABLE_SHM=1) || fail "$u: $out"
		[ ! -e "/dev/shm/mongoc-$pid" ] ||
		    fail "$u ($pid) made /dev/shm/mongoc-$pid"
	done
}

# stage_status: loom status with the stage's loom.conf, as an operator
# of the staged host would run it
stage_status() {
	env -u LOOM_CONTROL_DIR LOOM_CONFIG="$STAGE/etc/loom/loom.conf" \
	    "$STAGE/usr/bin/loom" status
}

@test "loom-exec@1 answers in its runtime directory, and loom status finds it" {
	local sock
	[ -f "$STAGE/unitrun.pid" ] || stack_start
	sock=$STAGE/run/loom/exec-1/loom-exec-$(hostname)-1.sock
	[ -S "$sock" ] || fail "no $sock: $(ls -lR "$STAGE/run/loom")"
	# nothing of the executor's in /run/loom itself
	run ls "$STAGE/run/loom"
	refute_output --partial loom-exec
	if [ "$(id -u)" -eq 0 ]; then
		[ "$(stat -c '%u %a' "$STAGE/run/loom/exec-1")" = \
		    "$(loom_uid) 755" ]
		[ "$(stat -c '%u %a' "$sock")" = "$(loom_uid) 660" ]
	fi
	run stage_status
	[ "$status" -eq 0 ] || fail "$output"
	assert_line --regexp "^loom-exec +$sock +[0-9]+ "
	refute_output --partial "not answering"
}

@test "a task cannot remove the sockets in /run/loom, only its executor's" {
	local f
	[ "$(id -u)" -eq 0 ] ||
	    skip "not root: unitrun cannot make /run/loom read-only"
	[ -f "$STAGE/unitrun.pid" ] || stack_start
	cat >"$STAGE/rm.yaml" <<-EOF
		id: units-rm
		tasks:
		  - id: rm
		    type: shell
		    command: |
		      rm -f $STAGE/run/loom/*.sock 2>$STAGE/var/lib/loom/rm.err
		      touch $STAGE/run/loom/exec-1/mine
	EOF
	"$STAGE/usr/bin/loom" workflow apply "$STAGE/rm.yaml"
	run "$STAGE/usr/bin/loom" workflow trigger units-rm --wait \
	    --timeout 60s
	# the sockets are still there, rm(1) was refused
	for f in api.sock log.sock loom-api.sock loom-engine.sock \
	    loom-sched.sock; do
		[ -S "$STAGE/run/loom/$f" ] || fail "$f is gone: $output"
	done
	grep -q 'Read-only file system' "$STAGE/var/lib/loom/rm.err" ||
	    fail "$(cat "$STAGE/var/lib/loom/rm.err")"
	# and the task wrote in its executor's runtime directory
	[ "$status" -eq 0 ] || fail "$output"
	[ -f "$STAGE/run/loom/exec-1/mine" ]
	run stage_status
	[ "$status" -eq 0 ] || fail "$output"
	assert_line --regexp "^loom-api +$STAGE/run/loom/loom-api.sock +[0-9]+ "
	refute_output --partial "not answering"
}

# stop_and_see_restarted UNIT: SIGSTOP its process; the watchdog kills it
# and unitrun starts it again, ready under a new pid.
stop_and_see_restarted() {
	local u=$1 out=$STAGE/unitrun.out old new n
	old=$(sed -n "s/^ready $u //p" "$out" | tail -1)
	n=$(grep -c "^ready $u " "$out")
	kill -STOP "$old" 2>/dev/null ||
	    fail "$u: its ready process $old is gone: $(tail -40 "$out")"
	timeout 30 grep -q -m1 "^watchdog $u $old\$" \
	    <(tail -n +1 -f "$out" 3>&-)
	# one "ready" line more, with the new pid (grep -q, or grep into
	# /dev/null, stops at the first line)
	timeout 60 grep -m$((n + 1)) "^ready $u " \
	    <(tail -n +1 -f "$out" 3>&-) >"$STAGE/ready.lines"
	new=$(sed -n "s/^ready $u //p" "$out" | tail -1)
	[ "$new" != "$old" ] || fail "$u: $(cat "$out")"
	if kill -0 "$old" 2>/dev/null; then
		fail "$u: $old still runs beside $new"
	fi
	# killed, libmongoc (loom-api, loom-log) removed no counters file:
	# none was made
	[ ! -e "/dev/shm/mongoc-$old" ] || fail "$u left /dev/shm/mongoc-$old"
	# restarted as loom too
	[ "$(id -u)" -ne 0 ] || runs_as_loom "$u"
}

@test "each daemon stopped with SIGSTOP is killed by the watchdog and restarted" {
	[ -f "$STAGE/unitrun.pid" ] || stack_start
	for u in loom-engine loom-api loom-sched loom-log loom-exec@1; do
		stop_and_see_restarted "$u.service"
	done
	# the restarted stack carries runs on (loom-api on the same socket)
	run "$STAGE/usr/bin/loom" workflow trigger units-smoke --wait \
	    --timeout 60s
	[ "$status" -eq 0 ] || fail "$output"
	# loom-exec@1 in a new runtime directory: what a task left in the
	# old one is gone
	[ -S "$STAGE/run/loom/exec-1/loom-exec-$(hostname)-1.sock" ]
	[ ! -e "$STAGE/run/loom/exec-1/mine" ]
}

@test "the runtime directory of loom-exec@1 is removed when it stops" {
	[ -f "$STAGE/unitrun.pid" ] || stack_start
	[ -d "$STAGE/run/loom/exec-1" ]
	stack_stop
	[ ! -e "$STAGE/run/loom/exec-1" ] || fail "$(ls -lR "$STAGE/run/loom")"
	[ -d "$STAGE/run/loom" ]
}

@test "loom up from an installation finds the daemons in sbin" {
	local dir=$STAGE/up out=$STAGE/up.out
	mkdir -p "$dir"
	: >"$out" # there before tail looks: -f gives up on a missing file
	env -u LOOM_API LOOM_DATADIR="$STAGE/usr/share/loom" \
	    PATH=/usr/bin:/bin "$STAGE/usr/bin/loom" up --state-dir "$dir" \
	    --db "$LOOM_DATABASE_URL" --listen 127.0.0.1:0 --no-sample \
	    >"$out" 2>&1 3>&- &
	local pid=$!
	timeout 60 grep -q -m1 'UI:' <(tail --pid=$pid -n +1 -f "$out" 3>&-) ||
	    { kill $pid; fail "$(cat "$out")"; }
	run pgrep -f "^$STAGE/usr/bin/../sbin/loom-engine"
	kill -INT $pid
	wait $pid || true
	[ "$status" -eq 0 ] || fail "no loom-engine from sbin: $(cat "$out")"
}
