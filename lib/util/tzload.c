/*
 * tzload: see tzload.h.
 *
 * The cache is a list of entries under one mutex: name, parsed zone, the
 * file's identity (device, inode, size, mtime) when it was read, how many
 * holders it has and when it was last handed out.  A holder keeps its zone
 * alive: an entry that goes stale (file changed) or is evicted while held
 * leaves the lookup list and is freed by its last tzload_release().  The
 * file is read outside the lock, so a slow disk holds up nobody else.
 */
#include "tzload.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/tz.h"
#include "core/xalloc.h"

#define ZONEINFO "/usr/share/zoneinfo"
#define NAME_MAX_LEN 255
#define FILE_MAX (256 * 1024) /* real TZif files are a few KiB */

struct ident {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

struct entry {
	struct entry *next;
	char *name;
	struct tz *tz;
	struct ident id;
	unsigned refs;
	uint64_t used; /* the cache's clock when last handed out */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct entry *entries; /* lookup list */
static struct entry *orphans; /* held, but no longer listed */
static uint64_t tick;
static struct tz *utc; /* made on first use, kept for good */

int
tzload_name_ok(const char *name)
{
	size_t part = 0;

	if (name == NULL || *name == '\0' || strlen(name) > NAME_MAX_LEN)
		return 0;
	for (const char *p = name; *p; p++) {
		if (*p == '/') {
			if (part == 0)
				return 0; /* leading '/' or an empty part */
			part = 0;
			continue;
		}
		/* IANA names use letters, digits, '_', '-' and '+'. */
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			(*p >= '0' && *p <= '9') || strchr("_-+", *p) != NULL))
			return 0;
		part++;
	}
	return part > 0;
}

static int
is_utc(const char *name)
{
	return strcmp(name, "UTC") == 0 || strcmp(name, "Etc/UTC") == 0;
}

static char *
zone_path(const char *name)
{
	const char *dir = getenv("TZDIR");

	if (dir == NULL || dir[0] != '/')
		dir = ZONEINFO;
	return xasprintf("%s/%s", dir, name);
}

static int
same_ident(const struct ident *a, const struct ident *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	    a->mtime.tv_sec == b->mtime.tv_sec &&
	    a->mtime.tv_nsec == b->mtime.tv_nsec;
}

static void
ident_of(const struct stat *st, struct ident *id)
{
	id->dev = st->st_dev;
	id->ino = st->st_ino;
	id->size = st->st_size;
	id->mtime = st->st_mtim;
}

/* Reads and parses the zone file; NULL with errno set. */
static struct tz *
read_zone(const char *name, const char *path, struct ident *id)
{
	struct stat st;
	unsigned char *buf = NULL;
	struct tz *z = NULL;
	size_t len = 0;
	char *err = NULL;
	int fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return NULL;
	if (fstat(fd, &st) < 0)
		goto fail;
	if (!S_ISREG(st.st_mode) || st.st_size > FILE_MAX) {
		errno = ENOENT; /* a directory, a device: no zone */
		goto fail;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	for (;;) {
		ssize_t r = read(fd, buf + len, (size_t)st.st_size + 1 - len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto fail;
		if (r == 0 || (len += (size_t)r) > (size_t)st.st_size)
			break;
	}
	if ((z = tz_parse(name, buf, len, &err)) == NULL) {
		free(err);
		errno = ENOENT; /* zone.tab, iso3166.tab: no zone */
		goto fail;
	}
	ident_of(&st, id);
fail:
	saved = errno;
	free(buf);
	close(fd);
	errno = saved;
	return z;
}

static void
entry_free(struct entry *e)
{
	free(e->name);
	tz_free(e->tz);
	free(e);
}

/* Moves e off the lookup list (locked): freed now or by its last holder. */
static void
unlist(struct entry **pp)
{
	struct entry *e = *pp;

	*pp = e->next;
	if (e->refs == 0) {
		entry_free(e);
		return;
	}
	e->next = orphans;
	orphans = e;
}

/* Keeps at most TZLOAD_CACHE unheld entries (locked). */
static void
trim(void)
{
	for (;;) {
		struct entry **pp, **victim = NULL;
		size_t idle = 0;

		for (pp = &entries; *pp != NULL; pp = &(*pp)->next)
			if ((*pp)->refs == 0) {
				idle++;
				if (victim == NULL ||
				    (*pp)->used < (*victim)->used)
					victim = pp;
			}
		if (idle <= TZLOAD_CACHE)
			return;
		unlist(victim);
	}
}

const struct tz *
tzload_get(const char *name)
{
	struct entry **pp, *e;
	struct ident id;
	struct stat st;
	struct tz *z;
	char *path;

	if (!tzload_name_ok(name)) {
		errno = ENOENT;
		return NULL;
	}
	if (is_utc(name)) {
		pthread_mutex_lock(&mu);
		if (utc == NULL)
			utc = tz_utc();
		z = utc;
		pthread_mutex_unlock(&mu);
		return z;
	}
	pthread_mutex_lock(&mu);
	path = zone_path(name);
	pthread_mutex_unlock(&mu);
	if (stat(path, &st) < 0) {
		free(path);
		errno = ENOENT;
		return NULL;
	}
	ident_of(&st, &id);
	pthread_mutex_lock(&mu);
	for (pp = &entries; (e = *pp) != NULL; pp = &e->next) {
		if (strcmp(e->name, name) != 0)
			continue;
		if (!same_ident(&e->id, &id)) {
			unlist(pp); /* the file changed: read it again */
			break;
		}
		e->refs++;
		e->used = ++tick;
		pthread_mutex_unlock(&mu);
		free(path);
		return e->tz;
	}
	pthread_mutex_unlock(&mu);

	if ((z = read_zone(name, path, &id)) == NULL) {
		int saved = errno;

		free(path);
		errno = saved;
		return NULL;
	}
	free(path);
	e = xcalloc(1, sizeof(*e));
	e->name = xstrdup(name);
	e->tz = z;
	e->id = id;
	e->refs = 1;
	pthread_mutex_lock(&mu);
	e->used = ++tick;
	/* Another thread may have read the same zone meanwhile: both stay
	 * valid, the newer is found first. */
	e->next = entries;
	entries = e;
	trim();
	pthread_mutex_unlock(&mu);
	return z;
}

void
tzload_release(const struct tz *z)
{
	struct entry **pp, *e;

	if (z == NULL)
		return;
	pthread_mutex_lock(&mu);
	if (z == utc) {
		pthread_mutex_unlock(&mu);
		return;
	}
	for (pp = &entries; (e = *pp) != NULL; pp = &e->next)
		if (e->tz == z) {
			e->refs--;
			trim();
			pthread_mutex_unlock(&mu);
			return;
		}
	for (pp = &orphans; (e = *pp) != NULL; pp = &e->next)
		if (e->tz == z) {
			if (--e->refs == 0) {
				*pp = e->next;
				entry_free(e);
			}
			break;
		}
	pthread_mutex_unlock(&mu);
}

int
tzload_known(const char *name)
{
	const struct tz *z = tzload_get(name);

	tzload_release(z);
	return z != NULL;
}

void
tzload_flush(void)
{
	struct entry **pp;

	pthread_mutex_lock(&mu);
	for (pp = &entries; *pp != NULL;)
		if ((*pp)->refs == 0)
			unlist(pp);
		else
			pp = &(*pp)->next;
	pthread_mutex_unlock(&mu);
}
