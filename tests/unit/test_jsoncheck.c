/*
 * test_jsoncheck: the strict JSON syntax check, table-driven: what it
 * accepts parses in libjq too, what it refuses names the offending byte,
 * and the inputs that make libjq 1.6 leak are refused.
 */
#include <string.h>

#include <jv.h>

#include "core/jsoncheck.h"
#include "t.h"

static const struct {
	const char *text;
	int ok;
	size_t at; /* when refused */
} cases[] = {
	{ "{}", 1, 0 },
	{ "[]", 1, 0 },
	{ " \t\r\n{ \"a\" : [ 1 , -2.5e+3 , true , false , null ] } \n", 1, 0 },
	{ "\"just a string\"", 1, 0 },
	{ "0", 1, 0 },
	{ "-0.0E-0", 1, 0 },
	{ "123456789012345678901234567890", 1, 0 },
	{ "\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9 \\uD83D\\uDE00\"", 1,
	    0 },
	{ "\"caf\xc3\xa9\"", 1, 0 },
	{ "{\"input\":{\"a\":{\"b\":[[[]]]}}}", 1, 0 },
	{ "[{}, {\"\": \"\"}, [[], {}]]", 1, 0 },

	/* the inputs that leak in libjq 1.6 */
	{ "{\"a\" \"b\"}", 0, 5 },
	{ "{\"a\"\"b\"}", 0, 4 },
	{ "[\"a\" \"b\"]", 0, 5 },
	{ "[1 2]", 0, 3 },
	{ "{\"a\":\"b\" \"c\"}", 0, 9 },
	{ "{\"a\":1 \"b\":2}", 0, 7 },

	{ "", 0, 0 },
	{ "   ", 0, 3 },
	{ "{", 0, 1 },
	{ "[1,", 0, 3 },
	{ "[1,]", 0, 3 },
	{ "{\"a\":1,}", 0, 7 },
	{ "{,}", 0, 1 },
	{ "{\"a\"}", 0, 4 },
	{ "{\"a\":}", 0, 5 },
	{ "{a:1}", 0, 1 },
	{ "{1:1}", 0, 1 },
	{ "[}", 0, 1 },
	{ "{]", 0, 1 },
	{ "[1]]", 0, 3 },
	{ "{} {}", 0, 3 },
	{ "1 2", 0, 2 },
	{ "01", 0, 1 },
	{ "1.", 0, 2 },
	{ ".5", 0, 0 },
	{ "1e", 0, 2 },
	{ "1e+", 0, 3 },
	{ "-", 0, 1 },
	{ "+1", 0, 0 },
	{ "nan", 0, 1 },
	{ "NaN", 0, 0 },
	{ "infinity", 0, 0 },
	{ "tru", 0, 3 },
	{ "nul", 0, 3 },
	{ "truex", 0, 4 },
	{ "'a'", 0, 0 },
	{ "\"abc", 0, 4 },
	{ "\"a\\x\"", 0, 3 },
	{ "\"a\\u12\"", 0, 6 },
	{ "\"a\\u12G4\"", 0, 6 },
	{ "\"tab\there\"", 0, 4 },
	{ "\"\\", 0, 2 },
	/* surrogates, as libjq takes them */
	{ "\"\\ude00 alone is taken\"", 1, 0 },
	{ "\"\\udbff\\udfff\"", 1, 0 },
	{ "\"\\ud83d\"", 0, 7 },
	{ "\"\\ud83dx\"", 0, 7 },
	{ "\"\\ud83d]ude00\"", 0, 7 },
	{ "\"\\ud83d\\u0041\"", 0, 7 },
	{ "\"\\ud83d\\ud83d\"", 0, 7 },
	{ "\"\\ud83d\\u12\"", 0, 7 },
	{ "// comment\n{}", 0, 0 },
	{ "[1,2]x", 0, 5 },
};

int
main(void)
{
	const char *why;
	size_t at;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *s = cases[i].text;
		int rc = json_syntax_check(s, strlen(s), 64, &at, &why);

		if (cases[i].ok) {
			jv v = jv_parse_sized(s, (int)strlen(s));

			ok(rc == 0, "accepted: %s", s);
			ok(jv_is_valid(v), "libjq parses it too: %s", s);
			jv_free(v);
		} else {
			ok(rc < 0, "refused: %s", s);
			is_int(at, cases[i].at, "at the right byte: %s", s);
			ok(rc < 0 && why != NULL && *why, "says why: %s",
			    rc < 0 && why ? why : "(nothing)");
		}
	}
	/* depth: max levels pass, one more does not */
	{
		char deep[2 * 70 + 1];

		for (int d = 1; d <= 70; d++) {
			memset(deep, '[', (size_t)d);
			memset(deep + d, ']', (size_t)d);
			deep[2 * d] = '\0';
			if (d == 64 || d == 65)
				is_int(json_syntax_check(deep, (size_t)(2 * d),
					   64, &at, &why),
				    d <= 64 ? 0 : -1, "%d levels", d);
		}
		ok(json_syntax_check("[[", 2, 1, &at, &why) < 0 && at == 1,
		    "max 1: the second bracket is too deep");
		ok(json_syntax_check("1", 1, 0, NULL, NULL) == 0,
		    "max 0: scalars only");
		ok(json_syntax_check("[]", 2, 0, NULL, NULL) < 0,
		    "max 0: no arrays");
		ok(json_syntax_check("[]", 2, 100000, NULL, NULL) == 0,
		    "a huge max is clamped, not overflowed");
	}
	/* a NUL inside is not JSON (the length decides, not the NUL) */
	ok(json_syntax_check("[1]\0", 4, 64, &at, &why) < 0 && at == 3,
	    "a trailing NUL byte is refused");
	return t_done();
}
