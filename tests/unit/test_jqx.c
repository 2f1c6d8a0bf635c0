/*
 * Unit tests for jqx.c: evaluation, truthiness, errors, templates and the
 * program cache.  Values are compared with jv_equal against JSON written
 * out in the tables, so key order never matters.
 */
#include <stdlib.h>
#include <string.h>

#include "core/jqx.h"
#include "t.h"
#include "core/xalloc.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const char ctx_json[] =
    "{\"params\":{\"name\":\"ann\",\"n\":3,\"list\":[1,2],\"flag\":true},"
    "\"tasks\":{\"a\":{\"output\":{\"id\":\"x-1\",\"count\":7,"
    "\"obj\":{\"k\":\"v\"}}}}}";

/* s with newlines shown as \n, for test names (TAP is line-based). */
static const char *
oneline(const char *s)
{
	static char buf[256];
	size_t n = 0;

	for (; *s && n + 3 < sizeof(buf); s++) {
		if (*s == '\n') {
			buf[n++] = '\\';
			buf[n++] = 'n';
		} else {
			buf[n++] = *s;
		}
	}
	buf[n] = '\0';
	return buf;
}

/* "json" or "ERR: message" for an invalid; the caller frees. */
static char *
show(jv v)
{
	char *s;

	if (jv_is_valid(v)) {
		jv d = jv_dump_string(v, 0);

		s = xstrdup(jv_string_value(d));
		jv_free(d);
	} else {
		jv m = jv_invalid_get_msg(v);

		if (jv_get_kind(m) == JV_KIND_STRING)
			s = xasprintf("ERR: %s", jv_string_value(m));
		else
			s = xstrdup("ERR (no message)");
		jv_free(m);
	}
	return s;
}

/*
 * Checks v against want: JSON compared with jv_equal, or "ERR:substring"
 * for an error whose message contains substring.  Consumes v.
 */
static void
check_value(jv v, const char *want, const char *what)
{
	char *got = show(jv_copy(v));

	if (strncmp(want, "ERR:", 4) == 0) {
		ok(!jv_is_valid(v) && strncmp(got, "ERR: ", 5) == 0 &&
			strstr(got, want + 4) != NULL,
		    "%s -> error containing \"%s\" (got %s)", what, want + 4,
		    got);
		jv_free(v);
	} else {
		jv w = jv_parse(want);

		if (!jv_is_valid(w)) {
			ok(0, "%s: bad JSON in test table: %s", what, want);
			jv_free(w);
			jv_free(v);
		} else {
			ok(jv_is_valid(v) && jv_equal(v, w),
			    "%s -> %s (got %s)", what, want, got);
		}
	}
	free(got);
}

static void
test_eval(struct jqx *x)
{
	static const struct {
		const char *prog, *input, *want;
	} tab[] = {
		{ ".a", "{\"a\":1}", "1" },
		{ ".params.n + 1", NULL, "4" },
		{ ".tasks.a.output.obj.k", NULL, "\"v\"" },
		{ "[.params.list[] * 2]", NULL, "[2,4]" },
		{ ".missing", NULL, "null" },
		{ "1, 2", "null", "1" },     /* first output only */
		{ "empty", "null", "null" }, /* no output is null */
		{ "halt", "null", "null" },
		{ "error(null)", "null", "null" },
		{ "def f: . + 1; f", "1", "2" },
		{ ".a as $x | $x * 2", "{\"a\":4}", "8" },
		{ "[limit(3; repeat(1))]", "null", "[1,1,1]" },
		{ "reduce range(5) as $i (0; . + $i)", "null", "10" },
		{ "$__loc__.line", "null", "1" }, /* prelude adds no line */
		{ "\n\n$__loc__.line", "null", "3" },
		{ "error(\"boom\")", "null", "ERR:boom" },
		{ "error({a: 1})", "null", "ERR:{\"a\":1} (not a string)" },
		{ ".a.b", "{\"a\":5}", "ERR:Cannot index number" },
		{ "\"bye\\n\" | halt_error", "null",
		    "ERR:halt_error (exit 5): bye" },
		{ "{} | halt_error(3)", "null",
		    "ERR:halt_error (exit 3): {} (not a string)" },
		{ ".a |", "null", "ERR:syntax error" },
		/* The sandbox: no environment, files, inputs or stderr. */
		{ "env", "null", "{}" },
		{ "$ENV", "null", "{}" },
		{ "env.PATH", "null", "null" },
		{ "[$ENV.HOME, (def g: $ENV.PATH; g)]", "null", "[null,null]" },
		{ "input", "null", "ERR:input is not available" },
		{ "[inputs]", "null", "[]" },
		{ "\"x\" | modulemeta", "null", "ERR:modules are not" },
		{ "include \"x\"; .", "null", "ERR:syntax error" },
		{ "import \"x\" as x; .", "null", "ERR:syntax error" },
		{ "[stderr]", "7", "[7]" },
		{ "[debug]", "7", "[7]" },
		{ "get_search_list", "null", "[]" },
	};
	char what[160];

	for (size_t i = 0; i < NELEM(tab); i++) {
		jv in = jv_parse(tab[i].input ? tab[i].input : ctx_json);

		snprintf(what, sizeof(what), "eval %s", oneline(tab[i].prog));
		check_value(jqx_eval(x, tab[i].prog, in), tab[i].want, what);
	}
	check_value(
	    jqx_eval(x, NULL, jv_null()), "ERR:no jq expression", "eval NULL");

	/* A state that errored or halted is reusable. */
	for (int round = 0; round < 2; round++) {
		check_value(
		    jqx_eval(x, "if . then error(\"x\") else 1 end", jv_true()),
		    "ERR:x", "error state, round");
		check_value(jqx_eval(x, "if . then error(\"x\") else 1 end",
				jv_false()),
		    "1", "then a value from the same program");
		check_value(jqx_eval(x, "if . then halt_error else 2 end",
				jv_string("h")),
		    "ERR:halt_error (exit 5): h", "halted state");
		check_value(
		    jqx_eval(x, "if . then halt_error else 2 end", jv_false()),
		    "2", "then a value after halt");
	}
}

static void
test_bool(struct jqx *x)
{
	static const struct {
		const char *prog;
		int want;
	} tab[] = {
		{ "false", 0 },
		{ "null", 0 },
		{ "empty", 0 },
		{ "halt", 0 },
		{ "true", 1 },
		{ "0", 1 },
		{ "\"\"", 1 },
		{ "[]", 1 },
		{ "{}", 1 },
		{ "\"false\"", 1 },
		{ "false, true", 0 }, /* first output decides */
		{ "true, false", 1 },
		{ ".params.flag", 1 },
		{ ".params.nope", 0 },
		{ ".tasks.a.output.count > 3", 1 },
		{ ".tasks.a.output.count > 30", 0 },
		{ ".params.name == \"ann\"", 1 },
		{ ".tasks.b.output.x", 0 },
		{ ".params.list | length == 2", 1 },
		{ ".params.list | index(5)", 0 },
		{ "error(\"nope\")", -1 },
		{ ".x |", -1 },
		{ ".params.name.x", -1 },
	};
	char *err;
	int rc;

	for (size_t i = 0; i < NELEM(tab); i++) {
		err = (char *)"unset";
		rc = jqx_eval_bool(x, tab[i].prog, jv_parse(ctx_json), &err);
		is_int(rc, tab[i].want, "when: %s -> %d", tab[i].prog,
		    tab[i].want);
		if (tab[i].want < 0)
			ok(err != NULL && *err != '\0', "  error \"%s\"",
			    err ? err : "(null)");
		else
			ok(err == NULL, "  no error message");
		if (rc < 0)
			free(err);
	}
	err = NULL;
	rc = jqx_eval_bool(x, "error(\"nope\")", jv_null(), &err);
	is_str(err, "nope", "eval_bool error message is jq's");
	free(err);
	is_int(jqx_eval_bool(x, "error(\"x\")", jv_null(), NULL), -1,
	    "eval_bool with err NULL");
}

static void
test_compile_errors(struct jqx *x)
{
	static const struct {
		const char *prog, *want;
	} tab[] = {
		{ ".a |", "syntax error, unexpected $end" },
		{ ".a |", "line 1" },
		{ "foo(1)", "foo/1 is not defined" },
		{ ".a\n| bar", "bar/0 is not defined at line 2" },
		{ "{", "syntax error" },
		{ "1/0", "Division by zero" },
		{ "", "empty jq expression" },
		{ "  \n ", "empty jq expression" },
	};
	char *err;

	for (size_t i = 0; i < NELEM(tab); i++) {
		err = NULL;
		is_int(jqx_check(x, tab[i].prog, &err), -1,
		    "check \"%s\" fails", oneline(tab[i].prog));
		ok(err != NULL && strstr(err, tab[i].want) != NULL,
		    "  message has \"%s\" (%s)", tab[i].want,
		    err ? err : "(null)");
		ok(err != NULL && strchr(err, '\n') == NULL &&
			strstr(err, "jq: ") == NULL &&
			strstr(err, "def env") == NULL &&
			strstr(err, "compile error") == NULL,
		    "  message is one clean line");
		free(err);
	}
	err = (char *)"unset";
	is_int(jqx_check(x, ".params | keys", &err), 0, "check good program");
	ok(err == NULL, "  no message");
	err = NULL;
	is_int(jqx_check(x, NULL, &err), -1, "check NULL");
	ok(err != NULL, "  with a message");
	free(err);
	is_int(jqx_check(x, "foo", NULL), -1, "check with err NULL");
	/* A cached failure gives the same message again. */
	err = NULL;
	jqx_check(x, "foo(1)", &err);
	ok(err != NULL && strstr(err, "foo/1 is not defined") != NULL,
	    "cached compile error keeps its message");
	free(err);
}

/*
 * Plain strings reach libjq as @text strings (jqx.c, text_strings()): the
 * same values, and libjq's own messages for syntax errors inside strings,
 * which libjq 1.6 leaked 21 bytes for (make check-valgrind and check-asan
 * see such a leak in this test).
 */
static void
test_plain_strings(struct jqx *x)
{
	static const struct {
		const char *prog, *want;
	} tab[] = {
		{ "{\"a\": 1}", "{\"a\":1}" },
		{ "{\"a\"}", "{\"a\":null}" },
		{ "{\"a\\(1)\": 2}", "{\"a1\":2}" },
		{ "{a: 5} | .\"a\"", "5" },
		{ "{a: {b: 3}} | .a.\"b\"?", "3" },
		{ "{\"a\": 4} as {\"a\": $x} | $x", "4" },
		{ "\"x\\(1 + 1)y\"", "\"x2y\"" },
		{ "\"\\(\"a\\(\"b\")c\")\"", "\"abc\"" },
		{ "\"\\(\"(\")\\\"\"", "\"(\\\"\"" },
		{ "\"\\([1, {a: \"b\"}])\"", "\"[1,{\\\"a\\\":\\\"b\\\"}]\"" },
		{ "@base64 \"x\\(\"hi\")\"", "\"xaGk=\"" },
		{ "@base64 # a comment \"\n \"x\\(\"hi\")\"", "\"xaGk=\"" },
		{ "@json \"v: \\(\"q\")\"", "\"v: \\\"q\\\"\"" },
		{ "\"#\" # \"", "\"#\"" },
		{ "[1, 2] | join(\",\")", "\"1,2\"" },
		{ "\"\\u00e9\\t\"", "\"\u00e9\\t\"" },
		{ "try error(\"x\") catch .", "\"x\"" },
		{ "reduce (1, 2) as $i (\"\"; . + \"\\($i)\")", "\"12\"" },
		{ "def f: \"q\"; f", "\"q\"" },
		{ ".params.name | \"hi \\(.)\"", "\"hi ann\"" },
	};
	static const struct {
		const char *prog, *want;
	} bad[] = {
		/* tests/fuzz/regress/request/jq-parse-leak */
		{ ".params.notify and\"(.tasks.enrich .outpu(.count > 0)",
		    "syntax error, unexpected $end, expecting QQSTRING_TEXT or "
		    "QQSTRING_INTERP_START or QQSTRING_END at line 1" },
		{ "\"abc",
		    "syntax error, unexpected $end, expecting "
		    "QQSTRING_TEXT or QQSTRING_INTERP_START or "
		    "QQSTRING_END at line 1" },
		{ "\"\\(\"\\(\"\\(",
		    "syntax error, unexpected $end at line 1" },
		{ "\"\\(1 +)\"",
		    "syntax error, unexpected QQSTRING_INTERP_END at line 1" },
		{ "\"a\\(1]\")\"",
		    "syntax error, unexpected INVALID_CHARACTER at line 1" },
		{ "\"\\",
		    "syntax error, unexpected INVALID_CHARACTER, "
		    "expecting QQSTRING_TEXT or QQSTRING_INTERP_START or "
		    "QQSTRING_END at line 1" },
		{ ".a \"b",
		    "syntax error, unexpected QQSTRING_START, "
		    "expecting $end at line 1" },
		{ "\"\\(1 \"x\")\"",
		    "syntax error, unexpected QQSTRING_START at line 1" },
		{ "{\"a\\(1 + )\": 1}",
		    "syntax error, unexpected QQSTRING_INTERP_END at line 1; "
		    "May need parentheses around object key expression at "
		    "line 1" },
		{ "@base64 # c\n \"x\\(1 +)\"",
		    "syntax error, unexpected QQSTRING_INTERP_END at line 2" },
		/* the one message that is not libjq's (QQSTRING_START) */
		{ "@base64 \"x\" | .a \"b",
		    "syntax error, unexpected FORMAT, expecting $end at line "
		    "1" },
	};
	jv ctx = jv_parse(ctx_json);
	char what[160], *err;

	for (size_t i = 0; i < NELEM(tab); i++) {
		snprintf(what, sizeof(what), "eval %s", oneline(tab[i].prog));
		check_value(
		    jqx_eval(x, tab[i].prog, jv_copy(ctx)), tab[i].want, what);
	}
	jv_free(ctx);
	for (size_t i = 0; i < NELEM(bad); i++) {
		err = NULL;
		is_int(jqx_check(x, bad[i].prog, &err), -1, "check %s fails",
		    oneline(bad[i].prog));
		is_str(err, bad[i].want, "  with libjq's message");
		free(err);
	}
}

static void
test_render(struct jqx *x)
{
	static const struct {
		const char *tmpl, *want;
	} tab[] = {
		/* exact: the JSON value */
		{ "\"${{ .params.n }}\"", "3" },
		{ "\"${{.params.n}}\"", "3" },
		{ "\"${{ \\t .params.list \\n }}\"", "[1,2]" },
		{ "\"${{ .tasks.a.output.obj }}\"", "{\"k\":\"v\"}" },
		{ "\"${{ .params.name }}\"", "\"ann\"" },
		{ "\"${{ .params.flag }}\"", "true" },
		{ "\"${{ .missing }}\"", "null" },
		{ "\"${{ empty }}\"", "null" },
		{ "\"${{ .params | {name} }}\"", "{\"name\":\"ann\"}" },
		{ "\"${{ {a: {b: .params.n}} }}\"", "{\"a\":{\"b\":3}}" },
		{ "\"${{ \\\"}}\\\" }}\"", "\"}}\"" },
		{ "\"${{ [.params.list[] | {v: .}] }}\"",
		    "[{\"v\":1},{\"v\":2}]" },
		/* interpolated: text */
		{ "\"hello ${{ .params.name }}!\"", "\"hello ann!\"" },
		{ "\"n=${{ .params.n }} l=${{ .params.list }} "
		  "o=${{ .tasks.a.output.obj }} z=${{ .none }}\"",
		    "\"n=3 l=[1,2] o={\\\"k\\\":\\\"v\\\"} z=null\"" },
		{ "\"${{ .params.name }}${{ .params.n }}\"", "\"ann3\"" },
		{ "\" ${{ .params.n }}\"", "\" 3\"" },
		{ "\"${{ .params.n }} \"", "\"3 \"" },
		{ "\"x${{ \\\"a\\\\(.params.n)b\\\" }}y\"", "\"xa3by\"" },
		{ "\"id-${{ .tasks.a.output.id }}\"", "\"id-x-1\"" },
		/* escapes and literals */
		{ "\"$${{ .params.n }}\"", "\"${{ .params.n }}\"" },
		{ "\"a $5 and $${{ x }} and ${{ .params.n }}\"",
		    "\"a $5 and ${{ x }} and 3\"" },
		{ "\"plain\"", "\"plain\"" },
		{ "\"}} alone\"", "\"}} alone\"" },
		{ "\"$ {{ x }}\"", "\"$ {{ x }}\"" },
		{ "\"${ x }\"", "\"${ x }\"" },
		{ "\"$$\"", "\"$$\"" },
		{ "\"\"", "\"\"" },
		/* non-strings untouched, structures walked, keys literal */
		{ "42", "42" },
		{ "true", "true" },
		{ "null", "null" },
		{ "[1, \"a\", 2.5]", "[1,\"a\",2.5]" },
		{ "{}", "{}" },
		{ "{\"a\":[\"${{ .params.n }}\",{\"b\":\"${{ .tasks.a.output."
		  "id }}\",\"${{ .k }}\":1}],\"n\":5,\"t\":true,\"z\":null,"
		  "\"f\":1.5,\"s\":\"lit\"}",
		    "{\"a\":[3,{\"b\":\"x-1\",\"${{ .k }}\":1}],\"n\":5,"
		    "\"t\":true,\"z\":null,\"f\":1.5,\"s\":\"lit\"}" },
		{ "[[[\"${{ .params.list }}\"]]]", "[[[[1,2]]]]" },
		/* errors */
		{ "\"${{ .params.n\"", "ERR:unterminated" },
		{ "\"a ${{ .x\"", "ERR:unterminated" },
		{ "\"${{ \\\"}} }}\"", "ERR:unterminated" },
		{ "\"a ${{ .x | }}\"", "ERR:in \"${{ .x | }}\": syntax error" },
		{ "\"${{ error(\\\"bad\\\") }}\"", "ERR:bad" },
		{ "\"${{ }}\"", "ERR:empty jq expression" },
		{ "\"${{ .params.name.x }}\"", "ERR:Cannot index string" },
		{ "{\"a\":[1,{\"b\":\"${{ error(\\\"deep\\\") }}\"}],\"c\":2}",
		    "ERR:deep" },
		{ "[\"${{ .params.n }}\",\"${{ nope }}\"]",
		    "ERR:nope/0 is not defined" },
	};
	char what[200];

	for (size_t i = 0; i < NELEM(tab); i++) {
		jv t = jv_parse(tab[i].tmpl);

		snprintf(what, sizeof(what), "render %s", tab[i].tmpl);
		if (!jv_is_valid(t)) {
			ok(0, "%s: bad JSON in test table", what);
			jv_free(t);
			continue;
		}
		check_value(
		    jqx_render(x, t, jv_parse(ctx_json)), tab[i].want, what);
	}
}

static void
test_template_check(struct jqx *x)
{
	static const struct {
		const char *tmpl, *want; /* want NULL: passes */
	} tab[] = {
		{ "{\"x\":\"ok ${{ .a }}\",\"y\":[\"${{ .b }}\"],\"z\":1}",
		    NULL },
		{ "\"${{ error(\\\"runtime only\\\") }}\"", NULL },
		{ "\"no expressions\"", NULL },
		{ "{\"${{ bad | }}\":1}", NULL }, /* keys are not templates */
		{ "\"$${{ bad | }}\"", NULL },
		{ "{\"x\":\"ok ${{ .a }}\",\"y\":[\"${{ .b | }}\"]}",
		    "${{ .b | }}" },
		{ "[\"${{ foo1 }}\",\"${{ foo2 }}\"]", "${{ foo1 }}" },
		{ "\"x ${{ .a\"", "unterminated" },
		{ "\"${{   }}\"", "empty jq expression" },
	};
	char *err;

	for (size_t i = 0; i < NELEM(tab); i++) {
		err = (char *)"unset";
		if (tab[i].want == NULL) {
			is_int(
			    jqx_template_check(x, jv_parse(tab[i].tmpl), &err),
			    0, "template_check %s passes", tab[i].tmpl);
			ok(err == NULL, "  no message");
			continue;
		}
		is_int(jqx_template_check(x, jv_parse(tab[i].tmpl), &err), -1,
		    "template_check %s fails", tab[i].tmpl);
		ok(err != NULL && strstr(err, tab[i].want) != NULL,
		    "  names \"%s\" (%s)", tab[i].want, err ? err : "(null)");
		free(err);
	}
	is_int(jqx_template_check(x, jv_string("${{ | }}"), NULL), -1,
	    "template_check with err NULL");
}

static void
test_has_expr(void)
{
	static const struct {
		const char *tmpl;
		int want;
	} tab[] = {
		{ "\"a\"", 0 },
		{ "\"${{ x }}\"", 1 },
		{ "\"pre ${{ x }} post\"", 1 },
		{ "\"$${{ x }}\"", 1 }, /* needs rendering to unescape */
		{ "\"${ x }\"", 0 },
		{ "5", 0 },
		{ "null", 0 },
		{ "[]", 0 },
		{ "{\"${{ k }}\":\"v\"}", 0 },
		{ "[\"a\",{\"b\":[\"${{ x }}\"]}]", 1 },
		{ "{\"a\":1,\"b\":{\"c\":\"${{ x }}\"},\"d\":\"e\"}", 1 },
		{ "[1,2,{\"a\":[true,null,\"x\"]}]", 0 },
	};

	for (size_t i = 0; i < NELEM(tab); i++)
		is_int(jqx_template_has_expr(jv_parse(tab[i].tmpl)),
		    tab[i].want, "has_expr %s", tab[i].tmpl);
}

static void
test_cache(void)
{
	struct jqx *x = jqx_new();
	char *err = NULL;

	is_int(jqx_cache_size(x), 0, "new cache is empty");
	check_value(jqx_eval(x, ".a", jv_parse("{\"a\":1}")), "1", "first");
	is_int(jqx_cache_size(x), 1, "one program cached");
	check_value(jqx_eval(x, ".a", jv_parse("{\"a\":2}")), "2", "again");
	is_int(jqx_cache_size(x), 1, "same program compiles once");
	check_value(jqx_eval(x, ".b", jv_parse("{\"b\":3}")), "3", "other");
	is_int(jqx_cache_size(x), 2, "a second program");
	is_int(jqx_check(x, ".a", &err), 0, "check a cached program");
	is_int(jqx_cache_size(x), 2, "check hits the cache");
	jqx_check(x, ".c |", &err);
	free(err);
	jqx_check(x, ".c |", &err);
	free(err);
	is_int(jqx_cache_size(x), 3, "a failed compile is cached once");
	/* "${{ .a }}" and "${{.a}}" are the program ".a" */
	check_value(jqx_render(x, jv_parse("[\"${{ .a }}\",\"${{.a}}\"]"),
			jv_parse("{\"a\":5}")),
	    "[5,5]", "template");
	is_int(jqx_cache_size(x), 3, "template expressions share the cache");
	is_int(jqx_template_check(x, jv_string("${{ .d }}"), NULL), 0,
	    "template_check compiles");
	is_int(jqx_cache_size(x), 4, "template_check fills the cache");
	jqx_free(x);
	jqx_free(NULL);
	ok(1, "jqx_free(NULL) is fine");
}

int
main(void)
{
	struct jqx *x = jqx_new();

	test_eval(x);
	test_bool(x);
	test_compile_errors(x);
	test_plain_strings(x);
	test_render(x);
	test_template_check(x);
	test_has_expr();
	jqx_free(x);
	test_cache();
	return t_done();
}
