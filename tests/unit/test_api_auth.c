/*
 * test_api_auth: loom-api's access rules, without a server.
 *
 * Walks the real route table (api_route_table()) and checks that every
 * route names a scope and that the scopes follow the rules of loom-api(8):
 * only /healthz and /readyz are open, only the callback route is
 * authenticated by its own token, every other GET needs read, every other
 * method operator, and token management (trigger tokens too) admin.  Then the
 * parts of api_auth_check() that need no connection (an unset scope fails
 * closed even with api.auth = none) and the parsing of the api.auth,
 * api.socket_trust and api.trusted_uids settings.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/loom-api/api.h"
#include "t.h"

static int
starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The scope the rules of loom-api(8) give a route. */
static enum api_scope
expected_scope(const struct api_route *r)
{
	if (strcmp(r->pattern, "/healthz") == 0 ||
	    strcmp(r->pattern, "/readyz") == 0)
		return API_SCOPE_OPEN;
	if (starts(r->pattern, "/api/v1/callbacks/") &&
	    strcmp(r->method, "POST") == 0)
		return API_SCOPE_CALLBACK;
	if (strcmp(r->pattern, "/api/v1/tokens") == 0 ||
	    starts(r->pattern, "/api/v1/tokens/") ||
	    strstr(r->pattern, "/trigger-tokens") != NULL)
		return API_SCOPE_ADMIN;
	if (strcmp(r->method, "GET") == 0)
		return API_SCOPE_READ;
	return API_SCOPE_OPERATOR;
}

static void
walk_table(void)
{
	size_t n, ntokens = 0;
	const struct api_route *tab = api_route_table(&n);

	ok(n >= 14, "the route table has %zu routes", n);
	for (size_t i = 0; i < n; i++) {
		const struct api_route *r = &tab[i];

		ok(r->scope != API_SCOPE_UNSET, "%s %s has a scope", r->method,
		    r->pattern);
		is_str(api_scope_name(r->scope),
		    api_scope_name(expected_scope(r)), "%s %s: scope",
		    r->method, r->pattern);
		if (starts(r->pattern, "/api/v1/tokens"))
			ntokens++;
	}
	is_int(ntokens, 3, "three token routes (create, list, revoke)");
}

static void
check_without_conn(void)
{
	struct api_options o;
	struct api_request rq;
	jv out = jv_invalid();
	int st;

	memset(&o, 0, sizeof(o));
	memset(&rq, 0, sizeof(rq));
	rq.method = "GET";
	rq.path = "/api/v1/new-thing";
	rq.json = jv_null();

	o.auth = API_AUTH_NONE;
	st = api_auth_check(&rq, &o, API_SCOPE_UNSET, &out);
	is_int(st, 403, "an unset scope is refused with api.auth = none");
	{
		jv code = jv_getpath(jv_copy(out),
		    JV_ARRAY(jv_string("error"), jv_string("code")));

		is_str(jv_get_kind(code) == JV_KIND_STRING ?
			jv_string_value(code) :
			NULL,
		    "forbidden", "...with the error code forbidden");
		jv_free(code);
	}
	jv_free(out);
	out = jv_invalid();
	o.auth = API_AUTH_TOKEN;
	st = api_auth_check(&rq, &o, (enum api_scope)99, &out);
	is_int(st, 403, "an unknown scope is refused with api.auth = token");
	jv_free(out);
	out = jv_invalid();

	is_int(api_auth_check(&rq, &o, API_SCOPE_OPEN, &out), 0,
	    "open routes need nothing with api.auth = token");
	is_int(api_auth_check(&rq, &o, API_SCOPE_CALLBACK, &out), 0,
	    "the callback route is left to its handler");
	o.auth = API_AUTH_NONE;
	is_int(api_auth_check(&rq, &o, API_SCOPE_ADMIN, &out), 0,
	    "api.auth = none lets admin routes through");
	ok(!jv_is_valid(out), "no body when allowed");
	jv_free(out);
}

static const struct {
	const char *auth, *trust, *uids;
	int ok; /* loads without a problem */
	enum api_auth_mode mode;
	int trust_uid;
	size_t nuids;
	uid_t uid0;
} settings[] = {
	{ NULL, NULL, NULL, 1, API_AUTH_NONE, 1, 0, 0 },
	{ "token", NULL, NULL, 1, API_AUTH_TOKEN, 1, 0, 0 },
	{ "none", "none", NULL, 1, API_AUTH_NONE, 0, 0, 0 },
	{ "token", "uid", "1234, root 42", 1, API_AUTH_TOKEN, 1, 3, 1234 },
	{ "Token", NULL, NULL, 0, API_AUTH_NONE, 1, 0, 0 },
	{ "basic", NULL, NULL, 0, API_AUTH_NONE, 1, 0, 0 },
	{ NULL, "always", NULL, 0, API_AUTH_NONE, 1, 0, 0 },
	{ NULL, NULL, "no-such-user-for-loom", 0, API_AUTH_NONE, 1, 0, 0 },
	{ NULL, NULL, "12x", 0, API_AUTH_NONE, 1, 0, 0 },
	{ NULL, NULL, "", 1, API_AUTH_NONE, 1, 0, 0 },
};

static void
set(const char *name, const char *v)
{
	if (v)
		setenv(name, v, 1);
	else
		unsetenv(name);
}

static void
load_settings(void)
{
	for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++) {
		struct api_options o;
		struct diags d;

		memset(&o, 0, sizeof(o));
		diags_init(&d);
		set("LOOM_API_AUTH", settings[i].auth);
		set("LOOM_API_SOCKET_TRUST", settings[i].trust);
		set("LOOM_API_TRUSTED_UIDS", settings[i].uids);
		api_auth_options_load(&o, NULL, &d);
		is_int(d.n == 0, settings[i].ok, "settings #%zu: %s", i,
		    settings[i].ok ? "accepted" : "refused");
		if (settings[i].ok) {
			is_int(o.auth, settings[i].mode,
			    "settings #%zu: "
			    "api.auth",
			    i);
			is_int(o.socket_trust_uid, settings[i].trust_uid,
			    "settings #%zu: api.socket_trust", i);
			is_int(o.ntrusted_uids, settings[i].nuids,
			    "settings #%zu: trusted uids", i);
			if (settings[i].nuids > 0) {
				is_int(o.trusted_uids[0], settings[i].uid0,
				    "settings #%zu: first uid", i);
				is_int(o.trusted_uids[1], 0,
				    "settings #%zu: root is uid 0", i);
			}
		}
		free(o.trusted_uids);
		diags_clear(&d);
	}
	set("LOOM_API_AUTH", NULL);
	set("LOOM_API_SOCKET_TRUST", NULL);
	set("LOOM_API_TRUSTED_UIDS", NULL);
}

int
main(void)
{
	log_init("test_api_auth", LOG_LVL_ERR);
	walk_table();
	check_without_conn();
	load_settings();
	return t_done();
}
