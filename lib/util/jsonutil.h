/*
 * jsonutil: small checks and conversions around jv for code that speaks
 * JSON to the outside world (loom-api) and reads it back from PostgreSQL.
 *
 * Untrusted bodies are checked before any parser sees them: utf8_check()
 * refuses malformed UTF-8 (libjq would silently replace it) and NUL bytes
 * (PostgreSQL text cannot hold them), and json_depth_check() refuses deep
 * nesting cheaply, without building anything.
 *
 * Times leave PostgreSQL already formatted by SQL_ISO(col) — ISO 8601 UTC
 * with milliseconds — so no C code parses a server's DateStyle.  The pg_jv_*
 * helpers turn one field of a result into a jv (SQL NULL -> jv_null()); the
 * result stays owned by the caller.
 */
#ifndef LOOM_JSONUTIL_H
#define LOOM_JSONUTIL_H

#include <stddef.h>
#include <stdint.h>

#include <jv.h>
#include <libpq-fe.h>

/* SQL expression giving a timestamptz column as "2026-11-26T04:05:06.123Z". */
#define SQL_ISO(col) \
	"to_char(" col " AT TIME ZONE 'UTC', " \
	"'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
/* The same to the second, "2026-11-26T04:05:06Z": a schedule's nominal
 * fire time (executions.scheduled_at), which cron puts on a second. */
#define SQL_ISO_SECONDS(col) \
	"to_char(" col " AT TIME ZONE 'UTC', " \
	"'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/*
 * 0 when buf[0..len) is well-formed UTF-8 without NUL bytes (no overlong
 * forms, no surrogates, nothing above U+10FFFF); else -1 and, when bad is
 * not NULL, *bad is the offset of the first offending byte.
 */
int utf8_check(const char *buf, size_t len, size_t *bad);

/*
 * 0 when JSON text nests arrays/objects at most max deep; else -1 and,
 * when at is not NULL, *at is the offset of the bracket that went too
 * deep.  Brackets inside strings do not count.  Malformed text is not
 * judged here (the parser does that).
 */
int json_depth_check(const char *buf, size_t len, int max, size_t *at);

/*
 * Whether JSON text (as jv_dump_string writes it) holds a string with a
 * NUL character ("\u0000"), which PostgreSQL's jsonb cannot store.
 */
int json_has_nul(const char *json);

/* Formats ms since the epoch as ISO 8601 UTC with milliseconds; buf >= 25. */
void iso_time_ms(int64_t ms, char *buf, size_t len);

/* o with key set to v (both consumed): jv_object_set with a C key. */
jv jv_put(jv o, const char *key, jv v);

jv pg_jv_text(const PGresult *r, int row, int col); /* string or null */
jv pg_jv_num(const PGresult *r, int row, int col);  /* number or null */
jv pg_jv_bool(const PGresult *r, int row, int col); /* true/false or null */
/* Parses a json/jsonb field; null when SQL NULL or (logged by nobody) bad. */
jv pg_jv_json(const PGresult *r, int row, int col);

#endif
