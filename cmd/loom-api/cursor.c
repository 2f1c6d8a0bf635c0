/*
 * cursor: page cursors and time arguments (see cursor.h).
 *
 * Calendar arithmetic is core/calendar.h's, proleptic Gregorian, rather
 * than timegm()/gmtime_r(): those depend on the C library's time_t range and
 * on struct tm normalising out-of-range fields, and a parser of untrusted
 * input must refuse "2026-02-31" rather than quietly make it March 3rd.
 */
#include "cursor.h"

#include <stdio.h>
#include <string.h>

#include "core/calendar.h"
#include "core/duration.h"

#define US_PER_S 1000000LL
#define US_PER_DAY (86400LL * US_PER_S)

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void
cursor_ts_format(int64_t us, char *buf, size_t len)
{
	int64_t days, rem, y;
	int m, d;

	if (us < CURSOR_US_MIN)
		us = CURSOR_US_MIN;
	if (us > CURSOR_US_MAX)
		us = CURSOR_US_MAX;
	days = us / US_PER_DAY;
	rem = us % US_PER_DAY;
	if (rem < 0) {
		rem += US_PER_DAY;
		days--;
	}
	cal_civil_from_days(days, &y, &m, &d);
	snprintf(buf, len, "%04lld-%02d-%02d %02lld:%02lld:%02lld.%06lld+00",
	    (long long)y, m, d, (long long)(rem / (3600 * US_PER_S)),
	    (long long)(rem / (60 * US_PER_S) % 60),
	    (long long)(rem / US_PER_S % 60), (long long)(rem % US_PER_S));
}

void
cursor_iso_ms(int64_t ms, char *buf, size_t len)
{
	int64_t days, rem, y;
	int m, d;

	if (ms < CURSOR_US_MIN / 1000)
		ms = CURSOR_US_MIN / 1000;
	if (ms > CURSOR_US_MAX / 1000)
		ms = CURSOR_US_MAX / 1000;
	days = ms / 86400000;
	rem = ms % 86400000;
	if (rem < 0) {
		rem += 86400000;
		days--;
	}
	cal_civil_from_days(days, &y, &m, &d);
	snprintf(buf, len, "%04lld-%02d-%02dT%02lld:%02lld:%02lld.%03lldZ",
	    (long long)y, m, d, (long long)(rem / 3600000),
	    (long long)(rem / 60000 % 60), (long long)(rem / 1000 % 60),
	    (long long)(rem % 1000));
}

/* ---- keys and cursors --------------------------------------------------- */

static int
id_ok(const char *id, size_t n)
{
	if (n == 0 || n > CURSOR_ID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (id[i] <= ' ' || id[i] > '~')
			return 0;
	return 1;
}

int
page_key_set(struct page_key *k, int64_t us, const char *id)
{
	size_t n = id ? strlen(id) : 0;

	if (us < CURSOR_US_MIN || us > CURSOR_US_MAX || !id_ok(id, n))
		return -1;
	k->us = us;
	memcpy(k->id, id, n + 1);
	return 0;
}

int
cursor_encode(const struct page_key *k, char *buf, size_t len)
{
	char raw[CURSOR_ID_MAX + 32];
	size_t n, o = 0;
	int w;

	if (k->us < CURSOR_US_MIN || k->us > CURSOR_US_MAX ||
	    !id_ok(k->id, strnlen(k->id, CURSOR_ID_MAX + 1)))
		return -1;
	w = snprintf(raw, sizeof(raw), "v1.%lld.%s", (long long)k->us, k->id);
	if (w < 0 || (size_t)w >= sizeof(raw))
		return -1;
	n = (size_t)w;
	if ((n + 2) / 3 * 4 + 1 > len)
		return -1;
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned char)raw[i] << 16;
		size_t left = n - i;

		if (left > 1)
			v |= (unsigned char)raw[i + 1] << 8;
		if (left > 2)
			v |= (unsigned char)raw[i + 2];
		buf[o++] = b64url[v >> 18 & 63];
		buf[o++] = b64url[v >> 12 & 63];
		if (left > 1)
			buf[o++] = b64url[v >> 6 & 63];
		if (left > 2)
			buf[o++] = b64url[v & 63];
	}
	buf[o] = '\0';
	return 0;
}

static int
b64_value(char c)
{
	const char *p;

	if (c == '\0' || (p = strchr(b64url, c)) == NULL)
		return -1;
	return (int)(p - b64url);
}

int
cursor_decode(const char *s, struct page_key *k)
{
	char raw[CURSOR_MAX];
	size_t len = strnlen(s, CURSOR_MAX + 1), n = 0, i;
	const char *p, *dot;
	unsigned long long mag = 0;
	int neg = 0, digits = 0;

	if (len == 0 || len > CURSOR_MAX || len % 4 == 1)
		return -1;
	for (i = 0; i < len; i += 4) {
		unsigned v = 0;
		size_t chunk = len - i < 4 ? len - i : 4;

		for (size_t j = 0; j < 4; j++) {
			int x = j < chunk ? b64_value(s[i + j]) : 0;

			if (x < 0)
				return -1;
			v = v << 6 | (unsigned)x;
		}
		/* Bits past the last byte must be zero: one spelling only. */
		if ((chunk == 2 && (v & 0xffff)) || (chunk == 3 && (v & 0xff)))
			return -1;
		raw[n++] = (char)(v >> 16);
		if (chunk > 2)
			raw[n++] = (char)(v >> 8 & 0xff);
		if (chunk > 3)
			raw[n++] = (char)(v & 0xff);
	}
	if (n < 6 || memcmp(raw, "v1.", 3) != 0)
		return -1;
	p = raw + 3;
	if (p < raw + n && *p == '-') {
		neg = 1;
		p++;
	}
	/* No sign without digits, no leading zeros, at most 18 digits. */
	for (; p < raw + n && *p >= '0' && *p <= '9'; p++, digits++) {
		if (digits == 18 || (digits == 1 && mag == 0))
			return -1;
		mag = mag * 10 + (unsigned)(*p - '0');
	}
	if (digits == 0 || (neg && mag == 0) || p >= raw + n || *p != '.')
		return -1;
	dot = p;
	if (!id_ok(dot + 1, (size_t)(raw + n - dot - 1)))
		return -1;
	k->us = neg ? -(int64_t)mag : (int64_t)mag;
	if (k->us < CURSOR_US_MIN || k->us > CURSOR_US_MAX)
		return -1;
	memcpy(k->id, dot + 1, (size_t)(raw + n - dot - 1));
	k->id[raw + n - dot - 1] = '\0';
	return 0;
}

/* ---- time arguments ----------------------------------------------------- */

/* Exactly n digits at *p; advances. */
static int
digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return -1;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

static int
iso_parse(const char *s, int64_t *us)
{
	const char *p = s;
	int y, mo, d, h = 0, mi = 0, sec = 0, oh = 0, om = 0;
	int64_t frac = 0, off = 0;

	if (digits(&p, 4, &y) < 0 || *p++ != '-' || digits(&p, 2, &mo) < 0 ||
	    *p++ != '-' || digits(&p, 2, &d) < 0)
		return -1;
	if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > cal_days_in_month(y, mo))
		return -1;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		if (digits(&p, 2, &h) < 0 || *p++ != ':' ||
		    digits(&p, 2, &mi) < 0 || h > 23 || mi > 59)
			return -1;
		if (*p == ':') {
			p++;
			if (digits(&p, 2, &sec) < 0 || sec > 59)
				return -1;
			if (*p == '.' || *p == ',') {
				int nd = 0;

				for (p++; *p >= '0' && *p <= '9'; p++, nd++)
					if (nd < 6)
						frac = frac * 10 + (*p - '0');
				if (nd == 0)
					return -1;
				for (; nd < 6; nd++)
					frac *= 10;
			}
		}
		if (*p == 'Z' || *p == 'z')
			p++;
		else if (*p == '+' || *p == '-') {
			int sign = *p++ == '-' ? -1 : 1;

			if (digits(&p, 2, &oh) < 0)
				return -1;
			if (*p == ':')
				p++;
			if (digits(&p, 2, &om) < 0 || oh > 23 || om > 59)
				return -1;
			off = sign * ((int64_t)oh * 3600 + om * 60) * US_PER_S;
		}
	}
	if (*p != '\0')
		return -1;
	*us = cal_days_from_civil(y, mo, d) * US_PER_DAY +
	    ((int64_t)h * 3600 + mi * 60 + sec) * US_PER_S + frac - off;
	return *us < CURSOR_US_MIN || *us > CURSOR_US_MAX ? -1 : 0;
}

int
cursor_time_parse(const char *s, int64_t now_us, int64_t *us, const char **why)
{
	const char *derr;
	int64_t ms;

	*why = "expected a time like 2026-11-26, 2026-11-26T04:05:06Z or "
	       "2026-11-26T04:05:06.123+02:00, or a duration like 90m or 2d "
	       "(that long ago)";
	if (s[0] >= '0' && s[0] <= '9' && strlen(s) >= 10 && s[4] == '-')
		return iso_parse(s, us);
	if (duration_parse(s, &ms, &derr) < 0)
		return -1;
	if (ms > (now_us - CURSOR_US_MIN) / 1000) {
		*why = "that duration reaches back before the year 1";
		return -1;
	}
	*us = now_us - ms * 1000;
	return 0;
}
