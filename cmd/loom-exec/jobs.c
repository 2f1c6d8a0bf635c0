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

#include "core/dispatch.h"
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
	free(j->workflow);
	free(j->type);
	jv_free(j->result);
	free(j);
}

void
xd_key_ctx(const struct execdb_key *k)
{
	if (k == NULL)
		log_set_run(NULL, NULL, NULL, 0);
	else
		log_set_run(NULL, k->execution_id, k->task_id, k->attempt);
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

static void
wait_push(struct xd *x, struct job *j)
{
	j->next = NULL;
	if (x->wait_tail)
		x->wait_tail->next = j;
	else
		x->wait_head = j;
	x->wait_tail = j;
	x->nwait++;
}

void
xd_release_synced(struct xd *x)
{
	uint64_t acked = logsink_acked(x->sink);
	int moved = 0;

	while (x->wait_head != NULL && x->wait_head->log_mark <= acked) {
		struct job *j = x->wait_head;

		x->wait_head = j->next;
		if (x->wait_head == NULL)
			x->wait_tail = NULL;
		x->nwait--;
		done_push(x, j);
		moved = 1;
	}
	if (moved)
		xd_kick(x);
}

/*
 * The lines of a backend's "logs", and loom-exec's record of how the
 * attempt ended (a timeout is a warning, any other failure an error).
 */
static void
result_records(struct xd *x, struct job *j, jv result)
{
	jv logs = jv_object_get(jv_copy(result), jv_string("logs"));
	jv hs = jv_object_get(jv_copy(result), jv_string("httpStatus"));
	jv et = jv_getpath(
	    jv_copy(result), JV_ARRAY(jv_string("error"), jv_string("type")));
	jv em = jv_getpath(jv_copy(result),
	    JV_ARRAY(jv_string("error"), jv_string("message")));
	jv st = jv_object_get(jv_copy(result), jv_string("status"));
	const char *p, *type;

	/* Only an answer from a backend has an HTTP status. */
	if (jv_get_kind(hs) == JV_KIND_NUMBER &&
	    jv_get_kind(logs) == JV_KIND_STRING)
		for (p = jv_string_value(logs); *p;) {
			size_t n = strcspn(p, "\n");
			size_t k = n > 0 && p[n - 1] == '\r' ? n - 1 : n;

			xd_log(x,
			    JV_OBJECT(jv_string("execution"),
				jv_string(j->key.execution_id),
				jv_string("task"), jv_string(j->key.task_id),
				jv_string("attempt"), jv_number(j->key.attempt),
				jv_string("stream"), jv_string("backend"),
				jv_string("msg"), jv_string_sized(p, (int)k)));
			p += n;
			if (*p == '\n')
				p++;
		}
	type = jv_get_kind(et) == JV_KIND_STRING ? jv_string_value(et) : NULL;
	if (type != NULL)
		xd_record_failure(x, &j->key, type,
		    jv_get_kind(em) == JV_KIND_STRING ? jv_string_value(em) :
							NULL);
	else
		xd_record(x, &j->key, "info", "attempt %d: %s", j->key.attempt,
		    jv_get_kind(st) == JV_KIND_STRING ? jv_string_value(st) :
							"done");
	jv_free(logs);
	jv_free(hs);
	jv_free(et);
	jv_free(em);
	jv_free(st);
}

void
xd_record_failure(struct xd *x, const struct execdb_key *k, const char *etype,
    const char *emsg)
{
	if (etype != NULL && strcmp(etype, "Cancelled") == 0)
		xd_record(x, k, "warn", "attempt %d cancelled", k->attempt);
	else if (etype != NULL)
		xd_record(x, k,
		    strcmp(etype, "TimeoutException") == 0 ? "warn" : "error",
		    "attempt %d failed: %s: %s", k->attempt, etype,
		    emsg != NULL ? emsg : "");
	else
		xd_record(x, k, "error", "attempt %d failed", k->attempt);
}

void
xd_record_verdict(struct xd *x, const struct execdb_key *k,
    const struct retry_policy *p, int base, const char *etype)
{
	char msg[512];
	enum retry_verdict v;

	/* The class and the count the engine takes (enginedb_read.c,
	 * engine.c's fail_attempt()), by the same functions. */
	v = retry_decision_text(
	    p, errclass_of_failure(etype), k->attempt, base, msg, sizeof(msg));
	xd_record(x, k, v == RETRY_AGAIN ? "info" : "error", "%s", msg);
}

void
xd_record_decision(struct xd *x, const struct job *j)
{
	jv et;

	/* Stored as FAILED: anything but SUCCESS or ACCEPTED (execdb.c). */
	if (!j->has_retry || xd_result_is(j->result, "SUCCESS") ||
	    xd_result_is(j->result, "ACCEPTED"))
		return;
	et = jv_getpath(jv_copy(j->result),
	    JV_ARRAY(jv_string("error"), jv_string("type")));
	xd_record_verdict(x, &j->key, &j->retry, j->retry_base,
	    jv_get_kind(et) == JV_KIND_STRING ? jv_string_value(et) : NULL);
	jv_free(et);
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
	x->slots_done++;
	log_set_run(
	    j->workflow, j->key.execution_id, j->key.task_id, j->key.attempt);
	otlp_add_attempt(x->otlp, j->key.execution_id, j->workflow,
	    j->key.task_id, j->key.attempt, j->type, j->start_wall_ms,
	    loop_now_ms(x->loop), result);
	if (log_get_level() >= LOG_LVL_DEBUG) {
		jv st = jv_object_get(jv_copy(result), jv_string("status"));

		log_debug("done: %s in %lldms",
		    jv_get_kind(st) == JV_KIND_STRING ? jv_string_value(st) :
							"?",
		    (long long)(loop_now_ms(x->loop) - j->start_wall_ms));
		jv_free(st);
	}
	if (j->target != NULL) {
		xd_lat_observe(
		    x, j->target, loop_mono_ms(x->loop) - j->start_mono);
		/* Even a result we drop says how the target is doing. */
		v = execbreaker_outcome(jv_copy(result), &outcome);
		xd_note_push(x, j, v, outcome);
	}
	result_records(x, j, result); /* a backend's "logs", the outcome */
	if (j->dropped || (x->hard_stop && is_cancelled_result(result))) {
		log_debug("result dropped (not ours any more, or stopped)");
		jv_free(result);
		xd_job_free(j);
		x->ndropped++;
		log_set_run(NULL, NULL, NULL, 0);
	} else {
		j->result = result;
		if (x->out_mark > logsink_acked(x->sink)) {
			/* Output lines loom-log has not confirmed, maybe this
			 * task's: reported once loom-log has them, and the
			 * records sent so far with them. */
			j->log_mark = logsink_mark(x->sink);
			wait_push(x, j);
			logsink_sync(x->sink);
		} else
			done_push(x, j);
		log_set_run(NULL, NULL, NULL, 0);
	}
	xd_kick(x);
}

/* Stops a job whose row is not ours any more; its result is dropped. */
void
xd_job_drop(struct xd *x, struct job *j, const char *why)
{
	if (j->dropped)
		return;
	log_set_run(
	    j->workflow, j->key.execution_id, j->key.task_id, j->key.attempt);
	log_info("%s; stopping it", why);
	log_set_run(NULL, NULL, NULL, 0);
	j->dropped = 1;
	if (x->runner != NULL)
		(void)runner_cancel(x->runner, j->rid);
}

/* A string member of request (a.b when b is set), malloc'd, or NULL. */
static char *
request_str(jv request, const char *a, const char *b)
{
	jv v;
	char *s;

	/* A claimed request need not be an object (runner_start() fails
	 * such an attempt). */
	if (jv_get_kind(request) != JV_KIND_OBJECT)
		return NULL;
	v = b ?
	    jv_getpath(jv_copy(request), JV_ARRAY(jv_string(a), jv_string(b))) :
	    jv_object_get(jv_copy(request), jv_string(a));
	s = jv_get_kind(v) == JV_KIND_STRING ? xstrdup(jv_string_value(v)) :
					       NULL;
	jv_free(v);
	return s;
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
	j->start_mono = loop_mono_ms(x->loop);
	tmo = runner_request_timeout(jv_copy(c->request));
	j->timeout_ms = tmo > 0 ? tmo : RUNNER_DEFAULT_TIMEOUT_MS;
	j->start_wall_ms = loop_now_ms(x->loop);
	j->workflow = request_str(c->request, "workflowId", NULL);
	j->type = request_str(c->request, "task", "type");
	j->has_retry = jv_get_kind(c->request) == JV_KIND_OBJECT &&
	    dispatch_retry_parse(
		jv_object_get(jv_copy(c->request), jv_string("retry")),
		&j->retry, &j->retry_base) == 0;
	running_link(x, j);
	xd_renew_arm(x);
	if (log_get_level() >= LOG_LVL_DEBUG) {
		log_set_run(j->workflow, j->key.execution_id, j->key.task_id,
		    j->key.attempt);
		log_debug("starting");
		log_set_run(NULL, NULL, NULL, 0);
	}
	xd_record(x, &j->key, "info", "attempt %d dispatched by %s%s%s",
	    j->key.attempt, x->o->name, target ? " to " : "",
	    target ? target : "");
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
