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
 * The zone is a parsed, immutable struct tz (tz.h) handed in by the
 * caller, which asks it for offsets and for the exact instant of each
 * offset change; no C library time zone call, no TZ, no files, so
 * cron_next may run in any number of threads at once.  Nothing is
 * searched further than 8 years past `after`.
 */
#include "cron.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calendar.h"
#include "tz.h"
#include "xalloc.h"

#define DAY CAL_DAY
#define HORIZON ((int64_t)8 * 366 * DAY)
#define LOOKBACK ((int64_t)2 * DAY)
/* 0001-01-01 and 9990-01-01: far enough for anyone, and exact. */
#define AFTER_MIN INT64_C(-62135596800)
#define AFTER_MAX INT64_C(253086912000)
#define ALL_HOURS ((UINT64_C(1) << 24) - 1)

struct cron {
	uint64_t sec, min, hour, dom, mon, dow;
	unsigned dom_star : 1; /* the DOM field's text began with '*' */
	unsigned dow_star : 1;
};

static const char *const month_names[] = { "JAN", "FEB", "MAR", "APR", "MAY",
	"JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC" };
static const char *const day_names[] = { "SUN", "MON", "TUE", "WED", "THU",
	"FRI", "SAT" };

enum { F_SEC, F_MIN, F_HOUR, F_DOM, F_MON, F_DOW };

static const struct field {
	const char *name;
	int min, max;
	const char *const *names; /* names[0] is the value `min` */
	const char *expect;	  /* what a name should look like */
} fields[] = {
	[F_SEC] = { "second", 0, 59, NULL, NULL },
	[F_MIN] = { "minute", 0, 59, NULL, NULL },
	[F_HOUR] = { "hour", 0, 23, NULL, NULL },
	[F_DOM] = { "day-of-month", 1, 31, NULL, NULL },
	[F_MON] = { "month", 1, 12, month_names, "JAN..DEC" },
	[F_DOW] = { "day-of-week", 0, 7, day_names, "SUN..SAT" },
};

static const struct alias {
	const char *name;
	const char *expr;
} aliases[] = {
	{ "@yearly", "0 0 1 1 *" },
	{ "@annually", "0 0 1 1 *" },
	{ "@monthly", "0 0 1 * *" },
	{ "@weekly", "0 0 * * 0" },
	{ "@daily", "0 0 * * *" },
	{ "@midnight", "0 0 * * *" },
	{ "@hourly", "0 * * * *" },
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

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
			xseterr(err, "%s field: %.*s is out of range %d-%d",
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
		xseterr(err,
		    "%s field: unknown name '%.*s' (expected %s or %d-%d)",
		    f->name, (int)(p - start), start, f->expect, f->min,
		    f->max);
		return -1;
	}
	if (*p == '\0' || *p == ',') {
		xseterr(err, "%s field: expected a number%s", f->name, what);
		return -1;
	}
	while (*p && *p != ',')
		p++;
	xseterr(err,
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
		xseterr(err, "%s field: empty item in list", f->name);
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
				xseterr(err,
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
			xseterr(err, "%s field: expected a number after '/'",
			    f->name);
			return -1;
		}
		while (isdigit((unsigned char)*p)) {
			if (n < 1000000)
				n = n * 10 + (*p - '0');
			p++;
		}
		if (n < 1 || n > f->max - f->min) {
			xseterr(err, "%s field: step %.*s is out of range 1-%d",
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
		xseterr(err, "%s field: unexpected '%.*s' after '%.*s'",
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
					xseterr(err, "unexpected '%s' after %s",
					    rest, aliases[i].name);
					return NULL;
				}
				return cron_parse(aliases[i].expr, err);
			}
		xseterr(err,
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
		xseterr(err, "expected 5 or 6 fields, found %d", n);
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
	int wday = cal_weekday(days);
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
	int64_t days = cal_floor_div(from, DAY), y, w;
	int sod = (int)(from - days * DAY);
	int h = sod / 3600, mi = sod / 60 % 60, s = sod % 60, mo, d, n;

	cal_civil_from_days(days, &y, &mo, &d);
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
			days = cal_days_from_civil(y, mo, d);
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
		if (++d > cal_days_in_month(y, mo)) {
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

/* The UTC offset (seconds east) in force at instant t. */
static long
zone_off(const struct tz *z, int64_t t)
{
	return z ? tz_offset(z, t, NULL) : 0;
}

/* The first offset change in (t, until]: returns 1 and sets *at, or 0. */
static int
next_change(const struct tz *z, int64_t t, int64_t until, int64_t *at)
{
	return z ? tz_next_change(z, t, until, at) : 0;
}

static int64_t
max64(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

/* cron_next in zone z; see the top of the file. */
static int
next_in_zone(
    const struct cron *c, const struct tz *z, int64_t after, int64_t *next)
{
	int fixed = c->hour != ALL_HOURS;
	int64_t deadline = after + HORIZON, t = after, from, w, e;
	long o = zone_off(z, after), o2, ob;

	/*
	 * `from` is the first wall time the current stretch may fire at.
	 * For fixed-hour expressions, a fall back shortly before `after`
	 * repeats wall times whose first occurrence is already past.
	 */
	from = after + o + 1;
	if (fixed && (ob = zone_off(z, after - LOOKBACK)) > o &&
	    next_change(z, after - LOOKBACK, after, &e))
		from = max64(from, e + ob);
	for (;;) {
		if (next_wall(c, from, deadline + o, &w) < 0)
			break;
		if (!next_change(z, t, w - o, &e)) {
			*next = w - o;
			return 0;
		}
		/* The stretch ends at e, before or at the candidate. */
		o2 = zone_off(z, e);
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
cron_next(
    const struct cron *c, const struct tz *z, int64_t after, int64_t *next)
{
	if (after < AFTER_MIN || after > AFTER_MAX) {
		errno = ERANGE;
		return -1;
	}
	return next_in_zone(c, z, after, next);
}
