/*
 * metrics: Prometheus figures as JSON, and their text exposition.
 *
 * A daemon describes its figures as a jv object of families (the
 * "metrics" member of its control-socket status, loom-ipc(7)):
 *
 *   {"loom_x_total": {"type": "counter", "help": "...",
 *                     "samples": [["", {"target": "a"}, 3], ...]}}
 *
 * Each sample is [suffix, labels, value]: the suffix is "" for counters
 * and gauges, "_bucket" (with an "le" label), "_sum" or "_count" for a
 * histogram.  loom-api merges the families of every daemon with its own
 * from the database and writes them out once (metrics_render), so a
 * family's HELP and TYPE appear once however many daemons report it.
 *
 * Ownership follows jq's rule: every jv passed in is consumed.
 */
#ifndef LOOM_METRICS_H
#define LOOM_METRICS_H

#include <stdint.h>

#include <jv.h>

#include "core/buf.h"

#define METRICS_NBUCKETS 12

/* A histogram with the fixed bounds of metrics_bounds (seconds). */
struct metrics_hist {
	uint64_t counts[METRICS_NBUCKETS]; /* per bucket, not cumulative */
	uint64_t count;
	double sum;
};

extern const double metrics_bounds[METRICS_NBUCKETS];

void metrics_hist_observe(struct metrics_hist *h, double seconds);

/* Adds (or appends to) the family name in *fams. */
void metrics_add(jv *fams, const char *name, const char *type, const char *help,
    jv labels, double value);
void metrics_add_hist(jv *fams, const char *name, const char *help, jv labels,
    const struct metrics_hist *h);
/* Appends a sample [suffix, labels, value] to family name (made if new). */
void metrics_sample(jv *fams, const char *name, const char *type,
    const char *help, const char *suffix, jv labels, double value);

/*
 * Moves every family of from into *into, adding the label extra_key =
 * extra_value to each sample (when extra_key is not NULL).
 */
void metrics_merge(
    jv *into, jv from, const char *extra_key, const char *extra_value);

/* Writes fams (consumed) in the text exposition format 0.0.4. */
void metrics_render(struct buf *b, jv fams);

#endif
