/*
 * sdk_int.h: what the files of libloomclient share and do not export.
 * Only loom_* symbols leave the library (see the Makefile's libloomclient
 * rules); these are among them but not in the public header.
 */
#ifndef LOOM_SDK_INT_H
#define LOOM_SDK_INT_H

#include <stdint.h>

#include "loom/client.h"

#define LOOM_DEFAULT_TIMEOUT_MS 30000L

/*
 * Fills e from a failed call: status (-1: no answer, errno says why) and
 * reply (consumed: the API's error body, or the invalid with a message).
 */
void loom_error_set(struct loom_error *e, int status, jv reply);

/* CLOCK_MONOTONIC in milliseconds. */
int64_t loom_mono_ms(void);

#endif
