/* diag: see diag.h. */
#include "diag.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

void
diags_init(struct diags *d)
{
	memset(d, 0, sizeof(*d));
}

void
diags_clear(struct diags *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->v[i].file);
		free(d->v[i].msg);
	}
	free(d->v);
	d->v = NULL;
	d->n = d->cap = 0;
}

void
diags_add(
    struct diags *d, const char *file, int line, int col, const char *fmt, ...)
{
	va_list ap;
	char *msg;
	size_t max = d->max ? d->max : 1000;

	if (d->n >= max)
		return;
	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 8;
		d->v = xreallocarray(d->v, d->cap, sizeof(*d->v));
	}
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = xstrdup("(out of memory)");
	va_end(ap);
	d->v[d->n].file = xstrdup(file ? file : "-");
	d->v[d->n].line = line;
	d->v[d->n].col = col;
	d->v[d->n].msg = msg;
	d->n++;
}

void
diags_sort(struct diags *d)
{
	/* Insertion sort: stable, and the lists are short. */
	for (size_t i = 1; i < d->n; i++) {
		struct diag t = d->v[i];
		size_t j = i;

		while (j > 0 &&
		    (d->v[j - 1].line > t.line ||
			(d->v[j - 1].line == t.line &&
			    d->v[j - 1].col > t.col))) {
			d->v[j] = d->v[j - 1];
			j--;
		}
		d->v[j] = t;
	}
}

void
diags_print(const struct diags *d, FILE *fp)
{
	for (size_t i = 0; i < d->n; i++) {
		const struct diag *g = &d->v[i];

		if (g->line > 0)
			fprintf(fp, "%s:%d:%d: %s\n", g->file, g->line, g->col,
			    g->msg);
		else
			fprintf(fp, "%s: %s\n", g->file, g->msg);
	}
}

jv
diags_to_jv(const struct diags *d)
{
	jv a = jv_array();

	for (size_t i = 0; i < d->n; i++) {
		const struct diag *g = &d->v[i];
		jv o = jv_object();

		o = jv_object_set(o, jv_string("file"), jv_string(g->file));
		o = jv_object_set(o, jv_string("line"), jv_number(g->line));
		o = jv_object_set(o, jv_string("column"), jv_number(g->col));
		o = jv_object_set(o, jv_string("message"), jv_string(g->msg));
		a = jv_array_append(a, o);
	}
	return a;
}
