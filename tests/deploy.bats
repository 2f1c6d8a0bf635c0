#!/usr/bin/env bats
# contrib/deploy: the Dockerfile and compose file cannot be built or run
# here (no container engine); what can be checked without one is.

load helpers

D=$BATS_TEST_DIRNAME/../contrib/deploy
TOP=$BATS_TEST_DIRNAME/..

@test "compose.yaml and the CI example pass yamllint" {
	command -v yamllint >/dev/null || skip "yamllint is not installed (make deps)"
	run yamllint -s -d "{extends: default, rules: {document-start: disable, \
line-length: {max: 100}, truthy: {check-keys: false}}}" \
	    "$D/compose.yaml" "$TOP/contrib/examples/ci/github-actions.yml"
	[ "$status" -eq 0 ] || fail "$output"
}

@test "the Dockerfile: two Debian 12 slim stages, the final one not root" {
	local f=$D/Dockerfile
	[ "$(grep -c '^FROM debian:12-slim' "$f")" -eq 2 ]
	grep -q '^FROM debian:12-slim AS build$' "$f"
	grep -q '^COPY --from=build ' "$f"
	# the last USER is the unprivileged one the image makes
	run sed -n 's/^USER //p' "$f"
	[ "${lines[-1]}" = "loom:loom" ]
	sed -n '/useradd/,/loom \\$/p' "$f" | grep -q -- '--uid 10001'
	grep -qE '^ +--shell /usr/sbin/nologin loom \\$' "$f"
	# its build stage builds the package that debian/ describes
	grep -q '^RUN dpkg-buildpackage -us -uc -b$' "$f"
	[ -x "$TOP/debian/rules" ]
}

@test "the Dockerfile installs every build dependency debian/control names" {
	local dep
	for dep in $(sed -n '/^Build-Depends:/,/^[A-Z]/p' "$TOP/debian/control" |
	    sed 's/^Build-Depends://; s/(.*)//; s/,/ /g' | grep -v '^[A-Z]'); do
		case $dep in debhelper-compat) dep=debhelper ;; esac
		grep -qw -- "$dep" "$D/Dockerfile" || fail "$dep is not installed"
	done
}

@test "compose runs programs that exist, with configuration keys that exist" {
	local cmds keys k sec key
	cmds=$(python3 -c '
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
for s in doc["services"].values():
    if "command" in s:
        print(s["command"][0])
' "$D/compose.yaml")
	[ -n "$cmds" ]
	for c in $cmds; do
		[ -d "$TOP/cmd/$c" ] || fail "no program $c"
	done
	# LOOM_SECTION_KEY in either file is a key of loom.conf(5)
	keys=$(grep -ohE 'LOOM_[A-Z]+_[A-Z_]+' "$D/compose.yaml" \
	    "$D/Dockerfile" | sort -u)
	for k in $keys; do
		sec=$(echo "${k#LOOM_}" | cut -d_ -f1 | tr A-Z a-z)
		key=$(echo "${k#LOOM_*_}" | tr A-Z a-z)
		sed -n "/^\.Ss \[$sec\]/,/^\.Ss /p" "$TOP/man/loom.conf.5" |
		    grep -q "^\.It Cm $key " || fail "$k: no key $sec.$key"
	done
}

@test "the image's environment is a configuration the daemons accept" {
	local env
	env=$(sed -n '/^ENV /,/^[^ ]/p' "$D/Dockerfile" | grep -oE 'LOOM_[A-Z_]+=[^ ]+')
	# as in the image, with this machine's paths for its directories
	run env $env LOOM_DATABASE_URL=postgresql:///loom \
	    "$LOOM_BIN/loom-api" -n
	[ "$status" -eq 0 ] || fail "$output"
	run env $env "$LOOM_BIN/loom-log" -n
	[ "$status" -eq 0 ] || fail "$output"
}
