/*
 * sse: the text/event-stream format (server-sent events, WHATWG HTML
 * "9.2 Server-sent events"), both ways, with no I/O.
 *
 * loom-api writes messages with sse_write() and heartbeats with
 * sse_comment(); the `loom` command line reads them with an sse_parser,
 * which follows the specification's parsing rules: lines end in CRLF, LF
 * or CR (a CR at the end of one chunk and an LF at the start of the next
 * are one line end), a leading byte order mark is skipped, ':' starts a
 * comment, "field: value" loses one space after the colon, data lines
 * are joined with '\n', the id persists from message to message until a
 * new one comes, and a message is dispatched at a blank line (one left
 * unfinished at the end of the stream is dropped).  An event name holding
 * a NUL byte has each NUL replaced by U+FFFD (a C string cannot hold
 * it).  Bytes are fed in whatever pieces the network delivers.
 *
 * Ownership: the parser owns its buffers; a message's strings are
 * borrowed by the callback and valid only during the call.  The header
 * only declares struct buf (lib/core/buf.h), so that a file with a struct buf
 * of its own (lib/net/client.c) can use the parser.
 */
#ifndef LOOM_SSE_H
#define LOOM_SSE_H

#include <stddef.h>

struct buf;

#define SSE_MAX_LINE (16u * 1024 * 1024) /* longer: the parser fails */

/*
 * Appends one message: "id: ID" (when id is not NULL), "event: EVENT"
 * (when not NULL), one "data: " line per line of data (a newline in data
 * starts another data line), then the blank line that ends it.  id and
 * event must not hold line breaks (they are cut at the first one).
 */
void sse_write(
    struct buf *b, const char *id, const char *event, const char *data);
/* ": text" and a blank line: a comment, which clients ignore. */
void sse_comment(struct buf *b, const char *text);

/* One dispatched message; strings are NUL-terminated. */
struct sse_msg {
	const char *id;	   /* the last event id ("" when none yet) */
	const char *event; /* "message" when the message named none */
	const char *data;
	size_t data_len;
};

/* Returns 0 to go on, anything else to stop (sse_feed returns it). */
typedef int sse_cb(void *arg, const struct sse_msg *m);

struct sse_parser;

struct sse_parser *sse_parser_new(void);
void sse_parser_free(struct sse_parser *p); /* NULL-safe */
/* The last event id ("" when none yet) and "retry:" value (-1: none). */
const char *sse_parser_last_id(const struct sse_parser *p);
long sse_parser_retry(const struct sse_parser *p);
/*
 * Parses n bytes, calling cb for each complete message.  Returns 0, the
 * callback's non-zero value (parsing stops right after that message), or
 * -1 with errno EMSGSIZE when a line is longer than SSE_MAX_LINE.
 */
int sse_feed(
    struct sse_parser *p, const char *data, size_t n, sse_cb *cb, void *arg);
/*
 * Forgets a message half read (a connection that dropped mid-message);
 * the last event id and retry are kept, as for a reconnection.
 */
void sse_parser_reset(struct sse_parser *p);

#endif
