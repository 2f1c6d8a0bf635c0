/*
 * test_idgen: shapes of execution ids and callback tokens, and that two
 * draws differ (a broken generator that repeats would fail this).
 */
#include <string.h>

#include "util/idgen.h"
#include "t.h"

int
main(void)
{
	char a[IDGEN_EXEC_LEN + 1], b[IDGEN_EXEC_LEN + 1];
	char t1[IDGEN_TOKEN_HEX + 1], t2[IDGEN_TOKEN_HEX + 1], h[9];

	is_int(IDGEN_EXEC_LEN, 25, "exec-id length is 5 + 20");
	is_int(idgen_execution_id(a), 0, "execution id");
	is_int(idgen_execution_id(b), 0, "another");
	is_int(strlen(a), 25, "length");
	ok(strncmp(a, "exec-", 5) == 0, "prefix: %s", a);
	ok(idgen_is_execution_id(a), "shape: %s", a);
	ok(strcmp(a, b) != 0, "two ids differ");
	is_int(idgen_callback_token(t1), 0, "token");
	is_int(idgen_callback_token(t2), 0, "another token");
	is_int(strlen(t1), 64, "token length");
	is_int(strspn(t1, "0123456789abcdef"), 64, "token is hex");
	ok(strcmp(t1, t2) != 0, "two tokens differ");
	memset(h, 'x', sizeof(h));
	is_int(idgen_hex(h, 4), 0, "4 bytes");
	ok(h[8] == '\0' && strspn(h, "0123456789abcdef") == 8, "8 hex + NUL");
	ok(!idgen_is_execution_id("exec-0123"), "too short");
	ok(!idgen_is_execution_id("exec-0123456789ABCDEF0123"), "upper case");
	ok(!idgen_is_execution_id("run-0123456789abcdef01234"), "prefix");
	ok(idgen_is_execution_id("exec-0123456789abcdef0123"), "good");
	return t_done();
}
