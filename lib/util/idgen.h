/*
 * idgen: identifiers that must not be guessed or repeat, from getrandom().
 *
 * Execution ids are "exec-" followed by 20 lower-case hex digits (80 random
 * bits: a collision is not a practical concern, and ids sort nowhere, so
 * nothing leaks through them).  Callback tokens are 64 hex digits (256
 * bits): a token is the only credential of an asynchronous callback, so it
 * must be unguessable.  Both are written into caller buffers; nothing is
 * allocated, so the functions are safe from any thread.
 */
#ifndef LOOM_IDGEN_H
#define LOOM_IDGEN_H

#include <stddef.h>

#define IDGEN_EXEC_PREFIX "exec-"
#define IDGEN_EXEC_HEX 20
#define IDGEN_EXEC_LEN (sizeof(IDGEN_EXEC_PREFIX) - 1 + IDGEN_EXEC_HEX)
#define IDGEN_TOKEN_HEX 64

/*
 * Fills out with n bytes of fresh randomness.  Returns 0, or -1 with errno
 * set when the kernel cannot give randomness.
 */
int idgen_bytes(void *out, size_t n);

/*
 * Fills out with 2*nbytes lower-case hex digits of fresh randomness and a
 * NUL (out has room for 2*nbytes+1).  Returns 0, or -1 with errno set when
 * the kernel cannot give randomness (never a weaker fallback).
 */
int idgen_hex(char *out, size_t nbytes);

/* out: IDGEN_EXEC_LEN + 1 bytes.  Returns 0 or -1 (errno). */
int idgen_execution_id(char *out);
/* out: IDGEN_TOKEN_HEX + 1 bytes.  Returns 0 or -1 (errno). */
int idgen_callback_token(char *out);

/* Whether s has the shape of an execution id. */
int idgen_is_execution_id(const char *s);

#endif
