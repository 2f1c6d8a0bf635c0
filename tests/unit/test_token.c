/*
 * test_token: the pure half of lib/store/token.c -- the token format (generate,
 * parse, a table of malformed tokens), the stored hash, scope names and
 * their order, and token names.  The database half runs end to end in
 * tests/auth.bats.
 */
#include <string.h>

#include "util/digest.h"
#include "store/token.h"
#include "t.h"

#define ID "0123456789ab"
#define SECRET \
	"00112233445566778899aabbccddeeff" \
	"00112233445566778899aabbccddeeff"

static const struct {
	const char *s;
	int ok;
} shapes[] = {
	{ "loom_" ID "_" SECRET, 1 },
	{ "loom_" ID "_" SECRET "0", 0 }, /* too long */
	{ "loom_" ID "_" SECRET "\n", 0 },
	{ "loom_" ID "_0" SECRET, 0 },
	{ "loom_" ID SECRET, 0 }, /* no separator */
	{ "loom_" ID "-" SECRET, 0 },
	{ "Loom_" ID "_" SECRET, 0 },
	{ "loom-" ID "_" SECRET, 0 },
	{ "loom_0123456789AB_" SECRET, 0 }, /* upper case */
	{ "loom_0123456789ag_" SECRET, 0 },
	{ "loom_" ID "_"
	  "00112233445566778899aabbccddeeff"
	  "00112233445566778899aabbccddeefg",
	    0 },
	{ "loom_" ID "_", 0 },
	{ "loom_", 0 },
	{ "", 0 },
	{ "Bearer loom_" ID "_" SECRET, 0 },
};

int
main(void)
{
	char tok[TOKEN_LEN + 1], tok2[TOKEN_LEN + 1];
	char id[TOKEN_ID_HEX + 1], id2[TOKEN_ID_HEX + 1],
	    back[TOKEN_ID_HEX + 1];
	char hex[SHA256_HEX_LEN + 1], want[SHA256_HEX_LEN + 1];
	uint8_t d[SHA256_LEN];
	enum token_scope s;

	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		int rc = token_parse(shapes[i].s, back);

		is_int(rc == 0, shapes[i].ok, "shape #%zu %s", i,
		    shapes[i].ok ? "accepted" : "refused");
		if (rc == 0)
			is_str(back, ID, "shape #%zu: the id", i);
	}
	ok(token_parse(NULL, back) < 0, "NULL is not a token");

	ok(token_generate(tok, id) == 0, "generate");
	is_int(strlen(tok), TOKEN_LEN, "a token is %zu bytes", TOKEN_LEN);
	ok(strncmp(tok, "loom_", 5) == 0, "it starts with loom_");
	ok(token_parse(tok, back) == 0, "a generated token parses");
	is_str(back, id, "its id is the one returned");
	ok(token_generate(tok2, id2) == 0 && strcmp(tok, tok2) != 0 &&
		strcmp(id, id2) != 0,
	    "two tokens differ, and so do their ids");

	token_hash(tok, hex);
	sha256(tok, strlen(tok), d);
	is_str(hex, hex_encode(d, sizeof(d), want),
	    "the stored hash is the SHA-256 of the whole token");
	ok(strstr(hex, id) == NULL, "the hash does not hold the id");

	for (int i = TOKEN_SCOPE_READ; i <= TOKEN_SCOPE_ADMIN; i++) {
		ok(token_scope_parse(
		       token_scope_name((enum token_scope)i), &s) == 0 &&
			(int)s == i,
		    "scope %s round-trips",
		    token_scope_name((enum token_scope)i));
	}
	ok(TOKEN_SCOPE_READ < TOKEN_SCOPE_OPERATOR &&
		TOKEN_SCOPE_OPERATOR < TOKEN_SCOPE_ADMIN,
	    "read < operator < admin");
	ok(TOKEN_SCOPE_NONE < TOKEN_SCOPE_TRIGGER &&
		TOKEN_SCOPE_TRIGGER < TOKEN_SCOPE_READ,
	    "a trigger token is below read: it covers no route's scope");
	is_str(token_scope_name(TOKEN_SCOPE_TRIGGER), "trigger",
	    "the trigger scope's name");
	ok(token_scope_parse("trigger", &s) < 0,
	    "trigger is not a scope to give without a workflow");
	ok(token_scope_parse("Admin", &s) < 0, "scopes are lower case");
	ok(token_scope_parse("none", &s) < 0, "none is not a scope to give");
	ok(token_scope_parse("", &s) < 0, "empty is not a scope");
	ok(token_scope_parse(NULL, &s) < 0, "NULL is not a scope");
	is_str(token_scope_name((enum token_scope)42), "none",
	    "an unknown scope has the name none");

	ok(token_name_problem("ci deploy") == NULL, "a plain name is fine");
	ok(token_name_problem("") != NULL, "an empty name is refused");
	ok(token_name_problem(NULL) != NULL, "no name is refused");
	ok(token_name_problem("a\tb") != NULL, "a tab is refused");
	{
		char big[TOKEN_NAME_MAX + 2];

		memset(big, 'n', sizeof(big) - 1);
		big[TOKEN_NAME_MAX] = '\0';
		ok(token_name_problem(big) == NULL, "%d bytes are fine",
		    TOKEN_NAME_MAX);
		big[TOKEN_NAME_MAX] = 'n';
		big[TOKEN_NAME_MAX + 1] = '\0';
		ok(token_name_problem(big) != NULL, "%d bytes are too many",
		    TOKEN_NAME_MAX + 1);
	}
	return t_done();
}
