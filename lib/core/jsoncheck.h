/*
 * jsoncheck: a strict JSON syntax check (RFC 8259) for untrusted text,
 * run before libjq's parser sees it.
 *
 * libjq 1.6 leaks the value it was holding when it meets two values with
 * no separator between them ({"a" "b"}, [1 2]): 18 bytes or more per
 * request, for as long as a server runs.  Text that passes this check
 * parses in libjq without reaching that path, so loom-api checks every
 * JSON body here first (tests/fuzz/fuzz_request.c holds the check to
 * that: what passes here must parse there).  The check builds nothing,
 * takes one pass, and keeps one byte of state per nesting level.
 */
#ifndef LOOM_JSONCHECK_H
#define LOOM_JSONCHECK_H

#include <stddef.h>

#define JSON_CHECK_DEPTH_MAX 1024 /* the most max may ask for */

/*
 * 0 when buf[0..len) is exactly one JSON value (whitespace around it
 * allowed) nested at most max deep; else -1 with *at (when not NULL)
 * the offset of the first byte that is wrong (len when the text ends
 * too soon) and *why (when not NULL) a static phrase saying what was
 * expected.  Bytes are not checked for UTF-8 (utf8_check() does that).
 */
int json_syntax_check(
    const char *buf, size_t len, int max, size_t *at, const char **why);

/*
 * jv_parse_sized() for untrusted text: the text is checked first, because
 * libjq 1.6 leaks on some malformed input.  Returns the value, or a jv
 * invalid with a message naming the offset and what was expected.
 */
#include <jv.h>
jv json_parse_untrusted(const char *buf, size_t len);

#endif
