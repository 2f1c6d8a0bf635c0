/*
 * breakerdb: circuit breakers shared by every loom-exec through PostgreSQL.
 *
 * The table `breakers` (schema/002_breakers.sql) holds one struct
 * breaker_state per target that failed recently; no row means CLOSED and
 * clean.  Each call reads the target's row, runs the pure logic of
 * lib/core/breaker.c on it with the database's clock, and writes back what
 * changed.  Writes happen in a short transaction holding the row with
 * SELECT ... FOR UPDATE, so two executors never both take the half-open
 * probe and failures counted by one executor open the breaker for all.
 *
 * Time: every time is the database's clock (clock_timestamp()), in ms
 * since the epoch, so executors on hosts with skewed clocks still agree.
 * A retry_at_ms handed back is on that clock too: store it with SQL
 * ('epoch'::timestamptz + $1 * interval '1 millisecond'), never compare it
 * with the local clock.
 *
 * Cost: loom-exec asks breakerdb_allow() before every HTTP dispatch and
 * reports every result, so the common case is kept cheap.
 *   - allow, target without a row or CLOSED: one indexed read, or no query
 *     at all while the answer is cached (below).
 *   - allow, OPEN and cooling down or HALF_OPEN with the probe out: one
 *     indexed read (nothing changes, so nothing is written).
 *   - allow that claims the probe: one short locking transaction.
 *   - record of a success for a target without a row: no query while that
 *     is cached, else one indexed read.
 *   - any other record: one short locking transaction on the target's row.
 *
 * The cache (struct breaker_cache, one per executor process, optional)
 * remembers for cfg->cache_ms (breaker.cache_ttl, default 1s) that a target
 * was CLOSED.  The trade-off: when another executor opens a breaker, this
 * one may go on dispatching to that target for up to cache_ms before it
 * notices (its own failures drop its cache entry at once), and successes
 * it sees in that time for a target it believed clean are not counted.
 * cache_ms = 0 (or a NULL cache) turns caching off: every allow reads.
 * The cache holds at most a few hundred targets and is not thread-safe.
 *
 * Counting: successes are only counted in a target's row while it exists,
 * i.e. from its first failure on.  A long clean streak before a burst of
 * failures therefore does not dilute the failure rate: the rate is that of
 * the calls since the trouble started, within the window.
 *
 * Transactions: when the connection is idle each call uses its own
 * transaction; when the caller is inside one, a savepoint, so the breaker
 * decision commits (and its row lock is released) with the caller's
 * transaction.  A connection in a failed transaction gets an error.
 *
 * Errors: -1 with *err a malloc'd message the caller frees.
 */
#ifndef LOOM_BREAKERDB_H
#define LOOM_BREAKERDB_H

#include <stdint.h>

#include <jv.h>
#include <libpq-fe.h>

#include "core/breaker.h"
#include "core/retry.h"

/* The NOTIFY channel rung (payload: the target) on every state change. */
#define BREAKERDB_CHANNEL "loom_breaker"

struct config;
struct breaker_cache;

/*
 * Fills cfg from the config keys breaker.enabled, breaker.failures,
 * breaker.rate (0..1 or a percentage "50%"), breaker.min_calls,
 * breaker.window, breaker.cooldown, breaker.max_cooldown,
 * breaker.probe_timeout and breaker.cache_ttl (see loom.conf(5)); missing
 * keys get breaker_config_default()'s values.  c may be NULL (defaults and
 * environment only).  Returns 0, or -1 with *err naming the bad key.
 */
int breaker_config_load(
    const struct config *c, struct breaker_config *cfg, char **err);

struct breaker_cache *breaker_cache_new(void);
void breaker_cache_free(struct breaker_cache *cache);

/*
 * May a dispatch to target go now?  1 yes (when the breaker was OPEN and
 * its cool-down is over, the caller now holds the half-open probe, in the
 * name of owner), 0 hold it: *retry_at_ms says when to ask again (see
 * breaker_retry_at(); a NOTIFY on BREAKERDB_CHANNEL may come sooner).
 * -1 on a database error: *err.  Always 1 without a query when the
 * breaker is disabled.  owner names the dispatch in `loom breaker list`
 * and in breakerdb_release(), e.g. "<executor id>/<execution>/<task>/<n>".
 * cache may be NULL.
 */
int breakerdb_allow(PGconn *c, const struct breaker_config *cfg,
    struct breaker_cache *cache, const char *target, const char *owner,
    int64_t *retry_at_ms, char **err);

/*
 * Whether breakerdb_allow() (record 0), or breakerdb_record() with outcome
 * (record 1), would answer from the cache alone, without a statement: a
 * daemon whose connection is busy with a pipeline in flight asks first.
 */
int breakerdb_cached(const struct breaker_config *cfg,
    struct breaker_cache *cache, const char *target, int record,
    enum errclass outcome);

/*
 * Records the result of a dispatch to target: outcome ERR_NONE for a
 * success, else its class (only timeouts, connection errors and 5xx
 * count as failures; see breaker.h).  May open or close the breaker, and
 * rings BREAKERDB_CHANNEL when it does.  now_ms <= 0 uses the database's
 * clock, which is what loom-exec must pass; a positive now_ms is taken as
 * the database's time (for replays and tests) and must not come from
 * another clock.  owner is as for breakerdb_allow() (informational).
 * Returns 0, or -1 with *err.
 */
int breakerdb_record(PGconn *c, const struct breaker_config *cfg,
    struct breaker_cache *cache, const char *target, const char *owner,
    enum errclass outcome, int64_t now_ms, char **err);

/*
 * Gives back a probe that owner took with breakerdb_allow() but never
 * sent (its task was cancelled, the executor is draining), so the next
 * caller may probe at once instead of after breaker.probe_timeout.
 * Returns 1 when owner held the probe and gave it back, 0 when it did not
 * hold it, -1 with *err.
 */
int breakerdb_release(PGconn *c, const struct breaker_config *cfg,
    struct breaker_cache *cache, const char *target, const char *owner,
    char **err);

/*
 * When a dispatch to target that was held should ask again, read without
 * changing anything (an executor heard the doorbell and re-times the
 * tasks it holds): *retry_at_ms as breakerdb_allow() would give it, or 0
 * when breakerdb_allow() would let a dispatch through now (no row, CLOSED,
 * a cool-down that is over, a free or lost probe, or disabled).  One
 * indexed read.  Returns 0, or -1 with *err.
 */
int breakerdb_retry_at(PGconn *c, const struct breaker_config *cfg,
    const char *target, int64_t *retry_at_ms, char **err);

/*
 * Forgets everything about target (an operator's "close it now"): the
 * row is deleted and the channel rung.  Returns 1 when there was a row,
 * 0 when not, -1 with *err.
 */
int breakerdb_reset(PGconn *c, const char *target, char **err);

/*
 * *out gets a JSON array, sorted by target, of every target with a row:
 *   {"target", "state", "consecutiveFailures", "recentCalls",
 *    "recentFailures", "openedAt", "cooldownMs", "retryAt",
 *    "probeOwner", "probeUntil", "updatedAt"}
 * Times are ISO 8601 UTC strings or null; recentCalls/recentFailures are
 * the window's counts now; retryAt is when a held dispatch may go (null
 * when CLOSED or when the probe is free).  Targets without a row are
 * CLOSED and clean.  cfg (NULL: the defaults) sizes the window.  Returns
 * the number of entries, or -1 with *err and *out untouched.
 */
long breakerdb_list(
    PGconn *c, const struct breaker_config *cfg, jv *out, char **err);

#endif
