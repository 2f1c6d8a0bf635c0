/*
 * jsonutil: see jsonutil.h.  The UTF-8 check follows the table of
 * well-formed byte sequences in the Unicode standard (section 3.9), which
 * rules out overlong forms and surrogates by the allowed range of the
 * second byte.
 */
#include "jsonutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int
utf8_check(const char *buf, size_t len, size_t *bad)
{
	const unsigned char *s = (const unsigned char *)buf;
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		unsigned char lo = 0x80, hi = 0xbf;
		size_t need;

		if (c >= 0x01 && c <= 0x7f) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			need = 1;
		else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			if (c == 0xe0)
				lo = 0xa0; /* no overlong 3-byte forms */
			else if (c == 0xed)
				hi = 0x9f; /* no surrogates */
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			if (c == 0xf0)
				lo = 0x90; /* no overlong 4-byte forms */
			else if (c == 0xf4)
				hi = 0x8f; /* nothing above U+10FFFF */
		} else
			goto fail; /* NUL, continuation, C0/C1, F5+ */
		if (len - i <= need)
			goto fail;
		if (s[i + 1] < lo || s[i + 1] > hi)
			goto fail;
		for (size_t k = 2; k <= need; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				goto fail;
		i += need + 1;
	}
	return 0;
fail:
	if (bad)
		*bad = i;
	return -1;
}

int
json_depth_check(const char *buf, size_t len, int max, size_t *at)
{
	int depth = 0, in_str = 0;

	for (size_t i = 0; i < len; i++) {
		char c = buf[i];

		if (in_str) {
			if (c == '\\')
				i++; /* skip the escaped character */
			else if (c == '"')
				in_str = 0;
			continue;
		}
		switch (c) {
		case '"':
			in_str = 1;
			break;
		case '[':
		case '{':
			if (++depth > max) {
				if (at)
					*at = i;
				return -1;
			}
			break;
		case ']':
		case '}':
			if (depth > 0)
				depth--;
			break;
		}
	}
	return 0;
}

int
json_has_nul(const char *s)
{
	int in_str = 0;

	for (; *s; s++) {
		if (!in_str) {
			in_str = *s == '"';
			continue;
		}
		if (*s == '"')
			in_str = 0;
		else if (*s == '\\') {
			if (s[1] == 'u' && strncmp(s + 2, "0000", 4) == 0)
				return 1;
			if (s[1] != '\0')
				s++; /* skip the escaped character */
		}
	}
	return 0;
}

void
iso_time_ms(int64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
	int frac = (int)(ms - (int64_t)t * 1000);
	struct tm tm;
	size_t n;

	gmtime_r(&t, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%03dZ", frac);
}

jv
jv_put(jv o, const char *key, jv v)
{
	return jv_object_set(o, jv_string(key), v);
}

jv
pg_jv_text(const PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col))
		return jv_null();
	return jv_string_sized(
	    PQgetvalue(r, row, col), PQgetlength(r, row, col));
}

jv
pg_jv_num(const PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col))
		return jv_null();
	return jv_number(strtod(PQgetvalue(r, row, col), NULL));
}

jv
pg_jv_bool(const PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col))
		return jv_null();
	return jv_bool(PQgetvalue(r, row, col)[0] == 't');
}

jv
pg_jv_json(const PGresult *r, int row, int col)
{
	jv v;

	if (PQgetisnull(r, row, col))
		return jv_null();
	v = jv_parse_sized(PQgetvalue(r, row, col), PQgetlength(r, row, col));
	if (!jv_is_valid(v)) {
		jv_free(v);
		return jv_null();
	}
	return v;
}
