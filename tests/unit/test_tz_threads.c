/*
 * Fire times computed in several threads at once, as loom-api's workers
 * compute them for GET /api/v1/schedules, must be the ones a single thread
 * computes.  Each thread walks every zone and expression in its own order,
 * getting zones through the shared tzload cache (one thread also flushes
 * it now and then).  Run under valgrind --tool=helgrind (make
 * check-valgrind) or built with -fsanitize=thread (make check-tsan) this
 * also proves there is no data race: nothing touches TZ or the C
 * library's zone state.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cron.h"
#include "core/tz.h"
#include "t.h"
#include "util/tzload.h"

#define NTHREADS 4
#define NFIRES 24

static const char *const zones[] = {
	"America/New_York",
	"Europe/London",
	"Europe/Berlin",
	"Australia/Lord_Howe",
	"Asia/Kolkata",
	"Pacific/Chatham",
	"America/Sao_Paulo",
	"Africa/Casablanca",
	"Antarctica/Troll",
	"Pacific/Apia",
	"Europe/Kyiv",
	"UTC",
};
static const char *const exprs[] = {
	"0 3 * * *",
	"*/15 * * * *",
	"30 2 * * *",
	"0 9-17 * * MON-FRI",
	"@daily",
	"45 1 * * *",
};
#define NZONES (sizeof(zones) / sizeof(zones[0]))
#define NEXPRS (sizeof(exprs) / sizeof(exprs[0]))

/* 2026-03-01 and 2026-10-20: both sides of the year's changes. */
static const int64_t starts[] = { INT64_C(1772323200), INT64_C(1792454400) };
#define NSTARTS 2

static int64_t want[NZONES][NEXPRS][NSTARTS][NFIRES];

struct worker {
	pthread_t th;
	int id;
	long wrong;
	int64_t got[NZONES][NEXPRS][NSTARTS][NFIRES];
};

/* Every fire of every (zone, expression, start); -1 when none. */
static void
compute(size_t zi, size_t ei, int64_t out[NSTARTS][NFIRES])
{
	const struct tz *z = tzload_get(zones[zi]);
	struct cron *c = cron_parse(exprs[ei], NULL);
	struct tz_local lt;

	for (int s = 0; s < NSTARTS; s++) {
		int64_t t = starts[s];

		for (int i = 0; i < NFIRES; i++) {
			if (z == NULL || c == NULL ||
			    cron_next(c, z, t, &t) < 0) {
				out[s][i] = -1;
				continue;
			}
			/* The local time is read too, as the API prints it. */
			tz_to_local(z, t, &lt);
			out[s][i] =
			    t + (lt.utoff == tz_offset(z, t, NULL) ? 0 : 1);
		}
	}
	cron_free(c);
	tzload_release(z);
}

static void *
work(void *arg)
{
	struct worker *w = arg;

	for (size_t k = 0; k < NZONES * NEXPRS; k++) {
		/* Each thread starts elsewhere, so zones meet in the cache. */
		size_t n = (k + (size_t)w->id * 7) % (NZONES * NEXPRS);

		compute(n / NEXPRS, n % NEXPRS, w->got[n / NEXPRS][n % NEXPRS]);
		if (w->id == 0 && k % 10 == 9)
			tzload_flush();
	}
	return NULL;
}

int
main(void)
{
	static struct worker ws[NTHREADS];
	long fires = 0;

	for (size_t z = 0; z < NZONES; z++)
		for (size_t e = 0; e < NEXPRS; e++)
			compute(z, e, want[z][e]);
	for (size_t z = 0; z < NZONES; z++)
		for (size_t e = 0; e < NEXPRS; e++)
			for (int s = 0; s < NSTARTS; s++)
				for (int i = 0; i < NFIRES; i++)
					fires += want[z][e][s][i] > 0;
	ok(fires == (long)(NZONES * NEXPRS * NSTARTS * NFIRES),
	    "single thread: %ld fire times", fires);
	tzload_flush();

	for (int i = 0; i < NTHREADS; i++) {
		ws[i].id = i;
		if (pthread_create(&ws[i].th, NULL, work, &ws[i]) != 0) {
			perror("pthread_create");
			return 1;
		}
	}
	for (int i = 0; i < NTHREADS; i++) {
		pthread_join(ws[i].th, NULL);
		for (size_t z = 0; z < NZONES; z++)
			for (size_t e = 0; e < NEXPRS; e++)
				if (memcmp(ws[i].got[z][e], want[z][e],
					sizeof(want[z][e])) != 0) {
					ws[i].wrong++;
					if (ws[i].wrong == 1)
						printf(
						    "# thread %d: \"%s\" in %s "
						    "differs\n",
						    i, exprs[e], zones[z]);
				}
		is_int(ws[i].wrong, 0,
		    "thread %d: every zone and expression as one thread "
		    "computes them",
		    i);
	}
	tzload_flush();
	return t_done();
}
