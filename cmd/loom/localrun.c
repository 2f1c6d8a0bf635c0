/*
 * localrun: see localrun.h.
 *
 * Actions from the engine are carried out at once: a dispatch starts a
 * runner job (after the EV_TASK_STARTED event), a retry arms a timer, a
 * cancel stops a job.  Runner results come back as events.  The loop ends
 * when the run is finished and no job is left running.
 */
#include "localrun.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>
#include <time.h>

#include "core/dispatch.h"
#include "core/engine.h"
#include "core/jqx.h"
#include "util/loop.h"
#include "run/runner.h"
#include "core/xalloc.h"

struct lr_task {
	struct lr *lr;
	size_t index;
	uint64_t job; /* runner id while running */
	int running;
	struct loop_timer *retry;
};

struct lr {
	const struct workflow *wf;
	const struct localrun_opts *o;
	struct run_rt rt;
	struct jqx *jq;
	struct loop *loop;
	struct runner *runner;
	jv specs;
	char id[32];
	struct lr_task *tasks;
	struct loop_timer *deadline;
	struct loop_signal *sig[2];
	size_t active;
	int finished;
	int64_t t0;
	unsigned long long rng;
};

static void lr_apply(struct lr *lr, struct engine_result *res);

static void
lr_emit(struct lr *lr, jv o)
{
	struct timeval tv;
	struct tm tm;
	char ts[40];
	size_t n;
	jv line, s;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + n, sizeof(ts) - n, ".%03dZ", (int)(tv.tv_usec / 1000));
	line = jv_object_set(jv_object(), jv_string("ts"), jv_string(ts));
	/* keep "ts" first, then the event's own keys */
	jv_object_foreach(o, k, v) line = jv_object_set(line, k, v);
	jv_free(o);
	s = jv_dump_string(line, 0);
	fprintf(lr->o->out, "%s\n", jv_string_value(s));
	fflush(lr->o->out);
	jv_free(s);
}

static double
lr_rand(struct lr *lr)
{
	lr->rng ^= lr->rng << 13;
	lr->rng ^= lr->rng >> 7;
	lr->rng ^= lr->rng << 17;
	return (double)(lr->rng >> 11) / 9007199254740992.0;
}

static void
lr_step(struct lr *lr, struct engine_event *ev)
{
	struct engine_result res;

	engine_result_init(&res);
	ev->now_ms = loop_now_ms(lr->loop);
	ev->rand01 = lr_rand(lr);
	if (engine_step(lr->wf, &lr->rt, lr->jq, ev, &res) == 0)
		lr_apply(lr, &res);
	engine_result_clear(&res);
}

static void
lr_maybe_exit(struct lr *lr)
{
	if (lr->finished && lr->active == 0)
		loop_exit(lr->loop, 0);
}

static void
lr_done(void *arg, jv result)
{
	struct lr_task *t = arg;
	struct lr *lr = t->lr;
	struct engine_event ev;
	jv status = jv_object_get(jv_copy(result), jv_string("status"));
	const char *st = jv_string_value(status);
	jv err = jv_object_get(jv_copy(result), jv_string("error"));
	jv out = jv_object();

	t->running = 0;
	lr->active--;
	out = jv_object_set(out, jv_string("event"), jv_string("result"));
	out = jv_object_set(
	    out, jv_string("task"), jv_string(lr->wf->tasks[t->index].id));
	jv_object_foreach(result, k, v)
	{
		const char *ks = jv_string_value(k);

		if (!strcmp(ks, "executionId") || !strcmp(ks, "taskId") ||
		    !strcmp(ks, "traceparent")) {
			jv_free(k);
			jv_free(v);
			continue;
		}
		out = jv_object_set(out, k, v);
	}
	memset(&ev, 0, sizeof(ev));
	ev.task = t->index;
	ev.output = jv_null();
	if (strcmp(st, "SUCCESS") == 0) {
		ev.type = EV_TASK_SUCCEEDED;
		ev.output = jv_object_get(jv_copy(result), jv_string("output"));
		if (!jv_is_valid(ev.output))
			ev.output = jv_null();
	} else {
		jv type = jv_get_kind(err) == JV_KIND_OBJECT ?
		    jv_object_get(jv_copy(err), jv_string("type")) :
		    jv_null();
		jv msg = jv_get_kind(err) == JV_KIND_OBJECT ?
		    jv_object_get(jv_copy(err), jv_string("message")) :
		    jv_null();

		ev.type = EV_TASK_FAILED;
		ev.error = ERR_TASK_FAILED;
		if (jv_get_kind(type) == JV_KIND_STRING)
			errclass_parse(jv_string_value(type), &ev.error);
		if (strcmp(st, "ACCEPTED") == 0) {
			ev.message = "the backend answered asynchronously "
				     "(202), which needs loom-api's callback "
				     "endpoint; loom run cannot wait for it";
			out = jv_object_set(
			    out, jv_string("status"), jv_string("FAILED"));
			out = jv_object_set(out, jv_string("error"),
			    jv_object_set(
				jv_object_set(jv_object(), jv_string("type"),
				    jv_string("TaskFailedException")),
				jv_string("message"), jv_string(ev.message)));
		} else if (jv_get_kind(msg) == JV_KIND_STRING)
			ev.message = jv_string_value(msg);
		lr_emit(lr, out);
		lr_step(lr, &ev);
		jv_free(type);
		jv_free(msg);
		goto out;
	}
	lr_emit(lr, out);
	lr_step(lr, &ev);
out:
	jv_free(status);
	jv_free(err);
	jv_free(result);
	lr_maybe_exit(lr);
}

static void
lr_start(struct lr *lr, size_t i, jv req)
{
	struct lr_task *t = &lr->tasks[i];
	struct engine_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = EV_TASK_STARTED;
	ev.task = i;
	ev.output = jv_null();
	lr_step(lr, &ev);
	if (runner_start(lr->runner, req, lr_done, t, &t->job) < 0) {
		memset(&ev, 0, sizeof(ev));
		ev.type = EV_TASK_FAILED;
		ev.task = i;
		ev.error = ERR_TASK_FAILED;
		ev.message = "the runner could not start the task";
		ev.output = jv_null();
		lr_step(lr, &ev);
		return;
	}
	t->running = 1;
	lr->active++;
}

static void
lr_retry_due(struct loop_timer *timer, void *arg)
{
	struct lr_task *t = arg;
	struct engine_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = EV_RETRY_DUE;
	ev.task = t->index;
	ev.output = jv_null();
	lr_step(t->lr, &ev);
}

static void
lr_line(void *arg, jv line)
{
	struct lr *lr = arg;
	jv o;

	if (lr->o->quiet_logs) {
		jv_free(line);
		return;
	}
	o = jv_object_set(jv_object(), jv_string("event"), jv_string("log"));
	o = jv_object_set(o, jv_string("task"),
	    jv_object_get(jv_copy(line), jv_string("task")));
	o = jv_object_set(o, jv_string("attempt"),
	    jv_object_get(jv_copy(line), jv_string("attempt")));
	o = jv_object_set(o, jv_string("stream"),
	    jv_object_get(jv_copy(line), jv_string("stream")));
	o = jv_object_set(
	    o, jv_string("msg"), jv_object_get(line, jv_string("msg")));
	lr_emit(lr, o);
}

/* Emits one run or task transition as a "run" or "task" event line. */
static void
lr_emit_transition(struct lr *lr, const struct engine_transition *tr)
{
	jv o = jv_object();

	if (tr->task == ENGINE_RUN) {
		o = jv_object_set(o, jv_string("event"), jv_string("run"));
		o = jv_object_set(o, jv_string("execution"), jv_string(lr->id));
		o = jv_object_set(
		    o, jv_string("from"), jv_string(run_state_name(tr->from)));
		o = jv_object_set(
		    o, jv_string("to"), jv_string(run_state_name(tr->to)));
	} else {
		const struct task_rt *t = &lr->rt.tasks[tr->task];

		o = jv_object_set(o, jv_string("event"), jv_string("task"));
		o = jv_object_set(o, jv_string("task"),
		    jv_string(lr->wf->tasks[tr->task].id));
		o = jv_object_set(
		    o, jv_string("from"), jv_string(task_state_name(tr->from)));
		o = jv_object_set(
		    o, jv_string("to"), jv_string(task_state_name(tr->to)));
		o = jv_object_set(
		    o, jv_string("attempt"), jv_number(t->attempt));
		if (tr->to == TASK_SKIPPED)
			o = jv_object_set(o, jv_string("reason"),
			    jv_string(skip_reason_name(t->skip)));
	}
	lr_emit(lr, o);
}

/* Starts task a->task, or fails it when its request cannot be built. */
static void
lr_dispatch(struct lr *lr, struct engine_action *a)
{
	jv req = dispatch_request(lr->id, lr->wf, &lr->rt, lr->jq, a,
	    jv_array_get(jv_copy(lr->specs), (int)a->task));

	if (!jv_is_valid(req)) {
		jv msg = jv_invalid_get_msg(req);
		struct engine_event ev;

		memset(&ev, 0, sizeof(ev));
		ev.type = EV_TASK_FAILED;
		ev.task = a->task;
		ev.error = ERR_VALIDATION;
		ev.message = jv_string_value(msg);
		ev.output = jv_null();
		lr_step(lr, &ev);
		jv_free(msg);
		return;
	}
	lr_start(lr, a->task, req);
}

/* The run is over: emits the "finish" line with every task's output. */
static void
lr_finish(struct lr *lr, const struct engine_action *a)
{
	jv o = jv_object(), outs = jv_object();

	lr->finished = 1;
	for (size_t k = 0; k < lr->rt.ntasks; k++)
		if (lr->rt.tasks[k].state == TASK_SUCCESS)
			outs =
			    jv_object_set(outs, jv_string(lr->wf->tasks[k].id),
				jv_copy(lr->rt.tasks[k].output));
	o = jv_object_set(o, jv_string("event"), jv_string("finish"));
	o = jv_object_set(o, jv_string("execution"), jv_string(lr->id));
	o = jv_object_set(
	    o, jv_string("status"), jv_string(run_state_name(a->run_state)));
	if (a->message)
		o = jv_object_set(o, jv_string("error"), jv_string(a->message));
	o = jv_object_set(o, jv_string("durationMs"),
	    jv_number((double)(loop_now_ms(lr->loop) - lr->t0)));
	o = jv_object_set(o, jv_string("outputs"), outs);
	lr_emit(lr, o);
}

/* Emits what the engine's pass changed, then carries out its actions. */
static void
lr_apply(struct lr *lr, struct engine_result *res)
{
	for (size_t i = 0; i < res->ntransitions; i++)
		lr_emit_transition(lr, &res->transitions[i]);
	for (size_t i = 0; i < res->nactions; i++) {
		struct engine_action *a = &res->actions[i];
		struct lr_task *t =
		    a->type == ACT_FINISH_RUN ? NULL : &lr->tasks[a->task];

		switch (a->type) {
		case ACT_DISPATCH:
			lr_dispatch(lr, a);
			break;
		case ACT_RETRY_AT:
			if (t->retry == NULL)
				t->retry =
				    loop_timer_new(lr->loop, lr_retry_due, t);
			loop_timer_after(
			    t->retry, a->at_ms - loop_now_ms(lr->loop));
			break;
		case ACT_CANCEL_TASK:
			if (t->running)
				runner_cancel(lr->runner, t->job);
			break;
		case ACT_FINISH_RUN:
			lr_finish(lr, a);
			break;
		default:
			break;
		}
	}
}

static void
lr_deadline(struct loop_timer *timer, void *arg)
{
	struct lr *lr = arg;
	struct engine_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = EV_RUN_TIMEOUT;
	ev.output = jv_null();
	lr_step(lr, &ev);
	lr_maybe_exit(lr);
}

static void
lr_signal(struct loop_signal *s, int signo, void *arg)
{
	struct lr *lr = arg;
	struct engine_event ev;

	if (lr->finished) {
		runner_free(lr->runner); /* second signal: stop now */
		lr->runner = NULL;
		loop_exit(lr->loop, 0);
		return;
	}
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_CANCEL;
	ev.output = jv_null();
	lr_step(lr, &ev);
	lr_maybe_exit(lr);
}

int
localrun(const struct workflow *wf, jv input, const struct localrun_opts *o,
    char **err)
{
	struct runner_config rc;
	struct engine_event ev;
	struct lr lr;
	unsigned char rnd[10];
	int result = -1;

	memset(&lr, 0, sizeof(lr));
	lr.wf = wf;
	lr.o = o;
	if (run_rt_init(&lr.rt, wf, input, err) < 0)
		return -1;
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		memset(rnd, 0x5a, sizeof(rnd));
	strcpy(lr.id, "local-");
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(lr.id + 6 + 2 * i, 3, "%02x", rnd[i]);
	memcpy(&lr.rng, rnd, sizeof(rnd) < 8 ? sizeof(rnd) : 8);
	lr.rng |= 1;
	lr.jq = jqx_new();
	lr.specs = dispatch_task_specs(wf);
	lr.tasks = xcalloc(wf->ntasks ? wf->ntasks : 1, sizeof(*lr.tasks));
	for (size_t i = 0; i < wf->ntasks; i++) {
		lr.tasks[i].lr = &lr;
		lr.tasks[i].index = i;
	}
	if ((lr.loop = loop_new()) == NULL) {
		*err = xstrdup("cannot make an event loop");
		goto out;
	}
	memset(&rc, 0, sizeof(rc));
	rc.pass_env = o->pass_env;
	rc.log_line = lr_line;
	rc.log_arg = &lr;
	if ((lr.runner = runner_new(lr.loop, &rc)) == NULL) {
		*err = xstrdup("cannot start the task runners");
		goto out;
	}
	lr.sig[0] = loop_signal_add(lr.loop, SIGINT, lr_signal, &lr);
	lr.sig[1] = loop_signal_add(lr.loop, SIGTERM, lr_signal, &lr);
	lr.t0 = loop_now_ms(lr.loop);
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_RUN_START;
	ev.output = jv_null();
	lr_step(&lr, &ev);
	if (lr.rt.deadline_ms) {
		lr.deadline = loop_timer_new(lr.loop, lr_deadline, &lr);
		loop_timer_after(lr.deadline, lr.rt.deadline_ms - lr.t0);
	}
	if (!lr.finished || lr.active)
		if (loop_run(lr.loop) < 0) {
			*err = xstrdup("event loop failed");
			goto out;
		}
	result = (int)lr.rt.state;
out:
	runner_free(lr.runner);
	for (size_t i = 0; i < wf->ntasks; i++)
		loop_timer_del(lr.tasks[i].retry);
	loop_timer_del(lr.deadline);
	loop_signal_del(lr.sig[0]);
	loop_signal_del(lr.sig[1]);
	loop_free(lr.loop);
	free(lr.tasks);
	jv_free(lr.specs);
	jqx_free(lr.jq);
	run_rt_free(&lr.rt);
	return result;
}
