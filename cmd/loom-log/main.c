/*
 * loom-log: collects task and run log lines from a Unix socket and
 * writes them to the log store (PostgreSQL by default, MongoDB when
 * configured).  See loom-log(8) and loom-ipc(7); logd.h maps the files.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "logd.h"
#include "util/config.h"
#include "util/log.h"

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: loom-log [-dnv] [-c FILE] [-s SOCKET]\n");
}

int
main(int argc, char **argv)
{
	struct logd_opts o;
	struct config *cfg;
	const char *path = NULL, *sock = NULL;
	int level = LOG_LVL_INFO;
	int ch, check = 0, rc;

	log_init("loom-log", LOG_LVL_INFO);
	while ((ch = getopt(argc, argv, "c:dns:vh")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'd':
		case 'v':
			level = LOG_LVL_DEBUG;
			break;
		case 'n':
			check = 1;
			break;
		case 's':
			sock = optarg;
			break;
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
	if ((cfg = config_load_daemon(path, &level)) == NULL)
		return 1;
	if (sock != NULL && setenv("LOOM_LOGD_SOCKET", sock, 1) < 0)
		fatal("setenv");
	if (logd_opts_load(&o, cfg) < 0) {
		config_free(cfg);
		return 1;
	}
	if (check) {
		printf("configuration ok\n");
		rc = 0;
	} else
		rc = logd_run(&o, config_path(cfg), level == LOG_LVL_DEBUG);
	logd_opts_clear(&o);
	config_free(cfg);
	return rc;
}
