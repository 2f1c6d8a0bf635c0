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
int client_json(struct client *c, const char *method, const char *path,
    jv body, jv *reply);

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

#endif
