/*
 * loom-sched: decides when runs start -- schedules (cron, in the
 * workflow's time zone), catch-up after downtime, concurrency, and
 * triggers from messages, rows and files.  See loom-sched(8).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "sched.h"
#include "util/config.h"
#include "util/ctl.h"
#include "util/log.h"

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: loom-sched [-dnv] [-C SOCKET] [-c FILE]\n");
}

int
main(int argc, char **argv)
{
	struct sched_opts o;
	struct config *cfg;
	const char *path = NULL, *copt = NULL;
	int level = LOG_LVL_INFO;
	int ch, check = 0, rc;

	log_init("loom-sched", LOG_LVL_INFO);
	while ((ch = getopt(argc, argv, "C:c:dnvh")) != -1) {
		switch (ch) {
		case 'C':
			copt = optarg;
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
	if (sched_opts_load(&o, cfg) < 0)
		rc = 1;
	else {
		o.ctl_path =
		    ctl_path(cfg, "sched.control_socket", "loom-sched", copt);
		rc = check ? sched_check(&o) : sched_run(&o);
		free(o.ctl_path);
	}
	sched_opts_free(&o);
	config_free(cfg);
	return rc;
}
