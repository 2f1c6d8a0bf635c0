#!/usr/bin/env bats
# The Debian package (debian/, make deb): lintian has nothing to say that
# debian/link-loom.lintian-overrides does not explain, its files are where
# the units, the tmpfiles.d file and loom up expect them, and dpkg installs
# it into a throwaway root with the loom user made by its postinst.

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
	    cmd lib schema man systemd contrib ui/dist -newer "$deb" \
	    -type f 2>/dev/null | head -1)" ]; then
		make -s -C "$TOP" deb BUILD="$BUILD_DIR" >"$BATS_FILE_TMPDIR/deb.log" 2>&1 || {
			tail -40 "$BATS_FILE_TMPDIR/deb.log" >&3
			return 1
		}
	fi
	DEB=$(ls "$BUILD_DIR"/deb/link-loom_*_*.deb | head -1)
	ROOT=$(mktemp -d /tmp/ldeb.XXXXXX)
	dpkg-deb -x "$DEB" "$ROOT/x"
	export DEB ROOT
}

teardown_file() {
	[ -z "${ROOT:-}" ] || rm -rf "$ROOT"
}

@test "lintian: nothing the overrides do not explain" {
	command -v lintian >/dev/null || skip "lintian is not installed (make deps)"
	run lintian --fail-on error,warning "$DEB"
	[ "$status" -eq 0 ] || fail "$output"
	# every override says why, on the comment line above it
	run awk '!/^#/ && NF && prev !~ /^#/ { print "unexplained: " $0 }
	    { prev = $0 }' "$TOP/debian/link-loom.lintian-overrides"
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
	# the C SDK is not in this package (debian/rules)
	[ ! -e "$x/usr/include/loom" ]
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
