/*
 * sdk-c-live: libloomclient's client calls against a real stack, as TAP
 * (tests/sdk-c.bats runs it with PostgreSQL, loom-api with api.auth =
 * token, loom-engine, loom-exec and loom-c-example-backend up).
 *
 * Environment: LOOM_API (http://...), LOOM_API_SOCK (its Unix socket,
 * where root is trusted), LOOM_OPERATOR and LOOM_READER (tokens of those
 * scopes), SEED_FILE (the sample workflow "sdk-c-seed" pointing at the
 * example backend).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loom/client.h"
#include "../../../tests/unit/t.h"

static loom_client *op;

static const char *
env(const char *name)
{
	const char *v = getenv(name);

	if (v == NULL || *v == '\0') {
		printf("Bail out! %s is not set\n", name);
		exit(1);
	}
	return v;
}

/* s's member key as a string (borrowed from a static copy). */
static const char *
get_str(jv v, const char *path)
{
	static char buf[8][512];
	static int n;
	jv p = jv_parse(path), x = jv_getpath(jv_copy(v), p);
	char *out = buf[n++ % 8];

	if (jv_get_kind(x) == JV_KIND_STRING)
		snprintf(out, 512, "%s", jv_string_value(x));
	else if (jv_is_valid(x)) {
		jv d = jv_dump_string(x, 0);

		snprintf(out, 512, "%s", jv_string_value(d));
		jv_free(d);
		return out;
	} else
		snprintf(out, 512, "(none)");
	jv_free(x);
	return out;
}

static char *
trigger(const char *wf, jv input)
{
	jv r = loom_workflow_trigger(op, wf, input, NULL);
	char *id = strdup(get_str(r, "[\"executionId\"]"));

	jv_free(r);
	return id;
}

static void
workflows(void)
{
	jv r = loom_workflow_apply(op, "id: [", 5);

	ok(!jv_is_valid(r) && loom_client_error(op)->status == 422 &&
		strcmp(loom_client_error(op)->code, "invalid_workflow") == 0,
	    "a bad workflow: 422 invalid_workflow (%s)",
	    loom_client_error(op)->message);
	jv_free(r);
	r = loom_workflow_apply_file(op, env("SEED_FILE"));
	is_str(get_str(r, "[\"id\"]"), "sdk-c-seed", "the seed applies");
	jv_free(r);
	r = loom_workflow_apply_json(op,
	    jv_parse("{\"id\":\"sdk-c-sleep\",\"tasks\":[{\"id\":\"nap\","
		     "\"type\":\"shell\",\"command\":\"sleep 120\"}]}"));
	is_str(get_str(r, "[\"id\"]"), "sdk-c-sleep",
	    "a workflow applies from a jv object");
	jv_free(r);
	r = loom_workflow_list(op);
	ok(jv_get_kind(r) == JV_KIND_ARRAY && jv_array_length(jv_copy(r)) >= 2,
	    "the list has them");
	jv_free(r);
	r = loom_workflow_get(op, "sdk-c-seed");
	is_str(get_str(r, "[\"spec\",\"tasks\",0,\"id\"]"), "fetch_data",
	    "describe has the spec");
	jv_free(r);
	r = loom_workflow_get(op, "no-such");
	ok(!jv_is_valid(r) && loom_client_error(op)->status == 404 &&
		strcmp(loom_client_error(op)->code, "not_found") == 0,
	    "an unknown workflow: 404 not_found");
	jv_free(r);
}

/* The seed's outputs flowed from task to task. */
static void
seed_run(char **idp)
{
	char *id =
	    trigger("sdk-c-seed", JV_OBJECT(jv_string("limit"), jv_number(7)));
	jv run = loom_execution_wait(op, id, 120000), o;

	is_str(
	    get_str(run, "[\"status\"]"), "SUCCESS", "the seed run succeeds");
	is_str(get_str(run, "[\"tasks\",0,\"output\",\"recordCount\"]"), "7",
	    "fetch_data fetched the input's limit");
	o = loom_execution_output(run, "validate");
	is_str(get_str(o, "[\"recordCount\"]"), "7",
	    "validate got fetch_data's recordCount");
	jv_free(o);
	o = loom_execution_output(run, "process");
	is_str(get_str(o, "[\"title\"]"), "Report for 2024-01-14",
	    "process got the params");
	jv_free(o);
	o = loom_execution_output(run, "send_email");
	ok(strstr(get_str(o, "[\"messageId\"]"), id) != NULL,
	    "send_email ran for the run");
	jv_free(o);
	jv_free(run);
	o = loom_execution_tasks(op, id);
	is_int(jv_array_length(o), 4, "four tasks");
	*idp = id;
}

struct seen {
	int tasks, logs, ends;
	char mid[32], last[32];
};

static int
count(void *arg, const struct loom_event *ev)
{
	struct seen *s = arg;

	if (strcmp(ev->event, "task") == 0)
		s->tasks++;
	else if (strcmp(ev->event, "log") == 0)
		s->logs++;
	else if (strcmp(ev->event, "end") == 0)
		s->ends++;
	if (*ev->id) {
		if (s->tasks + s->logs == 3)
			snprintf(s->mid, sizeof(s->mid), "%s", ev->id);
		snprintf(s->last, sizeof(s->last), "%s", ev->id);
	}
	return 0;
}

static int
first_only(void *arg, const struct loom_event *ev)
{
	snprintf(arg, 32, "%s", ev->event);
	return 1;
}

static void
events(const char *id)
{
	char kind[32] = "";

	struct seen all = { 0 }, rest = { 0 }, logs = { 0 };
	jv r;

	is_int(loom_events_follow(op, id, "", NULL, count, &all), 0,
	    "the run's stream ends");
	ok(all.tasks >= 12 && all.logs == 4 && all.ends == 1,
	    "it had task events (%d), four log lines (%d) and one end",
	    all.tasks, all.logs);
	is_int(loom_events_follow(op, id, "", all.mid, count, &rest), 0,
	    "resumed after the third");
	is_int(rest.tasks + rest.logs, all.tasks + all.logs - 3,
	    "resuming gives exactly what came after");
	is_str(rest.last, all.last, "up to the same last event");
	is_int(loom_events_follow(op, id, "kind=log", NULL, count, &logs), 0,
	    "logs alone");
	ok(logs.logs == 4 && logs.tasks == 0, "four log lines, no tasks");
	is_int(loom_events_follow(op, NULL, "kind=run", "0", first_only, kind),
	    0, "the stream of every execution, stopped by the callback");
	is_str(kind, "run", "its first run event");
	r = loom_execution_logs(op, id, 0, 2);
	is_int(jv_array_length(jv_object_get(jv_copy(r), jv_string("logs"))), 2,
	    "a page of two log lines");
	ok(strstr(get_str(r, "[\"logs\",0,\"line\"]"), "Fetched 7 records") !=
		NULL,
	    "the first is fetch_data's");
	jv_free(r);
}

static void
controls(const char *id)
{
	jv r = loom_execution_retry(op, id, 0);
	char *sleepy, *bad;

	is_str(get_str(r, "[\"retryOf\"]"), id, "a retry is a new run");
	jv_free(r);
	r = loom_task_rerun(op, id, "send_email", 0);
	ok(jv_is_valid(r) &&
		strcmp(get_str(r, "[\"request\",\"taskId\"]"), "send_email") ==
		    0,
	    "rerun of send_email accepted");
	jv_free(r);
	jv_free(loom_execution_wait(op, id, 60000));

	sleepy = trigger("sdk-c-sleep", jv_invalid());
	r = loom_execution_cancel(op, sleepy);
	ok(jv_is_valid(r), "cancel of a running run");
	jv_free(r);
	r = loom_execution_wait(op, sleepy, 60000);
	is_str(get_str(r, "[\"status\"]"), "CANCELLED", "it ends CANCELLED");
	jv_free(r);
	r = loom_execution_cancel(op, sleepy);
	ok(!jv_is_valid(r) && loom_client_error(op)->status == 409 &&
		strcmp(loom_client_error(op)->code, "conflict") == 0,
	    "cancelling it again: 409 conflict");
	jv_free(r);
	free(sleepy);

	/* a run that fails: limit -1 is a ValidationException */
	bad =
	    trigger("sdk-c-seed", JV_OBJECT(jv_string("limit"), jv_number(-1)));
	r = loom_execution_wait(op, bad, 60000);
	is_str(get_str(r, "[\"status\"]"), "FAILED", "a bad limit fails");
	is_str(get_str(r, "[\"tasks\",0,\"error\",\"type\"]"),
	    "ValidationException", "with the backend's error type");
	jv_free(r);
	r = loom_execution_retry(op, bad, 1);
	ok(jv_is_valid(r), "retry from failed is taken");
	jv_free(r);
	jv_free(loom_execution_wait(op, bad, 60000));
	r = loom_dead_letters(op, "all=true&workflow=sdk-c-seed");
	ok(jv_get_kind(r) == JV_KIND_ARRAY && jv_array_length(jv_copy(r)) >= 1,
	    "the failure left dead letters");
	jv_free(r);
	r = loom_dead_letters(op, "workflow=sdk-c-seed");
	if (jv_get_kind(r) == JV_KIND_ARRAY &&
	    jv_array_length(jv_copy(r)) > 0) {
		long dl = atol(get_str(r, "[0,\"id\"]"));
		jv rr = loom_dead_letter_replay(op, dl);

		ok(jv_is_valid(rr), "an open letter replays (%s)",
		    jv_is_valid(rr) ? "ok" : loom_client_error(op)->message);
		jv_free(rr);
		jv_free(loom_execution_wait(op, bad, 60000));
	} else
		ok(0, "an open dead letter to replay");
	jv_free(r);
	r = loom_dead_letter_replay(op, 999999);
	is_int(loom_client_error(op)->status, 404, "an unknown letter: 404");
	jv_free(r);
	free(bad);
}

static void
paging(void)
{
	loom_exec_iter *it =
	    loom_executions_iter(op, "workflow=sdk-c-seed&limit=2");
	jv e, page;
	int n = 0, rc, total;

	while ((rc = loom_exec_iter_next(it, &e)) == 1) {
		n++;
		jv_free(e);
	}
	loom_exec_iter_free(it);
	is_int(rc, 0, "the iterator ends");
	page = loom_executions_page(op, "workflow=sdk-c-seed&limit=1000", NULL);
	total = jv_array_length(
	    jv_object_get(jv_copy(page), jv_string("executions")));
	ok(n == total && n >= 3, "pages of two give every run once (%d of %d)",
	    n, total);
	jv_free(page);
}

static void
tokens_and_socket(void)
{
	char *err = NULL;
	loom_client *rd = loom_client_new(
			env("LOOM_API"), env("LOOM_READER"), &err),
		    *anon, *sock;
	char path[512];
	jv r;

	r = loom_workflow_trigger(rd, "sdk-c-seed", jv_invalid(), NULL);
	ok(!jv_is_valid(r) && loom_client_error(rd)->status == 403 &&
		strcmp(loom_client_error(rd)->code, "forbidden") == 0,
	    "a read token cannot trigger: 403 forbidden");
	jv_free(r);
	r = loom_workflow_trigger(
	    rd, "sdk-c-seed", jv_invalid(), env("LOOM_OPERATOR"));
	ok(jv_is_valid(r), "with a token for that call it can");
	jv_free(r);
	r = loom_workflow_trigger(rd, "sdk-c-seed", jv_invalid(), NULL);
	is_int(loom_client_error(rd)->status, 403,
	    "and the next call has the client's token again");
	jv_free(r);
	loom_client_free(rd);

	anon = loom_client_new(env("LOOM_API"), NULL, &err);
	r = loom_workflow_list(anon);
	ok(loom_client_error(anon)->status == 401 &&
		strcmp(loom_client_error(anon)->code, "unauthorized") == 0,
	    "no token: 401 unauthorized");
	jv_free(r);
	loom_client_free(anon);

	snprintf(path, sizeof(path), "unix:%s", env("LOOM_API_SOCK"));
	sock = loom_client_new(path, NULL, &err);
	r = loom_workflow_get(sock, "sdk-c-seed");
	is_str(get_str(r, "[\"id\"]"), "sdk-c-seed",
	    "over the Unix socket (trusted uid, no token)");
	jv_free(r);
	loom_client_free(sock);
}

int
main(void)
{
	char *err = NULL, *id = NULL;

	if ((op = loom_client_new(
		 env("LOOM_API"), env("LOOM_OPERATOR"), &err)) == NULL) {
		printf("Bail out! %s\n", err);
		return 1;
	}
	workflows();
	seed_run(&id);
	events(id);
	controls(id);
	paging();
	tokens_and_socket();
	free(id);
	loom_client_free(op);
	return t_done();
}
