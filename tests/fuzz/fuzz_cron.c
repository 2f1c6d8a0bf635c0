/*
 * fuzz_cron: a libFuzzer target for the cron parser and the next fire
 * time (lib/core/cron.h), with a time zone from a POSIX TZ rule
 * (tz_from_posix, the rule at the end of every zone file).
 *
 * An input is up to three lines: a cron expression, a POSIX TZ rule
 * ("" or absent: UTC), and a start time in Unix seconds (absent: a fixed
 * time).  Properties, each checked with abort():
 *
 *   - an expression refused is refused with a message; one accepted
 *     parses again from the same text;
 *   - cron_next() answers a time strictly after the start, and asked
 *     again from one second before that answer, answers the same (when
 *     that second is within the starts it takes, up to 9990-01-01);
 *   - an expression cron_never_fires() says never fires has no next
 *     fire in any zone.
 *
 * Seeds: tests/fuzz/corpus/cron/.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cron.h"
#include "core/tz.h"

#define START 1795665906LL /* 2026-11-27: a fixed default start */
/* 9990-01-01: cron_next() answers ERANGE for a start after it (cron.h),
 * though a fire it finds from an earlier start may come later. */
#define AFTER_MAX 253086912000LL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Splits s at its first newline: returns the rest, or NULL. */
static char *
cut_line(char *s)
{
	char *nl = s != NULL ? strchr(s, '\n') : NULL;

	if (nl == NULL)
		return NULL;
	*nl = '\0';
	return nl + 1;
}

static void
check_next(const struct cron *c, const struct tz *z, int64_t after)
{
	int64_t next, again = -1;

	if (cron_next(c, z, after, &next) < 0)
		return;
	if (next <= after)
		abort(); /* not strictly after */
	if (next - 1 > AFTER_MAX)
		return; /* past the range of starts */
	if (cron_next(c, z, next - 1, &again) < 0 || again != next) {
		fprintf(stderr,
		    "next after %" PRId64 ": %" PRId64 "; after %" PRId64
		    ": %" PRId64 "\n",
		    after, next, next - 1, again);
		abort(); /* the same question, two answers */
	}
	/* and the one after that, as loom-sched walks a schedule */
	if (cron_next(c, z, next, &again) == 0 && again <= next)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), *rule, *when, *err = NULL, *end;
	struct cron *c, *c2;
	struct tz *z = NULL;
	int64_t after = START, next;

	if (s == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	rule = cut_line(s);
	when = cut_line(rule);
	cut_line(when);
	c = cron_parse(s, &err);
	if (c == NULL) {
		if (err == NULL)
			abort(); /* refused without saying why */
		free(err);
		free(s);
		return 0;
	}
	if ((c2 = cron_parse(s, &err)) == NULL)
		abort();
	cron_free(c2);
	if (rule != NULL && *rule != '\0') {
		z = tz_from_posix("fuzz", rule, &err);
		if (z == NULL) {
			if (err == NULL)
				abort();
			free(err);
			err = NULL;
		}
	}
	if (when != NULL && *when != '\0') {
		long long v = strtoll(when, &end, 10);

		if (*end == '\0')
			after = v;
	}
	check_next(c, z, after);
	check_next(c, NULL, after);
	if (cron_never_fires(c) &&
	    (cron_next(c, z, after, &next) == 0 ||
		cron_next(c, NULL, START, &next) == 0))
		abort(); /* "never fires" yet it fires */
	tz_free(z);
	cron_free(c);
	free(s);
	return 0;
}
