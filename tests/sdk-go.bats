#!/usr/bin/env bats
# The Go SDK (sdk/go) under its own runner, go test, with Debian's
# golang-go and no network (GOPROXY=off: the module has no
# dependencies): vet, unit tests, then the integration tests against a
# real stack (tests/sdk-helpers.bash), which run the seed workflow
# through the SDK's example backend.

bats_require_minimum_version 1.5.0

load helpers
load sdk-helpers

setup_file() {
	export GOPROXY=off GOFLAGS=-mod=readonly
	# a cache of our own when there is no home to keep one in
	[ -n "${HOME:-}" ] && [ -w "${HOME:-/nonexistent}" ] ||
	    export GOCACHE=$BATS_FILE_TMPDIR/gocache
	sdk_stack_start
}

teardown_file() {
	sdk_stack_stop
}

@test "go: the toolchain is there, and the module is formatted and vetted" {
	run -0 go version
	sdk_run go gofmt -l .
	assert_output ""
	sdk_run go go vet ./...
}

@test "go: another module uses the SDK as the README says (require + replace, offline)" {
	local m=$BATS_TEST_TMPDIR/user
	mkdir -p "$m"
	cd "$m"
	run -0 go mod init example.com/user
	run -0 go mod edit -require linkloom@v0.0.0 \
	    -replace "linkloom=$BATS_TEST_DIRNAME/../sdk/go"
	cat >main.go <<'GO'
package main

import (
	"fmt"

	"linkloom"
)

func main() {
	c, err := linkloom.New("unix:/run/loom/api.sock")
	fmt.Println(c != nil, err, linkloom.Sign([]byte("k"), "1", nil)[:3])
}
GO
	run -0 go run .
	assert_output "true <nil> v1="
}

@test "go: unit tests (envelopes, results, signatures, error mapping, SSE)" {
	# without the stack's variables the integration tests skip themselves
	sdk_run go env -u LOOM_API -u LOOM_SDK_INTEGRATION go test -count=1 -v ./...
	assert_output --partial -- "--- PASS: TestSignatureMadeByLoomExec"
}

@test "go: integration with a real stack (seed run, 202, logs, paging, errors, socket, tokens)" {
	sdk_run go go test -count=1 -v -run '^TestIntegration' .
	refute_output --partial -- "--- SKIP"
	assert_output --partial -- "--- PASS: TestIntegrationSeedRun"
}

@test "go: the example backend as a program, with signatures from loom-exec" {
	sdk_run go go build -o "$BATS_TEST_TMPDIR/seed-backend" ./examples/seed-backend
	sdk_example_backend_check "$BATS_TEST_TMPDIR/seed-backend"
}

@test "go: the README's quick start runs against the stack" {
	sdk_run go go build -o "$BATS_TEST_TMPDIR/seed-backend" ./examples/seed-backend
	sdk_backend_start "$BATS_TEST_TMPDIR/seed-backend"
	(cd "$BATS_TEST_TMPDIR" && go mod init example.com/quickstart >/dev/null 2>&1 &&
	    go mod edit -require linkloom@v0.0.0 \
		-replace "linkloom=$BATS_TEST_DIRNAME/../sdk/go")
	SDK_QUICKSTART_HEAD='package main

import (
	"context"
	"fmt"
	"log"
	"time"

	"linkloom"
)

func main() {
' SDK_QUICKSTART_TAIL='}
' sdk_quickstart go main.go go run .
}

@test "go: the README's backend compiles" {
	local m=$BATS_TEST_TMPDIR/backend
	mkdir -p "$m"
	cd "$m"
	go mod init example.com/backend >/dev/null 2>&1
	go mod edit -require linkloom@v0.0.0 \
	    -replace "linkloom=$BATS_TEST_DIRNAME/../sdk/go"
	{
		printf 'package main\n\nimport (\n\t"context"\n\t"log"\n\t"net/http"\n\t"os"\n\n\t"linkloom"\n)\n\nfunc main() {\n'
		sdk_snippet go go 2
		printf '}\n'
	} >main.go
	run -0 go vet .
}
