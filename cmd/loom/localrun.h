/*
 * localrun: a whole run in one process, with no database (`loom run`).
 *
 * The in-memory driver of the engine core: the same engine_step() that
 * loom-engine calls, the same runners that loom-exec uses, on one event
 * loop.  Every state change is written to `out` as one JSON line:
 *
 *   {"ts":"…","event":"run","from":"PENDING","to":"RUNNING","execution":"local-…"}
 *   {"ts":"…","event":"task","task":"fetch_data","from":"READY","to":"RUNNING","attempt":1}
 *   {"ts":"…","event":"result","task":"fetch_data","attempt":1,"status":"SUCCESS","output":{…},"durationMs":12}
 *   {"ts":"…","event":"log","task":"build","attempt":1,"stream":"stdout","msg":"…"}
 *   {"ts":"…","event":"finish","status":"SUCCESS","durationMs":250,"outputs":{"<task>":…}}
 *
 * Asynchronous (202) answers cannot complete without loom-api's callback
 * endpoint, so they fail the attempt with a TaskFailedException saying so.
 * SIGINT/SIGTERM cancel the run (running tasks are stopped).  Every task
 * starts as soon as it is ready: there is no concurrency cap in local runs.
 */
#ifndef LOOM_LOCALRUN_H
#define LOOM_LOCALRUN_H

#include <stdio.h>

#include <jv.h>

#include "core/workflow.h"

struct localrun_opts {
	FILE *out;	      /* JSON lines; stdout */
	int quiet_logs;	      /* drop "log" events */
	const char *pass_env; /* exec.pass_env: see runner_config */
};

/*
 * Runs wf with input (an object or null; consumed).  Returns the run's final
 * state as an enum run_state, or -1 with *err (bad params, loop failure).
 */
int localrun(const struct workflow *wf, jv input, const struct localrun_opts *o,
    char **err);

#endif
