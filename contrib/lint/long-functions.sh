#!/bin/sh
# Lists the C functions of the tree longer than LIMIT lines (default 80)
# that do not say why: the house style (../../README.md, Developing) wants
# a function that does not fit on a screen split in two, or a comment
# "Long: <why>" in the comment block right above it.  Exits 1 when it
# found one.  Top-level definitions are found KNF-style: the name at the
# start of a line, the body ending at the first "}" in column 0.
#
#   contrib/lint/long-functions.sh [LIMIT] [FILE...]
limit=${1:-80}
[ $# -gt 0 ] && shift
[ $# -gt 0 ] || set -- $(git ls-files 'lib/*.c' 'cmd/*.c')
awk -v limit="$limit" '
FNR == 1 { start = 0; why = 0; comment = "" }
/^\/\*/ { comment = ""; incomment = 1 }
incomment { comment = comment $0 "\n" }
incomment && /\*\// { incomment = 0 }
/^[a-z_][a-z_0-9]*\(/ && !start {
	start = FNR; name = $0; sub(/\(.*/, "", name)
	why = comment ~ /Long: /
}
/^}/ && start {
	n = FNR - start
	if (n > limit && !why) {
		printf "%s:%d: %s is %d lines (over %d); split it or say why (\"Long: ...\")\n", FILENAME, start, name, n, limit
		bad = 1
	}
	start = 0; comment = ""
}
/^[^ \t\/*]/ && !/^[a-z_][a-z_0-9]*\(/ && !/^}/ && !start && !incomment && !/^static|^const|^struct|^enum|^int|^char|^void|^long|^size_t|^jv|^double|^int64_t|^unsigned|^bool/ { comment = "" }
END { exit bad }
' "$@"
