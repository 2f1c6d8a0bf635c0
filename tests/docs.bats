#!/usr/bin/env bats
# The man pages, checked against the code and the programs they describe,
# so that a new key, option, command or program without documentation
# fails `make check`.  No database needed; the programs must be built.
#
#   - every man/*.[1-8] is clean under mandoc -Tlint -W warning;
#   - loom.conf(5) documents exactly the configuration keys the C code
#     reads (see code_keys below for how they are found);
#   - every installed program in $LOOM_BIN has a man page;
#   - every option of every daemon (each program of cmd/ but loom), in
#     its usage line and in its getopt table, is in its man page, which
#     refers to loom.conf(5);
#   - every page has EXAMPLES, and every page of sections 1 and 8 EXIT
#     STATUS; loom(1)'s EXAMPLES show every command;
#   - every command `loom help` lists has a section in loom(1), and every
#     option of a command (its --help text and its getopt table) appears in
#     that section.
#
# LOOM_BIN comes from tests/run-tests.sh (else build/bin).  LOOM_MAN_DIR
# and LOOM_SRC_DIR move the pages and the sources, so the checks can be
# tried on a doctored copy: they must be able to fail.

bats_require_minimum_version 1.5.0

setup() {
	load '/usr/lib/bats/bats-support/load'
	load '/usr/lib/bats/bats-assert/load'
	REPO="$(cd "$BATS_TEST_DIRNAME/.." && pwd)"
	BIN="${LOOM_BIN:-$REPO/build/bin}"
	LOOM="$BIN/loom"
	MAN="${LOOM_MAN_DIR:-$REPO/man}"
	SRC="${LOOM_SRC_DIR:-$REPO}"
	[ -x "$LOOM" ] || fail "no $LOOM: build first (make)"
}

# The C sources that read configuration: libloom and every program, but
# not the implementation of the config API itself (lib/util/config.[ch]), whose
# own calls pass keys through.  Each file is printed as one line (newlines
# turned into spaces) so that a call split over lines is still one match,
# and #include lines are dropped first so that "log.h" is no key.
flat_sources() {
	local f
	for f in "$SRC"/lib/*/*.c "$SRC"/cmd/*/*.c; do
		case $f in */lib/util/config.c) continue ;; esac
		grep -v '^[[:space:]]*#[[:space:]]*include' "$f" | tr '\n' ' '
		echo
	done
}

# code_keys: every configuration key the C code reads, "section.key", one
# per line, sorted.
#
# Keys are "section.key" strings (lib/util/config.h).  A key reaches the
# config_get*() functions in one of two ways:
#   1. as a literal:  config_get(cfg, "exec.name", NULL)
#   2. through a helper that hands its own `key` parameter on, the helper
#      being called with the literal:  opt_int(cfg, "api.threads", ...) in
#      cmd/loom-api/options.c, load_int(c, "breaker.failures", ...) in lib/store/breakerdb.c.
# So the sections are taken from the literal keys of form 1, and the keys
# are every string literal "<section>.<name>" anywhere in the sources,
# which finds the helpers' arguments of form 2 without having to know the
# helpers.  A section read only through helpers would be missed; the test
# "config keys reach config_get only as literals or through a key
# parameter" and the sanity test below guard the assumptions.
code_keys() {
	local flat sections
	flat=$(flat_sources)
	sections=$(grep -oE 'config_get[a-z_]*\([^,()]*,[[:space:]]*"[a-z][a-z0-9_]*\.' \
	    <<<"$flat" | sed -E 's/.*"([a-z0-9_]+)\.$/\1/' | sort -u |
	    paste -sd '|')
	[ -n "$sections" ] || return 1
	grep -oE "\"($sections)\.[a-z][a-z0-9_]*\"" <<<"$flat" | tr -d '"' |
	    sort -u
}

# The key arguments of config_get*() calls that are neither a literal
# "section.key" nor the identifier `key` (a helper's parameter).
odd_key_arguments() {
	flat_sources |
	    grep -oE 'config_get[a-z_]*\([^,()]*,[[:space:]]*[^[:space:],)]+' |
	    sed -E 's/^[^,]*,[[:space:]]*//' |
	    grep -vE '^("[a-z0-9_]+\.[a-z0-9_]+"|key)$'
}

# doc_keys: the keys loom.conf(5) documents: each ".It Cm NAME" item under
# a ".Ss [SECTION]" heading, up to the next heading, as "SECTION.NAME".
doc_keys() {
	awk '
	/^\.S[hs] / { sec = "" }
	/^\.Ss \[[a-z0-9_]+\]$/ { sec = $2; gsub(/[][]/, "", sec); next }
	sec != "" && /^\.It Cm [a-z0-9_]+/ { print sec "." $3 }
	' "$MAN/loom.conf.5" | sort -u
}

# The lines of loom(1) in the subsection ".Ss loom CMD ...", up to the next
# heading.
loom1_section() {
	awk -v cmd="$1" '
	/^\.S[hs] / { on = ($1 == ".Ss" && $2 == "loom" && $3 == cmd); next }
	on
	' "$MAN/loom.1"
}

# The commands `loom help` lists, one per line (version and help too).
loom_commands() {
	"$LOOM" help | sed -nE 's/^  ([a-z][a-z-]*) .*/\1/p'
}

@test "mandoc -Tlint -W warning is clean for every man page" {
	local -a pages=("$MAN"/*.[1-8])
	[ -e "${pages[0]}" ] || fail "no man pages in $MAN"
	run mandoc -Tlint -W warning "${pages[@]}"
	assert_success
	assert_output ''
}

@test "the key extraction finds literal keys and keys passed to helpers" {
	run code_keys
	assert_success
	# read with a literal, directly
	assert_line database.url
	assert_line exec.name
	# read through helpers: opt_int() in options.c, load_duration() in
	# breakerdb.c
	assert_line api.threads
	assert_line breaker.window
	# no header or file name slipped in
	refute_line --regexp '\.(h|c|conf|yaml|sock)$'
	[ "${#lines[@]}" -ge 25 ] ||
	    fail "only ${#lines[@]} keys found: the extraction is broken"
}

@test "config keys reach config_get only as literals or through a key parameter" {
	# code_keys relies on this: a key name built at run time
	# (xasprintf("%s.%s", ...)) would be invisible to it.
	run odd_key_arguments
	assert_output ''
}

@test "loom.conf(5) documents every config key the code reads" {
	local missing
	[ -f "$MAN/loom.conf.5" ] || fail "no $MAN/loom.conf.5"
	missing=$(comm -23 <(code_keys) <(doc_keys))
	[ -z "$missing" ] ||
	    fail "read by the code but not in loom.conf(5):"$'\n'"$missing"
}

@test "loom.conf(5) documents no key that the code does not read" {
	local extra
	extra=$(comm -13 <(code_keys) <(doc_keys))
	[ -z "$extra" ] ||
	    fail "in loom.conf(5) but read by no code:"$'\n'"$extra"
}

@test "every installed program in LOOM_BIN has a man page" {
	local prog name n=0 missing=""
	for prog in "$BIN"/*; do
		[ -f "$prog" ] && [ -x "$prog" ] || continue
		name=${prog##*/}
		# `make install` installs the programs of cmd/*; helpers built
		# beside them (the sample backend of `loom up`) are not
		# installed and have no page.
		[ -d "$SRC/cmd/$name" ] || continue
		n=$((n + 1))
		compgen -G "$MAN/$name.[1-8]" >/dev/null ||
		    missing+=" $name"
	done
	[ "$n" -gt 0 ] || fail "no programs in $BIN"
	[ -z "$missing" ] || fail "programs without a man page:$missing"
}

@test "every command of 'loom help' has a section in loom(1)" {
	local cmd missing=""
	run loom_commands
	[ "${#lines[@]}" -ge 8 ] || fail "loom help listed: $output"
	for cmd in "${lines[@]}"; do
		grep -qE "^\.Ss loom $cmd( |$)" "$MAN/loom.1" ||
		    missing+=" $cmd"
	done
	[ -z "$missing" ] || fail "no '.Ss loom CMD' in loom(1) for:$missing"
}

@test "every long option in 'loom CMD --help' is in that command's section of loom(1)" {
	local cmd opt help missing=""
	for cmd in $(loom_commands); do
		case $cmd in version|help) continue ;; esac
		help=$("$LOOM" "$cmd" --help) ||
		    fail "loom $cmd --help exited with $?"
		for opt in $(grep -oE -- '--[a-z][a-z-]*' <<<"$help" | sort -u)
		do
			if [ "$opt" = --help ]; then
				# documented once, for every command
				grep -qE '^\.Fl -help( |$)' "$MAN/loom.1" ||
				    missing+=" $opt"
				continue
			fi
			# mdoc writes --opt as "Fl -opt"
			loom1_section "$cmd" | grep -qE -- "Fl ${opt#-}( |$)" ||
			    missing+=" $cmd:$opt"
		done
	done
	[ -z "$missing" ] || fail "not in loom(1):$missing"
}

@test "every option in the getopt tables of loom's commands is in loom(1)" {
	# cmd/loom/cmd_NAME.c (or cmd_NAME_MORE.c) implements `loom NAME`.  Its
	# long options are the { "name", ..._argument, ... } rows of its
	# table (plus those of each CLI_*_OPTIONS macro of cli.h it uses); its short
	# options are the optstring given to getopt_long().  -h/--help is
	# documented once for all.
	local f cmd opts short c missing=""
	for f in "$SRC"/cmd/loom/cmd_*.c; do
		cmd=${f##*/cmd_}
		cmd=${cmd%.c}
		cmd=${cmd%%_*}	# cmd_workflow_life.c: more of `loom workflow`
		# (a file may have no table: cmd_db_prune.c's are cmd_db.c's)
		opts=$(grep -oE '\{ *"[a-z][a-z-]*", *[a-z_]+_argument' "$f" ||
		    true)
		# ...and the rows of each CLI_*_OPTIONS macro of cli.h it uses
		for m in $(grep -oE 'CLI_[A-Z]+_OPTIONS' "$f" | sort -u); do
			opts+=$'\n'$(awk -v m="$m" '$0 ~ "^#define " m "( |$)" { on = 1 }
			    on { print } on && !/\\$/ { on = 0 }' \
			    "$SRC/cmd/loom/cli.h" |
			    grep -oE '\{ *"[a-z][a-z-]*", *[a-z_]+_argument')
		done
		for c in $(sed -nE 's/^\{ *"([a-z-]+)".*/\1/p' <<<"$opts" |
		    sort -u); do
			[ "$c" = help ] && continue
			loom1_section "$cmd" | grep -qE -- "Fl -$c( |$)" ||
			    missing+=" $cmd:--$c"
		done
		short=$(tr '\n' ' ' <"$f" |
		    grep -oE 'getopt_long\([^"]*"[^"]*"' | sed -E 's/.*"(.*)"$/\1/' |
		    tr -d ':')
		for c in $(grep -o . <<<"$short" | sort -u); do
			[ "$c" = h ] && continue
			loom1_section "$cmd" | grep -qE -- "Fl $c( |$)" ||
			    missing+=" $cmd:-$c"
		done
	done
	[ -z "$missing" ] || fail "options not in loom(1):$missing"
}

# The daemons: every program of cmd/ but the loom command line, whose
# options loom(1) documents command by command (tests above).
daemons() {
	local d
	for d in "$SRC"/cmd/*/; do
		d=${d%/}
		d=${d##*/}
		[ "$d" = loom ] || echo "$d"
	done
}

@test "every option in a daemon's usage line is in its man page" {
	local d opt missing="" n=0
	for d in $(daemons); do
		[ -x "$BIN/$d" ] || fail "no $BIN/$d"
		n=$((n + 1))
		# -dnv and -c FILE as -d -n -v -c; --long as it is
		for opt in $("$BIN/$d" -h 2>&1 | grep -oE '\[[^]]*\]' |
		    grep -oE -- '(^|[[ ])(-[a-zA-Z]+|--[a-z][a-z-]*)' | tr -d '[ ' |
		    sed -E 's/^-([a-zA-Z]+)$/\1/' | while read -r o; do
			case $o in
			--*) echo "$o" ;;
			*) grep -o . <<<"$o" | sed 's/^/-/' ;;
			esac
		done | sort -u); do
			[ "$opt" = -h ] && continue
			grep -qE -- "^\.It Fl ${opt#-}( |$)|Fl ${opt#-}( |$)" "$MAN/$d.8" ||
			    missing+=" $d:$opt"
		done
	done
	[ "$n" -ge 5 ] || fail "only $n daemons found in $SRC/cmd"
	[ -z "$missing" ] || fail "options not in their man page:$missing"
}

@test "every option in a daemon's getopt table is in its man page" {
	# The long options are the { "name", ..._argument, ... } rows of the
	# daemon's sources, the short ones the optstring given to getopt()
	# or getopt_long(); -h/--help prints the usage and needs no entry.
	local d f c opts short missing=""
	for d in $(daemons); do
		[ -f "$MAN/$d.8" ] || { missing+=" $d:no-page"; continue; }
		opts="" short=""
		for f in "$SRC/cmd/$d"/*.c; do
			opts+=$'\n'$(grep -oE '\{ *"[a-z][a-z-]*", *[a-z_]+_argument' "$f" |
			    sed -E 's/^\{ *"([a-z-]+)".*/\1/')
			short+=$(tr '\n' ' ' <"$f" |
			    grep -oE 'getopt(_long)?\([^"]*"[^"]*"' |
			    sed -E 's/.*"(.*)"$/\1/' | tr -d ':+-')
		done
		[ -n "$short" ] || missing+=" $d:no-getopt-found"
		for c in $(sort -u <<<"$opts"); do
			[ "$c" = help ] && continue
			grep -qE -- "Fl -$c( |$)" "$MAN/$d.8" || missing+=" $d:--$c"
		done
		for c in $(grep -o . <<<"$short" | sort -u); do
			[ "$c" = h ] && continue
			grep -qE -- "Fl ([a-zA-Z]*$c[a-zA-Z]*|$c)( |$)" "$MAN/$d.8" ||
			    missing+=" $d:-$c"
		done
	done
	[ -z "$missing" ] || fail "options not in their man page:$missing"
}

# The section headings (.Sh) of a page, one per line.
sections() {
	sed -nE 's/^\.Sh (.*)/\1/p' "$1"
}

@test "every man page has EXAMPLES, and every page of a program EXIT STATUS" {
	local page missing=""
	for page in "$MAN"/*.[1-8]; do
		sections "$page" | grep -qx EXAMPLES ||
		    missing+=" ${page##*/}:EXAMPLES"
		case $page in
		*.1 | *.8)
			sections "$page" | grep -qx 'EXIT STATUS' ||
			    missing+=" ${page##*/}:EXIT-STATUS"
			;;
		esac
	done
	[ -z "$missing" ] || fail "sections missing:$missing"
}

@test "loom(1) shows every command of 'loom help' in its EXAMPLES" {
	local cmd ex missing=""
	ex=$(awk '/^\.Sh / { on = ($2 == "EXAMPLES"); next } on' "$MAN/loom.1")
	for cmd in $(loom_commands); do
		case $cmd in version | help) continue ;; esac
		grep -qE -- "(^|[ (|;])loom $cmd( |$)" <<<"$ex" ||
		    missing+=" $cmd"
	done
	[ -z "$missing" ] || fail "no example in loom(1) for:$missing"
}

@test "loom(1)'s EXIT STATUS says what every command of 'loom help' exits with" {
	# each command is named after ".It Cm" there, alone or in a list
	# (".It Cm execution cancel , execution retry , task rerun")
	local cmd ex missing=""
	ex=$(awk '/^\.Sh / { on = ($0 == ".Sh EXIT STATUS"); next }
	    on && /^\.It Cm / { print }' "$MAN/loom.1")
	[ -n "$ex" ] || fail "no .It Cm items under EXIT STATUS in loom(1)"
	for cmd in $(loom_commands); do
		grep -qE -- "(Cm|,) $cmd( |$)" <<<"$ex" || missing+=" $cmd"
	done
	[ -z "$missing" ] || fail "not in loom(1)'s EXIT STATUS:$missing"
}

@test "every daemon's page refers to loom.conf(5)" {
	# loom.conf(5) is where every key is; each daemon's page points there.
	local d missing=""
	for d in $(daemons); do
		grep -qE '^\.Xr loom\.conf 5' "$MAN/$d.8" || missing+=" $d"
	done
	[ -z "$missing" ] || fail "no .Xr loom.conf 5 in:$missing"
}

@test "loom version and loom help exit 0, loom help of no such command 2 (loom(1) EXIT STATUS)" {
	run -0 "$LOOM" version
	run -0 "$LOOM" help
	run -0 "$LOOM" help token
	run -2 "$LOOM" help no-such-command
}
