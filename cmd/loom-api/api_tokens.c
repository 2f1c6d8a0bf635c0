/*
 * api_tokens: the /api/v1/tokens routes of loom-api (admin scope; see
 * api_auth.c and loom-api(8)).
 *
 *   POST   /api/v1/tokens        {"name","scope"?,"expiresIn"?} -> 201
 *                                the row plus "token", shown this once
 *   GET    /api/v1/tokens        {"tokens":[row...]}
 *   DELETE /api/v1/tokens/{id}   the row, revoked (again: unchanged)
 *
 * and a workflow's trigger tokens (admin too), which may only trigger it:
 *
 *   POST   /api/v1/workflows/{id}/trigger-tokens  {"name"?,"expiresIn"?}
 *   GET    /api/v1/workflows/{id}/trigger-tokens
 *   DELETE /api/v1/workflows/{id}/trigger-tokens/{tokenId}
 *
 * The minting, hashing and storage are lib/store/token.c's, shared with `loom
 * token --db`; this file only checks bodies and shapes answers.
 */
#include "api.h"

#include <stdlib.h>
#include <string.h>

#include "core/duration.h"
#include "store/db.h"
#include "store/token.h"
#include "core/xalloc.h"

#define TRIGGER_TOKEN_NAME "webhook" /* a trigger token's default name */

/*
 * Reads {"name","scope","expiresIn"}, or with scope NULL (a trigger
 * token) {"name"?,"expiresIn"?} where name defaults to
 * TRIGGER_TOKEN_NAME and no body is an empty one; 0, or the error status
 * in *out.
 */
static int
create_body(struct api_request *rq, const char **name, enum token_scope *scope,
    int64_t *expires_ms, jv *out)
{
	jv body = rq->json;
	const char *why;

	*name = NULL;
	if (scope != NULL)
		*scope = TOKEN_SCOPE_READ;
	*expires_ms = 0;
	if (scope == NULL && jv_get_kind(body) == JV_KIND_NULL) {
		*name = TRIGGER_TOKEN_NAME; /* no body: the defaults */
		return 0;
	}
	if (jv_get_kind(body) != JV_KIND_OBJECT)
		return api_error(out, 400, "bad_request", NULL,
		    "the body must be a JSON object like %s",
		    scope ? "{\"name\": \"ci\", \"scope\": \"operator\", "
			    "\"expiresIn\": \"30d\"}" :
			    "{\"name\": \"github\", \"expiresIn\": \"90d\"}");
	/* rq->json lives as long as the request: its strings are borrowed
	 * (jv_object_foreach does not consume the object). */
	jv_object_foreach(body, k, v)
	{
		const char *key = jv_string_value(k);
		int kind = jv_get_kind(v), bad = 0;

		if (strcmp(key, "name") == 0) {
			if (kind != JV_KIND_STRING)
				bad = 1;
		} else if (strcmp(key, "scope") == 0 && scope != NULL) {
			if (kind != JV_KIND_STRING ||
			    token_scope_parse(jv_string_value(v), scope) < 0)
				bad = 2;
		} else if (strcmp(key, "expiresIn") == 0) {
			const char *e;

			if (kind == JV_KIND_NULL)
				;
			else if (kind != JV_KIND_STRING ||
			    duration_parse(jv_string_value(v), expires_ms, &e) <
				0 ||
			    *expires_ms <= 0)
				bad = 3;
		} else
			bad = 4;
		if (bad) {
			int st = api_error(out, 422, "invalid_input", key,
			    bad == 1	 ? "'name' must be a string" :
				bad == 2 ? "'scope' must be read, operator or "
					   "admin" :
				bad == 3 ? "'expiresIn' must be a "
					   "positive duration like 12h or 30d" :
				scope ? "unknown field (expected name, scope, "
					"expiresIn)" :
					"unknown field (expected name, "
					"expiresIn)");

			jv_free(k);
			jv_free(v);
			return st;
		}
		jv_free(k);
		jv_free(v);
	}
	{
		jv n = jv_object_get(jv_copy(body), jv_string("name"));

		/* the string stays alive inside rq->json */
		*name = jv_get_kind(n) == JV_KIND_STRING ? jv_string_value(n) :
		    scope == NULL			 ? TRIGGER_TOKEN_NAME :
							   NULL;
		jv_free(n);
	}
	if ((why = token_name_problem(*name)) != NULL)
		return api_error(out, 422, "invalid_input", "name", "%s", why);
	return 0;
}

int
api_tokens_create(struct api_request *rq, jv *out)
{
	const char *name;
	enum token_scope scope;
	int64_t expires_ms;
	char *err = NULL, *loc;
	PGconn *db;
	jv row;
	int st;

	if ((st = create_body(rq, &name, &scope, &expires_ms, out)) != 0)
		return st;
	if ((db = api_db(rq)) == NULL)
		return api_db_down(out);
	if (token_db_create(db, name, scope, expires_ms, &row, &err) < 0)
		return api_db_fail(rq, out, err);
	{
		jv id = jv_object_get(jv_copy(row), jv_string("id"));

		loc = xasprintf("/api/v1/tokens/%s", jv_string_value(id));
		jv_free(id);
	}
	api_set_header(rq, "Location", loc);
	free(loc);
	api_log(LOG_LVL_INFO, "token '%s' (%s) created", name,
	    token_scope_name(scope));
	*out = row;
	return 201;
}

int
api_tokens_list(struct api_request *rq, jv *out)
{
	char *err = NULL;
	PGconn *db;
	jv list;

	if ((db = api_db(rq)) == NULL)
		return api_db_down(out);
	if (token_db_list(db, NULL, &list, &err) < 0)
		return api_db_fail(rq, out, err);
	*out = jv_object_set(jv_object(), jv_string("tokens"), list);
	return 200;
}

int
api_token_revoke(struct api_request *rq, jv *out)
{
	const char *id = rq->param[0];
	char *err = NULL;
	PGconn *db;
	int rc;

	if ((db = api_db(rq)) == NULL)
		return api_db_down(out);
	if ((rc = token_db_revoke(db, NULL, id, out, &err)) < 0)
		return api_db_fail(rq, out, err);
	if (rc == 0)
		return api_error(
		    out, 404, "not_found", "id", "no token '%s'", id);
	api_log(LOG_LVL_INFO, "token %s revoked", id);
	return 200;
}

/* ---- a workflow's trigger tokens ---------------------------------------- */

int
api_trigger_tokens_create(struct api_request *rq, jv *out)
{
	const char *wf = rq->param[0], *name;
	int64_t expires_ms;
	char *err = NULL, *loc;
	PGconn *db;
	jv row, id;
	int st;

	if ((st = create_body(rq, &name, NULL, &expires_ms, out)) != 0)
		return st;
	if ((db = api_db(rq)) == NULL)
		return api_db_down(out);
	st = token_db_create_trigger(db, wf, name, expires_ms, &row, &err);
	if (st < 0)
		return api_db_fail(rq, out, err);
	if (st == 0)
		return api_error(
		    out, 404, "not_found", "id", "no workflow '%s'", wf);
	id = jv_object_get(jv_copy(row), jv_string("id"));
	loc = xasprintf(
	    "/api/v1/workflows/%s/trigger-tokens/%s", wf, jv_string_value(id));
	api_set_header(rq, "Location", loc);
	free(loc);
	api_log(LOG_LVL_INFO, "trigger token %s '%s' of workflow %s created",
	    jv_string_value(id), name, wf);
	jv_free(id);
	*out = row;
	return 201;
}

/* 0 when workflow wf exists (deleted or not: its tokens stay listed and
 * revocable), else the 404 in *out (or the database's error). */
static int
workflow_known(struct api_request *rq, PGconn *db, const char *wf, jv *out)
{
	char *err = NULL;
	PGresult *r =
	    db_exec(db, &err, "SELECT 1 FROM workflows WHERE id = $1", 1, &wf);
	int n;

	if (r == NULL)
		return api_db_fail(rq, out, err);
	n = PQntuples(r);
	PQclear(r);
	return n > 0 ?
	    0 :
	    api_error(out, 404, "not_found", "id", "no workflow '%s'", wf);
}

int
api_trigger_tokens_list(struct api_request *rq, jv *out)
{
	const char *wf = rq->param[0];
	char *err = NULL;
	PGconn *db;
	jv list;
	int st;

	if ((db = api_db(rq)) == NULL)
		return api_db_down(out);
	if ((st = workflow_known(rq, db, wf, out)) != 0)
		return st;
	if (token_db_list(db, wf, &list, &err) < 0)
		return api_db_fail(rq, out, err);
	*out = jv_object_set(jv_object(), jv_string("tokens"), list);
	return 200;
}

int
api_trigger_token_revoke(struct api_request *rq, jv *out)
{
	const char *wf = rq->param[0], *id = rq->param[1];
	char *err = NULL;
	PGconn *db;
	int rc;

	if ((db = api_db(rq)) == NULL)
		return api_db_down(out);
	if ((rc = token_db_revoke(db, wf, id, out, &err)) < 0)
		return api_db_fail(rq, out, err);
	if (rc == 0)
		return api_error(out, 404, "not_found", "tokenId",
		    "no trigger token '%s' of workflow '%s'", id, wf);
	api_log(
	    LOG_LVL_INFO, "trigger token %s of workflow %s revoked", id, wf);
	return 200;
}
