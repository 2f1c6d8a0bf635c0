/*
 * calendar: civil dates (proleptic Gregorian) and days since 1970-01-01,
 * after Howard Hinnant's days_from_civil/civil_from_days.  Exact for any
 * year an int64_t day count can hold; no struct tm, no time_t, no libc.
 * Used by cron, the time zone reader and loom-api's time arguments.
 */
#ifndef LOOM_CALENDAR_H
#define LOOM_CALENDAR_H

#include <stdint.h>

#define CAL_DAY 86400

/* Days since 1970-01-01 of y-m-d (m 1-12, d 1-31; not range-checked). */
int64_t cal_days_from_civil(int64_t y, int m, int d);
/* The civil date of a day count. */
void cal_civil_from_days(int64_t days, int64_t *y, int *m, int *d);
int cal_is_leap(int64_t y);
int cal_days_in_month(int64_t y, int m);
/* Day of the week of a day count, 0 = Sunday. */
int cal_weekday(int64_t days);
/* a / b rounded towards minus infinity (b > 0). */
int64_t cal_floor_div(int64_t a, int64_t b);

#endif
