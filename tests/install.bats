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

UNITDIR=$(pkg-config --variable=systemdsystemunitdir systemd)

@test "programs are installed and run: loom in bin, the daemons in sbin" {
	for p in loom loom-example-backend; do
		[ -x "$STAGE/opt/loom/bin/$p" ]
	done
	for p in loom-api loom-engine loom-exec loom-sched loom-log; do
		[ -x "$STAGE/opt/loom/sbin/$p" ]
		[ ! -e "$STAGE/opt/loom/bin/$p" ]
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
	run grep -h '^ExecStart=' "$STAGE$UNITDIR"/*.service
	[ "$status" -eq 0 ]
	[[ "$output" == *"ExecStart=/opt/loom/sbin/loom-engine"* ]]
	run grep -l '@SBINDIR@' "$STAGE$UNITDIR"/*
	[ "$status" -ne 0 ]
}

@test "every installed unit's ExecStart is a command line its program accepts" {
	local unit line argv
	for unit in "$STAGE$UNITDIR"/*.service; do
		line=$(sed -n 's/^ExecStart=//p' "$unit")
		[ -n "$line" ] || fail "$unit: no ExecStart="
		# systemd's specifiers as an instance would have them
		argv=${line//%H/$(hostname)}
		argv=${argv//%i/1}
		argv=${argv//%t/\/run}
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

@test "libloomclient is installed and a program builds against it alone" {
	local d=$STAGE/opt/loom
	[ -f "$d/include/loom/client.h" ]
	[ -f "$d/lib/libloomclient.a" ]
	[ -f "$d/lib/libloomclient.so.1" ]
	[ "$(readlink "$d/lib/libloomclient.so")" = libloomclient.so.1 ]
	printf '%s\n' '#include <loom/client.h>' \
	    'int main(void) { char *e = 0;' \
	    '  loom_client *c = loom_client_new("unix:/nonexistent", 0, &e);' \
	    '  jv r = loom_workflow_list(c);' \
	    '  int ok = !jv_is_valid(r) && loom_client_error(c)->status == 0;' \
	    '  jv_free(r); loom_client_free(c); return ok ? 0 : 1; }' \
	    >"$STAGE/use.c"
	cc -I"$d/include" -o "$STAGE/use" "$STAGE/use.c" -L"$d/lib" \
	    -lloomclient -ljq
	LD_LIBRARY_PATH=$d/lib "$STAGE/use"
	cc -I"$d/include" -o "$STAGE/use-static" "$STAGE/use.c" \
	    "$d/lib/libloomclient.a" -lcurl -lmicrohttpd -lcrypto -ljq -lpthread
	"$STAGE/use-static"
	# and with pkg-config: libloomclient.pc names PREFIX (the staged
	# tree's, told with --define-variable) and LIBDIR
	grep -qx 'prefix=/opt/loom' "$d/lib/pkgconfig/libloomclient.pc"
	grep -qx 'libdir=${prefix}/lib' "$d/lib/pkgconfig/libloomclient.pc"
	local flags
	flags=$(PKG_CONFIG_PATH=$d/lib/pkgconfig pkg-config \
	    --define-variable=prefix="$d" --cflags --libs libloomclient)
	[[ "$flags" == *"-I$d/include"* && "$flags" == *"-L$d/lib "* ]] ||
	    fail "pkg-config: $flags"
	run cc -o "$STAGE/use-pc" "$STAGE/use.c" $flags
	[ "$status" -eq 0 ] || fail "$output"
	LD_LIBRARY_PATH=$d/lib "$STAGE/use-pc"
}

@test "LIBDIR= puts libloomclient and its pkg-config file elsewhere" {
	cd "$BATS_TEST_DIRNAME/.."
	local s=$BATS_TEST_TMPDIR/libdir
	make -s install PREFIX=/usr LIBDIR=/usr/lib/x86_64-linux-gnu \
	    DESTDIR="$s" BUILD="${BUILD:-build}" >/dev/null
	local lib=$s/usr/lib/x86_64-linux-gnu
	[ -f "$lib/libloomclient.so.1" ] && [ -f "$lib/libloomclient.a" ]
	[ ! -e "$s/usr/lib/libloomclient.so.1" ]
	run env PKG_CONFIG_PATH="$lib/pkgconfig" pkg-config \
	    --variable=libdir libloomclient
	[ "$output" = /usr/lib/x86_64-linux-gnu ] || fail "libdir: $output"
	make -s uninstall PREFIX=/usr LIBDIR=/usr/lib/x86_64-linux-gnu \
	    DESTDIR="$s" >/dev/null
	[ ! -e "$lib/libloomclient.so.1" ]
	[ ! -e "$lib/pkgconfig/libloomclient.pc" ]
}

@test "the web UI is installed under share/loom/ui when it is built" {
	[ -f "$BATS_TEST_DIRNAME/../ui/dist/index.html" ] ||
	    skip "the web UI is not built (make ui needs npm)"
	[ -f "$STAGE/opt/loom/share/loom/ui/index.html" ]
	run find "$STAGE/opt/loom/share/loom/ui/assets" -name '*.js'
	[ -n "$output" ]
}

@test "sysusers.d, tmpfiles.d and an example /etc/loom/loom.conf are installed" {
	[ -f "$STAGE$(pkg-config --variable=sysusersdir systemd)/loom.conf" ]
	[ -f "$STAGE$(pkg-config --variable=tmpfilesdir systemd)/loom.conf" ]
	[ -f "$STAGE/etc/loom/loom.conf" ]
	cmp "$STAGE/etc/loom/loom.conf" "$STAGE/opt/loom/share/loom/loom.conf.example"
	# the example is a valid configuration
	run env LOOM_CONFIG="$STAGE/etc/loom/loom.conf" \
	    "$STAGE/opt/loom/sbin/loom-api" -n
	[ "$status" -eq 0 ] || fail "$output"
}

@test "make install keeps a changed /etc/loom/loom.conf, uninstall too" {
	cd "$BATS_TEST_DIRNAME/.."
	local conf=$STAGE/etc/loom/loom.conf
	echo '# mine' >>"$conf"
	make -s install PREFIX=/opt/loom DESTDIR="$STAGE" \
	    BUILD="${BUILD:-build}" >/dev/null
	[ "$(tail -1 "$conf")" = '# mine' ]
	make -s uninstall PREFIX=/opt/loom DESTDIR="$STAGE" >/dev/null
	[ "$(tail -1 "$conf")" = '# mine' ]
	# put back as installed, for the test below
	make -s install PREFIX=/opt/loom DESTDIR="$STAGE" \
	    BUILD="${BUILD:-build}" >/dev/null
	sed -i '$d' "$conf"
}

@test "make uninstall removes what install put there" {
	cd "$BATS_TEST_DIRNAME/.."
	make -s uninstall PREFIX=/opt/loom DESTDIR="$STAGE" >/dev/null
	[ ! -e "$STAGE/opt/loom/bin/loom" ]
	[ ! -e "$STAGE/opt/loom/bin/loom-example-backend" ]
	[ ! -e "$STAGE/opt/loom/share/man/man1/loom.1" ]
	[ ! -e "$STAGE/opt/loom/share/loom" ]
	[ ! -e "$STAGE$UNITDIR/loom-engine.service" ]
	[ ! -e "$STAGE/opt/loom/sbin/loom-engine" ]
	[ ! -e "$STAGE/etc/loom/loom.conf" ]
	[ ! -e "$STAGE$(pkg-config --variable=sysusersdir systemd)/loom.conf" ]
	[ ! -e "$STAGE$(pkg-config --variable=tmpfilesdir systemd)/loom.conf" ]
	[ ! -e "$STAGE/opt/loom/share/bash-completion/completions/loom" ]
	[ ! -e "$STAGE/opt/loom/share/zsh/site-functions/_loom" ]
	[ ! -e "$STAGE/opt/loom/include/loom/client.h" ]
	[ ! -e "$STAGE/opt/loom/lib/libloomclient.so.1" ]
	[ ! -e "$STAGE/opt/loom/lib/libloomclient.a" ]
	[ ! -e "$STAGE/opt/loom/lib/pkgconfig/libloomclient.pc" ]
}

@test "the embedded schema is made again when a migration goes, not only when one comes" {
	local b=$BATS_TEST_TMPDIR/b one two
	cd "$BATS_TEST_DIRNAME/.."
	# each migration is embedded under its name: { N, "NNN_name", ... }
	one=$(ls schema/[0-9]*.sql | head -1 | xargs basename -s .sql)
	two=$(ls schema/[0-9]*.sql | sed -n 2p | xargs basename -s .sql)
	make -s BUILD="$b" "$b/gen/schema_sql.c" >/dev/null
	grep -q "\"$two\"" "$b/gen/schema_sql.c"
	# the same set: nothing to do
	run make -n BUILD="$b" "$b/gen/schema_sql.c"
	[[ "$output" != *embed-schema* ]] || fail "$output"
	# one migration left (as if the others were removed): every file is
	# older than the embedded schema, which is made again all the same
	make -s BUILD="$b" SCHEMA_SQL="schema/$one.sql" "$b/gen/schema_sql.c" \
	    >/dev/null
	grep -q "\"$one\"" "$b/gen/schema_sql.c"
	if grep -q "\"$two\"" "$b/gen/schema_sql.c"; then
		fail "$two is still embedded"
	fi
}
