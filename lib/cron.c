/*
 * cron: see cron.h.
 *
 * A parsed expression is six bitmasks (second, minute, hour, day of month,
 * month, day of week) plus the two Vixie "star" flags.  A field counts as
 * unrestricted, as in Vixie cron, when its text begins with '*' (so
 * "*\/2" in the day-of-month field is unrestricted for the DOM/DOW rule,
 * "1-31" is not); when both day fields are restricted a day matches if
 * either matches, otherwise both must match.  Steps: "*\/n" over the whole
 * range, "a-b/n" over a-b, "a/n" from a to the field's maximum.  In the
 * day-of-week field 7 is Sunday, and a range ending in SUN (or 0), like
 * FRI-SUN, runs to Sunday at the end of the week.
 *
 * cron_next works in two layers.  next_wall() is pure calendar arithmetic:
 * the first wall-clock time (local seconds, no zone) at or after a given
 * one that matches, skipping whole months, days, hours and minutes that
 * cannot match.  cron_next() walks real time in stretches of constant UTC
 * offset, asks next_wall() for a match inside the current stretch and, when
 * a stretch ends at a transition, applies the daylight-saving rules:
 *
 *   Fixed-hour expressions (the hour field does not cover all 24 hours,
 *   e.g. "30 1 * * *", "0 9-17 * * *", "* 2 * * *"): each matching wall
 *   time fires once.  A time that does not exist (spring forward) fires at
 *   the first instant after the gap, once however many gap times match; a
 *   time that occurs twice (fall back) fires only at its first occurrence.
 *
 *   Frequent expressions (the hour field covers all 24 hours: "*", "0-23",
 *   "*\/1", and the aliases @hourly and friends whose hour is "*"; e.g.
 *   "*\/15 * * * *", "30 * * * *"): they follow the wall clock as it is
 *   shown, firing at every real instant whose local time matches.  In a
 *   fall-back overlap the repeated times fire on both passes; in a
 *   spring-forward gap the missing times simply do not happen (no extra
 *   fire at the end of the gap), so "30 * * * *" still fires once per real
 *   hour across both changes.  This is Vixie cron's rule for wildcard jobs.
 *
 * Time zone rules are read through the C library: for the length of one
 * call TZ is set to the zone file and restored afterwards, so cron_next is
 * not thread-safe (Link Loom's daemons are single-threaded).  Transitions
 * are found by probing the UTC offset once a day and bisecting to the
 * second, which assumes no zone has two offset changes within one day.
 * Nothing is searched further than 8 years past `after`.
 */
#include "cron.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "xalloc.h"

#define ZONEINFO "/usr/share/zoneinfo"
#define DAY 86400
#define HORIZON ((int64_t)8 * 366 * DAY)
#define LOOKBACK ((int64_t)2 * DAY)
/* 0001-01-01 and 9990-01-01: localtime_r and the calendar stay exact. */
#define AFTER_MIN INT64_C(-62135596800)
#define AFTER_MAX INT64_C(253086912000)
#define ALL_HOURS ((UINT64_C(1) << 24) - 1)

struct cron {
	uint64_t sec, min, hour, dom, mon, dow;
	unsigned dom_star : 1; /* the DOM field's text began with '*' */
	unsigned dow_star : 1;
};

static const char *const month_names[] = {"JAN", "FEB", "MAR", "APR", "MAY",
    "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
static const char *const day_names[] = {
    "SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

enum { F_SEC, F_MIN, F_HOUR, F_DOM, F_MON, F_DOW };

static const struct field {
	const char *name;
	int min, max;
	const char *const *names; /* names[0] is the value `min` */
	const char *expect;	  /* what a name should look like */
} fields[] = {
    [F_SEC] = {"second", 0, 59, NULL, NULL},
    [F_MIN] = {"minute", 0, 59, NULL, NULL},
    [F_HOUR] = {"hour", 0, 23, NULL, NULL},
    [F_DOM] = {"day-of-month", 1, 31, NULL, NULL},
    [F_MON] = {"month", 1, 12, month_names, "JAN..DEC"},
    [F_DOW] = {"day-of-week", 0, 7, day_names, "SUN..SAT"},
};

static const struct alias {
	const char *name;
	const char *expr;
} aliases[] = {
    {"@yearly", "0 0 1 1 *"},
    {"@annually", "0 0 1 1 *"},
    {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"},
    {"@daily", "0 0 * * *"},
    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static void set_err(char **err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
set_err(char **err, const char *fmt, ...)
{
	va_list ap;
	int len;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	len = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	*err = xmalloc((size_t)len + 1);
	va_start(ap, fmt);
	vsnprintf(*err, (size_t)len + 1, fmt, ap);
	va_end(ap);
}

/*
 * Reads one value (a number, or a name where the field has names) at *pp
 * and advances past it; `what` says where it stands ("", " after '-'").
 * Returns 0, or -1 with *err set.
 */
static int
parse_value(const char **pp, const struct field *f, const char *what, int *v,
    char **err)
{
	const char *p = *pp, *start = p;
	long n = 0;

	if (isdigit((unsigned char)*p)) {
		while (isdigit((unsigned char)*p)) {
			if (n < 1000000)
				n = n * 10 + (*p - '0');
			p++;
		}
		if (n < f->min || n > f->max) {
			set_err(err, "%s field: %.*s is out of range %d-%d",
			    f->name, (int)(p - start), start, f->min, f->max);
			return -1;
		}
		*v = (int)n;
		*pp = p;
		return 0;
	}
	if (isalpha((unsigned char)*p) && f->names != NULL) {
		/* Day of week: the names cover 0-6, not 7. */
		int count = f->names == day_names ? 7 : f->max - f->min + 1;

		while (isalnum((unsigned char)*p))
			p++;
		for (int i = 0; i < count; i++)
			if (p - start == 3 &&
			    strncasecmp(start, f->names[i], 3) == 0) {
				*v = f->min + i;
				*pp = p;
				return 0;
			}
		set_err(err,
		    "%s field: unknown name '%.*s' (expected %s or %d-%d)",
		    f->name, (int)(p - start), start, f->expect, f->min,
		    f->max);
		return -1;
	}
	if (*p == '\0' || *p == ',') {
		set_err(err, "%s field: expected a number%s", f->name, what);
		return -1;
	}
	while (*p && *p != ',')
		p++;
	set_err(err,
	    "%s field: unexpected '%.*s'%s (expected a number%s, '*', a "
	    "range a-b, a step /n or a list a,b)",
	    f->name, (int)(p - start), start, what,
	    f->names ? " or a name" : "");
	return -1;
}

/* Parses one list item ("*", "a", "a-b", with an optional "/n") into *mask. */
static int
parse_item(const char **pp, const struct field *f, uint64_t *mask, char **err)
{
	const char *p = *pp, *start = p;
	int lo, hi, step = 1, single = 0;

	if (*p == ',' || *p == '\0') {
		set_err(err, "%s field: empty item in list", f->name);
		return -1;
	}
	if (*p == '*') {
		lo = f->min;
		hi = f->max;
		p++;
	} else {
		if (parse_value(&p, f, "", &lo, err) < 0)
			return -1;
		hi = lo;
		single = 1;
		if (*p == '-') {
			p++;
			if (parse_value(&p, f, " after '-'", &hi, err) < 0)
				return -1;
			single = 0;
			/* FRI-SUN: a range may end on the Sunday after. */
			if (f == &fields[F_DOW] && hi == 0 && lo > 0)
				hi = 7;
			if (hi < lo) {
				set_err(err,
				    "%s field: range %.*s goes backwards",
				    f->name, (int)(p - start), start);
				return -1;
			}
		}
	}
	if (*p == '/') {
		const char *s = ++p;
		long n = 0;

		if (!isdigit((unsigned char)*p)) {
			set_err(err, "%s field: expected a number after '/'",
			    f->name);
			return -1;
		}
		while (isdigit((unsigned char)*p)) {
			if (n < 1000000)
				n = n * 10 + (*p - '0');
			p++;
		}
		if (n < 1 || n > f->max - f->min) {
			set_err(err, "%s field: step %.*s is out of range 1-%d",
			    f->name, (int)(p - s), s, f->max - f->min);
			return -1;
		}
		step = (int)n;
		if (single)
			hi = f->max; /* "5/15" means 5-max/15 */
	}
	if (*p != ',' && *p != '\0') {
		const char *e = p;

		while (*e && *e != ',')
			e++;
		set_err(err, "%s field: unexpected '%.*s' after '%.*s'",
		    f->name, (int)(e - p), p, (int)(p - start), start);
		return -1;
	}
	for (int v = lo; v <= hi; v += step)
		*mask |= UINT64_C(1) << v;
	*pp = p;
	return 0;
}

static int
parse_field(const char *text, const struct field *f, uint64_t *mask, char **err)
{
	const char *p = text;

	*mask = 0;
	for (;;) {
		if (parse_item(&p, f, mask, err) < 0)
			return -1;
		if (*p == '\0')
			break;
		p++; /* the ',' */
	}
	if (f == &fields[F_DOW] && (*mask & (UINT64_C(1) << 7))) {
		*mask &= ~(UINT64_C(1) << 7);
		*mask |= 1;
	}
	return 0;
}

struct cron *
cron_parse(const char *expr, char **err)
{
	struct cron *c = NULL;
	char *buf = NULL, *tok[7], *p, *save;
	uint64_t *masks[6];
	int n = 0, first;

	if (err != NULL)
		*err = NULL;
	if (expr == NULL)
		expr = "";
	while (isspace((unsigned char)*expr))
		expr++;
	if (*expr == '@') {
		size_t len = strcspn(expr, " \t\r\n");

		for (size_t i = 0; i < NELEM(aliases); i++)
			if (strlen(aliases[i].name) == len &&
			    strncasecmp(expr, aliases[i].name, len) == 0) {
				const char *rest = expr + len;

				rest += strspn(rest, " \t\r\n");
				if (*rest != '\0') {
					set_err(err, "unexpected '%s' after %s",
					    rest, aliases[i].name);
					return NULL;
				}
				return cron_parse(aliases[i].expr, err);
			}
		set_err(err,
		    "unknown alias '%.*s' (expected @yearly, @annually, "
		    "@monthly, @weekly, @daily, @midnight or @hourly)",
		    (int)len, expr);
		return NULL;
	}

	buf = xstrdup(expr);
	for (p = strtok_r(buf, " \t\r\n", &save); p != NULL;
	     p = strtok_r(NULL, " \t\r\n", &save)) {
		if (n < 7)
			tok[n] = p;
		n++;
	}
	if (n != 5 && n != 6) {
		set_err(err, "expected 5 or 6 fields, found %d", n);
		goto fail;
	}

	c = xcalloc(1, sizeof(*c));
	masks[F_SEC] = &c->sec;
	masks[F_MIN] = &c->min;
	masks[F_HOUR] = &c->hour;
	masks[F_DOM] = &c->dom;
	masks[F_MON] = &c->mon;
	masks[F_DOW] = &c->dow;
	first = n == 6 ? F_SEC : F_MIN;
	if (n == 5)
		c->sec = 1;
	for (int i = first; i <= F_DOW; i++)
		if (parse_field(tok[i - first], &fields[i], masks[i], err) < 0)
			goto fail;
	c->dom_star = tok[F_DOM - first][0] == '*';
	c->dow_star = tok[F_DOW - first][0] == '*';
	free(buf);
	return c;

fail:
	free(buf);
	free(c);
	return NULL;
}

void
cron_free(struct cron *c)
{
	free(c);
}

/* Calendar arithmetic (proleptic Gregorian), after Howard Hinnant. */

static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static int
days_in_month(int64_t y, int m)
{
	static const int mdays[] = {
	    31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
		return 29;
	return mdays[m - 1];
}

static int64_t
floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* The lowest set bit of mask at or above `from`, or -1. */
static int
next_bit(uint64_t mask, int from)
{
	if (from > 63)
		return -1;
	mask &= ~UINT64_C(0) << from;
	return mask ? __builtin_ctzll(mask) : -1;
}

static int
day_matches(const struct cron *c, int d, int64_t days)
{
	int wday = (int)(((days % 7) + 7 + 4) % 7); /* 1970-01-01: Thu */
	int dom_ok = (c->dom >> d) & 1, dow_ok = (c->dow >> wday) & 1;

	if (c->dom_star || c->dow_star)
		return dom_ok && dow_ok;
	return dom_ok || dow_ok;
}

/*
 * The first matching wall-clock time (local seconds: civil time counted as
 * if it were UTC) at or after `from` and at most `limit`.  Returns 0 and
 * sets *out, or -1 when there is none.
 */
static int
next_wall(const struct cron *c, int64_t from, int64_t limit, int64_t *out)
{
	int64_t days = floor_div(from, DAY), y, w;
	int sod = (int)(from - days * DAY);
	int h = sod / 3600, mi = sod / 60 % 60, s = sod % 60, mo, d, n;

	civil_from_days(days, &y, &mo, &d);
	for (;;) {
		if (days * DAY > limit)
			return -1;
		if (!((c->mon >> mo) & 1)) {
			/* Jump to the first day of the next matching month. */
			if ((n = next_bit(c->mon, mo + 1)) < 0) {
				y++;
				n = next_bit(c->mon, 1);
			}
			mo = n;
			d = 1;
			days = days_from_civil(y, mo, d);
			h = mi = s = 0;
			continue;
		}
		if (!day_matches(c, d, days))
			goto next_day;
		if ((n = next_bit(c->hour, h)) < 0)
			goto next_day;
		if (n != h) {
			h = n;
			mi = s = 0;
		}
		if ((n = next_bit(c->min, mi)) < 0) {
			mi = s = 0;
			if (++h > 23)
				goto next_day;
			continue;
		}
		if (n != mi) {
			mi = n;
			s = 0;
		}
		if ((n = next_bit(c->sec, s)) < 0) {
			s = 0;
			if (++mi > 59) {
				mi = 0;
				if (++h > 23)
					goto next_day;
			}
			continue;
		}
		w = days * DAY + h * 3600 + mi * 60 + n;
		if (w > limit)
			return -1;
		*out = w;
		return 0;
	next_day:
		days++;
		h = mi = s = 0;
		if (++d > days_in_month(y, mo)) {
			d = 1;
			if (++mo > 12) {
				mo = 1;
				y++;
			}
		}
	}
}

/* Whether any wall time in [from, end) matches. */
static int
matches_in(const struct cron *c, int64_t from, int64_t end)
{
	int64_t w;

	return next_wall(c, from, end - 1, &w) == 0;
}

/*
 * The Gregorian calendar repeats every 400 years, and 146097 days are a
 * whole number of weeks, so an expression that matches no wall time in
 * one such cycle matches none ever, whatever the zone (a zone only moves
 * which instant a wall time is).  Only the day fields can match nothing:
 * every field keeps at least one value, and when both day fields are
 * restricted either one matching will do, so it takes a day of the month
 * that none of the months has, with the day of the week unrestricted or
 * "*\/n".  next_wall() jumps over months that cannot match, so even then
 * the search walks some 12,000 days.
 */
#define CYCLE_DAYS INT64_C(146097)

int
cron_never_fires(const struct cron *c)
{
	int64_t w;

	return next_wall(c, 0, CYCLE_DAYS * DAY - 1, &w) < 0;
}

/* Zone handling: TZ is pointed at the zone file for one call. */

struct tz_saved {
	char *old; /* the caller's TZ, or NULL when unset; owned */
};

static int
zone_enter(const char *tz, struct tz_saved *sv)
{
	const char *old = getenv("TZ");
	char *val;
	int rc;

	sv->old = old ? xstrdup(old) : NULL;
	val = xasprintf(":%s/%s", ZONEINFO, tz);
	rc = setenv("TZ", val, 1);
	free(val);
	tzset();
	return rc;
}

static void
zone_leave(struct tz_saved *sv)
{
	int saved_errno = errno;

	if (sv->old != NULL)
		setenv("TZ", sv->old, 1);
	else
		unsetenv("TZ");
	free(sv->old);
	sv->old = NULL;
	tzset();
	errno = saved_errno;
}

/* The UTC offset (seconds east) in force at instant t. */
static long
zone_off(int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (localtime_r(&tt, &tm) == NULL)
		return 0;
	return tm.tm_gmtoff;
}

/*
 * The first instant in (lo, hi] whose offset is not o, where off(lo) == o
 * and off(hi) != o.
 */
static int64_t
bisect_change(int64_t lo, int64_t hi, long o)
{
	while (hi - lo > 1) {
		int64_t mid = lo + (hi - lo) / 2;

		if (zone_off(mid) == o)
			lo = mid;
		else
			hi = mid;
	}
	return hi;
}

/* The first offset change in (t, until]: returns 1 and sets *at, or 0. */
static int
next_change(int64_t t, int64_t until, long o, int64_t *at)
{
	while (t < until) {
		int64_t n = until - t > DAY ? t + DAY : until;

		if (zone_off(n) != o) {
			*at = bisect_change(t, n, o);
			return 1;
		}
		t = n;
	}
	return 0;
}

static int64_t
max64(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

/* cron_next in the zone TZ currently names; see the top of the file. */
static int
next_in_zone(const struct cron *c, int64_t after, int64_t *next)
{
	int fixed = c->hour != ALL_HOURS;
	int64_t deadline = after + HORIZON, t = after, from, w, e;
	long o = zone_off(after), o2, ob;

	/*
	 * `from` is the first wall time the current stretch may fire at.
	 * For fixed-hour expressions, a fall back shortly before `after`
	 * repeats wall times whose first occurrence is already past.
	 */
	from = after + o + 1;
	if (fixed && (ob = zone_off(after - LOOKBACK)) > o) {
		e = bisect_change(after - LOOKBACK, after, ob);
		from = max64(from, e + ob);
	}
	for (;;) {
		if (next_wall(c, from, deadline + o, &w) < 0)
			break;
		if (!next_change(t, w - o, o, &e)) {
			*next = w - o;
			return 0;
		}
		/* The stretch ends at e, before or at the candidate. */
		o2 = zone_off(e);
		if (o2 > o) {
			/* Spring forward: walls [e+o, e+o2) never happen. */
			if (fixed &&
			    matches_in(c, max64(from, e + o), e + o2)) {
				*next = e;
				return 0;
			}
			from = max64(from, e + o2);
		} else {
			/* Fall back: walls [e+o2, e+o) come round again. */
			from = fixed ? max64(from, e + o) : e + o2;
		}
		t = e;
		o = o2;
	}
	errno = ERANGE;
	return -1;
}

int
cron_next(const struct cron *c, const char *tz, int64_t after, int64_t *next)
{
	struct tz_saved sv;
	int rc;

	if (tz == NULL || strcmp(tz, "UTC") == 0) {
		if (after < AFTER_MIN || after > AFTER_MAX ||
		    next_wall(c, after + 1, after + HORIZON, next) < 0) {
			errno = ERANGE;
			return -1;
		}
		return 0;
	}
	if (!tz_valid(tz)) {
		errno = ENOENT;
		return -1;
	}
	if (after < AFTER_MIN || after > AFTER_MAX) {
		errno = ERANGE;
		return -1;
	}
	if (zone_enter(tz, &sv) < 0) {
		zone_leave(&sv);
		return -1;
	}
	rc = next_in_zone(c, after, next);
	zone_leave(&sv);
	return rc;
}

int
tz_valid(const char *tz)
{
	char *path, magic[4];
	int fd, ok;

	if (tz == NULL || strcmp(tz, "UTC") == 0)
		return 1;
	if (*tz == '\0' || *tz == '/' || strstr(tz, "..") != NULL ||
	    strlen(tz) > 255)
		return 0;
	/* IANA names use letters, digits, '/', '_', '-' and '+'. */
	for (const char *p = tz; *p; p++)
		if (!isalnum((unsigned char)*p) && strchr("/_-+", *p) == NULL)
			return 0;
	path = xasprintf("%s/%s", ZONEINFO, tz);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	if (fd < 0)
		return 0;
	/* A directory or zone.tab is not a zone: TZif files say so. */
	ok = read(fd, magic, sizeof(magic)) == sizeof(magic) &&
	    memcmp(magic, "TZif", 4) == 0;
	close(fd);
	return ok;
}
