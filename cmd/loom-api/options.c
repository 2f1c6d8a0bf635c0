/*
 * options: loom-api's settings (struct api_options, loom-api(8) and
 * loom.conf(5)): the [api] keys of the config file with the command
 * line's overrides, checked all at once so that `loom-api -n` lists
 * every problem; and the log level, read again on SIGHUP (server.c).
 * Authentication's keys are read by api_auth.c.  The strings in struct
 * api_options are owned by it: api_options_free().
 */
#include "server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include <systemd/sd-daemon.h>

#include "api_stream.h"
#include "util/config.h"
#include "util/ctl.h"
#include "store/db.h"
#include "core/xalloc.h"

/* "HOST:PORT", "[V6]:PORT", ":PORT".  *host is NULL for "all". */
int
split_hostport(const char *s, char **host, char **port)
{
	const char *colon;

	*host = *port = NULL;
	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (end == NULL || end[1] != ':')
			return -1;
		*host = xstrndup(s + 1, (size_t)(end - s - 1));
		colon = end + 1;
	} else {
		if ((colon = strrchr(s, ':')) == NULL)
			return -1;
		if (colon != s)
			*host = xstrndup(s, (size_t)(colon - s));
	}
	if (colon[1] == '\0' ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
	    strlen(colon + 1) > 5 || atol(colon + 1) > 65535) {
		free(*host);
		*host = NULL;
		return -1;
	}
	*port = xstrdup(colon + 1);
	return 0;
}

/* Bytes, with an optional K, M or G (binary) suffix. */
static int
parse_size(const char *s, long *out)
{
	char *end;
	long long n;

	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno || end == s || n < 0)
		return -1;
	switch (*end) {
	case 'k':
	case 'K':
		n *= 1024;
		end++;
		break;
	case 'm':
	case 'M':
		n *= 1024 * 1024;
		end++;
		break;
	case 'g':
	case 'G':
		n *= 1024LL * 1024 * 1024;
		end++;
		break;
	}
	if (*end == 'i' && end[1] == 'B')
		end += 2;
	else if (*end == 'B')
		end++;
	if (*end != '\0' || n > 1024LL * 1024 * 1024)
		return -1;
	*out = (long)n;
	return 0;
}

static int
opt_int(const struct config *cfg, const char *key, long def, long lo, long hi,
    long *out, struct diags *d)
{
	if (config_get_int(cfg, key, def, out) < 0 || *out < lo || *out > hi) {
		diags_add(d, cfg ? config_path(cfg) : "-", 0, 0,
		    "%s must be an integer from %ld to %ld", key, lo, hi);
		return -1;
	}
	return 0;
}

/* Long: one plain step per key of loom.conf(5)'s api section, in order. */
int
api_options_load(struct api_options *o, const struct config *cfg,
    const char *listen, const char *socket, struct diags *d)
{
	const char *file = cfg ? config_path(cfg) : "-";
	const char *v;
	int64_t ms;
	size_t before = d->n;

	memset(o, 0, sizeof(*o));
	v = listen ? listen : config_get(cfg, "api.listen", "127.0.0.1:8080");
	if (*v && strcmp(v, "none") && strcmp(v, "off")) {
		char *h, *p;

		if (split_hostport(v, &h, &p) < 0)
			diags_add(d, file, 0, 0,
			    "api.listen '%s' is not "
			    "HOST:PORT, [V6ADDR]:PORT or :PORT",
			    v);
		else
			o->listen = xstrdup(v);
		free(h);
		free(p);
	}
	v = socket ? socket : config_get(cfg, "api.socket", "");
	if (*v) {
		if (strlen(v) >= sizeof(((struct sockaddr_un *)0)->sun_path))
			diags_add(d, file, 0, 0,
			    "api.socket '%s' is too long "
			    "for a Unix socket path",
			    v);
		else
			o->socket = xstrdup(v);
	}
	if (o->listen == NULL && o->socket == NULL && d->n == before &&
	    sd_listen_fds(0) <= 0)
		diags_add(d, file, 0, 0,
		    "nothing to listen on: set api.listen "
		    "or api.socket");
	opt_int(cfg, "api.threads", 4, 1, 256, &o->threads, d);
	opt_int(cfg, "api.max_connections", 1024, 1, 1000000,
	    &o->max_connections, d);
	opt_int(cfg, "api.max_connections_per_client", 256, 1, 1000000,
	    &o->max_per_client, d);
	opt_int(cfg, "api.max_streams", API_MAX_STREAMS_DEFAULT, 1, 1000000,
	    &o->max_streams, d);
	if (config_get_duration(cfg, "api.stream_heartbeat",
		API_HEARTBEAT_MS_DEFAULT, &o->heartbeat_ms) < 0 ||
	    o->heartbeat_ms < 100 || o->heartbeat_ms > 3600000)
		diags_add(d, file, 0, 0,
		    "api.stream_heartbeat must be a "
		    "duration from 100ms to 1h (e.g. 15s)");
	v = config_get(cfg, "api.max_body", "1M");
	if (parse_size(v, &o->max_body) < 0 || o->max_body < 1024)
		diags_add(d, file, 0, 0,
		    "api.max_body '%s' must be a size "
		    "from 1K to 1G (e.g. 1048576, 512K, 4M)",
		    v);
	if (config_get_duration(cfg, "api.timeout", 30000, &ms) < 0 ||
	    ms < 1000 || ms > 3600000)
		diags_add(d, file, 0, 0,
		    "api.timeout must be a duration "
		    "from 1s to 1h (e.g. 30s)");
	else
		o->timeout_s = (long)(ms / 1000);
	if (config_get_duration(cfg, "api.request_timeout", 10000,
		&o->request_timeout_ms) < 0 ||
	    o->request_timeout_ms < 100 || o->request_timeout_ms > 3600000)
		diags_add(d, file, 0, 0,
		    "api.request_timeout must be a "
		    "duration from 100ms to 1h (e.g. 10s)");
	o->db_url = xstrdup(db_url(cfg));
	/* Where loom-log keeps the lines: the logs routes read it too. */
	if (strcmp(config_get(cfg, "logd.store", "postgresql"), "mongodb") ==
	    0) {
		o->mongo_uri = xstrdup(config_get(
		    cfg, "logd.mongodb_uri", "mongodb://127.0.0.1:27017"));
		o->mongo_db =
		    xstrdup(config_get(cfg, "logd.mongodb_database", "loom"));
	}
	{
		enum log_level l;

		if (api_log_level(cfg, &l) < 0)
			diags_add(d, file, 0, 0,
			    "log level must be error, "
			    "warn, info or debug");
	}
	api_auth_options_load(o, cfg, d);
	api_static_options_load(o, cfg);
	o->control_socket =
	    ctl_path(cfg, "api.control_socket", "loom-api", NULL);
	o->control_dir = xstrdup(ctl_dir(cfg));
	o->logd_socket =
	    xstrdup(config_get(cfg, "logd.socket", "/run/loom/log.sock"));
	return d->n == before ? 0 : -1;
}

void
api_options_free(struct api_options *o)
{
	if (o == NULL)
		return;
	free(o->listen);
	free(o->socket);
	free(o->db_url);
	free(o->config_path);
	free(o->trusted_uids);
	free(o->ui_dir);
	free(o->mongo_uri);
	free(o->mongo_db);
	free(o->control_socket);
	free(o->control_dir);
	free(o->logd_socket);
	memset(o, 0, sizeof(*o));
}

int
api_log_level(const struct config *cfg, enum log_level *out)
{
	const char *v = config_get(
	    cfg, "api.log_level", config_get(cfg, "log.level", "info"));

	return log_level_parse(v, out);
}
