/*
 * Unit tests for schedule: which fires loom-sched runs after a gap (a
 * scheduler down or stopped, a clock jump forward or back), under each
 * catch-up policy; the jitter; and the overlap decisions as a table.
 * Every time is in UTC; the schedules fire each minute or each 2 s.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cron.h"
#include "core/schedule.h"
#include "t.h"

#define T0 1796083200LL /* 2026-12-01T00:00:00Z, a whole minute */
#define MIN 60
#define SEC 1000LL

static struct cron *
parse(const char *expr)
{
	char *err = NULL;
	struct cron *c = cron_parse(expr, &err);

	if (c == NULL) {
		printf("# %s: %s\n", expr, err);
		abort();
	}
	return c;
}

static struct sched_policy
policy(enum catchup_policy cu, int64_t window_ms, int max)
{
	struct sched_policy p = { "wf", cu, window_ms, max, 0, 5 * SEC };

	return p;
}

static void
test_on_time(void)
{
	struct cron *c = parse("* * * * *");
	struct sched_policy p = policy(CATCHUP_NONE, 3600 * SEC, 10);
	struct sched_plan pl;

	/* Woken 200 ms after the 00:01 fire: it runs, on time. */
	is_int(sched_plan(c, NULL, &p, T0, (T0 + MIN) * SEC + 200, &pl), 0,
	    "plan");
	is_int(pl.nfires, 1, "one fire");
	is_int(pl.fires[0], T0 + MIN, "the 00:01 fire");
	is_int(pl.late[0], 0, "on time");
	is_int(pl.cursor, T0 + MIN, "cursor moves to it");
	is_int(pl.next_due_ms, (T0 + 2 * MIN) * SEC, "next is 00:02");
	/* Woken early (a timer, or the clock stepped back): nothing. */
	sched_plan(c, NULL, &p, T0 + MIN, (T0 + MIN + 30) * SEC, &pl);
	is_int(pl.nfires, 0, "early: no fire");
	is_int(pl.cursor, T0 + MIN, "early: cursor stays");
	/* The clock stepped back an hour: fires already made are not made
	 * again, the next one is still 00:02. */
	sched_plan(c, NULL, &p, T0 + MIN, (T0 - 3600) * SEC, &pl);
	is_int(pl.nfires, 0, "clock back: no fire");
	is_int(pl.next_due_ms, (T0 + 2 * MIN) * SEC, "clock back: next");
	/* Within the grace (5 s late) is on time; 6 s is missed. */
	sched_plan(c, NULL, &p, T0, (T0 + MIN + 5) * SEC, &pl);
	is_int(pl.nfires, 1, "5 s late: runs");
	sched_plan(c, NULL, &p, T0, (T0 + MIN + 6) * SEC, &pl);
	is_int(pl.nfires, 0, "6 s late with catchup none: dropped");
	is_int(pl.missed, 1, "counted as missed");
	is_int(pl.cursor, T0 + MIN, "cursor past the dropped fire");
	cron_free(c);
}

/* Down from 00:00 to 00:10:30: fires 00:01 .. 00:10 were missed. */
static void
test_catchup(void)
{
	struct cron *c = parse("* * * * *");
	int64_t now = (T0 + 10 * MIN + 30) * SEC;
	struct sched_plan pl;
	struct sched_policy p;

	p = policy(CATCHUP_NONE, 3600 * SEC, 100);
	sched_plan(c, NULL, &p, T0, now, &pl);
	is_int(pl.nfires, 0, "none: nothing");
	is_int(pl.missed, 10, "none: 10 missed");
	is_int(pl.cursor, T0 + 10 * MIN, "none: cursor at 00:10");

	p = policy(CATCHUP_LATEST, 3600 * SEC, 100);
	sched_plan(c, NULL, &p, T0, now, &pl);
	is_int(pl.nfires, 1, "latest: one run");
	is_int(pl.fires[0], T0 + 10 * MIN, "latest: for 00:10");
	is_int(pl.late[0], 1, "latest: marked late");

	p = policy(CATCHUP_ALL, 3600 * SEC, 100);
	sched_plan(c, NULL, &p, T0, now, &pl);
	is_int(pl.nfires, 10, "all: ten runs");
	is_int(pl.fires[0], T0 + MIN, "all: from 00:01");
	is_int(pl.fires[9], T0 + 10 * MIN, "all: to 00:10");

	p = policy(CATCHUP_ALL, 3600 * SEC, 3);
	sched_plan(c, NULL, &p, T0, now, &pl);
	is_int(pl.nfires, 3, "all capped: three runs");
	is_int(pl.fires[0], T0 + 8 * MIN, "all capped: the newest three");
	is_int(pl.missed, 7, "all capped: seven dropped");

	/* The window: only fires in the last 5 minutes are made up for. */
	p = policy(CATCHUP_ALL, 5 * MIN * SEC, 100);
	sched_plan(c, NULL, &p, T0, now, &pl);
	is_int(pl.nfires, 5, "window 5m: five runs");
	is_int(pl.fires[0], T0 + 6 * MIN, "window 5m: from 00:06");
	ok(pl.dropped_old, "window 5m: older ones dropped");
	is_int(pl.cursor, T0 + 10 * MIN, "window 5m: cursor at 00:10");

	/* latest, when the only missed fire is outside the window. */
	p = policy(CATCHUP_LATEST, 10 * SEC, 100);
	sched_plan(c, NULL, &p, T0, now, &pl);
	is_int(pl.nfires, 0, "latest, window 10s: nothing to make up");
	cron_free(c);
}

/* A scheduler down for 30 days over a per-second schedule: only the
 * window is walked, and the plan stays bounded. */
static void
test_long_gap(void)
{
	struct cron *c = parse("* * * * * *");
	struct sched_policy p = policy(CATCHUP_ALL, 3600 * SEC, 1000);
	int64_t now = (T0 + 30 * 86400) * SEC;
	struct sched_plan pl;

	sched_plan(c, NULL, &p, T0, now, &pl);
	/* 1000 made up for, and the 6 of the last 5 s on time */
	is_int(pl.nfires, 1006, "bounded plan");
	is_int(pl.missed, 3600 - 5 - 1000, "the rest of the hour dropped");
	ok(pl.dropped_old, "the month before the window is dropped");
	is_int(pl.fires[0], T0 + 30 * 86400 - 1005, "the newest 1000 missed");
	is_int(pl.late[999], 1, "late ones first");
	is_int(pl.late[1000], 0, "then the on-time ones");
	is_int(pl.fires[1005], T0 + 30 * 86400, "up to now");
	cron_free(c);
}

/* A forward clock jump of an hour over an every-2-s schedule behaves as a
 * scheduler that slept an hour: the catch-up policy decides. */
static void
test_clock_jump(void)
{
	struct cron *c = parse("*/2 * * * * *");
	struct sched_policy p = policy(CATCHUP_LATEST, 3600 * SEC, 100);
	struct sched_plan pl;

	p.grace_ms = 500;
	sched_plan(c, NULL, &p, T0, (T0 + 3600 + 1) * SEC, &pl);
	is_int(pl.nfires, 1, "jump: one run (latest)");
	is_int(pl.fires[0], T0 + 3600, "jump: the newest missed fire");
	sched_plan(c, NULL, &p, pl.cursor, (T0 + 3600 + 2) * SEC + 100, &pl);
	is_int(pl.nfires, 1, "after the jump: on time again");
	is_int(pl.late[0], 0, "after the jump: not late");
	cron_free(c);
}

static void
test_jitter(void)
{
	struct cron *c = parse("* * * * *");
	struct sched_policy p = policy(CATCHUP_NONE, 3600 * SEC, 1);
	struct sched_plan pl;
	int64_t j, spread = 0, prev = -1;

	p.jitter_ms = 30 * SEC;
	for (int i = 0; i < 50; i++) {
		j = sched_jitter_ms(&p, T0 + i * MIN);
		ok(j >= 0 && j < 30 * SEC, "jitter %d in range", i);
		is_int(sched_jitter_ms(&p, T0 + i * MIN), j, "stable %d", i);
		if (prev >= 0 && j != prev)
			spread++;
		prev = j;
	}
	ok(spread > 40, "jitter varies between fires");
	j = sched_jitter_ms(&p, T0 + MIN);
	sched_plan(c, NULL, &p, T0, (T0 + MIN) * SEC + j - 1, &pl);
	is_int(pl.nfires, 0, "not due before its jitter");
	is_int(pl.next_due_ms, (T0 + MIN) * SEC + j, "due at nominal + jitter");
	sched_plan(c, NULL, &p, T0, (T0 + MIN) * SEC + j, &pl);
	is_int(pl.nfires, 1, "due at nominal + jitter: runs");
	p.workflow = "other";
	ok(sched_jitter_ms(&p, T0 + MIN) != j ||
		sched_jitter_ms(&p, T0 + 2 * MIN) !=
		    (p.workflow = "wf", sched_jitter_ms(&p, T0 + 2 * MIN)),
	    "another workflow gets another jitter");
	cron_free(c);
}

static void
test_overlap(void)
{
	static const struct {
		int max;
		enum concurrency_policy pol;
		long active, queued;
		enum overlap_action want;
	} rows[] = {
		{ 0, CONC_SKIP, 9, 0, OVERLAP_START },
		{ 2, CONC_ALLOW, 5, 0, OVERLAP_START },
		{ 1, CONC_QUEUE, 0, 0, OVERLAP_START },
		{ 1, CONC_QUEUE, 1, 0, OVERLAP_QUEUE },
		{ 2, CONC_QUEUE, 1, 1, OVERLAP_QUEUE }, /* behind the waiter */
		{ 1, CONC_SKIP, 0, 0, OVERLAP_START },
		{ 1, CONC_SKIP, 1, 0, OVERLAP_SKIP },
		{ 2, CONC_SKIP, 1, 3, OVERLAP_START },
		{ 1, CONC_BUFFER_ONE, 0, 0, OVERLAP_START },
		{ 1, CONC_BUFFER_ONE, 1, 0, OVERLAP_QUEUE },
		{ 1, CONC_BUFFER_ONE, 1, 1, OVERLAP_SKIP },
		{ 1, CONC_CANCEL_OTHER, 0, 0, OVERLAP_START },
		{ 1, CONC_CANCEL_OTHER, 1, 0, OVERLAP_CANCEL_OLDEST },
		{ 2, CONC_CANCEL_OTHER, 1, 1, OVERLAP_QUEUE },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const char *why = NULL;
		enum overlap_action a = overlap_decide(rows[i].max, rows[i].pol,
		    rows[i].active, rows[i].queued, &why);

		is_str(overlap_action_name(a),
		    overlap_action_name(rows[i].want),
		    "max %d %s active %ld queued %ld", rows[i].max,
		    concurrency_policy_name(rows[i].pol), rows[i].active,
		    rows[i].queued);
		ok((a == OVERLAP_SKIP) == (why != NULL), "reason iff skip %zu",
		    i);
	}
}

int
main(void)
{
	test_on_time();
	test_catchup();
	test_long_gap();
	test_clock_jump();
	test_jitter();
	test_overlap();
	return t_done();
}
