/*
 * loom cron: try a cron expression without scheduling anything.
 *
 *   loom cron next EXPR [--tz ZONE] [--from TIME] [-n N] [-o text|json]
 *
 * Prints the next N fire times of EXPR read in ZONE, computed by the same
 * lib/core/cron.c that loom-sched uses, so what this prints is what the
 * scheduler will do (daylight-saving rules included).  Times print in UTC;
 * the JSON form adds the local time with its offset.  Options may come
 * before or after EXPR (getopt_long permutes).  A bad expression is the
 * thing failing (exit 1); a bad zone, time or option is a usage error
 * (exit 2).
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jv.h>

#include "cli.h"
#include "core/cron.h"
#include "core/tz.h"
#include "core/xalloc.h"
#include "util/tzload.h"

#define COUNT_DEFAULT 5
#define COUNT_MAX 1000

static void
cron_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: loom cron next EXPR [--tz ZONE] [--from TIME] [-n N]\n"
	    "                           [-o text|json]\n"
	    "\n"
	    "Prints the next N times (default %d, at most %d) at which the\n"
	    "cron expression EXPR fires, in UTC, one per line.\n"
	    "\n"
	    "  EXPR              \"MIN HOUR DOM MON DOW\", optionally with a\n"
	    "                    leading seconds field; or an alias: @yearly,\n"
	    "                    @annually, @monthly, @weekly, @daily,\n"
	    "                    @midnight, @hourly\n"
	    "  --tz ZONE         read EXPR in this IANA time zone, like\n"
	    "                    Europe/Kyiv (default UTC)\n"
	    "  --from TIME       start after TIME: 2026-11-26T10:00:00Z,\n"
	    "                    2026-11-26T12:00:00+02:00, or 2026-11-26\n"
	    "                    (midnight UTC); default now\n"
	    "  -n, --count N     how many fire times to print\n"
	    "  -o, --output FMT  text (default), or json: an array of\n"
	    "                    {\"utc\": ..., \"local\": ...} objects\n"
	    "\n"
	    "Exit status: 0 ok, 1 bad or never-firing expression, 2 usage.\n"
	    "See loom(1) and loom-workflow(5).\n",
	    COUNT_DEFAULT, COUNT_MAX);
}

/* Reads exactly n digits at *pp into *v. */
static int
digits(const char **pp, int n, int *v)
{
	const char *p = *pp;

	*v = 0;
	for (int i = 0; i < n; i++, p++) {
		if (!isdigit((unsigned char)*p))
			return -1;
		*v = *v * 10 + (*p - '0');
	}
	*pp = p;
	return 0;
}

static int
leap(int y)
{
	return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

/*
 * Parses an ISO 8601 instant: "2026-11-26T10:00:00Z", with an offset
 * ("+02:00", "+0200", "+02") instead of Z, seconds optional, a fraction
 * ignored; or a date "2026-11-26" meaning midnight UTC.  A time without Z
 * or an offset is refused: it would be ambiguous.
 */
static int
parse_time(const char *s, int64_t *out)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30,
		31 };
	const char *p = s;
	int y, mo, d, h = 0, mi = 0, sec = 0, oh = 0, om = 0, sign = 1;
	struct tm tm;

	if (digits(&p, 4, &y) < 0 || *p++ != '-' || digits(&p, 2, &mo) < 0 ||
	    *p++ != '-' || digits(&p, 2, &d) < 0)
		return -1;
	if (mo < 1 || mo > 12 || d < 1 ||
	    d > mdays[mo - 1] + (mo == 2 && leap(y)))
		return -1;
	if (*p != '\0') {
		if (*p != 'T' && *p != 't' && *p != ' ')
			return -1;
		p++;
		if (digits(&p, 2, &h) < 0 || *p++ != ':' ||
		    digits(&p, 2, &mi) < 0)
			return -1;
		if (*p == ':') {
			p++;
			if (digits(&p, 2, &sec) < 0)
				return -1;
			if (*p == '.' || *p == ',') {
				p++;
				if (!isdigit((unsigned char)*p))
					return -1;
				while (isdigit((unsigned char)*p))
					p++;
			}
		}
		if (h > 23 || mi > 59 || sec > 59)
			return -1;
		if (*p == 'Z' || *p == 'z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			sign = *p++ == '-' ? -1 : 1;
			if (digits(&p, 2, &oh) < 0)
				return -1;
			if (*p == ':')
				p++;
			if (isdigit((unsigned char)*p) &&
			    digits(&p, 2, &om) < 0)
				return -1;
			if (oh > 23 || om > 59)
				return -1;
		} else
			return -1;
		if (*p != '\0')
			return -1;
	}
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	*out = (int64_t)timegm(&tm) - sign * (oh * 3600 + om * 60);
	return 0;
}

static void
format_utc(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Local time in zone z, with its offset: 2026-11-27T05:00:00+02:00. */
static void
format_local(const struct tz *z, int64_t t, char *buf, size_t len)
{
	struct tz_local lt;
	long off;
	size_t n;

	tz_to_local(z, t, &lt);
	n = (size_t)snprintf(buf, len, "%04lld-%02d-%02dT%02d:%02d:%02d",
	    (long long)lt.year, lt.mon, lt.mday, lt.hour, lt.min, lt.sec);
	off = lt.utoff;
	snprintf(buf + n, len - n, "%c%02ld:%02ld", off < 0 ? '-' : '+',
	    labs(off) / 3600, labs(off) / 60 % 60);
	if (labs(off) % 60 != 0) {
		n = strlen(buf);
		snprintf(buf + n, len - n, ":%02ld", labs(off) % 60);
	}
}

static void
print_json(const int64_t *times, int count, const struct tz *z)
{
	char utc[32], local[48];
	jv arr = jv_array(), s;

	for (int i = 0; i < count; i++) {
		jv o = jv_object();

		format_utc(times[i], utc, sizeof(utc));
		format_local(z, times[i], local, sizeof(local));
		o = jv_object_set(o, jv_string("utc"), jv_string(utc));
		o = jv_object_set(o, jv_string("local"), jv_string(local));
		arr = jv_array_append(arr, o);
	}
	s = jv_dump_string(arr, JV_PRINT_INDENT_FLAGS(2));
	printf("%s\n", jv_string_value(s));
	jv_free(s);
}

static int
cron_next_cmd(const char *expr, const struct tz *tz, int64_t from, int count,
    enum output_format fmt)
{
	struct cron *c;
	int64_t *times, t = from;
	char *err = NULL, buf[32];
	int n = 0;

	if ((c = cron_parse(expr, &err)) == NULL) {
		fprintf(stderr, "loom cron: \"%s\": %s\n", expr, err);
		free(err);
		return EXIT_FAIL;
	}
	times = xcalloc(count, sizeof(*times));
	while (n < count) {
		if (cron_next(c, tz, t, &t) < 0) {
			if (errno != ERANGE) {
				fprintf(
				    stderr, "loom cron: %s\n", strerror(errno));
				goto fail;
			}
			if (n == 0) {
				fprintf(stderr,
				    "loom cron: \"%s\" never fires "
				    "(nothing in the next 8 years)\n",
				    expr);
				goto fail;
			}
			fprintf(stderr,
			    "loom cron: \"%s\" fires no more "
			    "within 8 years of the last time shown\n",
			    expr);
			break;
		}
		times[n++] = t;
	}
	if (fmt == OUT_JSON)
		print_json(times, n, tz);
	else
		for (int i = 0; i < n; i++) {
			format_utc(times[i], buf, sizeof(buf));
			printf("%s\n", buf);
		}
	free(times);
	cron_free(c);
	return EXIT_OK;

fail:
	free(times);
	cron_free(c);
	return EXIT_FAIL;
}

/* What `loom cron`'s options asked for. */
struct cron_opts {
	const char *tz;	  /* --tz, or NULL: UTC */
	const char *from; /* --from, or NULL: now */
	long count;	  /* -n */
	enum output_format fmt;
};

/*
 * Parses the options into o; optind is left at the subcommand.  Returns
 * -1 to go on, else the exit code to return (--help, or a usage error
 * already printed).
 */
static int
cron_parse_opts(int argc, char **argv, struct cron_opts *o)
{
	static const struct option opts[] = {
		{ "tz", required_argument, NULL, 'z' },
		{ "from", required_argument, NULL, 'f' },
		{ "count", required_argument, NULL, 'n' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	int ch;

	optind = 0; /* reset getopt, including its permutation state */
	opterr = 0; /* errors are reported below, in the house format */
	while ((ch = getopt_long(argc, argv, ":n:o:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'z':
			o->tz = optarg;
			break;
		case 'f':
			o->from = optarg;
			break;
		case 'n':
			errno = 0;
			o->count = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end != '\0' ||
			    o->count < 1 || o->count > COUNT_MAX)
				return cli_usage_error("cron",
				    "-n wants a number from 1 to %d, not '%s'",
				    COUNT_MAX, optarg);
			break;
		case 'o':
			if (cli_parse_output("cron", optarg, &o->fmt) < 0)
				return EXIT_USAGE;
			break;
		case 'h':
			cron_usage(stdout);
			return EXIT_OK;
		case ':':
			return cli_usage_error("cron",
			    "option '%s' needs a value", argv[optind - 1]);
		default:
			if (optopt != 0)
				return cli_usage_error(
				    "cron", "unknown option '-%c'", optopt);
			return cli_usage_error(
			    "cron", "unknown option '%s'", argv[optind - 1]);
		}
	}
	return -1;
}

int
cmd_cron(int argc, char **argv)
{
	struct cron_opts o = { NULL, NULL, COUNT_DEFAULT, OUT_TEXT };
	const struct tz *zone;
	int64_t from;
	int rc;

	if ((rc = cron_parse_opts(argc, argv, &o)) >= 0)
		return rc;
	if (optind >= argc)
		return cli_usage_error("cron", "missing subcommand (next)");
	if (strcmp(argv[optind], "next") != 0)
		return cli_usage_error("cron",
		    "unknown subcommand '%s' (expected next)", argv[optind]);
	if (argc - optind < 2)
		return cli_usage_error(
		    "cron", "missing cron expression, like \"0 3 * * *\"");
	if (argc - optind > 2)
		return cli_usage_error("cron",
		    "unexpected argument '%s' (quote the expression: "
		    "\"0 3 * * *\")",
		    argv[optind + 2]);
	if ((zone = tzload_get(o.tz ? o.tz : "UTC")) == NULL)
		return cli_usage_error("cron",
		    "unknown time zone '%s' (expected an IANA name like "
		    "Europe/Kyiv, or UTC)",
		    o.tz);
	if (o.from == NULL)
		from = (int64_t)time(NULL);
	else if (parse_time(o.from, &from) < 0) {
		tzload_release(zone);
		return cli_usage_error("cron",
		    "bad --from '%s' (expected 2026-11-26T10:00:00Z, "
		    "2026-11-26T12:00:00+02:00 or 2026-11-26)",
		    o.from);
	}
	rc = cron_next_cmd(argv[optind + 1], zone, from, (int)o.count, o.fmt);
	tzload_release(zone);
	return rc;
}
