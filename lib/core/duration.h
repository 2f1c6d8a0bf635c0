/*
 * duration: "500ms", "30s", "5m", "2h", "1d" and sums like "1h30m".
 *
 * Durations are int64 milliseconds everywhere in Link Loom.  A bare number
 * is refused (is "30" seconds or milliseconds?) so that mistakes are loud.
 */
#ifndef LOOM_DURATION_H
#define LOOM_DURATION_H

#include <stddef.h>
#include <stdint.h>

/*
 * Parses s into *ms.  Returns 0, or -1 with a static message in *err
 * describing what was expected.  Negative and overflowing values are errors.
 */
int duration_parse(const char *s, int64_t *ms, const char **err);
/* Formats ms as the shortest exact form ("1h30m", "500ms", "0s"). */
void duration_format(int64_t ms, char *buf, size_t len);

#endif
