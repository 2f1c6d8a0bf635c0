/*
 * routes: loom-api's route table (every route, its body kind, handler
 * and the scope a caller needs) and the router that finds a route for a
 * method and path (api_route_find: pure, unit-tested), with the server's
 * own two routes, /healthz and /readyz.  request.c routes each request
 * once its body is in; tests/auth.bats and tests/openapi.bats read the
 * table (this file, and `loom-api --list-routes`).
 */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/db.h"

#define API_MAX_SEGMENTS 32

static int api_healthz(struct api_request *rq, jv *out);
static int api_readyz(struct api_request *rq, jv *out);

/* The last field is the scope a caller needs (api_auth.c); never leave
 * it out: an unset scope refuses every call. */
static const struct api_route api_routes[] = {
	{ "GET", "/healthz", API_BODY_NONE, api_healthz, API_SCOPE_OPEN },
	{ "GET", "/readyz", API_BODY_NONE, api_readyz, API_SCOPE_OPEN },
	{ "GET", "/api/v1/workflows", API_BODY_NONE, api_workflows_list,
	    API_SCOPE_READ },
	{ "POST", "/api/v1/workflows", API_BODY_WORKFLOW, api_workflow_apply,
	    API_SCOPE_OPERATOR },
	{ "GET", "/api/v1/workflows/{id}", API_BODY_NONE, api_workflow_get,
	    API_SCOPE_READ },
	{ "GET", "/api/v1/workflows/{id}/versions", API_BODY_NONE,
	    api_workflow_versions, API_SCOPE_READ },
	{ "GET", "/api/v1/workflows/{id}/versions/{n}", API_BODY_NONE,
	    api_workflow_version, API_SCOPE_READ },
	{ "POST", "/api/v1/workflows/{id}/trigger", API_BODY_JSON,
	    api_workflow_trigger, API_SCOPE_OPERATOR },
	{ "POST", "/api/v1/workflows/{id}/backfill", API_BODY_JSON,
	    api_workflow_backfill, API_SCOPE_OPERATOR },
	/* api_workflows.c, api_list.c: delete, pause, history */
	{ "DELETE", "/api/v1/workflows/{id}", API_BODY_NONE,
	    api_workflow_delete, API_SCOPE_OPERATOR },
	{ "POST", "/api/v1/workflows/{id}/pause", API_BODY_NONE,
	    api_workflow_pause, API_SCOPE_OPERATOR },
	{ "POST", "/api/v1/workflows/{id}/unpause", API_BODY_NONE,
	    api_workflow_unpause, API_SCOPE_OPERATOR },
	{ "GET", "/api/v1/workflows/{id}/history", API_BODY_NONE,
	    api_workflow_history, API_SCOPE_READ },
	{ "GET", "/api/v1/executions", API_BODY_NONE, api_executions_list,
	    API_SCOPE_READ },
	{ "GET", "/api/v1/executions/{id}", API_BODY_NONE, api_execution_get,
	    API_SCOPE_READ },
	/* api_events.c: server-sent events, log lines */
	{ "GET", "/api/v1/events", API_BODY_NONE, api_events_stream,
	    API_SCOPE_READ },
	{ "GET", "/api/v1/executions/{id}/events", API_BODY_NONE,
	    api_execution_events, API_SCOPE_READ },
	{ "GET", "/api/v1/executions/{id}/logs", API_BODY_NONE,
	    api_execution_logs, API_SCOPE_READ },
	/* api_controls.c: run and task controls, the dead-letter queue */
	{ "POST", "/api/v1/executions/{id}/cancel", API_BODY_NONE,
	    api_execution_cancel, API_SCOPE_OPERATOR },
	{ "POST", "/api/v1/executions/{id}/retry", API_BODY_JSON,
	    api_execution_retry, API_SCOPE_OPERATOR },
	{ "POST", "/api/v1/executions/{id}/tasks/{task}/rerun", API_BODY_JSON,
	    api_task_rerun, API_SCOPE_OPERATOR },
	{ "GET", "/api/v1/dead-letters", API_BODY_NONE, api_dead_letters_list,
	    API_SCOPE_READ },
	{ "GET", "/api/v1/dead-letters/{id}", API_BODY_NONE,
	    api_dead_letter_get, API_SCOPE_READ },
	{ "POST", "/api/v1/dead-letters/{id}/replay", API_BODY_NONE,
	    api_dead_letter_replay, API_SCOPE_OPERATOR },
	{ "POST", "/api/v1/dead-letters/{id}/discard", API_BODY_NONE,
	    api_dead_letter_discard, API_SCOPE_OPERATOR },
	{ "POST", "/api/v1/callbacks/{token}", API_BODY_JSON, api_callback,
	    API_SCOPE_CALLBACK },
	/* api_status.c; a decoded target "http://h:80" is three segments */
	{ "GET", "/api/v1/status", API_BODY_NONE, api_status, API_SCOPE_READ },
	{ "GET", "/api/v1/schedules", API_BODY_NONE, api_schedules_list,
	    API_SCOPE_READ },
	{ "GET", "/api/v1/schedules/{id}", API_BODY_NONE, api_schedule_get,
	    API_SCOPE_READ },
	{ "GET", "/api/v1/breakers", API_BODY_NONE, api_breakers_list,
	    API_SCOPE_READ },
	{ "POST", "/api/v1/breakers/{target}/reset", API_BODY_NONE,
	    api_breaker_reset, API_SCOPE_OPERATOR },
	{ "POST", "/api/v1/breakers/{scheme}//{host}/reset", API_BODY_NONE,
	    api_breaker_reset, API_SCOPE_OPERATOR },
	{ "GET", "/api/v1/tokens", API_BODY_NONE, api_tokens_list,
	    API_SCOPE_ADMIN },
	{ "POST", "/api/v1/tokens", API_BODY_JSON, api_tokens_create,
	    API_SCOPE_ADMIN },
	{ "DELETE", "/api/v1/tokens/{id}", API_BODY_NONE, api_token_revoke,
	    API_SCOPE_ADMIN },
	/* api_tokens.c: a workflow's trigger tokens */
	{ "POST", "/api/v1/workflows/{id}/trigger-tokens", API_BODY_JSON,
	    api_trigger_tokens_create, API_SCOPE_ADMIN },
	{ "GET", "/api/v1/workflows/{id}/trigger-tokens", API_BODY_NONE,
	    api_trigger_tokens_list, API_SCOPE_ADMIN },
	{ "DELETE", "/api/v1/workflows/{id}/trigger-tokens/{tokenId}",
	    API_BODY_NONE, api_trigger_token_revoke, API_SCOPE_ADMIN },
};
#define API_NROUTES (sizeof(api_routes) / sizeof(api_routes[0]))

const struct api_route *
api_route_table(size_t *n)
{
	*n = API_NROUTES;
	return api_routes;
}

/* Whether pattern's segments match seg[0..nseg); fills param. */
static int
route_match(const char *pattern, char *const *seg, size_t nseg,
    const char **param, size_t *nparam)
{
	const char *p = pattern + 1;
	size_t i = 0, np = 0;

	for (;;) {
		const char *end = strchrnul(p, '/');
		size_t len = (size_t)(end - p);

		if (i >= nseg)
			return 0;
		if (p[0] == '{') {
			if (seg[i][0] == '\0' || np >= API_MAX_PARAMS)
				return 0;
			param[np++] = seg[i];
		} else if (strlen(seg[i]) != len || strncmp(seg[i], p, len))
			return 0;
		i++;
		if (*end == '\0')
			break;
		p = end + 1;
	}
	if (i != nseg)
		return 0;
	*nparam = np;
	return 1;
}

static void
allow_add(char *allow, size_t len, const char *m)
{
	size_t n = strlen(allow);
	const char *p;

	/* Already listed?  (Whole words only.) */
	for (p = allow; (p = strstr(p, m)) != NULL; p += strlen(m))
		if ((p == allow || p[-1] == ' ') &&
		    (p[strlen(m)] == ',' || p[strlen(m)] == '\0'))
			return;
	snprintf(allow + n, len - n, "%s%s", n ? ", " : "", m);
}

const struct api_route *
api_route_find(const struct api_route *tab, size_t n, const char *method,
    char *path, const char **param, size_t *nparam, char *allow,
    size_t allowlen)
{
	char *seg[API_MAX_SEGMENTS];
	size_t nseg = 0, len = strlen(path);
	const char *want = strcmp(method, "HEAD") == 0 ? "GET" : method;

	allow[0] = '\0';
	*nparam = 0;
	if (path[0] != '/')
		return NULL;
	if (len > 1 && path[len - 1] == '/')
		path[len - 1] = '\0'; /* "/api/v1/workflows/" is the list */
	for (char *p = path + 1;;) {
		char *slash = strchr(p, '/');

		if (nseg == API_MAX_SEGMENTS)
			return NULL;
		seg[nseg++] = p;
		if (slash == NULL)
			break;
		*slash = '\0';
		p = slash + 1;
	}
	for (size_t i = 0; i < n; i++) {
		const char *tmp[API_MAX_PARAMS];
		size_t np;

		if (!route_match(tab[i].pattern, seg, nseg, tmp, &np))
			continue;
		if (strcmp(tab[i].method, want) == 0) {
			memcpy(param, tmp, np * sizeof(*tmp));
			*nparam = np;
			allow[0] = '\0';
			return &tab[i];
		}
		allow_add(allow, allowlen, tab[i].method);
		if (strcmp(tab[i].method, "GET") == 0)
			allow_add(allow, allowlen, "HEAD");
	}
	return NULL;
}

/* ---- health ------------------------------------------------------------- */

static int
api_healthz(struct api_request *rq, jv *out)
{
	*out = jv_object_set(jv_object(), jv_string("status"), jv_string("ok"));
	return 200;
}

static int
api_readyz(struct api_request *rq, jv *out)
{
	PGconn *db = api_db(rq);
	char *err = NULL;

	if (db == NULL)
		return api_db_down(out);
	if (db_schema_check(db, &err) < 0) {
		if (PQstatus(db) != CONNECTION_OK)
			return api_db_fail(rq, out, err);
		api_error(out, 503, "unavailable", NULL, "%s", err);
		free(err);
		return 503;
	}
	*out =
	    jv_object_set(jv_object(), jv_string("status"), jv_string("ready"));
	return 200;
}
