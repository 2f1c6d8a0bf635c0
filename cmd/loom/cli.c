/*
 * cli: what every `loom` subcommand shares (declared in cli.h): output
 * formats and usage errors, the state directory, JSON and workflow
 * arguments, and for the online commands the --api/-o options, finding
 * loom-api and its token, and turning a failed call into a message and an
 * exit code.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jv.h>

#include "cli.h"
#include "core/diag.h"
#include "core/workflow.h"
#include "core/xalloc.h"
#include "net/client.h"
#include "util/config.h"
#include "util/tzload.h"
#include "util/workflow_file.h"

int
cli_parse_output(const char *prog, const char *arg, enum output_format *out)
{
	if (strcmp(arg, "json") == 0)
		*out = OUT_JSON;
	else if (strcmp(arg, "text") == 0 || strcmp(arg, "table") == 0)
		*out = OUT_TEXT;
	else {
		cli_usage_error(prog,
		    "unknown output format '%s' (expected "
		    "text or json)",
		    arg);
		return -1;
	}
	return 0;
}

int
cli_is_help(const char *arg)
{
	return !strcmp(arg, "-h") || !strcmp(arg, "--help") ||
	    !strcmp(arg, "help");
}

int
cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "loom %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'loom %s --help'.\n", cmd);
	return EXIT_USAGE;
}

char *
cli_state_dir(const char *arg)
{
	const char *env = getenv("LOOM_STATE_DIR"), *xdg, *home;

	if (arg && *arg)
		return strdup(arg);
	if (env && *env)
		return strdup(env);
	if (geteuid() == 0)
		return strdup("/var/lib/loom");
	xdg = getenv("XDG_STATE_HOME");
	if (xdg && *xdg) {
		char *s;

		return asprintf(&s, "%s/loom", xdg) < 0 ? NULL : s;
	}
	home = getenv("HOME");
	{
		char *s;

		return asprintf(&s, "%s/.local/state/loom", home ? home : ".") <
			0 ?
		    NULL :
		    s;
	}
}

/* Reads "@file" or takes the text itself; returns a jv (invalid on error). */
jv
cli_read_json_arg(const char *arg)
{
	if (arg[0] == '@') {
		jv s = jv_load_file(arg + 1, 1);

		if (!jv_is_valid(s))
			return s;
		jv v = jv_parse(jv_string_value(s));
		jv_free(s);
		return v;
	}
	return jv_parse(arg);
}

struct workflow *
cli_load_workflow(const char *arg, struct diags *d)
{
	static const struct workflow_opts o = { tzload_known };

	if (strcmp(arg, "-") == 0)
		return workflow_load_fd_opts(STDIN_FILENO, "<stdin>", &o, d);
	return workflow_load_file_opts(arg, &o, d);
}

int
cli_online_opt(struct cli_online *o, int ch, const char *arg)
{
	switch (ch) {
	case 'o':
		if (cli_parse_output(o->cmd, arg, &o->fmt) < 0)
			return -1;
		o->text_asked = o->fmt == OUT_TEXT;
		return 1;
	case 'A':
		o->api = arg;
		return 1;
	default:
		return 0;
	}
}

char *
cli_api_address(const char *arg)
{
	const char *env = getenv("LOOM_API"), *v;
	struct config *cfg;
	struct diags d;
	struct stat st;
	char *dir, *sock, *out;

	if (arg && *arg)
		return xstrdup(arg);
	if (env && *env)
		return xstrdup(env);
	diags_init(&d);
	if ((cfg = config_load(NULL, &d)) == NULL) {
		diags_print(&d, stderr);
		diags_clear(&d);
		return NULL;
	}
	diags_clear(&d);
	v = config_get(cfg, "cli.api", NULL);
	out = v && *v ? xstrdup(v) : NULL;
	config_free(cfg);
	if (out)
		return out;
	if ((dir = cli_state_dir(NULL)) != NULL) {
		sock = xasprintf("%s/run/api.sock", dir);
		free(dir);
		if (stat(sock, &st) == 0 && S_ISSOCK(st.st_mode))
			out = xasprintf("unix:%s", sock);
		free(sock);
		if (out)
			return out;
	}
	return xstrdup(API_DEFAULT_HTTP);
}

struct client *
cli_api_client(const struct cli_online *o, int *rc)
{
	struct client *c;
	char *addr, *err = NULL;

	if ((addr = cli_api_address(o->api)) == NULL) {
		*rc = EXIT_FAIL;
		return NULL;
	}
	if ((c = client_new(addr, &err)) == NULL) {
		*rc = cli_usage_error(o->cmd, "%s", err);
		free(err);
	} else if (cli_api_auth(c, o->cmd) < 0) { /* $LOOM_TOKEN */
		client_free(c);
		c = NULL;
		*rc = EXIT_USAGE;
	}
	free(addr);
	return c;
}

int
cli_api_fail(
    const struct cli_online *o, const struct client *c, int status, jv reply)
{
	char *msg;
	int unreachable = status < 0 && errno == ECONNREFUSED;

	msg = client_error_message(status, reply);
	fprintf(stderr, "loom %s: %s\n", o->cmd, msg);
	free(msg);
	if (unreachable) {
		fprintf(stderr,
		    "loom %s: is Link Loom running at %s? Start it "
		    "with 'loom up', or point --api or $LOOM_API at it.\n",
		    o->cmd, client_base(c));
		return EXIT_UNREACHABLE;
	}
	return status == 404 ? EXIT_NOTFOUND : EXIT_FAIL;
}

int
cli_api_auth(struct client *c, const char *cmd)
{
	const char *env = getenv("LOOM_TOKEN");
	struct config *cfg = NULL;
	struct diags d;
	char *tok = NULL;
	int rc;

	if (env != NULL && *env != '\0')
		tok = xstrdup(env);
	else {
		diags_init(&d);
		if ((cfg = config_load(NULL, &d)) != NULL) {
			const char *v = config_get(cfg, "cli.token", NULL);

			if (v != NULL && *v != '\0')
				tok = xstrdup(v);
			config_free(cfg);
		}
		diags_clear(&d); /* cli_api_address() reported it */
	}
	rc = client_set_token(c, tok);
	if (rc < 0)
		fprintf(stderr,
		    "loom %s: the API token (from %s) holds "
		    "spaces or control characters\n",
		    cmd, env && *env ? "$LOOM_TOKEN" : "cli.token");
	if (tok != NULL)
		explicit_bzero(tok, strlen(tok));
	free(tok);
	return rc;
}
