#!/usr/bin/env bats
# The fuzz targets' inputs replayed with the normal build: every seed of
# tests/fuzz/corpus/NAME and every input that once crashed a target,
# kept in tests/fuzz/regress/NAME, through the target's own checks
# (tests/fuzz/fuzz_NAME.c, linked with tests/fuzz/replay.c instead of
# libFuzzer by `make tests`).  A property that breaks aborts the replay.
# The fuzzing itself is `make check-fuzz` (tests/fuzz/README).

bats_require_minimum_version 1.5.0

load helpers

setup() {
	REPO=$BATS_TEST_DIRNAME/..
	REPLAY=$(dirname "$LOOM_BIN")/tests/fuzz-replay
}

targets() {
	local f
	for f in "$REPO"/tests/fuzz/fuzz_*.c; do
		f=${f##*/fuzz_}
		echo "${f%.c}"
	done
}

@test "every fuzz target has a seed corpus, a replay program and a line in tests/fuzz/README" {
	local t missing=""
	for t in $(targets); do
		compgen -G "$REPO/tests/fuzz/corpus/$t/*" >/dev/null ||
		    missing+=" $t:corpus"
		[ -x "$REPLAY/$t" ] || missing+=" $t:replay"
		grep -qE "^ *fuzz_$t " "$REPO/tests/fuzz/README" ||
		    missing+=" $t:README"
	done
	[ -z "$missing" ] || fail "missing:$missing"
}

@test "the seeds and the old crashes of every fuzz target pass its checks" {
	local t dirs
	for t in $(targets); do
		dirs=("$REPO/tests/fuzz/corpus/$t")
		[ -d "$REPO/tests/fuzz/regress/$t" ] &&
		    dirs+=("$REPO/tests/fuzz/regress/$t")
		run --separate-stderr "$REPLAY/$t" "${dirs[@]}"
		[ "$status" -eq 0 ] ||
		    fail "fuzz_$t failed (status $status) on: $(tail -n 3 <<<"$stderr")"
		[[ $output =~ ^[1-9][0-9]*\ inputs$ ]] ||
		    fail "fuzz_$t replayed: $output"
	done
}

@test "a replay fails when an input is missing rather than passing on nothing" {
	run "$REPLAY/ipc" "$BATS_TEST_TMPDIR/no-such-input"
	assert_failure 2
}
