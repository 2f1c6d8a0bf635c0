/*
 * fuzz_ipc: a libFuzzer target for loom-log's line parser (loom-ipc(7)):
 * whatever a process writes to the log socket, one line at a time
 * (cmd/loom-log/proto.c, and its fast path cmd/loom-log/fastlog.c).
 *
 * An input is one line (without its newline).  Properties, each checked
 * with abort():
 *
 *   - ld_parse() gives a record with every field set, a sync or ping
 *     with an id, or an error with a message;
 *   - the fast path agrees with the thorough one: a line ld_fast_log()
 *     takes gives the same record when a field only the thorough parser
 *     reads (a nested value, which the fast path never takes) is put in
 *     front of it;
 *   - a record written back as a line (ld_rec_line(), the spool's
 *     format) parses to the same record.
 *
 * Seeds: tests/fuzz/corpus/ipc/.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/loom-log/logd.h"
#include "core/buf.h"
#include "core/jsoncheck.h"
#include "util/jsonutil.h"

#define NOW_MS 1795665906123LL /* a fixed "now" for lines without "ts" */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
same_str(const char *a, const char *b)
{
	return a != NULL && b != NULL && strcmp(a, b) == 0;
}

static void
check_rec(const struct ld_rec *r)
{
	if (r->execution == NULL || r->task == NULL || r->level == NULL ||
	    r->stream == NULL || r->msg == NULL ||
	    ld_level_rank(r->level) < 0 || r->attempt < 0)
		abort(); /* a record with a hole */
}

static void
same_rec(const struct ld_rec *a, const struct ld_rec *b, const char *what)
{
	if (!same_str(a->execution, b->execution) ||
	    !same_str(a->task, b->task) || !same_str(a->level, b->level) ||
	    !same_str(a->stream, b->stream) || !same_str(a->msg, b->msg) ||
	    a->attempt != b->attempt || a->ts_ms != b->ts_ms) {
		fprintf(stderr, "%s: records differ\n", what);
		abort();
	}
}

/* The line again, with "~fuzz":[0] as its first field. */
static char *
with_nested(const char *line, size_t len, size_t *n)
{
	const char *brace = memchr(line, '{', len);
	static const char extra[] = "\"~fuzz\":[0],";
	size_t at, rest;
	char *s;

	if (brace == NULL)
		abort(); /* the fast path took a line with no object */
	at = (size_t)(brace - line) + 1;
	rest = len - at;
	/* an object with no field: the thorough parser refuses it anyway */
	s = malloc(len + sizeof(extra));
	if (s == NULL)
		abort();
	memcpy(s, line, at);
	memcpy(s + at, extra, sizeof(extra) - 1);
	memcpy(s + at + sizeof(extra) - 1, brace + 1, rest);
	*n = len + sizeof(extra) - 1;
	return s;
}

static void
check_fast(const char *line, size_t len)
{
	struct ld_rec fast;
	struct ld_msg m;
	size_t n;
	char *slow;

	memset(&fast, 0, sizeof(fast));
	/* ld_parse() checks UTF-8 before it tries the fast path */
	if (utf8_check(line, len, NULL) < 0 ||
	    ld_fast_log(line, len, NOW_MS, &fast) < 0)
		return;
	check_rec(&fast);
	slow = with_nested(line, len, &n);
	ld_parse(slow, n, NOW_MS, &m);
	if (m.kind != LD_LOG) {
		fprintf(stderr, "fast path took it, thorough one says: %s\n",
		    m.err);
		abort();
	}
	same_rec(&fast, &m.rec, "fast and thorough");
	ld_msg_clear(&m);
	ld_rec_clear(&fast);
	free(slow);
}

static void
check_roundtrip(const struct ld_rec *r)
{
	struct buf b = BUF_INIT;
	struct ld_msg m;

	ld_rec_line(&b, r);
	if (b.len == 0 || b.p[b.len - 1] != '\n')
		abort();
	ld_parse(b.p, b.len - 1, NOW_MS + 1, &m);
	if (m.kind != LD_LOG) {
		fprintf(stderr, "written: %s refused: %s\n", b.p, m.err);
		abort(); /* the spool could not be read back */
	}
	same_rec(r, &m.rec, "written and read back");
	ld_msg_clear(&m);
	buf_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *line = (const char *)data;
	struct ld_msg m;

	if (size > LD_LINE_MAX)
		return 0; /* the server refuses a longer line unread */
	ld_parse(line, size, NOW_MS, &m);
	switch (m.kind) {
	case LD_LOG:
		check_rec(&m.rec);
		check_roundtrip(&m.rec);
		break;
	case LD_SYNC:
	case LD_PING:
		if (!jv_is_valid(m.id))
			abort(); /* nothing to answer with */
		break;
	case LD_STATUS:
	case LD_RELOAD:
		break; /* the control messages carry nothing to check */
	case LD_ERROR:
		if (m.err[0] == '\0')
			abort(); /* refused without saying why */
		break;
	}
	ld_msg_clear(&m);
	check_fast(line, size);
	return 0;
}
