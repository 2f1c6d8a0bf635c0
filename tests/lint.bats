#!/usr/bin/env bats
# The house rules a tool can check (make lint runs the same): every man
# page is mandoc -Tlint clean, every C file is formatted as .clang-format
# says, and no function of lib/ or cmd/ is over 80
# lines without a "Long: why" comment above it (STYLE: a function that
# does not fit on a screen is usually two).

load helpers

setup() {
	cd "$BATS_TEST_DIRNAME/.."
}

@test "every man page is mandoc -Tlint clean" {
	run make -s lint-man
	assert_success
}

@test "every C file is in the style of .clang-format (make format fixes it)" {
	command -v clang-format >/dev/null ||
	    fail "clang-format is not installed (make deps)"
	run make -s lint-format
	assert_success
}

@test "no function of lib/ or cmd/ is over 80 lines without a reason" {
	run make -s lint-functions
	assert_success
}

@test "the function-length check finds a long function" {
	local f=$BATS_TEST_TMPDIR/long.c
	{ echo 'int'; echo 'long_one(void)'; echo '{'
	  for i in $(seq 90); do echo "	(void)$i;"; done
	  echo '	return 0;'; echo '}'; } >"$f"
	run contrib/lint/long-functions.sh 80 "$f"
	assert_failure
	assert_output --partial 'long_one is 93 lines'
	sed -i '1i /* Long: a table written out. */' "$f"
	run contrib/lint/long-functions.sh 80 "$f"
	assert_success
}
