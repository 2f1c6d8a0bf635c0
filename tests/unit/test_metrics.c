/*
 * test_metrics: util/metrics.h: a histogram's buckets, the text
 * exposition (HELP and TYPE once per family, label escaping, values),
 * and metrics_merge's extra label.
 */
#include <stdlib.h>
#include <string.h>

#include "util/metrics.h"
#include "t.h"

static char *
render(jv m)
{
	struct buf b = { 0 };
	char *s;

	metrics_render(&b, m);
	buf_putc(&b, '\0');
	s = strdup(b.p);
	buf_free(&b);
	return s;
}

int
main(void)
{
	struct metrics_hist h = { 0 };
	jv m = jv_object(), d = jv_object();
	char *s;

	metrics_hist_observe(&h, 0.001);
	metrics_hist_observe(&h, 0.2);
	metrics_hist_observe(&h, 100);
	is_int(h.count, 3, "three observations");
	is_int(h.counts[0], 1, "0.001 in the first bucket");
	metrics_add_hist(&m, "x_seconds", "A histogram.", jv_object(), &h);
	metrics_add(&m, "y_total", "counter", "A \\ counter\nwith two lines.",
	    JV_OBJECT(jv_string("k"), jv_string("a\"b\\c\nd")), 2);
	metrics_add(&m, "y_total", "counter", "ignored", jv_object(), 0.5);
	s = render(jv_copy(m));
	ok(strstr(s,
	       "# HELP x_seconds A histogram.\n# TYPE x_seconds "
	       "histogram\n") != NULL,
	    "HELP and TYPE");
	ok(strstr(s, "x_seconds_bucket{le=\"0.005\"} 1\n") != NULL,
	    "first bucket");
	ok(strstr(s, "x_seconds_bucket{le=\"0.25\"} 2\n") != NULL,
	    "cumulative bucket");
	ok(strstr(s, "x_seconds_bucket{le=\"60\"} 2\n") != NULL,
	    "100s is over the last bound");
	ok(strstr(s, "x_seconds_bucket{le=\"+Inf\"} 3\n") != NULL, "+Inf");
	ok(strstr(s, "x_seconds_sum 100.20099999999999\n") != NULL ||
		strstr(s, "x_seconds_sum 100.201\n") != NULL,
	    "sum");
	ok(strstr(s, "x_seconds_count 3\n") != NULL, "count");
	ok(strstr(s, "# HELP y_total A \\\\ counter\\nwith two lines.\n") !=
		NULL,
	    "HELP escaped");
	ok(strstr(s, "y_total{k=\"a\\\"b\\\\c\\nd\"} 2\n") != NULL,
	    "label value escaped");
	ok(strstr(s, "y_total 0.5\n") != NULL, "a fraction");
	ok(strstr(s, "# TYPE y_total counter\n") != NULL &&
		strstr(strstr(s, "# TYPE y_total") + 1, "# TYPE y_total") ==
		    NULL,
	    "TYPE once");
	free(s);

	metrics_merge(&d, m, "daemon", "loom-exec-2");
	s = render(d);
	ok(strstr(s,
	       "y_total{k=\"a\\\"b\\\\c\\nd\",daemon=\"loom-exec-2\"} "
	       "2\n") != NULL ||
		strstr(s,
		    "y_total{daemon=\"loom-exec-2\",k=\"a\\\"b\\\\c\\nd\"} "
		    "2\n") != NULL,
	    "merge adds the daemon label");
	ok(strstr(s, "x_seconds_count{daemon=\"loom-exec-2\"} 3\n") != NULL,
	    "merged histogram");
	free(s);
	d = jv_object();
	metrics_merge(&d, jv_string("not an object"), NULL, NULL);
	is_int(jv_object_length(d), 0, "merging a non-object adds nothing");
	return t_done();
}
