#!/usr/bin/env bats
# `make install` stages what a user needs: programs, man pages, units with
# the right paths, schema and examples; `make uninstall` removes them.

load helpers

setup_file() {
	# loom-sched -n checks the stored schedules too: it needs a database
	loom_pg_start
	STAGE=$(mktemp -d)
	export STAGE
	cd "$BATS_TEST_DIRNAME/.."
	make -s install PREFIX=/opt/loom DESTDIR="$STAGE" BUILD="${BUILD:-build}" >/dev/null
}

teardown_file() {
	rm -rf "$STAGE"
	loom_pg_stop
}

@test "programs are installed and run" {
	for p in loom loom-api loom-engine loom-exec loom-sched loom-example-backend; do
		[ -x "$STAGE/opt/loom/bin/$p" ]
	done
	run "$STAGE/opt/loom/bin/loom" version
	[ "$status" -eq 0 ]
	[[ "$output" == "loom "* ]]
}

@test "every man page is installed in its section" {
	for m in "$BATS_TEST_DIRNAME"/../man/*.[1-8]; do
		s=${m##*.}
		[ -f "$STAGE/opt/loom/share/man/man$s/${m##*/}" ]
	done
}

@test "systemd units point at the installed programs" {
	run grep -h '^ExecStart=' "$STAGE"/opt/loom/lib/systemd/system/*.service
	[ "$status" -eq 0 ]
	[[ "$output" == *"ExecStart=/opt/loom/bin/loom-engine"* ]]
	run grep -l '@BINDIR@' "$STAGE"/opt/loom/lib/systemd/system/*
	[ "$status" -ne 0 ]
}

@test "every installed unit's ExecStart is a command line its program accepts" {
	local unit line argv
	for unit in "$STAGE"/opt/loom/lib/systemd/system/*.service; do
		line=$(sed -n 's/^ExecStart=//p' "$unit")
		[ -n "$line" ] || fail "$unit: no ExecStart="
		# systemd's specifiers as an instance would have them
		argv=${line//%H/$(hostname)}
		argv=${argv//%i/1}
		argv=${argv//%%/%}
		argv=$STAGE$argv	# the staged program at its installed path
		# -n: check the configuration and exit, as the program would start
		run env LOOM_CONFIG=/dev/null $argv -n
		[ "$status" -eq 0 ] ||
		    fail "${unit##*/}: '$argv -n' exited $status: $output"
	done
}

@test "schema, JSON Schema and examples are installed" {
	[ -f "$STAGE/opt/loom/share/loom/schema/001_core.sql" ]
	[ -f "$STAGE/opt/loom/share/loom/schema/workflow.schema.json" ]
	[ -f "$STAGE/opt/loom/share/loom/examples/sample.yaml" ]
}

@test "the OpenAPI document and the shell completions are installed" {
	[ -f "$STAGE/opt/loom/share/loom/schema/openapi.yaml" ]
	[ -f "$STAGE/opt/loom/share/bash-completion/completions/loom" ]
	[ -f "$STAGE/opt/loom/share/zsh/site-functions/_loom" ]
	# the installed bash completion loads and registers itself
	run bash -c 'source "$1" && complete -p loom' bash \
	    "$STAGE/opt/loom/share/bash-completion/completions/loom"
	[ "$status" -eq 0 ]
	[[ "$output" == "complete -F _loom loom" ]]
}

@test "make uninstall removes what install put there" {
	cd "$BATS_TEST_DIRNAME/.."
	make -s uninstall PREFIX=/opt/loom DESTDIR="$STAGE" >/dev/null
	[ ! -e "$STAGE/opt/loom/bin/loom" ]
	[ ! -e "$STAGE/opt/loom/bin/loom-example-backend" ]
	[ ! -e "$STAGE/opt/loom/share/man/man1/loom.1" ]
	[ ! -e "$STAGE/opt/loom/share/loom" ]
	[ ! -e "$STAGE/opt/loom/lib/systemd/system/loom-engine.service" ]
	[ ! -e "$STAGE/opt/loom/share/bash-completion/completions/loom" ]
	[ ! -e "$STAGE/opt/loom/share/zsh/site-functions/_loom" ]
}
