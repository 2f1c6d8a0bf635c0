#!/usr/bin/env bats
# make bench's comparison with the peers (contrib/bench/bench-peers.sh) at
# a toy size, one round: every case gives a figure, the settings, the CPU
# times and the heaviest statements are printed, and no process it
# started outlives it.  The figures themselves are not checked: a test
# machine is no benchmark machine.

load helpers

bats_require_minimum_version 1.5.0

setup() {
	command -v node >/dev/null && command -v npm >/dev/null ||
		skip "node and npm are not installed"
	[ -d "$BATS_TEST_DIRNAME/../contrib/bench/peers/node_modules/graphile-worker" ] ||
		(cd "$BATS_TEST_DIRNAME/../contrib/bench/peers" &&
		    npm ci --silent --no-audit --no-fund) ||
		skip "npm ci could not install graphile-worker"
}

@test "bench-peers.sh: every case measured, settings recorded, nothing left running" {
	BUILD=$(dirname "$LOOM_BIN")
	[ -x "$BUILD/bench/noopd" ] || skip "no $BUILD/bench/noopd (make bench builds it)"
	KEEP=1 CHAIN=20 FANOUT=100 RUNS=20 SHELL_TASKS=20 QUEUED=200 BIGQ=2000 \
	    run -0 --separate-stderr timeout 600 \
	    "$BATS_TEST_DIRNAME/../contrib/bench/bench-peers.sh" "$BUILD" 1 3>&-
	out=$output
	dir=$(sed -n 's/^kept //p' <<<"$stderr")
	[ -n "$dir" ] && [ -d "$dir" ]
	# the state directory is kept, every process of the run is gone
	[ ! -e "$dir/pgdata/postmaster.pid" ]
	run ! pgrep -f "$dir"
	rm -rf "$dir"
	for c in "5-task diamond" "Loom, default loom-exec" "localQueue + batch 0" \
	    "graphile-worker strict per hop" "tasks waiting (not due)" \
	    "make -j2 per hop" "Loom per hop" "durable commit" "NOTIFY ping-pong" \
	    "loopback HTTP"; do
		grep -F "$c" <<<"$out" | grep -qE " [0-9]+(\.[0-9]+)? " ||
		    { echo "no figure for: $c"; echo "$out"; false; }
	done
	run ! grep -F NaN <<<"$out"
	grep -q '^PostgreSQL: .*fsync=on.*synchronous_commit=on' <<<"$out"
	grep -q 'loom-exec: RSS' <<<"$out"
	grep -q 'loom-exec=[0-9]* loom-engine=[0-9]* loom-api=[0-9]* noopd=[0-9]* postgres=[0-9]*' <<<"$out"
	grep -q 'the Loom statements that took the most time' <<<"$out"
}
