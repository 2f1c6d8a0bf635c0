/*
 * jvget: reading members of the JSON objects loom-api answers with, shared
 * by the online commands.  Missing or mistyped members read as NULL / the
 * default, so output code stays flat.
 */
#include <string.h>
#include <time.h>

#include "cli.h"

const char *
cli_str(jv o, const char *key)
{
	jv v;
	const char *s;

	if (jv_get_kind(o) != JV_KIND_OBJECT)
		return NULL;
	v = jv_object_get(jv_copy(o), jv_string(key));
	/* o still holds the string, so the pointer stays valid. */
	s = jv_get_kind(v) == JV_KIND_STRING ? jv_string_value(v) : NULL;
	jv_free(v);
	return s;
}

long
cli_num(jv o, const char *key, long def)
{
	jv v;
	long n = def;

	if (jv_get_kind(o) != JV_KIND_OBJECT)
		return def;
	v = jv_object_get(jv_copy(o), jv_string(key));
	if (jv_get_kind(v) == JV_KIND_NUMBER)
		n = (long)jv_number_value(v);
	jv_free(v);
	return n;
}

int
cli_run_terminal(const char *status)
{
	return status && (!strcmp(status, "SUCCESS") ||
	    !strcmp(status, "FAILED") || !strcmp(status, "CANCELLED"));
}

int64_t
cli_iso_ms(const char *s)
{
	struct tm tm;
	const char *p;
	int64_t ms = 0;

	if (s == NULL)
		return -1;
	memset(&tm, 0, sizeof(tm));
	if ((p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL)
		return -1;
	if (*p == '.') {
		int digits = 0;

		for (p++; *p >= '0' && *p <= '9'; p++)
			if (digits++ < 3)
				ms = ms * 10 + (*p - '0');
		for (; digits < 3; digits++)
			ms *= 10;
	}
	return (int64_t)timegm(&tm) * 1000 + ms;
}
