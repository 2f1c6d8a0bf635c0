/*
 * test_cursor: page cursors (round trips, one spelling per cursor, bad
 * input refused) and time arguments (ISO 8601 forms, zones, calendar
 * limits, durations before now), table-driven.
 */
#include <stdint.h>
#include <string.h>

#include "cmd/loom-api/cursor.h"
#include "util/jsonutil.h"
#include "t.h"

#define NOW 1795665906123456LL /* 2026-11-26T04:05:06.123456Z */

static const struct {
	int64_t us;
	const char *id;
} keys[] = {
	{ NOW, "exec-0123456789abcdef0123" },
	{ 0, "a" },
	{ 1, "exec-00000000000000000001" },
	{ -1, "x" },
	{ CURSOR_US_MIN, "first" },
	{ CURSOR_US_MAX, "last" },
	{ 1795665906000000LL, "id-with.dots:and~tildes" },
	{ 42,
	    "01234567890123456789012345678901"
	    "23456789012345678901234567890123" },
};

static const char *const bad_cursors[] = {
	"",
	"=",
	"A",
	"AAAA=",
	"not a cursor",
	"djEuMS5h===",
	"djEuMS5h!",
	"djEu",	       /* "v1." */
	"dj",	       /* 'v' with leftover bits? (and too short) */
	"djIuMS5h",    /* "v2.1.a" */
	"djEuLjE",     /* "v1..1" */
	"djEuMDEuYQ",  /* "v1.01.a": leading zero */
	"djEuLTAuYQ",  /* "v1.-0.a" */
	"djEuMS4",     /* "v1.1.": no id */
	"djEuMSBh",    /* "v1.1 a" */
	"djEuMS5hIGI", /* "v1.1.a b": space in the id */
	"djEuMTIzNDU2Nzg5MDEyMzQ1Njc4OS5h", /* 19 digits */
	"djEuOTk5OTk5OTk5OTk5OTk5OTk5LmE",  /* 18 digits, past year 9999 */
	"djEuMS5h\xff",
};

static const struct {
	const char *in;
	int64_t want; /* microseconds; INT64_MIN: refused */
} times[] = {
	{ "2026-11-26", 1795651200000000LL },
	{ "2026-11-26T04:05", 1795665900000000LL },
	{ "2026-11-26T04:05:06", 1795665906000000LL },
	{ "2026-11-26T04:05:06Z", 1795665906000000LL },
	{ "2026-11-26 04:05:06z", 1795665906000000LL },
	{ "2026-11-26T04:05:06.123Z", 1795665906123000LL },
	{ "2026-11-26T04:05:06.1234567Z", 1795665906123456LL },
	{ "2026-11-26T06:05:06+02:00", 1795665906000000LL },
	{ "2026-11-26T00:05:06-0400", 1795665906000000LL },
	{ "1970-01-01", 0 },
	{ "1969-12-31T23:59:59.999999Z", -1 },
	{ "2024-02-29", 1709164800000000LL },
	{ "2000-02-29", 951782400000000LL },
	{ "0001-01-01", CURSOR_US_MIN },
	{ "9999-12-31T23:59:59.999999", CURSOR_US_MAX },
	{ "1h", NOW - 3600000000LL },
	{ "90m", NOW - 5400000000LL },
	{ "0s", NOW },
	{ "2023-02-29", INT64_MIN },
	{ "1900-02-29", INT64_MIN },
	{ "2026-13-01", INT64_MIN },
	{ "2026-00-10", INT64_MIN },
	{ "2026-04-31", INT64_MIN },
	{ "2026-11-26T24:00", INT64_MIN },
	{ "2026-11-26T04:60", INT64_MIN },
	{ "2026-11-26T04:05:60", INT64_MIN },
	{ "2026-11-26T04:05:06.", INT64_MIN },
	{ "2026-11-26T04:05:06+2", INT64_MIN },
	{ "2026-11-26T04:05:06Zjunk", INT64_MIN },
	{ "2026-11-26T4:05", INT64_MIN },
	{ "0000-01-01", INT64_MIN },
	{ "0001-01-01T00:00+01:00", INT64_MIN },
	{ "9999-12-31T23:59:59-01:00", INT64_MIN },
	{ "yesterday", INT64_MIN },
	{ "", INT64_MIN },
	{ "30", INT64_MIN },
	{ "-1h", INT64_MIN },
	{ "999999999d", INT64_MIN },
	{ "777777777777d", INT64_MIN }, /* n * 1d overflowed (fuzzer) */
	{ "36500d", NOW - 36500LL * 86400000000LL },
};

static const struct {
	int64_t us;
	const char *want;
} formats[] = {
	{ NOW, "2026-11-26 04:05:06.123456+00" },
	{ 0, "1970-01-01 00:00:00.000000+00" },
	{ -1, "1969-12-31 23:59:59.999999+00" },
	{ CURSOR_US_MIN, "0001-01-01 00:00:00.000000+00" },
	{ CURSOR_US_MAX, "9999-12-31 23:59:59.999999+00" },
	{ 951782400000000LL, "2000-02-29 00:00:00.000000+00" },
};

int
main(void)
{
	struct page_key k, back;
	char buf[CURSOR_MAX + 1], ts[CURSOR_TS_LEN];
	const char *why;
	int64_t us;

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		ok(page_key_set(&k, keys[i].us, keys[i].id) == 0, "key %zu", i);
		ok(cursor_encode(&k, buf, sizeof(buf)) == 0, "encode %zu", i);
		ok(strspn(buf,
		       "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu"
		       "vwxyz0123456789-_") == strlen(buf),
		    "base64url %zu: %s", i, buf);
		memset(&back, 0, sizeof(back));
		ok(cursor_decode(buf, &back) == 0, "decode %zu", i);
		is_int(back.us, keys[i].us, "us %zu", i);
		is_str(back.id, keys[i].id, "id %zu", i);
	}
	ok(cursor_encode(&k, buf, 8) < 0, "a small buffer is refused");
	ok(page_key_set(&k, 0, "") < 0, "empty id");
	ok(page_key_set(&k, 0, "a b") < 0, "space in id");
	ok(page_key_set(&k, 0, "caf\xc3\xa9") < 0, "non-ASCII id");
	ok(page_key_set(&k, CURSOR_US_MAX + 1, "a") < 0, "after 9999");
	{
		char id[CURSOR_ID_MAX + 2];

		memset(id, 'x', sizeof(id) - 1);
		id[sizeof(id) - 1] = '\0';
		ok(page_key_set(&k, 0, id) < 0, "65-byte id");
		id[CURSOR_ID_MAX] = '\0';
		ok(page_key_set(&k, 0, id) == 0, "64-byte id");
	}
	for (size_t i = 0; i < sizeof(bad_cursors) / sizeof(bad_cursors[0]);
	     i++)
		ok(cursor_decode(bad_cursors[i], &k) < 0, "bad cursor '%s'",
		    bad_cursors[i]);
	/* Every other spelling of a good cursor is refused. */
	page_key_set(&k, NOW, "exec-0123456789abcdef0123");
	cursor_encode(&k, buf, sizeof(buf));
	{
		char alt[CURSOR_MAX + 8];
		size_t n = strlen(buf);

		snprintf(alt, sizeof(alt), "%s=", buf);
		ok(cursor_decode(alt, &back) < 0, "padding refused");
		memcpy(alt, buf, n + 1);
		alt[n - 1] = alt[n - 1] == 'A' ? 'B' : 'A';
		ok(cursor_decode(alt, &back) < 0 || strcmp(back.id, k.id) != 0,
		    "a changed last char is "
		    "another cursor or none");
	}
	{
		char longc[CURSOR_MAX + 8];

		memset(longc, 'A', sizeof(longc) - 1);
		longc[sizeof(longc) - 1] = '\0';
		ok(cursor_decode(longc, &back) < 0, "too long");
	}

	for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		int rc = cursor_time_parse(times[i].in, NOW, &us, &why);

		if (times[i].want == INT64_MIN) {
			ok(rc < 0 && why != NULL && *why, "time '%s' refused",
			    times[i].in);
			continue;
		}
		ok(rc == 0, "time '%s' accepted", times[i].in);
		is_int(us, times[i].want, "time '%s'", times[i].in);
	}
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		cursor_ts_format(formats[i].us, ts, sizeof(ts));
		is_str(ts, formats[i].want, "format %lld",
		    (long long)formats[i].us);
	}
	/* The API's own time format, as jsonutil's iso_time_ms() has it. */
	for (int64_t ms = -86400001; ms < 4000000000000LL;
	     ms = ms < 0 ? -ms : ms * 7 + 999) {
		char a[32], b[32];

		cursor_iso_ms(ms, a, sizeof(a));
		iso_time_ms(ms, b, sizeof(b));
		is_str(a, b, "iso ms %lld", (long long)ms);
	}
	/* Parse what we format: the round trip is exact. */
	for (int64_t v = 1; v < 4000000000000000LL; v = v * 3 + 7777777) {
		char iso[CURSOR_TS_LEN];

		cursor_ts_format(v, ts, sizeof(ts));
		snprintf(iso, sizeof(iso), "%.26sZ", ts);
		iso[10] = 'T';
		ok(cursor_time_parse(iso, NOW, &us, &why) == 0 && us == v,
		    "round trip %s", iso);
	}
	return t_done();
}
