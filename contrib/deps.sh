#!/bin/sh
# Installs the Debian packages Link Loom needs to build, test and run
# `loom up`; nodejs and npm build the web UI (ui/), and chromium runs its
# end-to-end test (tests/ui.bats).  Does nothing when they are all present.
set -e
PKGS="build-essential pkg-config clang clang-format libclang-rt-14-dev
libcurl4-openssl-dev libyaml-dev libpq-dev libjq-dev libonig-dev
libinih-dev libmicrohttpd-dev libsystemd-dev libssl-dev
bats bats-assert bats-support bats-file mandoc valgrind
postgresql jq curl openjdk-17-jdk-headless junit5 tzdata
libmongoc-dev libbson-dev socat netcat-openbsd
python3 python3-jsonschema python3-yaml graphviz wrk zsh procps
chromium prometheus"
# the Debian package (make deb, tests/deb.bats) and the deployment files'
# linters (tests/deploy.bats)
PKGS="$PKGS debhelper devscripts lintian yamllint shellcheck"
# the SDKs' toolchains (sdk/python, sdk/js, sdk/go)
PKGS="$PKGS python3-pip python3-setuptools golang-go"
# The web UI and sdk/js want Node.js 20 or later (ui/README.md); one that
# came from elsewhere (NodeSource ships npm inside its nodejs) is kept as
# it is.
command -v npm >/dev/null 2>&1 || PKGS="$PKGS nodejs npm"
missing=
for p in $PKGS; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' ||
	    missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing" >&2
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
