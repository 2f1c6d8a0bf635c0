#!/usr/bin/env bats
# The Debian packages (debian/, make deb): lintian has nothing to say that
# debian/*.lintian-overrides do not explain; link-loom's files are where
# the units, the tmpfiles.d file and loom up expect them, and dpkg installs
# it into a throwaway root with the loom user made by its postinst; the C
# SDK is in libloomclient1 (the shared library, with symbols and shlibs)
# and libloomclient-dev, which a C program builds against, by hand or with
# pkg-config.

load helpers

TOP=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
BUILD_DIR=$(cd "$LOOM_BIN/.." && pwd)

setup_file() {
	command -v dpkg-buildpackage >/dev/null && [ -f /usr/bin/dh ] ||
	    skip "dpkg-dev and debhelper are not installed (make deps)"
	local deb
	deb=$(ls "$BUILD_DIR"/deb/link-loom_*_*.deb 2>/dev/null | head -1)
	# built again when anything it is made of changed since
	if [ -z "$deb" ] || [ -n "$(cd "$TOP" && find Makefile VERSION debian \
	    cmd lib sdk/c schema man systemd contrib ui/dist -newer "$deb" \
	    -type f 2>/dev/null | head -1)" ]; then
		make -s -C "$TOP" deb BUILD="$BUILD_DIR" >"$BATS_FILE_TMPDIR/deb.log" 2>&1 || {
			tail -40 "$BATS_FILE_TMPDIR/deb.log" >&3
			return 1
		}
	fi
	DEB=$(ls "$BUILD_DIR"/deb/link-loom_*_*.deb | head -1)
	# the C SDK's packages, from the same build (none: the tests say so)
	LIBDEB=${DEB/link-loom_/libloomclient1_}
	DEVDEB=${DEB/link-loom_/libloomclient-dev_}
	MA=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
	ROOT=$(mktemp -d /tmp/ldeb.XXXXXX)
	dpkg-deb -x "$DEB" "$ROOT/x"
	export DEB LIBDEB DEVDEB MA ROOT
}

teardown_file() {
	[ -z "${ROOT:-}" ] || rm -rf "$ROOT"
}

@test "lintian: nothing the overrides do not explain, on all three packages" {
	command -v lintian >/dev/null || skip "lintian is not installed (make deps)"
	[ -f "$LIBDEB" ] || fail "no libloomclient1 package beside $DEB"
	[ -f "$DEVDEB" ] || fail "no libloomclient-dev package beside $DEB"
	run lintian --fail-on error,warning "$DEB" "$LIBDEB" "$DEVDEB"
	[ "$status" -eq 0 ] || fail "$output"
	# every override says why, on the comment line above it
	run awk '!/^#/ && NF && prev !~ /^#/ {
	    print FILENAME ": unexplained: " $0 } { prev = $0 }' \
	    "$TOP"/debian/*.lintian-overrides
	[ -z "$output" ] || fail "$output"
}

@test "the package's files: programs, units, sysusers, tmpfiles, config" {
	local x=$ROOT/x
	for p in loom loom-example-backend; do [ -x "$x/usr/bin/$p" ]; done
	for p in loom-api loom-engine loom-exec loom-sched loom-log; do
		[ -x "$x/usr/sbin/$p" ]
	done
	for u in loom-api.service loom-api.socket loom-engine.service \
	    loom-exec@.service loom-log.service loom-log.socket \
	    loom-sched.service loom.target; do
		[ -f "$x/lib/systemd/system/$u" ] || fail "no $u"
	done
	grep -qx 'ExecStart=/usr/sbin/loom-api' "$x/lib/systemd/system/loom-api.service"
	[ -f "$x/usr/lib/sysusers.d/loom.conf" ]
	[ -f "$x/usr/lib/tmpfiles.d/loom.conf" ]
	[ -f "$x/etc/loom/loom.conf" ]
	[ -f "$x/usr/share/man/man8/loom-api.8.gz" ]
	[ -f "$x/usr/share/man/man1/loom.1.gz" ]
	[ -f "$x/usr/share/loom/schema/openapi.yaml" ]
	[ -f "$x/usr/share/bash-completion/completions/loom" ]
	# the C SDK is in its own packages (debian/rules), not this one
	[ ! -e "$x/usr/include" ]
	[ ! -e "$x/usr/share/man/man3" ]
	[ ! -e "$x/usr/lib/$MA" ]
	[ -z "$(find "$x" -name 'libloomclient*')" ]
	# /etc/loom/loom.conf is a conffile: upgrades keep a changed one
	dpkg-deb -e "$DEB" "$ROOT/control"
	grep -qx /etc/loom/loom.conf "$ROOT/control/conffiles"
	# the programs were built for /usr (LOOM_DATADIR)
	grep -q /usr/share/loom "$x/usr/bin/loom"
}

@test "dpkg installs it into a throwaway root; the postinst makes the loom user" {
	local r=$ROOT/root
	mkdir -p "$r/var/lib/dpkg/info" "$r/var/lib/dpkg/updates" "$r/etc"
	: >"$r/var/lib/dpkg/status"
	# the scripts run outside the root, told where it is (DPKG_ROOT)
	run dpkg --root="$r" --log=/dev/null --force-depends \
	    --force-script-chrootless -i "$DEB"
	[ "$status" -eq 0 ] || fail "$output"
	dpkg --root="$r" -s link-loom | grep -qx 'Status: install ok installed'
	[ -x "$r/usr/sbin/loom-engine" ]
	grep -q '^loom:' "$r/etc/passwd" || fail "no loom user: $output"
	# the installed loom runs, and finds its daemons in ../sbin
	run "$r/usr/bin/loom" version
	[ "$status" -eq 0 ]
	run dpkg --root="$r" --log=/dev/null --force-script-chrootless \
	    --purge link-loom
	[ "$status" -eq 0 ] || fail "$output"
	[ ! -e "$r/usr/sbin/loom-engine" ]
}

@test "libloomclient1: the shared library alone, multiarch, with symbols and shlibs" {
	[ -f "$LIBDEB" ] || fail "no libloomclient1 package beside $DEB"
	[ "$(dpkg-deb -f "$LIBDEB" Section)" = libs ]
	[ "$(dpkg-deb -f "$LIBDEB" Multi-Arch)" = same ]
	# its files, but for the copyright and changelog every package has
	run sh -c 'dpkg-deb --fsys-tarfile "$1" | tar -t |
	    grep -v "/$" | grep -v "^\./usr/share/doc/libloomclient1/"' sh "$LIBDEB"
	[ "$output" = "./usr/lib/$MA/libloomclient.so.1" ] || fail "$output"
	dpkg-deb -x "$LIBDEB" "$ROOT/lib"
	local so=$ROOT/lib/usr/lib/$MA/libloomclient.so.1
	objdump -p "$so" | grep -q 'SONAME *libloomclient\.so\.1$'
	# programs that link it depend on it (shlibs), and the symbols file
	# has each name it exports and nothing else
	dpkg-deb -e "$LIBDEB" "$ROOT/libctl"
	grep -qx 'libloomclient 1 libloomclient1.*' "$ROOT/libctl/shlibs"
	diff <(nm -D --defined-only "$so" | awk '{ print $3 }' | sort) \
	    <(awk '/^ / { sub(/@Base$/, "", $1); print $1 }' \
	    "$ROOT/libctl/symbols" | sort)
	# the header's functions alone: the SDK's own helpers stay inside
	run nm -D --defined-only "$so"
	[[ "$output" == *" T loom_client_new"* ]]
	[[ "$output" != *loom_mono_ms* && "$output" != *loom_error_set* ]]
}

@test "libloomclient-dev: a C program builds against it, by hand and with pkg-config" {
	[ -f "$DEVDEB" ] || fail "no libloomclient-dev package beside $DEB"
	[ "$(dpkg-deb -f "$DEVDEB" Section)" = libdevel ]
	[ "$(dpkg-deb -f "$DEVDEB" Multi-Arch)" = same ]
	local dep
	dep=$(dpkg-deb -f "$DEVDEB" Depends)
	[[ "$dep" == *"libloomclient1 (= $(dpkg-deb -f "$LIBDEB" Version))"* ]] ||
	    fail "Depends: $dep"
	[[ "$dep" == *libjq-dev* ]] || fail "Depends: $dep (jv.h)"
	# a static link (pkg-config --static) needs each private library's
	# -dev package: the one that has its .so link here
	local l pkg
	for l in $(sed -n 's/^Libs.private: //p' \
	    "$BATS_TEST_DIRNAME/../sdk/c/libloomclient.pc.in"); do
		[ "$l" != -lpthread ] || continue
		pkg=$(dpkg -S "/usr/lib/$MA/lib${l#-l}.so" | cut -d: -f1)
		[ -n "$pkg" ] || fail "no package has lib${l#-l}.so"
		[[ ", $dep," == *[\ \|]"$pkg"[\ ,]* ]] ||
		    fail "Depends: $dep (no $pkg, for $l)"
	done
	local d=$ROOT/dev
	dpkg-deb -x "$LIBDEB" "$d"
	dpkg-deb -x "$DEVDEB" "$d"
	local u=$d/usr lib=$d/usr/lib/$MA
	[ -f "$u/include/loom/client.h" ]
	[ "$(readlink "$lib/libloomclient.so")" = libloomclient.so.1 ]
	[ -f "$lib/libloomclient.a" ]
	[ -f "$u/share/man/man3/libloomclient.3.gz" ]
	printf '%s\n' '#include <loom/client.h>' \
	    'int main(void) { char *e = 0;' \
	    '  loom_client *c = loom_client_new("unix:/nonexistent", 0, &e);' \
	    '  jv r = loom_workflow_list(c);' \
	    '  int ok = c && !jv_is_valid(r) && loom_client_error(c)->status == 0;' \
	    '  jv_free(r); loom_client_free(c); return ok ? 0 : 1; }' \
	    >"$ROOT/use.c"
	run cc -I"$u/include" -o "$ROOT/use" "$ROOT/use.c" -L"$lib" \
	    -Wl,-rpath,"$lib" -lloomclient -ljq
	[ "$status" -eq 0 ] || fail "$output"
	# the packaged library, not one installed on this machine
	ldd "$ROOT/use" | grep -q "=> $lib/libloomclient.so.1"
	"$ROOT/use"
	# pkg-config, the extracted tree's prefix for /usr
	local pc=$lib/pkgconfig
	[ -f "$pc/libloomclient.pc" ]
	run env PKG_CONFIG_PATH="$pc" pkg-config --define-variable=prefix="$u" \
	    --cflags --libs libloomclient
	[ "$status" -eq 0 ] || fail "$output"
	[[ "$output" == *"-I$u/include"* && "$output" == *"-L$lib "* &&
	    "$output" == *-lloomclient* ]] || fail "pkg-config: $output"
	local flags=$output
	run cc -o "$ROOT/use-pc" "$ROOT/use.c" $flags -Wl,-rpath,"$lib"
	[ "$status" -eq 0 ] || fail "$output"
	"$ROOT/use-pc"
	# --static: the archive and what it needs
	flags=$(PKG_CONFIG_PATH="$pc" pkg-config --define-variable=prefix="$u" \
	    --static --libs libloomclient)
	run cc -static-libgcc -o "$ROOT/use-static" "$ROOT/use.c" \
	    -I"$u/include" "$lib/libloomclient.a" ${flags//-lloomclient/}
	[ "$status" -eq 0 ] || fail "$output"
	ldd "$ROOT/use-static" | grep libloomclient && fail "linked to the shared library"
	"$ROOT/use-static"
}
