/*
 * loom-api: the REST API daemon of Link Loom (see loom-api(8)).
 *
 * Arguments, then the config, then the server (cmd/loom-api/server.c),
 * then its loop until SIGTERM.  Exit status: 0 after a clean stop or a good -n check,
 * 1 when the config is bad or the server cannot start (schema not current,
 * address in use, another instance on the socket), 2 for a bad command
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
	fprintf(fp, "usage: loom-api [-dhnv] [-c FILE] [--listen HOST:PORT] "
	    "[--socket PATH] [--print-url]\n"
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

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "listen", required_argument, NULL, 'L' },
		{ "socket", required_argument, NULL, 'S' },
		{ "print-url", no_argument, NULL, 'P' },
		{ "list-routes", no_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *file = NULL, *listen = NULL, *sock = NULL;
	struct api_options o;
	struct config *cfg;
	struct diags d;
	struct api *a;
	enum log_level level;
	char *err = NULL;
	int ch, check = 0, debug = 0, print_url = 0, rc;

	log_init("loom-api", LOG_LVL_INFO);
	while ((ch = getopt_long(argc, argv, "c:dhnv", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			file = optarg;
			break;
		case 'd':
		case 'v':
			debug = 1;
			break;
		case 'n':
			check = 1;
			break;
		case 'L':
			listen = optarg;
			break;
		case 'S':
			sock = optarg;
			break;
		case 'P':
			print_url = 1;
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

	diags_init(&d);
	if ((cfg = config_load(file, &d)) == NULL ||
	    api_options_load(&o, cfg, listen, sock, &d) < 0) {
		diags_print(&d, stderr);
		diags_clear(&d);
		if (cfg)
			api_options_free(&o);
		config_free(cfg);
		return 1;
	}
	(void)api_log_level(cfg, &level);
	if (check)
		printf("%s: configuration OK\n", config_path(cfg));
	config_free(cfg);
	if (check) {
		api_options_free(&o);
		return 0;
	}
	o.config_path = file ? xstrdup(file) : NULL;
	o.print_url = print_url;
	o.debug = debug;
	log_set_level(debug ? LOG_LVL_DEBUG : level);

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
