/*
 * test_jsonutil: the UTF-8 check (table of well-formed and ill-formed
 * sequences), the JSON nesting check, ISO time formatting, and the PG
 * field helpers on a hand-made result.
 */
#include <stdlib.h>
#include <string.h>

#include "util/jsonutil.h"
#include "t.h"

static const struct {
	const char *s;
	size_t len; /* 0: strlen */
	int ok;
	size_t bad; /* offset of the first bad byte when !ok */
	const char *name;
} utf8_cases[] = {
	{ "", 0, 1, 0, "empty" },
	{ "plain ascii {\"a\":1}", 0, 1, 0, "ascii" },
	{ "caf\xc3\xa9", 0, 1, 0, "2-byte e-acute" },
	{ "\xe2\x82\xac", 0, 1, 0, "3-byte euro" },
	{ "\xf0\x9f\x98\x80", 0, 1, 0, "4-byte emoji" },
	{ "\xef\xbf\xbf", 0, 1, 0, "U+FFFF" },
	{ "\xf4\x8f\xbf\xbf", 0, 1, 0, "U+10FFFF" },
	{ "\xed\x9f\xbf", 0, 1, 0, "U+D7FF (below surrogates)" },
	{ "ab\xff", 0, 0, 2, "0xFF" },
	{ "a\x80", 0, 0, 1, "lone continuation" },
	{ "\xc0\xaf", 0, 0, 0, "overlong 2-byte /" },
	{ "\xc1\xbf", 0, 0, 0, "overlong C1" },
	{ "\xe0\x80\xaf", 0, 0, 0, "overlong 3-byte" },
	{ "\xf0\x80\x80\xaf", 0, 0, 0, "overlong 4-byte" },
	{ "\xed\xa0\x80", 0, 0, 0, "surrogate D800" },
	{ "\xed\xbf\xbf", 0, 0, 0, "surrogate DFFF" },
	{ "\xf4\x90\x80\x80", 0, 0, 0, "above U+10FFFF" },
	{ "\xf5\x80\x80\x80", 0, 0, 0, "F5 lead" },
	{ "x\xc3", 0, 0, 1, "truncated 2-byte" },
	{ "x\xe2\x82", 0, 0, 1, "truncated 3-byte" },
	{ "\xe2\x28\xa1", 0, 0, 0, "bad second byte" },
	{ "\xf0\x9f\x98\x28", 0, 0, 0, "bad fourth byte" },
	{ "a\0b", 3, 0, 1, "NUL byte" },
};

static const struct {
	const char *s;
	int max;
	int ok;
	const char *name;
} depth_cases[] = {
	{ "{}", 1, 1, "one level" },
	{ "{\"a\":[]}", 1, 0, "two levels, max 1" },
	{ "{\"a\":[]}", 2, 1, "two levels, max 2" },
	{ "[[],[],[[]]]", 3, 1, "siblings do not add up" },
	{ "[[],[],[[[]]]]", 3, 0, "deepest branch counts" },
	{ "{\"a\":\"[[[[[[[[\"}", 1, 1, "brackets in strings" },
	{ "{\"a\":\"\\\"[[[[\"}", 1, 1, "escaped quote in string" },
	{ "{\"a\":\"\\\\\",\"b\":[[]]}", 2, 0, "escaped backslash ends" },
	{ "]]]][[", 2, 1, "stray closers do not go negative" },
	{ "", 1, 1, "empty" },
};

static void
test_utf8(void)
{
	for (size_t i = 0; i < sizeof(utf8_cases) / sizeof(utf8_cases[0]);
	     i++) {
		size_t len = utf8_cases[i].len ? utf8_cases[i].len :
						 strlen(utf8_cases[i].s),
		       bad = 999;
		int rc = utf8_check(utf8_cases[i].s, len, &bad);

		is_int(
		    rc == 0, utf8_cases[i].ok, "utf8: %s", utf8_cases[i].name);
		if (!utf8_cases[i].ok)
			is_int(bad, utf8_cases[i].bad, "utf8: %s: offset",
			    utf8_cases[i].name);
	}
}

static void
test_depth(void)
{
	char deep[256];
	size_t at = 0;

	for (size_t i = 0; i < sizeof(depth_cases) / sizeof(depth_cases[0]);
	     i++)
		is_int(
		    json_depth_check(depth_cases[i].s, strlen(depth_cases[i].s),
			depth_cases[i].max, NULL) == 0,
		    depth_cases[i].ok, "depth: %s", depth_cases[i].name);
	memset(deep, '[', 100);
	memset(deep + 100, ']', 100);
	deep[200] = '\0';
	is_int(json_depth_check(deep, 200, 64, &at), -1, "100 deep > 64");
	is_int(at, 64, "offset of the 65th bracket");
	is_int(json_depth_check(deep + 36, 128, 64, NULL), 0, "64 deep ok");
}

static void
test_nul(void)
{
	ok(json_has_nul("{\"a\":\"x\\u0000y\"}"), "NUL in a value");
	ok(json_has_nul("{\"\\u0000\":1}"), "NUL in a key");
	ok(json_has_nul("{\"a\":\"\\u00001\"}"), "NUL, then a 1");
	ok(json_has_nul("[\"\\\"\\u0000\"]"), "NUL after an escaped quote");
	ok(!json_has_nul("{\"a\":\"\\\\u0000\"}"),
	    "an escaped backslash, then u0000, is text");
	ok(!json_has_nul("{\"a\":\"\\u0001\"}"), "U+0001 is not NUL");
	ok(!json_has_nul("{\"u0000\":\"\\n\"}"), "no backslash-u");
	ok(!json_has_nul(""), "empty");
	ok(!json_has_nul("\"\\"), "a dangling backslash");
}

static void
test_iso(void)
{
	char buf[32];

	iso_time_ms(0, buf, sizeof(buf));
	is_str(buf, "1970-01-01T00:00:00.000Z", "epoch");
	iso_time_ms(1795666956123LL, buf, sizeof(buf));
	is_str(buf, "2026-11-26T04:22:36.123Z", "a 2026 instant");
	iso_time_ms(-1, buf, sizeof(buf));
	is_str(buf, "1969-12-31T23:59:59.999Z", "before the epoch");
}

static void
test_pg(void)
{
	PGresult *r = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	PGresAttDesc att[5];
	jv v;

	memset(att, 0, sizeof(att));
	for (int i = 0; i < 5; i++)
		att[i].name = (char *)"c";
	ok(r && PQsetResultAttrs(r, 5, att), "made a result");
	PQsetvalue(r, 0, 0, (char *)"text", 4);
	PQsetvalue(r, 0, 1, (char *)"42", 2);
	PQsetvalue(r, 0, 2, (char *)"t", 1);
	PQsetvalue(r, 0, 3, (char *)"{\"a\": [1, 2]}", 13);
	PQsetvalue(r, 0, 4, NULL, -1);

	v = pg_jv_text(r, 0, 0);
	is_str(jv_string_value(v), "text", "text");
	jv_free(v);
	v = pg_jv_num(r, 0, 1);
	is_int(jv_number_value(v), 42, "number");
	jv_free(v);
	v = pg_jv_bool(r, 0, 2);
	ok(jv_get_kind(v) == JV_KIND_TRUE, "bool");
	jv_free(v);
	v = pg_jv_json(r, 0, 3);
	ok(jv_equal(v, jv_parse("{\"a\":[1,2]}")), "json");
	v = pg_jv_text(r, 0, 4);
	ok(jv_get_kind(v) == JV_KIND_NULL, "SQL NULL is null (text)");
	v = pg_jv_json(r, 0, 4);
	ok(jv_get_kind(v) == JV_KIND_NULL, "SQL NULL is null (json)");
	v = pg_jv_json(r, 0, 0);
	ok(jv_get_kind(v) == JV_KIND_NULL, "bad JSON is null");
	PQclear(r);
}

int
main(void)
{
	test_utf8();
	test_depth();
	test_nul();
	test_iso();
	test_pg();
	return t_done();
}
