#!/usr/bin/env bats
# lib/core/ is the pure core (lib/core/README): these tests hold it to
# that, from the built archive and from the sources, so that purity is
# checked rather than hoped for.
#
# Break it on purpose to see them fail: add `#include "util/log.h"` or a
# call to time(NULL) to any file of lib/core/, then make and run this file.

load helpers

setup() {
	REPO=$BATS_TEST_DIRNAME/..
	CORE=${LOOM_CORE_LIB:-$(dirname "$LOOM_BIN")/libloomcore.a}
	[ -f "$CORE" ] || fail "no $CORE: build first (make)"
}

@test "libloomcore.a links alone, with libc, libyaml and libjq only" {
	local dir=$BATS_TEST_TMPDIR
	echo 'int main(void) { return 0; }' >"$dir/main.c"
	# every object of the archive, not only what main() would pull in
	run cc -o "$dir/core-alone" "$dir/main.c" -Wl,--whole-archive "$CORE" \
	    -Wl,--no-whole-archive -lyaml -ljq -lonig -lm
	assert_success
}

# Functions that reach the world: files, sockets, processes, the clock, the
# environment, randomness, signals.  The core gets these things handed in.
IMPURE='open|openat|read|write|close|fstat|stat|lstat|fopen|fdopen|fread|fwrite|fgets|opendir|readdir|mmap|socket|connect|bind|accept|send|recv|poll|epoll_wait|select|fork|vfork|execve|execvp|posix_spawn|posix_spawnp|waitpid|kill|signal|sigaction|sleep|usleep|nanosleep|time|clock_gettime|gettimeofday|clock|localtime|localtime_r|gmtime|gmtime_r|mktime|timegm|tzset|getenv|secure_getenv|setenv|unsetenv|putenv|rand|srand|random|srandom|rand_r|getrandom|arc4random|drand48|pthread_create|pthread_mutex_lock|dlopen|system|popen'

@test "no object of lib/core calls I/O, the clock, the environment or randomness" {
	run bash -c "nm -A -u '$CORE' | awk '{ print \$NF, \$1 }' |
	    grep -E '^($IMPURE) '"
	[ -z "$output" ] || fail "impure calls (symbol archive:object):
$output"
}

# The headers a core file may include: its own folder's ("x.h", no
# folder), the C library's that do no I/O, libyaml's and libjq's.
ALLOWED='assert|ctype|errno|float|inttypes|limits|math|stdarg|stdbool|stddef|stdint|stdio|stdlib|string|strings|sys/types|time|jv|jq|yaml'

@test "lib/core includes nothing of Link Loom outside itself, and only pure system headers" {
	local f line bad=
	for f in "$REPO"/lib/core/*.[ch]; do
		while IFS= read -r line; do
			case $line in
			*'"'*/*'"'*) bad+="$f: $line"$'\n' ;;
			*'"'*) [ -f "$REPO/lib/core/$(echo "$line" |
			    sed 's/.*"\(.*\)".*/\1/')" ] ||
			    bad+="$f: $line (no such file here)"$'\n' ;;
			*'<'*)
				echo "$line" | grep -qE "<($ALLOWED)\.h>" ||
				    bad+="$f: $line"$'\n' ;;
			esac
		done < <(grep -E '^[[:space:]]*#[[:space:]]*include' "$f")
	done
	[ -z "$bad" ] || fail "includes from outside lib/core:
$bad"
}

@test "every lib/core source is in the archive" {
	local f missing=
	for f in "$REPO"/lib/core/*.c; do
		f=$(basename "$f" .c).o
		ar t "$CORE" | grep -qx "$f" || missing+=" $f"
	done
	[ -z "$missing" ] || fail "not in $CORE:$missing"
}

@test "nothing under lib/ or cmd/ sets TZ or calls tzset (zones are TZif data handed to lib/core/tz)" {
	run grep -rn 'setenv("TZ"\|tzset' "$REPO/lib" "$REPO/cmd"
	assert_failure 1
}
