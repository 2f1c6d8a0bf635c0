/*
 * dispatch: the request a driver hands to an executor for one attempt.
 *
 * Both drivers of the engine core (loom-engine over PostgreSQL and
 * `loom run` in memory) turn an ACT_DISPATCH action into the same request
 * object, the one lib/run/runner.h documents:
 *
 *   {"executionId","taskId","attempt","input","task":{canonical task}}
 *
 * plus "scheduledTime" when the run has one (run_rt.scheduled_time), and
 * "retry": the task's effective retry policy (workflow defaults applied)
 * with the attempts spent before its last reset, written as what differs
 * from retry_policy_default() (a task with the defaults has "retry":{}),
 *
 *   {"attemptBase":2,"maxAttempts":5,"backoff":"linear",
 *    "initialDelay":500,"maxDelay":0,"multiplier":1.5,"jitter":0,
 *    "retryOn":["TimeoutException",…],"dontRetryOn":[…]}   (delays in ms)
 *
 * so that an executor can say what the engine will decide when the attempt
 * fails (retry_decision_text()).  No runner sends it to a backend.
 *
 * The task's `headers:` and `body:` templates are rendered here, with the
 * same context as `input:` (run_rt_context(): {"params","tasks":
 * {id:{"output"}},"trigger","scheduledTime"}), so the
 * executor never needs the run's state.  A rendering error is returned as
 * a jv invalid with a message naming the task and field.
 */
#ifndef LOOM_DISPATCH_H
#define LOOM_DISPATCH_H

#include <jv.h>

#include "engine.h"
#include "jqx.h"
#include "workflow.h"

/*
 * The canonical task objects of wf, by index (a jv array; owned by the
 * caller), without what only the engine reads (name, dependsOn, when,
 * the input template, retryPolicy): the "task" of a request.
 */
jv dispatch_task_specs(const struct workflow *wf);

/*
 * The same from the tree of wf's stored canonical JSON (doc, as
 * ydoc_parse_json() reads workflow_versions.spec), as text: (*texts)[i]
 * (malloc'd, the array too) is task i's object as JSON text when
 * dispatch_spec_has_template() is false for it, else NULL and element i
 * of *tasks (a jv array, owned by the caller) has the object; the other
 * elements are null.  What dispatch_request_text() takes.  Returns 0, or
 * -1 when doc does not hold wf's tasks in order.
 */
struct ydoc;
int dispatch_task_texts(const struct workflow *wf, const struct ydoc *doc,
    char ***texts, jv *tasks);

/*
 * Builds the request for action a (an ACT_DISPATCH) of run execution_id.
 * task_spec is the task's canonical object (consumed).
 */
jv dispatch_request(const char *execution_id, const struct workflow *wf,
    const struct run_rt *rt, struct jqx *jq, const struct engine_action *a,
    jv task_spec);

/*
 * The same request as JSON text (malloc'd), or NULL with *err (malloc'd)
 * when a template does not render.  spec_text is the task's canonical
 * object as JSON text when its headers and body have no template
 * (dispatch_spec_has_template() false), else NULL: the request then takes
 * it as it is, so that a spec is not serialized again for every dispatch
 * (a fan-out dispatches thousands at once).
 */
char *dispatch_request_text(const char *execution_id, const struct workflow *wf,
    const struct run_rt *rt, struct jqx *jq, const struct engine_action *a,
    jv task_spec, const char *spec_text, char **err);

/*
 * Reads a request's "retry" object (consumed) into *p and *base, a member
 * left out meaning the default (attemptBase 0).  Returns 0, or -1 when it
 * is missing (an older engine's request, a hand-written one) or a member
 * is not what dispatch_request() writes: then there is no decision to
 * record.
 */
int dispatch_retry_parse(jv retry, struct retry_policy *p, int *base);

/* Whether task_spec's headers or body hold a template (borrowed). */
int dispatch_spec_has_template(jv task_spec);

#endif
