#!/usr/bin/env bats
# The pure core reads no clock, environment or file for time zones: cron,
# the TZif reader and the calendar call none of the C library's time zone,
# environment or file functions (nm -u of their objects in the build).

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

setup() {
	BUILD_DIR="${LOOM_BIN:-$BATS_TEST_DIRNAME/../build/bin}/.."
}

@test "cron, tz and calendar call no time zone, environment or file function" {
	for o in cron tz calendar; do
		f="$BUILD_DIR/lib/core/$o.o"
		[ -f "$f" ] || skip "$f is not built"
		nm -u "$f" >"$BATS_TEST_TMPDIR/nm"
		run grep -E '^ +U (open|read|close|fstat|stat|getenv|secure_getenv|setenv|unsetenv|putenv|tzset|localtime_r|localtime|mktime|timegm|gmtime_r|time|clock_gettime)$' "$BATS_TEST_TMPDIR/nm"
		assert_failure 1
	done
}

@test "nothing under lib/ or cmd/ sets TZ or calls tzset" {
	run grep -rn 'setenv("TZ"\|tzset' "$BATS_TEST_DIRNAME/../lib" \
	    "$BATS_TEST_DIRNAME/../cmd"
	assert_failure 1
}
