/*
 * jsoncheck: a strict JSON syntax check (see jsoncheck.h).
 *
 * A state machine over the bytes: what may come next (a value, a key, a
 * colon, a comma or a closing bracket) and, per open container, whether
 * it is an object or an array.  Strings and numbers are scanned whole by
 * their own small loops.
 */
#include "jsoncheck.h"

enum want {
	W_VALUE,		/* any value */
	W_VALUE_OR_CLOSE,	/* just after '[' */
	W_KEY_OR_CLOSE,		/* just after '{' */
	W_KEY,			/* after ',' in an object */
	W_COLON,		/* after a key */
	W_NEXT,			/* after a value: ',' or a close, or the end */
};

static int
is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int
is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Four hex digits at s[p] into *u; else -1 with *bad the offending byte. */
static int
hex4(const char *s, size_t n, size_t p, unsigned *u, size_t *bad)
{
	*u = 0;
	for (size_t k = 0; k < 4; k++) {
		char c = p + k < n ? s[p + k] : '\0';

		if (p + k >= n || !is_hex(c)) {
			*bad = p + k < n ? p + k : n;
			return -1;
		}
		*u = *u << 4 | (unsigned)(is_digit(c) ? c - '0' :
		    (c | 0x20) - 'a' + 10);
	}
	return 0;
}

/* A string starting at s[*i] == '"'; leaves *i after the closing quote. */
static int
scan_string(const char *s, size_t n, size_t *i, const char **why)
{
	size_t p = *i + 1;

	while (p < n && s[p] != '"') {
		unsigned char c = (unsigned char)s[p];

		if (c < 0x20) {
			*i = p;
			*why = "a control character must be escaped in a string";
			return -1;
		}
		if (c != '\\') {
			p++;
			continue;
		}
		if (++p >= n)
			break;
		switch (s[p]) {
		case '"': case '\\': case '/': case 'b': case 'f': case 'n':
		case 'r': case 't':
			p++;
			break;
		case 'u': {
			unsigned u;

			if (hex4(s, n, p + 1, &u, i) < 0) {
				*why = "expected four hex digits after \\u";
				return -1;
			}
			p += 5;
			/* As libjq: a high surrogate needs its low half. */
			if (u >= 0xd800 && u <= 0xdbff) {
				if (p + 1 >= n || s[p] != '\\' ||
				    s[p + 1] != 'u' ||
				    hex4(s, n, p + 2, &u, i) < 0 ||
				    u < 0xdc00 || u > 0xdfff) {
					*i = p < n ? p : n;
					*why = "a \\uD800-\\uDBFF escape must be "
					    "followed by a \\uDC00-\\uDFFF one";
					return -1;
				}
				p += 6;
			}
			break;
		}
		default:
			*i = p;
			*why = "unknown escape in a string";
			return -1;
		}
	}
	if (p >= n) {
		*i = n;
		*why = "the text ends inside a string";
		return -1;
	}
	*i = p + 1;
	return 0;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int
scan_number(const char *s, size_t n, size_t *i, const char **why)
{
	size_t p = *i;

	*why = "malformed number";
	if (p < n && s[p] == '-')
		p++;
	if (p < n && s[p] == '0')
		p++;
	else if (p < n && s[p] >= '1' && s[p] <= '9')
		while (p < n && is_digit(s[p]))
			p++;
	else
		goto bad;
	if (p < n && s[p] == '.') {
		if (++p >= n || !is_digit(s[p]))
			goto bad;
		while (p < n && is_digit(s[p]))
			p++;
	}
	if (p < n && (s[p] == 'e' || s[p] == 'E')) {
		p++;
		if (p < n && (s[p] == '+' || s[p] == '-'))
			p++;
		if (p >= n || !is_digit(s[p]))
			goto bad;
		while (p < n && is_digit(s[p]))
			p++;
	}
	*i = p;
	return 0;
bad:
	*i = p < n ? p : n;
	return -1;
}

static int
scan_word(const char *s, size_t n, size_t *i, const char *word)
{
	size_t p = *i;

	for (; *word; word++, p++)
		if (p >= n || s[p] != *word) {
			*i = p < n ? p : n;
			return -1;
		}
	*i = p;
	return 0;
}

int
json_syntax_check(const char *buf, size_t len, int max, size_t *at,
    const char **why)
{
	unsigned char stack[JSON_CHECK_DEPTH_MAX];	/* 'o' or 'a' */
	const char *msg = NULL;
	enum want w = W_VALUE;
	size_t i = 0;
	int depth = 0;

	if (max > JSON_CHECK_DEPTH_MAX)
		max = JSON_CHECK_DEPTH_MAX;
	for (;;) {
		char c;

		while (i < len && is_ws(buf[i]))
			i++;
		if (i == len) {
			if (w == W_NEXT && depth == 0)
				return 0;
			msg = depth ? "the text ends inside an object or array" :
			    "the text ends before a value";
			goto bad;
		}
		c = buf[i];
		switch (w) {
		case W_COLON:
			if (c != ':') {
				msg = "expected ':' after a key";
				goto bad;
			}
			i++;
			w = W_VALUE;
			continue;
		case W_NEXT:
			if (depth == 0) {
				msg = "expected the end after the value";
				goto bad;
			}
			if (c == ',') {
				i++;
				w = stack[depth - 1] == 'o' ? W_KEY : W_VALUE;
			} else if ((c == '}' && stack[depth - 1] == 'o') ||
			    (c == ']' && stack[depth - 1] == 'a')) {
				i++;
				depth--;
			} else {
				msg = stack[depth - 1] == 'o' ?
				    "expected ',' or '}'" : "expected ',' or ']'";
				goto bad;
			}
			continue;
		case W_KEY_OR_CLOSE:
		case W_KEY:
			if (c == '}' && w == W_KEY_OR_CLOSE) {
				i++;
				depth--;
				w = W_NEXT;
				continue;
			}
			if (c != '"') {
				msg = "expected a string as the key";
				goto bad;
			}
			if (scan_string(buf, len, &i, &msg) < 0)
				goto bad;
			w = W_COLON;
			continue;
		case W_VALUE_OR_CLOSE:
			if (c == ']') {
				i++;
				depth--;
				w = W_NEXT;
				continue;
			}
			/* FALLTHROUGH */
		case W_VALUE:
			break;
		}
		/* A value. */
		switch (c) {
		case '{':
		case '[':
			if (depth >= max) {
				msg = "nested too deeply";
				goto bad;
			}
			stack[depth++] = c == '{' ? 'o' : 'a';
			i++;
			w = c == '{' ? W_KEY_OR_CLOSE : W_VALUE_OR_CLOSE;
			continue;
		case '"':
			if (scan_string(buf, len, &i, &msg) < 0)
				goto bad;
			break;
		case 't':
		case 'f':
		case 'n':
			if (scan_word(buf, len, &i, c == 't' ? "true" :
			    c == 'f' ? "false" : "null") < 0) {
				msg = "expected true, false or null";
				goto bad;
			}
			break;
		default:
			if (c != '-' && !is_digit(c)) {
				msg = "expected a value";
				goto bad;
			}
			if (scan_number(buf, len, &i, &msg) < 0)
				goto bad;
		}
		w = W_NEXT;
	}
bad:
	if (at)
		*at = i;
	if (why)
		*why = msg;
	return -1;
}

jv
json_parse_untrusted(const char *buf, size_t len)
{
	const char *why = NULL;
	size_t at = 0;

	if (json_syntax_check(buf, len, 512, &at, &why) < 0)
		return jv_invalid_with_msg(jv_string_fmt("%s at offset %zu",
		    why ? why : "not JSON", at));
	return jv_parse_sized(buf, (int)len);
}
