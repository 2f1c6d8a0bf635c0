/*
 * metrics: families of Prometheus figures kept as jv, and the text
 * exposition (see metrics.h).  The renderer sorts nothing: families come
 * out in the order they were first added, samples in the order added.
 */
#include "util/metrics.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const double metrics_bounds[METRICS_NBUCKETS] = { 0.005, 0.01, 0.025, 0.05, 0.1,
	0.25, 0.5, 1, 2.5, 5, 10, 60 };

void
metrics_hist_observe(struct metrics_hist *h, double seconds)
{
	if (seconds < 0)
		seconds = 0;
	for (int i = 0; i < METRICS_NBUCKETS; i++)
		if (seconds <= metrics_bounds[i]) {
			h->counts[i]++;
			break;
		}
	h->count++;
	h->sum += seconds;
}

void
metrics_sample(jv *fams, const char *name, const char *type, const char *help,
    const char *suffix, jv labels, double value)
{
	jv fam = jv_object_get(jv_copy(*fams), jv_string(name));

	if (jv_get_kind(fam) != JV_KIND_OBJECT) {
		jv_free(fam);
		fam = JV_OBJECT(jv_string("type"), jv_string(type),
		    jv_string("help"), jv_string(help), jv_string("samples"),
		    jv_array());
	}
	jv samples = jv_object_get(jv_copy(fam), jv_string("samples"));

	if (jv_get_kind(labels) != JV_KIND_OBJECT) {
		jv_free(labels);
		labels = jv_object();
	}
	samples = jv_array_append(
	    samples, JV_ARRAY(jv_string(suffix), labels, jv_number(value)));
	fam = jv_object_set(fam, jv_string("samples"), samples);
	*fams = jv_object_set(*fams, jv_string(name), fam);
}

void
metrics_add(jv *fams, const char *name, const char *type, const char *help,
    jv labels, double value)
{
	metrics_sample(fams, name, type, help, "", labels, value);
}

void
metrics_add_hist(jv *fams, const char *name, const char *help, jv labels,
    const struct metrics_hist *h)
{
	uint64_t cum = 0;
	char le[32];

	if (jv_get_kind(labels) != JV_KIND_OBJECT) {
		jv_free(labels);
		labels = jv_object();
	}
	for (int i = 0; i < METRICS_NBUCKETS; i++) {
		cum += h->counts[i];
		snprintf(le, sizeof(le), "%g", metrics_bounds[i]);
		metrics_sample(fams, name, "histogram", help, "_bucket",
		    jv_object_set(
			jv_copy(labels), jv_string("le"), jv_string(le)),
		    (double)cum);
	}
	metrics_sample(fams, name, "histogram", help, "_bucket",
	    jv_object_set(jv_copy(labels), jv_string("le"), jv_string("+Inf")),
	    (double)h->count);
	metrics_sample(
	    fams, name, "histogram", help, "_sum", jv_copy(labels), h->sum);
	metrics_sample(
	    fams, name, "histogram", help, "_count", labels, (double)h->count);
}

void
metrics_merge(jv *into, jv from, const char *extra_key, const char *extra_value)
{
	if (jv_get_kind(from) != JV_KIND_OBJECT) {
		jv_free(from);
		return;
	}
	jv_object_foreach(from, name, fam)
	{
		jv type = jv_object_get(jv_copy(fam), jv_string("type"));
		jv help = jv_object_get(jv_copy(fam), jv_string("help"));
		jv samples = jv_object_get(jv_copy(fam), jv_string("samples"));

		if (jv_get_kind(type) == JV_KIND_STRING &&
		    jv_get_kind(help) == JV_KIND_STRING &&
		    jv_get_kind(samples) == JV_KIND_ARRAY) {
			jv_array_foreach(samples, i, s)
			{
				jv suf = jv_array_get(jv_copy(s), 0);
				jv lab = jv_array_get(jv_copy(s), 1);
				jv val = jv_array_get(jv_copy(s), 2);

				if (jv_get_kind(suf) == JV_KIND_STRING &&
				    jv_get_kind(lab) == JV_KIND_OBJECT &&
				    jv_get_kind(val) == JV_KIND_NUMBER) {
					if (extra_key)
						lab = jv_object_set(lab,
						    jv_string(extra_key),
						    jv_string(extra_value));
					metrics_sample(into,
					    jv_string_value(name),
					    jv_string_value(type),
					    jv_string_value(help),
					    jv_string_value(suf), jv_copy(lab),
					    jv_number_value(val));
				}
				jv_free(suf);
				jv_free(lab);
				jv_free(val);
				jv_free(s);
			}
		}
		jv_free(type);
		jv_free(help);
		jv_free(samples);
		jv_free(name);
		jv_free(fam);
	}
	jv_free(from);
}

static void
put_escaped(struct buf *b, const char *s, int quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			buf_puts(b, "\\\\");
		else if (*s == '\n')
			buf_puts(b, "\\n");
		else if (*s == '"' && quote)
			buf_puts(b, "\\\"");
		else
			buf_putc(b, *s);
	}
}

static void
put_value(struct buf *b, double v)
{
	if (isnan(v))
		buf_puts(b, "NaN");
	else if (isinf(v))
		buf_puts(b, v > 0 ? "+Inf" : "-Inf");
	else if (v == floor(v) && fabs(v) < 9007199254740992.0)
		buf_printf(b, "%.0f", v);
	else
		buf_printf(b, "%.17g", v);
}

static void
render_sample(struct buf *b, const char *name, jv s)
{
	jv suf = jv_array_get(jv_copy(s), 0);
	jv lab = jv_array_get(jv_copy(s), 1);
	jv val = jv_array_get(s, 2);
	int first = 1;

	buf_puts(b, name);
	buf_puts(b, jv_string_value(suf));
	if (jv_object_length(jv_copy(lab)) > 0) {
		buf_putc(b, '{');
		jv_object_foreach(lab, k, v)
		{
			if (!first)
				buf_putc(b, ',');
			first = 0;
			buf_puts(b, jv_string_value(k));
			buf_puts(b, "=\"");
			if (jv_get_kind(v) == JV_KIND_STRING)
				put_escaped(b, jv_string_value(v), 1);
			buf_putc(b, '"');
			jv_free(k);
			jv_free(v);
		}
		buf_putc(b, '}');
	}
	buf_putc(b, ' ');
	put_value(b, jv_number_value(val));
	buf_putc(b, '\n');
	jv_free(suf);
	jv_free(lab);
	jv_free(val);
}

void
metrics_render(struct buf *b, jv fams)
{
	jv_object_foreach(fams, name, fam)
	{
		jv type = jv_object_get(jv_copy(fam), jv_string("type"));
		jv help = jv_object_get(jv_copy(fam), jv_string("help"));
		jv samples = jv_object_get(fam, jv_string("samples"));

		buf_printf(b, "# HELP %s ", jv_string_value(name));
		put_escaped(b, jv_string_value(help), 0);
		buf_printf(b, "\n# TYPE %s %s\n", jv_string_value(name),
		    jv_string_value(type));
		jv_array_foreach(samples, i, s)
		    render_sample(b, jv_string_value(name), s);
		jv_free(type);
		jv_free(help);
		jv_free(samples);
		jv_free(name);
	}
	jv_free(fams);
}
