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
	W_VALUE,	  /* any value */
	W_VALUE_OR_CLOSE, /* just after '[' */
	W_KEY_OR_CLOSE,	  /* just after '{' */
	W_KEY,		  /* after ',' in an object */
	W_COLON,	  /* after a key */
	W_NEXT,		  /* after a value: ',' or a close, or the end */
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
		*u = *u << 4 |
		    (unsigned)(is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10);
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
			*why =
			    "a control character must be escaped in a string";
			return -1;
		}
		if (c != '\\') {
			p++;
			continue;
		}
		if (++p >= n)
			break;
		switch (s[p]) {
		case '"':
		case '\\':
		case '/':
		case 'b':
		case 'f':
		case 'n':
		case 'r':
		case 't':
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
					*why =
					    "a \\uD800-\\uDBFF escape must be "
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

/* Where the check is: the next byte, what may come there, open containers. */
struct jscan {
	const char *buf;
	size_t len, i;
	enum want w;
	unsigned char stack[JSON_CHECK_DEPTH_MAX]; /* 'o' or 'a' */
	int depth, max;
};

/*
 * c where anything but a value may come: a colon, a comma, a key or a
 * closing bracket.  Returns 1 when it took c, 0 when a value comes next
 * (the caller scans it), -1 with *msg on a mistake.
 */
static int
scan_punct(struct jscan *js, char c, const char **msg)
{
	switch (js->w) {
	case W_COLON:
		if (c != ':') {
			*msg = "expected ':' after a key";
			return -1;
		}
		js->i++;
		js->w = W_VALUE;
		return 1;
	case W_NEXT:
		if (js->depth == 0) {
			*msg = "expected the end after the value";
			return -1;
		}
		if (c == ',') {
			js->i++;
			js->w =
			    js->stack[js->depth - 1] == 'o' ? W_KEY : W_VALUE;
		} else if ((c == '}' && js->stack[js->depth - 1] == 'o') ||
		    (c == ']' && js->stack[js->depth - 1] == 'a')) {
			js->i++;
			js->depth--;
		} else {
			*msg = js->stack[js->depth - 1] == 'o' ?
			    "expected ',' or '}'" :
			    "expected ',' or ']'";
			return -1;
		}
		return 1;
	case W_KEY_OR_CLOSE:
	case W_KEY:
		if (c == '}' && js->w == W_KEY_OR_CLOSE) {
			js->i++;
			js->depth--;
			js->w = W_NEXT;
			return 1;
		}
		if (c != '"') {
			*msg = "expected a string as the key";
			return -1;
		}
		if (scan_string(js->buf, js->len, &js->i, msg) < 0)
			return -1;
		js->w = W_COLON;
		return 1;
	case W_VALUE_OR_CLOSE:
		if (c == ']') {
			js->i++;
			js->depth--;
			js->w = W_NEXT;
			return 1;
		}
		/* FALLTHROUGH */
	case W_VALUE:
		break;
	}
	return 0;
}

/* A value starting with c: opens a container or scans a scalar whole. */
static int
scan_value(struct jscan *js, char c, const char **msg)
{
	switch (c) {
	case '{':
	case '[':
		if (js->depth >= js->max) {
			*msg = "nested too deeply";
			return -1;
		}
		js->stack[js->depth++] = c == '{' ? 'o' : 'a';
		js->i++;
		js->w = c == '{' ? W_KEY_OR_CLOSE : W_VALUE_OR_CLOSE;
		return 0;
	case '"':
		if (scan_string(js->buf, js->len, &js->i, msg) < 0)
			return -1;
		break;
	case 't':
	case 'f':
	case 'n':
		if (scan_word(js->buf, js->len, &js->i,
			c == 't'     ? "true" :
			    c == 'f' ? "false" :
				       "null") < 0) {
			*msg = "expected true, false or null";
			return -1;
		}
		break;
	default:
		if (c != '-' && !is_digit(c)) {
			*msg = "expected a value";
			return -1;
		}
		if (scan_number(js->buf, js->len, &js->i, msg) < 0)
			return -1;
	}
	js->w = W_NEXT;
	return 0;
}

int
json_syntax_check(
    const char *buf, size_t len, int max, size_t *at, const char **why)
{
	struct jscan js;
	const char *msg = NULL;
	int rc;

	js.buf = buf;
	js.len = len;
	js.i = 0;
	js.w = W_VALUE;
	js.depth = 0;
	js.max = max > JSON_CHECK_DEPTH_MAX ? JSON_CHECK_DEPTH_MAX : max;
	for (;;) {
		char c;

		while (js.i < len && is_ws(buf[js.i]))
			js.i++;
		if (js.i == len) {
			if (js.w == W_NEXT && js.depth == 0)
				return 0;
			msg = js.depth ?
			    "the text ends inside an object or array" :
			    "the text ends before a value";
			goto bad;
		}
		c = buf[js.i];
		if ((rc = scan_punct(&js, c, &msg)) < 0)
			goto bad;
		if (rc == 0 && scan_value(&js, c, &msg) < 0)
			goto bad;
	}
bad:
	if (at)
		*at = js.i;
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
		return jv_invalid_with_msg(jv_string_fmt(
		    "%s at offset %zu", why ? why : "not JSON", at));
	return jv_parse_sized(buf, (int)len);
}
