/*
 * loom-engine: decides what is next in every run (DAG traversal and the
 * task/run state machines), driving the pure engine core of libloom from
 * PostgreSQL.  See loom-engine(8).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/config.h"
#include "engined.h"
#include "util/log.h"

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: loom-engine [-dnv] [-C SOCKET] [-c FILE]\n");
}

int
main(int argc, char **argv)
{
	struct engined_opts o;
	struct config *cfg;
	const char *path = NULL;
	int level = LOG_LVL_INFO;
	int ch, check = 0;

	memset(&o, 0, sizeof(o));
	log_init("loom-engine", LOG_LVL_INFO);
	while ((ch = getopt(argc, argv, "C:c:dnvh")) != -1) {
		switch (ch) {
		case 'C':
			o.ctl_opt = optarg;
			break;
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
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if ((cfg = config_load_daemon(path, &level)) == NULL)
		return 1;
	if (engined_opts_load(&o, cfg) < 0)
		return 1;
	if (check) {
		printf("configuration ok\n");
		engined_opts_free(&o);
		config_free(cfg);
		return 0;
	}
	int rc = engined_run(&o);
	engined_opts_free(&o);
	config_free(cfg);
	return rc;
}
