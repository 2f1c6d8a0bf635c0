#!/bin/bash
# Runs Link Loom's tests and prints one closing line "N passed, N failed".
#
#   tests/run-tests.sh [unit] [cli] [bats]   (default: all)
#
# unit: every build/tests/test_* program (TAP).
# cli:  the bats files for the loom command (tests/cli-*.bats).
# bats: every tests/*.bats file (TAP).
# VALGRIND=1 runs the unit tests under valgrind with leak checking.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
case $BUILD in
/*) LOOM_BIN=$BUILD/bin ;;
*) LOOM_BIN=$PWD/$BUILD/bin ;;
esac
export BUILD LOOM_BIN
kinds=${*:-unit bats}
pass=0 fail=0 status=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

count() {	# count TAP results in $log, echo a failure summary
	local p f
	p=$(grep -cE '^ok ' "$log")
	f=$(grep -cE '^not ok ' "$log")
	pass=$((pass + p)); fail=$((fail + f))
	if [ "$1" -ne 0 ] && [ "$f" -eq 0 ]; then
		# a crash or a bad plan with no failing line still fails
		echo "not ok - $2 exited with status $1"
		fail=$((fail + 1))
	fi
	[ "$1" -eq 0 ] || status=1
}

for kind in $kinds; do
	case $kind in
	unit)
		for t in "$BUILD"/tests/test_*; do
			[ -x "$t" ] || continue
			echo "# $t"
			if [ "${VALGRIND:-0}" = 1 ]; then
				valgrind -q --leak-check=full --error-exitcode=99 \
				    --errors-for-leak-kinds=definite,indirect "$t" >"$log" 2>&1
			else
				"$t" >"$log" 2>&1
			fi
			rc=$?
			grep -E '^(not ok|#)' "$log" | grep -v '^# ' | head -50
			grep -E '^not ok' -A3 "$log" | head -40
			count $rc "$t"
		done
		;;
	cli|bats)
		if [ "$kind" = cli ]; then files=$(ls tests/cli-*.bats 2>/dev/null)
		else files=$(ls tests/*.bats 2>/dev/null); fi
		[ -n "$files" ] || continue
		for f in $files; do
			echo "# $f"
			bats --tap "$f" >"$log" 2>&1
			rc=$?
			grep -vE '^ok ' "$log" | head -80
			count $rc "$f"
		done
		;;
	*) echo "run-tests.sh: unknown kind '$kind'" >&2; exit 2 ;;
	esac
done
echo "$pass passed, $fail failed"
exit $status
