/*
 * api_auth: who may call which route of loom-api (loom-api(8),
 * AUTHENTICATION).
 *
 * Every route in routes.c's table names the scope it needs, and request.c calls
 * api_auth_check() once per request, after routing and before the body
 * is looked at or the handler runs; this file is the only place that
 * decides.  The order of the decision:
 *
 *   1. A route without a scope is refused (403), whatever the settings:
 *      forgetting one must not open a route.
 *   2. open routes (/healthz, /readyz) and the callback route (which its
 *      own unguessable callback token authenticates, in its handler) pass.
 *   3. api.auth = none: everything passes.  This is the default, meant
 *      for one user on loopback (`loom up`); a warning is logged when a
 *      TCP listener is on anything but loopback.
 *   4. A Unix-socket peer whose SO_PEERCRED uid is root, loom-api's own
 *      uid or one of api.trusted_uids passes as admin, unless
 *      api.socket_trust = none.  The kernel vouches for that uid, and the
 *      socket file's mode already limits who can connect.
 *   5. Otherwise an "Authorization: Bearer loom_..." token must be valid
 *      (lib/store/token.c: not revoked, not expired) -- else 401 with
 *      WWW-Authenticate -- and its scope must cover the route's -- else
 *      403.  read < operator < admin.
 *   6. A trigger token (scope "trigger", made for one workflow) covers no
 *      scope: it passes for exactly POST /api/v1/workflows/{its
 *      workflow}/trigger and is 403 everywhere else, with a message that
 *      says so; nor may it force the trigger of a paused workflow
 *      (?force=true), which is the operator's call.  With api.auth = none
 *      it is not even looked at (step 3): every caller may trigger then.
 *
 * The token routes (api_tokens.c) are admin routes like any other.
 */
#include "api.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/config.h"
#include "store/token.h"
#include "core/xalloc.h"

#define REALM "Bearer realm=\"loom\""

static const char *const scope_names[] = { "unset", "open", "callback", "read",
	"operator", "admin" };

const char *
api_scope_name(enum api_scope s)
{
	return (unsigned)s <= API_SCOPE_ADMIN ? scope_names[s] : "unset";
}

/* ---- options ------------------------------------------------------------ */

/* A uid as a number or a user name. */
static int
parse_uid(const char *s, uid_t *out)
{
	struct passwd pw, *res = NULL;
	char buf[4096], *end;
	unsigned long n;

	if (isdigit((unsigned char)*s)) {
		errno = 0;
		n = strtoul(s, &end, 10);
		if (errno || *end != '\0' || n >= (uid_t)-1)
			return -1;
		*out = (uid_t)n;
		return 0;
	}
	if (getpwnam_r(s, &pw, buf, sizeof(buf), &res) != 0 || res == NULL)
		return -1;
	*out = pw.pw_uid;
	return 0;
}

/* Whether a listen address ("HOST:PORT") is on loopback only. */
static int
loopback_only(const char *listen)
{
	struct in6_addr a6;
	struct in_addr a4;
	char host[256];
	const char *colon = strrchr(listen, ':');
	size_t n = colon ? (size_t)(colon - listen) : 0;

	if (n == 0 || n >= sizeof(host))
		return 0; /* ":PORT" is every address */
	memcpy(host, listen, n);
	host[n] = '\0';
	if (host[0] == '[' && host[n - 1] == ']') {
		host[n - 1] = '\0';
		return inet_pton(AF_INET6, host + 1, &a6) == 1 &&
		    IN6_IS_ADDR_LOOPBACK(&a6);
	}
	if (strcmp(host, "localhost") == 0)
		return 1;
	return inet_pton(AF_INET, host, &a4) == 1 &&
	    (ntohl(a4.s_addr) >> 24) == 127;
}

void
api_auth_options_load(
    struct api_options *o, const struct config *cfg, struct diags *d)
{
	const char *file = cfg ? config_path(cfg) : "-";
	const char *v;
	char *list, *tok, *save = NULL;

	v = config_get(cfg, "api.auth", "none");
	if (strcmp(v, "none") == 0)
		o->auth = API_AUTH_NONE;
	else if (strcmp(v, "token") == 0)
		o->auth = API_AUTH_TOKEN;
	else
		diags_add(
		    d, file, 0, 0, "api.auth '%s' must be none or token", v);
	v = config_get(cfg, "api.socket_trust", "uid");
	if (strcmp(v, "uid") == 0)
		o->socket_trust_uid = 1;
	else if (strcmp(v, "none") == 0)
		o->socket_trust_uid = 0;
	else
		diags_add(d, file, 0, 0,
		    "api.socket_trust '%s' must be uid "
		    "or none",
		    v);
	free(o->trusted_uids);
	o->trusted_uids = NULL;
	o->ntrusted_uids = 0;
	list = xstrdup(config_get(cfg, "api.trusted_uids", ""));
	for (tok = strtok_r(list, ", \t", &save); tok != NULL;
	     tok = strtok_r(NULL, ", \t", &save)) {
		uid_t uid;

		if (parse_uid(tok, &uid) < 0) {
			diags_add(d, file, 0, 0,
			    "api.trusted_uids: '%s' is "
			    "neither a uid nor a known user name",
			    tok);
			continue;
		}
		o->trusted_uids = xreallocarray(
		    o->trusted_uids, o->ntrusted_uids + 1, sizeof(uid_t));
		o->trusted_uids[o->ntrusted_uids++] = uid;
	}
	free(list);
	if (o->auth == API_AUTH_NONE && o->listen != NULL &&
	    !loopback_only(o->listen))
		log_warnx(
		    "api.auth is none and the API listens on %s: "
		    "anyone who can reach that address can run and change "
		    "workflows; set api.auth = token (see loom-api(8))",
		    o->listen);
}

/* ---- the check ---------------------------------------------------------- */

/* Whether the peer is a trusted local user on a Unix socket. */
static int
peer_trusted(
    const struct api_request *rq, const struct api_options *o, uid_t *uid)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct ucred cr;
	socklen_t crlen = sizeof(cr);
	int fd = api_conn_fd(rq);

	if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &len) < 0 ||
	    ss.ss_family != AF_UNIX ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) < 0)
		return 0;
	*uid = cr.uid;
	if (cr.uid == 0 || cr.uid == geteuid())
		return 1;
	for (size_t i = 0; i < o->ntrusted_uids; i++)
		if (o->trusted_uids[i] == cr.uid)
			return 1;
	return 0;
}

static enum token_scope
needed(enum api_scope s)
{
	switch (s) {
	case API_SCOPE_READ:
		return TOKEN_SCOPE_READ;
	case API_SCOPE_OPERATOR:
		return TOKEN_SCOPE_OPERATOR;
	default:
		return TOKEN_SCOPE_ADMIN;
	}
}

/* 401: the caller must (re)authenticate.  error is RFC 6750's, or NULL. */
static int
unauthorized(
    struct api_request *rq, jv *out, const char *error, const char *why)
{
	char *h =
	    error ? xasprintf(REALM ", error=\"%s\"", error) : xstrdup(REALM);

	api_set_header(rq, "WWW-Authenticate", h);
	free(h);
	api_log(LOG_LVL_DEBUG, "%s %s: 401: %s", rq->method, rq->path, why);
	return api_error(out, 401, "unauthorized", "Authorization",
	    "%s %s "
	    "needs a valid bearer token: %s (send 'Authorization: Bearer "
	    "loom_...', or set LOOM_TOKEN for the loom command; an admin "
	    "makes tokens with 'loom token create', see loom-api(8))",
	    rq->method, rq->path, why);
}

/* Whether rq asks to force a trigger (?force= anything but false). */
static int
forcing(const struct api_request *rq)
{
	const char *v = api_query(rq, "force");

	return v != NULL && strcmp(v, "false") != 0 && strcmp(v, "0") != 0 &&
	    strcmp(v, "no") != 0;
}

/*
 * A valid trigger token of workflow (consumed): 0 when the request is
 * that workflow's trigger (not forced), else 403 naming what the token
 * may do.
 */
static int
trigger_token_check(struct api_request *rq, char *workflow, jv *out)
{
	static const char pre[] = "/api/v1/workflows/", post[] = "/trigger";
	size_t n = workflow ? strlen(workflow) : 0;
	const char *p = rq->path;
	int st = 0;

	/* rq->path is decoded, as the router matched it */
	if (workflow == NULL || strcmp(rq->method, "POST") != 0 ||
	    strncmp(p, pre, sizeof(pre) - 1) != 0 ||
	    strncmp(p + sizeof(pre) - 1, workflow, n) != 0 ||
	    strcmp(p + sizeof(pre) - 1 + n, post) != 0) {
		api_set_header(rq, "WWW-Authenticate",
		    REALM ", error=\"insufficient_scope\"");
		st = api_error(out, 403, "forbidden", NULL,
		    "%s %s: this is a trigger token: it may only POST "
		    "/api/v1/workflows/%s/trigger",
		    rq->method, rq->path, workflow ? workflow : "?");
	} else if (forcing(rq))
		st = api_error(out, 403, "forbidden", "force",
		    "a trigger token may not force the trigger of a paused "
		    "workflow; an operator unpauses it");
	free(workflow);
	return st;
}

int
api_auth_check(struct api_request *rq, const struct api_options *o,
    enum api_scope scope, jv *out)
{
	const char *hdr, *why = NULL;
	enum token_scope have;
	char *err = NULL, *h, *workflow = NULL;
	PGconn *db;
	uid_t uid = (uid_t)-1;
	int rc;

	switch (scope) {
	case API_SCOPE_OPEN:
	case API_SCOPE_CALLBACK:
		return 0;
	case API_SCOPE_READ:
	case API_SCOPE_OPERATOR:
	case API_SCOPE_ADMIN:
		break;
	default:
		api_log(LOG_LVL_ERR,
		    "%s %s: the route has no access scope; "
		    "refused (a bug in loom-api's route table)",
		    rq->method, rq->path);
		return api_error(out, 403, "forbidden", NULL,
		    "%s %s is not "
		    "available: the route has no access scope (a bug; it is "
		    "refused rather than left open)",
		    rq->method, rq->path);
	}
	if (o->auth == API_AUTH_NONE)
		return 0;
	if (o->socket_trust_uid && peer_trusted(rq, o, &uid))
		return 0;

	if ((hdr = api_header(rq, "Authorization")) == NULL)
		return unauthorized(rq, out, NULL,
		    uid != (uid_t)-1 ?
			"no token, and this socket does not trust the caller's "
			"uid" :
			"no token");
	if (strncasecmp(hdr, "Bearer ", 7) != 0)
		return unauthorized(rq, out, "invalid_request",
		    "the Authorization scheme must be Bearer");
	for (hdr += 7; *hdr == ' '; hdr++)
		;
	if ((db = api_db(rq)) == NULL)
		return api_db_down(out);
	rc = token_db_verify(db, hdr, &have, NULL, &workflow, &why, &err);
	if (rc < 0)
		return api_db_fail(rq, out, err);
	if (rc == 0)
		return unauthorized(rq, out, "invalid_token", why);
	if (have == TOKEN_SCOPE_TRIGGER)
		return trigger_token_check(rq, workflow, out);
	if (have >= needed(scope))
		return 0;
	h = xasprintf(REALM ", error=\"insufficient_scope\", scope=\"%s\"",
	    token_scope_name(needed(scope)));
	api_set_header(rq, "WWW-Authenticate", h);
	free(h);
	return api_error(out, 403, "forbidden", NULL,
	    "%s %s needs a token "
	    "of scope %s; this one is %s",
	    rq->method, rq->path, token_scope_name(needed(scope)),
	    token_scope_name(have));
}
