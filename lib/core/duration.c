/* duration: see duration.h. */
#include "duration.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static const struct unit {
	const char *name;
	int64_t ms;
} units[] = {
	{ "ms", 1 },
	{ "s", 1000 },
	{ "m", 60 * 1000 },
	{ "h", 60 * 60 * 1000 },
	{ "d", 24 * 60 * 60 * 1000 },
};

#define DURATION_MAX ((int64_t)100 * 365 * 24 * 60 * 60 * 1000)

int
duration_parse(const char *s, int64_t *ms, const char **err)
{
	const char *p = s;
	int64_t total = 0;
	int last_unit = -1;

	if (s == NULL || *s == '\0') {
		*err = "expected a duration like 500ms, 30s, 5m, 2h or 1d";
		return -1;
	}
	while (*p) {
		int64_t n = 0;
		int digits = 0, u = -1;

		while (isdigit((unsigned char)*p)) {
			n = n * 10 + (*p++ - '0');
			if (n > DURATION_MAX) {
				*err =
				    "duration is too long (at most 100 years)";
				return -1;
			}
			digits++;
		}
		if (digits == 0) {
			*err =
			    "expected a number followed by a unit (ms, s, m, "
			    "h, d), like 30s or 1h30m";
			return -1;
		}
		if (*p == '\0') {
			*err =
			    "missing unit: write 30s, 5m, 500ms (ms, s, m, h "
			    "or d)";
			return -1;
		}
		/* "ms" must be tried before "m". */
		if (p[0] == 'm' && p[1] == 's') {
			u = 0;
			p += 2;
		} else {
			for (int i = 1; i < 5; i++)
				if (*p == units[i].name[0]) {
					u = i;
					p++;
					break;
				}
		}
		if (u < 0) {
			*err = "unknown unit: expected ms, s, m, h or d";
			return -1;
		}
		if (last_unit >= 0 && u >= last_unit) {
			*err = "units must go from largest to smallest, like "
			       "1h30m";
			return -1;
		}
		last_unit = u;
		/* n is at most DURATION_MAX, but n * 1d is not an int64 */
		if (n > (DURATION_MAX - total) / units[u].ms) {
			*err = "duration is too long (at most 100 years)";
			return -1;
		}
		total += n * units[u].ms;
		if (total > DURATION_MAX) {
			*err = "duration is too long (at most 100 years)";
			return -1;
		}
	}
	*ms = total;
	return 0;
}

void
duration_format(int64_t ms, char *buf, size_t len)
{
	size_t off = 0;

	if (len == 0)
		return;
	buf[0] = '\0';
	if (ms <= 0) {
		snprintf(buf, len, "0s");
		return;
	}
	for (int i = 4; i >= 0 && off < len; i--) {
		int64_t n = ms / units[i].ms;

		if (n == 0)
			continue;
		off += snprintf(buf + off, len - off, "%lld%s", (long long)n,
		    units[i].name);
		ms -= n * units[i].ms;
	}
}
