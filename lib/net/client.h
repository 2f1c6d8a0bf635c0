/*
 * client: the HTTP client of the `loom` command line, talking to loom-api.
 *
 * One struct client wraps one libcurl easy handle, so consecutive calls
 * (a long-poll loop, applying many files) reuse one connection.  The base
 * address is "http://HOST:PORT" (or https://) or "unix:/path/to/api.sock";
 * for the latter every request goes over that Unix socket with the path
 * appended to "http://localhost".  Replies are parsed as JSON.
 *
 * Errors are values: a call returns the HTTP status, or -1 with a jv
 * invalid carrying a message and errno saying what kind of failure it was,
 * so the CLI can tell "nothing is listening" (exit 3) from "the server
 * said no" (exit 1 or 4).  The library never prints and never exits.
 *
 * Ownership follows jv: every jv argument is consumed.
 */
#ifndef LOOM_CLIENT_H
#define LOOM_CLIENT_H

#include <stddef.h>

#include <jv.h>

#define CLIENT_DEFAULT_TIMEOUT_MS 30000L
#define CLIENT_MAX_REPLY (64u * 1024 * 1024) /* bigger replies are refused */

struct client;

/*
 * Makes a client for base ("http://HOST:PORT", "https://...", or
 * "unix:/path").  Returns NULL with *err a malloc'd message when base is
 * malformed or libcurl cannot start.
 */
struct client *client_new(const char *base, char **err);
void client_free(struct client *c); /* NULL-safe */

/* The base address as given to client_new(). */
const char *client_base(const struct client *c);

/*
 * Time limit of each following request as a whole, in ms (default
 * CLIENT_DEFAULT_TIMEOUT_MS; 0: none).  Connecting has its own 10 s limit.
 */
void client_set_timeout(struct client *c, long ms);

/*
 * Sends "Authorization: Bearer TOKEN" with every following request (NULL
 * or "": none).  The token is copied.  Returns 0, or -1 with errno EINVAL
 * when it holds characters a header cannot carry (then nothing is sent).
 */
int client_set_token(struct client *c, const char *token);

/*
 * Sends METHOD base+path (path starts with '/', query included) with the
 * body data/len of type ctype (data NULL: no body).  Returns the HTTP
 * status, with *reply the answer parsed as JSON (jv_null() when empty, a
 * jv string holding the text when it is not JSON).  Returns -1 with *reply
 * a jv_invalid_with_msg() and errno:
 *     ECONNREFUSED  could not connect: nothing listens there, no such
 *                   socket file, unknown host, connect timed out
 *     ETIMEDOUT     connected, but the answer took longer than the limit
 *     EPROTO        any other failure of the exchange
 */
int client_request(struct client *c, const char *method, const char *path,
    const char *ctype, const char *data, size_t len, jv *reply);

/*
 * client_request() with a JSON body: body is sent compact as
 * application/json, or no body at all when it is jv_invalid().  Consumes
 * body.
 */
int client_json(
    struct client *c, const char *method, const char *path, jv body, jv *reply);

/*
 * The human message of a failed call: for -1 the invalid's message, for an
 * API error {"error":{"message":...}} that message, else "HTTP <status>"
 * and the start of the body.  Consumes reply; the caller frees the result.
 */
char *client_error_message(int status, jv reply);

/*
 * Percent-encodes s (RFC 3986 unreserved characters stay) for use as one
 * path segment or query value.  The caller frees the result.
 */
char *client_escape(const char *s);

/* ---- server-sent events ------------------------------------------------- */

#define CLIENT_STREAM_GIVE_UP_MS 60000L /* reconnecting that long: fail */
#define CLIENT_STREAM_BACKOFF_MAX_MS 10000L
#define CLIENT_STREAM_STALL_S 60L /* no byte that long: reconnect */

/* One message of an event stream; strings are borrowed for the call. */
struct client_event {
	const char *id;	   /* the last event id ("" when none yet) */
	const char *event; /* "message" when the message named none */
	const char *data;
};

/* Returns 0 to go on, anything else to end the stream. */
typedef int client_event_cb(void *arg, const struct client_event *ev);

/*
 * Follows the text/event-stream at path (GET, no time limit), calling cb
 * for each message until cb returns non-zero; then returns 200.  A
 * connection that drops, stalls for CLIENT_STREAM_STALL_S (the server
 * sends a comment every few seconds) or is closed by the server is made
 * again with Last-Event-ID set to the last id received, after the wait
 * the server asked for ("retry:"), doubling while attempts fail, up to
 * CLIENT_STREAM_BACKOFF_MAX_MS; after CLIENT_STREAM_GIVE_UP_MS of failed
 * attempts it gives up.  That wait is the only pause: the client has no
 * other reason to wake.  Returns an HTTP status other than 200 with
 * *reply the error answer, or -1 with *reply an invalid and errno as for
 * client_request() (the first connection failing, giving up, or a line
 * longer than the parser takes: EPROTO).
 */
int client_stream(struct client *c, const char *path, client_event_cb *cb,
    void *arg, jv *reply);

#endif
