/*
 * fuzz_sse: a libFuzzer target for the text/event-stream parser
 * (lib/net/sse.c), which `loom runs watch`, `loom logs -f` and
 * libloomclient(3) feed with whatever loom-api (or anything in between)
 * sends.
 *
 * An input is a stream.  It is parsed three ways: in one piece, one byte
 * at a time, and in pieces whose lengths come from the stream's own
 * bytes.  Properties, each checked with abort():
 *
 *   - the three parses dispatch the same messages (id, event, data) and
 *     end with the same last id and retry: how the network cuts a stream
 *     changes nothing;
 *   - a message's strings are NUL-terminated at their lengths, and a
 *     message's event is never empty;
 *   - what sse_write() makes of a dispatched message parses back to the
 *     same message (the writer and the reader agree).
 *
 * Seeds: tests/fuzz/corpus/sse/.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "net/sse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every dispatched message: id, event and data, each as its length (a
 * size_t) and its bytes, one after the other in one buf. */
struct log {
	struct buf b;
	size_t n;
};

static void
put_field(struct buf *b, const char *s, size_t n)
{
	buf_put(b, &n, sizeof(n));
	buf_put(b, s, n);
}

/* The next field of a log at *p. */
static const char *
get_field(const char **p, size_t *n)
{
	const char *s;

	memcpy(n, *p, sizeof(*n));
	s = *p + sizeof(*n);
	*p = s + *n;
	return s;
}

static int
on_msg(void *arg, const struct sse_msg *m)
{
	struct log *l = arg;

	if (m->id == NULL || m->event == NULL || m->data == NULL ||
	    m->event[0] == '\0' || m->data[m->data_len] != '\0')
		abort();
	put_field(&l->b, m->id, strlen(m->id));
	put_field(&l->b, m->event, strlen(m->event));
	put_field(&l->b, m->data, m->data_len);
	l->n++;
	return 0;
}

/* Parses data in one piece (how 0), byte by byte (1), or in pieces of 1 to
 * 7 bytes as the data says (2); 0, or -1 (EMSGSIZE). */
static int
parse(const uint8_t *data, size_t size, int how, struct log *l, char *last_id,
    long *retry)
{
	struct sse_parser *p = sse_parser_new();
	size_t at = 0, n;
	int rc = 0;

	l->b = (struct buf)BUF_INIT;
	l->n = 0;
	while (at < size && rc == 0) {
		n = how == 0 ? size - at : how == 1 ? 1u : 1u + data[at] % 7u;
		if (n > size - at)
			n = size - at;
		rc = sse_feed(p, (const char *)data + at, n, on_msg, l);
		at += n;
	}
	snprintf(last_id, 256, "%s", sse_parser_last_id(p));
	*retry = sse_parser_retry(p);
	sse_parser_free(p);
	return rc;
}

/* Writes l's messages with sse_write(): they must read back the same. */
static void
roundtrip(const struct log *l)
{
	const char *p = l->b.p, *f[3];
	size_t n[3];
	char *s[3], last[256];
	struct buf w;
	struct log back;
	long retry;
	int whole = 1;

	w = (struct buf)BUF_INIT;
	for (size_t i = 0; whole && i < l->n; i++) {
		for (int k = 0; k < 3; k++) {
			f[k] = get_field(&p, &n[k]);
			s[k] = strndup(f[k], n[k]);
			if (s[k] == NULL)
				abort();
		}
		/* a NUL in data would end sse_write()'s string early: no
		 * round trip for such a stream */
		if (strlen(s[2]) == n[2])
			sse_write(&w, s[0], s[1], s[2]);
		else
			whole = 0;
		for (int k = 0; k < 3; k++)
			free(s[k]);
	}
	if (whole && w.len > 0) {
		if (parse((const uint8_t *)w.p, w.len, 0, &back, last,
			&retry) != 0)
			abort();
		if (back.n != l->n || back.b.len != l->b.len ||
		    (l->b.len > 0 && memcmp(back.b.p, l->b.p, l->b.len) != 0)) {
			fprintf(stderr, "written: %.*s\n", (int)w.len, w.p);
			abort(); /* the writer and the reader disagree */
		}
		buf_free(&back.b);
	}
	buf_free(&w);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct log l[3];
	char last[3][256];
	long retry[3];
	int rc[3];

	for (int how = 0; how < 3; how++)
		rc[how] =
		    parse(data, size, how, &l[how], last[how], &retry[how]);
	for (int how = 1; how < 3; how++) {
		if (rc[how] != rc[0] || l[how].n != l[0].n ||
		    l[how].b.len != l[0].b.len ||
		    (l[0].b.len > 0 &&
			memcmp(l[how].b.p, l[0].b.p, l[0].b.len) != 0) ||
		    strcmp(last[how], last[0]) != 0 || retry[how] != retry[0]) {
			fprintf(stderr,
			    "pieces of kind %d: %zu messages, "
			    "in one piece: %zu\n",
			    how, l[how].n, l[0].n);
			abort(); /* the cuts changed the messages */
		}
	}
	if (rc[0] == 0)
		roundtrip(&l[0]);
	for (int how = 0; how < 3; how++)
		buf_free(&l[how].b);
	return 0;
}
