/*
 * loom-api: the REST API daemon of Link Loom (see loom-api(8)).
 *
 * Arguments, then the config, then the server (cmd/loom-api/server.c),
 * then its loop until SIGTERM.  Exit status: 0 after a clean stop or a good -n
 * check, 1 when the config is bad or the server cannot start (schema not
 * current, address in use, another instance on the socket), 2 for a bad command
 * line.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "util/config.h"
#include "util/log.h"
#include "core/xalloc.h"

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: loom-api [-dhnv] [-c FILE] [--listen HOST:PORT] "
	    "[--socket PATH] [--print-url] [--ui-dir DIR]\n"
	    "       [--control-socket PATH]\n"
	    "       loom-api --list-routes\n");
}

/* --list-routes: "METHOD PATTERN SCOPE" per route, for tests and docs. */
static int
list_routes(void)
{
	const struct api_route *t;
	size_t n;

	t = api_route_table(&n);
	for (size_t i = 0; i < n; i++)
		printf("%s %s %s\n", t[i].method, t[i].pattern,
		    api_scope_name(t[i].scope));
	return fflush(stdout) == 0 ? 0 : 1;
}

/* What the command line asks for. */
struct args {
	const char *file, *listen, *sock; /* -c, --listen, --socket */
	const char *ui_dir;		  /* --ui-dir */
	const char *ctl;		  /* --control-socket */
	int check, debug, print_url;	  /* -n, -d, --print-url */
};

/*
 * Reads the command line into *ar.  Returns -1 to go on, else the exit
 * status to end with (--help, --list-routes, a usage error).
 */
static int
parse_args(int argc, char **argv, struct args *ar)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "listen", required_argument, NULL, 'L' },
		{ "socket", required_argument, NULL, 'S' },
		{ "print-url", no_argument, NULL, 'P' },
		{ "ui-dir", required_argument, NULL, 'U' },
		{ "control-socket", required_argument, NULL, 'C' },
		{ "list-routes", no_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	memset(ar, 0, sizeof(*ar));
	while ((ch = getopt_long(argc, argv, "c:dhnv", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			ar->file = optarg;
			break;
		case 'd':
		case 'v':
			ar->debug = 1;
			break;
		case 'n':
			ar->check = 1;
			break;
		case 'L':
			ar->listen = optarg;
			break;
		case 'S':
			ar->sock = optarg;
			break;
		case 'P':
			ar->print_url = 1;
			break;
		case 'U':
			ar->ui_dir = optarg;
			break;
		case 'C':
			ar->ctl = optarg;
			break;
		case 'R':
			return list_routes();
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	return -1;
}

/*
 * The config file with the command line's overrides into *o, and the
 * log level it sets.  Returns 0, or -1 after printing every problem (o
 * is then released).
 */
static int
load_options(
    const struct args *ar, struct api_options *o, enum log_level *level)
{
	struct config *cfg;
	struct diags d;

	diags_init(&d);
	if ((cfg = config_load(ar->file, &d)) == NULL ||
	    api_options_load(o, cfg, ar->listen, ar->sock, &d) < 0) {
		diags_print(&d, stderr);
		diags_clear(&d);
		if (cfg)
			api_options_free(o);
		config_free(cfg);
		return -1;
	}
	if (ar->ui_dir)
		api_static_set_dir(o, ar->ui_dir);
	if (ar->ctl) {
		free(o->control_socket);
		o->control_socket = *ar->ctl ? xstrdup(ar->ctl) : NULL;
	}
	(void)api_log_level(cfg, level);
	log_set_json(config_get(cfg, "log.format", "text")[0] == 'j');
	if (ar->check)
		printf("%s: configuration OK\n", config_path(cfg));
	config_free(cfg);
	return 0;
}

int
main(int argc, char **argv)
{
	struct args ar;
	struct api_options o;
	struct api *a;
	enum log_level level;
	char *err = NULL;
	int rc;

	log_init("loom-api", LOG_LVL_INFO);
	if ((rc = parse_args(argc, argv, &ar)) >= 0)
		return rc;
	if (load_options(&ar, &o, &level) < 0)
		return 1;
	if (ar.check) {
		api_options_free(&o);
		return 0;
	}
	o.config_path = ar.file ? xstrdup(ar.file) : NULL;
	o.print_url = ar.print_url;
	o.debug = ar.debug;
	log_set_level(ar.debug ? LOG_LVL_DEBUG : level);
	api_static_announce(&o);

	if ((a = api_new(&o, &err)) == NULL) {
		log_errx("%s", err);
		free(err);
		api_options_free(&o);
		return 1;
	}
	rc = api_run(a);
	api_free(a);
	api_options_free(&o);
	return rc;
}
