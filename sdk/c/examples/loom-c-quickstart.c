/*
 * loom-c-quickstart: libloomclient's client half in one program.
 *
 *   loom-c-quickstart API WORKFLOW-FILE [INPUT-JSON]
 *
 * API is http://HOST:PORT or unix:/path/to/api.sock; LOOM_TOKEN, when
 * set, is the bearer token.  Applies the file, triggers the workflow with
 * the input, follows the run's log lines as they come ("log TASK LINE"),
 * waits for its end and prints "status STATUS" and the execution as JSON
 * on the last line.  Exit status: 0 when the run succeeded, 1 otherwise.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <loom/client.h>

static int
print_log(void *arg, const struct loom_event *ev)
{
	jv task, line;

	(void)arg;
	if (strcmp(ev->event, "log") != 0)
		return 0;
	task = jv_object_get(jv_copy(ev->data), jv_string("taskId"));
	line = jv_object_get(jv_copy(ev->data), jv_string("line"));
	printf("log %s %s\n", jv_string_value(task), jv_string_value(line));
	fflush(stdout); /* each line as it comes, even into a file */
	jv_free(task);
	jv_free(line);
	return 0;
}

static int
fail(loom_client *c, const char *what)
{
	const struct loom_error *e = loom_client_error(c);

	fprintf(stderr, "loom-c-quickstart: %s: %s (HTTP %d %s)\n", what,
	    e->message, e->status, e->code);
	loom_client_free(c);
	return 1;
}

int
main(int argc, char **argv)
{
	char *err = NULL, *exec_id;
	loom_client *c;
	jv applied, run, id;
	int ok;

	if (argc < 3) {
		fprintf(stderr, "usage: loom-c-quickstart API FILE [INPUT]\n");
		return 2;
	}
	if ((c = loom_client_new(argv[1], getenv("LOOM_TOKEN"), &err)) ==
	    NULL) {
		fprintf(stderr, "loom-c-quickstart: %s\n", err);
		free(err);
		return 2;
	}
	applied = loom_workflow_apply_file(c, argv[2]);
	if (!jv_is_valid(applied))
		return jv_free(applied), fail(c, "apply");
	id = jv_object_get(applied, jv_string("id"));
	run = loom_workflow_trigger(c, jv_string_value(id),
	    argc > 3 ? jv_parse(argv[3]) : jv_object(), NULL);
	jv_free(id);
	if (!jv_is_valid(run))
		return jv_free(run), fail(c, "trigger");
	id = jv_object_get(run, jv_string("executionId"));
	exec_id = strdup(jv_string_value(id));
	jv_free(id);
	printf("triggered %s\n", exec_id);
	fflush(stdout);

	/* the log lines as they come; the stream ends with the run */
	if (loom_events_follow(c, exec_id, "kind=log", NULL, print_log, NULL) <
	    0)
		return free(exec_id), fail(c, "events");
	run = loom_execution_wait(c, exec_id, 120000);
	free(exec_id);
	if (!jv_is_valid(run))
		return jv_free(run), fail(c, "wait");
	id = jv_object_get(jv_copy(run), jv_string("status"));
	printf("status %s\n", jv_string_value(id));
	ok = strcmp(jv_string_value(id), "SUCCESS") == 0;
	jv_free(id);
	jv_dumpf(run, stdout, 0);
	printf("\n");
	loom_client_free(c);
	return ok ? 0 : 1;
}
