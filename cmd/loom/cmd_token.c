/*
 * loom token: API bearer tokens (loom-api(8), AUTHENTICATION).
 *
 *   loom token create NAME [--scope read|operator|admin] [--expires DUR]
 *   loom token list
 *   loom token revoke ID
 *
 * By default through loom-api, which wants an admin token for these (or a
 * trusted uid on its Unix socket).  With --db URL the command works
 * straight against the database instead, with lib/store/token.c, the same code
 * loom-api runs: that is how the first admin token is made when the API
 * already requires one, and it needs nothing but the database's own
 * credentials.  Either way a new token is printed once, alone on stdout
 * (so `export LOOM_TOKEN=$(loom token create ...)` works); only its hash
 * is kept.
 *
 * This file also holds cli_api_auth(): the token every online command
 * sends ($LOOM_TOKEN, else the config key cli.token).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jv.h>

#include "cli.h"
#include "net/client.h"
#include "util/config.h"
#include "store/db.h"
#include "core/duration.h"
#include "table.h"
#include "store/token.h"
#include "core/xalloc.h"

/* ---- output ------------------------------------------------------------- */

/* "2026-11-26T04:05:06.123Z" -> "2026-11-26 04:05" (NULL stays NULL) */
static const char *
when(jv o, const char *key, char *buf, size_t len)
{
	const char *s = cli_str(o, key);

	if (s == NULL)
		return NULL;
	snprintf(buf, len, "%.16s", s);
	if (strlen(buf) > 10 && buf[10] == 'T')
		buf[10] = ' ';
	return buf;
}

static const char *
state_of(jv t)
{
	jv a = jv_object_get(jv_copy(t), jv_string("active"));
	int active = jv_get_kind(a) == JV_KIND_TRUE;

	jv_free(a);
	if (active)
		return "active";
	return cli_str(t, "revokedAt") ? "revoked" : "expired";
}

void
cli_token_print_list(const struct cli_online *o, jv list)
{
	struct table *t;

	if (o->fmt == OUT_JSON) {
		json_print_lines(stdout, list);
		return;
	}
	t = table_new(8, "ID", "NAME", "SCOPE", "WORKFLOW", "CREATED",
	    "LAST USED", "EXPIRES", "STATE");
	jv_array_foreach(list, i, tok)
	{
		char c[32], u[32], e[32];

		table_add(t, cli_str(tok, "id"), cli_str(tok, "name"),
		    cli_str(tok, "scope"), cli_str(tok, "workflowId"),
		    when(tok, "createdAt", c, sizeof(c)),
		    when(tok, "lastUsedAt", u, sizeof(u)),
		    when(tok, "expiresAt", e, sizeof(e)), state_of(tok));
		jv_free(tok);
	}
	jv_free(list);
	table_print(t, stdout, table_aligned(o->text_asked));
	if (table_rows(t) == 0 && table_aligned(o->text_asked))
		fprintf(stderr,
		    "no tokens yet: make one with 'loom token "
		    "create NAME --scope SCOPE'\n");
	table_free(t);
}

void
cli_token_print_created(const struct cli_online *o, jv tok)
{
	char e[32];

	if (o->fmt == OUT_JSON) {
		json_print(stdout, tok);
		return;
	}
	printf("%s\n", cli_str_or(tok, "token", ""));
	fflush(stdout);
	fprintf(stderr,
	    "loom %s: token %s '%s' (scope %s%s%s%s%s) created; it is "
	    "shown only this once\n",
	    o->cmd, cli_str(tok, "id"), cli_str(tok, "name"),
	    cli_str(tok, "scope"), cli_str(tok, "workflowId") ? " of " : "",
	    cli_str_or(tok, "workflowId", ""),
	    cli_str(tok, "expiresAt") ? ", expires " : "",
	    cli_str(tok, "expiresAt") ? when(tok, "expiresAt", e, sizeof(e)) :
					"");
	jv_free(tok);
}

void
cli_token_print_revoked(const struct cli_online *o, jv tok)
{
	if (o->fmt == OUT_JSON)
		json_print(stdout, tok);
	else {
		printf("revoked token %s (%s)\n", cli_str(tok, "id"),
		    cli_str(tok, "name"));
		jv_free(tok);
	}
}

/* ---- the two ways ---------------------------------------------------------
 */

struct req {
	const char *sub; /* create, list, revoke */
	const char *arg; /* NAME or ID */
	enum token_scope scope;
	const char *expires; /* as given, or NULL */
	int64_t expires_ms;
};

static int
via_api(struct cli_online *o, const struct req *q)
{
	struct client *c;
	jv body, reply;
	char *path;
	int rc, st;

	if ((c = cli_api_client(o, &rc)) == NULL)
		return rc;
	if (strcmp(q->sub, "create") == 0) {
		body = JV_OBJECT(jv_string("name"), jv_string(q->arg),
		    jv_string("scope"), jv_string(token_scope_name(q->scope)));
		if (q->expires != NULL)
			body = jv_object_set(body, jv_string("expiresIn"),
			    jv_string(q->expires));
		st = client_json(c, "POST", "/api/v1/tokens", body, &reply);
		if (st != 201) {
			rc = cli_api_fail(o, c, st, reply);
			goto out;
		}
		cli_token_print_created(o, reply);
	} else if (strcmp(q->sub, "list") == 0) {
		st = client_json(
		    c, "GET", "/api/v1/tokens", jv_invalid(), &reply);
		if (st != 200) {
			rc = cli_api_fail(o, c, st, reply);
			goto out;
		}
		cli_token_print_list(
		    o, jv_object_get(reply, jv_string("tokens")));
	} else {
		char *id = client_escape(q->arg);

		path = xasprintf("/api/v1/tokens/%s", id);
		free(id);
		st = client_json(c, "DELETE", path, jv_invalid(), &reply);
		free(path);
		if (st != 200) {
			rc = cli_api_fail(o, c, st, reply);
			goto out;
		}
		cli_token_print_revoked(o, reply);
	}
	rc = EXIT_OK;
out:
	client_free(c);
	return rc;
}

static int
via_db(struct cli_online *o, const char *url, const struct req *q)
{
	PGconn *db;
	char *err = NULL;
	jv out;
	int rc = EXIT_FAIL, r;

	if ((db = db_connect(url, "loom", &err)) == NULL) {
		fprintf(stderr, "loom %s: %s\n", o->cmd, err);
		free(err);
		return EXIT_UNREACHABLE;
	}
	if (db_schema_check(db, &err) < 0)
		goto fail;
	if (strcmp(q->sub, "create") == 0) {
		if (token_db_create(
			db, q->arg, q->scope, q->expires_ms, &out, &err) < 0)
			goto fail;
		cli_token_print_created(o, out);
	} else if (strcmp(q->sub, "list") == 0) {
		if (token_db_list(db, NULL, &out, &err) < 0)
			goto fail;
		cli_token_print_list(o, out);
	} else {
		if ((r = token_db_revoke(db, NULL, q->arg, &out, &err)) < 0)
			goto fail;
		if (r == 0) {
			fprintf(
			    stderr, "loom %s: no token '%s'\n", o->cmd, q->arg);
			rc = EXIT_NOTFOUND;
			goto out;
		}
		cli_token_print_revoked(o, out);
	}
	rc = EXIT_OK;
	goto out;
fail:
	fprintf(stderr, "loom %s: %s\n", o->cmd, err ? err : "failed");
	free(err);
out:
	PQfinish(db);
	return rc;
}

/* ---- dispatch ----------------------------------------------------------- */

static void
token_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: loom token create NAME [--scope read|operator|admin] "
	    "[--expires DUR]\n"
	    "       loom token list\n"
	    "       loom token revoke ID\n"
	    "\n"
	    "Through loom-api (an admin token in $LOOM_TOKEN, or its Unix\n"
	    "socket as a trusted user), or with --db URL straight against\n"
	    "the database -- how the first admin token is made.  Every\n"
	    "subcommand takes -o text|json, --api URL and --db URL.\n"
	    "create prints the new token alone on stdout, once; the scope\n"
	    "defaults to read; --expires takes a duration like 12h or 30d.\n");
}

/*
 * Parses the options after the subcommand (argv[0]) into o and q; *db is
 * --db, *scope_given whether --scope was.  Returns -1 to go on, else the
 * exit code to return (--help, or a usage error already printed).
 */
static int
token_parse_opts(int argc, char **argv, struct cli_online *o, struct req *q,
    const char **db, int *scope_given)
{
	static const struct option opts[] = {
		CLI_ONLINE_OPTIONS,
		{ "db", required_argument, NULL, 'D' },
		{ "scope", required_argument, NULL, 's' },
		{ "expires", required_argument, NULL, 'e' },
		{ NULL, 0, NULL, 0 },
	};
	const char *why;
	int ch, r;

	optind = 0; /* a fresh scan; argv[0] is the subcommand */
	while ((ch = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		if ((r = cli_online_opt(o, ch, optarg)) < 0)
			return EXIT_USAGE;
		if (r > 0)
			continue;
		switch (ch) {
		case 'h':
			token_usage(stdout);
			return EXIT_OK;
		case 'D':
			*db = optarg;
			break;
		case 's':
			if (token_scope_parse(optarg, &q->scope) < 0)
				return cli_usage_error(o->cmd,
				    "bad --scope "
				    "'%s' (expected read, operator or admin)",
				    optarg);
			*scope_given = 1;
			break;
		case 'e':
			if (duration_parse(optarg, &q->expires_ms, &why) < 0 ||
			    q->expires_ms <= 0)
				return cli_usage_error(o->cmd,
				    "bad --expires "
				    "'%s' (expected a duration like 12h or "
				    "30d)",
				    optarg);
			q->expires = optarg;
			break;
		default:
			return cli_usage_error(o->cmd, "bad option");
		}
	}
	return -1;
}

int
cmd_token(int argc, char **argv)
{
	struct cli_online o = { "token", NULL, OUT_TEXT, 0 };
	struct req q = { NULL, NULL, TOKEN_SCOPE_READ, NULL, 0 };
	const char *db = NULL, *why;
	char cmdname[32];
	int rc, nargs, scope_given = 0;

	if (argc < 2)
		return cli_usage_error("token",
		    "missing subcommand (create, "
		    "list, revoke)");
	q.sub = argv[1];
	if (cli_is_help(q.sub)) {
		token_usage(stdout);
		return EXIT_OK;
	}
	if (strcmp(q.sub, "create") && strcmp(q.sub, "list") &&
	    strcmp(q.sub, "revoke"))
		return cli_usage_error(
		    "token", "unknown subcommand '%s'", q.sub);
	snprintf(cmdname, sizeof(cmdname), "token %s", q.sub);
	o.cmd = cmdname;

	if ((rc = token_parse_opts(
		 argc - 1, argv + 1, &o, &q, &db, &scope_given)) >= 0)
		return rc;
	nargs = argc - 1 - optind;
	if (strcmp(q.sub, "list") == 0 ? nargs != 0 : nargs != 1)
		return cli_usage_error(o.cmd,
		    strcmp(q.sub, "list") == 0	     ? "takes no arguments" :
			strcmp(q.sub, "create") == 0 ? "needs one NAME" :
						       "needs one token ID");
	if (nargs == 1)
		q.arg = argv[1 + optind];
	if (strcmp(q.sub, "create") != 0 && (scope_given || q.expires))
		return cli_usage_error(o.cmd,
		    "--scope and --expires are for "
		    "'create'");
	if (strcmp(q.sub, "create") == 0 &&
	    (why = token_name_problem(q.arg)) != NULL)
		return cli_usage_error(o.cmd, "%s", why);
	if (db != NULL && o.api != NULL)
		return cli_usage_error(o.cmd,
		    "--db and --api exclude each "
		    "other");
	return db != NULL ? via_db(&o, db, &q) : via_api(&o, &q);
}
