/*
 * schedule: loom-sched's pure decisions (see schedule.h).
 *
 * sched_plan() walks the cron times after the cursor, up to now.  Fires
 * due within the grace are on time and always run.  The others were
 * missed; of those, only fires inside the catch-up window count (older
 * ones are dropped without being enumerated, so a scheduler that was down
 * for a month on a per-second schedule does not walk a month of seconds),
 * and the catch-up policy keeps none, the latest, or the newest
 * catchup_max of them.  The cursor moves past everything looked at, run
 * or dropped, so nothing is looked at twice: with the cursor stored in
 * the same transaction as the runs, a fire is acted on exactly once.
 */
#include "schedule.h"

#include <string.h>

#include "cron.h"

void
sched_policy_from(
    struct sched_policy *p, const struct workflow *wf, int64_t grace_ms)
{
	memset(p, 0, sizeof(*p));
	p->workflow = wf->id;
	p->catchup = wf->catchup;
	p->window_ms = wf->catchup_window_ms;
	p->catchup_max = wf->catchup_max > 0 ? wf->catchup_max : 1;
	p->jitter_ms = wf->jitter_ms;
	p->grace_ms = grace_ms;
}

/* FNV-1a over the workflow id and the nominal time: stable everywhere. */
int64_t
sched_jitter_ms(const struct sched_policy *p, int64_t nominal)
{
	uint64_t h = 14695981039346656037ull;
	const unsigned char *s =
	    (const unsigned char *)(p->workflow ? p->workflow : "");

	if (p->jitter_ms <= 0)
		return 0;
	for (; *s; s++)
		h = (h ^ *s) * 1099511628211ull;
	for (int i = 0; i < 8; i++)
		h = (h ^ ((uint64_t)nominal >> (8 * i) & 0xff)) *
		    1099511628211ull;
	return (int64_t)(h % (uint64_t)p->jitter_ms);
}

int64_t
sched_due_ms(const struct sched_policy *p, int64_t nominal)
{
	return nominal * 1000 + sched_jitter_ms(p, nominal);
}

/* How many missed fires the policy makes up for. */
static size_t
catchup_keep(const struct sched_policy *p)
{
	switch (p->catchup) {
	case CATCHUP_NONE:
		return 0;
	case CATCHUP_LATEST:
		return 1;
	case CATCHUP_ALL:
	default:
		return p->catchup_max < SCHED_CATCHUP_MAX ?
		    (size_t)p->catchup_max :
		    SCHED_CATCHUP_MAX;
	}
}

/* Enumerating stops after this many cron steps (a plan is made again). */
#define SCHED_STEPS_MAX 1000000

/*
 * The missed fires kept are the newest `keep`, in a ring while walking;
 * they come first in the plan (they are older than every on-time fire).
 */
struct ring {
	int64_t v[SCHED_CATCHUP_MAX];
	size_t keep, n, head;
};

static void
ring_push(struct ring *r, int64_t t, size_t *dropped)
{
	if (r->keep == 0) {
		(*dropped)++;
		return;
	}
	if (r->n == r->keep) {
		r->v[r->head] = t;
		r->head = (r->head + 1) % r->keep;
		(*dropped)++;
		return;
	}
	r->v[(r->head + r->n++) % r->keep] = t;
}

/* Moves the kept missed fires to the front of the plan. */
static void
plan_merge(struct sched_plan *plan, const struct ring *r)
{
	memmove(plan->fires + r->n, plan->fires,
	    plan->nfires * sizeof(plan->fires[0]));
	memset(plan->late, 0, sizeof(plan->late));
	for (size_t i = 0; i < r->n; i++) {
		plan->fires[i] = r->v[(r->head + i) % r->keep];
		plan->late[i] = 1;
	}
	plan->nfires += r->n;
}

int
sched_plan(const struct cron *c, const struct tz *z,
    const struct sched_policy *p, int64_t cursor, int64_t now_ms,
    struct sched_plan *plan)
{
	int64_t t, from = cursor, oldest_ms = now_ms - p->window_ms;
	struct ring r;
	long steps = 0;

	memset(plan, 0, sizeof(*plan));
	r.keep = catchup_keep(p);
	r.n = r.head = 0;
	plan->cursor = cursor;
	plan->next_due_ms = -1;
	/* Fires before the window are dropped unseen: start just before it
	 * (less the jitter, which only makes a fire due later). */
	if (oldest_ms / 1000 - 1 > from) {
		int64_t skip_to =
		    oldest_ms / 1000 - 1 - p->jitter_ms / 1000 - 1;

		if (skip_to > from) {
			if (cron_next(c, z, from, &t) == 0 && t <= skip_to)
				plan->dropped_old = 1;
			from = skip_to;
		}
	}
	for (;;) {
		int64_t due;

		if (cron_next(c, z, from, &t) < 0) {
			if (plan->nfires == 0 && r.n == 0 && !plan->dropped_old)
				return -1;
			break;
		}
		due = sched_due_ms(p, t);
		if (due > now_ms || plan->nfires == SCHED_CATCHUP_MAX ||
		    ++steps > SCHED_STEPS_MAX) {
			plan->next_due_ms = due;
			break;
		}
		from = t;
		if (now_ms - due <= p->grace_ms)
			plan->fires[plan->nfires++] = t;
		else if (due >= oldest_ms)
			ring_push(&r, t, &plan->missed);
		else
			plan->dropped_old = 1;
	}
	if (from > plan->cursor)
		plan->cursor = from;
	plan_merge(plan, &r);
	return 0;
}

enum overlap_action
overlap_decide(int max, enum concurrency_policy policy, long active,
    long queued, const char **reason)
{
	const char *why = NULL;
	enum overlap_action a;

	if (max <= 0 || policy == CONC_ALLOW)
		a = OVERLAP_START;
	else if (active < max && (queued == 0 || policy == CONC_SKIP))
		a = OVERLAP_START; /* a free slot, nobody waiting before us */
	else if (policy == CONC_QUEUE)
		a = OVERLAP_QUEUE;
	else if (policy == CONC_BUFFER_ONE && queued == 0)
		a = OVERLAP_QUEUE;
	else if (policy == CONC_BUFFER_ONE) {
		a = OVERLAP_SKIP;
		why = "a run is waiting already (concurrency policy bufferOne)";
	} else if (policy == CONC_CANCEL_OTHER)
		a = active >= max ? OVERLAP_CANCEL_OLDEST : OVERLAP_QUEUE;
	else {
		a = OVERLAP_SKIP;
		why = "the concurrency limit is reached (concurrency policy "
		      "skip)";
	}
	if (reason != NULL)
		*reason = why;
	return a;
}

const char *
overlap_action_name(enum overlap_action a)
{
	static const char *const names[] = { "start", "queue", "skip",
		"cancelOther" };

	return (unsigned)a < sizeof(names) / sizeof(names[0]) ? names[a] :
								"unknown";
}
