/*
 * opts: loom-log's keys of loom.conf(5), section logd (struct logd_opts,
 * logd.h).  The strings are borrowed from the configuration, except
 * allow_uids, which logd_opts_clear() frees.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "logd.h"
#include "store/db.h"
#include "util/log.h"

/* "1000,1001" or empty: checked here, matched by server.c. */
static int
uids_check(const char *s)
{
	for (const char *p = s; *p; p++)
		if ((*p < '0' || *p > '9') && *p != ',' && *p != ' ')
			return -1;
	return 0;
}

static int
load_sizes(struct logd_opts *o, const struct config *cfg)
{
	long n;

	if (config_get_int(cfg, "logd.batch", 5000, &n) < 0 || n < 1 ||
	    n > 100000) {
		log_warnx("logd.batch: expected a number from 1 to 100000");
		return -1;
	}
	o->batch = (int)n;
	if (config_get_int(cfg, "logd.spool_max", 256, &n) < 0 || n < 1) {
		log_warnx("logd.spool_max: expected a size in MiB >= 1");
		return -1;
	}
	o->spool_max = (int64_t)n * 1024 * 1024;
	if (config_get_duration(cfg, "logd.flush_delay", 10, &o->flush_ms) <
		0 ||
	    o->flush_ms < 0 || o->flush_ms > 10000) {
		log_warnx("logd.flush_delay: expected a duration up to 10s");
		return -1;
	}
	if (config_get_duration(
		cfg, "logd.store_timeout", 5000, &o->store_timeout_ms) < 0 ||
	    o->store_timeout_ms < 10) {
		log_warnx("logd.store_timeout: expected a duration >= 10ms");
		return -1;
	}
	if (config_get_duration(cfg, "logd.retention", 0, &o->retention_ms) <
		0 ||
	    o->retention_ms < 0) {
		log_warnx("logd.retention: expected a duration like 30d, or 0");
		return -1;
	}
	if (config_get_duration(cfg, "logd.retention_interval", 3600000,
		&o->retention_every_ms) < 0 ||
	    o->retention_every_ms < 100) {
		log_warnx("logd.retention_interval: expected a duration >= "
			  "100ms");
		return -1;
	}
	return 0;
}

int
logd_opts_load(struct logd_opts *o, const struct config *cfg)
{
	const char *mode, *uids;
	char *end;

	memset(o, 0, sizeof(*o));
	o->url = db_url(cfg);
	o->socket = config_get(cfg, "logd.socket", LD_DEFAULT_SOCKET);
	if (*o->socket != '/' || strlen(o->socket) > 107) {
		log_warnx("logd.socket: expected an absolute path of at most "
			  "107 bytes");
		return -1;
	}
	mode = config_get(cfg, "logd.socket_mode", "0660");
	o->socket_mode = (unsigned)strtoul(mode, &end, 8);
	if (*mode == '\0' || *end != '\0' || o->socket_mode > 0777) {
		log_warnx("logd.socket_mode: expected an octal mode like 0660");
		return -1;
	}
	uids = config_get(cfg, "logd.allow_uids", "");
	if (uids_check(uids) < 0) {
		log_warnx(
		    "logd.allow_uids: expected user ids, comma-separated");
		return -1;
	}
	o->allow_uids = *uids ? xstrdup(uids) : NULL;
	o->store = config_get(cfg, "logd.store", "postgresql");
	if (strcmp(o->store, "postgresql") != 0 &&
	    strcmp(o->store, "mongodb") != 0) {
		log_warnx("logd.store: expected postgresql or mongodb");
		goto fail;
	}
	o->mongo_uri =
	    config_get(cfg, "logd.mongodb_uri", "mongodb://127.0.0.1:27017");
	o->mongo_db = config_get(cfg, "logd.mongodb_database", "loom");
	o->spool = config_get(cfg, "logd.spool", "/var/lib/loom/log.spool");
	if (*o->spool != '/') {
		log_warnx("logd.spool: expected an absolute path");
		goto fail;
	}
	if (load_sizes(o, cfg) < 0)
		goto fail;
	return 0;
fail:
	logd_opts_clear(o);
	return -1;
}

void
logd_opts_clear(struct logd_opts *o)
{
	free(o->allow_uids);
	o->allow_uids = NULL;
}
