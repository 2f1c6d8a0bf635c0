/*
 * token: API bearer tokens (table api_tokens, schema/006_tokens.sql).
 *
 * A token is "loom_<id>_<secret>": id is TOKEN_ID_HEX hex digits, the
 * public handle that lists show and revocation takes; secret is
 * TOKEN_SECRET_HEX hex digits (256 bits from getrandom).  The plain token
 * exists only in the answer to its creation; the database keeps the
 * SHA-256 of the whole token, and verification looks the row up by id and
 * compares hashes in constant time, so neither a copy of the table nor
 * the timing of a refusal tells anything about a secret.
 *
 * Scopes are ordered: read < operator < admin; a token of a scope may do
 * everything the lower ones may.  A trigger token (scope "trigger", with
 * the workflow it belongs to) sits below read: it passes no scope check,
 * and loom-api lets it do one thing only, trigger its workflow.  Which scope
 * each API route needs is in loom-api's route table (cmd/loom-api/routes.c);
 * this module only mints, lists, revokes and verifies.  It is shared by
 * loom-api and by `loom token
 * --db`, which makes the first admin token straight in the database.
 *
 * Database functions are blocking (libpq), parameterized, and return 0 /
 * 1 / -1 as documented with *err (malloc'd) on a database error; jv
 * results follow the jv rule (the caller owns *out).
 */
#ifndef LOOM_TOKEN_H
#define LOOM_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include <jv.h>
#include <libpq-fe.h>

#include "util/digest.h"

#define TOKEN_PREFIX "loom_"
#define TOKEN_ID_HEX 12
#define TOKEN_SECRET_HEX 64
#define TOKEN_LEN \
	(sizeof(TOKEN_PREFIX) - 1 + TOKEN_ID_HEX + 1 + TOKEN_SECRET_HEX)
#define TOKEN_NAME_MAX 128

enum token_scope {
	TOKEN_SCOPE_NONE = 0, /* no valid token */
	TOKEN_SCOPE_TRIGGER,  /* POST /api/v1/workflows/{its id}/trigger */
	TOKEN_SCOPE_READ,
	TOKEN_SCOPE_OPERATOR,
	TOKEN_SCOPE_ADMIN,
};

/*
 * "read", "operator", "admin"; 0 or -1 for anything else ("trigger" too:
 * a trigger token is made for a workflow, by token_db_create_trigger()).
 */
int token_scope_parse(const char *s, enum token_scope *out);
/* The name of a scope ("none" for TOKEN_SCOPE_NONE, "trigger"). */
const char *token_scope_name(enum token_scope s);

/*
 * A fresh token into token (TOKEN_LEN + 1 bytes) and its id into id
 * (TOKEN_ID_HEX + 1).  Returns 0, or -1 with errno when the kernel gives
 * no randomness.
 */
int token_generate(char *token, char *id);

/*
 * Whether s has the shape of a token; when it has, its id is copied to
 * id (TOKEN_ID_HEX + 1 bytes).  Returns 0 or -1.
 */
int token_parse(const char *s, char *id);

/* The stored form: lower-case hex SHA-256 of the whole token. */
void token_hash(const char *token, char hex[SHA256_HEX_LEN + 1]);

/*
 * Whether name is acceptable for a token (1..TOKEN_NAME_MAX bytes, no
 * control characters).  NULL when it is, else a static reason.
 */
const char *token_name_problem(const char *name);

/*
 * Mints a token and stores its hash.  expires_ms > 0 sets expires_at that
 * far from now (the database's clock); 0 means no expiry.  On success *out
 * is the row as token_db_list() shows it plus "token": the plain token,
 * which is never available again.  Returns 0, or -1 with *err.
 */
int token_db_create(PGconn *c, const char *name, enum token_scope scope,
    int64_t expires_ms, jv *out, char **err);

/*
 * Mints a trigger token for workflow (which must exist and not be
 * deleted), as token_db_create() does otherwise.  Returns 1, 0 when
 * there is no such workflow, or -1 with *err.
 */
int token_db_create_trigger(PGconn *c, const char *workflow, const char *name,
    int64_t expires_ms, jv *out, char **err);

/*
 * Every token, oldest first, as an array of {"id","name","scope",
 * "workflowId","createdAt","lastUsedAt","expiresAt","revokedAt","active"}
 * (times are ISO 8601 UTC or null; workflowId is a trigger token's
 * workflow, else null).  With workflow set, only that workflow's trigger
 * tokens.  Returns 0, or -1 with *err.
 */
int token_db_list(PGconn *c, const char *workflow, jv *out, char **err);

/*
 * Revokes token id (revoking a revoked token keeps its first revoked_at);
 * with workflow set, only when it is a trigger token of that workflow.
 * Returns 1 with *out the row, 0 when there is no such token, -1 with
 * *err.
 */
int token_db_revoke(
    PGconn *c, const char *workflow, const char *id, jv *out, char **err);

/*
 * Checks a presented token.  Returns 1 with *scope and id (TOKEN_ID_HEX +
 * 1 bytes, may be NULL) when it is valid, 0 with *why (static) when it is
 * not (malformed, unknown, revoked, expired), -1 with *err.  A trigger
 * token's workflow goes to *workflow (malloc'd; the caller frees it; NULL
 * for other tokens), when workflow is not NULL.  Refreshes last_used_at
 * when it is more than a minute old.
 */
int token_db_verify(PGconn *c, const char *token, enum token_scope *scope,
    char *id, char **workflow, const char **why, char **err);

#endif
