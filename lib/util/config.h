/*
 * config: one INI file plus LOOM_* environment overrides.
 *
 * The file is /etc/loom/loom.conf unless LOOM_CONFIG names another; a
 * missing default file is fine (built-in defaults apply), a missing file
 * that was asked for is an error.  Every key may be overridden by an
 * environment variable LOOM_<SECTION>_<KEY>, upper-cased, with '-' and '.'
 * turned into '_' (database.url -> LOOM_DATABASE_URL).  Keys are looked up
 * as "section.key".  Documented in loom.conf(5).
 */
#ifndef LOOM_CONFIG_H
#define LOOM_CONFIG_H

#include <stdint.h>

#include "core/diag.h"

#define CONFIG_DEFAULT_PATH "/etc/loom/loom.conf"

struct config;

/*
 * Loads path (NULL: $LOOM_CONFIG, else the default path, which may be
 * absent).  Returns NULL when the file cannot be read or has syntax errors;
 * each problem is in d as FILE:LINE.
 */
struct config *config_load(const char *path, struct diags *d);
void config_free(struct config *c);
const char *config_path(const struct config *c);

/*
 * A daemon's start: loads path (NULL: LOOM_CONFIG or the default), prints
 * its problems to stderr, then sets the log level from log.level unless
 * *level is debug already (-d/-v win) and the format from log.format;
 * *level is the level set.  NULL when the file does not load; exits
 * (fatalx) on an unknown log.level.
 */
struct config *config_load_daemon(const char *path, int *level);

/* The value of "section.key" (environment first), or def. */
const char *config_get(
    const struct config *c, const char *key, const char *def);
/* Typed getters: return 0, or -1 when the value is present but malformed. */
int config_get_int(
    const struct config *c, const char *key, long def, long *out);
int config_get_bool(const struct config *c, const char *key, int def, int *out);
int config_get_duration(
    const struct config *c, const char *key, int64_t def_ms, int64_t *out_ms);

#endif
