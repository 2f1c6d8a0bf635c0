/*
 * jobs: a claimed task while the runner has it and until its result is
 * written.  A struct job belongs to the running list (x->running) while
 * the runner has it, then to the result queue (x->done_head) until its
 * result is written or dropped; whoever takes it off the queue frees it.
 * A job whose lease is gone is stopped and its result dropped.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "daemon.h"
#include "util/log.h"

void
xd_job_free(struct job *j)
{
	if (j == NULL)
		return;
	free(j->key.execution_id);
	free(j->key.task_id);
	free(j->target);
	jv_free(j->result);
	free(j);
}

static void
running_link(struct xd *x, struct job *j)
{
	j->prev = NULL;
	j->next = x->running;
	if (x->running)
		x->running->prev = j;
	x->running = j;
	x->nrunning++;
}

static void
running_unlink(struct xd *x, struct job *j)
{
	if (j->prev)
		j->prev->next = j->next;
	else
		x->running = j->next;
	if (j->next)
		j->next->prev = j->prev;
	j->prev = j->next = NULL;
	x->nrunning--;
}

static void
done_push(struct xd *x, struct job *j)
{
	j->next = NULL;
	if (x->done_tail)
		x->done_tail->next = j;
	else
		x->done_head = j;
	x->done_tail = j;
	x->ndone++;
}

/* Back at the head of the queue: a batch that was not written. */
void
xd_done_push_front(struct xd *x, struct job *j)
{
	j->next = x->done_head;
	x->done_head = j;
	if (x->done_tail == NULL)
		x->done_tail = j;
	x->ndone++;
}

struct job *
xd_done_pop(struct xd *x)
{
	struct job *j = x->done_head;

	x->done_head = j->next;
	if (x->done_head == NULL)
		x->done_tail = NULL;
	x->ndone--;
	j->next = NULL;
	return j;
}

/* Whether a runner result's "status" is status. */
int
xd_result_is(jv result, const char *status)
{
	jv st = jv_object_get(jv_copy(result), jv_string("status"));
	int is = jv_get_kind(st) == JV_KIND_STRING &&
	    strcmp(jv_string_value(st), status) == 0;

	jv_free(st);
	return is;
}

static int
is_cancelled_result(jv result)
{
	jv t = jv_getpath(
	    jv_copy(result), JV_ARRAY(jv_string("error"), jv_string("type")));
	int c = jv_get_kind(t) == JV_KIND_STRING &&
	    strcmp(jv_string_value(t), "Cancelled") == 0;

	jv_free(t);
	return c;
}

static void
on_done(void *arg, jv result)
{
	struct job *j = arg;
	struct xd *x = j->x;
	enum errclass outcome;
	enum execbreaker_verdict v;

	running_unlink(x, j);
	if (j->target != NULL) {
		/* Even a result we drop says how the target is doing. */
		v = execbreaker_outcome(jv_copy(result), &outcome);
		xd_note_push(x, j, v, outcome);
	}
	logq_result(x->logq, j->key.execution_id, j->key.task_id,
	    j->key.attempt, result); /* a backend's "logs" */
	if (j->dropped || (x->hard_stop && is_cancelled_result(result))) {
		log_debug("%s/%s attempt %d: result dropped (not ours any "
			  "more, or stopped)",
		    j->key.execution_id, j->key.task_id, j->key.attempt);
		jv_free(result);
		xd_job_free(j);
		x->ndropped++;
	} else {
		j->result = result;
		done_push(x, j);
	}
	xd_kick(x);
}

/* Stops a job whose row is not ours any more; its result is dropped. */
void
xd_job_drop(struct xd *x, struct job *j, const char *why)
{
	if (j->dropped)
		return;
	log_info("%s/%s attempt %d: %s; stopping it", j->key.execution_id,
	    j->key.task_id, j->key.attempt, why);
	j->dropped = 1;
	if (x->runner != NULL)
		(void)runner_cancel(x->runner, j->rid);
}

/* Starts the claimed task c; target (owned, may be NULL) is its breaker. */
void
xd_job_start(struct xd *x, struct execdb_claim *c, char *target)
{
	struct job *j = xcalloc(1, sizeof(*j));
	int64_t tmo;

	j->x = x;
	j->target = target;
	j->key = c->key;
	c->key.execution_id = c->key.task_id = NULL;
	j->result = jv_invalid();
	tmo = runner_request_timeout(jv_copy(c->request));
	j->timeout_ms = tmo > 0 ? tmo : RUNNER_DEFAULT_TIMEOUT_MS;
	running_link(x, j);
	log_debug("%s/%s attempt %d: starting", j->key.execution_id,
	    j->key.task_id, j->key.attempt);
	if (runner_start(x->runner, c->request, on_done, j, &j->rid) == -1) {
		/* Not even queued: report the failure like any other. */
		running_unlink(x, j);
		j->result = JV_OBJECT(jv_string("status"), jv_string("FAILED"),
		    jv_string("output"), jv_null(), jv_string("error"),
		    runner_error(
			ERR_TASK_FAILED, "cannot start: %s", strerror(errno)));
		/* Never sent: a probe it took goes back. */
		if (j->target != NULL)
			xd_note_push(x, j, EXECBREAKER_RELEASE, ERR_NONE);
		done_push(x, j);
	}
	c->request = jv_null();
}
