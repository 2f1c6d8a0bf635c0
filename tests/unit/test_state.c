/*
 * Unit tests for state.c.  The expected transitions are written out here a
 * second time, as "FROM>TO" strings rather than as a matrix, so a slip in
 * lib/core/state.c's tables cannot hide in an identical slip here; every
 * (from, to) pair of both machines is checked against them.
 */
#include <errno.h>
#include <string.h>

#include "core/state.h"
#include "t.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const char *const task_expected[] = {
	"PENDING>READY",
	"PENDING>SKIPPED",
	"PENDING>CANCELLED",
	"READY>RUNNING",
	"READY>SKIPPED",
	"READY>CANCELLED",
	"RUNNING>SUCCESS",
	"RUNNING>FAILED",
	"RUNNING>CANCELLED",
	"FAILED>RETRY",
	"FAILED>DEAD",
	"FAILED>CANCELLED",
	"RETRY>READY",
	"RETRY>CANCELLED",
	"RETRY>SKIPPED",
	"DEAD>READY", /* dead-letter replay */
	/* reset (EV_RESET): retry --from-failed, task rerun, DLQ replay */
	"SUCCESS>PENDING",
	"DEAD>PENDING",
	"SKIPPED>PENDING",
	"CANCELLED>PENDING",
};

static const char *const run_expected[] = {
	"PENDING>RUNNING", "PENDING>CANCELLED", "RUNNING>SUCCESS",
	"RUNNING>FAILED", "RUNNING>CANCELLED", "FAILED>RUNNING",
	"CANCELLED>RUNNING", /* re-run of a finished run */
	"SUCCESS>RUNNING",   /* a task rerun in a run that succeeded */
};

static const char *const task_all[] = { "PENDING", "READY", "RUNNING",
	"SUCCESS", "FAILED", "RETRY", "DEAD", "SKIPPED", "CANCELLED" };
static const char *const run_all[] = { "PENDING", "RUNNING", "SUCCESS",
	"FAILED", "CANCELLED" };

static int
listed(const char *const *list, size_t n, const char *from, const char *to)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "%s>%s", from, to);
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], buf) == 0)
			return 1;
	return 0;
}

static void
test_task_pairs(void)
{
	int nallowed = 0;

	is_int(NELEM(task_all), TASK__COUNT, "every task state listed");
	for (int f = 0; f < TASK__COUNT; f++)
		for (int t = 0; t < TASK__COUNT; t++) {
			const char *fn = task_all[f], *tn = task_all[t];
			int want =
			    listed(task_expected, NELEM(task_expected), fn, tn);
			enum task_state s = f;
			int rc;

			nallowed += want;
			is_int(task_transition_allowed(f, t), want,
			    "task %s -> %s %s", fn, tn,
			    want ? "allowed" : "refused");
			errno = 0;
			rc = task_transition(&s, t);
			if (want)
				ok(rc == 0 && (int)s == t,
				    "task_transition %s -> %s applied", fn, tn);
			else
				ok(rc == -1 && errno == EINVAL && (int)s == f,
				    "task_transition %s -> %s refused, state "
				    "unchanged",
				    fn, tn);
		}
	is_int(nallowed, NELEM(task_expected), "expected list has no typos");
}

static void
test_run_pairs(void)
{
	int nallowed = 0;

	is_int(NELEM(run_all), RUN__COUNT, "every run state listed");
	for (int f = 0; f < RUN__COUNT; f++)
		for (int t = 0; t < RUN__COUNT; t++) {
			const char *fn = run_all[f], *tn = run_all[t];
			int want =
			    listed(run_expected, NELEM(run_expected), fn, tn);
			enum run_state s = f;
			int rc;

			nallowed += want;
			is_int(run_transition_allowed(f, t), want,
			    "run %s -> %s %s", fn, tn,
			    want ? "allowed" : "refused");
			errno = 0;
			rc = run_transition(&s, t);
			if (want)
				ok(rc == 0 && (int)s == t,
				    "run_transition %s -> %s applied", fn, tn);
			else
				ok(rc == -1 && errno == EINVAL && (int)s == f,
				    "run_transition %s -> %s refused, state "
				    "unchanged",
				    fn, tn);
		}
	is_int(nallowed, NELEM(run_expected), "expected list has no typos");
}

static void
test_out_of_range(void)
{
	enum task_state ts = TASK_PENDING;
	enum run_state rs = RUN_PENDING;

	is_int(task_transition_allowed(TASK__COUNT, TASK_READY), 0,
	    "task from out of range");
	is_int(task_transition_allowed(TASK_PENDING, TASK__COUNT), 0,
	    "task to out of range");
	is_int(task_transition_allowed(-1, TASK_READY), 0, "task from -1");
	is_int(run_transition_allowed(RUN__COUNT, RUN_RUNNING), 0,
	    "run from out of range");
	is_int(run_transition_allowed(RUN_PENDING, RUN__COUNT), 0,
	    "run to out of range");
	errno = 0;
	ok(task_transition(&ts, TASK__COUNT) == -1 && errno == EINVAL &&
		ts == TASK_PENDING,
	    "task_transition to out of range refused");
	errno = 0;
	ok(run_transition(&rs, RUN__COUNT) == -1 && errno == EINVAL &&
		rs == RUN_PENDING,
	    "run_transition to out of range refused");
	ts = TASK__COUNT;
	ok(task_transition(&ts, TASK_READY) == -1 && ts == TASK__COUNT,
	    "task_transition from out of range refused");
}

static void
test_terminal(void)
{
	static const int task_term[TASK__COUNT] = {
		[TASK_SUCCESS] = 1,
		[TASK_DEAD] = 1,
		[TASK_SKIPPED] = 1,
		[TASK_CANCELLED] = 1,
	};
	static const int run_term[RUN__COUNT] = {
		[RUN_SUCCESS] = 1,
		[RUN_FAILED] = 1,
		[RUN_CANCELLED] = 1,
	};

	for (int s = 0; s < TASK__COUNT; s++)
		is_int(!!task_state_terminal(s), task_term[s],
		    "task %s %sterminal", task_all[s],
		    task_term[s] ? "" : "not ");
	for (int s = 0; s < RUN__COUNT; s++)
		is_int(!!run_state_terminal(s), run_term[s],
		    "run %s %sterminal", run_all[s], run_term[s] ? "" : "not ");
	/*
	 * SUCCESS is final in both machines but for one way out: a task
	 * rerun (a reset to PENDING), which re-opens its run.
	 */
	for (int t = 0; t < TASK__COUNT; t++)
		is_int(task_transition_allowed(TASK_SUCCESS, t),
		    t == TASK_PENDING, "task SUCCESS -> %s %s", task_all[t],
		    t == TASK_PENDING ? "allowed (reset)" : "refused");
	for (int t = 0; t < RUN__COUNT; t++)
		is_int(run_transition_allowed(RUN_SUCCESS, t), t == RUN_RUNNING,
		    "run SUCCESS -> %s %s", run_all[t],
		    t == RUN_RUNNING ? "allowed (task rerun)" : "refused");
	/* Every way out of a terminal task state leads to PENDING or READY. */
	for (int f = 0; f < TASK__COUNT; f++)
		for (int t = 0; t < TASK__COUNT; t++)
			if (task_term[f] && task_transition_allowed(f, t))
				ok(t == TASK_PENDING || t == TASK_READY,
				    "task %s -> %s starts the task afresh",
				    task_all[f], task_all[t]);
}

static void
test_names(void)
{
	static const char *bad[] = { "", "PEND", "DONE", "RUNNING ", " READY",
		"UNKNOWN" };
	char lower[32];
	enum task_state ts;
	enum run_state rs;

	for (int s = 0; s < TASK__COUNT; s++) {
		is_str(task_state_name(s), task_all[s], "task name %d", s);
		ts = TASK__COUNT;
		ok(task_state_parse(task_all[s], &ts) == 0 && (int)ts == s,
		    "task parse %s", task_all[s]);
		/* "rEaDy": mixed case */
		for (size_t i = 0; i <= strlen(task_all[s]); i++)
			lower[i] = task_all[s][i] ?
			    (char)(task_all[s][i] | 0x20 * (i % 2)) :
			    '\0';
		ts = TASK__COUNT;
		ok(task_state_parse(lower, &ts) == 0 && (int)ts == s,
		    "task parse %s (any case)", lower);
	}
	for (int s = 0; s < RUN__COUNT; s++) {
		is_str(run_state_name(s), run_all[s], "run name %d", s);
		rs = RUN__COUNT;
		ok(run_state_parse(run_all[s], &rs) == 0 && (int)rs == s,
		    "run parse %s", run_all[s]);
		for (size_t i = 0; i <= strlen(run_all[s]); i++)
			lower[i] =
			    run_all[s][i] ? (char)(run_all[s][i] | 0x20) : '\0';
		rs = RUN__COUNT;
		ok(run_state_parse(lower, &rs) == 0 && (int)rs == s,
		    "run parse %s (lower case)", lower);
	}
	ts = TASK_READY;
	rs = RUN_RUNNING;
	ok(task_state_parse("RETRY", &ts) == 0 && ts == TASK_RETRY,
	    "RETRY is a task state");
	errno = 0;
	ok(run_state_parse("RETRY", &rs) == -1 && errno == EINVAL &&
		rs == RUN_RUNNING,
	    "RETRY is not a run state");
	for (size_t i = 0; i < NELEM(bad); i++) {
		ts = TASK_READY;
		errno = 0;
		ok(task_state_parse(bad[i], &ts) == -1 && errno == EINVAL &&
			ts == TASK_READY,
		    "task parse refuses \"%s\"", bad[i]);
		rs = RUN_RUNNING;
		ok(run_state_parse(bad[i], &rs) == -1 && rs == RUN_RUNNING,
		    "run parse refuses \"%s\"", bad[i]);
	}
	ok(task_state_parse(NULL, &ts) == -1, "task parse refuses NULL");
	ok(run_state_parse(NULL, &rs) == -1, "run parse refuses NULL");
	ok(strcmp(task_state_name(TASK__COUNT), "") != 0,
	    "out-of-range task name is not empty");
	ok(strcmp(run_state_name(-1), "") != 0,
	    "out-of-range run name is not empty");
}

int
main(void)
{
	test_task_pairs();
	test_run_pairs();
	test_out_of_range();
	test_terminal();
	test_names();
	return t_done();
}
