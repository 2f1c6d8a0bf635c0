/*
 * apitext: reading members of the JSON objects loom-api answers with, and
 * writing times, durations and errors from them for people; shared by the
 * online commands (cli.h).  Missing or mistyped members read as NULL / the
 * default / "", so output code stays flat.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "core/xalloc.h"

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

const char *
cli_str_or(jv o, const char *key, const char *def)
{
	const char *s = cli_str(o, key);

	return s ? s : def;
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
cli_true(jv o, const char *key)
{
	jv v;
	int t;

	if (jv_get_kind(o) != JV_KIND_OBJECT)
		return 0;
	v = jv_object_get(jv_copy(o), jv_string(key));
	t = jv_get_kind(v) == JV_KIND_TRUE;
	jv_free(v);
	return t;
}

int
cli_run_terminal(const char *status)
{
	return status &&
	    (!strcmp(status, "SUCCESS") || !strcmp(status, "FAILED") ||
		!strcmp(status, "CANCELLED"));
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

const char *
cli_ms_text(int64_t ms, char *buf, size_t len)
{
	if (ms < 0)
		snprintf(buf, len, "-");
	else if (ms < 1000)
		snprintf(buf, len, "%lldms", (long long)ms);
	else if (ms < 60000)
		snprintf(buf, len, "%.1fs", ms / 1000.0);
	else if (ms < 3600000)
		snprintf(buf, len, "%lldm%02llds", (long long)(ms / 60000),
		    (long long)(ms / 1000 % 60));
	else
		snprintf(buf, len, "%lldh%02lldm", (long long)(ms / 3600000),
		    (long long)(ms / 60000 % 60));
	return buf;
}

const char *
cli_num_text(jv o, const char *key, char *buf, size_t len)
{
	jv v = jv_get_kind(o) == JV_KIND_OBJECT ?
	    jv_object_get(jv_copy(o), jv_string(key)) :
	    jv_invalid();

	buf[0] = '\0';
	if (jv_get_kind(v) == JV_KIND_NUMBER)
		snprintf(buf, len, "%.17g", jv_number_value(v));
	jv_free(v);
	return buf;
}

const char *
cli_span_text(jv o, const char *from, const char *to, char *buf, size_t len)
{
	int64_t a = cli_iso_ms(cli_str(o, from)),
		b = cli_iso_ms(cli_str(o, to));

	return cli_ms_text(a >= 0 && b >= a ? b - a : -1, buf, len);
}

const char *
cli_time_text(jv o, const char *key, char *buf, size_t len)
{
	const char *s = cli_str(o, key);

	snprintf(buf, len, "%.19s", s ? s : "");
	if (strlen(buf) > 10 && buf[10] == 'T')
		buf[10] = ' ';
	return buf;
}

char *
cli_error_text(jv o, const char *key)
{
	jv e = jv_get_kind(o) == JV_KIND_OBJECT ?
	    jv_object_get(jv_copy(o), jv_string(key)) :
	    jv_invalid();
	char *out = NULL;

	if (jv_get_kind(e) == JV_KIND_STRING)
		out = xstrdup(jv_string_value(e));
	else if (jv_get_kind(e) == JV_KIND_OBJECT) {
		const char *t = cli_str(e, "type"), *m = cli_str(e, "message");

		out = xasprintf(
		    "%s%s%s", t ? t : "", t && m ? ": " : "", m ? m : "");
	}
	jv_free(e);
	return out;
}
