/* config: see config.h. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "core/duration.h"
#include "core/xalloc.h"
#include "log.h"

struct config_entry {
	char *key; /* "section.key" */
	char *value;
};

struct config {
	char *path;
	struct config_entry *v;
	size_t n, cap;
	struct diags *d;
};

static void
config_set(struct config *c, const char *key, const char *value)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->v[i].key, key) == 0) {
			free(c->v[i].value);
			c->v[i].value = xstrdup(value);
			return;
		}
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 16;
		c->v = xreallocarray(c->v, c->cap, sizeof(*c->v));
	}
	c->v[c->n].key = xstrdup(key);
	c->v[c->n].value = xstrdup(value);
	c->n++;
}

static int
config_handler(
    void *user, const char *section, const char *name, const char *value)
{
	struct config *c = user;
	char *key = xasprintf("%s.%s", section, name);

	config_set(c, key, value);
	free(key);
	return 1;
}

struct config *
config_load(const char *path, struct diags *d)
{
	struct config *c = xcalloc(1, sizeof(*c));
	int explicit = 1, rc;
	FILE *fp;

	if (path == NULL)
		path = getenv("LOOM_CONFIG");
	if (path == NULL || *path == '\0') {
		path = CONFIG_DEFAULT_PATH;
		explicit = 0;
	}
	c->path = xstrdup(path);
	c->d = d;
	fp = fopen(path, "r");
	if (fp == NULL) {
		if (!explicit && errno == ENOENT)
			return c;
		diags_add(
		    d, path, 0, 0, "cannot read config: %s", strerror(errno));
		config_free(c);
		return NULL;
	}
	rc = ini_parse_file(fp, config_handler, c);
	fclose(fp);
	if (rc != 0) {
		diags_add(d, path, rc > 0 ? rc : 0, rc > 0 ? 1 : 0,
		    "syntax error: expected [section], key = value, or a "
		    "comment");
		config_free(c);
		return NULL;
	}
	return c;
}

void
config_free(struct config *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n; i++) {
		free(c->v[i].key);
		free(c->v[i].value);
	}
	free(c->v);
	free(c->path);
	free(c);
}

const char *
config_path(const struct config *c)
{
	return c->path;
}

const char *
config_get(const struct config *c, const char *key, const char *def)
{
	char env[128] = "LOOM_";
	size_t j = 5;
	const char *v;

	for (const char *p = key; *p && j < sizeof(env) - 1; p++)
		env[j++] = (*p == '.' || *p == '-') ?
		    '_' :
		    (char)toupper((unsigned char)*p);
	env[j] = '\0';
	if ((v = getenv(env)) != NULL)
		return v;
	if (c != NULL)
		for (size_t i = 0; i < c->n; i++)
			if (strcmp(c->v[i].key, key) == 0)
				return c->v[i].value;
	return def;
}

int
config_get_int(const struct config *c, const char *key, long def, long *out)
{
	const char *v = config_get(c, key, NULL);
	char *end;
	long n;

	if (v == NULL) {
		*out = def;
		return 0;
	}
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || end == v || *end != '\0')
		return -1;
	*out = n;
	return 0;
}

int
config_get_bool(const struct config *c, const char *key, int def, int *out)
{
	const char *v = config_get(c, key, NULL);

	if (v == NULL) {
		*out = def;
		return 0;
	}
	if (!strcasecmp(v, "yes") || !strcasecmp(v, "true") ||
	    !strcasecmp(v, "on") || !strcmp(v, "1"))
		*out = 1;
	else if (!strcasecmp(v, "no") || !strcasecmp(v, "false") ||
	    !strcasecmp(v, "off") || !strcmp(v, "0"))
		*out = 0;
	else
		return -1;
	return 0;
}

int
config_get_duration(
    const struct config *c, const char *key, int64_t def_ms, int64_t *out_ms)
{
	const char *v = config_get(c, key, NULL);
	const char *err;

	if (v == NULL) {
		*out_ms = def_ms;
		return 0;
	}
	return duration_parse(v, out_ms, &err);
}

struct config *
config_load_daemon(const char *path, int *level)
{
	enum log_level l = (enum log_level) * level;
	struct config *cfg;
	struct diags d;
	const char *lvl;

	diags_init(&d);
	if ((cfg = config_load(path, &d)) == NULL) {
		diags_print(&d, stderr);
		diags_clear(&d);
		return NULL;
	}
	diags_clear(&d);
	if ((lvl = config_get(cfg, "log.level", NULL)) && l != LOG_LVL_DEBUG &&
	    log_level_parse(lvl, &l) < 0)
		fatalx("log.level: unknown level '%s'", lvl);
	log_set_level(l);
	log_set_json(config_get(cfg, "log.format", "text")[0] == 'j');
	*level = (int)l;
	return cfg;
}
