/*
 * xalloc: allocation helpers that die on out-of-memory.
 *
 * These are the only functions in libloom allowed to end the process: when
 * malloc fails there is nothing useful a daemon can do but log and exit.
 */
#ifndef LOOM_XALLOC_H
#define LOOM_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xreallocarray(void *p, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Returns a newly allocated formatted string; the caller frees it. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* *err = the formatted message (malloc'd), unless err is NULL. */
void xseterr(char **err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
