/*
 * diag: a list of user-facing diagnostics, each tied to a place in a file.
 *
 * Validation collects every problem of a file into one list rather than
 * stopping at the first, so a user fixes them all in one go.  Printed as
 * "FILE:LINE:COL: message" (the format editors and compilers use) or as a
 * JSON array of {"file","line","column","message"}.  Lines and columns are
 * 1-based; 0 means "unknown".
 */
#ifndef LOOM_DIAG_H
#define LOOM_DIAG_H

#include <stddef.h>
#include <stdio.h>

#include <jv.h>

struct diag {
	char *file;
	int line;
	int col;
	char *msg;
};

struct diags {
	struct diag *v;
	size_t n;
	size_t cap;
	size_t max; /* stop collecting after this many (0: 1000) */
};

void diags_init(struct diags *d);
void diags_clear(struct diags *d); /* frees every entry; d stays usable */
void diags_add(struct diags *d, const char *file, int line, int col,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Stable sort by line, then column, keeping insertion order for ties. */
void diags_sort(struct diags *d);
void diags_print(const struct diags *d, FILE *fp);
/* Returns a JSON array; the caller owns it. */
jv diags_to_jv(const struct diags *d);

#endif
