#!/usr/bin/env bats
# The JavaScript SDK (sdk/js) under its own runner, node:test, with Node
# 20 or later: unit tests, then the integration tests against a real stack
# (tests/sdk-helpers.bash), which run the seed workflow through the SDK's
# example backend.  The SDK has no npm dependencies: nothing to install.

bats_require_minimum_version 1.5.0

load helpers
load sdk-helpers

setup_file() {
	sdk_stack_start
}

teardown_file() {
	sdk_stack_stop
}

@test "js: node is version 20 or later" {
	run -0 node -e '
	    if (Number(process.versions.node.split(".")[0]) < 20) {
	        console.log("node " + process.version + ": sdk/js needs Node 20 or later");
	        process.exit(1);
	    }'
}

@test "js: the package's entry points and types are where package.json says, and publishable" {
	cd "$BATS_TEST_DIRNAME/../sdk/js"
	run -0 node -e '
	    const p = require("./package.json");
	    const fs = require("fs");
	    for (const f of [p.main, p.types, p.exports["."].import, p.exports["."].types])
	        if (!fs.existsSync(f)) throw new Error(f + " is missing");'
	run -0 node --input-type=module -e '
	    import * as m from "linkloom";
	    const dts = (await import("fs")).readFileSync("src/index.d.ts", "utf8");
	    for (const k of Object.keys(m))
	        if (!new RegExp("export (declare )?(const|class|function) " + k + "\\b").test(dts))
	            throw new Error(k + " has no declaration in index.d.ts");'
	# what `npm publish` ships: "files" holds every entry point
	run -0 node -e '
	    const p = require("./package.json");
	    for (const f of [p.main, p.types])
	        if (!p.files.some((d) => f.replace(/^\.\//, "").startsWith(d)))
	            throw new Error(f + " is not in files");'
}

@test "js: unit tests (envelopes, results, signatures, error mapping, SSE)" {
	sdk_run js node --test test/handler.test.js test/client-unit.test.js
}

@test "js: integration with a real stack (seed run, 202, logs, paging, errors, socket, tokens)" {
	sdk_run js node --test test/integration.test.js
	assert_output --partial "# skipped 0"
	assert_output --partial "# fail 0"
	refute_output --partial "# pass 0"
}

@test "js: the example backend as a program, with signatures from loom-exec" {
	sdk_example_backend_check node "$BATS_TEST_DIRNAME/../sdk/js/examples/seed-backend.js"
}

@test "js: the README's quick start runs against the stack" {
	sdk_backend_start node "$BATS_TEST_DIRNAME/../sdk/js/examples/seed-backend.js"
	# installed as a package is: node_modules/linkloom
	mkdir -p "$BATS_TEST_TMPDIR/node_modules"
	ln -s "$BATS_TEST_DIRNAME/../sdk/js" "$BATS_TEST_TMPDIR/node_modules/linkloom"
	sdk_quickstart js quickstart.mjs node quickstart.mjs
}

@test "js: the README's backend parses" {
	sdk_snippet js js 2 >"$BATS_TEST_TMPDIR/backend.mjs"
	assert [ -s "$BATS_TEST_TMPDIR/backend.mjs" ]
	run -0 node --check "$BATS_TEST_TMPDIR/backend.mjs"
}
