/*
 * table: how the online commands print what loom-api returns.
 *
 * Text output is a table of rows.  Aligned (a header line, columns padded
 * with two spaces between them) when stdout is a terminal or `-o text` was
 * given; otherwise plain tab-separated rows without a header, so that
 * `loom workflow list | cut -f1` works.  A cell that is NULL or empty prints
 * as "-"; tabs and newlines inside a cell print as spaces.
 *
 * JSON output is one compact JSON value per line: an object as one line,
 * a list as one line per element (JSON lines), so `| jq` works on both.
 */
#ifndef LOOM_TABLE_H
#define LOOM_TABLE_H

#include <stddef.h>
#include <stdio.h>

#include <jv.h>

struct table;

/* A table with ncols columns whose headers follow as const char *. */
struct table *table_new(size_t ncols, ...);
void table_free(struct table *t); /* NULL-safe */

/* Appends a row of ncols cells (const char *, copied; NULL allowed). */
void table_add(struct table *t, ...);
size_t table_rows(const struct table *t);

void table_print(const struct table *t, FILE *fp, int aligned);

/* Whether text output is aligned: stdout is a tty, or text was asked for. */
int table_aligned(int text_asked);

/* Prints v as one line of compact JSON.  Consumes v. */
void json_print(FILE *fp, jv v);
/* Prints every element of array v as its own line.  Consumes v. */
void json_print_lines(FILE *fp, jv v);

#endif
