/*
 * buf: a growable byte buffer that is always NUL-terminated.
 *
 *   struct buf b = BUF_INIT;  buf_puts(&b, "x");  buf_printf(&b, "%d", 1);
 *   use b.p / b.len;  buf_free(&b)  (or take ownership of b.p).
 */
#ifndef LOOM_BUF_H
#define LOOM_BUF_H

#include <stddef.h>

struct buf {
	char *p;
	size_t len;
	size_t cap;
};

#define BUF_INIT \
	{ \
		NULL, 0, 0 \
	}

void buf_put(struct buf *b, const void *data, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void buf_reset(struct buf *b); /* empties, keeps the memory */
void buf_free(struct buf *b);

/*
 * Appends s as one element of a PostgreSQL array literal ("{a,b}"):
 * quoted with backslash escapes, or NULL when s is NULL.  Adds the comma
 * when the literal already has an element (the caller writes "{" and "}").
 */
void buf_pgarray_elem(struct buf *b, const char *s);

/*
 * Appends s (n bytes) as a JSON string: quoted, with \" \\ and the
 * control characters escaped; other bytes (UTF-8) as they are.
 */
void buf_json_str(struct buf *b, const char *s, size_t n);

#endif
