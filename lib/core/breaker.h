/*
 * breaker: the circuit breaker of one HTTP target.  Pure code, no I/O, no
 * clock reads: every time comes in as an argument (ms since the epoch).
 *
 * A target is "scheme://host:port" of a task's URL (breaker_target_of()).
 * A breaker is CLOSED (dispatches go through), OPEN (dispatches are held:
 * they wait and do not use up attempts) or HALF_OPEN (exactly one probe
 * goes through; its result decides).  It opens when, while CLOSED, either
 * `failures` results in a row failed, or at least `min_calls` results in
 * the last `window` were seen and the share of failures among them reached
 * `rate`.  After `cooldown` the next breaker_allow() half-opens it and
 * claims the probe; the probe's success closes it (counters reset), its
 * failure re-opens it with the cool-down doubled, capped at max_cooldown.
 * A probe whose result never comes (its executor died) is forgotten after
 * probe_timeout and the next caller becomes the probe.
 *
 * Only ConnectionException, TimeoutException and HttpServerError (5xx,
 * which includes 429) count as failures: a 4xx, a validation error or a
 * backend that said FAILED proves the target is alive, so those count as
 * successes.  Results that arrive while OPEN (requests sent before it
 * opened) are ignored; any result that arrives while HALF_OPEN decides.
 *
 * The rate window is a ring of BREAKER_BUCKETS buckets, each window /
 * BREAKER_BUCKETS wide and stamped with its start, so old results age out a
 * bucket at a time and a stale bucket is recognised by its stamp, not by a
 * timer.  If the clock steps back, an OPEN breaker's cool-down restarts
 * from the new "now" rather than lasting until the old time comes round.
 *
 * struct breaker_state is a plain value: lib/breakerdb keeps one per target
 * in PostgreSQL so that every loom-exec sees the same breaker.
 */
#ifndef LOOM_BREAKER_H
#define LOOM_BREAKER_H

#include <stddef.h>
#include <stdint.h>

#include "retry.h"

/* Room for any target breaker_target_of() accepts, with its NUL. */
#define BREAKER_TARGET_MAX 300
#define BREAKER_BUCKETS 6

enum breaker_st {
	BREAKER_CLOSED = 0,
	BREAKER_OPEN,
	BREAKER_HALF_OPEN,
};

struct breaker_config {
	int enabled;		  /* breaker.enabled: no = never hold */
	int failures;		  /* breaker.failures: in a row; 0 = off */
	double rate;		  /* breaker.rate: 0..1; 0 = off */
	int min_calls;		  /* breaker.min_calls: before rate counts */
	int64_t window_ms;	  /* breaker.window */
	int64_t cooldown_ms;	  /* breaker.cooldown: first cool-down */
	int64_t max_cooldown_ms;  /* breaker.max_cooldown: doubling cap */
	int64_t probe_timeout_ms; /* breaker.probe_timeout: lost probe */
	int64_t cache_ms;	  /* breaker.cache_ttl: lib/breakerdb only */
};

struct breaker_bucket {
	int64_t start_ms; /* aligned start; 0 = never used */
	int32_t ok;	  /* results that did not count as failures */
	int32_t fail;
};

struct breaker_state {
	enum breaker_st state;
	int32_t consecutive; /* failures in a row while CLOSED */
	struct breaker_bucket win[BREAKER_BUCKETS];
	int64_t opened_at_ms;	/* when it last opened (OPEN, HALF_OPEN) */
	int64_t cooldown_ms;	/* the current cool-down */
	int probe_in_flight;	/* HALF_OPEN: somebody holds the probe */
	int64_t probe_until_ms; /* ...until then, when it counts as lost */
};

/*
 * Writes the target of url into buf: the scheme and host lower-cased, the
 * port always present (80 for http, 443 for https), user information,
 * path, query and fragment dropped, IPv6 brackets kept:
 *     HTTP://User:pw@Example.COM/x?y  ->  http://example.com:80
 *     https://[::1]:8443/             ->  https://[::1]:8443
 * Returns 0, or -1 with errno EINVAL (not an http/https URL, no host, a bad
 * port, a control character or space in the host) or ERANGE (buf too
 * small; BREAKER_TARGET_MAX is always enough for a valid target).
 */
int breaker_target_of(const char *url, char *buf, size_t len);

/*
 * The defaults: enabled, 5 failures in a row, or 50% of at least 20 calls
 * in 60s; cool-down 30s doubling up to 5m; a probe is lost after 1m; the
 * closed cache of lib/breakerdb lives 1s.
 */
void breaker_config_default(struct breaker_config *cfg);

/* A new breaker: CLOSED, nothing counted. */
void breaker_state_init(struct breaker_state *s);

/* "CLOSED", "OPEN", "HALF_OPEN"; "" for anything else. */
const char *breaker_state_name(enum breaker_st st);
/* Parses those names (exactly); -1 (errno EINVAL) when unknown. */
int breaker_state_parse(const char *name, enum breaker_st *out);

/* Whether an attempt that ended with class c counts against the target. */
int breaker_is_failure(enum errclass c);

/*
 * Whether a dispatch to the target may go now: 1 yes, 0 hold it.  An OPEN
 * breaker whose cool-down is over becomes HALF_OPEN and the caller gets
 * the probe (1); a HALF_OPEN one whose probe is in flight holds (0) until
 * the probe times out, when the caller gets a fresh probe.  May change s;
 * a CLOSED breaker is never changed.  Always 1 when cfg->enabled is 0.
 */
int breaker_allow(
    struct breaker_state *s, const struct breaker_config *cfg, int64_t now_ms);

/*
 * Records the result of one dispatch: outcome ERR_NONE is a success, and
 * so is every class breaker_is_failure() says does not count.  May open
 * or close the breaker (see the top of this file).  No-op when disabled.
 */
void breaker_record(struct breaker_state *s, const struct breaker_config *cfg,
    int64_t now_ms, enum errclass outcome);

/*
 * Gives the probe back without a result (the probe dispatch was abandoned
 * before it reached the target, e.g. its task was cancelled): the next
 * breaker_allow() claims it again.  No-op unless HALF_OPEN.
 */
void breaker_release_probe(struct breaker_state *s);

/*
 * When a held dispatch should ask again (ms since the epoch): OPEN, the end
 * of the cool-down; HALF_OPEN with a probe in flight, the probe's deadline
 * (its result usually comes sooner: lib/breakerdb rings a doorbell then).
 * 0 when a dispatch would be allowed right away.
 */
int64_t breaker_retry_at(
    const struct breaker_state *s, const struct breaker_config *cfg);

/*
 * The results counted in the window ending at now_ms: *calls in all,
 * *fails of them failures.  Either pointer may be NULL.
 */
void breaker_window(const struct breaker_state *s,
    const struct breaker_config *cfg, int64_t now_ms, long *calls, long *fails);

#endif
