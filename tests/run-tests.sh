#!/bin/bash
# Runs Link Loom's tests, several files at once, and prints one line per
# file and one closing line "N passed, N failed, N skipped".
#
#   tests/run-tests.sh [unit] [cli] [bats] [asan]   (default: unit bats)
#
# unit: every build/tests/test_* program (TAP).
# cli:  the bats files for the loom command (tests/cli-*.bats).
# bats: every tests/*.bats file (TAP).
# asan: the bats files that can run on a build with AddressSanitizer
#       (make check-asan-daemons): all but those that link the libraries
#       themselves or hold the daemons to memory limits.
#
# Each file is a job; LOOM_TEST_JOBS of them run at once (default: twice
# the CPUs, at least 4: most of a bats file's time is spent waiting on
# PostgreSQL, the daemons and their backends, and each file has its own
# cluster and ports).  The longest files start first: each file's last
# time is kept in $BUILD/test-times.  A file's TAP output is printed when
# it fails, and kept in $BUILD/test-logs/ either way.
#
# "ok ... # skip" lines count as skipped, not passed.  VALGRIND=1 runs the
# unit tests under valgrind with leak checking.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
case $BUILD in
/*) LOOM_BIN=$BUILD/bin ;;
*) LOOM_BIN=$PWD/$BUILD/bin ;;
esac
export BUILD LOOM_BIN
kinds=${*:-unit bats}
cpus=$(nproc 2>/dev/null || echo 2)
jobs=${LOOM_TEST_JOBS:-$((cpus * 2 > 4 ? cpus * 2 : 4))}
logs=$BUILD/test-logs
times=$BUILD/test-times
mkdir -p "$logs"
touch "$times"

files=()
for kind in $kinds; do
	case $kind in
	unit)
		for t in "$BUILD"/tests/test_*; do
			[ -x "$t" ] && files+=("$t")
		done
		;;
	cli) files+=(tests/cli-*.bats) ;;
	bats) files+=(tests/*.bats) ;;
	asan)
		for f in tests/*.bats; do
			case ${f#tests/} in
			memory.bats | core.bats | install.bats | sdk-c.bats) ;;
			*) files+=("$f") ;;
			esac
		done
		;;
	*) echo "run-tests.sh: unknown kind '$kind'" >&2; exit 2 ;;
	esac
done

# Longest first, by the times of the last run (unknown files first of all).
order() {
	local f t
	for f in "${files[@]}"; do
		t=$(awk -v f="$f" '$1 == f { t = $2 } END { print t + 0 }' "$times")
		[ "$t" = 0 ] && t=100000
		printf '%s %s\n' "$t" "$f"
	done | sort -rn -k1,1 | awk '!seen[$2]++ { print $2 }'
}

run_one() {	# run_one FILE: TAP into its log, then "rc secs" into .done
	local f=$1 log=$logs/${1//\//_}.tap start rc
	start=$(date +%s.%N)
	case $f in
	*.bats) bats --tap "$f" >"$log" 2>&1 ;;
	*)
		if [ "${VALGRIND:-0}" = 1 ]; then
			valgrind -q --leak-check=full --error-exitcode=99 \
			    --errors-for-leak-kinds=definite,indirect "$f" \
			    >"$log" 2>&1
		else
			"$f" >"$log" 2>&1
		fi
		;;
	esac
	rc=$?
	echo "$rc $(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')" >"$log.done"
}

pass=0 fail=0 skip=0 status=0
report() {	# report FILE: one line, the failures, the totals
	local f=$1 log=$logs/${1//\//_}.tap rc secs p f_ s
	read -r rc secs <"$log.done"
	s=$(grep -cE '^ok .*# (skip|SKIP)' "$log")
	p=$(($(grep -cE '^ok ' "$log") - s))
	f_=$(grep -cE '^not ok ' "$log")
	if [ "$rc" -ne 0 ] && [ "$f_" -eq 0 ]; then
		# a crash or a bad plan with no failing line still fails
		echo "not ok - $f exited with status $rc" >>"$log"
		f_=1
	fi
	[ "$rc" -eq 0 ] || status=1
	pass=$((pass + p)) fail=$((fail + f_)) skip=$((skip + s))
	printf '%-4s %-34s %4d passed, %d failed, %d skipped  %6.1f s\n' \
	    "$([ "$f_" -eq 0 ] && echo ok || echo FAIL)" "$f" "$p" "$f_" "$s" \
	    "$secs"
	if [ "$f_" -ne 0 ]; then
		grep -E '^not ok' -A12 "$log" | head -80 | sed 's/^/    /'
	fi
	awk -v f="$f" '$1 != f' "$times" >"$times.tmp"
	printf '%s %.0f\n' "$f" "$secs" >>"$times.tmp"
	mv "$times.tmp" "$times"
}

started=$(date +%s)
running=()
for f in $(order); do
	rm -f "$logs/${f//\//_}.tap.done"
	run_one "$f" &
	running+=("$f")
	while [ "${#running[@]}" -ge "$jobs" ]; do
		wait -n
		still=()
		for r in "${running[@]}"; do
			if [ -f "$logs/${r//\//_}.tap.done" ]; then report "$r"
			else still+=("$r"); fi
		done
		running=("${still[@]}")
	done
done
wait
for r in "${running[@]}"; do report "$r"; done
echo "# $((${#files[@]})) files, $jobs at a time, $(($(date +%s) - started)) s"
echo "$pass passed, $fail failed, $skip skipped"
exit $status
