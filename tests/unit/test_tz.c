/*
 * Unit tests for core/tz.c and util/tzload.c: the reader against glibc's
 * own conversion (localtime_r with TZ set: fine here, this program has one
 * thread) for many zones and instants from 1970 to 2100, around every
 * transition, and for TZ strings alone; local to UTC with its gaps and
 * overlaps; slim, fat and version 1 files made by zic agree; malformed
 * TZif data is refused without a crash; zone names and the cache.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/calendar.h"
#include "core/tz.h"
#include "t.h"
#include "util/tzload.h"

static const char *const zones[] = {
	"America/New_York",
	"Europe/London",
	"Europe/Berlin",
	"Europe/Kyiv",
	"Australia/Lord_Howe",
	"Asia/Kolkata",
	"Pacific/Chatham",
	"America/Sao_Paulo",
	"Africa/Casablanca",
	"Antarctica/Troll",
	"Pacific/Apia",
	"America/Nuuk",
	"Asia/Jerusalem",
	"America/Santiago",
	"Asia/Tehran",
	"Pacific/Kiritimati",
	"America/St_Johns",
	"Australia/Adelaide",
	"Asia/Kathmandu",
	"Europe/Dublin",
	"UTC",
};

#define T1970 INT64_C(0)
#define T2100 INT64_C(4102444800)

static unsigned char *
slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	unsigned char *buf;
	long n;

	if (fp == NULL)
		return NULL;
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	buf = malloc((size_t)n + 1);
	*len = fread(buf, 1, (size_t)n, fp);
	fclose(fp);
	return buf;
}

static struct tz *
load_path(const char *name, const char *path)
{
	size_t len = 0;
	unsigned char *buf = slurp(path, &len);
	char *err = NULL;
	struct tz *z;

	if (buf == NULL)
		return NULL;
	z = tz_parse(name, buf, len, &err);
	if (z == NULL)
		printf("# %s: %s\n", path, err);
	free(err);
	free(buf);
	return z;
}

/* glibc's view of t under TZ=tzval. */
static void
set_tz(const char *tzval)
{
	setenv("TZ", tzval, 1);
	tzset();
}

static int shown; /* differences printed so far */

/* Compares one instant; returns 1 when tz and glibc agree. */
static int
agree(const struct tz *z, int64_t t, const char *what)
{
	time_t tt = (time_t)t;
	struct tm tm;
	struct tz_local lt;

	localtime_r(&tt, &tm);
	tz_to_local(z, t, &lt);
	if (lt.year == tm.tm_year + 1900 && lt.mon == tm.tm_mon + 1 &&
	    lt.mday == tm.tm_mday && lt.hour == tm.tm_hour &&
	    lt.min == tm.tm_min && lt.sec == tm.tm_sec &&
	    lt.wday == tm.tm_wday && lt.yday == tm.tm_yday &&
	    lt.utoff == tm.tm_gmtoff && lt.is_dst == (tm.tm_isdst > 0) &&
	    strcmp(lt.abbr, tm.tm_zone) == 0)
		return 1;
	if (shown++ > 10)
		return 0;
	printf("# %s at %lld: tz %lld-%02d-%02d %02d:%02d:%02d off %d dst %d "
	       "%s wday %d yday %d; glibc %d-%02d-%02d %02d:%02d:%02d off %ld "
	       "dst %d %s wday %d yday %d\n",
	    what, (long long)t, (long long)lt.year, lt.mon, lt.mday, lt.hour,
	    lt.min, lt.sec, lt.utoff, lt.is_dst, lt.abbr, lt.wday, lt.yday,
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, tm.tm_gmtoff, tm.tm_isdst, tm.tm_zone, tm.tm_wday,
	    tm.tm_yday);
	return 0;
}

/*
 * Every transition of z in [from, to) and the seconds around it, plus a
 * spread of instants (a step that is no whole number of days or hours);
 * glibc must already be set to the same zone.
 */
static void
compare_range(const struct tz *z, const char *what, int64_t from, int64_t to)
{
	int64_t t, e;
	long bad = 0, n = 0, changes = 0;

	for (t = from; t < to; t += 86400 * 3 + 3917, n++)
		bad += !agree(z, t, what);
	for (t = from; tz_next_change(z, t, to, &e); t = e, changes++) {
		bad += !agree(z, e - 1, what);
		bad += !agree(z, e, what);
		bad += !agree(z, e + 1800, what);
		n += 3;
		if (bad > 5)
			break;
	}
	ok(bad == 0,
	    "%s: %ld instants and %ld offset changes as glibc has "
	    "them (%ld differ)",
	    what, n, changes, bad);
}

static void
test_zones_vs_glibc(void)
{
	for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
		const struct tz *z = tzload_get(zones[i]);
		char tzval[128];

		if (z == NULL) {
			ok(0, "%s loads", zones[i]);
			continue;
		}
		snprintf(tzval, sizeof(tzval), "%s", zones[i]);
		set_tz(tzval);
		compare_range(z, zones[i], T1970, T2100);
		tzload_release(z);
	}
	unsetenv("TZ");
	tzset();
}

/* TZ strings alone: the footer rules, compared with glibc's reading. */
static void
test_posix_vs_glibc(void)
{
	static const char *const rules[] = {
		"CET-1CEST,M3.5.0,M10.5.0/3",
		"EST5EDT,M3.2.0,M11.1.0",
		"<+1030>-10:30<+11>-11,M10.1.0,M4.1.0", /* south, 30 minutes */
		"<-02>2<-01>,M3.5.0/-1,M10.5.0/0",	/* v3: negative time */
		"IST-2IDT,M3.4.4/26,M10.5.0",		/* v3: past 24 hours */
		"<-03>3<-02>,M9.1.6/24,M4.1.6/24",	/* south, 24:00 */
		"AAA3BBB,J60/2,J300/2",			/* Jn skips Feb 29 */
		"AAA3BBB,59/2,299/2",			/* n counts it */
		"NZST-12NZDT,M9.5.0,M4.1.0/3",
		"<+0530>-5:30",
		"<+1245>-12:45<+1345>,M9.5.0/2:45,M4.1.0/3:45",
		"GMT0IST,M10.5.0,M3.5.0/1", /* negative DST, Dublin */
		"<-0330>3:30<-0230>,M3.2.0/0:01,M11.1.0/0:01",
	};

	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		char *err = NULL;
		struct tz *z = tz_from_posix(NULL, rules[i], &err);

		if (z == NULL) {
			ok(0, "\"%s\": %s", rules[i], err);
			free(err);
			continue;
		}
		set_tz(rules[i]);
		compare_range(z, rules[i], T1970, T2100);
		tz_free(z);
	}
	unsetenv("TZ");
	tzset();
}

/* Cases whose answers are written out rather than asked of glibc. */
static void
test_posix_cases(void)
{
	static const char *const bad[] = {
		"",
		"C",
		"CET",
		"CET-1CEST,M3.5.0",
		"CET-1CEST,M13.5.0,M10.5.0",
		"CET-1CEST,M3.6.0,M10.5.0",
		"CET-1CEST,M3.5.7,M10.5.0",
		"CET-1CEST,J0,J100",
		"CET-1CEST,J366,J100",
		"CET-1CEST,366,1",
		"CET-25",
		"CET-1CEST,M3.5.0/168,M10.5.0",
		"<+01-1",
		"CET-1 ",
		"CET-1CEST,M3.5.0,M10.5.0x",
	};
	struct tz *z;
	struct tz_local lt;
	char *err = NULL;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		z = tz_from_posix(NULL, bad[i], &err);
		ok(z == NULL && err != NULL, "\"%s\" is no TZ string", bad[i]);
		tz_free(z);
		free(err);
		err = NULL;
	}

	/* All-year daylight time: an end that meets the next start. */
	z = tz_from_posix("x", "EST5EDT,0/0,J365/25", NULL);
	ok(z != NULL, "all-year DST parses");
	if (z != NULL) {
		int always = 1;
		int64_t e;

		for (int64_t t = T1970; t < T2100; t += 86400 * 5 + 3599)
			always &= tz_offset(z, t, NULL) == -4 * 3600;
		always &= tz_offset(z, INT64_C(1767229200), NULL) == -4 * 3600;
		ok(always, "all-year DST: -04:00 every day, at New Year too");
		ok(!tz_next_change(z, 0, T2100, &e), "all-year DST: no change");
		tz_free(z);
	}

	/* No dates: the US rules of 2007 on (glibc reads posixrules). */
	z = tz_from_posix("x", "EST5EDT", NULL);
	ok(z != NULL && tz_offset(z, INT64_C(1772953199), NULL) == -5 * 3600 &&
		tz_offset(z, INT64_C(1772953200), NULL) == -4 * 3600 &&
		tz_offset(z, INT64_C(1793512799), NULL) == -4 * 3600 &&
		tz_offset(z, INT64_C(1793512800), NULL) == -5 * 3600,
	    "EST5EDT without dates: March 8 and November 1, 2026");
	tz_free(z);

	/* Fields of a local time: 2026-03-29 00:59:59Z and 01:00:00Z. */
	z = tz_from_posix("x", "EET-2EEST,M3.5.0/3,M10.5.0/4", NULL);
	tz_to_local(z, INT64_C(1774745999), &lt);
	ok(lt.year == 2026 && lt.mon == 3 && lt.mday == 29 && lt.hour == 2 &&
		lt.min == 59 && lt.sec == 59 && lt.utoff == 7200 &&
		!lt.is_dst && strcmp(lt.abbr, "EET") == 0 && lt.wday == 0 &&
		lt.yday == 87,
	    "EET: the last second before spring forward");
	tz_to_local(z, INT64_C(1774746000), &lt);
	ok(lt.hour == 4 && lt.min == 0 && lt.utoff == 10800 && lt.is_dst &&
		strcmp(lt.abbr, "EEST") == 0,
	    "EET: 04:00 EEST at the change");
	tz_free(z);

	z = tz_utc();
	ok(strcmp(tz_name(z), "UTC") == 0 && tz_offset(z, 12345, NULL) == 0,
	    "tz_utc is UTC");
	tz_free(z);
	tz_free(NULL);
}

/* local -> UTC: every instant comes back, gaps and overlaps are told. */
static void
test_from_local(void)
{
	static const char *const names[] = { "America/New_York",
		"Australia/Lord_Howe", "Europe/Dublin", "Pacific/Apia",
		"America/Nuuk", "Asia/Kolkata", "UTC" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const struct tz *z = tzload_get(names[i]);
		int64_t t, e, a, b;
		long bad = 0, gaps = 0, overlaps = 0;
		int n;

		if (z == NULL) {
			ok(0, "%s loads", names[i]);
			continue;
		}
		for (t = T1970; t < T2100; t += 86400 + 1234) {
			int64_t wall = t + tz_offset(z, t, NULL);

			n = tz_from_local(z, wall, &a, &b);
			bad += n == 0 || (a != t && b != t) ||
			    a + tz_offset(z, a, NULL) != wall ||
			    b + tz_offset(z, b, NULL) != wall;
		}
		for (t = T1970; tz_next_change(z, t, T2100, &e); t = e) {
			int32_t o = tz_offset(z, e - 1, NULL),
				o2 = tz_offset(z, e, NULL);

			if (o2 > o) { /* walls [e+o, e+o2) are missing */
				gaps++;
				n = tz_from_local(z, e + o, &a, &b);
				bad += n != 0 || a != e || b != e;
				n = tz_from_local(z, e + o2 - 1, &a, &b);
				bad += n != 0 || a != e;
				n = tz_from_local(z, e + o2, &a, &b);
				bad += n != 1 || a != e;
			} else { /* walls [e+o2, e+o) happen twice */
				overlaps++;
				n = tz_from_local(z, e + o2, &a, &b);
				bad += n != 2 || a != e - (o - o2) || b != e;
				n = tz_from_local(z, e + o - 1, &a, &b);
				bad += n != 2 || a != e - 1 ||
				    b != e + (o - o2) - 1;
				n = tz_from_local(z, e + o, &a, &b);
				bad += n != 1 || a != e + (o - o2);
			}
		}
		ok(bad == 0,
		    "%s: local to UTC round trips, %ld gaps and %ld overlaps "
		    "told (%ld wrong)",
		    names[i], gaps, overlaps, bad);
		tzload_release(z);
	}
}

/* ---- zic-made files: slim, fat, version 1 ------------------------------- */

static char tmpdir[] = "/tmp/loom-test-tz-XXXXXX";

static const char zic_src[] = "Rule EU 1981 max - Mar lastSun 1:00u 1:00 S\n"
			      "Rule EU 1977 1995 - Sep lastSun 1:00u 0 -\n"
			      "Rule EU 1996 max - Oct lastSun 1:00u 0 -\n"
			      "Rule LH 2008 max - Apr Sun>=1 2:00 0 -\n"
			      "Rule LH 2008 max - Oct Sun>=1 2:00 0:30 -\n"
			      "Zone Test/Berlin 0:53:28 - LMT 1893 Apr\n"
			      "\t1:00 - CET 1980\n"
			      "\t1:00 EU CE%sT\n"
			      "Zone Test/Lord_Howe 10:36:20 - LMT 1895 Feb\n"
			      "\t10:30 LH +1030/+11\n"
			      "Zone Test/Fixed 5:45 - +0545\n";

static int
run_zic(const char *flags, const char *sub)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd),
	    "mkdir -p %s/%s && zic %s -d %s/%s %s/src 2>/dev/null", tmpdir, sub,
	    flags, tmpdir, sub, tmpdir);
	return system(cmd);
}

static void
test_zic_files(void)
{
	static const char *const names[] = { "Test/Berlin", "Test/Lord_Howe",
		"Test/Fixed" };
	char path[512], tzval[600];
	FILE *fp;

	if (system("command -v zic >/dev/null 2>&1") != 0) {
		ok(1, "# SKIP zic is not installed");
		return;
	}
	snprintf(path, sizeof(path), "%s/src", tmpdir);
	fp = fopen(path, "w");
	fputs(zic_src, fp);
	fclose(fp);
	ok(run_zic("-b slim", "slim") == 0 && run_zic("-b fat", "fat") == 0,
	    "zic makes slim and fat files");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct tz *slim, *fat, *v1;
		unsigned char *buf;
		size_t len = 0;

		snprintf(path, sizeof(path), "%s/slim/%s", tmpdir, names[i]);
		slim = load_path(names[i], path);
		snprintf(tzval, sizeof(tzval), ":%s", path);
		set_tz(tzval);
		ok(slim != NULL, "%s slim parses", names[i]);
		if (slim != NULL)
			compare_range(slim, path, T1970, T2100);

		snprintf(path, sizeof(path), "%s/fat/%s", tmpdir, names[i]);
		fat = load_path(names[i], path);
		ok(fat != NULL, "%s fat parses", names[i]);
		if (fat != NULL)
			compare_range(fat, path, T1970, T2100);

		/* Version 1: the fat file's 32-bit part alone, to 2037. */
		buf = slurp(path, &len);
		v1 = NULL;
		if (buf != NULL && len > 44) {
			size_t body = ((size_t)buf[32] << 24 | buf[33] << 16 |
					  buf[34] << 8 | buf[35]) *
				5 +
			    ((size_t)buf[36] << 24 | buf[37] << 16 |
				buf[38] << 8 | buf[39]) *
				6 +
			    ((size_t)buf[40] << 24 | buf[41] << 16 |
				buf[42] << 8 | buf[43]) +
			    ((size_t)buf[28] << 24 | buf[29] << 16 |
				buf[30] << 8 | buf[31]) *
				8 +
			    ((size_t)buf[24] << 24 | buf[25] << 16 |
				buf[26] << 8 | buf[27]) +
			    ((size_t)buf[20] << 24 | buf[21] << 16 |
				buf[22] << 8 | buf[23]);

			buf[4] = 0;
			v1 = tz_parse(names[i], buf, 44 + body, NULL);
		}
		ok(v1 != NULL, "%s as version 1 parses", names[i]);
		if (v1 != NULL)
			compare_range(
			    v1, "version 1", T1970, INT64_C(2147483647));
		free(buf);
		tz_free(slim);
		tz_free(fat);
		tz_free(v1);
	}
	unsetenv("TZ");
	tzset();
}

/* ---- malformed data ------------------------------------------------------ */

static void
put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* A version 2 file: one transition at 1000 to type 1, two types. */
static size_t
make_tzif(unsigned char *b, const char *footer)
{
	size_t n = 0;

	/* Version 1 part: empty but for one type and one char. */
	memset(b, 0, 44);
	memcpy(b, "TZif2", 5);
	put32(b + 36, 1);
	put32(b + 40, 1);
	n = 44;
	memset(b + n, 0, 7);
	n += 7;
	/* Version 2 part. */
	memset(b + n, 0, 44);
	memcpy(b + n, "TZif2", 5);
	put32(b + n + 32, 1); /* timecnt */
	put32(b + n + 36, 2); /* typecnt */
	put32(b + n + 40, 8); /* charcnt */
	n += 44;
	memset(b + n, 0, 8);
	b[n + 6] = 0x03;
	b[n + 7] = 0xe8; /* 1000 */
	n += 8;
	b[n++] = 1; /* index */
	put32(b + n, 0);
	b[n + 4] = 0;
	b[n + 5] = 0; /* "AAA" */
	n += 6;
	put32(b + n, 3600);
	b[n + 4] = 1;
	b[n + 5] = 4; /* "BBB" */
	n += 6;
	memcpy(b + n, "AAA\0BBB\0", 8);
	n += 8;
	n += (size_t)sprintf((char *)b + n, "\n%s\n", footer);
	return n;
}

/* Offset of the v2 header in make_tzif's output. */
#define V2 51

static int
refused(const unsigned char *b, size_t len, const char *what)
{
	char *err = NULL;
	struct tz *z = tz_parse("bad", b, len, &err);
	int r = z == NULL && err != NULL;

	if (!r)
		printf("# %s: accepted\n", what);
	tz_free(z);
	free(err);
	return r;
}

static void
test_malformed(void)
{
	unsigned char b[512], c[512];
	size_t n = make_tzif(b, "BBB-1"), len = 0;
	struct tz *z;
	unsigned char *real;
	int all;

	z = tz_parse("ok", b, n, NULL);
	ok(z != NULL && tz_offset(z, 999, NULL) == 0 &&
		tz_offset(z, 1000, NULL) == 3600,
	    "the hand-made file parses");
	if (z == NULL) {
		char *err = NULL;

		tz_parse("ok", b, n, &err);
		printf("# %s\n", err);
		free(err);
	}
	tz_free(z);

#define BAD(what, edit) \
	do { \
		memcpy(c, b, n); \
		edit; \
		ok(refused(c, n, what), "refused: %s", what); \
	} while (0)
	BAD("bad magic", c[0] = 'X');
	BAD("bad magic in the version 2 header", c[V2 + 1] = 'x');
	BAD("version byte", c[4] = '1');
	BAD("no types", put32(c + V2 + 36, 0));
	BAD("257 types", put32(c + V2 + 36, 257));
	BAD("no chars", put32(c + V2 + 40, 0));
	BAD("timecnt 2^32-1", put32(c + V2 + 32, 0xffffffff));
	BAD("typecnt 2^32-1", put32(c + V2 + 36, 0xffffffff));
	BAD("charcnt 2^31", put32(c + V2 + 40, 0x80000000));
	BAD("leapcnt 2^32-1", put32(c + V2 + 28, 0xffffffff));
	BAD("isstdcnt not typecnt", put32(c + V2 + 24, 1));
	BAD("isutcnt not typecnt", put32(c + V2 + 20, 3));
	BAD("v1 timecnt 2^32-1", put32(c + 32, 0xffffffff));
	BAD("type index out of range", c[V2 + 44 + 8] = 2);
	BAD("offset out of range", put32(c + V2 + 44 + 9, 0x7fffffff));
	BAD("isdst 2", c[V2 + 44 + 9 + 4] = 2);
	BAD("abbreviation index out of range", c[V2 + 44 + 9 + 5] = 8);
	BAD("footer without newline", c[n - 1] = 'x');
	BAD("footer not a TZ string", c[n - 3] = '!');
#undef BAD
	n = make_tzif(b, "BBB-1CCC,M3.5.0");
	ok(refused(b, n, "half a rule"), "refused: footer with one date");

	/* Every truncation of a real file, and flipped bytes. */
	real = slurp("/usr/share/zoneinfo/Europe/Berlin", &len);
	if (real == NULL) {
		ok(1, "# SKIP no Europe/Berlin");
		return;
	}
	all = 1;
	for (size_t i = 0; i < len; i++) {
		unsigned char *cut = malloc(i + 1); /* exact size: valgrind */

		memcpy(cut, real, i);
		all &= refused(cut, i, "truncated");
		free(cut);
	}
	ok(all, "every truncation of Europe/Berlin (%zu bytes) refused", len);
	srand(42);
	for (int i = 0; i < 3000; i++) {
		unsigned char *m = malloc(len);
		char *err = NULL;

		memcpy(m, real, len);
		for (int k = 0; k < 1 + i % 4; k++)
			m[(size_t)rand() % len] = (unsigned char)rand();
		z = tz_parse("fuzz", m, len, &err);
		if (z != NULL) { /* whatever it holds must be usable */
			int64_t e;
			int64_t a, bb;
			struct tz_local lt;

			tz_to_local(z, 1e9, &lt);
			tz_next_change(z, 0, T2100, &e);
			tz_from_local(z, 1e9, &a, &bb);
		}
		tz_free(z);
		free(err);
		free(m);
	}
	ok(1, "3000 damaged copies parsed or refused without a crash");
	free(real);
	ok(refused(NULL, 0, "nothing"), "refused: no data");
}

/* ---- tzload ----------------------------------------------------------------
 */

static void
test_tzload(void)
{
	static const char *const bad[] = { "", "/etc/localtime",
		"../zoneinfo/UTC", "Europe/../UTC", "Europe//Berlin", "Europe/",
		"Europe", "zone.tab", ":Europe/Berlin", "Europe/Berlin ",
		"Mars/Olympus_Mons", "./UTC" };
	const struct tz *a, *b;
	char path[300], cmd[1400];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		a = tzload_get(bad[i]);
		ok(a == NULL && errno == ENOENT, "tzload_get(\"%s\") refused",
		    bad[i]);
		tzload_release(a);
	}
	ok(tzload_get(NULL) == NULL, "tzload_get(NULL) refused");
	a = tzload_get("Europe/Berlin");
	b = tzload_get("Europe/Berlin");
	ok(a != NULL && a == b, "a cached zone is shared");
	tzload_release(a);
	tzload_release(b);

	/* TZDIR moves the directory; UTC needs no file at all. */
	setenv("TZDIR", tmpdir, 1);
	ok(tzload_get("Europe/Berlin") == NULL,
	    "TZDIR: the system's zones "
	    "are not looked at");
	a = tzload_get("UTC");
	b = tzload_get("Etc/UTC");
	ok(a != NULL && b != NULL && tz_offset(a, 0, NULL) == 0,
	    "UTC and Etc/UTC without zone files");
	tzload_release(a);
	tzload_release(b);
	a = tzload_get("slim/Test/Berlin");
	ok(a != NULL && tz_offset(a, INT64_C(1782864000), NULL) == 7200,
	    "TZDIR: a zone of its own");

	/* A file changed under a running program is read again. */
	snprintf(path, sizeof(path), "%s/slim/Test/Berlin", tmpdir);
	snprintf(cmd, sizeof(cmd),
	    "cp %s/slim/Test/Fixed %s.new && mv %s.new %s", tmpdir, path, path,
	    path);
	ok(system(cmd) == 0, "zone file replaced");
	b = tzload_get("slim/Test/Berlin");
	ok(b != NULL && b != a && tz_offset(b, 0, NULL) == 5 * 3600 + 45 * 60,
	    "the new file is read; the held zone stays valid");
	ok(tz_offset(a, INT64_C(1782864000), NULL) == 7200,
	    "the old zone still answers");
	tzload_release(a);
	tzload_release(b);
	unsetenv("TZDIR");

	/* More zones than the cache keeps: all still load, none leaks. */
	for (int round = 0; round < 2; round++)
		for (int h = -14; h <= 12; h++) {
			char name[32];

			snprintf(name, sizeof(name), "Etc/GMT%+d", h);
			if (h == 0)
				snprintf(name, sizeof(name), "Etc/GMT");
			a = tzload_get(name);
			b = tzload_get(zones[(size_t)(h + 14) %
			    (sizeof(zones) / sizeof(zones[0]))]);
			if (a == NULL || b == NULL)
				ok(0, "%s loads", name);
			tzload_release(a);
			tzload_release(b);
		}
	ok(1, "many zones through the cache");
	tzload_flush();
}

int
main(void)
{
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_zones_vs_glibc();
	test_posix_vs_glibc();
	test_posix_cases();
	test_from_local();
	test_zic_files();
	test_malformed();
	test_tzload();
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
		if (system(cmd) != 0)
			printf("# could not remove %s\n", tmpdir);
	}
	return t_done();
}
