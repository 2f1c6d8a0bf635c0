/* Unit tests for the small core modules: duration, diag, hmap, config, log. */
#include <stdlib.h>
#include <string.h>

#include <jv.h>
#include <fcntl.h>
#include <unistd.h>

#include "core/buf.h"
#include "util/config.h"
#include "core/diag.h"
#include "core/duration.h"
#include "core/hmap.h"
#include "util/log.h"
#include "t.h"
#include "core/xalloc.h"

static void
test_duration(void)
{
	static const struct {
		const char *in;
		long long ms;
	} good[] = {
		{ "500ms", 500 },
		{ "30s", 30000 },
		{ "5m", 300000 },
		{ "2h", 7200000 },
		{ "1d", 86400000 },
		{ "1h30m", 5400000 },
		{ "0s", 0 },
		{ "1m500ms", 60500 },
	};
	static const char *bad[] = { "", "30", "5x", "m", "1s1m", "-1s", "1.5s",
		"99999999999999d", "5 m", "1mm" };
	const char *err;
	int64_t ms;
	char buf[64];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ms = -1;
		ok(duration_parse(good[i].in, &ms, &err) == 0 &&
			ms == good[i].ms,
		    "duration \"%s\" = %lld ms", good[i].in, good[i].ms);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = NULL;
		ok(duration_parse(bad[i], &ms, &err) == -1 && err != NULL,
		    "duration \"%s\" refused (%s)", bad[i], err ? err : "-");
	}
	duration_format(5400000, buf, sizeof(buf));
	is_str(buf, "1h30m", "format 1h30m");
	duration_format(500, buf, sizeof(buf));
	is_str(buf, "500ms", "format 500ms");
	duration_format(0, buf, sizeof(buf));
	is_str(buf, "0s", "format 0s");
}

static void
test_diag(void)
{
	struct diags d;
	jv a;

	diags_init(&d);
	diags_add(&d, "f.yaml", 3, 1, "third");
	diags_add(&d, "f.yaml", 1, 5, "first %d", 1);
	diags_add(&d, "f.yaml", 1, 2, "zeroth");
	diags_sort(&d);
	is_int(d.n, 3, "three diagnostics");
	is_str(d.v[0].msg, "zeroth", "sorted by line then column");
	is_str(d.v[2].msg, "third", "last is line 3");
	a = diags_to_jv(&d);
	is_int(jv_array_length(jv_copy(a)), 3, "json array of 3");
	jv o = jv_array_get(a, 1);
	is_int((int)jv_number_value(
		   jv_object_get(jv_copy(o), jv_string("column"))),
	    5, "json column");
	jv_free(o);
	diags_clear(&d);
	is_int(d.n, 0, "cleared");
}

static void
test_hmap(void)
{
	struct hmap *m = hmap_new(4);
	char **keys = xcalloc(1000, sizeof(char *));
	size_t v;
	int all = 1;

	for (size_t i = 0; i < 1000; i++) {
		keys[i] = xasprintf("task_%zu", i);
		hmap_put(m, keys[i], i);
	}
	for (size_t i = 0; i < 1000; i++)
		if (hmap_get(m, keys[i], &v) != 0 || v != i)
			all = 0;
	ok(all, "1000 keys found after growth");
	is_int(hmap_put(m, keys[5], 99), 1, "duplicate put reports 1");
	ok(hmap_get(m, "task_5", &v) == 0 && v == 5, "duplicate left alone");
	ok(hmap_get(m, "nope", &v) == -1, "missing key");
	is_int(hmap_count(m), 1000, "count");
	hmap_free(m);
	for (size_t i = 0; i < 1000; i++)
		free(keys[i]);
	free(keys);
}

static void
test_config(void)
{
	char path[] = "/tmp/loom-test-conf-XXXXXX";
	int fd = mkstemp(path);
	struct diags d;
	struct config *c;
	long n;
	int b;
	int64_t ms;
	const char *text =
	    "; comment\n[database]\nurl = postgres:///loom\n"
	    "[exec]\nconcurrency = 64\nlease = 30s\ndebug = yes\n";

	diags_init(&d);
	ok(write(fd, text, strlen(text)) == (ssize_t)strlen(text), "wrote");
	close(fd);
	c = config_load(path, &d);
	ok(c != NULL, "config loads");
	is_str(config_get(c, "database.url", NULL), "postgres:///loom",
	    "database.url");
	ok(config_get_int(c, "exec.concurrency", 1, &n) == 0 && n == 64,
	    "exec.concurrency = 64");
	ok(config_get_duration(c, "exec.lease", 0, &ms) == 0 && ms == 30000,
	    "exec.lease = 30s");
	ok(config_get_bool(c, "exec.debug", 0, &b) == 0 && b == 1,
	    "exec.debug = yes");
	is_str(config_get(c, "missing.key", "dflt"), "dflt", "default");
	setenv("LOOM_EXEC_CONCURRENCY", "7", 1);
	ok(config_get_int(c, "exec.concurrency", 1, &n) == 0 && n == 7,
	    "LOOM_EXEC_CONCURRENCY overrides the file");
	setenv("LOOM_EXEC_CONCURRENCY", "seven", 1);
	ok(config_get_int(c, "exec.concurrency", 1, &n) == -1,
	    "malformed int refused");
	unsetenv("LOOM_EXEC_CONCURRENCY");
	config_free(c);

	fd = open(path, O_WRONLY | O_TRUNC);
	text = "[a]\nok = 1\nthis line is wrong\n";
	ok(write(fd, text, strlen(text)) == (ssize_t)strlen(text), "wrote");
	close(fd);
	c = config_load(path, &d);
	ok(c == NULL && d.n == 1 && d.v[0].line == 3,
	    "syntax error reported at line 3");
	diags_clear(&d);
	unlink(path);
	ok(config_load(path, &d) == NULL && d.n == 1,
	    "an explicit missing file is an error");
	diags_clear(&d);
}

static void
test_log(void)
{
	enum log_level l;

	ok(log_level_parse("debug", &l) == 0 && l == LOG_LVL_DEBUG, "debug");
	ok(log_level_parse("WARN", &l) == 0 && l == LOG_LVL_WARN, "WARN");
	ok(log_level_parse("loud", &l) == -1, "unknown level refused");
}

static void
test_pgarray(void)
{
	struct buf b = BUF_INIT;

	buf_putc(&b, '{');
	buf_pgarray_elem(&b, "{\"a\":\"x\\\\y\"}");
	buf_pgarray_elem(&b, NULL);
	buf_pgarray_elem(&b, "");
	buf_pgarray_elem(&b, "plain");
	buf_pgarray_elem(&b, "\"");
	buf_putc(&b, '}');
	ok(strcmp(b.p,
	       "{\"{\\\"a\\\":\\\"x\\\\\\\\y\\\"}\",NULL,\"\","
	       "\"plain\",\"\\\"\"}") == 0,
	    "array literal: %s", b.p);
	buf_free(&b);
}

static void
test_json_str(void)
{
	static const char s[] = "a\"b\\c\n\r\t\b\f\x01\x1f\xc3\xa9 /";
	struct buf b = BUF_INIT;
	jv v;

	buf_json_str(&b, s, sizeof(s) - 1);
	ok(strcmp(b.p,
	       "\"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u001f\xc3\xa9 /\"") == 0,
	    "JSON string: %s", b.p);
	v = jv_parse(b.p);
	ok(jv_get_kind(v) == JV_KIND_STRING &&
		strcmp(jv_string_value(v), s) == 0,
	    "JSON string parses back");
	jv_free(v);
	buf_reset(&b);
	buf_json_str(&b, "", 0);
	ok(strcmp(b.p, "\"\"") == 0, "empty JSON string");
	buf_free(&b);
}

int
main(void)
{
	test_pgarray();
	test_json_str();
	test_duration();
	test_diag();
	test_hmap();
	test_config();
	test_log();
	return t_done();
}
