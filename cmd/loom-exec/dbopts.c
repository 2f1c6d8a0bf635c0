/*
 * dbopts: the database mode's exec.* keys of loom.conf(5) (struct dbopts,
 * daemon.h).  The strings in it are borrowed from the configuration,
 * except the lease owner name, which the caller frees.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/xalloc.h"
#include "daemon.h"
#include "store/db.h"
#include "util/log.h"

int
dbopts_load(struct dbopts *d, const struct config *cfg, long jobs)
{
	char host[256];
	const char *name, *lvl;
	enum log_level conf = LOG_LVL_INFO;
	long n;

	memset(d, 0, sizeof(*d));
	d->url = db_url(cfg);
	d->config_path = config_path(cfg);
	if (config_get_int(cfg, "exec.concurrency", SLOTS_MAX, &n) < 0 ||
	    n < 1 || n > 100000) {
		log_warnx("exec.concurrency: expected a number from 1 to "
			  "100000");
		return -1;
	}
	d->concurrency = (int)(jobs > 0 ? jobs : n);
	/* Not given: the slots adapt (claims.c), from SLOTS_MIN up. */
	d->slots_min = jobs > 0 || config_get(cfg, "exec.concurrency", NULL) ?
	    d->concurrency :
	    SLOTS_MIN;
	if (config_get_int(cfg, "exec.batch", 256, &n) < 0 || n < 1 ||
	    n > 10000) {
		log_warnx("exec.batch: expected a number from 1 to 10000");
		return -1;
	}
	d->batch = (int)n;
	if (config_get_duration(cfg, "exec.lease", 30000, &d->lease_ms) < 0 ||
	    d->lease_ms < 300) {
		log_warnx("exec.lease: expected a duration of at least 300ms");
		return -1;
	}
	if (config_get_duration(
		cfg, "exec.drain_timeout", 30000, &d->drain_ms) < 0 ||
	    d->drain_ms < 0) {
		log_warnx("exec.drain_timeout: expected a duration like 30s");
		return -1;
	}
	if (config_get_bool(cfg, "exec.advance", 1, &d->advance) < 0) {
		log_warnx("exec.advance: expected on or off");
		return -1;
	}
	d->log_socket = config_get(cfg, "logd.socket", "/run/loom/log.sock");
	if (*d->log_socket == '\0' || strcmp(d->log_socket, "none") == 0)
		d->log_socket = NULL;
	name = config_get(cfg, "exec.name", NULL);
	if (name != NULL && *name != '\0')
		d->name = xstrdup(name);
	else {
		if (gethostname(host, sizeof(host)) == -1)
			strcpy(host, "localhost");
		host[sizeof(host) - 1] = '\0';
		d->name = xasprintf("%s-%ld", host, (long)getpid());
	}
	lvl = config_get(cfg, "log.level", NULL);
	if (lvl == NULL || log_level_parse(lvl, &conf) < 0)
		conf = LOG_LVL_INFO;
	d->cli_debug =
	    log_get_level() == LOG_LVL_DEBUG && conf != LOG_LVL_DEBUG;
	return 0;
}
