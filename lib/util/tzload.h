/*
 * tzload: time zones by IANA name ("Europe/Kyiv"), read from the system's
 * zoneinfo directory and kept in a small cache that any thread may use.
 *
 * The directory is $TZDIR when that is set to an absolute path (as for the
 * C library), else /usr/share/zoneinfo.  A name is letters, digits and
 * "/_-+" in non-empty parts: no "..", no absolute path, no ':' prefix.
 * "UTC" and "Etc/UTC" always exist, with or without zone files.  A cached
 * zone is read again when its file changes (a tzdata upgrade under a
 * running daemon).  At most TZLOAD_CACHE zones that nobody holds are kept;
 * the least recently used goes first.
 */
#ifndef LOOM_TZLOAD_H
#define LOOM_TZLOAD_H

struct tz;

#define TZLOAD_CACHE 64

/*
 * The zone called name, held for the caller until tzload_release().
 * Returns NULL with errno ENOENT (not a zone name, no such zone, or a file
 * that is no TZif data) or another errno of reading the zone's file.
 */
const struct tz *tzload_get(const char *name);
void tzload_release(const struct tz *z); /* NULL-safe */

/* 1 when name is a zone tzload_get() finds, else 0. */
int tzload_known(const char *name);

/* Whether name has the shape of a zone name (no file is read). */
int tzload_name_ok(const char *name);

/* Frees every cached zone nobody holds. */
void tzload_flush(void);

#endif
