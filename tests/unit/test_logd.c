/*
 * test_logd: loom-log's line parser (cmd/loom-log/proto.c) over a table
 * of good and bad lines, a record written back as a line and parsed
 * again, and the spool: records in, taken out in order, the offset kept
 * across a reopen, the file emptied once all is taken, and its cap.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../cmd/loom-log/logd.h"
#include "t.h"

static const struct {
	const char *line;
	enum ld_kind kind;
	const char *err; /* a part of the error, for LD_ERROR */
} cases[] = {
	{ "{\"v\":1,\"t\":\"log\",\"execution\":\"e\",\"task\":\"t\","
	  "\"msg\":\"hi\"}",
	    LD_LOG, NULL },
	{ "{\"v\":1,\"t\":\"sync\",\"id\":3}", LD_SYNC, NULL },
	{ "{\"v\":1,\"t\":\"ping\"}", LD_PING, NULL },
	{ "", LD_ERROR, "not JSON" },
	{ "[1]", LD_ERROR, "not a JSON object" },
	{ "{\"t\":\"log\"}", LD_ERROR, "\"v\" must be 1" },
	{ "{\"v\":\"1\",\"t\":\"log\"}", LD_ERROR, "\"v\" must be 1" },
	{ "{\"v\":1}", LD_ERROR, "\"t\" must be a string" },
	{ "{\"v\":1,\"t\":\"nope\"}", LD_ERROR, "unknown message type" },
	{ "{\"v\":1,\"t\":\"log\",\"task\":\"t\",\"msg\":\"m\"}", LD_ERROR,
	    "\"execution\" is required" },
	{ "{\"v\":1,\"t\":\"log\",\"execution\":7,\"task\":\"t\","
	  "\"msg\":\"m\"}",
	    LD_ERROR, "\"execution\" must be a string" },
	{ "{\"v\":1,\"t\":\"log\",\"execution\":\"\",\"task\":\"t\","
	  "\"msg\":\"m\"}",
	    LD_ERROR, "1 to 200 bytes" },
	{ "{\"v\":1,\"t\":\"log\",\"execution\":\"e\",\"task\":\"t\","
	  "\"msg\":\"m\",\"level\":\"fatal\"}",
	    LD_ERROR, "\"level\" must be" },
	{ "{\"v\":1,\"t\":\"log\",\"execution\":\"e\",\"task\":\"t\","
	  "\"msg\":\"m\",\"attempt\":1.5}",
	    LD_ERROR, "\"attempt\" must be a whole number" },
	{ "{\"v\":1,\"t\":\"log\",\"execution\":\"e\",\"task\":\"t\","
	  "\"msg\":\"m\",\"stream\":\"Std Out\"}",
	    LD_ERROR, "\"stream\" must be" },
	{ "{\"v\":1,\"t\":\"log\",\"execution\":\"e\",\"task\":\"t\","
	  "\"msg\":\"m\",\"ts\":\"yesterday\"}",
	    LD_ERROR, "\"ts\" must be" },
	{ "{\"v\":1,\"t\":\"log\",\"execution\":\"e\",\"task\":\"t\","
	  "\"msg\":\"\xff\"}",
	    LD_ERROR, "invalid UTF-8" },
	/* A raw control character in a key is no JSON: the fast path once
	 * took it (found by tests/fuzz/fuzz_ipc.c; tests/fuzz/regress/ipc/). */
	{ "{\"v\":1,\"t\":\"log\",\"execution\":\"e\",\"task\":\"t\","
	  "\"msg\":\"m\",\"at\x01t\":0}",
	    LD_ERROR, "not JSON" },
	{ "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
	  "]]]]]]]]]]]]",
	    LD_ERROR, "nested too deep" },
};

static void
test_table(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ld_msg m;

		ld_parse(cases[i].line, strlen(cases[i].line), 1000, &m);
		ok(m.kind == cases[i].kind, "case %zu: kind %d", i, m.kind);
		if (cases[i].err != NULL)
			ok(strstr(m.err, cases[i].err) != NULL,
			    "case %zu: '%s' has '%s'", i, m.err, cases[i].err);
		ld_msg_clear(&m);
	}
}

static void
test_fields(void)
{
	const char *l = "{\"v\":1,\"t\":\"log\",\"execution\":\"exec-1\","
			"\"task\":\"fetch\",\"attempt\":3,\"level\":\"error\","
			"\"stream\":\"backup\",\"ts\":\"2026-01-02T03:04:05."
			"678Z\",\"msg\":\"a \\\"quoted\\\" line\\twith tab\"}";
	struct ld_msg m, again;
	struct buf b = BUF_INIT;

	ld_parse(l, strlen(l), 5, &m);
	is_int(m.kind, LD_LOG, "a full record");
	is_str(m.rec.execution, "exec-1", "execution");
	is_str(m.rec.task, "fetch", "task");
	is_int(m.rec.attempt, 3, "attempt");
	is_str(m.rec.level, "error", "level");
	is_str(m.rec.stream, "backup", "stream");
	ok(m.rec.ts_ms == 1767323045678LL, "ts %lld", (long long)m.rec.ts_ms);
	is_str(m.rec.msg, "a \"quoted\" line\twith tab", "msg");
	ld_rec_line(&b, &m.rec);
	ok(b.len > 0 && b.p[b.len - 1] == '\n', "a line ends with newline");
	ld_parse(b.p, b.len - 1, 0, &again);
	is_int(again.kind, LD_LOG, "written back, parsed again");
	is_str(again.rec.msg, m.rec.msg, "same msg");
	ok(again.rec.ts_ms == m.rec.ts_ms, "same ts");
	ld_msg_clear(&again);
	ld_msg_clear(&m);
	buf_free(&b);
	l = "{\"v\":1,\"t\":\"log\",\"execution\":\"e\",\"task\":\"t\","
	    "\"msg\":\"m\"}";
	ld_parse(l, strlen(l), 42, &m);
	ok(m.rec.ts_ms == 42 && m.rec.attempt == 1, "defaults: now, 1");
	is_str(m.rec.level, "info", "default level");
	is_str(m.rec.stream, "app", "default stream");
	ld_msg_clear(&m);
	is_int(ld_level_rank("warn"), 2, "warn ranks 2");
	is_int(ld_level_rank("WARN"), -1, "levels are lower case");
}

/*
 * The fast path takes only lines the thorough path takes, and reads them
 * the same: each line here is parsed both ways.
 */
static const char *const fast_cases[] = {
	"{\"v\":1,\"t\":\"log\",\"execution\":\"e\",\"task\":\"t\","
	"\"msg\":\"plain\"}",
	" { \"msg\" : \"spaces\" , \"task\":\"t\", \"execution\":\"e\","
	"\"t\":\"log\",\"v\":1.0 } ",
	"{\"v\":1,\"t\":\"log\",\"execution\":\"e\",\"task\":\"t\","
	"\"msg\":\"esc \\\" \\\\ \\/ \\b\\f\\n\\r\\t \\u00e9 \\u20ac "
	"\\ud83d\\ude00\",\"attempt\":7,\"level\":\"error\","
	"\"stream\":\"my-app_2\",\"ts\":1767323045678}",
	"{\"v\":1,\"t\":\"log\",\"execution\":\"e\",\"task\":\"t\","
	"\"msg\":\"a\",\"msg\":\"last wins\",\"ts\":\"2026-01-02T03:04:05Z\","
	"\"attempt\":null,\"level\":null,\"x\":true,\"y\":false}",
	"{\"v\":1,\"t\":\"log\",\"execution\":\"e\",\"task\":\"t\","
	"\"msg\":\"nul \\u0000 inside\"}",
	"{\"v\":1,\"t\":\"log\",\"execution\":\"e\",\"task\":\"t\","
	"\"msg\":\"lone \\udc00 half\"}",
	"{\"v\":1,\"t\":\"log\",\"execution\":\"e\",\"task\":\"t\","
	"\"msg\":\"m\",\"attempt\":1e2}",
	"{\"v\":1,\"t\":\"log\",\"execution\":\"e\",\"task\":\"t\","
	"\"msg\":\"m\"} trailing",
	"{\"v\":1,\"t\":\"log\",\"execution\":\"e\",\"task\":\"t\","
	"\"msg\":\"m\",}",
	"{\"v\":1,\"t\":\"log\",\"execution\":\"e\",\"task\":\"t\","
	"\"msg\":\"raw\ttab\"}",
	"{\"v\":1,\"t\":\"log\",\"execution\":\"e\",\"task\":\"t\","
	"\"msg\":\"m\",\"attempt\":-1}",
	"{\"v\":1,\"t\":\"log\",\"execution\":\"e\",\"task\":\"\","
	"\"msg\":\"m\"}",
	"{\"v\":1,\"t\":\"sync\"}",
	"{\"v\":1,\"t\":\"log\",\"execution\":\"e\",\"task\":\"t\","
	"\"msg\":\"nested: the thorough way\",\"other\":[1,{}]}",
	"{\"v\":01,\"t\":\"log\",\"execution\":\"e\",\"task\":\"t\","
	"\"msg\":\"m\"}",
};

static void
test_fast(void)
{
	int taken = 0;

	for (size_t i = 0; i < sizeof(fast_cases) / sizeof(fast_cases[0]);
	     i++) {
		const char *l = fast_cases[i];
		struct ld_rec r;
		struct ld_msg m;
		int fast = ld_fast_log(l, strlen(l), 9, &r);

		/* ld_parse: fast first, so it must agree with libjq's
		 * verdict, which the jv path gives when fast refuses. */
		ld_parse(l, strlen(l), 9, &m);
		if (fast == 0) {
			taken++;
			ok(m.kind == LD_LOG, "fast case %zu: a record", i);
			ld_rec_clear(&r);
		}
		ld_msg_clear(&m);
	}
	ok(taken == 4, "the fast path took the 4 good lines (%d)", taken);
	{
		const char *l = fast_cases[2];
		struct ld_rec r;

		memset(&r, 0, sizeof(r));
		is_int(ld_fast_log(l, strlen(l), 0, &r), 0, "escapes");
		is_str(r.msg,
		    "esc \" \\ / \b\f\n\r\t \xc3\xa9 \xe2\x82\xac "
		    "\xf0\x9f\x98\x80",
		    "escapes decoded");
		is_int(r.attempt, 7, "attempt");
		is_str(r.level, "error", "level");
		is_str(r.stream, "my-app_2", "stream");
		ok(r.ts_ms == 1767323045678LL, "ts as ms");
		ld_rec_clear(&r);
		l = fast_cases[3];
		is_int(ld_fast_log(l, strlen(l), 0, &r), 0, "nulls");
		is_str(r.msg, "last wins", "the last of a repeated key");
		ok(r.ts_ms == 1767323045000LL, "ts as text");
		is_str(r.level, "info", "level null: info");
		ld_rec_clear(&r);
	}
}

/*
 * Lines cut from a good one at random places and spliced with random
 * bytes: whatever comes, the parser answers (a record or an error) and
 * never reads outside the line (run it under ASan: make check-asan).
 */
static void
test_garbage(void)
{
	static const char good[] =
	    "{\"v\":1,\"t\":\"log\",\"execution\":\"e\",\"task\":\"t\","
	    "\"msg\":\"a \\\"b\\\" \\u00e9 \\ud83d\\ude00\",\"attempt\":2,"
	    "\"ts\":\"2026-01-02T03:04:05.6Z\",\"level\":\"warn\"}";
	static const char alphabet[] =
	    "{}[]\":,\\u0123456789abcdefvtlog -.eE\x01\xc3\xa9\xff";
	unsigned seed = 12345;
	int answered = 0, n = 20000;

	for (int i = 0; i < n; i++) {
		char line[256];
		size_t len = 0, cut;
		struct ld_msg m;

		seed = seed * 1103515245u + 12345u;
		cut = (seed >> 8) % sizeof(good);
		memcpy(line, good, cut);
		len = cut;
		for (int k = (int)((seed >> 4) % 6);
		     k > 0 && len < sizeof(line); k--) {
			seed = seed * 1103515245u + 12345u;
			line[len++] =
			    alphabet[(seed >> 8) % (sizeof(alphabet) - 1)];
		}
		if (len < sizeof(good) - 1 - cut + len &&
		    cut < sizeof(good) - 1) {
			size_t rest = sizeof(good) - 1 - cut;

			if (len + rest <= sizeof(line)) {
				memcpy(line + len, good + cut, rest);
				len += rest;
			}
		}
		ld_parse(line, len, 0, &m);
		answered += m.kind == LD_LOG || m.kind == LD_ERROR ||
		    m.kind == LD_SYNC || m.kind == LD_PING;
		ld_msg_clear(&m);
	}
	is_int(answered, n, "%d garbled lines, each answered", n);
}

static void
rec(struct ld_rec *r, const char *msg)
{
	memset(r, 0, sizeof(*r));
	r->execution = strdup("e");
	r->task = strdup("t");
	r->level = strdup("info");
	r->stream = strdup("app");
	r->msg = strdup(msg);
	r->attempt = 1;
	r->ts_ms = 1000;
}

static void
test_spool(void)
{
	char dir[] = "/tmp/test_logd.XXXXXX", path[64], *err = NULL;
	struct ld_rec in[3], out[4];
	struct ld_spool *sp;
	long k;

	ok(mkdtemp(dir) != NULL, "temp dir");
	snprintf(path, sizeof(path), "%s/spool", dir);
	sp = ld_spool_open(path, 1 << 20, &err);
	ok(sp != NULL, "spool opens");
	ok(ld_spool_empty(sp), "empty at first");
	rec(&in[0], "one");
	rec(&in[1], "two");
	rec(&in[2], "three");
	is_int((int)ld_spool_put(sp, in, 3), 3, "three records in");
	k = ld_spool_take(sp, out, 2);
	is_int((int)k, 2, "two taken");
	is_str(out[0].msg, "one", "in order");
	is_str(out[1].msg, "two", "in order");
	ld_spool_done(sp);
	ld_rec_clear(&out[0]);
	ld_rec_clear(&out[1]);
	ld_spool_close(sp);
	sp = ld_spool_open(path, 1 << 20, &err);
	ok(!ld_spool_empty(sp), "reopened: one left");
	k = ld_spool_take(sp, out, 4);
	is_int((int)k, 1, "the last one");
	is_str(out[0].msg, "three", "the offset was kept");
	ld_rec_clear(&out[0]);
	ld_spool_done(sp);
	ok(ld_spool_empty(sp) && ld_spool_bytes(sp) == 0, "emptied");
	ld_spool_close(sp);
	sp = ld_spool_open(path, 150, &err);
	is_int((int)ld_spool_put(sp, in, 3), 1, "a cap of 150 bytes: one fits");
	ld_spool_close(sp);
	for (int i = 0; i < 3; i++)
		ld_rec_clear(&in[i]);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	ok(system(path) == 0, "cleaned up");
}

int
main(void)
{
	test_table();
	test_fields();
	test_fast();
	test_garbage();
	test_spool();
	return t_done();
}
