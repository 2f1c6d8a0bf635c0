/*
 * cron: cron expressions and their next fire time in a time zone.  Pure
 * code: the zone is a parsed struct tz (tz.h) the caller hands in, so
 * cron_next is safe to call from several threads at once.
 *
 * Syntax: 5 fields "MIN HOUR DOM MON DOW", or 6 with a leading seconds field;
 * each field takes "*", numbers, ranges "a-b", steps "*\/n" and "a-b/n",
 * lists "a,b,c"; MON takes JAN..DEC and DOW SUN..SAT (0 and 7 are Sunday),
 * case-insensitive.  Aliases: @yearly (@annually), @monthly, @weekly,
 * @daily (@midnight), @hourly.  As in Vixie cron, when both DOM and DOW are
 * restricted a day matches if either matches.
 *
 * Daylight saving.  Fixed-hour expressions (the hour field does not cover
 * all 24 hours): a wall time that does not exist fires once, at the first
 * instant after the gap; a wall time that occurs twice fires only at its
 * first occurrence.  Frequent expressions (the hour field covers every
 * hour, like "*\/15 * * * *") fire at every real instant whose local time
 * matches: on both passes of a repeated hour, and not at all for times
 * inside a gap (as Vixie cron does for wildcard jobs).
 */
#ifndef LOOM_CRON_H
#define LOOM_CRON_H

#include <stdint.h>

struct cron;
struct tz;

/* Returns NULL with *err a malloc'd message naming the bad field. */
struct cron *cron_parse(const char *expr, char **err);
void cron_free(struct cron *c);

/*
 * The first fire strictly after `after` (Unix seconds) in zone z (borrowed;
 * NULL means UTC).  Returns 0 and sets *next, or -1 with errno ERANGE when
 * nothing fires in the next 8 years or `after` is outside years 1-9990.
 */
int cron_next(
    const struct cron *c, const struct tz *z, int64_t after, int64_t *next);

/*
 * Whether c matches no time at all, in any year and any zone: no date
 * agrees with its day-of-month, month and day-of-week fields, as in
 * "0 0 31 2 *" or "0 0 30 2 *".  Pure; a few thousand steps at most.
 */
int cron_never_fires(const struct cron *c);

#endif
