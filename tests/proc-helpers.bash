# What a running process was started with, for the bats files; loaded by
# helpers.bash, and by the files that do without it (up.bats).

# has_env PID NAME=VALUE: the environment PID was started with has it;
# else says what of NAME it has, and fails.
has_env() {
	tr '\0' '\n' <"/proc/$1/environ" | grep -qxF "$2" && return 0
	echo "$1: no $2 but: $(tr '\0' '\n' <"/proc/$1/environ" |
	    grep "^${2%%=*}=" || echo none)"
	return 1
}
