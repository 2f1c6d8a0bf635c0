/*
 * test_sse: the text/event-stream writer and parser.  A table of streams
 * and the messages they must give, each fed whole, one byte at a time and
 * in two pieces cut at every offset (so a CRLF, a BOM or a field split
 * across network reads is covered); then the writer's output read back,
 * a stop from the callback, a reset, and the line cap.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "net/sse.h"
#include "t.h"

/* What the callback saw: "id|event|data" per message, ";"-joined. */
struct seen {
	struct buf out;
	int stop_after; /* stop (return 7) after this many; 0: never */
	int n;
};

static int
record(void *arg, const struct sse_msg *m)
{
	struct seen *s = arg;

	if (s->out.len)
		buf_putc(&s->out, ';');
	buf_printf(&s->out, "%s|%s|", m->id, m->event);
	buf_put(&s->out, m->data, m->data_len);
	if (strlen(m->data) != m->data_len)
		buf_puts(&s->out, "<len mismatch>");
	s->n++;
	return s->stop_after && s->n >= s->stop_after ? 7 : 0;
}

static const struct {
	const char *in;
	const char *want;
	long retry;
	const char *name;
} cases[] = {
	{ "data: x\n\n", "|message|x", -1, "one message" },
	{ "id: 5\nevent: task\ndata: {\"a\":1}\n\n", "5|task|{\"a\":1}", -1,
	    "id, event, data" },
	{ "data: a\ndata: b\n\n", "|message|a\nb", -1, "data lines join" },
	{ "data: x\r\n\r\n", "|message|x", -1, "CRLF" },
	{ "data: x\r\rdata: y\r\r", "|message|x;|message|y", -1, "CR only" },
	{ "id: 1\ndata: a\n\ndata: b\n\n", "1|message|a;1|message|b", -1,
	    "the id persists" },
	{ "id: 1\ndata: a\n\nid\ndata: b\n\n", "1|message|a;|message|b", -1,
	    "an empty id clears it" },
	{ ": ping\n\n: ping\n\ndata: z\n\n", "|message|z", -1,
	    "comments are ignored" },
	{ "event: x\n\ndata: y\n\n", "|message|y", -1,
	    "an event type without data is forgotten" },
	{ "data:x\n\n", "|message|x", -1, "no space after the colon" },
	{ "data:  x\n\n", "|message| x", -1, "only one space is removed" },
	{ "data\n\n", "|message|", -1, "a field without a colon" },
	{ "data\ndata\n\n", "|message|\n", -1, "two empty data lines" },
	{ "retry: 2500\ndata: r\n\n", "|message|r", 2500, "retry" },
	{ "retry: 25x\ndata: r\n\n", "|message|r", -1, "a bad retry" },
	{ "foo: bar\ndata: q\n\n", "|message|q", -1, "unknown field" },
	{ "\xEF\xBB\xBF"
	  "data: bom\n\n",
	    "|message|bom", -1, "a leading BOM is skipped" },
	{ "\xEF\xBB"
	  "data: x\n\n",
	    "", -1, "a partial BOM is part of the field name" },
	{ "data: caf\xC3\xA9\n\n", "|message|caf\xC3\xA9", -1, "UTF-8" },
	{ "data: unfinished\n", "", -1, "an unfinished message is not sent" },
	{ "id: 9\n\n", "", -1, "an id alone dispatches nothing" },
};

/* Feeds in in the given pieces; returns what the callback saw. */
static char *
run(const char *in, size_t cut, int bytewise, long *retry)
{
	struct sse_parser *p = sse_parser_new();
	struct seen s = { BUF_INIT, 0, 0 };
	size_t n = strlen(in);

	if (bytewise) {
		for (size_t i = 0; i < n; i++)
			(void)sse_feed(p, in + i, 1, record, &s);
	} else {
		(void)sse_feed(p, in, cut, record, &s);
		(void)sse_feed(p, in + cut, n - cut, record, &s);
	}
	*retry = sse_parser_retry(p);
	sse_parser_free(p);
	buf_putc(&s.out, '\0');
	return s.out.p;
}

static void
test_table(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = strlen(cases[i].in);
		long retry;
		char *got;
		int all = 1;

		got = run(cases[i].in, n, 0, &retry);
		is_str(got, cases[i].want, "%s: whole", cases[i].name);
		is_int(retry, cases[i].retry, "%s: retry", cases[i].name);
		free(got);
		got = run(cases[i].in, 0, 1, &retry);
		is_str(got, cases[i].want, "%s: byte by byte", cases[i].name);
		free(got);
		for (size_t cut = 0; cut <= n; cut++) {
			got = run(cases[i].in, cut, 0, &retry);
			if (strcmp(got, cases[i].want) != 0) {
				printf("# cut at %zu: got \"%s\"\n", cut, got);
				all = 0;
			}
			free(got);
		}
		ok(all, "%s: cut anywhere", cases[i].name);
	}
}

/* A NUL in an event name must not cut it to another name (found by
 * tests/fuzz/fuzz_sse.c; the input is in tests/fuzz/regress/sse/). */
static void
test_nul_event(void)
{
	static const char in[] = "event:\0heartbeat\ndata: a\n\n"
				 "event: log\0x\ndata: b\n\n";
	struct sse_parser *p = sse_parser_new();
	struct seen s = { BUF_INIT, 0, 0 };

	ok(sse_feed(p, in, sizeof(in) - 1, record, &s) == 0, "NUL: parsed");
	buf_putc(&s.out, '\0');
	is_str(s.out.p, "|\xEF\xBF\xBDheartbeat|a;|log\xEF\xBF\xBDx|b",
	    "a NUL in an event name becomes U+FFFD");
	buf_free(&s.out);
	sse_parser_free(p);
}

static void
test_write_read(void)
{
	struct buf b = BUF_INIT;
	struct sse_parser *p;
	struct seen s = { BUF_INIT, 0, 0 };

	sse_write(&b, "12", "log", "{\"line\":\"x\"}");
	is_str(b.p, "id: 12\nevent: log\ndata: {\"line\":\"x\"}\n\n",
	    "writer: one message");
	buf_reset(&b);
	sse_write(&b, NULL, NULL, "a\nb\r\nc");
	is_str(b.p, "data: a\ndata: b\ndata: c\n\n",
	    "writer: line breaks "
	    "become data lines");
	buf_reset(&b);
	sse_write(&b, "1\nevil: x", "e\rvil", "");
	is_str(b.p, "id: 1\nevent: e\ndata: \n\n",
	    "writer: no line break "
	    "can be injected through id or event");
	buf_reset(&b);
	sse_comment(&b, "ping");
	is_str(b.p, ": ping\n\n", "writer: comment");

	buf_reset(&b);
	sse_write(&b, "1", "task", "x\ny");
	sse_comment(&b, NULL);
	sse_write(&b, "2", NULL, "");
	p = sse_parser_new();
	is_int(sse_feed(p, b.p, b.len, record, &s), 0, "read back: fed");
	buf_putc(&s.out, '\0');
	is_str(s.out.p, "1|task|x\ny;2|message|",
	    "read back: the same "
	    "messages");
	sse_parser_free(p);
	buf_free(&s.out);
	buf_free(&b);
}

static void
test_stop_reset_cap(void)
{
	struct sse_parser *p;
	struct seen s = { BUF_INIT, 1, 0 };
	const char *in = "id: 1\ndata: a\n\nid: 2\ndata: b\n\n";
	char *big;
	int rc;

	p = sse_parser_new();
	is_int(sse_feed(p, in, strlen(in), record, &s), 7,
	    "the callback's value stops the parse");
	is_int(s.n, 1, "only one message was seen");
	is_str(sse_parser_last_id(p), "1", "the id is that message's");
	sse_parser_free(p);
	buf_free(&s.out);

	memset(&s, 0, sizeof(s));
	p = sse_parser_new();
	(void)sse_feed(p, "id: 4\ndata: half", 16, record, &s);
	sse_parser_reset(p);
	(void)sse_feed(p, "data: new\n\n", 11, record, &s);
	buf_putc(&s.out, '\0');
	is_str(s.out.p, "4|message|new",
	    "reset drops the half message, "
	    "keeps the id");
	sse_parser_free(p);
	buf_free(&s.out);

	memset(&s, 0, sizeof(s));
	p = sse_parser_new();
	big = malloc(SSE_MAX_LINE + 10);
	memset(big, 'x', SSE_MAX_LINE + 10);
	errno = 0;
	rc = sse_feed(p, big, SSE_MAX_LINE + 10, record, &s);
	ok(rc == -1 && errno == EMSGSIZE, "a line over the cap fails");
	free(big);
	sse_parser_free(p);
	buf_free(&s.out);
}

int
main(void)
{
	test_table();
	test_nul_event();
	test_write_read();
	test_stop_reset_cap();
	return t_done();
}
