/*
 * log: stderr logging with journald priority prefixes and a JSON mode.
 * See log.h.  The settings are set once at start-up; the context is per
 * thread (loom-api logs from its request threads), so one thread's
 * execution never shows up in another thread's line.
 */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/time.h>

#include <jv.h>

#define LOG_CTX_MAX 10

static const char *log_prog = "loom";
static enum log_level log_level = LOG_LVL_INFO;
static int log_json;
static int log_prefix = -1; /* -1: decide from JOURNAL_STREAM */
static __thread struct {
	char key[32];
	char value[256];
} log_ctx[LOG_CTX_MAX];

void
log_init(const char *prog, enum log_level level)
{
	log_prog = prog;
	log_level = level;
}

void
log_set_level(enum log_level level)
{
	log_level = level;
}

enum log_level
log_get_level(void)
{
	return log_level;
}

void
log_set_json(int on)
{
	log_json = on;
}

void
log_set_prefix(int on)
{
	log_prefix = on;
}

int
log_level_parse(const char *s, enum log_level *out)
{
	static const struct {
		const char *name;
		enum log_level level;
	} names[] = {
		{ "error", LOG_LVL_ERR },
		{ "err", LOG_LVL_ERR },
		{ "warn", LOG_LVL_WARN },
		{ "warning", LOG_LVL_WARN },
		{ "info", LOG_LVL_INFO },
		{ "debug", LOG_LVL_DEBUG },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcasecmp(s, names[i].name) == 0) {
			*out = names[i].level;
			return 0;
		}
	return -1;
}

/*
 * s into dst (size bytes), cut short if need be: snprintf's "%s" without
 * its formatting machinery.  loom-exec sets the context around every task
 * it starts and finishes, several keys each time.
 */
static void
copy_trunc(char *dst, size_t size, const char *s)
{
	size_t n = strnlen(s, size - 1);

	memcpy(dst, s, n);
	dst[n] = '\0';
}

void
log_set_context(const char *key, const char *value)
{
	int free_slot = -1;

	for (int i = 0; i < LOG_CTX_MAX; i++) {
		if (log_ctx[i].key[0] == '\0') {
			if (free_slot < 0)
				free_slot = i;
			continue;
		}
		if (strcmp(log_ctx[i].key, key) == 0) {
			if (value == NULL)
				log_ctx[i].key[0] = '\0';
			else
				copy_trunc(log_ctx[i].value,
				    sizeof(log_ctx[i].value), value);
			return;
		}
	}
	if (value == NULL || free_slot < 0)
		return;
	copy_trunc(log_ctx[free_slot].key, sizeof(log_ctx[free_slot].key), key);
	copy_trunc(
	    log_ctx[free_slot].value, sizeof(log_ctx[free_slot].value), value);
}

/* Numbers stay numbers in JSON: "attempt":2, "status":200. */
static jv
ctx_value(const char *key, const char *value)
{
	static const char *const numeric[] = { "attempt", "status",
		"durationMs", "httpStatus" };
	char *end;
	double d;

	for (size_t i = 0; i < sizeof(numeric) / sizeof(numeric[0]); i++)
		if (strcmp(key, numeric[i]) == 0) {
			d = strtod(value, &end);
			if (end != value && *end == '\0')
				return jv_number(d);
		}
	return jv_string(value);
}

void
log_set_context_int(const char *key, long long value)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lld", value);
	log_set_context(key, buf);
}

void
log_clear_context(void)
{
	for (int i = 0; i < LOG_CTX_MAX; i++)
		log_ctx[i].key[0] = '\0';
}

void
log_set_run(
    const char *workflow, const char *execution, const char *task, int attempt)
{
	log_set_context("workflow", workflow);
	log_set_context("execution", execution);
	log_set_context("task", task);
	if (attempt > 0)
		log_set_context_int("attempt", attempt);
	else
		log_set_context("attempt", NULL);
}

static const char *
level_name(enum log_level level)
{
	switch (level) {
	case LOG_LVL_ERR:
		return "error";
	case LOG_LVL_WARN:
		return "warn";
	case LOG_LVL_INFO:
		return "info";
	case LOG_LVL_DEBUG:
		return "debug";
	}
	return "info";
}

void
log_vlog(enum log_level level, int with_errno, const char *fmt, va_list ap)
{
	char msg[4096];
	int saved = errno;
	size_t len;

	if (level > log_level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (with_errno) {
		len = strlen(msg);
		snprintf(msg + len, sizeof(msg) - len, ": %s", strerror(saved));
	}
	if (log_prefix < 0)
		log_prefix = getenv("JOURNAL_STREAM") != NULL;

	if (log_json) {
		struct timeval tv;
		struct tm tm;
		char ts[64];
		jv o;

		gettimeofday(&tv, NULL);
		gmtime_r(&tv.tv_sec, &tm);
		len = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(ts + len, sizeof(ts) - len, ".%03ldZ",
		    (long)(tv.tv_usec / 1000));
		o = jv_object();
		o = jv_object_set(o, jv_string("ts"), jv_string(ts));
		o = jv_object_set(
		    o, jv_string("level"), jv_string(level_name(level)));
		o = jv_object_set(o, jv_string("daemon"), jv_string(log_prog));
		o = jv_object_set(o, jv_string("pid"), jv_number(getpid()));
		for (int i = 0; i < LOG_CTX_MAX; i++)
			if (log_ctx[i].key[0])
				o = jv_object_set(o, jv_string(log_ctx[i].key),
				    ctx_value(
					log_ctx[i].key, log_ctx[i].value));
		o = jv_object_set(o, jv_string("msg"), jv_string(msg));
		jv s = jv_dump_string(o, 0);
		if (log_prefix)
			fprintf(stderr, "<%d>", (int)level);
		fprintf(stderr, "%s\n", jv_string_value(s));
		jv_free(s);
	} else {
		if (log_prefix)
			fprintf(stderr, "<%d>", (int)level);
		fprintf(stderr, "%s: ", log_prog);
		for (int i = 0; i < LOG_CTX_MAX; i++)
			if (log_ctx[i].key[0])
				fprintf(stderr, "[%s=%s] ", log_ctx[i].key,
				    log_ctx[i].value);
		fprintf(stderr, "%s\n", msg);
	}
	errno = saved;
}

#define LOG_FN(name, level, with_errno) \
	void name(const char *fmt, ...) \
	{ \
		va_list ap; \
		va_start(ap, fmt); \
		log_vlog(level, with_errno, fmt, ap); \
		va_end(ap); \
	}

LOG_FN(log_debug, LOG_LVL_DEBUG, 0)
LOG_FN(log_info, LOG_LVL_INFO, 0)
LOG_FN(log_warn, LOG_LVL_WARN, 1)
LOG_FN(log_warnx, LOG_LVL_WARN, 0)
LOG_FN(log_err, LOG_LVL_ERR, 1)
LOG_FN(log_errx, LOG_LVL_ERR, 0)

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vlog(LOG_LVL_ERR, 1, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vlog(LOG_LVL_ERR, 0, fmt, ap);
	va_end(ap);
	exit(1);
}
