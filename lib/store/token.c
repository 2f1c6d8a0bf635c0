/*
 * token: see token.h.  The row shape of every answer comes from one
 * column list (ROW_COLS) and one converter (row_jv), so create, list and
 * revoke agree.  Verification always hashes and compares, also for an
 * unknown id (against a row of zeros), so a refusal takes as long
 * whether or not the id exists.
 */
#include "token.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "db.h"
#include "util/idgen.h"
#include "util/jsonutil.h"
#include "core/xalloc.h"

/* clang-format off */
#define ROW_COLS \
	"id, name, scope, " SQL_ISO("created_at") ", " \
	SQL_ISO("last_used_at") ", " SQL_ISO("expires_at") ", " \
	SQL_ISO("revoked_at") ", revoked_at IS NULL AND " \
	"(expires_at IS NULL OR expires_at > now()), workflow_id"
/* clang-format on */

static const char *const scope_names[] = { "none", "trigger", "read",
	"operator", "admin" };

int
token_scope_parse(const char *s, enum token_scope *out)
{
	for (int i = TOKEN_SCOPE_READ; i <= TOKEN_SCOPE_ADMIN; i++)
		if (s != NULL && strcmp(s, scope_names[i]) == 0) {
			*out = (enum token_scope)i;
			return 0;
		}
	return -1;
}

const char *
token_scope_name(enum token_scope s)
{
	return (unsigned)s <= TOKEN_SCOPE_ADMIN ? scope_names[s] : "none";
}

int
token_generate(char *token, char *id)
{
	char secret[TOKEN_SECRET_HEX + 1];

	if (idgen_hex(id, TOKEN_ID_HEX / 2) < 0 ||
	    idgen_hex(secret, TOKEN_SECRET_HEX / 2) < 0)
		return -1;
	snprintf(token, TOKEN_LEN + 1, "%s%s_%s", TOKEN_PREFIX, id, secret);
	explicit_bzero(secret, sizeof(secret));
	return 0;
}

static int
lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
			(s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

int
token_parse(const char *s, char *id)
{
	size_t plen = sizeof(TOKEN_PREFIX) - 1;

	if (s == NULL || strlen(s) != TOKEN_LEN ||
	    strncmp(s, TOKEN_PREFIX, plen) != 0 ||
	    s[plen + TOKEN_ID_HEX] != '_' ||
	    !lower_hex(s + plen, TOKEN_ID_HEX) ||
	    !lower_hex(s + plen + TOKEN_ID_HEX + 1, TOKEN_SECRET_HEX))
		return -1;
	memcpy(id, s + plen, TOKEN_ID_HEX);
	id[TOKEN_ID_HEX] = '\0';
	return 0;
}

void
token_hash(const char *token, char hex[SHA256_HEX_LEN + 1])
{
	uint8_t d[SHA256_LEN];

	sha256(token, strlen(token), d);
	hex_encode(d, sizeof(d), hex);
}

const char *
token_name_problem(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0)
		return "a token needs a name";
	if (n > TOKEN_NAME_MAX)
		return "a token name is at most 128 bytes";
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return "a token name cannot hold control characters";
	return NULL;
}

/* One row of ROW_COLS as the API shows it. */
static jv
row_jv(const PGresult *r, int i)
{
	jv o = jv_object();

	o = jv_put(o, "id", pg_jv_text(r, i, 0));
	o = jv_put(o, "name", pg_jv_text(r, i, 1));
	o = jv_put(o, "scope", pg_jv_text(r, i, 2));
	o = jv_put(o, "workflowId", pg_jv_text(r, i, 8));
	o = jv_put(o, "createdAt", pg_jv_text(r, i, 3));
	o = jv_put(o, "lastUsedAt", pg_jv_text(r, i, 4));
	o = jv_put(o, "expiresAt", pg_jv_text(r, i, 5));
	o = jv_put(o, "revokedAt", pg_jv_text(r, i, 6));
	o = jv_put(o, "active", pg_jv_bool(r, i, 7));
	return o;
}

/*
 * Mints a token of scope for workflow (NULL but for a trigger token).
 * 1, 0 when a trigger token's workflow is not there, -1 with *err.
 */
static int
create(PGconn *c, const char *workflow, const char *name,
    enum token_scope scope, int64_t expires_ms, jv *out, char **err)
{
	char token[TOKEN_LEN + 1], id[TOKEN_ID_HEX + 1];
	char hash[SHA256_HEX_LEN + 1], ms[32];
	const char *p[6];
	PGresult *r;
	int n;

	if (token_generate(token, id) < 0) {
		*err =
		    xasprintf("no randomness for a token: %s", strerror(errno));
		return -1;
	}
	token_hash(token, hash);
	snprintf(ms, sizeof(ms), "%lld", (long long)expires_ms);
	p[0] = id;
	p[1] = name;
	p[2] = token_scope_name(scope);
	p[3] = hash;
	p[4] = expires_ms > 0 ? ms : NULL;
	p[5] = workflow;
	/* A trigger token's workflow must be there (and stay, FOR KEY
	 * SHARE, until the row is in). */
	r = db_exec(c, err,
	    "INSERT INTO api_tokens (id, name, scope, hash, expires_at, "
	    "workflow_id) SELECT $1, $2, $3, $4, now() + $5::bigint * "
	    "interval '1 millisecond', $6::text WHERE $6::text IS NULL OR "
	    "EXISTS (SELECT 1 FROM workflows WHERE id = $6 AND deleted_at "
	    "IS NULL FOR KEY SHARE) RETURNING " ROW_COLS,
	    6, p);
	if (r == NULL) {
		explicit_bzero(token, sizeof(token));
		return -1;
	}
	if ((n = PQntuples(r)) > 0)
		*out = jv_put(row_jv(r, 0), "token", jv_string(token));
	explicit_bzero(token, sizeof(token));
	PQclear(r);
	return n > 0;
}

int
token_db_create(PGconn *c, const char *name, enum token_scope scope,
    int64_t expires_ms, jv *out, char **err)
{
	return create(c, NULL, name, scope, expires_ms, out, err) < 0 ? -1 : 0;
}

int
token_db_create_trigger(PGconn *c, const char *workflow, const char *name,
    int64_t expires_ms, jv *out, char **err)
{
	return create(
	    c, workflow, name, TOKEN_SCOPE_TRIGGER, expires_ms, out, err);
}

int
token_db_list(PGconn *c, const char *workflow, jv *out, char **err)
{
	PGresult *r;
	jv a = jv_array();

	r = db_exec(c, err,
	    "SELECT " ROW_COLS " FROM api_tokens WHERE $1::text IS NULL OR "
	    "(scope = 'trigger' AND workflow_id = $1) "
	    "ORDER BY created_at, id",
	    1, &workflow);
	if (r == NULL) {
		jv_free(a);
		return -1;
	}
	for (int i = 0; i < PQntuples(r); i++)
		a = jv_array_append(a, row_jv(r, i));
	PQclear(r);
	*out = a;
	return 0;
}

int
token_db_revoke(
    PGconn *c, const char *workflow, const char *id, jv *out, char **err)
{
	const char *p[2] = { id, workflow };
	PGresult *r;
	int n;

	r = db_exec(c, err,
	    "UPDATE api_tokens SET revoked_at = "
	    "coalesce(revoked_at, now()) WHERE id = $1 AND ($2::text IS NULL "
	    "OR (scope = 'trigger' AND workflow_id = $2)) RETURNING " ROW_COLS,
	    2, p);
	if (r == NULL)
		return -1;
	if ((n = PQntuples(r)) > 0)
		*out = row_jv(r, 0);
	PQclear(r);
	return n > 0;
}

/* A stored scope: token_scope_parse()'s, and "trigger". */
static int
stored_scope(const char *s, enum token_scope *out)
{
	if (strcmp(s, "trigger") == 0) {
		*out = TOKEN_SCOPE_TRIGGER;
		return 0;
	}
	return token_scope_parse(s, out);
}

int
token_db_verify(PGconn *c, const char *token, enum token_scope *scope,
    char *id_out, char **workflow, const char **why, char **err)
{
	char id[TOKEN_ID_HEX + 1], hash[SHA256_HEX_LEN + 1];
	static const char nothing[SHA256_HEX_LEN + 1] =
	    "0000000000000000000000000000000000000000000000000000000000000000";
	const char *stored = nothing, *p[1] = { id };
	PGresult *r;
	int found, match, rc = 0;

	*scope = TOKEN_SCOPE_NONE;
	if (workflow != NULL)
		*workflow = NULL;
	if (token_parse(token, id) < 0) {
		*why = "not a Link Loom token (expected loom_<id>_<secret>)";
		return 0;
	}
	r = db_exec(c, err,
	    "SELECT scope, hash, revoked_at IS NOT NULL, "
	    "expires_at IS NOT NULL AND expires_at <= now(), "
	    "last_used_at IS NULL OR last_used_at < now() - "
	    "interval '1 minute', workflow_id FROM api_tokens WHERE id = $1",
	    1, p);
	if (r == NULL)
		return -1;
	found =
	    PQntuples(r) == 1 && strlen(PQgetvalue(r, 0, 1)) == SHA256_HEX_LEN;
	if (found)
		stored = PQgetvalue(r, 0, 1);
	token_hash(token, hash);
	/* Compared whether or not the id exists: the same work either way. */
	match = ct_memeq(hash, stored, SHA256_HEX_LEN) && found;
	if (!found || !match)
		*why = "unknown token";
	else if (strcmp(PQgetvalue(r, 0, 2), "t") == 0)
		*why = "this token has been revoked";
	else if (strcmp(PQgetvalue(r, 0, 3), "t") == 0)
		*why = "this token has expired";
	else if (stored_scope(PQgetvalue(r, 0, 0), scope) < 0)
		*why = "this token has an unknown scope";
	else
		rc = 1;
	if (rc == 1 && strcmp(PQgetvalue(r, 0, 4), "t") == 0 &&
	    db_cmd(c, err,
		"UPDATE api_tokens SET last_used_at = now() "
		"WHERE id = $1",
		1, p) < 0)
		rc = -1;
	if (rc == 1 && workflow != NULL && !PQgetisnull(r, 0, 5))
		*workflow = xstrdup(PQgetvalue(r, 0, 5));
	PQclear(r);
	if (rc == 1 && id_out != NULL)
		memcpy(id_out, id, sizeof(id));
	if (rc != 1)
		*scope = TOKEN_SCOPE_NONE;
	return rc;
}
