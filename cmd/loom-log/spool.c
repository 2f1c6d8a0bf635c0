/*
 * spool: the file records wait in while the store is slow or away.
 *
 * One envelope line per record (the socket's own format, loom-ipc(7)),
 * appended at the end and read from an offset that PATH.off keeps across
 * restarts, so a loom-log that stops with records spooled writes them
 * into the store when it starts again, each once.  The file is emptied
 * when everything in it was taken.  It holds at most logd.spool_max
 * bytes: what does not fit is dropped and counted by the caller.  Lines
 * are written with write(2), not fsync'd: the spool outlives a store
 * outage and a loom-log restart, not a crash of the machine.
 */
#include "logd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/xalloc.h"
#include "util/log.h"

#define TAKE_CHUNK (1024 * 1024)

struct ld_spool {
	char *path, *offpath;
	int fd;
	int64_t max;
	int64_t size; /* bytes in the file */
	int64_t off;  /* read so far */
	int64_t next; /* after what the last take returned */
	struct buf rd;
};

static void
save_off(struct ld_spool *sp)
{
	char num[32];
	int fd, n = snprintf(num, sizeof(num), "%lld\n", (long long)sp->off);

	if ((fd = open(sp->offpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		 0600)) < 0) {
		log_warn("%s", sp->offpath);
		return;
	}
	if (write(fd, num, (size_t)n) != n)
		log_warn("%s", sp->offpath);
	close(fd);
}

static void
load_off(struct ld_spool *sp)
{
	char num[32] = "";
	int fd = open(sp->offpath, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	sp->off = 0;
	if (fd < 0)
		return;
	n = read(fd, num, sizeof(num) - 1);
	close(fd);
	if (n > 0) {
		num[n] = '\0';
		sp->off = strtoll(num, NULL, 10);
	}
	if (sp->off < 0 || sp->off > sp->size)
		sp->off = 0;
}

struct ld_spool *
ld_spool_open(const char *path, int64_t max, char **err)
{
	struct ld_spool *sp = xcalloc(1, sizeof(*sp));
	struct stat st;

	sp->path = xstrdup(path);
	sp->offpath = xasprintf("%s.off", path);
	sp->max = max;
	sp->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (sp->fd < 0 || fstat(sp->fd, &st) < 0) {
		*err = xasprintf("%s: %s", path, strerror(errno));
		ld_spool_close(sp);
		return NULL;
	}
	sp->size = st.st_size;
	load_off(sp);
	sp->next = sp->off;
	return sp;
}

void
ld_spool_close(struct ld_spool *sp)
{
	if (sp == NULL)
		return;
	if (sp->fd >= 0)
		close(sp->fd);
	buf_free(&sp->rd);
	free(sp->path);
	free(sp->offpath);
	free(sp);
}

int
ld_spool_empty(const struct ld_spool *sp)
{
	return sp->off >= sp->size;
}

int64_t
ld_spool_bytes(const struct ld_spool *sp)
{
	return sp->size - sp->off;
}

size_t
ld_spool_put(struct ld_spool *sp, const struct ld_rec *r, size_t n)
{
	struct buf b = BUF_INIT;
	size_t k;

	for (k = 0; k < n; k++) {
		size_t before = b.len;

		ld_rec_line(&b, &r[k]);
		if (sp->size + (int64_t)b.len > sp->max) {
			b.len = before;
			break;
		}
	}
	if (b.len > 0) {
		size_t w = 0;

		while (w < b.len) {
			ssize_t x = write(sp->fd, b.p + w, b.len - w);

			if (x < 0 && errno == EINTR)
				continue;
			if (x <= 0) {
				log_warn("%s", sp->path);
				break;
			}
			w += (size_t)x;
		}
		sp->size += (int64_t)w;
		if (w < b.len)
			k = 0; /* a short write: count the batch as lost */
	}
	buf_free(&b);
	return k;
}

long
ld_spool_take(struct ld_spool *sp, struct ld_rec *r, size_t max)
{
	size_t want = TAKE_CHUNK, start = 0;
	long k = 0;
	ssize_t n;

	sp->next = sp->off;
	for (;;) { /* read enough to hold at least one whole line */
		buf_reset(&sp->rd);
		if (sp->rd.cap < want + 1) {
			sp->rd.p = xreallocarray(sp->rd.p, want + 1, 1);
			sp->rd.cap = want + 1;
		}
		n = pread(sp->fd, sp->rd.p, want, sp->off);
		if (n < 0) {
			log_warn("%s", sp->path);
			return -1;
		}
		sp->rd.len = (size_t)n;
		if (memchr(sp->rd.p, '\n', sp->rd.len) != NULL ||
		    (int64_t)n < (int64_t)want)
			break;
		want *= 2;
	}
	while ((size_t)k < max) {
		char *nl = memchr(sp->rd.p + start, '\n', sp->rd.len - start);
		struct ld_msg m;

		if (nl == NULL)
			break;
		ld_parse(
		    sp->rd.p + start, (size_t)(nl - sp->rd.p) - start, 0, &m);
		if (m.kind == LD_LOG) {
			r[k++] = m.rec;
			memset(&m.rec, 0, sizeof(m.rec));
		} else
			log_warnx("%s: skipped a bad line at %lld: %s",
			    sp->path, (long long)(sp->off + (int64_t)start),
			    m.err);
		ld_msg_clear(&m);
		start = (size_t)(nl - sp->rd.p) + 1;
	}
	sp->next = sp->off + (int64_t)start;
	return k;
}

void
ld_spool_done(struct ld_spool *sp)
{
	sp->off = sp->next;
	if (sp->off >= sp->size) {
		if (ftruncate(sp->fd, 0) < 0)
			log_warn("%s", sp->path);
		sp->off = sp->next = sp->size = 0;
	}
	save_off(sp);
}
