/*
 * tz: time zones from TZif data (RFC 8536, versions 1 to 4), without the C
 * library's time zone code.  Pure: the zone's bytes are handed in (see
 * util/tzload.h for reading them from /usr/share/zoneinfo), a parsed zone
 * is immutable, and every function here may be called from any number of
 * threads at once on the same zone.
 *
 * Instants are Unix seconds (int64_t, no leap seconds).  "Wall" times are
 * local civil times counted the same way, as if they were UTC: the wall
 * time 2026-03-29 03:30 is cal_days_from_civil(2026, 3, 29) * 86400 +
 * 3.5 * 3600 whatever the zone.  A zone's rules come from its transitions
 * and, after the last one, from the POSIX TZ string in the file's footer
 * ("CET-1CEST,M3.5.0,M10.5.0/3"), so "slim" files (few transitions, the
 * rule for the rest) and "fat" ones (every transition to 2037) agree.
 */
#ifndef LOOM_TZ_H
#define LOOM_TZ_H

#include <stddef.h>
#include <stdint.h>

struct tz;

/* A local time as a zone shows it. */
struct tz_local {
	int64_t year;
	int mon, mday;	    /* 1-12, 1-31 */
	int hour, min, sec; /* 0-23, 0-59, 0-59 */
	int wday, yday;	    /* 0 = Sunday; 0 = January 1st */
	int32_t utoff;	    /* seconds east of UTC */
	int is_dst;
	const char *abbr; /* "CEST", "+0530"; borrowed from the zone */
};

/*
 * Parses TZif data (len bytes, borrowed) into a zone called name.  Returns
 * the zone, or NULL with *err a malloc'd message when the data is not a
 * well-formed TZif file (bad magic, truncated, counts or indexes out of
 * range, times out of order, a footer that is no TZ string).
 */
struct tz *tz_parse(const char *name, const void *data, size_t len, char **err);

/*
 * A zone from a POSIX TZ string alone ("EST5EDT,M3.2.0,M11.1.0",
 * "<+0530>-5:30"), with the extensions TZif version 3 allows (rule times
 * from -167 to 167 hours).  NULL with *err set when it is not one.
 */
struct tz *tz_from_posix(const char *name, const char *rule, char **err);

/* Coordinated Universal Time, named "UTC". */
struct tz *tz_utc(void);

void tz_free(struct tz *z); /* NULL-safe */
const char *tz_name(const struct tz *z);

/* The offset east of UTC in force at instant t; *is_dst when not NULL. */
int32_t tz_offset(const struct tz *z, int64_t t, int *is_dst);

/* Instant t as the zone shows it. */
void tz_to_local(const struct tz *z, int64_t t, struct tz_local *out);

/*
 * The instants whose wall time is `wall`.  Returns how many there are:
 *   1  the usual case: *first == *second is that instant;
 *   2  an overlap (clocks went back): *first the earlier, *second the later;
 *   0  a gap (clocks went forward past it): *first == *second is the
 *      instant the gap ends, the first one after the missing wall times.
 */
int tz_from_local(
    const struct tz *z, int64_t wall, int64_t *first, int64_t *second);

/*
 * The first instant after t (and at most `until`) at which the offset
 * changes.  Returns 1 and sets *at, or 0 when the offset stays the same
 * through `until`.
 */
int tz_next_change(const struct tz *z, int64_t t, int64_t until, int64_t *at);

#endif
