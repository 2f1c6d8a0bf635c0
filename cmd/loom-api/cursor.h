/*
 * cursor: page cursors and time arguments of loom-api's lists.
 *
 * Lists of executions are ordered newest first by (created_at, id) and
 * paged by keyset: a cursor names the last row a page showed, and the
 * next page is the rows strictly after it in that order.  Rows inserted
 * meanwhile are newer, so they never shift later pages: nothing is shown
 * twice and nothing is skipped, unlike OFFSET paging.
 *
 * A cursor is opaque to clients: base64url without padding of the text
 * "v1.<microseconds since the epoch>.<id>".  The decoder is strict (one
 * spelling per cursor, bounded length, printable ids) because its input
 * comes straight from the query string.
 *
 * Times travel to PostgreSQL as text that cursor_ts_format() writes from
 * microseconds ("2026-11-26 04:05:06.123456+00"), so a cursor survives
 * the round trip exactly, whatever the server's DateStyle.  Everything
 * here is pure: no I/O, no allocation, safe on any thread.
 */
#ifndef LOOM_CURSOR_H
#define LOOM_CURSOR_H

#include <stddef.h>
#include <stdint.h>

#define CURSOR_ID_MAX 64 /* bytes of the id part */
#define CURSOR_MAX 128	 /* encoded length, NUL not counted */
#define CURSOR_TS_LEN 40 /* room for cursor_ts_format() */

/* Years 1 to 9999: what PostgreSQL and ISO 8601 both spell plainly. */
#define CURSOR_US_MIN (-62135596800LL * 1000000)
#define CURSOR_US_MAX (253402300799LL * 1000000 + 999999)

struct page_key {
	int64_t us;		    /* created_at, microseconds after 1970 */
	char id[CURSOR_ID_MAX + 1]; /* printable ASCII, no spaces */
};

/*
 * Sets k from us and id.  Returns 0, or -1 when us is out of range or id
 * is empty, too long or not printable ASCII without spaces.
 */
int page_key_set(struct page_key *k, int64_t us, const char *id);

/* Writes k's cursor into buf (len >= CURSOR_MAX + 1).  0, or -1. */
int cursor_encode(const struct page_key *k, char *buf, size_t len);

/* Reads a cursor written by cursor_encode().  0, or -1 when s is not one. */
int cursor_decode(const char *s, struct page_key *k);

/* us as "YYYY-MM-DD HH:MM:SS.ffffff+00" for PostgreSQL; buf >= 40. */
void cursor_ts_format(int64_t us, char *buf, size_t len);
/*
 * ms as the API writes times, "2026-11-26T04:05:06.123Z" (buf >= 25), as
 * SQL_ISO() of lib/util/jsonutil.h does; no libc time calls, so no lock.
 */
void cursor_iso_ms(int64_t ms, char *buf, size_t len);

/*
 * A time argument (?since=, ?until=): ISO 8601 "2026-11-26",
 * "2026-11-26T04:05", "2026-11-26T04:05:06.123Z", "...+02:00" (no zone
 * means UTC; a space may stand for the T), or a duration ("90m", "2d",
 * lib/core/duration.h) meaning that long before now_us.  Returns 0 with *us,
 * or -1 with *why (static) saying what was expected.
 */
int cursor_time_parse(
    const char *s, int64_t now_us, int64_t *us, const char **why);

#endif
