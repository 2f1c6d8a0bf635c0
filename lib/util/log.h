/*
 * log: the one logging API of Link Loom.
 *
 * Every line goes to stderr.  When stderr is the journal (systemd sets
 * JOURNAL_STREAM) or when asked, each line starts with a "<N>" sd-daemon
 * priority prefix so journald records the level.  In JSON mode each line is
 * one JSON object ({"ts","level","daemon","pid","msg"} plus the context
 * fields as keys of their own) for log shippers.  log_warn() appends
 * strerror(errno); log_warnx() does not. fatal()/fatalx() log and exit(1); they
 * are for daemon main loops only, never for library code.
 */
#ifndef LOOM_LOG_H
#define LOOM_LOG_H

#include <stdarg.h>

enum log_level {
	LOG_LVL_ERR = 3,
	LOG_LVL_WARN = 4,
	LOG_LVL_INFO = 6,
	LOG_LVL_DEBUG = 7,
};

/* prog: name shown in each line; level: lowest level printed. */
void log_init(const char *prog, enum log_level level);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
void log_set_json(int on);
void log_set_prefix(int on); /* force priority prefixes on or off */
/* Parses "error", "warn", "info", "debug"; returns -1 for anything else. */
int log_level_parse(const char *s, enum log_level *out);

/*
 * Context fields added to every JSON line (and "[k=v]" in text mode) until
 * cleared: "workflow", "execution", "task", "attempt", and loom-api's
 * "method", "path", "status", "durationMs".  Pass NULL to clear a field.
 * The context belongs to the calling thread.  "attempt", "status",
 * "durationMs" and "httpStatus" are numbers in JSON.  At most 10 fields;
 * values are cut at 255 bytes.
 */
void log_set_context(const char *key, const char *value);
void log_set_context_int(const char *key, long long value);
/* Sets the four run fields at once; NULL (attempt <= 0) clears one. */
void log_set_run(
    const char *workflow, const char *execution, const char *task, int attempt);
void log_clear_context(void); /* this thread's */

void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_errx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
void log_vlog(
    enum log_level level, int with_errno, const char *fmt, va_list ap);

#endif
