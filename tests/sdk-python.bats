#!/usr/bin/env bats
# The Python SDK (sdk/python) under its own runner, unittest, with
# Debian's /usr/bin/python3 (3.11): unit tests, then the integration
# tests against a real stack (tests/sdk-helpers.bash), which run the seed
# workflow through the SDK's example backend.

bats_require_minimum_version 1.5.0

load helpers
load sdk-helpers

PY=/usr/bin/python3
export PYTHONDONTWRITEBYTECODE=1

setup_file() {
	sdk_stack_start
}

teardown_file() {
	sdk_stack_stop
}

@test "python: Debian's python3 is 3.11 or later" {
	run -0 "$PY" -c 'import sys; assert sys.version_info >= (3, 11), sys.version'
}

@test "python: the package builds as a wheel offline and installs as linkloom" {
	local src=$BATS_TEST_TMPDIR/src
	cp -r "$BATS_TEST_DIRNAME/../sdk/python" "$src"
	run -0 "$PY" -m pip wheel --no-deps --no-build-isolation --no-index \
	    -w "$BATS_TEST_TMPDIR/dist" "$src"
	run -0 "$PY" -m pip install --no-deps --no-index \
	    --target "$BATS_TEST_TMPDIR/site" "$BATS_TEST_TMPDIR"/dist/linkloom-*.whl
	assert [ -f "$BATS_TEST_TMPDIR/site/linkloom/py.typed" ]
	cd "$BATS_TEST_TMPDIR"
	run -0 env PYTHONPATH="$BATS_TEST_TMPDIR/site" "$PY" -c \
	    'import linkloom; print(linkloom.__version__, linkloom.LinkLoomClient.__name__)'
	assert_output "0.1.0 LinkLoomClient"
}

@test "python: unit tests (envelopes, results, signatures, error mapping, SSE)" {
	PYTHONPATH=src sdk_run python "$PY" -m unittest -v \
	    tests.test_handler tests.test_client_unit
}

@test "python: integration with a real stack (seed run, 202, logs, paging, errors, socket, tokens)" {
	PYTHONPATH=src sdk_run python "$PY" -m unittest -v tests.test_integration
	# nothing was skipped
	refute_output --partial "skipped"
}

@test "python: the example backend as a program, with signatures from loom-exec" {
	sdk_example_backend_check "$PY" "$BATS_TEST_DIRNAME/../sdk/python/examples/seed_backend.py"
}

@test "python: the README's quick start runs against the stack" {
	sdk_backend_start "$PY" "$BATS_TEST_DIRNAME/../sdk/python/examples/seed_backend.py"
	PYTHONPATH=$BATS_TEST_DIRNAME/../sdk/python/src \
	    sdk_quickstart python quickstart.py "$PY" quickstart.py
}

@test "python: the README's backend compiles" {
	sdk_snippet python python 2 >"$BATS_TEST_TMPDIR/backend.py"
	assert [ -s "$BATS_TEST_TMPDIR/backend.py" ]
	run -0 "$PY" -m py_compile "$BATS_TEST_TMPDIR/backend.py"
}
