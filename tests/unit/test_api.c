/*
 * test_api: the router of loom-api (api_route_find) on a table shaped like
 * the real one: exact routes, {params}, 404 vs 405 with the Allow list,
 * HEAD served as GET, trailing slashes, empty segments.
 */
#include <string.h>

#include "cmd/loom-api/api.h"
#include "t.h"

static int
h_list(struct api_request *rq, jv *out)
{
	return 200;
}
static int
h_apply(struct api_request *rq, jv *out)
{
	return 201;
}
static int
h_get(struct api_request *rq, jv *out)
{
	return 200;
}
static int
h_ver(struct api_request *rq, jv *out)
{
	return 200;
}
static int
h_trig(struct api_request *rq, jv *out)
{
	return 201;
}

static const struct api_route tab[] = {
	{ "GET", "/api/v1/workflows", API_BODY_NONE, h_list, API_SCOPE_READ },
	{ "POST", "/api/v1/workflows", API_BODY_WORKFLOW, h_apply,
	    API_SCOPE_OPERATOR },
	{ "GET", "/api/v1/workflows/{id}", API_BODY_NONE, h_get,
	    API_SCOPE_READ },
	{ "GET", "/api/v1/workflows/{id}/versions/{n}", API_BODY_NONE, h_ver,
	    API_SCOPE_READ },
	{ "POST", "/api/v1/workflows/{id}/trigger", API_BODY_JSON, h_trig,
	    API_SCOPE_OPERATOR },
};

static const struct {
	const char *method, *path;
	api_handler *want; /* NULL: no route */
	const char *allow; /* when want is NULL */
	const char *p0, *p1;
} cases[] = {
	{ "GET", "/api/v1/workflows", h_list, "", NULL, NULL },
	{ "POST", "/api/v1/workflows", h_apply, "", NULL, NULL },
	{ "HEAD", "/api/v1/workflows", h_list, "", NULL, NULL },
	{ "GET", "/api/v1/workflows/", h_list, "", NULL, NULL },
	{ "DELETE", "/api/v1/workflows", NULL, "GET, HEAD, POST", NULL, NULL },
	{ "GET", "/api/v1/workflows/daily", h_get, "", "daily", NULL },
	{ "GET", "/api/v1/workflows/daily/versions/3", h_ver, "", "daily",
	    "3" },
	{ "POST", "/api/v1/workflows/daily/trigger", h_trig, "", "daily",
	    NULL },
	{ "GET", "/api/v1/workflows/daily/trigger", NULL, "POST", NULL, NULL },
	{ "PUT", "/api/v1/workflows/daily", NULL, "GET, HEAD", NULL, NULL },
	{ "GET", "/api/v1/workflows/daily/versions", NULL, "", NULL, NULL },
	{ "GET", "/api/v1/workflows//versions/3", NULL, "", NULL, NULL },
	{ "GET", "/api/v1", NULL, "", NULL, NULL },
	{ "GET", "/", NULL, "", NULL, NULL },
	{ "GET", "", NULL, "", NULL, NULL },
	{ "GET", "/api/v1/workflows/a/b/c/d/e", NULL, "", NULL, NULL },
	{ "GET",
	    "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t/u/v/w/x/y/z/0/1/"
	    "2/3/4/5/6/7/8/9",
	    NULL, "", NULL, NULL },
};

int
main(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char path[256], allow[64];
		const char *param[API_MAX_PARAMS] = { NULL };
		size_t np = 99;
		const struct api_route *r;

		snprintf(path, sizeof(path), "%s", cases[i].path);
		r = api_route_find(tab, sizeof(tab) / sizeof(tab[0]),
		    cases[i].method, path, param, &np, allow, sizeof(allow));
		ok((r ? r->fn : NULL) == cases[i].want, "%s %s: handler",
		    cases[i].method, cases[i].path);
		if (r == NULL) {
			is_str(allow, cases[i].allow, "%s %s: allow",
			    cases[i].method, cases[i].path);
			continue;
		}
		is_int(np, (cases[i].p0 != NULL) + (cases[i].p1 != NULL),
		    "%s %s: params", cases[i].method, cases[i].path);
		if (cases[i].p0)
			is_str(param[0], cases[i].p0, "%s %s: param 0",
			    cases[i].method, cases[i].path);
		if (cases[i].p1)
			is_str(param[1], cases[i].p1, "%s %s: param 1",
			    cases[i].method, cases[i].path);
	}
	return t_done();
}
