#!/usr/bin/env bats
# loom validate and loom graph, run as users run them: the real binary on
# the fixtures in tests/data/ and the seed example.  No database needed.
#
# Each tests/data/bad/*.yaml carries its expected diagnostics as
# "# expect: LINE:COL: message" lines (a message ending in "..." matches by
# prefix, for text that comes from jq or the cron parser).

bats_require_minimum_version 1.5.0

setup() {
	load '/usr/lib/bats/bats-support/load'
	load '/usr/lib/bats/bats-assert/load'
	REPO="$(cd "$BATS_TEST_DIRNAME/.." && pwd)"
	LOOM="${LOOM_BIN:-$REPO/build/bin}/loom"
	cd "$REPO"	# file names in messages are relative to the repo
	SEED=contrib/examples/daily-report.yaml
}

# Compares stderr lines ($2, text) with the "# expect:" lines of file $1.
expect_diags() {
	local file=$1 got=$2 want i
	local -a w g
	mapfile -t w < <(sed -n 's/^# expect: //p' "$file")
	mapfile -t g <<<"$got"
	[ "${#w[@]}" -gt 0 ] || fail "$file has no '# expect:' lines"
	[ "${#w[@]}" -eq "${#g[@]}" ] ||
	    fail "$file: want ${#w[@]} lines, got ${#g[@]}:"$'\n'"$got"
	for i in "${!w[@]}"; do
		want="$file:${w[$i]}"
		if [[ $want == *... ]]; then
			[[ ${g[$i]} == "${want%...}"* ]] ||
			    fail "line $((i + 1)): want '$want', got '${g[$i]}'"
		else
			[ "${g[$i]}" = "$want" ] ||
			    fail "line $((i + 1)): want '$want', got '${g[$i]}'"
		fi
	done
}

@test "the seed example is valid" {
	run --separate-stderr "$LOOM" validate "$SEED"
	assert_success
	assert_output "$SEED: ok"
	[ -z "$stderr" ]
}

@test "the seed example keeps the seed's backend host" {
	run grep -c 'url: http://user-backend:8080/api/tasks/' "$SEED"
	assert_output 4
	run grep -E '^  - id: (fetch_data|validate|process|send_email)$' "$SEED"
	assert_success
	[ "${#lines[@]}" -eq 4 ]
}

@test "every good fixture is valid" {
	for f in tests/data/good/*; do
		run --separate-stderr "$LOOM" validate "$f"
		[ "$status" -eq 0 ] || fail "$f: $stderr"
		assert_output "$f: ok"
	done
}

@test "-q prints nothing for valid files" {
	run "$LOOM" validate -q "$SEED" tests/data/good/*
	assert_success
	assert_output ""
}

@test "every bad fixture fails with its exact diagnostics" {
	for f in tests/data/bad/*.yaml; do
		run --separate-stderr "$LOOM" validate "$f"
		[ "$status" -eq 1 ] || fail "$f: exit $status, want 1"
		[ -z "$output" ] || fail "$f: stdout should be empty: $output"
		expect_diags "$f" "$stderr"
	done
}

@test "a cycle is reported with its path at its first task" {
	run --separate-stderr "$LOOM" validate tests/data/bad/cycle.yaml
	assert_failure 1
	[ "$stderr" = "tests/data/bad/cycle.yaml:6:5: dependency cycle: a -> b -> c -> a" ]
}

@test "a dangling dependency names the missing task and a near miss" {
	run --separate-stderr "$LOOM" validate tests/data/bad/dangling.yaml
	assert_failure 1
	[[ $stderr == *"tests/data/bad/dangling.yaml:10:17: task 'process' depends on 'fetchdata', which does not exist; did you mean 'fetch_data'?"* ]]
}

@test "unknown keys get a did-you-mean hint" {
	run --separate-stderr "$LOOM" validate tests/data/bad/unknown-key.yaml
	assert_failure 1
	[[ $stderr == *"unknown-key.yaml:6:1: unknown key 'shedule' in workflow; did you mean 'schedule'?"* ]]
	[[ $stderr == *"unknown-key.yaml:13:5: unknown key 'dependOn' in task 'process'; did you mean 'dependsOn'?"* ]]
}

@test "a concurrency policy that does not exist is named, with a hint" {
	run --separate-stderr "$LOOM" validate tests/data/bad/concurrency.yaml
	assert_failure 1
	[ "$stderr" = "tests/data/bad/concurrency.yaml:7:31: unknown concurrency policy 'skipp': expected queue, skip, bufferOne, cancelOther or allow; did you mean 'skip'?" ]
}

@test "a schedule that never fires is refused" {
	run --separate-stderr "$LOOM" validate tests/data/bad/never-fires.yaml
	assert_failure 1
	[[ $stderr == *":4:11: schedule '0 0 31 2 *' never fires"* ]]
	# the same expression from stdin, as 'loom cron next' already says
	run --separate-stderr "$LOOM" validate - <<<$'id: w\nschedule: "0 0 30 2 *"\ntasks:\n  - {id: a, command: x}'
	assert_failure 1
	[[ $stderr == "<stdin>:2:11: schedule '0 0 30 2 *' never fires"* ]]
}

@test "templates in a shell or java command line or env are refused" {
	run --separate-stderr "$LOOM" validate tests/data/bad/shell-template.yaml
	assert_failure 1
	[ "$(grep -c "templates are not expanded in" <<<"$stderr")" -eq 4 ]
	[[ $stderr == *":11:14: templates are not expanded in 'command': "*"read it from the request on stdin"* ]]
	[[ $stderr == *":15:15: templates are not expanded in 'env': "* ]]
}

@test "all errors of a file come in one run, in file order" {
	run --separate-stderr "$LOOM" validate tests/data/bad/many.yaml
	assert_failure 1
	[ "$(grep -c '^tests/data/bad/many.yaml:' <<<"$stderr")" -eq 9 ]
	sort -t: -k2,2n -k3,3n -c <<<"$stderr"
}

@test "good and bad files together: exit 1, ok lines for the good" {
	run --separate-stderr "$LOOM" validate "$SEED" tests/data/bad/cycle.yaml \
	    tests/data/good/java.yaml
	assert_failure 1
	assert_line --index 0 "$SEED: ok"
	assert_line --index 1 "tests/data/good/java.yaml: ok"
	[[ $stderr == "tests/data/bad/cycle.yaml:6:5: "* ]]
}

@test "-o json: one document for all files" {
	run --separate-stderr "$LOOM" validate -o json "$SEED" tests/data/bad/dangling.yaml
	assert_failure 1
	[ -z "$stderr" ]
	run jq -e '.valid == false and (.files | length) == 2' <<<"$output"
	assert_success
}

@test "-o json: errors carry file, line, column and message" {
	run "$LOOM" validate --output=json tests/data/bad/dangling.yaml
	assert_failure 1
	run jq -c '.files[0] | [.file, .valid, (.errors | length)]' <<<"$output"
	assert_output '["tests/data/bad/dangling.yaml",false,3]'
	run "$LOOM" validate -o json tests/data/bad/dangling.yaml
	run jq -c '.files[0].errors[0] | [.file, .line, .column, .message]' <<<"$output"
	assert_output "[\"tests/data/bad/dangling.yaml\",10,17,\"task 'process' depends on 'fetchdata', which does not exist; did you mean 'fetch_data'?\"]"
}

@test "-o json: all valid" {
	run "$LOOM" validate -o json "$SEED" tests/data/good/*
	assert_success
	run jq -e '.valid and all(.files[]; .valid and .errors == [])' <<<"$output"
	assert_success
}

@test "stdin: - reads the workflow from standard input" {
	run --separate-stderr "$LOOM" validate - <"$SEED"
	assert_success
	assert_output "<stdin>: ok"
	run --separate-stderr "$LOOM" validate - <tests/data/bad/cycle.yaml
	assert_failure 1
	[ "$stderr" = "<stdin>:6:5: dependency cycle: a -> b -> c -> a" ]
}

@test "JSON workflows validate too" {
	run "$LOOM" validate tests/data/good/workflow.json
	assert_success
	run --separate-stderr "$LOOM" validate - <<'EOF'
{"id":"daily-report","name":"Daily Report","schedule":"0 3 * * *",
 "retryStrategy":"exponential","tasks":[
 {"id":"fetch_data","type":"http","method":"POST",
  "url":"http://user-backend:8080/api/tasks/fetch-data","timeout":"5m",
  "maxAttempts":3,"retryOn":["TimeoutException","ConnectionException"]},
 {"id":"validate","type":"http","method":"POST",
  "url":"http://user-backend:8080/api/tasks/validate","timeout":"2m",
  "dependsOn":["fetch_data"]},
 {"id":"process","type":"http","method":"POST",
  "url":"http://user-backend:8080/api/tasks/process","timeout":"10m",
  "dependsOn":["fetch_data","validate"]},
 {"id":"send_email","type":"http","method":"POST",
  "url":"http://user-backend:8080/api/tasks/send-email","timeout":"1m",
  "dependsOn":["process"],"retryOn":"TimeoutExeption"}]}
EOF
	assert_failure 1
	[ "$stderr" = "<stdin>:14:37: unknown error class 'TimeoutExeption' in 'retryOn'; did you mean 'TimeoutException'?" ]
}

@test "an unreadable file is an error naming it" {
	run --separate-stderr "$LOOM" validate does-not-exist.yaml
	assert_failure 1
	[ "$stderr" = "does-not-exist.yaml: cannot open: No such file or directory" ]
	run --separate-stderr "$LOOM" validate tests/data
	assert_failure 1
	[[ $stderr == "tests/data: cannot read: Is a directory" ]]
}

@test "usage errors exit 2, --help exits 0" {
	run --separate-stderr "$LOOM" validate
	assert_failure 2
	[[ $stderr == *"no files given"* ]]
	run --separate-stderr "$LOOM" validate --frobnicate "$SEED"
	assert_failure 2
	[[ $stderr == *"unknown option '--frobnicate'"* ]]
	run --separate-stderr "$LOOM" validate -o yaml "$SEED"
	assert_failure 2
	run --separate-stderr "$LOOM" validate -o
	assert_failure 2
	run --separate-stderr "$LOOM" validate --help
	assert_success
	assert_line --index 0 --partial "usage: loom validate"
	[ -z "$stderr" ]
}

@test "graph: DOT for the seed" {
	run --separate-stderr "$LOOM" graph "$SEED"
	assert_success
	assert_line --index 0 'digraph "daily-report" {'
	assert_line --partial 'rankdir=LR;'
	assert_line --partial '"fetch_data" [label="fetch_data\n(http)"];'
	assert_line --partial '"send_email" [label="send_email\n(http)"];'
	assert_line --partial '"fetch_data" -> "validate";'
	assert_line --partial '"fetch_data" -> "process";'
	assert_line --partial '"validate" -> "process";'
	assert_line --partial '"process" -> "send_email";'
	[ "$(grep -c -- '->' <<<"$output")" -eq 4 ]
	assert_line --index $((${#lines[@]} - 1)) '}'
}

@test "graph: --format=dot output is accepted by Graphviz" {
	command -v dot >/dev/null || skip "graphviz is not installed"
	"$LOOM" graph --format=dot "$SEED" | dot -Tsvg >/dev/null
}

@test "graph: Mermaid for the seed" {
	run --separate-stderr "$LOOM" graph -f mermaid "$SEED"
	assert_success
	assert_line --index 0 'flowchart LR'
	assert_line '    fetch_data["fetch_data<br/>(http)"]'
	assert_line '    fetch_data --> validate'
	assert_line '    fetch_data --> process'
	assert_line '    validate --> process'
	assert_line '    process --> send_email'
	[ "$(grep -c -- '-->' <<<"$output")" -eq 4 ]
}

@test "graph: ids Mermaid cannot take become t<N> nodes" {
	run "$LOOM" graph -f mermaid tests/data/good/workflow.json
	assert_success
	run "$LOOM" graph -f mermaid - <<'EOF'
id: m
tasks:
  - {id: end, command: x}
  - {id: a.b, command: x, dependsOn: end}
EOF
	assert_success
	assert_line '    t0["end<br/>(shell)"]'
	assert_line '    t0 --> t1'
}

@test "graph: -o writes a file" {
	out="$BATS_TEST_TMPDIR/g.dot"
	run "$LOOM" graph -o "$out" "$SEED"
	assert_success
	assert_output ""
	grep -q '"process" -> "send_email";' "$out"
	run "$LOOM" graph -o /nonexistent-dir/g.dot "$SEED"
	assert_failure 5
}

@test "graph: stdin" {
	run "$LOOM" graph - <"$SEED"
	assert_success
	assert_line --partial '"validate" -> "process";'
}

@test "graph: an invalid file prints the errors and exits 1" {
	run --separate-stderr "$LOOM" graph tests/data/bad/cycle.yaml
	assert_failure 1
	[ -z "$output" ]
	[ "$stderr" = "tests/data/bad/cycle.yaml:6:5: dependency cycle: a -> b -> c -> a" ]
}

@test "graph: usage errors exit 2" {
	run "$LOOM" graph
	assert_failure 2
	run "$LOOM" graph --format svg "$SEED"
	assert_failure 2
	run "$LOOM" graph "$SEED" "$SEED"
	assert_failure 2
	run "$LOOM" graph --help
	assert_success
	assert_line --index 0 --partial "usage: loom graph"
}

@test "the JSON Schema accepts the seed and the good fixtures, refuses bad ones" {
	python3 -c 'import jsonschema, yaml' 2>/dev/null ||
	    skip "python3 jsonschema and yaml modules are not installed"
	run python3 - "$SEED" tests/data/good/* <<'EOF'
import json, sys, yaml
from jsonschema import Draft202012Validator
schema = json.load(open("schema/workflow.schema.json"))
Draft202012Validator.check_schema(schema)
v = Draft202012Validator(schema)
bad = 0
for f in sys.argv[1:]:
    for e in v.iter_errors(yaml.safe_load(open(f))):
        print(f, e.message)
        bad += 1
for f in ["unknown-key", "types", "empty-tasks", "missing", "concurrency"]:
    if not list(v.iter_errors(yaml.safe_load(open("tests/data/bad/%s.yaml" % f)))):
        print(f, "accepted by the schema")
        bad += 1
sys.exit(1 if bad else 0)
EOF
	assert_success
}
