/*
 * tz: see tz.h.
 *
 * A zone is a sorted array of transition instants, each naming a local
 * time type (offset, DST flag, abbreviation), plus an optional rule from
 * the footer's POSIX TZ string.  Before the first transition type 0 is in
 * force (RFC 8536); from the last transition on, the rule decides when
 * there is one (as glibc does), else the last transition's type.  A zone
 * with no transitions and a rule follows the rule throughout.
 *
 * The rule is evaluated per year from the calendar (calendar.h): each year
 * has a start of daylight time (given in standard time) and an end (given
 * in daylight time).  The state at an instant is the one set by the last
 * start or end at or before it among the years around it, so southern
 * zones (start after end in the year) and all-year daylight time (an end
 * that meets the next start) need no special case.
 *
 * Leap second records are skipped: instants are POSIX time, as everywhere
 * in Link Loom.  Offsets beyond +-26 hours are refused, which keeps every
 * sum below far from overflow.
 */
#include "tz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calendar.h"
#include "xalloc.h"

#define OFF_MAX (26 * 3600)
#define ABBR_MAX 15
#define RULE_HOURS_MAX 167
/* Far enough to stay clear of overflow, far beyond any calendar use. */
#define T_MIN (-(INT64_C(1) << 59))
#define T_MAX (INT64_C(1) << 59)

struct tz_type {
	int32_t utoff;
	unsigned char is_dst;
	size_t abbr; /* index into chars */
};

/* A rule date: Jn (1-365, no Feb 29), n (0-365) or Mm.w.d. */
struct rule_date {
	char kind; /* 'J', 'N', 'M' */
	int n, m, w, d;
	int32_t secs; /* local time of day, -167h..167h */
};

struct rule {
	int32_t std_off, dst_off;
	char std_abbr[ABBR_MAX + 1], dst_abbr[ABBR_MAX + 1];
	int has_dst;
	struct rule_date start, end;
};

struct tz {
	char *name;
	int64_t *times;
	unsigned char *idx;
	size_t ntimes;
	struct tz_type *types;
	size_t ntypes;
	char *chars; /* NUL-terminated abbreviations */
	size_t nchars;
	int has_rule;
	struct rule rule;
};

/* What is in force at an instant. */
struct zinfo {
	int32_t utoff;
	int is_dst;
	const char *abbr;
};

/* ---- the POSIX TZ string ------------------------------------------------ */

static int
is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

static int
is_alpha(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

/* An abbreviation: 3 or more letters, or <...> of letters, digits, + -. */
static int
rule_name(const char **pp, char *out)
{
	const char *p = *pp, *s;
	size_t n;

	if (*p == '<') {
		s = ++p;
		while (is_alpha(*p) || is_digit(*p) || *p == '+' || *p == '-')
			p++;
		if (*p != '>')
			return -1;
		n = (size_t)(p - s);
		p++;
	} else {
		s = p;
		while (is_alpha(*p))
			p++;
		n = (size_t)(p - s);
	}
	if (n < 3 || n > ABBR_MAX)
		return -1;
	memcpy(out, s, n);
	out[n] = '\0';
	*pp = p;
	return 0;
}

static int
rule_num(const char **pp, int max, int *v)
{
	const char *p = *pp;
	int n = 0;

	if (!is_digit(*p))
		return -1;
	while (is_digit(*p)) {
		n = n * 10 + (*p++ - '0');
		if (n > max)
			return -1;
	}
	*v = n;
	*pp = p;
	return 0;
}

/* [+-]hh[:mm[:ss]], hours at most max_h; seconds, signed as written. */
static int
rule_hms(const char **pp, int max_h, int32_t *secs)
{
	const char *p = *pp;
	int sign = 1, h, m = 0, s = 0;

	if (*p == '+' || *p == '-')
		sign = *p++ == '-' ? -1 : 1;
	if (rule_num(&p, max_h, &h) < 0)
		return -1;
	if (*p == ':') {
		p++;
		if (rule_num(&p, 59, &m) < 0)
			return -1;
		if (*p == ':') {
			p++;
			if (rule_num(&p, 59, &s) < 0)
				return -1;
		}
	}
	*secs = sign * (h * 3600 + m * 60 + s);
	*pp = p;
	return 0;
}

static int
rule_date(const char **pp, struct rule_date *rd)
{
	const char *p = *pp;

	memset(rd, 0, sizeof(*rd));
	if (*p == 'J') {
		p++;
		rd->kind = 'J';
		if (rule_num(&p, 365, &rd->n) < 0 || rd->n < 1)
			return -1;
	} else if (*p == 'M') {
		p++;
		rd->kind = 'M';
		if (rule_num(&p, 12, &rd->m) < 0 || rd->m < 1 || *p++ != '.' ||
		    rule_num(&p, 5, &rd->w) < 0 || rd->w < 1 || *p++ != '.' ||
		    rule_num(&p, 6, &rd->d) < 0)
			return -1;
	} else {
		rd->kind = 'N';
		if (rule_num(&p, 365, &rd->n) < 0)
			return -1;
	}
	rd->secs = 2 * 3600;
	if (*p == '/') {
		p++;
		if (rule_hms(&p, RULE_HOURS_MAX, &rd->secs) < 0)
			return -1;
	}
	*pp = p;
	return 0;
}

static int
parse_rule(const char *s, struct rule *r)
{
	const char *p = s;
	int32_t off;

	memset(r, 0, sizeof(*r));
	if (rule_name(&p, r->std_abbr) < 0 || rule_hms(&p, 24, &off) < 0)
		return -1;
	r->std_off = -off; /* POSIX counts west */
	if (*p == '\0')
		return 0;
	if (rule_name(&p, r->dst_abbr) < 0)
		return -1;
	r->has_dst = 1;
	r->dst_off = r->std_off + 3600;
	if (*p != ',' && *p != '\0') {
		if (rule_hms(&p, 24, &off) < 0)
			return -1;
		r->dst_off = -off;
	}
	if (*p == '\0') {
		/* No dates: the POSIX default, the US rules since 2007. */
		p = ",M3.2.0,M11.1.0";
	}
	if (*p++ != ',' || rule_date(&p, &r->start) < 0 || *p++ != ',' ||
	    rule_date(&p, &r->end) < 0 || *p != '\0')
		return -1;
	return 0;
}

/* Day count of a rule date in year y. */
static int64_t
rule_day(const struct rule_date *rd, int64_t y)
{
	int64_t jan1 = cal_days_from_civil(y, 1, 1), first, day;

	switch (rd->kind) {
	case 'J':
		return jan1 + rd->n - 1 + (cal_is_leap(y) && rd->n >= 60);
	case 'N':
		return jan1 + rd->n;
	default:
		first = cal_days_from_civil(y, rd->m, 1);
		day = first + (rd->d - cal_weekday(first) + 7) % 7 +
		    (int64_t)(rd->w - 1) * 7;
		while (day >= first + cal_days_in_month(y, rd->m))
			day -= 7;
		return day;
	}
}

struct rule_event {
	int64_t at;
	int dst; /* the state from `at` on */
};

/* The starts and ends of years y0..y0+n-1, sorted; ends first on a tie. */
static size_t
rule_events(const struct rule *r, int64_t y0, int n, struct rule_event *ev)
{
	size_t k = 0;

	for (int64_t y = y0; y < y0 + n; y++) {
		ev[k].at =
		    rule_day(&r->end, y) * CAL_DAY + r->end.secs - r->dst_off;
		ev[k++].dst = 0;
		ev[k].at = rule_day(&r->start, y) * CAL_DAY + r->start.secs -
		    r->std_off;
		ev[k++].dst = 1;
	}
	/* Insertion sort of a handful; stable, so ends stay first. */
	for (size_t i = 1; i < k; i++)
		for (size_t j = i; j > 0 && ev[j].at < ev[j - 1].at; j--) {
			struct rule_event t = ev[j];

			ev[j] = ev[j - 1];
			ev[j - 1] = t;
		}
	return k;
}

static int64_t
utc_year(int64_t t)
{
	int64_t y;
	int m, d;

	cal_civil_from_days(cal_floor_div(t, CAL_DAY), &y, &m, &d);
	return y;
}

static int
rule_dst_at(const struct rule *r, int64_t t)
{
	struct rule_event ev[6];
	size_t n;
	int dst = 0;

	if (!r->has_dst)
		return 0;
	n = rule_events(r, utc_year(t) - 1, 3, ev);
	for (size_t i = 0; i < n && ev[i].at <= t; i++)
		dst = ev[i].dst;
	return dst;
}

static void
rule_info(const struct rule *r, int dst, struct zinfo *zi)
{
	zi->utoff = dst ? r->dst_off : r->std_off;
	zi->is_dst = dst;
	zi->abbr = dst ? r->dst_abbr : r->std_abbr;
}

/* The first instant in (t, until] where the rule changes the offset. */
static int
rule_next_change(const struct rule *r, int64_t t, int64_t until, int64_t *at)
{
	struct rule_event ev[8];
	int32_t cur;
	int64_t y, last;

	if (!r->has_dst || r->std_off == r->dst_off)
		return 0;
	cur = rule_dst_at(r, t) ? r->dst_off : r->std_off;
	/* The rule repeats yearly: no change in a few years is none ever. */
	last = utc_year(until) + 1;
	if (last > utc_year(t) + 8)
		last = utc_year(t) + 8;
	for (y = utc_year(t) - 1; y <= last; y += 2) {
		size_t n = rule_events(r, y, 4, ev);
		/*
		 * Events of year y+4, not in ev[], may fall as early as a week
		 * before it begins (167-hour rule times): what ev[] says past
		 * that may be incomplete, the next round sees it whole.
		 */
		int64_t sure =
		    (cal_days_from_civil(y + 4, 1, 1) - 10) * CAL_DAY;

		for (size_t i = 0; i < n; i++) {
			int32_t off;

			if (ev[i].at <= t)
				continue;
			if (ev[i].at > until || ev[i].at >= sure)
				break;
			/* Several events at one instant: the last decides. */
			while (i + 1 < n && ev[i + 1].at == ev[i].at)
				i++;
			off = ev[i].dst ? r->dst_off : r->std_off;
			if (off != cur) {
				*at = ev[i].at;
				return 1;
			}
		}
	}
	return 0;
}

/* ---- lookups ------------------------------------------------------------ */

static void
type_info(const struct tz *z, size_t type, struct zinfo *zi)
{
	zi->utoff = z->types[type].utoff;
	zi->is_dst = z->types[type].is_dst;
	zi->abbr = z->chars + z->types[type].abbr;
}

static void
info_at(const struct tz *z, int64_t t, struct zinfo *zi)
{
	size_t lo, hi;

	if (z->has_rule && (z->ntimes == 0 || t >= z->times[z->ntimes - 1])) {
		rule_info(&z->rule, rule_dst_at(&z->rule, t), zi);
		return;
	}
	if (z->ntimes == 0 || t < z->times[0]) {
		type_info(z, 0, zi);
		return;
	}
	/* The last transition at or before t. */
	lo = 0;
	hi = z->ntimes;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (z->times[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	type_info(z, z->idx[lo], zi);
}

static int64_t
clamp(int64_t t)
{
	return t < T_MIN ? T_MIN : t > T_MAX ? T_MAX : t;
}

int32_t
tz_offset(const struct tz *z, int64_t t, int *is_dst)
{
	struct zinfo zi;

	info_at(z, clamp(t), &zi);
	if (is_dst != NULL)
		*is_dst = zi.is_dst;
	return zi.utoff;
}

void
tz_to_local(const struct tz *z, int64_t t, struct tz_local *out)
{
	struct zinfo zi;
	int64_t wall, days;
	int sod;

	t = clamp(t);
	info_at(z, t, &zi);
	wall = t + zi.utoff;
	days = cal_floor_div(wall, CAL_DAY);
	sod = (int)(wall - days * CAL_DAY);
	cal_civil_from_days(days, &out->year, &out->mon, &out->mday);
	out->hour = sod / 3600;
	out->min = sod / 60 % 60;
	out->sec = sod % 60;
	out->wday = cal_weekday(days);
	out->yday = (int)(days - cal_days_from_civil(out->year, 1, 1));
	out->utoff = zi.utoff;
	out->is_dst = zi.is_dst;
	out->abbr = zi.abbr;
}

int
tz_next_change(const struct tz *z, int64_t t, int64_t until, int64_t *at)
{
	int32_t cur;
	size_t lo, hi;

	t = clamp(t);
	until = clamp(until);
	if (until <= t)
		return 0;
	cur = tz_offset(z, t, NULL);
	/* The first transition after t. */
	lo = 0;
	hi = z->ntimes;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (z->times[mid] <= t)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < z->ntimes && z->times[lo] <= until; lo++)
		if (tz_offset(z, z->times[lo], NULL) != cur) {
			*at = z->times[lo];
			return 1;
		}
	if (!z->has_rule)
		return 0;
	if (z->ntimes > 0 && z->times[z->ntimes - 1] > t)
		t = z->times[z->ntimes - 1];
	return rule_next_change(&z->rule, t, until, at);
}

int
tz_from_local(const struct tz *z, int64_t wall, int64_t *first, int64_t *second)
{
	int64_t lo, hi, start, end, found[2], gap_end = 0;
	int32_t o, o2;
	int n = 0, gap = 0;

	wall = clamp(wall);
	lo = wall - OFF_MAX - CAL_DAY;
	hi = wall + OFF_MAX + CAL_DAY;
	start = lo;
	o = tz_offset(z, lo, NULL);
	/* Walk the stretches of constant offset around the wall time. */
	for (;;) {
		int more = tz_next_change(z, start, hi, &end);

		if (!more)
			end = hi + 1;
		if (wall - o >= start && wall - o < end) {
			if (n < 2)
				found[n] = wall - o;
			n++;
		}
		if (!more)
			break;
		o2 = tz_offset(z, end, NULL);
		if (o2 > o && wall >= end + o && wall < end + o2 && !gap) {
			gap = 1; /* missing: the clocks jumped at `end` */
			gap_end = end;
		}
		start = end;
		o = o2;
	}
	if (n == 0) {
		*first = *second = gap ? gap_end : wall - o;
		return gap ? 0 : 1;
	}
	*first = found[0];
	*second = found[n > 1 ? 1 : 0];
	return n > 1 ? 2 : 1;
}

/* ---- TZif --------------------------------------------------------------- */

struct tzif_hdr {
	int version; /* 1, 2, 3, 4 */
	uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
};

static uint32_t
be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static int64_t
be64(const unsigned char *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

#define TZIF_HDR 44

static int
tzif_header(const unsigned char *p, size_t len, struct tzif_hdr *h, int used,
    char **err)
{
	if (len < TZIF_HDR) {
		xseterr(err, "truncated TZif data (%zu bytes, no header)", len);
		return -1;
	}
	if (memcmp(p, "TZif", 4) != 0) {
		xseterr(err, "not TZif data (bad magic)");
		return -1;
	}
	if (p[4] == 0)
		h->version = 1;
	else if (p[4] >= '2' && p[4] <= '9')
		h->version = p[4] - '0';
	else {
		xseterr(err, "unknown TZif version 0x%02x", p[4]);
		return -1;
	}
	h->isutcnt = be32(p + 20);
	h->isstdcnt = be32(p + 24);
	h->leapcnt = be32(p + 28);
	h->timecnt = be32(p + 32);
	h->typecnt = be32(p + 36);
	h->charcnt = be32(p + 40);
	/* The 32-bit block of a version 2+ file is skipped, only sized. */
	if (!used && h->version > 1)
		return 0;
	if (h->typecnt < 1 || h->typecnt > 256 || h->charcnt < 1 ||
	    (h->isutcnt != 0 && h->isutcnt != h->typecnt) ||
	    (h->isstdcnt != 0 && h->isstdcnt != h->typecnt)) {
		xseterr(err, "TZif counts out of range");
		return -1;
	}
	return 0;
}

/* Bytes of the data block after a header, with times of tsize bytes. */
static uint64_t
tzif_body_len(const struct tzif_hdr *h, int tsize)
{
	return (uint64_t)h->timecnt * (uint64_t)(tsize + 1) +
	    (uint64_t)h->typecnt * 6 + h->charcnt +
	    (uint64_t)h->leapcnt * (uint64_t)(tsize + 4) + h->isstdcnt +
	    h->isutcnt;
}

/* Fills z from the data block at p (length checked by the caller). */
static int
tzif_body(struct tz *z, const struct tzif_hdr *h, const unsigned char *p,
    int tsize, char **err)
{
	const unsigned char *idx = p + (size_t)h->timecnt * (size_t)tsize;
	const unsigned char *tt = idx + h->timecnt;
	const unsigned char *ch = tt + (size_t)h->typecnt * 6;

	z->ntimes = h->timecnt;
	z->times = xcalloc(z->ntimes + 1, sizeof(*z->times));
	z->idx = xcalloc(z->ntimes + 1, 1);
	for (size_t i = 0; i < z->ntimes; i++) {
		z->times[i] =
		    tsize == 8 ? be64(p + i * 8) : (int32_t)be32(p + i * 4);
		z->idx[i] = idx[i];
		if (i > 0 && z->times[i] <= z->times[i - 1]) {
			xseterr(err, "TZif transition times out of order");
			return -1;
		}
		if (idx[i] >= h->typecnt) {
			xseterr(err, "TZif transition %zu names type %u of %u",
			    i, idx[i], h->typecnt);
			return -1;
		}
	}
	z->ntypes = h->typecnt;
	z->types = xcalloc(z->ntypes, sizeof(*z->types));
	for (size_t i = 0; i < z->ntypes; i++) {
		int32_t off = (int32_t)be32(tt + i * 6);

		if (off < -OFF_MAX || off > OFF_MAX || tt[i * 6 + 4] > 1 ||
		    tt[i * 6 + 5] >= h->charcnt) {
			xseterr(
			    err, "TZif local time type %zu out of range", i);
			return -1;
		}
		z->types[i].utoff = off;
		z->types[i].is_dst = tt[i * 6 + 4];
		z->types[i].abbr = tt[i * 6 + 5];
	}
	/* One NUL more, so the last abbreviation ends even if the file's
	 * does not. */
	z->nchars = h->charcnt;
	z->chars = xcalloc(z->nchars + 1, 1);
	memcpy(z->chars, ch, z->nchars);
	return 0;
}

struct tz *
tz_parse(const char *name, const void *data, size_t len, char **err)
{
	const unsigned char *p = data;
	struct tzif_hdr h;
	struct tz *z;
	uint64_t body;
	size_t off;

	if (err != NULL)
		*err = NULL;
	if (data == NULL)
		len = 0;
	if (tzif_header(p, len, &h, 0, err) < 0)
		return NULL;
	body = tzif_body_len(&h, 4);
	if (body > len - TZIF_HDR) {
		xseterr(err, "truncated TZif data (version 1 body)");
		return NULL;
	}
	z = xcalloc(1, sizeof(*z));
	z->name = xstrdup(name ? name : "");
	if (h.version == 1) {
		if (tzif_body(z, &h, p + TZIF_HDR, 4, err) < 0)
			goto fail;
		return z;
	}
	/* Version 2 and later: skip the 32-bit data, read the 64-bit. */
	off = TZIF_HDR + (size_t)body;
	if (tzif_header(p + off, len - off, &h, 1, err) < 0)
		goto fail;
	body = tzif_body_len(&h, 8);
	if (body > len - off - TZIF_HDR) {
		xseterr(err, "truncated TZif data (version 2+ body)");
		goto fail;
	}
	if (tzif_body(z, &h, p + off + TZIF_HDR, 8, err) < 0)
		goto fail;
	off += TZIF_HDR + (size_t)body;
	/* The footer: "\n" TZ string "\n". */
	{
		const char *f = (const char *)p + off, *nl;
		size_t rest = len - off;
		char *rule;

		if (rest < 2 || f[0] != '\n' ||
		    (nl = memchr(f + 1, '\n', rest - 1)) == NULL) {
			xseterr(err, "truncated TZif data (no footer)");
			goto fail;
		}
		if (nl == f + 1)
			return z; /* empty: no rule */
		rule = xmalloc((size_t)(nl - f));
		memcpy(rule, f + 1, (size_t)(nl - f - 1));
		rule[nl - f - 1] = '\0';
		if (memchr(rule, '\0', (size_t)(nl - f - 1)) != NULL ||
		    parse_rule(rule, &z->rule) < 0) {
			xseterr(err, "TZif footer '%s' is no TZ string", rule);
			free(rule);
			goto fail;
		}
		free(rule);
		z->has_rule = 1;
	}
	return z;

fail:
	tz_free(z);
	return NULL;
}

struct tz *
tz_from_posix(const char *name, const char *rule, char **err)
{
	struct tz *z;

	if (err != NULL)
		*err = NULL;
	z = xcalloc(1, sizeof(*z));
	if (rule == NULL || parse_rule(rule, &z->rule) < 0) {
		xseterr(err, "'%s' is no TZ string", rule ? rule : "");
		free(z);
		return NULL;
	}
	z->name = xstrdup(name ? name : rule);
	z->has_rule = 1;
	/* Type 0 is never used with a rule and no transitions, but exists. */
	z->ntypes = 1;
	z->types = xcalloc(1, sizeof(*z->types));
	z->types[0].utoff = z->rule.std_off;
	z->chars = xstrdup(z->rule.std_abbr);
	z->nchars = strlen(z->chars) + 1;
	return z;
}

struct tz *
tz_utc(void)
{
	return tz_from_posix("UTC", "UTC0", NULL);
}

void
tz_free(struct tz *z)
{
	if (z == NULL)
		return;
	free(z->name);
	free(z->times);
	free(z->idx);
	free(z->types);
	free(z->chars);
	free(z);
}

const char *
tz_name(const struct tz *z)
{
	return z->name;
}
