/*
 * wf_retry: retry policies in the workflow DSL (part of the loader, see
 * workflow.c).
 *
 * Each level of the file that can say something about retries (the
 * workflow's retryStrategy and retryPolicy, defaults, a task's retryPolicy
 * and its own keys) is read into a partial policy, struct rp_over, that
 * records which fields it set.  The overlays are applied in that fixed
 * order over the built-in default (retry_policy_default()), so each task
 * ends up with a complete policy; rp_check() then refuses one whose
 * maxDelay is shorter than its initialDelay.
 */
#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "wf_int.h"
#include "xalloc.h"

#define MAX_ATTEMPTS_LIMIT 1000

/* ---- retry policies --------------------------------------------------- */

static int
get_errclasses(
    struct wctx *c, const struct ynode *n, const char *key, unsigned *out)
{
	static const char *names[ERR__COUNT];
	unsigned set = 0;
	int bad = 0;
	const struct ynode *const *items;
	const struct ynode *one[1];
	size_t count;

	for (int i = 1; i < ERR__COUNT; i++)
		names[i - 1] = errclass_name((enum errclass)i);
	if (ynode_is_str(n)) {
		one[0] = n;
		items = one;
		count = 1;
	} else if (n->type == YN_SEQ) {
		items = (const struct ynode *const *)n->u.items;
		count = n->n;
	} else {
		expect(c, n, "a list of error classes", key, 0);
		return -1;
	}
	for (size_t i = 0; i < count; i++) {
		const char *s = get_str(c, items[i], key, 1), *best;
		enum errclass ec;
		char *list, *base;

		if (s == NULL) {
			bad = 1;
			continue;
		}
		if (errclass_parse(s, &ec) == 0 && ec != ERR_NONE) {
			set |= ERRCLASS_BIT(ec);
			continue;
		}
		bad = 1;
		base = xstrndup(s, strcspn(s, " ("));
		best = dym_best(base, names, ERR__COUNT - 1);
		list = join_or(names, ERR__COUNT - 1);
		if (best != NULL)
			report(c, items[i],
			    "unknown error class '%s' in '%s'; "
			    "did you mean '%s'?",
			    s, key, best);
		else
			report(c, items[i],
			    "unknown error class '%s' in '%s': "
			    "expected %s",
			    s, key, list);
		free(list);
		free(base);
	}
	if (bad)
		return -1;
	*out = set;
	return 0;
}

/* The retry keys shared by retryPolicy, task and defaults mappings. */
void
parse_retry_keys(struct wctx *c, const struct ynode *maxn,
    const struct ynode *onn, const struct ynode *dontn, struct rp_over *o)
{
	int64_t v;

	if (maxn &&
	    get_int(c, maxn, "maxAttempts", 1, MAX_ATTEMPTS_LIMIT, &v) == 0) {
		o->p.max_attempts = (int)v;
		o->set |= RP_MAX;
	}
	if (onn && get_errclasses(c, onn, "retryOn", &o->p.retry_on) == 0)
		o->set |= RP_ON;
	if (dontn &&
	    get_errclasses(c, dontn, "dontRetryOn", &o->p.dont_retry_on) == 0)
		o->set |= RP_DONT;
	if ((o->set & RP_ON) && (o->set & RP_DONT) &&
	    (o->p.retry_on & o->p.dont_retry_on)) {
		for (int i = 1; i < ERR__COUNT; i++)
			if (o->p.retry_on & o->p.dont_retry_on &
			    ERRCLASS_BIT(i)) {
				report(c, dontn,
				    "'%s' is in both retryOn and "
				    "dontRetryOn",
				    errclass_name(i));
				break;
			}
		o->set &= ~(unsigned)(RP_ON | RP_DONT);
	}
}

void
parse_retry_policy(struct wctx *c, const struct ynode *n, struct rp_over *o)
{
	const struct ynode *s[RK__COUNT], *unknown[32];
	size_t nu;
	int b;

	if (expect_map(c, n, "retryPolicy") < 0)
		return;
	nu = map_slots(n, retry_keys, RK__COUNT, s, NULL, unknown, 32);
	for (size_t i = 0; i < nu; i++)
		report_unknown(
		    c, unknown[i], "retryPolicy", retry_keys, RK__COUNT);
	parse_retry_keys(
	    c, s[RK_MAXATTEMPTS], s[RK_RETRYON], s[RK_DONTRETRYON], o);
	if (s[RK_BACKOFF] &&
	    (b = get_enum(c, s[RK_BACKOFF], "backoffStrategy", backoff_names,
		 NELEM(backoff_names), 0)) >= 0 &&
	    backoff_parse(backoff_names[b], &o->p.strategy) == 0)
		o->set |= RP_STRATEGY;
	if (s[RK_INITIAL] &&
	    get_duration(c, s[RK_INITIAL], "initialDelay", 0,
		&o->p.initial_delay_ms) == 0)
		o->set |= RP_INITIAL;
	if (s[RK_MAXDELAY] &&
	    get_duration(
		c, s[RK_MAXDELAY], "maxDelay", 0, &o->p.max_delay_ms) == 0)
		o->set |= RP_MAXDELAY;
	if (s[RK_MULTIPLIER] &&
	    get_double(c, s[RK_MULTIPLIER], "multiplier", 1, 1000,
		&o->p.multiplier) == 0)
		o->set |= RP_MULTIPLIER;
	if (s[RK_JITTER] &&
	    get_double(c, s[RK_JITTER], "jitter", 0, 1, &o->p.jitter) == 0)
		o->set |= RP_JITTER;
}

/*
 * Applies one level's overlay.  A level that lists a class in retryOn takes
 * it out of the dontRetryOn it inherits (and the other way round), so the
 * two sets of a resolved policy never overlap and the more specific level
 * always has the last word.
 */
void
rp_apply(struct retry_policy *p, const struct rp_over *o)
{
	if (o->set & RP_MAX)
		p->max_attempts = o->p.max_attempts;
	if (o->set & RP_STRATEGY)
		p->strategy = o->p.strategy;
	if (o->set & RP_INITIAL)
		p->initial_delay_ms = o->p.initial_delay_ms;
	if (o->set & RP_MAXDELAY)
		p->max_delay_ms = o->p.max_delay_ms;
	if (o->set & RP_MULTIPLIER)
		p->multiplier = o->p.multiplier;
	if (o->set & RP_JITTER)
		p->jitter = o->p.jitter;
	if (o->set & RP_ON) {
		p->retry_on = o->p.retry_on;
		if (!(o->set & RP_DONT))
			p->dont_retry_on &= ~o->p.retry_on;
	}
	if (o->set & RP_DONT) {
		p->dont_retry_on = o->p.dont_retry_on;
		if (!(o->set & RP_ON))
			p->retry_on &= ~o->p.dont_retry_on;
	}
}

int
rp_check(struct wctx *c, const struct ynode *at, const struct retry_policy *p,
    const char *whose)
{
	char a[32], b[32];

	/* maxDelay 0s means "no cap" to retry_next_delay(). */
	if (p->max_delay_ms == 0 || p->max_delay_ms >= p->initial_delay_ms)
		return 0;
	duration_format(p->max_delay_ms, a, sizeof(a));
	duration_format(p->initial_delay_ms, b, sizeof(b));
	report(c, at,
	    "%s retry policy has maxDelay %s shorter than its "
	    "initialDelay %s",
	    whose, a, b);
	return -1;
}
