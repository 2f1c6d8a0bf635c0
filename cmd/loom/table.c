/*
 * table: see table.h.  Rows are kept until table_print() because column
 * widths depend on every row.  Widths count UTF-8 code points, not bytes,
 * so names with accents still line up (wide CJK characters do not; that is
 * an accepted limit).
 */
#include "table.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/xalloc.h"

struct table {
	size_t ncols;
	char **cells; /* rows * ncols, row 0 is the header */
	size_t nrows; /* including the header */
	size_t cap;
};

/* A cell as printed: "-" for nothing, control characters as spaces. */
static char *
cell_text(const char *s)
{
	char *out;

	if (s == NULL || *s == '\0')
		return xstrdup("-");
	out = xstrdup(s);
	for (char *p = out; *p; p++)
		if (*p == '\t' || *p == '\n' || *p == '\r')
			*p = ' ';
	return out;
}

static void
add_row(struct table *t, va_list ap)
{
	if (t->nrows == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		t->cells =
		    xreallocarray(t->cells, t->cap * t->ncols, sizeof(char *));
	}
	for (size_t i = 0; i < t->ncols; i++)
		t->cells[t->nrows * t->ncols + i] =
		    cell_text(va_arg(ap, const char *));
	t->nrows++;
}

struct table *
table_new(size_t ncols, ...)
{
	struct table *t = xcalloc(1, sizeof(*t));
	va_list ap;

	t->ncols = ncols;
	va_start(ap, ncols);
	add_row(t, ap);
	va_end(ap);
	return t;
}

void
table_free(struct table *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}

void
table_add(struct table *t, ...)
{
	va_list ap;

	va_start(ap, t);
	add_row(t, ap);
	va_end(ap);
}

size_t
table_rows(const struct table *t)
{
	return t->nrows - 1;
}

static size_t
text_width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			w++;
	return w;
}

void
table_print(const struct table *t, FILE *fp, int aligned)
{
	size_t *width = xcalloc(t->ncols, sizeof(size_t));

	for (size_t r = 0; r < t->nrows; r++)
		for (size_t c = 0; c < t->ncols; c++) {
			size_t w = text_width(t->cells[r * t->ncols + c]);

			if (w > width[c])
				width[c] = w;
		}
	for (size_t r = aligned ? 0 : 1; r < t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];

			fputs(s, fp);
			if (c + 1 == t->ncols)
				break;
			if (!aligned) {
				fputc('\t', fp);
				continue;
			}
			for (size_t w = text_width(s); w < width[c] + 2; w++)
				fputc(' ', fp);
		}
		fputc('\n', fp);
	}
	free(width);
}

int
table_aligned(int text_asked)
{
	return text_asked || isatty(STDOUT_FILENO);
}

void
json_print(FILE *fp, jv v)
{
	jv s = jv_dump_string(v, 0);

	fprintf(fp, "%s\n", jv_string_value(s));
	jv_free(s);
}

void
json_print_lines(FILE *fp, jv v)
{
	if (jv_get_kind(v) != JV_KIND_ARRAY) {
		json_print(fp, v);
		return;
	}
	jv_array_foreach(v, i, e) json_print(fp, e);
	jv_free(v);
}
