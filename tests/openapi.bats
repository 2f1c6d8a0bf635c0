#!/usr/bin/env bats
# schema/openapi.yaml against the server it describes:
#   (a) every path and method of the document answers on a live loom-api
#       with something other than "no such route" (404 whose error field
#       is "path") or 405;
#   (b) every route of loom-api's table is in the document, with the same
#       scope: the table comes from `loom-api --list-routes`, which prints
#       cmd/loom-api/routes.c's table itself ("METHOD PATTERN SCOPE"), so no C is
#       parsed here;
#   (c) the document parses as YAML and holds together (every $ref
#       resolves, every {param} of a path is declared, the YAML parser
#       sees what (a) and (b) read), with openapi-spec-validator when
#       python3 has it.  Without python3-yaml (contrib/deps.sh installs
#       it) (c) is skipped with a message.
# (a) and (b) read the document without a YAML parser: its paths are keys
# indented two spaces under "paths:", their methods four, and each
# operation has an "x-loom-scope:" line (the layout openapi.yaml's header
# promises).

bats_require_minimum_version 1.5.0

load helpers

SPEC=$BATS_TEST_DIRNAME/../schema/openapi.yaml

setup_file() {
	loom_pg_start
	loom_api_start
}

teardown_file() {
	loom_stop_all
}

# "METHOD PATH SCOPE" for every operation of the document, sorted.
spec_routes() {
	awk '
	/^paths:/ { in_paths = 1; next }
	in_paths && /^[^ #]/ { in_paths = 0 }
	!in_paths { next }
	/^  \/[^ ]*:[ ]*$/ { path = $1; sub(/:$/, "", path); method = ""; next }
	/^    (get|put|post|delete|patch|head|options):/ {
		method = toupper($1); sub(/:$/, "", method); next }
	/^      x-loom-scope:/ && method != "" {
		print method, path, $2; method = "" }
	' "$SPEC" | sort
}

server_routes() {
	"$LOOM_BIN/loom-api" --list-routes | sort
}

# A concrete path for a pattern: every {param} filled with something
# that exists nowhere ({scheme} and {host} make a breaker target).
path_of() {
	sed -E -e 's/\{n\}/1/g' -e 's/\{scheme\}/http:/g' -e 's/\{host\}/h:80/g' \
	    -e 's/\{[A-Za-z]+\}/openapi-probe/g' <<<"$1"
}

@test "(b) every route of loom-api's table is in openapi.yaml, same scope" {
	run server_routes
	assert_success
	[ "${#lines[@]}" -ge 30 ]
	server=$output
	run spec_routes
	assert_success
	[ "${#lines[@]}" -ge 30 ]
	spec=$output
	run diff <(echo "$server") <(echo "$spec")
	[ "$status" -eq 0 ] || {
		echo "< only in loom-api --list-routes, > only in openapi.yaml:"
		echo "$output"
		return 1
	}
}

@test "(a) every path and method of openapi.yaml answers on loom-api" {
	local m pat scope p code bad=0 n=0
	while read -r m pat scope; do
		p=$(path_of "$pat")
		# Streams stay open: take the status line and hang up.
		code=$(curl -sS --path-as-is -o "$BATS_TEST_TMPDIR/body" \
		    -D "$BATS_TEST_TMPDIR/hdrs" -m 3 -X "$m" \
		    "$LOOM_API$p" 2>/dev/null; awk 'NR == 1 { print $2 }' \
		    "$BATS_TEST_TMPDIR/hdrs")
		n=$((n + 1))
		case $code in
		405)
			echo "$m $pat ($p): 405 $(cat "$BATS_TEST_TMPDIR/body")"
			bad=1 ;;
		404)
			if jq -e '.error.field == "path"' \
			    "$BATS_TEST_TMPDIR/body" >/dev/null; then
				echo "$m $pat ($p): no such route"
				bad=1
			fi ;;
		[1-5][0-9][0-9]) ;;
		*)
			echo "$m $pat ($p): no answer ('$code')"
			bad=1 ;;
		esac
	done < <(spec_routes)
	[ "$n" -ge 30 ]
	[ "$bad" = 0 ]
}

@test "(a) the probe tells a missing route from a missing resource" {
	# what (a) relies on, seen both ways
	run curl -sS "$LOOM_API/api/v1/no-such-route"
	jq -e '.error.code == "not_found" and .error.field == "path"' <<<"$output"
	run curl -sS "$LOOM_API/api/v1/workflows/openapi-probe"
	jq -e '.error.code == "not_found" and .error.field == "id"' <<<"$output"
}

@test "(c) openapi.yaml parses and holds together" {
	if ! python3 -c 'import yaml' 2>/dev/null; then
		skip "python3-yaml is not installed (contrib/deps.sh installs it)"
	fi
	spec_routes | cut -d' ' -f1,2 >"$BATS_TEST_TMPDIR/awk"
	run python3 - "$SPEC" "$BATS_TEST_TMPDIR/awk" <<'EOF'
import re, sys, yaml

spec = yaml.safe_load(open(sys.argv[1]))
errors = []
if not str(spec.get("openapi", "")).startswith("3.0."):
    errors.append("openapi is not 3.0.x")
for key in ("info", "paths", "components"):
    if key not in spec:
        errors.append("no " + key)

def resolve(ref):
    node = spec
    for part in ref.lstrip("#/").split("/"):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node

def walk(node, where):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and resolve(v) is None:
                errors.append("%s: $ref %s does not resolve" % (where, v))
            walk(v, where)
    elif isinstance(node, list):
        for v in node:
            walk(v, where)

methods = {"get", "put", "post", "delete", "patch", "head", "options"}
seen = set()
for path, item in spec["paths"].items():
    walk(item, path)
    declared = set()
    for p in item.get("parameters", []):
        p = resolve(p["$ref"]) if "$ref" in p else p
        if p and p.get("in") == "path":
            declared.add(p["name"])
    for m, op in item.items():
        if m not in methods:
            continue
        seen.add("%s %s" % (m.upper(), path))
        mine = set(declared)
        for p in op.get("parameters", []):
            p = resolve(p["$ref"]) if "$ref" in p else p
            if p and p.get("in") == "path":
                mine.add(p["name"])
        for name in re.findall(r"\{([^}]+)\}", path):
            if name not in mine:
                errors.append("%s %s: {%s} is not declared" % (m, path, name))
        if not op.get("responses"):
            errors.append("%s %s: no responses" % (m, path))
        if op.get("x-loom-scope") not in ("open", "callback", "read",
                "operator", "admin"):
            errors.append("%s %s: no x-loom-scope" % (m, path))
walk(spec.get("components", {}), "components")
awk = set(l.strip() for l in open(sys.argv[2]) if l.strip())
if awk != seen:
    errors.append("the layout the test reads differs from the YAML: %s"
                  % sorted(awk ^ seen))
try:
    from openapi_spec_validator import validate
except ImportError:
    print("openapi-spec-validator not installed: structural checks only")
else:
    try:
        validate(spec)
    except Exception as e:
        errors.append("openapi-spec-validator: %s" % str(e).split("\n")[0])
for e in errors:
    print(e)
sys.exit(1 if errors else 0)
EOF
	echo "$output"
	assert_success
}
