/*
 * log: logging from loom-api's many threads.  api_log() writes whole
 * lines, never interleaved (lib/util/log.c writes one in several stdio
 * calls); mhd_log() is libmicrohttpd's logger, which says what MHD
 * reports through api_log().
 */
#include "server.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/log.h"

void
api_log(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	/* log.c writes a line in several stdio calls; hold the stream. */
	flockfile(stderr);
	va_start(ap, fmt);
	log_vlog(level, 0, fmt, ap);
	va_end(ap);
	funlockfile(stderr);
}

void
api_log_request(const char *method, const char *path, int status,
    int64_t duration_ms, const char *what)
{
	/* The request's figures are keys of their own in JSON mode. */
	log_set_context("method", method);
	log_set_context("path", path);
	log_set_context_int("status", status);
	log_set_context_int("durationMs", duration_ms);
	api_log(LOG_LVL_DEBUG, "%s %s %d %lldms%s%s%s", method, path, status,
	    (long long)duration_ms, what ? " (" : "", what ? what : "",
	    what ? ")" : "");
	log_set_context("method", NULL);
	log_set_context("path", NULL);
	log_set_context("status", NULL);
	log_set_context("durationMs", NULL);
}

void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[1024];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		msg[--n] = '\0';
	/* A client that hangs up mid-request, or one we shut down for
	 * being slow, is no news worth a warning per connection. */
	api_log(strstr(msg, "closed by remote side") ||
		    strstr(msg, "detected connection closure") ?
		LOG_LVL_DEBUG :
		LOG_LVL_WARN,
	    "http: %s", msg);
}
