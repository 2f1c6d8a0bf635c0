/*
 * sign: HMAC signatures on HTTP callbacks to user backends.
 *
 * A workflow (or one http task) may say `signing: {secretEnv: NAME}`.
 * The task spec then carries "signing": {"secretEnv": NAME}, and loom-exec
 * reads the secret from its own environment variable NAME when it sends
 * the request -- the secret is never in the workflow, the database, the
 * API or a log, and rotating it is a restart of the executors.  The
 * request gets two headers:
 *
 *   X-Loom-Timestamp: <unix seconds>
 *   X-Loom-Signature: v1=<hex HMAC-SHA256(secret, timestamp "." body)>
 *
 * where body is the exact bytes sent (empty for GET and HEAD).  Binding
 * the timestamp into the MAC lets a backend refuse replays: it rejects
 * timestamps more than SIGN_MAX_SKEW_S away from its clock (see
 * loom-workflow(5), SIGNING, for a verification recipe).
 *
 * Pure apart from getenv(); used by lib/run/run_http.c, and sign_verify() by
 * backends written in C (tests/backend).
 */
#ifndef LOOM_SIGN_H
#define LOOM_SIGN_H

#include <stddef.h>
#include <time.h>

#include <jv.h>

#define SIGN_TS_HEADER "X-Loom-Timestamp"
#define SIGN_SIG_HEADER "X-Loom-Signature"
#define SIGN_SCHEME "v1="
#define SIGN_VALUE_LEN (sizeof(SIGN_SCHEME) - 1 + 64) /* "v1=" + hex */
#define SIGN_MAX_SKEW_S 300 /* the replay window we advise */

/*
 * The X-Loom-Signature value for body sent at ts, under secret (slen
 * bytes), into out (SIGN_VALUE_LEN + 1 bytes).
 */
void sign_value(const void *secret, size_t slen, long long ts, const char *body,
    size_t len, char *out);

/*
 * The signing headers for a request of task (borrowed; its "signing"
 * object, if any, names the environment variable) with body: on success
 * lines[0] and lines[1] are "X-Loom-Timestamp: ..." and "X-Loom-Signature:
 * ..." (malloc'd), or both NULL when the task is not signed.  Returns -1
 * with *err (malloc'd) when "signing" is malformed or the variable is not
 * set or empty: the attempt must fail, never go out unsigned.
 */
int sign_task_headers(jv task, const char *body, size_t len, time_t now,
    char *lines[2], char **err);

/*
 * Checks a received signature: ts and sig are the header values (may be
 * NULL).  Returns 0 when sig is the signature of body at ts under secret
 * and ts is within max_skew seconds of now (max_skew < 0: not checked);
 * -1 otherwise.  The comparison is constant-time.
 */
int sign_verify(const void *secret, size_t slen, const char *ts,
    const char *sig, const char *body, size_t len, time_t now, long max_skew);

#endif
