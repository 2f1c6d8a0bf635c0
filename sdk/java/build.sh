#!/bin/sh
# Builds the Java SDK with javac alone (no Maven: pom.xml is for users):
#
#   sdk/java/build.sh OUT
#
# OUT/classes     the SDK (and OUT/loom-client.jar)
# OUT/examples    the example backend and the quick start
# OUT/test        the unit tests and LiveIT, with their resources
#
# JUnit 5 comes from Debian's junit5 package (/usr/share/java; make deps).
# Exits non-zero, saying what is missing, when javac or JUnit is not there.
set -eu
out=${1:?usage: build.sh OUT}
here=$(cd "$(dirname "$0")" && pwd)
JUNIT=${JUNIT_JAR:-/usr/share/java/junit-platform-console-standalone.jar}
command -v javac >/dev/null || { echo "build.sh: javac is missing (openjdk-17-jdk-headless)" >&2; exit 3; }
[ -f "$JUNIT" ] || { echo "build.sh: $JUNIT is missing (Debian package junit5)" >&2; exit 3; }
rm -rf "$out/classes" "$out/examples" "$out/test"
mkdir -p "$out/classes" "$out/examples" "$out/test"
opts="-Xlint:all -Xlint:-serial -Werror --release 17 -encoding UTF-8"
# shellcheck disable=SC2046
javac $opts -d "$out/classes" $(find "$here/src/main/java" -name '*.java')
jar --create --file "$out/loom-client.jar" -C "$out/classes" .
# shellcheck disable=SC2046
javac $opts -d "$out/examples" -cp "$out/classes" \
    $(find "$here/examples" -name '*.java')
# shellcheck disable=SC2046
javac $opts -d "$out/test" -cp "$out/classes:$JUNIT" \
    $(find "$here/src/test/java" "$here/src/it/java" -name '*.java')
cp "$here"/src/test/resources/* "$out/test/"
# the API documentation, every public name commented
# shellcheck disable=SC2046
javadoc -quiet -Xdoclint:all -Werror -d "$out/doc" \
    $(find "$here/src/main/java" -name '*.java') >/dev/null
