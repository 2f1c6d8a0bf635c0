#!/usr/bin/env bats
# One engine pass over several runs in one transaction
# (lib/store/enginedb_many.c): the C driver tests/unit/test_enginedb_many.c
# passes three runs of a diamond workflow as one batch, holds one of them
# locked from another session (skipped, then picked up), and kills the
# engine's session at the batch's commit (nothing applied; a new
# connection takes every run on).  It needs a database where no engine or
# executor runs: here loom-api alone stores the workflow.  SHOW=1 prints
# the driver's own lines.

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'
load helpers

setup_file() {
	loom_pg_start
}

teardown_file() {
	loom_stop_all
}

setup() {
	loom_api_start
}

teardown() {
	loom_api_stop
}

@test "a pass over several runs: one commit, a held run skipped then taken, nothing applied when its session dies at the commit (C driver)" {
	cat >"$BATS_TEST_TMPDIR/wf.yaml" <<-YAML
	id: many-diamond
	tasks:
	  - {id: a, url: "http://127.0.0.1:9/a"}
	  - {id: b, url: "http://127.0.0.1:9/b", dependsOn: [a]}
	  - {id: c, url: "http://127.0.0.1:9/c", dependsOn: [a]}
	  - {id: d, url: "http://127.0.0.1:9/d", dependsOn: [a]}
	  - {id: e, url: "http://127.0.0.1:9/e", dependsOn: [b, c, d]}
	YAML
	apply "$BATS_TEST_TMPDIR/wf.yaml"
	LOOM_TEST_WORKFLOW=many-diamond run "$LOOM_BIN/../tests/test_enginedb_many"
	assert_success
	[ -z "${SHOW:-}" ] || echo "$output" | sed "s/^/# /" >&3
	refute_output --partial "not ok"
	refute_output --partial "# skip"
	refute_output --partial "Bail out"
	assert_output --partial "run 1 was skipped as busy"
	assert_output --partial "the runs were written by one transaction"
	[ "$(grep -c '^ok' <<<"$output")" -ge 30 ]
}
