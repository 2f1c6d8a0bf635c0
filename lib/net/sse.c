/*
 * sse: see sse.h.  The writer is a few buf_* calls.  The parser keeps the
 * current line in a buffer and handles each complete line as the
 * specification says; a CR seen last is remembered so that an LF starting
 * the next piece is not taken for a second (blank) line.
 */
#include "sse.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/xalloc.h"

struct sse_parser {
	struct buf line;  /* the line being read */
	struct buf data;  /* the message's data so far */
	struct buf event; /* its event type so far */
	char *id;	  /* the last event id; owned */
	long retry_ms;	  /* the last "retry:" value, -1 when none */
	size_t consumed;  /* bytes fed, for the byte order mark */
	int after_cr;	  /* the last byte was a CR */
};

/* ---- writing ------------------------------------------------------------ */

static void
put_field(struct buf *b, const char *name, const char *v)
{
	buf_puts(b, name);
	buf_puts(b, ": ");
	buf_put(b, v, strcspn(v, "\r\n"));
	buf_putc(b, '\n');
}

void
sse_write(struct buf *b, const char *id, const char *event, const char *data)
{
	const char *p = data ? data : "";

	if (id != NULL)
		put_field(b, "id", id);
	if (event != NULL)
		put_field(b, "event", event);
	for (;;) {
		size_t n = strcspn(p, "\r\n");

		buf_puts(b, "data: ");
		buf_put(b, p, n);
		buf_putc(b, '\n');
		p += n;
		if (*p == '\0')
			break;
		p += p[0] == '\r' && p[1] == '\n' ? 2 : 1;
	}
	buf_putc(b, '\n');
}

void
sse_comment(struct buf *b, const char *text)
{
	buf_putc(b, ':');
	if (text != NULL && *text) {
		buf_putc(b, ' ');
		buf_put(b, text, strcspn(text, "\r\n"));
	}
	buf_puts(b, "\n\n");
}

/* ---- parsing ------------------------------------------------------------ */

struct sse_parser *
sse_parser_new(void)
{
	struct sse_parser *p = xcalloc(1, sizeof(*p));

	p->id = xstrdup("");
	p->retry_ms = -1;
	return p;
}

void
sse_parser_free(struct sse_parser *p)
{
	if (p == NULL)
		return;
	buf_free(&p->line);
	buf_free(&p->data);
	buf_free(&p->event);
	free(p->id);
	free(p);
}

const char *
sse_parser_last_id(const struct sse_parser *p)
{
	return p->id;
}

long
sse_parser_retry(const struct sse_parser *p)
{
	return p->retry_ms;
}

void
sse_parser_reset(struct sse_parser *p)
{
	buf_reset(&p->line);
	buf_reset(&p->data);
	buf_reset(&p->event);
	p->after_cr = 0;
	p->consumed = 0;
}

/* A blank line: dispatch what was gathered. */
static int
dispatch(struct sse_parser *p, sse_cb *cb, void *arg)
{
	struct sse_msg m;
	int rc;

	if (p->data.len == 0) {
		/* Nothing to dispatch; the event type is forgotten. */
		buf_reset(&p->event);
		return 0;
	}
	p->data.len--; /* the last '\n' */
	p->data.p[p->data.len] = '\0';
	m.id = p->id;
	m.event = p->event.len ? p->event.p : "message";
	m.data = p->data.p;
	m.data_len = p->data.len;
	rc = cb(arg, &m);
	buf_reset(&p->data);
	buf_reset(&p->event);
	return rc;
}

static void
field(struct sse_parser *p, const char *name, size_t nlen, const char *v,
    size_t vlen)
{
	if (nlen == 5 && memcmp(name, "event", 5) == 0) {
		/* A NUL would cut the NUL-terminated name short ("log\0x"
		 * read as "log", "\0x" as ""): each becomes U+FFFD, so the
		 * name stays one that no listener of a real name matches. */
		buf_reset(&p->event);
		for (size_t i = 0; i < vlen; i++) {
			if (v[i] == '\0')
				buf_puts(&p->event, "\xEF\xBF\xBD");
			else
				buf_putc(&p->event, v[i]);
		}
	} else if (nlen == 4 && memcmp(name, "data", 4) == 0) {
		buf_put(&p->data, v, vlen);
		buf_putc(&p->data, '\n');
	} else if (nlen == 2 && memcmp(name, "id", 2) == 0) {
		/* An id holding a NUL is ignored (the specification's rule). */
		if (memchr(v, '\0', vlen) == NULL) {
			free(p->id);
			p->id = xstrndup(v, vlen);
		}
	} else if (nlen == 5 && memcmp(name, "retry", 5) == 0) {
		long ms = 0;
		size_t i;

		for (i = 0; i < vlen && v[i] >= '0' && v[i] <= '9'; i++)
			if (ms < 100000000)
				ms = ms * 10 + (v[i] - '0');
		if (i == vlen && vlen > 0)
			p->retry_ms = ms;
	}
	/* Anything else is ignored. */
}

static int
line(struct sse_parser *p, sse_cb *cb, void *arg)
{
	const char *s = p->line.p ? p->line.p : "";
	size_t n = p->line.len, nlen;
	const char *colon;

	if (n == 0)
		return dispatch(p, cb, arg);
	if (s[0] == ':')
		return 0; /* a comment */
	colon = memchr(s, ':', n);
	if (colon == NULL) {
		field(p, s, n, "", 0);
		return 0;
	}
	nlen = (size_t)(colon - s);
	colon++;
	if (colon < s + n && *colon == ' ')
		colon++;
	field(p, s, nlen, colon, (size_t)(s + n - colon));
	return 0;
}

int
sse_feed(
    struct sse_parser *p, const char *data, size_t n, sse_cb *cb, void *arg)
{
	static const char bom[] = "\xEF\xBB\xBF";
	size_t i = 0;
	int rc;

	/* A byte order mark may only open the stream (it may come split). */
	while (p->consumed < 3 && i < n) {
		if (data[i] != bom[p->consumed]) {
			/* Not a BOM: give back what we took for one. */
			size_t had = p->consumed;

			p->consumed = 3;
			if (had > 0 && (rc = sse_feed(p, bom, had, cb, arg)))
				return rc;
			break;
		}
		p->consumed++;
		i++;
	}
	for (; i < n; i++) {
		char c = data[i];

		if (c == '\n' && p->after_cr) {
			p->after_cr = 0; /* the LF of a CRLF */
			continue;
		}
		p->after_cr = c == '\r';
		if (c == '\r' || c == '\n') {
			rc = line(p, cb, arg);
			buf_reset(&p->line);
			if (rc != 0)
				return rc;
			continue;
		}
		if (p->line.len >= SSE_MAX_LINE) {
			errno = EMSGSIZE;
			return -1;
		}
		buf_putc(&p->line, c);
	}
	return 0;
}
